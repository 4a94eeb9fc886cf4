"""Grid versions (issue 16): valid_from, valid_to, previous_code and the versions table."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from living_data import changed_queenstown
from typer.testing import CliRunner

import gridplan
from gridplan.cli import app
from gridplan.config import CodeRules
from gridplan.errors import ValidationError
from gridplan.export import write_geopackage

REPO = Path(__file__).resolve().parents[1]
QT = REPO / "data" / "singapore_queenstown.gpkg"
runner = CliRunner()


@pytest.fixture(scope="module")
def layers():
    return {k: gpd.read_file(QT, layer=k) for k in ("units", "communities", "barriers")}


def _plan(units, layers, **kw):
    return gridplan.plan(
        units, communities=layers["communities"], barriers=layers["barriers"], **kw
    )


def test_replanning_unchanged_data_from_itself_writes_byte_identical_files(tmp_path):
    args = [str(QT), "--communities", f"{QT}:communities", "--barriers", f"{QT}:barriers"]
    first = ["--out", str(tmp_path / "a.gpkg"), "--equivalency", str(tmp_path / "a.csv")]
    res = runner.invoke(app, ["plan", *args, *first, "--report", str(tmp_path / "a.xlsx")])
    assert res.exit_code == 0, res.output
    again = [
        "--out",
        str(tmp_path / "b.gpkg"),
        "--equivalency",
        str(tmp_path / "b.csv"),
        "--report",
        str(tmp_path / "b.xlsx"),
        "--previous",
        str(tmp_path / "a.gpkg"),
        "--plan-date",
        "2027-01-01",  # a later date changes nothing when nothing changed
    ]
    res = runner.invoke(app, ["plan", *args, *again])
    assert res.exit_code == 0, res.output
    for ext in ("gpkg", "csv", "xlsx"):
        assert (tmp_path / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes(), ext


def test_versions_follow_a_chain_of_plans(layers, tmp_path):
    units = layers["units"]
    v1 = _plan(units, layers, plan_date="2025-01-01")
    assert set(v1.grids["valid_from"]) == {"2025-01-01"}
    assert v1.grids["previous_code"].isna().all() and v1.grids["valid_to"].isna().all()
    write_geopackage(v1, tmp_path / "v1.gpkg")
    # v2: 2 blocks demolished, a compound of 700 households added
    u2, gone = changed_queenstown(units)
    v2 = _plan(u2, layers, previous=tmp_path / "v1.gpkg", plan_date="2026-01-01")
    g1 = v1.grids.set_index("grid_code")
    g2 = v2.grids.set_index("grid_code")
    members1 = v1.units.groupby("grid_code").apply(lambda f: frozenset(f.index))
    members2 = v2.units.groupby("grid_code").apply(lambda f: frozenset(f.index))
    unchanged = [c for c in g2.index if c in members1.index and members1[c] == members2[c]]
    changed = [c for c in g2.index if c not in unchanged]
    assert unchanged and changed
    assert (g2.loc[unchanged, "valid_from"] == "2025-01-01").all()
    assert (g2.loc[changed, "valid_from"] == "2026-01-01").all()
    # a changed grid continues its own code or the old grid that gave it most households
    for c in changed:
        prev = g2.loc[c, "previous_code"]
        assert prev is None or prev in g1.index
        if c in g1.index:
            assert prev == c
    ver = v2.report["versions"]
    retired = ver[ver["version_status"] == "retired"]
    assert set(retired["grid_code"]) == set(g1.index) - set(g2.index)
    assert (retired["valid_to"] == "2026-01-01").all()
    write_geopackage(v2, tmp_path / "v2.gpkg")
    back = gpd.read_file(tmp_path / "v2.gpkg", layer="versions")
    assert set(back["grid_code"]) == set(ver["grid_code"])
    # v3 from v2 with the new compound gone again: v1's retired codes are never reused
    v3 = _plan(
        units[~units["unit_id"].isin(gone)], layers, previous=tmp_path / "v2.gpkg",
        plan_date="2027-01-01",
    )  # fmt: skip
    assert not set(v3.grids["grid_code"]) & set(retired["grid_code"])
    ver3 = v3.report["versions"]
    assert set(retired["grid_code"]) <= set(
        ver3.loc[ver3["version_status"] == "retired", "grid_code"]
    )


def test_plan_date_is_checked_in_rules_and_on_the_command_line(tmp_path):
    with pytest.raises(ValidationError, match="plan_date"):
        CodeRules(plan_date="01/02/2026")
    res = runner.invoke(
        app, ["plan", str(QT), "--out", str(tmp_path / "x.gpkg"), "--plan-date", "2026-02-30"]
    )
    assert res.exit_code == 1
    assert "--plan-date" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x.gpkg").exists()
