"""Policies enforced centrally in the send path, as values that return decisions.

:func:`decide` is pure: consent per channel and purpose, the suppression list (unsubscribes take effect
at once because it is read at send time), the per-person pause, the workspace pause, quiet hours in the
recipient's own time zone and a frequency cap on marketing across all flows. Settings live per
workspace (``workspaces.settings.automations``)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import orjson

from ..errors import ValidationError
from ..store import Scope
from .engine import local_next, zone

__all__ = ["Policy", "Decision", "decide", "get_policy", "set_policy", "in_quiet_hours"]


@dataclass(frozen=True)
class Policy:
    paused: bool = False
    cap: int = 2                 # marketing messages per person ...
    cap_days: int = 7            # ... per this many days, across all flows
    quiet_start: str = "21:00"   # local time in the recipient's zone
    quiet_end: str = "08:00"
    default_tz: str = "UTC"


@dataclass(frozen=True)
class Decision:
    verdict: Literal["send", "skip", "defer"]
    reason: str | None = None
    until: dt.datetime | None = None


def _mins(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def in_quiet_hours(policy: Policy, now: dt.datetime, tz: str | None) -> dt.datetime | None:
    """When quiet hours end (naive UTC) if ``now`` is inside them for that zone, else None."""
    local = now.replace(tzinfo=dt.UTC).astimezone(zone(tz or policy.default_tz))
    t, s, e = local.hour * 60 + local.minute, _mins(policy.quiet_start), _mins(policy.quiet_end)
    quiet = (s <= t or t < e) if s > e else (s <= t < e)
    return local_next(now, policy.quiet_end, tz or policy.default_tz) if quiet else None


def decide(policy: Policy, *, channel: str, purpose: str, address: str | None, consent: str | None,
           suppressed: str | None, person_paused: bool, recent_marketing: int, now: dt.datetime,
           tz: str | None) -> Decision:
    """May this message go now? ``consent`` is the person's latest status for (channel, purpose)."""
    if channel in ("email", "sms") and not address:
        return Decision("skip", f"no {'email address' if channel == 'email' else 'phone number'}")
    if suppressed and (purpose == "marketing" or suppressed in ("bounce", "complaint", "erased", "manual")):
        return Decision("skip", f"suppressed ({suppressed})")
    if person_paused:
        return Decision("skip", "automations paused for this person")
    if purpose == "marketing" and channel in ("email", "sms") and consent != "granted":
        return Decision("skip", f"no marketing consent for {channel}")
    if purpose == "transactional" and consent == "withdrawn":
        return Decision("skip", f"transactional {channel} withdrawn")
    if policy.paused:
        return Decision("defer", "automations paused for the workspace", now + dt.timedelta(hours=1))
    if purpose == "marketing" and channel in ("email", "sms"):
        until = in_quiet_hours(policy, now, tz)
        if until is not None:
            return Decision("defer", f"quiet hours {policy.quiet_start}-{policy.quiet_end} ({tz or policy.default_tz})",
                            until)
        if recent_marketing >= policy.cap:
            return Decision("skip", f"frequency cap: {policy.cap} marketing messages per {policy.cap_days} days")
    return Decision("send")


def get_policy(scope: Scope) -> Policy:
    row = scope.store.cursor().execute("SELECT settings FROM workspaces WHERE id = ?", [scope.workspace_id]).fetchone()
    cfg = (orjson.loads(row[0]) if row and row[0] else {}).get("automations") or {}
    return Policy(**{k: v for k, v in cfg.items() if k in Policy.__dataclass_fields__})


def set_policy(scope: Scope, **changes: Any) -> Policy:
    """Change the workspace's automation settings (``paused``, ``cap``, ``cap_days``, ``quiet_start`` ...)."""
    for k in ("quiet_start", "quiet_end"):
        if k in changes and not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", str(changes[k])):
            raise ValidationError(f"{k} is a local time like 08:00, not {changes[k]!r}", where=k)
    for k in ("cap", "cap_days"):
        if k in changes and (not isinstance(changes[k], int) or changes[k] < (0 if k == "cap" else 1)):
            raise ValidationError(f"{k} is a whole number (cap >= 0, cap_days >= 1)", where=k)
    if "default_tz" in changes and zone(changes["default_tz"]) is dt.UTC and changes["default_tz"] != "UTC":
        raise ValidationError(f"unknown time zone {changes['default_tz']!r}", where="default_tz")
    with scope.store.write_lock:
        con = scope.store.cursor()
        row = con.execute("SELECT settings FROM workspaces WHERE id = ?", [scope.workspace_id]).fetchone()
        settings = orjson.loads(row[0]) if row and row[0] else {}
        pol = replace(get_policy(scope), **{k: v for k, v in changes.items() if v is not None})
        settings["automations"] = asdict(pol)
        con.execute("UPDATE workspaces SET settings = ? WHERE id = ?", [orjson.dumps(settings).decode(),
                                                                      scope.workspace_id])
    return pol
