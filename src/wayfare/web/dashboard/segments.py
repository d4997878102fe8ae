"""Segments and RFM: every buyer scored 1-5 on recency, frequency and money, grouped into segments an
owner can act on (champions to thank, people at risk to win back)."""

from __future__ import annotations

from typing import Any

from ...errors import ValidationError
from ...store import Scope
from .base import Ctx, action, page
from .common import ORDER_SQL, anchor, engine, safe_engine_call

# (name, rule over r/f scores, what to do), first match wins
SEGMENTS: list[tuple[str, str, str]] = [
    ("Champions", "r >= 4 AND f >= 4", "Thank them: an invitation, early access, a referral reward."),
    ("Loyal", "r >= 3 AND f >= 3", "Offer the loyalty programme and ask for a review."),
    ("New and promising", "r >= 4", "Welcome series: a reason to come back within a month."),
    ("Need attention", "r = 3", "A timely reminder with something new on the menu."),
    ("At risk", "f >= 3", "Win-back: they were regulars; a personal note and an offer."),
    ("Hibernating", "true", "A low-cost reactivation email, then let them be."),
]


def rfm_sql() -> str:
    case = "CASE " + " ".join(f"WHEN {rule} THEN '{name}'" for name, rule, _ in SEGMENTS) + " END"
    return f"""WITH b AS (SELECT person_id, datediff('day', max(ts), $n) recency, count(*) frequency, sum(revenue) monetary
                         FROM events WHERE {ORDER_SQL} AND person_id IS NOT NULL AND ts <= $n GROUP BY 1),
                 s AS (SELECT *, ntile(5) OVER (ORDER BY recency DESC) r, ntile(5) OVER (ORDER BY frequency) f,
                              ntile(5) OVER (ORDER BY monetary) m FROM b)
            SELECT *, {case} segment FROM s"""


def run_rfm(scope: Scope) -> dict[str, Any]:
    now = anchor(scope)
    rows = scope.rows(
        f"""SELECT segment, count(*), sum(monetary), avg(recency), avg(frequency), avg(monetary)
            FROM ({rfm_sql()}) GROUP BY 1""", {"n": now})
    by = {r[0]: r for r in rows}
    total_rev = sum(r[2] for r in rows) or 1
    segs = []
    for name, _, todo in SEGMENTS:
        r = by.get(name)
        if not r:
            continue
        segs.append({"segment": name, "people": r[1], "revenue": round(r[2], 2), "revenue_share": r[2] / total_rev,
                     "avg_days_since": round(r[3]), "avg_orders": round(r[4], 1), "avg_spend": round(r[5], 2),
                     "action": todo})
    grid = scope.rows(f"SELECT r, f, count(*) FROM ({rfm_sql()}) GROUP BY 1, 2", {"n": now})
    g = {(r, f): n for r, f, n in grid}
    return {"as_of": now, "segments": segs, "buyers": sum(s["people"] for s in segs),
            "rf_grid": [[g.get((r, f), 0) for f in range(1, 6)] for r in range(5, 0, -1)]}


@page("/segments", "segments.html", "Segments", nav="Segments")
def segments(ctx: Ctx) -> dict:
    data = ctx.cached("rfm", lambda: run_rfm(ctx.scope))
    saved = safe_engine_call("analytics", "list_segments", ctx.scope)
    return {**data, "saved": saved if isinstance(saved, list) else [], "can_save": engine("analytics") is not None,
            "rule_example": 'orders_90d >= 2 and last_seen < 30d and traits.city = "Leeds"'}


@action("/segments/save", need="staff")
def save(ctx: Ctx, form: Any) -> str:
    eng = engine("analytics")
    if eng is None or not hasattr(eng, "save_segment"):
        raise ValidationError("saving your own segments needs the analytics engine, which is not installed")
    name, rule = str(form.get("name") or "").strip(), str(form.get("rule") or "").strip()
    if not rule:
        raise ValidationError("write a rule, for example: orders_90d >= 2", where="rule")
    eng.save_segment(ctx.scope, name, rule, str(form.get("description") or "").strip()[:200] or None)
    res = eng.refresh_segment(ctx.scope, name)
    n = res.get("members", res.get("size")) if isinstance(res, dict) else None
    ctx.say(f"Segment “{name}” saved" + (f" with {n:,} people." if isinstance(n, int) else "."))
    return "/segments#saved"
