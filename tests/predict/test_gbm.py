"""Churn and propensity from LightGBM on behavioural features: time-split labels, no leakage, reasons, segments."""

import re
import shutil

import numpy as np
import pandas as pd
import pytest

from wayfare.predict.churn import protected
from wayfare.predict.features import FEATURES, build_features, build_labels, review_topic
from wayfare.predict.gbm import BehaviourModel, time_split
from wayfare.predict.reasons import reasons_from_contributions, sentence
from wayfare.store import Store

from .conftest import track


@pytest.fixture
def salon(salon_db, tmp_path):
    db = tmp_path / "copy.db"
    shutil.copy(salon_db, db)
    if salon_db.with_suffix(".db.wal").exists():
        shutil.copy(salon_db.with_suffix(".db.wal"), tmp_path / "copy.db.wal")
    with Store(db) as st:
        yield st.scope("default")


def test_features_ignore_everything_after_the_cutoff(salon):
    cut = pd.Timestamp("2026-09-01")
    pid, uid = salon.one("SELECT person_id, user_id FROM events WHERE event = 'Order Completed' AND ts < $c "
                         "AND user_id IS NOT NULL ORDER BY ts LIMIT 1", {"c": cut.to_pydatetime()})
    before = build_features(salon, cut)
    labels_before = build_labels(salon, cut, 90)
    # the future: an order, a 1-star review about delivery and a complaint, all on or after the cutoff
    track(salon, [(uid, "Order Completed", "2026-09-01 00:00", {}, 999.0),
                  (uid, "Review Posted", "2026-09-02 10:00", {"rating": 1, "text": "Delivery was late"}),
                  (uid, "Ticket Opened", "2026-09-03 10:00", {})])
    after = build_features(salon, cut)
    pd.testing.assert_frame_equal(before.sort_index(), after.sort_index())
    labels_after = build_labels(salon, cut, 90)
    assert labels_after[pid] == labels_before.get(pid, 0) + 1  # only the label window sees the order
    # and a change strictly before the cutoff does move the features
    track(salon, [(uid, "Review Posted", "2026-08-31 23:59", {"rating": 2, "text": "The delivery of my products was late"})])
    moved = build_features(salon, cut).loc[pid]
    assert moved["last_rating"] == 2 and moved["last_review_topic"] == "delivery" and moved["days_since_last_review"] == 1


def test_time_split_windows_do_not_overlap_and_beat_chance(salon):
    r = time_split(salon, "churn", 90)
    ev = r.evaluation
    last = pd.Timestamp(salon.one("SELECT max(ts) FROM events WHERE event = 'Order Completed'")[0]).normalize()
    day = pd.Timedelta(days=1)
    assert ev["train"]["cutoff"] == str((last + day - 180 * day).date())
    assert ev["test"]["cutoff"] == str((last + day - 90 * day).date())
    assert ev["test"]["label_window"] == f"{(last + day - 90 * day).date()}..{last.date()}" and r.cutoffs["now"] == str(last.date())
    assert ev["auc"] > 0.7 and ev["compare"]["gbm"] > 0.7
    assert set(ev["compare"]) == {"gbm+p_alive", "gbm", "p_alive", "bgnbd_expected"}
    assert sum(c["n"] for c in ev["calibration"]) == ev["test"]["customers"]
    # protected attributes are never features, but performance is reported by them
    assert not {f.lower() for f in r.model.features} & protected()
    assert set(ev["by_segment"]["age_band"]) >= {"30-44", "45-59", "60+"}
    assert all(0 <= s["rate"] <= 1 for s in ev["by_segment"]["orders_band"].values())
    # scores for everyone who has bought, each with reasons in words
    assert len(r.scores) == int((r.features_now["orders"] > 0).sum()) and r.scores.between(0, 1).all()
    top = r.scores.sort_values(ascending=False).index[:20]
    why = r.reasons(top)
    assert all(1 <= len(v) <= 3 for v in why.values())
    rhythm = [s for v in why.values() for s in v if s.startswith("No visit")]
    assert rhythm and all(re.fullmatch(r"No visit for \d+ days?; (usually returns every \d+|has come only once)", s) for s in rhythm)


def test_propensity_uses_the_same_discipline(salon):
    r = time_split(salon, "propensity", 30)
    ev = r.evaluation
    last = pd.Timestamp(salon.one("SELECT max(ts) FROM events WHERE event = 'Order Completed'")[0]).normalize()
    assert ev["test"]["cutoff"] == str((last - pd.Timedelta(days=29)).date())
    assert ev["auc"] > 0.6 and ev["top_decile_lift"] > 1.5
    assert len(r.scores) == len(r.features_now)  # everyone seen, buyers or not


def test_sentences_a_shop_owner_reads():
    assert sentence("rhythm", {"days_since_last_order": 64, "mean_gap_days": 12.2, "orders": 5}) == \
        "No visit for 64 days; usually returns every 12"
    assert sentence("review", {"last_rating": 2.0, "last_review_topic": "delivery", "days_since_last_review": 3}) == \
        "Last review 2★ about delivery, 3 days ago"
    assert sentence("support", {"tickets_90d": 2}) == "2 support tickets or complaints in the last 90 days"
    assert sentence("frequency", {"orders": 1}) == "Only one order so far"
    assert list(review_topic(pd.Series(["Items were missing", "Too expensive", None]))) == ["delivery", "price", None]


def test_reasons_follow_the_largest_shap_contributions():
    X = pd.DataFrame({"days_since_last_order": [64.0, 3.0], "mean_gap_days": [12.0, 10.0], "orders": [5.0, 9.0],
                      "last_rating": [2.0, 5.0], "last_review_topic": ["delivery", None], "days_since_last_review": [5.0, 40.0],
                      "tickets_90d": [0.0, 0.0]}, index=["a", "b"])
    c = pd.DataFrame(0.0, index=X.index, columns=[*FEATURES, "p_alive", "bgnbd_expected", "bias"])
    c.loc["a", ["last_rating", "last_review_topic"]] = [0.9, 0.3]  # review pushes risk up most
    c.loc["a", "days_since_last_order"] = 0.8
    c.loc["b", "days_since_last_order"] = -1.5  # recent visit holds risk down
    out = reasons_from_contributions("churn", X, c, pd.Series([0.9, 0.1], index=X.index), base_rate=0.5, top=2)
    assert out["a"] == ["Last review 2★ about delivery, 5 days ago", "No visit for 64 days; usually returns every 12"]
    assert out["b"][0] == "No visit for 3 days; usually returns every 10"


def test_model_recovers_a_planted_signal_and_refuses_one_class():
    rng = np.random.default_rng(0)
    n = 3000
    X = pd.DataFrame({f: rng.random(n) for f in FEATURES})
    X["last_review_topic"] = pd.Categorical([None] * n, categories=["delivery"])
    X["p_alive"], X["bgnbd_expected"] = rng.random(n), rng.random(n)
    y = (X["days_since_last_order"] + 0.1 * rng.standard_normal(n) > 0.6).astype(int)
    m = BehaviourModel("churn").fit(X.iloc[:2000], y.iloc[:2000])
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(y.iloc[2000:], m.predict_proba(X.iloc[2000:])) > 0.95
    contrib = m.contributions(X.iloc[2000:])
    assert contrib.abs().mean().drop("bias").idxmax() == "days_since_last_order"
    # SHAP values add up to the model's log-odds
    logit = np.log(m.predict_proba(X.iloc[2000:2005]) / (1 - m.predict_proba(X.iloc[2000:2005])))
    assert np.allclose(contrib.iloc[:5].sum(axis=1), logit, atol=1e-6)
    with pytest.raises(Exception, match="only one outcome"):
        BehaviourModel("churn").fit(X.iloc[:100], np.zeros(100))


def test_p_alive_summary_in_sql_matches_the_pandas_summary(salon):
    from wayfare.predict.clv import BetaGeoFitter, rfm_summary
    from wayfare.predict.gbm import add_p_alive

    cut = pd.Timestamp("2026-10-01")
    X, bg = add_p_alive(salon, build_features(salon, cut), cut)
    tx = salon.df("SELECT person_id, ts, coalesce(revenue, 0) AS revenue FROM events WHERE event = 'Order Completed' "
                  "AND person_id IS NOT NULL AND ts < $c", {"c": cut.to_pydatetime()})
    s = rfm_summary(tx, cut - pd.Timedelta(days=1))
    ref = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    # (a, b) run off together on this small demo (no drop-out identified), so compare r, alpha and a / (a + b)
    assert all(abs(bg.params_[k] - ref.params_[k]) < 1e-3 * ref.params_[k] for k in ("r", "alpha")), (bg.params_, ref.params_)
    ratio = [m.params_["a"] / (m.params_["a"] + m.params_["b"]) for m in (bg, ref)]
    assert abs(ratio[0] - ratio[1]) < 1e-3
    pa = pd.Series(bg.conditional_probability_alive(s["frequency"], s["recency"], s["T"]), index=s.index)
    assert np.allclose(X.loc[s.index, "p_alive"], pa, atol=1e-9) and X.loc[~X.index.isin(s.index), "p_alive"].isna().all()
