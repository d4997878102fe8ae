"""Rewriting the store's file so that deleted rows leave nothing behind, not even in freed pages.

DuckDB reuses freed blocks but does not wipe them, so after an erase the old bytes could still be read off the
file. :func:`rewrite_file` copies the live database into a fresh file (``COPY FROM DATABASE`` keeps tables,
constraints, sequences, views and macros) and swaps it in atomically. The store must be closed first.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from ..errors import StoreError

__all__ = ["rewrite_file"]


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def rewrite_file(path: str | os.PathLike) -> dict[str, int]:
    """Copy ``path`` into a new file and replace it; returns the sizes before and after (bytes)."""
    src = Path(path)
    if not src.exists():
        raise StoreError(f"{src}: no such store file")
    before = src.stat().st_size + (Path(f"{src}.wal").stat().st_size if Path(f"{src}.wal").exists() else 0)
    tmp = src.with_name(src.name + ".rewrite")
    for p in (tmp, Path(f"{tmp}.wal")):
        p.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(src))  # fold the WAL into the file first
        con.execute("CHECKPOINT")
        con.close()
    except duckdb.IOException as e:
        raise StoreError(f"{src} is in use by another process (stop `wayfare serve` first): {e}") from e
    try:
        new = duckdb.connect(str(tmp))
        name = new.execute("SELECT current_database()").fetchone()[0]
        new.execute(f"ATTACH {_lit(str(src))} AS __wf_src (READ_ONLY)")
        new.execute(f'COPY FROM DATABASE __wf_src TO "{name}"')
        new.execute("DETACH __wf_src")
        new.execute("CHECKPOINT")
        new.close()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        Path(f"{src}.wal").unlink(missing_ok=True)
        os.replace(tmp, src)
        dfd = os.open(src.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except duckdb.Error as e:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
        raise StoreError(f"could not rewrite {src}: {e}") from e
    return {"bytes_before": before, "bytes_after": src.stat().st_size}
