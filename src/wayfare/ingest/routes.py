"""The Segment HTTP Tracking API: ``POST /v1/track|identify|page|screen|group|alias|batch``.

The write key comes as the HTTP Basic user name (as Segment's and RudderStack's clients send it), as a
Bearer token, or as ``writeKey`` in a batch body. Bodies may be gzip-compressed.

CORS: these routes are called from shops' pages with a public, write-only key, so any origin may POST to
them (``Access-Control-Allow-Origin: *`` on every answer, errors included, and an ``OPTIONS`` preflight).
Credentials are never allowed: no cookie is read here, and the key travels in a header or the body.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import gzip
import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ..errors import AuthError, ValidationError
from ..store import Store, verify_key
from .batcher import GroupCommitter
from .messages import (
    MAX_BATCH_BYTES,
    OPENAPI_SCHEMAS,
    SCHEMA_OF_KIND,
    TooLarge,
    body_rows,
    decode_json,
    problem,
)
from .parsepool import ParsePool
from .pipeline import EventRows

__all__ = ["make_router", "key_from_request", "key_from_header", "CORS_HEADERS", "JSONAnswer", "Ingest",
           "IngestFastPath", "OPENAPI_SCHEMAS", "INGEST_PATHS"]

# on every ingest answer; never Access-Control-Allow-Credentials (a wildcard origin forbids it anyway)
CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}
_PREFLIGHT = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding",
    "Access-Control-Max-Age": "86400",
}


def key_from_request(request: Request, body: dict | None = None) -> str | None:
    return key_from_header(request.headers.get("authorization", ""), body)


def key_from_header(auth: str, body: dict | None = None) -> str | None:
    """The write key from an ``Authorization`` header (Basic user name or Bearer token), else a body's
    ``writeKey``."""
    if auth[:6].lower() == "basic ":
        try:
            user = base64.b64decode(auth[6:].strip()).decode("utf-8", "replace")
        except (ValueError, UnicodeError):
            return None
        return user.split(":", 1)[0] or None
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    if isinstance(body, dict) and isinstance(body.get("writeKey"), str):
        return body["writeKey"]
    return None


class JSONAnswer(JSONResponse):
    """An orjson-encoded answer. FastAPI's ORJSONResponse is deprecated and warned on every request (a warning
    formatted and written to the log per request whenever a library had reset the warning filters). A
    JSONResponse, so that the OpenAPI schema describes the answers as JSON (FastAPI documents the 200 answer of
    any other response class as a string, which schemathesis's conformance check rightly flagged)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def _read_body(request: Request) -> bytes:
    return _decode_body(await _collect(request.headers.get("content-length"), request.stream()),
                        request.headers.get("content-encoding", ""))


async def _collect(declared: str | None, chunks: Any) -> bytes:
    """The raw body from an async iterator of chunks, refused early when it cannot be within the limit."""
    if declared and declared.isdigit() and int(declared) > MAX_BATCH_BYTES * 4:
        raise TooLarge(f"body is {declared} bytes; the limit is {MAX_BATCH_BYTES} (500 KB)")
    parts, total = [], 0
    async for chunk in chunks:
        total += len(chunk)
        if total > MAX_BATCH_BYTES * 4:
            raise TooLarge(f"body over {MAX_BATCH_BYTES} bytes (500 KB)")
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _decode_body(raw: bytes, encoding: str) -> bytes:
    enc = encoding.lower()
    if enc in ("gzip", "deflate"):
        try:
            d = zlib.decompressobj(wbits=31 if enc == "gzip" else 15)
            raw = d.decompress(raw, MAX_BATCH_BYTES + 1)
        except (zlib.error, gzip.BadGzipFile):
            raise ValidationError("the body is not valid " + enc) from None
    if len(raw) > MAX_BATCH_BYTES:
        raise TooLarge(f"body over {MAX_BATCH_BYTES} bytes (500 KB)")
    return raw


class Ingest:
    """One ingest request, whatever carries it: the FastAPI route, or :class:`IngestFastPath` straight from
    ASGI. ``answer`` gives the status and the JSON body."""

    def __init__(self, store: Store, committer: GroupCommitter, parsers: ParsePool | None = None):
        self.store, self.committer, self.parsers = store, committer, parsers

    async def answer(self, kind: str, auth: str, raw: bytes | None, error: ValidationError | None = None
                     ) -> tuple[int, dict]:
        received = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if self.parsers is not None and error is None and raw and self.parsers.takes(len(raw)):
            # the usual request: a valid key in the header. Its body is checked and turned into rows in a parsing
            # process while this one serves other requests; anything else is answered here, as below
            try:
                key = verify_key(self.store, key_from_header(auth), need="ingest")
            except AuthError:
                key = None
            if key is not None:
                parsed = await self.parsers.rows(kind, raw, received, f"http:{key.key_id}")
                if parsed is not None:
                    if isinstance(parsed, tuple):
                        return parsed
                    return await self._store(key.workspace_id, parsed)
        try:
            if error is not None:
                raise error
            body = decode_json(raw)
            try:
                key = verify_key(self.store, key_from_header(auth, body), need="ingest")
            except AuthError as e:
                return 401, {"success": False, "error": str(e)}
            rows = body_rows(kind, body, len(raw or b""), received, f"http:{key.key_id}")
        except TooLarge as e:
            return 413, problem(str(e), e.where)
        except ValidationError as e:
            return 400, problem(str(e), e.where)
        return await self._store(key.workspace_id, rows)

    async def _store(self, workspace_id: str, rows: list[dict] | EventRows) -> tuple[int, dict]:
        fut = self.committer.submit(workspace_id, rows)
        try:
            res = await asyncio.wrap_future(fut)
        except Exception as e:  # not stored: the client must retry, and may safely (messageId dedupe)
            return 503, problem(f"not stored, retry: {e}")
        return 200, {"success": True, "received": res.received, "duplicates": res.duplicates}


_KINDS = ("track", "identify", "page", "screen", "group", "alias", "batch", "import")
_FAST_PATHS = {f"/v1/{k}": k for k in _KINDS}
INGEST_PATHS = frozenset(_FAST_PATHS)
_ANSWER_HEADERS = [(b"content-type", b"application/json"),
                   *[(k.lower().encode(), v.encode()) for k, v in CORS_HEADERS.items()]]


class IngestFastPath:
    """ASGI middleware answering ``POST /v1/<kind>`` itself, without the framework's routing, request objects
    and middleware layers (~200 µs a request under load). Everything else —
    the preflights, the admin API, the dashboard — passes through. The FastAPI routes stay the documented
    (OpenAPI) surface and answer identically through the same :class:`Ingest`."""

    def __init__(self, app: Any, ingest: Ingest) -> None:
        self.app = app
        self.ingest = ingest

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        kind = _FAST_PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        auth = encoding = ""
        declared = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = value.decode("latin-1")
            elif name == b"content-length":
                declared = value.decode("latin-1")
            elif name == b"content-encoding":
                encoding = value.decode("latin-1")
        raw, error = None, None
        try:
            raw = _decode_body(await _collect(declared, _chunks(receive)), encoding)
        except ValidationError as e:
            error = e
        except _Disconnected:
            return
        status, payload = await self.ingest.answer(kind, auth, raw, error)
        body = orjson.dumps(payload)
        await send({"type": "http.response.start", "status": status,
                    "headers": [*_ANSWER_HEADERS, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _Disconnected(Exception):
    pass


async def _chunks(receive: Any) -> Any:
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            raise _Disconnected
        chunk = msg.get("body", b"")
        if chunk:
            yield chunk
        if not msg.get("more_body", False):
            return


_ACK = {"type": "object", "required": ["success", "received", "duplicates"],
        "properties": {"success": {"type": "boolean"}, "received": {"type": "integer", "minimum": 0},
                       "duplicates": {"type": "integer", "minimum": 0}}}


def make_router(store: Store, committer: GroupCommitter, parsers: ParsePool | None = None) -> APIRouter:
    router = APIRouter(tags=["ingest"])

    ingest = Ingest(store, committer, parsers)

    async def handle(request: Request, kind: str) -> JSONAnswer:
        raw, error = None, None
        try:
            raw = await _read_body(request)
        except ValidationError as e:
            error = e
        status, payload = await ingest.answer(kind, request.headers.get("authorization", ""), raw, error)
        return JSONAnswer(payload, status_code=status, headers=CORS_HEADERS)

    async def preflight(request: Request) -> Response:
        return Response(status_code=204, headers=_PREFLIGHT)

    def route(kind: str, model: str | None):
        async def endpoint(request: Request) -> JSONAnswer:
            return await handle(request, kind)

        endpoint.__name__ = f"ingest_{kind}"
        extra = {}
        if model is not None:
            extra = {
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
                }
            }
        router.add_api_route(
            f"/v1/{kind}",
            endpoint,
            methods=["POST"],
            summary=f"Segment-compatible {kind}",
            openapi_extra=extra,
            responses={200: {"description": "stored durably (a retry of a stored messageId counts as a duplicate)",
                             "content": {"application/json": {"schema": _ACK}}},
                       400: {"description": "invalid message (names the field)"}, 401: {"description": "no or bad key"},
                       413: {"description": "over 32 KB a message or 500 KB a batch"},
                       503: {"description": "not stored; retry (safe: messageId dedupe)"}},
        )

    for kind in _KINDS:
        router.add_api_route(f"/v1/{kind}", preflight, methods=["OPTIONS"], include_in_schema=False,
                             name=f"ingest_{kind}_preflight")
    for kind in _KINDS:
        route(kind, SCHEMA_OF_KIND[kind])
    return router
