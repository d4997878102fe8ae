"""The growth commands as users run them (--json), on a demo store and on an Online Retail import."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pandas as pd
import pytest

from wayfare.cli import main
from wayfare.growth.recommend import evaluate

from ..conftest import SHARED_DATA


@pytest.fixture
def wf(capsys, monkeypatch):
    """Run `wayfare --db=DB ARGS --json` in this process (main(), as the console script does)."""

    def run(db, *args, ok: bool = True) -> dict:
        monkeypatch.setattr(sys, "argv", ["wayfare", f"--db={db}", *args, "--json"])
        code = 0
        try:
            main()
        except SystemExit as e:
            code = e.code
        out = capsys.readouterr()
        if not ok:
            assert code == 2, out.err
            return {"stderr": out.err}
        assert code in (0, None), out.err
        return json.loads(out.out)

    return run


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    db = tmp_path_factory.mktemp("demo") / "d.db"
    subprocess.run([sys.executable, "-m", "wayfare", f"--db={db}", "demo", "--business", "restaurant", "--customers", "300",
                    "--seed", "3"], check=True, capture_output=True, timeout=120)
    return db


def test_cli_leads_score_list_staff_assign(demo, wf):
    res = wf(demo, "leads", "score")
    assert res["scored"] == sum(res["stages"].values()) == 300
    assert set(res["stages"]) == {"visitor", "subscriber", "lead", "qualified", "customer"}
    wf(demo, "leads", "staff", "add", "Ann", "--topic", "catering")
    listed = wf(demo, "leads", "list", "--stage", "customer", "--limit", "5")["leads"]
    assert len(listed) == 5 and all(x["stage"] == "customer" for x in listed)
    assert wf(demo, "leads", "staff", "list")["staff"][0]["name"] == "Ann"
    assert wf(demo, "leads", "list", "--stage", "nope", ok=False)["stderr"]


def test_cli_recommend_person_item_and_evaluate(demo, wf):
    person = wf(demo, "leads", "list", "--stage", "customer", "--limit", "1")["leads"]
    if not person:
        wf(demo, "leads", "score")
        person = wf(demo, "leads", "list", "--stage", "customer", "--limit", "1")["leads"]
    pid = person[0]["person_id"]
    recs = wf(demo, "recommend", pid, "--top", "3")
    items = [r["item"] for r in recs["recommendations"]]
    # a regular of a small menu may own all but a couple of dishes: never more than asked, never a repeat
    assert recs["person_id"] == pid and 1 <= len(items) <= 3 and len(set(items)) == len(items)
    ev = wf(demo, "recommend", "--evaluate")
    for k in ("hit_rate_at_10", "ndcg_at_10"):
        assert 0 <= ev["model"][k] <= 1 and 0 <= ev["popularity"][k] <= 1 and ev[k] == ev["model"][k]
    item = recs["recommendations"][0]["item"]
    assert wf(demo, "recommend", "--item", item)["item"] == item
    assert "no person" in wf(demo, "recommend", "nobody-at-all", ok=False)["stderr"]


def test_cli_whatif_and_referrals(demo, wf):
    r = wf(demo, "whatif", "--step", "Table Booked", "--to", "0.5")
    assert r["expected_extra_customers"] == pytest.approx(
        r["entering_per_period"] * (0.5 - r["current_rate"]) * r["downstream_rate"], rel=2e-3, abs=0.05)
    since = r["window"][1][:10]
    cmp_ = wf(demo, "whatif", "--step", "Table Booked", "--to", "0.5", "--since", since)
    assert cmp_["window"][1] < since and cmp_["actual"]["since"].startswith(since)
    assert "nobody reached" in wf(demo, "whatif", "--step", "No Such Step", "--to", "0.5", ok=False)["stderr"]
    person = wf(demo, "leads", "score")["top"][0]["person_id"]
    code = wf(demo, "referrals", "code", person, "--base-url", "https://r.example")
    assert code["link"] == f"https://r.example?ref={code['code']}"
    assert wf(demo, "referrals", "attribute") == {"attributed": 0, "converted": 0, "reward_events": 0}
    adv = wf(demo, "referrals", "advocacy")
    assert adv["referrals_sent"] > 0 and adv["reviews_written"] > 0


def test_cli_personalize_slots(demo, wf):
    wf(demo, "personalize", "slot", "banner", "--audience", "first_time", "--content", '{"text": "hi"}')
    assert wf(demo, "personalize", "slots")["slots"] == [{"slot": "banner", "audience": "first_time",
                                                           "content": {"text": "hi"}, "priority": 0}]
    assert wf(demo, "personalize", "slot", "x", "--audience", "martians", "--content", "{}", ok=False)["stderr"]
    assert len(wf(demo, "personalize", "secret")["secret"]) == 64


def test_cli_evaluate_on_imported_online_retail_matches_direct(tmp_path, wf):
    """The importer's events (one per line item) give the same evaluation as the raw rows."""
    src = SHARED_DATA / "online_retail" / "online_retail.csv.gz"
    raw = pd.read_csv(src, encoding="latin-1", nrows=30000, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    part = tmp_path / "or.csv.gz"
    with gzip.open(part, "wt", encoding="utf-8") as f:
        raw.to_csv(f, index=False)
    db = tmp_path / "or.db"
    imp = wf(db, "import", str(part), "--map", "InvoiceNo=anonymous_id", "--map", "CustomerID=user_id",
             "--event", "Product Purchased")
    assert imp["inserted"] == 30000
    res = wf(db, "recommend", "--evaluate", "--cutoff", "2010-12-09")
    keep = raw[raw.Quantity > 0]
    cust = keep.CustomerID.str.replace(".0", "", regex=False)
    df = pd.DataFrame({"person_id": cust.fillna("inv:" + keep.InvoiceNo), "item": keep.StockCode, "kind": "purchase",
                       "ts": pd.to_datetime(keep.InvoiceDate, format="mixed")})
    direct = evaluate(df, cutoff=pd.Timestamp("2010-12-09"))
    assert res["users_evaluated"] == direct["users_evaluated"] > 50
    assert res["model"] == direct["model"] and res["popularity"] == direct["popularity"]
