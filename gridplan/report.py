"""The planners' summary of a plan, like Maptitude's population summary.

:func:`plan_report` turns a plan's grids and micro-grids into five tables:

``grids``
    One row per grid: code, community, street, kind, households, residents, deviation from
    the target size (%), in-band flag, compactness, number of micro-grids.
``microgrids``
    One row per micro-grid: code, grid, community, households, residents, deviation from the
    micro-grid target (%), in-band flag, compactness.
``communities`` / ``streets``
    Rollups: grids, dedicated grids, micro-grids, households, residents, the share of
    residential grids (and micro-grids) in band, the smallest and largest residential grid.
``totals``
    One row with the same figures for the whole plan.
``dedicated_residents`` (added by :func:`gridplan.stages.assemble`)
    One row per dedicated area with homes in it: where its households were planned and who
    serves them (:func:`dedicated_residents_table`).

A dedicated grid is exempt from the household band: its ``band_status`` is ``exempt`` and its
``in_band`` False, so it is never counted or shown as in band.

Households are counted once: every unit sits in exactly one grid (residential or dedicated),
so the grids' households add up to the input total. Residents (``population``) are counted
where the input gave them and estimated from households elsewhere; ``residents_estimated``
says where.
"""

from __future__ import annotations

from itertools import pairwise

import geopandas as gpd
import numpy as np
import pandas as pd

from .config import PlanRules

__all__ = [
    "DEDICATED_RESIDENT_COLUMNS",
    "ROLLUP_COLUMNS",
    "TOTAL_COLUMNS",
    "band_status",
    "dedicated_residents_table",
    "plan_report",
]

#: columns of the ``communities`` and ``streets`` tables after their key columns
ROLLUP_COLUMNS = [
    "grids",
    "residential_grids",
    "dedicated_grids",
    "microgrids",
    "households",
    "residents",
    "residents_estimated",
    "in_band_share",
    "microgrids_in_band_share",
    "min_households",
    "max_households",
    "mean_compactness",
]

#: columns of the one-row ``totals`` table
TOTAL_COLUMNS = [
    "streets",
    "communities",
    *ROLLUP_COLUMNS,
    "max_abs_deviation_pct",
]


def _col(frame: pd.DataFrame, name: str, default: object) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([default] * len(frame), index=frame.index, dtype=object)


def _text(values: pd.Series) -> pd.Series:
    """Ids as str, ``""`` where missing (so ``groupby`` keeps every row)."""
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        # every value is text already (the usual case): no per-row pass
        return pd.Series(values.to_numpy(dtype=object), index=values.index, dtype=object)
    return pd.Series(
        ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values],
        index=values.index,
        dtype=object,
    )


def _grid_table(grids: pd.DataFrame, microgrids: pd.DataFrame, rules: PlanRules) -> pd.DataFrame:
    residential = (grids["kind"] == "residential").to_numpy()
    households = grids["households"].astype(np.int64)
    residents = pd.to_numeric(_col(grids, "population", np.nan), errors="coerce").astype(float)
    residents = residents.where(residents.notna(), households * rules.household_size)
    if "deviation" in grids.columns:
        deviation = pd.to_numeric(grids["deviation"], errors="coerce").astype(float)
    else:
        measure = residents if rules.grid.balance == "population" else households
        deviation = measure / rules.grid.target - 1.0
    deviation = deviation.where(residential, np.nan)
    if "n_microgrids" in grids.columns:
        n_micro = grids["n_microgrids"].astype(np.int64)
    else:
        counts = microgrids.groupby("grid_code").size()
        n_micro = grids["grid_code"].map(counts).fillna(0).astype(np.int64)
    table = pd.DataFrame(
        {
            "grid_code": grids["grid_code"].astype(str),
            "community_code": _text(_col(grids, "community_code", None)),
            "community": _text(_col(grids, "community_id", None)),
            "street": _text(_col(grids, "street_id", None)),
            "kind": grids["kind"].astype(str),
            "category": _text(_col(grids, "category", None)),
            "name": _text(_col(grids, "name", None)),
            "households": households,
            "residents": residents,
            "residents_estimated": _col(grids, "population_estimated", False).astype(bool),
            "deviation_pct": (deviation * 100).round(1),
            # a dedicated grid is exempt from the band, never "in band"
            "in_band": grids["in_band"].astype(bool) & residential,
            "band_status": band_status(grids["kind"], grids["in_band"]),
            "compactness": pd.to_numeric(_col(grids, "compactness", np.nan)).astype(float),
            "n_microgrids": n_micro,
        }
    )
    return table.sort_values("grid_code", kind="stable").reset_index(drop=True)


def band_status(kind: pd.Series, in_band: pd.Series) -> pd.Series:
    """``in_band``, ``out_of_band``, or ``exempt`` for a dedicated grid (whatever its flag).

    Examples
    --------
    >>> band_status(pd.Series(["residential", "residential", "dedicated"]),
    ...             pd.Series([True, False, True])).tolist()
    ['in_band', 'out_of_band', 'exempt']
    """
    ded = (kind.astype(str) == "dedicated").to_numpy()
    ok = in_band.astype(bool).to_numpy()
    out = np.where(ded, "exempt", np.where(ok, "in_band", "out_of_band"))
    return pd.Series(out, index=kind.index, dtype=object)


#: columns of the ``dedicated_residents`` table: every dedicated area with homes in it
DEDICATED_RESIDENT_COLUMNS = [
    "grid_code",
    "community",
    "dedicated_ids",
    "category",
    "name",
    "households",
    "n_units",
    "unit_ids",
    "planned_as",
    "grid_codes",
    "microgrids",
    "served_by",
]


def dedicated_residents_table(rows: list[dict[str, object]]) -> pd.DataFrame:
    """The ``dedicated_residents`` table: one row per dedicated area with homes in it.

    ``grid_code`` is the dedicated grid (empty where homes fill the whole area);
    ``planned_as`` is ``residential`` (the homes were planned into the residential grids
    ``grid_codes`` and ``microgrids`` micro-grids, ``served_by`` their ``grid_workers``) or
    ``dedicated`` (they stay in the dedicated grid without a micro-grid, ``served_by`` its
    ``dedicated_contact``; a planner must confirm). ``unit_ids`` are ";"-joined.

    Examples
    --------
    >>> dedicated_residents_table([]).columns.tolist()[:3]
    ['grid_code', 'community', 'dedicated_ids']
    """
    table = pd.DataFrame(rows, columns=DEDICATED_RESIDENT_COLUMNS)
    table["unit_ids"] = [";".join(map(str, v)) for v in table["unit_ids"]]
    for c in ("households", "n_units", "microgrids"):
        table[c] = table[c].astype(np.int64)
    table = table.sort_values(["grid_code", "dedicated_ids"], kind="stable")
    return table.reset_index(drop=True)


def _microgrid_table(microgrids: pd.DataFrame, rules: PlanRules, grid_table: pd.DataFrame):
    households = microgrids["households"].astype(np.int64)
    residents = pd.to_numeric(_col(microgrids, "population", np.nan), errors="coerce")
    residents = residents.astype(float).where(residents.notna(), households * rules.household_size)
    lo, hi = rules.microgrid.min_households, rules.microgrid.max_households
    in_band = (
        microgrids["in_band"].astype(bool)
        if "in_band" in microgrids.columns
        else (households >= lo) & (households <= hi)
    )
    community_of = dict(zip(grid_table["grid_code"], grid_table["community"], strict=True))
    community = _text(microgrids["grid_code"].map(community_of))
    table = pd.DataFrame(
        {
            "microgrid_code": microgrids["microgrid_code"].astype(str),
            "grid_code": microgrids["grid_code"].astype(str),
            "community": community,
            "households": households,
            "residents": residents,
            "deviation_pct": ((households / ((lo + hi) / 2) - 1.0) * 100).round(1),
            "in_band": in_band,
            "compactness": pd.to_numeric(_col(microgrids, "compactness", np.nan)).astype(float),
            "n_units": _col(microgrids, "n_units", 0).astype(np.int64),
        }
    )
    return table.sort_values("microgrid_code", kind="stable").reset_index(drop=True)


def _rollup(grid_table: pd.DataFrame, micro_table: pd.DataFrame) -> dict[str, object]:
    """The rollup figures of one set of grids and their micro-grids."""
    res = grid_table[grid_table["kind"] == "residential"]
    n_res = len(res)
    n_micro = len(micro_table)
    return {
        "grids": len(grid_table),
        "residential_grids": n_res,
        "dedicated_grids": int((grid_table["kind"] == "dedicated").sum()),
        "microgrids": n_micro,
        "households": int(grid_table["households"].sum()),
        "residents": float(grid_table["residents"].sum()),
        "residents_estimated": bool(grid_table["residents_estimated"].any()),
        "in_band_share": float(res["in_band"].mean()) if n_res else np.nan,
        "microgrids_in_band_share": float(micro_table["in_band"].mean()) if n_micro else np.nan,
        "min_households": int(res["households"].min()) if n_res else pd.NA,
        "max_households": int(res["households"].max()) if n_res else pd.NA,
        "mean_compactness": float(res["compactness"].mean()) if n_res else np.nan,
    }


def _rollups(grid_table: pd.DataFrame, micro_table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """:func:`_rollup`'s figures for every group of ``keys``, in one grouped pass (a loop
    selecting each group's micro-grids was quadratic in the number of grids)."""
    g = grid_table
    res = (g["kind"] == "residential").to_numpy()
    cols = {k: g[k].to_numpy(dtype=object) for k in keys}
    frame = pd.DataFrame(
        {
            **cols,
            "grids": 1,
            "residential_grids": res.astype(np.int64),
            "dedicated_grids": (g["kind"] == "dedicated").to_numpy().astype(np.int64),
            "households": g["households"].to_numpy(dtype=np.int64),
            "residents": g["residents"].to_numpy(dtype=float),
            "residents_estimated": g["residents_estimated"].to_numpy(dtype=bool),
            "in_band": np.where(res, g["in_band"].to_numpy(dtype=float), np.nan),
            "res_households": np.where(res, g["households"].to_numpy(dtype=float), np.nan),
            "compactness": np.where(res, g["compactness"].to_numpy(dtype=float), np.nan),
        }
    )
    by = frame.groupby(keys, sort=True, dropna=False)
    group = by.ngroup().to_numpy()
    n = int(by.ngroups)
    # float sums as a group's own Series sums them (so the figures do not move in the last
    # digit): residents over the group's grids, compactness over its residential grids
    compact = _group_sums(frame["compactness"].to_numpy()[res], group[res], n)
    counted = np.bincount(
        group[res], weights=~np.isnan(frame["compactness"].to_numpy()[res]), minlength=n
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_compactness = np.where(counted > 0, compact / np.maximum(counted, 1), np.nan)
    out = pd.DataFrame(
        {
            "grids": by["grids"].sum(),
            "residential_grids": by["residential_grids"].sum(),
            "dedicated_grids": by["dedicated_grids"].sum(),
            "households": by["households"].sum(),
            "residents": _group_sums(frame["residents"].to_numpy(), group, n),
            "residents_estimated": by["residents_estimated"].any(),
            "in_band_share": by["in_band"].mean(),
            "min_households": by["res_households"].min(),
            "max_households": by["res_households"].max(),
            "mean_compactness": mean_compactness,
        }
    )
    # each micro-grid counts in its grid's group
    key_of = pd.DataFrame(cols, index=g["grid_code"].to_numpy())
    mk = key_of.reindex(micro_table["grid_code"].to_numpy())
    known = mk[keys[0]].notna().to_numpy()
    micro = pd.DataFrame(
        {
            **{k: mk[k].to_numpy()[known] for k in keys},
            "n": 1,
            "in_band": micro_table["in_band"].to_numpy(dtype=float)[known],
        }
    ).groupby(keys, sort=True, dropna=False)
    out["microgrids"] = micro["n"].sum().reindex(out.index).fillna(0).astype(np.int64)
    out["microgrids_in_band_share"] = micro["in_band"].mean().reindex(out.index)
    out = out.reset_index()
    for c in ("min_households", "max_households"):
        out[c] = out[c].astype("Int64")
    return _typed(out[[*keys, *ROLLUP_COLUMNS]])


def _group_sums(values: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """Sum of ``values`` (NaN as 0) per group number ``0..n-1``: numpy's sum over each
    group's rows in their order, which is how pandas sums a group selected on its own."""
    order = np.argsort(group, kind="stable")
    v = np.nan_to_num(values[order].astype(float), nan=0.0)
    bounds = np.searchsorted(group[order], np.arange(n + 1))
    return np.array([v[a:b].sum() for a, b in pairwise(bounds)], dtype=float)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for c in ("grids", "residential_grids", "dedicated_grids", "microgrids", "households"):
        if c in frame.columns:
            frame[c] = frame[c].astype(np.int64)
    for c in ("min_households", "max_households"):
        if c in frame.columns:
            frame[c] = frame[c].astype("Int64")
    if "residents_estimated" in frame.columns:
        frame["residents_estimated"] = frame["residents_estimated"].astype(bool)
    return frame


def plan_report(
    grids: gpd.GeoDataFrame | pd.DataFrame,
    microgrids: gpd.GeoDataFrame | pd.DataFrame,
    *,
    rules: PlanRules,
) -> dict[str, pd.DataFrame]:
    """Summary tables of a plan: per grid, per micro-grid, per community, per street, totals.

    Parameters
    ----------
    grids
        The plan's grids: ``grid_code``, ``kind``, ``households``, ``in_band``, and where
        available ``community_code``, ``community_id``, ``street_id``, ``category``, ``name``,
        ``population``, ``population_estimated``, ``deviation``, ``compactness``,
        ``n_microgrids``.
    microgrids
        The plan's micro-grids: ``microgrid_code``, ``grid_code``, ``households``, and where
        available ``population``, ``in_band``, ``compactness``, ``n_units``.
    rules
        The :class:`~gridplan.config.PlanRules` of the plan (targets, household size).

    Returns
    -------
    dict of pandas.DataFrame
        ``"grids"``, ``"microgrids"``, ``"communities"``, ``"streets"``, ``"totals"``.
        Deviations are percentages of the target (the band's midpoint unless set) and are
        empty for dedicated grids, which are exempt from the band; in-band shares count
        residential grids only. Missing residents are estimated as households x
        ``rules.household_size``.

    Examples
    --------
    >>> import geopandas as gpd, gridplan
    >>> src = "data/camden_sample.gpkg"
    >>> p = gridplan.plan(gpd.read_file(src, layer="units"),
    ...                   communities=gpd.read_file(src, layer="communities"))
    >>> report = plan_report(p.grids, p.microgrids, rules=p.rules)
    >>> sorted(report)
    ['communities', 'grids', 'microgrids', 'streets', 'totals']
    >>> int(report["totals"]["households"].iloc[0]) == int(p.units["households"].sum())
    True
    """
    grid_table = _grid_table(pd.DataFrame(grids), pd.DataFrame(microgrids), rules)
    micro_table = _microgrid_table(pd.DataFrame(microgrids), rules, grid_table)
    communities = _rollups(grid_table, micro_table, ["street", "community_code", "community"])
    communities = communities[["community_code", "community", "street", *ROLLUP_COLUMNS]]
    streets = _rollups(grid_table, micro_table, ["street"])
    totals = {
        "streets": int(grid_table["street"].nunique()),
        "communities": int(grid_table["community_code"].nunique()),
        **_rollup(grid_table, micro_table),
        "max_abs_deviation_pct": float(grid_table["deviation_pct"].abs().max())
        if grid_table["deviation_pct"].notna().any()
        else np.nan,
    }
    return {
        "grids": grid_table,
        "microgrids": micro_table,
        "communities": communities.sort_values("community_code", kind="stable").reset_index(
            drop=True
        ),
        "streets": streets,
        "totals": _typed(pd.DataFrame([totals], columns=TOTAL_COLUMNS)),
    }
