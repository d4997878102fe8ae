"""Inbox: conversations the assistant handed over to a person, and support requests waiting for an
answer. Uses the assistant engine when installed; otherwise lists recent support tickets."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...errors import ValidationError
from .base import Ctx, action, page
from .common import anchor, engine, safe_engine_call


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
    return {"engine": eng, "handovers": handovers,
            "tickets": [{"ts": t[0], "person_id": t[1], "subject": t[2], "channel": t[3], "name": t[4] or t[5] or t[1]}
                        for t in tickets]}


@action("/inbox/reply", need="staff")
def reply(ctx: Ctx, form: Any) -> str:
    conv, text = str(form.get("id") or ""), str(form.get("text") or "").strip()
    if not text:
        raise ValidationError("write a reply first", where="reply")
    done = safe_engine_call("assistant", "answer_handover", ctx.scope, conv, text, ctx.session.user.email)
    if done is None:
        raise ValidationError("the assistant is not installed, so replies cannot be sent from here yet")
    ctx.say("Reply sent.")
    return "/inbox"
