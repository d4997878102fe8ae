import datetime as dt

import pytest

from wayfare.demo import generate
from wayfare.errors import ValidationError
from wayfare.store import Store

END = dt.date(2026, 6, 1)


def test_same_seed_same_history(tmp_path):
    a = generate(Store(tmp_path / "a.db").scope(), "restaurant", 500, seed=5, end=END)
    b = generate(Store(tmp_path / "b.db").scope(), "restaurant", 500, seed=5, end=END)
    c = generate(Store(tmp_path / "c.db").scope(), "restaurant", 500, seed=6, end=END)
    assert a == b
    assert a != c


@pytest.mark.parametrize("business", ["restaurant", "shop", "salon"])
def test_demo_covers_the_whole_journey_on_many_channels(scope, business):
    s = generate(scope, business, 1500, seed=2, end=END)
    assert s["people"] == 1500 == scope.one("SELECT count(*) FROM profiles")[0]
    assert list(s["events_by_stage"])[:6] == ["Awareness", "Consideration", "Decision", "Purchase", "Post-purchase",
                                              "Loyalty/Advocacy"]
    assert {"web", "pos", "survey", "support", "social", "review"} <= set(s["events_by_channel"])
    assert 0.25 < s["repeat_rate"] < 0.9
    # events are stored as counted, revenue equals the stored revenue
    assert scope.one("SELECT count(*) FROM events")[0] == s["events"]
    assert scope.one("SELECT round(sum(revenue), 2) FROM events")[0] == pytest.approx(s["revenue"], abs=0.05)
    # surveys carry NPS and free text; unhappy answers exist and mention what went wrong
    nps = scope.rows("SELECT (properties->>'nps_score')::INT FROM events WHERE event = 'Survey Responded'")
    scores = [n for (n,) in nps]
    assert min(scores) <= 4 and max(scores) == 10
    assert scope.one("SELECT count(*) FROM events WHERE properties->>'comment' ILIKE '%wait%'")[0] > 0


def test_restaurant_personas_drive_behaviour(scope):
    s = generate(scope, "restaurant", 3000, seed=4, end=END)
    assert {"Family Night Out", "Convenient Weekday Diner", "Party Planner", "The Regular",
            "The Busy Local Parent"} == set(s["personas"])
    per = dict(scope.rows(
        "SELECT p.traits->>'demo_persona', avg(e.revenue) FROM events e JOIN profiles p USING (person_id) "
        "WHERE e.event = 'Order Completed' GROUP BY 1"))
    assert per["Party Planner"] > 5 * per["Convenient Weekday Diner"]  # catering orders are large
    visits = dict(scope.rows(
        "SELECT p.traits->>'demo_persona', count(*) / count(DISTINCT e.person_id) FROM events e JOIN profiles p "
        "USING (person_id) WHERE e.event = 'Order Completed' GROUP BY 1"))
    assert visits["The Regular"] > 2 * visits["Family Night Out"]


def test_unknown_business_is_refused(scope):
    with pytest.raises(ValidationError, match="restaurant"):
        generate(scope, "garage", 10)
