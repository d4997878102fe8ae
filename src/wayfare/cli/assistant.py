"""``wayfare assistant ...`` (knowledge base, questions) and ``wayfare inbox ...`` (the team inbox)."""

from __future__ import annotations

from typing import Any

import typer

from . import app
from ._common import JsonOpt, WorkspaceOpt, console, emit, progress, scope

assistant_app = typer.Typer(help="The customer assistant: knowledge base and answers.\n\n"
                                 "Example: wayfare assistant ask \"do you cater for 40 people?\" --json",
                            no_args_is_help=True)
inbox_app = typer.Typer(help="The team inbox: conversations handed over to a person.\n\n"
                             "Example: wayfare inbox list --json", no_args_is_help=True)
app.add_typer(assistant_app, name="assistant")
app.add_typer(inbox_app, name="inbox")


@assistant_app.command("ingest")
def ingest_cmd(directory: str = typer.Argument(..., help="A folder of .md pages and/or question,answer .csv files."),
               workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Load a knowledge base (replacing the previous one); it reloads by itself when the files change.

    Example: wayfare assistant ingest ./kb --workspace bistro
    """
    from ..assistant import ingest

    with progress("Reading the knowledge base") as update:
        ps = ingest(scope(workspace), directory)
        update(len(ps), len(ps))
    files = sorted({p.source.split("#", 1)[0] for p in ps})
    emit({"passages": len(ps), "files": files, "path": directory}, json,
         lambda d: console.print(f"Loaded {d['passages']} passages from {len(d['files'])} files."))


@assistant_app.command("ask")
def ask_cmd(question: str = typer.Argument(..., help="What the customer asks."),
            person: str = typer.Option(None, "--person", help="The asking customer's person id."),
            conversation: str = typer.Option(None, "--conversation", help="Continue this conversation."),
            record: bool = typer.Option(True, "--record/--no-record", help="Store the exchange in the inbox."),
            workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Ask the assistant one question, as a customer would.

    Example: wayfare assistant ask "do you cater for 40 people?" --json
    """
    from ..assistant import ask

    r = ask(scope(workspace), question, person_id=person, conversation_id=conversation, record=record)

    def render(d: dict) -> None:
        console.print(d["answer"])
        console.print(f"[dim]source: {d['source'] or '-'} · confidence {d['confidence']:.2f}"
                      + (" · handed over to a person" if d["handover"] else "") + "[/dim]")

    emit(r.to_dict(), json, render)


@assistant_app.command("route")
def route_cmd(topic: str = typer.Argument(..., help="A knowledge-base page name (e.g. catering) or * for any."),
              assignee: str = typer.Argument(..., help="Who gets hand-overs on that topic."),
              workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Send hand-overs on a topic to one person (intelligent routing by topic).

    Example: wayfare assistant route catering events@bistro.test
    """
    from ..assistant import save_settings, settings

    sc = scope(workspace)
    routes = dict(settings(sc).get("routes") or {})
    routes[topic] = assignee
    save_settings(sc, routes=routes)
    emit({"routes": routes}, json, lambda d: console.print(f"{topic} → {assignee}"))


@assistant_app.command("secret")
def secret_cmd(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """The identity secret: your site's server signs a signed-in customer's user id with it (HMAC-SHA256,
    hex) and puts both on the widget's script tag (data-user-id, data-user-hash); only then does the
    assistant greet them by name and look up their orders.

    Example: wayfare assistant secret --workspace bistro
    """
    from ..assistant.knowledge import identity_secret

    s = identity_secret(scope(workspace))
    emit({"identity_secret": s, "algorithm": "HMAC-SHA256 hex of user_id"}, json, lambda d: console.print(s))


def _table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    t = Table("id", "status", "assignee", "topic", "reason", "customer", "question")
    for r in rows:
        t.add_row(r["id"], r["status"], r["assignee"] or "", r["topic"] or "", r["reason"] or "",
                  r["customer"] or r["person_id"] or "", (r["question"] or "")[:60])
    console.print(t)


@inbox_app.command("list")
def inbox_list(status: str = typer.Option(None, "--status", help="bot, open, assigned or closed (default: open "
                                                                  "and assigned)."),
               assignee: str = typer.Option(None, "--assignee"), workspace: str = WorkspaceOpt,
               json: bool = JsonOpt) -> None:
    """Conversations waiting for a person.

    Example: wayfare inbox list --status open --json
    """
    from ..assistant import inbox

    emit({"conversations": inbox(scope(workspace), status, assignee)}, json, lambda d: _table(d["conversations"]))


@inbox_app.command("show")
def inbox_show(conversation: str, workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """One conversation: transcript, hand-over reason, suggested reply and the customer's profile.

    Example: wayfare inbox show conv_0123456789abcdef
    """
    from ..assistant import show

    def render(d: dict) -> None:
        c = d["conversation"]
        console.print(f"[bold]{c['conversation_id']}[/bold] · {c['status']} · {c.get('assignee') or 'unassigned'}")
        for m in d["messages"]:
            console.print(f"[dim]{m['at'][:16]}[/dim] [bold]{m['role']}[/bold]: {m['text']}")
        for h in d["handovers"]:
            console.print(f"[yellow]handed over[/yellow] ({h['reason']}); suggested: {h['suggested_reply'] or '-'}")

    emit(show(scope(workspace), conversation), json, render)


@inbox_app.command("reply")
def inbox_reply(conversation: str, text: str, author: str = typer.Option(None, "--as", help="Who answers."),
                note: bool = typer.Option(False, "--note", help="An internal note the customer never sees."),
                assign: str = typer.Option(None, "--assign", help="Assign the conversation to this person too."),
                workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Answer the customer in the same chat (or leave an internal note).

    Example: wayfare inbox reply conv_0123456789abcdef "Yes, we can seat 40 on the 12th." --as sam
    """
    from ..assistant import assign as do_assign
    from ..assistant import note as do_note
    from ..assistant import reply

    sc = scope(workspace)
    if assign:
        do_assign(sc, conversation, assign)
    n = (do_note if note else reply)(sc, conversation, text, author)
    emit({"conversation": conversation, "message": n, "note": note}, json,
         lambda d: console.print("Note saved." if note else "Reply sent."))


@inbox_app.command("close")
def inbox_close(conversation: str, rating: int = typer.Option(None, "--rating", min=1, max=5,
                                                              help="The customer's satisfaction, 1-5."),
                workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Close a conversation; the customer is asked to rate it (CSAT), and the journey gets Chat Closed.

    Example: wayfare inbox close conv_0123456789abcdef --rating 5
    """
    from ..assistant import close

    c = close(scope(workspace), conversation, rating)
    emit({"conversation": conversation, "status": c["status"], "csat": c.get("csat")}, json,
         lambda d: console.print(f"Closed{' (rated ' + str(d['csat']) + ')' if d['csat'] else ''}."))
