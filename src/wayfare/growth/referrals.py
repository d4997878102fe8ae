"""Referrals and advocacy.

* Every customer can have a referral **code** (``R-`` and 8 letters/digits that are easy to read out) and a
  **link** (``BASE?ref=CODE``).
* **Attribution**: a person is attributed to the code's owner when one of their events carries the code —
  ``properties.referral_code`` (a code typed at the till or in a form), ``properties.ref``,
  ``context.campaign.referral_code`` or ``?ref=CODE`` in ``context.page.url`` / ``properties.url`` — on any
  channel. The first code a person used wins; people never refer themselves.
* **Rewards as flow triggers**: when a referred person first buys, a ``Referral Converted`` event is written
  for the referrer (properties: code, referred person id, revenue), so a flow can trigger a reward on it.
* **Advocacy**: referrals sent (``Referral Sent`` events), referred people, converted, reviews written,
  promoters (NPS >= 9).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any

from ..errors import NotFound, ValidationError
from ..store import utcnow
from .recommend import PURCHASE_PATTERN

__all__ = ["code_for", "link_for", "attribute", "advocacy", "list_referrals", "CODE_RE"]

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_RE = re.compile(r"^R-[A-Z2-9]{8}$")


def _new_code() -> str:
    return "R-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def code_for(scope, person_id: str) -> str:
    """The person's referral code (made once, then the same)."""
    row = scope.one("SELECT code FROM growth_referral_codes WHERE person_id = $p ORDER BY created_at LIMIT 1", {"p": person_id})
    if row:
        return row[0]
    if not scope.one("SELECT 1 FROM profiles WHERE person_id = $p", {"p": person_id}):
        raise NotFound(f"no person {person_id!r} in workspace {scope.name!r}")
    code = _new_code()
    scope.write("INSERT INTO main.growth_referral_codes VALUES ($__ws, $c, $p, $at)", {"c": code, "p": person_id, "at": utcnow()})
    return code


def link_for(scope, person_id: str, base_url: str) -> str:
    if not re.match(r"^https?://[^\s?#]+", base_url):
        raise ValidationError("the base URL must start with http:// or https://", where="--base-url")
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}ref={code_for(scope, person_id)}"


_USES_SQL = """
WITH uses AS (
    SELECT person_id, ts, channel,
           upper(trim(COALESCE(properties->>'referral_code', properties->>'ref', context->'campaign'->>'referral_code',
                 regexp_extract(COALESCE(context->'page'->>'url', properties->>'url', ''), '[?&]ref=(R-[A-Za-z0-9]{8})', 1)))) AS code
    FROM events WHERE person_id IS NOT NULL
)
SELECT u.person_id, arg_min(u.code, u.ts) AS code, arg_min(u.channel, u.ts) AS channel, min(u.ts) AS at
FROM uses u JOIN growth_referral_codes c ON c.code = u.code
WHERE u.code <> '' AND c.person_id <> u.person_id
  AND NOT EXISTS (SELECT 1 FROM growth_referrals r WHERE r.referred_id = u.person_id)
GROUP BY 1
"""

_CONVERT_SQL = f"""
SELECT r.referred_id, r.referrer_id, r.code, min(e.ts) AS at,
       sum(COALESCE(e.revenue, TRY_CAST(e.properties->>'Quantity' AS DOUBLE) * TRY_CAST(e.properties->>'UnitPrice' AS DOUBLE))) AS rev
FROM growth_referrals r JOIN events e ON e.person_id = r.referred_id
WHERE r.converted_at IS NULL AND e.type = 'track'
  AND (regexp_matches(lower(e.event), '{PURCHASE_PATTERN}') OR e.revenue > 0)
GROUP BY 1, 2, 3
"""


def attribute(scope, now: dt.datetime | None = None) -> dict[str, Any]:
    """Attribute new people to referrers, mark conversions, and write ``Referral Converted`` events."""
    from ..ingest import to_row, write_rows

    now = now or utcnow()
    new = scope.rows(_USES_SQL)
    with scope.transaction() as con:
        for person, code, channel, at in new:
            con.execute("INSERT INTO main.growth_referrals SELECT ?, code, person_id, ?, ?, ?, NULL, NULL "
                        "FROM main.growth_referral_codes WHERE workspace_id = ? AND code = ?",
                        [scope.workspace_id, person, channel, at, scope.workspace_id, code])
    conv = scope.rows(_CONVERT_SQL)
    rows = []
    with scope.transaction() as con:
        for referred, _r, _c, at, rev in conv:
            con.execute("UPDATE main.growth_referrals SET converted_at = ?, revenue = ? WHERE workspace_id = ? AND referred_id = ?",
                        [at, rev, scope.workspace_id, referred])
    for referred, referrer, code, at, rev in conv:
        ident = scope.one("SELECT kind, value FROM identities WHERE person_id = $p AND kind IN ('user_id', 'anonymous_id') "
                          "ORDER BY kind DESC LIMIT 1", {"p": referrer})
        if not ident:
            continue
        msg = {"type": "track", "event": "Referral Converted", "messageId": f"refconv-{scope.workspace_id}-{referred}",
               "timestamp": at.isoformat() + "Z", "properties": {"code": code, "referred_person_id": referred,
                                                               "revenue": None if rev is None else round(rev, 2)},
               ("userId" if ident[0] == "user_id" else "anonymousId"): ident[1]}
        rows.append(to_row(msg, now, "growth"))
    if rows:
        write_rows(scope, rows)
    return {"attributed": len(new), "converted": len(conv), "reward_events": len(rows)}


def list_referrals(scope, limit: int = 100) -> list[dict[str, Any]]:
    rows = scope.rows("SELECT code, referrer_id, referred_id, channel, attributed_at, converted_at, revenue FROM growth_referrals "
                      "ORDER BY attributed_at DESC LIMIT $n", {"n": limit})
    keys = ("code", "referrer_id", "referred_id", "channel", "attributed_at", "converted_at", "revenue")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def advocacy(scope) -> dict[str, Any]:
    """Workspace totals and the top advocates."""
    tot = scope.one(
        "SELECT (SELECT count(*) FROM events WHERE event = 'Referral Sent'), (SELECT count(*) FROM growth_referrals), "
        "(SELECT count(*) FROM growth_referrals WHERE converted_at IS NOT NULL), "
        "(SELECT COALESCE(sum(revenue), 0) FROM growth_referrals WHERE converted_at IS NOT NULL), "
        "(SELECT count(*) FROM events WHERE event = 'Review Posted'), "
        "(SELECT count(DISTINCT person_id) FROM events WHERE event = 'Survey Responded' "
        " AND TRY_CAST(properties->>'nps_score' AS DOUBLE) >= 9), "
        "(SELECT count(DISTINCT person_id) FROM events WHERE event = 'Survey Responded' "
        " AND TRY_CAST(properties->>'nps_score' AS DOUBLE) IS NOT NULL)")
    top = scope.rows(
        "WITH s AS (SELECT person_id, count(*) AS sent FROM events WHERE event = 'Referral Sent' GROUP BY 1), "
        "r AS (SELECT referrer_id AS person_id, count(*) AS referred, count(converted_at) AS converted, "
        "      COALESCE(sum(revenue), 0) AS revenue FROM growth_referrals GROUP BY 1) "
        "SELECT COALESCE(s.person_id, r.person_id), COALESCE(sent, 0), COALESCE(referred, 0), COALESCE(converted, 0), "
        "COALESCE(revenue, 0) FROM s FULL JOIN r ON s.person_id = r.person_id "
        "ORDER BY 4 DESC, 3 DESC, 2 DESC, 1 LIMIT 10")
    return {"referrals_sent": tot[0], "referred": tot[1], "referred_converted": tot[2],
            "referred_revenue": round(float(tot[3]), 2), "reviews_written": tot[4], "promoters": tot[5],
            "nps_respondents": tot[6],
            "conversion_of_referred": round(tot[2] / tot[1], 4) if tot[1] else None,
            "top_advocates": [{"person_id": r[0], "sent": r[1], "referred": r[2], "converted": r[3],
                               "revenue": round(float(r[4]), 2)} for r in top]}
