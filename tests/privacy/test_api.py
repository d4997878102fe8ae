"""The privacy HTTP API over a real server: admin keys only, export, erase, retention; ingest rate limits."""

from __future__ import annotations

import httpx

from wayfare.privacy.exports import safe_cell  # noqa: F401  (public helper for others)
from wayfare.store import Store, create_key
from wayfare.web.api_privacy import RateLimiter

from ._people import ERASE, seed


def test_api_export_erase_retention_and_rate_limit(tmp_path, server_factory):
    db = tmp_path / "api.db"
    with Store(db) as s:
        seed(s.scope())
        admin = create_key(s, "default", "admin")["key"]
        ingest = create_key(s, "default", "ingest")["key"]
    srv = server_factory(db, env={"WAYFARE_RATE_PER_IP": "0.5"}).start()
    A = {"Authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        assert c.post("/v1/privacy/export", json={"person": ERASE["email"]},
                      headers={"Authorization": f"Bearer {ingest}"}).status_code == 401
        assert c.post("/v1/privacy/export", json={"person": ERASE["email"]}).status_code == 401
        r = c.post("/v1/privacy/export", json={"person": ERASE["email"]}, headers=A)
        assert r.status_code == 200 and r.json()["counts"]["events"] == 6
        assert c.post("/v1/privacy/export", json={"person": "nobody@example.org"}, headers=A).status_code == 404
        assert c.post("/v1/privacy/export", json={"person": ""}, headers=A).status_code == 422
        assert c.post("/v1/privacy/erase", json={"person": ERASE["email"]}, headers=A).status_code == 400
        r = c.post("/v1/privacy/erase", json={"person": ERASE["email"], "confirm": True}, headers=A)
        assert r.status_code == 200 and r.json()["removed"]["profiles"] == 1
        assert c.post("/v1/privacy/export", json={"person": ERASE["email"]}, headers=A).status_code == 404
        assert c.put("/v1/privacy/retention", json={"kind": "page_views", "days": 30}, headers=A).status_code == 200
        assert c.get("/v1/privacy/retention", headers=A).json()["retention"]["page_views"] == 30
        assert c.put("/v1/privacy/retention", json={"kind": "nope", "days": 3}, headers=A).status_code == 400
        # ingest: one request per 2 s per IP (burst 1) -> a quick run of 30 is mostly refused, with Retry-After
        codes = [c.post("/v1/track", json={"userId": "u", "event": "E", "messageId": f"m{i}"},
                        headers={"Authorization": f"Bearer {ingest}"}) for i in range(30)]
        ok = [r for r in codes if r.status_code == 200]
        limited = [r for r in codes if r.status_code == 429]
        assert 1 <= len(ok) <= 4 and len(ok) + len(limited) == 30
        assert int(limited[0].headers["retry-after"]) >= 1
        # a shop page's script can read the 429 (CORS), and preflights are never limited
        assert limited[0].headers["access-control-allow-origin"] == "*"
        assert "retry-after" in limited[0].headers["access-control-expose-headers"].lower()
        pre = c.options("/v1/track", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"})
        assert pre.status_code in (200, 204) and pre.headers["access-control-allow-origin"] == "*"
        assert c.get("/health").status_code == 200  # only ingest routes are limited
    srv.stop()
    with Store(db) as s:
        sc = s.scope()
        assert sc.one("SELECT count(*) FROM events WHERE event = 'E'")[0] == len(ok)
        assert [a for (a,) in sc.rows("SELECT action FROM audit_log ORDER BY logged_at")] == [
            "privacy.export", "privacy.erase"]


def test_rate_limiter_refills_at_rate():
    rl = RateLimiter(rate=10, burst=5)
    assert [rl.take("k", now=0.0) for _ in range(5)] == [0.0] * 5
    assert rl.take("k", now=0.0) > 0
    assert rl.take("other", now=0.0) == 0.0
    assert rl.take("k", now=0.25) == 0.0  # 2.5 tokens back after 0.25 s
    assert RateLimiter(rate=0).take("k") == 0.0
