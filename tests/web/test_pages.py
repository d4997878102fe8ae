"""Every dashboard page over real HTTP: sign-in, HTML and its JSON twin, figures that match the store,
CSRF, roles, the workspace switcher, security headers and cookies."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from wayfare.ingest import check_message, to_row, write_rows
from wayfare.web.dashboard.common import anchor
from wayfare.web.dashboard.funnels import run_funnel

from .conftest import PASSWORD, Client

PAGES = ["/", "/journey", "/funnels", "/paths", "/retention", "/segments", "/customers", "/feedback", "/predictions",
         "/automations", "/inbox", "/import", "/settings"]


def test_signed_out_visitors_are_sent_to_sign_in(demo_server):
    c = Client(demo_server.url)
    r = c.get("/funnels?step=Menu%20Viewed")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/funnels%3Fstep%3DMenu%2520Viewed"
    assert c.get("/customers?format=json").status_code == 401


def test_sign_in_sets_a_hardened_cookie_and_rotates_it(demo_server):
    c = Client(demo_server.url)
    r = c.login("owner@example.org")
    assert r.status_code == 303 and r.headers["location"] == "/"
    raw = c.attrs["wf_session"].lower()
    assert "httponly" in raw and "samesite=lax" in raw and "secure" in raw and "path=/" in raw
    first = c.cookies.pop("wf_session")
    token = c.csrf("/login")  # a fresh sign-in form, then submitted by the signed-in browser
    c.cookies["wf_session"] = first
    r = c.post("/login", data={"email": "owner@example.org", "password": PASSWORD, "csrf": token})
    assert r.status_code == 303 and c.cookies["wf_session"] != first
    assert c.get("/?format=json").status_code == 200
    c.cookies["wf_session"] = first  # the pre-login session was ended, not kept beside the new one
    assert c.get("/?format=json").status_code == 401


def test_wrong_password_is_refused_without_saying_which_part(demo_server):
    c = Client(demo_server.url)
    r = c.login("owner@example.org", "not the password")
    assert r.status_code == 401 and "Wrong email or password" in r.text and "wf_session" not in c.cookies
    r = c.login("nobody@example.org", "not the password")
    assert r.status_code == 401 and "Wrong email or password" in r.text


def test_sign_in_without_the_form_token_is_refused(demo_server):
    c = Client(demo_server.url)
    r = c.post("/login", data={"email": "owner@example.org", "password": PASSWORD})
    assert r.status_code == 400 and "wf_session" not in c.cookies


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_and_has_a_json_twin(owner, path):
    r = owner.get(path)
    assert r.status_code == 200, r.text[:500]
    assert "default-src 'self'" in r.headers["content-security-policy"] and r.headers["x-frame-options"] == "DENY"
    assert 'href="/static/dashboard.css"' in r.text and "<h1>" in r.text
    assert not re.search(r"<[^>]+\sstyle=", r.text)  # no inline styles: the CSP would refuse them
    assert "http://" not in re.sub(r"http://127\.0\.0\.1:\d+|http://www\.w3\.org/2000/svg", "", r.text)  # no CDN
    j = owner.get(path + ("&" if "?" in path else "?") + "format=json")
    assert j.status_code == 200 and j.headers["content-type"].startswith("application/json")
    assert isinstance(j.json(), dict)


def test_overview_figures_match_the_store(owner, demo_server):
    d = owner.get("/?format=json").json()
    scope = demo_server.store.scope("default")
    now = anchor(scope)
    orders, revenue = scope.one("SELECT count(*), sum(revenue) FROM events WHERE revenue > 0 AND ts > $a AND ts <= $n",
                                {"a": now - dt.timedelta(days=30), "n": now})
    k = {x["key"]: x["value"] for x in d["kpis"]}
    assert k["orders"] == orders and abs(k["revenue"] - revenue) < 0.01
    assert len(d["pain_points"]) == 3 and all(p["people"] > 0 and p["action"] for p in d["pain_points"])


def test_funnel_counts_first_attempts_in_order_within_the_window(store):
    scope = store.scope("default")
    t = dt.datetime(2026, 1, 1)
    journeys = {  # person: [(event, days after t)]
        "alice": [("View", 0), ("Book", 1), ("Order", 2)],
        "bob": [("View", 0), ("Book", 1)],
        "carol": [("Book", 0), ("View", 1), ("Order", 2)],   # booked before viewing: only step 1
        "dan": [("View", 0), ("Book", 40), ("Order", 41)],    # outside the 30-day window
        "erin": [("View", 0), ("View", 5), ("Book", 6), ("Order", 7)],
    }
    msgs = [check_message({"type": "track", "userId": p, "event": e, "messageId": f"{p}-{i}",
                           "timestamp": (t + dt.timedelta(days=d)).isoformat() + "Z"}, "m")
            for p, evs in journeys.items() for i, (e, d) in enumerate(evs)]
    write_rows(scope, [to_row(m, t, "test") for m in msgs])
    r = run_funnel(scope, ["View", "Book", "Order"], 30)
    assert r["total"] == [5, 3, 2] and abs(r["overall"] - 0.4) < 1e-9


def test_funnel_page_builds_from_picked_events_and_explains_bad_input(owner):
    d = owner.get("/funnels?step=Menu%20Viewed&step=Table%20Booked&window=14&breakdown=channel&format=json").json()
    r = d["result"]
    assert r["steps"] == ["Menu Viewed", "Table Booked"] and r["window_days"] == 14
    assert r["total"][0] >= r["total"][1] > 0 and sum(g["counts"][0] for g in r["series"]) == r["total"][0]
    bad = owner.get("/funnels?step=Nope&step=Table%20Booked")
    assert bad.status_code == 400 and "no event named" in bad.text


def test_customer_search_profile_and_pause(owner, demo_server):
    scope = demo_server.store.scope("default")
    pid, email = scope.one("SELECT person_id, traits->>'email' FROM profiles WHERE traits->>'email' IS NOT NULL LIMIT 1")
    d = owner.get(f"/customers?q={email}&format=json").json()
    assert [p["person_id"] for p in d["people"]] == [pid]
    prof = owner.get(f"/customers/{pid}?format=json").json()
    assert prof["summary"]["person_id"] == pid and prof["timeline"] and prof["automations_paused"] is False
    assert owner.get("/customers/p_does_not_exist").status_code == 404
    page = owner.get(f"/customers/{pid}").text
    token = re.search(r'action="/customers/[^"]+/pause">\s*<input type="hidden" name="csrf" value="([^"]+)"', page).group(1)
    r = owner.post(f"/customers/{pid}/pause", data={"csrf": token}, headers={"Referer": f"{owner.base}/customers/{pid}"})
    assert r.status_code == 303 and r.headers["location"] == f"/customers/{pid}"
    assert "All automations are paused for this customer." in owner.get(r.headers["location"]).text
    assert "All automations are paused" not in owner.get(f"/customers/{pid}").text  # said once
    assert owner.get(f"/customers/{pid}?format=json").json()["automations_paused"] is True
    assert scope.one("SELECT count(*) FROM audit_log WHERE action = 'automations.pause' AND subject = $p", {"p": pid})[0] == 1


def test_state_changes_need_the_csrf_token_and_the_same_origin(owner, demo_server):
    scope = demo_server.store.scope("default")
    pid = scope.one("SELECT person_id FROM profiles LIMIT 1 OFFSET 3")[0]
    assert owner.post(f"/customers/{pid}/pause", data={"csrf": "forged"}).status_code == 403
    token = owner.csrf("/")
    r = owner.post(f"/customers/{pid}/pause", data={"csrf": token}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert owner.get(f"/customers/{pid}?format=json").json()["automations_paused"] is False


def test_viewers_read_but_cannot_change_anything(demo_server):
    v = Client(demo_server.url)
    assert v.login("viewer@example.org").status_code == 303
    assert v.get("/segments").status_code == 200
    token = v.csrf("/")
    r = v.post("/settings/keys/create", data={"csrf": token, "scope": "admin"})
    assert r.status_code == 403 and "Only a owner (or above) may do this" in r.text
    assert v.get("/settings/export/people.csv").status_code == 403
    assert "Create key" not in v.get("/settings").text


def test_owner_creates_and_revokes_a_key_and_exports_safe_csv(owner, demo_server):
    token = owner.csrf("/settings")
    r = owner.post("/settings/keys/create", data={"csrf": token, "scope": "ingest", "label": "=cmd|' /C calc'!A0"})
    assert r.status_code == 303
    page = owner.get(r.headers["location"]).text
    key = re.search(r'<pre class="code" id="newkey">(wf_ingest_[^<]+)</pre>', page).group(1)
    assert key not in owner.get("/settings").text  # shown once
    keys = owner.get("/settings?format=json").json()["api_keys"]
    kid = next(k["key_id"] for k in keys if k["label"] and k["label"].startswith("=cmd"))
    assert owner.post("/settings/keys/revoke", data={"csrf": token, "key_id": kid}).status_code == 303
    assert next(k for k in owner.get("/settings?format=json").json()["api_keys"] if k["key_id"] == kid)["revoked"]
    csv = owner.get("/settings/export/people.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0].lstrip("\ufeff").startswith("person_id,first_seen")
    assert len(lines) - 1 == demo_server.store.scope("default").one("SELECT count(*) FROM profiles")[0]


def test_workspace_switcher_changes_what_the_pages_show(demo_server):
    c = Client(demo_server.url)
    c.login("owner@example.org")
    assert c.get("/?format=json").json()["empty"] is False
    token = c.csrf("/")
    assert c.post("/workspace", data={"csrf": token, "workspace": "salon"}).status_code == 303
    assert c.get("/?format=json").json()["empty"] is True
    assert "No customer data yet" in c.get("/").text
    r = c.post("/workspace", data={"csrf": token, "workspace": "nope"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "you are not a member of a workspace named" in c.get("/").text


def test_logout_ends_the_session_on_the_server(demo_server):
    c = Client(demo_server.url)
    c.login("staff@example.org")
    cookie = c.cookies["wf_session"]
    token = c.csrf("/")
    assert c.post("/logout", data={"csrf": token}).status_code == 303
    c.cookies["wf_session"] = cookie  # replaying the old cookie does not work
    assert c.get("/").status_code == 303


def test_messages_cannot_be_planted_through_a_link(owner):
    page = owner.get("/?ok=Your+account+is+locked,+call+0900&error=Pay+now").text
    assert "call 0900" not in page and "Pay now" not in page


def test_favicon_and_static_files_are_served_from_the_package(demo_server):
    c = Client(demo_server.url)
    for path, kind in (("/favicon.ico", "image/svg+xml"), ("/static/dashboard.css", "text/css"),
                       ("/static/dashboard.js", "javascript")):
        r = c.get(path)
        assert r.status_code == 200 and kind in r.headers["content-type"]


def test_owner_edits_the_consent_wording_and_too_short_text_is_refused(owner, demo_server):
    token = owner.csrf("/settings")
    email_text = "Yes please, email me the monthly menu and offers; I can unsubscribe any time."
    r = owner.post("/settings/consent", data={"csrf": token, "email": email_text, "sms": "ok"},
                   headers={"Referer": f"{owner.base}/settings"})
    assert r.status_code == 303 and "at least 20 characters" in owner.get("/settings").text
    r = owner.post("/settings/consent", data={"csrf": token, "email": email_text,
                                              "sms": "Yes, text me offers now and then. Reply STOP to stop."})
    assert r.status_code == 303
    assert owner.get("/settings?format=json").json()["consent"]["email"] == email_text
    row = demo_server.store.con.execute("SELECT settings->'consent_texts'->>'email' FROM workspaces WHERE name = 'default'")
    assert row.fetchone()[0] == email_text


def test_feedback_shows_sentiment_by_stage_and_themes_with_quotes(owner):
    d = owner.get("/feedback?format=json").json()
    stages = {s["stage"]: s["score"] for s in d["sentiment_by_stage"]}
    assert "Experience" in stages and all(0 <= v <= 10 for v in stages.values())
    assert d["themes"] and all(t["quotes"] and t["mentions"] > 0 for t in d["themes"])
    assert -100 <= d["nps_90d"] <= 100 and sum(n for _, n in d["distribution"]) == d["answers_90d"]


def test_cached_pages_refresh_when_new_events_arrive(owner, demo_server):
    import httpx

    from wayfare.store import create_key

    before = owner.get("/?format=json").json()["events"]
    assert owner.get("/?format=json").json()["events"] == before  # served from the cache
    key = create_key(demo_server.store, "default", "ingest")["key"]
    r = httpx.post(f"{demo_server.url}/v1/track", auth=(key, ""), json={
        "type": "track", "event": "Menu Viewed", "userId": "fresh-visitor", "messageId": "cache-test-1"})
    assert r.status_code == 200
    assert owner.get("/?format=json").json()["events"] == before + 1


def test_warming_fills_the_cache_for_every_workspace(demo_server):
    import threading

    from wayfare.web.dashboard import cache
    from wayfare.web.dashboard.warm import warm_all

    for w in demo_server.store.workspaces():
        cache.bump(w["id"])
    hits = cache.hits
    from wayfare.web.dashboard.warmers import WARMERS

    n = warm_all(demo_server.store, threading.Event())
    assert len(WARMERS) == 8 and n == len(WARMERS) * len(demo_server.store.workspaces())  # 7 pages + the assistant
    c = Client(demo_server.url)
    c.login("owner@example.org")
    c.get("/segments")
    assert cache.hits > hits


def test_staff_save_a_segment_by_rule_and_see_it_listed_with_its_people(demo_server):
    c = Client(demo_server.url)
    c.login("staff@example.org")
    token = c.csrf("/segments")
    r = c.post("/segments/save", data={"csrf": token, "name": "Leeds regulars", "rule": 'orders >= 2 and traits.city = "Leeds"'})
    assert r.status_code == 303 and "Segment “Leeds regulars” saved" in c.get("/segments").text
    saved = {s["name"]: s for s in c.get("/segments?format=json").json()["saved"]}
    expected = demo_server.store.scope("default").one(
        """SELECT count(*) FROM profiles p WHERE p.traits->>'city' = 'Leeds'
           AND (SELECT count(*) FROM events e WHERE e.person_id = p.person_id AND e.event = 'Order Completed') >= 2""")[0]
    assert saved["Leeds regulars"]["members"] == expected > 0
    r = c.post("/segments/save", data={"csrf": token, "name": "Broken", "rule": "orders >>> 2"},
               headers={"Referer": f"{c.base}/segments"})
    assert r.status_code == 303 and "Broken" not in {s["name"] for s in c.get("/segments?format=json").json()["saved"]}


def test_customer_search_by_part_of_a_name_and_percent_signs_are_literal(owner, demo_server):
    scope = demo_server.store.scope("default")
    last = scope.one("SELECT traits->>'last_name' FROM profiles WHERE traits->>'last_name' IS NOT NULL LIMIT 1")[0]
    people = owner.get(f"/customers?q={last[:4].lower()}&format=json").json()["people"]
    assert people and all(last[:4].lower() in (p["name"] or "").lower() + (p["email"] or "").lower() or p["city"]
                          for p in people)
    assert owner.get("/customers?q=%25%25&format=json").json()["people"] == []
