"""The automations page on real data: flows with figures, the real template library, the approval queue
rendered per customer; an approved (edited) email goes out through SMTP on the scheduler's next pass."""

from __future__ import annotations

import datetime as dt
import re
import time

from wayfare.automate import enable_flow, load_text, set_policy, template_names
from wayfare.ingest import to_row, write_rows
from wayfare.store import utcnow

from ..automate.conftest import smtp  # noqa: F401 - the real SMTP server fixture

FLOW = """name: vip-note
purpose: marketing
trigger: {event: VIP Noted}
steps:
  - type: email
    subject: "A note for {{ person.first_name }}"
    text: "Hi {{ person.first_name }}, thank you for being a regular."
    approval: {timeout: 2d, on_timeout: skip}
"""


def _token(page: str, action: str) -> str:
    return re.search(rf'action="{action}"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)"', page).group(1)


def test_approving_on_the_page_sends_the_edited_email_on_the_next_run(owner, demo_server, smtp, monkeypatch):  # noqa: F811
    monkeypatch.setenv("WAYFARE_SMTP_URL", smtp.url)
    sc = demo_server.store.scope("default")
    now = utcnow()
    away = [(now + dt.timedelta(hours=h)).strftime("%H:00") for h in (3, 4)]
    set_policy(sc, quiet_start=away[0], quiet_end=away[1])  # whenever this runs, it is not quiet time
    enable_flow(sc, load_text(FLOW))
    write_rows(sc, [to_row({"type": "identify", "userId": "vip-1", "messageId": "vip-id", "traits": {
        "email": "vip1@example.org", "first_name": "Vera", "email_marketing": "subscribed", "timezone": "UTC"}},
        now, "test"), to_row({"type": "track", "userId": "vip-1", "event": "VIP Noted", "messageId": "vip-ev"},
                             now, "test")])
    t0 = time.time()
    while time.time() - t0 < 20 and not owner.get("/automations?format=json").json()["approvals"]:
        time.sleep(0.3)
    d = owner.get("/automations?format=json").json()
    a = next(x for x in d["approvals"] if x["flow"] == "vip-note")
    assert a["subject"] == "A note for Vera" and a["to"] == "Vera" and "thank you for being a regular" in a["preview"]
    assert [t["id"] for t in d["templates"]] == template_names()
    assert any(f["name"] == "vip-note" and f["active"] == 1 for f in d["flows"])
    page = owner.get("/automations").text
    assert "A note for Vera" in page and "wayfare flows enable win-back" in page
    r = owner.post("/automations/approve", data={"csrf": _token(page, "/automations/approve"), "id": a["id"],
                                                 "decision": "approve", "subject": "Vera, a note from us"},
                   headers={"Referer": f"{owner.base}/automations"})
    assert r.status_code == 303
    t0 = time.time()
    while time.time() - t0 < 20 and not smtp.to("vip1@example.org"):
        time.sleep(0.3)
    assert [str(m["Subject"]) for m in smtp.to("vip1@example.org")] == ["Vera, a note from us"]
    time.sleep(1.5)  # a further pass must not send it again
    assert len(smtp.to("vip1@example.org")) == 1
    assert not [x for x in owner.get("/automations?format=json").json()["approvals"] if x["flow"] == "vip-note"]


def test_a_draft_with_a_mistake_is_refused_naming_the_line(owner):
    page = owner.get("/automations").text
    bad = "name: x\ntrigger: {event: A}\nsteps:\n  - type: wait\n    duration: soon\n"
    r = owner.post("/automations/validate", data={"csrf": _token(page, "/automations/validate"), "yaml": bad},
                   headers={"Referer": f"{owner.base}/automations"})
    assert r.status_code == 303
    shown = owner.get(r.headers["location"]).text
    assert "line:5" in shown and "duration" in shown
    good = owner.get("/automations?format=json").json()["draft"]
    assert load_text(good).name == "win-back-note"  # the page's example is valid real syntax
