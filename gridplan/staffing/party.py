"""Party organisation: branches per compound or grid, joint branches of adjacent small ones,
building party groups and party-member central households."""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from ..config import StaffingRules
from ..diagnostics import Diagnostic
from ..errors import describe_rows
from .inputs import PlanFrames

__all__ = ["community_party_level", "group_joint_branches", "org_unit_graph", "party_plan"]

#: the community's own party organisation, from the smallest
PARTY_LEVELS = ("branch", "general_branch", "committee", "big_committee")


def community_party_level(
    members: float, *, rules: StaffingRules, stationed: int = 0
) -> str | None:
    """The community's party organisation: ``big_committee`` (社区大党委) where at least
    ``rules.big_committee_from_stationed`` units are stationed in it (``stationed``: its
    dedicated grids, 驻区单位, which the big committee takes in), else by its members a
    ``branch`` (党支部), a ``general_branch`` (党总支, over ``rules.general_branch_over``
    members) or a ``committee`` (党委, from ``rules.party_committee_from``). None when the
    members are unknown and no unit is stationed there.

    Examples
    --------
    >>> r = StaffingRules()
    >>> [community_party_level(m, rules=r) for m in (12, 51, 100)]
    ['branch', 'general_branch', 'committee']
    >>> community_party_level(12, rules=r, stationed=2)
    'big_committee'
    """
    least = rules.big_committee_from_stationed
    if least > 0 and stationed >= least:
        return "big_committee"
    if members is None or (isinstance(members, float) and math.isnan(members)):
        return None
    if members >= rules.party_committee_from:
        return "committee"
    if members > rules.general_branch_over:
        return "general_branch"
    return "branch"


# ---------------------------------------------------------------------------------------------
# party organisation
# ---------------------------------------------------------------------------------------------


def org_unit_graph(geoms: gpd.GeoSeries, *, tolerance_m: float = 50.0) -> nx.Graph:
    """Neighbour graph of compounds/grids: an edge where two geometries touch or lie within
    ``tolerance_m`` (in the GeoSeries' units, metres in a projected CRS).

    Nodes are the index labels; missing or empty geometries become isolated nodes.
    """
    graph = nx.Graph()
    graph.add_nodes_from(geoms.index)
    arr = geoms.to_numpy()
    ok = ~shapely.is_missing(arr)
    ok[ok] = ~shapely.is_empty(arr[ok])
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return graph
    tree = shapely.STRtree(arr[idx])
    if tolerance_m > 0:
        i, j = tree.query(arr[idx], predicate="dwithin", distance=tolerance_m)
    else:
        i, j = tree.query(arr[idx], predicate="intersects")
    keep = i < j
    labels = geoms.index.to_numpy()
    graph.add_edges_from(
        zip(labels[idx[i[keep]]].tolist(), labels[idx[j[keep]]].tolist(), strict=True)
    )
    return graph


def group_joint_branches(
    graph: nx.Graph,
    members: Mapping[Hashable, float],
    *,
    min_members: int = 3,
    max_units: int = 5,
    attach: bool = True,
) -> list[list[Hashable]]:
    """Group compounds/grids into party branches.

    A node with ``members >= min_members`` is a branch of its own. The others are grouped
    into connected joint branches of at most ``max_units`` nodes that reach ``min_members``
    where possible:

    1. grow groups inside each connected set of small nodes, seeding at the periphery (the
       node with the fewest free small neighbours) so no node is stranded needlessly, and
       adding the neighbour that reaches the minimum with the least to spare, else the
       largest neighbour;
    2. merge adjacent groups that are both short when together they fit in ``max_units``;
    3. with ``attach``, join a group still short to the adjacent branch (own or joint) with
       room and the fewest members.

    Returns
    -------
    list of list
        Every node of ``graph`` in exactly one group; each group is connected in ``graph``.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.path_graph(["a", "b", "c", "d"])
    >>> group_joint_branches(g, {"a": 5, "b": 1, "c": 1, "d": 1})
    [['a'], ['b', 'c', 'd']]
    """
    m = {n: float(members[n]) for n in graph.nodes}
    key = {n: (str(type(n).__name__), str(n)) for n in graph.nodes}

    def order(n: Hashable) -> tuple[str, str]:
        return key[n]

    big = sorted((n for n in graph.nodes if m[n] >= min_members), key=order)
    small = sorted((n for n in graph.nodes if m[n] < min_members), key=order)
    sub = graph.subgraph(small)
    groups: list[list[Hashable]] = []
    free_deg = {n: sub.degree(n) for n in small}
    free = set(small)

    def take(n: Hashable) -> None:
        free.discard(n)
        for x in sub.neighbors(n):
            if x in free:
                free_deg[x] -= 1
                heapq.heappush(heap, (free_deg[x], order(x), x))

    # seeds in order of fewest free small neighbours (lazy heap: stale entries are skipped)
    heap = [(free_deg[n], order(n), n) for n in small]
    heapq.heapify(heap)
    while heap:
        d, _, seed = heapq.heappop(heap)
        if seed not in free or d != free_deg[seed]:
            continue
        group = [seed]
        take(seed)
        acc = m[seed]
        while acc < min_members and len(group) < max_units:
            cands = {x for n in group for x in sub.neighbors(n) if x in free}
            if not cands:
                break
            reach = [c for c in cands if acc + m[c] >= min_members]
            if reach:
                pick = min(reach, key=lambda c: (m[c], free_deg[c], order(c)))
            else:
                pick = min(cands, key=lambda c: (-m[c], free_deg[c], order(c)))
            group.append(pick)
            take(pick)
            acc += m[pick]
        groups.append(group)

    groups.extend([n] for n in big)
    # repairs below look groups up by node, so each step is local (no all-pairs scans)
    by_id: dict[int, list[Hashable]] = dict(enumerate(groups))
    group_of = {n: gid for gid, grp in by_id.items() for n in grp}
    total = {gid: sum(m[n] for n in grp) for gid, grp in by_id.items()}

    def first(gid: int) -> tuple[str, str]:
        return min(order(n) for n in by_id[gid])

    def neighbours(gid: int) -> set[int]:
        return {group_of[x] for n in by_id[gid] for x in graph.neighbors(n)} - {gid}

    def merge(src: int, dst: int) -> None:
        for n in by_id[src]:
            group_of[n] = dst
        by_id[dst] = by_id[dst] + by_id.pop(src)
        total[dst] += total.pop(src)

    def short_groups() -> list[int]:
        return sorted(
            (gid for gid in by_id if total[gid] < min_members),
            key=lambda gid: (total[gid], first(gid)),
        )

    # 2. short + short, when together they fit; prefer a partner that completes the branch
    changed = True
    while changed:
        changed = False
        for i in short_groups():
            if i not in by_id or total[i] >= min_members:
                continue
            options = [
                j
                for j in neighbours(i)
                if total[j] < min_members and len(by_id[j]) + len(by_id[i]) <= max_units
            ]
            if options:
                j = min(
                    options,
                    key=lambda j: (
                        total[i] + total[j] < min_members,
                        len(by_id[j]),
                        total[j],
                        first(j),
                    ),
                )
                merge(i, j)
                changed = True
    # 3. attach what is still short to the adjacent branch with room and the fewest members
    changed = attach
    while changed:
        changed = False
        for i in short_groups():
            options = [
                j
                for j in neighbours(i)
                if total[j] >= min_members and len(by_id[j]) + len(by_id[i]) <= max_units
            ]
            if options:
                j = min(options, key=lambda j: (total[j], len(by_id[j]), first(j)))
                merge(i, j)
                changed = True
    out = [sorted(grp, key=order) for grp in by_id.values()]
    out.sort(key=lambda grp: order(grp[0]))
    return out


@dataclass
class _OrgUnits:
    table: pd.DataFrame  # index org key; org_unit, org_kind, community_id, grid_codes, ...
    geoms: gpd.GeoSeries


def _org_units(
    frames: PlanFrames, rules: StaffingRules
) -> tuple[_OrgUnits | None, list[Diagnostic]]:
    """Compounds (or grids) with their party members, households and geometry."""
    diags: list[Diagnostic] = []
    g = frames.grids
    comm_of = dict(zip(g["grid_code"], g["community_id"], strict=True))
    u = frames.units
    if u is not None and u["party_members"].notna().any():
        u = u.copy()
        has_comp = u["compound_id"].notna().to_numpy()
        u["org_kind"] = np.where(has_comp, "compound", "grid")
        u["org_unit"] = np.where(has_comp, u["compound_id"], u["grid_code"])
        u["key"] = [f"{k}:{o}" for k, o in zip(u["org_kind"], u["org_unit"], strict=True)]
        u["community_id"] = u["grid_code"].map(comm_of)
        u["group_building"] = (u["party_members"] >= rules.party_group_min_members).astype(int)
        grouped = u.groupby("key", sort=True)
        # built-in aggregations only: a city has 10^5 units in 10^4 compounds
        t = grouped.agg(
            org_unit=("org_unit", "first"),
            org_kind=("org_kind", "first"),
            community_id=("community_id", "first"),
            households=("households", "sum"),
            n_buildings=("party_members", "size"),
            building_groups=("group_building", "sum"),
        )
        t["members"] = grouped["party_members"].sum(min_count=1)
        t["members_complete"] = u["party_members"].notna().groupby(u["key"]).all()
        pairs = u[["key", "grid_code"]].drop_duplicates().sort_values(["key", "grid_code"])
        t["grid_codes"] = pairs.groupby("key")["grid_code"].first()
        # most compounds lie in one grid: join codes only where there are several
        multi = pairs[pairs.duplicated("key", keep=False)]
        if len(multi):
            joined = multi.groupby("key")["grid_code"].agg(";".join)
            t.loc[joined.index, "grid_codes"] = joined
        # geometry: the compound's polygon if given; a grid without compounds is its polygon;
        # otherwise the union of the units'
        gpoly = dict(zip(g["grid_code"], g.geometry, strict=True))
        grids_with_compounds = set(u.loc[has_comp, "grid_code"])
        positions = grouped.indices
        unit_geoms = u.geometry.to_numpy()
        geoms = []
        for k, kind, org in zip(t.index, t["org_kind"], t["org_unit"], strict=True):
            geom = None
            if kind == "compound" and frames.compounds is not None:
                geom = frames.compounds.get(org)
            elif kind == "grid" and org not in grids_with_compounds:
                geom = gpoly.get(org)
            if geom is None or shapely.is_missing(geom) or shapely.is_empty(geom):
                own = unit_geoms[positions[k]]
                own = own[~shapely.is_missing(own)]
                geom = shapely.union_all(own) if len(own) else None
            geoms.append(geom)
        geo = gpd.GeoSeries(geoms, index=t.index, crs=frames.crs)
    elif g["party_members"].notna().any():
        t = pd.DataFrame(
            {
                "org_unit": g["grid_code"].to_numpy(dtype=object),
                "org_kind": "grid",
                "community_id": g["community_id"].to_numpy(dtype=object),
                "households": g["households"].to_numpy(),
                "members": g["party_members"].to_numpy(dtype=float),
                "members_complete": g["party_members"].notna().to_numpy(),
                "n_buildings": np.nan,
                "building_groups": np.nan,
                "grid_codes": g["grid_code"].to_numpy(dtype=object),
            },
            index=pd.Index([f"grid:{c}" for c in g["grid_code"]], dtype=object),
        )
        geo = gpd.GeoSeries(g.geometry.to_numpy(), index=t.index, crs=frames.crs)
        diags.append(
            Diagnostic(
                level="staffing",
                code="per_grid",
                severity="info",
                params={"topic": "party"},
                fix="staffing_members_per_unit",
            )
        )
    else:
        diags.append(
            Diagnostic(
                level="staffing",
                code="no_party_members",
                params={"topic": "party"},
                fix="staffing_add_party_members",
            )
        )
        return None, diags

    unknown = t["members"].isna() & (t["households"] > 0)
    if unknown.any():
        for comm, part in t[unknown].groupby("community_id"):
            ids = [str(i) for i in part["org_unit"]]
            diags.append(
                Diagnostic(
                    level="staffing",
                    code="members_unknown",
                    community_id=str(comm),
                    households=int(part["households"].sum()),
                    params={
                        "topic": "party",
                        "n_orgs": len(ids),
                        "org_units": ids,
                        "names": describe_rows(ids),
                    },
                    fix="staffing_fill_members",
                )
            )
    partial = t["members"].notna() & ~t["members_complete"].astype(bool)
    if partial.any():
        ids = [str(i) for i in t.loc[partial, "org_unit"]]
        diags.append(
            Diagnostic(
                level="staffing",
                code="members_partial",
                params={
                    "topic": "party",
                    "n_orgs": len(ids),
                    "org_units": ids,
                    "names": describe_rows(ids),
                },
                fix="staffing_fill_members",
            )
        )
    keep = t["members"].notna()
    return _OrgUnits(t[keep], geo[keep]), diags


def party_plan(
    frames: PlanFrames, rules: StaffingRules
) -> tuple[pd.DataFrame, pd.DataFrame, list[Diagnostic]]:
    """Branches (one row each), the compounds/grids with their branch, and what to look at."""
    org, diags = _org_units(frames, rules)
    branch_cols = [
        "branch_id",
        "community_id",
        "type",
        "org_kind",
        "org_units",
        "n_units",
        "grid_codes",
        "households",
        "members",
        "meets_min",
        "needs_committee",
        "should_split",
        "building_groups",
        "central_households",
        "central_households_needed",
    ]
    unit_cols = [
        "org_unit",
        "org_kind",
        "community_id",
        "grid_codes",
        "households",
        "members",
        "members_complete",
        "n_buildings",
        "building_groups",
        "branch_id",
    ]
    if org is None or org.table.empty:
        return pd.DataFrame(columns=branch_cols), pd.DataFrame(columns=unit_cols), diags
    t = org.table
    graph = org_unit_graph(org.geoms, tolerance_m=rules.adjacency_m) if frames.crs else nx.Graph()
    graph.add_nodes_from(t.index)
    comm = t["community_id"].to_dict()
    # branches sit under one community's party organisation: no joint branch across communities
    graph.remove_edges_from([(a, b) for a, b in graph.edges if comm[a] != comm[b]])
    groups = group_joint_branches(
        graph,
        t["members"].to_dict(),
        min_members=rules.branch_min_members,
        max_units=rules.joint_branch_max_units,
        attach=rules.attach_small_groups,
    )
    org_name = t["org_unit"].to_dict()
    groups.sort(key=lambda grp: (str(comm[grp[0]]), str(org_name[grp[0]])))
    mem = t["members"].to_dict()
    # a compound/grid with no party member that joined no branch has no party organisation
    # to list; groups still below the minimum are not branches (they are listed as short,
    # numbered apart, and never counted as branches)
    groups = [grp for grp in groups if len(grp) > 1 or mem[grp[0]] > 0]
    is_branch = [sum(mem[n] for n in grp) >= rules.branch_min_members for grp in groups]
    width = max(3, len(str(len(groups))))
    rows = []
    few: list[str] = []
    branch_of: dict[Hashable, str] = {}
    cols = ["org_unit", "org_kind", "members", "households", "grid_codes", "building_groups"]
    rec = t[cols].to_dict("index")
    n_branch = n_short = 0
    for grp, real in zip(groups, is_branch, strict=True):
        if real:
            n_branch += 1
            bid = f"B{n_branch:0{width}d}"
        else:
            n_short += 1
            bid = f"S{n_short:0{width}d}"
        part = [rec[n] for n in grp]
        for n in grp:
            branch_of[n] = bid
        members = float(sum(r["members"] for r in part))
        households = int(sum(r["households"] for r in part))
        kinds = sorted({r["org_kind"] for r in part})
        groups_known = [r["building_groups"] for r in part if not pd.isna(r["building_groups"])]
        need_central = math.ceil(households / rules.central_household_span) if households else 0
        central = min(need_central, int(members * rules.central_household_share))
        org_names = [str(r["org_unit"]) for r in part]
        if not real:
            kind = "short"
        else:
            kind = "single" if len(grp) == 1 else "joint"
        rows.append(
            {
                "branch_id": bid,
                "community_id": comm[grp[0]],
                "type": kind,
                "org_kind": kinds[0] if len(kinds) == 1 else "mixed",
                "org_units": ";".join(org_names),
                "n_units": len(grp),
                "grid_codes": ";".join(
                    sorted({c for r in part for c in str(r["grid_codes"]).split(";")})
                ),
                "households": households,
                "members": int(members) if members.is_integer() else members,
                "meets_min": members >= rules.branch_min_members,
                "needs_committee": members >= rules.committee_from,
                "should_split": members > rules.branch_split_over,
                "building_groups": int(sum(groups_known)) if groups_known else np.nan,
                "central_households": central,
                "central_households_needed": need_central,
            }
        )
        # a branch under the minimum or over the maximum, with what both cases report
        size_case = None
        if members < rules.branch_min_members:
            size_case = ("below_minimum", "staffing_join_branch")
            limits = {
                "min_members": rules.branch_min_members,
                "adjacency_m": f"{rules.adjacency_m:g}",
            }
        elif members > rules.branch_split_over:
            size_case = ("should_split", "staffing_split_branch")
            limits = {"max_members": rules.branch_split_over}
        if size_case is not None:
            diags.append(
                Diagnostic(
                    level="staffing",
                    code=size_case[0],
                    community_id=str(comm[grp[0]]),
                    households=households,
                    params={
                        "topic": "party",
                        "branch_id": bid,
                        "org_units": org_names,
                        "names": describe_rows(org_names),
                        "members": f"{members:g}",
                        **limits,
                    },
                    fix=size_case[1],
                )
            )
        if real and need_central > central:
            few.append(bid)
    if few:
        diags.append(
            Diagnostic(
                level="staffing",
                code="few_central_households",
                severity="info",
                params={
                    "topic": "party",
                    "n_branches": len(few),
                    "branch_ids": few,
                    "branches": describe_rows(few),
                    "span": rules.central_household_span,
                },
                fix="staffing_central_span",
            )
        )
    branches = pd.DataFrame(rows, columns=branch_cols)
    bids = pd.Series([branch_of.get(k) for k in t.index], index=t.index, dtype=object)
    units = t.assign(branch_id=bids)[unit_cols].reset_index(drop=True)
    units["members_complete"] = units["members_complete"].astype(bool)
    return branches, units, diags


#: columns of :attr:`gridplan.staffing.Staffing.party_communities`
PARTY_COMMUNITY_COLUMNS = [
    "community_id",
    "community_name",
    "street_id",
    "members",
    "party_level",
    "stationed_units",
    "formed_by_reform",
    "branches",
    "single_branches",
    "joint_branches",
    "short_groups",
    "compounds",
    "compounds_covered",
    "grids_covered",
    "building_groups",
    "central_households",
    "branches_with_committee",
    "branches_to_split",
]


#: community columns that are no count (the street table does not add them up)
_NOT_SUMMED = ("party_level", "formed_by_reform", "building_groups")


def party_rollup(
    branches: pd.DataFrame,
    party_units: pd.DataFrame,
    communities: pd.DataFrame,
    frames: PlanFrames,
    rules: StaffingRules,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Party organisation per community and per street, Xinzhou style (2,057 branches, 1,680
    of them single, cover 2,366 compounds with 5,851 building party groups): the community's
    own organisation (党支部/党总支/党委/大党委, :func:`community_party_level`), its branches
    single and joint, the compounds and grids they cover, building party groups and central
    households."""
    rows = []
    real = branches[branches["type"].isin(["single", "joint"])] if len(branches) else branches
    for c in communities.to_dict("records"):
        cid = c["community_id"]
        b = real[real["community_id"] == cid] if len(real) else real
        u = party_units[party_units["community_id"] == cid] if len(party_units) else party_units
        members = float(u["members"].sum()) if len(u) else np.nan
        in_branch = u[u["branch_id"].astype(str).str.startswith("B")] if len(u) else u
        formed = cid in frames.reformed
        # units stationed in the community (驻区单位): its dedicated grids
        stationed = int(c.get("dedicated_grids") or 0)
        groups = b["building_groups"].dropna() if len(b) else pd.Series(dtype=float)
        rows.append(
            {
                "community_id": cid,
                "community_name": c.get("community_name"),
                "street_id": c.get("street_id"),
                "members": members,
                "party_level": community_party_level(members, rules=rules, stationed=stationed),
                "stationed_units": stationed,
                "formed_by_reform": formed,
                "branches": len(b),
                "single_branches": int((b["type"] == "single").sum()) if len(b) else 0,
                "joint_branches": int((b["type"] == "joint").sum()) if len(b) else 0,
                "short_groups": int(
                    ((branches["community_id"] == cid) & (branches["type"] == "short")).sum()
                )
                if len(branches)
                else 0,
                "compounds": int((u["org_kind"] == "compound").sum()) if len(u) else 0,
                "compounds_covered": int((in_branch["org_kind"] == "compound").sum())
                if len(in_branch)
                else 0,
                "grids_covered": int((in_branch["org_kind"] == "grid").sum())
                if len(in_branch)
                else 0,
                "building_groups": float(groups.sum()) if len(groups) else np.nan,
                "central_households": int(b["central_households"].sum()) if len(b) else 0,
                "branches_with_committee": int(b["needs_committee"].sum()) if len(b) else 0,
                "branches_to_split": int(b["should_split"].sum()) if len(b) else 0,
            }
        )
    per_comm = pd.DataFrame(rows, columns=PARTY_COMMUNITY_COLUMNS)
    levels = {lvl: (per_comm["party_level"] == lvl) for lvl in PARTY_LEVELS}
    t = per_comm.assign(**{f"level_{k}": v.astype(np.int64) for k, v in levels.items()})
    sums = {
        "communities": ("community_id", "size"),
        **{f"level_{k}": (f"level_{k}", "sum") for k in PARTY_LEVELS},
        **{k: (k, "sum") for k in PARTY_COMMUNITY_COLUMNS[3:] if k not in _NOT_SUMMED},
    }
    per_street = t.groupby("street_id", sort=True, dropna=False).agg(**sums).reset_index()
    bg = t.groupby("street_id", sort=True, dropna=False)["building_groups"].sum(min_count=1)
    per_street["building_groups"] = per_street["street_id"].map(bg)
    per_street.insert(1, "street_name", per_street["street_id"].map(frames.street_names))
    return per_comm, per_street
