"""Export: everything held about a person, JSON and formula-safe CSV, audited; nobody else's rows."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.cli._common import close_store
from wayfare.privacy import export_person, record_consent, write_export
from wayfare.store import Store

from ._people import ERASE, seed


def test_export_holds_profile_identities_events_consents(scope):
    seed(scope)
    pid = scope.one("SELECT person_id FROM identities WHERE value = 'u-zeb'")[0]
    record_consent(scope, pid, "email", "marketing", "granted", source="web form", wording="Send me offers")
    doc = export_person(scope, ERASE["email"])
    assert doc["person_ids"] == [pid]
    assert doc["counts"]["events"] == 6 and doc["counts"]["profiles"] == 1 and doc["counts"]["consents"] == 1
    assert doc["tables"]["profiles"][0]["traits"]["name"] == ERASE["name"]
    assert doc["tables"]["consents"][0]["wording"] == "Send me offers"
    assert all(e["person_id"] == pid for e in doc["tables"]["events"])
    assert "keep1@example.org" not in json.dumps(doc)
    assert scope.rows("SELECT action, subject FROM audit_log") == [("privacy.export", pid)]


def test_export_files_are_formula_safe(scope, tmp_path):
    seed(scope)
    import datetime as dt

    from wayfare.ingest import to_row, write_rows
    now = dt.datetime(2026, 11, 2)
    write_rows(scope, [to_row({"type": "track", "userId": "u-zeb", "event": "=HYPERLINK(\"http://x\")",
                               "messageId": "evil", "timestamp": "2026-11-02T00:00:00Z",
                               "properties": {"v": "@SUM(1)"}}, now, source="test")])
    paths = write_export(export_person(scope, ERASE["email"]), tmp_path / "out")
    assert {p.rsplit("/", 1)[1] for p in paths} >= {"person.json", "events.csv", "profiles.csv", "identities.csv"}
    rows = list(csv.DictReader(open(tmp_path / "out" / "events.csv")))
    evil = next(r for r in rows if r["message_id"] == "evil")
    assert evil["event"].startswith("'=")
    assert all(not str(v).startswith(("=", "+", "@")) for r in rows for v in r.values())


def test_cli_export_json_one_document(tmp_path):
    db = tmp_path / "c.db"
    with Store(db) as s:
        seed(s.scope())
    r = CliRunner().invoke(app, [f"--db={db}", "privacy", "export", ERASE["phone"], "--json", "--out",
                                 str(tmp_path / "x")])
    close_store()
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["counts"]["events"] == 6 and len(doc["files"]) >= 4
