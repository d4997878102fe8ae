import pandas as pd

from wayfare.predict.churn import evaluate_churn


def test_telco_cross_validated_auc_and_protected_attributes_left_out():
    df = pd.read_csv("/work/shared/data/telco_churn/Telco-Customer-Churn.csv", dtype=str)
    res = evaluate_churn(df, "Churn")
    assert res["auc"] >= 0.84
    assert res["top_decile_lift"] > 2.0
    assert not any(f.lower().startswith(("gender", "seniorcitizen", "customerid")) for f in res["features"])
    assert set(res["excluded_protected"]) == {"gender", "SeniorCitizen"}
    assert sum(c["n"] for c in res["calibration"]) == 7043
    # performance reported by protected segment, so bias shows
    seg = res["by_segment"]["SeniorCitizen"]
    assert set(seg) == {"0", "1"} and seg["1"]["n"] == 1142
    assert all(0.7 < s["auc"] < 0.95 for s in seg.values())
