"""Analytics commands: funnel, paths, retention, rfm, kpis and segments."""

from __future__ import annotations

import re
from typing import Any

import typer
from rich.table import Table

from ..analytics import (
    FunnelQuery,
    PathsQuery,
    RetentionQuery,
    Tables,
    parse_duration,
    parse_step,
    run_funnel,
    run_kpis,
    run_paths,
    run_repeat,
    run_retention,
    run_rfm,
)
from ..analytics import saved as saved_segments
from ..analytics.model import Exclusion
from ..analytics.segments import GRAMMAR
from ..errors import ValidationError
from . import app
from ._common import JsonOpt, WorkspaceOpt, console, emit, progress, scope

segments_app = typer.Typer(help="Segments: rules over traits, event counts, recency and RFM; saved, with history.",
                           no_args_is_help=True)
app.add_typer(segments_app, name="segments")


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v * 100:.1f}%"


EngineOpt = typer.Option("duckdb", "--engine", help="duckdb (the store, default) or spark (the workspace exported "
                         "to Parquet and read by Spark; needs wayfare[spark] and Java).")
MasterOpt = typer.Option("local[2]", "--spark-master", help="Spark master URL with --engine spark, e.g. spark://host:7077.")


def _tables(workspace: str, engine: str, master: str) -> Tables:
    if engine == "duckdb":
        return Tables.from_scope(scope(workspace))
    if engine == "spark":
        return Tables.spark_from_scope(scope(workspace), master)
    raise ValidationError(f"--engine is duckdb or spark, not {engine!r}", where="--engine")


def _exclusion(text: str, n: int) -> Exclusion:
    m = re.match(r"^\s*(\d+)-(\d+)\s*:\s*(.+)$", text)
    after, before, body = (int(m.group(1)), int(m.group(2)), m.group(3)) if m else (1, n, text)
    return Exclusion(step=parse_step(body), after=after, before=before)


@app.command()
def funnel(
    steps: list[str] = typer.Argument(..., help='Steps in order, e.g. "Menu Viewed" "Order Completed where channel = pos".'),
    within: str = typer.Option("7d", "--within", help="Conversion window from the first step (30m, 12h, 7d, 2w)."),
    by: str = typer.Option(None, "--by", help="Breakdown: persona, first_touch, traits.X, or a field of the step-1 event."),
    exclude: list[str] = typer.Option([], "--exclude", help='Exclusion step, "EVENT" (between first and last step) '
                                      'or "A-B:EVENT [where ...]" (between steps A and B).'),
    order: str = typer.Option("strict", "--order", help="strict (steps in order) or loose (steps 1..k in any "
                              "order, all within the window)."),
    engine: str = EngineOpt,
    master: str = MasterOpt,
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """How many people get through each step, in order, within the window of their first step.

    A person reaches step k with events matching steps 1..k at strictly increasing times, the k-th no later
    than the window after the 1st (ClickHouse windowFunnel, strict_increase); each person counts once, at
    the furthest step. With --order loose, steps 1..k may happen in any order within the window.

    Example: wayfare funnel "Menu Viewed" "Table Booked" "Order Completed" --within 7d --by persona --json
    """
    if order not in ("strict", "loose"):
        raise ValidationError(f"--order is strict or loose, not {order!r}", where="--order")
    parsed = [parse_step(s) for s in steps]
    q = FunnelQuery(steps=parsed, within=parse_duration(within, "--within"), by=by, order=order,
                    exclusions=[_exclusion(x, len(parsed)) for x in exclude])
    with progress("funnel"):
        t = _tables(workspace, engine, master)
        data = run_funnel(t.events, q, t.profiles)

    def render(d: dict[str, Any]) -> None:
        tb = Table(title=f"Funnel within {within}", title_justify="left")
        for c in ("step", "people", "from previous", "from first", "median h", "p90 h"):
            tb.add_column(c, justify="left" if c == "step" else "right")
        for s in d["steps"]:
            tb.add_row(s["step"], f"{s['count']:,}", _pct(s["conversion_from_previous"]), _pct(s["conversion_from_first"]),
                       "" if s["median_hours"] is None else f"{s['median_hours']:.1f}",
                       "" if s["p90_hours"] is None else f"{s['p90_hours']:.1f}")
        console.print(tb)
        for g in d.get("breakdown", [])[:12]:
            console.print(f"[bold]{g['key']}[/bold]: " + " → ".join(f"{s['count']:,}" for s in g["steps"]))

    emit(data, json, render)


@app.command()
def paths(
    start: str = typer.Option(None, "--from", help="Paths starting at this event."),
    end: str = typer.Option(None, "--to", help="Paths ending at this event."),
    depth: int = typer.Option(4, "--depth", min=2, max=10),
    min_count: int = typer.Option(1, "--min-count", min=1),
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    session_gap: str = typer.Option("30m", "--session-gap", help="Inactivity that ends a session."),
    collapse: bool = typer.Option(False, "--collapse-repeats", help="Count consecutive repeats of an event as one step."),
    engine: str = EngineOpt,
    master: str = MasterOpt,
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """The most common paths within sessions, from or to an event, and Sankey-ready transitions.

    Example: wayfare paths --from "Menu Viewed" --depth 4 --json
    """
    if start and end:
        raise ValidationError("give --from or --to, not both", where="paths")
    q = PathsQuery(start=start, end=end, depth=depth, min_count=min_count, limit=limit, collapse_repeats=collapse,
                   session_gap=parse_duration(session_gap, "--session-gap"))
    with progress("paths"):
        data = run_paths(_tables(workspace, engine, master).events, q)

    def render(d: dict[str, Any]) -> None:
        tb = Table(title="Top paths", title_justify="left")
        tb.add_column("sessions", justify="right")
        tb.add_column("path")
        for p in d["paths"]:
            tb.add_row(f"{p['sessions']:,}", " → ".join(p["path"]))
        console.print(tb)

    emit(data, json, render)


@app.command()
def retention(
    period: str = typer.Option("week", "--period", help="day, week or month."),
    periods: int = typer.Option(8, "--periods", min=1, max=120),
    cohort_event: str = typer.Option(None, "--cohort-event", help="Cohort by the first time of this event (default: any)."),
    return_event: str = typer.Option(None, "--return-event", help="Count as returning on this event (default: any)."),
    order_event: str = typer.Option("Order Completed", "--order-event", help="The purchase event for repeat figures."),
    engine: str = EngineOpt,
    master: str = MasterOpt,
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Cohort retention triangle, repeat-purchase rate and time between purchases.

    Example: wayfare retention --period month --periods 6 --return-event "Order Completed" --json
    """
    if period not in ("day", "week", "month"):
        raise ValidationError("--period is day, week or month", where="retention")
    q = RetentionQuery(period=period, periods=periods, cohort_event=cohort_event, return_event=return_event)
    with progress("retention"):
        t = _tables(workspace, engine, master)
        data = run_retention(t.events, q)
        data["repeat"] = run_repeat(t.events, order_event)

    def render(d: dict[str, Any]) -> None:
        tb = Table(title=f"Retention by {period}", title_justify="left")
        tb.add_column("cohort")
        tb.add_column("size", justify="right")
        for i in range(periods + 1):
            tb.add_column(str(i), justify="right")
        for c in d["cohorts"]:
            tb.add_row(c["cohort"], f"{c['size']:,}", *[_pct(r) for r in c["rates"]])
        console.print(tb)
        r = d["repeat"]
        console.print(f"repeat purchase rate {_pct(r['repeat_rate'])} ({r['repeat_buyers']:,} of {r['buyers']:,} buyers); "
                      f"median {r['days_between_orders']['median']} days between orders")

    emit(data, json, render)


@app.command()
def rfm(
    order_event: str = typer.Option("Order Completed", "--order-event"),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """RFM quintile scores and the named segments (Champions ... Lost) with people and revenue.

    Example: wayfare rfm --json
    """
    with progress("rfm"):
        data = run_rfm(Tables.from_scope(scope(workspace)).events, order_event=order_event)

    def render(d: dict[str, Any]) -> None:
        tb = Table(title=f"RFM segments ({d['buyers']:,} buyers)", title_justify="left")
        for c in ("segment", "people", "revenue", "share", "avg recency d", "avg orders"):
            tb.add_column(c, justify="left" if c == "segment" else "right")
        for s in d["segments"]:
            tb.add_row(s["segment"], f"{s['people']:,}", f"{s['revenue']:,.2f}", _pct(s["revenue_share"]),
                       str(s["avg_recency_days"] or ""), str(s["avg_frequency"] or ""))
        console.print(tb)

    emit(data, json, render)


@app.command()
def kpis(
    period: str = typer.Option("month", "--period", help="day, week or month."),
    order_event: str = typer.Option("Order Completed", "--order-event"),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Revenue, orders, AOV, customers, frequency, new vs returning, repeat rate and active people by
    period, and by channel (online and offline side by side).

    Example: wayfare kpis --period week --json
    """
    if period not in ("day", "week", "month"):
        raise ValidationError("--period is day, week or month", where="kpis")
    with progress("kpis"):
        data = run_kpis(Tables.from_scope(scope(workspace)).events, period, order_event)

    def render(d: dict[str, Any]) -> None:
        tb = Table(title=f"KPIs by {period}", title_justify="left")
        for c in ("period", "revenue", "orders", "aov", "customers", "new", "returning", "active"):
            tb.add_column(c, justify="left" if c == "period" else "right")
        for r in d["totals"]:
            tb.add_row(r["period"], f"{r['revenue']:,.2f}", f"{r['orders']:,}", str(r["aov"] or ""), f"{r['customers']:,}",
                       f"{r['new_customers']:,}", f"{r['returning_customers']:,}", f"{r['active']:,}")
        console.print(tb)

    emit(data, json, render)


# -- segments -------------------------------------------------------------------------------------------------------
@segments_app.command("create")
def segments_create(name: str, rule: str, description: str = typer.Option(None, "--description"),
                    workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Save (or replace) a segment and compute its members now.

    Example: wayfare segments create regulars 'orders_90d >= 2 and last_seen < 30d'
    """
    sc = scope(workspace)
    saved_segments.save_segment(sc, name, rule, description)
    res = saved_segments.refresh_segment(sc, name)
    emit(res, json, lambda d: console.print(f"segment [bold]{name}[/bold]: {d['members']:,} members"))


@segments_app.command("list")
def segments_list(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Saved segments with their rule and current member count.

    Example: wayfare segments list --json
    """
    data = saved_segments.list_segments(scope(workspace))

    def render(d: list) -> None:
        tb = Table(title="Segments", title_justify="left")
        for c in ("name", "members", "rule", "refreshed"):
            tb.add_column(c)
        for s in d:
            tb.add_row(s["name"], f"{s['members']:,}", s["rule"], str(s["refreshed_at"] or ""))
        console.print(tb)

    emit(data, json, render)


@segments_app.command("refresh")
def segments_refresh(name: str, workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Recompute a saved segment's members and record who entered and who left.

    Example: wayfare segments refresh regulars --json
    """
    res = saved_segments.refresh_segment(scope(workspace), name)
    emit(res, json, lambda d: console.print(f"{name}: {d['members']:,} members (+{d['entered']:,} / -{d['left']:,})"))


@segments_app.command("preview")
def segments_preview(rule: str, limit: int = typer.Option(20, "--limit"), workspace: str = WorkspaceOpt,
                     json: bool = JsonOpt) -> None:
    """Who matches a rule now, without saving it.

    Example: wayfare segments preview 'rfm.segment = "At Risk" and traits.email_marketing = subscribed'
    """
    people = saved_segments.preview_segment(scope(workspace), rule)
    emit({"rule": rule, "members": len(people), "sample": people[:limit]}, json,
         lambda d: console.print(f"{d['members']:,} people match; e.g. {', '.join(d['sample'][:5])}"))


@segments_app.command("history")
def segments_history(name: str, limit: int = typer.Option(100, "--limit"), workspace: str = WorkspaceOpt,
                     json: bool = JsonOpt) -> None:
    """Who entered and left a saved segment, newest first.

    Example: wayfare segments history regulars --json
    """
    data = saved_segments.segment_history(scope(workspace), name, limit)
    emit(data, json, lambda d: [console.print(f"{r['at']} {r['change']:>7} {r['person_id']}") for r in d])


@segments_app.command("delete")
def segments_delete(name: str, workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Delete a saved segment, its members and history.

    Example: wayfare segments delete regulars
    """
    saved_segments.delete_segment(scope(workspace), name)
    emit({"deleted": name}, json, lambda d: console.print(f"deleted segment {name}"))


@segments_app.command("grammar")
def segments_grammar(json: bool = JsonOpt) -> None:
    """The rule language, with its metrics and an example.

    Example: wayfare segments grammar
    """
    emit({"grammar": GRAMMAR}, json, lambda d: console.print(d["grammar"]))
