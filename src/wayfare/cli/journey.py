"""The journey map: ``wayfare map`` (and ``map init|validate|save``), ``personas``, ``painpoints``, ``plan``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ..errors import ValidationError
from . import app
from ._common import JsonOpt, WorkspaceOpt, console, emit, progress, scope

map_app = typer.Typer(help="The live journey map: stages, touchpoints, figures, emotion and pain points.")
app.add_typer(map_app, name="map")
personas_app = typer.Typer(help="Personas: suggested from behaviour, accepted and renamed by you.", no_args_is_help=True)
app.add_typer(personas_app, name="personas")

MapFileOpt = typer.Option(None, "--map", help="A journey YAML to use instead of the saved or default map.")
SinceOpt = typer.Option(None, "--since", help="Only events from this date on (YYYY-MM-DD).")


def _yaml(path: Path | None) -> tuple[str | None, str]:
    if path is None:
        return None, "journey.yaml"
    if not path.exists():
        raise ValidationError("no such file", where=str(path))
    return path.read_text(encoding="utf-8"), str(path)


def _view(workspace: str, map_file: Path | None, since: str | None):
    text, where = _yaml(map_file)
    from ..journey.service import JourneyView

    return JourneyView(scope(workspace), text, since, where)


def _render_map(d: dict[str, Any]) -> None:
    m = d
    who = f" — {m['persona']}" if m.get("persona") else ""
    console.print(f"[bold]Journey map{who}[/bold]: {m['people']:,} people, {m['events_mapped']:,} events "
                  f"(sentiment: {m['sentiment_model']})")
    tab = Table()
    for c in ("stage / touchpoint", "people", "reach", "move on", "drop-off", "median wait", "revenue", "channels",
              "emotion"):
        tab.add_column(c, justify="left" if c in ("stage / touchpoint", "channels") else "right")

    def emo(e: dict | None) -> str:
        if not e or e.get("score") is None:
            return ""
        colour = "green" if e["score"] > 0.1 else "red" if e["score"] < -0.1 else "yellow"
        return f"[{colour}]{e['score']:+.2f}[/{colour}]"

    def row(x: dict, label: str, bold: bool) -> None:
        def f(v, unit=""):
            return "" if v is None else f"{v:,.1f}{unit}" if isinstance(v, float) else f"{v:,}{unit}"

        wait = x["median_days_to_move_on"]
        tab.add_row(f"[bold]{label}[/bold]" if bold else f"  {label}", f(x["people"]), f(x["reach_pct"], "%"),
                    f(x["moved_on_pct"], "%"), f(x["drop_off_pct"], "%"),
                    "" if wait is None else (f"{wait * 24:.1f} h" if wait < 1 else f"{wait:.1f} d"),
                    f(round(x["revenue"])) if x["revenue"] else "",
                    ", ".join(list(x["channels"])[:3]), emo(x.get("emotion") or x.get("emotion_about")))

    for s in m["stages"]:
        row(s, s["name"], True)
        for t in s["touchpoints"]:
            row(t, t["name"], False)
    console.print(tab)
    if m.get("unmapped"):
        console.print("Not on the map: " + ", ".join(f"{u['event']} ({u['events']})" for u in m["unmapped"][:8]))
    if d.get("export"):
        console.print(f"Exported to {d['export']}")


@map_app.callback(invoke_without_command=True)
def map_cmd(
    ctx: typer.Context,
    persona: str = typer.Option(None, "--persona", help="Only this persona's people."),
    compare: bool = typer.Option(False, "--compare", help="Add a comparison of all personas."),
    export: Path = typer.Option(None, "--export", help="Write the map to FILE.html, .xlsx, .csv or .png."),
    map_file: Path = MapFileOpt,
    since: str = SinceOpt,
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """The computed journey map: per stage and touchpoint, people reached, share moving on, drop-off, median time
    before moving on, channels, revenue and emotion (sentiment, NPS, CSAT).

    Works with no YAML at all (events placed by name and channel); `wayfare map init` writes one to edit.
    Example: wayfare map --persona "The Regular" --export journey.html
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..journey import FORMATS, export_map

    if export is not None and export.suffix.lower() not in FORMATS:
        raise ValidationError(f"export to {', '.join(FORMATS)}", where=f"--export {export}")
    with progress("Computing the journey map") as update:
        view = _view(workspace, map_file, since)
        m = view.map(persona)
        update(1, 3)
        comparison = view.comparison() if compare or (export and export.suffix.lower() in (".xlsx", ".csv", ".html")
                                                       and persona is None) else None
        update(2, 3)
        if compare:
            m["comparison"] = comparison
        if export:
            pains = view.pain_points(m, persona)
            maps = {persona or "All customers": m}
            if persona is None and export.suffix.lower() in (".xlsx", ".csv"):
                for c in comparison or []:
                    maps[c["persona"]] = view.map(c["persona"])
            from ..journey import list_personas

            cards = [p["card"] for p in list_personas(view.scope, "accepted")]
            export_map(export, maps, pains, comparison, cards)
            m["export"] = str(export)
        update(3, 3)

    def render(d: dict) -> None:
        _render_map(d)
        if d.get("comparison"):
            tab = Table(title="Personas compared")
            for c in ("persona", "people", "buy", "revenue/person", "emotion", "NPS", "biggest drop-off"):
                tab.add_column(c)
            for c in d["comparison"]:
                tab.add_row(c["persona"], f"{c['people']:,}", f"{c['buyer_pct']}%", f"{c['revenue_per_person']:,.2f}"
                            if c["revenue_per_person"] is not None else "", "" if c["emotion"] is None else
                            f"{c['emotion']:+.2f}", "" if c["nps"] is None else f"{c['nps']:+.0f}",
                            c["biggest_drop_off"] or "")
            console.print(tab)

    emit(m, json, render)


_HEADER = """# wayfare journey map. Stages run left to right; rename, reorder or add them.
# A touchpoint matches events by any of:
#   event: [Name, ...]          exact event names (any case)
#   event_matches: "regex"       a regular expression on the event name
#   type: [track|identify|page|screen]
#   channel: [web, app, pos, in-store, phone, email, sms, social, survey, support, review, ...]
#   properties: {key: value, key2: {gte: 10}, key3: {in: [a, b]}, key4: {exists: true}, key5: {contains: text}}
# Give several matches as a list: the touchpoint takes an event if any of them fits; the first touchpoint that
# fits an event gets it. Events no touchpoint takes are left off the map (the map shows which).
# Personas are rules on profile traits (trait: city, equals: Leeds) or behaviour (metric: orders, gte: 3;
# metrics: orders, revenue, avg_order, days_since_last, online_share, weekend_share, tickets, nps); a person
# must pass every rule. Check the file with `wayfare map validate FILE`, then `wayfare map save FILE`.
"""


@map_app.command("init")
def init_cmd(
    out: Path = typer.Option(Path("journey.yaml"), "--out", help="Where to write the starter map."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Write a commented starter journey YAML from the events this workspace has (the default map, spelled out).

    Example: wayfare map init --out journey.yaml
    """
    from ..journey import default_map, dump_map, load_map_text

    if out.exists() and not force:
        raise ValidationError("the file exists; add --force to overwrite it", where=str(out))
    jm, unmapped = default_map(scope(workspace))
    body = dump_map(jm)
    text = _HEADER + (f"# Not placed by the default rules (add them to a stage if they matter): "
                      f"{', '.join(str(u['event']) for u in unmapped[:20])}\n" if unmapped else "") + body
    load_map_text(text, str(out))  # what we write must load
    out.write_text(text, encoding="utf-8")
    data = {"written": str(out), "stages": [s.name for s in jm.stages],
            "touchpoints": sum(len(s.touchpoints) for s in jm.stages), "personas": [p.name for p in jm.personas],
            "unmapped": unmapped}
    emit(data, json, lambda d: console.print(f"Wrote {d['written']}: {len(d['stages'])} stages, {d['touchpoints']} "
                                             f"touchpoints, {len(d['personas'])} personas. Edit it, then "
                                             f"`wayfare map save {d['written']}`."))


@map_app.command("validate")
def validate_cmd(file: Path = typer.Argument(..., help="The journey YAML."), json: bool = JsonOpt) -> None:
    """Check a journey YAML; errors name the line.

    Example: wayfare map validate journey.yaml
    """
    from ..journey import load_map_text

    text, where = _yaml(file)
    jm = load_map_text(text or "", where)
    data = {"valid": True, "stages": jm.stage_names(), "touchpoints": sum(len(s.touchpoints) for s in jm.stages),
            "personas": [p.name for p in jm.personas]}
    emit(data, json, lambda d: console.print(f"{file}: valid, {len(d['stages'])} stages, {d['touchpoints']} touchpoints"))


@map_app.command("save")
def save_cmd(file: Path = typer.Argument(..., help="The journey YAML."), workspace: str = WorkspaceOpt,
             json: bool = JsonOpt) -> None:
    """Validate a journey YAML and make it this workspace's map (used by `wayfare map` from then on).

    Example: wayfare map save journey.yaml
    """
    from ..journey import load_map_text, save_map_yaml

    text, where = _yaml(file)
    load_map_text(text or "", where)
    jm = save_map_yaml(scope(workspace), text or "")
    emit({"saved": True, "stages": jm.stage_names()}, json,
         lambda d: console.print(f"Saved: {' → '.join(d['stages'])}"))


@map_app.command("reset")
def reset_cmd(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Forget the saved map and go back to the default rules.

    Example: wayfare map reset
    """
    from ..journey import DEFAULT_STAGES

    sc = scope(workspace)
    sc.write("DELETE FROM main.journey_maps WHERE workspace_id = $__ws")
    emit({"reset": True, "stages": list(DEFAULT_STAGES)}, json, lambda d: console.print("Back to the default map."))


def _render_cards(d: dict) -> None:
    console.print(f"{d['k']} personas from {d['customers']:,} customers with purchases (silhouette {d['silhouette']}):")
    for i, p in enumerate(d["personas"], 1):
        tab = Table(title=f"{i}. {p['name']}", show_header=False, title_justify="left")
        tab.add_column(style="bold")
        tab.add_column()
        tab.add_row("Who", p["who"])
        tab.add_row("Needs and goals", "; ".join(p["needs_and_goals"]))
        tab.add_row("Pain points", "; ".join(p["pain_points"]))
        tab.add_row("Online behaviour", p["online_behaviour"])
        tab.add_row("Touchpoints", ", ".join(p.get("touchpoints", [])))
        tab.add_row("Size / revenue", f"{p['size']:,} customers, {p['revenue']:,.0f} ({p['revenue_share_pct']}%)")
        console.print(tab)
    console.print("Accept one with `wayfare personas accept NUMBER --name \"A name you like\"`.")


@personas_app.command("suggest")
def suggest_cmd(k: int = typer.Option(None, "--k", min=2, max=4, help="How many personas (default: 2-4, chosen by fit)."),
                seed: int = typer.Option(0, "--seed", help="Random seed of the clustering."),
                workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Cluster customers on behaviour (recency, frequency, value, channels, time of day and week, basket, support,
    feedback) into 2-4 personas with a readable card each, their sizes and revenue; they are stored as suggestions.

    Example: wayfare personas suggest --json
    """
    from ..journey import open_view, store_suggestions, suggest_personas
    from ..journey.features import person_features
    from ..journey.personas import add_touchpoints

    sc = scope(workspace)
    with progress("Clustering customers") as update:
        view = open_view(sc)
        feat = person_features(sc, view.jm)
        res = suggest_personas(feat, k, seed)
        add_touchpoints(view.data, feat, res)
        store_suggestions(sc, res)
        update(1, 1)
    out = {**res, "personas": [{k_: v for k_, v in p.items() if k_ != "definition"} for p in res["personas"]]}
    emit(out, json, _render_cards)


@personas_app.command("accept")
def accept_cmd(which: str = typer.Argument(..., help="The suggestion's number (as listed) or name."),
               name: str = typer.Option(None, "--name", help="Rename it."), workspace: str = WorkspaceOpt,
               json: bool = JsonOpt) -> None:
    """Accept a suggested persona, optionally renaming it; `wayfare map --persona NAME` then shows its journey.

    Example: wayfare personas accept 2 --name "Weekday lunch crowd"
    """
    from ..journey import accept_persona

    res = accept_persona(scope(workspace), which, name)
    emit(res, json, lambda d: console.print(f"Accepted [bold]{d['name']}[/bold] ({d['size']:,} customers)."))


@personas_app.command("list")
def list_cmd(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Personas: the map's rule personas, accepted ones and open suggestions.

    Example: wayfare personas list --json
    """
    from ..journey import current_map, list_personas

    sc = scope(workspace)
    jm, _ = current_map(sc)
    data = {"rules": [{"name": p.name, "description": p.description} for p in jm.personas],
            "stored": [{k: v for k, v in p.items() if k != "card"} | {"card": p["card"]} for p in list_personas(sc)]}

    def render(d: dict) -> None:
        for p in d["rules"]:
            console.print(f"rule      {p['name']}  [dim]{p['description'] or ''}[/dim]")
        for p in d["stored"]:
            console.print(f"{p['status']:<9} {p['name']}  [dim]{p['size']:,} customers[/dim]")
        if not d["rules"] and not d["stored"]:
            console.print("No personas yet: `wayfare personas suggest`.")

    emit(data, json, render)


@app.command("painpoints")
def painpoints_cmd(persona: str = typer.Option(None, "--persona", help="Only this persona's people."),
                   limit: int = typer.Option(10, "--limit", help="How many to show."),
                   map_file: Path = MapFileOpt, workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Pain points of the journey, biggest revenue at stake first, each with a sentence and the automation
    template to enable (one command away).

    Example: wayfare painpoints --limit 5
    """
    with progress("Looking for pain points") as update:
        view = _view(workspace, map_file, None)
        pains = view.pain_points(persona=persona)
        update(1, 1)
    data = {"persona": persona, "pain_points": pains[:limit], "total": len(pains)}

    def render(d: dict) -> None:
        if not d["pain_points"]:
            console.print("No pain point stands out.")
        for p in d["pain_points"]:
            where = " / ".join(x for x in (p["stage"], p["touchpoint"]) if x) or "whole journey"
            console.print(f"[bold]{p['rank']}.[/bold] [red]{p['revenue_at_stake']:,.0f} at stake[/red] "
                          f"({p['people_affected']:,} people × {p['value_per_person']:,.2f}) — {where}\n   {p['sentence']}\n"
                          f"   → [bold]{p['action']}[/bold]" + (f" (and {p['also']})" if p["also"] else "")
                          + ("" if p["template_available"] else " [dim](template not installed yet)[/dim]"))

    emit(data, json, render)


@app.command("plan")
def plan_cmd(map_file: Path = MapFileOpt, workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """A phased plan from the map: assessment (KPIs with today's values), a pilot (the automation with the best
    expected return for its risk), expansion, and continuous optimisation (what to re-measure, when).

    Example: wayfare plan --json
    """
    with progress("Planning") as update:
        plan = _view(workspace, map_file, None).plan()
        update(1, 1)

    def render(d: dict) -> None:
        console.print("[bold]1. Assessment[/bold]")
        console.print("   " + " → ".join(f"{s['name']} {s['people']:,}" for s in d["assessment"]["stages"]))
        for k in d["assessment"]["kpis"]:
            console.print(f"   {k['kpi']}: [bold]{k['today']}{k['unit']}[/bold] ({k['why']})")
        p = d["pilot"]
        console.print("[bold]2. Pilot[/bold]")
        if p:
            console.print(f"   {p['template']}: {p['pain_point']}\n   expected return {p['expected_return']:,.0f} of "
                          f"{p['revenue_at_stake']:,.0f} at stake, {p['risk']} risk ({p['risk_note']}).\n   {p['how']}\n"
                          f"   → {p['action']}")
        else:
            console.print("   nothing to pilot yet: no pain point stands out")
        console.print("[bold]3. Expansion[/bold]")
        for e in d["expansion"]:
            console.print(f"   {e['template']} ({e['risk']} risk, expected {e['expected_return']:,.0f}): {e['pain_point']}")
        console.print("[bold]4. Continuous optimisation[/bold]")
        for o in d["optimisation"]:
            console.print(f"   {o['what']}: {o['when']}  [dim]{o['command']}[/dim]")

    emit(plan, json, render)
