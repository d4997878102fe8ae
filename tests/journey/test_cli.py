"""The journey commands as users run them, on the restaurant demo."""

import json
import re

import duckdb
from openpyxl import load_workbook

from .conftest import cli, run

STAGES = ["Awareness", "Consideration", "Decision", "Purchase", "Post-purchase", "Loyalty/Advocacy"]


def test_map_json_lists_stages_in_order_and_matches_an_independent_count(demo_db):
    p = run(f"--db={demo_db}", "map", "--json")
    assert p.returncode == 0, p.stderr
    m = json.loads(p.stdout)
    assert [s["name"] for s in m["stages"]] == STAGES
    con = duckdb.connect(str(demo_db), read_only=True)
    buyers, revenue = con.execute("SELECT count(DISTINCT person_id), sum(revenue) FROM events "
                                  "WHERE event = 'Order Completed'").fetchone()
    aware = con.execute("SELECT count(DISTINCT person_id) FROM events WHERE event IN ('Search Result Clicked', "
                        "'Maps Listing Viewed', 'Social Post Seen', 'Recommended by Friend', 'Walked Past', "
                        "'Newsletter Opened')").fetchone()[0]
    con.close()
    purchase = m["stages"][3]
    assert purchase["people"] == buyers and abs(purchase["revenue"] - revenue) < 0.01
    assert m["stages"][0]["people"] == aware == 2000
    for s in m["stages"][:-1]:
        assert s["moved_on"] + s["drop_off"] == s["people"]
        assert {t["name"] for t in s["touchpoints"]}
    post = m["stages"][4]
    assert post["emotion"]["nps_n"] > 100 and -100 <= post["emotion"]["nps"] <= 100
    assert {t["name"] for t in post["touchpoints"]} == {"Survey Responded", "Review Posted", "Ticket Opened"}


def test_map_for_a_persona_and_the_comparison(demo_db):
    m = json.loads(cli(f"--db={demo_db}", "map", "--persona", "The Regular", "--compare", "--json").stdout)
    con = duckdb.connect(str(demo_db), read_only=True)
    regulars = con.execute("SELECT count(*) FROM profiles WHERE traits->>'demo_persona' = 'The Regular'").fetchone()[0]
    con.close()
    assert m["persona"] == "The Regular" and m["people"] == regulars
    cmp = {c["persona"]: c for c in m["comparison"]}
    assert len(cmp) == 5 and cmp["The Regular"]["people"] == regulars
    # the generator makes regulars happier and more loyal than busy parents
    assert cmp["The Regular"]["emotion"] > cmp["The Busy Local Parent"]["emotion"]
    assert cmp["The Regular"]["revenue_per_person"] > cmp["The Busy Local Parent"]["revenue_per_person"]


def test_exports_html_xlsx_csv_png(demo_db, tmp_path):
    html = tmp_path / "map.html"
    assert cli(f"--db={demo_db}", "map", "--export", html).returncode == 0
    text = html.read_text()
    assert all(s in text for s in STAGES) and "<svg" in text and "Pain points" in text
    assert not re.search(r"(src|href)=\"?(https?:)?//", text)  # nothing to fetch: opens offline
    xlsx = tmp_path / "map.xlsx"
    assert cli(f"--db={demo_db}", "map", "--export", xlsx).returncode == 0
    wb = load_workbook(xlsx)
    assert wb.sheetnames[0] == "All customers" and "The Regular" in wb.sheetnames
    assert "Comparison" in wb.sheetnames and "Pain points" in wb.sheetnames
    assert [c.value for c in wb["All customers"][2]][1:7] == STAGES
    csvf = tmp_path / "map.csv"
    assert cli(f"--db={demo_db}", "map", "--export", csvf).returncode == 0
    lines = csvf.read_text().splitlines()
    assert lines[0].startswith("persona,stage,touchpoint,people") and len(lines) > 6 * 6
    png = tmp_path / "map.png"
    assert cli(f"--db={demo_db}", "map", "--export", png).returncode == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = cli(f"--db={demo_db}", "map", "--export", tmp_path / "map.pdf")
    assert bad.returncode == 2 and ".html" in bad.stderr


def test_painpoints_and_plan(demo_db):
    p = json.loads(cli(f"--db={demo_db}", "painpoints", "--json", "--limit", 20).stdout)
    pains = p["pain_points"]
    assert pains and [x["rank"] for x in pains] == list(range(1, len(pains) + 1))
    stakes = [x["revenue_at_stake"] for x in pains]
    assert stakes == sorted(stakes, reverse=True)
    for x in pains:
        assert x["revenue_at_stake"] == round(x["people_affected"] * x["value_per_person"], 2)
        assert x["action"] == f"wayfare flows enable {x['recommended_template']}" and x["sentence"]
    kinds = {x["kind"] for x in pains}
    assert {"complaint_theme", "detractors"} <= kinds
    plan = json.loads(cli(f"--db={demo_db}", "plan", "--json").stdout)
    assert plan["pilot"]["template"] in {x["recommended_template"] for x in pains}
    assert {k["kpi"] for k in plan["assessment"]["kpis"]} >= {"NPS", "people reaching purchase"}
    assert plan["optimisation"][0]["when"].startswith("after")


def test_init_validate_save_and_line_numbered_errors(tmp_path, demo_db):
    db = tmp_path / "copy.db"
    db.write_bytes(demo_db.read_bytes())
    y = tmp_path / "journey.yaml"
    p = cli(f"--db={db}", "map", "init", "--out", y, "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["stages"] == STAGES
    text = y.read_text()
    assert text.startswith("# wayfare journey map")
    assert cli(f"--db={db}", "map", "validate", y).returncode == 0
    y.write_text(text.replace("- name: Consideration", "- name: Browsing"))
    assert cli(f"--db={db}", "map", "save", y).returncode == 0
    m = json.loads(cli(f"--db={db}", "map", "--json").stdout)
    assert m["stages"][1]["name"] == "Browsing"
    lines = text.splitlines()
    line = next(i for i, ln in enumerate(lines, 1) if "event:" in ln and not ln.lstrip().startswith("#"))
    lines[line - 1] = lines[line - 1].replace("event:", "evnt:")
    y.write_text("\n".join(lines))
    bad = cli(f"--db={db}", "map", "validate", y)
    assert bad.returncode == 2 and f"journey.yaml:{line}:" in bad.stderr and "evnt" in bad.stderr


def test_personas_suggest_accept_and_map(tmp_path, demo_db):
    db = tmp_path / "copy.db"
    db.write_bytes(demo_db.read_bytes())
    s = json.loads(cli(f"--db={db}", "personas", "suggest", "--json").stdout)
    assert 2 <= s["k"] <= 4 and len(s["personas"]) == s["k"]
    assert sum(p["size"] for p in s["personas"]) == s["customers"]
    for p in s["personas"]:
        assert p["who"] and p["needs_and_goals"] and p["pain_points"] and p["online_behaviour"] and p["touchpoints"]
    a = cli(f"--db={db}", "personas", "accept", "1", "--name", "Our biggest group", "--json")
    assert a.returncode == 0, a.stderr
    assert json.loads(a.stdout)["size"] == s["personas"][0]["size"]
    m = json.loads(cli(f"--db={db}", "map", "--persona", "Our biggest group", "--json").stdout)
    assert m["people"] == s["personas"][0]["size"]
    lst = json.loads(cli(f"--db={db}", "personas", "list", "--json").stdout)
    assert "Our biggest group" in [p["name"] for p in lst["stored"] if p["status"] == "accepted"]
    missing = cli(f"--db={db}", "personas", "accept", "Nobody")
    assert missing.returncode == 2 and "suggestions:" in missing.stderr
