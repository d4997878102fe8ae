"""The flow model: a trigger, then a flat list of steps (a union discriminated by ``type``)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Flow", "Trigger", "Wait", "Email", "Sms", "Webhook", "Task", "Exit", "Node", "parse_duration"]

_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> dt.timedelta:
    """``30m``, ``2h``, ``3d``, ``1w`` → a timedelta."""
    m = _DUR.match(str(text))
    if not m:
        raise ValueError(f"a duration looks like 30m, 2h, 3d or 1w, not {text!r}")
    return dt.timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)])


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Trigger(_Base):
    event: str = Field(..., min_length=1, description="Event name that starts the flow, e.g. 'Order Completed'.")
    reentry: Literal["every", "once"] = "every"


class Wait(_Base):
    type: Literal["wait"]
    duration: str

    @field_validator("duration")
    @classmethod
    def _dur(cls, v: str) -> str:
        parse_duration(v)
        return v


class Email(_Base):
    type: Literal["email"]
    subject: str
    text: str
    html: str | None = None


class Sms(_Base):
    type: Literal["sms"]
    text: str


class Webhook(_Base):
    type: Literal["webhook"]
    url: str


class Task(_Base):
    type: Literal["task"]
    title: str
    due: str = "1d"


class Exit(_Base):
    type: Literal["exit"]


Node = Annotated[Wait | Email | Sms | Webhook | Task | Exit, Field(discriminator="type")]


class Flow(_Base):
    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    description: str = ""
    purpose: Literal["transactional", "marketing"] = "marketing"
    trigger: Trigger
    steps: list[Node] = Field(..., min_length=1)
