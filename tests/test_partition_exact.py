"""Exact plans for coarse pieces: ``enumerate_subsets`` against brute force, and ``solve_exact``
against a brute-force set partitioning, with its infeasibility proofs and its refusal to prove
anything when the enumeration was cut short; the depth-first search against HiGHS on random
lattices (same status, same optimum), compiled against interpreted, its node budget, and a
process that solves exact models printing nothing.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.sparse import csgraph

from gridplan.partition.exact import (
    CoverModel,
    cover_model,
    enumerate_subsets,
    highs_cover,
    search_cover,
    solve_exact,
)

# ---------------------------------------------------------------------------------------------
# brute force
# ---------------------------------------------------------------------------------------------


def is_connected(n: int, edges: np.ndarray, nodes: tuple[int, ...]) -> bool:
    if len(nodes) == 1:
        return True
    idx = np.asarray(nodes)
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    m = sparse.coo_array((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    m = m + m.T
    n_comp, _ = csgraph.connected_components(m[idx][:, idx], directed=False)
    return n_comp == 1


def brute_subsets(n, edges, w, lo, hi) -> set[tuple[int, ...]]:
    out = set()
    for size in range(1, n + 1):
        for nodes in itertools.combinations(range(n), size):
            t = sum(w[i] for i in nodes)
            if lo <= t <= hi and is_connected(n, edges, nodes):
                out.add(nodes)
    return out


def brute_best_plan(n, candidates, cost) -> float | None:
    """Minimum total cost of an exact cover of 0..n-1 by candidate sets (None if none)."""
    by_first: dict[int, list[tuple[int, ...]]] = {}
    for c in candidates:
        by_first.setdefault(min(c), []).append(c)
    best = [None]

    def rec(covered: frozenset, acc: float) -> None:
        if len(covered) == n:
            if best[0] is None or acc < best[0]:
                best[0] = acc
            return
        v = min(set(range(n)) - covered)
        for c in by_first.get(v, []):
            if covered.isdisjoint(c):
                rec(covered | frozenset(c), acc + cost(c))

    # a cover takes, for the smallest uncovered node, a set whose smallest node it is only if
    # every smaller node is already covered, which the recursion guarantees
    rec(frozenset(), 0.0)
    return best[0]


@st.composite
def small_graph(draw, max_n: int = 8, min_w: int = 0, max_w: int = 10):
    n = draw(st.integers(1, max_n))
    pairs = list(itertools.combinations(range(n), 2))
    chosen = (
        draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs))) if pairs else []
    )
    edges = np.asarray(chosen, dtype=np.int64).reshape(-1, 2)
    w = draw(st.lists(st.integers(min_w, max_w), min_size=n, max_size=n))
    lo = draw(st.integers(0, 15))
    hi = lo + draw(st.integers(0, 15))
    return n, edges, w, lo, hi


def path_edges(n: int) -> np.ndarray:
    return np.column_stack([np.arange(n - 1), np.arange(1, n)])


def cycle_edges(n: int) -> np.ndarray:
    return np.vstack([path_edges(n), [[n - 1, 0]]])


# ---------------------------------------------------------------------------------------------
# enumerate_subsets
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "edges", "w", "lo", "hi"),
    [
        ("path", path_edges(6), [3, 1, 4, 1, 5, 9], 5, 10),
        ("cycle", cycle_edges(7), [2, 7, 1, 8, 2, 8, 1], 8, 12),
        ("star", [(0, 1), (0, 2), (0, 3), (0, 4)], [1, 4, 4, 4, 4], 5, 9),
        ("lattice", [(0, 1), (1, 2), (3, 4), (4, 5), (0, 3), (1, 4), (2, 5)], [2] * 6, 4, 6),
    ],
)
def test_enumerate_subsets_matches_brute_force(piece_graphs, name, edges, w, lo, hi):
    n = len(w)
    edges = np.asarray(edges)
    g = piece_graphs.from_edges(n, edges, w)
    got = enumerate_subsets(g, lo=lo, hi=hi)
    assert got is not None
    assert len(got) == len(set(got)), "a set was generated twice"
    assert set(got) == brute_subsets(n, edges, w, lo, hi)


def test_enumerate_subsets_path_by_hand(piece_graphs):
    # path 3-1-4-1-5-9, band 5..10: the runs with sums in band, written out by hand
    g = piece_graphs.from_edges(6, path_edges(6), [3, 1, 4, 1, 5, 9])
    got = set(enumerate_subsets(g, lo=5, hi=10))
    assert got == {
        (0, 1, 2),
        (0, 1, 2, 3),
        (1, 2),
        (1, 2, 3),
        (2, 3),
        (3, 4),
        (2, 3, 4),
        (4,),
        (5,),
    }


@settings(max_examples=40, deadline=None)
@given(case=small_graph())
def test_enumerate_subsets_random_graphs_match_brute_force(piece_graphs, case):
    n, edges, w, lo, hi = case
    g = piece_graphs.from_edges(n, edges, w)
    got = enumerate_subsets(g, lo=lo, hi=hi)
    # nothing is truncated for graphs this small, so the answer must be complete
    assert got is not None
    assert len(got) == len(set(got))
    assert all(tuple(sorted(s)) == tuple(s) for s in got)
    assert set(got) == brute_subsets(n, edges, w, lo, hi)


@settings(max_examples=40, deadline=None)
@given(case=small_graph(min_w=1), max_size=st.integers(1, 4), cap=st.integers(1, 60))
def test_enumerate_subsets_never_returns_an_incomplete_list(piece_graphs, case, max_size, cap):
    # with a tight size or visit cap the enumerator may give up (None), but whatever list it
    # returns is the complete one: no false infeasibility proof can be built on it
    n, edges, w, lo, hi = case
    g = piece_graphs.from_edges(n, edges, w)
    got = enumerate_subsets(g, lo=lo, hi=hi, cap=cap, max_size=max_size)
    if got is not None:
        assert set(got) == brute_subsets(n, edges, w, lo, hi)


def test_enumerate_subsets_gives_up_on_the_visit_cap(piece_graphs):
    g = piece_graphs.from_edges(30, path_edges(30), [1] * 30)
    assert enumerate_subsets(g, lo=1, hi=30, cap=50) is None
    full = enumerate_subsets(g, lo=1, hi=30, cap=10_000, max_size=30)
    assert full is not None
    assert len(full) == 30 * 31 // 2  # every run of a path of 30


def test_enumerate_subsets_gives_up_on_the_size_cap(piece_graphs):
    # 20 units of 20 against 300-400: every in-band set has 15-20 units, beyond max_size=12
    g = piece_graphs.from_edges(20, path_edges(20), [20] * 20)
    assert enumerate_subsets(g, lo=300, hi=400) is None
    full = enumerate_subsets(g, lo=300, hi=400, max_size=20)
    assert full is not None
    assert len(full) == sum(20 - s + 1 for s in range(15, 21))


def test_solve_exact_does_not_claim_infeasible_when_truncated(piece_graphs):
    # the same path is feasible (all 20 units make one grid of 400), but every in-band set
    # has more units than the enumerator's size cap: "skipped", never a false "infeasible"
    g = piece_graphs.from_edges(20, path_edges(20), [20] * 20)
    res = solve_exact(g, lo=300, hi=400, target=350)
    assert res.status == "skipped"
    assert res.labels is None


# ---------------------------------------------------------------------------------------------
# solve_exact
# ---------------------------------------------------------------------------------------------


def test_solve_exact_proves_the_star_infeasible(piece_graphs):
    # centre 10, four leaves of 260, band 300-500: 1,050 households fit three grids by count,
    # but a connected set is a leaf (260), the centre plus one leaf (270) or two (530)
    g = piece_graphs.from_edges(5, [(0, 1), (0, 2), (0, 3), (0, 4)], [10, 260, 260, 260, 260])
    res = solve_exact(g, lo=300, hi=500, target=400)
    assert res.status == "infeasible"
    assert res.labels is None
    assert res.n_candidates == 0


def test_solve_exact_proves_infeasible_when_candidates_overlap(piece_graphs):
    # 200-200-200 on a path: {0,1} and {1,2} are in band but no two of them are disjoint
    g = piece_graphs.from_edges(3, path_edges(3), [200, 200, 200])
    res = solve_exact(g, lo=300, hi=500, target=400)
    assert res.status == "infeasible"
    assert res.n_candidates == 2


def test_solve_exact_proves_infeasible_when_a_unit_is_in_no_candidate(piece_graphs):
    g = piece_graphs.from_edges(3, path_edges(3), [100, 450, 100])
    res = solve_exact(g, lo=300, hi=500, target=400)
    assert res.status == "infeasible"


def test_solve_exact_finds_the_optimum_by_hand(piece_graphs):
    # six units of 150 at one point (no compactness term): two grids of 450 (deviation 12.5%
    # each) beat three of 300 (25% each)
    g = piece_graphs.from_edges(6, path_edges(6), [150] * 6, xy=np.zeros((6, 2)))
    res = solve_exact(g, lo=300, hi=500, target=400)
    assert res.status == "optimal"
    np.testing.assert_array_equal(res.labels, [0, 0, 0, 1, 1, 1])


def test_solve_exact_unique_plan(piece_graphs):
    g = piece_graphs.from_edges(4, path_edges(4), [200] * 4)
    res = solve_exact(g, lo=300, hi=500, target=400)
    assert res.status == "optimal"
    np.testing.assert_array_equal(res.labels, [0, 0, 1, 1])


@settings(max_examples=30, deadline=None)
@given(case=small_graph(max_n=8, min_w=1, max_w=12))
def test_solve_exact_matches_brute_force_set_partitioning(piece_graphs, case):
    n, edges, w, lo, hi = case
    if lo == 0:
        lo = 1
        hi = max(hi, 1)
    target = (lo + hi) / 2
    # all units at one point: the objective is then only the size term 4 * dev^2 per grid
    g = piece_graphs.from_edges(n, edges, w, xy=np.zeros((n, 2)))
    res = solve_exact(g, lo=lo, hi=hi, target=target)
    cands = brute_subsets(n, edges, w, lo, hi)

    def cost(c):
        dev = (sum(w[i] for i in c) - target) / target
        return 4.0 * dev * dev

    best = brute_best_plan(n, cands, cost)
    if best is None:
        assert res.status == "infeasible"
        assert res.labels is None
        return
    assert res.status == "optimal"
    labels = res.labels
    assert labels.shape == (n,)
    k = int(labels.max()) + 1
    assert set(labels.tolist()) == set(range(k))
    blocks = [tuple(np.flatnonzero(labels == p).tolist()) for p in range(k)]
    for b in blocks:
        assert b in cands, f"part {b} is not a connected in-band set"
    got = sum(cost(b) for b in blocks)
    # the solver's tie-breaker adds at most 1e-6 per chosen set
    assert got == pytest.approx(best, abs=1e-4)


# ---------------------------------------------------------------------------------------------
# the depth-first search against HiGHS
# ---------------------------------------------------------------------------------------------


@st.composite
def small_lattice(draw):
    """A lattice of up to 5 x 5 units with jittered coordinates, a grid-like or micro-grid-like
    band, sometimes a soft band (slack)."""
    nx_, ny_ = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    n = nx_ * ny_
    coarse = draw(st.booleans())
    lo, hi = (300, 500) if coarse else (30, 50)
    w = draw(
        st.lists(st.integers(60, 450) if coarse else st.integers(4, 40), min_size=n, max_size=n)
    )
    jitter = draw(st.lists(st.floats(0, 15), min_size=2 * n, max_size=2 * n))
    slack = draw(st.sampled_from([0.0, 0.0, 0.1, 0.5])) * (hi - lo)
    return nx_, ny_, w, np.asarray(jitter).reshape(n, 2), lo, hi, slack


def lattice_graph(piece_graphs, nx_, ny_, w, jitter):
    n = nx_ * ny_
    edges = piece_graphs.lattice_edges(nx_, ny_)
    xy = piece_graphs.lattice_xy(nx_, ny_) + jitter
    return piece_graphs.from_edges(n, edges, w, xy=xy), np.asarray(edges).reshape(-1, 2)


def assert_valid_plan(labels, n, edges, w, lo, hi):
    """Every unit in exactly one part, every part within the band and connected."""
    assert labels.shape == (n,)
    k = int(labels.max()) + 1
    assert set(labels.tolist()) == set(range(k))
    for p in range(k):
        part = tuple(np.flatnonzero(labels == p).tolist())
        assert lo - 1e-9 <= sum(w[i] for i in part) <= hi + 1e-9
        assert is_connected(n, edges, part)


@settings(max_examples=150, deadline=None)
@given(case=small_lattice())
def test_search_finds_the_highs_optimum_on_random_lattices(piece_graphs, case):
    nx_, ny_, w, jitter, lo, hi, slack = case
    n = nx_ * ny_
    g, edges = lattice_graph(piece_graphs, nx_, ny_, w, jitter)
    subsets = enumerate_subsets(g, lo=lo - slack, hi=hi + slack, max_size=25)
    assume(subsets is not None)  # too many sets to visit: solve_exact skips such a piece
    if not subsets or np.bincount(np.concatenate(subsets), minlength=n).min() == 0:
        return  # no model to solve: solve_exact proves these infeasible before any solver
    model = cover_model(g, subsets, lo=lo, hi=hi, target=(lo + hi) / 2, slack=slack)
    found = search_cover(model, max_nodes=10**7)
    # HiGHS asked for the optimum itself (no relative or absolute gap)
    ref = highs_cover(model, node_limit=10**6, time_limit=120.0, mip_rel_gap=0.0, mip_abs_gap=0.0)
    assert found.status in ("optimal", "infeasible")
    if ref.status == "skipped":
        # HiGHS 1.15 ends some infeasible covers in a solve error; the search still decides
        event("HiGHS gave no answer")
        assert found.status == "infeasible"
    else:
        assert found.status == ref.status
    if found.status == "optimal":
        # the search is exact; HiGHS' optimum carries its own numerical tolerances, so it may
        # sit a hair above (never below) the search's
        assert found.objective <= ref.objective * (1 + 1e-9)
        assert found.objective == pytest.approx(ref.objective, rel=1e-6, abs=0)
        assert found.objective == pytest.approx(model.cost[found.chosen].sum(), rel=1e-12)
        # the chosen candidates cover every unit exactly once
        counts = np.zeros(n, dtype=np.int64)
        for c in found.chosen:
            counts[model.units[model.indptr[c] : model.indptr[c + 1]]] += 1
        assert (counts == 1).all()
    res = solve_exact(
        g, lo=lo, hi=hi, target=(lo + hi) / 2, slack=slack, search_max_candidates=10**6
    )
    if found.status == "infeasible":
        # solve_exact skips models above its candidate cap before any solver runs
        assert res.status == "infeasible" or res.n_candidates > 4000
    elif res.status != "skipped":  # the enumerator's default size cap may give up
        assert res.status == "optimal"
        assert_valid_plan(res.labels, n, edges, w, lo - slack, hi + slack)


@settings(max_examples=60, deadline=None)
@given(case=small_lattice())
def test_compiled_and_interpreted_search_agree(piece_graphs, case):
    nx_, ny_, w, jitter, lo, hi, slack = case
    g, _ = lattice_graph(piece_graphs, nx_, ny_, w, jitter)
    subsets = enumerate_subsets(g, lo=lo - slack, hi=hi + slack, max_size=25)
    assume(subsets)
    model = cover_model(g, subsets, lo=lo, hi=hi, target=(lo + hi) / 2, slack=slack)
    a = search_cover(model, max_nodes=10**6)
    b = search_cover(model, max_nodes=10**6, compiled=False)
    assert (a.status, a.nodes) == (b.status, b.nodes)
    np.testing.assert_array_equal(a.chosen, b.chosen)
    assert a.objective == b.objective


def test_search_proves_infeasible_when_no_exact_cover_exists():
    # units 0, 1, 2: {0, 1} and {1, 2} overlap and nothing covers 0 and 2 otherwise
    m = CoverModel(n=3, indptr=np.array([0, 2, 4]), units=np.array([0, 1, 1, 2]), cost=np.ones(2))
    s = search_cover(m)
    assert s.status == "infeasible"
    assert s.chosen.size == 0
    assert highs_cover(m).status == "infeasible"


def test_search_takes_the_cheapest_cover_not_the_first():
    # the single cheap candidates {0}, {1}, {2} beat the cheaper-looking {0, 1, 2}
    m = CoverModel(
        n=3,
        indptr=np.array([0, 3, 4, 5, 6]),
        units=np.array([0, 1, 2, 0, 1, 2]),
        cost=np.array([2.0, 0.5, 0.5, 0.5]),
    )
    s = search_cover(m)
    assert s.status == "optimal"
    assert s.chosen.tolist() == [1, 2, 3]
    assert s.objective == pytest.approx(1.5)


def test_search_stops_at_its_node_budget_and_solve_exact_falls_back_to_highs(piece_graphs):
    # 5 x 5 lattice of 10-household units against 30-50: thousands of covers to search
    g = piece_graphs.lattice(5, 5, 10)
    subsets = enumerate_subsets(g, lo=30, hi=50)
    model = cover_model(g, subsets, lo=30, hi=50, target=40)
    full = search_cover(model, max_nodes=10**7)
    assert full.status == "optimal"
    assert full.nodes > 10
    cut = search_cover(model, max_nodes=10)
    assert cut.status == "budget"
    assert cut.nodes == 11
    res = solve_exact(g, lo=30, hi=50, target=40, search_nodes=10)
    assert res.status in ("optimal", "feasible")  # HiGHS' answer, within its 10% gap
    edges = np.asarray(piece_graphs.lattice_edges(5, 5)).reshape(-1, 2)
    assert_valid_plan(res.labels, 25, edges, [10] * 25, 30, 50)


def test_solve_exact_is_deterministic(piece_graphs):
    rng = np.random.default_rng(3)
    g = piece_graphs.lattice(5, 4, rng.integers(5, 25, 20))
    runs = [solve_exact(g, lo=30, hi=50, target=40) for _ in range(3)]
    assert {r.status for r in runs} == {"optimal"}
    for r in runs[1:]:
        np.testing.assert_array_equal(r.labels, runs[0].labels)


@pytest.mark.parametrize("search_max_candidates", [400, 0])  # the search, HiGHS alone
def test_solve_exact_leaves_the_process_stdout_alone(
    piece_graphs, monkeypatch, search_max_candidates
):
    # no descriptor swap: solving must not touch file descriptor 1, which other threads of the
    # planner (a web server, a progress bar) write to at the same time
    import os

    def refuse(*args):
        raise AssertionError(f"solve_exact swapped a file descriptor: dup2{args}")

    g = piece_graphs.from_edges(6, path_edges(6), [150] * 6, xy=np.zeros((6, 2)))
    with monkeypatch.context() as mp:  # undone before pytest's own capture restores fd 1
        mp.setattr(os, "dup2", refuse)
        res = solve_exact(
            g, lo=300, hi=500, target=400, search_max_candidates=search_max_candidates
        )
    assert res.status == "optimal"
    np.testing.assert_array_equal(res.labels, [0, 0, 0, 1, 1, 1])


def test_a_solve_in_a_fresh_process_prints_nothing():
    # what a planner's terminal or a piped CLI sees: a process that runs exact models (feasible,
    # infeasible and soft-band, through the search and through HiGHS) writes nothing to its
    # standard output
    import os
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    code = textwrap.dedent(
        """
        import numpy as np
        from gridplan.graph import from_edges
        from gridplan.partition.exact import solve_exact

        rng = np.random.default_rng(0)
        for n in (6, 9, 12):
            i, j = np.arange(n - 1), np.arange(1, n)
            w = rng.integers(80, 260, n)
            xy = np.column_stack([np.arange(n) * 50.0, rng.random(n) * 10])
            g = from_edges(n, i, j, weight=w, xy=xy)
            for lo, hi, slack in ((300, 500, 0.0), (590, 600, 0.0), (590, 600, 100.0)):
                for search in (400, 0):  # the search, then HiGHS alone
                    solve_exact(g, lo=lo, hi=hi, target=(lo + hi) / 2, slack=slack,
                                search_max_candidates=search)
        # micro-grid-sized models on lattices, through both solvers
        for trial in range(40):
            nx, ny = rng.integers(2, 6, 2)
            n = int(nx * ny)
            v = np.arange(n)
            right, up = v[(v % nx) < nx - 1], v[v < n - nx]
            i, j = np.concatenate([right, up]), np.concatenate([right + 1, up + nx])
            xy = np.column_stack([v % nx, v // nx]) * 40.0 + rng.random((n, 2))
            g = from_edges(n, i, j, weight=rng.integers(3, 30, n), xy=xy)
            for search in (400, 0):
                solve_exact(g, lo=30, hi=50, target=40, search_max_candidates=search)
        """
    )
    # this checkout's gridplan, whatever is installed
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        env=env,
    )
    assert out.stdout == ""
