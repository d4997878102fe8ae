"""The pure step function: given a flow, an entry's state, the facts about the person and the time,
what happens next. No I/O: the worker persists, sends and records (and the dry run replays it)."""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .model import WEEKDAYS, Cond, Condition, Exit, Flow, Split, Wait, compare, parse_duration

__all__ = ["EntryState", "Facts", "Step", "advance", "evaluate", "assign_variant", "local_next", "zone"]


@dataclass(frozen=True)
class EntryState:
    step: int
    wake_at: dt.datetime | None = None   # naive UTC
    since: dt.datetime | None = None     # when a wait for an event started
    variant: str | None = None


@dataclass
class Facts:
    """What the engine may know about a person: traits, the trigger event's properties, their time
    zone, and whether an event happened in a window (``happened(event, where, since, until)``)."""
    person: dict[str, Any] = field(default_factory=dict)
    event: dict[str, Any] = field(default_factory=dict)
    entered_at: dt.datetime | None = None
    tz: str = "UTC"
    happened: Callable[[str, dict, dt.datetime, dt.datetime], bool] = lambda *a: False


@dataclass(frozen=True)
class Step:
    next: int | None                     # the step index to stand on next; None: the entry has finished
    actions: list[Any] = field(default_factory=list)  # message/task/update nodes to perform now
    wake_at: dt.datetime | None = None   # set when the entry must sleep on ``next``
    since: dt.datetime | None = None
    variant: str | None = None
    outcome: str | None = None           # why the entry ended: exit, holdout, else


def zone(name: str | None) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(str(name)) if name else dt.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def local_next(now: dt.datetime, hhmm: str, tz: str | None, weekday: str | None = None) -> dt.datetime:
    """The first naive-UTC instant at or after ``now`` that is ``hhmm`` local (on ``weekday`` if given)."""
    z = zone(tz)
    local = now.replace(tzinfo=dt.UTC).astimezone(z)
    h, m = (int(x) for x in hhmm.split(":"))
    for add in range(0, 8):
        day = (local + dt.timedelta(days=add)).date()
        if weekday and WEEKDAYS[day.weekday()] != weekday[:3].lower():
            continue
        cand = dt.datetime(day.year, day.month, day.day, h, m, tzinfo=z)
        if cand >= local:
            return cand.astimezone(dt.UTC).replace(tzinfo=None)
    raise AssertionError("unreachable: a week always holds the weekday")


def assign_variant(flow_name: str, person_id: str, split: Split) -> str:
    """Deterministic: the same person always lands in the same group of the same flow."""
    x = int(hashlib.sha256(f"{flow_name}|{person_id}".encode()).hexdigest()[:12], 16) / 16**12 * 100
    if x < split.holdout:
        return "holdout"
    x = (x - split.holdout) / (100 - split.holdout) * sum(v.weight for v in split.variants)
    for v in split.variants:
        if x < v.weight:
            return v.name
        x -= v.weight
    return split.variants[-1].name


def evaluate(c: Cond, facts: Facts, now: dt.datetime) -> bool:
    if c.all is not None:
        return all(evaluate(x, facts, now) for x in c.all)
    if c.any is not None:
        return any(evaluate(x, facts, now) for x in c.any)
    if c.event:
        since = now - parse_duration(c.within) if c.within else (facts.entered_at or now)
        hit = facts.happened(c.event, c.where, since, now)
        return hit if c.op != "missing" else not hit
    if c.trait:
        return compare(facts.person.get(c.trait), c.op, c.value)
    if c.score:
        return compare(facts.person.get(c.score), c.op, c.value)
    return compare(facts.event.get(c.property or ""), c.op, c.value)


def advance(flow: Flow, state: EntryState, now: dt.datetime, facts: Facts | None = None) -> Step:
    facts = facts or Facts()
    i = state.step
    node = flow.steps[i]
    if isinstance(node, Wait):
        if node.event:
            if state.wake_at is None:
                return Step(i, [], now + parse_duration(node.timeout or "0s"), since=now)
            since = state.since or facts.entered_at or now
            if facts.happened(node.event, node.where, since, min(now, state.wake_at)):
                return Step(flow.index(node.then, flow.after(i)))
            if now >= state.wake_at:
                return Step(flow.index(node.else_, flow.after(i)))
            return Step(i, [], state.wake_at, since=state.since)
        if state.wake_at is None:
            if node.duration:
                wake = now + parse_duration(node.duration)
            else:
                wake = local_next(now, node.until_time or "09:00", facts.tz, node.until_weekday)
            return Step(i, [], wake) if wake > now else Step(flow.after(i))
        if now >= state.wake_at:
            return Step(flow.after(i))
        return Step(i, [], state.wake_at)
    if isinstance(node, Condition):
        if evaluate(node.if_, facts, now):
            return Step(flow.index(node.then, flow.after(i)))
        return Step(flow.index(node.else_, len(flow.steps)), outcome="else" if node.else_ is None else None)
    if isinstance(node, Split):
        v = state.variant or assign_variant(flow.name, str(facts.person.get("person_id", "")), node)
        if v == "holdout":
            return Step(None, variant=v, outcome="holdout")
        target = next(x.next for x in node.variants if x.name == v)
        return Step(flow.index(target, flow.after(i)), variant=v)
    if isinstance(node, Exit):
        return Step(None, outcome="exit")
    return Step(flow.after(i), [node])
