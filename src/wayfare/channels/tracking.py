"""Signed links: one-click unsubscribe, the open pixel, click redirects and double opt-in confirmations.

A token is ``base64url(json payload) "." base64url(HMAC-SHA256(workspace secret, kind "." payload)[:20])``.
The payload holds ids only (workspace, person, send, flow, step, variant; the target URL for a click),
never an address. The per-workspace secret lives in the store (made on first use), so a token cannot be
forged or enumerated (160-bit MAC) and does not expire: an unsubscribe link works 90 days later and for
as long as the workspace exists. A click token only ever redirects to the URL it signed (no open redirect).

Links point at ``WAYFARE_PUBLIC_URL`` (``https://shop.example.com``; RFC 8058 wants https for
``List-Unsubscribe``) unless a ``base_url`` is given.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html as htmlmod
import os
import re
import uuid
from typing import Any

import orjson

from ..errors import NotFound, ValidationError
from ..store import Scope, Store
from .records import note_channel_event, record_event, workspace_secret

__all__ = ["make_token", "read_token", "link", "unsubscribe_url", "decorate", "unsubscribe", "record_open",
           "record_click", "public_url", "KINDS"]

KINDS = {"u": "unsubscribe", "o": "open", "c": "click", "i": "optin"}
_HREF = re.compile(r"""(\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
_BARE = re.compile(r"""https?://[^\s<>"')\]]+""")


def public_url(base_url: str | None = None) -> str:
    base = (base_url or os.environ.get("WAYFARE_PUBLIC_URL") or "").rstrip("/")
    if not base:
        raise ValidationError("set WAYFARE_PUBLIC_URL to where this server is reachable (https://shop.example.com) "
                              "so unsubscribe and tracking links can point at it", where="WAYFARE_PUBLIC_URL")
    return base


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _mac(secret: bytes, kind: str, payload: str) -> str:
    return _b64(hmac.new(secret, f"{kind}.{payload}".encode(), hashlib.sha256).digest()[:20])


def make_token(scope: Scope, kind: str, data: dict[str, Any]) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown token kind {kind!r}")
    payload = _b64(orjson.dumps({"w": scope.workspace_id, **{k: v for k, v in data.items() if v is not None}}))
    return f"{payload}.{_mac(workspace_secret(scope), kind, payload)}"


def read_token(store: Store, token: str, kind: str) -> tuple[Scope, dict[str, Any]]:
    """The scope and payload of a valid token; NotFound for anything forged, altered or unknown."""
    try:
        payload, mac = token.split(".", 1)
        data = orjson.loads(_unb64(payload))
        ws = data["w"]
        if not isinstance(ws, str) or not ws.startswith("ws_"):
            raise ValueError(ws)
        scope = store.scope(ws)
    except (ValueError, KeyError, TypeError, NotFound, orjson.JSONDecodeError):
        raise NotFound("this link is not valid (it may have been cut short by the mail program)") from None
    if not hmac.compare_digest(_mac(workspace_secret(scope), kind, payload), mac):
        raise NotFound("this link is not valid (it may have been cut short by the mail program)")
    return scope, data


def link(scope: Scope, kind: str, data: dict[str, Any], base_url: str | None = None) -> str:
    path = {"u": "u", "o": "o", "c": "c", "i": "optin"}[kind]
    return f"{public_url(base_url)}/t/{path}/{make_token(scope, kind, data)}"


def unsubscribe_url(scope: Scope, person_id: str, channel: str = "email", *, send_id: str | None = None,
                    flow: str | None = None, step: int | None = None, variant: str | None = None,
                    base_url: str | None = None) -> str:
    """The signed one-click unsubscribe link (the worker passes the same flow/step/variant as :func:`decorate`)."""
    meta = {"p": person_id, "ch": channel, "s": send_id, "f": flow, "st": step}
    if variant is not None:
        meta["v"] = variant
    return link(scope, "u", meta, base_url)


def decorate(body: str, scope: Scope, send_id: str, person_id: str, *, html: bool = True, flow: str | None = None,
             step: int | None = None, variant: str | None = None, base_url: str | None = None) -> str:
    """Route every http(s) link through a signed click redirect and (HTML) add the open pixel."""
    base = public_url(base_url)
    meta = {"p": person_id, "s": send_id, "f": flow, "st": step, "v": variant}

    def wrap(url: str) -> str:
        if url.startswith(f"{base}/t/"):
            return url  # our own unsubscribe / opt-in links stay as they are
        return link(scope, "c", {**meta, "u": url}, base)

    if html:
        out = _HREF.sub(lambda m: m.group(1) + m.group(2) + htmlmod.escape(wrap(htmlmod.unescape(m.group(3)))) +
                        m.group(2), body)
        pixel = (f'<img src="{htmlmod.escape(link(scope, "o", meta, base))}" width="1" height="1" alt="" '
                 'style="display:block;border:0">')
        i = out.lower().rfind("</body>")
        return out[:i] + pixel + out[i:] if i >= 0 else out + pixel
    return _BARE.sub(lambda m: wrap(m.group(0)), body)


def _props(data: dict[str, Any]) -> dict[str, Any]:
    names = {"f": "flow", "st": "step", "v": "variant", "s": "send_id", "ch": "channel"}
    return {names[k]: data[k] for k in names if data.get(k) is not None}


def unsubscribe(scope: Scope, data: dict[str, Any], source: str = "one-click unsubscribe") -> dict[str, Any]:
    """Withdraw marketing consent on the token's channel, suppress the address at once and record
    ``Unsubscribed``. Repeating it changes nothing."""
    from ..privacy import audit, consent_status, record_consent, suppress

    pid, channel = data.get("p"), data.get("ch", "email")
    if not pid:
        raise NotFound("this link is not valid")
    row = scope.one("SELECT traits FROM profiles WHERE person_id = $p", {"p": pid})
    traits = orjson.loads(row[0]) if row and row[0] else {}
    address = traits.get("email") if channel == "email" else traits.get("phone")
    if not address:
        kind = "email" if channel == "email" else "phone"
        r = scope.one("SELECT value FROM identities WHERE person_id = $p AND kind = $k LIMIT 1", {"p": pid, "k": kind})
        address = r[0] if r else None
    if consent_status(scope, pid, channel, "marketing") != "withdrawn":
        record_consent(scope, pid, channel, "marketing", "withdrawn", source=source,
                       wording="Unsubscribe from marketing " + ("email" if channel == "email" else "messages"))
    if address:
        suppress(scope, channel, str(address), "unsubscribe")
    note_channel_event(scope, channel, "unsubscribe", data.get("s"), _props(data))
    record_event(scope, pid, "Unsubscribed", {"channel": channel, **_props(data)},
                 f"unsub-{channel}-{data.get('s') or pid}", channel=channel)
    audit(scope, "recipient", "unsubscribe", pid, {"channel": channel, "source": source})
    return {"person_id": pid, "channel": channel, "suppressed": bool(address)}


def record_open(scope: Scope, data: dict[str, Any]) -> None:
    record_event(scope, data.get("p"), "Email Opened", _props(data), f"open-{uuid.uuid4().hex}")


def record_click(scope: Scope, data: dict[str, Any]) -> str:
    url = str(data.get("u") or "")
    if not re.match(r"^https?://", url, re.IGNORECASE):
        raise NotFound("this link is not valid")
    record_event(scope, data.get("p"), "Email Link Clicked", {"url": url, **_props(data)}, f"click-{uuid.uuid4().hex}")
    return url
