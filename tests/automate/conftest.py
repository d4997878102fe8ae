"""A real SMTP server on loopback (aiosmtpd) that keeps every message, and declarative people and events."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import io
import json
import subprocess
import sys
import threading

import pytest
from aiosmtpd.controller import Controller

from wayfare.channels import smtp_settings
from wayfare.ingest import to_row, write_rows

from ..conftest import free_port


class Sink:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()
        self.reject: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(msg)
        return "250 OK"

    def to(self, addr: str) -> list:
        with self.lock:
            return [m for m in self.messages if m["To"] == addr]

    def subjects(self) -> list[str]:
        with self.lock:
            return [str(m["Subject"]) for m in self.messages]


@pytest.fixture
def smtp():
    port = free_port()
    sink = Sink()
    c = Controller(sink, hostname="127.0.0.1", port=port)
    c.start()
    sink.url = f"smtp://127.0.0.1:{port}"
    sink.settings = smtp_settings(sink.url, "shop@example.org")
    yield sink
    c.stop()


def people(scope, who: dict[str, dict], at: str = "2026-11-01T10:00:00") -> None:
    """``people(scope, {"ann": {"email": "ann@example.org", "email_marketing": "subscribed"}})``."""
    ts = dt.datetime.fromisoformat(at)
    write_rows(scope, [to_row({"type": "identify", "userId": p, "traits": t, "messageId": f"id-{p}-{at}",
                               "timestamp": ts.isoformat()}, ts, "test") for p, t in who.items()])


def events(scope, evs: list[tuple]) -> None:
    """``events(scope, [("ann", "Order Completed", "2026-11-02T10:00:00", {"revenue": 20})])``."""
    rows = []
    for i, e in enumerate(evs):
        p, name, when = e[0], e[1], e[2]
        props = e[3] if len(e) > 3 else {}
        ts = dt.datetime.fromisoformat(when)
        rows.append(to_row({"type": "track", "userId": p, "event": name, "properties": props,
                            "messageId": f"ev-{p}-{name}-{when}-{i}", "timestamp": ts.isoformat()}, ts, "test"))
    write_rows(scope, rows)


def T(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s)


def cli(*args) -> subprocess.CompletedProcess:
    from wayfare.cli import main
    out, err = io.StringIO(), io.StringIO()
    argv, code = sys.argv, 0
    sys.argv = ["wayfare", *map(str, args)]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv = argv
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def ok(*args) -> dict:
    p = cli(*args, "--json")
    assert p.returncode == 0, (args, p.stdout[-2000:], p.stderr[-2000:])
    return json.loads(p.stdout)
