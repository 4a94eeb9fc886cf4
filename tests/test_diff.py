"""Comparing plans (issue 16): gridplan.diff_plans and `gridplan diff`."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

import gridplan
from gridplan.cli import app
from gridplan.diff import STATUSES, diff_plans
from gridplan.export import write_geopackage

REPO = Path(__file__).resolve().parents[1]
CAMDEN = REPO / "data" / "camden_sample.gpkg"
runner = CliRunner()


@pytest.fixture(scope="module")
def camden():
    units = gpd.read_file(CAMDEN, layer="units")
    comm = gpd.read_file(CAMDEN, layer="communities")
    return units, comm, gridplan.plan(units, communities=comm)


def test_a_plan_against_itself_is_all_kept(camden):
    _, _, p = camden
    d = diff_plans(p, p)
    assert set(d.grids["change"]) == {"kept"}
    s = d.summary.iloc[0]
    assert s["share_kept_code"] == 1.0 and s["households_moved"] == 0
    assert (d.moves["old_code"] == d.moves["new_code"]).all()


def test_statuses_and_moves_add_up(camden):
    p = camden[2]
    g = p.grids.sort_values("grid_code")
    # edit the old plan by hand: one grid retired into its neighbour's code (merged), one
    # grid's units given a new code (new + retired), the rest untouched
    a, b, c = g["grid_code"].iloc[:3]
    parts = p.unit_parts.copy()
    parts.loc[parts["grid_code"] == a, "grid_code"] = b
    parts.loc[parts["grid_code"] == c, "grid_code"] = "999"
    new = type(p)(
        **{
            **{f: getattr(p, f) for f in p.__dataclass_fields__},
            "unit_parts": parts,
            "grids": p.grids.assign(grid_code=p.grids["grid_code"].replace({c: "999"})).loc[
                lambda f: f["grid_code"] != a
            ],
        }
    )
    d = diff_plans(p, new).grids.set_index("grid_code")
    assert d.loc[a, "change"] == "merged" and d.loc[b, "change"] == "merged"
    assert d.loc["999", "change"] == "new" and d.loc[c, "change"] == "retired"
    assert d.loc[c, "to_codes"] == "999"
    others = d.drop(index=[a, b, c, "999"])
    assert set(others["change"]) == {"kept"}
    moves = diff_plans(p, new).moves
    # every household of the old plan goes somewhere exactly once
    assert moves["households"].sum() == pytest.approx(p.unit_parts["households"].sum())
    assert set(d["change"]) <= set(STATUSES)


def test_cli_diff_writes_gpkg_workbook_and_map_deterministically(camden, tmp_path):
    units, comm, p = camden
    write_geopackage(p, tmp_path / "v1.gpkg")
    q = gridplan.plan(units[units["unit_id"] != units["unit_id"].iloc[0]], communities=comm,
                      previous=tmp_path / "v1.gpkg")  # fmt: skip
    write_geopackage(q, tmp_path / "v2.gpkg")
    outs = []
    for run in ("a", "b"):
        args = [
            "diff", str(tmp_path / "v1.gpkg"), str(tmp_path / "v2.gpkg"),
            "--out", str(tmp_path / f"{run}.gpkg"), "--xlsx", str(tmp_path / f"{run}.xlsx"),
            "--map", str(tmp_path / f"{run}.png"),
        ]  # fmt: skip
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        outs.append(run)
    for ext in ("xlsx", "png"):
        assert (tmp_path / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes(), ext
    layers = set(gpd.list_layers(tmp_path / "a.gpkg")["name"])
    for layer in layers:
        a = gpd.read_file(tmp_path / "a.gpkg", layer=layer)
        b = gpd.read_file(tmp_path / "b.gpkg", layer=layer)
        pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))
    assert {"grids_old", "grids_new", "moves", "summary", "changes"} <= layers
    book = pd.ExcelFile(tmp_path / "a.xlsx")
    assert "变化概览" in book.sheet_names and "住户去向" in book.sheet_names
    changes = pd.read_excel(tmp_path / "a.xlsx", sheet_name="网格变化")
    assert "变化" in changes.columns and "保持不变" in set(changes["变化"])
    v1, v2 = str(tmp_path / "v1.gpkg"), str(tmp_path / "v2.gpkg")
    en_args = ["--out", str(tmp_path / "en.gpkg"), "--xlsx", str(tmp_path / "en.xlsx")]
    en = runner.invoke(app, ["diff", v1, v2, *en_args, "--lang", "en"])
    assert en.exit_code == 0, en.output
    assert "Grid changes" in pd.ExcelFile(tmp_path / "en.xlsx").sheet_names


def test_cli_diff_refuses_bad_inputs_and_outputs(tmp_path, camden):
    _, _, p = camden
    write_geopackage(p, tmp_path / "v1.gpkg")
    v1, nope, d = str(tmp_path / "v1.gpkg"), str(tmp_path / "nope.gpkg"), str(tmp_path / "d.gpkg")
    cases = [
        ([nope, v1, "--out", d], "does not exist"),
        ([v1, v1, "--out", v1, "--force"], "v1.gpkg"),
        ([v1, v1, "--out", d, "--map", str(tmp_path / "m.jpg")], "--map"),
    ]
    for args, words in cases:
        res = runner.invoke(app, ["diff", *args])
        assert res.exit_code == 1, res.output
        assert words in res.output and "Traceback" not in res.output
