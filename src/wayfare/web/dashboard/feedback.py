"""Feedback: NPS and CSAT over time, the score spread, sentiment by journey stage and the themes people
mention, with their own words."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...store import Scope
from .base import Ctx, page
from .common import FEEDBACK_SCORE_SQL, anchor, safe_engine_call

THEMES: dict[str, tuple[str, ...]] = {
    "Waiting and speed": ("wait", "slow", "quick", "fast", "took", "ages", "minutes", "seconds"),
    "Food and drink": ("food", "dish", "taste", "delicious", "cold", "fresh", "portion", "menu", "coffee", "pizza"),
    "Staff and service": ("staff", "friendly", "rude", "service", "waiter", "welcom", "helpful"),
    "Booking and ordering": ("book", "reserv", "online", "app", "website", "order"),
    "Price and value": ("price", "expensive", "value", "cheap", "cost", "worth"),
    "Place and atmosphere": ("clean", "dirty", "noise", "loud", "atmosphere", "cosy", "table"),
    "Delivery": ("delivery", "deliver", "late", "arrived", "driver"),
}
_TEXT = "coalesce(properties->>'comment', properties->>'text', properties->>'review', properties->>'subject')"


def _nps(rows: list[int]) -> float | None:
    if not rows:
        return None
    return 100 * (sum(r >= 9 for r in rows) - sum(r <= 6 for r in rows)) / len(rows)


def run_feedback(scope: Scope) -> dict[str, Any]:
    now = anchor(scope)
    since = (now - dt.timedelta(days=365)).replace(day=1)
    monthly = scope.rows(
        """SELECT date_trunc('month', ts) m,
                  100 * (avg((TRY_CAST(properties->>'nps_score' AS INT) >= 9)::INT) - avg((TRY_CAST(properties->>'nps_score' AS INT) <= 6)::INT)),
                  avg(TRY_CAST(properties->>'csat_score' AS DOUBLE)), count(properties->>'nps_score'),
                  avg(TRY_CAST(properties->>'rating' AS DOUBLE))
           FROM events WHERE ts >= $s AND ts <= $n AND (properties->>'nps_score' IS NOT NULL
                 OR properties->>'csat_score' IS NOT NULL OR properties->>'rating' IS NOT NULL)
           GROUP BY 1 ORDER BY 1""", {"s": since, "n": now})
    dist = dict(scope.rows(
        "SELECT TRY_CAST(properties->>'nps_score' AS INT) s, count(*) FROM events WHERE s IS NOT NULL AND ts >= $s GROUP BY 1",
        {"s": now - dt.timedelta(days=90)}))
    scores = [k for k, v in dist.items() for _ in range(v)]
    texts = scope.rows(
        f"""SELECT {_TEXT} t, {FEEDBACK_SCORE_SQL} s, event, ts, person_id FROM events
            WHERE t IS NOT NULL AND ts >= $s ORDER BY ts DESC LIMIT 5000""", {"s": now - dt.timedelta(days=180)})
    themes = []
    for name, words in THEMES.items():
        hits = [t for t in texts if any(w in t[0].lower() for w in words)]
        if not hits:
            continue
        scored = [h for h in hits if h[1] is not None]
        avg = sum(h[1] for h in scored) / len(scored) if scored else None
        seen: set[str] = set()
        uniq = [h for h in scored if not (h[0] in seen or seen.add(h[0]))]
        worst = sorted(uniq, key=lambda h: h[1])[:2]
        best = [h for h in sorted(uniq, key=lambda h: -h[1]) if h not in worst][:1]
        themes.append({"theme": name, "mentions": len(hits), "score": None if avg is None else round(10 * avg, 1),
                       "quotes": [{"text": q[0], "score": round(10 * q[1], 1), "person_id": q[4]} for q in worst + best]})
    themes.sort(key=lambda t: (t["score"] if t["score"] is not None else 10, -t["mentions"]))
    by_stage = safe_engine_call("feedback", "sentiment_by_stage", scope)
    return {"as_of": now, "months": [m[0].strftime("%b %y") for m in monthly],
            "nps": [None if m[3] == 0 else round(m[1]) for m in monthly],
            "csat": [None if m[2] is None else round(m[2], 2) for m in monthly],
            "rating": [None if m[4] is None else round(m[4], 2) for m in monthly],
            "nps_90d": None if not scores else round(_nps(scores)), "answers_90d": len(scores),
            "distribution": [[str(k), dist.get(k, 0)] for k in range(11)], "themes": themes,
            "sentiment_by_stage": by_stage if isinstance(by_stage, list) else None,
            "empty": not monthly and not texts}


@page("/feedback", "feedback.html", "Feedback", nav="Feedback")
def feedback(ctx: Ctx) -> dict:
    data = ctx.cached("feedback", lambda: run_feedback(ctx.scope))
    if data.get("sentiment_by_stage") is None:  # the journey map's mood per stage (0-10)
        from .journey import journey_map

        jm = ctx.cached("journey:", lambda: journey_map(ctx.scope, ""))
        data = {**data, "sentiment_by_stage": [{"stage": s["stage"], "score": s["mood"]} for s in jm["stages"]
                                               if s["mood"] is not None]}
    return data
