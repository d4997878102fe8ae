"""What a workspace of the store holds, for `wayfare status` and `GET /v1/status`."""

from __future__ import annotations

from typing import Any

from ..store import Scope


def store_status(scope: Scope) -> dict[str, Any]:
    total, last, first = scope.one("SELECT count(*), max(ts), min(ts) FROM events") or (0, None, None)
    people = scope.one("SELECT count(*) FROM profiles")[0]
    idents = dict(scope.rows("SELECT kind, count(*) FROM identities GROUP BY 1 ORDER BY 2 DESC"))
    merges = scope.one("SELECT count(*) FROM merges")[0]

    def grouped(col: str) -> dict[str, int]:
        return {(k if k is not None else "unknown"): v for k, v in scope.rows(
            f"SELECT {col}, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC, 1")}

    top_events = {k: v for k, v in scope.rows(
        "SELECT event, count(*) FROM events WHERE event IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20")}
    revenue = scope.one("SELECT coalesce(sum(revenue), 0) FROM events")[0]
    return {
        "workspace": scope.name,
        "workspaces": [w["name"] for w in scope.store.workspaces()],
        "events": total,
        "people": people,
        "identities": sum(idents.values()),
        "merges": merges,
        "first_event_at": first.isoformat() if first else None,
        "last_event_at": last.isoformat() if last else None,
        "revenue": round(float(revenue), 2),
        "events_by_type": grouped("type"),
        "events_by_channel": grouped("channel"),
        "events_by_source": grouped("source"),
        "identities_by_kind": idents,
        "top_events": top_events,
        "schema_version": scope.store.schema_version(),
    }
