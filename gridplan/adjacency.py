"""The unit graph: which units may share a grid as neighbours, and which edges cross barriers.

Separate building footprints rarely touch, so adjacency is read from the space-filling cells
(:mod:`gridplan.tessellation`): two units are neighbours when their cells share an edge. An
edge crosses a barrier when its units lie in different faces of the barrier-cut region, or
when the straight segment between them crosses a barrier line (a dead-end road that does not
close a face still separates the houses on either side).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from shapely import STRtree

__all__ = ["Edges", "barrier_lines", "cell_edges", "to_csr"]


@dataclass(frozen=True)
class Edges:
    """Undirected edges ``i < j`` with their shared cell-edge length and barrier crossing."""

    i: np.ndarray
    j: np.ndarray
    shared_m: np.ndarray
    crossing: np.ndarray
    barrier: np.ndarray  # index into the barriers array, -1 where none

    def __len__(self) -> int:
        return int(self.i.shape[0])

    def subset(self, keep: np.ndarray) -> Edges:
        return Edges(
            self.i[keep], self.j[keep], self.shared_m[keep], self.crossing[keep], self.barrier[keep]
        )


def cell_edges(
    cells: np.ndarray,
    xy: np.ndarray,
    *,
    face: np.ndarray | None = None,
    barriers: np.ndarray | None = None,
    min_shared_m: float = 0.5,
) -> Edges:
    """Edges between units whose cells share at least ``min_shared_m`` of boundary.

    Parameters
    ----------
    cells
        Cell polygon per unit (object array).
    xy
        Representative coordinates per unit, for the segment test against barriers.
    face
        Face number per unit; different faces mean a barrier lies between them.
    barriers
        Barrier lines (object array) for the segment test and for naming the barrier.
    """
    cells = np.asarray(cells, dtype=object)
    valid = ~(shapely.is_empty(cells) | shapely.is_missing(cells))
    queryable = cells.copy()
    queryable[~valid] = None
    tree = STRtree(queryable)
    a, b = tree.query(cells, predicate="intersects")
    keep = (a < b) & valid[a] & valid[b]
    a, b = a[keep], b[keep]
    shared = shapely.length(shapely.intersection(cells[a], cells[b]))
    # Cells cut from one another (a building's slices, cells clipped by barriers) carry
    # computed vertices a few 1e-11 m off their neighbour's edge; a floating overlay then sees
    # the shared edge as a single crossing point. Re-measure those pairs with 1 mm
    # snap-rounding, which puts such vertices back on the edge.
    short = np.flatnonzero(shared < min_shared_m)
    if short.size:
        shared[short] = shapely.length(
            shapely.intersection(cells[a[short]], cells[b[short]], grid_size=1e-3)
        )
    ok = shared >= min_shared_m
    a, b, shared = a[ok], b[ok], shared[ok]
    crossing = np.zeros(a.shape[0], dtype=bool)
    barrier = np.full(a.shape[0], -1, dtype=np.int64)
    if face is not None:
        crossing |= face[a] != face[b]
    if barriers is not None and len(barriers) and a.size:
        segs = shapely.linestrings(np.stack([xy[a], xy[b]], axis=1))
        s_idx, b_idx = STRtree(barriers).query(segs, predicate="intersects")
        # a stable order, so the barrier named for an edge does not depend on the tree layout
        order = np.lexsort((b_idx, s_idx))
        s_idx, b_idx = s_idx[order], b_idx[order]
        _, first = np.unique(s_idx, return_index=True)
        barrier[s_idx[first]] = b_idx[first]
        crossing[s_idx] = True
        # edges across faces whose segment misses every line (a bend): name the nearest line
        unnamed = np.flatnonzero(crossing & (barrier < 0))
        if unnamed.size:
            mids = shapely.points((xy[a[unnamed]] + xy[b[unnamed]]) / 2)
            barrier[unnamed] = STRtree(barriers).query_nearest(mids, all_matches=False)[1]
    return Edges(a, b, shared, crossing, barrier)


def barrier_lines(barriers, *, classes: tuple[str, ...], crs: object):
    """The barrier lines that cut the unit graph: those whose ``barrier_class`` starts with
    one of ``classes`` (all of them when ``classes`` is empty), in ``crs``; None if none."""
    if barriers is None or len(barriers) == 0:
        return None
    bars = barriers.to_crs(crs)
    if classes:
        cls = bars["barrier_class"].astype(str)
        keep = np.zeros(len(bars), dtype=bool)
        for prefix in classes:
            keep |= cls.str.startswith(prefix).to_numpy()
        bars = bars[keep]
    bars = bars[~bars.geometry.is_empty & bars.geometry.notna()]
    return bars if len(bars) else None


def to_csr(n: int, i: np.ndarray, j: np.ndarray, cost: np.ndarray) -> sparse.csr_array:
    """Symmetric CSR adjacency with strictly positive costs (zeros would vanish in scipy)."""
    cost = np.maximum(np.asarray(cost, dtype=float), 1e-6)
    rows = np.concatenate([i, j])
    cols = np.concatenate([j, i])
    data = np.concatenate([cost, cost])
    m = sparse.coo_array((data, (rows, cols)), shape=(n, n)).tocsr()
    m.sum_duplicates()
    return sparse.csr_array(m)
