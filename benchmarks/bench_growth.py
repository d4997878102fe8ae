"""Growth benchmark: recommendations on the real Online Retail data (time split, model vs popularity),
/v1/personalize latency on a real server, lead scoring and what-if times on a demo store.

    python benchmarks/bench_growth.py [--customers 5000] [--requests 2000] [--skip-import]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from wayfare.growth.leads import save_scores, score_people
from wayfare.growth.personalize import set_slot, user_hash, workspace_secret
from wayfare.growth.recommend import ItemKNN, evaluate, load_interactions
from wayfare.growth.whatif import whatif
from wayfare.store import Store, create_key

DATA = Path(os.environ.get("WAYFARE_SHARED_DATA", "/work/shared/data")) / "online_retail" / "online_retail.csv.gz"


def wf(db: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", *args], check=True, capture_output=True)


def recommendations(tmp: Path, skip_import: bool) -> list[str]:
    out = []
    if not skip_import:
        db = tmp / "or.db"
        t = time.perf_counter()
        wf(db, "import", str(DATA), "--map", "InvoiceNo=anonymous_id", "--map", "CustomerID=user_id",
           "--event", "Product Purchased", "--json")
        t_imp = time.perf_counter() - t
        with Store(db) as s:
            t = time.perf_counter()
            data = load_interactions(s.scope("default"))
            t_load = time.perf_counter() - t
        out.append(f"Import of {DATA.name} through `wayfare import` (541,909 line items): {t_imp:.1f} s; "
                   f"item extraction from the store ({len(data):,} purchase line items, returns/cancellations "
                   f"dropped): {t_load:.2f} s.")
    else:
        raw = pd.read_csv(DATA, encoding="latin-1", dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
        raw = raw[raw.Quantity > 0]
        data = pd.DataFrame({"person_id": raw.CustomerID.fillna("inv:" + raw.InvoiceNo), "item": raw.StockCode,
                             "kind": "purchase", "ts": pd.to_datetime(raw.InvoiceDate, format="mixed")})
    out += ["", "| cutoff | customers evaluated | model hit@10 | popularity hit@10 | model NDCG@10 | popularity NDCG@10 | seconds |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for cut in (None, "2011-07-01"):
        t = time.perf_counter()
        r = evaluate(data, cutoff=pd.Timestamp(cut) if cut else None, model=ItemKNN())
        dt_ = time.perf_counter() - t
        m, p = r["model"], r["popularity"]
        label = f"{r['cutoff'][:10]}" + (" (default, 80% of range)" if cut is None else "")
        out.append(f"| {label} | {r['users_evaluated']:,} | **{m['hit_rate_at_10']:.4f}** | {p['hit_rate_at_10']:.4f} | "
                   f"**{m['ndcg_at_10']:.4f}** | {p['ndcg_at_10']:.4f} | {dt_:.1f} |")
    return out


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def personalize_latency(tmp: Path, customers: int, requests: int) -> list[str]:
    db = tmp / "demo.db"
    wf(db, "demo", "--business", "shop", "--customers", str(customers), "--seed", "7")
    with Store(db) as s:
        sc = s.scope("default")
        key = create_key(s, "default", "ingest")["key"]
        secret = workspace_secret(sc)
        set_slot(sc, "banner", "first_time", {"text": "Welcome"})
        set_slot(sc, "banner", "customer", {"text": "Welcome back"}, priority=5)
        t = time.perf_counter()
        res = score_people(sc)
        save_scores(sc, res)
        t_score = time.perf_counter() - t
        n_people = len(res["people"])
        t = time.perf_counter()
        steps = [r[0] for r in sc.rows("SELECT event FROM events WHERE type = 'track' GROUP BY 1 ORDER BY count(*) DESC LIMIT 3")]
        step = next(e for e in steps if "order" not in e.lower())
        whatif(sc, step, 0.5)
        t_whatif = time.perf_counter() - t
        users = [r[0] for r in sc.rows("SELECT value FROM identities WHERE kind = 'user_id' ORDER BY value LIMIT 500")]
        n_events = sc.one("SELECT count(*) FROM events")[0]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "wayfare", f"--db={db}", "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        rng = np.random.default_rng(0)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=(key, "")) as c:
            for u in users[:50]:
                c.get("/v1/personalize", params={"user_id": u, "user_hash": user_hash(secret, u)})
            time.sleep(3)  # the recommendation model is fitted in the background on first use
            lat = {"known (verified user id)": [], "unknown visitor": []}
            for i in range(requests):
                if i % 2:
                    u = users[int(rng.integers(len(users)))]
                    params, kind = {"user_id": u, "user_hash": user_hash(secret, u)}, "known (verified user id)"
                else:
                    params, kind = {"anonymous_id": str(uuid.uuid4())}, "unknown visitor"
                t = time.perf_counter()
                r = c.get("/v1/personalize", params=params)
                lat[kind].append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
    finally:
        proc.terminate()
        proc.wait(30)
    out = [f"Demo shop store: {customers:,} customers, {n_people:,} people, {n_events:,} events.",
           f"`score_people` + `save_scores` (points, learned score, stages): {t_score:.2f} s; "
           f"what-if for {step!r}: {t_whatif:.2f} s.", "",
           "| /v1/personalize (sequential, httpx keep-alive) | requests | p50 ms | p95 ms | p99 ms |", "| --- | --- | --- | --- | --- |"]
    for kind, xs in lat.items():
        a = np.array(xs) * 1000
        out.append(f"| {kind} | {len(a)} | {np.percentile(a, 50):.2f} | {np.percentile(a, 95):.2f} | {np.percentile(a, 99):.2f} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--skip-import", action="store_true", help="evaluate on the CSV rows directly, not via the store")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        lines = ["## Growth (2026-11-24, 2 cores, Python 3.11)",
                 f"`python benchmarks/bench_growth.py --customers {a.customers} --requests {a.requests}"
                 + (" --skip-import" if a.skip_import else "") + "`", "",
                 "### Recommendations on Online Retail (time split; test = items each customer bought after the cutoff "
                 "that they had not bought before; item-kNN vs popularity, both excluding owned items)", ""]
        lines += recommendations(tmp, a.skip_import)
        lines += ["", "### Personalisation API, lead scoring, what-if", ""]
        lines += personalize_latency(tmp, a.customers, a.requests)
        lines += ["", "Load average at the end (1/5/15 min, shared box): " + " / ".join(f"{x:.1f}" for x in os.getloadavg())]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
