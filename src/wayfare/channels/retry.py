"""Sends that heal themselves: which failures are worth another try, and when (issue 9).

:func:`classify` sorts an error from any channel into ``transient`` (try again later) or ``permanent``
(do not; it goes to the dead-letter list at once):

=========  =========================================================  ==========================================
channel    transient                                                  permanent
=========  =========================================================  ==========================================
email      SMTP 4xx, refused connection, timeout, dropped connection,  SMTP 5xx (recipient, sender or message
           a login the server refused (a setting to fix, not the      refused)
           recipient's fault)
SMS        provider 429 / 5xx, timeout, unreachable (``Retryable``)   provider 4xx (``Rejected``), a number that
                                                                      is not a phone number
webhook    408 / 429 / 5xx, connection errors, DNS failures           other 4xx, a redirect, a target refused by
                                                                      the private-address check
=========  =========================================================  ==========================================

:class:`RetryPolicy` is a value that returns a decision: after the ``n``-th failed attempt the send waits
``base · 2^(n-1)`` (1 min, 2, 4, … capped at 1 h) stretched by up to a quarter at random (jitter, so a
whole list that failed together does not come back in one burst; wake times on a 10 s grid, so it comes back
in a few engine passes rather than one pass per send), until ``max_attempts`` attempts or
``max_age`` since the first failure; then it gives up with ``gave up after N attempts: <last error>``.
The worker makes the *entry* sleep until then (``flow_entries.wake_at``): nothing sleeps in the worker.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import smtplib
from dataclasses import dataclass
from typing import Literal

from ..errors import ValidationError
from .errors import Rejected, Retryable, TargetRefused

__all__ = ["classify", "RetryPolicy", "RetryDecision", "RETRY", "describe"]

Kind = Literal["transient", "permanent"]


def _smtp_code(err: Exception) -> int | None:
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in err.recipients.values()]
        return max(codes) if codes and all(500 <= c < 600 for c in codes) else min(codes, default=None)
    if isinstance(err, smtplib.SMTPAuthenticationError):
        return None  # the account, not the message: a setting to fix, then it goes out
    if isinstance(err, smtplib.SMTPResponseException):
        return int(err.smtp_code)
    return None


def classify(err: BaseException) -> Kind:
    """``transient`` when trying again later may work, ``permanent`` when it will not (see the table above)."""
    if isinstance(err, (TargetRefused, Rejected, ValidationError)):
        return "permanent"
    if isinstance(err, Retryable):
        return "transient"
    if isinstance(err, smtplib.SMTPException) and isinstance(err, Exception):
        code = _smtp_code(err)
        return "permanent" if code is not None and 500 <= code < 600 else "transient"
    return "transient"  # refused connections, timeouts, resets: the other side is down or slow


def describe(err: BaseException) -> str:
    """One line for the send log and the dead-letter list."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        parts = [f"{c} {m.decode(errors='replace') if isinstance(m, bytes) else m}"
                 for c, m in err.recipients.values()]
        return "recipient refused: " + "; ".join(parts)
    if isinstance(err, smtplib.SMTPResponseException):
        msg = err.smtp_error.decode(errors="replace") if isinstance(err.smtp_error, bytes) else str(err.smtp_error)
        return f"SMTP {err.smtp_code} {msg}"
    text = str(err) or type(err).__name__
    return text if isinstance(err, (Retryable, Rejected, TargetRefused)) else f"{type(err).__name__}: {text}"


@dataclass(frozen=True)
class RetryDecision:
    verdict: Literal["retry", "give_up", "fail"]
    reason: str
    wake_at: dt.datetime | None = None


@dataclass(frozen=True)
class RetryPolicy:
    base: dt.timedelta = dt.timedelta(minutes=1)
    cap: dt.timedelta = dt.timedelta(hours=1)
    max_attempts: int = 10
    max_age: dt.timedelta = dt.timedelta(hours=24)
    jitter: float = 0.25
    granularity: dt.timedelta = dt.timedelta(seconds=10)  # wake times are rounded up to this grid

    def delay(self, attempts: int, rnd: float | None = None) -> dt.timedelta:
        """The wait after the ``attempts``-th failure (1-based), jitter included."""
        raw = self.base * (2 ** max(0, attempts - 1))
        stretch = 1 + self.jitter * (random.random() if rnd is None else rnd)
        return min(self.cap, raw * stretch)

    def decide(self, err: BaseException, attempts: int, first_failed_at: dt.datetime | None, now: dt.datetime,
               rnd: float | None = None) -> RetryDecision:
        """What to do after ``attempts`` tries (this failure included) that started failing at
        ``first_failed_at`` (None: this is the first failure)."""
        why = describe(err)
        if classify(err) == "permanent":
            return RetryDecision("fail", why)
        first = first_failed_at or now
        if attempts >= self.max_attempts or now - first >= self.max_age:
            return RetryDecision("give_up", f"gave up after {attempts} attempts: {why}")
        wake = now + self.delay(attempts, rnd)
        step = self.granularity.total_seconds()
        if step > 0:  # on a grid: sends that failed together come back in a few passes, not one pass each
            secs = (wake - dt.datetime.min).total_seconds()
            wake = dt.datetime.min + dt.timedelta(seconds=math.ceil(secs / step) * step)
        return RetryDecision("retry", why, wake)


#: the policy every channel uses (1 min … 1 h, 10 attempts or 24 h: about 4 h of backoff before giving up)
RETRY = RetryPolicy()
