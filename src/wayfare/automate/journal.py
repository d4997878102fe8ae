"""Write transactions on a cursor of their own, and the automation log: every action the engine takes
(and every message it skips or defers) with the flow, step, entry and trigger event that caused it."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

from ..store import Scope, Store, utcnow

__all__ = ["tx", "record", "trace"]


@contextlib.contextmanager
def tx(store: Store) -> Iterator[Any]:
    """A write transaction on a cursor of its own (see :meth:`Store.write_cursor`)."""
    with store.write_cursor() as con:
        yield con


def record(con: Any, ws: str, flow: str, entry: tuple | None, step: int | None, action: str, outcome: str,
           reason: str | None = None, variant: str | None = None, at: dt.datetime | None = None) -> None:
    """One line of the automation log; ``entry`` is (entry_id, person_id, trigger message id)."""
    eid, pid, trig = entry or (None, None, None)
    con.execute("INSERT INTO main.automation_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [ws, at or utcnow(), flow, eid, pid, step, action, outcome, (reason or "")[:300] or None, trig,
                 variant])


def trace(scope: Scope, person_id: str | None = None, flow: str | None = None, limit: int = 200) -> list[dict]:
    """The log, newest first: why each message went out, waited or was skipped."""
    rows = scope.rows(
        "SELECT logged_at, flow, entry_id, person_id, step, action, outcome, reason, trigger_event, variant "
        "FROM automation_log WHERE ($p IS NULL OR person_id = $p) AND ($f IS NULL OR flow = $f) "
        "ORDER BY logged_at DESC LIMIT $n", {"p": person_id, "f": flow, "n": limit})
    keys = ("at", "flow", "entry_id", "person_id", "step", "action", "outcome", "reason", "trigger_event", "variant")
    return [dict(zip(keys, r, strict=True)) for r in rows]
