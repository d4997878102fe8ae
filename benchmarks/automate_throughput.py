"""Send throughput of the automation engine (issue 6, item 8): N people enter ``order-confirmation`` at
once and every due email is delivered to a real aiosmtpd server on loopback (its own process).

    python benchmarks/automate_throughput.py --people 1000 [--profile out.prof] [--json]
    python benchmarks/automate_throughput.py --people 100000 --queue-workers 2   # through PostgreSQL

With ``--queue-workers W`` the engine puts messages into a delivery queue on a scratch PostgreSQL server
(Debian's ``postgresql``) and W ``wayfare worker --queue`` processes deliver them; reported: the engine's
queueing rate, and messages/s end to end (first queued to last received).

Reports messages/s over the whole send phase (``run_due`` passes until nothing is due), plus duplicates
and misses counted from what the server received. ``--profile`` writes cProfile stats of the send phase.
The SMTP sink and the people generator are shared with ``automate_bench.py``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from automate_bench import Sink, _check, _people  # noqa: E402


def throughput(n: int, tmp: Path, profile: str | None = None) -> dict:
    from wayfare.automate import enable_flow, load_flow, run_due, scan_triggers
    from wayfare.channels import smtp_settings
    from wayfare.store import Store

    sink = Sink(tmp / "sink.txt")
    try:
        st = Store(tmp / "t.db")
        sc = st.scope()
        enable_flow(sc, load_flow("order-confirmation"))
        _people(sc, n)
        entered = scan_triggers(sc)
        settings = smtp_settings(sink.url, "shop@example.org")
        prof = cProfile.Profile() if profile else None
        sent = errors = passes = 0
        t0 = time.perf_counter()
        if prof:
            prof.enable()
        while True:
            r = run_due(sc, settings=settings, limit=5000)
            passes += 1
            sent += r.get("sent", 0)
            errors += r.get("errors", 0)
            if r["due"] == 0 or r["due"] == r.get("errors", 0):
                break
        send_s = time.perf_counter() - t0
        if prof:
            prof.disable()
            prof.dump_stats(profile)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
        time.sleep(1)
        st.close()
        res = {"people": n, "entered": entered, "passes": passes, "send_s": round(send_s, 2), "sent": sent,
               "errors": errors, **_check(sink, n)}
        res["messages_per_s"] = round(res["delivered_distinct"] / send_s, 1) if send_s else None
        return res
    finally:
        sink.stop()


def through_queue(n: int, tmp: Path, workers: int) -> dict:
    import os
    import subprocess

    from wayfare.automate import enable_flow, load_flow, run_due, scan_triggers
    from wayfare.automate.outbox import outbox_for
    from wayfare.automate.worker import _sync
    from wayfare.channels import smtp_settings
    from wayfare.store import Store
    from wayfare.store.postgres import scratch_server

    sink = Sink(tmp / "sink.txt")
    procs: list[subprocess.Popen] = []
    try:
        with scratch_server() as new_db:
            url = new_db()
            os.environ["WAYFARE_QUEUE_URL"] = url
            env = {**os.environ, "WAYFARE_SMTP_URL": sink.url, "WAYFARE_MAIL_FROM": "shop@example.org"}
            st = Store(tmp / "t.db")
            sc = st.scope()
            enable_flow(sc, load_flow("order-confirmation"))
            _people(sc, n)
            entered = scan_triggers(sc)
            outbox_for(url)  # the queue's tables exist before the workers look
            procs = [subprocess.Popen([sys.executable, "-m", "wayfare", "worker", "--queue", url, "--json"],
                                      env=env, stdout=subprocess.PIPE, text=True) for _ in range(workers)]
            time.sleep(3)  # the workers' start-up (imports) is not the engine's time
            settings = smtp_settings(sink.url, "shop@example.org")
            t0 = time.perf_counter()
            queued = passes = 0
            while True:
                r = run_due(sc, settings=settings, limit=5000, deliver=False)
                passes += 1
                queued += r.get("queued", 0)
                if r["due"] == 0 or r["due"] == r.get("errors", 0):
                    break
            queue_s = time.perf_counter() - t0
            while time.perf_counter() - t0 < 3600 and _check(sink, n)["delivered_distinct"] < n:
                time.sleep(0.2)
            total_s = time.perf_counter() - t0
            synced = _sync(sc, outbox_for(url))
            for p in procs:
                p.send_signal(2)
            shares = [json.loads(p.communicate(timeout=60)[0] or "{}").get("sent") for p in procs]
            st.close()
            os.environ.pop("WAYFARE_QUEUE_URL", None)
        res = {"people": n, "entered": entered, "workers": workers, "passes": passes, "queued": queued,
               "queue_s": round(queue_s, 2), "queued_per_s": round(queued / queue_s, 1) if queue_s else None,
               "end_to_end_s": round(total_s, 2), "synced_sent": synced, "worker_shares": shares,
               **_check(sink, n)}
        res["messages_per_s"] = round(res["delivered_distinct"] / total_s, 1) if total_s else None
        return res
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        sink.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=1000)
    ap.add_argument("--profile", help="write cProfile stats of the send phase to this file")
    ap.add_argument("--queue-workers", type=int, default=0,
                    help="deliver through a PostgreSQL queue with this many worker processes")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="wf-thr-") as d:
        res = through_queue(a.people, Path(d), a.queue_workers) if a.queue_workers else \
            throughput(a.people, Path(d), a.profile)
    print(json.dumps(res) if a.json else json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
