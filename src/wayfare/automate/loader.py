"""Load flows from YAML (errors name the line) or from a library template by name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pydantic
import yaml

from ..errors import NotFound, ValidationError
from .model import NODE_TYPES, Flow

__all__ = ["load_flow", "load_text", "template_names", "templates", "TEMPLATES"]

TEMPLATES = Path(__file__).parent / "templates"


class _LineLoader(yaml.SafeLoader):
    """Safe YAML with line numbers, and YAML 1.2 booleans: only true/false are booleans, so a step called
    ``no`` or ``off`` (or ``then: yes``) stays the word it is instead of turning into False/True."""


_LineLoader.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != "tag:yaml.org,2002:bool"] for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_LineLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                  list("tTfF"))


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    lines = {}
    for k, v in node.value:
        lines[loader.construct_object(k)] = v.start_mark.line + 1
    mapping["__lines__"] = lines
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
            line = cur.get("__lines__", {}).get(part, cur.get("__line__", line))
            cur = cur.get(part)
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
            if isinstance(cur, dict):
                line = cur.get("__line__", line)
        else:
            break
    return line


def load_text(text: str, where: str = "<flow>") -> Flow:
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ValidationError(f"not valid YAML: {getattr(e, 'problem', e)}",
                              where=f"{where}:{mark.line + 1}" if mark else where) from None
    if not isinstance(doc, dict):
        raise ValidationError("a flow is a YAML mapping with name, trigger and steps", where=where)
    try:
        return Flow.model_validate(_strip(doc))
    except pydantic.ValidationError as e:
        err = e.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in NODE_TYPES))
        line = _line_of(doc, loc)
        path = ".".join(str(p) for p in err["loc"])
        raise ValidationError(f"{path}: {err['msg']}", where=f"{where}:{line}" if line else where) from None


def template_names() -> list[str]:
    return sorted(p.stem for p in TEMPLATES.glob("*.yaml"))


def load_flow(name_or_file: str) -> Flow:
    """A library template by name (``order-confirmation``) or a YAML file."""
    p = Path(name_or_file)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return load_text(p.read_text(encoding="utf-8"), where=str(p))
    t = TEMPLATES / f"{name_or_file}.yaml"
    if t.is_file():
        return load_text(t.read_text(encoding="utf-8"), where=f"template {name_or_file}")
    raise NotFound(f"no flow template or file {name_or_file!r}; templates: {', '.join(template_names())}")


def templates() -> list[dict]:
    """The library: name, description, purpose, trigger and step types of every template."""
    out = []
    for name in template_names():
        f = load_flow(name)
        t = f.trigger
        when = {"event": f"when {t.event} happens" + (" (first time)" if t.first_time else ""),
                "segment": f"when someone {'enters' if t.change == 'enter' else 'leaves'} the segment {t.segment}",
                "date_trait": f"on {t.date_trait} {'' if t.offset in ('0d', '0h') else '(' + t.offset + ') '}at {t.at}",
                "score": f"when {t.score} goes {'above ' + str(t.above) if t.above is not None else 'below ' + str(t.below)}",
                "schedule": f"{t.schedule} at {t.at}"}[t.kind]
        out.append({"id": name, "name": name.replace("-", " ").capitalize(), "description": f.description,
                    "purpose": f.purpose, "when": when, "steps": [s.type for s in f.steps],
                    "goal": f.goal.event if f.goal else None})
    return out
