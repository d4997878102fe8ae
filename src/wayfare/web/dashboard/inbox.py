"""Inbox: conversations the assistant handed over to a person, and support requests waiting for an
answer. Each hand-over opens on one page with everything needed to answer it: the transcript, why it was
handed over, the customer's profile (timeline, orders, predictions with reasons, open tasks) and a
suggested reply already in the answer box. Uses the assistant engine when installed; otherwise lists
recent support tickets."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...errors import NotFound, ValidationError
from .base import Ctx, action, page
from .common import anchor, engine, safe_engine_call
from .customers import prediction

REASONS = {"requested": "asked for a person", "upset": "sounded upset", "low_confidence": "the assistant was unsure twice",
           "order_lookup": "asked about an order the assistant could not look up"}


@page("/inbox", "inbox.html", "Inbox", nav="Inbox")
def inbox(ctx: Ctx) -> dict:
    eng = engine("assistant") is not None
    handovers = safe_engine_call("assistant", "open_handovers", ctx.scope) or []
    scope = ctx.scope
    now = anchor(scope)
    tickets = ctx.cached("inbox:tickets", lambda: scope.rows(
        """SELECT e.ts, e.person_id, coalesce(e.properties->>'subject', e.properties->>'text', e.event), e.channel,
                  p.traits->>'name', p.traits->>'email'
           FROM events e LEFT JOIN profiles p USING (person_id)
           WHERE e.event IN ('Ticket Opened', 'Phone Enquiry', 'Catering Enquiry') AND e.ts > $s
           ORDER BY e.ts DESC LIMIT 30""", {"s": now - dt.timedelta(days=30)}), ttl=60)
    for h in handovers:
        h["why"] = REASONS.get(h.get("reason") or "", h.get("reason") or "")
    return {"engine": eng, "handovers": handovers,
            "tickets": [{"ts": t[0], "person_id": t[1], "subject": t[2], "channel": t[3], "name": t[4] or t[5] or t[1]}
                        for t in tickets]}


def _tasks_for(scope: Any, person_id: str) -> list[dict[str, Any]]:
    got = safe_engine_call("automate", "open_tasks", scope, 1000) or []
    return [t for t in got if t.get("person_id") == person_id][:20]


def _orders(scope: Any, person_id: str) -> list[dict[str, Any]]:
    rows = scope.rows("""SELECT ts, event, revenue, coalesce(properties->>'order_id', properties->>'orderId'), channel
                         FROM events WHERE person_id = $p AND revenue IS NOT NULL AND revenue > 0
                         ORDER BY ts DESC LIMIT 20""", {"p": person_id})
    return [{"ts": r[0], "event": r[1], "revenue": r[2], "order_id": r[3], "channel": r[4]} for r in rows]


def customer_view(scope: Any, customer: dict[str, Any] | None) -> dict[str, Any] | None:
    """The assistant's customer context plus what a person answering needs: their orders, the prediction
    with its reasons (the predict engine's ``explain_person`` when installed) and their open tasks."""
    if not customer:
        return None
    pid = customer["person_id"]
    traits = customer.get("traits") or {}
    name = traits.get("name") or " ".join(x for x in (traits.get("first_name"), traits.get("last_name")) if x)
    return {**customer, "name": name or traits.get("email") or pid, "orders_list": _orders(scope, pid),
            "prediction": prediction(scope, pid, anchor(scope)), "tasks": _tasks_for(scope, pid)}


@page("/inbox/{conversation_id}", "handover.html", "Hand-over")
def handover(ctx: Ctx) -> dict:
    cid = ctx.request.path_params["conversation_id"][:100]
    scope = ctx.scope
    got = safe_engine_call("assistant", "show", scope, cid, with_customer=False)  # the transcript: always fresh
    if got is None:
        raise NotFound(f"no conversation {cid!r} in this workspace; the inbox lists the open ones")
    conv = got["conversation"]
    pid = conv.get("person_id")
    # the profile scans the person's events: cached until new data arrives (or two minutes)
    customer = ctx.cached(f"inbox:customer:{pid}", lambda: customer_view(
        scope, safe_engine_call("assistant", "customer_context", scope, pid)), ttl=120) if pid else None
    tickets = got.get("handovers") or []
    suggested = next((t["suggested_reply"] for t in reversed(tickets) if t.get("suggested_reply")), None)
    profile = customer
    first = profile["name"].split()[0] if profile and profile.get("name") and "@" not in profile["name"] else None
    msgs = got.get("messages") or []
    answered = next((m["role"] == "staff" for m in reversed(msgs) if m["role"] in ("customer", "staff")), False)
    draft = "" if answered else (f"Hi {first}, " if first else "Hi, ") + "thank you for your message. "
    if suggested and not answered:  # once a person has answered, the box is left for their next message
        draft += suggested.strip()
    return {"title": f"Hand-over: {conv.get('subject') or 'conversation'}", "conversation": conv,
            "messages": msgs, "handovers": [{**t, "why": REASONS.get(t["reason"], t["reason"])}
                                                                 for t in tickets],
            "customer": profile, "suggested_reply": suggested, "draft": draft[:4000],
            "closed": conv.get("status") == "closed"}


def _conv(form: Any) -> str:
    cid = str(form.get("id") or "")[:100]
    if not cid:
        raise ValidationError("which conversation? (the form has no id)", where="id")
    return cid


def _back_to(form: Any, cid: str) -> str:
    return f"/inbox/{cid}" if form.get("back") == "detail" else "/inbox"


@action("/inbox/reply", need="staff")
def reply(ctx: Ctx, form: Any) -> str:
    conv, text = _conv(form), str(form.get("text") or "").strip()
    if not text:
        raise ValidationError("write a reply first", where="reply")
    done = safe_engine_call("assistant", "answer_handover", ctx.scope, conv, text, ctx.session.user.email)
    if done is None:
        raise ValidationError("the reply could not be sent: the assistant is not installed or the conversation is gone")
    ctx.say("Reply sent: the customer sees it in their chat (and by email when they left an address).")
    return _back_to(form, conv)


@action("/inbox/note", need="staff")
def add_note(ctx: Ctx, form: Any) -> str:
    conv, text = _conv(form), str(form.get("text") or "").strip()
    if not text:
        raise ValidationError("write the note first", where="note")
    if safe_engine_call("assistant", "note", ctx.scope, conv, text, ctx.session.user.email) is None:
        raise ValidationError("the note could not be saved: the assistant is not installed or the conversation is gone")
    ctx.say("Note saved (only the team sees it).")
    return f"/inbox/{conv}"


@action("/inbox/close", need="staff")
def close(ctx: Ctx, form: Any) -> str:
    conv = _conv(form)
    if safe_engine_call("assistant", "close", ctx.scope, conv) is None:
        raise ValidationError("the conversation could not be closed: the assistant is not installed or it is gone")
    ctx.say("Closed: the customer is asked to rate the conversation.")
    return "/inbox"
