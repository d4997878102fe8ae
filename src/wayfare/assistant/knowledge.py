"""The knowledge base of a workspace, as stored: ingest a folder, reload it when its files change, and
keep one index per workspace in memory until the passages change: BM25, or BM25 with sentence embeddings
(hybrid) when the optional embedding extra is installed (see ``semantic``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from pathlib import Path

import orjson
import pyarrow as pa

from ..errors import ValidationError
from ..store import Scope, utcnow
from .conversations import tx
from .kb import Passage, bundled_kb, fingerprint, load_dir
from .retrieval import Index
from .semantic import HybridIndex, encoder, mode

__all__ = ["ingest", "passages", "index_for", "settings", "reload_if_changed", "identity_secret", "user_hash",
           "verify_user"]

_cache: dict[tuple[str, str], tuple[tuple, Index | HybridIndex]] = {}
_lock = threading.Lock()


def settings(scope: Scope) -> dict:
    row = scope.one("SELECT kb_path, kb_fingerprint, identity_secret, routes FROM assistant_settings")
    if not row:
        return {"kb_path": None, "kb_fingerprint": None, "identity_secret": None, "routes": {}}
    return {"kb_path": row[0], "kb_fingerprint": row[1], "identity_secret": row[2],
            "routes": orjson.loads(row[3]) if row[3] else {}}


def save_settings(scope: Scope, **changes: object) -> dict:
    cur = settings(scope)
    cur.update(changes)
    with tx(scope) as con:
        con.execute("DELETE FROM main.assistant_settings WHERE workspace_id = ?", [scope.workspace_id])
        con.execute("INSERT INTO main.assistant_settings VALUES (?, ?, ?, ?, ?, ?)",
                    [scope.workspace_id, cur["kb_path"], cur["kb_fingerprint"], cur["identity_secret"],
                     orjson.dumps(cur["routes"] or {}).decode(), utcnow()])
    return cur


def ingest(scope: Scope, path: str | Path) -> list[Passage]:
    """Replace the workspace's knowledge base with the passages under ``path``; remember it for reloads."""
    found = load_dir(path)
    if not found:
        raise ValidationError("no passages found: put .md pages (split at headings) or a question,answer .csv there",
                              where=str(path))
    now = utcnow()
    seen: dict[str, Passage] = {}
    for p in found:
        seen.setdefault(p.passage_id, p)
    ps = list(seen.values())
    table = pa.table({
        "passage_id": [p.passage_id for p in ps], "source": [p.source for p in ps], "title": [p.title for p in ps],
        "body": [p.text for p in ps], "questions": [orjson.dumps(p.questions).decode() for p in ps],
        "audience": pa.array([p.audience for p in ps], pa.string()), "loaded_at": [now] * len(ps),
    })
    with tx(scope) as con:
        con.execute("DELETE FROM main.assistant_passages WHERE workspace_id = ?", [scope.workspace_id])
        scope.insert_arrow("assistant_passages", table, con=con)
    save_settings(scope, kb_path=str(Path(path).resolve()), kb_fingerprint=fingerprint(path))
    return ps


def reload_if_changed(scope: Scope) -> bool:
    """Re-ingest the remembered folder when its files changed since the last ingest."""
    s = settings(scope)
    path = s.get("kb_path")
    if not path or not Path(path).exists() or scope.store.read_only:
        return False
    if fingerprint(path) == s.get("kb_fingerprint"):
        return False
    try:
        ingest(scope, path)
    except ValidationError:
        return False
    return True


def passages(scope: Scope) -> list[Passage]:
    rows = scope.rows("SELECT source, title, body, questions, audience FROM assistant_passages ORDER BY source")
    return [Passage(r[0], r[1] or "", r[2], orjson.loads(r[3]) if r[3] else [], r[4]) for r in rows]


def index_for(scope: Scope) -> Index | HybridIndex:
    """The workspace's index; the bundled demo restaurant knowledge base when none was ingested. Hybrid
    (BM25 + embeddings) when the embedding extra is installed, unless WAYFARE_ASSISTANT_RETRIEVAL=bm25."""
    key = (scope.store.path, scope.workspace_id)
    version = (*scope.one("SELECT count(*), max(loaded_at) FROM assistant_passages"), mode())
    with _lock:
        hit = _cache.get(key)
        if hit and hit[0] == version:
            return hit[1]
    ps = passages(scope) if version and version[0] else load_dir(bundled_kb())
    encode = encoder()
    idx: Index | HybridIndex = HybridIndex(ps, encode) if encode is not None else Index(ps)
    with _lock:
        _cache[key] = (version, idx)
    return idx


def identity_secret(scope: Scope) -> str:
    """The workspace's secret for identity verification (created on first use). The business's server signs
    each signed-in customer's user id with it; the widget passes the signature along."""
    s = settings(scope).get("identity_secret")
    if not s:
        s = secrets.token_urlsafe(32)
        save_settings(scope, identity_secret=s)
    return s


def user_hash(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_user(scope: Scope, user_id: str, signature: str) -> str | None:
    """The person behind a signed user id, or None when the signature is wrong or nobody has that id.

    A visitor's own claim ("I am alice", an identify call with the public key) is never enough to see
    personal data: the public ingest key is in every page's source, so anyone could make that claim."""
    secret = settings(scope).get("identity_secret")
    if not secret or not user_id or not signature:
        return None
    if not hmac.compare_digest(user_hash(secret, user_id), signature.strip().lower()):
        return None
    row = scope.one("SELECT person_id FROM identities WHERE kind = 'user_id' AND value = $u", {"u": user_id})
    return row[0] if row else None
