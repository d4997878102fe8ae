"""Dashboard page server time with the demo restaurant at 100,000 customers.

    .venv/bin/python benchmarks/bench_dashboard.py [--customers 100000] [--db PATH] [--repeat 20]

For each page: the cold time (cache empty: the heavy queries run, as after new data arrives) and the
p50/p95 of ``--repeat`` requests after it (cached results, template rendering, session check), measured
in process through the ASGI app (starlette's TestClient), so it is the server's time without the network.
Also the time to warm every cached page at start-up. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

PAGES = ["/", "/journey", "/journey/cell?stage=Buy&channel=pos", "/funnels", "/paths", "/retention", "/segments",
         "/customers", "/customers?q=Smith", "/feedback", "/predictions", "/automations", "/inbox", "/import", "/settings",
         "/funnels?step=Menu%20Viewed&step=Table%20Booked&step=Order%20Completed&window=7&breakdown=persona"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--db", default=None, help="an existing demo store (made if missing)")
    ap.add_argument("--repeat", type=int, default=20)
    a = ap.parse_args()
    # page times, not retrieval: the assistant's hand-over below and the warmers use BM25 even where the
    # embedding extra is installed (loading the sentence model would be timed as warming)
    os.environ.setdefault("WAYFARE_ASSISTANT_RETRIEVAL", "bm25")
    from fastapi.testclient import TestClient

    from wayfare.assistant import ask
    from wayfare.demo.generator import generate
    from wayfare.store import Store
    from wayfare.web import auth, create_app
    from wayfare.web.dashboard import cache
    from wayfare.web.dashboard.warm import warm_all

    db = Path(a.db or Path(tempfile.mkdtemp()) / "bench.db")
    made = not db.exists()
    store = Store(db)
    t0 = time.perf_counter()
    if made:
        generate(store.scope("default"), "restaurant", a.customers, seed=1)
    gen_s = time.perf_counter() - t0
    events = store.scope("default").one("SELECT count(*) FROM events")[0]
    people = store.scope("default").one("SELECT count(*) FROM profiles")[0]
    if not auth.has_users(store):
        auth.create_user(store, "bench@example.org", "benchmark password", "owner")
    uid = auth.authenticate(store, "bench@example.org", "benchmark password")
    token = auth.start_session(store, uid)
    client = TestClient(create_app(store), base_url="http://127.0.0.1")  # no lifespan: no warming thread
    client.cookies.set(auth.SESSION_COOKIE, token)
    pid = store.scope("default").one("SELECT person_id FROM profiles ORDER BY person_id LIMIT 1")[0]
    sc = store.scope("default")
    row = sc.one("SELECT conversation_id FROM assistant_conversations WHERE status IN ('open', 'assigned') LIMIT 1")
    if row is None:  # a regular asks about catering, then for a person: one hand-over in the inbox
        regular = sc.one("SELECT person_id FROM events WHERE event = 'Order Completed' GROUP BY 1 "
                         "ORDER BY count(*) DESC, 1 LIMIT 1")[0]
        first = ask(sc, "do you cater for 40 people?", person_id=regular)
        row = (ask(sc, "I would like to talk to a person", conversation_id=first.conversation_id).conversation_id,)
    pages = PAGES + [f"/customers/{pid}", f"/inbox/{row[0]}"]
    out = {}
    for path in pages:
        for _ in range(2):  # cold twice, keep the second: the first pays one-off imports and DuckDB planning
            cache.bump(store.workspace_id("default"))
            t = time.perf_counter()
            r = client.get(path)
            cold = time.perf_counter() - t
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        times = []
        for _ in range(a.repeat):
            t = time.perf_counter()
            r = client.get(path)
            times.append(time.perf_counter() - t)
            assert r.status_code == 200
        times.sort()
        out[path] = {"cold_ms": round(cold * 1000, 1), "p50_ms": round(statistics.median(times) * 1000, 1),
                     "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)] * 1000, 1)}
    cache.bump(store.workspace_id("default"))
    import threading

    t = time.perf_counter()
    warmed = warm_all(store, threading.Event())
    warm_s = time.perf_counter() - t
    worst = max(v["p95_ms"] for v in out.values())
    print(json.dumps({"customers": people, "events": events, "generate_s": round(gen_s, 1) if made else None,
                      "warm_all_s": round(warm_s, 2), "warmed": warmed, "worst_p95_ms": worst,
                      "python": sys.version.split()[0], "pages": out}, indent=1))
    store.close()


if __name__ == "__main__":
    main()
