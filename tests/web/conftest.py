"""Fixtures for the dashboard: a demo store served by a real uvicorn on 127.0.0.1, and a small HTTP
client that keeps cookies the way a browser does (Secure cookies included: loopback is a secure origin)."""

from __future__ import annotations

import re
import threading
import time
from http.cookies import SimpleCookie

import httpx
import pytest
import uvicorn

from wayfare.demo.generator import generate
from wayfare.store import Store
from wayfare.web import auth, create_app

PASSWORD = "correct horse battery staple"


class LiveServer:
    def __init__(self, store: Store):
        from tests.conftest import free_port

        self.store = store
        self.port = free_port()
        self.app = create_app(store)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        t0 = time.time()
        while not self.server.started:
            if time.time() - t0 > 30:
                raise RuntimeError("the dashboard server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


class Client:
    """httpx plus a cookie jar that records every Set-Cookie with its attributes."""

    def __init__(self, base: str):
        self.base = base
        self.http = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
        self.cookies: dict[str, str] = {}
        self.attrs: dict[str, str] = {}

    def _keep(self, r: httpx.Response) -> httpx.Response:
        for raw in r.headers.get_list("set-cookie"):
            c = SimpleCookie()
            c.load(raw)
            for name, morsel in c.items():
                self.attrs[name] = raw
                if morsel["max-age"] == "0" or 'expires=Thu, 01 Jan 1970' in raw:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return r

    def _h(self, headers: dict | None) -> dict:
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return h

    def get(self, path: str, **kw) -> httpx.Response:
        return self._keep(self.http.get(path, headers=self._h(kw.pop("headers", None)), **kw))

    def post(self, path: str, **kw) -> httpx.Response:
        return self._keep(self.http.post(path, headers=self._h(kw.pop("headers", None)), **kw))

    def csrf(self, path: str = "/") -> str:
        html = self.get(path).text
        m = re.search(r'name="csrf" value="([^"]+)"', html)
        assert m, f"no CSRF field on {path}"
        return m.group(1)

    def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        token = self.csrf("/login")
        return self.post("/login", data={"email": email, "password": password, "csrf": token, "next": "/"})


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("dash")
    store = Store(d / "w.db")
    generate(store.scope("default"), "restaurant", 400, seed=3)
    store.create_workspace("salon")
    auth.create_user(store, "owner@example.org", PASSWORD, "owner")
    auth.add_member(store, auth.list_users(store)[0]["user_id"], "salon", "owner")
    auth.create_user(store, "staff@example.org", PASSWORD, "staff")
    auth.create_user(store, "viewer@example.org", PASSWORD, "viewer")
    srv = LiveServer(store).start()
    yield srv
    srv.stop()
    store.close()


@pytest.fixture
def owner(demo_server) -> Client:
    c = Client(demo_server.url)
    assert c.login("owner@example.org").status_code == 303
    return c
