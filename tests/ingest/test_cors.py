"""CORS on the write-key ingest routes: a shop's page on another origin posts events with its public key."""

from __future__ import annotations

import base64
import http.server
import os
import shutil
import threading

import httpx
import pytest

from wayfare.store import Store

from ..conftest import free_port

ORIGIN = "https://shop.example"
ROUTES = ["track", "identify", "page", "screen", "group", "alias", "batch", "import"]


def _auth(key: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@pytest.mark.slow
def test_cors_preflight_and_answers_allow_any_origin_without_credentials(ingest_key, server_factory):
    db, key = ingest_key
    srv = server_factory(db).start()
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        for kind in ROUTES:
            r = c.options(f"/v1/{kind}", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": "authorization,content-type"})
            assert r.status_code == 204, kind
            assert r.headers["access-control-allow-origin"] == "*"
            assert "POST" in r.headers["access-control-allow-methods"]
            allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
            assert {"authorization", "content-type"} <= allowed
            assert "access-control-allow-credentials" not in r.headers
        ok = c.post("/v1/page", json={"anonymousId": "a1", "name": "Menu", "messageId": "cors-1"},
                    headers={**_auth(key), "Origin": ORIGIN})
        assert ok.status_code == 200 and ok.json()["success"] is True
        assert ok.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in ok.headers
        # errors are readable by the page's script too, with the field path
        bad = c.post("/v1/track", json={"userId": "u1", "event": 5}, headers={**_auth(key), "Origin": ORIGIN})
        assert bad.status_code == 400 and bad.headers["access-control-allow-origin"] == "*"
        assert "event" in bad.json()["field"]
        nokey = c.post("/v1/page", json={"anonymousId": "a1"}, headers={"Origin": ORIGIN})
        assert nokey.status_code == 401 and nokey.headers["access-control-allow-origin"] == "*"
        # the admin API stays same-origin: no CORS there
        assert "access-control-allow-origin" not in c.get("/v1/status", headers={"Origin": ORIGIN}).headers
    srv.stop()
    with Store(db) as s:
        assert s.scope().one("SELECT count(*) FROM events")[0] == 1


@pytest.mark.slow
def test_cross_origin_page_view_from_chromium_is_stored_without_console_errors(tmp_path, ingest_key, server_factory):
    from playwright.sync_api import sync_playwright

    chromium = "/usr/bin/chromium"
    assert shutil.which(chromium) or os.path.exists(chromium), "apt-get install -y chromium"
    db, key = ingest_key
    srv = server_factory(db).start()
    site = tmp_path / "site"
    site.mkdir()
    basic = base64.b64encode(f"{key}:".encode()).decode()
    (site / "index.html").write_text(f"""<!doctype html><html><head><title>Trattoria</title>
<link rel="icon" href="data:,"></head><body><p id="out">sending</p><script>
const h = {{"Content-Type": "application/json", "Authorization": "Basic {basic}"}};
Promise.all([
  fetch("{srv.url}/v1/page", {{method: "POST", headers: h, body: JSON.stringify(
    {{anonymousId: "anon-7", name: "Menu", messageId: "b-page-1", properties: {{path: "/menu"}}}})}}),
  fetch("{srv.url}/v1/batch", {{method: "POST", headers: h, body: JSON.stringify({{batch: [
    {{type: "track", anonymousId: "anon-7", event: "Table Booked", messageId: "b-track-1"}}]}})}}),
]).then(rs => Promise.all(rs.map(r => r.json()))).then(js => {{
  document.getElementById("out").textContent = js.map(j => j.success).join(",");
}}).catch(e => {{ document.getElementById("out").textContent = "failed: " + e; }});
</script></body></html>""")
    port = free_port()
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(site), **kw)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage"]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=args)
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)  # CORS included
            page.goto(f"http://127.0.0.1:{port}/index.html")  # another origin than the server's port
            page.wait_for_function("document.getElementById('out').textContent !== 'sending'", timeout=30_000)
            assert page.text_content("#out") == "true,true"
            assert errors == []
            browser.close()
    finally:
        httpd.shutdown()
    srv.stop()
    with Store(db) as s:
        got = s.scope().rows("SELECT type, coalesce(event, ''), anonymous_id FROM events ORDER BY message_id")
    assert got == [("page", "Menu", "anon-7"), ("track", "Table Booked", "anon-7")]
