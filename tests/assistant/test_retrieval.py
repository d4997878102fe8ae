"""Retrieval on a knowledge base the code was not written for: typos, paraphrases, out of scope."""

from __future__ import annotations

import pytest

from wayfare.assistant import Index, load_dir
from wayfare.assistant.kb import bundled_kb, load_csv, load_markdown
from wayfare.assistant.text import sentiment, similar, stem


@pytest.fixture
def index(bike_kb):
    return Index(load_dir(bike_kb))


@pytest.mark.parametrize("question, source", [
    ("when are you open?", "shop.md#Opening times"),
    ("opening tmes", "shop.md#Opening times"),                     # typo
    ("how much is a servise", "shop.md#Repairs and servicing"),     # typo
    ("can I get my money back for a bike", "shop.md#Returns"),     # paraphrase (synonyms)
    ("could I hire an e-bike for the day", "faq.csv#Do you rent bikes?"),  # the KB's own paraphrase
    ("do you rnet bikes", "faq.csv#Do you rent bikes?"),          # transposition
    ("will you deliver my new bike", "faq.csv#Do you deliver bikes?"),
])
def test_search_finds_the_passage_despite_typos_and_paraphrases(index, question, source):
    hits = index.search(question)
    assert hits and hits[0].passage.source == source
    assert 0.4 <= hits[0].confidence <= 1.0


@pytest.mark.parametrize("question", ["what is the capital of france", "who won the football last night",
                                      "recommend a good movie", "asdf qwerty"])
def test_search_is_unsure_out_of_scope(index, question):
    hits = index.search(question)
    assert not hits or hits[0].confidence < 0.4


def test_confidence_is_in_unit_interval_and_ranks_exact_above_partial(index):
    exact = index.search("opening times")[0].confidence
    partial = index.search("opening times for the cafe next door tomorrow morning")[0].confidence
    assert 0.0 <= partial < exact <= 1.0


def test_markdown_splits_at_headings_and_csv_groups_shared_answers():
    ps = load_markdown("# Page\n\nintro\n\n## A\ntext a\n### A1\ntext a1\n## B\n\n", "p.md")
    assert [p.source for p in ps] == ["p.md#p", "p.md#A", "p.md#A1"] or [p.source for p in ps] == [
        "p.md#Page", "p.md#A", "p.md#A1"]
    assert ps[2].title == "Page › A › A1"
    qa = load_csv("question,answer\nq1,same\nq2,same\nq3,other\n", "f.csv")
    assert [(p.questions, p.text) for p in qa] == [(["q1", "q2"], "same"), (["q3"], "other")]


def test_bundled_restaurant_kb_covers_the_issue_topics():
    sources = {p.source.split("#")[0] for p in load_dir(bundled_kb())}
    for page in ("opening-hours.md", "menu-and-dietary.md", "bookings-and-groups.md", "catering.md", "parking.md",
                 "accessibility.md", "gift-cards.md", "delivery.md", "complaints.md"):
        assert page in sources


def test_text_helpers():
    assert stem("bookings") == stem("booking") == "book" and stem("bikes") == stem("bike")
    assert similar("parking", "parkng") > 0.7 and similar("cat", "car") == 0.0
    assert sentiment("This is absolutely disgusting, worst meal ever!!") <= -0.45
    assert sentiment("lovely evening, thank you") > 0
    assert sentiment("not bad at all") > -0.45
