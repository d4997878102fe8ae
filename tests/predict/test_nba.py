"""Next best action: uplift from campaigns with a holdout, consent, contact limits, scores as traits for triggers."""

import json
import shutil

import numpy as np
import orjson
import pandas as pd
import pytest
from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.predict.nba import ContactLimits, choose_actions, measure_uplift
from wayfare.store import Store

from .conftest import track


def _person(**kw):
    base = {"churn_risk": 0.8, "propensity": 0.05, "clv": 100.0, "order_value": 60.0, "orders": 4.0,
            "days_since_last_order": 70.0, "last_rating": np.nan, "days_since_last_review": np.nan,
            "email_ok": True, "sms_ok": False, "phone_ok": False, "c7": 0.0, "c30": 0.0}
    return {**base, **kw}


PRIORS = {a: {"uplift": u} for a, u in [("win_back_offer", 0.06), ("check_in_call", 0.15), ("cross_sell", 0.03),
                                        ("referral_invite", 0.01), ("review_request", 0.005), ("thank_you", 0.01)]}


@pytest.mark.parametrize("who, action, why", [
    (_person(), "win_back_offer", "expected +1.60"),                                   # 0.06 × 60 − 2
    (_person(email_ok=False), "do_nothing", "No email consent"),
    (_person(c7=2.0), "do_nothing", "Contact limit reached"),
    (_person(c30=4.0), "do_nothing", "Contact limit reached"),
    (_person(phone_ok=True, last_rating=1.0, order_value=100.0), "check_in_call", "expected +7.00"),  # 0.15 × 100 − 8
    (_person(churn_risk=0.1, orders=5.0, days_since_last_order=12.0), "referral_invite", "Invite them to refer"),
    (_person(churn_risk=0.2, order_value=2.0, propensity=0.5), "do_nothing", "No action is worth its cost"),
])
def test_best_action_respects_consent_limits_and_cost(who, action, why):
    f = pd.DataFrame([who, _person(clv=10.0)], index=["p", "other"])
    out = choose_actions(f, PRIORS, ContactLimits(per_7_days=2, per_30_days=4)).loc["p"]
    assert out["action"] == action and why in out["reason"], out["reason"]


@pytest.fixture
def salon(salon_db, tmp_path):
    db = tmp_path / "copy.db"
    shutil.copy(salon_db, db)
    return db


def test_uplift_is_measured_from_treated_versus_holdout(salon):
    with Store(salon) as st:
        sc = st.scope("default")
        ev = []
        for i in range(400):
            variant = "treatment" if i < 200 else "holdout"
            who = f"camp-{i}"
            ev.append((who, "Campaign Sent", "2026-03-01 09:00", {"campaign": "Win-back March", "variant": variant}))
            bought = (i % 10 < 4) if variant == "treatment" else (i % 10 < 1)  # 40 % vs 10 %
            if bought:
                ev.append((who, "Order Completed", "2026-03-10 12:00", {}, 50.0))
            ev.append((who, "Order Completed", "2026-05-20 12:00", {}, 50.0))  # outside the 30-day window
        # a flow with a holdout split (automate writes variant on its entries): 60 treated, 40 held out
        ids = [f"fl-{i}" for i in range(100)]
        for i, who in enumerate(ids):
            ev.append((who, "Signed Up", "2026-03-30 09:00", {}))
            if (i < 60 and i % 2 == 0) or (i >= 60 and i % 4 == 0):  # 50 % vs 25 %
                ev.append((who, "Order Completed", "2026-04-15 12:00", {}, 80.0))
        track(sc, ev)
        pid = dict(sc.rows("SELECT DISTINCT user_id, person_id FROM events WHERE user_id LIKE 'fl-%'"))
        sc.write("INSERT INTO main.flow_entries (workspace_id, entry_id, flow, person_id, step, status, entered_at, "
                 "updated_at, variant) SELECT $__ws, 'e-' || p, 'vip-check-in', p, 0, 'done', TIMESTAMP '2026-04-01 09:00', "
                 "TIMESTAMP '2026-04-01 09:00', v FROM (SELECT unnest($ids) AS p, unnest($vs) AS v)",
                 {"ids": [pid[i] for i in ids], "vs": ["call"] * 60 + ["holdout"] * 40})
        up = measure_uplift(sc, 30)
    c = up["check_in_call"]
    assert c["treated"] == 60 and c["holdout"] == 40 and c["measured"] == pytest.approx(0.25) and "vip-check-in" in c["source"]
    w = up["win_back_offer"]
    assert w["treated"] == 200 and w["holdout"] == 200
    assert w["treated_rate"] == pytest.approx(0.40) and w["holdout_rate"] == pytest.approx(0.10)
    assert w["measured"] == pytest.approx(0.30) and w["ci95"][0] > 0.2
    assert w["uplift"] == pytest.approx(200 / 300 * 0.30 + 100 / 300 * 0.06)
    assert "Win-back March" in w["source"]
    assert up["thank_you"]["source"].startswith("catalogue prior")


def test_scores_become_traits_that_segments_and_triggers_read(salon):
    r = CliRunner().invoke(app, [f"--db={salon}", "predict", "score", "--write-traits", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["traits_written"] == out["customers"] > 300 and out["churn_auc"] > 0.7
    assert set(out["models"]) == {"churn_gbm", "propensity_gbm", "clv"}
    from wayfare.cli._common import close_store
    close_store()
    with Store(salon) as st:
        sc = st.scope("default")
        traits = [orjson.loads(t[0]) for t in sc.rows("SELECT traits FROM profiles WHERE traits->>'next_action' IS NOT NULL")]
        assert len(traits) == out["traits_written"]
        high = sum(1 for t in traits if t.get("churn_risk") is not None and t["churn_risk"] > 0.7)
        assert high == out["high_risk"] > 0
        assert all(t["prediction_model"] == out["models"]["churn_gbm"] for t in traits)
        assert any(t["churn_reasons"] and t["churn_reasons"][0] for t in traits)
        assert "email" in traits[0] or "name" in traits[0]  # merged, not replaced
        from wayfare.analytics import preview_segment
        members = preview_segment(sc, "traits.churn_risk > 0.7")
        assert len(members) == high
