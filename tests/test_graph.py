"""The unit graph: cells sharing an edge are neighbours (touching corners are not), an edge
whose units a barrier separates is flagged with that barrier, and the one graph type
(:class:`gridplan.graph.UnitGraph`) keeps every per-entry array aligned with its CSR entries,
in the full graph and in every piece cut from it."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, box

from gridplan.graph import (
    CROSSING_PENALTY,
    UnitGraph,
    build_graph,
    cell_edges,
    from_edges,
    in_band,
    inertia,
)


def lattice_cells(nx: int, ny: int, cell: float = 100.0):
    cells = np.array(
        [
            box(c * cell, r * cell, (c + 1) * cell, (r + 1) * cell)
            for r in range(ny)
            for c in range(nx)
        ],
        dtype=object,
    )
    xy = shapely.get_coordinates(shapely.centroid(cells))
    return cells, xy


def four_neighbours(nx: int, ny: int) -> set[tuple[int, int]]:
    out = set()
    for r in range(ny):
        for c in range(nx):
            k = r * nx + c
            if c + 1 < nx:
                out.add((k, k + 1))
            if r + 1 < ny:
                out.add((k, k + nx))
    return out


def edge_set(e) -> set[tuple[int, int]]:
    return set(zip(e.i.tolist(), e.j.tolist(), strict=True))


@settings(max_examples=25, deadline=None)
@given(nx=st.integers(1, 9), ny=st.integers(1, 9))
def test_lattice_cells_give_four_neighbour_edges(nx, ny):
    cells, xy = lattice_cells(nx, ny)
    e = cell_edges(cells, xy)
    assert (e.i < e.j).all()
    # diagonal cells touch at a point only: no edge
    assert edge_set(e) == four_neighbours(nx, ny)
    assert len(e) == len(four_neighbours(nx, ny))
    np.testing.assert_allclose(e.shared_m, 100.0)
    assert not e.crossing.any()
    assert (e.barrier == -1).all()


def test_short_shared_boundary_is_not_an_edge():
    # two cells sharing 0.3 m of boundary (below min_shared_m = 0.5) and two sharing 2 m
    a = box(0, 0, 10, 10)
    b = box(10, 9.7, 20, 19.7)  # shares y 9.7..10 with a
    c = box(0, 10, 2, 20)  # shares x 0..2 with a
    cells = np.array([a, b, c], dtype=object)
    xy = shapely.get_coordinates(shapely.centroid(cells))
    e = cell_edges(cells, xy)
    assert edge_set(e) == {(0, 2)}
    assert e.shared_m[0] == pytest.approx(2.0)
    # with a lower threshold the 0.3 m contact counts too
    loose = cell_edges(cells, xy, min_shared_m=0.1)
    assert edge_set(loose) == {(0, 1), (0, 2)}


def test_empty_and_missing_cells_have_no_edges():
    cells, xy = lattice_cells(3, 1)
    cells = cells.copy()
    cells[1] = shapely.Polygon()
    e = cell_edges(cells, xy)
    assert len(e) == 0
    cells[1] = None
    assert len(cell_edges(cells, xy)) == 0


def test_barrier_crossing_edges_name_their_barrier():
    nx, ny = 4, 3
    cells, xy = lattice_cells(nx, ny)
    far_road = LineString([(5000, 0), (5000, 300)])  # index 0, far away
    river = LineString([(200, -20), (200, 320)])  # index 1, between columns 1 and 2
    e = cell_edges(cells, xy, barriers=np.array([far_road, river], dtype=object))
    assert edge_set(e) == four_neighbours(nx, ny)
    col_i, col_j = e.i % nx, e.j % nx
    across = (col_i <= 1) != (col_j <= 1)
    assert across.sum() == ny
    np.testing.assert_array_equal(e.crossing, across)
    np.testing.assert_array_equal(e.barrier, np.where(across, 1, -1))


def test_dead_end_road_still_cuts_the_edges_it_crosses():
    # a spur that stops half way up: the segments it crosses are cut, the rest are not
    cells, xy = lattice_cells(2, 4)
    spur = LineString([(100, -10), (100, 210)])
    e = cell_edges(cells, xy, barriers=np.array([spur], dtype=object))
    horizontal = e.j == e.i + 1
    rows = e.i // 2
    expected = horizontal & (rows <= 1)
    np.testing.assert_array_equal(e.crossing, expected)
    assert (e.barrier[expected] == 0).all()
    assert (e.barrier[~expected] == -1).all()


def test_face_difference_marks_crossing_and_names_the_nearest_barrier():
    # faces say units 0|1 are apart, but the straight segment between them misses the line (a
    # road bending around them): the edge is still a crossing and takes the nearest line
    cells, xy = lattice_cells(2, 1)
    face = np.array([0, 1])
    bend = LineString([(100, 120), (100, 400)])  # ends just above the shared edge
    elsewhere = LineString([(3000, 0), (3000, 100)])
    e = cell_edges(cells, xy, face=face, barriers=np.array([elsewhere, bend], dtype=object))
    assert len(e) == 1
    assert e.crossing[0]
    assert e.barrier[0] == 1


def test_face_difference_without_barriers():
    cells, xy = lattice_cells(3, 1)
    e = cell_edges(cells, xy, face=np.array([0, 0, 1]))
    crossing = dict(zip(zip(e.i.tolist(), e.j.tolist(), strict=True), e.crossing, strict=True))
    assert crossing == {(0, 1): False, (1, 2): True}
    assert (e.barrier == -1).all()


def test_subset_keeps_columns_aligned():
    cells, xy = lattice_cells(3, 2)
    e = cell_edges(cells, xy, barriers=np.array([LineString([(100, -5), (100, 205)])]))
    keep = e.crossing.copy()
    s = e.subset(keep)
    assert len(s) == int(keep.sum())
    np.testing.assert_array_equal(s.i, e.i[keep])
    np.testing.assert_array_equal(s.barrier, e.barrier[keep])


def test_from_edges_is_symmetric_with_positive_costs():
    i = np.array([0, 1, 2])
    j = np.array([1, 2, 3])
    cost = np.array([5.0, 0.0, 2.5])
    m = from_edges(4, i, j, weight=np.ones(4, dtype=np.int64), xy=np.zeros((4, 2)), cost=cost)
    m = m.adjacency
    assert m.shape == (4, 4)
    d = m.toarray()
    np.testing.assert_array_equal(d, d.T)
    assert d[0, 1] == 5.0
    assert d[1, 2] > 0, "a zero cost must not drop the edge"
    assert m.nnz == 6


@pytest.mark.parametrize("seed", range(6))
def test_slices_cut_from_a_cell_keep_their_neighbours(seed):
    # A building's cell cut into strips gets computed vertices on its old edges, a few
    # 1e-11 m off the line; a floating overlay then meets the neighbour in one point. The
    # shared edge must still count (micro-grids of that building would otherwise be cut off).
    from gridplan.tessellation import slice_polygon

    rng = np.random.default_rng(seed)
    a = np.array([381765.236382418, 147697.61560801446]) + rng.normal(0, 5, 2)
    b = a + np.array([26.85, -0.684]) + rng.normal(0, 3, 2)
    below = shapely.Polygon([a, b, b + np.array([41, -111]), a + np.array([-60, -103])])
    above = shapely.Polygon(
        [b, a, a + np.array([-23, 23]), a + np.array([17, 146]), b + np.array([21, 19])]
    )
    strips = slice_polygon(below, 2)
    cells = np.array([above, *strips], dtype=object)
    xy = shapely.get_coordinates(shapely.point_on_surface(cells))
    edges = cell_edges(cells, xy, min_shared_m=0.05)
    found = {int(j) for i, j in zip(edges.i, edges.j, strict=True) if i == 0}
    # independent measure: the strip's outline lying within 1 mm of the neighbour's outline
    near = shapely.buffer(shapely.boundary(above), 1e-3)
    touching = {
        s + 1
        for s, strip in enumerate(strips)
        if shapely.length(shapely.intersection(shapely.boundary(strip), near)) >= 0.05
    }
    assert touching, "the case must have a strip along the shared edge"
    assert found == touching


# --- the graph type ---------------------------------------------------------------------------


def entry_of(g: UnitGraph) -> dict[tuple[int, int], int]:
    """(from, to) -> position of that stored entry."""
    src = g.sources.tolist()
    return {(a, b): k for k, (a, b) in enumerate(zip(src, g.indices.tolist(), strict=True))}


def test_build_graph_flags_each_entry_with_the_barrier_it_crosses():
    nx, ny = 4, 3
    cells, xy = lattice_cells(nx, ny)
    far_road = LineString([(5000, 0), (5000, 300)])  # barrier 0, crosses nothing
    river = LineString([(200, -20), (200, 320)])  # barrier 1, between columns 1 and 2
    g = build_graph(
        cells, xy, weight=np.full(nx * ny, 10), barriers=np.array([far_road, river], dtype=object)
    )
    assert g.n == nx * ny and g.indices.shape[0] == 2 * len(four_neighbours(nx, ny))
    ent = entry_of(g)
    for (a, b), k in ent.items():
        across = (a % nx <= 1) != (b % nx <= 1)
        assert g.crossing[k] == across
        assert g.barrier[k] == (1 if across else -1)
        # both directions of an edge carry the same figures
        r = ent[(b, a)]
        assert (g.shared[k], g.crossing[r], g.barrier[r]) == (
            g.shared[r],
            g.crossing[k],
            g.barrier[k],
        )
        # tree costs: distance + 1 m, times the one crossing penalty across the river
        assert g.cost[k] == pytest.approx(101.0 * (CROSSING_PENALTY if across else 1.0))
    np.testing.assert_allclose(g.shared, 100.0)
    np.testing.assert_allclose(g.mass, 100.0 * 100.0)
    np.testing.assert_allclose(g.perimeter, 400.0)
    # the cost adjacency is symmetric and has one value per stored entry
    adj = g.adjacency.toarray()
    np.testing.assert_array_equal(adj, adj.T)
    assert g.adjacency.nnz == g.indices.shape[0]


def test_build_graph_never_joins_two_regions_and_links_isolated_units():
    cells, xy = lattice_cells(4, 1)
    cells = np.concatenate([cells, [box(900, 900, 950, 950)]])  # a lone cell, region 0
    xy = np.vstack([xy, [[925.0, 925.0]]])
    region = np.array([0, 0, 1, 1, 0])
    g = build_graph(cells, xy, weight=np.ones(5, dtype=np.int64), region=region)
    ent = entry_of(g)
    assert (1, 2) not in ent, "an edge between two regions"
    assert {(0, 1), (2, 3)} <= set(ent)
    assert g.linked.size == 0 and np.diff(g.indptr)[4] == 0
    linked = build_graph(cells, xy, weight=np.ones(5), region=region, link_isolated=True)
    assert linked.linked.tolist() == [4]
    # linked to its nearest unit in its own region (unit 1), never to unit 3 in region 1
    assert linked.indices[linked.indptr[4] : linked.indptr[5]].tolist() == [1]


def test_subgraph_is_the_same_type_with_entries_in_scipy_order():
    nx, ny = 5, 4
    cells, xy = lattice_cells(nx, ny)
    river = LineString([(200, -20), (200, 420)])
    g = build_graph(cells, xy, weight=np.arange(nx * ny), barriers=np.array([river]))
    nodes = np.array([13, 2, 7, 8, 3, 12, 1])  # any order, as pieces are cut
    sub = g.subgraph(nodes)
    assert isinstance(sub, UnitGraph) and sub.n == nodes.size
    ref = g.adjacency[nodes][:, nodes]
    np.testing.assert_array_equal(sub.indptr, ref.indptr)
    np.testing.assert_array_equal(sub.indices, ref.indices)
    np.testing.assert_array_equal(sub.cost, ref.data)
    full = entry_of(g)
    for (a, b), k in entry_of(sub).items():
        k0 = full[(int(nodes[a]), int(nodes[b]))]
        assert (sub.shared[k], sub.crossing[k], sub.barrier[k]) == (
            g.shared[k0],
            g.crossing[k0],
            g.barrier[k0],
        )
    np.testing.assert_array_equal(sub.weight, g.weight[nodes])
    np.testing.assert_array_equal(sub.xy, g.xy[nodes])
    # ``keep`` drops entries: here every barrier edge
    calm = g.subgraph(nodes, keep=~g.crossing)
    assert not calm.crossing.any()
    assert calm.indices.shape[0] == sub.indices.shape[0] - int(sub.crossing.sum())


def test_from_edges_merges_an_edge_given_twice():
    # contracted compounds touch along several cell edges: one entry, costs and lengths summed
    g = from_edges(
        3,
        [0, 0, 1],
        [1, 1, 2],
        weight=np.ones(3),
        xy=np.zeros((3, 2)),
        shared=[2.0, 3.0, 1.0],
        crossing=[False, True, False],
        barrier=[-1, 4, -1],
    )
    ent = entry_of(g)
    assert len(ent) == 4
    k = ent[(0, 1)]
    assert g.shared[k] == 5.0 and g.crossing[k] and g.barrier[k] == 4
    assert g.cost[k] == pytest.approx(1.0 + CROSSING_PENALTY)


def test_part_perimeter_is_the_perimeter_of_the_union():
    cells, xy = lattice_cells(3, 3)
    g = build_graph(cells, xy, weight=np.ones(9))
    for nodes in ([0], [0, 1], [0, 1, 3, 4], [1, 3, 4, 5, 7], list(range(9))):
        union = shapely.union_all(cells[nodes])
        assert g.part_perimeter(np.array(nodes)) == pytest.approx(union.length)


def test_inertia_and_band_agree_on_floats_and_arrays():
    m = np.array([2.0, 0.0, 4.0])
    sx, sy, sq = np.array([0.0, 0.0, 4.0]), np.array([0.0, 0.0, 0.0]), np.array([2.0, 0.0, 8.0])
    arr = inertia(m, sx, sy, sq)
    assert arr.tolist() == [
        inertia(float(a), float(b), float(c), float(d))
        for a, b, c, d in zip(m, sx, sy, sq, strict=True)
    ]
    assert arr.tolist() == [2.0, 0.0, 4.0]
    totals = np.array([299.0, 300.0, 500.0, 501.0])
    assert in_band(totals, 300, 500).tolist() == [bool(in_band(float(t), 300, 500)) for t in totals]
    assert in_band(totals, 300, 500).tolist() == [False, True, True, False]


def test_engine_modules_import_no_private_names_and_core_does_not_cycle_with_exact():
    import ast
    from pathlib import Path

    import gridplan

    root = Path(gridplan.__file__).parent
    engine = [
        root / "graph.py",
        root / "codes.py",
        *(root / "partition").glob("[ce]*.py"),
        root / "partition" / "refine.py",
        *(root / "reform").glob("*.py"),
    ]
    private = []
    for path in engine:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (
                node.level or "gridplan" in (node.module or "")
            ):
                private += [(path.name, a.name) for a in node.names if a.name.startswith("_")]
    assert private == []
    exact = ast.parse((root / "partition" / "exact.py").read_text())
    imported = {n.module for n in ast.walk(exact) if isinstance(n, ast.ImportFrom)}
    assert "core" not in imported and "graph" in {m.split(".")[-1] for m in imported if m}


def test_edges_of_a_built_graph_are_the_cell_edges_within_regions():
    """UnitGraph.edges gives each edge once, with the shared length and barrier the cell
    edges have, and none between regions."""
    cells = np.array([box(c, r, c + 1, r + 1) for r in range(3) for c in range(4)], dtype=object)
    xy = shapely.get_coordinates(shapely.centroid(cells))
    region = np.array([0, 0, 1, 1] * 3)
    road = np.array([LineString([(0, 1.5), (4, 1.5)])], dtype=object)
    g = build_graph(cells, xy, weight=np.ones(12, dtype=np.int64), region=region, barriers=road)
    e = g.edges()
    want = cell_edges(cells, xy, barriers=road)
    want = want.subset(region[want.i] == region[want.j])
    got = sorted(
        zip(e.i.tolist(), e.j.tolist(), e.shared_m.tolist(), e.barrier.tolist(), strict=True)
    )
    ref = sorted(
        zip(
            want.i.tolist(),
            want.j.tolist(),
            want.shared_m.tolist(),
            want.barrier.tolist(),
            strict=True,
        )
    )
    assert got == ref
    # per region of 2 x 3 cells: 3 edges across, 4 up
    assert (e.i < e.j).all() and len(e) == 2 * (3 + 4)
