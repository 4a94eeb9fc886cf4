"""Rosters read and checked, and people assigned to posts (gridplan.staffing.roster, .assign)."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from staffing_data import X0, Y0, lonlat, roster_plan

from gridplan.errors import ValidationError
from gridplan.staffing import (
    assign_min_cost,
    read_roster,
    staffing_plan,
)

# ---------------------------------------------------------------------------------------------
# roster assignment
# ---------------------------------------------------------------------------------------------


def brute_force(dist, inside, capacity, allowed):
    """Best (filled, in-grid, -distance) over every way to fill the posts from the slots."""
    n_posts = dist.shape[1]
    slots = [p for p, c in enumerate(capacity) for _ in range(c)]
    padded = slots + [None] * n_posts
    best = (0, 0, 0.0)
    for perm in set(itertools.permutations(padded, n_posts)):
        if any(p is not None and not allowed[p, j] for j, p in enumerate(perm)):
            continue
        used = [(p, j) for j, p in enumerate(perm) if p is not None]
        score = (
            len(used),
            sum(bool(inside[p, j]) for p, j in used),
            -sum(dist[p, j] for p, j in used),
        )
        if score[:2] > best[:2] or (score[:2] == best[:2] and score[2] > best[2]):
            best = score
    return best


@pytest.mark.parametrize("case", range(60))
def test_assignment_is_optimal_against_brute_force(case):
    rng = np.random.default_rng(case)
    n_people = int(rng.integers(1, 4))
    n_posts = int(rng.integers(1, 5))
    capacity = rng.integers(1, 3, n_people).tolist()
    dist = rng.integers(0, 1000, (n_people, n_posts)).astype(float)
    inside = rng.random((n_people, n_posts)) < 0.3
    allowed = rng.random((n_people, n_posts)) < 0.85
    pairs = assign_min_cost(dist, inside, capacity=capacity, allowed=allowed)
    posts = [j for _, j in pairs]
    assert len(posts) == len(set(posts))  # each post once
    for p in range(n_people):
        assert sum(1 for q, _ in pairs if q == p) <= capacity[p]
    assert all(allowed[p, j] for p, j in pairs)
    got = (
        len(pairs),
        sum(bool(inside[p, j]) for p, j in pairs),
        -sum(dist[p, j] for p, j in pairs),
    )
    want = brute_force(dist, inside, capacity, allowed)
    assert got[:2] == want[:2]
    assert got[2] == pytest.approx(want[2])


def test_living_in_the_grid_beats_distance():
    d = np.array([[499.0], [100.0]])
    inside = np.array([[True], [False]])
    assert assign_min_cost(d, inside) == [(0, 0)]
    assert assign_min_cost(d, np.zeros_like(inside)) == [(1, 0)]
    assert assign_min_cost(np.zeros((0, 3)), np.zeros((0, 3), bool)) == []


def test_roster_assigns_residents_first_and_reports_gaps(tmp_path):
    far_x, far_y = lonlat(X0 + 1, Y0 + 50)  # in G1, 499 m from its centre
    near_x, near_y = lonlat(X0 + 500, Y0 + 150)  # in G2, 100 m from G1's centre
    roster = pd.DataFrame(
        {
            "姓名": ["张三", "李四", "王五", "赵六"],
            "岗位": ["网格长", "grid_head", "专职网格员", "fulltime_worker"],
            "手机": ["13812345678", "13900001111", "13700002222", "13600003333"],
            "经度": [far_x, near_x, None, None],
            "纬度": [far_y, near_y, None, None],
            "unit_id": [None, None, "b1", None],
            "compound_id": [None, None, None, "K2"],
            "兼岗数": [None, 1, 2, None],
            "社区": [None, None, None, "C1"],  # 赵六 may only serve community C1
        }
    )
    path = tmp_path / "roster.xlsx"
    roster.to_excel(path, index=False)
    s = staffing_plan(roster_plan(), roster=path)
    a = s.assignments.set_index(["grid_code", "role"])
    assert a.loc[("G1", "grid_head"), "name"] == "张三"  # lives in G1, though farther
    assert a.loc[("G2", "grid_head"), "name"] == "李四"
    assert bool(a.loc[("G1", "grid_head"), "lives_in_grid"])
    assert a.loc[("G1", "grid_head"), "distance_m"] == pytest.approx(499, abs=1)
    # 王五 (capacity 2, lives in b1/G1) serves one community: G1's full-time post, not also
    # G2's in community C2; 赵六 is C1-only, so G2's full-time post stays open
    assert a.xs("fulltime_worker", level="role")["name"].tolist() == ["王五"]
    assert s.unassigned["name"].tolist() == ["赵六"]
    paid = s.unfilled[s.unfilled["role"] != "parttime_worker"]
    assert paid[["grid_code", "role"]].values.tolist() == [["G2", "fulltime_worker"]]
    # nobody on the roster is a part-time worker: all 16 micro-grid posts are open
    assert (s.unfilled["role"] == "parttime_worker").sum() == 16
    g = s.grids.set_index("grid_code")
    assert g["grid_head_filled"].tolist() == [1, 1]
    assert g["gap"].tolist() == [8, 9]
    assert g.loc["G1", "grid_head_name"] == "张三"
    assert s.has_roster
    assert s.communities["gap"].sum() == 17


def test_roster_unfilled_posts_and_community_restriction():
    roster = pd.DataFrame(
        {
            "name": ["A", "B"],
            "role": ["grid_head", "grid_head"],
            "phone": ["13812345678", None],
            "compound_id": ["K1", "K1"],
            "community_id": ["C1", "C1"],
        }
    )
    s = staffing_plan(roster_plan(), roster=roster)
    assert s.assignments["grid_code"].tolist() == ["G1"]
    unfilled = s.unfilled.set_index(["grid_code", "role"])
    assert ("G2", "grid_head") in unfilled.index
    assert "community C2" in unfilled.loc[("G2", "grid_head"), "reason"]
    assert unfilled.loc[("G1", "fulltime_worker"), "reason"].startswith("the roster has 0")
    assert s.unassigned["name"].tolist() == ["B"]
    c = s.communities.set_index("community_id")
    # C2: its grid head, its full-time worker and its 8 part-time workers are open
    assert c.loc["C2", "grid_head_gap"] == 1 and c.loc["C2", "gap"] == 10
    assert s.streets["gap"].sum() == 19  # 1 grid head, 2 full-time, 16 part-time
    zh = s.tables(language="zh")["空缺岗位"].set_index(["网格编码", "岗位"])
    assert zh.loc[("G2", "网格长"), "原因"] == "名单中没有可在社区C2任职的网格长"
    assert "reason_zh" not in s.tables()["Unfilled posts"].columns


def test_roster_errors_name_every_row(tmp_path):
    path = tmp_path / "roster.csv"
    pd.DataFrame(
        {
            "name": ["A", "", "C", "D", "E", "F"],
            "role": ["grid_head", "grid_head", "captain", "grid_head", "grid_head", "grid_head"],
            "lon": [112.5, 112.5, 112.5, None, 500.0, None],
            "lat": [37.8, 37.8, 37.8, None, 37.8, None],
            "unit_id": [None, None, None, None, None, "nope"],
            "capacity": [1, 1, 1, 1, 0, 1],
        }
    ).to_csv(path, index=False)
    with pytest.raises(ValidationError) as info:
        staffing_plan(roster_plan(), roster=path)
    text = str(info.value)
    checks = {p.check for p in info.value.problems}
    assert checks == {"name", "role", "capacity", "coordinates", "home", "unknown_unit"}
    assert "row 3" in text  # no name: the second data row, as a spreadsheet numbers it
    assert "row 4 (C): 'captain'" in text
    assert "row 6 (E)" in text  # capacity 0 and longitude 500
    assert "row 7 (F): nope" in text
    with pytest.raises(ValidationError, match="says nowhere where people live"):
        read_roster(pd.DataFrame({"name": ["A"], "role": ["grid_head"]}))


def test_read_roster_chinese_headers():
    r = read_roster(
        pd.DataFrame(
            {"姓名": ["甲"], "岗位": ["专职网格员"], "电话": [13812345678], "小区": ["K1"]}
        )
    )
    assert r.loc[0, "role"] == "fulltime_worker"
    assert r.loc[0, "compound_id"] == "K1"
    assert r.loc[0, "capacity"] == 1
    assert r.loc[0, "row"] == 2


# ---------------------------------------------------------------------------------------------
# every role: part-time grid workers, building and stairwell heads (issue 20)
# ---------------------------------------------------------------------------------------------


def micro_plan():
    """roster_plan with two micro-grids per grid: G1 = M1 (west) + M2 (east), G2 = M3 + M4."""
    plan = roster_plan()
    plan.grids = plan.grids.drop(columns=["n_microgrids"])
    boxes = [
        (X0, Y0, X0 + 500, Y0 + 100),
        (X0 + 500, Y0, X0 + 1000, Y0 + 100),
        (X0, Y0 + 100, X0 + 500, Y0 + 200),
        (X0 + 500, Y0 + 100, X0 + 1000, Y0 + 200),
    ]
    from shapely.geometry import box

    plan.microgrids = gpd.GeoDataFrame(
        {"microgrid_code": ["M1", "M2", "M3", "M4"], "grid_code": ["G1", "G1", "G2", "G2"]},
        geometry=[box(*b) for b in boxes],
        crs=plan.grids.crs,
    )
    return plan


def test_roster_takes_parttime_workers_and_building_heads():
    # the largest headcount of a roster: rejected as "unknown role" before
    xs = [lonlat(X0 + 250, Y0 + 50), lonlat(X0 + 760, Y0 + 50), lonlat(X0 + 260, Y0 + 150)]
    roster = pd.DataFrame(
        {
            "姓名": ["钱一", "孙二", "周三", "吴四"],
            "岗位": ["兼职网格员", "楼栋长", "单元长", "兼职网格员"],
            "经度": [xs[0][0], xs[1][0], xs[2][0], None],
            "纬度": [xs[0][1], xs[1][1], xs[2][1], None],
            "unit_id": [None, None, None, "b2"],
        }
    )
    people = read_roster(roster)
    assert people["role"].tolist() == [
        "parttime_worker",
        "building_head",
        "unit_head",
        "parttime_worker",
    ]
    s = staffing_plan(micro_plan(), roster=roster)
    part = s.assignments[s.assignments["role"] == "parttime_worker"].set_index("microgrid_code")
    # each nearest its own micro-grid's centre; 吴四 lives in b2 (G2) and takes the G2 post left
    assert part["name"].to_dict() == {"M1": "钱一", "M2": "孙二", "M3": "周三", "M4": "吴四"}
    assert part.loc["M2", "person_role"] == "building_head"
    assert part.loc["M1", "distance_m"] == pytest.approx(0, abs=1)
    g = s.grids.set_index("grid_code")
    assert g["parttime_worker_filled"].tolist() == [2, 2]
    assert g["parttime_worker_gap"].tolist() == [0, 0]
    # grid heads and full-time posts are open: nobody on the roster holds those roles
    assert g["gap"].tolist() == [2, 2]
    zh = s.tables(language="zh")["人员安排"]
    assert set(zh["本人身份"]) == {"兼职网格员", "楼栋长", "单元长"}


def test_unknown_role_lists_every_role_accepted():
    roster = pd.DataFrame({"name": ["A"], "role": ["门卫"], "unit_id": ["b1"]})
    with pytest.raises(ValidationError) as err:
        read_roster(roster)
    text = str(err.value)
    assert "门卫" in text and "兼职网格员" in text and "楼栋长" in text and "单元长" in text


def test_a_person_with_capacity_serves_one_community():
    # 王五 (capacity 2) lives in G1 (C1), 51 m from G2's centre (C2); 赵六 lives outside both
    # grids, 271 m from G2's centre. Before, 王五 held both full-time posts and 赵六 none; a
    # community worker works in one community.
    wx, wy = lonlat(X0 + 500, Y0 + 99)
    zx, zy = lonlat(X0 + 500, Y0 + 421)
    roster = pd.DataFrame(
        {
            "name": ["王五", "赵六"],
            "role": ["fulltime_worker", "fulltime_worker"],
            "lon": [wx, zx],
            "lat": [wy, zy],
            "capacity": [2, 1],
        }
    )
    s = staffing_plan(roster_plan(), roster=roster)
    a = s.assignments.set_index("grid_code")["name"].to_dict()
    assert a == {"G1": "王五", "G2": "赵六"}
    assert s.unassigned.empty
    assert not (s.unfilled["role"] == "fulltime_worker").any()


def test_capacity_still_fills_several_posts_in_one_community():
    plan = roster_plan()
    plan.grids["community_id"] = ["C1", "C1"]
    roster = pd.DataFrame(
        {"name": ["王五"], "role": ["fulltime_worker"], "unit_id": ["b1"], "capacity": [2]}
    )
    s = staffing_plan(plan, roster=roster)
    assert s.assignments["name"].tolist() == ["王五", "王五"]


def test_max_distance_leaves_far_posts_open():
    from gridplan.config import StaffingRules

    # 李四 lives in G1 at its east end; G2's centre is 510 m away
    x, y = lonlat(X0 + 990, Y0 + 50)
    roster = pd.DataFrame(
        {"name": ["李四"], "role": ["grid_head"], "lon": [x], "lat": [y], "capacity": [2]}
    )
    plan = roster_plan()
    plan.grids["community_id"] = ["C1", "C1"]
    free = staffing_plan(plan, roster=roster)
    assert sorted(free.assignments["grid_code"]) == ["G1", "G2"]
    near = staffing_plan(plan, roster=roster, rules=StaffingRules(roster_max_distance_m=300))
    assert near.assignments["grid_code"].tolist() == ["G1"]
    heads = near.unfilled[near.unfilled["role"] == "grid_head"]
    assert heads["grid_code"].tolist() == ["G2"]
    assert "300 m" in heads["reason"].iloc[0]
