"""The analytics HTTP API: funnels, paths, retention, RFM, KPIs and segments as JSON.

Every route needs an admin key (``Authorization: Bearer <key>``) and answers for that key's workspace only.
Queries run on a per-request DuckDB cursor in a worker thread, never on the writer's connection.
"""

from __future__ import annotations

from fastapi import FastAPI, Query, Request
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
from ..analytics.model import BY_PART
from ..ingest.messages import WHITESPACE
from .admin import admin_caller
from .app import AppState

__all__ = ["register"]


# Patterns for the OpenAPI schema only (json_schema_extra: the handlers' own checks decide, with their messages):
# the simplest form of each, so that whatever the schema allows is accepted
_STEP = f"[^{WHITESPACE}\"']"  # an event name: something besides spaces and quotes
# conditions (``where field = value``) are accepted, not generated
_NOT_WHERE = f"[^{WHITESPACE}][{WHITESPACE}]+[Ww][Hh][Ee][Rr][Ee][{WHITESPACE}]+[^{WHITESPACE}]"
_DURATION = (f"^[{WHITESPACE}]*0*[1-9][0-9]{{0,5}}[{WHITESPACE}]*"
             f"(s|sec|secs|m|min|mins|h|hr|hour|hours|d|day|days|w|week|weeks)?[{WHITESPACE}]*$")


def _doc(**schema) -> dict:
    return {"json_schema_extra": schema}


class FunnelBody(BaseModel):
    steps: list[str] = Field(min_length=1, max_length=20, **_doc(
        items={"type": "string", "minLength": 1, "maxLength": 500, "pattern": _STEP, "not": {"pattern": _NOT_WHERE}},
        description="event names, each optionally with `where field = value` conditions"))
    within: str = Field("7d", **_doc(pattern=_DURATION, description="e.g. 30m, 12h, 7d, 2w"))
    by: str | None = Field(None, **_doc(pattern=f"^({BY_PART}(\\.{BY_PART})*)?$",
                                        description="what to split by: persona, first_touch, traits.x, an event "
                                                    "column or a property of the first step"))


class SegmentBody(BaseModel):
    name: str = Field(**_doc(pattern=r"^[\w][\w .\-]{0,79}$"))  # letters of any script, as the check reads them
    rule: str = Field(**_doc(pattern=r"^(orders|revenue) (>=|<=|>|<|=) [0-9]{1,6}$",
                             description="the rule language (`wayfare segments grammar`), e.g. `orders >= 2 and "
                                         "revenue > 100 in 90d`; the pattern shows its simplest form"))
    description: str | None = None


def register(app: FastAPI, state: AppState) -> None:
    call = admin_caller(state)

    @app.post("/v1/analytics/funnel", tags=["analytics"])
    async def funnel(body: FunnelBody, request: Request):
        if any(len(s) > 500 for s in body.steps):
            return JSONResponse({"error": "a step is at most 500 characters"}, status_code=400)

        def go(sc):
            t = Tables.from_scope(sc, cursor=True)
            q = FunnelQuery(steps=[parse_step(s) for s in body.steps], within=parse_duration(body.within, "within"),
                            by=body.by)
            return run_funnel(t.events, q, t.profiles)
        return await call(request, go)

    @app.get("/v1/analytics/paths", tags=["analytics"])
    async def paths(request: Request, start: str | None = None, end: str | None = None, depth: int = Query(4, ge=1, le=10),
                    min_count: int = Query(1, ge=1), limit: int = Query(20, ge=1, le=1000)):
        q = PathsQuery(start=start, end=end, depth=depth, min_count=min_count, limit=limit)
        return await call(request, lambda sc: run_paths(Tables.from_scope(sc, cursor=True).events, q))

    @app.get("/v1/analytics/retention", tags=["analytics"])
    async def retention(request: Request, period: str = Query("week", json_schema_extra={"enum": ["day", "week", "month"]}), periods: int = Query(8, ge=1, le=120), cohort_event: str | None = None,
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
    async def kpis(request: Request, period: str = Query("month", json_schema_extra={"enum": ["day", "week", "month"]})):
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


