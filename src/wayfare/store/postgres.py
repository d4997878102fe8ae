"""PostgreSQL for the operational state several processes share: the delivery queue of the flow engine.

The embedded DuckDB file has one writer process. When a business outgrows one sender, the engine puts every
message it decided to send into a queue table on PostgreSQL, and any number of ``wayfare worker --queue URL``
processes (on this machine or others) claim rows with ``FOR UPDATE SKIP LOCKED`` under a lease and deliver
them. This module is the only one that knows the SQL dialect and the connection; :mod:`wayfare.automate.outbox`
holds the delivery protocol.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import ValidationError

__all__ = ["queue_url", "connect", "ensure_schema", "erase_from_queue", "scratch_server", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS wayfare_meta (key text PRIMARY KEY, value text NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS wayfare_outbox (
        send_key     text PRIMARY KEY,          -- the idempotency key: workspace, flow, entry, person, step
        workspace_id text NOT NULL,
        flow         text NOT NULL,
        entry_id     text NOT NULL,
        person_id    text NOT NULL,
        step         integer NOT NULL,
        channel      text NOT NULL,             -- email, sms, webhook
        address      text,
        message_id   text NOT NULL,
        payload      jsonb NOT NULL,            -- what to send, rendered by the engine
        status       text NOT NULL,             -- queued, leased, final, sent, failed, uncertain, cancelled
        attempts     integer NOT NULL DEFAULT 0,
        not_before   timestamptz NOT NULL DEFAULT now(),
        lease_owner  text,
        lease_until  timestamptz,
        detail       text,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now(),
        synced       boolean NOT NULL DEFAULT false   -- the result has been copied back to the engine's store
    )""",
    """CREATE INDEX IF NOT EXISTS wayfare_outbox_due ON wayfare_outbox (not_before, created_at)
       WHERE status IN ('queued', 'leased', 'final')""",
    """CREATE INDEX IF NOT EXISTS wayfare_outbox_unsynced ON wayfare_outbox (workspace_id)
       WHERE NOT synced AND status IN ('sent', 'failed', 'uncertain', 'cancelled')""",
]


def queue_url(explicit: str | None = None) -> str | None:
    """The delivery queue's PostgreSQL URL: ``--queue`` or ``WAYFARE_QUEUE_URL``; None for the embedded default."""
    url = explicit or os.environ.get("WAYFARE_QUEUE_URL") or None
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise ValidationError("the queue must be a PostgreSQL URL (postgresql://user:pass@host:5432/db)",
                              where="WAYFARE_QUEUE_URL / --queue")
    return url


def connect(url: str, autocommit: bool = True) -> Any:
    """A psycopg connection (the ``postgres`` extra: ``pip install "wayfare[postgres]"``)."""
    try:
        import psycopg
    except ImportError:
        raise ValidationError('PostgreSQL needs the postgres extra: pip install "wayfare[postgres]"',
                              where="--queue") from None
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10, application_name="wayfare")
    except psycopg.OperationalError as e:
        safe = url.split("@")[-1]
        raise ValidationError(f"cannot reach PostgreSQL at {safe}: {str(e).strip().splitlines()[0]}",
                              where="WAYFARE_QUEUE_URL / --queue") from None


def ensure_schema(con: Any) -> None:
    """Create the queue tables once; safe when several processes start together (an advisory lock)."""
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(727271)")
        for q in _SCHEMA:
            con.execute(q)
        con.execute("INSERT INTO wayfare_meta VALUES ('schema_version', %s) ON CONFLICT (key) DO NOTHING",
                    [str(SCHEMA_VERSION)])


def erase_from_queue(url: str, workspace_id: str, person_ids: list[str]) -> int:
    """An erased person: nothing still waiting for them goes out, and the queue keeps no address or message
    (the rows stay, emptied, so a delivery result still finds its send)."""
    con = connect(url)
    try:
        ensure_schema(con)
        return con.execute(
            "UPDATE wayfare_outbox SET status = CASE WHEN status IN ('queued', 'leased') THEN 'cancelled' "
            "ELSE status END, address = NULL, payload = '{}'::jsonb, detail = 'erased', updated_at = now() "
            "WHERE workspace_id = %s AND person_id = ANY(%s)", [workspace_id, person_ids]).rowcount
    finally:
        con.close()


@contextlib.contextmanager
def scratch_server() -> Iterator[Callable[[], str]]:
    """A throwaway PostgreSQL server on 127.0.0.1 (Debian's ``postgresql`` package; no system cluster is
    touched), for tests, benchmarks and trying the queue on one machine. Yields a function that creates a
    fresh database and returns its URL; the server and its files are gone afterwards."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        raise FileNotFoundError("PostgreSQL is not installed (apt-get install -y postgresql)")
    bindir = os.path.dirname(bins[-1])
    root = Path(tempfile.mkdtemp(prefix="wayfare-pg-"))
    data, sock = root / "data", root / "sock"
    data.mkdir()
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: Debian's package made a postgres user
        for d in (root, data, sock):
            shutil.chown(d, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([*as_user, f"{bindir}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                    "--no-sync"], check=True, capture_output=True)
    opts = f"-p {port} -c listen_addresses=127.0.0.1 -k {sock} -c fsync=off -c max_connections=200"
    subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w",
                    "start"], check=True, capture_output=True)
    admin = connect(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    made = [0]

    def new_database() -> str:
        made[0] += 1
        admin.execute(f"CREATE DATABASE t{made[0]}")
        return f"postgresql://postgres@127.0.0.1:{port}/t{made[0]}"

    try:
        yield new_database
    finally:
        admin.close()
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
