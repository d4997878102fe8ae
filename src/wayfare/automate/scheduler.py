"""Running flows over time: the in-process scheduler of `wayfare serve` / `wayfare worker`, and a simulated
clock for `wayfare flows run-due --until` that fires every timer at its own time."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from typing import Any

from ..channels.email import SmtpSettings, smtp_settings
from ..store import Scope, Store, utcnow
from .worker import reconcile, run_due

__all__ = ["run_until", "Scheduler"]
log = logging.getLogger("wayfare.automate")


def run_until(scope: Scope, until: dt.datetime, start: dt.datetime | None = None,
              settings: SmtpSettings | None = None, tick: dt.timedelta = dt.timedelta(hours=6),
              on_pass: Any = None) -> dict:
    """Simulate the clock from ``start`` (now) to ``until``: triggers and due entries run at every timer's
    own time (and at least every ``tick``), so waits, quiet hours and deadlines fire when they would."""
    from .triggers import scan_triggers
    t = min(start or utcnow(), until)
    settings = settings or smtp_settings()
    total: dict[str, int] = {"entered": 0, "passes": 0}
    for _ in range(5000):
        total["entered"] += scan_triggers(scope, t)
        for _ in range(1000):  # in batches until nothing more is due at t
            res = run_due(scope, t, settings=settings, limit=2000)
            for k, v in res.items():
                total[k] = total.get(k, 0) + v
            if res["due"] < 2000 or res["due"] == res["errors"]:
                break
        total["passes"] += 1
        if on_pass is not None:
            on_pass(t)
        if t >= until:
            break
        nxt = scope.store.cursor().execute(
            "SELECT min(wake_at) FROM flow_entries WHERE workspace_id = ? AND status = 'active' AND wake_at > ?",
            [scope.workspace_id, t]).fetchone()[0]
        t = min(x for x in (nxt, t + tick, until) if x is not None)
    return total


class Scheduler:
    """Runs triggers and due entries in a background thread; woken at once by committed ingest batches."""

    def __init__(self, store: Store, interval: float = 1.0, min_gap: float = 0.25):
        """``interval``: the longest sleep between passes; ``min_gap``: the shortest, however often ingest
        commits wake it (a pass on every commit — ~20 a second under load — held the store's write lock
        a third of the time, and ingest acks queued behind it)."""
        self.store, self.interval, self.min_gap = store, interval, min_gap
        self.wake = threading.Event()
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="wayfare-scheduler", daemon=True)
        self.deliverer: Any = None
        self.delivery_thread: threading.Thread | None = None

    def start(self) -> Scheduler:
        from ..ingest import on_commit
        from ..store.postgres import queue_url
        on_commit(lambda ws, n: self.wake.set())
        url = queue_url()
        if url and os.environ.get("WAYFARE_QUEUE_DELIVER", "1") != "0":  # one deliverer of our own as well
            from .outbox import Deliverer
            self.deliverer = Deliverer(url)
            self.delivery_thread = threading.Thread(target=self.deliverer.run, args=(self.stop_flag,),
                                                    name="wayfare-deliverer", daemon=True)
            self.delivery_thread.start()
        self.thread.start()
        return self

    def _scopes(self) -> list[Scope]:
        rows = self.store.cursor().execute("SELECT DISTINCT workspace_id FROM flows WHERE enabled").fetchall()
        return [self.store.scope(r[0]) for r in rows]

    def _loop(self) -> None:
        from .triggers import scan_triggers
        first = True
        while not self.stop_flag.is_set():
            began = time.monotonic()
            try:
                for sc in self._scopes():
                    if first:
                        reconcile(sc)
                    scan_triggers(sc)
                    run_due(sc, deliver=False)
                first = False
                self.store.trim_cache()  # the passes and pages read the new events: keep DuckDB's copy bounded
            except Exception as e:  # noqa: BLE001 - keep the scheduler alive
                log.warning("scheduler pass failed: %s", e)
            rest = self.min_gap - (time.monotonic() - began)
            if rest > 0 and self.stop_flag.wait(rest):  # at most one pass per min_gap, woken or not
                break
            self.wake.wait(max(0.0, self.interval - (time.monotonic() - began)))
            self.wake.clear()

    def stop(self) -> None:
        self.stop_flag.set()
        self.wake.set()
        self.thread.join(timeout=10)
        if self.delivery_thread is not None:
            self.delivery_thread.join(timeout=10)
            self.deliverer.close()
