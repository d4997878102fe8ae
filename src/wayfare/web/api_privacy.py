"""The privacy HTTP API (admin key): export and erase a person, retention; rate limits for the ingest API.

- ``POST /v1/privacy/export`` ``{"person": "maria@example.org"}`` → everything held about the person.
- ``POST /v1/privacy/erase`` ``{"person": ..., "confirm": true}`` → rows deleted now; the file rewrite that
  also wipes freed pages needs the server stopped (``wayfare privacy compact``), so the answer says so.
- ``GET/PUT /v1/privacy/retention`` → retention days per data kind; `wayfare serve` cleans up hourly.
- Ingest rate limits: a token bucket per key and one per client IP (``WAYFARE_RATE_PER_KEY`` /
  ``WAYFARE_RATE_PER_IP`` requests a second, burst twice that; 0 turns a limit off) answer 429 with
  ``Retry-After``; checked in a small ASGI middleware before the body is read.
- A pydantic ``ValidationError`` escaping any handler is bad input, so it answers 422, never 500.
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
import time
from typing import Any

import pydantic
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import AuthError, NotFound, ValidationError
from ..ingest.routes import CORS_HEADERS, JSONAnswer, key_from_request
from ..privacy import erase_person, export_person
from ..privacy.retention import KINDS, cleanup, get_retention, set_retention
from ..store import Scope, verify_key
from .app import AppState

__all__ = ["register", "RateLimiter"]

_INGEST = {f"/v1/{k}" for k in ("track", "identify", "page", "screen", "group", "alias", "batch", "import")}


class PersonBody(BaseModel):
    person: str = Field(min_length=1, max_length=320, description="email, phone, person id or user id")
    workspace: str | None = Field(None, description="ignored: the key decides the workspace")


class EraseBody(PersonBody):
    model_config = ConfigDict(json_schema_extra={"required": ["person", "confirm"]})
    confirm: bool = Field(False, description="must be true", strict=True, json_schema_extra={"const": True})


class RetentionBody(BaseModel):
    kind: str = Field(min_length=1, max_length=64, json_schema_extra={"enum": sorted(KINDS)})
    days: int = Field(ge=0, le=36500)

    @field_validator("days", mode="before")
    @classmethod
    def _whole_number(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int | float):  # pydantic would read true as 1 and "5" as 5
            raise ValueError("days is a whole number")
        return v


class RateLimiter:
    """Token buckets keyed by a string: ``rate`` tokens a second, up to ``burst``."""

    def __init__(self, rate: float, burst: float | None = None, max_keys: int = 100_000):
        self.rate, self.burst, self.max_keys = rate, burst or rate * 2, max_keys
        self._b: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """0 when allowed, else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._b.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._b[key] = (tokens - 1, now)
                if len(self._b) > self.max_keys:  # forget the oldest buckets (they are full again anyway)
                    for k in list(self._b)[: self.max_keys // 10]:
                        del self._b[k]
                return 0.0
            self._b[key] = (tokens, now)
            return (1 - tokens) / self.rate


def _key_of(scope: dict) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            v = value.decode("latin-1")
            if v[:6].lower() == "basic ":
                try:
                    return base64.b64decode(v[6:].strip()).decode("utf-8", "replace").split(":", 1)[0][:200] or None
                except ValueError:
                    return None
            if v[:7].lower() == "bearer ":
                return v[7:].strip()[:200] or None
    return None


class RateLimitMiddleware:
    def __init__(self, app: Any, per_key: RateLimiter, per_ip: RateLimiter):
        self.app, self.per_key, self.per_ip = app, per_key, per_ip

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        # a CORS preflight carries no key and sends no data: it is not counted (a browser sends one before
        # its first POST, and counting it halved a page's allowance)
        if scope.get("type") == "http" and scope.get("path") in _INGEST and scope.get("method") != "OPTIONS":
            ip = (scope.get("client") or ("?", 0))[0]
            wait = self.per_ip.take("ip:" + ip)
            key = _key_of(scope)
            if not wait and key:
                wait = self.per_key.take("key:" + key)
            if wait:
                body = b'{"success":false,"error":"too many requests; retry after the Retry-After seconds"}'
                await send({"type": "http.response.start", "status": 429,
                            "headers": [(b"content-type", b"application/json"),
                                        # so the shop page's script can read the 429 and back off
                                        *[(k.lower().encode(), v.encode()) for k, v in CORS_HEADERS.items()],
                                        (b"access-control-expose-headers", b"Retry-After"),
                                        (b"retry-after", str(max(1, int(wait + 0.999))).encode()),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _rate(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _err(status: int, msg: str) -> JSONAnswer:
    return JSONAnswer({"error": msg}, status_code=status)


def register(app: FastAPI, state: AppState) -> None:
    store = state.store
    app.add_middleware(RateLimitMiddleware, per_key=RateLimiter(_rate("WAYFARE_RATE_PER_KEY", 1000)),
                       per_ip=RateLimiter(_rate("WAYFARE_RATE_PER_IP", 2000)))

    @app.exception_handler(pydantic.ValidationError)
    async def _bad_input(request: Request, exc: pydantic.ValidationError) -> JSONAnswer:
        # the shape FastAPI documents for every 422 (HTTPValidationError: loc, msg, type), so clients and the
        # OpenAPI schema agree whichever layer refused the input
        errs = [{"loc": [str(x) for x in e.get("loc", ())], "msg": e.get("msg"), "type": e.get("type")}
                for e in exc.errors()[:20]]
        return JSONAnswer({"error": "invalid input", "detail": errs}, status_code=422)

    def scope_for(request: Request):
        key = verify_key(store, key_from_request(request), need="admin")
        row = store.cursor().execute("SELECT name FROM workspaces WHERE id = ?", [key.workspace_id]).fetchone()
        return Scope(store, key.workspace_id, row[0]), key

    async def guarded(request: Request, fn) -> JSONAnswer:
        try:
            sc, key = scope_for(request)
        except AuthError as e:
            return _err(401, str(e))
        try:
            return JSONAnswer(await run_in_threadpool(fn, sc, key))
        except NotFound as e:
            return _err(404, str(e))
        except ValidationError as e:
            return _err(400, str(e))

    @app.post("/v1/privacy/export", tags=["privacy"], responses={401: {}, 404: {}})
    async def privacy_export(body: PersonBody, request: Request) -> JSONAnswer:
        """Everything held about a person in the key's workspace (admin key). Audited."""
        return await guarded(request, lambda sc, key: export_person(sc, body.person, actor=f"api:{key.key_id}"))

    @app.post("/v1/privacy/erase", tags=["privacy"], responses={400: {}, 401: {}, 404: {}})
    async def privacy_erase(body: EraseBody, request: Request) -> JSONAnswer:
        """Erase a person in the key's workspace (admin key, ``confirm: true``). Audited."""
        def run(sc, key):
            if not body.confirm:
                raise ValidationError("set confirm to true to erase", where="confirm")
            res = erase_person(sc, body.person, actor=f"api:{key.key_id}")
            with contextlib.suppress(Exception):  # best effort: others may be writing
                sc.store.checkpoint()
            res["file_rewrite"] = "pending: stop the server and run `wayfare privacy compact` to wipe freed pages"
            return res
        return await guarded(request, run)

    @app.get("/v1/privacy/retention", tags=["privacy"], responses={401: {}})
    async def privacy_retention(request: Request) -> JSONAnswer:
        """Retention days per data kind (null = kept)."""
        return await guarded(request, lambda sc, key: {"retention": get_retention(sc), "kinds": sorted(KINDS)})

    @app.put("/v1/privacy/retention", tags=["privacy"], responses={400: {}, 401: {}})
    async def privacy_retention_set(body: RetentionBody, request: Request) -> JSONAnswer:
        """Set one kind's retention in days (0 = keep forever)."""
        def run(sc, key):
            set_retention(sc, body.kind, body.days)
            return {"retention": get_retention(sc)}
        return await guarded(request, run)

    def hook(st: AppState):
        stop = threading.Event()
        every = _rate("WAYFARE_RETENTION_EVERY_S", 3600)

        def loop() -> None:
            while not stop.wait(every):
                for w in st.store.workspaces():
                    try:
                        cleanup(st.store.scope(w["name"]))
                    except Exception:  # noqa: BLE001 — a failed clean-up is retried next round
                        pass

        t = threading.Thread(target=loop, name="wayfare-retention", daemon=True)
        t.start()
        return stop.set

    state.startup.append(hook)
