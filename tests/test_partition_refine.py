"""The one boundary local search: band violations go first, every part stays connected, the
disruption term keeps households where they are, and barrier edges can be closed to moves."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csgraph
from shapely.geometry import LineString, box

from gridplan.graph import UnitGraph, build_graph, from_edges
from gridplan.partition.refine import Disruption, InertiaCost, ShapeCost, refine


def lattice(nx: int, ny: int, *, weight: int = 10, barriers=None) -> UnitGraph:
    cells = np.array(
        [box(c * 100, r * 100, (c + 1) * 100, (r + 1) * 100) for r in range(ny) for c in range(nx)],
        dtype=object,
    )
    xy = shapely.get_coordinates(shapely.centroid(cells))
    return build_graph(cells, xy, weight=np.full(nx * ny, weight), barriers=barriers)


def centred_cols(g: UnitGraph) -> np.ndarray:
    m = g.mass.astype(float)
    x = g.xy[:, 0] - g.xy[:, 0].mean()
    y = g.xy[:, 1] - g.xy[:, 1].mean()
    return np.column_stack([m, m * x, m * y, m * (x * x + y * y)])


def connected(g: UnitGraph, labels: np.ndarray) -> bool:
    for p in np.unique(labels):
        nodes = np.flatnonzero(labels == p)
        if csgraph.connected_components(g.adjacency[nodes][:, nodes], directed=False)[0] != 1:
            return False
    return True


def violation(g: UnitGraph, labels: np.ndarray, lo: float, hi: float) -> float:
    sums = np.bincount(labels, weights=g.weight.astype(float))
    return float(np.maximum(lo - sums, 0).sum() + np.maximum(sums - hi, 0).sum())


def test_band_violation_goes_before_compactness():
    # a 6 x 1 row split 5 | 1 with a band of exactly 30 per part: the only fix is to move units
    # across, which makes nothing more compact but ends in band
    g = lattice(6, 1)
    out = refine(g, np.array([0, 0, 0, 0, 0, 1]), lo=30, hi=30, passes=8)
    assert out.tolist() == [0, 0, 0, 1, 1, 1]


def test_compactness_moves_never_leave_the_band():
    # two ragged in-band halves of a 4 x 4 lattice become the two compact halves
    g = lattice(4, 4)
    labels = np.array([0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1])
    out = refine(g, labels, lo=80, hi=80, passes=8)
    assert violation(g, out, 80, 80) == 0
    assert connected(g, out)
    cost = InertiaCost(g)
    cost.start(labels, [0, 1])
    before = sum(cost.leave(0, p)[0] for p in (0, 1))
    cost.start(out, [0, 1])
    after = sum(cost.leave(0, p)[0] for p in (0, 1))
    assert after <= before


@settings(max_examples=30, deadline=None)
@given(nx=st.integers(3, 7), ny=st.integers(2, 6), seed=st.integers(0, 10_000))
def test_parts_stay_connected_and_violation_never_grows(nx, ny, seed):
    rng = np.random.default_rng(seed)
    n = nx * ny
    w = rng.integers(1, 40, n)
    g = from_edges(
        n,
        *lattice_pairs(nx, ny),
        weight=w,
        xy=np.column_stack([np.arange(n) % nx * 100.0, np.arange(n) // nx * 100.0]),
    )
    # contiguous start: columns in two or three bands
    k = int(rng.integers(2, 4))
    labels = np.minimum(np.arange(n) % nx * k // nx, k - 1)
    total = float(w.sum())
    lo, hi = 0.8 * total / k, 1.2 * total / k
    out = refine(g, labels, lo=lo, hi=hi, passes=6)
    assert connected(g, out)
    assert set(out.tolist()) == set(labels.tolist()), "a part vanished"
    assert violation(g, out, lo, hi) <= violation(g, labels, lo, hi) + 1e-9


def lattice_pairs(nx: int, ny: int) -> tuple[np.ndarray, np.ndarray]:
    k = np.arange(nx * ny).reshape(ny, nx)
    i = np.concatenate([k[:, :-1].ravel(), k[:-1, :].ravel()])
    j = np.concatenate([k[:, 1:].ravel(), k[1:, :].ravel()])
    return i, j


@pytest.mark.parametrize("weight, kept", [(0.0, False), (50.0, True)])
def test_disruption_term_keeps_households_in_their_current_part(weight, kept):
    # current parts on a 6 x 4 lattice: a staircase split, in band but less compact than the
    # straight one; shape alone moves units, a heavy disruption weight keeps them in place
    g = lattice(6, 4)
    col = np.arange(24) % 6
    row = np.arange(24) // 6
    previous = np.where(col + (row >= 2) < 3, 0, 1)
    assert np.bincount(previous).tolist() == [10, 14]
    terms = [
        ShapeCost(g, centred_cols(g), w0=120.0),
        Disruption(g, previous, weight=weight, w0=120.0),
    ]
    out = refine(g, previous, lo=90, hi=150, passes=8, cost=terms)
    assert connected(g, out)
    assert violation(g, out, 90, 150) == 0
    assert (out == previous).all() == kept


def test_barrier_edges_can_be_closed_to_moves():
    # a row of eight with a river between units 2 and 3, split 3 | 5 against a band of 40:
    # the only fix moves unit 3 across the river, which ``cross=False`` forbids
    river = LineString([(300, -10), (300, 110)])
    g = lattice(8, 1, barriers=np.array([river], dtype=object))
    assert g.crossing.sum() == 2  # the one edge 2-3, stored both ways
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    moved = refine(g, labels, lo=40, hi=40, passes=8)
    assert moved.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    held = refine(g, labels, lo=40, hi=40, passes=8, cross=False)
    assert held.tolist() == labels.tolist()


def test_only_the_given_parts_and_nodes_take_part():
    g = lattice(6, 1)
    labels = np.array([0, 0, 0, 0, 1, 2])
    out = refine(g, labels, lo=20, hi=20, passes=8, parts=[0, 1])
    assert out[5] == 2, "a unit of a part outside ``parts`` moved"
    assert np.bincount(out)[:2].tolist() == [3, 2]
    frozen = refine(g, labels, lo=20, hi=20, passes=8, nodes=np.array([0, 1]))
    assert frozen.tolist() == labels.tolist(), "only units 0 and 1 may move, and none should"
