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
from .previous import PreviousPlan, read_previous
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
    drop_unchanged,
    plan_grids,
    plan_microgrids,
    prepare,
)
from .versions import add_versions

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
    plan_date: str | None = None,
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
        are still valid (in band, contiguous without crossing a barrier, in one community)
        are kept with their codes and micro-grids; the rest is re-planned moving as few
        households as possible (:mod:`gridplan.partition.continuity`), re-planned grids
        holding most of an old grid inherit its code, and new grids take free sequence
        numbers (a retired code is never reused). ``workers`` plans it street by street
        in processes, the same plan byte for byte as one process; ``engine="dask"`` is not
        used (planned here).
    plan_date
        ``YYYY-MM-DD``: new and changed grids are valid from it, retired ones to it
        (:mod:`gridplan.versions`); overrides ``rules.codes.plan_date`` (empty by default, so
        the files do not depend on the day they are made).

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
    if plan_date is not None:
        rules = replace(rules, codes=replace(rules.codes, plan_date=plan_date))
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
    old = (
        read_previous(previous, layers.units, interface=interface) if previous is not None else None
    )
    in_processes = workers > 1 and microgrids and _n_streets(layers) > 1
    if old is not None:
        # a re-plan compares whole plans (is the old plan reproduced, do wider releases put
        # more grids in band): each of its plans runs in processes, or in this one
        engine = "single"
    if engine == "dask":
        if not microgrids:
            raise ValueError("microgrids=False is planned in one process: pass engine='single'")
        done = add_versions(
            plan_distributed(
                layers, rules=rules, locks=locks, seed=seed, progress=progress, scheduler=scheduler
            )
        )
        return replace(done, seed=seed)
    if in_processes and old is None:
        done = add_versions(
            plan_processes(
                layers, rules=rules, locks=locks, seed=seed, progress=progress, workers=workers
            )
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

    cells = build_cells(layers, rules=rules) if not in_processes else None

    def run(prev: PreviousPlan | None) -> Plan:
        if cells is None:
            return plan_processes(
                layers,
                rules=rules,
                locks=locks,
                seed=seed,
                progress=progress,
                workers=workers,
                previous=prev,
            )
        grids = plan_grids(
            cells, rules=rules, locks=locks, seed=seed, progress=grid_progress, previous=prev
        )
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
            previous=prev,
        )
        if prev is not None:
            grids = drop_unchanged(grids, codes)
        figures = apportion(grids, rules=rules)
        return assemble(layers, grids, micro, codes, figures, rules=rules)

    if old is not None and set(old.grid) == set(layers.units.index.astype(str)):
        # the same units as the old plan: when planning them afresh gives the old plan back
        # (same grids, codes, households and micro-grids), that plan is the re-plan, so
        # unchanged data re-planned from itself gives byte-identical files
        fresh = run(None)
        if _reproduces(fresh, old):
            return replace(add_versions(fresh, old), seed=seed)
    result = run(old)
    if old is not None:
        # a re-planned grid out of band frees the kept grids it touches, then (failing that)
        # every kept grid of its community, and the area is planned again: kept only when
        # fewer grids miss the band (fewer households keep their grid, more grids are in band)
        for whole in (False, True):
            more = _neighbours_of_misses(result, old, whole_community=whole)
            if not more:
                continue
            wider = replace(old, release=old.release | more)
            trial = run(wider)
            if _misses(trial) < _misses(result):
                result, old = trial, wider
    return replace(add_versions(result, old), seed=seed)


def _misses(plan: Plan) -> int:
    g = plan.grids
    return int(((g["kind"] == "residential") & ~g["in_band"]).sum())


def _neighbours_of_misses(
    plan: Plan, old: PreviousPlan, *, whole_community: bool = False
) -> frozenset[str]:
    """Old grids kept in ``plan`` that touch a re-planned residential grid out of band (with
    ``whole_community``: every kept grid of its community).

    Kept are the old codes the grid stage kept as they were: a re-planned grid that
    inherited an old code is named in a ``previous_replanned`` record, so it is neither
    freed again (that changes nothing) nor left out of the misses.
    """
    g = plan.grids
    res = g["kind"] == "residential"
    d = plan.diagnostics
    replanned = set(d.loc[d["code"] == "previous_replanned", "grid_code"].astype(str))
    kept_codes = set(old.current) - old.release - replanned
    unchanged = res & g["grid_code"].isin(kept_codes) & g["in_band"]
    miss = g[res & ~g["in_band"] & ~g["grid_code"].isin(kept_codes)]
    if miss.empty:
        return frozenset()
    near = g[unchanged]
    hit = (
        near.geometry.intersects(miss.geometry.buffer(0).union_all())
        if not whole_community
        else True
    )
    same = near["community_id"].isin(set(miss["community_id"]))
    return frozenset(near.loc[hit & same, "grid_code"].astype(str)) - old.release


def _reproduces(fresh: Plan, old: PreviousPlan) -> bool:
    """Whether ``fresh`` is the old plan: every unit in its old grid and micro-grid, every
    grid with the old households, the same grid codes."""
    units = fresh.units
    ids = units.index.astype(str)
    if [old.grid.get(i) for i in ids] != units["grid_code"].astype(str).tolist():
        return False
    if len(old.micro_parts) and fresh.unit_parts is not None:

        def micro_sets(t: pd.DataFrame) -> dict[str, frozenset[str]]:
            t = t.dropna(subset=["microgrid_code"])
            return {
                str(u): frozenset(map(str, g["microgrid_code"]))
                for u, g in t.groupby(t["unit_id"].astype(str), sort=True)
            }

        if micro_sets(fresh.unit_parts) != micro_sets(old.micro_parts):
            return False
    if set(fresh.grids["grid_code"].astype(str)) != set(old.current):
        return False
    hh = dict(zip(fresh.grids["grid_code"].astype(str), fresh.grids["households"], strict=True))
    return all(float(hh.get(c, -1)) == h for c, h in old.grid_households.items())


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
