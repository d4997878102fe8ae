"""Privacy commands: export and erase a person, retention periods; key rotation."""

from __future__ import annotations

import typer

from ..errors import NotFound, ValidationError
from ..privacy import erase_person, export_person, rewrite_file, write_export
from ..privacy.retention import KINDS, cleanup, get_retention, set_retention
from ..store import create_key, list_keys, revoke_key
from . import app
from ._common import CTX, JsonOpt, WorkspaceOpt, close_store, console, emit, scope, store
from .core import keys_app

privacy_app = typer.Typer(help="Privacy rights: export and erase a person, retention periods.", no_args_is_help=True)
retention_app = typer.Typer(help="How long each kind of data is kept; `cleanup` deletes what is older.",
                            no_args_is_help=True)
privacy_app.add_typer(retention_app, name="retention")
app.add_typer(privacy_app, name="privacy")


@privacy_app.command("export")
def export(
    who: str = typer.Argument(..., help="Email, phone, person id or user id."),
    out: str = typer.Option(None, "--out", help="Also write person.json and one formula-safe CSV per table here."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Everything held about a person (profile, identities, events, consents, messages ...), as JSON and CSV.

    Example: wayfare privacy export maria@example.org --out ./maria
    """
    doc = export_person(scope(workspace), who)
    if out:
        doc["files"] = write_export(doc, out)

    def render(d: dict) -> None:
        console.print(f"[bold]{who}[/bold]: person {', '.join(d['person_ids'])}")
        for t, n in d["counts"].items():
            console.print(f"  {t}: {n:,} rows")
        for f in d.get("files", []):
            console.print(f"  wrote {f}")

    emit(doc, json, render)


@privacy_app.command("erase")
def erase(
    who: str = typer.Argument(..., help="Email, phone, person id or user id."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Erase a person everywhere, rewrite the store file so no freed page keeps them, keep a salted hash of their
    email and phone in the suppression list (never contacted again), and log it in the audit log.

    Example: wayfare privacy erase maria@example.org --yes
    """
    if not yes and not typer.confirm(f"Erase everything about {who} in workspace {workspace}? This cannot be undone"):
        raise ValidationError("not confirmed; nothing was erased", where="privacy erase")
    res = erase_person(scope(workspace), who)
    close_store()
    if CTX.db != ":memory:":
        res["file"] = rewrite_file(CTX.db)

    def render(d: dict) -> None:
        console.print(f"erased {', '.join(d['person_ids'])}: " +
                      ", ".join(f"{t} {n:,}" for t, n in d["removed"].items()))
        if d["redacted"]:
            console.print("redacted mentions in " + ", ".join(f"{t} ({n})" for t, n in d["redacted"].items()))
        console.print("their email and phone stay only as salted hashes in the suppression list")

    emit(res, json, render)


@retention_app.command("show")
def retention_show(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """The retention period of each data kind (days; none = kept).

    Example: wayfare privacy retention show
    """
    data = {"retention": get_retention(scope(workspace)), "kinds": sorted(KINDS)}
    emit(data, json, lambda d: [console.print(f"{k:22} {v if v is not None else 'kept'}")
                                for k, v in d["retention"].items()])


@retention_app.command("set")
def retention_set(
    kind: str = typer.Argument(..., help="Data kind: " + ", ".join(sorted(KINDS)) + "."),
    days: int = typer.Argument(..., help="Keep this many days; 0 keeps forever."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Set how many days a data kind is kept (0 = forever).

    Example: wayfare privacy retention set page_views 395
    """
    set_retention(scope(workspace), kind, days)
    emit({"kind": kind, "days": days or None}, json, lambda d: console.print(f"{kind}: {days or 'kept'} days"))


@retention_app.command("cleanup")
def retention_cleanup(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Delete data older than its retention period now (`wayfare serve` also does this every hour).

    Example: wayfare privacy retention cleanup --json
    """
    res = cleanup(scope(workspace))
    emit(res, json, lambda d: console.print(", ".join(f"{k}: {n:,} deleted" for k, n in d["deleted"].items())
                                            or "nothing past its retention period"))


@keys_app.command("rotate")
def keys_rotate(key_id: str, workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Replace a key: a new key of the same scope and label is printed once, and the old one is revoked.

    Example: wayfare keys rotate key_3f2a9c1b0d4e
    """
    old = next((k for k in list_keys(store(), workspace) if k["key_id"] == key_id and not k["revoked"]), None)
    if old is None:
        raise NotFound(f"no active key {key_id!r} in workspace {workspace!r}")
    new = create_key(store(), workspace, old["scope"], old["label"])
    revoke_key(store(), workspace, key_id)
    new["revoked"] = key_id
    emit(new, json, lambda d: console.print(f"[bold]{d['key']}[/bold]\nnew {d['scope']} key {d['key_id']}; "
                                            f"{key_id} is revoked. Copy the key now, it is not shown again."))


@privacy_app.command("compact")
def compact(json: bool = JsonOpt) -> None:
    """Rewrite the store file so deleted rows leave nothing in freed pages (run after an erase over the API,
    with the server stopped).

    Example: wayfare privacy compact
    """
    close_store()
    res = rewrite_file(CTX.db)
    emit(res, json, lambda d: console.print(f"rewrote {CTX.db}: {d['bytes_before']:,} → {d['bytes_after']:,} bytes"))
