"""Customer lifetime value from a store: purchases → (frequency, recency, T, monetary value) → BG/NBD (or
Pareto/NBD) and Gamma-Gamma → P(alive), expected purchases and spend, CLV; and the calibration/holdout
comparison of Fader, Hardie & Lee (2005). One implementation behind ``wayfare predict clv``, the HTTP API and
the Python API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import ValidationError
from .clv import BetaGeoFitter, GammaGammaFitter, customer_lifetime_value, rfm_summary

__all__ = ["ClvFit", "purchases", "fit_clv", "holdout_comparison", "MODELS"]

MODELS = ("bg-nbd", "pareto-nbd")


def purchases(scope, event: str = "Order Completed", where: str = "event") -> pd.DataFrame:
    """Every purchase (person, time, revenue) of the workspace; a clear error when there is none."""
    tx = scope.df("SELECT person_id, ts, coalesce(revenue, 0) AS revenue FROM events "
                  "WHERE event = $e AND person_id IS NOT NULL", {"e": event})
    if tx.empty:
        raise ValidationError(f"no {event!r} events to fit on", where=where)
    return tx


@dataclass
class ClvFit:
    """The per-customer frame (indexed by person id, highest CLV first) and the fitted models."""
    customers: pd.DataFrame
    purchase_model: Any
    spend_model: GammaGammaFitter
    calibration_end: pd.Timestamp
    model: str
    transactions: pd.DataFrame

    def summary(self, horizon_days: int, discount: float) -> dict[str, Any]:
        """Parameters as ``wayfare predict clv --json`` prints them."""
        m, gg, s = self.purchase_model, self.spend_model, self.customers
        key = "bgnbd" if self.model == "bg-nbd" else "pareto_nbd"
        return {"calibration_end": self.calibration_end.date().isoformat(), "time_unit": "weeks",
                "customers": len(s), "model": self.model, key: {**m.params_, "log_likelihood": m.log_likelihood_},
                "gamma_gamma": {**gg.params_, "customers": int((s["frequency"] > 0).sum())},
                "horizon_days": horizon_days, "discount_rate": discount}


def fit_clv(scope, *, model: str = "bg-nbd", calibration_end: pd.Timestamp | None = None, horizon_days: int = 365,
            discount: float = 0.1, event: str = "Order Completed", tx: pd.DataFrame | None = None) -> ClvFit:
    """Fit on purchases up to ``calibration_end`` (default: the last purchase day) and score every customer."""
    if model not in MODELS:
        raise ValidationError(f"unknown model {model!r}; use bg-nbd or pareto-nbd", where="model")
    tx = purchases(scope, event) if tx is None else tx
    end = calibration_end if calibration_end is not None else pd.Timestamp(tx["ts"].max()).normalize()
    s = rfm_summary(tx, end)
    if s.empty:
        raise ValidationError("no purchases before the calibration end", where="calibration_end")
    if model == "pareto-nbd":
        from .pareto import ParetoNBDFitter
        m: Any = ParetoNBDFitter().fit(s["frequency"], s["recency"], s["T"])
    else:
        m = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    gg = GammaGammaFitter().fit(s["frequency"], s["monetary_value"])
    s["p_alive"] = m.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
    hw = horizon_days / 7.0
    s["expected_purchases"] = m.conditional_expected_number_of_purchases_up_to_time(hw, s["frequency"], s["recency"],
                                                                                     s["T"])
    s["expected_spend"] = gg.conditional_expected_average_profit(s["frequency"], s["monetary_value"])
    s["clv"] = customer_lifetime_value(m, gg, s, hw, discount)
    return ClvFit(s.sort_values("clv", ascending=False), m, gg, end, model, tx)


def holdout_comparison(fit: ClvFit, holdout_from: pd.Timestamp) -> dict[str, Any]:
    """Predicted vs actual repeat purchases in the holdout period, by calibration frequency (0…6, 7+)."""
    s, tx = fit.customers, fit.transactions
    d = tx.assign(day=pd.to_datetime(tx["ts"]).dt.normalize())
    hold = d[d["day"] >= holdout_from].drop_duplicates(["person_id", "day"]).groupby("person_id").size()
    t_h = ((d["day"].max() - holdout_from).days + 1) / 7.0
    pred = fit.purchase_model.conditional_expected_number_of_purchases_up_to_time(t_h, s["frequency"], s["recency"],
                                                                                   s["T"])
    act = hold.reindex(s.index).fillna(0)
    grp = s["frequency"].clip(upper=7)
    tab = pd.DataFrame({"group": grp, "actual": act, "predicted": pred}).groupby("group").agg(
        customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")).reset_index()
    return {"from": holdout_from.date().isoformat(), "weeks": t_h, "total_actual": float(act.sum()),
            "total_predicted": float(pred.sum()),
            "by_frequency": [{"frequency": ("7+" if r.group >= 7 else int(r.group)), "customers": int(r.customers),
                              "actual": float(r.actual), "predicted": float(r.predicted)} for r in tab.itertuples()]}
