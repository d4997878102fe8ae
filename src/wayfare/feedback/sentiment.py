"""Sentiment of free text, in two tiers.

1. The **general model** ships inside the package (``general_model.json``, built by ``train_general.py``):
   TF-IDF + logistic regression over 3,000 labelled review sentences plus a service-word lexicon. No download.
2. A **workspace model** the business trains on its own star-rated reviews (``train_sentiment``); once one is
   trained it is used automatically for that workspace.

Scores are in [-1, 1]; labels are positive / neutral / negative (``|score| < NEUTRAL_BAND`` is neutral).
"""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split

from ..errors import NotFound, ValidationError
from ..store import Scope, utcnow
from .embedding import EmbeddingTextModel
from .linear import NEUTRAL_BAND, LinearTextModel, label_of

__all__ = ["general_model", "workspace_model", "score_texts", "train_sentiment", "read_table", "rating_labels",
           "Scored", "list_models"]

GENERAL_PATH = Path(__file__).with_name("general_model.json")


@functools.lru_cache(maxsize=1)
def general_model() -> LinearTextModel:
    return LinearTextModel.from_dict(json.loads(GENERAL_PATH.read_text()))


def model_from_dict(d: dict[str, Any], encode: Any = None) -> LinearTextModel | EmbeddingTextModel:
    """A model read back from JSON, by its kind (never unpickled: only numbers and words)."""
    if d.get("kind") == "embedding-logreg":
        return EmbeddingTextModel.from_dict(d, encode)
    return LinearTextModel.from_dict(d)


def workspace_model(scope: Scope, encode: Any = None) -> tuple[str, LinearTextModel | EmbeddingTextModel] | None:
    """The workspace's active trained model, if it has one."""
    row = scope.one("SELECT model_id, model FROM sentiment_models WHERE active ORDER BY trained_at DESC LIMIT 1")
    if not row:
        return None
    return row[0], model_from_dict(json.loads(row[1]), encode)


@dataclass
class Scored:
    scores: np.ndarray
    labels: list[str | None]
    model: str  # "general" or the workspace model's id


def score_texts(texts: list[str | None], scope: Scope | None = None, model: str = "auto", encode: Any = None) -> Scored:
    """Score texts with the workspace's trained model when there is one (``model="auto"``), else the general one."""
    chosen: Any = general_model()
    name = "general"
    if model != "general" and scope is not None:
        wm = workspace_model(scope, encode)
        if wm:
            name, chosen = wm
        elif model not in ("auto", "general"):
            raise NotFound(f"no sentiment model {model!r}; train one with `wayfare feedback train-sentiment`")
    present = [i for i, t in enumerate(texts) if isinstance(t, str) and t.strip()]
    scores = np.full(len(texts), np.nan)
    if present:
        scores[present] = chosen.score([texts[i] for i in present])
    return Scored(scores, [label_of(s) for s in scores], name)


def read_table(path: str | Path) -> pd.DataFrame:
    """CSV (optionally gzipped), TSV, JSON lines, Parquet or XLSX, by file name."""
    p = Path(path)
    if not p.exists():
        raise NotFound(f"no such file: {p}")
    name = p.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            return pd.read_parquet(p)
        if name.endswith((".xlsx", ".xlsm")):
            return pd.read_excel(p)
        if name.endswith((".jsonl", ".ndjson", ".jsonl.gz")):
            return pd.read_json(p, lines=True)
        if name.endswith((".tsv", ".tsv.gz", ".txt")):
            return pd.read_csv(p, sep="\t")
        return pd.read_csv(p)
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise ValidationError(f"cannot read the file: {e}", where=str(p)) from None


def _column(df: pd.DataFrame, name: str, option: str, where: str) -> pd.Series:
    if name not in df.columns:
        raise ValidationError(f"no column {name!r} (columns: {', '.join(map(str, df.columns[:30]))})",
                              where=f"{where} {option}")
    return df[name]


def rating_labels(ratings: pd.Series, positive_min: float | None = None,
                  negative_max: float | None = None) -> tuple[np.ndarray, float, float]:
    """1 for clearly positive ratings, 0 for clearly negative, -1 for the middle (not used for training).

    The scale is read from the data: on 1-5 stars 4-5 are positive and 1-2 negative; on 0-10, 8-10 and 0-4."""
    r = pd.to_numeric(ratings, errors="coerce")
    top = float(np.nanmax(r.to_numpy(float))) if r.notna().any() else 5.0
    scale = 5.0 if top <= 5 else 10.0 if top <= 10 else 100.0
    pos = positive_min if positive_min is not None else 0.75 * scale
    neg = negative_max if negative_max is not None else 0.45 * scale
    y = np.where(r >= pos, 1, np.where(r <= neg, 0, -1))
    y[r.isna().to_numpy()] = -1
    return y, pos, neg


def train_sentiment(scope: Scope | None, df: pd.DataFrame, text_column: str, rating_column: str, *,
                    source: str = "", positive_min: float | None = None, negative_max: float | None = None,
                    holdout: float = 0.2, seed: int = 0, save: bool = True, kind: str = "tfidf",
                    encode: Any = None) -> dict[str, Any]:
    """Train TF-IDF + logistic regression on the business's own rated reviews.

    A stratified hold-out (``holdout``) measures balanced accuracy on reviews the model has not seen, against
    the general model on the same reviews; then the model is refitted on all of them and saved as the
    workspace's active model."""
    text = _column(df, text_column, "--text-column", source or "file").astype("string")
    y, pos, neg = rating_labels(_column(df, rating_column, "--rating-column", source or "file"),
                                positive_min, negative_max)
    keep = (y >= 0) & text.notna().to_numpy() & (text.fillna("").str.strip().str.len() > 0).to_numpy()
    texts = np.asarray(text[keep].tolist(), object)
    labels = y[keep]
    n_pos, n_neg = int(labels.sum()), int((labels == 0).sum())
    if n_pos < 20 or n_neg < 20:
        raise ValidationError(f"need at least 20 clearly positive and 20 clearly negative rated reviews with text "
                              f"(found {n_pos} rated >= {pos:g} and {n_neg} rated <= {neg:g})",
                              where=f"{source or 'file'} --rating-column {rating_column}")
    if kind not in ("tfidf", "embedding"):
        raise ValidationError("choose tfidf or embedding", where=f"--kind {kind!r}")
    rows = np.arange(len(texts))
    tr, te = train_test_split(rows, test_size=holdout, random_state=seed, stratify=labels)
    ytr, yte = labels[tr], labels[te]
    model: Any
    if kind == "tfidf":
        probe = LinearTextModel().fit(list(texts[tr]), ytr)
        ba = float(balanced_accuracy_score(yte, probe.score(list(texts[te])) > 0))
        model = LinearTextModel().fit(list(texts), labels)
    else:  # encode once, fit the head twice
        model = EmbeddingTextModel(encode=encode)
        X = model._encode(list(texts))
        ba = float(balanced_accuracy_score(yte, model.fit_encoded(X[tr], ytr).decision_encoded(X[te]) > 0))
        model.fit_encoded(X, labels)
    ba_general = float(balanced_accuracy_score(yte, general_model().score(list(texts[te])) > 0))
    metrics = {"balanced_accuracy_holdout": round(ba, 4), "general_model_balanced_accuracy_holdout": round(ba_general, 4),
               "holdout_rows": len(te), "train_rows": len(tr), "positive": n_pos, "negative": n_neg,
               "positive_min": pos, "negative_max": neg, "ignored_middle_or_empty": int((~keep).sum()), "kind": kind}
    model_id = "sm_" + uuid.uuid4().hex[:10]
    model.meta = {"name": model_id, "source": source, "metrics": metrics}
    if save and scope is not None:
        now = utcnow()
        with scope.transaction() as con:
            con.execute("UPDATE main.sentiment_models SET active = false WHERE workspace_id = $ws",
                        {"ws": scope.workspace_id})
            con.execute("INSERT INTO main.sentiment_models VALUES ($ws, $id, $at, $src, $tc, $rc, $n, $m, $model, true)",
                        {"ws": scope.workspace_id, "id": model_id, "at": now, "src": source, "tc": text_column,
                         "rc": rating_column, "n": len(texts), "m": json.dumps(metrics),
                         "model": json.dumps(model.to_dict(), separators=(",", ":"))})
    return {"model_id": model_id, "rows_used": len(texts), "terms": len(getattr(model, "vocabulary_", None) or {}), **metrics,
            "active": bool(save and scope is not None), "neutral_band": NEUTRAL_BAND}


def list_models(scope: Scope) -> list[dict[str, Any]]:
    rows = scope.rows("SELECT model_id, trained_at, source, text_column, rating_column, rows_used, metrics, active "
                      "FROM sentiment_models ORDER BY trained_at DESC")
    return [{"model_id": r[0], "trained_at": r[1], "source": r[2], "text_column": r[3], "rating_column": r[4],
             "rows_used": r[5], "metrics": json.loads(r[6] or "{}"), "active": r[7]} for r in rows]
