"""Declarative journeys: ``journeys_for(scope, {"alice": [("Menu Viewed", "2026-01-01 10:00", {...}), ...]})``."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from wayfare.ingest import to_row, write_rows


def journeys_for(scope, people: dict[str, list[tuple]]) -> None:
    rows = []
    now = dt.datetime(2026, 11, 1)
    for who, events in people.items():
        for i, e in enumerate(events):
            name, when = e[0], e[1]
            props = e[2] if len(e) > 2 else {}
            channel = e[3] if len(e) > 3 else None
            ts = dt.datetime.fromisoformat(when)
            if name == "identify":
                m = {"type": "identify", "userId": who, "traits": props, "messageId": f"{who}-{i}-{name}-{when}", "timestamp": ts.isoformat()}
            else:
                m = {"type": "track", "event": name, "userId": who, "properties": props, "messageId": f"{who}-{i}-{name}-{when}",
                     "timestamp": ts.isoformat()}
                if channel:
                    m["context"] = {"channel": channel}
            rows.append(to_row(m, now, "test", default_channel=channel))
    write_rows(scope, rows)


def run(*args):
    """``wayfare ARGS`` in a subprocess, exactly as users run it."""
    return subprocess.run([sys.executable, "-m", "wayfare", *map(str, args)], capture_output=True, text=True, timeout=300)


def cli(*args):
    """``wayfare ARGS`` through the same ``main()`` in this process (no interpreter start-up per call)."""
    import contextlib
    import io

    from wayfare.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv, code = sys.argv, 0
    sys.argv = ["wayfare", *map(str, args)]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv = argv
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory):
    """A restaurant demo, made once for the journey tests that read it (and never written to by them)."""
    db = tmp_path_factory.mktemp("journey") / "restaurant.db"
    p = cli(f"--db={db}", "demo", "--business", "restaurant", "--customers", 2000, "--seed", 3, "--json")
    assert p.returncode == 0, p.stderr
    return db
