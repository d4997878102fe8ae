"""A linear text model (TF-IDF + logistic regression) that lives as plain JSON: no pickle, so a model read
back from a file or from the store can only ever be numbers, never code.

Scores are in [-1, 1] (``2·P(positive) − 1``). Long texts can be scored sentence by sentence and averaged,
which is how the general model, trained on single sentences, reads multi-sentence reviews.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from .lexicon import lexicon_logodds

__all__ = ["LinearTextModel", "split_sentences", "label_of", "NEUTRAL_BAND"]

NEUTRAL_BAND = 0.05  # |score| below this is "neutral"
_SENT_RE = re.compile(r"(?<=[.!?])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    parts = [p.strip() for p in _SENT_RE.split(text or "")]
    return [p for p in parts if re.search(r"\w", p)] or [text or ""]


def label_of(score: float | None, band: float = NEUTRAL_BAND) -> str | None:
    if score is None or score != score:
        return None
    return "positive" if score >= band else "negative" if score <= -band else "neutral"


@dataclass
class LinearTextModel:
    """TF-IDF features and logistic-regression weights, estimator style: ``fit`` returns self."""

    ngram_range: tuple[int, int] = (1, 2)
    min_df: int = 2
    max_features: int | None = 20000
    C: float = 1.0
    class_weight: str | None = "balanced"
    by_sentence: bool = False
    lexicon_scale: float = 0.0  # weight of the service-word lexicon added to each sentence's log-odds
    meta: dict[str, Any] = field(default_factory=dict)
    vocabulary_: dict[str, int] | None = None
    idf_: np.ndarray | None = None
    coef_: np.ndarray | None = None
    intercept_: float = 0.0
    _vec: TfidfVectorizer | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        n = len(self.vocabulary_ or {})
        return f"LinearTextModel(ngram_range={self.ngram_range}, C={self.C}, by_sentence={self.by_sentence}, terms={n})"

    def _vectorizer(self, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(ngram_range=tuple(self.ngram_range), min_df=1 if vocabulary else self.min_df,
                               max_features=None if vocabulary else self.max_features, sublinear_tf=True,
                               lowercase=True, strip_accents="unicode", vocabulary=vocabulary)

    def fit(self, texts: list[str], y: np.ndarray | list[int]) -> LinearTextModel:
        y = np.asarray(y, int)
        vec = self._vectorizer()
        X = vec.fit_transform([t or "" for t in texts])
        lr = LogisticRegression(C=self.C, max_iter=3000, class_weight=self.class_weight).fit(X, y)
        self.vocabulary_ = {k: int(v) for k, v in vec.vocabulary_.items()}
        self.idf_ = np.asarray(vec.idf_, float)
        self.coef_ = np.asarray(lr.coef_[0], float)
        self.intercept_ = float(lr.intercept_[0])
        self._vec = vec
        return self

    def _vec_fitted(self) -> TfidfVectorizer:
        if self._vec is None:
            if self.vocabulary_ is None or self.idf_ is None:
                raise RuntimeError("the model is not fitted")
            vec = self._vectorizer(self.vocabulary_)
            vec.idf_ = self.idf_
            self._vec = vec
        return self._vec

    def decision(self, texts: list[str]) -> np.ndarray:
        """Log-odds of positive for each text (sentence-averaged when ``by_sentence``)."""
        vec = self._vec_fitted()
        texts = ["" if t is None or t != t else str(t) for t in texts]
        uniq = {t: i for i, t in enumerate(dict.fromkeys(texts))}
        if len(uniq) < len(texts):  # feedback repeats itself (ticket subjects, stock phrases): score each once
            d = self.decision(list(uniq))
            return d[[uniq[t] for t in texts]]
        if not self.by_sentence:
            d = np.asarray(vec.transform(texts) @ self.coef_ + self.intercept_, float)
            if self.lexicon_scale:
                d = d + np.array([lexicon_logodds(t, self.lexicon_scale) for t in texts])
            return d
        owners, pieces = [], []
        for i, t in enumerate(texts):
            for s in split_sentences(t):
                owners.append(i)
                pieces.append(s)
        d = np.asarray(vec.transform(pieces) @ self.coef_ + self.intercept_, float) if pieces else np.zeros(0)
        if self.lexicon_scale:
            d = d + np.array([lexicon_logodds(p, self.lexicon_scale) for p in pieces])
        sums = np.bincount(owners, weights=d, minlength=len(texts))
        counts = np.bincount(owners, minlength=len(texts))
        return sums / np.maximum(counts, 1)

    def score(self, texts: list[str]) -> np.ndarray:
        """Sentiment in [-1, 1]: 2·P(positive) − 1."""
        return np.tanh(self.decision(texts) / 2)

    # -- JSON ---------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        if self.vocabulary_ is None:
            raise RuntimeError("the model is not fitted")
        terms = sorted(self.vocabulary_, key=self.vocabulary_.__getitem__)
        return {"kind": "tfidf-logreg", "version": 1, "ngram_range": list(self.ngram_range),
                "by_sentence": self.by_sentence, "lexicon_scale": self.lexicon_scale, "C": self.C, "terms": terms,
                "idf": [round(float(x), 5) for x in self.idf_], "coef": [round(float(x), 5) for x in self.coef_],
                "intercept": round(self.intercept_, 6), "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinearTextModel:
        if d.get("kind") != "tfidf-logreg":
            raise ValueError(f"not a tfidf-logreg model: {d.get('kind')!r}")
        terms = list(d["terms"])
        idf, coef = np.asarray(d["idf"], float), np.asarray(d["coef"], float)
        if not (len(terms) == len(idf) == len(coef)):
            raise ValueError("terms, idf and coef differ in length")
        m = cls(ngram_range=tuple(d.get("ngram_range", (1, 2))), by_sentence=bool(d.get("by_sentence")),
                C=float(d.get("C", 1.0)), lexicon_scale=float(d.get("lexicon_scale", 0.0)), meta=dict(d.get("meta") or {}))
        m.vocabulary_ = {t: i for i, t in enumerate(terms)}
        m.idf_, m.coef_, m.intercept_ = idf, coef, float(d["intercept"])
        return m
