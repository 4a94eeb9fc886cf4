"""Read and write layers.

Planners hand over data in whatever their office uses: GeoPackages, GeoJSON from web tools,
zipped Shapefiles from desktop GIS (often with Chinese attribute names in GBK), GeoParquet,
and plain CSV / Excel sheets with longitude and latitude columns. :func:`read_layer` reads all
of them into a GeoDataFrame through pyogrio and turns every reading failure into a
:class:`~gridplan.errors.ValidationError` that says what was given and what was expected.

* :func:`read_layer`, :func:`list_layers`, :func:`write_layer`: layers in every format;
* :func:`read_table`: the one reader of plain CSV (UTF-8, UTF-8 with BOM, GBK, GB18030) and
  XLSX tables, behind CSV/XLSX layers and staffing rosters;
* :func:`parse_columns`: the one parser of a planner's column renaming (CLI and app);
* :func:`write_gpkg`, :func:`pin_gpkg_timestamps`, :func:`normalize_xlsx`: byte-identical
  GeoPackages and workbooks for identical plans, without any process-wide GDAL setting.

Examples
--------
>>> units = read_layer("data/camden_sample.gpkg", layer="units")
>>> units.crs.to_epsg(), "households" in units.columns
(27700, True)
"""

from __future__ import annotations

import logging
import re
import sqlite3
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from .crs import output_crs
from .errors import Problem, ValidationError

logger = logging.getLogger(__name__)

#: file suffixes :func:`read_layer` understands, by format
FORMATS: dict[str, str] = {
    ".gpkg": "gpkg",
    ".geojson": "geojson",
    ".json": "geojson",
    ".zip": "shapefile_zip",
    ".shp": "shapefile",
    ".parquet": "parquet",
    ".geoparquet": "parquet",
    ".csv": "csv",
    ".txt": "csv",
    ".xlsx": "excel",
    ".xlsm": "excel",
}
#: column names read as longitude / x and latitude / y in CSV/XLSX tables (case-insensitive)
X_NAMES = ("lon", "lng", "long", "longitude", "经度", "x", "x坐标", "lon_wgs84", "wgs84_lon")
Y_NAMES = ("lat", "latitude", "纬度", "y", "y坐标", "lat_wgs84", "wgs84_lat")
#: encodings tried, in order, for a CSV without a stated encoding: UTF-8 (with or without a
#: byte-order mark), then GB18030, a superset of GBK and GB2312, which offices' Excel writes
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
_WKT_NAMES = ("geometry", "wkt", "geom", "the_geom")
_CPG_ALIASES = {
    "936": "GB18030",
    "CP936": "GB18030",
    "ANSI 936": "GB18030",
    "GBK": "GB18030",
    "GB2312": "GB18030",
    "GB18030": "GB18030",
    "54936": "GB18030",
    "UTF-8": "UTF-8",
    "UTF8": "UTF-8",
    "65001": "UTF-8",
}


def _fail(path: Path | str, check: str, message: str) -> ValidationError:
    return ValidationError([Problem(Path(path).name, check, message)])


def _format_of(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise _fail(
            path,
            "unknown_format",
            f"cannot read {path.name!r}: unknown file type {path.suffix or '(none)'!r}; expected "
            f"one of {', '.join(sorted(FORMATS))}",
        )
    return fmt


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise _fail(path, "missing_file", f"file not found: {str(path)!r}")
    if path.is_dir():
        raise _fail(path, "not_a_file", f"{str(path)!r} is a folder; pass a file inside it")


def _rename(gdf: gpd.GeoDataFrame, columns: Mapping[str, str] | None) -> gpd.GeoDataFrame:
    if not columns:
        return gdf
    return gdf.rename(columns={k: v for k, v in columns.items() if k in gdf.columns})


# ---------------------------------------------------------------------------------------------
# layers and shapefiles
# ---------------------------------------------------------------------------------------------


def _zip_shapefiles(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as exc:
        raise _fail(path, "bad_zip", f"{path.name!r} is not a readable zip file ({exc})") from exc
    return sorted(n for n in names if n.lower().endswith(".shp") and not n.startswith("__MACOSX"))


def list_layers(path: str | Path) -> list[str]:
    """Names of the layers in ``path``: GeoPackage layers, Shapefiles in a zip, Excel sheets,
    or the file's stem for single-layer formats."""
    p = Path(path)
    _check_exists(p)
    fmt = _format_of(p)
    if fmt == "gpkg":
        try:
            return [str(name) for name, _ in pyogrio.list_layers(p)]
        except Exception as exc:  # pyogrio raises DataSourceError and friends
            raise _fail(p, "unreadable", f"cannot open {p.name!r}: {exc}") from exc
    if fmt == "shapefile_zip":
        return [Path(n).stem for n in _zip_shapefiles(p)]
    if fmt == "excel":
        try:
            with pd.ExcelFile(p, engine="openpyxl") as xl:
                return [str(s) for s in xl.sheet_names]
        except Exception as exc:
            raise _fail(p, "unreadable", f"cannot open {p.name!r}: {exc}") from exc
    return [p.stem]


def _cpg_encoding(text: str) -> str:
    key = text.strip().upper()
    return _CPG_ALIASES.get(key, text.strip())


def _read_cpg(path: Path, shp: str | None) -> str | None:
    """Encoding named by the Shapefile's .cpg sidecar, if there is one."""
    if shp is None:  # a plain .shp on disk
        for cpg in (path.with_suffix(".cpg"), path.with_suffix(".CPG")):
            if cpg.exists():
                return _cpg_encoding(cpg.read_text(errors="replace"))
        return None
    stem = shp[: -len(".shp")]
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.lower() == (stem + ".cpg").lower():
                return _cpg_encoding(zf.read(name).decode("ascii", errors="replace"))
    return None


def _read_shapefile(source: str, encodings: list[str | None], path: Path) -> gpd.GeoDataFrame:
    """Read with the first encoding that decodes: GBK data read as UTF-8 fails loudly in
    pyogrio, so trying UTF-8 before GB18030 cannot silently produce mojibake."""
    last: Exception | None = None
    for enc in encodings:
        try:
            gdf = pyogrio.read_dataframe(source, encoding=enc)
            logger.info("read %s with encoding %s", path.name, enc or "from GDAL")
            return gdf
        except UnicodeDecodeError as exc:
            last = exc
        except LookupError as exc:  # an encoding name Python does not know
            last = exc
    raise _fail(
        path,
        "encoding",
        f"cannot decode the attributes of {path.name!r} with {encodings} ({last}); "
        "pass encoding='...' (CLI: an encoding-named .cpg file next to the .shp)",
    )


def _shapefile(
    path: Path, *, layer: str | None, encoding: str | None, zipped: bool
) -> gpd.GeoDataFrame:
    shp: str | None = None
    if zipped:
        shps = _zip_shapefiles(path)
        if not shps:
            raise _fail(path, "no_shapefile", f"{path.name!r} holds no .shp file")
        if layer is None:
            shp = shps[0]
            if len(shps) > 1:
                logger.warning("%s holds %d shapefiles; reading %s", path.name, len(shps), shp)
        else:
            match = [s for s in shps if Path(s).stem == layer or s == layer]
            if not match:
                raise _fail(
                    path,
                    "missing_layer",
                    f"no shapefile {layer!r} in {path.name!r}; it holds "
                    f"{', '.join(Path(s).stem for s in shps)}",
                )
            shp = match[0]
        source = f"/vsizip/{path.resolve()}/{shp}"
    else:
        source = str(path)
    if encoding is not None:
        encodings: list[str | None] = [encoding]
    else:
        cpg = _read_cpg(path, shp)
        encodings = [cpg, "UTF-8", "GB18030"] if cpg else ["UTF-8", "GB18030"]
        encodings = list(dict.fromkeys(encodings))
    return _read_shapefile(source, encodings, path)


def _ogr(path: Path, *, layer: str | None, encoding: str | None) -> gpd.GeoDataFrame:
    if path.suffix.lower() == ".gpkg":
        names = list_layers(path)
        if layer is None:
            # the first layer, without pyogrio's "more than one layer" warning
            layer = names[0] if names else None
        elif layer not in names:
            raise _fail(
                path,
                "missing_layer",
                f"no layer {layer!r} in {path.name!r}; it holds {', '.join(names) or 'no layers'}",
            )
    try:
        return pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
    except Exception as exc:
        raise _fail(path, "unreadable", f"cannot read {path.name!r}: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# tables with coordinates
# ---------------------------------------------------------------------------------------------


def read_table(
    path: str | Path,
    *,
    sheet: str | int | None = None,
    encoding: str | None = None,
    dtype: Any = None,
) -> pd.DataFrame:
    """Read a plain table: CSV (or .txt) in UTF-8, UTF-8 with BOM, GBK or GB18030, or XLSX.

    This is the one table reader: layers given as CSV/XLSX with coordinates and staffing
    rosters both come through it.

    Parameters
    ----------
    path
        ``.csv``/``.txt`` or ``.xlsx``/``.xlsm``.
    sheet
        Excel sheet name or position (default the first).
    encoding
        CSV encoding; by default :data:`CSV_ENCODINGS` are tried in turn. GBK text read as
        UTF-8 fails to decode, so trying UTF-8 first cannot silently give mojibake.
    dtype
        Passed to pandas (``object`` keeps ids such as ``007`` and phone numbers as text).

    Raises
    ------
    ValidationError
        Missing file, unknown type, undecodable or unparsable text, unreadable workbook.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "roster.csv"
    >>> _ = p.write_bytes("姓名,户数\\n张三,3\\n".encode("gbk"))
    >>> read_table(p).to_dict("records")
    [{'姓名': '张三', '户数': 3}]
    """
    p = Path(path)
    _check_exists(p)
    fmt = _format_of(p)
    if fmt == "csv":
        encodings = [encoding] if encoding else list(CSV_ENCODINGS)
        last: Exception | None = None
        for enc in encodings:
            try:
                return pd.read_csv(p, encoding=enc, dtype=dtype)
            except (UnicodeDecodeError, LookupError) as exc:
                last = exc
            except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
                raise _fail(p, "unreadable", f"cannot parse {p.name!r} as CSV: {exc}") from exc
        raise _fail(
            p,
            "encoding",
            f"cannot decode {p.name!r} as {' or '.join(encodings)} ({last}); save it as UTF-8 "
            "or pass encoding=",
        )
    if fmt == "excel":
        try:
            return pd.read_excel(
                p, sheet_name=sheet if sheet is not None else 0, engine="openpyxl", dtype=dtype
            )
        except Exception as exc:
            raise _fail(p, "unreadable", f"cannot read {p.name!r} as Excel: {exc}") from exc
    raise _fail(
        p,
        "unknown_format",
        f"cannot read {p.name!r} as a table: expected .csv, .txt, .xlsx or .xlsm",
    )


def find_column(columns: Iterable[object], candidates: Iterable[str]) -> str | None:
    """The first of ``candidates`` among ``columns``, compared case- and space-insensitively;
    returns the column as it is spelled in ``columns``.

    Examples
    --------
    >>> find_column(["ID", " Lon ", "LAT"], X_NAMES)
    ' Lon '
    >>> find_column(["a"], Y_NAMES) is None
    True
    """
    lowered: dict[str, str] = {}
    for c in columns:
        lowered.setdefault(str(c).strip().lower(), str(c))
    for name in candidates:
        hit = lowered.get(name.strip().lower())
        if hit is not None:
            return hit
    return None


_MAPPING_SPLIT = re.compile(r"\s*(?:=|->|→|:|：)\s*")


def parse_columns(text: str | None) -> dict[str, str]:
    """Column renaming written by a planner: ``source = target`` entries.

    The one parser behind the CLI's ``--columns 户数=households,楼号=unit_id`` and the app's
    text box (one entry per line). Entries are separated by new lines or commas (``,``/``，``);
    ``=``, ``->``, ``→``, ``:`` and ``：`` separate source from target; blank entries and ``#``
    comments are skipped.

    Raises
    ------
    ValidationError
        Naming every entry that is not ``source = target`` and every source given twice.

    Examples
    --------
    >>> parse_columns("户数=households,楼号 -> unit_id")
    {'户数': 'households', '楼号': 'unit_id'}
    >>> parse_columns("户数 = households\\n# a note\\n人口：population")
    {'户数': 'households', '人口': 'population'}
    >>> parse_columns("户数")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridplan.errors.ValidationError: 1 problem found in the input:
      - [columns] cannot read column mapping entry '户数'; write each as source = target ...
    """
    mapping: dict[str, str] = {}
    problems: list[Problem] = []
    for line in (text or "").splitlines():
        line = line.split("#", 1)[0]
        for entry in re.split(r"[,，]", line):
            entry = entry.strip()
            if not entry:
                continue
            parts = _MAPPING_SPLIT.split(entry, maxsplit=1)
            if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
                problems.append(
                    Problem(
                        "columns",
                        "bad_mapping",
                        f"cannot read column mapping entry {entry!r}; write each as "
                        "source = target (OLD=NEW), e.g. 户数=households",
                    )
                )
                continue
            old, new = parts[0].strip(), parts[1].strip()
            if old in mapping and mapping[old] != new:
                problems.append(
                    Problem(
                        "columns",
                        "bad_mapping",
                        f"column {old!r} is mapped twice ({mapping[old]!r} and {new!r}); keep one",
                    )
                )
                continue
            mapping[old] = new
    if problems:
        raise ValidationError(problems)
    return mapping


def _table_to_gdf(
    df: pd.DataFrame,
    path: Path,
    *,
    x: str | None,
    y: str | None,
    crs: Any,
) -> gpd.GeoDataFrame:
    columns = [str(c) for c in df.columns]
    df = df.copy()
    df.columns = columns
    target_crs = crs if crs is not None else "EPSG:4326"
    if x is None and y is None:
        wkt = find_column(columns, _WKT_NAMES)
        if wkt is not None:
            text = df[wkt].astype(object).where(df[wkt].notna(), None)
            try:
                geoms = shapely.from_wkt(text.to_numpy(), on_invalid="raise")
            except Exception as exc:
                raise _fail(
                    path, "bad_wkt", f"column {wkt!r} of {path.name!r} is not WKT: {exc}"
                ) from exc
            return gpd.GeoDataFrame(df.drop(columns=[wkt]), geometry=geoms, crs=target_crs)
    xcol = x if x is not None else find_column(columns, X_NAMES)
    ycol = y if y is not None else find_column(columns, Y_NAMES)
    missing = [
        name for name, col in (("x", xcol), ("y", ycol)) if col is None or col not in columns
    ]
    if missing:
        raise _fail(
            path,
            "no_coordinates",
            f"cannot find the coordinate columns of {path.name!r} (columns: "
            f"{', '.join(columns)}); expected longitude/latitude columns named like "
            f"{'/'.join(X_NAMES[:5])} and {'/'.join(Y_NAMES[:3])}, a WKT `geometry` column, "
            "or pass x=... and y=... (CLI: --columns to rename)",
        )
    assert xcol is not None and ycol is not None
    xs = pd.to_numeric(df[xcol], errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(df[ycol], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    geoms = np.full(len(df), None, dtype=object)
    geoms[ok] = shapely.points(xs[ok], ys[ok])
    if (~ok).any():
        logger.warning("%s: %d rows have no usable coordinates", path.name, int((~ok).sum()))
    return gpd.GeoDataFrame(df, geometry=geoms, crs=target_crs)


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------


def read_layer(
    path: str | Path,
    *,
    layer: str | None = None,
    columns: Mapping[str, str] | None = None,
    encoding: str | None = None,
    x: str | None = None,
    y: str | None = None,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Read one layer from a file into a GeoDataFrame.

    Parameters
    ----------
    path
        GeoPackage, GeoJSON, zipped Shapefile (``.zip``), Shapefile, GeoParquet, CSV or XLSX.
    layer
        GeoPackage layer, Shapefile name inside a zip, or Excel sheet (default: the first).
    columns
        Renaming applied after reading, e.g. ``{"户数": "households"}``.
    encoding
        Attribute encoding for Shapefiles/CSV. By default a Shapefile's ``.cpg`` is honoured,
        otherwise UTF-8 and then GB18030 (a superset of GBK) are tried.
    x, y
        Coordinate columns of a CSV/XLSX; by default found among lon/lng/longitude/经度/x and
        lat/latitude/纬度/y, or a WKT column named ``geometry``/``wkt``.
    crs
        CRS of CSV/XLSX coordinates (default EPSG:4326); for other formats, the CRS to assign
        when the file has none.

    Raises
    ------
    ValidationError
        Missing file, unknown format, missing layer, undecodable attributes, no coordinate
        columns: always a readable message instead of a GDAL traceback.
    """
    p = Path(path)
    _check_exists(p)
    fmt = _format_of(p)
    if fmt == "gpkg" or fmt == "geojson":
        gdf = _ogr(p, layer=layer, encoding=encoding)
    elif fmt == "shapefile_zip":
        gdf = _shapefile(p, layer=layer, encoding=encoding, zipped=True)
    elif fmt == "shapefile":
        gdf = _shapefile(p, layer=layer, encoding=encoding, zipped=False)
    elif fmt == "parquet":
        try:
            gdf = gpd.read_parquet(p)
        except Exception as exc:
            raise _fail(p, "unreadable", f"cannot read {p.name!r} as GeoParquet: {exc}") from exc
    else:  # csv or excel
        table = read_table(p, sheet=layer if fmt == "excel" else None, encoding=encoding)
        gdf = _table_to_gdf(table, p, x=x, y=y, crs=crs)
    if crs is not None and gdf.crs is None:
        gdf = gdf.set_crs(crs)
    return _rename(gdf, columns)


def _flat(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Move a named index (``unit_id``, ``grid_id``...) into a column so it is written out."""
    if gdf.index.name is not None and gdf.index.name not in gdf.columns:
        return gdf.reset_index()
    return gdf


def write_layer(gdf: gpd.GeoDataFrame, path: str | Path, *, layer: str | None = None) -> Path:
    """Write ``gdf`` to a GeoPackage (``layer`` name, default the file stem; other layers are
    kept), GeoJSON (RFC 7946, WGS84), GeoParquet, or CSV.

    CSV holds ``lon``/``lat`` columns when every geometry is a point and a WKT ``geometry``
    column otherwise, both in WGS84 (EPSG:4326) so :func:`read_layer` reads it back as is.
    A named index is written as a column.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    out = _flat(gdf)
    if suffix == ".gpkg":
        write_gpkg(p, {layer or p.stem: out})
    elif suffix in (".geojson", ".json"):
        if out.crs is not None:
            out = out.to_crs(output_crs(out.crs, fmt="geojson"))
        if p.exists():
            p.unlink()  # GeoJSON has no layers; replace the file
        pyogrio.write_dataframe(out, p, driver="GeoJSON", layer_options={"RFC7946": "YES"})
    elif suffix in (".parquet", ".geoparquet"):
        out.to_parquet(p)
    elif suffix == ".csv":
        if out.crs is not None:
            out = out.to_crs(output_crs(out.crs, fmt="csv"))
        geoms = out.geometry
        table = pd.DataFrame(out.drop(columns=[geoms.name]))
        types = set(geoms.dropna().geom_type)
        if types == {"Point"} and geoms.notna().all():
            table["lon"] = geoms.x.to_numpy()
            table["lat"] = geoms.y.to_numpy()
        else:
            table["geometry"] = shapely.to_wkt(geoms.to_numpy(), rounding_precision=-1)
        table.to_csv(p, index=False, encoding="utf-8-sig")
    else:
        raise _fail(
            p,
            "unknown_format",
            f"cannot write {p.name!r}: expected .gpkg, .geojson, .parquet or .csv",
        )
    logger.info("wrote %d rows to %s", len(out), p)
    return p


#: Timestamp written into GeoPackage and workbook metadata, so that the same plan gives
#: byte-identical files (GDAL and openpyxl would otherwise stamp the current time).
FIXED_TIMESTAMP = "2000-01-01T00:00:00Z"


def pin_gpkg_timestamps(path: str | Path) -> Path:
    """Set every timestamp GDAL wrote into the GeoPackage ``path`` to :data:`FIXED_TIMESTAMP`.

    GDAL stamps ``gpkg_contents.last_change`` (and ``gpkg_metadata_reference.timestamp``,
    where that table exists) with the time of writing; pinning them in the file itself keeps
    the same plan byte-identical across runs without changing any GDAL setting of the process
    (Streamlit sessions and threads share it).
    """
    p = Path(path)
    con = sqlite3.connect(p)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        # zero the bytes of the replaced values, so no trace of the old time stays in the file
        con.execute("PRAGMA secure_delete = ON")
        with con:
            if "gpkg_contents" in tables:
                con.execute("UPDATE gpkg_contents SET last_change = ?", (FIXED_TIMESTAMP,))
            if "gpkg_metadata_reference" in tables:
                con.execute("UPDATE gpkg_metadata_reference SET timestamp = ?", (FIXED_TIMESTAMP,))
    finally:
        con.close()
    return p


def write_gpkg(path: str | Path, layers: Mapping[str, pd.DataFrame]) -> Path:
    """Write ``layers`` (name -> GeoDataFrame or attribute table) into one GeoPackage, in
    order, with its timestamps pinned (:func:`pin_gpkg_timestamps`). Other layers already in
    the file are kept."""
    p = Path(path)
    for name, frame in layers.items():
        pyogrio.write_dataframe(frame, p, layer=name, driver="GPKG")
    return pin_gpkg_timestamps(p)


@contextmanager
def reproducible_gdal() -> Iterator[None]:
    """Deprecated: sets GDAL's ``OGR_CURRENT_DATE`` for the whole process while the block runs.

    Kept only until ``gridplan grids`` writes through :func:`write_gpkg`; use that (or
    :func:`pin_gpkg_timestamps` after writing) instead.
    """
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_TIMESTAMP})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def normalize_xlsx(path: str | Path) -> Path:
    """Rewrite an .xlsx so it is byte-identical for identical content: fixed zip entry dates
    and fixed created/modified times in ``docProps/core.xml``."""
    p = Path(path)
    with zipfile.ZipFile(p) as z:
        items = [(info, z.read(info.filename)) for info in z.infolist()]
    stamp = FIXED_TIMESTAMP.encode()
    tmp = p.with_name(p.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for info, content in items:
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, content
                )
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            z.writestr(entry, content)
    tmp.replace(p)
    return p
