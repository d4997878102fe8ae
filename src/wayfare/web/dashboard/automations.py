"""Automations: the flows with their stats, a template gallery, a YAML editor that validates, the
approval queue and tasks for people. The automate engine runs them; until it is installed the page
shows the gallery and validates drafts, and says what is missing."""

from __future__ import annotations

import urllib.parse
from typing import Any

import yaml

from ...errors import ValidationError
from .base import Ctx, action, page
from .common import engine, safe_engine_call

TEMPLATES: list[dict[str, str]] = [
    {"id": "order-confirmation", "name": "Order confirmation", "when": "Right after an order",
     "what": "An email with the order details. Transactional, so it needs no marketing consent."},
    {"id": "welcome", "name": "Welcome series", "when": "When someone signs up",
     "what": "A hello, your story, and a reason to visit within two weeks."},
    {"id": "win-back", "name": "Win-back", "when": "30 days after a first order with no second",
     "what": "A friendly note and a small offer. Waits for your approval before the first send."},
    {"id": "review-request", "name": "Review request", "when": "The day after a visit",
     "what": "Happy guests (9–10) are asked for a public review; unhappy ones get a personal reply first."},
    {"id": "detractor-follow-up", "name": "Detractor follow-up", "when": "A survey score of 0–6",
     "what": "Creates a task for a person to call back within a day; no automatic email."},
    {"id": "birthday", "name": "Birthday treat", "when": "A week before a birthday",
     "what": "A treat for customers who opted in to marketing."},
]
EXAMPLE = """name: win-back
trigger:
  event: Order Completed
  first_time: true
steps:
  - wait: 30 days
  - if: {no_event: Order Completed, since: trigger}
  - send: {channel: email, template: win-back, approval: true}
"""


def validate_yaml(text: str) -> dict[str, Any]:
    """A draft flow's structure checked: the engine's validator when installed, else the basic shape."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise ValidationError(f"not valid YAML: {getattr(e, 'problem', e)}", where=where) from None
    got = safe_engine_call("automate", "validate_flow", doc)
    if isinstance(got, dict):
        return got
    if not isinstance(doc, dict):
        raise ValidationError("a flow is a mapping with name, trigger and steps", where="line 1")
    for key in ("name", "trigger", "steps"):
        if key not in doc:
            raise ValidationError(f"the flow has no '{key}'", where=key)
    if not isinstance(doc["steps"], list) or not doc["steps"]:
        raise ValidationError("steps is a list with at least one step", where="steps")
    for i, step in enumerate(doc["steps"]):
        if not isinstance(step, dict) or len(step) != 1 or next(iter(step)) not in ("wait", "if", "send", "task", "webhook"):
            raise ValidationError("each step is one of wait, if, send, task, webhook", where=f"steps[{i}]")
    return {"name": doc["name"], "steps": len(doc["steps"])}


@page("/automations", "automations.html", "Automations", nav="Automations")
def automations(ctx: Ctx) -> dict:
    eng = engine("automate") is not None
    flows = safe_engine_call("automate", "list_flows", ctx.scope) or []
    approvals = safe_engine_call("automate", "pending_approvals", ctx.scope) or []
    tasks = safe_engine_call("automate", "open_tasks", ctx.scope) or []
    return {"engine": eng, "flows": flows, "approvals": approvals, "tasks": tasks, "templates": TEMPLATES,
            "draft": ctx.arg("draft") or EXAMPLE}


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
    done = safe_engine_call("automate", "decide_approval", ctx.scope, item, decision, ctx.session.user.email)
    if done is None:
        raise ValidationError("the automation engine is not installed, so there is nothing to approve yet")
    ctx.say("Approved: it will be sent." if decision == "approve" else "Rejected: it will not be sent.")
    return "/automations"
