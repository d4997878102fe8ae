"""The journey API on a real `wayfare serve` on loopback."""

import httpx

from wayfare.store import Store, create_key

from .conftest import cli


def test_map_painpoints_and_scoring_over_http_need_an_admin_key(tmp_path, server_factory):
    db = tmp_path / "serve.db"
    assert cli(f"--db={db}", "demo", "--business", "salon", "--customers", 400, "--seed", 2).returncode == 0
    with Store(db) as s:
        admin = create_key(s, "default", "admin")["key"]
        ingest = create_key(s, "default", "ingest")["key"]
    srv = server_factory(db).start()
    h = {"Authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=srv.url, timeout=60) as c:
        assert c.get("/v1/journey/map").status_code == 401
        assert c.get("/v1/journey/map", headers={"Authorization": f"Bearer {ingest}"}).status_code == 401
        m = c.get("/v1/journey/map", headers=h).json()
        assert [s["name"] for s in m["stages"]][:2] == ["Awareness", "Consideration"] and m["people"] == 400
        assert c.get("/v1/journey/map", params={"persona": "Nobody"}, headers=h).status_code == 404
        page = c.get("/v1/journey/map.html", headers=h)
        assert page.status_code == 200 and "<svg" in page.text and "default-src 'none'" in page.headers[
            "content-security-policy"]
        assert isinstance(c.get("/v1/journey/painpoints", headers=h).json()["pain_points"], list)
        sc = c.post("/v1/feedback/score", headers=h, json={"texts": ["Lovely stylist, great cut", "Rude and late"]})
        assert [x["label"] for x in sc.json()["scores"]] == ["positive", "negative"]
        assert c.post("/v1/feedback/score", headers=h, json={"texts": []}).status_code == 422
