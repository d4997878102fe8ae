"""A small declarative set of people for the privacy tests."""

from __future__ import annotations

import datetime as dt

from wayfare.ingest import to_row, write_rows
from wayfare.store import Scope

ERASE = {"email": "zeb.quill@example.org", "phone": "+447700900731", "name": "Zebedee Quillfeather"}


def seed(scope: Scope, keep: int = 5, at: dt.datetime | None = None) -> None:
    now = at or dt.datetime(2026, 11, 1, 12, 0)
    msgs = [{"type": "identify", "userId": "u-zeb", "traits": dict(ERASE), "messageId": "z0",
             "timestamp": now.isoformat() + "Z"}]
    msgs += [{"type": "track", "userId": "u-zeb", "event": "Order Completed", "messageId": f"z{i}",
              "timestamp": (now + dt.timedelta(minutes=i)).isoformat() + "Z",
              "properties": {"revenue": 10 + i, "note": f"for {ERASE['name']}", "contact": ERASE["email"]}}
             for i in range(1, 6)]
    msgs += [{"type": "identify", "userId": f"keep-{i}", "messageId": f"k{i}", "timestamp": now.isoformat() + "Z",
              "traits": {"email": f"keep{i}@example.org", "name": f"Keeper Number{i}"}} for i in range(keep)]
    # someone else's event that mentions the erased person: it goes too
    msgs += [{"type": "track", "userId": "keep-0", "event": "Referral Sent", "messageId": "ref1",
              "timestamp": now.isoformat() + "Z", "properties": {"friend": ERASE["email"]}}]
    rows = [to_row(m, now, source="test") for m in msgs]
    write_rows(scope, rows)
