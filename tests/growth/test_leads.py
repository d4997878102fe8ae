"""Lead scoring: points with recency decay, stages, the learned score, and assignment to staff."""

from __future__ import annotations

import datetime as dt

import pytest

from wayfare.errors import NotFound
from wayfare.growth.leads import (
    Rule,
    ScoringConfig,
    add_staff,
    assign_leads,
    list_leads,
    list_tasks,
    save_scores,
    score_people,
)

from .conftest import T0, write_events

NOW = T0 + dt.timedelta(days=60)


def test_points_decay_with_age_and_stages_follow_thresholds(scope):
    write_events(scope, [
        {"person": "fresh", "day": 60, "event": "Quote Requested"},          # 20 points, no decay
        {"person": "fresh", "day": 60, "event": "Table Booked"},             # 15
        {"person": "fresh", "day": 60, "event": "Lead Qualified", "props": {"qualified": True}},  # 20 (chatbot)
        {"person": "old", "day": 0, "event": "Quote Requested"},             # 20 * 0.5^(60/30) = 5
        {"person": "old", "day": 30, "event": "Table Booked"},               # 15 * 0.5 = 7.5
        {"person": "buyer", "day": 10, "event": "Order Completed", "revenue": 30},
        {"person": "reader", "day": 59, "event": "page"},
    ], traits={"old": {"email": "o@example.com"}, "reader": {"email_marketing": "subscribed"}})
    res = score_people(scope, now=NOW)
    pts = dict(zip(res["people"].person_id, res["people"].points, strict=True))
    stage = dict(zip(res["people"].person_id, res["people"].stage, strict=True))
    assert pts["fresh"] == pytest.approx(55.0)
    assert pts["old"] == pytest.approx(5.0 + 7.5 + 5.0)  # plus traits.email
    assert pts["reader"] == pytest.approx(2 ** (-1 / 30) + 5.0, abs=0.01)
    assert stage == {"fresh": "qualified", "old": "lead", "buyer": "customer", "reader": "subscriber"}
    assert res["learned"]["used"] is False
    assert res["stages"]["qualified"] == 1


def test_chatbot_answer_not_qualified_gives_no_points(scope):
    write_events(scope, [{"person": "x", "day": 60, "event": "Lead Qualified", "props": {"qualified": False}}])
    res = score_people(scope, now=NOW)
    assert res["people"].points.tolist() == [0.0]


def test_custom_rules_and_thresholds(scope):
    write_events(scope, [{"person": "x", "day": 60, "event": "Webinar Attended"}])
    cfg = ScoringConfig(rules=(Rule(50, event="webinar"),), qualified_points=45)
    res = score_people(scope, cfg, now=NOW)
    assert res["people"].stage.tolist() == ["qualified"]


def test_learned_score_with_enough_history(scope):
    rows = []
    # 120 people: those who requested a quote bought within 30 days of the snapshot; the others did not
    for i in range(120):
        p = f"p{i}"
        rows.append({"person": p, "day": 10 + i % 10, "event": "page"})
        if i % 2 == 0:
            rows.append({"person": p, "day": 20, "event": "Quote Requested"})
            if i % 6 != 0:
                rows.append({"person": p, "day": 45, "event": "Order Completed", "revenue": 10})
    for i in range(20):  # fresh enquirers and browsers, scored now
        rows.append({"person": f"n{i}", "day": 58, "event": "Quote Requested" if i < 10 else "page"})
    write_events(scope, rows)
    res = score_people(scope, now=NOW)
    info = res["learned"]
    assert info["used"] is True and info["positives"] >= 30
    assert info["auc_holdout"] > 0.8
    prob = dict(zip(res["people"].person_id, res["people"].probability, strict=True))
    enq = [prob[f"n{i}"] for i in range(10)]
    browse = [prob[f"n{i}"] for i in range(10, 20)]
    assert min(enq) > max(browse)
    assert save_scores(scope, res) == 140
    top = list_leads(scope, stage="qualified", limit=5)
    assert top and all(t["stage"] == "qualified" for t in top)


def test_assignment_by_topic_territory_then_round_robin(scope):
    write_events(scope, [
        {"person": "cat", "day": 60, "event": "Quote Requested", "props": {"topic": "Catering for 40"}},
        {"person": "lee", "day": 60, "event": "Quote Requested"},
        {"person": "r1", "day": 60, "event": "Quote Requested"},
        {"person": "r2", "day": 60, "event": "Quote Requested"},
        {"person": "r3", "day": 60, "event": "Quote Requested"},
    ], traits={"lee": {"city": "Leeds"}})
    for p in ("cat", "lee", "r1", "r2", "r3"):
        write_events(scope, [{"person": p, "day": 60, "event": "Contact Requested"}])
    res = score_people(scope, now=NOW)
    save_scores(scope, res)
    with pytest.raises(NotFound):
        assign_leads(scope)
    add_staff(scope, "Ann", topics=["catering"])
    add_staff(scope, "Bob", territories=["leeds"])
    add_staff(scope, "Cy")
    at = dt.datetime(2026, 11, 24, 9, 0)
    tasks = {t["person_id"]: t for t in assign_leads(scope, due_hours=4, now=at)}
    assert tasks["cat"]["assignee"] == "Ann" and tasks["cat"]["rule"] == "topic"
    assert tasks["lee"]["assignee"] == "Bob" and tasks["lee"]["rule"] == "territory"
    assert [tasks[p]["assignee"] for p in ("r1", "r2", "r3")] == ["Ann", "Bob", "Cy"]
    assert all(t["due_at"] == at + dt.timedelta(hours=4) for t in tasks.values())
    # assigning again gives nobody a second open task
    assert assign_leads(scope, now=at) == []
    assert len(list_tasks(scope)) == 5
    assert {r["person_id"]: r["assignee"] for r in list_leads(scope, "qualified")}["lee"] == "Bob"


def test_leads_are_per_workspace(store):
    a, b = store.scope("default"), store.scope(store.create_workspace("other") and "other")
    write_events(a, [{"person": "x", "day": 60, "event": "Quote Requested"}])
    save_scores(a, score_people(a, now=NOW))
    assert list_leads(b) == []
    assert len(list_leads(a)) == 1
