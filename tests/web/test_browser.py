"""An owner's first session in a real browser (Playwright driving Debian's chromium): first-run sign-up,
import a CSV, open the journey map, build a funnel, approve a waiting email and see it arrive at a real
SMTP server (aiosmtpd on 127.0.0.1), find a customer and pause their automations, sort and export a
table, hover and download a chart, answer a hand-over in the inbox while the customer chats through the
widget on the shop's own site, use it at phone width, sign out and in with the keyboard. Screenshots of
every page land in a temp dir; the console must stay free of errors."""

from __future__ import annotations

import csv
import email
import http.server
import shutil
import threading
import time
from email.policy import default as email_policy

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import expect, sync_playwright

from wayfare.assistant.knowledge import identity_secret, user_hash
from wayfare.automate import enable_flow, load_text
from wayfare.demo.generator import generate
from wayfare.store import Store, create_key

from ..conftest import free_port
from .conftest import LiveServer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
PW = "correct horse battery staple"

pytestmark = pytest.mark.slow

# every order gets a personal thank-you, but only once the owner approves it
THANK_YOU = """name: order-thank-you
description: A personal thank-you after each order; the owner approves every one.
purpose: transactional
trigger:
  event: Order Completed
steps:
  - type: email
    subject: "Thank you for your order"
    text: |
      Thank you for eating with us. We hope to see you again soon.
    approval: {timeout: 2d, on_timeout: skip}
"""


class Mailbox:
    """What the real SMTP server received: (recipients, parsed message)."""

    def __init__(self):
        self.got: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.got.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content, policy=email_policy)))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for rcpt, m in self.got if address in rcpt]

    def wait_for(self, address: str, timeout: float = 30.0) -> email.message.EmailMessage:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.to(address):
                return self.to(address)[-1]
            time.sleep(0.2)
        raise AssertionError(f"no email to {address} within {timeout:.0f} s; got {[r for r, _ in self.got]}")


@pytest.fixture
def mailbox(monkeypatch):
    box = Mailbox()
    port = free_port()
    ctl = Controller(box, hostname="127.0.0.1", port=port)
    ctl.start()
    monkeypatch.setenv("WAYFARE_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("WAYFARE_MAIL_FROM", "bistro@example.org")
    yield box
    ctl.stop()


@pytest.fixture
def fresh_server(tmp_path, mailbox):
    store = Store(tmp_path / "w.db")
    generate(store.scope("default"), "restaurant", 300, seed=5)
    enable_flow(store.scope("default"), load_text(THANK_YOU))
    srv = LiveServer(store).start()
    yield srv
    srv.stop()
    store.close()


@pytest.fixture
def shop_site(tmp_path, fresh_server):
    """The business's own website on another origin, with the widget's one <script> tag for a signed-in
    regular (the user id signed with the workspace's identity secret, as the shop's server would)."""
    sc = fresh_server.store.scope("default")
    uid, name, addr = sc.one("""SELECT i.value, p.traits->>'name', p.traits->>'email' FROM identities i
                                JOIN profiles p USING (person_id) JOIN events e USING (person_id)
                                WHERE i.kind = 'user_id' AND e.revenue > 0 AND p.traits->>'email' IS NOT NULL
                                GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 1""")
    key = create_key(fresh_server.store, "default", "ingest")["key"]
    sig = user_hash(identity_secret(sc), uid)
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(f"""<!doctype html><html lang="en"><head><title>The Bistro</title><link rel="icon" href="data:,"></head><body>
<h1>The Bistro</h1><script src="{fresh_server.url}/widget.js" data-key="{key}" data-user-id="{uid}"
data-user-hash="{sig}" async></script></body></html>""")
    port = free_port()
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(site), **kw)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{port}/index.html", "name": name, "email": addr}
    httpd.shutdown()


def _orders_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "email", "event", "revenue"])
        w.writerows(rows)
    return path


def test_owner_walks_the_dashboard_in_a_real_browser(fresh_server, shop_site, mailbox, tmp_path):
    assert shutil.which(CHROMIUM) or __import__("os").path.exists(CHROMIUM), "apt-get install -y chromium"
    url, store = fresh_server.url, fresh_server.store
    shots = tmp_path / "shots"
    shots.mkdir()
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
        page = ctx.new_page()
        page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))

        def shot(name: str) -> None:
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

        # 1. first run: no account exists, so the owner creates one
        page.goto(url + "/")
        expect(page).to_have_url(url + "/setup?next=/")
        page.fill("input[name=email]", "owner@example.org")
        page.fill("input[name=password]", PW)
        page.fill("input[name=password2]", PW)
        shot("setup")
        page.click("text=Create my account")
        expect(page.locator(".flash.ok")).to_contain_text("Welcome")
        expect(page.locator(".pain")).to_have_count(3)
        shot("overview")

        # 2. import a CSV: a file with a bad line is refused with its line number, a good one imported
        bad = _orders_csv(tmp_path / "bad.csv", [["2026-11-01T12:00:00Z", "new.guest@example.org", "Order Completed", "20"],
                                                 ["2026-11-02T12:00:00Z", "x@example.org", "Order Completed", "=HYPERLINK(1)"]])
        page.click("nav >> text=Import")
        page.set_input_files("input[name=file]", str(bad))
        page.select_option("select[name=preset]", "generic")
        page.click("text=Upload and check")
        expect(page.locator("#review .flash.error")).to_contain_text("nothing was imported")
        row = page.locator("#review table tbody tr").first
        expect(row).to_contain_text("revenue")
        assert row.locator("td").first.inner_text() == "3"  # the line in the file, header counted
        shot("import-errors")
        good = _orders_csv(tmp_path / "orders.csv", [
            ["2026-11-01T12:00:00Z", "new.guest@example.org", "Order Completed", "20"],
            ["2026-11-08T19:30:00Z", "new.guest@example.org", "Order Completed", "12.5"],
            ["2026-11-09T19:30:00Z", "second.guest@example.org", "Order Completed", "31.5"]])
        before = store.scope("default").one("SELECT count(*) FROM events")[0]
        page.set_input_files("input[name=file]", str(good))
        page.click("text=Upload and check")
        expect(page.locator("#import-preview tbody tr")).to_have_count(3)
        shot("import-preview")
        assert store.scope("default").one("SELECT count(*) FROM events")[0] == before  # nothing before confirming
        page.click("#confirm-import")
        expect(page.locator(".flash.ok")).to_contain_text("Imported orders.csv: 3 new rows")
        assert store.scope("default").one("SELECT count(*) FROM events")[0] == before + 3
        shot("import-done")

        # 3. the journey map, and a cell's people
        page.click("nav >> text=Journey map")
        expect(page.locator(".journey a.cell").first).to_be_visible()
        shot("journey")
        page.locator(".journey a.cell.heat5").first.click()
        expect(page.locator("h2", has_text="Who they are")).to_be_visible()
        assert page.locator("table tbody tr").count() > 0
        shot("journey-cell")

        # 4. build a funnel by picking events
        page.click("nav >> text=Funnels")
        page.select_option("#step0", "Menu Viewed")
        page.select_option("#step1", "Table Booked")
        page.select_option("#step2", "Order Completed")
        page.fill("#window", "14")
        page.select_option("#breakdown", "channel")
        page.click("text=Show the funnel")
        expect(page.locator("#funnel-result h2")).to_contain_text("people started")
        assert "window=14" in page.url and page.locator("#funnel-result tbody tr").count() >= 1
        shot("funnel")

        # 4b. the imported orders each wait for the owner's approval of a thank-you email: approve one, and it
        # arrives at the SMTP server; the others stay unsent
        page.click("nav >> text=Automations")
        waiting = page.locator("tr", has_text="second.guest@example.org")
        for _ in range(60):  # the in-process scheduler turns the imported orders into approvals within seconds
            if waiting.count():
                break
            time.sleep(0.5)
            page.reload()
        expect(waiting).to_have_count(1)
        expect(page.locator("tr", has_text="new.guest@example.org")).to_have_count(2)
        shot("automations-approvals")
        assert mailbox.to("second.guest@example.org") == []
        waiting.locator("button", has_text="Approve").click()
        expect(page.locator(".flash.ok")).to_contain_text("Approved")
        expect(page.locator("tr", has_text="second.guest@example.org")).to_have_count(0)
        sent = mailbox.wait_for("second.guest@example.org")
        assert sent["Subject"] == "Thank you for your order" and sent["From"].addresses[0].addr_spec == "bistro@example.org"
        assert "Thank you for eating with us" in sent.get_body(("plain",)).get_content()
        assert mailbox.to("new.guest@example.org") == []
        shot("automations-approved")

        # 5. find the imported customer and pause their automations
        page.click("nav >> text=Customers")
        page.fill("#q", "new.guest@example.org")
        page.keyboard.press("Enter")
        page.locator("table tbody tr a").first.click()
        expect(page.locator("ol.timeline li")).to_have_count(2)
        page.click("#pause-automations")
        expect(page.locator(".flash.ok")).to_contain_text("paused")
        expect(page.locator(".pill", has_text="Automations paused")).to_be_visible()
        shot("customer")
        assert store.scope("default").one(
            "SELECT traits->>'automations_paused' FROM profiles p JOIN identities i USING (person_id) "
            "WHERE i.kind = 'email' AND i.value = 'new.guest@example.org'")[0] == "true"

        # 6. sort a table with the keyboard, export it as CSV (formula-safe)
        page.click("nav >> text=Segments")
        header = page.locator("table.sortable thead th button.sort", has_text="Customers")
        header.focus()
        page.keyboard.press("Enter")
        expect(page.locator("table.sortable thead th[aria-sort=ascending]")).to_have_count(1)
        nums = [int(t.replace(",", "")) for t in page.locator("table.sortable tbody tr td:nth-child(2)").all_inner_texts()]
        assert nums == sorted(nums)
        with page.expect_download() as dl:
            page.click("text=Download CSV")
        text = open(dl.value.path(), encoding="utf-8-sig").read()
        assert text.startswith("Segment,Customers") and "Champions" in text
        assert page.evaluate("[wayfareCsvCell('=1+1'), wayfareCsvCell('@x'), wayfareCsvCell('-3'), wayfareCsvCell('a,b')]") \
            == ["'=1+1", "'@x", "'-3", '"a,b"']
        shot("segments")

        # 7. hover a chart for its tooltip, and download it as SVG
        page.click("nav >> text=Overview")
        page.locator("figure.chart .mark").first.hover()
        expect(page.locator("#tip")).to_be_visible()
        assert ":" in page.locator("#tip").inner_text()
        zoom = page.locator("button.zoom").first
        width = page.locator("figure.chart svg").first.bounding_box()["width"]
        zoom.click()
        expect(zoom).to_have_attribute("aria-pressed", "true")
        assert page.locator("figure.chart svg").first.bounding_box()["width"] > width * 1.5
        zoom.click()
        with page.expect_download() as dl:
            page.locator("button.dl-svg").first.click()
        svg = open(dl.value.path()).read()
        assert svg.startswith("<?xml") and "<svg" in svg and dl.value.suggested_filename.endswith(".svg")

        # 8. every page in the menu, then at phone width without sideways scrolling
        for name in ("Paths", "Retention", "Feedback", "Predictions", "Automations", "Inbox", "Settings"):
            page.click(f"nav >> text={name}")
            expect(page.locator("h1")).to_contain_text(name if name != "Paths" else "Paths")
            shot(name.lower())
        # 8b. a signed-in regular chats through the widget on the shop's site and asks for a person; the owner
        # answers from the inbox's hand-over view, and the answer appears in the customer's chat (and by email)
        shop = ctx.new_page()
        shop.on("console", lambda m: errors.append(f"shop: {m.text}") if m.type == "error" else None)
        shop.on("pageerror", lambda e: errors.append(f"shop: {e}"))
        shop.goto(shop_site["url"])
        shop.click("#wf-open")
        shop.fill("#wf-in", "do you cater for 40 people?")
        shop.press("#wf-in", "Enter")
        first = shop_site["name"].split()[0]
        expect(shop.locator(".wf-assistant").last).to_contain_text(f"Hi {first}!", timeout=60_000)
        shop.click("#wf-person")
        expect(shop.locator(".wf-assistant").last).to_contain_text("passing you to a person", timeout=30_000)
        shop.screenshot(path=str(shots / "widget-handover.png"), full_page=True)
        page.click("nav >> text=Inbox")
        page.locator(".handover h3 a").first.click()
        expect(page.locator("h1")).to_contain_text("Hand-over")
        expect(page.locator("#transcript")).to_contain_text("do you cater for 40 people?")
        expect(page.locator("section", has_text="Who this is")).to_contain_text(shop_site["name"])
        expect(page.locator("#prediction")).to_be_visible()
        expect(page.locator("table[data-export=orders] tbody tr").first).to_be_visible()
        draft = page.locator("#reply-text").input_value()
        assert draft.startswith(f"Hi {first}, ") and "cater" in draft.lower()  # from the chat's topic (catering)
        handover_url = page.url
        shot("inbox-handover")
        page.fill("#reply-text", f"Hi {first}, yes: we cater for 40 in the private room. I'll email you the menus. Sam")
        page.click("#send-reply")
        expect(page.locator(".flash.ok")).to_contain_text("Reply sent")
        expect(page.locator("#transcript li.staff")).to_contain_text("private room")
        shot("inbox-replied")
        expect(shop.locator(".wf-staff")).to_contain_text("we cater for 40 in the private room", timeout=15_000)
        shop.screenshot(path=str(shots / "widget-reply.png"), full_page=True)
        copy = mailbox.wait_for(shop_site["email"])
        assert "private room" in copy.get_body(("plain",)).get_content()
        shop.close()

        page.set_viewport_size({"width": 390, "height": 844})
        for path in ("/", "/journey", "/customers", "/funnels", "/automations", "/inbox",
                     handover_url.removeprefix(url)):
            page.goto(url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 392, path
            shot("phone" + path.replace("/", "-"))
        page.set_viewport_size({"width": 1280, "height": 860})

        # 9. sign out, then back in with the keyboard only
        page.click("text=Sign out")
        expect(page).to_have_url(url + "/login?bye=1")
        page.fill("input[name=email]", "owner@example.org")
        page.fill("input[name=password]", PW)
        page.keyboard.press("Enter")
        expect(page.locator("h1")).to_have_text("Overview")
        browser.close()
    assert errors == [], errors
    assert len(list(shots.glob("*.png"))) >= 20
