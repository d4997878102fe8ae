"""Churn risk and purchase propensity from a gradient-boosted model (LightGBM) on behavioural features,
trained and evaluated on time splits, with per-customer reasons from SHAP values.

Time split, with ``end`` the day after the last purchase and ``h`` the horizon:

    train: features before end - 2h, label in [end - 2h, end - h)
    test:  features before end - h,  label in [end - h, end)          -> AUC, lift, calibration, by segment
    score: a model refitted on the test window scores features before end (SHAP reasons on demand)

so no label window is ever seen by the features of the same row, and the test window is never
trained on by the evaluated model. BG/NBD P(alive), fitted on the same pre-cutoff purchases, is both
the baseline and an extra feature of the combined model.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ValidationError
from .churn import protected
from .clv import BetaGeoFitter
from .features import FEATURES, build_features, build_labels
from .reasons import reasons_from_contributions

__all__ = ["BehaviourModel", "TimeSplitResult", "time_split", "add_p_alive", "TARGETS"]

TARGETS = {"churn": "no purchase in the next {h} days (customers who have bought)",
           "propensity": "a purchase in the next {h} days (everyone seen)"}
LGB_PARAMS = {"objective": "binary", "learning_rate": 0.03, "num_leaves": 7, "min_data_in_leaf": 30,
              "feature_fraction": 0.9, "bagging_fraction": 0.9, "bagging_freq": 1, "lambda_l2": 1.0,
              "verbose": -1, "seed": 0, "deterministic": True, "force_col_wise": True}


class BehaviourModel:
    """LightGBM binary classifier on :data:`FEATURES` (+ ``p_alive`` when ``combined``)."""

    def __init__(self, target: str = "churn", horizon_days: int = 90, combined: bool = True, rounds: int = 150):
        if target not in TARGETS:
            raise ValidationError(f"unknown target {target!r}; use one of {', '.join(TARGETS)}", where="target")
        self.target, self.horizon_days, self.combined, self.rounds = target, horizon_days, combined, rounds

    def __repr__(self) -> str:
        return f"BehaviourModel(target={self.target!r}, horizon_days={self.horizon_days}, combined={self.combined})"

    @property
    def features(self) -> list[str]:
        return FEATURES + (["p_alive", "bgnbd_expected"] if self.combined else [])

    def _x(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.features if c not in X.columns]
        if missing:
            raise ValidationError(f"missing feature columns: {', '.join(missing)}", where="features")
        return X[self.features]

    def fit(self, X: pd.DataFrame, y) -> BehaviourModel:
        import lightgbm as lgb

        y = np.asarray(y, int)
        if len(np.unique(y)) < 2:
            raise ValidationError("the training window has only one outcome; use a longer history or another horizon",
                                  where="labels")
        ds = lgb.Dataset(self._x(X), y, categorical_feature=["last_review_topic"], free_raw_data=False)
        # one thread below 100k rows: OpenMP threads spin-wait badly on a shared 2-core machine
        params = {**LGB_PARAMS, "num_threads": 1 if len(y) < 100_000 else 2}
        self.booster_ = lgb.train(params, ds, num_boost_round=self.rounds)
        self.base_rate_ = float(y.mean())
        self.n_train_ = int(len(y))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster_.predict(self._x(X))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """SHAP values (log-odds) per feature from LightGBM's ``pred_contrib``, plus the ``bias`` column."""
        c = self.booster_.predict(self._x(X), pred_contrib=True)
        return pd.DataFrame(c, index=X.index, columns=[*self.features, "bias"])


def add_p_alive(scope, X: pd.DataFrame, cutoff, event: str = "Order Completed", horizon_days: int = 90):
    """BG/NBD P(alive) and expected purchases in the horizon, from purchases before ``cutoff`` (NaN for people
    who never bought). The (frequency, recency, T) summary is computed in the database, as
    :func:`wayfare.predict.clv.rfm_summary` does in pandas (same-day purchases count once, weeks)."""
    cut = pd.Timestamp(cutoff)
    s = scope.df("""SELECT person_id, count(DISTINCT d) - 1 AS frequency, datediff('day', min(d), max(d)) / 7.0 AS recency,
                           datediff('day', min(d), $end) / 7.0 AS "T"
                    FROM (SELECT person_id, CAST(ts AS DATE) AS d FROM events
                          WHERE event = $e AND person_id IS NOT NULL AND ts < $c) GROUP BY 1 ORDER BY 1""",
                 {"e": event, "c": cut.to_pydatetime(), "end": (cut - pd.Timedelta(days=1)).date()}).set_index("person_id")
    X = X.copy()
    X["p_alive"], X["bgnbd_expected"] = np.nan, np.nan
    if s.empty:
        return X, None
    bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    X["p_alive"] = pd.Series(bg.conditional_probability_alive(s["frequency"], s["recency"], s["T"]), index=s.index).reindex(X.index)
    ex = bg.conditional_expected_number_of_purchases_up_to_time(horizon_days / 7, s["frequency"], s["recency"], s["T"])
    X["bgnbd_expected"] = pd.Series(np.asarray(ex), index=s.index).reindex(X.index)
    return X, bg


def _frame(scope, cutoff, target: str, horizon: int, event: str, labelled: bool = True):
    X = build_features(scope, cutoff, event)
    X, _ = add_p_alive(scope, X, cutoff, event, horizon_days=horizon)
    if target == "churn":
        X = X[X["orders"] > 0]
    if not labelled:
        return X, None
    n = build_labels(scope, cutoff, horizon, event).reindex(X.index).fillna(0)
    y = (n == 0).astype(int) if target == "churn" else (n > 0).astype(int)
    return X, y.to_numpy()


def _auc(y, s) -> float | None:
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else None


def _lift(y, s) -> float | None:
    y = np.asarray(y)
    if y.mean() == 0:
        return None
    top = np.argsort(-np.asarray(s))[: max(1, len(y) // 10)]
    return float(y[top].mean() / y.mean())


def _calibration(y, s) -> list[dict]:
    bins = np.clip((np.asarray(s) * 10).astype(int), 0, 9)
    return [{"bin": f"{b / 10:.1f}-{(b + 1) / 10:.1f}", "n": int((bins == b).sum()), "predicted": float(s[bins == b].mean()),
             "observed": float(y[bins == b].mean())} for b in range(10) if (bins == b).any()]


def _segments(scope, X: pd.DataFrame, y, s, cutoff) -> dict[str, dict]:
    """AUC, outcome rate and mean score by protected trait (never a feature) and by order count."""
    prof = scope.df("SELECT person_id, CAST(traits AS VARCHAR) AS t FROM profiles")
    import orjson

    traits = pd.DataFrame.from_records([orjson.loads(t) if t else {} for t in prof["t"]], index=prof["person_id"])
    traits = traits.reindex(X.index)
    groups: dict[str, pd.Series] = {}
    for c in traits.columns:
        if c.lower() in protected() and c.lower() not in ("birthday", "date_of_birth"):
            groups[c] = traits[c].astype(str)
        elif c.lower() in ("birthday", "date_of_birth"):
            born = pd.to_datetime(traits[c], errors="coerce")
            age = (pd.Timestamp(cutoff) - born).dt.days / 365.25
            groups["age_band"] = pd.cut(age, [0, 30, 45, 60, 200], labels=["<30", "30-44", "45-59", "60+"]).astype(str)
    groups["orders_band"] = pd.cut(X["orders"], [-1, 0, 1, 4, 1e9], labels=["0", "1", "2-4", "5+"]).astype(str)
    out: dict[str, dict] = {}
    for name, g in groups.items():
        segs = {}
        for v, idx in pd.Series(range(len(X)), index=g.to_numpy()).groupby(level=0):
            ii = idx.to_numpy()
            if len(ii) >= 20 and v not in ("nan", "None"):
                segs[str(v)] = {"n": int(len(ii)), "auc": _auc(y[ii], s[ii]), "rate": float(y[ii].mean()),
                                "mean_score": float(s[ii].mean())}
        out[name] = segs
    return out


@dataclass
class TimeSplitResult:
    target: str
    horizon_days: int
    evaluation: dict[str, Any]
    model: BehaviourModel
    features_now: pd.DataFrame
    scores: pd.Series
    cutoffs: dict[str, str] = field(default_factory=dict)

    def contributions(self, person_ids=None) -> pd.DataFrame:
        """SHAP values for these people (computed on demand: TreeSHAP costs more than scoring)."""
        X = self.features_now if person_ids is None else self.features_now.loc[list(person_ids)]
        return self.model.contributions(X)

    def reasons(self, person_ids=None, top: int = 3) -> dict[str, list[str]]:
        ids = list(self.scores.index) if person_ids is None else [p for p in person_ids if p in self.scores.index]
        return reasons_from_contributions(self.target, self.features_now.loc[ids], self.contributions(ids),
                                          self.scores.loc[ids], self.model.base_rate_, top=top)


def time_split(scope, target: str = "churn", horizon_days: int = 90, event: str = "Order Completed",
               progress=None) -> TimeSplitResult:
    """Train, evaluate and score as described in the module docstring."""
    step = progress or (lambda *_: None)
    last = scope.one("SELECT max(ts), min(ts) FROM events WHERE event = $e AND person_id IS NOT NULL", {"e": event})
    if not last or last[0] is None:
        raise ValidationError(f"no {event!r} events to learn from", where="--event")
    end = pd.Timestamp(last[0]).normalize() + pd.Timedelta(days=1)
    ev_cut, tr_cut = end - pd.Timedelta(days=horizon_days), end - pd.Timedelta(days=2 * horizon_days)
    if tr_cut <= pd.Timestamp(last[1]):
        raise ValidationError(f"history too short: need purchases before {tr_cut.date()} for a {horizon_days}-day "
                              "time split; use a shorter --horizon", where="--horizon")
    Xtr, ytr = _frame(scope, tr_cut, target, horizon_days, event)
    step(1, 5)
    Xev, yev = _frame(scope, ev_cut, target, horizon_days, event)
    step(2, 5)
    if len(Xtr) < 50 or len(Xev) < 50:
        raise ValidationError(f"too few customers to learn from ({len(Xtr)} / {len(Xev)}; need 50)", where="--event")
    both = BehaviourModel(target, horizon_days, combined=True).fit(Xtr, ytr)
    only = BehaviourModel(target, horizon_days, combined=False).fit(Xtr, ytr)
    s_both, s_only = both.predict_proba(Xev), only.predict_proba(Xev)
    pa = Xev["p_alive"].fillna(Xev["p_alive"].mean() if Xev["p_alive"].notna().any() else 0.5).to_numpy()
    s_pa = 1 - pa if target == "churn" else pa
    ex = Xev["bgnbd_expected"].fillna(0).to_numpy()
    s_ex = -ex if target == "churn" else ex
    step(3, 5)
    evaluation = {
        "train": {"cutoff": tr_cut.date().isoformat(), "customers": len(Xtr), "positives": int(ytr.sum())},
        "test": {"cutoff": ev_cut.date().isoformat(), "customers": len(Xev), "positives": int(yev.sum()),
                 "label_window": f"{ev_cut.date()}..{(end - pd.Timedelta(days=1)).date()}"},
        "auc": _auc(yev, s_both), "top_decile_lift": _lift(yev, s_both), "calibration": _calibration(yev, s_both),
        "compare": {"gbm+p_alive": _auc(yev, s_both), "gbm": _auc(yev, s_only), "p_alive": _auc(yev, s_pa),
                    "bgnbd_expected": _auc(yev, s_ex)},
        "lift_compare": {"gbm+p_alive": _lift(yev, s_both), "gbm": _lift(yev, s_only), "p_alive": _lift(yev, s_pa),
                         "bgnbd_expected": _lift(yev, s_ex)},
        "by_segment": _segments(scope, Xev, yev, s_both, ev_cut),
        "features": both.features,
    }
    final = BehaviourModel(target, horizon_days, combined=True).fit(Xev, yev)
    step(4, 5)
    Xnow, _ = _frame(scope, end, target, horizon_days, event, labelled=False)
    scores = pd.Series(final.predict_proba(Xnow), index=Xnow.index, name=target)
    step(5, 5)
    return TimeSplitResult(target, horizon_days, evaluation, final, Xnow, scores,
                           {"train": tr_cut.date().isoformat(), "test": ev_cut.date().isoformat(),
                            "now": (end - dt.timedelta(days=1)).date().isoformat()})
