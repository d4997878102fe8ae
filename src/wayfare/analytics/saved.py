"""Saved segments: definitions in ``analytics_segments``, current members in ``analytics_segment_members``,
and every change of membership (entered / left, with the time of the refresh) in
``analytics_segment_history``. Membership is computed on demand by :func:`refresh_segment`."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pyarrow as pa

from ..errors import NotFound, ValidationError
from ..store import Scope
from .engine import Tables
from .segments import members_expr, parse_rule

__all__ = ["save_segment", "list_segments", "get_segment", "delete_segment", "refresh_segment", "segment_history",
           "preview_segment", "data_now"]

_NAME = re.compile(r"^[\w][\w .\-]{0,79}$")


def _run(con, sql: str, params: dict | None = None) -> list:
    """Execute and drain (DuckDB refuses new work on a connection with an unfinished result)."""
    return con.execute(sql, params or {}).fetchall()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def data_now(scope: Scope) -> dt.datetime:
    """The data's "now": the latest event if it is in the past (imported history), else the clock."""
    row = scope.one("SELECT max(ts) FROM events")
    now = _now()
    return min(now, row[0]) if row and row[0] else now


def save_segment(scope: Scope, name: str, rule: str, description: str | None = None) -> dict[str, Any]:
    if not _NAME.match(name or ""):
        raise ValidationError("a segment name is 1-80 letters, digits, spaces, '.', '-' or '_'", where=f"segment {name!r}")
    parse_rule(rule)  # refuse a bad rule before saving it
    now = _now()
    with scope.transaction() as con:
        _run(con, "DELETE FROM main.analytics_segments WHERE workspace_id = $ws AND name = $n",
                    {"ws": scope.workspace_id, "n": name})
        _run(con, "INSERT INTO main.analytics_segments VALUES ($ws, $n, $r, $d, $now, $now, NULL)",
                    {"ws": scope.workspace_id, "n": name, "r": rule, "d": description, "now": now})
    return get_segment(scope, name)


def list_segments(scope: Scope) -> list[dict[str, Any]]:
    rows = scope.rows("SELECT s.name, s.rule, s.description, s.refreshed_at, "
                      "(SELECT count(*) FROM analytics_segment_members m WHERE m.segment = s.name) "
                      "FROM analytics_segments s ORDER BY s.name")
    return [{"name": r[0], "rule": r[1], "description": r[2], "refreshed_at": r[3], "members": int(r[4])} for r in rows]


def get_segment(scope: Scope, name: str) -> dict[str, Any]:
    for s in list_segments(scope):
        if s["name"] == name:
            return s
    raise NotFound(f"no segment {name!r}; create it with `wayfare segments create {name!r} RULE`")


def delete_segment(scope: Scope, name: str) -> None:
    get_segment(scope, name)
    with scope.transaction() as con:
        for t in ("analytics_segments", "analytics_segment_members", "analytics_segment_history"):
            col = "name" if t == "analytics_segments" else "segment"
            _run(con, f"DELETE FROM main.{t} WHERE workspace_id = $ws AND {col} = $n", {"ws": scope.workspace_id, "n": name})


def preview_segment(scope: Scope, rule: str, as_of: dt.datetime | None = None, tables: Tables | None = None) -> list[str]:
    tables = tables or Tables.from_scope(scope)
    as_of = as_of or data_now(scope)
    df = members_expr(tables.events, tables.profiles, rule, as_of).to_pandas()
    return sorted(df.person_id.astype(str).tolist())


def refresh_segment(scope: Scope, name: str, as_of: dt.datetime | None = None) -> dict[str, Any]:
    """Compute the members now (or ``as_of``), record who entered and who left, keep the current set."""
    seg = get_segment(scope, name)
    members = set(preview_segment(scope, seg["rule"], as_of))
    before = {r[0] for r in scope.rows("SELECT person_id FROM analytics_segment_members WHERE segment = $n", {"n": name})}
    entered, left = sorted(members - before), sorted(before - members)
    at = _now()
    ws = scope.workspace_id
    with scope.transaction() as con:
        if left:
            con.register("__wf_left", pa.table({"person_id": left}))
            _run(con, "DELETE FROM main.analytics_segment_members WHERE workspace_id = $ws AND segment = $n "
                        "AND person_id IN (SELECT person_id FROM __wf_left)", {"ws": ws, "n": name})
            _run(con, "INSERT INTO main.analytics_segment_history SELECT $ws, $n, person_id, 'left', $at FROM __wf_left",
                        {"ws": ws, "n": name, "at": at})
            con.unregister("__wf_left")
        if entered:
            con.register("__wf_in", pa.table({"person_id": entered}))
            _run(con, "INSERT INTO main.analytics_segment_members SELECT $ws, $n, person_id, $at FROM __wf_in",
                        {"ws": ws, "n": name, "at": at})
            _run(con, "INSERT INTO main.analytics_segment_history SELECT $ws, $n, person_id, 'entered', $at FROM __wf_in",
                        {"ws": ws, "n": name, "at": at})
            con.unregister("__wf_in")
        _run(con, "UPDATE main.analytics_segments SET refreshed_at = $at WHERE workspace_id = $ws AND name = $n",
                    {"ws": ws, "n": name, "at": at})
    return {"segment": name, "members": len(members), "entered": len(entered), "left": len(left), "at": at}


def segment_history(scope: Scope, name: str, limit: int = 1000) -> list[dict[str, Any]]:
    get_segment(scope, name)
    rows = scope.rows("SELECT person_id, change, changed_at FROM analytics_segment_history WHERE segment = $n "
                      "ORDER BY changed_at DESC, change, person_id LIMIT $l", {"n": name, "l": limit})
    return [{"person_id": r[0], "change": r[1], "at": r[2]} for r in rows]
