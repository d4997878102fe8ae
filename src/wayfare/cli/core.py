"""Foundation commands: status, workspaces, keys, serve, import, profile, demo."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from ..errors import ValidationError
from ..identity import find_person, person_summary, timeline
from ..ingest import run_import, store_status
from ..store import create_key, list_keys, revoke_key
from . import app
from ._common import CTX, JsonOpt, WorkspaceOpt, console, emit, progress, scope, store

workspace_app = typer.Typer(help="Workspaces: one per business, no data crossing between them.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: ingest keys for websites and apps, admin keys for everything.",
                       no_args_is_help=True)
app.add_typer(workspace_app, name="workspace")
app.add_typer(keys_app, name="keys")


def _kv_table(title: str, d: dict[str, Any]) -> Table:
    t = Table(title=title, show_header=False, title_justify="left")
    for k, v in d.items():
        t.add_row(str(k), f"{v:,}" if isinstance(v, int) else str(v))
    return t


@app.command()
def status(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """What the store holds: workspaces, events by type, channel and source, people, identities.

    Example: wayfare status --json
    """
    data = store_status(scope(workspace))

    def render(d: dict) -> None:
        console.print(f"[bold]{CTX.db}[/bold] · workspace [bold]{d['workspace']}[/bold] "
                      f"(of {', '.join(d['workspaces'])}) · schema v{d['schema_version']}")
        console.print(f"{d['events']:,} events · {d['people']:,} people · {d['identities']:,} identities · "
                      f"{d['merges']:,} merges · revenue {d['revenue']:,.2f}")
        console.print(f"events from {d['first_event_at']} to {d['last_event_at']}")
        for key, title in (("events_by_type", "by type"), ("events_by_channel", "by channel"),
                           ("events_by_source", "by source"), ("top_events", "top events")):
            if d[key]:
                console.print(_kv_table(title, d[key]))

    emit(data, json, render)


@workspace_app.command("create")
def workspace_create(name: str, json: bool = JsonOpt) -> None:
    """Create a workspace for another business.

    Example: wayfare workspace create bella-salon
    """
    wid = store().create_workspace(name)
    emit({"workspace": name, "id": wid}, json, lambda d: console.print(f"created workspace [bold]{name}[/bold] ({wid})"))


@workspace_app.command("list")
def workspace_list(json: bool = JsonOpt) -> None:
    """List the workspaces of this store.

    Example: wayfare workspace list --json
    """
    ws = store().workspaces()
    emit({"workspaces": ws}, json, lambda d: [console.print(f"{w['name']}  ({w['id']})") for w in ws])


@keys_app.command("create")
def keys_create(
    scope_: str = typer.Option("ingest", "--scope", help="ingest (write-only, for websites) or admin."),
    label: str = typer.Option(None, "--label", help="What the key is for."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Create an API key; it is printed once and stored only as a hash.

    Example: wayfare keys create --scope ingest --label website
    """
    k = create_key(store(), workspace, scope_, label)
    emit(k, json, lambda d: console.print(f"[bold]{d['key']}[/bold]\n{d['scope']} key {d['key_id']} for workspace "
                                          f"{d['workspace']}: copy it now, it is not shown again."))


@keys_app.command("list")
def keys_list(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """List keys (ids and scopes, never the keys themselves).

    Example: wayfare keys list
    """
    ks = list_keys(store(), workspace)
    emit({"keys": ks}, json, lambda d: [console.print(f"{k['key_id']}  {k['scope']:7} {k['label'] or ''}"
                                                      f"{'  (revoked)' if k['revoked'] else ''}") for k in ks])


@keys_app.command("revoke")
def keys_revoke(key_id: str, workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Revoke a key at once.

    Example: wayfare keys revoke key_3f2a9c1b0d4e
    """
    revoke_key(store(), workspace, key_id)
    emit({"revoked": key_id}, json, lambda d: console.print(f"revoked {key_id}"))


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
    parse_workers: int = typer.Option(None, "--parse-workers", min=0, help="Processes that check ingest batches "
                                      "beside the server's own (default: WAYFARE_PARSE_WORKERS, else one per core "
                                      "beyond the first, at most 2; 0: all in one process)."),
) -> None:
    """Run the API (Segment-compatible ingest at /v1/...), the dashboard and the automation engine.

    Example: wayfare serve --port 8000
    """
    from ..web.app import serve as run

    console.print(f"wayfare serving {CTX.db} on http://{host}:{port}  (Ctrl-C to stop)")
    run(CTX.db, host=host, port=port, log_level=log_level, parse_workers=parse_workers)


@app.command("import")
def import_(
    file: str = typer.Argument(..., help="CSV file (.csv or .csv.gz)."),
    preset: str = typer.Option("generic", "--preset", help="shopify-orders, square-payments, stripe-charges, "
                               "hubspot-contacts, mailchimp-audience, google-forms, typeform, zendesk-tickets, generic"),
    map_: list[str] = typer.Option(None, "--map", help="COLUMN=FIELD (timestamp, user_id, email, phone, event, "
                                   "revenue, message_id, properties.X, traits.X, ignore ...); repeatable."),
    kind: str = typer.Option(None, "--kind", help="events (one row an event) or people (one row a person)."),
    event: str = typer.Option(None, "--event", help="Event name for every row when no column holds one."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the mapping and the first rows; write nothing."),
    time: str = typer.Option(None, "--time", help="ISO time for rows of a file that has no time column."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Import a CSV export through a preset: whole or not at all, and importing it twice adds nothing.

    Example: wayfare import orders_export.csv --preset shopify-orders --dry-run
    """
    with progress(f"importing {file}", quiet=json) as update:
        res = run_import(scope(workspace), file, preset, map_, kind, event, dry_run, default_time=time,
                         progress=update)

    def render(d: dict) -> None:
        console.print(_kv_table("mapping", d["mapping"]))
        if d.get("dry_run"):
            console.print(f"dry run: {d['rows']:,} rows would be read as {d['kind']}; first rows:")
            for r in d["preview"]:
                console.print(r)
        else:
            console.print(f"[green]imported[/green] {d['inserted']:,} new of {d['rows']:,} rows "
                          f"({d['duplicates']:,} already there) · {d['people_created']:,} new people · "
                          f"{d['merges']:,} merges")
        for w in d["warnings"]:
            console.print(f"[yellow]warning:[/yellow] {w}")

    emit(res, json, render)


@app.command()
def profile(
    who: str = typer.Argument(..., help="Email, phone, person id, user id or a source's customer id."),
    limit: int = typer.Option(50, "--limit", help="How many timeline entries."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """One person's unified cross-channel profile and timeline.

    Example: wayfare profile maria@example.org
    """
    sc = scope(workspace)
    pid = find_person(sc, who)
    data = person_summary(sc, pid)
    data["timeline"] = timeline(sc, pid, limit)

    def render(d: dict) -> None:
        tr = d["traits"]
        console.print(f"[bold]{tr.get('name') or tr.get('first_name') or d['person_id']}[/bold]  {d['person_id']}")
        console.print("identities: " + ", ".join(f"{i['kind']}={i['value']}" for i in d["identities"]))
        console.print(f"{d['events']} events on {', '.join(d['channels'])} · {d['orders']} orders · "
                      f"revenue {d['revenue']:,.2f} · first seen {d['first_seen']} · last seen {d['last_seen']}")
        t = Table("when", "channel", "what", "revenue", title="timeline (newest first)", title_justify="left")
        for e in d["timeline"]:
            t.add_row(e["ts"][:16], e["channel"] or "", e["event"], f"{e['revenue']:.2f}" if e["revenue"] else "")
        console.print(t)

    emit(data, json, render)


@app.command()
def demo(
    business: str = typer.Option("restaurant", "--business", help="restaurant, shop or salon."),
    customers: int = typer.Option(2000, "--customers", help="How many customers."),
    seed: int = typer.Option(1, "--seed", help="Same seed, same history."),
    days: int = typer.Option(540, "--days", help="How many days of history, ending yesterday."),
    end: str = typer.Option("", "--end", help="Last day of history (YYYY-MM-DD), exclusive; default today. Pins a demo in time."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Write a realistic, deterministic multi-channel history of a small business, then summarise it.

    Example: wayfare demo --business restaurant --customers 2000 --seed 7
    """
    import datetime as dt

    from ..demo import generate

    try:
        end_date = dt.date.fromisoformat(end) if end else None
    except ValueError:
        raise ValidationError("not a date; write it as YYYY-MM-DD", where=f"--end {end!r}") from None
    with progress(f"demo {business}", quiet=json) as update:
        summary = generate(scope(workspace), business, customers, seed=seed, days=days, end=end_date, progress=update)

    def render(d: dict) -> None:
        console.print(f"[bold]{d['business_name']}[/bold] ({d['business']}): {d['customers']:,} customers, "
                      f"{d['events']:,} events, revenue {d['revenue']:,.2f}, repeat rate {d['repeat_rate']:.0%}")
        console.print(_kv_table("events by stage", d["events_by_stage"]))
        console.print(_kv_table("events by channel", d["events_by_channel"]))
        console.print(_kv_table("customers by persona", d["personas"]))

    emit(summary, json, render)
