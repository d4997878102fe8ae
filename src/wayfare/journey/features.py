"""Behaviour of each person, for persona rules and clustering: recency, frequency and value of purchases
(events at the map's purchase stage), channels, time of day and week, basket, distance where known,
support contacts and feedback."""

from __future__ import annotations

import pandas as pd

from ..feedback.texts import feedback_sql
from ..store import Scope
from .model import ONLINE_CHANNELS, JourneyMap
from .rules import compile_map

__all__ = ["person_features", "FEATURES"]

FEATURES = ("orders", "revenue", "avg_order", "days_since_last", "tenure_days", "online_share", "weekend_share",
            "evening_share", "mean_hour", "party", "tickets", "nps", "rating", "channels_used", "distance_km")


def person_features(scope: Scope, jm: JourneyMap) -> pd.DataFrame:
    comp = compile_map(jm.stages)
    pi = jm.purchase_index()
    ptps = [i for i, s in enumerate(comp.tp_stage) if s == pi] or [-1]
    online = ", ".join(f"'{c}'" for c in ONLINE_CHANNELS)
    sql = f"""
    WITH ev AS (SELECT person_id, ts, channel, revenue, properties, {comp.tp_case} AS tp FROM events
                WHERE person_id IS NOT NULL),
    ends AS (SELECT max(ts) AS end_ts FROM events),
    pur AS (SELECT * FROM ev WHERE tp IN ({", ".join(str(t) for t in ptps)})),
    f AS (SELECT person_id, count(*) AS orders, sum(coalesce(revenue, 0)) AS revenue, avg(revenue) AS avg_order,
                 date_diff('day', max(ts), any_value(end_ts)) AS days_since_last,
                 date_diff('day', min(ts), max(ts)) AS tenure_days,
                 avg(CASE WHEN lower(channel) IN ({online}) THEN 1.0 ELSE 0.0 END) AS online_share,
                 avg(CASE WHEN dayofweek(ts) IN (0, 6) THEN 1.0 ELSE 0.0 END) AS weekend_share,
                 avg(CASE WHEN hour(ts) >= 17 THEN 1.0 ELSE 0.0 END) AS evening_share,
                 avg(hour(ts) + minute(ts) / 60.0) AS mean_hour,
                 avg(TRY_CAST(json_extract_string(properties, '$.party_size') AS DOUBLE)) AS party
          FROM pur, ends GROUP BY person_id),
    a AS (SELECT person_id, count(DISTINCT lower(channel)) AS channels_used,
                 count(*) FILTER (WHERE lower(channel) = 'support' OR regexp_matches(coalesce(event, ''), 'ticket|complain', 'i'))
                   AS tickets
          FROM events WHERE person_id IS NOT NULL GROUP BY person_id),
    fb AS (SELECT person_id, avg(nps) AS nps, avg(rating) AS rating FROM ({feedback_sql()}) GROUP BY person_id)
    SELECT p.person_id, p.traits, coalesce(f.orders, 0) AS orders, coalesce(f.revenue, 0) AS revenue, f.avg_order,
           f.days_since_last, f.tenure_days, f.online_share, f.weekend_share, f.evening_share, f.mean_hour, f.party,
           coalesce(a.tickets, 0) AS tickets, fb.nps, fb.rating, coalesce(a.channels_used, 0) AS channels_used,
           TRY_CAST(json_extract_string(p.traits, '$.distance_km') AS DOUBLE) AS distance_km
    FROM profiles p LEFT JOIN f USING (person_id) LEFT JOIN a USING (person_id) LEFT JOIN fb USING (person_id)
    """
    return scope.df(sql, comp.params)
