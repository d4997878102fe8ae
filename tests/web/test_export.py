"""CSV exports are safe from formula injection and the charts are self-contained, escaped SVG."""

from __future__ import annotations

import re

import pytest

from wayfare.web.dashboard.charts import bars, hbars, heatmap, lines, sankey
from wayfare.web.dashboard.export import csv_cell, csv_lines


@pytest.mark.parametrize("value,expected", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+1+2", "'+1+2"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tcmd", "'\tcmd"), ("\rcmd", "'\rcmd"),
    ("Ann", "Ann"), ("", ""), (None, ""), (-12.5, "-12.5"), (3, "3"),
])
def test_csv_cells_starting_with_formula_characters_are_prefixed(value, expected):
    assert csv_cell(value) == expected


def test_csv_lines_quote_and_neutralise():
    text = "".join(csv_lines(["name", "note"], [["=1+1", 'say "hi", twice'], ["Bo", -3]]))
    assert text == "\ufeffname,note\r\n'=1+1,\"say \"\"hi\"\", twice\"\r\nBo,-3\r\n"


def test_charts_escape_labels_and_need_no_inline_style():
    evil = "<script>alert(1)</script>"
    out = [bars([(evil, 3), ("b", 5)], "t"), hbars([(evil, 2)], "t"), lines(["a", evil], {"s": [1, 2]}, "t"),
           heatmap([evil], ["1"], [[0.5]], "t"), sankey([[(evil, 4)], [("b", 4)]], [(0, evil, "b", 4)], "t")]
    for svg in map(str, out):
        assert "<script>" not in svg and "&lt;script&gt;" in svg
        assert not re.search(r"\sstyle=", svg)  # the CSP forbids inline styles
        assert "data-tip=" in svg and "Download SVG" in svg and "<title>t</title>" in svg


def test_bar_heights_are_proportional_and_empty_data_says_so():
    svg = str(bars([("a", 10), ("b", 20)], "t", height=240))
    hs = [float(h) for h in re.findall(r'class="mark"[^>]*height="([0-9.]+)"', svg)]
    assert len(hs) == 2 and abs(hs[1] / hs[0] - 2) < 0.01
    assert "No data yet" in str(bars([], "t")) and "No data yet" in str(lines([], {}, "t"))


def test_page_filters_show_a_dash_for_values_they_cannot_format():
    from wayfare.web.dashboard.base import env

    t = env.from_string("{{ a|num }} {{ b|money }} {{ c|pct }} {{ d|when }} {{ e|num(1) }} {{ f|money }}")
    assert t.render(a="n/a", b=None, c=object(), d=12, e=1234.56, f=12.5) == "– – – – 1,234.6 £12.50"
    assert env.from_string("{{ x.missing|num }}").render(x={}) == "–"
