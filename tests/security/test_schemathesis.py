"""Every HTTP endpoint against its own OpenAPI schema (issue 9, item 3): schemathesis generates requests from
`/openapi.json` of a real `wayfare serve` over a demo store and checks that no answer is a server error and every
answer matches the schema it documents (status code, JSON shape). Run with an admin key (every admin endpoint)
and with an ingest key (what a website's key reaches). A fixed seed keeps CI repeatable; `WAYFARE_FUZZ_SEED`
and `WAYFARE_FUZZ_EXAMPLES` explore further."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from wayfare.store import Store, create_key

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
pytestmark = pytest.mark.skipif(not SCHEMATHESIS.exists() and not shutil.which("schemathesis"),
                                reason="schemathesis is in the test extra: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from tests.conftest import Server

    tmp = tmp_path_factory.mktemp("fuzz")
    db = tmp / "fuzz.db"
    subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", "demo", "--business", "shop", "--customers", "150",
                    "--seed", "3", "--json"], check=True, capture_output=True)
    with Store(db) as s:
        keys = {scope: create_key(s, "default", scope)["key"] for scope in ("admin", "ingest")}
    srv = Server(db).start()
    yield srv, keys
    srv.stop()


@pytest.mark.parametrize("scope", ["admin", "ingest"])
def test_no_server_error_and_every_answer_matches_the_schema(served, scope, tmp_path):
    srv, keys = served
    report = tmp_path / "report.xml"
    cmd = [str(SCHEMATHESIS) if SCHEMATHESIS.exists() else "schemathesis", "run", f"{srv.url}/openapi.json",
           "--checks", "not_a_server_error,response_schema_conformance",
           "--max-examples", os.environ.get("WAYFARE_FUZZ_EXAMPLES", "8"),
           "--seed", os.environ.get("WAYFARE_FUZZ_SEED", "20261202"),
           "-H", f"Authorization: Bearer {keys[scope]}",
           "--report", "junit", "--report-junit-path", str(report), "--no-color"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    tail = out.stdout[-6000:] + out.stderr[-2000:]
    assert out.returncode == 0, tail
    # it really ran: every operation of the schema was exercised (not a run that selected nothing)
    spec = httpx.get(f"{srv.url}/openapi.json").json()
    operations = sum(len(ops) for ops in spec["paths"].values())
    tested = report.read_text().count("<testcase")
    assert operations >= 40 and tested >= operations, (operations, tested, tail)
