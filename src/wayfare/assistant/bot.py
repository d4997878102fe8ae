"""The assistant's turn: answer from the knowledge base or the customer's own orders, or hand over.

Rules, in order: a customer whose conversation is already with a person is not answered by the bot;
asking for a person, or a strongly negative message, hands over at once; "where is my order" is
answered from that customer's own Order Completed events only (never another person's: the lookup is
by the conversation's person id, which comes from the caller, never from the message text); anything
else is retrieved from the knowledge base, and a second answer below the confidence threshold hands
over. Every reply says that it comes from an automated assistant and how to reach a person.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from ..store import Scope
from . import conversations as conv
from . import llm
from .knowledge import index_for, reload_if_changed
from .text import asks_order_status, content_tokens, is_greeting, sentiment, wants_person

__all__ = ["Reply", "ask", "THRESHOLD", "FOOTER"]

THRESHOLD = 0.35
UPSET = -0.45
FOOTER = "(I'm an automated assistant. Type \"person\" at any time to reach someone from the team.)"
MAX_QUESTION = 2000
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@dataclass
class Reply:
    answer: str
    source: str | None
    confidence: float
    handover: bool
    reason: str
    conversation_id: str | None = None
    automated: bool = True
    suggestions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _name(scope: Scope, person_id: str | None) -> str | None:
    if not person_id:
        return None
    row = scope.one("SELECT traits->>'first_name', traits->>'name' FROM profiles WHERE person_id = $p",
                    {"p": person_id})
    if not row:
        return None
    first = row[0] or (row[1].split()[0] if row[1] else None)
    return first[:40] if first else None


def _segment(scope: Scope, person_id: str | None) -> str:
    """'regular' for a customer with two or more orders, else 'new' (picks audience-specific passages)."""
    if not person_id:
        return "new"
    row = scope.one("SELECT count(*) FROM events WHERE person_id = $p AND event = 'Order Completed'",
                    {"p": person_id})
    return "regular" if row and row[0] >= 2 else "new"


def _order_answer(scope: Scope, person_id: str | None) -> tuple[str, str | None]:
    if not person_id:
        return ("I can only look up orders for a signed-in customer, and I can't see who you are here. "
                "A person from the team can check it for you.", None)
    rows = scope.rows(
        "SELECT ts, revenue, properties FROM events WHERE person_id = $p AND event = 'Order Completed' "
        "ORDER BY ts DESC LIMIT 1", {"p": person_id})
    if not rows:
        return ("I can't find any orders for you yet. If you ordered recently, a person from the team can check.",
                "orders")
    ts, revenue, props = rows[0]
    p = orjson.loads(props) if props else {}
    order_id = p.get("order_id") or p.get("orderId")
    bits = [f"Your latest order{f' ({order_id})' if order_id else ''} was completed on {ts:%d %B %Y at %H:%M} UTC"]
    if revenue is not None:
        bits.append(f"for {revenue:.2f}")
    fulfil = p.get("fulfilment") or p.get("fulfillment") or p.get("status")
    if isinstance(fulfil, str):
        bits.append(f"({fulfil})")
    return " ".join(bits) + ".", "orders"


def ask(scope: Scope, question: str, *, person_id: str | None = None, conversation_id: str | None = None,
        visitor_id: str | None = None, record: bool = True) -> Reply:
    """One customer message in, one reply out (stored in the conversation when ``record``)."""
    question = (question or "").strip()[:MAX_QUESTION]
    state: dict[str, Any] = {"status": "bot", "low_confidence": 0, "person_id": person_id}
    cid = conversation_id
    greeting = ""
    new = False
    if record and cid:
        state = conv.get(scope, cid)
        person_id = state.get("person_id")
        visitor_id = state.get("visitor_id")
    elif not cid:
        if record:
            reload_if_changed(scope)
            cid, new = conv.new_id(), True
        name = _name(scope, person_id)
        greeting = f"Hi {name}! " if name else ("Hi! " if record else "")

    def done(text: str, source: str | None, confidence: float, handover: bool, reason: str,
             suggestions: list[dict] | None = None, ticket: dict | None = None, **cols: Any) -> Reply:
        full = f"{greeting}{text} {FOOTER}".strip()
        if record and cid:
            conv.commit_turn(scope, cid, new=new, visitor_id=visitor_id, person_id=person_id, question=question,
                             answer=full, source=source, confidence=confidence, handover=ticket, **cols)
        return Reply(full, source, round(float(confidence), 3), handover, reason, cid, True, suggestions or [])

    email = _EMAIL.search(question)
    if email and record:  # a customer who leaves an address gets the team's answer by email too
        def done(text: str, source: str | None, confidence: float, handover: bool, reason: str,  # noqa: F811
                 suggestions: list[dict] | None = None, ticket: dict | None = None, _d=done, **cols: Any) -> Reply:
            return _d(text, source, confidence, handover, reason, suggestions, ticket,
                      email=email.group(0).lower()[:200], **cols)
    if state.get("status") in ("open", "assigned"):
        return done("Your conversation is with a person from the team; they will answer here.", None, 0.0, True,
                    "with_person")
    if state.get("status") == "closed" and record:
        m = re.fullmatch(r"\s*([1-5])\s*(/\s*5)?\s*(stars?)?\s*", question)
        if m:
            reply = done("Thank you for rating us!", None, 1.0, False, "rated")
            conv.close(scope, cid, rating=int(m.group(1)))
            return reply
    if not question or is_greeting(question):
        return done("How can I help? Ask me about anything on our website, or ask for a person.", None, 1.0, False,
                    "greeting")

    idx = index_for(scope)
    hits = idx.search(question, k=3)
    top = hits[0] if hits else None
    suggestion = top.passage.text[:600] if top else None
    topic = _topic(top.passage.source) if top else None

    def handover(reason: str, text: str) -> Reply:
        sug, tp = suggestion, topic
        if (top is None or top.confidence < THRESHOLD) and cid and not new:
            # "a person please" says nothing about the matter: suggest from what the chat was about
            earlier = _last_answered(scope, cid, idx)
            if earlier is not None:
                sug, tp = earlier.text[:600], _topic(earlier.source)
        return done(text, None, top.confidence if top else 0.0, True, reason,
                    ticket={"reason": reason, "topic": tp, "suggested_reply": sug})

    if wants_person(question):
        return handover("requested", "Of course. I'm passing you to a person from the team, with this conversation "
                        "so you won't have to repeat yourself. They will answer here, or by email if you leave one.")
    mood = sentiment(question)
    if mood <= UPSET:
        return handover("upset", "I'm sorry about this. I'm passing you straight to a person from the team, who "
                        "will read your message and answer here (or by email if you leave one).")
    if asks_order_status(question):
        text, source = _order_answer(scope, person_id)
        if source is None:
            return handover("order_lookup", text + " I'm passing you to them now.")
        return done(text, source, 1.0, False, "order")

    if top is not None and top.passage.audience:  # a variant for this kind of customer, when there is one
        seg = _segment(scope, person_id)
        for h in hits:
            if h.passage.title == top.passage.title and h.passage.audience == seg:
                top = h
                break
    if top is not None and top.confidence >= THRESHOLD:
        text = _excerpt(top.passage.text, question)
        if llm.configured():
            text = llm.rephrase(question, text) or text
        return done(text, top.passage.source, top.confidence, False, "answered",
                    [{"source": h.passage.source, "confidence": h.confidence} for h in hits[1:]],
                    low_confidence=0)
    low = int(state.get("low_confidence") or 0) + 1
    if low >= 2:
        return handover("low_confidence", "I'm still not sure I understand, so I'm passing you to a person from "
                        "the team. They will answer here, or by email if you leave one.")
    hint = f" The closest thing I found is about \"{top.passage.title}\"." if top else ""
    return done("I'm not sure I can answer that." + hint + " Could you rephrase it, or shall I pass you to a "
                "person?", top.passage.source if top else None, top.confidence if top else 0.0, False,
                "not_sure", low_confidence=low)


def _last_answered(scope: Scope, cid: str, idx: Any) -> Any:
    """The passage of the conversation's latest confident answer (None when there is none)."""
    row = scope.one("SELECT source FROM assistant_messages WHERE conversation_id = $c AND role = 'assistant' "
                    "AND source IS NOT NULL AND source <> 'orders' AND confidence >= $t ORDER BY n DESC LIMIT 1",
                    {"c": cid, "t": THRESHOLD})
    if not row:
        return None
    return next((p for p in idx.passages if p.source == row[0]), None)


def _topic(source: str) -> str:
    return source.split("#", 1)[0].rsplit("/", 1)[-1].rsplit(".", 1)[0]


def _excerpt(text: str, question: str = "", limit: int = 700) -> str:
    """The passage, or for a long one the paragraphs that share most words with the question (in page order)."""
    flat = re.sub(r"\s*\n\s*", " ", text).strip()
    if len(flat) <= limit:
        return flat
    paras = [re.sub(r"\s*\n\s*", " ", p).strip() for p in re.split(r"\n\s*\n|\n(?=- )", text) if p.strip()]
    q = set(content_tokens(question))
    ranked = sorted(range(len(paras)), key=lambda i: (-len(q & set(content_tokens(paras[i]))), i))
    keep: list[int] = []
    used = 0
    for i in ranked:
        if used + len(paras[i]) > limit and keep:
            continue
        keep.append(i)
        used += len(paras[i]) + 1
    out = " ".join(paras[i] for i in sorted(keep))
    if len(out) <= limit:
        return out
    cut = out[:limit]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    return cut[: end + 1] if end > limit // 3 else cut.rstrip() + "…"
