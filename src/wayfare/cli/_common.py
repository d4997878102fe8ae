"""What every command shares: the store it acts on, the workspace option, JSON or Rich output."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..store import DEFAULT_WORKSPACE, Scope, Store, default_db_path

console = Console()
err = Console(stderr=True)


class Ctx:
    db: str = default_db_path()
    json: bool = False
    _store: Store | None = None


CTX = Ctx()

WorkspaceOpt = typer.Option(DEFAULT_WORKSPACE, "--workspace", "-w", envvar="WAYFARE_WORKSPACE",
                            help="Which business (workspace) of the store to act on.")
JsonOpt = typer.Option(False, "--json", help="Print one JSON document instead of tables.")


def store() -> Store:
    if CTX._store is None:
        CTX._store = Store(CTX.db)
    return CTX._store


def scope(workspace: str) -> Scope:
    return store().scope(workspace)


def close_store() -> None:
    if CTX._store is not None:
        CTX._store.close()
        CTX._store = None


def _default(o: Any) -> Any:
    if isinstance(o, dt.datetime | dt.date):
        return o.isoformat()
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def dumps(data: Any) -> str:
    return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


def emit(data: Any, as_json: bool, render: Callable[[Any], None] | None = None) -> None:
    """One JSON document on stdout with --json; otherwise the human rendering."""
    if as_json or CTX.json:
        sys.stdout.write(dumps(data) + "\n")
        sys.stdout.flush()
    elif render is not None:
        render(data)
    else:
        console.print_json(dumps(data))


@contextmanager
def progress(description: str, total: int | None = None, quiet: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar on stderr (hidden with --json so stdout stays one JSON document)."""
    if quiet or CTX.json:
        yield lambda done, total: None
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=err, transient=False) as p:
        task = p.add_task(description, total=total)

        def update(done: int, tot: int) -> None:
            p.update(task, completed=done, total=tot)

        yield update
