"""The voice of the customer in one dictionary: NPS, CSAT, CES and the sentiment of the comments."""

from __future__ import annotations

from ..store import Scope
from .scores import ces, csat, nps, trend
from .sentiment import score_texts
from .texts import feedback_frame

__all__ = ["voice_summary", "metric_report"]


def voice_summary(scope: Scope, since: str | None = None) -> dict:
    """NPS, CSAT, CES and sentiment of the workspace's feedback events, in one dictionary."""
    f = feedback_frame(scope, since)
    scored = score_texts(f["text"].tolist(), scope)
    return {"nps": nps(f["nps"]), "csat": csat(f["csat"]), "ces": ces(f["ces"]),
            "texts": int(f["text"].notna().sum()), "sentiment_model": scored.model,
            "mean_sentiment": None if f["text"].notna().sum() == 0 else round(float(scored.scores[f["text"].notna().to_numpy()].mean()), 3)}


def metric_report(scope: Scope, metric: str, since: str | None = None) -> dict:
    """One survey metric (``nps``, ``csat`` or ``ces``) with its interval and monthly trend, as ``wayfare feedback
    nps|csat|ces --json`` prints it (NPS adds the score per survey event)."""
    fns = {"nps": nps, "csat": csat, "ces": ces}
    if metric not in fns:
        from ..errors import ValidationError

        raise ValidationError("choose nps, csat or ces", where=f"metric {metric!r}")
    f = feedback_frame(scope, since)
    s = f[f[metric].notna()]
    out = {"metric": metric, **fns[metric](s[metric]), "trend": trend(s["ts"], s[metric], metric)}
    if metric == "nps":
        out["by_event"] = {str(k): nps(g["nps"])["nps"] for k, g in s.groupby("event")}
    return out
