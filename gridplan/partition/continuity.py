"""Re-planning from a previous plan: which old grids are kept, and splitting the rest close to
how it was (issue 16).

:func:`kept_grids` judges each old grid on the new parts: it is kept, unchanged and with its
code, when it is still in band, contiguous without crossing a barrier and inside one
community. The parts of the other grids are free. A free area whose households admit no
in-band count of grids (a new compound between kept grids, a grid that grew past the ceiling
with no room to give) frees its kept neighbours one at a time until it fits: first the one
sharing most border among those whose release alone lets the area fit, else the one sharing
most border. Those grids are *affected*.

:func:`split_near_previous` splits a free piece with the shared engine twice: from scratch
(:func:`~gridplan.partition.core.split_piece`) and seeded with the old grids (each old grid's
remaining units as one part, new units split on their own or joined to a neighbour). Both are
refined by :func:`~gridplan.partition.refine.refine` with the compactness term plus the
:class:`~gridplan.partition.refine.Disruption` term (households moved out of their old
grid), and the plan with the least band violation, then the fewest households moved, then
the best compactness wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from ..config import band_admits
from ..graph import UnitGraph
from .core import split_piece
from .refine import CostTerm, Disruption, InertiaCost, refine

__all__ = ["Kept", "kept_grids", "moved_households", "old_code_per_part", "split_near_previous"]

#: Weight of the disruption term against compactness: moving a typical grid's households
#: costs ten times what the worst compactness change of one move does, so households stay
#: in their old grid and compactness decides among plans that move as many.
DISRUPTION_WEIGHT = 10.0


def old_code_per_part(
    unit_ids: np.ndarray,
    part: np.ndarray,
    previous: Mapping[str, str],
    previous_parts: Mapping[str, tuple[str, ...]],
) -> np.ndarray:
    """The old grid code of each part (None where the old plan did not cover the unit).

    A unit the old plan split keeps each part's grid when it is split into as many parts
    again; otherwise all its parts take the grid that held most of its households.
    """
    uid = pd.Series(unit_ids, dtype=object)
    n_parts = uid.map(uid.value_counts()).to_numpy()
    out = np.empty(len(unit_ids), dtype=object)
    for k, (u, p, n) in enumerate(zip(unit_ids.tolist(), part.tolist(), n_parts, strict=True)):
        codes = previous_parts.get(u)
        out[k] = codes[p] if codes is not None and len(codes) == n else previous.get(u)
    return out


@dataclass(frozen=True)
class Kept:
    """:func:`kept_grids`' verdict.

    Attributes
    ----------
    kept
        ``old code -> parts`` of the grids kept as they are.
    replanned
        ``(old code, parts, reason)`` of the others; reason is ``band``, ``contiguity``,
        ``barrier``, ``communities`` or ``affected`` (freed for a neighbouring area to fit).
    """

    kept: dict[str, np.ndarray]
    replanned: list[tuple[str, np.ndarray, str]]


def kept_grids(
    old: np.ndarray,
    free: np.ndarray,
    *,
    weight: np.ndarray,
    community: np.ndarray,
    edge_i: np.ndarray,
    edge_j: np.ndarray,
    crossing: np.ndarray,
    shared: np.ndarray,
    lo: float,
    hi: float,
    max_rounds: int | None = None,
    release: frozenset[str] | set[str] = frozenset(),
) -> Kept:
    """Which old grids stay as they are (see the module docstring).

    Parameters
    ----------
    old
        Old grid code per part (None for none).
    free
        Parts not taken by a lock.
    weight, community
        Per part.
    edge_i, edge_j, crossing, shared
        The part graph: edge ends, whether an edge crosses a barrier, shared border (m).
    lo, hi
        The grid band.
    max_rounds
        Kept neighbours freed at most (one per round); None: as many as it takes (each
        round frees one, so at most every kept grid). A plan cut into parts (one per street)
        frees the same grids as the whole only without a limit.
    release
        Old grids freed even if valid (reason ``affected``).
    """
    n = old.shape[0]
    same = community[edge_i] == community[edge_j]
    calm = same & ~crossing
    has = np.array([c is not None for c in old]) & free
    kept: dict[str, np.ndarray] = {}
    replanned: list[tuple[str, np.ndarray, str]] = []
    codes = pd.Series(old[has], index=np.flatnonzero(has), dtype=object)
    for code, idx in codes.groupby(codes, sort=True).groups.items():
        members = np.asarray(idx, dtype=np.int64)
        reason = _why_not(members, n, weight, community, edge_i, edge_j, same, calm, lo, hi)
        if reason is None and str(code) in release:
            reason = "affected"
        if reason is None:
            kept[str(code)] = members
        else:
            replanned.append((str(code), members, reason))
    owner = np.full(n, -1, dtype=np.int64)
    names = sorted(kept)
    for x, code in enumerate(names):
        owner[kept[code]] = x
    for _ in range(len(names) if max_rounds is None else max_rounds):
        open_ = free & (owner < 0)
        comp = _open_areas(open_, edge_i, edge_j, calm)
        totals = pd.Series(weight[open_]).groupby(comp[open_]).sum()
        bad: list[int] = []
        for c, w in totals.items():
            k_min, k_max = band_admits(float(w), lo, hi)
            if w > 0 and k_min > k_max:
                bad.append(int(c))  # type: ignore[call-overload]
        if not bad:
            break
        # a kept grid touching a misfit area is freed (_first_fit says which)
        in_bad = np.zeros(n, dtype=bool)
        in_bad[np.flatnonzero(open_)[np.isin(comp[open_], bad)]] = True
        touch = calm & (
            (in_bad[edge_i] & (owner[edge_j] >= 0)) | (in_bad[edge_j] & (owner[edge_i] >= 0))
        )
        if not touch.any():
            break
        nb = np.where(in_bad[edge_i[touch]], owner[edge_j[touch]], owner[edge_i[touch]])
        border = np.bincount(nb, weights=shared[touch], minlength=len(names))
        x = _first_fit(
            border, owner, free=free, weight=weight, ends=(edge_i, edge_j, calm), lo=lo, hi=hi
        )
        code = names[x]
        replanned.append((code, kept.pop(code), "affected"))
        owner[owner == x] = -1
    replanned.sort(key=lambda r: r[0])
    return Kept(kept=kept, replanned=replanned)


def _open_areas(
    open_: np.ndarray, edge_i: np.ndarray, edge_j: np.ndarray, calm: np.ndarray
) -> np.ndarray:
    """Connected area per part over the calm edges between open parts."""
    n = open_.shape[0]
    sel = open_[edge_i] & open_[edge_j] & calm
    a = sparse.coo_array((np.ones(int(sel.sum())), (edge_i[sel], edge_j[sel])), shape=(n, n))
    return np.asarray(csgraph.connected_components(a.tocsr(), directed=False)[1])


def _first_fit(
    border: np.ndarray,
    owner: np.ndarray,
    *,
    free: np.ndarray,
    weight: np.ndarray,
    ends: tuple[np.ndarray, np.ndarray, np.ndarray],
    lo: float,
    hi: float,
) -> int:
    """The kept grid to free next: the one sharing most border with a misfit area among
    those whose release makes the open area they join admit an in-band count of grids;
    the one sharing most border when none does (ties: the smallest code).

    Freeing the grid with most border alone can leave a misfit that frees a second grid
    where one other would have done: 223 households next to grids of 363 and 441 free the
    363 first (586 admit no count of grids of 300-500), then the 441 too, and three grids
    are re-planned where the 441 alone (664, two grids) needed two.
    """
    edge_i, edge_j, calm = ends
    order = np.lexsort((np.arange(border.size), -border))
    for x in order[border[order] > 0].tolist():
        open_ = free & ((owner < 0) | (owner == x))
        comp = _open_areas(open_, edge_i, edge_j, calm)
        joined = np.unique(comp[owner == x])
        area = np.isin(comp, joined) & open_
        k_min, k_max = band_admits(float(weight[area].sum()), lo, hi)
        if k_min <= k_max:
            return int(x)
    return int(np.argmax(border))


def _why_not(
    members: np.ndarray,
    n: int,
    weight: np.ndarray,
    community: np.ndarray,
    edge_i: np.ndarray,
    edge_j: np.ndarray,
    same: np.ndarray,
    calm: np.ndarray,
    lo: float,
    hi: float,
) -> str | None:
    """Why the old grid on ``members`` cannot be kept (None: it can)."""
    if len(set(community[members].tolist())) > 1:
        return "communities"
    total = float(weight[members].sum())
    if not lo <= total <= hi:
        return "band"
    mark = np.zeros(n, dtype=bool)
    mark[members] = True
    inside = mark[edge_i] & mark[edge_j] & same
    loc = np.full(n, -1, dtype=np.int64)
    loc[members] = np.arange(members.size)

    def parts_of(sel: np.ndarray) -> int:
        a = sparse.coo_array(
            (np.ones(int(sel.sum())), (loc[edge_i[sel]], loc[edge_j[sel]])),
            shape=(members.size, members.size),
        ).tocsr()
        return int(csgraph.connected_components(a, directed=False)[0])

    if parts_of(inside) > 1:
        return "contiguity"
    if parts_of(inside & calm) > 1:
        return "barrier"
    return None


def moved_households(labels: np.ndarray, old: np.ndarray, weight: np.ndarray) -> float:
    """Households not in the part that continues their old grid (each old grid is continued
    by the part holding most of its households, each part continuing one old grid at most)."""
    has = old >= 0
    if not has.any():
        return 0.0
    t = pd.DataFrame({"new": labels[has], "old": old[has], "w": weight[has].astype(float)})
    pair = t.groupby(["old", "new"], sort=True)["w"].sum().reset_index()
    pair = pair.sort_values(["w", "old", "new"], ascending=[False, True, True], kind="stable")
    used_old: set[int] = set()
    used_new: set[int] = set()
    stay = 0.0
    for o, nw, w in pair[["old", "new", "w"]].itertuples(index=False):
        if o in used_old or nw in used_new:
            continue
        used_old.add(o)
        used_new.add(nw)
        stay += w
    return float(t["w"].sum()) - stay


def _components_of(g: UnitGraph, nodes: np.ndarray) -> list[np.ndarray]:
    mark = np.zeros(g.n, dtype=bool)
    mark[nodes] = True
    src = g.sources
    sel = mark[src] & mark[g.indices]
    a = sparse.coo_array(
        (np.ones(int(sel.sum())), (src[sel], g.indices[sel])), shape=(g.n, g.n)
    ).tocsr()
    _, comp = csgraph.connected_components(a, directed=False)
    out = pd.Series(nodes).groupby(comp[nodes]).apply(lambda s: s.to_numpy())
    return sorted((np.asarray(v, dtype=np.int64) for v in out), key=lambda v: int(v.min()))


def _seeded(
    g: UnitGraph,
    old: np.ndarray,
    *,
    lo: float,
    hi: float,
    target: float,
    rng: np.random.Generator,
    tries: int,
    refine_passes: int,
) -> np.ndarray:
    """Labels with each old grid's remaining units as one part (per connected piece of it),
    new units split on their own where they fill a grid, joined to a neighbour where not;
    parts below the band merged into their lightest neighbour, parts above it split."""
    lab = np.full(g.n, -1, dtype=np.int64)
    nxt = 0
    for code in sorted(set(old[old >= 0].tolist())):
        for comp in _components_of(g, np.flatnonzero(old == code)):
            lab[comp] = nxt
            nxt += 1
    for comp in _components_of(g, np.flatnonzero(old < 0)):
        if float(g.weight[comp].sum()) >= lo:
            sub = split_piece(
                g.subgraph(comp),
                lo=lo,
                hi=hi,
                target=target,
                seed=rng,
                tries=tries,
                refine_passes=refine_passes,
            )
            lab[comp] = nxt + sub.labels
            nxt += sub.k
    indptr, indices = g.indptr, g.indices
    while (lab < 0).any():  # units too few for a grid join the neighbour they touch first
        grew = False
        for u in np.flatnonzero(lab < 0).tolist():
            nb = [int(lab[v]) for v in indices[indptr[u] : indptr[u + 1]] if lab[v] >= 0]
            if nb:
                lab[u] = min(nb)
                grew = True
        if not grew:
            lab[lab < 0] = nxt
            nxt += 1
    lab = _fit_band(g, lab, lo=lo, hi=hi, target=target, rng=rng, tries=tries, passes=refine_passes)
    _, lab = np.unique(lab, return_inverse=True)
    return lab.astype(np.int64)


def _fit_band(
    g: UnitGraph,
    lab: np.ndarray,
    *,
    lo: float,
    hi: float,
    target: float,
    rng: np.random.Generator,
    tries: int,
    passes: int,
) -> np.ndarray:
    """Merge parts below ``lo`` into their lightest neighbour, split parts above ``hi``."""
    w = g.weight.astype(float)
    for _ in range(g.n):
        sums = pd.Series(w).groupby(lab).sum()
        small = sums[sums < lo]
        if small.empty or len(sums) < 2:
            break
        p = int(small.index[0])
        members = np.flatnonzero(lab == p)
        nb = {int(lab[v]) for u in members for v in g.indices[g.indptr[u] : g.indptr[u + 1]]}
        nb.discard(p)
        if not nb:
            break
        q = min(nb, key=lambda x: (sums[x], x))
        lab[members] = q
    nxt = int(lab.max()) + 1
    sums = pd.Series(w).groupby(lab).sum()
    for p in sorted(sums[sums > hi].index.tolist()):
        members = np.flatnonzero(lab == p)
        if members.size < 2:
            continue
        sub = split_piece(
            g.subgraph(members), lo=lo, hi=hi, target=target, seed=rng, tries=tries,
            refine_passes=passes,
        )  # fmt: skip
        lab[members] = np.where(sub.labels == 0, p, nxt + sub.labels - 1)
        nxt += sub.k - 1
    return lab


def split_near_previous(
    g: UnitGraph,
    old: np.ndarray,
    fresh: np.ndarray,
    *,
    lo: float,
    hi: float,
    target: float,
    rng: np.random.Generator,
    tries: int,
    refine_passes: int,
) -> np.ndarray:
    """The plan of a free piece closest to the old one (see the module docstring).

    Parameters
    ----------
    g
        The piece.
    old
        Old grid per node, as numbers (-1: the unit is new).
    fresh
        The engine's plan from scratch (labels).
    lo, hi, target
        The band and the preferred grid size.
    rng, tries, refine_passes
        As for :func:`~gridplan.partition.core.split_piece`.

    Returns
    -------
    numpy.ndarray
        Labels ``0..k-1``.
    """
    if not (old >= 0).any():
        return fresh
    cands = [np.asarray(fresh, dtype=np.int64)]
    cands.append(
        _seeded(
            g, old, lo=lo, hi=hi, target=target, rng=rng, tries=tries, refine_passes=refine_passes
        )
    )
    w = g.weight.astype(float)
    best: tuple[tuple[float, float, float], np.ndarray] | None = None
    for lab in cands:
        terms: list[CostTerm] = [
            InertiaCost(g),
            Disruption(g, old, weight=DISRUPTION_WEIGHT, w0=target),
        ]
        lab = refine(g, lab, lo=lo, hi=hi, passes=max(refine_passes, 12), cost=terms)
        k = int(lab.max()) + 1
        sums = np.bincount(lab, weights=w, minlength=k)
        viol = float(np.maximum(lo - sums, 0).sum() + np.maximum(sums - hi, 0).sum())
        ic = InertiaCost(g)
        ic.start(lab, list(range(k)))
        key = (round(viol, 6), moved_households(lab, old, w), float(sum(ic.cur)) / ic.scale)
        if best is None or key < best[0]:
            best = (key, lab)
    assert best is not None
    return best[1]
