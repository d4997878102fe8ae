"""Webhooks: a JSON POST signed with HMAC-SHA256, retried with bounded exponential backoff, and never
sent to an address inside the network wayfare runs in (SSRF guard).

Signature (``X-Wayfare-Signature: t=<unix seconds>,v1=<hex>``): ``hex(HMAC-SHA256(secret, f"{t}." + body))``;
a receiver checks it with :func:`verify_signature` and rejects timestamps older than five minutes.

The guard (:func:`check_target`) resolves the host name once, refuses the target when *any* address it
resolves to is loopback, private (RFC 1918, ULA), carrier-grade NAT, link-local, multicast, reserved,
unspecified, documentation or a cloud metadata address (169.254.169.254, fd00:ec2::254) — IPv4-mapped,
NAT64 and 6to4 IPv6 forms are unwrapped first, and decimal/octal/hex spellings (``2130706433``,
``0177.0.0.1``) are what the resolver turns them into. The request then goes to the checked IP itself
(``Host`` header and TLS SNI carry the name, so certificates are still verified against it): a second DNS
answer cannot move the connection (no DNS rebinding). Redirects are never followed.

Allowing private targets:
- ``WAYFARE_WEBHOOK_ALLOW`` — an admin's allow-list of networks or hosts (``10.0.5.0/24,nas.lan``) that may
  be private; metadata addresses stay refused whatever the list says.
- ``allow_private=True`` or ``WAYFARE_WEBHOOK_ALLOW_PRIVATE=1`` — **for local testing only** (loopback
  receivers in the test suite); metadata addresses stay refused.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from .errors import Rejected, Retryable, TargetRefused

__all__ = ["deliver", "check_target", "sign", "verify_signature", "Target", "SIGNATURE_HEADER"]

SIGNATURE_HEADER = "X-Wayfare-Signature"
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
            ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("169.254.170.2")}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
MAX_ATTEMPTS, MAX_BACKOFF = 5, 60.0


@dataclass(frozen=True)
class Target:
    url: str          # as given
    host: str         # the name (or literal) in the URL
    ip: str           # the checked address the connection goes to
    port: int
    scheme: str


def _unwrap(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour:
            return ip.sixtofour
        if ip.teredo:
            return ip.teredo[1]
    return ip


def _why_blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    inner = _unwrap(ip)
    for a in {ip, inner}:
        if a in METADATA:
            return "a cloud metadata address"
    a = inner
    if a.is_loopback:
        return "loopback"
    if a.is_link_local:
        return "link-local"
    if a.is_multicast:
        return "multicast"
    if a.is_unspecified:
        return "unspecified"
    if isinstance(a, ipaddress.IPv4Address) and a in _CGNAT:
        return "carrier-grade NAT"
    if a.is_reserved:
        return "reserved"
    if a.is_private:
        return "private"
    if not a.is_global:
        return "reserved"
    return None


def _allow_list() -> list[str]:
    return [x.strip().lower() for x in os.environ.get("WAYFARE_WEBHOOK_ALLOW", "").split(",") if x.strip()]


def _allowed(host: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allow: list[str]) -> bool:
    for entry in allow:
        if entry == host.lower():
            return True
        try:
            if _unwrap(ip) in ipaddress.ip_network(entry, strict=False) or ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def check_target(url: str, allow_private: bool | None = None,
                 resolve: Callable[[str, int], list[str]] | None = None) -> Target:
    """Resolve ``url``'s host and refuse it unless every address is public (see the module doc).
    Call it when a webhook is saved and again at send time (:func:`deliver` does)."""
    u = urlsplit(url.strip())
    if u.scheme not in ("http", "https"):
        raise TargetRefused(f"webhook URL {url!r}: only http:// and https:// are allowed")
    if u.username or u.password:
        raise TargetRefused(f"webhook URL {url!r}: credentials in the URL are not allowed (use the signing secret)")
    host = u.hostname
    if not host:
        raise TargetRefused(f"webhook URL {url!r} has no host")
    try:
        port = u.port or (443 if u.scheme == "https" else 80)
    except ValueError as e:
        raise TargetRefused(f"webhook URL {url!r}: {e}") from None
    if allow_private is None:
        allow_private = os.environ.get("WAYFARE_WEBHOOK_ALLOW_PRIVATE") == "1"
    try:
        addrs = (resolve or _resolve)(host, port)
    except OSError as e:
        raise Retryable(f"webhook URL {url!r}: cannot resolve {host!r} ({e})") from None
    if not addrs:
        raise Retryable(f"webhook URL {url!r}: {host!r} resolves to no address")
    allow = _allow_list()
    ips = [ipaddress.ip_address(a.split("%")[0]) for a in addrs]
    for ip in ips:
        why = _why_blocked(ip)
        if why is None:
            continue
        if why != "a cloud metadata address" and (allow_private or _allowed(host, ip, allow)):
            continue
        raise TargetRefused(f"webhook URL {url!r}: {host!r} resolves to {ip} ({why}); webhooks may only go to "
                            "public addresses (an admin may allow a LAN target with WAYFARE_WEBHOOK_ALLOW)")
    return Target(url, host, str(ips[0]), port, u.scheme)


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(i[4][0]) for i in infos))


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, tolerance: float = 300, now: float | None = None) -> bool:
    """True when ``header`` (``t=…,v1=…``) signs ``body`` with ``secret`` and is at most ``tolerance`` s old."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, t), f"t={t},v1={parts.get('v1', '')}")


def _pinned_url(target: Target) -> str:
    u = urlsplit(target.url)
    ip = f"[{target.ip}]" if ":" in target.ip else target.ip
    return urlunsplit((u.scheme, f"{ip}:{target.port}", u.path or "/", u.query, ""))


def _backoff(attempt: int, base: float, retry_after: str | None) -> float:
    if retry_after and retry_after.isdigit():
        return min(float(retry_after), MAX_BACKOFF)
    return min(base * (2 ** attempt), MAX_BACKOFF) * (0.5 + random.random() / 2)


def deliver(url: str, payload: dict, secret: str, idempotency_key: str, *, allow_private: bool | None = None,
            timeout: float = 10.0, max_attempts: int = MAX_ATTEMPTS, backoff: float = 0.5,
            sleep: Callable[[float], None] = time.sleep,
            resolve: Callable[[str, int], list[str]] | None = None) -> int:
    """POST ``payload`` as JSON to ``url``, signed; returns the receiver's 2xx status.

    Retries 5xx, 408, 429, timeouts and refused connections up to ``max_attempts`` times (exponential backoff
    with jitter, ``Retry-After`` honoured, at most 60 s a wait) and then raises :class:`Retryable`; the flow
    engine passes ``max_attempts=1`` and schedules the retries itself (nothing sleeps in the worker); a 3xx or
    other 4xx raises :class:`Rejected` at once; a forbidden target raises :class:`TargetRefused`.
    The same ``Idempotency-Key`` header goes with every attempt, so the receiver can fold repeats.
    """
    body = orjson.dumps(payload)
    last = ""
    for attempt in range(max(1, max_attempts)):
        target = check_target(url, allow_private, resolve)  # every attempt: a new resolution is checked again
        t = int(time.time())
        host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
        if ":" in target.host and not target.host.startswith("["):
            host_header = f"[{target.host}]" + ("" if target.port in (80, 443) else f":{target.port}")
        headers = {"Content-Type": "application/json", "User-Agent": "wayfare-webhook/1",
                   "Host": host_header, "Idempotency-Key": idempotency_key, SIGNATURE_HEADER: sign(secret, body, t),
                   "X-Wayfare-Timestamp": str(t)}
        retry_after = None
        try:
            with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
                req = client.build_request("POST", _pinned_url(target), content=body, headers=headers,
                                           extensions={"sni_hostname": target.host})
                resp = client.send(req)
                status = resp.status_code
                retry_after = resp.headers.get("retry-after")
                resp.close()
        except (httpx.TimeoutException, httpx.NetworkError) as e:
            status, last = 0, f"{type(e).__name__}: {e}"
        if 200 <= status < 300:
            return status
        if 300 <= status < 400:
            raise Rejected(f"webhook {url}: the receiver answered a redirect ({status}); redirects are not followed, "
                           "point the webhook at the final URL", status=status)
        if 400 <= status < 500 and status not in (408, 429):
            raise Rejected(f"webhook {url}: the receiver refused it ({status}); not retried", status=status)
        if status:
            last = f"HTTP {status}"
        if attempt + 1 < max_attempts:
            sleep(_backoff(attempt, backoff, retry_after))
    if max_attempts <= 1:  # one attempt (the engine schedules the next one with backoff)
        raise Retryable(f"webhook {url}: {last or 'no answer'}; retry later", status=status or None)
    raise Retryable(f"webhook {url}: gave up after {max_attempts} attempts ({last})", status=status or None)
