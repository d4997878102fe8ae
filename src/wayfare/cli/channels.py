"""Channel commands: take bounces in, ask for double opt-in, check a webhook target."""

from __future__ import annotations

import typer

from ..errors import NotFound, ValidationError
from . import app
from ._common import JsonOpt, WorkspaceOpt, console, emit, scope

channels_app = typer.Typer(help="Email, SMS and webhook channels: bounces, double opt-in, webhook targets.",
                           no_args_is_help=True)
app.add_typer(channels_app, name="channels")


@channels_app.command("bounces")
def bounces_cmd(
    path: str = typer.Argument(..., help="An mbox file, one .eml file, or a folder of .eml files."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Read returned mail (DSN bounces, ARF complaints, auto-replies): hard bounces and complaints go on the
    suppression list for every flow; soft bounces and auto-replies are only recorded.

    Example: wayfare channels bounces ~/Mail/bounces.mbox --json
    """
    from ..channels.bounces import process_path

    res = process_path(scope(workspace), path)

    def render(d: dict) -> None:
        console.print(f"{d['messages']:,} messages: {d['hard_bounce']:,} hard bounces, {d['complaint']:,} complaints "
                      f"(suppressed {d['suppressed']:,}); {d['soft_bounce']:,} soft bounces, "
                      f"{d['auto_reply']:,} auto-replies, {d['unknown']:,} not understood")

    emit(res, json, render)


@channels_app.command("optin")
def optin_cmd(
    who: str = typer.Argument(..., help="The person's email (they must already be known)."),
    wording: str = typer.Option(..., "--wording", help="The exact text the person agrees to."),
    source: str = typer.Option("cli", "--source", help="Where the request came from (web form, till ...)."),
    business: str = typer.Option("us", "--business", help="The business name shown in the mail."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Mail a double opt-in confirmation link (WAYFARE_SMTP_URL, WAYFARE_PUBLIC_URL); marketing consent is
    recorded only when the person confirms.

    Example: wayfare channels optin ana@example.org --wording "Monthly offers by email" --source "web form"
    """
    from ..channels.email import smtp_settings
    from ..channels.optin import request_optin
    from ..identity.normalize import normalize_email

    sc = scope(workspace)
    email = normalize_email(who)
    row = sc.one("SELECT person_id FROM identities WHERE kind = 'email' AND value = $v", {"v": email}) if email else None
    if not row:
        raise NotFound(f"no person with email {who!r} in workspace {workspace}")
    settings = smtp_settings()
    if settings is None:
        raise ValidationError("set WAYFARE_SMTP_URL to send the confirmation mail", where="WAYFARE_SMTP_URL")
    oid = request_optin(sc, row[0], email, wording, source, settings, business=business)
    emit({"optin_id": oid, "person_id": row[0], "status": "pending"}, json,
         lambda d: console.print(f"confirmation mailed to {who}; consent is pending until they click"))


@channels_app.command("check-webhook")
def check_webhook_cmd(
    url: str = typer.Argument(..., help="The webhook URL to check."),
    json: bool = JsonOpt,
) -> None:
    """Check a webhook target the way a send does: refused when it resolves to a loopback, private,
    link-local, CGNAT, multicast, reserved or cloud-metadata address (WAYFARE_WEBHOOK_ALLOW lets an admin
    permit a LAN target).

    Example: wayfare channels check-webhook https://hooks.example.com/wayfare
    """
    from ..channels.errors import TargetRefused
    from ..channels.webhook import check_target

    try:
        t = check_target(url)
    except TargetRefused as e:
        raise ValidationError(str(e), where="url") from None
    emit({"url": url, "host": t.host, "address": t.ip, "allowed": True}, json,
         lambda d: console.print(f"allowed: {d['host']} → {d['address']}"))
