"""Returned mail in the formats servers really send: a Postfix-style DSN (RFC 3464), an ARF complaint
(RFC 5965) and an out-of-office auto-reply; through the CLI and the admin endpoint."""

import json
import subprocess
import sys

import httpx

from tests.channels.conftest import LiveApp, add_person, events_of
from wayfare.channels.bounces import process_bytes
from wayfare.channels.records import note_message
from wayfare.privacy import is_suppressed
from wayfare.store import Store, create_key

DSN = b"""Return-Path: <>
From: MAILER-DAEMON@mx.shop.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: shop@example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.shop.example
Arrival-Date: Mon, 30 Nov 2026 10:00:00 +0000

Final-Recipient: rfc822; Gone@Example.org
Original-Recipient: rfc822;gone@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown

Final-Recipient: rfc822; full@example.org
Action: delayed
Status: 4.2.2
Diagnostic-Code: smtp; 452 4.2.2 Mailbox full

--B1
Content-Type: text/rfc822-headers

From: shop@example.org
To: gone@example.org
Subject: Welcome
Message-ID: <abc123@wayfare>

--B1--
"""

ARF = b"""From: feedback@mailbox.example
To: abuse@shop.example
Subject: FW: Offers
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B2"

--B2
Content-Type: text/plain

This is an email abuse report.

--B2
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <shop@example.org>
Original-Rcpt-To: <angry@example.org>

--B2
Content-Type: message/rfc822

From: shop@example.org
To: angry@example.org
Subject: Offers
Message-ID: <def456@wayfare>

Buy now.
--B2--
"""

OOO = b"""From: away@example.org
To: shop@example.org
Subject: Automatic reply: Welcome
Auto-Submitted: auto-replied

I am out of the office until Monday.
"""


def test_hard_bounce_and_complaint_suppress_soft_bounce_and_auto_reply_do_not(store):
    sc = store.scope()
    gone = add_person(sc, "gone", email="gone@example.org")
    note_message(sc, "email", "<abc123@wayfare>", "sent", send_id="welcome:e1:g:0", person_id=gone, flow="welcome",
                 step=0)
    assert process_bytes(sc, DSN) == {"hard_bounce": 1, "soft_bounce": 1, "complaint": 0, "auto_reply": 0,
                                      "unknown": 0, "suppressed": 1}
    assert is_suppressed(sc, "email", "GONE@example.org") == "bounce"
    assert is_suppressed(sc, "email", "full@example.org") is None
    assert events_of(sc, gone, "Email Bounced") == [{"flow": "welcome", "step": 0, "status": "5.1.1"}]
    assert sc.one("SELECT status FROM channel_messages WHERE provider_id = '<abc123@wayfare>'")[0] == "bounced"
    assert process_bytes(sc, ARF)["complaint"] == 1
    assert is_suppressed(sc, "email", "angry@example.org") == "complaint"
    assert process_bytes(sc, OOO) == {"hard_bounce": 0, "soft_bounce": 0, "complaint": 0, "auto_reply": 1,
                                      "unknown": 0, "suppressed": 0}
    assert is_suppressed(sc, "email", "away@example.org") is None
    # no address is kept in the event log of channels: only its salted hash
    details = " ".join(r[0] for r in sc.rows("SELECT detail FROM channel_events"))
    assert "gone@example.org" not in details and "angry@example.org" not in details


def test_cli_reads_an_mbox_and_a_folder(tmp_path):
    db = tmp_path / "w.db"
    Store(db).close()
    mbox = tmp_path / "bounces.mbox"
    mbox.write_bytes(b"From MAILER-DAEMON Mon Nov 30 10:00:00 2026\n" + DSN + b"\nFrom x Mon Nov 30 10:00:00 2026\n"
                     + OOO + b"\n")
    p = subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", "channels", "bounces", str(mbox), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) | {} == {"messages": 2, "hard_bounce": 1, "soft_bounce": 1, "complaint": 0,
                                         "auto_reply": 1, "unknown": 0, "suppressed": 1}
    d = tmp_path / "eml"
    d.mkdir()
    (d / "1.eml").write_bytes(ARF)
    p = subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", "channels", "bounces", str(d), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert json.loads(p.stdout)["complaint"] == 1
    p = subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", "channels", "bounces", str(tmp_path / "nope")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "nope: no such file" in " ".join(p.stderr.split())


def test_bounce_endpoint_needs_an_admin_key(store):
    admin = create_key(store, "default", "admin")["key"]
    ingest = create_key(store, "default", "ingest")["key"]
    with LiveApp(store) as app:
        url = f"{app.url}/v1/channels/bounces"
        assert httpx.post(url, content=DSN).status_code == 401
        assert httpx.post(url, content=DSN, headers={"Authorization": f"Bearer {ingest}"}).status_code == 401
        r = httpx.post(url, content=DSN, headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 200 and r.json()["suppressed"] == 1
        assert httpx.post(url, content=b"  ", headers={"Authorization": f"Bearer {admin}"}).status_code == 400
    assert is_suppressed(store.scope(), "email", "gone@example.org") == "bounce"
