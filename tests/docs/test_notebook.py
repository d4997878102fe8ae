"""The analysts' notebook runs top to bottom on the real CDNOW and Online Retail data (its cells assert figures)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from ..conftest import SHARED_DATA

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "analyst.ipynb"


@pytest.mark.slow
def test_analyst_notebook_runs(tmp_path, monkeypatch):
    if not (SHARED_DATA / "cdnow").exists():
        pytest.skip(f"no shared data at {SHARED_DATA}")
    monkeypatch.setenv("WAYFARE_SHARED_DATA", str(SHARED_DATA))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3  # RFM, CLV and retention charts
