"""The analytics commands, run as users run them, with --json."""

from __future__ import annotations

import json
import subprocess
import sys

from wayfare.store import Store

from .conftest import journeys_for

DAY = 86400


def wf(db, *args, timeout: int = 120) -> dict | list:
    out = subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", *args, "--json"], capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_cli_funnel_paths_retention_rfm_kpis_segments_json(tmp_path):
    db = tmp_path / "c.db"
    with Store(db) as s:
        journeys_for(s.scope("default"), {
            "a": [(0, "Menu Viewed"), (60, "Table Booked"), (DAY, "Order Completed", {"channel": "pos"})],
            "b": [(0, "Menu Viewed"), (60, "Table Booked")],
            "c": [(0, "Menu Viewed")],
        })
    f = wf(db, "funnel", "Menu Viewed", "Table Booked", "Order Completed", "--within", "7d")
    assert [(s["step"], s["count"]) for s in f["steps"]] == [("Menu Viewed", 3), ("Table Booked", 2), ("Order Completed", 1)]
    f = wf(db, "funnel", "Menu Viewed", "Order Completed where channel = pos", "--within", "12h")
    assert [s["count"] for s in f["steps"]] == [3, 0]
    p = wf(db, "paths", "--from", "Menu Viewed", "--depth", "2")
    assert p["paths"][0] == {"path": ["Menu Viewed", "Table Booked"], "sessions": 2}
    r = wf(db, "retention", "--period", "day", "--periods", "1")
    assert r["cohorts"][0]["counts"] == [3, 1]
    assert wf(db, "rfm")["buyers"] == 1
    assert wf(db, "kpis")["totals"][0]["orders"] == 1
    seg = wf(db, "segments", "create", "bookers", 'count("Table Booked") >= 1')
    assert seg["members"] == 2
    assert [x["name"] for x in wf(db, "segments", "list")] == ["bookers"]
    bad = subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", "funnel", "A", "--within", "soon"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "duration" in bad.stderr


def test_cli_funnel_loose_order_and_the_spark_engine_give_the_same_json(tmp_path):
    db = tmp_path / "e.db"
    with Store(db) as s:
        journeys_for(s.scope("default"), {
            "a": [(0, "Menu Viewed"), (60, "Table Booked")],
            "b": [(0, "Table Booked"), (60, "Menu Viewed")],  # the other way round: only a loose funnel counts it
            "c": [(0, "Menu Viewed")],
        })
    steps = ("funnel", "Menu Viewed", "Table Booked", "--within", "1d")
    strict = wf(db, *steps)
    loose = wf(db, *steps, "--order", "loose")
    assert [s["count"] for s in strict["steps"]] == [3, 1]
    assert [s["count"] for s in loose["steps"]] == [3, 2]
    on_spark = wf(db, *steps, "--order", "loose", "--engine", "spark", timeout=600)  # a JVM starts
    assert on_spark["steps"] == loose["steps"]
    bad = subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", *steps, "--order", "sideways"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--order" in bad.stderr
