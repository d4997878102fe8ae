"""Conversations and the team inbox: messages, hand-over tickets, assignment, status, notes, replies,
CSAT on close; and the journey events each step writes back (Chat Started, Handed Over, Chat Closed)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from ..errors import NotFound, ValidationError
from ..store import Scope, utcnow

__all__ = ["customer_context", "start", "get", "commit_turn", "journey_events", "add_message", "messages", "hand_over", "assign", "set_status", "note", "reply",
           "close", "inbox", "show", "open_handovers", "answer_handover", "journey_event", "STATUSES"]

STATUSES = ("bot", "open", "assigned", "closed")
MAX_TEXT = 4000


@contextmanager
def tx(scope: Scope) -> Iterator[Any]:
    """A write transaction on a cursor of its own (under the store's write lock): other engines may be
    reading on the store's main connection at the same moment, and DuckDB refuses a busy connection."""
    with scope.store.write_cursor() as con:
        yield con


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def new_id() -> str:
    """A fresh conversation id (the row is written with the first exchange)."""
    return _new_id("conv")


def journey_event(scope: Scope, event: str, person_id: str | None, visitor_id: str | None,
                  properties: dict[str, Any]) -> None:
    """Write one assistant event into the journey, attached to the person when known."""
    journey_events(scope, [(event, properties)], person_id, visitor_id)


def journey_events(scope: Scope, events: list[tuple[str, dict[str, Any]]], person_id: str | None,
                   visitor_id: str | None, con: Any = None) -> None:
    """Write assistant events (one batch, one commit) into the journey, attached to the person when known."""
    from ..ingest import to_row, write_rows

    who: dict[str, Any] = {}
    if person_id:
        ids = scope.rows("SELECT kind, value FROM identities WHERE person_id = $p ORDER BY first_seen", {"p": person_id})
        kinds = {k: v for k, v in reversed(ids)}
        if "user_id" in kinds:
            who["userId"] = kinds["user_id"]
        elif "anonymous_id" in kinds:
            who["anonymousId"] = kinds["anonymous_id"]
        elif "email" in kinds or "phone" in kinds:
            who["anonymousId"] = visitor_id or f"chat-{person_id}"
            who["context"] = {"traits": {k: kinds[k] for k in ("email", "phone") if k in kinds}}
    if not who:
        who["anonymousId"] = visitor_id or "assistant-visitor"
    now = utcnow()
    rows = [to_row({"type": "track", "event": ev, "properties": props, "channel": "support",
                    "messageId": _new_id("ast"), **who}, now, "assistant") for ev, props in events]
    if con is not None:
        write_rows(scope, rows, con)
    else:
        with tx(scope) as c:
            write_rows(scope, rows, c)


def commit_turn(scope: Scope, cid: str, *, new: bool, visitor_id: str | None, person_id: str | None,
                question: str, answer: str, source: str | None, confidence: float,
                handover: dict[str, Any] | None = None, **cols: Any) -> None:
    """Store one exchange in one transaction: the conversation, both messages, a hand-over ticket and the
    journey events (Chat Started, Handed Over). One commit per chat turn."""
    now = utcnow()
    events: list[tuple[str, dict[str, Any]]] = []
    ws = scope.workspace_id
    with tx(scope) as con:
        if new:
            con.execute("INSERT INTO main.assistant_conversations (workspace_id, conversation_id, visitor_id, "
                        "person_id, status, low_confidence, created_at, updated_at, subject) "
                        "VALUES (?, ?, ?, ?, 'bot', 0, ?, ?, ?)",
                        [ws, cid, visitor_id, person_id, now, now, question[:120]])
            events.append(("Chat Started", {"conversation_id": cid}))
        n = con.execute("SELECT coalesce(max(n), 0) FROM main.assistant_messages WHERE workspace_id = ? "
                        "AND conversation_id = ?", [ws, cid]).fetchone()[0]
        con.execute("INSERT INTO main.assistant_messages VALUES (?, ?, ?, ?, 'customer', NULL, ?, NULL, NULL, ?), "
                    "(?, ?, ?, ?, 'assistant', NULL, ?, ?, ?, ?)",
                    [ws, _new_id("msg"), cid, n + 1, question[:MAX_TEXT] or "(empty message)", now,
                     ws, _new_id("msg"), cid, n + 2, answer[:MAX_TEXT], source, confidence, now])
        if handover:
            routes = _routes(scope)
            topic = handover.get("topic")
            assignee = routes.get(topic or "") or routes.get("*")
            con.execute("INSERT INTO main.assistant_handovers VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                        [ws, _new_id("ho"), cid, handover["reason"], topic, handover.get("suggested_reply"), now])
            cols.update(status="assigned" if assignee else "open", assignee=assignee, topic=topic)
            events.append(("Handed Over", {"conversation_id": cid, "reason": handover["reason"], "topic": topic}))
        _touch(scope, con, cid, **cols)
        if events:
            journey_events(scope, events, person_id, visitor_id, con)


def start(scope: Scope, *, visitor_id: str | None = None, person_id: str | None = None,
          email: str | None = None) -> str:
    cid = _new_id("conv")
    now = utcnow()
    with tx(scope) as con:
        con.execute("INSERT INTO main.assistant_conversations (workspace_id, conversation_id, visitor_id, person_id, "
                    "status, low_confidence, email, created_at, updated_at) VALUES (?, ?, ?, ?, 'bot', 0, ?, ?, ?)",
                    [scope.workspace_id, cid, visitor_id, person_id, email, now, now])
    journey_event(scope, "Chat Started", person_id, visitor_id, {"conversation_id": cid})
    return cid


def get(scope: Scope, conversation_id: str) -> dict[str, Any]:
    cur = scope.execute("SELECT * EXCLUDE (workspace_id) FROM assistant_conversations WHERE conversation_id = $c",
                        {"c": str(conversation_id)})
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"no conversation {str(conversation_id)[:100]!r}; `wayfare inbox list` shows them")
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def _touch(scope: Scope, con: Any, cid: str, **cols: Any) -> None:
    sets = ", ".join(f"{k} = ?" for k in cols) + (", " if cols else "") + "updated_at = ?"
    con.execute(f"UPDATE main.assistant_conversations SET {sets} WHERE workspace_id = ? AND conversation_id = ?",
                [*cols.values(), utcnow(), scope.workspace_id, cid])


def add_message(scope: Scope, cid: str, role: str, body: str, *, author: str | None = None,
                source: str | None = None, confidence: float | None = None, **cols: Any) -> int:
    body = (body or "").strip()[:MAX_TEXT]
    with tx(scope) as con:
        n = con.execute("SELECT coalesce(max(n), 0) + 1 FROM main.assistant_messages WHERE workspace_id = ? "
                        "AND conversation_id = ?", [scope.workspace_id, cid]).fetchone()[0]
        con.execute("INSERT INTO main.assistant_messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [scope.workspace_id, _new_id("msg"), cid, n, role, author, body, source, confidence, utcnow()])
        _touch(scope, con, cid, **cols)
    return int(n)


def messages(scope: Scope, cid: str, *, after: int = 0, include_notes: bool = True) -> list[dict[str, Any]]:
    rows = scope.rows("SELECT n, role, author, body, source, confidence, created_at FROM assistant_messages "
                      "WHERE conversation_id = $c AND n > $a ORDER BY n", {"c": cid, "a": int(after)})
    out = [{"n": r[0], "role": r[1], "author": r[2], "text": r[3], "source": r[4], "confidence": r[5],
            "at": r[6].isoformat()} for r in rows]
    return out if include_notes else [m for m in out if m["role"] != "note"]


def hand_over(scope: Scope, cid: str, reason: str, *, topic: str | None = None,
              suggested_reply: str | None = None) -> str:
    conv = get(scope, cid)
    routes = _routes(scope)
    assignee = routes.get(topic or "") or routes.get("*")
    tid = _new_id("ho")
    with tx(scope) as con:
        con.execute("INSERT INTO main.assistant_handovers VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                    [scope.workspace_id, tid, cid, reason, topic, suggested_reply, utcnow()])
        _touch(scope, con, cid, status="assigned" if assignee else "open", assignee=assignee, topic=topic,
               subject=conv.get("subject") or _first_question(scope, cid))
    journey_event(scope, "Handed Over", conv.get("person_id"), conv.get("visitor_id"),
                  {"conversation_id": cid, "reason": reason, "topic": topic})
    return tid


def _routes(scope: Scope) -> dict[str, str]:
    from .knowledge import settings

    return settings(scope).get("routes") or {}


def _first_question(scope: Scope, cid: str) -> str | None:
    row = scope.one("SELECT body FROM assistant_messages WHERE conversation_id = $c AND role = 'customer' "
                    "ORDER BY n LIMIT 1", {"c": cid})
    return row[0][:120] if row else None


def assign(scope: Scope, cid: str, assignee: str) -> dict[str, Any]:
    get(scope, cid)
    assignee = (assignee or "").strip()[:200]
    if not assignee:
        raise ValidationError("say who takes the conversation", where="assignee")
    with tx(scope) as con:
        _touch(scope, con, cid, assignee=assignee, status="assigned")
    return get(scope, cid)


def set_status(scope: Scope, cid: str, status: str) -> dict[str, Any]:
    if status not in STATUSES:
        raise ValidationError(f"status is one of {', '.join(STATUSES)}", where="status")
    if status == "closed":
        return close(scope, cid)
    get(scope, cid)
    with tx(scope) as con:
        _touch(scope, con, cid, status=status)
    return get(scope, cid)


def note(scope: Scope, cid: str, text: str, author: str | None = None) -> int:
    get(scope, cid)
    if not (text or "").strip():
        raise ValidationError("a note needs text", where="text")
    return add_message(scope, cid, "note", text, author=author)


def reply(scope: Scope, cid: str, text: str, author: str | None = None) -> int:
    """A person's answer: it reaches the customer in the same chat (the widget polls for it)."""
    conv = get(scope, cid)
    if not (text or "").strip():
        raise ValidationError("a reply needs text", where="text")
    status = "assigned" if conv["status"] in ("bot", "open") else conv["status"]
    n = add_message(scope, cid, "staff", text, author=author, status=status,
                    assignee=conv.get("assignee") or author)
    with tx(scope) as con:
        con.execute("UPDATE main.assistant_handovers SET resolved_at = ? WHERE workspace_id = ? AND "
                    "conversation_id = ? AND resolved_at IS NULL", [utcnow(), scope.workspace_id, cid])
    _email_copy(scope, conv, text, author, n)
    return n


def _email_copy(scope: Scope, conv: dict[str, Any], text: str, author: str | None, n: int) -> str | None:
    """Send the reply by email too when SMTP is configured (WAYFARE_SMTP_URL) and the customer left an
    address (in the chat, or a verified customer's profile): the answer reaches them after they leave."""
    try:
        from ..channels import build_message, deliver, smtp_settings
    except ImportError:
        return None
    settings = smtp_settings()
    to = conv.get("email")
    if not to and conv.get("person_id"):
        row = scope.one("SELECT traits->>'email' FROM profiles WHERE person_id = $p", {"p": conv["person_id"]})
        to = row[0] if row else None
    if settings is None or not to:
        return None
    body = f"{text}\n\n{author or 'The team'}\n\n(You can also answer in the chat on our website.)"
    msg = build_message(settings, to, "Re: your question", body, None,
                        f"<{conv['conversation_id']}.{n}@wayfare.invalid>")
    try:
        deliver(settings, msg)
    except Exception as e:  # the chat copy stands; the team sees why the email did not go
        add_message(scope, conv["conversation_id"], "note", f"The email copy to {to} failed: {e}"[:500])
        return None
    add_message(scope, conv["conversation_id"], "note", f"Reply also sent by email to {to}.")
    return to


def close(scope: Scope, cid: str, rating: int | None = None, outcome: str | None = None) -> dict[str, Any]:
    conv = get(scope, cid)
    if rating is not None and not (isinstance(rating, int) and 1 <= rating <= 5):
        raise ValidationError("a rating is a whole number from 1 to 5", where="rating")
    was_closed = conv["status"] == "closed"
    outcome = outcome or ("handed_over" if scope.one(
        "SELECT 1 FROM assistant_handovers WHERE conversation_id = $c", {"c": cid}) else "answered")
    with tx(scope) as con:
        _touch(scope, con, cid, status="closed", closed_at=conv.get("closed_at") or utcnow(),
               csat=rating if rating is not None else conv.get("csat"))
    if not was_closed or rating is not None:
        props: dict[str, Any] = {"conversation_id": cid, "outcome": outcome}
        if rating is not None:
            props["rating"] = rating
            props["csat_score"] = rating
        journey_event(scope, "Chat Closed", conv.get("person_id"), conv.get("visitor_id"), props)
    if not was_closed and rating is None:
        add_message(scope, cid, "system", "This conversation is closed. How did we do? Rate us from 1 to 5.")
    return get(scope, cid)


def inbox(scope: Scope, status: str | None = None, assignee: str | None = None, limit: int = 100) -> list[dict]:
    where, params = ["1 = 1"], {"lim": max(1, min(int(limit), 1000))}
    if status:
        where.append("c.status = $s")
        params["s"] = status
    else:
        where.append("c.status IN ('open', 'assigned')")
    if assignee:
        where.append("c.assignee = $a")
        params["a"] = assignee
    rows = scope.rows(
        f"""SELECT c.conversation_id, c.status, c.assignee, c.topic, c.subject, c.person_id, c.updated_at,
                   c.created_at, p.traits->>'name', p.traits->>'first_name',
                   (SELECT reason FROM assistant_handovers h WHERE h.conversation_id = c.conversation_id
                    ORDER BY created_at DESC LIMIT 1),
                   (SELECT body FROM assistant_messages m WHERE m.conversation_id = c.conversation_id
                    AND m.role = 'customer' ORDER BY n DESC LIMIT 1)
            FROM assistant_conversations c LEFT JOIN profiles p ON p.person_id = c.person_id
            WHERE {' AND '.join(where)} ORDER BY c.updated_at DESC LIMIT $lim""", params)
    return [{"id": r[0], "status": r[1], "assignee": r[2], "topic": r[3], "subject": r[4], "person_id": r[5],
             "ts": r[6], "created_at": r[7], "customer": r[8] or r[9], "reason": r[10], "question": r[4],
             "last_message": r[11]} for r in rows]


def show(scope: Scope, cid: str, with_customer: bool = True) -> dict[str, Any]:
    """Everything a person needs to answer: the transcript, the hand-over, the customer's profile (left out
    with ``with_customer=False``, for a caller that caches it: it scans the person's events)."""
    conv = get(scope, cid)
    hand = scope.rows("SELECT ticket_id, reason, topic, suggested_reply, created_at, resolved_at "
                      "FROM assistant_handovers WHERE conversation_id = $c ORDER BY created_at", {"c": cid})
    out = {"conversation": conv, "messages": messages(scope, cid),
           "handovers": [{"ticket_id": h[0], "reason": h[1], "topic": h[2], "suggested_reply": h[3],
                          "created_at": h[4], "resolved_at": h[5]} for h in hand],
           "customer": customer_context(scope, conv.get("person_id")) if with_customer else None}
    return out


def customer_context(scope: Scope, person_id: str | None) -> dict[str, Any] | None:
    if not person_id:
        return None
    prof = scope.one("SELECT traits, first_seen, last_seen FROM profiles WHERE person_id = $p", {"p": person_id})
    if not prof:
        return None
    traits = orjson.loads(prof[0]) if prof[0] else {}
    timeline = scope.rows("SELECT ts, event, channel, revenue FROM events WHERE person_id = $p "
                          "ORDER BY ts DESC LIMIT 20", {"p": person_id})
    orders = scope.one("SELECT count(*), coalesce(sum(revenue), 0), max(ts) FROM events WHERE person_id = $p "
                       "AND event = 'Order Completed'", {"p": person_id})
    return {"person_id": person_id, "traits": traits, "first_seen": prof[1], "last_seen": prof[2],
            "orders": {"count": orders[0], "revenue": round(float(orders[1]), 2), "last": orders[2]},
            "timeline": [{"ts": t[0], "event": t[1], "channel": t[2], "revenue": t[3]} for t in timeline]}


# -- what the dashboard's inbox page calls ----------------------------------------------------------
def open_handovers(scope: Scope) -> list[dict[str, Any]]:
    return inbox(scope)


def answer_handover(scope: Scope, conversation_id: str, text: str, author: str | None = None) -> bool:
    reply(scope, conversation_id, text, author)
    return True


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.datetime) else v
