"""The CLI as users run it: every command has help with an example; --json prints one document."""

import json
import subprocess
import sys

import pytest
from typer.main import get_command

from wayfare.cli import app


def run(*args, input=None):
    return subprocess.run([sys.executable, "-m", "wayfare", *map(str, args)], capture_output=True, text=True,
                          input=input, timeout=300)


def _commands(group, prefix=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,), cmd


def test_every_command_has_help_with_an_example():
    missing = [" ".join(path) for path, cmd in _commands(get_command(app))
               if "Example: wayfare" not in (cmd.help or "")]
    assert missing == []


def test_demo_status_profile_round_trip(tmp_path):
    db = tmp_path / "w.db"
    p = run(f"--db={db}", "demo", "--business", "salon", "--customers", 300, "--seed", 9, "--json")
    assert p.returncode == 0, p.stderr
    demo = json.loads(p.stdout)
    st = json.loads(run(f"--db={db}", "status", "--json").stdout)
    assert st["people"] == demo["people"] == 300
    assert st["events"] == demo["events"]
    assert sum(st["events_by_type"].values()) == st["events"]
    email = json.loads(run(f"--db={db}", "status", "--json").stdout)  # global --json also works
    assert email["workspace"] == "default"
    from wayfare.store import Store

    with Store(db) as s:
        addr = s.scope().one("SELECT value FROM identities WHERE kind = 'email' LIMIT 1")[0]
    prof = json.loads(run(f"--db={db}", "profile", addr, "--json").stdout)
    assert {"kind": "email", "value": addr} in prof["identities"]
    assert prof["timeline"] and prof["timeline"][0]["ts"] >= prof["timeline"][-1]["ts"]


def test_workspaces_and_keys_commands(tmp_path):
    db = tmp_path / "w.db"
    assert json.loads(run(f"--db={db}", "workspace", "create", "salon", "--json").stdout)["workspace"] == "salon"
    k = json.loads(run(f"--db={db}", "keys", "create", "--scope", "admin", "--workspace", "salon", "--json").stdout)
    assert k["key"].startswith("wf_admin_")
    listed = json.loads(run(f"--db={db}", "keys", "list", "--workspace", "salon", "--json").stdout)["keys"]
    assert [x["key_id"] for x in listed] == [k["key_id"]] and k["key"] not in json.dumps(listed)
    assert json.loads(run(f"--db={db}", "keys", "list", "--json").stdout)["keys"] == []  # not in default


@pytest.mark.parametrize(("args", "fragment"), [
    (("status", "--workspace", "nope"), "no workspace 'nope'"),
    (("import", "/no/such.csv"), "no such file"),
    (("profile", "ghost@example.org"), "no person matches"),
])
def test_errors_exit_2_with_a_clear_message(tmp_path, args, fragment):
    p = run(f"--db={tmp_path / 'e.db'}", *args)
    assert p.returncode == 2
    assert fragment in " ".join(p.stderr.split())


def test_import_error_lists_file_line_column(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("ts,uid\n2026-01-01,u1\nnever,u2\n")
    p = run(f"--db={tmp_path / 'e.db'}", "import", f, "--map", "ts=timestamp", "--map", "uid=user_id", "--event", "Visit")
    assert p.returncode == 2
    assert "bad.csv:3 column 'ts'" in " ".join(p.stderr.split())


def test_json_output_is_one_document_even_when_duckdb_works_long(tmp_path):
    """DuckDB draws a progress bar on stdout for queries over ~2 s; the store turns it off on every connection."""
    from wayfare.store import Store

    with Store(tmp_path / "q.db") as s:
        for cur in (s.con, s.cursor()):
            assert cur.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0] is False
