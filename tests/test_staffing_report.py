"""Party organisation through four levels, current staff, roster categories for gaps and the
report tables a street office files (issue 20)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import box
from staffing_data import CRS, X0, Y0, lattice_compounds, lonlat, make_grids, roster_plan

from gridplan.config import StaffingRules
from gridplan.errors import ValidationError
from gridplan.staffing import staffing_plan
from gridplan.staffing.party import community_party_level


@pytest.mark.parametrize(
    ("members", "level"),
    [
        (3, "branch"),
        (50, "branch"),
        (51, "general_branch"),
        (99, "general_branch"),
        (100, "committee"),
    ],
)
def test_community_party_level_by_members(members, level):
    assert community_party_level(members, rules=StaffingRules()) == level


def test_rules_for_the_community_level_are_checked():
    with pytest.raises(ValidationError, match="must exceed `general_branch_over`"):
        StaffingRules(general_branch_over=100, party_committee_from=80)
    r = StaffingRules(general_branch_over=30, party_committee_from=60)
    assert community_party_level(40, rules=r) == "general_branch"
    assert community_party_level(float("nan"), rules=r) is None


def two_communities():
    """8 compounds in a row: C1 holds c0-c3 (members 3, 1, 1, 60), C2 c4-c7 (2, 2, 0, 40)."""
    plan = lattice_compounds([3, 1, 1, 60, 2, 2, 0, 40], nx_=8, community=["C1"] * 4 + ["C2"] * 4)
    plan.grids["street_id"] = ["S1"] * 4 + ["S2"] * 4
    return plan


def test_party_counts_per_community_and_street_add_up():
    s = staffing_plan(two_communities())
    p = s.party_communities.set_index("community_id")
    b = s.party[s.party["type"] != "short"]
    for cid, row in p.iterrows():
        mine = b[b["community_id"] == cid]
        assert row["branches"] == len(mine)
        assert row["single_branches"] + row["joint_branches"] == len(mine)
        assert row["central_households"] == mine["central_households"].sum()
        units = s.party_units[s.party_units["community_id"] == cid]
        assert row["members"] == units["members"].sum()
        covered = units[units["branch_id"].astype(str).str.startswith("B")]
        assert row["compounds_covered"] == len(covered)
    # C1: 65 members -> a general branch; C2: 44 -> a branch of its own
    assert p.loc["C1", "party_level"] == "general_branch" and p.loc["C1", "members"] == 65
    assert p.loc["C2", "party_level"] == "branch"
    st = s.party_streets.set_index("street_id")
    assert st.loc["S1", "level_general_branch"] == 1 and st.loc["S2", "level_branch"] == 1
    assert st["branches"].sum() == p["branches"].sum()


def test_a_community_with_stationed_units_gets_a_big_committee():
    """社区大党委 take in the units stationed in the community (PRACTICE.md): a community
    with a dedicated grid gets one whatever its members; one a reform merged does not."""
    plan = two_communities()
    # a business district in C1 (a dedicated grid, nobody living there)
    park = gpd.GeoDataFrame(
        {
            "grid_code": ["G8"],
            "community_id": ["C1"],
            "kind": ["dedicated"],
            "households": [0],
            "n_microgrids": [0],
            "street_id": ["S1"],
        },
        geometry=[box(X0, Y0 - 200, X0 + 100, Y0 - 100)],
        crs=CRS,
    )
    grids = pd.concat([plan.grids, park], ignore_index=True)
    comms = gpd.GeoDataFrame(
        {
            "community_id": ["C1", "C2"],
            "name": ["东社区", "西社区"],
            "previous_codes": ["C1:160", "A:100;B:60"],  # C2 merged two villages
        },
        geometry=[None, None],
        crs=CRS,
    )
    layers = {"grids": grids, "units": plan.units, "compounds": plan.layers.compounds}
    s = staffing_plan({**layers, "communities": comms})
    p = s.party_communities.set_index("community_id")
    assert p.loc["C1", "party_level"] == "big_committee" and p.loc["C1", "stationed_units"] == 1
    assert not p.loc["C1", "formed_by_reform"]
    # C2 was formed by the reform but nothing is stationed there: 44 members, a branch
    assert p.loc["C2", "party_level"] == "branch" and p.loc["C2", "formed_by_reform"]
    assert p.loc["C2", "stationed_units"] == 0
    st = s.party_streets.set_index("street_id")
    assert st.loc["S1", "level_big_committee"] == 1 and st.loc["S1", "stationed_units"] == 1
    for least in (0, 2):  # never, or from two stationed units: by its 65 members
        off = staffing_plan(
            {**layers, "communities": comms},
            rules=StaffingRules(big_committee_from_stationed=least),
        )
        level = off.party_communities.set_index("community_id").loc["C1", "party_level"]
        assert level == "general_branch"
    with pytest.raises(ValidationError, match="big_committee_from_stationed"):
        StaffingRules(big_committee_from_stationed=-1)


def test_current_staff_shows_the_gap_to_the_ratio(tmp_path):
    grids = make_grids(
        [2000, 3000, 1000], communities=["C1", "C2", "C3"], population=[6000, 9000, 2500]
    )
    current = pd.DataFrame({"社区编号": ["C1", "C2"], "在岗社区工作者": [8, 20]})
    path = tmp_path / "now.xlsx"
    current.to_excel(path, index=False)
    s = staffing_plan({"grids": grids}, current_staff=path)
    c = s.communities.set_index("community_id")
    # 6,000 residents need 11 workers at 18 per 10,000; 9,000 need 17
    assert c.loc["C1", "community_workers"] == 11 and c.loc["C1", "workers_gap"] == 3
    assert c.loc["C2", "workers_gap"] == 0  # 20 already, above the ratio
    assert pd.isna(c.loc["C3", "current_workers"]) and pd.isna(c.loc["C3", "workers_gap"])
    assert c.loc["C1", "current_per_10k"] == pytest.approx(13.33, abs=0.01)
    assert s.streets["workers_gap"].iloc[0] == 3
    bad = pd.DataFrame({"社区编号": ["C1", "C9", "C2"], "人数": [3, 4, -1]})
    with pytest.raises(ValidationError) as err:
        staffing_plan({"grids": grids}, current_staff=bad)
    text = str(err.value)
    assert "row 3: C9" in text and "row 4 (C2)" in text and "`current_staff=`" in text


def test_roster_categories_fill_grid_heads_left_open():
    near = lonlat(X0 + 500, Y0 + 150)  # in G2
    far = lonlat(X0 + 500, Y0 + 5000)
    roster = pd.DataFrame(
        {
            "姓名": ["张三", "李四", "王五", "赵六"],
            "岗位": ["网格长", None, None, None],
            "人员类别": [None, "党员", "退休干部", "物业人员"],
            "经度": [lonlat(X0 + 10, Y0 + 50)[0], near[0], near[0], far[0]],
            "纬度": [lonlat(X0 + 10, Y0 + 50)[1], near[1], near[1], far[1]],
        }
    )
    plan = roster_plan()
    s = staffing_plan(plan, roster=roster, rules=StaffingRules(roster_max_distance_m=1000))
    heads = s.assignments[s.assignments["role"] == "grid_head"].set_index("grid_code")
    assert heads.loc["G1", "name"] == "张三" and pd.isna(heads.loc["G1", "filled_from"])
    # G2 has no grid head on the roster: the party member comes before the retired cadre
    assert heads.loc["G2", "name"] == "李四" and heads.loc["G2", "filled_from"] == "party_member"
    assert heads.loc["G2", "person_role"] == "reserve"
    left = set(s.unassigned["name"])
    assert left == {"王五", "赵六"}
    # the property staff member lives 5 km away: beyond the limit, never used
    only_far = roster.iloc[[0, 3]]
    s2 = staffing_plan(plan, roster=only_far, rules=StaffingRules(roster_max_distance_m=1000))
    assert "G2" in set(s2.unfilled.loc[s2.unfilled["role"] == "grid_head", "grid_code"])
    with pytest.raises(ValidationError, match="unknown category"):
        staffing_plan(plan, roster=roster.assign(人员类别=["x", None, None, None]))


def test_report_tables_add_up(tmp_path):
    plan = two_communities()
    near = lonlat(X0 + 50, Y0 + 50)
    roster = pd.DataFrame(
        {
            "name": ["A", "B"],
            "role": ["grid_head", "fulltime_worker"],
            "lon": [near[0]] * 2,
            "lat": [near[1]] * 2,
        }
    )
    s = staffing_plan(plan, roster=roster)
    path = s.to_excel(tmp_path / "s.xlsx")
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames[:3] == ["汇总表", "网格员花名册", "党组织设置表"]
    summary = pd.read_excel(path, sheet_name="汇总表")
    total = summary[summary["社区名称"] == "合计"]
    assert len(total) == 3  # one per street and the grand total
    grand = total.iloc[-1]
    assert grand["户数"] == s.communities["households"].sum() == 320
    assert grand["网格长"] == 8 and grand["兼职网格员"] == 8
    roster_sheet = pd.read_excel(path, sheet_name="网格员花名册")
    # every post once: 8 grid heads, 8 full-time and 8 part-time posts
    assert len(roster_sheet) == 24
    assert roster_sheet["姓名"].notna().sum() == 2
    assert roster_sheet.loc[roster_sheet["姓名"].isna(), "原因"].notna().all()
    party = pd.read_excel(path, sheet_name="党组织设置表")
    assert set(party["社区党组织"].dropna()) == {"社区党总支", "社区党支部"}
    assert (
        party.loc[party["社区名称"] == "合计", "党支部数"].iloc[-1]
        == s.party_communities["branches"].sum()
    )
    en = s.to_excel(tmp_path / "en.xlsx", language="en")
    assert openpyxl.load_workbook(en, read_only=True).sheetnames[:3] == [
        "Summary",
        "Grid worker roster",
        "Party organisation",
    ]
    assert np.isfinite(grand["社区工作者(按人口比例)"])


def test_cli_current_staff_and_report_sheets(tmp_path):
    from typer.testing import CliRunner

    from gridplan.cli import app

    grids = make_grids([2000, 3000], communities=["C1", "C2"], population=[6000, 9000])
    plan = tmp_path / "plan.gpkg"
    grids.to_file(plan, layer="grids")
    now = tmp_path / "now.csv"
    pd.DataFrame({"community_id": ["C1", "C2"], "current_workers": [8, 20]}).to_csv(
        now, index=False
    )
    out = tmp_path / "s.xlsx"
    res = CliRunner().invoke(app, ["staff", str(plan), "--current-staff", str(now), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "community workers now: 28; still needed to reach 18 per 10,000: 3" in res.output
    summary = pd.read_excel(out, sheet_name="汇总表")
    assert summary["社区工作者缺口"].tolist()[:2] == [3, 0]
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"community_id": ["C7"], "current_workers": [1]}).to_csv(bad, index=False)
    again = tmp_path / "s2.xlsx"
    res = CliRunner().invoke(
        app, ["staff", str(plan), "--current-staff", str(bad), "-o", str(again)]
    )
    assert res.exit_code == 1 and "--current-staff" in res.output and "Traceback" not in res.output


def test_no_sheet_repeats_a_header_in_either_language(tmp_path):
    # two columns under one header break the app's tables and confuse readers: the
    # part-time posts and the names holding them read 'Part-time grid workers' twice
    from staffing_data import lonlat as ll

    plan = two_communities()
    plan.microgrids = gpd.GeoDataFrame(
        {
            "microgrid_code": [f"{g}-1" for g in plan.grids["grid_code"]],
            "grid_code": plan.grids["grid_code"],
        },
        geometry=plan.grids.geometry.to_numpy(),
        crs=CRS,
    )
    at = ll(X0 + 50, Y0 + 50)
    roster = pd.DataFrame(
        {"name": ["A"], "role": ["parttime_worker"], "lon": [at[0]], "lat": [at[1]]}
    )
    s = staffing_plan(plan, roster=roster)
    for lang in ("zh", "en"):
        for name, frame in s.tables(language=lang).items():
            assert not frame.columns.duplicated().any(), (lang, name, list(frame.columns))
