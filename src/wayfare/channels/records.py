"""What channels write back: provider messages, delivery reports, and journey events for a person.

Every open, click, unsubscribe, delivery report and bounce comes back as an event (DESIGN.md: "every send,
open, click, reply and hand-over is an event"), written through the ingest pipeline so it lands in the
journey map like any other touchpoint. Addresses never go into these rows: only person ids and hashes.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from ..ingest import to_row, write_rows
from ..store import Scope, utcnow

__all__ = ["workspace_secret", "record_event", "note_message", "note_channel_event", "message_of"]


def workspace_secret(scope: Scope, name: str = "tracking_secret") -> bytes:
    """A per-workspace random key kept in the workspace's settings (made on first use)."""
    store = scope.store
    with store.write_lock:
        con = store.cursor()
        row = con.execute("SELECT settings FROM workspaces WHERE id = ?", [scope.workspace_id]).fetchone()
        settings = orjson.loads(row[0]) if row and row[0] else {}
        if name not in settings:
            settings[name] = secrets.token_hex(32)
            con.execute("UPDATE workspaces SET settings = ? WHERE id = ?",
                        [orjson.dumps(settings).decode(), scope.workspace_id])
    return bytes.fromhex(settings[name])


def _who(scope: Scope, person_id: str) -> dict[str, Any]:
    ids = scope.rows("SELECT kind, value FROM identities WHERE person_id = $p ORDER BY first_seen", {"p": person_id})
    kinds = {k: v for k, v in reversed(ids)}
    if "user_id" in kinds:
        return {"userId": kinds["user_id"]}
    if "anonymous_id" in kinds:
        return {"anonymousId": kinds["anonymous_id"]}
    traits = {k: kinds[k] for k in ("email", "phone") if k in kinds}
    if traits:
        return {"anonymousId": f"wf-{person_id}", "context": {"traits": traits}}
    return {"anonymousId": f"wf-{person_id}"}


def record_event(scope: Scope, person_id: str | None, event: str, properties: dict[str, Any], message_id: str,
                 channel: str = "email", con: Any = None) -> int:
    """Write a track event for ``person_id``; ``message_id`` makes a repeat harmless. Returns rows inserted."""
    if not person_id:
        return 0
    now = utcnow()
    row = to_row({"type": "track", "event": event, "properties": properties, "channel": channel,
                  "messageId": message_id, **_who(scope, person_id)}, now, "wayfare:channels")
    res = write_rows(scope, [row], con) if con is not None else write_rows(scope, [row])
    return res.inserted


def note_message(scope: Scope, channel: str, provider_id: str, status: str, *, send_id: str | None = None,
                 person_id: str | None = None, flow: str | None = None, step: int | None = None,
                 variant: str | None = None, detail: str | None = None) -> None:
    """Remember which send a provider id belongs to (a status callback later only carries the id)."""
    now = utcnow()
    scope.write("INSERT INTO main.channel_messages VALUES ($__ws, $c, $pid, $sid, $p, $f, $st, $v, $s, $d, $t, $t) "
                "ON CONFLICT DO UPDATE SET status = excluded.status, detail = coalesce(excluded.detail, detail), "
                "updated_at = excluded.updated_at",
                {"c": channel, "pid": provider_id, "sid": send_id, "p": person_id, "f": flow, "st": step,
                 "v": variant, "s": status, "d": detail, "t": now}, con=scope.store.cursor())


def message_of(scope: Scope, channel: str, provider_id: str) -> dict[str, Any] | None:
    """The send a provider id belongs to. An email's provider id is its Message-ID, which the flow engine
    writes into the send log itself (deterministic ``<…@wayfare>``): a bounce finds the send there too."""
    row = scope.one("SELECT send_id, person_id, flow, step, variant, status FROM channel_messages "
                    "WHERE channel = $c AND provider_id = $p", {"c": channel, "p": provider_id})
    if not row and channel == "email" and provider_id:
        bare = provider_id.strip().strip("<>")
        row = scope.one("SELECT flow || ':' || entry_id || ':' || person_id || ':' || step, person_id, flow, step, "
                        "variant, status FROM sends WHERE channel = 'email' AND message_id = $m LIMIT 1",
                        {"m": f"<{bare}>"})
    if not row:
        return None
    return dict(zip(("send_id", "person_id", "flow", "step", "variant", "status"), row, strict=True))


def note_channel_event(scope: Scope, channel: str, kind: str, provider_id: str | None = None,
                       detail: dict[str, Any] | None = None) -> None:
    scope.write("INSERT INTO main.channel_events VALUES ($__ws, $c, $p, $k, $d, $t)",
                {"c": channel, "p": provider_id, "k": kind, "d": orjson.dumps(detail or {}).decode(), "t": utcnow()},
                con=scope.store.cursor())
