"""The one place that chains the stages: layers -> grids -> micro-grids -> codes -> report.

Follow one household: :func:`gridplan.layers.prepare_layers` validates and normalises it;
:func:`gridplan.partition.partition_grids` puts its building in a grid (or a dedicated grid);
:func:`gridplan.partition.microgrids.partition_microgrids` puts the building, or each of its
stairwell slices, in a micro-grid; :mod:`gridplan.codes` names both; :mod:`gridplan.report`
counts it once in every rollup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from .codes import grid_codes, microgrid_codes
from .config import PlanRules
from .layers import Layers, prepare_layers
from .partition.grids import DIAGNOSTIC_COLUMNS, _norm_locks, _partition
from .partition.microgrids import partition_microgrids

__all__ = ["GRID_COLUMNS", "MICROGRID_COLUMNS", "Plan", "plan"]

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

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


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
        Everything that could not be met, one row each, with a message and a fix.
    report
        Planners' summary tables: ``grids``, ``microgrids``, ``communities``, ``streets``,
        ``totals``.
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


def plan(
    units: gpd.GeoDataFrame | Layers,
    *,
    compounds: gpd.GeoDataFrame | None = None,
    dedicated: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    rules: PlanRules | None = None,
    locks: Mapping[str, object] | pd.Series | None = None,
    seed: int = 0,
    columns: Mapping[str, str] | None = None,
    source_crs: Literal["wgs84", "gcj02", "bd09"] | None = None,
    fix_invalid: bool = False,
    progress: Progress | None = None,
    engine: Literal["single", "dask"] = "single",
    scheduler: object | None = None,
) -> Plan:
    """Plan grids, micro-grids and dedicated grids with codes and a report.

    Parameters
    ----------
    units
        Buildings/compounds/blocks with ``households`` (points or polygons), or prepared
        :class:`~gridplan.layers.Layers`.
    compounds, dedicated, barriers, communities, streets
        Optional context layers (README, "Layer model").
    rules
        :class:`~gridplan.config.PlanRules`.
    locks
        ``unit_id -> grid label`` assignments kept exactly as given.
    seed
        Same inputs and seed give byte-identical outputs.
    columns
        Column renaming for every layer, e.g. ``{"户数": "households"}``.
    source_crs
        ``"gcj02"``/``"bd09"`` for coordinates taken from Gaode/Baidu maps.
    fix_invalid
        Repair invalid geometries instead of reporting them.
    progress
        ``progress(done, total, message)``, called as communities are planned.
    engine
        ``"dask"`` plans street by street on a Dask cluster
        (:func:`gridplan.distributed.plan_distributed`; needs the ``dask`` extra).
    scheduler
        With ``engine="dask"``: a scheduler address such as ``"tcp://host:8786"``; a local
        cluster of 2 workers is started when None.

    Returns
    -------
    Plan

    Examples
    --------
    >>> import geopandas as gpd, gridplan
    >>> src = "data/singapore_queenstown.gpkg"
    >>> p = gridplan.plan(
    ...     gpd.read_file(src, layer="units"),
    ...     communities=gpd.read_file(src, layer="communities"),
    ...     barriers=gpd.read_file(src, layer="barriers"),
    ... )
    >>> int(p.grids["households"].sum()) == int(p.units["households"].sum())
    True
    >>> int(p.microgrids["households"].sum()) == int(p.units["households"].sum())
    True
    """
    if engine == "dask":
        from .distributed import plan_distributed

        return plan_distributed(
            units,
            compounds=compounds,
            dedicated=dedicated,
            barriers=barriers,
            communities=communities,
            streets=streets,
            rules=rules,
            locks=locks,
            seed=seed,
            columns=columns,
            source_crs=source_crs,
            fix_invalid=fix_invalid,
            progress=progress,
            scheduler=scheduler,
        )
    rules = rules or PlanRules()
    if isinstance(units, Layers):
        layers = units
    else:
        layers = prepare_layers(
            units,
            compounds=compounds,
            dedicated=_dedicated_filter(dedicated, rules),
            barriers=barriers,
            communities=communities,
            streets=streets,
            columns=columns,
            source_crs=source_crs,
            balance=rules.grid.balance,
            fix_invalid=fix_invalid,
        )
    lock_map = _norm_locks(locks, layers.units.index)
    # one progress scale over both stages: pieces of the grid stage, then grids
    stage1 = [0]

    def grid_progress(done: int, total: int, message: str) -> None:
        stage1[0] = total
        if progress is not None:
            progress(done, total, f"grids: {message}")

    def micro_progress(done: int, total: int, message: str) -> None:
        if progress is not None:
            progress(stage1[0] + done, stage1[0] + total, f"micro-grids: {message}")

    gp = _partition(layers, rules=rules.grid, locks=lock_map, seed=seed, progress=grid_progress)
    micro = partition_microgrids(
        gp.parts,
        gp.grids,
        layers.units,
        rules=rules.microgrid,
        seed=seed,
        progress=micro_progress,
    )

    # codes
    grids = gp.grids.copy()
    codes = grid_codes(
        grids, rules=rules.codes, communities=layers.communities, streets=layers.streets
    )
    grids["grid_code"] = codes["grid_code"].to_numpy()
    grids["community_code"] = codes["community_code"].to_numpy()
    code_of = dict(zip(grids["grid_id"], grids["grid_code"], strict=True))
    mg = micro.microgrids.copy()
    mg["grid_code"] = mg["grid_id"].map(code_of)
    mg["microgrid_code"] = microgrid_codes(mg, rules=rules.codes).to_numpy()
    mcode_of = dict(zip(mg["microgrid_id"], mg["microgrid_code"], strict=True))

    # residents and party members per grid, counted from unit *parts*: a building split
    # across grids contributes to each grid in proportion to the households of its parts.
    # Residents are estimated from households where not given, and flagged.
    shares = _unit_shares(gp)
    u = layers.units
    unit_hh = u["households"].reindex(shares["unit_id"]).to_numpy(dtype=float)
    frac = np.where(unit_hh > 0, shares["households"].to_numpy() / np.maximum(unit_hh, 1), 1.0)
    frac = np.where(unit_hh > 0, frac, 1.0 / shares["n_parts"].to_numpy())
    pop = u["population"].reindex(shares["unit_id"]).to_numpy(dtype=float)
    shares["estimated"] = np.isnan(pop)
    shares["population"] = np.where(
        np.isnan(pop), shares["households"].to_numpy() * rules.household_size, pop * frac
    )
    shares["party_members"] = _apportion(
        u["party_members"].reindex(shares["unit_id"]).to_numpy(dtype=float),
        frac,
        shares["unit_id"].to_numpy(),
    )
    by_grid = shares.groupby("grid_id")
    grids["population_estimated"] = grids["grid_id"].map(by_grid["estimated"].any())
    grids["population_estimated"] = grids["population_estimated"].fillna(False).astype(bool)
    grids["population"] = grids["grid_id"].map(by_grid["population"].sum()).fillna(0.0)
    grids["party_members"] = grids["grid_id"].map(by_grid["party_members"].sum(min_count=1))
    n_micro = mg.groupby("grid_id").size()
    grids["n_microgrids"] = grids["grid_id"].map(n_micro).fillna(0).astype(np.int64)
    target = rules.grid.target
    measure = grids["population"] if rules.grid.balance == "population" else grids["households"]
    grids["deviation"] = np.where(grids["kind"] == "residential", measure / target - 1.0, np.nan)
    mg["population"] = mg["population"].where(
        mg["population"].notna(), mg["households"] * rules.household_size
    )

    # units: grid and micro-grid codes
    units_out = gp.units.copy()
    units_out["grid_code"] = units_out["grid_id"].map(code_of)
    sl = micro.slices
    joined = (
        sl.assign(code=sl["microgrid_id"].map(mcode_of))
        .groupby("unit_id")["code"]
        .agg(lambda s: ";".join(sorted(set(s))))
    )
    units_out["microgrid_code"] = units_out.index.astype(str).map(joined)

    diags = pd.concat(
        [gp.diagnostics, pd.DataFrame(micro.diagnostics, columns=DIAGNOSTIC_COLUMNS)],
        ignore_index=True,
    )
    diags["grid_code"] = diags["grid_id"].map(code_of)
    diags = diags.drop(columns=["grid_id"])

    in_crs = layers.crs
    grids_out = grids[[c for c in GRID_COLUMNS if c in grids.columns] + ["geometry"]].to_crs(in_crs)
    grids_out = grids_out.sort_values("grid_code", kind="stable").reset_index(drop=True)
    mg_out = mg[[*MICROGRID_COLUMNS, "geometry"]].to_crs(in_crs)
    mg_out = mg_out.sort_values("microgrid_code", kind="stable").reset_index(drop=True)
    units_out = units_out.drop(columns=["grid_id"])

    from .report import plan_report

    report = plan_report(grids_out, mg_out, rules=rules)
    log.info(
        "plan: %d grids (%d dedicated), %d micro-grids, %d diagnostics",
        len(grids_out),
        int((grids_out["kind"] == "dedicated").sum()),
        len(mg_out),
        len(diags),
    )
    return Plan(
        units=units_out,
        grids=grids_out,
        microgrids=mg_out,
        diagnostics=diags,
        report=report,
        rules=rules,
        layers=layers,
        work_crs=gp.crs,
    )


def _apportion(total: np.ndarray, frac: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """Whole people per piece of a unit by largest remainder (NaN stays NaN).

    Examples
    --------
    >>> _apportion(np.array([5.0, 5.0]), np.array([0.5, 0.5]), np.array(["a", "a"]))
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


def _unit_shares(gp) -> pd.DataFrame:
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


def _dedicated_filter(
    dedicated: gpd.GeoDataFrame | None, rules: PlanRules
) -> gpd.GeoDataFrame | None:
    """Keep only the dedicated categories the rules ask for (all when none are named)."""
    if dedicated is None or not rules.dedicated_categories or "category" not in dedicated:
        return dedicated
    return dedicated[dedicated["category"].isin(rules.dedicated_categories)]
