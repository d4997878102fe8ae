"""A customer who leaves an address gets the team's answer by email too, over a real SMTP server on loopback."""

from __future__ import annotations

import email

import pytest
from aiosmtpd.controller import Controller

from wayfare.assistant import ask, ingest, reply, show

from ..conftest import free_port


class Sink:
    def __init__(self):
        self.got: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.got.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch):
    sink, port = Sink(), free_port()
    c = Controller(sink, hostname="127.0.0.1", port=port)
    c.start()
    monkeypatch.setenv("WAYFARE_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("WAYFARE_MAIL_FROM", "bistro@example.test")
    yield sink
    c.stop()


def test_reply_reaches_a_customer_who_left_an_email(shop, bike_kb, smtp):
    sc = shop.scope("default")
    ingest(sc, bike_kb)
    r = ask(sc, "I need a person to talk about a wedding booking")
    ask(sc, "I have to go, my email is Carol@Example.test", conversation_id=r.conversation_id)
    reply(sc, r.conversation_id, "Hi Carol, yes we can host your wedding on 12 June.", "Sam")
    assert len(smtp.got) == 1 and smtp.got[0][0] == ["carol@example.test"]
    msg = email.message_from_bytes(smtp.got[0][1])
    assert msg["Subject"] == "Re: your question" and "12 June" in msg.get_payload(decode=True).decode()
    notes = [m["text"] for m in show(sc, r.conversation_id)["messages"] if m["role"] == "note"]
    assert notes == ["Reply also sent by email to carol@example.test."]


def test_no_address_no_email(shop, bike_kb, smtp):
    sc = shop.scope("default")
    ingest(sc, bike_kb)
    r = ask(sc, "person please")
    reply(sc, r.conversation_id, "Hello!", "Sam")
    assert smtp.got == []
