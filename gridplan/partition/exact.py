"""Exact plans for coarse pieces: every connected in-band subset, then set partitioning.

When units are coarse (real public-housing blocks of 100-400 households against a 300-500
band) a grid holds one to four units, and spanning-tree cuts can miss the few plans that
exist. Here the candidate grids are enumerated outright: every connected set of units whose
total is within the band (reverse search from each unit as its lowest member, so each set is
generated once). A 0/1 programme then picks candidates covering every unit exactly once,
minimising deviation from the target size plus moment of inertia. HiGHS (through
``scipy.optimize.milp``) either returns the optimum or proves that no contiguous in-band plan
exists, which makes the diagnostic for such a piece a statement of fact.

Enumeration is capped; above the cap the caller uses the spanning-tree method instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from ..graph import UnitGraph, inertia

__all__ = ["ExactResult", "enumerate_subsets", "solve_exact"]

_STDOUT_LOCK = threading.Lock()


@contextlib.contextmanager
def _native_stdout_silenced() -> Iterator[None]:
    """Send file descriptor 1 to the null device while HiGHS runs.

    HiGHS's own output is switched off through its options (``disp=False``, which scipy passes
    on as ``log_to_console=False``). But the HiGHS bundled with scipy 1.17 still prints
    "HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();" with a bare
    ``printf`` (ERGO-Code/HiGHS#2783), which no option reaches and which would land in the
    middle of a planner's terminal or a piped CLI output. Python-level redirection cannot
    catch it, so the descriptor itself is swapped; the lock keeps two threads from
    interleaving the swap. Drop this once scipy bundles a HiGHS without that line.
    """
    with _STDOUT_LOCK:
        try:
            sys.stdout.flush()
        except (AttributeError, OSError, ValueError):
            pass
        try:
            saved = os.dup(1)
        except OSError:  # no descriptor 1 (a detached process): nothing to protect
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)


@dataclass(frozen=True)
class ExactResult:
    """``status`` is ``"optimal"``, ``"feasible"`` (time limit hit with an in-band plan),
    ``"infeasible"`` (proven) or ``"skipped"`` (too many candidates, or the time limit hit
    with no plan); ``labels`` is set for optimal and feasible."""

    status: str
    labels: np.ndarray | None
    n_candidates: int


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
) -> ExactResult:
    """Optimal contiguous in-band plan for a coarse piece, or a proof that none exists.

    With ``slack > 0`` the candidates may fall up to ``slack`` outside ``[lo, hi]`` and pay
    for every household outside it far more than for anything else: the plan then has the
    least total band violation any contiguous plan with such parts can have (for a piece
    already proven to have no in-band plan).

    Models with more than ``max_candidates`` columns are skipped: HiGHS does not always honour
    its time limit during presolve on large set-partitioning models. The search is bounded by
    a branch-and-bound *node* limit, which is deterministic; ``time_limit`` is only a safety
    net (a wall-clock limit would make the plan depend on how busy the machine is).
    """
    subsets = enumerate_subsets(g, lo=lo - slack, hi=hi + slack, cap=cap)
    if subsets is None:
        return ExactResult("skipped", None, -1)
    if len(subsets) > max_candidates:
        return ExactResult("skipped", None, len(subsets))
    if not subsets:
        return ExactResult("infeasible", None, 0)
    m = len(subsets)
    rows = np.concatenate([np.asarray(s) for s in subsets])
    cols = np.repeat(np.arange(m), [len(s) for s in subsets])
    a = sparse.csr_array((np.ones(rows.shape[0]), (rows, cols)), shape=(g.n, m))
    covered = np.asarray(a.sum(axis=1)).ravel()
    if (covered == 0).any():
        return ExactResult("infeasible", None, m)
    w = g.weight.astype(float)
    mass = g.mass.astype(float)
    x, y = g.xy[:, 0], g.xy[:, 1]
    sw = a.T @ w
    sm = a.T @ mass
    sx = a.T @ (mass * x)
    sy = a.T @ (mass * y)
    sq = a.T @ (mass * (x * x + y * y))
    inert = inertia(np.maximum(sm, 1e-12), sx, sy, sq)
    scale = max(float(np.median(inert[inert > 0])) if (inert > 0).any() else 1.0, 1e-9)
    dev = (sw - target) / target
    # size near the target first (fewer, fuller grids), compactness second
    cost = 4.0 * dev * dev + 0.25 * inert / scale + 1e-6 * np.arange(m) / m
    if slack > 0:
        # a household outside the band costs more than any plan's size and shape terms
        viol = np.maximum(lo - sw, 0.0) + np.maximum(sw - hi, 0.0)
        cost = cost + viol * (1.0 + float(cost.sum()))
    with _native_stdout_silenced():
        res = milp(
            c=cost,
            constraints=LinearConstraint(a, lb=np.ones(g.n), ub=np.ones(g.n)),
            integrality=np.ones(m),
            bounds=Bounds(0, 1),
            # a plan within 10% of the optimum is plenty: refinement polishes it afterwards
            options={
                "disp": False,
                "time_limit": time_limit,
                "node_limit": node_limit,
                "presolve": True,
                "mip_rel_gap": 0.1,
            },
        )
    if res.status == 2:  # infeasible
        return ExactResult("infeasible", None, m)
    if res.x is None:  # time limit without an incumbent
        return ExactResult("skipped", None, m)
    # status 1 = node/time limit with a feasible incumbent: in band and contiguous, maybe not
    # optimal
    status = "optimal" if res.status == 0 else "feasible"
    chosen = np.flatnonzero(res.x > 0.5)
    labels = np.full(g.n, -1, dtype=np.int64)
    # order parts deterministically by their smallest node
    for k, c in enumerate(sorted(chosen, key=lambda c: subsets[c][0])):
        labels[list(subsets[c])] = k
    if (labels < 0).any():  # pragma: no cover - equality constraints forbid this
        return ExactResult("skipped", None, m)
    return ExactResult(status, labels, m)
