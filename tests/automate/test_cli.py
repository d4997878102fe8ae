"""The flows commands as users run them: validate errors, dry run, settings, approvals and stats as JSON."""

import json
import subprocess
import sys

from .conftest import cli, events, ok, people


def test_validate_names_the_file_line_and_field_and_exits_non_zero(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text("name: broken\ntrigger:\n  event: Order Completed\nsteps:\n  - type: wait\n    duration: soon\n")
    p = subprocess.run([sys.executable, "-m", "wayfare", f"--db={tmp_path / 'x.db'}", "flows", "validate", str(f)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert f"{f}:6" in out and "steps.0.wait.duration" in out and "30m, 2h, 3d or 1w" in out


def test_dry_run_settings_and_json_commands(tmp_path, store):
    db = store.path
    sc = store.scope()
    people(sc, {"ann": {"email": "ann@example.org", "first_name": "Ann", "email_marketing": "subscribed",
                        "timezone": "Europe/London"}})
    events(sc, [("ann", "Signed Up", "2026-11-02T10:00:00")])
    pid = sc.one("SELECT person_id FROM identities WHERE value = 'ann'")[0]
    store.close()
    plan = ok(f"--db={db}", "flows", "test", "welcome-series", "--person", pid, "--at", "2026-12-01T12:00:00")
    mails = [(p["at"], p["subject"]) for p in plan["plan"] if p["type"] == "email"]
    assert mails == [("2026-12-01T12:00:00", "Welcome, Ann!"), ("2026-12-04T10:00:00", "What our regulars come back for"),
                     ("2026-12-10T10:00:00", "A little something for your first visit")]
    assert plan["messages"] == 3
    human = cli(f"--db={db}", "flows", "test", "welcome-series", "--person", pid, "--at", "2026-12-01T12:00:00")
    assert human.returncode == 0 and "3 message(s) would go out" in human.stdout
    s = ok(f"--db={db}", "flows", "settings", "--cap", "3", "--quiet", "22:00-07:30", "--tz", "Europe/Paris")
    assert (s["cap"], s["quiet_start"], s["quiet_end"], s["default_tz"]) == (3, "22:00", "07:30", "Europe/Paris")
    bad = cli(f"--db={db}", "flows", "settings", "--quiet", "late")
    assert bad.returncode != 0 and "--quiet" in bad.stdout + bad.stderr
    assert ok(f"--db={db}", "flows", "settings", "--pause")["paused"] is True
    ok(f"--db={db}", "flows", "enable", "win-back")
    assert ok(f"--db={db}", "flows", "approvals") == {"approvals": []}
    st = ok(f"--db={db}", "flows", "stats", "win-back")
    assert st["entered"] == 0 and st["trigger"] == "score"
    nf = cli(f"--db={db}", "flows", "stats", "nope")
    assert nf.returncode != 0 and "no flow 'nope'" in nf.stdout + nf.stderr
    for cmd in ("validate", "list", "enable", "disable", "stats", "test", "run-due", "approvals", "decide", "tasks",
                "settings", "trace"):
        h = cli("flows", cmd, "--help")
        assert h.returncode == 0 and "Example: wayfare flows" in h.stdout.replace("\n", " "), cmd
    assert json.loads(cli(f"--db={db}", "flows", "list", "--json").stdout)["templates"]
