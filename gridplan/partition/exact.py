"""Exact plans for coarse pieces: every connected in-band subset, then set partitioning.

When units are coarse (real public-housing blocks of 100-400 households against a 300-500
band) a grid holds one to four units, and spanning-tree cuts can miss the few plans that
exist. Here the candidate grids are enumerated outright: every connected set of units whose
total is within the band (reverse search from each unit as its lowest member, so each set is
generated once). Then candidates are picked so that every unit is covered exactly once,
minimising deviation from the target size plus moment of inertia. The optimum is found, or it
is proven that no contiguous in-band plan exists, which makes the diagnostic for such a piece
a statement of fact.

What is in the module:

* :func:`enumerate_subsets`: the candidates. Enumeration is capped; above the cap the caller
  uses the spanning-tree method instead.
* :func:`cover_model` builds the set-partitioning model (:class:`CoverModel`: the candidates
  as a CSR of unit lists, and their costs).
* Two solvers of that model, returning a :class:`CoverSolution`:
  :func:`search_cover`, a depth-first exact-cover search compiled with numba, for the many
  small models (a micro-grid's slices: a few dozen candidates, solved in microseconds), and
  :func:`highs_cover`, the HiGHS branch and bound (through ``highspy``) for the large ones.
* :func:`solve_exact` chains them for one piece: the search first on small models, HiGHS when
  the model is large or the search runs out of its node budget.

HiGHS is silenced through its own options (``output_flag``), with no process-wide side
effect. The HiGHS bundled with scipy 1.17 prints a stray line with a bare ``printf``
(ERGO-Code/HiGHS#2783) that no option reaches; highspy 1.15 does not contain that line.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from ..graph import UnitGraph, inertia

__all__ = [
    "CoverModel",
    "CoverSolution",
    "ExactResult",
    "cover_model",
    "enumerate_subsets",
    "highs_cover",
    "search_cover",
    "solve_exact",
]


@dataclass(frozen=True)
class ExactResult:
    """``status`` is ``"optimal"``, ``"feasible"`` (HiGHS hit its node or time limit with an
    in-band plan), ``"infeasible"`` (proven) or ``"skipped"`` (too many candidates, or HiGHS'
    limit hit with no plan); ``labels`` is set for optimal and feasible."""

    status: str
    labels: np.ndarray | None
    n_candidates: int


@dataclass(frozen=True)
class CoverModel:
    """Choose candidates covering each of ``n`` units exactly once at least total ``cost``.

    Candidate ``c`` covers ``units[indptr[c]:indptr[c + 1]]`` (sorted) and costs ``cost[c]``
    (non-negative, which the search's bound relies on)."""

    n: int
    indptr: np.ndarray
    units: np.ndarray
    cost: np.ndarray

    @property
    def m(self) -> int:
        return int(self.indptr.size - 1)


@dataclass(frozen=True)
class CoverSolution:
    """``status``: ``"optimal"``, ``"feasible"`` (a plan, optimality not proven),
    ``"infeasible"`` (proven), ``"budget"`` (the search ran out of nodes before a proof) or
    ``"skipped"`` (HiGHS stopped with no plan). ``chosen`` are candidate indices (empty
    without a plan), ``objective`` their total cost, ``nodes`` the search nodes used."""

    status: str
    chosen: np.ndarray
    objective: float
    nodes: int


# ---------------------------------------------------------------------------------------------
# candidates
# ---------------------------------------------------------------------------------------------


def enumerate_subsets(
    g: UnitGraph, *, lo: float, hi: float, cap: int = 20000, max_size: int = 12
) -> list[tuple[int, ...]] | None:
    """All connected node sets with weight in ``[lo, hi]``; None when more than ``cap``
    sets (of any weight) would have to be visited, or when a set of ``max_size`` nodes could
    still grow within the band (then the list would not be complete)."""
    indptr, indices = g.adjacency.indptr, g.adjacency.indices
    nbrs = [set(indices[indptr[v] : indptr[v + 1]].tolist()) for v in range(g.n)]
    w = g.weight.astype(float).tolist()
    out: list[tuple[int, ...]] = []
    visited = 0
    truncated = False

    # reverse search: sets whose smallest node is v, extended only by nodes > v taken from
    # the current frontier in a fixed order (ESU), so each connected set appears once
    def extend(subset: list[int], ext: set[int], total: float, v: int) -> bool:
        nonlocal visited, truncated
        visited += 1
        if visited > cap:
            return False
        if total >= lo - 1e-9:
            out.append(tuple(sorted(subset)))
        if len(subset) >= max_size:
            # a larger in-band set may exist beyond the size cap: no proof either way
            truncated = truncated or any(total + w[x] <= hi + 1e-9 for x in ext)
            return True
        ext = set(ext)
        while ext:
            x = min(ext)
            ext.discard(x)
            t = total + w[x]
            if t > hi + 1e-9:
                continue
            excl = set()
            for s in subset:
                excl |= nbrs[s]
            new_ext = ext | {y for y in nbrs[x] if y > v and y not in excl and y not in subset}
            if not extend([*subset, x], new_ext, t, v):
                return False
        return True

    for v in range(g.n):
        if w[v] > hi + 1e-9:
            continue
        if not extend([v], {y for y in nbrs[v] if y > v}, w[v], v):
            return None
    if truncated:
        return None
    return out


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------


def cover_model(
    g: UnitGraph,
    subsets: list[tuple[int, ...]],
    *,
    lo: float,
    hi: float,
    target: float,
    slack: float = 0.0,
) -> CoverModel:
    """The set-partitioning model of ``g`` over candidate ``subsets`` (non-empty).

    A candidate's cost is ``4 dev^2 + 0.25 inertia / scale + 1e-6 c / m``: size near the target
    first (``dev`` is its relative deviation from ``target``: fewer, fuller grids), compactness
    second (``scale`` is the median positive inertia, so the terms are comparable in every
    piece), and a tie-breaker by candidate index so that the optimum is unique. With
    ``slack > 0`` every household outside ``[lo, hi]`` costs more than all candidates together.
    """
    m = len(subsets)
    sizes = np.fromiter((len(s) for s in subsets), dtype=np.int64, count=m)
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    units = np.fromiter((u for s in subsets for u in s), dtype=np.int64, count=int(indptr[-1]))
    w = g.weight.astype(float)[units]
    mass = g.mass.astype(float)[units]
    x, y = g.xy[units, 0], g.xy[units, 1]
    starts = indptr[:-1]
    sw = np.add.reduceat(w, starts)
    sm = np.add.reduceat(mass, starts)
    sx = np.add.reduceat(mass * x, starts)
    sy = np.add.reduceat(mass * y, starts)
    sq = np.add.reduceat(mass * (x * x + y * y), starts)
    inert = inertia(np.maximum(sm, 1e-12), sx, sy, sq)
    positive = inert[inert > 0]
    scale = max(float(np.median(positive)) if positive.size else 1.0, 1e-9)
    dev = (sw - target) / target
    cost = 4.0 * dev * dev + 0.25 * inert / scale + 1e-6 * np.arange(m) / m
    if slack > 0:
        # a household outside the band costs more than any plan's size and shape terms
        viol = np.maximum(lo - sw, 0.0) + np.maximum(sw - hi, 0.0)
        cost = cost + viol * (1.0 + float(cost.sum()))
    return CoverModel(n=g.n, indptr=indptr, units=units, cost=np.ascontiguousarray(cost))


# ---------------------------------------------------------------------------------------------
# depth-first exact-cover search
# ---------------------------------------------------------------------------------------------


def _cover_search(
    n,
    cand_ptr,
    cand_units,
    cost,
    ratio,
    unit_ptr,
    unit_cands,
    max_nodes,
    blocked,
    covered,
    depth_unit,
    depth_pos,
    depth_cand,
    depth_acc,
    best_chosen,
):
    """Branch and bound over exact covers; returns ``(found, best, k, nodes)``.

    Branches on the uncovered unit with the fewest live candidates (the lowest unit on ties),
    trying its candidates cheapest first (``unit_cands`` is sorted so); a node is cut when its
    cost so far plus a lower bound of the rest reaches the best cover found. The bound gives
    each uncovered unit the least ``cost / size`` over its live candidates: any cover of the
    rest pays at least that for each of its units (costs are non-negative). ``blocked[c]``
    counts the covered units of candidate ``c`` (live when 0). ``found`` is 1 with the optimum
    in ``best_chosen[:k]`` (total ``best``), 0 when no cover exists, -1 when more than
    ``max_nodes`` nodes were needed.

    Plain loops over arrays or lists (scratch space is passed in), so the same code runs
    interpreted and compiled by numba.
    """
    best = np.inf
    best_k = -1
    n_cov = 0
    nodes = 0
    d = 0
    depth_acc[0] = 0.0
    state = 0  # 0: evaluate the node at depth d; 1: try the next candidate there; 2: go up
    while True:
        if state == 0:
            acc = depth_acc[d]
            if n_cov == n:
                if acc < best:
                    best = acc
                    best_k = d
                    for i in range(d):
                        best_chosen[i] = depth_cand[i]
                state = 2
                continue
            pick = -1
            pick_count = len(cand_ptr)
            bound = acc
            for u in range(n):
                if covered[u]:
                    continue
                count = 0
                least = np.inf
                for p in range(unit_ptr[u], unit_ptr[u + 1]):
                    c = unit_cands[p]
                    if blocked[c] == 0:
                        count += 1
                        if ratio[c] < least:
                            least = ratio[c]
                if count == 0:
                    pick = -1
                    break
                bound += least
                if count < pick_count:
                    pick_count = count
                    pick = u
            if pick < 0 or bound >= best:
                state = 2
                continue
            depth_unit[d] = pick
            depth_pos[d] = unit_ptr[pick] - 1
            state = 1
        elif state == 1:
            u = depth_unit[d]
            end = unit_ptr[u + 1]
            p = depth_pos[d] + 1
            chosen = -1
            while p < end:
                c = unit_cands[p]
                if blocked[c] == 0:
                    if depth_acc[d] + cost[c] < best:
                        chosen = c
                    # candidates are cheapest first: once one is too dear, so are the rest
                    break
                p += 1
            if chosen < 0:
                state = 2
                continue
            depth_pos[d] = p
            depth_cand[d] = chosen
            for q in range(cand_ptr[chosen], cand_ptr[chosen + 1]):
                v = cand_units[q]
                covered[v] = True
                for r in range(unit_ptr[v], unit_ptr[v + 1]):
                    blocked[unit_cands[r]] += 1
            n_cov += cand_ptr[chosen + 1] - cand_ptr[chosen]
            depth_acc[d + 1] = depth_acc[d] + cost[chosen]
            d += 1
            nodes += 1
            if nodes > max_nodes:
                return -1, best, best_k, nodes
            state = 0
        else:
            if d == 0:
                break
            d -= 1
            c = depth_cand[d]
            for q in range(cand_ptr[c], cand_ptr[c + 1]):
                v = cand_units[q]
                covered[v] = False
                for r in range(unit_ptr[v], unit_ptr[v + 1]):
                    blocked[unit_cands[r]] -= 1
            n_cov -= cand_ptr[c + 1] - cand_ptr[c]
            state = 1
    return (1 if best_k >= 0 else 0), best, best_k, nodes


#: Searches a process runs interpreted before it loads the compiled one. Loading numba and its
#: cached code costs about 0.5 s once per process, more than a few dozen small searches take
#: interpreted; the two give the same answers, so only the time differs.
INTERPRETED_FIRST = 64
_searches = itertools.count()


@functools.cache
def _compiled_search():
    # compiled on first use (and cached on disk), so importing gridplan stays cheap
    from numba import njit

    return njit(cache=True, nogil=True)(_cover_search)


def search_cover(
    model: CoverModel, *, max_nodes: int = 20_000, compiled: bool = True
) -> CoverSolution:
    """The optimum of ``model`` by depth-first search, or a proof that it has no cover.

    Deterministic: the same model gives the same cover (ties go to the candidate tried first:
    cheapest, then lowest index). Stops with status ``"budget"`` after ``max_nodes`` nodes, so
    every model ends in bounded time; ``compiled=False`` runs the same search interpreted
    (slower; for comparison).

    Examples
    --------
    >>> import numpy as np
    >>> m = CoverModel(n=3, indptr=np.array([0, 2, 3, 4, 5]), units=np.array([0, 1, 2, 0, 1]),
    ...                cost=np.array([1.0, 1.0, 3.0, 3.0]))
    >>> s = search_cover(m)
    >>> s.status, s.chosen.tolist(), s.objective
    ('optimal', [0, 1], 2.0)
    """
    n, m = model.n, model.m
    sizes = np.diff(model.indptr)
    cand_of = np.repeat(np.arange(m, dtype=np.int64), sizes)
    # each unit's candidates, cheapest first, ties by index: the search's branching order
    rank = np.empty(m, dtype=np.int64)
    rank[np.lexsort((np.arange(m), model.cost))] = np.arange(m)
    order = np.lexsort((rank[cand_of], model.units))
    unit_cands = cand_of[order]
    unit_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(model.units, minlength=n), out=unit_ptr[1:])
    ratio = model.cost / sizes
    args = [model.indptr, model.units, model.cost, ratio, unit_ptr, unit_cands]
    scratch = [
        np.zeros(m, dtype=np.int64),
        np.zeros(n, dtype=np.bool_),
        np.zeros(n, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
        np.zeros(n + 1, dtype=np.float64),
        np.zeros(n, dtype=np.int64),
    ]
    if compiled:
        found, best, k, nodes = _compiled_search()(n, *args, max_nodes, *scratch)
        chosen = scratch[-1][:k]
    else:
        # interpreted on Python lists, which index faster than numpy arrays
        py = [a.tolist() for a in [*args, *scratch]]
        found, best, k, nodes = _cover_search(
            n, py[0], py[1], py[2], py[3], py[4], py[5], max_nodes,
            py[6], py[7], py[8], py[9], py[10], py[11], py[12],
        )  # fmt: skip
        chosen = np.asarray(py[12][:k], dtype=np.int64)
    if found < 0:
        return CoverSolution("budget", np.empty(0, dtype=np.int64), np.inf, int(nodes))
    if found == 0:
        return CoverSolution("infeasible", np.empty(0, dtype=np.int64), np.inf, int(nodes))
    return CoverSolution("optimal", np.sort(chosen.copy()), float(best), int(nodes))


# ---------------------------------------------------------------------------------------------
# HiGHS
# ---------------------------------------------------------------------------------------------


def highs_cover(
    model: CoverModel,
    *,
    node_limit: int = 5000,
    time_limit: float = 60.0,
    mip_rel_gap: float = 0.1,
    mip_abs_gap: float = 1e-6,
) -> CoverSolution:
    """``model`` as a 0/1 programme solved by HiGHS' branch and bound (through ``highspy``).

    The search is bounded by a branch-and-bound *node* limit, which is deterministic;
    ``time_limit`` is only a safety net (a wall-clock limit would make the plan depend on how
    busy the machine is). A plan within ``mip_rel_gap`` (relative) or ``mip_abs_gap`` of the
    optimum counts as optimal (both 0: the optimum itself).
    HiGHS writes nothing: its output is switched off through its own ``output_flag``.
    """
    import highspy

    n, m = model.n, model.m
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "on")
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_max_nodes", int(node_limit))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("mip_abs_gap", float(mip_abs_gap))
    ones_m, ones_n = np.ones(m), np.ones(n)
    h.passModel(
        m,
        n,
        int(model.units.size),
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize),
        0.0,
        model.cost,
        np.zeros(m),
        ones_m,
        ones_n,
        ones_n,
        model.indptr.astype(np.int32),
        model.units.astype(np.int32),
        np.ones(model.units.size),
        np.ones(m, dtype=np.int32),  # every column integer
    )
    h.run()
    status = h.getModelStatus()
    nodes = int(h.getInfo().mip_node_count)
    none = np.empty(0, dtype=np.int64)
    # every column is a 0/1 variable, so the model is never unbounded: presolve's "unbounded
    # or infeasible" is a proof of infeasibility
    if status in (
        highspy.HighsModelStatus.kInfeasible,
        highspy.HighsModelStatus.kUnboundedOrInfeasible,
    ):
        return CoverSolution("infeasible", none, np.inf, nodes)
    limits = (
        highspy.HighsModelStatus.kTimeLimit,
        highspy.HighsModelStatus.kIterationLimit,
        highspy.HighsModelStatus.kSolutionLimit,
    )
    objective = float(h.getInfo().objective_function_value)
    if status not in (highspy.HighsModelStatus.kOptimal, *limits) or not np.isfinite(objective):
        return CoverSolution("skipped", none, np.inf, nodes)
    x = np.asarray(h.getSolution().col_value)
    chosen = np.flatnonzero(x > 0.5).astype(np.int64)
    # the limits leave an in-band, contiguous incumbent that may not be optimal
    kind = "optimal" if status == highspy.HighsModelStatus.kOptimal else "feasible"
    return CoverSolution(kind, chosen, float(model.cost[chosen].sum()), nodes)


# ---------------------------------------------------------------------------------------------
# one piece
# ---------------------------------------------------------------------------------------------


def solve_exact(
    g: UnitGraph,
    *,
    lo: float,
    hi: float,
    target: float,
    cap: int = 20000,
    max_candidates: int = 4000,
    node_limit: int = 5000,
    time_limit: float = 60.0,
    slack: float = 0.0,
    search_max_candidates: int = 400,
    search_nodes: int = 50_000,
    mip_rel_gap: float = 0.1,
) -> ExactResult:
    """Optimal contiguous in-band plan for a coarse piece, or a proof that none exists.

    With ``slack > 0`` the candidates may fall up to ``slack`` outside ``[lo, hi]`` and pay
    for every household outside it far more than for anything else: the plan then has the
    least total band violation any contiguous plan with such parts can have (for a piece
    already proven to have no in-band plan).

    Models of at most ``search_max_candidates`` candidates are solved by :func:`search_cover`
    (the exact optimum, in microseconds for a micro-grid's slices), and handed to HiGHS when the
    search needs more than ``search_nodes`` nodes; larger models go to HiGHS
    (:func:`highs_cover`, with ``node_limit``, ``time_limit`` and ``mip_rel_gap``) directly.
    ``search_max_candidates=0`` uses HiGHS alone. The defaults are measured
    (``benchmarks/EXACT_RESULTS.md``): on the Singapore island's models the search is faster at
    every size, while on lattices of 49 coarse units and more (above about 400 candidates) its
    nodes grow into the millions and HiGHS wins; 50,000 nodes take about as long as HiGHS
    takes on a model that hard, so a search that runs out costs at most about twice HiGHS'.

    Models with more than ``max_candidates`` columns are skipped: HiGHS does not always honour
    its time limit during presolve on large set-partitioning models.
    """
    subsets = enumerate_subsets(g, lo=lo - slack, hi=hi + slack, cap=cap)
    if subsets is None:
        return ExactResult("skipped", None, -1)
    m = len(subsets)
    if m > max_candidates:
        return ExactResult("skipped", None, m)
    if not subsets:
        return ExactResult("infeasible", None, 0)
    covered = np.zeros(g.n, dtype=bool)
    for s in subsets:
        covered[list(s)] = True
    if not covered.all():
        return ExactResult("infeasible", None, m)
    model = cover_model(g, subsets, lo=lo, hi=hi, target=target, slack=slack)
    sol = None
    if m <= search_max_candidates:
        compiled = next(_searches) >= INTERPRETED_FIRST
        sol = search_cover(model, max_nodes=search_nodes, compiled=compiled)
    if sol is None or sol.status == "budget":
        sol = highs_cover(
            model, node_limit=node_limit, time_limit=time_limit, mip_rel_gap=mip_rel_gap
        )
    if sol.status == "infeasible":
        return ExactResult("infeasible", None, m)
    if sol.status not in ("optimal", "feasible"):  # HiGHS' limit without an incumbent
        return ExactResult("skipped", None, m)
    labels = np.full(g.n, -1, dtype=np.int64)
    # order parts deterministically by their smallest node
    for k, c in enumerate(sorted(sol.chosen.tolist(), key=lambda c: subsets[c][0])):
        labels[list(subsets[c])] = k
    if (labels < 0).any():  # pragma: no cover - an exact cover leaves no unit out
        return ExactResult("skipped", None, m)
    return ExactResult(sol.status, labels, m)
