"""The one boundary local search, shared by grids, micro-grids and community redivision.

:func:`refine` moves single units across part boundaries. A move must keep every part
connected; it is taken when it lowers the band violation, or leaves it unchanged and lowers a
pluggable cost. The cost is a sum of terms, each a small object that scores a move from sums
it keeps per part:

* :class:`InertiaCost`: moment of inertia per part over the piece's inertia per part (grids
  and micro-grids);
* :class:`ShapeCost`: households times how far each part's shape is from a disc, by
  normalised inertia and by perimeter (community redivision, where parts are large and
  ragged boundaries matter);
* :class:`Disruption`: households moved out of the part that continues their current
  community, against an existing assignment (community redivision keeps households where
  they are).

A term implements ``start(labels, parts)``, ``begin_pass(labels)``, ``leave(u, p)`` (what a
unit leaving part ``p`` changes there), ``delta(ctx, u, p, q)`` and ``move(ctx, u, p, q)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..graph import UnitGraph, inertia, part_stays_connected

__all__ = ["CostTerm", "Disruption", "InertiaCost", "ShapeCost", "refine", "shape_cost"]

_EPS = 1e-9


class CostTerm(Protocol):
    """One term of the local search's cost (see the module docstring)."""

    def start(self, labels: np.ndarray, parts: list[int]) -> None: ...

    def begin_pass(self, labels: np.ndarray) -> None: ...

    def leave(self, u: int, p: int) -> Any: ...

    def delta(self, ctx: Any, u: int, p: int, q: int) -> float: ...

    def move(self, ctx: Any, u: int, p: int, q: int) -> None: ...


def refine(
    g: UnitGraph,
    labels: np.ndarray,
    *,
    lo: float,
    hi: float,
    passes: int,
    cost: CostTerm | Sequence[CostTerm] | None = None,
    nodes: np.ndarray | None = None,
    parts: Sequence[int] | None = None,
    cross: bool = True,
) -> np.ndarray:
    """Boundary moves that reduce band violation first, then ``cost``; contiguity kept.

    Parameters
    ----------
    g
        The graph; contiguity is judged on all of its edges.
    labels
        Part per unit (non-negative integers).
    lo, hi
        The band on each part's weight.
    passes
        Passes over the boundary at most (the search stops early when a pass moves nothing).
    cost
        A cost term or a sequence of them (summed); :class:`InertiaCost` by default.
    nodes
        The units that may move, in the order they are visited (default: all, by number).
    parts
        The parts that take part (default: all); units move only between these.
    cross
        Whether units may move along edges that cross a barrier.

    Returns
    -------
    numpy.ndarray
        The new labels.

    Notes
    -----
    Plain Python lists on purpose: the loop touches a few scalars per unit, where numpy
    scalar indexing costs more than it saves.

    Examples
    --------
    >>> from gridplan.graph import from_edges
    >>> g = from_edges(4, np.array([0, 1, 2]), np.array([1, 2, 3]), weight=np.array([1, 1, 1, 1]),
    ...                xy=np.array([[0.0, 0], [1, 0], [2, 0], [3, 0]]))
    >>> refine(g, np.array([0, 0, 0, 1]), lo=2, hi=2, passes=4).tolist()  # band first
    [0, 0, 1, 1]
    """
    labels = np.asarray(labels, dtype=np.int64)
    if passes <= 0 or labels.size == 0:
        return labels
    k = int(labels.max()) + 1
    part_list = sorted(set(labels.tolist())) if parts is None else sorted(set(parts))
    if len(part_list) < 2:
        return labels
    if cost is None:
        terms: list[CostTerm] = [InertiaCost(g)]
    elif isinstance(cost, Sequence):
        terms = list(cost)
    else:
        terms = [cost]
    active = np.zeros(k, dtype=bool)
    active[part_list] = True
    visit = np.arange(g.n) if nodes is None else np.asarray(nodes, dtype=np.int64)
    indptr = g.indptr.tolist()
    indices = g.indices.tolist()
    usable = np.ones(g.indices.shape[0], dtype=bool) if cross else ~g.crossing
    usable_l = usable.tolist()
    act = active.tolist()
    lab = labels.tolist()
    w = g.weight.astype(float).tolist()
    sw = np.bincount(labels, weights=g.weight.astype(float), minlength=k).tolist()
    count = np.bincount(labels, minlength=k).tolist()
    for t in terms:
        t.start(labels, part_list)
    src, dst = g.sources, g.indices
    # the common case (grids, micro-grids): every edge and every part open to moves
    open_all = cross and bool(active.all())
    single = terms[0] if len(terms) == 1 else None

    def viol(s: float) -> float:
        return (lo - s if s < lo else 0.0) + (s - hi if s > hi else 0.0)

    for _ in range(passes):
        cur = np.asarray(lab, dtype=np.int64)
        for t in terms:
            t.begin_pass(cur)
        ends = cur[dst]
        touching = usable & (cur[src] != ends) & active[ends]
        on_boundary = np.zeros(g.n, dtype=bool)
        on_boundary[src[touching]] = True
        moved = 0
        for u in visit[on_boundary[visit]].tolist():
            p = lab[u]
            if count[p] <= 1:
                continue
            if open_all:
                cand = {lab[v] for v in indices[indptr[u] : indptr[u + 1]]}
                cand.discard(p)
            else:
                cand = set()
                for e in range(indptr[u], indptr[u + 1]):
                    if usable_l[e]:
                        q = lab[indices[e]]
                        if q != p and act[q]:
                            cand.add(q)
            if not cand:
                continue
            wu = w[u]
            vp_before, vp_after = viol(sw[p]), viol(sw[p] - wu)
            ctxs = [t.leave(u, p) for t in terms]
            best_gain, best_q = 0.0, -1
            for q in sorted(cand):
                dv = (vp_after + viol(sw[q] + wu)) - (vp_before + viol(sw[q]))
                if dv > _EPS:
                    continue
                # band violation dominates; cost gains must beat rounding noise
                if single is not None:
                    gain = dv * 1e6 + single.delta(ctxs[0], u, p, q)
                else:
                    gain = dv * 1e6
                    for t, c in zip(terms, ctxs, strict=True):
                        gain += t.delta(c, u, p, q)
                if gain < best_gain - 1e-9:
                    best_gain, best_q = gain, q
            if best_q < 0 or not part_stays_connected(indptr, indices, lab, u, p):
                continue
            lab[u] = best_q
            sw[p] -= wu
            sw[best_q] += wu
            count[p] -= 1
            count[best_q] += 1
            for t, c in zip(terms, ctxs, strict=True):
                t.move(c, u, p, best_q)
            moved += 1
        if moved == 0:
            break
    return np.asarray(lab, dtype=np.int64)


class InertiaCost:
    """Moment of inertia per part (mass-weighted), over the piece's inertia per part."""

    def __init__(self, g: UnitGraph) -> None:
        m = g.mass.astype(float)
        x, y = g.xy[:, 0].astype(float), g.xy[:, 1].astype(float)
        self._m, self._mx, self._my, self._q = m, m * x, m * y, m * (x * x + y * y)
        self.ml, self.mxl, self.myl, self.ql = (
            a.tolist() for a in (self._m, self._mx, self._my, self._q)
        )

    def start(self, labels: np.ndarray, parts: list[int]) -> None:
        k = int(labels.max()) + 1
        self.sm = np.bincount(labels, weights=self._m, minlength=k).tolist()
        self.sx = np.bincount(labels, weights=self._mx, minlength=k).tolist()
        self.sy = np.bincount(labels, weights=self._my, minlength=k).tolist()
        self.sq = np.bincount(labels, weights=self._q, minlength=k).tolist()
        whole = inertia(sum(self.sm), sum(self.sx), sum(self.sy), sum(self.sq))
        self.scale = max(whole / max(k, 1), 1e-9)
        # each part's inertia, kept up to date on every move (recomputed from its sums)
        self.cur = [inertia(*t) for t in zip(self.sm, self.sx, self.sy, self.sq, strict=True)]

    def begin_pass(self, labels: np.ndarray) -> None:
        pass

    def leave(self, u: int, p: int) -> tuple[float, float]:
        sm, sx, sy, sq = self.sm, self.sx, self.sy, self.sq
        after = inertia(
            sm[p] - self.ml[u], sx[p] - self.mxl[u], sy[p] - self.myl[u], sq[p] - self.ql[u]
        )
        return self.cur[p], after

    def delta(self, ctx: tuple[float, float], u: int, p: int, q: int) -> float:
        before_p, after_p = ctx
        sm, sx, sy, sq = self.sm, self.sx, self.sy, self.sq
        di = (
            after_p
            + inertia(
                sm[q] + self.ml[u], sx[q] + self.mxl[u], sy[q] + self.myl[u], sq[q] + self.ql[u]
            )
            - before_p
            - self.cur[q]
        )
        return di / self.scale

    def move(self, ctx: Any, u: int, p: int, q: int) -> None:
        for s, d in ((self.sm, self.ml), (self.sx, self.mxl), (self.sy, self.myl)):
            s[p] -= d[u]
            s[q] += d[u]
        self.sq[p] -= self.ql[u]
        self.sq[q] += self.ql[u]
        for r in (p, q):
            self.cur[r] = inertia(self.sm[r], self.sx[r], self.sy[r], self.sq[r])


def shape_cost(
    sums: Sequence[float] | np.ndarray, weight: float, perimeter: float, w0: float
) -> float:
    """Compactness cost of one part: its weight (in units of ``w0``) times how far its shape
    is from a disc, by two measures that are 0 for a disc.

    * ``2 pi I / A^2 - 1`` (normalised moment of inertia) grows when the part is spread out or
      elongated;
    * ``P^2 / (4 pi A) - 1`` (inverse Polsby-Popper) grows with ragged boundaries as well,
      which the moment misses and which the cut length (what METIS minimises) captures.

    Both are scale-free, so unlike a plain inertia sum they do not favour more, smaller
    parts: the count is left to the band, the target and disruption. ``sums`` are the sums
    of mass, ``m x``, ``m y`` and ``m (x^2 + y^2)``.

    Examples
    --------
    >>> round(shape_cost([1.0, 0.0, 0.0, 1 / (2 * math.pi)], 10, 2 * math.sqrt(math.pi), 10), 12)
    0.0
    """
    m = sums[0]
    if m <= 0:
        return 0.0
    spread = max(2.0 * math.pi * inertia(m, sums[1], sums[2], sums[3]) / (m * m) - 1.0, 0.0)
    ragged = max(perimeter * perimeter / (4.0 * math.pi * m) - 1.0, 0.0)
    return weight / w0 * (0.5 * spread + 0.5 * ragged)


class ShapeCost:
    """:func:`shape_cost` summed over the parts (mass = cell area, perimeter from cells).

    ``cols`` are the per-unit columns ``m, m x, m y, m (x^2 + y^2)`` (centred coordinates keep
    the sums well conditioned); ``w0`` is the weight of a typical part.
    """

    def __init__(self, g: UnitGraph, cols: np.ndarray, w0: float) -> None:
        self.g = g
        self.cols = cols
        self.w0 = w0
        self.ml, self.xl, self.yl, self.ql = (cols[:, i].tolist() for i in range(4))
        self.w = g.weight.astype(float).tolist()
        self.per = g.perimeter.tolist()
        self.shared = g.shared.tolist()
        self.indptr = g.indptr.tolist()
        self.indices = g.indices.tolist()

    def start(self, labels: np.ndarray, parts: list[int]) -> None:
        self.lab = labels.tolist()
        self.sums: dict[int, list[float]] = {}
        for p in parts:
            members = np.flatnonzero(labels == p)
            self.sums[p] = [float(v) for v in self.cols[members].sum(axis=0)] + [
                float(self.g.weight[members].sum()),
                self.g.part_perimeter(members),
            ]

    def begin_pass(self, labels: np.ndarray) -> None:
        self.lab = labels.tolist()

    def leave(self, u: int, p: int) -> tuple:
        lab = self.lab
        # boundary u shares with each neighbouring part: a move turns shared edges with the
        # old part into perimeter and edges with the new one into interior
        touch: dict[int, float] = {}
        for e in range(self.indptr[u], self.indptr[u + 1]):
            lv = lab[self.indices[e]]
            touch[lv] = touch.get(lv, 0.0) + self.shared[e]
        sp = self.sums[p]
        wu = self.w[u]
        du = (self.ml[u], self.xl[u], self.yl[u], self.ql[u])
        per_p_after = sp[5] - self.per[u] + 2.0 * touch.get(p, 0.0)
        p_after = [sp[i] - du[i] for i in range(4)]
        c_p = shape_cost(sp, sp[4], sp[5], self.w0)
        c_p_after = shape_cost(p_after, sp[4] - wu, per_p_after, self.w0)
        return touch, du, per_p_after, c_p, c_p_after

    def delta(self, ctx: tuple, u: int, p: int, q: int) -> float:
        touch, du, _, c_p, c_p_after = ctx
        sq = self.sums[q]
        wu = self.w[u]
        q_after = [sq[i] + du[i] for i in range(4)]
        per_q_after = sq[5] + self.per[u] - 2.0 * touch.get(q, 0.0)
        return (
            c_p_after
            + shape_cost(q_after, sq[4] + wu, per_q_after, self.w0)
            - c_p
            - shape_cost(sq, sq[4], sq[5], self.w0)
        )

    def move(self, ctx: tuple, u: int, p: int, q: int) -> None:
        touch, du, per_p_after, _, _ = ctx
        sp, sq = self.sums[p], self.sums[q]
        wu = self.w[u]
        sp[5] = per_p_after
        sq[5] = sq[5] + self.per[u] - 2.0 * touch.get(q, 0.0)
        for i in range(4):
            sp[i] -= du[i]
            sq[i] += du[i]
        sp[4] -= wu
        sq[4] += wu
        self.lab[u] = q


class Disruption:
    """Weighted households moved out of their current part, against ``previous``.

    A household counts as moved half for not lying in its part's core (the previous part
    giving it most weight: mixing) and half for not lying in the part that continues its
    previous one (its core, when the part is also that previous part's largest recipient: a
    smooth stand-in for the code rule, which exists before a majority is reached, so moves
    can build the majority that keeps a code). ``weight`` scales the term against the shape
    cost; ``w0`` is the weight of a typical part.
    """

    def __init__(self, g: UnitGraph, previous: np.ndarray, *, weight: float, w0: float) -> None:
        self.previous = np.asarray(previous, dtype=np.int64)
        self.old = self.previous.tolist()
        self.w_arr = g.weight
        self.w = g.weight.astype(float).tolist()
        self.dw = float(weight)
        self.w0 = w0

    def start(self, labels: np.ndarray, parts: list[int]) -> None:
        self.parts = parts

    def begin_pass(self, labels: np.ndarray) -> None:
        self.core, self.home = self.anchors(labels, self.parts)

    def anchors(self, labels: np.ndarray, parts: list[int]) -> tuple[dict, dict]:
        """Per part: its core previous part, and the previous part it continues (or -2)."""
        has = self.previous >= 0
        t = pd.DataFrame({"grp": labels[has], "old": self.previous[has], "w": self.w_arr[has]})
        pair = t.groupby(["grp", "old"], sort=True)["w"].sum().reset_index()
        by_grp = pair.sort_values(["grp", "w", "old"], ascending=[True, False, True])
        core = by_grp.drop_duplicates("grp").set_index("grp")["old"].to_dict()
        by_old = pair.sort_values(["old", "w", "grp"], ascending=[True, False, True])
        best = by_old.drop_duplicates("old").set_index("old")["grp"].to_dict()
        core_a = {x: int(core.get(x, -1)) for x in parts}
        home = {x: c if c >= 0 and best.get(c) == x else -2 for x, c in core_a.items()}
        return core_a, home

    def leave(self, u: int, p: int) -> float:
        o = self.old[u]
        return 0.5 * self.w[u] * ((o != self.core[p]) + (o != self.home[p]))

    def delta(self, moved_p: float, u: int, p: int, q: int) -> float:
        o = self.old[u]
        dm = 0.5 * self.w[u] * ((o != self.core[q]) + (o != self.home[q])) - moved_p
        return self.dw * dm / self.w0

    def move(self, ctx: Any, u: int, p: int, q: int) -> None:
        pass
