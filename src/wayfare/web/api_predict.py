"""The predictions HTTP API: CLV, churn risk, next best action, and one person's predictions with reasons.

Every route needs an admin key (``Authorization: Bearer <key>``) and answers for that key's workspace only;
scoring runs in a worker thread and is cached until the workspace's events change.
"""

from __future__ import annotations

from fastapi import FastAPI, Query, Request

from ..errors import NotFound, ValidationError
from .admin import admin_caller
from .app import AppState

__all__ = ["register"]


# the catalogue's names (wayfare.predict.nba.BY_NAME, checked equal by tests/web/test_openapi.py), written out so
# that building the app does not import the models
ACTION_NAMES = ("win_back_offer", "check_in_call", "cross_sell", "referral_invite", "review_request", "thank_you",
                "do_nothing")
CLV_MODELS = ("bg-nbd", "pareto-nbd")


def register(app: FastAPI, state: AppState) -> None:
    call = admin_caller(state)

    @app.get("/v1/predict/clv", tags=["predict"])
    async def clv(request: Request, model: str = Query("bg-nbd", json_schema_extra={"enum": list(CLV_MODELS)}), horizon_days: int = Query(365, ge=1, le=3650),
                  limit: int = Query(50, ge=1, le=1000)):
        from ..predict.score import clv_report

        return await call(request, lambda sc: clv_report(sc, model, horizon_days, limit=limit))

    @app.get("/v1/predict/churn", tags=["predict"])
    async def churn(request: Request, limit: int = Query(50, ge=1, le=1000)):
        def go(sc):
            from ..predict.score import cached_scores

            res = cached_scores(sc)
            f = res.frame[res.frame["orders"] > 0].sort_values("churn_risk", ascending=False).head(limit)
            return {"as_of": res.as_of, "model": "lightgbm+p_alive", "horizon_days": res.churn.horizon_days,
                    "evaluation": {k: res.churn.evaluation[k] for k in ("auc", "top_decile_lift", "compare", "train", "test")},
                    "customers": [{"person_id": pid, "churn_risk": round(float(r["churn_risk"]), 4),
                                   "reasons": r["churn_reasons"] or []} for pid, r in f.iterrows()]}
        return await call(request, go)

    @app.get("/v1/predict/next-action", tags=["predict"])
    async def next_action(request: Request, limit: int = Query(50, ge=1, le=1000), action: str | None = Query(None, json_schema_extra={"enum": list(ACTION_NAMES)})):
        def go(sc):
            from ..predict.nba import BY_NAME, catalogue
            from ..predict.score import cached_scores

            if action is not None and action not in BY_NAME:
                raise ValidationError(f"unknown action {action!r}; one of {', '.join(BY_NAME)}", where="action")
            res = cached_scores(sc)
            f = res.frame[res.frame["orders"] > 0]
            if action:
                f = f[f["action"] == action]
            f = f.sort_values("expected_value", ascending=False).head(limit)
            return {"as_of": res.as_of, "uplift": res.uplift, "catalogue": catalogue(),
                    "recommendations": [{"person_id": pid, "action": r["action"], "channel": r["channel"],
                                         "expected_value": round(float(r["expected_value"]), 2), "reason": r["reason"]}
                                        for pid, r in f.iterrows()]}
        return await call(request, go)

    @app.get("/v1/predict/people/{person_id}", tags=["predict"])
    async def person(request: Request, person_id: str):
        def go(sc):
            from ..predict import explain_person

            if not sc.one("SELECT 1 FROM profiles WHERE person_id = $p", {"p": person_id}):
                raise NotFound(f"no person {person_id!r} in this workspace")
            return explain_person(sc, person_id)
        return await call(request, go)


