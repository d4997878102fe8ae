"""What the admin-key JSON APIs (analytics, journey, predictions) share: the key check, running the engine off
the event loop, the error mapping (401 / 404 / 400) and turning engine results into JSON."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ..errors import AuthError, NotFound, ValidationError
from ..ingest.routes import key_from_request
from ..store import Scope, verify_key

__all__ = ["jsonable", "admin_caller"]

#: a standalone HTML answer (the journey map's printable page): no scripts, inline styles only
HTML_CSP = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}


def jsonable(o: Any) -> Any:
    """Engine results (numpy scalars, dates, NaN) as plain JSON values; NaN becomes null."""
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [jsonable(v) for v in o]
    if isinstance(o, dt.datetime | dt.date):
        return o.isoformat()
    if isinstance(o, float) and o != o:
        return None
    if hasattr(o, "item"):
        return jsonable(o.item())
    return o


def admin_caller(state: Any) -> Callable[..., Awaitable[Response]]:
    """``await call(request, fn)``: ``fn(scope)`` for the admin key's workspace, in a worker thread."""

    async def call(request: Request, fn: Callable[[Scope], Any], html: bool = False) -> Response:
        try:
            info = verify_key(state.store, key_from_request(request), need="admin")
            out = await run_in_threadpool(fn, state.store.scope(info.workspace_id))
            return HTMLResponse(out, headers=HTML_CSP) if html else JSONResponse(jsonable(out))
        except AuthError as e:
            return JSONResponse({"error": str(e)}, status_code=401)
        except NotFound as e:
            return JSONResponse({"error": str(e)}, status_code=404)
        except ValidationError as e:
            return JSONResponse({"error": str(e)}, status_code=400)

    return call
