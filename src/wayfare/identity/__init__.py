"""The identity graph, merge rules, identifier normalisation, profile traits and timelines."""

from .normalize import normalize_email, normalize_id, normalize_phone
from .profiles import find_person, person_summary, timeline
from .resolver import IdentityResolver, Resolution, new_person_id

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
