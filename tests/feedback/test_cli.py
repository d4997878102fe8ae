import json
import subprocess
import sys

import pandas as pd
import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "wayfare", *map(str, args)], capture_output=True, text=True, timeout=300)


from tests.journey.conftest import cli  # noqa: E402  (in-process, the same main())


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("fb") / "r.db"
    p = cli(f"--db={db}", "demo", "--business", "restaurant", "--customers", 1500, "--seed", 3, "--json")
    assert p.returncode == 0, p.stderr
    return db


def test_nps_and_csat_match_an_independent_count(demo_db):
    import duckdb

    con = duckdb.connect(str(demo_db), read_only=True)
    a = con.execute("SELECT TRY_CAST(json_extract_string(properties, '$.nps_score') AS INT) AS n, "
                    "TRY_CAST(json_extract_string(properties, '$.csat_score') AS INT) AS c "
                    "FROM events WHERE event = 'Survey Responded'").df()
    con.close()
    n = run(f"--db={demo_db}", "feedback", "nps", "--json")
    assert n.returncode == 0, n.stderr
    got = json.loads(n.stdout)
    expect = 100 * ((a["n"] >= 9).mean() - (a["n"] <= 6).mean())
    assert got["n"] == len(a) and got["nps"] == round(expect, 1)
    assert got["ci95"][0] < got["nps"] < got["ci95"][1]
    c = json.loads(cli(f"--db={demo_db}", "feedback", "csat", "--json").stdout)
    assert c["csat_pct"] == round(100 * (a["c"] >= 4).mean(), 1)


def test_score_text_and_train_sentiment(demo_db, tmp_path, clothing):
    f = tmp_path / "comments.csv"
    pd.DataFrame({"comment": ["Lovely staff, delicious food", "Cold food and rude staff", None]}).to_csv(f, index=False)
    p = run(f"--db={demo_db}", "feedback", "score-text", f, "--column", "comment", "--json", "--out", tmp_path / "o.csv")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert [r["label"] for r in d["scored"]] == ["positive", "negative", None]
    assert all(-1 <= r["sentiment"] <= 1 for r in d["scored"][:2])
    assert list(pd.read_csv(tmp_path / "o.csv")["label"].fillna("")) == ["positive", "negative", ""]
    bad = cli(f"--db={demo_db}", "feedback", "score-text", f, "--column", "nope")
    assert bad.returncode == 2 and "no column 'nope'" in bad.stderr

    reviews = tmp_path / "reviews.csv"
    clothing.iloc[:4000].to_csv(reviews, index=False)
    t = cli(f"--db={demo_db}", "feedback", "train-sentiment", reviews, "--text-column", "Review Text",
            "--rating-column", "Rating", "--json")
    assert t.returncode == 0, t.stderr
    res = json.loads(t.stdout)
    assert res["balanced_accuracy_holdout"] >= 0.8 and res["active"]
    d2 = json.loads(cli(f"--db={demo_db}", "feedback", "score-text", f, "--column", "comment", "--json").stdout)
    assert d2["model"] == res["model_id"]


def test_themes_on_demo_name_the_planted_complaints(demo_db):
    d = json.loads(cli(f"--db={demo_db}", "feedback", "themes", "--json").stdout)
    names = {t["theme"] for t in d["themes"]}
    assert {"slow service", "friendly staff", "order mistakes"} <= names
