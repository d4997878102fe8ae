"""Next best action: a catalogue of actions with eligibility, cost and channel; uplift measured from past
campaigns that kept a holdout group; per customer the action with the highest expected value

    expected value = uplift (gain in the chance of buying in 30 days) × value of an order − cost

that the customer's consent and the contact limits allow, with the reason in words.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

__all__ = ["ACTIONS", "Action", "ContactLimits", "measure_uplift", "choose_actions", "contact_counts", "consent_table"]


@dataclass(frozen=True)
class Action:
    name: str
    label: str                 # what the owner reads
    channel: str | None        # email, sms, phone or None
    cost: float                # money per contact (a discount's expected cost, staff time)
    prior_uplift: float        # used until the history has treatment and holdout for it
    rule: str                  # eligibility in words
    words: tuple[str, ...]     # flow / campaign names that count as this action


ACTIONS: list[Action] = [
    Action("win_back_offer", "Win-back email with an offer", "email", 2.0, 0.06,
           "churn risk at least 0.5 and has bought", ("win-back", "win_back", "winback", "lapsed")),
    Action("check_in_call", "A personal check-in call", "phone", 8.0, 0.15,
           "churn risk at least 0.5, among the most valuable quarter, or an unhappy last review", ("check-in", "call")),
    Action("cross_sell", "Suggest something that goes with what they buy", "email", 0.1, 0.03,
           "purchase propensity at least 0.2", ("cross-sell", "cross_sell", "recommend")),
    Action("referral_invite", "Invite them to refer a friend", "email", 0.05, 0.01,
           "3+ orders, churn risk below 0.3, no unhappy review", ("referral", "refer")),
    Action("review_request", "Ask for a review", "email", 0.05, 0.005,
           "ordered in the last 30 days and no review in 180 days", ("review",)),
    Action("thank_you", "A thank-you note", "email", 0.05, 0.01, "ordered in the last 30 days", ("thank",)),
    Action("do_nothing", "Do nothing for now", None, 0.0, 0.0, "always", ()),
]
BY_NAME = {a.name: a for a in ACTIONS}


@dataclass(frozen=True)
class ContactLimits:
    per_7_days: int = 2
    per_30_days: int = 4


def _eligible(a: Action, f: pd.DataFrame, value_q75: float) -> np.ndarray:
    risk, prop = f["churn_risk"].to_numpy(), f["propensity"].to_numpy()
    orders, since = f["orders"].to_numpy(), f["days_since_last_order"].fillna(1e9).to_numpy()
    rating = f["last_rating"].to_numpy()
    unhappy = np.nan_to_num(rating, nan=5) <= 2
    return {
        "win_back_offer": (risk >= 0.5) & (orders > 0),
        "check_in_call": ((risk >= 0.5) & (f["clv"].to_numpy() >= value_q75)) | unhappy,
        "cross_sell": prop >= 0.2,
        "referral_invite": (orders >= 3) & (risk < 0.3) & ~unhappy,
        "review_request": (since <= 30) & (np.nan_to_num(f["days_since_last_review"].to_numpy(), nan=1e9) > 180),
        "thank_you": since <= 30,
        "do_nothing": np.ones(len(f), bool),
    }[a.name]


def measure_uplift(scope, window_days: int = 30, event: str = "Order Completed", min_group: int = 30) -> dict[str, dict]:
    """Per action: purchase rate within ``window_days`` of entering a campaign, treated vs holdout.

    History comes from flow entries (``variant`` = 'holdout' for the control group) and from imported
    events carrying ``campaign`` and ``variant`` properties. The measured uplift is shrunk towards the
    catalogue's prior by the holdout's size (weight n / (n + 100)); with fewer than ``min_group`` on
    either side the prior is used.
    """
    parts = []
    try:
        parts.append(scope.df("SELECT flow AS campaign, person_id, entered_at AS at_ts, variant FROM flow_entries "
                              "WHERE variant IS NOT NULL"))
    except Exception:  # flow_entries has no variant column before the automation migrations land
        pass
    parts.append(scope.df("SELECT coalesce(properties->>'campaign', properties->>'flow') AS campaign, person_id, ts AS at_ts, "
                          "properties->>'variant' AS variant FROM events WHERE properties->>'variant' IS NOT NULL "
                          "AND person_id IS NOT NULL"))
    hist = pd.concat([p for p in parts if not p.empty], ignore_index=True) if any(not p.empty for p in parts) else None
    out: dict[str, dict] = {}
    buys = None
    if hist is not None:
        buys = scope.df("SELECT person_id, ts FROM events WHERE event = $e AND person_id IS NOT NULL", {"e": event})
    for a in ACTIONS[:-1]:
        res = {"uplift": a.prior_uplift, "source": "catalogue prior (no holdout history)"}
        if hist is not None:
            low = hist["campaign"].fillna("").str.lower()
            h = hist[low.str.contains("|".join(a.words), regex=False) if len(a.words) == 1 else
                     low.apply(lambda s, w=a.words: any(x in s for x in w))]
            if not h.empty:
                m = h.merge(buys, on="person_id", how="left")
                win = (m["ts"] > m["at_ts"]) & (m["ts"] <= m["at_ts"] + pd.Timedelta(days=window_days))
                bought = m.assign(b=win).groupby(["campaign", "person_id", "at_ts", "variant"])["b"].any().reset_index()
                ctl = bought["variant"].str.lower().isin(["holdout", "control"])
                nt, nc = int((~ctl).sum()), int(ctl.sum())
                if nt >= min_group and nc >= min_group:
                    rt, rc = float(bought.loc[~ctl, "b"].mean()), float(bought.loc[ctl, "b"].mean())
                    se = float(np.sqrt(rt * (1 - rt) / nt + rc * (1 - rc) / nc))
                    w = nc / (nc + 100)
                    res = {"uplift": w * (rt - rc) + (1 - w) * a.prior_uplift, "measured": rt - rc,
                           "ci95": [rt - rc - 1.96 * se, rt - rc + 1.96 * se], "treated": nt, "holdout": nc,
                           "treated_rate": rt, "holdout_rate": rc,
                           "source": f"{nt} treated vs {nc} holdout in {', '.join(sorted(h['campaign'].unique()))[:120]}"}
                else:
                    res["source"] = f"too few in history ({nt} treated, {nc} holdout; need {min_group} each): catalogue prior"
        out[a.name] = res
    return out


def contact_counts(scope, now: dt.datetime) -> pd.DataFrame:
    """Marketing messages per person in the 7 and 30 days before ``now`` (sends and message events)."""
    q = ("SELECT person_id, count(*) FILTER (WHERE at_ts >= $n - INTERVAL 7 DAY) AS c7, count(*) AS c30 FROM ("
         "{src}) WHERE at_ts >= $n - INTERVAL 30 DAY AND at_ts <= $n GROUP BY 1")
    frames = [scope.df(q.format(src="SELECT person_id, ts AS at_ts FROM events WHERE event IN "
                                    "('Email Sent', 'SMS Sent', 'Message Sent') AND person_id IS NOT NULL"), {"n": now})]
    try:
        frames.append(scope.df(q.format(src="SELECT person_id, created_at AS at_ts FROM sends WHERE status IN ('sent', 'final')"),
                               {"n": now}))
    except Exception:
        pass
    df = pd.concat(frames).groupby("person_id").sum()
    return df


def consent_table(scope) -> pd.DataFrame:
    """Per person: email / sms marketing consent (latest record, else the profile's *_marketing trait) and a phone."""
    return scope.df("""
        WITH c AS (SELECT person_id, channel, arg_max(status, recorded_at) AS status FROM consents
                   WHERE purpose = 'marketing' GROUP BY 1, 2)
        SELECT p.person_id,
               coalesce(ce.status, CASE WHEN p.traits->>'email_marketing' IN ('subscribed', 'granted', 'yes', 'true')
                                        THEN 'granted' END) = 'granted' AS email_ok,
               coalesce(cs.status, CASE WHEN p.traits->>'sms_marketing' IN ('subscribed', 'granted', 'yes', 'true')
                                        THEN 'granted' END) = 'granted' AS sms_ok,
               (p.traits->>'phone') IS NOT NULL AND coalesce(cp.status, '') <> 'withdrawn' AS phone_ok
        FROM profiles p LEFT JOIN c ce ON ce.person_id = p.person_id AND ce.channel = 'email'
        LEFT JOIN c cs ON cs.person_id = p.person_id AND cs.channel = 'sms'
        LEFT JOIN c cp ON cp.person_id = p.person_id AND cp.channel = 'phone'""").set_index("person_id")


def choose_actions(f: pd.DataFrame, uplift: dict[str, dict], limits: ContactLimits = ContactLimits()) -> pd.DataFrame:
    """Best action per row of ``f`` (columns churn_risk, propensity, clv, order_value, orders,
    days_since_last_order, last_rating, days_since_last_review, email_ok, sms_ok, phone_ok, c7, c30)."""
    n = len(f)
    q75 = float(np.nanquantile(f["clv"], 0.75)) if n else 0.0
    value = f["order_value"].fillna(0).to_numpy()
    over = (f["c7"].to_numpy() >= limits.per_7_days) | (f["c30"].to_numpy() >= limits.per_30_days)
    best_ev, best = np.zeros(n), np.full(n, len(ACTIONS) - 1)
    why_not = np.full(n, "", dtype=object)
    for i, a in enumerate(ACTIONS[:-1]):
        ok = _eligible(a, f, q75)
        if a.channel:
            allowed = f[f"{a.channel}_ok"].fillna(False).to_numpy(bool)
            why_not[ok & ~allowed & (why_not == "")] = f"no {a.channel} consent for {a.label.lower()}"
            ok &= allowed
            why_not[ok & over & (why_not == "")] = (f"contact limit reached ({limits.per_7_days} a week, "
                                                    f"{limits.per_30_days} a month)")
            ok &= ~over
        ev = uplift[a.name]["uplift"] * value - a.cost
        better = ok & (ev > best_ev)
        best_ev[better], best[better] = ev[better], i
    out = pd.DataFrame({"action": [ACTIONS[i].name for i in best], "expected_value": best_ev}, index=f.index)
    reasons = []
    for j, (i, wn, v) in enumerate(zip(best, why_not, value, strict=True)):
        a = ACTIONS[i]
        if a.name == "do_nothing":
            reasons.append(wn.capitalize() if wn else "No action is worth its cost for this customer now")
        else:
            reasons.append(f"{a.label}: {uplift[a.name]['uplift']:+.1%} chance of an order worth {v:,.0f}, "
                           f"cost {a.cost:,.2f} → expected {best_ev[j]:+,.2f} ({a.rule})")
    out["reason"] = reasons
    out["channel"] = [ACTIONS[i].channel for i in best]
    return out


def catalogue() -> list[dict]:
    return [{k: v for k, v in asdict(a).items() if k != "words"} for a in ACTIONS]
