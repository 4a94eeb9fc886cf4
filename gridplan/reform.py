"""Community redivision for village-to-community reform (村改社区).

During the reform a city redraws its community (社区) boundaries so that no community is over-
or under-sized, residents are separated from enterprises (居企分离), and service is equal
across communities. :func:`redivide` takes the units (buildings, blocks or small areas with
households), the current communities and optionally streets (街道), barriers and dedicated
areas, and returns new communities that are contiguous, compact, inside their street and
within a household band, while keeping as many households as possible in the community they
are in now.

The data flow:

1. units inside an enterprise area (a dedicated polygon whose category reads industrial or
   business) leave the residential communities and are listed for dedicated grids;
2. every other unit gets a space-filling cell inside its street (:mod:`gridplan.tessellation`,
   cut by barrier lines), and cells that share an edge are neighbours
   (:mod:`gridplan.adjacency`); neighbours in different streets are never joined;
3. each current community, restricted to one street and one connected piece, is a *group*.
   With ``keep_valid`` a group within the band stays exactly as it is unless a neighbour
   needs it; with ``keep_valid=False`` every street is planned afresh;
4. repair: an undersized group joins the adjacent group that keeps the most households in
   place and stays within the band; an oversized group is split with
   :func:`gridplan.partition.core.split_piece`; where neither works alone, the group and its
   nearest neighbours are re-planned together (the region grows one group at a time). Spanning
   trees prefer edges inside a current community, so cuts follow current boundaries;
5. with ``target_count``, adjacent groups are merged or large groups split until the count is
   reached where the band allows;
6. a local search moves boundary units between re-planned groups to reduce
   ``compactness cost + disruption_weight * households moved``, never leaving the band or
   breaking contiguity;
7. codes: a new community that is substantially a current one (at least half of its
   households come from it, and more than half of that community's households went into it)
   keeps its code; every other community is numbered from 601 within its street (CJ/T 349
   style, three digits).

Examples
--------
>>> import geopandas as gpd
>>> from gridplan.reform import ReformRules, redivide
>>> units = gpd.read_file("data/camden_sample.gpkg", layer="units")
>>> comms = gpd.read_file("data/camden_sample.gpkg", layer="communities")
>>> reform = redivide(units, communities=comms,
...                   rules=ReformRules(min_households=500, max_households=1500))
>>> int(reform.communities["households"].sum()) == int(units["households"].sum())
True
>>> bool(reform.communities["in_bounds"].all())
True
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from shapely import STRtree

from .adjacency import barrier_lines, cell_edges, to_csr
from .config import Balance, band_admits
from .crs import working_crs
from .errors import Problem, ValidationError, describe_rows
from .layers import Layers, prepare_layers
from .partition.core import PieceGraph, part_stays_connected, split_piece
from .partition.grids import polsby_popper
from .tessellation import region_hulls, tessellate, units_tile

__all__ = [
    "DIAGNOSTIC_COLUMNS",
    "Reform",
    "ReformRules",
    "code_continuity",
    "redivide",
]

log = logging.getLogger(__name__)

DIAGNOSTIC_COLUMNS = [
    "level",
    "kind",
    "street_id",
    "community_code",
    "unit_ids",
    "households",
    "message",
    "fix",
]

#: Cost factor on barrier-crossing edges, so spanning trees cross a barrier only where a
#: re-planned region cannot be connected otherwise.
CROSSING_PENALTY = 1000.0

_EPS = 1e-9

CellMode = Literal["auto", "tessellate", "units"]


# ---------------------------------------------------------------------------------------------
# rules and result
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReformRules:
    """Rules for community redivision.

    Parameters
    ----------
    min_households, max_households
        The band every new community must fall in (default 1,000-3,000 households). With
        ``balance="population"`` the same two numbers bound residents instead.
    target_count
        Number of residential communities wanted across all streets (e.g. 245 after merging
        325 villages and communities). Groups are merged or split until it is reached where
        the band allows; ``None`` lets the band decide.
    disruption_weight
        Weight of households moved out of their current community against compactness in
        the local search and when choosing between repairs. ``0`` plans for compactness only.
    balance
        Which column the band applies to: ``"households"`` or ``"population"``.
    keep_valid
        Keep every current community that is within the band and contiguous exactly as it is,
        unless an invalid neighbour needs it. ``False`` plans every street afresh (current
        boundaries are still preferred through ``disruption_weight``).
    new_code_start
        First 3-digit code given to communities that are not substantially a current one.
    enterprise_categories
        Words that mark a dedicated polygon's ``category`` as an enterprise area to be kept
        out of residential communities (居企分离). Matching is case-insensitive by substring,
        so ``"industrial"`` matches ``landuse_industrial`` and ``industrial_building``.
    barrier_classes
        ``barrier_class`` values that count as barriers (prefix match). An empty tuple means
        every line in the barriers layer counts.
    cells
        How units become space-filling cells. ``"tessellate"``: Voronoi cells inside the
        street (:func:`gridplan.tessellation.tessellate`), for buildings and points.
        ``"units"``: the unit polygons themselves, for areal units (census blocks, output
        areas, village polygons) that already tile the street. ``"auto"`` takes ``"units"``
        when every unit is a polygon and together they cover at least 90 % of their streets
        without overlapping, else ``"tessellate"``.
    tries, refine_passes
        Spanning trees tried per bisection and passes of boundary refinement inside
        :func:`~gridplan.partition.core.split_piece`; ``refine_passes`` also bounds the
        passes of the disruption-aware local search.

    Examples
    --------
    >>> ReformRules(min_households=1500, max_households=3000).target
    2250.0
    >>> ReformRules(min_households=3000, max_households=1000)
    Traceback (most recent call last):
    ...
    gridplan.errors.ValidationError: 1 problem found in the input:
      - [rules] `max_households` must exceed `min_households`, got 1000 <= 3000
    """

    min_households: int = 1000
    max_households: int = 3000
    target_count: int | None = None
    disruption_weight: float = 1.0
    balance: Balance = "households"
    keep_valid: bool = True
    new_code_start: int = 601
    enterprise_categories: tuple[str, ...] = (
        "industrial",
        "business",
        "enterprise",
        "office",
        "commercial",
        "工业",
        "企业",
        "商务",
        "产业",
    )
    barrier_classes: tuple[str, ...] = ("major_road", "railway", "waterway", "river", "barrier")
    cells: CellMode = "auto"
    tries: int = 24
    refine_passes: int = 8

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        lo, hi = self.min_households, self.max_households
        if not lo > 0:
            problems.append(
                Problem("rules", "bounds", f"`min_households` must be positive, got {lo}")
            )
        if not hi > lo:
            problems.append(
                Problem(
                    "rules",
                    "bounds",
                    f"`max_households` must exceed `min_households`, got {hi} <= {lo}",
                )
            )
        if self.target_count is not None and not (
            isinstance(self.target_count, (int, np.integer)) and self.target_count >= 1
        ):
            problems.append(
                Problem(
                    "rules",
                    "target_count",
                    "`target_count` must be a whole number >= 1 or None, got "
                    f"{self.target_count!r}",
                )
            )
        dw = self.disruption_weight
        if not (isinstance(dw, (int, float)) and math.isfinite(dw) and dw >= 0):
            problems.append(
                Problem(
                    "rules",
                    "disruption_weight",
                    f"`disruption_weight` must be a finite number >= 0, got {dw!r}",
                )
            )
        if self.balance not in ("households", "population"):
            problems.append(
                Problem(
                    "rules",
                    "balance",
                    f"`balance` must be 'households' or 'population', got {self.balance!r}",
                )
            )
        if not (
            isinstance(self.new_code_start, (int, np.integer)) and 1 <= self.new_code_start <= 999
        ):
            problems.append(
                Problem(
                    "rules",
                    "new_code_start",
                    "`new_code_start` must be a 3-digit number in 1..999, got "
                    f"{self.new_code_start!r}",
                )
            )
        if self.cells not in ("auto", "tessellate", "units"):
            problems.append(
                Problem(
                    "rules",
                    "cells",
                    f"`cells` must be 'auto', 'tessellate' or 'units', got {self.cells!r}",
                )
            )
        if self.tries < 1 or self.refine_passes < 0:
            problems.append(
                Problem(
                    "rules",
                    "search",
                    f"`tries` must be >= 1 and `refine_passes` >= 0, got {self.tries} and "
                    f"{self.refine_passes}",
                )
            )
        if problems:
            raise ValidationError(problems)

    @property
    def target(self) -> float:
        """Preferred community size: the middle of the band."""
        return (self.min_households + self.max_households) / 2


@dataclass(frozen=True)
class Reform:
    """Result of :func:`redivide`.

    Attributes
    ----------
    units
        The normalised input units (input CRS, index ``unit_id``) with ``previous_code`` (the
        current community), ``community_code`` and ``community_id`` (the new community; None
        for units in an enterprise area) and ``dedicated_id`` (the enterprise area, else None).
    communities
        One row per new residential community (input CRS): ``community_id`` (unique),
        ``community_code``, ``previous_code`` (the current community it continues, or the one
        that gave it most households), ``previous_codes`` (every contributing community with
        its households, ``"A:1200;B:300"``), ``street_id``, ``name``, ``households``,
        ``population``, ``n_units``, ``in_bounds``, ``kept`` (same code as before),
        ``changed`` (membership differs from the current community), ``crosses_barrier``,
        ``compactness`` (Polsby-Popper), geometry (union of member cells).
    changes
        One row per (current community, new community or enterprise area) pair:
        ``previous_code``, ``community_code``, ``community_id``, ``dedicated_id``,
        ``street_id``, ``households``, ``population``, ``n_units``, ``moved``,
        ``households_moved``, ``population_moved``.
    report
        ``counts`` (metric, before, after), ``per_street`` totals, ``mapping`` (one row per
        current community: where its households went).
    diagnostics
        One row per problem: ``level``, ``kind``, ``street_id``, ``community_code``,
        ``unit_ids``, ``households``, ``message``, ``fix``.
    dedicated
        Enterprise areas left out of residential communities, for dedicated grids:
        ``dedicated_id``, ``name``, ``category``, ``street_id``, ``previous_codes``,
        ``households``, ``population``, ``n_units``, geometry (input CRS).
    rules
        The rules used.
    work_crs
        The metric CRS the work was done in.
    """

    units: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    changes: pd.DataFrame
    report: dict[str, pd.DataFrame]
    diagnostics: pd.DataFrame
    dedicated: gpd.GeoDataFrame
    rules: ReformRules = field(default_factory=ReformRules)
    work_crs: Any = None


# ---------------------------------------------------------------------------------------------
# the code rule
# ---------------------------------------------------------------------------------------------


def code_continuity(previous: Any, new: Any, weights: Any) -> pd.Series:
    """The current community each new community continues, by the code rule.

    A new community keeps the code of current community ``O`` when at least half of its
    weight comes from ``O`` and more than half of ``O``'s weight went into it. Where the
    weights involved are all zero, unit counts decide instead.

    Parameters
    ----------
    previous, new
        Current and new label per unit (array-likes of equal length; missing labels are
        ignored).
    weights
        Households (or residents) per unit.

    Returns
    -------
    pandas.Series
        Indexed by new label: the continued current label, or None.

    Examples
    --------
    >>> code_continuity(["a", "a", "a", "b"], [1, 1, 2, 2], [10, 10, 5, 20]).to_dict()
    {1: 'a', 2: 'b'}
    >>> code_continuity(["a", "a"], [1, 2], [10, 10]).to_dict()  # an even split keeps neither
    {1: None, 2: None}
    """
    df = pd.DataFrame(
        {
            "old": pd.Series(previous, dtype=object).to_numpy(),
            "new": pd.Series(new, dtype=object).to_numpy(),
            "w": np.asarray(weights, dtype=float),
            "n": 1.0,
        }
    )
    new_labels = pd.unique(df["new"].dropna())
    out = pd.Series([None] * len(new_labels), index=new_labels, dtype=object)
    df = df[df["old"].notna() & df["new"].notna()]
    if df.empty:
        return out
    pair = df.groupby(["new", "old"], sort=True)[["w", "n"]].sum()
    new_tot = df.groupby("new")[["w", "n"]].sum()
    old_tot = df.groupby("old")[["w", "n"]].sum()
    nt = new_tot.reindex(pair.index.get_level_values(0)).to_numpy()
    ot = old_tot.reindex(pair.index.get_level_values(1)).to_numpy()
    # weights decide where there are any; all-zero communities fall back to unit counts
    use_w = (nt[:, 0] > 0) & (ot[:, 0] > 0)
    h = np.where(use_w, pair["w"].to_numpy(), pair["n"].to_numpy())
    n_tot = np.where(use_w, nt[:, 0], nt[:, 1])
    o_tot = np.where(use_w, ot[:, 0], ot[:, 1])
    ok = (h >= 0.5 * n_tot - _EPS) & (h > 0.5 * o_tot + _EPS)
    cand = pd.DataFrame(
        {"new": pair.index.get_level_values(0), "old": pair.index.get_level_values(1), "h": h}
    )[ok]
    # two halves of exactly 50 % each: the larger share, then the smaller code, wins
    cand = cand.sort_values(["new", "h", "old"], ascending=[True, False, True], kind="stable")
    cand = cand.drop_duplicates("new")
    out.loc[cand["new"].to_numpy()] = cand["old"].to_numpy()
    return out


# ---------------------------------------------------------------------------------------------
# the planner: groups of units on the street graph
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Graph:
    """Residential units as a graph; edges only join units of the same street."""

    w: np.ndarray  # balance weight (int)
    xy: np.ndarray
    mass: np.ndarray
    perim: np.ndarray  # cell perimeter
    old: np.ndarray  # current community index, -1 when none
    street: np.ndarray  # street index
    indptr: np.ndarray
    indices: np.ndarray
    shared: np.ndarray  # shared cell boundary per CSR entry
    cross: np.ndarray  # CSR entry crosses a barrier
    barrier: np.ndarray  # barrier crossed per CSR entry (index into the lines), -1 if none

    @property
    def n(self) -> int:
        return int(self.w.shape[0])


def _entries(g: _Graph, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR entry positions of every edge leaving ``nodes``, and the node each starts from."""
    starts = g.indptr[nodes]
    deg = g.indptr[nodes + 1] - starts
    total = int(deg.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    src = np.repeat(nodes, deg)
    offs = np.arange(total) - np.repeat(np.cumsum(deg) - deg, deg)
    return np.repeat(starts, deg) + offs, src


#: A candidate change: (score to minimise, groups replaced, new parts).
_Option = tuple[tuple[float, ...], list[int], list[np.ndarray]]


class _Planner:
    """Holds the grouping of units into communities and the operations that change it.

    Group ids are never reused, so anything computed for a group (its best split) can be
    cached under its id until the group is replaced.
    """

    def __init__(
        self,
        g: _Graph,
        *,
        lo: float,
        hi: float,
        rules: ReformRules,
        rng: np.random.Generator,
    ) -> None:
        self.g = g
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
        n_old = int(g.old.max()) + 1 if g.n and g.old.max() >= 0 else 0
        has = g.old >= 0
        self.old_w = np.bincount(g.old[has], weights=g.w[has].astype(float), minlength=n_old)
        self.old_n = np.bincount(g.old[has], minlength=n_old).astype(float)
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
        self.weight[gid] = float(self.g.w[nodes].sum())
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
        return self.lo - _EPS <= w <= self.hi + _EPS

    # -- objective ----------------------------------------------------------------------------

    def shape(self, s: np.ndarray | list[float], w: float, perimeter: float) -> float:
        """Compactness cost of a community: its households (in units of the mean size) times
        how far its shape is from a disc, by two measures that are 0 for a disc.

        * ``2 pi I / A^2 - 1`` (normalised moment of inertia) grows when the community is
          spread out or elongated;
        * ``P^2 / (4 pi A) - 1`` (inverse Polsby-Popper) grows with ragged boundaries as well,
          which the moment misses and which the cut length (what METIS minimises) captures.

        Both are scale-free, so unlike a plain inertia sum they do not favour more, smaller
        communities: the count is left to the band, the target and disruption.
        """
        m = s[0]
        if m <= 0:
            return 0.0
        inertia = max(s[3] - (s[1] * s[1] + s[2] * s[2]) / m, 0.0)
        spread = max(2.0 * math.pi * inertia / (m * m) - 1.0, 0.0)
        ragged = max(perimeter * perimeter / (4.0 * math.pi * m) - 1.0, 0.0)
        return w / self.w0 * (0.5 * spread + 0.5 * ragged)

    def perimeter(self, nodes: np.ndarray) -> float:
        """Perimeter of the union of ``nodes``' cells: their perimeters less shared edges
        (each shared edge is stored once per direction, so subtracting both removes it from
        both cells)."""
        inside = np.zeros(self.g.n, dtype=bool)
        inside[nodes] = True
        pos, _ = _entries(self.g, nodes)
        internal = inside[self.g.indices[pos]]
        return float(self.g.perim[nodes].sum() - self.g.shared[pos][internal].sum())

    def home(self, nodes: np.ndarray) -> tuple[int, float]:
        """The current community ``nodes`` continue (code rule) and the weight kept, or -1."""
        old = self.g.old[nodes]
        has = old >= 0
        if not has.any():
            return -1, 0.0
        w = self.g.w[nodes].astype(float)
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
        old = self.g.old[nodes]
        has = old >= 0
        if not has.any():
            return -1, 0.0
        keys, inv = np.unique(old[has], return_inverse=True)
        h = np.bincount(inv, weights=self.g.w[nodes][has].astype(float))
        i = int(np.lexsort((keys, -h))[0])
        return int(keys[i]), float(h[i])

    def cost(self, nodes: np.ndarray) -> float:
        """Compactness cost plus weighted households moved, for one community.

        Households count as moved half for not coming from the community's core (the current
        community giving it most households: mixing) and half for not keeping their code
        (the code rule), so a re-plan that keeps current communities together scores well
        even where no part can keep a code.
        """
        w = float(self.g.w[nodes].sum())
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
        pos, _ = _entries(self.g, nodes)
        if pos.size == 0:
            return {}
        nb = self.g.indices[pos]
        lab = self.label[nb]
        keep = ~np.isin(lab, gids) & (lab >= 0)
        lab, sh, cr = lab[keep], self.g.shared[pos][keep], self.g.cross[pos][keep]
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

    def piece(self, nodes: np.ndarray) -> PieceGraph:
        g = self.g
        loc = np.full(g.n, -1, dtype=np.int64)
        loc[nodes] = np.arange(nodes.size)
        pos, src = _entries(g, nodes)
        dst = g.indices[pos]
        keep = (loc[dst] >= 0) & (src < dst)
        pos, src, dst = pos[keep], src[keep], dst[keep]
        calm = ~g.cross[pos]
        calm_adj = sparse.coo_array(
            (np.ones(int(calm.sum())), (loc[src[calm]], loc[dst[calm]])),
            shape=(nodes.size, nodes.size),
        )
        if csgraph.connected_components(calm_adj.tocsr(), directed=False)[0] == 1:
            # barrier edges are cut: no part can reach across a major road or river
            pos, src, dst = pos[calm], src[calm], dst[calm]
        dist = np.hypot(*(g.xy[src] - g.xy[dst]).T) + 1.0
        # trees keep to current communities, so cuts fall on current boundaries
        same = (g.old[src] == g.old[dst]) & (g.old[src] >= 0)
        cost = dist * np.where(same, 1.0, 1.0 + 3.0 * min(self.dw, 3.0))
        cost = np.where(g.cross[pos], cost * CROSSING_PENALTY, cost)
        adj = to_csr(nodes.size, loc[src], loc[dst], cost)
        mass = np.maximum(g.mass[nodes].astype(float), 1e-6)
        return PieceGraph(adj, g.w[nodes].astype(np.int64), g.xy[nodes], mass)

    def split(self, nodes: np.ndarray, k: int, *, exact_k: bool = False) -> list[np.ndarray] | None:
        """``nodes`` split into ``k`` contiguous in-band parts, or None when none was found."""
        total = float(self.g.w[nodes].sum())
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
        src = np.repeat(np.arange(g.n), np.diff(g.indptr))
        dst = g.indices
        same = (g.old[src] == g.old[dst]) & (g.old[src] >= 0)
        adj = sparse.coo_array(
            (np.ones(int(same.sum())), (src[same], dst[same])), shape=(g.n, g.n)
        ).tocsr()
        _, comp = csgraph.connected_components(adj, directed=False)
        order = np.lexsort((np.arange(g.n), comp))
        bounds = np.flatnonzero(np.r_[True, comp[order][1:] != comp[order][:-1], True])
        for a, b in itertools.pairwise(bounds.tolist()):
            self.add(order[a:b], touched=not keep_valid)
        self.set_scales()

    def start_fresh(self, target_size: float) -> None:
        """Every street component split from scratch (``keep_valid=False``)."""
        g = self.g
        if g.n == 0:
            return
        self.start_from_current(keep_valid=False)  # sets the scales from the current plan
        self.replace(list(self.members), [])
        self.label[:] = -1
        src = np.repeat(np.arange(g.n), np.diff(g.indptr))
        adj = sparse.coo_array((np.ones(src.shape[0]), (src, g.indices)), shape=(g.n, g.n))
        _, comp = csgraph.connected_components(adj.tocsr(), directed=False)
        for c in np.unique(comp):
            nodes = np.flatnonzero(comp == c)
            total = float(g.w[nodes].sum())
            k_min, k_max = band_admits(total, self.lo, self.hi)
            if k_min > k_max or total <= 0:
                self.add(nodes)
                continue
            k = int(np.clip(round(total / target_size), k_min, k_max))
            parts = self.split(nodes, k) or self._split_any(nodes, k)
            for p in parts:
                self.add(p)

    def _split_any(self, nodes: np.ndarray, k: int) -> list[np.ndarray]:
        """Least-violating split (the repair step deals with what is left out of band)."""
        pg = self.piece(nodes)
        if k <= 1 or csgraph.connected_components(pg.adjacency, directed=False)[0] != 1:
            return [nodes]
        total = float(self.g.w[nodes].sum())
        res = split_piece(
            pg,
            lo=self.lo,
            hi=self.hi,
            target=float(np.clip(total / k, self.lo, self.hi)),
            k=k,
            seed=self.rng,
            tries=self.rules.tries,
            refine_passes=self.rules.refine_passes,
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
                total = float(self.g.w[nodes].sum())
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
        src = np.repeat(np.arange(g.n), np.diff(g.indptr))
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

    # -- local search -------------------------------------------------------------------------

    def _anchors(self, active: set[int]) -> tuple[dict[int, int], dict[int, int]]:
        """Per active group: its core current community, and the current community it
        continues (its core, when the group is also that community's largest recipient).

        The second is a smooth stand-in for the code rule: it exists before a majority is
        reached, so boundary moves can build the majority that keeps a code.
        """
        g = self.g
        has = g.old >= 0
        t = pd.DataFrame({"grp": self.label[has], "old": g.old[has], "w": g.w[has]})
        pair = t.groupby(["grp", "old"], sort=True)["w"].sum().reset_index()
        by_grp = pair.sort_values(["grp", "w", "old"], ascending=[True, False, True])
        core = by_grp.drop_duplicates("grp").set_index("grp")["old"].to_dict()
        by_old = pair.sort_values(["old", "w", "grp"], ascending=[True, False, True])
        best = by_old.drop_duplicates("old").set_index("old")["grp"].to_dict()
        core_a = {x: int(core.get(x, -1)) for x in active}
        home = {x: c if c >= 0 and best.get(c) == x else -2 for x, c in core_a.items()}
        return core_a, home

    def polish(self, passes: int) -> int:
        """Boundary moves between re-planned groups that lower compactness cost plus weighted
        households moved; band and contiguity are kept. Returns the number of moves."""
        active = sorted(self.touched & set(self.members))
        if passes <= 0 or len(active) < 2:
            return 0
        self._split_cache.clear()
        self._region_cache.clear()
        g = self.g
        indptr = g.indptr.tolist()
        indices = g.indices.tolist()
        cross = g.cross.tolist()
        lab = self.label.tolist()
        w = g.w.astype(float).tolist()
        old = g.old.tolist()
        cols = self.cols
        ml, xl, yl, ql = (cols[:, i].tolist() for i in range(4))
        act = set(active)
        sums = {
            gid: [float(v) for v in cols[self.members[gid]].sum(axis=0)]
            + [self.weight[gid], float(self.members[gid].size), self.perimeter(self.members[gid])]
            for gid in active
        }
        per = g.perim.tolist()
        shared = g.shared.tolist()
        lo, hi, dw, w0 = self.lo, self.hi, self.dw, self.w0
        shape = self.shape

        def viol(x: float) -> float:
            return (lo - x if x < lo else 0.0) + (x - hi if x > hi else 0.0)

        def stays_connected(u: int, p: int) -> bool:
            return part_stays_connected(indptr, indices, lab, u, p)

        nodes_all = np.concatenate([self.members[x] for x in active]).tolist()
        moves = 0
        for _ in range(passes):
            self.label = np.asarray(lab, dtype=np.int64)
            core, home = self._anchors(act)
            boundary = []
            for u in nodes_all:
                p = lab[u]
                for e in range(indptr[u], indptr[u + 1]):
                    v = indices[e]
                    if lab[v] != p and lab[v] in act and not cross[e]:
                        boundary.append(u)
                        break
            moved = 0
            for u in boundary:
                p = lab[u]
                sp = sums[p]
                if sp[5] <= 1:
                    continue
                cand = {
                    lab[indices[e]]
                    for e in range(indptr[u], indptr[u + 1])
                    if not cross[e] and lab[indices[e]] != p and lab[indices[e]] in act
                }
                if not cand:
                    continue
                wu = w[u]
                du = (ml[u], xl[u], yl[u], ql[u])
                # boundary u shares with each neighbouring group: a move turns shared edges
                # with the old group into perimeter and edges with the new one into interior
                touch: dict[int, float] = {}
                for e in range(indptr[u], indptr[u + 1]):
                    lv = lab[indices[e]]
                    touch[lv] = touch.get(lv, 0.0) + shared[e]
                per_p_after = sp[6] - per[u] + 2.0 * touch.get(p, 0.0)
                p_after = [sp[i] - du[i] for i in range(4)]
                c_p = shape(sp, sp[4], sp[6])
                c_p_after = shape(p_after, sp[4] - wu, per_p_after)
                v_p, v_p_after = viol(sp[4]), viol(sp[4] - wu)
                moved_p = 0.5 * wu * ((old[u] != core[p]) + (old[u] != home[p]))
                best_gain, best_q = 0.0, -1
                for q in sorted(cand):
                    sq = sums[q]
                    dv = (v_p_after + viol(sq[4] + wu)) - (v_p + viol(sq[4]))
                    if dv > _EPS:
                        continue
                    q_after = [sq[i] + du[i] for i in range(4)]
                    per_q_after = sq[6] + per[u] - 2.0 * touch.get(q, 0.0)
                    dc = (
                        c_p_after
                        + shape(q_after, sq[4] + wu, per_q_after)
                        - c_p
                        - shape(sq, sq[4], sq[6])
                    )
                    dm = 0.5 * wu * ((old[u] != core[q]) + (old[u] != home[q])) - moved_p
                    gain = dv * 1e6 + dc + dw * dm / w0
                    if gain < best_gain - 1e-9:
                        best_gain, best_q = gain, q
                if best_q < 0 or not stays_connected(u, p):
                    continue
                lab[u] = best_q
                sq = sums[best_q]
                sp[6] = per_p_after
                sq[6] = sq[6] + per[u] - 2.0 * touch.get(best_q, 0.0)
                for i in range(4):
                    sp[i] -= du[i]
                    sq[i] += du[i]
                sp[4] -= wu
                sq[4] += wu
                sp[5] -= 1
                sq[5] += 1
                moved += 1
            moves += moved
            if moved == 0:
                break
        self.label = np.asarray(lab, dtype=np.int64)
        for gid in active:
            self.members[gid] = np.flatnonzero(self.label == gid)
            self.weight[gid] = float(self.g.w[self.members[gid]].sum())
        return moves


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------


def _communities_from_column(
    units: gpd.GeoDataFrame, column: str, columns: Mapping[str, str] | None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Current communities given as a unit column: polygons are the dissolved units."""
    if not isinstance(units, gpd.GeoDataFrame):
        raise ValidationError(
            [
                Problem(
                    "units",
                    "not_geodataframe",
                    f"units must be a GeoDataFrame, got {type(units).__name__}",
                )
            ]
        )
    if column not in units.columns:
        raise ValidationError(
            [
                Problem(
                    "communities",
                    "missing_column",
                    f"communities={column!r} names no column of the units; pass a communities "
                    f"layer or one of: {', '.join(str(c) for c in units.columns[:20])}",
                )
            ]
        )
    out = units.copy()
    values = out[column]
    missing = values.isna().to_numpy()
    if missing.any():
        ids = out.index.astype(str)
        raise ValidationError(
            [
                Problem(
                    "units",
                    "missing_community",
                    f"{int(missing.sum())} units have no value in column {column!r} "
                    f"(rows {describe_rows(list(ids[missing]))}); fill it with their current "
                    "community.",
                )
            ]
        )
    key = values.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
    # the named column wins over any community_id the units (or the renaming) carry
    clash = [c for c, new in (columns or {}).items() if new == "community_id" and c != column]
    out = out.drop(
        columns=[c for c in ("community_id", *clash) if c in out.columns and c != column]
    )
    out["community_id"] = key.to_numpy()
    geoms = out.geometry.to_numpy()
    is_poly = np.isin(shapely.get_type_id(geoms), (3, 6))
    polys = []
    names = sorted(set(key))
    for name in names:
        sel = (key == name).to_numpy()
        gs = geoms[sel]
        if is_poly[sel].all():
            shape = shapely.union_all(shapely.make_valid(gs))
        else:
            shape = shapely.convex_hull(shapely.union_all(gs)).buffer(1.0)
        polys.append(shape)
    comms = gpd.GeoDataFrame({"community_id": names}, geometry=polys, crs=units.crs)
    return out, comms


def _enterprise_mask(categories: pd.Series, words: tuple[str, ...]) -> np.ndarray:
    text = categories.astype(str).str.lower()
    mask = np.zeros(len(text), dtype=bool)
    for word in words:
        mask |= text.str.contains(word.lower(), regex=False).to_numpy()
    return mask


def _str_key(v: object) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------


def redivide(
    units: gpd.GeoDataFrame | Layers,
    *,
    communities: gpd.GeoDataFrame | str | None,
    streets: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    dedicated: gpd.GeoDataFrame | None = None,
    rules: ReformRules | None = None,
    seed: int = 0,
    columns: Mapping[str, str] | None = None,
) -> Reform:
    """Redivide communities into contiguous, compact, size-bounded ones with minimal disruption.

    Parameters
    ----------
    units
        Buildings, blocks or small areas (points or polygons) with ``households`` (or
        ``population`` when ``rules.balance == "population"``), or prepared
        :class:`~gridplan.layers.Layers` holding a communities layer.
    communities
        The current communities: polygons (``community_id`` column or index = current code,
        optional ``street_id`` and ``name``), or the name of a units column holding each
        unit's current community (polygons are then the dissolved units).
    streets
        Street (街道) polygons; no new community crosses a street boundary. Without them the
        communities' ``street_id`` (or the units' own) decides; with neither, the whole area
        is one street.
    barriers
        Major roads, railways and rivers (lines). Re-planned communities do not cross them
        unless a piece cannot be made feasible otherwise (reported in ``crosses_barrier``).
    dedicated
        Dedicated areas; those whose ``category`` is an enterprise category (see
        :class:`ReformRules`) are left out of residential communities.
    rules
        :class:`ReformRules`; default 1,000-3,000 households.
    seed
        Same inputs and seed give the same plan.
    columns
        Column renaming applied to every layer, e.g. ``{"户数": "households"}``.

    Returns
    -------
    Reform

    Raises
    ------
    ValidationError
        Bad inputs (every problem listed with row ids and the fix).
    """
    rules = rules or ReformRules()
    if isinstance(units, Layers):
        layers = units
    else:
        if isinstance(communities, str):
            units, communities = _communities_from_column(units, communities, columns)
        named = set(units.columns) | set((columns or {}).values())
        own_street = "street_id" in named
        layers = prepare_layers(
            units,
            dedicated=dedicated,
            barriers=barriers,
            communities=communities,
            streets=streets,
            columns=columns,
            balance=rules.balance,
        )
        if not own_street and layers.streets is not None:
            layers = _locate_in_streets(layers)
    _check_inputs(layers)
    return _redivide(layers, rules=rules, seed=seed)


def _locate_in_streets(layers: Layers) -> Layers:
    """Units take the street they lie in, not their current community's.

    :func:`~gridplan.layers.prepare_layers` gives a unit its community's street, which is
    right for grid planning inside fixed communities; a redivision redraws communities and
    must not carry one across a street boundary because the old one crossed it.
    """
    assert layers.streets is not None
    units = layers.units.copy()
    streets = layers.streets
    pts = shapely.point_on_surface(units.geometry.to_numpy())
    tree = STRtree(streets.geometry.to_numpy())
    u_idx, s_idx = tree.query(pts, predicate="intersects")
    order = np.lexsort((s_idx, u_idx))
    u_idx, s_idx = u_idx[order], s_idx[order]
    first = np.r_[True, u_idx[1:] != u_idx[:-1]] if u_idx.size else np.zeros(0, dtype=bool)
    values = units["street_id"].to_numpy(dtype=object).copy()
    values[u_idx[first]] = streets.index.astype(str).to_numpy()[s_idx[first]]
    units["street_id"] = values
    return Layers(
        units=units,
        compounds=layers.compounds,
        dedicated=layers.dedicated,
        barriers=layers.barriers,
        communities=layers.communities,
        streets=layers.streets,
    )


def _check_inputs(layers: Layers) -> None:
    problems: list[Problem] = []
    if layers.communities is None:
        problems.append(
            Problem(
                "communities",
                "missing_layer",
                "redivision needs the current communities: pass communities=<polygons> or the "
                "name of a units column holding each unit's community.",
            )
        )
    else:
        cid = layers.units["community_id"]
        ids = layers.units.index.astype(str)
        missing = cid.isna().to_numpy()
        if missing.any():
            problems.append(
                Problem(
                    "units",
                    "missing_community",
                    f"{int(missing.sum())} units have no current community (ids "
                    f"{describe_rows(list(ids[missing]))}); extend the community polygons to "
                    "cover them or give them a `community_id`.",
                    tuple(ids[missing]),
                )
            )
        known = set(layers.communities.index.astype(str))
        unknown = cid.notna().to_numpy() & ~cid.astype(str).isin(known).to_numpy()
        if unknown.any():
            codes = sorted(set(cid[unknown].astype(str)))
            problems.append(
                Problem(
                    "units",
                    "unknown_community",
                    f"{int(unknown.sum())} units name communities that are not in the "
                    f"communities layer ({describe_rows(codes)}; ids "
                    f"{describe_rows(list(ids[unknown]))}); add those communities or correct "
                    "the units' `community_id`.",
                    tuple(ids[unknown]),
                )
            )
    if problems:
        raise ValidationError(problems)


def _street_regions(
    u: gpd.GeoDataFrame,
    resid: np.ndarray,
    street_key: np.ndarray,
    layers: Layers,
    crs: Any,
) -> dict[str, Any]:
    """The polygon each street's units are tessellated in: the street polygon, else the union
    of its current communities, else the area around its units."""
    geoms = u.geometry.to_numpy()
    rep = shapely.point_on_surface(geoms)
    regions: dict[str, Any] = {}
    streets = layers.streets.to_crs(crs) if layers.streets is not None else None
    comms = layers.communities.to_crs(crs) if layers.communities is not None else None
    comm_of = u["community_id"].astype(object).to_numpy()
    for key in sorted(set(street_key[resid].tolist())):
        sel = resid[street_key[resid] == key]
        region = None
        if streets is not None and key in streets.index:
            region = streets.geometry.loc[key]
        elif comms is not None:
            codes = sorted({str(c) for c in comm_of[sel] if c is not None})
            present = [c for c in codes if c in comms.index]
            if present:
                region = shapely.union_all(
                    shapely.make_valid(comms.geometry.loc[present].to_numpy())
                )
        if region is not None:
            outside = ~shapely.intersects(region, rep[sel])
            if outside.any():
                hull = region_hulls(geoms[sel[outside]], np.zeros(int(outside.sum())))[0]
                region = shapely.union_all([region, hull])
        else:
            region = region_hulls(geoms[sel], np.zeros(sel.size))[0]
        regions[key] = region
    return regions


def _redivide(layers: Layers, *, rules: ReformRules, seed: int) -> Reform:
    lo, hi = float(rules.min_households), float(rules.max_households)
    crs = working_crs(layers.units)
    units_in = layers.units
    u = units_in.to_crs(crs)
    n_units = len(u)
    ids = u.index.astype(str).to_numpy()
    if rules.balance == "population":
        weight = np.rint(u["population"].fillna(0).to_numpy(dtype=float)).astype(np.int64)
    else:
        weight = u["households"].to_numpy(dtype=np.int64)
    hh = u["households"].to_numpy(dtype=np.int64)
    pop = u["population"].to_numpy(dtype=float)
    prev = np.array([_str_key(c) for c in u["community_id"].to_numpy()], dtype=object)
    street_key = np.array([_str_key(s) for s in u["street_id"].to_numpy()], dtype=object)
    geoms = u.geometry.to_numpy()
    rep = shapely.point_on_surface(geoms)
    diags: list[dict] = []

    # 1. enterprise areas (居企分离) take the units inside them
    ent = None
    ent_of = np.full(n_units, -1)
    if layers.dedicated is not None and len(layers.dedicated):
        d = layers.dedicated.to_crs(crs)
        mask = _enterprise_mask(d["category"], rules.enterprise_categories)
        if mask.any():
            ent = d[mask]
            d_idx, e_idx = STRtree(ent.geometry.to_numpy()).query(rep, predicate="within")
            _, first = np.unique(d_idx, return_index=True)
            ent_of[d_idx[first]] = e_idx[first]
    resid = np.flatnonzero(ent_of < 0)

    # 2. cells per street, cut by barriers; neighbours within a street only
    bars = barrier_lines(layers.barriers, classes=rules.barrier_classes, crs=crs)
    bar_geoms = bars.geometry.to_numpy() if bars is not None else None
    regions = _street_regions(u, resid, street_key, layers, crs)
    cells = np.empty(n_units, dtype=object)
    face = np.full(n_units, -1, dtype=np.int64)
    mode = rules.cells
    if mode == "auto":
        mode = "units" if units_tile(geoms[resid], street_key[resid], regions) else "tessellate"
    log.info("cells: %s", mode)
    if resid.size and mode == "units":
        # areal units already tile their street; barriers are read from the segment test
        cells[resid] = shapely.make_valid(geoms[resid])
    elif resid.size:
        tess = tessellate(
            geoms[resid],
            street_key[resid],
            regions,
            barriers=bar_geoms,
            erase=ent.geometry.to_numpy() if ent is not None else None,
        )
        cells[resid] = tess.cells
        face[resid] = tess.face
    r_cells = cells[resid]
    r_xy = shapely.get_coordinates(rep[resid])
    edges = cell_edges(
        r_cells, r_xy, face=face[resid] if mode == "tessellate" else None, barriers=bar_geoms
    )
    same_street = street_key[resid][edges.i] == street_key[resid][edges.j]
    edges = edges.subset(same_street)
    ei, ej, shared, crossing = edges.i, edges.j, edges.shared_m, edges.crossing
    crossed = edges.barrier
    # a unit whose cell touches no other (a lone building, an empty cell) joins its nearest
    # unit in the same street so it can belong to a community
    deg = np.bincount(np.concatenate([ei, ej]), minlength=resid.size)
    lonely = np.flatnonzero(deg == 0)
    extra_i, extra_j = [], []
    for a in lonely.tolist():
        same = np.flatnonzero(street_key[resid] == street_key[resid][a])
        same = same[same != a]
        if same.size == 0:
            continue
        b = int(same[np.argmin(np.hypot(*(r_xy[same] - r_xy[a]).T))])
        extra_i.append(min(a, b))
        extra_j.append(max(a, b))
    if extra_i:
        ei = np.concatenate([ei, extra_i])
        ej = np.concatenate([ej, extra_j])
        shared = np.concatenate([shared, np.full(len(extra_i), 1e-3)])
        crossing = np.concatenate([crossing, np.zeros(len(extra_i), dtype=bool)])
        crossed = np.concatenate([crossed, np.full(len(extra_i), -1, dtype=np.int64)])
        diags.append(
            {
                "level": "unit",
                "kind": "isolated_unit",
                "street_id": None,
                "community_code": None,
                "unit_ids": describe_rows(sorted(ids[resid[lonely]])),
                "households": int(hh[resid[lonely]].sum()),
                "message": f"{lonely.size} unit(s) share no cell edge with any other unit; "
                "each was linked to its nearest unit in the same street",
                "fix": "check their geometry, or accept the link",
            }
        )

    old_codes = sorted(set(prev[resid].tolist()) - {""})
    old_index = {c: i for i, c in enumerate(old_codes)}
    streets_sorted = sorted(set(street_key[resid].tolist()))
    street_index = {s: i for i, s in enumerate(streets_sorted)}
    r_old = np.array([old_index.get(c, -1) for c in prev[resid]], dtype=np.int64)
    mass = np.maximum(shapely.area(r_cells.astype(object)), 1.0) if resid.size else np.zeros(0)
    perim = np.nan_to_num(shapely.length(r_cells.astype(object))) if resid.size else np.zeros(0)
    n_r = resid.size
    rows = np.concatenate([ei, ej])
    cols_ = np.concatenate([ej, ei])
    order = np.lexsort((cols_, rows))
    rows, cols_ = rows[order], cols_[order]
    sh2 = np.concatenate([shared, shared])[order]
    cr2 = np.concatenate([crossing, crossing])[order]
    br2 = np.concatenate([crossed, crossed])[order]
    indptr = np.searchsorted(rows, np.arange(n_r + 1)).astype(np.int64)
    graph = _Graph(
        w=weight[resid],
        xy=r_xy,
        mass=mass,
        perim=perim,
        old=r_old,
        street=np.array([street_index[s] for s in street_key[resid]], dtype=np.int64),
        indptr=indptr,
        indices=cols_.astype(np.int64),
        shared=sh2.astype(float),
        cross=cr2.astype(bool),
        barrier=br2.astype(np.int64),
    )

    # 3-6. plan
    rng = np.random.default_rng(seed)
    planner = _Planner(graph, lo=lo, hi=hi, rules=rules, rng=rng)
    total_w = float(graph.w.sum())
    target_size = rules.target
    if rules.target_count:
        target_size = float(np.clip(total_w / rules.target_count, lo, hi))
    if rules.keep_valid:
        planner.start_from_current(keep_valid=True)
    else:
        planner.start_fresh(target_size)
    n_start = len(planner.members)
    planner.repair()
    if rules.target_count:
        planner.reach_count(int(rules.target_count))
        planner.repair()
    moves = planner.polish(rules.refine_passes)
    log.info(
        "redivision: %d groups at start, %d after repair, %d boundary moves",
        n_start,
        len(planner.members),
        moves,
    )
    if rules.target_count and len(planner.members) != rules.target_count:
        k_min, k_max = band_admits(total_w, lo, hi)
        diags.append(
            {
                "level": "plan",
                "kind": "target_count",
                "street_id": None,
                "community_code": None,
                "unit_ids": "",
                "households": int(hh[resid].sum()),
                "message": f"target_count {rules.target_count} not reached: the plan has "
                f"{len(planner.members)} communities (the band {int(lo)}-{int(hi)} admits "
                f"{k_min}-{k_max} for {int(total_w)} in all, before street boundaries and "
                "contiguity)",
                "fix": "choose a target_count the band admits, or widen the band",
            }
        )

    return _assemble(
        layers=layers,
        u=u,
        crs=crs,
        rules=rules,
        ids=ids,
        resid=resid,
        cells=cells,
        planner=planner,
        prev=prev,
        street_key=street_key,
        weight=weight,
        hh=hh,
        pop=pop,
        ent=ent,
        ent_of=ent_of,
        bar_names=_barrier_names(bars),
        diags=diags,
    )


def _barrier_names(bars: gpd.GeoDataFrame | None) -> list[str]:
    if bars is None:
        return []
    return [
        str(n) if isinstance(n, str) and n else f"{c} {i}"
        for n, c, i in zip(bars["name"], bars["barrier_class"], bars.index, strict=True)
    ]


# ---------------------------------------------------------------------------------------------
# assembling the result
# ---------------------------------------------------------------------------------------------


def _code_prefix(codes: list[str]) -> str | None:
    """Shared prefix of CJ/T 349 community codes (all digits, same length, last 3 digits the
    community), so a new community's id reads like its neighbours'."""
    if not codes or not all(c.isdigit() for c in codes):
        return None
    lengths = {len(c) for c in codes}
    if len(lengths) != 1 or next(iter(lengths)) <= 3:
        return None
    prefixes = {c[:-3] for c in codes}
    return prefixes.pop() if len(prefixes) == 1 else None


def _assemble(
    *,
    layers: Layers,
    u: gpd.GeoDataFrame,
    crs: Any,
    rules: ReformRules,
    ids: np.ndarray,
    resid: np.ndarray,
    cells: np.ndarray,
    planner: _Planner,
    prev: np.ndarray,
    street_key: np.ndarray,
    weight: np.ndarray,
    hh: np.ndarray,
    pop: np.ndarray,
    ent: gpd.GeoDataFrame | None,
    ent_of: np.ndarray,
    bar_names: list[str],
    diags: list[dict],
) -> Reform:
    lo, hi = float(rules.min_households), float(rules.max_households)
    n_units = len(u)
    gids = sorted(planner.members)
    # new community per residential unit
    group_of = np.full(n_units, -1, dtype=np.int64)
    group_of[resid] = planner.label
    gpos = {gid: i for i, gid in enumerate(gids)}
    n_new = len(gids)
    gi = np.full(n_units, -1, dtype=np.int64)
    gi[resid] = [gpos[x] for x in planner.label.tolist()]

    # geometry and figures per new community
    geom = np.empty(n_new, dtype=object)
    crosses = np.zeros(n_new, dtype=bool)
    for k, gid in enumerate(gids):
        sel = cells[resid[planner.members[gid]]]
        sel = sel[~(shapely.is_empty(sel) | shapely.is_missing(sel))]
        geom[k] = shapely.union_all(sel) if len(sel) else shapely.Polygon()
    g = planner.g
    src = np.repeat(np.arange(g.n), np.diff(g.indptr))
    inside = g.cross & (planner.label[src] == planner.label[g.indices])
    crosses[[gpos[x] for x in np.unique(planner.label[src[inside]]).tolist()]] = True
    res_mask = gi >= 0
    w_new = np.bincount(gi[res_mask], weights=weight[res_mask], minlength=n_new)
    hh_new = np.bincount(gi[res_mask], weights=hh[res_mask], minlength=n_new).astype(np.int64)
    pop_new = (
        pd.Series(pop[res_mask]).groupby(gi[res_mask]).sum(min_count=1).reindex(range(n_new))
    ).to_numpy()
    n_new_units = np.bincount(gi[res_mask], minlength=n_new).astype(np.int64)
    street_new = np.array(
        [street_key[resid[planner.members[gid][0]]] for gid in gids], dtype=object
    )

    # codes: continuity by the code rule, then 601.. per street for the rest
    cont = code_continuity(prev[res_mask], gi[res_mask], weight[res_mask])
    kept_code = np.array([cont.get(k) for k in range(n_new)], dtype=object)
    contrib = (
        pd.DataFrame({"new": gi[res_mask], "old": prev[res_mask], "w": weight[res_mask]})
        .groupby(["new", "old"])["w"]
        .sum()
        .reset_index()
        .sort_values(["new", "w", "old"], ascending=[True, False, True], kind="stable")
    )
    prev_main = contrib.drop_duplicates("new").set_index("new")["old"].reindex(range(n_new))
    contrib["text"] = contrib["old"].astype(str) + ":" + contrib["w"].astype(np.int64).astype(str)
    prev_all = contrib.groupby("new")["text"].agg(";".join)
    cen = shapely.get_coordinates(
        shapely.point_on_surface(
            np.where(shapely.is_empty(geom), shapely.Point(0, 0), geom).astype(object)
        )
    )
    old_street: dict[str, set[str]] = {}
    for c, s in zip(prev, street_key, strict=True):
        if c:
            old_street.setdefault(s, set()).add(c)
    code = np.empty(n_new, dtype=object)
    cid = np.empty(n_new, dtype=object)
    for s in sorted(set(street_new.tolist())):
        in_s = np.flatnonzero(street_new == s)
        taken = set(old_street.get(s, set()))
        taken |= {c[-3:] for c in taken if c.isdigit()}
        prefix = _code_prefix(sorted(old_street.get(s, set())))
        nxt = rules.new_code_start
        order_s = in_s[np.lexsort((np.round(cen[in_s, 0], 1), -np.round(cen[in_s, 1], 1)))]
        for k in order_s:
            if kept_code[k] is not None:
                code[k] = kept_code[k]
                cid[k] = kept_code[k]
                continue
            while f"{nxt:03d}" in taken or (prefix and f"{prefix}{nxt:03d}" in taken):
                nxt += 1
            c3 = f"{nxt:03d}"
            nxt += 1
            code[k] = c3
            cid[k] = f"{prefix}{c3}" if prefix else (f"{s}-{c3}" if s else c3)
    # an id that collides with a current community's id elsewhere gets the street prefix
    dup = pd.Series(cid).duplicated(keep=False).to_numpy()
    for k in np.flatnonzero(dup & (kept_code == None)).tolist():  # noqa: E711
        cid[k] = f"{street_new[k] or 'S'}-{cid[k]}"

    in_bounds = (w_new >= lo - _EPS) & (w_new <= hi + _EPS)
    # membership unchanged: the same units as the current community, nothing more, nothing less
    old_members = pd.Series(prev[res_mask]).value_counts()
    changed = np.ones(n_new, dtype=bool)
    for k in range(n_new):
        if kept_code[k] is None:
            continue
        same = int(((gi == k) & (prev == kept_code[k])).sum())
        changed[k] = not (same == n_new_units[k] == int(old_members.get(kept_code[k], -1)))
    names = (
        layers.communities["name"].astype(str).to_dict()
        if layers.communities is not None and "name" in layers.communities.columns
        else {}
    )
    street_out = [None if s == "" else s for s in street_new]
    comm_gdf = gpd.GeoDataFrame(
        {
            "community_id": cid,
            "community_code": code,
            "previous_code": prev_main.to_numpy(),
            "previous_codes": prev_all.reindex(range(n_new)).to_numpy(),
            "street_id": street_out,
            "name": [names.get(c, "") if c is not None else "" for c in kept_code],
            "households": hh_new,
            "population": pop_new,
            "n_units": n_new_units,
            "in_bounds": in_bounds,
            "kept": kept_code != None,  # noqa: E711
            "changed": changed,
            "crosses_barrier": crosses,
        },
        geometry=geom,
        crs=crs,
    )
    comm_gdf["compactness"] = polsby_popper(comm_gdf.geometry.to_numpy())
    order_c = np.lexsort((cid.astype(str), np.array([str(s) for s in street_new])))
    comm_gdf = comm_gdf.iloc[order_c].reset_index(drop=True)
    comm_gdf = comm_gdf.set_geometry("geometry")
    if layers.crs is not None:
        comm_gdf = comm_gdf.to_crs(layers.crs)

    # units
    units_out = layers.units.copy()
    new_code = np.full(n_units, None, dtype=object)
    new_id = np.full(n_units, None, dtype=object)
    new_code[res_mask] = code[gi[res_mask]]
    new_id[res_mask] = cid[gi[res_mask]]
    ded_id = np.full(n_units, None, dtype=object)
    if ent is not None:
        e_ids = ent.index.astype(str).to_numpy()
        has = ent_of >= 0
        ded_id[has] = e_ids[ent_of[has]]
    units_out["previous_code"] = [c or None for c in prev]
    units_out["community_id"] = new_id
    units_out["community_code"] = new_code
    units_out["dedicated_id"] = ded_id

    # enterprise areas for dedicated grids
    ded_gdf = _dedicated_table(ent, ent_of, prev, street_key, hh, pop, layers)

    # changes: one row per (current, new) pair
    dest = np.where(res_mask, new_id, np.array([f"dedicated:{d}" for d in ded_id], dtype=object))
    ch = pd.DataFrame(
        {
            "previous_code": prev,
            "dest": dest,
            "community_id": new_id,
            "community_code": new_code,
            "dedicated_id": ded_id,
            "street_id": street_key,
            "households": hh,
            "population": pop,
            "n_units": 1,
        }
    )
    changes = (
        ch.groupby(["previous_code", "dest"], sort=True, dropna=False)
        .agg(
            community_id=("community_id", "first"),
            community_code=("community_code", "first"),
            dedicated_id=("dedicated_id", "first"),
            street_id=("street_id", "first"),
            households=("households", "sum"),
            population=("population", lambda s: s.sum(min_count=1)),
            n_units=("n_units", "sum"),
        )
        .reset_index()
        .drop(columns=["dest"])
    )
    changes["moved"] = changes["community_code"].isna() | (
        changes["community_code"].astype(object) != changes["previous_code"]
    )
    changes["households_moved"] = np.where(changes["moved"], changes["households"], 0).astype(
        np.int64
    )
    changes["population_moved"] = np.where(changes["moved"], changes["population"], 0.0)
    changes["street_id"] = [s or None for s in changes["street_id"]]
    changes["previous_code"] = [c or None for c in changes["previous_code"]]
    changes = changes.sort_values(
        ["previous_code", "households"], ascending=[True, False], kind="stable"
    ).reset_index(drop=True)

    report = _report(
        layers=layers,
        u=u,
        crs=crs,
        lo=lo,
        hi=hi,
        prev=prev,
        street_key=street_key,
        weight=weight,
        hh=hh,
        pop=pop,
        comm_gdf=comm_gdf,
        w_new=w_new,
        street_new=street_new,
        changes=changes,
        ded_gdf=ded_gdf,
    )
    _plan_diagnostics(planner, gids, code, street_new, w_new, ids, resid, hh, lo, hi, rules, diags)
    for k in np.flatnonzero(crosses & changed).tolist():
        sel = inside & (planner.label[src] == gids[k])
        names = sorted({bar_names[b] for b in g.barrier[sel].tolist() if 0 <= b < len(bar_names)})
        diags.append(
            {
                "level": "community",
                "kind": "barrier_crossing",
                "street_id": street_new[k] or None,
                "community_code": code[k],
                "unit_ids": describe_rows(sorted(ids[resid[planner.members[gids[k]]]]), limit=6),
                "households": int(hh_new[k]),
                "message": f"community {code[k]} has neighbouring units on both sides of "
                + (", ".join(names) if names else "a barrier line"),
                "fix": "accept it (e.g. the line ends inside the community), or widen the band "
                "so each side can stand alone",
            }
        )
    diag_df = pd.DataFrame(diags, columns=DIAGNOSTIC_COLUMNS)
    log.info(
        "redivided %d current communities into %d (%d in bounds); %d enterprise areas",
        int(report["counts"]["before"].iloc[0]),
        n_new,
        int(in_bounds.sum()),
        len(ded_gdf),
    )
    return Reform(
        units=units_out,
        communities=comm_gdf,
        changes=changes,
        report=report,
        diagnostics=diag_df,
        dedicated=ded_gdf,
        rules=rules,
        work_crs=pyproj.CRS.from_user_input(crs),
    )


def _dedicated_table(
    ent: gpd.GeoDataFrame | None,
    ent_of: np.ndarray,
    prev: np.ndarray,
    street_key: np.ndarray,
    hh: np.ndarray,
    pop: np.ndarray,
    layers: Layers,
) -> gpd.GeoDataFrame:
    columns = [
        "dedicated_id",
        "name",
        "category",
        "street_id",
        "previous_codes",
        "households",
        "population",
        "n_units",
    ]
    if ent is None or len(ent) == 0:
        return gpd.GeoDataFrame(
            {c: pd.Series(dtype=object) for c in columns}, geometry=[], crs=layers.crs
        )
    rows = []
    for k, (did, row) in enumerate(ent.iterrows()):
        sel = ent_of == k
        streets = pd.Series(street_key[sel]).value_counts()
        olds = pd.Series(prev[sel])
        rows.append(
            {
                "dedicated_id": str(did),
                "name": row.get("name", ""),
                "category": row.get("category", ""),
                "street_id": (streets.index[0] or None) if len(streets) else None,
                "previous_codes": ";".join(sorted({o for o in olds if o})),
                "households": int(hh[sel].sum()),
                "population": float(np.nansum(pop[sel])) if sel.any() else 0.0,
                "n_units": int(sel.sum()),
                "geometry": row.geometry,
            }
        )
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=ent.crs)
    return out.to_crs(layers.crs) if layers.crs is not None else out


def _report(
    *,
    layers: Layers,
    u: gpd.GeoDataFrame,
    crs: Any,
    lo: float,
    hi: float,
    prev: np.ndarray,
    street_key: np.ndarray,
    weight: np.ndarray,
    hh: np.ndarray,
    pop: np.ndarray,
    comm_gdf: gpd.GeoDataFrame,
    w_new: np.ndarray,
    street_new: np.ndarray,
    changes: pd.DataFrame,
    ded_gdf: gpd.GeoDataFrame,
) -> dict[str, pd.DataFrame]:
    # before: the current communities as they are, every unit included
    before = pd.DataFrame({"old": prev, "w": weight, "hh": hh, "street": street_key})
    before = before[before["old"] != ""]
    w_old = before.groupby("old")["w"].sum()
    street_old = before.groupby("old")["street"].agg(lambda s: s.value_counts().index[0])
    comp_before = np.nan
    if layers.communities is not None:
        cg = layers.communities.to_crs(crs)
        cg = cg[cg.index.astype(str).isin(w_old.index)]
        if len(cg):
            comp_before = float(np.nanmean(polsby_popper(cg.geometry.to_numpy())))
    moved_hh = int(changes["households_moved"].sum())
    moved_pop = float(np.nansum(changes["population_moved"]))
    total_hh = int(hh.sum())

    def size_rows(w: np.ndarray) -> list[float]:
        if len(w) == 0:
            return [0, 0, 0, 0, np.nan, np.nan]
        return [
            len(w),
            int(((w >= lo - _EPS) & (w <= hi + _EPS)).sum()),
            int((w > hi + _EPS).sum()),
            int((w < lo - _EPS).sum()),
            float(np.min(w)),
            float(np.max(w)),
        ]

    b = size_rows(w_old.to_numpy(dtype=float))
    a = size_rows(w_new.astype(float))
    counts = pd.DataFrame(
        {
            "metric": [
                "communities",
                "in_bounds",
                "oversized",
                "undersized",
                "min_size",
                "max_size",
                "mean_compactness",
                "households",
                "households_moved",
                "population_moved",
                "dedicated_areas",
                "dedicated_households",
            ],
            "before": [
                *b,
                comp_before,
                total_hh,
                0,
                0.0,
                0,
                0,
            ],
            "after": [
                *a,
                float(np.nanmean(comm_gdf["compactness"])) if len(comm_gdf) else np.nan,
                total_hh,
                moved_hh,
                moved_pop,
                int((ded_gdf["n_units"] > 0).sum()) if len(ded_gdf) else 0,
                int(ded_gdf["households"].sum()) if len(ded_gdf) else 0,
            ],
        }
    )
    counts["before"] = counts["before"].astype(float)
    counts["after"] = counts["after"].astype(float)

    # per street
    rows = []
    streets = sorted(set(street_key.tolist()) | set(street_new.tolist()))
    for s in streets:
        wo = w_old[street_old.reindex(w_old.index) == s].to_numpy(dtype=float)
        wn = w_new[street_new == s].astype(float)
        sb, sa = size_rows(wo), size_rows(wn)
        sel = street_key == s
        ch_s = changes[changes["street_id"].fillna("") == s]
        rows.append(
            {
                "street_id": s or None,
                "households": int(hh[sel].sum()),
                "population": float(np.nansum(pop[sel])),
                "communities_before": int(sb[0]),
                "communities_after": int(sa[0]),
                "in_bounds_before": int(sb[1]),
                "in_bounds_after": int(sa[1]),
                "oversized_before": int(sb[2]),
                "oversized_after": int(sa[2]),
                "undersized_before": int(sb[3]),
                "undersized_after": int(sa[3]),
                "households_moved": int(ch_s["households_moved"].sum()),
                "dedicated_households": int(
                    ch_s.loc[ch_s["dedicated_id"].notna(), "households"].sum()
                ),
            }
        )
    per_street = pd.DataFrame(rows)

    # mapping: where each current community went
    mrows = []
    for old, t in changes.groupby("previous_code", sort=True):
        kept = t.loc[~t["moved"], "community_code"]
        total = int(t["households"].sum())
        kept_hh = int(t.loc[~t["moved"], "households"].sum())
        dests = [
            str(c) if isinstance(c, str) else f"dedicated:{d}"
            for c, d in zip(t["community_code"], t["dedicated_id"], strict=True)
        ]
        mrows.append(
            {
                "previous_code": old,
                "street_id": street_old.get(old),
                "households": total,
                "population": float(np.nansum(t["population"])),
                "n_units": int(t["n_units"].sum()),
                "size_before": float(w_old.get(old, 0)),
                "kept_as": kept.iloc[0] if len(kept) else None,
                "new_codes": ";".join(dests),
                "households_moved": int(t["households_moved"].sum()),
                "share_kept": kept_hh / total if total else (1.0 if len(kept) else 0.0),
            }
        )
    mapping = pd.DataFrame(mrows)
    if len(mapping):
        mapping["street_id"] = [s or None for s in mapping["street_id"]]
    return {"counts": counts, "per_street": per_street, "mapping": mapping}


def _plan_diagnostics(
    planner: _Planner,
    gids: list[int],
    code: np.ndarray,
    street_new: np.ndarray,
    w_new: np.ndarray,
    ids: np.ndarray,
    resid: np.ndarray,
    hh: np.ndarray,
    lo: float,
    hi: float,
    rules: ReformRules,
    diags: list[dict],
) -> None:
    noun = "households" if rules.balance == "households" else "residents"
    g = planner.g
    # street totals that no count of communities fits
    for s in sorted(set(street_new.tolist())):
        sel = street_new == s
        total = float(w_new[sel].sum())
        k_min, k_max = band_admits(total, lo, hi)
        in_street = [gids[k] for k in np.flatnonzero(sel)]
        if k_min > k_max:
            fix = (
                f"lower min_households to {int(total)} or join the street with a neighbour"
                if total < lo
                else f"lower min_households to {math.floor(total / k_min)} or raise "
                f"max_households to {math.ceil(total / max(k_max, 1))}"
            )
            diags.append(
                {
                    "level": "street",
                    "kind": "infeasible_street",
                    "street_id": s or None,
                    "community_code": None,
                    "unit_ids": "",
                    "households": int(hh[resid[np.isin(planner.label, in_street)]].sum()),
                    "message": f"street {s or '(all)'} holds {int(total)} {noun}: no number of "
                    f"communities of {int(lo)}-{int(hi)} fits",
                    "fix": fix,
                }
            )
    big = np.flatnonzero(g.w > hi)
    if big.size:
        diags.append(
            {
                "level": "unit",
                "kind": "unit_over_ceiling",
                "street_id": None,
                "community_code": None,
                "unit_ids": describe_rows(sorted(ids[resid[big]])),
                "households": int(hh[resid[big]].sum()),
                "message": f"{big.size} unit(s) alone hold more than {int(hi)} {noun}",
                "fix": "split those units (buildings by stairwell, areas into blocks) first",
            }
        )
    for k, gid in enumerate(gids):
        w = float(w_new[k])
        if lo - _EPS <= w <= hi + _EPS:
            continue
        nodes = planner.members[gid]
        # the connected area this community sits in (same street, through any edge)
        seen = {int(nodes[0])}
        dq = deque([int(nodes[0])])
        while dq:
            a = dq.popleft()
            for b in g.indices[g.indptr[a] : g.indptr[a + 1]].tolist():
                if b not in seen:
                    seen.add(b)
                    dq.append(b)
        area_w = float(g.w[list(seen)].sum())
        if w < lo:
            if area_w < lo:
                why = f"its connected area in the street holds only {int(area_w)} in all"
                fix = (
                    f"lower min_households to {int(w)}, or let it join a community across the "
                    "street boundary"
                )
            else:
                why = "no neighbour could take it, or re-plan with it, within the band"
                fix = f"lower min_households to {int(w)} or raise max_households"
            what = f"below the floor of {int(lo)}"
        else:
            why = "no split of it (with its neighbours) into contiguous in-band parts was found"
            fix = f"raise max_households to {int(w)} or split its largest units"
            what = f"above the ceiling of {int(hi)}"
        diags.append(
            {
                "level": "community",
                "kind": "out_of_bounds",
                "street_id": street_new[k] or None,
                "community_code": code[k],
                "unit_ids": describe_rows(sorted(ids[resid[nodes]]), limit=6),
                "households": int(hh[resid[nodes]].sum()),
                "message": f"community {code[k]} holds {int(w)} {noun}, {what}: {why}",
                "fix": fix,
            }
        )
