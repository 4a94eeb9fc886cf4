"""The redivision planner: groups of units on the street graph and the changes between them.

:class:`Planner` starts from the current communities (or from scratch), repairs groups outside
the band by merging, splitting and re-planning regions with
:func:`gridplan.partition.core.split_piece`, reaches a target count when asked, and polishes
the boundaries with the shared local search (:func:`gridplan.partition.refine.refine`).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from ..config import band_admits
from ..graph import CROSSING_PENALTY, UnitGraph, from_edges, in_band
from ..partition.core import split_piece
from ..partition.refine import CostTerm, Disruption, ShapeCost, refine, shape_cost
from .rules import ReformRules

__all__ = ["Planner", "reach_of"]

_EPS = 1e-9

#: A candidate change: (score to minimise, groups replaced, new parts).
_Option = tuple[tuple[float, ...], list[int], list[np.ndarray]]


def reach_of(xy: np.ndarray, w: np.ndarray) -> tuple[float, int]:
    """Service reach of one community: the member nearest the households' weighted centre is
    where the service centre goes (its position in ``xy`` is returned), and the reach is the
    farthest any member with households is from it (0 for one member)."""
    if len(xy) == 0:
        return float("nan"), -1
    ww = np.maximum(w.astype(float), 0.0)
    mean = (xy * ww[:, None]).sum(0) / ww.sum() if ww.sum() > 0 else xy.mean(0)
    c = int(np.argmin(((xy - mean) ** 2).sum(1)))
    has = ww > 0
    d = np.sqrt(((xy[has] - xy[c]) ** 2).sum(1)) if has.any() else np.zeros(1)
    return float(d.max()), c


class Planner:
    """Holds the grouping of units into communities and the operations that change it.

    Group ids are never reused, so anything computed for a group (its best split) can be
    cached under its id until the group is replaced.
    """

    def __init__(
        self,
        g: UnitGraph,
        old: np.ndarray,
        *,
        lo: float,
        hi: float,
        rules: ReformRules,
        rng: np.random.Generator,
    ) -> None:
        self.g = g
        self.old = np.asarray(old, dtype=np.int64)
        self.lo, self.hi = float(lo), float(hi)
        self.rules = rules
        self.dw = float(rules.disruption_weight)
        self.rng = rng
        self.label = np.full(g.n, -1, dtype=np.int64)
        self.members: dict[int, np.ndarray] = {}
        self.weight: dict[int, float] = {}
        self.touched: set[int] = set()
        self.given_up: set[int] = set()
        self._next = 0
        self._split_cache: dict[tuple[int, int], list[np.ndarray] | None] = {}
        self._region_cache: dict[tuple[int, str, int, int, bool | None], list[_Option]] = {}
        old = self.old
        n_old = int(old.max()) + 1 if g.n and old.max() >= 0 else 0
        has = old >= 0
        self.old_w = np.bincount(old[has], weights=g.weight[has].astype(float), minlength=n_old)
        self.old_n = np.bincount(old[has], minlength=n_old).astype(float)
        m = g.mass.astype(float)
        x, y = g.xy[:, 0].astype(float), g.xy[:, 1].astype(float)
        # centred coordinates keep the inertia sums well conditioned
        if g.n:
            x = x - x.mean()
            y = y - y.mean()
        self.cols = np.column_stack([m, m * x, m * y, m * (x * x + y * y)])
        self.w0 = (self.lo + self.hi) / 2

    # -- bookkeeping --------------------------------------------------------------------------

    def add(self, nodes: np.ndarray, *, touched: bool = True) -> int:
        gid = self._next
        self._next += 1
        nodes = np.sort(np.asarray(nodes, dtype=np.int64))
        self.label[nodes] = gid
        self.members[gid] = nodes
        self.weight[gid] = float(self.g.weight[nodes].sum())
        if touched:
            self.touched.add(gid)
        return gid

    def replace(self, old: list[int], parts: list[np.ndarray]) -> list[int]:
        for gid in old:
            del self.members[gid]
            del self.weight[gid]
            self.touched.discard(gid)
            self.given_up.discard(gid)
        return [self.add(p) for p in parts]

    def viol(self, w: float) -> float:
        return max(self.lo - w, 0.0) + max(w - self.hi, 0.0)

    def in_band(self, w: float) -> bool:
        return bool(in_band(w, self.lo, self.hi))

    # -- objective ----------------------------------------------------------------------------

    def shape(self, s: np.ndarray | list[float], w: float, perimeter: float) -> float:
        """Compactness cost of a community (:func:`~gridplan.partition.refine.shape_cost`)."""
        return shape_cost(s, w, perimeter, self.w0)

    def perimeter(self, nodes: np.ndarray) -> float:
        return self.g.part_perimeter(nodes)

    def home(self, nodes: np.ndarray) -> tuple[int, float]:
        """The current community ``nodes`` continue (code rule) and the weight kept, or -1."""
        old = self.old[nodes]
        has = old >= 0
        if not has.any():
            return -1, 0.0
        w = self.g.weight[nodes].astype(float)
        keys, inv = np.unique(old[has], return_inverse=True)
        h = np.bincount(inv, weights=w[has])
        c = np.bincount(inv).astype(float)
        tot_w = float(w.sum())
        use_w = tot_w > 0
        score = h if use_w else c
        i = int(np.lexsort((keys, -score))[0])
        o = int(keys[i])
        if use_w and self.old_w[o] > 0:
            ok = h[i] >= 0.5 * tot_w - _EPS and h[i] > 0.5 * self.old_w[o] + _EPS
        else:
            ok = c[i] >= 0.5 * nodes.size - _EPS and c[i] > 0.5 * self.old_n[o] + _EPS
        return (o, float(h[i])) if ok else (-1, 0.0)

    def core(self, nodes: np.ndarray) -> tuple[int, float]:
        """The current community giving ``nodes`` most weight, and that weight (-1 if none)."""
        old = self.old[nodes]
        has = old >= 0
        if not has.any():
            return -1, 0.0
        keys, inv = np.unique(old[has], return_inverse=True)
        h = np.bincount(inv, weights=self.g.weight[nodes][has].astype(float))
        i = int(np.lexsort((keys, -h))[0])
        return int(keys[i]), float(h[i])

    def cost(self, nodes: np.ndarray) -> float:
        """Compactness cost plus weighted households moved, for one community.

        Households count as moved half for not coming from the community's core (the current
        community giving it most households: mixing) and half for not keeping their code
        (the code rule), so a re-plan that keeps current communities together scores well
        even where no part can keep a code.
        """
        w = float(self.g.weight[nodes].sum())
        _, kept = self.home(nodes)
        _, core = self.core(nodes)
        moved = w - 0.5 * (kept + core)
        shape = self.shape(self.cols[nodes].sum(axis=0), w, self.perimeter(nodes))
        return shape + self.dw * moved / self.w0

    def set_scales(self) -> None:
        if self.members:
            self.w0 = max(float(np.mean(list(self.weight.values()))), 1.0)

    # -- graph queries ------------------------------------------------------------------------

    def frontier(self, gids: list[int]) -> dict[int, tuple[float, float]]:
        """Neighbouring groups of ``gids`` with (shared boundary without, across barriers)."""
        nodes = np.concatenate([self.members[x] for x in gids])
        pos, _ = self.g.entries(nodes)
        if pos.size == 0:
            return {}
        nb = self.g.indices[pos]
        lab = self.label[nb]
        keep = ~np.isin(lab, gids) & (lab >= 0)
        lab, sh, cr = lab[keep], self.g.shared[pos][keep], self.g.crossing[pos][keep]
        out: dict[int, tuple[float, float]] = {}
        for gid in np.unique(lab):
            sel = lab == gid
            calm = float(sh[sel & ~cr].sum())
            rough = float(sh[sel & cr].sum())
            # cells that touch along less than a metre still count as neighbours
            calm = calm if calm > 0 or not (sel & ~cr).any() else 1e-3
            rough = rough if rough > 0 or not (sel & cr).any() else 1e-3
            out[int(gid)] = (calm, rough)
        return out

    def piece(self, nodes: np.ndarray) -> UnitGraph:
        """The graph of ``nodes`` for the splitter, with the planner's tree costs."""
        g = self.g
        old = self.old
        loc = np.full(g.n, -1, dtype=np.int64)
        loc[nodes] = np.arange(nodes.size)
        pos, src = g.entries(nodes)
        dst = g.indices[pos]
        keep = (loc[dst] >= 0) & (src < dst)
        pos, src, dst = pos[keep], src[keep], dst[keep]
        calm = ~g.crossing[pos]
        calm_adj = sparse.coo_array(
            (np.ones(int(calm.sum())), (loc[src[calm]], loc[dst[calm]])),
            shape=(nodes.size, nodes.size),
        )
        if csgraph.connected_components(calm_adj.tocsr(), directed=False)[0] == 1:
            # barrier edges are cut: no part can reach across a major road or river
            pos, src, dst = pos[calm], src[calm], dst[calm]
        dist = np.hypot(*(g.xy[src] - g.xy[dst]).T) + 1.0
        # trees keep to current communities, so cuts fall on current boundaries
        same = (old[src] == old[dst]) & (old[src] >= 0)
        cost = dist * np.where(same, 1.0, 1.0 + 3.0 * min(self.dw, 3.0))
        cost = np.where(g.crossing[pos], cost * CROSSING_PENALTY, cost)
        return from_edges(
            nodes.size,
            loc[src],
            loc[dst],
            weight=g.weight[nodes].astype(np.int64),
            xy=g.xy[nodes],
            mass=np.maximum(g.mass[nodes].astype(float), 1e-6),
            cost=cost,
            shared=g.shared[pos],
            crossing=g.crossing[pos],
            barrier=g.barrier[pos],
        )

    def split(self, nodes: np.ndarray, k: int, *, exact_k: bool = False) -> list[np.ndarray] | None:
        """``nodes`` split into ``k`` contiguous in-band parts, or None when none was found."""
        total = float(self.g.weight[nodes].sum())
        if k <= 1:
            return [nodes] if self.in_band(total) else None
        if nodes.size < k:
            return None
        pg = self.piece(nodes)
        if csgraph.connected_components(pg.adjacency, directed=False)[0] != 1:
            return None
        target = float(np.clip(total / k, self.lo, self.hi))
        res = split_piece(
            pg,
            lo=self.lo,
            hi=self.hi,
            target=target,
            k=k,
            seed=self.rng,
            tries=self.rules.tries,
            refine_passes=self.rules.refine_passes,
            exact=not exact_k,
            enum_max=self.rules.search.enum_max,
        )
        if not res.in_band or (exact_k and res.k != k):
            return None
        return [nodes[res.labels == i] for i in range(res.k)]

    def split_group(self, gid: int, k: int) -> list[np.ndarray] | None:
        """:meth:`split` of one whole group, cached under its id."""
        key = (gid, k)
        if key not in self._split_cache:
            self._split_cache[key] = self.split(self.members[gid], k, exact_k=True)
        return self._split_cache[key]

    # -- initial groups -----------------------------------------------------------------------

    def start_from_current(self, *, keep_valid: bool) -> None:
        """One group per current community, street and connected piece."""
        g = self.g
        if g.n == 0:
            return
        old = self.old
        src = g.sources
        dst = g.indices
        same = (old[src] == old[dst]) & (old[src] >= 0)
        adj = sparse.coo_array(
            (np.ones(int(same.sum())), (src[same], dst[same])), shape=(g.n, g.n)
        ).tocsr()
        _, comp = csgraph.connected_components(adj, directed=False)
        order = np.lexsort((np.arange(g.n), comp))
        bounds = np.flatnonzero(np.r_[True, comp[order][1:] != comp[order][:-1], True])
        for a, b in itertools.pairwise(bounds.tolist()):
            self.add(order[a:b], touched=not keep_valid)
        self.set_scales()

    def start_fresh(self, target_size: float, *, whole: np.ndarray | None = None) -> None:
        """Every street component split from scratch (``keep_valid=False``).

        ``whole`` marks the units of villages that are not to stand alone (merged, relocated
        and cash-compensated villages): each such village's connected pieces become groups of
        their own, left for :meth:`force_merges` to join to a neighbour, and the rest of the
        street is split around them. The households a piece will bring are counted with the
        part of the street it shares most boundary with, so the count of communities there
        allows for them.
        """
        g = self.g
        if g.n == 0:
            return
        self.start_from_current(keep_valid=False)  # sets the scales from the current plan
        self.replace(list(self.members), [])
        self.label[:] = -1
        fixed = np.zeros(g.n, dtype=bool) if whole is None else np.asarray(whole, dtype=bool)
        src, dst = g.sources, g.indices
        old = self.old
        # pieces of the villages kept whole: connected within one current community
        tie = fixed[src] & fixed[dst] & (old[src] == old[dst])
        # the rest: connected outside those villages
        free = ~fixed[src] & ~fixed[dst]
        comp = np.full(g.n, -1, dtype=np.int64)
        for mask, offset in ((tie, 0), (free, g.n)):
            adj = sparse.coo_array(
                (np.ones(int(mask.sum())), (src[mask], dst[mask])), shape=(g.n, g.n)
            )
            _, lab = csgraph.connected_components(adj.tocsr(), directed=False)
            sel = fixed if offset == 0 else ~fixed
            comp[sel] = lab[sel] + offset
        # each piece's households go with the free component it shares most boundary with
        extra: dict[int, float] = {}
        cross = fixed[src] & ~fixed[dst]
        if cross.any():
            t = pd.DataFrame(
                {"piece": comp[src[cross]], "to": comp[dst[cross]], "m": g.shared[cross]}
            )
            t = t.groupby(["piece", "to"], sort=True)["m"].sum().reset_index()
            t = t.sort_values(["piece", "m", "to"], ascending=[True, False, True], kind="stable")
            for piece, to in t.drop_duplicates("piece")[["piece", "to"]].itertuples(index=False):
                w = float(g.weight[comp == piece].sum())
                extra[int(to)] = extra.get(int(to), 0.0) + w
        for c in np.unique(comp):
            nodes = np.flatnonzero(comp == c)
            if fixed[nodes[0]]:
                self.add(nodes)
                continue
            total = float(g.weight[nodes].sum())
            k_min, k_max = band_admits(total, self.lo, self.hi)
            if k_min > k_max or total <= 0:
                self.add(nodes)
                continue
            wanted = round((total + extra.get(int(c), 0.0)) / target_size)
            k = int(np.clip(wanted, k_min, k_max))
            parts = self.split(nodes, k) or self._split_any(nodes, k)
            for p in parts:
                self.add(p)

    def _split_any(self, nodes: np.ndarray, k: int) -> list[np.ndarray]:
        """Least-violating split (the repair step deals with what is left out of band)."""
        pg = self.piece(nodes)
        if k <= 1 or csgraph.connected_components(pg.adjacency, directed=False)[0] != 1:
            return [nodes]
        total = float(self.g.weight[nodes].sum())
        res = split_piece(
            pg,
            lo=self.lo,
            hi=self.hi,
            target=float(np.clip(total / k, self.lo, self.hi)),
            k=k,
            seed=self.rng,
            tries=self.rules.tries,
            refine_passes=self.rules.refine_passes,
            enum_max=self.rules.search.enum_max,
        )
        return [nodes[res.labels == i] for i in range(res.k)]

    # -- repair -------------------------------------------------------------------------------

    def repair(self) -> None:
        """Merge undersized and split oversized groups until all are in band or hopeless."""
        for _ in range(4 * len(self.members) + 16):
            under = sorted(
                (self.weight[x], x)
                for x in self.members
                if self.weight[x] < self.lo - _EPS and x not in self.given_up
            )
            over = sorted(
                (-self.weight[x], x)
                for x in self.members
                if self.weight[x] > self.hi + _EPS and x not in self.given_up
            )
            if under:
                gid = under[0][1]
                ok = self._repair_under(gid)
            elif over:
                gid = over[0][1]
                ok = self._repair_over(gid)
            else:
                return
            if not ok:
                self.given_up.add(gid)

    def _repair_under(self, gid: int) -> bool:
        """Join an undersized group to a neighbour, else re-plan it with its neighbours;
        across a barrier only when nothing on its own side works."""
        fr = self.frontier([gid])
        nodes_g = self.members[gid]
        cost_g = self.cost(nodes_g)
        for across in (False, True):
            options = []
            for h, (calm, rough) in fr.items():
                # the second pass adds neighbours that touch only across a barrier
                reachable = (rough > 0 and calm <= 0) if across else calm > 0
                if not reachable:
                    continue
                total = self.weight[gid] + self.weight[h]
                if total > self.hi + _EPS:
                    continue
                nodes = np.concatenate([nodes_g, self.members[h]])
                delta = self.cost(nodes) - cost_g - self.cost(self.members[h])
                options.append(((self.viol(total), delta, -calm, h), h, nodes))
            if options:
                _, h, nodes = min(options, key=lambda t: t[0])
                self.replace([gid, h], [nodes])
                return True
            regions = self._region_options(gid, mode="under", across=across)
            if regions:
                _, region, parts = min(regions, key=lambda t: t[0])
                self.replace(region, parts)
                return True
        return False

    def _alone_split(self, gid: int) -> tuple[float, list[np.ndarray]] | None:
        """Best split of an oversized group on its own: (cost change, parts), or None."""
        k_min, k_max = band_admits(self.weight[gid], self.lo, self.hi)
        best = None
        if k_min > k_max:
            return None
        before = self.cost(self.members[gid])
        for k in range(k_min, min(k_max, k_min + 1) + 1):
            parts = self.split_group(gid, k)
            if parts is None:
                continue
            delta = sum(self.cost(p) for p in parts) - before
            if best is None or delta < best[0]:
                best = (delta, parts)
        return best

    def _repair_over(self, gid: int) -> bool:
        """Split an oversized group on its own or with its neighbours, whichever costs less;
        across a barrier only when nothing on its own side works."""
        options: list[_Option] = []
        alone = self._alone_split(gid)
        if alone is not None:
            options.append(((0.0, alone[0], 1.0), [gid], alone[1]))
        options.extend(self._region_options(gid, mode="over", max_seeds=4, across=False))
        if not options:
            options = self._region_options(gid, mode="over", max_seeds=4, across=True)
        if not options:
            return False
        _, region, parts = min(options, key=lambda t: t[0])
        self.replace(region, parts)
        return True

    def _credit(self, region: list[int], gid: int) -> float:
        """What re-planning ``region`` saves on the other oversized groups in it: the cost
        change their own best split would have had (a group no split fixes alone earns a
        full community's worth)."""
        credit = 0.0
        for x in region:
            if x == gid or self.weight[x] <= self.hi + _EPS:
                continue
            alone = self._alone_split(x)
            credit += alone[0] if alone is not None else -1.0
        return credit

    def _region_options(
        self,
        gid: int,
        *,
        mode: str,
        max_groups: int = 6,
        max_seeds: int = 6,
        across: bool | None = None,
    ) -> list[_Option]:
        """Re-plans of ``gid`` together with neighbouring groups, grown one group at a time
        from each of its nearest neighbours until the region splits into in-band parts.

        Options are scored by the change in cost, less the cost the other invalid groups in
        the region would have needed on their own. They are cached while every group of
        every option still exists (a changed neighbourhood is searched again).
        """
        key = (gid, mode, max_groups, max_seeds, across)
        cached = self._region_cache.get(key)
        if cached is not None and all(x in self.members for o in cached for x in o[1]):
            return cached
        # regions grow through barrier-free adjacency; across barriers only when that fails
        # (``across=None``) or when asked to (``across=True``)
        options = []
        if not across:
            options = self._search_regions(
                gid, mode=mode, max_groups=max_groups, max_seeds=max_seeds, across=False
            )
        if not options and across is not False:
            options = self._search_regions(
                gid, mode=mode, max_groups=max_groups, max_seeds=max_seeds, across=True
            )
        self._region_cache[key] = options
        return options

    def _search_regions(
        self, gid: int, *, mode: str, max_groups: int, max_seeds: int, across: bool
    ) -> list[_Option]:
        fr = self.frontier([gid])
        if not across:
            fr = {h: v for h, v in fr.items() if v[0] > 0}
        seeds = sorted(fr, key=lambda h: (-(fr[h][0] > 0), -fr[h][0], -fr[h][1], h))[:max_seeds]
        options: list[_Option] = []
        for h in seeds:
            region = [gid, h]
            for _ in range(max_groups - 1):
                nodes = np.concatenate([self.members[x] for x in region])
                total = float(self.g.weight[nodes].sum())
                n_r = len(region)
                k_min, k_max = band_admits(total, self.lo, self.hi)
                if mode == "under":
                    wanted = [n_r - 1, n_r]
                elif mode == "over":
                    wanted = [n_r, n_r + 1]
                elif mode == "fewer":
                    wanted = [n_r - 1]
                else:  # "more"
                    wanted = [n_r + 1]
                ks = [k for k in wanted if k_min <= k <= k_max and k >= 1]
                found = False
                before = sum(self.cost(self.members[x]) for x in region)
                for k in ks:
                    parts = self.split(nodes, k, exact_k=mode in ("fewer", "more"))
                    if parts is None:
                        continue
                    delta = sum(self.cost(p) for p in parts) - before
                    if mode in ("under", "over"):
                        delta -= self._credit(region, gid)
                    options.append(((0.0, delta, float(n_r)), list(region), parts))
                    found = True
                if found:
                    break
                grow = self.frontier(region)
                if not across:
                    grow = {h: v for h, v in grow.items() if v[0] > 0}
                if not grow:
                    break
                nxt = min(grow, key=lambda x: (-(grow[x][0] > 0), -grow[x][0], -grow[x][1], x))
                region.append(nxt)
        return options

    # -- target count -------------------------------------------------------------------------

    #: region sizes tried, in turn, when no single merge or split changes the count:
    #: (groups per region at most, smallest/largest groups tried as seeds, seeds each)
    _ESCALATION = ((4, 12, 3), (8, 6, 2), (16, 3, 1))

    def reach_count(self, target: int) -> None:
        """Merge or split groups, cheapest first, until there are ``target`` of them.

        Single merges and splits come first, then re-plans of ever larger regions; when even
        those cannot change the count (a tight band may need a dozen communities re-planned
        together), whole street components are re-planned with the counts that sum to the
        target, changing as few components as possible.
        """
        pair_cache: dict[tuple[int, int], float | None] = {}
        for _ in range(4 * max(len(self.members), target) + 16):
            n = len(self.members)
            if n == target:
                return
            ok = self._one_fewer(pair_cache) if n > target else self._one_more()
            if not ok:
                break
        if len(self.members) != target:
            self._replan_components(target)

    def _components(self) -> list[np.ndarray]:
        """Groups in connected pieces of the street graph (lists of group ids)."""
        g = self.g
        src = g.sources
        adj = sparse.coo_array((np.ones(src.shape[0]), (src, g.indices)), shape=(g.n, g.n))
        _, comp = csgraph.connected_components(adj.tocsr(), directed=False)
        out: dict[int, set[int]] = {}
        for gid, nodes in self.members.items():
            out.setdefault(int(comp[nodes[0]]), set()).add(gid)
        return [np.array(sorted(v)) for _, v in sorted(out.items())]

    def _replan_components(self, target: int) -> None:
        comps = self._components()
        weight = [sum(self.weight[x] for x in c) for c in comps]
        counts = [len(c) for c in comps]
        ranges = [band_admits(w, self.lo, self.hi) for w in weight]
        k = list(counts)
        for _ in range(abs(target - sum(k))):
            step = -1 if sum(k) > target else 1
            room = [
                i
                for i, (a, b) in enumerate(ranges)
                if a <= b and (k[i] + step >= a if step < 0 else k[i] + step <= b)
            ]
            if not room:
                break
            # change the component whose mean size moves least away from the band's middle
            mid = (self.lo + self.hi) / 2
            i = min(room, key=lambda i: (abs(weight[i] / (k[i] + step) - mid), i))
            k[i] += step
        for i, c in enumerate(comps):
            if k[i] == counts[i]:
                continue
            nodes = np.concatenate([self.members[x] for x in c.tolist()])
            parts = self.split(nodes, k[i], exact_k=True)
            if parts is not None:
                self.replace(c.tolist(), parts)

    def _one_fewer(self, cache: dict[tuple[int, int], float | None]) -> bool:
        best: _Option | None = None
        for gid in sorted(self.members, key=lambda x: (self.weight[x], x)):
            fr = self.frontier([gid])
            for h, (calm, _rough) in fr.items():
                if calm <= 0 or h < gid:
                    continue
                key = (gid, h)
                if key not in cache:
                    total = self.weight[gid] + self.weight[h]
                    if not self.in_band(total):
                        cache[key] = None
                    else:
                        nodes = np.concatenate([self.members[gid], self.members[h]])
                        cache[key] = (
                            self.cost(nodes)
                            - self.cost(self.members[gid])
                            - self.cost(self.members[h])
                        )
                delta = cache[key]
                if delta is not None and (best is None or (delta, -calm) < best[0]):
                    nodes = np.concatenate([self.members[gid], self.members[h]])
                    best = ((delta, -calm), [gid, h], [nodes])
        if best is None:
            options: list[_Option] = []
            for max_groups, n_seeds, per_seed in self._ESCALATION:
                smallest = sorted(self.members, key=lambda x: (self.weight[x], x))[:n_seeds]
                for gid in smallest:
                    options.extend(
                        self._region_options(
                            gid, mode="fewer", max_groups=max_groups, max_seeds=per_seed
                        )
                    )
                if options:
                    break
            if not options:
                return False
            best = min(options, key=lambda t: t[0])
        self.replace(best[1], best[2])
        return True

    def _one_more(self) -> bool:
        options: list[_Option] = []
        for gid in sorted(self.members, key=lambda x: (-self.weight[x], x))[:30]:
            if self.weight[gid] < 2 * self.lo - _EPS:
                continue
            parts = self.split_group(gid, 2)
            if parts is None:
                continue
            delta = sum(self.cost(p) for p in parts) - self.cost(self.members[gid])
            options.append(((delta,), [gid], parts))
        for max_groups, n_seeds, per_seed in self._ESCALATION:
            if options:
                break
            largest = sorted(self.members, key=lambda x: (-self.weight[x], x))[:n_seeds]
            for gid in largest:
                options.extend(
                    self._region_options(
                        gid, mode="more", max_groups=max_groups, max_seeds=per_seed
                    )
                )
        if not options:
            return False
        best = min(options, key=lambda t: t[0])
        self.replace(best[1], best[2])
        return True

    # -- village types ------------------------------------------------------------------------

    def force_merges(self, kind: np.ndarray, centre: np.ndarray) -> list[int]:
        """Villages that are not to stand alone join a neighbour (村改社区 village types).

        ``kind`` gives per current community (``self.old`` index) ``""`` (planned as any
        other), ``"merged"`` (joins the adjacent community it shares most boundary with) or
        ``"nearest"`` (relocated and cash-compensated villages: joins the adjacent community
        whose centre is nearest). ``centre`` holds the units' points. A group of such units
        only joins a group that is not, where it has one as a neighbour. Returns the old
        community indexes left alone (no neighbour at all).
        """
        alone: list[int] = []
        forced = np.zeros(self.g.n, dtype=bool)
        has = self.old >= 0
        forced[has] = kind[self.old[has]] != ""

        def group_centre(nodes: np.ndarray) -> np.ndarray:
            w = np.maximum(self.g.weight[nodes].astype(float), 1e-9)
            return (centre[nodes] * w[:, None]).sum(0) / w.sum()

        for _ in range(len(self.members) + 1):
            todo = sorted(
                (gid for gid, nodes in self.members.items() if forced[nodes].all()),
                key=lambda gid: (self.weight[gid], gid),
            )
            todo = [gid for gid in todo if int(self.old[self.members[gid][0]]) not in alone]
            if not todo:
                return alone
            gid = todo[0]
            nodes = self.members[gid]
            fr = self.frontier([gid])
            o = int(self.old[nodes[0]])
            if not fr:
                alone.append(o)
                continue
            plain = {h: v for h, v in fr.items() if not forced[self.members[h]].all()}
            cands = plain or fr
            if kind[o] == "nearest":
                me = group_centre(nodes)
                h = min(
                    cands,
                    key=lambda x: (float(np.hypot(*(group_centre(self.members[x]) - me))), x),
                )
            else:
                h = max(cands, key=lambda x: (cands[x][0] + cands[x][1], -x))
            self.replace([gid, h], [np.concatenate([nodes, self.members[h]])])
        return alone

    # -- service equality ---------------------------------------------------------------------

    def enforce_reach(self, limit: float, pts: np.ndarray, hh: np.ndarray) -> None:
        """Split communities whose farthest household is more than ``limit`` from their
        service centre (:func:`reach_of`) into in-band parts that reach less far, the
        farthest first, while a split helps (服务均等)."""
        failed: set[int] = set()
        for _ in range(4 * len(self.members) + 16):
            over = sorted(
                (
                    (-reach_of(pts[nodes], hh[nodes])[0], gid)
                    for gid, nodes in self.members.items()
                    if gid not in failed
                ),
            )
            over = [(r, gid) for r, gid in over if -r > limit]
            if not over:
                return
            reach, gid = -over[0][0], over[0][1]
            k_min, k_max = band_admits(self.weight[gid], self.lo, self.hi)
            best: tuple[float, list[np.ndarray]] | None = None
            for k in range(max(2, k_min), min(k_max, max(2, k_min) + 2) + 1):
                parts = self.split_group(gid, k)
                if parts is None:
                    continue
                worst = max(reach_of(pts[p], hh[p])[0] for p in parts)
                if worst < reach - _EPS and (best is None or worst < best[0]):
                    best = (worst, parts)
                if best is not None and best[0] <= limit:
                    break
            if best is None:
                failed.add(gid)
                continue
            self.replace([gid], best[1])

    # -- local search -------------------------------------------------------------------------

    def polish(self, passes: int) -> int:
        """Boundary moves between re-planned groups that lower compactness cost plus weighted
        households moved (:func:`~gridplan.partition.refine.refine` with
        :class:`~gridplan.partition.refine.ShapeCost` and
        :class:`~gridplan.partition.refine.Disruption`); band and contiguity are kept, and no
        unit moves across a barrier. Returns the number of units that changed group."""
        active = sorted(self.touched & set(self.members))
        if passes <= 0 or len(active) < 2:
            return 0
        self._split_cache.clear()
        self._region_cache.clear()
        before = self.label.copy()
        terms: list[CostTerm] = [
            ShapeCost(self.g, self.cols, self.w0),
            Disruption(self.g, self.old, weight=self.dw, w0=self.w0),
        ]
        self.label = refine(
            self.g,
            self.label,
            lo=self.lo,
            hi=self.hi,
            passes=passes,
            cost=terms,
            nodes=np.concatenate([self.members[x] for x in active]),
            parts=active,
            cross=False,
        )
        for gid in active:
            self.members[gid] = np.flatnonzero(self.label == gid)
            self.weight[gid] = float(self.g.weight[self.members[gid]].sum())
        return int((self.label != before).sum())
