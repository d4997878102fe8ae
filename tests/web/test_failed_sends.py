"""The dead-letter list in a running server: a refused email shows up under "Failed sends" (dashboard) and at
GET /v1/flows/failed (admin key) with its address masked; the retry button (CSRF like the other forms) puts
it back in line and the scheduler sends it once when the mailbox accepts it."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.automate.test_retries import Scripted, _server
from tests.conftest import free_port
from wayfare.automate import enable_flow, load_text
from wayfare.ingest import to_row, write_rows
from wayfare.store import Store, create_key, utcnow
from wayfare.web import auth

from .conftest import Client, LiveServer

FLOW = "name: conf\npurpose: transactional\ntrigger: {event: Paid}\nsteps:\n  - {type: email, subject: Paid, text: thanks}\n"


def _wait(fn, secs: float = 20):
    t0 = time.time()
    while time.time() - t0 < secs:
        got = fn()
        if got:
            return got
        time.sleep(0.3)
    return fn()


@pytest.fixture
def served(tmp_path, monkeypatch):
    port = free_port()
    box = Scripted(rcpt=["550 5.1.1 no such user"])
    smtp = _server(box, port)
    monkeypatch.setenv("WAYFARE_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("WAYFARE_MAIL_FROM", "shop@example.org")
    store = Store(tmp_path / "w.db")
    auth.create_user(store, "owner@example.org", "correct horse battery staple", "owner")
    auth.create_user(store, "viewer@example.org", "correct horse battery staple", "viewer")
    sc = store.scope("default")
    enable_flow(sc, load_text(FLOW))
    srv = LiveServer(store).start()
    try:
        yield srv, sc, box
    finally:
        srv.stop()
        smtp.stop()
        store.close()


def test_failed_send_listed_on_page_and_api_and_retried_once_with_csrf(served):
    srv, sc, box = served
    admin = create_key(srv.store, "default", "admin")["key"]
    ingest = create_key(srv.store, "default", "ingest")["key"]
    now = utcnow()
    write_rows(sc, [to_row({"type": "identify", "userId": "ann", "messageId": "id-ann",
                            "traits": {"email": "ann.lee@example.org"}}, now, "test"),
                    to_row({"type": "track", "userId": "ann", "event": "Paid", "messageId": "paid-1"}, now, "test")])
    owner = Client(srv.url)
    assert owner.login("owner@example.org").status_code == 303
    failed = _wait(lambda: owner.get("/automations?format=json").json()["failed"])
    assert len(failed) == 1 and box.n_rcpt == 1
    f = failed[0]
    assert (f["flow"], f["channel"], f["to"], f["status"], f["attempts"]) == ("conf", "email", "a***@example.org",
                                                                            "failed", 1)
    assert "550" in f["error"]

    api = httpx.get(f"{srv.url}/v1/flows/failed", headers={"Authorization": f"Bearer {admin}"})
    assert api.status_code == 200 and api.json()["count"] == 1 and api.json()["failed"][0]["key"] == f["key"]
    assert "ann.lee" not in api.text
    assert httpx.get(f"{srv.url}/v1/flows/failed", headers={"Authorization": f"Bearer {ingest}"}).status_code in (401,
                                                                                                                 403)
    bad = httpx.post(f"{srv.url}/v1/flows/retry", json={"key": f["key"], "evil": 1},
                     headers={"Authorization": f"Bearer {admin}"})
    assert bad.status_code == 422 and "evil" in bad.json()["error"]
    assert httpx.post(f"{srv.url}/v1/flows/retry", json={"key": "conf:nope:nope:0"},
                      headers={"Authorization": f"Bearer {admin}"}).status_code == 404
    assert httpx.post(f"{srv.url}/v1/flows/retry", json={"key": f["key"]}).status_code == 401

    page = owner.get("/automations").text
    assert "Failed sends" in page and "a***@example.org" in page and "ann.lee@" not in page
    viewer = Client(srv.url)
    assert viewer.login("viewer@example.org").status_code == 303
    assert 'action="/automations/retry-send"' not in viewer.get("/automations").text
    forged = owner.post("/automations/retry-send", data={"csrf": "forged", "key": f["key"]},
                        headers={"Referer": f"{srv.url}/automations"})
    assert forged.status_code in (400, 403)
    time.sleep(1.0)
    assert owner.get("/automations?format=json").json()["failed"][0]["key"] == f["key"]  # still failed

    box.rcpt = ["250 OK"]  # the mailbox exists now
    token = re.search(r'action="/automations/retry-send"><input type="hidden" name="csrf" value="([^"]+)"',
                      page).group(1)
    r = owner.post("/automations/retry-send", data={"csrf": token, "key": f["key"]},
                   headers={"Referer": f"{srv.url}/automations"})
    assert r.status_code == 303
    assert _wait(lambda: box.accepted)
    time.sleep(1.5)  # further passes must not send it again
    assert [m["To"] for m in box.accepted] == ["ann.lee@example.org"]
    assert owner.get("/automations?format=json").json()["failed"] == []
    audit = sc.rows("SELECT actor, subject FROM audit_log WHERE action = 'automate.send.retry'")
    assert audit == [("owner@example.org", f["key"])]
