"""Where the voice of the customer sits in the event stream: survey answers, reviews, tickets, mentions.

Any event counts whose properties carry a score (``nps_score``/``nps``, ``csat_score``/``csat``,
``ces_score``/``ces``, ``rating``) or a text (``comment``, ``text``, ``review``, ``feedback``, ``message``,
``body``, ``subject``), whatever its name, so a business's own survey tool needs no mapping.
"""

from __future__ import annotations

import pandas as pd

from ..store import Scope

__all__ = ["TEXT_KEYS", "feedback_frame", "feedback_sql"]

TEXT_KEYS = ("comment", "text", "review", "feedback", "message", "body", "subject")
SCORE_KEYS = {"nps": ("nps_score", "nps"), "csat": ("csat_score", "csat"), "ces": ("ces_score", "ces"),
              "rating": ("rating", "stars")}


def _num(keys: tuple[str, ...]) -> str:
    return "coalesce(" + ", ".join(f"TRY_CAST(json_extract_string(properties, '$.{k}') AS DOUBLE)" for k in keys) + ")"


def feedback_sql(where: str = "TRUE", extra: str = "") -> str:
    """One row per event that carries feedback: ts, person, event, channel, text, nps, csat, ces, rating."""
    text = "coalesce(" + ", ".join(f"NULLIF(trim(json_extract_string(properties, '$.{k}')), '')" for k in TEXT_KEYS) + ")"
    scores = ", ".join(f"{_num(keys)} AS {name}" for name, keys in SCORE_KEYS.items())
    return (f"SELECT message_id, ts, person_id, event, channel, {text} AS text, {scores}{extra} FROM events "
            f"WHERE type = 'track' AND properties IS NOT NULL AND ({where})")


def feedback_frame(scope: Scope, since: str | None = None, people_sql: str | None = None) -> pd.DataFrame:
    """Feedback events of the workspace (optionally since a date, optionally only people from ``people_sql``)."""
    where = ["TRUE"]
    params: dict = {}
    if since:
        where.append("ts >= CAST($since AS TIMESTAMP)")
        params["since"] = since
    if people_sql:
        where.append(f"person_id IN ({people_sql})")
    sql = feedback_sql(" AND ".join(where))
    df = scope.df(f"SELECT * FROM ({sql}) WHERE text IS NOT NULL OR nps IS NOT NULL OR csat IS NOT NULL "
                  "OR ces IS NOT NULL OR rating IS NOT NULL ORDER BY ts", params)
    return df
