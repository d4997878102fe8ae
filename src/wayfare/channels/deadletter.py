"""The dead-letter list: sends that did not go out (``failed``: refused for good, or given up after the
retries of :mod:`.retry`) and sends that may or may not have gone out (``uncertain``: the connection broke
after the SMTP terminator), and putting one back in line.

A retry puts the send back to ``intent`` (attempts from zero) and wakes its entry at that send's step now,
so the engine sends it on its next pass and the flow carries on from there: steps after it that already
ran are walked again, where a message already sent is not repeated (its idempotency key is in the send
log) and a wait starts over. An ``uncertain`` send is only retried with ``force``: it may already be in the
recipient's mailbox, and a retry may deliver it twice (an email keeps its Message-ID, so many mailboxes
fold the copy; an SMS or webhook keeps its idempotency key). Every retry is written to the automation log
and the audit log. Addresses are masked in the list.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

import orjson

from ..errors import NotFound, ValidationError
from ..store import Scope, utcnow

__all__ = ["failed_sends", "retry_sends", "mask_address", "send_key"]

_COLS = ("flow", "entry_id", "person_id", "step", "channel", "address", "status", "attempts", "detail",
         "updated_at", "first_failed_at", "created_at", "purpose")


def send_key(flow: str, entry_id: str, person_id: str, step: int) -> str:
    """The send's idempotency key as the channels carry it: ``flow:entry:person:step``."""
    return f"{flow}:{entry_id}:{person_id}:{step}"


def mask_address(channel: str, address: str | None) -> str | None:
    """``a***@example.org``, ``+44*******23``, ``https://hooks.example.com/…`` (no path, query or user)."""
    if not address:
        return address
    if channel == "email" and "@" in address:
        local, _, domain = address.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if channel == "sms":
        keep = 3 if address.startswith("+") else 1
        return address[:keep] + "*" * max(0, len(address) - keep - 2) + address[-2:]
    if channel == "webhook":
        u = urlsplit(address)
        host = u.hostname or "?"
        return f"{u.scheme}://{host}" + (f":{u.port}" if u.port else "") + ("/…" if u.path not in ("", "/") else "/")
    return address[:2] + "***"


def failed_sends(scope: Scope, flow: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Every ``failed`` and ``uncertain`` send of the workspace (newest first): flow, person, channel, masked
    address, attempts, last error and when."""
    rows = scope.rows(
        "SELECT " + ", ".join(_COLS) + " FROM sends WHERE status IN ('failed', 'uncertain') AND "
        "($f IS NULL OR flow = $f) ORDER BY updated_at DESC, flow, entry_id, step LIMIT $n",
        {"f": flow, "n": int(limit)})
    out = []
    for r in rows:
        d = dict(zip(_COLS, r, strict=True))
        out.append({"key": send_key(d["flow"], d["entry_id"], d["person_id"], d["step"]), "flow": d["flow"],
                    "person_id": d["person_id"], "step": d["step"], "channel": d["channel"],
                    "to": mask_address(d["channel"], d["address"]), "status": d["status"],
                    "attempts": int(d["attempts"] or 0), "error": d["detail"], "at": d["updated_at"],
                    "first_failed_at": d["first_failed_at"], "purpose": d["purpose"]})
    return out


def retry_sends(scope: Scope, key: str | None = None, *, all_failed: bool = False, flow: str | None = None,
                force: bool = False, actor: str = "cli", now: dt.datetime | None = None) -> dict[str, Any]:
    """Put one send (``key``) or every failed one (``all_failed``, optionally of one ``flow``) back in line.
    ``force`` also takes ``uncertain`` sends (which may then arrive twice). Returns what was retried."""
    if (key is None) == (not all_failed):
        raise ValidationError("name one send key, or ask for --all-failed (not both)", where="key")
    now = now or utcnow()
    ws, store = scope.workspace_id, scope.store
    statuses = ["failed", "uncertain"] if force else ["failed"]
    cols = "flow, entry_id, person_id, step, channel, status, detail, trigger_event, variant"
    with store.write_lock:
        con = store.cursor()
        con.execute("BEGIN")
        try:
            if key is not None:
                rows = con.execute(f"SELECT {cols} FROM main.sends WHERE workspace_id = ? AND "
                                   "flow || ':' || entry_id || ':' || person_id || ':' || step = ?", [ws, key]).fetchall()
                if not rows:
                    raise NotFound(f"no send {key!r} in this workspace (see `wayfare flows failed` for the keys)")
                st = rows[0][5]
                if st == "uncertain" and not force:
                    raise ValidationError(f"send {key} is uncertain: it may already have been delivered, so a retry "
                                          "may send it twice; pass --force if that is acceptable", where="key")
                if st not in ("failed", "uncertain"):
                    raise ValidationError(f"send {key} is {st}: only failed (or, with --force, uncertain) sends "
                                          "can be retried", where="key")
            else:
                rows = con.execute(f"SELECT {cols} FROM main.sends WHERE workspace_id = ? AND list_contains(?, status) "
                                   "AND (? IS NULL OR flow = ?) ORDER BY flow, entry_id, step",
                                   [ws, statuses, flow, flow]).fetchall()
            done = []
            for f, eid, pid, step, channel, st, detail, trig, variant in rows:
                con.execute("UPDATE main.sends SET status = 'intent', attempts = 0, first_failed_at = NULL, "
                            "detail = ?, updated_at = ? WHERE workspace_id = ? AND flow = ? AND entry_id = ? AND "
                            "person_id = ? AND step = ?",
                            [f"retry requested by {actor} (was {st}: {detail or ''})"[:300], now, ws, f, eid, pid, step])
                con.execute("UPDATE main.flow_entries SET step = ?, status = 'active', wake_at = ?, since = NULL, "
                            "wait_event = NULL, outcome = NULL, updated_at = ? WHERE workspace_id = ? AND entry_id = ?",
                            [step, now, now, ws, eid])
                con.execute("INSERT INTO main.automation_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [ws, now, f, eid, pid, step, channel, "retry requested",
                             f"by {actor}; was {st}: {detail or ''}"[:300], trig, variant])
                k = send_key(f, eid, pid, step)
                con.execute("INSERT INTO main.audit_log VALUES (?, ?, ?, ?, ?, ?)",
                            [ws, now, actor, "automate.send.retry", k,
                             orjson.dumps({"was": st, "channel": channel, "forced": force}).decode()])
                done.append({"key": k, "flow": f, "channel": channel, "was": st})
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return {"retried": len(done), "sends": done, "at": now}
