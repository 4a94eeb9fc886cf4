"""Geometry figures of a plan on hand-made cases whose answer is known."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, box

from gridplan.metrics import (
    boundary_on_lines_share,
    gap_area,
    multipart_count,
    overlap_area,
    ribbons,
    shared_edges,
)


def test_a_20m_ribbon_is_found_and_a_60m_block_is_not():
    body = box(0, 0, 300, 300)
    with_ribbon = body.union(box(300, 140, 700, 160))  # 20 m x 400 m hanging off the side
    block = box(1000, 0, 1060, 100)  # 60 m x 100 m: compact enough
    grids = gpd.GeoDataFrame(geometry=[with_ribbon, block, body], index=["g7", "g8", "g9"])
    found = ribbons(grids)
    assert found["grid"].tolist() == ["g7"]
    assert found["area_m2"].iloc[0] == pytest.approx(8_000, rel=0.03)


def test_a_grid_that_is_a_strip_is_a_ribbon_and_a_small_strip_is_not():
    assert len(ribbons([box(0, 0, 25, 600)])) == 1  # a 25 m x 600 m road corridor
    assert len(ribbons([box(0, 0, 20, 200)])) == 0  # 4,000 m²: below the area threshold
    assert len(ribbons([box(0, 0, 40, 600)])) == 0  # 40 m: wider than 30 m


def test_boundary_share_counts_only_internal_edges_on_lines():
    grids = [box(0, 0, 100, 100), box(100, 0, 200, 100)]
    road = LineString([(100, -10), (100, 110)])
    assert boundary_on_lines_share(grids, [road]) == pytest.approx(1.0)
    off = LineString([(150, -10), (150, 110)])  # 50 m away from the shared edge
    assert boundary_on_lines_share(grids, [off]) == pytest.approx(0.0)
    assert np.isnan(boundary_on_lines_share([box(0, 0, 1, 1)], [road]))


def test_shared_edges_skip_point_contacts():
    i, j, edges = shared_edges([box(0, 0, 1, 1), box(1, 1, 2, 2), box(1, 0, 2, 1)])
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 2), (1, 2)]
    assert [e.length for e in edges] == pytest.approx([1.0, 1.0])


def test_overlap_and_gap_areas():
    grids = [box(0, 0, 100, 100), box(90, 0, 200, 100)]
    assert overlap_area(grids) == pytest.approx(1_000.0)
    assert gap_area(grids, box(0, 0, 250, 100)) == pytest.approx(5_000.0)
    # touching grids neither overlap nor leave a gap
    tiles = [box(0, 0, 100, 100), box(100, 0, 200, 100)]
    assert overlap_area(tiles) == 0.0
    assert gap_area(tiles, box(0, 0, 200, 100)) == 0.0


def test_multipart_count_counts_grids_touching_at_a_point():
    bow = box(0, 0, 1, 1).union(box(1, 1, 2, 2))
    assert multipart_count([bow, box(5, 5, 6, 6)]) == 1
