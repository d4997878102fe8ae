"""kill -9 of `wayfare serve` during sustained ingest: every event acknowledged with 2xx is stored, exactly once."""

from __future__ import annotations

import os
import threading
import time

import httpx

from wayfare.store import Store

BATCH = 50


def test_sigkill_during_ingest_loses_and_duplicates_nothing(ingest_key, server_factory):
    db, key = ingest_key
    srv = server_factory(db).start()
    acked: list[str] = []
    sent = [0]
    stop = threading.Event()
    lock = threading.Lock()

    def load(worker: int) -> None:
        with httpx.Client(base_url=srv.url, auth=(key, ""), timeout=10) as c:
            n = 0
            while not stop.is_set():
                ids = [f"w{worker}-{n}-{i}" for i in range(BATCH)]
                n += 1
                batch = [{"type": "track", "userId": f"u{worker}-{i % 7}", "event": "Order Completed",
                          "messageId": m, "properties": {"revenue": 1}} for i, m in enumerate(ids)]
                with lock:
                    sent[0] += len(ids)
                try:
                    r = c.post("/v1/batch", json={"batch": batch})
                except httpx.HTTPError:
                    return  # the server died mid-request: not acknowledged (it may or may not be stored)
                with lock:
                    if r.status_code // 100 == 2:
                        acked.extend(ids)

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    t0 = time.time()
    while len(acked) < 3000 and time.time() - t0 < 20:
        time.sleep(0.05)
    load_s = time.time() - t0
    os.kill(srv.proc.pid, 9)  # SIGKILL, no shutdown, no checkpoint
    srv.proc.wait()
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 1000, f"only {len(acked)} events acknowledged before the kill"
    # restart: the server recovers the store from its WAL, and a retry of everything is harmless
    srv2 = server_factory(db).start()
    with httpx.Client(base_url=srv2.url, auth=(key, ""), timeout=30) as c:
        again = [{"type": "track", "userId": "u", "event": "Order Completed", "messageId": m} for m in acked[:BATCH]]
        r = c.post("/v1/batch", json={"batch": again})
        assert r.status_code == 200 and r.json()["duplicates"] == BATCH
    srv2.stop()
    with Store(db) as s:
        cur = s.cursor()
        cur.execute("CREATE TEMP TABLE acked AS SELECT unnest($a) AS m", {"a": acked})
        stored, distinct = cur.execute(
            "SELECT count(*), count(DISTINCT e.message_id) FROM events e JOIN acked a ON e.message_id = a.m"
        ).fetchone()
        total, total_distinct = cur.execute("SELECT count(*), count(DISTINCT message_id) FROM events").fetchone()
    assert stored == len(acked) == distinct  # every acknowledged event, once
    assert total == total_distinct  # nothing doubled anywhere
    assert len(acked) <= total <= sent[0]
    print(f"kill -9 after {load_s:.1f} s: {len(acked)} acknowledged, {total} stored, {sent[0]} sent")
