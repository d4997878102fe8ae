"""Customers: search by anything that identifies a person, lists by segment, and the 360° profile:
cross-channel timeline, orders, feedback, a prediction with reasons, consent, automations, and a
button that pauses every automation for that person."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from ...errors import NotFound, ValidationError
from ...identity import find_person, person_summary, timeline
from ...privacy import audit, consent_status
from ...store import Scope, utcnow
from .base import Ctx, action, page
from .common import FEEDBACK_SCORE_SQL, ORDER_SQL, anchor, safe_engine_call
from .segments import SEGMENTS, rfm_sql

PAGE_SIZE = 50


def _people(scope: Scope, where: str, params: dict, order: str = "last_order DESC NULLS LAST") -> list[dict]:
    # pick the people first (at most 2,000), then add up only their orders
    rows = scope.rows(
        f"""WITH sel AS (SELECT p.person_id, p.traits, p.last_seen FROM profiles p WHERE {where} LIMIT 2000),
                 o AS (SELECT person_id, count(*) orders, sum(revenue) revenue, max(ts) last_order FROM events
                       WHERE {ORDER_SQL} AND person_id IN (SELECT person_id FROM sel) GROUP BY 1)
            SELECT p.person_id, p.traits->>'name', p.traits->>'email', p.traits->>'city', coalesce(o.orders, 0),
                   coalesce(o.revenue, 0), p.last_seen, o.last_order
            FROM sel p LEFT JOIN o USING (person_id) ORDER BY {order} LIMIT {PAGE_SIZE}""", params)
    return [{"person_id": r[0], "name": r[1], "email": r[2], "city": r[3], "orders": r[4], "revenue": round(r[5], 2),
             "last_seen": r[6], "last_order": r[7]} for r in rows]


def _search(scope: Scope, q: str) -> list[dict]:
    """By an identifier first (email, phone, ids), else any profile field containing the words."""
    try:
        pid = find_person(scope, q)
        return _people(scope, "p.person_id = $p", {"p": pid})
    except NotFound:
        like = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return _people(scope, "lower(CAST(p.traits AS VARCHAR)) LIKE $l ESCAPE '\\'", {"l": like})


@page("/customers", "customers.html", "Customers", nav="Customers")
def customers(ctx: Ctx) -> dict:
    q, segment = ctx.arg("q"), ctx.arg("segment")
    scope = ctx.scope
    if segment and segment not in {s[0] for s in SEGMENTS}:
        raise ValidationError("no such segment", where=f"segment {segment!r}")
    if q:
        people = ctx.cached(f"search:{q.lower()}", lambda: _search(scope, q), ttl=120)
        title = f"{len(people)} match{'es' if len(people) != 1 else ''} for “{q}”"
    elif segment:
        now = anchor(scope)
        people = ctx.cached(f"segment:{segment}", lambda: _people(
            scope, f"p.person_id IN (SELECT person_id FROM ({rfm_sql()}) WHERE segment = $seg)",
            {"seg": segment, "n": now}, "revenue DESC"))
        title = f"{segment}: top {PAGE_SIZE} by spend"
    else:
        people = ctx.cached("customers:recent", lambda: _people(
            scope, "p.person_id IN (SELECT person_id FROM profiles ORDER BY last_seen DESC NULLS LAST LIMIT 200)", {}))
        title = "Most recent customers"
    total = ctx.cached("people_count", lambda: scope.one("SELECT count(*) FROM profiles")[0])
    return {"q": q, "segment": segment, "segments": [s[0] for s in SEGMENTS], "people": people,
            "heading": title, "total": total}


def prediction(scope: Scope, pid: str, now: dt.datetime) -> dict[str, Any]:
    """Churn risk and next best action with its reasons: the predict engine's when installed, else a rule
    over the person's own rhythm (days since the last order against their usual gap)."""
    got = safe_engine_call("predict", "explain_person", scope, pid)
    if isinstance(got, dict):
        return got
    r = scope.one(f"""SELECT count(*), max(ts), min(ts), sum(revenue) FROM events WHERE person_id = $p AND {ORDER_SQL}""",
                  {"p": pid})
    n, last, first, spend = r
    if not n:
        return {"risk": None, "label": "No orders yet", "reasons": ["has not bought anything yet"],
                "next_best_action": "Send a welcome offer for a first visit."}
    days = (now - last).days
    gap = ((last - first).days / (n - 1)) if n > 1 else 45
    ratio = days / max(gap, 7)
    risk = max(0.02, min(0.98, 1 - 1 / (1 + (ratio / 2) ** 3)))
    reasons = ["last order today" if days == 0 else f"last order {days} day{'s' if days != 1 else ''} ago", f"orders every {gap:.0f} days on average" if n > 1 else "ordered once",
               f"{n} order{'s' if n != 1 else ''}, £{spend:,.0f} in all"]
    label = "High" if risk >= 0.6 else "Medium" if risk >= 0.3 else "Low"
    nba = ("Win-back: a personal note with an offer." if risk >= 0.6 else
           "A reminder with something new." if risk >= 0.3 else "Thank them; ask for a review or a referral.")
    return {"risk": round(risk, 2), "label": label, "reasons": reasons, "next_best_action": nba}


@page("/customers/{person_id}", "profile.html", "Customer")
def profile(ctx: Ctx) -> dict:
    pid = ctx.request.path_params["person_id"]
    scope = ctx.scope
    story = ctx.cached(f"profile:{pid}", lambda: _story(scope, pid), ttl=300)  # NotFound -> 404
    row = scope.one("SELECT traits FROM profiles WHERE person_id = $p", {"p": pid})  # fresh: pausing changes it
    traits = orjson.loads(row[0]) if row and row[0] else story["summary"]["traits"]
    consent = {ch: consent_status(scope, pid, ch) for ch in ("email", "sms")}
    flows = safe_engine_call("automate", "flows_for_person", scope, pid) or []
    name = traits.get("name") or " ".join(x for x in (traits.get("first_name"), traits.get("last_name")) if x) or \
        traits.get("email") or pid
    return {**story, "title": name, "consent": consent, "automations_paused": bool(traits.get("automations_paused")),
            "automations": flows, "traits": {k: v for k, v in traits.items() if k != "automations_paused"}}


def _score(props: dict) -> float | None:
    for key, scale in (("nps_score", 10), ("csat_score", 5), ("rating", 5)):
        try:
            if props.get(key) is not None:
                return float(props[key]) / scale
        except (TypeError, ValueError):
            continue
    return None


def _story(scope: Scope, pid: str) -> dict:
    """What a profile shows that only changes when new events arrive (cached until they do)."""
    summary = person_summary(scope, pid)
    tl = timeline(scope, pid, limit=200)
    orders = [e for e in tl if (e.get("revenue") or 0) > 0][:50]
    if len(tl) < 200:  # the whole history is in the timeline: no second scan of the events
        feedback = [(e["ts"], e["event"], e["channel"], _score(e["properties"]), e["properties"]) for e in tl]
        feedback = [f for f in feedback if f[3] is not None][:20]
    else:
        feedback = [(f[0], f[1], f[2], f[3], orjson.loads(f[4]) if f[4] else {}) for f in scope.rows(
            f"""SELECT ts, event, channel, {FEEDBACK_SCORE_SQL} score, properties FROM events
                WHERE person_id = $p AND {FEEDBACK_SCORE_SQL} IS NOT NULL ORDER BY ts DESC LIMIT 20""", {"p": pid})]
    return {"person_id": pid, "summary": summary, "timeline": tl, "orders": orders,
            "feedback": [{"ts": f[0], "event": f[1], "channel": f[2], "score": round(10 * f[3], 1),
                          "comment": f[4].get("comment") or f[4].get("text")} for f in feedback],
            "prediction": prediction(scope, pid, anchor(scope))}


@action("/customers/{person_id}/pause", need="staff")
def pause(ctx: Ctx, form: Any) -> str:
    pid = ctx.request.path_params["person_id"]
    resume = form.get("resume") == "1"
    scope = ctx.scope
    person_summary(scope, pid)
    engine_done = safe_engine_call("automate", "resume_person" if resume else "pause_person", scope, pid)
    with scope.transaction() as con:
        row = con.execute("SELECT traits FROM main.profiles WHERE workspace_id = ? AND person_id = ?",
                          [scope.workspace_id, pid]).fetchone()
        traits = orjson.loads(row[0]) if row and row[0] else {}
        if resume:
            traits.pop("automations_paused", None)
        else:
            traits["automations_paused"] = True
        con.execute("UPDATE main.profiles SET traits = ? WHERE workspace_id = ? AND person_id = ?",
                    [orjson.dumps(traits).decode(), scope.workspace_id, pid])
    audit(scope, ctx.session.user.email, "automations.resume" if resume else "automations.pause", pid,
          {"engine": bool(engine_done), "at": utcnow().isoformat()})
    msg = "Automations resumed for this customer." if resume else "All automations are paused for this customer."
    ctx.say(msg)
    return f"/customers/{pid}"
