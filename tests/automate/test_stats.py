"""Measurement: conversions and revenue in the attribution window by variant, uplift against the holdout
with its interval, variants with a two-proportion z-test, opens/clicks/unsubscribes from tracking events."""

import math

import pytest

from wayfare.automate import assign_variant, enable_flow, flow_stats, load_text, run_due, scan_triggers
from wayfare.automate.stats import diff_interval, two_proportion

from .conftest import T, events, people

PILOT = """name: pilot
purpose: transactional
trigger: {event: Lapsed}
goal: {event: Order Completed}
attribution: 7d
steps:
  - type: split
    holdout: 30
    variants: [{name: a}, {name: b}]
  - {type: wait, duration: 30d}
"""


def test_two_proportion_z_test_matches_the_textbook_figures():
    r = two_proportion(50, 500, 75, 500)  # 10% vs 15%: pooled p = 0.125
    assert r["z"] == pytest.approx(0.05 / math.sqrt(0.125 * 0.875 * (2 / 500)), abs=1e-4) == pytest.approx(2.3905, abs=1e-4)
    assert r["p_value"] == pytest.approx(0.01683, abs=5e-5)
    d = diff_interval(75, 500, 50, 500)
    assert d["uplift"] == pytest.approx(0.05) and d["low"] == pytest.approx(0.05 - 1.959964 * math.sqrt(
        0.15 * 0.85 / 500 + 0.1 * 0.9 / 500), abs=1e-6)
    assert two_proportion(0, 0, 1, 2) == {"z": None, "p_value": None}


def test_flow_stats_by_variant_uplift_and_engagement(scope):
    n = 300
    people(scope, {f"p{i}": {"email": f"p{i}@example.org"} for i in range(n)})
    f = load_text(PILOT)
    enable_flow(scope, f)
    events(scope, [(f"p{i}", "Lapsed", "2026-11-02T10:00:00") for i in range(n)])
    scan_triggers(scope, T("2026-11-02T10:00:00"))
    run_due(scope, T("2026-11-02T10:00:00"))
    pid = dict(scope.rows("SELECT value, person_id FROM identities WHERE kind = 'user_id'"))
    group = {i: assign_variant("pilot", pid[f"p{i}"], f.steps[0]) for i in range(n)}
    # treated people convert when i % 3 == 0, held-out ones when i % 12 == 0; every 5th buys only after the window
    conv, late = [], []
    for i, g in group.items():
        if (g != "holdout" and i % 3 == 0) or (g == "holdout" and i % 12 == 0):
            (late if i % 5 == 0 else conv).append(i)
    events(scope, [(f"p{i}", "Order Completed", "2026-11-04T10:00:00", {"revenue": 10}) for i in conv] +
           [(f"p{i}", "Order Completed", "2026-11-12T10:00:00", {"revenue": 99}) for i in late] +
           [("p1", "Email Opened", "2026-11-02T12:00:00", {"flow": "pilot", "step": 1, "variant": group[1]}),
            ("p1", "Email Opened", "2026-11-02T13:00:00", {"flow": "pilot", "step": 1, "variant": group[1]}),
            ("p2", "Email Link Clicked", "2026-11-02T12:00:00", {"flow": "pilot", "step": 1, "variant": group[2]}),
            ("p3", "Unsubscribed", "2026-11-02T12:00:00", {"flow": "pilot"})])
    scan_triggers(scope, T("2026-11-05T10:00:00"))  # a reached goal wakes the sleeping entry ...
    run_due(scope, T("2026-11-05T10:00:00"))  # ... which leaves the flow at once, not after its 30-day wait
    st = flow_stats(scope, "pilot")
    by = st["conversions"]["by_variant"]
    for v in ("a", "b", "holdout"):
        members = [i for i, g in group.items() if g == v]
        hits = [i for i in members if i in conv]
        assert by[v]["entered"] == len(members) and by[v]["converted"] == len(hits)
        assert by[v]["revenue"] == 10 * len(hits)
    assert st["exited_by_goal"] == len([i for i in conv if group[i] != "holdout"])  # held-out people left at the split
    assert st["outcomes"]["holdout"] == by["holdout"]["entered"]
    nt = by["a"]["entered"] + by["b"]["entered"]
    xt = by["a"]["converted"] + by["b"]["converted"]
    u = st["uplift"]
    assert u["uplift"] == pytest.approx(xt / nt - by["holdout"]["converted"] / by["holdout"]["entered"], abs=1e-6)
    assert u["low"] < u["uplift"] < u["high"] and u["p_value"] < 0.01
    ab = st["variants"]["results"]["b"]
    assert st["variants"]["control"] == "a"
    assert ab["p_value"] == two_proportion(by["a"]["converted"], by["a"]["entered"], by["b"]["converted"],
                                           by["b"]["entered"])["p_value"]
    assert st["opens"] == {"total": 2, "people": 1, "by_variant": {group[1]: 1}}
    assert st["clicks"]["total"] == 1 and st["unsubscribes"]["total"] == 1
