"""The automation HTTP surface: the in-process scheduler of ``wayfare serve`` and read-only flow JSON (admin key)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import ORJSONResponse

from ..automate import Scheduler, list_flows
from ..errors import AuthError
from ..ingest.routes import key_from_request
from ..store import verify_key
from .app import AppState

__all__ = ["register"]


def register(app: FastAPI, state: AppState) -> None:
    def start(st: AppState):
        s = Scheduler(st.store, interval=0.5).start()
        return s.stop

    state.startup.append(start)

    @app.get("/v1/flows", tags=["automate"])
    def flows(request: Request):
        try:
            info = verify_key(state.store, key_from_request(request), need="admin")
        except AuthError as e:
            return ORJSONResponse({"error": str(e)}, status_code=401)
        sc = state.store.scope(info.workspace_id)
        return {"flows": [{"enabled": e, **f.model_dump()} for f, e in list_flows(sc)]}
