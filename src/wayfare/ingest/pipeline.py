"""Write event rows: drop duplicates by message id, resolve identities, append events, update profiles.

Everything for one batch happens in one transaction, so a batch is stored whole or not at all, and a
caller that is told "stored" can rely on it (DuckDB syncs its WAL at commit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb
import orjson
import pyarrow as pa

from ..identity.resolver import IdentityCache, IdentityResolver
from ..store import Scope
from .rows import EventRows, _dumps, as_event_rows

__all__ = ["EventRows", "IngestResult", "write_rows", "write_batches", "catch_up_profiles", "on_commit"]

_listeners: list[Callable[[str, int], None]] = []


def on_commit(fn: Callable[[str, int], None]) -> Callable[[str, int], None]:
    """Register ``fn(workspace_id, inserted)``, called after a batch of events is committed."""
    _listeners.append(fn)
    return fn


def _notify(workspace_id: str, n: int) -> None:
    for fn in list(_listeners):
        try:
            fn(workspace_id, n)
        except Exception:  # a listener must never undo an acknowledged write
            pass


@dataclass
class IngestResult:
    received: int = 0
    inserted: int = 0
    duplicates: int = 0
    people_created: int = 0
    merges: int = 0

    def add(self, other: IngestResult) -> None:
        for k in ("received", "inserted", "duplicates", "people_created", "merges"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


class _Times(Sequence):
    """A timestamp column read as datetimes one row at a time, when asked (the resolver needs few of them, and
    reading a 2,000-row column as datetimes took 5 ms)."""

    def __init__(self, col: pa.ChunkedArray) -> None:
        self._col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)

    def __len__(self) -> int:
        return len(self._col)

    def __getitem__(self, i):  # type: ignore[override]
        return self._col[i].as_py()


# Arrow tables reach the statements through con.register (a temporary view, ~1 ms a register/unregister pair here),
# not DuckDB's replacement scan of a Python local, which would be cheaper: Ibis turns replacement scans off on the
# connection it is given (python_enable_replacements=false), and the dashboard's queries use Ibis on this store.
def _existing_ids(con: duckdb.DuckDBPyConnection, ws: str, ids: list[str]) -> set[str]:
    con.register("__wf_mids", pa.table({"message_id": pa.array(ids, pa.string())}))
    try:
        rows = con.execute(
            "SELECT e.message_id FROM main.events e SEMI JOIN __wf_mids m ON e.message_id = m.message_id "
            "WHERE e.workspace_id = ?",
            [ws],
        ).fetchall()
    finally:
        con.unregister("__wf_mids")
    return {r[0] for r in rows}


def write_rows(scope: Scope, rows: list[dict] | EventRows, con: duckdb.DuckDBPyConnection | None = None
               ) -> IngestResult:
    """Store rows made by :func:`wayfare.ingest.messages.to_row` (or already in columns). Opens a transaction
    unless given ``con``."""
    if con is None:
        with scope.transaction() as c:
            res = write_rows(scope, rows, c)
        if res.inserted:
            _notify(scope.workspace_id, res.inserted)
        return res
    return _write(scope, as_event_rows(rows), con)[0]


def write_batches(scope: Scope, batches: list[list[dict] | EventRows], con: duckdb.DuckDBPyConnection,
                  check_stored: bool = True, cache: IdentityCache | None = None, seen_later: bool = False
                  ) -> list[IngestResult]:
    """Store several requests' rows with one set of statements (the group committer's flush) inside ``con``'s
    transaction; one result per batch. A message id repeated across batches is stored once, for the first batch
    that holds it, and counted as a duplicate in the later ones. Merges and new people are counted in the first
    batch's result (they belong to the flush, not to one request).

    ``check_stored=False`` skips looking the ids up among the stored events (a scan of the workspace's ids that
    grows with the table): the events table's primary key then refuses a stored id, the statement fails and the
    caller must roll back and write again with the check (the group committer does).

    ``cache``: the caller's identity cache for this workspace (see IdentityCache: the caller commits or rolls
    back what this stages, with its transaction).

    ``seen_later``: see :func:`_write` (the group committer's flushes)."""
    parts = [as_event_rows(b) for b in batches]
    if len(parts) == 1:
        return [_write(scope, parts[0], con, check_stored, cache, seen_later)[0]]
    total, kept = _write(scope, EventRows.concat(parts), con, check_stored, cache, seen_later)
    out, i = [], 0
    for b in batches:
        n = sum(kept[i:i + len(b)])
        out.append(IngestResult(received=len(b), inserted=n, duplicates=len(b) - n))
        i += len(b)
    out[0].people_created, out[0].merges = total.people_created, total.merges
    return out


def _write(scope: Scope, rows: EventRows, con: duckdb.DuckDBPyConnection, check_stored: bool = True,
           cache: IdentityCache | None = None, seen_later: bool = False) -> tuple[IngestResult, list[bool]]:
    """Write ``rows``; the result and, per row, whether it was stored (False: a duplicate message id).
    ``seen_later``: profiles get only the traits these rows change now; their first and last seen are left to
    :func:`catch_up_profiles`, which the caller runs (in this transaction or, under load, a later one)."""
    n_all = len(rows)
    res = IngestResult(received=n_all)
    if not n_all:
        return res, []
    ws = scope.workspace_id
    mids = rows.table.column("message_id").to_pylist()
    seen: set[str] = set()
    kept = [False] * n_all
    for i, m in enumerate(mids):
        if m not in seen:
            seen.add(m)
            kept[i] = True
    dup = _existing_ids(con, ws, list(seen)) if check_stored else ()
    if dup:
        for i, m in enumerate(mids):
            if kept[i] and m in dup:
                kept[i] = False
    fresh = rows if len(seen) == n_all and not dup else rows.take(kept)
    n = len(fresh)
    res.duplicates = n_all - n
    if not n:
        return res, kept
    resolution = IdentityResolver(scope).resolve(con, fresh.ids, _Times(fresh.table.column("ts")), cache)
    res.merges = len(resolution.merges)
    res.people_created = len(resolution.new_people)
    tbl = fresh.table.append_column("person_id", pa.array(resolution.person_ids, pa.string()))
    con.register("__wf_events", tbl)
    try:  # a plain INSERT: the ids were checked above in this same transaction, under the single writer's lock
        # (INSERT OR IGNORE cost 13-15 ms per 20-row flush here against 3.5 ms, for conflicts that cannot occur)
        con.execute(
            "INSERT INTO main.events (workspace_id, message_id, seq, type, event, anonymous_id, user_id, "
            "person_id, ts, received_at, channel, source, revenue, properties, context, traits) "
            "SELECT ?, message_id, nextval('event_seq'), type, event, anonymous_id, user_id, person_id, ts, "
            "received_at, channel, source, revenue, properties::JSON, context::JSON, traits::JSON FROM __wf_events",
            [ws],
        )
        res.inserted = n
        _update_profiles(con, ws, fresh.traits, resolution.person_ids, traits_only=seen_later)
    finally:
        con.unregister("__wf_events")
    return res, kept


# First and last seen of everyone in the rows, in one upsert that DuckDB runs without the GIL; a row is rewritten
# only when its range widens or its traits change. ``__wf_traits`` holds the merged traits of the few people whose
# traits the rows change ('{}' for the rest means "keep"). {rows} are the events to count: the ones just inserted
# (``__wf_events``), or the stored ones after a sequence number (catch_up_profiles).
_PROFILES_UPSERT = """
INSERT INTO main.profiles AS p
SELECT ?, e.person_id, ?::TIMESTAMP, min(e.ts), max(e.ts), {traits}::JSON
FROM {rows} e {join}
WHERE e.person_id IS NOT NULL {where} GROUP BY e.person_id
ON CONFLICT (workspace_id, person_id) DO UPDATE SET
    first_seen = least(p.first_seen, excluded.first_seen),
    last_seen = greatest(p.last_seen, excluded.last_seen),
    traits = CASE WHEN excluded.traits::VARCHAR = '{{}}' THEN p.traits ELSE excluded.traits END
WHERE excluded.first_seen < p.first_seen OR excluded.last_seen > p.last_seen OR p.first_seen IS NULL
    OR p.last_seen IS NULL OR excluded.traits::VARCHAR <> '{{}}'
"""
_UPSERT_PLAIN = _PROFILES_UPSERT.format(traits="'{}'", rows="__wf_events", join="", where="")
_UPSERT_TRAITS = _PROFILES_UPSERT.format(traits="coalesce(any_value(t.traits), '{}')", rows="__wf_events",
                                         join="LEFT JOIN __wf_traits t ON t.person_id = e.person_id", where="")
_UPSERT_TRAITS_ONLY = _PROFILES_UPSERT.format(traits="any_value(t.traits)", rows="__wf_events",
                                              join="JOIN __wf_traits t ON t.person_id = e.person_id", where="")
_UPSERT_CATCH_UP = _PROFILES_UPSERT.format(traits="'{}'", rows="main.events", join="",
                                           where="AND e.workspace_id = ? AND e.seq > ?")


def catch_up_profiles(con: duckdb.DuckDBPyConnection, ws: str, after_seq: int) -> None:
    """Count the stored events of workspace ``ws`` with ``seq > after_seq`` in their people's first and last seen
    (creating the profiles of people new since). Safe to repeat, and right whatever happened in between: it reads
    the events as they are now — moved to the surviving person by a merge, or gone with an erased person (whose
    profile it therefore never brings back)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute(_UPSERT_CATCH_UP, [ws, now, ws, after_seq])


def _update_profiles(con: duckdb.DuckDBPyConnection, ws: str, traits: dict[int, dict], pids: list[str | None],
                     traits_only: bool = False) -> None:
    """Create or widen the profiles of the people just inserted as ``__wf_events``; ``traits`` (by row number,
    the rows whose traits count for their person) are merged over the stored ones, later rows winning.
    ``traits_only``: only the people whose traits change (the others are left to :func:`catch_up_profiles`)."""
    changed: dict[str, dict] = {}
    for i in sorted(traits):
        pid = pids[i]
        if pid is None:
            continue
        t = changed.get(pid)
        if t is None:
            changed[pid] = dict(traits[i])
        else:
            t.update(traits[i])
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if not changed:
        if not traits_only:
            con.execute(_UPSERT_PLAIN, [ws, now])
        return
    people = list(changed)
    con.register("__wf_pp", pa.table({"person_id": pa.array(people, pa.string())}))
    try:
        stored = dict(con.execute(
            "SELECT p.person_id, p.traits FROM main.profiles p SEMI JOIN __wf_pp q ON p.person_id = q.person_id "
            "WHERE p.workspace_id = ?",
            [ws],
        ).fetchall())
    finally:
        con.unregister("__wf_pp")
    merged = [_dumps({**orjson.loads(stored.get(p) or "{}"), **changed[p]}) or "{}" for p in people]
    con.register("__wf_traits", pa.table({"person_id": pa.array(people, pa.string()),
                                          "traits": pa.array(merged, pa.string())}))
    try:
        con.execute(_UPSERT_TRAITS_ONLY if traits_only else _UPSERT_TRAITS, [ws, now])
    finally:
        con.unregister("__wf_traits")
