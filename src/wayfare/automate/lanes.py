"""Several SMTP connections ("lanes") to the same server, so that a group of emails can each stand just
before its terminator while one commit records them all as ``final``; then the terminators go out
together and the replies are read. Per email that is one SMTP transaction and a share of one commit."""

from __future__ import annotations

import contextlib
from email.message import EmailMessage

from ..channels.email import SmtpClient, SmtpSettings

__all__ = ["Lanes", "LANES"]


#: connections per pass, i.e. emails per commit (beyond ~16 the DuckDB commit is no longer the bottleneck,
#: while a kill -9 in the tiny window between a group's commit and its terminators could lose more)
LANES = 16


class Lanes:
    def __init__(self, settings: SmtpSettings | None, n: int | None = None):
        self.settings = settings
        self.n = n or LANES
        self.clients: list[SmtpClient | None] = [None] * self.n

    def client(self, i: int) -> SmtpClient:
        if self.settings is None:
            raise RuntimeError("no SMTP server configured (set WAYFARE_SMTP_URL)")
        c = self.clients[i]
        if c is None:
            c = self.clients[i] = SmtpClient(self.settings)
        return c

    def start(self, i: int, msg: EmailMessage) -> None:
        """Lane ``i`` stands before the terminator of ``msg``; on any error the lane is dropped."""
        try:
            self.client(i).start(msg)
        except Exception:
            self.drop(i)
            raise

    def drop(self, i: int) -> None:
        """No terminator, no QUIT: an unfinished DATA is discarded by the server."""
        c, self.clients[i] = self.clients[i], None
        if c is not None:
            c.abandon()

    def close(self) -> None:
        for i, c in enumerate(self.clients):
            if c is not None:
                with contextlib.suppress(Exception):
                    c.close()
                self.clients[i] = None
