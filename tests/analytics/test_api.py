"""The analytics HTTP API over a real `wayfare serve` on 127.0.0.1: admin keys only, one workspace."""

from __future__ import annotations

import httpx

from wayfare.store import Store, create_key

from .conftest import journeys_for


def test_api_funnel_rfm_segments_need_an_admin_key(tmp_path, server_factory):
    db = tmp_path / "api.db"
    with Store(db) as s:
        journeys_for(s.scope("default"), {"a": [(0, "Viewed"), (60, "Order Completed")], "b": [(0, "Viewed")]})
        admin = create_key(s, "default", "admin")["key"]
        ingest = create_key(s, "default", "ingest")["key"]
    srv = server_factory(db).start()
    with httpx.Client(base_url=srv.url, timeout=60) as c:
        body = {"steps": ["Viewed", "Order Completed"], "within": "1d"}
        assert c.post("/v1/analytics/funnel", json=body).status_code == 401
        assert c.post("/v1/analytics/funnel", json=body, headers={"Authorization": f"Bearer {ingest}"}).status_code == 401
        h = {"Authorization": f"Bearer {admin}"}
        r = c.post("/v1/analytics/funnel", json=body, headers=h)
        assert r.status_code == 200
        assert [(s["step"], s["count"]) for s in r.json()["steps"]] == [("Viewed", 2), ("Order Completed", 1)]
        assert c.post("/v1/analytics/funnel", json=body | {"within": "later"}, headers=h).status_code == 400
        assert c.get("/v1/analytics/rfm", headers=h).json()["buyers"] == 1
        seg = c.post("/v1/analytics/segments", json={"name": "buyers", "rule": "orders >= 1"}, headers=h).json()
        assert seg["members"] == 1
        assert [x["name"] for x in c.get("/v1/analytics/segments", headers=h).json()] == ["buyers"]
