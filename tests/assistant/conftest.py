"""Fixtures: a real store with two customers who each have orders, and a small unseen knowledge base."""

from __future__ import annotations

import datetime as dt

import pytest

from wayfare.ingest import to_row, write_rows
from wayfare.store import Store

NOW = dt.datetime(2026, 11, 20, 18, 0)

BIKE_KB = {
    "shop.md": """# City Cycles

## Opening times
The shop opens Monday to Saturday from 9am to 6pm. We are closed on Sundays and public holidays.

## Repairs and servicing
A basic service costs 45 euros and takes two working days. Puncture repairs are done while you wait.

## Returns
You can return an unused bicycle within 30 days with the receipt for a full refund.
""",
    "faq.csv": "question,answer\n"
               "Do you rent bikes?,Yes: electric bikes for 35 euros a day and city bikes for 15 euros a day.\n"
               "Can I hire a bicycle?,Yes: electric bikes for 35 euros a day and city bikes for 15 euros a day.\n"
               "Do you deliver bikes?,We deliver new bikes free of charge within 10 km of the shop.\n",
}


def people(scope, who: dict[str, dict]) -> None:
    """who: user_id -> {"traits": {...}, "orders": [(order_id, total, days_ago), ...]}"""
    rows = []
    for uid, spec in who.items():
        rows.append(to_row({"type": "identify", "userId": uid, "traits": spec.get("traits", {}),
                            "timestamp": (NOW - dt.timedelta(days=90)).isoformat() + "Z",
                            "messageId": f"id-{uid}"}, NOW, "test"))
        for oid, total, ago in spec.get("orders", []):
            rows.append(to_row({"type": "track", "userId": uid, "event": "Order Completed", "messageId": f"o-{oid}",
                                "properties": {"order_id": oid, "total": total, "fulfilment": "delivery"},
                                "timestamp": (NOW - dt.timedelta(days=ago)).isoformat() + "Z"}, NOW, "test"))
    write_rows(scope, rows)


def person_id(scope, uid: str) -> str:
    return scope.one("SELECT person_id FROM identities WHERE kind = 'user_id' AND value = $u", {"u": uid})[0]


@pytest.fixture
def bike_kb(tmp_path):
    d = tmp_path / "bike-kb"
    d.mkdir()
    for name, text in BIKE_KB.items():
        (d / name).write_text(text)
    return d


@pytest.fixture
def shop(tmp_path):
    s = Store(tmp_path / "assistant.db")
    sc = s.scope("default")
    people(sc, {
        "alice": {"traits": {"first_name": "Alice", "email": "alice@example.test"},
                  "orders": [("A-100", 42.5, 10), ("A-101", 18.0, 1)]},
        "bob": {"traits": {"name": "Bob Stone", "email": "bob@example.test"}, "orders": [("B-900", 99.0, 2)]},
    })
    yield s
    s.close()
