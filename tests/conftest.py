"""Shared fixtures: a real DuckDB store in a temp dir, and a real `wayfare serve` on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wayfare.store import Store, create_key

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not SHARED_DATA.exists():  # CI checkouts sit beside shared/ too; fall back to an env override
    SHARED_DATA = Path(os.environ.get("WAYFARE_SHARED_DATA", "/work/shared/data"))


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "wayfare.db")
    yield s
    s.close()


@pytest.fixture
def scope(store):
    return store.scope("default")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """`wayfare serve` in a subprocess on 127.0.0.1, as users run it."""

    def __init__(self, db: Path, env: dict | None = None):
        self.db, self.port = db, free_port()
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log = db.parent / f"serve-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wayfare", f"--db={self.db}", "serve", "--port", str(self.port)],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
        )
        t0 = time.time()
        while time.time() - t0 < 60:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"wayfare serve exited: {self.log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        raise RuntimeError(f"wayfare serve did not listen: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def server_factory(tmp_path):
    made: list[Server] = []

    def make(db: Path | None = None, env: dict | None = None) -> Server:
        srv = Server(db or tmp_path / "serve.db", env)
        made.append(srv)
        return srv

    yield make
    for s in made:
        s.stop()


@pytest.fixture
def ingest_key(tmp_path):
    """(db path, ingest key) for a fresh store, with the store closed again so a server can open it."""
    db = tmp_path / "serve.db"
    with Store(db) as s:
        key = create_key(s, "default", "ingest")["key"]
    return db, key


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server of our own on 127.0.0.1 (Debian's package: ``apt-get install -y postgresql``;
    .ci/run installs it). Yields a function that makes a fresh database and returns its URL."""
    from wayfare.store.postgres import scratch_server
    try:
        server = scratch_server()
        new_database = server.__enter__()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    try:
        yield new_database
    finally:
        server.__exit__(None, None, None)
