"""Paths as one sorted scan: the executor used on the embedded DuckDB (see ``funnel_scan`` for the idea).

One query returns the events sorted by person, time and arrival (``seq``), with the event name as a
small code; sessions, the counted session starts (or ends) and the ``depth`` neighbours are array
operations, and the top paths and transitions are counted on the codes (``path_counts``; one integer key
per path, ``np.unique``). With the cached sorted events (``sorted_events``) there is no query at all.
``path_rows`` in ``paths`` is
the portable Ibis version of the same rows; the test suite checks that both give identical results.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .model import PathsQuery
from .sorted_events import sorted_events

__all__ = ["scan_path_events", "path_table", "path_frame", "path_codes", "path_counts"]


def scan_path_events(events: ibis.Table) -> ibis.Table:
    """``person_id, event, ts, seq, sec`` sorted by person, time and arrival. Pure: an Ibis expression."""
    e = events.filter(events.person_id.notnull(), events.event.notnull())
    tie = "seq" if "seq" in e.columns else "event"
    return e.select("person_id", "event", "ts", tie, sec=e.ts.epoch_seconds().cast("float64")).order_by(["person_id", "ts", tie])


def path_frame(events: ibis.Table, q: PathsQuery) -> pd.DataFrame:
    """:func:`path_table` as a DataFrame."""
    return path_table(events, q).to_pandas()


def path_table(events: ibis.Table, q: PathsQuery, cache: bool | None = None) -> pa.Table:
    """The counted sessions as ``e1..e{depth}`` (null where the session ended): the same rows as
    ``paths.path_rows``, as Arrow. Reads the cached sorted events when there are some (``cache``: see
    ``sorted_events``; False: never)."""
    cols, names = path_codes(events, q, cache)
    none = len(names)
    return pa.table({f"e{i + 1}": names.take(pa.array(c, pa.int32(), mask=c == none)) for i, c in enumerate(cols)})


def path_counts(events: ibis.Table, q: PathsQuery, cache: bool | None = None) -> tuple[list[dict], list[dict]]:
    """``run_paths``' ``paths`` and ``links``, counted on the codes (no string columns, no group-by
    query): the same figures and order as ``paths.top_paths`` and ``paths.transitions`` over
    :func:`path_table` -- sessions descending, then the names ascending (a missing step first);
    links by step, sessions descending, source, target."""
    cols, names = path_codes(events, q, cache)
    text = names.to_pylist() + [None]
    none = len(text) - 1
    base = len(text)
    out_paths: list[dict] = []
    if cols and len(cols[0]):
        if base ** len(cols) < 2 ** 62:
            key = np.zeros(len(cols[0]), np.int64)
            for c in cols:
                key = key * base + c
            uniq, n = np.unique(key, return_counts=True)
            tuples = []
            for k, c in zip(uniq.tolist(), n.tolist(), strict=True):
                codes = []
                for _ in cols:
                    k, r = divmod(k, base)
                    codes.append(r)
                tuples.append((tuple(text[x] for x in reversed(codes)), c))
        else:  # too many names for one integer key: count the rows as tuples
            tuples = list(pd.DataFrame({i: c for i, c in enumerate(cols)}).value_counts(sort=False).items())
            tuples = [(tuple(text[x] for x in t), c) for t, c in tuples]
        tuples = [(t, c) for t, c in tuples if c >= q.min_count]
        tuples.sort(key=lambda tc: (-tc[1], *[(0, "") if v is None else (1, v) for v in tc[0]]))
        out_paths = [{"path": [v for v in t if v is not None], "sessions": int(c)} for t, c in tuples[: q.limit]]
    links: list[dict] = []
    for i in range(1, len(cols)):
        a, b = cols[i - 1], cols[i]
        ok = (a != none) & (b != none)
        if not ok.any():
            continue
        pair, n = np.unique(a[ok].astype(np.int64) * base + b[ok], return_counts=True)
        rows = [(text[int(k) // base], text[int(k) % base], int(c)) for k, c in zip(pair, n, strict=True) if c >= q.min_count]
        rows.sort(key=lambda r: (-r[2], r[0], r[1]))
        links += [{"step": i, "source": f"{i}:{src}", "target": f"{i + 1}:{dst}", "sessions": c} for src, dst, c in rows]
    return out_paths, links


def path_codes(events: ibis.Table, q: PathsQuery, cache: bool | None = None) -> tuple[list[np.ndarray], pa.Array]:
    """The counted sessions as columns of event codes (``len(names)``: no step there), and the names."""
    se = sorted_events(events, build=cache) if cache is not False else None
    if se is not None:
        pk, code, ts = se.pk, se.code, se.ts
        named = code != len(se.names)
        if not named.all():  # paths skip events without a name
            pk, code, ts = pk[named], code[named], ts[named]
        if len(pk) == 0:
            return [np.zeros(0, np.int32) for _ in range(q.depth)], se.names
        newp = np.empty(len(pk), bool)
        newp[0] = True
        newp[1:] = pk[1:] != pk[:-1]
        return _paths(newp, code, ts / 1_000_000, se.names, q), se.names
    tbl = scan_path_events(events).to_pyarrow()
    if tbl.num_rows == 0:
        return [np.zeros(0, np.int32) for _ in range(q.depth)], pa.array([], pa.string())
    pid = tbl["person_id"].combine_chunks()
    enc = tbl["event"].combine_chunks().dictionary_encode()
    code = enc.indices.to_numpy(zero_copy_only=False)
    sec = tbl["sec"].combine_chunks().to_numpy(zero_copy_only=False)
    size = len(code)
    newp = np.empty(size, bool)
    newp[0] = True
    newp[1:] = pc.not_equal(pid.slice(1), pid.slice(0, size - 1)).to_numpy(zero_copy_only=False)
    names = enc.dictionary.cast(pa.string())
    return _paths(newp, code, sec, names, q), names


def _paths(newp: np.ndarray, code: np.ndarray, sec: np.ndarray, dictionary: pa.Array, q: PathsQuery) -> list[np.ndarray]:
    """Rows sorted by person, time and arrival: ``newp`` marks a person's first row, ``code`` indexes
    ``dictionary`` (the event names), ``sec`` is the time in epoch seconds. Returns ``e1..e{depth}`` as
    codes (``len(dictionary)`` where the session ended)."""
    names = np.array(dictionary.to_pylist() + [None], dtype=object)
    size = len(code)
    new = newp.copy()
    new[1:] |= (sec[1:] - sec[:-1]) > q.session_gap
    if q.collapse_repeats:  # a repeat of the previous event in the same session is not a step
        keep = new.copy()
        keep[1:] |= code[1:] != code[:-1]
        code, new = code[keep], new[keep]
        size = len(code)
    session = np.cumsum(new, dtype=np.int32)  # globally unique session numbers
    anchor = q.end or q.start
    if anchor is None:
        rows = np.flatnonzero(new)
    else:
        hit = np.flatnonzero(names[:-1] == anchor)
        if len(hit) == 0:
            rows = np.array([], dtype=np.int64)
        else:
            at = np.flatnonzero(code == hit[0])
            first = np.empty(len(at), bool)  # the session's first occurrence of the anchor
            if len(at):
                first[0] = True
                first[1:] = session[at[1:]] != session[at[:-1]]
            rows = at[first]
    none = len(names) - 1
    out = {}
    alive = np.ones(len(rows), bool)
    step = -1 if q.end else 1
    for i in range(1, q.depth):
        j = rows + step * i
        inside = (j >= 0) & (j < size)
        jj = np.clip(j, 0, size - 1)
        alive &= inside & (session[jj] == session[rows])
        out[i] = np.where(alive, code[jj], none)
    picked = {0: code[rows]} | out
    order = range(q.depth - 1, -1, -1) if q.end else range(q.depth)
    return [np.asarray(picked[i], np.int32) for i in order]
