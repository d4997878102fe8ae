"""Funnels: ordered steps within a window from the first, counted once per person at the furthest step.

Semantics (ClickHouse ``windowFunnel`` in ``strict_increase`` mode, stated as existence): a person reaches
step k when they have events matching steps 1..k at strictly increasing times, the k-th no later than
``within`` after the 1st. Any step-1 event may start an attempt; the same event may match several steps.

How it is computed, exactly and without a per-person loop: for a fixed start, taking the earliest
matching event at each next step is optimal (a later one can only make the rest harder), so an attempt
is a chain ``t1 = s, t(k+1) = next_k+1(t_k)``. ``next`` is a window function over the person's distinct
event times; chains advance by an equi-join on (person, time), and at every level only the latest start
per (person, current time) is kept -- the rest of its chain is the same and its deadline is later.
Every step is Ibis, so the same expression runs on DuckDB, Spark or any Ibis SQL backend.

Exclusions follow the same earliest-event attempts: an attempt that has an exclusion event strictly
between its step ``after`` and step ``before`` stops at step ``after``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from functools import reduce
from typing import Any

import ibis
import pyarrow as pa

from .fields import backend_name, field, json_text, step_predicate
from .funnel_scan import SCAN_BACKENDS, levels_by_scan
from .model import FunnelQuery

__all__ = ["funnel_levels", "funnel_breakdown_keys", "funnel_summary", "funnel_histogram", "funnel_weekly",
           "funnel_attribution", "run_funnel", "HIST_EDGES"]

HIST_EDGES = [0, 60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 3 * 86400, 7 * 86400,
              14 * 86400, 30 * 86400]


def _secs(ts):
    return ts.epoch_seconds()


def funnel_levels(events: ibis.Table, q: FunnelQuery) -> ibis.Table:
    """Per person who did step 1: ``level`` reached (1..n), ``first_ts`` (their first step-1 time) and
    ``secs_k`` (k = 2..n): the shortest time from step 1 to step k over the attempts that reached k.

    Level by level, each step-k event keeps only the latest start that can reach it: the largest start
    ``s`` over the step-(k-1) states strictly before it (a running max over the person's events in time
    order, events before states at equal times so "before" is strict), valid while within the window.
    A later start is never worse (same event reached, later deadline), so this is exact; one running
    window per step over shrinking inputs, no per-person loop and no self-join.

    The input is made narrow first (:func:`funnel_events`: the steps' events only, one flag per step).
    ``run_funnel`` on the embedded DuckDB computes the same table by one sorted scan (``funnel_scan``)."""
    if q.exclusions:
        return funnel_levels_chains(events, q)
    return levels_from_narrow(funnel_events(events, q), q)


def funnel_events(events: ibis.Table, q: FunnelQuery) -> ibis.Table:
    """The step events only: ``pk`` (the partition key: the person), ``person_id``, ``ts`` and ``m{i}``
    (does the event match step i). One narrow scan that every step's window reads."""
    be = backend_name(events)
    preds = [step_predicate(events, s, be) for s in q.steps]
    names = sorted({s.event for s in q.steps})
    e = events.filter(events.person_id.notnull(), events.event.isin(names))
    e = e.select(pk=e.person_id, person_id=e.person_id, ts=e.ts, **{f"m{i}": p for i, p in enumerate(preds)})
    return e.filter(reduce(lambda a, b: a | b, [e[f"m{i}"] for i in range(len(preds))]))


def levels_from_narrow(e: ibis.Table, q: FunnelQuery) -> ibis.Table:
    """:func:`funnel_levels` over the output of :func:`funnel_events` (strict or loose order)."""
    if q.order == "loose":
        return _levels_loose(e, q)
    n = len(q.steps)
    window = ibis.interval(seconds=int(q.within))
    starts = e.filter(e.m0)
    first = starts.group_by("pk").aggregate(person_id=starts.person_id.min(), first_ts=starts.ts.min())
    reached = [first.select(pk=first.pk, lvl=ibis.literal(1), secs=ibis.null("int64"))]
    states = starts.select(pk=starts.pk, t=starts.ts, s=starts.ts)
    ts_type = e.ts.type().copy(nullable=True)
    for k in range(1, n):
        ev = e.filter(e[f"m{k}"])
        u = ibis.union(ev.select(pk=ev.pk, t=ev.ts, s=ibis.null(ts_type), kind=ibis.literal(0)),
                       states.select(pk=states.pk, t=states.t, s=states.s.cast(ts_type), kind=ibis.literal(1)),
                       distinct=False)
        run = ibis.window(group_by=u.pk, order_by=[u.t, u.kind], rows=(None, 0))
        u = u.mutate(best=u.s.max().over(run))
        u = u.filter(u.kind == 0, u.best.notnull(), u.t <= u.best + window)
        states = u.select(pk=u.pk, t=u.t, s=u.best)
        lvl = states.group_by("pk").aggregate(secs=(_secs(states.t) - _secs(states.s)).min())
        reached.append(lvl.select(pk=lvl.pk, lvl=ibis.literal(k + 1), secs=lvl.secs.cast("int64")))
    return _per_person(reached, first, n)


def _per_person(reached: list[ibis.Table], first: ibis.Table, n: int) -> ibis.Table:
    u = ibis.union(*reached, distinct=False)
    agg = {"level": u.lvl.max()}
    agg |= {f"secs_{k}": u.secs.min(where=u.lvl == k) for k in range(2, n + 1)}
    per = u.group_by("pk").aggregate(**agg)
    return per.join(first, "pk").select(first.person_id, per.level, first.first_ts,
                                        *[per[f"secs_{k}"] for k in range(2, n + 1)])


def _levels_loose(e: ibis.Table, q: FunnelQuery) -> ibis.Table:
    """Loose order: a person reaches step k when each of steps 1..k has a matching event, in any order, all
    within ``within`` of the earliest of them (one event may match several steps). ``secs_k`` is the
    shortest span of such a set. Every candidate set starts at one of the person's step events ``s``; for
    each, the earliest match of each step at or after ``s`` is a window minimum over later events."""
    n = len(q.steps)
    starts = e.filter(e.m0)
    first = starts.group_by("pk").aggregate(person_id=starts.person_id.min(), first_ts=starts.ts.min())
    fwd = ibis.window(group_by=e.pk, order_by=e.ts, range=(0, None))
    ts_type = e.ts.type().copy(nullable=True)
    e = e.mutate(**{f"x{j}": ibis.ifelse(e[f"m{j}"], e.ts, ibis.null(ts_type)).min().over(fwd)
                    for j in range(n)})
    window = ibis.interval(seconds=int(q.within))
    reached = [first.select(pk=first.pk, lvl=ibis.literal(1), secs=ibis.null("int64"))]
    for k in range(1, n):
        xs = [e[f"x{j}"] for j in range(k + 1)]
        have = reduce(lambda a, b: a & b, [x.notnull() for x in xs])
        e = e.mutate(**{f"span{k}": ibis.ifelse(have, ibis.greatest(*xs), ibis.null(ts_type))})
        ok = e.filter(e[f"span{k}"].notnull(), e[f"span{k}"] <= e.ts + window)
        lvl = ok.group_by("pk").aggregate(secs=(_secs(ok[f"span{k}"]) - _secs(ok.ts)).min())
        reached.append(lvl.select(pk=lvl.pk, lvl=ibis.literal(k + 1), secs=lvl.secs.cast("int64")))
    return _per_person(reached, first, n)


def funnel_levels_chains(events: ibis.Table, q: FunnelQuery) -> ibis.Table:
    """The same figures by explicit earliest-event attempts (used with exclusions, which need the
    attempt's own step times). Per person who did step 1: ``level`` reached (1..n), ``first_ts`` (their first step-1 time) and
    ``secs_k`` (k = 2..n): the shortest time from step 1 to step k over the attempts that reached k."""
    be = backend_name(events)
    n = len(q.steps)
    preds = [step_predicate(events, s, be) for s in q.steps]
    xpreds = [step_predicate(events, x.step, be) for x in q.exclusions]
    flags = {f"m{i}": ibis.ifelse(p, 1, 0) for i, p in enumerate(preds)}
    flags |= {f"x{j}": ibis.ifelse(p, 1, 0) for j, p in enumerate(xpreds)}
    e = events.filter(events.person_id.notnull(), reduce(lambda a, b: a | b, preds + xpreds))
    e = e.select(person_id=e.person_id, ts=e.ts, **flags)
    d = e.group_by(["person_id", "ts"]).aggregate(**{k: e[k].max() for k in flags})
    # next_k: the earliest time strictly after this one with a step-k (exclusion-j) event
    desc = ibis.window(group_by=d.person_id, order_by=ibis.desc(d.ts), rows=(None, 0))
    cum = {f"c{k}": ibis.ifelse(d[k] == 1, d.ts, ibis.null("timestamp")).min().over(desc)
           for k in [f"m{i}" for i in range(1, n)] + [f"x{j}" for j in range(len(xpreds))]}
    d = d.mutate(**cum)
    lagw = ibis.window(group_by=d.person_id, order_by=ibis.desc(d.ts))
    d = d.mutate(**{"n" + k[2:] if k.startswith("cm") else "nx" + k[2:]: d[k].lag().over(lagw) for k in cum})
    d = d.select("person_id", "ts", *[f"m{i}" for i in range(n)], *[c for c in d.columns if c.startswith("n")])
    window = ibis.interval(seconds=int(q.within))
    # level 1: every start (distinct time) of step 1
    starts = d.filter(d.m0 == 1)
    first = starts.group_by("person_id").aggregate(first_ts=starts.ts.min())
    reached = [first.select(person_id=first.person_id, lvl=ibis.literal(1), secs=ibis.null("int64"))]
    # chain state: person, s (start), t (current step time), carried exclusion limits
    state = starts.select(person_id=starts.person_id, s=starts.ts, t=starts.ts,
                          **_carry(starts, q, 0, {}))
    for k in range(1, n):
        cur = state
        if k == 1:
            nxt = starts.select(person_id=starts.person_id, s=starts.ts, t=starts.ts, tn=starts["n1"],
                                **_carry(starts, q, 0, {}))
        else:  # the current time is a step-k event: look it up among those rows only
            dk = d.filter(d[f"m{k - 1}"] == 1).select("person_id", "ts", f"n{k}")
            j = cur.join(dk, [cur.person_id == dk.person_id, cur.t == dk.ts])
            nxt = j.select(person_id=cur.person_id, s=cur.s, t=cur.t, tn=dk[f"n{k}"],
                           **{c: cur[c] for c in cur.columns if c.startswith("lim")})
        ok = nxt.tn.notnull() & (nxt.tn <= nxt.s + window)
        for j_, x in enumerate(q.exclusions):
            if x.before - 1 == k:
                lim = nxt[f"lim{j_}"]
                ok = ok & (lim.isnull() | (lim >= nxt.tn))
        nxt = nxt.filter(ok)
        carry_cols = [c for c in nxt.columns if c.startswith("lim")]
        if k + 1 < n or carry_cols:
            # next state: exclusion limits that start at this step, those still open carried on
            adv = nxt
            if any(x.after - 1 == k for x in q.exclusions):
                adv = nxt.join(d, [nxt.person_id == d.person_id, nxt.tn == d.ts])
            keep = {}
            for j_, x in enumerate(q.exclusions):
                if x.after - 1 == k:
                    keep[f"lim{j_}"] = adv[f"nx{j_}"]
                elif x.after - 1 < k < x.before - 1:
                    keep[f"lim{j_}"] = adv[f"lim{j_}"]
            adv = adv.select(person_id=nxt.person_id if adv is nxt else adv.person_id, s=adv.s, t=adv.tn, **keep)
            state = adv.group_by(["person_id", "t", *keep]).aggregate(s=adv.s.max())
            lvl = state.group_by("person_id").aggregate(secs=(_secs(state.t) - _secs(state.s)).min())
        else:
            lvl = nxt.group_by("person_id").aggregate(secs=(_secs(nxt.tn) - _secs(nxt.s)).min())
        reached.append(lvl.select(person_id=lvl.person_id, lvl=ibis.literal(k + 1), secs=lvl.secs.cast("int64")))
    u = ibis.union(*reached, distinct=False)
    agg = {"level": u.lvl.max()}
    agg |= {f"secs_{k}": u.secs.min(where=u.lvl == k) for k in range(2, n + 1)}
    per = u.group_by("person_id").aggregate(**agg)
    return per.join(first, "person_id").select(per.person_id, per.level, first.first_ts,
                                               *[per[f"secs_{k}"] for k in range(2, n + 1)])


def _carry(t, q: FunnelQuery, k: int, _: dict) -> dict:
    """Exclusion limits opened at step index k (0-based) of a fresh attempt."""
    return {f"lim{j}": t[f"nx{j}"] for j, x in enumerate(q.exclusions) if x.after - 1 == k}


def funnel_breakdown_keys(events: ibis.Table, q: FunnelQuery, profiles: ibis.Table | None = None) -> ibis.Table | None:
    """``person_id, key`` for the breakdown: ``persona`` / ``traits.x`` (profile), ``first_touch``
    (channel of the person's first event), else the field on the person's first step-1 event."""
    by = q.by
    if not by:
        return None
    be = backend_name(events)
    ev = events.filter(events.person_id.notnull())
    if by in ("persona", "first_touch_persona") or by.startswith("traits."):
        if profiles is None:
            raise ValueError("a persona/trait breakdown needs the profiles table")
        if by.startswith("traits."):
            key = json_text(profiles.traits, by.split(".", 1)[1], be)
        else:
            key = json_text(profiles.traits, "persona", be).fill_null(json_text(profiles.traits, "demo_persona", be))
        return profiles.select(person_id=profiles.person_id, key=key.fill_null("unknown"))
    if by in ("first_touch", "first_touch_channel", "first_touch_source"):
        col = ev.channel if by != "first_touch_source" else json_text(ev.context, "campaign.source", be)
        ev = ev.mutate(_k=col.fill_null("unknown"))
        return _at_edge(ev, "_k", "key", first=True)
    s1 = ev.filter(step_predicate(ev, q.steps[0], be))
    s1 = s1.mutate(_k=field(s1, by, be).cast("string").fill_null("unknown"))
    return _at_edge(s1, "_k", "key", first=True)


def _at_edge(t: ibis.Table, col: str, name: str, *, first: bool) -> ibis.Table:
    """``person_id, name``: ``col`` of each person's earliest (``first``) or latest event. Events at the same
    instant are told apart by arrival (``seq``: the first or the last to arrive), else by the value, so
    the pick is the same on every run and engine (a bare argmin by time picks any of them)."""
    edge = t.group_by("person_id").aggregate(_edge=t.ts.min() if first else t.ts.max())
    j = t.join(edge, [t.person_id == edge.person_id, t.ts == edge._edge])
    if "seq" in t.columns:
        pick = j[col].argmin(j.seq) if first else j[col].argmax(j.seq)
    else:
        pick = j[col].min() if first else j[col].max()
    return j.group_by("person_id").aggregate(**{name: pick})


def _with_key(levels: ibis.Table, keys: ibis.Table | None) -> ibis.Table:
    if keys is None:
        return levels.mutate(key=ibis.literal("All"))
    j = levels.left_join(keys, levels.person_id == keys.person_id)
    return j.select(*[j[c] for c in levels.columns], key=j.key.fill_null("unknown"))


def funnel_summary(levels: ibis.Table, n: int, keys: ibis.Table | None = None) -> ibis.Table:
    """Per breakdown key: ``n_k`` people reaching step k, median and p90 seconds from step 1 to k."""
    lv = _with_key(levels, keys)
    agg: dict[str, Any] = {f"n_{k}": (lv.level >= k).cast("int64").sum() for k in range(1, n + 1)}
    for k in range(2, n + 1):
        agg[f"med_{k}"] = lv[f"secs_{k}"].cast("float64").quantile(0.5)
        agg[f"p90_{k}"] = lv[f"secs_{k}"].cast("float64").quantile(0.9)
    return lv.group_by("key").aggregate(**agg).order_by(ibis.desc("n_1"), "key")


def funnel_histogram(levels: ibis.Table, n: int) -> ibis.Table:
    """Time to convert (step 1 to the last step) in the buckets of HIST_EDGES."""
    s = levels[f"secs_{n}"]
    cases = [(s < e, i - 1) for i, e in enumerate(HIST_EDGES) if i > 0]
    b = ibis.cases(*cases, else_=len(HIST_EDGES) - 1)
    h = levels.filter(s.notnull()).mutate(bucket=b)
    return h.group_by("bucket").aggregate(people=h.count()).order_by("bucket")


def funnel_weekly(levels: ibis.Table, n: int) -> ibis.Table:
    """By the week (Monday) of the person's first step-1 event: entered and converted."""
    w = levels.mutate(week=levels.first_ts.truncate("W").date())
    return w.group_by("week").aggregate(entered=w.count(), converted=(w.level >= n).cast("int64").sum()).order_by("week")


def funnel_attribution(events: ibis.Table, levels: ibis.Table, n: int) -> ibis.Table:
    """Converted people by first-touch channel (their first event) and last-touch channel (their last
    event with a channel before their first step-1 event... kept simple: before first converting)."""
    ev = events.filter(events.person_id.notnull())
    ev = ev.mutate(ch=ev.channel.fill_null("unknown"))
    conv = levels.filter(levels.level >= n).select("person_id", "first_ts")
    first = _at_edge(ev, "ch", "first_touch", first=True)
    j = ev.join(conv, [ev.person_id == conv.person_id, ev.ts <= conv.first_ts])
    last = _at_edge(j.select(*ev.columns), "ch", "last_touch", first=False)
    a = conv.join(first, "person_id").left_join(last, "person_id")
    a = a.select(first_touch=a.first_touch, last_touch=a.last_touch.fill_null("unknown"))
    return a.group_by(["first_touch", "last_touch"]).aggregate(people=a.count()).order_by(ibis.desc("people"),
                                                                                            "first_touch", "last_touch")


def _hours(v) -> float | None:
    if v is None or v != v:
        return None
    return round(float(v) / 3600, 3)


@contextlib.contextmanager
def _arrow_view(events: ibis.Table, tbl: pa.Table) -> Iterator[ibis.Table]:
    """``tbl`` as a table of ``events``' DuckDB backend, for as long as the ``with`` lasts. Not
    ``ibis.memtable``: Ibis 12 keeps every memtable it registers until the process exits (an ``atexit``
    finalizer that holds the connection, and the connection holds the data), so a server computing a funnel
    per page view kept each one's levels -- ~0.1 MB a view on the soak's store, 0.4 MB/min
    (benchmarks/TRUST.md, "a third leak closed")."""
    be = ibis.get_backend(events)
    name = f"__wf_levels_{uuid.uuid4().hex}"
    be.con.register(name, tbl)
    try:
        yield be.table(name)
    finally:
        with contextlib.suppress(Exception):
            be.con.unregister(name)


def run_funnel(events: ibis.Table, q: FunnelQuery, profiles: ibis.Table | None = None, *,
               detail: bool = True, cache: bool | None = None) -> dict[str, Any]:
    """Execute a funnel: steps (count, conversion from previous and first, median/p90 hours to reach),
    per breakdown group, and with ``detail`` the time-to-convert histogram, weekly conversion and
    first/last-touch attribution. ``cache``: whether the DuckDB executor may read (None), must build
    (True) or must not use (False) the cached sorted events (``sorted_events``)."""
    if not q.exclusions and backend_name(events) in SCAN_BACKENDS:
        # same figures, one sorted scan (funnel_scan), or a walk of the cached sorted events
        with _arrow_view(events, levels_by_scan(events, q, cache)) as levels:
            return _run_funnel(events, q, profiles, levels, detail)
    levels = funnel_levels(events, q)
    if detail:
        levels = levels.cache()
    return _run_funnel(events, q, profiles, levels, detail)


def _run_funnel(events: ibis.Table, q: FunnelQuery, profiles: ibis.Table | None, levels: ibis.Table,
                detail: bool) -> dict[str, Any]:
    n = len(q.steps)
    keys = funnel_breakdown_keys(events, q, profiles)
    total = funnel_summary(levels, n).to_pandas()
    out: dict[str, Any] = {"within_seconds": q.within, "by": q.by, "steps": _steps(q, total.iloc[0] if len(total) else None, n)}
    if keys is not None:
        groups = funnel_summary(levels, n, keys).to_pandas()
        out["breakdown"] = [{"key": str(r["key"]), "steps": _steps(q, r, n)} for _, r in groups.iterrows()]
    if detail:
        hist = dict(funnel_histogram(levels, n).to_pandas().itertuples(index=False, name=None)) if n > 1 else {}
        out["histogram"] = [{"from_seconds": HIST_EDGES[i], "to_seconds": HIST_EDGES[i + 1] if i + 1 < len(HIST_EDGES) else None,
                             "people": int(hist.get(i, 0))} for i in range(len(HIST_EDGES))]
        weekly = funnel_weekly(levels, n).to_pandas()
        out["weekly"] = [{"week": str(r.week)[:10], "entered": int(r.entered), "converted": int(r.converted),
                          "conversion": round(int(r.converted) / int(r.entered), 4) if r.entered else None}
                         for r in weekly.itertuples()]
        attr = funnel_attribution(events, levels, n).to_pandas()
        out["attribution"] = [{"first_touch": r.first_touch, "last_touch": r.last_touch, "people": int(r.people)}
                              for r in attr.itertuples()]
        try:
            levels.release()
        except Exception:
            pass
    return out


def _steps(q: FunnelQuery, row, n: int) -> list[dict[str, Any]]:
    steps = []
    first = int(row["n_1"]) if row is not None else 0
    prev = first
    for k in range(1, n + 1):
        c = int(row[f"n_{k}"]) if row is not None else 0
        steps.append({
            "step": q.steps[k - 1].name, "count": c,
            "conversion_from_previous": round(c / prev, 6) if prev else None,
            "conversion_from_first": round(c / first, 6) if first else None,
            "median_hours": _hours(row[f"med_{k}"]) if row is not None and k > 1 else None,
            "p90_hours": _hours(row[f"p90_{k}"]) if row is not None and k > 1 else None,
        })
        prev = c
    return steps
