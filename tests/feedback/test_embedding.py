"""The embedding tier's wiring (train, store as JSON, used automatically) with a small deterministic encoder
passed through the public API; the packaged MiniLM encoder is measured in benchmarks/bench_journey.py."""

import json

import numpy as np
import pandas as pd

from wayfare.feedback import EmbeddingTextModel, score_texts, train_sentiment

GOOD, BAD = ("lovely", "great", "friendly", "perfect"), ("awful", "late", "rude", "broken")


def encode(texts):
    rows = []
    for t in texts:
        w = t.lower().split()
        rows.append([sum(x in GOOD for x in w), sum(x in BAD for x in w), len(w) / 10])
    return np.asarray(rows, float)


def test_embedding_head_trains_stores_and_scores(scope):
    rng = np.random.default_rng(0)
    texts, stars = [], []
    for _ in range(200):
        good = rng.random() < 0.6
        words = list(rng.choice(GOOD if good else BAD, 2)) + ["the", "visit"]
        texts.append(" ".join(words))
        stars.append(5 if good else 1)
    res = train_sentiment(scope, pd.DataFrame({"t": texts, "r": stars}), "t", "r", kind="embedding", encode=encode)
    assert res["kind"] == "embedding" and res["balanced_accuracy_holdout"] == 1.0
    stored = json.loads(scope.one("SELECT model FROM sentiment_models WHERE active")[0])
    assert stored["kind"] == "embedding-logreg" and len(stored["coef"]) == 3
    s = score_texts(["a lovely friendly visit", "rude and late"], scope, encode=encode)
    assert s.model == res["model_id"] and s.labels == ["positive", "negative"]
    back = EmbeddingTextModel.from_dict(stored, encode)
    assert back.score(["great"])[0] > 0 > back.score(["broken"])[0]
