"""Every customer scored at once: churn risk and purchase propensity (LightGBM, time-split), CLV
(BG/NBD + Gamma-Gamma) and the next best action, each with reasons; written back as profile traits
(``churn_risk``, ``purchase_propensity_30d``, ``clv``, ``next_action`` …) so segments and flow
triggers can use them; and the shapes the dashboard asks for (:func:`explain_person`,
:func:`dashboard_lists`).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson
import pandas as pd

from .clv import BetaGeoFitter, GammaGammaFitter, customer_lifetime_value, rfm_summary
from .gbm import TimeSplitResult, time_split
from .nba import BY_NAME, ContactLimits, catalogue, choose_actions, consent_table, contact_counts, measure_uplift
from .registry import save_model

__all__ = ["Scores", "score_customers", "write_traits", "explain_person", "dashboard_lists", "cached_scores"]

TRAITS = ("churn_risk", "purchase_propensity_30d", "clv", "next_action", "next_action_reason", "churn_reasons",
          "predicted_at", "prediction_model")


@dataclass
class Scores:
    frame: pd.DataFrame          # one row per person seen, indexed by person_id
    churn: TimeSplitResult
    propensity: TimeSplitResult
    uplift: dict[str, dict]
    as_of: str
    model_ids: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "customers": len(self.frame), "models": self.model_ids,
                "churn": self.churn.evaluation, "propensity": self.propensity.evaluation, "uplift": self.uplift,
                "actions": self.frame["action"].value_counts().to_dict(), "catalogue": catalogue()}


def score_customers(scope, event: str = "Order Completed", horizon_days: int = 90, propensity_days: int = 30,
                    limits: ContactLimits = ContactLimits(), save: bool = True, progress=None) -> Scores:
    step = progress or (lambda *_: None)
    churn = time_split(scope, "churn", horizon_days, event)
    step(1, 4)
    prop = time_split(scope, "propensity", propensity_days, event)
    step(2, 4)
    f = prop.features_now.copy()
    f["propensity"] = prop.scores
    f["churn_risk"] = churn.scores.reindex(f.index)
    tx = scope.df("SELECT person_id, ts, coalesce(revenue, 0) AS revenue FROM events WHERE event = $e AND person_id IS NOT NULL",
                  {"e": event})
    now = pd.Timestamp(tx["ts"].max()).normalize()
    s = rfm_summary(tx, now)
    bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    gg = GammaGammaFitter().fit(s["frequency"], s["monetary_value"])
    f["clv"] = pd.Series(customer_lifetime_value(bg, gg, s, 52.0), index=s.index).reindex(f.index).fillna(0.0)
    f["order_value"] = pd.Series(gg.conditional_expected_average_profit(s["frequency"], s["monetary_value"]),
                                 index=s.index).reindex(f.index)
    f["order_value"] = f["order_value"].fillna(gg.params_["p"] * gg.params_["gamma"] / (gg.params_["q"] - 1))
    step(3, 4)
    f = f.join(consent_table(scope)).join(contact_counts(scope, now.to_pydatetime() + dt.timedelta(days=1)))
    for c in ("email_ok", "sms_ok", "phone_ok"):
        f[c] = f[c].astype("boolean").fillna(False).astype(bool)
    f[["c7", "c30"]] = f[["c7", "c30"]].fillna(0)
    uplift = measure_uplift(scope, propensity_days, event)
    nba = choose_actions(f.assign(churn_risk=f["churn_risk"].fillna(0.0)), uplift, limits)
    f = f.join(nba)
    why = churn.reasons()
    f["churn_reasons"] = pd.Series(why).reindex(f.index)
    step(4, 4)
    res = Scores(f, churn, prop, uplift, now.date().isoformat())
    if save:
        for name, r in (("churn_gbm", churn), ("propensity_gbm", prop)):
            res.model_ids[name] = save_model(
                scope, name, {"features": r.model.features, "horizon_days": r.horizon_days, "cutoffs": r.cutoffs,
                              "lightgbm": r.model.booster_.params if hasattr(r.model.booster_, "params") else {}},
                {k: r.evaluation[k] for k in ("auc", "top_decile_lift", "compare", "train", "test")},
                data_from=pd.Timestamp(tx["ts"].min()).to_pydatetime(), data_to=now.to_pydatetime())
        res.model_ids["clv"] = save_model(scope, "bgnbd+gamma_gamma", {**bg.params_, **gg.params_},
                                          {"log_likelihood": bg.log_likelihood_},
                                          data_from=pd.Timestamp(tx["ts"].min()).to_pydatetime(), data_to=now.to_pydatetime())
    return res


def write_traits(scope, res: Scores) -> int:
    """Merge the prediction traits into each scored person's profile in one statement; returns the count."""
    f = res.frame
    model = res.model_ids.get("churn_gbm", "")

    def patch(i: int) -> str:
        r = rows[i]
        risk = r["churn_risk"]
        return orjson.dumps({
            "churn_risk": None if risk != risk else round(float(risk), 3),
            "purchase_propensity_30d": round(float(r["propensity"]), 3), "clv": round(float(r["clv"]), 2),
            "next_action": r["action"], "next_action_reason": r["reason"],
            "churn_reasons": r["churn_reasons"] if isinstance(r["churn_reasons"], list) else [],
            "predicted_at": res.as_of, "prediction_model": model}).decode()

    rows = f[["churn_risk", "propensity", "clv", "action", "reason", "churn_reasons"]].to_dict(orient="records")
    patches = [patch(i) for i in range(len(rows))]
    scope.write("UPDATE main.profiles SET traits = json_merge_patch(coalesce(traits, '{}'), u.patch) "
                "FROM (SELECT unnest($ids) AS pid, unnest($patches) AS patch) u "
                "WHERE profiles.workspace_id = $__ws AND profiles.person_id = u.pid",
                {"ids": list(f.index), "patches": patches})
    return len(f)


# -- what the dashboard and the HTTP API read: computed once per state of the events ------------------------
_CACHE: dict[tuple, tuple[tuple, float, Scores]] = {}
_LOCK = threading.Lock()
MAX_AGE_S = 900.0  # a live shop's events change all the time: re-score at most every 15 minutes


def cached_scores(scope) -> Scores:
    """Scores for the workspace, recomputed when its events have changed and the last scoring is older
    than :data:`MAX_AGE_S` (imports and demos, whose events stop changing, are scored once)."""
    import time

    key = (str(scope.store.path), scope.workspace_id)
    state = tuple(scope.one("SELECT count(*), max(seq), max(ts) FROM events"))
    with _LOCK:
        hit = _CACHE.get(key)
        if hit and (hit[0] == state or time.monotonic() - hit[1] < MAX_AGE_S):
            return hit[2]
        res = score_customers(scope, save=False)
        _CACHE[key] = (state, time.monotonic(), res)
        return res


def _label(risk) -> str:
    if risk is None or risk != risk:
        return "No orders yet"
    return "High" if risk >= 0.6 else "Medium" if risk >= 0.3 else "Low"


def explain_person(scope, person_id: str) -> dict[str, Any]:
    """A person's predictions with reasons, in the shape the dashboard's profile page shows."""
    res = cached_scores(scope)
    if person_id not in res.frame.index:
        return {"risk": None, "label": "No orders yet", "reasons": ["has not bought anything yet"],
                "next_best_action": "Send a welcome offer for a first visit.", "person_id": person_id}
    r = res.frame.loc[person_id]
    risk = None if r["churn_risk"] != r["churn_risk"] else round(float(r["churn_risk"]), 2)
    reasons = list(r["churn_reasons"]) if isinstance(r["churn_reasons"], list) else \
        res.propensity.reasons([person_id]).get(person_id, [])
    return {"person_id": person_id, "risk": risk, "label": _label(risk), "reasons": reasons,
            "next_best_action": BY_NAME[r["action"]].label, "next_action": r["action"],
            "next_action_reason": r["reason"], "expected_value": round(float(r["expected_value"]), 2),
            "purchase_propensity_30d": round(float(r["propensity"]), 3), "clv": round(float(r["clv"]), 2),
            "as_of": res.as_of, "method": "LightGBM on behaviour (time-split) + BG/NBD P(alive); CLV BG/NBD + Gamma-Gamma"}


def dashboard_lists(scope, limit: int = 25) -> dict[str, Any]:
    """At risk (most valuable first) and most valuable active customers, with reasons and the next action."""
    res = cached_scores(scope)
    f = res.frame[res.frame["orders"] > 0]
    names = scope.df("SELECT person_id, coalesce(traits->>'name', traits->>'email') AS name FROM profiles")
    name = names.set_index("person_id")["name"]
    risky = f["churn_risk"] >= 0.6

    def rows(sel: pd.DataFrame) -> list[dict]:
        return [{"person_id": pid, "name": name.get(pid) or pid, "orders": int(r["orders"]), "spend": round(float(r["spend"]), 2),
                 "days": int(r["days_since_last_order"]), "risk": round(float(r["churn_risk"]), 2),
                 "clv": round(float(r["clv"]), 2), "reasons": list(r["churn_reasons"] or []),
                 "next_best_action": BY_NAME[r["action"]].label} for pid, r in sel.iterrows()]

    at_risk = f[risky].sort_values("clv", ascending=False).head(limit)
    valuable = f[~risky].sort_values("clv", ascending=False).head(limit)
    return {"as_of": res.as_of, "at_risk": rows(at_risk), "valuable": rows(valuable), "at_risk_count": int(risky.sum()),
            "buyers": int(len(f)), "at_risk_spend": round(float(f.loc[risky, "spend"].sum()), 2),
            "method": (f"LightGBM churn model on behaviour, time-split AUC {res.churn.evaluation['auc']:.2f} "
                       f"(P(alive) alone {res.churn.evaluation['compare']['p_alive']:.2f}); value = 12-month CLV")}



def clv_report(scope, model: str = "bg-nbd", horizon_days: int = 365, discount: float = 0.1, limit: int = 50,
               event: str = "Order Completed") -> dict[str, Any]:
    """Fitted parameters and the customers with the highest CLV (the HTTP twin of ``wayfare predict clv``)."""
    from .lifetime import fit_clv

    fit = fit_clv(scope, model=model, horizon_days=horizon_days, discount=discount, event=event)
    s, m, gg, end = fit.customers, fit.purchase_model, fit.spend_model, fit.calibration_end
    top = s.head(limit)
    return {"model": model, "as_of": end.date().isoformat(), "customers": len(s), "horizon_days": horizon_days,
            "params": {**m.params_, **gg.params_}, "log_likelihood": m.log_likelihood_,
            "top_customers": [{"person_id": pid, "clv": round(float(r["clv"]), 2), "p_alive": round(float(r["p_alive"]), 4),
                               "frequency": int(r["frequency"]), "monetary_value": round(float(r["monetary_value"]), 2)}
                              for pid, r in top.iterrows()]}
