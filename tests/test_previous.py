"""Re-planning from a previous plan (issue 16): valid grids and their codes are kept."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from living_data import changed_queenstown

import gridplan
from gridplan.graph import from_edges
from gridplan.partition.continuity import kept_grids, moved_households, split_near_previous
from gridplan.partition.core import split_piece
from gridplan.previous import previous_locks, read_previous

SRC = "data/singapore_queenstown.gpkg"


@pytest.fixture(scope="module")
def layers():
    return {
        "units": gpd.read_file(SRC, layer="units"),
        "communities": gpd.read_file(SRC, layer="communities"),
        "barriers": gpd.read_file(SRC, layer="barriers"),
    }


@pytest.fixture(scope="module")
def first(layers):
    return gridplan.plan(
        layers["units"], communities=layers["communities"], barriers=layers["barriers"]
    )


def test_unchanged_data_with_itself_as_previous_gives_the_same_plan(layers, first, tmp_path):
    path = tmp_path / "old.gpkg"
    first.grids.to_file(path, layer="grids")
    again = gridplan.plan(
        layers["units"],
        communities=layers["communities"],
        barriers=layers["barriers"],
        previous=path,
    )
    assert again.grids["grid_code"].tolist() == first.grids["grid_code"].tolist()
    assert again.units["grid_code"].tolist() == first.units["grid_code"].tolist()
    assert (
        again.microgrids["microgrid_code"].tolist() == first.microgrids["microgrid_code"].tolist()
    )
    assert not again.grids["locked"].any()
    assert "previous_replanned" not in set(again.diagnostics["code"])


def test_equivalency_table_maps_units_and_in_band_grids_become_locks(layers, first, tmp_path):
    table = pd.DataFrame({"unit_id": first.units.index, "grid_code": first.units["grid_code"]})
    path = tmp_path / "old.csv"
    table.to_csv(path, index=False)
    old = read_previous(path, first.units)
    assert old.grid == dict(
        zip(first.units.index.astype(str), first.units["grid_code"], strict=True)
    )
    locks = previous_locks(old, first.units["households"], min_households=300, max_households=500)
    in_band = set(first.grids.loc[first.grids["in_band"], "grid_code"])
    assert set(locks.values()) == in_band & set(locks.values())
    assert set(locks.values()) == in_band & set(first.units["grid_code"])


def test_retired_codes_are_never_reused_and_new_grids_take_free_numbers(layers, first):
    # retire one community's grids from the old plan by dropping their units, then re-plan:
    # the grids that stay keep codes; dropped codes never come back for other grids
    g = first.grids
    res = g[(g["kind"] == "residential") & g["in_band"]]
    victim = res["grid_code"].iloc[0]
    old = first.units[["grid_code"]].reset_index()
    old = old[old["grid_code"] != victim]
    extra = pd.DataFrame({"unit_id": ["ghost"], "grid_code": [victim]})
    table = pd.concat([old, extra], ignore_index=True)
    again = gridplan.plan(
        layers["units"],
        communities=layers["communities"],
        barriers=layers["barriers"],
        previous=table,
    )
    codes = again.grids["grid_code"].tolist()
    assert victim not in codes
    assert len(set(codes)) == len(codes)
    kept = first.grids.set_index("grid_code")["households"]
    same = [c for c in codes if c in kept.index]
    assert len(same) >= len(codes) - 3


def test_changed_data_keeps_every_valid_grid_whole_and_most_codes(layers, first):
    units, gone = changed_queenstown(layers["units"])
    again = gridplan.plan(
        units,
        communities=layers["communities"],
        barriers=layers["barriers"],
        previous=first.unit_parts,
    )
    assert int(again.grids["households"].sum()) == int(units["households"].sum())
    codes = again.grids["grid_code"].tolist()
    assert len(set(codes)) == len(codes)
    replanned = set(
        again.diagnostics.loc[again.diagnostics["code"] == "previous_replanned", "grid_code"]
    )
    assert replanned  # the new compound's neighbourhood changed
    old = first.units["grid_code"].drop(index=gone)
    new = again.units["grid_code"].reindex(old.index)
    for code, members in old.groupby(old):
        if code in replanned:
            continue
        # a grid still valid is kept exactly: same units, same code
        assert set(again.units.index[again.units["grid_code"] == code]) == set(members.index), code
    hh = first.units["households"].reindex(old.index)
    assert hh[new == old].sum() / hh.sum() >= 0.95
    # the fresh plan of the same data keeps far fewer
    fresh = gridplan.plan(units, communities=layers["communities"], barriers=layers["barriers"])
    fresh_new = fresh.units["grid_code"].reindex(old.index)
    assert hh[fresh_new == old].sum() < hh[new == old].sum()


def _path(n, weights, crossing=None):
    i, j = np.arange(n - 1), np.arange(1, n)
    return i, j, np.zeros(n - 1, dtype=bool) if crossing is None else crossing


@pytest.mark.parametrize(
    ("case", "reason"),
    [("band", "band"), ("gap", "contiguity"), ("barrier", "barrier"), ("community", "communities")],
)
def test_an_old_grid_is_kept_only_while_valid(case, reason):
    # 6 parts in a row, 100 households each; old grids A = parts 0-2, B = parts 3-5
    n = 6
    w = np.full(n, 100.0)
    old = np.array(["A", "A", "A", "B", "B", "B"], dtype=object)
    comm = np.array(["c"] * n, dtype=object)
    i, j, cross = _path(n, w)
    if case == "band":
        w[4] = 400.0  # B holds 300 -> 600
    elif case == "gap":
        old = np.array(["A", "B", "A", "B", "B", "B"], dtype=object)  # B: 1 and 3-5
    elif case == "barrier":
        cross = cross.copy()
        cross[3] = True  # between parts 3 and 4, inside B
    else:
        comm = np.array(["c", "c", "c", "c", "d", "d"], dtype=object)
    verdict = kept_grids(
        old, np.ones(n, dtype=bool), weight=w, community=comm, edge_i=i, edge_j=j,
        crossing=cross, shared=np.ones(n - 1), lo=300, hi=500,
    )  # fmt: skip
    bad = {c: r for c, _, r in verdict.replanned}
    assert "B" in bad and bad["B"] == reason
    if case in {"band", "barrier", "community"}:
        assert "A" in verdict.kept or bad.get("A") == "affected"


def test_a_new_area_too_small_for_a_grid_frees_its_neighbour():
    # A (0-2) and B (3-5) in band, parts 6-7 new with 200 households: they admit no grid
    n = 8
    w = np.full(n, 100.0)
    old = np.array(["A", "A", "A", "B", "B", "B", None, None], dtype=object)
    i, j, cross = _path(n, w)
    verdict = kept_grids(
        old, np.ones(n, dtype=bool), weight=w, community=np.array(["c"] * n, dtype=object),
        edge_i=i, edge_j=j, crossing=cross, shared=np.ones(n - 1), lo=300, hi=500,
    )  # fmt: skip
    assert set(verdict.kept) == {"A"}
    assert verdict.replanned == [("B", verdict.replanned[0][1], "affected")]


def test_a_grid_below_the_band_frees_the_one_neighbour_that_lets_it_fit():
    # A (0-2, 363) | C (3-4, 223 after a building went) | B (5-7, 441). A shares most border
    # with C, but 223 + 363 = 586 admit no count of 300-500 grids; 223 + 441 = 664 admit two.
    # Only B is freed: A stays as it is (freeing A first freed B too, three grids re-planned).
    n = 8
    w = np.array([121, 121, 121, 111.5, 111.5, 147, 147, 147])
    old = np.array(["A", "A", "A", "C", "C", "B", "B", "B"], dtype=object)
    i, j, cross = _path(n, w)
    shared = np.array([1, 1, 10, 1, 1, 1, 1], dtype=float)
    verdict = kept_grids(
        old, np.ones(n, dtype=bool), weight=w, community=np.array(["c"] * n, dtype=object),
        edge_i=i, edge_j=j, crossing=cross, shared=shared, lo=300, hi=500,
    )  # fmt: skip
    assert set(verdict.kept) == {"A"}
    assert {c: r for c, _, r in verdict.replanned} == {"B": "affected", "C": "band"}


def test_replanning_near_the_old_grids_moves_fewer_households_than_from_scratch():
    # a 12 x 12 lattice of 10-household blocks, planned; then a block row gains households
    side = 12
    n = side * side
    xy = np.array([[x, y] for y in range(side) for x in range(side)], dtype=float)
    ii = [k for k in range(n) if k % side < side - 1] + list(range(n - side))
    jj = [k + 1 for k in range(n) if k % side < side - 1] + list(range(side, n))
    w = np.full(n, 10, dtype=np.int64)
    g = from_edges(n, np.array(ii), np.array(jj), weight=w, xy=xy)
    before = split_piece(g, lo=300, hi=500, target=400, seed=0).labels
    w2 = w.copy()
    w2[:side] = 25  # new flats along one edge
    g2 = from_edges(n, np.array(ii), np.array(jj), weight=w2, xy=xy)
    fresh = split_piece(g2, lo=300, hi=500, target=400, seed=1).labels
    near = split_near_previous(
        g2, before, fresh, lo=300, hi=500, target=400,
        rng=np.random.default_rng(1), tries=24, refine_passes=8,
    )  # fmt: skip
    sums = np.bincount(near, weights=w2)
    assert ((sums >= 300) & (sums <= 500)).all()
    assert moved_households(near, before, w2) < moved_households(fresh, before, w2)


def test_units_the_old_boundaries_split_are_reported():
    src = "data/camden_sample.gpkg"
    units = gpd.read_file(src, layer="units")
    x0, y0, x1, y1 = units.total_bounds
    mid = (x0 + x1) / 2
    halves = gpd.GeoDataFrame(
        {"grid_code": ["W", "E"]},
        geometry=[
            shapely.box(x0 - 1, y0 - 1, mid, y1 + 1),
            shapely.box(mid, y0 - 1, x1 + 1, y1 + 1),
        ],
        crs=units.crs,
    )
    cut = units[units.geometry.intersects(shapely.LineString([(mid, y0 - 1), (mid, y1 + 1)]))]
    assert len(cut)
    plan = gridplan.plan(
        units, communities=gpd.read_file(src, layer="communities"), previous=halves
    )
    rows = plan.diagnostics[plan.diagnostics["code"] == "previous_unit_split"]
    reported = {u for ids in rows["unit_ids"] for u in ids}
    assert {str(u) for u in cut["unit_id"]} <= reported
    assert "E" not in set(plan.grids["grid_code"]) or "W" not in set(plan.grids["grid_code"])


def test_micro_grids_of_a_kept_grid_keep_their_codes(layers, first):
    # remove one block from an in-band grid that stays in band: the grid is kept, and the
    # micro-grids not touching the block keep their codes
    grids = first.grids[(first.grids["kind"] == "residential") & first.grids["in_band"]]
    for _, g in grids.iterrows():
        members = first.units[first.units["grid_code"] == g["grid_code"]]
        gone = members["households"].idxmin()
        if len(members) >= 3 and g["households"] - members.loc[gone, "households"] >= 320:
            break
    else:
        raise AssertionError("no grid can lose a block and stay in band")
    units = layers["units"][layers["units"]["unit_id"].astype(str) != str(gone)]
    again = gridplan.plan(
        units, communities=layers["communities"], barriers=layers["barriers"],
        previous=first.unit_parts,
    )  # fmt: skip
    old_mg = first.microgrids.set_index("microgrid_code")
    new_mg = again.microgrids[again.microgrids["grid_code"] == g["grid_code"]]
    assert len(new_mg)
    assert new_mg["microgrid_code"].str.startswith(g["grid_code"]).all()
    touched = set(first.units.loc[gone, "microgrid_code"].split(";"))
    same = [c for c in new_mg["microgrid_code"] if c in old_mg.index and c not in touched]
    untouched_old = [c for c in old_mg.index if c.startswith(g["grid_code"]) and c not in touched]
    assert len(same) >= len(untouched_old) - 1


def test_a_replanned_grid_out_of_band_under_an_old_code_frees_its_kept_neighbours():
    # a re-planned grid that inherited an old code is no kept grid: out of band, it is a
    # miss whose kept neighbours are freed (it used to count as kept, and nothing was)
    from dataclasses import replace

    from gridplan import diagnostics as dg
    from gridplan.pipeline import _neighbours_of_misses

    src = "data/camden_sample.gpkg"
    units = gpd.read_file(src, layer="units")
    p = gridplan.plan(units, communities=gpd.read_file(src, layer="communities"))
    old = read_previous(p.unit_parts, p.units)
    g = p.grids.copy()
    res = g[g["kind"] == "residential"]
    a = res.index[0]
    touching = res[res.geometry.intersects(res.geometry[a]) & (res.index != a)]
    same = touching[touching["community_id"] == res.loc[a, "community_id"]]
    assert len(same)
    g.loc[a, "in_band"] = False
    record = dg.Diagnostic(
        level="grid", code="previous_replanned", severity="info",
        community_id=str(res.loc[a, "community_id"]), grid_code=str(res.loc[a, "grid_code"]),
        params={"why": "previous_band"},
    )  # fmt: skip
    d = pd.concat([p.diagnostics, dg.frame([record])], ignore_index=True)
    freed = _neighbours_of_misses(replace(p, grids=g, diagnostics=d), old)
    assert freed == frozenset(same["grid_code"])
