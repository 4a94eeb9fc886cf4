"""The shared piece splitter: ``band_admits``, ``choose_k`` and ``split_piece``.

Invariants are checked with hypothesis on random lattices and on random planar graphs
(Delaunay triangulations of random points): every unit gets exactly one label in ``0..k-1``,
every part is non-empty and connected, the ``in_band`` flag tells the truth, the same seed gives
the same labels, and easy instances (light units, a part count whose mean size sits in the
middle of the band) come out entirely within the band.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csgraph

from gridplan.config import band_admits
from gridplan.graph import UnitGraph, from_edges
from gridplan.partition.core import choose_k, split_piece

BANDS = [(30, 50), (300, 500), (12, 20)]
PROPERTY = settings(max_examples=25, deadline=None)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def part_sums(labels: np.ndarray, weight: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(labels, weights=weight.astype(float), minlength=k)


def assert_valid_partition(g: UnitGraph, res) -> None:
    """Labels in 0..k-1, every part non-empty and connected, ``in_band`` truthful."""
    labels = np.asarray(res.labels)
    assert labels.shape == (g.n,)
    assert np.issubdtype(labels.dtype, np.integer)
    assert labels.min() >= 0
    assert labels.max() < res.k
    assert set(np.unique(labels).tolist()) == set(range(res.k)), "a part is empty"
    for p in range(res.k):
        idx = np.flatnonzero(labels == p)
        sub = g.adjacency[idx][:, idx]
        n_comp, _ = csgraph.connected_components(sub, directed=False)
        assert n_comp == 1, f"part {p} ({idx.size} units) falls into {n_comp} pieces"


def band_flag_matches(res, g: UnitGraph, lo: float, hi: float) -> bool:
    sums = part_sums(res.labels, g.weight, res.k)
    return bool(np.all((sums >= lo) & (sums <= hi))) == res.in_band


def assert_count(res, k: int, total: float, lo: float, hi: float) -> None:
    """The preferred count ``k`` or, when that misses the band, a neighbouring admissible
    count (k +- 1, 2); the least-violating fallback may lose parts it could not cut (a unit
    above the ceiling); the exact model picks its own count."""
    k_min, k_max = band_admits(total, lo, hi)
    if res.method == "exact":
        assert res.in_band
        assert k_min <= res.k <= k_max
    elif res.fallback:
        assert 1 <= res.k <= k + 2
    elif res.k != k:
        assert abs(res.k - k) <= 2
        assert k_min <= res.k <= k_max


def comfortable_ks(total: int, n: int, lo: int, hi: int) -> list[int]:
    """Part counts whose mean size lies in the middle half of the band."""
    q = (hi - lo) / 4
    return [k for k in range(1, n + 1) if lo + q <= total / k <= hi - q]


@st.composite
def lattice_case(draw, *, easy: bool, max_side: int = 8):
    lo, hi = draw(st.sampled_from(BANDS))
    nx = draw(st.integers(2, max_side))
    ny = draw(st.integers(1, max_side))
    wmax = (hi - lo) // 2 if easy else draw(st.sampled_from([(hi - lo) // 2, hi, hi + hi // 4]))
    w = draw(st.lists(st.integers(1, wmax), min_size=nx * ny, max_size=nx * ny))
    return lo, hi, nx, ny, np.asarray(w, dtype=np.int64)


@st.composite
def delaunay_case(draw, *, easy: bool, max_n: int = 60):
    lo, hi = draw(st.sampled_from(BANDS))
    n = draw(st.integers(4, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0.0, 1000.0, size=(n, 2))
    wmax = (hi - lo) // 2 if easy else draw(st.sampled_from([(hi - lo) // 2, hi, hi + hi // 4]))
    w = rng.integers(1, wmax + 1, size=n)
    return lo, hi, xy, w


# ---------------------------------------------------------------------------------------------
# band_admits and choose_k: exact values
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "lo", "hi", "expected"),
    [
        (1200, 300, 500, (3, 4)),
        (550, 300, 500, (2, 1)),
        (500, 300, 500, (1, 1)),
        (501, 300, 500, (2, 1)),
        (599, 300, 500, (2, 1)),
        (600, 300, 500, (2, 2)),
        (300, 300, 500, (1, 1)),
        (299, 300, 500, (1, 0)),
        (1000, 300, 500, (2, 3)),
        (1500, 300, 500, (3, 5)),
        (2000, 300, 500, (4, 6)),
        (45, 30, 50, (1, 1)),
        (55, 30, 50, (2, 1)),
        (60, 30, 50, (2, 2)),
        (0, 300, 500, (0, 0)),
    ],
)
def test_band_admits_values(total, lo, hi, expected):
    assert band_admits(total, lo, hi) == expected


def test_band_admits_300_500_fits_exactly_outside_the_two_gaps():
    # by hand: k=1 covers 300..500, k=2 600..1000, k=3 900..1500, ... and from 600 on the
    # ranges overlap, so the only totals without an in-band count are 1..299 and 501..599
    for total in range(1, 3001):
        k_min, k_max = band_admits(total, 300, 500)
        expected = 300 <= total <= 500 or total >= 600
        assert (k_min <= k_max) is expected, total
        if expected:
            assert k_min * 300 <= total <= k_min * 500
            assert k_max * 300 <= total <= k_max * 500
            assert (k_max + 1) * 300 > total
            assert k_min == 1 or (k_min - 1) * 500 < total


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (1200, (3, True)),
        (1600, (4, True)),
        (2000, (5, True)),
        (900, (2, True)),  # 450 beats 300
        (1400, (4, True)),  # 350 beats 466.7
        (1000, (3, True)),  # 333 is nearer 400 than 500 (not round(2.5) == 2)
        (980, (3, True)),  # 326.7 beats 490
        (1100, (3, True)),  # 366.7 beats 550 (out of band anyway)
        (300, (1, True)),
        (500, (1, True)),
        (600, (2, True)),
        # gap 501..599: worst relative violation decides between one and two grids
        (550, (2, False)),  # one grid: 10% over; two grids of 275: 8.3% under
        (520, (1, False)),  # one grid: 4% over; two grids of 260: 13.3% under
        (590, (2, False)),
        (250, (1, False)),  # below the floor: one (short) grid
        (0, (1, False)),
    ],
)
def test_choose_k_values(total, expected):
    assert choose_k(total, 300, 500, 400) == expected


def test_choose_k_picks_the_mean_nearest_target():
    lo, hi, target = 300, 500, 400
    wrong = []
    for total in range(300, 5001):
        k_min, k_max = band_admits(total, lo, hi)
        if k_min > k_max:
            continue
        best = min(range(k_min, k_max + 1), key=lambda k: (abs(total / k - target), k))
        # ties (equal distance) may go either way
        k, ok = choose_k(total, lo, hi, target)
        if ok and abs(total / k - target) > abs(total / best - target) + 1e-9:
            wrong.append((total, k, best))
    assert not wrong, wrong[:10]


def test_choose_k_is_consistent_with_band_admits():
    for total in range(1, 4000, 7):
        for lo, hi in BANDS:
            k, feasible = choose_k(total, lo, hi, (lo + hi) / 2)
            k_min, k_max = band_admits(total, lo, hi)
            assert feasible is (k_min <= k_max)
            assert k >= 1
            if feasible:
                assert k_min <= k <= k_max
            else:
                # the nearest counts on either side of the empty window
                assert k in {max(1, k_max), k_min}


# ---------------------------------------------------------------------------------------------
# split_piece: invariants on random graphs
# ---------------------------------------------------------------------------------------------


@PROPERTY
@given(case=lattice_case(easy=False, max_side=6))
def test_split_piece_invariants_on_lattices(piece_graphs, case):
    lo, hi, nx, ny, w = case
    g = piece_graphs.lattice(nx, ny, w)
    target = (lo + hi) / 2
    res = split_piece(g, lo=lo, hi=hi, target=target, seed=7, tries=6, exact=False)
    assert_valid_partition(g, res)
    assert band_flag_matches(res, g, lo, hi)
    total = int(w.sum())
    k_expected, feasible = choose_k(total, lo, hi, target)
    assert_count(res, min(k_expected, g.n), total, lo, hi)
    assert res.feasible_count is feasible
    # weights are conserved part by part
    assert part_sums(res.labels, w, res.k).sum() == total
    again = split_piece(g, lo=lo, hi=hi, target=target, seed=7, tries=6, exact=False)
    np.testing.assert_array_equal(res.labels, again.labels)


@PROPERTY
@given(case=delaunay_case(easy=False, max_n=40))
def test_split_piece_invariants_on_delaunay_graphs(piece_graphs, case):
    lo, hi, xy, w = case
    g = piece_graphs.delaunay(xy, w)
    target = (lo + hi) / 2
    res = split_piece(g, lo=lo, hi=hi, target=target, seed=3, tries=6, exact=False)
    assert_valid_partition(g, res)
    assert band_flag_matches(res, g, lo, hi)
    k_expected, feasible = choose_k(int(w.sum()), lo, hi, target)
    assert_count(res, min(k_expected, g.n), int(w.sum()), lo, hi)
    assert res.feasible_count is feasible
    # a generator seeded alike gives the same plan as the integer seed
    again = split_piece(
        g, lo=lo, hi=hi, target=target, seed=np.random.default_rng(3), tries=6, exact=False
    )
    np.testing.assert_array_equal(res.labels, again.labels)


@PROPERTY
@given(case=lattice_case(easy=True), pick=st.integers(0, 10**6), seed=st.integers(0, 2**31))
def test_split_piece_easy_lattices_are_in_band(piece_graphs, case, pick, seed):
    lo, hi, nx, ny, w = case
    ks = comfortable_ks(int(w.sum()), nx * ny, lo, hi)
    if not ks:
        return
    k = ks[pick % len(ks)]
    g = piece_graphs.lattice(nx, ny, w)
    res = split_piece(g, lo=lo, hi=hi, target=(lo + hi) / 2, k=k, seed=seed, exact=False)
    assert_valid_partition(g, res)
    assert res.feasible_count
    sums = part_sums(res.labels, w, res.k)
    assert res.in_band, f"sizes {sorted(sums.tolist())} outside [{lo}, {hi}]"
    assert ((sums >= lo) & (sums <= hi)).all()
    # the count may move to a neighbouring admissible one (see the xfail on explicit k below)
    assert_count(res, k, int(w.sum()), lo, hi)


@PROPERTY
@given(case=delaunay_case(easy=True), pick=st.integers(0, 10**6), seed=st.integers(0, 2**31))
def test_split_piece_easy_delaunay_graphs_are_in_band(piece_graphs, case, pick, seed):
    lo, hi, xy, w = case
    ks = comfortable_ks(int(w.sum()), len(w), lo, hi)
    if not ks:
        return
    k = ks[pick % len(ks)]
    g = piece_graphs.delaunay(xy, w)
    res = split_piece(g, lo=lo, hi=hi, target=(lo + hi) / 2, k=k, seed=seed, exact=False)
    assert_valid_partition(g, res)
    sums = part_sums(res.labels, w, res.k)
    assert res.in_band, f"sizes {sorted(sums.tolist())} outside [{lo}, {hi}]"
    assert_count(res, k, int(w.sum()), lo, hi)
    again = split_piece(g, lo=lo, hi=hi, target=(lo + hi) / 2, k=k, seed=seed, exact=False)
    np.testing.assert_array_equal(res.labels, again.labels)


@settings(max_examples=25, deadline=None)
@given(case=delaunay_case(easy=True, max_n=11))
def test_split_piece_with_exact_solver_on_small_graphs(piece_graphs, case):
    # small coarse pieces take the exact route (enumeration + set partitioning)
    lo, hi, xy, w = case
    g = piece_graphs.delaunay(xy, w)
    target = (lo + hi) / 2
    res = split_piece(g, lo=lo, hi=hi, target=target, seed=1)
    assert_valid_partition(g, res)
    assert band_flag_matches(res, g, lo, hi)
    if res.method == "exact":
        assert res.in_band
    if comfortable_ks(int(w.sum()), len(w), lo, hi) and res.feasible_count:
        assert res.in_band
    again = split_piece(g, lo=lo, hi=hi, target=target, seed=1)
    np.testing.assert_array_equal(res.labels, again.labels)


# ---------------------------------------------------------------------------------------------
# split_piece: hand-made cases
# ---------------------------------------------------------------------------------------------


def test_split_piece_star_is_proven_infeasible(piece_graphs):
    # centre 10 + four leaves of 260: 1,050 households admit three grids by count, but any
    # connected set is a leaf (260), the centre with one leaf (270) or with two (530)
    edges = [(0, 1), (0, 2), (0, 3), (0, 4)]
    g = piece_graphs.from_edges(5, edges, [10, 260, 260, 260, 260])
    res = split_piece(g, lo=300, hi=500, target=400)
    assert res.feasible_count
    assert res.proven_infeasible
    assert not res.in_band
    assert_valid_partition(g, res)


def test_split_piece_below_the_floor_is_one_part(piece_graphs):
    g = piece_graphs.lattice(3, 2, 40)  # 240 households
    res = split_piece(g, lo=300, hi=500, target=400)
    assert res.k == 1
    assert not res.feasible_count
    assert not res.in_band
    assert (res.labels == 0).all()


def test_split_piece_cuts_the_expensive_edges(piece_graphs):
    # a 4 x 4 lattice of 40s whose left and right halves are joined only by costly edges (a
    # barrier the piece had to be joined across): the split must follow the barrier even
    # though a horizontal cut would be just as compact
    nx = ny = 4
    edges = piece_graphs.lattice_edges(nx, ny)
    xy = piece_graphs.lattice_xy(nx, ny)
    col = np.arange(nx * ny) % nx
    across = (col[edges[:, 0]] < 2) != (col[edges[:, 1]] < 2)
    g = from_edges(
        nx * ny,
        edges[:, 0],
        edges[:, 1],
        weight=np.full(nx * ny, 40, dtype=np.int64),
        xy=xy,
        mass=np.ones(nx * ny),
        crossing=across,
    )
    res = split_piece(g, lo=300, hi=500, target=400, k=2, exact=False)
    assert res.in_band
    left = res.labels[col < 2]
    right = res.labels[col >= 2]
    assert len(set(left.tolist())) == 1
    assert len(set(right.tolist())) == 1
    assert left[0] != right[0]


def test_split_piece_same_seed_same_labels_on_a_fixed_graph(piece_graphs):
    rng = np.random.default_rng(42)
    xy = rng.uniform(0, 1000, size=(60, 2))
    w = rng.integers(1, 11, size=60)
    g = piece_graphs.delaunay(xy, w)
    runs = [split_piece(g, lo=30, hi=50, target=40, seed=11).labels for _ in range(3)]
    for r in runs[1:]:
        np.testing.assert_array_equal(runs[0], r)


def test_split_piece_thousand_households_of_forties_is_in_band(piece_graphs):
    # 1,000 households: two grids would each need exactly 500, impossible with 40s; the
    # splitter must still find an in-band plan (three grids)
    g = piece_graphs.lattice(5, 5, 40)
    res = split_piece(g, lo=300, hi=500, target=400)
    assert res.in_band, part_sums(res.labels, g.weight, res.k)
    assert res.k == 3
    assert_valid_partition(g, res)


def test_split_piece_thousand_households_uses_the_count_nearest_target(piece_graphs):
    g = piece_graphs.lattice(10, 5, 20)
    res = split_piece(g, lo=300, hi=500, target=400)
    assert res.in_band
    assert res.k == 3, part_sums(res.labels, g.weight, res.k)


def test_split_piece_with_k_three_on_a_fine_piece(piece_graphs):
    # same lattice with the count given: the tree search finds three in-band parts
    g = piece_graphs.lattice(5, 5, 40)
    res = split_piece(g, lo=300, hi=500, target=400, k=3)
    assert res.k == 3
    assert res.in_band
    assert_valid_partition(g, res)


def test_split_piece_exact_rescue_returns_an_in_band_plan(piece_graphs):
    # six coarse units (found by a random search) where the spanning-tree search misses the
    # band: by hand {0,1} = 450, {2,3} = 450 and {4,5} = 400 are connected and in band
    xy = np.array([[518, 375], [229, 942], [595, 279], [43, 144], [11, 315], [26, 944]], float)
    edges = [(0, 1), (0, 2), (0, 3), (0, 4), (1, 2), (1, 4), (1, 5), (2, 3), (3, 4), (4, 5)]
    w = [100, 350, 200, 250, 200, 200]
    g = piece_graphs.from_edges(6, edges, w, xy=xy)
    tree_only = split_piece(g, lo=300, hi=500, target=400, exact=False)
    res = split_piece(g, lo=300, hi=500, target=400)
    assert res.in_band
    assert_valid_partition(g, res)
    assert res.k == int(res.labels.max()) + 1
    assert (
        (part_sums(res.labels, g.weight, res.k) >= 300)
        & (part_sums(res.labels, g.weight, res.k) <= 500)
    ).all()
    if not tree_only.in_band:  # the situation this test is about
        assert res.method == "exact"
        assert not res.proven_infeasible


def test_split_piece_honours_an_explicit_k_when_it_fits(piece_graphs):
    w = [1, 1, 9, 94, 5, 1, 21, 74, 14, 100, 53, 70, 1, 55]
    w += [100, 100, 100, 82, 100, 63, 44, 100, 100, 100, 100, 94, 68, 100]
    g = piece_graphs.lattice(7, 4, w)
    res = split_piece(g, lo=300, hi=500, target=400, k=5, seed=0)
    assert res.in_band
    assert res.k == 5, part_sums(res.labels, g.weight, res.k)


# ---------------------------------------------------------------------------------------------
# small node sets: every bipartition enumerated
# ---------------------------------------------------------------------------------------------


def _brute_force_cuts(g: UnitGraph, nodes: np.ndarray, lo: float, hi: float, k: int):
    """Bipartitions of ``nodes`` with both sides connected and a count split (k_a, k - k_a)
    that both sides can hold by the band (networkx, independent of the engine)."""
    import itertools

    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(nodes.tolist())
    coo = g.adjacency.tocoo()
    keep = set(nodes.tolist())
    graph.add_edges_from(
        (int(i), int(j))
        for i, j in zip(coo.row, coo.col, strict=True)
        if int(i) in keep and int(j) in keep
    )
    w = {int(v): float(g.weight[v]) for v in nodes}
    out = set()
    nl = nodes.tolist()
    for r in range(1, len(nl)):
        for side in itertools.combinations(nl, r):
            rest = [v for v in nl if v not in side]
            if not (
                nx.is_connected(graph.subgraph(side)) and nx.is_connected(graph.subgraph(rest))
            ):
                continue
            a, b = sum(w[v] for v in side), sum(w[v] for v in rest)
            if any(
                ka * lo <= a <= ka * hi and (k - ka) * lo <= b <= (k - ka) * hi
                for ka in range(1, k)
            ):
                out.add(frozenset(side))
    return out


@given(
    n=st.integers(2, 9),
    k=st.integers(2, 3),
    seed=st.integers(0, 10_000),
)
@PROPERTY
def test_small_cuts_are_exactly_the_connected_admissible_bipartitions(piece_graphs, n, k, seed):
    from gridplan.partition.core import _Bisector

    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * 100
    edges = {(i, i + 1) for i in range(n - 1)}  # a path keeps the node set connected
    edges |= {tuple(sorted(map(int, rng.choice(n, 2, replace=False)))) for _ in range(n // 2)}
    w = rng.integers(5, 25, n)
    g = piece_graphs.from_edges(n, sorted(edges), w, xy=xy)
    lo, hi = 30.0, 50.0
    bis = _Bisector(g, lo=lo, hi=hi, rng=np.random.default_rng(0), tries=4)
    nodes = np.arange(n)
    cuts = bis._small_cuts(nodes, k, float(w.sum()), strict=True)
    got = {frozenset(nodes[side].tolist()) for side, _ in cuts}
    assert len(got) == len(cuts), "a bipartition was listed twice"
    # every cut offered is a real admissible bipartition, with a count its sides can hold
    expected = _brute_force_cuts(g, nodes, lo, hi, k)
    assert got <= expected
    for side, ka in cuts:
        a = float(w[side].sum())
        assert ka * lo <= a <= ka * hi and (k - ka) * lo <= w.sum() - a <= (k - ka) * hi
    # and none is missed when every side is a single part (k = 2: no slack tiers apply)
    if k == 2:
        assert got == expected
    # the greedy split takes the first one; without any, the least-violating cut
    relaxed = bis._small_cuts(nodes, k, float(w.sum()), strict=False)
    assert len(relaxed) == 1


def test_small_piece_with_no_admissible_cut_is_reported_without_trees(piece_graphs):
    # a path 20-20-20-20-20 (100 households) into two 30-50 parts: 40 + 60 or 60 + 40 only
    g = piece_graphs.from_edges(5, [(0, 1), (1, 2), (2, 3), (3, 4)], [20] * 5)
    res = split_piece(g, lo=30, hi=50, target=40, k=2, exact=False)
    assert not res.in_band
    assert res.fallback
    assert sorted(part_sums(res.labels, g.weight, 2).tolist()) == [40.0, 60.0]


# ---------------------------------------------------------------------------------------------
# repair: re-planning the neighbourhood of an out-of-band part
# ---------------------------------------------------------------------------------------------


def run_repair(g: UnitGraph, labels: np.ndarray, *, lo: float, hi: float, **options):
    """``core._repair`` with the target mid-band, seed 0 and short searches unless given."""
    from gridplan.partition.core import _repair

    kwargs = {"tries": 4, "refine_passes": 2, "exact": True, **options}
    return _repair(
        g, labels, lo=lo, hi=hi, target=(lo + hi) / 2, rng=np.random.default_rng(0), **kwargs
    )


def test_repair_fixes_an_out_of_band_part_and_leaves_the_rest_alone(piece_graphs):

    # a 12 x 4 lattice of 25-household units in six 2x4 blocks of 200 households (target 200
    # in a 150-250 band); move two units from block 1 to block 2 so block 1 holds 150 - 25
    # and block 2 holds 250 + 25: both out of band, fixable only by moving them back
    nx_, ny = 12, 4
    g = piece_graphs.lattice(nx_, ny, 25)
    col = np.arange(nx_ * ny) % nx_
    labels = col // 2
    moved = np.flatnonzero((col == 3) & (np.arange(nx_ * ny) // nx_ < 3))  # 3 units of block 1
    labels[moved] = 2
    sums = part_sums(labels, g.weight, 6)
    assert sums[1] == 125 and sums[2] == 275
    out = run_repair(g, labels, lo=150, hi=250, keep_count=True, tries=8, refine_passes=4)
    k = int(out.max()) + 1
    assert k == 6
    fixed = part_sums(out, g.weight, k)
    assert ((fixed >= 150) & (fixed <= 250)).all(), fixed
    assert fixed.sum() == g.weight.sum()
    res = type("R", (), {"labels": out, "k": k})
    assert_valid_partition(g, res)
    # blocks 4 and 5 do not touch block 1: they keep their units (under their old names,
    # up to the renumbering that closes gaps)
    far = np.isin(labels, [4, 5])
    for old in (4, 5):
        assert np.unique(out[labels == old]).size == 1
    assert np.unique(out[far]).size == 2


def test_split_piece_repairs_a_big_piece_the_trees_leave_out_of_band(piece_graphs):
    # 160 coarse units (150-250 households) in a 40 x 4 strip: too big for the exact model;
    # the trees and boundary moves leave parts out of band, re-planning their neighbourhoods
    # finds an in-band plan
    rng = np.random.default_rng(0)
    w = rng.choice([150, 200, 250], 160)
    g = piece_graphs.lattice(40, 4, w)
    without = split_piece(g, lo=300, hi=500, target=400, seed=0, repair=False)
    res = split_piece(g, lo=300, hi=500, target=400, seed=0)
    assert not without.in_band  # the situation this test is about
    assert res.in_band, sorted(part_sums(res.labels, g.weight, res.k).tolist())
    assert not res.fallback
    assert_valid_partition(g, res)
    assert part_sums(res.labels, g.weight, res.k).sum() == w.sum()


# ---------------------------------------------------------------------------------------------
# proven-infeasible pieces: the least total violation
# ---------------------------------------------------------------------------------------------


def _set_partitions(nodes: list[int]):
    if not nodes:
        yield []
        return
    first, rest = nodes[0], nodes[1:]
    for p in _set_partitions(rest):
        for i in range(len(p)):
            yield [*p[:i], [first, *p[i]], *p[i + 1 :]]
        yield [[first], *p]


def _least_violation_brute_force(n: int, edges, w, lo: float, hi: float) -> float:
    """Smallest total band violation over every partition into connected parts (networkx)."""
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(map(tuple, edges))
    best = np.inf
    for p in _set_partitions(list(range(n))):
        if all(nx.is_connected(graph.subgraph(b)) for b in p):
            sums = [sum(w[i] for i in b) for b in p]
            best = min(best, sum(max(lo - s, 0) + max(s - hi, 0) for s in sums))
    return float(best)


@pytest.mark.parametrize("seed", [9, 27, 48, 80, 99])
def test_proven_infeasible_piece_gets_the_least_total_violation(piece_graphs, seed):
    # eight coarse units (120-330 households) on a planar graph with no contiguous 300-500
    # plan: the plan returned must violate the band by no more than any connected partition
    # does (all 4,140 set partitions checked); for seeds 27, 48 and 99 the spanning trees
    # alone leave 10-20 more households outside the band
    from gridplan.partition.core import _violation

    rng = np.random.default_rng(seed)
    xy = rng.random((8, 2)) * 1000
    w = rng.choice([120, 150, 180, 220, 260, 330], 8)
    edges = piece_graphs.delaunay_edges(xy)
    g = piece_graphs.delaunay(xy, w)
    res = split_piece(g, lo=300, hi=500, target=400)
    assert res.proven_infeasible and not res.in_band
    assert_valid_partition(g, res)
    assert part_sums(res.labels, g.weight, res.k).sum() == w.sum()
    best = _least_violation_brute_force(8, edges, w.tolist(), 300, 500)
    assert _violation(res.labels, g.weight, 300, 500) == best
    trees = split_piece(g, lo=300, hi=500, target=400, exact=False)
    assert _violation(trees.labels, g.weight, 300, 500) >= best
    # callers that will discard the plan can skip the search for the least violation
    off = split_piece(g, lo=300, hi=500, target=400, least_violating=False)
    assert off.proven_infeasible and off.method == "tree"
    assert _violation(off.labels, g.weight, 300, 500) >= best


def test_a_side_is_never_asked_for_more_parts_than_units(piece_graphs):
    # found by hypothesis: 1,001 households admit exactly 3 grids, but the 625-household
    # unit cannot be cut; a cut giving that unit alone two parts is not admissible, and the
    # plan that loses a part says it fell back
    g = piece_graphs.lattice(6, 1, [1, 1, 1, 1, 372, 625])
    res = split_piece(g, lo=300, hi=500, target=400, seed=7, tries=6, exact=False)
    assert_valid_partition(g, res)
    assert not res.in_band
    assert res.fallback
    assert_count(res, 3, 1001, 300, 500)


def test_repair_gives_up_after_its_attempt_budget(piece_graphs, monkeypatch):
    # units of 40 against a 130-150 band: no part can ever be in band, so every re-plan
    # fails; the repair must stop after max_attempts sub-pieces and hand back the plan as is
    from gridplan.partition import core

    g = piece_graphs.lattice(12, 4, 40)
    labels = (np.arange(48) % 12) // 2
    calls = []
    real = core.split_piece

    def counting(*args, **kwargs):
        calls.append(kwargs.get("k"))
        return real(*args, **kwargs)

    monkeypatch.setattr(core, "split_piece", counting)
    out = run_repair(g, labels, lo=130, hi=150, keep_count=False, max_attempts=3)
    assert len(calls) == 3
    np.testing.assert_array_equal(out, labels)


@given(n=st.integers(1, 10), p=st.floats(0.1, 0.7), seed=st.integers(0, 10_000))
@PROPERTY
def test_connected_masks_match_networkx(n, p, seed):
    import networkx as nx

    from gridplan.partition.core import _connected_masks

    graph = nx.gnp_random_graph(n, p, seed=seed)
    nbr = np.array([sum(1 << j for j in graph[i]) for i in range(n)], dtype=np.int64)
    masks = np.arange(1, 1 << n, dtype=np.int64)
    expected = [nx.is_connected(graph.subgraph([i for i in range(n) if m >> i & 1])) for m in masks]
    np.testing.assert_array_equal(_connected_masks(masks, nbr), expected)


@pytest.mark.parametrize("case", range(40))
def test_plan_if_proven_false_keeps_the_verdict(case):
    """Without a plan for proven pieces, split_piece gives the same in-band verdict and
    proof as the full search, and the same labels whenever the piece is in band."""
    rng = np.random.default_rng(case)
    n = int(rng.integers(3, 10))
    i = np.arange(n - 1)
    j = i + 1
    extra = rng.integers(0, n, size=(n // 2, 2))
    extra = extra[extra[:, 0] < extra[:, 1]]
    i, j = np.r_[i, extra[:, 0]], np.r_[j, extra[:, 1]]
    g = from_edges(n, i, j, weight=rng.integers(5, 60, size=n), xy=rng.random((n, 2)) * 100)
    full = split_piece(g, lo=30, hi=50, target=40, seed=case)
    quick = split_piece(g, lo=30, hi=50, target=40, seed=case, plan_if_proven=False)
    assert quick.in_band == full.in_band
    assert quick.proven_infeasible == full.proven_infeasible
    if full.in_band:
        assert quick.labels.tolist() == full.labels.tolist()


@pytest.mark.parametrize("case", range(60))
def test_sub_adjacency_is_scipys_indexing(case):
    """The bisection's piece adjacency has scipy's arrays in scipy's entry order (the
    spanning-tree jitter is drawn per entry, so the order decides the trees)."""
    from gridplan.partition.core import _Bisector

    rng = np.random.default_rng(case)
    n = int(rng.integers(2, 60))
    e = rng.integers(0, n, size=(n * 3, 2))
    e = e[e[:, 0] != e[:, 1]]
    g = from_edges(n, e[:, 0], e[:, 1], weight=np.ones(n, dtype=int), xy=rng.random((n, 2)))
    nodes = np.flatnonzero(rng.random(n) < 0.6)
    if case % 5 == 0:  # unsorted node sets take scipy's own path
        nodes = rng.permutation(nodes)
    ref = g.adjacency[nodes][:, nodes]
    got = _Bisector(g, lo=1, hi=2, rng=rng, tries=1)._sub_adjacency(nodes)
    assert got.indptr.tolist() == ref.indptr.tolist()
    assert got.indices.tolist() == ref.indices.tolist()
    assert got.data.tolist() == ref.data.tolist()
    assert got.indices.dtype == ref.indices.dtype
