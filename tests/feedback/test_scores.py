import math

import numpy as np
import pandas as pd

from wayfare.feedback import ces, csat, nps, trend


def test_nps_counts_promoters_passives_detractors_and_interval():
    r = nps([10, 10, 9, 8, 7, 6, 5, 0, 9, 10])
    assert (r["promoters"], r["passives"], r["detractors"]) == (5, 2, 3)
    assert r["nps"] == 20.0
    se = 100 * math.sqrt((0.5 + 0.3 - 0.2**2) / 10)
    assert r["ci95"] == [round(20 - 1.959964 * se, 1), round(20 + 1.959964 * se, 1)]


def test_nps_ignores_out_of_range_and_missing_answers():
    r = nps([10, None, 11, -1, "x", 0])
    assert r["n"] == 2 and r["nps"] == 0.0
    assert nps([])["nps"] is None


def test_csat_top_two_boxes_with_wilson_interval():
    r = csat([5, 4, 3, 2, 1, 5, 4, 4])
    assert r["n"] == 8 and r["satisfied"] == 5 and r["csat_pct"] == 62.5
    lo, hi = r["ci95"]
    assert 28 < lo < 35 and 85 < hi < 90  # Wilson 5/8: [30.6, 86.3]
    assert r["mean"] == 3.5


def test_ces_mean_and_share_easy():
    r = ces([7, 6, 5, 2, 1, 7])
    assert r["n"] == 6 and r["easy_pct"] == 66.7 and r["ces"] == 4.67


def test_trend_detects_a_rise_and_ignores_noise():
    rng = np.random.default_rng(1)
    ts = pd.date_range("2026-01-01", periods=360, freq="D").repeat(10)
    late = ts > pd.Timestamp("2026-09-26")
    scores = np.where(late, rng.choice([9, 10, 7], len(ts)), rng.choice([0, 5, 9, 10, 7], len(ts)))
    t = trend(pd.Series(ts), pd.Series(scores), "nps")
    assert t["change"]["direction"] == "up" and t["change"]["diff"] > 30
    assert len(t["by_month"]) == 12
    flat = trend(pd.Series(ts), pd.Series(rng.choice([0, 9, 10], len(ts))), "nps")
    assert flat["change"]["direction"] == "flat"
