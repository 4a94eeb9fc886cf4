"""The one place that chains the stages: layers -> cells -> grids -> micro-grids -> codes ->
residents and party members -> tables and report.

Follow one household: :func:`~gridplan.stages.prepare` validates and normalises its unit;
:func:`~gridplan.stages.build_cells` gives the unit a cell (or a dedicated area);
:func:`~gridplan.stages.plan_grids` puts it, or each part of an oversized building, in a grid;
:func:`~gridplan.stages.plan_microgrids` puts it, or each stairwell slice, in a micro-grid;
:func:`~gridplan.stages.assign_codes` names both; :func:`~gridplan.stages.apportion` counts its
residents and party members once per grid; :func:`~gridplan.stages.assemble` writes the codes
onto it and counts it once in every rollup of the report.

The stages live in :mod:`gridplan.stages` and are re-exported here; :func:`plan` chains them in
one process, or hands the same stages to the Dask engine (:mod:`gridplan.distributed`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Literal

import geopandas as gpd
import pandas as pd

from .config import PlanRules, check_plan_arguments
from .distributed import plan_distributed, plan_processes
from .errors import Interface, Problem, ValidationError
from .layers import Layers
from .partition.grids import normalize_locks
from .previous import previous_locks, read_previous
from .stages import (
    GRID_COLUMNS,
    MICROGRID_COLUMNS,
    Apportionment,
    Plan,
    PlanCodes,
    Progress,
    apportion,
    assemble,
    assign_codes,
    build_cells,
    plan_grids,
    plan_microgrids,
    prepare,
)

__all__ = [
    "GRID_COLUMNS",
    "MICROGRID_COLUMNS",
    "Apportionment",
    "Plan",
    "PlanCodes",
    "apportion",
    "assemble",
    "assign_codes",
    "build_cells",
    "plan",
    "plan_grids",
    "plan_microgrids",
    "prepare",
]

log = logging.getLogger(__name__)


def plan(
    units: gpd.GeoDataFrame | Layers,
    *,
    compounds: gpd.GeoDataFrame | None = None,
    dedicated: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    rules: PlanRules | None = None,
    locks: Mapping[str, object] | pd.Series | None = None,
    seed: int = 0,
    columns: Mapping[str, str] | None = None,
    source_crs: Literal["wgs84", "gcj02", "bd09"] | None = None,
    fix_invalid: bool = False,
    progress: Progress | None = None,
    engine: Literal["single", "dask"] = "single",
    scheduler: object | None = None,
    microgrids: bool = True,
    workers: int = 1,
    interface: Interface = "python",
    previous: object | None = None,
) -> Plan:
    """Plan grids, micro-grids and dedicated grids with codes and a report.

    Parameters
    ----------
    units
        Buildings/compounds/blocks with ``households`` (points or polygons), or prepared
        :class:`~gridplan.layers.Layers`.
    compounds, dedicated, barriers, communities, streets
        Optional context layers (README, "Layer model").
    roads
        All streets, lanes and paths (any line layer): grid boundaries run on them, and grids
        may join across them (unlike ``barriers``).
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
    microgrids
        False skips the micro-grid stage (``gridplan grids``): the plan has no micro-grids
        and its grids ``n_microgrids == 0``.
    workers
        Processes planning streets side by side on this machine
        (:func:`gridplan.distributed.plan_processes`); the plan is the same, byte for byte,
        as with ``workers=1`` (one process). Input with one street, or ``microgrids=False``,
        is planned in one process.
    interface
        Whose words the fixes of input errors use: ``"python"`` (keywords), ``"cli"`` (flags)
        or ``"app"`` (widgets).
    previous
        An existing plan (grid polygons with ``grid_code``, or a ``unit_id``/``grid_code``
        table, as a path or frame; :func:`gridplan.previous.read_previous`): its grids that
        are still in band are kept with their codes, the rest is re-planned and new grids
        take free sequence numbers.

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
    check_plan_arguments(
        rules=rules,
        seed=seed,
        engine=engine,
        columns=columns,
        source_crs=source_crs,
        locks=locks,
        progress=progress,
    )
    check_workers(workers, interface=interface)
    rules = rules or PlanRules()
    layers = prepare(
        units,
        compounds=compounds,
        dedicated=dedicated,
        barriers=barriers,
        communities=communities,
        streets=streets,
        roads=roads,
        rules=rules,
        columns=columns,
        source_crs=source_crs,
        fix_invalid=fix_invalid,
        interface=interface,
    )
    if engine == "dask":
        if not microgrids:
            raise ValueError("microgrids=False is planned in one process: pass engine='single'")
        done = plan_distributed(
            layers, rules=rules, locks=locks, seed=seed, progress=progress, scheduler=scheduler
        )
        return replace(done, seed=seed)
    if workers > 1 and microgrids and _n_streets(layers) > 1:
        done = plan_processes(
            layers, rules=rules, locks=locks, seed=seed, progress=progress, workers=workers
        )
        return replace(done, seed=seed)
    # one progress scale over both stages: pieces of the grid stage, then grids
    stage1 = [0]

    def grid_progress(done: int, total: int, message: str) -> None:
        stage1[0] = total
        if progress is not None:
            progress(done, total, f"grids: {message}")

    def micro_progress(done: int, total: int, message: str) -> None:
        if progress is not None:
            progress(stage1[0] + done, stage1[0] + total, f"micro-grids: {message}")

    old = None
    if previous is not None:
        old = read_previous(previous, layers.units)
        locks = {
            **previous_locks(
                old,
                layers.units["households"],
                min_households=rules.grid.min_households,
                max_households=rules.grid.max_households,
            ),
            **dict(normalize_locks(locks, layers.units.index)),
        }
    cells = build_cells(layers, rules=rules)
    grids = plan_grids(cells, rules=rules, locks=locks, seed=seed, progress=grid_progress)
    micro = (
        plan_microgrids(grids, rules=rules, seed=seed, progress=micro_progress)
        if microgrids
        else None
    )
    codes = assign_codes(
        grids,
        micro,
        rules=rules,
        communities=layers.communities,
        streets=layers.streets,
        previous=old,
    )
    figures = apportion(grids, rules=rules)
    return replace(assemble(layers, grids, micro, codes, figures, rules=rules), seed=seed)


def _n_streets(layers: Layers) -> int:
    street = layers.units["street_id"] if "street_id" in layers.units.columns else None
    return 1 if street is None else int(street.astype(object).fillna("").nunique())


def check_workers(workers: object, *, interface: Interface = "python") -> None:
    """Refuse a worker count that is not a whole number >= 1, naming the option as the
    caller knows it (``workers=`` in Python, ``--workers`` on the command line).

    Examples
    --------
    >>> check_workers(2)
    >>> check_workers(0)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    gridplan.errors.ValidationError: 1 problem found in the input:
      - [arguments] `workers` must be a whole number >= 1, got 0 (int)
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        name = "--workers" if interface == "cli" else "`workers`"
        raise ValidationError(
            [
                Problem(
                    "arguments",
                    "workers",
                    f"{name} must be a whole number >= 1, got {workers!r} "
                    f"({type(workers).__name__})",
                )
            ]
        )
