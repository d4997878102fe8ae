"""What every dashboard page shares: the signed-in context, the page and action registry, rendering to
HTML or to its JSON twin (``?format=json``, datasette-style: the same handler, the same data), the
result cache and the security headers.

A page is a function ``handler(ctx) -> dict`` registered with :func:`page`; the dict is the page's
data (what ``?format=json`` returns) and the template draws it. A state-changing form posts to an
:func:`action` ``handler(ctx, form) -> str`` (the URL to go to next); actions check the role and the
CSRF token before the handler runs.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from ...errors import WayfareError
from ...store import Scope, Store
from .. import auth
from . import charts

__all__ = ["Ctx", "flashes", "PAGES", "ACTIONS", "NAV", "page", "action", "cache", "render", "SECURITY_HEADERS", "env",
           "Flash", "json_default"]  # fmt: skip

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

env = Environment(loader=PackageLoader("wayfare.web.dashboard", "templates"), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)


def _num(v: Any, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:,.{digits}f}"


def _money(v: Any) -> str:
    return "–" if v is None else f"£{v:,.0f}" if abs(v) >= 100 else f"£{v:,.2f}"


def _pct(v: Any, digits: int = 0) -> str:
    return "–" if v is None else f"{100 * v:.{digits}f}%"


def _when(v: Any) -> str:
    if not v:
        return "–"
    if isinstance(v, str):
        v = dt.datetime.fromisoformat(v)
    return v.strftime("%-d %b %Y, %H:%M")


def _day(v: Any) -> str:
    if not v:
        return "–"
    if isinstance(v, str):
        v = dt.datetime.fromisoformat(v)
    return v.strftime("%-d %b %Y")


def _lenient(fn: Callable[..., str]) -> Callable[..., str]:
    """A filter that shows "–" for a value it cannot format (an engine's missing or odd field)."""

    def wrapped(v: Any, *a: Any) -> str:
        try:
            return fn(v, *a)
        except (TypeError, ValueError, AttributeError):
            return "–"

    return wrapped


env.filters.update(num=_lenient(_num), money=_lenient(_money), pct=_lenient(_pct), when=_lenient(_when),
                   day=_lenient(_day))
env.filters["zip_with"] = lambda a, b: list(zip(a, b, strict=False))
env.globals["zip_steps"] = lambda a, b: list(zip(a, b, strict=False))
env.globals["pct_fmt"] = lambda v: f"{100 * v:.0f}%"
env.globals["money_fmt"] = lambda v: f"£{v:,.0f}"
charts.register(env)


@dataclass
class Flash:
    kind: str  # ok, error, info
    text: str


class Flashes:
    """One-time messages for a session's next page, kept on the server: nothing a link could forge."""

    def __init__(self) -> None:
        self._by: dict[str, list[Flash]] = {}
        self._lock = threading.Lock()

    def push(self, session_hash: str, kind: str, text: str) -> None:
        with self._lock:
            self._by.setdefault(session_hash, []).append(Flash(kind, text[:500]))
            if len(self._by) > 10_000:  # abandoned sessions: forget the oldest
                self._by.pop(next(iter(self._by)))

    def pop(self, session_hash: str) -> list[Flash]:
        with self._lock:
            return self._by.pop(session_hash, [])


flashes = Flashes()


@dataclass
class Ctx:
    request: Request
    store: Store
    session: auth.Session
    state: Any
    flash: list[Flash] = field(default_factory=list)

    @property
    def scope(self) -> Scope:
        return Scope(self.store, self.session.workspace_id, self.session.workspace)

    @property
    def role(self) -> str:
        return self.session.user.role

    def say(self, text: str, kind: str = "ok") -> None:
        """A message for the next page this session sees (after the redirect of an action)."""
        flashes.push(self.session.token_hash, kind, text)

    def can(self, need: str) -> bool:
        return auth.role_allows(self.role, need)

    def arg(self, name: str, default: str = "") -> str:
        return (self.request.query_params.get(name) or default).strip()[:200]

    def args(self, name: str) -> list[str]:
        return [v.strip()[:200] for v in self.request.query_params.getlist(name) if v.strip()][:10]

    def cached(self, key: str, fn: Callable[[], Any], ttl: float = 600.0) -> Any:
        return cache.get(self.session.workspace_id, key, fn, ttl)


class ResultCache:
    """Heavy query results per workspace, dropped when new data arrives (``bump``) or after ``ttl``."""

    def __init__(self, max_entries: int = 512):
        self._data: dict[tuple[str, str], tuple[int, float, Any]] = {}
        self._version: dict[str, int] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.hits = self.misses = 0

    def bump(self, workspace_id: str, _n: int = 0) -> None:
        with self._lock:
            self._version[workspace_id] = self._version.get(workspace_id, 0) + 1

    def get(self, workspace_id: str, key: str, fn: Callable[[], Any], ttl: float = 600.0) -> Any:
        now = time.monotonic()
        with self._lock:
            ver = self._version.get(workspace_id, 0)
            hit = self._data.get((workspace_id, key))
            if hit and hit[0] == ver and now - hit[1] < ttl:
                self.hits += 1
                return hit[2]
            self.misses += 1
        value = fn()
        with self._lock:
            if len(self._data) >= self.max_entries:
                for k in sorted(self._data, key=lambda k: self._data[k][1])[: self.max_entries // 4]:
                    self._data.pop(k, None)
            self._data[(workspace_id, key)] = (ver, now, value)
        return value


cache = ResultCache()


@dataclass
class PageDef:
    path: str
    template: str
    title: str
    handler: Callable[[Ctx], dict]
    nav: str | None  # the menu label, or None for pages reached from others (a profile, a cell)
    icon: str = ""
    need: str = "viewer"


@dataclass
class ActionDef:
    path: str
    handler: Callable[..., str]
    need: str
    files: bool = False


PAGES: list[PageDef] = []
ACTIONS: list[ActionDef] = []
NAV: list[PageDef] = []


def page(path: str, template: str, title: str, nav: str | None = None, icon: str = "", need: str = "viewer"):
    def deco(fn: Callable[[Ctx], dict]) -> Callable[[Ctx], dict]:
        p = PageDef(path, template, title, fn, nav, icon, need)
        PAGES.append(p)
        if nav:
            NAV.append(p)
        return fn

    return deco


def action(path: str, need: str = "staff", files: bool = False):
    def deco(fn: Callable[..., str]) -> Callable[..., str]:
        ACTIONS.append(ActionDef(path, fn, need, files))
        return fn

    return deco


def json_default(o: Any) -> Any:
    if isinstance(o, dt.datetime | dt.date):
        return o.isoformat()
    if isinstance(o, decimal.Decimal):
        return float(o)
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Flash):
        return {"kind": o.kind, "text": o.text}
    return str(o)


def _clean(o: Any) -> Any:
    if isinstance(o, float) and (math.isnan(o) or math.isinf(o)):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items() if not k.startswith("_")}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    return o


def with_headers(resp: Response) -> Response:
    for k, v in SECURITY_HEADERS.items():
        resp.headers.setdefault(k, v)
    return resp


def render(template: str, **context: Any) -> HTMLResponse:
    html = env.get_template(template).render(**context)
    return with_headers(HTMLResponse(html, status_code=context.get("status", 200)))


def render_page(ctx: Ctx, p: PageDef, data: dict, fmt: str) -> Response:
    if fmt == "json":
        body = orjson.dumps(_clean(data), default=json_default, option=orjson.OPT_NON_STR_KEYS)
        return with_headers(Response(body, media_type="application/json"))
    workspaces = auth.workspaces_of(ctx.store, ctx.session.user.user_id)
    q = dict(ctx.request.query_params)
    q["format"] = "json"
    return render(p.template, ctx=ctx, page=p, nav=NAV, d=data, user=ctx.session.user, csrf=ctx.session.csrf,
                  workspace=ctx.session.workspace, workspaces=workspaces, flash=ctx.flash,
                  json_url=ctx.request.url.path + "?" + urllib.parse.urlencode(q), status=data.get("_status", 200))


async def run_action(ctx: Ctx, a: ActionDef, form: Any) -> Response:
    try:
        target = await run_in_threadpool(a.handler, ctx, form)
    except WayfareError as e:
        ctx.say(str(e), "error")
        target = _back(ctx.request)
    return with_headers(RedirectResponse(target, status_code=303))


def _back(request: Request) -> str:
    ref = request.headers.get("referer") or "/"
    u = urllib.parse.urlsplit(ref)
    path = u.path if u.path.startswith("/") and not u.path.startswith("//") else "/"
    return path + ("?" + u.query if u.query else "")
