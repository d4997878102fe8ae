"""The ``wayfare`` command: thin commands that call the domains.

Commands live in one module per domain (``core``, and the ones that register below as domains land),
so no single file grows into thousands of lines.
"""

from __future__ import annotations

import sys

import typer

from ..errors import WayfareError
from ._common import CTX, close_store, err

app = typer.Typer(
    name="wayfare",
    help="See and run your whole customer journey: collect, map, explain, predict, act.\n\n"
    "Example: wayfare demo --business restaurant --customers 2000",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _main(
    db: str = typer.Option(None, "--db", envvar="WAYFARE_DB", help="The store file (default ./wayfare.db)."),
    json: bool = typer.Option(False, "--json", help="Print JSON (also accepted after each command)."),
) -> None:
    """wayfare: see and run your whole customer journey.

    Example: wayfare --db shop.db status --json
    """
    if db:
        CTX.db = db
    CTX.json = json


from . import core  # noqa: E402,F401  (registers commands)

for _mod in ("analytics", "journey", "feedback", "predict", "automate", "assistant", "privacy", "dashboard", "growth",
             "channels"):
    try:  # domains register their commands as they land
        __import__(f"{__name__}.{_mod}")
    except ModuleNotFoundError as _e:
        if _e.name != f"{__name__}.{_mod}":
            raise


def main() -> None:
    try:
        app(standalone_mode=False)
    except WayfareError as e:
        err.print(f"[red]error:[/red] {e}")
        errors = getattr(e, "errors", None)
        for item in (errors or [])[:20]:
            where = f"{item.get('file')}:{item.get('line')}" + (f" column {item['column']!r}" if item.get("column") else "")
            err.print(f"  {where}: {item.get('error')}" + (f" ({item['value']!r})" if item.get("value") else ""))
        close_store()
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        close_store()
        sys.exit(130)
    except typer.Exit as e:
        close_store()
        sys.exit(e.exit_code)
    except Exception as e:  # usage errors from (typer's) click
        if hasattr(e, "show") and hasattr(e, "exit_code"):
            e.show()
            close_store()
            sys.exit(e.exit_code)
        raise
    close_store()


__all__ = ["app", "main"]
