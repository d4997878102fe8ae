"""Every runnable example in the docs runs, page by page, in a fresh folder (each page makes its own demo store).

Shell blocks run in bash with ``wayfare`` on the PATH (see ``cli_host``); Python blocks run in one namespace per
page, in the same folder. A page that talks to ``WAYFARE_URL`` gets a real ``wayfare serve`` on loopback and an
ingest key in ``WAYFARE_KEY``.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys

import pytest

from wayfare.store import Store, create_key

from ..conftest import SHARED_DATA, Server
from .cli_host import CliHost
from .collect import DOCS, blocks, pages, shell_script

PAGES = pages()


def _close_all(ns: dict) -> None:
    """Release the store file before a shell block (DuckDB allows one writer process)."""
    from wayfare.api import Workbench

    for v in list(ns.values()):
        if isinstance(v, Workbench | Store):
            v.close()
    gc.collect()


def test_the_docs_have_runnable_examples():
    names = {p.relative_to(DOCS).as_posix() for p in PAGES}
    assert {"tutorials/restaurant.md", "tutorials/web-shop.md", "tutorials/salon.md", "how-to/python.md"} <= names
    assert sum(b.runnable for p in PAGES for b in blocks(p)) >= 40


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES])
def test_doc_examples_run(page, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for k in [k for k in os.environ if k.startswith("WAYFARE_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("WAYFARE_SHARED_DATA", str(SHARED_DATA))
    text = page.read_text(encoding="utf-8")
    server = None
    if "WAYFARE_URL" in text:
        db = tmp_path / "serve.db"
        with Store(db) as s:
            key = create_key(s, "default", "ingest")["key"]
        server = Server(db).start()
        monkeypatch.setenv("WAYFARE_URL", server.url)
        monkeypatch.setenv("WAYFARE_KEY", key)
    ns: dict = {"__name__": "__docs__"}
    try:
        with CliHost(tmp_path) as host:
            env = {**os.environ, **host.env()}
            for b in blocks(page):
                if not b.runnable:
                    continue
                if b.requires == "spark" and not shutil.which("java"):
                    pytest.skip("needs a Java runtime for Spark")
                if b.lang == "python":
                    try:
                        exec(compile(b.code, b.where, "exec"), ns)  # noqa: S102 - the docs' own examples
                    except Exception as e:
                        raise AssertionError(f"{b.where}: the example raised {e!r}") from e
                else:
                    _close_all(ns)
                    p = subprocess.run(["bash", "-c", shell_script(b.code)], cwd=work, env=env, capture_output=True,
                                       text=True, timeout=300)
                    assert p.returncode == 0, f"{b.where} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    finally:
        _close_all(ns)
        for sdk in ("segment.analytics", "rudderstack.analytics"):  # their module-wide clients point at this server
            if sdk in sys.modules:
                sys.modules[sdk].default_client = None
        if server is not None:
            server.stop()
    if server is not None:  # what the SDK examples sent arrived, once each
        with Store(tmp_path / "serve.db") as s:
            got = dict(s.scope().rows("SELECT event, count(*) FROM events WHERE type = 'track' GROUP BY 1"))
        assert got == {"Table Booked": 1, "Order Completed": 1, "Menu Viewed": 1}
