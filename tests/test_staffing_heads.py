"""Building and stairwell heads (楼栋长/单元长) from a household roster's role column (issue 17):
each head is assigned to the micro-grid holding their address, in Python and on the command
line, and fills that micro-grid's open part-time post."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest
from conftest import make_lattice_units
from typer.testing import CliRunner

import gridplan
from gridplan.addresses import household_equivalency, join_roster, read_roster
from gridplan.cli import app
from gridplan.config import MicroGridRules, PlanRules
from gridplan.errors import ValidationError
from gridplan.staffing import staffing_plan

runner = CliRunner()


def roster_with_roles() -> tuple[pd.DataFrame, pd.DataFrame]:
    """3 x 2 buildings of 2 stairwells x 12 floors x 4 rooms (48 households a stairwell),
    householder names, and a role column naming a stairwell head in every first stairwell and
    a building head on floor 12 of every second one."""
    units = make_lattice_units(3, 2, households=96)
    units["building"] = [f"{i + 1}号楼" for i in range(len(units))]
    rows = []
    for b in range(len(units)):
        for s in (1, 2):
            for f in range(1, 13):
                for r in (1, 2, 3, 4):
                    role = ""
                    if s == 1 and f == 3 and r == 1:
                        role = "单元长"
                    elif s == 2 and f == 12 and r == 2:
                        role = "楼栋长"
                    elif b == 0 and s == 2 and f == 5 and r == 1:
                        role = "党员"  # not a post: listed as ignored
                    rows.append(
                        (f"{b + 1}栋", f"{s}单元", f"{f}{r:02d}", f"户主{b}{s}{f}{r}", role)
                    )
    frame = pd.DataFrame(rows, columns=["楼栋", "单元", "房号", "户主", "角色"])
    return units, frame


@pytest.fixture(scope="module")
def planned():
    units, frame = roster_with_roles()
    roster = read_roster(frame)
    joined, join = join_roster(units, roster)
    rules = PlanRules(microgrid=MicroGridRules(min_households=30, max_households=50))
    plan = gridplan.plan(joined, rules=rules)
    return plan, household_equivalency(plan, roster, join), frame


def test_heads_are_in_the_microgrid_of_their_address(planned):
    plan, table, frame = planned
    s = staffing_plan(plan, household_list=table)
    heads = s.heads
    assert len(heads) == 12  # 6 stairwell heads and 6 building heads
    assert sorted(heads["role"].value_counts().items()) == [("building_head", 6), ("unit_head", 6)]
    # each head's micro-grid is the one the household list gives their row
    row_micro = dict(zip(table["roster_row"], table["microgrid_code"], strict=True))
    assert all(
        row_micro[r] == m for r, m in zip(heads["roster_row"], heads["microgrid_code"], strict=True)
    )
    # and its addresses name the head's building and stairwell
    addr = dict(zip(plan.microgrids["microgrid_code"], plan.microgrids["addresses"], strict=True))
    for row in heads.itertuples():
        b, st = frame.loc[row.roster_row - 2, ["楼栋", "单元"]]
        assert f"{b[0]}号楼{st}" in addr[row.microgrid_code]
    # the non-post role is listed, not dropped
    ignored = s.diagnostics[s.diagnostics["code"] == "household_roles_ignored"]
    assert len(ignored) == 1 and "党员" in ignored["params"].iat[0]["rows"]


def test_heads_fill_the_parttime_post_of_their_microgrid(planned):
    plan, table, _ = planned
    s = staffing_plan(plan, household_list=table)
    part = s.assignments[s.assignments["role"] == "parttime_worker"]
    # every stairwell is one micro-grid with one head: all 12 part-time posts are filled
    assert len(plan.microgrids) == 12 and len(part) == 12
    assert part["lives_in_grid"].all() and s.heads["serves_as_parttime"].all()
    assert int(s.grids["parttime_worker_gap"].sum()) == 0
    sheet = s.microgrids.set_index("microgrid_code")
    heads = s.heads.set_index("microgrid_code")
    for code, row in heads.iterrows():
        assert sheet.loc[code, f"{row['role']}_name"] == row["name"]
        assert sheet.loc[code, "parttime_worker_name"] == row["name"]
    assert (sheet["households"] == 48).all()


def test_a_microgrid_without_a_head_is_an_open_post(planned):
    plan, table, _ = planned
    fewer = table[~((table["角色"] == "楼栋长") & (table["楼栋"] == "1栋"))]
    s = staffing_plan(plan, household_list=fewer)
    assert len(s.heads) == 11
    assert len(s.unfilled) == 1 and s.unfilled["role"].tolist() == ["parttime_worker"]
    assert "楼栋长" in s.unfilled["reason_zh"].iat[0]


def test_heads_in_unknown_microgrids_are_refused(planned):
    plan, table, _ = planned
    bad = table.copy()
    bad.loc[bad["角色"] == "单元长", "microgrid_code"] = "999"
    with pytest.raises(ValidationError) as err:
        staffing_plan(plan, household_list=bad)
    assert "6 heads are in micro-grids that are not in the plan" in str(err.value)


def test_cli_households_gives_the_same_heads(tmp_path):
    units, frame = roster_with_roles()
    units.to_file(tmp_path / "units.gpkg", layer="units")
    roster = tmp_path / "名册.xlsx"
    frame.to_excel(roster, index=False)
    (tmp_path / "rules.toml").write_text(
        "[microgrid]\nmin_households = 30\nmax_households = 50\n", encoding="utf-8"
    )
    plan = tmp_path / "p.gpkg"
    res = runner.invoke(
        app,
        [
            "plan",
            str(tmp_path / "units.gpkg"),
            "--roster",
            str(roster),
            "--config",
            str(tmp_path / "rules.toml"),
            "-o",
            str(plan),
        ],
    )
    assert res.exit_code == 0, res.output
    out = tmp_path / "staff.xlsx"
    res = runner.invoke(
        app,
        ["staff", str(plan), "--households", str(tmp_path / "p_households.csv"), "-o", str(out)],
    )
    assert res.exit_code == 0, res.output
    assert "6 building heads, 6 stairwell heads, 12 of them part-time grid workers" in res.output
    book = openpyxl.load_workbook(out, read_only=True)
    assert "楼栋长单元长" in book.sheetnames and "微网格兼职网格员" in book.sheetnames
    sheet = pd.read_excel(out, sheet_name="楼栋长单元长", dtype=str)
    assert set(sheet["岗位"]) == {"楼栋长", "单元长"} and len(sheet) == 12
    # the same from the workbook the plan wrote
    res = runner.invoke(
        app,
        [
            "staff",
            str(plan),
            "--households",
            str(tmp_path / "p_households.xlsx"),
            "-o",
            str(tmp_path / "staff2.xlsx"),
        ],
    )
    assert res.exit_code == 0, res.output
    again = pd.read_excel(tmp_path / "staff2.xlsx", sheet_name="楼栋长单元长", dtype=str)
    pd.testing.assert_frame_equal(sheet, again)


def test_cli_household_list_without_roles_is_one_clear_error(tmp_path):
    plan_dir = tmp_path
    units, frame = roster_with_roles()
    units.to_file(plan_dir / "units.gpkg", layer="units")
    res = runner.invoke(app, ["plan", str(plan_dir / "units.gpkg"), "-o", str(plan_dir / "p.gpkg")])
    assert res.exit_code == 0, res.output
    bare = plan_dir / "list.csv"
    frame.drop(columns=["角色"]).to_csv(bare, index=False)
    res = runner.invoke(
        app,
        [
            "staff",
            str(plan_dir / "p.gpkg"),
            "--households",
            str(bare),
            "-o",
            str(tmp_path / "s.xlsx"),
        ],
    )
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert "has no role column (角色/身份/职务)" in res.output
    assert "--households" in res.output
