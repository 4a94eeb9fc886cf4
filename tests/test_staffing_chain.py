"""Done when (issue 20): the CLI and Python give identical staffing on the same plan file, and
the reform -> plan -> staff chain runs on the bundled samples and on footprint units."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import shapely
from test_reform_footprints import footprint_town
from test_staffing import compound_town
from typer.testing import CliRunner

import gridplan
from gridplan.cli import app
from gridplan.reform import ReformRules, redivide
from gridplan.staffing import staffing_plan

DATA = Path(__file__).resolve().parents[1] / "data"


def _cli_ok(*args: object) -> str:
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output


def _sheets(path: Path) -> dict[str, pd.DataFrame]:
    book = openpyxl.load_workbook(path, read_only=True)
    return {name: pd.read_excel(path, sheet_name=name, dtype=object) for name in book.sheetnames}


def test_cli_and_python_give_identical_staffing_on_the_same_plan_file(tmp_path):
    units, compounds = compound_town()
    inputs = tmp_path / "inputs.gpkg"
    for name, frame in (("units", units), ("compounds", compounds)):
        pyogrio.write_dataframe(frame, inputs, layer=name, driver="GPKG")
    plan_file = tmp_path / "plan.gpkg"
    _cli_ok("plan", f"{inputs}:units", "--compounds", f"{inputs}:compounds", "-o", plan_file)
    # the plan file carries its compounds: no --compounds needed for the same answer
    cli_out = tmp_path / "cli.xlsx"
    _cli_ok("staff", plan_file, "-o", cli_out)
    py_out = staffing_plan(plan_file).to_excel(tmp_path / "py.xlsx")
    assert cli_out.read_bytes() == py_out.read_bytes()
    # and the plan in memory gives the same posts and branches as its file
    mem = staffing_plan(gridplan.plan(units, compounds=compounds))
    from_file = staffing_plan(plan_file)
    pd.testing.assert_frame_equal(
        mem.party.reset_index(drop=True), from_file.party.reset_index(drop=True)
    )
    posts = ["grid_code", "grid_head", "fulltime_worker", "parttime_workers", "households"]
    pd.testing.assert_frame_equal(mem.grids[posts], from_file.grids[posts])
    assert (mem.party["type"] == "joint").any()
    pd.testing.assert_frame_equal(mem.party_communities, from_file.party_communities)


def test_queenstown_reform_plan_staff_chain(tmp_path):
    src = DATA / "singapore_queenstown.gpkg"
    reform = tmp_path / "reform.gpkg"
    out = _cli_ok(
        "reform",
        f"{src}:units",
        "--communities",
        f"{src}:communities",
        "--streets",
        f"{src}:streets",
        "--min-households",
        "3000",
        "--max-households",
        "6000",
        "--mode",
        "reform",
        "--out",
        reform,
    )
    assert "oversized: 1 -> 0" in out
    plan = tmp_path / "plan.gpkg"
    _cli_ok("plan", f"{reform}:units", "--communities", f"{reform}:communities", "-o", plan)
    new = gpd.read_file(reform, layer="communities")
    grids = gpd.read_file(plan, layer="grids")
    assert set(grids["community_id"]) == set(new["community_id"])
    assert int(grids["households"].sum()) == 34_819 == int(new["households"].sum())
    code = dict(zip(new["community_id"], new["code"], strict=True))
    pairs = zip(grids["grid_code"], grids["community_id"], strict=True)
    assert all(str(g)[-6:-3] == code[c] for g, c in pairs)
    book = tmp_path / "staff.xlsx"
    _cli_ok("staff", plan, "-o", book)
    summary = pd.read_excel(book, sheet_name="汇总表")
    named = summary[summary["社区名称"] != "合计"]
    # the new communities' names (kept or proposed) reach the staffing tables
    assert named["社区名称"].notna().all() and len(named) == len(new)
    assert set(named["社区名称"]) == set(new["name"])


def test_footprint_villages_reform_plan_chain(tmp_path):
    units = footprint_town()
    units["households"] = [30 if i % 7 else 200 for i in range(len(units))]
    src = tmp_path / "town.gpkg"
    units.to_file(src, layer="units")
    reform = tmp_path / "reform.gpkg"
    _cli_ok(
        "reform",
        f"{src}:units",
        "--community-column",
        "village",
        "--min-households",
        "600",
        "--max-households",
        "1500",
        "--mode",
        "reform",
        "--out",
        reform,
    )
    new = gpd.read_file(reform, layer="communities")
    assert new["in_bounds"].all() and shapely.is_valid(new.geometry.to_numpy()).all()
    plan = tmp_path / "plan.gpkg"
    _cli_ok("plan", f"{reform}:units", "--communities", f"{reform}:communities", "-o", plan)
    grids = gpd.read_file(plan, layer="grids")
    assert int(grids["households"].sum()) == int(units["households"].sum())
    assert set(grids["community_id"]) == set(new["community_id"])


def test_taiyuan_footprints_reform_then_plan_then_staff_in_python(data_dir, tmp_path):
    src = data_dir / "taiyuan.gpkg"
    units = gpd.read_file(src, layer="units_all_buildings")
    hull = shapely.convex_hull(units.union_all())
    west = shapely.intersection(hull, shapely.box(-180, -90, 112.56, 90))
    east = shapely.difference(hull, west)
    current = gpd.GeoDataFrame(
        {"community_id": ["W", "E"], "name": ["西村", "东村"]},
        geometry=[
            west.buffer(0.0005),
            shapely.difference(east.buffer(0.0005), west.buffer(0.0005)),
        ],
        crs=units.crs,
    )
    r = redivide(
        units,
        communities=current,
        dedicated=gpd.read_file(src, layer="dedicated"),
        rules=ReformRules(min_households=3000, max_households=8000, keep_valid=False),
    )
    assert r.communities["in_bounds"].all()
    p = gridplan.plan(r.units, communities=r.communities)
    assert int(p.grids["households"].sum()) == int(units["households"].sum())
    s = staffing_plan(p)
    assert set(s.communities["community_id"]) == set(r.communities["community_id"])
    assert s.communities["community_name"].notna().all()
    book = _sheets(r.to_excel(tmp_path / "reform.xlsx"))
    mapping = book["新旧对照"]
    assert set(mapping["原社区（村）编码"]) == {"W", "E"}
    assert int(book["新社区"]["户数"].sum()) == int(units["households"].sum())
