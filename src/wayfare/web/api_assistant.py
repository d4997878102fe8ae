"""The assistant over HTTP: chat for the website widget (public ingest key, rate-limited per visitor),
the team inbox for staff (admin key), and the widget script itself at ``/widget.js``.

Chat bodies may be sent as ``text/plain`` JSON with ``writeKey`` inside, so the widget makes simple
cross-origin requests without a CORS preflight. A visitor can read only the conversation it started
(conversation id and visitor id must match), and the assistant sees a person's data only when the
page passes a user id signed by the business's server (identity verification, HMAC-SHA256 with the
workspace's identity secret): the public ingest key is in every page's source, so an identify call or a
claimed user id alone proves nothing.
"""

from __future__ import annotations

import threading
import time
from importlib import resources
from typing import Any

import orjson
from fastapi import FastAPI, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..errors import AuthError, NotFound, ValidationError, WayfareError
from ..ingest.routes import JSONAnswer, key_from_request
from ..store import Scope, verify_key

__all__ = ["register", "RateLimiter"]


def _body(props: dict, required: list[str]) -> dict:
    schema = {"type": "object", "properties": props, "required": required}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema},
                                                          "text/plain": {"schema": schema}}}}


_S = {"type": "string"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 2000}
CHAT_BODY = _body({"writeKey": _S, "visitor_id": {**_TEXT, "maxLength": 100}, "message": _TEXT,
                   "conversation_id": _S, "user_id": _S, "user_hash": _S},
                  ["visitor_id", "message"])
RATING_BODY = _body({"writeKey": _S, "visitor_id": _S, "rating": {"type": "integer", "minimum": 1, "maximum": 5}},
                    ["visitor_id", "rating"])
ACTION_BODY = _body({"text": _S, "author": _S, "assignee": _S, "status": _S,
                     "rating": {"type": "integer", "minimum": 1, "maximum": 5}}, [])

MAX_BODY = 16_000
INBOX_STATUSES = ("bot", "open", "assigned", "closed")  # wayfare.assistant.conversations.STATUSES (a test checks)
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, Authorization", "Cache-Control": "no-store"}


class RateLimiter:
    """A token bucket per key: ``rate`` requests per ``per`` seconds, bursts up to ``rate``."""

    def __init__(self, rate: int = 20, per: float = 60.0, max_keys: int = 100_000):
        self.rate, self.per, self.max_keys = rate, per, max_keys
        self._b: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._b.get(key, (float(self.rate), now))
            tokens = min(float(self.rate), tokens + (now - last) * self.rate / self.per)
            if tokens < 1:
                self._b[key] = (tokens, now)
                return False
            if len(self._b) >= self.max_keys:
                self._b.clear()
            self._b[key] = (tokens - 1, now)
            return True


def _err(status: int, msg: str, cors: bool = False) -> JSONAnswer:
    return JSONAnswer({"error": msg}, status_code=status, headers=CORS if cors else None)


def _str(body: dict, name: str, limit: int = 200, required: bool = False) -> str | None:
    v = body.get(name)
    if v is None or v == "":
        if required:
            raise ValidationError("is required", where=name)
        return None
    if not isinstance(v, str):
        raise ValidationError("must be a string", where=name)
    if len(v) > limit:
        raise ValidationError(f"must be at most {limit} characters", where=name)
    return v


async def _json(request: Request) -> dict:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ValidationError(f"the body is over {MAX_BODY} bytes")
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        raise ValidationError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise ValidationError("the body is a JSON object")
    if body.get("writeKey") is not None and not isinstance(body["writeKey"], str):
        raise ValidationError("must be a string", where="writeKey")
    return body


def register(app: FastAPI, state: Any) -> None:
    store = state.store
    chat_limit = RateLimiter(20, 60.0)
    key_limit = RateLimiter(600, 60.0)
    widget = (resources.files("wayfare.assistant") / "static" / "widget.js").read_text()

    def scope_for(key: str | None, need: str) -> Scope:
        info = verify_key(store, key, need=need)
        row = store.cursor().execute("SELECT name FROM workspaces WHERE id = ?", [info.workspace_id]).fetchone()
        if not row:
            raise AuthError("the key's workspace no longer exists")
        return Scope(store, info.workspace_id, row[0])

    def person_of(sc: Scope, body: dict) -> str | None:
        """Only a signed user id (identity verification) reveals who the visitor is."""
        from ..assistant.knowledge import verify_user

        uid, sig = _str(body, "user_id", 200), _str(body, "user_hash", 200)
        if uid is None and sig is None:
            return None
        person = verify_user(sc, uid or "", sig or "")
        if person is None:
            raise AuthError("user_hash does not match user_id; sign the user id with the workspace's identity secret")
        return person

    def guarded(fn, cors: bool):
        try:
            return fn()
        except AuthError as e:
            return _err(401, str(e), cors)
        except NotFound as e:
            return _err(404, str(e), cors)
        except ValidationError as e:
            return _err(400, str(e), cors)
        except WayfareError as e:
            return _err(409, str(e), cors)

    @app.get("/widget.js", tags=["assistant"], include_in_schema=False)
    def widget_js() -> Response:
        return Response(widget, media_type="application/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})

    @app.options("/v1/assistant/{rest:path}", include_in_schema=False)
    def preflight(rest: str) -> Response:
        return Response(status_code=204, headers=CORS)

    @app.post("/v1/assistant/chat", tags=["assistant"], openapi_extra=CHAT_BODY)
    async def chat(request: Request) -> JSONAnswer:
        """One customer message; the reply says whether the conversation went to a person."""
        try:
            body = await _json(request)
        except ValidationError as e:
            return _err(400, str(e), True)

        def run() -> JSONAnswer:
            from ..assistant import ask
            from ..assistant.conversations import get

            sc = scope_for(key_from_request(request, body), "ingest")
            message = _str(body, "message", 2000, required=True)
            visitor = _str(body, "visitor_id", 100, required=True)
            cid = _str(body, "conversation_id", 100)
            host = request.client.host if request.client else "?"
            if not chat_limit.allow(f"{sc.workspace_id}:{visitor}") or not key_limit.allow(f"{sc.workspace_id}:{host}"):
                return _err(429, "too many messages; wait a minute and try again", True)
            if cid:
                conv = get(sc, cid)
                if conv.get("visitor_id") != visitor:
                    raise NotFound("no such conversation")
                if conv.get("status") == "closed" and not message.strip()[:1].isdigit():
                    cid = None  # a new question after closing starts a new conversation
            r = ask(sc, message, person_id=None if cid else person_of(sc, body), conversation_id=cid,
                    visitor_id=visitor)
            n = sc.one("SELECT max(n) FROM assistant_messages WHERE conversation_id = $c", {"c": r.conversation_id})
            out = {**r.to_dict(), "n": n[0] if n else None}
            return JSONAnswer(out, headers=CORS)

        return await run_in_threadpool(guarded, run, True)

    @app.get("/v1/assistant/chat/{conversation_id}/messages", tags=["assistant"])
    def chat_messages(conversation_id: str, request: Request, visitor_id: str = "", after: int = 0,
                      key: str = "") -> JSONAnswer:
        """New messages of the visitor's own conversation (staff replies reach the widget this way)."""
        def run() -> JSONAnswer:
            from ..assistant.conversations import get, messages

            sc = scope_for(key_from_request(request) or key or None, "ingest")
            conv = get(sc, conversation_id[:100])
            if not visitor_id or conv.get("visitor_id") != visitor_id:
                raise NotFound("no such conversation")
            msgs = [{k: m[k] for k in ("n", "role", "author", "text", "at")}
                    for m in messages(sc, conversation_id, after=max(0, min(after, 2**31 - 1)), include_notes=False)]
            return JSONAnswer({"status": conv["status"], "messages": msgs}, headers=CORS)

        return guarded(run, True)

    @app.post("/v1/assistant/chat/{conversation_id}/rating", tags=["assistant"], openapi_extra=RATING_BODY)
    async def chat_rating(conversation_id: str, request: Request) -> JSONAnswer:
        """The customer's satisfaction (1-5) when the conversation closes."""
        try:
            body = await _json(request)
        except ValidationError as e:
            return _err(400, str(e), True)

        def run() -> JSONAnswer:
            from ..assistant.conversations import close, get

            sc = scope_for(key_from_request(request, body), "ingest")
            conv = get(sc, conversation_id[:100])
            if conv.get("visitor_id") != _str(body, "visitor_id", 100, required=True):
                raise NotFound("no such conversation")
            rating = body.get("rating")
            if not isinstance(rating, int) or isinstance(rating, bool):
                raise ValidationError("a whole number from 1 to 5", where="rating")
            c = close(sc, conversation_id, rating)
            return JSONAnswer({"status": c["status"], "csat": c.get("csat")}, headers=CORS)

        return await run_in_threadpool(guarded, run, True)

    # -- the team inbox (admin key) --------------------------------------------------------------
    @app.get("/v1/assistant/identity-secret", tags=["assistant"])
    def identity_secret_get(request: Request) -> JSONAnswer:
        """The secret your server signs signed-in customers' user ids with: HMAC-SHA256(secret, user_id), hex."""
        def run() -> JSONAnswer:
            from ..assistant.knowledge import identity_secret

            sc = scope_for(key_from_request(request), "admin")
            return JSONAnswer({"identity_secret": identity_secret(sc), "algorithm": "HMAC-SHA256 hex of user_id"})

        return guarded(run, False)

    @app.get("/v1/inbox", tags=["inbox"])
    def inbox_list(request: Request, status: str = Query("", json_schema_extra={"enum": ["", *INBOX_STATUSES]}),
                   assignee: str = "", limit: int = 100) -> JSONAnswer:
        def run() -> JSONAnswer:
            from ..assistant.conversations import STATUSES, inbox

            sc = scope_for(key_from_request(request), "admin")
            if status and status not in STATUSES:
                raise ValidationError(f"status is one of {', '.join(STATUSES)}", where="status")
            return JSONAnswer({"conversations": inbox(sc, status or None, assignee[:200] or None,
                                                          max(1, min(limit, 1000)))})

        return guarded(run, False)

    @app.get("/v1/inbox/{conversation_id}", tags=["inbox"])
    def inbox_show(conversation_id: str, request: Request) -> JSONAnswer:
        def run() -> JSONAnswer:
            from ..assistant.conversations import show
            from .dashboard.base import json_default
            from .dashboard.inbox import customer_view

            sc = scope_for(key_from_request(request), "admin")
            got = show(sc, conversation_id[:100])
            got["customer"] = customer_view(sc, got.get("customer"))  # + orders, prediction with reasons, tasks
            return Response(orjson.dumps(got, default=json_default, option=orjson.OPT_NON_STR_KEYS),
                            media_type="application/json")

        return guarded(run, False)

    @app.post("/v1/inbox/{conversation_id}/{action}", tags=["inbox"], openapi_extra=ACTION_BODY)
    async def inbox_action(conversation_id: str, action: str, request: Request) -> JSONAnswer:
        """action: reply {text, author}, note {text, author}, assign {assignee}, status {status}, close {rating}."""
        try:
            body = await _json(request)
        except ValidationError as e:
            return _err(400, str(e))

        def run() -> JSONAnswer:
            from ..assistant import conversations as c

            sc = scope_for(key_from_request(request), "admin")
            cid = conversation_id[:100]
            if action == "reply":
                n = c.reply(sc, cid, _str(body, "text", c.MAX_TEXT, True), _str(body, "author"))
                return JSONAnswer({"message": n})
            if action == "note":
                n = c.note(sc, cid, _str(body, "text", c.MAX_TEXT, True), _str(body, "author"))
                return JSONAnswer({"message": n})
            if action == "assign":
                return JSONAnswer(c.assign(sc, cid, _str(body, "assignee", 200, True)))
            if action == "status":
                return JSONAnswer(c.set_status(sc, cid, _str(body, "status", 20, True)))
            if action == "close":
                rating = body.get("rating")
                if rating is not None and (not isinstance(rating, int) or isinstance(rating, bool)):
                    raise ValidationError("a whole number from 1 to 5", where="rating")
                return JSONAnswer(c.close(sc, cid, rating))
            raise NotFound(f"no inbox action {action[:40]!r}; use reply, note, assign, status or close")

        return await run_in_threadpool(guarded, run, False)
