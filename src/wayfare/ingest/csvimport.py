"""``wayfare import``: a CSV (or .csv.gz) through a preset into events or people, whole or not at all.

Each row's message id is derived from its content (and which occurrence of that content it is), so
importing the same file twice adds nothing. Every problem is reported with file, line and column, and a
file with any error writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ImportRefused, ValidationError
from ..identity.normalize import normalize_email, normalize_id, normalize_phone
from ..store import Scope, utcnow
from .messages import stable_message_id
from .pipeline import IngestResult, _notify, write_rows
from .presets import FIELDS, PRESETS, Preset
from .timeparse import parse_times

__all__ = ["ImportPlan", "plan_import", "run_import", "parse_maps"]

MAX_ERRORS = 50
_IDENT_FIELDS = ("user_id", "anonymous_id", "email", "phone", "external_id")
_SINGLE = {"timestamp", "user_id", "anonymous_id", "email", "phone", "external_id", "event", "message_id",
           "channel", "revenue", "name", "first_name", "last_name"}  # fmt: skip


def _snake(s: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", s.strip().lower()).strip("_") or "column"


def parse_maps(maps: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in maps or []:
        if "=" not in m:
            raise ValidationError("a mapping is COLUMN=FIELD", where=f"--map {m!r}")
        col, fld = m.rsplit("=", 1)
        fld = fld.strip()
        if fld not in FIELDS and not fld.startswith(("properties.", "traits.")):
            raise ValidationError(
                f"unknown field {fld!r}; use one of {', '.join(FIELDS)} or properties.NAME / traits.NAME",
                where=f"--map {m!r}",
            )
        out[col.strip()] = fld
    return out


@dataclass
class ImportPlan:
    path: Path
    preset: Preset
    kind: str
    frame: pd.DataFrame
    mapping: dict[str, str]  # column -> field
    event: str | None
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    sha256: str = ""
    default_time: dt.datetime | None = None

    def error(self, line: int | None, column: str | None, message: str, value: Any = None) -> None:
        if len(self.errors) < MAX_ERRORS:
            e = {"file": self.path.name, "line": line, "column": column, "error": message}
            if value is not None:
                e["value"] = str(value)[:80]
            self.errors.append(e)
        else:
            self.errors[-1]["more"] = self.errors[-1].get("more", 0) + 1


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise ValidationError("no such file", where=str(path))
    last: Exception | None = None
    sep = _sniff_sep(path)
    for enc in ("utf-8-sig", "latin-1"):
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc, compression="infer", sep=sep,
                             skipinitialspace=False, on_bad_lines="error")
            break
        except UnicodeDecodeError as e:
            last = e
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError, EOFError, OSError) as e:
            raise ImportRefused(f"not a readable CSV: {e}", where=path.name,
                                errors=[{"file": path.name, "line": None, "column": None, "error": str(e)}]) from None
    else:
        raise ImportRefused(f"cannot decode the file: {last}", where=path.name)
    df.columns = [str(c).strip() for c in df.columns]
    df["__line"] = np.arange(2, len(df) + 2)
    return df


def _sniff_sep(path: Path) -> str:
    import gzip

    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            head = f.readline()
    except (OSError, EOFError):
        return ","
    counts = {c: head.count(c) for c in (",", ";", "\t", "|")}
    best = max(counts, key=lambda c: counts[c])
    return best if counts[best] > 0 else ","


def plan_import(path: str | Path, preset: str = "generic", maps: list[str] | dict[str, str] | None = None,
                kind: str | None = None, event: str | None = None, default_time: str | None = None) -> ImportPlan:
    p = Path(path)
    if preset not in PRESETS:
        raise ValidationError(f"unknown preset; known: {', '.join(PRESETS)}", where=f"--preset {preset!r}")
    pre = PRESETS[preset]
    if kind not in (None, "events", "people"):
        raise ValidationError("kind is events or people", where=f"--kind {kind!r}")
    kind = kind or pre.kind
    explicit = maps if isinstance(maps, dict) else parse_maps(maps)
    df = _read(p)
    if pre.prepare:
        df = pre.prepare(df)
    cols = [c for c in df.columns if c != "__line"]
    lower = {c.lower(): c for c in cols}
    mapping: dict[str, str] = {}
    plan = ImportPlan(p, pre, kind, df, mapping, event or pre.event)
    plan.sha256 = hashlib.sha256(p.read_bytes()).hexdigest()
    if default_time:
        from .messages import parse_time

        plan.default_time = parse_time(default_time, "--time")
    for col, fld in explicit.items():
        real = col if col in cols or col == "__line" else lower.get(col.lower())
        if real is None:
            raise ValidationError(f"no column {col!r} in the file (columns: {', '.join(cols[:40])})",
                                  where=f"{p.name}: --map {col}={fld}")
        mapping[real] = fld
    taken = {f for f in mapping.values() if f in _SINGLE}
    for c in cols:
        if c in mapping:
            continue
        fld = pre.column_for(c)
        if fld is None or (fld in _SINGLE and fld in taken):
            fld = ("properties." if kind == "events" else "traits.") + (c if pre.name == "generic" else _snake(c))
        elif fld == "properties." + fld.split(".", 1)[-1] and kind == "people":
            fld = "traits." + fld.split(".", 1)[1]
        mapping[c] = fld
        if fld in _SINGLE:
            taken.add(fld)
    fields = set(mapping.values())
    if kind == "events" and "timestamp" not in fields and plan.default_time is None:
        raise ValidationError("no time column: map one with --map COLUMN=timestamp (or give --time for all rows)",
                              where=p.name)
    if kind == "events" and "event" not in fields and not plan.event:
        if "revenue" in fields:
            plan.event = "Order Completed"
        else:
            raise ValidationError("no event name: map a column with --map COLUMN=event or pass --event NAME", where=p.name)
    if not fields & set(_IDENT_FIELDS):
        raise ValidationError(
            "no column identifies a person: map one with --map COLUMN=user_id (or email, phone, anonymous_id)",
            where=p.name,
        )
    return plan


def _number(v: str) -> float | None:
    s = v.strip().replace(",", "").replace("$", "").replace("£", "").replace("€", "")
    try:
        f = float(s)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def _typed(series: pd.Series) -> pd.Series:
    """Numbers stay numbers when every non-empty value of the column is one."""
    s = series[series != ""]
    if s.empty:
        return series
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().all():
        out = series.astype(object)
        if (num % 1 == 0).all() and (num.abs() < 2**53).all() and not s.str.contains(r"[.eE]").any():
            out[series != ""] = num.astype("int64").astype(object)
        else:
            out[series != ""] = num.astype(float).astype(object)
        return out
    return series


def build_rows(plan: ImportPlan, received_at: dt.datetime | None = None) -> list[dict]:
    """Convert every row, collecting errors with line and column; returns [] when there are any."""
    df, mapping, pre = plan.frame, plan.mapping, plan.preset
    received_at = received_at or utcnow()
    n = len(df)
    by_field: dict[str, str] = {}
    for c, f in mapping.items():
        if f in _SINGLE and f not in by_field:
            by_field[f] = c
    lines = df["__line"].to_numpy()
    times = None
    if "timestamp" in by_field:
        times, bad = parse_times(df[by_field["timestamp"]])
        for i in np.flatnonzero(bad.to_numpy())[:MAX_ERRORS]:
            plan.error(int(lines[i]), by_field["timestamp"], "not a time this importer understands",
                       df[by_field["timestamp"]].iloc[i])
        if plan.kind == "events":
            missing = (df[by_field["timestamp"]].astype(str).str.strip() == "").to_numpy()
            for i in np.flatnonzero(missing)[:MAX_ERRORS]:
                plan.error(int(lines[i]), by_field["timestamp"], "an event needs a time")
    revenue = None
    if "revenue" in by_field:
        col = by_field["revenue"]
        revenue = [(_number(v) if isinstance(v, str) and v.strip() else None) for v in df[col]]
        for i, (v, r) in enumerate(zip(df[col], revenue, strict=True)):
            if r is None and isinstance(v, str) and v.strip():
                plan.error(int(lines[i]), col, "not a number", v)
    extra_cols = [(c, f.split(".", 1)[0], f.split(".", 1)[1]) for c, f in mapping.items()
                  if f.startswith(("properties.", "traits."))]
    typed = {c: _typed(df[c]) if n and isinstance(df[c].iloc[0], str) and pd.api.types.is_string_dtype(df[c]) else df[c]
             for c, _, _ in extra_cols}

    def col(f: str) -> list | None:
        c = by_field.get(f)
        if c == "__line":
            return [f"row-{v}" for v in df[c].tolist()]
        return df[c].tolist() if c else None

    uids, aids, emails, phones, exts = col("user_id"), col("anonymous_id"), col("email"), col("phone"), col("external_id")
    names, firsts, lasts = col("name"), col("first_name"), col("last_name")
    evs, mids, chans = col("event"), col("message_id"), col("channel")
    extra_lists = {c: typed[c].tolist() for c, _, _ in extra_cols}
    id_kind = pre.id_kind or "external_id"
    occurrences: dict[str, int] = {}
    raw_rows = (df.drop(columns="__line").astype(str).agg("\x1f".join, axis=1).tolist() if len(df) else []) \
        if mids is None else None  # (an empty frame aggregates to a frame, not a series)
    rows: list[dict] = []
    bad_email_lines = 0
    anonymous_rows = 0
    for i in range(n):
        props: dict[str, Any] = {}
        traits: dict[str, Any] = {}
        for c, where, key in extra_cols:
            v = extra_lists[c][i]
            if v is None or (isinstance(v, str) and v == "") or (isinstance(v, float) and v != v):
                continue
            (props if where == "properties" else traits)[key] = v
        ids: list[tuple[str, str]] = []
        uid = normalize_id(uids[i]) if uids else None
        aid = normalize_id(aids[i]) if aids else None
        if uid:
            ids.append(("user_id", uid))
        if aid:
            ids.append(("anonymous_id", aid))
        if emails and emails[i]:
            e = normalize_email(emails[i])
            if e:
                ids.append(("email", e))
                traits["email"] = e
            else:
                bad_email_lines += 1
        if phones and phones[i]:
            ph = normalize_phone(phones[i])
            if ph:
                ids.append(("phone", ph))
                traits["phone"] = ph
        if exts and exts[i]:
            x = normalize_id(exts[i])
            if x:
                ids.append((id_kind, x))
        if names and names[i]:
            traits["name"] = names[i].strip()
        if firsts and firsts[i]:
            traits["first_name"] = firsts[i].strip()
        if lasts and lasts[i]:
            traits["last_name"] = lasts[i].strip()
        if not ids and pre.allow_anonymous:
            anonymous_rows += 1
        elif not ids:
            plan.error(int(lines[i]), ", ".join(by_field.get(f, f) for f in _IDENT_FIELDS if f in by_field),
                       "no identifier for this row (all identifier columns empty or invalid)")
            continue
        if revenue is not None and revenue[i] is not None:
            props["revenue"] = revenue[i]
        ev = (evs[i].strip() if evs and evs[i] else None) or plan.event
        if pre.row_hook:
            changed = pre.row_hook({}, props if plan.kind == "events" else traits)
            if changed:
                ev = changed
        if plan.kind == "events" and not ev:
            plan.error(int(lines[i]), by_field.get("event"), "an event needs a name")
            continue
        if mids and mids[i]:
            mid = f"{pre.name}:{mids[i]}"
        else:
            content = raw_rows[i] if raw_rows is not None else ""
            k = occurrences.get(content, 0)
            occurrences[content] = k + 1
            mid = stable_message_id(pre.name, plan.kind, content, k)
        ts = times.iloc[i] if times is not None else pd.NaT
        try:
            ts = (plan.default_time or received_at) if pd.isna(ts) else ts.to_pydatetime()
        except ValueError:  # e.g. year 0, which Python's datetime cannot hold
            plan.error(int(lines[i]), by_field.get("timestamp"), "the time is out of range")
            continue
        if plan.kind == "people":
            traits.update(props)
            props = {}
        rows.append({
            "message_id": mid,
            "type": "track" if plan.kind == "events" else "identify",
            "event": ev if plan.kind == "events" else None,
            "anonymous_id": aid,
            "user_id": uid,
            "ts": ts,
            "received_at": received_at,
            "channel": (chans[i].strip().lower() if chans and chans[i] else pre.channel),
            "source": pre.source or f"csv:{plan.path.name}"[:80],
            "revenue": props.get("revenue") if plan.kind == "events" else None,
            "properties": props,
            "context": {},
            "traits": traits,
            "_ids": ids,
        })
    if anonymous_rows:
        plan.warnings.append(f"{anonymous_rows} rows name no customer (e.g. cash sales); kept as events of no known person")
    if bad_email_lines:
        plan.warnings.append(f"{bad_email_lines} rows had an email that is not an address; kept the row without it")
    if plan.errors:
        return []
    plan.rows = rows
    return rows


def run_import(scope: Scope, path: str | Path, preset: str = "generic", maps: list[str] | None = None,
               kind: str | None = None, event: str | None = None, dry_run: bool = False, default_time: str | None = None,
               progress: Callable[[int, int], None] | None = None, chunk: int = 25_000) -> dict[str, Any]:
    plan = plan_import(path, preset, maps, kind, event, default_time)
    rows = build_rows(plan)
    summary: dict[str, Any] = {
        "file": str(plan.path),
        "preset": plan.preset.name,
        "kind": plan.kind,
        "rows": len(plan.frame),
        "mapping": {c: f for c, f in plan.mapping.items()},
        "event": plan.event,
        "warnings": plan.warnings,
        "errors": plan.errors,
    }
    if plan.errors:
        raise ImportRefused(
            f"{len(plan.errors)}{'+' if plan.errors[-1].get('more') else ''} problems; nothing was imported. First: "
            f"line {plan.errors[0]['line']}, column {plan.errors[0]['column']!r}: {plan.errors[0]['error']}",
            where=plan.path.name, errors=plan.errors,
        )
    if dry_run:
        summary["dry_run"] = True
        summary["preview"] = [
            {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in r.items() if k not in ("_ids", "context", "received_at")}
            for r in rows[:5]
        ]
        return summary
    total = IngestResult()
    with scope.transaction() as con:
        for start in range(0, len(rows), chunk):
            total.add(write_rows(scope, rows[start:start + chunk], con))
            if progress:
                progress(min(start + chunk, len(rows)), len(rows))
        con.execute(
            "INSERT INTO main.imports VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [scope.workspace_id, plan.sha256, plan.path.name, plan.preset.name, plan.kind, len(rows), total.inserted,
             utcnow()],
        )
    if total.inserted:
        _notify(scope.workspace_id, total.inserted)
    summary.update(inserted=total.inserted, duplicates=total.duplicates, people_created=total.people_created,
                   merges=total.merges)
    return summary
