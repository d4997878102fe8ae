"""Overview: this month's figures against last month, the weekly trend and the three things that hurt
most, each with the action that helps."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...store import Scope
from .base import Ctx, page
from .common import ORDER_SQL, anchor, safe_engine_call, stage_values_sql


def _change(cur: float | None, prev: float | None) -> float | None:
    if cur is None or not prev:
        return None
    return (cur - prev) / abs(prev)


def kpis(scope: Scope, now: dt.datetime) -> list[dict[str, Any]]:
    r = scope.one(
        f"""SELECT
          sum(revenue) FILTER (WHERE ts > $a AND {ORDER_SQL}), sum(revenue) FILTER (WHERE ts <= $a AND {ORDER_SQL}),
          count(*) FILTER (WHERE ts > $a AND {ORDER_SQL}), count(*) FILTER (WHERE ts <= $a AND {ORDER_SQL}),
          count(DISTINCT person_id) FILTER (WHERE ts > $a AND {ORDER_SQL}),
          count(DISTINCT person_id) FILTER (WHERE ts <= $a AND {ORDER_SQL}),
          count(DISTINCT person_id) FILTER (WHERE ts > $a), count(DISTINCT person_id) FILTER (WHERE ts <= $a),
          avg((TRY_CAST(properties->>'nps_score' AS INT) >= 9)::INT) FILTER (WHERE ts > $b AND event = 'Survey Responded')
            - avg((TRY_CAST(properties->>'nps_score' AS INT) <= 6)::INT) FILTER (WHERE ts > $b AND event = 'Survey Responded'),
          count(properties->>'nps_score') FILTER (WHERE ts > $b AND event = 'Survey Responded')
        FROM events WHERE ts > $p AND ts <= $n""",
        {"a": now - dt.timedelta(days=30), "p": now - dt.timedelta(days=60), "n": now,
         "b": now - dt.timedelta(days=90)},
    )
    rev, rev0, orders, orders0, buyers, buyers0, active, active0, nps, nps_n = r
    aov = rev / orders if orders else None
    aov0 = rev0 / orders0 if orders0 else None
    return [
        {"key": "revenue", "label": "Revenue, last 30 days", "value": rev or 0, "kind": "money",
         "change": _change(rev, rev0), "href": "/segments"},
        {"key": "orders", "label": "Orders", "value": orders, "kind": "num", "change": _change(orders, orders0),
         "href": "/customers"},
        {"key": "buyers", "label": "Paying customers", "value": buyers, "kind": "num",
         "change": _change(buyers, buyers0), "href": "/customers"},
        {"key": "aov", "label": "Average order", "value": aov, "kind": "money", "change": _change(aov, aov0),
         "href": "/segments"},
        {"key": "active", "label": "People seen", "value": active, "kind": "num", "change": _change(active, active0),
         "href": "/journey"},
        {"key": "nps", "label": "NPS, last 90 days", "value": None if nps is None else round(100 * nps),
         "kind": "num", "change": None, "href": "/feedback", "note": f"{nps_n:,} answers" if nps_n else "no surveys yet"},
    ]


def weekly(scope: Scope, now: dt.datetime, weeks: int = 26) -> dict[str, list]:
    rows = scope.rows(
        f"""SELECT date_trunc('week', ts) w, coalesce(sum(revenue) FILTER (WHERE {ORDER_SQL}), 0),
                   count(*) FILTER (WHERE {ORDER_SQL}), count(DISTINCT person_id)
            FROM events WHERE ts > $s AND ts <= $n GROUP BY 1 ORDER BY 1""",
        {"s": now - dt.timedelta(weeks=weeks), "n": now})
    rows = rows[1:] if len(rows) > 2 else rows  # the first week is cut by the window
    if len(rows) > 2 and rows[-1][0] > now - dt.timedelta(days=7):
        rows = rows[:-1]  # and the current week is not over
    return {"weeks": [r[0].strftime("%-d %b") for r in rows], "revenue": [round(r[1], 2) for r in rows],
            "orders": [r[2] for r in rows], "people": [r[3] for r in rows]}


def pain_points(scope: Scope, now: dt.datetime) -> list[dict[str, Any]]:
    """The top three problems, each with how many people it touches and the recommended action."""
    found = safe_engine_call("journey", "pain_points", scope)
    if isinstance(found, list) and found and isinstance(found[0], dict):
        return found[:3]
    out: list[dict[str, Any]] = []
    q90 = now - dt.timedelta(days=90)
    det = scope.one(
        """SELECT count(*) FILTER (WHERE TRY_CAST(properties->>'nps_score' AS INT) <= 6), count(*),
                  mode(properties->>'comment') FILTER (WHERE TRY_CAST(properties->>'nps_score' AS INT) <= 6)
           FROM events WHERE event = 'Survey Responded' AND ts > $s AND properties->>'nps_score' IS NOT NULL""",
        {"s": q90})
    if det and det[1]:
        quote = f" The commonest comment: “{det[2]}”" if det[2] else ""
        out.append({"title": "Unhappy guests after their visit", "people": det[0], "stage": "Experience",
                    "detail": f"{det[0]:,} of {det[1]:,} survey answers in the last 90 days scored 0–6.{quote}",
                    "action": "Call or email each detractor within a day, and fix the commonest complaint first.",
                    "href": "/feedback", "cta": "See what they said"})
    browse = scope.one(
        f"""WITH p AS (SELECT person_id, bool_or(m.stage = 'Consider') considered, bool_or({ORDER_SQL}) bought
                    FROM events e LEFT JOIN {stage_values_sql(scope)} m USING (event)
                    WHERE ts > $s AND person_id IS NOT NULL GROUP BY 1)
            SELECT count(*) FILTER (WHERE considered AND NOT bought), count(*) FILTER (WHERE considered) FROM p""",
        {"s": q90})
    if browse and browse[1]:
        out.append({"title": "Browsers who never order", "people": browse[0], "stage": "Consider",
                    "detail": f"{browse[0]:,} of {browse[1]:,} people who looked at you in the last 90 days have not ordered.",
                    "action": "Send a welcome offer to people who viewed the menu or booking page but did not order.",
                    "href": "/funnels", "cta": "Open the funnel"})
    once = scope.one(
        f"""WITH o AS (SELECT person_id, count(*) n, max(ts) last FROM events WHERE {ORDER_SQL} AND person_id IS NOT NULL
                       GROUP BY 1)
            SELECT count(*) FILTER (WHERE n = 1 AND last < $a AND last > $b), count(*) FROM o""",
        {"a": now - dt.timedelta(days=30), "b": now - dt.timedelta(days=180)})
    if once and once[1]:
        out.append({"title": "First-time customers who do not come back", "people": once[0], "stage": "Return & recommend",
                    "detail": f"{once[0]:,} people ordered once, one to six months ago, and not since.",
                    "action": "Turn on the win-back automation: a friendly note 30 days after a first order.",
                    "href": "/automations", "cta": "Set up win-back"})
    tickets = scope.one("SELECT count(*), count(DISTINCT person_id) FROM events WHERE event = 'Ticket Opened' AND ts > $s",
                        {"s": now - dt.timedelta(days=30)})
    if tickets and tickets[0]:
        out.append({"title": "Support requests", "people": tickets[1], "stage": "Experience",
                    "detail": f"{tickets[0]:,} tickets opened in the last 30 days.",
                    "action": "Answer waiting hand-overs in the inbox and add the answers to your FAQ.",
                    "href": "/inbox", "cta": "Open the inbox"})
    return sorted(out, key=lambda p: -p["people"])[:3]


def summary(scope: Scope) -> dict:
    now = anchor(scope)
    n = scope.one("SELECT count(*) FROM events")[0]
    if not n:
        return {"empty": True, "as_of": now}
    return {"empty": False, "as_of": now, "kpis": kpis(scope, now), "trend": weekly(scope, now),
            "pain_points": pain_points(scope, now), "events": n}


@page("/", "overview.html", "Overview", nav="Overview", icon="home")
def overview(ctx: Ctx) -> dict:
    return ctx.cached("overview", lambda: summary(ctx.scope))
