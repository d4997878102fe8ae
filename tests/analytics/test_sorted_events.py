"""The cached sorted events: funnels, paths and retention read from them give exactly the figures of the
uncached executors and of the Ibis builders, and the cache follows every write."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wayfare.analytics import (
    FunnelQuery,
    PathsQuery,
    RetentionQuery,
    Step,
    Tables,
    funnel_levels,
    run_funnel,
    run_paths,
    run_retention,
)
from wayfare.analytics.funnel_scan import levels_by_scan
from wayfare.analytics.paths import path_rows
from wayfare.analytics.paths_scan import path_table
from wayfare.analytics.sorted_events import forget, sorted_events
from wayfare.store import Store

from .conftest import T0, journeys_for, write_events
from .reference import funnel_levels as ref_levels

# (person, tenths of a second, event; None: an identify call without an event name)
logs = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 400), st.sampled_from(["A", "B", "C", None])),
                min_size=1, max_size=50)
HYP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _store(tmp_path_factory, log):
    store = Store(tmp_path_factory.mktemp("se") / "s.db")
    sc = store.scope("default")
    write_events(sc, [{"person": f"p{p}", "at": s / 10, "event": e} for p, s, e in log])
    return store, sc


def _plain(df: pd.DataFrame) -> list:
    df = df.sort_values("person_id").reset_index(drop=True)
    return df.astype(object).where(df.notna(), None).values.tolist()


@HYP
@given(log=logs, steps=st.lists(st.sampled_from("ABC"), min_size=1, max_size=4), within=st.integers(1, 25),
       order=st.sampled_from(["strict", "loose"]))
def test_funnel_from_cache_equals_the_scan_and_the_builder_on_generated_logs(tmp_path_factory, log, steps, within, order):
    store, sc = _store(tmp_path_factory, log)
    try:
        ev = sc.ibis("events")
        q = FunnelQuery(steps=[Step(event=s) for s in steps], within=within, order=order)
        cached = levels_by_scan(ev, q, cache=True).to_pandas()
        assert sorted_events(ev, build=False) is not None  # the figures above came from the cache
        assert _plain(cached) == _plain(levels_by_scan(ev, q, cache=False).to_pandas())
        built = funnel_levels(ev, q).to_pandas()
        assert dict(zip(built.person_id, built.level, strict=True)) == dict(zip(cached.person_id, cached.level,
                                                                                 strict=True))
        if order == "strict":
            rows = [(f"p{p}", T0 + dt.timedelta(seconds=s / 10), e) for p, s, e in log if e is not None]
            assert dict(zip(cached.person_id, cached.level, strict=True)) == ref_levels(rows, steps, within)
    finally:
        store.close()


@HYP
@given(log=logs, anchor=st.sampled_from([None, ("start", "A"), ("end", "B"), ("start", "Z")]),
       depth=st.integers(1, 4), collapse=st.booleans(), gap=st.integers(1, 20))
def test_paths_from_cache_equal_the_scan_and_the_ibis_rows_on_generated_logs(tmp_path_factory, log, anchor, depth,
                                                                              collapse, gap):
    store, sc = _store(tmp_path_factory, log)
    try:
        ev = sc.ibis("events")
        kw = {anchor[0]: anchor[1]} if anchor else {}
        q = PathsQuery(depth=depth, collapse_repeats=collapse, session_gap=gap, **kw)

        def rows(tbl):
            df = tbl if isinstance(tbl, pd.DataFrame) else tbl.to_pandas()
            return Counter(tuple(None if v is None or v != v else v for v in r) for r in df.itertuples(index=False))

        cached = rows(path_table(ev, q, cache=True))
        assert sorted_events(ev, build=False) is not None
        assert cached == rows(path_table(ev, q, cache=False)) == rows(path_rows(ev, q).to_pandas())
    finally:
        store.close()


@HYP
@given(days=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 80 * 86400), st.sampled_from(["A", "B", None])),
                     min_size=1, max_size=40),
       period=st.sampled_from(["day", "week", "month"]), periods=st.integers(1, 6),
       cohort=st.sampled_from([None, "A", "Z"]), ret=st.sampled_from([None, "A", "B"]))
def test_retention_from_cache_equals_the_query_on_generated_logs(tmp_path_factory, days, period, periods, cohort, ret):
    store = Store(tmp_path_factory.mktemp("sr") / "r.db")
    try:
        sc = store.scope("default")
        write_events(sc, [{"person": f"p{p}", "at": s + 0.25, "event": e} for p, s, e in days])
        ev = sc.ibis("events")
        q = RetentionQuery(period=period, periods=periods, cohort_event=cohort, return_event=ret)
        assert run_retention(ev, q, cache=True) == run_retention(ev, q, cache=False)
    finally:
        store.close()


def test_cache_is_built_on_the_second_ask_and_rebuilt_after_a_write(mem_scope):
    journeys_for(mem_scope, {"a": [(0, "A"), (10, "B")], "b": [(0, "A")]})
    ev = Tables.from_scope(mem_scope).events
    q = FunnelQuery(steps=[Step(event="A"), Step(event="B")])
    forget()
    assert [s["count"] for s in run_funnel(ev, q, detail=False)["steps"]] == [2, 1]
    assert sorted_events(ev, build=False) is None  # one ask: nothing built (a one-shot command pays no build)
    assert [s["count"] for s in run_funnel(ev, q, detail=False)["steps"]] == [2, 1]
    se = sorted_events(ev, build=False)
    assert se is not None and (se.rows, se.n_people) == (3, 2)
    # a write (new rows) makes the entry stale: the next ask reads the store again, then caches the new state
    mem_scope.write("INSERT INTO main.events (workspace_id, message_id, seq, type, event, person_id, ts, received_at) "
                    "SELECT $__ws, 'n' || i, 100 + i, 'track', e, p, TIMESTAMP '2024-01-01' + to_seconds(s), now() "
                    "FROM (VALUES (1, 'B', 'b', 20), (2, 'A', 'c', 0), (3, 'B', 'c', 5)) v(i, e, p, s)")
    assert sorted_events(ev, build=False) is None
    assert [s["count"] for s in run_funnel(ev, q, detail=False)["steps"]] == [3, 3]
    assert [s["count"] for s in run_funnel(ev, q, detail=False)["steps"]] == [3, 3]
    assert sorted_events(ev, build=False).rows == 6
    r = run_paths(ev, PathsQuery(start="A", depth=2))
    assert {tuple(p["path"]): p["sessions"] for p in r["paths"]} == {("A", "B"): 3}
    forget(ev)
    assert sorted_events(ev, build=False) is None


def test_each_workspace_has_its_own_entry(tmp_path):
    store = Store(tmp_path / "w.db")
    try:
        store.create_workspace("other")
        a, b = store.scope("default"), store.scope("other")
        journeys_for(a, {"x": [(0, "A"), (10, "B")]})
        journeys_for(b, {"y": [(0, "A")], "z": [(0, "A")]})
        q = FunnelQuery(steps=[Step(event="A"), Step(event="B")])
        for sc, want in ((a, [1, 1]), (b, [2, 0])):
            ev = sc.ibis("events")
            assert sorted_events(ev, build=True).people.to_pylist() == sorted({"default": ["x"], "other": ["y", "z"]}
                                                                            [sc.name])
            assert [s["count"] for s in run_funnel(ev, q, detail=False)["steps"]] == want
    finally:
        store.close()


@HYP
@given(log=logs, anchor=st.sampled_from([None, ("start", "A"), ("end", "C")]), depth=st.integers(1, 4),
       collapse=st.booleans(), min_count=st.integers(1, 3), limit=st.integers(1, 6))
def test_path_counts_on_codes_equal_the_group_by_on_generated_logs(tmp_path_factory, log, anchor, depth, collapse,
                                                                   min_count, limit):
    """Counting paths and links on event codes (with and without the cache) gives the figures and the order
    of the Ibis group-by over the same rows (ties broken by the names, a missing step first)."""
    import ibis

    from wayfare.analytics.paths import count_rows
    from wayfare.analytics.paths_scan import path_counts

    store, sc = _store(tmp_path_factory, log)
    try:
        ev = sc.ibis("events")
        kw = {anchor[0]: anchor[1]} if anchor else {}
        q = PathsQuery(depth=depth, collapse_repeats=collapse, session_gap=5, min_count=min_count, limit=limit, **kw)
        want = count_rows(ibis.memtable(path_table(ev, q, cache=False)), q)
        assert path_counts(ev, q, cache=False) == want
        assert path_counts(ev, q, cache=True) == want
        assert count_rows(path_rows(ev, q).cache(), q) == want
    finally:
        store.close()


def test_build_in_small_batches_gives_the_same_arrays(mem_scope, monkeypatch):
    """People and nameless events that straddle the fetch batches are numbered as in one batch."""
    from wayfare.analytics import sorted_events as se_mod

    write_events(mem_scope, [{"person": f"p{i % 4}", "at": i, "event": [None, "A", "B"][i % 3]} for i in range(23)])
    ev = mem_scope.ibis("events")
    forget()
    whole = sorted_events(ev, build=True)
    forget()
    monkeypatch.setattr(se_mod, "_BATCH", 3)
    small = sorted_events(ev, build=True)
    assert small.people.to_pylist() == whole.people.to_pylist() == ["p0", "p1", "p2", "p3"]
    assert (small.pk == whole.pk).all() and (small.ts == whole.ts).all()
    assert [small.names.to_pylist()[c] if c < len(small.names) else None for c in small.code] == \
        [whole.names.to_pylist()[c] if c < len(whole.names) else None for c in whole.code]
    assert sum(c == len(small.names) for c in small.code) == 8
