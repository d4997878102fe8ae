"""What a flow did and earned: entries, where they stand, goals, messages by channel (sent, skipped by
reason, deferred), opens and clicks, conversions and revenue within the attribution window, uplift
against the holdout (95% interval) and A/B variants with a two-proportion z-test, unsubscribes."""

from __future__ import annotations

import math
from typing import Any

from ..store import Scope
from .model import parse_duration
from .registry import get_flow

__all__ = ["flow_stats", "two_proportion", "diff_interval"]


def two_proportion(x1: int, n1: int, x2: int, n2: int) -> dict[str, float | None]:
    """z and two-sided p of rate 2 against rate 1 (pooled standard error)."""
    if not n1 or not n2:
        return {"z": None, "p_value": None}
    p = (x1 + x2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    if se == 0:
        return {"z": 0.0, "p_value": 1.0}
    z = (x2 / n2 - x1 / n1) / se
    return {"z": round(z, 4), "p_value": round(math.erfc(abs(z) / math.sqrt(2)), 6)}


def diff_interval(x_t: int, n_t: int, x_c: int, n_c: int, z: float = 1.959964) -> dict[str, float | None]:
    """Treated minus control rate with a Wald 95% interval (unpooled)."""
    if not n_t or not n_c:
        return {"uplift": None, "low": None, "high": None}
    pt, pc = x_t / n_t, x_c / n_c
    se = math.sqrt(pt * (1 - pt) / n_t + pc * (1 - pc) / n_c)
    d = pt - pc
    return {"uplift": round(d, 6), "low": round(d - z * se, 6), "high": round(d + z * se, 6)}


def flow_stats(scope: Scope, name: str) -> dict[str, Any]:
    flow = get_flow(scope, name)
    con = scope.store.cursor()
    ws = scope.workspace_id
    q = lambda sql, *p: con.execute(sql, [ws, name, *p]).fetchall()  # noqa: E731
    ent = dict(q("SELECT status, count(*) FROM flow_entries WHERE workspace_id = ? AND flow = ? GROUP BY 1"))
    at_step = {}
    for step, n in q("SELECT step, count(*) FROM flow_entries WHERE workspace_id = ? AND flow = ? AND "
                     "status = 'active' GROUP BY 1 ORDER BY 1"):
        node = flow.steps[step] if step < len(flow.steps) else None
        at_step[str(step)] = {"type": getattr(node, "type", "end"), "id": getattr(node, "id", None), "people": int(n)}
    outcomes = dict(q("SELECT outcome, count(*) FROM flow_entries WHERE workspace_id = ? AND flow = ? AND outcome "
                      "IS NOT NULL GROUP BY 1"))
    channels: dict[str, dict[str, Any]] = {}
    for ch, st, detail, n in q("SELECT channel, status, CASE WHEN status IN ('skipped', 'failed') THEN detail END, "
                               "count(*) FROM sends WHERE workspace_id = ? AND flow = ? GROUP BY ALL"):
        c = channels.setdefault(ch, {"sent": 0, "uncertain": 0, "failed": 0, "pending": 0, "skipped": 0,
                                     "skipped_by_reason": {}, "deferred": 0})
        if st in ("sent", "uncertain"):
            c[st] += int(n)
        elif st == "skipped":
            c["skipped"] += int(n)
            c["skipped_by_reason"][detail or "unknown"] = c["skipped_by_reason"].get(detail or "unknown", 0) + int(n)
        elif st == "failed":
            c["failed"] += int(n)
        else:
            c["pending"] += int(n)
    for action, reason, n in q("SELECT action, reason, count(*) FROM automation_log WHERE workspace_id = ? AND "
                               "flow = ? AND outcome = 'deferred' GROUP BY ALL"):
        c = channels.setdefault(action, {"sent": 0, "uncertain": 0, "failed": 0, "pending": 0, "skipped": 0,
                                         "skipped_by_reason": {}, "deferred": 0})
        c["deferred"] += int(n)
        c.setdefault("deferred_by_reason", {})[reason or "unknown"] = int(n)
    eng = {}
    for ev, var, n, people in q(
            "SELECT event, coalesce(properties->>'variant', '-'), count(*), count(DISTINCT person_id) FROM events "
            "WHERE workspace_id = ? AND properties->>'flow' = ? AND event IN ('Email Opened', 'Email Link Clicked', "
            "'Unsubscribed', 'Email Unsubscribed', 'Email Complained', 'Complaint') GROUP BY ALL"):
        key = {"Email Opened": "opens", "Email Link Clicked": "clicks", "Email Complained": "complaints",
               "Complaint": "complaints"}.get(ev, "unsubscribes")
        e = eng.setdefault(key, {"total": 0, "people": 0, "by_variant": {}})
        e["total"] += int(n)
        e["people"] += int(people)
        e["by_variant"][var] = e["by_variant"].get(var, 0) + int(people)
    for k in ("opens", "clicks", "unsubscribes", "complaints"):
        eng.setdefault(k, {"total": 0, "people": 0, "by_variant": {}})
    conv_event = flow.goal.event if flow.goal else "Order Completed"
    window = int(parse_duration(flow.attribution).total_seconds() * 1e6)
    groups = q(
        "WITH e AS (SELECT entry_id, person_id, entered_at, coalesce(variant, 'all') v FROM flow_entries "
        "WHERE workspace_id = ? AND flow = ?), c AS (SELECT e.entry_id, e.v, count(ev.message_id) k, "
        "coalesce(sum(ev.revenue), 0) rev FROM e LEFT JOIN events ev ON ev.workspace_id = ? AND "
        "ev.person_id = e.person_id AND ev.event = ? AND ev.ts > e.entered_at AND "
        "ev.ts <= e.entered_at + to_microseconds(?) GROUP BY 1, 2) "
        "SELECT v, count(*), count(*) FILTER (WHERE k > 0), sum(rev) FROM c GROUP BY 1 ORDER BY 1",
        ws, conv_event, window)
    by_var = {v: {"entered": int(n), "converted": int(x), "rate": round(x / n, 6) if n else None,
                  "revenue": round(float(r or 0), 2)} for v, n, x, r in groups}
    total_conv = sum(g["converted"] for g in by_var.values())
    total_rev = round(sum(g["revenue"] for g in by_var.values()), 2)
    out: dict[str, Any] = {
        "flow": name, "trigger": flow.trigger.kind, "purpose": flow.purpose,
        "entered": int(sum(ent.values())), "entries": {k: int(v) for k, v in ent.items()},
        "at_step": at_step, "exited_by_goal": int(ent.get("goal", 0)),
        "outcomes": {k: int(v) for k, v in outcomes.items()}, "messages": channels,
        "opens": eng["opens"], "clicks": eng["clicks"], "unsubscribes": eng["unsubscribes"],
        "complaints": eng["complaints"],
        "conversions": {"event": conv_event, "window": flow.attribution, "converted": total_conv,
                        "revenue": total_rev, "by_variant": by_var},
    }
    hold = by_var.get("holdout")
    treated = [g for v, g in by_var.items() if v != "holdout"]
    if hold:
        nt, xt = sum(g["entered"] for g in treated), sum(g["converted"] for g in treated)
        out["uplift"] = {"treated": {"entered": nt, "converted": xt}, "holdout": hold,
                         **diff_interval(xt, nt, hold["converted"], hold["entered"]),
                         **two_proportion(hold["converted"], hold["entered"], xt, nt)}
    variants = [v for v in by_var if v not in ("holdout", "all")]
    if len(variants) >= 2:
        base = variants[0]
        b = by_var[base]
        out["variants"] = {"control": base, "results": {
            v: {**by_var[v], **two_proportion(b["converted"], b["entered"], by_var[v]["converted"],
                                              by_var[v]["entered"]),
                **{k: x for k, x in diff_interval(by_var[v]["converted"], by_var[v]["entered"], b["converted"],
                                                  b["entered"]).items()}}
            for v in variants[1:]}}
    return out
