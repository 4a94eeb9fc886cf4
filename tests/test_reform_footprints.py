"""`reform --community-column` with building footprints (issue 20).

The current communities given as a units column used to be the dissolved units; with
footprints those tile only the buildings' own union, so most buildings had no neighbour and
villages in band were broken up. Each building's space-filling cell now goes to its village.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import box
from typer.testing import CliRunner

from gridplan.cli import app
from gridplan.reform import ReformRules, redivide
from gridplan.reform.inputs import communities_from_column

RULES = ReformRules(min_households=400, max_households=800)


def footprint_town() -> gpd.GeoDataFrame:
    """6 villages of 16 buildings (25 m squares, 60 m apart) with 30 households each: 480 per
    village, inside the 400-800 band."""
    geoms, vil = [], []
    for r in range(8):
        for c in range(12):
            x, y = 500_000 + c * 60, 4_180_000 + r * 60
            geoms.append(box(x, y, x + 25, y + 25))
            vil.append(f"V{c // 4 + 3 * (r // 4)}")
    return gpd.GeoDataFrame(
        {"unit_id": [f"u{i:02d}" for i in range(96)], "households": 30, "village": vil},
        geometry=geoms,
        crs="EPSG:32649",
    )


def village_polygons(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    boxes = []
    for v in range(6):
        c, r = v % 3, v // 3
        x, y = 500_000 + c * 240 - 17.5, 4_180_000 + r * 240 - 17.5
        boxes.append(box(x, y, x + 240, y + 240))
    return gpd.GeoDataFrame(
        {"community_id": [f"V{v}" for v in range(6)]}, geometry=boxes, crs=units.crs
    )


def test_villages_in_band_stay_whole_when_given_as_a_column():
    units = footprint_town()
    by_column = redivide(units, communities="village", rules=RULES)
    counts = by_column.report["counts"].set_index("metric")
    assert counts.loc["communities", "after"] == 6  # was 5, with 2,160 households moved
    assert counts.loc["households_moved", "after"] == 0
    assert "reform_isolated_unit" not in set(by_column.diagnostics["code"])
    # the same villages given as polygons give the same communities
    by_polygons = redivide(
        units.drop(columns=["village"]), communities=village_polygons(units), rules=RULES
    )
    assert sorted(by_column.communities["community_id"]) == sorted(
        by_polygons.communities["community_id"]
    )
    assert (
        by_column.units["community_id"].sort_index().tolist()
        == by_polygons.units["community_id"].sort_index().tolist()
    )


def test_column_communities_tile_the_area_without_overlap():
    units = footprint_town()
    _, comms = communities_from_column(units, "village", None)
    geoms = comms.geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    union = shapely.union_all(geoms)
    # together far larger than the buildings, and no two overlap
    assert union.area > 3 * units.geometry.area.sum()
    pair_overlap = sum(
        shapely.intersection(geoms[i], geoms[j]).area
        for i in range(len(geoms))
        for j in range(i + 1, len(geoms))
    )
    assert pair_overlap < 1e-6 * union.area
    # every building lies in its own village's polygon
    inside = [
        comms.set_index("community_id").geometry[v].contains(shapely.point_on_surface(g))
        for v, g in zip(units["village"], units.geometry, strict=True)
    ]
    assert all(inside)


def test_blocks_that_tile_keep_their_dissolved_outline():
    units = footprint_town()
    # grow the footprints into 60 m blocks that tile the ground
    units["geometry"] = [
        box(*np.array(g.bounds[:2]) - 17.5, *np.array(g.bounds[:2]) + 42.5) for g in units.geometry
    ]
    _, comms = communities_from_column(units, "village", None)
    area = comms.set_index("community_id").geometry.area
    assert np.allclose(area.to_numpy(), 16 * 60 * 60)


def test_cli_community_column_with_footprints(tmp_path):
    units = footprint_town()
    src = tmp_path / "town.gpkg"
    units.to_file(src, layer="units", driver="GPKG", engine="pyogrio")
    out = tmp_path / "reform.gpkg"
    res = CliRunner().invoke(
        app,
        [
            "reform",
            f"{src}:units",
            "--community-column",
            "village",
            "--min-households",
            "400",
            "--max-households",
            "800",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "communities: 6 -> 6" in res.output
    assert "households moved: 0 of 2,880" in res.output
