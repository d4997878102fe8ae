"""The segment rule language, evaluation, saved segments and their membership history."""

from __future__ import annotations

import datetime as dt

import pytest

from wayfare.analytics import (
    Tables,
    list_segments,
    members_expr,
    parse_rule,
    preview_segment,
    refresh_segment,
    save_segment,
    segment_history,
)
from wayfare.analytics.segments import BoolOp, Cmp, Not
from wayfare.errors import NotFound, ValidationError
from wayfare.store import Store

from .conftest import T0, write_events

DAY = 86400
NOW = T0 + dt.timedelta(days=100)


def test_parse_rule_reads_the_documented_example():
    node = parse_rule('orders_90d >= 2 and last_seen < 30d and traits.city = "Leeds"')
    assert node == BoolOp("and", (Cmp("orders", None, 90 * DAY, ">=", 2.0), Cmp("last_seen", None, None, "<", 30 * DAY),
                                  Cmp("trait", "city", None, "=", "Leeds")))


def test_parse_rule_precedence_not_parentheses_and_count():
    node = parse_rule('not rfm.segment = "Lost" or (count("Table Booked", 2w) > 0 and revenue >= 100)')
    assert node == BoolOp("or", (Not(Cmp("rfm", "segment", None, "=", "Lost")),
                                 BoolOp("and", (Cmp("count", "Table Booked", 14 * DAY, ">", 0.0),
                                                Cmp("revenue", None, None, ">=", 100.0)))))


@pytest.mark.parametrize("bad", ["", "orders >", "orders_90d >= 2 and", "bogus = 1", "last_seen < soon",
                                 "(orders > 1", "orders ~ 2", 'count(, 30d) > 1'])
def test_parse_rule_refuses_bad_rules_with_a_message(bad):
    with pytest.raises(ValidationError) as e:
        parse_rule(bad)
    assert "segment rule" in str(e.value)


def _shop(scope):
    write_events(scope, [
        # ann: 3 orders in the last 90 days, seen 5 days ago, Leeds
        *[{"person": "ann", "at": (100 - d) * DAY, "event": "Order Completed", "revenue": 40.0,
           "traits": {"city": "Leeds", "age": 31}} for d in (80, 40, 5)],
        # ben: 2 orders long ago, Leeds
        *[{"person": "ben", "at": d * DAY, "event": "Order Completed", "revenue": 10.0,
           "traits": {"city": "Leeds", "age": 55}} for d in (1, 2)],
        # cat: browsing only, recently, York
        {"person": "cat", "at": 99 * DAY, "event": "Menu Viewed", "traits": {"city": "York", "age": 24}},
        {"person": "cat", "at": 98 * DAY, "event": "Table Booked"},
    ])


def test_rules_evaluate_counts_windows_recency_traits(mem_scope):
    _shop(mem_scope)
    t = Tables.from_scope(mem_scope)

    def who(rule):
        return sorted(members_expr(t.events, t.profiles, rule, NOW).to_pandas().person_id)

    assert who('orders_90d >= 2 and last_seen < 30d and traits.city = "Leeds"') == ["ann"]
    assert who("orders >= 2") == ["ann", "ben"]
    assert who("revenue > 100") == ["ann"]
    assert who('count("Table Booked", 7d) >= 1 or traits.age > 50') == ["ben", "cat"]
    assert who("not orders >= 1") == ["cat"]
    assert who("last_order > 60d") == ["ben"]
    assert who("traits.city contains Lee") == ["ann", "ben"]
    assert who('rfm.segment = "Champions" or rfm.r = 5') == ["ann"]


def test_saved_segment_records_who_entered_and_left(tmp_path):
    store = Store(tmp_path / "s.db")
    try:
        sc = store.scope("default")
        _shop(sc)
        save_segment(sc, "recent", "last_seen < 30d")
        first = refresh_segment(sc, "recent", as_of=NOW)
        assert (first["members"], first["entered"], first["left"]) == (2, 2, 0)
        assert preview_segment(sc, "last_seen < 30d", as_of=NOW) == ["ann", "cat"]
        later = refresh_segment(sc, "recent", as_of=NOW + dt.timedelta(days=26))  # ann last seen 31 days before
        assert (later["members"], later["entered"], later["left"]) == (1, 0, 1)
        hist = segment_history(sc, "recent")
        assert [(h["person_id"], h["change"]) for h in hist] == [("ann", "left"), ("ann", "entered"), ("cat", "entered")]
        assert list_segments(sc)[0]["members"] == 1
        # another workspace sees none of it
        store.create_workspace("other")
        assert list_segments(store.scope("other")) == []
        with pytest.raises(NotFound):
            refresh_segment(store.scope("other"), "recent")
        with pytest.raises(ValidationError):
            save_segment(sc, "bad", "orders >>> 2")
    finally:
        store.close()


def test_segments_identical_on_duckdb_and_spark(tmp_path, engine):
    store = Store(tmp_path / "g.db")
    try:
        sc = store.scope("default")
        _shop(sc)
        t = engine(sc)
        rule = 'orders_90d >= 2 and last_seen < 30d and traits.city = "Leeds" or traits.age < 30'
        assert sorted(members_expr(t.events, t.profiles, rule, NOW).to_pandas().person_id) == ["ann", "cat"]
    finally:
        store.close()
