"""The pure step function on tiny declarative flows."""

import collections
import datetime as dt

import pytest

from wayfare.automate import EntryState, Facts, advance, load_text
from wayfare.automate.engine import assign_variant, local_next
from wayfare.automate.model import Split

T0 = dt.datetime(2026, 12, 2, 15, 0)  # a Wednesday, 15:00 UTC


def flow(steps: str, trigger: str = "{event: A}"):
    return load_text(f"name: f\ntrigger: {trigger}\nsteps:\n{steps}")


def test_wait_until_weekday_and_local_time_uses_the_persons_zone():
    f = flow("  - {type: wait, until_weekday: mon, until_time: '09:00'}\n  - {type: exit}\n")
    s = advance(f, EntryState(0), T0, Facts(tz="America/New_York"))
    assert s.next == 0 and s.wake_at == dt.datetime(2026, 12, 7, 14, 0)  # 09:00 EST = 14:00 UTC
    s = advance(f, EntryState(0), T0, Facts(tz="Asia/Tokyo"))
    assert s.wake_at == dt.datetime(2026, 12, 7, 0, 0)


def test_local_next_is_today_when_the_time_is_still_ahead():
    assert local_next(dt.datetime(2026, 12, 2, 6, 0), "08:00", "Europe/London") == dt.datetime(2026, 12, 2, 8, 0)
    assert local_next(dt.datetime(2026, 7, 2, 6, 0), "08:00", "Europe/London") == dt.datetime(2026, 7, 2, 7, 0)


@pytest.mark.parametrize("happens, expected", [(True, 2), (False, 1)])
def test_wait_for_event_takes_then_when_it_happens_and_else_on_timeout(happens, expected):
    f = flow("  - {type: wait, event: Order Completed, timeout: 4h, then: done, else: remind}\n"
             "  - {id: remind, type: email, subject: s, text: t}\n  - {id: done, type: exit}\n")
    s = advance(f, EntryState(0), T0)
    assert s.wake_at == T0 + dt.timedelta(hours=4) and s.since == T0
    seen = []

    def happened(name, where, since, until):
        seen.append((name, since, until))
        return happens
    res = advance(f, EntryState(0, s.wake_at, s.since), s.wake_at, Facts(happened=happened))
    assert res.next == expected and seen == [("Order Completed", T0, T0 + dt.timedelta(hours=4))]


def test_wait_for_event_keeps_sleeping_before_the_timeout_when_nothing_happened():
    f = flow("  - {type: wait, event: X, timeout: 1d}\n  - {type: exit}\n")
    res = advance(f, EntryState(0, T0 + dt.timedelta(days=1), T0), T0 + dt.timedelta(hours=3))
    assert res.next == 0 and res.wake_at == T0 + dt.timedelta(days=1)


@pytest.mark.parametrize("score, nxt, outcome", [(10, 1, None), (9, 1, None), (8, 3, None), (None, 3, None)])
def test_condition_on_an_event_property_branches(score, nxt, outcome):
    f = flow("  - {type: condition, if: {property: nps_score, op: gte, value: 9}, else: unhappy}\n"
             "  - {type: email, subject: s, text: t}\n  - {type: exit}\n  - {id: unhappy, type: task, title: x}\n")
    res = advance(f, EntryState(0), T0, Facts(event={"nps_score": score}))
    assert res.next == nxt and res.outcome == outcome


def test_condition_without_else_leaves_the_flow():
    f = flow("  - {type: condition, if: {trait: vip, value: true}}\n  - {type: exit}\n")
    res = advance(f, EntryState(0), T0, Facts(person={"vip": False}))
    assert res.next == 2 and res.outcome == "else"


def test_split_is_deterministic_and_the_holdout_share_matches():
    sp = Split(type="split", holdout=10, variants=[{"name": "a"}, {"name": "b", "weight": 3}])
    got = collections.Counter(assign_variant("f", f"p{i}", sp) for i in range(20000))
    assert abs(got["holdout"] / 20000 - 0.10) < 0.01
    assert abs(got["b"] / (got["a"] + got["b"]) - 0.75) < 0.015
    assert all(assign_variant("f", f"p{i}", sp) == assign_variant("f", f"p{i}", sp) for i in range(100))


def test_split_holdout_exits_and_variants_jump_to_their_step():
    f = flow("  - type: split\n    holdout: 50\n    variants: [{name: a}, {name: b, next: bb}]\n"
             "  - {type: email, subject: a, text: a, next: end}\n  - {id: bb, type: email, subject: b, text: b}\n"
             "  - {id: end, type: exit}\n")
    assert advance(f, EntryState(0, variant="holdout"), T0).outcome == "holdout"
    assert advance(f, EntryState(0, variant="a"), T0).next == 1
    assert advance(f, EntryState(0, variant="b"), T0).next == 2
    res = advance(f, EntryState(1), T0)
    assert res.next == 3 and res.actions[0].subject == "a"
