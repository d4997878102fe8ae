"""Email: the template sandbox, MIME parts and RFC 8058 headers, and SMTP over STARTTLS / implicit TLS with
AUTH against a real aiosmtpd server using a certificate made for the test."""

import datetime as dt
import email
import gc
import ipaddress
import smtplib
import ssl
from email.headerregistry import BaseHeader

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.channels.conftest import Mailbox
from tests.conftest import free_port
from wayfare.channels.email import POLICY, SMTP_POLICY, build_message, deliver, preview, render, smtp_settings
from wayfare.errors import ValidationError

ATTACKS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ person.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ ''.format.__globals__ }}",
    "{{ person.update({'x': 1}) }}",
    "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ request.application.__globals__.__builtins__.__import__('os') }}",
]


@pytest.mark.parametrize("tpl", ATTACKS)
def test_template_injection_is_refused_by_the_sandbox(tpl):
    ctx = {"person": {"first_name": "Ana"}}
    try:
        out = render(tpl, ctx) + render(tpl, ctx, html=True)
    except ValidationError as e:
        assert "template" in str(e)
        return
    assert "class" not in out and "subprocess" not in out and "uid=" not in out and "module" not in out


def test_render_personalises_and_escapes_html_only():
    ctx = {"person": {"first_name": "<b>Ana</b>"}, "event": {"order_id": "o1"}}
    assert render("Hi {{ person.first_name }}, order {{ event.order_id }}", ctx) == "Hi <b>Ana</b>, order o1"
    assert render("<p>{{ person.first_name }}</p>", ctx, html=True) == "<p>&lt;b&gt;Ana&lt;/b&gt;</p>"
    assert render("Hi {{ person.missing }}!", ctx) == "Hi !"  # not strict: a missing trait is empty


def test_template_syntax_error_names_part_and_line():
    with pytest.raises(ValidationError, match="html:2: template syntax"):
        render("<p>ok</p>\n{% if %}", {}, html=True, where="html")


def test_preview_shows_parts_and_one_click_headers():
    p = preview("Welcome {{ person.first_name }}", "Hi {{ person.first_name }}", "<p>Hi {{ person.first_name }}</p>",
                {"person": {"first_name": "Ana", "email": "ana@example.org"}},
                unsubscribe_url="https://shop.example.com/t/u/tok")
    assert p["subject"] == "Welcome Ana" and p["text"] == "Hi Ana" and p["html"] == "<p>Hi Ana</p>"
    assert p["headers"]["To"] == "ana@example.org"
    assert p["headers"]["List-Unsubscribe"] == "<https://shop.example.com/t/u/tok>"
    assert p["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_marketing_mail_arrives_with_both_parts_and_rfc8058_headers(mailbox):
    s = smtp_settings(mailbox.url, "Shop <shop@example.org>")
    msg = build_message(s, "ana@example.org", "Hello\nthere", "plain body", "<p>html body</p>", "<m1@wayfare>",
                        "https://shop.example.com/t/u/tok")
    assert "queued as q1" in deliver(s, msg)
    got = mailbox.messages[0]
    assert got["Subject"] == "Hello there" and got["Message-ID"] == "<m1@wayfare>"
    assert got["List-Unsubscribe"] == "<https://shop.example.com/t/u/tok>"
    assert got["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert got.get_body(("plain",)).get_content().strip() == "plain body"
    assert got.get_body(("html",)).get_content().strip() == "<p>html body</p>"


def _header_classes_alive() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, type) and issubclass(o, BaseHeader))


def test_building_and_parsing_mail_makes_no_new_classes(mailbox):
    """Python's header registry makes a class per header; wayfare's policy makes each kind once, so a server
    that mails all day does not pile up types for the rare full collection (the soak's memory growth)."""
    s = smtp_settings(mailbox.url, "Shop <shop@example.org>")
    build_message(s, "warm@example.org", "Hi", "text", "<p>html</p>", "<w@wayfare>", "https://x.example/u/t")
    gc.collect()
    gc.disable()
    try:
        before = _header_classes_alive()
        for i in range(50):
            msg = build_message(s, f"p{i}@example.org", f"Order {i}", "text", "<p>html</p>", f"<m{i}@wayfare>",
                                "https://shop.example.com/t/u/tok")
            raw = msg.as_bytes(policy=SMTP_POLICY)
            back = email.message_from_bytes(raw, policy=POLICY)
            assert back["To"] == f"p{i}@example.org" and back["Subject"] == f"Order {i}"
            assert back["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        made = _header_classes_alive() - before
    finally:
        gc.enable()
    assert made == 0, f"{made} header classes made for 50 messages"
    # the shared classes still tell header kinds apart and keep each header's own name and value
    assert back["To"].addresses[0].domain == "example.org"
    assert back["Message-ID"] == "<m49@wayfare>" and back["Message-ID"].name == "Message-ID"
    assert raw.count(b"\r\n") == raw.count(b"\n")


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wayfare test smtp")])
    now = dt.datetime.now(dt.UTC)
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
         .not_valid_after(now + dt.timedelta(days=1))
         .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
         .sign(key, hashes.SHA256()))
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(c.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return d / "cert.pem", d / "key.pem"


def _auth(server, session, envelope, mechanism, data):
    ok = data.login == b"shop" and data.password == b"pa:ss w"
    return AuthResult(success=ok)


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "smtps"])
def test_tls_with_auth_delivers_and_verifies_the_certificate(cert, implicit, monkeypatch):
    crt, key = cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    box, port = Mailbox(), free_port()
    # aiosmtpd does not count implicit TLS as TLS for AUTH; the connection is encrypted from the first byte
    kw = {"ssl_context": ctx, "auth_require_tls": False} if implicit else {"tls_context": ctx, "require_starttls": True}
    c = Controller(box, hostname="127.0.0.1", port=port, authenticator=_auth, auth_required=True, **kw)
    c.start()
    try:
        scheme = "smtps" if implicit else "smtp+starttls"
        url = f"{scheme}://shop:pa%3Ass%20w@127.0.0.1:{port}"
        s = smtp_settings(url, "shop@example.org")
        assert "pa:ss" not in repr(s)
        msg = build_message(s, "bo@example.org", "Hi", "text", None, "<m2@wayfare>")
        with pytest.raises(ssl.SSLCertVerificationError):  # an unknown certificate is never accepted
            deliver(s, msg)
        monkeypatch.setenv("WAYFARE_SMTP_CA_FILE", str(crt))
        s = smtp_settings(url, "shop@example.org")
        deliver(s, msg)
        assert [m["Message-ID"] for m in box.messages] == ["<m2@wayfare>"]
        anonymous = smtp_settings(f"{scheme}://127.0.0.1:{port}", "shop@example.org")
        with pytest.raises(smtplib.SMTPSenderRefused, match="530"):  # the server wants AUTH: nothing is sent
            deliver(anonymous, msg)
    finally:
        c.stop()
    assert len(box.messages) == 1


def test_smtp_url_errors_name_the_setting():
    with pytest.raises(ValidationError, match="WAYFARE_SMTP_URL"):
        smtp_settings("http://127.0.0.1:25")
