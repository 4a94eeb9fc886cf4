"""The plan and grids commands never write over an input, refuse an existing output without
--force and a format the extension does not name, all before any planning (exit code 1)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pyogrio
import pytest
from typer.testing import CliRunner

from gridplan.cli import app

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "singapore_queenstown.gpkg"


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    dst = tmp_path / "in.gpkg"
    shutil.copy(SAMPLE, dst)
    return dst


@pytest.mark.parametrize("command", ["plan", "grids"])
def test_output_that_is_an_input_is_refused_even_with_force(sample, command):
    before = _digest(sample)
    layers = sorted(pyogrio.list_layers(sample)[:, 0])
    res = runner.invoke(
        app,
        [
            command,
            f"{sample}:units",
            "--communities",
            f"{sample}:communities",
            "--out",
            str(sample),
            "--force",
        ],
    )
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert "also an input" in res.output
    assert _digest(sample) == before
    assert sorted(pyogrio.list_layers(sample)[:, 0]) == layers


def test_existing_output_needs_force(sample, tmp_path):
    out = tmp_path / "plan.gpkg"
    out.write_bytes(b"not a geopackage")
    args = ["grids", f"{sample}:units", "--communities", f"{sample}:communities", "--out", str(out)]
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    assert "already exists" in res.output and "--force" in res.output
    assert out.read_bytes() == b"not a geopackage"
    res = runner.invoke(app, [*args, "--force"])
    assert res.exit_code == 0, res.output
    assert "grids" in set(pyogrio.list_layers(out)[:, 0])


@pytest.mark.parametrize("name", ["plan.shp", "plan.txt"])
def test_extension_that_names_no_format_is_refused(sample, tmp_path, name):
    out = tmp_path / name
    res = runner.invoke(app, ["grids", f"{sample}:units", "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert not out.exists()
    assert not list(tmp_path.glob(".*partial*"))


def test_out_must_be_a_geopackage(sample, tmp_path):
    out = tmp_path / "plan.geojson"
    res = runner.invoke(app, ["grids", f"{sample}:units", "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert ".gpkg" in res.output and "--geojson" in res.output
    assert not out.exists()


@pytest.mark.parametrize(
    "args, says",
    [
        (["plan", "--bogus"], "No such option: --bogus"),
        (["plan"], "Missing argument"),
        (["grids", "x.gpkg", "--out", "y.gpkg", "--lang", "fr"], "Invalid value for --lang"),
    ],
)
def test_usage_errors_exit_1_with_the_usage_message(args, says):
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "gridplan.cli", *args], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 1, res.stderr
    assert says in res.stderr
    assert "Traceback" not in res.stderr


def test_help_exits_0():
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "gridplan.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0 and "plan" in res.stdout
