"""Signed links through a real server on 127.0.0.1: one-click unsubscribe (RFC 8058), the open pixel and the
click redirect, each coming back as an event."""

import datetime as dt
import re

import httpx
import pytest

from tests.channels.conftest import LiveApp, add_person, events_of
from wayfare.channels.tracking import decorate, make_token, read_token, unsubscribe_url
from wayfare.errors import NotFound
from wayfare.privacy import consent_status, is_suppressed


@pytest.fixture
def app(store, monkeypatch):
    with LiveApp(store) as a:
        monkeypatch.setenv("WAYFARE_PUBLIC_URL", a.url)
        yield a


def test_unsubscribe_get_only_asks_and_one_click_post_suppresses_at_once(store, app):
    sc = store.scope()
    pid = add_person(sc, "ana", email="Ana@Example.org", email_marketing="subscribed")
    url = unsubscribe_url(sc, pid, send_id="welcome:e1:p:0", flow="welcome", step=0)
    assert url.startswith(app.url + "/t/u/")
    page = httpx.get(url)
    assert page.status_code == 200 and "<form method=post>" in page.text and page.headers["x-robots-tag"] == "noindex"
    assert is_suppressed(sc, "email", "ana@example.org") is None  # a scanner's GET changed nothing
    assert consent_status(sc, pid, "email") == "granted"
    # what a mailbox provider sends for RFC 8058: a POST with this body, no cookies, no CSRF token
    r = httpx.post(url, content=b"List-Unsubscribe=One-Click",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and "unsubscribed" in r.text
    assert is_suppressed(sc, "email", "ana@example.org") == "unsubscribe"
    assert consent_status(sc, pid, "email") == "withdrawn"
    assert httpx.post(url).status_code == 200  # twice: still one event
    assert events_of(sc, pid, "Unsubscribed") == [{"channel": "email", "flow": "welcome", "step": 0,
                                                   "send_id": "welcome:e1:p:0"}]
    row = sc.one("SELECT source, wording FROM consents WHERE person_id = $p AND status = 'withdrawn'", {"p": pid})
    assert row[0] == "one-click unsubscribe" and "Unsubscribe" in row[1]


def test_unsubscribe_token_still_works_90_days_later_and_cannot_be_forged(store, app):
    sc = store.scope()
    pid = add_person(sc, "bo", email="bo@example.org")
    url = unsubscribe_url(sc, pid)
    token = url.rsplit("/", 1)[1]
    # nothing in the token expires: the MAC is checked against the workspace secret only
    store.con.execute("UPDATE events SET ts = ts - INTERVAL 90 DAY")
    assert read_token(store, token, "u")[1]["p"] == pid
    payload, mac = token.split(".")
    forged = [payload + "." + mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB"),  # altered MAC
              make_token(sc, "u", {"p": "someone-else"}).split(".")[0] + "." + mac,  # other person, old MAC
              make_token(sc, "o", {"p": pid})]  # a token of another kind
    for f in forged:
        assert httpx.post(f"{app.url}/t/u/{f}").status_code == 404
    assert httpx.get(f"{app.url}/t/u/garbage").status_code == 404
    assert is_suppressed(sc, "email", "bo@example.org") is None
    with pytest.raises(NotFound):
        read_token(store, forged[1], "u")


def test_tokens_of_one_workspace_do_not_work_in_another(store, app):
    store.create_workspace("other")
    a, b = store.scope(), store.scope("other")
    pid = add_person(a, "cy", email="cy@example.org")
    token = make_token(a, "u", {"p": pid})
    payload, mac = token.split(".")
    import base64

    import orjson

    data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["w"] = b.workspace_id
    moved = base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode() + "." + mac
    assert httpx.post(f"{app.url}/t/u/{moved}").status_code == 404


def test_decorate_rewrites_links_adds_pixel_and_both_come_back_as_events(store, app):
    sc = store.scope()
    pid = add_person(sc, "di", email="di@example.org")
    html = ('<html><body><p>Hi</p><a href="https://shop.example.com/menu?a=1&amp;b=2">Menu</a>'
            "<a href='mailto:x@example.org'>mail</a></body></html>")
    out = decorate(html, sc, "welcome:e1:di:1", pid, flow="welcome", step=1, variant="B")
    links = re.findall(r'href="([^"]+)"', out)
    assert len(links) == 1 and links[0].startswith(app.url + "/t/c/") and "mailto:x@example.org" in out
    pixel = re.search(r'<img src="([^"]+)"', out).group(1)
    assert out.index("<img") < out.index("</body>")
    g = httpx.get(pixel.replace("&amp;", "&"))
    assert g.status_code == 200 and g.headers["content-type"] == "image/gif" and g.content[:6] == b"GIF89a"
    assert events_of(sc, pid, "Email Opened") == [{"flow": "welcome", "step": 1, "variant": "B",
                                                  "send_id": "welcome:e1:di:1"}]
    r = httpx.get(links[0].replace("&amp;", "&"), follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "https://shop.example.com/menu?a=1&b=2"
    clicks = events_of(sc, pid, "Email Link Clicked")
    assert clicks == [{"url": "https://shop.example.com/menu?a=1&b=2", "flow": "welcome", "step": 1, "variant": "B",
                       "send_id": "welcome:e1:di:1"}]
    text = decorate("See https://shop.example.com/x today", sc, "s", pid, html=False)
    assert re.fullmatch(r"See " + re.escape(app.url) + r"/t/c/\S+ today", text)


def test_click_redirect_is_not_an_open_redirect(store, app):
    sc = store.scope()
    pid = add_person(sc, "ed", email="ed@example.org")
    good = make_token(sc, "c", {"p": pid, "u": "https://shop.example.com/"})
    payload, mac = good.split(".")
    other = make_token(sc, "c", {"p": pid, "u": "https://evil.example.net/"}).split(".")[0]
    for t in (f"{other}.{mac}", make_token(sc, "c", {"p": pid, "u": "javascript:alert(1)"}),
              make_token(sc, "u", {"p": pid, "u": "https://evil.example.net/"})):
        r = httpx.get(f"{app.url}/t/c/{t}", follow_redirects=False)
        assert r.status_code == 404 and "location" not in r.headers
    assert httpx.get(f"{app.url}/t/c/{good}?u=https://evil.example.net/", follow_redirects=False).headers[
        "location"] == "https://shop.example.com/"
    assert events_of(sc, pid, "Email Link Clicked") == [{"url": "https://shop.example.com/"}]
    # a bad pixel token still answers a GIF, and records nothing
    assert httpx.get(f"{app.url}/t/o/{other}.{mac}").status_code == 200
    assert events_of(sc, pid, "Email Opened") == []
    _ = dt


def test_read_token_refuses_any_garbage_with_not_found(store):
    import base64

    import orjson
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    json_vals = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(max_size=20),
                             lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                             max_leaves=8)
    tokens = st.text(max_size=200) | st.builds(lambda v, m: b64(orjson.dumps(v)) + "." + m, json_vals,
                                               st.text(max_size=30))

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(tokens, st.sampled_from(["u", "o", "c", "i"]))
    def check(token, kind):
        with pytest.raises(NotFound):
            read_token(store, token, kind)

    check()
