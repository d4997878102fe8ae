"""Flows end to end on a real DuckDB file and a real SMTP server: policies in the send path, approvals,
goals, triggers of every kind, re-entry, tracing, failures recorded with why."""

import datetime as dt

import pytest

from wayfare.automate import (
    decide_approval,
    dry_run,
    enable_flow,
    flow_stats,
    load_text,
    open_tasks,
    pause_person,
    pending_approvals,
    resume_person,
    run_due,
    scan_triggers,
    set_policy,
    trace,
)
from wayfare.errors import ValidationError
from wayfare.privacy import suppress

from .conftest import T, events, people

SUB = {"email_marketing": "subscribed", "timezone": "Europe/London"}


def go(scope, smtp, at: str) -> dict:
    now = T(at)
    scan_triggers(scope, now)
    return run_due(scope, now, settings=smtp.settings)


def send_row(scope, person, step=0):
    return scope.one("SELECT status, detail FROM sends WHERE person_id = (SELECT person_id FROM identities WHERE "
                     "value = $p LIMIT 1) AND step = $s", {"p": person, "s": step})


def make(scope, text: str):
    f = load_text(text)
    enable_flow(scope, f)
    return f


TWO_MAILS = """name: news
purpose: marketing
trigger: {event: Joined}
steps:
  - {type: email, subject: "Hello {{ person.first_name }}", text: "Hi {{ person.first_name }}"}
  - {type: wait, duration: 1d}
  - {type: email, subject: "Second", text: "More"}
"""


def test_marketing_goes_only_to_people_who_agreed_and_skips_are_recorded(scope, smtp):
    people(scope, {"ann": {"email": "ann@example.org", "first_name": "Ann", **SUB},
                   "bob": {"email": "bob@example.org", "first_name": "Bob"}})
    make(scope, TWO_MAILS)
    events(scope, [("ann", "Joined", "2026-11-02T10:00:00"), ("bob", "Joined", "2026-11-02T10:00:00")])
    res = go(scope, smtp, "2026-11-02T11:00:00")
    assert res["sent"] == 1 and res["skipped"] == 1
    assert [str(m["Subject"]) for m in smtp.to("ann@example.org")] == ["Hello Ann"] and not smtp.to("bob@example.org")
    assert send_row(scope, "bob") == ("skipped", "no marketing consent for email")
    st = flow_stats(scope, "news")
    assert st["messages"]["email"]["sent"] == 1
    assert st["messages"]["email"]["skipped_by_reason"] == {"no marketing consent for email": 1}
    assert st["entered"] == 2 and st["at_step"]["1"]["people"] == 2


def test_unsubscribe_is_honoured_at_once_for_the_next_message(scope, smtp):
    people(scope, {"ann": {"email": "ann@example.org", "first_name": "Ann", **SUB}})
    make(scope, TWO_MAILS)
    events(scope, [("ann", "Joined", "2026-11-02T10:00:00")])
    go(scope, smtp, "2026-11-02T11:00:00")
    suppress(scope, "email", "Ann@Example.org", "unsubscribe")
    go(scope, smtp, "2026-11-03T12:00:00")
    assert len(smtp.to("ann@example.org")) == 1
    assert send_row(scope, "ann", 2) == ("skipped", "suppressed (unsubscribe)")


def test_quiet_hours_hold_marketing_until_morning_in_the_persons_zone(scope, smtp):
    people(scope, {"ann": {"email": "ann@example.org", **SUB},
                   "kei": {"email": "kei@example.org", "email_marketing": "subscribed", "timezone": "Asia/Tokyo"}})
    make(scope, TWO_MAILS)
    events(scope, [("ann", "Joined", "2026-11-02T22:30:00"), ("kei", "Joined", "2026-11-02T22:30:00")])
    res = go(scope, smtp, "2026-11-02T22:31:00")  # 22:31 London, 07:31 Tokyo: both quiet
    assert res["deferred"] == 2 and not smtp.messages
    go(scope, smtp, "2026-11-02T23:00:00")  # 08:00 in Tokyo
    assert len(smtp.to("kei@example.org")) == 1 and not smtp.to("ann@example.org")
    go(scope, smtp, "2026-11-03T07:59:00")
    assert not smtp.to("ann@example.org")
    go(scope, smtp, "2026-11-03T08:00:00")
    assert len(smtp.to("ann@example.org")) == 1
    log = [r for r in trace(scope, flow="news") if r["outcome"] == "deferred"]
    assert {r["reason"] for r in log} == {"quiet hours 21:00-08:00 (Europe/London)", "quiet hours 21:00-08:00 (Asia/Tokyo)"}


def test_frequency_cap_counts_marketing_across_all_flows_and_is_configurable(scope, smtp):
    people(scope, {"ann": {"email": "ann@example.org", **SUB}})
    make(scope, TWO_MAILS)
    make(scope, TWO_MAILS.replace("name: news", "name: promo"))
    make(scope, "name: receipt\npurpose: transactional\ntrigger: {event: Joined}\nsteps:\n"
                "  - {type: email, subject: Receipt, text: r}\n")
    events(scope, [("ann", "Joined", "2026-11-02T10:00:00")])
    go(scope, smtp, "2026-11-02T11:00:00")
    go(scope, smtp, "2026-11-03T12:00:00")
    assert sorted(smtp.subjects()) == ["Hello", "Hello", "Receipt"]  # 2 marketing + the transactional one
    reasons = {r["reason"] for r in trace(scope) if r["outcome"] == "skipped"}
    assert reasons == {"frequency cap: 2 marketing messages per 7 days"}
    set_policy(scope, cap=5)
    with pytest.raises(ValidationError):
        set_policy(scope, quiet_start="25:00")


def test_person_pause_and_workspace_pause(scope, smtp):
    people(scope, {"ann": {"email": "ann@example.org", **SUB}, "bob": {"email": "bob@example.org", **SUB}})
    make(scope, TWO_MAILS)
    pid = scope.one("SELECT person_id FROM identities WHERE value = 'ann'")[0]
    pause_person(scope, pid)
    set_policy(scope, paused=True)
    events(scope, [("ann", "Joined", "2026-11-02T10:00:00"), ("bob", "Joined", "2026-11-02T10:00:00")])
    res = go(scope, smtp, "2026-11-02T11:00:00")
    assert res["skipped"] == 1 and res["deferred"] == 1 and not smtp.messages
    set_policy(scope, paused=False)
    resume_person(scope, pid)
    go(scope, smtp, "2026-11-02T12:30:00")
    assert len(smtp.to("bob@example.org")) == 1 and not smtp.to("ann@example.org")  # ann's first was skipped
    assert send_row(scope, "ann") == ("skipped", "automations paused for this person")


APPROVE = """name: winback
trigger: {event: Lapsed}
steps:
  - type: email
    subject: "We miss you, {{ person.first_name }}"
    text: "Hi {{ person.first_name }}, 15% off."
    approval: {timeout: 2d, on_timeout: skip}
"""


def test_approval_queue_shows_the_rendered_message_and_an_approved_edit_goes_out(scope, smtp):
    people(scope, {n: {"email": f"{n}@example.org", "first_name": n.title(), **SUB} for n in ("ann", "bob", "cy")})
    make(scope, APPROVE)
    events(scope, [(n, "Lapsed", "2026-11-02T10:00:00") for n in ("ann", "bob", "cy")])
    res = go(scope, smtp, "2026-11-02T11:00:00")
    assert res["approvals"] == 3 and not smtp.messages
    q = {a["to"]: a for a in pending_approvals(scope)}
    assert q["Ann"]["subject"] == "We miss you, Ann" and q["Ann"]["preview"] == "Hi Ann, 15% off."
    decide_approval(scope, q["Ann"]["id"], "approve", "owner@shop.example", {"subject": "Ann, a treat for you"})
    decide_approval(scope, q["Bob"]["id"], "reject", "owner@shop.example")
    with pytest.raises(ValidationError):
        decide_approval(scope, q["Bob"]["id"], "approve", "owner@shop.example")
    go(scope, smtp, "2026-11-02T12:00:00")
    assert smtp.subjects() == ["Ann, a treat for you"]
    go(scope, smtp, "2026-11-04T12:00:00")  # cy's approval timed out: skipped
    assert smtp.subjects() == ["Ann, a treat for you"] and not pending_approvals(scope)
    why = {r["person_id"]: r["reason"] for r in trace(scope) if r["action"] == "approval" and r["outcome"] == "skipped"}
    assert sorted(why.values()) == ["approval timed out", "rejected by owner@shop.example"]


def test_abandoned_cart_goal_and_wait_for_event(scope, smtp):
    from wayfare.automate import load_flow
    people(scope, {n: {"email": f"{n}@example.org", **SUB} for n in ("ann", "bob")})
    enable_flow(scope, load_flow("abandoned-cart"))
    events(scope, [("ann", "Checkout Started", "2026-11-02T10:00:00"), ("bob", "Checkout Started", "2026-11-02T10:00:00"),
                   ("ann", "Order Completed", "2026-11-02T11:00:00", {"revenue": 42.5})])
    go(scope, smtp, "2026-11-02T10:05:00")
    assert not smtp.messages
    go(scope, smtp, "2026-11-02T14:10:00")
    assert len(smtp.to("bob@example.org")) == 1 and not smtp.to("ann@example.org")
    events(scope, [("bob", "Order Completed", "2026-11-03T09:00:00", {"revenue": 30})])
    go(scope, smtp, "2026-11-03T15:00:00")
    assert len(smtp.to("bob@example.org")) == 1  # bought before the second nudge: left by the goal
    st = flow_stats(scope, "abandoned-cart")
    assert st["exited_by_goal"] == 2 and st["conversions"]["converted"] == 2 and st["conversions"]["revenue"] == 72.5


def test_a_rejected_recipient_fails_once_and_the_others_go_out_once(scope, smtp):
    smtp.reject.add("bad@example.org")
    people(scope, {"ann": {"email": "ann@example.org"}, "bad": {"email": "bad@example.org"}})
    make(scope, "name: rc\npurpose: transactional\ntrigger: {event: Paid}\nsteps:\n  - {type: email, subject: R, text: r}\n")
    events(scope, [("bad", "Paid", "2026-11-02T10:00:00"), ("ann", "Paid", "2026-11-02T10:00:01")])
    go(scope, smtp, "2026-11-02T11:00:00")
    go(scope, smtp, "2026-11-02T12:00:00")
    assert len(smtp.to("ann@example.org")) == 1 and send_row(scope, "bad")[0] == "failed"
    assert "550" in send_row(scope, "bad")[1]


def test_groups_over_several_connections_send_each_once_and_a_refusal_stays_alone(scope, smtp):
    """40 people (three groups of up to 16 connections), one refused mid-group, two emails each in one pass:
    every accepted email arrives once, in order, the refusal fails once, the log and entries agree."""
    smtp.reject.add("p20@example.org")
    people(scope, {f"p{i}": {"email": f"p{i}@example.org"} for i in range(40)})
    make(scope, "name: two\npurpose: transactional\ntrigger: {event: Paid}\nsteps:\n"
                "  - {type: email, subject: 'one {{ person.email }}', text: a}\n"
                "  - {type: email, subject: 'two {{ person.email }}', text: b}\n")
    events(scope, [(f"p{i}", "Paid", f"2026-11-02T10:00:{i:02d}") for i in range(40)])
    res = go(scope, smtp, "2026-11-02T11:00:00")
    assert res["sent"] == 78 and res["failed"] == 2 and res["errors"] == 0
    for i in range(40):
        got = [m["Subject"] for m in smtp.to(f"p{i}@example.org")]
        assert got == ([] if i == 20 else [f"one p{i}@example.org", f"two p{i}@example.org"])
    assert send_row(scope, "p20")[0] == "failed" and send_row(scope, "p20", step=1)[0] == "failed"
    status = dict(scope.store.cursor().execute("SELECT status, count(*) FROM sends GROUP BY 1").fetchall())
    assert status == {"sent": 78, "failed": 2}
    log = scope.store.cursor().execute("SELECT count(*) FROM automation_log WHERE outcome = 'sent'").fetchone()[0]
    done = scope.store.cursor().execute("SELECT count(*) FROM flow_entries WHERE status = 'done'").fetchone()[0]
    assert log == 78 and done == 40
    assert go(scope, smtp, "2026-11-02T12:00:00")["sent"] == 0


def test_sms_without_a_provider_and_a_webhook_to_loopback_fail_with_a_reason(scope, smtp, monkeypatch):
    monkeypatch.delenv("WAYFARE_SMS_URL", raising=False)
    monkeypatch.delenv("WAYFARE_WEBHOOK_ALLOW_PRIVATE", raising=False)
    monkeypatch.setenv("WAYFARE_WEBHOOK_SECRET", "s3cret")
    people(scope, {"ann": {"email": "ann@example.org", "phone": "+447700900123"}})
    make(scope, "name: hooks\npurpose: transactional\ntrigger: {event: Paid}\nsteps:\n  - {type: sms, text: hi}\n"
                "  - {type: webhook, url: 'http://127.0.0.1:9/hook'}\n  - {type: task, title: 'Call {{ person.phone }}'}\n")
    events(scope, [("ann", "Paid", "2026-11-02T10:00:00")])
    res = go(scope, smtp, "2026-11-02T11:00:00")
    assert res["failed"] == 2 and res["tasks"] == 1
    rows = dict(scope.rows("SELECT channel, detail FROM sends WHERE status = 'failed'"))
    assert "WAYFARE_SMS_URL" in rows["sms"] and "127.0.0.1" in rows["webhook"] and "loopback" in rows["webhook"]
    assert [t["title"] for t in open_tasks(scope)] == ["Call +447700900123"]


def test_date_trait_trigger_fires_once_a_week_before_the_birthday_at_nine_local(scope, smtp):
    people(scope, {"ann": {"email": "ann@example.org", "birthday": "1990-12-09", **SUB},
                   "bob": {"email": "bob@example.org", "birthday": "1985-03-01", **SUB}})
    from wayfare.automate import load_flow
    enable_flow(scope, load_flow("birthday-offer"), since=T("2026-12-01T00:00:00"))
    assert scan_triggers(scope, T("2026-12-02T08:59:00")) == 0
    assert scan_triggers(scope, T("2026-12-02T09:00:00")) == 1
    assert scan_triggers(scope, T("2026-12-02T12:00:00")) == 0
    run_due(scope, T("2026-12-02T12:00:00"), settings=smtp.settings)
    assert smtp.subjects() == ["An early happy birthday, there!"]


def test_score_trigger_enters_on_crossing_only(scope, smtp):
    make(scope, "name: risk\ntrigger: {score: churn_risk, above: 0.7}\nsteps:\n  - {type: task, title: call}\n")
    people(scope, {"ann": {"churn_risk": 0.8}, "bob": {"churn_risk": 0.2}})
    assert scan_triggers(scope, T("2026-11-02T10:00:00")) == 1
    assert scan_triggers(scope, T("2026-11-02T11:00:00")) == 0
    people(scope, {"ann": {"churn_risk": 0.5}, "bob": {"churn_risk": 0.9}}, at="2026-11-02T12:00:00")
    assert scan_triggers(scope, T("2026-11-02T12:00:00")) == 1
    people(scope, {"ann": {"churn_risk": 0.75}}, at="2026-11-02T13:00:00")
    assert scan_triggers(scope, T("2026-11-02T13:00:00")) == 1


def test_segment_trigger_follows_the_segment_history(scope, store, smtp):
    make(scope, "name: seg\ntrigger: {segment: vip, change: leave}\nsteps:\n  - {type: task, title: 'lost a vip'}\n")
    people(scope, {"ann": {}, "bob": {}})
    ids = [r[0] for r in scope.rows("SELECT person_id FROM profiles ORDER BY person_id")]
    for pid, change in zip(ids, ("entered", "left"), strict=True):
        store.con.execute("INSERT INTO analytics_segment_history VALUES (?, 'vip', ?, ?, ?)",
                          [scope.workspace_id, pid, change, dt.datetime.now(dt.UTC).replace(tzinfo=None)])
    assert scan_triggers(scope) == 1
    assert scan_triggers(scope) == 0


@pytest.mark.parametrize("rule, expected", [("every", 3), ("once", 1), ("2d", 2), ("while-inactive", 1)])
def test_reentry_rules(scope, smtp, rule, expected):
    make(scope, f"name: re\ntrigger: {{event: Visit, reentry: '{rule}'}}\nsteps:\n  - {{type: wait, duration: 10d}}\n")
    people(scope, {"ann": {}})
    for day in (2, 3, 5):
        events(scope, [("ann", "Visit", f"2026-11-0{day}T10:00:00")])
        scan_triggers(scope, T(f"2026-11-0{day}T11:00:00"))
    assert scope.one("SELECT count(*) FROM flow_entries")[0] == expected


def test_event_trigger_filters_and_first_time(scope, smtp):
    make(scope, "name: big\ntrigger: {event: Order Completed, where: {revenue: {gt: 50}}, first_time: true}\n"
                "steps:\n  - {type: task, title: thank}\n")
    people(scope, {"ann": {}, "bob": {}})
    events(scope, [("ann", "Order Completed", "2026-11-02T10:00:00", {"revenue": 80}),
                   ("bob", "Order Completed", "2026-11-02T10:00:00", {"revenue": 20}),
                   ("bob", "Order Completed", "2026-11-02T11:00:00", {"revenue": 90})])
    assert scan_triggers(scope, T("2026-11-02T12:00:00")) == 1  # bob's big order was not his first


def test_every_action_is_traced_to_its_flow_step_and_trigger_event(scope, smtp):
    people(scope, {"ann": {"email": "ann@example.org", **SUB}})
    make(scope, TWO_MAILS)
    events(scope, [("ann", "Joined", "2026-11-02T10:00:00")])
    go(scope, smtp, "2026-11-02T11:00:00")
    sent = [r for r in trace(scope) if r["outcome"] == "sent"]
    assert len(sent) == 1 and sent[0]["flow"] == "news" and sent[0]["step"] == 0
    assert sent[0]["trigger_event"] == "ev-ann-Joined-2026-11-02T10:00:00-0"


def test_dry_run_shows_what_and_when_without_sending(scope, smtp):
    people(scope, {"ann": {"email": "ann@example.org", "first_name": "Ann", **SUB}, "bob": {"email": "b@example.org"}})
    f = load_text(TWO_MAILS)
    plan = dry_run(scope, f, scope.one("SELECT person_id FROM identities WHERE value = 'ann'")[0],
                   T("2026-11-02T22:00:00"))
    msgs = [p for p in plan["plan"] if p["type"] == "email"]
    assert [(m["subject"], m["at"], m["would"]) for m in msgs] == [
        ("Hello Ann", T("2026-11-03T08:00:00"), "send"), ("Second", T("2026-11-04T08:00:00"), "send")]
    bob = dry_run(scope, f, scope.one("SELECT person_id FROM identities WHERE value = 'bob'")[0], T("2026-11-02T12:00:00"))
    assert {m["reason"] for m in bob["plan"] if m["type"] == "email"} == {"no marketing consent for email"}
    assert not smtp.messages and scope.one("SELECT count(*) FROM sends")[0] == 0


@pytest.mark.parametrize("text, line, words", [
    ("name: x\ntrigger: {event: A}\nsteps:\n  - {type: email, subject: s, text: t, next: nowhere}\n", None, "nowhere"),
    ("name: x\ntrigger:\n  event: A\n  segment: b\nsteps:\n  - {type: exit}\n", 3, "exactly one of"),
    ("name: x\ntrigger: {event: A}\nsteps:\n  - type: wait\n    event: B\n", 4, "needs a timeout"),
    ("name: x\ntrigger: {event: A}\nsteps:\n  - type: split\n    variants: []\n", 5, "at least 1"),
])
def test_validation_names_the_line_and_the_problem(text, line, words):
    with pytest.raises(ValidationError) as e:
        load_text(text, where="f.yaml")
    assert words in str(e.value)
    if line:
        assert e.value.where == f"f.yaml:{line}"


def test_two_passes_at_once_send_each_message_once(scope, smtp):
    import threading
    people(scope, {f"p{i}": {"email": f"p{i}@example.org"} for i in range(60)})
    make(scope, "name: rc2\npurpose: transactional\ntrigger: {event: Paid}\nsteps:\n  - {type: email, subject: R, text: r}\n")
    events(scope, [(f"p{i}", "Paid", "2026-11-02T10:00:00") for i in range(60)])
    scan_triggers(scope, T("2026-11-02T10:01:00"))
    ts = [threading.Thread(target=run_due, args=(scope, T("2026-11-02T10:01:00")), kwargs={"settings": smtp.settings})
          for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    run_due(scope, T("2026-11-02T10:02:00"), settings=smtp.settings)
    got = [m["To"] for m in smtp.messages]
    assert len(got) == 60 and len(set(got)) == 60


def test_a_webhook_step_posts_signed_json_once_to_a_real_server(scope, smtp, monkeypatch):
    import hashlib
    import hmac
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    got = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((dict(self.headers), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass
    srv = HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    monkeypatch.setenv("WAYFARE_WEBHOOK_ALLOW_PRIVATE", "1")  # loopback for this test only
    monkeypatch.setenv("HOOK_KEY", "k3y")
    people(scope, {"ann": {"email": "ann@example.org"}})
    make(scope, f"name: hook\npurpose: transactional\ntrigger: {{event: Paid}}\nsteps:\n"
                f"  - {{type: webhook, url: 'http://127.0.0.1:{srv.server_port}/in', secret_env: HOOK_KEY, "
                f"payload: {{note: 'paid {{{{ event.amount }}}}'}}}}\n")
    events(scope, [("ann", "Paid", "2026-11-02T10:00:00", {"amount": 12})])
    go(scope, smtp, "2026-11-02T11:00:00")
    go(scope, smtp, "2026-11-02T12:00:00")
    srv.shutdown()
    assert len(got) == 1
    headers, body = got[0]
    doc = json.loads(body)
    assert doc["flow"] == "hook" and doc["note"] == "paid 12" and doc["event"]["amount"] == 12
    t, v1 = (x.split("=", 1)[1] for x in headers["X-Wayfare-Signature"].split(","))
    assert v1 == hmac.new(b"k3y", f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def test_workspaces_see_only_their_own_flows_approvals_tasks_and_log(store, smtp):
    a, b = store.scope("default"), store.scope(store.create_workspace("other") and "other")
    for sc in (a, b):
        people(sc, {"ann": {"email": "ann@example.org", "first_name": "Ann", **SUB}})
    make(a, APPROVE)
    make(a, "name: t\npurpose: transactional\ntrigger: {event: Lapsed}\nsteps:\n  - {type: task, title: call}\n")
    events(a, [("ann", "Lapsed", "2026-11-02T10:00:00")])
    go(a, smtp, "2026-11-02T11:00:00")
    go(b, smtp, "2026-11-02T11:00:00")
    from wayfare.automate import list_flows
    assert len(list_flows(a)) == 2 and list_flows(b) == []
    assert len(pending_approvals(a)) == 1 and pending_approvals(b) == []
    assert len(open_tasks(a)) == 1 and open_tasks(b) == []
    assert trace(a) and trace(b) == []
    with pytest.raises(Exception, match="no approval"):
        decide_approval(b, pending_approvals(a)[0]["id"], "approve", "intruder@example.org")
