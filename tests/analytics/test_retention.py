"""Retention triangles, repeat-purchase rate and time between purchases."""

from __future__ import annotations

import datetime as dt
import random

from wayfare.analytics import RetentionQuery, Tables, retention_table, run_repeat, run_retention
from wayfare.store import Store

from .conftest import T0, journeys_for, write_events
from .reference import retention as ref_retention

DAY = 86400


def test_weekly_retention_triangle(mem_scope):
    # 2024-01-01 is a Monday
    journeys_for(mem_scope, {
        "a": [(0, "Visit"), (7 * DAY, "Visit"), (14 * DAY, "Order Completed")],
        "b": [(DAY, "Visit"), (15 * DAY, "Visit")],
        "c": [(8 * DAY, "Visit")],
    })
    t = Tables.from_scope(mem_scope)
    r = run_retention(t.events, RetentionQuery(period="week", periods=2))
    assert r["cohorts"] == [
        {"cohort": "2024-01-01", "size": 2, "counts": [2, 1, 2], "rates": [1.0, 0.5, 1.0]},
        {"cohort": "2024-01-08", "size": 1, "counts": [1, 0], "rates": [1.0, 0.0]},
    ]
    r = run_retention(t.events, RetentionQuery(period="week", periods=2, return_event="Order Completed"))
    assert r["cohorts"][0]["counts"] == [0, 0, 1]
    m = run_retention(t.events, RetentionQuery(period="month", periods=1))
    assert m["cohorts"] == [{"cohort": "2024-01-01", "size": 3, "counts": [3], "rates": [1.0]}]


def test_repeat_purchase_rate_and_gaps(mem_scope):
    write_events(mem_scope, [
        {"person": "a", "at": 0, "event": "Order Completed", "revenue": 10},
        {"person": "a", "at": 2 * DAY, "event": "Order Completed", "revenue": 10},
        {"person": "a", "at": 6 * DAY, "event": "Order Completed", "revenue": 10},
        {"person": "b", "at": 0, "event": "Order Completed", "revenue": 5},
        {"person": "c", "at": 0, "event": "Visit"},
    ])
    r = run_repeat(Tables.from_scope(mem_scope).events)
    assert (r["buyers"], r["repeat_buyers"], r["orders"], r["repeat_rate"]) == (2, 1, 4, 0.5)
    assert r["days_between_orders"] == {"gaps": 2, "mean": 3.0, "median": 3.0, "p90": 3.8}


def test_retention_identical_on_duckdb_and_spark_and_match_reference(tmp_path, engine):
    rng = random.Random(11)
    log = [(f"p{p}", T0 + dt.timedelta(days=rng.randint(0, 70), seconds=rng.randint(0, 86399)), "E")
           for p in range(80) for _ in range(rng.randint(1, 6))]
    store = Store(tmp_path / "r.db")
    try:
        sc = store.scope("default")
        write_events(sc, [{"person": p, "at": ts, "event": e} for p, ts, e in log])
        df = retention_table(engine(sc).events, RetentionQuery(period="week", periods=6)).to_pandas()
        got = {(int(c), int(o)): int(n) for c, o, n in df.itertuples(index=False, name=None)}
        assert got == ref_retention(log, 6)
    finally:
        store.close()
