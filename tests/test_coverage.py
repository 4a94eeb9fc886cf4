"""Grids drawn on the streets (issue 13): the roads layer, every barrier line used, exact
coverage with or without community polygons, whole blocks, polygon units as their own cells."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, box
from typer.testing import CliRunner

import gridplan
from gridplan.cells import study_area
from gridplan.cli import app
from gridplan.config import GridRules
from gridplan.graph import barrier_lines
from gridplan.metrics import gap_area, overlap_area
from gridplan.partition.grids import unit_cells, unit_graph
from gridplan.validate import barrier_class_table

CRS = 32650
X0, Y0 = 500_000.0, 3_000_000.0
DATA = Path(__file__).resolve().parents[1] / "data"


def street_lattice(rng: np.random.Generator, *, n: int, step: float, missing: float):
    """Streets every ``step`` metres over an ``n`` x ``n`` block square, each inner segment
    missing with probability ``missing``; the outer ring is always there."""
    size = n * step
    ticks = np.arange(n + 1) * step
    segs = []
    for t in ticks:
        inner = 0 < t < size
        for a, b in itertools.pairwise(ticks):
            for seg in (((t, a), (t, b)), ((a, t), (b, t))):
                if inner and rng.random() < missing:
                    continue
                segs.append(shapely.affinity.translate(LineString(seg), X0, Y0))
    return gpd.GeoDataFrame({"road_class": ["street"] * len(segs)}, geometry=segs, crs=CRS), size


def random_units(rng: np.random.Generator, *, count: int, size: float) -> gpd.GeoDataFrame:
    xy = rng.uniform(3, size - 3, (count, 2)) + np.array([X0, Y0])
    return gpd.GeoDataFrame(
        {"unit_id": [f"u{i:04d}" for i in range(count)], "households": rng.integers(5, 41, count)},
        geometry=[Point(p) for p in xy],
        crs=CRS,
    )


def _grids(units, **layers):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gridplan.partition_grids(units, seed=0, **layers)


# ---------------------------------------------------------------------------------------------
# every line passed as a barrier is used
# ---------------------------------------------------------------------------------------------


def _two_sides(barrier_class: str):
    """Units either side of one vertical line, all in one community square."""
    units = gpd.GeoDataFrame(
        {"unit_id": [f"u{i}" for i in range(8)], "households": [60] * 8},
        geometry=[Point(X0 + x, Y0 + y) for x in (20, 80, 120, 180) for y in (50, 150)],
        crs=CRS,
    )
    line = gpd.GeoDataFrame(
        {"barrier_id": ["b1"], "barrier_class": [barrier_class]},
        geometry=[LineString([(X0 + 100, Y0 - 10), (X0 + 100, Y0 + 210)])],
        crs=CRS,
    )
    return units, line


@pytest.mark.parametrize(
    ("barrier_class", "crossing"),
    [("major_road", True), ("主干道", True), ("primary", True), ("secondary_road", False)],
)
def test_a_class_gridplan_does_not_know_is_still_a_barrier(barrier_class, crossing):
    units, line = _two_sides(barrier_class)
    layers = gridplan.prepare_layers(units, barriers=line)
    cells = unit_cells(layers)
    edges = unit_graph(cells)
    # the line separates the two sides unless its class is a street class
    assert bool(edges.crossing.any()) is crossing
    rules = GridRules()
    kept = barrier_lines(
        layers.barriers,
        classes=rules.barrier_classes,
        crs=CRS,
        road_classes=rules.road_classes,
    )
    assert (kept is not None) is crossing


def test_barrier_classes_are_counted_with_their_use():
    bars = pd.DataFrame({"barrier_class": ["major", "river_x", "minor_path", "major", None]})
    t = barrier_class_table(bars, barrier_classes=("river",), road_classes=("minor",))
    assert t.values.tolist() == [
        ["barrier", 1, "unknown"],
        ["major", 2, "unknown"],
        ["minor_path", 1, "road"],
        ["river_x", 1, "barrier"],
    ]
    assert int(t["lines"].sum()) == len(bars)  # no line is left out


def test_plan_report_and_validate_say_how_each_class_was_used(tmp_path):
    units, line = _two_sides("主干道")
    p = gridplan.plan(units, barriers=line, microgrids=False)
    assert p.report["barriers"].values.tolist() == [["主干道", 1, "unknown"]]
    path = tmp_path / "lines.gpkg"
    line.to_file(path, layer="barriers")
    res = CliRunner().invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    assert "主干道 1 (barrier: class not in barrier_classes)" in res.output


# ---------------------------------------------------------------------------------------------
# the roads layer
# ---------------------------------------------------------------------------------------------


def test_cli_plan_takes_roads(tmp_path):
    rng = np.random.default_rng(3)
    roads, size = street_lattice(rng, n=4, step=100, missing=0.0)
    units = random_units(rng, count=60, size=size)
    src = tmp_path / "in.gpkg"
    units.to_file(src, layer="units")
    roads.to_file(src, layer="roads")
    out = tmp_path / "plan.gpkg"
    res = CliRunner().invoke(
        app, ["grids", f"{src}:units", "--roads", f"{src}:roads", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    grids = gpd.read_file(out, layer="grids")
    assert int(grids["households"].sum()) == int(units["households"].sum())


def test_blocks_within_the_ceiling_are_never_split():
    rng = np.random.default_rng(7)
    roads, size = street_lattice(rng, n=5, step=100, missing=0.1)
    units = random_units(rng, count=150, size=size)
    res = _grids(units, roads=roads)
    layers = gridplan.prepare_layers(units, roads=roads)
    cells = unit_cells(layers)
    block = pd.Series(cells.block, index=cells.ids)
    weight = pd.Series(cells.weight, index=cells.ids)
    grid = res.units["grid_id"].reindex(block.index)
    per_block = pd.DataFrame({"block": block, "grid": grid, "w": weight}).groupby("block")
    small = per_block["w"].sum() <= 500
    assert small.any()
    assert (per_block["grid"].nunique()[small] == 1).all()


# ---------------------------------------------------------------------------------------------
# exact coverage
# ---------------------------------------------------------------------------------------------


def _assert_tiles(grids: gpd.GeoDataFrame, area) -> None:
    g = grids.geometry.to_numpy()
    total = float(shapely.area(area))
    # what is left is snap-rounding of the outlines: at most a strip 1 mm wide along them (a gap
    # or overlap of a whole cell, or of a ribbon between streets, is many times larger)
    slack = 1e-3 * float(shapely.length(g).sum())
    assert overlap_area(g) <= slack, (overlap_area(g), total)
    assert gap_area(g, area) <= slack, (gap_area(g, area), total)
    assert (grids.geom_type == "Polygon").all(), grids.geom_type.value_counts().to_dict()


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(3, 5),
    step=st.floats(80, 160),
    missing=st.floats(0.0, 0.3),
    count=st.integers(40, 140),
    with_barrier=st.booleans(),
)
def test_grids_tile_the_study_area_of_random_streets(seed, n, step, missing, count, with_barrier):
    rng = np.random.default_rng(seed)
    roads, size = street_lattice(rng, n=n, step=step, missing=missing)
    units = random_units(rng, count=count, size=size)
    layers = {"roads": roads}
    if with_barrier:
        y0, y1 = rng.uniform(0, size, 2)
        layers["barriers"] = gpd.GeoDataFrame(
            {"barrier_class": ["river"]},
            geometry=[LineString([(X0 - 5, Y0 + y0), (X0 + size + 5, Y0 + y1)])],
            crs=CRS,
        )
    res = _grids(units, **layers)
    # every household counted once, every unit in one grid
    assert int(res.grids["households"].sum()) == int(units["households"].sum())
    assert res.units["grid_id"].notna().all()
    area = study_area(
        units.geometry.to_numpy(),
        roads=roads.geometry.to_numpy(),
        barriers=layers["barriers"].geometry.to_numpy() if with_barrier else None,
    )
    _assert_tiles(res.grids, area)
    again = _grids(units, **layers)
    assert (
        shapely.to_wkb(res.grids.geometry.to_numpy()).tolist()
        == shapely.to_wkb(again.grids.geometry.to_numpy()).tolist()
    )


def test_queenstown_without_communities_has_no_overlap():
    src = DATA / "singapore_queenstown.gpkg"
    units = gpd.read_file(src, layer="units").drop(columns=["community_id", "street_id"])
    bars = gpd.read_file(src, layer="barriers")
    res = _grids(units, barriers=bars)
    grids = res.grids
    area = study_area(
        units.to_crs(res.crs).geometry.to_numpy(),
        barriers=bars.to_crs(res.crs).geometry.to_numpy(),
    )
    assert int(grids["households"].sum()) == int(units["households"].sum())
    _assert_tiles(grids, area)


def test_polygon_units_that_tile_are_their_own_cells():
    units = gpd.read_file(DATA / "camden_sample.gpkg", layer="units")
    layers = gridplan.prepare_layers(units)  # no community polygons
    cells = unit_cells(layers)
    u = layers.units.to_crs(cells.crs).loc[cells.ids]
    own = shapely.area(u.geometry.to_numpy())
    # no Voronoi step: each cell is its unit (up to the slivers between units)
    got = shapely.area(cells.cells)
    assert np.allclose(got, own, rtol=0.02)
    union = shapely.union_all(u.geometry.to_numpy())
    assert overlap_area(cells.cells) <= 1e-6 * union.area
    assert gap_area(cells.cells, union) <= 1e-6 * union.area


def test_units_outside_every_block_are_covered_too():
    rng = np.random.default_rng(11)
    roads, size = street_lattice(rng, n=3, step=100, missing=0.0)
    units = random_units(rng, count=50, size=size)
    # a few units east of the street network, in no block
    extra = gpd.GeoDataFrame(
        {"unit_id": ["x1", "x2", "x3"], "households": [30, 30, 30]},
        geometry=[Point(X0 + size + 40, Y0 + y) for y in (40, 150, 260)],
        crs=CRS,
    )
    units = pd.concat([units, extra], ignore_index=True)
    res = _grids(units, roads=roads)
    assert int(res.grids["households"].sum()) == int(units["households"].sum())
    area = study_area(units.geometry.to_numpy(), roads=roads.geometry.to_numpy())
    assert shapely.contains(area, box(X0 + 1, Y0 + 1, X0 + size - 1, Y0 + size - 1))
    _assert_tiles(res.grids, area)


def test_queenstown_grids_and_microgrids_are_single_polygons():
    src = DATA / "singapore_queenstown.gpkg"
    layers = {k: gpd.read_file(src, layer=k) for k in ("units", "communities", "streets")}
    plan = gridplan.plan(
        layers["units"],
        communities=layers["communities"],
        streets=layers["streets"],
        barriers=gpd.read_file(src, layer="barriers"),
    )
    for frame in (plan.grids, plan.microgrids):
        kinds = frame.geom_type.value_counts().to_dict()
        assert kinds == {"Polygon": len(frame)}, kinds


def test_estates_either_side_of_an_empty_block_make_one_grid():
    # two estates of 150 households in the blocks either side of an empty one (a park):
    # neither reaches the band alone, together they are one grid of 300
    roads, _ = street_lattice(np.random.default_rng(0), n=3, step=100, missing=0.0)
    xs = [80, 85, 90, 95, 90, 205, 210, 215, 220, 210]
    ys = [40, 50, 60, 50, 30, 40, 50, 60, 50, 30]
    units = gpd.GeoDataFrame(
        {"unit_id": [f"u{i}" for i in range(10)], "households": [30] * 10},
        geometry=[Point(X0 + x, Y0 + y) for x, y in zip(xs, ys, strict=True)],
        crs=CRS,
    )
    area = study_area(units.geometry.to_numpy(), roads=roads.geometry.to_numpy())
    assert area.covers(Point(X0 + 150, Y0 + 50))  # the park between them
    res = _grids(units, roads=roads)
    assert res.grids["households"].tolist() == [300]
    assert res.units["grid_id"].nunique() == 1
