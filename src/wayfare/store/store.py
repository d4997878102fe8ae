"""The store: one DuckDB file, migrated forward, every row tagged with its workspace.

Only this module opens connections. Domains receive a :class:`Scope` (one workspace of one store) and
query through it: ``scope.df("SELECT ... FROM events")`` sees only that workspace's rows, because the
scope wraps every tenant table in a CTE that filters on ``workspace_id``. No call site writes the
filter by hand, so no call site can forget it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from ..errors import NotFound, StoreError, ValidationError

__all__ = ["Store", "Scope", "DEFAULT_WORKSPACE", "TENANT_TABLES", "open_store", "default_db_path"]

log = logging.getLogger("wayfare.store")

DEFAULT_WORKSPACE = "default"
# tables whose rows belong to one workspace; domains add theirs with register_tenant_table()
TENANT_TABLES: list[str] = ["events", "profiles", "identities", "merges", "imports", "api_keys", "profiles_pending"]
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def default_db_path() -> str:
    return os.environ.get("WAYFARE_DB", "wayfare.db")


def register_tenant_table(name: str) -> None:
    """Domains that own tables (flows, inbox, ...) register them so scopes filter them too."""
    if name not in TENANT_TABLES:
        TENANT_TABLES.append(name)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _migrations() -> list[tuple[int, str, str]]:
    out = []
    for entry in resources.files("wayfare.store.migrations").iterdir():
        m = re.match(r"^(\d+)_.*\.sql$", entry.name)
        if m:
            out.append((int(m.group(1)), entry.name, entry.read_text()))
    return sorted(out)


_EXTRA_MIGRATIONS: list[tuple[int, str, str]] = []


def register_migration(version: int, name: str, sql: str) -> None:
    """A domain package may ship a numbered migration of its own (versions 100+ per domain block)."""
    if all(v != version for v, _, _ in _EXTRA_MIGRATIONS):
        _EXTRA_MIGRATIONS.append((version, name, sql))


def _settings(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB settings from ``WAYFARE_DUCKDB`` (``name=value;name=value``, e.g. ``memory_limit=2GB;threads=2``),
    for operators who must bound the embedded engine on a small server. A bad name or value is a clear error."""
    spec = os.environ.get("WAYFARE_DUCKDB", "").strip()
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name.replace("_", "").isalnum():
            raise StoreError(f"WAYFARE_DUCKDB: {part!r} is not name=value")
        try:
            con.execute(f"SET {name} = ?", [value.strip()])
        except duckdb.Error as e:
            raise StoreError(f"WAYFARE_DUCKDB: cannot set {name} to {value.strip()!r}: {e}") from e


CACHE_MB = 64  # default budget for DuckDB's cached table blocks (WAYFARE_CACHE_MB)


def cache_budget_bytes() -> int | None:
    """The most of DuckDB's cached table blocks a long-running process keeps (``WAYFARE_CACHE_MB``, default
    64: a store of ~450k events stays cached whole, since the dashboard's pages read the whole events table and
    re-read what was dropped; ``off``: no trimming, DuckDB's own rule: keep every block read until ``memory_limit``)."""
    spec = os.environ.get("WAYFARE_CACHE_MB", "").strip().lower()
    if spec in ("off", "none"):
        return None
    if not spec:
        return CACHE_MB * 2**20
    try:
        mb = float(spec)
    except ValueError:
        raise StoreError(f"WAYFARE_CACHE_MB: {spec!r} is not a number of megabytes (or 'off')") from None
    if mb < 0:
        raise StoreError(f"WAYFARE_CACHE_MB: {spec!r} is negative")
    return int(mb * 2**20)


def _named_in_env(*names: str) -> bool:
    spec = os.environ.get("WAYFARE_DUCKDB", "")
    return any(n in spec for n in names)


class Store:
    """An open wayfare store. Thread-safe for one writer: writes take ``write_lock``."""

    def __init__(self, path: str | os.PathLike | None = None, *, read_only: bool = False):
        self.path = str(path or default_db_path())
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as e:
            msg = str(e)
            if "lock" in msg.lower():
                raise StoreError(
                    f"{self.path} is in use by another wayfare process (probably `wayfare serve`); "
                    "stop it or use its HTTP API"
                ) from e
            raise StoreError(f"cannot open {self.path}: {msg}") from e
        _quiet(self._con)
        # the settings Ibis gives a connection it is handed (the dashboard's queries use Ibis on this one), made
        # from the start: the store behaves the same before and after a first dashboard query (a statement that
        # read a Python variable by name worked until then and failed after: tests/ingest/test_dedupe.py)
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET python_enable_replacements = false")
        if not read_only and not _named_in_env("checkpoint_threshold", "wal_autocheckpoint"):
            # DuckDB checkpoints inside whichever commit takes the WAL past this; the default 16 MiB made that
            # commit ~70 ms longer under a sustained ingest load, 4 MiB ~20 ms (the work per row is the same:
            # ~1.1 µs an event here, whatever the WAL's size or the table's)
            self._con.execute("SET checkpoint_threshold = '4MiB'")
        _settings(self._con)
        # DuckDB checkpoints on its own when the WAL passes its threshold (4 MiB above; DuckDB's default is 16 MiB),
        # inside whichever commit crosses it. With row
        # group vacuuming on, such a checkpoint also merged the new rows into the last row group and rewrote it
        # (10-350 ms here, compressing strings again; an ingest request waited behind it); off, 10-15 ms. So the
        # automatic ones run without it, and checkpoint() -- idle moments, shutdown, after an erase -- with it.
        # (a second Store on the same file shares DuckDB's instance, and so finds 0 here: DuckDB's default then)
        vacuum = int(self._con.execute("SELECT current_setting('max_vacuum_tasks')").fetchone()[0])
        self._vacuum_tasks = vacuum if vacuum or _named_in_env("max_vacuum_tasks") else 100
        if not read_only:
            self._con.execute("SET max_vacuum_tasks = 0")
        self.write_lock = WriteLock()
        self.read_only = read_only
        self._tenant_tables: list[str] | None = None
        cache_budget_bytes()  # a bad WAYFARE_CACHE_MB is an error at open, not a warning every pass
        self._next_trim = 0.0  # trim_cache
        self._memory_limit: str | None = None
        self.trimmed_bytes = 0
        self.trim_stats: dict[str, Any] = {"trims": 0, "ms": 0.0, "errors": 0, "last_error": None}
        self.key_cache: dict[str, tuple[float, Any]] = {}  # keys.verify_key: key hash -> (valid until, KeyInfo)
        if not read_only:
            self.migrate()

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        try:
            self._con.close()
        except duckdb.Error:
            pass

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def checkpoint(self) -> None:
        """Fold the WAL into the file, vacuuming row groups (merging small ones, dropping deleted rows)."""
        with self.write_lock:
            self._con.execute(f"SET max_vacuum_tasks = {self._vacuum_tasks}")
            try:
                self._con.execute("CHECKPOINT")
            finally:
                self._con.execute("SET max_vacuum_tasks = 0")

    TRIM_EVERY_S = 5.0

    def trim_cache(self, force: bool = False) -> int:
        """Drop DuckDB's cached copies of table blocks beyond the budget (:func:`cache_budget_bytes`); returns the
        bytes dropped. For a process that runs for days (``wayfare serve``): DuckDB keeps every block it has read
        until its ``memory_limit`` (80% of RAM by default) is reached, so a server whose scheduler reads each new
        event once grew by the size of the new data (~140 B an event) for as long as it ran, though the kernel's
        page cache holds the same blocks and reading one back costs microseconds. Blocks of a file are only
        dropped, never written out; the ART indexes and data not yet checkpointed are not touched (they are
        counted apart). DuckDB evicts when its memory limit is lowered, so the limit goes down by the excess and
        straight back, under the write lock (a writer allocating in between could otherwise find nothing to
        evict; 5-13 ms here), taken only when over the budget; at most once every ``TRIM_EVERY_S`` unless
        ``force``. Pages that read the whole events table read back what was dropped: hence a default (64 MB)
        that keeps a small store's table whole (benchmarks/TRUST.md)."""
        budget = cache_budget_bytes()
        if budget is None or self.read_only or self.path == ":memory:":
            return 0
        now = time.monotonic()
        if not force and now < self._next_trim:
            return 0
        self._next_trim = now + self.TRIM_EVERY_S
        cur = self.cursor()
        if cur.execute("SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'BASE_TABLE'").fetchone()[0] <= budget:
            cur.close()
            return 0  # under the budget: the write lock is not taken
        with self.write_lock:
            try:
                tags = dict(cur.execute("SELECT tag, memory_usage_bytes FROM duckdb_memory()").fetchall())
                cached = tags.get("BASE_TABLE", 0)
                if cached <= budget:
                    return 0
                if self._memory_limit is None:  # as DuckDB shows it ("18.7 GiB"): restored to the same bytes each time
                    self._memory_limit = cur.execute("SELECT current_setting('memory_limit')").fetchone()[0]
                limit = self._memory_limit
                lowered = sum(tags.values()) - (cached - budget)
                try:
                    cur.execute(f"SET GLOBAL memory_limit = '{int(lowered)}B'")
                finally:
                    cur.execute("SET GLOBAL memory_limit = ?", [limit])
                after = cur.execute("SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"
                                    ).fetchone()[0]
                self.trimmed_bytes += max(0, cached - after)
                self.trim_stats["trims"] += 1
                self.trim_stats["ms"] += (time.monotonic() - now) * 1000
                return max(0, cached - after)
            except duckdb.Error as e:  # nothing evictable enough: keep the cache as it is
                log.debug("cache trim skipped: %s", e)
                self.trim_stats["errors"] += 1
                self.trim_stats["last_error"] = str(e)[:200]
                return 0
            finally:
                cur.close()

    # -- schema ----------------------------------------------------------------------------------
    def migrate(self) -> int:
        con = self._con
        con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
        done = {r[0] for r in con.execute("SELECT version FROM schema_version").fetchall()}
        pending = [m for m in sorted(_migrations() + _EXTRA_MIGRATIONS) if m[0] not in done]
        self._tenant_tables = None
        for version, name, sql in pending:
            con.execute("BEGIN")
            try:
                for stmt in _split_sql(sql):
                    con.execute(stmt)
                con.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [version, name, utcnow()])
                con.execute("COMMIT")
            except duckdb.Error as e:
                con.execute("ROLLBACK")
                raise StoreError(f"migration {name} failed: {e}") from e
        if not con.execute("SELECT 1 FROM workspaces WHERE name = ?", [DEFAULT_WORKSPACE]).fetchone():
            self.create_workspace(DEFAULT_WORKSPACE)
        return self.schema_version()

    def tenant_tables(self) -> list[str]:
        """Every table with a ``workspace_id`` column: scopes confine reads of these to one workspace."""
        if self._tenant_tables is None:
            rows = self.cursor().execute(  # a cursor: other threads may hold a transaction on _con
                "SELECT DISTINCT table_name FROM information_schema.columns "
                "WHERE column_name = 'workspace_id' AND table_schema = 'main' AND table_catalog = current_database()"
            ).fetchall()
            self._tenant_tables = sorted({r[0] for r in rows} | set(TENANT_TABLES), key=lambda t: (-len(t), t))
        return self._tenant_tables

    def schema_version(self) -> int:
        row = self.cursor().execute("SELECT max(version) FROM schema_version").fetchone()  # any thread
        return int(row[0] or 0)

    # -- workspaces ------------------------------------------------------------------------------
    def create_workspace(self, name: str) -> str:
        if not _NAME_RE.match(name or ""):
            raise ValidationError(
                "a workspace name is 1-63 lower-case letters, digits, '-' or '_'", where=f"workspace {name!r}"
            )
        with self.write_lock:
            if self._con.execute("SELECT 1 FROM workspaces WHERE name = ?", [name]).fetchone():
                raise ValidationError("a workspace of that name already exists", where=f"workspace {name!r}")
            wid = "ws_" + uuid.uuid4().hex[:12]
            self._con.execute("INSERT INTO workspaces VALUES (?, ?, ?, ?)", [wid, name, "{}", utcnow()])
        return wid

    def workspaces(self) -> list[dict[str, Any]]:
        rows = self.cursor().execute("SELECT id, name, created_at FROM workspaces ORDER BY created_at, name").fetchall()
        return [{"id": r[0], "name": r[1], "created_at": r[2].isoformat()} for r in rows]

    def workspace_id(self, name: str) -> str:
        row = self.cursor().execute("SELECT id FROM workspaces WHERE name = ? OR id = ?", [name, name]).fetchone()
        if not row:
            known = ", ".join(w["name"] for w in self.workspaces())
            raise NotFound(f"no workspace {name!r} (known: {known}); create it with `wayfare workspace create {name}`")
        return row[0]

    def scope(self, workspace: str = DEFAULT_WORKSPACE) -> Scope:
        return Scope(self, self.workspace_id(workspace), workspace)

    # -- raw access for the store package and for scopes -----------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one thread's reads (DuckDB connections are not shared across threads)."""
        cur = self._con.cursor()
        _quiet(cur)
        return cur

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self._con

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction on the main connection, under the write lock."""
        with self.write_lock, self._tx(self._con) as con:
            yield con

    @contextmanager
    def write_cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction on a cursor of its own, under the write lock: for engines that write while
        other threads read on the main connection (DuckDB refuses a connection that is busy elsewhere)."""
        with self.write_lock:
            con = self.cursor()
            try:
                with self._tx(con):
                    yield con
            finally:
                con.close()

    @contextmanager
    def _tx(self, con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
        """BEGIN … COMMIT on ``con``; rolled back on any error; a full disk becomes a clear StoreError."""
        con.execute("BEGIN")
        try:
            yield con
        except BaseException as e:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass  # a failed write may already have ended the transaction
            if isinstance(e, duckdb.Error) and _is_disk_full(e):
                raise self._full(e) from e
            raise
        else:
            try:
                con.execute("COMMIT")
            except duckdb.Error as e:
                if _is_disk_full(e):
                    raise self._full(e) from e
                raise

    def _full(self, e: BaseException) -> StoreError:
        return StoreError(f"could not write the store {self.path}: the disk is full or a file-size limit was reached "
                          f"({str(e).splitlines()[0][:200]}). Nothing of this change was kept; free some space and "
                          "try again.")


class WriteLock:
    """The store's write lock: re-entrant, and counting how often it was taken, so that a writer that keeps
    state between its transactions (the ingest writer's identity cache) can tell whether anyone else wrote
    in between: the count went up by more than its own acquisitions."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.acquisitions = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        ok = self._lock.acquire(blocking, timeout)
        if ok:
            self.acquisitions += 1
        return ok

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


_DISK_FULL = ("no space left on device", "file too large", "disk quota exceeded", "could not write file")


def _is_disk_full(e: BaseException) -> bool:
    text = str(e).lower()
    return any(k in text for k in _DISK_FULL)


# no DuckDB progress bar: it writes to stdout and would break the CLI's one-JSON-document output
def _quiet(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:  # in Jupyter without ipywidgets DuckDB refuses to touch the setting (and draws no bar)
        pass


def _split_sql(sql: str) -> list[str]:
    lines = [ln for ln in sql.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


_WITH_RE = re.compile(r"^\s*WITH\s+(RECURSIVE\s+)?", re.IGNORECASE)


class Scope:
    """One workspace of one store: every read and write through it is confined to that workspace."""

    def __init__(self, store: Store, workspace_id: str, name: str):
        self.store = store
        self.workspace_id = workspace_id
        self.name = name

    def __repr__(self) -> str:
        return f"Scope({self.name!r}, {self.store.path!r})"

    # reads -------------------------------------------------------------------------------------
    def _wrap(self, sql: str, tables: Iterable[str] | None = None) -> str:
        names = [t for t in (tables or self.store.tenant_tables()) if re.search(rf"\b{t}\b", sql)]
        if not names:
            return sql
        ctes = ", ".join(f"{t} AS (SELECT * FROM main.{t} WHERE workspace_id = $__ws)" for t in names)
        m = _WITH_RE.match(sql)
        if m:
            rec = "RECURSIVE " if m.group(1) else ""
            return f"WITH {rec}{ctes}, {sql[m.end():]}"
        return f"WITH {ctes} {sql}"

    def _params(self, params: dict[str, Any] | None) -> dict[str, Any]:
        p = dict(params or {})
        p["__ws"] = self.workspace_id
        return p

    def execute(self, sql: str, params: dict[str, Any] | None = None, con: Any = None) -> duckdb.DuckDBPyConnection:
        """Run a read query (named parameters, ``$name``) confined to this workspace."""
        c = con or self.store.cursor()
        return c.execute(self._wrap(sql), self._params(params))

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        return self.execute(sql, params).fetchall()

    def one(self, sql: str, params: dict[str, Any] | None = None) -> tuple | None:
        return self.execute(sql, params).fetchone()

    def df(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return self.execute(sql, params).df()

    def arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        res = self.execute(sql, params)
        t = res.fetch_arrow_table() if hasattr(res, "fetch_arrow_table") else res.arrow()
        return t.read_all() if hasattr(t, "read_all") else t

    def ibis(self, table: str):
        """An Ibis table expression over this workspace's rows of ``table``."""
        import ibis

        be = ibis.duckdb.from_connection(self.store.con)
        t = be.table(table)
        return t.filter(t.workspace_id == self.workspace_id)

    # writes ------------------------------------------------------------------------------------
    def write(self, sql: str, params: dict[str, Any] | None = None, con: Any = None) -> duckdb.DuckDBPyConnection:
        """Run a statement that names ``$__ws`` where it must be confined (UPDATE/DELETE ... WHERE workspace_id = $__ws)."""
        if "$__ws" not in sql:
            raise StoreError("a write through a scope must filter on workspace_id = $__ws")
        c = con or self.store.con
        with self.store.write_lock:
            return c.execute(sql, self._params(params))

    def insert_arrow(self, table: str, data: pa.Table, *, on_conflict: str = "error", con: Any = None) -> None:
        """Insert an Arrow table (without workspace_id) into ``table``; the scope adds the workspace."""
        data = data.add_column(0, "workspace_id", pa.array([self.workspace_id] * data.num_rows, pa.string()))
        c = con or self.store.con
        verb = {"error": "INSERT", "ignore": "INSERT OR IGNORE", "replace": "INSERT OR REPLACE"}[on_conflict]
        cols = ", ".join(data.column_names)
        with self.store.write_lock:
            c.register("__wf_insert", data)
            try:
                c.execute(f"{verb} INTO main.{table} ({cols}) SELECT {cols} FROM __wf_insert")
            finally:
                c.unregister("__wf_insert")

    def transaction(self):
        return self.store.transaction()


def open_store(path: str | os.PathLike | None = None, *, read_only: bool = False) -> Store:
    """Open (or create and migrate) the store file; default ``$WAYFARE_DB`` or ``./wayfare.db``."""
    return Store(path, read_only=read_only)
