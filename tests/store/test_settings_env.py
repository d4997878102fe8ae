"""WAYFARE_DUCKDB: operators bound the embedded engine (memory, threads) without code."""

from __future__ import annotations

import pytest

from wayfare.errors import StoreError
from wayfare.store import Store


def test_duckdb_settings_from_the_environment_apply(monkeypatch):
    monkeypatch.setenv("WAYFARE_DUCKDB", "memory_limit=512MB; threads=1")
    with Store(":memory:") as s:
        limit, threads = s.con.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchone()
    assert threads == 1 and limit.replace(" ", "") in ("488.2MiB", "512.0MB", "512MB")


@pytest.mark.parametrize("spec, says", [("memory_limit", "is not name=value"),
                                        ("no_such_setting=1", "cannot set no_such_setting"),
                                        ("threads=lots", "cannot set threads to 'lots'")])
def test_a_bad_duckdb_setting_is_a_clear_error(monkeypatch, spec, says):
    monkeypatch.setenv("WAYFARE_DUCKDB", spec)
    with pytest.raises(StoreError, match=says):
        Store(":memory:")
