"""The team inbox: assignment, routing by topic, notes, replies, CSAT on close, events in the journey."""

from __future__ import annotations

import orjson
import pytest

from wayfare.assistant import ask, assign, close, inbox, ingest, note, reply, save_settings, show
from wayfare.assistant.conversations import messages, open_handovers, set_status
from wayfare.errors import NotFound, ValidationError

from .conftest import person_id


@pytest.fixture
def sc(shop, bike_kb):
    s = shop.scope("default")
    ingest(s, bike_kb)
    return s


def test_handover_shows_transcript_profile_and_suggested_reply(sc):
    alice = person_id(sc, "alice")
    r = ask(sc, "how much is a service? I need to talk to a person", person_id=alice)
    d = show(sc, r.conversation_id)
    assert d["customer"]["traits"]["first_name"] == "Alice"
    assert d["customer"]["orders"]["count"] == 2 and d["customer"]["orders"]["revenue"] == 60.5
    assert "45 euros" in d["handovers"][0]["suggested_reply"]
    assert [c["id"] for c in inbox(sc)] == [r.conversation_id] == [h["id"] for h in open_handovers(sc)]


def test_routing_by_topic_assigns_the_right_person(sc):
    save_settings(sc, routes={"shop": "mechanic@citycycles.test", "*": "desk@citycycles.test"})
    r = ask(sc, "person please, about repairs and servicing")
    c = show(sc, r.conversation_id)["conversation"]
    assert c["status"] == "assigned" and c["assignee"] == "mechanic@citycycles.test" and c["topic"] == "shop"


def test_reply_note_assign_close_with_rating_become_events(sc):
    alice = person_id(sc, "alice")
    r = ask(sc, "I want a human", person_id=alice)
    cid = r.conversation_id
    assert assign(sc, cid, "sam")["assignee"] == "sam"
    note(sc, cid, "regular customer, be nice", "sam")
    reply(sc, cid, "Hi Alice, Sam here. How can I help?", "sam")
    visible = messages(sc, cid, include_notes=False)
    assert [m["role"] for m in visible] == ["customer", "assistant", "staff"]
    assert "be nice" not in orjson.dumps(visible).decode()
    c = close(sc, cid, rating=4)
    assert c["status"] == "closed" and c["csat"] == 4
    ev = sc.rows("SELECT event, person_id, properties FROM events WHERE event IN ('Chat Started', 'Handed Over', "
                 "'Chat Closed') ORDER BY seq")
    assert [e[0] for e in ev] == ["Chat Started", "Handed Over", "Chat Closed"]
    assert {e[1] for e in ev} == {alice}
    assert orjson.loads(ev[2][2]) == {"conversation_id": cid, "outcome": "handed_over", "rating": 4, "csat_score": 4}
    assert inbox(sc) == [] and [c["id"] for c in inbox(sc, status="closed")] == [cid]


def test_close_without_rating_asks_for_one_and_the_chat_takes_it(sc):
    r = ask(sc, "do you rent bikes")
    close(sc, r.conversation_id)
    assert messages(sc, r.conversation_id)[-1]["role"] == "system"
    rated = ask(sc, "5", conversation_id=r.conversation_id)
    assert rated.reason == "rated" and show(sc, r.conversation_id)["conversation"]["csat"] == 5
    ratings = sc.rows("SELECT properties->>'rating' FROM events WHERE event = 'Chat Closed' ORDER BY seq")
    assert [x[0] for x in ratings] == [None, "5"]


def test_bad_input_is_refused_with_a_reason(sc):
    r = ask(sc, "person")
    with pytest.raises(ValidationError):
        close(sc, r.conversation_id, rating=9)
    with pytest.raises(ValidationError):
        set_status(sc, r.conversation_id, "maybe")
    with pytest.raises(ValidationError):
        reply(sc, r.conversation_id, "   ")
    with pytest.raises(NotFound):
        show(sc, "conv_nope")


def test_workspaces_do_not_see_each_others_conversations(shop, sc):
    r = ask(sc, "person please")
    shop.create_workspace("other")
    other = shop.scope("other")
    assert inbox(other) == []
    with pytest.raises(NotFound):
        show(other, r.conversation_id)


def test_a_bare_request_for_a_person_suggests_a_reply_from_what_the_chat_was_about(sc):
    first = ask(sc, "do you rent bikes?")
    assert first.reason == "answered"
    r = ask(sc, "can I talk to a person please", conversation_id=first.conversation_id)
    h = show(sc, r.conversation_id)["handovers"][0]
    assert r.handover and h["reason"] == "requested"
    assert "35 euros a day" in h["suggested_reply"] and h["topic"] == "faq"
