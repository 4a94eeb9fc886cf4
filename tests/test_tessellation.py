"""Space-filling cells: they tile their region exactly (no gaps, no overlaps) for points and
footprints, never cross a barrier face, and ``slice_polygon`` cuts equal-share slices (strips,
or rows of them)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from conftest import overlap_area
from hypothesis import example, given, settings
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box

from gridplan.tessellation import dissolve, region_hulls, slice_polygon, tessellate

PROPERTY = settings(max_examples=25, deadline=None)
REL = 1e-6


def assert_tiles(cells: np.ndarray, region) -> None:
    cells = np.asarray(cells, dtype=object)
    assert not shapely.is_missing(cells).any(), "a unit has no cell"
    assert np.isin(shapely.get_type_id(cells), (3, 6)).all(), "cells must be polygons"
    area = region.area
    assert shapely.area(cells).sum() == pytest.approx(area, rel=REL)
    assert overlap_area(cells) <= REL * area
    union = shapely.union_all(cells)
    assert shapely.symmetric_difference(union, region).area <= REL * area


@st.composite
def random_points(draw, max_n: int = 60, stacked: bool = True):
    n = draw(st.integers(1, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    xy = rng.uniform(10.0, 990.0, size=(n, 2))
    if stacked and n > 2 and draw(st.booleans()):
        # two blocks on one point (a common data-entry result)
        xy[1] = xy[0]
    return xy


# ---------------------------------------------------------------------------------------------
# tiling
# ---------------------------------------------------------------------------------------------


@PROPERTY
@given(xy=random_points())
def test_point_cells_tile_the_region(xy):
    region = box(0, 0, 1000, 1000)
    pts = shapely.points(xy)
    t = tessellate(pts, np.zeros(len(pts), dtype=int), {0: region})
    assert len(t.cells) == len(pts)
    assert_tiles(t.cells, region)
    assert (t.face == t.face[0]).all()
    distinct = np.unique(np.round(xy, 3), axis=0, return_counts=True)[1].max() == 1
    if distinct:
        # a point's cell is its Voronoi cell: it holds the point
        assert shapely.covers(t.cells, pts).all()
    assert (shapely.area(t.cells) > 0).all(), "stacked points must still get a cell each"


@settings(max_examples=15, deadline=None)
@given(
    nx=st.integers(1, 6),
    ny=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_footprint_cells_tile_the_region(nx, ny, seed):
    # irregular footprints (convex hulls of random points), one per 100 m lattice cell, with
    # a margin of open land around them
    rng = np.random.default_rng(seed)
    feet = []
    for r in range(ny):
        for c in range(nx):
            pts = rng.uniform(0, 1, (7, 2)) * rng.uniform(10, 60, 2) + [c * 100 + 10, r * 100 + 10]
            feet.append(shapely.convex_hull(shapely.multipoints(pts)))
    feet = np.array(feet, dtype=object)
    region = box(-50, -50, nx * 100 + 50, ny * 100 + 50)
    t = tessellate(feet, np.zeros(len(feet), dtype=int), {0: region})
    assert_tiles(t.cells, region)
    # a footprint lies (almost) wholly in its own cell
    inside = shapely.area(shapely.intersection(t.cells, feet)) / shapely.area(feet)
    assert inside.min() > 0.95


# Two separate axis-aligned rectangular footprints (plain slab blocks) found by a random search;
# the outline seeds of one rectangle contain near-cocircular quadruples (opposite edges sampled
# at the same heights, coordinates differing in the last bit).
RECTANGLE_LAYOUTS = {
    "stacked": (
        [
            (42.85838020845094, 34.09013639660313, 54.17663778163574, 84.36219701070863),
            (55.828541010180025, 174.38556010095283, 85.74117056730371, 192.33808595648208),
        ],
        (-50, -50, 150, 250),
    ),
    "side_by_side": (
        [
            (42.85838020845094, 34.09013639660313, 54.17663778163574, 84.36219701070863),
            (155.82854101018003, 74.38556010095284, 185.74117056730373, 92.3380859564821),
        ],
        (-50, -50, 250, 150),
    ),
}


@pytest.mark.parametrize("layout", sorted(RECTANGLE_LAYOUTS))
def test_rectangular_footprint_cells_tile_the_region(layout):
    rects, frame = RECTANGLE_LAYOUTS[layout]
    feet = np.array([box(*r) for r in rects], dtype=object)
    region = box(*frame)
    t = tessellate(feet, np.zeros(len(feet), dtype=int), {0: region})
    assert_tiles(t.cells, region)


def test_rectangles_whose_rounded_seeds_give_an_invalid_cell():
    feet = np.array(
        [
            box(30.423929068200824, 7.372959597912873, 44.21652205561899, 34.88899848477033),
            box(36.5680006461019, 248.92971116499092, 47.95813954317053, 284.10155646821397),
        ],
        dtype=object,
    )
    region = box(-50, -50, 250, 350)
    t = tessellate(feet, np.zeros(2, dtype=int), {0: region})
    assert_tiles(t.cells, region)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(nx=st.integers(1, 4), ny=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_rotated_rectangle_footprints_tile_the_region(nx, ny, seed):
    # slab blocks at random orientations; derandomized so a rare GEOS robustness failure
    # cannot make the suite flaky (the axis-aligned case has its own examples above)
    rng = np.random.default_rng(seed)
    feet = []
    for r in range(ny):
        for c in range(nx):
            w, h = rng.uniform(10, 60, size=2)
            x = c * 100 + rng.uniform(5, 95 - w)
            y = r * 100 + rng.uniform(5, 95 - h)
            feet.append(affinity.rotate(box(x, y, x + w, y + h), float(rng.uniform(0, 90))))
    feet = np.array(feet, dtype=object)
    region = box(-50, -50, nx * 100 + 50, ny * 100 + 50)
    t = tessellate(feet, np.zeros(len(feet), dtype=int), {0: region})
    assert_tiles(t.cells, region)


def test_touching_footprints_get_their_own_squares(lattice_units):
    units = lattice_units(4, 3)
    feet = units.geometry.to_numpy()
    region = box(*units.total_bounds)
    t = tessellate(feet, np.zeros(len(feet), dtype=int), {0: region})
    assert_tiles(t.cells, region)
    # with nothing but the footprints, each cell is its footprint (within a metre's sliver)
    diff = shapely.area(shapely.symmetric_difference(t.cells, feet))
    assert diff.max() < 0.05 * 100 * 100


def test_two_regions_tile_separately():
    a, b = box(0, 0, 500, 500), box(500, 0, 1000, 500)
    rng = np.random.default_rng(3)
    east = rng.uniform(10, 490, (6, 2)) + np.array([500.0, 0.0])
    xy = np.vstack([rng.uniform(10, 490, (8, 2)), east])
    region_of = np.array(["A"] * 8 + ["B"] * 6, dtype=object)
    t = tessellate(shapely.points(xy), region_of, {"A": a, "B": b})
    assert_tiles(t.cells[:8], a)
    assert_tiles(t.cells[8:], b)
    assert set(t.face[:8]).isdisjoint(set(t.face[8:]))


def test_erased_areas_are_left_out():
    region = box(0, 0, 1000, 1000)
    school = box(400, 400, 600, 600)
    rng = np.random.default_rng(5)
    xy = rng.uniform(10, 990, (40, 2))
    xy = xy[~shapely.contains_xy(school.buffer(10), xy[:, 0], xy[:, 1])]
    t = tessellate(
        shapely.points(xy),
        np.zeros(len(xy), dtype=int),
        {0: region},
        erase=np.array([school], dtype=object),
    )
    assert_tiles(t.cells, region.difference(school))
    assert shapely.area(shapely.intersection(t.cells, school)).max() <= 1e-6


# ---------------------------------------------------------------------------------------------
# barriers
# ---------------------------------------------------------------------------------------------


@PROPERTY
@given(
    xy=random_points(max_n=40, stacked=False), x_cut=st.floats(200, 800), tilt=st.floats(-300, 300)
)
# cells meeting along the road through computed vertices, which a floating overlay reported
# as overlapping by 128,180 m2 (see conftest.overlap_area)
@example(
    xy=np.array(
        [
            [622.59355727, 889.26952495],
            [770.17197644, 230.70304619],
            [304.16295921, 866.08237649],
            [15.15999847, 814.80385002],
            [791.12804018, 468.57625379],
            [306.97177828, 282.85709986],
            [259.7721959, 446.17477976],
        ]
    ),
    x_cut=374.125,
    tilt=-10.25,
)
def test_barrier_line_separates_faces(xy, x_cut, tilt):
    region = box(0, 0, 1000, 1000)
    # a straight road from the bottom edge to the top edge, overshooting both
    line = LineString([(x_cut - tilt, -50.0), (x_cut + tilt, 1050.0)])
    left = shapely.polygons([(-100, -50), (x_cut - tilt, -50), (x_cut + tilt, 1050), (-100, 1050)])
    # keep units off the road itself, and at least one on each side (the road crosses y=500
    # at x_cut)
    xy = xy[shapely.distance(line, shapely.points(xy)) > 1.0]
    xy = np.vstack([xy, [[x_cut - 150.0, 500.0], [x_cut + 150.0, 500.0]]])
    side = shapely.contains_xy(left, xy[:, 0], xy[:, 1])
    pts = shapely.points(xy)
    t = tessellate(pts, np.zeros(len(pts), dtype=int), {0: region}, barriers=np.array([line]))
    assert_tiles(t.cells, region)
    for s in (True, False):
        faces = set(t.face[side == s].tolist())
        assert len(faces) == 1, "units on one side of a straight road share one face"
    assert t.face[side][0] != t.face[~side][0]
    # no cell reaches across the road
    half = np.where(side, left, shapely.difference(region, left))
    outside = shapely.area(shapely.difference(t.cells, shapely.buffer(half, 1e-6)))
    assert outside.max() <= 1e-6


def test_barrier_cutting_an_empty_corner_keeps_the_tiling():
    region = box(0, 0, 1000, 1000)
    corner_road = LineString([(-10, 200), (200, -10)])  # cuts off an empty triangle
    xy = np.array([[500.0, 500.0], [700.0, 300.0], [300.0, 700.0], [800, 800]])
    t = tessellate(
        shapely.points(xy), np.zeros(4, dtype=int), {0: region}, barriers=np.array([corner_road])
    )
    assert_tiles(t.cells, region)
    assert len(set(t.face.tolist())) == 1


def test_empty_side_of_a_slanted_road_is_absorbed():
    region = box(0, 0, 1000, 1000)
    road = LineString([(297.0, -50.0), (303.0, 1050.0)])
    xy = np.array([[400.272025520955, 885.9557554984804], [405.3182873643735, 679.3445305674122]])
    t = tessellate(
        shapely.points(xy), np.zeros(2, dtype=int), {0: region}, barriers=np.array([road])
    )
    assert_tiles(t.cells, region)


def test_empty_side_of_a_straight_road_is_absorbed():
    # the same layout with a north-south road: exact coordinates, the empty side is absorbed
    region = box(0, 0, 1000, 1000)
    road = LineString([(300.0, -50.0), (300.0, 1050.0)])
    xy = np.array([[400.272025520955, 885.9557554984804], [405.3182873643735, 679.3445305674122]])
    t = tessellate(
        shapely.points(xy), np.zeros(2, dtype=int), {0: region}, barriers=np.array([road])
    )
    assert_tiles(t.cells, region)


def test_dead_end_road_does_not_make_a_face():
    # a road that stops inside the region does not close a face: one face only
    region = box(0, 0, 1000, 1000)
    spur = LineString([(500, -10), (500, 600)])
    xy = np.array([[250.0, 250.0], [750.0, 250.0], [500.0, 900.0]])
    t = tessellate(
        shapely.points(xy), np.zeros(3, dtype=int), {0: region}, barriers=np.array([spur])
    )
    assert_tiles(t.cells, region)
    assert len(set(t.face.tolist())) == 1


# ---------------------------------------------------------------------------------------------
# region_hulls
# ---------------------------------------------------------------------------------------------


def test_region_hulls_cover_their_units():
    rng = np.random.default_rng(8)
    xy = np.vstack([rng.uniform(0, 300, (10, 2)), rng.uniform(2000, 2300, (7, 2))])
    geoms = shapely.points(xy)
    groups = np.array(["a"] * 10 + ["b"] * 7, dtype=object)
    hulls = region_hulls(geoms, groups)
    assert set(hulls) == {"a", "b"}
    assert shapely.covers(hulls["a"], geoms[:10]).all()
    assert shapely.covers(hulls["b"], geoms[10:]).all()
    assert not shapely.intersects(hulls["a"], hulls["b"])


# ---------------------------------------------------------------------------------------------
# slice_polygon
# ---------------------------------------------------------------------------------------------


def assert_strips(strips, poly, n: int) -> None:
    assert len(strips) == n
    strips = np.asarray(strips, dtype=object)
    assert (shapely.area(strips) > 0).all(), "an empty strip"
    assert shapely.area(strips).sum() == pytest.approx(poly.area, rel=1e-9)
    assert overlap_area(strips) <= 1e-9 * poly.area
    assert shapely.symmetric_difference(shapely.union_all(strips), poly).area <= 1e-9 * poly.area


@pytest.mark.parametrize("angle", [0.0, 30.0, 90.0, 137.0])
def test_slice_rectangle_into_equal_strips(angle):
    rect = affinity.rotate(box(0, 0, 100, 20), angle, origin=(0, 0))
    strips = slice_polygon(rect, 5)
    assert_strips(strips, rect, 5)
    # cut across the long side: five 20 x 20 squares
    np.testing.assert_allclose(shapely.area(np.array(strips, dtype=object)), 400.0, rtol=1e-9)
    for s in strips:
        assert shapely.minimum_rotated_rectangle(s).length == pytest.approx(80.0, rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 7))
def test_slice_random_polygon_conserves_area(seed, n):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 100, (12, 2)) * [1.0, rng.uniform(0.1, 1.0)]
    poly = shapely.convex_hull(shapely.multipoints(pts))
    if poly.area < 1.0:
        return
    poly = affinity.rotate(poly, float(rng.uniform(0, 180)))
    assert_strips(slice_polygon(poly, n), poly, n)


def test_slice_l_shaped_footprint():
    ell = Polygon([(0, 0), (60, 0), (60, 10), (10, 10), (10, 40), (0, 40)])
    for n in (2, 3, 4):
        assert_strips(slice_polygon(ell, n), ell, n)


def test_slice_into_one_is_the_polygon():
    p = Point(0, 0).buffer(10)
    assert slice_polygon(p, 1) == [p]


@pytest.mark.parametrize(("n", "rows"), [(4, 2), (9, 3), (10, 3)])
def test_slice_square_block_into_near_square_slices(n, rows):
    from gridplan.tessellation import slice_layout

    assert len(slice_layout(n, 120.0, 120.0)) == rows
    # a square footprint cut into many parts: rows of slices, not n long thin strips
    sq = affinity.rotate(box(0, 0, 120, 120), 20.0, origin=(0, 0))
    slices = slice_polygon(sq, n, compact=True)
    assert_strips(slices, sq, n)
    arr = np.asarray(slices, dtype=object)
    pp = 4 * np.pi * shapely.area(arr) / shapely.length(arr) ** 2
    assert pp.min() > 0.6, pp  # a 1:n strip of a square has PP 0.35 (n = 9) or less
    # row heights follow their slice counts: on a rectangle every slice has the same area
    np.testing.assert_allclose(shapely.area(arr), sq.area / n, rtol=1e-9)
    # without compact (micro-grids' stairwell slices): strips across the long axis
    strips = np.asarray(slice_polygon(sq, n), dtype=object)
    assert_strips(strips, sq, n)
    pp_strips = 4 * np.pi * shapely.area(strips) / shapely.length(strips) ** 2
    assert pp_strips.min() < 0.6
    assert len(shapely.get_coordinates(shapely.centroid(arr))) == n


# slices of two Queenstown micro-grids (EPSG:3414) whose edges were cut by different slicing
# steps: a cascaded union snapped to 1 cm leaves each as two polygons touching at a point
_TOUCHING_SLICES = (
    (
        (
            "010300000001000000050000005ED2D982986616418227A0F8A778014186EADB15A5661641B06CE05D22"
            "770141803A2C3B74661641E4DCAB441C7701419204CB5B676616410E8EB7C0B87801415ED2D982986616"
            "418227A0F8A7780141"
        ),
        (
            "01030000000100000007000000236D06B4C0661641593792F1A17A0141B08EF905AE6616418787EDADD0"
            "7801415ED2D982986616418227A0F8A7780141E0282F575F6616415F1D847DBB78014108E2E453776616"
            "4143749CF1107B014111009B12A6661641F10149341E7B0141236D06B4C0661641593792F1A17A0141"
        ),
        (
            "01030000000100000004000000052B4141026716411B39CB1270790141B08EF905AE6616418787EDADD0"
            "780141236D06B4C0661641593792F1A17A0141052B4141026716411B39CB1270790141"
        ),
    ),
    (
        (
            "01030000000100000005000000E07D59A8B4661641828B2B9FE8750141FBDF9A980F6616416D8BA77654"
            "7401416ADF6DA1C0651641D5440D7AA1740141307301EDAD6616414EEC7A9EF3750141E07D59A8B46616"
            "41828B2B9FE8750141"
        ),
        (
            "010300000001000000050000002E5A4DE3F66616413294036D7C7501418CE0C78F5E66164105D2417307"
            "740141FBDF9A980F6616416D8BA77654740141E07D59A8B4661641828B2B9FE87501412E5A4DE3F66616"
            "413294036D7C750141"
        ),
        (
            "010300000001000000050000006ADF6DA1C0651641D5440D7AA1740141CFD8FFE0B56516413AE9B56DA2"
            "740141DFE1F657AC6516410087DDAF02750141EB3F24F0266616418A567143337501416ADF6DA1C06516"
            "41D5440D7AA1740141"
        ),
    ),
)


@pytest.mark.parametrize("hexes", _TOUCHING_SLICES)
def test_dissolve_joins_cells_that_share_an_edge_into_one_polygon(hexes):
    cells = np.array([shapely.from_wkb(h) for h in hexes], dtype=object)
    # the cells do share metres of edge (at 1 mm snapping), so they are one micro-grid
    shared = [
        shapely.length(shapely.intersection(cells[i], cells[j], grid_size=1e-3))
        for i in range(3)
        for j in range(i + 1, 3)
    ]
    assert sorted(shared)[-2] > 10.0
    assert shapely.get_num_geometries(shapely.union_all(cells, grid_size=0.01)) == 2
    out = dissolve(cells)
    assert out.geom_type == "Polygon" and out.is_valid
    assert abs(out.area - shapely.area(cells).sum()) < 0.01 * out.length


def test_dissolve_keeps_cells_that_are_apart_as_parts():
    cells = np.array([box(0, 0, 10, 10), box(10, 10, 20, 20), box(40, 0, 50, 10)], dtype=object)
    out = dissolve(cells)
    assert out.geom_type == "MultiPolygon" and len(out.geoms) == 3


def test_compact_slices_of_a_block_with_a_thin_tail_stay_equal_and_near_square():
    # a block that is a square with a lane-wide tail (a cell cut out along a road): slices
    # at equal distances would leave lattice cells in the tail's gap empty, and the block
    # would be cut into nine 300 m strips instead (Taiyuan, a 10,924-household building)
    block = box(0, 0, 300, 300).union(box(290, -200, 300, 0))
    slices = np.asarray(slice_polygon(block, 9, compact=True), dtype=object)
    assert_strips(slices, block, 9)
    np.testing.assert_allclose(shapely.area(slices), block.area / 9, rtol=0.03)
    pp = 4 * np.pi * shapely.area(slices) / shapely.length(slices) ** 2
    assert np.median(pp) > 0.6, pp  # strips of it would have PP below 0.35
