"""Write a plan out: GeoPackage, RFC 7946 GeoJSON, an equivalency CSV and an Excel report.

=======================  ==============================================================
:func:`write_geopackage`  layers ``units``, ``grids``, ``microgrids``, ``diagnostics``,
                          ``summary``, plus the context layers given (``communities``,
                          ``compounds``, ``dedicated``, ``barriers``, ``roads``,
                          ``streets``), in the plan's input CRS (for desktop GIS, and for
                          printing from the file)
:func:`write_geojson`     ``grids.geojson``, ``microgrids.geojson``, ``units.geojson``:
                          RFC 7946 (WGS84 lon/lat, right-hand rule, 7 decimals; for web maps)
:func:`write_equivalency` ``unit_id, part, grid_code, microgrid_code, households`` CSV, one
                          row per unit part (:func:`unit_parts_frame`): the
                          block-assignment file districting tools exchange, which alone
                          reproduces every grid's and micro-grid's households
:func:`write_report_xlsx` the report tables, unit parts and diagnostics as Excel sheets
:func:`write_household_equivalency`  every roster row with its grid and micro-grid code, as
                          CSV (UTF-8 with BOM, codes as text for Excel) and XLSX
=======================  ==============================================================

Examples
--------
>>> import tempfile, geopandas as gpd, gridplan
>>> src = "data/camden_sample.gpkg"
>>> p = gridplan.plan(gpd.read_file(src, layer="units"),
...                   communities=gpd.read_file(src, layer="communities"))
>>> out = Path(tempfile.mkdtemp())
>>> sorted(f.name for f in write_geojson(p, out))
['grids.geojson', 'microgrids.geojson', 'units.geojson']
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping

from .diagnostics import Interface, Lang, flat, render_frame
from .errors import Problem, ValidationError
from .io import atomic_path, normalize_xlsx, write_gpkg
from .stages import UNIT_PART_COLUMNS
from .validate import normalize_ids

if TYPE_CHECKING:
    from .pipeline import Plan

__all__ = [
    "CONTEXT_LAYERS",
    "GEOJSON_PRECISION",
    "MIN_HOLE_M2",
    "context_frames",
    "in_language",
    "summary_table",
    "text_width",
    "unit_part_tables",
    "unit_parts_frame",
    "write_equivalency",
    "write_geojson",
    "write_geopackage",
    "write_household_equivalency",
    "write_report_xlsx",
    "write_workbook",
]

log = logging.getLogger(__name__)

#: decimals kept in GeoJSON coordinates (RFC 7946 section 11.2: about 1 cm)
GEOJSON_PRECISION = 7

#: holes smaller than this (square metres) are slivers, left out of GeoJSON
MIN_HOLE_M2 = 1.0

GPKG_LAYERS = (
    "units",
    "grids",
    "microgrids",
    "diagnostics",
    "summary",
    "unit_parts",
    "dedicated_residents",
)

#: the plan's input layers written next to it when given, so maps printed from the file
#: (:func:`gridplan.printing.print_plan`) draw the same roads, barriers and compounds
CONTEXT_LAYERS = ("communities", "streets", "compounds", "dedicated", "barriers", "roads")


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _units_frame(plan: Plan) -> gpd.GeoDataFrame:
    """Units with ``unit_id`` as the first column (the index in the plan)."""
    units = plan.units
    name = units.index.name or "unit_id"
    if name in units.columns:
        return units.reset_index(drop=True)
    out = units.reset_index(names=name)
    return out


def _flat_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists/tuples/sets (e.g. ``unit_ids``) as ``"a;b;c"`` so every format can hold them."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            values = out[col]
            if values.map(lambda v: isinstance(v, list | tuple | set | np.ndarray)).any():
                out[col] = values.map(
                    lambda v: (
                        ";".join(map(str, v))
                        if isinstance(v, list | tuple | set | np.ndarray)
                        else v
                    )
                )
    return out


def summary_table(plan: Plan) -> pd.DataFrame:
    """The ``summary`` layer: one ``total`` row, then one row per street and per community.

    Columns are ``level`` (``total`` | ``street`` | ``community``), ``street``,
    ``community_code``, ``community``, then the report's rollup figures.
    """
    report = plan.report
    totals = report["totals"].assign(level="total", street="", community_code="", community="")
    streets = report["streets"].assign(level="street", community_code="", community="")
    communities = report["communities"].assign(level="community")
    keys = ["level", "street", "community_code", "community"]
    frames = [f for f in (totals, streets, communities) if len(f)]
    table = pd.concat(frames, ignore_index=True)
    rest = [c for c in table.columns if c not in keys]
    return table[keys + rest]


def _to_lonlat(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        raise ValueError("cannot write GeoJSON: the layer has no CRS")
    return gdf if gdf.crs.equals("EPSG:4326") else gdf.to_crs("EPSG:4326")


def _json_value(value: Any) -> Any:
    """A JSON-safe scalar: NaN/NA -> null, numpy scalars -> Python, dates -> ISO text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, str):
        return value
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, list | tuple | set | np.ndarray):
        return [_json_value(v) for v in value]
    return str(value)


def _round_coords(coords: Any, ndigits: int) -> Any:
    if isinstance(coords, list | tuple) and coords and isinstance(coords[0], int | float):
        return [round(float(c), ndigits) for c in coords[:2]]
    return [_round_coords(c, ndigits) for c in coords]


def _ring_area_m2(ring: list[list[float]]) -> float:
    """Signed area of a lon/lat ring in square metres (equirectangular; positive when
    counter-clockwise), accurate enough to tell a sliver from a courtyard."""
    xy = np.asarray(ring, dtype=float)
    if len(xy) < 4:
        return 0.0
    lat0 = math.radians(float(xy[:, 1].mean()))
    x = xy[:, 0] * 111_320.0 * math.cos(lat0)
    y = xy[:, 1] * 110_574.0
    return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


def _clean_ring(ring: list[list[float]]) -> list[list[float]]:
    """Drop consecutive duplicate positions that rounding created."""
    out = [ring[0]]
    for pos in ring[1:]:
        if pos != out[-1]:
            out.append(pos)
    if out[-1] != out[0]:
        out.append(out[0])
    return out


def _rfc7946_polygon(rings: list, min_hole_m2: float) -> list | None:
    """One rounded polygon with the right-hand rule enforced *after* rounding: exterior
    counter-clockwise, holes clockwise. Holes smaller than ``min_hole_m2`` (slivers left where
    cells were unioned, which rounding can flatten or flip) are dropped; ``None`` when the
    exterior itself collapsed."""
    exterior = _clean_ring(rings[0])
    area = _ring_area_m2(exterior)
    if len(exterior) < 4 or area == 0:
        return None
    out = [exterior if area > 0 else exterior[::-1]]
    for hole in rings[1:]:
        hole = _clean_ring(hole)
        h_area = _ring_area_m2(hole)
        if len(hole) < 4 or abs(h_area) < min_hole_m2:
            continue
        out.append(hole if h_area < 0 else hole[::-1])
    return out


def _geometry_json(geom: Any, ndigits: int, min_hole_m2: float) -> dict[str, Any] | None:
    if geom is None or shapely.is_empty(geom):
        return None
    gj = mapping(geom)
    kind = gj["type"]
    if kind == "GeometryCollection":
        return {
            "type": "GeometryCollection",
            "geometries": [_geometry_json(g, ndigits, min_hole_m2) for g in geom.geoms],
        }
    coords = _round_coords(gj["coordinates"], ndigits)
    if kind == "Polygon":
        poly = _rfc7946_polygon(coords, min_hole_m2)
        return {"type": "Polygon", "coordinates": poly if poly is not None else coords}
    if kind == "MultiPolygon":
        parts = [q for q in (_rfc7946_polygon(c, min_hole_m2) for c in coords) if q is not None]
        if not parts:
            return {"type": kind, "coordinates": coords}
        if len(parts) == 1:
            return {"type": "Polygon", "coordinates": parts[0]}
        return {"type": "MultiPolygon", "coordinates": parts}
    return {"type": kind, "coordinates": coords}


def _features(gdf: gpd.GeoDataFrame, ndigits: int, min_hole_m2: float) -> Iterator[dict[str, Any]]:
    geoms = gdf.geometry.to_numpy()
    props = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    columns = [str(c) for c in props.columns]
    for geom, row in zip(geoms, props.itertuples(index=False, name=None), strict=True):
        yield {
            "type": "Feature",
            "properties": {c: _json_value(v) for c, v in zip(columns, row, strict=True)},
            "geometry": _geometry_json(geom, ndigits, min_hole_m2),
        }


def _write_feature_collection(
    gdf: gpd.GeoDataFrame, path: Path, *, ndigits: int, min_hole_m2: float
) -> Path:
    lonlat = _to_lonlat(gdf)
    features = list(_features(lonlat, ndigits, min_hole_m2))
    collection = {"type": "FeatureCollection", "features": features}
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        json.dump(collection, fh, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    log.info("wrote %d features to %s", len(lonlat), path)
    return path


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------


def in_language(plan: Plan, *, lang: Lang = "zh", interface: Interface = "python") -> Plan:
    """The plan with its diagnostics rendered in ``lang`` and in the words of ``interface``
    (``cli`` names flags, ``app`` widgets), ready for any writer below."""
    return replace(plan, diagnostics=render_frame(plan.diagnostics, lang=lang, interface=interface))


def context_frames(plan: Plan) -> dict[str, gpd.GeoDataFrame]:
    """The plan's validated context layers that were given (:data:`CONTEXT_LAYERS` order),
    each with its id index as the first column (``community_id``, ``barrier_id`` ...)."""
    layers = getattr(plan, "layers", None)
    found = layers.context() if layers is not None else {}
    out: dict[str, gpd.GeoDataFrame] = {}
    for name in CONTEXT_LAYERS:
        frame = found.get(name)
        if frame is None:
            continue
        key = frame.index.name or f"{name.rstrip('s')}_id"
        frame = (
            frame.reset_index(drop=True) if key in frame.columns else frame.reset_index(names=key)
        )
        out[name] = _flat_values(frame)
    return out


def write_geopackage(plan: Plan, path: str | Path) -> Path:
    """Write the plan to one GeoPackage in the plan's input CRS.

    Layers: ``units`` (input columns plus ``grid_code``, ``microgrid_code``, ``grid_codes``),
    ``grids``, ``microgrids``, ``diagnostics`` (attribute table), ``summary`` (attribute
    table: the report's totals, streets and communities, see :func:`summary_table`),
    ``unit_parts`` and ``dedicated_residents`` (attribute tables, :func:`unit_part_tables`),
    then the context
    layers the plan was made with (:data:`CONTEXT_LAYERS`, see :func:`context_frames`), so a
    map printed from the file shows the same roads, barriers and compounds. An existing file
    is replaced.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    layers: dict[str, pd.DataFrame] = {
        "units": _flat_values(_units_frame(plan)),
        "grids": _flat_values(plan.grids),
        "microgrids": _flat_values(plan.microgrids),
        # machine columns (code, unit ids, params as JSON) next to the rendered text
        "diagnostics": flat(pd.DataFrame(plan.diagnostics)),
        "summary": summary_table(plan),
        **unit_part_tables(plan),
        **context_frames(plan),
    }
    # a fresh file renamed over the old one: no stale layer of an earlier plan survives, and an
    # interrupted run leaves the old file whole
    write_gpkg(p, layers, keep=False)
    log.info("wrote %s (%s)", p, ", ".join(layers))
    return p


def write_geojson(
    plan: Plan,
    folder: str | Path,
    *,
    precision: int = GEOJSON_PRECISION,
    min_hole_m2: float = MIN_HOLE_M2,
) -> list[Path]:
    """Write one RFC 7946 GeoJSON file per level: ``grids``, ``microgrids``, ``units``.

    Coordinates are WGS84 longitude/latitude rounded to ``precision`` decimals; polygons
    follow the right-hand rule (exterior rings counter-clockwise, holes clockwise); there is
    no ``crs`` member. Codes, counts and flags are feature properties; missing values are
    ``null``.

    Orientation is enforced on the *rounded* rings, so rounding cannot flip a ring. Holes
    under ``min_hole_m2`` (slivers where cells were unioned, invisible on any map) are left
    out, as are polygon parts that rounding collapsed; the GeoPackage keeps them.

    Returns
    -------
    list of pathlib.Path
        The three files, in the order grids, microgrids, units.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    levels = {
        "grids": plan.grids,
        "microgrids": plan.microgrids,
        "units": _units_frame(plan),
    }
    return [
        _write_feature_collection(
            gdf, out / f"{name}.geojson", ndigits=precision, min_hole_m2=min_hole_m2
        )
        for name, gdf in levels.items()
    ]


def unit_parts_frame(plan: Plan) -> pd.DataFrame:
    """Every piece of every unit, one row each: ``unit_id``, ``part``, ``grid_code``,
    ``microgrid_code``, ``households`` (:attr:`gridplan.Plan.unit_parts`).

    A unit in one grid and one micro-grid (or a dedicated grid) has one row; a building
    split across grids or micro-grids has one row per piece, so the rows of a grid add up to
    its households, and those of a micro-grid to the micro-grid's. A plan made without the
    table (by hand) gets one row per unit from its ``grid_code``/``microgrid_code``.

    Examples
    --------
    >>> import geopandas as gpd, gridplan
    >>> src = "data/camden_sample.gpkg"
    >>> p = gridplan.plan(gpd.read_file(src, layer="units"),
    ...                   communities=gpd.read_file(src, layer="communities"))
    >>> parts = unit_parts_frame(p)
    >>> by_grid = parts.groupby("grid_code")["households"].sum()
    >>> bool((by_grid == p.grids.set_index("grid_code")["households"]).all())
    True
    """
    parts = getattr(plan, "unit_parts", None)
    if parts is not None:
        out = pd.DataFrame(parts)[list(UNIT_PART_COLUMNS)].copy()
        out["unit_id"] = normalize_ids(out["unit_id"])
        return out.reset_index(drop=True)
    units = _units_frame(plan)
    return pd.DataFrame(
        {
            "unit_id": normalize_ids(units[units.columns[0]]),
            "part": 1,
            "grid_code": units["grid_code"].to_numpy(dtype=object),
            "microgrid_code": units["microgrid_code"].to_numpy(dtype=object)
            if "microgrid_code" in units.columns
            else None,
            "households": units["households"].to_numpy(dtype=np.int64),
        }
    )


def write_equivalency(plan: Plan, path: str | Path, *, encoding: str = "utf-8") -> Path:
    """Write the block-assignment (equivalency) file: one row per unit part.

    Columns ``unit_id``, ``part``, ``grid_code``, ``microgrid_code``, ``households``
    (:func:`unit_parts_frame`). A unit in one grid and one micro-grid has one row (part 1); a
    building split across grids or micro-grids has one row per piece with its households, so
    the file alone reproduces every grid's and every micro-grid's household total. A unit in
    a dedicated grid has no micro-grid. Plain UTF-8 without a byte-order mark, so districting
    tools read the header as is (pass ``encoding="utf-8-sig"`` for Excel).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    table = unit_parts_frame(plan)
    with atomic_path(p) as tmp:
        table.to_csv(tmp, index=False, encoding=encoding)
    log.info("wrote %d unit parts to %s", len(table), p)
    return p


def unit_part_tables(plan: Plan) -> dict[str, pd.DataFrame]:
    """The attribute tables a plan file carries about unit parts and homes in dedicated areas:
    ``unit_parts`` (:func:`unit_parts_frame`) and ``dedicated_residents`` (the report's table,
    where the plan has it)."""
    out = {"unit_parts": unit_parts_frame(plan)}
    homes = getattr(plan, "report", {}).get("dedicated_residents")
    if homes is not None:
        out["dedicated_residents"] = _flat_values(homes)
    return out


def text_width(value: object) -> int:
    """Width of ``value`` as text in a spreadsheet column: CJK characters count double.

    Examples
    --------
    >>> text_width("网格编码"), text_width("grid_code"), text_width(None)
    (8, 9, 0)
    """
    if value is None:
        return 0
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(value))


def excel_path(path: str | Path) -> Path:
    """``path`` as a Path, refused unless it names an Excel workbook (.xlsx/.xlsm)."""
    p = Path(path)
    if p.suffix.lower() not in (".xlsx", ".xlsm"):
        raise ValidationError(
            [
                Problem(
                    p.name,
                    "format",
                    f"cannot write {p.name!r}: expected an Excel workbook ending in .xlsx",
                )
            ]
        )
    return p


def write_workbook(path: str | Path, sheets: Mapping[str, pd.DataFrame]) -> Path:
    """Write ``sheets`` (name -> table) as one Excel workbook, the one workbook writer.

    Each sheet has its header row frozen and columns as wide as their header and first 200
    values (CJK characters count double, 8 to 60 characters), and the file is byte-identical
    for identical tables (:func:`gridplan.io.normalize_xlsx`).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(p) as tmp:  # an interrupted run never leaves half a workbook
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for name, frame in sheets.items():
                frame.to_excel(writer, sheet_name=name, index=False)
                ws = writer.sheets[name]
                ws.freeze_panes = "A2"
                for cells in ws.columns:
                    width = max((text_width(c.value) for c in cells[:201]), default=8)
                    ws.column_dimensions[cells[0].column_letter].width = min(max(width + 2, 8), 60)
        normalize_xlsx(tmp)
    return p


def write_report_xlsx(plan: Plan, path: str | Path) -> Path:
    """Write the report tables (``totals``, ``streets``, ``communities``, ``grids``,
    ``microgrids``), ``unit_parts``, ``dedicated_residents`` (:func:`unit_part_tables`) and
    ``diagnostics`` as sheets of one Excel workbook."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    sheets: dict[str, pd.DataFrame] = {
        name: plan.report[name]
        for name in ("totals", "streets", "communities", "grids", "microgrids")
        if name in plan.report
    }
    sheets.update(unit_part_tables(plan))
    sheets["diagnostics"] = flat(pd.DataFrame(plan.diagnostics))
    write_workbook(p, sheets)
    log.info("wrote %s", p)
    return p


#: household-list columns Excel must keep as text (codes with leading zeros, long ids)
HOUSEHOLD_TEXT_COLUMNS = ("grid_code", "microgrid_code", "unit_id")


def _excel_text(value: object) -> object:
    """A code for a CSV opened in Excel: ``="0001"`` keeps its leading zeros and its digits
    (Excel reads plain ``0001`` as the number 1, and 18 digits as 1.23E+17)."""
    if isinstance(value, str) and value and value.replace(";", "").isdigit():
        return f'="{value}"'
    return value


def _digit_text_columns(table: pd.DataFrame) -> list[str]:
    """Text columns of digits that Excel would mangle: a leading zero or 11+ digits (phone
    and ID numbers, postal codes)."""
    out = []
    for col in table.columns:
        values = [v for v in table[col].tolist() if isinstance(v, str) and v]
        if values and all(v.isdigit() for v in values):
            if any(v[0] == "0" or len(v) >= 11 for v in values):
                out.append(str(col))
    return out


def write_household_equivalency(
    table: pd.DataFrame,
    path: str | Path,
    *,
    report: pd.DataFrame | None = None,
    lang: Lang = "zh",
) -> list[Path]:
    """Write the household list (:func:`gridplan.addresses.household_equivalency`) as CSV and
    as XLSX next to it (same name, ``.xlsx``).

    The CSV is UTF-8 with a byte-order mark, for Excel, and writes codes as ``="…"`` so Excel
    keeps their leading zeros; the workbook holds them as text cells. Headers are in ``lang``
    (the roster's own headers as written). ``report`` (the roster join report) becomes a
    second sheet of the workbook.

    Returns
    -------
    list of pathlib.Path
        The CSV and the workbook.
    """
    from .i18n import label_columns, label_values, sheet_label

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    shown = label_values(table, lang)
    text_cols = [c for c in shown.columns if c in HOUSEHOLD_TEXT_COLUMNS] + _digit_text_columns(
        shown.drop(columns=list(HOUSEHOLD_TEXT_COLUMNS), errors="ignore")
    )
    csv = shown.copy()
    for col in text_cols:
        csv[col] = csv[col].map(_excel_text)
    with atomic_path(p) as tmp:
        label_columns(csv, lang).to_csv(tmp, index=False, encoding="utf-8-sig")
    book = p.with_suffix(".xlsx")
    sheets = {sheet_label("households", lang): label_columns(shown, lang)}
    if report is not None:
        sheets[sheet_label("roster_report", lang)] = _flat_values(report)
    write_workbook(book, sheets)
    log.info("wrote %d households to %s and %s", len(table), p, book)
    return [p, book]
