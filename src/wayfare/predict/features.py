"""Behavioural features per person as of a cutoff, and labels from the window after it.

Features read only events strictly before the cutoff; labels read only events in
[cutoff, cutoff + horizon). Profile traits are never features, so protected attributes (age,
gender, ...) cannot enter a model. Building the SQL is pure (:func:`features_sql`); running it is
:func:`build_features`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .churn import protected

__all__ = ["FEATURES", "TOPICS", "build_features", "build_labels", "features_sql", "review_topic"]

FEATURES = ["orders", "spend", "avg_order_value", "days_since_last_order", "tenure_days", "mean_gap_days",
            "overdue_ratio", "orders_30d", "orders_90d", "orders_365d", "spend_90d", "events_30d", "events_90d",
            "days_since_last_event", "reviews", "last_rating", "days_since_last_review", "last_review_topic",
            "tickets_90d", "last_survey_score", "email_engagement_90d"]

# Words that place a review's text under one topic (first match wins); the topic is a feature and
# appears in the reasons ("Last review 2★ about delivery").
TOPICS: list[tuple[str, tuple[str, ...]]] = [
    ("delivery", ("deliver", "courier", "shipping", "shipped", "arrived", "parcel", "missing", "late")),
    ("price", ("price", "expensive", "overpriced", "cost", "value for money", "charge")),
    ("waiting", ("wait", "queue", "slow", "delay", "booking", "appointment")),
    ("staff", ("staff", "rude", "friendly", "stylist", "service", "manager", "waiter", "team")),
    ("quality", ("quality", "broken", "cold", "taste", "cut", "colour", "color", "faulty", "fit")),
    ("cleanliness", ("dirty", "clean", "hygiene", "smell")),
    ("noise", ("noisy", "noise", "loud")),
]


def review_topic(text: pd.Series) -> pd.Series:
    low = text.fillna("").astype(str).str.lower()
    out = pd.Series(np.full(len(low), None, dtype=object), index=text.index)
    for name, words in reversed(TOPICS):  # reversed so the first topic in the list wins
        hit = low.str.contains("|".join(words), regex=True)
        out[hit] = name
    return out


def features_sql(event: str = "Order Completed") -> str:
    """One row per person with any event before ``$cut``; the purchase event is bound as ``$ev``."""
    del event  # bound as a parameter; kept in the signature for the caller's documentation
    return """
WITH e AS (SELECT person_id, ts, event, revenue, properties FROM events WHERE person_id IS NOT NULL AND ts < $cut),
o AS (SELECT person_id, date_trunc('day', ts) AS day, sum(coalesce(revenue, 0)) AS rev FROM e
      WHERE event = $ev GROUP BY 1, 2),
oa AS (SELECT person_id, count(*) AS orders, sum(rev) AS spend, min(day) AS first_day, max(day) AS last_day,
              count(*) FILTER (WHERE day >= $cut - INTERVAL 30 DAY) AS orders_30d,
              count(*) FILTER (WHERE day >= $cut - INTERVAL 90 DAY) AS orders_90d,
              count(*) FILTER (WHERE day >= $cut - INTERVAL 365 DAY) AS orders_365d,
              coalesce(sum(rev) FILTER (WHERE day >= $cut - INTERVAL 90 DAY), 0) AS spend_90d
       FROM o GROUP BY 1),
r AS (SELECT person_id, ts, event, TRY_CAST(properties->>'rating' AS DOUBLE) AS rating,
             coalesce(properties->>'text', properties->>'comment') AS txt,
             coalesce(TRY_CAST(properties->>'nps_score' AS DOUBLE) / 10,
                      TRY_CAST(properties->>'csat_score' AS DOUBLE) / 5) AS survey
      FROM e WHERE properties IS NOT NULL),
ra AS (SELECT person_id, count(*) FILTER (WHERE rating IS NOT NULL) AS reviews,
              arg_max(rating, ts) FILTER (WHERE rating IS NOT NULL) AS last_rating,
              arg_max(txt, ts) FILTER (WHERE rating IS NOT NULL) AS last_review_text,
              max(ts) FILTER (WHERE rating IS NOT NULL) AS last_review_ts,
              arg_max(survey, ts) FILTER (WHERE survey IS NOT NULL) AS last_survey_score
       FROM r WHERE rating IS NOT NULL OR survey IS NOT NULL GROUP BY 1),
ea AS (SELECT person_id, max(ts) AS last_event,
              count(*) FILTER (WHERE ts >= $cut - INTERVAL 30 DAY) AS events_30d,
              count(*) FILTER (WHERE ts >= $cut - INTERVAL 90 DAY) AS events_90d,
              count(*) FILTER (WHERE ts >= $cut - INTERVAL 90 DAY AND (contains(lower(event), 'ticket')
                                OR contains(lower(event), 'complain') OR contains(lower(event), 'refund'))) AS tickets_90d,
              count(*) FILTER (WHERE ts >= $cut - INTERVAL 90 DAY AND (contains(lower(event), 'email opened')
                                OR contains(lower(event), 'newsletter opened') OR contains(lower(event), 'clicked'))) AS email_engagement_90d
       FROM e GROUP BY 1)
SELECT ea.person_id,
       coalesce(oa.orders, 0) AS orders, coalesce(oa.spend, 0) AS spend,
       CASE WHEN oa.orders > 0 THEN oa.spend / oa.orders END AS avg_order_value,
       datediff('day', oa.last_day, $cut) AS days_since_last_order,
       datediff('day', oa.first_day, $cut) AS tenure_days,
       CASE WHEN oa.orders > 1 THEN datediff('day', oa.first_day, oa.last_day) / (oa.orders - 1) END AS mean_gap_days,
       coalesce(oa.orders_30d, 0) AS orders_30d, coalesce(oa.orders_90d, 0) AS orders_90d,
       coalesce(oa.orders_365d, 0) AS orders_365d, coalesce(oa.spend_90d, 0) AS spend_90d,
       ea.events_30d, ea.events_90d, datediff('day', ea.last_event, $cut) AS days_since_last_event,
       coalesce(ra.reviews, 0) AS reviews, ra.last_rating, datediff('day', ra.last_review_ts, $cut) AS days_since_last_review,
       ra.last_review_text, ea.tickets_90d, ra.last_survey_score, ea.email_engagement_90d
FROM ea LEFT JOIN oa USING (person_id) LEFT JOIN ra USING (person_id)
"""


def _cut(cutoff) -> dt.datetime:
    return pd.Timestamp(cutoff).to_pydatetime().replace(tzinfo=None)


def build_features(scope, cutoff, event: str = "Order Completed") -> pd.DataFrame:
    """Features of every person seen before ``cutoff`` (a timestamp: events strictly before it count)."""
    df = scope.df(features_sql(event), {"cut": _cut(cutoff), "ev": event}).set_index("person_id")
    # sorted: the database returns groups in any order, and row order changes LightGBM's bagging
    return finish_features(df.sort_index())


def finish_features(df: pd.DataFrame) -> pd.DataFrame:
    """Derived columns and dtypes, shared by the SQL path and the benchmark's in-memory path."""
    df = df.copy()
    for c in df.columns:
        if c != "last_review_text":
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    df["overdue_ratio"] = df["days_since_last_order"] / df["mean_gap_days"].clip(lower=1)
    topic = review_topic(df["last_review_text"]) if "last_review_text" in df else pd.Series(None, index=df.index)
    df["last_review_topic"] = pd.Categorical(topic, categories=[t for t, _ in TOPICS])
    assert not {f.lower() for f in FEATURES} & protected(), "a protected attribute is listed as a feature"
    return df


def build_labels(scope, cutoff, horizon_days: int, event: str = "Order Completed") -> pd.Series:
    """Purchase days per person in [cutoff, cutoff + horizon) — the only window labels read."""
    c = _cut(cutoff)
    df = scope.df("SELECT person_id, count(DISTINCT date_trunc('day', ts)) AS n FROM events "
                  "WHERE event = $ev AND person_id IS NOT NULL AND ts >= $c AND ts < $e GROUP BY 1",
                  {"ev": event, "c": c, "e": c + dt.timedelta(days=horizon_days)})
    return df.set_index("person_id")["n"].astype(float)
