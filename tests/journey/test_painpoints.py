"""Pain points on a declarative shop whose leaks are known, and the plan built from them."""

import pytest

from wayfare.journey import open_view
from wayfare.journey.painpoints import TEMPLATES

from .conftest import journeys_for


@pytest.fixture
def shop(scope):
    people = {}
    for i in range(100):
        ev = [("Ad Seen", f"2026-03-{1 + i % 28:02d} 10:00", {}, "social")]
        if i < 80:
            ev.append(("Product Added", f"2026-03-{1 + i % 28:02d} 11:00", {}, "web"))
        if i < 40:
            ev.append(("Order Completed", f"2026-03-{1 + i % 28:02d} 12:00", {"revenue": 50}, "web"))
            ev.append(("Survey Responded", f"2026-03-{1 + i % 28:02d} 18:00",
                       {"nps_score": 3 if i < 20 else 10}, "survey"))
        if i < 6:
            ev.append(("Ticket Opened", "2026-04-01 09:00", {"subject": "Where is my parcel?"}, "support"))
            ev.append(("Ticket Opened", "2026-04-03 09:00", {"subject": "Still no answer"}, "support"))
        people[f"u{i:03d}"] = ev
    journeys_for(scope, people)
    return scope


def test_leak_repeat_contacts_and_detractors_with_revenue_at_stake(shop):
    v = open_view(shop)
    pains = {p["kind"]: p for p in v.pain_points()}
    leak = pains["biggest_leak"]
    # 80 reach Decision, 40 buy: 40 lost, each worth what a mover brought (50)
    assert (leak["stage"], leak["people_affected"], leak["value_per_person"], leak["revenue_at_stake"]) == (
        "Decision", 40, 50.0, 2000.0)
    assert leak["touchpoint"] == "Product Added" and leak["recommended_template"] == "abandoned-cart"
    rc = pains["repeat_contacts"]
    assert rc["people_affected"] == 6 and rc["recommended_template"] == "nps-detractor-followup"
    det = pains["detractors"]
    assert det["people_affected"] == 20 and det["value_per_person"] == 50.0 and det["revenue_at_stake"] == 1000.0
    assert all(p["recommended_template"] in TEMPLATES for p in pains.values())
    ranked = v.pain_points()
    assert [p["revenue_at_stake"] for p in ranked] == sorted((p["revenue_at_stake"] for p in ranked), reverse=True)


def test_plan_pilots_the_best_return_for_the_risk(shop):
    plan = open_view(shop).plan()
    # abandoned-cart: 2000 × 10% / medium risk (2) = 100; detractor follow-up 1000 × 12% / 2 = 60
    assert plan["pilot"]["template"] == "abandoned-cart" and plan["pilot"]["expected_return"] == 200.0
    assert plan["pilot"]["action"] == "wayfare flows enable abandoned-cart"
    assert "nps-detractor-followup" in [e["template"] for e in plan["expansion"]]
    kpis = {k["kpi"]: k["today"] for k in plan["assessment"]["kpis"]}
    assert kpis["people reaching purchase"] == 40.0 and kpis["NPS"] == 0.0
