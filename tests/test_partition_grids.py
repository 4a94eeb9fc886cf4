"""``partition_grids`` end to end: synthetic lattices (EPSG:32649) for each rule, then the
bundled real data (Queenstown with its road barriers, Camden census areas).

Every plan is checked for the same invariants: households conserved (grids, parts and units
agree), every unit in exactly one grid, grids that do not overlap and that tile their community.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import LATTICE_CELL_M, LATTICE_ORIGIN, overlap_area
from geopandas.testing import assert_geodataframe_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.sparse import csgraph
from shapely.geometry import LineString, box

from gridplan.config import GridRules
from gridplan.diagnostics import COLUMNS, render_frame
from gridplan.graph import cell_edges
from gridplan.partition.grids import partition_grids

X0, Y0 = LATTICE_ORIGIN
CELL = LATTICE_CELL_M


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def english(result) -> pd.DataFrame:
    """The result's diagnostics with messages and fixes in English (Python keywords)."""
    return render_frame(result.diagnostics, lang="en")


def community_of(units: gpd.GeoDataFrame, community_id: str = "C1") -> gpd.GeoDataFrame:
    """One community polygon: the lattice's bounding box."""
    return gpd.GeoDataFrame(
        {"community_id": [community_id], "name": [f"community {community_id}"]},
        geometry=[box(*units.total_bounds)],
        crs=units.crs,
    )


def road(x: float, *, name: str = "Ring Road", y_from: float = -50, y_to: float = 1050):
    return gpd.GeoDataFrame(
        {"barrier_id": ["b1"], "name": [name], "barrier_class": ["major_road"]},
        geometry=[LineString([(X0 + x, Y0 + y_from), (X0 + x, Y0 + y_to)])],
        crs="EPSG:32649",
    )


def members(result) -> dict[str, set[str]]:
    """grid_id -> unit ids with a part in that grid (dedicated grids via units.grid_id)."""
    out: dict[str, set[str]] = {}
    for gid, uid in zip(result.parts["grid_id"], result.parts["unit_id"], strict=True):
        out.setdefault(gid, set()).add(str(uid))
    dedicated = set(result.grids.loc[result.grids["kind"] == "dedicated", "grid_id"])
    for uid, gid in result.units["grid_id"].items():
        if gid in dedicated:
            out.setdefault(gid, set()).add(str(uid))
    return out


def check_plan(result, units_in: gpd.GeoDataFrame) -> None:
    """Invariants every plan must meet."""
    grids, parts, units = result.grids, result.parts, result.units
    total = int(units_in["households"].sum())
    # households conserved across grids, parts (residential) and units
    assert int(grids["households"].sum()) == total
    assert grids["grid_id"].is_unique
    assert grids["grid_id"].str.fullmatch(r"G\d{5}").all()
    # every input unit exactly once, with a grid that exists
    assert sorted(units.index.astype(str)) == sorted(units_in["unit_id"].astype(str))
    assert units.index.is_unique
    assert units["grid_id"].notna().all()
    assert set(units["grid_id"]) <= set(grids["grid_id"])
    # parts of a unit add up to the unit; the unit is listed under a grid holding one of its parts
    per_unit = parts.groupby("unit_id")["households"].sum()
    hh = units_in.set_index("unit_id")["households"]
    residential_units = per_unit.index
    pd.testing.assert_series_equal(
        per_unit.sort_index(), hh.loc[residential_units].sort_index(), check_names=False
    )
    assert (units.loc[residential_units, "n_parts"] == parts.groupby("unit_id").size()).all()
    for uid, gid in units.loc[residential_units, "grid_id"].items():
        assert gid in set(parts.loc[parts["unit_id"] == uid, "grid_id"])
    # a residential grid holds exactly the households of its parts
    res = grids[grids["kind"] == "residential"].set_index("grid_id")
    from_parts = parts.groupby("grid_id")["households"].sum()
    pd.testing.assert_series_equal(
        res["households"].sort_index(), from_parts.sort_index(), check_names=False
    )
    # a dedicated grid holds exactly the households of the units listed under it
    ded = grids[grids["kind"] == "dedicated"].set_index("grid_id")
    for gid, row in ded.iterrows():
        assert (
            row["households"]
            == units_in.set_index("unit_id")
            .loc[units.index[units["grid_id"] == gid].astype(str), "households"]
            .sum()
        )
    # in_band is the band check on households
    assert list(result.diagnostics.columns) == list(COLUMNS)


def check_tiling(result, community_area) -> None:
    geoms = result.grids.geometry.to_numpy()
    area = community_area.area
    assert overlap_area(geoms) <= 1e-6 * area
    union = shapely.union_all(geoms)
    assert shapely.symmetric_difference(union, community_area).area <= 1e-6 * area
    assert shapely.area(geoms).sum() == pytest.approx(area, rel=1e-6)


def check_contiguous(result, *, skip: set[str] = frozenset()) -> None:
    """Each grid's parts form one connected piece of the cell graph."""
    parts = result.parts.reset_index(drop=True)
    cells = parts.geometry.to_numpy()
    xy = shapely.get_coordinates(shapely.point_on_surface(cells))
    e = cell_edges(cells, xy)
    for gid, idx in parts.groupby("grid_id").indices.items():
        if gid in skip or len(idx) == 1:
            continue
        loc = np.full(len(parts), -1)
        loc[idx] = np.arange(len(idx))
        keep = (loc[e.i] >= 0) & (loc[e.j] >= 0)
        m = sparse.coo_array(
            (np.ones(int(keep.sum())), (loc[e.i[keep]], loc[e.j[keep]])), shape=(len(idx),) * 2
        )
        n_comp, _ = csgraph.connected_components(m, directed=False)
        assert n_comp == 1, f"grid {gid} falls into {n_comp} pieces"


def check_in_band_or_reported(result, rules: GridRules) -> None:
    grids = result.grids
    res = grids[grids["kind"] == "residential"]
    band = res["households"].between(rules.min_households, rules.max_households)
    np.testing.assert_array_equal(res["in_band"].to_numpy(), band.to_numpy())
    # at this stage grids have no codes: records name them by grid_id
    reported = set(result.diagnostics["grid_code"].dropna())
    unreported = set(res.loc[~band, "grid_id"]) - reported
    assert not unreported, f"out-of-band grids without a diagnostics row: {sorted(unreported)}"
    d = result.diagnostics
    assert d["message"].astype(str).str.strip().str.len().gt(0).all()
    assert d["fix"].astype(str).str.strip().str.len().gt(0).all()


# ---------------------------------------------------------------------------------------------
# lattices
# ---------------------------------------------------------------------------------------------


def test_polygon_lattice_conserves_households_and_tiles(lattice_units):
    units = lattice_units(6, 5, households=lambda r, c: 30 + 7 * ((r * 5 + c) % 4))
    comm = community_of(units)
    result = partition_grids(units, communities=comm)
    check_plan(result, units)
    check_tiling(result, comm.geometry.iloc[0])
    check_contiguous(result)
    check_in_band_or_reported(result, GridRules())
    assert result.grids["in_band"].all()
    assert result.diagnostics.empty
    assert (result.grids["community_id"] == "C1").all()


def test_point_lattice_conserves_households_and_tiles(lattice_units):
    units = lattice_units(7, 5)
    units = units.set_geometry(units.geometry.centroid)
    comm = community_of(lattice_units(7, 5))
    result = partition_grids(units, communities=comm)
    check_plan(result, units)
    check_tiling(result, comm.geometry.iloc[0])
    check_contiguous(result)
    assert result.grids["in_band"].all()


def test_points_without_a_community_layer_are_all_assigned(lattice_units):
    units = lattice_units(6, 4)
    units = units.set_geometry(units.geometry.centroid)
    result = partition_grids(units)
    check_plan(result, units)
    check_contiguous(result)
    assert overlap_area(result.grids.geometry.to_numpy()) <= 1e-6 * 600 * 400


def test_barrier_that_cuts_the_community_is_never_crossed(lattice_units):
    # 8 x 4 lattice of 40s, a road between columns 3 and 4: 640 households on each side,
    # each side can be split into in-band grids on its own
    units = lattice_units(8, 4)
    comm = community_of(units)
    result = partition_grids(units, communities=comm, barriers=road(4 * CELL))
    check_plan(result, units)
    check_tiling(result, comm.geometry.iloc[0])
    col = units.set_index("unit_id")["col"]
    for gid, ids in members(result).items():
        sides = {bool(col[u] >= 4) for u in ids}
        assert len(sides) == 1, f"grid {gid} has units on both sides of the road"
    assert not result.grids["crosses_barrier"].any()
    assert not result.diagnostics["code"].str.startswith("barrier_crossing").any()
    assert result.grids["in_band"].all()


def test_infeasible_sliver_is_joined_across_the_barrier_and_reported(lattice_units):
    # a road cuts off column 0, five units of 20 = 100 households: too few for a grid, so the
    # sliver joins the rest across the road and the crossing is reported
    units = lattice_units(7, 5, households=lambda r, c: 20 if c == 0 else 40)
    comm = community_of(units)
    result = partition_grids(units, communities=comm, barriers=road(1 * CELL))
    check_plan(result, units)
    check_tiling(result, comm.geometry.iloc[0])
    sliver = set(units.loc[units["col"] == 0, "unit_id"])
    holding = {gid for gid, ids in members(result).items() if ids & sliver}
    assert len(holding) == 1, "the sliver is kept together"
    (gid,) = holding
    grid = result.grids.set_index("grid_id").loc[gid]
    assert grid["crosses_barrier"]
    assert members(result)[gid] - sliver, "the sliver is joined to units across the road"
    d = english(result)
    crossing = d[d["code"] == "barrier_crossing"]
    assert gid in set(crossing["grid_code"])
    row = crossing[crossing["grid_code"] == gid].iloc[0]
    assert "Ring Road" in row["message"]
    assert row["fix"]
    # only that grid crosses
    assert result.grids["crosses_barrier"].sum() == 1
    assert result.grids["in_band"].all()


def test_grid_across_a_dead_end_road_says_why(lattice_units):
    # 4 x 2 lattice of 50s (400 households: one grid) and a road from the top edge that ends
    # between the two rows: both sides stay one piece, the grid straddles the road, and the
    # report says the road ends inside the piece (not that the piece was infeasible)
    units = lattice_units(4, 2, households=50)
    result = partition_grids(
        units, communities=community_of(units), barriers=road(2 * CELL, y_from=CELL)
    )
    check_plan(result, units)
    assert result.grids["crosses_barrier"].tolist() == [True]
    d = english(result)
    (row,) = d.loc[d["code"] == "barrier_crossing_dead_end"].itertuples()
    assert "Ring Road" in row.message
    assert "ends inside its piece" in row.message
    assert "could not be made feasible" not in row.message


def test_infeasible_community_is_reported_with_a_fix(lattice_units):
    # 11 units of 50 = 550 households: one grid is too big, two are too small
    units = lattice_units(11, 1, households=50)
    result = partition_grids(units, communities=community_of(units))
    check_plan(result, units)
    d = english(result)
    infeasible = d[d["code"] == "infeasible_piece"]
    assert len(infeasible) >= 1
    row = infeasible.iloc[0]
    assert "min_households" in row["fix"]
    assert "max_households" in row["fix"]
    # by hand: two grids need the floor lowered to 275, one grid the ceiling raised to 550
    assert "275" in row["fix"]
    assert "550" in row["fix"]
    assert "550" in row["message"]
    assert row["community_id"] == "C1"
    out = result.grids.loc[~result.grids["in_band"], "grid_id"]
    assert set(out) <= set(infeasible["grid_code"])


def test_unit_above_the_ceiling_is_split_and_reported(lattice_units):
    big = "u7"  # row 1, col 2
    units = lattice_units(5, 4, households=lambda r, c: 1200 if (r, c) == (1, 2) else 40)
    comm = community_of(units)
    result = partition_grids(units, communities=comm)
    check_plan(result, units)
    check_tiling(result, comm.geometry.iloc[0])
    parts = result.parts[result.parts["unit_id"] == big]
    assert len(parts) == 3  # ceil(1200 / 500)
    assert sorted(parts["households"]) == [400, 400, 400]
    assert sorted(parts["part"]) == [0, 1, 2]
    assert result.units.loc[big, "n_parts"] == 3
    # the parts' cells tile the unit's cell: together they cover the big unit's square
    square = units.set_index("unit_id").geometry[big]
    assert shapely.union_all(parts.geometry.to_numpy()).area == pytest.approx(square.area, rel=1e-6)
    split = english(result)
    split = split[split["code"] == "unit_split"]
    assert list(split["unit_ids"]) == [(big,)]
    assert int(split["households"].iloc[0]) == 1200
    # the message names the grid of every part (by grid_id at this stage)
    part_grids = sorted(set(parts["grid_id"]))
    assert split["params"].iloc[0]["grids"] == ", ".join(
        dict.fromkeys(parts.sort_values("part")["grid_id"])
    )
    assert all(g in split["message"].iloc[0] for g in part_grids)
    assert result.grids["in_band"].all()


def test_gated_compound_in_band_forms_exactly_one_grid(lattice_units):
    units = lattice_units(6, 5)
    inside = units["col"] >= 4  # 10 units of 40 = 400 households
    units["compound_id"] = np.where(inside, "K1", None)
    units["gated"] = inside
    comm = community_of(units)
    result = partition_grids(units, communities=comm)
    check_plan(result, units)
    check_tiling(result, comm.geometry.iloc[0])
    compound = set(units.loc[inside, "unit_id"])
    holding = [gid for gid, ids in members(result).items() if ids & compound]
    assert len(holding) == 1
    assert members(result)[holding[0]] == compound
    assert result.grids.set_index("grid_id").loc[holding[0], "name"] == "K1"


def test_large_gated_compound_forms_its_own_in_band_grids(lattice_units):
    units = lattice_units(10, 5)
    inside = units["col"] < 6  # 30 units of 40 = 1,200 households: three grids
    units["compound_id"] = np.where(inside, "K1", None)
    units["gated"] = inside
    comm = community_of(units)
    result = partition_grids(units, communities=comm)
    check_plan(result, units)
    check_tiling(result, comm.geometry.iloc[0])
    compound = set(units.loc[inside, "unit_id"])
    holding = [gid for gid, ids in members(result).items() if ids & compound]
    assert len(holding) == 3
    grids = result.grids.set_index("grid_id")
    for gid in holding:
        assert members(result)[gid] <= compound, f"grid {gid} mixes in outside units"
        assert 300 <= grids.loc[gid, "households"] <= 500
        assert grids.loc[gid, "in_band"]
    assert set().union(*(members(result)[g] for g in holding)) == compound


def test_dedicated_area_takes_the_units_inside(lattice_units):
    units = lattice_units(6, 5)
    school = box(X0, Y0, X0 + 2 * CELL, Y0 + 2 * CELL)  # the 2 x 2 corner
    dedicated = gpd.GeoDataFrame(
        {"dedicated_id": ["d1"], "name": ["No. 5 School"], "category": ["school"]},
        geometry=[school],
        crs=units.crs,
    )
    comm = community_of(units)
    result = partition_grids(units, communities=comm, dedicated=dedicated)
    check_plan(result, units)
    check_tiling(result, comm.geometry.iloc[0])
    grids = result.grids
    ded = grids[grids["kind"] == "dedicated"]
    assert len(ded) == 1
    gid = ded["grid_id"].iloc[0]
    inside = set(units.loc[(units["row"] < 2) & (units["col"] < 2), "unit_id"])
    assert members(result)[gid] == inside
    assert int(ded["households"].iloc[0]) == 160
    assert ded["category"].iloc[0] == "school"
    assert not set(result.parts["unit_id"]) & inside, "dedicated units are not residential"
    res = grids[grids["kind"] == "residential"].geometry.to_numpy()
    assert shapely.area(shapely.intersection(res, school)).max() <= 1e-6
    assert result.grids.loc[grids["kind"] == "residential", "in_band"].all()


def test_same_seed_same_plan(lattice_units):
    units = lattice_units(8, 6, households=lambda r, c: 25 + (r * 7 + c * 3) % 30)
    comm = community_of(units)
    bars = road(4 * CELL)
    a = partition_grids(units, communities=comm, barriers=bars, seed=5)
    b = partition_grids(units, communities=comm, barriers=bars, seed=5)
    assert_geodataframe_equal(a.grids, b.grids)
    assert_geodataframe_equal(a.parts, b.parts)
    pd.testing.assert_series_equal(a.units["grid_id"], b.units["grid_id"])
    pd.testing.assert_frame_equal(a.diagnostics, b.diagnostics)
    # the input frame is not mutated along the way
    assert "grid_id" not in units.columns


@settings(
    max_examples=12,  # a plan costs ~0.3 s; a dozen lock patterns keep the file fast
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # stateless factory fixture
)
@given(
    locks=st.dictionaries(
        st.integers(0, 29).map(lambda k: f"u{k}"),
        st.sampled_from(["A", "B", "C"]),
        min_size=1,
        max_size=6,
    )
)
def test_locked_units_keep_their_grid_exactly(lattice_units, locks):
    units = lattice_units(6, 5)
    result = partition_grids(units, communities=community_of(units), locks=locks)
    check_plan(result, units)
    grids = result.grids.set_index("grid_id")
    by_grid = members(result)
    for label in set(locks.values()):
        want = {u for u, lab in locks.items() if lab == label}
        holding = {result.units.loc[u, "grid_id"] for u in want}
        assert len(holding) == 1, f"lock {label} is spread over {holding}"
        (gid,) = holding
        assert by_grid[gid] == want, f"lock {label}: grid {gid} holds {by_grid[gid]}"
        assert grids.loc[gid, "locked"]
        assert grids.loc[gid, "name"] == label
    unlocked = grids.index[~grids["locked"]]
    for gid in unlocked:
        assert not by_grid[gid] & set(locks)


def test_unknown_locked_unit_is_an_error(lattice_units):
    from gridplan.errors import ValidationError

    units = lattice_units(3, 3)
    with pytest.raises(ValidationError, match="u99"):
        partition_grids(units, locks={"u99": "A"})


def test_out_of_band_locked_grid_is_reported(lattice_units):
    units = lattice_units(6, 5)
    result = partition_grids(units, communities=community_of(units), locks={"u0": "A", "u1": "A"})
    check_plan(result, units)
    check_in_band_or_reported(result, GridRules())
    gid = result.units.loc["u0", "grid_id"]
    assert members(result)[gid] == {"u0", "u1"}, "kept exactly as locked"
    row = result.diagnostics[result.diagnostics["grid_code"] == gid].iloc[0]
    assert row["code"] == "locked_out_of_band"
    assert int(row["households"]) == 80


def test_thousand_households_in_small_units_are_planned_in_band(lattice_units):
    # 125 units of 8: two grids would need exactly 500 each (impossible with 8s), three fit
    units = lattice_units(25, 5, households=8)
    comm = community_of(units)
    result = partition_grids(units, communities=comm)
    check_plan(result, units)
    check_tiling(result, comm.geometry.iloc[0])
    check_contiguous(result)
    assert result.grids["in_band"].all(), result.grids[["households", "in_band"]]
    assert result.diagnostics.empty


# ---------------------------------------------------------------------------------------------
# real data
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "layers"),
    [
        ("singapore_queenstown.gpkg", ("units", "communities", "barriers")),
        ("camden_sample.gpkg", ("units", "communities")),
    ],
)
def test_real_data_end_to_end(data_dir, name, layers):
    frames = {layer: gpd.read_file(data_dir / name, layer=layer) for layer in layers}
    units = frames["units"]
    rules = GridRules()
    result = partition_grids(
        units, communities=frames["communities"], barriers=frames.get("barriers"), rules=rules
    )
    check_plan(result, units)
    check_contiguous(result)
    check_in_band_or_reported(result, rules)
    res = result.grids[result.grids["kind"] == "residential"]
    assert res["in_band"].mean() > 0.9
    geoms = result.grids.geometry.to_numpy()
    assert overlap_area(geoms) <= 1e-6 * shapely.area(geoms).sum()


def test_locks_read_ids_like_the_units(lattice_units):
    """Locks from a spreadsheet (unit 3.0, label 7.0) name unit "3" and grid label "7"."""
    units = lattice_units(6, 5)
    units["unit_id"] = range(len(units))
    result = partition_grids(units, communities=community_of(units), locks={3.0: 7.0, "4": 7})
    assert result.units.loc["3", "grid_id"] == result.units.loc["4", "grid_id"]
    gid = result.units.loc["3", "grid_id"]
    assert result.grids.set_index("grid_id").loc[gid, "name"] == "7"
