"""The documentation site builds with warnings as errors, and its reference covers every command, setting and
flow node type the code has."""

from __future__ import annotations

import html
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _hooks():
    spec = importlib.util.spec_from_file_location("wayfare_docs_hooks", ROOT / "docs" / "hooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _text(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    p = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=600, env={**__import__("os").environ,
                                                                         "NO_MKDOCS_2_WARNING": "1"})
    assert p.returncode == 0, p.stderr[-4000:]
    return out


@pytest.mark.slow
def test_site_builds_strict_with_every_section(site):
    for page in ("tutorials/restaurant", "tutorials/web-shop", "tutorials/salon", "how-to/send-events",
                 "how-to/postgresql", "reference/cli", "reference/settings", "reference/flows", "reference/http",
                 "reference/python-api", "explanation/funnels", "explanation/clv-churn", "analytics", "journey",
                 "assistant", "growth"):
        assert (site / page / "index.html").exists(), page
    api = _text(site / "reference/python-api/index.html")
    for name in ("predict_clv", "funnel_expr", "journey_map", "next_action", "churn"):
        assert name in api


@pytest.mark.slow
def test_every_cli_command_is_in_the_reference(site):
    hooks = _hooks()
    cli = _text(site / "reference/cli/index.html")
    commands = hooks.cli_commands()
    assert len(commands) > 50
    missing = [" ".join(c) for c in commands if f"wayfare {' '.join(c)}" not in cli]
    assert missing == []
    assert cli.count("Example: wayfare") >= len(commands) // 2  # leaf commands show their example


@pytest.mark.slow
def test_every_setting_is_in_the_reference_with_a_description(site):
    hooks = _hooks()
    found = hooks.settings_found()
    assert {"WAYFARE_DB", "WAYFARE_SMTP_URL", "WAYFARE_WORKSPACE"} <= set(found)
    assert sorted(set(found) - set(hooks.SETTINGS)) == []  # a new setting needs a sentence in docs/hooks.py
    page = _text(site / "reference/settings/index.html")
    assert [s for s in found if s not in page] == []
    assert "undocumented" not in page
    assert "wayfare.db" in page  # defaults come from the code


@pytest.mark.slow
def test_every_flow_node_type_is_in_the_reference(site):
    from wayfare.automate.model import Flow

    types = _hooks().flow_node_types()
    assert {"wait", "email", "task", "exit"} <= set(types)
    page = _text(site / "reference/flows/index.html")
    assert [t for t in types if f'"{t}"' not in page] == []
    # the schema on the page is the model's
    assert Flow.__name__ in page


def test_the_settings_scan_finds_settings_read_every_way(tmp_path, monkeypatch):
    hooks = _hooks()
    src = tmp_path / "src" / "wayfare"
    src.mkdir(parents=True)
    (src / "m.py").write_text('import os\nA = os.environ.get("WAYFARE_A", "x")\nB = os.getenv("WAYFARE_B")\n'
                              'C = os.environ["WAYFARE_C"]\nimport typer\nD = typer.Option(3, envvar="WAYFARE_D")\n'
                              'E = os.environ.get("WAYFARE_E") or "auto"\nF = _rate("WAYFARE_F", 10)\n')
    monkeypatch.setattr(hooks, "SRC", src)
    monkeypatch.setattr(hooks, "ROOT", tmp_path)
    found = hooks.settings_found()
    assert {k: v["default"] for k, v in found.items()} == {"WAYFARE_A": "x", "WAYFARE_B": None, "WAYFARE_C": None,
                                                            "WAYFARE_D": 3, "WAYFARE_E": "auto", "WAYFARE_F": 10}
    assert found["WAYFARE_A"]["where"] == ["src/wayfare/m.py:2"]
    md = hooks.settings_markdown()
    assert "**undocumented**" in md  # WAYFARE_A has no sentence: the strict build fails on the warning


@pytest.mark.slow
def test_every_http_route_is_in_the_reference(site):
    spec = _hooks().openapi_schema()
    page = _text(site / "reference/http/index.html")
    missing = [p for p in spec["paths"] if p not in page]
    assert len(spec["paths"]) > 20 and missing == []
