"""Reading an existing grid plan and turning it into locks for a re-plan (issue 16).

An old plan is either grid polygons with a code column (any layer) or an equivalency table
(``unit_id -> grid_code``). It is mapped onto the new units: a unit belongs to the old grid
that holds its representative point, and units that old boundaries cut are reported. Old
grids that are still in band become locks, so :func:`gridplan.partition.grids` keeps them as
they are and :func:`gridplan.stages.assign_codes` keeps their codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .errors import Problem, ValidationError
from .validate import id_str

__all__ = ["PreviousPlan", "previous_locks", "read_previous"]


@dataclass(frozen=True)
class PreviousPlan:
    """An old plan mapped onto the units.

    Attributes
    ----------
    grid
        ``unit_id -> old grid_code`` (units the old plan did not cover are absent).
    codes
        Every code of the old plan, including grids no unit maps to any more: a retired
        code is never given to a new grid.
    split
        Units cut by old grid boundaries: ``unit_id``, ``grid_code`` (where the unit was
        put), ``n_grids`` (how many old grids it overlaps).
    """

    grid: dict[str, str]
    codes: frozenset[str]
    split: pd.DataFrame


def _problem(check: str, message: str) -> ValidationError:
    return ValidationError([Problem("previous", check, message)])


def _load(source: object) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    path = Path(str(source))
    if not path.exists():
        raise _problem("missing", f"previous plan {path} does not exist; pass an existing file.")
    if path.suffix.lower() in {".csv", ".txt"}:
        return pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    if path.suffix.lower() in {".xlsx", ".xls"}:
        return pd.read_excel(path, dtype=str)
    layers = gpd.list_layers(path)["name"].tolist()
    layer = "grids" if "grids" in layers else layers[0]
    return gpd.read_file(path, layer=layer)


def read_previous(
    source: object,
    units: gpd.GeoDataFrame,
    *,
    unit_col: str = "unit_id",
    code_col: str = "grid_code",
) -> PreviousPlan:
    """Map an old plan onto ``units``.

    Parameters
    ----------
    source
        A path (GeoPackage/GeoJSON/Shapefile with grid polygons, or CSV/Excel equivalency
        table) or a (Geo)DataFrame.
    units
        The new units (``unit_id`` index or column, geometry).
    unit_col, code_col
        Column names of the equivalency table / the code column of the polygons.

    Returns
    -------
    PreviousPlan

    Raises
    ------
    ValidationError
        No code column, or a table without unit ids.
    """
    frame = _load(source)
    if code_col not in frame.columns:
        raise _problem(
            "code_column",
            f"the previous plan has no `{code_col}` column (columns: "
            f"{', '.join(map(str, frame.columns))}); rename the code column to `{code_col}`.",
        )
    ids = units[unit_col].map(id_str) if unit_col in units.columns else units.index.map(id_str)
    ids = pd.Index([str(i) for i in ids])
    empty = pd.DataFrame({"unit_id": [], "grid_code": [], "n_grids": []})
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.notna().any():
        old = frame[[code_col, "geometry"]].dropna(subset=[code_col])
        old = old.assign(_code=old[code_col].map(id_str).astype(str))
        old = old.to_crs(units.crs) if units.crs is not None and old.crs is not None else old
        pts = gpd.GeoDataFrame(
            {"_uid": ids}, geometry=units.geometry.representative_point().values, crs=units.crs
        )
        hit = gpd.sjoin(pts, old[["_code", "geometry"]], how="inner", predicate="within")
        hit = hit.sort_values(["_uid", "_code"]).drop_duplicates("_uid")
        grid = dict(zip(hit["_uid"], hit["_code"], strict=True))
        poly = units.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
        split = empty
        if poly.any():
            shapes = gpd.GeoDataFrame(
                {"_uid": ids[poly]}, geometry=units.geometry.values[poly], crs=units.crs
            )
            over = gpd.overlay(shapes, old[["_code", "geometry"]], how="intersection")
            area = shapes.set_index("_uid").area
            over = over[over.area > 0.01 * over["_uid"].map(area).to_numpy()]
            n = over.groupby("_uid")["_code"].nunique()
            n = n[n > 1]
            split = pd.DataFrame(
                {
                    "unit_id": n.index.astype(str),
                    "grid_code": [grid.get(u) for u in n.index],
                    "n_grids": n.to_numpy(),
                }
            )
        codes = frozenset(old["_code"])
    else:
        if unit_col not in frame.columns:
            raise _problem(
                "unit_column",
                f"the equivalency table has no `{unit_col}` column; give one row per unit "
                f"with `{unit_col}` and `{code_col}`.",
            )
        cols = [unit_col, code_col] + (["households"] if "households" in frame.columns else [])
        table = frame[cols].dropna(subset=[unit_col, code_col])
        keys = table[unit_col].map(id_str).astype(str)
        codes_ = table[code_col].map(id_str).astype(str)
        codes = frozenset(codes_)
        # an equivalency file lists a building split across grids once per part: the unit
        # belongs to the grid holding most of its households (the first listed on a tie)
        hh = (
            pd.to_numeric(table["households"], errors="coerce").to_numpy(dtype=float)
            if "households" in table.columns
            else np.zeros(len(table))
        )
        rows = pd.DataFrame({"k": keys.to_numpy(), "c": codes_.to_numpy(), "h": hh})
        rows = rows[rows["k"].isin(set(ids))]
        per = rows.groupby(["k", "c"], sort=False)["h"].sum().reset_index()
        best = per.sort_values("h", ascending=False, kind="stable").drop_duplicates("k")
        grid = dict(zip(best["k"], best["c"], strict=True))
        n = per.groupby("k")["c"].size()
        n = n[n > 1]
        split = pd.DataFrame(
            {
                "unit_id": n.index.astype(str),
                "grid_code": [grid[u] for u in n.index],
                "n_grids": n.to_numpy(),
            }
        )
    return PreviousPlan(grid=grid, codes=codes, split=split)


def previous_locks(
    previous: PreviousPlan,
    households: pd.Series,
    *,
    min_households: int,
    max_households: int,
) -> dict[str, str]:
    """``unit_id -> old grid_code`` for the old grids that are still in band.

    Parameters
    ----------
    previous
        :func:`read_previous`'s result.
    households
        Households per unit, indexed by ``unit_id``.
    min_households, max_households
        The grid band: an old grid outside it is re-planned.

    Returns
    -------
    dict
        Locks for :func:`gridplan.plan` (each label is the old code, which
        :func:`gridplan.stages.assign_codes` keeps).
    """
    hh = households.copy()
    hh.index = hh.index.map(lambda i: str(id_str(i)))
    mapped = pd.Series(previous.grid, dtype=object)
    mapped = mapped[mapped.index.isin(hh.index)]
    totals = hh.reindex(mapped.index).groupby(mapped.to_numpy()).sum()
    valid = set(totals.index[(totals >= min_households) & (totals <= max_households)])
    return {str(u): str(c) for u, c in mapped.items() if c in valid}
