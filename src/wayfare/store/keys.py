"""API keys: shown once, stored as a SHA-256 hash, scoped (ingest = write-only, admin = everything)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from ..errors import AuthError, NotFound, ValidationError
from .store import Store, utcnow

SCOPES = ("ingest", "admin")
# verified keys are remembered this long per store: every ingest request checks its key, and a query of its own
# on the event loop cost more than the request's parsing. revoke_key forgets them at once.
KEY_CACHE_S = 2.0


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    workspace_id: str
    scope: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(store: Store, workspace: str, scope: str, label: str | None = None) -> dict:
    if scope not in SCOPES:
        raise ValidationError(f"scope must be one of {', '.join(SCOPES)}", where=f"--scope {scope!r}")
    wid = store.workspace_id(workspace)
    key_id = "key_" + secrets.token_hex(6)
    key = f"wf_{scope}_{secrets.token_urlsafe(24)}"
    with store.write_lock:
        store.con.execute(
            "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL)", [wid, key_id, _hash(key), scope, label, utcnow()]
        )
    return {"key": key, "key_id": key_id, "scope": scope, "workspace": workspace}


def list_keys(store: Store, workspace: str) -> list[dict]:
    wid = store.workspace_id(workspace)
    rows = store.cursor().execute(
        "SELECT key_id, scope, label, created_at, revoked_at FROM api_keys WHERE workspace_id = ? ORDER BY created_at",
        [wid],
    ).fetchall()
    return [
        {"key_id": r[0], "scope": r[1], "label": r[2], "created_at": r[3].isoformat(), "revoked": r[4] is not None}
        for r in rows
    ]


def revoke_key(store: Store, workspace: str, key_id: str) -> None:
    wid = store.workspace_id(workspace)
    with store.write_lock:
        n = store.con.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND key_id = ? AND revoked_at IS NULL RETURNING 1",
            [utcnow(), wid, key_id],
        ).fetchall()
    store.key_cache.clear()
    if not n:
        raise NotFound(f"no active key {key_id!r} in workspace {workspace!r}")


def verify_key(store: Store, key: str | None, need: str = "ingest") -> KeyInfo:
    """The key's identity if it exists, is not revoked and allows ``need`` (admin allows everything)."""
    if not key:
        raise AuthError("no write key: send it as the HTTP Basic user name or as a Bearer token")
    h = _hash(key)
    now = time.monotonic()
    hit = store.key_cache.get(h)
    if hit is not None and hit[0] > now:
        info = hit[1]
    else:
        row = store.cursor().execute(
            "SELECT key_id, workspace_id, scope, revoked_at FROM api_keys WHERE key_hash = ?", [h]
        ).fetchone()
        if not row or row[3] is not None:
            store.key_cache.pop(h, None)
            raise AuthError("unknown or revoked key")
        info = KeyInfo(row[0], row[1], row[2])
        if len(store.key_cache) > 10_000:  # only valid keys are kept, so this bounds a store with very many
            store.key_cache.clear()
        store.key_cache[h] = (now + KEY_CACHE_S, info)
    if need == "admin" and info.scope != "admin":
        raise AuthError("this key may only send events (scope ingest); an admin key is needed")
    return info
