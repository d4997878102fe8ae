"""The Python API: exported, documented, and giving the same figures as the CLI's --json on demo data."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pandas as pd
import pytest

import wayfare
from wayfare.errors import ValidationError

from .cli_host import run_cli

STEPS = ["Menu Viewed", "Table Booked", "Order Completed"]


def records(df: pd.DataFrame) -> list[dict]:
    """Rows as the CLI's JSON has them (missing values as None)."""
    return df.astype(object).where(df.notna(), None).to_dict("records")


def cli(db, *args) -> dict:
    r = run_cli([f"--db={db}", *map(str, args), "--json"], str(db.parent), {})
    assert r["code"] == 0, r["stderr"]
    return json.loads(r["stdout"])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo restaurant; the API's results on it, then the store closed for the CLI."""
    db = tmp_path_factory.mktemp("api") / "api.db"
    with wayfare.open(db) as wb:
        summary = wb.demo("restaurant", customers=300, seed=5, days=240)
    cli(db, "segments", "create", "regulars", "orders_90d >= 2")
    cli(db, "flows", "enable", "order-confirmation")
    with wayfare.open(db) as wb:
        person = wb.sql("SELECT value FROM identities WHERE kind = 'email' ORDER BY value LIMIT 1").iloc[0, 0]
        res = {
            "summary": summary,
            "funnel": wb.funnel(STEPS, within="7d"),
            "funnel_by": wb.funnel(STEPS[::2], within="7d", by="persona"),
            "funnel_expr": wb.funnel_expr(STEPS, within="7d").to_pandas(),
            "paths": wb.paths("Menu Viewed", depth=3),
            "retention": wb.retention("month", 4),
            "retention_expr": wb.retention_expr("month", 4).to_pandas(),
            "rfm": wb.rfm(),
            "rfm_expr": wb.rfm_expr().to_pandas(),
            "kpis": wb.kpis("month"),
            "segments": wb.segments(),
            "members": wb.segment_members("orders_90d >= 2"),
            "map": wb.journey_map(),
            "pains": wb.pain_points(),
            "nps": wb.nps(),
            "voice": wb.feedback_summary(),
            "clv": wb.predict_clv(horizon_days=365),
            "churn": wb.churn(),
            "churn_p_alive": wb.churn(model="p-alive"),
            "next": wb.next_action(limit=15),
            "flow": wb.flow_stats("order-confirmation"),
            "profile": wb.profile(person, limit=10),
            "person": person,
        }
    return db, res


def test_public_names_are_exported_and_documented():
    missing = [n for n in wayfare.__all__ if not hasattr(wayfare, n)]
    assert missing == []
    undocumented = [n for n in wayfare.__all__ if n != "__version__" and len(inspect.getdoc(getattr(wayfare, n)) or "") < 20]
    assert undocumented == []
    undocumented = [n for n, m in inspect.getmembers(wayfare.Workbench) if not n.startswith("_")
                    and (callable(m) or isinstance(m, property)) and len(inspect.getdoc(m) or "") < 20]
    assert undocumented == []
    methods = {"import_csv", "demo", "funnel", "paths", "retention", "segments", "rfm", "journey_map", "nps",
               "feedback_summary", "predict_clv", "churn", "next_action", "flow_stats", "profile", "kpis"}
    assert methods <= set(dir(wayfare.Workbench))
    assert set(dir(wayfare)) >= set(wayfare.__all__)


def test_import_wayfare_stays_lazy():
    code = "import sys, wayfare; assert 'wayfare.api' not in sys.modules and 'ibis' not in sys.modules; " \
           "wayfare.open; assert 'wayfare.api' in sys.modules"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr


def test_every_method_returns_a_dataframe(demo):
    _, r = demo
    for name, v in r.items():
        if name not in ("person",):
            assert isinstance(v, pd.DataFrame), name
    assert r["summary"].loc[0, "customers"] == 300
    assert not r["map"].empty and not r["clv"].empty and not r["churn"].empty


def test_analytics_match_the_cli(demo):
    db, r = demo
    f = cli(db, "funnel", *STEPS, "--within", "7d")
    assert r["funnel"][["step", "count"]].to_dict("records") == [{"step": s["step"], "count": s["count"]}
                                                                  for s in f["steps"]]
    assert r["funnel"]["count"].iloc[0] > r["funnel"]["count"].iloc[-1] > 0
    assert r["funnel"].attrs["raw"]["steps"] == f["steps"]
    fb = cli(db, "funnel", *STEPS[::2], "--within", "7d", "--by", "persona")
    assert r["funnel_by"]["count"].sum() == sum(s["count"] for g in fb["breakdown"] for s in g["steps"])
    # the Ibis twin: people at each level or beyond are the step counts
    lv = r["funnel_expr"]["level"]
    assert [int((lv >= k).sum()) for k in (1, 2, 3)] == r["funnel"]["count"].tolist()

    p = cli(db, "paths", "--from", "Menu Viewed", "--depth", "3")
    assert records(r["paths"]) == p["paths"]

    ret = cli(db, "retention", "--period", "month", "--periods", "4")
    assert r["retention"]["size"].tolist() == [c["size"] for c in ret["cohorts"]]
    assert r["retention"][0].tolist() == [c["rates"][0] for c in ret["cohorts"]]
    assert r["retention"].attrs["raw"]["repeat"] == ret["repeat"]
    first = r["retention_expr"].query("offset == 0")["people"].sum()
    assert first == sum(c["size"] for c in ret["cohorts"])

    rfm = cli(db, "rfm")
    assert records(r["rfm"]) == rfm["segments"]
    assert len(r["rfm_expr"]) == rfm["buyers"] == r["rfm"]["people"].sum()

    k = cli(db, "kpis", "--period", "month")
    assert r["kpis"]["revenue"].tolist() == [t["revenue"] for t in k["totals"]]

    seg = cli(db, "segments", "list")
    assert r["segments"]["members"].tolist() == [s["members"] for s in seg] == [len(r["members"])]


def test_journey_feedback_people_match_the_cli(demo):
    db, r = demo
    m = cli(db, "map")
    stages = r["map"][r["map"]["touchpoint"].isna()]
    assert stages["stage"].tolist() == [s["name"] for s in m["stages"]]
    assert stages["people"].tolist() == [s["people"] for s in m["stages"]]
    pains = cli(db, "painpoints")["pain_points"]
    assert r["pains"]["revenue_at_stake"].tolist() == [p["revenue_at_stake"] for p in pains]
    n = cli(db, "feedback", "nps")
    assert r["nps"].loc[0, "nps"] == n["nps"] and r["nps"].loc[0, "n"] == n["n"] > 0
    assert r["nps"].attrs["raw"] == n
    assert r["voice"].set_index("metric").loc["nps", "value"] == n["nps"]
    prof = cli(db, "profile", r["person"], "--limit", "10")
    assert r["profile"].attrs["raw"]["person_id"] == prof["person_id"]
    assert r["profile"]["event"].tolist() == [e["event"] for e in prof["timeline"]]
    fs = cli(db, "flows", "stats", "order-confirmation")
    assert r["flow"].attrs["raw"] == fs
    assert r["flow"]["entered"].sum() == fs["entered"]


def test_predictions_match_the_cli(demo):
    db, r = demo
    c = cli(db, "predict", "clv", "--limit", "10")
    for k in ("r", "alpha", "a", "b"):
        assert r["clv"].attrs["raw"]["bgnbd"][k] == pytest.approx(c["bgnbd"][k], rel=1e-9)
    assert r["clv"].head(10)["person_id"].tolist() == [t["person_id"] for t in c["top_customers"]]
    assert r["clv"].head(10)["clv"].tolist() == pytest.approx([t["clv"] for t in c["top_customers"]], rel=1e-9)
    assert r["clv"]["p_alive"].between(0, 1).all()
    ch = cli(db, "predict", "churn", "--limit", "20")
    assert r["churn"].head(20)["person_id"].tolist() == [x["person_id"] for x in ch["customers"]]
    assert r["churn"].head(20)["churn_risk"].tolist() == pytest.approx([x["churn_risk"] for x in ch["customers"]])
    assert r["churn"].head(20)["reasons"].tolist() == [x["reasons"] for x in ch["customers"]]
    assert r["churn"].attrs["raw"]["auc"] == pytest.approx(ch["auc"])
    pa = cli(db, "predict", "churn", "--model", "p-alive", "--limit", "20")
    assert r["churn_p_alive"].head(20)["reason"].tolist() == [x["reason"] for x in pa["customers"]]
    na = cli(db, "predict", "next-action", "--limit", "15")
    assert records(r["next"]) == na["recommendations"]
    assert r["next"].attrs["raw"]["catalogue"] == na["catalogue"]
    assert r["next"].attrs["raw"]["uplift"] == na["uplift"]


def test_bad_input_names_the_argument(tmp_path):
    with wayfare.open(tmp_path / "e.db") as wb:
        with pytest.raises(ValidationError, match="steps is a list"):
            wb.funnel("Menu Viewed")
        with pytest.raises(ValidationError, match="day, week or month"):
            wb.retention("year")
        with pytest.raises(ValidationError, match="not a duration"):
            wb.funnel(["A", "B"], within="a week")
        with pytest.raises(ValidationError, match="no 'Order Completed' events"):
            wb.predict_clv()
        with pytest.raises(ValidationError, match="not a date"):
            wb.predict_clv(calibration_end="30/09/1997")
    with pytest.raises(ValidationError, match="no workspace 'nope'"):
        wayfare.open(tmp_path / "e.db", workspace="nope", read_only=True)
    with wayfare.open(tmp_path / "e.db", workspace="salon") as wb:
        assert wb.scope.name == "salon"
        assert "salon" in {w["name"] for w in wb.store.workspaces()}


def test_import_csv_is_whole_and_idempotent(tmp_path):
    f = tmp_path / "visits.csv"
    f.write_text("visited_at,member,spend\n2026-03-05 19:00,m-1,35.00\n2026-03-09 20:30,m-2,22.00\n", encoding="utf-8")
    maps = ["visited_at=timestamp", "member=user_id", "spend=revenue"]
    with wayfare.open(tmp_path / "i.db") as wb:
        first = wb.import_csv(f, "generic", map=maps, event="Order Completed")
        again = wb.import_csv(f, "generic", map=maps, event="Order Completed")
        assert (first.loc[0, "inserted"], again.loc[0, "inserted"], again.loc[0, "duplicates"]) == (2, 0, 2)
        assert wb.kpis("month")["revenue"].sum() == pytest.approx(57.0)
        assert first.attrs["raw"]["mapping"]
