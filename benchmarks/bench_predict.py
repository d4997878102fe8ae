"""BG/NBD fit time on 1,000,000 simulated customers (weeks, 52-week window), optionally vs lifetimes.

Run: .venv/bin/python benchmarks/bench_predict.py [--lifetimes]
"""
import sys
import time

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


if __name__ == "__main__":
    n = 1_000_000
    x, tx, T = simulate(n)
    t0 = time.perf_counter()
    bg = BetaGeoFitter().fit(x, tx, T)
    ours = time.perf_counter() - t0
    print(f"wayfare BG/NBD fit, {n:,} customers: {ours:.2f} s  params {bg.params_}")
    if "--lifetimes" in sys.argv:
        from lifetimes import BetaGeoFitter as LBG
        t0 = time.perf_counter()
        lb = LBG().fit(x, tx, T)
        theirs = time.perf_counter() - t0
        print(f"lifetimes 0.11.3 fit: {theirs:.2f} s  params {dict(lb.params_)}  ratio {theirs / ours:.1f}x")
