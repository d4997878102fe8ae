"""Flows over HTTP on a real `wayfare serve`: the same model as the YAML, as JSON, behind an admin key."""

import httpx
import yaml

from wayfare.automate import load_flow
from wayfare.store import Store, create_key


def test_flows_as_json_validate_enable_list_and_stats(tmp_path, server_factory):
    db = tmp_path / "serve.db"
    with Store(db) as s:
        admin = create_key(s, "default", "admin")["key"]
        ingest = create_key(s, "default", "ingest")["key"]
    srv = server_factory(db).start()
    h = {"Authorization": f"Bearer {admin}"}
    doc = load_flow("abandoned-cart").model_dump(mode="json", by_alias=True, exclude_none=True)
    assert doc == yaml.safe_load(yaml.safe_dump(doc))  # plain JSON, the same fields as the YAML
    with httpx.Client(base_url=srv.url, timeout=60) as c:
        assert c.get("/v1/flows").status_code == 401
        assert c.get("/v1/flows", headers={"Authorization": f"Bearer {ingest}"}).status_code == 401
        ok = c.post("/v1/flows/validate", json=doc, headers=h)
        assert ok.status_code == 200 and ok.json()["valid"] is True and ok.json()["trigger"] == "event"
        bad = c.post("/v1/flows/validate", json={**doc, "steps": [{"type": "wait", "duration": "soon"}]}, headers=h)
        assert bad.status_code == 422 and bad.json()["where"] == "steps.0.wait.duration"
        for path in ("/v1/flows/validate", "/v1/flows"):  # bodies that are not a flow: a clear 422, never a 500
            for body in (b"", b"{not json", b"[1, 2]", b"null"):
                r = c.post(path, content=body, headers={**h, "Content-Type": "application/json"})
                assert r.status_code == 422 and r.json()["where"] == "body", (path, body, r.text)
            assert c.post(path, content=b"", headers={"Content-Type": "application/json"}).status_code == 401
        assert c.post("/v1/flows", json=doc, headers=h).json()["flow"] == "abandoned-cart"
        flows = c.get("/v1/flows", headers=h).json()["flows"]
        assert [(f["name"], f["enabled"], f["trigger"]) for f in flows] == [("abandoned-cart", True, "event")]
        st = c.get("/v1/flows/abandoned-cart/stats", headers=h).json()
        assert st["entered"] == 0 and st["conversions"]["event"] == "Order Completed"
        assert c.get("/v1/flows/nope/stats", headers=h).status_code == 404
