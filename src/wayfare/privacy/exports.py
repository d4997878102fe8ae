"""Safe CSV cells and files: spreadsheet formula injection neutralised for every export wayfare writes."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

__all__ = ["safe_cell", "write_csv", "csv_text"]

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: Any) -> Any:
    """A value safe to put in a CSV/XLSX cell: text starting with ``= + - @``, tab or CR (and kin) gets a leading
    ``'`` so a spreadsheet shows it instead of evaluating it. Numbers pass unchanged; dicts/lists become JSON."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict | list | tuple):
        value = orjson.dumps(value, default=str).decode()
    s = str(value)
    if s and s[0] in _TRIGGERS:
        # a plain negative number is data, not a formula
        if s[0] in "+-" and _is_number(s):
            return s
        return "'" + s
    return s


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return s.strip() == s and "e" not in s.lower() and "inf" not in s.lower() and "nan" not in s.lower()


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([safe_cell(h) for h in header])
    for r in rows:
        w.writerow([safe_cell(v) for v in r])
    return buf.getvalue()


def write_csv(path: str | os.PathLike, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        f.write(csv_text(header, rows))
