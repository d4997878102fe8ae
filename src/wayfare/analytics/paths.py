"""Paths: sessions (a gap of inactivity ends one), the top paths from or to an event, and the
step-to-step transitions ready for a Sankey diagram.

Within a session events are ordered by time, then by arrival (``seq``; by name where there is no ``seq``),
so ties are deterministic on every engine. With ``collapse_repeats`` consecutive repeats of the same event
are one step (``Page Viewed`` x5 is one step); by default every event is a step. A session counts
once per path: from its first occurrence of the start event, or up to its first occurrence of the end
event; with neither, from the session's start.
"""

from __future__ import annotations

from typing import Any

import ibis

from .fields import backend_name
from .funnel_scan import SCAN_BACKENDS
from .model import PathsQuery
from .paths_scan import path_counts

__all__ = ["sessionize", "path_rows", "top_paths", "transitions", "run_paths", "count_rows"]


def sessionize(events: ibis.Table, gap_seconds: int = 1800) -> ibis.Table:
    """``person_id, session, pos, event, ts``: sessions numbered per person, repeats collapsed."""
    e = events.filter(events.person_id.notnull(), events.event.notnull())
    e = e.select("person_id", "event", "ts", sec=e.ts.epoch_seconds())
    w = ibis.window(group_by=e.person_id, order_by=[e.ts, e.event])
    e = e.mutate(prev_sec=e.sec.lag().over(w), prev_event=e.event.lag().over(w))
    new = (e.prev_sec.isnull() | ((e.sec - e.prev_sec) > gap_seconds)).cast("int64")
    e = e.mutate(new=new)
    e = e.mutate(session=e.new.sum().over(ibis.window(group_by=e.person_id, order_by=[e.ts, e.event], rows=(None, 0))))
    e = e.filter((e.new == 1) | (e.event != e.prev_event))
    sw = ibis.window(group_by=[e.person_id, e.session], order_by=[e.ts, e.event])
    return e.select("person_id", "session", "event", "ts", pos=ibis.row_number().over(sw))


def path_rows(events: ibis.Table, q: PathsQuery) -> ibis.Table:
    """One row per counted session: columns ``e1..e{depth}`` (null where the session ended).

    Without ``collapse_repeats`` it is one window pass over the person's events in time order (one sort):
    the neighbours' events and times come from ``lead``/``lag`` of the same ordering, and a neighbour is in
    the same session while no gap between it and the row lies over ``session_gap``. Collapsing repeats
    needs the sessions of all events first, so it takes a second pass (:func:`_path_rows_collapsed`)."""
    if q.collapse_repeats:
        return _path_rows_collapsed(events, q)
    e = events.filter(events.person_id.notnull(), events.event.notnull())
    tie = "seq" if "seq" in e.columns else "event"
    e = e.select("person_id", "event", "ts", tie, sec=e.ts.epoch_seconds())
    w = ibis.window(group_by=e.person_id, order_by=[e.ts, e[tie]])
    gap = q.session_gap
    anchor = q.end or q.start
    prev_sec = e.sec.lag().over(w)
    new = prev_sec.isnull() | ((e.sec - prev_sec) > gap)
    if anchor is not None:  # the session-start flag feeds a running max: a pass of its own
        e = e.mutate(new=new)
        new = e.new
        w = ibis.window(group_by=e.person_id, order_by=[e.ts, e[tie]])
    cols: dict = {"new": new}
    # neighbour i is in the session while every step between the row and it is within the gap
    step = -1 if q.end else 1
    for i in range(1, q.depth):
        if q.end:
            cols[f"v{i}"], cols[f"t{i}"] = e.event.lag(i).over(w), e.sec.lag(i).over(w)
        else:
            cols[f"v{i}"], cols[f"t{i}"] = e.event.lead(i).over(w), e.sec.lead(i).over(w)
    if anchor is not None:
        before = ibis.window(group_by=e.person_id, order_by=[e.ts, e[tie]], rows=(None, -1))
        upto = ibis.window(group_by=e.person_id, order_by=[e.ts, e[tie]], rows=(None, 0))
        cols["last_anchor"] = ibis.ifelse(e.event == anchor, e.sec, ibis.null("int64")).max().over(before)
        cols["session_start"] = ibis.ifelse(new, e.sec, ibis.null("int64")).max().over(upto)
    e = e.mutate(**cols)
    if anchor is None:
        e = e.filter(e.new)
    else:  # the session's first occurrence of the anchor only
        e = e.filter(e.event == anchor, e.last_anchor.isnull() | (e.last_anchor < e.session_start))
    out = {}
    ok = ibis.literal(True)
    prev_t = e.sec
    for i in range(1, q.depth):
        ti = e[f"t{i}"]
        within = ((ti - prev_t) * step) <= gap
        ok = ok & e[f"v{i}"].notnull() & within
        out[i] = ibis.ifelse(ok, e[f"v{i}"], ibis.null("string"))
        prev_t = ti
    if q.end:
        sel = {f"e{q.depth - i}": out[i] for i in range(1, q.depth)} | {f"e{q.depth}": e.event}
    else:
        sel = {"e1": e.event} | {f"e{i + 1}": out[i] for i in range(1, q.depth)}
    return e.select(**{f"e{i + 1}": sel[f"e{i + 1}"] for i in range(q.depth)})


def _path_rows_collapsed(events: ibis.Table, q: PathsQuery) -> ibis.Table:
    """:func:`path_rows` with ``collapse_repeats``: sessions are found on all events first, then repeats
    dropped, so the neighbours' session flags come from the first pass.

    Two window passes over the person's events in time order (one sort): the first marks session starts
    and repeats, the second reads the neighbours, checking with the session-start flags that a neighbour
    is in the same session."""
    e = events.filter(events.person_id.notnull(), events.event.notnull())
    tie = "seq" if "seq" in e.columns else "event"
    e = e.select("person_id", "event", "ts", tie, sec=e.ts.epoch_seconds())
    w = ibis.window(group_by=e.person_id, order_by=[e.ts, e[tie]])
    e = e.mutate(prev_sec=e.sec.lag().over(w), prev_event=e.event.lag().over(w))
    e = e.mutate(new=(e.prev_sec.isnull() | ((e.sec - e.prev_sec) > q.session_gap)).cast("int64"))
    if q.collapse_repeats:
        e = e.filter((e.new == 1) | (e.event != e.prev_event))
    w = ibis.window(group_by=e.person_id, order_by=[e.ts, e[tie]])
    before = ibis.window(group_by=e.person_id, order_by=[e.ts, e[tie]], rows=(None, -1))
    upto = ibis.window(group_by=e.person_id, order_by=[e.ts, e[tie]], rows=(None, 0))
    anchor = q.end or q.start
    cols: dict = {}
    if q.end:  # e{depth} is the end event, e{depth-1} the one before ...
        for i in range(1, q.depth):
            cols[f"v{i}"] = e.event.lag(i).over(w)
            cols[f"s{i}"] = e.new.lag(i - 1).over(w) if i > 1 else e.new
    else:
        for i in range(1, q.depth):
            cols[f"v{i}"] = e.event.lead(i).over(w)
            cols[f"s{i}"] = e.new.lead(i).over(w)
    if anchor is not None:
        cols["last_anchor"] = ibis.ifelse(e.event == anchor, e.sec, ibis.null("int64")).max().over(before)
        cols["session_start"] = ibis.ifelse(e.new == 1, e.sec, ibis.null("int64")).max().over(upto)
    e = e.mutate(**cols)
    if anchor is None:
        e = e.filter(e.new == 1)
    else:
        e = e.filter(e.event == anchor, e.last_anchor.isnull() | (e.last_anchor < e.session_start))
    out = {}
    ok = ibis.literal(True)
    for i in range(1, q.depth):
        ok = ok & e[f"v{i}"].notnull() & (e[f"s{i}"] == 0)
        out[i] = ibis.ifelse(ok, e[f"v{i}"], ibis.null("string"))
    if q.end:
        sel = {f"e{q.depth - i}": out[i] for i in range(1, q.depth)} | {f"e{q.depth}": e.event}
    else:
        sel = {"e1": e.event} | {f"e{i + 1}": out[i] for i in range(1, q.depth)}
    return e.select(**{f"e{i + 1}": sel[f"e{i + 1}"] for i in range(q.depth)})


def top_paths(rows: ibis.Table, q: PathsQuery) -> ibis.Table:
    cols = [f"e{i + 1}" for i in range(q.depth)]
    g = rows.group_by(cols).aggregate(sessions=rows.count())
    g = g.filter(g.sessions >= q.min_count)
    return g.order_by([ibis.desc("sessions"), *[ibis.asc(c, nulls_first=True) for c in cols]]).limit(q.limit)


def transitions(rows: ibis.Table, q: PathsQuery) -> ibis.Table:
    """``step, source, target, sessions``: edges between step i and i+1 (Sankey links)."""
    parts = []
    for i in range(1, q.depth):
        a, b = rows[f"e{i}"], rows[f"e{i + 1}"]
        r = rows.filter(a.notnull(), b.notnull()).select(step=ibis.literal(i), source=a, target=b)
        parts.append(r)
    if not parts:
        return rows.select(step=ibis.literal(0), source=rows.e1, target=rows.e1).limit(0).mutate(sessions=ibis.literal(0))
    u = ibis.union(*parts, distinct=False)
    g = u.group_by(["step", "source", "target"]).aggregate(sessions=u.count())
    return g.filter(g.sessions >= q.min_count).order_by(["step", ibis.desc("sessions"), "source", "target"])


def run_paths(events: ibis.Table, q: PathsQuery, cache: bool | None = None) -> dict[str, Any]:
    """Top paths and Sankey links. On the embedded DuckDB one sorted scan (or the cached sorted events,
    ``cache`` as in ``run_funnel``) and counts on event codes (``paths_scan``); elsewhere the Ibis rows."""
    if backend_name(events) in SCAN_BACKENDS:
        out_paths, links = path_counts(events, q, cache)
    else:
        out_paths, links = count_rows(path_rows(events, q).cache(), q)
    return {"from": q.start, "to": q.end, "session_gap_seconds": q.session_gap, "depth": q.depth,
            "paths": out_paths, "links": links}


def count_rows(rows: ibis.Table, q: PathsQuery) -> tuple[list[dict], list[dict]]:
    """``run_paths``' ``paths`` and ``links`` from the rows of :func:`path_rows` (any engine)."""
    paths = top_paths(rows, q).to_pandas()
    cols = [f"e{i + 1}" for i in range(q.depth)]
    out_paths = []
    for r in paths.itertuples(index=False):
        steps = [v for v in (getattr(r, c) for c in cols)]
        steps = [v for v in steps if isinstance(v, str)]
        out_paths.append({"path": steps, "sessions": int(r.sessions)})
    links = transitions(rows, q).to_pandas()
    try:
        rows.release()
    except Exception:  # a backend without temp tables
        pass
    return out_paths, [{"step": int(r.step), "source": f"{int(r.step)}:{r.source}", "target": f"{int(r.step) + 1}:{r.target}",
                        "sessions": int(r.sessions)} for r in links.itertuples(index=False)]
