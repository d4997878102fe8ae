"""Predictions: who is about to drift away (and is worth winning back) and who is most valuable, each
with the reasons and the next best action. Uses the predict engine when installed; otherwise a rule
over each customer's own rhythm (days since the last order against their usual gap)."""

from __future__ import annotations

from typing import Any

from ...store import Scope
from .base import Ctx, page
from .common import ORDER_SQL, anchor, safe_engine_call

LIMIT = 25


def run_predictions(scope: Scope) -> dict[str, Any]:
    got = safe_engine_call("predict", "dashboard_lists", scope)
    if isinstance(got, dict) and "at_risk" in got:
        return got
    now = anchor(scope)
    base = f"""WITH b AS (SELECT person_id, count(*) n, sum(revenue) spend, max(ts) last, min(ts) first
                          FROM events WHERE {ORDER_SQL} AND person_id IS NOT NULL AND ts <= $n GROUP BY 1),
                  r AS (SELECT *, datediff('day', last, $n) since,
                               CASE WHEN n > 1 THEN datediff('day', first, last) / (n - 1) ELSE 45 END gap FROM b),
                  s AS (SELECT *, since / greatest(gap, 7) ratio FROM r)
               SELECT s.person_id, n, spend, since, gap, ratio, p.traits->>'name', p.traits->>'email'
               FROM s LEFT JOIN profiles p USING (person_id)"""
    risky = scope.rows(base + " WHERE n >= 2 AND ratio BETWEEN 1.5 AND 6 ORDER BY spend DESC LIMIT $l",
                       {"n": now, "l": LIMIT})
    counts = scope.one(f"SELECT count(*) FILTER (WHERE n >= 2 AND ratio BETWEEN 1.5 AND 6), count(*), "
                       f"sum(spend) FILTER (WHERE n >= 2 AND ratio BETWEEN 1.5 AND 6) FROM ({base})", {"n": now})
    valuable = scope.rows(base + " WHERE ratio < 1.5 ORDER BY spend DESC LIMIT $l", {"n": now, "l": LIMIT})

    def row(r: tuple, kind: str) -> dict:
        pid, n, spend, days, gap, ratio, name, email = r
        risk = max(0.02, min(0.98, 1 - 1 / (1 + (ratio / 2) ** 3)))
        reasons = [f"{n} orders, £{spend:,.0f} spent", f"usually every {gap:.0f} days",
                   "last order today" if days == 0 else f"last order {days} day{'s' if days != 1 else ''} ago"]
        if kind == "risk":
            nba = "Personal win-back note with an offer" if spend > 200 else "Win-back email: what is new"
        else:
            nba = "Thank-you and a referral invitation" if n >= 5 else "Invite to the loyalty programme"
        return {"person_id": pid, "name": name or email or pid, "orders": n, "spend": round(spend, 2), "days": days,
                "risk": round(risk, 2), "reasons": reasons, "next_best_action": nba}

    return {"as_of": now, "at_risk": [row(r, "risk") for r in risky], "valuable": [row(r, "value") for r in valuable],
            "at_risk_count": counts[0], "buyers": counts[1], "at_risk_spend": round(counts[2] or 0, 2),
            "method": "rhythm rule (install the predict engine for CLV and churn models)"}


@page("/predictions", "predictions.html", "Predictions", nav="Predictions")
def predictions(ctx: Ctx) -> dict:
    return ctx.cached("predictions", lambda: run_predictions(ctx.scope))
