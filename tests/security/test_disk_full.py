"""Disk full: an import that cannot be written fails with a clear error, keeps nothing partial, and leaves the store
readable and writable once there is room again.

A full disk is simulated with a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) on the importing process: its writes
fail with EFBIG exactly as they would with ENOSPC, with no root or special filesystem needed."""

import gzip
import itertools
import json
import os
import resource
import signal
import subprocess
import sys

from tests.conftest import SHARED_DATA

MAP = ["--preset", "generic", "--map", "InvoiceNo=anonymous_id", "--map", "CustomerID=user_id",
       "--event", "Product Purchased", "--json"]


def wf(db, *args, limit: int | None = None):
    def cap():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", *args], capture_output=True, text=True,
                          timeout=300, preexec_fn=cap if limit else None)


def test_import_on_a_full_disk_fails_clearly_keeps_nothing_and_the_store_survives(tmp_path):
    db = tmp_path / "shop.db"
    assert wf(db, "demo", "--business", "shop", "--customers", "200", "--seed", "2", "--json").returncode == 0
    before = json.loads(wf(db, "status", "--json").stdout)
    csv = tmp_path / "retail.csv"
    with gzip.open(SHARED_DATA / "online_retail" / "online_retail.csv.gz", "rt", encoding="utf-8", newline="") as f:
        csv.write_text("".join(itertools.islice(f, 20001)), encoding="utf-8")

    full = wf(db, "import", str(csv), *MAP, limit=os.path.getsize(db) + 300_000)
    assert full.returncode == 2, full.stderr[-2000:]
    said = " ".join(full.stderr.split())  # the console wraps long lines
    assert "disk is full" in said and "Nothing of this change was kept" in said
    assert "Traceback" not in full.stderr
    after = json.loads(wf(db, "status", "--json").stdout)
    assert (after["events"], after["people"], after["identities"]) == \
        (before["events"], before["people"], before["identities"])

    ok = wf(db, "import", str(csv), *MAP)  # room again: the same file goes in whole
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert json.loads(ok.stdout)["inserted"] == 20000
    assert json.loads(wf(db, "status", "--json").stdout)["events"] == before["events"] + 20000
