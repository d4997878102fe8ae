"""Bounded soak of `wayfare serve` on loopback (issue 9, item 6): a steady ingest rate for a fixed time while the
scheduler sends order confirmations to a real SMTP server (aiosmtpd) and an owner keeps opening dashboard pages.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--rate 200] [--batch 20]

Measures the server's resident memory over time (first vs last minute), ingest latency per request (p50/p99),
dashboard page latency, and afterwards counts every acknowledged event in the store (goal: nothing lost, nothing
doubled) and the confirmations that reached the SMTP server. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
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


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wf(db: Path, *args: str, stdin: str | None = None, env: dict | None = None) -> str:
    return subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", *args], input=stdin, capture_output=True,
                          text=True, check=True, env=env).stdout


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.count += 1
        return "250 OK"


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p * len(xs)))] * 1000, 1) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=int, default=200, help="events per second")
    ap.add_argument("--batch", type=int, default=20, help="events per /v1/batch request")
    a = ap.parse_args()

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
    srv = subprocess.Popen([sys.executable, "-m", "wayfare", f"--db={db}", "serve", "--port", str(port)], stdout=log,
                           stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    stop = threading.Event()
    acked: list[str] = []
    orders: list[str] = []
    ingest_lat: list[float] = []
    page_lat: list[float] = []
    errors: list[str] = []
    mem: list[tuple[float, float]] = []
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
                    mid = uuid.uuid4().hex
                    person = f"soak-{n % 5000}"
                    if n % 50 == 0:  # now and then a real order, which the flow confirms by email
                        ev = {"type": "track", "event": "Order Completed", "messageId": mid, "userId": person,
                              "properties": {"revenue": 25.0, "order_id": mid},
                              "context": {"traits": {"email": f"{person}@example.org"}}}
                    else:
                        ev = {"type": "page", "name": "Menu", "messageId": mid, "anonymousId": person,
                              "properties": {"path": "/menu"}}
                    batch.append(ev)
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
        pages = ["/", "/journey", "/funnels", "/customers", "/feedback", "/automations", "/predictions", "/inbox"]
        jar: dict[str, str] = {}  # the session cookie is Secure: kept by hand over plain-HTTP loopback

        def keep(r: httpx.Response) -> httpx.Response:
            for raw in r.headers.get_list("set-cookie"):
                name, _, rest = raw.partition("=")
                jar[name.strip()] = rest.split(";", 1)[0]
            return r

        def hdr() -> dict:
            return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}

        with httpx.Client(base_url=url, timeout=60, follow_redirects=False) as c:
            html = keep(c.get("/login", headers=hdr())).text
            token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
            keep(c.post("/login", headers=hdr(), data={"email": "owner@example.org", "password": PASSWORD,
                                                         "csrf": token, "next": "/"}))
            i = 0
            while not stop.is_set():
                t0 = time.perf_counter()
                r = keep(c.get(pages[i % len(pages)], headers=hdr()))
                page_lat.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors.append(f"page {pages[i % len(pages)]} {r.status_code}")
                i += 1
                stop.wait(2.0)

    threads = [threading.Thread(target=ingest), threading.Thread(target=owner)]
    for t in threads:
        t.start()
    deadline = t_start + a.minutes * 60
    while time.time() < deadline:
        mem.append((round(time.time() - t_start, 1), round(rss_mb(srv.pid), 1)))
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
    con.executemany("INSERT INTO acked VALUES (?)", [[m] for m in acked])
    found = con.execute("SELECT count(DISTINCT a.mid), count(*) FROM acked a JOIN events e ON e.message_id = a.mid")\
        .fetchone()
    first = [m for t, m in mem if t <= 60]
    last = [m for t, m in mem if t >= a.minutes * 60 - 60]
    out = {
        "minutes": a.minutes, "rate_events_per_s": a.rate, "batch": a.batch,
        "acked_events": len(acked), "stored_acked": found[0], "stored_rows_for_acked": found[1],
        "lost": len(acked) - found[0], "doubled": found[1] - found[0],
        "ingest_requests": len(ingest_lat), "ingest_p50_ms": pct(ingest_lat, 0.50), "ingest_p99_ms": pct(ingest_lat, 0.99),
        "ingest_max_ms": pct(ingest_lat, 1.0),
        "page_views": len(page_lat), "page_p50_ms": pct(page_lat, 0.5), "page_p95_ms": pct(page_lat, 0.95),
        "rss_mb_first_minute": round(statistics.mean(first), 1) if first else None,
        "rss_mb_last_minute": round(statistics.mean(last), 1) if last else None,
        "rss_mb_max": max(m for _, m in mem) if mem else None,
        "orders": len(orders), "confirmations_received": sink.count,
        "errors": errors[:20], "error_count": len(errors),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
