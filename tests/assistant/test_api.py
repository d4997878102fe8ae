"""The assistant over a real `wayfare serve` on 127.0.0.1: widget chat with an ingest key, staff inbox with
an admin key, the widget script, rate limits, and no 5xx on odd input."""

from __future__ import annotations

import httpx
import orjson

from wayfare.assistant import ingest
from wayfare.assistant.knowledge import identity_secret, user_hash
from wayfare.store import Store, create_key

from .conftest import people


def test_widget_chat_reaches_the_inbox_and_the_staff_reply_reaches_the_widget(tmp_path, bike_kb, server_factory):
    db = tmp_path / "api.db"
    with Store(db) as s:
        sc = s.scope("default")
        people(sc, {"alice": {"traits": {"first_name": "Alice"}, "orders": [("A-1", 20.0, 1)]},
                    "bob": {"traits": {"first_name": "Bob"}, "orders": [("B-7", 77.0, 1)]}})
        # the shop's server signs alice's user id; the widget passes it along
        alice_sig = user_hash(identity_secret(sc), "alice")
        ingest(sc, bike_kb)
        key = create_key(s, "default", "ingest")["key"]
        admin = create_key(s, "default", "admin")["key"]
    srv = server_factory(db).start()
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        js = c.get("/widget.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        assert "/v1/page" in js.text and "/v1/assistant/chat" in js.text and "http" not in js.text.split("*/", 1)[1]

        # text/plain body with writeKey inside: what the widget sends (no CORS preflight)
        # an attacker links their browser to alice with the public key, then asks: nothing of alice's
        assert c.post("/v1/identify", json={"writeKey": key, "anonymousId": "v-evil", "userId": "alice"}
                      ).status_code == 200
        evil = c.post("/v1/assistant/chat", json={"writeKey": key, "visitor_id": "v-evil",
                                                  "message": "where is my order"}).json()
        assert "A-1" not in evil["answer"] and "Alice" not in evil["answer"] and evil["handover"] is True
        forged = c.post("/v1/assistant/chat", json={"writeKey": key, "visitor_id": "v-evil", "user_id": "alice",
                                                    "user_hash": "0" * 64, "message": "where is my order"})
        assert forged.status_code == 401
        r = c.post("/v1/assistant/chat", content=orjson.dumps({"writeKey": key, "visitor_id": "v-alice",
                                                               "user_id": "alice", "user_hash": alice_sig,
                                                               "message": "where is my order"}),
                   headers={"Content-Type": "text/plain"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
        body = r.json()
        assert body["answer"].startswith("Hi Alice!") and "A-1" in body["answer"] and "B-7" not in body["answer"]
        # a stranger cannot claim alice's conversation, nor read it
        cid = body["conversation_id"]
        assert c.post("/v1/assistant/chat", json={"writeKey": key, "visitor_id": "v-evil", "conversation_id": cid,
                                                  "message": "where is my order"}).status_code == 404
        assert c.get(f"/v1/assistant/chat/{cid}/messages", params={"visitor_id": "v-evil", "key": key}).status_code == 404
        # an unlinked visitor asking about bob's order gets nothing of bob's
        r = c.post("/v1/assistant/chat", json={"writeKey": key, "visitor_id": "v-x", "message": "where is my order B-7 "
                                               "for bob"}).json()
        assert "B-7" not in r["answer"] and "77" not in r["answer"] and r["handover"] is True

        h = c.post("/v1/assistant/chat", json={"writeKey": key, "visitor_id": "v-2", "message": "talk to a person"})
        cid2 = h.json()["conversation_id"]
        assert h.json()["handover"] is True
        auth = {"Authorization": f"Bearer {admin}"}
        assert c.get("/v1/inbox", headers={"Authorization": f"Bearer {key}"}).status_code == 401
        listed = c.get("/v1/inbox", headers=auth).json()["conversations"]
        assert cid2 in [x["id"] for x in listed]
        assert c.post(f"/v1/inbox/{cid2}/assign", json={"assignee": "sam"}, headers=auth).json()["assignee"] == "sam"
        assert c.post(f"/v1/inbox/{cid2}/note", json={"text": "secret note"}, headers=auth).status_code == 200
        assert c.post(f"/v1/inbox/{cid2}/reply", json={"text": "Sam here!", "author": "Sam"}, headers=auth).json() == {
            "message": 4}
        got = c.get(f"/v1/assistant/chat/{cid2}/messages", params={"visitor_id": "v-2", "after": 2, "key": key}).json()
        assert [(m["role"], m["text"]) for m in got["messages"]] == [("staff", "Sam here!")]
        assert "secret note" not in c.get(f"/v1/assistant/chat/{cid2}/messages",
                                          params={"visitor_id": "v-2", "key": key}).text
        shown = c.get(f"/v1/inbox/{cid2}", headers=auth).json()
        assert [m["role"] for m in shown["messages"]] == ["customer", "assistant", "note", "staff"]
        closed = c.post(f"/v1/assistant/chat/{cid2}/rating", json={"writeKey": key, "visitor_id": "v-2", "rating": 5})
        assert closed.json() == {"status": "closed", "csat": 5}

        # odd input: 4xx, never 5xx
        odd = [c.post("/v1/assistant/chat", content=b"{not json"),
               c.post("/v1/assistant/chat", content=b"[]", headers={"Authorization": f"Bearer {key}"}),
               c.post("/v1/assistant/chat", json={"writeKey": key, "visitor_id": 5, "message": "x"}),
               c.post("/v1/assistant/chat", json={"writeKey": key, "visitor_id": "v", "message": "x" * 5000}),
               c.post("/v1/assistant/chat", json={"writeKey": "nope", "visitor_id": "v", "message": "hi"}),
               c.post("/v1/assistant/chat", json={"writeKey": key, "visitor_id": "v", "conversation_id": "\u0000",
                                                  "message": "hi"}),
               c.get("/v1/assistant/chat/zzz/messages", params={"visitor_id": "v", "after": -5, "key": key}),
               c.post(f"/v1/inbox/{cid2}/explode", json={}, headers=auth),
               c.post(f"/v1/inbox/{cid2}/close", json={"rating": "five"}, headers=auth),
               c.post(f"/v1/inbox/{cid2}/status", json={"status": ["x"]}, headers=auth),
               c.get("/v1/inbox", params={"status": "weird"}, headers=auth)]
        assert [o.status_code for o in odd] == [400, 400, 400, 400, 401, 404, 404, 404, 400, 400, 400]

        # rate limit: 20 messages a minute per visitor (a greeting: no retrieval, so the bucket, which refills
        # one message every 3 s, does not refill during the flood even with the slower hybrid retrieval)
        codes = [c.post("/v1/assistant/chat", json={"writeKey": key, "visitor_id": "v-flood", "message": "hi"})
                 .status_code for _ in range(22)]
        assert codes.count(200) == 20 and codes[-1] == 429
        # and the widget's page tracking lands as a page event
        assert c.post("/v1/page", content=orjson.dumps({"writeKey": key, "anonymousId": "v-2", "name": "Home"}),
                      headers={"Content-Type": "text/plain"}).status_code == 200
    srv.stop()
    with Store(db) as s:
        ev = s.scope("default").rows("SELECT event, count(*) FROM events WHERE event IN ('Chat Started', "
                                     "'Handed Over', 'Chat Closed', 'Home') GROUP BY 1 ORDER BY 1")
    assert dict(ev)["Chat Closed"] == 1 and dict(ev)["Home"] == 1 and dict(ev)["Handed Over"] >= 2
