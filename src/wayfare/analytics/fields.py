"""Portable column expressions: the same Ibis code on DuckDB and on Spark.

Ibis' JSON operators differ between backends (DuckDB has a JSON type; Spark keeps JSON as strings and
Ibis unwraps it with Python UDFs), so property access goes through each engine's own built-in:
``json_extract_string`` on DuckDB, ``get_json_object`` on Spark. Both return the value as text.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from .model import EVENT_COLUMNS, Condition, Step

__all__ = ["backend_name", "json_text", "field", "condition", "step_predicate"]


@ibis.udf.scalar.builtin(name="json_extract_string")
def _duck_json_text(j: dt.JSON, path: str) -> str: ...


@ibis.udf.scalar.builtin(name="json_extract_string")
def _duck_str_json_text(j: str, path: str) -> str: ...


@ibis.udf.scalar.builtin(name="get_json_object")
def _spark_json_text(j: str, path: str) -> str: ...


def backend_name(expr) -> str:
    try:
        return expr._find_backend().name
    except Exception:  # an unbound table (tests of the builders): DuckDB's dialect
        return "duckdb"


def json_text(col, key: str, backend: str):
    """The text of ``col.key`` (nested keys with dots) or NULL."""
    path = "$." + key
    if backend == "pyspark":
        return _spark_json_text(col.cast("string"), path)
    if col.type().is_json():
        return _duck_json_text(col, path)
    return _duck_str_json_text(col, path)


def field(t, name: str, backend: str | None = None):
    """An event column, or a property (``properties.x`` / ``x``), or a context field (``context.x``)."""
    backend = backend or backend_name(t)
    if name in EVENT_COLUMNS and name in t.columns:
        return t[name]
    head, _, rest = name.partition(".")
    if head in ("properties", "context", "traits") and rest and head in t.columns:
        return json_text(t[head], rest, backend)
    return json_text(t["properties"], name, backend)


def condition(t, c: Condition, backend: str | None = None):
    f = field(t, c.field, backend)
    v = c.value
    numeric = isinstance(v, int | float) and not isinstance(v, bool)
    if f.type().is_numeric():
        lhs = f
    elif numeric or c.op in (">", ">=", "<", "<="):
        lhs = f.cast("string").try_cast("float64")
    else:
        lhs = f.cast("string")
    if c.op == "contains":
        return f.cast("string").contains(str(v))
    if isinstance(v, bool):
        v = str(v).lower()
    if numeric or lhs.type().is_numeric():
        try:
            v = float(v)
        except (TypeError, ValueError):
            lhs, v = f.cast("string"), str(v)
    else:
        v = str(v)
    ops = {"=": lhs.__eq__, "!=": lhs.__ne__, ">": lhs.__gt__, ">=": lhs.__ge__, "<": lhs.__lt__, "<=": lhs.__le__}
    return ops[c.op](ibis.literal(v)).fill_null(False)


def step_predicate(t, step: Step, backend: str | None = None):
    backend = backend or backend_name(t)
    pred = t.event == step.event
    for c in step.where:
        pred = pred & condition(t, c, backend)
    return pred
