"""safe_cell: spreadsheet formulas neutralised, data left alone."""

from __future__ import annotations

import pytest

from wayfare.privacy import csv_text, safe_cell


@pytest.mark.parametrize("raw,want", [
    ("=1+1", "'=1+1"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("\uff1d1+1", "'\uff1d1+1"),
    ("hello", "hello"), ("-12.5", "-12.5"), ("", ""), (None, None), (3, 3), (-2.5, -2.5), (True, True),
    ({"a": "=x"}, '{"a":"=x"}'),
])
def test_safe_cell_neutralises_formulas(raw, want):
    assert safe_cell(raw) == want


def test_csv_text_quotes_and_prefixes():
    out = csv_text(["name", "=evil"], [["=HYPERLINK(\"x\")", 1]])
    assert out.splitlines() == ["name,'=evil", "\"'=HYPERLINK(\"\"x\"\")\",1"]
