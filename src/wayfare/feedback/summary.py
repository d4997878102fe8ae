"""The voice of the customer in one dictionary: NPS, CSAT, CES and the sentiment of the comments."""

from __future__ import annotations

from ..store import Scope
from .scores import ces, csat, nps
from .sentiment import score_texts
from .texts import feedback_frame

__all__ = ["voice_summary"]


def voice_summary(scope: Scope, since: str | None = None) -> dict:
    """NPS, CSAT, CES and sentiment of the workspace's feedback events, in one dictionary."""
    f = feedback_frame(scope, since)
    scored = score_texts(f["text"].tolist(), scope)
    return {"nps": nps(f["nps"]), "csat": csat(f["csat"]), "ces": ces(f["ces"]),
            "texts": int(f["text"].notna().sum()), "sentiment_model": scored.model,
            "mean_sentiment": None if f["text"].notna().sum() == 0 else round(float(scored.scores[f["text"].notna().to_numpy()].mean()), 3)}
