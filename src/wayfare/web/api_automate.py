"""The automation HTTP surface: the in-process scheduler of ``wayfare serve``, and flows as JSON (admin key):
list, validate and enable a flow given in the same model as the YAML, stats."""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request

from ..automate import Scheduler, enable_flow, flow_stats, list_flows, validate_flow
from ..automate.model import Flow
from ..errors import AuthError, NotFound, ValidationError
from ..ingest.routes import JSONAnswer, key_from_request
from ..store import verify_key
from .app import OPENAPI_MODELS, AppState

__all__ = ["register"]


def register(app: FastAPI, state: AppState) -> None:
    def start(st: AppState):
        s = Scheduler(st.store, interval=0.5).start()
        return s.stop

    state.startup.append(start)

    def _scope(request: Request):
        info = verify_key(state.store, key_from_request(request), need="admin")
        return state.store.scope(info.workspace_id)

    def _guard(fn):
        try:
            return fn()
        except AuthError as e:
            return JSONAnswer({"error": str(e)}, status_code=401)
        except NotFound as e:
            return JSONAnswer({"error": str(e)}, status_code=404)
        except ValidationError as e:
            return JSONAnswer({"error": str(e), "where": e.where}, status_code=422)

    async def _body(request: Request) -> dict:
        """The flow document: a JSON object, else a clear 422 (never a server error)."""
        raw = await request.body()
        if not raw.strip():
            raise ValidationError("the request body is empty: send the flow as a JSON object", where="body")
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise ValidationError(f"the body is not valid JSON: {e}", where="body") from None
        if not isinstance(doc, dict):
            raise ValidationError("a flow is a JSON object with name, trigger and steps", where="body")
        return doc

    async def _doc(request: Request):
        """(document, None), or (None, the error response): the key is checked before the body is judged."""
        try:
            return await _body(request), None
        except ValidationError as e:
            bad = e

        def fail():
            _scope(request)
            raise bad
        return None, _guard(fail)

    @app.get("/v1/flows", tags=["automate"])
    def flows(request: Request):
        return _guard(lambda: {"flows": list_flows(_scope(request))})

    if Flow not in OPENAPI_MODELS:
        OPENAPI_MODELS.append(Flow)
    flow_body = {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Flow"}}}}}

    @app.post("/v1/flows/validate", tags=["automate"], openapi_extra=flow_body)
    async def validate(request: Request):
        doc, err = await _doc(request)
        if err is not None:
            return err
        return _guard(lambda: (_scope(request), validate_flow(doc))[1])

    @app.post("/v1/flows", tags=["automate"], openapi_extra=flow_body)
    async def enable(request: Request):
        doc, err = await _doc(request)
        if err is not None:
            return err

        def go():
            sc = _scope(request)
            validate_flow(doc)
            return enable_flow(sc, Flow.model_validate(doc))
        return _guard(go)

    @app.get("/v1/flows/{name}/stats", tags=["automate"])
    def stats(name: str, request: Request):
        return _guard(lambda: flow_stats(_scope(request), name))
