"""Retention: cohorts by the period of a person's first (cohort) event, the share of them active in each
later period; repeat-purchase rate and time between purchases.

Periods are calendar days, ISO weeks (Monday) or months, in UTC; period ``n`` of a cohort is ``n`` whole
periods after the cohort's.
"""

from __future__ import annotations

from typing import Any

import ibis

from .model import RetentionQuery
from .retention_scan import retention_from_sorted
from .sorted_events import sorted_events

__all__ = ["period_index", "retention_table", "run_retention", "purchases", "repeat_purchase", "purchase_gaps",
           "run_repeat"]

_EPOCH_MONDAY = 4 * 86400  # 1970-01-05, the first Monday after the epoch


def period_index(ts, period: str):
    """An integer that grows by one per period: portable (no engine-specific date_diff)."""
    if period == "month":
        return ts.year() * 12 + ts.month() - 1
    secs = ts.epoch_seconds()
    if period == "day":
        return (secs / 86400).floor().cast("int64")
    return ((secs - _EPOCH_MONDAY) / (7 * 86400)).floor().cast("int64")


def _period_start(idx, period: str) -> str:
    import datetime as dt

    if period == "month":
        return dt.date(idx // 12, idx % 12 + 1, 1).isoformat()
    if period == "day":
        return (dt.date(1970, 1, 1) + dt.timedelta(days=idx)).isoformat()
    return (dt.date(1970, 1, 5) + dt.timedelta(days=idx * 7)).isoformat()


def retention_table(events: ibis.Table, q: RetentionQuery) -> ibis.Table:
    """``cohort, offset, people`` for offsets 0..periods (offset 0 of the return event included)."""
    e = events.filter(events.person_id.notnull())
    e = e.mutate(p=period_index(e.ts, q.period))
    c = e.filter(e.event == q.cohort_event) if q.cohort_event else e
    cohorts = c.group_by("person_id").aggregate(cohort=c.p.min())
    r = e.filter(e.event == q.return_event) if q.return_event else e
    act = r.select("person_id", "p").distinct()
    j = act.join(cohorts, "person_id")
    j = j.mutate(offset=j.p - j.cohort)
    j = j.filter((j.offset >= 0) & (j.offset <= q.periods))
    return j.group_by(["cohort", "offset"]).aggregate(people=j.count()).order_by(["cohort", "offset"])


def run_retention(events: ibis.Table, q: RetentionQuery, cache: bool | None = None) -> dict[str, Any]:
    """The triangle as cohorts with sizes, counts and rates. On the embedded DuckDB the cached sorted
    events are read when there are some (``cache``: see ``sorted_events``; False: never)."""
    se = sorted_events(events, build=cache) if cache is not False else None
    if se is not None:
        tri, sizes = retention_from_sorted(se, q)
        return _result(tri, sizes, q)
    tri = retention_table(events, q).to_pandas()
    if q.return_event == q.cohort_event:  # everyone is active in their own cohort period: offset 0 is the size
        sizes = {int(c): int(n) for c, o, n in tri.itertuples(index=False, name=None) if int(o) == 0}
    else:
        e = events.filter(events.person_id.notnull())
        c = e.filter(e.event == q.cohort_event) if q.cohort_event else e
        c = c.mutate(p=period_index(c.ts, q.period))
        sizes_e = c.group_by("person_id").aggregate(cohort=c.p.min())
        sizes = dict(sizes_e.group_by("cohort").aggregate(n=sizes_e.count()).to_pandas()
                     .itertuples(index=False, name=None))
    return _result(tri, sizes, q)


def _result(tri, sizes: dict, q: RetentionQuery) -> dict[str, Any]:
    cells: dict[int, dict[int, int]] = {}
    for cohort, off, n in tri.itertuples(index=False, name=None):
        cells.setdefault(int(cohort), {})[int(off)] = int(n)
    last = max([max(sizes)] + [int(c) + int(o) for c, o, _ in tri.itertuples(index=False, name=None)]) if sizes else 0
    rows = []
    for cohort in sorted(sizes):
        size = int(sizes[cohort])
        avail = min(q.periods, last - cohort)
        counts = [cells.get(cohort, {}).get(o, 0) for o in range(avail + 1)]
        rows.append({"cohort": _period_start(cohort, q.period), "size": size, "counts": counts,
                     "rates": [round(x / size, 4) for x in counts]})
    return {"period": q.period, "periods": q.periods, "cohort_event": q.cohort_event, "return_event": q.return_event,
            "cohorts": rows}


def purchases(events: ibis.Table, order_event: str = "Order Completed") -> ibis.Table:
    e = events.filter(events.person_id.notnull(), events.event == order_event)
    return e.select("person_id", "ts", revenue=e.revenue.fill_null(0.0))


def repeat_purchase(events: ibis.Table, order_event: str = "Order Completed") -> ibis.Table:
    """One row: buyers, repeat buyers (2+ orders), orders."""
    p = purchases(events, order_event)
    per = p.group_by("person_id").aggregate(n=p.count())
    return per.aggregate(buyers=per.count(), repeat_buyers=(per.n >= 2).cast("int64").sum(), orders=per.n.sum())


def purchase_gaps(events: ibis.Table, order_event: str = "Order Completed") -> ibis.Table:
    """``days`` between each order and the same person's previous one."""
    p = purchases(events, order_event)
    w = ibis.window(group_by=p.person_id, order_by=p.ts)
    p = p.mutate(prev=p.ts.epoch_seconds().lag().over(w))
    p = p.filter(p.prev.notnull())
    return p.select(days=(p.ts.epoch_seconds() - p.prev).cast("float64") / 86400)


def run_repeat(events: ibis.Table, order_event: str = "Order Completed") -> dict[str, Any]:
    r = repeat_purchase(events, order_event).to_pandas().iloc[0]
    g = purchase_gaps(events, order_event)
    s = g.aggregate(n=g.count(), mean=g.days.mean(), median=g.days.quantile(0.5), p90=g.days.quantile(0.9)).to_pandas().iloc[0]
    buyers = int(r["buyers"] or 0)

    def f(v):
        return None if v is None or v != v else round(float(v), 3)

    return {"order_event": order_event, "buyers": buyers, "repeat_buyers": int(r["repeat_buyers"] or 0),
            "orders": int(r["orders"] or 0),
            "repeat_rate": round(int(r["repeat_buyers"] or 0) / buyers, 6) if buyers else None,
            "days_between_orders": {"gaps": int(s["n"]), "mean": f(s["mean"]), "median": f(s["median"]), "p90": f(s["p90"])}}
