from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box
from typer.testing import CliRunner

import gridplan.cli
from gridplan.cli import app, guess_role

runner = CliRunner()


@pytest.fixture
def malformed(tmp_path, lattice_units) -> Path:
    """A folder of input files with one or more problems each, as a planner might send."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    units = lattice_units(3, 2)
    bad = units.copy()
    bad.loc[1, "geometry"] = None
    bad.loc[2, "households"] = -4
    bad.loc[[3, 4], "unit_id"] = "dup"
    bad.to_file(folder / "units.gpkg", layer="units", engine="pyogrio")
    # no households column: the Chinese header needs --columns
    units.rename(columns={"households": "户数"}).to_file(
        folder / "buildings.gpkg", engine="pyogrio"
    )
    # polygons in a barrier layer
    gpd.GeoDataFrame({"name": ["ring road"]}, geometry=[box(0, 0, 1, 1)], crs=4326).to_file(
        folder / "roads.geojson", engine="pyogrio"
    )
    # a table without coordinates
    pd.DataFrame({"name": ["a"], "households": [3]}).to_csv(folder / "blocks.csv", index=False)
    # a layer whose role cannot be guessed from its name
    units.to_file(folder / "mystery.gpkg", layer="layer1", engine="pyogrio")
    # not a zip at all
    (folder / "broken.zip").write_bytes(b"PK but not really")
    (folder / "README.md").write_text("ignored: not a data file")
    return folder


def run(*args: str):
    return runner.invoke(app, ["validate", *args])


def test_malformed_folder_reports_every_problem_without_traceback(malformed):
    result = run(str(malformed))
    out = result.output
    assert result.exit_code == 1, out
    assert "Traceback" not in out
    # units.gpkg: three problems, each naming its rows
    assert "1 unit has no geometry (id u1)" in out
    assert "negative `households` (id u2)" in out
    assert "used more than once" in out and "dup" in out
    # buildings.gpkg: the suggested fix, in the command line's words (a flag, not a keyword)
    assert "--columns 户数=households" in out and "columns={" not in out
    # roads.geojson: polygons where lines are expected
    assert "Polygon geometry, but barriers must be lines" in out
    # blocks.csv, broken.zip, mystery.gpkg
    assert "cannot find the coordinate columns of 'blocks.csv'" in out
    assert "not a readable zip" in out
    assert "cannot tell what layer 'layer1' holds" in out and "--as" in out
    assert "README" not in out
    assert "6 of 6 files have problems" in out


def test_columns_option_fixes_the_missing_households(malformed):
    result = run(str(malformed / "buildings.gpkg"), "--columns", "户数=households")
    assert result.exit_code == 0, result.output
    assert "OK: 6 units, 240 households" in result.output


def test_as_option_sets_the_role(malformed):
    result = run(str(malformed / "mystery.gpkg"), "--as", "units")
    assert result.exit_code == 0, result.output
    assert "layer1 (units): OK: 6 units" in result.output


def test_layer_option_and_bad_columns_syntax(data_dir):
    result = run(str(data_dir / "taiyuan.gpkg"), "--layer", "compounds")
    assert result.exit_code == 0 and "OK: 37 compounds" in result.output
    assert "units" not in result.output.split("\n", 1)[1]
    result = run(str(data_dir / "taiyuan.gpkg"), "--columns", "户数")
    assert result.exit_code == 2 and "OLD=NEW" in result.output


def test_source_crs_on_projected_data_is_a_problem(data_dir):
    result = run(str(data_dir / "camden_sample.gpkg"), "--source-crs", "gcj02")
    assert result.exit_code == 1
    assert "needs longitude/latitude" in result.output and "Traceback" not in result.output


def test_units_outside_communities_in_one_file(tmp_path, lattice_units):
    path = tmp_path / "plan.gpkg"
    lattice_units(3, 1).to_file(path, layer="units", engine="pyogrio")
    gpd.GeoDataFrame(
        {"community_id": ["C"]},
        geometry=[box(500_000, 4_180_000, 500_200, 4_180_100)],
        crs="EPSG:32649",
    ).to_file(path, layer="communities", engine="pyogrio")
    result = run(str(path))
    assert result.exit_code == 1
    assert "1 unit lies outside every community boundary" in result.output
    assert "(id u2)" in result.output


def test_valid_bundled_data_exit_zero(data_dir):
    result = run(str(data_dir))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "OK: 241 units, 34,819 households" in out
    assert "OK: 86 units, 10,701 households" in out
    assert "OK: 19 units, 4,333 households" in out
    assert "units_all_buildings (units): OK: 342 units" in out
    # the bundled household roster is recognised as a roster, not refused for lacking coordinates
    assert "roster: OK: 34,819 rows, 34,819 households" in out
    assert "All 4 files are valid." in out


def test_unexpected_errors_exit_two_with_one_line(monkeypatch, data_dir):
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(gridplan.cli, "read_layer", boom)
    result = run(str(data_dir / "camden_sample.gpkg"))
    assert result.exit_code == 2
    assert "error: RuntimeError: disk on fire" in result.output
    assert "Traceback" not in result.output


def test_installed_command_never_prints_a_traceback(malformed):
    script = Path(sys.executable).parent / "gridplan"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "gridplan.cli"]
    proc = subprocess.run(
        [*cmd, "validate", str(malformed)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "negative `households` (id u2)" in proc.stdout


@pytest.mark.parametrize(
    ("names", "role"),
    [
        (("units",), "units"),
        (("buildings",), "units"),
        (("hdb_blocks",), "units"),
        (("residential_areas",), "compounds"),
        (("小区",), "compounds"),
        (("business_special_areas",), "dedicated"),
        (("lines",), "barriers"),
        (("major_roads",), "barriers"),
        (("subzones",), "communities"),
        (("社区边界",), "communities"),
        (("planning_areas",), "streets"),
        (("街道",), "streets"),
        (("layer1", "taiyuan_buildings"), "units"),
        (("layer1", "mystery"), None),
    ],
)
def test_guess_role(names, role):
    assert guess_role(*names) == role


def test_single_point_units(tmp_path):
    path = tmp_path / "units.geojson"
    gpd.GeoDataFrame(
        {"unit_id": ["a"], "households": [3]}, geometry=[Point(112.5, 37.8)], crs=4326
    ).to_file(path, engine="pyogrio")
    result = run(str(path))
    assert result.exit_code == 0 and "OK: 1 unit, 3 households" in result.output


def test_invalid_geometry_advice_names_the_flag(tmp_path, lattice_units):
    from shapely.geometry import Polygon

    units = lattice_units(3, 2)
    bowtie = Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])  # self-intersecting
    units.loc[0, "geometry"] = bowtie
    path = tmp_path / "units.gpkg"
    units.to_file(path, layer="units", engine="pyogrio")
    checked = runner.invoke(app, ["validate", str(path)])
    assert checked.exit_code == 1
    assert "invalid geometry" in checked.output
    assert "--fix-invalid" in checked.output and "fix_invalid=True" not in checked.output
    planned = runner.invoke(app, ["plan", str(path), "--out", str(tmp_path / "p.gpkg")])
    assert planned.exit_code == 1
    assert "--fix-invalid" in planned.output and "fix_invalid=True" not in planned.output
