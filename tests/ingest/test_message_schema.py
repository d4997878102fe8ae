"""The ingest checks agree with the OpenAPI schema written for them (issue 9, item 3: schemathesis found each of
these accepted while the schema called it invalid, or the other way round)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from wayfare.errors import ValidationError
from wayfare.ingest.messages import MAX_SAFE_INTEGER, OPENAPI_SCHEMAS, body_rows

NOW = dt.datetime(2026, 12, 3, 12, 0)


def rows(kind, body):
    return body_rows(kind, body, 100, NOW, "test")


@pytest.mark.parametrize("kind,body,field", [
    ("page", {"anonymousId": "a", "name": {}}, "body.name"),
    ("screen", {"anonymousId": "a", "name": 5}, "body.name"),
    ("track", {"event": "x", "userId": MAX_SAFE_INTEGER + 1}, "body.userId"),
    ("identify", {"anonymousId": -1e16}, "body.anonymousId"),
    ("track", {"event": "x", "userId": "u", "messageId": 2**60}, "body.messageId"),
    ("batch", {"batch": [], "writeKey": 5}, "writeKey"),
    ("batch", {"batch": [], "context": "web"}, "context"),
    ("batch", {"batch": [], "sentAt": "yesterday"}, "sentAt"),
    ("batch", {"batch": [{"type": "page", "userId": "u", "name": []}]}, "batch[0].name"),
])
def test_refused_with_the_field_named(kind, body, field):
    with pytest.raises(ValidationError) as e:
        rows(kind, body)
    assert e.value.where == field


def test_numbers_within_the_safe_range_are_ids_and_a_whole_float_message_id_is_the_integer():
    a = rows("track", {"event": "x", "userId": MAX_SAFE_INTEGER, "messageId": 7.0})[0]
    b = rows("track", {"event": "x", "userId": MAX_SAFE_INTEGER, "messageId": 7})[0]
    assert a["message_id"] == b["message_id"] == "7"  # a retry sent as 7.0 is the same message
    assert a["user_id"] == str(MAX_SAFE_INTEGER)
    assert rows("page", {"anonymousId": "a", "name": " Menu "})[0]["event"] == "Menu"


def test_every_time_the_schema_allows_is_accepted():
    pattern = re.compile(OPENAPI_SCHEMAS["TrackMessage"]["properties"]["timestamp"]["anyOf"][0]["pattern"])
    for t in ("1980-01-01", "2199-12-28T23:59:59.123456+23:59", "2026-02-28T10:00Z", "1980-01-01T00:00-23:59",
              "2026-11-24T18:30"):
        assert pattern.fullmatch(t), t
        assert rows("track", {"event": "x", "userId": "u", "timestamp": t})
    assert not pattern.fullmatch("1129-03-16T10:48:20.072Z")  # refused by the checks (before 1970)


def test_the_schema_reads_blank_ids_as_the_checks_do():
    """An id of only whitespace is no id: the schema's own character class is the one str.strip() uses (an
    ECMA-262 validator's \\s misses U+0085 and U+001C..U+001F, so schemathesis called '\\x85' a valid id)."""
    blank = re.compile(OPENAPI_SCHEMAS["IdentifyMessage"]["anyOf"][1]["properties"]["anonymousId"]["anyOf"][0]
                       ["not"]["pattern"])
    for v in ("\x85", "\x1c", "\u3000", " null ", "NaN"):
        assert blank.search(v), repr(v)
        with pytest.raises(ValidationError):
            rows("identify", {"anonymousId": v})
    assert not blank.search("\ufeff")  # not whitespace to str.strip(): an id
    assert rows("identify", {"anonymousId": "\ufeff"})
