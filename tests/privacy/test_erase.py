"""Erase: every trace of the person gone from the store's files, others untouched, a hash kept, an audit entry."""

from __future__ import annotations

import glob
import os

import pytest
from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.cli._common import close_store
from wayfare.errors import NotFound
from wayfare.ingest import store_status
from wayfare.privacy import erase_person, is_suppressed, rewrite_file
from wayfare.store import Store

from ._people import ERASE, seed


def _traces(tmp_path) -> list[str]:
    hits = []
    for f in glob.glob(f"{tmp_path}/**", recursive=True):
        if os.path.isfile(f):  # the store, its WAL, the analytics' sorted copies beside it, anything
            blob = open(f, "rb").read()
            hits += [f"{f}:{v}" for v in ERASE.values() if v.encode() in blob]
    return hits


def test_erase_leaves_no_byte_in_files_after_rewrite(tmp_path):
    db = tmp_path / "w.db"
    with Store(db) as s:
        sc = s.scope()
        seed(sc)
        s.checkpoint()
        assert _traces(tmp_path), "the seed must put the person in the file"
        from wayfare.analytics.sorted_events import sorted_events

        assert sorted_events(sc.ibis("events"), build=True) is not None  # a copy of the events, kept beside the store
        assert len(os.listdir(f"{db}.analytics")) == 1
        res = erase_person(sc, ERASE["email"])
        assert res["removed"]["analytics_copies"] == 1 and not os.path.exists(f"{db}.analytics")
        # the person's 6 events, and another person's event whose properties name them
        assert res["removed"]["events"] == 7 and res["removed"]["profiles"] == 1
        assert res["removed"]["identities"] >= 3
    out = rewrite_file(db)
    assert out["bytes_after"] > 0
    assert _traces(tmp_path) == []
    with Store(db) as s:
        sc = s.scope()
        st = store_status(sc)
        assert st["people"] == 5 and st["events"] == 5
        assert is_suppressed(sc, "email", ERASE["email"]) == "erased"
        assert is_suppressed(sc, "sms", "+44 7700 900731") == "erased"  # any spelling of the phone
        assert is_suppressed(sc, "email", "keep1@example.org") is None
        act = sc.rows("SELECT action, subject, CAST(detail AS VARCHAR) FROM audit_log")
        assert [a[0] for a in act] == ["privacy.erase"]
        assert ERASE["email"] not in act[0][2]
        nxt = s.con.execute("SELECT nextval('event_seq')").fetchone()[0]
        assert nxt > sc.one("SELECT max(seq) FROM events")[0]  # the sequence survived the rewrite


def test_erase_covers_tables_discovered_from_schema(tmp_path):
    with Store(tmp_path / "w.db") as s:
        s.con.execute("CREATE TABLE later_feature (workspace_id VARCHAR NOT NULL, owner_person VARCHAR, note VARCHAR)")
        sc = s.scope()
        seed(sc)
        pid = sc.one("SELECT person_id FROM identities WHERE value = 'u-zeb'")[0]
        s.con.execute("INSERT INTO later_feature VALUES (?, ?, 'vip'), (?, 'p_other', ?)",
                      [sc.workspace_id, pid, sc.workspace_id, f"call {ERASE['phone']}"])
        res = erase_person(sc, ERASE["phone"])
        assert res["removed"]["later_feature"] == 1
        assert res["redacted"]["later_feature.note"] == 1
        assert s.con.execute("SELECT note FROM later_feature").fetchall() == [("call [erased]",)]


def test_erase_unknown_person_is_not_found(scope):
    seed(scope)
    with pytest.raises(NotFound):
        erase_person(scope, "nobody@example.org")


def test_cli_erase_needs_confirmation_then_rewrites(tmp_path):
    db = tmp_path / "c.db"
    with Store(db) as s:
        seed(s.scope())
    runner = CliRunner()
    r = runner.invoke(app, [f"--db={db}", "privacy", "erase", ERASE["email"]], input="n\n")
    close_store()
    assert r.exit_code != 0
    r = runner.invoke(app, [f"--db={db}", "privacy", "erase", ERASE["email"], "--yes", "--json"])
    close_store()
    assert r.exit_code == 0, r.output
    assert '"removed"' in r.output and '"bytes_after"' in r.output
    assert _traces(tmp_path) == []
