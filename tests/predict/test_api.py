"""The predictions API on a real `wayfare serve` on loopback, and the dashboard's engine calls."""

import shutil

import httpx

from wayfare.store import Store, create_key


def test_predictions_over_http_need_an_admin_key_and_stay_in_the_workspace(salon_db, tmp_path, server_factory):
    db = tmp_path / "serve.db"
    shutil.copy(salon_db, db)
    with Store(db) as s:
        admin = create_key(s, "default", "admin")["key"]
        ingest = create_key(s, "default", "ingest")["key"]
        s.create_workspace("other")
        other = create_key(s, "other", "admin")["key"]
        pid = s.scope("default").one("SELECT person_id FROM events WHERE event = 'Order Completed' "
                                     "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0]
    srv = server_factory(db).start()
    h = {"Authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=srv.url, timeout=120) as c:
        for path in ("/v1/predict/clv", "/v1/predict/churn", "/v1/predict/next-action", f"/v1/predict/people/{pid}"):
            assert c.get(path).status_code == 401
            assert c.get(path, headers={"Authorization": f"Bearer {ingest}"}).status_code == 401
        clv = c.get("/v1/predict/clv", params={"limit": 5}, headers=h).json()
        assert set(clv["params"]) == {"r", "alpha", "a", "b", "p", "q", "gamma"} and len(clv["top_customers"]) == 5
        assert clv["top_customers"][0]["clv"] >= clv["top_customers"][-1]["clv"] > 0
        pn = c.get("/v1/predict/clv", params={"model": "pareto-nbd", "limit": 1}, headers=h).json()
        assert set(pn["params"]) >= {"s", "beta"}
        assert c.get("/v1/predict/clv", params={"model": "nope"}, headers=h).status_code == 400
        assert c.get("/v1/predict/clv", params={"limit": 0}, headers=h).status_code == 422
        ch = c.get("/v1/predict/churn", params={"limit": 10}, headers=h).json()
        risks = [x["churn_risk"] for x in ch["customers"]]
        assert risks == sorted(risks, reverse=True) and all(x["reasons"] for x in ch["customers"])
        assert ch["evaluation"]["auc"] > 0.7
        na = c.get("/v1/predict/next-action", params={"action": "win_back_offer", "limit": 5}, headers=h).json()
        assert na["recommendations"] and {x["action"] for x in na["recommendations"]} == {"win_back_offer"}
        assert all(x["channel"] == "email" and "expected" in x["reason"] for x in na["recommendations"])
        assert c.get("/v1/predict/next-action", params={"action": "spam"}, headers=h).status_code == 400
        me = c.get(f"/v1/predict/people/{pid}", headers=h).json()
        assert me["person_id"] == pid and me["label"] in ("High", "Medium", "Low") and me["reasons"]
        assert me["next_best_action"] and 0 <= me["purchase_propensity_30d"] <= 1 and me["clv"] >= 0
        assert c.get("/v1/predict/people/p_nobody", headers=h).status_code == 404
        # another workspace's admin key cannot see this person
        assert c.get(f"/v1/predict/people/{pid}", headers={"Authorization": f"Bearer {other}"}).status_code == 404


def test_dashboard_engine_calls_return_the_shapes_pages_use(salon_db, tmp_path):
    from wayfare.web.dashboard.common import safe_engine_call

    db = tmp_path / "d.db"
    shutil.copy(salon_db, db)
    with Store(db) as s:
        sc = s.scope("default")
        lists = safe_engine_call("predict", "dashboard_lists", sc)
        assert lists and {"as_of", "at_risk", "valuable", "at_risk_count", "buyers", "at_risk_spend", "method"} <= set(lists)
        assert lists["at_risk"] and lists["buyers"] > 300
        row = lists["at_risk"][0]
        assert {"person_id", "name", "orders", "spend", "days", "risk", "reasons", "next_best_action"} <= set(row)
        assert row["risk"] >= 0.6 and row["reasons"]
        got = safe_engine_call("predict", "explain_person", sc, row["person_id"])
        assert {"risk", "label", "reasons", "next_best_action"} <= set(got) and got["risk"] == row["risk"]
        nobody = safe_engine_call("predict", "explain_person", sc, "p_nobody")
        assert nobody["risk"] is None and nobody["label"] == "No orders yet"
