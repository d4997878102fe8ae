"""The OpenAPI schema says what the API does (issue 9, item 3): every error an operation can answer is documented,
a 405 names every method of the path, the enumerations written out for the schema are the ones the code checks,
and what schemathesis found while the schema and the checks disagreed stays fixed. Over a real server."""

from __future__ import annotations

import httpx
import pytest

from wayfare.store import Store, create_key


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from tests.conftest import Server

    db = tmp_path_factory.mktemp("openapi") / "api.db"
    with Store(db) as s:
        keys = {scope: create_key(s, "default", scope)["key"] for scope in ("admin", "ingest")}
    srv = Server(db).start()
    yield srv, keys, httpx.get(f"{srv.url}/openapi.json").json()
    srv.stop()


def test_every_operation_documents_its_errors(served):
    _, _, spec = served
    ops = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]
    assert len(ops) >= 40
    for path, method, op in ops:
        codes = set(op["responses"])
        assert {"400", "401", "403", "404", "429"} <= codes, (method, path, sorted(codes))
        if method in ("post", "put"):
            assert "413" in codes, (method, path)
        kind = "text/html" if path.startswith("/t/") else "application/json"
        assert kind in op["responses"]["404"]["content"], (method, path)
    ack = spec["paths"]["/v1/batch"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ack["required"] == ["success", "received", "duplicates"]
    assert "text/html" in spec["paths"]["/v1/journey/map.html"]["get"]["responses"]["200"]["content"]


def test_a_405_names_every_method_of_the_path(served):
    srv, keys, _ = served
    h = {"Authorization": f"Bearer {keys['admin']}"}
    r = httpx.request("OPTIONS", f"{srv.url}/v1/flows", headers=h)
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "POST"}
    r = httpx.delete(f"{srv.url}/v1/privacy/retention", headers=h)
    assert r.status_code == 405 and {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "PUT"}
    # a path with one method keeps its answer; a path that does not exist is still a 404
    assert httpx.delete(f"{srv.url}/v1/analytics/kpis", headers=h).headers["allow"] == "GET"
    assert httpx.request("OPTIONS", f"{srv.url}/v1/nothing-here", headers=h).status_code == 404


def test_enumerations_in_the_schema_are_the_ones_the_code_checks(served):
    from wayfare.assistant.conversations import STATUSES
    from wayfare.predict.nba import BY_NAME
    from wayfare.privacy.retention import KINDS

    _, _, spec = served

    def param(path, name):
        return next(p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name)["schema"]

    assert param("/v1/predict/next-action", "action")["enum"] == list(BY_NAME)
    assert param("/v1/inbox", "status")["enum"] == ["", *STATUSES]
    assert param("/v1/analytics/kpis", "period")["enum"] == ["day", "week", "month"]
    assert spec["components"]["schemas"]["RetentionBody"]["properties"]["kind"]["enum"] == sorted(KINDS)
    assert "Flow" in spec["components"]["schemas"]  # the flow document, referred to by POST /v1/flows


def test_what_the_schema_refuses_the_server_refuses(served):
    srv, keys, _ = served
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    ingest = {"Authorization": f"Bearer {keys['ingest']}"}
    # a breakdown name became a JSON path: '[' was a server error
    r = httpx.post(f"{srv.url}/v1/analytics/funnel", json={"steps": ["Viewed Menu"], "by": "a[b"}, headers=admin)
    assert r.status_code == 422 and "not a field name" in r.text
    # a trait as a CSV import names it still splits a funnel
    r = httpx.post(f"{srv.url}/v1/analytics/funnel", json={"steps": ["Viewed Menu"], "by": "traits.Customer Type"},
                   headers=admin)
    assert r.status_code == 200 and r.json()["by"] == "traits.Customer Type"
    r = httpx.post(f"{srv.url}/v1/analytics/funnel", json={"steps": ["x" * 501]}, headers=admin)
    assert r.status_code == 400
    # pydantic would read these as 1 and as true
    r = httpx.put(f"{srv.url}/v1/privacy/retention", json={"kind": "events", "days": True}, headers=admin)
    assert r.status_code == 422
    r = httpx.post(f"{srv.url}/v1/privacy/erase", json={"person": "x@example.org", "confirm": "yes"}, headers=admin)
    assert r.status_code == 422
    r = httpx.post(f"{srv.url}/v1/assistant/chat", json={"visitor_id": "v", "message": "hi", "writeKey": 5},
                   headers=ingest)
    assert r.status_code == 400 and "writeKey" in r.text
