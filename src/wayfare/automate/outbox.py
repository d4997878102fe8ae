"""Delivery through a queue on PostgreSQL, shared by any number of worker processes.

With ``WAYFARE_QUEUE_URL`` set, the engine does not talk to the SMTP server, SMS provider or webhook itself:
once a message step passes the policies, the rendered message goes into ``wayfare_outbox`` under its
idempotency key (workspace, flow, entry, person, step) and the entry moves on. Workers (``wayfare worker
--queue URL``, the in-process deliverer of ``wayfare serve``, and ``wayfare flows run-due``) deliver it:

1. **Claim** a batch with ``FOR UPDATE SKIP LOCKED`` under a lease (``lease_owner``, ``lease_until``): two
   workers never hold the same row, and the rows of a worker that died come back when its lease runs out.
2. **Email**: each message of a group stands just before its SMTP terminator on its own connection; one commit
   moves the group ``leased`` → ``final`` *only where this worker still holds an unexpired lease* (a worker
   whose lease ran out mid-send drops the connection: the server discards an unfinished DATA and the row is
   sent once by whoever claims it next); the terminators go out; the replies move rows to ``sent`` (or back
   to ``queued`` with a backoff on a 4xx answer, or ``failed`` on a 5xx). A ``final`` row whose lease ran out
   may have been delivered: it becomes ``uncertain`` and is **not** resent. A recipient refused inside a
   batch fails alone; the others go out once.
3. **SMS and webhooks** carry the idempotency key to the provider, so a row re-claimed after a crash between
   the provider accepting it and the worker recording it is folded by the provider, not sent twice.
4. Transient errors (connection refused, 4xx, timeouts, 429/5xx) put the row back with the backoff every
   channel uses (:data:`wayfare.channels.retry.RETRY`); once its attempts are spent, or on a permanent error,
   it is ``failed`` with the last error: the dead-letter list.

The engine copies results back into its own send log (:func:`sync`), where stats, traces and the dashboard
read them; each result is copied once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import smtplib
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from ..channels.email import SmtpSettings, build_message, smtp_settings
from ..channels.retry import RETRY, classify, describe
from ..store import Scope, utcnow
from ..store.postgres import connect, ensure_schema
from .journal import tx
from .lanes import Lanes

__all__ = ["Outbox", "Deliverer", "outbox_for", "sync", "LEASE_SECONDS"]
log = logging.getLogger("wayfare.automate")

LEASE_SECONDS = 60.0

_COLS = ("send_key", "workspace_id", "flow", "entry_id", "person_id", "step", "channel", "address", "message_id",
         "payload")


class Outbox:
    """The engine's side: put decided messages into the queue (in batches), and read results back."""

    def __init__(self, url: str):
        self.url = url
        self.con = connect(url)
        ensure_schema(self.con)
        self.pending: list[tuple] = []
        self.revive: list[tuple] = []
        self.lock = threading.Lock()

    def add(self, send_key: str, ws: str, flow: str, entry_id: str, person_id: str, step: int, channel: str,
            address: str | None, message_id: str, payload: dict, retry: bool = False) -> None:
        """``retry``: the send was put back by a person (``flows retry``): a ``failed`` row is queued again."""
        (self.revive if retry else self.pending).append(
            (send_key, ws, flow, entry_id, person_id, step, channel, address, message_id, orjson.dumps(payload).decode()))

    def flush(self) -> int:
        """Write what was added; an idempotency key already queued (a pass repeated after a crash, or a
        second scheduler) is left as it is; only a retried ``failed`` row starts again."""
        rows, self.pending = self.pending, []
        again, self.revive = self.revive, []
        cols, marks = ", ".join(_COLS), ", ".join(["%s"] * len(_COLS))
        with self.lock, self.con.cursor() as cur:
            if rows:
                cur.executemany(f"INSERT INTO wayfare_outbox ({cols}, status) VALUES ({marks}, 'queued') "
                                "ON CONFLICT (send_key) DO NOTHING", rows)
            if again:
                cur.executemany(f"INSERT INTO wayfare_outbox ({cols}, status) VALUES ({marks}, 'queued') "
                                "ON CONFLICT (send_key) DO UPDATE SET status = 'queued', attempts = 0, "
                                "not_before = now(), lease_owner = NULL, lease_until = NULL, synced = false, "
                                "payload = excluded.payload, address = excluded.address, updated_at = now() "
                                "WHERE wayfare_outbox.status = 'failed'", again)
        return len(rows) + len(again)

    def results(self, ws: str, limit: int = 5000) -> list[tuple]:
        with self.lock:
            return self.con.execute(
                "SELECT send_key, flow, entry_id, person_id, step, channel, status, detail, attempts "
                "FROM wayfare_outbox WHERE workspace_id = %s AND NOT synced AND status IN "
                "('sent', 'failed', 'uncertain', 'cancelled') ORDER BY updated_at LIMIT %s", [ws, limit]).fetchall()

    def mark_synced(self, keys: list[str]) -> None:
        if keys:
            with self.lock:
                self.con.execute("UPDATE wayfare_outbox SET synced = true WHERE send_key = ANY(%s)", [keys])

    def counts(self, ws: str | None = None) -> dict[str, int]:
        with self.lock:
            rows = self.con.execute("SELECT status, count(*) FROM wayfare_outbox WHERE %s::text IS NULL OR "
                                    "workspace_id = %s GROUP BY 1", [ws, ws]).fetchall()
        return {s: int(n) for s, n in rows}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()


_outboxes: dict[str, Outbox] = {}
_outboxes_lock = threading.Lock()


def outbox_for(url: str) -> Outbox:
    """One engine-side connection per queue URL in this process."""
    with _outboxes_lock:
        ob = _outboxes.get(url)
        if ob is None or ob.con.closed:
            ob = _outboxes[url] = Outbox(url)
        return ob


def sync(outbox: Outbox, scope: Scope, on_sent: Any = None) -> tuple[int, int]:
    """Copy delivery results into the engine's send log and automation log, once each; ``on_sent`` is
    called with (flow, entry_id, person_id, step, channel, variant, trigger, detail) for each message sent
    (``detail``: the provider's reply, for SMS its message id).
    Returns (results read, messages sent among them)."""
    rows = outbox.results(scope.workspace_id)
    if not rows:
        return 0, 0
    ws, now = scope.workspace_id, utcnow()
    vals = []
    for _key, flow, eid, pid, step, _ch, status, detail, attempts in rows:
        why = (detail or "")[:300] or None
        if status == "failed" and attempts:
            why = f"after {attempts} attempt{'s' if attempts != 1 else ''}: {why or 'failed'}"[:300]
        vals += [flow, eid, pid, int(step), status, why]
    with tx(scope.store) as c:
        changed = c.execute(
            "UPDATE main.sends SET status = v.status, detail = coalesce(v.detail, sends.detail), updated_at = ? "
            "FROM (VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(rows)) + ") v(flow, entry_id, person_id, "
            "step, status, detail) WHERE sends.workspace_id = ? AND sends.flow = v.flow AND sends.entry_id = "
            "v.entry_id AND sends.person_id = v.person_id AND sends.step = v.step AND sends.status = 'queued' "
            "RETURNING sends.flow, sends.entry_id, sends.person_id, sends.step, sends.channel, sends.status, "
            "sends.detail, sends.trigger_event, sends.variant", [now, *vals, ws]).fetchall()
        if changed:
            c.execute("INSERT INTO main.automation_log VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] *
                                                                             len(changed)),
                      [x for f, e, p, s, ch, st, d, trig, v in changed
                       for x in (ws, now, f, e, p, s, ch, st, d, trig, v)])
    outbox.mark_synced([r[0] for r in rows])
    sent = [r for r in changed if r[5] == "sent"]
    if on_sent is not None:
        for f, e, p, s, ch, _st, d, trig, v in sent:
            on_sent(f, e, p, s, ch, v, trig, d)
    return len(rows), len(sent)


# -- the workers' side ------------------------------------------------------------------------------
@dataclass
class _Row:
    key: str
    ws: str
    channel: str
    address: str | None
    mid: str
    payload: dict
    attempts: int
    flow: str
    person_id: str
    step: int


class Deliverer:
    """One worker: claims due rows under a lease and delivers them (see the module's docstring)."""

    def __init__(self, url: str, settings: SmtpSettings | None = None, *, lease_s: float = LEASE_SECONDS,
                 batch: int = 64, lanes: int = 16, owner: str | None = None):
        self.url, self.lease_s, self.batch = url, lease_s, batch
        self.settings = settings if settings is not None else smtp_settings()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.con = connect(url)
        ensure_schema(self.con)
        self.lanes = Lanes(self.settings, lanes)
        self.out = {"claimed": 0, "sent": 0, "retry": 0, "failed": 0, "uncertain": 0, "lost_lease": 0}

    # -- queue statements ---------------------------------------------------------------------------
    def reconcile(self) -> int:
        """Rows left ``final`` by a worker whose lease ran out may have been delivered: ``uncertain``."""
        return self.con.execute(
            "UPDATE wayfare_outbox SET status = 'uncertain', updated_at = now(), detail = 'the worker stopped "
            "after the message was handed to the server; not resent' WHERE status = 'final' AND "
            "lease_until < now()").rowcount

    def claim(self, n: int | None = None) -> list[_Row]:
        rows = self.con.execute(
            "WITH c AS (SELECT send_key FROM wayfare_outbox WHERE (status = 'queued' AND not_before <= now()) "
            "OR (status = 'leased' AND lease_until < now()) ORDER BY not_before, created_at LIMIT %s "
            "FOR UPDATE SKIP LOCKED) "
            "UPDATE wayfare_outbox o SET status = 'leased', lease_owner = %s, lease_until = now() + "
            "make_interval(secs => %s), attempts = o.attempts + 1, updated_at = now() FROM c "
            "WHERE o.send_key = c.send_key RETURNING o.send_key, o.workspace_id, o.channel, o.address, "
            "o.message_id, o.payload, o.attempts, o.flow, o.person_id, o.step",
            [n or self.batch, self.owner, self.lease_s]).fetchall()
        self.out["claimed"] += len(rows)
        return [_Row(*r) for r in rows]

    def _finish(self, status: str, items: list[tuple[_Row, str]], from_: tuple[str, ...]) -> list[str]:
        if not items:
            return []
        done = self.con.execute(
            "UPDATE wayfare_outbox o SET status = %s, detail = v.detail, updated_at = now() "
            "FROM unnest(%s::text[], %s::text[]) v(k, detail) WHERE o.send_key = v.k AND o.lease_owner = %s "
            "AND o.status = ANY(%s) RETURNING o.send_key",
            [status, [r.key for r, _ in items], [d[:300] for _, d in items], self.owner, list(from_)]).fetchall()
        return [r[0] for r in done]

    def _failed(self, r: _Row, err: Exception) -> None:
        """A definite no: ``failed`` when permanent or the attempts are spent (the dead-letter list), else
        back in the queue after the backoff."""
        why = describe(err)
        if classify(err) == "permanent" or r.attempts >= RETRY.max_attempts:
            if classify(err) != "permanent":
                why = f"gave up after {r.attempts} attempts: {why}"
            self.out["failed"] += len(self._finish("failed", [(r, why)], ("leased", "final")))
            return
        wait = RETRY.delay(r.attempts).total_seconds()
        self.con.execute("UPDATE wayfare_outbox SET status = 'queued', lease_owner = NULL, lease_until = NULL, "
                         "not_before = now() + make_interval(secs => %s), detail = %s, updated_at = now() "
                         "WHERE send_key = %s AND lease_owner = %s AND status IN ('leased', 'final')",
                         [wait, why[:300], r.key, self.owner])
        self.out["retry"] += 1

    # -- delivery -----------------------------------------------------------------------------------
    def _emails(self, rows: list[_Row]) -> None:
        n = self.lanes.n
        for lo in range(0, len(rows), n):
            group = rows[lo:lo + n]
            started: list[tuple[int, _Row]] = []
            for i, r in enumerate(group):
                p = r.payload
                try:
                    if self.settings is None:
                        raise RuntimeError("no SMTP server configured (set WAYFARE_SMTP_URL)")
                    msg = build_message(self.settings, r.address or "", p.get("subject", ""), p.get("text", ""),
                                        p.get("html"), r.mid, unsubscribe_url=p.get("unsubscribe"))
                    self.lanes.start(i, msg)
                    started.append((i, r))
                except Exception as err:  # noqa: BLE001 - refused before the terminator: nothing was sent
                    self._failed(r, err)
            if not started:
                continue
            won = set(r[0] for r in self.con.execute(
                "UPDATE wayfare_outbox SET status = 'final', updated_at = now() WHERE send_key = ANY(%s) AND "
                "lease_owner = %s AND status = 'leased' AND lease_until > now() RETURNING send_key",
                [[r.key for _, r in started], self.owner]).fetchall())
            sent: list[tuple[_Row, str]] = []
            for i, r in started:
                if r.key not in won:  # the lease ran out mid-send: no terminator; whoever claims it next sends it
                    self.lanes.drop(i)
                    self.out["lost_lease"] += 1
                    continue
                try:
                    self.lanes.client(i).terminate()
                except Exception as err:  # noqa: BLE001 - the terminator may have left: uncertain, not resent
                    self.lanes.drop(i)
                    self.out["uncertain"] += len(self._finish("uncertain", [(r, str(err))], ("final",)))
                    continue
                try:
                    sent.append((r, self.lanes.client(i).result()))
                except Exception as err:  # noqa: BLE001
                    if isinstance(err, smtplib.SMTPResponseException):  # the server answered: it did not take it
                        self._failed(r, err)
                    else:  # no answer: it may have been accepted
                        self.lanes.drop(i)
                        self.out["uncertain"] += len(self._finish("uncertain", [(r, describe(err))], ("final",)))
            self.out["sent"] += len(self._finish("sent", sent, ("final", "uncertain")))

    def _other(self, r: _Row) -> None:
        p = r.payload
        try:
            if r.channel == "sms":
                from ..channels import sms
                settings = sms.sms_settings()
                if settings is None:
                    raise RuntimeError("no SMS provider configured (set WAYFARE_SMS_URL)")
                res = str(sms.send_sms(settings, r.address or "", p.get("text", ""), r.key))
            else:
                from ..channels import webhook
                env = p.get("secret_env") or "WAYFARE_WEBHOOK_SECRET"
                secret = os.environ.get(env, "")
                if not secret:
                    raise webhook.TargetRefused(f"set {env} to sign webhook calls")
                res = str(webhook.deliver(p["url"], p.get("payload") or {}, secret, r.key, max_attempts=1))
        except Exception as err:  # noqa: BLE001 - classified by the retry policy
            self._failed(r, err)
            return
        self.out["sent"] += len(self._finish("sent", [(r, res)], ("leased",)))

    def run_once(self) -> int:
        """Reconcile, claim one batch and deliver it; returns how many rows were claimed."""
        self.reconcile()
        rows = self.claim()
        if not rows:
            return 0
        self._emails([r for r in rows if r.channel == "email"])
        for r in rows:
            if r.channel != "email":
                self._other(r)
        return len(rows)

    def drain(self, max_batches: int = 10_000) -> dict:
        """Deliver until nothing is due now."""
        for _ in range(max_batches):
            if not self.run_once():
                break
        return dict(self.out)

    def run(self, stop: threading.Event, idle: float = 0.5) -> None:
        """Until ``stop`` is set; a failing pass is logged and retried (the rows' leases protect them)."""
        while not stop.is_set():
            try:
                if self.run_once():
                    continue
            except Exception as e:  # noqa: BLE001 - keep the worker alive; reconnect on the next pass
                log.warning("delivery pass failed: %s", e)
                with contextlib.suppress(Exception):
                    if self.con.closed:
                        self.con = connect(self.url)
            stop.wait(idle)

    def close(self) -> None:
        self.lanes.close()
        with contextlib.suppress(Exception):
            self.con.close()


def wait_for(cond: Any, timeout: float = 30.0, every: float = 0.05) -> bool:
    """Poll ``cond()`` until true (for scripts and tests that watch the queue)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(every)
    return bool(cond())
