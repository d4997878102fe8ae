"""What the engine knows about a person when it acts (traits, the trigger event, their time zone, what
happened since) and a message rendered for them (what is sent, queued for approval and dry-run)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import orjson

from ..channels.email import render
from ..store import Scope
from .engine import Facts
from .model import Email, Feedback, Flow, Sms, Webhook, match_props
from .policy import Policy

__all__ = ["site_url", "facts_for", "make_facts", "render_message"]


def site_url() -> str:
    return os.environ.get("WAYFARE_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")  # for survey links only


def facts_for(scope: Scope, person_id: str, trigger_msg: str | None, entered_at: dt.datetime | None,
              policy: Policy) -> Facts:
    con = scope.store.cursor()
    ws = scope.workspace_id
    row = con.execute("SELECT CAST(traits AS VARCHAR) FROM profiles WHERE workspace_id = ? AND person_id = ?",
                      [ws, person_id]).fetchone()
    person = orjson.loads(row[0]) if row and row[0] else {}
    event: dict = {}
    if trigger_msg:
        er = con.execute("SELECT CAST(properties AS VARCHAR), revenue, event FROM events WHERE workspace_id = ? "
                         "AND message_id = ?", [ws, trigger_msg]).fetchone()
        if er:
            event = orjson.loads(er[0]) if er[0] else {}
            if er[1] is not None:
                event.setdefault("revenue", er[1])
            event.setdefault("name", er[2])
    return make_facts(scope, person_id, person, event, entered_at, policy)


def make_facts(scope: Scope, person_id: str, person: dict, event: dict, entered_at: dt.datetime | None,
               policy: Policy) -> Facts:
    """Facts from traits and trigger properties already read (one by one, or for a chunk at once)."""
    ws = scope.workspace_id
    person["person_id"] = person_id

    def happened(name: str, where: dict, since: dt.datetime, until: dt.datetime) -> bool:
        rows = scope.store.cursor().execute(
            "SELECT CAST(properties AS VARCHAR), revenue FROM events WHERE workspace_id = ? AND person_id = ? AND "
            "event = ? AND ts >= ? AND ts <= ? LIMIT 500", [ws, person_id, name, since, until]).fetchall()
        for props, rev in rows:
            p = orjson.loads(props) if props else {}
            if rev is not None:
                p.setdefault("revenue", rev)
            if not where or match_props(p, where):
                return True
        return False

    return Facts(person=person, event=event, entered_at=entered_at,
                 tz=str(person.get("timezone") or person.get("tz") or policy.default_tz), happened=happened)


def render_message(node: Any, facts: Facts, flow: Flow, variant: str | None, send_id: str) -> dict:
    """The message as this customer would get it (what the approval queue and the dry run show)."""
    ctx = {"person": facts.person, "event": facts.event, "flow": flow.name, "variant": variant,
           "site_url": site_url(), "send_id": send_id}
    if isinstance(node, Feedback):
        url = render(node.survey_url, ctx)
        sep = "&" if "?" in url else "?"
        links = [f"{url}{sep}score={s}&send={send_id}" for s in range(0 if node.kind == "nps" else 1,
                                                                    11 if node.kind == "nps" else 6)]
        name = facts.person.get("first_name") or facts.person.get("name") or "there"
        text = (f"Hi {name},\n\n{node.question} Just pick a number:\n\n" +
                "\n".join(f"{i}: {u}" for i, u in enumerate(links, start=0 if node.kind == "nps" else 1)) +
                "\n\nThank you, it helps us a lot.")
        html = "<p>Hi {}, {}</p><p>{}</p>".format(
            render("{{ n }}", {"n": name}, html=True), render("{{ q }}", {"q": node.question}, html=True),
            " ".join(f'<a href="{render("{{ u }}", {"u": u}, html=True)}">{i}</a>'
                     for i, u in enumerate(links, start=0 if node.kind == "nps" else 1)))
        return {"channel": "email", "subject": render(node.subject, ctx), "text": text, "html": html}
    if isinstance(node, Email):
        return {"channel": "email", "subject": render(node.subject, ctx), "text": render(node.text, ctx),
                "html": render(node.html, ctx, html=True) if node.html else None}
    if isinstance(node, Sms):
        return {"channel": "sms", "text": render(node.text, ctx)}
    if isinstance(node, Webhook):
        return {"channel": "webhook", "url": node.url,
                "payload": {"flow": flow.name, "person_id": facts.person.get("person_id"), "variant": variant,
                            "event": facts.event, **{k: render(str(v), ctx) for k, v in node.payload.items()}}}
    raise TypeError(f"not a message: {node!r}")
