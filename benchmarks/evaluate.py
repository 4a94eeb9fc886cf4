"""One evaluation for every tool, so the figures in RESULTS.md are comparable.

A plan is judged on *atoms*: the units of the shared graph, except that gridplan may slice a
unit above the ceiling into parts (Singapore has 8 such blocks, Taiyuan's stress layer more).
Peers cannot split units, so for them atoms are exactly the shared units. Every figure is
computed from the atoms' cells and the cell adjacency, never from a tool's own report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from gridplan import band_admits
from gridplan.graph import Edges

#: Diagnostics codes by the family the results tables count (the codes tell proven from
#: searched, small from split pieces and dead-end from joined crossings; the tables did not).
DIAGNOSTIC_FAMILY = {
    "out_of_band_proven": "out_of_band",
    "infeasible_piece_small": "infeasible_piece",
    "barrier_crossing_dead_end": "barrier_crossing",
    "barrier_crossing_locked": "barrier_crossing",
}


@dataclass
class Atoms:
    """What a plan is evaluated on (aligned arrays; ``edges`` index into them)."""

    households: np.ndarray
    cells: np.ndarray
    edges: Edges
    feasible: np.ndarray  # the atom's community piece admits an in-band number of grids


def piece_feasibility(n: int, pieces: list[np.ndarray], households, lo, hi) -> np.ndarray:
    """Per unit: does its piece (connected part of its community) admit an in-band count?"""
    out = np.zeros(n, dtype=bool)
    for p in pieces:
        k_min, k_max = band_admits(float(households[p].sum()), lo, hi)
        out[p] = k_min <= k_max
    return out


def polsby_popper(geoms: np.ndarray) -> np.ndarray:
    a = shapely.area(geoms)
    p = shapely.length(geoms)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, 4 * math.pi * a / (p * p), np.nan)


def _union(cells: np.ndarray):
    if len(cells) == 1:
        return cells[0]
    try:
        # fixed-precision overlay (1 cm): cells clipped from different faces union without
        # noding slivers that would inflate the perimeter
        return shapely.union_all(cells, grid_size=0.01)
    except shapely.errors.GEOSException:
        return shapely.union_all(cells)


def grid_geometries(cells: np.ndarray, labels: np.ndarray, n_grids: int) -> np.ndarray:
    """Union of each grid's cells (the same function for every tool)."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_grids + 1))
    out = np.empty(n_grids, dtype=object)
    for g in range(n_grids):
        sel = cells[order[bounds[g] : bounds[g + 1]]]
        sel = sel[~(shapely.is_empty(sel) | shapely.is_missing(sel))]
        out[g] = _union(sel) if len(sel) else shapely.Polygon()
    return out


def evaluate(
    atoms: Atoms,
    labels: np.ndarray,
    *,
    lo: float = 300,
    hi: float = 500,
    expected_households: int,
) -> dict:
    """Figures for one plan: ``labels`` gives each atom's grid (any ints; -1 = unassigned)."""
    labels = np.asarray(labels)
    assigned = labels >= 0
    _, lab = np.unique(labels[assigned], return_inverse=True)
    full = np.full(labels.shape[0], -1, dtype=np.int64)
    full[assigned] = lab
    n_grids = int(lab.max()) + 1 if lab.size else 0
    hh = atoms.households.astype(np.int64)
    g_hh = np.bincount(full[assigned], weights=hh[assigned], minlength=n_grids).astype(np.int64)
    in_band = (g_hh >= lo) & (g_hh <= hi)

    # grids all of whose atoms lie in pieces where an in-band count exists
    infeasible_atom = assigned & ~atoms.feasible
    g_touch_infeasible = np.bincount(full[infeasible_atom], minlength=n_grids) > 0
    g_feasible = ~g_touch_infeasible

    # contiguity: the grid's atoms form one component of the cell graph restricted to it
    e = atoms.edges
    li, lj = full[e.i], full[e.j]
    inside = (li == lj) & (li >= 0)
    n = labels.shape[0]
    g = sparse.coo_array(
        (np.ones(int(inside.sum())), (e.i[inside], e.j[inside])), shape=(n, n)
    ).tocsr()
    _, comp = csgraph.connected_components(g, directed=False)
    pairs = np.unique(np.column_stack([full[assigned], comp[assigned]]), axis=0)
    n_comp = np.bincount(pairs[:, 0], minlength=n_grids)
    contiguous = n_comp == 1

    crossing = np.zeros(n_grids, dtype=bool)
    crossing[li[inside & e.crossing]] = True

    geoms = grid_geometries(atoms.cells, full, n_grids)
    pp = polsby_popper(geoms)

    total = int(g_hh.sum())
    return {
        "n_grids": n_grids,
        "in_band_share": float(in_band.mean()) if n_grids else float("nan"),
        "grids_in_feasible_pieces": int(g_feasible.sum()),
        "in_band_share_feasible": float(in_band[g_feasible].mean())
        if g_feasible.any()
        else float("nan"),
        "contiguous_share": float(contiguous.mean()) if n_grids else float("nan"),
        "mean_compactness": float(np.nanmean(pp)) if n_grids else float("nan"),
        "mean_compactness_feasible": float(np.nanmean(pp[g_feasible]))
        if g_feasible.any()
        else float("nan"),
        "median_compactness": float(np.nanmedian(pp)) if n_grids else float("nan"),
        "barrier_crossing_grids": int(crossing.sum()),
        "households_assigned": total,
        "households_expected": int(expected_households),
        "unassigned_atoms": int((~assigned).sum()),
        "households_conserved": bool(total == expected_households and assigned.all()),
        "grid_households_min": int(g_hh.min()) if n_grids else 0,
        "grid_households_median": float(np.median(g_hh)) if n_grids else 0.0,
        "grid_households_max": int(g_hh.max()) if n_grids else 0,
        "grids_below_floor": int((g_hh < lo).sum()),
        "grids_above_ceiling": int((g_hh > hi).sum()),
    }
