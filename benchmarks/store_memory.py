"""Memory of the store as it grows, without HTTP: the soak's events written through the GroupCommitter, a scheduler
pass every few requests (the order-confirmation flow mailing a real aiosmtpd), sampled every 12,000 events (one
minute of the soak's 200 events/s). Tells the memory that follows the data (DuckDB's cached table blocks, its key
index) from the rest, with and without the cached-block budget (``WAYFARE_CACHE_MB``, Store.trim_cache).

    .venv/bin/python benchmarks/store_memory.py [--events 240000] [--every 3] [--cache-mb 16|off]

Prints one JSON line per sample and a summary: growth per 12,000 events after the first 72,000 (when DuckDB's
eviction queue has levelled off), of RSS, DuckDB's own accounting by tag, and glibc's heap.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak import _native_heaps, free_port, rss_mb, soak_event, wf  # noqa: E402

PER_MINUTE = 12_000  # the soak's 200 events/s


class _Sink:
    n = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        _Sink.n += 1
        return "250 OK"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=240_000)
    ap.add_argument("--every", type=int, default=3, help="a scheduler pass every N requests of 20 events (0: none)")
    ap.add_argument("--cache-mb", default=None, help="WAYFARE_CACHE_MB for this run (default: the store's default)")
    a = ap.parse_args()
    if a.cache_mb is not None:
        os.environ["WAYFARE_CACHE_MB"] = a.cache_mb
    smtp_port = free_port()
    smtp = Controller(_Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    os.environ.update(WAYFARE_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}", WAYFARE_MAIL_FROM="shop@example.org")
    tmp = Path(tempfile.mkdtemp(prefix="wayfare-store-memory-"))
    db = tmp / "m.db"
    wf(db, "demo", "--business", "shop", "--customers", "2000", "--seed", "7", "--json")
    wf(db, "flows", "enable", "order-confirmation", env=dict(os.environ))

    from wayfare.automate.scheduler import run_due
    from wayfare.automate.triggers import scan_triggers
    from wayfare.ingest.batcher import GroupCommitter
    from wayfare.ingest.messages import to_row
    from wayfare.store import Store

    store = Store(db)
    scope = store.scope()
    writer = GroupCommitter(store)
    cur = store.cursor()
    samples: list[dict] = []
    t0 = time.time()

    def sample(n: int) -> None:
        duck = dict(cur.execute("SELECT tag, memory_usage_bytes FROM duckdb_memory()").fetchall())
        row = {"events": n, "s": round(time.time() - t0, 1), "rss_mb": round(rss_mb(os.getpid()), 1),
               "duckdb_mb": round(sum(duck.values()) / 2**20, 1),
               "table_blocks_mb": round(duck.get("BASE_TABLE", 0) / 2**20, 1),
               "art_mb": round(duck.get("ART_INDEX", 0) / 2**20, 1),
               "evict_dead_k": round(sum(r[0] for r in cur.execute(
                   "SELECT dead_nodes FROM duckdb_eviction_queues()").fetchall()) / 1000, 1),
               "mails": _Sink.n, "trimmed_mb": round(store.trimmed_bytes / 2**20, 1), **_native_heaps()}
        samples.append(row)
        print(json.dumps(row), flush=True)

    n = requests = 0
    while n < a.events:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        batch = []
        for _ in range(20):
            n += 1
            batch.append(to_row(soak_event(n, uuid.uuid4().hex), now, "http"))
        writer.submit(scope.workspace_id, batch).result()
        requests += 1
        if a.every and requests % a.every == 0:  # as Scheduler._loop does
            scan_triggers(scope)
            run_due(scope, deliver=False)
            store.trim_cache()
        if n % PER_MINUTE == 0:
            sample(n)
    writer.close()
    smtp.stop()
    late = [s for s in samples if s["events"] >= 72_000]
    if len(late) >= 2:
        per = (late[-1]["events"] - late[0]["events"]) / PER_MINUTE
        growth = {k: round((late[-1][k] - late[0][k]) / per, 2)
                  for k in ("rss_mb", "duckdb_mb", "table_blocks_mb", "art_mb", "glibc_used_mb")}
        print(json.dumps({"cache_mb": os.environ.get("WAYFARE_CACHE_MB", "default"), "events": n,
                          "growth_per_12k_events_after_72k": growth, "mails": _Sink.n}))


if __name__ == "__main__":
    main()
