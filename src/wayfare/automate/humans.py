"""Humans in the loop: the approval queue (rendered for each customer, editable, with a deadline), tasks
for people, and what a customer's page shows and does (their flows; pause and resume)."""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import NotFound, ValidationError
from ..store import Scope, utcnow
from .journal import record, tx

__all__ = ["pending_approvals", "decide_approval", "open_tasks", "complete_task", "flows_for_person", "pause_person",
           "resume_person"]


def pending_approvals(scope: Scope, limit: int = 200) -> list[dict[str, Any]]:
    rows = scope.rows(
        "SELECT a.approval_id, a.flow, a.person_id, a.step, CAST(a.payload AS VARCHAR), a.created_at, a.due_at, "
        "a.on_timeout, p.traits->>'email', coalesce(p.traits->>'name', p.traits->>'first_name') FROM approvals a LEFT JOIN profiles p USING (person_id) "
        "WHERE a.status = 'pending' ORDER BY a.created_at LIMIT $n", {"n": limit})
    out = []
    for aid, flow, pid, step, payload, created, due, on_timeout, email, name in rows:
        body = orjson.loads(payload) if payload else {}
        out.append({"id": aid, "flow": flow, "person_id": pid, "step": step, "to": name or email or pid,
                    "channel": body.get("channel"), "subject": body.get("subject"),
                    "preview": (body.get("text") or "")[:400], "created_at": created, "due_at": due,
                    "on_timeout": on_timeout})
    return out


def decide_approval(scope: Scope, item_id: str, decision: str, user_email: str,
                    edits: dict[str, str] | None = None) -> dict[str, Any]:
    """Approve (optionally with an edited subject/text) or reject a waiting message; the entry runs again
    on the next pass, so an approved email goes out through SMTP then."""
    if decision not in ("approve", "reject"):
        raise ValidationError("the decision is approve or reject", where="decision")
    ws = scope.workspace_id
    now = utcnow()
    with tx(scope.store) as c:
        row = c.execute("SELECT status, CAST(payload AS VARCHAR), flow, entry_id, person_id, step FROM main.approvals "
                        "WHERE workspace_id = ? AND approval_id = ?", [ws, item_id]).fetchone()
        if row is None:
            raise NotFound(f"no approval {item_id!r} in this workspace")
        status, payload, flow, entry_id, pid, step = row
        if status != "pending":
            raise ValidationError(f"this message was already {status}", where=item_id)
        body = orjson.loads(payload) if payload else {}
        for k, v in (edits or {}).items():
            if k not in ("subject", "text", "html"):
                raise ValidationError(f"only subject, text and html can be edited, not {k!r}", where=k)
            body[k] = v
        new = "approved" if decision == "approve" else "rejected"
        c.execute("UPDATE main.approvals SET status = ?, payload = ?, decided_at = ?, decided_by = ? WHERE "
                  "workspace_id = ? AND approval_id = ?", [new, orjson.dumps(body).decode(), now, user_email, ws,
                                                            item_id])
        c.execute("UPDATE main.flow_entries SET wake_at = NULL WHERE workspace_id = ? AND entry_id = ? AND "
                  "status = 'active'", [ws, entry_id])  # due on the very next run
        record(c, ws, flow, (entry_id, pid, None), step, "approval", new,
               f"by {user_email}" + (" (edited)" if edits else ""))
    return {"id": item_id, "status": new, "by": user_email}


def open_tasks(scope: Scope, limit: int = 200) -> list[dict[str, Any]]:
    rows = scope.rows("SELECT task_id, flow, person_id, title, due_at, assignee, trigger_event, created_at FROM tasks "
                      "WHERE status = 'open' ORDER BY due_at NULLS LAST, created_at LIMIT $n", {"n": limit})
    keys = ("id", "flow", "person_id", "title", "due_at", "assignee", "trigger_event", "created_at")
    now = utcnow()
    return [{**dict(zip(keys, r, strict=True)), "overdue": bool(r[4] and r[4] < now)} for r in rows]


def complete_task(scope: Scope, task_id: str, user_email: str) -> dict[str, Any]:
    with tx(scope.store) as c:
        n = c.execute("UPDATE main.tasks SET status = 'done' WHERE workspace_id = ? AND task_id = ? AND status = 'open'",
                      [scope.workspace_id, task_id]).fetchone()[0]
        if not n:
            raise NotFound(f"no open task {task_id!r}")
        row = c.execute("SELECT flow, entry_id, person_id, step FROM main.tasks WHERE workspace_id = ? AND task_id = ?",
                        [scope.workspace_id, task_id]).fetchone()
        record(c, scope.workspace_id, row[0] or "-", (row[1], row[2], None), row[3], "task", "completed",
               f"by {user_email}")
    return {"id": task_id, "status": "done"}


def flows_for_person(scope: Scope, person_id: str) -> list[dict[str, Any]]:
    rows = scope.rows("SELECT flow, status, step, wake_at, entered_at, variant, outcome FROM flow_entries WHERE "
                      "person_id = $p ORDER BY entered_at DESC LIMIT 50", {"p": person_id})
    return [{"name": f"{r[0]} ({r[1]}{', step ' + str(r[2] + 1) if r[1] == 'active' else ''}"
                     f"{', next ' + r[3].strftime('%Y-%m-%d %H:%M') if r[1] == 'active' and r[3] else ''})",
             "flow": r[0], "status": r[1], "step": r[2], "wake_at": r[3], "entered_at": r[4], "variant": r[5],
             "outcome": r[6]} for r in rows]


def _pause(scope: Scope, person_id: str, paused: bool) -> dict[str, Any]:
    with tx(scope.store) as c:
        row = c.execute("SELECT CAST(traits AS VARCHAR) FROM main.profiles WHERE workspace_id = ? AND person_id = ?",
                        [scope.workspace_id, person_id]).fetchone()
        if row is None:
            raise NotFound(f"no customer {person_id!r}")
        traits = orjson.loads(row[0]) if row[0] else {}
        if paused:
            traits["automations_paused"] = True
        else:
            traits.pop("automations_paused", None)
        c.execute("UPDATE main.profiles SET traits = ? WHERE workspace_id = ? AND person_id = ?",
                  [orjson.dumps(traits).decode(), scope.workspace_id, person_id])
    return {"person_id": person_id, "automations_paused": paused}


def pause_person(scope: Scope, person_id: str) -> dict[str, Any]:
    """Every automated message to this person is skipped (and logged) until resumed."""
    return _pause(scope, person_id, True)


def resume_person(scope: Scope, person_id: str) -> dict[str, Any]:
    return _pause(scope, person_id, False)
