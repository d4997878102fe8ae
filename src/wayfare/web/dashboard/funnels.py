"""Funnels: pick the steps (events), the window and a breakdown; see how many people get through each
step in order (first attempt: a step counts at its first time after the previous step, within the
window from the first step)."""

from __future__ import annotations

from typing import Any

from ...errors import ValidationError
from ...store import Scope
from .base import Ctx, page
from .common import ORDER_SQL, event_names, safe_engine_call, stage_of

BREAKDOWNS = {"": "No breakdown", "channel": "Channel of the first step", "persona": "Persona"}


def build_funnel_sql(n_steps: int, breakdown: str) -> str:
    """The funnel query for ``n_steps`` steps ($e0..$eN, window $w in seconds), pure so tests can read it."""
    parts = ["s0 AS (SELECT person_id, min(ts) t0, arg_min(coalesce(channel, 'unknown'), ts) ch, min(ts) t "
             "FROM events WHERE event = $e0 AND person_id IS NOT NULL GROUP BY 1)"]
    for i in range(1, n_steps):
        parts.append(
            f"s{i} AS (SELECT s.person_id, s.t0, s.ch, min(e.ts) t FROM s{i - 1} s JOIN events e "
            f"ON e.person_id = s.person_id AND e.event = $e{i} AND e.ts >= s.t "
            f"AND e.ts <= s.t0 + to_seconds($w) GROUP BY 1, 2, 3)")
    if breakdown == "persona":
        key = "coalesce(p.traits->>'persona', p.traits->>'demo_persona', 'unknown')"
        join = " LEFT JOIN profiles p ON p.person_id = s.person_id"
    elif breakdown == "channel":
        key, join = "s.ch", ""
    else:
        key, join = "'All'", ""
    unions = " UNION ALL ".join(
        f"SELECT {i} step, {key} k, count(*) n, median(epoch(s.t) - epoch(s.t0)) secs FROM s{i} s{join} GROUP BY 2"
        for i in range(n_steps))
    return "WITH " + ", ".join(parts) + f" {unions} ORDER BY 1, 2"


def run_funnel(scope: Scope, steps: list[str], window_days: int, breakdown: str = "") -> dict[str, Any]:
    params: dict[str, Any] = {f"e{i}": s for i, s in enumerate(steps)}
    params["w"] = window_days * 86400
    rows = scope.rows(build_funnel_sql(len(steps), breakdown), params)
    groups: dict[str, list[int]] = {}
    secs: dict[str, list[float | None]] = {}
    for step, k, n, med in rows:
        groups.setdefault(k, [0] * len(steps))[step] = n
        secs.setdefault(k, [None] * len(steps))[step] = med
    order = sorted(groups, key=lambda k: -groups[k][0])[:8]
    series = []
    for k in order:
        counts = groups[k]
        series.append({"group": k, "counts": counts,
                       "conversion": [c / counts[0] if counts[0] else None for c in counts],
                       "step_conversion": [None] + [counts[i] / counts[i - 1] if counts[i - 1] else None
                                                    for i in range(1, len(counts))],
                       "median_hours": [None if s is None else round(s / 3600, 1) for s in secs[k]]})
    total = [sum(groups[k][i] for k in groups) for i in range(len(steps))]
    return {"steps": steps, "window_days": window_days, "breakdown": breakdown, "series": series, "total": total,
            "overall": total[-1] / total[0] if total and total[0] else None}


def default_steps(names: list[str], scope: Scope) -> list[str]:
    buy_rev = scope.one(f"SELECT event FROM events WHERE {ORDER_SQL} GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    pick = []
    for stage in ("Consider", "Buy"):
        for n in names:
            if stage_of(n) == stage and n not in pick and (not buy_rev or n != buy_rev[0]):
                pick.append(n)
                break
    if buy_rev:
        pick.append(buy_rev[0])
    return pick[:3] if len(pick) >= 2 else names[:3]


_SHAPE = {"steps", "window_days", "series", "total", "overall"}


def _engine_or_builtin(scope: Scope, steps: list[str], window: int, breakdown: str) -> dict[str, Any]:
    """The analytics engine's funnel when installed and well-formed, else the built-in query."""
    got = safe_engine_call("analytics", "dashboard_funnel", scope, steps, window, breakdown)
    if isinstance(got, dict) and _SHAPE <= got.keys() and len(got["total"]) == len(steps):
        return {**got, "engine": "analytics"}
    return {**run_funnel(scope, steps, window, breakdown), "engine": "built-in"}


@page("/funnels", "funnels.html", "Funnels", nav="Funnels")
def funnels(ctx: Ctx) -> dict:
    names = ctx.cached("event_names", lambda: event_names(ctx.scope))
    steps = ctx.args("step") or ctx.cached("default_funnel", lambda: default_steps(names, ctx.scope))
    steps = [s for s in steps if s][:6]
    for s in steps:
        if s not in names:
            raise ValidationError(f"no event named {s!r} in your data; pick one from the list", where="step")
    try:
        window = int(ctx.arg("window", "30"))
    except ValueError:
        raise ValidationError("the window is a whole number of days", where="window") from None
    if not 1 <= window <= 365:
        raise ValidationError("the window is between 1 and 365 days", where="window")
    breakdown = ctx.arg("breakdown")
    if breakdown not in BREAKDOWNS:
        raise ValidationError(f"breakdown must be one of {', '.join(k for k in BREAKDOWNS if k)}", where="breakdown")
    result = None
    if len(steps) >= 2:
        key = f"funnel:{'|'.join(steps)}:{window}:{breakdown}"
        result = ctx.cached(key, lambda: _engine_or_builtin(ctx.scope, steps, window, breakdown))
    return {"event_names": names, "steps": steps, "window_days": window, "breakdown": breakdown,
            "breakdowns": BREAKDOWNS, "result": result}
