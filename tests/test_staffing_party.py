"""Party branches, joint branches and central households (gridplan.staffing.party)."""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from staffing_data import CRS, lattice_compounds, make_grids, square

from gridplan.staffing import (
    StaffingRules,
    group_joint_branches,
    org_unit_graph,
    staffing_plan,
)

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


def test_groups_below_the_minimum_are_not_branches():
    # c0;c1 have 1 member together and may not attach: not a single branch, not counted
    plan = lattice_compounds([1, 0, 9], nx_=3)
    s = staffing_plan(plan, rules=StaffingRules(attach_small_groups=False))
    p = s.party.set_index("org_units")
    assert p.loc["c0;c1", "type"] == "short" and p.loc["c0;c1", "branch_id"] == "S001"
    assert p.loc["c2", "type"] == "single" and p.loc["c2", "branch_id"] == "B001"
    assert s.tables(language="zh")["党组织"]["类型"].tolist() == [
        "党员人数不足(未成支部)",
        "单独党支部",
    ]
    # a compound with no party member and no neighbour has no party organisation to list
    plan = lattice_compounds([0, 5], nx_=2)
    plan.layers.compounds.geometry = [square(0), square(5)]  # 400 m apart
    plan.units.geometry = [square(0).centroid, square(5).centroid]
    s = staffing_plan(plan)
    assert s.party["org_units"].tolist() == ["c1"]
    assert s.party["type"].tolist() == ["single"]
    u = s.party_units.set_index("org_unit")
    assert pd.isna(u.loc["c0", "branch_id"]) and u.loc["c1", "branch_id"] == "B001"


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
    # 5 members, of whom half (2) keep one: not every member (the old figure was 5, always
    # the member count); the diagnostics say so, as information
    assert p["central_households"].tolist() == [2, 3]
    assert p["central_households_needed"].tolist() == [6, 3]
    assert (p["central_households"] < p["members"]).all()
    d = s.diagnostics
    few = d.loc[d["code"] == "few_central_households"]
    assert [p["branch_ids"] for p in few["params"]] == [["B001"]]
    assert few["severity"].tolist() == ["info"]
    every = staffing_plan(
        plan, rules=StaffingRules(central_household_span=15, central_household_share=1.0)
    )
    assert every.party["central_households"].tolist() == [5, 3]
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
