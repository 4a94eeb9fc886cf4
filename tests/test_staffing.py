"""Staffing and party organisation: post arithmetic, joint branches, roster assignment, export.

Plans here are small hand-built frames (a ``SimpleNamespace`` with ``grids``, ``microgrids``,
``units``, ``layers`` like :class:`gridplan.Plan`) in EPSG:32649 with 100 m squares, so every
expected number can be worked out by hand.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import networkx as nx
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box
from typer.testing import CliRunner

from gridplan.cli import app
from gridplan.errors import ValidationError
from gridplan.staffing import (
    Staffing,
    StaffingRules,
    assign_min_cost,
    community_workers_needed,
    group_joint_branches,
    mask_phone,
    org_unit_graph,
    read_roster,
    staffing_plan,
    staffing_rules_from_dict,
    staffing_rules_from_toml,
)

CRS = "EPSG:32649"
X0, Y0 = 500_000.0, 4_180_000.0


def square(col: int, row: int = 0, size: float = 100.0):
    return box(X0 + col * size, Y0 + row * size, X0 + (col + 1) * size, Y0 + (row + 1) * size)


def make_grids(
    households: list[int],
    *,
    communities: list[str] | None = None,
    kinds: list[str] | None = None,
    population: list[float] | None = None,
    n_microgrids: list[int] | None = None,
    streets: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Grids G1..Gn as a row of 100 m squares."""
    n = len(households)
    data: dict[str, object] = {
        "grid_code": [f"G{i + 1}" for i in range(n)],
        "community_id": communities or ["C1"] * n,
        "street_id": streets or ["S1"] * n,
        "kind": kinds or ["residential"] * n,
        "households": households,
    }
    if population is not None:
        data["population"] = population
    if n_microgrids is not None:
        data["n_microgrids"] = n_microgrids
    return gpd.GeoDataFrame(data, geometry=[square(i) for i in range(n)], crs=CRS)


def make_plan(grids, *, microgrids=None, units=None, layers=None) -> SimpleNamespace:
    return SimpleNamespace(grids=grids, microgrids=microgrids, units=units, layers=layers)


def lattice_compounds(members: list[float], *, nx_: int, community=None) -> SimpleNamespace:
    """One unit (building) per compound; compounds are 100 m squares on an ``nx_``-wide
    lattice, each its own grid, so compound adjacency is lattice adjacency."""
    n = len(members)
    geoms = [square(k % nx_, k // nx_) for k in range(n)]
    comm = community or ["C1"] * n
    grids = gpd.GeoDataFrame(
        {
            "grid_code": [f"G{k}" for k in range(n)],
            "community_id": comm,
            "kind": "residential",
            "households": 40,
            "n_microgrids": 1,
        },
        geometry=geoms,
        crs=CRS,
    )
    units = gpd.GeoDataFrame(
        {
            "unit_id": [f"u{k}" for k in range(n)],
            "grid_code": [f"G{k}" for k in range(n)],
            "compound_id": [f"c{k}" for k in range(n)],
            "households": 40,
            "population": np.nan,
            "party_members": members,
        },
        geometry=[g.centroid.buffer(30) for g in geoms],
        crs=CRS,
    ).set_index("unit_id")
    compounds = gpd.GeoDataFrame(
        {"compound_id": [f"c{k}" for k in range(n)]}, geometry=geoms, crs=CRS
    ).set_index("compound_id")
    return make_plan(grids, units=units, layers=SimpleNamespace(compounds=compounds))


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
# posts
# ---------------------------------------------------------------------------------------------


def test_posts_for_three_grids_with_2_5_0_microgrids():
    grids = make_grids([400, 450, 300])
    micro = pd.DataFrame({"microgrid_code": [f"M{i}" for i in range(7)]})
    micro["grid_code"] = ["G1", "G1", "G2", "G2", "G2", "G2", "G2"]
    s = staffing_plan(make_plan(grids, microgrids=micro))
    g = s.grids.set_index("grid_code")
    assert g["n_microgrids"].tolist() == [2, 5, 0]
    assert g["grid_head"].tolist() == [1, 1, 1]
    assert g["fulltime_worker"].tolist() == [1, 1, 1]
    assert g["parttime_workers"].tolist() == [2, 5, 0]
    assert g["dedicated_contact"].tolist() == [0, 0, 0]
    assert g["posts"].tolist() == [4, 7, 2]
    # the same from the grids' n_microgrids column, and with two part-timers per micro-grid
    s2 = staffing_plan(
        {"grids": make_grids([400, 450, 300], n_microgrids=[2, 5, 0])},
        rules=StaffingRules(parttime_workers_per_microgrid=2, grid_heads_per_grid=2),
    )
    assert s2.grids["parttime_workers"].tolist() == [4, 10, 0]
    assert s2.grids["posts"].tolist() == [2 + 1 + 4, 2 + 1 + 10, 2 + 1 + 0]


def test_dedicated_grids_get_a_contact_not_grid_workers():
    grids = make_grids([400, 0, 120], kinds=["residential", "dedicated", "dedicated"])
    grids["n_microgrids"] = [8, 0, 0]
    s = staffing_plan({"grids": grids})
    g = s.grids.set_index("grid_code")
    assert g.loc["G2", ["grid_head", "fulltime_worker", "dedicated_contact", "posts"]].tolist() == [
        0,
        0,
        1,
        1,
    ]
    # a dedicated grid with homes is pointed out
    d = s.diagnostics
    assert d.loc[d["code"] == "dedicated_with_households", "grid_code"].tolist() == ["G3"]
    s2 = staffing_plan({"grids": grids}, rules=StaffingRules(staff_dedicated_grids=True))
    assert s2.grids.set_index("grid_code").loc["G3", "grid_head"] == 1
    assert "dedicated_with_households" not in set(s2.diagnostics["code"])


@pytest.mark.parametrize(("per_10k", "expected"), [(18, 23), (25, 31)])
def test_community_workers_for_12345_residents(per_10k, expected):
    grids = make_grids([2000, 2400], population=[6000.0, 6345.0], n_microgrids=[1, 1])
    s = staffing_plan({"grids": grids}, rules=StaffingRules(community_workers_per_10k=per_10k))
    c = s.communities.iloc[0]
    assert c["residents"] == 12_345
    assert not c["residents_estimated"]
    assert c["community_workers"] == expected
    # posts: 2 heads + 2 full-time + 2 part-time + the community workers
    assert c["posts"] == 6 + expected


def test_community_workers_rounding():
    assert community_workers_needed(10_000, 18) == 18
    assert community_workers_needed(10_001, 18) == 19
    assert community_workers_needed(0, 18) == 0
    assert community_workers_needed(1, 25) == 1


def test_communities_and_streets_roll_up():
    grids = make_grids(
        [400, 400, 400, 0],
        communities=["C1", "C1", "C2", "C3"],
        streets=["S1", "S1", "S1", "S2"],
        kinds=["residential", "residential", "residential", "dedicated"],
        population=[1000.0, 1000.0, 5000.0, 0.0],
        n_microgrids=[9, 8, 10, 0],
    )
    s = staffing_plan({"grids": grids})
    c = s.communities.set_index("community_id")
    assert c["grids"].tolist() == [2, 1, 1]
    assert c["dedicated_grids"].tolist() == [0, 0, 1]
    assert c["community_workers"].tolist() == [4, 9, 0]  # ceil(2000*18/1e4), ceil(5000*18/1e4)
    assert c.loc["C1", "posts"] == 2 + 2 + 17 + 4
    st_ = s.streets.set_index("street_id")
    assert st_.loc["S1", "communities"] == 2
    assert st_.loc["S1", "community_workers"] == 13  # the sum of the communities' figures
    assert st_.loc["S2", "dedicated_contact"] == 1
    assert s.streets["posts"].sum() == s.communities["posts"].sum()


def test_community_with_more_grid_heads_than_workers_is_reported():
    grids = make_grids([400, 400], population=[500.0, 500.0], n_microgrids=[1, 1])
    s = staffing_plan({"grids": grids})
    assert s.communities.iloc[0]["community_workers"] == 2
    d = s.diagnostics
    assert (d["code"] == "grid_heads_beyond_workers").sum() == 0
    s = staffing_plan(
        {"grids": grids}, rules=StaffingRules(community_workers_per_10k=1, grid_heads_per_grid=2)
    )
    assert "grid_heads_beyond_workers" in set(s.diagnostics["code"])


def test_residents_estimated_where_population_missing():
    grids = make_grids([100, 200, 300], population=[250.0, np.nan, np.nan], n_microgrids=[2] * 3)
    s = staffing_plan({"grids": grids})
    g = s.grids.set_index("grid_code")
    assert g["residents"].tolist() == pytest.approx([250.0, 560.0, 840.0])
    assert g["residents_estimated"].tolist() == [False, True, True]
    assert s.communities.iloc[0]["residents_estimated"]
    d = s.diagnostics
    row = d[d["code"] == "residents_estimated"].iloc[0]
    codes = row["params"]["grid_codes"]
    assert "G2" in codes and "G3" in codes and "G1" not in codes
    s3 = staffing_plan({"grids": grids}, rules=StaffingRules(household_size=3.0))
    assert s3.grids["residents"].tolist() == pytest.approx([250.0, 600.0, 900.0])


def test_residents_from_units_count_known_and_estimate_the_rest():
    grids = make_grids([100, 60], population=[9999.0, 0.0], n_microgrids=[2, 1])
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["a", "b", "c", "d"],
            "grid_code": ["G1", "G1", "G1", "G2"],
            "households": [40, 30, 10, 20],
            "population": [100.0, np.nan, 25.0, 70.0],
            # c is split: 10 households here, 50 in G2 -> its population cannot be placed
            "n_parts": [1, 1, 2, 1],
        },
        geometry=[square(0).centroid, square(0).centroid, square(0).centroid, square(1).centroid],
        crs=CRS,
    )
    s = staffing_plan(make_plan(grids, units=units))
    g = s.grids.set_index("grid_code")
    # G1: a counted (100) + (100 - 40) households estimated at 2.8
    assert g.loc["G1", "residents"] == pytest.approx(100 + 60 * 2.8)
    # G2: d counted (70) + 40 households of the split unit estimated
    assert g.loc["G2", "residents"] == pytest.approx(70 + 40 * 2.8)
    assert g["residents_estimated"].tolist() == [True, True]
    units["population"] = [100.0, 90.0, np.nan, 70.0]
    units["n_parts"] = 1
    units["households"] = [40, 30, 30, 60]
    s = staffing_plan(make_plan(grids, units=units.assign(grid_code=["G1", "G1", "G1", "G2"])))
    g = s.grids.set_index("grid_code")
    assert g.loc["G2", "residents_estimated"] == np.False_
    # units without a population column: the grids' figures are used
    s = staffing_plan(make_plan(grids, units=units.drop(columns=["population"])))
    assert s.grids["residents"].tolist() == [9999.0, 0.0]


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
# party organisation
# ---------------------------------------------------------------------------------------------


def test_single_and_joint_branches_on_a_row_of_compounds():
    plan = lattice_compounds([5, 1, 1, 1, 0, 60], nx_=6)
    s = staffing_plan(plan)
    p = s.party.set_index("org_units")
    assert p.loc["c0", "type"] == "single"
    # c1..c3 reach 3 together; c4 (0) cannot reach 3 on its own, so it is attached to the
    # adjacent branch with room and the fewest members (the joint one, not c5's 60)
    assert p.loc["c1;c2;c3;c4", "type"] == "joint"
    assert p.loc["c1;c2;c3;c4", "members"] == 3
    assert p.loc["c1;c2;c3;c4", "n_units"] == 4
    big = p.loc["c5"]
    assert big["type"] == "single" and big["should_split"] and big["needs_committee"]
    assert not p.loc["c0", "needs_committee"]
    assert s.party["members"].sum() == 68
    assert set(s.party_units["org_unit"]) == {f"c{k}" for k in range(6)}
    assert s.party_units["org_kind"].eq("compound").all()
    assert "should_split" in set(s.diagnostics["code"])


def test_short_group_reported_when_not_attached():
    plan = lattice_compounds([1, 0, 9], nx_=3)
    s = staffing_plan(plan, rules=StaffingRules(attach_small_groups=False))
    p = s.party.set_index("org_units")
    assert p.loc["c0;c1", "members"] == 1
    assert not p.loc["c0;c1", "meets_min"]
    d = s.diagnostics
    assert d.loc[d["code"] == "below_minimum", "message"].str.contains("c0, c1").all()
    attached = staffing_plan(plan)
    assert attached.party["org_units"].tolist() == ["c0;c1;c2"]
    assert attached.party["meets_min"].all()


def test_isolated_small_compound_stays_alone_and_is_reported():
    plan = lattice_compounds([1, 5], nx_=2)
    plan.layers.compounds.geometry = [square(0), square(5)]  # 400 m apart
    plan.units.geometry = [square(0).centroid, square(5).centroid]
    s = staffing_plan(plan)
    assert sorted(s.party["org_units"]) == ["c0", "c1"]
    below = s.diagnostics[s.diagnostics["code"] == "below_minimum"]
    assert len(below) == 1 and "c0" in below.iloc[0]["message"]
    # a wider neighbour distance joins them
    s = staffing_plan(plan, rules=StaffingRules(adjacency_m=500))
    assert s.party["org_units"].tolist() == ["c0;c1"]


def test_joint_branches_never_cross_communities():
    plan = lattice_compounds([1, 1, 1, 1], nx_=4, community=["C1", "C1", "C2", "C2"])
    s = staffing_plan(plan)
    for row in s.party.itertuples():
        comms = {
            plan.grids.set_index("grid_code").loc[f"G{o[1:]}", "community_id"]
            for o in row.org_units.split(";")
        }
        assert len(comms) == 1


def test_unknown_party_members_are_reported_not_invented():
    plan = lattice_compounds([2, np.nan, 4, np.nan], nx_=4)
    s = staffing_plan(plan)
    assert set(s.party_units["org_unit"]) == {"c0", "c2"}
    assert s.party["members"].sum() == 6
    row = s.diagnostics[s.diagnostics["code"] == "members_unknown"].iloc[0]
    assert "c1" in row["message"] and "c3" in row["message"]


def test_compound_with_partly_unknown_members_is_a_lower_bound():
    plan = lattice_compounds([2, 2], nx_=2)
    units = plan.units.copy()
    extra = units.iloc[[0]].copy()
    extra.index = ["u9"]
    extra["party_members"] = np.nan
    plan.units = pd.concat([units, extra])
    s = staffing_plan(plan)
    u = s.party_units.set_index("org_unit")
    assert not u.loc["c0", "members_complete"] and u.loc["c1", "members_complete"]
    assert "members_partial" in set(s.diagnostics["code"])


def test_building_groups_and_central_households():
    plan = lattice_compounds([3, 2, 8], nx_=3)
    s = staffing_plan(plan, rules=StaffingRules(central_household_span=15))
    p = s.party.set_index("org_units")
    assert p.index.tolist() == ["c0;c1", "c2"]  # c1 (2 members) joins c0's branch
    assert p["building_groups"].tolist() == [1, 1]  # the buildings with 3 and 8 members
    # 40 households need ceil(40 / 15) = 3 central households; 80 need 6, but c0;c1 has only
    # 5 members, so every member's household is one (and the diagnostics say so)
    assert p["central_households"].tolist() == [5, 3]
    d = s.diagnostics
    few = d.loc[d["code"] == "few_central_households", "params"]
    assert [p["branch_ids"] for p in few] == [["B001"]]
    s = staffing_plan(plan, rules=StaffingRules(central_household_span=40))
    assert s.party["central_households"].tolist() == [2, 1]
    assert "few_central_households" not in set(s.diagnostics["code"])


def test_party_per_grid_when_only_grids_know_members():
    grids = make_grids([400, 400, 400, 400], n_microgrids=[8] * 4)
    grids["party_members"] = [1.0, 1.0, 12.0, np.nan]
    s = staffing_plan({"grids": grids})
    assert s.party["org_units"].tolist() == ["G1;G2;G3"] or s.party["org_units"].tolist() == [
        "G1;G2",
        "G3",
    ]
    assert s.party["org_kind"].eq("grid").all()
    assert {"per_grid", "members_unknown"} <= set(s.diagnostics["code"])


def test_no_party_members_anywhere():
    s = staffing_plan({"grids": make_grids([400])})
    assert s.party.empty and "branch_id" in s.party.columns
    assert "no_party_members" in set(s.diagnostics["code"])


def check_grouping(graph: nx.Graph, members: dict, groups: list, *, lo: int, hi: int, attach):
    seen = [n for grp in groups for n in grp]
    assert sorted(seen) == sorted(graph.nodes)  # each node exactly once
    assert sum(sum(members[n] for n in grp) for grp in groups) == sum(members.values())
    total = {i: sum(members[n] for n in grp) for i, grp in enumerate(groups)}

    def adjacent(a, b):
        return any(graph.has_edge(x, y) for x in groups[a] for y in groups[b])

    for grp in groups:
        assert nx.is_connected(graph.subgraph(grp))
        assert len(grp) <= hi
        if len(grp) == 1 and members[grp[0]] >= lo:
            continue
        # a group holding a big node holds only one, joined by small ones (attach policy)
        assert sum(members[n] >= lo for n in grp) <= (1 if attach else 0)
    for i, j in itertools.permutations(range(len(groups)), 2):
        if total[i] < lo and total[j] < lo and adjacent(i, j):
            # two short neighbours are only left apart when together they would not fit
            assert len(groups[i]) + len(groups[j]) > hi
        if attach and total[i] < lo and total[j] >= lo and adjacent(i, j):
            assert len(groups[i]) + len(groups[j]) > hi


@settings(max_examples=150, deadline=None)
@given(
    nx_=st.integers(1, 5),
    ny_=st.integers(1, 4),
    data=st.data(),
    hi=st.integers(2, 5),
    attach=st.booleans(),
)
def test_joint_branch_invariants(nx_, ny_, data, hi, attach):
    n = nx_ * ny_
    members = data.draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    graph = nx.grid_2d_graph(ny_, nx_)
    # drop a few edges so components and dead ends occur
    dropped = (
        data.draw(st.sets(st.sampled_from(sorted(graph.edges)), max_size=3))
        if len(graph.edges)
        else set()
    )
    graph.remove_edges_from(dropped)
    m = {node: members[node[0] * nx_ + node[1]] for node in graph.nodes}
    groups = group_joint_branches(graph, m, min_members=3, max_units=hi, attach=attach)
    check_grouping(graph, m, groups, lo=3, hi=hi, attach=attach)
    assert groups == group_joint_branches(graph, m, min_members=3, max_units=hi, attach=attach)


def test_joint_branch_invariants_through_staffing_plan():
    rng = np.random.default_rng(7)
    members = rng.integers(0, 4, 24).astype(float).tolist()
    plan = lattice_compounds(members, nx_=6)
    s = staffing_plan(plan)
    geoms = plan.layers.compounds.geometry
    graph = org_unit_graph(geoms, tolerance_m=50.0)
    groups = [row.split(";") for row in s.party["org_units"]]
    m = dict(zip([f"c{k}" for k in range(24)], members, strict=True))
    check_grouping(graph, m, groups, lo=3, hi=5, attach=True)
    assert s.party["n_units"].max() <= 5
    assert s.party["members"].sum() == sum(members)
    # every compound below 3 is in exactly one branch
    small = {c for c, v in m.items() if v < 3}
    assert small <= set(s.party_units["org_unit"])
    assert s.party_units["org_unit"].is_unique


def test_org_unit_graph_touching_and_distance():
    geoms = gpd.GeoSeries([square(0), square(1), square(3)], index=["a", "b", "c"], crs=CRS)
    g0 = org_unit_graph(geoms, tolerance_m=0)
    assert set(g0.edges) == {("a", "b")}
    g = org_unit_graph(geoms, tolerance_m=100)
    assert set(map(frozenset, g.edges)) == {frozenset("ab"), frozenset("bc")}


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


def roster_plan() -> SimpleNamespace:
    """Two residential grids G1 (0-1000 m wide strip) and G2 above it, with units."""
    g1 = box(X0, Y0, X0 + 1000, Y0 + 100)
    g2 = box(X0, Y0 + 100, X0 + 1000, Y0 + 200)
    grids = gpd.GeoDataFrame(
        {
            "grid_code": ["G1", "G2"],
            "community_id": ["C1", "C2"],
            "kind": "residential",
            "households": [400, 400],
            "n_microgrids": [8, 8],
        },
        geometry=[g1, g2],
        crs=CRS,
    )
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["b1", "b2"],
            "grid_code": ["G1", "G2"],
            "compound_id": ["K1", "K2"],
            "households": [400, 400],
            "party_members": [3.0, 4.0],
        },
        geometry=[Point(X0 + 10, Y0 + 50), Point(X0 + 500, Y0 + 150)],
        crs=CRS,
    )
    return make_plan(grids, units=units)


def lonlat(x: float, y: float) -> tuple[float, float]:
    pt = gpd.GeoSeries([Point(x, y)], crs=CRS).to_crs(4326).iloc[0]
    return pt.x, pt.y


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
        "网格",
        "社区",
        "街道",
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
    assert wb.sheetnames[0] == "Grids" and "Party branches" in wb.sheetnames
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
    res = runner.invoke(app, ["staff", str(path), "--lang", "en", "--out", str(out)])
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
