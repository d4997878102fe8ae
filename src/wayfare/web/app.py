"""The FastAPI application: the ingest API, the admin API and (as they land) the dashboard pages.

``wayfare serve`` is the one process that writes the store: the group committer for ingest and any
background engines (the flow scheduler) start and stop with the app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request

from ..errors import AuthError
from ..ingest.batcher import GroupCommitter
from ..ingest.parsepool import ParsePool, default_workers
from ..ingest.routes import (
    INGEST_PATHS,
    OPENAPI_SCHEMAS,
    Ingest,
    IngestFastPath,
    JSONAnswer,
    key_from_request,
    make_router,
)
from ..store import Store, verify_key
from .collector import every_s, tune_gc

__all__ = ["create_app", "AppState", "OPENAPI_MODELS", "MethodNotAllowed", "STARTUP_HOOKS", "ROUTER_FACTORIES",
           "serve", "tune_gc"]
log = logging.getLogger("wayfare.web")


class AppState:
    """What routers and background engines share: the store and the committer."""

    def __init__(self, store: Store, parse_workers: int = 0):
        self.store = store
        self.committer: GroupCommitter | None = None
        self.parsers = ParsePool(parse_workers)
        self.background: list[Any] = []
        # api_<domain>.register() may append start-up hooks: hook(state) -> stop callable or None
        self.startup: list[Callable[[AppState], Callable[[], None] | None]] = []


PLUGINS = ("privacy", "automate", "deadletter", "assistant", "analytics", "journey", "predict", "growth", "track",
           "dashboard")
# Domains plug in here (imported by web, never the other way round).
ROUTER_FACTORIES: list[Callable[[AppState], Any]] = []
# pydantic models that routes refer to by "#/components/schemas/<name>" in their openapi_extra
OPENAPI_MODELS: list[Any] = []
# Each hook is called with the state at start-up and returns a callable to run at shutdown (or None).
STARTUP_HOOKS: list[Callable[[AppState], Callable[[], None] | None]] = []


def create_app(store: Store, parse_workers: int = 0) -> FastAPI:
    """The app. ``parse_workers`` > 0 checks ingest bodies in that many other processes
    (:mod:`wayfare.ingest.parsepool`; ``wayfare serve`` starts one per spare core)."""
    state = AppState(store, parse_workers)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        state.committer = GroupCommitter(store)
        await asyncio.get_running_loop().run_in_executor(None, state.parsers.start)
        await state.parsers.attach()
        stops = []
        for hook in STARTUP_HOOKS + state.startup:
            stop = hook(state)
            if stop:
                stops.append(stop)
        try:
            yield
        finally:
            for stop in reversed(stops):
                with contextlib.suppress(Exception):
                    stop()
            state.committer.close()
            state.parsers.close()
            with contextlib.suppress(Exception):
                store.checkpoint()

    app = FastAPI(title="wayfare", version=_version(), lifespan=lifespan, default_response_class=JSONAnswer)
    app.state.wayfare = state

    class _LazyCommitter:
        def submit(self, ws: str, rows: Any):
            assert state.committer is not None, "the app was not started"
            return state.committer.submit(ws, rows)

    app.include_router(make_router(store, _LazyCommitter(), state.parsers))  # type: ignore[arg-type]
    # POST /v1/<kind> answered before the framework's layers; added first, so the rate limits (added by the
    # privacy plugin below) still run before it
    app.add_middleware(IngestFastPath, ingest=Ingest(store, _LazyCommitter(), state.parsers))  # type: ignore[arg-type]

    @app.get("/health", tags=["admin"])
    def health() -> dict:
        return {"ok": True, "schema_version": store.schema_version()}

    @app.get("/v1/status", tags=["admin"])
    def status(request: Request) -> JSONAnswer:
        from ..ingest.status import store_status

        try:
            key = verify_key(store, key_from_request(request), need="admin")
        except AuthError as e:
            return JSONAnswer({"error": str(e)}, status_code=401)
        name = next(w["name"] for w in store.workspaces() if w["id"] == key.workspace_id)
        return JSONAnswer(store_status(store.scope(name)))

    for factory in ROUTER_FACTORIES:
        app.include_router(factory(state))
    # domains' HTTP surfaces live in web/api_<domain>.py, each with register(app, state)
    for mod in PLUGINS:
        try:
            m = importlib.import_module(f"{__package__}.api_{mod}")
        except ModuleNotFoundError as e:
            if e.name != f"{__package__}.api_{mod}":
                raise
            continue
        m.register(app, state)

    _add_openapi_models(app)
    app.add_middleware(MethodNotAllowed, routes=lambda: app.routes)
    return app


def _add_openapi_models(app: FastAPI) -> None:
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        comps.update(OPENAPI_SCHEMAS)
        for model in OPENAPI_MODELS:
            s = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in s.pop("$defs", {}).items():
                comps.setdefault(name, sub)
            comps[model.__name__] = s
        comps["Error"] = _ERROR_SCHEMA
        for path, ops in schema.get("paths", {}).items():
            for method, op in ops.items():
                _document_errors(path, method, op)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_ERROR_SCHEMA = {
    "type": "object",
    "description": "What was wrong: `error` says it in words; `field` or `where` names the input at fault.",
    "properties": {"error": {"type": "string"}, "field": {"type": "string"}, "where": {"type": "string"},
                   "success": {"type": "boolean"}},
}
_ERRORS = {
    400: "the input was refused; the answer says what was wrong and where",
    401: "no key, or a key that is unknown, revoked or expired",
    403: "the key's scope does not allow this",
    404: "nothing of that name or id in the key's workspace",
    413: "the body is over the limit",
    422: "the input does not have the documented shape",
    429: "over the rate limit for this key or address; retry after the `Retry-After` seconds",
}


def _document_errors(path: str, method: str, op: dict) -> None:
    """Every error answer the API can give, documented on each operation (schemathesis's status-code check
    found 400/404 answers that no operation documented). A route's own description of a code is kept."""
    responses = op.setdefault("responses", {})
    codes = [400, 401, 403, 404, 422, 429]
    if method in ("post", "put", "patch"):
        codes.append(413)
    # the links in mails (/t/...) answer their errors as a page, a person reads them; the API in JSON
    content = ({"text/html": {"schema": {"type": "string"}}} if path.startswith("/t/")
               else {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}})
    for code in codes:
        entry = responses.setdefault(str(code), {})
        if not entry.get("description"):
            entry["description"] = _ERRORS[code]
        entry.setdefault("content", content)


class MethodNotAllowed:
    """ASGI middleware: a 405 answer's ``Allow`` names every method the path has. Starlette's names the methods
    of the first route whose path matched, so ``OPTIONS /v1/flows`` (a GET and a POST route) said ``Allow: GET``
    (RFC 9110, 15.5.6: the header lists the target resource's supported methods)."""

    def __init__(self, app: Any, routes: Callable[[], list]) -> None:
        self.app, self.routes = app, routes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or (scope["method"] == "POST" and scope["path"] in INGEST_PATHS):
            await self.app(scope, receive, send)  # the ingest hot path never answers 405: no wrapper there
            return

        async def send_allow(message: dict) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allow = self.allowed(scope)
                if allow:
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    message = {**message, "headers": [*headers, (b"allow", ", ".join(allow).encode())]}
            await send(message)

        await self.app(scope, receive, send_allow)

    def allowed(self, scope: dict) -> list[str]:
        from starlette.routing import Match

        methods: set[str] = set()
        for route in self.routes():
            route_methods = getattr(route, "methods", None)
            if not route_methods:
                continue
            match, _ = route.matches({**scope, "method": next(iter(route_methods))})
            if match == Match.FULL:
                methods |= set(route_methods)
        return sorted(methods)


def _version() -> str:
    from .. import __version__

    return __version__


def serve(store_path: str, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning",
          parse_workers: int | None = None) -> None:
    """Run the server; ``parse_workers`` None: :func:`wayfare.ingest.parsepool.default_workers`."""
    import uvicorn

    gc_every = every_s()  # a bad WAYFARE_GC_EVERY_S stops here, before the store opens
    store = Store(store_path)
    app = create_app(store, default_workers() if parse_workers is None else parse_workers)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    stop_gc = tune_gc(gc_every)
    # uvicorn shuts down on SIGTERM (the lifespan stops the engines, flushes and checkpoints) and then raises the
    # signal again with the handler it found; with the default one the process died there, before the lines
    # below. This handler turns it into an exit (status 143, as killed by SIGTERM) that runs them.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop_gc.set()
        store.close()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
