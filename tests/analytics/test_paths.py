"""Paths: sessions, top paths from/to an event, Sankey links; checked against the naive sessioniser."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wayfare.analytics import PathsQuery, Tables, run_paths
from wayfare.store import Store

from .conftest import T0, journeys_for, write_events
from .reference import paths_from, paths_to

MIN = 60


def _as_counts(result) -> dict[tuple, int]:
    return {tuple(p["path"]): p["sessions"] for p in result["paths"]}


def test_paths_split_sessions_on_inactivity_and_collapse_repeats(mem_scope):
    journeys_for(mem_scope, {
        "a": [(0, "Home"), (MIN, "Home"), (2 * MIN, "Menu"), (3 * MIN, "Book"),       # one session
              (3 * MIN + 31 * MIN, "Menu"), (3 * MIN + 32 * MIN, "Order")],           # 31 min later: a new one
        "b": [(0, "Home"), (10 * MIN, "Menu"), (20 * MIN, "Order")],
    })
    t = Tables.from_scope(mem_scope)
    r = run_paths(t.events, PathsQuery(depth=3))
    assert _as_counts(r) == {("Home", "Home", "Menu"): 1, ("Home", "Menu", "Order"): 1, ("Menu", "Order"): 1}
    r = run_paths(t.events, PathsQuery(depth=3, collapse_repeats=True))
    assert _as_counts(r) == {("Home", "Menu", "Book"): 1, ("Home", "Menu", "Order"): 1, ("Menu", "Order"): 1}
    r = run_paths(t.events, PathsQuery(start="Menu", depth=2))
    assert _as_counts(r) == {("Menu", "Order"): 2, ("Menu", "Book"): 1}
    r = run_paths(t.events, PathsQuery(end="Order", depth=3))
    assert _as_counts(r) == {("Home", "Menu", "Order"): 1, ("Menu", "Order"): 1}
    q = PathsQuery(start="Home", depth=3, collapse_repeats=True)
    links = {(x["source"], x["target"]): x["sessions"] for x in run_paths(t.events, q)["links"]}
    assert links == {("1:Home", "2:Menu"): 2, ("2:Menu", "3:Book"): 1, ("2:Menu", "3:Order"): 1}


def test_paths_min_count_and_limit(mem_scope):
    journeys_for(mem_scope, {f"p{i}": [(0, "A"), (MIN, "B" if i < 3 else "C")] for i in range(4)})
    t = Tables.from_scope(mem_scope)
    assert _as_counts(run_paths(t.events, PathsQuery(start="A", depth=2, min_count=2))) == {("A", "B"): 3}
    assert _as_counts(run_paths(t.events, PathsQuery(start="A", depth=2, limit=1))) == {("A", "B"): 3}


def test_paths_identical_on_duckdb_and_spark_and_match_reference(tmp_path, engine):
    rng = random.Random(5)
    log = [(f"p{p}", T0 + dt.timedelta(minutes=rng.randint(0, 240)), rng.choice("ABCD"))
           for p in range(60) for _ in range(rng.randint(1, 8))]
    store = Store(tmp_path / "p.db")
    try:
        sc = store.scope("default")
        write_events(sc, [{"person": p, "at": ts, "event": e} for p, ts, e in log])
        t = engine(sc)
        r = run_paths(t.events, PathsQuery(start="A", depth=3, limit=1000))
        assert _as_counts(r) == paths_from(log, "A", 3)
        r = run_paths(t.events, PathsQuery(end="B", depth=3, limit=1000, collapse_repeats=True))
        assert _as_counts(r) == paths_to(log, "B", 3, collapse=True)
    finally:
        store.close()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(log=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 120), st.sampled_from("ABC")), min_size=1, max_size=40),
       anchor=st.sampled_from([None, ("start", "A"), ("end", "B")]), depth=st.integers(1, 4),
       collapse=st.booleans(), gap=st.integers(1, 40))
def test_paths_scan_executor_equals_the_ibis_rows_on_generated_logs(tmp_path_factory, log, anchor, depth, collapse, gap):
    """The DuckDB executor (one sorted scan) and the portable Ibis rows: the same counted sessions."""
    from collections import Counter

    from wayfare.analytics.paths import path_rows
    from wayfare.analytics.paths_scan import path_frame

    store = Store(tmp_path_factory.mktemp("ps") / "p.db")
    try:
        sc = store.scope("default")
        write_events(sc, [{"person": f"p{p}", "at": s * 10, "event": e} for p, s, e in log])
        kw = {anchor[0]: anchor[1]} if anchor else {}
        q = PathsQuery(depth=depth, collapse_repeats=collapse, session_gap=gap * 10, **kw)

        def rows(df):
            return Counter(tuple(None if v is None or v != v else v for v in r) for r in df.itertuples(index=False))

        assert rows(path_frame(sc.ibis("events"), q)) == rows(path_rows(sc.ibis("events"), q).to_pandas())
    finally:
        store.close()


def test_paths_collapsed_repeats_keep_the_session_they_bridge(mem_scope):
    """A@0, A@20m, A@40m, B@50m is one session (no 30-minute gap), also once the repeated A's are one step."""
    from wayfare.analytics.paths import path_rows
    from wayfare.analytics.paths_scan import path_frame

    journeys_for(mem_scope, {"p": [(0, "A"), (20 * MIN, "A"), (40 * MIN, "A"), (50 * MIN, "B")]})
    q = PathsQuery(end="B", depth=2, collapse_repeats=True)
    ev = mem_scope.ibis("events")
    assert path_rows(ev, q).to_pandas().values.tolist() == [["A", "B"]]
    assert path_frame(ev, q).values.tolist() == [["A", "B"]]
