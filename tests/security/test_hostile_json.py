"""Hostile bodies at the ingest API: oversized, deeply nested, compressed bombs, broken encodings — refused early."""

from __future__ import annotations

import gzip
import socket

import httpx

from wayfare.store import Store


def test_hostile_bodies_refused_with_4xx_and_server_keeps_serving(ingest_key, server_factory):
    db, key = ingest_key
    srv = server_factory(db).start()
    H = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    deep = b'{"type":"track","userId":"u","event":"E","properties":' + b'{"a":' * 5000 + b"1" + b"}" * 5001
    deep_list = b'{"batch":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    big_event = b'{"type":"track","userId":"u","event":"E","properties":{"x":"' + b"a" * 40_000 + b'"}}'
    big_batch = b'{"batch":[' + b",".join([b'{"type":"track","userId":"u","event":"E","properties":{"x":"'
                                         + b"a" * 20_000 + b'"}}'] * 40) + b"]}"
    bomb = gzip.compress(b'{"batch":[' + b" " * 50_000_000 + b"]}")
    cases = {
        "nested 5000 deep": (deep, {}, {400, 413}),
        "nested list 100k deep": (deep_list, {}, {400, 413}),
        "40 KB event": (big_event, {}, {400, 413}),
        "800 KB batch": (big_batch, {}, {413}),
        "gzip bomb 50 MB": (bomb, {"Content-Encoding": "gzip"}, {400, 413}),
        "invalid utf-8": (b'{"type":"track","userId":"\xff\xfe","event":"E"}', {}, {400}),
        "not json": (b"\x00\x01{[", {}, {400}),
        "NaN revenue": (b'{"type":"track","userId":"u","event":"E","properties":{"revenue":NaN}}', {}, {400}),
        "array body": (b"[1,2,3]", {}, {400}),
        "batch not a list": (b'{"batch":{"a":1}}', {}, {400}),
        "event name an object": (b'{"type":"track","userId":"u","event":{"a":1}}', {}, {400}),
    }
    got = {}
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        for name, (body, extra, want) in cases.items():
            path = "/v1/batch" if body.startswith(b'{"batch"') or "bomb" in name else "/v1/track"
            got[name] = c.post(path, content=body, headers={**H, **extra}).status_code
            assert got[name] in want, (name, got[name])
        # a declared 1 GB body is refused before it is read
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as so:
            so.sendall(f"POST /v1/track HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                       f"Content-Type: application/json\r\nContent-Length: {1 << 30}\r\n\r\n{{}}".encode())
            assert so.recv(64).split(b" ")[1] == b"413"
        ok = c.post("/v1/track", json={"userId": "u", "event": "Still Here", "messageId": "ok1",
                                       "properties": {"a": {"b": {"c": [1, 2, {"d": "e"}]}}}}, headers=H)
        assert ok.status_code == 200
    srv.stop()
    with Store(db) as s:
        assert s.scope().rows("SELECT event FROM events") == [("Still Here",)]
