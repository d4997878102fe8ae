"""Automation commands: flows (validate, list, enable, disable, stats, test, run-due, approvals, decide,
tasks, settings, trace, failed, retry) and the worker."""

from __future__ import annotations

import datetime as dt
import time

import typer

from ..errors import ValidationError
from . import app
from ._common import JsonOpt, WorkspaceOpt, console, emit, progress, scope, store

flows_app = typer.Typer(help="Automated journeys: validate, enable, run and measure flows.", no_args_is_help=True)
app.add_typer(flows_app, name="flows")


def _time(text: str | None, opt: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{opt} is an ISO time like 2026-12-01T09:00:00 (UTC)", where=opt) from None
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


@flows_app.command("validate")
def validate(flow: str = typer.Argument(..., help="A YAML file or a template name."), json: bool = JsonOpt) -> None:
    """Check a flow definition; errors name the line.

    Example: wayfare flows validate my-flow.yaml
    """
    from ..automate import load_flow
    f = load_flow(flow)
    emit({"flow": f.name, "valid": True, "steps": len(f.steps), "trigger": f.trigger.kind}, json,
         lambda d: console.print(f"{d['flow']}: valid, {d['steps']} steps, trigger {d['trigger']}"))


@flows_app.command("list")
def list_(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Flows of the workspace with their figures, and the library templates.

    Example: wayfare flows list --json
    """
    from ..automate import list_flows, templates
    data = {"flows": list_flows(scope(workspace)), "templates": templates()}

    def render(d: dict) -> None:
        for r in d["flows"]:
            console.print(f"{r['name']:<28} {r['status']:<4} {r['purpose']:<13} {r['trigger']:<10} "
                          f"entered {r['entered']}, active {r['active']}, sent {r['sent']}, goal {r['converted']}")
        console.print("templates: " + ", ".join(t["id"] for t in d["templates"]))

    emit(data, json, render)


@flows_app.command("enable")
def enable(flow: str = typer.Argument(..., help="A template name (order-confirmation) or a YAML file."),
           since: str = typer.Option(None, "--since", help="Replay events from this ISO time (default: from now)."),
           workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Turn a flow on; it reacts to events arriving from now on (or since --since).

    Example: wayfare flows enable order-confirmation --workspace default
    """
    from ..automate import enable_flow, load_flow
    emit(enable_flow(scope(workspace), load_flow(flow), since=_time(since, "--since")), json,
         lambda d: console.print(f"{d['flow']}: enabled ({d['trigger']} trigger)"))


@flows_app.command("disable")
def disable(flow: str = typer.Argument(..., help="The flow's name."), workspace: str = WorkspaceOpt,
            json: bool = JsonOpt) -> None:
    """Turn a flow off (entries stay; nothing more is sent).

    Example: wayfare flows disable welcome-series
    """
    from ..automate import disable_flow
    emit(disable_flow(scope(workspace), flow), json, lambda d: console.print(f"{d['flow']}: disabled"))


@flows_app.command("stats")
def stats(flow: str = typer.Argument(..., help="The flow's name."), workspace: str = WorkspaceOpt,
          json: bool = JsonOpt) -> None:
    """Entered, at each step, goals, messages by channel, opens, clicks, conversions, uplift, variants.

    Example: wayfare flows stats order-confirmation --json
    """
    from ..automate import flow_stats

    def render(d: dict) -> None:
        console.print(f"[bold]{d['flow']}[/]: entered {d['entered']}, exited by goal {d['exited_by_goal']}")
        for ch, c in d["messages"].items():
            console.print(f"  {ch}: sent {c['sent']}, skipped {c['skipped']} {c['skipped_by_reason'] or ''}, "
                          f"deferred {c['deferred']}, failed {c['failed']}")
        cv = d["conversions"]
        console.print(f"  conversions ({cv['event']}, {cv['window']}): {cv['converted']}, revenue {cv['revenue']}")
        if "uplift" in d:
            u = d["uplift"]
            console.print(f"  uplift vs holdout: {u['uplift']} (95% CI {u['low']} to {u['high']}), p={u['p_value']}")

    emit(flow_stats(scope(workspace), flow), json, render)


@flows_app.command("test")
def test(flow: str = typer.Argument(..., help="A stored flow, a template name or a YAML file."),
         person: str = typer.Option(..., "--person", help="The person_id to try it on."),
         at: str = typer.Option(None, "--at", help="Pretend they enter at this ISO time (default: now)."),
         workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Dry run: what this person would receive from the flow, and when (nothing is sent).

    Example: wayfare flows test welcome-series --person p42
    """
    from ..automate import dry_run, get_flow, load_flow
    from ..errors import NotFound
    sc = scope(workspace)
    try:
        f = get_flow(sc, flow)
    except NotFound:
        f = load_flow(flow)
    res = dry_run(sc, f, person, _time(at, "--at"))

    def render(d: dict) -> None:
        console.print(f"[bold]{d['flow']}[/] for {d['person_id']} (time zone {d['tz']}):")
        for p in d["plan"]:
            what = p.get("subject") or p.get("text") or p.get("what") or ""
            verdict = f"{p['would']}" + (f" ({p['reason']})" if p.get("reason") else "") if "would" in p else ""
            console.print(f"  {p['at']:%Y-%m-%d %H:%M}  {p['type']:<9} {verdict:<10} {str(what)[:80]}")
        console.print(f"{d['messages']} message(s) would go out.")

    emit(res, json, render)


@flows_app.command("run-due")
def run_due_cmd(until: str = typer.Option(None, "--until", help="Simulate the clock forward to this ISO time (UTC)."),
                workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Run what is due now without a server; with --until, move the clock forward to that time, firing
    every timer at its own time on the way.

    Example: wayfare flows run-due --until 2026-12-01T09:00:00
    """
    from ..automate import reconcile, run_until
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    end = _time(until, "--until") or now
    sc = scope(workspace)
    reconciled = reconcile(sc)
    span = max(1, int((end - min(now, end)).total_seconds() // 3600))  # simulated hours
    with progress("simulated hours", total=span, quiet=json) as tick:
        t0 = min(now, end)
        total = run_until(sc, end, start=t0, on_pass=lambda t: tick(min(span, int((t - t0).total_seconds() // 3600)),
                                                                     span))
    total.update(reconciled=reconciled, now=end)
    emit(total, json, lambda d: console.print(
        f"entered {d['entered']}, due {d.get('due', 0)}, sent {d.get('sent', 0)}, skipped {d.get('skipped', 0)}, "
        f"deferred {d.get('deferred', 0)}, tasks {d.get('tasks', 0)}, approvals waiting {d.get('approvals', 0)}, "
        f"goals {d.get('goals', 0)}, failed {d.get('failed', 0)}, retrying later {d.get('retrying', 0)}, "
        f"errors {d.get('errors', 0)}"))


@flows_app.command("approvals")
def approvals(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Messages waiting for a person, rendered for their customer.

    Example: wayfare flows approvals --json
    """
    from ..automate import pending_approvals
    emit({"approvals": pending_approvals(scope(workspace))}, json, lambda d: [console.print(
        f"{a['id']}  {a['flow']}  to {a['to']}: {a['subject'] or a['preview'][:60]} (until {a['due_at']:%Y-%m-%d %H:%M})")
        for a in d["approvals"]] or console.print("nothing waiting"))


@flows_app.command("decide")
def decide_cmd(item: str = typer.Argument(..., help="The approval id (from `flows approvals`)."),
               decision: str = typer.Argument(..., help="approve or reject"),
               by: str = typer.Option("cli", "--by", help="Who decides (recorded)."),
               subject: str = typer.Option(None, "--subject", help="An edited subject."),
               text: str = typer.Option(None, "--text", help="An edited plain-text body."),
               workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Approve (optionally edited) or reject a waiting message; it goes out on the next run.

    Example: wayfare flows decide 'win-back:p7:2026...:1' approve --by owner@shop.example
    """
    from ..automate import decide_approval
    edits = {k: v for k, v in (("subject", subject), ("text", text)) if v is not None}
    emit(decide_approval(scope(workspace), item, decision, by, edits or None), json,
         lambda d: console.print(f"{d['id']}: {d['status']}"))


@flows_app.command("tasks")
def tasks(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Open tasks for people, with due dates.

    Example: wayfare flows tasks --json
    """
    from ..automate import open_tasks
    emit({"tasks": open_tasks(scope(workspace))}, json, lambda d: [console.print(
        f"{t['due_at']:%Y-%m-%d %H:%M}{' (overdue)' if t['overdue'] else ''}  {t['title']}  [{t['flow']}]")
        for t in d["tasks"]] or console.print("no open tasks"))


@flows_app.command("settings")
def settings(pause: bool = typer.Option(None, "--pause/--resume", help="The workspace's global pause switch."),
             cap: int = typer.Option(None, "--cap", help="Marketing messages per person per --cap-days."),
             cap_days: int = typer.Option(None, "--cap-days", help="The frequency cap's window in days."),
             quiet: str = typer.Option(None, "--quiet", help="Quiet hours, local to each person: 21:00-08:00."),
             tz: str = typer.Option(None, "--tz", help="Time zone for people without one (Europe/London)."),
             workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Show or change the automation policies of a workspace.

    Example: wayfare flows settings --cap 3 --cap-days 7 --quiet 21:00-08:00
    """
    from dataclasses import asdict

    from ..automate import get_policy, set_policy
    sc = scope(workspace)
    changes: dict = {"paused": pause, "cap": cap, "cap_days": cap_days, "default_tz": tz}
    if quiet:
        parts = quiet.split("-")
        if len(parts) != 2:
            raise ValidationError("--quiet looks like 21:00-08:00", where="--quiet")
        changes.update(quiet_start=parts[0].strip(), quiet_end=parts[1].strip())
    changes = {k: v for k, v in changes.items() if v is not None}
    pol = set_policy(sc, **changes) if changes else get_policy(sc)
    emit(asdict(pol), json)


@flows_app.command("trace")
def trace_cmd(person: str = typer.Option(None, "--person", help="Only this person."),
              flow: str = typer.Option(None, "--flow", help="Only this flow."),
              limit: int = typer.Option(50, "--limit"), workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Why each automated action happened (flow, step, trigger event), newest first.

    Example: wayfare flows trace --person p42
    """
    from ..automate import trace
    emit({"log": trace(scope(workspace), person, flow, limit)}, json, lambda d: [console.print(
        f"{r['at']:%Y-%m-%d %H:%M} {r['flow']} step {r['step']} {r['action']} {r['outcome']} {r['reason'] or ''}")
        for r in d["log"]])


@app.command("worker")
def worker(seconds: float = typer.Option(0, "--seconds", help="Stop after this many seconds (0: run until Ctrl-C)."),
           queue: str = typer.Option("", "--queue", help="A PostgreSQL queue URL: only deliver what the engine "
                                     "queued there, next to other workers; the store file is not opened."),
           lease: float = typer.Option(60.0, "--lease", help="Seconds a claimed message is this worker's."),
           json: bool = JsonOpt) -> None:
    """Run the flow scheduler without the HTTP server, or (with --queue) one more delivery worker.

    Example: wayfare worker --queue postgresql://wayfare@127.0.0.1:5432/wayfare
    """
    from ..store.postgres import queue_url
    url = queue_url(queue or None) if queue else None
    t0 = time.time()
    if url:
        import threading

        from ..automate.outbox import Deliverer
        d, stop = Deliverer(url, lease_s=lease), threading.Event()
        th = threading.Thread(target=d.run, args=(stop,), daemon=True)
        th.start()
        try:
            _run_for(seconds, t0)
        finally:
            stop.set()
            th.join(timeout=30)
            d.close()
        emit({"worker": d.owner, **d.out}, json, lambda r: console.print(
            f"delivered {r['sent']:,} of {r['claimed']:,} claimed; {r['retry']} to retry, {r['failed']} failed, "
            f"{r['uncertain']} uncertain"))
        return
    from ..automate import Scheduler
    s = Scheduler(store(), interval=0.5).start()
    try:
        _run_for(seconds, t0)
    finally:
        s.stop()


def _run_for(seconds: float, t0: float) -> None:
    """Until ``seconds`` have passed since ``t0`` (0: until Ctrl-C)."""
    try:
        while not seconds or time.time() - t0 < seconds:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass


@flows_app.command("failed")
def failed_cmd(flow: str = typer.Option(None, "--flow", help="Only this flow."),
               limit: int = typer.Option(500, "--limit", help="At most this many, newest first."),
               workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """The dead-letter list: sends that failed for good (refused, or given up after the retries) and sends
    that may or may not have arrived (uncertain), with flow, person, channel, masked address, attempts,
    last error and time. Retry one with `wayfare flows retry KEY`.

    Example: wayfare flows failed --flow order-confirmation --json
    """
    from ..channels.deadletter import failed_sends
    rows = failed_sends(scope(workspace), flow, limit)

    def render(d: dict) -> None:
        if not d["failed"]:
            console.print("no failed sends")
            return
        from rich.table import Table
        t = Table("when", "flow", "person", "channel", "to", "status", "attempts", "last error")
        t.add_column("key (for flows retry)", overflow="fold")
        for r in d["failed"]:
            t.add_row(f"{r['at']:%Y-%m-%d %H:%M}", r["flow"], r["person_id"], r["channel"], r["to"] or "",
                      r["status"], str(r["attempts"]), (r["error"] or "")[:70], r["key"])
        console.print(t)

    emit({"failed": rows, "count": len(rows)}, json, render)


@flows_app.command("retry")
def retry_cmd(key: str = typer.Argument(None, help="The send's key (flow:entry:person:step, from `flows failed`)."),
              all_failed: bool = typer.Option(False, "--all-failed", help="Every failed send (of --flow, if given)."),
              flow: str = typer.Option(None, "--flow", help="With --all-failed: only this flow."),
              force: bool = typer.Option(False, "--force", help="Also retry an UNCERTAIN send (the connection broke "
                                         "after the message was handed over): it may already have arrived, so the "
                                         "customer may get it twice."),
              by: str = typer.Option("cli", "--by", help="Who asks (recorded in the automation and audit logs)."),
              workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Put a failed send back in line: it goes out on the next run (its entry wakes now and carries on
    from that step; messages after it that were already sent are not repeated). Uncertain sends are
    only retried with --force, because they may have been delivered already (a double send).

    Example: wayfare flows retry 'order-confirmation:order-confirmation:o-17:p42:0'
    """
    from ..channels.deadletter import retry_sends
    if flow and not all_failed:
        raise ValidationError("--flow goes with --all-failed (a key already names its flow)", where="--flow")
    res = retry_sends(scope(workspace), key, all_failed=all_failed, flow=flow, force=force, actor=by)
    emit(res, json, lambda d: console.print(f"{d['retried']} send(s) back in line: they go out on the next run."))
