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
from dataclasses import dataclass
from typing import Literal, TypedDict

import geopandas as gpd
import numpy as np
import pandas as pd

from . import diagnostics as dg
from .codes import grid_codes, microgrid_codes
from .config import PlanRules
from .diagnostics import Diagnostic
from .errors import Interface
from .layers import Layers, check_plan_size, prepare_layers
from .partition.grids import (
    GridPartition,
    Progress,
    UnitCells,
    grids_from_cells,
    normalize_locks,
    unit_cells,
)
from .partition.microgrids import MicroPartition, partition_microgrids
from .previous import PreviousPlan
from .report import plan_report
from .validate import barrier_class_table

__all__ = [
    "GRID_COLUMNS",
    "MICROGRID_COLUMNS",
    "Apportionment",
    "InputOptions",
    "Plan",
    "PlanCodes",
    "apportion",
    "assemble",
    "assign_codes",
    "build_cells",
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
    "deviation",
    "compactness",
    "crosses_barrier",
    "locked",
    "grid_id",
)
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
        Normalised input units with ``grid_code``, ``microgrid_code`` (";"-joined when a
        building is split across micro-grids) and ``n_parts``.
    grids
        Residential and dedicated grids with codes, counts, band flags and compactness.
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
    """

    units: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    microgrids: gpd.GeoDataFrame
    diagnostics: pd.DataFrame
    report: dict[str, pd.DataFrame]
    rules: PlanRules
    layers: Layers
    work_crs: object


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


def build_cells(
    layers: Layers, *, rules: PlanRules | None = None, work_crs: object = None
) -> UnitCells:
    """Dedicated areas take their units; residential units get space-filling cells.

    The ground every grid is drawn on, and the graph's nodes (see
    :func:`gridplan.partition.grids.unit_cells`). Dedicated areas of one category near each
    other are merged unless ``rules.merge_dedicated`` is False.

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
    return unit_cells(
        layers, rules=rules.grid, work_crs=work_crs, merge_dedicated=rules.merge_dedicated
    )


def plan_grids(
    cells: UnitCells,
    *,
    rules: PlanRules | None = None,
    locks: Mapping[str, object] | pd.Series | None = None,
    seed: int = 0,
    progress: Progress | None = None,
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
    return grids_from_cells(
        cells,
        rules=rules.grid,
        locks=normalize_locks(locks, cells.order),
        seed=seed,
        progress=progress,
    )


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
    grid_code = out["grid_code"].to_numpy(dtype=object).copy()
    if label is not None and locked is not None:
        for i in range(n_real):
            if locked[i] and label[i] in previous.codes:
                grid_code[i], kept[i] = label[i], True
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
    units_out = units_out.drop(columns=["grid_id"])

    # diagnostics name grids by their public codes, resolved by mapping, never from text
    code_of: dict[object, str] = {g: c for g, c in codes.grid.items()}
    items = dg.resolve_grids([*partition.records, *micro.records, *records], code_of)
    table = dg.frame(order_records(items))

    in_crs = layers.crs
    grids_out = grids[[c for c in GRID_COLUMNS if c in grids.columns] + ["geometry"]].to_crs(in_crs)
    grids_out = grids_out.sort_values("grid_code", kind="stable").reset_index(drop=True)
    # roster plans label micro-grids with their addresses (gridplan.addresses)
    extra = [c for c in ("addresses", "address_keys") if c in mg.columns]
    mg_out = mg[[*MICROGRID_COLUMNS, *extra, "geometry"]].to_crs(in_crs)
    mg_out = mg_out.sort_values("microgrid_code", kind="stable").reset_index(drop=True)
    report = plan_report(grids_out, mg_out, rules=rules)
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
    )
