"""The flow model: a trigger, then a flat graph of steps (a union discriminated by ``type``; edges are
step ids named by ``next``, ``then``, ``else`` and split variants), a goal and re-entry rules.

A step without an explicit edge moves on to the step below it. The same model is the JSON of the API.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Flow", "Trigger", "Cond", "Wait", "Condition", "Split", "Variant", "Email", "Sms", "Webhook", "Task",
           "Update", "Feedback", "Exit", "Approval", "Node", "NODE_TYPES", "MESSAGE_TYPES", "parse_duration",
           "match_props"]

_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "exists", "missing", "contains")


def parse_duration(text: str) -> dt.timedelta:
    """``30m``, ``2h``, ``3d``, ``1w`` (``-24h`` for "before") → a timedelta."""
    s = str(text).strip()
    sign = -1 if s.startswith("-") else 1
    m = _DUR.match(s.lstrip("-"))
    if not m:
        raise ValueError(f"a duration looks like 30m, 2h, 3d or 1w, not {text!r}")
    return sign * dt.timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)])


def _dur(v: str | None) -> str | None:
    if v is not None:
        parse_duration(v)
    return v


def _hhmm(v: str) -> str:
    if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", str(v)):
        raise ValueError(f"a local time looks like 09:00, not {v!r}")
    return v


def compare(actual: Any, op: str, value: Any) -> bool:
    """One comparison of a condition (numbers compared as numbers when both sides are)."""
    if op == "exists":
        return actual not in (None, "")
    if op == "missing":
        return actual in (None, "")
    if actual is None:
        return op == "ne"
    if op == "in":
        return actual in (value or []) or str(actual) in [str(v) for v in (value or [])]
    if op == "contains":
        return str(value) in (actual if isinstance(actual, list) else str(actual))
    try:
        a, b = float(actual), float(value)
    except (TypeError, ValueError):
        a, b = str(actual).lower(), str(value).lower()  # type: ignore[assignment]
    return {"eq": a == b, "ne": a != b, "gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]


def match_props(props: dict, where: dict[str, Any]) -> bool:
    """``where: {plan: pro, revenue: {gt: 50}}``: every property matches."""
    for k, want in where.items():
        if isinstance(want, dict):
            if not all(compare(props.get(k), op, v) for op, v in want.items()):
                return False
        elif not compare(props.get(k), "eq", want):
            return False
    return True


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Cond(_Base):
    """One test: a trait, a property of the trigger event, a prediction score, or an event since entry."""
    trait: str | None = None
    property: str | None = None
    score: str | None = Field(None, description="A prediction stored as a trait, e.g. churn_risk.")
    event: str | None = Field(None, description="True when this event happened since the entry (or within).")
    where: dict[str, Any] = Field(default_factory=dict)
    within: str | None = None
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "exists", "missing", "contains"] = "eq"
    value: Any = None
    all: list[Cond] | None = None
    any: list[Cond] | None = None

    _w = field_validator("within")(classmethod(lambda cls, v: _dur(v)))

    @model_validator(mode="after")
    def _one(self) -> Cond:
        kinds = [k for k in ("trait", "property", "score", "event", "all", "any") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a condition names exactly one of trait, property, score, event, all, any")
        if kinds[0] in ("trait", "property", "score") and self.op not in ("exists", "missing") and self.value is None:
            raise ValueError(f"the condition on {kinds[0]} needs a value (or op: exists)")
        return self


class Trigger(_Base):
    """What starts the flow: exactly one of event, segment, date, score, schedule."""
    event: str | None = Field(None, description="An event name, e.g. 'Order Completed'.")
    where: dict[str, Any] = Field(default_factory=dict, description="Property filters on the event.")
    first_time: bool = Field(False, description="Only the person's first such event ever.")
    segment: str | None = Field(None, description="A saved segment (analytics) to watch.")
    change: Literal["enter", "leave"] = "enter"
    date_trait: str | None = Field(None, description="A date trait: birthday, anniversary, appointment_at.")
    offset: str = Field("0d", description="When relative to the date: -24h for a day before, -7d a week before.")
    annual: bool | None = Field(None, description="Yearly dates (birthday); default true for birthday/anniversary.")
    at: str = Field("09:00", description="Local time of day for date and schedule triggers.")
    score: str | None = Field(None, description="A prediction trait, e.g. churn_risk.")
    above: float | None = None
    below: float | None = None
    schedule: Literal["daily", "weekly", "monthly"] | None = None
    weekday: str | None = None
    audience: Cond | None = Field(None, description="Who a schedule reaches (default: everyone with an email).")
    reentry: str = Field("every", description="every, once, while-inactive, or a gap such as 30d.")

    @field_validator("offset")
    @classmethod
    def _off(cls, v: str) -> str:
        return _dur(v) or v

    _at = field_validator("at")(classmethod(lambda cls, v: _hhmm(v)))

    @field_validator("weekday")
    @classmethod
    def _wd(cls, v: str | None) -> str | None:
        if v is not None and v[:3].lower() not in WEEKDAYS:
            raise ValueError(f"weekday is one of {', '.join(WEEKDAYS)}, not {v!r}")
        return v

    @field_validator("reentry")
    @classmethod
    def _re(cls, v: str) -> str:
        if v not in ("every", "once", "while-inactive"):
            try:
                parse_duration(v)
            except ValueError:
                raise ValueError(f"reentry is every, once, while-inactive or a gap such as 30d, not {v!r}") from None
        return v

    @model_validator(mode="after")
    def _kind(self) -> Trigger:
        kinds = [k for k in ("event", "segment", "date_trait", "score", "schedule") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("a trigger names exactly one of event, segment, date_trait, score, schedule")
        if self.score and (self.above is None) == (self.below is None):
            raise ValueError("a score trigger names a threshold: above: 0.7 or below: 0.2")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("event", "segment", "date_trait", "score", "schedule") if getattr(self, k))


class Approval(_Base):
    timeout: str = Field("2d", description="How long the message waits for a person.")
    on_timeout: Literal["send", "skip"] = "skip"
    _t = field_validator("timeout")(classmethod(lambda cls, v: _dur(v)))


class _Step(_Base):
    id: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    next: str | None = Field(None, description="The step id to go to after this one (default: the one below).")


class Wait(_Step):
    """Sleep a duration, until a weekday and local time, or until an event happens (with a timeout)."""
    type: Literal["wait"]
    duration: str | None = None
    until_weekday: str | None = None
    until_time: str | None = None
    event: str | None = Field(None, description="Wait until this event happens; `then` when it does, `else` on timeout.")
    where: dict[str, Any] = Field(default_factory=dict)
    timeout: str | None = None
    then: str | None = None
    else_: str | None = Field(None, alias="else")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    _d = field_validator("duration", "timeout")(classmethod(lambda cls, v: _dur(v)))

    @field_validator("until_time")
    @classmethod
    def _ut(cls, v: str | None) -> str | None:
        return _hhmm(v) if v is not None else v

    @field_validator("until_weekday")
    @classmethod
    def _uw(cls, v: str | None) -> str | None:
        if v is not None and v[:3].lower() not in WEEKDAYS:
            raise ValueError(f"until_weekday is one of {', '.join(WEEKDAYS)}, not {v!r}")
        return v

    @model_validator(mode="after")
    def _kind(self) -> Wait:
        kinds = sum(x is not None for x in (self.duration, self.until_time or self.until_weekday, self.event))
        if kinds != 1:
            raise ValueError("a wait has exactly one of duration, until_time (with until_weekday), event")
        if self.event and not self.timeout:
            raise ValueError("a wait for an event needs a timeout, e.g. timeout: 1d")
        return self


class Condition(_Step):
    type: Literal["condition"]
    if_: Cond = Field(..., alias="if")
    then: str | None = None
    else_: str | None = Field(None, alias="else")
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Variant(_Base):
    name: str = Field(..., pattern=r"^[A-Za-z0-9_-]{1,40}$")
    weight: float = Field(1, gt=0)
    next: str | None = None


class Split(_Step):
    """A/B/n: people are assigned by a hash of flow and person; ``holdout`` percent leave and get nothing."""
    type: Literal["split"]
    variants: list[Variant] = Field(..., min_length=1)
    holdout: float = Field(0, ge=0, lt=100)


class _Message(_Step):
    approval: Approval | None = None
    purpose: Literal["transactional", "marketing"] | None = None


class Email(_Message):
    type: Literal["email"]
    subject: str
    text: str
    html: str | None = None


class Feedback(_Message):
    """An NPS (or CSAT) question by email with one link per score."""
    type: Literal["feedback"]
    kind: Literal["nps", "csat"] = "nps"
    subject: str = "A quick question"
    question: str = "How likely are you to recommend us to a friend or colleague?"
    survey_url: str = "{{ site_url }}/feedback"


class Sms(_Message):
    type: Literal["sms"]
    text: str


class Webhook(_Step):
    type: Literal["webhook"]
    url: str
    secret_env: str = Field("WAYFARE_WEBHOOK_SECRET", description="The environment variable holding the signing key.")
    payload: dict[str, Any] = Field(default_factory=dict)


class Task(_Step):
    type: Literal["task"]
    title: str
    due: str = "1d"
    assignee: str | None = None
    _d = field_validator("due")(classmethod(lambda cls, v: _dur(v)))


class Update(_Step):
    """Set traits and add or remove tags on the profile."""
    type: Literal["update"]
    set: dict[str, Any] = Field(default_factory=dict)
    add_tags: list[str] = Field(default_factory=list)
    remove_tags: list[str] = Field(default_factory=list)


class Exit(_Step):
    type: Literal["exit"]


Node = Annotated[Wait | Condition | Split | Email | Feedback | Sms | Webhook | Task | Update | Exit,
                 Field(discriminator="type")]
NODE_TYPES = ("wait", "condition", "split", "email", "feedback", "sms", "webhook", "task", "update", "exit")
MESSAGE_TYPES = ("email", "feedback", "sms", "webhook")


class Goal(_Base):
    event: str
    where: dict[str, Any] = Field(default_factory=dict)


class Flow(_Base):
    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    description: str = ""
    purpose: Literal["transactional", "marketing"] = "marketing"
    trigger: Trigger
    steps: list[Node] = Field(..., min_length=1)
    goal: Goal | None = Field(None, description="Leave the flow (a conversion) when this event happens.")
    attribution: str = Field("7d", description="Conversions and revenue count within this window after a message.")
    _a = field_validator("attribution")(classmethod(lambda cls, v: _dur(v)))

    @model_validator(mode="after")
    def _edges(self) -> Flow:
        ids: dict[str, int] = {}
        for i, s in enumerate(self.steps):
            if s.id:
                if s.id in ids:
                    raise ValueError(f"step id {s.id!r} is used twice (steps {ids[s.id]} and {i})")
                ids[s.id] = i
        for i, s in enumerate(self.steps):
            targets = [s.next, getattr(s, "then", None), getattr(s, "else_", None)]
            targets += [v.next for v in getattr(s, "variants", None) or []]
            for t in targets:
                if t is not None and t not in ids:
                    raise ValueError(f"steps.{i} goes to {t!r}, which is no step id (ids: {', '.join(ids) or 'none'})")
        return self

    def index(self, step_id: str | None, default: int) -> int:
        if step_id is None:
            return default
        return next(i for i, s in enumerate(self.steps) if s.id == step_id)

    def after(self, i: int) -> int:
        """Where the step ``i`` goes when it is done (its ``next`` or the step below)."""
        return self.index(self.steps[i].next, i + 1)
