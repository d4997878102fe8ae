"""Real-protocol twins for the channel tests: an HTTP server on 127.0.0.1 that records requests and
answers from a script, and an aiosmtpd server that keeps every message."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port


class Recorder:
    """``answers``: a list of (status, headers, body) used in turn (the last one repeats), or a callable."""

    def __init__(self, answers: list[tuple[int, dict, bytes]] | Callable | None = None):
        self.answers = answers or [(200, {}, b"ok")]
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        rec = self

        class H(BaseHTTPRequestHandler):
            def _any(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n) if n else b""
                req = {"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body}
                with rec.lock:
                    rec.requests.append(req)
                    i = len(rec.requests) - 1
                if callable(rec.answers):
                    status, headers, out = rec.answers(req)
                else:
                    status, headers, out = rec.answers[min(i, len(rec.answers) - 1)]
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *a) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), H)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.envelopes.append(envelope)
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return f"250 OK queued as q{len(self.messages)}"


@pytest.fixture
def mailbox():
    box = Mailbox()
    port = free_port()
    c = Controller(box, hostname="127.0.0.1", port=port)
    c.start()
    box.port = port
    box.url = f"smtp://127.0.0.1:{port}"
    yield box
    c.stop()


class LiveApp:
    """``create_app(store)`` served by a real uvicorn on 127.0.0.1 in a thread."""

    def __init__(self, store):
        import uvicorn

        from wayfare.web import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(store), host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveApp:
        import time

        self.thread.start()
        t0 = time.time()
        while not self.server.started:
            assert time.time() - t0 < 30, "the app did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def add_person(scope, user_id: str, **traits) -> str:
    """Identify one person (real ingest pipeline); returns the person id."""
    import datetime as dt

    from wayfare.ingest import to_row, write_rows

    write_rows(scope, [to_row({"type": "identify", "userId": user_id, "traits": traits, "messageId": f"id-{user_id}"},
                              dt.datetime.now(dt.UTC).replace(tzinfo=None), "test")])
    return scope.one("SELECT person_id FROM identities WHERE kind = 'user_id' AND value = $v", {"v": user_id})[0]


def events_of(scope, person_id: str, event: str) -> list[dict]:
    import orjson

    rows = scope.rows("SELECT properties FROM events WHERE person_id = $p AND event = $e ORDER BY seq",
                      {"p": person_id, "e": event})
    return [orjson.loads(r[0]) if r[0] else {} for r in rows]
