import numpy as np
import pandas as pd
import pytest

from wayfare.predict.clv import rfm_summary
from wayfare.predict.pareto import ParetoNBDFitter

from .test_clv import _cdnow_tx

# Fader & Hardie, "A Note on Implementing the Pareto/NBD Model in MATLAB" (2005), CDNOW 2,357, 39 weeks
PUBLISHED = {"r": 0.5533, "alpha": 10.5776, "s": 0.6061, "beta": 11.6650}


@pytest.fixture(scope="module")
def cdnow():
    return rfm_summary(_cdnow_tx(), pd.Timestamp("1997-09-30"))


def test_pareto_nbd_matches_published_cdnow_parameters(cdnow):
    m = ParetoNBDFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    for k, v in PUBLISHED.items():
        assert abs(m.params_[k] - v) / v < 0.01, (k, m.params_[k])
    assert abs(m.log_likelihood_ - -9594.98) < 0.05
    assert "r=0.553" in repr(m)
    # a one-off buyer is not certainly alive under Pareto/NBD (unlike BG/NBD)
    p = m.conditional_probability_alive([0, 2, 10], [0, 30.43, 20], [38.86] * 3)
    assert np.allclose(p, [0.2951, 0.8691, 0.0828], atol=5e-4)
    e = m.conditional_expected_number_of_purchases_up_to_time(39, np.array([2.0]), np.array([30.43]), np.array([38.86]))
    assert abs(e[0] - 1.455) < 2e-3


def test_pareto_nbd_agrees_with_lifetimes_when_installed(cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    ours = ParetoNBDFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    ref = lifetimes.ParetoNBDFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    for k in PUBLISHED:
        assert abs(ours.params_[k] - ref.params_[k]) / ref.params_[k] < 0.005, k
    x, tx, T = cdnow["frequency"].to_numpy(), cdnow["recency"].to_numpy(), cdnow["T"].to_numpy()
    ours.params_ = {k: float(ref.params_[k]) for k in PUBLISHED}
    assert np.allclose(ours.conditional_probability_alive(x, tx, T), ref.conditional_probability_alive(x, tx, T), atol=1e-6)


def test_pareto_nbd_recovers_simulated_parameters():
    rng = np.random.default_rng(3)
    n, r, alpha, s, beta = 20000, 0.8, 8.0, 0.7, 12.0
    lam, mu = rng.gamma(r, 1 / alpha, n), rng.gamma(s, 1 / beta, n)
    T = rng.uniform(20, 52, n)
    death = np.minimum(rng.exponential(1 / mu), T)
    x, tx, t = np.zeros(n), np.zeros(n), np.zeros(n)
    going = np.ones(n, bool)
    while going.any():
        t = t + rng.exponential(1 / lam)
        buy = going & (t < death)
        x[buy] += 1
        tx[buy] = t[buy]
        going = buy
    m = ParetoNBDFitter().fit(x, tx, T)
    assert abs(m.params_["r"] - r) / r < 0.1
    assert abs(m.params_["alpha"] - alpha) / alpha < 0.15
    assert abs(m.params_["s"] - s) / s < 0.25
