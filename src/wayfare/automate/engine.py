"""The pure step function: given an entry's state, the node it stands on and the time, what happens next."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .model import Exit, Wait, parse_duration

__all__ = ["EntryState", "Step", "advance"]


@dataclass(frozen=True)
class EntryState:
    step: int
    wake_at: dt.datetime | None = None


@dataclass(frozen=True)
class Step:
    next: int | None            # the step index to stand on next; None: the entry has finished
    actions: list[Any] = field(default_factory=list)  # nodes to perform now (email, sms, webhook, task)
    wake_at: dt.datetime | None = None  # set when the entry must sleep on ``next``


def advance(state: EntryState, node: Any, now: dt.datetime) -> Step:
    if isinstance(node, Wait):
        if state.wake_at is None:
            wake = now + parse_duration(node.duration)
            return Step(state.step, [], wake) if wake > now else Step(state.step + 1)
        if now >= state.wake_at:
            return Step(state.step + 1)
        return Step(state.step, [], state.wake_at)
    if isinstance(node, Exit):
        return Step(None)
    return Step(state.step + 1, [node])
