"""The unit graph: one type for grids, micro-grids and community redivision.

Separate building footprints rarely touch, so adjacency is read from the space-filling cells
(:mod:`gridplan.tessellation`): two units are neighbours when their cells share an edge. An
edge crosses a barrier when its units lie in different faces of the barrier-cut region, or
when the straight segment between them crosses a barrier line (a dead-end road that does not
close a face still separates the houses on either side).

What is in the module:

* :class:`UnitGraph`, the one graph type: symmetric CSR adjacency (``indptr``/``indices``),
  per stored entry the tree cost, the shared cell boundary, whether it crosses a barrier and
  which barrier; per unit the weight (households or residents), mass, coordinates, perimeter
  contribution and region (community or street). A piece of it is the same type
  (:meth:`UnitGraph.subgraph`).
* :func:`build_graph` builds it from cells (plus barriers, faces and regions);
  :func:`from_edges` from an edge list (contracted compounds, Delaunay-joined sites, slices);
  :func:`cell_edges` and :func:`barrier_lines` are the edge finders both use.
* The small shared measures and predicates every solver uses: :func:`inertia` (the one
  moment-of-inertia formula), :func:`in_band` (the one band test), :func:`part_stays_connected`
  (contiguity) and :data:`CROSSING_PENALTY` (the one cost factor on barrier edges).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import shapely
from scipy import sparse
from shapely import STRtree

from .validate import barrier_uses

__all__ = [
    "CROSSING_PENALTY",
    "Edges",
    "UnitGraph",
    "barrier_lines",
    "barrier_names",
    "build_graph",
    "cell_edges",
    "from_edges",
    "in_band",
    "inertia",
    "part_stays_connected",
    "segment_barriers",
    "tree_cost",
]

#: Cost factor on barrier-crossing edges, so spanning trees cross a major road, railway or
#: river only where a piece cannot be connected otherwise.
CROSSING_PENALTY = 1000.0

_EPS = 1e-9


# ---------------------------------------------------------------------------------------------
# shared measures and predicates
# ---------------------------------------------------------------------------------------------


def inertia(m, sx, sy, sq):
    """Moment of inertia about the centroid, from the sums of mass ``m``, ``m x``, ``m y`` and
    ``m (x^2 + y^2)``: floats (the hot loops of local search) or arrays (every cut at once).

    Examples
    --------
    >>> inertia(2.0, 0.0, 0.0, 2.0)  # two unit masses at distance 1 from their centroid
    2.0
    >>> inertia(0.0, 0.0, 0.0, 0.0)
    0.0
    """
    if isinstance(m, float | int):
        return max(sq - (sx * sx + sy * sy) / m, 0.0) if m > 0 else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = sq - (sx * sx + sy * sy) / m
    return np.where(m > 0, np.maximum(out, 0.0), 0.0)


def in_band(total, lo: float, hi: float):
    """Whether ``total`` (a float or an array) lies in ``[lo, hi]``, up to rounding.

    Examples
    --------
    >>> in_band(300, 300, 500), in_band(500.0000000001, 300, 500), in_band(501, 300, 500)
    (True, True, False)
    """
    if isinstance(total, float | int):
        return lo - _EPS <= total <= hi + _EPS
    total = np.asarray(total, dtype=float)
    return (total >= lo - _EPS) & (total <= hi + _EPS)


def part_stays_connected(
    indptr: list[int], indices: list[int], lab: list[int], u: int, p: int
) -> bool:
    """Whether part ``p`` stays connected when unit ``u`` leaves it (plain lists: this sits
    in the hot loop of every local search).

    Only ``u``'s neighbours in ``p`` need to stay mutually reachable without ``u``.

    Examples
    --------
    >>> g = from_edges(3, [0, 1], [1, 2], weight=np.ones(3), xy=np.zeros((3, 2)))  # a path
    >>> ip, ix, lab = g.indptr.tolist(), g.indices.tolist(), [0, 0, 0]
    >>> part_stays_connected(ip, ix, lab, 1, 0), part_stays_connected(ip, ix, lab, 2, 0)
    (False, True)
    """
    nbrs = [v for v in indices[indptr[u] : indptr[u + 1]] if lab[v] == p]
    if len(nbrs) <= 1:
        return True
    target = set(nbrs)
    first = nbrs[0]
    seen = {first, u}
    target.discard(first)
    dq = deque([first])
    while dq and target:
        a = dq.popleft()
        for b in indices[indptr[a] : indptr[a + 1]]:
            if lab[b] == p and b not in seen:
                seen.add(b)
                target.discard(b)
                dq.append(b)
    return not target


# ---------------------------------------------------------------------------------------------
# the graph type
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class UnitGraph:
    """Units as a graph: symmetric CSR adjacency plus per-entry and per-unit arrays.

    Each undirected edge is stored twice (once per direction), so per-entry arrays line up
    with ``indices``.

    Parameters
    ----------
    indptr, indices
        CSR structure: the neighbours of unit ``u`` are ``indices[indptr[u]:indptr[u + 1]]``.
    weight
        Balance weight per unit (households or residents), integer.
    xy
        Unit coordinates in a metric CRS, shape ``(n, 2)``.
    mass
        Mass used for compactness (cell area where known, else the weight).
    cost
        Spanning-tree cost per entry: distance + 1 m, times :data:`CROSSING_PENALTY` across a
        barrier (and any caller's factor), strictly positive.
    shared
        Shared cell boundary per entry (m).
    crossing
        Whether the entry's edge crosses a barrier.
    barrier
        The barrier crossed per entry (position in the barrier lines), -1 where none.
    perimeter
        Cell perimeter per unit (a part's perimeter is the sum less its internal ``shared``).
    region
        Region per unit (community or street number), -1 where none; edges never join two
        regions when the graph is built with :func:`build_graph`.
    linked
        Units whose cell touches no other, joined to their nearest unit in the same region.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weight: np.ndarray
    xy: np.ndarray
    mass: np.ndarray
    cost: np.ndarray
    shared: np.ndarray
    crossing: np.ndarray
    barrier: np.ndarray
    perimeter: np.ndarray
    region: np.ndarray
    linked: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n(self) -> int:
        return int(self.weight.shape[0])

    @cached_property
    def adjacency(self) -> sparse.csr_array:
        """The adjacency as a ``scipy.sparse.csr_array`` whose values are the tree costs."""
        return sparse.csr_array((self.cost, self.indices, self.indptr), shape=(self.n, self.n))

    @cached_property
    def sources(self) -> np.ndarray:
        """The unit each stored entry starts from (``indices`` holds where it ends)."""
        return np.repeat(np.arange(self.n), np.diff(self.indptr))

    def entries(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Entry positions of every edge leaving ``nodes``, and the unit each starts from."""
        nodes = np.asarray(nodes, dtype=np.int64)
        starts = self.indptr[nodes]
        deg = self.indptr[nodes + 1] - starts
        total = int(deg.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        src = np.repeat(nodes, deg)
        offs = np.arange(total) - np.repeat(np.cumsum(deg) - deg, deg)
        return np.repeat(starts, deg) + offs, src

    def edges(self) -> Edges:
        """Each undirected edge once (``i < j``, in CSR order) with its shared boundary,
        barrier crossing and barrier."""
        src = self.sources
        once = src < self.indices
        return Edges(
            src[once],
            self.indices[once].astype(np.int64),
            self.shared[once],
            self.crossing[once],
            self.barrier[once],
        )

    def part_perimeter(self, nodes: np.ndarray) -> float:
        """Perimeter of the union of ``nodes``' cells: their perimeters less shared edges
        (each shared edge is stored once per direction, so subtracting both removes it from
        both cells)."""
        inside = np.zeros(self.n, dtype=bool)
        inside[nodes] = True
        pos, _ = self.entries(nodes)
        internal = inside[self.indices[pos]]
        return float(self.perimeter[nodes].sum() - self.shared[pos][internal].sum())

    def subgraph(self, nodes: np.ndarray, *, keep: np.ndarray | None = None) -> UnitGraph:
        """The piece on ``nodes`` (in that order) as the same type.

        ``keep`` (per entry of this graph) drops the entries where it is False, e.g. the
        barrier edges of a piece that is connected without them. The entries keep the order
        scipy's ``adjacency[nodes][:, nodes]`` gives them, so spanning trees drawn on a
        piece do not depend on how it was cut out.
        """
        nodes = np.asarray(nodes, dtype=np.int64)
        marks = np.arange(1, self.indices.shape[0] + 1, dtype=float)
        if keep is not None:
            marks = np.where(keep, marks, 0.0)
        pick = sparse.csr_array((marks, self.indices, self.indptr), shape=(self.n, self.n))
        if keep is not None:
            pick.eliminate_zeros()
        sub = pick[nodes][:, nodes]
        entry = np.rint(sub.data).astype(np.int64) - 1
        return UnitGraph(
            indptr=sub.indptr,
            indices=sub.indices,
            weight=self.weight[nodes],
            xy=self.xy[nodes],
            mass=self.mass[nodes],
            cost=self.cost[entry],
            shared=self.shared[entry],
            crossing=self.crossing[entry],
            barrier=self.barrier[entry],
            perimeter=self.perimeter[nodes],
            region=self.region[nodes],
        )

    def with_cost(self, cost: np.ndarray) -> UnitGraph:
        """The same graph with other tree costs per entry (strictly positive)."""
        return UnitGraph(
            indptr=self.indptr,
            indices=self.indices,
            weight=self.weight,
            xy=self.xy,
            mass=self.mass,
            cost=np.maximum(np.asarray(cost, dtype=float), 1e-6),
            shared=self.shared,
            crossing=self.crossing,
            barrier=self.barrier,
            perimeter=self.perimeter,
            region=self.region,
            linked=self.linked,
        )


def tree_cost(xy: np.ndarray, i: np.ndarray, j: np.ndarray, crossing: np.ndarray | None = None):
    """Spanning-tree cost of edges ``(i, j)``: distance + 1 m, times :data:`CROSSING_PENALTY`
    where the edge crosses a barrier."""
    dist = np.hypot(*(xy[i] - xy[j]).T) + 1.0
    if crossing is None:
        return dist
    return np.where(crossing, dist * CROSSING_PENALTY, dist)


def from_edges(
    n: int,
    i: np.ndarray,
    j: np.ndarray,
    *,
    weight: np.ndarray,
    xy: np.ndarray,
    mass: np.ndarray | None = None,
    cost: np.ndarray | None = None,
    shared: np.ndarray | None = None,
    crossing: np.ndarray | None = None,
    barrier: np.ndarray | None = None,
    perimeter: np.ndarray | None = None,
    region: np.ndarray | None = None,
    linked: np.ndarray | None = None,
) -> UnitGraph:
    """A :class:`UnitGraph` from undirected edges ``(i[e], j[e])``.

    Costs default to :func:`tree_cost` (distance + 1 m, barrier edges times
    :data:`CROSSING_PENALTY`); mass defaults to the weight. An edge given twice is stored
    once, with its costs and shared lengths summed (contracted compounds touch along several
    cell edges).

    Examples
    --------
    >>> g = from_edges(3, np.array([0, 1]), np.array([1, 2]), weight=np.array([5, 5, 5]),
    ...                xy=np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]]))
    >>> g.indptr.tolist(), g.indices.tolist(), g.cost.tolist()
    ([0, 1, 3, 4], [1, 0, 2, 1], [11.0, 11.0, 11.0, 11.0])
    """
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    m = i.shape[0]
    xy = np.asarray(xy, dtype=float)
    crossing = np.zeros(m, dtype=bool) if crossing is None else np.asarray(crossing, dtype=bool)
    if cost is None:
        cost = tree_cost(xy, i, j, crossing)
    cost = np.maximum(np.asarray(cost, dtype=float), 1e-6)
    shared = np.zeros(m) if shared is None else np.asarray(shared, dtype=float)
    barrier = np.full(m, -1, dtype=np.int64) if barrier is None else np.asarray(barrier)
    rows = np.concatenate([i, j])
    cols = np.concatenate([j, i])
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    two = np.concatenate([np.arange(m), np.arange(m)])[order]
    if rows.size:
        # the same edge given twice is one entry (as scipy's COO -> CSR sums it)
        start = np.flatnonzero(np.r_[True, (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])])
    else:
        start = np.zeros(0, dtype=np.int64)
    c = np.add.reduceat(cost[two], start) if rows.size else np.zeros(0)
    s = np.add.reduceat(shared[two], start) if rows.size else np.zeros(0)
    x = np.logical_or.reduceat(crossing[two], start) if rows.size else np.zeros(0, dtype=bool)
    b = np.maximum.reduceat(barrier[two], start) if rows.size else np.zeros(0, dtype=np.int64)
    rows, cols = rows[start], cols[start]
    indptr = np.searchsorted(rows, np.arange(n + 1)).astype(np.int32)
    weight = np.asarray(weight)
    return UnitGraph(
        indptr=indptr,
        indices=cols.astype(np.int32),
        weight=weight,
        xy=xy,
        mass=weight.astype(float) if mass is None else np.asarray(mass, dtype=float),
        cost=c,
        shared=s,
        crossing=x,
        barrier=b.astype(np.int64),
        perimeter=np.zeros(n) if perimeter is None else np.asarray(perimeter, dtype=float),
        region=np.full(n, -1, dtype=np.int64) if region is None else np.asarray(region),
        linked=np.zeros(0, dtype=np.int64) if linked is None else np.asarray(linked),
    )


def build_graph(
    cells: np.ndarray,
    xy: np.ndarray,
    *,
    weight: np.ndarray,
    face: np.ndarray | None = None,
    barriers: np.ndarray | None = None,
    region: np.ndarray | None = None,
    min_shared_m: float = 0.5,
    link_isolated: bool = False,
) -> UnitGraph:
    """The unit graph of cells: neighbours share at least ``min_shared_m`` of boundary.

    Parameters
    ----------
    cells
        Cell polygon per unit (object array).
    xy
        Representative coordinates per unit.
    weight
        Households (or residents) per unit.
    face
        Face number per unit; different faces mean a barrier lies between them.
    barriers
        Barrier lines (object array); an edge's ``barrier`` is a position in it.
    region
        Region number per unit (community or street); edges between regions are dropped.
    link_isolated
        Join a unit whose cell touches no other (a lone building, an empty cell) to its
        nearest unit in the same region, so it can belong to a part; such units are listed
        in ``linked``.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> cells = np.array([box(0, 0, 1, 1), box(1, 0, 2, 1), box(5, 5, 6, 6)], dtype=object)
    >>> xy = np.array([[0.5, 0.5], [1.5, 0.5], [5.5, 5.5]])
    >>> g = build_graph(cells, xy, weight=np.array([1, 2, 3]), link_isolated=True)
    >>> g.indices.tolist(), g.linked.tolist()
    ([1, 0, 2, 1], [2])
    """
    cells = np.asarray(cells, dtype=object)
    xy = np.asarray(xy, dtype=float)
    n = cells.shape[0]
    region = np.full(n, -1, dtype=np.int64) if region is None else np.asarray(region)
    e = cell_edges(cells, xy, face=face, barriers=barriers, min_shared_m=min_shared_m)
    e = e.subset(region[e.i] == region[e.j])
    ei, ej, shared, crossing, crossed = e.i, e.j, e.shared_m, e.crossing, e.barrier
    lonely = np.zeros(0, dtype=np.int64)
    if link_isolated:
        deg = np.bincount(np.concatenate([ei, ej]), minlength=n)
        lonely = np.flatnonzero(deg == 0)
        extra_i, extra_j = [], []
        for a in lonely.tolist():
            same = np.flatnonzero(region == region[a])
            same = same[same != a]
            if same.size == 0:
                continue
            b = int(same[np.argmin(np.hypot(*(xy[same] - xy[a]).T))])
            extra_i.append(min(a, b))
            extra_j.append(max(a, b))
        if extra_i:
            ei = np.concatenate([ei, extra_i])
            ej = np.concatenate([ej, extra_j])
            shared = np.concatenate([shared, np.full(len(extra_i), 1e-3)])
            crossing = np.concatenate([crossing, np.zeros(len(extra_i), dtype=bool)])
            crossed = np.concatenate([crossed, np.full(len(extra_i), -1, dtype=np.int64)])
    valid = ~(shapely.is_empty(cells) | shapely.is_missing(cells)) if n else np.zeros(0, bool)
    area = np.where(valid, shapely.area(cells), 0.0) if n else np.zeros(0)
    mass = np.maximum(np.nan_to_num(area), 1.0)
    perim = np.nan_to_num(shapely.length(cells)) if n else np.zeros(0)
    return from_edges(
        n,
        ei,
        ej,
        weight=np.asarray(weight),
        xy=xy,
        mass=mass,
        shared=shared,
        crossing=crossing,
        barrier=crossed,
        perimeter=perim,
        region=region,
        linked=lonely,
    )


# ---------------------------------------------------------------------------------------------
# edge finders
# ---------------------------------------------------------------------------------------------


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
        hit, named = segment_barriers(xy[a], xy[b], barriers)
        crossing |= hit
        barrier = named
        # edges across faces whose segment misses every line (a bend): name the nearest line
        unnamed = np.flatnonzero(crossing & (barrier < 0))
        if unnamed.size:
            mids = shapely.points((xy[a[unnamed]] + xy[b[unnamed]]) / 2)
            barrier[unnamed] = STRtree(barriers).query_nearest(mids, all_matches=False)[1]
    return Edges(a, b, shared, crossing, barrier)


def segment_barriers(
    start: np.ndarray, end: np.ndarray, barriers: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Whether the straight segment from each ``start`` to its ``end`` crosses a barrier
    line, and which one (its position in ``barriers``, the lowest when several; -1 where
    none): the segment test of :func:`cell_edges`."""
    crossing = np.zeros(len(start), dtype=bool)
    barrier = np.full(len(start), -1, dtype=np.int64)
    if len(start) == 0 or len(barriers) == 0:
        return crossing, barrier
    segs = shapely.linestrings(np.stack([start, end], axis=1))
    s_idx, b_idx = STRtree(barriers).query(segs, predicate="intersects")
    # a stable order, so the barrier named for an edge does not depend on the tree layout
    order = np.lexsort((b_idx, s_idx))
    s_idx, b_idx = s_idx[order], b_idx[order]
    _, first = np.unique(s_idx, return_index=True)
    barrier[s_idx[first]] = b_idx[first]
    crossing[s_idx] = True
    return crossing, barrier


def barrier_lines(barriers, *, classes: tuple[str, ...], crs: object, road_classes=()):
    """The barrier lines that cut the unit graph, in ``crs``; None if none.

    Every line counts except those whose ``barrier_class`` is a street class of
    ``road_classes`` and none of ``classes`` (:func:`gridplan.validate.barrier_uses`): a class
    gridplan does not know is a barrier, never dropped. Those street lines are
    :func:`barrier_road_lines`."""
    return _barrier_part(barriers, classes=classes, crs=crs, road_classes=road_classes, roads=False)


def barrier_road_lines(barriers, *, classes: tuple[str, ...], crs: object, road_classes=()):
    """The lines of the barriers layer whose class is a street class (``road_classes``, and
    none of ``classes``), in ``crs``: grid boundaries prefer them like the ``roads`` layer,
    and grids may join across them. None if none."""
    return _barrier_part(barriers, classes=classes, crs=crs, road_classes=road_classes, roads=True)


def _barrier_part(barriers, *, classes, crs, road_classes, roads: bool):
    if barriers is None or len(barriers) == 0:
        return None
    bars = barriers.to_crs(crs)
    cls = bars["barrier_class"] if "barrier_class" in bars.columns else [None] * len(bars)
    use = barrier_uses(cls, barrier_classes=classes, road_classes=road_classes)
    bars = bars[(use == "road") if roads else (use != "road")]
    bars = bars[~bars.geometry.is_empty & bars.geometry.notna()]
    return bars if len(bars) else None


def barrier_names(bars) -> list[str]:
    """A name per barrier line of :func:`barrier_lines`, for messages: its ``name``, else
    its class and id (``"river 4"``); empty without barriers."""
    if bars is None:
        return []
    return [
        str(n) if isinstance(n, str) and n else f"{c} {i}"
        for n, c, i in zip(bars["name"], bars["barrier_class"], bars.index, strict=True)
    ]
