"""`gridplan plan/grids --previous`: re-planning from an existing plan on the command line,
and the errors a bad previous file gets (issue 16)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from gridplan.cli import app

REPO = Path(__file__).resolve().parents[1]
CAMDEN = REPO / "data" / "camden_sample.gpkg"

runner = CliRunner()


def _plan(out: Path, *extra: str, command: str = "plan"):
    return runner.invoke(
        app,
        [command, str(CAMDEN), "--communities", f"{CAMDEN}:communities", "--out", str(out), *extra],
    )


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("prev")
    res = _plan(d / "old.gpkg", "--equivalency", str(d / "old.csv"))
    assert res.exit_code == 0, res.output
    return d


def test_plan_with_previous_gpkg_and_csv_keeps_every_code(first, tmp_path):
    old = gpd.read_file(first / "old.gpkg", layer="units").set_index("unit_id")
    for source in (first / "old.gpkg", first / "old.csv", f"{first / 'old.gpkg'}:grids"):
        out = tmp_path / f"new_{Path(str(source)).suffix.strip('.:')}.gpkg"
        res = _plan(out, "--previous", str(source))
        assert res.exit_code == 0, res.output
        new = gpd.read_file(out, layer="units").set_index("unit_id")
        assert new["grid_code"].to_dict() == old["grid_code"].to_dict(), source
        assert new["microgrid_code"].to_dict() == old["microgrid_code"].to_dict(), source


def test_grids_command_takes_previous(first, tmp_path):
    old = gpd.read_file(first / "old.gpkg", layer="units").set_index("unit_id")
    res = _plan(tmp_path / "g.gpkg", "--previous", str(first / "old.csv"), command="grids")
    assert res.exit_code == 0, res.output
    new = gpd.read_file(tmp_path / "g.gpkg", layer="units").set_index("unit_id")
    assert new["grid_code"].to_dict() == old["grid_code"].to_dict()


def _bad_files(d: Path, first: Path) -> dict[str, tuple[str, str, str]]:
    """case -> (the --previous value, a zh fragment, an en fragment) of its message."""
    table = pd.read_csv(first / "old.csv", dtype=str)
    table.drop(columns="grid_code").to_csv(d / "nocode.csv", index=False)
    table.drop(columns="unit_id").to_csv(d / "nounit.csv", index=False)
    table.assign(unit_id="x" + table["unit_id"]).to_csv(d / "nomatch.csv", index=False)
    table.iloc[:0].to_csv(d / "empty.csv", index=False)
    (d / "broken.gpkg").write_bytes(b"not a geopackage")
    return {
        "missing": (str(d / "nope.gpkg"), "不存在", "does not exist"),
        "layer": (f"{first / 'old.gpkg'}:nolayer", "没有图层 nolayer", "has no layer nolayer"),
        "code_column": (str(d / "nocode.csv"), "没有网格编码列", "no grid code column"),
        "unit_column": (str(d / "nounit.csv"), "没有单元编号列", "no unit id column"),
        "no_match": (str(d / "nomatch.csv"), "对不上", "matches none of the units"),
        "empty": (str(d / "empty.csv"), "没有任何带网格编码", "has no rows with a grid code"),
        "unreadable": (str(d / "broken.gpkg"), "无法读取", "cannot be read"),
    }


@pytest.mark.parametrize(
    "case", ["missing", "layer", "code_column", "unit_column", "no_match", "empty", "unreadable"]
)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_bad_previous_file_is_one_clear_error_in_both_languages(first, tmp_path, case, lang):
    spec, zh, en = _bad_files(tmp_path, first)[case]
    out = tmp_path / "out.gpkg"
    res = _plan(out, "--previous", spec, "--lang", lang)
    assert res.exit_code == 1, res.output
    text = res.output
    assert "Traceback" not in text
    assert (zh if lang == "zh" else en) in text
    assert "--previous" in text
    assert not out.exists()


def test_previous_file_is_never_overwritten(first, tmp_path):
    old = tmp_path / "old.gpkg"
    old.write_bytes((first / "old.gpkg").read_bytes())
    before = old.read_bytes()
    res = _plan(old, "--previous", str(old), "--force")
    assert res.exit_code == 1, res.output
    assert old.read_bytes() == before
