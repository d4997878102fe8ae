"""What-if: the figures against a hand calculation, the interval around them, and the analytics path."""

from __future__ import annotations

import datetime as dt

import pytest

from wayfare.errors import ValidationError
from wayfare.growth.whatif import whatif

from .conftest import write_events


@pytest.fixture
def shop(scope):
    # 100 visitors over 90 days; 40 book; of those 30 order (revenue 50 each; one orders twice: +50)
    rows = []
    for i in range(100):
        p = f"v{i}"
        day = i * 0.89
        rows.append({"person": p, "day": day, "event": "Menu Viewed"})
        if i < 40:
            rows.append({"person": p, "day": day + 0.1, "event": "Table Booked"})
        if i < 30:
            rows.append({"person": p, "day": day + 0.2, "event": "Order Completed", "revenue": 50.0})
        if i == 0:
            rows.append({"person": p, "day": day + 0.3, "event": "Order Completed", "revenue": 50.0})
    write_events(scope, rows)
    return scope


def test_whatif_matches_hand_calculation(shop):
    r = whatif(shop, "Table Booked", 0.6, period_days=30, over_days=90)
    over = r["measured_over_days"]
    assert (r["entered"], r["reached"], r["converted"]) == (100, 40, 30)
    assert r["current_rate"] == 0.4 and r["downstream_rate"] == 0.75
    assert r["revenue_per_customer"] == pytest.approx((30 * 50 + 50) / 30, abs=0.01)
    hand = 100 * 30 / over * (0.6 - 0.4) * 0.75
    assert r["expected_extra_customers"] == pytest.approx(hand, abs=0.01)
    assert r["expected_extra_revenue"] == pytest.approx(hand * (1550 / 30), abs=0.5)
    lo, hi = r["extra_customers_interval"]
    assert lo < hand < hi and hi - lo < hand * 1.5
    rlo, rhi = r["extra_revenue_interval"]
    assert rlo < r["expected_extra_revenue"] < rhi


def test_whatif_percentage_and_lower_rate(shop):
    r = whatif(shop, "Table Booked", 30, over_days=90)
    assert r["to_rate"] == 0.3
    assert r["expected_extra_customers"] < 0
    assert r["extra_customers_interval"][1] <= 0


def test_whatif_explicit_funnel_uses_analytics(shop):
    r = whatif(shop, "Table Booked", 0.5, from_step="Menu Viewed", goal="Order Completed", over_days=90)
    assert r["engine"] == "wayfare.analytics"
    assert (r["entered"], r["reached"], r["converted"]) == (100, 40, 30)
    assert r["expected_extra_customers"] == pytest.approx(100 * 30 / r["measured_over_days"] * 0.1 * 0.75, abs=0.01)


def test_whatif_purchase_step_has_downstream_one(shop):
    r = whatif(shop, "Order Completed", 0.5, over_days=90)
    assert (r["entered"], r["reached"], r["converted"]) == (100, 30, 30)
    assert r["downstream_rate"] == 1.0


@pytest.mark.parametrize("step,rate", [("Nope", 0.5), ("Table Booked", 1.5e3), ("Table Booked", -1), ("  ", 0.2)])
def test_whatif_refuses_bad_input(shop, step, rate):
    with pytest.raises(ValidationError):
        whatif(shop, step, rate)


def test_forecast_compared_with_what_happened_after(shop):
    from wayfare.growth.whatif import compare

    from .conftest import T0

    rows = []
    for i in range(50):  # after the change (day 100 on): 30 of 50 book, 15 of those order
        p = f"w{i}"
        rows.append({"person": p, "day": 100 + i * 0.5, "event": "Menu Viewed"})
        if i < 30:
            rows.append({"person": p, "day": 100 + i * 0.5 + 0.1, "event": "Table Booked"})
        if i < 15:
            rows.append({"person": p, "day": 100 + i * 0.5 + 0.2, "event": "Order Completed", "revenue": 50.0})
    write_events(shop, rows)
    since = T0 + dt.timedelta(days=99)
    f = whatif(shop, "Table Booked", 0.6, over_days=120, until=since)
    assert (f["entered"], f["reached"], f["current_rate"]) == (100, 40, 0.4)
    c = compare(shop, f, since)
    assert (c["entered"], c["actual_rate"]) == (50, 0.6)
    assert c["expected_extra_customers"] == pytest.approx(50 * 0.2 * 0.75)
    assert c["actual_extra_customers"] == pytest.approx(50 * 0.2 * 0.5)
    assert c["achieved_share"] == pytest.approx(0.5 / 0.75, abs=1e-3)
