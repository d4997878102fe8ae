"""Read a journey map from YAML; errors name the line (``journey.yaml:12: stages.2.touchpoints.0.match ...``)."""

from __future__ import annotations

import re
from typing import Any

import pydantic
import yaml

from ..errors import ValidationError
from .model import JourneyMap

__all__ = ["load_map_text", "dump_map"]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__lines__"] = {loader.construct_object(k): k.start_mark.line + 1 for k, _ in node.value}
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip(o: Any) -> Any:
    if isinstance(o, dict):
        return {k: _strip(v) for k, v in o.items() if k not in ("__lines__", "__line__")}
    if isinstance(o, list):
        return [_strip(v) for v in o]
    return o


def _line_of(doc: Any, loc: tuple) -> int | None:
    line, cur = None, doc
    for part in loc:
        if isinstance(cur, dict):
            line = cur.get("__lines__", {}).get(part, line)
            if part not in cur:
                line = cur.get("__line__", line) if line is None else line
                break
            cur = cur.get(part)
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
            if isinstance(cur, dict):
                line = cur.get("__line__", line)
        else:
            break
    return line


def _line_of_name(doc: dict, msg: str) -> int:
    """The line of the second stage/touchpoint/persona with a duplicated name, or of the key the message names."""
    m = re.search(r"two (stages|touchpoints) are called '(.*)'", msg)
    if m:
        items = doc.get("stages") or []
        if m.group(1) == "touchpoints":
            items = [t for s in items if isinstance(s, dict) for t in (s.get("touchpoints") or [])]
        hits = [x.get("__line__") for x in items if isinstance(x, dict) and str(x.get("name", "")).lower() == m.group(2).lower()]
        if len(hits) > 1:
            return hits[1]
    named = [k for k in doc.get("__lines__", {}) if isinstance(k, str) and k in msg]
    return doc["__lines__"][named[0]] if named else doc.get("__lines__", {}).get("stages", 1)


def load_map_text(text: str, where: str = "journey.yaml") -> JourneyMap:
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ValidationError(f"not valid YAML: {getattr(e, 'problem', e)}",
                              where=f"{where}:{mark.line + 1}" if mark else where) from None
    if not isinstance(doc, dict):
        raise ValidationError("a journey map is a YAML mapping with a list of stages", where=f"{where}:1")
    try:
        return JourneyMap.model_validate(_strip(doc))
    except pydantic.ValidationError as e:
        err = e.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "list[", "str"))))
        loc = tuple({"in_": "in", "not_": "not"}.get(p, p) if isinstance(p, str) else p for p in loc)
        line = _line_of(doc, loc)
        if not loc:  # a rule about the whole map: point at what it names
            line = _line_of_name(doc, err["msg"])
        path = ".".join(str(p) for p in loc) or "map"
        msg = err["msg"].removeprefix("Value error, ")
        raise ValidationError(f"{path}: {msg}", where=f"{where}:{line}" if line else where) from None


class _Flow(dict):
    """A mapping written on one line: ``{event: [Order Completed], channel: [pos]}``."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False):  # lists indented under their key
        return super().increase_indent(flow, False)


_Dumper.add_representer(_Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True))


def _clean(o: Any, key: str = "") -> Any:
    if isinstance(o, dict):
        out = {k: _clean(v, k) for k, v in o.items() if v not in (None, [], {})}
        return _Flow(out) if key in ("match", "rules") else out
    if isinstance(o, list):
        return [_clean(v, key) for v in o]
    return o


def dump_map(jm: JourneyMap) -> str:
    """YAML of a map (no comments; ``init`` adds them), one line per match and persona rule."""
    doc = _clean(jm.model_dump(by_alias=True, exclude_none=True))
    for s in doc.get("stages", []):
        for t in s.get("touchpoints", []):
            if len(t.get("match", [])) == 1:
                t["match"] = t["match"][0]
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
