"""Automation benchmark (issue 6): a burst of people entering a flow, every due message delivered to a real
SMTP server on loopback; segment-entry trigger evaluation over a million profiles; kill -9 during sends.

    python benchmarks/automate_bench.py [--people 100000] [--profiles 1000000] [--crash-sends 10000] [--kills 20]
    python benchmarks/automate_bench.py --quick          # 5k / 100k / 1k / 5: a smoke run

The SMTP server is aiosmtpd in its own process (so it does not share the engine's interpreter) writing one
line per accepted message (recipient, Message-ID); duplicates and misses are counted from that file.
The engine is driven only through its public surface: ``enable_flow``, ``scan_triggers``, ``run_due`` and,
for the crash test, ``wayfare flows run-due`` in a subprocess that is killed with SIGKILL.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# -- the SMTP sink (run as: automate_bench.py sink PORT FILE) -----------------------------------
def sink(port: int, out: str) -> None:
    from aiosmtpd.controller import Controller

    f = open(out, "a", buffering=1)

    class H:
        async def handle_DATA(self, server, session, envelope):
            mid = ""
            for line in envelope.content.split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    mid = line.split(b":", 1)[1].strip().decode()
                    break
                if not line:
                    break
            for r in envelope.rcpt_tos:
                f.write(f"{r}\t{mid}\n")
            return "250 OK"

    c = Controller(H(), hostname="127.0.0.1", port=port)
    c.start()
    signal.signal(signal.SIGTERM, lambda *a: (c.stop(), f.close(), os._exit(0)))
    asyncio.run(asyncio.sleep(10 ** 9))


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Sink:
    def __init__(self, path: Path):
        self.path, self.port = path, free_port()
        self.proc = subprocess.Popen([sys.executable, __file__, "sink", str(self.port), str(path)])
        t0 = time.time()
        while time.time() - t0 < 30:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the SMTP sink did not start")

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def counts(self) -> collections.Counter:
        if not self.path.exists():
            return collections.Counter()
        return collections.Counter(ln.split("\t")[0] for ln in self.path.read_text().splitlines() if ln)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# -- helpers ------------------------------------------------------------------------------------
def _people(scope, n: int, start: int = 0, batch: int = 20_000) -> float:
    """n people, each with an email and one ``Order Completed`` (through the real ingest pipeline)."""
    from wayfare.ingest import to_row, write_rows

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    t0 = time.perf_counter()
    for lo in range(start, start + n, batch):
        rows = []
        for i in range(lo, min(lo + batch, start + n)):
            rows.append(to_row({"type": "identify", "userId": f"u{i}", "messageId": f"id{i}",
                                "traits": {"email": f"u{i}@example.org", "first_name": f"P{i}"}}, now, "bench"))
            rows.append(to_row({"type": "track", "userId": f"u{i}", "event": "Order Completed", "messageId": f"o{i}",
                                "properties": {"order_id": f"A{i}", "revenue": 20 + i % 50}}, now, "bench"))
        write_rows(scope, rows)
    return time.perf_counter() - t0


def _check(sink: Sink, n: int, start: int = 0) -> dict:
    got = sink.counts()
    want = {f"u{i}@example.org" for i in range(start, start + n)}
    return {"delivered_distinct": len(want & set(got)), "missing": len(want - set(got)),
            "duplicates": sum(v - 1 for k, v in got.items() if v > 1), "unexpected": len(set(got) - want)}


# -- A: a burst entering at once ----------------------------------------------------------------
def burst(n: int, tmp: Path) -> dict:
    from wayfare.automate import enable_flow, load_flow, run_due, scan_triggers
    from wayfare.channels import smtp_settings
    from wayfare.store import Store

    sink = Sink(tmp / "burst.txt")
    try:
        st = Store(tmp / "burst.db")
        sc = st.scope()
        enable_flow(sc, load_flow("order-confirmation"))
        ingest_s = _people(sc, n)
        t0 = time.perf_counter()
        entered = scan_triggers(sc)
        trig_s = time.perf_counter() - t0
        settings = smtp_settings(sink.url, "shop@example.org")
        t0 = time.perf_counter()
        sent = errors = 0
        while True:
            r = run_due(sc, settings=settings, limit=5000)
            sent += r.get("sent", 0)
            errors += r.get("errors", 0)
            if r["due"] == 0 or r["due"] == r.get("errors", 0):
                break
        send_s = time.perf_counter() - t0
        time.sleep(1)
        st.close()
        res = {"people": n, "ingest_s": round(ingest_s, 1), "entered": entered, "trigger_s": round(trig_s, 2),
               "send_s": round(send_s, 1), "sent": sent, "errors": errors, **_check(sink, n)}
        res["messages_per_s"] = round(res["delivered_distinct"] / send_s, 1) if send_s else None
        return res
    finally:
        sink.stop()


# -- B: segment entry over a million profiles ---------------------------------------------------
def segment_entry(n: int, tmp: Path) -> dict:
    import yaml

    from wayfare.analytics.saved import refresh_segment, save_segment
    from wayfare.automate import enable_flow, load_text, scan_triggers
    from wayfare.store import Store

    st = Store(tmp / "segment.db")
    sc = st.scope()
    ws = sc.workspace_id
    t0 = time.perf_counter()
    con = st.con
    con.execute("INSERT INTO profiles SELECT ?, 'p' || i, now()::TIMESTAMP - INTERVAL 400 DAY, "
                "now()::TIMESTAMP - INTERVAL 400 DAY, now()::TIMESTAMP, json_object('email', 'p' || i || '@example.org', "
                "'city', CASE WHEN i % 3 = 0 THEN 'Leeds' ELSE 'York' END) FROM range(?) t(i)", [ws, n])
    # two orders per person in the last 90 days; revenue decides who is in the segment
    con.execute("INSERT INTO events (workspace_id, message_id, seq, type, event, person_id, user_id, ts, received_at, "
                "channel, source, revenue) SELECT ?, 'e' || i || '-' || k, nextval('event_seq'), 'track', "
                "'Order Completed', 'p' || i, 'p' || i, now()::TIMESTAMP - INTERVAL (10 + k * 20) DAY, now()::TIMESTAMP, "
                "'web', 'bench', (i % 100)::DOUBLE FROM range(?) t(i), range(2) s(k)", [ws, n])
    setup_s = time.perf_counter() - t0
    save_segment(sc, "big spenders", 'revenue_90d >= 150 and traits.city = "Leeds"')
    flow = load_text(yaml.safe_dump({"name": "vip-welcome", "purpose": "marketing",
                                     "trigger": {"segment": "big spenders", "change": "enter", "reentry": "once"},
                                     "steps": [{"type": "wait", "duration": "1d"}, {"type": "exit"}]}), "vip.yaml")
    enable_flow(sc, flow)
    t0 = time.perf_counter()
    ref = refresh_segment(sc, "big spenders")
    seg_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    entered = scan_triggers(sc, dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=1))
    scan_s = time.perf_counter() - t1
    expected = sum(1 for i in range(0, n, 3) if 2 * (i % 100) >= 150)
    st.close()
    return {"profiles": n, "events": 2 * n, "setup_s": round(setup_s, 1), "members": ref["members"],
            "expected_members": expected, "segment_refresh_s": round(seg_s, 2), "entered": entered,
            "scan_triggers_s": round(scan_s, 2), "total_s": round(seg_s + scan_s, 2)}


# -- C: kill -9 during scheduled sends ----------------------------------------------------------
def crash(n: int, kills: int, tmp: Path, seed: int = 7, life: tuple[float, float] = (0.0, 0.5)) -> dict:
    """``kills`` runs of ``wayfare flows run-due``, each SIGKILLed ``life`` seconds (uniform) after it has
    delivered a random 1 … 2n/kills messages (so every kill lands mid-sending, spread over the send), then
    restarts without kills until nothing is due; every message counted at the sink."""
    from wayfare.automate import enable_flow, load_flow, scan_triggers
    from wayfare.store import Store

    rng = random.Random(seed)
    sink = Sink(tmp / "crash.txt")
    db = tmp / "crash.db"
    try:
        st = Store(db)
        sc = st.scope()
        enable_flow(sc, load_flow("order-confirmation"))
        _people(sc, n)
        scan_triggers(sc)
        st.close()
        env = {**os.environ, "WAYFARE_SMTP_URL": sink.url, "WAYFARE_MAIL_FROM": "shop@example.org"}
        cmd = [sys.executable, "-m", "wayfare", f"--db={db}", "flows", "run-due", "--json"]
        killed, runs, delivered_at_kill = 0, 0, []
        t0 = time.perf_counter()
        while killed < kills:
            before = sum(sink.counts().values())
            p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            runs += 1
            # the kill lands while sending, spread over the whole send: after a random share of n / kills
            # more deliveries (at least one), a random moment later
            target = before + rng.randint(1, max(1, 2 * n // max(1, kills) - 1))
            while p.poll() is None and sum(sink.counts().values()) < target:
                time.sleep(0.05)
            if p.poll() is None:
                time.sleep(rng.uniform(*life))
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
                killed += 1
                delivered_at_kill.append(sum(sink.counts().values()))
                continue
            if sum(sink.counts().values()) >= n:
                break
        for _ in range(3):  # restarts without kills: reconcile and finish
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3600)
            runs += 1
        wall = time.perf_counter() - t0
        time.sleep(1)
        with Store(db) as st2:
            status = dict(st2.con.execute("SELECT status, count(*) FROM sends GROUP BY 1").fetchall())
        return {"sends": n, "kills": killed, "runs": runs, "wall_s": round(wall, 1),
                "delivered_when_killed": delivered_at_kill, "send_log": {k: int(v) for k, v in status.items()},
                **_check(sink, n)}
    finally:
        sink.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--profiles", type=int, default=1_000_000)
    ap.add_argument("--crash-sends", type=int, default=10_000)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--life", type=float, nargs=2, default=(0.0, 0.5),
                    help="seconds a run sends before SIGKILL")
    ap.add_argument("--only", choices=["burst", "segment", "crash"], default=None)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.people, a.profiles, a.crash_sends, a.kills = 5000, 100_000, 1000, 5
    out: dict = {"date": dt.date.today().isoformat(), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="wf-automate-bench-") as d:
        tmp = Path(d)
        if a.only in (None, "segment"):
            out["segment_entry"] = segment_entry(a.profiles, tmp)
            print(json.dumps(out["segment_entry"]), flush=True)
        if a.only in (None, "burst"):
            out["burst"] = burst(a.people, tmp)
            print(json.dumps(out["burst"]), flush=True)
        if a.only in (None, "crash"):
            out["crash"] = crash(a.crash_sends, a.kills, tmp, life=tuple(a.life))
            print(json.dumps(out["crash"]), flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "sink":
        sink(int(sys.argv[2]), sys.argv[3])
    else:
        main()
