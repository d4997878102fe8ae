"""On-site personalisation: what a visitor sees, from what wayfare knows about *that* visitor only.

A site asks with its public (ingest) key and the visitor's ids. The answer holds no personal data: no
traits, no person id, no order history — only audiences (first_time, returning, customer, regular and the
owner's saved segments the visitor belongs to), the lifecycle stage, a next best action, the owner's
content slots for those audiences, and item recommendations.

Who the visitor is must not be guessable:
* an ``anonymous_id`` counts only if it is at least 16 characters (SDK ids are UUIDs) and was seen on an
  event that came in over the HTTP API (not a CSV import, where ids like invoice numbers are guessable);
* a ``user_id`` counts only with ``user_hash`` = hex HMAC-SHA256(workspace secret, user_id), computed by
  the site's server (``wayfare personalize secret`` shows the secret). Otherwise the visitor is treated as
  unknown — same shape, no data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..errors import ValidationError
from ..store import utcnow
from .recommend import PURCHASE_PATTERN, ItemKNN, load_interactions

__all__ = ["Personalizer", "set_slot", "list_slots", "delete_slot", "workspace_secret", "user_hash", "AUDIENCES",
           "NEXT_ACTIONS"]

AUDIENCES = ("all", "first_time", "returning", "customer", "regular", "visitor", "subscriber", "lead", "qualified")
NEXT_ACTIONS = {
    "visitor": "sign_up", "subscriber": "first_purchase_offer", "lead": "book_or_enquire",
    "qualified": "talk_to_staff", "customer": "buy_again", "regular": "refer_a_friend",
}
MIN_ANON_LEN = 16
log = logging.getLogger("wayfare.growth")


_SECRETS_DDL = ("CREATE TABLE IF NOT EXISTS main.growth_secrets (workspace_id VARCHAR NOT NULL PRIMARY KEY, "
                "secret VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)")


def workspace_secret(scope) -> str:
    """The workspace's secret for user_hash (made on first use). The table comes with migration 010; a store
    that applied an early 010 without it gets it here."""
    import duckdb

    con = scope.store.cursor()
    sql = "SELECT secret FROM main.growth_secrets WHERE workspace_id = $ws"
    try:
        row = con.execute(sql, {"ws": scope.workspace_id}).fetchone()
    except duckdb.CatalogException:
        with scope.store.write_lock:
            con.execute(_SECRETS_DDL)
        row = None
    if row:
        return row[0]
    with scope.store.write_lock:
        con.execute("INSERT OR IGNORE INTO main.growth_secrets VALUES ($ws, $s, $at)",
                    {"ws": scope.workspace_id, "s": secrets.token_hex(32), "at": utcnow()})
    return con.execute(sql, {"ws": scope.workspace_id}).fetchone()[0]


def user_hash(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def set_slot(scope, slot: str, audience: str, content: dict[str, Any], priority: int = 0) -> dict[str, Any]:
    if not slot or len(slot) > 64 or not slot.replace("_", "").replace("-", "").isalnum():
        raise ValidationError("a slot name is 1-64 letters, digits, - or _", where="SLOT")
    if audience not in AUDIENCES and not audience.startswith("segment:"):
        raise ValidationError(f"audience must be one of {', '.join(AUDIENCES)} or segment:NAME", where="--audience")
    if not isinstance(content, dict):
        raise ValidationError("content must be a JSON object", where="--content")
    scope.write("INSERT OR REPLACE INTO main.growth_slots VALUES ($__ws, $s, $a, $c, $p)",
                {"s": slot, "a": audience, "c": json.dumps(content), "p": priority})
    return {"slot": slot, "audience": audience, "content": content, "priority": priority}


def list_slots(scope) -> list[dict[str, Any]]:
    return [{"slot": r[0], "audience": r[1], "content": json.loads(r[2]), "priority": r[3]}
            for r in scope.rows("SELECT slot, audience, content, priority FROM growth_slots ORDER BY slot, priority DESC, audience")]


def delete_slot(scope, slot: str, audience: str) -> bool:
    return bool(scope.write("DELETE FROM main.growth_slots WHERE workspace_id = $__ws AND slot = $s AND audience = $a "
                            "RETURNING 1", {"s": slot, "a": audience}).fetchall())


_IDENT_SQL = "SELECT person_id FROM identities WHERE kind = $kind AND value = $value LIMIT 1"

# person_id, stage, orders, events, and (for anonymous ids) whether the id came in over the HTTP API
_FACTS_SQL = f"""
SELECT (SELECT stage FROM growth_lead_scores s WHERE s.person_id = $p) AS stage,
       count(DISTINCT ts) FILTER (WHERE type = 'track' AND (regexp_matches(lower(event), '{PURCHASE_PATTERN}')
                                                            OR revenue > 0)) AS orders,
       count(*) AS events,
       $kind <> 'anonymous_id' OR bool_or(anonymous_id = $value AND source LIKE 'http:%') AS trusted
FROM events WHERE person_id = $p
"""


@dataclass
class _Model:
    model: ItemKNN
    at: float


class Personalizer:
    """Answers for one store; caches slots and a recommendation model per workspace (refreshed in the background)."""

    def __init__(self, slot_ttl: float = 10.0, model_ttl: float = 900.0):
        self.slot_ttl = slot_ttl
        self.model_ttl = model_ttl
        self._slots: dict[str, tuple[float, list[tuple[str, str, dict, int]]]] = {}
        self._models: dict[str, _Model] = {}
        self._fitting: set[str] = set()
        self._lock = threading.Lock()
        self._people: dict[tuple[str, str, str], tuple[float, tuple | None]] = {}
        self.person_ttl = 30.0
        self._secrets: dict[str, str] = {}
        self._threads: list[threading.Thread] = []
        self._closed = False

    def close(self) -> None:
        """Stop starting fits and wait for running ones (before the store closes)."""
        self._closed = True
        for t in self._threads:
            t.join(60)

    def _person(self, scope, kind: str, value: str) -> tuple | None:
        """(person_id, stage, orders, events, segments) of a trusted identifier, else None; cached briefly."""
        ck = (scope.workspace_id, kind, value)
        hit = self._people.get(ck)
        if hit and time.monotonic() - hit[0] < self.person_ttl:
            return hit[1]
        row = scope.one(_IDENT_SQL, {"kind": kind, "value": value})
        res = None
        if row:
            f = scope.one(_FACTS_SQL, {"p": row[0], "kind": kind, "value": value})
            if f and f[3]:
                try:
                    segs = [r[0] for r in scope.rows("SELECT segment FROM analytics_segment_members WHERE person_id = $p "
                                                     "ORDER BY segment", {"p": row[0]})]
                except Exception:  # the analytics tables may not exist in an older store
                    segs = []
                res = (row[0], f[0], f[1], f[2], segs)
        if len(self._people) > 50000:
            self._people.clear()
        self._people[ck] = (time.monotonic(), res)
        return res

    def _slot_rows(self, scope) -> list[tuple[str, str, dict, int]]:
        hit = self._slots.get(scope.workspace_id)
        if hit and time.monotonic() - hit[0] < self.slot_ttl:
            return hit[1]
        rows = [(r[0], r[1], json.loads(r[2]), r[3]) for r in
                scope.rows("SELECT slot, audience, content, priority FROM growth_slots ORDER BY priority DESC, slot, audience")]
        self._slots[scope.workspace_id] = (time.monotonic(), rows)
        return rows

    def _secret(self, scope) -> str:
        hit = self._secrets.get(scope.workspace_id)
        if hit is None:
            hit = self._secrets[scope.workspace_id] = workspace_secret(scope)
        return hit

    def _model(self, scope) -> ItemKNN | None:
        m = self._models.get(scope.workspace_id)
        stale = m is None or time.monotonic() - m.at > self.model_ttl
        if stale:
            with self._lock:
                if scope.workspace_id not in self._fitting and not self._closed:
                    self._fitting.add(scope.workspace_id)
                    t = threading.Thread(target=self._fit, args=(scope,), name="wayfare-growth-fit", daemon=True)
                    self._threads = [x for x in self._threads if x.is_alive()] + [t]
                    t.start()
        return m.model if m else None

    def _fit(self, scope) -> None:
        try:
            model = ItemKNN().fit(load_interactions(scope))
        except Exception:  # an answer never fails for want of recommendations; retried after model_ttl
            log.exception("fitting recommendations for %s failed", scope.name)
            model = ItemKNN()
        try:
            self._models[scope.workspace_id] = _Model(model, time.monotonic())
        finally:
            with self._lock:
                self._fitting.discard(scope.workspace_id)

    def answer(self, scope, anonymous_id: str | None, user_id: str | None, user_hash_: str | None,
               top: int = 4) -> dict[str, Any]:
        person = None
        verified = False
        if user_id and user_hash_:
            expected = user_hash(self._secret(scope), user_id)
            if hmac.compare_digest(expected, user_hash_.lower()):
                verified = True
                person = self._person(scope, "user_id", user_id)
        if person is None and anonymous_id and len(anonymous_id) >= MIN_ANON_LEN:
            person = self._person(scope, "anonymous_id", anonymous_id)
        known = person is not None
        orders = person[2] if known else 0
        stage = (person[1] if known and person[1] else None) or ("customer" if orders else "visitor")
        if orders and stage != "customer":
            stage = "customer"
        audiences = ["all", "first_time" if not known or (person[3] or 0) <= 1 else "returning", stage]
        if orders >= 3:
            audiences.append("regular")
        segments: list[str] = list(person[4]) if known else []
        audiences += [f"segment:{s}" for s in segments]
        slots: dict[str, Any] = {}
        for slot, aud, content, _prio in self._slot_rows(scope):
            if slot not in slots and aud in audiences:
                slots[slot] = {"audience": aud, "content": content}
        nba = NEXT_ACTIONS["regular" if "regular" in audiences else stage]
        recs: list[dict[str, Any]] = []
        model = self._model(scope)
        if model is not None:
            recs = [{"item": r["item"], "source": r["source"]} for r in model.recommend(person[0] if known else None, top)]
        return {"known": known, "verified_user": verified, "stage": stage, "audiences": audiences,
                "segments": segments, "next_best_action": nba, "slots": slots, "recommendations": recs}
