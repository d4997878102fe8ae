"""Bounces and complaints into the suppression list, from the mail the sending address gets back.

What is read (real formats, as mail servers and mailbox providers send them):
- **DSN** (RFC 3464, ``multipart/report; report-type=delivery-status``): per recipient ``Action: failed``
  with a ``5.x.x`` ``Status`` is a *hard bounce* → suppressed on every channel's email (reason ``bounce``);
  ``4.x.x`` / ``delayed`` is a soft bounce → recorded only.
- **ARF** (RFC 5965, ``multipart/report; report-type=feedback-report``, what feedback loops send on
  "this is spam") → *complaint* → suppressed (reason ``complaint``).
- An **auto-reply** (``Auto-Submitted: auto-replied``, RFC 3834, or an out-of-office without a report) is
  recorded as ``auto_reply`` and suppresses nothing.

Feed them with ``wayfare channels bounces FILE`` (an mbox, one .eml, or a folder of .eml files: e.g. the
bounce mailbox fetched by fetchmail) or ``POST /v1/channels/bounces`` (admin key; body: one raw message,
e.g. piped from the MTA by ``curl --data-binary @-``). The original Message-ID in the returned headers ties a
bounce to the send, so the person gets an ``Email Bounced`` / ``Email Complained`` event.
"""

from __future__ import annotations

import email
import mailbox
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from ..store import Scope
from .email import POLICY
from .records import message_of, note_channel_event, note_message, record_event

_EMAIL = re.compile(r"[^\s<>;:\"']+@[^\s<>;:\"']+")
__all__ = ["Report", "parse_report", "apply_reports", "process_path", "process_bytes"]


@dataclass(frozen=True)
class Report:
    kind: str                  # hard_bounce, soft_bounce, complaint, auto_reply, unknown
    address: str | None        # the recipient it is about
    status: str | None = None  # the DSN status (5.1.1) or feedback type (abuse)
    diagnostic: str | None = None
    message_id: str | None = None  # the original message's Message-ID


def _fields(part: Any) -> list[dict[str, str]]:
    """The header groups of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package parses delivery-status into header blocks
        return [{k.lower(): str(v) for k, v in blk.items()} for blk in payload]
    text = payload if isinstance(payload, str) else (part.get_content() if hasattr(part, "get_content") else "")
    groups = []
    for blk in re.split(r"\r?\n\s*\r?\n", str(text)):
        d = {}
        for line in re.sub(r"\r?\n[ \t]+", " ", blk).splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                d[k.strip().lower()] = v.strip()
        if d:
            groups.append(d)
    return groups


def _addr(v: str | None) -> str | None:
    if not v:
        return None
    v = v.split(";", 1)[-1].strip().strip("<>")
    return v or None


def _original_id(msg: EmailMessage) -> str | None:
    for part in msg.walk():
        ct = part.get_content_type()
        if ct in ("text/rfc822-headers", "message/rfc822", "message/rfc822-headers"):
            p = part.get_payload()
            inner = p[0] if isinstance(p, list) and p else None
            if inner is not None and inner.get("Message-ID"):
                return str(inner["Message-ID"]).strip()
            m = re.search(r"(?im)^message-id:\s*(<[^>]+>)", str(p if isinstance(p, str) else part.as_string()))
            if m:
                return m.group(1)
    return None


def parse_report(msg: EmailMessage) -> list[Report]:
    """The reports one returned message carries (one per recipient for a DSN)."""
    ctype = msg.get_content_type()
    rtype = (msg.get_param("report-type") or "").lower() if ctype == "multipart/report" else ""
    mid = _original_id(msg)
    if rtype == "delivery-status":
        out = []
        for part in msg.walk():
            if part.get_content_type() != "message/delivery-status":
                continue
            for g in _fields(part)[1:] or _fields(part):
                rcpt = _addr(g.get("final-recipient") or g.get("original-recipient"))
                if not rcpt:
                    continue
                action, status = g.get("action", "").lower(), g.get("status", "")
                hard = action == "failed" and status.startswith("5")
                out.append(Report("hard_bounce" if hard else "soft_bounce", rcpt.lower(), status or None,
                                  g.get("diagnostic-code"), mid))
        return out
    if rtype == "feedback-report":
        for part in msg.walk():
            if part.get_content_type() == "message/feedback-report":
                g: dict[str, str] = {}
                for blk in _fields(part):
                    g.update(blk)
                rcpt = _addr(g.get("original-rcpt-to"))
                if not rcpt:
                    for p in msg.walk():
                        if p.get_content_type() == "message/rfc822" and isinstance(p.get_payload(), list):
                            rcpt = _addr(str(p.get_payload()[0].get("To") or "")) or None
                return [Report("complaint", rcpt.lower() if rcpt else None, g.get("feedback-type", "abuse"), None, mid)]
    auto = str(msg.get("Auto-Submitted", "")).lower()
    subject = str(msg.get("Subject", "")).lower()
    if (auto and auto != "no") or msg.get("X-Autoreply") or "out of office" in subject or "automatic reply" in subject:
        return [Report("auto_reply", _addr(str(msg.get("From") or "")), None, None, mid)]
    return [Report("unknown", None, None, None, mid)]


def apply_reports(scope: Scope, reports: list[Report]) -> dict[str, int]:
    """Hard bounces and complaints go on the suppression list; every report is recorded."""
    from ..privacy import address_hash, suppress

    counts = {"hard_bounce": 0, "soft_bounce": 0, "complaint": 0, "auto_reply": 0, "unknown": 0, "suppressed": 0}
    for r in reports:
        counts[r.kind] = counts.get(r.kind, 0) + 1
        diag = _EMAIL.sub("<recipient>", r.diagnostic or "")[:300] or None  # keep no address, only its hash
        detail = {"status": r.status, "diagnostic": diag, "message_id": r.message_id,
                  "address_hash": address_hash(scope, "email", r.address) if r.address else None}
        note_channel_event(scope, "email", r.kind, r.message_id, detail)
        if r.kind in ("hard_bounce", "complaint") and r.address:
            suppress(scope, "email", r.address, "bounce" if r.kind == "hard_bounce" else "complaint")
            counts["suppressed"] += 1
            sent = message_of(scope, "email", r.message_id) if r.message_id else None
            if sent:
                note_message(scope, "email", r.message_id, "bounced" if r.kind == "hard_bounce" else "complained",
                             detail=r.status)
                ev = "Email Bounced" if r.kind == "hard_bounce" else "Email Complained"
                props = {k: sent[k] for k in ("flow", "step", "variant") if sent[k] is not None}
                record_event(scope, sent["person_id"], ev, {**props, "status": r.status},
                             f"{r.kind}-{r.message_id}")
    return counts


def process_bytes(scope: Scope, raw: bytes) -> dict[str, int]:
    if not raw.strip():
        raise ValidationError("the message is empty", where="body")
    msg = email.message_from_bytes(raw, policy=POLICY)
    return apply_reports(scope, parse_report(msg))  # type: ignore[arg-type]


def process_path(scope: Scope, path: str | Path) -> dict[str, int]:
    """An mbox file, one .eml file, or a folder of .eml files."""
    p = Path(path)
    if not p.exists():
        raise ValidationError("no such file or folder", where=str(p))
    raws: list[bytes] = []
    if p.is_dir():
        raws = [f.read_bytes() for f in sorted(p.iterdir()) if f.is_file() and f.suffix.lower() in (".eml", ".msg")]
    elif p.read_bytes()[:5] == b"From ":
        raws = [m.as_bytes() for m in mailbox.mbox(str(p), create=False)]
    else:
        raws = [p.read_bytes()]
    total: dict[str, int] = {"messages": 0}
    for raw in raws:
        for k, v in process_bytes(scope, raw).items():
            total[k] = total.get(k, 0) + v
        total["messages"] += 1
    return total
