"""``POST /v1/<kind>`` is answered by an ASGI middleware ahead of the framework (ingest/routes.py
``IngestFastPath``); the documented FastAPI routes answer through the same core. Both must give the same status and
body for the same request, and the full app must be taking the fast path."""

import base64
import gzip

import orjson
from fastapi import FastAPI
from fastapi.testclient import TestClient

from wayfare.ingest import routes
from wayfare.ingest.batcher import GroupCommitter
from wayfare.store import Store, create_key
from wayfare.web.app import create_app


def _requests(key: str) -> list[tuple[str, bytes, dict]]:
    basic = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
             "Content-Type": "application/json"}
    batch = {"batch": [{"type": "track", "event": "Order Completed", "userId": f"u{i}", "messageId": f"m{i}",
                        "timestamp": "2026-11-20T12:00:00Z", "properties": {"revenue": i}} for i in range(5)]}
    return [
        ("/v1/batch", orjson.dumps(batch), basic),
        ("/v1/batch", orjson.dumps(batch), basic),  # the same ids again: all duplicates
        ("/v1/batch", gzip.compress(orjson.dumps({"batch": [{"type": "page", "anonymousId": "a1", "name": "Menu"}]})),
         {**basic, "Content-Encoding": "gzip"}),
        ("/v1/track", orjson.dumps({"userId": "u1", "event": "Booked", "messageId": "t1"}), basic),
        ("/v1/track", orjson.dumps({"userId": "u1"}), basic),  # no event: 400 naming the field
        ("/v1/identify", b"{not json", basic),
        ("/v1/batch", orjson.dumps({"batch": [{"type": "track", "event": "E", "userId": "u"}], "writeKey": key}),
         {"Content-Type": "application/json"}),  # the key in the body
        ("/v1/batch", orjson.dumps(batch), {"Authorization": "Bearer wrong"}),
        ("/v1/batch", b"x" * (600 * 1024), basic),  # over 500 KB: 413
        ("/v1/alias", orjson.dumps({"userId": "u1", "previousId": "a1", "messageId": "al1"}), basic),
    ]


def _answers(client: TestClient, key: str) -> list[tuple[int, dict, str | None]]:
    out = []
    for path, body, headers in _requests(key):
        r = client.post(path, content=body, headers=headers)
        out.append((r.status_code, r.json(), r.headers.get("access-control-allow-origin")))
    return out


def test_the_fast_path_and_the_documented_route_answer_alike(tmp_path, monkeypatch):
    stores = [Store(tmp_path / "fast.db"), Store(tmp_path / "route.db")]
    keys = [create_key(s, "default", "ingest")["key"] for s in stores]

    async def not_the_route(request):  # only the FastAPI route reads the body this way
        raise AssertionError("the framework's route answered")

    with monkeypatch.context() as m:
        m.setattr(routes, "_read_body", not_the_route)
        with TestClient(create_app(stores[0])) as c:
            fast = _answers(c, keys[0])
    plain = FastAPI()
    committer = GroupCommitter(stores[1])
    plain.include_router(routes.make_router(stores[1], committer))
    try:
        with TestClient(plain) as c:
            documented = _answers(c, keys[1])
    finally:
        committer.close()
    assert [a[:2] for a in fast] == [a[:2] for a in documented]
    assert all(a[2] == "*" for a in fast + documented)  # CORS on every answer, errors included
    assert [a[0] for a in fast] == [200, 200, 200, 200, 400, 400, 200, 401, 413, 200]
    assert fast[1][1]["duplicates"] == 5 and fast[4][1]["field"] == "body.event"
    for s in stores:
        assert s.scope().one("SELECT count(*) FROM events")[0] == 5 + 1 + 1 + 1 + 1
        s.close()
