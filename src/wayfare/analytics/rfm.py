"""RFM: recency, frequency and monetary quintile scores (1-5, 5 best) and the usual named segments.

Scores come from the cumulative share of buyers -- ``ceil(5 * share with a value as good or worse)`` --
so the best buyer scores 5, equal values always get equal scores and every engine agrees. Segments from R and F (the widely used grid):

    Champions           R 5,   F 4-5     Can't Lose Them   R 1-2, F 5
    Loyal               R 3-4, F 4-5     At Risk           R 1-2, F 3-4
    Potential Loyalist  R 4-5, F 2-3     About to Sleep    R 3,   F 1-2
    New                 R 5,   F 1       Hibernating       R 1-2, F 1-2 (but not Lost)
    Promising           R 4,   F 1       Lost              R 1,   F 1
    Need Attention      R 3,   F 3
"""

from __future__ import annotations

from typing import Any

import ibis

from .retention import purchases

__all__ = ["SEGMENTS", "rfm_table", "segment_of", "run_rfm"]

SEGMENTS = ["Champions", "Loyal", "Potential Loyalist", "New", "Promising", "Need Attention", "About to Sleep",
            "At Risk", "Can't Lose Them", "Hibernating", "Lost"]


def segment_of(r, f):
    """The named segment as an Ibis expression over R and F scores (also usable on Python ints)."""
    return ibis.cases(
        ((r == 5) & (f >= 4), "Champions"),
        ((r >= 3) & (r <= 4) & (f >= 4), "Loyal"),
        ((r >= 4) & (f >= 2) & (f <= 3), "Potential Loyalist"),
        ((r == 5) & (f == 1), "New"),
        ((r == 4) & (f == 1), "Promising"),
        ((r == 3) & (f == 3), "Need Attention"),
        ((r == 3) & (f <= 2), "About to Sleep"),
        ((r <= 2) & (f == 5), "Can't Lose Them"),
        ((r <= 2) & (f >= 3), "At Risk"),
        ((r == 1) & (f == 1), "Lost"),
        else_="Hibernating",
    )


def _score(col, higher_is_better: bool = True):
    """ceil(5 x the share of buyers whose value is as good or worse): the best buyer always scores 5."""
    order = col if higher_is_better else ibis.desc(col)
    share = ibis.cume_dist().over(ibis.window(order_by=order))
    return (share * 5 - 1e-9).ceil().clip(lower=1, upper=5).cast("int64")


def rfm_table(events: ibis.Table, as_of=None, order_event: str = "Order Completed") -> ibis.Table:
    """Per buyer: recency_days, frequency, monetary, r, f, m, segment. ``as_of`` defaults to the last order."""
    p = purchases(events, order_event)
    per = p.group_by("person_id").aggregate(last=p.ts.max(), frequency=p.count(), monetary=p.revenue.sum())
    ref = ibis.literal(as_of, type="timestamp") if as_of is not None else p.ts.max().as_scalar()
    per = per.mutate(recency_days=((ref.epoch_seconds() - per.last.epoch_seconds()) / 86400).floor().cast("int64"))
    per = per.mutate(r=_score(per.recency_days, higher_is_better=False), f=_score(per.frequency),
                     m=_score(per.monetary))
    per = per.mutate(segment=segment_of(per.r, per.f))
    return per.select("person_id", "recency_days", "frequency", "monetary", "r", "f", "m", "segment")


def run_rfm(events: ibis.Table, as_of=None, order_event: str = "Order Completed") -> dict[str, Any]:
    t = rfm_table(events, as_of, order_event)
    g = t.group_by("segment").aggregate(people=t.count(), revenue=t.monetary.sum(), avg_recency_days=t.recency_days.mean(),
                                        avg_frequency=t.frequency.mean()).to_pandas()
    by = {r.segment: r for r in g.itertuples(index=False)}
    grid = t.group_by(["r", "f"]).aggregate(people=t.count()).order_by(["r", "f"]).to_pandas()
    total = float(g.revenue.sum()) if len(g) else 0.0
    segs = []
    for name in SEGMENTS:
        r = by.get(name)
        segs.append({"segment": name, "people": int(r.people) if r else 0,
                     "revenue": round(float(r.revenue), 2) if r else 0.0,
                     "revenue_share": round(float(r.revenue) / total, 4) if r and total else 0.0,
                     "avg_recency_days": round(float(r.avg_recency_days), 1) if r else None,
                     "avg_frequency": round(float(r.avg_frequency), 2) if r else None})
    return {"buyers": int(g.people.sum()) if len(g) else 0, "segments": segs,
            "grid": [{"r": int(a), "f": int(b), "people": int(c)} for a, b, c in grid.itertuples(index=False, name=None)]}
