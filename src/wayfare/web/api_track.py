"""Recipient-facing links and provider callbacks (no login: each is authenticated by its own signature).

- ``GET /t/u/{token}`` shows a confirmation page; ``POST /t/u/{token}`` unsubscribes at once (RFC 8058
  one-click: works without cookies or CSRF token, body ``List-Unsubscribe=One-Click``). A link scanner's
  GET never unsubscribes anyone.
- ``GET /t/o/{token}`` the open pixel (a 1×1 GIF, whatever the token); ``GET /t/c/{token}`` the click
  redirect, only to the URL the token signed.
- ``GET /t/optin/{token}`` asks to confirm a double opt-in; ``POST`` records the consent.
- ``POST /v1/channels/sms/status/{workspace_id}`` Twilio status callbacks, checked with
  ``X-Twilio-Signature`` (refused when SMS is not configured or the signature is wrong).
- ``POST /v1/channels/bounces`` (admin key) one raw returned message (DSN, ARF complaint, auto-reply).
"""

from __future__ import annotations

import base64
import hmac
import html
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..channels import bounces, optin, sms, tracking
from ..errors import AuthError, NotFound, ValidationError
from ..ingest.routes import JSONAnswer, key_from_request
from ..store import Scope, verify_key
from .app import AppState

__all__ = ["register"]

_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
            "X-Frame-Options": "DENY"}
MAX_BOUNCE_BYTES = 10 * 1024 * 1024


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = ("<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
           f"<title>{html.escape(title)}</title><style>body{{font:16px system-ui;max-width:32rem;margin:3rem auto;"
           "padding:0 1rem}button{font:inherit;padding:.6rem 1.2rem}</style></head>"
           f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return HTMLResponse(doc, status_code=status, headers=_HEADERS)


def _form(action_label: str) -> str:
    # posts back to the same URL (the token is in the path); no cookies involved
    return (f"<form method=post><input type=hidden name=List-Unsubscribe value=One-Click>"
            f"<button type=submit>{html.escape(action_label)}</button></form>")


def register(app: FastAPI, state: AppState) -> None:
    store = state.store

    def read(token: str, kind: str) -> tuple[Scope, dict[str, Any]]:
        if len(token) > 4096:
            raise NotFound("this link is not valid")
        return tracking.read_token(store, token, kind)

    @app.get("/t/u/{token}", tags=["tracking"], response_class=HTMLResponse, responses={404: {}})
    def unsubscribe_page(token: str) -> HTMLResponse:
        """Asks to confirm; does not unsubscribe (link scanners follow GETs)."""
        try:
            _, data = read(token, "u")
        except NotFound as e:
            return _page("Link not valid", f"<p>{html.escape(str(e))}</p>", 404)
        what = "email" if data.get("ch", "email") == "email" else "text messages"
        return _page("Unsubscribe", f"<p>Stop receiving marketing {what} from us?</p>" + _form("Unsubscribe"))

    @app.post("/t/u/{token}", tags=["tracking"], response_class=HTMLResponse, responses={404: {}})
    def unsubscribe_post(token: str) -> HTMLResponse:
        """RFC 8058 one-click unsubscribe: at once, no cookies or CSRF token needed."""
        try:
            sc, data = read(token, "u")
            tracking.unsubscribe(sc, data)
        except NotFound as e:
            return _page("Link not valid", f"<p>{html.escape(str(e))}</p>", 404)
        return _page("You are unsubscribed", "<p>You will not receive marketing messages from us any more. "
                     "Messages about your orders and appointments still reach you.</p>")

    @app.get("/t/o/{token}", tags=["tracking"], responses={200: {"content": {"image/gif": {}}}})
    def open_pixel(token: str) -> Response:
        """The open pixel: always a 1×1 GIF; a valid token records ``Email Opened``."""
        try:
            sc, data = read(token, "o")
            tracking.record_open(sc, data)
        except (NotFound, ValidationError):
            pass
        return Response(_GIF, media_type="image/gif", headers={"Cache-Control": "no-store, private"})

    @app.get("/t/c/{token}", tags=["tracking"], responses={302: {}, 404: {}})
    def click(token: str) -> Response:
        """Records ``Email Link Clicked`` and redirects to the signed URL (never anywhere else)."""
        try:
            sc, data = read(token, "c")
            url = tracking.record_click(sc, data)
        except NotFound as e:
            return _page("Link not valid", f"<p>{html.escape(str(e))}</p>", 404)
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store",
                                                               "Referrer-Policy": "no-referrer"})

    @app.get("/t/optin/{token}", tags=["tracking"], response_class=HTMLResponse, responses={404: {}})
    def optin_page(token: str) -> HTMLResponse:
        """Asks to confirm a subscription (a GET alone never confirms)."""
        try:
            sc, data = read(token, "i")
            o = optin.optin_of(sc, str(data.get("o")))
        except NotFound as e:
            return _page("Link not valid", f"<p>{html.escape(str(e))}</p>", 404)
        return _page("Confirm your subscription", f"<p>You asked for: {html.escape(o['wording'])}</p>" +
                     _form("Yes, subscribe me"))

    @app.post("/t/optin/{token}", tags=["tracking"], response_class=HTMLResponse, responses={404: {}})
    def optin_confirm(token: str) -> HTMLResponse:
        try:
            sc, data = read(token, "i")
            optin.confirm_optin(sc, str(data.get("o")))
        except NotFound as e:
            return _page("Link not valid", f"<p>{html.escape(str(e))}</p>", 404)
        return _page("Thank you", "<p>Your subscription is confirmed.</p>")

    @app.post("/v1/channels/sms/status/{workspace_id}", tags=["channels"], responses={400: {}, 403: {}, 404: {}})
    async def sms_status(workspace_id: str, request: Request) -> JSONAnswer:
        """Twilio delivery-status callback (form-encoded), checked with ``X-Twilio-Signature``."""
        try:
            settings = sms.sms_settings()
        except ValidationError:
            settings = None
        if settings is None:
            return JSONAnswer({"error": "SMS is not configured"}, status_code=403)
        form = await request.form()
        params = {k: str(v) for k, v in form.items()}
        url = str(request.url)
        if settings.public_url:
            url = settings.public_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        given = request.headers.get("x-twilio-signature", "")
        if not hmac.compare_digest(sms.twilio_signature(settings.auth_token, url, params), given):
            return JSONAnswer({"error": "bad or missing X-Twilio-Signature"}, status_code=403)
        try:
            sc = store.scope(workspace_id)
            return JSONAnswer(await run_in_threadpool(sms.handle_status, sc, params))
        except NotFound as e:
            return JSONAnswer({"error": str(e)}, status_code=404)
        except ValidationError as e:
            return JSONAnswer({"error": str(e)}, status_code=400)

    raw_mail = {"schema": {"type": "string", "minLength": 1, "pattern": "[^ \\t\\n\\u000b\\f\\r]"}}  # bytes.strip()

    @app.post("/v1/channels/bounces", tags=["channels"], responses={400: {}, 401: {}, 413: {}},
              openapi_extra={"requestBody": {"required": True, "content": {"message/rfc822": raw_mail,
                                                                           "text/plain": raw_mail}}})
    async def bounce(request: Request) -> JSONAnswer:
        """One returned message (raw RFC 5322 bytes): hard bounces and complaints are suppressed."""
        try:
            key = verify_key(store, key_from_request(request), need="admin")
        except AuthError as e:
            return JSONAnswer({"error": str(e)}, status_code=401)
        if int(request.headers.get("content-length") or 0) > MAX_BOUNCE_BYTES:
            return JSONAnswer({"error": "message too large (10 MiB at most)"}, status_code=413)
        raw = await request.body()
        if len(raw) > MAX_BOUNCE_BYTES:
            return JSONAnswer({"error": "message too large (10 MiB at most)"}, status_code=413)
        try:
            sc = store.scope(key.workspace_id)
            return JSONAnswer(await run_in_threadpool(bounces.process_bytes, sc, raw))
        except ValidationError as e:
            return JSONAnswer({"error": str(e)}, status_code=400)
