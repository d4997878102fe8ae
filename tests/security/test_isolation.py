"""Tenant isolation: workspace B's keys and `--workspace b` try every endpoint and CLI command that exists, aimed
at workspace A's person, and never see a byte of A's data nor change it."""

from __future__ import annotations

import datetime as dt
import re

import click
import pytest
import typer.main
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from wayfare.cli import app as cli_app
from wayfare.cli._common import close_store
from wayfare.ingest import to_row, write_rows
from wayfare.store import Store, create_key
from wayfare.web.app import create_app

A = {"email": "secret.alice.a@example.org", "phone": "+447700900111", "name": "Alicia Secretperson"}
MARKERS = [A["email"], A["name"], "SecretEventA", "SecretNoteA"]
SKIP_CLI = {"serve", "demo", "import", "assistant ingest", "users create"}  # servers, generators, file readers


def _seed(path):
    s = Store(path)
    s.create_workspace("b")
    now = dt.datetime(2026, 11, 20, 12)
    a, b = s.scope("default"), s.scope("b")
    ts = now.isoformat() + "Z"
    write_rows(a, [to_row(m, now, "test") for m in [
        {"type": "identify", "userId": "alice", "traits": A, "messageId": "a0", "timestamp": ts},
        {"type": "track", "userId": "alice", "event": "SecretEventA", "messageId": "a1", "timestamp": ts,
         "properties": {"note": "SecretNoteA", "revenue": 99}},
        {"type": "track", "userId": "alice", "event": "Order Completed", "messageId": "a2", "timestamp": ts,
         "properties": {"revenue": 5}},
    ]])
    write_rows(b, [to_row(m, now, "test") for m in [
        {"type": "identify", "userId": "bob", "traits": {"email": "bob@example.org"}, "messageId": "b0", "timestamp": ts},
        {"type": "track", "userId": "bob", "event": "Order Completed", "messageId": "b1", "timestamp": ts,
         "properties": {"revenue": 7}},
    ]])
    keys = {"a_admin": create_key(s, "default", "admin"), "b_admin": create_key(s, "b", "admin"),
            "b_ingest": create_key(s, "b", "ingest")}
    pid = a.one("SELECT person_id FROM identities WHERE value = 'alice'")[0]
    return s, keys, pid


def _a_state(s: Store) -> tuple:
    a = s.scope("default")
    return (a.one("SELECT count(*), sum(revenue) FROM events"), a.one("SELECT count(*) FROM profiles"),
            a.rows("SELECT key_id FROM api_keys WHERE revoked_at IS NULL ORDER BY key_id"))


def _leak(text: str) -> list[str]:
    return [m for m in MARKERS if m.lower() in text.lower()]


def test_every_endpoint_with_b_keys_sees_nothing_of_a(tmp_path):
    s, keys, pid = _seed(tmp_path / "iso.db")
    before = _a_state(s)
    app = create_app(s)
    tried, leaks = 0, []
    body = {"person": A["email"], "email": A["email"], "person_id": pid, "userId": "alice", "user_id": "alice",
            "confirm": True, "steps": ["Order Completed"], "event": "Order Completed", "messageId": "x1",
            "type": "track", "query": A["email"], "question": "what did alice buy"}
    with TestClient(app, raise_server_exceptions=False) as c:  # a 5xx is not a leak (schemathesis hunts those)
        # control: A's own key does see A's person, so the markers would be found if they leaked
        r = c.post("/v1/privacy/export", json={"person": A["email"]},
                   headers={"Authorization": f"Bearer {keys['a_admin']['key']}"})
        assert r.status_code == 200 and _leak(r.text)
        for route in app.routes:
            if not isinstance(route, APIRoute) or route.path in ("/openapi.json",):
                continue
            path = re.sub(r"\{[^}]+\}", pid, route.path)
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                for key in ("b_admin", "b_ingest"):
                    h = {"Authorization": f"Bearer {keys[key]['key']}"}
                    r = c.request(method, path, headers=h, params={"person": A["email"], "q": A["email"]},
                                  json=body if method in ("POST", "PUT", "PATCH") else None, follow_redirects=False)
                    tried += 1
                    if _leak(r.text) and r.status_code < 400:
                        leaks.append(f"{method} {route.path} ({key}) -> {r.status_code}: {_leak(r.text)}")
    assert tried >= 40
    assert leaks == []
    assert _a_state(s) == before
    s.close()


def _commands():
    root = typer.main.get_command(cli_app)
    ctx = click.Context(root)

    def walk(cmd, path):
        if hasattr(cmd, "list_commands"):
            for n in cmd.list_commands(ctx):
                yield from walk(cmd.get_command(ctx, n), path + [n])
        else:
            yield path, cmd

    return [(p, c) for p, c in walk(root, []) if " ".join(p) not in SKIP_CLI
            and any(x.name == "workspace" for x in c.params)]


def test_every_cli_command_in_workspace_b_sees_nothing_of_a(tmp_path):
    db = tmp_path / "iso.db"
    s, keys, pid = _seed(db)
    before = _a_state(s)
    s.close()
    fill = {"who": A["email"], "person": A["email"], "key_id": keys["a_admin"]["key_id"], "conversation": pid,
            "steps": "Order Completed", "step": "Order Completed", "to": "0.5", "rule": "orders >= 1",
            "kind": "events", "days": "1", "name": "vip", "slot": "home", "content": "hello"}
    runner = CliRunner()
    control = runner.invoke(cli_app, [f"--db={db}", "privacy", "export", A["email"], "--json"])
    close_store()
    assert control.exit_code == 0 and _leak(control.output)  # in A's own workspace the markers are found
    tried, leaks = [], []
    for path, cmd in _commands():
        args = [fill.get(p.name, "x") for p in cmd.params if p.param_type_name == "argument" and p.required]
        argv = [f"--db={db}", *path, *args, "--workspace", "b"]
        if any(p.name == "json" for p in cmd.params):
            argv.append("--json")
        if any(p.name == "yes" for p in cmd.params):
            argv.append("--yes")
        r = runner.invoke(cli_app, argv)
        close_store()
        tried.append(" ".join(path))
        out = (r.output or "") + (str(r.exception) if r.exception and not isinstance(r.exception, SystemExit) else "")
        out = out.replace(A["email"] + "'", "")  # an error may quote what was asked for
        if _leak(out) and r.exit_code == 0:
            leaks.append(f"{' '.join(path)}: {_leak(out)}")
    assert len(tried) >= 20
    assert "privacy export" in tried and "privacy erase" in tried and "keys revoke" in tried
    assert leaks == []
    with Store(db) as s2:
        assert _a_state(s2) == before  # nothing of A changed: not erased, no key revoked


@pytest.mark.parametrize("who", [A["email"], A["phone"], "alice"])
def test_privacy_export_and_erase_cannot_cross(tmp_path, who):
    s, keys, pid = _seed(tmp_path / "x.db")
    from wayfare.errors import NotFound
    from wayfare.privacy import erase_person, export_person

    with pytest.raises(NotFound):
        export_person(s.scope("b"), who)
    with pytest.raises(NotFound):
        erase_person(s.scope("b"), who)
    assert export_person(s.scope("default"), who)["person_ids"] == [pid]
    s.close()
