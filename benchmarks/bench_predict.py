"""Prediction speed on 1,000,000 simulated customers.

Part 1 (fit): BG/NBD maximum likelihood — wayfare vs lifetimes 0.11.3 vs PyMC-Marketing's MAP fit, on the same
data in one run (``--lifetimes``, ``--pymc``; each optional so the script runs where they are not installed).
Part 2 (``--scores``): a real DuckDB store with the customers' events; behavioural features, BG/NBD P(alive),
churn scores and SHAP contributions for every customer, then the whole time-split train/evaluate/score.

Run (the comparison packages live in a separate environment so the project's venv stays lean):
    PYTHONPATH=src /tmp/wf5venv/bin/python benchmarks/bench_predict.py --lifetimes --pymc --scores
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from wayfare.predict.clv import BetaGeoFitter


def simulate(n, r=0.243, alpha=4.414, a=0.793, b=2.426, seed=0):
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    T = np.round(rng.uniform(1, 52, n) * 7) / 7  # whole days, as from real data
    x, tx, t = np.zeros(n), np.zeros(n), np.zeros(n)
    alive = np.ones(n, bool)
    while alive.any():
        t_next = t + rng.exponential(1 / np.maximum(lam, 1e-12))
        buy = alive & (t_next < T)
        x[buy] += 1
        tx[buy] = np.round(t_next[buy] * 7) / 7
        t = np.where(buy, t_next, t)
        alive = buy & (rng.random(n) >= p)
    return x, tx, T


def bench_fit(n: int, with_lifetimes: bool, with_pymc: bool) -> dict:
    x, tx, T = simulate(n)
    out: dict = {"customers": n}
    t0 = time.perf_counter()
    bg = BetaGeoFitter().fit(x, tx, T)
    out["wayfare_s"] = time.perf_counter() - t0
    out["wayfare_params"] = bg.params_
    print(f"wayfare BG/NBD fit, {n:,} customers: {out['wayfare_s']:.2f} s  {bg.params_}", flush=True)
    if with_lifetimes:
        try:
            from lifetimes import BetaGeoFitter as LBG

            t0 = time.perf_counter()
            lb = LBG().fit(x, tx, T)
            out["lifetimes_s"] = time.perf_counter() - t0
            out["lifetimes_params"] = {k: float(v) for k, v in lb.params_.items()}
            out["lifetimes_ratio"] = out["lifetimes_s"] / out["wayfare_s"]
            print(f"lifetimes fit: {out['lifetimes_s']:.2f} s  ratio {out['lifetimes_ratio']:.1f}x  {out['lifetimes_params']}",
                  flush=True)
        except Exception as e:  # report, do not hide
            out["lifetimes_error"] = repr(e)
            print("lifetimes failed:", repr(e), flush=True)
    if with_pymc:
        try:
            import pandas as pd
            from pymc_marketing.clv import BetaGeoModel

            df = pd.DataFrame({"customer_id": np.arange(n), "frequency": x, "recency": tx, "T": T})
            t0 = time.perf_counter()
            m = BetaGeoModel(data=df)
            m.fit(method="map", progressbar=False)
            out["pymc_map_s"] = time.perf_counter() - t0
            post = m.fit_result.posterior if hasattr(m.fit_result, "posterior") else m.fit_result
            out["pymc_params"] = {k: float(post[k].values.ravel()[0]) for k in ("r", "alpha", "a", "b") if k in post}
            out["pymc_ratio"] = out["pymc_map_s"] / out["wayfare_s"]
            print(f"PyMC-Marketing MAP fit: {out['pymc_map_s']:.2f} s  ratio {out['pymc_ratio']:.1f}x  {out['pymc_params']}",
                  flush=True)
        except Exception as e:
            out["pymc_error"] = repr(e)
            print("PyMC-Marketing failed:", repr(e), flush=True)
    return out


def build_store(path: Path, n: int, seed: int = 1):
    """Events for n customers over two years: orders (BG/NBD-like), reviews, tickets, email opens."""
    import pyarrow as pa

    from wayfare.store import Store

    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-12-01T00:00:00", "us")
    lam = rng.gamma(0.6, 1 / 20.0, n)              # purchases per day while alive
    life = rng.exponential(rng.gamma(1.0, 300.0, n))  # days alive after the first order
    first = rng.uniform(0, 365, n)
    horizon = 730.0
    pid = np.arange(n)
    cols_p, cols_t, cols_r = [pid], [first], [np.round(rng.gamma(4, 12, n), 2)]
    t, alive_idx = first.copy(), pid.copy()
    while len(alive_idx):
        t = t + rng.exponential(1 / np.maximum(lam[alive_idx], 1e-9))
        keep = (t < first[alive_idx] + life[alive_idx]) & (t < horizon)
        alive_idx, t = alive_idx[keep], t[keep]
        cols_p.append(alive_idx)
        cols_t.append(t)
        cols_r.append(np.round(rng.gamma(4, 12, len(t)), 2))
    op, ot, orv = np.concatenate(cols_p), np.concatenate(cols_t), np.concatenate(cols_r)
    k = len(op)
    rv = rng.choice(n, n // 10, replace=False)
    rv_t = np.minimum(first[rv] + rng.uniform(1, 200, len(rv)), horizon - 1)
    texts = np.array([f'{{"rating":{s},"text":"{w}"}}' for s, w in [
        (1, "Delivery was late and items missing"), (2, "Too expensive for what it is"), (4, "Friendly staff"),
        (5, "Lovely, will come back"), (3, "Had to wait a long time")]])
    rv_p = texts[rng.integers(0, len(texts), len(rv))]
    tk = rng.choice(n, n // 30, replace=False)
    tk_t = np.minimum(first[tk] + rng.uniform(1, 400, len(tk)), horizon - 1)
    person = np.concatenate([op, rv, tk]).astype(str)
    ts = np.concatenate([ot, rv_t, tk_t])
    event = np.concatenate([np.full(k, "Order Completed"), np.full(len(rv), "Review Posted"), np.full(len(tk), "Ticket Opened")])
    props = np.concatenate([np.full(k, None), rv_p, np.full(len(tk), None)])
    revenue = np.concatenate([orv, np.full(len(rv) + len(tk), np.nan)])
    m = len(person)
    tsv = start + (ts * 86400e6).astype("timedelta64[us]")
    table = pa.table({
        "message_id": pa.array(np.char.add("b", np.arange(m).astype(str))),
        "seq": pa.array(np.arange(m, dtype=np.int64)), "type": pa.array(np.full(m, "track")),
        "event": pa.array(event), "person_id": pa.array(np.char.add("p", person)),
        "ts": pa.array(tsv), "received_at": pa.array(tsv), "revenue": pa.array(revenue, from_pandas=True),
        "properties": pa.array(props, pa.string()),
    })
    st = Store(path)
    sc = st.scope("default")
    for i in range(0, m, 500_000):
        sc.insert_arrow("events", table.slice(i, 500_000))
    st.checkpoint()
    return st, m


def bench_scores(n: int) -> dict:
    import pandas as pd

    from wayfare.predict.features import build_features, build_labels
    from wayfare.predict.gbm import BehaviourModel, add_p_alive, time_split

    out: dict = {"customers": n}
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        st, m = build_store(Path(d) / "bench.db", n)
        out["events"], out["build_store_s"] = m, time.perf_counter() - t0
        print(f"store: {m:,} events for {n:,} customers in {out['build_store_s']:.1f} s", flush=True)
        sc = st.scope("default")
        end = pd.Timestamp("2026-12-01")
        # a model trained once on an earlier window (timed separately), then the scoring path
        t0 = time.perf_counter()
        Xtr = build_features(sc, end - pd.Timedelta(days=90))
        Xtr, _ = add_p_alive(sc, Xtr, end - pd.Timedelta(days=90), horizon_days=90)
        Xtr = Xtr[Xtr["orders"] > 0]
        ytr = (build_labels(sc, end - pd.Timedelta(days=90), 90).reindex(Xtr.index).fillna(0) == 0).astype(int)
        model = BehaviourModel("churn", 90).fit(Xtr, ytr)
        out["train_s"] = time.perf_counter() - t0
        print(f"train (features, labels, LightGBM on {len(Xtr):,} rows): {out['train_s']:.1f} s", flush=True)
        t0 = time.perf_counter()
        X = build_features(sc, end)
        out["features_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        X, _ = add_p_alive(sc, X, end, horizon_days=90)
        out["p_alive_s"] = time.perf_counter() - t1
        X = X[X["orders"] > 0]
        t1 = time.perf_counter()
        s = model.predict_proba(X)
        out["predict_s"] = time.perf_counter() - t1
        out["features_and_scores_s"] = time.perf_counter() - t0
        out["scored"] = int(len(s))
        print(f"features {out['features_s']:.1f} s + P(alive) {out['p_alive_s']:.1f} s + scores {out['predict_s']:.1f} s "
              f"= {out['features_and_scores_s']:.1f} s for {len(s):,} customers", flush=True)
        from wayfare.predict.reasons import reasons_from_contributions
        top = pd.Series(s, index=X.index).sort_values(ascending=False).index[:10_000]
        t1 = time.perf_counter()
        contrib = model.contributions(X.loc[top])
        reasons_from_contributions("churn", X.loc[top], contrib, pd.Series(s, index=X.index).loc[top], 0.5)
        out["shap_reasons_10k_s"] = time.perf_counter() - t1
        print(f"SHAP + reasons in words for the 10,000 most at risk: {out['shap_reasons_10k_s']:.1f} s", flush=True)
        if "--shap-all" in __import__("sys").argv:
            t1 = time.perf_counter()
            model.contributions(X)
            out["shap_all_s"] = time.perf_counter() - t1
            print(f"SHAP for all {len(X):,}: {out['shap_all_s']:.1f} s", flush=True)
        if "--skip-time-split" in __import__("sys").argv:
            st.close()
            return out
        t0 = time.perf_counter()
        r = time_split(sc, "churn", 90)
        out["time_split_s"] = time.perf_counter() - t0
        out["time_split_auc"] = r.evaluation["compare"]
        print(f"whole time split (3 feature builds, 3 BG/NBD fits, 3 LightGBM fits, scores for all): "
              f"{out['time_split_s']:.1f} s; test AUC {r.evaluation['compare']}", flush=True)
        st.close()
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--lifetimes", action="store_true")
    ap.add_argument("--pymc", action="store_true")
    ap.add_argument("--scores", action="store_true")
    ap.add_argument("--skip-fit", action="store_true")
    ap.add_argument("--skip-time-split", action="store_true")
    ap.add_argument("--shap-all", action="store_true")
    a = ap.parse_args()
    res = {"date": dt.date.today().isoformat()}
    if not a.skip_fit:
        res["fit"] = bench_fit(a.n, a.lifetimes, a.pymc)
    if a.scores:
        res["scores"] = bench_scores(a.n)
    print(json.dumps(res, default=str))
