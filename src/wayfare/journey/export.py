"""Exports people can hand around: one self-contained HTML page (no network: inline CSS and SVG), XLSX with one
sheet per persona, CSV, PNG. Customer text is escaped (Jinja2 autoescape); nothing is fetched when opened."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from ..errors import ValidationError

__all__ = ["export_map", "FORMATS", "to_html", "to_csv_rows"]

FORMATS = (".html", ".xlsx", ".csv", ".png")


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.1f}{unit}" if abs(v) < 1e6 else f"{v:,.0f}{unit}"
    if isinstance(v, int):
        return f"{v:,}{unit}"
    return f"{v}{unit}"


def _curve_svg(maps: dict[str, Any], width: int, height: int = 150) -> str:
    m = maps
    n = len(m["stages"])
    if n == 0:
        return ""
    col = width / n
    pts_at, pts_about = [], []
    for i, s in enumerate(m["emotion_curve"]):
        x = col * i + col / 2
        for val, pts in ((s["score"], pts_at), (s["about_score"], pts_about)):
            if val is not None:
                y = height / 2 - max(-1, min(1, val)) * (height / 2 - 14)
                pts.append((x, y, val))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="emotion curve">',
             f'<rect x="0" y="0" width="{width}" height="{height / 2:.0f}" fill="#eef8f0"/>',
             f'<rect x="0" y="{height / 2:.0f}" width="{width}" height="{height / 2:.0f}" fill="#fbeeee"/>',
             f'<line x1="0" x2="{width}" y1="{height / 2}" y2="{height / 2}" stroke="#999" stroke-dasharray="4 4"/>']
    for pts, colour, label in ((pts_about, "#7b61a8", "about the stage"), (pts_at, "#1f6f8b", "at the stage")):
        if len(pts) > 1:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="3" points="'
                         + " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in pts) + '"/>')
        for x, y, v in pts:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colour}"><title>{label}: {v:+.2f}</title></circle>'
                         f'<text x="{x + 9:.1f}" y="{y + 4:.1f}" font-size="11" fill="{colour}">{v:+.2f}</text>')
    parts.append(f'<text x="6" y="14" font-size="11" fill="#2d6a3e">pleased</text>'
                 f'<text x="6" y="{height - 6}" font-size="11" fill="#9b2c2c">unhappy</text>'
                 f'<text x="{width - 330}" y="14" font-size="11" fill="#1f6f8b">● feedback at the stage</text>'
                 f'<text x="{width - 160}" y="14" font-size="11" fill="#7b61a8">● about the stage</text></svg>')
    return "".join(parts)


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2430;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} .sub{color:#5b6472;margin-bottom:16px}
table.grid{border-collapse:separate;border-spacing:4px;width:100%;table-layout:fixed}
.grid th{background:#1f6f8b;color:#fff;padding:10px 8px;border-radius:6px;font-size:14px}
.grid th.row{background:#eef1f5;color:#1d2430;text-align:left;width:150px;font-size:13px}
.grid td{background:#f7f8fa;padding:8px;vertical-align:top;border-radius:6px;font-size:13px}
.tp{display:block;margin:2px 0}.tp b{font-weight:600}.muted{color:#6b7280;font-size:12px}
.pain{background:#fdecea!important;border:2px solid #d64545}.pp{color:#9b2c2c;margin:3px 0}
.bar{height:8px;background:#1f6f8b;border-radius:4px;margin-top:4px}
.good{color:#2d6a3e;font-weight:600}.bad{color:#9b2c2c;font-weight:600}.mid{color:#8a6d1f;font-weight:600}
table.list{border-collapse:collapse;width:100%;font-size:13px} .list td,.list th{border-bottom:1px solid #e5e7eb;padding:6px;text-align:left}
.chip{display:inline-block;background:#e6f0f4;border-radius:10px;padding:1px 7px;margin:1px;font-size:12px}
.curve{margin-left:158px}
</style></head><body>
<h1>{{ title }}</h1>
<div class="sub">{{ m.people | num }} people, {{ m.events_mapped | num }} events on the map{% if m.period.from %}, {{ m.period.from[:10] }} to {{ m.period.to[:10] }}{% endif %}; sentiment model: {{ m.sentiment_model }}.</div>
<table class="grid">
<tr><th class="row">Stage</th>{% for s in m.stages %}<th>{{ s.name }}</th>{% endfor %}</tr>
<tr><th class="row">Customer actions (touchpoints)</th>{% for s in m.stages %}<td>{% for t in s.touchpoints %}<span class="tp"><b>{{ t.name }}</b> <span class="muted">{{ t.people | num }} people</span></span>{% else %}<span class="muted">none</span>{% endfor %}</td>{% endfor %}</tr>
<tr><th class="row">Channels</th>{% for s in m.stages %}<td>{% for c, n in s.channels.items() %}{% if loop.index <= 5 %}<span class="chip">{{ c }} {{ n | num }}</span>{% endif %}{% endfor %}<div class="muted">{{ s.online_pct | pct }} online</div></td>{% endfor %}</tr>
<tr><th class="row">People reached</th>{% for s in m.stages %}<td><b>{{ s.people | num }}</b> <span class="muted">{{ s.reach_pct | pct }}</span><div class="bar" style="width:{{ s.reach_pct or 0 }}%"></div></td>{% endfor %}</tr>
<tr><th class="row">Moving on / drop-off</th>{% for s in m.stages %}<td class="{{ 'pain' if s.name in pain_stages else '' }}">{% if s.moved_on_pct is not none %}<span class="good">{{ s.moved_on_pct | pct }}</span> move on<br><span class="bad">{{ s.drop_off_pct | pct }}</span> drop off ({{ s.drop_off | num }})<div class="muted">{{ s.to_next_stage_pct | pct }} to the next stage</div>{% else %}<span class="muted">last stage</span>{% endif %}</td>{% endfor %}</tr>
<tr><th class="row">Median time before moving on</th>{% for s in m.stages %}<td>{% if s.median_days_to_move_on is not none %}{{ s.median_days_to_move_on | days }}{% else %}–{% endif %}</td>{% endfor %}</tr>
<tr><th class="row">Revenue</th>{% for s in m.stages %}<td>{{ s.revenue | num }}<div class="muted">value per person {{ s.value_per_person | num }}</div></td>{% endfor %}</tr>
<tr><th class="row">Emotion</th>{% for s in m.stages %}{% set e = s.emotion or s.emotion_about %}<td>{% if e %}<span class="{{ e.score | mood }}">{{ e.score | signed }}</span>{% if not s.emotion %} <span class="muted">(about)</span>{% endif %}<div class="muted">{% if e.texts %}{{ e.texts | num }} comments, {{ e.negative_pct | pct }} negative{% endif %}{% if e.nps_n %}<br>NPS {{ e.nps | signed }} ({{ e.nps_n | num }}){% endif %}{% if e.csat_n %}<br>CSAT {{ e.csat_pct | pct }}{% endif %}</div>{% else %}<span class="muted">no feedback</span>{% endif %}</td>{% endfor %}</tr>
<tr><th class="row">Pain points</th>{% for s in m.stages %}<td class="{{ 'pain' if s.name in pain_stages else '' }}">{% for p in pains if p.stage == s.name %}<div class="pp">⚠ {{ p.sentence }} <span class="muted">→ {{ p.recommended_template }}</span></div>{% endfor %}</td>{% endfor %}</tr>
</table>
<h2>Emotion curve</h2>
<div class="curve">{{ curve | safe }}</div>
{% if pains %}<h2>Pain points by revenue at stake</h2>
<table class="list"><tr><th>#</th><th>what</th><th>stage</th><th>people</th><th>revenue at stake</th><th>do this</th></tr>
{% for p in pains %}<tr><td>{{ p.rank }}</td><td>{{ p.sentence }}</td><td>{{ p.stage or "all" }}</td><td>{{ p.people_affected | num }}</td><td>{{ p.revenue_at_stake | num }}</td><td><code>{{ p.action }}</code>{% if p.also %} <span class="muted">and {{ p.also }}</span>{% endif %}</td></tr>{% endfor %}
</table>{% endif %}
{% if comparison %}<h2>Personas compared</h2>
<table class="list"><tr><th>persona</th><th>people</th><th>reach purchase</th><th>revenue per person</th><th>emotion</th><th>NPS</th><th>biggest drop-off</th></tr>
{% for c in comparison %}<tr><td>{{ c.persona }}</td><td>{{ c.people | num }}</td><td>{{ c.buyer_pct | pct }}</td><td>{{ c.revenue_per_person | num }}</td><td>{{ c.emotion | signed }}</td><td>{{ c.nps | signed }}</td><td>{{ c.biggest_drop_off or "–" }}</td></tr>{% endfor %}
</table>{% endif %}
{% if cards %}<h2>Persona cards</h2>
<table class="list"><tr><th>persona</th><th>who</th><th>needs and goals</th><th>pain points</th><th>online behaviour</th><th>touchpoints</th></tr>
{% for c in cards %}<tr><td><b>{{ c.name }}</b></td><td>{{ c.who }}</td><td>{{ (c.needs_and_goals or []) | join("; ") }}</td><td>{{ (c.pain_points or []) | join("; ") }}</td><td>{{ c.online_behaviour }}</td><td>{{ (c.touchpoints or []) | join(", ") }}</td></tr>{% endfor %}
</table>{% endif %}
<p class="muted">Made by wayfare from this business's own events. Opens without a network connection.</p>
</body></html>"""


def _env() -> Environment:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["num"] = lambda v: _fmt(v)
    env.filters["pct"] = lambda v: _fmt(v, "%")
    env.filters["signed"] = lambda v: "–" if v is None else f"{v:+.2f}" if abs(v) < 2 else f"{v:+.0f}"
    env.filters["days"] = lambda v: f"{v * 24:.1f} hours" if v < 1 else f"{v:.1f} days"
    env.filters["mood"] = lambda v: "mid" if v is None else "good" if v > 0.1 else "bad" if v < -0.1 else "mid"
    return env


def to_html(m: dict, pains: list[dict] | None = None, comparison: list[dict] | None = None, title: str = "",
            cards: list[dict] | None = None) -> str:
    pains = pains or []
    title = title or "Customer journey map" + (f" — {m['persona']}" if m.get("persona") else "")
    return _env().from_string(_HTML).render(m=m, pains=pains, comparison=comparison or [], title=title, cards=cards or [],
                                            pain_stages={p["stage"] for p in pains if p.get("stage")},
                                            curve=_curve_svg(m, 180 * max(len(m["stages"]), 1)))


CSV_COLUMNS = ("persona", "stage", "touchpoint", "people", "reach_pct", "events", "moved_on", "moved_on_pct", "drop_off",
               "drop_off_pct", "median_days_to_move_on", "revenue", "value_per_person", "online_pct", "to_next_stage_pct",
               "channels",
               "emotion_score", "sentiment", "comments", "nps", "nps_answers", "csat_pct", "csat_answers")


def _row(persona: str, stage: str, tp: str, x: dict) -> dict:
    e = x.get("emotion") or {}
    return {"persona": persona, "stage": stage, "touchpoint": tp, **{k: x.get(k) for k in CSV_COLUMNS[3:15]},
            "channels": ";".join(f"{k}:{v}" for k, v in x.get("channels", {}).items()),
            "emotion_score": e.get("score"), "sentiment": e.get("sentiment"), "comments": e.get("texts"),
            "nps": e.get("nps"), "nps_answers": e.get("nps_n"), "csat_pct": e.get("csat_pct"),
            "csat_answers": e.get("csat_n")}


def to_csv_rows(maps: dict[str, dict]) -> list[dict]:
    rows = []
    for persona, m in maps.items():
        for s in m["stages"]:
            rows.append(_row(persona, s["name"], "", s))
            for t in s["touchpoints"]:
                rows.append(_row(persona, s["name"], t["name"], t))
    return rows


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", " ", name).strip()[:31] or "Sheet"
    out, i = base, 2
    while out.lower() in used:
        out = f"{base[:27]} ({i})"
        i += 1
    used.add(out.lower())
    return out


def _xlsx(path: Path, maps: dict[str, dict], pains: list[dict], comparison: list[dict]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    head = PatternFill("solid", fgColor="1F6F8B")
    first_persona = next(iter(maps))
    for persona, m in maps.items():
        ws = wb.create_sheet(_sheet_name(persona, used))
        stage_pains = pains if persona == first_persona else []
        ws.append(["Journey map", persona])
        ws.append(["Stage"] + [s["name"] for s in m["stages"]])
        for c in ws[2]:
            c.font, c.fill = Font(bold=True, color="FFFFFF"), head
        rows = [("Touchpoints", lambda s: "\n".join(f"{t['name']} ({t['people']})" for t in s["touchpoints"])),
                ("Channels", lambda s: ", ".join(f"{k} {v}" for k, v in list(s["channels"].items())[:5])),
                ("People reached", lambda s: s["people"]), ("Reach %", lambda s: s["reach_pct"]),
                ("Moving on %", lambda s: s["moved_on_pct"]), ("Drop-off %", lambda s: s["drop_off_pct"]),
                ("To the next stage %", lambda s: s["to_next_stage_pct"]),
                ("Median days before moving on", lambda s: s["median_days_to_move_on"]),
                ("Revenue", lambda s: s["revenue"]), ("Online %", lambda s: s["online_pct"]),
                ("Emotion score", lambda s: (s["emotion"] or {}).get("score")),
                ("Emotion (about the stage)", lambda s: (s["emotion_about"] or {}).get("score")),
                ("NPS", lambda s: (s["emotion"] or {}).get("nps")), ("CSAT %", lambda s: (s["emotion"] or {}).get("csat_pct")),
                ("Pain points", lambda s, sp=stage_pains: "\n".join(p["sentence"] for p in sp
                                                                      if p.get("stage") == s["name"]))]
        for label, fn in rows:
            ws.append([label] + [fn(s) for s in m["stages"]])
        ws.append([])
        ws.append(["Touchpoint", "Stage", "People", "Moving on %", "Drop-off %", "Median days", "Revenue", "Channels"])
        for c in ws[ws.max_row]:
            c.font = Font(bold=True)
        for s in m["stages"]:
            for t in s["touchpoints"]:
                ws.append([t["name"], s["name"], t["people"], t["moved_on_pct"], t["drop_off_pct"],
                           t["median_days_to_move_on"], t["revenue"], ", ".join(t["channels"])])
        ws.column_dimensions["A"].width = 30
        for col in "BCDEFGH":
            ws.column_dimensions[col].width = 24
        for row in ws.iter_rows(min_row=3, max_row=17):
            for c in row:
                c.alignment = Alignment(wrap_text=True, vertical="top")
    if comparison:
        ws = wb.create_sheet(_sheet_name("Comparison", used))
        cols = [k for k in comparison[0] if not isinstance(comparison[0][k], dict)]
        stages = list(comparison[0].get("reach_pct_by_stage", {}))
        ws.append(cols + [f"reach % {s}" for s in stages])
        for c in comparison:
            ws.append([c[k] for k in cols] + [c.get("reach_pct_by_stage", {}).get(s) for s in stages])
    if pains:
        ws = wb.create_sheet(_sheet_name("Pain points", used))
        cols = ["rank", "kind", "stage", "touchpoint", "sentence", "people_affected", "value_per_person",
                "revenue_at_stake", "recommended_template", "also", "action"]
        ws.append(cols)
        for p in pains:
            ws.append([p.get(k) for k in cols])
    wb.save(path)


def _png(path: Path, m: dict, pains: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s["name"] for s in m["stages"]]
    x = range(len(names))
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(max(8, 1.9 * len(names)), 7), sharex=True,
                                 gridspec_kw={"height_ratios": [3, 2]})
    reached = [s["people"] for s in m["stages"]]
    moved = [s["moved_on"] or 0 for s in m["stages"]]
    a1.bar(x, reached, color="#9cc3d0", label="people reached")
    a1.bar(x, moved, color="#1f6f8b", width=0.5, label="moved on")
    pain_stages = {p["stage"] for p in pains if p.get("stage")}
    for i, s in enumerate(m["stages"]):
        label = f"{s['people']:,}" + (f"\n{s['drop_off_pct']:.0f}% drop" if s["drop_off_pct"] is not None else "")
        a1.text(i, s["people"], label, ha="center", va="bottom", fontsize=8)
        if s["name"] in pain_stages:
            a1.bar(i, s["people"], fill=False, edgecolor="#d64545", linewidth=2)
    a1.set_ylabel("people")
    a1.legend(loc="upper right", fontsize=8)
    a1.set_title("Customer journey map" + (f" — {m['persona']}" if m.get("persona") else ""))
    for key, colour, label in (("score", "#1f6f8b", "feedback at the stage"), ("about_score", "#7b61a8", "about the stage")):
        pts = [(i, c[key]) for i, c in enumerate(m["emotion_curve"]) if c[key] is not None]
        if pts:
            a2.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=colour, label=label)
    a2.axhline(0, color="#999", linestyle="--", linewidth=1)
    a2.set_ylim(-1, 1)
    a2.set_ylabel("emotion (-1 to 1)")
    a2.legend(loc="lower right", fontsize=8)
    a2.set_xticks(list(x), names, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def export_map(path: str | Path, maps: dict[str, dict], pains: list[dict], comparison: list[dict] | None = None,
               cards: list[dict] | None = None) -> Path:
    """Write the map(s) to ``path``; the suffix picks the format. ``maps``: persona name -> computed map, the
    first being everyone (or the persona asked for)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in FORMATS:
        raise ValidationError(f"export to {', '.join(FORMATS)}", where=f"--export {path}")
    first = next(iter(maps.values()))
    if suffix == ".html":
        p.write_text(to_html(first, pains, comparison, cards=cards), encoding="utf-8")
    elif suffix == ".csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
        w.writeheader()
        w.writerows(to_csv_rows(maps))
        p.write_text(buf.getvalue(), encoding="utf-8")
    elif suffix == ".xlsx":
        _xlsx(p, maps, pains, comparison or [])
    else:
        _png(p, first, pains)
    return p
