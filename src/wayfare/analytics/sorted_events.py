"""The events as narrow sorted arrays, built once per version of the events and reused.

Funnels, paths and retention on the embedded DuckDB all start the same way: the workspace's events
sorted by person and time. Sorting 10M rows by a string person id is most of their time, so this module
keeps that sort: one query fetches ``person_id, event, ts, seq`` (person and event not null) ordered by
``person_id, ts, seq``, and keeps it as arrays -- a person number (``pk``, int32, non-decreasing), the
event as a small code (``code``, int16, into ``names``), the time in epoch microseconds (``ts``, int64)
-- plus the person ids by number (``people``). A query then filters or walks the arrays with no sort.

Freshness: an entry is reused only while the events it came from still have the same row count, max
and sum of ``seq`` and max ``ts`` (one cheap aggregate, ~0.05 s on 10M rows, run by every query).
Every write wayfare makes to events inserts or deletes rows (ingest, imports, demo, erase, retention),
and identity merges re-point events only inside an ingest batch that inserts, so these change with
every write; :func:`forget` drops entries by hand (a raw ``UPDATE events`` outside wayfare's code is
the one thing the stamp cannot see).

The build streams the sorted rows in batches into preallocated arrays (10M events: 3.3-3.7 CPU s, peak RSS
~1.2 GB, most of it DuckDB's sort; fetching one Arrow table with string columns took 4.1-4.3 s and ~1.75 GB).

When: building costs about one unsorted-to-sorted fetch of all events (a few seconds on 10M), more than
one query saves, so an entry is built the second time the same events (same stamp) are asked for --
a dashboard or a notebook that asks again -- never for a one-shot CLI command. ``build=True`` builds at
once (benchmarks, warm-up), ``build=False`` only reuses. At most :data:`MAX_ENTRIES` entries are kept.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["SortedEvents", "sorted_events", "forget", "MAX_ENTRIES"]

MAX_ENTRIES = 4  # ~23 bytes a row each with the indexes (10M events: ~225 MB)
_BATCH = 1 << 22  # rows per fetched batch while building
_LOCK = threading.Lock()
_CACHE: OrderedDict[tuple, SortedEvents] = OrderedDict()
_SEEN: dict[tuple, tuple] = {}  # key -> the stamp asked for last (build on the second ask)
_BUILDING: dict[tuple, threading.Lock] = {}


@dataclass
class SortedEvents:
    """``pk``/``code``/``ts`` sorted by (person, time, seq); ``people[pk]`` and ``names[code]`` are the
    strings (``code == len(names)``: an event without a name). ``heads[i]`` is the first row of person
    ``i``."""

    stamp: tuple
    people: pa.Array
    names: pa.Array
    pk: np.ndarray
    code: np.ndarray
    ts: np.ndarray
    build_seconds: float = 0.0
    _heads: np.ndarray | None = field(default=None, repr=False)
    _by_code: np.ndarray | None = field(default=None, repr=False)
    _code_at: np.ndarray | None = field(default=None, repr=False)
    _groups: np.ndarray | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def rows(self) -> int:
        return len(self.pk)

    @property
    def n_people(self) -> int:
        return len(self.people)

    @property
    def heads(self) -> np.ndarray:
        if self._heads is None:
            newp = np.empty(self.rows, bool)
            if self.rows:
                newp[0] = True
                newp[1:] = self.pk[1:] != self.pk[:-1]
            self._heads = np.flatnonzero(newp)
        return self._heads

    def rows_of(self, code: int) -> np.ndarray:
        """The rows of one event code, ascending (an index by code, made on first use and kept)."""
        with self._lock:
            if self._by_code is None:
                self._by_code = np.argsort(self.code, kind="stable").astype(np.int32)
                self._code_at = np.searchsorted(self.code[self._by_code], np.arange(len(self.names) + 2))
        if code < 0:
            return np.zeros(0, np.int32)
        return self._by_code[self._code_at[code]:self._code_at[code + 1]]

    @property
    def groups(self) -> np.ndarray:
        """Per row, the first row of its (person, time) (made on first use and kept)."""
        with self._lock:
            if self._groups is None:
                from .funnel_scan import group_heads

                self._groups = group_heads(self.pk, self.ts)
        return self._groups

    def code_of(self, name: str) -> int:
        """The code of an event name (-1 when no event has it)."""
        hit = np.flatnonzero(np.asarray(self.names.to_pylist(), dtype=object) == name)
        return int(hit[0]) if len(hit) else -1

    @property
    def nbytes(self) -> int:
        extra = sum(a.nbytes for a in (self._by_code, self._groups, self._heads) if a is not None)
        return int(self.pk.nbytes + self.code.nbytes + self.ts.nbytes + self.people.nbytes + self.names.nbytes + extra)


def _source(events: ibis.Table):
    """``(duckdb connection, key, sql)`` for an events expression on DuckDB, else None."""
    try:
        be = events._find_backend()
    except Exception:
        return None
    if be.name != "duckdb":
        return None
    con = be.con
    sql = ibis.to_sql(events, dialect="duckdb")
    db = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return con, (db[0][0] if db else None, str(sql)), str(sql)


def _stamp(con, sql: str) -> tuple:
    r = con.execute(f"SELECT count(*), max(seq), sum(seq), max(ts) FROM ({sql}) WHERE person_id IS NOT NULL").fetchall()
    return tuple(r[0])


def sorted_events(events: ibis.Table, build: bool | None = None) -> SortedEvents | None:
    """The sorted arrays of ``events`` (an Ibis table on the store's DuckDB), or None: on another backend,
    when the events lack ``seq``, or when the policy (see the module) says not to build yet."""
    if "seq" not in events.columns:
        return None
    src = _source(events)
    if src is None:
        return None
    con, key, sql = src
    stamp = _stamp(con, sql)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit.stamp == stamp:
            _CACHE.move_to_end(key)
            return hit
        if build is False or (build is None and _SEEN.get(key) != stamp):
            _SEEN[key] = stamp
            return None
        lock = _BUILDING.setdefault(key, threading.Lock())
    with lock:  # one build per key at a time; a second caller waits and reuses it
        with _LOCK:
            hit = _CACHE.get(key)
            if hit is not None and hit.stamp == stamp:
                return hit
        se = _build(con, sql)
        with _LOCK:
            _CACHE[key] = se
            _CACHE.move_to_end(key)
            while len(_CACHE) > MAX_ENTRIES:
                _CACHE.popitem(last=False)
        # written meanwhile (or ``con`` holds writes not yet committed): kept for its own stamp, and this
        # caller falls back to a query of its own
        return se if se.stamp == stamp else None


def forget(events: ibis.Table | None = None) -> None:
    """Drop the entry of ``events`` (all entries when None)."""
    with _LOCK:
        if events is None:
            _CACHE.clear()
            _SEEN.clear()
            return
        src = _source(events)
        if src is not None:
            _CACHE.pop(src[1], None)
            _SEEN.pop(src[1], None)


def _build(con, sql: str) -> SortedEvents:
    """Stamp and rows read in one transaction of a cursor of their own, so they describe the same data.
    The sorted rows arrive in batches and go straight into preallocated arrays (no 10M-row Arrow table
    with string columns held at once)."""
    t0 = time.perf_counter()
    cur = con.cursor()
    try:
        try:
            cur.execute("SET enable_progress_bar = false")
        except Exception:  # see store._quiet
            pass
        cur.execute("BEGIN TRANSACTION")
        stamp = _stamp(cur, sql)
        n = int(stamp[0])
        pk = np.empty(n, np.int32)
        code = np.empty(n, np.int32)
        ts = np.empty(n, np.int64)
        people: list[pa.Array] = []
        names: dict[str, int] = {}
        at, last, persons = 0, None, 0
        reader = cur.sql(f"SELECT person_id, event, epoch_us(ts) AS ts FROM ({sql}) "
                         "WHERE person_id IS NOT NULL ORDER BY person_id, ts, seq").to_arrow_reader(_BATCH)
        for batch in reader:
            m = batch.num_rows
            if m == 0:
                continue
            pid = batch.column(0)
            newp = np.empty(m, bool)
            newp[0] = last is None or pid[0].as_py() != last
            newp[1:] = pc.not_equal(pid.slice(1), pid.slice(0, m - 1)).to_numpy(zero_copy_only=False)
            pk[at:at + m] = persons - 1 + np.cumsum(newp, dtype=np.int32)
            persons += int(newp.sum())
            people.append(pc.take(pid, pa.array(np.flatnonzero(newp))).cast(pa.string()))
            last = pid[m - 1].as_py()
            enc = batch.column(1).dictionary_encode()
            local = np.array([names.setdefault(v, len(names)) for v in enc.dictionary.to_pylist()] + [-1], np.int32)
            idx = pc.fill_null(enc.indices, len(local) - 1).to_numpy(zero_copy_only=False)
            code[at:at + m] = local[idx]
            ts[at:at + m] = batch.column(2).to_numpy(zero_copy_only=False)
            at += m
        cur.execute("COMMIT")
    finally:
        cur.close()
    if at != n:  # cannot happen inside one transaction; never keep a short read
        raise RuntimeError(f"sorted events: read {at} rows, expected {n}")
    none = len(names)  # events without a name (identify, group, alias) get the code after the names
    code[code < 0] = none
    code = code.astype(np.int16 if none < 32000 else np.int32)
    name_arr = pa.array(list(names), pa.string())
    people_arr = pa.concat_arrays(people) if people else pa.array([], pa.string())
    return SortedEvents(stamp, people_arr, name_arr, pk, code, ts, time.perf_counter() - t0)
