"""`wayfare assistant ingest|ask` and `wayfare inbox list|show|reply|close`, as a person runs them."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.cli._common import close_store


def run_in_process(db, *args: str) -> dict:
    try:
        res = CliRunner().invoke(app, [f"--db={db}", *args, "--json"])
    finally:
        close_store()
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def run(db, *args: str) -> dict:
    p = subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", *args, "--json"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_cli_ingest_ask_and_inbox_round_trip(tmp_path, bike_kb):
    db = tmp_path / "cli.db"
    run = run_in_process
    assert run(db, "assistant", "ingest", str(bike_kb))["passages"] == 5
    a = run(db, "assistant", "ask", "do you rent bikes?")
    assert a["source"] == "faq.csv#Do you rent bikes?" and a["handover"] is False and 0.4 <= a["confidence"] <= 1
    assert "35 euros" in a["answer"]
    h = run(db, "assistant", "ask", "I'd like to speak to someone")
    assert h["handover"] is True
    listed = run(db, "inbox", "list")["conversations"]
    assert [c["id"] for c in listed] == [h["conversation_id"]]
    cid = h["conversation_id"]
    assert run(db, "inbox", "reply", cid, "Hello, Sam here", "--as", "sam")["message"] == 3
    shown = run(db, "inbox", "show", cid)
    assert shown["messages"][-1]["role"] == "staff" and shown["conversation"]["status"] == "assigned"
    assert run(db, "inbox", "close", cid, "--rating", "5") == {"conversation": cid, "status": "closed", "csat": 5}


def test_cli_ask_uses_the_bundled_restaurant_kb_when_none_is_ingested(tmp_path):
    a = run(tmp_path / "fresh.db", "assistant", "ask", "do you cater for 40 people?", "--no-record")
    assert a["source"].startswith("catering.md#") and a["handover"] is False and "40" in a["answer"]


def test_cli_ingest_of_a_missing_folder_fails_with_a_message(tmp_path):
    p = subprocess.run([sys.executable, "-m", "wayfare", f"--db={tmp_path / 'x.db'}", "assistant", "ingest",
                        str(tmp_path / "nope")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "no such file or folder" in " ".join(p.stderr.split())
