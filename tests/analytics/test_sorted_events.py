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


def test_cache_is_built_on_the_second_ask_in_memory_and_brought_up_to_date_after_a_write():
    store = Store(":memory:")
    try:
        sc = store.scope("default")
        journeys_for(sc, {"a": [(0, "A"), (10, "B")], "b": [(0, "A")]})
        ev = Tables.from_scope(sc).events
        q = FunnelQuery(steps=[Step(event="A"), Step(event="B")])
        forget()
        assert [s["count"] for s in run_funnel(ev, q, detail=False)["steps"]] == [2, 1]
        assert sorted_events(ev, build=False) is None  # one ask, nothing kept on disk: nothing built
        assert [s["count"] for s in run_funnel(ev, q, detail=False)["steps"]] == [2, 1]
        se = sorted_events(ev, build=False)
        assert se is not None and (se.rows, se.n_people, se.how) == (3, 2, "built")
        # a write (new rows): the entry is brought up to date, reading only the people with new rows
        sc.write("INSERT INTO main.events (workspace_id, message_id, seq, type, event, person_id, ts, received_at) "
                 "SELECT $__ws, 'n' || i, 100 + i, 'track', e, p, TIMESTAMP '2024-01-01' + to_seconds(s), now() "
                 "FROM (VALUES (1, 'B', 'b', 20), (2, 'A', 'c', 0), (3, 'B', 'c', 5)) v(i, e, p, s)")
        se = sorted_events(ev, build=False)
        assert (se.rows, se.people.to_pylist(), se.how) == (6, ["a", "b", "c"], "updated")
        assert [s["count"] for s in run_funnel(ev, q, detail=False)["steps"]] == [3, 3]
        r = run_paths(ev, PathsQuery(start="A", depth=2))
        assert {tuple(p["path"]): p["sessions"] for p in r["paths"]} == {("A", "B"): 3}
        # a delete outside the people read again does not add up: built from scratch
        sc.write("DELETE FROM main.events WHERE workspace_id = $__ws AND person_id = 'a'")
        se = sorted_events(ev, build=False)
        assert se is None
        se = sorted_events(ev, build=True)
        assert (se.rows, se.people.to_pylist(), se.how) == (4, ["b", "c"], "built")
        forget(ev)
        assert sorted_events(ev, build=False) is None
    finally:
        store.close()


def _arrays(se) -> tuple:
    names = se.names.to_pylist() + [None]
    return se.people.to_pylist(), se.pk.tolist(), se.ts.tolist(), [names[c] for c in se.code]


def _ingest(sc, log, start: int) -> None:
    """(anonymous id, user id or None, event or None: identify, tenths of a second) through the real pipeline,
    so shared identifiers merge people and log the merges."""
    from wayfare.ingest.messages import check_message, to_row
    from wayfare.ingest.pipeline import write_rows

    rows = []
    for i, (anon, user, event, tenth) in enumerate(log):
        m = {"messageId": f"m{start + i}", "anonymousId": f"anon{anon}",
             "timestamp": (T0 + dt.timedelta(seconds=tenth / 10)).isoformat() + "Z"}
        if user is not None:
            m["userId"] = f"user{user}"
        m.update({"type": "track", "event": event} if event else {"type": "identify"})
        rows.append(to_row(check_message(m, f"batch[{i}]"), T0, "test"))
    write_rows(sc, rows)


ilog = st.lists(st.tuples(st.integers(0, 7), st.one_of(st.none(), st.integers(0, 3)),
                          st.sampled_from(["A", "B", "C", "D", None]), st.integers(0, 300)), min_size=1, max_size=25)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=ilog, later=st.lists(ilog, min_size=1, max_size=3))
def test_an_entry_brought_up_to_date_equals_a_fresh_build_through_merges(tmp_path_factory, first, later):
    """Events arrive in rounds through the real ingest (identify calls merge anonymous visitors into known
    people, new event names appear); after each round the kept entry, brought up to date from the file a
    previous process left, has exactly the arrays of a build from scratch."""
    store = Store(tmp_path_factory.mktemp("upd") / "u.db")
    try:
        sc = store.scope("default")
        ev = sc.ibis("events")
        _ingest(sc, first, 0)
        forget()
        built = sorted_events(ev)  # a file store: built on the first ask, and kept on disk
        assert built is not None and built.how == "built"
        start = len(first)
        for rnd in later:
            _ingest(sc, rnd, start)
            start += len(rnd)
            forget()  # a new process: nothing in memory, the file on disk
            now = sorted_events(ev, build=False)
            stamp_rows = sc.rows("SELECT count(*) FROM events WHERE person_id IS NOT NULL")[0][0]
            if now is None:  # more than the update's share changed: the next ask builds
                now = sorted_events(ev, build=True)
                assert now.how == "built"
            else:
                assert now.how in ("loaded", "loaded+updated")
            assert now.rows == stamp_rows
            fresh_path = sorted_events(ev, build=False)
            assert fresh_path is now  # kept in memory for this stamp
            from wayfare.analytics import sorted_events as se_mod

            fresh = se_mod._build(*se_mod._source(ev)[::2])
            assert _arrays(now) == _arrays(fresh)
    finally:
        store.close()


def test_a_file_store_keeps_its_entry_on_disk_for_the_next_process_and_erase_removes_it(tmp_path):
    from wayfare.analytics.sorted_events import drop_files

    db = tmp_path / "k.db"
    store = Store(db)
    try:
        sc = store.scope("default")
        journeys_for(sc, {"ann@example.org": [(0, "A"), (10, "B")], "bob": [(0, "A")]})
        ev = sc.ibis("events")
        q = FunnelQuery(steps=[Step(event="A"), Step(event="B")])
        forget()
        assert [s["count"] for s in run_funnel(ev, q, detail=False)["steps"]] == [2, 1]
        files = list((tmp_path / "k.db.analytics").iterdir())
        assert len(files) == 1 and oct(files[0].stat().st_mode & 0o777) == "0o600"
        forget()  # another process: the entry comes from the file, mapped
        se = sorted_events(ev, build=False)
        assert se.how == "loaded" and se.people.to_pylist() == ["ann@example.org", "bob"]
        assert [s["count"] for s in run_funnel(ev, q, detail=False)["steps"]] == [2, 1]
        assert b"ann@example.org" in files[0].read_bytes()  # person ids are in it: an erase must remove it
        assert drop_files(db) == 1
        assert not (tmp_path / "k.db.analytics").exists()
        assert sorted_events(ev, build=False) is None  # gone from memory too
    finally:
        store.close()


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


def test_only_a_workspaces_whole_events_are_kept_on_disk(tmp_path):
    """A time window (the what-if planner's) is a derived expression: kept in memory on the second ask, never
    written beside the store, so windows do not leave a file each."""
    store = Store(tmp_path / "d.db")
    try:
        sc = store.scope("default")
        journeys_for(sc, {"a": [(0, "A"), (10, "B")], "b": [(0, "A")]})
        ev = sc.ibis("events")
        window = ev.filter(ev.ts >= T0)
        forget()
        assert sorted_events(window) is None  # first ask of a derived expression: nothing built
        assert sorted_events(window).rows == 3  # second ask: built, in memory
        assert not (tmp_path / "d.db.analytics").exists()
        assert sorted_events(ev).how == "built" and len(list((tmp_path / "d.db.analytics").iterdir())) == 1
    finally:
        store.close()
