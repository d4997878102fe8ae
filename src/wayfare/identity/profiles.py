"""Finding a person by anything that identifies them, and their unified cross-channel timeline."""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import NotFound
from ..store import Scope
from .normalize import normalize_email, normalize_id, normalize_phone


def find_person(scope: Scope, query: str) -> str:
    """The person id for an email, phone, person id, user id, anonymous id or source customer id."""
    q = query.strip()
    if q.startswith("p_") and scope.one("SELECT 1 FROM profiles WHERE person_id = $q", {"q": q}):
        return q
    candidates: list[tuple[str | None, str]] = []
    email = normalize_email(q)
    if email:
        candidates.append(("email", email))
    phone = normalize_phone(q) if not email else None
    if phone:
        candidates.append(("phone", phone))
    ident = normalize_id(q) or q
    candidates.append((None, ident))
    for kind, value in candidates:
        if kind:
            row = scope.one("SELECT person_id FROM identities WHERE kind = $k AND value = $v", {"k": kind, "v": value})
        else:
            row = scope.one(
                "SELECT person_id FROM identities WHERE value = $v ORDER BY kind = 'user_id' DESC LIMIT 1", {"v": value}
            )
        if row:
            return row[0]
    raise NotFound(f"no person matches {query!r} (tried email, phone, person id, user id, anonymous id, customer ids)")


def person_summary(scope: Scope, person_id: str) -> dict[str, Any]:
    prof = scope.one(
        "SELECT person_id, created_at, first_seen, last_seen, traits FROM profiles WHERE person_id = $p", {"p": person_id}
    )
    if not prof:
        raise NotFound(f"no person {person_id!r}")
    idents = scope.rows("SELECT kind, value FROM identities WHERE person_id = $p ORDER BY kind, value", {"p": person_id})
    stats = scope.one(
        "SELECT count(*), count(DISTINCT channel), coalesce(sum(revenue), 0), "
        "count(*) FILTER (WHERE revenue IS NOT NULL AND revenue > 0) FROM events WHERE person_id = $p",
        {"p": person_id},
    )
    merges = scope.rows(
        "SELECT from_person, merged_at, reason FROM merges WHERE into_person = $p ORDER BY merged_at", {"p": person_id}
    )
    channels = scope.rows(
        "SELECT channel, count(*) FROM events WHERE person_id = $p GROUP BY 1 ORDER BY 2 DESC", {"p": person_id}
    )
    return {
        "person_id": prof[0],
        "first_seen": prof[2].isoformat() if prof[2] else None,
        "last_seen": prof[3].isoformat() if prof[3] else None,
        "traits": orjson.loads(prof[4] or "{}"),
        "identities": [{"kind": k, "value": v} for k, v in idents],
        "events": stats[0],
        "channels": {c or "unknown": n for c, n in channels},
        "revenue": round(float(stats[2]), 2),
        "orders": stats[3],
        "merged_from": [{"person_id": m[0], "merged_at": m[1].isoformat(), "reason": m[2]} for m in merges],
    }


def timeline(scope: Scope, person_id: str, limit: int = 200) -> list[dict[str, Any]]:
    rows = scope.rows(
        "SELECT ts, type, event, channel, source, revenue, properties, message_id FROM events "
        "WHERE person_id = $p ORDER BY ts DESC, seq DESC LIMIT $n",
        {"p": person_id, "n": limit},
    )
    out = []
    for ts, typ, ev, ch, src, rev, props, mid in rows:
        out.append(
            {
                "ts": ts.isoformat(),
                "type": typ,
                "event": ev or typ,
                "channel": ch,
                "source": src,
                "revenue": rev,
                "properties": orjson.loads(props) if props else {},
                "message_id": mid,
            }
        )
    return out
