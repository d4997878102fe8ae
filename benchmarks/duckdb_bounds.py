"""Two DuckDB behaviours behind the soak's memory figures (issue 9, item 6), measured in-process.

1. **Eviction-queue ceiling.** Every temporary buffer a query unpins (hash joins, aggregates) leaves a node in one
   of DuckDB's eviction queues; once the buffer is freed the node is "dead" and holds its ``BlockHandle`` until a
   purge. This runs the same small join + aggregate many times and prints each queue's size and dead nodes: each
   queue is purged only once it passes a fixed size, so dead nodes rise to a ceiling per queue and stay there,
   whatever the traffic. How fast a queue gets there depends on how often queries use it.
2. **The primary-key index after a checkpoint.** A table with a VARCHAR primary key (the shape of ``events``):
   DuckDB's own accounting of the index (``ART_INDEX``) before and after ``CHECKPOINT``, and after a few small
   inserts (what an ingest flush does), with the time of each insert.

Usage: ``benchmarks/duckdb_bounds.py [--queries 40000] [--rows 2000000]`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb


def queues(con: duckdb.DuckDBPyConnection) -> list[dict]:
    return [dict(zip(("queue", "type", "nodes", "dead"), r, strict=True)) for r in con.execute(
        "SELECT queue_index, queue_type, approximate_size, dead_nodes FROM duckdb_eviction_queues() "
        "WHERE approximate_size > 0 ORDER BY queue_index").fetchall()]


def eviction_ceiling(n_queries: int, db: Path) -> dict:
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE a AS SELECT range AS i, range % 1000 AS g FROM range(200000)")
    con.execute("CREATE TABLE b AS SELECT range AS i, 'x' || range AS s FROM range(5000)")
    samples = []
    t0 = time.perf_counter()
    step = max(1, n_queries // 8)
    for n in range(1, n_queries + 1):
        con.execute("SELECT count(*), max(s) FROM a JOIN b USING (i) GROUP BY g % 7").fetchall()
        if n % step == 0:
            q = queues(con)
            samples.append({"queries": n, "s": round(time.perf_counter() - t0, 1),
                            "dead_total": sum(x["dead"] for x in q), "largest_queue": max(x["nodes"] for x in q),
                            "queues": q})
            print(f"{n:7d} queries  dead nodes {samples[-1]['dead_total']:7d}  largest queue "
                  f"{samples[-1]['largest_queue']:6d}  per queue {[x['nodes'] for x in q]}", flush=True)
    con.close()
    return {"samples": samples, "max_queue_nodes_seen": max(s["largest_queue"] for s in samples)}


def index_after_checkpoint(rows: int, db: Path) -> dict:
    con = duckdb.connect(str(db))

    def art_mb() -> float:
        r = con.execute("SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'ART_INDEX'").fetchone()
        return round((r[0] if r else 0) / 2**20, 1)

    con.execute("CREATE TABLE ev (workspace_id VARCHAR, message_id VARCHAR, v INTEGER, "
                "PRIMARY KEY (workspace_id, message_id))")
    for _ in range(max(1, rows // 100_000)):
        con.execute("INSERT INTO ev SELECT 'default', uuid()::VARCHAR, range FROM range(100000)")
    out = {"rows": con.execute("SELECT count(*) FROM ev").fetchone()[0], "art_mb_before_checkpoint": art_mb()}
    con.execute("CHECKPOINT")
    out["art_mb_after_checkpoint"] = art_mb()
    inserts = []
    for _ in range(6):
        t = time.perf_counter()
        con.execute("INSERT INTO ev SELECT 'default', uuid()::VARCHAR, range FROM range(20)")
        inserts.append({"ms": round((time.perf_counter() - t) * 1000, 1), "art_mb": art_mb()})
    out["inserts_of_20_after_checkpoint"] = inserts
    con.execute("CHECKPOINT")
    out["art_mb_after_second_checkpoint"] = art_mb()
    con.close()
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=40000)
    ap.add_argument("--rows", type=int, default=2_000_000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="wayfare-duckdb-bounds-") as tmp:
        res = {"duckdb": duckdb.__version__,
               "eviction_queues": eviction_ceiling(a.queries, Path(tmp) / "q.duckdb"),
               "primary_key_index": index_after_checkpoint(a.rows, Path(tmp) / "k.duckdb")}
    print(json.dumps({k: v for k, v in res.items() if k != "eviction_queues"} |
                     {"eviction_queues_last": res["eviction_queues"]["samples"][-1]}, indent=2))


if __name__ == "__main__":
    main()
