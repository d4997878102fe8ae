"""Prediction commands: clv (BG/NBD or Pareto/NBD + Gamma-Gamma), churn, propensity, next-action, score, backtest."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pandas as pd
import typer
from rich.table import Table

from ..errors import ValidationError
from ..predict.churn import evaluate_churn
from ..predict.clv import BetaGeoFitter, GammaGammaFitter, rfm_summary
from . import app
from ._common import JsonOpt, WorkspaceOpt, console, emit, progress, scope

predict_app = typer.Typer(help="Predictions: customer lifetime value and churn risk.", no_args_is_help=True)
app.add_typer(predict_app, name="predict")


def _date(s: str | None, where: str) -> pd.Timestamp | None:
    if s is None:
        return None
    try:
        return pd.Timestamp(dt.date.fromisoformat(s))
    except ValueError as e:
        raise ValidationError(f"not a date (YYYY-MM-DD): {s!r}", where=where) from e


@predict_app.command("clv")
def clv(
    calibration_end: str = typer.Option(None, "--calibration-end", help="Last day of the calibration period (default: last purchase day)."),
    holdout_from: str = typer.Option(None, "--holdout-from", help="First day of the holdout period; prints predicted vs actual by frequency."),
    horizon: int = typer.Option(365, "--horizon", help="CLV horizon in days."),
    discount: float = typer.Option(0.1, "--discount-rate", help="Annual discount rate for CLV."),
    event: str = typer.Option("Order Completed", "--event", help="Which event counts as a purchase."),
    out: str = typer.Option(None, "--out", help="Write per-customer results to this CSV file."),
    chart: str = typer.Option("clv_holdout.svg", "--chart", help="Where --holdout-from writes its SVG chart."),
    limit: int = typer.Option(20, "--limit", help="Customers shown (highest CLV first)."),
    model: str = typer.Option("bg-nbd", "--model", help="Purchase model: bg-nbd (default) or pareto-nbd."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Fit BG/NBD (or Pareto/NBD with --model pareto-nbd) and Gamma-Gamma on purchases (same-day purchases count as one, weeks) and score customers.

    Example: wayfare predict clv --calibration-end 1997-09-30 --json
    Example: wayfare predict clv --model pareto-nbd --calibration-end 1997-09-30 --json
    """
    from ..predict.lifetime import MODELS, fit_clv, holdout_comparison
    if model not in MODELS:
        raise ValidationError(f"unknown model {model!r}; use bg-nbd or pareto-nbd", where="--model")
    sc = scope(workspace)
    with progress(f"Fitting {model} and Gamma-Gamma") as update:
        fit = fit_clv(sc, model=model, calibration_end=_date(calibration_end, "--calibration-end"),
                      horizon_days=horizon, discount=discount, event=event)
        update(1, 1)
    s, bg, gg, end, tx = fit.customers, fit.purchase_model, fit.spend_model, fit.calibration_end, fit.transactions
    data: dict[str, Any] = fit.summary(horizon, discount)
    if holdout_from:
        data["holdout"] = holdout_comparison(fit, _date(holdout_from, "--holdout-from"))
        from ..predict.chart import holdout_svg
        with open(chart, "w") as f:
            f.write(holdout_svg(data["holdout"]["by_frequency"]))
        data["holdout"]["chart"] = chart
    from ..predict.registry import save_model
    data["model_id"] = save_model(sc, "bgnbd+gamma_gamma" if model == "bg-nbd" else "pareto_nbd+gamma_gamma", {**bg.params_, **gg.params_},
                                  {"log_likelihood": bg.log_likelihood_, **({"holdout": {k: v for k, v in data["holdout"].items()
                                   if k.startswith("total")}} if holdout_from else {})},
                                  data_from=pd.Timestamp(tx["ts"].min()).to_pydatetime(), data_to=end.to_pydatetime())
    per = s.reset_index().rename(columns={"index": "person_id"})
    if out:
        per.to_csv(out, index=False)
        data["out"] = out
    else:
        data["top_customers"] = orjson.loads(per.head(limit).to_json(orient="records"))

    def render(d: dict) -> None:
        if "bgnbd" in d:
            console.print(f"BG/NBD  r={d['bgnbd']['r']:.4f} alpha={d['bgnbd']['alpha']:.4f} a={d['bgnbd']['a']:.4f} b={d['bgnbd']['b']:.4f}")
        else:
            pn = d["pareto_nbd"]
            console.print(f"Pareto/NBD  r={pn['r']:.4f} alpha={pn['alpha']:.4f} s={pn['s']:.4f} beta={pn['beta']:.4f}")
        console.print(f"Gamma-Gamma  p={d['gamma_gamma']['p']:.4f} q={d['gamma_gamma']['q']:.4f} gamma={d['gamma_gamma']['gamma']:.4f}")
        if "holdout" in d:
            tb = Table(title="Holdout: repeat purchases per customer by calibration frequency")
            for c in ("frequency", "customers", "actual", "predicted"):
                tb.add_column(c)
            for r in d["holdout"]["by_frequency"]:
                tb.add_row(str(r["frequency"]), str(r["customers"]), f"{r['actual']:.3f}", f"{r['predicted']:.3f}")
            console.print(tb)

    emit(data, json, render)


@predict_app.command("churn")
def churn(
    evaluate: bool = typer.Option(False, "--evaluate", help="Cross-validate a model on a people table with a churn label."),
    label: str = typer.Option("Churn", "--label", help="Profile trait holding the churn label (Yes/No, true/false, 1/0)."),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds."),
    limit: int = typer.Option(50, "--limit", help="Customers listed when scoring (highest risk first)."),
    model: str = typer.Option("gbm", "--model", help="Scoring model: gbm (LightGBM on behaviour + P(alive)) or p-alive."),
    horizon: int = typer.Option(90, "--horizon", help="gbm: churn = no purchase in the next N days."),
    event: str = typer.Option("Order Completed", "--event", help="Which event counts as a purchase."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Churn risk from profile traits: 5-fold cross-validated ROC AUC, calibration and top-decile lift.

    Protected attributes (wayfare.predict.churn.PROTECTED_ATTRIBUTES, extend with WAYFARE_PROTECTED) are never features.

    Without --evaluate: churn risk per customer from purchases. --model gbm (default) trains LightGBM on
    behavioural features with time-split labels, reports its AUC beside P(alive)'s on the latest window,
    and gives SHAP reasons in words; --model p-alive uses 1 - BG/NBD P(alive).

    Example: wayfare predict churn --evaluate --label Churn --json
    Example: wayfare predict churn --horizon 90 --limit 20
    """
    sc = scope(workspace)
    if not evaluate and model == "gbm":
        _gbm_command(sc, "churn", horizon, event, limit, json)
        return
    if not evaluate and model != "p-alive":
        raise ValidationError(f"unknown model {model!r}; use gbm or p-alive", where="--model")
    if not evaluate:
        from ..predict.reasons import churn_reason
        with progress("Scoring churn risk"):
            _, s, bg, _ = _fit_at(sc, event, None)
        s["p_alive"] = bg.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
        s["churn_risk"] = 1 - s["p_alive"]
        s = s.sort_values("churn_risk", ascending=False).head(limit)
        rows = [{"person_id": pid, "churn_risk": float(r["churn_risk"]), "p_alive": float(r["p_alive"]),
                 "reason": churn_reason(7 * (r["T"] - r["recency"]),
                                        7 * r["recency"] / r["frequency"] if r["frequency"] > 0 else None, r["p_alive"])}
                for pid, r in s.iterrows()]
        emit({"model": "bgnbd_p_alive", "customers": rows}, json, lambda d: console.print_json(data=d))
        return
    rows = sc.df("SELECT person_id, CAST(traits AS VARCHAR) AS traits FROM profiles")
    recs = [orjson.loads(t) if t else {} for t in rows["traits"]]
    df = pd.DataFrame.from_records(recs)
    if label not in df.columns:
        raise ValidationError(f"no trait {label!r} on profiles", where="--label")
    df = df[df[label].notna()].reset_index(drop=True)
    if len(df) < folds * 2:
        raise ValidationError("too few labelled profiles to evaluate", where="--label")
    with progress("Cross-validating churn model"):
        res = evaluate_churn(df, label, folds=folds)

    def render(d: dict) -> None:
        console.print(f"ROC AUC ({d['folds']}-fold) {d['auc']:.3f} ± {d['auc_sd']:.3f}; top-decile lift {d['top_decile_lift']:.2f}")
        console.print(f"Protected attributes left out: {', '.join(d['excluded_protected']) or 'none present'}")

    emit(res, json, render)


def _gbm_command(sc, target: str, horizon: int, event: str, limit: int, json: bool) -> None:
    from ..predict.gbm import time_split
    from ..predict.registry import save_model

    with progress(f"Training and scoring {target} (time split)") as update:
        r = time_split(sc, target, horizon, event, progress=update)
    top = r.scores.sort_values(ascending=False).head(limit)
    why = r.reasons(top.index)
    ev = r.evaluation
    mid = save_model(sc, f"{target}_gbm", {"features": r.model.features, "horizon_days": horizon, "cutoffs": r.cutoffs},
                     {k: ev[k] for k in ("auc", "top_decile_lift", "compare", "train", "test")},
                     data_to=pd.Timestamp(r.cutoffs["now"]).to_pydatetime())
    key = "churn_risk" if target == "churn" else "propensity"
    data = {"model": "lightgbm+p_alive", "model_id": mid, "target": target, "horizon_days": horizon, "as_of": r.cutoffs["now"],
            "evaluation": ev, "auc": ev["auc"],
            "customers": [{"person_id": pid, key: float(v), "reasons": why.get(pid, [])} for pid, v in top.items()]}

    def render(d: dict) -> None:
        e = d["evaluation"]
        console.print(f"Time split: trained on labels from {e['train']['cutoff']}, tested on {e['test']['label_window']}")
        c = e["compare"]
        console.print(f"ROC AUC  LightGBM+P(alive) {c['gbm+p_alive']:.3f}  LightGBM {c['gbm']:.3f}  P(alive) alone "
                      f"{c['p_alive']:.3f}; top-decile lift {e['top_decile_lift']:.2f}")
        tb = Table(title=f"{target}: highest first")
        for col in ("customer", key, "why"):
            tb.add_column(col)
        for x in d["customers"]:
            tb.add_row(x["person_id"], f"{x[key]:.0%}", "; ".join(x["reasons"]))
        console.print(tb)

    emit(data, json, render)


def _fit_at(sc, event: str, cutoff: pd.Timestamp | None):
    tx = sc.df("SELECT person_id, ts, coalesce(revenue, 0) AS revenue FROM events "
               "WHERE event = $e AND person_id IS NOT NULL", {"e": event})
    if tx.empty:
        raise ValidationError(f"no {event!r} events", where="--event")
    if cutoff is None:  # score as of the last purchase day in the data
        cutoff = pd.Timestamp(tx["ts"].max()).normalize()
    s = rfm_summary(tx, cutoff)
    if s.empty:
        raise ValidationError("no purchases before the cutoff", where="--cutoff")
    bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    gg = GammaGammaFitter().fit(s["frequency"], s["monetary_value"])
    return tx, s, bg, gg


@predict_app.command("backtest")
def backtest(
    cutoff: str = typer.Option(..., "--cutoff", help="Fit on purchases up to this day; compare with what happened after."),
    event: str = typer.Option("Order Completed", "--event", help="Which event counts as a purchase."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Replay the past: predicted purchases, P(alive) and spend at the cutoff vs what happened after it.

    Example: wayfare predict backtest --cutoff 2011-06-30 --json
    """
    from sklearn.metrics import roc_auc_score

    sc = scope(workspace)
    c = _date(cutoff, "--cutoff")
    with progress("Backtesting"):
        tx, s, bg, gg = _fit_at(sc, event, c)
    d = tx.assign(day=pd.to_datetime(tx["ts"]).dt.normalize())
    after = d[d["day"] > c]
    if after.empty:
        raise ValidationError("no purchases after the cutoff to compare with", where="--cutoff")
    weeks = ((after["day"].max() - c).days) / 7.0
    days_after = after.drop_duplicates(["person_id", "day"]).groupby("person_id").size().reindex(s.index).fillna(0)
    spend_after = after.groupby("person_id")["revenue"].sum().reindex(s.index).fillna(0)
    pred = bg.conditional_expected_number_of_purchases_up_to_time(weeks, s["frequency"], s["recency"], s["T"])
    alive = bg.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
    bought = (days_after > 0).to_numpy(int)
    pspend = pred * gg.conditional_expected_average_profit(s["frequency"], s["monetary_value"])
    data = {
        "cutoff": c.date().isoformat(), "weeks_after": weeks, "customers": len(s),
        "bgnbd": bg.params_, "gamma_gamma": gg.params_,
        "purchases": {"predicted": float(pred.sum()), "actual": float(days_after.sum()),
                      "mae_per_customer": float(abs(pred - days_after).mean())},
        "spend": {"predicted": float(pspend.sum()), "actual": float(spend_after.sum())},
        "p_alive_auc_bought_again": float(roc_auc_score(bought, alive)) if 0 < bought.sum() < len(bought) else None,
        "expected_purchases_auc_bought_again": float(roc_auc_score(bought, pred)) if 0 < bought.sum() < len(bought) else None,
    }
    emit(data, json, lambda d: console.print_json(data=d))


@predict_app.command("next-action")
def next_action(
    event: str = typer.Option("Order Completed", "--event", help="Which event counts as a purchase."),
    limit: int = typer.Option(50, "--limit", help="Customers listed (highest expected 12-month value first)."),
    per_week: int = typer.Option(2, "--max-per-week", help="Contact limit: marketing messages per 7 days."),
    per_month: int = typer.Option(4, "--max-per-month", help="Contact limit: marketing messages per 30 days."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Per customer the action with the highest expected value (uplift × order value − cost), within consent and contact limits.

    Uplift per action is measured from past campaigns with a holdout group (flow entries with variant 'holdout',
    or imported events with campaign/variant properties); without such history the catalogue's prior is used and said so.

    Example: wayfare predict next-action --limit 20 --json
    """
    from ..predict.nba import ContactLimits
    from ..predict.score import score_customers

    sc = scope(workspace)
    with progress("Scoring customers") as update:
        res = score_customers(sc, event, limits=ContactLimits(per_week, per_month), progress=update)
    f = res.frame[res.frame["orders"] > 0].sort_values("clv", ascending=False).head(limit)
    recs = [{"person_id": pid, "action": r["action"], "channel": r["channel"], "expected_value": round(float(r["expected_value"]), 2),
             "churn_risk": float(r["churn_risk"]), "propensity_30d": float(r["propensity"]), "value": float(r["clv"]),
             "email_consent": bool(r["email_ok"]), "reason": r["reason"],
             "churn_reasons": r["churn_reasons"] if isinstance(r["churn_reasons"], list) else []} for pid, r in f.iterrows()]
    s = res.summary()
    emit({"as_of": res.as_of, "recommendations": recs, "actions": s["actions"], "uplift": res.uplift, "catalogue": s["catalogue"],
          "models": res.model_ids}, json, lambda d: console.print_json(data=d))


@predict_app.command("score")
def score(
    write_traits: bool = typer.Option(False, "--write-traits", help="Write churn_risk, purchase_propensity_30d, clv, "
                                      "next_action (and reasons) onto each profile, for segments and flow triggers."),
    event: str = typer.Option("Order Completed", "--event", help="Which event counts as a purchase."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Score every customer: churn risk, 30-day purchase propensity, CLV and next best action, with reasons.

    With --write-traits the scores become profile traits, so a segment such as `traits.churn_risk > 0.7` or a
    flow with `trigger: {score: churn_risk, above: 0.7}` picks them up.

    Example: wayfare predict score --write-traits --json
    """
    from ..predict import score as scoring

    sc = scope(workspace)
    with progress("Scoring every customer") as update:
        res = scoring.score_customers(sc, event, progress=update)
        written = scoring.write_traits(sc, res) if write_traits else 0
    s = res.summary()
    data = {"as_of": s["as_of"], "customers": s["customers"], "models": s["models"], "traits_written": written,
            "traits": list(scoring.TRAITS) if write_traits else [], "actions": s["actions"],
            "churn_auc": s["churn"]["auc"], "propensity_auc": s["propensity"]["auc"],
            "churn_compare": s["churn"]["compare"], "propensity_compare": s["propensity"]["compare"],
            "high_risk": int((res.frame["churn_risk"].round(3) > 0.7).sum()), "uplift": s["uplift"]}
    emit(data, json, lambda d: console.print_json(data=d))


@predict_app.command("propensity")
def propensity(
    days: int = typer.Option(30, "--days", help="Window: will the customer buy in the next N days?"),
    event: str = typer.Option("Order Completed", "--event", help="Which event counts as a purchase."),
    limit: int = typer.Option(50, "--limit", help="Customers listed (most likely first)."),
    model: str = typer.Option("gbm", "--model", help="gbm (LightGBM on behaviour + P(alive), SHAP reasons) or bgnbd."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Purchase propensity for the next N days, evaluated on a time split (fit before the last N days, label after).

    Example: wayfare predict propensity --days 30 --json
    """
    from sklearn.metrics import roc_auc_score

    sc = scope(workspace)
    if model == "gbm":
        _gbm_command(sc, "propensity", days, event, limit, json)
        return
    if model != "bgnbd":
        raise ValidationError(f"unknown model {model!r}; use gbm or bgnbd", where="--model")
    with progress("Scoring propensity"):
        tx, s, bg, _ = _fit_at(sc, event, None)
        last = pd.Timestamp(tx["ts"].max()).normalize()
        cut = last - pd.Timedelta(days=days)
        s_cut = rfm_summary(tx, cut)
        bg_cut = BetaGeoFitter().fit(s_cut["frequency"], s_cut["recency"], s_cut["T"])
    d = tx.assign(day=pd.to_datetime(tx["ts"]).dt.normalize())
    bought = d[d["day"] > cut].groupby("person_id").size().reindex(s_cut.index).fillna(0).gt(0).to_numpy(int)
    score = bg_cut.conditional_expected_number_of_purchases_up_to_time(days / 7, s_cut["frequency"], s_cut["recency"], s_cut["T"])
    ev: dict[str, Any] = {"cutoff": cut.date().isoformat(), "customers": len(s_cut), "positives": int(bought.sum())}
    if 0 < bought.sum() < len(bought):
        order = score.argsort()[::-1][: max(1, len(bought) // 10)]
        ev["auc"] = float(roc_auc_score(bought, score))
        ev["top_decile_lift"] = float(bought[order].mean() / bought.mean())
    now = bg.conditional_expected_number_of_purchases_up_to_time(days / 7, s["frequency"], s["recency"], s["T"])
    s = s.assign(expected_purchases=now).sort_values("expected_purchases", ascending=False).head(limit)
    rows = [{"person_id": pid, "expected_purchases": float(r["expected_purchases"])} for pid, r in s.iterrows()]
    emit({"days": days, "evaluation": ev, "customers": rows}, json, lambda d: console.print_json(data=d))
