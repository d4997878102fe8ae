"""The flows of a workspace: enable (from now, or replaying events since a time), disable, list, validate."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pydantic

from ..errors import ValidationError
from ..store import Scope, utcnow
from .journal import tx
from .model import Flow

__all__ = ["enable_flow", "disable_flow", "stored_flows", "get_flow", "list_flows", "validate_flow", "micros"]


def micros(t: dt.datetime) -> int:
    return int(t.replace(tzinfo=dt.UTC).timestamp() * 1_000_000)


def enable_flow(scope: Scope, flow: Flow, enabled: bool = True, since: dt.datetime | None = None) -> dict:
    """Store the flow and turn it on. Its trigger reacts to what happens from now on, or from ``since``
    (events after that time are replayed; dates and schedules count from then)."""
    now = utcnow()
    ws = scope.workspace_id
    with tx(scope.store) as con:
        if flow.trigger.kind == "event":
            if since is None:
                top = con.execute("SELECT coalesce(max(seq), 0) FROM events WHERE workspace_id = ?", [ws]).fetchone()[0]
            else:
                top = con.execute("SELECT coalesce(min(seq) - 1, (SELECT coalesce(max(seq), 0) FROM events "
                                  "WHERE workspace_id = ?)) FROM events WHERE workspace_id = ? AND ts >= ?",
                                  [ws, ws, since]).fetchone()[0]
        else:
            top = micros(since or now)
        con.execute("INSERT OR REPLACE INTO main.flows VALUES (?, ?, ?, ?, ?)",
                    [ws, flow.name, flow.model_dump_json(by_alias=True), enabled, now])
        verb = "INSERT OR REPLACE" if since is not None else "INSERT OR IGNORE"
        con.execute(f"{verb} INTO main.flow_cursors VALUES (?, ?, ?)", [ws, flow.name, int(top)])
    return {"flow": flow.name, "enabled": enabled, "trigger": flow.trigger.kind, "from": int(top)}


def disable_flow(scope: Scope, name: str) -> dict:
    get_flow(scope, name)
    with tx(scope.store) as con:
        con.execute("UPDATE main.flows SET enabled = false, updated_at = ? WHERE workspace_id = ? AND name = ?",
                    [utcnow(), scope.workspace_id, name])
    return {"flow": name, "enabled": False}


def stored_flows(scope: Scope, only_enabled: bool = False) -> list[tuple[Flow, bool]]:
    rows = scope.execute("SELECT definition, enabled FROM flows ORDER BY name", con=scope.store.cursor()).fetchall()
    return [(Flow.model_validate_json(d), bool(e)) for d, e in rows if e or not only_enabled]


def get_flow(scope: Scope, name: str) -> Flow:
    from ..errors import NotFound
    row = scope.execute("SELECT definition FROM flows WHERE name = $n", {"n": name},
                        con=scope.store.cursor()).fetchone()
    if not row:
        raise NotFound(f"no flow {name!r} in workspace {scope.name!r}; enable one with `wayfare flows enable NAME`")
    return Flow.model_validate_json(row[0])


def list_flows(scope: Scope) -> list[dict[str, Any]]:
    """Each flow with its status and headline figures (what the dashboard's table shows)."""
    con = scope.store.cursor()
    ws = scope.workspace_id
    ent = {(r[0], r[1]): r[2] for r in con.execute(
        "SELECT flow, status, count(*) FROM flow_entries WHERE workspace_id = ? GROUP BY 1, 2", [ws]).fetchall()}
    sent = dict(con.execute("SELECT flow, count(*) FROM sends WHERE workspace_id = ? AND status IN "
                            "('sent', 'uncertain') GROUP BY 1", [ws]).fetchall())
    out = []
    for f, on in stored_flows(scope):
        n = {s: v for (fl, s), v in ent.items() if fl == f.name}
        out.append({"name": f.name, "description": f.description, "purpose": f.purpose, "trigger": f.trigger.kind,
                    "trigger_detail": f.trigger.event or f.trigger.segment or f.trigger.date_trait or
                    f.trigger.score or f.trigger.schedule, "enabled": on, "status": "on" if on else "off",
                    "entered": int(sum(n.values())), "active": int(n.get("active", 0)),
                    "sent": int(sent.get(f.name, 0)), "converted": int(n.get("goal", 0)), "steps": len(f.steps)})
    return out


def validate_flow(doc: dict[str, Any]) -> dict[str, Any]:
    """A flow given as a dict (parsed YAML or the API's JSON) checked; raises ValidationError naming the field."""
    if not isinstance(doc, dict):
        raise ValidationError("a flow is a mapping with name, trigger and steps", where="line 1")
    try:
        f = Flow.model_validate(doc)
    except pydantic.ValidationError as e:
        err = e.errors()[0]
        path = ".".join(str(p) for p in err["loc"])
        raise ValidationError(f"{path}: {err['msg']}", where=path or "flow") from None
    return {"name": f.name, "valid": True, "steps": len(f.steps), "trigger": f.trigger.kind, "purpose": f.purpose}
