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


# A flow document is checked beyond what its schema can say (a trigger names exactly one of five kinds, times
# of day, gaps, templates): schemathesis's "a schema-valid request is accepted" check cannot hold for the two
# operations that take one, so they run with every other check
FLOW_OPERATIONS = ("enable_v1_flows_post", "validate_v1_flows_validate_post")


def _schemathesis(srv, key: str, tmp_path, *args: str) -> tuple[str, int]:
    report = tmp_path / "report.xml"
    cmd = [str(SCHEMATHESIS) if SCHEMATHESIS.exists() else "schemathesis", "run", f"{srv.url}/openapi.json",
           "--max-examples", os.environ.get("WAYFARE_FUZZ_EXAMPLES", "8"),
           "--seed", os.environ.get("WAYFARE_FUZZ_SEED", "20261202"),
           "-H", f"Authorization: Bearer {key}",
           "--report", "junit", "--report-junit-path", str(report), "--no-color", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    tail = out.stdout[-8000:] + out.stderr[-2000:]
    assert out.returncode == 0, tail
    return tail, report.read_text().count("<testcase")


@pytest.mark.parametrize("scope", ["admin", "ingest"])
def test_no_server_error_and_every_answer_matches_the_schema(served, scope, tmp_path):
    """Every check schemathesis has (its default): no 5xx; status codes, content types, headers and bodies as
    documented; schema-valid requests accepted and schema-violating ones refused; a 405 with the right Allow."""
    srv, keys = served
    skip_flows = [a for op in FLOW_OPERATIONS for a in ("--exclude-operation-id", op)]
    tail, tested = _schemathesis(srv, keys[scope], tmp_path, "--checks", "all", *skip_flows)
    flows = [a for op in FLOW_OPERATIONS for a in ("--include-operation-id", op)]
    _schemathesis(srv, keys[scope], tmp_path, "--checks", "all", "--exclude-checks", "positive_data_acceptance",
                  *flows)
    # it really ran: every operation of the schema was exercised (not a run that selected nothing)
    spec = httpx.get(f"{srv.url}/openapi.json").json()
    operations = sum(len(ops) for ops in spec["paths"].values())
    assert operations >= 40 and tested >= operations - len(FLOW_OPERATIONS), (operations, tested, tail)
