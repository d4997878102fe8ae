"""Triggers turn what happened into flow entries; each flow's cursor and its new entries commit together.

* event: a cursor over ``events.seq`` (property filters, first time only);
* segment: the analytics segment history (entered / left), a cursor over time;
* date trait: a birthday or anniversary (yearly) or an appointment time, plus an offset, at a local hour;
* score: a prediction trait crossing a threshold (per-person state remembers the side it was on);
* schedule: daily, weekly or monthly for an audience.

Re-entry: ``every`` (each trigger), ``once`` (once per person ever), ``while-inactive`` (not while an
entry is active) or a gap such as ``30d`` since the last entry.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pyarrow as pa

from ..store import Scope, utcnow
from .engine import Facts, evaluate, local_next, zone
from .model import Flow, match_props, parse_duration
from .policy import get_policy
from .registry import micros, stored_flows

__all__ = ["scan_triggers", "wake_waiting"]


def _from_micros(v: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=int(v))


def _insert(con: Any, ws: str, flow: Flow, cands: list[tuple[str, str, str | None, dt.datetime]],
            now: dt.datetime) -> int:
    """Insert candidate entries (entry suffix, person, trigger message, entered_at) under the re-entry rule."""
    if not cands:
        return 0
    rule = flow.trigger.reentry
    if rule == "once":
        cands = [(pid, pid, m, t) for _, pid, m, t in cands]
    seen: set[str] = set()
    uniq = []
    for c in cands:  # one entry per person per pass unless re-entry is "every"
        k = c[0] if rule == "every" else c[1]
        if k not in seen:
            seen.add(k)
            uniq.append(c)
    tbl = pa.table({"entry_id": [f"{flow.name}:{c[0]}" for c in uniq], "person_id": [c[1] for c in uniq],
                    "trig": [c[2] for c in uniq], "t_at": pa.array([c[3] for c in uniq], pa.timestamp("us"))})
    cond = ""
    if rule == "while-inactive":
        cond = ("AND NOT EXISTS (SELECT 1 FROM main.flow_entries e WHERE e.workspace_id = $ws AND e.flow = $f "
                "AND e.person_id = c.person_id AND e.status = 'active')")
    elif rule not in ("every", "once"):
        cond = ("AND NOT EXISTS (SELECT 1 FROM main.flow_entries e WHERE e.workspace_id = $ws AND e.flow = $f "
                "AND e.person_id = c.person_id AND e.entered_at > c.t_at - to_microseconds($gap))")
    con.register("__wf_cands", tbl)
    try:
        n = con.execute(
            "INSERT OR IGNORE INTO main.flow_entries (workspace_id, entry_id, flow, person_id, trigger_event, step, "
            "status, wake_at, entered_at, updated_at) SELECT $ws, entry_id, $f, person_id, trig, 0, 'active', NULL, "
            f"t_at, $now FROM __wf_cands c WHERE true {cond}",
            {"ws": ws, "f": flow.name, "now": now,
             **({"gap": int(parse_duration(rule).total_seconds() * 1e6)} if "gap" in cond else {})}).fetchone()[0]
        con.execute("INSERT INTO main.automation_log SELECT $ws, $now, $f, e.entry_id, e.person_id, NULL, 'entered', "
                    "'done', $why, e.trigger_event, NULL FROM main.flow_entries e JOIN __wf_cands c USING (entry_id) "
                    "WHERE e.workspace_id = $ws AND e.updated_at = $now AND e.step = 0 AND e.status = 'active'",
                    {"ws": ws, "now": now, "f": flow.name, "why": f"trigger: {flow.trigger.kind}"})
    finally:
        con.unregister("__wf_cands")
    return int(n)


def _event(con: Any, ws: str, flow: Flow, last: int, now: dt.datetime, limit: int) -> tuple[int, list]:
    t = flow.trigger
    top = con.execute("SELECT max(seq) FROM (SELECT seq FROM events WHERE workspace_id = ? AND seq > ? "
                      "ORDER BY seq LIMIT ?)", [ws, last, limit]).fetchone()[0]
    if top is None:
        return last, []
    first = ("AND NOT EXISTS (SELECT 1 FROM events p WHERE p.workspace_id = e.workspace_id AND p.person_id = "
             "e.person_id AND p.event = e.event AND p.seq < e.seq)") if t.first_time else ""
    rows = con.execute(
        f"SELECT message_id, person_id, CAST(properties AS VARCHAR), least(ts, ?), revenue FROM events e "
        f"WHERE workspace_id = ? AND seq > ? AND seq <= ? AND event = ? AND person_id IS NOT NULL {first} ORDER BY seq",
        [now, ws, last, top, t.event]).fetchall()
    out = []
    for mid, pid, props, ts, rev in rows:
        if t.where:
            p = orjson.loads(props) if props else {}
            if rev is not None:
                p.setdefault("revenue", rev)
            if not match_props(p, t.where):
                continue
        out.append((mid, pid, mid, ts))
    return int(top), out


def _segment(con: Any, ws: str, flow: Flow, last: int, now: dt.datetime) -> tuple[int, list]:
    t = flow.trigger
    rows = con.execute("SELECT person_id, changed_at FROM analytics_segment_history WHERE workspace_id = ? AND "
                       "segment = ? AND change = ? AND changed_at > ? AND changed_at <= ? ORDER BY changed_at",
                       [ws, t.segment, "entered" if t.change == "enter" else "left", _from_micros(last), now]
                       ).fetchall()
    return micros(now), [(f"{pid}:{at:%Y%m%dT%H%M%S}", pid, None, at) for pid, at in rows]


def _profiles(con: Any, ws: str, keys: list[str]) -> list[tuple[str, dict]]:
    sel = ", ".join(f"traits->>'{k}'" for k in keys)
    out = []
    for r in con.execute(f"SELECT person_id, {sel} FROM profiles WHERE workspace_id = ?", [ws]).fetchall():
        out.append((r[0], dict(zip(keys, r[1:], strict=True))))
    return out


def _parse_date(v: str | None) -> dt.datetime | None:
    if not v:
        return None
    try:
        return dt.datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        return None


def _date(con: Any, ws: str, flow: Flow, last: int, now: dt.datetime, default_tz: str) -> tuple[int, list]:
    t = flow.trigger
    lo = _from_micros(last)
    annual = t.annual if t.annual is not None else t.date_trait in ("birthday", "anniversary")
    off = parse_duration(t.offset)
    out = []
    for pid, tr in _profiles(con, ws, [t.date_trait or "", "timezone", "tz"]):
        d = _parse_date(tr[t.date_trait or ""])
        if d is None:
            continue
        tz = tr.get("timezone") or tr.get("tz") or default_tz
        z = zone(tz)
        if annual:
            for year in {lo.year, now.year}:
                try:
                    day = dt.date(year, d.month, d.day)
                except ValueError:  # 29 February in a common year: the 28th
                    day = dt.date(year, d.month, 28)
                h, m = (int(x) for x in t.at.split(":"))
                at = (dt.datetime(day.year, day.month, day.day, h, m, tzinfo=z).astimezone(dt.UTC)
                      .replace(tzinfo=None) + off)
                if lo < at <= now:
                    out.append((f"{pid}:{day.isoformat()}", pid, None, at))
        else:
            at = (d if d.tzinfo else d.replace(tzinfo=z)).astimezone(dt.UTC).replace(tzinfo=None) + off
            if lo < at <= now:
                out.append((f"{pid}:{at:%Y%m%dT%H%M}", pid, None, at))
    return micros(now), out


def _score(con: Any, ws: str, flow: Flow, now: dt.datetime) -> list:
    t = flow.trigger
    prev = dict(con.execute("SELECT person_id, state FROM flow_trigger_state WHERE workspace_id = ? AND flow = ?",
                            [ws, flow.name]).fetchall())
    out, changes = [], []
    for pid, tr in _profiles(con, ws, [t.score or ""]):
        try:
            v = float(tr[t.score or ""])
        except (TypeError, ValueError):
            continue
        side = "in" if (v > t.above if t.above is not None else v < (t.below or 0)) else "out"
        if side != prev.get(pid):
            changes.append((pid, side))
            if side == "in":
                out.append((f"{pid}:{now:%Y%m%dT%H%M%S}", pid, None, now))
    if changes:
        tbl = pa.table({"p": [c[0] for c in changes], "s": [c[1] for c in changes]})
        con.register("__wf_side", tbl)
        con.execute("INSERT OR REPLACE INTO main.flow_trigger_state SELECT ?, ?, p, s, ? FROM __wf_side",
                    [ws, flow.name, now])
        con.unregister("__wf_side")
    return out


def _happened(con: Any, ws: str, pid: str):
    def f(name: str, where: dict, since: dt.datetime, until: dt.datetime) -> bool:
        for props, rev in con.execute("SELECT CAST(properties AS VARCHAR), revenue FROM events WHERE workspace_id = ? "
                                      "AND person_id = ? AND event = ? AND ts >= ? AND ts <= ? LIMIT 200",
                                      [ws, pid, name, since, until]).fetchall():
            p = orjson.loads(props) if props else {}
            if rev is not None:
                p.setdefault("revenue", rev)
            if match_props(p, where):
                return True
        return False
    return f


def _schedule(con: Any, ws: str, flow: Flow, last: int, now: dt.datetime, default_tz: str) -> tuple[int, list]:
    t = flow.trigger
    lo, occ = _from_micros(last), []
    cur = local_next(lo, t.at, default_tz, t.weekday if t.schedule == "weekly" else None)
    while cur <= now and len(occ) < 400:
        if cur > lo and (t.schedule != "monthly" or cur.replace(tzinfo=dt.UTC).astimezone(zone(default_tz)).day == 1):
            occ.append(cur)
        cur = local_next(cur + dt.timedelta(minutes=1), t.at, default_tz,
                         t.weekday if t.schedule == "weekly" else None)
    if not occ:
        return micros(now), []
    people = []
    for pid, traits in con.execute("SELECT person_id, CAST(traits AS VARCHAR) FROM profiles WHERE workspace_id = ?",
                                   [ws]).fetchall():
        tr = orjson.loads(traits) if traits else {}
        ok = evaluate(t.audience, Facts(person=tr, happened=_happened(con, ws, pid)), now) if t.audience \
            else bool(tr.get("email"))
        if ok:
            people.append(pid)
    return micros(now), [(f"{pid}:{o:%Y%m%dT%H%M}", pid, None, o) for o in occ for pid in people]


def wake_waiting(scope: Scope, now: dt.datetime, flows: list[Flow] | None = None) -> int:
    """Entries that must not sleep on: waiting for an event that has now happened, or in a flow whose goal
    the person has reached. They become due at once (the worker then takes the branch or leaves the flow).
    Waits and goals with property filters are checked when the entry wakes anyway."""
    from .journal import tx
    flows = flows if flows is not None else [f for f, _ in stored_flows(scope, only_enabled=True)]
    ws, n = scope.workspace_id, 0
    rd = scope.store.cursor()
    waiting = {(f, s) for f, s in rd.execute("SELECT DISTINCT flow, step FROM flow_entries WHERE workspace_id = ? AND "
                                             "status = 'active' AND wait_event IS NOT NULL", [ws]).fetchall()}
    for f in flows:
        steps = [s for fl, s in waiting if fl == f.name and s < len(f.steps) and not getattr(f.steps[s], "where", None)]
        goal = f.goal.event if f.goal and not f.goal.where else None
        if not steps and not goal:
            continue
        with tx(scope.store) as con:
            if steps:
                n += con.execute(
                    "UPDATE main.flow_entries f SET wake_at = ? WHERE workspace_id = ? AND flow = ? AND status = "
                    "'active' AND list_contains(?, step) AND wait_event IS NOT NULL AND wake_at > ? AND EXISTS (SELECT 1 "
                    "FROM events e WHERE e.workspace_id = f.workspace_id AND e.person_id = f.person_id AND e.event = "
                    "f.wait_event AND e.ts >= f.since AND e.ts <= ?)", [now, ws, f.name, steps, now, now]).fetchone()[0]
            if goal:
                n += con.execute(
                    "UPDATE main.flow_entries f SET wake_at = ? WHERE workspace_id = ? AND flow = ? AND status = "
                    "'active' AND wake_at > ? AND wait_event IS NULL AND EXISTS (SELECT 1 FROM events e WHERE "
                    "e.workspace_id = f.workspace_id AND e.person_id = f.person_id AND e.event = ? AND "
                    "e.ts >= f.entered_at AND e.ts <= ?)", [now, ws, f.name, now, goal, now]).fetchone()[0]
    return int(n)


def scan_triggers(scope: Scope, now: dt.datetime | None = None, limit: int = 200_000) -> int:
    """Turn what happened up to ``now`` into flow entries; returns how many entered."""
    from .journal import tx
    now = now or utcnow()
    ws = scope.workspace_id
    n = 0
    tz = get_policy(scope).default_tz
    rd = scope.store.cursor()
    enabled = [f for f, _ in stored_flows(scope, only_enabled=True)]
    top_seq = rd.execute("SELECT coalesce(max(seq), 0) FROM events WHERE workspace_id = ?", [ws]).fetchone()[0]
    cursors = dict(rd.execute("SELECT flow, last_seq FROM flow_cursors WHERE workspace_id = ?", [ws]).fetchall())
    for flow in enabled:
        kind = flow.trigger.kind
        if kind == "event" and cursors.get(flow.name, 0) >= top_seq:
            continue  # no new events: nothing to do, no transaction
        with tx(scope.store) as con:
            row = con.execute("SELECT last_seq FROM flow_cursors WHERE workspace_id = ? AND flow = ?",
                              [ws, flow.name]).fetchone()
            last = row[0] if row else 0
            if kind == "event":
                top, cands = _event(con, ws, flow, last, now, limit)
            elif kind == "segment":
                top, cands = _segment(con, ws, flow, last, now)
            elif kind == "date_trait":
                top, cands = _date(con, ws, flow, last, now, tz)
            elif kind == "score":
                top, cands = micros(now), _score(con, ws, flow, now)
            else:
                top, cands = _schedule(con, ws, flow, last, now, tz)
            n += _insert(con, ws, flow, cands, now)
            if kind == "event" or top > last:
                con.execute("INSERT OR REPLACE INTO main.flow_cursors VALUES (?, ?, ?)", [ws, flow.name, top])
    wake_waiting(scope, now, enabled)
    return n
