"""The real-data calibration notebook runs and its fit passes basic diagnostics."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "bacninh_calibration.ipynb"

pytestmark = pytest.mark.slow


def test_bacninh_calibration_notebook(monkeypatch) -> None:
    monkeypatch.setenv("SAFEMAP_NOTEBOOK_QUICK", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("name") == "stdout"
    )
    summary = json.loads(printed.split("SUMMARY ")[1].splitlines()[0])
    assert summary["cases"] == 1671  # the NCSC series, 2021-04-27..07-31, dumps moved not lost
    assert 0 < summary["reporting_fraction"] < 1
    assert summary["inside_90"] >= 0.5
    assert abs(summary["residual_lag1_acf"]) < 0.5
    assert summary["rt_late_june"] < 1  # the wave receded by late June 2021
