"""Growth over HTTP: ``GET /v1/personalize`` for a site's visitor, asked with the site's public (ingest) key.

The answer never carries personal data (see ``wayfare.growth.personalize``); a visitor who cannot be
verified gets the unknown-visitor answer with the same shape. Browsers may call it from the site
(``Access-Control-Allow-Origin: *``; no cookies are read), passing the key as ``key=`` to avoid a preflight.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from ..errors import AuthError
from ..growth.personalize import Personalizer
from ..ingest.routes import JSONAnswer, key_from_request
from ..store import Scope, verify_key

__all__ = ["register"]

_ID = r"^[^\x00-\x1f\x7f]{1,200}$"
_CORS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store", "Vary": "Authorization"}
_KEY_TTL = 5.0


def _encodable(v: str) -> bool:
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def register(app: FastAPI, state) -> None:
    store = state.store
    store.tenant_tables()  # filled now, single-threaded: request threads must never touch the main connection
    engine = Personalizer()
    keys: dict[str, tuple[float, str | None]] = {}
    names: dict[str, str] = {}

    def workspace_for(key: str | None) -> str | None:
        """The workspace id of a live key (cached for a few seconds), else None."""
        if not key or len(key) > 200:
            return None
        hit = keys.get(key)
        if hit and time.monotonic() - hit[0] < _KEY_TTL:
            return hit[1]
        try:
            wid: str | None = verify_key(store, key, need="ingest").workspace_id
        except AuthError:
            wid = None
        if len(keys) > 10000:
            keys.clear()
        keys[key] = (time.monotonic(), wid)
        return wid

    def scope_for(wid: str) -> Scope:
        # request threads never touch the store's main connection: names come through a cursor
        if wid not in names:
            rows = store.cursor().execute("SELECT id, name FROM workspaces").fetchall()
            names.clear()
            names.update(dict(rows))
        return Scope(store, wid, names[wid])

    def stop_on_shutdown(_state):
        return engine.close

    state.startup.append(stop_on_shutdown)

    @app.options("/v1/personalize", include_in_schema=False)
    def personalize_preflight() -> Response:
        return Response(status_code=204, headers={**_CORS, "Access-Control-Allow-Methods": "GET",
                                                  "Access-Control-Allow-Headers": "Authorization",
                                                  "Access-Control-Max-Age": "600"})

    @app.get("/v1/personalize", tags=["growth"], responses={401: {"description": "missing, unknown or revoked key"}})
    def personalize(
        request: Request,
        anonymous_id: Annotated[str | None, Query(pattern=_ID, description="The visitor's anonymous id (SDK).")] = None,
        user_id: Annotated[str | None, Query(pattern=_ID, description="The visitor's user id, with user_hash.")] = None,
        user_hash: Annotated[str | None, Query(pattern=r"^[0-9a-fA-F]{64}$",
                                               description="hex HMAC-SHA256(workspace secret, user_id).")] = None,
        top: Annotated[int, Query(ge=0, le=20, description="How many recommended items.")] = 4,
        key: Annotated[str | None, Query(pattern=_ID, description="The site's public (ingest) key.")] = None,
    ) -> JSONAnswer:
        """Segments, stage, next best action, content slots and recommendations for this visitor only."""
        for v in (anonymous_id, user_id, key):
            if v is not None and not _encodable(v):
                return JSONAnswer({"error": "ids must be valid UTF-8 text"}, status_code=422, headers=_CORS)
        wid = workspace_for(key_from_request(request) or key)
        if wid is None:
            return JSONAnswer({"error": "a live public (ingest) key is needed: Basic/Bearer or key="},
                                  status_code=401, headers=_CORS)
        body = engine.answer(scope_for(wid), anonymous_id, user_id, user_hash, top)
        return JSONAnswer(body, headers=_CORS)
