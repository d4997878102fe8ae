"""A dry run: what one person would receive from a flow, and when, if they entered it now. Nothing is
written or sent; the policies are applied as the send path would apply them at each moment."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..privacy import consent_status, is_suppressed
from ..store import Scope, utcnow
from .context import facts_for, render_message
from .engine import EntryState, advance
from .model import Flow, Sms, Task, Update, Wait, Webhook, parse_duration
from .policy import decide, get_policy

__all__ = ["dry_run"]


def dry_run(scope: Scope, flow: Flow, person_id: str, start: dt.datetime | None = None,
            horizon: str = "90d") -> dict[str, Any]:
    from ..errors import NotFound
    if scope.one("SELECT 1 FROM profiles WHERE person_id = $p", {"p": person_id}) is None:
        raise NotFound(f"no customer {person_id!r} in workspace {scope.name!r}")
    now = t0 = start or utcnow()
    end = now + parse_duration(horizon)
    policy = get_policy(scope)
    trig = None
    if flow.trigger.kind == "event":
        row = scope.one("SELECT message_id FROM events WHERE person_id = $p AND event = $e ORDER BY ts DESC LIMIT 1",
                        {"p": person_id, "e": flow.trigger.event})
        trig = row[0] if row else None
    facts = facts_for(scope, person_id, trig, now, policy)
    sent_at = [r[0] for r in scope.rows("SELECT created_at FROM sends WHERE person_id = $p AND purpose = 'marketing' "
                                        "AND status IN ('sent', 'final', 'uncertain', 'queued') AND created_at > $t",
                                        {"p": person_id, "t": now - dt.timedelta(days=policy.cap_days)})]
    plan: list[dict[str, Any]] = []
    state = EntryState(0)
    variant = None
    for _ in range(4 * len(flow.steps) + 4):
        if state.step is None or state.step >= len(flow.steps) or now > end:
            break
        i = state.step
        node = flow.steps[i]
        res = advance(flow, state, now, facts)
        variant = res.variant or variant
        if res.variant:
            plan.append({"at": now, "step": i, "type": "split", "variant": res.variant,
                         "what": "holdout: gets nothing from this flow" if res.variant == "holdout" else
                         f"assigned to variant {res.variant}"})
        if isinstance(node, Wait) and res.wake_at is not None:
            what = f"waits until {res.wake_at:%Y-%m-%d %H:%M} UTC"
            if node.event:
                what = f"waits up to {node.timeout} for {node.event!r}; assuming it does not happen"
            plan.append({"at": now, "step": i, "type": "wait", "what": what})
            state = EntryState(i, res.wake_at, res.since, variant)
            now = res.wake_at
            continue
        for a in res.actions:
            if isinstance(a, Task):
                plan.append({"at": now, "step": i, "type": "task", "what": a.title, "due": now + parse_duration(a.due)})
                continue
            if isinstance(a, Update):
                plan.append({"at": now, "step": i, "type": "update", "what": {"set": a.set, "add_tags": a.add_tags}})
                facts.person.update(a.set)
                continue
            body = render_message(a, facts, flow, variant, "dry-run")
            channel = body["channel"]
            at = now
            if getattr(a, "approval", None):
                plan.append({"at": now, "step": i, "type": "approval",
                             "what": f"waits for a person (up to {a.approval.timeout}; then {a.approval.on_timeout})"})
            address = facts.person.get("email") if channel == "email" else facts.person.get("phone") \
                if isinstance(a, Sms) else getattr(a, "url", None)
            purpose = getattr(a, "purpose", None) or flow.purpose
            if isinstance(a, Webhook):
                d = decide(policy, channel="webhook", purpose=purpose, address=address, consent=None, suppressed=None,
                           person_paused=False, recent_marketing=0, now=at, tz=facts.tz)
            else:
                d = decide(policy, channel=channel, purpose=purpose, address=address,
                           consent=consent_status(scope, person_id, channel, purpose),
                           suppressed=is_suppressed(scope, channel, address) if address else None,
                           person_paused=str(facts.person.get("automations_paused", "")).lower() in ("true", "1"),
                           recent_marketing=sum(1 for x in sent_at if x > at - dt.timedelta(days=policy.cap_days)),
                           now=at, tz=facts.tz)
            if d.verdict == "defer" and d.until:
                plan.append({"at": at, "step": i, "type": "deferred", "what": d.reason})
                at = now = d.until  # the entry waits with it
            verdict = "send" if d.verdict in ("send", "defer") else "skip"
            if verdict == "send" and purpose == "marketing":
                sent_at.append(at)
            plan.append({"at": at, "step": i, "type": channel, "would": verdict, "reason": d.reason if verdict ==
                         "skip" else None, "to": address, **{k: v for k, v in body.items() if k != "channel"}})
        if res.next is None:
            if res.outcome:
                plan.append({"at": now, "step": i, "type": "exit", "what": res.outcome})
            break
        state = EntryState(res.next, None, None, variant)
    return {"flow": flow.name, "person_id": person_id, "start": t0,
            "tz": facts.tz, "plan": plan, "messages": sum(1 for p in plan if p.get("would") == "send")}
