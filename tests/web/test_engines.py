"""Pages use an engine package when it is installed and well-formed, and their own SQL otherwise."""

from __future__ import annotations

import sys
import types

from wayfare.web.dashboard import common, funnels


def test_missing_failing_or_absent_engine_functions_give_none(monkeypatch):
    assert common.engine("no_such_engine_here") is None
    assert common.safe_engine_call("no_such_engine_here", "anything") is None
    fake = types.ModuleType("wayfare.fake_engine")
    fake.boom = lambda *a: 1 / 0
    fake.ok = lambda x: x * 2
    monkeypatch.setitem(sys.modules, "wayfare.fake_engine", fake)
    monkeypatch.setattr(common.importlib.util, "find_spec", lambda name: object())
    assert common.safe_engine_call("fake_engine", "ok", 21) == 42
    assert common.safe_engine_call("fake_engine", "boom") is None
    assert common.safe_engine_call("fake_engine", "not_there") is None


def test_a_malformed_engine_funnel_falls_back_to_the_built_in_query(scope, monkeypatch):
    monkeypatch.setattr(funnels, "safe_engine_call", lambda *a, **k: {"steps": ["x"]})
    monkeypatch.setattr(funnels, "run_funnel", lambda *a, **k: {"total": [1, 0], "from": "built-in"})
    assert funnels._engine_or_builtin(scope, ["a", "b"], 7, "") == {"total": [1, 0], "from": "built-in",
                                                                    "engine": "built-in"}
    good = {"steps": ["a", "b"], "window_days": 7, "series": [], "total": [3, 1], "overall": 1 / 3}
    monkeypatch.setattr(funnels, "safe_engine_call", lambda *a, **k: good)
    assert funnels._engine_or_builtin(scope, ["a", "b"], 7, "")["engine"] == "analytics"
