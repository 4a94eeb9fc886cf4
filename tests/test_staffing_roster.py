"""Rosters read and checked, and people assigned to posts (gridplan.staffing.roster, .assign)."""

from __future__ import annotations

import itertools

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
    # 王五 (capacity 2, lives in b1/G1) holds both full-time posts; 赵六 is C1-only: left over
    assert a.xs("fulltime_worker", level="role")["name"].tolist() == ["王五", "王五"]
    assert s.unassigned["name"].tolist() == ["赵六"]
    assert s.unfilled.empty
    g = s.grids.set_index("grid_code")
    assert g["grid_head_filled"].tolist() == [1, 1]
    assert g["gap"].tolist() == [0, 0]
    assert g.loc["G1", "grid_head_name"] == "张三"
    assert s.has_roster
    assert s.communities["gap"].sum() == 0


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
    assert c.loc["C2", "grid_head_gap"] == 1 and c.loc["C2", "gap"] == 2
    assert s.streets["gap"].sum() == 3
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
