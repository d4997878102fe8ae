"""Retention: of the people who first bought in a month, the share who bought again 1, 2, ... months later."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...errors import ValidationError
from ...store import Scope
from .base import Ctx, page
from .common import ORDER_SQL, anchor

ACTIVITIES = {"orders": "placed an order", "any": "did anything at all"}
MONTHS = 12


def build_retention_sql(activity: str) -> str:
    cond = ORDER_SQL if activity == "orders" else "true"
    return f"""WITH o AS (SELECT person_id, date_trunc('month', ts) m FROM events
                          WHERE {cond} AND person_id IS NOT NULL AND ts <= $n GROUP BY 1, 2),
                 f AS (SELECT person_id, min(m) c FROM o GROUP BY 1)
            SELECT f.c, datediff('month', f.c, o.m) k, count(*) FROM o JOIN f USING (person_id)
            WHERE f.c >= $s GROUP BY 1, 2 ORDER BY 1, 2"""


def run_retention(scope: Scope, activity: str = "orders") -> dict[str, Any]:
    now = anchor(scope)
    start = (now.replace(day=1) - dt.timedelta(days=31 * (MONTHS - 1))).replace(day=1, hour=0, minute=0, second=0,
                                                                                 microsecond=0)
    rows = scope.rows(build_retention_sql(activity), {"s": start, "n": now})
    cohorts: dict[dt.datetime, dict[int, int]] = {}
    for c, k, n in rows:
        cohorts.setdefault(c, {})[k] = n
    labels = [c.strftime("%b %Y") for c in cohorts]
    sizes = [v.get(0, 0) for v in cohorts.values()]
    width = max((max(v) for v in cohorts.values()), default=0)
    matrix = [[(v.get(k, 0) / v[0] if v.get(0) else None) if k <= _age(c, now) else None for k in range(1, width + 1)]
              for c, v in cohorts.items()]
    avg = []
    for k in range(width):
        col = [m[k] for m in matrix if m[k] is not None]
        avg.append(sum(col) / len(col) if col else None)
    return {"activity": activity, "cohorts": labels, "sizes": sizes, "months": list(range(1, width + 1)),
            "matrix": matrix, "average": avg}


def _age(c: dt.datetime, now: dt.datetime) -> int:
    return (now.year - c.year) * 12 + now.month - c.month


@page("/retention", "retention.html", "Retention", nav="Retention")
def retention(ctx: Ctx) -> dict:
    activity = ctx.arg("activity", "orders")
    if activity not in ACTIVITIES:
        raise ValidationError(f"activity must be one of {', '.join(ACTIVITIES)}", where="activity")
    data = ctx.cached(f"retention:{activity}", lambda: run_retention(ctx.scope, activity))
    return {**data, "activities": ACTIVITIES}
