"""Retention from the cached sorted events (see ``sorted_events``): the executor used on the embedded DuckDB
once the sorted arrays exist.

The rows are in (person, time) order, so a person's period index never decreases along them: the cohort
is the period of the person's first cohort-event row, the distinct (person, period) activity pairs are
the rows where the person or the period changes, and the triangle is a count over (cohort, offset).
Periods are computed with the same arithmetic as ``retention.period_index`` (epoch seconds as a double,
floored; months from the calendar), so the figures are those of ``retention_table``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .model import RetentionQuery
from .sorted_events import SortedEvents

__all__ = ["period_of", "retention_from_sorted"]

_EPOCH_MONDAY = 4 * 86400


def period_of(ts_us: np.ndarray, period: str) -> np.ndarray:
    """``retention.period_index`` for epoch microseconds."""
    if period == "month":
        return ts_us.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
    secs = ts_us / 1_000_000
    if period == "day":
        return np.floor(secs / 86400).astype(np.int64)
    return np.floor((secs - _EPOCH_MONDAY) / (7 * 86400)).astype(np.int64)


def _rows_of(se: SortedEvents, event: str | None) -> np.ndarray | None:
    """Rows of ``event`` (None: every row)."""
    if event is None:
        return None
    return np.flatnonzero(se.code == se.code_of(event))


def retention_from_sorted(se: SortedEvents, q: RetentionQuery) -> tuple[pd.DataFrame, dict[int, int]]:
    """``(triangle, sizes)``: the triangle as ``retention_table`` returns it (``cohort, offset, people``,
    ordered) and the cohort sizes."""
    p = period_of(se.ts, q.period)
    crow = _rows_of(se, q.cohort_event)
    cpk = se.pk if crow is None else se.pk[crow]
    cp = p if crow is None else p[crow]
    cohort = np.full(se.n_people, np.iinfo(np.int64).max, np.int64)
    if len(cpk):  # the first (earliest) cohort row of each person has the smallest period
        head = np.flatnonzero(np.concatenate(([True], cpk[1:] != cpk[:-1])))
        cohort[cpk[head]] = cp[head]
    has = cohort != np.iinfo(np.int64).max
    sizes_c, sizes_n = np.unique(cohort[has], return_counts=True)
    sizes = {int(c): int(n) for c, n in zip(sizes_c, sizes_n, strict=True)}
    rrow = _rows_of(se, q.return_event)
    rpk = se.pk if rrow is None else se.pk[rrow]
    rp = p if rrow is None else p[rrow]
    if len(rpk):
        first = np.empty(len(rpk), bool)  # distinct (person, period): the rows where either changes
        first[0] = True
        first[1:] = (rpk[1:] != rpk[:-1]) | (rp[1:] != rp[:-1])
        rpk, rp = rpk[first], rp[first]
    ok = has[rpk]
    rpk, rp = rpk[ok], rp[ok]
    c = cohort[rpk]
    off = rp - c
    ok = (off >= 0) & (off <= q.periods)
    cells = pd.DataFrame({"cohort": c[ok], "offset": off[ok]})
    tri = cells.groupby(["cohort", "offset"], sort=True).size().rename("people").reset_index()
    return tri, sizes
