import time

import orjson
import pytest

from tests.channels.conftest import Recorder
from wayfare.channels.errors import Rejected, Retryable, TargetRefused
from wayfare.channels.webhook import SIGNATURE_HEADER, deliver, verify_signature


def test_deliver_signs_body_and_sends_idempotency_key():
    with Recorder() as rec:
        status = deliver(rec.url + "/hook?x=1", {"event": "Order Completed", "n": 1}, "s3cret", "flow:e1:p1:2",
                         allow_private=True)
    assert status == 200 and len(rec.requests) == 1
    r = rec.requests[0]
    assert r["path"] == "/hook?x=1" and r["headers"]["Idempotency-Key"] == "flow:e1:p1:2"
    assert r["headers"]["Host"] == f"127.0.0.1:{rec.port}"
    assert orjson.loads(r["body"]) == {"event": "Order Completed", "n": 1}
    sig = r["headers"][SIGNATURE_HEADER]
    assert verify_signature("s3cret", r["body"], sig)
    assert not verify_signature("other", r["body"], sig)
    assert not verify_signature("s3cret", r["body"] + b" ", sig)
    assert not verify_signature("s3cret", r["body"], sig, now=time.time() + 301)  # replay after 5 minutes


def test_deliver_retries_5xx_with_backoff_then_succeeds():
    waits = []
    with Recorder([(503, {}, b""), (500, {}, b""), (201, {}, b"")]) as rec:
        assert deliver(rec.url, {"a": 1}, "k", "id-1", allow_private=True, backoff=0.2, sleep=waits.append) == 201
    assert len(rec.requests) == 3
    assert {r["headers"]["Idempotency-Key"] for r in rec.requests} == {"id-1"}
    assert 0.1 <= waits[0] <= 0.2 and 0.2 <= waits[1] <= 0.4  # doubling, with jitter in [50%, 100%]


def test_deliver_honours_retry_after_and_gives_up_after_bounded_attempts():
    waits = []
    with Recorder([(429, {"Retry-After": "7"}, b"")]) as rec:
        with pytest.raises(Retryable, match="gave up after 4 attempts"):
            deliver(rec.url, {}, "k", "id", allow_private=True, max_attempts=4, sleep=waits.append)
    assert len(rec.requests) == 4 and waits == [7.0, 7.0, 7.0]


def test_deliver_4xx_is_rejected_without_retry():
    with Recorder([(410, {}, b"gone")]) as rec:
        with pytest.raises(Rejected, match="refused it \\(410\\)"):
            deliver(rec.url, {}, "k", "id", allow_private=True, sleep=lambda s: None)
    assert len(rec.requests) == 1


def test_deliver_timeout_is_retried():
    def slow(req):
        time.sleep(0.6)
        return 200, {}, b""

    with Recorder(slow) as rec:
        with pytest.raises(Retryable, match="ReadTimeout"):
            deliver(rec.url, {}, "k", "id", allow_private=True, timeout=0.2, max_attempts=2, sleep=lambda s: None)
    assert len(rec.requests) == 2


def test_deliver_does_not_follow_redirects():
    with Recorder() as inner, Recorder([(307, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")]) as rec:
        with pytest.raises(Rejected, match="redirects are not followed"):
            deliver(rec.url, {}, "k", "id", allow_private=True, sleep=lambda s: None)
        with Recorder([(302, {"Location": inner.url}, b"")]) as rec2:
            with pytest.raises(Rejected):
                deliver(rec2.url, {}, "k", "id", allow_private=True, sleep=lambda s: None)
    assert inner.requests == []


def test_deliver_refuses_loopback_without_the_test_allowance(monkeypatch):
    monkeypatch.delenv("WAYFARE_WEBHOOK_ALLOW_PRIVATE", raising=False)
    with Recorder() as rec:
        with pytest.raises(TargetRefused, match="loopback"):
            deliver(rec.url, {}, "k", "id")
        monkeypatch.setenv("WAYFARE_WEBHOOK_ALLOW_PRIVATE", "1")
        assert deliver(rec.url, {}, "k", "id") == 200
    assert len(rec.requests) == 1
