"""Ingest bodies checked in parsing processes (ingest/parsepool.py) give the same answers and store the same rows,
people and traits as bodies checked in the server's process; a parsing process that dies loses no request."""

import base64
import os
import signal

import orjson
import pytest
from fastapi.testclient import TestClient

from wayfare.ingest.parsepool import MIN_BYTES, default_workers
from wayfare.store import Store, create_key
from wayfare.web.app import create_app


def _track(i: int, **extra) -> dict:
    return {"type": "track", "event": ["Menu Viewed", "Order Completed"][i % 2], "userId": f"u{i % 17}",
            "messageId": f"t{i}", "timestamp": f"2026-11-{1 + i % 28:02d}T12:{i % 60:02d}:00Z",
            "properties": {"revenue": i % 40, "item": "Lasagne", "channel": ["web", "pos"][i % 2]}, **extra}


def _requests(key: str) -> list[tuple[str, bytes, dict]]:
    basic = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    first = [_track(i) for i in range(60)] + [
        {"type": "identify", "userId": f"u{i}", "messageId": f"id{i}", "timestamp": "2026-11-02T09:00:00Z", "traits": {"email": f"U{i}@Example.org",
                                                                                   "plan": "basic", "n": i}}
        for i in range(10)] + [
        {"type": "page", "anonymousId": f"anon{i}", "messageId": f"p{i}", "name": "Menu",
         "timestamp": "2026-11-03T09:00:00+01:00",
         "context": {"traits": {"email": f"u{i}@example.org"}}} for i in range(5)]
    # half of the first batch again (duplicates), then new traits for some of the same people: the rows kept
    # after dropping duplicates must still carry their own traits
    second = first[30:] + [{"type": "identify", "userId": f"u{i}", "messageId": f"id2-{i}",
                            "timestamp": "2026-11-04T09:00:00Z",
                            "traits": {"plan": "gold", "phone": "+44 20 7946 0018" if i == 3 else None}}
                           for i in range(0, 10, 3)]
    bad = [_track(100 + i) for i in range(40)]
    bad[37] = {**bad[37], "timestamp": "yesterday"}
    ctx_batch = {"batch": [_track(200 + i) for i in range(30)], "context": {"library": {"name": "analytics-node"}},
                 "sentAt": "2026-11-20T12:00:05Z"}
    return [
        ("/v1/batch", orjson.dumps({"batch": first}), basic),
        ("/v1/batch", orjson.dumps({"batch": second}), basic),
        ("/v1/batch", orjson.dumps({"batch": bad}), basic),  # 400 naming batch[37].timestamp; nothing stored
        ("/v1/batch", orjson.dumps(ctx_batch), basic),  # a batch-level context and sentAt
        ("/v1/batch", orjson.dumps({"batch": [_track(300)]}), basic),  # small: parsed in process
        ("/v1/batch", b'{"batch": [' + b" " * MIN_BYTES + b"{]}", basic),  # not JSON
        ("/v1/batch", orjson.dumps({"batch": [_track(400 + i) for i in range(30)]}),
         {"Authorization": "Bearer wrong"}),  # bad key: 401, never sent to a parsing process
        ("/v1/track", orjson.dumps({**_track(500), "properties": {"note": "x" * MIN_BYTES}}), basic),
    ]


def _run(tmp_path, name: str, workers: int) -> tuple[list, list, list, int]:
    store = Store(tmp_path / f"{name}.db")
    key = create_key(store, "default", "ingest")["key"]
    app = create_app(store, parse_workers=workers)
    with TestClient(app) as c:
        answers = [(r.status_code, r.json()) for r in
                   (c.post(p, content=b, headers={**h, "Content-Type": "application/json"})
                    for p, b, h in _requests(key))]
        parsed = app.state.wayfare.parsers.parsed
    sc = store.scope()
    events = sc.rows("SELECT message_id, type, event, anonymous_id, user_id, ts, channel, source LIKE 'http:%', "
                    "revenue, properties::VARCHAR, context::VARCHAR, traits::VARCHAR FROM events ORDER BY message_id")
    # people are random ids: compare who is with whom, and each person's traits
    people = sc.rows("SELECT list(message_id ORDER BY message_id) AS ms, any_value(p.traits::VARCHAR) FROM events e "
                    "JOIN profiles p USING (workspace_id, person_id) GROUP BY person_id ORDER BY ms")
    store.close()
    return answers, events, people, parsed


def test_parsing_processes_answer_and_store_as_the_server_does(tmp_path):
    here = _run(tmp_path, "here", 0)
    pool = _run(tmp_path, "pool", 1)
    assert pool[0] == here[0]
    assert [a[0] for a in here[0]] == [200, 200, 400, 200, 200, 400, 401, 200]
    assert here[0][1][1]["duplicates"] == 45 and here[0][2][1]["field"] == "batch[37].timestamp"
    assert pool[1] == here[1] and len(here[1]) == 75 + 4 + 30 + 1 + 1
    assert pool[2] == here[2]
    traits = {orjson.loads(t).get("email"): orjson.loads(t) for _, t in here[2] if t and t != "{}"}
    assert traits["u3@example.org"]["plan"] == "gold" and traits["u1@example.org"]["plan"] == "basic"
    assert traits["u3@example.org"]["phone"] == "+44 20 7946 0018" and traits["u0@example.org"]["phone"] is None
    assert pool[3] == 6 and here[3] == 0  # the big bodies with a good key went to the parsing process


def test_a_parsing_process_that_dies_loses_no_request(tmp_path):
    store = Store(tmp_path / "kill.db")
    key = create_key(store, "default", "ingest")["key"]
    basic = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    app = create_app(store, parse_workers=1)
    with TestClient(app) as c:
        pool = app.state.wayfare.parsers
        acked = 0
        for round_ in range(6):
            if round_ in (2, 4):
                for pid in pool.pids():  # kill -9 the parsing process between requests
                    os.kill(pid, signal.SIGKILL)
            body = {"batch": [_track(1000 * round_ + i) for i in range(40)]}
            r = c.post("/v1/batch", content=orjson.dumps(body), headers=basic)
            assert r.status_code == 200, r.text
            acked += r.json()["received"] - r.json()["duplicates"]
        assert pool.restarts == 2 and pool.parsed == 4
    assert store.scope().one("SELECT count(*) FROM events")[0] == acked == 240
    store.close()


def test_default_workers(monkeypatch):
    monkeypatch.setenv("WAYFARE_PARSE_WORKERS", "3")
    assert default_workers() == 3
    monkeypatch.setenv("WAYFARE_PARSE_WORKERS", "lots")
    with pytest.raises(ValueError, match="WAYFARE_PARSE_WORKERS"):
        default_workers()
    monkeypatch.delenv("WAYFARE_PARSE_WORKERS")
    assert default_workers() == max(0, min(2, len(os.sched_getaffinity(0)) - 1))
