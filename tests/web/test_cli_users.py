"""`wayfare users create/list` as scripts run them: the password only on stdin, JSON out, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

from wayfare.store import Store
from wayfare.web import auth


def run(*args, input=None):
    return subprocess.run([sys.executable, "-m", "wayfare", *map(str, args)], capture_output=True, text=True,
                          input=input, timeout=120)


def test_users_create_reads_the_password_from_stdin_and_list_shows_roles(tmp_path):
    db = tmp_path / "w.db"
    r = run(f"--db={db}", "users", "create", "--email", "Owner@Example.org", "--password-stdin", "--role", "owner",
            "--json", input="correct horse battery staple\n")
    assert r.returncode == 0, r.stderr
    made = json.loads(r.stdout)
    assert made["email"] == "owner@example.org" and made["role"] == "owner" and made["created"] is True
    assert run(f"--db={db}", "workspace", "create", "salon").returncode == 0
    r = run(f"--db={db}", "users", "create", "--email", "owner@example.org", "--password-stdin", "--role", "viewer",
            "--workspace", "salon", input="ignored for an existing account\n")
    assert r.returncode == 0 and "updated" in r.stdout
    listed = json.loads(run(f"--db={db}", "users", "list", "--json").stdout)["users"]
    assert [(u["workspace"], u["role"]) for u in listed] == [("default", "owner"), ("salon", "viewer")]
    with Store(db) as s:
        assert auth.authenticate(s, "owner@example.org", "correct horse battery staple") == made["user_id"]
        assert "correct horse" not in s.con.execute("SELECT password_hash FROM web_users").fetchone()[0]


def test_users_create_errors_exit_2_and_say_what_to_do(tmp_path):
    db = tmp_path / "w.db"
    r = run(f"--db={db}", "users", "create", "--email", "a@example.org", "--role", "owner")
    assert r.returncode == 2 and "--password-stdin" in r.stderr
    r = run(f"--db={db}", "users", "create", "--email", "a@example.org", "--password-stdin", "--role", "boss",
            input="long enough password\n")
    assert r.returncode == 2 and "role must be one of owner, staff, viewer" in r.stderr
    r = run(f"--db={db}", "users", "create", "--email", "a@example.org", "--password-stdin", input="short\n")
    assert r.returncode == 2 and "at least 10 characters" in r.stderr
