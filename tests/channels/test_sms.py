"""SMS against a loopback server that answers like Twilio's Messages API."""

import base64
import threading
import uuid
from urllib.parse import parse_qs

import httpx
import orjson
import pytest

from tests.channels.conftest import LiveApp, Recorder, add_person, events_of
from wayfare.channels.errors import Rejected, Retryable
from wayfare.channels.sms import normalize_to, send_sms, sms_settings, twilio_signature
from wayfare.errors import ValidationError
from wayfare.privacy import is_suppressed

SID, TOKEN = "AC0123456789abcdef", "tok-secret"


class Twilio:
    """Twilio's answers: 201 with a sid, 401 code 20003, 400 code 21211 for the magic invalid number
    +15005550001, 21610 for the opted-out +15005550004; one sid per Idempotency-Key; 503 on demand."""

    def __init__(self):
        self.sent: dict[str, dict] = {}
        self.down = False
        self.lock = threading.Lock()

    def __call__(self, req):
        if self.down:
            return 503, {}, b'{"code": 20500, "message": "Internal Server Error", "status": 503}'
        auth = req["headers"].get("Authorization", "")
        if auth != "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode():
            return 401, {}, orjson.dumps({"code": 20003, "message": "Authenticate", "status": 401})
        if req["path"] != f"/2010-04-01/Accounts/{SID}/Messages.json":
            return 404, {}, orjson.dumps({"code": 20404, "message": "not found", "status": 404})
        form = {k: v[0] for k, v in parse_qs(req["body"].decode()).items()}
        to = form.get("To", "")
        if to == "+15005550001":
            return 400, {}, orjson.dumps({"code": 21211, "message": f"The 'To' number {to} is not a valid phone "
                                          "number.", "status": 400})
        if to == "+15005550004":
            return 400, {}, orjson.dumps({"code": 21610, "message": "Attempt to send to unsubscribed recipient",
                                          "status": 400})
        key = req["headers"].get("Idempotency-Key")
        with self.lock:
            if key in self.sent:
                return 201, {}, orjson.dumps(self.sent[key])
            doc = {"sid": "SM" + uuid.uuid4().hex, "status": "queued", "to": to, "from": form["From"],
                   "body": form["Body"], "status_callback": form.get("StatusCallback")}
            self.sent[key] = doc
        return 201, {"Content-Type": "application/json"}, orjson.dumps(doc)


@pytest.fixture
def twilio(monkeypatch):
    t = Twilio()
    with Recorder(t) as rec:
        monkeypatch.setenv("WAYFARE_SMS_URL", f"http://{SID}:{TOKEN}@127.0.0.1:{rec.port}")
        monkeypatch.setenv("WAYFARE_SMS_FROM", "+1 415 555 0100")
        yield t, rec


def test_send_sms_posts_twilio_form_with_basic_auth_and_e164(twilio):
    t, rec = twilio
    settings = sms_settings()
    assert settings.sender == "+14155550100" and TOKEN not in repr(settings)
    sid = send_sms(settings, "(415) 555-0199", "Your table is ready", "flow:e1:p1:0")
    assert sid.startswith("SM") and len(rec.requests) == 1
    form = {k: v[0] for k, v in parse_qs(rec.requests[0]["body"].decode()).items()}
    assert form == {"To": "+14155550199", "From": "+14155550100", "Body": "Your table is ready"}
    assert rec.requests[0]["headers"]["Idempotency-Key"] == "flow:e1:p1:0"
    # a retry with the same key gets the same message back, not a second one
    assert send_sms(settings, "+14155550199", "Your table is ready", "flow:e1:p1:0") == sid
    assert len(t.sent) == 1


def test_send_sms_4xx_is_rejected_with_the_provider_code(twilio):
    settings = sms_settings()
    with pytest.raises(Rejected, match="21211") as e:
        send_sms(settings, "+15005550001", "hi", "k1")
    assert e.value.status == 400 and e.value.code == "21211"
    bad = sms_settings(f"http://{SID}:wrong@127.0.0.1:{twilio[1].port}")
    with pytest.raises(Rejected, match="401 code 20003"):
        send_sms(bad, "+14155550199", "hi", "k2")


def test_send_sms_5xx_and_refused_connection_are_retryable(twilio):
    t, rec = twilio
    t.down = True
    with pytest.raises(Retryable, match="503"):
        send_sms(sms_settings(), "+14155550199", "hi", "k1")
    from tests.conftest import free_port

    gone = sms_settings(f"http://{SID}:{TOKEN}@127.0.0.1:{free_port()}")
    with pytest.raises(Retryable, match="unreachable"):
        send_sms(gone, "+14155550199", "hi", "k1")


@pytest.mark.parametrize("number", ["12", "not a number", "+1 555 0100 99999999"])
def test_normalize_to_refuses_bad_numbers_naming_them(number):
    with pytest.raises(ValidationError, match="to:"):
        normalize_to(number)


def test_sms_settings_refuse_plain_http_off_loopback_and_missing_parts(monkeypatch):
    monkeypatch.setenv("WAYFARE_SMS_FROM", "+14155550100")
    with pytest.raises(ValidationError, match="only allowed for a loopback"):
        sms_settings(f"http://{SID}:{TOKEN}@api.twilio.com")
    with pytest.raises(ValidationError, match="ACCOUNT_SID:AUTH_TOKEN"):
        sms_settings("https://api.twilio.com")
    assert sms_settings(f"https://{SID}:{TOKEN}@api.twilio.com").base_url == "https://api.twilio.com"


def test_status_callback_records_events_and_suppresses_permanent_failures(twilio, store, monkeypatch):
    sc = store.scope()
    with LiveApp(store) as app:
        monkeypatch.setenv("WAYFARE_PUBLIC_URL", app.url)
        settings = sms_settings()
        ana = add_person(sc, "ana", phone="+14155550123")
        bo = add_person(sc, "bo", phone="+14155550124")
        sid_a = send_sms(settings, "+14155550123", "hi", "f:e1:a:0", scope=sc, person_id=ana, flow="f", step=0)
        sid_b = send_sms(settings, "+14155550124", "hi", "f:e2:b:0", scope=sc, person_id=bo, flow="f", step=0)
        cb = f"{app.url}/v1/channels/sms/status/{sc.workspace_id}"
        assert twilio[0].sent["f:e1:a:0"]["status_callback"] == cb

        def post(params, sig=None):
            return httpx.post(cb, data=params, headers={"X-Twilio-Signature": sig or twilio_signature(TOKEN, cb, params)})

        ok = {"MessageSid": sid_a, "MessageStatus": "delivered", "To": "+14155550123", "AccountSid": SID}
        assert post(ok, sig="forged").status_code == 403
        assert events_of(sc, ana, "SMS Delivered") == []
        r = post(ok)
        assert r.status_code == 200 and r.json()["status"] == "delivered"
        assert post(ok).status_code == 200  # Twilio retries callbacks: the event is not doubled
        assert events_of(sc, ana, "SMS Delivered") == [{"flow": "f", "step": 0}]
        assert is_suppressed(sc, "sms", "+14155550123") is None

        bad = {"MessageSid": sid_b, "MessageStatus": "undelivered", "ErrorCode": "30005", "To": "+14155550124"}
        assert post(bad).json()["suppressed"] == "bounce"
        assert is_suppressed(sc, "sms", "+1 415 555 0124") == "bounce"
        assert events_of(sc, bo, "SMS Failed") == [{"flow": "f", "step": 0, "error_code": "30005"}]
        st = sc.one("SELECT status, person_id FROM channel_messages WHERE provider_id = $s", {"s": sid_b})
        assert st == ("undelivered", bo)
