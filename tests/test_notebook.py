"""The quick-start notebook runs from top to bottom without an error."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import ipykernel  # noqa: F401  (the kernel the notebook runs on; a dev dependency)
import nbclient
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL = "gridplan-tests"


@pytest.fixture
def kernel_name(tmp_path, monkeypatch) -> str:
    """A kernelspec that runs *this* interpreter, found first on JUPYTER_PATH, so the notebook
    sees the gridplan under test even on a machine with no (or another) python3 kernel."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "gridplan tests",
                "language": "python",
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return KERNEL


@pytest.mark.slow
@pytest.mark.parametrize("name", ["01_quickstart.ipynb"])
def test_notebook_runs_without_errors(name, kernel_name, tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDPLAN_OUT", str(tmp_path / "out"))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=kernel_name,
        timeout=300,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, errors
    # the export cell wrote every output where the test asked
    out = tmp_path / "out"
    assert (out / "queenstown.gpkg").is_file()
    assert (out / "queenstown_equivalency.csv").is_file()
    assert (out / "queenstown_geojson" / "grids.geojson").is_file()
    # the map cells rendered HTML
    html = [
        o for cell in nb.cells for o in cell.get("outputs", []) if "text/html" in o.get("data", {})
    ]
    assert html
