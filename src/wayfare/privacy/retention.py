"""Retention periods per data kind, and the clean-up that enforces them (run hourly by `wayfare serve`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..errors import ValidationError
from ..store import Scope, utcnow
from .suppression import audit, transaction

__all__ = ["KINDS", "set_retention", "get_retention", "cleanup"]

# kind -> (table, timestamp column, extra condition)
KINDS: dict[str, tuple[str, str, str | None]] = {
    "events": ("events", "ts", None),
    "page_views": ("events", "ts", "type IN ('page', 'screen')"),
    "imports": ("imports", "imported_at", None),
    "audit_log": ("audit_log", "logged_at", None),
    "assistant_conversations": ("assistant_conversations", "updated_at", None),
    "assistant_messages": ("assistant_messages", "created_at", None),
    "lead_scores": ("growth_lead_scores", "scored_at", None),
    "segment_history": ("analytics_segment_history", "changed_at", None),
}


def _check(kind: str) -> None:
    if kind not in KINDS:
        raise ValidationError(f"unknown data kind; use one of {', '.join(sorted(KINDS))}", where=f"kind {kind!r}")


def set_retention(scope: Scope, kind: str, days: int) -> None:
    """Keep ``kind`` for ``days`` days (0 or less: keep forever)."""
    _check(kind)
    with transaction(scope) as con:
        con.execute("DELETE FROM main.privacy_retention WHERE workspace_id = $ws AND kind = $k",
                    {"ws": scope.workspace_id, "k": kind})
        if days > 0:
            con.execute("INSERT INTO main.privacy_retention VALUES ($ws, $k, $d, $t)",
                        {"ws": scope.workspace_id, "k": kind, "d": int(days), "t": utcnow()})


def get_retention(scope: Scope) -> dict[str, int | None]:
    got = dict(scope.rows("SELECT kind, days FROM privacy_retention"))
    return {k: got.get(k) for k in sorted(KINDS)}


def _exists(scope: Scope, table: str, col: str) -> bool:
    return bool(scope.store.cursor().execute(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = 'main' AND table_catalog = current_database() "
        "AND table_name = ? AND column_name = ?", [table, col]).fetchone())


def cleanup(scope: Scope, now: dt.datetime | None = None, actor: str = "retention") -> dict[str, Any]:
    """Delete every row older than its kind's retention period; returns the counts (audited when > 0)."""
    now = now or utcnow()
    deleted: dict[str, int] = {}
    for kind, days in get_retention(scope).items():
        if not days:
            continue
        table, col, extra = KINDS[kind]
        if not _exists(scope, table, col):
            continue
        cond = f" AND ({extra})" if extra else ""
        n = scope.write(f"DELETE FROM main.{table} WHERE workspace_id = $__ws AND {col} < $cut{cond}",
                        {"cut": now - dt.timedelta(days=int(days))}, con=scope.store.cursor()).fetchone()
        if n and n[0]:
            deleted[kind] = int(n[0])
    if deleted:
        audit(scope, actor, "privacy.retention", None, {"deleted": deleted})
    return {"workspace": scope.name, "at": now.isoformat(), "deleted": deleted}
