"""Which kind of traffic grows the server's native heap, one kind at a time (issue 9, item 6).

    .venv/bin/python benchmarks/traffic_phases.py STORE [--warm-s 300] [--phase-s 120]

STORE is a soak's kept store (``benchmarks/soak.py --keep`` prints its folder; the file ``soak.db`` in it, with
the owner's login the soak made). It is copied, and the copy served in this process as ``wayfare serve`` serves
(same app, same collector settings). After a warm-up of mixed traffic, each phase runs one kind alone: nothing
(the scheduler and the clocks only), client retries of stored events (a store that does not grow: every flush is
refused by the key and written again with the lookup), the dashboard's pages in turn, then each page alone. Around
each phase: a full collection and ``malloc_trim``, then glibc's heap in use (``mallinfo2``), DuckDB's own
accounting, its eviction queues' dead nodes and Python's block count. One JSON line per phase.

A freed DuckDB buffer leaves its handle (~220 bytes of glibc's heap) in an eviction queue until the queue is
purged at ~32,800 nodes (``benchmarks/duckdb_bounds.py``): read a phase's growth against its dead-node change.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import gc
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import soak  # noqa: E402  (the soak's helpers: its events, its owner's password, its probes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", help="a kept soak folder (or its soak.db)")
    ap.add_argument("--warm-s", type=float, default=300, help="mixed traffic before the phases")
    ap.add_argument("--phase-s", type=float, default=120, help="length of each phase (each page alone: half)")
    a = ap.parse_args()
    src = Path(a.store)
    src = src / "soak.db" if src.is_dir() else src
    if not src.exists():
        ap.error(f"{src}: no such store (run benchmarks/soak.py --keep first)")
    tmp = Path(tempfile.mkdtemp(prefix="wayfare-phases-"))
    db = tmp / "soak.db"
    shutil.copy(src, db)
    if Path(str(src) + ".wal").exists():
        shutil.copy(str(src) + ".wal", str(db) + ".wal")
    key = json.loads(soak.wf(db, "keys", "create", "--scope", "ingest", "--json"))["key"]

    import uvicorn

    from wayfare.ingest.parsepool import default_workers
    from wayfare.store import Store
    from wayfare.web.app import create_app, tune_gc

    store = Store(db)
    cur = store.cursor()
    mids = [r[0] for r in cur.execute("SELECT message_id FROM events WHERE type = 'page' LIMIT 20000").fetchall()]
    if not mids:
        ap.error(f"{src}: no page events to resend (not a soak's store?)")
    app = create_app(store, default_workers())
    port = soak.free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    tune_gc()
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):  # the app's start-up work (warmers) first
        try:
            httpx.get(url + "/login", timeout=5)
            break
        except httpx.HTTPError:
            time.sleep(1)
    libc = ctypes.CDLL("libc.so.6")

    def snap() -> dict:
        heaps = soak._native_heaps()
        duck = sum(r[0] for r in cur.execute("SELECT memory_usage_bytes FROM duckdb_memory()").fetchall())
        dead = sum(r[0] for r in cur.execute("SELECT dead_nodes FROM duckdb_eviction_queues()").fetchall())
        return {"glibc_used_mb": heaps.get("glibc_used_mb"), "glibc_free_mb": heaps.get("glibc_free_mb"),
                "duckdb_mb": round(duck / 2**20, 1), "evict_dead_k": round(dead / 1000, 1),
                "rss_mb": round(soak.rss_mb(os.getpid()), 1), "py_blocks_k": sys.getallocatedblocks() // 1000}

    auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    owner = soak.OwnerSession(url)
    n = [0]

    def resend() -> None:  # 20 events whose message ids are stored already: a client's retry
        i = n[0]
        n[0] += 1
        batch = [{"type": "page", "name": "Menu", "messageId": mids[(i * 20 + j) % len(mids)],
                  "anonymousId": f"soak-{(i * 20 + j) % 5000}", "properties": {"path": "/menu"}} for j in range(20)]
        r = owner.client.post("/v1/batch", json={"batch": batch}, headers=auth)
        if r.status_code >= 300:
            raise SystemExit(f"ingest answered {r.status_code}: {r.text[:200]}")

    def page(path: str) -> None:
        r = owner.get(path)
        if r.status_code != 200:
            raise SystemExit(f"{path} answered {r.status_code}")

    turn = [0]

    def next_page() -> None:
        page(soak.PAGES[turn[0] % len(soak.PAGES)])
        turn[0] += 1

    def run(name: str, secs: float, acts: list, interval: float) -> None:
        gc.collect()
        libc.malloc_trim(0)
        before, t0, rounds = snap(), time.time(), 0
        while time.time() < t0 + secs:
            for act in acts:
                act()
            rounds += 1
            time.sleep(interval)
        gc.collect()
        libc.malloc_trim(0)
        after, minutes = snap(), (time.time() - t0) / 60
        print(json.dumps({"phase": name, "minutes": round(minutes, 2), "rounds": rounds, "start": before,
                          "end": after, "glibc_used_mb_per_min": round(
                              (after["glibc_used_mb"] - before["glibc_used_mb"]) / minutes, 2),
                          "evict_dead_k_change": round(after["evict_dead_k"] - before["evict_dead_k"], 1)}),
              flush=True)

    try:
        run("warm-up (retries and pages)", a.warm_s, [resend, next_page], 0.3)
        run("idle", a.phase_s, [], 1.0)
        run("retries only", a.phase_s, [resend], 0.1)
        run("pages only", a.phase_s, [next_page], 0.3)
        run("idle again", a.phase_s, [], 1.0)
        for p in soak.PAGES:
            run(f"page {p}", a.phase_s / 2, [lambda p=p: page(p)], 0.3)
    finally:
        owner.client.close()
        server.should_exit = True
        serving.join(timeout=60)  # the app's shutdown (the committer's last flush, the parsing processes)
        cur.close()
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":  # the parsing processes re-import this file: nothing may run on import
    main()
