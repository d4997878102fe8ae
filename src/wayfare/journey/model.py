"""The journey map as a business describes it: stages in order, touchpoints matched by event name, type,
channel and property rules (online and offline alike), and personas as rules. Pydantic models at the
boundary (YAML); ``rules.py`` compiles them to SQL.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Match", "Touchpoint", "Stage", "PersonaRule", "PersonaDef", "JourneyMap", "DEFAULT_STAGES", "ONLINE_CHANNELS"]

DEFAULT_STAGES = ("Awareness", "Consideration", "Decision", "Purchase", "Post-purchase", "Loyalty/Advocacy")
ONLINE_CHANNELS = ("web", "app", "email", "sms", "social", "review", "survey", "chat", "import")
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z_][A-Za-z0-9_\-]*)*$")
OPS = ("equals", "not", "in", "gt", "gte", "lt", "lte", "exists", "contains")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _as_list(v: Any) -> Any:
    return [v] if isinstance(v, str | int | float) else v


class Condition(_Strict):
    """One property test: ``{equals: x}``, ``{in: [..]}``, ``{gt|gte|lt|lte: n}``, ``{exists: true}``, ``{contains: s}``."""

    equals: str | int | float | bool | None = None
    not_: str | int | float | bool | None = Field(None, alias="not")
    in_: list[str | int | float] | None = Field(None, alias="in")
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    exists: bool | None = None
    contains: str | None = None

    @model_validator(mode="after")
    def _one_at_least(self) -> Condition:
        if all(getattr(self, f) is None for f in type(self).model_fields):
            raise ValueError(f"a condition needs one of {', '.join(OPS)}")
        return self


class Match(_Strict):
    """Every given field must hold. ``event`` matches names exactly (any case); ``event_matches`` is a regular expression."""

    event: list[str] | None = None
    event_matches: str | None = None
    type: list[Literal["track", "identify", "page", "screen", "group", "alias"]] | None = None
    channel: list[str] | None = None
    properties: dict[str, Condition] | None = None

    _lists = field_validator("event", "type", "channel", mode="before")(_as_list)

    @field_validator("event_matches")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"not a regular expression: {e}") from None
        return v

    @field_validator("properties", mode="before")
    @classmethod
    def _props(cls, v: Any) -> Any:
        if isinstance(v, dict):
            out = {}
            for k, c in v.items():
                if k.startswith("__"):
                    continue
                if not _KEY_RE.match(str(k)):
                    raise ValueError(f"property names are letters, digits, _ and - (dots for nesting): {k!r}")
                out[k] = c if isinstance(c, dict) else {"equals": c}
            return out
        return v

    @model_validator(mode="after")
    def _something(self) -> Match:
        if not any((self.event, self.event_matches, self.type, self.channel, self.properties)):
            raise ValueError("a match needs at least one of event, event_matches, type, channel, properties")
        return self


class Touchpoint(_Strict):
    name: str = Field(min_length=1, max_length=120)
    match: list[Match]
    description: str | None = None

    @field_validator("match", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, dict) else v


class Stage(_Strict):
    name: str = Field(min_length=1, max_length=80)
    description: str | None = None
    touchpoints: list[Touchpoint] = Field(default_factory=list)


class PersonaRule(_Strict):
    """A test on a profile trait (``trait: city``) or a behaviour figure (``metric: orders``)."""

    trait: str | None = None
    metric: Literal["orders", "revenue", "avg_order", "days_since_last", "online_share", "weekend_share",
                    "tickets", "nps"] | None = None
    equals: str | int | float | bool | None = None
    in_: list[str | int | float] | None = Field(None, alias="in")
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    exists: bool | None = None
    contains: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> PersonaRule:
        if (self.trait is None) == (self.metric is None):
            raise ValueError("a persona rule tests either a trait or a metric")
        if self.trait is not None and not _KEY_RE.match(self.trait):
            raise ValueError(f"trait names are letters, digits, _ and -: {self.trait!r}")
        if all(getattr(self, f) is None for f in ("equals", "in_", "gt", "gte", "lt", "lte", "exists", "contains")):
            raise ValueError(f"a persona rule needs one of {', '.join(OPS[:1] + OPS[2:])}")
        return self


class PersonaDef(_Strict):
    name: str = Field(min_length=1, max_length=80)
    description: str | None = None
    rules: list[PersonaRule] = Field(min_length=1)


class JourneyMap(_Strict):
    name: str = "default"
    purchase_stage: str = "Purchase"
    stages: list[Stage] = Field(min_length=2)
    personas: list[PersonaDef] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names(self) -> JourneyMap:
        seen: set[str] = set()
        for s in self.stages:
            if s.name.lower() in seen:
                raise ValueError(f"two stages are called {s.name!r}")
            seen.add(s.name.lower())
        tps: set[str] = set()
        for s in self.stages:
            for t in s.touchpoints:
                key = t.name.lower()
                if key in tps:
                    raise ValueError(f"two touchpoints are called {t.name!r}")
                tps.add(key)
        if self.purchase_stage.lower() not in seen:
            raise ValueError(f"purchase_stage {self.purchase_stage!r} is not one of the stages")
        names = [p.name.lower() for p in self.personas]
        if len(set(names)) != len(names):
            raise ValueError("two personas have the same name")
        return self

    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]

    def purchase_index(self) -> int:
        return [s.name.lower() for s in self.stages].index(self.purchase_stage.lower())
