"""Referrals: codes and links, attribution across channels (link, till), rewards as events, advocacy."""

from __future__ import annotations

import pytest

from wayfare.errors import NotFound, ValidationError
from wayfare.growth.referrals import CODE_RE, advocacy, attribute, code_for, link_for, list_referrals

from .conftest import write_events


def test_code_is_stable_readable_and_per_person(scope):
    write_events(scope, [{"person": "alice", "day": 1, "event": "Order Completed", "revenue": 20}])
    c = code_for(scope, "alice")
    assert CODE_RE.match(c) and c == code_for(scope, "alice")
    assert link_for(scope, "alice", "https://shop.example/") == f"https://shop.example/?ref={c}"
    assert link_for(scope, "alice", "https://shop.example/?x=1").endswith(f"&ref={c}")
    with pytest.raises(ValidationError):
        link_for(scope, "alice", "javascript:alert(1)")
    with pytest.raises(NotFound):
        code_for(scope, "nobody")


def test_attribution_from_link_and_till_and_reward_event(scope):
    write_events(scope, [{"person": "alice", "day": 1, "event": "Order Completed", "revenue": 20},
                         {"person": "alice", "day": 2, "event": "Referral Sent"}])
    code = code_for(scope, "alice")
    write_events(scope, [
        {"person": "bob", "day": 3, "event": "page", "type": "page", "context": {"page": {"url": f"https://s.example/?ref={code}"}}},
        {"person": "bob", "day": 4, "event": "Order Completed", "revenue": 35.5},
        {"person": "cara", "day": 5, "event": "Order Completed", "revenue": 12, "channel": "pos",
         "props": {"referral_code": code.lower()}},
        {"person": "alice", "day": 6, "event": "Order Completed", "revenue": 9, "props": {"referral_code": code}},  # self
        {"person": "dan", "day": 6, "event": "page", "props": {"referral_code": "R-NOTACODE"}},
    ])
    res = attribute(scope)
    assert res == {"attributed": 2, "converted": 2, "reward_events": 2}
    refs = {r["referred_id"]: r for r in list_referrals(scope)}
    assert set(refs) == {"bob", "cara"}
    assert refs["cara"]["channel"] == "pos" and refs["bob"]["revenue"] == 35.5
    rewards = scope.rows("SELECT person_id, properties->>'referred_person_id' FROM events WHERE event = 'Referral Converted' ORDER BY 2")
    assert rewards == [("alice", "bob"), ("alice", "cara")]
    # running again adds nothing
    assert attribute(scope) == {"attributed": 0, "converted": 0, "reward_events": 0}
    adv = advocacy(scope)
    assert (adv["referrals_sent"], adv["referred"], adv["referred_converted"], adv["referred_revenue"]) == (1, 2, 2, 47.5)
    assert adv["top_advocates"][0] == {"person_id": "alice", "sent": 1, "referred": 2, "converted": 2, "revenue": 47.5}


def test_advocacy_counts_reviews_and_promoters(scope):
    write_events(scope, [
        {"person": "a", "day": 1, "event": "Review Posted", "props": {"rating": 5}},
        {"person": "a", "day": 1, "event": "Survey Responded", "props": {"nps_score": 10}},
        {"person": "b", "day": 1, "event": "Survey Responded", "props": {"nps_score": 9}},
        {"person": "c", "day": 1, "event": "Survey Responded", "props": {"nps_score": 3}},
    ])
    adv = advocacy(scope)
    assert (adv["reviews_written"], adv["promoters"], adv["nps_respondents"]) == (1, 2, 3)
    assert adv["conversion_of_referred"] is None
