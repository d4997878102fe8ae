"""Automations: the flows with their figures, the template library, a YAML editor validated by the
engine's loader (errors name the line), the approval queue (rendered per customer, editable), tasks
for people, and the failed sends (the dead-letter list) with a retry button."""

from __future__ import annotations

import urllib.parse
from typing import Any

import yaml

from ...errors import NotFound, ValidationError
from .base import Ctx, action, page
from .common import engine, safe_engine_call

EXAMPLE = """name: win-back-note
description: A personal note to customers whose churn risk goes above 0.7; you approve each one.
purpose: marketing
trigger:
  score: churn_risk
  above: 0.7
  reentry: 90d
goal:
  event: Order Completed
steps:
  - type: split
    holdout: 10
    variants:
      - {name: note, weight: 1}
  - type: wait
    until_time: "10:00"
  - type: email
    subject: "We miss you, {{ person.first_name or 'there' }}"
    text: |
      Hi {{ person.first_name or 'there' }}, it's been a while. Reply any time.
    approval: {timeout: 2d, on_timeout: skip}
"""


def gallery() -> list[dict[str, Any]]:
    """The real template library (name, when, what), or nothing when the engine is absent."""
    got = safe_engine_call("automate", "templates")
    return [{"id": t["id"], "name": t["name"], "when": t["when"].capitalize(), "what": t["description"],
             "purpose": t["purpose"], "steps": " → ".join(t["steps"])} for t in got or []]


def validate_yaml(text: str) -> dict[str, Any]:
    """A draft flow checked by the engine's own loader: errors name the line and the field."""
    mod = engine("automate")
    if mod is not None and hasattr(mod, "load_text"):
        f = mod.load_text(text, where="line")  # raises ValidationError naming the line
        return {"name": f.name, "steps": len(f.steps), "trigger": f.trigger.kind}
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise ValidationError(f"not valid YAML: {getattr(e, 'problem', e)}", where=where) from None
    if not isinstance(doc, dict):
        raise ValidationError("a flow is a mapping with name, trigger and steps", where="line 1")
    for key in ("name", "trigger", "steps"):
        if key not in doc:
            raise ValidationError(f"the flow has no '{key}'", where=key)
    return {"name": doc["name"], "steps": len(doc.get("steps") or [])}


@page("/automations", "automations.html", "Automations", nav="Automations")
def automations(ctx: Ctx) -> dict:
    eng = engine("automate") is not None
    flows = safe_engine_call("automate", "list_flows", ctx.scope) or []
    approvals = safe_engine_call("automate", "pending_approvals", ctx.scope) or []
    tasks = safe_engine_call("automate", "open_tasks", ctx.scope) or []
    policy = safe_engine_call("automate", "get_policy", ctx.scope)
    return {"engine": eng, "flows": flows, "approvals": approvals, "tasks": tasks, "templates": gallery(),
            "policy": policy, "draft": ctx.arg("draft") or EXAMPLE, "failed": _failed(ctx)}


def _failed(ctx: Ctx) -> list[dict[str, Any]]:
    """The dead-letter list (failed and uncertain sends, addresses masked), newest first."""
    try:
        from ...channels.deadletter import failed_sends
    except ImportError:
        return []
    return failed_sends(ctx.scope, limit=200)


@action("/automations/validate", need="staff")
def validate(ctx: Ctx, form: Any) -> str:
    text = str(form.get("yaml") or "")[:20000]
    try:
        res = validate_yaml(text)
    except ValidationError as e:
        ctx.say(str(e), "error")
        return "/automations?" + urllib.parse.urlencode({"draft": text[:1500]}) + "#editor"
    ctx.say(f"The flow “{res.get('name')}” is valid.")
    return "/automations?" + urllib.parse.urlencode({"draft": text[:1500]}) + "#editor"


@action("/automations/approve", need="staff")
def approve(ctx: Ctx, form: Any) -> str:
    item = str(form.get("id") or "")
    decision = "approve" if form.get("decision") != "reject" else "reject"
    edits = {k: str(form.get(k)) for k in ("subject", "text") if form.get(k)}
    mod = engine("automate")
    if mod is None:
        raise ValidationError("the automation engine is not installed, so there is nothing to approve yet")
    try:
        mod.decide_approval(ctx.scope, item, decision, ctx.session.user.email, edits or None)
    except (ValidationError, NotFound) as e:
        ctx.say(str(e), "error")
        return "/automations"
    ctx.say("Approved: it goes out on the next run." if decision == "approve" else "Rejected: it will not be sent.")
    return "/automations"


@action("/automations/task-done", need="staff")
def task_done(ctx: Ctx, form: Any) -> str:
    mod = engine("automate")
    try:
        if mod is None:
            raise ValidationError("the automation engine is not installed")
        mod.complete_task(ctx.scope, str(form.get("id") or ""), ctx.session.user.email)
    except (ValidationError, NotFound) as e:
        ctx.say(str(e), "error")
        return "/automations"
    ctx.say("Task done.")
    return "/automations"


@action("/automations/retry-send", need="staff")
def retry_send(ctx: Ctx, form: Any) -> str:
    """Put one failed send back in line (an uncertain one only when the form says force: it may double-send)."""
    from ...channels.deadletter import retry_sends
    try:
        retry_sends(ctx.scope, str(form.get("key") or ""), force=form.get("force") == "1",
                    actor=ctx.session.user.email)
    except (ValidationError, NotFound) as e:
        ctx.say(str(e), "error")
        return "/automations#failed"
    ctx.say("Back in line: it goes out on the next run.")
    return "/automations#failed"
