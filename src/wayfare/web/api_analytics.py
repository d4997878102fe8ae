"""The analytics HTTP API: funnels, paths, retention, RFM, KPIs and segments as JSON.

Every route needs an admin key (``Authorization: Bearer <key>``) and answers for that key's workspace only.
Queries run on a per-request DuckDB cursor in a worker thread, never on the writer's connection.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..analytics import (
    FunnelQuery,
    PathsQuery,
    RetentionQuery,
    Tables,
    parse_duration,
    parse_step,
    run_funnel,
    run_kpis,
    run_paths,
    run_repeat,
    run_retention,
    run_rfm,
)
from ..analytics import saved as saved_segments
from .admin import admin_caller
from .app import AppState

__all__ = ["register"]


class FunnelBody(BaseModel):
    steps: list[str] = Field(min_length=1, max_length=20)
    within: str = "7d"
    by: str | None = None


class SegmentBody(BaseModel):
    name: str
    rule: str
    description: str | None = None


def register(app: FastAPI, state: AppState) -> None:
    call = admin_caller(state)

    @app.post("/v1/analytics/funnel", tags=["analytics"])
    async def funnel(body: FunnelBody, request: Request):
        def go(sc):
            t = Tables.from_scope(sc, cursor=True)
            q = FunnelQuery(steps=[parse_step(s) for s in body.steps], within=parse_duration(body.within, "within"),
                            by=body.by)
            return run_funnel(t.events, q, t.profiles)
        return await call(request, go)

    @app.get("/v1/analytics/paths", tags=["analytics"])
    async def paths(request: Request, start: str | None = None, end: str | None = None, depth: int = 4,
                    min_count: int = 1, limit: int = 20):
        q = PathsQuery(start=start, end=end, depth=depth, min_count=min_count, limit=limit)
        return await call(request, lambda sc: run_paths(Tables.from_scope(sc, cursor=True).events, q))

    @app.get("/v1/analytics/retention", tags=["analytics"])
    async def retention(request: Request, period: str = "week", periods: int = 8, cohort_event: str | None = None,
                        return_event: str | None = None):
        if period not in ("day", "week", "month"):
            return JSONResponse({"error": "period is day, week or month"}, status_code=400)
        q = RetentionQuery(period=period, periods=periods, cohort_event=cohort_event, return_event=return_event)

        def go(sc):
            ev = Tables.from_scope(sc, cursor=True).events
            return run_retention(ev, q) | {"repeat": run_repeat(ev)}
        return await call(request, go)

    @app.get("/v1/analytics/rfm", tags=["analytics"])
    async def rfm(request: Request):
        return await call(request, lambda sc: run_rfm(Tables.from_scope(sc, cursor=True).events))

    @app.get("/v1/analytics/kpis", tags=["analytics"])
    async def kpis(request: Request, period: str = "month"):
        if period not in ("day", "week", "month"):
            return JSONResponse({"error": "period is day, week or month"}, status_code=400)
        return await call(request, lambda sc: run_kpis(Tables.from_scope(sc, cursor=True).events, period))

    @app.get("/v1/analytics/segments", tags=["analytics"])
    async def segments(request: Request):
        return await call(request, saved_segments.list_segments)

    @app.post("/v1/analytics/segments", tags=["analytics"])
    async def segment_save(body: SegmentBody, request: Request):
        def go(sc):
            saved_segments.save_segment(sc, body.name, body.rule, body.description)
            return saved_segments.refresh_segment(sc, body.name)
        return await call(request, go)


