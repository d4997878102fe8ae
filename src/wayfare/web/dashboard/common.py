"""Facts several pages need: the data's "now", journey stages of event names, feedback scores, and
the engines (other wayfare packages) a page uses when they are installed.

Until an engine lands, pages compute their essentials here with plain SQL through the scope.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import logging
from types import ModuleType
from typing import Any

from ...store import Scope, utcnow

__all__ = ["anchor", "engine", "STAGES", "stage_of", "stage_case_sql", "stage_values_sql", "event_names", "FEEDBACK_SCORE_SQL",
           "ORDER_SQL", "persona_list", "safe_engine_call"]  # fmt: skip
log = logging.getLogger("wayfare.web.dashboard")

# Journey stages and the words in event names that place an event in them (first match wins).
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("Return & recommend", ("loyalty", "referral", "refer", "newsletter", "subscribed", "rebook", "repeat")),
    ("Experience", ("survey", "ticket", "review posted", "complaint", "feedback", "delivered", "refund", "return",
                    "visit completed", "appointment completed", "support")),
    ("Buy", ("order", "booked", "booking", "purchase", "checkout", "paid", "payment", "appointment", "charge")),
    ("Consider", ("viewed", "read", "enquiry", "inquiry", "browse", "hours", "menu", "cart", "compare", "product",
                  "search result", "price")),
    ("Discover", ("walked", "seen", "search", "maps", "recommended", "ad ", "ad clicked", "mention", "social",
                  "signed up", "page", "landing", "visit")),
]
STAGE_ORDER = ["Discover", "Consider", "Buy", "Experience", "Return & recommend"]


def stage_of(event: str | None) -> str:
    e = (event or "").lower()
    for stage, words in STAGES:
        if any(w in e for w in words):
            return stage
    return "Discover"


def stage_case_sql(col: str = "event") -> str:
    """A SQL CASE giving the stage of ``col`` (the same rules as :func:`stage_of`)."""
    parts = []
    for stage, words in STAGES:
        conds = " OR ".join(f"contains(lower(coalesce({col}, '')), '{w}')" for w in words)
        parts.append(f"WHEN {conds} THEN '{stage}'")
    return "CASE " + " ".join(parts) + " ELSE 'Discover' END"


def stage_values_sql(scope: Scope) -> str:
    """A small ``VALUES`` table (event, stage) for this workspace's event names: joining it is much
    cheaper than evaluating the stage rules on every event row."""
    names = [r[0] for r in scope.rows("SELECT DISTINCT event FROM events WHERE event IS NOT NULL")]
    if not names:
        return "(SELECT NULL::VARCHAR AS event, NULL::VARCHAR AS stage WHERE false)"
    rows = ", ".join("('{}', '{}')".format(n.replace("'", "''"), stage_of(n)) for n in names)
    return f"(SELECT * FROM (VALUES {rows}) AS v(event, stage))"


# One feedback score per event on a 0..1 scale: NPS/10, CSAT/5, review rating/5.
FEEDBACK_SCORE_SQL = (
    "coalesce(TRY_CAST(properties->>'nps_score' AS DOUBLE) / 10, TRY_CAST(properties->>'csat_score' AS DOUBLE) / 5, "
    "TRY_CAST(properties->>'rating' AS DOUBLE) / 5)"
)
# An order: an event with revenue.
ORDER_SQL = "revenue IS NOT NULL AND revenue > 0"


def anchor(scope: Scope) -> dt.datetime:
    """The data's "now": the latest event if it is in the past (demo and imported data), else now."""
    row = scope.one("SELECT max(ts) FROM events")
    now = utcnow()
    return min(now, row[0]) if row and row[0] else now


def event_names(scope: Scope, limit: int = 60) -> list[str]:
    return [r[0] for r in scope.rows(
        "SELECT event FROM events WHERE event IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT $n", {"n": limit})]


def persona_list(scope: Scope) -> list[str]:
    return [r[0] for r in scope.rows(
        "SELECT coalesce(traits->>'persona', traits->>'demo_persona') p FROM profiles WHERE p IS NOT NULL "
        "GROUP BY 1 ORDER BY count(*) DESC LIMIT 12")]


def engine(name: str) -> ModuleType | None:
    """The wayfare package ``name`` (analytics, journey, feedback, ...) if it is installed, else None."""
    full = f"wayfare.{name}"
    try:
        if importlib.util.find_spec(full) is None:
            return None
        return importlib.import_module(full)
    except Exception as e:  # a half-landed engine must not break the page
        log.warning("engine %s could not be imported: %s", full, e)
        return None


def safe_engine_call(name: str, func: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``wayfare.<name>.<func>(*args)`` if the engine provides it; None if absent or failing."""
    mod = engine(name)
    fn = getattr(mod, func, None) if mod else None
    if not callable(fn):
        return None
    try:
        return fn(*args, **kwargs)
    except Exception as e:
        log.warning("engine %s.%s failed, using the built-in figures: %s", name, func, e)
        return None
