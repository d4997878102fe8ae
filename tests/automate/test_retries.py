"""Sends that heal themselves (issues 6 and 9): transient failures wait with backoff in the entry's wake_at
and go out once when the other side is back; permanent ones fail at once into the dead-letter list, where
a retry puts them back in line. Real parts: aiosmtpd on loopback (down, 451, 550), real HTTP servers on
loopback for webhooks and a Twilio-compatible SMS API, a real DuckDB file."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import smtplib
import threading

import orjson
import pytest
from aiosmtpd.controller import Controller

from tests.channels.conftest import Recorder
from tests.conftest import free_port
from wayfare.automate import enable_flow, load_text, run_due, run_until, scan_triggers, trace
from wayfare.channels import smtp_settings
from wayfare.channels.deadletter import failed_sends, mask_address, retry_sends
from wayfare.channels.errors import Rejected, Retryable, TargetRefused
from wayfare.channels.retry import RetryPolicy, classify
from wayfare.errors import NotFound, ValidationError

from .conftest import T, events, ok, people

T0 = "2026-11-02T10:00:00"


class Scripted:
    """An SMTP server whose answers to RCPT and to the end of DATA come from scripts (the last one repeats)."""

    def __init__(self, rcpt: list[str] | None = None, data: list[str] | None = None):
        self.rcpt, self.data = rcpt or ["250 OK"], data or ["250 OK"]
        self.n_rcpt = self.n_data = 0
        self.accepted: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            answer = self.rcpt[min(self.n_rcpt, len(self.rcpt) - 1)]
            self.n_rcpt += 1
        if answer.startswith("250"):
            envelope.rcpt_tos.append(address)
        return answer

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            answer = self.data[min(self.n_data, len(self.data) - 1)]
            self.n_data += 1
            if answer.startswith("250"):
                self.accepted.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return answer


def _server(handler, port: int) -> Controller:
    c = Controller(handler, hostname="127.0.0.1", port=port)
    c.start()
    return c


def _flow(scope, yaml_text: str, at: str = "2026-11-01T00:00:00") -> None:
    enable_flow(scope, load_text(yaml_text), since=T(at))


def _row(scope, step: int = 0) -> dict:
    r = scope.one("SELECT status, attempts, detail, first_failed_at, entry_id FROM sends WHERE step = $s", {"s": step})
    assert r is not None
    return dict(zip(("status", "attempts", "detail", "first_failed_at", "entry_id"), r, strict=True))


def _wake(scope, entry_id: str) -> dt.datetime | None:
    return scope.one("SELECT wake_at FROM flow_entries WHERE entry_id = $e", {"e": entry_id})[0]


MAIL = "name: conf\npurpose: transactional\ntrigger: {event: Paid}\nsteps:\n  - {type: email, subject: 'Paid', text: thanks}\n"


# -- the policy as a value --------------------------------------------------------------------------------
@pytest.mark.parametrize("err,kind", [
    (ConnectionRefusedError(111, "Connection refused"), "transient"),
    (TimeoutError("timed out"), "transient"),
    (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), "transient"),
    (smtplib.SMTPDataError(451, b"4.3.0 try later"), "transient"),
    (smtplib.SMTPRecipientsRefused({"a@x.org": (450, b"mailbox busy")}), "transient"),
    (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"no such user")}), "permanent"),
    (smtplib.SMTPDataError(554, b"5.7.1 spam"), "permanent"),
    (smtplib.SMTPSenderRefused(553, b"bad sender", "shop@x.org"), "permanent"),
    (smtplib.SMTPAuthenticationError(535, b"bad credentials"), "transient"),  # a setting to fix, not the recipient
    (Retryable("SMS provider answered 503", status=503), "transient"),
    (Retryable("SMS provider answered 429", status=429), "transient"),
    (Rejected("refused: 400 code 21211", status=400), "permanent"),
    (TargetRefused("resolves to 10.0.0.1 (private)"), "permanent"),
    (ValidationError("'abc' is not a phone number", where="to"), "permanent"),
])
def test_classify_sorts_channel_errors_into_transient_and_permanent(err, kind):
    assert classify(err) == kind


def test_backoff_doubles_from_a_minute_caps_at_an_hour_and_gives_up_after_the_limit():
    p, now, err = RetryPolicy(), T(T0), ConnectionRefusedError(111, "Connection refused")
    waits = [p.decide(err, n, now, now, rnd=0.0).wake_at - now for n in range(1, 10)]
    assert [w.total_seconds() / 60 for w in waits] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert p.delay(1, rnd=1.0) == dt.timedelta(seconds=75)  # jitter stretches by at most a quarter
    assert p.delay(9, rnd=1.0) == dt.timedelta(hours=1)  # never beyond the cap
    last = p.decide(err, 10, now, now)
    assert last.verdict == "give_up" and last.reason == "gave up after 10 attempts: ConnectionRefusedError: " \
                                                        "[Errno 111] Connection refused"
    assert p.decide(err, 3, now - dt.timedelta(hours=24), now).verdict == "give_up"  # or 24 h after the first
    assert p.decide(smtplib.SMTPDataError(550, b"no"), 1, None, now).verdict == "fail"


def test_addresses_are_masked_in_the_dead_letter_list():
    assert mask_address("email", "ann.lee@example.org") == "a***@example.org"
    assert mask_address("sms", "+447700900123") == "+44********23"
    assert mask_address("webhook", "https://hooks.example.com/t/SECRET?k=1") == "https://hooks.example.com/…"


# -- email ------------------------------------------------------------------------------------------------
def test_smtp_down_then_back_the_entry_sleeps_with_backoff_and_the_email_goes_out_once(scope):
    port = free_port()  # nothing listens: connection refused
    settings = smtp_settings(f"smtp://127.0.0.1:{port}", "shop@example.org")
    people(scope, {"ann": {"email": "ann@example.org"}})
    _flow(scope, MAIL)
    events(scope, [("ann", "Paid", T0)])
    t = T(T0)
    scan_triggers(scope, t)
    assert run_due(scope, t, settings=settings)["retrying"] == 1
    r = _row(scope)
    assert (r["status"], r["attempts"], r["first_failed_at"]) == ("intent", 1, t)
    assert "Connection refused" in r["detail"]
    wake = _wake(scope, r["entry_id"])
    assert t + dt.timedelta(minutes=1) <= wake <= t + dt.timedelta(seconds=80) and wake.second % 10 == 0
    assert run_due(scope, t + dt.timedelta(seconds=30), settings=settings)["due"] == 0  # not on every pass
    assert run_due(scope, wake, settings=settings)["retrying"] == 1
    wake2 = _wake(scope, r["entry_id"])
    assert dt.timedelta(minutes=2) <= wake2 - wake <= dt.timedelta(seconds=160)
    assert _row(scope)["attempts"] == 2
    box = Scripted()
    c = _server(box, port)
    try:
        res = run_until(scope, t + dt.timedelta(hours=1), start=wake2 - dt.timedelta(seconds=1), settings=settings)
        res2 = run_until(scope, t + dt.timedelta(hours=3), start=t + dt.timedelta(hours=1), settings=settings)
    finally:
        c.stop()
    assert res["sent"] == 1 and res2["sent"] == 0
    assert [m["Subject"] for m in box.accepted] == ["Paid"]
    r = _row(scope)
    assert (r["status"], r["attempts"]) == ("sent", 2)  # two failed tries, then the one that went out
    log = [x for x in trace(scope) if x["action"] == "email"]
    assert [x["outcome"] for x in reversed(log)] == ["retry", "retry", "sent"]
    assert failed_sends(scope) == []


def test_451_at_the_end_of_data_is_retried_not_uncertain_then_250_delivers_once(scope):
    port = free_port()
    box = Scripted(data=["451 4.3.0 Temporary local problem, try later", "250 OK queued"])
    c = _server(box, port)
    settings = smtp_settings(f"smtp://127.0.0.1:{port}", "shop@example.org")
    try:
        people(scope, {"ann": {"email": "ann@example.org"}})
        _flow(scope, MAIL)
        events(scope, [("ann", "Paid", T0)])
        t = T(T0)
        scan_triggers(scope, t)
        assert run_due(scope, t, settings=settings)["retrying"] == 1
        r = _row(scope)  # the server answered 451 to the terminator: it did not take it (not "uncertain")
        assert (r["status"], r["attempts"]) == ("intent", 1) and "451" in r["detail"]
        run_until(scope, t + dt.timedelta(hours=1), start=t, settings=settings)
    finally:
        c.stop()
    assert box.n_data == 2 and len(box.accepted) == 1
    assert _row(scope)["status"] == "sent"


def test_451_to_rcpt_then_250_delivers_once(scope):
    port = free_port()
    box = Scripted(rcpt=["451 4.7.1 greylisted, come back later", "250 OK"])
    c = _server(box, port)
    settings = smtp_settings(f"smtp://127.0.0.1:{port}", "shop@example.org")
    try:
        people(scope, {"ann": {"email": "ann@example.org"}})
        _flow(scope, MAIL)
        events(scope, [("ann", "Paid", T0)])
        run_until(scope, T(T0) + dt.timedelta(hours=1), start=T(T0), settings=settings)
    finally:
        c.stop()
    assert box.n_rcpt == 2 and len(box.accepted) == 1
    assert (_row(scope)["status"], _row(scope)["attempts"]) == ("sent", 1)


def test_a_send_that_keeps_failing_gives_up_after_the_limit_into_the_dead_letter_list(scope):
    settings = smtp_settings(f"smtp://127.0.0.1:{free_port()}", "shop@example.org")
    people(scope, {"ann": {"email": "ann@example.org"}})
    _flow(scope, MAIL)
    events(scope, [("ann", "Paid", T0)])
    res = run_until(scope, T(T0) + dt.timedelta(hours=30), start=T(T0), settings=settings)
    assert res["retrying"] == 9 and res["failed"] == 1 and res["sent"] == 0
    r = _row(scope)
    assert r["status"] == "failed" and r["attempts"] == 10
    assert r["detail"].startswith("gave up after 10 attempts: ConnectionRefusedError")
    (dl,) = failed_sends(scope)
    assert (dl["flow"], dl["channel"], dl["to"], dl["attempts"]) == ("conf", "email", "a***@example.org", 10)
    assert scope.one("SELECT status FROM flow_entries")[0] == "done"


def test_550_fails_at_once_is_listed_and_cli_retry_sends_it_once_when_accepted(scope, store, monkeypatch, tmp_path):
    port = free_port()
    box = Scripted(rcpt=["550 5.1.1 no such user"])
    c = _server(box, port)
    monkeypatch.setenv("WAYFARE_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("WAYFARE_MAIL_FROM", "shop@example.org")
    db = store.path
    try:
        people(scope, {"ann": {"email": "ann@example.org"}})
        _flow(scope, MAIL)
        events(scope, [("ann", "Paid", T0)])
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        store.close()
        res = ok(f"--db={db}", "flows", "run-due", "--until", now.isoformat())
        assert res["failed"] == 1 and res["sent"] == 0 and res.get("retrying", 0) == 0 and box.n_rcpt == 1
        dl = ok(f"--db={db}", "flows", "failed")
        assert dl["count"] == 1
        row = dl["failed"][0]
        assert (row["status"], row["attempts"], row["to"]) == ("failed", 1, "a***@example.org")
        assert "550" in row["error"] and "no such user" in row["error"]
        box.rcpt = ["250 OK"]  # the mailbox exists now
        got = ok(f"--db={db}", "flows", "retry", row["key"], "--by", "owner@shop.example")
        assert got["retried"] == 1
        assert ok(f"--db={db}", "flows", "failed")["count"] == 0
        ok(f"--db={db}", "flows", "run-due")
        ok(f"--db={db}", "flows", "run-due", "--until", (now + dt.timedelta(hours=2)).isoformat())
        assert [m["To"] for m in box.accepted] == ["ann@example.org"]
        log = ok(f"--db={db}", "flows", "trace")["log"]
        assert [x["outcome"] for x in reversed(log) if x["action"] == "email"] == ["failed", "retry requested", "sent"]
        again = ok(f"--db={db}", "flows", "run-due", "--until", (now + dt.timedelta(hours=5)).isoformat())
        assert again["sent"] == 0 and len(box.accepted) == 1
    finally:
        c.stop()
        from wayfare.cli._common import close_store
        close_store()
    from wayfare.store import Store
    with Store(db) as s:
        audit = s.scope().rows("SELECT actor, action, subject FROM audit_log WHERE action = 'automate.send.retry'")
    assert audit == [("owner@shop.example", "automate.send.retry", row["key"])]


def test_uncertain_sends_are_retried_only_with_force(scope):
    people(scope, {"ann": {"email": "ann@example.org"}})
    _flow(scope, MAIL)
    events(scope, [("ann", "Paid", T0)])
    settings = smtp_settings(f"smtp://127.0.0.1:{free_port()}", "shop@example.org")
    scan_triggers(scope, T(T0))
    run_due(scope, T(T0), settings=settings)
    scope.store.cursor().execute("UPDATE sends SET status = 'uncertain'")
    key = failed_sends(scope)[0]["key"]
    with pytest.raises(ValidationError, match="may already have been delivered"):
        retry_sends(scope, key)
    assert retry_sends(scope, all_failed=True)["retried"] == 0  # --all-failed leaves uncertain ones alone
    assert retry_sends(scope, key, force=True)["sends"] == [{"key": key, "flow": "conf", "channel": "email",
                                                              "was": "uncertain"}]
    with pytest.raises(ValidationError, match="only failed"):
        retry_sends(scope, key)  # it is an intent again
    with pytest.raises(NotFound):
        retry_sends(scope, "conf:nope:nope:0")


# -- webhooks ---------------------------------------------------------------------------------------------
HOOK = "name: hook\npurpose: transactional\ntrigger: {event: Paid}\nsteps:\n  - {type: webhook, url: '%s/orders'}\n"


@pytest.fixture
def hooks_env(monkeypatch):
    monkeypatch.setenv("WAYFARE_WEBHOOK_ALLOW_PRIVATE", "1")  # the receivers are on loopback
    monkeypatch.setenv("WAYFARE_WEBHOOK_SECRET", "s3cret")


def test_webhook_503_twice_then_200_is_delivered_once_with_the_same_idempotency_key(scope, hooks_env):
    with Recorder([(503, {}, b"busy"), (503, {}, b"busy"), (200, {}, b"ok")]) as rec:
        people(scope, {"ann": {"email": "ann@example.org"}})
        _flow(scope, HOOK % rec.url)
        events(scope, [("ann", "Paid", T0)])
        res = run_until(scope, T(T0) + dt.timedelta(hours=1), start=T(T0))
    assert len(rec.requests) == 3 and res["sent"] == 1 and res["retrying"] == 2
    keys = {r["headers"]["Idempotency-Key"] for r in rec.requests}
    assert len(keys) == 1 and keys.pop().startswith("hook:")
    assert orjson.loads(rec.requests[0]["body"]) == orjson.loads(rec.requests[2]["body"])
    r = _row(scope)
    assert (r["status"], r["attempts"]) == ("sent", 2)  # two failed tries
    retries = [x["at"] for x in reversed(trace(scope)) if x["outcome"] == "retry"]
    assert retries[1] - retries[0] >= dt.timedelta(minutes=1)  # the second try waited for the backoff


def test_webhook_400_fails_at_once(scope, hooks_env):
    with Recorder([(400, {}, b"bad")]) as rec:
        people(scope, {"ann": {"email": "ann@example.org"}})
        _flow(scope, HOOK % rec.url)
        events(scope, [("ann", "Paid", T0)])
        res = run_until(scope, T(T0) + dt.timedelta(hours=1), start=T(T0))
    assert len(rec.requests) == 1 and res["failed"] == 1 and res.get("retrying", 0) == 0
    r = _row(scope)
    assert r["status"] == "failed" and "400" in r["detail"]
    assert failed_sends(scope)[0]["to"] == f"http://127.0.0.1:{rec.port}/…"


def test_webhook_to_a_private_address_fails_at_once_without_a_request(scope, monkeypatch):
    monkeypatch.delenv("WAYFARE_WEBHOOK_ALLOW_PRIVATE", raising=False)
    monkeypatch.setenv("WAYFARE_WEBHOOK_SECRET", "s3cret")
    with Recorder() as rec:
        people(scope, {"ann": {"email": "ann@example.org"}})
        _flow(scope, HOOK % rec.url)
        events(scope, [("ann", "Paid", T0)])
        res = run_until(scope, T(T0) + dt.timedelta(hours=1), start=T(T0))
    assert rec.requests == [] and res["failed"] == 1
    assert "loopback" in _row(scope)["detail"]


# -- SMS --------------------------------------------------------------------------------------------------
SMS = "name: txt\npurpose: transactional\ntrigger: {event: Paid}\nsteps:\n  - {type: sms, text: 'Thanks!'}\n"


def test_sms_503_then_201_goes_out_once_and_the_provider_sid_finds_the_send(scope, monkeypatch):
    from tests.channels.test_sms import SID, TOKEN, Twilio
    from wayfare.channels.sms import handle_status

    tw = Twilio()
    tw.down = True
    calls = []

    def answer(req):
        calls.append(req["headers"].get("Idempotency-Key"))
        if len(calls) == 2:
            tw.down = False
        return tw(req)

    with Recorder(answer) as rec:
        monkeypatch.setenv("WAYFARE_SMS_URL", f"http://{SID}:{TOKEN}@127.0.0.1:{rec.port}")
        monkeypatch.setenv("WAYFARE_SMS_FROM", "+1 415 555 0100")
        people(scope, {"ann": {"phone": "+14155550123"}})
        _flow(scope, SMS)
        events(scope, [("ann", "Paid", T0)])
        res = run_until(scope, T(T0) + dt.timedelta(hours=1), start=T(T0))
    assert res["sent"] == 1 and res["retrying"] == 1 and len(calls) == 2 and len(set(calls)) == 1
    ((key, doc),) = tw.sent.items()
    assert key == calls[0] and doc["body"] == "Thanks!"
    r = _row(scope)
    assert (r["status"], r["attempts"], r["detail"]) == ("sent", 1, doc["sid"])
    msg = scope.one("SELECT send_id, flow, step FROM channel_messages WHERE provider_id = $s", {"s": doc["sid"]})
    assert msg == (key, "txt", 0)
    assert handle_status(scope, {"MessageSid": doc["sid"], "MessageStatus": "delivered"})["status"] == "delivered"


def test_sms_refused_by_the_provider_fails_at_once(scope, monkeypatch):
    from tests.channels.test_sms import SID, TOKEN, Twilio

    with Recorder(Twilio()) as rec:
        monkeypatch.setenv("WAYFARE_SMS_URL", f"http://{SID}:{TOKEN}@127.0.0.1:{rec.port}")
        monkeypatch.setenv("WAYFARE_SMS_FROM", "+1 415 555 0100")
        people(scope, {"ann": {"phone": "+15005550001"}})  # Twilio's magic invalid number: 400 code 21211
        _flow(scope, SMS)
        events(scope, [("ann", "Paid", T0)])
        res = run_until(scope, T(T0) + dt.timedelta(hours=1), start=T(T0))
    assert res["failed"] == 1 and len(rec.requests) == 1
    assert "21211" in _row(scope)["detail"]


# -- List-Unsubscribe --------------------------------------------------------------------------------------
def test_list_unsubscribe_only_on_marketing_mail(scope, monkeypatch):
    monkeypatch.setenv("WAYFARE_PUBLIC_URL", "https://shop.example.com")
    port = free_port()
    box = Scripted()
    c = _server(box, port)
    settings = smtp_settings(f"smtp://127.0.0.1:{port}", "shop@example.org")
    try:
        people(scope, {"ann": {"email": "ann@example.org", "email_marketing": "subscribed",
                               "timezone": "Europe/London"}})
        _flow(scope, MAIL)
        _flow(scope, "name: promo\npurpose: marketing\ntrigger: {event: Paid}\nsteps:\n"
                     "  - {type: email, subject: 'Promo', text: 'more'}\n")
        events(scope, [("ann", "Paid", T0)])
        run_until(scope, T(T0) + dt.timedelta(hours=1), start=T(T0), settings=settings)
    finally:
        c.stop()
    got = {str(m["Subject"]): m for m in box.accepted}
    assert set(got) == {"Paid", "Promo"}
    assert got["Paid"]["List-Unsubscribe"] is None and got["Paid"]["List-Unsubscribe-Post"] is None
    assert str(got["Promo"]["List-Unsubscribe"]).startswith("<https://shop.example.com/")
    assert str(got["Promo"]["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"


# -- a bounce finds the flow email it answers -------------------------------------------------------------
def test_a_bounce_of_a_flow_email_finds_its_send_by_message_id(scope):
    from tests.channels.test_bounces import DSN
    from wayfare.channels.bounces import process_bytes

    port = free_port()
    box = Scripted()
    c = _server(box, port)
    try:
        people(scope, {"gone": {"email": "gone@example.org"}})
        _flow(scope, MAIL)
        events(scope, [("gone", "Paid", T0)])
        run_until(scope, T(T0) + dt.timedelta(hours=1), start=T(T0),
                  settings=smtp_settings(f"smtp://127.0.0.1:{port}", "shop@example.org"))
    finally:
        c.stop()
    (m,) = box.accepted
    mid = str(m["Message-ID"])
    assert mid.endswith("@wayfare>")
    assert process_bytes(scope, DSN.replace(b"<abc123@wayfare>", mid.encode()))["hard_bounce"] == 1
    pid = scope.one("SELECT person_id FROM sends")[0]
    got = scope.rows("SELECT properties FROM events WHERE person_id = $p AND event = 'Email Bounced'", {"p": pid})
    assert [orjson.loads(r[0]) for r in got] == [{"flow": "conf", "step": 0, "status": "5.1.1"}]
