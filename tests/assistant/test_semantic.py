"""Hybrid retrieval: reciprocal rank fusion of BM25 and sentence embeddings, the confidence blend, and the
switch between BM25 (the default with no model) and hybrid (when ``wayfare[embeddings]`` is installed).

Tests that need the packaged MiniLM skip with the reason when the extra is absent; the fusion itself runs
with the real encoder where it is installed and with a tiny fake encoder only where it is not."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from wayfare.assistant import Index, ask, ingest, load_dir, semantic
from wayfare.assistant import knowledge as kn
from wayfare.assistant.semantic import DenseIndex, HybridIndex, blend, rrf
from wayfare.errors import ValidationError

NEEDS_MODEL = pytest.mark.skipif(not semantic.available(),
                                 reason="the embedding extra is not installed: pip install 'wayfare[embeddings]'")


def fake_encode(texts: list[str]) -> np.ndarray:
    """Bag of words hashed into 64 dimensions: a stand-in that has no notion of meaning."""
    out = np.zeros((len(texts), 64))
    for i, t in enumerate(texts):
        for w in re.findall(r"[a-z]+", t.lower()):
            out[i, int(hashlib.md5(w[:5].encode()).hexdigest(), 16) % 64] += 1.0
    return out


@pytest.fixture(scope="module")
def encode():
    """The real packaged encoder when the extra is installed, else the fake one."""
    if semantic.available():
        from wayfare.feedback.embedding import load_encoder

        return load_encoder()[0]
    return fake_encode


@pytest.fixture
def bike(bike_kb):
    return load_dir(bike_kb)


def test_rrf_ranks_an_item_high_in_both_lists_above_one_top_in_only_one():
    fused = rrf([[1, 2, 3], [2, 3, 1], [4]])
    assert max(fused, key=fused.get) == 2
    assert fused[2] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[4] == pytest.approx(1 / 61) and fused[4] < fused[1] < fused[2]
    assert rrf([]) == {} and rrf([[7]], k=0) == {7: 1.0}


@pytest.mark.parametrize("bm25, cosine, expected", [
    (0.0, 0.20, 0.0), (0.0, 0.60, 0.5), (1.0, 0.95, 1.0), (0.8, -0.3, 0.4), (0.42, 0.31, 0.3475),
])
def test_blend_maps_cosine_onto_the_unit_interval_and_averages(bm25, cosine, expected):
    assert blend(bm25, cosine) == pytest.approx(expected, abs=1e-3)


def test_dense_index_scores_each_passage_by_its_best_view(bike):
    d = DenseIndex(bike, fake_encode)
    assert d.vectors.shape[0] == len(d.owner) > len(bike)  # title, questions and text of each passage
    sims = d.similarities("Do you rent bikes?")
    assert sims.shape == (len(bike),) and np.all(sims <= 1 + 1e-9)
    best = bike[int(np.argmax(sims))]
    assert best.source == "faq.csv#Do you rent bikes?" and sims.max() == pytest.approx(1.0)


@pytest.mark.parametrize("question, source", [
    ("when are you open?", "shop.md#Opening times"),
    ("opening tmes", "shop.md#Opening times"),
    ("how much is a servise", "shop.md#Repairs and servicing"),
    ("can I get my money back for a bike", "shop.md#Returns"),
    ("could I hire an e-bike for the day", "faq.csv#Do you rent bikes?"),
    ("do you rnet bikes", "faq.csv#Do you rent bikes?"),
    ("will you deliver my new bike", "faq.csv#Do you deliver bikes?"),
])
def test_hybrid_search_finds_what_bm25_finds(bike, encode, question, source):
    h = HybridIndex(bike, encode)
    hits = h.search(question)
    assert hits[0].passage.source == source
    assert 0.35 <= hits[0].confidence <= 1.0
    assert [x.score for x in hits] == sorted((x.score for x in hits), reverse=True)


def test_hybrid_search_keeps_to_allowed_passages_and_handles_empty_input(bike, encode):
    h = HybridIndex(bike, encode)
    allowed = {i for i, p in enumerate(bike) if p.source.startswith("faq.csv")}
    assert {x.passage.source.split("#")[0] for x in h.search("opening times", k=10, allowed=allowed)} == {"faq.csv"}
    assert h.search("   ") == [] and HybridIndex([], encode).search("anything") == []


@pytest.mark.parametrize("question", ["what is the capital of france", "who won the football last night",
                                      "recommend a good movie", "asdf qwerty"])
def test_hybrid_is_unsure_out_of_scope(bike, encode, question):
    hits = HybridIndex(bike, encode).search(question)
    assert not hits or hits[0].confidence < 0.35


@NEEDS_MODEL
def test_embeddings_answer_a_paraphrase_bm25_is_unsure_of(bike, encode):
    q = "I want to give back a cycle I bought"
    assert Index(bike).search(q)[0].confidence < 0.35  # few shared words: BM25 alone would not answer
    top = HybridIndex(bike, encode).search(q)[0]
    assert top.passage.source == "shop.md#Returns" and top.confidence >= 0.45


@NEEDS_MODEL
def test_the_assistant_answers_through_hybrid_retrieval_when_the_extra_is_installed(shop, monkeypatch):
    from wayfare.assistant import bundled_kb

    sc = shop.scope("default")
    ingest(sc, bundled_kb())
    monkeypatch.setenv("WAYFARE_ASSISTANT_RETRIEVAL", "auto")
    assert isinstance(kn.index_for(sc), HybridIndex)
    r = ask(sc, "I can't eat wheat, is that a problem?", record=False)
    assert r.reason == "answered" and r.source.startswith("menu-and-dietary.md#Gluten")
    monkeypatch.setenv("WAYFARE_ASSISTANT_RETRIEVAL", "bm25")
    assert type(kn.index_for(sc)) is Index
    assert ask(sc, "I can't eat wheat, is that a problem?", record=False).reason == "not_sure"


def test_bm25_is_the_default_without_the_extra_and_hybrid_without_it_is_a_clear_error(shop, monkeypatch):
    sc = shop.scope("default")
    monkeypatch.setattr(semantic, "available", lambda: False)
    monkeypatch.setenv("WAYFARE_ASSISTANT_RETRIEVAL", "auto")
    assert semantic.encoder() is None and type(kn.index_for(sc)) is Index

    from wayfare.errors import WayfareError
    from wayfare.feedback import embedding

    def missing():
        raise WayfareError("the embedding model needs the optional extra: pip install 'wayfare[embeddings]'")

    monkeypatch.setattr(embedding, "load_encoder", missing)
    monkeypatch.setenv("WAYFARE_ASSISTANT_RETRIEVAL", "hybrid")
    with pytest.raises(ValidationError, match="WAYFARE_ASSISTANT_RETRIEVAL.*wayfare\\[embeddings\\]"):
        semantic.encoder()
    monkeypatch.setenv("WAYFARE_ASSISTANT_RETRIEVAL", "fancy")
    with pytest.raises(ValidationError, match="WAYFARE_ASSISTANT_RETRIEVAL.*auto, bm25, hybrid"):
        semantic.mode()
