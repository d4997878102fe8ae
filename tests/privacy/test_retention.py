"""Retention: per-kind periods, a clean-up that deletes only what is older, audited."""

from __future__ import annotations

import datetime as dt

import pytest

from wayfare.errors import ValidationError
from wayfare.ingest import to_row, write_rows
from wayfare.privacy.retention import cleanup, get_retention, set_retention


def _events(scope, now):
    msgs = [{"type": "page", "anonymousId": "a1", "messageId": f"p{d}", "name": "Home",
             "timestamp": (now - dt.timedelta(days=d)).isoformat() + "Z"} for d in (1, 40, 400)]
    msgs += [{"type": "track", "anonymousId": "a1", "event": "Order Completed", "messageId": f"o{d}",
              "timestamp": (now - dt.timedelta(days=d)).isoformat() + "Z"} for d in (1, 40, 400)]
    write_rows(scope, [to_row(m, now, source="test") for m in msgs])


def test_cleanup_deletes_only_past_retention(scope):
    now = dt.datetime(2026, 11, 24)
    _events(scope, now)
    set_retention(scope, "page_views", 30)
    set_retention(scope, "events", 365)
    assert get_retention(scope)["page_views"] == 30
    res = cleanup(scope, now=now)
    assert res["deleted"] == {"events": 2, "page_views": 1}  # events: both kinds at 400 days
    left = sorted(r[0] for r in scope.rows("SELECT message_id FROM events"))
    assert left == ["o1", "o40", "p1"]
    assert scope.rows("SELECT action FROM audit_log") == [("privacy.retention",)]
    assert cleanup(scope, now=now)["deleted"] == {}


def test_retention_zero_keeps_and_unknown_kind_refused(scope):
    set_retention(scope, "events", 10)
    set_retention(scope, "events", 0)
    assert get_retention(scope)["events"] is None
    with pytest.raises(ValidationError):
        set_retention(scope, "everything", 3)


def test_retention_is_per_workspace(store):
    now = dt.datetime(2026, 11, 24)
    store.create_workspace("other")
    a, b = store.scope(), store.scope("other")
    _events(a, now)
    _events(b, now)
    set_retention(a, "events", 7)
    cleanup(a, now=now)
    cleanup(b, now=now)
    assert a.one("SELECT count(*) FROM events")[0] == 2
    assert b.one("SELECT count(*) FROM events")[0] == 6
