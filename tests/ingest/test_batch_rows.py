"""``batch_rows`` (the HTTP batch path, with its fast lane for plain messages) gives exactly the rows, or exactly
the error, of the full checks ``to_row(check_message(...))`` — for any message, well-formed or not."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayfare.errors import ValidationError
from wayfare.ingest.messages import batch_rows, check_message, to_row

RECEIVED = dt.datetime(2026, 11, 20, 12, 0, 5)

_time = st.one_of(
    st.sampled_from(["2026-11-20T12:00:00Z", "2026-11-20T13:00:00+01:00", "2026-11-20T12:00:00.123456",
                     "2026-11-20", "1969-12-31T23:00:00Z", "2201-01-01T00:00:00Z", "not a time", "", " 2026-11-20 "]),
    st.integers(-2**63, 2**63 - 1), st.none(),
)
_id = st.one_of(st.sampled_from(["u1", "a-2", " padded ", "17850.0", "null", "", "x" * 300, "u.1"]),
                st.integers(-5, 5), st.floats(allow_nan=True), st.booleans(), st.none(), st.just(["list"]))
_obj = st.one_of(st.none(), st.just([]), st.just("text"),
                 st.fixed_dictionaries({}, optional={
                     "channel": st.sampled_from(["Web", "store", "POS ", "", 3]),
                     "revenue": st.one_of(st.integers(0, 99), st.sampled_from(["1,200.50", "abc", True])),
                     "total": st.floats(0, 10, allow_nan=False),
                     "email": st.sampled_from(["Kim@Example.org", "not-an-email", 4]),
                     "phone": st.sampled_from(["+44 7700 900123", "12"]),
                     "traits": st.just({"email": "jo@example.org"}),
                 }))
_msg = st.one_of(
    st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["track", "page", "screen", "identify", "group", "alias", "bogus", None, 5]),
        "event": st.one_of(st.sampled_from(["Order Completed", "  Menu Viewed ", "", "   ", "e" * 201]), st.integers(-9, 9)),
        "name": st.one_of(st.sampled_from(["Home", " Menu "]), st.integers(-9, 9)),
        "userId": _id, "anonymousId": _id, "previousId": _id, "groupId": _id,
        "messageId": st.one_of(st.sampled_from(["m-1", "", "m" * 201]), st.integers(-9, 9), st.booleans()),
        "timestamp": _time, "sentAt": _time, "originalTimestamp": _time,
        "properties": _obj, "context": _obj, "traits": _obj, "integrations": _obj,
        "channel": st.sampled_from(["sms", "In-Store", ""]),
        "source": st.sampled_from(["pos", "", None]),
    }),
    st.just([]), st.just("text"), st.none(),
)


def _full(batch, sizes, context, sent_at):
    rows = []
    for i, m in enumerate(batch):
        if context and isinstance(m, dict) and (m.get("context") is None or isinstance(m.get("context"), dict)):
            m = {**m, "context": {**context, **(m.get("context") or {})}}
        if sent_at and isinstance(m, dict) and "sentAt" not in m:
            m = {**m, "sentAt": sent_at}
        rows.append(to_row(check_message(m, f"batch[{i}]", size=None if sizes else 0), RECEIVED, source="http:k"))
    return rows


def _outcome(fn):
    try:
        rows = fn()
    except ValidationError as e:
        return ("error", type(e).__name__, str(e), e.where)
    for r in rows:  # a message without an id gets a random one on both paths
        if len(r["message_id"]) == 36 and r["message_id"].count("-") == 4:
            r["message_id"] = "<uuid>"
    return ("rows", rows)


@settings(max_examples=400, deadline=None)
@given(batch=st.lists(_msg, max_size=4), sizes=st.booleans(),
       context=st.one_of(st.none(), st.just({"ip": "1.2.3.4", "channel": "app"})),
       sent_at=st.one_of(st.none(), st.sampled_from(["2026-11-20T12:00:01Z", "yesterday"])))
def test_batch_rows_equal_the_full_checks(batch, sizes, context, sent_at):
    fast = _outcome(lambda: batch_rows(batch, RECEIVED, "http:k", sizes=sizes, context=context, sent_at=sent_at))
    full = _outcome(lambda: _full(batch, sizes or context is not None, context, sent_at))
    assert fast == full


def test_a_plain_track_takes_the_fast_lane_and_keeps_every_field(monkeypatch):
    import wayfare.ingest.messages as messages

    def no_full_checks(*a, **k):
        raise AssertionError("took the full path")

    monkeypatch.setattr(messages, "check_message", no_full_checks)
    m = {"type": "track", "event": " Order Completed ", "userId": "u1", "anonymousId": "a1", "messageId": "m1",
         "timestamp": "2026-11-20T13:00:00+01:00", "properties": {"revenue": "1,250.5", "channel": "Store"},
         "context": {"traits": {"email": "Kim@Example.org"}}}
    (row,) = batch_rows([m], RECEIVED, "http:k", sizes=False)
    assert row["event"] == "Order Completed" and row["ts"] == dt.datetime(2026, 11, 20, 12, 0)
    assert row["revenue"] == 1250.5 and row["channel"] == "in-store"
    assert row["_ids"] == [("user_id", "u1"), ("anonymous_id", "a1"), ("email", "kim@example.org")]


def test_the_first_bad_message_is_named():
    good = {"type": "track", "event": "A", "userId": "u1"}
    with pytest.raises(ValidationError) as e:
        batch_rows([good, good, {"type": "track", "userId": "u1"}], RECEIVED, "http:k", sizes=False)
    assert e.value.where == "batch[2].event"
