"""The map's figures on tiny declarative journeys, where every number can be checked by hand."""

import pytest

from wayfare.journey import load_map_text, open_view

from .conftest import journeys_for

MAP = """stages:
  - name: Awareness
    touchpoints:
      - {name: Ad, match: {event: Ad Seen}}
      - {name: Friend, match: {event: Recommended}}
  - name: Decision
    touchpoints:
      - {name: Booking, match: {event: Table Booked}}
  - name: Purchase
    touchpoints:
      - {name: Order, match: {event: Order Completed}}
  - name: Post-purchase
    touchpoints:
      - {name: Survey, match: {event: Survey Responded}}
"""


@pytest.fixture
def cafe(scope):
    journeys_for(scope, {
        "ann": [("Ad Seen", "2026-01-01 10:00", {}, "web"), ("Table Booked", "2026-01-02 10:00", {}, "web"),
                ("Order Completed", "2026-01-04 10:00", {"revenue": 40}, "pos"),
                ("Survey Responded", "2026-01-06 10:00", {"nps_score": 10, "csat_score": 5,
                                                           "comment": "Lovely staff, delicious food"}, "survey")],
        "bob": [("Ad Seen", "2026-01-01 12:00", {}, "web"), ("Table Booked", "2026-01-05 12:00", {}, "phone"),
                ("Order Completed", "2026-01-06 12:00", {"revenue": 60}, "pos"),
                ("Survey Responded", "2026-01-08 12:00", {"nps_score": 3, "csat_score": 2,
                                                           "comment": "Cold food and rude staff"}, "survey")],
        "cat": [("Recommended", "2026-01-03 09:00", {}, "in-store"),
                ("Order Completed", "2026-01-03 20:00", {"revenue": 100}, "pos")],
        "dan": [("Ad Seen", "2026-01-04 09:00", {}, "web")],
        "eve": [("Order Completed", "2026-01-07 09:00", {"revenue": 20}, "pos"), ("Ad Seen", "2026-01-08 09:00", {}, "web")],
    })
    return scope


def _stage(m, name):
    return next(s for s in m["stages"] if s["name"] == name)


def test_stage_figures_by_hand(cafe):
    m = open_view(cafe, MAP).map()
    assert [s["name"] for s in m["stages"]] == ["Awareness", "Decision", "Purchase", "Post-purchase"]
    aw = _stage(m, "Awareness")
    # ann, bob, cat, dan, eve were aware; eve's ad came after her order, dan never moved on
    assert aw["people"] == 5 and aw["moved_on"] == 3 and aw["drop_off"] == 2 and aw["drop_off_pct"] == 40.0
    # ann 1 day to booking, bob 4 days, cat 11 hours to her order: median 1 day
    assert aw["median_days_to_move_on"] == 1.0
    # the very next stage (Decision): ann and bob booked; cat went straight to her order
    assert aw["to_next_stage"] == 2 and aw["to_next_stage_pct"] == 40.0
    assert aw["channels"] == {"web": 4, "in-store": 1} and aw["online_pct"] == 80.0
    pur = _stage(m, "Purchase")
    assert pur["people"] == 4 and pur["revenue"] == 220.0 and pur["moved_on"] == 2 and pur["moved_on_pct"] == 50.0
    assert _stage(m, "Post-purchase")["moved_on"] is None  # last stage
    assert m["totals"]["buyers"] == 4 and m["totals"]["revenue_per_buyer"] == 55.0


def test_touchpoint_figures_and_emotion(cafe):
    m = open_view(cafe, MAP).map()
    ad, friend = _stage(m, "Awareness")["touchpoints"]
    assert (ad["name"], ad["people"], ad["moved_on"]) == ("Ad", 4, 2)
    assert (friend["name"], friend["people"], friend["moved_on"], friend["median_days_to_move_on"]) == (
        "Friend", 1, 1, round(11 / 24, 2))
    post = _stage(m, "Post-purchase")
    e = post["emotion"]
    assert e["nps"] == 0.0 and e["nps_n"] == 2 and e["csat_pct"] == 50.0 and e["texts"] == 2
    assert post["touchpoints"][0]["emotion"]["nps"] == 0.0
    # the surveys came two days after the orders: about the purchase
    assert _stage(m, "Purchase")["emotion_about"]["nps_n"] == 2
    assert m["emotion_curve"][3]["score"] == e["score"]


def test_persona_rules_on_traits_and_behaviour(cafe):
    journeys_for(cafe, {"ann": [("identify", "2026-01-01 09:00", {"city": "Leeds"})],
                        "cat": [("identify", "2026-01-03 08:00", {"city": "York"})]})
    text = MAP + """personas:
  - name: Leeds
    rules: [{trait: city, equals: leeds}]
  - name: Big spenders
    rules: [{metric: revenue, gte: 60}]
"""
    v = open_view(cafe, text)
    assert v.personas() == ["Leeds", "Big spenders"]
    assert v.map("leeds")["people"] == 1
    big = v.map("Big spenders")
    assert big["people"] == 2 and big["totals"]["revenue"] == 160.0 and big["persona"] == "Big spenders"
    cmp = {c["persona"]: c for c in v.comparison()}
    assert cmp["Big spenders"]["buyer_pct"] == 100.0 and cmp["Leeds"]["people"] == 1


def test_unknown_persona_names_the_known_ones(cafe):
    from wayfare.errors import NotFound

    with pytest.raises(NotFound, match="no persona 'Nobody'"):
        open_view(cafe, MAP).map("Nobody")


def test_default_map_needs_no_yaml(cafe):
    m = open_view(cafe).map()
    names = {s["name"]: [t["name"] for t in s["touchpoints"]] for s in m["stages"]}
    assert names["Decision"] == ["Table Booked"] and names["Purchase"] == ["Order Completed"]
    assert "Recommended" in names["Awareness"] and "Survey Responded" in names["Post-purchase"]
    assert load_map_text(MAP)  # and a YAML one is used when given


def test_workspaces_do_not_see_each_other(store, cafe):
    store.create_workspace("other")
    other = store.scope("other")
    journeys_for(other, {"zed": [("Order Completed", "2026-02-01 10:00", {"revenue": 5}, "pos")]})
    m = open_view(other).map()
    assert m["people"] == 1 and m["totals"]["revenue"] == 5.0


def test_suggested_personas_use_distance_where_known():
    import numpy as np
    import pandas as pd

    from wayfare.journey.personas import suggest_personas

    rng = np.random.default_rng(4)
    n = 300
    near = np.arange(n) < 150  # same behaviour, two neighbourhoods: only distance tells them apart
    feat = pd.DataFrame({"person_id": [f"p{i}" for i in range(n)], "traits": "{}", "orders": 3, "revenue": 90.0,
                         "avg_order": 30.0, "days_since_last": 20, "tenure_days": 100, "online_share": 0.5,
                         "weekend_share": 0.3, "evening_share": 0.5, "mean_hour": 18.0, "party": 2.0, "tickets": 0,
                         "nps": np.nan, "rating": np.nan, "channels_used": 2,
                         "distance_km": np.where(near, rng.uniform(0.2, 1, n), rng.uniform(15, 30, n))})
    res = suggest_personas(feat, k=2)
    assert "distance" in res["personas"][0]["definition"]["features"]
    assert sorted(p["size"] for p in res["personas"]) == [150, 150]
