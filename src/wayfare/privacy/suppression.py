"""The suppression list and consent records: who must not be contacted, and what each person agreed to.

Addresses are kept only as salted hashes (the salt is per workspace), so the list can outlive an erased
person without holding their address.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from ..identity.normalize import normalize_email, normalize_phone
from ..store import Scope, utcnow

__all__ = ["transaction", "address_hash", "suppress", "unsuppress", "is_suppressed", "record_consent", "consent_status", "audit"]


def _salt(scope: Scope) -> str:
    con = scope.store.cursor()  # never the shared connection: another thread may be busy on it
    with scope.store.write_lock:
        row = con.execute("SELECT settings FROM workspaces WHERE id = ?", [scope.workspace_id]).fetchone()
        settings = orjson.loads(row[0]) if row and row[0] else {}
        if "suppression_salt" not in settings:
            settings["suppression_salt"] = secrets.token_hex(16)
            con.execute("UPDATE workspaces SET settings = ? WHERE id = ?", [orjson.dumps(settings).decode(),
                                                                          scope.workspace_id])
    return settings["suppression_salt"]


@contextmanager
def transaction(scope: Scope) -> Iterator[Any]:
    """A write transaction on a cursor of its own (the shared connection may be busy in another thread)."""
    with scope.store.write_cursor() as con:
        yield con


def _normal(channel: str, address: str) -> str:
    if channel == "email":
        return normalize_email(address) or address.strip().lower()
    if channel == "sms":
        return normalize_phone(address) or address.strip()
    return address.strip().lower()


def address_hash(scope: Scope, channel: str, address: str) -> str:
    return hashlib.sha256(f"{_salt(scope)}:{channel}:{_normal(channel, address)}".encode()).hexdigest()


def suppress(scope: Scope, channel: str, address: str, reason: str) -> None:
    """Never contact ``address`` on ``channel`` again (``reason``: unsubscribe, bounce, complaint, erased, manual).

    ``channel="any"`` blocks every channel: the address is kept hashed as each channel would hash it (so a look-up
    for ``email`` or ``sms`` finds it), under the channel name ``any``."""
    hashes = {address_hash(scope, ch, address) for ch in _CHANNELS} if channel == "any" else \
        {address_hash(scope, channel, address)}
    for h in sorted(hashes):
        scope.write(
            "INSERT OR IGNORE INTO main.suppressions VALUES ($__ws, $c, $h, $r, $t)",
            {"c": channel, "h": h, "r": reason, "t": utcnow()}, con=scope.store.cursor(),
        )


_CHANNELS = ("email", "sms", "any")


def unsuppress(scope: Scope, channel: str, address: str) -> None:
    chans = _CHANNELS if channel == "any" else (channel,)
    for h in sorted({address_hash(scope, ch, address) for ch in chans}):
        scope.write("DELETE FROM main.suppressions WHERE workspace_id = $__ws AND channel = $c AND address_hash = $h",
                    {"c": channel, "h": h}, con=scope.store.cursor())


def is_suppressed(scope: Scope, channel: str, address: str) -> str | None:
    """The reason ``address`` is suppressed on ``channel`` (or on every channel), else ``None``."""
    h = address_hash(scope, channel, address)
    row = scope.one("SELECT reason FROM suppressions WHERE channel IN ($c, 'any') AND address_hash = $h LIMIT 1",
                    {"c": channel, "h": h})
    return row[0] if row else None


def record_consent(scope: Scope, person_id: str, channel: str, purpose: str, status: str,
                   source: str | None = None, wording: str | None = None) -> None:
    scope.write(
        "INSERT INTO main.consents VALUES ($__ws, $p, $c, $u, $s, $src, $w, $t)",
        {"p": person_id, "c": channel, "u": purpose, "s": status, "src": source, "w": wording, "t": utcnow()},
        con=scope.store.cursor(),
    )


def consent_status(scope: Scope, person_id: str, channel: str, purpose: str = "marketing") -> str | None:
    """The latest recorded consent (granted / withdrawn / pending), falling back to the profile's
    ``email_marketing`` / ``sms_marketing`` trait ('subscribed' = granted) when no record exists."""
    row = scope.one(
        "SELECT status FROM consents WHERE person_id = $p AND channel = $c AND purpose = $u "
        "ORDER BY recorded_at DESC LIMIT 1",
        {"p": person_id, "c": channel, "u": purpose},
    )
    if row:
        return row[0]
    trait = {"email": "email_marketing", "sms": "sms_marketing"}.get(channel)
    if trait and purpose == "marketing":
        t = scope.one(f"SELECT traits->>'{trait}' FROM profiles WHERE person_id = $p", {"p": person_id})
        if t and t[0]:
            return "granted" if t[0] in ("subscribed", "granted", "yes", "true") else "withdrawn"
    return None


def audit(scope: Scope, actor: str, action: str, subject: str | None = None, detail: dict[str, Any] | None = None,
          con: Any = None) -> None:
    scope.write(
        "INSERT INTO main.audit_log VALUES ($__ws, $t, $a, $x, $s, $d)",
        {"t": utcnow(), "a": actor, "x": action, "s": subject, "d": orjson.dumps(detail or {}).decode()},
        con=con or scope.store.cursor(),
    )
