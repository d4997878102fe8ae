"""The dashboard: sign-in, first-run sign-up, the workspace switcher, every page (HTML and its JSON twin)
and the static files, all served by ``wayfare serve`` from the installed package (nothing from a CDN)."""

from __future__ import annotations

import logging
import secrets
import threading
import urllib.parse
from importlib import resources

import orjson
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ..errors import AuthError, NotFound, ValidationError, WayfareError
from ..ingest import on_commit
from . import auth
from .app import AppState
from .dashboard import ACTIONS, PAGES, load_pages
from .dashboard.base import (
    ActionDef,
    Ctx,
    Flash,
    PageDef,
    cache,
    flashes,
    render,
    render_page,
    run_action,
    with_headers,
)

__all__ = ["register"]

log = logging.getLogger("wayfare.web.dashboard")
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_ERROR_PAGE = PageDef("", "error.html", "Something went wrong", lambda ctx: {}, None)


def _secure(request: Request) -> bool:
    """Secure cookies over HTTPS (also behind a proxy that says so) and on loopback, which browsers treat
    as a secure origin; a plain-HTTP non-loopback host would never get the cookie back otherwise."""
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    return proto == "https" or (request.url.hostname or "") in _LOOPBACK


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return urllib.parse.urlsplit(origin).netloc == host


def _safe_next(target: str | None) -> str:
    t = (target or "/").strip()
    if not t.startswith("/") or t.startswith("//") or "\\" in t or t.startswith("/login") or t.startswith("/setup"):
        return "/"
    return t


def register(app: FastAPI, state: AppState) -> None:
    store = state.store
    load_pages()
    throttle = auth.LoginThrottle()
    static_dir = str(resources.files("wayfare.web.dashboard") / "static")
    app.mount("/static", StaticFiles(directory=static_dir), name="dashboard-static")
    on_commit(cache.bump)

    def set_session(resp: Response, request: Request, token: str) -> None:
        resp.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/",
                        max_age=int(auth.ABSOLUTE_TIMEOUT.total_seconds()))
        resp.delete_cookie(auth.PRE_CSRF_COOKIE, path="/")

    def pre_form(request: Request, template: str, title: str, status: int = 200, **extra) -> Response:
        token = request.cookies.get(auth.PRE_CSRF_COOKIE)
        if not token or len(token) != 43:
            token = secrets.token_urlsafe(32)
        resp = render(template, title=title, csrf=token, status=status, **extra)
        resp.set_cookie(auth.PRE_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/",
                        max_age=3600)
        return resp

    def pre_ok(request: Request, form) -> bool:
        return _same_origin(request) and auth.check_csrf(request.cookies.get(auth.PRE_CSRF_COOKIE), form.get("csrf"))

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return FileResponse(f"{static_dir}/favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/login", include_in_schema=False)
    def login_page(request: Request, next: str = "/") -> Response:
        if not auth.has_users(store):
            return RedirectResponse("/setup", status_code=303)
        if auth.load_session(store, request.cookies.get(auth.SESSION_COOKIE)):
            return RedirectResponse(_safe_next(next), status_code=303)
        info = "You have been signed out." if request.query_params.get("bye") else None
        return pre_form(request, "login.html", "Sign in", next=_safe_next(next), email="", info=info)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await request.form()
        email = str(form.get("email") or "")[:200]
        nxt = _safe_next(str(form.get("next") or "/"))
        if not pre_ok(request, form):
            return pre_form(request, "login.html", "Sign in", 400, next=nxt, email=email,
                            error="This sign-in form had expired. Please try again.")
        client = f"ip:{request.client.host if request.client else '?'}"
        if throttle.blocked(email.lower(), client):
            return pre_form(request, "login.html", "Sign in", 429, next=nxt, email=email,
                            error="Too many failed attempts. Wait 15 minutes and try again.")
        try:
            uid = await run_in_threadpool(auth.authenticate, store, email, str(form.get("password") or ""))
            token = await run_in_threadpool(auth.start_session, store, uid, request.headers.get("user-agent"),
                                            request.cookies.get(auth.SESSION_COOKIE))
        except AuthError as e:
            throttle.fail(email.lower(), client)
            return pre_form(request, "login.html", "Sign in", 401, next=nxt, email=email, error=str(e).capitalize() + ".")
        throttle.ok(email.lower())
        resp = RedirectResponse(nxt, status_code=303)
        set_session(resp, request, token)
        return with_headers(resp)

    @app.get("/setup", include_in_schema=False)
    def setup_page(request: Request) -> Response:
        if auth.has_users(store):
            return RedirectResponse("/login", status_code=303)
        return pre_form(request, "setup.html", "Create the owner's account", email="")

    @app.post("/setup", include_in_schema=False)
    async def setup(request: Request) -> Response:
        form = await request.form()
        email = str(form.get("email") or "")[:200]
        if not pre_ok(request, form):
            return pre_form(request, "setup.html", "Create the owner's account", 400, email=email,
                            error="This form had expired. Please try again.")
        pw, pw2 = str(form.get("password") or ""), str(form.get("password2") or "")
        if pw != pw2:
            return pre_form(request, "setup.html", "Create the owner's account", 400, email=email,
                            error="The two passwords differ. Please type them again.")
        with store.write_lock:  # only the very first account may be created here
            if auth.has_users(store):
                return RedirectResponse("/login", status_code=303)
            try:
                user = auth.create_user(store, email, pw, "owner", "default")
            except ValidationError as e:
                return pre_form(request, "setup.html", "Create the owner's account", 400, email=email, error=str(e))
        token = await run_in_threadpool(auth.start_session, store, user["user_id"], request.headers.get("user-agent"))
        flashes.push(auth.token_hash(token), "ok", "Welcome! Your account is ready. Start with the three things that hurt most.")
        resp = RedirectResponse("/", status_code=303)
        set_session(resp, request, token)
        return with_headers(resp)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = await request.form()
        token = request.cookies.get(auth.SESSION_COOKIE)
        sess = await run_in_threadpool(auth.load_session, store, token)
        if sess and not (_same_origin(request) and auth.check_csrf(sess.csrf, form.get("csrf"))):
            return _forbidden("The sign-out form had expired; reload the page and try again.")
        await run_in_threadpool(auth.end_session, store, token)
        resp = RedirectResponse("/login?bye=1", status_code=303)
        resp.delete_cookie(auth.SESSION_COOKIE, path="/")
        return with_headers(resp)

    @app.post("/workspace", include_in_schema=False)
    async def switch(request: Request) -> Response:
        sess = await run_in_threadpool(auth.load_session, store, request.cookies.get(auth.SESSION_COOKIE))
        if sess is None:
            return RedirectResponse("/login", status_code=303)
        form = await request.form()
        if not (_same_origin(request) and auth.check_csrf(sess.csrf, form.get("csrf"))):
            return _forbidden("The form had expired; reload the page and try again.")
        try:
            await run_in_threadpool(auth.switch_workspace, store, sess, str(form.get("workspace") or ""))
        except NotFound as e:
            flashes.push(sess.token_hash, "error", str(e))
            return RedirectResponse("/", status_code=303)
        flashes.push(sess.token_hash, "info", f"You are looking at {form.get('workspace')}.")
        return RedirectResponse("/", status_code=303)

    def get_endpoint(p: PageDef):
        def endpoint(request: Request) -> Response:
            fmt = request.query_params.get("format", "html")
            sess = auth.load_session(store, request.cookies.get(auth.SESSION_COOKIE))
            if sess is None:
                if fmt == "json":
                    return _json({"error": "sign in first"}, 401)
                target = "/login" if auth.has_users(store) else "/setup"
                nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{target}?next={urllib.parse.quote(nxt)}", status_code=303)
            ctx = Ctx(request, store, sess, state, flashes.pop(sess.token_hash) if fmt != "json" else [])
            if not ctx.can(p.need):
                return _error_page(ctx, fmt, 403, "Your role does not allow this page; ask the owner.")
            try:
                data = p.handler(ctx)
                if isinstance(data, Response):  # a download
                    return with_headers(data)
                return render_page(ctx, p, data, fmt)
            except NotFound as e:
                return _error_page(ctx, fmt, 404, str(e))
            except WayfareError as e:
                return _error_page(ctx, fmt, 400, str(e))
            except Exception:  # never a bare traceback: say what to do, keep the details in the log
                log.exception("dashboard page %s failed", request.url.path)
                return _error_page(ctx, fmt, 500, "This page could not be computed. The details are in the server "
                                   "log; try again in a moment or open another page.")

        endpoint.__name__ = "page_" + (p.path.strip("/").replace("/", "_").replace("{", "").replace("}", "") or "overview")
        return endpoint

    def post_endpoint(a: ActionDef):
        async def endpoint(request: Request) -> Response:
            sess = await run_in_threadpool(auth.load_session, store, request.cookies.get(auth.SESSION_COOKIE))
            if sess is None:
                return RedirectResponse("/login", status_code=303)
            form = await request.form()
            if not (_same_origin(request) and auth.check_csrf(sess.csrf, form.get("csrf"))):
                return _forbidden("The form had expired (or came from another site); reload the page and try again.")
            ctx = Ctx(request, store, sess, state)
            if not ctx.can(a.need):
                return _forbidden(f"Only a {a.need} (or above) may do this; you are signed in as {ctx.role}.")
            return await run_action(ctx, a, form)

        endpoint.__name__ = "action_" + a.path.strip("/").replace("/", "_").replace("{", "").replace("}", "").replace("-", "_")
        return endpoint

    for p in PAGES:
        app.add_api_route(p.path, get_endpoint(p), methods=["GET"], include_in_schema=False)
    for a in ACTIONS:
        app.add_api_route(a.path, post_endpoint(a), methods=["POST"], include_in_schema=False)

    def warm(st: AppState):
        """Compute the heavy pages of every workspace in the background so the first visit is fast."""
        stop = threading.Event()

        def run() -> None:
            from .dashboard.warm import warm_all

            warm_all(store, stop)

        t = threading.Thread(target=run, name="wayfare-dashboard-warm", daemon=True)
        t.start()
        return stop.set

    state.startup.append(warm)


def _json(data: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _forbidden(text: str) -> Response:
    return render("auth_base.html", title="Not allowed", error=text, status=403)


def _error_page(ctx: Ctx, fmt: str, status: int, text: str) -> Response:
    if fmt == "json":
        return with_headers(_json({"error": text}, status))
    ctx.flash.append(Flash("error", text))
    return render_page(ctx, _ERROR_PAGE, {"_status": status, "status": status, "message": text}, "html")
