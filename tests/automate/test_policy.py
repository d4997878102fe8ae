"""Policies as values: one table of cases for consent, suppression, pauses, quiet hours and the cap."""

import datetime as dt

import pytest

from wayfare.automate import Policy, decide
from wayfare.automate.policy import in_quiet_hours

NOON = dt.datetime(2026, 12, 2, 12, 0)      # 12:00 in London
NIGHT = dt.datetime(2026, 12, 2, 22, 30)    # 22:30 in London, 07:30 next day in Tokyo
OK = dict(channel="email", purpose="marketing", address="a@example.org", consent="granted", suppressed=None,
          person_paused=False, recent_marketing=0, now=NOON, tz="Europe/London")


@pytest.mark.parametrize("change, verdict, reason", [
    ({}, "send", None),
    ({"address": None}, "skip", "no email address"),
    ({"consent": None}, "skip", "no marketing consent for email"),
    ({"consent": "withdrawn"}, "skip", "no marketing consent for email"),
    ({"suppressed": "unsubscribe"}, "skip", "suppressed (unsubscribe)"),
    ({"purpose": "transactional", "suppressed": "unsubscribe", "consent": None}, "send", None),
    ({"purpose": "transactional", "suppressed": "bounce"}, "skip", "suppressed (bounce)"),
    ({"person_paused": True}, "skip", "automations paused for this person"),
    ({"recent_marketing": 2}, "skip", "frequency cap: 2 marketing messages per 7 days"),
    ({"recent_marketing": 2, "purpose": "transactional"}, "send", None),
    ({"now": NIGHT}, "defer", "quiet hours 21:00-08:00 (Europe/London)"),
    ({"now": NIGHT, "purpose": "transactional"}, "send", None),
    ({"now": NIGHT, "tz": "Asia/Tokyo"}, "defer", "quiet hours 21:00-08:00 (Asia/Tokyo)"),
    ({"channel": "sms", "address": None}, "skip", "no phone number"),
])
def test_decide_table(change, verdict, reason):
    d = decide(Policy(), **{**OK, **change})
    assert (d.verdict, d.reason) == (verdict, reason)


def test_quiet_hours_wait_until_morning_in_the_recipients_zone():
    assert in_quiet_hours(Policy(), NIGHT, "Europe/London") == dt.datetime(2026, 12, 3, 8, 0)
    assert in_quiet_hours(Policy(), NIGHT, "Asia/Tokyo") == dt.datetime(2026, 12, 2, 23, 0)  # 08:00 JST
    assert in_quiet_hours(Policy(), NOON, "Europe/London") is None
    assert in_quiet_hours(Policy(quiet_start="13:00", quiet_end="14:00"), NOON, "UTC") is None


def test_workspace_pause_defers_everything_and_the_cap_is_configurable():
    assert decide(Policy(paused=True), **OK).verdict == "defer"
    assert decide(Policy(cap=3), **{**OK, "recent_marketing": 2}).verdict == "send"
