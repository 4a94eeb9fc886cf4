"""Cells from the street network: blocks are cut by every line and tile the area, the road's
space is split at its centre line, empty blocks join a neighbour, polygon units that tile are
their own cells, and the cells of a region tile it exactly (fixed-precision overlay), each one
Polygon, every household counted once."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, box

from gridplan.cells import blocks, edge_on_lines, street_tessellate, study_area
from gridplan.errors import ValidationError
from gridplan.metrics import gap_area, multipart_count, overlap_area

PROPERTY = settings(max_examples=30, deadline=None)
# fixed-precision overlay at 1 cm: what is left is a real overlap or gap, not clipping noise
EXACT_M2 = 1e-3


def lattice_roads(xs, ys, *, lo=-5.0, hi=305.0):
    return [LineString([(x, lo), (x, hi)]) for x in xs] + [
        LineString([(lo, y), (hi, y)]) for y in ys
    ]


def assert_tile(cells, region):
    cells = np.asarray(cells, dtype=object)
    assert not shapely.is_missing(cells).any(), "a unit has no cell"
    assert (shapely.get_type_id(cells) == 3).all(), "every cell is one Polygon"
    assert not shapely.is_empty(cells).any()
    assert overlap_area(cells) <= EXACT_M2
    assert gap_area(cells, region) <= EXACT_M2
    assert shapely.area(cells).sum() == pytest.approx(region.area, rel=1e-9, abs=EXACT_M2)


# ---------------------------------------------------------------------------------------------
# blocks
# ---------------------------------------------------------------------------------------------


def test_blocks_of_a_road_lattice_tile_the_area():
    area = box(0, 0, 300, 300)
    b = blocks(area, roads=lattice_roads([100, 200], [100, 200]))
    assert len(b) == 9
    assert np.allclose(shapely.area(b), 10_000.0)
    assert overlap_area(b) == 0.0
    assert gap_area(b, area) == 0.0


def test_barriers_and_boundaries_cut_blocks_too():
    area = box(0, 0, 300, 300)
    wall = box(20, 20, 80, 80)  # a compound: its outline cuts
    river = LineString([(-5, 150), (305, 150)])
    b = blocks(
        area, roads=[LineString([(200, -5), (200, 305)])], barriers=[river], boundaries=[wall]
    )
    # 4 blocks around the road/river cross, plus the compound inside one of them
    assert len(b) == 5
    assert any(shapely.equals(p, wall) for p in b)
    assert shapely.area(b).sum() == pytest.approx(90_000.0)


def test_dead_end_lane_cuts_nothing():
    area = box(0, 0, 300, 300)
    lane = LineString([(150, 0), (150, 120)])  # into a compound, ends inside the block
    assert len(blocks(area, roads=[lane])) == 1


def test_road_space_is_split_at_the_centre_line():
    # a 20 m wide road drawn as its centre line: the blocks either side meet on that line, so
    # each gets 10 m of the road's width and no block gets the road as a ribbon
    area = box(0, 0, 300, 200)
    road = LineString([(150, -5), (150, 205)])
    left, right = sorted(blocks(area, roads=[road]), key=lambda p: p.centroid.x)
    seam = shapely.intersection(left, right)
    assert seam.length == pytest.approx(200.0)
    assert shapely.hausdorff_distance(seam, shapely.intersection(road, area)) < 1e-9
    assert left.area == pytest.approx(right.area) == pytest.approx(30_000.0)


def test_blocks_without_an_area_are_the_network_faces():
    b = blocks(roads=lattice_roads([0, 100, 200], [0, 100]))
    assert len(b) == 2
    assert np.allclose(shapely.area(b), 10_000.0)


# ---------------------------------------------------------------------------------------------
# street_tessellate
# ---------------------------------------------------------------------------------------------


def test_every_point_gets_a_cell_inside_its_block():
    area = box(0, 0, 300, 300)
    roads = lattice_roads([100, 200], [100, 200])
    rng = np.random.default_rng(3)
    xy = rng.uniform(5, 295, (60, 2))
    pts = shapely.points(xy)
    t = street_tessellate(pts, np.zeros(60), {0: area}, roads=roads)
    assert_tile(t.cells, area)
    blk = blocks(area, roads=roads)
    for k in range(60):
        assert shapely.covers(t.cells[k], pts[k])
        # a cell never crosses a road: it lies in its unit's block
        assert shapely.area(shapely.difference(t.cells[k], blk[t.face[k]])) < 1e-6
        assert shapely.covers(blk[t.face[k]], pts[k])


def test_empty_block_joins_the_neighbour_with_the_longest_shared_edge():
    area = box(0, 0, 300, 200)
    # top block T (300 m x 100 m); bottom split by a road at x=100 into BL and BR
    roads = [LineString([(-5, 100), (305, 100)]), LineString([(100, -5), (100, 100)])]
    units = shapely.points([(150, 150), (50, 50)])  # in T and in BL; BR is empty
    t = street_tessellate(units, np.zeros(2), {0: area}, roads=roads)
    assert_tile(t.cells, area)
    # BR shares 200 m with T and 100 m with BL: it goes to T's unit
    assert t.cells[0].area == pytest.approx(30_000.0 + 20_000.0)
    # cells keep the blocks' road edges (to within the micron seam grid)
    assert shapely.area(shapely.symmetric_difference(t.cells[1], box(0, 0, 100, 100))) < 1e-3
    assert shapely.covers(t.cells[0], box(100, 0, 300, 100))
    assert t.cells[1].area == pytest.approx(10_000.0)
    assert t.face[0] != t.face[1]


def test_an_empty_compound_inside_a_block_joins_the_cell_around_it():
    area = box(0, 0, 300, 300)
    wall = box(100, 100, 200, 200)  # a compound with no units: a block inside a block
    pts = shapely.points([(20, 20), (280, 280)])
    t = street_tessellate(pts, np.zeros(2), {0: area}, compounds=[wall])
    assert_tile(t.cells, area)
    assert sum(shapely.covers(c, wall) for c in t.cells) == 1
    assert len(np.unique(t.face)) == 1


def test_blocks_touching_at_a_corner_are_not_neighbours():
    # four blocks of a crossroads; only the bottom-left holds a unit: the top-right block
    # touches it at the crossing point only, so it joins through a side block
    area = box(0, 0, 200, 200)
    roads = lattice_roads([100], [100], lo=-5, hi=205)
    t = street_tessellate(shapely.points([(50, 50)]), np.zeros(1), {0: area}, roads=roads)
    assert_tile(t.cells, area)
    assert t.cells[0].area == pytest.approx(40_000.0)


def test_empty_blocks_join_a_cell_without_a_seam():
    # found by the property test: a cell clipped along a slanted road has a vertex 1.8e-14 m
    # off it, and a many-input union with the empty blocks beyond returned two polygons
    rng = np.random.default_rng(345)
    nx, ny = rng.integers(0, 5, 2)
    roads = []
    for x in np.sort(rng.uniform(50, 950, nx)):
        top = 1005.0 if rng.random() < 0.7 else rng.uniform(200, 1000)
        roads.append(LineString([(x + rng.uniform(-30, 30), -5), (x, top)]))
    for y in np.sort(rng.uniform(50, 950, ny)):
        roads.append(LineString([(-5, y), (1005, y + rng.uniform(-40, 40))]))
    rng.integers(0, 3)
    n = int(rng.integers(1, 81))
    xy = rng.uniform(5, 995, (n, 2))
    area = box(0, 0, 1000, 1000)
    t = street_tessellate(shapely.points(xy), np.zeros(n), {0: area}, roads=roads)
    assert_tile(t.cells, area)


def test_a_chain_of_empty_blocks_resolves_outward():
    area = box(0, 0, 400, 100)
    roads = [LineString([(x, -5), (x, 105)]) for x in (100, 200, 300)]
    units = shapely.points([(50, 50)])  # only the first of four blocks holds a unit
    t = street_tessellate(units, np.zeros(1), {0: area}, roads=roads)
    assert_tile(t.cells, area)
    assert t.cells[0].area == pytest.approx(40_000.0)


def test_an_empty_block_goes_whole_to_one_cell():
    area = box(0, 0, 300, 200)
    roads = [LineString([(-5, 100), (305, 100)]), LineString([(100, -5), (100, 100)])]
    units = shapely.points([(20, 150), (280, 150), (50, 50)])
    t = street_tessellate(units, np.zeros(3), {0: area}, roads=roads)
    assert_tile(t.cells, area)
    # BR touches T along 200 m, most of it the right-hand unit's cell: it gets BR whole
    assert shapely.covers(t.cells[1], box(100, 0, 300, 100))
    assert shapely.area(shapely.intersection(t.cells[0], box(100, 0, 300, 100))) < 1e-6


def test_empty_land_is_shared_among_the_units_of_the_receiving_block():
    area = box(0, 0, 300, 200)
    roads = [LineString([(-5, 100), (305, 100)]), LineString([(100, -5), (100, 100)])]
    units = shapely.points([(20, 150), (280, 150), (50, 50)])
    t = street_tessellate(units, np.zeros(3), {0: area}, roads=roads, empty_blocks="share")
    assert_tile(t.cells, area)
    # the joined block BR is split between T's two units by the Voronoi step
    assert shapely.area(shapely.intersection(t.cells[1], box(100, 0, 300, 100))) > 10_000
    assert shapely.area(shapely.intersection(t.cells[0], box(100, 0, 300, 100))) > 1_000


def test_polygon_units_that_tile_are_their_own_cells():
    units = np.array([box(x, y, x + 100, y + 100) for x in (0, 100, 200) for y in (0, 100)])
    area = study_area(units)
    roads = [LineString([(100, -5), (100, 205)])]
    t = street_tessellate(units, np.zeros(len(units)), {0: area}, roads=roads)
    for cell, unit in zip(t.cells, units, strict=True):
        assert shapely.equals(cell, unit)
    assert_tile(t.cells, area)
    # the road still separates blocks: units left of it are in another block
    assert len(np.unique(t.face[[0, 1]])) == 1
    assert t.face[0] != t.face[2]


def test_polygon_units_that_nearly_tile_a_community_are_made_exact():
    region = box(0, 0, 200, 100)
    # a 1 m sliver along the top is missing and the units overlap by 2 m
    units = np.array([box(0, 0, 102, 99), box(100, 0, 200, 99)])
    t = street_tessellate(units, np.array(["c", "c"]), {"c": region})
    assert_tile(t.cells, region)


def test_footprints_get_cells_that_hold_them():
    area = box(0, 0, 300, 200)
    feet = np.array([box(20, 20, 60, 80), box(120, 20, 180, 60), box(200, 120, 280, 180)])
    roads = [LineString([(100, -5), (100, 205)])]
    t = street_tessellate(feet, np.zeros(3), {0: area}, roads=roads)
    assert_tile(t.cells, area)
    for cell, foot in zip(t.cells, feet, strict=True):
        assert shapely.area(shapely.intersection(cell, foot)) == pytest.approx(foot.area, rel=1e-3)


def test_regions_tile_each_other_and_erase_is_left_out():
    a, b = box(0, 0, 100, 100), box(100, 0, 200, 100)
    ded = box(150, 0, 200, 50)
    pts = shapely.points([(20, 20), (80, 80), (120, 20), (180, 80)])
    t = street_tessellate(pts, np.array(["a", "a", "b", "b"]), {"a": a, "b": b}, erase=[ded])
    assert_tile(t.cells[:2], a)
    assert_tile(t.cells[2:], shapely.difference(b, ded))
    assert len(set(t.face[:2]) & set(t.face[2:])) == 0


def test_overlapping_regions_do_not_give_overlapping_cells():
    a, b = box(0, 0, 101, 100), box(100, 0, 200, 100)  # drawn 1 m over each other
    pts = shapely.points([(20, 20), (80, 80), (120, 20), (180, 80)])
    t = street_tessellate(pts, np.array(["a", "a", "b", "b"]), {"a": a, "b": b})
    assert overlap_area(t.cells) <= EXACT_M2
    assert gap_area(t.cells, box(0, 0, 200, 100)) <= EXACT_M2


def test_unknown_region_is_an_error():
    with pytest.raises(ValueError, match="zz"):
        street_tessellate(shapely.points([(1, 1)]), np.array(["zz"]), {"a": box(0, 0, 5, 5)})


@st.composite
def street_case(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    nx, ny = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    roads = []
    for x in np.sort(rng.uniform(50, 950, nx)):
        # some roads run the whole way, some stop part way (a dead end or a T-junction)
        top = 1005.0 if rng.random() < 0.7 else rng.uniform(200, 1000)
        roads.append(LineString([(x + rng.uniform(-30, 30), -5), (x, top)]))
    for y in np.sort(rng.uniform(50, 950, ny)):
        roads.append(LineString([(-5, y), (1005, y + rng.uniform(-40, 40))]))
    bars = []
    for _ in range(draw(st.integers(0, 2))):
        p, q = rng.uniform(-50, 1050, (2, 2))
        bars.append(LineString([tuple(p), tuple(q)]))
    n = draw(st.integers(1, 80))
    xy = rng.uniform(5, 995, (n, 2))
    if n > 3 and rng.random() < 0.3:
        xy[1] = xy[0]  # two units on one point
    hh = rng.integers(1, 200, n)
    return roads, bars, xy, hh


@PROPERTY
@given(case=street_case())
def test_cells_tile_random_street_lattices(case):
    roads, bars, xy, hh = case
    area = box(0, 0, 1000, 1000)
    pts = shapely.points(xy)
    t = street_tessellate(pts, np.zeros(len(pts)), {0: area}, roads=roads, barriers=bars)
    assert len(t.cells) == len(pts)
    assert_tile(t.cells, area)
    assert (t.face >= 0).all()
    blk = blocks(area, roads=roads, barriers=bars)
    assert t.face.max() < len(blk)
    for k in range(len(pts)):
        # every unit's cell stands on it (stacked units are nudged by under a metre)
        assert shapely.distance(t.cells[k], pts[k]) < 1.0
        assert shapely.distance(blk[t.face[k]], pts[k]) < 1e-6
    # households summed per block add up to the total: each unit counted once
    per_block = np.bincount(t.face, weights=hh, minlength=len(blk))
    assert per_block.sum() == hh.sum()
    assert multipart_count(t.cells) == 0


# ---------------------------------------------------------------------------------------------
# study_area
# ---------------------------------------------------------------------------------------------


def test_overlapping_communities_are_an_error_naming_both():
    comms = gpd.GeoSeries(
        [box(0, 0, 100, 100), box(90, 0, 200, 100), box(200, 0, 300, 100)],
        index=["东风社区", "A-2", "C"],
    )
    with pytest.raises(ValidationError) as err:
        study_area(shapely.points([(50, 50)]), communities=comms)
    (problem,) = err.value.problems
    assert problem.rows == ("东风社区", "A-2")
    assert "东风社区" in str(err.value) and "A-2" in str(err.value)
    assert "1,000 m²" in str(err.value)
    assert "'C'" not in str(err.value)


def test_overlapping_streets_are_an_error_too():
    streets = gpd.GeoSeries([box(0, 0, 100, 100), box(50, 50, 150, 150)], index=["s1", "s2"])
    with pytest.raises(ValidationError, match="2,500 m²"):
        study_area(shapely.points([(50, 50)]), streets=streets)


def test_study_area_prefers_communities_then_streets():
    pts = shapely.points([(50, 50)])
    comms = gpd.GeoSeries([box(0, 0, 100, 100), box(100, 0, 200, 100)], index=["a", "b"])
    streets = gpd.GeoSeries([box(-500, -500, 500, 500)], index=["s"])
    assert study_area(pts, communities=comms, streets=streets).area == pytest.approx(20_000)
    assert study_area(pts, streets=streets).area == pytest.approx(1_000_000)


def test_study_area_from_roads_holds_blocks_with_units_and_what_they_enclose():
    roads = lattice_roads([0, 100, 200, 300], [0, 100, 200, 300])
    ring = [Point(x, y) for x in (50, 150, 250) for y in (50, 150, 250) if (x, y) != (150, 150)]
    a = study_area(ring, roads=roads)
    assert a.area == pytest.approx(90_000)
    # a unit beyond the network adds a hull around itself
    b = study_area([*ring, Point(600, 600)], roads=roads)
    assert b.covers(Point(600, 600)) and b.area > 90_000


def test_study_area_without_lines_is_a_bounded_hull():
    pts = shapely.points(np.random.default_rng(1).uniform(0, 500, (30, 2)))
    a = study_area(pts)
    assert shapely.covers(a, pts).all()
    assert a.area < 2_000 * 2_000


# ---------------------------------------------------------------------------------------------
# edge_on_lines
# ---------------------------------------------------------------------------------------------


def test_edge_on_lines_measures_the_shared_edge_on_a_road():
    cells = np.array([box(0, 0, 100, 100), box(100, 0, 200, 100), box(0, 100, 100, 200)])
    road = LineString([(100, -10), (100, 50)])  # covers half of the edge between 0 and 1
    on = edge_on_lines(cells, np.array([0, 0]), np.array([1, 2]), [road], tolerance_m=1.0)
    assert on[0] == pytest.approx(50.0, abs=1.01)
    assert on[1] == pytest.approx(0.0)


@st.composite
def footprint_case(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    roads = [LineString([(x, -5), (x, 605)]) for x in np.sort(rng.uniform(50, 550, 2))]
    roads += [LineString([(-5, y), (605, y)]) for y in np.sort(rng.uniform(50, 550, 2))]
    if rng.random() < 0.5:
        roads.pop(int(rng.integers(len(roads))))  # a road missing: a superblock
    n = draw(st.integers(1, 25))
    c = rng.uniform(30, 570, (n, 2))
    w, h = rng.uniform(8, 25, (2, n))
    feet = shapely.box(c[:, 0] - w, c[:, 1] - h, c[:, 0] + w, c[:, 1] + h)
    # footprints do not overlap each other (a building register)
    keep = [0]
    for k in range(1, n):
        if not shapely.intersects(feet[k], feet[keep]).any():
            keep.append(k)
    return roads, feet[keep]


@PROPERTY
@given(case=footprint_case())
def test_footprint_cells_tile_the_study_area_of_the_road_network(case):
    roads, feet = case
    # no communities: the study area is the blocks of the road network around the units
    area = study_area(feet, roads=roads)
    assert shapely.covers(area, shapely.point_on_surface(feet)).all()
    t = street_tessellate(feet, np.zeros(len(feet)), {0: area}, roads=roads)
    assert_tile(t.cells, area)
    # a footprint inside one block keeps most of itself (one drawn across a road competes
    # with its neighbours there, but still gets a cell and the tiling holds)
    blk = blocks(area, roads=roads)
    for k, foot in enumerate(feet):
        if shapely.covers(blk[t.face[k]], foot):
            assert shapely.area(shapely.intersection(t.cells[k], foot)) >= 0.9 * foot.area


# ---------------------------------------------------------------------------------------------
# bundled samples
# ---------------------------------------------------------------------------------------------

DATA = Path(__file__).resolve().parents[1] / "data"


def test_queenstown_without_communities_tiles_one_study_area():
    # the case issue 13 reports 15,858 m² of overlapping grids for
    units = gpd.read_file(DATA / "singapore_queenstown.gpkg", layer="units").to_crs(3414)
    bars = gpd.read_file(DATA / "singapore_queenstown.gpkg", layer="barriers").to_crs(3414)
    g = units.geometry.to_numpy()
    area = study_area(g, roads=bars)
    t = street_tessellate(g, np.zeros(len(g)), {0: area}, roads=bars)
    assert_tile(t.cells, area)
    assert shapely.covers(t.cells, g).sum() >= len(g) - 2  # stacked points are nudged


def test_queenstown_cells_tile_each_community():
    src = DATA / "singapore_queenstown.gpkg"
    units = gpd.read_file(src, layer="units").to_crs(3414)
    comms = gpd.read_file(src, layer="communities").to_crs(3414).set_index("community_id")
    bars = gpd.read_file(src, layer="barriers").to_crs(3414)
    study_area(units.geometry.to_numpy(), communities=comms)  # no overlaps to report
    regions = dict(zip(comms.index, comms.geometry.to_numpy(), strict=True))
    rof = units["community_id"].to_numpy(dtype=object)
    t = street_tessellate(units.geometry.to_numpy(), rof, regions, roads=bars)
    for key in np.unique(rof):
        assert_tile(t.cells[rof == key], regions[key])


def test_taiyuan_footprints_with_compounds_and_dedicated_areas():
    src = DATA / "taiyuan.gpkg"
    units = gpd.read_file(src, layer="units").to_crs(32649)
    comp = gpd.read_file(src, layer="compounds").to_crs(32649)
    ded = gpd.read_file(src, layer="dedicated").to_crs(32649)
    bars = gpd.read_file(src, layer="barriers").to_crs(32649)
    g = shapely.make_valid(units.geometry.to_numpy())
    rep = shapely.point_on_surface(g)
    inside = np.zeros(len(g), dtype=bool)
    inside[shapely.STRtree(ded.geometry.to_numpy()).query(rep, predicate="within")[0]] = True
    g = g[~inside]
    area = study_area(g, roads=bars)
    t = street_tessellate(g, np.zeros(len(g)), {0: area}, roads=bars, compounds=comp, erase=ded)
    ground = shapely.difference(area, shapely.union_all(ded.geometry.to_numpy()))
    assert_tile(t.cells, ground)


def test_camden_sample_output_areas_are_their_own_cells():
    units = gpd.read_file(DATA / "camden_sample.gpkg", layer="units")
    g = units.geometry.to_numpy()
    area = study_area(g)
    t = street_tessellate(g, np.zeros(len(g)), {0: area})
    assert_tile(t.cells, area)
    assert all(shapely.equals(c, u) for c, u in zip(t.cells, g, strict=True))
