import duckdb
import pytest

from wayfare.errors import AuthError, NotFound, StoreError, ValidationError
from wayfare.store import Store, create_key, revoke_key, verify_key


def test_fresh_store_has_default_workspace_and_schema(tmp_path):
    with Store(tmp_path / "a.db") as s:
        assert [w["name"] for w in s.workspaces()] == ["default"]
        v = s.schema_version()
        assert v >= 2
    with Store(tmp_path / "a.db") as s:  # reopening migrates nothing twice
        assert s.schema_version() == v
        assert len(s.workspaces()) == 1


def test_workspace_names_are_validated(store):
    with pytest.raises(ValidationError, match="lower-case"):
        store.create_workspace("Bad Name!")
    store.create_workspace("salon-2")
    with pytest.raises(ValidationError, match="already exists"):
        store.create_workspace("salon-2")
    with pytest.raises(NotFound, match="workspace create"):
        store.scope("nope")


def test_scopes_never_see_each_others_rows(store):
    import datetime as dt

    from wayfare.ingest import to_row, write_rows

    store.create_workspace("other")
    a, b = store.scope("default"), store.scope("other")
    now = dt.datetime(2026, 1, 1)
    write_rows(a, [to_row({"type": "track", "event": "A", "userId": "u1", "messageId": "m1"}, now, "t")])
    write_rows(b, [to_row({"type": "track", "event": "B", "userId": "u1", "messageId": "m1"}, now, "t")])
    assert a.rows("SELECT event FROM events") == [("A",)]
    assert b.rows("SELECT event FROM events") == [("B",)]
    assert a.one("SELECT count(*) FROM profiles")[0] == 1
    # a query that brings its own CTE is still confined
    assert b.rows("WITH x AS (SELECT event FROM events) SELECT * FROM x") == [("B",)]


def test_scope_write_must_name_the_workspace(scope):
    with pytest.raises(StoreError):
        scope.write("DELETE FROM main.events")


def test_keys_are_hashed_scoped_and_revocable(store):
    k = create_key(store, "default", "ingest")
    raw = store.con.execute("SELECT key_hash FROM api_keys").fetchone()[0]
    assert k["key"] not in raw and len(raw) == 64
    assert verify_key(store, k["key"]).scope == "ingest"
    with pytest.raises(AuthError, match="admin"):
        verify_key(store, k["key"], need="admin")
    revoke_key(store, "default", k["key_id"])
    with pytest.raises(AuthError, match="revoked"):
        verify_key(store, k["key"])


def test_second_writer_gets_a_clear_error(tmp_path):
    import subprocess
    import sys

    db = tmp_path / "locked.db"
    with Store(db):
        code = f"from wayfare.store import Store; Store({str(db)!r})"
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode != 0
    assert "in use by another wayfare process" in p.stderr or isinstance(p.stderr, str) and "lock" in p.stderr.lower()


def test_store_file_is_a_real_duckdb_database(tmp_path):
    with Store(tmp_path / "x.db"):
        pass
    con = duckdb.connect(str(tmp_path / "x.db"), read_only=True)
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"events", "profiles", "identities", "merges", "workspaces", "api_keys"} <= tables
