"""Foundation benchmarks: HTTP batch ingest (wrk from a second process over loopback), the bare DuckDB append
of the same events, CSV import rows/s, demo generation time, and the core install's size.

    .venv/bin/python benchmarks/run.py [--quick] [--only http_ingest,in_process_cpu]

Prints one JSON document; paste the figures into benchmarks/RESULTS.md with the machine and date.
Other domains' benchmarks are benchmarks/bench_*.py, each runnable on its own.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "data"


def wayfare(*args: str, db: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", *args], capture_output=True, text=True,
                          check=True)


def bench_demo(tmp: Path, customers: int) -> dict:
    db = tmp / "demo.db"
    t0 = time.perf_counter()
    out = json.loads(wayfare("demo", "--business", "restaurant", "--customers", str(customers), "--seed", "1",
                             "--json", db=db).stdout)
    secs = time.perf_counter() - t0
    return {"customers": customers, "events": out["events"], "seconds": round(secs, 2),
            "events_per_s": round(out["events"] / secs)}


def bench_csv(tmp: Path) -> dict:
    db = tmp / "csv.db"
    path = SHARED / "online_retail" / "online_retail.csv.gz"
    t0 = time.perf_counter()
    out = json.loads(wayfare("import", str(path), "--map", "InvoiceNo=anonymous_id", "--map", "CustomerID=user_id",
                             "--event", "Product Purchased", "--json", db=db).stdout)
    secs = time.perf_counter() - t0
    return {"file": path.name, "rows": out["rows"], "seconds": round(secs, 2), "rows_per_s": round(out["rows"] / secs)}


def bench_bare_append(tmp: Path, n: int = 1_000_000) -> dict:
    """The storage limit: the same event rows appended to the same table shape, with no HTTP and no Python per event."""
    import duckdb

    con = duckdb.connect(str(tmp / "bare.db"))
    con.execute("CREATE TABLE events (workspace_id VARCHAR, message_id VARCHAR, seq BIGINT, type VARCHAR, event VARCHAR, "
                "user_id VARCHAR, person_id VARCHAR, ts TIMESTAMP, revenue DOUBLE, properties JSON, "
                "PRIMARY KEY (workspace_id, message_id))")
    batch = 10_000
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        con.execute(
            f"INSERT INTO events SELECT 'ws', 'm' || i, i, 'track', 'Order Completed', 'u' || (i % 5000), "
            f"'p' || (i % 5000), TIMESTAMP '2026-11-20 12:00:00', i % 50, '{{\"channel\":\"web\"}}' "
            f"FROM range({start}, {start + batch}) t(i)")
    secs = time.perf_counter() - t0
    con.close()
    return {"events": n, "batch": batch, "seconds": round(secs, 2), "events_per_s": round(n / secs)}


def python_loop() -> float:
    """Seconds for 10 million additions in a Python loop: this machine's speed at the time (a shared host's
    varies up to 2x within an hour here), so that figures from different runs can be compared."""
    t0 = time.perf_counter()
    x = 0
    for i in range(10_000_000):
        x += i
    return round(time.perf_counter() - t0, 2)


def bench_http(tmp: Path, seconds: int = 20, connections: int = 32) -> dict:
    if not shutil.which("wrk"):
        return {"skipped": "wrk is not installed (apt-get install -y wrk)"}
    from wayfare.store import Store, create_key

    db = tmp / f"http-c{connections}.db"
    with Store(db) as s:
        key = create_key(s, "default", "ingest")["key"]
    port = 18000 + os.getpid() % 1000
    srv = subprocess.Popen([sys.executable, "-m", "wayfare", f"--db={db}", "serve", "--port", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    import httpx

    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    env = {**os.environ, "WAYFARE_KEY": base64.b64encode(f"{key}:".encode()).decode()}

    def wrk(secs: int) -> str:
        env["WAYFARE_RUN"] = f"r{secs}-"  # the warm-up and the measured run send different ids
        return subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{secs}s", "--latency", "-s",
                               str(HERE / "ingest_wrk.lua"), f"http://127.0.0.1:{port}"], capture_output=True,
                              text=True, env=env).stdout

    # the server's start-up work (the dashboard's cache warmers load models and run queries for ~15 s) is not
    # ingest: wait until the server is idle (under 5% of a core for a second), then a short warm-up run
    for _ in range(120):
        c = _proc_cpu(srv.pid)
        time.sleep(1)
        if _proc_cpu(srv.pid) - c < 0.05:
            break
    wrk(3)
    cpu0, helpers0 = _proc_cpu(srv.pid), _descendants_cpu(srv.pid)
    out = wrk(seconds)
    server_cpu = _proc_cpu(srv.pid) - cpu0
    helpers_cpu = _descendants_cpu(srv.pid) - helpers0
    srv.terminate()
    srv.wait(60)
    with Store(db) as s:
        stored = s.scope().one("SELECT count(*) FROM events")[0]
    reqs = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def lat(p: str) -> str:
        m = re.search(rf"\s{p}%\s+([\d.]+\w+)", out)
        return m.group(1) if m else "?"

    measured = round(reqs * seconds) * 100
    return {"seconds": seconds, "connections": connections, "events_per_request": 100,
            "events_per_s": round(reqs * 100), "p50": lat("50"), "p99": lat("99"),
            "server_cpu_us_per_event": round(server_cpu / max(measured, 1) * 1e6, 1),
            # the parsing processes (wayfare serve --parse-workers; one on a 2-core machine)
            "parse_processes_cpu_us_per_event": round(helpers_cpu / max(measured, 1) * 1e6, 1),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0, "events_stored": stored}


def _descendants_cpu(pid: int) -> float:
    """CPU seconds used so far by the processes under ``pid`` (the parsing processes, started via a forkserver)."""
    from soak import descendants  # benchmarks/soak.py: this folder is on the path when run as a script

    total = 0.0
    for p in descendants(pid):
        try:
            total += _proc_cpu(p)
        except OSError:
            pass
    return total


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_inprocess(tmp: Path, batches: int = 300) -> dict:
    """CPU per event of the server's two halves, in process (no HTTP): parse + checks + row building, and the
    writer (dedupe, identity resolution, Arrow insert, profiles) in 10k-row group commits. CPU seconds, so the
    figures hold on a shared machine where wall time does not."""
    import resource

    import orjson

    from wayfare.ingest.messages import batch_rows
    from wayfare.ingest.pipeline import write_rows
    from wayfare.store import Store

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    names = ["Menu Viewed", "Table Booked", "Order Completed", "Page Viewed"]
    bodies = []
    for c in range(batches):  # the same messages as ingest_wrk.lua
        msgs = [{"type": "track", "event": names[(c * 100 + i) % 4], "userId": f"u{(c * 100 + i) % 5000}",
                 "messageId": f"w{c}-{i}", "timestamp": "2026-11-20T12:00:00Z",
                 "properties": {"revenue": (c * 100 + i) % 50, "channel": "web", "item": "Lasagne"}} for i in range(100)]
        bodies.append(orjson.dumps({"batch": msgs}))
    received = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    import gc

    gc.freeze()  # as `wayfare serve` does (web/app.py serve): the young generation every 50k allocations
    old_threshold = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    c0 = cpu()
    rows = []
    for raw in bodies:  # what the server does with a body (routes.Ingest.answer)
        body = orjson.loads(raw)
        rows.append(batch_rows(body["batch"], received, "http:bench", sizes=len(raw) > 32 * 1024))
    parse = (cpu() - c0) / (batches * 100) * 1e6
    with Store(tmp / "inproc.db") as s:
        scope = s.scope("default")
        c0 = cpu()
        for k in range(0, batches, 100):
            with s.transaction() as con:
                write_rows(scope, [r for rs in rows[k:k + 100] for r in rs], con)
        write = (cpu() - c0) / (batches * 100) * 1e6
    gc.set_threshold(*old_threshold)
    gc.unfreeze()
    return {"events": batches * 100, "parse_us_per_event_cpu": round(parse, 1),
            "write_us_per_event_cpu": round(write, 1),
            "one_core_ceiling_events_per_s": round(1e6 / (parse + write))}


def venv_size() -> str:
    out = subprocess.run(["du", "-sh", sys.prefix], capture_output=True, text=True).stdout.split()
    return out[0] if out else "?"


def main() -> None:
    quick = "--quick" in sys.argv
    tmp = Path(tempfile.mkdtemp(prefix="wayfare-bench-"))
    only = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")), None)
    if "--only" in sys.argv:
        only = sys.argv[sys.argv.index("--only") + 1]
    benches = {
        "http_ingest": lambda: bench_http(tmp, seconds=5 if quick else 20),
        # half the clients in flight: the latency a lighter (still saturating) load sees
        "http_ingest_c16": lambda: bench_http(tmp, seconds=5 if quick else 20, connections=16),
        "in_process_cpu": lambda: bench_inprocess(tmp),
        "bare_duckdb_append": lambda: bench_bare_append(tmp, 200_000 if quick else 1_000_000),
        "csv_import": lambda: bench_csv(tmp),
        "demo_generation": lambda: bench_demo(tmp, 10_000 if quick else 100_000),
        "venv_size": venv_size,
    }
    wanted = only.split(",") if only else list(benches)
    unknown = [w for w in wanted if w not in benches]
    if unknown:
        sys.exit(f"--only: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(benches)}")
    res = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
           "date": dt.date.today().isoformat(), "load_avg_1m": round(os.getloadavg()[0], 2),
           "python_loop_10M_s": python_loop()}
    res.update({name: benches[name]() for name in wanted})
    res["python_loop_10M_s_after"] = python_loop()
    print(json.dumps(res, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
