"""The identity graph, merge rules, identifier normalisation, profile traits and timelines.

The names below load on first use (identifier normalisation alone needs no store)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
