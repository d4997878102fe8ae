"""Delivery through the PostgreSQL queue: a real PostgreSQL server, real SMTP servers, real worker processes
killed with SIGKILL. Each email goes out once; a send that may have happened is marked, not repeated."""

from __future__ import annotations

import asyncio
import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from aiosmtpd.controller import Controller

from wayfare.automate import enable_flow, load_flow, run_due, scan_triggers
from wayfare.automate.outbox import Deliverer, Outbox
from wayfare.channels import smtp_settings
from wayfare.store import Store

from ..conftest import free_port
from .test_worker import _orders


class Counting:
    """Counts what arrives per recipient; can refuse, stall or defer chosen recipients."""

    def __init__(self):
        self.got: collections.Counter = collections.Counter()
        self.lock = threading.Lock()
        self.reject: set[str] = set()
        self.stall: dict[str, float] = {}
        self.defer_once: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.stall:
            await asyncio.sleep(self.stall.pop(address))
        if address in self.reject:
            return "550 5.1.1 no such user"
        if address in self.defer_once:
            self.defer_once.discard(address)
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            for r in envelope.rcpt_tos:
                self.got[r] += 1
        return "250 OK"


@pytest.fixture
def mail():
    port = free_port()
    sink = Counting()
    c = Controller(sink, hostname="127.0.0.1", port=port)
    c.start()
    sink.url = f"smtp://127.0.0.1:{port}"
    sink.settings = smtp_settings(sink.url, "shop@example.org")
    yield sink
    c.stop()


def _fill(url: str, n: int, ws: str = "default") -> list[str]:
    """``n`` emails straight into the queue, as the engine puts them."""
    ob = Outbox(url)
    for i in range(n):
        ob.add(f"k{i:06d}", ws, "bulk", f"e{i}", f"p{i}", 0, "email", f"p{i}@example.org", f"<k{i}@wayfare>",
               {"subject": f"Hello {i}", "text": "Thanks for your order."})
    ob.flush()
    ob.close()
    return [f"p{i}@example.org" for i in range(n)]


def _status(url: str) -> dict[str, int]:
    with psycopg.connect(url) as con:
        return dict(con.execute("SELECT status, count(*) FROM wayfare_outbox GROUP BY 1").fetchall())


def test_flow_through_the_queue_sends_once_and_results_come_back(tmp_path, mail, postgres, monkeypatch):
    url = postgres()
    monkeypatch.setenv("WAYFARE_QUEUE_URL", url)
    st = Store(tmp_path / "f.db")
    sc = st.scope()
    enable_flow(sc, load_flow("order-confirmation"))
    _orders(sc, 0, 30)
    assert scan_triggers(sc) == 30
    st.checkpoint()
    shutil.copy(tmp_path / "f.db", tmp_path / "twin.db")  # a second scheduler with the same state
    res = run_due(sc, settings=mail.settings)
    assert res["queued"] == 30 and res["delivered"] == 30 and res["sent"] == 30 and res["errors"] == 0
    assert len(mail.got) == 30 and max(mail.got.values()) == 1
    assert dict(sc.rows("SELECT status, count(*) FROM sends GROUP BY 1")) == {"sent": 30}
    log = dict(sc.rows("SELECT outcome, count(*) FROM automation_log WHERE action = 'email' GROUP BY 1"))
    assert log == {"queued": 30, "sent": 30}
    assert sc.one("SELECT count(*) FROM events WHERE event = 'Email Sent'")[0] == 30
    assert run_due(sc, settings=mail.settings)["due"] == 0 and _status(url) == {"sent": 30}
    # the twin (a restored copy, or a second scheduler) queues the same idempotency keys: nothing new goes out
    with Store(tmp_path / "twin.db") as twin:
        again = run_due(twin.scope(), settings=mail.settings)
    assert again["queued"] == 30 and again.get("delivered", 0) == 0
    assert sum(mail.got.values()) == 30 and _status(url) == {"sent": 30}
    st.close()


def _worker(url: str, smtp_url: str, lease: float = 60, seconds: float = 60) -> subprocess.Popen:
    env = {**os.environ, "WAYFARE_SMTP_URL": smtp_url, "WAYFARE_MAIL_FROM": "shop@example.org"}
    return subprocess.Popen([sys.executable, "-m", "wayfare", "worker", "--queue", url, "--lease", str(lease),
                             "--seconds", str(seconds), "--json"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_two_worker_processes_share_the_queue_and_send_each_email_once(mail, postgres):
    url = postgres()
    to = _fill(url, 3000)
    procs = [_worker(url, mail.url), _worker(url, mail.url)]
    try:
        end = time.time() + 120
        while time.time() < end and _status(url).get("sent", 0) < 3000:
            time.sleep(0.2)
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
            p.communicate(timeout=60)
    assert _status(url) == {"sent": 3000}
    assert set(mail.got) == set(to) and max(mail.got.values()) == 1
    with psycopg.connect(url) as con:
        share = dict(con.execute("SELECT lease_owner, count(*) FROM wayfare_outbox GROUP BY 1").fetchall())
    assert len(share) == 2 and min(share.values()) > 0, share  # both did part of the work


def test_kill_9_workers_again_and_again_nothing_doubled_nothing_lost(mail, postgres):
    url = postgres()
    to = _fill(url, 2000)
    rng = random.Random(7)
    kills, during = 0, 0
    for _ in range(8):
        before = _status(url).get("sent", 0)
        p = _worker(url, mail.url, lease=1)
        end = time.time() + 60
        while time.time() < end:  # start-up takes a while (imports): kill once it is sending
            if _status(url).get("sent", 0) > before:
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.4))
        os.kill(p.pid, signal.SIGKILL)
        p.communicate()
        kills += 1
        during += before < _status(url).get("sent", 0) < 2000  # it was sending, and work was left
    assert during >= 3, "the kills did not land during sends; the test proves nothing"
    time.sleep(1.2)  # the dead workers' leases run out
    final = _worker(url, mail.url, lease=1)
    try:
        end = time.time() + 120
        while time.time() < end:
            s = _status(url)
            if s.get("sent", 0) + s.get("uncertain", 0) == 2000:
                break
            time.sleep(0.2)
    finally:
        final.send_signal(signal.SIGINT)
        final.communicate(timeout=60)
    s = _status(url)
    with psycopg.connect(url) as con:
        uncertain = {r[0] for r in con.execute("SELECT address FROM wayfare_outbox WHERE status = 'uncertain'")}
    doubled = [a for a, n in mail.got.items() if n > 1]
    missed = [a for a in to if mail.got[a] == 0 and a not in uncertain]
    print(f"{kills} kills ({during} mid-send): {s}; doubled {len(doubled)}, missed {len(missed)}, uncertain {len(uncertain)}")
    assert not doubled and not missed
    assert s.get("sent", 0) + len(uncertain) == 2000 and len(uncertain) <= 16 * kills


def test_a_lease_that_runs_out_mid_send_is_dropped_and_sent_once_by_the_next_worker(mail, postgres):
    url = postgres()
    _fill(url, 1)
    mail.stall["p0@example.org"] = 1.5  # the server is slow on RCPT: the 0.5 s lease runs out meanwhile
    slow = Deliverer(url, mail.settings, lease_s=0.5)
    slow.run_once()
    assert slow.out["lost_lease"] == 1 and slow.out["sent"] == 0 and sum(mail.got.values()) == 0
    nxt = Deliverer(url, mail.settings)
    nxt.drain()
    assert nxt.out["sent"] == 1 and mail.got["p0@example.org"] == 1 and _status(url) == {"sent": 1}
    slow.close()
    nxt.close()


def test_one_refused_recipient_fails_alone_and_a_deferral_comes_back_later(mail, postgres):
    url = postgres()
    to = _fill(url, 16)
    mail.reject.add(to[3])
    mail.defer_once.add(to[5])
    d = Deliverer(url, mail.settings)
    d.drain()
    assert d.out["sent"] == 14 and d.out["failed"] == 1 and d.out["retry"] == 1
    assert mail.got[to[3]] == 0 and mail.got[to[5]] == 0 and all(mail.got[a] == 1 for a in to if a not in to[3:6:2])
    with psycopg.connect(url, autocommit=True) as con:
        st, att, wait = con.execute("SELECT status, attempts, not_before > now() + interval '20 seconds' "
                                    "FROM wayfare_outbox WHERE address = %s", [to[5]]).fetchone()
        assert (st, att, wait) == ("queued", 1, True)  # backed off, not hammered
        detail = con.execute("SELECT status, detail FROM wayfare_outbox WHERE address = %s", [to[3]]).fetchone()
        assert detail[0] == "failed" and "550" in detail[1]
        con.execute("UPDATE wayfare_outbox SET not_before = now() WHERE address = %s", [to[5]])  # time passes
    d.drain()  # the batch is not resent: only the deferred one goes
    assert mail.got[to[5]] == 1 and sum(mail.got.values()) == 15 and _status(url) == {"sent": 15, "failed": 1}
    d.close()


def test_an_erased_person_is_taken_out_of_the_queue(tmp_path, mail, postgres, monkeypatch):
    from wayfare.privacy import erase_person
    url = postgres()
    monkeypatch.setenv("WAYFARE_QUEUE_URL", url)
    with Store(tmp_path / "f.db") as st:
        sc = st.scope()
        enable_flow(sc, load_flow("order-confirmation"))
        _orders(sc, 0, 5)
        scan_triggers(sc)
        assert run_due(sc, settings=mail.settings, deliver=False)["queued"] == 5  # no worker has run yet
        out = erase_person(sc, "p2@example.org")
        assert out["removed"]["delivery_queue"] == 1
    with psycopg.connect(url) as con:
        row = con.execute("SELECT status, address, payload::text FROM wayfare_outbox WHERE person_id NOT IN "
                          "(SELECT person_id FROM wayfare_outbox WHERE address IS NOT NULL)").fetchall()
    assert row == [("cancelled", None, "{}")]
    d = Deliverer(url, mail.settings)
    d.drain()
    d.close()
    assert sum(mail.got.values()) == 4 and mail.got["p2@example.org"] == 0


def test_the_server_s_scheduler_queues_and_its_own_worker_delivers(tmp_path, mail, postgres, monkeypatch):
    from wayfare.automate import Scheduler
    from wayfare.automate.outbox import wait_for
    url = postgres()
    monkeypatch.setenv("WAYFARE_QUEUE_URL", url)
    monkeypatch.setenv("WAYFARE_SMTP_URL", mail.url)
    monkeypatch.setenv("WAYFARE_MAIL_FROM", "shop@example.org")
    with Store(tmp_path / "f.db") as st:
        sc = st.scope()
        enable_flow(sc, load_flow("order-confirmation"))
        s = Scheduler(st, interval=0.2).start()
        try:
            _orders(sc, 0, 12)  # arrive while the scheduler runs
            assert wait_for(lambda: sum(mail.got.values()) == 12, timeout=60)
            assert wait_for(lambda: sc.one("SELECT count(*) FROM sends WHERE status = 'sent'")[0] == 12, timeout=30)
        finally:
            s.stop()
    assert max(mail.got.values()) == 1 and _status(url) == {"sent": 12}


def test_a_failed_queued_send_retried_from_the_dead_letter_list_goes_out_once(tmp_path, mail, postgres, monkeypatch):
    from wayfare.channels.deadletter import failed_sends, retry_sends
    url = postgres()
    monkeypatch.setenv("WAYFARE_QUEUE_URL", url)
    mail.reject.add("p1@example.org")
    with Store(tmp_path / "f.db") as st:
        sc = st.scope()
        enable_flow(sc, load_flow("order-confirmation"))
        _orders(sc, 0, 3)
        scan_triggers(sc)
        run_due(sc, settings=mail.settings)
        dead = failed_sends(sc)
        assert [(d["to"][:1], d["status"]) for d in dead] == [("p", "failed")] and "550" in dead[0]["error"]
        mail.reject.clear()  # the mailbox exists now
        assert retry_sends(sc, dead[0]["key"])["retried"] == 1
        res = run_due(sc, settings=mail.settings)
        assert res["queued"] == 1 and res["delivered"] == 1
        assert failed_sends(sc) == [] and sc.one("SELECT count(*) FROM sends WHERE status = 'sent'")[0] == 3
    assert mail.got == {"p0@example.org": 1, "p1@example.org": 1, "p2@example.org": 1}


def test_sms_through_the_queue_carries_the_key_and_call_backs_find_the_send(tmp_path, postgres, monkeypatch):
    import datetime as dt

    from tests.channels.conftest import Recorder
    from tests.channels.test_sms import SID, TOKEN, Twilio
    from wayfare.automate import load_text
    from wayfare.ingest import to_row, write_rows
    url = postgres()
    t = Twilio()
    with Recorder(t) as rec, Store(tmp_path / "f.db") as st:
        monkeypatch.setenv("WAYFARE_QUEUE_URL", url)
        monkeypatch.setenv("WAYFARE_SMS_URL", f"http://{SID}:{TOKEN}@127.0.0.1:{rec.port}")
        monkeypatch.setenv("WAYFARE_SMS_FROM", "+14155550100")
        sc = st.scope()
        enable_flow(sc, load_text("name: sms-thanks\npurpose: transactional\ntrigger:\n  event: Order Completed\n"
                                  "steps:\n  - type: sms\n    text: \"Thanks for your order\"\n"))
        now = dt.datetime.now(dt.UTC)
        write_rows(sc, [to_row({"type": "identify", "userId": "ann", "traits": {"phone": "+14155550199"},
                                "messageId": "id-ann"}, now, "test"),
                        to_row({"type": "track", "userId": "ann", "event": "Order Completed", "messageId": "o-1",
                                "properties": {"order_id": "o1"}}, now, "test")])
        scan_triggers(sc)
        t.down = True  # the provider is down first: back in the queue, same key next time
        res = run_due(sc)
        assert res["queued"] == 1 and res["delivered"] == 0 and _status(url) == {"queued": 1}
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("UPDATE wayfare_outbox SET not_before = now()")  # time passes
        t.down = False
        res = run_due(sc)
        assert res["delivered"] == 1 and len(t.sent) == 1
        keys = {r["headers"]["Idempotency-Key"] for r in rec.requests}
        assert len(rec.requests) == 2 and len(keys) == 1  # one key on both tries
        sid = next(iter(t.sent.values()))["sid"]
        assert sc.one("SELECT person_id IS NOT NULL, flow FROM channel_messages WHERE provider_id = $p",
                      {"p": sid}) == (True, "sms-thanks")
        assert sc.one("SELECT count(*) FROM events WHERE event = 'SMS Sent'")[0] == 1
