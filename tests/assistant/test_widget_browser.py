"""The widget in a real browser: a shop page on another origin loads /widget.js with one <script> tag; the
visitor chats, asks for a person, and the staff reply from the inbox API appears in the same chat window;
the page view lands in the journey."""

from __future__ import annotations

import http.server
import os
import shutil
import threading

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from wayfare.assistant import ingest
from wayfare.store import Store, create_key

from ..conftest import free_port

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def test_widget_chat_and_page_tracking_in_a_browser(tmp_path, bike_kb, server_factory):
    assert shutil.which(CHROMIUM) or os.path.exists(CHROMIUM), "apt-get install -y chromium"
    db = tmp_path / "widget.db"
    with Store(db) as s:
        ingest(s.scope("default"), bike_kb)
        key = create_key(s, "default", "ingest")["key"]
        admin = create_key(s, "default", "admin")["key"]
    srv = server_factory(db).start()
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(f"""<!doctype html><html><head><title>City Cycles</title><link rel="icon" href="data:,"></head><body>
<h1>City Cycles</h1><script src="{srv.url}/widget.js" data-key="{key}" async></script></body></html>""")
    port = free_port()
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(site), **kw)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)  # CORS included
            page.goto(f"http://127.0.0.1:{port}/index.html")
            page.click("#wf-open")
            expect(page.locator("#wf-log")).to_contain_text("automated assistant")
            page.fill("#wf-in", "do you rent bikes?")
            page.press("#wf-in", "Enter")
            # the first answer may wait for the sentence model to load (~16 s) where wayfare[embeddings] is installed
            expect(page.locator(".wf-assistant").last).to_contain_text("35 euros a day", timeout=60_000)
            page.click("#wf-person")
            expect(page.locator(".wf-assistant").last).to_contain_text("passing you to a person")
            with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as c:
                cid = c.get("/v1/inbox").json()["conversations"][0]["id"]
                assert c.post(f"/v1/inbox/{cid}/reply", json={"text": "Hi, Sam here. Yes we do!",
                                                              "author": "Sam"}).status_code == 200
            expect(page.locator(".wf-staff")).to_contain_text("Sam here", timeout=10_000)
            assert errors == []
            browser.close()
    finally:
        httpd.shutdown()
    srv.stop()
    with Store(db) as s:
        pages = s.scope("default").rows("SELECT name FROM (SELECT event AS name FROM events WHERE type = 'page')")
    assert pages == [("City Cycles",)]
