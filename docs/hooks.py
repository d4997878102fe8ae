"""MkDocs hook: the reference pages, generated from the code at build time (never edited by hand).

* ``reference/cli.md``      every command's real ``--help`` (Typer/Click tree walked, help rendered by CliRunner)
* ``reference/settings.md`` every ``WAYFARE_*`` setting found in ``src/`` with its default and where it is read
* ``reference/flows.md``    the flow YAML schema from the pydantic models in ``wayfare.automate.model``
* ``reference/journey-yaml.md`` the journey YAML schema from ``wayfare.journey.model``
* ``reference/http.md``     the HTTP API from the app's OpenAPI schema
* ``reference/presets.md``  every CSV import preset with its columns

The same functions feed ``tests/docs/test_reference.py``, which fails when a command, setting or flow node
type is missing. Settings need a sentence in ``SETTINGS`` below: a new one found in the code without it breaks
the strict build.
"""

from __future__ import annotations

import ast
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.plugins.wayfare")

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "wayfare"

#: What each setting does. The default and the place it is read come from the code.
SETTINGS: dict[str, str] = {
    "WAYFARE_DB": "The store file every command opens (same as `--db`).",
    "WAYFARE_WORKSPACE": "The workspace commands act on (same as `--workspace`).",
    "WAYFARE_DUCKDB": "DuckDB settings for the embedded store, `name=value;name=value` (e.g. "
                      "`memory_limit=1GB;threads=2` on a small server); a bad name or value stops with an error.",
    "WAYFARE_CACHE_MB": "How much of the store's table data `wayfare serve` keeps cached in its own memory, in "
                        "MB (default 64; `off` keeps every block read until DuckDB's memory limit, 80% of RAM). "
                        "Below the size of the events table the dashboard re-reads blocks (from the operating "
                        "system's file cache): pages get slower as the figure gets smaller.",
    "WAYFARE_GC_EVERY_S": "Seconds between `wayfare serve`'s full garbage collections (default 60; `0` turns "
                          "them off). The server collects young objects rarely to keep ingest fast, so without "
                          "the clock cyclic garbage stays for as long as the server runs.",
    "WAYFARE_PARSE_WORKERS": "How many processes check ingest batches beside `wayfare serve`'s own (same as "
                             "`--parse-workers`; default one per core beyond the first, at most 2; `0` keeps all "
                             "in one process).",
    "WAYFARE_DEFAULT_REGION": "Region for phone numbers written without a country code (ISO 3166, e.g. GB).",
    "WAYFARE_PUBLIC_URL": "The address customers reach this server at: tracking links, unsubscribe and "
                          "confirmation links are built on it.",
    "WAYFARE_SMTP_URL": "Where email goes: `smtp://user:pass@host:25`, `smtps://...:465` or "
                        "`smtp+starttls://...:587`. Without it email steps fail loudly.",
    "WAYFARE_SMTP_CA_FILE": "A CA bundle to verify the SMTP server's certificate (private CAs).",
    "WAYFARE_MAIL_FROM": "The From address of emails.",
    "WAYFARE_SMS_URL": "The SMS gateway with its credentials: `https://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com` "
                       "(any Twilio-compatible API; plain `http://` only for a loopback test server).",
    "WAYFARE_SMS_FROM": "The sender number or name for SMS.",
    "WAYFARE_QUEUE_URL": "A PostgreSQL URL for the delivery queue: the engine queues messages there and "
                         "`wayfare worker --queue` processes deliver them (see *Run with PostgreSQL workers*).",
    "WAYFARE_QUEUE_DELIVER": "`0` stops `wayfare serve` from running a delivery worker of its own when a queue "
                             "is set (leave sending to separate workers).",
    "WAYFARE_WEBHOOK_ALLOW": "An admin's allow-list of private networks or host names webhooks may reach "
                             "(`10.0.5.0/24,nas.lan`); public hosts need no entry, metadata addresses stay refused.",
    "WAYFARE_WEBHOOK_ALLOW_PRIVATE": "`1` lets webhook steps reach private and loopback addresses (tests, "
                                     "on-premise services); off by default against SSRF.",
    "WAYFARE_WEBHOOK_SECRET": "Secret for the HMAC-SHA256 signature header on webhook calls.",
    "WAYFARE_LLM_URL": "An OpenAI-compatible chat endpoint for the assistant's answers; without it the "
                       "assistant answers extractively from the knowledge base.",
    "WAYFARE_ASSISTANT_RETRIEVAL": "The assistant's retrieval: `auto` (BM25 + sentence embeddings when "
                                   "`wayfare[embeddings]` is installed, else BM25), `bm25` or `hybrid`.",
    "WAYFARE_LLM_KEY": "Bearer key for `WAYFARE_LLM_URL`.",
    "WAYFARE_LLM_MODEL": "Model name sent to `WAYFARE_LLM_URL`.",
    "WAYFARE_PROTECTED": "Extra profile traits (comma-separated) never used as churn features, beside the "
                         "built-in protected attributes.",
    "WAYFARE_RATE_PER_IP": "Ingest requests per second allowed from one IP address.",
    "WAYFARE_RATE_PER_KEY": "Ingest requests per second allowed per API key.",
    "WAYFARE_RETENTION_EVERY_S": "Seconds between the server's retention clean-ups.",
    "WAYFARE_SHARED_DATA": "Folder of the public data sets (tests, examples and the shipped model's training).",
}


# -- CLI -----------------------------------------------------------------------------------------------------------
def cli_commands() -> list[tuple[str, ...]]:
    """Every command path of the ``wayfare`` app, groups included, in help order."""
    from typer.main import get_command

    from wayfare.cli import app

    out: list[tuple[str, ...]] = []

    def walk(group: Any, prefix: tuple[str, ...]) -> None:
        for name in sorted(group.commands):
            cmd = group.commands[name]
            if getattr(cmd, "hidden", False):
                continue
            out.append(prefix + (name,))
            if hasattr(cmd, "commands"):
                walk(cmd, prefix + (name,))

    walk(get_command(app), ())
    return out


def cli_help(path: tuple[str, ...]) -> str:
    from typer.testing import CliRunner

    from wayfare.cli import app

    r = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "110", "NO_COLOR": "1", "TERM": "dumb"},
                           prog_name="wayfare")
    return r.output.rstrip()


def cli_markdown() -> str:
    lines = ["# CLI reference", "", "Generated at build time from each command's real `--help` "
             "(`docs/hooks.py`). Every command takes `--help`; commands that report figures take `--json`.", "",
             "```text", cli_help(()), "```", ""]
    for path in cli_commands():
        lines += [f"## wayfare {' '.join(path)}", "", "```text", cli_help(path), "```", ""]
    return "\n".join(lines)


# -- settings ------------------------------------------------------------------------------------------------------
def _literal(node: ast.AST | None) -> Any:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)


def _constant(rel: str, name: str) -> Any:
    import importlib

    mod = rel.removeprefix("src/").removesuffix(".py").replace("/", ".")
    try:
        return getattr(importlib.import_module(mod), name)
    except (ImportError, AttributeError):
        return name


def settings_found() -> dict[str, dict[str, Any]]:
    """``WAYFARE_*`` names read in ``src/`` -- any call whose first argument is the name (``os.environ.get``,
    ``os.getenv``, a helper such as ``_rate("WAYFARE_X", 1000)``), ``os.environ["WAYFARE_X"]`` and Typer's
    ``envvar=`` -- with the default given there (the call's second argument, the ``or`` fallback of
    ``os.environ.get(...) or "auto"``, or the option's default) and the places they are read."""
    name_re = re.compile(r"^WAYFARE_[A-Z0-9_]+$")

    def is_name(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(name_re.match(node.value))

    found: dict[str, dict[str, Any]] = {}

    def add(name: str, default: Any, where: str) -> None:
        e = found.setdefault(name, {"default": None, "where": []})
        if e["default"] in (None, "") and default not in (None, ""):
            e["default"] = default
        if where not in e["where"]:
            e["where"].append(where)

    for py in sorted(SRC.rglob("*.py")):
        tree = ast.parse(py.read_text(encoding="utf-8"))
        rel = py.relative_to(ROOT).as_posix()
        fallbacks: dict[int, Any] = {}  # id(call) -> the `or` fallback
        for node in ast.walk(tree):
            if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and isinstance(node.values[0], ast.Call):
                fallbacks[id(node.values[0])] = _literal(node.values[1])
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                if node.args and is_name(node.args[0]):
                    default = _literal(node.args[1]) if len(node.args) > 1 else fallbacks.get(id(node))
                    add(node.args[0].value, default, f"{rel}:{node.lineno}")
                for kw in node.keywords:
                    if kw.arg == "envvar" and is_name(kw.value):
                        default = _literal(node.args[0]) if node.args else None
                        if node.args and isinstance(node.args[0], ast.Name):  # a module constant: its value
                            default = _constant(rel, node.args[0].id)
                        add(kw.value.value, default, f"{rel}:{node.lineno}")
            elif isinstance(node, ast.Subscript) and is_name(node.slice):
                add(node.slice.value, None, f"{rel}:{node.lineno}")
    return found


def settings_markdown() -> str:
    found = settings_found()
    lines = ["# Settings", "", "Environment variables, found in the source at build time (`docs/hooks.py`). "
             "Command-line options win over them.", "", "| setting | default | what it does | read in |",
             "| --- | --- | --- | --- |"]
    for name in sorted(found):
        e = found[name]
        d = e["default"]
        default = "*(unset)*" if d in (None, "") else f"`{d}`"
        desc = SETTINGS.get(name)
        if desc is None:
            log.warning("setting %s is read in %s but has no description in docs/hooks.py SETTINGS", name,
                        e["where"][0])
            desc = "**undocumented**"
        lines.append(f"| `{name}` | {default} | {desc} | {', '.join(f'`{w}`' for w in e['where'][:3])} |")
    return "\n".join(lines) + "\n"


# -- pydantic schemas ----------------------------------------------------------------------------------------------
def _type_of(p: dict[str, Any]) -> str:
    if "$ref" in p:
        n = p["$ref"].rsplit("/", 1)[-1]
        return f"[{n}](#{n.lower()})"
    if "const" in p:
        return f"`{json.dumps(p['const'])}`"
    if "enum" in p:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in p["enum"])
    for k in ("anyOf", "oneOf"):
        if k in p:
            return " or ".join(_type_of(x) for x in p[k])
    t = p.get("type", "any")
    if t == "array":
        return f"list of {_type_of(p.get('items', {}))}"
    if t == "object" and "additionalProperties" in p and isinstance(p["additionalProperties"], dict):
        return f"map of {_type_of(p['additionalProperties'])}"
    return str(t)


def _model_table(name: str, s: dict[str, Any]) -> list[str]:
    req = set(s.get("required", []))
    lines = [f"### {name}", ""]
    if s.get("description"):
        lines += [s["description"].strip(), ""]
    props = s.get("properties", {})
    if not props:
        return lines + ["*(no fields)*", ""]
    lines += ["| field | type | required | default | description |", "| --- | --- | --- | --- | --- |"]
    for f, p in props.items():
        default = "" if "default" not in p else f"`{json.dumps(p['default'])}`"
        desc = (p.get("description") or "").replace("\n", " ").replace("|", "\\|")
        lines.append(f"| `{f}` | {_type_of(p)} | {'yes' if f in req else ''} | {default} | {desc} |")
    return lines + [""]


def schema_markdown(model: Any, title: str, intro: str) -> str:
    s = model.model_json_schema()
    lines = [f"# {title}", "", intro, "", "## Models", ""]
    lines += _model_table(model.__name__, s)
    for name, sub in sorted(s.get("$defs", {}).items()):
        lines += _model_table(name, sub)
    lines += ["## JSON Schema", "", "```json", json.dumps(s, indent=2), "```", ""]
    return "\n".join(lines)


def flow_node_types() -> list[str]:
    """The ``type`` values a flow step may take, read from the Flow model's schema."""
    from wayfare.automate.model import Flow

    s = Flow.model_json_schema()
    types: set[str] = set()

    def visit(x: Any) -> None:
        if isinstance(x, dict):
            disc = x.get("discriminator")
            if isinstance(disc, dict) and disc.get("propertyName") == "type":
                types.update(disc.get("mapping", {}))
            props = x.get("properties", {})
            t = props.get("type") if isinstance(props, dict) else None
            if isinstance(t, dict) and "const" in t:
                types.add(t["const"])
            for v in x.values():
                visit(v)
        elif isinstance(x, list):
            for v in x:
                visit(v)

    visit(s)
    return sorted(types)


def flows_markdown() -> str:
    from wayfare.automate.model import Flow

    types = flow_node_types()
    intro = ("A flow is a YAML file: a trigger, then a flat list of steps, each a node discriminated by `type`. "
             "Generated from `wayfare.automate.model` at build time. Node types: "
             + ", ".join(f"`{t}`" for t in types) + ". How to write one: [Write a flow](../how-to/write-a-flow.md).")
    return schema_markdown(Flow, "Flow YAML schema", intro)


def journey_markdown() -> str:
    from wayfare.journey.model import JourneyMap

    intro = ("The journey map YAML (`wayfare map init` writes one, `wayfare map save FILE` makes it the workspace's "
             "map). Generated from `wayfare.journey.model` at build time. How to write one: "
             "[Write a journey YAML](../how-to/journey-yaml.md).")
    return schema_markdown(JourneyMap, "Journey YAML schema", intro)


# -- HTTP ----------------------------------------------------------------------------------------------------------
def openapi_schema() -> dict[str, Any]:
    from wayfare.store import Store
    from wayfare.web import create_app

    store = Store(":memory:")
    try:
        return create_app(store).openapi()
    finally:
        store.close()


def http_markdown() -> str:
    spec = openapi_schema()
    lines = ["# HTTP API", "", f"Generated from the app's OpenAPI schema ({spec['info']['title']} "
             f"{spec['info']['version']}) at build time. A running server also serves it at `/openapi.json` and "
             "interactive docs at `/docs`. Ingest routes take an ingest key (HTTP Basic user name, as the "
             "Segment SDKs send it, or `Authorization: Bearer`); everything else an admin key or a dashboard "
             "session.", ""]
    by_tag: dict[str, list[tuple[str, str, dict]]] = {}
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            if method.startswith("x-") or not isinstance(op, dict):
                continue
            tag = (op.get("tags") or [path.strip("/").split("/")[1] if path.count("/") > 1 else "pages"])[0]
            by_tag.setdefault(tag, []).append((method.upper(), path, op))
    for tag in sorted(by_tag):
        lines += [f"## {tag}", "", "| method | path | what | parameters | request body | responses |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for method, path, op in sorted(by_tag[tag], key=lambda x: (x[1], x[0])):
            what = (op.get("summary") or op.get("description") or "").split("\n")[0].replace("|", "\\|")
            body = ""
            content = (op.get("requestBody") or {}).get("content", {})
            for ctype, c in content.items():
                body = f"{ctype}: {_type_of(c.get('schema', {}))}".replace("](#", "](#schema-")
                break
            resp = ", ".join(sorted(op.get("responses", {})))
            params = ", ".join(f"`{p['name']}`" + ("" if p.get("required") else "?") + f" ({p.get('in')})"
                               for p in op.get("parameters", []) if p.get("in") in ("query", "path"))
            lines.append(f"| {method} | `{path}` | {what} | {params} | {body} | {resp} |")
        lines.append("")
    comps = spec.get("components", {}).get("schemas", {})
    if comps:
        lines += ["## Schemas", ""]
        for name in sorted(comps):
            lines += [f'<a id="schema-{name.lower()}"></a>', ""] + _model_table(name, comps[name])
    return "\n".join(lines)


# -- import presets -----------------------------------------------------------------------------------------------
def presets_markdown() -> str:
    from wayfare.ingest.presets import FIELDS, PRESETS

    lines = ["# Import presets", "", "Generated from `wayfare.ingest.presets` at build time. Column names match "
             "case-insensitively; any column can be mapped by hand with `--map COLUMN=FIELD`, where FIELD is one of "
             + ", ".join(f"`{f}`" for f in FIELDS) + ", or `properties.NAME` / `traits.NAME`. How to: "
             "[Import a CSV export](../how-to/import.md).", ""]
    for p in PRESETS.values():
        lines += [f"## {p.name}", "", f"{p.description}. One row is one **{p.kind[:-1]}**"
                  + (f"; the event is `{p.event}`" if p.event else "") + ".", ""]
        if p.example:
            lines += ["```bash", p.example, "```", ""]
        lines += ["| export column | becomes |", "| --- | --- |"]
        lines += [f"| `{c}` | `{f}` |" for c, f in p.columns.items() if not c.startswith("__")]
        lines.append("")
    return "\n".join(lines)


# -- MkDocs events -------------------------------------------------------------------------------------------------
GENERATED = {
    "reference/cli.md": cli_markdown,
    "reference/settings.md": settings_markdown,
    "reference/flows.md": flows_markdown,
    "reference/journey-yaml.md": journey_markdown,
    "reference/http.md": http_markdown,
    "reference/presets.md": presets_markdown,
}


def generate() -> Iterator[tuple[str, str]]:
    for uri, fn in GENERATED.items():
        yield uri, fn()


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for uri, text in generate():
        existing = files.get_file_from_path(uri)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, uri, content=text))
    return files

