"""Bounded soak of `wayfare serve` on loopback (issue 9, item 6): a steady ingest rate for a fixed time while the
scheduler sends order confirmations to a real SMTP server (aiosmtpd) and an owner keeps opening dashboard pages.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--rate 200] [--batch 20] [--probe off|light|trace] [--keep]
                                        [--warm-traffic MIN]

The clock starts once the server's start-up work (the dashboard's warmers, which load models once) has gone quiet,
and with ``--warm-traffic MIN`` after MIN more minutes of the same traffic (a server that has been up a while).
Measures the server's resident memory (with its parsing processes') over time (means over 30 s at the start, middle and end, and the least-squares
slope in MB/min), ingest latency per request (p50/p99), dashboard page latency, and afterwards counts every
acknowledged event in the store (goal: nothing lost, nothing doubled) and the confirmations that reached the SMTP
server. Prints one JSON document ending in a verdict: memory flat (slope over the second half <= 2 MB/min), p99 under
100 ms, nothing lost or doubled. The machine's load average at the start and end is recorded with it.

``--probe light`` runs the server in this script's process instead of `wayfare serve` (same app, same uvicorn) and
samples it from inside every 10 s: RSS, DuckDB's own accounting (duckdb_memory()), the WAL size, GC pauses, the
group committer's flush timings (waiting for the write lock / writing / committing) and who held the store's write
lock for how long. ``--probe trace`` adds tracemalloc (Python's heap by line; slows the server a lot).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long soak password 42"


def soak_event(n: int, mid: str) -> dict:
    """The soak's n-th event: a page view by one of 5,000 visitors, and every 50th a real order, which the
    order-confirmation flow confirms by email."""
    person = f"soak-{n % 5000}"
    if n % 50 == 0:
        return {"type": "track", "event": "Order Completed", "messageId": mid, "userId": person,
                "properties": {"revenue": 25.0, "order_id": mid}, "context": {"traits": {"email": f"{person}@example.org"}}}
    return {"type": "page", "name": "Menu", "messageId": mid, "anonymousId": person, "properties": {"path": "/menu"}}


PAGES = ["/", "/journey", "/funnels", "/customers", "/feedback", "/automations", "/predictions", "/inbox"]


class OwnerSession:
    """The soak's owner, logged in to the dashboard over loopback. The session cookie is Secure, so the client
    would not send it back over plain HTTP: the cookies are kept here by hand."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=60, follow_redirects=False)
        self.jar: dict[str, str] = {}
        html = self.get("/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
        self._keep(self.client.post("/login", headers=self._cookies(), data={
            "email": "owner@example.org", "password": PASSWORD, "csrf": token, "next": "/"}))

    def _keep(self, r: httpx.Response) -> httpx.Response:
        for raw in r.headers.get_list("set-cookie"):
            name, _, rest = raw.partition("=")
            self.jar[name.strip()] = rest.split(";", 1)[0]
        return r

    def _cookies(self) -> dict:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.jar.items())}

    def get(self, path: str) -> httpx.Response:
        return self._keep(self.client.get(path, headers=self._cookies()))

    def __enter__(self) -> OwnerSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wf(db: Path, *args: str, stdin: str | None = None, env: dict | None = None) -> str:
    return subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", *args], input=stdin, capture_output=True,
                          text=True, check=True, env=env).stdout


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory in MB from /proc/PID/status: VmRSS (all), RssAnon (heap: Python, DuckDB, native) or RssFile
    (file-backed pages: shared libraries and memory-mapped files)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def descendants(pid: int) -> list[int]:
    """The processes under ``pid`` (the server's parsing processes and their forkserver)."""
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for child, ppid in parent.items():
            if ppid == p and child not in out:
                out.append(child)
                todo.append(child)
    return out


def helpers_rss_mb(pid: int) -> float:
    total = 0.0
    for p in descendants(pid):
        try:
            total += rss_mb(p)
        except OSError:
            pass
    return total


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.count += 1
        return "250 OK"


FLAT_MB_PER_MIN = 2.0  # the verdict's bar for "memory stays flat" (least-squares slope of RSS, second half)


def _slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    if len(points) < 3:
        return None
    mt = statistics.mean(t for t, _ in points)
    mm = statistics.mean(m for _, m in points)
    den = sum((t - mt) ** 2 for t, _ in points)
    return round(sum((t - mt) * (m - mm) for t, m in points) / den * 60, 2) if den else None


def _near(mem: list[tuple[float, float]], at: float) -> float | None:
    """Mean RSS over the 30 s before ``at`` (seconds into the run)."""
    xs = [m for t, m in mem if at - 30 <= t <= at]
    return round(statistics.mean(xs), 1) if xs else None


def pct(xs: list[float], p: float) -> float | None:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p * len(xs)))] * 1000, 1) if xs else None


class _HoldTimer:
    """The store's write lock (an RLock), timing each outermost hold per thread name: who keeps ingest waiting."""

    def __init__(self, lock) -> None:
        self._lock = lock
        self._local = threading.local()
        self.by_thread: dict[str, list[float]] = {}  # name -> [holds, total s, max s, holds over 50 ms]

    def acquire(self, *a, **k) -> bool:
        ok = self._lock.acquire(*a, **k)
        if ok:
            depth = getattr(self._local, "depth", 0)
            if depth == 0:
                self._local.t0 = time.perf_counter()
            self._local.depth = depth + 1
        return ok

    def release(self) -> None:
        self._local.depth -= 1
        if self._local.depth == 0:
            held = time.perf_counter() - self._local.t0
            name = threading.current_thread().name.split(" ")[0].rstrip("_0123456789-")
            st = self.by_thread.setdefault(name, [0, 0.0, 0.0, 0])
            st[0] += 1
            st[1] += held
            st[2] = max(st[2], held)
            st[3] += held > 0.05
        self._lock.release()

    __enter__ = acquire

    def __exit__(self, *exc) -> None:
        self.release()

    @property
    def acquisitions(self) -> int:  # store.WriteLock's count (the ingest writer's identity cache reads it)
        return self._lock.acquisitions

    def as_dict(self) -> dict:
        return {k: {"holds": v[0], "total_ms": round(v[1] * 1000), "max_ms": round(v[2] * 1000, 1), "over_50ms": v[3]}
                for k, v in self.by_thread.items()}


def _native_heaps() -> dict:
    """Who else holds native memory: glibc's heap (Python's objects over 512 bytes, numpy, most C extensions) and
    Arrow's memory pool (the writer's record batches); DuckDB's jemalloc is the rest of RSS − duckdb_memory()."""
    out: dict = {}
    try:
        import ctypes

        class _Mallinfo2(ctypes.Structure):
            _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                        "fsmblks", "uordblks", "fordblks", "keepcost")]

        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
        mi = libc.mallinfo2()
        out["glibc_used_mb"] = round((mi.uordblks + mi.hblkhd) / 2**20, 1)
        out["glibc_free_mb"] = round(mi.fordblks / 2**20, 1)
    except (OSError, AttributeError):
        pass
    if "pyarrow" in sys.modules:
        pa = sys.modules["pyarrow"]
        pool = pa.default_memory_pool()
        out["arrow_mb"] = round(pool.bytes_allocated() / 2**20, 1)
        out["arrow_max_mb"] = round(pool.max_memory() / 2**20, 1)
        out["arrow_pool"] = pool.backend_name
    return out


def probed_serve(db: str, port: int, probe: Path, trace: bool) -> None:
    """`wayfare serve` in this process, sampling every 10 s what holds memory: the process's RSS, Python's heap
    (tracemalloc, with the lines whose allocations grew most since the first sample after warm-up), DuckDB's own
    accounting (duckdb_memory()) and the garbage collector's pauses."""
    import gc
    import tracemalloc

    import uvicorn

    from wayfare.store import Store
    from wayfare.web import collector
    from wayfare.web.app import create_app, tune_gc

    if trace:
        tracemalloc.start(1)  # one frame: deeper tracebacks slowed the server tenfold
    pauses: list[float] = []
    t_gc = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            t_gc[0] = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - t_gc[0])

    gc.callbacks.append(on_gc)
    store = Store(db)
    holds = _HoldTimer(store.write_lock)
    store.write_lock = holds  # type: ignore[assignment]  # who holds the writer, and for how long
    from wayfare.ingest.parsepool import default_workers

    app = create_app(store, default_workers())  # as `wayfare serve`
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    tune_gc()  # as `wayfare serve`
    t0 = time.time()

    def sample() -> None:
        base = None
        cur = store.cursor()
        with probe.open("a") as f:
            while not server.should_exit:
                time.sleep(10)
                duck = dict(cur.execute("SELECT tag, memory_usage_bytes FROM duckdb_memory()").fetchall())
                row = {"t": round(time.time() - t0, 1), "rss_mb": round(rss_mb(os.getpid()), 1),
                       "rss_anon_mb": round(rss_mb(os.getpid(), "RssAnon"), 1),
                       "rss_file_mb": round(rss_mb(os.getpid(), "RssFile"), 1),
                       "duckdb_mb": round(sum(duck.values()) / 2**20, 1),
                       "duckdb_top": {k: round(v / 2**20, 1) for k, v in sorted(duck.items(), key=lambda kv: -kv[1])[:4]},
                       # DuckDB's buffer-pool eviction queues: nodes of freed buffers ("dead") stay until a purge,
                       # and with them the freed buffers' handles -- memory that duckdb_memory() does not count
                       "evict_nodes_k": round(sum(r[0] for r in cur.execute(
                           "SELECT approximate_size FROM duckdb_eviction_queues()").fetchall()) / 1000, 1),
                       "evict_dead_k": round(sum(r[0] for r in cur.execute(
                           "SELECT dead_nodes FROM duckdb_eviction_queues()").fetchall()) / 1000, 1),
                       "gc_pauses": len(pauses), "gc_max_ms": round(max(pauses, default=0) * 1000, 1),
                       "gc_over_20ms": sum(1 for p in pauses if p > 0.02)}
                committer = app.state.wayfare.committer
                if committer is not None:
                    row["flushes"] = committer.flushes
                    row["flush"] = committer.stats.as_dict()
                wal = Path(db + ".wal")
                row["wal_mb"] = round(wal.stat().st_size / 2**20, 1) if wal.exists() else 0.0
                row["write_lock"] = holds.as_dict()
                row["py_blocks_k"] = sys.getallocatedblocks() // 1000
                row["gc_runs"] = [g["collections"] for g in gc.get_stats()]  # per generation: did a full one run?
                row["collector"] = collector.STATS.as_dict()  # the server's clocked full passes
                row.update(_native_heaps())
                row["cache_trim"] = {**store.trim_stats, "dropped_mb": round(store.trimmed_bytes / 2**20, 1)}
                row["threads"] = threading.active_count()
                row["modules"] = len(sys.modules)
                row["torch"] = "torch" in sys.modules
                if trace and int(row["t"]) % 30 < 10:  # a snapshot every 30 s: they cost seconds of the GIL
                    snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
                    row["py_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
                    if base is None and time.time() - t0 > 60:
                        base = snap
                    elif base is not None:
                        row["py_growth"] = [f"{st.size_diff / 2**20:+.1f} MB {st.traceback[0].filename.split('site-packages/')[-1]}:{st.traceback[0].lineno}"
                                            for st in snap.compare_to(base, "lineno")[:10]]
                f.write(json.dumps(row) + "\n")
                f.flush()

    threading.Thread(target=sample, daemon=True).start()
    try:
        server.run()
    finally:
        store.close()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--probed-serve":  # the server side of --probe (internal)
        probed_serve(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5] == "trace")
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=int, default=200, help="events per second")
    ap.add_argument("--batch", type=int, default=20, help="events per /v1/batch request")
    ap.add_argument("--probe", choices=["off", "light", "trace"], default="off",
                    help="sample the server from inside every 10 s: light = RSS, DuckDB memory, GC pauses; trace = "
                         "also Python's heap by line (tracemalloc slows the server: not for latency figures)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary store and logs")
    ap.add_argument("--warm-traffic", type=float, default=0, metavar="MIN",
                    help="run the same traffic MIN minutes before the clock starts (steady state, not a fresh process)")
    ap.add_argument("--memray", metavar="FILE", help="run `wayfare serve` under memray (pip install memray), native "
                    "stacks, writing FILE; what grew between two moments, by stack: benchmarks/memray_growth.py FILE; "
                    "not for latency (the server keeps ~60%% of the rate)")
    ap.add_argument("--no-pages", action="store_true", help="no owner browsing (to tell ingest's memory from the pages')")
    ap.add_argument("--resend", type=int, metavar="N", default=0,
                    help="draw message ids from a fixed pool of N, so that after the first N events every event is a "
                         "client retry of one already stored: the store stops growing, the request path does not "
                         "(to tell memory that grows with the data from memory that grows with the traffic)")
    a = ap.parse_args()
    if a.memray and a.probe != "off":  # the probe runs its own server process: memray would record nothing
        ap.error("--memray records `wayfare serve` itself: leave --probe off")

    tmp = Path(tempfile.mkdtemp(prefix="wayfare-soak-"))
    db = tmp / "soak.db"
    sink = Sink()
    smtp_port = free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    env = {**os.environ, "WAYFARE_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", "WAYFARE_MAIL_FROM": "shop@example.org"}
    wf(db, "demo", "--business", "shop", "--customers", "2000", "--seed", "7", "--json")
    key = json.loads(wf(db, "keys", "create", "--scope", "ingest", "--json"))["key"]
    wf(db, "users", "create", "--email", "owner@example.org", "--password-stdin", "--role", "owner", stdin=PASSWORD)
    wf(db, "flows", "enable", "order-confirmation", env=env)
    port = free_port()
    log = open(tmp / "serve.log", "ab")
    probe = tmp / "probe.jsonl"
    cmd = [sys.executable, "-m", "wayfare", f"--db={db}", "serve", "--port", str(port)]
    if a.memray:
        cmd = [sys.executable, "-m", "memray", "run", "--native", "--force", "-o", a.memray, *cmd[1:]]
    if a.probe != "off":
        cmd = [sys.executable, __file__, "--probed-serve", str(db), str(port), str(probe), a.probe]
    srv = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    # the server's start-up work (dashboard warmers: queries, models, the assistant's sentence model) is a one-off
    # that takes memory once; the clock starts when the server has gone quiet (under 5% of a core for a second)
    warm_s = time.time()
    for _ in range(180):
        c = _proc_cpu(srv.pid)
        time.sleep(1)
        if _proc_cpu(srv.pid) - c < 0.05:
            break
    warm_s = round(time.time() - warm_s, 1)
    auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    stop = threading.Event()
    acked: list[str] = []
    orders: list[str] = []
    ingest_lat: list[float] = []
    page_lat: list[float] = []
    errors: list[str] = []
    mem: list[tuple[float, float]] = []
    helper_mem: list[float] = []
    server_mem: list[tuple[float, float]] = []
    load_start = list(os.getloadavg())
    t_start = time.time()

    def ingest() -> None:
        interval = a.batch / a.rate
        n = 0
        with httpx.Client(base_url=url, timeout=30) as c:
            nxt = time.time()
            while not stop.is_set():
                batch = []
                for _ in range(a.batch):
                    n += 1
                    batch.append(soak_event(n, f"soak-resend-{n % a.resend}" if a.resend else uuid.uuid4().hex))
                t0 = time.perf_counter()
                try:
                    r = c.post("/v1/batch", json={"batch": batch}, headers=auth)
                    ingest_lat.append(time.perf_counter() - t0)
                    if r.status_code < 300:
                        acked.extend(e["messageId"] for e in batch)
                        orders.extend(e["messageId"] for e in batch if e["type"] == "track")
                    else:
                        errors.append(f"ingest {r.status_code}")
                except httpx.HTTPError as e:
                    errors.append(f"ingest {type(e).__name__}")
                nxt += interval
                time.sleep(max(0.0, nxt - time.time()))

    def owner() -> None:
        with OwnerSession(url) as owner_session:
            i = 0
            while not stop.is_set():
                t0 = time.perf_counter()
                r = owner_session.get(PAGES[i % len(PAGES)])
                page_lat.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors.append(f"page {PAGES[i % len(PAGES)]} {r.status_code}")
                i += 1
                stop.wait(2.0)

    threads = [threading.Thread(target=ingest)] + ([] if a.no_pages else [threading.Thread(target=owner)])
    for t in threads:
        t.start()
    if a.warm_traffic:
        # the same traffic before the clock: one-off growth of a fresh process under load (DuckDB's eviction
        # queues fill to their purge level, ~200 k nodes, in the first ~7 minutes) is not what a soak measures
        time.sleep(a.warm_traffic * 60)
        ingest_lat.clear()
        page_lat.clear()
        load_start = list(os.getloadavg())
        t_start = time.time()
    deadline = t_start + a.minutes * 60
    while time.time() < deadline:
        # the server's resident memory plus its parsing processes' (a sum of RSS: shared pages counted twice)
        helpers = helpers_rss_mb(srv.pid)
        server_mb = rss_mb(srv.pid)
        mem.append((round(time.time() - t_start, 1), round(server_mb + helpers, 1)))
        server_mem.append((round(time.time() - t_start, 1), round(server_mb, 1)))
        helper_mem.append(round(helpers, 1))
        time.sleep(5)
    stop.set()
    for t in threads:
        t.join()
    time.sleep(5)  # let the scheduler catch up with the last orders
    srv.terminate()
    srv.wait(60)
    smtp.stop()

    import duckdb  # after the server has closed the file

    con = duckdb.connect(str(db), read_only=True)
    con.execute("CREATE TEMP TABLE acked(mid VARCHAR)")
    con.executemany("INSERT INTO acked VALUES (?)", [[m] for m in dict.fromkeys(acked)])  # --resend acks ids again
    found = con.execute("SELECT count(DISTINCT a.mid), count(*) FROM acked a JOIN events e ON e.message_id = a.mid")\
        .fetchone()
    rss = {label: _near(mem, at) for label, at in (("start", 60), ("middle", a.minutes * 30), ("end", a.minutes * 60))}
    slope_all = _slope([(t, m) for t, m in mem if t >= 60])
    slope_late = _slope([(t, m) for t, m in mem if t >= a.minutes * 30])
    p99 = pct(ingest_lat, 0.99)
    lost, doubled = len(set(acked)) - found[0], found[1] - found[0]
    flat = slope_late is not None and slope_late <= FLAT_MB_PER_MIN
    fast = p99 is not None and p99 < 100
    out = {
        "minutes": a.minutes, "rate_events_per_s": a.rate, "batch": a.batch, "server_warm_up_s": warm_s,
        "rss_mb_after_warm_up": mem[0][1] if mem else None,
        "load_average_start": load_start, "load_average_end": list(os.getloadavg()),
        "acked_events": len(set(acked)), "acked_requests_events": len(acked), "stored_acked": found[0], "stored_rows_for_acked": found[1],
        "lost": lost, "doubled": doubled,
        "ingest_requests": len(ingest_lat), "ingest_p50_ms": pct(ingest_lat, 0.50), "ingest_p99_ms": p99,
        "ingest_max_ms": pct(ingest_lat, 1.0), "ingest_over_100ms": sum(1 for x in ingest_lat if x > 0.1),
        "page_views": len(page_lat), "page_p50_ms": pct(page_lat, 0.5), "page_p95_ms": pct(page_lat, 0.95),
        "parse_processes_rss_mb": {"start": helper_mem[0] if helper_mem else None,
                                   "end": helper_mem[-1] if helper_mem else None},
        "rss_mb": rss, "rss_mb_max": max(m for _, m in mem) if mem else None,
        "warm_traffic_minutes": a.warm_traffic,
        "server_only_slope_mb_per_min_second_half": _slope([(t, m) for t, m in server_mem if t >= a.minutes * 30]),
        "rss_slope_mb_per_min_after_first_minute": slope_all, "rss_slope_mb_per_min_second_half": slope_late,
        "orders": len(set(orders)), "confirmations_received": sink.count, "resend_pool": a.resend or None,
        "errors": errors[:20], "error_count": len(errors),
        "verdict": {
            "memory_flat": flat, "p99_under_100ms": fast, "nothing_lost_or_doubled": lost == 0 and doubled == 0,
            "summary": (f"memory {'flat' if flat else 'GROWING'} ({slope_late} MB/min over the second half, "
                        f"goal <= {FLAT_MB_PER_MIN}); p99 {p99} ms ({'met' if fast else 'NOT met'}, goal < 100); "
                        f"lost {lost}, doubled {doubled}"),
        },
    }
    if a.probe != "off" and probe.exists():
        samples = [json.loads(line) for line in probe.read_text().splitlines() if line.strip()]
        out["probe"] = {"samples": samples[:: max(1, len(samples) // 12)] + samples[-1:]}
    if a.keep:
        out["kept"] = str(tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
