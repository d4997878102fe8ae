"""A long-running process keeps DuckDB's cached table blocks within WAYFARE_CACHE_MB (Store.trim_cache): without it
every block the scheduler ever read stayed in memory until DuckDB's memory limit (80% of RAM)."""

from __future__ import annotations

import time

import pytest

from wayfare.automate import Scheduler
from wayfare.errors import StoreError
from wayfare.store import Store

ROWS = 300_000


def _memory(store: Store) -> dict[str, int]:
    return dict(store.cursor().execute("SELECT tag, memory_usage_bytes FROM duckdb_memory()").fetchall())


def _gib(shown: str) -> float:
    number, unit = shown.split()
    return float(number) * {"KiB": 2**-20, "MiB": 2**-10, "GiB": 1, "TiB": 2**10}[unit]


def _read_everything(store: Store) -> tuple:
    return store.cursor().execute(
        "SELECT count(*), sum(seq), count(DISTINCT anonymous_id), sum(length(properties::VARCHAR)), max(ts) "
        "FROM events").fetchone()


@pytest.fixture
def big_store(tmp_path):
    """A store file with ROWS events on disk, opened afresh (nothing cached yet)."""
    path = tmp_path / "big.db"
    with Store(path) as s:
        ws = s.scope().workspace_id
        with s.transaction() as con:
            con.execute(
                "INSERT INTO events (workspace_id, message_id, seq, type, event, anonymous_id, ts, received_at, "
                "properties) SELECT ?, 'm-' || i, i, 'track', 'Menu Viewed', 'anon-' || (i % 5000), "
                "TIMESTAMP '2026-01-01' + INTERVAL (i) SECOND, TIMESTAMP '2026-01-01' + INTERVAL (i) SECOND, "
                "('{\"path\": \"/menu/' || i || '\"}')::JSON FROM range(?) t(i)", [ws, ROWS])
        s.checkpoint()
    return path


def test_trim_drops_cached_blocks_beyond_the_budget_and_keeps_answers(big_store, monkeypatch):
    monkeypatch.setenv("WAYFARE_CACHE_MB", "0.25")
    with Store(big_store) as s:
        limit = s.cursor().execute("SELECT current_setting('memory_limit')").fetchone()[0]
        first = _read_everything(s)
        assert first[0] == ROWS
        before = _memory(s)
        assert before["BASE_TABLE"] > 2 * 2**20, before  # the scan left the table's blocks cached
        dropped = s.trim_cache(force=True)
        after = _memory(s)
        assert after["BASE_TABLE"] <= 2**18 + 2**18, after  # the budget (a quarter MiB), give or take one block
        assert dropped == before["BASE_TABLE"] - after["BASE_TABLE"] and s.trimmed_bytes == dropped
        assert after.get("ART_INDEX", 0) == before.get("ART_INDEX", 0)  # the key index is not what it drops
        restored = s.cursor().execute("SELECT current_setting('memory_limit')").fetchone()[0]
        # the limit comes back as DuckDB showed it (one decimal), the same bytes every time: no drift
        assert _gib(restored) == pytest.approx(_gib(limit), rel=0.01)
        _read_everything(s)
        s.trim_cache(force=True)
        assert s.cursor().execute("SELECT current_setting('memory_limit')").fetchone()[0] == restored
        assert _read_everything(s) == first  # blocks read back from the file
        with s.transaction() as con:  # and for writes: the key index still refuses a stored id
            with pytest.raises(Exception, match="(?i)duplicate key|constraint"):
                con.execute("INSERT INTO events (workspace_id, message_id, seq, type, ts, received_at) "
                            "SELECT workspace_id, message_id, -1, type, ts, received_at FROM events LIMIT 1")


def test_trim_is_rate_limited_and_a_no_op_under_the_budget(big_store, monkeypatch):
    monkeypatch.setenv("WAYFARE_CACHE_MB", "0.25")
    with Store(big_store) as s:
        _read_everything(s)
        assert s.trim_cache() > 0
        _read_everything(s)
        assert s.trim_cache() == 0  # within TRIM_EVERY_S of the last one
        assert s.trim_cache(force=True) > 0
        assert s.trim_cache(force=True) == 0  # nothing over the budget now


def test_trimming_off_keeps_duckdb_rule(big_store, monkeypatch):
    monkeypatch.setenv("WAYFARE_CACHE_MB", "off")
    with Store(big_store) as s:
        _read_everything(s)
        cached = _memory(s)["BASE_TABLE"]
        assert s.trim_cache(force=True) == 0 and _memory(s)["BASE_TABLE"] == cached


@pytest.mark.parametrize("spec, says", [("lots", "is not a number"), ("-5", "is negative")])
def test_a_bad_cache_budget_is_a_clear_error_at_open(tmp_path, monkeypatch, spec, says):
    monkeypatch.setenv("WAYFARE_CACHE_MB", spec)
    with pytest.raises(StoreError, match=f"WAYFARE_CACHE_MB: .*{says}"):
        Store(tmp_path / "x.db")


def test_the_scheduler_keeps_the_cache_trimmed(big_store, monkeypatch):
    monkeypatch.setenv("WAYFARE_CACHE_MB", "0.25")
    with Store(big_store) as s:
        _read_everything(s)
        assert _memory(s)["BASE_TABLE"] > 2 * 2**20
        sched = Scheduler(s, interval=0.05, min_gap=0.01).start()
        try:
            deadline = time.monotonic() + 10
            while s.trimmed_bytes == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            sched.stop()
        assert s.trimmed_bytes > 1 * 2**20
        assert _memory(s)["BASE_TABLE"] <= 2**18 + 2**18
