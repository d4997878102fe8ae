"""Group commit: requests hand their events to one writer thread, which stores everything that arrived
since its last flush in one transaction and then answers all of those requests at once.

A request is acknowledged only after the commit that holds its events, so a 2xx always means durable;
batching many requests into one commit is what makes that affordable. Once no request has come for half a second,
the writer checkpoints a WAL that has grown past 2 MiB (vacuuming row groups); under a sustained load DuckDB's own
checkpoints at 4 MiB keep the WAL small, inside a commit, at ~20 ms each.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass

from ..identity.resolver import IdentityCache
from ..store import Store
from .pipeline import EventRows, IngestResult, _notify, catch_up_profiles, write_batches

__all__ = ["FlushStats", "GroupCommitter"]
log = logging.getLogger("wayfare.ingest")


@dataclass
class _Item:
    workspace_id: str
    rows: list[dict] | EventRows  # rows from messages.to_row, or already in columns
    future: Future


class FlushStats:
    """Where a flush's time went, for finding slow acknowledgements: waiting for the store's write lock (another
    writer such as the scheduler holds it), writing the rows, and the commit (WAL sync, or DuckDB's automatic
    checkpoint when the WAL has grown past its threshold). Totals and maxima since start, in seconds."""

    SLOW_S = 0.05

    def __init__(self) -> None:
        self.wait = self.write = self.commit = 0.0
        self.max_wait = self.max_write = self.max_commit = 0.0
        self.slow = {"wait": 0, "write": 0, "commit": 0}  # flushes where that part alone took over SLOW_S
        self.checkpoints, self.checkpoint_s, self.max_checkpoint_s = 0, 0.0, 0.0  # the idle checkpoints

    def checkpoint(self, secs: float) -> None:
        self.checkpoints += 1
        self.checkpoint_s += secs
        self.max_checkpoint_s = max(self.max_checkpoint_s, secs)

    def record(self, wait: float, write: float, commit: float) -> None:
        for name, v in (("wait", wait), ("write", write), ("commit", commit)):
            setattr(self, name, getattr(self, name) + v)
            if v > getattr(self, "max_" + name):
                setattr(self, "max_" + name, v)
            if v > self.SLOW_S:
                self.slow[name] += 1

    def as_dict(self) -> dict:
        ms = {k: round(getattr(self, k) * 1000, 1) for k in ("wait", "write", "commit", "max_wait", "max_write",
                                                              "max_commit")}
        return {**{f"{k}_ms": v for k, v in ms.items()}, "slow_over_50ms": dict(self.slow),
                "idle_checkpoints": self.checkpoints, "checkpoint_ms": round(self.checkpoint_s * 1000, 1),
                "max_checkpoint_ms": round(self.max_checkpoint_s * 1000, 1)}


class GroupCommitter:
    """The single ingest writer (see the module's text).

    Profiles' first and last seen: a flush counts its events in them before it commits when no other request is
    waiting. Under a sustained load (requests waiting when the flush is written) it does so at most every
    ``PROFILES_GAP_S`` seconds, or four times as long as the last catch-up took (so it costs at most a fifth of
    the writer's time), and meanwhile a ``profiles_pending`` row, written in the same transaction as the events,
    says where the next catch-up starts — after a crash too. Traits always change in the flush that carries
    them; the events are durable either way."""

    CHECKPOINT_GAP_S = 10.0  # at most one idle checkpoint this often
    IDLE_CHECKPOINT_S = 0.5
    PROFILES_GAP_S = 0.25

    def __init__(self, store: Store, max_rows: int = 20_000, linger_s: float = 0.002,
                 checkpoint_wal_bytes: int = 2 * 2**20):
        self.store = store
        # checkpoint when idle once the WAL holds this much: DuckDB's own checkpoint waits for 16 MiB and then runs
        # inside whichever commit crosses it (a request's ack waited ~0.5 s behind it here), and until then keeps
        # the WAL's rows in memory as well
        self.checkpoint_wal_bytes = checkpoint_wal_bytes
        self._wal = None if store.path == ":memory:" else store.path + ".wal"
        self._next_ckpt_try = 0.0
        self.max_rows = max_rows
        self.linger_s = linger_s
        self._q: queue.Queue[_Item | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="wayfare-group-commit", daemon=True)
        self._stopped = False
        self.flushes = 0
        self.retried = 0  # flushes written a second time, with the lookup (a stored id was sent again)
        self.stats = FlushStats()
        # identifiers already resolved, per workspace (identity.resolver.IdentityCache): valid while no one else
        # has taken the store's write lock since this writer's last flush
        self.identity_caches: dict[str, IdentityCache] = {}
        self._lock_count_after = -1  # the write lock's count at the end of this writer's last flush
        # workspace -> the sequence number after which its events may not yet be counted in profiles (the
        # profiles_pending table, as committed); loaded by the writer's thread when it starts
        self._pending: dict[str, int] = {}
        self._next_profiles = 0.0
        self._busy = False  # requests were waiting when the last flush ended
        self.profile_catch_ups = 0  # flushes and idle moments that brought profiles up to date
        self.deferred = 0  # flushes that left profiles for later
        self._thread.start()

    def submit(self, workspace_id: str, rows: list[dict] | EventRows) -> Future:
        fut: Future = Future()
        if self._stopped:
            fut.set_exception(RuntimeError("the server is shutting down"))
            return fut
        self._q.put(_Item(workspace_id, rows, fut))
        return fut

    def close(self, timeout: float = 30) -> None:
        self._stopped = True
        self._q.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        try:  # a writer that stopped before catching up (a crash): its successor does it
            self._pending = dict(self.store.cursor().execute(
                "SELECT workspace_id, after_seq FROM main.profiles_pending").fetchall())
        except Exception as e:
            log.warning("could not read profiles_pending: %s", e)
        self._catch_up_idle()
        while True:
            try:
                # a WAL due for a checkpoint is folded in once no request has come for IDLE_CHECKPOINT_S, and
                # a catch-up or checkpoint that failed is tried again without waiting for the next request
                item = self._q.get(timeout=self._idle_timeout())
            except queue.Empty:
                self._catch_up_idle()
                self._checkpoint_if_due()
                continue
            if item is None:
                self._catch_up_idle()
                return
            items = [item]
            n = len(item.rows)
            deadline = time.monotonic() + self.linger_s
            stop = False
            while n < self.max_rows:
                try:
                    nxt = self._q.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                items.append(nxt)
                n += len(nxt.rows)
            self._flush(items)
            if stop:
                self._catch_up_idle()
                return
            if self._q.empty():
                self._catch_up_idle()

    def _clear_caches(self) -> None:
        for cache in self.identity_caches.values():
            cache.clear()

    def _profiles_later(self) -> bool:
        """Whether this flush leaves profiles for later: the writer is under a sustained load (requests were already
        waiting when its last flush ended) and the last catch-up was too recent."""
        return self._busy and time.monotonic() < self._next_profiles

    @contextlib.contextmanager
    def _own_write(self) -> Iterator[None]:
        """The store's write lock, for this writer's own work between flushes that writes no identities (a
        checkpoint, a profiles catch-up): the identity caches stay valid if no one else wrote since the last flush."""
        lock = self.store.write_lock
        with lock:
            mine = getattr(lock, "acquisitions", None) == self._lock_count_after + 1
            yield
            if mine:
                self._lock_count_after = lock.acquisitions

    def _catch_up_idle(self) -> None:
        """Bring profiles up to date in a transaction of its own (nothing waiting, or stopping)."""
        if not self._pending:
            return
        try:
            with self._own_write(), self.store.transaction() as con:
                for ws, after in self._pending.items():
                    catch_up_profiles(con, ws, after)
                con.execute("DELETE FROM main.profiles_pending")
        except Exception:  # the rows stay: the next flush or start tries again
            log.exception("could not bring profiles up to date")
            return
        self._pending = {}
        self.profile_catch_ups += 1

    RETRY_S = 5.0  # a failed idle catch-up or checkpoint is tried again after this long without requests

    def _idle_timeout(self) -> float | None:
        """How long the idle writer waits for a request before its own work: None (no work) or seconds."""
        waits = []
        if self._pending:  # the last catch-up failed (a successful one empties it)
            waits.append(self.RETRY_S)
        if self._wal is not None:
            try:
                grown = os.path.getsize(self._wal) >= self.checkpoint_wal_bytes
            except OSError:  # no WAL: nothing to checkpoint
                grown = False
            if grown:
                waits.append(max(self.IDLE_CHECKPOINT_S, self._next_ckpt_try - time.monotonic()))
        return min(waits) if waits else None

    def _checkpoint_due(self) -> bool:
        if self._wal is None or time.monotonic() < self._next_ckpt_try:
            return False
        try:
            return os.path.getsize(self._wal) >= self.checkpoint_wal_bytes
        except OSError:  # no WAL: nothing to checkpoint
            return False

    def _checkpoint_if_due(self) -> None:
        """CHECKPOINT (vacuuming row groups) once the WAL has grown past ``checkpoint_wal_bytes`` and no request has
        come for ``IDLE_CHECKPOINT_S``. Under a sustained load DuckDB's own checkpoints (at 4 MiB, without vacuuming:
        store.Store) keep the WAL small; this one ran in any gap between flushes before, and once took 634 ms
        there (a vacuuming checkpoint of 10 s of a 50k events/s load), which every request in flight waited for."""
        if not self._checkpoint_due():
            return
        t0 = time.perf_counter()
        self._next_ckpt_try = time.monotonic() + self.CHECKPOINT_GAP_S
        try:
            with self._own_write():
                self.store.checkpoint()
        except Exception as e:  # e.g. another connection's open write transaction; DuckDB's own checkpoint remains
            log.debug("idle checkpoint skipped: %s", e)
            self._next_ckpt_try = time.monotonic() + self.RETRY_S
            return
        self.stats.checkpoint(time.perf_counter() - t0)

    def _flush(self, items: list[_Item], check_stored: bool = False) -> None:
        """Write ``items`` in one transaction and answer them. The first attempt does not look the message ids up
        among the stored events (a client's retry is rare; the lookup scans ids and grows with the table): the
        primary key refuses a stored id, the transaction rolls back whole, and the flush is written again with the
        lookup, which counts the retried ids as duplicates."""
        from ..store import Scope

        by_ws: dict[str, list[_Item]] = {}
        for it in items:
            by_ws.setdefault(it.workspace_id, []).append(it)
        results: dict[int, IngestResult] = {}
        lock = self.store.write_lock
        t0 = time.perf_counter()
        pending = dict(self._pending)
        caught_up = None
        try:
            with self.store.transaction() as con:
                t_lock = time.perf_counter()
                if getattr(lock, "acquisitions", None) != self._lock_count_after + 1:
                    self._clear_caches()  # someone else wrote since this writer's last flush
                start: dict[str, int] = {}
                for ws, its in by_ws.items():
                    scope = Scope(self.store, ws, ws)
                    cache = self.identity_caches.setdefault(ws, IdentityCache())
                    # this flush's events get sequence numbers above this one
                    start[ws] = con.execute("SELECT nextval('event_seq')").fetchall()[0][0]
                    # one set of statements per workspace per flush: a statement's fixed cost (~0.2-1 ms
                    # here) dominated when each request's 100 rows paid for five of their own
                    written = write_batches(scope, [it.rows for it in its], con, check_stored=check_stored,
                                            cache=cache, seen_later=True)
                    for it, res in zip(its, written, strict=True):
                        results[id(it)] = res
                t_written = time.perf_counter()
                if self._profiles_later():
                    for ws, seq in start.items():  # under load: profiles later (see the class's text)
                        if ws not in pending:
                            con.execute("INSERT INTO main.profiles_pending VALUES (?, ?)", [ws, seq])
                            pending[ws] = seq
                    self.deferred += 1
                else:
                    for ws in {**start, **pending}:
                        catch_up_profiles(con, ws, pending.get(ws, start.get(ws, 0)))
                    if pending:
                        con.execute("DELETE FROM main.profiles_pending")
                    pending = {}
                    caught_up = time.perf_counter() - t_written
                count_after = getattr(lock, "acquisitions", -2)
        except Exception as e:  # nothing of this flush was stored
            self._clear_caches()
            self._lock_count_after = -1
            if not check_stored:  # most likely a retried message id: again, with the lookup
                self.retried += 1
                self._flush(items, check_stored=True)
                return
            if len(items) > 1:  # one bad request must not sink its neighbours: retry them one by one
                for it in items:
                    self._flush([it], check_stored=True)
                return
            log.exception("group commit failed")
            for it in items:
                if not it.future.done():
                    it.future.set_exception(e)
            return
        for cache in self.identity_caches.values():
            cache.commit()
        self._pending = pending
        if caught_up is not None:
            self.profile_catch_ups += 1
            self._next_profiles = time.monotonic() + max(self.PROFILES_GAP_S, 4 * caught_up)
        self._lock_count_after = count_after
        self.flushes += 1
        self.stats.record(t_lock - t0, t_written - t_lock, time.perf_counter() - t_written)
        self._busy = not self._q.empty()
        if pending and not self._busy:
            # the load has just ended: its last requests are answered with their people's profiles up to date
            self._catch_up_idle()
        for ws, its in by_ws.items():
            inserted = sum(results[id(it)].inserted for it in its)
            if inserted:
                _notify(ws, inserted)
        for it in items:
            it.future.set_result(results[id(it)])
