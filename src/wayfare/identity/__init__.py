"""The identity graph, merge rules, identifier normalisation, profile traits and timelines.

The names below load on first use (identifier normalisation alone needs no store)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy

if TYPE_CHECKING:  # pragma: no cover
    from .normalize import normalize_email, normalize_id, normalize_phone
    from .profiles import find_person, person_summary, timeline
    from .resolver import IdentityResolver, Resolution, new_person_id

_LAZY = {
    "normalize_email": "normalize", "normalize_id": "normalize", "normalize_phone": "normalize",
    "find_person": "profiles", "person_summary": "profiles", "timeline": "profiles",
    "IdentityResolver": "resolver", "Resolution": "resolver", "new_person_id": "resolver",
}  # fmt: skip

__all__ = [
    "IdentityResolver",
    "Resolution",
    "new_person_id",
    "normalize_email",
    "normalize_id",
    "normalize_phone",
    "find_person",
    "person_summary",
    "timeline",
]

__getattr__, __dir__ = lazy(__name__, _LAZY, __all__)
