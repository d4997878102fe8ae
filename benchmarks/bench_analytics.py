"""Analytics benchmark: 10M events / 500k people generated straight into a wayfare DuckDB store.

    python benchmarks/bench_analytics.py [--events 10000000] [--people 500000] [--db /tmp/bench/analytics.db]
        [--chdb] [--spark] [--out benchmarks/RESULTS.md]
    python benchmarks/bench_analytics.py --ab [--repeat 3] [--chdb]   # cached sorted events vs none, one process
    python benchmarks/bench_analytics.py --one-shot                    # each query in a fresh process

``--one-shot`` (fourth pass): every query in a process of its own, as a one-shot ``wayfare funnel`` runs it —
the first builds the sorted events and keeps them beside the store, the next ones map that file; then 10,000 new
events (a fifth from new people, 50 identity merges) arrive and a fresh process brings the file's copy up to date;
the last process runs the funnel uncached and must find the same counts. Times are the query's own (after the
imports), wall and CPU, with the process's peak RSS.

``--ab`` (third pass): funnel, paths and retention without the cached sorted events (``cache=False``: the
second pass's executors), the cost of building the cache (wall, CPU, memory), and the same queries read
from it, in one process on the same store; checks that each result is identical; one JSON document at the end.

Times a 5-step 7-day funnel (wayfare, and ClickHouse's ``windowFunnel(…)('strict_increase')`` through
chDB on the same rows, checked to give the same counts), top paths, weekly retention, RFM and KPIs,
plus the same funnel on Spark local; records peak memory (RSS) and appends the figures to RESULTS.md.
chDB is installed for the benchmark only: ``pip install chdb``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from wayfare.analytics import FunnelQuery, Step, Tables, run_funnel  # noqa: E402
from wayfare.store import Store  # noqa: E402

EVENTS = ["Page Viewed", "Product Viewed", "Product Added", "Checkout Started", "Order Completed",
          "Email Opened", "Search", "Signed Up", "Review Posted", "Ticket Opened"]
# weights: browsing is common, buying rarer
WEIGHTS = [30, 25, 12, 8, 5, 8, 7, 2, 2, 1]
FUNNEL = ["Page Viewed", "Product Viewed", "Product Added", "Checkout Started", "Order Completed"]
CHANNELS = ["web", "app", "pos", "email", "social"]


def generate(store: Store, n_events: int, n_people: int, seed: int = 7) -> None:
    ws = store.scope("default").workspace_id
    cum, acc = [], 0
    for w in WEIGHTS:
        acc += w
        cum.append(acc)
    case = " ".join(f"WHEN r < {c / acc} THEN '{e}'" for c, e in zip(cum, EVENTS, strict=True))
    chan = "[" + ",".join(f"'{c}'" for c in CHANNELS) + "]"
    con = store.con
    con.execute("DELETE FROM events")
    con.execute(f"""
        INSERT INTO events (workspace_id, message_id, seq, type, event, person_id, user_id, ts, received_at, channel,
                            source, revenue, properties)
        SELECT '{ws}', 'm' || i, i, 'track', CASE {case} ELSE 'Search' END,
               'p' || p, 'p' || p, ts, ts, {chan}[1 + (hash(i, {seed}, 3) % 5)::INT], 'bench',
               CASE WHEN r >= {cum[3] / acc} AND r < {cum[4] / acc} THEN 5 + (hash(i, {seed}, 4) % 20000) / 100.0 END,
               NULL
        FROM (SELECT i, (hash(i, {seed}, 1) % {n_people}) p,
                     (hash(i, {seed}, 2) % 1000000) / 1000000.0 r,
                     TIMESTAMP '2024-01-01' + to_seconds(((hash(p, {seed}) % (120 * 86400)) +
                          (hash(i, {seed}, 5) % (30 * 86400)))::BIGINT) ts
              FROM range({n_events}) t(i))
    """)
    con.execute(f"""
        INSERT INTO profiles (workspace_id, person_id, created_at, first_seen, last_seen, traits)
        SELECT '{ws}', person_id, min(ts), min(ts), max(ts), '{{}}' FROM events GROUP BY person_id
    """)
    con.execute("CHECKPOINT")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


CPU: dict[float, float] = {}  # best wall time -> the CPU seconds of that run (all threads of this process)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(fn, repeat: int = 3):
    """Best wall time of ``repeat`` runs; the CPU seconds of that run go to CPU (on a shared machine the
    CPU time is the steadier figure: other work stretches wall time, much less this process's CPU)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), _cpu()
        out = fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best = wall
            CPU[best] = _cpu() - c0
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--people", type=int, default=500_000)
    ap.add_argument("--db", default="/tmp/bench/analytics.db")
    ap.add_argument("--chdb", action="store_true")
    ap.add_argument("--spark", action="store_true")
    ap.add_argument("--regen", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--ab", action="store_true", help="cached sorted events vs none, in one process")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--one-shot", action="store_true", help="each query in a fresh process (sorted events kept on disk)")
    ap.add_argument("--child", nargs=2, metavar=("QUERY", "CACHE"), help=argparse.SUPPRESS)
    ap.add_argument("--only-cached", action="store_true", help="with --ab: skip the uncached runs (peak RSS of the cached path)")
    a = ap.parse_args()
    if a.child:
        one_shot_child(a.db, *a.child)
        return
    if a.one_shot:
        one_shot(a)
        return
    fresh = a.regen or not os.path.exists(a.db)
    store = Store(a.db)
    if fresh:
        t0 = time.perf_counter()
        generate(store, a.events, a.people)
        print(f"generated {a.events:,} events in {time.perf_counter() - t0:.1f}s")
    scope = store.scope("default")
    n_ev = scope.one("SELECT count(*) FROM events")[0]
    n_pp = scope.one("SELECT count(DISTINCT person_id) FROM events")[0]
    tables = Tables.from_scope(scope)
    q = FunnelQuery(steps=[Step(event=e) for e in FUNNEL], within="7d")
    if a.ab:
        third_pass(a, store, scope, tables, q, n_ev, n_pp)
        return
    res: dict[str, object] = {}
    secs, f = timed(lambda: run_funnel(tables.events, q, detail=False))
    counts = [s["count"] for s in f["steps"]]
    res["funnel"] = secs
    print(f"funnel 5 steps 7d: {secs:.3f}s (cpu {CPU[secs]:.2f}s) counts={counts}")
    for name, fn in _others(scope, tables).items():
        secs, _ = timed(fn, 2)
        res[name] = secs
        print(f"{name}: {secs:.3f}s (cpu {CPU[secs]:.2f}s)")
    if a.chdb:
        res["chdb"], ch_counts = chdb_funnel(a.db, scope.workspace_id, store.cursor())
        print(f"chdb windowFunnel: {res['chdb']:.3f}s (cpu {CPU[res['chdb']]:.2f}s) counts={ch_counts}  ratio wayfare/chdb="
              f"{res['funnel'] / res['chdb']:.2f}")
        res["chdb_counts"] = ch_counts
    res["peak_mb"] = peak_mb()
    if a.spark:
        res["spark"], sp_counts = spark_funnel(scope, q)
        print(f"spark local funnel: {res['spark']:.2f}s counts={sp_counts}")
    print(f"peak RSS {res['peak_mb']:.0f} MB")
    if a.out:
        write_results(a.out, n_ev, n_pp, counts, res)


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def third_pass(a, store, scope, tables, q, n_ev: int, n_pp: int) -> None:
    """A/B in one process: the uncached executors, the cache build, the cached executors; identical results."""
    import json

    import ibis

    from wayfare.analytics import PathsQuery, RetentionQuery, run_paths, run_retention
    from wayfare.analytics.paths import count_rows
    from wayfare.analytics.paths_scan import path_table
    from wayfare.analytics.sorted_events import drop_files, forget, sorted_events

    drop_files(a.db)  # the build below must sort, not map a copy a one-shot run left beside the store
    ev = tables.events
    pq, rq = PathsQuery(start="Page Viewed"), RetentionQuery(period="week", periods=12)

    def paths_second_pass(pq):  # the second pass's paths: the scan's rows as strings, counted by DuckDB
        paths, links = count_rows(ibis.memtable(path_table(ev, pq, cache=False)), pq)
        return {"from": pq.start, "to": pq.end, "session_gap_seconds": pq.session_gap, "depth": pq.depth,
                "paths": paths, "links": links}

    queries = {
        "funnel": lambda c: run_funnel(ev, q, detail=False, cache=c),
        "paths": lambda c: run_paths(ev, pq, cache=c) if c is not False else paths_second_pass(pq),
        "retention": lambda c: run_retention(ev, rq, cache=c),
    }
    out: dict = {"events": n_ev, "people": n_pp, "cores": os.cpu_count(), "load_start": _load(), "queries": {}}
    forget()
    before = {}
    for name, fn in queries.items() if not a.only_cached else ():
        l0 = _load()
        secs, r = timed(lambda fn=fn: fn(False), a.repeat)
        before[name] = r
        out["queries"][name] = {"uncached_wall": round(secs, 3), "uncached_cpu": round(CPU[secs], 2), "load": [l0, _load()]}
        print(f"{name} uncached: {secs:.3f}s (cpu {CPU[secs]:.2f}s) load {l0}-{_load()}", flush=True)
    rss0 = peak_mb()
    l0, t0, c0 = _load(), time.perf_counter(), _cpu()
    se = sorted_events(ev, build=True)
    se.groups, se.rows_of(0)  # the lazily made indexes, counted with the build
    bw, bc = time.perf_counter() - t0, _cpu() - c0
    out["build"] = {"wall": round(bw, 3), "cpu": round(bc, 2), "rows": se.rows, "people": se.n_people,
                    "cache_mb": round(se.nbytes / 1e6, 1), "peak_rss_mb_before": round(rss0), "peak_rss_mb_after": round(peak_mb()),
                    "load": [l0, _load()]}
    print(f"cache build: {bw:.3f}s (cpu {bc:.2f}s), {se.nbytes / 1e6:.0f} MB, load {l0}-{_load()}", flush=True)
    same = True
    for name, fn in queries.items():
        l0 = _load()
        secs, r = timed(lambda fn=fn: fn(None), a.repeat)
        ok = r == before[name] if name in before else None
        same &= bool(ok)
        out["queries"].setdefault(name, {})
        out["queries"][name] |= {"cached_wall": round(secs, 3), "cached_cpu": round(CPU[secs], 2), "identical": ok,
                                 "load_cached": [l0, _load()]}
        print(f"{name} cached: {secs:.3f}s (cpu {CPU[secs]:.2f}s) identical={ok} load {l0}-{_load()}", flush=True)
    out["funnel_counts"] = [s["count"] for s in (before.get("funnel") or queries["funnel"](None))["steps"]]
    out["identical"] = same if before else None
    if a.chdb:
        secs, counts = chdb_funnel(a.db, scope.workspace_id, store.cursor())
        out["chdb"] = {"wall": round(secs, 3), "cpu": round(CPU[secs], 2), "counts": counts,  # its sorted table: untimed
                       "ratio_wall": round(out["queries"]["funnel"]["cached_wall"] / secs, 2),
                       "ratio_cpu": round(out["queries"]["funnel"]["cached_cpu"] / CPU[secs], 2)}
        print(f"chdb windowFunnel: {secs:.3f}s (cpu {CPU[secs]:.2f}s) counts={counts}", flush=True)
    out["peak_rss_mb"] = round(peak_mb())
    out["load_end"] = _load()
    print(json.dumps(out))


def one_shot_child(db: str, query: str, cache: str) -> None:
    """One query in this fresh process; prints {how, wall, cpu, peak_rss_mb, result digest} as JSON."""
    import json

    from wayfare.analytics import PathsQuery, RetentionQuery, run_paths, run_retention
    from wayfare.analytics.sorted_events import sorted_events

    store = Store(db)
    ev = Tables.from_scope(store.scope("default")).events
    c = {"none": None, "false": False}[cache]
    run = {"funnel": lambda: run_funnel(ev, FunnelQuery(steps=[Step(event=e) for e in FUNNEL], within="7d"),
                                        detail=False, cache=c),
           "paths": lambda: run_paths(ev, PathsQuery(start="Page Viewed"), cache=c),
           "retention": lambda: run_retention(ev, RetentionQuery(period="week", periods=12), cache=c)}[query]
    t0, c0 = time.perf_counter(), _cpu()
    r = run()
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    se = sorted_events(ev, build=False) if c is None else None
    digest = [s["count"] for s in r["steps"]] if query == "funnel" else (
        [p["sessions"] for p in r["paths"]][:5] if query == "paths" else str(r)[:0] or len(str(r)))
    print(json.dumps({"query": query, "how": se.how if se else "uncached", "wall": round(wall, 3), "cpu": round(cpu, 2),
                      "peak_rss_mb": round(peak_mb()), "result": digest}))
    store.close()


def one_shot(a) -> None:
    import json
    import shutil
    import subprocess

    if not os.path.exists(a.db):
        with Store(a.db) as store:
            generate(store, a.events, a.people)
    with Store(a.db) as store:  # a rerun starts from the generated data: earlier appended rows go
        store.con.execute("DELETE FROM events WHERE message_id LIKE 'late-%'")
        if store.con.execute("SELECT count(*) FROM merges WHERE reason = 'bench'").fetchone()[0]:
            # undo the last run's merges: the generator gives every event person_id = user_id
            store.con.execute("UPDATE events SET person_id = user_id WHERE person_id <> user_id")
            store.con.execute("DELETE FROM merges WHERE reason = 'bench'")
        store.checkpoint()
    shutil.rmtree(a.db + ".analytics", ignore_errors=True)

    def child(query: str, cache: str = "none") -> dict:
        l0 = _load()
        out = subprocess.run([sys.executable, __file__, "--db", a.db, "--child", query, cache], check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        r = json.loads(out) | {"load": [l0, _load()]}
        print(json.dumps(r), flush=True)
        return r

    runs = [child("funnel"), child("funnel"), child("paths"), child("retention")]
    with Store(a.db) as store:  # 10,000 new events: a fifth from 2,000 new people; 50 merges of old people
        con = store.con
        ws = store.scope("default").workspace_id
        con.execute(f"""
            INSERT INTO events (workspace_id, message_id, seq, type, event, person_id, ts, received_at, channel)
            SELECT '{ws}', 'late-' || i, (SELECT max(seq) FROM events) + 1 + i, 'track',
                   ['{"', '".join(FUNNEL)}'][1 + i % 5],
                   CASE WHEN i % 5 = 0 THEN 'new-' || (i % 2000) ELSE 'p' || (hash(i, 99) % {a.people}) END,
                   (SELECT max(ts) FROM events) + to_seconds(i), now(), 'web'
            FROM range(10000) t(i)""")
        pairs = con.execute(f"SELECT DISTINCT person_id FROM events WHERE workspace_id = '{ws}' "
                            "AND person_id LIKE 'p%' ORDER BY person_id LIMIT 100").fetchall()
        for k in range(50):
            src, dst = pairs[2 * k][0], pairs[2 * k + 1][0]
            con.execute("UPDATE events SET person_id = ? WHERE workspace_id = ? AND person_id = ?", [dst, ws, src])
            con.execute("INSERT INTO merges VALUES (?, now(), ?, ?, 'bench')", [ws, src, dst])
    runs += [child("funnel"), child("paths"), child("retention"), child("funnel", "false")]
    same = runs[4]["result"] == runs[-1]["result"]
    print(json.dumps({"events": a.events, "people": a.people, "runs": runs, "updated_equals_uncached": same}))


def _others(scope, tables):
    from wayfare.analytics import PathsQuery, RetentionQuery, run_kpis, run_paths, run_retention, run_rfm

    return {
        "paths (top 20, depth 4, from Page Viewed)": lambda: run_paths(tables.events, PathsQuery(start="Page Viewed")),
        "weekly retention (12 weeks)": lambda: run_retention(tables.events, RetentionQuery(period="week", periods=12)),
        "RFM quintiles + segments": lambda: run_rfm(tables.events),
        "KPIs by month and channel": lambda: run_kpis(tables.events, period="month"),
    }


def chdb_funnel(db: str, ws: str, con=None):
    """ClickHouse's own windowFunnel over the same rows (exported once to Parquet, outside the timing)."""
    import chdb
    import duckdb

    pq = Path(db).with_suffix(".events.parquet")
    if not pq.exists():
        c = con or duckdb.connect(db, read_only=True)
        c.execute(f"COPY (SELECT person_id, ts, event FROM events WHERE workspace_id = '{ws}') TO '{pq}' (FORMAT parquet)")
    sess = chdb.session.Session()
    sess.query(f"CREATE TABLE ev ENGINE = MergeTree ORDER BY (person_id, ts) AS SELECT person_id, toDateTime(ts, 'UTC') AS ts, event "
               f"FROM file('{pq}', Parquet)")
    conds = ", ".join(f"event = '{e}'" for e in FUNNEL)
    sql = (f"SELECT level, count() FROM (SELECT person_id, windowFunnel(604800, 'strict_increase')(ts, {conds}) "
           f"AS level FROM ev WHERE event IN ({', '.join(repr(e) for e in FUNNEL)}) GROUP BY person_id) "
           f"GROUP BY level ORDER BY level FORMAT CSV")
    best, out = timed(lambda: sess.query(sql), 3)
    per = {int(a): int(b) for a, b in (ln.split(",") for ln in str(out).strip().splitlines())}
    counts = [sum(v for k, v in per.items() if k >= s) for s in range(1, len(FUNNEL) + 1)]
    return best, counts


def spark_funnel(scope, q):
    from wayfare.analytics import spark_session

    pq = Path(scope.store.path).with_suffix(".spark.parquet")
    if not pq.exists():
        scope.store.cursor().execute(
            f"COPY (SELECT person_id, ts, event, channel, properties::VARCHAR properties FROM events "
            f"WHERE workspace_id = '{scope.workspace_id}') TO '{pq}' (FORMAT parquet)")
    spark = spark_session("local[2]", **{"spark.driver.memory": "8g"})
    tables = Tables.from_spark(spark, str(pq))
    best, f = timed(lambda: run_funnel(tables.events, q, detail=False), 2)
    return best, [s["count"] for s in f["steps"]]


def write_results(path: str, n_ev: int, n_pp: int, counts, res) -> None:
    cpu = platform.processor() or platform.machine()
    lines = [
        f"\n## Analytics ({dt.date.today().isoformat()}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()})",
        f"`python benchmarks/bench_analytics.py --chdb --spark` on {n_ev:,} synthetic events, {n_pp:,} people "
        "(DuckDB store; best of 3 runs, 2 for the others)\n",
        f"Load average (1/5/15 min) at the end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} "
        "(the machine is shared: wall times stretch with other work, CPU seconds much less)\n",
        "| query | seconds | CPU s | goal |", "| --- | --- | --- | --- |",
        f"| funnel, 5 steps, 7 days (wayfare on DuckDB) | {res['funnel']:.3f} | {CPU[res['funnel']]:.2f} | < 1 |",
    ]
    goals = {"paths": "< 2", "weekly retention": "< 2"}
    for k, v in res.items():
        if k in ("funnel", "chdb", "chdb_counts", "peak_mb", "spark"):
            continue
        lines.append(f"| {k} | {v:.3f} | {CPU[v]:.2f} | {next((g for p, g in goals.items() if k.startswith(p)), '')} |")
    if "chdb" in res:
        lines.append(f"| same funnel, chDB `windowFunnel(604800, 'strict_increase')` | {res['chdb']:.3f} | "
                     f"{CPU[res['chdb']]:.2f} | |")
        lines.append(f"| ratio wayfare / chDB | {res['funnel'] / res['chdb']:.2f} | "
                     f"{CPU[res['funnel']] / CPU[res['chdb']]:.2f} | <= 1 |")
    if "spark" in res:
        lines.append(f"| same funnel on Spark local[2] (Ibis builder) | {res['spark']:.2f} | | |")
    lines.append(f"\nFunnel counts per step: {counts}" + (f"; chDB: {res['chdb_counts']}" if "chdb_counts" in res else ""))
    lines.append(f"Peak RSS of the DuckDB part: {res['peak_mb']:.0f} MB.\n")
    with open(path, "a") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
