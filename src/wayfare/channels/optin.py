"""Double opt-in for marketing email: a confirmation link is mailed, and consent is recorded (with
purpose, source, the exact wording and the time) only when the person confirms.

The link (``/t/optin/{token}``) opens a page with a confirm button; the POST from that button records the
consent. A GET alone never confirms, so a mail scanner that follows links cannot opt anyone in.
Until then the person's latest consent record is ``pending`` (not consent), so no marketing mail goes to them
even when an imported trait says "subscribed".
"""

from __future__ import annotations

import html
import secrets
from typing import Any

from ..errors import NotFound
from ..store import Scope, utcnow
from .email import SmtpSettings, build_message, deliver
from .records import note_channel_event, record_event
from .tracking import link

__all__ = ["request_optin", "confirm_optin", "optin_of"]


def request_optin(scope: Scope, person_id: str, address: str, wording: str, source: str, settings: SmtpSettings,
                  *, base_url: str | None = None, business: str = "us") -> str:
    """Store the request and mail the confirmation link; returns the opt-in id."""
    from ..privacy import record_consent

    oid = secrets.token_hex(12)
    # a "pending" record is not consent: it outranks a profile trait such as email_marketing=subscribed, so
    # no marketing mail goes out before the person confirms
    record_consent(scope, person_id, "email", "marketing", "pending", source=f"double opt-in requested ({source})",
                   wording=wording)
    scope.write("INSERT INTO main.optins VALUES ($__ws, $o, $p, 'email', 'marketing', $s, $w, $t, NULL)",
                {"o": oid, "p": person_id, "s": source, "w": wording, "t": utcnow()}, con=scope.store.cursor())
    url = link(scope, "i", {"o": oid}, base_url)
    text = (f"Please confirm that you want to hear from {business}.\n\nYou asked for: {wording}\n\n"
            f"Confirm here: {url}\n\nIf this was not you, ignore this message: nothing will be sent.\n")
    body = (f"<p>Please confirm that you want to hear from {html.escape(business)}.</p>"
            f"<p>You asked for: {html.escape(wording)}</p>"
            f'<p><a href="{html.escape(url)}">Confirm my subscription</a></p>'
            "<p>If this was not you, ignore this message: nothing will be sent.</p>")
    msg = build_message(settings, address, f"Please confirm your subscription to {business}", text, body,
                        f"<optin-{oid}@wayfare>")
    deliver(settings, msg)
    note_channel_event(scope, "email", "optin_requested", f"<optin-{oid}@wayfare>", {"optin_id": oid})
    return oid


def optin_of(scope: Scope, oid: str) -> dict[str, Any]:
    row = scope.one("SELECT person_id, channel, purpose, source, wording, requested_at, confirmed_at FROM optins "
                    "WHERE optin_id = $o", {"o": oid})
    if not row:
        raise NotFound("this confirmation link is not valid")
    return dict(zip(("person_id", "channel", "purpose", "source", "wording", "requested_at", "confirmed_at"), row,
                    strict=True))


def confirm_optin(scope: Scope, oid: str) -> dict[str, Any]:
    """Record the consent (once; a second click changes nothing) and an ``Opt-in Confirmed`` event."""
    from ..privacy import record_consent

    o = optin_of(scope, oid)
    if o["confirmed_at"] is None:
        now = utcnow()
        scope.write("UPDATE main.optins SET confirmed_at = $t WHERE workspace_id = $__ws AND optin_id = $o",
                    {"t": now, "o": oid}, con=scope.store.cursor())
        record_consent(scope, o["person_id"], o["channel"], o["purpose"], "granted",
                       source=f"double opt-in ({o['source']})", wording=o["wording"])
        record_event(scope, o["person_id"], "Opt-in Confirmed", {"channel": o["channel"], "source": o["source"]},
                     f"optin-{oid}")
        o["confirmed_at"] = now
    return o
