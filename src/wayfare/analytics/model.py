"""Typed queries: what the owner asks, validated once at the boundary (CLI, HTTP, saved definitions).

A step is written the way people say it: ``Order Completed where channel = pos and amount > 20``.
Fields are event columns (``channel``, ``source``, ``type``, ``revenue`` ...) or event properties
(``amount`` or ``properties.amount``); values are bare words or quoted strings; operators are
``= != > >= < <= contains``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from ..errors import ValidationError

__all__ = ["Condition", "Step", "Exclusion", "FunnelQuery", "PathsQuery", "RetentionQuery", "parse_duration",
           "parse_step", "EVENT_COLUMNS"]

EVENT_COLUMNS = ("event", "type", "channel", "source", "revenue", "user_id", "anonymous_id", "person_id")
OPS = ("=", "!=", ">=", "<=", ">", "<", "contains")
_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|m|min|mins|h|hr|hours?|d|days?|w|weeks?)\s*$", re.I)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# a breakdown names a trait or property as imported ("traits.Customer Type"): dot-separated parts without what a
# JSON path reads as syntax ('[' and '"' were DuckDB binder errors, '*' and empty parts wildcards)
BY_PART = "[^.\\[\\]\"*\\u0000-\\u001f]+"
_BY = re.compile(f"^{BY_PART}(\\.{BY_PART})*$")


def parse_duration(text: str | int | float, where: str = "duration") -> int:
    """``30m``, ``2h``, ``7d``, ``2w``, ``90s`` (or a number of seconds) -> seconds."""
    if isinstance(text, int | float):
        secs = int(text)
    else:
        m = _DUR.match(str(text))
        if not m:
            if str(text).strip().isdigit():
                return int(str(text).strip())
            raise ValidationError(f"{text!r} is not a duration; write e.g. 30m, 12h, 7d or 2w", where=where)
        unit = m.group(2)[0].lower()
        secs = int(float(m.group(1)) * _UNIT[unit])
    if secs <= 0:
        raise ValidationError("a duration must be positive", where=where)
    return secs


class Condition(BaseModel):
    """``field op value``: field is an event column or a property (``properties.x`` or plain ``x``)."""

    field: str
    op: Literal["=", "!=", ">", ">=", "<", "<=", "contains"] = "="
    value: str | float | int | bool

    @field_validator("field")
    @classmethod
    def _field(cls, v: str) -> str:
        if not _KEY.match(v):
            raise ValueError(f"{v!r} is not a field name (letters, digits, _ and dots)")
        return v

    def text(self) -> str:
        return f"{self.field} {self.op} {self.value}"


class Step(BaseModel):
    event: str = Field(min_length=1)
    where: list[Condition] = []
    label: str | None = None

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        return self.event + (" where " + " and ".join(c.text() for c in self.where) if self.where else "")


class Exclusion(BaseModel):
    """People whose attempt has this event strictly between step ``after`` and step ``before`` (1-based)
    lose that attempt from step ``before`` on."""

    step: Step
    after: int = 1
    before: int = 2


class FunnelQuery(BaseModel):
    steps: list[Step] = Field(min_length=1, max_length=20)
    within: int = 7 * 86400  # seconds from the first step
    exclusions: list[Exclusion] = []
    by: str | None = None  # "persona", "first_touch", "traits.x", an event column or a property of step 1
    order: Literal["strict", "loose"] = "strict"  # loose: steps 1..k in any order within the window

    @field_validator("by")
    @classmethod
    def _by(cls, v: str | None) -> str | None:
        # the name becomes a JSON path: "a[b" was a server error (schemathesis found it)
        if v and not _BY.match(v):
            raise ValueError(f"{v!r} is not a field name (parts joined by dots, without [ ] \" or *)")
        return v or None

    @field_validator("within", mode="before")
    @classmethod
    def _within(cls, v):
        return parse_duration(v, "within")

    def model_post_init(self, _ctx) -> None:
        if self.order == "loose" and self.exclusions:
            raise ValidationError("exclusions sit between ordered steps; use --order strict with --exclude",
                                  where="order")
        for x in self.exclusions:
            if not 1 <= x.after < x.before <= len(self.steps):
                raise ValidationError(f"an exclusion must sit between two steps 1..{len(self.steps)}",
                                      where=f"exclusion {x.step.name!r}")


class PathsQuery(BaseModel):
    start: str | None = None  # paths starting at this event
    end: str | None = None  # paths ending at this event
    session_gap: int = 30 * 60
    depth: int = Field(4, ge=1, le=10)
    min_count: int = Field(1, ge=1)
    limit: int = Field(20, ge=1, le=1000)
    collapse_repeats: bool = False  # consecutive repeats of one event count as one step


class RetentionQuery(BaseModel):
    period: Literal["day", "week", "month"] = "week"
    periods: int = Field(8, ge=1, le=120)
    cohort_event: str | None = None  # None: any event
    return_event: str | None = None  # None: any event


_WORD = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[^\s]+'
_COND = re.compile(rf"^\s*([A-Za-z_][\w.]*)\s*(!=|>=|<=|=|>|<|\bcontains\b)\s*({_WORD})\s*$", re.I)


def _value(tok: str) -> str | float:
    if len(tok) >= 2 and tok[0] == tok[-1] and tok[0] in "\"'":
        return tok[1:-1].replace("\\" + tok[0], tok[0])
    try:
        return float(tok) if re.match(r"^-?\d+(\.\d+)?$", tok) else tok
    except ValueError:
        return tok


def parse_step(text: str) -> Step:
    """``Order Completed where channel = pos and amount > 20`` -> Step."""
    parts = re.split(r"\s+where\s+", text.strip(), maxsplit=1, flags=re.I)
    event = parts[0].strip().strip("\"'")
    if not event:
        raise ValidationError("a step needs an event name", where=f"step {text!r}")
    conds: list[Condition] = []
    if len(parts) == 2:
        for clause in re.split(r"\s+and\s+", parts[1], flags=re.I):
            m = _COND.match(clause)
            if not m:
                raise ValidationError(f"cannot read condition {clause!r}; write `field = value` "
                                      "(ops: = != > >= < <= contains)", where=f"step {text!r}")
            conds.append(Condition(field=m.group(1), op=m.group(2).lower(), value=_value(m.group(3))))
    return Step(event=event, where=conds)
