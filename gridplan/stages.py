"""The stages of a plan, each a public function: data in, a result out, options by keyword.

::

    prepare -> build_cells -> plan_grids -> plan_microgrids -> assign_codes -> apportion
            -> assemble

:func:`gridplan.pipeline.plan` chains them in one process; the Dask engine
(:mod:`gridplan.distributed`) runs :func:`build_cells`, :func:`plan_grids` and
:func:`plan_microgrids` per street and :func:`assign_codes`, :func:`apportion` and
:func:`assemble` once on the merged result; ``gridplan grids`` is the same chain without
micro-grids. This module imports neither of them, so neither imports the other's internals.

Follow one household: :func:`prepare` validates and normalises its unit; :func:`build_cells`
puts the unit in a dedicated area or gives it a cell; :func:`plan_grids` puts it (or each
part of an oversized building) in a grid; :func:`plan_microgrids` puts it, or each stairwell
slice, in a micro-grid; :func:`assign_codes` names both; :func:`apportion` counts its
residents and party members in each grid holding a part of it; :func:`assemble` writes the
codes onto the unit and builds the tables and the report.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypedDict

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from . import diagnostics as dg
from .codes import grid_codes, microgrid_codes
from .config import PlanRules
from .crs import check_planning_crs, working_crs
from .diagnostics import Diagnostic
from .errors import Interface
from .layers import Layers, check_plan_size, prepare_layers
from .partition.grids import (
    GridPartition,
    Progress,
    UnitCells,
    dedicated_areas,
    grids_from_cells,
    normalize_locks,
    unit_cells,
)
from .partition.microgrids import MicroPartition, partition_microgrids
from .previous import PreviousPlan
from .report import dedicated_residents_table, plan_report
from .validate import barrier_class_table

__all__ = [
    "GRID_COLUMNS",
    "HOME_MARGIN_M",
    "MICROGRID_COLUMNS",
    "UNIT_PART_COLUMNS",
    "Apportionment",
    "DedicatedHomes",
    "InputOptions",
    "Plan",
    "PlanCodes",
    "apportion",
    "assemble",
    "assign_codes",
    "build_cells",
    "dedicated_homes",
    "drop_unchanged",
    "order_records",
    "plan_grids",
    "plan_microgrids",
    "prepare",
]

log = logging.getLogger(__name__)


#: Columns of :attr:`Plan.grids` (before geometry), in order.
GRID_COLUMNS = (
    "grid_code",
    "community_code",
    "community_id",
    "street_id",
    "kind",
    "category",
    "name",
    "households",
    "population",
    "population_estimated",
    "party_members",
    "n_units",
    "n_microgrids",
    "in_band",
    "band_status",
    "deviation",
    "compactness",
    "crosses_barrier",
    "locked",
    "valid_from",
    "valid_to",
    "previous_code",
    "grid_id",
)
#: Columns of :attr:`Plan.unit_parts`, in order.
UNIT_PART_COLUMNS = ("unit_id", "part", "grid_code", "microgrid_code", "households")
#: Columns of :attr:`Plan.microgrids` (before geometry), in order.
MICROGRID_COLUMNS = (
    "microgrid_code",
    "grid_code",
    "community_id",
    "households",
    "population",
    "n_units",
    "in_band",
    "compactness",
)

#: Order of diagnostics rows within a grid: what the planner meets first comes first.
_LEVEL_ORDER = {"unit": 0, "grid": 1, "microgrid": 2}


@dataclass(frozen=True)
class Plan:
    """A complete grid plan. Frames are in the input CRS; see ``docs/contracts.md``.

    Attributes
    ----------
    units
        Normalised input units with ``grid_code`` (the grid holding the unit's largest part),
        ``microgrid_code`` (";"-joined when a building is split across micro-grids),
        ``grid_codes`` (every grid holding a part of it, ";"-joined) and ``n_parts``.
    grids
        Residential and dedicated grids with codes, counts, band flags and compactness.
        ``band_status`` is ``in_band``, ``out_of_band`` or ``exempt``: a dedicated grid is
        exempt from the household band, never "in band" (its ``in_band`` is False).
    microgrids
        Micro-grids of every residential grid.
    diagnostics
        Everything that could not be met, one row each: a
        :func:`gridplan.diagnostics.frame` table (columns
        :data:`gridplan.diagnostics.COLUMNS`; ``unit_ids`` are tuples). Re-render it in
        another language or interface with :func:`gridplan.diagnostics.render_frame`.
    report
        Planners' summary tables: ``grids``, ``microgrids``, ``communities``, ``streets``,
        ``totals``, and ``barriers``: the lines of each ``barrier_class`` and how they were used
        (``barrier``, ``road``, or ``unknown``: a class in neither rule list, used as a barrier).
    rules
        The rules used.
    layers
        The validated inputs (for maps: communities, barriers, dedicated areas).
    work_crs
        The metric CRS the plan was computed in.
    unit_parts
        Every place a unit's households are counted, one row per piece
        (:data:`UNIT_PART_COLUMNS`): ``unit_id``, ``part`` (1, 2, ... within the unit),
        ``grid_code``, ``microgrid_code`` (empty in a dedicated grid) and ``households``. A
        unit neither split across grids nor micro-grids has one row; a building split across
        grids or micro-grids has one per piece. The households of the rows of a grid are the
        grid's households, and those of a micro-grid the micro-grid's. None for a plan made
        by hand without it (:func:`unit_parts` then derives one row per unit).
    seed
        The seed the plan was made with (None when not known); :func:`gridplan.replan`
        re-plans with it unless told otherwise.
    """

    units: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    microgrids: gpd.GeoDataFrame
    diagnostics: pd.DataFrame
    report: dict[str, pd.DataFrame]
    rules: PlanRules
    layers: Layers
    work_crs: object
    unit_parts: pd.DataFrame | None = None
    seed: int | None = None


# ---------------------------------------------------------------------------------------------
# 1. prepare
# ---------------------------------------------------------------------------------------------


class InputOptions(TypedDict, total=False):
    """The context layers and input options of :func:`prepare`, as keyword arguments.

    :func:`gridplan.plan` documents each of them; an engine that plans the same input another
    way (:func:`gridplan.distributed.plan_distributed`) takes them as ``**inputs`` and hands
    them to :func:`prepare` unchanged, so they are spelled and documented once.
    """

    compounds: gpd.GeoDataFrame | None
    dedicated: gpd.GeoDataFrame | None
    barriers: gpd.GeoDataFrame | None
    communities: gpd.GeoDataFrame | None
    streets: gpd.GeoDataFrame | None
    roads: gpd.GeoDataFrame | None
    columns: Mapping[str, str] | None
    source_crs: Literal["wgs84", "gcj02", "bd09"] | None
    fix_invalid: bool


def prepare(
    units: gpd.GeoDataFrame | Layers,
    *,
    compounds: gpd.GeoDataFrame | None = None,
    dedicated: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    rules: PlanRules | None = None,
    columns: Mapping[str, str] | None = None,
    source_crs: Literal["wgs84", "gcj02", "bd09"] | None = None,
    fix_invalid: bool = False,
    interface: Interface = "python",
) -> Layers:
    """Validate and normalise the layers (every problem raised at once).

    Only the dedicated categories named in ``rules.dedicated_categories`` are kept (all when
    none are named). Prepared :class:`~gridplan.layers.Layers` are returned as they are, after
    the check that the plan they imply can be coded and planned in bounded time.

    Parameters
    ----------
    units, compounds, dedicated, barriers, communities, streets, roads
        The layers (README, "Layer model").
    rules
        :class:`~gridplan.config.PlanRules` (dedicated categories, the band's balance).
    columns, source_crs, fix_invalid
        As for :func:`gridplan.prepare_layers`.
    interface
        Whose words the fixes use: ``"python"``, ``"cli"`` or ``"app"``.

    Returns
    -------
    Layers

    Raises
    ------
    ValidationError
        Every problem of every layer.
    """
    rules = rules or PlanRules()
    if isinstance(units, Layers):
        check_plan_size(units, rules=rules)
        return units
    if dedicated is not None and rules.dedicated_categories and "category" in dedicated:
        dedicated = dedicated[dedicated["category"].isin(rules.dedicated_categories)]
    return prepare_layers(
        units,
        compounds=compounds,
        dedicated=dedicated,
        barriers=barriers,
        communities=communities,
        streets=streets,
        roads=roads,
        columns=columns,
        source_crs=source_crs,
        balance=rules.grid.balance,
        fix_invalid=fix_invalid,
        rules=rules,
        interface=interface,
    )


# ---------------------------------------------------------------------------------------------
# 2. cells, 3. grids, 4. micro-grids
# ---------------------------------------------------------------------------------------------


#: Ground a home inside a dedicated area keeps (metres): its footprint grown by this much, or
#: a disc of twice this radius round a point unit, is taken out of the dedicated area.
HOME_MARGIN_M = 5.0


@dataclass(frozen=True)
class DedicatedHomes:
    """Homes (units with households or residents) inside dedicated areas.

    Attributes
    ----------
    areas
        The merged dedicated areas (:func:`gridplan.partition.grids.dedicated_areas`, working
        CRS): ``dedicated_ids``, ``name``, ``category``, geometry.
    area_of
        Per unit, in the order of ``layers.units``: the position in ``areas`` of the area
        holding its point on surface (as the cells stage tests it), ``-1`` for units outside
        every area and for units without households or residents.
    """

    areas: gpd.GeoDataFrame | None
    area_of: np.ndarray


def dedicated_homes(
    layers: Layers, *, rules: PlanRules | None = None, work_crs: object = None
) -> DedicatedHomes:
    """Which homes lie inside which dedicated area, tested as the cells stage tests it.

    Parameters
    ----------
    layers
        :func:`prepare`'s layers.
    rules
        :class:`~gridplan.config.PlanRules` (``merge_dedicated``, ``grid.dedicated_merge_m``).
    work_crs
        The metric CRS; default the units' working CRS.

    Returns
    -------
    DedicatedHomes
    """
    rules = rules or PlanRules()
    if work_crs is not None:
        work_crs = check_planning_crs(work_crs)
    n = len(layers.units)
    if layers.dedicated is None or len(layers.dedicated) == 0 or n == 0:
        return DedicatedHomes(areas=None, area_of=np.full(n, -1, dtype=np.int64))
    crs = work_crs if work_crs is not None else working_crs(layers.units)
    areas = dedicated_areas(
        layers, crs, merge_m=rules.grid.dedicated_merge_m, merge=rules.merge_dedicated
    )
    area_of = np.full(n, -1, dtype=np.int64)
    if areas is None or len(areas) == 0:
        return DedicatedHomes(areas=areas, area_of=area_of)
    u = layers.units.to_crs(crs)
    lived = (u["households"].to_numpy(dtype=float) > 0) | (
        np.nan_to_num(u["population"].to_numpy(dtype=float)) > 0
    )
    rep = shapely.point_on_surface(u.geometry.to_numpy())
    u_idx, a_idx = STRtree(areas.geometry.to_numpy()).query(rep, predicate="within")
    _, first = np.unique(u_idx, return_index=True)
    area_of[u_idx[first]] = a_idx[first]
    area_of[~lived] = -1
    return DedicatedHomes(areas=areas, area_of=area_of)


def _open_dedicated(layers: Layers, homes: DedicatedHomes, crs: object) -> Layers:
    """The layers with every dedicated polygon opened round the homes inside it, so each home
    gets a cell of its own and the dedicated grid keeps the rest of its area.

    A home's ground is its footprint grown by :data:`HOME_MARGIN_M` (the hull round a
    footprint of several parts; a disc of twice that radius round a point unit). Where the
    homes' ground would take more than half of a polygon, the area is drawn on the homes
    rather than round them (a census block holding a school, a tower that is both offices
    and flats): they take only that disc round their representative points, and the area
    keeps the rest. Polygons no home touches keep their geometry exactly.
    """
    inside = np.flatnonzero(homes.area_of >= 0)
    if inside.size == 0 or layers.dedicated is None:
        return layers
    g = layers.units.geometry.to_crs(crs).to_numpy()[inside]
    areal = np.isin(shapely.get_type_id(g), (3, 6))
    disc = shapely.buffer(shapely.point_on_surface(g), 2 * HOME_MARGIN_M, quad_segs=4)
    ground = np.where(areal, shapely.buffer(g, HOME_MARGIN_M, quad_segs=2), disc)
    # one piece per home, so its cell is one piece: a footprint of several buildings (one
    # OSM relation) keeps the hull round them
    ground = shapely.make_valid(ground)
    multi = shapely.get_num_geometries(ground) > 1
    ground[multi] = shapely.convex_hull(ground[multi])
    ded = layers.dedicated.to_crs(crs)
    geoms = ded.geometry.to_numpy().copy()
    d_idx, h_idx = STRtree(ground).query(geoms, predicate="intersects")
    if d_idx.size == 0:
        return layers
    order = np.lexsort((h_idx, d_idx))
    d_idx, h_idx = d_idx[order], h_idx[order]
    for d in np.unique(d_idx).tolist():
        mine = h_idx[d_idx == d]
        holes = shapely.union_all(ground[mine])
        if shapely.area(shapely.intersection(geoms[d], holes)) > 0.5 * shapely.area(geoms[d]):
            holes = shapely.union_all(disc[mine])
        geoms[d] = shapely.make_valid(shapely.difference(geoms[d], holes))
    opened = gpd.GeoSeries(geoms, index=ded.index, crs=crs).to_crs(layers.dedicated.crs)
    changed = np.zeros(len(geoms), dtype=bool)
    changed[np.unique(d_idx)] = True
    out = layers.dedicated.copy()
    out_geoms = out.geometry.to_numpy().copy()
    out_geoms[changed] = opened.to_numpy()[changed]
    out = out.set_geometry(gpd.GeoSeries(out_geoms, index=out.index, crs=out.crs))
    return replace(layers, dedicated=out)


def build_cells(
    layers: Layers, *, rules: PlanRules | None = None, work_crs: object = None
) -> UnitCells:
    """Dedicated areas take their units; residential units get space-filling cells.

    The ground every grid is drawn on, and the graph's nodes (see
    :func:`gridplan.partition.grids.unit_cells`). Dedicated areas of one category near each
    other are merged unless ``rules.merge_dedicated`` is False. With
    ``rules.dedicated_residents == "residential"`` (the default) a home inside a dedicated
    area is residential: the area is opened round it (:data:`HOME_MARGIN_M`), it gets a cell
    and is planned into a grid and micro-grids with its nearest neighbours outside the area
    (``UnitCells.enclave``); the dedicated grid keeps the rest of its area. With
    ``"dedicated"`` the dedicated grid takes it.

    Parameters
    ----------
    layers
        :func:`prepare`'s layers.
    rules
        :class:`~gridplan.config.PlanRules`.
    work_crs
        The metric CRS; default the units' working CRS (:func:`gridplan.crs.working_crs`).

    Returns
    -------
    UnitCells
    """
    rules = rules or PlanRules()
    if work_crs is not None:  # Web Mercator or degrees would give wrong distances and areas
        work_crs = check_planning_crs(work_crs)
    homes = None
    if rules.dedicated_residents == "residential" and layers.dedicated is not None:
        crs = work_crs if work_crs is not None else working_crs(layers.units)
        homes = dedicated_homes(layers, rules=rules, work_crs=crs)
        layers = _open_dedicated(layers, homes, crs)
    cells = unit_cells(
        layers, rules=rules.grid, work_crs=work_crs, merge_dedicated=rules.merge_dedicated
    )
    if homes is not None and (homes.area_of >= 0).any():
        ids = layers.units.index.astype(str).to_numpy()[homes.area_of >= 0]
        cells = replace(cells, enclave=np.isin(cells.ids, ids))
    return cells


def plan_grids(
    cells: UnitCells,
    *,
    rules: PlanRules | None = None,
    locks: Mapping[str, object] | pd.Series | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    previous: PreviousPlan | None = None,
) -> GridPartition:
    """Residential and dedicated grids over the cells.

    Parameters
    ----------
    cells
        :func:`build_cells`'s result.
    rules
        :class:`~gridplan.config.PlanRules` (``rules.grid`` is used).
    locks
        ``unit_id -> grid label`` assignments kept exactly as given.
    seed
        Same inputs and seed give the same grids.
    progress
        ``progress(done, total, message)`` as pieces are planned.
    previous
        The previous plan (:func:`gridplan.previous.read_previous`): its grids still valid
        are kept, the rest re-planned close to it (:mod:`gridplan.partition.continuity`);
        units its boundaries split are reported.

    Returns
    -------
    GridPartition
        Grids, unit parts and units with internal ``grid_id``; diagnostics as records.

    Raises
    ------
    ValidationError
        Locks naming units that are not in the layers.
    """
    rules = rules or PlanRules()
    result = grids_from_cells(
        cells,
        rules=rules.grid,
        locks=normalize_locks(locks, cells.order),
        seed=seed,
        progress=progress,
        previous=previous.grid if previous is not None else None,
        previous_parts=previous.parts if previous is not None else None,
        previous_release=previous.release if previous is not None else frozenset(),
    )
    if previous is None or not len(previous.split):
        return result
    grid_of = result.units["grid_id"]
    split = [
        Diagnostic(
            level="unit",
            code="previous_unit_split",
            severity="info",
            grid_id=grid_of[str(uid)],
            unit_ids=(str(uid),),
            params={"unit": str(uid), "n_grids": int(n), "old": str(code)},
            fix="previous_split_check",
        )
        for uid, code, n in previous.split[["unit_id", "grid_code", "n_grids"]].itertuples(
            index=False
        )
        if str(uid) in grid_of.index
    ]
    return replace(result, records=(*result.records, *split))


def plan_microgrids(
    partition: GridPartition,
    *,
    rules: PlanRules | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> MicroPartition:
    """Micro-grids inside every residential grid (see
    :func:`gridplan.partition.microgrids.partition_microgrids`).

    Parameters
    ----------
    partition
        :func:`plan_grids`'s result.
    rules
        :class:`~gridplan.config.PlanRules` (``rules.microgrid`` is used).
    seed
        Same inputs and seed give the same micro-grids.
    progress
        ``progress(done, total, message)`` as grids are split.

    Returns
    -------
    MicroPartition
    """
    rules = rules or PlanRules()
    return partition_microgrids(
        partition.parts,
        partition.grids,
        partition.units,
        rules=rules.microgrid,
        seed=seed,
        progress=progress,
    )


# ---------------------------------------------------------------------------------------------
# 5. codes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanCodes:
    """Public codes by internal id.

    Attributes
    ----------
    grid
        ``grid_id -> grid_code``.
    community
        ``grid_id -> community_code`` (of the grid's community).
    microgrid
        ``microgrid_id -> microgrid_code``.
    stand_ins
        ``stand-in grid_id -> community_code`` for the stand-ins passed to
        :func:`assign_codes`.
    """

    grid: dict[str, str]
    community: dict[str, str]
    microgrid: dict[str, str]
    stand_ins: dict[str, str]


def drop_unchanged(grids: GridPartition, codes: PlanCodes) -> GridPartition:
    """An old grid re-planned into exactly the same units under the same code was not
    changed: its ``previous_replanned`` record is dropped, so re-planning unchanged data
    from itself gives the same diagnostics."""
    code_of = codes.grid
    members = grids.parts.groupby("grid_id")["unit_id"].agg(lambda s: tuple(sorted(set(s))))
    by_code = {code_of[g]: m for g, m in members.items() if g in code_of}
    keep = [
        d
        for d in grids.records
        if not (d.code == "previous_replanned" and by_code.get(str(d.grid_code)) == d.unit_ids)
    ]
    return replace(grids, records=tuple(keep))


def assign_codes(
    partition: GridPartition,
    micro: MicroPartition | None = None,
    *,
    rules: PlanRules | None = None,
    communities: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    stand_ins: gpd.GeoDataFrame | None = None,
    previous: PreviousPlan | None = None,
) -> PlanCodes:
    """Grid and micro-grid codes (:func:`gridplan.codes.grid_codes`,
    :func:`gridplan.codes.microgrid_codes`) for every grid and micro-grid.

    Parameters
    ----------
    partition
        :func:`plan_grids`'s result (for a Dask run: the merged parts).
    micro
        :func:`plan_microgrids`'s result; None codes grids only.
    rules
        :class:`~gridplan.config.PlanRules` (``rules.codes``).
    communities, streets
        The layers whose ids are numbered (:attr:`Layers.communities`, ``.streets``).
    stand_ins
        Extra grids (``grid_id``, ``kind``, ``community_id``, ``street_id``, geometry in the
        partition's CRS) that are numbered with the rest but belong to no plan: one per
        community of a part that failed, so the others keep their complete-plan codes.
    previous
        The previous plan (:func:`gridplan.previous.read_previous`): a locked grid whose
        label is a previous code keeps it; a re-planned grid that holds most households of
        one previous grid inherits its code; the other grids take the lowest sequence numbers
        of their community that no previous code uses, so a retired code is never reused.

    Returns
    -------
    PlanCodes
    """
    rules = rules or PlanRules()
    cols = ["grid_id", "kind", "community_id", "street_id", "geometry"]
    grids = partition.grids
    if stand_ins is not None and len(stand_ins):
        grids = gpd.GeoDataFrame(
            pd.concat([grids[cols], stand_ins[cols]], ignore_index=True),
            geometry="geometry",
            crs=partition.grids.crs,
        )
    codes = grid_codes(grids, rules=rules.codes, communities=communities, streets=streets)
    if previous is not None:
        codes = _keep_codes(codes, partition, previous, rules=rules)
    ids = grids["grid_id"].to_numpy()
    n_real = len(partition.grids)
    grid_of = dict(zip(ids[:n_real], codes["grid_code"].to_numpy()[:n_real], strict=True))
    comm_of = dict(zip(ids[:n_real], codes["community_code"].to_numpy()[:n_real], strict=True))
    stand = dict(zip(ids[n_real:], codes["community_code"].to_numpy()[n_real:], strict=True))
    micro_of: dict[str, str] = {}
    if micro is not None and len(micro.microgrids):
        mg = micro.microgrids.copy()
        mg["grid_code"] = mg["grid_id"].map(grid_of)
        micro_of = dict(
            zip(mg["microgrid_id"], microgrid_codes(mg, rules=rules.codes).to_numpy(), strict=True)
        )
        if previous is not None and len(previous.micro_parts):
            micro_of = _keep_micro_codes(micro_of, mg, micro.slices, previous, rules=rules)
    return PlanCodes(grid=grid_of, community=comm_of, microgrid=micro_of, stand_ins=stand)


def _keep_codes(
    codes: pd.DataFrame,
    partition: GridPartition,
    previous: PreviousPlan,
    *,
    rules: PlanRules,
) -> pd.DataFrame:
    """Locked grids labelled with a previous code keep it; the others renumber into the
    lowest free sequence numbers of their community (kind range kept), in their
    reading-order rank, never reusing a previous code."""
    out = codes.copy()
    real = partition.grids
    n_real = len(real)
    kept = np.zeros(len(out), dtype=bool)
    label = real["name"].astype(str).to_numpy() if "name" in real.columns else None
    locked = real["locked"].to_numpy(dtype=bool) if "locked" in real.columns else None
    kept_code = (
        real["kept_code"].to_numpy(dtype=object)
        if "kept_code" in real.columns
        else np.full(n_real, None, dtype=object)
    )
    grid_code = out["grid_code"].to_numpy(dtype=object).copy()
    for i in range(n_real):
        c = kept_code[i]
        if isinstance(c, str) and c:
            grid_code[i], kept[i] = c, True
        elif label is not None and locked is not None and locked[i] and label[i] in previous.codes:
            grid_code[i], kept[i] = label[i], True
    # a dedicated area keeps its old grid's code even without households
    if previous.dedicated and "dedicated_ids" in real.columns:
        taken0 = {grid_code[i] for i in np.flatnonzero(kept)}
        for i, d in enumerate(real["dedicated_ids"].tolist()):
            c = previous.dedicated.get(str(d)) if isinstance(d, str) else None
            if not kept[i] and c is not None and c not in taken0:
                grid_code[i], kept[i] = c, True
                taken0.add(c)
    digits = rules.codes.grid_digits
    taken = {grid_code[i] for i in np.flatnonzero(kept)}
    # a re-planned grid holding most households of an old grid carries its code on
    u = partition.units
    old = u.index.map(lambda i: previous.grid.get(str(i)))
    hh = pd.DataFrame(
        {"old": old, "gid": u["grid_id"].to_numpy(), "hh": u["households"].to_numpy()}
    ).dropna()
    flows = hh.groupby(["old", "gid"], sort=True)["hh"].sum().reset_index()
    old_total = flows.groupby("old")["hh"].sum()
    row_of = {g: i for i, g in enumerate(real["grid_id"].to_numpy())}
    best = flows.sort_values(["hh", "old", "gid"], ascending=[False, True, True])
    for o, g, h in best[["old", "gid", "hh"]].itertuples(index=False):
        r = row_of.get(g)
        if r is None or kept[r] or o in taken or 2 * h <= old_total[o]:
            continue
        grid_code[r], kept[r] = o, True
        taken.add(o)
    used = set(previous.codes) | taken
    comm = out["community_code"].to_numpy(dtype=object)
    # rank of each fresh grid by its fresh code keeps reading order among new grids
    fresh = sorted(np.flatnonzero(~kept), key=lambda i: str(codes["grid_code"].iloc[i]))
    for f in fresh:
        seq = int(str(codes["grid_code"].iloc[f])[-digits:])
        start = rules.codes.dedicated_start if seq >= rules.codes.dedicated_start else 1
        n = start
        while f"{comm[f]}{str(n).zfill(digits)}" in used:
            n += 1
        grid_code[f] = f"{comm[f]}{str(n).zfill(digits)}"
        used.add(grid_code[f])
    out["grid_code"] = pd.Series(grid_code, index=out.index, dtype=object)
    return out


def _keep_micro_codes(
    micro_of: dict[str, str],
    mg: pd.DataFrame,
    slices: pd.DataFrame,
    previous: PreviousPlan,
    *,
    rules: PlanRules,
) -> dict[str, str]:
    """Micro-grids follow the grid rule: one holding most households of an old micro-grid of
    the same grid code carries its code on; the others take the lowest sequence numbers of
    their grid that no old micro-grid used, in reading order."""
    digits = rules.codes.microgrid_digits
    old = previous.micro_parts
    hh_old = pd.to_numeric(old["households"], errors="coerce").fillna(1.0)
    rows = pd.DataFrame(
        {
            "u": old["unit_id"].astype(str).to_numpy(),
            "p": pd.to_numeric(old["part"], errors="coerce").fillna(0).to_numpy(),
            "o": old["microgrid_code"].astype(str).to_numpy(),
            "h": hh_old.to_numpy(),
        }
    ).sort_values(["u", "p"], kind="stable")
    sl = pd.DataFrame(
        {
            "u": slices["unit_id"].astype(str).to_numpy(),
            "m": slices["microgrid_id"].to_numpy(),
            "n": slices["households"].to_numpy(dtype=float),
        }
    )
    # per unit, one row per micro-grid (slices of one building in one micro-grid together)
    rows = rows.groupby(["u", "o"], sort=False).agg(p=("p", "min"), h=("h", "sum")).reset_index()
    rows = rows.sort_values(["u", "o"], kind="stable")
    sl = sl.groupby(["u", "m"], sort=False).agg(n=("n", "sum")).reset_index()
    # both sides in code order (the fresh code here), as an equivalency file lists them
    sl["k"] = sl["m"].map(micro_of)
    sl = sl.sort_values(["u", "k"], kind="stable")
    # a building cut into as many pieces as before keeps each piece's micro-grid, in order;
    # otherwise its new pieces share its old micro-grids in proportion
    rows["r"] = rows.groupby("u").cumcount()
    sl["r"] = sl.groupby("u").cumcount()
    same = rows.groupby("u").size().eq(sl.groupby("u").size()).reindex(sl["u"].unique())
    paired = set(same.index[same.fillna(False).to_numpy(dtype=bool)])
    a = sl[sl["u"].isin(paired)].merge(rows[["u", "r", "o"]], on=["u", "r"])
    a = a.assign(f=a["n"])
    share = rows.groupby(["u", "o"], sort=True)["h"].sum().reset_index()
    share["s"] = share["h"] / share.groupby("u")["h"].transform("sum")
    b = sl[~sl["u"].isin(paired)].merge(share[["u", "o", "s"]], on="u", how="inner")
    b = b.assign(f=b["n"] * b["s"])
    flows = pd.concat([a[["o", "m", "f"]], b[["o", "m", "f"]]], ignore_index=True)
    flows = flows.groupby(["o", "m"], sort=True)["f"].sum().reset_index()
    flows = flows.rename(columns={"m": "microgrid_id"})
    old_total = rows.groupby("o")["h"].sum()
    grid_of_mg = dict(zip(mg["microgrid_id"], mg["grid_code"].astype(str), strict=True))
    out = dict(micro_of)
    kept: set[str] = set()
    taken: set[str] = set()
    best = flows.sort_values(["f", "o", "microgrid_id"], ascending=[False, True, True])
    for o, m, f in best[["o", "microgrid_id", "f"]].itertuples(index=False):
        o = str(o)
        g = grid_of_mg.get(m)
        if m in kept or o in taken or g is None or o[:-digits] != g or 2 * f <= old_total[o]:
            continue
        out[m] = o
        kept.add(m)
        taken.add(o)
    used = {str(c) for c in previous.micro_parts["microgrid_code"]} | taken
    for m in sorted((m for m in micro_of if m not in kept), key=lambda m: micro_of[m]):
        g = grid_of_mg[m]
        n = 1
        while f"{g}{str(n).zfill(digits)}" in used:
            n += 1
        out[m] = f"{g}{str(n).zfill(digits)}"
        used.add(out[m])
    return out


#: Columns of a plan's ``versions`` table.
VERSION_COLUMNS = ("grid_code", "valid_from", "valid_to", "previous_code", "version_status")


def versions_table(grids: pd.DataFrame, retired: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``versions`` table: the plan's grids (``current``), then retired grids by code."""
    cur = pd.DataFrame(grids[["grid_code", "valid_from", "valid_to", "previous_code"]]).assign(
        version_status="current"
    )
    frames = [cur]
    if retired is not None and len(retired):
        frames.append(retired.sort_values("grid_code", kind="stable"))
    out = pd.concat(frames, ignore_index=True)[list(VERSION_COLUMNS)]
    return out.astype(object).where(out.notna(), None)


# ---------------------------------------------------------------------------------------------
# 6. apportion
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Apportionment:
    """Residents and party members per grid, counted from unit *parts*.

    Attributes
    ----------
    pieces
        One row per (unit, grid) piece: ``unit_id``, ``grid_id``, ``households``,
        ``n_parts``, ``population``, ``estimated`` (residents estimated from households),
        ``party_members`` (whole people; NaN where the unit does not say).
    grids
        Indexed by ``grid_id``: ``population``, ``population_estimated``,
        ``party_members`` (NaN where no unit of the grid says).
    """

    pieces: pd.DataFrame
    grids: pd.DataFrame


def apportion(partition: GridPartition, *, rules: PlanRules | None = None) -> Apportionment:
    """Residents and party members per grid.

    A building split across grids contributes to each grid in proportion to the households
    of its parts; party members are shared out as whole people by largest remainder.
    Residents are estimated from households (``rules.household_size``) where not given, and
    flagged.

    Parameters
    ----------
    partition
        :func:`plan_grids`'s result.
    rules
        :class:`~gridplan.config.PlanRules` (``household_size``).

    Returns
    -------
    Apportionment
    """
    rules = rules or PlanRules()
    shares = _unit_shares(partition)
    u = partition.units
    unit_hh = u["households"].reindex(shares["unit_id"]).to_numpy(dtype=float)
    frac = np.where(unit_hh > 0, shares["households"].to_numpy() / np.maximum(unit_hh, 1), 1.0)
    frac = np.where(unit_hh > 0, frac, 1.0 / shares["n_parts"].to_numpy())
    pop = u["population"].reindex(shares["unit_id"]).to_numpy(dtype=float)
    shares["estimated"] = np.isnan(pop)
    shares["population"] = np.where(
        np.isnan(pop), shares["households"].to_numpy() * rules.household_size, pop * frac
    )
    shares["party_members"] = whole_people(
        u["party_members"].reindex(shares["unit_id"]).to_numpy(dtype=float),
        frac,
        shares["unit_id"].to_numpy(),
    )
    by_grid = shares.groupby("grid_id")
    grids = pd.DataFrame(
        {
            "population": by_grid["population"].sum(),
            "population_estimated": by_grid["estimated"].any(),
            "party_members": by_grid["party_members"].sum(min_count=1),
        }
    )
    return Apportionment(pieces=shares, grids=grids)


def whole_people(total: np.ndarray, frac: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """Whole people per piece of a unit by largest remainder (NaN stays NaN).

    Examples
    --------
    >>> whole_people(np.array([5.0, 5.0]), np.array([0.5, 0.5]), np.array(["a", "a"]))
    array([3., 2.])
    """
    raw = total * frac
    base = np.floor(raw)
    rem = raw - base
    df = pd.DataFrame({"unit": unit, "base": base, "rem": rem, "total": total})
    short = df.groupby("unit")["total"].transform("first") - df.groupby("unit")["base"].transform(
        "sum"
    )
    # rank remainders within each unit, largest first (ties by position: deterministic)
    rank = (
        df.sort_values(["unit", "rem"], ascending=[True, False], kind="stable")
        .groupby("unit")
        .cumcount()
    )
    extra = (rank.reindex(df.index).to_numpy() < np.rint(short.to_numpy())).astype(float)
    return np.where(np.isnan(total), np.nan, base + extra)


def _unit_shares(gp: GridPartition) -> pd.DataFrame:
    """One row per (unit, grid) piece: residential unit parts, plus whole dedicated units."""
    parts = pd.DataFrame(
        {
            "unit_id": gp.parts["unit_id"].to_numpy(),
            "households": gp.parts["households"].to_numpy(dtype=float),
            "grid_id": gp.parts["grid_id"].to_numpy(),
        }
    )
    in_parts = gp.units.index.astype(str).isin(parts["unit_id"])
    ded = gp.units.loc[~in_parts]
    whole = pd.DataFrame(
        {
            "unit_id": ded.index.astype(str),
            "households": ded["households"].to_numpy(dtype=float),
            "grid_id": ded["grid_id"].to_numpy(),
        }
    )
    out = pd.concat([parts, whole], ignore_index=True)
    out["n_parts"] = out.groupby("unit_id")["unit_id"].transform("size")
    return out


# ---------------------------------------------------------------------------------------------
# 7. assemble
# ---------------------------------------------------------------------------------------------


def _no_microgrids(crs: object) -> MicroPartition:
    cols = ("microgrid_id", "grid_id", "community_id", "households", "population", "n_units")
    return MicroPartition(
        microgrids=gpd.GeoDataFrame(
            {**{c: [] for c in cols}, "in_band": [], "compactness": []}, geometry=[], crs=crs
        ),
        slices=pd.DataFrame({"unit_id": [], "microgrid_id": []}, dtype=object),
        records=(),
    )


def _unit_pieces(partition: GridPartition, micro: MicroPartition, codes: PlanCodes) -> pd.DataFrame:
    """:attr:`Plan.unit_parts`: one row per (unit, grid part, micro-grid) piece, units in
    input order, pieces by grid part then micro-grid code, numbered from 1 within a unit."""
    p = partition.parts
    parts = pd.DataFrame(
        {
            "unit_id": p["unit_id"].astype(str).to_numpy(dtype=object),
            "gpart": p["part"].to_numpy(dtype=np.int64),
            "grid_id": p["grid_id"].to_numpy(dtype=object),
            "microgrid_id": None,
            "households": p["households"].to_numpy(dtype=np.int64),
        }
    )
    sl = micro.slices
    frames = []
    if len(sl):
        slices = (
            pd.DataFrame(
                {
                    "unit_id": sl["unit_id"].astype(str).to_numpy(dtype=object),
                    "gpart": sl["part"].to_numpy(dtype=np.int64),
                    "grid_id": sl["grid_id"].to_numpy(dtype=object),
                    "microgrid_id": sl["microgrid_id"].to_numpy(dtype=object),
                    "households": sl["households"].to_numpy(dtype=np.int64),
                }
            )
            .groupby(["unit_id", "gpart", "grid_id", "microgrid_id"], sort=True)["households"]
            .sum()
            .reset_index()
        )
        frames.append(slices)
        # parts of grids without micro-grids (a plan of grids only has none)
        sliced = pd.MultiIndex.from_frame(slices[["unit_id", "gpart"]])
        parts = parts[~pd.MultiIndex.from_frame(parts[["unit_id", "gpart"]]).isin(sliced)]
    frames.append(parts)
    # units in no part: in a dedicated grid, or in a part of a run that failed (no grid)
    u = partition.units
    ids = u.index.astype(str)
    whole = ~ids.isin(p["unit_id"].astype(str))
    frames.append(
        pd.DataFrame(
            {
                "unit_id": ids[whole].to_numpy(dtype=object),
                "gpart": 0,
                "grid_id": u["grid_id"].to_numpy(dtype=object)[whole],
                "microgrid_id": None,
                "households": u["households"].to_numpy(dtype=np.int64)[whole],
            }
        )
    )
    rows = pd.concat([f for f in frames if len(f)] or frames[-1:], ignore_index=True)
    rows["grid_code"] = rows["grid_id"].map(codes.grid).astype(object)
    rows["microgrid_code"] = rows["microgrid_id"].map(codes.microgrid).astype(object)
    pos = pd.Series(np.arange(len(ids)), index=ids)
    rows["_pos"] = rows["unit_id"].map(pos).to_numpy(dtype=np.int64)
    rows["_micro"] = rows["microgrid_code"].fillna("").astype(str)
    rows = rows.sort_values(["_pos", "gpart", "_micro"], kind="stable").reset_index(drop=True)
    rows["part"] = rows.groupby("_pos").cumcount().to_numpy(dtype=np.int64) + 1
    rows["households"] = rows["households"].astype(np.int64)
    out = rows[list(UNIT_PART_COLUMNS)].copy()
    return out.where(out.notna(), None).astype({"part": np.int64, "households": np.int64})


def _dedicated_residents(
    layers: Layers,
    partition: GridPartition,
    pieces: pd.DataFrame,
    codes: PlanCodes,
    rules: PlanRules,
) -> tuple[list[dict[str, object]], list[Diagnostic]]:
    """One report row and one diagnostic per dedicated area with homes in it: where its
    households went and who serves them.

    With ``dedicated_residents == "residential"`` the homes were planned into residential
    grids (an ``info`` record naming them); with ``"dedicated"`` they stay in the dedicated
    grid without a micro-grid (a ``warning``: a planner must confirm who serves them).
    """
    g = partition.grids
    ded = g[g["kind"] == "dedicated"]
    u = partition.units
    ids = u.index.astype(str).to_numpy(dtype=object)
    hh = u["households"].to_numpy(dtype=np.int64)
    lived = (hh > 0) | (np.nan_to_num(u["population"].to_numpy(dtype=float)) > 0)
    community = u["community_id"].astype(object).to_numpy()
    rows: list[dict[str, object]] = []
    records: list[Diagnostic] = []
    if rules.dedicated_residents == "residential":
        homes = dedicated_homes(layers, rules=rules, work_crs=partition.crs)
        if homes.areas is None or not (homes.area_of >= 0).any():
            return rows, records
        grid_of_raw: dict[str, object] = {}
        if "dedicated_ids" in ded.columns:
            for gid, joined in zip(ded["grid_id"], ded["dedicated_ids"], strict=True):
                for raw in str(joined).split(";"):
                    grid_of_raw.setdefault(raw, gid)
        for a in np.unique(homes.area_of[homes.area_of >= 0]).tolist():
            members = homes.area_of == a
            area = homes.areas.iloc[a]
            raw_ids = str(area["dedicated_ids"]).split(";")
            gid = next((grid_of_raw[r] for r in raw_ids if r in grid_of_raw), None)
            mine = pieces[pieces["unit_id"].isin(set(ids[members]))]
            held = sorted({str(c) for c in mine["grid_code"] if c is not None})
            comm = ded.loc[ded["grid_id"] == gid, "community_id"]
            rows.append(
                {
                    "grid_code": codes.grid.get(str(gid), "") if gid is not None else "",
                    "community": str(comm.iloc[0]) if len(comm) else _text(community[members]),
                    "dedicated_ids": ";".join(raw_ids),
                    "category": str(area["category"]),
                    "name": str(area["name"] or ""),
                    "households": int(hh[members].sum()),
                    "n_units": int(members.sum()),
                    "unit_ids": tuple(ids[members]),
                    "planned_as": "residential",
                    "grid_codes": ";".join(held),
                    "microgrids": int(mine["microgrid_code"].dropna().nunique()),
                    "served_by": "grid_workers",
                }
            )
            records.append(
                Diagnostic(
                    level="grid",
                    code="dedicated_residents_planned" if gid else "dedicated_area_all_homes",
                    severity="info",
                    community_id=str(rows[-1]["community"]) or None,
                    # the dedicated grid; the first grid holding them when none is kept
                    grid_code=str(rows[-1]["grid_code"]) or (held[0] if held else None),
                    unit_ids=tuple(ids[members]),
                    households=int(hh[members].sum()),
                    params={
                        "area": str(area["name"] or "") or ";".join(raw_ids),
                        "category": str(area["category"]),
                        "grids": ", ".join(held),
                        "grid_codes": held,
                    },
                    fix="keep_dedicated_residents",
                )
            )
        return rows, records
    unit_grid = u["grid_id"].to_numpy(dtype=object)
    for row in ded.itertuples(index=False):
        members = (unit_grid == row.grid_id) & lived
        if not members.any():
            continue
        code = codes.grid.get(row.grid_id, "")
        name = str(getattr(row, "name", "") or "")
        rows.append(
            {
                "grid_code": code,
                "community": str(row.community_id or ""),
                "dedicated_ids": str(getattr(row, "dedicated_ids", "") or ""),
                "category": str(row.category),
                "name": name,
                "households": int(hh[members].sum()),
                "n_units": int(members.sum()),
                "unit_ids": tuple(ids[members]),
                "planned_as": "dedicated",
                "grid_codes": code,
                "microgrids": 0,
                "served_by": "dedicated_contact",
            }
        )
        records.append(
            Diagnostic(
                level="grid",
                code="dedicated_residents",
                community_id=str(row.community_id or "") or None,
                grid_code=code or None,
                unit_ids=tuple(ids[members]),
                households=int(hh[members].sum()),
                params={"area": name or code, "category": str(row.category)},
                fix="plan_dedicated_residents",
            )
        )
    return rows, records


def _text(values: np.ndarray) -> str:
    """The first non-missing value as text ("" when there is none)."""
    for v in values:
        if v is not None and not (isinstance(v, float) and np.isnan(v)):
            return str(v)
    return ""


def order_records(items: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in the order a plan lists them: by grid code (records of no grid last),
    then unit, grid, micro-grid level, then code and units. The order depends on the records
    only, never on which stage, part or worker produced them first."""

    def key(d: Diagnostic) -> tuple:
        return (
            d.grid_code is None,
            d.grid_code or "",
            _LEVEL_ORDER.get(d.level, len(_LEVEL_ORDER)),
            d.code,
            d.community_id or "",
            d.unit_ids,
            d.households if d.households is not None else -1,
        )

    return sorted(items, key=key)


def _code_notes(codes: PlanCodes, rules: PlanRules) -> list[Diagnostic]:
    """Notes on codes made of zeros: no county code given, no communities to number."""
    notes = []
    if rules.codes.county_code == "000000":
        notes.append(
            Diagnostic(level="plan", code="codes_unset", severity="info", fix="set_county_code")
        )
    community = [str(c) for c in codes.community.values() if c]
    if community and all(c.endswith("000") for c in community):
        notes.append(
            Diagnostic(
                level="plan",
                code="codes_no_communities",
                severity="info",
                fix="give_communities",
            )
        )
    return notes


def assemble(
    layers: Layers,
    partition: GridPartition,
    micro: MicroPartition | None,
    codes: PlanCodes,
    figures: Apportionment,
    *,
    rules: PlanRules | None = None,
    records: Sequence[Diagnostic] = (),
) -> Plan:
    """The plan's tables: codes on units, grids and micro-grids, the figures, the ordered
    diagnostics and the report, in the input CRS.

    Parameters
    ----------
    layers
        :func:`prepare`'s layers (their CRS is the output CRS).
    partition, micro, codes, figures
        The results of :func:`plan_grids`, :func:`plan_microgrids` (None: a plan without
        micro-grids), :func:`assign_codes` and :func:`apportion`.
    rules
        :class:`~gridplan.config.PlanRules`.
    records
        Diagnostics besides the stages' own (e.g. parts of a Dask run that failed).

    Returns
    -------
    Plan
        Grids sorted by ``grid_code``, micro-grids by ``microgrid_code``, units in input
        order, diagnostics in :func:`order_records` order with internal grid ids resolved
        to grid codes.
    """
    rules = rules or PlanRules()
    micro = micro if micro is not None else _no_microgrids(partition.crs)
    grids = partition.grids.copy()
    grids["grid_code"] = grids["grid_id"].map(codes.grid).to_numpy()
    grids["community_code"] = grids["grid_id"].map(codes.community).to_numpy()
    mg = micro.microgrids.copy()
    mg["grid_code"] = mg["grid_id"].map(codes.grid)
    mg["microgrid_code"] = mg["microgrid_id"].map(codes.microgrid).to_numpy()

    fig = figures.grids
    grids["population_estimated"] = grids["grid_id"].map(fig["population_estimated"])
    grids["population_estimated"] = grids["population_estimated"].fillna(False).astype(bool)
    grids["population"] = grids["grid_id"].map(fig["population"]).fillna(0.0)
    grids["party_members"] = grids["grid_id"].map(fig["party_members"])
    n_micro = mg.groupby("grid_id").size()
    grids["n_microgrids"] = grids["grid_id"].map(n_micro).fillna(0).astype(np.int64)
    target = rules.grid.target
    measure = grids["population"] if rules.grid.balance == "population" else grids["households"]
    grids["deviation"] = np.where(grids["kind"] == "residential", measure / target - 1.0, np.nan)
    mg["population"] = mg["population"].where(
        mg["population"].notna(), mg["households"] * rules.household_size
    )

    # versions (gridplan.versions): a first plan's grids are valid from the plan date
    grids["valid_from"] = rules.codes.plan_date or None
    grids["valid_to"] = None
    grids["previous_code"] = None

    # dedicated grids are exempt from the band: never shown as in band
    dedicated = (grids["kind"] == "dedicated").to_numpy()
    in_band = grids["in_band"].to_numpy(dtype=bool) & ~dedicated
    grids["in_band"] = in_band
    grids["band_status"] = np.where(
        dedicated, "exempt", np.where(in_band, "in_band", "out_of_band")
    ).astype(object)

    # every piece of every unit: the rows the equivalency file is made of
    pieces = _unit_pieces(partition, micro, codes)

    # units: grid and micro-grid codes (a building split across micro-grids lists them all)
    units_out = partition.units.copy()
    units_out["grid_code"] = units_out["grid_id"].map(codes.grid)
    sl = micro.slices
    joined = (
        sl.assign(code=sl["microgrid_id"].map(codes.microgrid))
        .groupby("unit_id")["code"]
        .agg(lambda s: ";".join(sorted(set(s))))
    )
    units_out["microgrid_code"] = units_out.index.astype(str).map(joined)
    every = pieces.dropna(subset=["grid_code"]).groupby("unit_id", sort=False)["grid_code"]
    units_out["grid_codes"] = units_out.index.astype(str).map(
        every.agg(lambda s: ";".join(sorted(set(s))))
    )
    units_out = units_out.drop(columns=["grid_id"])

    # diagnostics name grids by their public codes, resolved by mapping, never from text
    code_of: dict[object, str] = {g: c for g, c in codes.grid.items()}
    homes_rows, homes_records = _dedicated_residents(layers, partition, pieces, codes, rules)
    items = dg.resolve_grids([*partition.records, *micro.records, *records], code_of)
    table = dg.frame(order_records([*items, *homes_records, *_code_notes(codes, rules)]))

    in_crs = layers.crs
    grids_out = grids[[c for c in GRID_COLUMNS if c in grids.columns] + ["geometry"]].to_crs(in_crs)
    grids_out = grids_out.sort_values("grid_code", kind="stable").reset_index(drop=True)
    # roster plans label micro-grids with their addresses (gridplan.addresses)
    extra = [c for c in ("addresses", "address_keys") if c in mg.columns]
    mg_out = mg[[*MICROGRID_COLUMNS, *extra, "geometry"]].to_crs(in_crs)
    mg_out = mg_out.sort_values("microgrid_code", kind="stable").reset_index(drop=True)
    report = plan_report(grids_out, mg_out, rules=rules)
    # every home inside a dedicated area, and who serves it
    report["dedicated_residents"] = dedicated_residents_table(homes_rows)
    # the grids' versions (gridplan.versions continues them from a previous plan); the
    # report's grid table stays as it was, the versions sheet carries them
    report["versions"] = versions_table(grids_out)
    # how every line of the barriers layer was used, by class (none is ignored)
    report["barriers"] = barrier_class_table(
        layers.barriers,
        barrier_classes=rules.grid.barrier_classes,
        road_classes=rules.grid.road_classes,
    )
    log.info(
        "plan: %d grids (%d dedicated), %d micro-grids, %d diagnostics",
        len(grids_out),
        int((grids_out["kind"] == "dedicated").sum()),
        len(mg_out),
        len(table),
    )
    return Plan(
        units=units_out,
        grids=grids_out,
        microgrids=mg_out,
        diagnostics=table,
        report=report,
        rules=rules,
        layers=layers,
        work_crs=partition.crs,
        unit_parts=pieces,
    )
