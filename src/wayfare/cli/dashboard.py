"""Dashboard accounts: create the people who sign in to the web dashboard, and list them."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from ..errors import ValidationError
from ..web import auth
from . import app
from ._common import JsonOpt, WorkspaceOpt, console, emit, store

users_app = typer.Typer(help="Dashboard accounts: who may sign in, to which workspace, with which role.",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("create")
def users_create(
    email: str = typer.Option(..., "--email", help="The address the person signs in with."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    role: str = typer.Option("staff", "--role", help="owner (everything), staff (day-to-day work) or viewer (read only)."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Create a dashboard account (or give an existing one a role in another workspace).

    The password is read from standard input so it never shows in the process list or shell history.

    Example: wayfare users create --email owner@example.org --password-stdin --role owner < password.txt
    """
    if not password_stdin:
        raise ValidationError("pass the password on standard input with --password-stdin", where="--password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    res = auth.create_user(store(), email, password, role, workspace)
    verb = "created" if res["created"] else "updated"
    emit(res, json, lambda d: console.print(f"{verb} [bold]{d['email']}[/bold] as {d['role']} of {d['workspace']}"))


@users_app.command("list")
def users_list(
    workspace: str = typer.Option(None, "--workspace", "-w", help="Only the members of this workspace."),
    json: bool = JsonOpt,
) -> None:
    """List dashboard accounts with their role in each workspace.

    Example: wayfare users list --json
    """
    rows = auth.list_users(store(), workspace)

    def render(d: dict) -> None:
        t = Table(title="dashboard accounts", title_justify="left")
        for c in ("email", "role", "workspace", "last sign-in"):
            t.add_column(c)
        for u in d["users"]:
            t.add_row(u["email"], u["role"], u["workspace"], u["last_login_at"] or "never")
        console.print(t)

    emit({"users": rows}, json, render)
