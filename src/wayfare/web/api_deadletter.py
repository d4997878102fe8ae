"""The dead-letter list over HTTP (admin key): ``GET /v1/flows/failed`` lists the sends that failed for good or
are uncertain (addresses masked), ``POST /v1/flows/retry`` puts one (``{"key": ...}``) or every failed one
(``{"all_failed": true, "flow": ...}``) back in line; ``"force": true`` also takes an uncertain send, which
may then arrive twice. The same as ``wayfare flows failed`` and ``wayfare flows retry``."""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from ..channels.deadletter import failed_sends, retry_sends
from ..errors import AuthError, NotFound, ValidationError
from ..ingest.routes import JSONAnswer, key_from_request
from ..store import verify_key
from .app import AppState

__all__ = ["register", "RetryRequest"]


class RetryRequest(BaseModel):
    """One send by key, or every failed send (of one flow)."""
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"anyOf": [
        {"required": ["key"], "properties": {"key": {"type": "string", "minLength": 1}, "flow": {"type": "null"},
                                             "all_failed": {"const": False}}},
        {"required": ["all_failed"], "properties": {"all_failed": {"const": True}, "key": {"type": "null"}}}]})
    key: str | None = Field(None, max_length=1000, description="flow:entry:person:step, from GET /v1/flows/failed")
    all_failed: bool = False
    flow: str | None = Field(None, max_length=200)
    force: bool = Field(False, description="Also an uncertain send: it may already have arrived (double send).")


def register(app: FastAPI, state: AppState) -> None:
    def _scope(request: Request):
        info = verify_key(state.store, key_from_request(request), need="admin")
        return state.store.scope(info.workspace_id), info

    def _guard(fn):
        try:
            return fn()
        except AuthError as e:
            return JSONAnswer({"error": str(e)}, status_code=401)
        except NotFound as e:
            return JSONAnswer({"error": str(e)}, status_code=404)
        except ValidationError as e:
            return JSONAnswer({"error": str(e), "where": e.where}, status_code=422)

    @app.get("/v1/flows/failed", tags=["automate"])
    def failed(request: Request, flow: str | None = None, limit: int = 500):
        def go():
            sc, _ = _scope(request)
            rows = failed_sends(sc, flow, max(1, min(int(limit), 5000)))
            return {"failed": rows, "count": len(rows)}
        return _guard(go)

    @app.post("/v1/flows/retry", tags=["automate"],
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": RetryRequest.model_json_schema()}}}})
    async def retry(request: Request):
        raw = await request.body()

        def go():
            sc, info = _scope(request)  # the key first, then the body
            try:
                req = RetryRequest.model_validate(orjson.loads(raw or b"null"))
            except orjson.JSONDecodeError as e:
                raise ValidationError(f"the body is not valid JSON: {e}", where="body") from None
            except PydanticError as e:
                err = e.errors()[0]
                where = "body." + ".".join(str(x) for x in err["loc"]) if err["loc"] else "body"
                raise ValidationError(err["msg"], where=where) from None
            if req.flow and not req.all_failed:
                raise ValidationError("flow goes with all_failed (a key already names its flow)", where="body.flow")
            return retry_sends(sc, req.key, all_failed=req.all_failed, flow=req.flow, force=req.force,
                               actor=f"api-key:{info.key_id}")
        return _guard(go)
