"""SMS through a Twilio-compatible REST API, and its delivery-status callbacks.

Settings: ``WAYFARE_SMS_URL`` (``https://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com``; plain ``http://`` only
for a loopback test server) and ``WAYFARE_SMS_FROM`` (an E.164 number or a messaging service id).
``WAYFARE_PUBLIC_URL`` (where this server is reachable, e.g. ``https://shop.example.com``) turns on
status callbacks at ``/v1/channels/sms/status/{workspace_id}``.

A send is ``POST /2010-04-01/Accounts/{sid}/Messages.json`` (form-encoded ``To``, ``From``, ``Body``,
basic auth with the account sid and token) carrying the send's idempotency key in ``Idempotency-Key``
and ``I-Twilio-Idempotency-Token``. Answers: 201 → the provider's message sid; 4xx →
:class:`~.errors.Rejected` (the provider's error code in ``.code``; do not retry); 429, 5xx, timeouts
and refused connections → :class:`~.errors.Retryable`.

Callbacks are checked with Twilio's ``X-Twilio-Signature`` (HMAC-SHA1 of the URL and the sorted form
fields, keyed by the auth token); a permanent failure (unknown or landline number, carrier block, the
recipient texted STOP) puts the number on the suppression list.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import phonenumbers

from ..errors import ValidationError
from ..store import Scope
from .errors import Rejected, Retryable
from .records import message_of, note_channel_event, note_message, record_event

__all__ = ["SmsSettings", "sms_settings", "normalize_to", "send_sms", "twilio_signature", "handle_status",
           "PERMANENT_CODES"]

# Twilio error codes after which a number is not worth another try (reason kept on the suppression list)
PERMANENT_CODES = {"21211": "bounce", "21614": "bounce", "30004": "bounce", "30005": "bounce", "30006": "bounce",
                   "21610": "unsubscribe", "30007": "complaint"}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class SmsSettings:
    base_url: str
    account_sid: str
    auth_token: str
    sender: str
    public_url: str | None = None

    def __repr__(self) -> str:  # never print the token
        return f"SmsSettings({self.base_url!r}, {self.account_sid!r}, sender={self.sender!r})"


def sms_settings(url: str | None = None, sender: str | None = None) -> SmsSettings | None:
    """Settings from ``url`` or ``WAYFARE_SMS_URL`` (None when not configured)."""
    url = url if url is not None else os.environ.get("WAYFARE_SMS_URL")
    if not url:
        return None
    u = urlsplit(url)
    where = "WAYFARE_SMS_URL"
    if u.scheme not in ("https", "http") or not u.hostname or not u.username or not u.password:
        raise ValidationError("looks like https://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com", where=where)
    if u.scheme == "http" and u.hostname not in _LOOPBACK:
        raise ValidationError("plain http:// is only allowed for a loopback test server; use https://", where=where)
    frm = sender or os.environ.get("WAYFARE_SMS_FROM")
    if not frm:
        raise ValidationError("set WAYFARE_SMS_FROM to the sending number (E.164, e.g. +14155550100)",
                              where="WAYFARE_SMS_FROM")
    host = f"[{u.hostname}]" if ":" in u.hostname else u.hostname
    base = f"{u.scheme}://{host}" + (f":{u.port}" if u.port else "")
    public = os.environ.get("WAYFARE_PUBLIC_URL", "").rstrip("/") or None
    return SmsSettings(base, unquote(u.username), unquote(u.password), frm if frm.startswith("MG") else normalize_to(frm),
                       public)


def normalize_to(number: str, region: str | None = None) -> str:
    """E.164 (``+447700900123``), or a ValidationError naming the number."""
    region = region or os.environ.get("WAYFARE_DEFAULT_REGION") or "US"
    try:
        p = phonenumbers.parse(str(number), region)
    except phonenumbers.NumberParseException as e:
        raise ValidationError(f"{number!r} is not a phone number ({e})", where="to") from None
    if not phonenumbers.is_valid_number(p):
        raise ValidationError(f"{number!r} is not a valid phone number in region {region}", where="to")
    return phonenumbers.format_number(p, phonenumbers.PhoneNumberFormat.E164)


def send_sms(settings: SmsSettings, to: str, text: str, idempotency_key: str, *, timeout: float = 10.0,
             scope: Scope | None = None, person_id: str | None = None, flow: str | None = None,
             step: int | None = None, variant: str | None = None) -> str:
    """Send ``text`` to ``to``; returns the provider's message sid. With ``scope`` the sid is remembered
    with the send (so status callbacks find the person, flow and step)."""
    if not text or not text.strip():
        raise ValidationError("an SMS needs some text", where="body")
    number = normalize_to(to)
    form = {"To": number, "From": settings.sender, "Body": text}
    if settings.sender.startswith("MG"):
        form = {"To": number, "MessagingServiceSid": settings.sender, "Body": text}
    if settings.public_url and scope is not None:
        form["StatusCallback"] = f"{settings.public_url}/v1/channels/sms/status/{scope.workspace_id}"
    url = f"{settings.base_url}/2010-04-01/Accounts/{settings.account_sid}/Messages.json"
    headers = {"Idempotency-Key": idempotency_key, "I-Twilio-Idempotency-Token": idempotency_key,
               "User-Agent": "wayfare-sms/1"}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as c:
            r = c.post(url, data=form, headers=headers, auth=(settings.account_sid, settings.auth_token))
    except (httpx.TimeoutException, httpx.NetworkError) as e:
        raise Retryable(f"SMS provider {settings.base_url} unreachable ({type(e).__name__}: {e}); retry later") from None
    body: dict[str, Any] = {}
    try:
        body = r.json()
    except ValueError:
        pass
    if r.status_code in (200, 201) and body.get("sid"):
        if scope is not None:
            note_message(scope, "sms", body["sid"], str(body.get("status") or "queued"), send_id=idempotency_key,
                         person_id=person_id, flow=flow, step=step, variant=variant)
        return str(body["sid"])
    code = body.get("code")
    msg = body.get("message") or r.text[:200]
    if r.status_code == 429 or r.status_code >= 500:
        raise Retryable(f"SMS provider answered {r.status_code} ({msg}); retry later", status=r.status_code, code=code)
    raise Rejected(f"SMS to {number} refused by the provider: {r.status_code} code {code}: {msg}",
                   status=r.status_code, code=None if code is None else str(code))


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's ``X-Twilio-Signature`` for a form POST to ``url``."""
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def handle_status(scope: Scope, params: dict[str, str]) -> dict[str, Any]:
    """Record one status callback: the message's status, a channel event, a journey event for the person
    (``SMS Delivered`` / ``SMS Failed``) and, for a permanent failure, the number on the suppression list."""
    from ..privacy import suppress

    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    if not sid or not status:
        raise ValidationError("a status callback needs MessageSid and MessageStatus", where="form")
    code = params.get("ErrorCode") or None
    msg = message_of(scope, "sms", sid)
    note_message(scope, "sms", sid, status, detail=f"error {code}" if code else None,
                 **({"send_id": msg["send_id"], "person_id": msg["person_id"], "flow": msg["flow"],
                     "step": msg["step"], "variant": msg["variant"]} if msg else {}))
    note_channel_event(scope, "sms", status, sid, {"error_code": code})
    suppressed = None
    if status in ("failed", "undelivered") and code in PERMANENT_CODES and params.get("To"):
        suppressed = PERMANENT_CODES[code]
        suppress(scope, "sms", normalize_to(params["To"]), suppressed)
    if msg and status in ("delivered", "failed", "undelivered"):
        ev = "SMS Delivered" if status == "delivered" else "SMS Failed"
        props = {k: msg[k] for k in ("flow", "step", "variant") if msg[k] is not None}
        if code:
            props["error_code"] = code
        record_event(scope, msg["person_id"], ev, props, f"sms-{status}-{sid}", channel="sms")
    return {"sid": sid, "status": status, "suppressed": suppressed}
