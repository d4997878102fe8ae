import datetime as dt

import pytest

from wayfare.errors import ValidationError
from wayfare.ingest.messages import TooLarge, check_message, to_row

NOW = dt.datetime(2026, 3, 1, 12, 0, 0)


@pytest.mark.parametrize(
    ("msg", "path", "fragment"),
    [
        ({"type": "track", "userId": "u"}, "body.event", "event name"),
        ({"type": "track", "event": "x"}, "body.userId", "userId or anonymousId"),
        ({"type": "nope", "userId": "u"}, "body.type", "type must be"),
        ({"type": "track", "event": "x", "userId": "u", "properties": [1]}, "body.properties", "JSON object"),
        ({"type": "track", "event": "x", "userId": "u", "timestamp": "yesterday"}, "body.timestamp", "ISO 8601"),
        ({"type": "alias", "userId": "u"}, "body.previousId", "previousId"),
        ({"type": "group", "userId": "u"}, "body.groupId", "groupId"),
        ({"type": "track", "event": "x", "userId": {"a": 1}}, "body.userId", "string or a number"),
    ],
)
def test_invalid_messages_name_the_field(msg, path, fragment):
    with pytest.raises(ValidationError) as e:
        check_message(msg, "body")
    assert e.value.where == path
    assert fragment in str(e.value)


def test_message_over_32kb_is_too_large():
    with pytest.raises(TooLarge, match="32 KB"):
        check_message({"type": "track", "event": "x", "userId": "u", "properties": {"p": "x" * 40000}}, "body")


def test_endpoint_type_fills_in_missing_type():
    m = check_message({"event": "Viewed", "anonymousId": "a1"}, "body", type_="track")
    assert m["type"] == "track"


def test_row_applies_segment_clock_skew_correction():
    # the device clock was 10 minutes behind: sentAt 11:50 while the server received at 12:00
    m = check_message({"type": "track", "event": "x", "userId": "u", "originalTimestamp": "2026-03-01T11:45:00Z",
                       "sentAt": "2026-03-01T11:50:00Z"}, "b")
    r = to_row(m, NOW, "test")
    assert r["ts"] == dt.datetime(2026, 3, 1, 11, 55)


def test_row_extracts_revenue_channel_and_identifiers():
    m = check_message({"type": "track", "event": "Order Completed", "userId": 17850.0, "anonymousId": "a-1",
                       "properties": {"total": "1,234.50", "channel": "POS"},
                       "context": {"traits": {"email": " Ann@Example.ORG ", "phone": "+44 7700 900123"}}}, "b")
    r = to_row(m, NOW, "test")
    assert r["revenue"] == 1234.5
    assert r["channel"] == "pos"
    assert r["user_id"] == "17850"
    assert ("email", "ann@example.org") in r["_ids"]
    assert ("phone", "+447700900123") in r["_ids"]
    assert ("anonymous_id", "a-1") in r["_ids"]
    assert r["ts"] == NOW  # no timestamp: the time it was received


def test_write_batches_one_flush_counts_duplicates_per_request(tmp_path):
    """The group committer's flush writes several requests at once; each still learns its own duplicates."""
    import datetime as dt

    from wayfare.ingest.messages import check_message, to_row
    from wayfare.ingest.pipeline import write_batches
    from wayfare.store import Store

    rec = dt.datetime(2026, 11, 30, 12, 0)

    def rows(*ids: str) -> list[dict]:
        return [to_row(check_message({"type": "track", "event": "Order Completed", "userId": f"u-{m}",
                                      "messageId": m, "timestamp": "2026-11-20T12:00:00Z"}, "b"), rec, source="t")
                for m in ids]

    with Store(tmp_path / "w.db") as s:
        sc = s.scope()
        with s.transaction() as con:
            first = write_batches(sc, [rows("a", "b"), rows("b", "c", "c"), rows("a")], con)
        assert [(r.received, r.inserted, r.duplicates) for r in first] == [(2, 2, 0), (3, 1, 2), (1, 0, 1)]
        assert first[0].people_created == 3
        with s.transaction() as con:
            again = write_batches(sc, [rows("c", "d"), rows("a")], con)
        assert [(r.inserted, r.duplicates) for r in again] == [(1, 1), (0, 1)]
        assert sc.one("SELECT count(*), count(DISTINCT message_id) FROM events") == (4, 4)
