"""Staffing plans end to end: rules, the plan's frames checked, the workbook, the CLI.

Plans are the small hand-built frames of ``staffing_data``, so every expected number can be
worked out by hand.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
from staffing_data import CRS, make_grids, make_plan, roster_plan, square
from typer.testing import CliRunner

from gridplan.cli import app
from gridplan.errors import ValidationError
from gridplan.staffing import (
    Staffing,
    StaffingRules,
    mask_phone,
    staffing_plan,
    staffing_rules_from_dict,
    staffing_rules_from_toml,
)

# ---------------------------------------------------------------------------------------------
# rules
# ---------------------------------------------------------------------------------------------


def test_rules_defaults_follow_practice():
    r = StaffingRules()
    assert (r.grid_heads_per_grid, r.fulltime_workers_per_grid) == (1, 1)
    assert r.parttime_workers_per_microgrid == 1
    assert r.dedicated_contacts_per_dedicated_grid == 1
    assert r.community_workers_per_10k == 18
    assert r.household_size == 2.8
    assert (r.branch_min_members, r.joint_branch_max_units) == (3, 5)
    assert (r.branch_split_over, r.committee_from) == (50, 7)
    assert r.central_household_span == 15
    with pytest.raises(AttributeError):
        r.household_size = 3.0  # type: ignore[misc]


def test_rules_name_every_bad_field():
    with pytest.raises(ValidationError) as info:
        StaffingRules(
            community_workers_per_10k=0,
            joint_branch_max_units=1,
            household_size=-2.8,
            grid_heads_per_grid=True,  # a bool is not a count
        )
    checks = {p.check for p in info.value.problems}
    assert checks == {
        "community_workers_per_10k",
        "joint_branch_max_units",
        "household_size",
        "grid_heads_per_grid",
    }
    assert "got 0" in str(info.value)


def test_rules_split_must_not_undercut_minimum():
    with pytest.raises(ValidationError, match="branch_split_over"):
        StaffingRules(branch_min_members=10, branch_split_over=5)


def test_rules_from_dict_and_toml(tmp_path):
    r = staffing_rules_from_dict(
        {
            "household_size": 3.1,
            "grid": {"min_households": 300},
            "staffing": {"community_workers_per_10k": 25},
        }
    )
    assert r.community_workers_per_10k == 25
    assert r.household_size == 3.1  # the plan's household size is shared
    assert staffing_rules_from_dict({"branch_min_members": 4}).branch_min_members == 4
    with pytest.raises(ValidationError, match=r"unknown key\(s\) \['ratio'\]"):
        staffing_rules_from_dict({"staffing": {"ratio": 25}})
    path = tmp_path / "rules.toml"
    path.write_text("[grid]\nmin_households = 300\n[staffing]\ncommittee_from = 5\n", "utf-8")
    assert staffing_rules_from_toml(path).committee_from == 5
    path.write_text("[staffing\n", "utf-8")
    with pytest.raises(ValidationError, match="TOML"):
        staffing_rules_from_toml(path)


# ---------------------------------------------------------------------------------------------
# bad plan input
# ---------------------------------------------------------------------------------------------


def test_bad_plan_frames_name_every_row():
    grids = make_grids([400, -3, 300])
    grids["grid_code"] = ["G1", "G1", None]
    grids.loc[2, "households"] = None
    micro = pd.DataFrame({"microgrid_code": ["M1"], "grid_code": ["G9"]})
    with pytest.raises(ValidationError) as info:
        staffing_plan(make_plan(grids, microgrids=micro))
    text = str(info.value)
    checks = {p.check for p in info.value.problems}
    assert {"missing_code", "duplicate_code", "households", "unknown_grid"} <= checks
    assert "M1 -> G9" in text
    assert "row 2" in text  # the grid without a code
    with pytest.raises(ValidationError, match="grid_code"):
        staffing_plan({"grids": pd.DataFrame({"households": [1]})})
    with pytest.raises(ValidationError, match="expected a gridplan Plan"):
        staffing_plan(object())


def test_units_in_unknown_grids_are_named():
    grids = make_grids([100])
    units = pd.DataFrame({"unit_id": ["x", "y"], "grid_code": ["G1", "G7"], "households": [1, 2]})
    with pytest.raises(ValidationError, match=r"1 units are in no grid .*\(y\)"):
        staffing_plan(make_plan(grids, units=units))


# ---------------------------------------------------------------------------------------------
# masking and export
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13812345678", "138****5678"),
        (13812345678, "138****5678"),
        ("13812345678.0", "138****5678"),
        ("+86 138 1234 5678", "+86 1** **** 5678"),
        ("0351-7654321", "035*-***4321"),
        ("12345", "***45"),
        (None, None),
    ],
)
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


def staffed_with_roster() -> Staffing:
    roster = pd.DataFrame(
        {
            "name": ["张三", "李四"],
            "role": ["grid_head", "fulltime_worker"],
            "phone": ["13812345678", "13900001111"],
            "unit_id": ["b1", "b2"],
        }
    )
    return staffing_plan(roster_plan(), roster=roster)


def sheet(path: Path, name: str) -> list[tuple]:
    wb = openpyxl.load_workbook(path)
    return [tuple(r) for r in wb[name].iter_rows(values_only=True)]


def test_workbook_chinese_round_trip(tmp_path):
    s = staffed_with_roster()
    path = s.to_excel(tmp_path / "staffing.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [
        "汇总表",
        "网格员花名册",
        "党组织设置表",
        "网格",
        "社区",
        "街道",
        "社区党组织",
        "街道党组织",
        "党组织",
        "党组织单元",
        "人员安排",
        "空缺岗位",
        "未安排人员",
        "提示",
        "参数",
    ]
    rows = sheet(path, "网格")
    header = rows[0]
    for label in ("网格编码", "户数", "常住人口", "网格长", "专职网格员", "兼职网格员", "缺口"):
        assert label in header
    grid = dict(zip(header, rows[1], strict=True))
    assert grid["网格编码"] == "G1" and grid["户数"] == 400 and grid["兼职网格员"] == 8
    assert grid["网格类型"] == "住宅网格" and grid["人口为估算"] == "是"
    assert "社区工作者(按人口比例)" in sheet(path, "社区")[0]
    people = sheet(path, "人员安排")
    phones = [r[people[0].index("电话")] for r in people[1:]]
    assert sorted(phones) == ["138****5678", "139****1111"]
    assert [r[people[0].index("岗位")] for r in people[1:]] == ["网格长", "专职网格员"]
    party = pd.read_excel(path, sheet_name="党组织")
    assert list(party.columns[:3]) == ["党组织编号", "社区编号", "类型"]
    assert party["党员数"].sum() == 7
    # nothing unmasked anywhere in the workbook
    for ws in wb.worksheets:
        for r in ws.iter_rows(values_only=True):
            assert "13812345678" not in map(str, r)


def test_workbook_english_and_unmasked(tmp_path):
    s = staffed_with_roster()
    path = s.to_excel(tmp_path / "staffing_en.xlsx", language="en", mask_phones=False)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:4] == ["Summary", "Grid worker roster", "Party organisation", "Grids"]
    assert "Party branches" in wb.sheetnames
    header = sheet(path, "Grids")[0]
    assert {"Grid code", "Households", "Residents", "Grid heads", "Gap"} <= set(header)
    people = pd.read_excel(path, sheet_name="Assignments", dtype=str)
    assert sorted(people["Phone"]) == ["13812345678", "13900001111"]
    assert set(people["Role"]) == {"grid_head", "fulltime_worker"}
    with pytest.raises(ValidationError, match=r"\.xlsx"):
        s.to_excel(tmp_path / "staffing.csv")
    with pytest.raises(ValidationError, match="language"):
        s.tables(language="fr")  # type: ignore[arg-type]


def test_workbook_without_roster_has_empty_roster_sheets(tmp_path):
    s = staffing_plan({"grids": make_grids([400], n_microgrids=[8])})
    assert not s.has_roster and "gap" not in s.grids.columns
    path = s.to_excel(tmp_path / "s.xlsx")
    assert len(sheet(path, "人员安排")) == 1  # header only
    rules = pd.read_excel(path, sheet_name="参数")
    assert rules.set_index("参数").loc["community_workers_per_10k", "取值"] == 18


# ---------------------------------------------------------------------------------------------
# plan GeoPackage and CLI
# ---------------------------------------------------------------------------------------------


def write_plan_gpkg(path: Path, plan: SimpleNamespace) -> Path:
    pyogrio.write_dataframe(plan.grids, path, layer="grids", driver="GPKG")
    pyogrio.write_dataframe(plan.units.reset_index(drop=True), path, layer="units", driver="GPKG")
    micro = gpd.GeoDataFrame(
        {"microgrid_code": ["M1", "M2", "M3"], "grid_code": ["G1", "G1", "G2"]},
        geometry=[square(0), square(0), square(1)],
        crs=CRS,
    )
    pyogrio.write_dataframe(micro, path, layer="microgrids", driver="GPKG")
    return path


def test_staffing_from_a_plan_geopackage(tmp_path):
    plan = roster_plan()
    path = write_plan_gpkg(tmp_path / "plan.gpkg", plan)
    s = staffing_plan(path)
    assert s.grids["parttime_workers"].tolist() == [2, 1]  # counted from the microgrids layer
    assert s.party["members"].sum() == 7


def test_cli_staff(tmp_path):
    path = write_plan_gpkg(tmp_path / "plan.gpkg", roster_plan())
    roster = tmp_path / "roster.csv"
    pd.DataFrame(
        {"name": ["张三"], "role": ["网格长"], "phone": ["13812345678"], "unit_id": ["b1"]}
    ).to_csv(roster, index=False)
    rules = tmp_path / "rules.toml"
    rules.write_text("[staffing]\ncommunity_workers_per_10k = 25\n", "utf-8")
    out = tmp_path / "out" / "staffing.xlsx"
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["staff", str(path), "--roster", str(roster), "--config", str(rules), "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    assert "2 grids" in res.output and "1 posts filled" in res.output
    assert "网格编码" in sheet(out, "网格")[0]
    params = pd.read_excel(out, sheet_name="参数").set_index("参数")
    assert params.loc["community_workers_per_10k", "取值"] == 25
    # the workbook exists now: kept without --force, replaced with it
    res = runner.invoke(app, ["staff", str(path), "--lang", "en", "--out", str(out)])
    assert res.exit_code == 1 and "--force" in res.output, res.output
    assert "网格" in openpyxl.load_workbook(out).sheetnames
    res = runner.invoke(app, ["staff", str(path), "--lang", "en", "--out", str(out), "--force"])
    assert res.exit_code == 0 and "Grids" in openpyxl.load_workbook(out).sheetnames


def test_cli_staff_bad_input_exits_1_without_traceback(tmp_path):
    path = write_plan_gpkg(tmp_path / "plan.gpkg", roster_plan())
    roster = tmp_path / "roster.csv"
    pd.DataFrame(
        {"name": ["A", "B"], "role": ["boss", "grid_head"], "unit_id": ["b1", "zz"]}
    ).to_csv(roster, index=False)
    runner = CliRunner()
    out = tmp_path / "s.xlsx"
    res = runner.invoke(app, ["staff", str(path), "--roster", str(roster), "--out", str(out)])
    assert res.exit_code == 1
    assert "row 2 (A): 'boss'" in res.output and "row 3 (B): zz" in res.output
    assert "Traceback" not in res.output and not out.exists()
    res = runner.invoke(app, ["staff", str(tmp_path / "missing.gpkg"), "--out", str(out)])
    assert res.exit_code == 1 and "file not found" in res.output
    other = tmp_path / "other.gpkg"
    pyogrio.write_dataframe(roster_plan().units, other, layer="units", driver="GPKG")
    res = runner.invoke(app, ["staff", str(other), "--out", str(out)])
    assert res.exit_code == 1 and "no `grids` layer" in res.output


def test_real_plan_object(lattice_units):
    import gridplan

    units = lattice_units(6, 4, households=lambda r, c: 45 + (r * 6 + c) % 5)
    units["party_members"] = [(k * 7) % 4 for k in range(len(units))]
    units["compound_id"] = [f"K{(k % 6) // 2}{k // 12}" for k in range(len(units))]
    p = gridplan.plan(units)
    s = staffing_plan(p)
    assert s.grids["households"].sum() == units["households"].sum()
    assert len(s.grids) == len(p.grids)
    assert s.grids["parttime_workers"].sum() == len(p.microgrids)
    assert s.party["members"].sum() == units["party_members"].sum()
    assert s.party_units["org_unit"].is_unique
    assert math.isclose(s.communities["residents"].sum(), units["households"].sum() * 2.8)


# ---------------------------------------------------------------------------------------------
# the plan file gives the same staffing as the Plan (issue 20)
# ---------------------------------------------------------------------------------------------

DATA = Path(__file__).resolve().parents[1] / "data"


def _sheet_frame(path: Path, name: str) -> pd.DataFrame:
    return pd.read_excel(path, sheet_name=name, dtype=object)


def _cli_ok(*args: object) -> str:
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output


def compound_town():
    """Six 200 m compounds in a 3 x 2 block, each with four buildings (points) of 100
    households near its centre and 1 or 2 party members: buildings of neighbouring compounds
    are 120 m or more apart, so only the compound polygons make them neighbours."""
    from shapely.geometry import Point, box

    comps, pts, ids, members = [], [], [], []
    for k in range(6):
        x, y = 500_000 + (k % 3) * 200, 4_180_000 + (k // 3) * 200
        comps.append(box(x, y, x + 200, y + 200))
        for j, (dx, dy) in enumerate(((80, 80), (120, 80), (80, 120), (120, 120))):
            pts.append(Point(x + dx, y + dy))
            ids.append(f"b{k}{j}")
            members.append(1 if j == 0 and k % 2 == 0 else 0)
    members[1] = 1  # compound K0 has 2 members, the others 1 or 0
    units = gpd.GeoDataFrame(
        {"unit_id": ids, "households": 100, "party_members": members},
        geometry=pts,
        crs=CRS,
    )
    compounds = gpd.GeoDataFrame(
        {"compound_id": [f"K{k}" for k in range(6)], "name": [f"小区{k}" for k in range(6)]},
        geometry=comps,
        crs=CRS,
    )
    return units, compounds


def test_cli_staff_on_a_plan_file_matches_python(tmp_path):
    import gridplan

    units, compounds = compound_town()
    inputs = tmp_path / "inputs.gpkg"
    for name, frame in (("units", units), ("compounds", compounds)):
        pyogrio.write_dataframe(frame, inputs, layer=name, driver="GPKG")
    py = staffing_plan(gridplan.plan(units, compounds=compounds))
    # without compound polygons the buildings are too far apart to make joint branches
    assert (py.party["type"] == "joint").any()

    plan_file = tmp_path / "plan.gpkg"
    _cli_ok("plan", f"{inputs}:units", "--compounds", f"{inputs}:compounds", "-o", plan_file)
    out = tmp_path / "staff.xlsx"
    output = _cli_ok(
        "staff", plan_file, "--compounds", f"{inputs}:compounds", "--lang", "en", "-o", out
    )
    cli = _sheet_frame(out, "Party branches")
    assert len(cli) == len(py.party)
    assert cli["Compounds/grids"].tolist() == py.party["org_units"].tolist()
    assert cli["Type"].tolist() == py.party["type"].tolist()
    assert [int(v) for v in cli["Party members"]] == py.party["members"].tolist()
    n_joint = int((py.party["type"] == "joint").sum())
    n_branches = int(py.party["type"].isin(["single", "joint"]).sum())
    assert f"party branches: {n_branches:,} ({n_joint:,} joint)" in output


def test_cli_staff_names_communities_and_streets(tmp_path):
    src = DATA / "singapore_queenstown.gpkg"
    plan_file = tmp_path / "plan.gpkg"
    ctx = ["--communities", f"{src}:communities", "--streets", f"{src}:streets"]
    _cli_ok("plan", f"{src}:units", *ctx, "-o", plan_file)
    out = tmp_path / "staff.xlsx"
    _cli_ok("staff", plan_file, *ctx, "-o", out)
    comms = _sheet_frame(out, "社区")
    names = gpd.read_file(src, layer="communities").set_index("community_id")["name"]
    assert comms["社区名称"].notna().all()
    assert (comms["社区名称"] == comms["社区编号"].map(names)).all()
    streets = _sheet_frame(out, "街道")
    assert streets["街道名称"].tolist() == ["QUEENSTOWN"]
    # a missing layer file is one clear error, exit 1
    res = CliRunner().invoke(
        app, ["staff", str(plan_file), "--compounds", str(tmp_path / "no.gpkg"), "-o", str(out)]
    )
    assert res.exit_code == 1 and "Traceback" not in res.output
