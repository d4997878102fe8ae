"""Identifier normalisation: the same person typed two ways must become one identifier."""

from __future__ import annotations

import functools
import os
import re

import phonenumbers

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def default_region() -> str:
    return os.environ.get("WAYFARE_DEFAULT_REGION", "US").upper()


def normalize_email(raw: object) -> str | None:
    """Lower-case, trimmed; ``None`` when it is not an address. Dots and +tags are kept (they are real)."""
    if raw is None:
        return None
    s = str(raw).strip().lower()
    if s.startswith("mailto:"):
        s = s[7:]
    return s if _EMAIL_RE.match(s) else None


def normalize_phone(raw: object, region: str | None = None) -> str | None:
    """E.164 (``+447700900123``) or ``None`` when it cannot be a phone number. Numbers without a country code
    are read in ``region`` (default: ``$WAYFARE_DEFAULT_REGION``, else US)."""
    if raw is None:
        return None
    return _phone(str(raw), region or default_region())


@functools.lru_cache(maxsize=200_000)
def _phone(raw: str, region: str) -> str | None:
    s = raw.strip()
    if not s or sum(c.isdigit() for c in s) < 6:
        return None
    if s.startswith("00"):
        s = "+" + s[2:]
    try:
        num = phonenumbers.parse(s, None if s.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def normalize_id(raw: object) -> str | None:
    """A customer id as text: trimmed, and ``17850.0`` (a float that came through a spreadsheet) as ``17850``."""
    if raw is None:
        return None
    if type(raw) is str and "." not in raw and raw.strip() == raw and raw:  # the common case, fast
        return raw if raw.lower() not in ("nan", "none", "null") else None
    if isinstance(raw, float):
        if raw != raw:  # NaN
            return None
        if raw.is_integer():
            return str(int(raw))
    s = str(raw).strip()
    if not s or s.lower() in ("nan", "none", "null"):
        return None
    if re.fullmatch(r"-?\d+\.0+", s):
        s = s.split(".")[0]
    return s
