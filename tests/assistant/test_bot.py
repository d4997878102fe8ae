"""The assistant's turn: answers with sources, honest uncertainty, hand-over, and only the asker's own data."""

from __future__ import annotations

import orjson
import pytest

from wayfare.assistant import FOOTER, ask, ingest, show

from .conftest import person_id


@pytest.fixture
def sc(shop, bike_kb):
    s = shop.scope("default")
    ingest(s, bike_kb)
    return s


def test_answer_carries_source_confidence_and_says_it_is_automated(sc):
    r = ask(sc, "do you rent electric bikes?")
    assert r.source == "faq.csv#Do you rent bikes?" and not r.handover and r.reason == "answered"
    assert "35 euros a day" in r.answer and FOOTER in r.answer and "person" in r.answer
    assert 0.4 <= r.confidence <= 1.0


def test_unsure_once_then_hands_over_on_the_second_low_confidence(sc):
    r1 = ask(sc, "what is the meaning of life")
    assert not r1.handover and r1.reason == "not_sure" and "not sure" in r1.answer and "person" in r1.answer
    r2 = ask(sc, "tell me about quantum chromodynamics", conversation_id=r1.conversation_id)
    assert r2.handover and r2.reason == "low_confidence"
    d = show(sc, r1.conversation_id)
    assert d["conversation"]["status"] == "open" and d["handovers"][0]["reason"] == "low_confidence"
    assert [m["role"] for m in d["messages"]] == ["customer", "assistant", "customer", "assistant"]


@pytest.mark.parametrize("text, reason", [
    ("can I talk to a real person please", "requested"),
    ("I want to speak to a human", "requested"),
    ("This is DISGUSTING, the worst service ever, I am furious!!", "upset"),
])
def test_hands_over_on_request_or_strong_negative_sentiment(sc, text, reason):
    r = ask(sc, text)
    assert r.handover and r.reason == reason
    ev = sc.rows("SELECT event, properties FROM events WHERE event IN ('Chat Started', 'Handed Over') ORDER BY seq")
    assert [e[0] for e in ev] == ["Chat Started", "Handed Over"]
    assert orjson.loads(ev[1][1])["reason"] == reason


def test_mild_complaint_word_alone_does_not_hand_over(sc):
    assert not ask(sc, "is the repair service bad value?").handover


def test_greets_a_known_customer_by_name_and_answers_their_own_order(sc):
    alice = person_id(sc, "alice")
    r = ask(sc, "where is my order?", person_id=alice)
    assert r.answer.startswith("Hi Alice!") and "A-101" in r.answer and r.source == "orders" and not r.handover
    bob = person_id(sc, "bob")
    assert ask(sc, "hello", person_id=bob).answer.startswith("Hi Bob!")


@pytest.mark.parametrize("text", ["where is my order? my email is bob@example.test",
                                  "where is order B-900", "what's the status of bob's order B-900"])
def test_cannot_read_another_customers_order(sc, text):
    alice = person_id(sc, "alice")
    r = ask(sc, text, person_id=alice)
    assert "B-900" not in r.answer and "99.00" not in r.answer and "Bob" not in r.answer
    anon = ask(sc, text)
    assert "B-900" not in anon.answer and "99.00" not in anon.answer


def test_anonymous_order_question_hands_over_instead_of_guessing(sc):
    r = ask(sc, "where is my order")
    assert r.handover and r.reason == "order_lookup" and "A-10" not in r.answer


def test_with_a_person_the_bot_stays_out_of_the_way(sc):
    r = ask(sc, "agent please")
    r2 = ask(sc, "hello? do you rent bikes", conversation_id=r.conversation_id)
    assert r2.handover and r2.reason == "with_person" and "35 euros" not in r2.answer


def test_knowledge_base_reloads_when_its_files_change(sc, bike_kb):
    assert "not sure" in ask(sc, "do you sell helmets", record=False).answer
    (bike_kb / "helmets.md").write_text("# Helmets\n\n## Do you sell helmets?\nYes, helmets from 25 euros.\n")
    r = ask(sc, "do you sell helmets")  # a new conversation checks the folder
    assert "25 euros" in r.answer and r.source == "helmets.md#Do you sell helmets?"


def test_audience_variant_for_regular_customers(shop, tmp_path):
    sc = shop.scope("default")
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "offers.md").write_text("# Offers\n\n## Loyalty discount\n<!-- audience: new -->\nFirst order: 10% off "
                                  "with code HELLO.\n")
    (kb / "offers-regular.md").write_text("# Offers\n\n## Loyalty discount\n<!-- audience: regular -->\nRegulars "
                                          "get every tenth meal free.\n")
    ingest(sc, kb)
    assert "HELLO" in ask(sc, "is there a loyalty discount", record=False).answer
    regular = ask(sc, "is there a loyalty discount", person_id=person_id(sc, "alice"), record=False)
    assert "tenth meal" in regular.answer


def test_long_passage_answers_with_the_paragraph_that_matches(shop, tmp_path):
    sc = shop.scope("default")
    kb = tmp_path / "long"
    kb.mkdir()
    filler = "\n\n".join(f"Note {i}: our shop has a long history of service in the town centre." for i in range(15))
    (kb / "about.md").write_text(f"# About us\n\n{filler}\n\nPets: dogs on a lead are welcome in the shop.\n")
    ingest(sc, kb)
    r = ask(sc, "are dogs allowed in the shop?", record=False)
    assert "dogs on a lead are welcome" in r.answer and len(r.answer) < 900
