"""NPS, CSAT and CES with 95% confidence intervals and trends: pure functions over arrays of answers.

* NPS: promoters answer 9-10, passives 7-8, detractors 0-6; NPS = 100·(P − D)/n; its standard error is
  100·sqrt((p + d − (p − d)²)/n) (the variance of a variable worth +1, 0 or −1).
* CSAT: the share of satisfied answers (4-5 on a 1-5 scale, the "top two boxes"), Wilson interval; and the mean.
* CES: mean effort score (1-7, higher = easier) with a t interval; the share finding it easy (5-7).
* Trends: per month, and the last 90 days against the 90 before with the difference's interval.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["nps", "csat", "ces", "trend", "Z95"]

Z95 = 1.959964


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def nps(scores: np.ndarray | pd.Series) -> dict[str, Any]:
    s = pd.to_numeric(pd.Series(scores), errors="coerce").dropna()
    s = s[(s >= 0) & (s <= 10)]
    n = len(s)
    if n == 0:
        return {"n": 0, "nps": None, "ci95": None, "promoters": 0, "passives": 0, "detractors": 0}
    pro, det = int((s >= 9).sum()), int((s <= 6).sum())
    p, d = pro / n, det / n
    value = 100 * (p - d)
    se = 100 * math.sqrt(max(p + d - (p - d) ** 2, 0) / n)
    return {"n": n, "nps": _r(value), "ci95": [_r(max(value - Z95 * se, -100)), _r(min(value + Z95 * se, 100))],
            "se": _r(se, 2), "promoters": pro, "passives": n - pro - det, "detractors": det,
            "promoters_pct": _r(100 * p), "passives_pct": _r(100 * (n - pro - det) / n), "detractors_pct": _r(100 * d)}


def _wilson(k: int, n: int) -> list[float | None]:
    if n == 0:
        return [None, None]
    p = k / n
    den = 1 + Z95**2 / n
    c = (p + Z95**2 / (2 * n)) / den
    h = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / den
    return [_r(100 * (c - h)), _r(100 * (c + h))]


def _mean_ci(s: pd.Series) -> tuple[float | None, list[float | None]]:
    n = len(s)
    if n == 0:
        return None, [None, None]
    m = float(s.mean())
    if n < 2:
        return _r(m, 2), [None, None]
    h = float(stats.t.ppf(0.975, n - 1) * s.std(ddof=1) / math.sqrt(n))
    return _r(m, 2), [_r(m - h, 2), _r(m + h, 2)]


def csat(scores: np.ndarray | pd.Series, scale: int = 5) -> dict[str, Any]:
    s = pd.to_numeric(pd.Series(scores), errors="coerce").dropna()
    s = s[(s >= 1) & (s <= scale)]
    n = len(s)
    sat = int((s >= scale - 1).sum()) if n else 0
    mean, mean_ci = _mean_ci(s)
    return {"n": n, "csat_pct": _r(100 * sat / n) if n else None, "ci95": _wilson(sat, n), "satisfied": sat,
            "mean": mean, "mean_ci95": mean_ci, "scale": scale,
            "distribution": {int(k): int(v) for k, v in s.round().astype(int).value_counts().sort_index().items()}}


def ces(scores: np.ndarray | pd.Series, scale: int = 7) -> dict[str, Any]:
    s = pd.to_numeric(pd.Series(scores), errors="coerce").dropna()
    s = s[(s >= 1) & (s <= scale)]
    n = len(s)
    easy = int((s >= scale - 2).sum()) if n else 0
    mean, mean_ci = _mean_ci(s)
    return {"n": n, "ces": mean, "ci95": mean_ci, "easy_pct": _r(100 * easy / n) if n else None,
            "easy_ci95": _wilson(easy, n), "scale": scale}


def trend(ts: pd.Series, scores: pd.Series, metric: str, end: pd.Timestamp | None = None,
          window_days: int = 90) -> dict[str, Any]:
    """Monthly values and the last ``window_days`` against the ``window_days`` before."""
    fn = {"nps": nps, "csat": csat, "ces": ces}[metric]
    key = {"nps": "nps", "csat": "csat_pct", "ces": "ces"}[metric]
    df = pd.DataFrame({"ts": pd.to_datetime(ts), "v": pd.to_numeric(scores, errors="coerce")}).dropna()
    if df.empty:
        return {"by_month": [], "change": None}
    months = []
    for m, g in df.groupby(df["ts"].dt.to_period("M")):
        r = fn(g["v"])
        months.append({"month": str(m), "n": r["n"], "value": r[key], "ci95": r["ci95"]})
    end = end if end is not None else df["ts"].max()
    w = pd.Timedelta(days=window_days)
    last = fn(df.loc[df["ts"] > end - w, "v"])
    prev = fn(df.loc[(df["ts"] > end - 2 * w) & (df["ts"] <= end - w), "v"])
    change = None
    if last["n"] and prev["n"] and last[key] is not None and prev[key] is not None:
        diff = last[key] - prev[key]
        se = _se(last, metric), _se(prev, metric)
        h = Z95 * math.hypot(*se)
        change = {"window_days": window_days, "last": last[key], "previous": prev[key], "diff": _r(diff, 2),
                  "ci95": [_r(diff - h, 2), _r(diff + h, 2)], "n_last": last["n"], "n_previous": prev["n"],
                  "direction": "up" if diff - h > 0 else "down" if diff + h < 0 else "flat"}
    return {"by_month": months, "change": change}


def _se(r: dict[str, Any], metric: str) -> float:
    lo, hi = r["ci95"] if r["ci95"] else (None, None)
    if lo is None or hi is None:
        return float("inf")
    return (hi - lo) / (2 * Z95)
