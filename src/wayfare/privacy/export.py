"""Exporting everything held about a person: one JSON document, and one safe CSV per table."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import orjson

from ..store import Scope
from .erase import _q, identifiers, person_ids, person_tables
from .exports import write_csv
from .suppression import audit, is_suppressed

__all__ = ["export_person", "write_export"]


def _val(v: Any) -> Any:
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, str) and v[:1] in "{[":
        try:
            return orjson.loads(v)
        except orjson.JSONDecodeError:
            return v
    return v


def export_person(scope: Scope, who: str, actor: str = "cli") -> dict[str, Any]:
    """Every row of every tenant table that belongs to the person (by person column, or events by user id)."""
    pids = person_ids(scope, who)
    ids = identifiers(scope, pids, who)
    tables: dict[str, list[dict[str, Any]]] = {}
    for t, info in sorted(person_tables(scope).items()):
        if not info["person"]:
            continue
        cols = [c for c in info["cols"] if c != "workspace_id"]
        cond = " OR ".join(f"{_q(c)} IN (SELECT unnest($p))" for c in info["person"])
        res = scope.execute(f"SELECT {', '.join(_q(c) for c in cols)} FROM {t} WHERE {cond}", {"p": pids})
        rows = res.fetchall()
        if rows:
            tables[t] = [{c: _val(v) for c, v in zip(cols, r, strict=True)} for r in rows]
    suppressed = {}
    for e in sorted(ids["email"]):
        suppressed[e] = is_suppressed(scope, "email", e)
    for p in sorted(ids["phone"]):
        suppressed[p] = is_suppressed(scope, "sms", p)
    doc = {"workspace": scope.name, "exported_at": dt.datetime.now(dt.UTC).isoformat(), "person_ids": pids,
           "identifiers": {k: sorted(v) for k, v in ids.items()}, "suppressed": suppressed,
           "counts": {t: len(r) for t, r in tables.items()}, "tables": tables}
    audit(scope, actor, "privacy.export", pids[0], {"person_ids": pids, "counts": doc["counts"]})
    return doc


def write_export(doc: dict[str, Any], out_dir: str | os.PathLike) -> list[str]:
    """Write ``person.json`` and ``<table>.csv`` files (formula-safe) into ``out_dir``; returns the paths."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    paths = [d / "person.json"]
    paths[0].write_bytes(orjson.dumps(doc, default=str, option=orjson.OPT_INDENT_2))
    for t, rows in doc["tables"].items():
        header = list(rows[0].keys())
        p = d / f"{t}.csv"
        write_csv(p, header, ([r.get(c) for c in header] for r in rows))
        paths.append(p)
    return [str(p) for p in paths]
