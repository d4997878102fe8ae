"""What a pass knows about a chunk of due entries, loaded with a few set-based queries instead of
about eight single-row reads per message: profiles, trigger events, existing send-log rows, consent,
suppression and the marketing count for the frequency cap.

The snapshot is taken right before the chunk is sent (a chunk is a few hundred entries, under a second
of sending), so policies are still checked at send time: an unsubscribe or a withdrawn consent that
lands while a chunk goes out is honoured from the next chunk on. Anything not in the snapshot (an
entry outside the chunk, a person whose traits a step just changed) falls back to the single-row reads.
Suppression hashes use the workspace salt read once per chunk and the same normalisation as
:func:`wayfare.privacy.address_hash` (a test checks that the two agree).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import orjson

from ..privacy import address_hash, consent_status, is_suppressed
from ..privacy.suppression import _normal
from ..store import Scope

__all__ = ["ChunkFacts"]

_GRANTED = ("subscribed", "granted", "yes", "true")
_TRAIT = {"email": "email_marketing", "sms": "sms_marketing"}


def _text(v: Any) -> str | None:
    """A trait as ``traits->>'name'`` gives it (JSON text for non-strings)."""
    if v is None:
        return None
    return v if isinstance(v, str) else orjson.dumps(v).decode()


class ChunkFacts:
    def __init__(self, scope: Scope, entries: list[tuple[str, str, str | None]], now: dt.datetime, cap_days: int):
        """``entries``: (entry_id, person_id, trigger message id) of the chunk."""
        self.scope, self.ws = scope, scope.workspace_id
        con = scope.store.cursor()
        pids = sorted({p for _, p, _ in entries})
        mids = sorted({m for _, _, m in entries if m})
        self.entry_ids = {e for e, _, _ in entries}
        self.people: dict[str, dict] = {
            p: (orjson.loads(t) if t else {}) for p, t in con.execute(
                "SELECT person_id, CAST(traits AS VARCHAR) FROM profiles WHERE workspace_id = ? AND "
                "list_contains(?, person_id)", [self.ws, pids]).fetchall()}
        self.events: dict[str, dict] = {}
        for mid, props, rev, name in con.execute(
                "SELECT message_id, CAST(properties AS VARCHAR), revenue, event FROM events WHERE workspace_id = ? "
                "AND list_contains(?, message_id)", [self.ws, mids]).fetchall():
            ev = orjson.loads(props) if props else {}
            if rev is not None:
                ev.setdefault("revenue", rev)
            ev.setdefault("name", name)
            self.events.setdefault(mid, ev)
        self.sends: dict[tuple, tuple] = {
            (f, e, p, s): (st, m) for f, e, p, s, st, m in con.execute(
                "SELECT flow, entry_id, person_id, step, status, message_id FROM sends WHERE workspace_id = ? AND "
                "list_contains(?, entry_id)", [self.ws, sorted(self.entry_ids)]).fetchall()}
        self.consents: dict[tuple, str] = {
            (p, c, u): s for p, c, u, s in con.execute(
                "SELECT person_id, channel, purpose, arg_max(status, recorded_at) FROM consents WHERE workspace_id = ? "
                "AND list_contains(?, person_id) GROUP BY ALL", [self.ws, pids]).fetchall()}
        self.recent: dict[str, int] = dict(con.execute(
            "SELECT person_id, count(*) FROM sends WHERE workspace_id = ? AND list_contains(?, person_id) AND "
            "purpose = 'marketing' AND status IN ('sent', 'final', 'uncertain', 'queued') AND created_at > ? GROUP BY 1",
            [self.ws, pids, now - dt.timedelta(days=cap_days)]).fetchall())
        self.salt = self._salt(con)
        if not self.salt:  # the first hash in a workspace creates its salt (privacy owns that): then read it
            address_hash(scope, "email", "salt@wayfare.invalid")
            self.salt = self._salt(con)
        self.hashes: dict[tuple[str, str], str] = {}
        for p in pids:
            traits = self.people.get(p, {})
            for ch, trait in (("email", "email"), ("sms", "phone")):
                if traits.get(trait) and self.salt:
                    self.hashes[(ch, str(traits[trait]))] = self._hash(ch, str(traits[trait]))
        self.suppressed: dict[tuple[str, str], str] = {}
        if self.hashes:
            for ch, h, reason in con.execute(
                    "SELECT channel, address_hash, reason FROM suppressions WHERE workspace_id = ? AND "
                    "list_contains(?, address_hash)", [self.ws, sorted(set(self.hashes.values()))]).fetchall():
                self.suppressed.setdefault((ch, h), reason)
        self.stale: set[str] = set()

    def _salt(self, con: Any) -> str | None:
        row = con.execute("SELECT settings FROM workspaces WHERE id = ?", [self.ws]).fetchone()
        return (orjson.loads(row[0]) if row and row[0] else {}).get("suppression_salt")

    def _hash(self, channel: str, address: str) -> str:
        return hashlib.sha256(f"{self.salt}:{channel}:{_normal(channel, address)}".encode()).hexdigest()

    def knows(self, person_id: str) -> bool:
        return person_id in self.people and person_id not in self.stale

    def forget(self, person_id: str) -> None:
        """A step changed this person's traits: read them afresh from now on."""
        self.stale.add(person_id)

    def person(self, person_id: str) -> dict:
        return dict(self.people[person_id])

    def event(self, message_id: str | None) -> dict | None:
        """The trigger event's properties, or None when it is not in the snapshot."""
        return dict(self.events[message_id]) if message_id in self.events else None

    def send_row(self, key: tuple) -> tuple | None | bool:
        """The send-log row for (flow, entry, person, step); False when the entry is not in the snapshot."""
        return self.sends.get(key) if key[1] in self.entry_ids else False

    def wrote(self, key: tuple, status: str, message_id: str | None = None) -> None:
        if key[1] in self.entry_ids:
            self.sends[key] = (status, message_id)

    def consent(self, person_id: str, channel: str, purpose: str) -> str | None:
        if not self.knows(person_id):
            return consent_status(self.scope, person_id, channel, purpose)
        if (person_id, channel, purpose) in self.consents:
            return self.consents[(person_id, channel, purpose)]
        trait = _TRAIT.get(channel)
        if trait and purpose == "marketing":
            t = _text(self.people[person_id].get(trait))
            if t:
                return "granted" if t in _GRANTED else "withdrawn"
        return None

    def is_suppressed(self, channel: str, address: str) -> str | None:
        h = self.hashes.get((channel, address))
        if h is None:  # an address outside the snapshot (an approver's edit, a webhook URL)
            return is_suppressed(self.scope, channel, address)
        return self.suppressed.get((channel, h)) or self.suppressed.get(("any", h))

    def marketing_sent(self, person_id: str) -> int:
        return self.recent.get(person_id, 0)

    def count_marketing(self, person_id: str) -> None:
        self.recent[person_id] = self.recent.get(person_id, 0) + 1
