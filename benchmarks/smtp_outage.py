"""SMTP down for a while (issue 9): N order confirmations while nothing listens on the SMTP port for DOWN
simulated minutes, then a real aiosmtpd server on that port; the clock is driven by ``run_until``.
Counts failed attempts per send, deliveries, duplicates and misses, how long after the server's return the
last message went out, and the engine passes it took. Figures in benchmarks/TRUST.md ("SMTP down").

    python benchmarks/smtp_outage.py [--people 200] [--down 90] [--json]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import socket
import tempfile
import threading
import time

from aiosmtpd.controller import Controller

from wayfare.automate import enable_flow, load_flow, run_until
from wayfare.channels import smtp_settings
from wayfare.ingest import to_row, write_rows
from wayfare.store import Store


class Sink:
    def __init__(self) -> None:
        self.got: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            for r in envelope.rcpt_tos:
                self.got[r] += 1
        return "250 OK"


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(people: int, down_min: int) -> dict:
    t0 = dt.datetime(2026, 12, 1, 10, 0)
    down = dt.timedelta(minutes=down_min)
    with tempfile.TemporaryDirectory() as d, Store(f"{d}/outage.db") as st:
        sc = st.scope()
        enable_flow(sc, load_flow("order-confirmation"), since=t0 - dt.timedelta(minutes=1))
        rows = []
        for i in range(people):
            rows.append(to_row({"type": "identify", "userId": f"u{i}", "traits": {"email": f"u{i}@example.org"},
                                "messageId": f"id{i}"}, t0, "bench"))
            rows.append(to_row({"type": "track", "userId": f"u{i}", "event": "Order Completed", "messageId": f"o{i}",
                                "timestamp": t0.isoformat(), "properties": {"order_id": f"A{i}", "revenue": 10}},
                               t0, "bench"))
        write_rows(sc, rows)
        port = _free_port()
        settings = smtp_settings(f"smtp://127.0.0.1:{port}", "shop@example.org")
        w0 = time.time()
        during = run_until(sc, t0 + down, start=t0, settings=settings)
        sink = Sink()
        c = Controller(sink, hostname="127.0.0.1", port=port)
        c.start()
        try:
            after = run_until(sc, t0 + dt.timedelta(hours=30), start=t0 + down, settings=settings)
        finally:
            c.stop()
        wall = time.time() - w0
        attempts = collections.Counter(int(r[0]) for r in sc.rows("SELECT attempts FROM sends"))
        last = sc.one("SELECT max(logged_at) FROM automation_log WHERE outcome = 'sent'")[0]
        status = dict(sc.rows("SELECT status, count(*) FROM sends GROUP BY 1"))
    return {"people": people, "down_minutes": down_min, "attempts_during_outage": during.get("retrying", 0),
            "sent_during_outage": during.get("sent", 0), "sent_after": after.get("sent", 0),
            "failed": during.get("failed", 0) + after.get("failed", 0), "delivered": len(sink.got),
            "duplicates": sum(v - 1 for v in sink.got.values() if v > 1), "missing": people - len(sink.got),
            "failed_attempts_per_send": dict(sorted(attempts.items())), "status": status,
            "last_sent_after_recovery_min": round(((last - t0) - down).total_seconds() / 60, 1) if last else None,
            "passes": during["passes"] + after["passes"], "wall_s": round(wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=200)
    ap.add_argument("--down", type=int, default=90, help="simulated minutes with nothing listening")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res = run(a.people, a.down)
    print(json.dumps(res) if a.json else "\n".join(f"{k}: {v}" for k, v in res.items()))


if __name__ == "__main__":
    main()
