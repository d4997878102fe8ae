"""The automation HTTP surface: the in-process scheduler of ``wayfare serve``, and flows as JSON (admin key):
list, validate and enable a flow given in the same model as the YAML, stats."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import ORJSONResponse

from ..automate import Scheduler, enable_flow, flow_stats, list_flows, validate_flow
from ..automate.model import Flow
from ..errors import AuthError, NotFound, ValidationError
from ..ingest.routes import key_from_request
from ..store import verify_key
from .app import AppState

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
            return ORJSONResponse({"error": str(e)}, status_code=401)
        except NotFound as e:
            return ORJSONResponse({"error": str(e)}, status_code=404)
        except ValidationError as e:
            return ORJSONResponse({"error": str(e), "where": e.where}, status_code=422)

    @app.get("/v1/flows", tags=["automate"])
    def flows(request: Request):
        return _guard(lambda: {"flows": list_flows(_scope(request))})

    @app.post("/v1/flows/validate", tags=["automate"])
    async def validate(request: Request):
        doc = await request.json()
        return _guard(lambda: (_scope(request), validate_flow(doc))[1])

    @app.post("/v1/flows", tags=["automate"])
    async def enable(request: Request):
        doc = await request.json()

        def go():
            sc = _scope(request)
            validate_flow(doc)
            return enable_flow(sc, Flow.model_validate(doc))
        return _guard(go)

    @app.get("/v1/flows/{name}/stats", tags=["automate"])
    def stats(name: str, request: Request):
        return _guard(lambda: flow_stats(_scope(request), name))
