"""A real salon demo store (reviews, surveys, tickets, birthdays) built once per module, and event helpers."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.ingest import to_row, write_rows
from wayfare.store import Store


@pytest.fixture(scope="module")
def salon_db(tmp_path_factory):
    from wayfare.cli._common import close_store

    close_store()  # a CLI store left open by an earlier in-process test would take the demo's writes
    db = tmp_path_factory.mktemp("salon") / "salon.db"
    r = CliRunner().invoke(app, [f"--db={db}", "demo", "--business", "salon", "--customers", "400", "--seed", "2",
                                  "--end", "2026-11-25"])  # pinned: the history must not move with the calendar
    assert r.exit_code == 0, r.output
    close_store()  # the CLI keeps its store open in-process; close it so the file is whole
    with Store(db) as st:
        st.checkpoint()
    return db


def track(scope, events: list[tuple]) -> None:
    """Store ``(user_id, event, "YYYY-MM-DD HH:MM", properties, revenue)`` through the real ingest path."""
    now = dt.datetime(2027, 1, 1)
    rows = []
    for i, (who, name, when, props, *rev) in enumerate(events):
        p = dict(props or {})
        if rev and rev[0] is not None:
            p["revenue"] = rev[0]
        m = {"type": "track", "event": name, "userId": who, "properties": p, "messageId": f"t-{who}-{name}-{when}-{i}",
             "timestamp": dt.datetime.fromisoformat(when).isoformat()}
        rows.append(to_row(m, now, "test"))
    write_rows(scope, rows)
