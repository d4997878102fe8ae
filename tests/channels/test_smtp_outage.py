"""SMTP down for a while (issue 9): run through `wayfare flows run-due` as a script would; while nothing listens
the messages wait, and once the server is back each goes out exactly once."""

import collections
import datetime as dt
import json
import os
import subprocess
import sys

from aiosmtpd.controller import Controller

from tests.channels.conftest import Mailbox
from tests.conftest import free_port
from wayfare.ingest import to_row, write_rows
from wayfare.store import Store

N = 30


def _cli(db, *args, env):
    p = subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", *args], capture_output=True, text=True,
                       timeout=300, env={**os.environ, **env})
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout) if "--json" in args else p.stdout


def test_messages_wait_while_smtp_is_down_and_go_out_once_when_it_is_back(tmp_path):
    db, port = tmp_path / "w.db", free_port()
    env = {"WAYFARE_SMTP_URL": f"smtp://127.0.0.1:{port}", "WAYFARE_MAIL_FROM": "shop@example.org"}
    _cli(db, "flows", "enable", "order-confirmation", env=env)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with Store(db) as s:
        rows = []
        for i in range(N):
            rows.append(to_row({"type": "identify", "userId": f"u{i}", "traits": {"email": f"u{i}@example.org"},
                                "messageId": f"id{i}"}, now, "test"))
            rows.append(to_row({"type": "track", "userId": f"u{i}", "event": "Order Completed", "messageId": f"o{i}",
                                "properties": {"order_id": f"A{i}", "revenue": 12.5}}, now, "test"))
        write_rows(s.scope(), rows)
    t0 = now + dt.timedelta(seconds=5)
    for k in range(3):  # the server is down: three passes, minutes apart
        res = _cli(db, "flows", "run-due", "--until", (t0 + dt.timedelta(minutes=5 * k)).isoformat(), "--json", env=env)
        assert res["sent"] == 0
    box = Mailbox()
    c = Controller(box, hostname="127.0.0.1", port=port)
    c.start()
    try:
        later = t0 + dt.timedelta(hours=2)  # past any retry backoff
        for k in range(3):
            _cli(db, "flows", "run-due", "--until", (later + dt.timedelta(minutes=k)).isoformat(), "--json", env=env)
    finally:
        c.stop()
    got = collections.Counter(r for e in box.envelopes for r in e.rcpt_tos)
    missing = [f"u{i}@example.org" for i in range(N) if got[f"u{i}@example.org"] == 0]
    doubled = {a: n for a, n in got.items() if n > 1}
    assert missing == [] and doubled == {}
    assert sorted(m["Subject"] for m in box.messages) == sorted(f"Your order A{i} is confirmed" for i in range(N))
