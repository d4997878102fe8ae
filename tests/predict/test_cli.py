import csv
import json

from typer.testing import CliRunner

from wayfare.cli import app


def test_clv_cli_on_cdnow(tmp_path):
    tx = tmp_path / "cd.csv"
    with open("/work/shared/data/cdnow/CDNOW_sample.txt") as f, open(tx, "w", newline="") as g:
        w = csv.writer(g)
        w.writerow(["timestamp", "user_id", "event", "revenue", "message_id"])
        for i, line in enumerate(f):
            c, _, d, _, a = line.split()
            w.writerow([f"{d[:4]}-{d[4:6]}-{d[6:]}T12:00:00Z", f"c{int(c)}", "Order Completed", a, f"cd{i}"])
    db = str(tmp_path / "p.db")
    r = CliRunner().invoke(app, [f"--db={db}", "import", str(tx), "--preset", "generic", "--kind", "events", "--map",
                                 "timestamp=timestamp", "--map", "user_id=user_id", "--map", "event=event", "--map",
                                 "revenue=revenue", "--map", "message_id=message_id"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, [f"--db={db}", "predict", "clv", "--calibration-end", "1997-09-30",
                                 "--holdout-from", "1997-10-01", "--chart", str(tmp_path / "h.svg"), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert abs(out["bgnbd"]["r"] - 0.243) < 0.0025
    assert abs(out["gamma_gamma"]["p"] - 6.25) < 0.06
    assert out["holdout"]["total_actual"] == 1882
    assert out["customers"] == 2357
    svg = (tmp_path / "h.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<rect") >= 16
    r = CliRunner().invoke(app, [f"--db={db}", "predict", "clv", "--model", "pareto-nbd", "--calibration-end", "1997-09-30",
                                 "--limit", "1", "--json"])
    assert r.exit_code == 0, r.output
    pn = json.loads(r.stdout.strip().splitlines()[-1])
    assert abs(pn["pareto_nbd"]["s"] - 0.6061) < 0.006 and pn["model"] == "pareto-nbd" and "bgnbd" not in pn
    assert pn["top_customers"][0]["clv"] > 0
    r = CliRunner().invoke(app, [f"--db={db}", "predict", "clv", "--model", "nope", "--json"])
    assert r.exit_code != 0 and "--model" in str(r.exception)
    r = CliRunner().invoke(app, [f"--db={db}", "predict", "backtest", "--cutoff", "1997-09-30", "--json"])
    assert r.exit_code == 0, r.output
    bt = json.loads(r.stdout.strip().splitlines()[-1])
    assert bt["purchases"]["actual"] == 1882
    assert 1500 < bt["purchases"]["predicted"] < 1900
    assert bt["expected_purchases_auc_bought_again"] > 0.7
    r = CliRunner().invoke(app, [f"--db={db}", "predict", "next-action", "--limit", "5", "--json"])
    assert r.exit_code == 0, r.output
    na = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(na["recommendations"]) == 5
    # no profile has email consent here, so no email action is ever recommended
    assert all(x["channel"] != "email" for x in na["recommendations"])
    assert all(x["value"] >= y["value"] for x, y in zip(na["recommendations"], na["recommendations"][1:], strict=False))
    assert all(u["source"].startswith("catalogue prior") for u in na["uplift"].values())  # CDNOW has no holdouts
    r = CliRunner().invoke(app, [f"--db={db}", "predict", "churn", "--model", "p-alive", "--limit", "3", "--json"])
    assert r.exit_code == 0, r.output
    ch = json.loads(r.stdout.strip().splitlines()[-1])["customers"]
    assert ch[0]["churn_risk"] > 0.99 and ch[0]["reason"].startswith("No purchase for ")
    # LightGBM on behaviour, time split on CDNOW (labels 1998-04-02..1998-06-30), compared with BG/NBD
    r = CliRunner().invoke(app, [f"--db={db}", "predict", "churn", "--limit", "3", "--json"])
    assert r.exit_code == 0, r.output
    g = json.loads(r.stdout.strip().splitlines()[-1])
    assert g["evaluation"]["test"]["label_window"] == "1998-04-02..1998-06-30" and g["evaluation"]["test"]["customers"] == 2357
    assert g["auc"] > 0.82 and abs(g["auc"] - g["evaluation"]["compare"]["bgnbd_expected"]) < 0.03
    assert all(c["reasons"] for c in g["customers"])
    r = CliRunner().invoke(app, [f"--db={db}", "predict", "propensity", "--model", "gbm", "--days", "30", "--json"])
    assert r.exit_code == 0, r.output
    gp = json.loads(r.stdout.strip().splitlines()[-1])
    assert gp["auc"] > 0.83 and gp["evaluation"]["top_decile_lift"] > 3.5
    r = CliRunner().invoke(app, [f"--db={db}", "predict", "propensity", "--model", "bgnbd", "--days", "30", "--json"])
    assert r.exit_code == 0, r.output
    pr = json.loads(r.stdout.strip().splitlines()[-1])
    assert pr["evaluation"]["cutoff"] == "1998-05-31"
    assert pr["evaluation"]["auc"] > 0.8 and pr["evaluation"]["top_decile_lift"] > 3
    from wayfare.predict.registry import list_models
    from wayfare.store import Store
    st = Store(db)
    try:
        ms = list_models(st.scope("default"), "bgnbd+gamma_gamma")
        m = next(m for m in ms if m["model_id"] == out["model_id"])
        assert abs(m["params"]["r"] - 0.2426) < 1e-3 and str(m["data_to"]).startswith("1997-09-30")
        g = list_models(st.scope("default"), "churn_gbm")
        assert g and g[0]["metrics"]["test"]["cutoff"] == "1998-04-02" and g[0]["params"]["features"][0] == "orders"
    finally:
        st.close()
