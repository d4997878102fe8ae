"""The journey and voice-of-the-customer HTTP API: the computed map (JSON or the self-contained HTML page),
pain points, the plan, NPS/CSAT, and sentiment scoring of texts.

Every route needs an admin key (``Authorization: Bearer <key>``) and answers for that key's workspace only;
work runs in a worker thread on per-call cursors, never on the writer's connection.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from .admin import admin_caller
from .app import AppState

__all__ = ["register"]


class ScoreBody(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=1000, json_schema_extra={"items": {"type": "string",
                                                                                          "maxLength": 20_000}})
    model: str = Field("auto", json_schema_extra={"enum": ["auto", "general"]})


def register(app: FastAPI, state: AppState) -> None:
    call = admin_caller(state)

    @app.get("/v1/journey/map", tags=["journey"])
    async def journey_map(request: Request, persona: str | None = None, compare: bool = False):
        def go(sc):
            from ..journey import open_view

            v = open_view(sc)
            m = v.map(persona)
            if compare:
                m["comparison"] = v.comparison()
            return m
        return await call(request, go)

    @app.get("/v1/journey/map.html", tags=["journey"], response_class=HTMLResponse)
    async def journey_html(request: Request, persona: str | None = None):
        def go(sc):
            from ..journey import open_view
            from ..journey.export import to_html

            v = open_view(sc)
            m = v.map(persona)
            return to_html(m, v.pain_points(m, persona), None if persona else v.comparison())
        return await call(request, go, html=True)

    @app.get("/v1/journey/painpoints", tags=["journey"])
    async def painpoints(request: Request, persona: str | None = None):
        def go(sc):
            from ..journey import open_view

            return {"pain_points": open_view(sc).pain_points(persona=persona)}
        return await call(request, go)

    @app.get("/v1/journey/plan", tags=["journey"])
    async def plan(request: Request):
        def go(sc):
            from ..journey import open_view

            return open_view(sc).plan()
        return await call(request, go)

    @app.get("/v1/feedback/summary", tags=["feedback"])
    async def feedback_summary(request: Request):
        def go(sc):
            from ..feedback import voice_summary

            return voice_summary(sc)
        return await call(request, go)

    @app.post("/v1/feedback/score", tags=["feedback"])
    async def score(body: ScoreBody, request: Request):
        if body.model not in ("auto", "general"):
            return JSONResponse({"error": "model is auto or general"}, status_code=400)
        if any(len(t) > 20_000 for t in body.texts):
            return JSONResponse({"error": "each text is at most 20,000 characters"}, status_code=400)

        def go(sc):
            from ..feedback import score_texts

            s = score_texts(body.texts, sc, body.model)
            return {"model": s.model, "scores": [{"sentiment": None if x != x else round(float(x), 4), "label": lab}
                                                 for x, lab in zip(s.scores, s.labels, strict=True)]}
        return await call(request, go)


