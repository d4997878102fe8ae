"""The Python API for analysts: one object per workspace, each question a pandas DataFrame.

    >>> import wayfare
    >>> wb = wayfare.open("wayfare.db", workspace="default")        # doctest: +SKIP
    >>> wb.demo("restaurant", customers=500)                         # doctest: +SKIP
    >>> wb.funnel(["Menu Viewed", "Table Booked", "Order Completed"], within="7d")   # doctest: +SKIP

Every method calls the same engine functions as the matching CLI command, so the figures are the ones
``wayfare ... --json`` prints; that JSON document rides along in ``df.attrs["raw"]``. Where the engine is
Ibis-based the ``*_expr`` twin returns the unexecuted Ibis expression, to filter, join or run elsewhere
(``wb.tables`` are the workspace's Ibis tables; ``Tables.from_spark`` points the same builders at Spark).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import ValidationError
from .store import DEFAULT_WORKSPACE, Scope, Store

if TYPE_CHECKING:  # pragma: no cover
    import ibis

    from .analytics import Tables

__all__ = ["Workbench", "open"]

_ORDER = "Order Completed"


def _frame(rows: Any, raw: Any, columns: Sequence[str] | None = None) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(columns) if columns is not None and not rows else None)
    df.attrs["raw"] = raw
    return df


def _date(s: str | dt.date | None, where: str) -> pd.Timestamp | None:
    if s is None:
        return None
    try:
        return pd.Timestamp(s if isinstance(s, dt.date) else dt.date.fromisoformat(str(s)))
    except ValueError as e:
        raise ValidationError(f"not a date (YYYY-MM-DD): {s!r}", where=where) from e


class Workbench:
    """One workspace of a store, for analysis in Python. Make one with :func:`wayfare.open`.

    Attributes:
        store: the open :class:`wayfare.Store` (one DuckDB file).
        scope: the :class:`wayfare.Scope` every query goes through (tenant isolation).
    """

    def __init__(self, store: Store, workspace: str = DEFAULT_WORKSPACE, *, owns_store: bool = True) -> None:
        self.store = store
        self.scope: Scope = store.scope(workspace)
        self._owns = owns_store

    def __repr__(self) -> str:
        return f"<wayfare.Workbench {self.store.path!s} workspace={self.scope.name!r}>"

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store (when this workbench opened it)."""
        if self._owns:
            self.store.close()

    # -- data in --------------------------------------------------------------------------------------------------
    def demo(self, business: str = "restaurant", customers: int = 2000, *, seed: int = 1, days: int = 540
             ) -> pd.DataFrame:
        """Write a deterministic demo history (``wayfare demo``); one row summarising it.

        Args:
            business: ``restaurant``, ``shop`` or ``salon``.
            customers: how many customers.
            seed: same seed, same history.
            days: days of history, ending yesterday.
        """
        from .demo import generate

        s = generate(self.scope, business, customers, seed=seed, days=days)
        return _frame([{k: v for k, v in s.items() if not isinstance(v, dict | list)}], s)

    def import_csv(self, path: str | os.PathLike, preset: str = "generic", *, map: Sequence[str] | None = None,
                   kind: str | None = None, event: str | None = None, dry_run: bool = False,
                   time: str | None = None) -> pd.DataFrame:
        """Import a CSV export through a preset (``wayfare import``): whole or not at all, idempotent.

        Args:
            path: the .csv or .csv.gz file.
            preset: ``shopify-orders``, ``square-payments``, ``stripe-charges``, ``hubspot-contacts``,
                ``mailchimp-audience``, ``google-forms``, ``typeform``, ``zendesk-tickets`` or ``generic``.
            map: ``COLUMN=FIELD`` mappings, e.g. ``["CustomerID=user_id"]``.
            kind: ``events`` or ``people``.
            event: event name for every row when no column holds one.
            dry_run: read and check only; write nothing.
            time: ISO time for rows of a file without a time column.

        Returns:
            One row: rows, inserted, duplicates, people_created, merges (the mapping is in ``attrs["raw"]``).
        """
        from .ingest import run_import

        res = run_import(self.scope, str(path), preset, list(map) if map else None, kind, event, dry_run,
                         default_time=time)
        return _frame([{k: v for k, v in res.items() if not isinstance(v, dict | list)}], res)

    # -- analytics (Ibis) -----------------------------------------------------------------------------------------
    @property
    def tables(self) -> Tables:
        """The workspace's ``events`` and ``profiles`` as Ibis tables (``wayfare.analytics.Tables``)."""
        from .analytics import Tables

        return Tables.from_scope(self.scope)

    def _funnel_query(self, steps: Sequence[str], within: str | int, by: str | None, exclude: Sequence[str]):
        from .analytics import FunnelQuery, parse_duration, parse_step
        from .analytics.model import Exclusion

        if isinstance(steps, str):
            raise ValidationError("steps is a list of step texts, e.g. ['Menu Viewed', 'Order Completed']",
                                  where="funnel(steps)")
        parsed = [parse_step(s) for s in steps]
        excl = []
        for x in exclude:
            a, _, rest = x.partition(":")
            if rest and "-" in a and a.replace("-", "").strip().isdigit():
                lo, hi = (int(v) for v in a.split("-"))
                excl.append(Exclusion(step=parse_step(rest), after=lo, before=hi))
            else:
                excl.append(Exclusion(step=parse_step(x), after=1, before=len(parsed)))
        return FunnelQuery(steps=parsed, within=parse_duration(within, "within"), by=by, exclusions=excl)

    def funnel(self, steps: Sequence[str], within: str | int = "7d", *, by: str | None = None,
               exclude: Sequence[str] = ()) -> pd.DataFrame:
        """How many people get through each step in order within the window (``wayfare funnel``).

        Args:
            steps: step texts, e.g. ``["Menu Viewed", "Order Completed where channel = pos"]``.
            within: window from the first step: ``30m``, ``12h``, ``7d``, ``2w`` or seconds.
            by: breakdown (``persona``, ``first_touch``, ``traits.X`` or a field of the step-1 event).
            exclude: exclusion steps, ``"EVENT"`` or ``"A-B:EVENT"``.

        Returns:
            One row per step: step, count, conversion_from_previous, conversion_from_first, median_hours,
            p90_hours; with ``by``, a ``key`` column and one block of rows per group.
        """
        from .analytics import run_funnel

        t = self.tables
        data = run_funnel(t.events, self._funnel_query(steps, within, by, exclude), t.profiles)
        if by:
            rows = [{"key": g["key"], **s} for g in data.get("breakdown", []) for s in g["steps"]]
            return _frame(rows, data)
        return _frame(data["steps"], data)

    def funnel_expr(self, steps: Sequence[str], within: str | int = "7d", *, exclude: Sequence[str] = ()
                    ) -> ibis.Table:
        """The funnel's Ibis expression: one row per person with the furthest ``level`` reached and step times."""
        from .analytics import funnel_levels

        return funnel_levels(self.tables.events, self._funnel_query(steps, within, None, exclude))

    def _paths_query(self, start, end, depth, min_count, limit, session_gap, collapse_repeats):
        from .analytics import PathsQuery, parse_duration

        if start and end:
            raise ValidationError("give start or end, not both", where="paths")
        return PathsQuery(start=start, end=end, depth=depth, min_count=min_count, limit=limit,
                          collapse_repeats=collapse_repeats, session_gap=parse_duration(session_gap, "session_gap"))

    def paths(self, start: str | None = None, end: str | None = None, *, depth: int = 4, min_count: int = 1,
              limit: int = 20, session_gap: str = "30m", collapse_repeats: bool = False) -> pd.DataFrame:
        """The most common paths within sessions, from or to an event (``wayfare paths``).

        Returns:
            One row per path: ``path`` (list of event names) and ``sessions``; the Sankey ``links`` are in
            ``attrs["raw"]``.
        """
        from .analytics import run_paths

        q = self._paths_query(start, end, depth, min_count, limit, session_gap, collapse_repeats)
        data = run_paths(self.tables.events, q)
        return _frame(data["paths"], data, ["path", "sessions"])

    def paths_expr(self, start: str | None = None, end: str | None = None, *, depth: int = 4,
                   session_gap: str = "30m", collapse_repeats: bool = False) -> ibis.Table:
        """The Ibis expression of per-session path rows that :meth:`paths` aggregates."""
        from .analytics import path_rows

        return path_rows(self.tables.events, self._paths_query(start, end, depth, 1, 20, session_gap, collapse_repeats))

    def retention(self, period: str = "week", periods: int = 8, *, cohort_event: str | None = None,
                  return_event: str | None = None, order_event: str = _ORDER) -> pd.DataFrame:
        """Cohort retention triangle (``wayfare retention``).

        Returns:
            One row per cohort: cohort, size, and the share returning at offsets ``0 .. periods``
            (columns named by offset); counts and repeat-purchase figures are in ``attrs["raw"]``.
        """
        from .analytics import RetentionQuery, run_repeat, run_retention

        if period not in ("day", "week", "month"):
            raise ValidationError("period is day, week or month", where=f"retention(period={period!r})")
        q = RetentionQuery(period=period, periods=periods, cohort_event=cohort_event, return_event=return_event)
        events = self.tables.events
        data = run_retention(events, q)
        data["repeat"] = run_repeat(events, order_event)
        rows = [{"cohort": c["cohort"], "size": c["size"], **dict(enumerate(c["rates"]))} for c in data["cohorts"]]
        return _frame(rows, data, ["cohort", "size"])

    def retention_expr(self, period: str = "week", periods: int = 8, *, cohort_event: str | None = None,
                       return_event: str | None = None) -> ibis.Table:
        """The Ibis expression: people per (cohort, offset)."""
        from .analytics import RetentionQuery, retention_table

        q = RetentionQuery(period=period, periods=periods, cohort_event=cohort_event, return_event=return_event)
        return retention_table(self.tables.events, q)

    def rfm(self, *, order_event: str = _ORDER) -> pd.DataFrame:
        """RFM segments (Champions ... Lost) with people, revenue and share (``wayfare rfm``)."""
        from .analytics import run_rfm

        data = run_rfm(self.tables.events, order_event=order_event)
        return _frame(data["segments"], data)

    def rfm_expr(self, *, order_event: str = _ORDER) -> ibis.Table:
        """The Ibis expression: per buyer recency_days, frequency, monetary, r, f, m and segment."""
        from .analytics import rfm_table

        return rfm_table(self.tables.events, order_event=order_event)

    def kpis(self, period: str = "month", *, order_event: str = _ORDER) -> pd.DataFrame:
        """Revenue, orders, AOV, customers, new vs returning and active people by period (``wayfare kpis``)."""
        from .analytics import run_kpis

        if period not in ("day", "week", "month"):
            raise ValidationError("period is day, week or month", where=f"kpis(period={period!r})")
        data = run_kpis(self.tables.events, period, order_event)
        return _frame(data["totals"], data)

    def segments(self) -> pd.DataFrame:
        """Saved segments with rule and member count (``wayfare segments list``)."""
        from .analytics import list_segments

        data = list_segments(self.scope)
        return _frame(data, data, ["name", "rule", "members"])

    def segment_members(self, rule: str) -> pd.DataFrame:
        """Who matches a segment rule now (``wayfare segments preview``): one ``person_id`` per row."""
        from .analytics import preview_segment

        people = preview_segment(self.scope, rule)
        return _frame({"person_id": people}, {"rule": rule, "members": len(people)})

    # -- journey and feedback --------------------------------------------------------------------------------------
    def _view(self, journey_yaml: str | os.PathLike | None):
        from .journey import JourneyView

        if journey_yaml is None:
            return JourneyView(self.scope)
        p = os.fspath(journey_yaml)
        if not os.path.exists(p):
            raise ValidationError("no such file", where=p)
        from pathlib import Path

        return JourneyView(self.scope, Path(p).read_text(encoding="utf-8"), None, p)

    def journey_map(self, persona: str | None = None, *, journey_yaml: str | os.PathLike | None = None
                    ) -> pd.DataFrame:
        """The computed journey map (``wayfare map``): one row per stage and per touchpoint.

        Columns: stage, touchpoint (empty on stage rows), people, reach_pct, moved_on_pct, drop_off_pct,
        median_days_to_move_on, revenue, emotion.
        """
        m = self._view(journey_yaml).map(persona)
        keys = ("people", "reach_pct", "moved_on_pct", "drop_off_pct", "median_days_to_move_on", "revenue")
        rows = []
        for s in m["stages"]:
            for x, tp in [(s, None)] + [(t, t["name"]) for t in s["touchpoints"]]:
                emo = x.get("emotion") or x.get("emotion_about") or {}
                rows.append({"stage": s["name"], "touchpoint": tp, **{k: x.get(k) for k in keys},
                             "emotion": emo.get("score")})
        return _frame(rows, m)

    def pain_points(self, persona: str | None = None) -> pd.DataFrame:
        """Pain points ranked by revenue at stake (``wayfare painpoints``)."""
        pains = self._view(None).pain_points(persona=persona)
        return _frame(pains, pains)

    def nps(self, since: str | None = None) -> pd.DataFrame:
        """Net Promoter Score (``wayfare feedback nps``): one row with nps, n, promoters, passives, detractors
        and the 95% interval; the monthly trend is in ``attrs["raw"]["trend"]``."""
        from .feedback import metric_report

        data = metric_report(self.scope, "nps", since)
        return _frame([{k: v for k, v in data.items() if k not in ("trend", "by_event")}], data)

    def feedback_summary(self, since: str | None = None) -> pd.DataFrame:
        """NPS, CSAT, CES and mean comment sentiment: one row per metric (value, n)."""
        from .feedback import voice_summary

        v = voice_summary(self.scope, since)
        rows = [{"metric": "nps", "value": v["nps"]["nps"], "n": v["nps"]["n"]},
                {"metric": "csat_pct", "value": v["csat"]["csat_pct"], "n": v["csat"]["n"]},
                {"metric": "ces", "value": v["ces"]["ces"], "n": v["ces"]["n"]},
                {"metric": "mean_sentiment", "value": v["mean_sentiment"], "n": v["texts"]}]
        return _frame(rows, v)

    # -- predictions ------------------------------------------------------------------------------------------------
    def predict_clv(self, *, calibration_end: str | dt.date | None = None, horizon_days: int = 365,
                    discount_rate: float = 0.1, event: str = _ORDER) -> pd.DataFrame:
        """BG/NBD + Gamma-Gamma customer lifetime value per customer (``wayfare predict clv``), highest first.

        Same-day purchases count as one; time is in weeks. Columns: person_id, frequency, recency, T,
        monetary_value, p_alive, expected_purchases, expected_spend, clv. Fitted parameters are in
        ``attrs["raw"]`` (``bgnbd``, ``gamma_gamma``). Nothing is saved to the model registry.
        """
        from .predict.lifetime import fit_clv

        fit = fit_clv(self.scope, calibration_end=_date(calibration_end, "calibration_end"), horizon_days=horizon_days,
                      discount=discount_rate, event=event)
        s, raw = fit.customers, fit.summary(horizon_days, discount_rate)
        raw.pop("model")
        df = s.reset_index().rename(columns={"index": "person_id"})
        df.attrs["raw"] = raw
        return df

    def churn(self, *, model: str = "gbm", horizon_days: int = 90, evaluate: bool = False, label: str = "Churn",
              folds: int = 5, event: str = _ORDER) -> pd.DataFrame:
        """Churn risk per customer, riskiest first (``wayfare predict churn``).

        Args:
            model: ``gbm`` (LightGBM on behavioural features and P(alive), trained on a time split: churn = no
                purchase in the next ``horizon_days``; reasons from SHAP) or ``p-alive`` (1 - BG/NBD P(alive)).
            horizon_days: the churn horizon of the ``gbm`` model.
            evaluate: instead of scoring, cross-validate a model on profile traits labelled by the trait
                ``label`` (a customer table with a churn column, e.g. Telco); protected attributes are never
                features. Returns one row (ROC AUC, its spread, top-decile lift).
            label: the trait holding the churn label (with ``evaluate``).
            folds: cross-validation folds (with ``evaluate``).
            event: which event counts as a purchase.

        Returns:
            person_id, churn_risk and reasons (``gbm``) or p_alive and reason (``p-alive``); the time-split
            evaluation (AUC beside P(alive)'s) is in ``attrs["raw"]``. Nothing is saved to the model registry.
        """
        if evaluate:
            import orjson

            from .predict import evaluate_churn

            rows = self.scope.df("SELECT person_id, CAST(traits AS VARCHAR) AS traits FROM profiles")
            df = pd.DataFrame.from_records([orjson.loads(t) if t else {} for t in rows["traits"]])
            if label not in df.columns:
                raise ValidationError(f"no trait {label!r} on profiles", where="churn(label)")
            df = df[df[label].notna()].reset_index(drop=True)
            if len(df) < folds * 2:
                raise ValidationError("too few labelled profiles to evaluate", where="churn(label)")
            res = evaluate_churn(df, label, folds=folds)
            return _frame([{k: v for k, v in res.items() if not isinstance(v, dict | list)}], res)
        if model == "gbm":
            from .predict import time_split

            r = time_split(self.scope, "churn", horizon_days, event)
            scores = r.scores.sort_values(ascending=False)
            why = r.reasons(scores.index)
            df = pd.DataFrame({"person_id": scores.index, "churn_risk": scores.to_numpy(float),
                               "reasons": [why.get(p, []) for p in scores.index]})
            df.attrs["raw"] = {"model": "lightgbm+p_alive", "target": "churn", "horizon_days": horizon_days,
                               "as_of": r.cutoffs["now"], "evaluation": r.evaluation, "auc": r.evaluation["auc"]}
            return df
        if model != "p-alive":
            raise ValidationError(f"unknown model {model!r}; use gbm or p-alive", where="churn(model)")
        from .predict import churn_reason
        from .predict.lifetime import fit_clv

        s = fit_clv(self.scope, event=event).customers
        s["churn_risk"] = 1 - s["p_alive"]
        s = s.sort_values("churn_risk", ascending=False)
        s["reason"] = [churn_reason(7 * (r.T - r.recency), 7 * r.recency / r.frequency if r.frequency > 0 else None,
                                    r.p_alive) for r in s.itertuples()]
        df = s.reset_index().rename(columns={"index": "person_id"})[["person_id", "churn_risk", "p_alive", "reason"]]
        df.attrs["raw"] = {"model": "bgnbd_p_alive", "customers": len(df)}
        return df

    def next_action(self, *, limit: int | None = 50, max_per_week: int = 2, max_per_month: int = 4,
                    event: str = _ORDER) -> pd.DataFrame:
        """The best next action per customer (``wayfare predict next-action``): highest expected value (uplift ×
        order value − cost) within consent and contact limits, highest expected 12-month value first.

        Uplift per action is measured from past campaigns with a holdout group where there are any, else the
        catalogue's prior (``attrs["raw"]["uplift"]`` says which). Columns: person_id, action, channel,
        expected_value, churn_risk, propensity_30d, value, email_consent, reason, churn_reasons.

        Args:
            limit: customers returned (None: all buyers).
            max_per_week: contact limit, marketing messages per 7 days.
            max_per_month: contact limit, marketing messages per 30 days.
            event: which event counts as a purchase.
        """
        from .predict import ContactLimits, score_customers

        res = score_customers(self.scope, event, limits=ContactLimits(max_per_week, max_per_month), save=False)
        f = res.frame[res.frame["orders"] > 0].sort_values("clv", ascending=False)
        if limit is not None:
            f = f.head(limit)
        recs = [{"person_id": pid, "action": r["action"], "channel": r["channel"],
                 "expected_value": round(float(r["expected_value"]), 2), "churn_risk": float(r["churn_risk"]),
                 "propensity_30d": float(r["propensity"]), "value": float(r["clv"]), "email_consent": bool(r["email_ok"]),
                 "reason": r["reason"],
                 "churn_reasons": r["churn_reasons"] if isinstance(r["churn_reasons"], list) else []}
                for pid, r in f.iterrows()]
        s = res.summary()
        return _frame(recs, {"as_of": res.as_of, "recommendations": recs, "actions": s["actions"], "uplift": res.uplift,
                             "catalogue": s["catalogue"]})

    # -- automations and people -------------------------------------------------------------------------------------
    def flow_stats(self, name: str) -> pd.DataFrame:
        """A flow's results (``wayfare flows stats``): one row per variant (``all``, A/B variants, ``holdout``)
        with people entered, converted (the flow's goal event within its attribution window), rate and revenue.

        Entries by status, messages by channel and status, opens, clicks and the uplift against the holdout
        (difference with its interval) are in ``attrs["raw"]``.
        """
        from .automate import flow_stats

        data = flow_stats(self.scope, name)
        by_var = (data.get("conversions") or {}).get("by_variant") or {}
        rows = [{"variant": v, **g} for v, g in by_var.items()]
        return _frame(rows, data, ["variant", "entered", "converted", "rate", "revenue"])

    def profile(self, person: str, *, limit: int = 50) -> pd.DataFrame:
        """One person's timeline, newest first (``wayfare profile``); the unified profile (identities,
        traits, channels, orders, revenue) is in ``attrs["raw"]``.

        Args:
            person: email, phone, person id, user id or a source's customer id.
            limit: how many timeline entries.
        """
        from .identity import find_person, person_summary, timeline

        pid = find_person(self.scope, person)
        data = person_summary(self.scope, pid)
        data["timeline"] = timeline(self.scope, pid, limit)
        return _frame(data["timeline"], data, ["ts", "event", "channel", "revenue"])

    def sql(self, query: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run read SQL against this workspace's tables (filtered to the workspace by the store)."""
        return self.scope.df(query, params)


def open(path: str | os.PathLike | None = None, workspace: str = DEFAULT_WORKSPACE, *, read_only: bool = False
         ) -> Workbench:  # noqa: A001  (wayfare.open, like io.open)
    """Open (or create) a store file and one of its workspaces for analysis.

    Args:
        path: the DuckDB store file; default ``$WAYFARE_DB`` or ``./wayfare.db``.
        workspace: which business (workspace) of the store.
        read_only: open without writing (several readers may share the file).

    Example:
        >>> wb = wayfare.open("wayfare.db", workspace="default")    # doctest: +SKIP
        >>> wb.rfm()                                                 # doctest: +SKIP
    """
    store = Store(path, read_only=read_only)
    if workspace != DEFAULT_WORKSPACE and workspace not in {w["name"] for w in store.workspaces()}:
        if read_only:
            store.close()
            raise ValidationError(f"no workspace {workspace!r} in {store.path}", where="open(workspace)")
        store.create_workspace(workspace)
    return Workbench(store, workspace)
