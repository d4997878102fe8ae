"""Every library template end to end on demo data: `wayfare demo`, `flows enable` (replaying the last days
of the demo), fresh events for the moments the demo does not have, then `flows run-due --until ...` with a
real SMTP server; mail must arrive, tasks and approvals must appear, and nothing goes out twice."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from wayfare.automate import assign_variant, load_flow, template_names
from wayfare.store import Store

from .conftest import events, ok, people

SUB = {"email_marketing": "subscribed", "timezone": "Europe/London"}


@pytest.mark.slow
def test_every_template_runs_end_to_end_on_demo_data(tmp_path, smtp, monkeypatch):
    monkeypatch.setenv("WAYFARE_SMTP_URL", smtp.url)
    monkeypatch.setenv("WAYFARE_MAIL_FROM", "shop@example.org")
    monkeypatch.delenv("WAYFARE_SMS_URL", raising=False)
    db = tmp_path / "demo.db"
    ok(f"--db={db}", "demo", "--business", "shop", "--customers", 300, "--seed", 5)
    con = duckdb.connect(str(db))
    last = con.execute("SELECT max(ts) FROM events").fetchone()[0]
    since = last - dt.timedelta(days=2)
    replayed_orders = con.execute(
        "SELECT count(*) FROM events e JOIN profiles p USING (workspace_id, person_id) WHERE e.event = "
        "'Order Completed' AND e.ts >= ? AND p.traits->>'email' IS NOT NULL", [since]).fetchone()[0]
    con.close()
    assert replayed_orders > 0
    for name in template_names():
        ok(f"--db={db}", "flows", "enable", name, "--since", since.isoformat())
    assert {f["name"] for f in ok(f"--db={db}", "flows", "list")["flows"]} == set(template_names())

    # fresh customers for the moments the demo has no events for (their names say what they do)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    t0 = (now - dt.timedelta(minutes=30)).isoformat()
    soon = (now + dt.timedelta(hours=30)).replace(minute=0).isoformat()
    store = Store(db)
    sc = store.scope()
    who = ["newbie", "shipped", "booked", "remind", "cart", "fan", "critic", "lapsing", "member", "reviewer",
           "enquirer", "bday", "firstbuy"]
    people(sc, {w: {"email": f"{w}@example.org", "first_name": w.title(), **SUB} for w in who}, at=t0)
    people(sc, {"remind": {"appointment_at": soon, "phone": "+447700900555"},
                "lapsing": {"churn_risk": 0.93},
                "bday": {"birthday": (now + dt.timedelta(days=8)).strftime("1991-%m-%d")}},
           at=(now - dt.timedelta(minutes=20)).isoformat())
    events(sc, [("newbie", "Signed Up", t0), ("shipped", "Order Shipped", t0, {"order_id": "S-9", "carrier": "Royal Mail"}),
                ("booked", "Appointment Booked", t0, {"service": "Cut and finish", "when": "Friday 10:00"}),
                ("cart", "Checkout Started", t0), ("fan", "Survey Responded", t0, {"nps_score": 10}),
                ("critic", "Survey Responded", t0, {"nps_score": 3, "comment": "Cold food"}),
                ("member", "Loyalty Joined", t0), ("reviewer", "Review Posted", t0, {"rating": 5}),
                ("enquirer", "Phone Enquiry", t0), ("firstbuy", "Order Completed", t0, {"order_id": "F-1", "revenue": 35})])
    lapsing = sc.one("SELECT person_id FROM identities WHERE kind = 'user_id' AND value = 'lapsing'")[0]
    held_out = assign_variant("win-back", lapsing, load_flow("win-back").steps[0]) == "holdout"  # 10% of people
    store.close()

    def run(hours: float) -> dict:
        until = (now + dt.timedelta(hours=hours)).isoformat()
        return ok(f"--db={db}", "flows", "run-due", "--until", until)

    totals = [run(0.1)]
    approvals = ok(f"--db={db}", "flows", "approvals")["approvals"]
    mine = [a for a in approvals if a["to"] == "Lapsing"]
    assert len(mine) == (0 if held_out else 1)
    for a in mine:
        assert "Lapsing" in a["subject"]
        ok(f"--db={db}", "flows", "decide", a["id"], "approve", "--by", "owner@shop.example")
    for h in (24 * 3, 24 * 33):
        totals.append(run(h))
    assert sum(t["errors"] for t in totals) == 0

    subjects = {}
    for m in smtp.messages:
        subjects.setdefault(m["To"], []).append(str(m["Subject"]))
    s = lambda w: subjects.get(f"{w}@example.org", [])  # noqa: E731
    assert s("newbie") == ["Welcome, Newbie!", "What our regulars come back for", "A little something for your first visit"]
    assert s("shipped") == ["Your order S-9 is on its way"]
    assert s("booked") == ["You're booked in for Friday 10:00"]
    assert s("remind") == ["See you tomorrow, Remind"]
    assert s("cart") == ["You left something behind, Cart", "Still thinking it over?"]
    assert s("fan") == ["Would you share that with others?"]
    assert "Would you share that with others?" not in s("critic")
    assert (s("lapsing") == []) if held_out else ("Lapsing" in s("lapsing")[0] and len(s("lapsing")) == 1)
    assert s("member") == ["Welcome to the club, Member: your reward is ready"]
    assert s("reviewer") == ["Know someone who'd like us too?"]
    assert s("enquirer") == ["Thanks for getting in touch, Enquirer", "What other customers say about us"]
    assert s("bday") == ["An early happy birthday, Bday!"]
    assert s("firstbuy")[:1] == ["Your order F-1 is confirmed"]
    assert "Getting the most from your first order" in s("firstbuy") and "How did we do, Firstbuy?" in s("firstbuy")
    nps = next(m for m in smtp.messages if m["To"] == "firstbuy@example.org" and "How did we do" in str(m["Subject"]))
    assert "score=10" in nps.get_body(("plain",)).get_content()

    tasks = ok(f"--db={db}", "flows", "tasks")["tasks"]
    titles = [t["title"] for t in tasks]
    assert any(t.startswith("Call critic@example.org") and "3/10" in t and "Cold food" in t for t in titles)
    assert any("enquirer@example.org" in t for t in titles)

    # figures: one confirmation per replayed demo order (transactional: consent not needed), and nothing twice
    oc = ok(f"--db={db}", "flows", "stats", "order-confirmation")
    assert oc["messages"]["email"]["sent"] == replayed_orders + 1  # + firstbuy's order
    sent_ids = [m["Message-ID"] for m in smtp.messages]
    assert len(sent_ids) == len(set(sent_ids))
    for name in template_names():
        st = ok(f"--db={db}", "flows", "stats", name)
        assert st["entered"] >= 1, name
    re = ok(f"--db={db}", "flows", "stats", "re-engagement")
    assert re["entered"] > 0 and re["messages"]["email"]["sent"] + re["messages"]["email"]["skipped"] > 0
