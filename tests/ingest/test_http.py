"""The Segment-compatible API against a real `wayfare serve`, with the official Python clients."""

import base64
import gzip
import json

import httpx
import pytest

from wayfare.store import Store


def _auth(key):
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def _count(db, sql="SELECT count(*) FROM events"):
    with Store(db) as s:
        return s.scope().one(sql)[0]


@pytest.mark.slow
def test_official_segment_and_rudderstack_clients_deliver_exactly_once(ingest_key, server_factory):
    db, key = ingest_key
    srv = server_factory(db).start()
    import rudderstack.analytics as ra
    import segment.analytics as sa

    # the SDKs keep one module-wide client made on first use: drop any an earlier test (e.g. the docs) left behind
    sa.default_client = ra.default_client = None
    sa.write_key, sa.host, sa.sync_mode = key, srv.url, True
    for i in range(120):
        sa.track(f"seg-{i % 10}", "Viewed Menu", {"i": i})
    sa.identify("seg-1", {"email": "seg1@example.org"})
    sa.flush()
    ra.write_key, ra.dataPlaneUrl, ra.sync_mode = key, srv.url, True  # gzip on by default
    for i in range(80):
        ra.track(f"rs-{i % 8}", "Booked Table", {"i": i})
    ra.flush()
    batch = {"batch": [{"type": "track", "event": "Order Completed", "userId": f"raw-{i}", "messageId": f"fixed-{i}",
                        "properties": {"revenue": 10 + i}} for i in range(50)]}
    for _ in range(3):  # a client retrying the same messageIds
        r = httpx.post(f"{srv.url}/v1/batch", json=batch, headers=_auth(key), timeout=30)
        assert r.status_code == 200
    second = r.json()
    srv.stop()
    assert second["duplicates"] == 50
    assert _count(db, "SELECT count(*) FROM events WHERE type = 'track'") == 250
    assert _count(db, "SELECT count(*) FROM events WHERE type = 'identify'") == 1
    assert _count(db, "SELECT round(sum(revenue)) FROM events") == sum(10 + i for i in range(50))
    # 10 segment users + 8 rudder users + 50 raw users
    assert _count(db, "SELECT count(*) FROM profiles") == 68


def test_errors_are_clear_and_lose_nothing(ingest_key, server_factory):
    db, key = ingest_key
    srv = server_factory(db).start()
    h = _auth(key)
    good = {"type": "track", "event": "ok", "userId": "u1", "messageId": "good-1"}
    r = httpx.post(f"{srv.url}/v1/track", json={"type": "track"}, headers=h)
    assert r.status_code == 400 and r.json()["field"] == "body.userId"
    r = httpx.post(f"{srv.url}/v1/track", json={"type": "track", "userId": "u"}, headers=h)
    assert r.status_code == 400 and r.json()["field"] == "body.event"
    r = httpx.post(f"{srv.url}/v1/batch", json={"batch": [good, {"type": "track", "userId": "u"}]}, headers=h)
    assert r.status_code == 400 and r.json()["field"] == "batch[1].event"
    big = {"type": "track", "event": "x", "userId": "u", "properties": {"p": "x" * 40000}}
    assert httpx.post(f"{srv.url}/v1/track", json=big, headers=h).status_code == 413
    huge = {"batch": [{**good, "messageId": f"h{i}", "properties": {"p": "y" * 9000}} for i in range(80)]}
    assert httpx.post(f"{srv.url}/v1/batch", json=huge, headers=h).status_code == 413
    assert httpx.post(f"{srv.url}/v1/track", json=good).status_code == 401
    assert httpx.post(f"{srv.url}/v1/track", json=good, headers=_auth("wf_ingest_wrong")).status_code == 401
    assert httpx.post(f"{srv.url}/v1/track", content=b"{not json", headers=h).status_code == 400
    # Bearer works too, and gzip bodies are accepted
    body = gzip.compress(json.dumps(good).encode())
    r = httpx.post(f"{srv.url}/v1/track", content=body,
                   headers={"Authorization": f"Bearer {key}", "Content-Encoding": "gzip",
                            "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    srv.stop()
    # the refused batch stored nothing (not even its good message); the good one is stored once
    assert _count(db) == 1


def test_server_binds_loopback_and_serves_openapi(ingest_key, server_factory):
    db, _ = ingest_key
    srv = server_factory(db).start()
    spec = httpx.get(f"{srv.url}/openapi.json").json()
    assert "/v1/batch" in spec["paths"] and "TrackMessage" in spec["components"]["schemas"]
    assert httpx.get(f"{srv.url}/health").json()["ok"] is True
    import socket

    s = socket.socket()
    s.settimeout(0.5)
    assert s.connect_ex((socket.gethostbyname(socket.gethostname()), srv.port)) != 0 or \
        socket.gethostbyname(socket.gethostname()).startswith("127.")
    s.close()


def test_kill_9_loses_no_acknowledged_event(ingest_key, server_factory):
    db, key = ingest_key
    srv = server_factory(db).start()
    acked = 0
    with httpx.Client(headers=_auth(key), timeout=10) as c:
        for b in range(20):
            batch = [{"type": "track", "event": "e", "userId": f"u{i % 7}", "messageId": f"k-{b}-{i}"} for i in range(50)]
            if c.post(f"{srv.url}/v1/batch", json={"batch": batch}).status_code == 200:
                acked += 50
    srv.kill()
    assert acked == 1000
    assert _count(db) == 1000
