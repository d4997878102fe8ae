"""Email over SMTP: settings from ``WAYFARE_SMTP_URL``, sandboxed Jinja2 rendering, and a delivery that
lets the caller commit "the terminator is about to go on the wire" before the final ``.``.

Templates render in :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` (HTML parts autoescaped): names
starting with ``_`` (``''.__class__.__mro__`` and kin) are not reachable, mutating methods and unsafe
calls are refused, and such a refusal or a syntax error comes back as a ``ValidationError`` naming the
template part and line. ``WAYFARE_SMTP_CA_FILE`` names a CA bundle for a server whose certificate a
private CA signed (TLS is always verified).

The ambiguous window of SMTP (the server has accepted but we have not recorded it) starts when the
final ``CRLF.CRLF`` is sent and ends when the caller records the 250. Everything before the terminator
is safe to repeat: a server discards a message whose DATA never ended.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.policy import default as _default_policy
from urllib.parse import unquote, urlsplit

from jinja2 import Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from ..errors import ValidationError

__all__ = ["SmtpSettings", "smtp_settings", "render", "build_message", "deliver", "SmtpClient", "preview", "POLICY",
           "SMTP_POLICY"]


class _SharedHeaderClasses(HeaderRegistry):
    """The standard library's header registry, making each header class once. Python's own
    (``HeaderRegistry.__getitem__``) builds a new class for every header it sets or parses: ~1.7 KB of type
    object, dict keys and subclass entry per header, cyclic garbage that only a full collection frees. The
    server collects its older generations rarely (``wayfare.web.collector``): memray found 9,525 such classes
    (15.7 MB) made in the last 4.6 minutes of a soak and still live at its end (47 per order confirmation). The class
    depends only on the header kind (the registry's ~20 classes), never on the name or the value."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[type, type] = {}

    def __getitem__(self, name: str) -> type:
        kind = self.registry.get(name.lower(), self.default_class)
        made = self._made.get(kind)
        if made is None:
            made = self._made[kind] = super().__getitem__(name)
        return made


#: ``email.policy.default`` and ``email.policy.SMTP`` with the shared header classes: every message wayfare
#: builds or parses uses these
POLICY = _default_policy.clone(header_factory=_SharedHeaderClasses())
SMTP_POLICY = POLICY.clone(linesep="\r\n")

_env = ImmutableSandboxedEnvironment(autoescape=False)
_html_env = ImmutableSandboxedEnvironment(autoescape=True)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    mode: str = "plain"  # plain, tls, starttls
    user: str | None = None
    password: str | None = None
    sender: str = "wayfare@localhost"
    ca_file: str | None = None

    def __repr__(self) -> str:  # never print the password
        return f"SmtpSettings({self.host!r}, {self.port}, {self.mode!r}, user={self.user!r}, sender={self.sender!r})"

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def smtp_settings(url: str | None = None, sender: str | None = None) -> SmtpSettings | None:
    """``smtp://user:pass@host:port``, ``smtps://`` (TLS) or ``smtp+starttls://``; None when not configured."""
    url = url if url is not None else os.environ.get("WAYFARE_SMTP_URL")
    if not url:
        return None
    u = urlsplit(url)
    modes = {"smtp": "plain", "smtps": "tls", "smtp+starttls": "starttls"}
    if u.scheme not in modes or not u.hostname:
        raise ValidationError("WAYFARE_SMTP_URL looks like smtp://user:pass@host:port (or smtps://, smtp+starttls://)",
                              where="WAYFARE_SMTP_URL")
    port = u.port or {"plain": 25, "tls": 465, "starttls": 587}[modes[u.scheme]]
    return SmtpSettings(u.hostname, port, modes[u.scheme], unquote(u.username) if u.username else None,
                        unquote(u.password) if u.password else None,
                        sender or os.environ.get("WAYFARE_MAIL_FROM") or "wayfare@localhost",
                        os.environ.get("WAYFARE_SMTP_CA_FILE") or None)


@functools.lru_cache(maxsize=512)
def _compiled(template: str, html: bool) -> Template:
    return (_html_env if html else _env).from_string(template)


def render(template: str, context: dict, html: bool = False, where: str = "template") -> str:
    """Render ``template`` in the sandbox; bad templates raise ``ValidationError`` at ``where``:line.
    Compiled templates are cached (a flow renders the same few templates for every recipient)."""
    try:
        return _compiled(template, html).render(**context)
    except TemplateSyntaxError as e:
        raise ValidationError(f"template syntax: {e.message}", where=f"{where}:{e.lineno}") from None
    except SecurityError as e:
        raise ValidationError(f"refused by the template sandbox: {e}", where=where) from None
    except TemplateError as e:
        raise ValidationError(f"template error: {e}", where=where) from None


def preview(subject: str, text: str, html: str | None, context: dict, *, settings: SmtpSettings | None = None,
            to: str | None = None, unsubscribe_url: str | None = None) -> dict:
    """What one person would receive: rendered subject, text and HTML parts and the headers."""
    settings = settings or SmtpSettings("localhost", 25)
    to = to or str((context.get("person") or {}).get("email") or "recipient@example.org")
    s, t = render(subject, context, where="subject"), render(text, context, where="text")
    h = render(html, context, html=True, where="html") if html else None
    msg = build_message(settings, to, s, t, h, "<preview@wayfare>", unsubscribe_url)
    return {"subject": str(msg["Subject"]), "text": t, "html": h,
            "headers": {k: str(v) for k, v in msg.items() if k not in ("Content-Type", "MIME-Version",
                                                                       "Content-Transfer-Encoding")}}


def build_message(settings: SmtpSettings, to: str, subject: str, text: str, html: str | None, message_id: str,
                  unsubscribe_url: str | None = None) -> EmailMessage:
    m = EmailMessage(policy=POLICY)
    m["From"] = settings.sender
    m["To"] = to
    m["Subject"] = subject.replace("\n", " ").strip()
    m["Message-ID"] = message_id
    if unsubscribe_url:  # RFC 8058 one-click
        m["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        m["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    m.set_content(text)
    if html:
        m.add_alternative(html, subtype="html")
    return m


class SmtpClient:
    """One SMTP connection reused for many messages."""

    def __init__(self, settings: SmtpSettings, timeout: float = 30):
        self.settings = settings
        if settings.mode == "tls":
            self.smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout,
                                                       context=settings.tls_context())
        else:
            self.smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
            if settings.mode == "starttls":
                self.smtp.ehlo()
                self.smtp.starttls(context=settings.tls_context())
                self.smtp.ehlo()
        # one message is several small writes (DATA, body, terminator): without TCP_NODELAY each waits for the
        # peer's delayed ACK (~40 ms), which capped a connection at a few dozen messages a second
        with contextlib.suppress(OSError, AttributeError):
            self.smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if settings.user:
            self.smtp.login(settings.user, settings.password or "")

    def close(self) -> None:
        try:
            self.smtp.quit()
        except Exception:
            self.smtp.close()

    def send(self, msg: EmailMessage, before_terminator: Callable[[], None] | None = None) -> str:
        """Send ``msg``; call ``before_terminator`` just before the final ``.``. Returns the server's reply."""
        self.start(msg)
        if before_terminator is not None:
            before_terminator()
        self.terminate()
        return self.result()

    def start(self, msg: EmailMessage) -> None:
        """Everything up to the terminator (safe to abandon: the server discards an unfinished DATA).
        Several clients may each hold a started message, so that one commit covers all their terminators."""
        s = self.smtp
        rcpt = str(msg["To"])
        s.ehlo_or_helo_if_needed()
        code, resp = s.mail(self.settings.sender)
        if code != 250:
            s.rset()
            raise smtplib.SMTPSenderRefused(code, resp, self.settings.sender)
        code, resp = s.rcpt(rcpt)
        if code not in (250, 251):
            s.rset()
            raise smtplib.SMTPRecipientsRefused({rcpt: (code, resp)})
        s.putcmd("data")
        code, resp = s.getreply()
        if code != 354:
            s.rset()
            raise smtplib.SMTPDataError(code, resp)
        data = msg.as_bytes(policy=SMTP_POLICY)
        data = re.sub(rb"(?m)^\.", b"..", data)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        s.send(data)

    def terminate(self) -> None:
        """The final ``.``: from here the server may have accepted the message."""
        self.smtp.send(b".\r\n")

    def result(self) -> str:
        code, resp = self.smtp.getreply()
        if code != 250:
            raise smtplib.SMTPDataError(code, resp)
        return resp.decode(errors="replace")

    def abandon(self) -> None:
        """Drop the connection without a terminator or QUIT (the server discards an unfinished message)."""
        with contextlib.suppress(Exception):
            self.smtp.close()


def deliver(settings: SmtpSettings, msg: EmailMessage) -> str:
    c = SmtpClient(settings)
    try:
        return c.send(msg)
    finally:
        c.close()
