"""Double opt-in end to end: the confirmation goes out over SMTP (aiosmtpd), the link in it is followed on a
real server, and consent exists only after the person presses confirm."""

import re
import subprocess
import sys

import httpx

from tests.channels.conftest import LiveApp, add_person, events_of
from wayfare.channels.email import smtp_settings
from wayfare.channels.optin import request_optin
from wayfare.privacy import consent_status
from wayfare.store import Store


def test_consent_is_recorded_only_after_the_click(store, mailbox, monkeypatch):
    sc = store.scope()
    # an imported trait says subscribed; the pending double opt-in still outranks it until the click
    pid = add_person(sc, "ana", email="ana@example.org", email_marketing="subscribed")
    wording = "Send me monthly offers from Olive & Ember by email"
    with LiveApp(store) as app:
        monkeypatch.setenv("WAYFARE_PUBLIC_URL", app.url)
        request_optin(sc, pid, "ana@example.org", wording, "web form", smtp_settings(mailbox.url, "shop@example.org"),
                      business="Olive & Ember")
        assert len(mailbox.messages) == 1 and mailbox.envelopes[0].rcpt_tos == ["ana@example.org"]
        msg = mailbox.messages[0]
        text = msg.get_body(("plain",)).get_content()
        link = re.search(re.escape(app.url) + r"/t/optin/\S+", text).group(0)
        assert link in msg.get_body(("html",)).get_content().replace("&amp;", "&")
        assert consent_status(sc, pid, "email") == "pending"  # not consent: no marketing mail
        assert sc.one("SELECT count(*) FROM consents WHERE status = 'granted'")[0] == 0
        page = httpx.get(link)  # a mail scanner or the person opening the link
        assert page.status_code == 200 and "Yes, subscribe me" in page.text and "Olive &amp; Ember" in page.text
        assert consent_status(sc, pid, "email") == "pending"
        assert httpx.post(link).status_code == 200
        assert httpx.post(link).status_code == 200  # twice: one consent, one event
        assert httpx.post(link[:-3] + "AAA").status_code == 404
    rows = sc.rows("SELECT channel, purpose, status, source, wording, recorded_at FROM consents WHERE person_id = $p "
                   "AND status = 'granted'", {"p": pid})
    assert len(rows) == 1
    assert rows[0][:5] == ("email", "marketing", "granted", "double opt-in (web form)", wording)
    assert consent_status(sc, pid, "email") == "granted"
    assert events_of(sc, pid, "Opt-in Confirmed") == [{"channel": "email", "source": "web form"}]
    confirmed, requested = sc.one("SELECT confirmed_at, requested_at FROM optins")
    assert confirmed >= requested and rows[0][5] >= requested


def test_optin_cli_mails_the_link(tmp_path, mailbox):
    db = tmp_path / "w.db"
    with Store(db) as s:
        add_person(s.scope(), "bo", email="bo@example.org")
    env = {"WAYFARE_SMTP_URL": mailbox.url, "WAYFARE_MAIL_FROM": "shop@example.org",
           "WAYFARE_PUBLIC_URL": "https://shop.example.com"}
    import json
    import os

    p = subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", "channels", "optin", "BO@example.org",
                        "--wording", "Monthly offers", "--json"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, **env})
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["status"] == "pending"
    assert "https://shop.example.com/t/optin/" in mailbox.messages[0].get_body(("plain",)).get_content()
    p = subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", "channels", "optin", "nobody@example.org",
                        "--wording", "x"], capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    assert p.returncode != 0 and "no person with email" in p.stderr
