"""Automation commands: flows (validate, list, enable, disable, stats, run-due) and the worker."""

from __future__ import annotations

import datetime as dt
import time

import typer

from ..automate import (
    Scheduler,
    disable_flow,
    enable_flow,
    flow_stats,
    list_flows,
    load_flow,
    reconcile,
    run_due,
    scan_triggers,
    template_names,
)
from ..errors import ValidationError
from . import app
from ._common import JsonOpt, WorkspaceOpt, console, emit, scope, store

flows_app = typer.Typer(help="Automated journeys: validate, enable and run flows.", no_args_is_help=True)
app.add_typer(flows_app, name="flows")


@flows_app.command("validate")
def validate(flow: str = typer.Argument(..., help="A YAML file or a template name."), json: bool = JsonOpt) -> None:
    """Check a flow definition; errors name the line.

    Example: wayfare flows validate my-flow.yaml
    """
    f = load_flow(flow)
    emit({"flow": f.name, "valid": True, "steps": len(f.steps)}, json,
         lambda d: console.print(f"{d['flow']}: valid, {d['steps']} steps"))


@flows_app.command("list")
def list_(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Flows of the workspace (and the library templates).

    Example: wayfare flows list --json
    """
    stored = [{"flow": f.name, "enabled": e, "trigger": f.trigger.event, "purpose": f.purpose}
              for f, e in list_flows(scope(workspace))]
    data = {"flows": stored, "templates": template_names()}

    def render(d: dict) -> None:
        for r in d["flows"]:
            console.print(f"{r['flow']:<28} {'on ' if r['enabled'] else 'off'} {r['purpose']:<13} on {r['trigger']}")
        console.print("templates: " + ", ".join(d["templates"]))

    emit(data, json, render)


@flows_app.command("enable")
def enable(flow: str = typer.Argument(..., help="A template name (order-confirmation) or a YAML file."),
           workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Turn a flow on; it reacts to events arriving from now on.

    Example: wayfare flows enable order-confirmation
    """
    emit(enable_flow(scope(workspace), load_flow(flow)), json, lambda d: console.print(f"{d['flow']}: enabled"))


@flows_app.command("disable")
def disable(flow: str = typer.Argument(...), workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Turn a flow off (entries stay; nothing more is sent).

    Example: wayfare flows disable welcome-series
    """
    emit(disable_flow(scope(workspace), flow), json, lambda d: console.print(f"{d['flow']}: disabled"))


@flows_app.command("stats")
def stats(flow: str = typer.Argument(...), workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Entries and sends of a flow by status.

    Example: wayfare flows stats order-confirmation --json
    """
    emit(flow_stats(scope(workspace), flow), json)


@flows_app.command("run-due")
def run_due_cmd(until: str = typer.Option(None, "--until", help="Simulate the clock forward to this ISO time."),
                workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Run what is due now (or at --until) without a server.

    Example: wayfare flows run-due --until 2026-12-01T09:00:00
    """
    now = None
    if until:
        try:
            now = dt.datetime.fromisoformat(until).replace(tzinfo=None)
        except ValueError:
            raise ValidationError("--until is an ISO time like 2026-12-01T09:00:00", where="--until") from None
    sc = scope(workspace)
    reconcile(sc)
    entered = scan_triggers(sc)
    res = run_due(sc, now)
    res["entered"] = entered
    emit(res, json, lambda d: console.print(f"entered {d['entered']}, due {d['due']}, sent {d['sent']}, "
                                            f"errors {d['errors']}"))


@app.command("worker")
def worker(seconds: float = typer.Option(0, "--seconds", help="Stop after this many seconds (0: run until Ctrl-C)."),
           ) -> None:
    """Run the flow scheduler without the HTTP server.

    Example: wayfare worker
    """
    s = Scheduler(store(), interval=0.5).start()
    t0 = time.time()
    try:
        while not seconds or time.time() - t0 < seconds:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        s.stop()
