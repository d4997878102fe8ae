"""Funnels: windowFunnel strict_increase semantics, filters, exclusions, breakdowns, both engines."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wayfare.analytics import Exclusion, FunnelQuery, Step, Tables, funnel_levels, parse_step, run_funnel
from wayfare.store import Store

from .conftest import T0, journeys_for, write_events
from .reference import funnel_levels as ref_levels
from .reference import funnel_levels_loose as ref_loose


def counts(tables, steps, within="7d", **kw):
    q = FunnelQuery(steps=[parse_step(s) if isinstance(s, str) else s for s in steps], within=within, **kw)
    return [s["count"] for s in run_funnel(tables.events, q, tables.profiles, detail=False)["steps"]]


DAY = 86400


def test_funnel_counts_each_person_once_at_furthest_step(mem_scope):
    journeys_for(mem_scope, {
        "alice": [(0, "A"), (10, "B"), (20, "C")],
        "bob": [(0, "A"), (10, "B")],
        "carol": [(0, "A"), (8 * DAY, "B")],            # B after the 7-day window
        "dave": [(0, "A"), (0, "B"), (5, "C")],         # B at the same time as A: not strictly later
        "erin": [(0, "B"), (10, "A"), (20, "C")],       # out of order
        "fred": [(0, "A"), (5, "A"), (10, "B"), (15, "B"), (20, "C"), (25, "C")],
    })
    assert counts(Tables.from_scope(mem_scope), ["A", "B", "C"]) == [6, 3, 2]


def test_funnel_window_is_inclusive_and_any_start_may_convert(mem_scope):
    journeys_for(mem_scope, {
        "gina": [(0, "A"), (30 * DAY, "A"), (30 * DAY + 7 * DAY, "B")],  # the second A starts the attempt
        "hank": [(0, "A"), (7 * DAY, "B")],                              # exactly at the window edge
        "ivan": [(0, "A"), (7 * DAY + 1, "B")],
    })
    assert counts(Tables.from_scope(mem_scope), ["A", "B"], within="7d") == [3, 2]


def test_funnel_same_event_in_several_steps_needs_distinct_times(mem_scope):
    journeys_for(mem_scope, {
        "a": [(0, "Order"), (DAY, "Order"), (2 * DAY, "Order")],
        "b": [(0, "Order"), (0, "Order"), (DAY, "Order")],  # two orders at the same instant are one step
        "c": [(0, "Order")],
    })
    assert counts(Tables.from_scope(mem_scope), ["Order", "Order", "Order"], within="30d") == [3, 2, 1]


def test_funnel_later_attempt_reaches_further_than_the_first(mem_scope):
    # first attempt A@0 -> B@1 -> (C@9d too late); second A@8d -> B@8d+1 -> C@9d within its window
    journeys_for(mem_scope, {"p": [(0, "A"), (1, "B"), (8 * DAY, "A"), (8 * DAY + 1, "B"), (9 * DAY, "C")]})
    assert counts(Tables.from_scope(mem_scope), ["A", "B", "C"]) == [1, 1, 1]


def test_funnel_step_property_filters(mem_scope):
    write_events(mem_scope, [
        {"person": "x", "at": 0, "event": "Menu Viewed"},
        {"person": "x", "at": 60, "event": "Order Completed", "channel": "pos", "props": {"amount": 25}},
        {"person": "y", "at": 0, "event": "Menu Viewed"},
        {"person": "y", "at": 60, "event": "Order Completed", "channel": "web", "props": {"amount": 40}},
        {"person": "z", "at": 0, "event": "Menu Viewed"},
        {"person": "z", "at": 60, "event": "Order Completed", "channel": "pos", "props": {"amount": 10}},
    ])
    t = Tables.from_scope(mem_scope)
    assert counts(t, ["Menu Viewed", "Order Completed where channel = pos"]) == [3, 2]
    assert counts(t, ["Menu Viewed", "Order Completed where channel = pos and amount > 20"]) == [3, 1]
    assert counts(t, ["Menu Viewed", "Order Completed where properties.amount >= 25"]) == [3, 2]


def test_funnel_exclusion_between_steps_drops_the_attempt(mem_scope):
    journeys_for(mem_scope, {
        "kept": [(0, "Viewed"), (10, "Bought"), (20, "Refunded")],     # refund after the funnel: kept
        "gone": [(0, "Viewed"), (5, "Refunded"), (10, "Bought")],      # refund between the steps: excluded
    })
    t = Tables.from_scope(mem_scope)
    ex = [Exclusion(step=Step(event="Refunded"), after=1, before=2)]
    assert counts(t, ["Viewed", "Bought"], exclusions=ex) == [2, 1]
    assert counts(t, ["Viewed", "Bought"]) == [2, 2]


def test_funnel_breakdown_by_property_persona_and_first_touch(mem_scope):
    write_events(mem_scope, [
        {"person": "a", "at": 0, "event": "A", "channel": "social", "props": {"plan": "pro"},
         "traits": {"demo_persona": "Regular"}},
        {"person": "a", "at": 10, "event": "B"},
        {"person": "b", "at": -100, "event": "Visit", "channel": "email", "traits": {"demo_persona": "Newcomer"}},
        {"person": "b", "at": 0, "event": "A", "props": {"plan": "free"}},
        {"person": "c", "at": 0, "event": "A", "props": {"plan": "pro"}, "channel": "email",
         "traits": {"demo_persona": "Regular"}},
    ])
    t = Tables.from_scope(mem_scope)

    def groups(by):
        q = FunnelQuery(steps=[Step(event="A"), Step(event="B")], by=by)
        return {g["key"]: [s["count"] for s in g["steps"]] for g in run_funnel(t.events, q, t.profiles)["breakdown"]}

    assert groups("plan") == {"pro": [2, 1], "free": [1, 0]}
    assert groups("persona") == {"Regular": [2, 1], "Newcomer": [1, 0]}
    assert groups("first_touch") == {"social": [1, 1], "email": [2, 0]}


def test_funnel_times_histogram_weekly_and_attribution(mem_scope):
    journeys_for(mem_scope, {
        "a": [(0, "A"), (3600, "B")],
        "b": [(0, "A"), (7200, "B")],
        "c": [(0, "A"), (3 * 3600, "B")],
        "d": [(8 * DAY, "A")],
    })
    t = Tables.from_scope(mem_scope)
    r = run_funnel(t.events, FunnelQuery(steps=[Step(event="A"), Step(event="B")]))
    b = r["steps"][1]
    assert (b["count"], b["median_hours"], b["p90_hours"]) == (3, 2.0, 2.8)
    assert b["conversion_from_first"] == 0.75
    hist = {h["from_seconds"]: h["people"] for h in r["histogram"] if h["people"]}
    assert hist == {3600: 2, 3 * 3600: 1}
    assert [(w["week"], w["entered"], w["converted"]) for w in r["weekly"]] == [("2024-01-01", 3, 3), ("2024-01-08", 1, 0)]
    assert r["attribution"] == [{"first_touch": "web", "last_touch": "web", "people": 3}]


def _random_log(rng: random.Random, people: int, per: int, names: str = "ABC", span: int = 40) -> list[tuple]:
    return [(f"p{p}", T0 + dt.timedelta(seconds=rng.randint(0, span)), rng.choice(names))
            for p in range(people) for _ in range(rng.randint(1, per))]


def _store_log(tmp_path, log, name="r.db"):
    s = Store(tmp_path / name)
    sc = s.scope("default")
    write_events(sc, [{"person": p, "at": ts, "event": e} for p, ts, e in log])
    return s, sc


event_logs = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 30), st.sampled_from("ABC")), min_size=1, max_size=40)
step_lists = st.lists(st.sampled_from("ABC"), min_size=1, max_size=4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(log=event_logs, steps=step_lists, within=st.integers(1, 25))
def test_funnel_matches_naive_reference_on_generated_logs(tmp_path_factory, log, steps, within):
    rows = [(f"p{p}", T0 + dt.timedelta(seconds=s), e) for p, s, e in log]
    store, sc = _store_log(tmp_path_factory.mktemp("h"), rows)
    try:
        q = FunnelQuery(steps=[Step(event=s) for s in steps], within=within)
        got = dict(funnel_levels(sc.ibis("events"), q).select("person_id", "level").to_pandas()
                   .itertuples(index=False, name=None))
        assert got == ref_levels(rows, steps, within)
    finally:
        store.close()


def test_funnel_identical_on_duckdb_and_spark(tmp_path, engine):
    log = _random_log(random.Random(3), 120, 10, "ABCD", 60)
    store, sc = _store_log(tmp_path, log)
    try:
        t = engine(sc)
        for steps, within in ((["A", "B", "C"], 20), (["A", "A", "B", "A"], 30)):
            exp = ref_levels(log, steps, within)
            want = [sum(1 for v in exp.values() if v >= k) for k in range(1, len(steps) + 1)]
            q = FunnelQuery(steps=[Step(event=s) for s in steps], within=within)
            r = run_funnel(t.events, q, detail=False)
            assert [s["count"] for s in r["steps"]] == want
        assert r["steps"][1]["median_hours"] == 0.002  # about 7 s from the first A to the second, on both engines
    finally:
        store.close()


def test_dashboard_funnel_has_the_dashboard_shape(mem_scope):
    from wayfare.analytics import dashboard_funnel

    journeys_for(mem_scope, {"a": [(0, "A"), (60, "B")], "b": [(0, "A")]})
    r = dashboard_funnel(mem_scope, ["A", "B"], 7, "channel")
    assert r["total"] == [2, 1] and r["overall"] == 0.5
    assert r["series"] == [{"group": "web", "counts": [2, 1], "conversion": [1.0, 0.5], "step_conversion": [None, 0.5],
                            "median_hours": [None, 0.017]}]


def test_property_filters_and_persona_breakdown_identical_on_both_engines(tmp_path, engine):
    store = Store(tmp_path / "pf.db")
    try:
        sc = store.scope("default")
        write_events(sc, [
            {"person": "x", "at": 0, "event": "Menu Viewed", "traits": {"demo_persona": "Regular"}},
            {"person": "x", "at": 60, "event": "Order Completed", "channel": "pos", "props": {"amount": 25, "kind": "dine-in"}},
            {"person": "y", "at": 0, "event": "Menu Viewed", "traits": {"demo_persona": "Regular"}},
            {"person": "y", "at": 60, "event": "Order Completed", "channel": "pos", "props": {"amount": 10}},
            {"person": "z", "at": 0, "event": "Menu Viewed"},
            {"person": "z", "at": 60, "event": "Order Completed", "channel": "web", "props": {"amount": 99}},
        ])
        t = engine(sc)
        q = FunnelQuery(steps=[parse_step("Menu Viewed"),
                               parse_step('Order Completed where channel = pos and amount > 20 and kind = "dine-in"')],
                        by="persona")
        r = run_funnel(t.events, q, t.profiles, detail=False)
        assert [s["count"] for s in r["steps"]] == [3, 1]
        assert {g["key"]: [s["count"] for s in g["steps"]] for g in r["breakdown"]} == {"Regular": [2, 1], "unknown": [1, 0]}
    finally:
        store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(log=event_logs, steps=step_lists, within=st.integers(1, 25), order=st.sampled_from(["strict", "loose"]))
def test_funnel_scan_executor_equals_the_ibis_builder_on_generated_logs(tmp_path_factory, log, steps, within, order):
    """The DuckDB executor (one sorted scan) and the portable Ibis builder: same people, levels, first
    times and step-to-step seconds; both agree with the brute-force references."""
    from wayfare.analytics.funnel_scan import levels_by_scan

    rows = [(f"p{p}", T0 + dt.timedelta(seconds=s), e) for p, s, e in log]
    store, sc = _store_log(tmp_path_factory.mktemp("s"), rows)
    try:
        q = FunnelQuery(steps=[Step(event=s) for s in steps], within=within, order=order)
        cols = ["person_id", "level", "first_ts", *[f"secs_{k}" for k in range(2, len(steps) + 1)]]
        built = funnel_levels(sc.ibis("events"), q).to_pandas()[cols].sort_values("person_id").reset_index(drop=True)
        scanned = levels_by_scan(sc.ibis("events"), q).to_pandas()[cols].sort_values("person_id").reset_index(drop=True)
        assert built.astype(object).where(built.notna(), None).values.tolist() == \
            scanned.astype(object).where(scanned.notna(), None).values.tolist()
        ref = ref_loose(rows, steps, within) if order == "loose" else ref_levels(rows, steps, within)
        assert dict(zip(scanned.person_id, scanned.level, strict=True)) == ref
    finally:
        store.close()


def test_funnel_loose_order_counts_steps_done_in_any_order_within_the_window(mem_scope):
    journeys_for(mem_scope, {
        "inorder": [(0, "A"), (10, "B"), (20, "C")],
        "reversed": [(0, "C"), (10, "B"), (20, "A")],   # loose: all three; strict: only A
        "noA": [(0, "B"), (10, "C")],                    # never did step 1: not in the funnel
        "slow": [(0, "B"), (8 * DAY, "A")],              # B too long before A
        "sametime": [(0, "A"), (0, "B")],                # one instant is enough when order is loose
    })
    t = Tables.from_scope(mem_scope)
    assert counts(t, ["A", "B", "C"], order="loose") == [4, 3, 2]
    assert counts(t, ["A", "B", "C"]) == [4, 1, 1]
    r = run_funnel(t.events, FunnelQuery(steps=[Step(event="A"), Step(event="B")], order="loose"), detail=False)
    assert r["steps"][1]["median_hours"] == 0.003  # shortest spans 10 s, 10 s and 0 s: median 10 s


def test_funnel_loose_order_rejects_exclusions():
    import pytest

    from wayfare.errors import ValidationError

    with pytest.raises(ValidationError, match="exclusions"):
        FunnelQuery(steps=[Step(event="A"), Step(event="B")], order="loose",
                    exclusions=[Exclusion(step=Step(event="X"), after=1, before=2)])


def test_funnel_loose_identical_on_duckdb_and_spark(tmp_path, engine):
    log = _random_log(random.Random(5), 120, 10, "ABCD", 60)
    store, sc = _store_log(tmp_path, log)
    try:
        t = engine(sc)
        steps, within = ["A", "B", "C"], 20
        exp = ref_loose(log, steps, within)
        want = [sum(1 for v in exp.values() if v >= k) for k in range(1, len(steps) + 1)]
        r = run_funnel(t.events, FunnelQuery(steps=[Step(event=s) for s in steps], within=within, order="loose"),
                       detail=False)
        assert [s["count"] for s in r["steps"]] == want
    finally:
        store.close()


def test_funnel_scan_and_builder_agree_on_sub_second_times(mem_scope):
    """Step seconds are whole seconds of the exact difference in the scan; the builder's epochs are
    engine-typed (fractional on DuckDB, whole on Spark), so it agrees to within a second."""
    from wayfare.analytics.funnel_scan import levels_by_scan

    journeys_for(mem_scope, {"a": [(0.2, "A"), (10.9, "B"), (20.05, "C")], "b": [(0.7, "A"), (3.1, "B")]})
    q = FunnelQuery(steps=[Step(event=s) for s in "ABC"], within=60)
    ev = mem_scope.ibis("events")
    built = funnel_levels(ev, q).to_pandas().sort_values("person_id")
    scanned = levels_by_scan(ev, q).to_pandas().sort_values("person_id")
    assert scanned.level.tolist() == built.level.tolist() == [3, 2]
    assert scanned.secs_2.tolist() == [10, 2] and scanned.secs_3.fillna(-1).tolist() == [19, -1]
    assert all(abs(a - b) < 1 for a, b in zip(built.secs_2, scanned.secs_2, strict=True))
    assert abs(built.secs_3.iloc[0] - 19) < 1


def test_touches_at_the_same_instant_are_told_apart_by_arrival(tmp_path, engine):
    """Two events at one instant on different channels: first touch is the first to arrive, last touch the
    last to arrive -- the same on every run and on both engines (a bare argmin by time picks either)."""
    store = Store(tmp_path / "tie.db")
    try:
        sc = store.scope("default")
        write_events(sc, [
            {"person": "a", "at": 0, "event": "Visit", "channel": "social"},
            {"person": "a", "at": 0, "event": "Visit", "channel": "email"},
            {"person": "a", "at": 60, "event": "A", "channel": "pos"},
            {"person": "a", "at": 60, "event": "Note", "channel": "web"},
            {"person": "a", "at": 120, "event": "B", "channel": "web"},
        ])
        t = engine(sc)
        q = FunnelQuery(steps=[Step(event="A"), Step(event="B")], by="first_touch")
        for _ in range(3):
            r = run_funnel(t.events, q, t.profiles)
            assert r["attribution"] == [{"first_touch": "social", "last_touch": "web", "people": 1}]
            assert [g["key"] for g in r["breakdown"]] == ["social"]
    finally:
        store.close()


def test_a_funnel_keeps_no_arrow_memory_after_it_answers(mem_scope):
    """A server computes a funnel per page view: its levels table must go when the answer is made.
    (With ``ibis.memtable`` Ibis 12 kept every one until the process exited: +0.1 MB a view on the soak's
    store.) Each round changes the data, so nothing can be a cache hit."""
    import gc

    import pyarrow as pa

    people = {f"person-{i:05d}-{'x' * 40}": [(0, "A"), (10, "B"), (20, "C")] for i in range(3000)}
    journeys_for(mem_scope, people)
    t = Tables.from_scope(mem_scope)
    q = FunnelQuery(steps=[parse_step(s) for s in ("A", "B", "C")], within="7d")
    assert run_funnel(t.events, q, detail=False, cache=False)["steps"][0]["count"] == 3000
    gc.collect()
    before = pa.total_allocated_bytes()
    for i in range(12):
        with mem_scope.transaction() as con:
            con.execute("INSERT INTO events (workspace_id, message_id, seq, type, event, person_id, ts, received_at) "
                        "VALUES (?, ?, ?, 'track', 'A', ?, ?, ?)",
                        [mem_scope.workspace_id, f"late-{i}", 100_000 + i, f"late-{i}", T0, T0])
        got = run_funnel(t.events, q, detail=False, cache=False)
        assert got["steps"][0]["count"] == 3001 + i
    gc.collect()
    # each levels table holds ~3,000 person ids of ~53 bytes (~160 KB): twelve kept would be ~2 MB
    assert pa.total_allocated_bytes() - before < 300_000
    views = mem_scope.store.con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name LIKE '__wf_levels_%'").fetchone()[0]
    assert views == 0
