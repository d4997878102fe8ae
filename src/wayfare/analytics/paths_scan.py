"""Paths as one sorted scan: the executor used on the embedded DuckDB (see ``funnel_scan`` for the idea).

One query returns the events sorted by person, time and arrival (``seq``), with the event name as a
small code; sessions, the counted session starts (or ends) and the ``depth`` neighbours are array
operations, and the top paths and transitions are counted with a group-by. ``path_rows`` in ``paths`` is
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

__all__ = ["scan_path_events", "path_table", "path_frame"]


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
    cols = [f"e{i + 1}" for i in range(q.depth)]
    se = sorted_events(events, build=cache) if cache is not False else None
    if se is not None:
        pk, code, ts = se.pk, se.code, se.ts
        named = code != len(se.names)
        if not named.all():  # paths skip events without a name
            pk, code, ts = pk[named], code[named], ts[named]
        if len(pk) == 0:
            return pa.table({c: pa.array([], pa.string()) for c in cols})
        newp = np.empty(len(pk), bool)
        newp[0] = True
        newp[1:] = pk[1:] != pk[:-1]
        return _paths(newp, code, ts / 1_000_000, se.names, q)
    tbl = scan_path_events(events).to_pyarrow()
    if tbl.num_rows == 0:
        return pa.table({c: pa.array([], pa.string()) for c in cols})
    pid = tbl["person_id"].combine_chunks()
    enc = tbl["event"].combine_chunks().dictionary_encode()
    code = enc.indices.to_numpy(zero_copy_only=False)
    sec = tbl["sec"].combine_chunks().to_numpy(zero_copy_only=False)
    size = len(code)
    newp = np.empty(size, bool)
    newp[0] = True
    newp[1:] = pc.not_equal(pid.slice(1), pid.slice(0, size - 1)).to_numpy(zero_copy_only=False)
    return _paths(newp, code, sec, enc.dictionary.cast(pa.string()), q)


def _paths(newp: np.ndarray, code: np.ndarray, sec: np.ndarray, dictionary: pa.Array, q: PathsQuery) -> pa.Table:
    """Rows sorted by person, time and arrival: ``newp`` marks a person's first row, ``code`` indexes
    ``dictionary`` (the event names), ``sec`` is the time in epoch seconds."""
    cols = [f"e{i + 1}" for i in range(q.depth)]
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
    return pa.table({c: dictionary.take(pa.array(picked[i], pa.int32(), mask=picked[i] == none))
                     for c, i in zip(cols, order, strict=True)})
