"""Split one connected piece of units into ``k`` contiguous, compact parts within a size band.

This is the shared engine under grids, micro-grids and community redivision. It works on a
:class:`gridplan.graph.UnitGraph` (CSR adjacency, weights, coordinates), so it knows nothing
about geometry or columns.

The method is recursive spanning-tree bisection:

1. Build a minimum spanning tree of the piece with edge cost = distance between units (edges
   that cross a barrier carry a large penalty, so a tree crosses a barrier only where it must).
2. Every tree edge splits the tree into two connected halves. For all edges at once, subtree
   sums give each half's weight and moment of inertia (a compactness measure). Keep the edges
   whose halves can hold ``k_a`` and ``k - k_a`` in-band parts, pick the most compact, recurse.
3. When no edge fits, try another tree (random jitter on the costs); a bounded budget of trees
   per piece guarantees termination.
4. Then the shared boundary-move local search (:func:`gridplan.partition.refine.refine`)
   improves compactness without leaving the band or breaking contiguity.

When the budget runs out the piece falls back to the *least-violating* plan: the same
recursion choosing the cut that is nearest to the admissible window, followed by a local
search that reduces band violations first. The caller reports such pieces.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from ..config import band_admits
from ..graph import UnitGraph, inertia
from ..graph import in_band as band_ok
from .exact import solve_exact
from .refine import refine

__all__ = ["PieceResult", "choose_k", "split_piece"]


@dataclass(frozen=True)
class PieceResult:
    """Labels ``0..k-1`` per unit and whether every part is within the band."""

    labels: np.ndarray
    k: int
    feasible_count: bool
    in_band: bool
    fallback: bool
    method: str = "tree"
    proven_infeasible: bool = False


def choose_k(total: float, lo: float, hi: float, target: float) -> tuple[int, bool]:
    """Pick the number of parts for a piece holding ``total``.

    Returns ``(k, feasible)``. When an in-band count exists, ``k`` is the one whose mean part
    size is nearest ``target``. Otherwise ``k`` minimises the worst relative violation and
    ``feasible`` is False.

    Examples
    --------
    >>> choose_k(1200, 300, 500, 400)
    (3, True)
    >>> choose_k(1000, 300, 500, 400)  # 3 grids of 333 are nearer 400 than 2 of 500
    (3, True)
    >>> choose_k(550, 300, 500, 400)
    (2, False)
    """
    k_min, k_max = band_admits(total, lo, hi)
    if total <= 0:
        return 1, False
    if k_min <= k_max:
        # the admissible count whose mean part size is nearest the target (ties: fewer parts)
        # (the mean falls as the count grows, so the answer is next to total / target)
        guess = total / target
        options = {int(np.clip(c, k_min, k_max)) for c in (math.floor(guess), math.ceil(guess))}
        k = min(options, key=lambda c: (abs(total / c - target), c))
        return int(k), True
    # no count fits: compare the nearest counts on either side by worst relative violation
    candidates = sorted({max(1, k_max), k_min})
    best_k, best_v = candidates[0], np.inf
    for k in candidates:
        mean = total / k
        v = max((lo - mean) / lo, (mean - hi) / hi, 0.0)
        if v < best_v - 1e-12:
            best_k, best_v = k, v
    return best_k, False


def _subtree_sums(
    tree: sparse.csr_array, root: int, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Subtree sums of ``cols`` for every node of a tree, its parent array and DFS preorder.

    In DFS preorder a subtree is one contiguous run starting at its root, so once subtree
    sizes are known every column's subtree sum is a difference of prefix sums.
    """
    order, pred = csgraph.depth_first_order(tree, root, directed=False, return_predecessors=True)
    n = tree.shape[0]
    size = [1] * n
    pred_l = pred.tolist()
    for v in reversed(order.tolist()[1:]):
        size[pred_l[v]] += size[v]
    sz = np.asarray(size, dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    cum = np.vstack([np.zeros((1, cols.shape[1])), np.cumsum(cols[order], axis=0)])
    sums = cum[pos + sz] - cum[pos]
    return sums, pred, order


def _connected_masks(masks: np.ndarray, nbr: np.ndarray) -> np.ndarray:
    """Whether each bitmask of local nodes induces a connected subgraph (flood fill from the
    lowest set bit, all masks at once). ``nbr[i]`` is the neighbour bitmask of node ``i``.

    The neighbours of a whole set of nodes are looked up per 6-bit chunk of the set: a table
    of the 64 unions per chunk makes each flood step two or three array lookups instead of
    one pass per node.
    """
    n = nbr.shape[0]
    subsets = np.arange(64)
    tables = []
    for lo in range(0, n, 6):
        chunk = nbr[lo : lo + 6]
        table = np.zeros(64, dtype=np.int64)
        for j in range(chunk.shape[0]):
            table |= np.where((subsets >> j) & 1 == 1, chunk[j], 0)
        tables.append((lo, table))
    reach = masks & -masks
    while True:
        grow = reach.copy()
        for lo, table in tables:
            grow |= table[(reach >> lo) & 63]
        grow &= masks
        if np.array_equal(grow, reach):
            return reach == masks
        reach = grow


class _Bisector:
    def __init__(
        self,
        g: UnitGraph,
        *,
        lo: float,
        hi: float,
        rng: np.random.Generator,
        tries: int,
        enum_max: int = 12,
    ):
        self.g = g
        # node sets up to this size are cut by enumerating every bipartition (2^n masks,
        # vectorised) instead of sampling spanning trees: exact, and far cheaper than many
        # trees that all fail
        self.enum_max = enum_max
        self.lo, self.hi = float(lo), float(hi)
        self.rng = rng
        self.tries = tries
        self.relaxed = 0
        self.budget = 0
        m = g.mass.astype(float)
        x, y = g.xy[:, 0], g.xy[:, 1]
        # compactness uses mass (area); the band uses weight (households)
        self.cols = np.column_stack([g.weight.astype(float), m, m * x, m * y, m * (x * x + y * y)])
        self._indptr = g.indptr.tolist()
        self._indices = g.indices.tolist()

    def _sub_adjacency(self, nodes: np.ndarray) -> sparse.csr_array:
        """``g.adjacency[nodes][:, nodes]``, the same arrays in the same entry order, without
        scipy's general fancy indexing (a hot spot: once per bisection step). ``nodes``
        ascending, as every node set of the bisection is; otherwise scipy's indexing."""
        g = self.g
        if nodes.size > 1 and not bool((nodes[1:] > nodes[:-1]).all()):
            return g.adjacency[nodes][:, nodes]
        loc = np.full(g.n, -1, dtype=np.int64)
        loc[nodes] = np.arange(nodes.size)
        pos, src = g.entries(nodes)
        col = loc[g.indices[pos]]
        keep = col >= 0
        pos, src, col = pos[keep], src[keep], col[keep]
        indptr = np.zeros(nodes.size + 1, dtype=np.int64)
        np.cumsum(np.bincount(loc[src], minlength=nodes.size), out=indptr[1:])
        index_dtype = g.adjacency.indices.dtype
        return sparse.csr_array(
            (g.cost[pos], col.astype(index_dtype), indptr.astype(index_dtype)),
            shape=(nodes.size, nodes.size),
        )

    def split_exact(self, nodes: np.ndarray, k: int) -> list[np.ndarray] | None:
        """Recursive bisection with bounded backtracking: only admissible cuts, a failed child
        sends its parent to its next tree. Returns None when the tree budget runs out."""
        if k == 1:
            return [nodes]
        if nodes.size < k:
            return None
        total = float(self.g.weight[nodes].sum())
        for cut in self._cuts(nodes, k, total):
            if self.budget <= 0:
                return None
            self.budget -= 1
            if cut is None:
                continue
            side_a, k_a = cut
            parts_a = self.split_exact(nodes[side_a], k_a)
            if parts_a is None:
                continue
            parts_b = self.split_exact(nodes[~side_a], k - k_a)
            if parts_b is None:
                continue
            return parts_a + parts_b
        return None

    def _cuts(
        self, nodes: np.ndarray, k: int, total: float
    ) -> Iterator[tuple[np.ndarray, int] | None]:
        """Admissible cuts to try in turn: for a small node set every one of them, best first
        (no other tree could offer anything else); otherwise the best cut of each of
        ``tries`` spanning trees (None for a tree without one)."""
        if nodes.size <= self.enum_max:
            yield from self._small_cuts(nodes, k, total, strict=True)
            return
        sub = self._sub_adjacency(nodes)
        for attempt in range(self.tries):
            yield self._best_cut(sub, nodes, k, total, attempt, strict=True)

    def split(self, nodes: np.ndarray, k: int) -> list[np.ndarray]:
        """Greedy recursive bisection that never backtracks: a node where no tree offers an
        admissible cut takes the least-violating cut and is counted in ``relaxed``."""
        if k == 1:
            return [nodes]
        if nodes.size < k:  # fewer units than parts: some parts are lost
            self.relaxed += 1
            if nodes.size <= 1:
                return [nodes]
            k = nodes.size
        total = float(self.g.weight[nodes].sum())
        cut = None
        if nodes.size <= self.enum_max:
            cuts = self._small_cuts(nodes, k, total, strict=True, first=True)
            if cuts:
                cut = cuts[0]
            else:
                self.relaxed += 1
                cuts = self._small_cuts(nodes, k, total, strict=False, first=True)
                cut = cuts[0] if cuts else None
        else:
            sub = self._sub_adjacency(nodes)
            for attempt in range(self.tries):
                cut = self._best_cut(sub, nodes, k, total, attempt, strict=True)
                if cut is not None:
                    break
            if cut is None:
                self.relaxed += 1
                cut = self._best_cut(sub, nodes, k, total, 0, strict=False)
        if cut is None:  # a single node cannot be cut; keep it whole
            return [nodes]
        side_a, k_a = cut
        return self.split(nodes[side_a], k_a) + self.split(nodes[~side_a], k - k_a)

    def _counts(
        self,
        sw: np.ndarray,
        rest: np.ndarray,
        k: int,
        slack: float,
        n_a: np.ndarray,
        n_b: np.ndarray,
    ) -> np.ndarray:
        """Best part count ``k_a`` for the subtree side of every edge (0 where none fits).

        ``k_a`` must let the side hold ``k_a`` parts and the rest ``k - k_a`` parts; sides of
        more than one part use the slack-narrowed band, and a side cannot hold more parts
        than it has units (``n_a``, ``n_b``). Among the admissible counts the one
        proportional to the side's weight is taken.
        """
        lo_s, hi_s = self.lo + slack, self.hi - slack
        eps = 1e-9
        a_lo = np.maximum(np.ceil(sw / hi_s - eps), k - np.floor(rest / lo_s + eps))
        a_hi = np.minimum(np.floor(sw / lo_s + eps), k - np.ceil(rest / hi_s - eps))
        a_lo = np.maximum(a_lo, k - n_b)
        a_hi = np.minimum(a_hi, n_a)
        # both sides hold at least two parts here; one-part sides are handled below
        a_lo = np.maximum(a_lo, 2)
        a_hi = np.minimum(a_hi, k - 2)
        prop = np.clip(np.rint(k * sw / (sw + rest)), a_lo, a_hi)
        out = np.where(a_lo <= a_hi, prop, 0.0)
        # one-part sides take the exact band, the other side the narrowed one
        one_a = (sw >= self.lo - eps) & (sw <= self.hi + eps)
        one_b = (rest >= self.lo - eps) & (rest <= self.hi + eps)
        if k == 2:
            return np.where(one_a & one_b, 1.0, 0.0)
        fits_rest = (rest >= (k - 1) * lo_s - eps) & (rest <= (k - 1) * hi_s + eps) & (n_b >= k - 1)
        fits_sw = (sw >= (k - 1) * lo_s - eps) & (sw <= (k - 1) * hi_s + eps) & (n_a >= k - 1)
        out = np.where((out == 0) & one_a & fits_rest, 1.0, out)
        out = np.where((out == 0) & one_b & fits_sw, float(k - 1), out)
        return out

    def _small_cuts(
        self, nodes: np.ndarray, k: int, total: float, *, strict: bool, first: bool = False
    ) -> list[tuple[np.ndarray, int]]:
        """Every connected bipartition of a small node set, scored like the tree cuts.

        ``strict``: the admissible cuts of the first slack tier that has any, best first,
        then those of the looser tiers (``first`` keeps only the best). Otherwise the single
        least-violating cut. Empty when nothing qualifies (for ``strict``, a proof that no
        cut of this node set is admissible).
        """
        n = nodes.size
        if n < 2:
            return []
        local = {v: i for i, v in enumerate(nodes.tolist())}
        nbr = np.zeros(n, dtype=np.int64)
        for i, v in enumerate(nodes.tolist()):
            bits = 0
            for u in self._indices[self._indptr[v] : self._indptr[v + 1]]:
                j = local.get(u)
                if j is not None:
                    bits |= 1 << j
            nbr[i] = bits
        full = (1 << n) - 1
        masks = np.arange(1, full, dtype=np.int64)
        member = ((masks[:, None] >> np.arange(n)) & 1).astype(float)
        cols = self.cols[nodes]
        sums = member @ cols
        tot = cols.sum(axis=0)
        sw = sums[:, 0]
        rest_w = tot[0] - sw
        n_a = member.sum(axis=1)
        mean = total / k
        out: list[tuple[np.ndarray, int]] = []

        def cut_inertia(sel: np.ndarray) -> np.ndarray:
            s = sums[sel]
            return inertia(s[:, 1], s[:, 2], s[:, 3], s[:, 4]) + inertia(
                tot[1] - s[:, 1], tot[2] - s[:, 2], tot[3] - s[:, 3], tot[4] - s[:, 4]
            )

        def side(mask: int) -> np.ndarray:
            return ((mask >> np.arange(n)) & 1).astype(bool)

        if strict:
            band = self.hi - self.lo
            taken = np.zeros(masks.shape[0], dtype=bool)
            for slack in (0.35 * band, 0.15 * band, 0.0):
                counts = self._counts(sw, rest_w, k, slack, n_a, n - n_a)
                sel = np.flatnonzero((counts > 0) & ~taken)
                if sel.size == 0:
                    continue
                conn = _connected_masks(masks[sel], nbr) & _connected_masks(full ^ masks[sel], nbr)
                sel = sel[conn]
                if sel.size == 0:
                    continue
                taken[sel] = True
                ka = counts[sel]
                score = self._score(sw[sel], ka, cut_inertia(sel), k, mean)
                for j in np.argsort(score, kind="stable").tolist():
                    out.append((side(int(masks[sel[j]])), int(ka[j])))
                    if first:
                        return out
            return out
        conn = _connected_masks(masks, nbr) & _connected_masks(full ^ masks, nbr)
        sel = np.flatnonzero(conn)
        if sel.size == 0:
            return []
        _, i, k_a = self._least_violating(sw[sel], rest_w[sel], cut_inertia(sel), k, mean)
        return [(side(int(masks[sel[i]])), k_a)]

    def _score(self, sw: np.ndarray, ka: np.ndarray, inert: np.ndarray, k: int, mean: float):
        """Score of admissible cuts (lower is better): compactness, scaled up when the side's
        mean part size strays from the piece's mean or the count split is uneven."""
        dev = (sw / ka - mean) / mean
        uneven = np.abs(2.0 * ka / k - 1.0)
        return inert * (1.0 + 4.0 * dev * dev) * (1.0 + 0.5 * uneven)

    def _least_violating(
        self, sw: np.ndarray, rest_w: np.ndarray, inert: np.ndarray, k: int, mean: float
    ) -> tuple[float, int, int]:
        """``(score, index, k_a)`` of the cut nearest the admissible window: violation
        first, then balance, then compactness."""
        best = (np.inf, 0, 1)
        for k_a in range(1, k):
            k_b = k - k_a
            viol = (
                np.maximum(k_a * self.lo - sw, 0)
                + np.maximum(sw - k_a * self.hi, 0)
                + np.maximum(k_b * self.lo - rest_w, 0)
                + np.maximum(rest_w - k_b * self.hi, 0)
            )
            dev = (sw / k_a - mean) / mean
            score = viol * 1e12 + dev * dev * 1e6 + inert / max(float(inert.max()), 1.0)
            i = int(np.argmin(score))
            if score[i] < best[0]:
                best = (float(score[i]), i, k_a)
        return best

    def _tree(self, sub: sparse.csr_array, attempt: int) -> sparse.csr_array:
        data = sub.data
        if attempt > 0:
            # jitter per stored entry; the MST of an asymmetric matrix keeps the cheaper of
            # (i, j) and (j, i), which is still a valid undirected spanning tree
            data = data * (1.0 + 0.6 * self.rng.random(data.shape[0]))
        jittered = sparse.csr_array((data, sub.indices, sub.indptr), shape=sub.shape)
        return csgraph.minimum_spanning_tree(jittered)

    def _best_cut(
        self,
        sub: sparse.csr_array,
        nodes: np.ndarray,
        k: int,
        total: float,
        attempt: int,
        *,
        strict: bool,
    ) -> tuple[np.ndarray, int] | None:
        tree = self._tree(sub, attempt)
        n = nodes.size
        root = 0 if attempt == 0 else int(self.rng.integers(n))
        cols = np.column_stack([self.cols[nodes], np.ones(n)])
        sums, pred, order = _subtree_sums(tree, root, cols)
        pos = np.empty(n, dtype=np.int64)
        pos[order] = np.arange(n)
        tot = cols.sum(axis=0)
        child = np.flatnonzero(pred >= 0)
        if child.size == 0:
            return None
        sw = sums[child, 0]
        rest_w = tot[0] - sw
        n_a = sums[child, -1]
        inert = inertia(sums[child, 1], sums[child, 2], sums[child, 3], sums[child, 4]) + inertia(
            tot[1] - sums[child, 1],
            tot[2] - sums[child, 2],
            tot[3] - sums[child, 3],
            tot[4] - sums[child, 4],
        )
        mean = total / k
        band = self.hi - self.lo
        best: tuple[float, int, int] | None = None
        if strict:
            # For every edge, the part counts its two sides could hold. A side that will be
            # split again keeps its mean part size within [lo + s, hi - s] so its children
            # are not starved (1,000 households left for exactly two 300-500 grids); tiers
            # relax s to zero.
            for slack in (0.35 * band, 0.15 * band, 0.0):
                counts = self._counts(sw, rest_w, k, slack, n_a, n - n_a)
                ok = counts > 0
                if not ok.any():
                    continue
                ka = np.where(ok, counts, 1).astype(float)
                score = np.where(ok, self._score(sw, ka, inert, k, mean), np.inf)
                i = int(np.argmin(score))
                best = (float(score[i]), i, int(counts[i]))
                break
        else:
            best = self._least_violating(sw, rest_w, inert, k, mean)
        if best is None:
            return None
        _, i, k_a = best
        c = int(child[i])
        # in DFS preorder a subtree is one contiguous run starting at its root
        side_a = np.zeros(n, dtype=bool)
        start = int(pos[c])
        side_a[order[start : start + int(sums[c, -1])]] = True
        return side_a, k_a


def _relabel(parts: list[np.ndarray], n: int, xy: np.ndarray) -> np.ndarray:
    labels = np.empty(n, dtype=np.int64)
    for i, nodes in enumerate(parts):
        labels[nodes] = i
    return labels


def _exact(
    g: UnitGraph,
    lo: float,
    hi: float,
    target: float,
    passes: int,
    *,
    slack: float = 0.0,
    **limits: int,
) -> tuple[PieceResult | None, str]:
    """The exact model's plan (polished by refinement) if it has one, and its status."""
    ex = solve_exact(g, lo=lo, hi=hi, target=target, slack=slack, **limits)
    if ex.labels is None:
        return None, ex.status
    k_ex = int(ex.labels.max()) + 1
    labels = refine(g, ex.labels, lo=lo, hi=hi, passes=passes)
    sums = np.bincount(labels, weights=g.weight.astype(float), minlength=k_ex)
    in_band = bool(band_ok(sums, lo, hi).all())
    found = PieceResult(
        labels=labels,
        k=k_ex,
        feasible_count=True,
        in_band=in_band,
        fallback=not in_band,
        method="exact" if slack == 0 else "exact-relaxed",
        proven_infeasible=not in_band,
    )
    return found, ex.status


def _violation(labels: np.ndarray, weight: np.ndarray, lo: float, hi: float) -> float:
    k = int(labels.max()) + 1
    sums = np.bincount(labels, weights=weight.astype(float), minlength=k)
    return float(np.maximum(lo - sums, 0).sum() + np.maximum(sums - hi, 0).sum())


def _least_violating_exact(
    g: UnitGraph, lo: float, hi: float, target: float, passes: int, labels: np.ndarray
) -> PieceResult | None:
    """For a piece proven to have no in-band plan: the exact model with the band widened
    step by step, each household outside ``[lo, hi]`` paid for above all else. Returns its
    plan when it violates the band by less than ``labels`` (the trees' least-violating plan)."""
    current = _violation(labels, g.weight, lo, hi)
    for frac in (0.1, 0.25, 0.5):
        found, _ = _exact(g, lo, hi, target, passes, slack=frac * (hi - lo))
        if found is None:
            continue
        if _violation(found.labels, g.weight, lo, hi) < current - 1e-9:
            return found
        return None
    return None


def _repair(
    g: UnitGraph,
    labels: np.ndarray,
    *,
    lo: float,
    hi: float,
    target: float,
    keep_count: bool,
    rng: np.random.Generator,
    tries: int,
    refine_passes: int,
    exact: bool,
    enum_max: int = 12,
    max_units: int = 150,
    rounds: int = 12,
    max_attempts: int = 48,
) -> np.ndarray:
    """Re-plan the neighbourhood of each out-of-band part on its own.

    A big piece whose search left a few parts out of band usually has an in-band plan that
    differs only locally. The out-of-band part and the parts around it (one ring, then two)
    form a small connected sub-piece; splitting that afresh, where trees, backtracking and the
    exact model are affordable, and putting the result back fixes the violation without
    touching the rest. ``keep_count`` keeps the number of parts of each sub-piece (the
    caller asked for an explicit count). At most ``max_attempts`` sub-pieces are re-planned,
    so a piece with many misses stays bounded in time.
    """
    labels = labels.copy()
    src, dst = g.sources, g.indices
    w = g.weight.astype(float)
    failed: set[bytes] = set()  # node sets already tried without success
    attempts = 0
    for _ in range(rounds):
        kk = int(labels.max()) + 1
        sums = np.bincount(labels, weights=w, minlength=kk)
        viol = np.maximum(lo - sums, 0) + np.maximum(sums - hi, 0)
        bad = [int(p) for p in np.argsort(-viol, kind="stable") if viol[p] > 1e-9]
        if not bad:
            break
        touching = labels[src] != labels[dst]
        pairs = np.unique(np.column_stack([labels[src[touching]], labels[dst[touching]]]), axis=0)
        nbrs: dict[int, set[int]] = {}
        for a, b in pairs.tolist():
            nbrs.setdefault(a, set()).add(b)
        improved = False
        for p in bad:
            group = {p}
            for _ring in range(2):
                group = group | {q for r in group for q in nbrs.get(r, ())}
                key = tuple(sorted(group))
                nodes = np.flatnonzero(np.isin(labels, key))
                if nodes.size > max_units or len(group) < 2:
                    break
                if nodes.tobytes() in failed:
                    continue
                if attempts >= max_attempts:
                    return labels.astype(np.int64)
                attempts += 1
                sub = g.subgraph(nodes)
                res = split_piece(
                    sub,
                    lo=lo,
                    hi=hi,
                    target=target,
                    k=len(group) if keep_count else None,
                    seed=rng,
                    tries=tries,
                    refine_passes=refine_passes,
                    exact=exact,
                    enum_max=enum_max,
                    repair=False,
                )
                if not res.in_band:
                    failed.add(nodes.tobytes())
                    continue
                # reuse the group's labels, then fresh ones for any extra part
                names = list(key) + list(range(kk, kk + max(0, res.k - len(key))))
                new = labels.copy()
                new[nodes] = np.asarray(names)[res.labels]
                # close the gaps a smaller count leaves, keeping labels 0..k-1 in order
                _, labels = np.unique(new, return_inverse=True)
                improved = True
                break
            if improved:
                break
        if not improved:
            break
    return labels.astype(np.int64)


def split_piece(
    g: UnitGraph,
    *,
    lo: float,
    hi: float,
    target: float,
    k: int | None = None,
    seed: int | np.random.Generator = 0,
    tries: int = 24,
    refine_passes: int = 8,
    exact: bool = True,
    exact_max_units: int = 150,
    exact_first_max_units: int = 30,
    repair: bool = True,
    least_violating: bool = True,
    enum_max: int = 12,
    plan_if_proven: bool = True,
) -> PieceResult:
    """Split a connected piece into ``k`` contiguous parts with weights in ``[lo, hi]``.

    Parameters
    ----------
    g
        The piece. Its adjacency must be connected.
    lo, hi, target
        The band and the preferred part size.
    k
        Number of parts; chosen with :func:`choose_k` when None.
    seed
        Seed or generator; the same seed gives the same labels.
    tries
        Spanning trees tried per bisection step.
    refine_passes
        Passes of boundary-move refinement.
    exact
        When the tree search finds no in-band plan for a piece of at most
        ``exact_max_units`` units, try :func:`gridplan.partition.exact.solve_exact`, which
        finds a plan or proves that none exists. Pieces of at most
        ``exact_first_max_units`` units (with k chosen automatically) go to the exact model
        first: for a handful of units it is cheaper than spanning trees.
    repair
        When a piece too large for the exact model still has out-of-band parts, re-plan the
        neighbourhood of each such part on its own (see :func:`_repair`).
    least_violating
        For a piece proven to have no in-band plan, look for the plan with the least total
        violation with the exact model (see :func:`_least_violating_exact`); callers that
        will discard such a plan anyway (micro-grids about to retry with finer slices) turn
        it off.
    enum_max
        Node sets of at most this many units are cut by enumerating every connected
        bipartition instead of sampling spanning trees (``SearchRules.enum_max``).
    plan_if_proven
        With False, a piece the exact model first proves to have no in-band plan returns at
        once (one part, ``proven_infeasible``) instead of searching for its least-violating
        plan: for callers that discard any plan out of band (micro-grids about to be sliced
        finer).

    Returns
    -------
    PieceResult
        ``labels`` in ``0..k-1``. ``in_band`` tells whether every part is within the band;
        ``fallback`` whether the least-violating search had to be used.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    exact_allowed = exact
    total = float(g.weight.sum())
    feasible = True
    explicit = k is not None
    proven_first = False
    if k is None:
        k, feasible = choose_k(total, lo, hi, target)
    else:
        k_min, k_max = band_admits(total, lo, hi)
        feasible = k_min <= k <= k_max
    k = max(1, min(k, g.n))
    nodes = np.arange(g.n)
    if feasible and exact and not explicit and g.n <= exact_first_max_units:
        # Small piece (a grid's building slices): the exact model is cheaper than growing
        # spanning trees, and optimal. Trees remain the fallback when it is skipped.
        found, status = _exact(g, lo, hi, target, refine_passes, cap=3000, max_candidates=400)
        if found is not None:
            return found
        if status == "infeasible":
            # proven: no contiguous in-band plan; the trees still give the least-violating one
            if not plan_if_proven:
                return PieceResult(
                    labels=np.zeros(g.n, dtype=np.int64),
                    k=1,
                    feasible_count=feasible,
                    in_band=False,
                    fallback=True,
                    method="exact",
                    proven_infeasible=True,
                )
            exact = False
            proven_first = True

    def finish(parts: list[np.ndarray], passes: int) -> tuple[np.ndarray, int, float]:
        kk = len(parts)
        lab = refine(g, _relabel(parts, g.n, g.xy), lo=lo, hi=hi, passes=passes)
        sums = np.bincount(lab, weights=g.weight.astype(float), minlength=kk)
        viol = float(np.maximum(lo - sums, 0).sum() + np.maximum(sums - hi, 0).sum())
        return lab, kk, viol

    # 1. greedy bisection (a node without an admissible cut takes the least-violating one)
    #    and repair moves: cheap, and enough for most pieces. When the preferred count
    #    misses, neighbouring admissible counts often fit coarse units better.
    k_min, k_max = band_admits(total, lo, hi)
    counts = [k]
    # after a proof of infeasibility only the least-violating plan is wanted: no retries
    search = feasible and not proven_first
    if search and not explicit:  # an explicit k (e.g. a compound's fewest grids) is kept
        counts += [c for d in (1, 2) for c in (k - d, k + d) if k_min <= c <= k_max]
    best: tuple[np.ndarray, int, float] | None = None
    fallback = False
    for kk in counts:
        bis = _Bisector(g, lo=lo, hi=hi, rng=rng, tries=tries, enum_max=enum_max)
        res = finish(bis.split(nodes, min(kk, g.n)), max(refine_passes, 12))
        if best is None or res[2] < best[2] - 1e-9:
            best = res
            fallback = bis.relaxed > 0
        if best[2] <= 1e-9:
            break
    assert best is not None
    if best[2] > 1e-9 and search:
        # 2. admissible cuts only, with bounded backtracking over other trees
        bis = _Bisector(g, lo=lo, hi=hi, rng=rng, tries=tries, enum_max=enum_max)
        bis.budget = 8 * tries + 4 * k
        parts = bis.split_exact(nodes, k)
        if parts is not None:
            best = finish(parts, refine_passes)
            fallback = False
    labels, k, viol = best
    in_band = viol <= 1e-9
    proven = False
    if not in_band and feasible and exact and g.n <= exact_max_units:
        # Trees and repair moves found nothing. For a coarse piece, enumerate every candidate
        # part and solve the set partitioning: it finds a plan they missed, or proves that
        # none exists.
        found, status = _exact(g, lo, hi, target, refine_passes)
        if found is not None:
            return found
        proven = status == "infeasible"
    if not in_band and search and repair and not proven:
        # too big for the exact model (or too many candidates): re-plan around each miss
        labels = _repair(
            g,
            labels,
            lo=lo,
            hi=hi,
            target=target,
            keep_count=explicit,
            rng=rng,
            tries=tries,
            refine_passes=refine_passes,
            exact=exact,
            enum_max=enum_max,
            max_units=exact_max_units,
        )
        k = int(labels.max()) + 1
        sums = np.bincount(labels, weights=g.weight.astype(float), minlength=k)
        in_band = bool(band_ok(sums, lo, hi).all())
        fallback = fallback and not in_band
    if (proven or proven_first) and least_violating and exact_allowed and g.n <= exact_max_units:
        # proven infeasible: the trees' plan is least-violating only greedily; the exact
        # model with a soft band finds the plan with the least total violation
        better = _least_violating_exact(g, lo, hi, target, refine_passes, labels)
        if better is not None:
            return better
    return PieceResult(
        labels=labels,
        k=k,
        feasible_count=feasible,
        in_band=in_band,
        fallback=fallback,
        proven_infeasible=(proven or proven_first) and not in_band,
    )
