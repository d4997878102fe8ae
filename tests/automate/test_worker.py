import collections
import datetime as dt
import socket
import threading

import pytest
from aiosmtpd.controller import Controller

from wayfare.automate import EntryState, advance, enable_flow, load_flow, load_text, reconcile, run_due, scan_triggers
from wayfare.channels import smtp_settings
from wayfare.errors import ValidationError
from wayfare.ingest import to_row, write_rows
from wayfare.store import Store


class Sink:
    def __init__(self):
        self.got = collections.Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            for r in envelope.rcpt_tos:
                self.got[r] += 1
        return "250 OK"


@pytest.fixture
def smtp():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    sink = Sink()
    c = Controller(sink, hostname="127.0.0.1", port=port)
    c.start()
    yield sink, smtp_settings(f"smtp://127.0.0.1:{port}", "shop@example.org")
    c.stop()


def _orders(scope, lo, hi):
    now = dt.datetime.now(dt.UTC)
    rows = []
    for i in range(lo, hi):
        rows.append(to_row({"type": "identify", "userId": f"p{i}", "traits": {"email": f"p{i}@example.org"},
                            "messageId": f"id-{i}"}, now, "test"))
        rows.append(to_row({"type": "track", "userId": f"p{i}", "event": "Order Completed", "messageId": f"o-{i}",
                            "properties": {"order_id": f"o{i}", "revenue": 20}}, now, "test"))
    write_rows(scope, rows)


def test_order_confirmation_sends_exactly_once_per_order(tmp_path, smtp):
    sink, settings = smtp
    st = Store(tmp_path / "f.db")
    sc = st.scope()
    enable_flow(sc, load_flow("order-confirmation"))
    _orders(sc, 0, 20)
    assert scan_triggers(sc) == 20
    res = run_due(sc, settings=settings)
    assert res["sent"] == 20 and res["errors"] == 0
    assert scan_triggers(sc) == 0 and run_due(sc, settings=settings)["due"] == 0
    assert len(sink.got) == 20 and max(sink.got.values()) == 1
    st.close()


def test_intent_is_resent_but_final_is_reconciled_not_resent(tmp_path, smtp):
    sink, settings = smtp
    st = Store(tmp_path / "f.db")
    sc = st.scope()
    enable_flow(sc, load_flow("order-confirmation"))
    _orders(sc, 0, 2)
    scan_triggers(sc)
    ws = sc.workspace_id
    now = dt.datetime(2026, 1, 1)
    for i, status in ((0, "intent"), (1, "final")):
        st.con.execute("INSERT INTO main.sends (workspace_id, flow, entry_id, person_id, step, channel, address, "
                       "message_id, status, detail, created_at, updated_at) VALUES (?, 'order-confirmation', ?, "
                       "(SELECT person_id FROM flow_entries WHERE entry_id = ?), 0, 'email', NULL, 'm', ?, NULL, ?, ?)",
                       [ws, f"order-confirmation:o-{i}", f"order-confirmation:o-{i}", status, now, now])
    assert reconcile(sc) == 1
    run_due(sc, settings=settings)
    assert dict(sink.got) == {"p0@example.org": 1}
    st.close()


def test_wait_step_sleeps_then_moves_on():
    t = dt.datetime(2026, 1, 1)
    flow = load_text("name: w\ntrigger: {event: A}\nsteps:\n  - {type: wait, duration: 2d}\n  - {type: exit}\n")
    s = advance(flow, EntryState(0), t)
    assert s.next == 0 and s.wake_at == t + dt.timedelta(days=2)
    assert advance(flow, EntryState(0, s.wake_at), s.wake_at).next == 1


def test_yaml_error_names_the_line():
    with pytest.raises(ValidationError) as e:
        load_text("name: x\ntrigger:\n  event: A\nsteps:\n  - type: wait\n    duration: soon\n")
    assert ":5" in str(e.value.where) or ":6" in str(e.value.where)


def test_yaml_words_like_no_and_yes_stay_step_names():
    f = load_text("name: x\ntrigger:\n  event: A\nsteps:\n  - type: condition\n    if: {trait: vip, value: true}\n"
                  "    then: yes\n    else: no\n  - id: yes\n    type: exit\n  - id: no\n    type: exit\n")
    cond = f.steps[0]
    assert (cond.then, cond.else_, cond.if_.value) == ("yes", "no", True)
    assert f.index("no", -1) == 2 and f.index("yes", -1) == 1
