"""What-if forecasts: "if this step's conversion rose from x% to y%", how many more customers and how
much more revenue over a period, with an interval — from the business's own events.

The funnel is ``from -> step -> goal`` (or any list of steps given). Over the measurement window (the
last ``over_days`` of data) we count ``entered`` (people at the step before), ``reached`` (people at the
step) and ``converted`` (people at the last step), all in order within ``within_days``.

    x = reached / entered                 current conversion of the step
    d = converted / reached               what happens after the step (assumed unchanged)
    N = entered * period / over           people entering the step in the forecast period
    extra customers = N * (y - x) * d     extra revenue = extra customers * revenue per customer

With no ``from`` step the step's conversion is measured from "any activity": entered = people active in
the window. The interval (default 90%) comes from simulation: N ~ Poisson, the extra people at the step
~ Binomial(N, y - x), d ~ Beta(converted + 1, reached - converted + 1), and revenue by bootstrap over the
observed customers' revenue.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ValidationError
from .recommend import PURCHASE_PATTERN

__all__ = ["whatif", "step_counts", "compare"]

_ANY = "*"

# person -> first time at each step in order (sequential, within the window from the first step)
_COUNTS_SQL = """
WITH w AS (
    SELECT person_id, event, ts,
           COALESCE(revenue, TRY_CAST(properties->>'Quantity' AS DOUBLE) * TRY_CAST(properties->>'UnitPrice' AS DOUBLE)) AS rev
    FROM events WHERE person_id IS NOT NULL AND ts >= $start AND ts <= $end
), s1 AS (
    SELECT person_id, min(ts) AS t1 FROM w WHERE ($from = '*' OR event = $from) GROUP BY 1
), s2 AS (
    SELECT s1.person_id, min(w.ts) AS t2 FROM s1 JOIN w USING (person_id)
    WHERE w.event = $step AND w.ts >= s1.t1 AND w.ts <= s1.t1 + to_seconds($within)
      AND ($from = '*' OR w.ts > s1.t1 OR $from = $step) GROUP BY 1
), s3 AS (
    SELECT s2.person_id, min(w.ts) AS t3 FROM s2 JOIN s1 USING (person_id) JOIN w USING (person_id)
    WHERE ($goal = $step OR (regexp_matches(lower(w.event), $goal_re) AND w.ts >= s2.t2))
      AND w.ts <= s1.t1 + to_seconds($within) GROUP BY 1
)
SELECT (SELECT count(*) FROM s1), (SELECT count(*) FROM s2), (SELECT count(*) FROM s3),
       (SELECT list(r ORDER BY person_id) FROM (SELECT s3.person_id, sum(w.rev) AS r FROM s3 JOIN w USING (person_id)
         WHERE w.ts >= s3.t3 AND w.rev IS NOT NULL GROUP BY 1))
"""


def step_counts(scope, step: str, start, end, from_step: str | None = None, goal: str | None = None,
                within_days: float = 30.0) -> dict[str, Any]:
    """entered / reached / converted (and revenue per converted person) for from -> step -> goal."""
    goal_re = "^" + _re_escape(goal.lower()) + "$" if goal else PURCHASE_PATTERN
    if importlib.util.find_spec("wayfare.analytics") is not None and from_step and goal:
        return _with_analytics(scope, [from_step, step, goal], start, end, within_days)
    row = scope.one(_COUNTS_SQL, {"start": start, "end": end, "from": from_step or _ANY, "step": step,
                                  "goal": goal or "", "goal_re": goal_re, "within": int(within_days * 86400)})
    entered, reached, converted, revs = row
    if _is_goal(step, goal):
        converted = reached
    return {"entered": int(entered), "reached": int(reached), "converted": int(converted),
            "revenue_per_customer": [float(r) for r in (revs or [])]}


def _is_goal(step: str, goal: str | None) -> bool:
    import re

    return (goal is not None and step == goal) or (goal is None and re.search(PURCHASE_PATTERN, step.lower()) is not None)


def _re_escape(s: str) -> str:
    import re

    return re.escape(s)


def _with_analytics(scope, steps: list[str], start, end, within_days: float) -> dict[str, Any]:
    """The same counts from wayfare.analytics' funnel (first-attempt, strictly increasing times)."""
    from ..analytics import FunnelQuery, Step, Tables, run_funnel

    t = Tables.from_scope(scope)
    ev = t.events.filter((t.events.ts >= start) & (t.events.ts <= end))
    q = FunnelQuery(steps=[Step(event=s, label=f"{i}:{s}") for i, s in enumerate(steps)], within=int(within_days * 86400))
    r = run_funnel(ev, q, detail=False)
    c = [s["count"] for s in r["steps"]]
    revs = scope.df("SELECT person_id, sum(revenue) AS r FROM events WHERE event = $g AND ts >= $a AND ts <= $b "
                    "AND revenue IS NOT NULL GROUP BY 1", {"g": steps[-1], "a": start, "b": end})
    per = revs.r.to_numpy(float)
    return {"entered": c[0], "reached": c[1], "converted": c[2], "revenue_per_customer": per.tolist(),
            "engine": "wayfare.analytics"}


def whatif(scope, step: str, to_rate: float, *, from_step: str | None = None, goal: str | None = None,
           period_days: float = 30.0, over_days: float = 90.0, within_days: float = 30.0, level: float = 0.9,
           draws: int = 4000, seed: int = 0, until=None) -> dict[str, Any]:
    """Expected extra customers and revenue over ``period_days`` if ``step``'s conversion became ``to_rate``,
    measured on the ``over_days`` before ``until`` (default: the last event)."""
    if to_rate > 1 and to_rate <= 100:
        to_rate = to_rate / 100
    if not 0 <= to_rate <= 1:
        raise ValidationError("the rate is a fraction (0.25) or a percentage (25)", where="--to")
    if not step.strip():
        raise ValidationError("name the step (an event name)", where="--step")
    span = scope.one("SELECT min(ts), max(ts) FROM events WHERE person_id IS NOT NULL AND ($until IS NULL OR ts < $until)",
                     {"until": until})
    if not span or span[1] is None:
        raise ValidationError("this workspace has no events yet", where="--step")
    end = pd.Timestamp(span[1])
    start = max(pd.Timestamp(span[0]), end - pd.Timedelta(days=over_days))
    over = max((end - start).total_seconds() / 86400, 1.0)
    c = step_counts(scope, step, start.to_pydatetime(), end.to_pydatetime(), from_step, goal, within_days)
    entered, reached, converted = c["entered"], c["reached"], c["converted"]
    if reached == 0:
        known = [r[0] for r in scope.rows("SELECT event FROM events WHERE event IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 8")]
        raise ValidationError(f"nobody reached {step!r} in the last {over:.0f} days; events seen: {', '.join(known)}",
                              where="--step")
    x = reached / entered if entered else 0.0
    d = converted / reached
    revs = np.asarray(c["revenue_per_customer"], float)
    rpc = float(revs.mean()) if len(revs) else 0.0
    scale = period_days / over
    n = entered * scale
    lift = to_rate - x
    extra = n * lift * d
    rng = np.random.default_rng(seed)
    nn = rng.poisson(max(n, 0), draws)
    gained = rng.binomial(nn, abs(lift)) * np.sign(lift) if lift else np.zeros(draws)
    dd = rng.beta(converted + 1, reached - converted + 1, draws)
    cust = np.sign(gained) * rng.binomial(np.abs(gained).astype(int), dd)
    if len(revs):
        boot = np.array([rng.choice(revs, len(revs)).mean() for _ in range(min(draws, 1000))])
        rv = cust * rng.choice(boot, draws)
    else:
        rv = np.zeros(draws)
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    return {
        "step": step, "from": from_step or "any activity", "goal": goal or "first purchase",
        "measured_over_days": round(over, 2), "window": [start.isoformat(), end.isoformat()],
        "entered": entered, "reached": reached, "converted": converted,
        "current_rate": round(x, 4), "to_rate": round(to_rate, 4), "downstream_rate": round(d, 4),
        "revenue_per_customer": round(rpc, 2), "period_days": period_days,
        "entering_per_period": round(n, 2),
        "expected_extra_customers": round(extra, 2),
        "expected_extra_revenue": round(extra * rpc, 2),
        "interval_level": level,
        "extra_customers_interval": [float(np.quantile(cust, lo)), float(np.quantile(cust, hi))],
        "extra_revenue_interval": [round(float(np.quantile(rv, lo)), 2), round(float(np.quantile(rv, hi)), 2)],
        "method": "extra = entered*period/over * (to - current) * downstream; interval by simulation "
                  "(Poisson volume, binomial gains, beta downstream rate, bootstrap revenue)",
        "engine": c.get("engine", "sql"),
    }


def compare(scope, forecast: dict[str, Any], since, until=None) -> dict[str, Any]:
    """After a change (an automation, a fix) went live at ``since``: the step's measured conversion and extra
    customers since then, next to what the forecast expected for the same number of days."""
    end = pd.Timestamp(until) if until is not None else pd.Timestamp(scope.one("SELECT max(ts) FROM events")[0])
    start = pd.Timestamp(since)
    if not start < end:
        raise ValidationError("the comparison start must be before the last event", where="--since")
    days = (end - start).total_seconds() / 86400
    goal = None if forecast.get("goal") in (None, "first purchase") else forecast["goal"]
    frm = None if forecast.get("from") in (None, "any activity") else forecast["from"]
    c = step_counts(scope, forecast["step"], start.to_pydatetime(), end.to_pydatetime(), frm, goal)
    rate = c["reached"] / c["entered"] if c["entered"] else 0.0
    down = c["converted"] / c["reached"] if c["reached"] else forecast["downstream_rate"]
    actual_extra = c["entered"] * (rate - forecast["current_rate"]) * down
    expected = c["entered"] * (forecast["to_rate"] - forecast["current_rate"]) * forecast["downstream_rate"]
    return {"since": start.isoformat(), "until": end.isoformat(), "days": round(days, 2), "entered": c["entered"],
            "baseline_rate": forecast["current_rate"], "forecast_rate": forecast["to_rate"], "actual_rate": round(rate, 4),
            "expected_extra_customers": round(expected, 2), "actual_extra_customers": round(actual_extra, 2),
            "achieved_share": round(actual_extra / expected, 3) if expected else None}
