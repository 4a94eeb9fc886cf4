"""Grid and micro-grid codes: reading order, hierarchy, ranges, stability."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from gridplan.codes import grid_codes, microgrid_codes, reading_order
from gridplan.config import CodeRules
from gridplan.errors import ValidationError

RULES = CodeRules(county_code="140106")
X0, Y0 = 500_000.0, 4_180_000.0


def _grid(col: int, row: int, size: float = 100.0, jitter: float = 0.0):
    """Box at lattice position (col, row) with row 0 at the *north*."""
    x = X0 + col * size
    y = Y0 - row * size + jitter
    return box(x, y - size, x + size, y)


def layout_3x3(**overrides) -> gpd.GeoDataFrame:
    """Nine residential grids on a 3x3 lattice, ids scrambled against reading order."""
    ids = ["g9", "g3", "g7", "g1", "g5", "g2", "g8", "g4", "g6"]
    cells = [(c, r) for r in range(3) for c in range(3)]  # reading order
    # uneven heights so rows are not perfectly aligned: the banding must still hold
    geoms = [_grid(c, r, jitter=(7.0 if (c + r) % 2 else -5.0)) for c, r in cells]
    data = {
        "grid_id": ids,
        "kind": ["residential"] * 9,
        "community_id": ["C1"] * 9,
        "street_id": ["S1"] * 9,
        "pos": list(range(9)),
    }
    data.update(overrides)
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:32649")


def test_reading_order_3x3_is_west_to_east_north_to_south():
    grids = layout_3x3()
    codes = grid_codes(grids, rules=RULES)
    seq = codes["grid_code"].str[-3:].astype(int)
    assert seq.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert (codes["community_code"] == "140106001001").all()


def test_reading_order_function_matches_layout():
    grids = layout_3x3()
    order = reading_order(grids.geometry, ids=grids["grid_id"])
    assert order.tolist() == list(range(9))


def test_codes_unique_and_hierarchical_across_communities_and_streets():
    a = layout_3x3()
    b = layout_3x3(community_id=["C2"] * 9, grid_id=[f"h{i}" for i in range(9)])
    c = layout_3x3(
        community_id=["K1"] * 9, street_id=["S2"] * 9, grid_id=[f"k{i}" for i in range(9)]
    )
    grids = pd.concat([a, b, c], ignore_index=True)
    codes = grid_codes(grids, rules=RULES)
    assert codes["grid_code"].is_unique
    assert codes.index.equals(grids.index)
    assert all(
        g.startswith(cc) for g, cc in zip(codes["grid_code"], codes["community_code"], strict=True)
    )
    assert codes["grid_code"].str.len().eq(15).all()
    assert codes["community_code"].str.len().eq(12).all()
    assert codes["grid_code"].str.fullmatch(r"\d{15}").all()
    # streets S1 < S2, communities C1 < C2 within S1, K1 first within S2
    assert set(codes.loc[grids["community_id"] == "C1", "community_code"]) == {"140106001001"}
    assert set(codes.loc[grids["community_id"] == "C2", "community_code"]) == {"140106001002"}
    assert set(codes.loc[grids["community_id"] == "K1", "community_code"]) == {"140106002001"}


def test_dedicated_grids_get_their_own_range_in_reading_order():
    grids = layout_3x3(kind=["dedicated", "residential", "dedicated"] + ["residential"] * 6)
    codes = grid_codes(grids, rules=RULES)
    seq = codes["grid_code"].str[-3:].astype(int).tolist()
    assert seq[0] == 901 and seq[2] == 902
    assert [s for s in seq if s < 900] == [1, 2, 3, 4, 5, 6, 7]
    custom = grid_codes(grids, rules=CodeRules(county_code="140106", dedicated_start=801))
    assert custom["grid_code"].str[-3:].astype(int).tolist()[0] == 801


def test_stable_under_row_reordering():
    grids = layout_3x3(kind=["residential"] * 8 + ["dedicated"])
    codes = grid_codes(grids, rules=RULES)
    perm = np.random.default_rng(3).permutation(len(grids))
    shuffled = grids.iloc[perm]
    again = grid_codes(shuffled, rules=RULES)
    pd.testing.assert_frame_equal(again.loc[codes.index], codes)
    # and reset indexes: codes follow the grid ids, not the row positions
    again2 = grid_codes(shuffled.reset_index(drop=True), rules=RULES)
    by_id = dict(zip(grids["grid_id"], codes["grid_code"], strict=True))
    assert dict(zip(shuffled["grid_id"], again2["grid_code"], strict=True)) == by_id


def test_missing_community_and_street_get_000():
    grids = layout_3x3(community_id=[""] * 3 + ["C1"] * 6, street_id=[None] * 3 + ["S1"] * 6)
    codes = grid_codes(grids, rules=RULES)
    assert set(codes["community_code"].iloc[:3]) == {"140106000000"}
    assert codes["grid_code"].iloc[:3].str[-3:].tolist() == ["001", "002", "003"]
    assert set(codes["community_code"].iloc[3:]) == {"140106001001"}


def test_layers_number_all_ids_and_official_code_columns_win():
    grids = layout_3x3(community_id=["C2"] * 9)
    comms = gpd.GeoDataFrame(
        {"community_id": ["C1", "C2"], "street_id": ["S1", "S1"]},
        geometry=[box(0, 0, 1, 1)] * 2,
        crs="EPSG:32649",
    )
    # C1 has no grid but is numbered first: C2 stays 002
    codes = grid_codes(grids, rules=RULES, communities=comms)
    assert set(codes["community_code"]) == {"140106001002"}

    streets = gpd.GeoDataFrame(
        {"street_id": ["S1"], "code": ["140106007"]}, geometry=[box(0, 0, 1, 1)], crs=comms.crs
    )
    comms_coded = comms.assign(code=[140106007011, 140106007012])
    codes = grid_codes(grids, rules=RULES, communities=comms_coded, streets=streets)
    assert set(codes["community_code"]) == {"140106007012"}


def test_community_street_taken_from_communities_layer():
    grids = layout_3x3(street_id=[None] * 9)
    comms = gpd.GeoDataFrame(
        {"street_id": ["S2"]},
        index=pd.Index(["C1"], name="community_id"),
        geometry=[box(0, 0, 1, 1)],
        crs="EPSG:32649",
    )
    streets = gpd.GeoDataFrame(
        index=pd.Index(["S1", "S2"], name="street_id"),
        geometry=[box(0, 0, 1, 1)] * 2,
        crs="EPSG:32649",
    )
    codes = grid_codes(grids, rules=RULES, communities=comms, streets=streets)
    assert set(codes["community_code"]) == {"140106002001"}


def test_duplicate_official_street_codes_are_reported():
    grids = layout_3x3()
    streets = gpd.GeoDataFrame(
        {"street_id": ["S1", "S2"], "code": ["140106001", "999001"]},
        geometry=[box(0, 0, 1, 1)] * 2,
        crs="EPSG:32649",
    )
    with pytest.raises(ValidationError, match="share the code digits 001"):
        grid_codes(grids, rules=RULES, streets=streets)


def test_overflow_of_the_residential_range_is_an_error():
    grids = layout_3x3()
    with pytest.raises(ValidationError, match="dedicated_start"):
        grid_codes(grids, rules=CodeRules(county_code="140106", dedicated_start=5))


@pytest.mark.parametrize("bad", ["14010", "1401066", "14O106", ""])
def test_invalid_county_code_is_a_validation_error(bad):
    with pytest.raises(ValidationError, match="county_code"):
        CodeRules(county_code=bad)


def test_unknown_kind_is_reported():
    grids = layout_3x3(kind=["residential"] * 8 + ["business"])
    with pytest.raises(ValidationError, match="'business'"):
        grid_codes(grids, rules=RULES)


def _microgrids():
    grids = layout_3x3()
    codes = grid_codes(grids, rules=RULES)
    rows = []
    for (_, g), code in zip(grids.iterrows(), codes["grid_code"], strict=True):
        x0, y0, x1, y1 = g.geometry.bounds
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        # quadrants listed in a scrambled order: SE, NW, SW, NE
        for q in (
            box(mx, y0, x1, my),
            box(x0, my, mx, y1),
            box(x0, y0, mx, my),
            box(mx, my, x1, y1),
        ):
            rows.append({"grid_code": code, "geometry": q})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=grids.crs)


def test_microgrid_codes_extend_grid_codes_in_reading_order():
    micro = _microgrids()
    mc = microgrid_codes(micro, rules=RULES)
    assert mc.name == "microgrid_code"
    assert mc.index.equals(micro.index)
    assert mc.is_unique
    assert all(
        m.startswith(g) and len(m) == 18 for m, g in zip(mc, micro["grid_code"], strict=True)
    )
    # per grid: SE, NW, SW, NE -> 004, 001, 003, 002
    assert mc.str[-3:].iloc[:4].tolist() == ["004", "001", "003", "002"]


def test_microgrid_codes_stable_under_reordering():
    micro = _microgrids()
    mc = microgrid_codes(micro, rules=RULES)
    perm = np.random.default_rng(0).permutation(len(micro))
    again = microgrid_codes(micro.iloc[perm], rules=RULES)
    pd.testing.assert_series_equal(again.loc[mc.index], mc)


def test_microgrid_without_grid_code_is_reported():
    micro = _microgrids()
    micro.loc[2, "grid_code"] = None
    with pytest.raises(ValidationError, match="rows 2"):
        microgrid_codes(micro, rules=RULES)
