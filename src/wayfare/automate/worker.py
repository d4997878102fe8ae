"""The durable worker: due entries advanced by :func:`advance`, actions performed through one send path
that applies the policies, and every send recorded as an intent before it goes out and as a result after.

Exactly-once policy for email: the send log row (idempotency key flow, entry, person, step) moves
``intent`` → ``final`` (committed just before the SMTP terminator goes on the wire) → ``sent`` (committed
right after the 250). On restart an ``intent`` row is sent again (the server never saw the end of the
DATA, so it discarded the message), while a ``final`` row without a result may have been delivered: it
is reconciled as ``uncertain`` and **not** resent (at-most-once inside that window of one round trip plus
one commit; the Message-ID is deterministic, so a mailbox would also fold a copy). SMS and webhooks
carry the same key as the provider's idempotency key, so an ``intent`` retried after a crash is folded
by the provider. The entry's move to its next step commits in the same transaction as the send result.

Throughput (issue 6): emails go out in groups over several SMTP connections (:mod:`.lanes`). Each
connection stands just before its terminator; one commit writes the whole group's rows as ``final`` (a crash
before that commit leaves no row, and the server discards unfinished DATA, so those entries are simply sent
on a later pass); then the terminators go out and the replies are read. The ``sent`` results, log lines and
entry moves become three set-based statements that ride along with the next commit, and a chunk's results
commit before its entries are released. A crash in between leaves those rows ``final``: they become
``uncertain`` and are not resent. Facts and policy inputs for a chunk are read with a few set-based queries
(:class:`~wayfare.automate.prefetch.ChunkFacts`) right before it is sent. Per email: a share of one commit
and one SMTP transaction, where there were three commits and about eight single-row reads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import smtplib
import threading
from dataclasses import dataclass
from typing import Any

import orjson

from ..channels.email import SmtpSettings, build_message, render, smtp_settings
from ..channels.retry import RETRY, RetryDecision, describe
from ..privacy import consent_status, is_suppressed
from ..store import Scope, utcnow
from .context import facts_for, make_facts, render_message
from .engine import EntryState, Facts, advance
from .journal import record, tx
from .lanes import Lanes
from .model import Flow, Sms, Task, Update, Webhook, parse_duration
from .outbox import Deliverer, Outbox, outbox_for, sync
from .policy import Decision, decide, get_policy
from .prefetch import ChunkFacts
from .registry import stored_flows

__all__ = ["run_due", "reconcile"]
log = logging.getLogger("wayfare.automate")
CHUNK = 250  # entries whose facts are read together and whose results commit together


class _Lost(Exception):
    """Another pass claimed this send between our read and our insert: it is theirs."""


class _Unconfigured(RuntimeError):
    """A channel that is not set up (no provider URL, no signing secret): the send fails with the setting to fix."""


class _Later:
    """Statements kept for the next transaction (the results of sends whose row is already ``final``)."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, list, dict | None]] = []

    def execute(self, q: str, args: list, tables: dict | None = None) -> None:
        """``tables``: name → columns (dict of lists) the statement reads as a relation (``FROM name``); a
        few hundred rows bound this way cost DuckDB far less than the same rows as ``VALUES`` parameters."""
        self.statements.append((q, args, tables))

    @staticmethod
    def run(con: Any, q: str, args: list, tables: dict | None) -> None:
        if not tables:
            con.execute(q, args)
            return
        import pyarrow as pa
        for name, cols in tables.items():
            con.register(name, pa.table(cols))
        try:
            con.execute(q, args)
        finally:
            for name in tables:
                con.unregister(name)


def reconcile(scope: Scope) -> int:
    """After a crash: sends whose terminator may have reached the server become ``uncertain`` (not resent)."""
    with tx(scope.store) as con:
        n = con.execute("UPDATE main.sends SET status = 'uncertain', updated_at = ? WHERE workspace_id = ? "
                        "AND status = 'final'", [utcnow(), scope.workspace_id]).fetchone()[0]
    return int(n)


def _decorate(scope: Scope, e: _Entry, step: int, body: dict, key: str,
              purpose: str | None = None) -> tuple[str, str | None, str | None]:
    """Text and HTML with signed click/open links, and the one-click unsubscribe URL (marketing mail only),
    when the tracking channel is installed and ``WAYFARE_PUBLIC_URL`` makes the links reachable."""
    text, html, unsub = body["text"], body.get("html"), None
    try:
        from ..channels import tracking
    except ImportError:
        return text, html, None
    if not os.environ.get("WAYFARE_PUBLIC_URL"):
        return text, html, None
    meta = {"flow": e.flow.name, "step": step, "variant": e.variant}
    text = tracking.decorate(text, scope, key, e.person_id, html=False, **meta)
    html = tracking.decorate(html, scope, key, e.person_id, html=True, **meta) if html else html
    if (purpose or e.flow.purpose) != "transactional":  # RFC 8058 header: marketing mail only
        unsub = tracking.unsubscribe_url(scope, e.person_id, "email", send_id=key, **meta)
    return text, html, unsub


def _permanent(err: Exception) -> bool:
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in err.recipients.values())
    return isinstance(err, (smtplib.SMTPDataError, smtplib.SMTPSenderRefused)) and 500 <= err.smtp_code < 600


@dataclass
class _Mail:
    """An email built and waiting for its group: the row is written (``new``: as final, with this purpose)
    or updated (an ``intent`` retried) in the group's commit."""
    e: _Entry
    step: int
    body: dict
    address: str
    mid: str
    nxt: int
    new: str | None
    msg: Any


@dataclass
class _Entry:
    entry_id: str
    flow: Flow
    person_id: str
    trigger: str | None
    step: int
    wake_at: dt.datetime | None
    since: dt.datetime | None
    variant: str | None
    entered_at: dt.datetime

    @property
    def ref(self) -> tuple:
        return (self.entry_id, self.person_id, self.trigger)


def _move(con: Any, ws: str, e: _Entry, step: int, wake: dt.datetime | None, since: dt.datetime | None = None,
          wait_event: str | None = None, status: str = "active", outcome: str | None = None) -> None:
    done = step >= len(e.flow.steps) and status == "active"
    con.execute("UPDATE main.flow_entries SET step = ?, wake_at = ?, since = ?, wait_event = ?, variant = ?, "
                "status = ?, outcome = coalesce(?, outcome), updated_at = ? WHERE workspace_id = ? AND entry_id = ?",
                [step, None if done or status != "active" else wake, since, wait_event, e.variant,
                 "done" if done else status, outcome or ("done" if done else None), utcnow(), ws, e.entry_id])


def _log_and_move(c: Any, ws: str, at: dt.datetime, now: dt.datetime, items: list[tuple]) -> None:
    """Log lines and entry moves for many sends as two set-based statements (kept for the next commit):
    ``items`` are (entry, step, action, outcome, reason, next step); an entry listed twice moves to its last."""
    c.execute("INSERT INTO main.automation_log SELECT ?, ?, flow, entry_id, person_id, step, action, outcome, "
              "reason, trigger_event, variant FROM wf_log", [ws, at], {"wf_log": {
                  "flow": [i[0].flow.name for i in items], "entry_id": [i[0].entry_id for i in items],
                  "person_id": [i[0].person_id for i in items], "step": [i[1] for i in items],
                  "action": [i[2] for i in items], "outcome": [i[3] for i in items], "reason": [i[4] for i in items],
                  "trigger_event": [i[0].trigger for i in items], "variant": [i[0].variant for i in items]}})
    last = list({i[0].entry_id: i for i in items}.values())
    fin = [i[5] >= len(i[0].flow.steps) for i in last]
    c.execute("UPDATE main.flow_entries SET step = v.step, wake_at = NULL, since = NULL, wait_event = NULL, "
              "variant = v.variant, status = v.status, outcome = coalesce(v.outcome, flow_entries.outcome), "
              "updated_at = ? FROM wf_moves v WHERE flow_entries.workspace_id = ? AND "
              "flow_entries.entry_id = v.entry_id", [now, ws], {"wf_moves": {
                  "entry_id": [i[0].entry_id for i in last], "step": [i[5] for i in last],
                  "variant": [i[0].variant for i in last], "status": ["done" if f else "active" for f in fin],
                  "outcome": ["done" if f else None for f in fin]}})


class _Run:
    """One pass over the due entries of a workspace at ``now``."""

    def __init__(self, scope: Scope, now: dt.datetime, settings: SmtpSettings | None):
        self.scope, self.now, self.ws = scope, now, scope.workspace_id
        self.store = scope.store
        self.sender = Lanes(settings)
        self.queue: list[_Mail] = []  # emails waiting for a free lane (one per lane)
        self.stuck: set[str] = set()  # entries whose email did not go through: they go no further this pass
        self.policy = get_policy(scope)
        self.journey: list[tuple] = []
        self.later = _Later()
        self.chunk: ChunkFacts | None = None
        self.outbox: Outbox | None = None  # delivery through the PostgreSQL queue (WAYFARE_QUEUE_URL)
        self.enqueued: list[tuple] = []  # queued sends whose rows and moves ride along with the next commit
        self.out = {"due": 0, "sent": 0, "skipped": 0, "deferred": 0, "failed": 0, "tasks": 0, "approvals": 0,
                    "goals": 0, "errors": 0}

    @contextlib.contextmanager
    def tx(self) -> Any:
        """A write transaction that first applies the results kept for later (in their order). Messages
        for the queue are written to it first: a crash before this commit repeats the step, and the queue
        folds the repeat by its idempotency key."""
        if self.outbox is not None:
            self.outbox.flush()
            self._enqueued_statements()
        with tx(self.store) as c:
            for q, args, tables in self.later.statements:
                _Later.run(c, q, args, tables)
            yield c
        self.later.statements.clear()

    def commit(self) -> None:
        if self.later.statements or self.enqueued or (self.outbox is not None and self.outbox.pending):
            with self.tx():
                pass

    def facts(self, e: _Entry) -> Facts:
        ch = self.chunk
        ev = ch.event(e.trigger) if ch is not None and e.trigger else {}
        if ch is None or not ch.knows(e.person_id) or ev is None:
            return facts_for(self.scope, e.person_id, e.trigger, e.entered_at, self.policy)
        return make_facts(self.scope, e.person_id, ch.person(e.person_id), ev, e.entered_at, self.policy)

    # -- the send path ----------------------------------------------------------------------------
    def _key(self, e: _Entry, step: int) -> tuple:
        return (e.flow.name, e.entry_id, e.person_id, step)

    def _send_row(self, e: _Entry, step: int) -> tuple | None:
        known = self.chunk.send_row(self._key(e, step)) if self.chunk is not None else False
        if known is not False:
            return known  # type: ignore[return-value]
        return self.store.cursor().execute(
            "SELECT status, message_id FROM sends WHERE workspace_id = ? AND flow = ? AND entry_id = ? AND "
            "person_id = ? AND step = ?", [self.ws, *self._key(e, step)]).fetchone()

    def _set(self, con: Any, e: _Entry, step: int, status: str, detail: str | None = None) -> None:
        con.execute("UPDATE main.sends SET status = ?, detail = coalesce(?, detail), updated_at = ? WHERE "
                    "workspace_id = ? AND flow = ? AND entry_id = ? AND person_id = ? AND step = ?",
                    [status, detail, utcnow(), self.ws, *self._key(e, step)])
        if self.chunk is not None:
            self.chunk.wrote(self._key(e, step), status)

    def _insert(self, con: Any, e: _Entry, step: int, status: str, channel: str, address: str | None, mid: str,
                purpose: str, body: dict) -> bool:
        """The send-log row (the claim on the idempotency key); False when another pass holds it."""
        won = con.execute("INSERT OR IGNORE INTO main.sends (workspace_id, flow, entry_id, person_id, step, channel, "
                          "address, message_id, status, detail, created_at, updated_at, purpose, variant, "
                          "trigger_event, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)",
                          [self.ws, *self._key(e, step), channel, address, mid, status, self.now, utcnow(), purpose,
                           e.variant, e.trigger, orjson.dumps(body).decode()]).fetchone()[0]
        if won and self.chunk is not None:
            self.chunk.wrote(self._key(e, step), status, mid)
        return bool(won)

    def _policy(self, e: _Entry, channel: str, purpose: str, address: str | None, facts: Facts) -> Decision:
        sc = self.scope
        if channel == "webhook":
            return Decision("defer", "automations paused for the workspace", self.now + dt.timedelta(hours=1)) \
                if self.policy.paused else Decision("send")
        ch = self.chunk if self.chunk is not None and self.chunk.knows(e.person_id) else None
        if ch is not None:
            return decide(self.policy, channel=channel, purpose=purpose, address=address,
                          consent=ch.consent(e.person_id, channel, purpose),
                          suppressed=ch.is_suppressed(channel, address) if address else None,
                          person_paused=str(facts.person.get("automations_paused", "")).lower() in ("true", "1", "yes"),
                          recent_marketing=ch.marketing_sent(e.person_id), now=self.now, tz=facts.tz)
        recent = 0
        if purpose == "marketing":
            recent = self.store.cursor().execute(
                "SELECT count(*) FROM sends WHERE workspace_id = ? AND person_id = ? AND purpose = 'marketing' AND "
                "status IN ('sent', 'final', 'uncertain', 'queued') AND created_at > ?",
                [self.ws, e.person_id, self.now - dt.timedelta(days=self.policy.cap_days)]).fetchone()[0]
        return decide(self.policy, channel=channel, purpose=purpose, address=address,
                      consent=consent_status(sc, e.person_id, channel, purpose),
                      suppressed=is_suppressed(sc, channel, address) if address else None,
                      person_paused=str(facts.person.get("automations_paused", "")).lower() in ("true", "1", "yes"),
                      recent_marketing=int(recent), now=self.now, tz=facts.tz)

    def message(self, e: _Entry, step: int, node: Any, facts: Facts, nxt: int) -> bool:
        """Perform one message step; True when the entry moved on, False when it waits (approval, deferral)."""
        ws, key = self.ws, self._key(e, step)
        row = self._send_row(e, step)
        if row and row[0] != "intent":  # already done (sent, uncertain, skipped, failed): just move on
            with self.tx() as c:
                _move(c, ws, e, nxt, None)
            return True
        channel = "webhook" if isinstance(node, Webhook) else "sms" if isinstance(node, Sms) else "email"
        purpose = getattr(node, "purpose", None) or e.flow.purpose
        sid = hashlib.sha256(f"{ws}|{e.flow.name}|{e.entry_id}|{e.person_id}|{step}".encode()).hexdigest()[:32]
        mid = f"<{sid}@wayfare>"
        body = None
        if getattr(node, "approval", None) is not None:
            body = self._approval(e, step, node, facts, sid)
            if body is None or body == "waiting":
                return body is None
        if body is None:
            body = render_message(node, facts, e.flow, e.variant, sid)
        address = (facts.person.get("email") if channel == "email" else
                   facts.person.get("phone") if channel == "sms" else node.url)
        d = self._policy(e, channel, purpose, address, facts)
        if d.verdict == "defer":
            with self.tx() as c:
                record(c, ws, e.flow.name, e.ref, step, channel, "deferred", d.reason, e.variant, self.now)
                _move(c, ws, e, step, d.until)
            self.out["deferred"] += 1
            return False
        if d.verdict == "skip":
            with self.tx() as c:
                if not row and not self._insert(c, e, step, "skipped", channel, address, mid, purpose, body):
                    return False  # another pass claimed this send between our read and our insert: it is theirs
                self._set(c, e, step, "skipped", d.reason)
                record(c, ws, e.flow.name, e.ref, step, channel, "skipped", d.reason, e.variant, self.now)
                _move(c, ws, e, nxt, None)
            self.out["skipped"] += 1
            return True
        if self.outbox is not None:
            return self._enqueue(e, step, channel, body, address, mid, sid, nxt, purpose, row,
                                 getattr(node, "secret_env", None))
        if channel == "email":  # its row is written in the commit just before the terminator
            return self._email(e, step, body, address or "", mid, sid, nxt, None if row else purpose)
        if not row:
            with self.tx() as c:
                if not self._insert(c, e, step, "intent", channel, address, mid, purpose, body):
                    return False  # another pass claimed this send between our read and our insert: it is theirs
        self._other(e, step, channel, body, address or "", nxt, getattr(node, "secret_env", None))
        if purpose == "marketing" and self.chunk is not None and (self.chunk.send_row(key) or ("",))[0] == "sent":
            self.chunk.count_marketing(e.person_id)
        return True

    def _enqueue(self, e: _Entry, step: int, channel: str, body: dict, address: str | None, mid: str, sid: str,
                 nxt: int, purpose: str, row: tuple | None, secret_env: str | None) -> bool:
        """Queue mode: the rendered message goes to the PostgreSQL queue under its idempotency key; the send
        row (``queued``), its log line and the entry's move ride along with the next commit."""
        assert self.outbox is not None
        key = f"{e.flow.name}:{e.entry_id}:{e.person_id}:{step}"
        if channel == "email":
            text, html, unsub = _decorate(self.scope, e, step, body, key, purpose)
            payload: dict = {"subject": body["subject"], "text": text, "html": html, "unsubscribe": unsub}
        elif channel == "sms":
            payload = {"text": body["text"]}
        else:
            payload = {"url": body["url"], "payload": body["payload"], "secret_env": secret_env}
        self.outbox.add(sid, self.ws, e.flow.name, e.entry_id, e.person_id, step, channel, address, mid, payload,
                        retry=row is not None)
        if row:
            self.later.execute("UPDATE main.sends SET status = 'queued', updated_at = ? WHERE workspace_id = ? AND "
                               "flow = ? AND entry_id = ? AND person_id = ? AND step = ?",
                               [utcnow(), self.ws, *self._key(e, step)])
        self.enqueued.append((e, step, channel, address, mid, nxt, purpose, body, row is None))
        if self.chunk is not None:
            self.chunk.wrote(self._key(e, step), "queued", mid)
            if purpose == "marketing":
                self.chunk.count_marketing(e.person_id)
        self.out["queued"] = self.out.get("queued", 0) + 1
        return True

    def _enqueued_statements(self) -> None:
        """The queued sends' rows, log lines and entry moves as three set-based statements for the commit."""
        rows, self.enqueued = self.enqueued, []
        if not rows:
            return
        ws, now, c = self.ws, utcnow(), self.later
        new = [r for r in rows if r[8]]
        if new:
            c.execute("INSERT OR IGNORE INTO main.sends (workspace_id, flow, entry_id, person_id, step, channel, "
                      "address, message_id, status, created_at, updated_at, purpose, variant, trigger_event, body) "
                      "SELECT ?, flow, entry_id, person_id, step, channel, address, message_id, 'queued', ?, ?, "
                      "purpose, variant, trigger_event, body FROM wf_new", [ws, self.now, now], {"wf_new": {
                          "flow": [r[0].flow.name for r in new], "entry_id": [r[0].entry_id for r in new],
                          "person_id": [r[0].person_id for r in new], "step": [r[1] for r in new],
                          "channel": [r[2] for r in new], "address": [r[3] for r in new],
                          "message_id": [r[4] for r in new], "purpose": [r[6] for r in new],
                          "variant": [r[0].variant for r in new], "trigger_event": [r[0].trigger for r in new],
                          "body": [orjson.dumps(r[7]).decode() for r in new]}})
        _log_and_move(c, ws, self.now, now, [(r[0], r[1], r[2], "queued", (r[7].get("subject") or r[2])[:300], r[5])
                                             for r in rows])

    def _email(self, e: _Entry, step: int, body: dict, address: str, mid: str, sid: str, nxt: int,
               new: str | None) -> bool:
        """Send one email. ``new`` is the purpose when no row exists yet (it is inserted as ``final``), None
        when an ``intent`` row is retried. The email is queued for the next group (see send_queue)."""
        key = f"{e.flow.name}:{e.entry_id}:{e.person_id}:{step}"
        text, html, unsub = _decorate(self.scope, e, step, body, key, self._purpose(e, step, new))
        if self.sender.settings is None:
            self._email_failed(_Mail(e, step, body, address, mid, nxt, new, None),
                               RuntimeError("no SMTP server configured (set WAYFARE_SMTP_URL)"), raise_=True)
        msg = build_message(self.sender.settings, address, body["subject"], text, html, mid, unsubscribe_url=unsub)
        self.queue.append(_Mail(e, step, body, address, mid, nxt, new, msg))
        if len(self.queue) >= self.sender.n:
            self.send_queue()
        return True

    def _purpose(self, e: _Entry, step: int, new: str | None) -> str | None:
        """The send's purpose: ``new`` for a first try, else the one its ``intent`` row was written with."""
        if new is not None:
            return new
        row = self.store.cursor().execute(
            "SELECT purpose FROM sends WHERE workspace_id = ? AND flow = ? AND entry_id = ? AND person_id = ? AND "
            "step = ?", [self.ws, *self._key(e, step)]).fetchone()
        return row[0] if row and row[0] else e.flow.purpose

    def waiting(self, e: _Entry) -> bool:
        return any(m.e.entry_id == e.entry_id for m in self.queue)

    def send_queue(self) -> None:
        """Send the queued emails as one group: each lane stands before its terminator, one commit makes
        every row ``final``, the terminators go out, the replies are read; the results wait for the next
        commit. A failure is that email's alone (recorded as the single path did)."""
        group, self.queue = self.queue, []
        ready: list[tuple[int, _Mail]] = []
        for i, m in enumerate(group):
            try:
                self.sender.start(i, m.msg)
                ready.append((i, m))
            except Exception as err:  # noqa: BLE001 - refused before the terminator: nothing was sent
                self._email_failed(m, err)
        if not ready:
            return
        try:
            with self.tx() as c:
                for _, m in ready:
                    if m.new is None:  # an intent retried
                        self._set(c, m.e, m.step, "final")
                won = self._insert_final(c, [m for _, m in ready if m.new is not None])
            # another pass claimed these sends between our read and our insert: they are theirs
            lost = {i for i, m in ready if m.new is not None and (m.e.entry_id, m.step) not in won}
        except Exception as err:  # noqa: BLE001 - nothing recorded: no terminator goes out, all stay due
            for i, m in ready:
                self.sender.drop(i)
                self.stuck.add(m.e.entry_id)
            self.out["errors"] += len(ready)
            log.warning("a group of %d emails was not recorded (sent on a later pass): %s", len(ready), err)
            return
        for i in lost:
            self.sender.drop(i)
            self.stuck.add(group[i].e.entry_id)
        ready = [(i, m) for i, m in ready if i not in lost]
        for _, m in ready:
            if m.new == "marketing" and self.chunk is not None:
                self.chunk.count_marketing(m.e.person_id)
        sent: list[tuple[int, _Mail]] = []
        for i, m in ready:
            try:
                self.sender.client(i).terminate()
                sent.append((i, m))
            except Exception as err:  # noqa: BLE001 - the row is final: reconciled as uncertain, not resent
                self.sender.drop(i)
                self._email_failed(m, err)
        done: list[tuple[_Mail, str]] = []
        for i, m in sent:
            try:
                done.append((m, self.sender.client(i).result()))
            except Exception as err:  # noqa: BLE001
                if not _permanent(err):
                    self.sender.drop(i)
                self._email_failed(m, err)
        self._results(done)

    def _insert_final(self, con: Any, mails: list[_Mail]) -> set[tuple[str, int]]:
        """The group's new rows, straight as ``final``, in one statement; returns (entry, step) of those won."""
        if not mails:
            return set()
        now, cols = utcnow(), []
        for m in mails:
            cols += [self.ws, *self._key(m.e, m.step), "email", m.address, m.mid, "final", self.now, now, m.new,
                     m.e.variant, m.e.trigger, orjson.dumps(m.body).decode()]
        won = {(r[0], r[1]) for r in con.execute(
            "INSERT OR IGNORE INTO main.sends (workspace_id, flow, entry_id, person_id, step, channel, address, "
            "message_id, status, created_at, updated_at, purpose, variant, trigger_event, body) VALUES " +
            ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(mails)) + " RETURNING entry_id, step",
            cols).fetchall()}
        if self.chunk is not None:
            for m in mails:
                if (m.e.entry_id, m.step) in won:
                    self.chunk.wrote(self._key(m.e, m.step), "final", m.mid)
        return won

    def _results(self, done: list[tuple[_Mail, str]]) -> None:
        """The group's ``sent`` results, log lines and entry moves as three set-based statements that ride
        along with the next commit (the rows are ``final`` already)."""
        if not done:
            return
        ws, now, c = self.ws, utcnow(), self.later
        for m, _reply in done:
            e = m.e
            if self.chunk is not None:
                self.chunk.wrote(self._key(e, m.step), "sent", m.mid)
            self.out["sent"] += 1
            self._journey_event(e, m.step, "email", f"{e.flow.name}:{e.entry_id}:{e.person_id}:{m.step}")
        c.execute("UPDATE main.sends SET status = 'sent', detail = coalesce(v.detail, sends.detail), updated_at = ? "
                  "FROM wf_sent v WHERE sends.workspace_id = ? AND sends.flow = v.flow AND sends.entry_id = "
                  "v.entry_id AND sends.person_id = v.person_id AND sends.step = v.step", [now, ws], {"wf_sent": {
                      "flow": [m.e.flow.name for m, _ in done], "entry_id": [m.e.entry_id for m, _ in done],
                      "person_id": [m.e.person_id for m, _ in done], "step": [m.step for m, _ in done],
                      "detail": [reply[:200] for _, reply in done]}})
        _log_and_move(c, ws, self.now, now, [(m.e, m.step, "email", "sent", m.body["subject"][:200] or None, m.nxt)
                                             for m, _ in done])

    def _email_failed(self, m: _Mail, err: Exception, raise_: bool = False) -> None:
        """Refused before the terminator (retried, or failed for good), or after it (``uncertain``)."""
        e, step, ws = m.e, m.step, self.ws
        with self.tx() as c:
            got = c.execute("SELECT status FROM main.sends WHERE workspace_id = ? AND flow = ? AND entry_id = ? "
                            "AND person_id = ? AND step = ?", [ws, *self._key(e, step)]).fetchone()
            if got is None and not self._insert(c, e, step, "intent", "email", m.address, m.mid, m.new or "",
                                                m.body):
                self.stuck.add(e.entry_id)
                return
            st = got[0] if got else "intent"
            # a reply to the terminator (4xx/5xx) is a definite "not taken"; a lost connection may hide a 250
            if st == "final" and not isinstance(err, smtplib.SMTPResponseException):
                self._set(c, e, step, "uncertain", str(err)[:300])
                _move(c, ws, e, m.nxt, None)
                self.out["errors"] += 1
            elif self._retry(c, e, step, "email", err, m.nxt).verdict != "retry":
                return  # failed for good (refused, or gave up): in the dead-letter list, the entry moved on
        if raise_:
            raise err
        self.stuck.add(e.entry_id)
        log.warning("flow %s entry %s: %s", e.flow.name, e.entry_id, err)

    def _retry(self, c: Any, e: _Entry, step: int, channel: str, err: BaseException, nxt: int) -> RetryDecision:
        """A failed attempt, inside the caller's transaction: a transient one leaves the send ``intent`` with
        one more attempt and puts the *entry* to sleep until the backoff ends (the engine schedules the retry);
        a permanent one, or the last allowed, makes the send ``failed`` and moves the entry on."""
        ws, key = self.ws, self._key(e, step)
        n, first = c.execute("SELECT coalesce(attempts, 0) + 1, first_failed_at FROM main.sends WHERE workspace_id = ? "
                             "AND flow = ? AND entry_id = ? AND person_id = ? AND step = ?", [ws, *key]).fetchone()
        d = RETRY.decide(err, n, first, self.now)
        status = "intent" if d.verdict == "retry" else "failed"
        self._set(c, e, step, status, d.reason[:300])
        c.execute("UPDATE main.sends SET attempts = ?, first_failed_at = coalesce(first_failed_at, ?) WHERE "
                  "workspace_id = ? AND flow = ? AND entry_id = ? AND person_id = ? AND step = ?",
                  [n, self.now, ws, *key])
        if d.verdict == "retry":
            assert d.wake_at is not None
            record(c, ws, e.flow.name, e.ref, step, channel, "retry",
                   f"attempt {n} failed, next at {d.wake_at:%Y-%m-%d %H:%M:%S}: {d.reason}", e.variant, self.now)
            _move(c, ws, e, step, d.wake_at)
            self.stuck.add(e.entry_id)
            self.out["retrying"] = self.out.get("retrying", 0) + 1
        else:
            record(c, ws, e.flow.name, e.ref, step, channel, "failed", d.reason, e.variant, self.now)
            _move(c, ws, e, nxt, None)
            self.out["failed"] += 1
        return d

    def _journey_event(self, e: _Entry, step: int, channel: str, key: str) -> None:
        """The send comes back as an event (DESIGN: the journey map shows automated touchpoints too);
        written in one batch at the end of the pass (``messageId`` makes a repeat harmless)."""
        self.journey.append((e.person_id, "Email Sent" if channel == "email" else "SMS Sent", channel,
                             {"flow": e.flow.name, "step": step, "variant": e.variant, "trigger_event": e.trigger},
                             f"sent:{key}"))

    def flush(self) -> None:
        if not self.journey:
            return
        from ..ingest import to_row, write_rows
        pids = list({j[0] for j in self.journey})
        who = dict(self.store.cursor().execute(
            "SELECT person_id, arg_min(value, first_seen) FROM identities WHERE workspace_id = ? AND kind = 'user_id' "
            "AND list_contains(?, person_id) GROUP BY 1", [self.ws, pids]).fetchall())
        now = utcnow()
        try:
            from ..channels.records import _who as identify  # people without a user id: their email/phone
        except ImportError:
            identify = None
        rows = []
        for pid, ev, ch, props, mid in self.journey:
            ident = {"userId": who[pid]} if pid in who else identify(self.scope, pid) if identify else None
            if ident:
                rows.append(to_row({"type": "track", "event": ev, "properties": props, "channel": ch,
                                    "messageId": mid, **ident}, now, "wayfare:automate"))
        with contextlib.suppress(Exception):  # every send is in the send log whatever happens here
            write_rows(self.scope, rows)
        self.journey.clear()

    def _other(self, e: _Entry, step: int, channel: str, body: dict, address: str, nxt: int,
               secret_env: str | None) -> None:
        """One SMS or webhook call, a single attempt (nothing sleeps here): the same idempotency key goes with
        every retry, so the provider folds a repeat. A transient failure is retried by the engine with backoff
        (:meth:`_retry`); a refusal, a forbidden target or a missing setting fails at once."""
        ws, key = self.ws, f"{e.flow.name}:{e.entry_id}:{e.person_id}:{step}"
        err: BaseException | None = None
        try:
            if channel == "sms":
                from ..channels import sms
                settings = sms.sms_settings()
                if settings is None:
                    raise _Unconfigured("no SMS provider configured (set WAYFARE_SMS_URL)")
                # with scope the provider's message sid is noted with this send (note_message), so delivery
                # reports and bounces find it
                res = str(sms.send_sms(settings, address, body["text"], key, scope=self.scope,
                                       person_id=e.person_id, flow=e.flow.name, step=step, variant=e.variant))
            else:
                from ..channels import webhook
                secret = os.environ.get(secret_env or "WAYFARE_WEBHOOK_SECRET", "")
                if not secret:
                    raise _Unconfigured(f"set {secret_env or 'WAYFARE_WEBHOOK_SECRET'} to sign webhook calls")
                res = str(webhook.deliver(body["url"], body["payload"], secret, key, max_attempts=1))
        except ImportError as x:
            err = _Unconfigured(f"the {channel} channel is not installed ({x})")
        except Exception as x:  # noqa: BLE001 - classified below: retried later, or failed with its reason
            err = x
        with self.tx() as c:
            if err is None:
                self._set(c, e, step, "sent", res[:300])  # attempts counts the failed tries, as for email
                record(c, ws, e.flow.name, e.ref, step, channel, "sent", res, e.variant, self.now)
                _move(c, ws, e, nxt, None)
            elif isinstance(err, _Unconfigured):
                self._set(c, e, step, "failed", str(err)[:300])
                record(c, ws, e.flow.name, e.ref, step, channel, "failed", str(err), e.variant, self.now)
                _move(c, ws, e, nxt, None)
                self.out["failed"] += 1
            else:
                self._retry(c, e, step, channel, err, nxt)
        if err is None:
            self.out["sent"] += 1
            if channel == "sms":
                self._journey_event(e, step, "sms", key)
        elif not isinstance(err, _Unconfigured):
            log.warning("flow %s entry %s: %s %s", e.flow.name, e.entry_id, channel, describe(err))

    def _approval(self, e: _Entry, step: int, node: Any, facts: Facts, sid: str) -> dict | str | None:
        """The approved (possibly edited) message; "waiting" while it waits; None when rejected (moved on)."""
        ws, aid = self.ws, f"{e.entry_id}:{step}"
        row = self.store.cursor().execute("SELECT status, CAST(payload AS VARCHAR), due_at, decided_by FROM approvals "
                                          "WHERE workspace_id = ? AND approval_id = ?", [ws, aid]).fetchone()
        nxt = e.flow.after(step)
        if row is None:
            body = render_message(node, facts, e.flow, e.variant, sid)
            due = self.now + parse_duration(node.approval.timeout)
            with self.tx() as c:
                c.execute("INSERT OR IGNORE INTO main.approvals (workspace_id, approval_id, flow, entry_id, person_id, "
                          "step, status, payload, created_at, decided_at, due_at, on_timeout) VALUES "
                          "(?, ?, ?, ?, ?, ?, 'pending', ?, ?, NULL, ?, ?)",
                          [ws, aid, e.flow.name, e.entry_id, e.person_id, step, orjson.dumps(body).decode(),
                           self.now, due, node.approval.on_timeout])
                record(c, ws, e.flow.name, e.ref, step, "approval", "pending", f"waits until {due:%Y-%m-%d %H:%M}",
                       e.variant, self.now)
                _move(c, ws, e, step, due)
            self.out["approvals"] += 1
            return "waiting"
        status, payload, due, who = row
        if status == "pending" and self.now < due:
            with self.tx() as c:
                _move(c, ws, e, step, due)
            return "waiting"
        if status == "pending":
            status = "approved" if node.approval.on_timeout == "send" else "expired"
            with self.tx() as c:
                c.execute("UPDATE main.approvals SET status = ?, decided_at = ?, decided_by = 'timeout' WHERE "
                          "workspace_id = ? AND approval_id = ?", [status, self.now, ws, aid])
            who = "timeout"
        if status == "approved":
            return orjson.loads(payload)
        why = f"rejected by {who}" if status == "rejected" else "approval timed out"
        with self.tx() as c:
            record(c, ws, e.flow.name, e.ref, step, "approval", "skipped", why, e.variant, self.now)
            _move(c, ws, e, nxt, None)
        self.out["skipped"] += 1
        return None

    # -- other actions ----------------------------------------------------------------------------
    def task(self, e: _Entry, step: int, node: Task, facts: Facts, nxt: int) -> None:
        ctx = {"person": facts.person, "event": facts.event, "flow": e.flow.name}
        title = render(node.title, ctx)
        with self.tx() as c:
            n = c.execute("INSERT OR IGNORE INTO main.tasks (workspace_id, task_id, flow, entry_id, person_id, title, "
                          "due_at, status, created_at, step, trigger_event, assignee) VALUES "
                          "(?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)",
                          [self.ws, f"{e.entry_id}:{step}", e.flow.name, e.entry_id, e.person_id, title,
                           self.now + parse_duration(node.due), self.now, step, e.trigger, node.assignee]).fetchone()[0]
            if n:
                record(c, self.ws, e.flow.name, e.ref, step, "task", "done", title, e.variant, self.now)
            _move(c, self.ws, e, nxt, None)
        self.out["tasks"] += 1

    def update(self, e: _Entry, step: int, node: Update, nxt: int) -> None:
        if self.chunk is not None:
            self.chunk.forget(e.person_id)
        with self.tx() as c:
            row = c.execute("SELECT CAST(traits AS VARCHAR) FROM main.profiles WHERE workspace_id = ? AND person_id = ?",
                            [self.ws, e.person_id]).fetchone()
            if row is not None:
                traits = orjson.loads(row[0]) if row[0] else {}
                traits.update(node.set)
                tags = [t for t in traits.get("tags") or [] if t not in node.remove_tags]
                tags += [t for t in node.add_tags if t not in tags]
                if tags or "tags" in traits:
                    traits["tags"] = tags
                c.execute("UPDATE main.profiles SET traits = ? WHERE workspace_id = ? AND person_id = ?",
                          [orjson.dumps(traits).decode(), self.ws, e.person_id])
            record(c, self.ws, e.flow.name, e.ref, step, "update", "done" if row is not None else "skipped",
                   orjson.dumps({"set": node.set, "add_tags": node.add_tags, "remove_tags": node.remove_tags}).decode()
                   if row is not None else "no profile", e.variant, self.now)
            _move(c, self.ws, e, nxt, None)

    # -- one entry --------------------------------------------------------------------------------
    def entry(self, e: _Entry) -> None:
        ws, flow = self.ws, e.flow
        facts = self.facts(e)
        if flow.goal and facts.happened(flow.goal.event, flow.goal.where, e.entered_at, self.now):
            with self.tx() as c:
                record(c, ws, flow.name, e.ref, e.step, "goal", "done", flow.goal.event, e.variant, self.now)
                _move(c, ws, e, e.step, None, status="goal", outcome="goal")
            self.out["goals"] += 1
            return
        state = EntryState(e.step, e.wake_at, e.since, e.variant)
        for _ in range(4 * len(flow.steps) + 4):  # a guard against a graph that loops without waiting
            if state.step is None or state.step >= len(flow.steps):
                with self.tx() as c:
                    _move(c, ws, e, len(flow.steps), None)
                return
            i = state.step
            res = advance(flow, state, self.now, facts)
            if res.variant and res.variant != e.variant:
                e.variant = res.variant
            nxt = len(flow.steps) if res.next is None else res.next
            if res.next is None and res.outcome:
                with self.tx() as c:
                    record(c, ws, flow.name, e.ref, i, res.outcome, "done", None, e.variant, self.now)
                    _move(c, ws, e, i, None, status="exited", outcome=res.outcome)
                return
            for action in res.actions:
                if self.waiting(e):
                    self.send_queue()
                if e.entry_id in self.stuck:
                    return
                if isinstance(action, Task):
                    self.task(e, i, action, facts, nxt)
                elif isinstance(action, Update):
                    self.update(e, i, action, nxt)
                    facts = facts_for(self.scope, e.person_id, e.trigger, e.entered_at, self.policy)
                elif not self.message(e, i, action, facts, nxt):
                    return  # waits for a person or for the morning
            if res.actions and nxt >= len(flow.steps):
                return  # the action's own transaction already marked the entry done
            if self.waiting(e):
                self.send_queue()
            if e.entry_id in self.stuck:
                return
            if not res.actions:
                node = flow.steps[i]
                with self.tx() as c:
                    _move(c, ws, e, nxt, res.wake_at, res.since,
                          getattr(node, "event", None) if res.wake_at and getattr(node, "type", "") == "wait" else None)
            if res.wake_at is not None:
                return
            state = EntryState(nxt, None, None, e.variant)
        log.warning("flow %s entry %s: too many steps without a wait in one pass", flow.name, e.entry_id)


def run_due(scope: Scope, now: dt.datetime | None = None, settings: SmtpSettings | None = None,
            limit: int = 5000, deliver: bool = True) -> dict:
    """Advance every entry that is due at ``now``; returns counts. With a delivery queue
    (``WAYFARE_QUEUE_URL``) messages are queued, results copied back, and (``deliver``) what is due in the
    queue is delivered by this process too, next to any ``wayfare worker --queue`` processes."""
    from ..store.postgres import queue_url
    now = now or utcnow()
    settings = settings or smtp_settings()
    url = queue_url()
    outbox = outbox_for(url) if url else None
    if outbox is not None:
        _sync(scope, outbox)
    flows = {f.name: f for f, _ in stored_flows(scope)}
    rows = scope.store.cursor().execute(
        "SELECT entry_id, flow, person_id, trigger_event, step, wake_at, since, variant, entered_at FROM flow_entries "
        "WHERE workspace_id = ? AND status = 'active' AND (wake_at IS NULL OR wake_at <= ?) "
        "ORDER BY entered_at, entry_id LIMIT ?", [scope.workspace_id, now, limit]).fetchall()
    run = _Run(scope, now, settings)
    run.outbox = outbox
    run.out["due"] = len(rows)
    try:
        for lo in range(0, len(rows), CHUNK):
            _chunk(run, flows, rows[lo:lo + CHUNK])
    finally:
        try:
            run.send_queue()
            run.commit()
        finally:
            run.sender.close()
            run.flush()
    if outbox is not None and deliver and url:
        d = Deliverer(url, settings)
        try:
            got = d.drain()
        finally:
            d.close()
        run.out["delivered"] = got["sent"]
        run.out["sent"] += _sync(scope, outbox)
    return run.out


def _sync(scope: Scope, outbox: Outbox) -> int:
    """Results from the queue into the send log; each message sent also comes back as a journey event."""
    run = _Run(scope, utcnow(), None)
    flows = {f.name: f for f, _ in stored_flows(scope)}
    n = 0

    def sent(flow: str, eid: str, pid: str, step: int, channel: str, variant: str | None, trig: str | None,
             detail: str | None) -> None:
        key = f"{flow}:{eid}:{pid}:{step}"
        if channel == "sms" and detail:  # the provider's message id: its status call-backs find this send
            from ..channels.records import note_message
            note_message(scope, "sms", detail, "sent", send_id=key, person_id=pid, flow=flow, step=step,
                         variant=variant)
        if flow in flows and channel in ("email", "sms"):
            e = _Entry(eid, flows[flow], pid, trig, step, None, None, variant, run.now)
            run._journey_event(e, step, channel, key)

    for _ in range(100):
        read, got = sync(outbox, scope, sent)
        n += got
        if not read:
            break
    run.flush()
    return n


def _chunk(run: _Run, flows: dict[str, Flow], rows: list[tuple]) -> None:
    """Claim a chunk of listed entries, read what they need at once, advance each, commit the results."""
    ws, now = run.ws, run.now
    mine = [r for r in rows if r[1] in flows and _claim(ws, r[0])]  # others: another pass in this process
    try:
        fresh = {r[0]: r[1:] for r in run.store.cursor().execute(
            "SELECT entry_id, step, wake_at, since, variant, entered_at, status FROM flow_entries WHERE "
            "workspace_id = ? AND list_contains(?, entry_id)", [ws, [r[0] for r in mine]]).fetchall()} if mine else {}
        run.chunk = ChunkFacts(run.scope, [(r[0], r[2], r[3]) for r in mine], now, run.policy.cap_days) \
            if mine else None
        for eid, fname, pid, trig, *_ in mine:
            f = fresh.get(eid)
            if f is None or f[5] != "active" or (f[1] is not None and f[1] > now):
                continue  # moved on since we listed it
            try:
                run.entry(_Entry(eid, flows[fname], pid, trig, f[0], f[1], f[2], f[3], f[4]))
            except Exception as err:  # noqa: BLE001 - one entry's failure never stops the others
                run.out["errors"] += 1
                log.warning("flow %s entry %s: %s", fname, eid, err)
        run.send_queue()
        run.commit()  # the chunk's results before its entries are released
    finally:
        run.chunk = None
        for r in mine:
            _release(ws, r[0])


_busy: set[tuple[str, str]] = set()
_busy_lock = threading.Lock()


def _claim(ws: str, entry_id: str) -> bool:
    """One pass at a time per entry in this process (the store file has one writer process)."""
    with _busy_lock:
        if (ws, entry_id) in _busy:
            return False
        _busy.add((ws, entry_id))
        return True


def _release(ws: str, entry_id: str) -> None:
    with _busy_lock:
        _busy.discard((ws, entry_id))
