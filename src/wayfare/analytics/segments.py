"""Segments: a small rule language over traits, event counts and sums in time windows, recency and RFM.

Grammar (case-insensitive keywords)::

    rule       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" rule ")" | comparison
    comparison := metric OP value          OP: = != > >= < <= contains
    value      := number | duration (30d, 12h, 2w) | "quoted" | 'quoted' | bare-word

Metrics (``N`` + unit is a window ending at ``as_of``: ``90d``, ``4w``, ``12h``)::

    orders, orders_90d         count of the order event (default "Order Completed")
    revenue, revenue_90d       sum of revenue
    events, events_30d         count of any event
    count("Table Booked", 30d) count of a named event in a window (or all time without the window)
    last_seen, first_seen, last_order   compared with durations: ``last_seen < 30d`` = seen in the last 30 days
    traits.city, traits.x      profile traits (text; numbers compare numerically)
    rfm.r, rfm.f, rfm.m, rfm.segment    RFM scores and segment (see ``rfm``)

Example: ``orders_90d >= 2 and last_seen < 30d and traits.city = "Leeds"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import ibis

from ..errors import ValidationError
from .fields import backend_name, json_text
from .model import parse_duration
from .rfm import rfm_table

__all__ = ["parse_rule", "Cmp", "BoolOp", "Not", "members_expr", "GRAMMAR"]

GRAMMAR = __doc__

_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>!=|>=|<=|=|>|<)|(?P<p>[(),])'
                    r'|(?P<word>[A-Za-z0-9_.:\-+]+))')
_WINDOWED = re.compile(r"^(orders|revenue|events)(?:_(\d+[smhdw]))?$", re.I)
_RECENCY = ("last_seen", "first_seen", "last_order")


@dataclass(frozen=True)
class Cmp:
    metric: str  # canonical: orders|revenue|events|count|last_seen|first_seen|last_order|trait|rfm
    arg: str | None  # event name, trait key or rfm part
    window: int | None  # seconds
    op: str
    value: Any


@dataclass(frozen=True)
class BoolOp:
    op: str  # and|or
    items: tuple


@dataclass(frozen=True)
class Not:
    item: Any


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValidationError(f"cannot read {text[pos:pos + 20]!r} at character {pos + 1}", where="segment rule")
        kind = m.lastgroup
        val = m.group(kind)
        out.append((kind, val))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, k: int = 0):
        return self.toks[self.i + k] if self.i + k < len(self.toks) else (None, None)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def fail(self, msg: str):
        raise ValidationError(f"{msg} (rule: {self.text!r}); see `wayfare segments grammar`", where="segment rule")

    def word(self, w: str) -> bool:
        k, v = self.peek()
        return k == "word" and v.lower() == w

    def parse(self):
        if not self.toks:
            self.fail("empty rule")
        node = self.or_()
        if self.i != len(self.toks):
            self.fail(f"unexpected {self.peek()[1]!r}")
        return node

    def or_(self):
        items = [self.and_()]
        while self.word("or"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_(self):
        items = [self.not_()]
        while self.word("and"):
            self.take()
            items.append(self.not_())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def not_(self):
        if self.word("not"):
            self.take()
            return Not(self.not_())
        if self.peek() == ("p", "("):
            self.take()
            node = self.or_()
            if self.take() != ("p", ")"):
                self.fail("missing ')'")
            return node
        return self.cmp()

    def cmp(self):
        kind, name = self.take()
        if kind != "word":
            self.fail(f"expected a metric, got {name!r}")
        low = name.lower()
        arg, window = None, None
        if low == "count":
            if self.take() != ("p", "("):
                self.fail("count needs (\"Event\"[, 30d])")
            k, v = self.take()
            if k not in ("str", "word"):
                self.fail("count needs an event name")
            arg = v[1:-1] if k == "str" else v
            if self.peek() == ("p", ","):
                self.take()
                window = parse_duration(self.take()[1], "segment rule")
            if self.take() != ("p", ")"):
                self.fail("missing ')' after count(...)")
            metric = "count"
        elif m := _WINDOWED.match(low):
            metric = m.group(1)
            window = parse_duration(m.group(2), "segment rule") if m.group(2) else None
        elif low in _RECENCY:
            metric = low
        elif low.startswith("traits.") and len(low) > 7:
            metric, arg = "trait", name[7:]
            if not re.match(r"^[A-Za-z_][\w.]*$", arg):
                self.fail(f"bad trait name {arg!r}")
        elif low in ("rfm.r", "rfm.f", "rfm.m", "rfm.segment"):
            metric, arg = "rfm", low[4:]
        else:
            self.fail(f"unknown metric {name!r}")
        k, op = self.take()
        if k != "op" and not (k == "word" and op and op.lower() == "contains"):
            self.fail(f"expected an operator after {name!r}")
        op = op.lower()
        k, v = self.take()
        if k not in ("str", "word"):
            self.fail(f"expected a value after {name} {op}")
        value: Any = v[1:-1] if k == "str" else v
        if k == "word":
            if re.match(r"^-?\d+(\.\d+)?$", v):
                value = float(v)
            elif metric in _RECENCY or re.match(r"^\d+(\.\d+)?[smhdw]$", v):
                value = parse_duration(v, "segment rule")
        if metric in _RECENCY and not isinstance(value, float | int):
            self.fail(f"{name} compares with a duration such as 30d")
        return Cmp(metric, arg, window, op, value)


def parse_rule(text: str):
    """Parse a rule into a small tree of Cmp / BoolOp / Not (raises ValidationError, naming the problem)."""
    return _Parser(text).parse()


def _walk(node, acc: list):
    if isinstance(node, Cmp):
        acc.append(node)
    elif isinstance(node, BoolOp):
        for i in node.items:
            _walk(i, acc)
    else:
        _walk(node.item, acc)
    return acc


def _metric_name(c: Cmp) -> str:
    key = re.sub(r"\W", "_", f"{c.metric}_{c.arg or ''}_{c.window or 0}")
    return "f_" + key


def members_expr(events: ibis.Table, profiles: ibis.Table, rule, as_of, order_event: str = "Order Completed") -> ibis.Table:
    """``person_id`` of every profile matching the rule at ``as_of`` (a datetime)."""
    be = backend_name(events)
    node = parse_rule(rule) if isinstance(rule, str) else rule
    cmps = _walk(node, [])
    now = ibis.literal(as_of, type="timestamp")
    e = events.filter(events.person_id.notnull(), events.ts <= now)
    aggs: dict[str, Any] = {}
    for c in cmps:
        name = _metric_name(c)
        if c.metric in ("trait", "rfm"):
            continue
        in_win = (e.ts > now - ibis.interval(seconds=c.window)) if c.window else ibis.literal(True)
        if c.metric == "orders":
            aggs[name] = (in_win & (e.event == order_event)).cast("int64").sum()
        elif c.metric == "revenue":
            aggs[name] = ibis.ifelse(in_win & (e.event == order_event), e.revenue.fill_null(0.0), 0.0).sum()
        elif c.metric == "events":
            aggs[name] = in_win.cast("int64").sum()
        elif c.metric == "count":
            aggs[name] = (in_win & (e.event == c.arg)).cast("int64").sum()
        elif c.metric == "last_seen":
            aggs[name] = now.epoch_seconds() - e.ts.max().epoch_seconds()
        elif c.metric == "first_seen":
            aggs[name] = now.epoch_seconds() - e.ts.min().epoch_seconds()
        elif c.metric == "last_order":
            aggs[name] = now.epoch_seconds() - e.ts.max(where=e.event == order_event).epoch_seconds()
    t = profiles.select("person_id", "traits")
    if aggs:
        per = e.group_by("person_id").aggregate(**aggs)
        t = t.left_join(per, "person_id")
        t = t.select(profiles.person_id, profiles.traits, *[per[k] for k in aggs])
    if any(c.metric == "rfm" for c in cmps):
        r = rfm_table(events.filter(events.ts <= now), as_of, order_event)
        t = t.left_join(r, "person_id")
        t = t.select(*[c for c in t.columns if not c.endswith("_right")])
    pred = _compile(node, t, be)
    return t.filter(pred).select("person_id")


def _compare(lhs, op: str, value):
    if op == "contains":
        return lhs.cast("string").contains(str(value))
    ops = {"=": "__eq__", "!=": "__ne__", ">": "__gt__", ">=": "__ge__", "<": "__lt__", "<=": "__le__"}
    return getattr(lhs, ops[op])(value)


def _compile(node, t, be: str):
    if isinstance(node, BoolOp):
        parts = [_compile(i, t, be) for i in node.items]
        out = parts[0]
        for p in parts[1:]:
            out = (out & p) if node.op == "and" else (out | p)
        return out
    if isinstance(node, Not):
        return ~_compile(node.item, t, be)
    c: Cmp = node
    if c.metric == "trait":
        text = json_text(t.traits, c.arg, be)
        if isinstance(c.value, float) and c.op != "contains":
            expr = _compare(text.try_cast("float64"), c.op, c.value)
        else:
            expr = _compare(text, c.op, str(c.value))
    elif c.metric == "rfm":
        col = t["segment"] if c.arg == "segment" else t[c.arg]
        expr = _compare(col, c.op, c.value if c.arg == "segment" else float(c.value))
    else:
        col = t[_metric_name(c)]
        if c.metric in ("orders", "events", "count", "revenue"):
            col = col.fill_null(0)
        expr = _compare(col, c.op, float(c.value) if not isinstance(c.value, str) else c.value)
    return expr.fill_null(False)
