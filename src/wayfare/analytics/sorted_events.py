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

Kept up to date, not rebuilt: when the events have changed since an entry was made, only the people
whose rows changed are read again -- everyone with a row newer than the entry's ``max(seq)`` and both sides
of every identity merge logged since -- and their blocks replace the old ones (:func:`_update`; ~0.3 s for
10k new events on 10M). A delete outside those people (an erase, the retention clean-up) does not add up
(row count) and the entry is built again.

Kept on disk, beside the store: a file store keeps a workspace's whole events in ``<store>.analytics/`` (one
file per workspace, mode 0600, written whole then renamed; derived expressions -- a time window -- stay in memory), so a one-shot command -- ``wayfare funnel`` in a
fresh process -- maps the arrays in milliseconds and brings them up to date instead of sorting the events
again. They hold person ids: :func:`drop_files` removes them (privacy erase does, before the store is
rewritten) and the next ask rebuilds from what is left.

When: a workspace's whole events on a file store are built on the first ask (and kept on disk for every later
process); anything else -- an in-memory store, a derived expression -- on the second ask of the same events (same stamp) --
a dashboard or a notebook that asks again. ``build=True`` builds at once (benchmarks, warm-up),
``build=False`` only reuses (and brings up to date). At most :data:`MAX_ENTRIES` entries are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["SortedEvents", "sorted_events", "forget", "drop_files", "MAX_ENTRIES"]

MAX_ENTRIES = 4  # ~23 bytes a row each with the indexes (10M events: ~225 MB)
_BATCH = 1 << 22  # rows per fetched batch while building
_LOCK = threading.Lock()
_CACHE: OrderedDict[tuple, SortedEvents] = OrderedDict()
_SEEN: dict[tuple, tuple] = {}  # key -> the stamp asked for last (build on the second ask)
_BUILDING: dict[tuple, threading.Lock] = {}
UPDATE_MAX_SHARE = 0.25  # an update that reads more than this share of the rows again builds from scratch
_FORMAT = 2  # the on-disk layout (a file of another layout is ignored and replaced)


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
    merges: tuple = (0, None)  # (rows in the merge log, latest merged_at) when the rows were read
    how: str = "built"  # built | updated | loaded (from disk) | loaded+updated
    disk_lag: int = 0  # rows read again since the version kept on disk (a build: all of them, plus one)
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


def _whole_workspace(events: ibis.Table) -> bool:
    """``events`` is a workspace's whole events table (the table filtered by ``workspace_id`` alone): only those
    are kept on disk -- a derived expression (a time window, a filter) would leave a file per variant."""
    import ibis.expr.operations as ops

    op = events.op()
    if not (isinstance(op, ops.Filter) and isinstance(op.parent, ops.DatabaseTable) and op.parent.name == "events"
            and len(op.predicates) == 1 and isinstance(op.predicates[0], ops.Equals)):
        return False
    left = op.predicates[0].left
    return isinstance(left, ops.Field) and left.name == "workspace_id"


def _stamp(con, sql: str) -> tuple:
    r = con.execute(f"SELECT count(*), max(seq), sum(seq), max(ts) FROM ({sql}) WHERE person_id IS NOT NULL").fetchall()
    n, mx, sm, mts = r[0]
    return (int(n), None if mx is None else int(mx), None if sm is None else int(sm), None if mts is None else str(mts))


def _merge_stamp(con) -> tuple | None:
    """(rows in the merge log, latest merged_at), or None where there is no merge log (then no updates)."""
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                       "AND schema_name = 'main' AND table_name = 'merges'").fetchall()[0][0]:
        return None
    n, last = con.execute("SELECT count(*), max(merged_at) FROM main.merges").fetchall()[0]
    return (int(n), None if last is None else str(last))


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
        lock = _BUILDING.setdefault(key, threading.Lock())
    with lock:  # one build or update per key at a time; a second caller waits and reuses it
        with _LOCK:
            hit = _CACHE.get(key)
        if hit is not None and hit.stamp == stamp:
            return hit
        path = _file_of(key) if _whole_workspace(events) else None
        old = hit if hit is not None else _load(path)
        se = None
        if old is not None:
            se = old if old.stamp == stamp else _update(old, con, sql)
        if se is None:
            with _LOCK:
                first_ask = _SEEN.get(key) != stamp
                _SEEN[key] = stamp
            if build is False or (build is None and path is None and first_ask):
                return None
            se = _build(con, sql)
        with _LOCK:
            _CACHE[key] = se
            _CACHE.move_to_end(key)
            while len(_CACHE) > MAX_ENTRIES:
                _CACHE.popitem(last=False)
        if path is not None and se.disk_lag > 0.02 * max(se.rows, 1):
            _save(se, path)
        # written meanwhile (or ``con`` holds writes not yet committed): kept for its own stamp, and this
        # caller falls back to a query of its own
        return se if se.stamp == stamp else None


def forget(events: ibis.Table | None = None) -> None:
    """Drop the entry of ``events`` (all entries when None), in memory and on disk."""
    with _LOCK:
        if events is None:
            _CACHE.clear()
            _SEEN.clear()
            return
        src = _source(events)
        if src is not None:
            _CACHE.pop(src[1], None)
            _SEEN.pop(src[1], None)
            path = _file_of(src[1]) if _whole_workspace(events) else None
            if path is not None:
                path.unlink(missing_ok=True)


def drop_files(db_path: str | os.PathLike) -> int:
    """Remove every entry kept for the store at ``db_path``, on disk and in this process (they hold person
    ids: a privacy erase calls this before the store is rewritten). Returns the files removed."""
    db = os.path.abspath(os.fspath(db_path))
    with _LOCK:
        for k in [k for k in _CACHE if k[0] and os.path.abspath(k[0]) == db]:
            _CACHE.pop(k, None)
            _SEEN.pop(k, None)
    d = Path(db + ".analytics")
    n = 0
    if d.is_dir():
        for f in d.iterdir():
            f.unlink(missing_ok=True)
            n += 1
        try:
            d.rmdir()
        except OSError:
            pass
    return n


# ---------------------------------------------------------------- on disk

def _file_of(key: tuple) -> Path | None:
    db = key[0]
    if not db or db == ":memory:" or not os.path.exists(db):
        return None
    h = hashlib.sha256(key[1].encode()).hexdigest()[:24]
    return Path(os.path.abspath(db) + ".analytics") / f"sorted-{h}.bin"


_ALIGN = 64


def _save(se: SortedEvents, path: Path) -> None:
    """Write ``se`` whole to a temporary file, then rename it over ``path`` (a reader sees the old file or the
    new one, never half). Written after a build, and after updates once they have read again more than 2% of
    the rows since the file was written: a busy store does not rewrite ~14 bytes an event after every commit,
    and a later process reads the file and those few rows again."""
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        if se.rows:
            se.groups, se.rows_of(0)  # the indexes every funnel needs, kept with the rows (a loaded entry has them)
        blobs = {k: v for k, v in (("pk", se.pk), ("code", se.code), ("ts", se.ts), ("by_code", se._by_code),
                                   ("code_at", se._code_at), ("groups", se._groups)) if v is not None}
        strings = {}
        for name, arr in (("people", se.people), ("names", se.names)):
            sink = pa.BufferOutputStream()
            batch = pa.record_batch([arr], names=["v"])
            with pa.ipc.new_stream(sink, batch.schema) as w:
                w.write_batch(batch)
            strings[name] = sink.getvalue()
        meta = {"format": _FORMAT, "stamp": list(se.stamp), "merges": list(se.merges) if se.merges else None,
                "arrays": {}, "strings": {}}
        offset = 0
        parts: list[tuple[int, bytes | memoryview]] = []
        for name, a in blobs.items():
            meta["arrays"][name] = [offset, str(a.dtype), len(a)]
            parts.append((offset, memoryview(np.ascontiguousarray(a)).cast("B")))
            offset += -(-a.nbytes // _ALIGN) * _ALIGN
        for name, buf in strings.items():
            meta["strings"][name] = [offset, buf.size]
            parts.append((offset, memoryview(buf)))
            offset += -(-buf.size // _ALIGN) * _ALIGN
        head = json.dumps(meta).encode()
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(len(head).to_bytes(8, "little"))
            f.write(head)
            base = -(-(8 + len(head)) // _ALIGN) * _ALIGN
            for off, data in parts:
                f.seek(base + off)
                f.write(data)
        os.replace(tmp, path)
        se.disk_lag = 0
    except OSError:  # a read-only directory or a full disk: the entry stays in memory only
        try:
            tmp.unlink(missing_ok=True)  # type: ignore[possibly-undefined]
        except Exception:
            pass


def _load(path: Path | None) -> SortedEvents | None:
    """The entry kept in ``path`` (its arrays mapped, not read), or None when there is none or it is unreadable."""
    if path is None or not path.exists():
        return None
    try:
        mm = np.memmap(path, mode="r")
        n = int.from_bytes(mm[:8].tobytes(), "little")
        meta = json.loads(mm[8:8 + n].tobytes())
        if meta.get("format") != _FORMAT:
            return None
        base = -(-(8 + n) // _ALIGN) * _ALIGN
        arrays = {k: np.frombuffer(mm, dtype=dt, count=cnt, offset=base + off)
                  for k, (off, dt, cnt) in meta["arrays"].items()}
        strings = {}
        for k, (off, size) in meta["strings"].items():
            buf = pa.py_buffer(mm[base + off:base + off + size])
            strings[k] = pa.ipc.open_stream(buf).read_all().column(0).combine_chunks()
        se = SortedEvents(tuple(meta["stamp"]), strings["people"], strings["names"], arrays["pk"],
                          arrays["code"], arrays["ts"], merges=tuple(meta["merges"]) if meta["merges"] else None,
                          how="loaded", disk_lag=0)
        se._by_code, se._code_at, se._groups = arrays.get("by_code"), arrays.get("code_at"), arrays.get("groups")
        return se
    except Exception:  # half-written by a crash before the rename cannot happen; anything else: rebuild
        return None


# ---------------------------------------------------------------- bringing an entry up to date

def _update(old: SortedEvents, con, sql: str) -> SortedEvents | None:
    """``old`` brought up to date (see the module), or None when that does not add up -- rows deleted outside
    the people read again, the merge log shortened, no merge log -- or would read more than
    :data:`UPDATE_MAX_SHARE` of the rows (a full build is then cheaper).

    Rows newer than the entry (``seq`` above its max) go into their person's block after the rows already
    there at the same time (a newer ``seq`` sorts last among equal times), or form a new person's block;
    both sides of every merge since are read again whole and replace their old blocks."""
    if old.merges is None or old.stamp[1] is None:
        return None
    t0 = time.perf_counter()
    cur = con.cursor()
    try:
        try:
            cur.execute("SET enable_progress_bar = false")
        except Exception:
            pass
        cur.execute("BEGIN TRANSACTION")
        try:
            stamp = _stamp(cur, sql)
            merges = _merge_stamp(cur)
            if merges is None or merges[0] < old.merges[0] or stamp[1] is None or stamp[1] < old.stamp[1]:
                return None
            merged = pa.array([], pa.string())
            if merges[0] > old.merges[0]:
                # >=: merges in the same instant as the last one seen are read again (always safe)
                since, args = ("TRUE", []) if old.merges[1] is None else \
                    ("merged_at >= CAST(? AS TIMESTAMP)", [old.merges[1], old.merges[1]])
                merged = cur.sql(f"SELECT from_person FROM main.merges WHERE {since} UNION "
                                 f"SELECT into_person FROM main.merges WHERE {since}", params=args or None
                                 ).to_arrow_table().column(0).combine_chunks().cast(pa.string())
                if len(merged) > UPDATE_MAX_SHARE * max(old.n_people, 1) and len(merged) > 1000:
                    return None
            cur.register("__wf_merged", pa.table({"person_id": merged}))
            try:
                # rows of merged people, whole; other people's rows newer than the entry
                rows = cur.sql(f"SELECT person_id, event, epoch_us(ts) AS ts FROM ({sql}) WHERE person_id IS NOT NULL AND "
                               f"(seq > {int(old.stamp[1])} OR person_id IN (SELECT person_id FROM __wf_merged)) "
                               "ORDER BY person_id, ts, seq").to_arrow_table()
            finally:
                cur.unregister("__wf_merged")
        finally:
            cur.execute("COMMIT")
    finally:
        cur.close()
    if rows.num_rows > UPDATE_MAX_SHARE * max(old.rows, 1) and rows.num_rows > 10_000:
        return None
    # the old blocks of merged people go
    if len(merged):
        gone_person = pc.is_in(old.people, value_set=merged).to_numpy(zero_copy_only=False)
        keep_rows = ~gone_person[old.pk]
        kept_people = old.people.filter(pa.array(~gone_person))
        k_rows = int(keep_rows.sum())
    else:
        gone_person, keep_rows, kept_people, k_rows = None, None, old.people, old.rows
    if k_rows + rows.num_rows != stamp[0]:
        return None  # rows deleted (or changed) outside the people read again: build from scratch
    n = rows.num_rows
    d_pid = rows.column(0).combine_chunks().cast(pa.string()) if n else pa.array([], pa.string())
    if n:
        newp = np.empty(n, bool)
        newp[0] = True
        newp[1:] = pc.not_equal(d_pid.slice(1), d_pid.slice(0, n - 1)).to_numpy(zero_copy_only=False)
        firsts = np.flatnonzero(newp)
        d_people_all = pc.take(d_pid, pa.array(firsts))
        d_local = np.cumsum(newp, dtype=np.int64) - 1  # the person (of d_people_all) of each row
    else:
        d_people_all, d_local = pa.array([], pa.string()), np.zeros(0, np.int64)
    # which of them already have a block among the kept people (new rows go into it) and which are new
    at_kept = pc.index_in(d_people_all, value_set=kept_people)
    has_block = pc.is_valid(at_kept).to_numpy(zero_copy_only=False).astype(bool)
    k_idx = pc.fill_null(at_kept, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    d_people = d_people_all.filter(pa.array(~has_block))  # people without a block: new, or merged (read whole)
    # numbering of the union, in person id order (the build's ORDER BY person_id: byte order, as here)
    k_np = np.asarray(kept_people.to_pylist(), dtype=object) if len(d_people) else None
    dp_np = np.asarray(d_people.to_pylist(), dtype=object)
    n_k = len(kept_people)
    ins = np.searchsorted(k_np, dp_np) if len(dp_np) and n_k else np.zeros(len(dp_np), np.int64)
    new_of_d = ins + np.arange(len(dp_np))
    new_of_k = np.arange(n_k) + (np.searchsorted(ins, np.arange(n_k), side="right") if len(ins) else 0)
    old_to_new = np.full(len(old.people), -1, np.int64)
    old_to_new[np.flatnonzero(~gone_person) if gone_person is not None else np.arange(n_k)] = new_of_k
    src_pk = old.pk[keep_rows] if keep_rows is not None else old.pk
    k_pk = old_to_new[src_pk].astype(np.int32) if len(dp_np) or gone_person is not None else np.asarray(src_pk)
    k_ts = old.ts[keep_rows] if keep_rows is not None else old.ts
    k_code0 = old.code[keep_rows] if keep_rows is not None else old.code
    # each row read: its person's final number
    person_new = np.empty(len(d_people_all), np.int64)
    person_new[has_block] = new_of_k[k_idx[has_block]]
    person_new[~has_block] = new_of_d
    d_pk = person_new[d_local].astype(np.int32)
    # event codes: new names go after the old ones; "no name" moves to the end
    names = old.names.to_pylist()
    old_none = len(names)
    lut = {v: i for i, v in enumerate(names)}
    enc = (rows.column(1).combine_chunks() if n else pa.array([], pa.string())).dictionary_encode()
    local = [lut.setdefault(v, len(lut)) for v in enc.dictionary.to_pylist()]
    none = len(lut)
    d_code = np.array(local + [none], np.int64)[pc.fill_null(enc.indices, len(local)).to_numpy(
        zero_copy_only=False)] if n else np.zeros(0, np.int64)
    ctype = np.int16 if none < 32000 else np.int32
    k_code = k_code0.astype(ctype)
    if none != old_none:  # (astype copied: the old arrays, maybe a mapped file, are not written)
        k_code[k_code0 == old_none] = none
    d_ts = rows.column(2).to_numpy().astype(np.int64) if n else np.zeros(0, np.int64)
    # where each row goes among the kept rows: a new block before the next person's; a row of a person with a
    # block after that block's rows at or before its time (binary search inside the block, all rows at once)
    lo = np.searchsorted(k_pk, d_pk, side="left")
    into = has_block[d_local] if n else np.zeros(0, bool)
    if into.any():
        hi = np.searchsorted(k_pk, d_pk[into], side="right")
        a, t = lo[into].copy(), d_ts[into]
        while True:
            live = a < hi
            if not live.any():
                break
            mid = np.minimum((a + hi) // 2, len(k_ts) - 1)
            right = live & (k_ts[mid] <= t)
            a = np.where(right, mid + 1, a)
            hi = np.where(live & ~right, mid, hi)
        lo[into] = a
    # equal positions keep the rows' order: by person number, then time and arrival (the query's order)
    order = np.argsort(d_pk, kind="stable")
    pos, d_pk, d_code, d_ts = lo[order], d_pk[order], d_code[order], d_ts[order]
    pk = np.insert(k_pk, pos, d_pk)
    code = np.insert(k_code, pos, d_code.astype(ctype))
    ts = np.insert(k_ts, pos, d_ts)
    if len(dp_np):
        perm = np.empty(n_k + len(dp_np), np.int64)  # final position -> index into kept + new people
        perm[new_of_k] = np.arange(n_k)
        perm[new_of_d] = n_k + np.arange(len(dp_np))
        people = pa.concat_arrays([kept_people.cast(pa.string()), d_people.cast(pa.string())]).take(pa.array(perm))
    else:
        people = kept_people
    se = SortedEvents(stamp, people, pa.array(list(lut), pa.string()), pk, code, ts,
                      time.perf_counter() - t0, merges=merges,
                      how="loaded+updated" if old.how.startswith("loaded") else "updated")
    se.disk_lag = old.disk_lag + n
    return se


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
        merges = _merge_stamp(cur)
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
    return SortedEvents(stamp, people_arr, name_arr, pk, code, ts, time.perf_counter() - t0, merges=merges,
                        disk_lag=n + 1)
