"""Growth commands: leads (score, list, staff, assign, tasks), recommend, referrals and whatif."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer
from rich.table import Table

from ..errors import ValidationError
from ..growth import leads as L
from ..growth import referrals as R
from ..growth.recommend import ItemKNN, bought_together, evaluate, load_interactions, recommend_for
from ..growth.whatif import whatif as run_whatif
from . import app
from ._common import JsonOpt, WorkspaceOpt, console, emit, progress, scope

leads_app = typer.Typer(help="Lead scoring, lifecycle stages and assignment of qualified leads to staff.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff who receive qualified leads (by topic, territory or in turn).", no_args_is_help=True)
referrals_app = typer.Typer(help="Referral codes and links, attribution of new customers, advocacy.", no_args_is_help=True)
leads_app.add_typer(staff_app, name="staff")
app.add_typer(leads_app, name="leads")
app.add_typer(referrals_app, name="referrals")


def _table(title: str, rows: list[dict[str, Any]], cols: list[str]) -> None:
    tb = Table(title=title, title_justify="left")
    for c in cols:
        tb.add_column(c)
    for r in rows:
        tb.add_row(*["" if r.get(c) is None else str(r.get(c)) for c in cols])
    console.print(tb)


@leads_app.command("score")
def leads_score(
    assign: bool = typer.Option(False, "--assign", help="Also give each new qualified lead to a member of staff."),
    due_hours: float = typer.Option(24.0, "--due-hours", help="Hours until an assigned lead's task is due."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Score everyone: rule points with recency decay, a learned probability when history allows, and a stage.

    Example: wayfare leads score --assign --json
    """
    sc = scope(workspace)
    with progress("scoring"):
        res = L.score_people(sc)
        n = L.save_scores(sc, res)
    tasks = L.assign_leads(sc, due_hours=due_hours) if assign else []
    top = L.list_leads(sc, limit=10)
    data = {"scored": n, "scored_at": res["scored_at"], "stages": res["stages"], "learned": res["learned"],
            "assigned": tasks, "top": [t for t in top if t["stage"] != "customer"] or top}
    emit(data, json, lambda d: (console.print(f"scored {d['scored']:,} people: {d['stages']}"),
                                _table("Top", d["top"], ["person_id", "points", "probability", "stage", "assignee"])))


@leads_app.command("list")
def leads_list(
    stage: str = typer.Option(None, "--stage", help="visitor, subscriber, lead, qualified or customer."),
    limit: int = typer.Option(50, "--limit", min=1, max=10000),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """The scored people, best first (run `wayfare leads score` first).

    Example: wayfare leads list --stage qualified --json
    """
    rows = L.list_leads(scope(workspace), stage, limit)
    emit({"leads": rows}, json, lambda d: _table("Leads", d["leads"], ["person_id", "points", "probability", "stage",
                                                                       "assignee", "due_at"]))


@leads_app.command("assign")
def leads_assign(due_hours: float = typer.Option(24.0, "--due-hours"), workspace: str = WorkspaceOpt,
                 json: bool = JsonOpt) -> None:
    """Give each qualified lead without an open task to a member of staff: topic, territory, else in turn.

    Example: wayfare leads assign --due-hours 4 --json
    """
    tasks = L.assign_leads(scope(workspace), due_hours=due_hours)
    emit({"assigned": tasks}, json, lambda d: _table("Assigned", d["assigned"], ["person_id", "assignee", "rule", "due_at"]))


@leads_app.command("tasks")
def leads_tasks(status: str = typer.Option("open", "--status"), workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Lead follow-up tasks and who has them.

    Example: wayfare leads tasks --json
    """
    rows = L.list_tasks(scope(workspace), None if status == "all" else status)
    emit({"tasks": rows}, json, lambda d: _table("Tasks", d["tasks"], ["task_id", "person_id", "assignee", "rule", "due_at"]))


@staff_app.command("add")
def staff_add(
    name: str = typer.Argument(..., help="Their name."),
    email: str = typer.Option(None, "--email"),
    topic: list[str] = typer.Option([], "--topic", help="A topic they take (repeatable), e.g. catering."),
    territory: list[str] = typer.Option([], "--territory", help="A territory, city or country (repeatable)."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Add (or update) a member of staff who receives leads.

    Example: wayfare leads staff add Ann --topic catering --territory leeds
    """
    emit(L.add_staff(scope(workspace), name, email, topic, territory), json)


@staff_app.command("list")
def staff_list(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Staff who receive leads.

    Example: wayfare leads staff list --json
    """
    emit({"staff": L.list_staff(scope(workspace))}, json,
         lambda d: _table("Staff", d["staff"], ["name", "email", "topics", "territories"]))


def _date(text: str | None, where: str = "--cutoff") -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError as e:
        raise ValidationError(f"{text!r} is not a date (YYYY-MM-DD)", where=where) from e


@app.command()
def recommend(
    person: str = typer.Argument(None, help="Person id, user id, email or anonymous id."),
    top: int = typer.Option(10, "--top", min=1, max=200, help="How many items."),
    item: str = typer.Option(None, "--item", help="Show what is bought together with this item instead."),
    evaluate_: bool = typer.Option(False, "--evaluate", help="Offline evaluation with a time split."),
    cutoff: str = typer.Option(None, "--cutoff", help="Evaluation split date (default: 80% of the time range)."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Product recommendations: a person's top-N (owned items excluded), bought-together, or an evaluation.

    --evaluate trains on purchases before the cutoff and prints hit_rate_at_10 and ndcg_at_10 on what each
    customer bought after it, for the model and for the popularity baseline.

    Example: wayfare recommend --evaluate --cutoff 2011-09-01 --json
    """
    sc = scope(workspace)
    if evaluate_:
        with progress("evaluating"):
            res = evaluate(load_interactions(sc), cutoff=_date(cutoff), k=10, model=ItemKNN())

        def render(d: dict) -> None:
            console.print(f"cutoff {d['cutoff']}, {d['users_evaluated']:,} customers evaluated")
            for m in ("model", "popularity"):
                console.print(f"  {m:<11} hit rate@10 {d[m]['hit_rate_at_10']:.4f}   NDCG@10 {d[m]['ndcg_at_10']:.4f}")
        emit(res, json, render)
        return
    if item:
        rows = bought_together(load_interactions(sc), item, n=top)
        emit({"item": item, "bought_together": rows}, json,
             lambda d: _table(f"Bought with {item}", d["bought_together"], ["item", "count", "confidence", "lift"]))
        return
    if not person:
        raise ValidationError("give a PERSON, --item ITEM or --evaluate", where="recommend")
    res = recommend_for(sc, person, top)
    emit(res, json, lambda d: _table(f"For {d['person_id']}", d["recommendations"], ["item", "name", "score", "source"]))


@app.command()
def whatif(
    step: str = typer.Option(..., "--step", help="The step (event name) whose conversion changes."),
    to: float = typer.Option(..., "--to", help="New conversion: a fraction (0.3) or a percentage (30)."),
    from_step: str = typer.Option(None, "--from", help="The step before (default: any activity)."),
    goal: str = typer.Option(None, "--goal", help="The final step (default: a purchase)."),
    period: float = typer.Option(30.0, "--period-days", help="Forecast period in days."),
    over: float = typer.Option(90.0, "--over-days", help="Days of recent data to measure on."),
    within: float = typer.Option(30.0, "--within-days", help="Conversion window from the first step."),
    since: str = typer.Option(None, "--since", help="Compare with what happened since this date (a change went live): "
                              "the forecast is measured on the data before it."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """If this step's conversion rose to RATE: expected extra customers and revenue over the period, with a 90% interval.

    With --since, the forecast is made from the data before that date and compared with what actually happened
    after it (e.g. after an automation started).

    Example: wayfare whatif --step "Table Booked" --to 0.4 --period-days 30 --json
    """
    from ..growth.whatif import compare

    sc = scope(workspace)
    start = _date(since, "--since")
    res = run_whatif(sc, step, to, from_step=from_step, goal=goal, period_days=period, over_days=over,
                     within_days=within, until=start)
    if start is not None:
        res["actual"] = compare(sc, res, start)

    def render(d: dict) -> None:
        console.print(f"{d['step']}: {d['current_rate']:.1%} -> {d['to_rate']:.1%} "
                      f"({d['entering_per_period']:.0f} people enter per {d['period_days']:.0f} days)")
        console.print(f"  extra customers {d['expected_extra_customers']:.1f} "
                      f"(90%: {d['extra_customers_interval'][0]:.0f}..{d['extra_customers_interval'][1]:.0f})")
        console.print(f"  extra revenue   {d['expected_extra_revenue']:,.2f} "
                      f"(90%: {d['extra_revenue_interval'][0]:,.0f}..{d['extra_revenue_interval'][1]:,.0f})")
    emit(res, json, render)


@referrals_app.command("code")
def referrals_code(person: str = typer.Argument(..., help="Person id, user id, email or anonymous id."),
                   base_url: str = typer.Option(None, "--base-url", help="Site address for the link, e.g. https://shop.example"),
                   workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """A customer's referral code (and link with --base-url).

    Example: wayfare referrals code alice@example.com --base-url https://shop.example --json
    """
    from ..growth.recommend import resolve_person

    sc = scope(workspace)
    pid = resolve_person(sc, person)
    out = {"person_id": pid, "code": R.code_for(sc, pid)}
    if base_url:
        out["link"] = R.link_for(sc, pid, base_url)
    emit(out, json)


@referrals_app.command("attribute")
def referrals_attribute(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Attribute new people who used a code (link, form or till) and mark referred people who bought.

    Example: wayfare referrals attribute --json
    """
    emit(R.attribute(scope(workspace)), json)


@referrals_app.command("list")
def referrals_list(limit: int = typer.Option(100, "--limit", min=1, max=10000), workspace: str = WorkspaceOpt,
                   json: bool = JsonOpt) -> None:
    """Attributed referrals, newest first.

    Example: wayfare referrals list --json
    """
    emit({"referrals": R.list_referrals(scope(workspace), limit)}, json,
         lambda d: _table("Referrals", d["referrals"], ["code", "referrer_id", "referred_id", "channel", "converted_at"]))


@referrals_app.command("advocacy")
def referrals_advocacy(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Advocacy: referrals sent and converted, reviews written, promoters, top advocates.

    Example: wayfare referrals advocacy --json
    """
    emit(R.advocacy(scope(workspace)), json)


personalize_app = typer.Typer(help="On-site personalisation: content slots per audience, the user-id secret.",
                              no_args_is_help=True)
app.add_typer(personalize_app, name="personalize")


@personalize_app.command("slot")
def personalize_slot(
    slot: str = typer.Argument(..., help="Slot name the site renders, e.g. banner."),
    audience: str = typer.Option("all", "--audience", help="all, first_time, returning, customer, regular, a stage, "
                                 "or segment:NAME."),
    content: str = typer.Option(..., "--content", help='JSON object, e.g. {"text": "10% off your first order"}.'),
    priority: int = typer.Option(0, "--priority", help="Higher wins when several audiences match."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Define what a slot shows to an audience.

    Example: wayfare personalize slot banner --audience first_time --content '{"text": "Welcome! 10% off"}'
    """
    import json as _j

    from ..growth.personalize import set_slot

    try:
        body = _j.loads(content)
    except ValueError as e:
        raise ValidationError(f"not JSON: {e}", where="--content") from e
    emit(set_slot(scope(workspace), slot, audience, body, priority), json)


@personalize_app.command("slots")
def personalize_slots(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """The content slots defined for this workspace.

    Example: wayfare personalize slots --json
    """
    from ..growth.personalize import list_slots

    emit({"slots": list_slots(scope(workspace))}, json,
         lambda d: _table("Slots", d["slots"], ["slot", "audience", "priority", "content"]))


@personalize_app.command("secret")
def personalize_secret(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """The secret a site's server uses to sign user ids: user_hash = hex HMAC-SHA256(secret, user_id). Keep it server-side.

    Example: wayfare personalize secret --json
    """
    from ..growth.personalize import workspace_secret

    emit({"secret": workspace_secret(scope(workspace))}, json)
