"""RFM scores and named segments; KPIs by period and channel."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

from wayfare.analytics import SEGMENTS, Tables, rfm_table, run_kpis, run_rfm
from wayfare.store import Store

from .conftest import T0, write_events
from .reference import rfm_segments as ref_rfm

DAY = 86400


def _buyers(n: int, seed: int = 2) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        for _ in range(1 + i % 7):
            rows.append({"person": f"c{i:03d}", "at": rng.randint(0, 200) * DAY, "event": "Order Completed",
                         "revenue": float(rng.randint(5, 100)), "channel": rng.choice(["web", "pos"])})
    return rows


def test_rfm_scores_are_quintiles_of_ranks(mem_scope):
    write_events(mem_scope, _buyers(50))
    df = rfm_table(Tables.from_scope(mem_scope).events).to_pandas()
    assert len(df) == 50
    for col in ("r", "f", "m"):
        assert set(df[col]) <= {1, 2, 3, 4, 5}
    # more orders never means a lower F score; more recent never a lower R score
    s = df.sort_values("frequency")
    assert s.f.is_monotonic_increasing
    assert df.sort_values("recency_days", ascending=False).r.is_monotonic_increasing
    # ties share a score: everyone with 7 orders has the same F
    assert df[df.frequency == 7].f.nunique() == 1


def test_rfm_named_segments_cover_every_buyer(mem_scope):
    write_events(mem_scope, _buyers(60))
    r = run_rfm(Tables.from_scope(mem_scope).events)
    assert [s["segment"] for s in r["segments"]] == SEGMENTS
    assert sum(s["people"] for s in r["segments"]) == r["buyers"] == 60
    assert round(sum(s["revenue"] for s in r["segments"]), 2) == round(sum(x["revenue"] for x in _buyers(60)), 2)
    champions = next(s for s in r["segments"] if s["segment"] == "Champions")
    assert champions["people"] > 0 and champions["avg_frequency"] >= 4


def test_kpis_by_month_and_channel(mem_scope):
    write_events(mem_scope, [
        {"person": "a", "at": 0, "event": "Order Completed", "revenue": 30.0, "channel": "web"},
        {"person": "a", "at": 40 * DAY, "event": "Order Completed", "revenue": 10.0, "channel": "pos"},
        {"person": "b", "at": 41 * DAY, "event": "Order Completed", "revenue": 20.0, "channel": "pos"},
        {"person": "c", "at": 42 * DAY, "event": "Visit", "channel": "web"},
    ])
    r = run_kpis(Tables.from_scope(mem_scope).events, "month")
    jan, feb = r["totals"]
    assert (jan["period"], jan["revenue"], jan["orders"], jan["aov"], jan["customers"], jan["active"]) == (
        "2024-01-01", 30.0, 1, 30.0, 1, 1)
    assert (feb["period"], feb["revenue"], feb["orders"], feb["new_customers"], feb["returning_customers"],
            feb["repeat_rate"], feb["active"]) == ("2024-02-01", 30.0, 2, 1, 1, 0.5, 3)
    feb_ch = {(x["group"], x["channel"]): (x["orders"], x["active"]) for x in r["by_channel"] if x["period"] == "2024-02-01"}
    assert feb_ch == {("offline", "pos"): (2, 2), ("online", "web"): (0, 1)}


def test_rfm_and_kpis_identical_on_duckdb_and_spark(tmp_path, engine):
    store = Store(tmp_path / "k.db")
    try:
        sc = store.scope("default")
        write_events(sc, _buyers(40, seed=9))
        t = engine(sc)
        rows = _buyers(40, seed=9)
        seg = rfm_table(t.events).to_pandas()
        expected = ref_rfm([(x["person"], T0 + dt.timedelta(seconds=x["at"]), x["revenue"]) for x in rows])
        assert dict(zip(seg.person_id, seg.segment, strict=True)) == expected
        r = run_rfm(t.events)
        assert {s["segment"]: s["people"] for s in r["segments"] if s["people"]} == dict(Counter(expected.values()))
        k = run_kpis(t.events, "month")
        months = Counter((T0 + dt.timedelta(seconds=x["at"])).strftime("%Y-%m-01") for x in rows)
        assert {x["period"]: x["orders"] for x in k["totals"]} == dict(months)
    finally:
        store.close()
