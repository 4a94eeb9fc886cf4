"""Residential grids (网格): units -> contiguous, compact grids of 300-500 households.

The data flow, one community at a time:

1. units inside a dedicated area (business district, market, school, ...) go to that
   dedicated grid; the rest are residential;
2. residential units get space-filling cells, cut by barriers (:mod:`gridplan.tessellation`);
3. a unit above the ceiling is split into parts (its cell is sliced along its long axis);
4. locked assignments are kept as they are;
5. gated compounds within the band become one grid each; gated compounds above the ceiling
   are their own piece, split into the fewest in-band grids; smaller compounds are kept whole
   as one node of the graph (连片 with neighbours);
6. the graph without barrier-crossing edges falls into components; a component whose total
   admits no in-band count of grids is joined to a neighbour across a barrier (reported);
7. every piece is split by :func:`gridplan.partition.core.split_piece`;
8. grid polygons are the union of their units' cells; :class:`~gridplan.diagnostics.Diagnostic`
   records say what could not be met.

Steps 1-2 are :func:`unit_cells` (the plan's cells stage, over :func:`region_cells`, which
community redivision shares with streets as regions; :func:`unit_graph` is their cell graph,
built by :func:`gridplan.graph.build_graph`), steps 3-8 :func:`grids_from_cells`;
:func:`partition_grids` runs both. Everything runs in canonical unit order (sorted unit
ids), so a plan does not depend on the order of the input rows, and pieces are seeded by
:func:`stable_seed` from their own identity, so it does not depend on what else is planned in
the same run either.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from shapely import STRtree

from ..cells import as_lines, street_tessellate, study_area
from ..config import GridRules, band_admits, check_plan_arguments
from ..crs import working_crs
from ..diagnostics import Diagnostic, frame, resolve_grids
from ..errors import Problem, ValidationError, describe_rows
from ..graph import (
    Edges,
    UnitGraph,
    barrier_lines,
    barrier_names,
    barrier_road_lines,
    build_graph,
    from_edges,
    segment_barriers,
)
from ..layers import Layers, prepare_layers
from ..tessellation import dissolve, region_hulls, slice_polygon, tessellate, units_tile
from ..validate import id_str, normalize_ids
from .continuity import kept_grids, old_code_per_part, split_near_previous
from .core import choose_k, split_piece

__all__ = [
    "GridPartition",
    "RegionCells",
    "UnitCells",
    "dedicated_areas",
    "grids_from_cells",
    "normalize_locks",
    "partition_grids",
    "polsby_popper",
    "region_cells",
    "stable_seed",
    "unit_cells",
    "unit_graph",
]

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class GridPartition:
    """Result of :func:`partition_grids`.

    Attributes
    ----------
    units
        The normalised input units (input CRS) with ``grid_id`` and ``n_parts``.
    parts
        One row per unit part (a unit split above the ceiling has several): ``unit_id``,
        ``part``, ``households``, ``population``, ``grid_id``, ``community_id``, the part's
        cell as geometry (working CRS).
    grids
        ``grid_id``, ``kind`` (residential | dedicated), ``community_id``, ``street_id``,
        ``households``, ``population``, ``n_units``, ``in_band``, ``compactness``
        (Polsby-Popper), ``crosses_barrier``, ``locked``, ``category``, geometry (working CRS).
    records
        What could not be met, as :class:`~gridplan.diagnostics.Diagnostic` records whose
        ``grid_id`` is the grid's ``grid_id`` here (the plan's codes stage names the grids by
        ``grid_code`` instead).
    crs
        The metric CRS used for the work.
    """

    units: gpd.GeoDataFrame
    parts: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    records: tuple[Diagnostic, ...]
    crs: object

    @property
    def diagnostics(self) -> pd.DataFrame:
        """The records as a :func:`gridplan.diagnostics.frame` table. Grids have no codes
        yet at this stage, so ``grid_code`` (and the messages) name them by ``grid_id``."""
        ids: dict[object, str] = {
            d.grid_id: str(d.grid_id) for d in self.records if d.grid_id is not None
        }
        ids.update({g: str(g) for d in self.records for g in d.params.get("grid_ids", ())})
        return frame(resolve_grids(self.records, ids))


def polsby_popper(geoms: np.ndarray) -> np.ndarray:
    """Polsby-Popper compactness ``4 pi A / P^2`` (1 for a circle, near 0 for a sliver)."""
    a = shapely.area(geoms)
    p = shapely.length(geoms)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 4 * math.pi * a / (p * p)
    return np.where(p > 0, out, np.nan)


def stable_seed(seed: int, *keys: object) -> np.random.Generator:
    """A generator that depends only on the seed and the piece's identity, never on the order
    pieces are processed in (so a distributed run gives the same plan)."""
    words = [int(seed) & 0xFFFFFFFF] + [zlib.crc32(str(k).encode("utf-8")) for k in keys]
    return np.random.default_rng(words)


def dedicated_areas(
    layers: Layers, crs: object, *, merge_m: float = 1.0, merge: bool = True
) -> gpd.GeoDataFrame | None:
    """Dedicated polygons in ``crs``; those of one category within ``merge_m`` of each other
    merged (unless ``merge=False``: every polygon its own area), overlaps given to the smaller
    area. None without a dedicated layer."""
    if layers.dedicated is None or len(layers.dedicated) == 0:
        return None
    d = layers.dedicated.to_crs(crs).reset_index()
    geoms = d.geometry.to_numpy()
    tree = STRtree(geoms)
    a, b = tree.query(geoms, predicate="dwithin", distance=max(merge_m, 1e-6))
    same = (d["category"].to_numpy()[a] == d["category"].to_numpy()[b]) & (a != b) & merge
    g = sparse.coo_array(
        (np.ones(int(same.sum())), (a[same], b[same])), shape=(len(d), len(d))
    ).tocsr()
    _, comp = csgraph.connected_components(g, directed=False)
    rows = []
    for c in np.unique(comp):
        idx = np.flatnonzero(comp == c)
        sub = d.iloc[idx]
        names = [str(n) for n in sub["name"] if isinstance(n, str) and n]
        rows.append(
            {
                "dedicated_ids": ";".join(sub["dedicated_id"].astype(str)),
                "name": "、".join(dict.fromkeys(names)) if names else "",
                "category": str(sub["category"].iloc[0]),
                "geometry": shapely.union_all(sub.geometry.to_numpy()),
            }
        )
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
    # dedicated grids must not overlap: where areas of different categories overlap (a
    # hospital inside a park), the smaller area keeps the overlap
    by_size = np.argsort(out.area.to_numpy(), kind="stable")
    taken = None
    geoms = out.geometry.to_numpy().copy()
    for i in by_size:
        g = geoms[i]
        if taken is not None and shapely.intersects(g, taken):
            g = shapely.difference(g, taken)
        geoms[i] = g
        taken = g if taken is None else shapely.union_all([taken, g])
    out = out.set_geometry(geoms)
    return out[~out.geometry.is_empty].reset_index(drop=True)


def normalize_locks(
    locks: Mapping[str, object] | pd.Series | None, unit_ids: pd.Index
) -> dict[str, str]:
    """``unit_id -> grid label`` as text (:func:`gridplan.validate.id_str`: a unit ``12.0``
    from a spreadsheet is unit ``"12"``), empty labels dropped.

    Examples
    --------
    >>> normalize_locks({12.0: 3.0, "13": "B", "14": None}, pd.Index(["12", "13", "14"]))
    {'12': '3', '13': 'B'}

    Raises
    ------
    ValidationError
        Locks naming units that are not in ``unit_ids``.
    """
    if locks is None:
        return {}
    raw: dict = dict(locks.items()) if isinstance(locks, pd.Series) else dict(locks)
    items: dict[str, str] = {}
    for k, v in raw.items():
        key, label = id_str(k), id_str(v)
        if label is not None:
            items[str(key)] = label
    unknown = sorted(set(items) - set(normalize_ids(unit_ids)))
    if unknown:
        raise ValidationError(
            [
                Problem(
                    "locks",
                    "unknown_unit",
                    f"{len(unknown)} locked unit id(s) are not in the units layer "
                    f"(ids {describe_rows(unknown)}); pass ids from the units' unit_id.",
                    tuple(unknown),
                )
            ]
        )
    return items


@dataclass
class _Parts:
    unit: np.ndarray  # index into units
    part: np.ndarray  # part number within its unit
    weight: np.ndarray
    households: np.ndarray
    population: np.ndarray
    cell: np.ndarray
    xy: np.ndarray
    face: np.ndarray
    community: np.ndarray


def _split_oversized(
    units: gpd.GeoDataFrame,
    cells: np.ndarray,
    face: np.ndarray,
    weight: np.ndarray,
    community: np.ndarray,
    hi: float,
    diags: list[Diagnostic],
    *,
    noun: str,
) -> _Parts:
    """One part per unit, except units above ``hi``: sliced into ceil(w / hi) parts."""
    hh = units["households"].to_numpy(dtype=np.int64)
    pop = units["population"].to_numpy(dtype=float)
    xy = shapely.get_coordinates(shapely.point_on_surface(units.geometry.to_numpy()))
    n_parts = np.where(weight > hi, np.ceil(weight / hi).astype(int), 1)
    rows_unit = np.repeat(np.arange(len(units)), n_parts)
    part_no = np.concatenate([np.arange(k) for k in n_parts]) if len(units) else np.zeros(0, int)
    p_w = weight[rows_unit].astype(float)
    p_hh = hh[rows_unit].astype(np.int64)
    p_pop = pop[rows_unit]
    p_cell = cells[rows_unit].copy()
    p_xy = xy[rows_unit].copy()
    for u in np.flatnonzero(n_parts > 1):
        k = int(n_parts[u])
        idx = np.flatnonzero(rows_unit == u)
        # share integers as evenly as they allow: the first (w mod k) parts get one more
        p_hh[idx] = hh[u] // k + (np.arange(k) < hh[u] % k)
        p_w[idx] = weight[u] // k + (np.arange(k) < weight[u] % k)
        p_pop[idx] = pop[u] / k
        strips = slice_polygon(cells[u], k, compact=True)
        for j, s in zip(idx, strips, strict=True):
            p_cell[j] = s
            if not shapely.is_empty(s):
                p_xy[j] = shapely.get_coordinates(shapely.point_on_surface(s))[0]
        # the grids of its parts are known only once the pieces are split: the assembly
        # step names them (params grid_ids) and files the record under the largest part
        diags.append(
            Diagnostic(
                level="unit",
                code="unit_split",
                community_id=community[u],
                unit_ids=(str(units.index[u]),),
                households=int(hh[u]),
                params={
                    "unit": str(units.index[u]),
                    "weight": int(weight[u]),
                    "hi": int(hi),
                    "parts": k,
                    "noun": noun,
                },
                fix="stairwells_for_split",
            )
        )
    return _Parts(
        unit=rows_unit,
        part=part_no,
        weight=p_w,
        households=p_hh,
        population=p_pop,
        cell=p_cell,
        xy=p_xy,
        face=face[rows_unit],
        community=community[rows_unit],
    )


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    g = sparse.coo_array((np.ones(i.shape[0]), (i, j)), shape=(n, n)).tocsr()
    return csgraph.connected_components(g, directed=False)[1]


def _merge_infeasible(
    comp: np.ndarray,
    weight: np.ndarray,
    cross_i: np.ndarray,
    cross_j: np.ndarray,
    cross_len: np.ndarray,
    lo: float,
    hi: float,
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Join components whose totals admit no in-band count to a neighbour across a barrier.

    Prefers a neighbour that makes the union feasible, then the longest shared boundary.
    Returns the new component labels and the list of (component, component) joins made.
    """
    comp = comp.copy()
    joins: list[tuple[int, int]] = []
    for _ in range(len(np.unique(comp))):
        sums = np.bincount(comp, weights=weight)
        totals: dict[int, float] = {int(c): float(sums[c]) for c in np.unique(comp)}
        bad = [
            c for c, t in totals.items() if (lambda r: r[0] > r[1])(band_admits(float(t), lo, hi))
        ]
        if not bad or cross_i.size == 0:
            break
        ca, cb = comp[cross_i], comp[cross_j]
        merged = False
        for c in sorted(bad, key=lambda c: (totals[c], c)):
            touch = (ca == c) & (cb != c) | (cb == c) & (ca != c)
            if not touch.any():
                continue
            other = np.where(ca[touch] == c, cb[touch], ca[touch])
            contact = pd.Series(cross_len[touch]).groupby(other).sum()
            options = []
            for o_key, length in zip(contact.index.to_numpy(), contact.to_numpy(), strict=True):
                o = int(o_key)
                r = band_admits(float(totals[c] + totals[o]), lo, hi)
                options.append((r[0] > r[1], -length, o))
            options.sort()
            o = int(options[0][2])
            comp[comp == o] = c
            joins.append((int(c), o))
            merged = True
            break
        if not merged:
            break
    return comp, joins


def _whole_blocks(
    node_of: np.ndarray, block: np.ndarray, parts: _Parts, *, free: np.ndarray, hi: float
) -> np.ndarray:
    """Contract every block of the street network at or below the ceiling to one node.

    Grids are then unions of whole blocks and their boundaries run on the streets; only a
    block above the ceiling is split, along its cells. A block is keyed by its community too
    (without community polygons one block can hold units of two). Compounds already
    contracted join their blocks' nodes; where a compound spanning blocks would make a node
    above the ceiling, those parts keep the compound's node alone.
    """
    n = node_of.shape[0]
    cand = np.flatnonzero(free & (node_of >= 0) & (block >= 0))
    if cand.size == 0:
        return node_of
    _, comm = np.unique(parts.community.astype(str), return_inverse=True)
    key = comm[cand].astype(np.int64) * (int(block.max()) + 1) + block[cand]
    _, grp = np.unique(key, return_inverse=True)
    total = np.bincount(grp, weights=parts.weight[cand])
    whole = total[grp] <= hi
    first = np.full(total.shape[0], n, dtype=np.int64)
    np.minimum.at(first, grp, cand)
    # links: each part to its compound's node, and each part of a whole block to the block's
    # first part; the nodes are the components of these links
    ii = np.concatenate([np.arange(n), cand[whole]])
    jj = np.concatenate([np.where(node_of >= 0, node_of, np.arange(n)), first[grp][whole]])
    comp = _components(n, ii, jj)
    root = np.full(comp.max() + 1, n, dtype=np.int64)
    np.minimum.at(root, comp, np.arange(n))
    weight = np.bincount(comp, weights=parts.weight)
    ok = weight[comp] <= hi
    out = node_of.copy()
    take = cand[ok[cand]]
    out[take] = root[comp[take]]
    return out


def partition_grids(
    units: gpd.GeoDataFrame | Layers,
    *,
    compounds: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    dedicated: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    rules: GridRules | None = None,
    locks: Mapping[str, object] | pd.Series | None = None,
    seed: int = 0,
    columns: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> GridPartition:
    """Partition units into contiguous, compact residential grids within a household band.

    Parameters
    ----------
    units
        Buildings, blocks or compounds with ``households`` (points or polygons), or an
        already prepared :class:`~gridplan.layers.Layers`.
    compounds, barriers, communities, dedicated, streets
        Optional context layers (see the README's layer model).
    roads
        All streets, lanes and paths: grid boundaries run on them, grids may join across.
    rules
        :class:`~gridplan.config.GridRules`; default 300-500 households.
    locks
        ``unit_id -> grid label`` for assignments that must stay exactly as they are. Units
        locked to the same label form one grid; everything else is planned around them.
    seed
        Same inputs and seed give the same plan.
    columns
        Column renaming applied to every layer (e.g. ``{"户数": "households"}``).
    progress
        Called as ``progress(done, total, message)`` while communities are planned.

    Returns
    -------
    GridPartition

    Examples
    --------
    >>> import gridplan, geopandas as gpd
    >>> units = gpd.read_file("data/camden_sample.gpkg", layer="units")
    >>> comm = gpd.read_file("data/camden_sample.gpkg", layer="communities")
    >>> result = gridplan.partition_grids(units, communities=comm)
    >>> bool(result.grids["in_band"].all())
    True
    >>> int(result.grids["households"].sum()) == int(units["households"].sum())
    True
    """
    check_plan_arguments(rules=rules, seed=seed, expected=GridRules)
    rules = rules or GridRules()
    if isinstance(units, Layers):
        layers = units
    else:
        layers = prepare_layers(
            units,
            compounds=compounds,
            dedicated=dedicated,
            barriers=barriers,
            communities=communities,
            streets=streets,
            roads=roads,
            columns=columns,
            balance=rules.balance,
        )
    return grids_from_cells(
        unit_cells(layers, rules=rules),
        rules=rules,
        locks=normalize_locks(locks, layers.units.index),
        seed=seed,
        progress=progress,
    )


@dataclass(frozen=True)
class UnitCells:
    """Steps 1-2 of the grid stage: dedicated areas take their units, residential units get
    space-filling cells. Everything is in canonical unit order (sorted unit ids), so what
    follows does not depend on the order of the input rows, and in the working CRS.

    Attributes
    ----------
    layers
        The layers, units in canonical order (input CRS).
    units
        Those units in the working CRS.
    order
        The input's unit ids, in input order (units are handed back in it).
    ids, weight, community, street
        Per unit: id as text, the weight the band applies to (households or rounded
        residents), community key (``""`` outside every community) and street id.
    dedicated
        The merged dedicated areas (:func:`dedicated_areas`), or None.
    dedicated_of
        Per unit: the dedicated area holding it, ``-1`` for residential units.
    residential
        Positions of the residential units.
    cells, face
        Per unit: its cell (None for dedicated units) and tessellation face (``-1`` where
        units are their own cells).
    xy
        Per unit: a point on its surface.
    barriers
        The barrier lines that count (:func:`gridplan.adjacency.barrier_lines`), or None.
    barrier_names
        A name per barrier line, for messages.
    crs
        The working CRS.
    block
        Per unit: its block of the street network (``-1`` for dedicated units), when the
        cells were cut by it (:func:`gridplan.cells.street_tessellate`); else None.
    lines
        The lines grid boundaries should run on (roads, barriers, compound outlines,
        community and street boundaries), when the cells were cut by them; else None.
    enclave
        Per unit: a residential unit inside a dedicated area, planned as residential (the
        area was opened around it, see :func:`gridplan.stages.build_cells`); the grid stage
        joins those whose cells touch no cell outside the area to their nearest neighbour
        outside it (``_link_enclaves``). None when there are none.
    """

    layers: Layers
    units: gpd.GeoDataFrame
    order: pd.Index
    ids: np.ndarray
    weight: np.ndarray
    community: np.ndarray
    street: np.ndarray
    dedicated: gpd.GeoDataFrame | None
    dedicated_of: np.ndarray
    residential: np.ndarray
    cells: np.ndarray
    face: np.ndarray
    xy: np.ndarray
    barriers: gpd.GeoDataFrame | None
    barrier_names: list[str]
    crs: object
    block: np.ndarray | None = None
    lines: np.ndarray | None = None
    enclave: np.ndarray | None = None

    @property
    def barrier_geoms(self) -> np.ndarray | None:
        """The barrier lines as a geometry array (None without barriers)."""
        return self.barriers.geometry.to_numpy() if self.barriers is not None else None


def unit_cells(
    layers: Layers,
    *,
    rules: GridRules | None = None,
    work_crs: object = None,
    merge_dedicated: bool = True,
) -> UnitCells:
    """Dedicated areas and residential cells: the ground every grid is drawn on.

    Parameters
    ----------
    layers
        Prepared :class:`~gridplan.layers.Layers`.
    rules
        :class:`~gridplan.config.GridRules` (balance, barrier classes, dedicated merge
        distance).
    work_crs
        The metric CRS to work in; default :func:`gridplan.crs.working_crs` of the units. A
        distributed run passes the whole input's so every part works in the same one.
    merge_dedicated
        Merge dedicated areas of one category within ``rules.dedicated_merge_m`` into one
        dedicated grid (False: one dedicated grid per polygon).

    Returns
    -------
    UnitCells

    Examples
    --------
    >>> import gridplan, geopandas as gpd
    >>> src = "data/camden_sample.gpkg"
    >>> layers = gridplan.prepare_layers(
    ...     gpd.read_file(src, layer="units"), communities=gpd.read_file(src, layer="communities")
    ... )
    >>> c = unit_cells(layers)
    >>> len(c.cells) == len(layers.units) and c.residential.size == len(layers.units)
    True
    """
    rules = rules or GridRules()
    original = layers.units.index
    canon = np.argsort(original.astype(str).to_numpy(), kind="stable")
    layers = replace(layers, units=layers.units.iloc[canon])
    crs = work_crs if work_crs is not None else working_crs(layers.units)
    u = layers.units.to_crs(crs)
    n_units = len(u)
    ids = u.index.astype(str).to_numpy()
    if rules.balance == "population":
        weight = np.rint(u["population"].to_numpy(dtype=float)).astype(np.int64)
    else:
        weight = u["households"].to_numpy(dtype=np.int64)
    community = u["community_id"].astype(object).where(u["community_id"].notna(), "").to_numpy()
    community = np.array([str(c) for c in community], dtype=object)
    street = u["street_id"].astype(object).where(u["street_id"].notna(), None).to_numpy()
    geoms = u.geometry.to_numpy()

    def community_regions(resid: np.ndarray) -> dict[str, Any]:
        # the community polygons; the hull of its units for a community without one
        if layers.communities is None:
            return region_hulls(geoms[resid], community[resid]) if resid.size else {}
        comms = layers.communities.to_crs(crs)
        regions = {str(k): g for k, g in zip(comms.index, comms.geometry.to_numpy(), strict=True)}
        missing = sorted(set(community[resid]) - set(regions))
        if missing:
            hulls = region_hulls(geoms[resid], community[resid])
            for key in missing:
                regions[key] = hulls[key]
        return regions

    # 1. dedicated areas take the units inside them; 2. cells for the residential units
    ded = dedicated_areas(layers, crs, merge_m=rules.dedicated_merge_m, merge=merge_dedicated)
    bars = (
        barrier_lines(
            layers.barriers, classes=rules.barrier_classes, crs=crs, road_classes=rules.road_classes
        )
        if rules.respect_barriers
        else None
    )
    bar_geoms = bars.geometry.to_numpy() if bars is not None else None
    streets_of_lines = _street_lines(layers, rules, crs)
    # cells follow the street network when there is one, and always when no community
    # polygons say where the ground is: one study area then, so cells cannot overlap
    by_streets = streets_of_lines.size > 0 or layers.communities is None
    areas = ded.geometry.to_numpy() if ded is not None else None
    if by_streets:
        comp = (
            layers.compounds.to_crs(crs).geometry.to_numpy()
            if layers.compounds is not None
            else None
        )
        bounds = [
            f.to_crs(crs).geometry.to_numpy()
            for f in (layers.communities, layers.streets)
            if f is not None and len(f)
        ]
        boundary = np.concatenate(bounds) if bounds else None
        keys = community if layers.communities is not None else np.full(n_units, _STUDY, object)

        def street_regions(resid: np.ndarray) -> dict[str, Any]:
            if layers.communities is not None:
                return community_regions(resid)
            if not resid.size:
                return {}
            area = study_area(
                geoms[resid],
                streets=layers.streets.to_crs(crs) if layers.streets is not None else None,
                roads=streets_of_lines,
                barriers=bar_geoms,
            )
            return {_STUDY: area}

        rc = region_cells(
            geoms,
            keys,
            regions=street_regions,
            areas=areas,
            barriers=bar_geoms,
            mode="streets",
            roads=streets_of_lines,
            compounds=comp,
            boundaries=boundary,
        )
        lines = as_lines(streets_of_lines, bar_geoms, comp, boundary)
    else:
        rc = region_cells(
            geoms,
            community,
            regions=community_regions,
            areas=areas,
            barriers=bar_geoms,
            # dedicated grids are drawn from their own polygons: residential cells leave that
            # ground to them, which only a tessellation can do
            mode="auto" if ded is None else "tessellate",
        )
        lines = None
    return UnitCells(
        layers=layers,
        units=u,
        order=original,
        ids=ids,
        weight=weight,
        community=community,
        street=street,
        dedicated=ded,
        dedicated_of=rc.area_of,
        residential=rc.kept,
        cells=rc.cells,
        face=rc.face,
        xy=shapely.get_coordinates(rc.points) if n_units else np.zeros((0, 2)),
        barriers=bars,
        barrier_names=barrier_names(bars),
        crs=crs,
        block=rc.block,
        lines=lines,
    )


#: the one region key of a study area without community polygons
_STUDY = "\x1fstudy"


def _street_lines(layers: Layers, rules: GridRules, crs: object) -> np.ndarray:
    """The lines boundaries should run on without separating units: the ``roads`` layer, the
    barrier lines of a street class (``rules.road_classes``) and, when barriers are not
    respected, every barrier line."""
    out = [np.empty(0, dtype=object)]
    if layers.roads is not None and len(layers.roads):
        out.append(layers.roads.to_crs(crs).geometry.to_numpy())
    soft = (
        barrier_road_lines(
            layers.barriers, classes=rules.barrier_classes, crs=crs, road_classes=rules.road_classes
        )
        if rules.respect_barriers
        else (layers.barriers.to_crs(crs) if layers.barriers is not None else None)
    )
    if soft is not None and len(soft):
        out.append(soft.geometry.to_numpy())
    g = np.concatenate(out)
    return g[~(shapely.is_missing(g) | shapely.is_empty(g))] if g.size else g


@dataclass(frozen=True)
class RegionCells:
    """Units taken by areas, and space-filling cells for the others (:func:`region_cells`).

    Attributes
    ----------
    area_of
        Per unit: the position of the area holding it, ``-1`` for units outside every area.
    kept
        Positions of the units outside every area (the ones with cells).
    cells, face
        Per unit: its cell (None for units taken by an area) and tessellation face (``-1``
        where units are their own cells).
    points
        Per unit: a point on its surface.
    mode
        ``"units"`` (the units are their own cells), ``"tessellate"`` or ``"streets"``
        (cells inside the blocks of the street network, :func:`gridplan.cells.street_tessellate`).
    block
        Per unit: its block (``"streets"`` mode; ``-1`` for units taken by an area), else None.
    """

    area_of: np.ndarray
    kept: np.ndarray
    cells: np.ndarray
    face: np.ndarray
    points: np.ndarray
    mode: Literal["units", "tessellate", "streets"]
    block: np.ndarray | None = None


def region_cells(
    geoms: np.ndarray,
    keys: np.ndarray,
    *,
    regions: Callable[[np.ndarray], dict[str, Any]],
    areas: np.ndarray | None = None,
    barriers: np.ndarray | None = None,
    mode: Literal["auto", "units", "tessellate", "streets"] = "auto",
    roads: np.ndarray | None = None,
    compounds: np.ndarray | None = None,
    boundaries: np.ndarray | None = None,
) -> RegionCells:
    """The ground units are grouped on: areas take the units inside them, every other unit
    gets a space-filling cell inside its region, cut by barrier lines.

    The grid stage calls it with communities as regions and dedicated areas
    (:func:`unit_cells`), community redivision with streets as regions and enterprise areas
    (:func:`gridplan.reform.cells.prepare`).

    Parameters
    ----------
    geoms
        Unit geometries in a metric CRS.
    keys
        Region key (text) per unit.
    regions
        Given the positions of the units no area takes, the polygon of each of their keys.
    areas
        Polygons that take the units whose point on surface lies within them, and that are
        erased from the other units' cells.
    barriers
        Barrier lines that cut the cells.
    mode
        ``"auto"``: units that already tile their region (census areas, blocks) are their own
        cells, otherwise they are tessellated; ``"units"`` or ``"tessellate"`` to choose.
        ``"streets"``: every line (``roads``, ``barriers``, ``compounds`` outlines,
        ``boundaries``) cuts the regions into blocks and each unit gets a cell inside its
        block (:func:`gridplan.cells.street_tessellate`; polygon units that tile a region are
        their own cells); the regions are tiled exactly.
    roads, compounds, boundaries
        With ``mode="streets"``: street lines, compound polygons and boundary polygons whose
        lines cut blocks without separating units.

    Examples
    --------
    >>> from shapely.geometry import Point, box
    >>> geoms = np.array([Point(1, 1), Point(3, 1), Point(9, 9)], dtype=object)
    >>> rc = region_cells(geoms, np.array(["a", "a", "a"], dtype=object),
    ...                   regions=lambda kept: {"a": box(0, 0, 4, 2)},
    ...                   areas=np.array([box(8, 8, 10, 10)], dtype=object))
    >>> rc.area_of.tolist(), rc.kept.tolist(), rc.mode
    ([-1, -1, 0], [0, 1], 'tessellate')
    >>> [round(c.area, 6) for c in rc.cells[rc.kept]]
    [4.0, 4.0]
    """
    n = len(geoms)
    points = shapely.point_on_surface(geoms)
    area_of = np.full(n, -1)
    if areas is not None:
        u_idx, a_idx = STRtree(areas).query(points, predicate="within")
        _, first = np.unique(u_idx, return_index=True)
        area_of[u_idx[first]] = a_idx[first]
    kept = np.flatnonzero(area_of < 0)
    polys = regions(kept)
    if mode == "auto":
        tiles = bool(kept.size) and units_tile(geoms[kept], keys[kept], polys)
        mode = "units" if tiles else "tessellate"
    log.info("cells: %s", mode)
    cells = np.empty(n, dtype=object)
    face = np.full(n, -1, dtype=np.int64)
    if mode == "streets":
        block = np.full(n, -1, dtype=np.int64)
        if kept.size:
            tess = street_tessellate(
                geoms[kept],
                keys[kept],
                polys,
                roads=roads,
                barriers=barriers,
                compounds=compounds,
                boundaries=boundaries,
                erase=areas,
                hard=barriers if barriers is not None else [],
            )
            cells[kept], face[kept] = tess.cells, tess.face
            if tess.block is not None:
                block[kept] = tess.block
        return RegionCells(
            area_of=area_of,
            kept=kept,
            cells=cells,
            face=face,
            points=points,
            mode=mode,
            block=block,
        )
    if kept.size and mode == "units":
        # the units are the cells; barriers are read from the segment test alone
        cells[kept] = shapely.make_valid(geoms[kept])
    elif kept.size:
        tess = tessellate(geoms[kept], keys[kept], polys, barriers=barriers, erase=areas)
        cells[kept] = tess.cells
        face[kept] = tess.face
    return RegionCells(area_of=area_of, kept=kept, cells=cells, face=face, points=points, mode=mode)


def _cell_graph(parts: _Parts, bar_geoms: np.ndarray | None) -> Edges:
    """Cells sharing a boundary, crossings of barriers flagged; none between communities."""
    _, region = np.unique(parts.community.astype(str), return_inverse=True)
    g = build_graph(
        parts.cell,
        parts.xy,
        weight=parts.weight,
        face=parts.face,
        barriers=bar_geoms,
        region=region.astype(np.int64),
    )
    return g.edges()


def _link_enclaves(
    edges: Edges, parts: _Parts, enclave: np.ndarray, bar_geoms: np.ndarray | None
) -> Edges:
    """Join each group of enclave parts that no edge links to the rest to its nearest part
    outside the enclaves, in its community.

    A home inside a school or a market stands on ground the dedicated grid keeps, so its
    cell may touch no other cell; left alone it would be a grid of its own. The link runs to
    the nearest part outside every enclave (by representative point) and crosses a barrier
    where the straight line between them does, so the grid stage treats it like any other
    edge. A group with no part outside in its community stays alone.
    """
    n = parts.unit.shape[0]
    enclave = np.asarray(enclave, dtype=bool)
    if n == 0 or not enclave.any() or enclave.all():
        return edges
    comp = _components(n, edges.i, edges.j)
    reached = np.zeros(comp.max() + 1, dtype=bool)
    reached[comp[~enclave]] = True
    alone = np.flatnonzero(enclave & ~reached[comp])
    if alone.size == 0:
        return edges
    from scipy.spatial import cKDTree

    community = parts.community.astype(str)
    trees: dict[str, tuple[Any, np.ndarray] | None] = {}
    new_i: list[int] = []
    new_j: list[int] = []
    for c in np.unique(comp[alone]).tolist():
        members = alone[comp[alone] == c]
        key = str(community[members[0]])
        if key not in trees:
            cand = np.flatnonzero(~enclave & (community == key))
            trees[key] = (cKDTree(parts.xy[cand]), cand) if cand.size else None
        found = trees[key]
        if found is None:
            continue
        tree, cand = found
        dist, idx = tree.query(parts.xy[members])
        k = int(np.argmin(dist))
        a, b = int(members[k]), int(cand[int(idx[k])])
        new_i.append(min(a, b))
        new_j.append(max(a, b))
    if not new_i:
        return edges
    li, lj = np.asarray(new_i, dtype=np.int64), np.asarray(new_j, dtype=np.int64)
    crossing, barrier = segment_barriers(
        parts.xy[li], parts.xy[lj], bar_geoms if bar_geoms is not None else np.zeros(0, object)
    )
    log.info("linked %d group(s) of homes inside dedicated areas to their neighbours", li.size)
    return Edges(
        np.concatenate([edges.i, li]),
        np.concatenate([edges.j, lj]),
        np.concatenate([edges.shared_m, np.full(li.size, 1e-3)]),
        np.concatenate([edges.crossing, crossing]),
        np.concatenate([edges.barrier, barrier]),
    )


def unit_graph(cells: UnitCells) -> Edges:
    """The residential units' cell graph, the one every grid is drawn on.

    Edges join residential units whose cells share a boundary, are flagged where they cross
    a barrier, and never join two communities. Nodes are positions in ``cells.residential``.
    :func:`grids_from_cells` builds the same graph over unit *parts* (a unit above the
    ceiling is sliced first), so for unsplit units the two agree.

    Examples
    --------
    >>> import gridplan, geopandas as gpd
    >>> src = "data/camden_sample.gpkg"
    >>> layers = gridplan.prepare_layers(
    ...     gpd.read_file(src, layer="units"), communities=gpd.read_file(src, layer="communities")
    ... )
    >>> c = unit_cells(layers)
    >>> e = unit_graph(c)
    >>> bool((c.community[c.residential][e.i] == c.community[c.residential][e.j]).all())
    True
    """
    r = cells.residential
    whole = _Parts(
        unit=r,
        part=np.zeros(r.size, dtype=np.int64),
        weight=cells.weight[r],
        households=cells.units["households"].to_numpy(dtype=np.int64)[r],
        population=cells.units["population"].to_numpy(dtype=float)[r],
        cell=cells.cells[r],
        xy=cells.xy[r],
        face=cells.face[r],
        community=cells.community[r],
    )
    edges = _cell_graph(whole, cells.barrier_geoms)
    if cells.enclave is not None:
        edges = _link_enclaves(edges, whole, cells.enclave[r], cells.barrier_geoms)
    return edges


def grids_from_cells(
    cells: UnitCells,
    *,
    rules: GridRules | None = None,
    locks: Mapping[str, str] | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    previous: Mapping[str, str] | None = None,
    previous_parts: Mapping[str, tuple[str, ...]] | None = None,
    previous_release: frozenset[str] = frozenset(),
) -> GridPartition:
    """Steps 3-8 of the grid stage: parts, locks, compounds, pieces, split, assembly.

    Parameters
    ----------
    cells
        :func:`unit_cells` of the layers.
    rules
        :class:`~gridplan.config.GridRules` (the same as for the cells).
    locks
        ``unit_id -> grid label``, as :func:`normalize_locks` gives it.
    seed
        Same inputs and seed give the same grids.
    progress
        Called as ``progress(done, total, message)`` while pieces are planned.
    previous
        ``unit_id -> old grid code`` of a previous plan: the old grids still valid (in band,
        contiguous without crossing a barrier, in one community) are kept as they are, with
        ``kept_code``; the rest is re-planned close to the old grids
        (:mod:`gridplan.partition.continuity`), each old grid not kept reported.
    previous_parts
        ``unit_id -> old grid code of each part`` for units the old plan split.
    previous_release
        Old grids re-planned even if still valid.

    Returns
    -------
    GridPartition
        Units in the input order.
    """
    rules = rules or GridRules()
    result = _grids_sorted(
        cells,
        rules=rules,
        locks=dict(locks or {}),
        seed=seed,
        progress=progress,
        previous=previous,
        previous_parts=previous_parts or {},
        previous_release=previous_release,
    )
    return replace(result, units=result.units.loc[cells.order])


def _grids_sorted(
    uc: UnitCells,
    *,
    rules: GridRules,
    locks: dict,
    seed: int,
    progress: Progress | None,
    previous: Mapping[str, str] | None = None,
    previous_parts: Mapping[str, tuple[str, ...]] | None = None,
    previous_release: frozenset[str] = frozenset(),
) -> GridPartition:
    lo, hi, target = float(rules.min_households), float(rules.max_households), rules.target
    layers, u, crs, ids = uc.layers, uc.units, uc.crs, uc.ids
    weight, community, street = uc.weight, uc.community, uc.street
    ded, ded_of, resid = uc.dedicated, uc.dedicated_of, uc.residential
    cells, face = uc.cells, uc.face
    bar_geoms, bar_names = uc.barrier_geoms, uc.barrier_names
    diags: list[Diagnostic] = []

    # 3. parts (oversized units sliced)
    sub = u.iloc[resid]
    parts = _split_oversized(
        sub,
        cells[resid],
        face[resid],
        weight[resid],
        community[resid],
        hi,
        diags,
        noun=rules.balance,
    )
    parts.unit = resid[parts.unit]
    n_p = parts.unit.shape[0]
    edges = _cell_graph(parts, bar_geoms)
    if uc.enclave is not None:
        edges = _link_enclaves(edges, parts, uc.enclave[parts.unit], bar_geoms)

    label = np.full(n_p, -1, dtype=np.int64)  # grid number per part
    grid_info: list[dict] = []

    def new_grid(members: np.ndarray, **info: object) -> int:
        gid = len(grid_info)
        label[members] = gid
        grid_info.append(info)
        return gid

    # 4. locks
    if locks:
        locked_label = np.array([locks.get(ids[k]) for k in parts.unit], dtype=object)
        for lab in sorted({str(v) for v in locked_label if v is not None}):
            members = np.flatnonzero(locked_label == lab)
            comms_here = sorted(set(parts.community[members]))
            gid = new_grid(
                members,
                kind="residential",
                community=comms_here[0],
                locked=True,
                lock_label=lab,
            )
            total = float(parts.weight[members].sum())
            if not lo <= total <= hi:
                diags.append(
                    Diagnostic(
                        level="grid",
                        code="locked_out_of_band",
                        community_id=comms_here[0],
                        grid_id=gid,
                        unit_ids=tuple(sorted({ids[parts.unit[m]] for m in members})),
                        households=int(total),
                        params={"label": lab, "lo": int(lo), "hi": int(hi), "noun": rules.balance},
                        fix="unlock_or_edit",
                    )
                )

    # 4b. the previous plan: old grids still valid are kept as they are
    old_part = None
    if previous is not None:
        old_part = old_code_per_part(ids[parts.unit], parts.part, previous, previous_parts or {})
        verdict = kept_grids(
            old_part,
            label < 0,
            weight=parts.weight,
            community=parts.community,
            edge_i=edges.i,
            edge_j=edges.j,
            crossing=edges.crossing,
            shared=edges.shared_m,
            lo=lo,
            hi=hi,
            release=previous_release,
        )
        for code, members in sorted(verdict.kept.items()):
            new_grid(
                members,
                kind="residential",
                community=parts.community[members[0]],
                locked=False,
                kept=code,
            )
        for code, members, reason in verdict.replanned:
            diags.append(
                Diagnostic(
                    level="grid",
                    code="previous_replanned",
                    severity="info",
                    community_id=str(parts.community[members[0]]),
                    grid_code=code,
                    unit_ids=tuple(sorted({ids[parts.unit[m]] for m in members})),
                    households=int(parts.households[members].sum()),
                    params={
                        "why": f"previous_{reason}",
                        "lo": int(lo),
                        "hi": int(hi),
                        "noun": rules.balance,
                    },
                    fix="previous_check",
                )
            )
        old_num = {c: i for i, c in enumerate(sorted({str(c) for c in old_part if c}))}
        old_int = np.array([old_num.get(c, -1) if c else -1 for c in old_part], dtype=np.int64)

    # 5. compounds
    free = label < 0
    compound = u["compound_id"].astype(object).to_numpy()[parts.unit]
    gated = u["gated"].to_numpy(dtype=bool)[parts.unit]
    node_of = np.arange(n_p)  # part -> graph node (contracted compounds share a node)
    own_pieces: list[np.ndarray] = []
    comp_keys = pd.Series(
        [
            f"{c}\x1f{k}" if k is not None and not pd.isna(k) else None
            for c, k in zip(parts.community, compound, strict=True)
        ]
    )
    for key, idx in comp_keys[free].groupby(comp_keys[free]).groups.items():
        members = np.asarray(idx, dtype=np.int64)
        total = float(parts.weight[members].sum())
        is_gated = bool(gated[members].any())
        if is_gated and rules.gated_own_grid and lo <= total <= hi:
            new_grid(
                members,
                kind="residential",
                community=parts.community[members[0]],
                locked=False,
                compound=str(key).split("\x1f")[1],
            )
        elif is_gated and rules.gated_own_grid and total > hi:
            own_pieces.append(members)
        elif rules.keep_compounds_whole and total <= hi:
            node_of[members] = members.min()
    for members in own_pieces:
        node_of[members] = -1 - members.min()  # marker: own piece, handled below
    if uc.block is not None:
        node_of = _whole_blocks(node_of, uc.block[parts.unit], parts, free=label < 0, hi=hi)

    # 6. pieces: components of the barrier-free graph per community, infeasible ones joined
    free_parts = np.flatnonzero((label < 0) & (node_of >= 0))
    nodes, node_idx = np.unique(node_of[free_parts], return_inverse=True)
    part_node = np.full(n_p, -1)
    part_node[free_parts] = node_idx
    nn = nodes.shape[0]
    nw = np.bincount(node_idx, weights=parts.weight[free_parts], minlength=nn)
    nmass = np.bincount(node_idx, weights=shapely.area(parts.cell[free_parts]), minlength=nn)
    nmass = np.where(nmass > 0, nmass, 1.0)
    nxy = (
        np.column_stack(
            [
                np.bincount(
                    node_idx,
                    weights=parts.xy[free_parts, 0] * np.maximum(parts.weight[free_parts], 1),
                    minlength=nn,
                ),
                np.bincount(
                    node_idx,
                    weights=parts.xy[free_parts, 1] * np.maximum(parts.weight[free_parts], 1),
                    minlength=nn,
                ),
            ]
        )
        / np.bincount(node_idx, weights=np.maximum(parts.weight[free_parts], 1), minlength=nn)[
            :, None
        ]
    )
    ncomm = np.empty(nn, dtype=object)
    ncomm[node_idx] = parts.community[free_parts]
    ei, ej = part_node[edges.i], part_node[edges.j]
    ok = (ei >= 0) & (ej >= 0) & (ei != ej)
    e_i, e_j = ei[ok], ej[ok]
    e_cross = edges.crossing[ok]
    e_len = edges.shared_m[ok]
    calm = ~e_cross
    comp = _components(nn, e_i[calm], e_j[calm])
    comp, joins = _merge_infeasible(comp, nw, e_i[e_cross], e_j[e_cross], e_len[e_cross], lo, hi)
    joined_pieces = {c for pair in joins for c in pair}

    pieces = sorted(
        {(str(ncomm[np.flatnonzero(comp == c)[0]]), int(c)) for c in np.unique(comp)},
        key=lambda t: (t[0], t[1]),
    )
    total_work = len(pieces) + len(own_pieces)
    done = 0
    for comm_key, c in pieces:
        members = np.flatnonzero(comp == c)
        in_piece = np.zeros(nn, dtype=bool)
        in_piece[members] = True
        sel = in_piece[e_i] & in_piece[e_j]
        loc = np.full(nn, -1)
        loc[members] = np.arange(members.size)
        # barrier edges of a piece joined across a barrier cost CROSSING_PENALTY times more,
        # so spanning trees cross it only where they must
        g = from_edges(
            members.size,
            loc[e_i[sel]],
            loc[e_j[sel]],
            weight=nw[members].astype(np.int64),
            xy=nxy[members],
            mass=nmass[members],
            shared=e_len[sel],
            crossing=e_cross[sel],
        )
        part_members = np.flatnonzero(np.isin(part_node, members))
        # named by its smallest unit id, so the seed does not depend on row order or on which
        # other streets are planned in the same run
        piece_key = f"{comm_key}:{min(ids[parts.unit[part_members]])}"
        rng = stable_seed(seed, piece_key)
        res = _split_connected(g, lo, hi, target, rules, rng)
        if old_part is not None:
            res = _near_previous(g, res, old_int, part_members, loc[part_node[part_members]],
                                 parts.weight, lo, hi, target, rules, rng)  # fmt: skip
        piece_label = res.labels[loc[part_node[part_members]]]
        crossed = c in joined_pieces
        base = len(grid_info)
        for k in range(res.k):
            new_grid(
                part_members[piece_label == k],
                kind="residential",
                community=comm_key,
                locked=False,
                piece=piece_key,
                joined=crossed,
            )
        _piece_diagnostics(
            res, g, lo, hi, comm_key, ids[parts.unit[part_members]], base, diags, rules.balance
        )
        done += 1
        if progress is not None:
            progress(done, total_work, f"community {comm_key}")
    for members in own_pieces:
        comm_key = str(parts.community[members[0]])
        # a gated compound is one site: join its buildings by Delaunay so it is connected
        g = _delaunay_piece(parts, members)
        piece_key = f"{comm_key}:compound:{compound[members[0]]}"
        res = _split_connected(g, lo, hi, target, rules, stable_seed(seed, piece_key), fewest=True)
        base = len(grid_info)
        for k in range(res.k):
            new_grid(
                members[res.labels == k],
                kind="residential",
                community=comm_key,
                locked=False,
                compound=str(compound[members[0]]),
            )
        _piece_diagnostics(
            res, g, lo, hi, comm_key, ids[parts.unit[members]], base, diags, rules.balance
        )
        done += 1
        if progress is not None:
            progress(done, total_work, f"compound {compound[members[0]]}")

    return _assemble(
        layers=layers,
        u=u,
        crs=crs,
        ids=ids,
        parts=parts,
        label=label,
        grid_info=grid_info,
        edges=edges,
        bar_names=bar_names,
        joins_made=bool(joins),
        ded=ded,
        ded_of=ded_of,
        community=community,
        street=street,
        lo=lo,
        hi=hi,
        diags=diags,
    )


def _split_connected(
    g: UnitGraph,
    lo: float,
    hi: float,
    target: float,
    rules: GridRules,
    rng: np.random.Generator,
    *,
    fewest: bool = False,
):
    k = None
    if fewest:
        k_min, k_max = band_admits(float(g.weight.sum()), lo, hi)
        k = k_min if k_min <= k_max else choose_k(float(g.weight.sum()), lo, hi, target)[0]
    return split_piece(
        g,
        lo=lo,
        hi=hi,
        target=target,
        k=k,
        seed=rng,
        tries=rules.tries,
        refine_passes=rules.refine_passes,
        # grid-level pieces are mostly solved by the first greedy pass; the exact model goes
        # first only for the smallest ones (measured: Camden 1.3 s -> 0.9 s, same band)
        exact_first_max_units=rules.search.exact_first_units,
        enum_max=rules.search.enum_max,
    )


def _near_previous(
    g: UnitGraph,
    res: Any,
    old_int: np.ndarray,
    part_members: np.ndarray,
    part_nodes: np.ndarray,
    weight: np.ndarray,
    lo: float,
    hi: float,
    target: float,
    rules: GridRules,
    rng: np.random.Generator,
) -> Any:
    """``res`` re-done close to the old grids (each node's old grid: that of most of its
    households), :func:`gridplan.partition.continuity.split_near_previous`."""
    t = pd.DataFrame({"n": part_nodes, "o": old_int[part_members], "w": weight[part_members]})
    t = t[t["o"] >= 0].groupby(["n", "o"], sort=True)["w"].sum().reset_index()
    t = t.sort_values(["n", "w", "o"], ascending=[True, False, True], kind="stable")
    node_old = np.full(g.n, -1, dtype=np.int64)
    top = t.drop_duplicates("n")
    node_old[top["n"].to_numpy()] = top["o"].to_numpy()
    labels = split_near_previous(
        g,
        node_old,
        res.labels,
        lo=lo,
        hi=hi,
        target=target,
        rng=rng,
        tries=rules.tries,
        refine_passes=rules.refine_passes,
    )
    k = int(labels.max()) + 1
    sums = np.bincount(labels, weights=g.weight.astype(float), minlength=k)
    in_band = bool(((sums >= lo - 1e-9) & (sums <= hi + 1e-9)).all())
    return replace(res, labels=labels, k=k, in_band=in_band, fallback=res.fallback and not in_band)


def _delaunay_piece(parts: _Parts, members: np.ndarray) -> UnitGraph:
    xy = parts.xy[members]
    n = members.size
    if n >= 3:
        tri = shapely.delaunay_triangles(shapely.multipoints(xy), only_edges=True)
        segs = shapely.get_parts(tri)
        ends = shapely.get_coordinates(segs).reshape(-1, 2, 2)
        from scipy.spatial import cKDTree

        tree = cKDTree(xy)
        _, a = tree.query(ends[:, 0])
        _, b = tree.query(ends[:, 1])
        keep = a != b
        i, j = a[keep], b[keep]
    else:
        i, j = np.arange(n - 1), np.arange(1, n)
    # guarantee connectivity (collinear or stacked points): chain in x order
    order = np.lexsort((xy[:, 1], xy[:, 0]))
    i = np.concatenate([i, order[:-1]])
    j = np.concatenate([j, order[1:]])
    mass = np.maximum(shapely.area(parts.cell[members]), 1.0)
    return from_edges(n, i, j, weight=parts.weight[members].astype(np.int64), xy=xy, mass=mass)


def _piece_diagnostics(res, g, lo, hi, comm_key, unit_ids, base, diags, noun) -> None:
    """One record per out-of-band grid of a piece, with a fix the rules accept: a band that
    would hold every grid of the piece (never narrower than the one in use)."""
    total = float(g.weight.sum())
    if res.in_band:
        return
    sums = np.bincount(res.labels, weights=g.weight.astype(float), minlength=res.k)
    k_min, k_max = band_admits(total, lo, hi)
    params: dict[str, object] = {
        "total": int(total),
        "lo": int(lo),
        "hi": int(hi),
        "k_min": int(k_min),
        "k_max": int(k_max),
        "band": "grid",
        "noun": noun,
    }
    if not res.feasible_count:
        if total < lo:
            code, fix = "infeasible_piece_small", "redivide_small"
        else:
            # either end alone makes a count fit: the floor down to total / k_min, or the
            # ceiling up to total / k_max
            code, fix = "infeasible_piece", "relax_band"
            params["lo_fix"] = max(1, math.floor(total / k_min)) if k_min >= 1 else 1
            params["hi_fix"] = math.ceil(total / max(k_max, 1))
    else:
        code = "out_of_band_proven" if res.proven_infeasible else "out_of_band"
        fix = "widen_band_or_split"
        params["sizes"] = ", ".join(str(int(s)) for s in sorted(sums))
        params["lo_fix"] = max(1, min(int(lo), int(sums.min())))
        params["hi_fix"] = max(int(hi), int(sums.max()))
    units = tuple(sorted(set(unit_ids)))
    for k in range(res.k):
        s = sums[k]
        if lo <= s <= hi:
            continue
        diags.append(
            Diagnostic(
                level="grid",
                code=code,
                community_id=comm_key,
                grid_id=base + k,
                unit_ids=units,
                households=int(s),
                params=params,
                fix=fix,
            )
        )


def _assemble(
    *,
    layers: Layers,
    u: gpd.GeoDataFrame,
    crs: object,
    ids: np.ndarray,
    parts: _Parts,
    label: np.ndarray,
    grid_info: list[dict],
    edges: Edges,
    bar_names: list[str],
    joins_made: bool,
    ded: gpd.GeoDataFrame | None,
    ded_of: np.ndarray,
    community: np.ndarray,
    street: np.ndarray,
    lo: float,
    hi: float,
    diags: list[Diagnostic],
) -> GridPartition:
    n_res = len(grid_info)
    assert (label >= 0).all(), "every residential part must have a grid"
    # residential grid geometry and figures
    order = np.argsort(label, kind="stable")
    bounds = np.searchsorted(label[order], np.arange(n_res + 1))
    geom = np.empty(n_res, dtype=object)
    for gi in range(n_res):
        geom[gi] = dissolve(parts.cell[order[bounds[gi] : bounds[gi + 1]]])
    hh = np.bincount(label, weights=parts.households, minlength=n_res).astype(np.int64)
    w = np.bincount(label, weights=parts.weight, minlength=n_res)
    pop = pd.Series(parts.population).groupby(label).sum(min_count=1).reindex(range(n_res))
    n_u = pd.Series(parts.unit).groupby(label).nunique().reindex(range(n_res)).fillna(0)
    cross_in = edges.crossing & (label[edges.i] == label[edges.j])
    crosses = np.zeros(n_res, dtype=bool)
    crosses[label[edges.i[cross_in]]] = True
    for gi in np.flatnonzero(crosses).tolist():
        sel = cross_in & (label[edges.i] == gi)
        names = sorted({bar_names[b] for b in edges.barrier[sel] if b >= 0})
        info = grid_info[gi]
        if info.get("joined") or info.get("compound"):
            code, fix = "barrier_crossing", "split_barrier_side"
        elif info.get("locked"):
            code, fix = "barrier_crossing_locked", "unlock_or_edit"
        else:
            code, fix = "barrier_crossing_dead_end", "extend_barrier"
        diags.append(
            Diagnostic(
                level="grid",
                code=code,
                community_id=info["community"],
                grid_id=gi,
                unit_ids=tuple(sorted({ids[parts.unit[k]] for k in np.flatnonzero(label == gi)})),
                households=int(hh[gi]),
                params={"barrier": ", ".join(names) if names else "?", "barriers": names},
                fix=fix,
            )
        )
    street_of_comm: dict[str, object] = {}
    for c, s in zip(community, street, strict=True):
        street_of_comm.setdefault(c, s)
    res_rows = pd.DataFrame(
        {
            "kind": "residential",
            "community_id": [gi_["community"] for gi_ in grid_info],
            "households": hh,
            "population": pop.to_numpy(),
            "n_units": n_u.to_numpy().astype(np.int64),
            "in_band": (w >= lo) & (w <= hi),
            "crosses_barrier": crosses,
            "locked": [bool(gi_.get("locked")) for gi_ in grid_info],
            "kept_code": [gi_.get("kept") for gi_ in grid_info],
            "category": "residential",
            "name": [str(gi_.get("compound") or gi_.get("lock_label") or "") for gi_ in grid_info],
        }
    )
    res_rows["street_id"] = res_rows["community_id"].map(street_of_comm)
    grids = gpd.GeoDataFrame(res_rows, geometry=geom, crs=crs)

    # dedicated grids
    if ded is not None and len(ded):
        dg = ded.copy()
        in_d = ded_of >= 0
        d_lab = ded_of[in_d]
        dg["households"] = np.bincount(
            d_lab, weights=u["households"].to_numpy()[in_d], minlength=len(dg)
        ).astype(np.int64)
        dg["population"] = (
            pd.Series(u["population"].to_numpy()[in_d])
            .groupby(d_lab)
            .sum(min_count=1)
            .reindex(range(len(dg)))
            .to_numpy()
        )
        dg["n_units"] = np.bincount(d_lab, minlength=len(dg)).astype(np.int64)
        if layers.communities is not None:
            comms = layers.communities.to_crs(crs)
            c_idx, d_idx = STRtree(comms.geometry.to_numpy()).query(
                shapely.point_on_surface(dg.geometry.to_numpy()), predicate="within"
            )
            cid = np.full(len(dg), "", dtype=object)
            cid[c_idx] = comms.index.astype(str).to_numpy()[d_idx]
            dg["community_id"] = cid
            dg["street_id"] = [comms["street_id"].get(c) if c else None for c in cid]
        else:
            dg["community_id"] = ""
            dg["street_id"] = None
        dg["kind"] = "dedicated"
        dg["in_band"] = True  # exempt from the household band
        dg["crosses_barrier"] = False
        dg["locked"] = False
        keep_cols = [*grids.columns.drop("geometry"), "dedicated_ids"]
        dg = dg[[c for c in keep_cols if c in dg.columns] + ["geometry"]]
        grids = gpd.GeoDataFrame(
            pd.concat([grids, dg], ignore_index=True), geometry="geometry", crs=crs
        )
    grids["compactness"] = polsby_popper(grids.geometry.to_numpy())

    # stable ids: per community, residential first, north to south then west to east
    cen = shapely.get_coordinates(
        shapely.point_on_surface(
            np.where(
                shapely.is_empty(grids.geometry.to_numpy()),
                shapely.Point(0, 0),
                grids.geometry.to_numpy(),
            )
        )
    )
    key = pd.DataFrame(
        {
            "c": grids["community_id"].astype(str),
            "k": (grids["kind"] != "residential").astype(int),
            "row": -np.round(cen[:, 1], 1),
            "col": np.round(cen[:, 0], 1),
        }
    )
    order_g = key.sort_values(["c", "k", "row", "col"], kind="stable").index.to_numpy()
    new_id = np.empty(len(grids), dtype=object)
    new_id[order_g] = [f"G{i + 1:05d}" for i in range(len(grids))]
    grids.insert(0, "grid_id", new_id)
    grids = grids.iloc[order_g].reset_index(drop=True)

    # parts and units
    part_grid = new_id[label]
    parts_gdf = gpd.GeoDataFrame(
        {
            "unit_id": ids[parts.unit],
            "part": parts.part,
            "households": parts.households,
            "population": parts.population,
            "grid_id": part_grid,
            "community_id": parts.community,
        },
        geometry=parts.cell,
        crs=crs,
    )
    unit_grid = np.empty(len(u), dtype=object)
    n_parts = np.zeros(len(u), dtype=np.int64)
    # a split unit is listed under the grid holding its largest part
    big_first = np.lexsort((-parts.households, parts.unit))
    seen = set()
    for k in big_first:
        uu = int(parts.unit[k])
        n_parts[uu] += 1
        if uu not in seen:
            unit_grid[uu] = part_grid[k]
            seen.add(uu)
    n_res_offset = n_res
    ded_units = np.flatnonzero(ded_of >= 0)
    unit_grid[ded_units] = new_id[n_res_offset + ded_of[ded_units]]
    n_parts[ded_units] = 1
    units_out = layers.units.copy()
    units_out["grid_id"] = unit_grid
    units_out["n_parts"] = n_parts

    # records name grids by their final ids; a split unit's record lists the grids of all
    # its parts and is filed under the grid holding its largest part
    records = []
    pos_of = {uid: i for i, uid in enumerate(ids)}
    for d in diags:
        if d.code == "unit_split":
            uu = pos_of[d.unit_ids[0]]
            own = dict.fromkeys(part_grid[parts.unit == uu].tolist())
            d = replace(d, grid_id=unit_grid[uu], params={**d.params, "grid_ids": list(own)})
        elif isinstance(d.grid_id, int):  # the grid's number while the pieces were split
            d = replace(d, grid_id=new_id[d.grid_id])
        records.append(d)
    log.info(
        "planned %d residential grids (%d in band) and %d dedicated grids",
        n_res,
        int(grids.loc[grids["kind"] == "residential", "in_band"].sum()),
        len(grids) - n_res,
    )
    return GridPartition(
        units=units_out, parts=parts_gdf, grids=grids, records=tuple(records), crs=crs
    )
