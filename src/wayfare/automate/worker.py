"""The durable worker: triggers by a cursor over ``events.seq``, entries advanced by :func:`advance`, and
every send recorded as an intent before it goes out and as a result right after.

Exactly-once policy for email: the send log row (idempotency key flow, entry, person, step) moves
``intent`` → ``final`` (committed just before the SMTP terminator goes on the wire) → ``sent`` (committed
right after the 250). On restart an ``intent`` row is sent again (the server never saw the end of the
DATA, so it discarded the message), while a ``final`` row without a result may have been delivered: it
is reconciled as ``uncertain`` and **not** resent (at-most-once inside that window of one round trip plus
one commit; the Message-ID is deterministic, so a mailbox would also fold a copy).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

import orjson

from ..channels.email import SmtpClient, SmtpSettings, build_message, render, smtp_settings
from ..privacy import is_suppressed
from ..store import Scope, Store, utcnow
from .engine import EntryState, advance
from .model import Email, Flow, Task

__all__ = ["enable_flow", "disable_flow", "list_flows", "scan_triggers", "run_due", "reconcile", "Scheduler",
           "flow_stats"]
log = logging.getLogger("wayfare.automate")


@contextlib.contextmanager
def _tx(store: Store) -> Iterator[Any]:
    with store.write_lock:
        con = store.cursor()
        con.execute("BEGIN")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        else:
            con.execute("COMMIT")


def enable_flow(scope: Scope, flow: Flow, enabled: bool = True) -> dict:
    """Store the flow and turn it on; its trigger starts from events arriving after now."""
    now = utcnow()
    with _tx(scope.store) as con:
        top = con.execute("SELECT coalesce(max(seq), 0) FROM events WHERE workspace_id = ?",
                          [scope.workspace_id]).fetchone()[0]
        con.execute("INSERT OR REPLACE INTO main.flows VALUES (?, ?, ?, ?, ?)",
                    [scope.workspace_id, flow.name, flow.model_dump_json(), enabled, now])
        con.execute("INSERT OR IGNORE INTO main.flow_cursors VALUES (?, ?, ?)", [scope.workspace_id, flow.name, top])
    return {"flow": flow.name, "enabled": enabled, "from_seq": top}


def disable_flow(scope: Scope, name: str) -> dict:
    scope.write("UPDATE main.flows SET enabled = false, updated_at = $t WHERE workspace_id = $__ws AND name = $n",
                {"n": name, "t": utcnow()}, con=scope.store.cursor())
    return {"flow": name, "enabled": False}


def list_flows(scope: Scope, only_enabled: bool = False) -> list[tuple[Flow, bool]]:
    rows = scope.execute("SELECT definition, enabled FROM flows ORDER BY name", con=scope.store.cursor()).fetchall()
    return [(Flow.model_validate_json(d), bool(e)) for d, e in rows if e or not only_enabled]


def scan_triggers(scope: Scope, limit: int = 10000) -> int:
    """Turn new events (past each flow's cursor) into flow entries; cursor and entries commit together."""
    n = 0
    ws = scope.workspace_id
    for flow, _ in list_flows(scope, only_enabled=True):
        with _tx(scope.store) as con:
            row = con.execute("SELECT last_seq FROM flow_cursors WHERE workspace_id = ? AND flow = ?",
                              [ws, flow.name]).fetchone()
            last = row[0] if row else 0
            top = con.execute("SELECT max(seq) FROM (SELECT seq FROM events WHERE workspace_id = ? AND seq > ? "
                              "ORDER BY seq LIMIT ?)", [ws, last, limit]).fetchone()[0]
            if top is None:
                continue
            now = utcnow()
            once = flow.trigger.reentry == "once"
            cur = con.execute(
                "INSERT OR IGNORE INTO main.flow_entries "
                "SELECT workspace_id, CASE WHEN ? THEN ? || ':' || person_id ELSE ? || ':' || message_id END, ?, "
                "person_id, message_id, 0, 'active', NULL, ?, ? FROM (SELECT * FROM events WHERE workspace_id = ? "
                "AND seq > ? AND seq <= ? AND event = ? AND person_id IS NOT NULL "
                "QUALIFY row_number() OVER (PARTITION BY CASE WHEN ? THEN person_id ELSE message_id END "
                "ORDER BY seq) = 1)",
                [once, flow.name, flow.name, flow.name, now, now, ws, last, top, flow.trigger.event, once])
            n += cur.fetchone()[0] if cur.description else 0
            con.execute("INSERT OR REPLACE INTO main.flow_cursors VALUES (?, ?, ?)", [ws, flow.name, top])
    return n


def reconcile(scope: Scope) -> int:
    """After a crash: sends whose terminator may have reached the server become ``uncertain`` (not resent)."""
    with _tx(scope.store) as con:
        n = con.execute("UPDATE main.sends SET status = 'uncertain', updated_at = ? WHERE workspace_id = ? "
                        "AND status = 'final'", [utcnow(), scope.workspace_id]).fetchone()[0]
    return int(n)


def _context(scope: Scope, person_id: str, trigger_msg: str | None) -> dict:
    con = scope.store.cursor()
    row = con.execute("SELECT traits FROM profiles WHERE workspace_id = ? AND person_id = ?",
                      [scope.workspace_id, person_id]).fetchone()
    person = orjson.loads(row[0]) if row and row[0] else {}
    event: dict = {}
    if trigger_msg:
        er = con.execute("SELECT properties, revenue FROM events WHERE workspace_id = ? AND message_id = ?",
                         [scope.workspace_id, trigger_msg]).fetchone()
        if er:
            event = orjson.loads(er[0]) if er[0] else {}
            if er[1] is not None:
                event.setdefault("revenue", er[1])
    person["person_id"] = person_id
    return {"person": person, "event": event}


def _policy(scope: Scope, flow: Flow, person: dict, address: str | None) -> str | None:
    """Why this message must not go (None: it may)."""
    if not address:
        return "no email address"
    reason = is_suppressed(scope, "email", address)
    if flow.purpose == "marketing":
        if reason:
            return f"suppressed ({reason})"
        if str(person.get("email_marketing", "")).lower() not in ("subscribed", "true", "yes", "granted"):
            return "no marketing consent"
    elif reason in ("bounce", "complaint", "erased"):
        return f"suppressed ({reason})"
    return None


class _Sender:
    def __init__(self, settings: SmtpSettings | None):
        self.settings = settings
        self.client: SmtpClient | None = None

    def send(self, msg, before) -> str:
        if self.settings is None:
            raise RuntimeError("no SMTP server configured (set WAYFARE_SMTP_URL)")
        if self.client is None:
            self.client = SmtpClient(self.settings)
        try:
            return self.client.send(msg, before)
        except Exception:
            with contextlib.suppress(Exception):
                self.client.close()
            self.client = None
            raise

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


def _set(con: Any, ws: str, key: tuple, status: str, detail: str | None = None) -> None:
    con.execute("UPDATE main.sends SET status = ?, detail = coalesce(?, detail), updated_at = ? WHERE workspace_id = ? "
                "AND flow = ? AND entry_id = ? AND person_id = ? AND step = ?", [status, detail, utcnow(), ws, *key])


def _email(scope: Scope, sender: _Sender, flow: Flow, entry: tuple, step: int, node: Email, entry_update: list) -> None:
    store, ws = scope.store, scope.workspace_id
    entry_id, person_id, trigger_msg = entry
    key = (flow.name, entry_id, person_id, step)
    con = store.cursor()
    row = con.execute("SELECT status FROM sends WHERE workspace_id = ? AND flow = ? AND entry_id = ? AND person_id = ? "
                      "AND step = ?", [ws, *key]).fetchone()
    if row and row[0] != "intent":
        with _tx(store) as c:
            c.execute(*entry_update)
        return
    ctx = _context(scope, person_id, trigger_msg)
    address = ctx["person"].get("email")
    mid = "<" + hashlib.sha256(f"{ws}|{flow.name}|{entry_id}|{person_id}|{step}".encode()).hexdigest()[:32] + "@wayfare>"
    if not row:
        with _tx(store) as c:
            c.execute("INSERT OR IGNORE INTO main.sends VALUES (?, ?, ?, ?, ?, 'email', ?, ?, 'intent', NULL, ?, ?)",
                      [ws, *key, address, mid, utcnow(), utcnow()])
    why_not = _policy(scope, flow, ctx["person"], address)
    if why_not:
        with _tx(store) as c:
            _set(c, ws, key, "skipped", why_not)
            c.execute(*entry_update)
        return
    try:
        msg = build_message(sender.settings, address, render(node.subject, ctx), render(node.text, ctx),
                            render(node.html, ctx, html=True) if node.html else None, mid) if sender.settings else None

        def before() -> None:
            with _tx(store) as c:
                _set(c, ws, key, "final")

        reply = sender.send(msg, before)
    except Exception as e:  # refused before the terminator, or the server refused the message
        with _tx(store) as c:
            st = con.execute("SELECT status FROM sends WHERE workspace_id = ? AND flow = ? AND entry_id = ? "
                             "AND person_id = ? AND step = ?", [ws, *key]).fetchone()[0]
            if st == "final":
                _set(c, ws, key, "uncertain", str(e)[:300])
                c.execute(*entry_update)
            else:
                _set(c, ws, key, "intent", str(e)[:300])  # retried on the next pass
        raise
    with _tx(store) as c:
        _set(c, ws, key, "sent", reply[:200])
        c.execute(*entry_update)


def run_due(scope: Scope, now: dt.datetime | None = None, settings: SmtpSettings | None = None,
            limit: int = 5000) -> dict:
    """Advance every entry that is due at ``now``; returns counts."""
    now = now or utcnow()
    settings = settings or smtp_settings()
    flows = {f.name: f for f, _ in list_flows(scope)}
    ws = scope.workspace_id
    rows = scope.store.cursor().execute(
        "SELECT entry_id, flow, person_id, trigger_event, step, wake_at FROM flow_entries WHERE workspace_id = ? "
        "AND status = 'active' AND (wake_at IS NULL OR wake_at <= ?) ORDER BY entered_at, entry_id LIMIT ?",
        [ws, now, limit]).fetchall()
    sender = _Sender(settings)
    out = {"due": len(rows), "sent": 0, "errors": 0}
    try:
        for entry_id, fname, person_id, trig, step, wake in rows:
            flow = flows.get(fname)
            if flow is None:
                continue
            state = EntryState(step, wake)
            try:
                while True:
                    if state.step is None or state.step >= len(flow.steps):
                        with _tx(scope.store) as c:
                            c.execute("UPDATE main.flow_entries SET status = 'done', wake_at = NULL, updated_at = ? "
                                      "WHERE workspace_id = ? AND entry_id = ?", [utcnow(), ws, entry_id])
                        break
                    node = flow.steps[state.step]
                    res = advance(state, node, now)
                    upd = ("UPDATE main.flow_entries SET step = ?, wake_at = ?, updated_at = ? WHERE workspace_id = ? "
                           "AND entry_id = ?", [res.next if res.next is not None else len(flow.steps), res.wake_at,
                                                utcnow(), ws, entry_id])
                    for action in res.actions:
                        if isinstance(action, Email):
                            _email(scope, sender, flow, (entry_id, person_id, trig), state.step, action, upd)
                            out["sent"] += 1
                        elif isinstance(action, Task):
                            _task(scope, flow, (entry_id, person_id, trig), state.step, action, upd, now)
                        else:
                            with _tx(scope.store) as c:
                                c.execute(*upd)
                    if not res.actions:
                        with _tx(scope.store) as c:
                            c.execute(*upd)
                    if res.wake_at is not None:
                        break
                    state = EntryState(res.next if res.next is not None else len(flow.steps), None)
            except Exception as e:  # noqa: BLE001 - one entry's failure never stops the others
                out["errors"] += 1
                log.warning("flow %s entry %s: %s", fname, entry_id, e)
    finally:
        sender.close()
    return out


def _task(scope: Scope, flow: Flow, entry: tuple, step: int, node: Task, entry_update: tuple, now: dt.datetime) -> None:
    from .model import parse_duration
    entry_id, person_id, trig = entry
    ctx = _context(scope, person_id, trig)
    with _tx(scope.store) as c:
        c.execute("INSERT OR IGNORE INTO main.tasks VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?)",
                  [scope.workspace_id, f"{entry_id}:{step}", flow.name, entry_id, person_id, render(node.title, ctx),
                   now + parse_duration(node.due), utcnow()])
        c.execute(*entry_update)


def flow_stats(scope: Scope, name: str) -> dict:
    con = scope.store.cursor()
    ws = scope.workspace_id
    ent = dict(con.execute("SELECT status, count(*) FROM flow_entries WHERE workspace_id = ? AND flow = ? GROUP BY 1",
                           [ws, name]).fetchall())
    snd = dict(con.execute("SELECT status, count(*) FROM sends WHERE workspace_id = ? AND flow = ? GROUP BY 1",
                           [ws, name]).fetchall())
    return {"flow": name, "entered": int(sum(ent.values())), "entries": {k: int(v) for k, v in ent.items()},
            "sends": {k: int(v) for k, v in snd.items()}}


class Scheduler:
    """Runs triggers and due entries in a background thread; woken at once by committed ingest batches."""

    def __init__(self, store: Store, interval: float = 1.0):
        self.store, self.interval = store, interval
        self.wake = threading.Event()
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="wayfare-scheduler", daemon=True)

    def start(self) -> Scheduler:
        from ..ingest import on_commit
        on_commit(lambda ws, n: self.wake.set())
        self.thread.start()
        return self

    def _scopes(self) -> list[Scope]:
        rows = self.store.cursor().execute("SELECT DISTINCT workspace_id FROM flows WHERE enabled").fetchall()
        return [self.store.scope(r[0]) for r in rows]

    def _loop(self) -> None:
        first = True
        while not self.stop_flag.is_set():
            try:
                for sc in self._scopes():
                    if first:
                        reconcile(sc)
                    scan_triggers(sc)
                    run_due(sc)
                first = False
            except Exception as e:  # noqa: BLE001 - keep the scheduler alive
                log.warning("scheduler pass failed: %s", e)
            self.wake.wait(self.interval)
            self.wake.clear()

    def stop(self) -> None:
        self.stop_flag.set()
        self.wake.set()
        self.thread.join(timeout=10)
