import numpy as np
import pandas as pd

from wayfare.predict.clv import BetaGeoFitter, GammaGammaFitter, rfm_summary

SHARED = "/work/shared/data/cdnow"


def _cdnow_tx():
    rows = []
    with open(f"{SHARED}/CDNOW_sample.txt") as f:
        for line in f:
            c, _, d, _, a = line.split()
            rows.append((f"c{int(c)}", pd.Timestamp(f"{d[:4]}-{d[4:6]}-{d[6:]} 12:00"), float(a)))
    return pd.DataFrame(rows, columns=["person_id", "ts", "revenue"])


def test_rfm_summary_matches_shipped_cdnow_summary():
    s = rfm_summary(_cdnow_tx(), pd.Timestamp("1997-09-30"))
    ref = pd.read_csv(f"{SHARED}/cdnow_customers_summary_with_transactions.csv")
    assert len(s) == 2357
    assert int(s["frequency"].sum()) == int(ref["x"].sum()) == 2457
    assert np.allclose(np.sort(s["T"]), np.sort(ref["T"]), atol=0.006)
    assert np.isclose(s["monetary_value"].sum(), ref["zbar"].sum(), rtol=1e-4)


def test_cdnow_parameters_match_paper():
    s = rfm_summary(_cdnow_tx(), pd.Timestamp("1997-09-30"))
    bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    for k, v in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert abs(bg.params_[k] - v) / v < 0.01, (k, bg.params_[k])
    assert abs(bg.log_likelihood_ - -9582.4) < 0.5
    assert abs(bg.conditional_expected_number_of_purchases_up_to_time(39, 2, 30.43, 38.86) - 1.226) < 1e-3
    gg = GammaGammaFitter().fit(s["frequency"], s["monetary_value"])
    for k, v in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert abs(gg.params_[k] - v) / v < 0.01, (k, gg.params_[k])


def test_parameter_recovery_on_simulated_data():
    rng = np.random.default_rng(1)
    n, r, alpha, a, b = 20000, 0.5, 6.0, 0.8, 2.5
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    T = rng.uniform(20, 52, n)
    x = np.zeros(n)
    tx = np.zeros(n)
    t = np.zeros(n)
    alive = np.ones(n, bool)
    while alive.any():
        t_next = t + rng.exponential(1 / lam)
        buy = alive & (t_next < T)
        x[buy] += 1
        tx[buy] = t_next[buy]
        t = np.where(buy, t_next, t)
        died = buy & (rng.random(n) < p)
        alive = buy & ~died
    bg = BetaGeoFitter().fit(x, tx, T)
    assert abs(bg.params_["r"] - r) / r < 0.1
    assert abs(bg.params_["alpha"] - alpha) / alpha < 0.15
    assert abs(bg.params_["a"] - a) / a < 0.2
    assert abs(bg.params_["b"] - b) / b < 0.25


def test_time_split_has_no_leakage():
    tx = _cdnow_tx()
    cut = pd.Timestamp("1997-09-30")
    before = rfm_summary(tx, cut)
    c1 = tx["person_id"].iloc[0]
    future = pd.DataFrame({"person_id": [c1, "new"], "ts": [pd.Timestamp("1997-10-01 00:00"), pd.Timestamp("1998-01-01")],
                           "revenue": [1000.0, 5.0]})
    after = rfm_summary(pd.concat([tx, future], ignore_index=True), cut)
    pd.testing.assert_frame_equal(before.sort_index(), after.sort_index())
    last_day = rfm_summary(tx.assign(ts=tx["ts"].where(tx["person_id"] != c1, pd.Timestamp("1997-09-30 23:59"))), cut)
    assert last_day.loc[c1, "T"] == 0  # a purchase late on the cutoff day still counts (end of day inclusive)
