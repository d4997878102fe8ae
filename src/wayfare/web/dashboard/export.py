"""CSV that is safe to open in a spreadsheet: a cell starting with = + - @, a tab or a carriage return
is prefixed with ' so it is shown as text, never run as a formula (OWASP "CSV injection")."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["csv_cell", "csv_lines"]

_DANGER = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(v: Any) -> str:
    if v is None:
        return ""
    s = v.isoformat() if hasattr(v, "isoformat") else str(v)
    if isinstance(v, int | float) and not isinstance(v, bool):
        return s  # numbers stay numbers (a negative amount is not a formula)
    return "'" + s if s.startswith(_DANGER) else s


def csv_lines(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([csv_cell(h) for h in header])
    yield "\ufeff" + buf.getvalue()
    for r in rows:
        buf.seek(0)
        buf.truncate()
        w.writerow([csv_cell(v) for v in r])
        yield buf.getvalue()
