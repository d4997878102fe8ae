"""The funnel as one sorted scan: the executor used on the embedded DuckDB.

The Ibis builder in ``funnel`` runs anywhere (Spark included) but costs one window sort per step. On
the embedded store the same figures come from a single query -- the steps' events only, one match flag
per step, sorted by person and time -- followed by a vectorised pass over the sorted arrays (numpy),
the way ClickHouse's ``windowFunnel`` walks each person's events once.

The pass is the builder's algorithm, step by step: a step-k event at time ``t`` takes the start ``s`` of
the person's *latest* step-(k-1) state strictly before ``t`` (the states' starts never decrease in time,
so the latest is the largest), and keeps it while ``t <= s + within``. Loose order takes, from each step
event, the earliest later match of every step (a reverse running minimum). The test suite checks that
both executors give identical levels.

When the workspace's events are cached as sorted arrays (``sorted_events``: asked for twice, same
data), steps without property filters skip the query: :func:`levels_from_sorted` walks the cache.
"""

from __future__ import annotations

from functools import reduce

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .fields import backend_name, step_predicate
from .model import FunnelQuery
from .sorted_events import SortedEvents, sorted_events

__all__ = ["scan_events", "levels_by_scan", "levels_from_sorted", "walk_arrays", "SCAN_BACKENDS"]

SCAN_BACKENDS = ("duckdb",)  # in-process engines where fetching the step events is cheap


def scan_events(events: ibis.Table, q: FunnelQuery) -> ibis.Table:
    """``person_id, ts, m`` (bit i set: the event matches step i) for the steps' events, sorted by
    person and time. Pure: an Ibis expression."""
    be = backend_name(events)
    preds = [step_predicate(events, s, be) for s in q.steps]
    names = sorted({s.event for s in q.steps})
    e = events.filter(events.person_id.notnull(), events.event.isin(names))
    mask = reduce(lambda a, b: a + b, [ibis.ifelse(p, 1 << i, 0) for i, p in enumerate(preds)])
    e = e.select(person_id=e.person_id, ts=e.ts, m=mask.cast("int32"))
    return e.filter(e.m != 0).order_by(["person_id", "ts"])


def levels_by_scan(events: ibis.Table, q: FunnelQuery, cache: bool | None = None) -> pa.Table:
    """Execute :func:`scan_events` and walk it: the same table as ``funnel_levels`` (``person_id``,
    ``level``, ``first_ts``, ``secs_2..secs_n``), as Arrow. Steps without property filters read the
    cached sorted events instead when there are some (``cache``: see ``sorted_events``; False: never)."""
    if cache is not False and not any(s.where for s in q.steps):
        se = sorted_events(events, build=cache)
        if se is not None:
            return levels_from_sorted(se, q)
    return walk(scan_events(events, q).to_pyarrow(), q)


def walk(tbl: pa.Table, q: FunnelQuery) -> pa.Table:
    n = len(q.steps)
    if tbl.num_rows == 0:
        return _empty(n)
    pid = tbl["person_id"].combine_chunks()
    t = tbl["ts"].combine_chunks().cast(_TS).cast(pa.int64()).to_numpy()
    m = tbl["m"].to_numpy()
    size = len(t)
    newp = np.empty(size, bool)
    newp[0] = True
    newp[1:] = pc.not_equal(pid.slice(1), pid.slice(0, size - 1)).to_numpy(zero_copy_only=False)
    pk = (np.cumsum(newp, dtype=np.int32) - 1).astype(np.int32)  # person number
    heads = np.flatnonzero(newp)
    return _table(pc.take(pid, pa.array(heads)), *walk_arrays(pk, t, m, int(pk[-1]) + 1, q), n)


def levels_from_sorted(se: SortedEvents, q: FunnelQuery) -> pa.Table:
    """The same table from the cached sorted arrays (steps without property filters). Strict order walks
    the whole arrays: a step's rows are the rows of its event (kept by the cache, in order), and the
    "latest state strictly before" search uses the cache's first-row-of-(person, time) array, so other
    events in between change nothing. Loose order walks the step events only, as the scan does."""
    n = len(q.steps)
    if se.rows == 0:
        return _empty(n)
    codes = [se.code_of(s.event) for s in q.steps]
    if q.order == "loose":
        lut = np.zeros(len(se.names) + 1, np.int32)
        for i, c in enumerate(codes):
            if c >= 0:
                lut[c] |= 1 << i
        m = lut[se.code]
        rows = np.flatnonzero(m)
        if len(rows) == 0:
            return _empty(n)
        return _table(se.people, *walk_arrays(se.pk[rows], se.ts[rows], m[rows], se.n_people, q), n)
    on = [se.rows_of(c) for c in codes]
    if len(on[0]) == 0:
        return _empty(n)
    return _table(se.people, *_walk(se.pk, se.ts, se.groups, on, se.n_people, q), n)


def walk_arrays(pk: np.ndarray, t: np.ndarray, m: np.ndarray, n_people: int, q: FunnelQuery):
    """The walk over rows sorted by person number ``pk`` then time ``t`` (epoch µs), ``m`` the step bits:
    per person number who did step 1 (``keep``), ``level``, the first step-1 time and ``secs[k]``."""
    n = len(q.steps)
    on = [np.flatnonzero((m >> k) & 1) for k in range(n)]  # rows matching each step
    return _walk(pk, t, group_heads(pk, t), on, n_people, q, m)


def group_heads(pk: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per row, the first row of its (person, time): rows sorted by person then time."""
    size = len(t)
    idx = np.arange(size, dtype=np.int32)
    newt = np.empty(size, bool)
    newt[0] = True
    newt[1:] = (pk[1:] != pk[:-1]) | (t[1:] != t[:-1])
    return np.maximum.accumulate(np.where(newt, idx, 0))


def _walk(pk: np.ndarray, t: np.ndarray, g: np.ndarray, on: list[np.ndarray], n_people: int, q: FunnelQuery,
          m: np.ndarray | None = None):
    """``on[k]``: the rows matching step k, ascending; ``g``: :func:`group_heads`; ``m`` (loose order
    only): the step bits of every row."""
    n = len(q.steps)
    win = np.int64(q.within) * 1_000_000
    level = np.zeros(n_people, np.int8)
    secs = {}
    level[pk[on[0]]] = 1
    if q.order == "loose":
        on_mask = [(m >> k) & 1 == 1 for k in range(n)]
        spans = _loose(t, pk, g, on_mask, n)
        for k in range(1, n):
            ok = (spans[k] >= 0) & (spans[k] <= t + win)
            d = _whole_seconds(spans[k][ok] - t[ok])
            secs[k + 1] = _min_per(pk[ok], d, n_people)
            level[pk[ok]] = k + 1
    else:
        vrows, vstart = on[0], t[on[0]]  # level-1 states: every start, at its own time
        for k in range(1, n):
            rows = on[k]
            # the latest state strictly earlier in time: states sorted by row; first row of my time group
            p = np.searchsorted(vrows, g[rows]) - 1
            pp = np.maximum(p, 0)
            ok = (p >= 0) & (pk[vrows[pp]] == pk[rows]) if len(vrows) else np.zeros(len(rows), bool)
            s = vstart[pp] if len(vrows) else np.zeros(len(rows), np.int64)
            ok &= t[rows] <= s + win
            rows, s = rows[ok], s[ok]
            d = _whole_seconds(t[rows] - s)
            secs[k + 1] = _min_per(pk[rows], d, n_people)
            level[pk[rows]] = k + 1
            vrows, vstart = rows, s
    first_row = np.full(n_people, -1, np.int64)
    rows1 = on[0]
    first_row[pk[rows1][::-1]] = rows1[::-1]  # the earliest step-1 row per person
    keep = np.flatnonzero(level >= 1)
    return keep, level[keep], t[first_row[keep]], {k: v[keep] for k, v in secs.items()}


_TS = pa.timestamp("us")


def _table(people: pa.Array, keep, level, first_ts, secs, n: int) -> pa.Table:
    out = {"person_id": pc.take(people, pa.array(keep)),
           "level": pa.array(level.astype(np.int64)),
           "first_ts": pa.array(first_ts).cast(_TS)}
    for k in range(2, n + 1):
        v = secs[k]
        out[f"secs_{k}"] = pa.array(v, mask=v == _NONE)
    return pa.table(out)


def _empty(n: int) -> pa.Table:
    cols = ["person_id", "level", "first_ts", *[f"secs_{k}" for k in range(2, n + 1)]]
    return pa.table({c: pa.array([], pa.string() if c == "person_id" else _TS if c == "first_ts"
                                 else pa.int64()) for c in cols})


_NONE = np.iinfo(np.int64).max


def _whole_seconds(micros: np.ndarray) -> np.ndarray:
    """Whole seconds between two times (the exact difference, truncated), as the builder's DuckDB SQL
    computes them from fractional epochs."""
    return micros // 1_000_000


def _min_per(keys: np.ndarray, vals: np.ndarray, n: int) -> np.ndarray:
    """Per person: the smallest value (keys are sorted person numbers), _NONE where none."""
    out = np.full(n, _NONE, np.int64)
    if len(keys):
        heads = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        out[keys[heads]] = np.minimum.reduceat(vals, heads)
    return out


def _loose(t: np.ndarray, pk: np.ndarray, g: np.ndarray, on: list[np.ndarray], n: int) -> list[np.ndarray]:
    """Per row: for k = 1..n-1, the latest of (the earliest match at or after this row's time of each
    step 0..k, in the same person), or -1 when one of those steps has no such match."""
    size = len(t)
    idx = np.arange(size)
    spans: list[np.ndarray] = [np.full(size, -1, np.int64)]
    acc = np.full(size, -1, np.int64)
    missing = np.zeros(size, bool)
    for k in range(n):
        nxt = np.minimum.accumulate(np.where(on[k], idx, size)[::-1])[::-1]  # first match at or after
        j = nxt[g]
        jj = np.minimum(j, size - 1)
        missing |= (j == size) | (pk[jj] != pk)
        acc = np.maximum(acc, t[jj])
        if k:
            spans.append(np.where(missing, -1, acc))
    return spans
