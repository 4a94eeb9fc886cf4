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
import os
import re
import shutil
import sqlite3
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from .addresses import read_roster as read_roster  # household rosters (gridplan.addresses)
from .crs import output_crs
from .errors import Interface, Problem, ValidationError, describe_rows, option
from .validate import coordinate_problems, degree_problems

logger = logging.getLogger(__name__)
_Frame = TypeVar("_Frame", bound=pd.DataFrame)

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


def _check_not_empty(path: Path) -> None:
    if path.stat().st_size == 0:
        raise _fail(
            path,
            "empty_file",
            f"the file {path.name!r} is empty (0 bytes); export the layer again or pick the "
            "right file",
        )


def _rename(
    gdf: Any, columns: Mapping[str, str] | None, path: Path, interface: Interface = "python"
) -> Any:
    """``gdf`` with ``columns`` renamed (keys it lacks are skipped); a renaming that would give
    two columns one name is refused, naming them."""
    if not columns:
        return gdf
    mapping = {k: v for k, v in columns.items() if k in gdf.columns and k != v}
    if not mapping:
        return gdf
    out = gdf.rename(columns=mapping)
    dup = sorted({str(c) for c in out.columns[out.columns.duplicated()]})
    if dup:
        raise _fail(
            path,
            "duplicate_column",
            f"renaming {mapping} gives {path.name!r} two columns named {', '.join(dup)}; "
            + option("columns_drop", interface, old=next(iter(mapping)), new=dup[0]),
        )
    return out


# ---------------------------------------------------------------------------------------------
# layers and shapefiles
# ---------------------------------------------------------------------------------------------


#: Largest number of bytes :func:`read_layer` extracts from one zipped Shapefile (all of its
#: sidecar files together). The bytes actually decompressed are counted, not the sizes the zip
#: declares, so a zip that lies about its sizes cannot fill the disk or the memory.
MAX_ZIP_BYTES = 2 * 1024**3
#: Shapefile sidecars extracted with the .shp (the .shx and .dbf are required)
_SHP_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError)


def _unsafe_member(name: str) -> bool:
    """A member name that would be written outside the folder it is extracted to."""
    norm = name.replace("\\", "/")
    return (
        norm.startswith("/")
        or bool(re.match(r"^[A-Za-z]:", norm))
        or ".." in norm.split("/")
        or "\x00" in norm
    )


def _zip_members(path: Path) -> list[str]:
    """Member names of the zip ``path``, refusing the archive if any would escape its folder."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except _ZIP_ERRORS as exc:
        raise _fail(path, "bad_zip", f"{path.name!r} is not a readable zip file ({exc})") from exc
    unsafe = [n for n in names if _unsafe_member(n)]
    if unsafe:
        raise _fail(
            path,
            "unsafe_zip",
            f"{path.name!r} holds {len(unsafe)} member(s) with a path outside the archive "
            f"({describe_rows(unsafe, limit=5)}); gridplan does not read such zips. Zip the "
            "Shapefile's files again from their own folder.",
        )
    return names


def safe_zip_members(path: str | Path) -> list[str]:
    """Member names of the zip ``path``; a damaged zip, or one with a member that would be
    written outside its folder, is refused with a :class:`~gridplan.errors.ValidationError`."""
    return _zip_members(Path(path))


def _junk_member(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return name.startswith("__MACOSX") or base.startswith("._") or base.startswith(".")


def _zip_shapefiles(path: Path) -> list[str]:
    """The complete Shapefiles (.shp with its .shx and .dbf) in the zip ``path``, sorted;
    macOS resource forks, hidden files and .shp files missing a sidecar are passed over."""
    names = _zip_members(path)
    lowered = {n.lower() for n in names}
    shps = sorted(n for n in names if n.lower().endswith(".shp") and not _junk_member(n))
    complete = [n for n in shps if {n[:-4].lower() + ".shx", n[:-4].lower() + ".dbf"} <= lowered]
    if shps and not complete:
        raise _fail(
            path,
            "incomplete_shapefile",
            f"{path.name!r} holds {', '.join(shps)} but not the .shx and .dbf files a Shapefile "
            "needs next to the .shp; zip all the files of the Shapefile together",
        )
    return complete


def extract_zip(
    source: str | Path | bytes,
    dest: str | Path,
    *,
    members: Iterable[str] | None = None,
    limit: int | None = None,
    name: str | None = None,
) -> list[Path]:
    """Extract a zip (a path or its bytes) into ``dest`` safely; return the files written.

    * member names with ``..``, an absolute path or a drive letter are refused before
      anything is written;
    * the bytes actually decompressed are counted against ``limit`` (default
      :data:`MAX_ZIP_BYTES`), so a zip whose declared sizes lie cannot fill the disk;
    * a damaged zip, a CRC mismatch or sizes that do not match the contents give a
      :class:`~gridplan.errors.ValidationError`, never ``BadZipFile``.

    ``members`` limits extraction to those names (compared case-insensitively); ``name`` is
    the archive's name in messages (default the file name, or ``"zip"`` for bytes).

    Examples
    --------
    >>> import io as _io, tempfile
    >>> buf = _io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w") as z:
    ...     z.writestr("../../etc/passwd", b"x")
    >>> extract_zip(buf.getvalue(), tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridplan.errors.ValidationError: 1 problem found in the input:
      - [zip] 'zip' holds 1 member(s) with a path outside the archive (../../etc/passwd); ...
    """
    import io as _io

    label = name or (Path(source).name if not isinstance(source, bytes) else "zip")
    cap = MAX_ZIP_BYTES if limit is None else limit
    opener = _io.BytesIO(source) if isinstance(source, bytes) else source
    root = Path(dest).resolve()
    wanted = {m.lower() for m in members} if members is not None else None
    written: list[Path] = []
    total = 0
    try:
        with zipfile.ZipFile(opener) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            unsafe = [i.filename for i in infos if _unsafe_member(i.filename)]
            if unsafe:
                raise _fail(
                    label,
                    "unsafe_zip",
                    f"{label!r} holds {len(unsafe)} member(s) with a path outside the archive "
                    f"({describe_rows(unsafe, limit=5)}); gridplan does not read such zips. "
                    "Zip the files again from their own folder.",
                )
            for info in infos:
                if wanted is not None and info.filename.lower() not in wanted:
                    continue
                out = (root / info.filename.replace("\\", "/")).resolve()
                if not out.is_relative_to(root):  # belt and braces after the name check
                    raise _fail(label, "unsafe_zip", f"member {info.filename!r} leaves the folder")
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(out, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        total += len(chunk)
                        if total > cap:
                            raise _fail(
                                label,
                                "zip_too_large",
                                f"{label!r} unpacks to more than {cap / 1e6:,.1f} MB; gridplan "
                                "stops there. Split the layer or send it as a GeoPackage",
                            )
                        dst.write(chunk)
                written.append(out)
    except ValidationError:
        raise
    except (*_ZIP_ERRORS, NotImplementedError, RuntimeError) as exc:
        raise _fail(
            label,
            "bad_zip",
            f"{label!r} is damaged or its sizes do not match its contents ({exc}); zip the "
            "files again",
        ) from exc
    return written


def _extract_shapefile(path: Path, shp: str, folder: Path, *, limit: int) -> Path:
    """Extract ``shp`` and its sidecars into ``folder`` (:func:`extract_zip`)."""
    stem = shp[:-4]
    files = extract_zip(
        path, folder, members=[stem + ext for ext in _SHP_SIDECARS], limit=limit, name=path.name
    )
    return next(f for f in files if f.suffix.lower() == ".shp")


def list_layers(path: str | Path) -> list[str]:
    """Names of the layers in ``path``: GeoPackage layers, Shapefiles in a zip, Excel sheets,
    or the file's stem for single-layer formats."""
    p = Path(path)
    _check_exists(p)
    fmt = _format_of(p)
    _check_not_empty(p)
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
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename.lower() == (stem + ".cpg").lower():
                    with zf.open(info) as f:
                        return _cpg_encoding(f.read(256).decode("ascii", errors="replace"))
    except (*_ZIP_ERRORS, NotImplementedError, RuntimeError) as exc:
        raise _fail(path, "bad_zip", f"{path.name!r} is damaged ({exc}); zip it again") from exc
    return None


def _read_shapefile(
    source: str, encodings: list[str | None], path: Path, *, interface: Interface = "python"
) -> gpd.GeoDataFrame:
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
        except Exception as exc:  # pyogrio's DataSourceError and friends
            raise _fail(
                path, "unreadable", f"cannot read the Shapefile in {path.name!r}: {exc}"
            ) from exc
    raise _fail(
        path,
        "encoding",
        f"cannot decode the attributes of {path.name!r} with {encodings} ({last}); "
        f"{option('encoding', interface)}",
    )


def _shapefile(
    path: Path,
    *,
    layer: str | None,
    encoding: str | None,
    zipped: bool,
    interface: Interface = "python",
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
    if encoding is not None:
        encodings: list[str | None] = [encoding]
    else:
        cpg = _read_cpg(path, shp)
        encodings = [cpg, "UTF-8", "GB18030"] if cpg else ["UTF-8", "GB18030"]
        encodings = list(dict.fromkeys(encodings))
    if shp is None:
        return _read_shapefile(str(path), encodings, path, interface=interface)
    # extract the one Shapefile chosen, counting the bytes, instead of letting GDAL follow the
    # sizes the zip declares
    with tempfile.TemporaryDirectory(prefix="gridplan-zip-") as folder:
        local = _extract_shapefile(path, shp, Path(folder), limit=MAX_ZIP_BYTES)
        return _read_shapefile(str(local), encodings, path, interface=interface)


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
    if fmt in ("csv", "excel"):
        _check_not_empty(p)
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


#: names of every coordinate and household column a header row is recognised by
_HEADER_WORDS = {
    n.lower()
    for n in (*X_NAMES, *Y_NAMES, *_WKT_NAMES, "households", "户数", "unit_id", "楼号", "名称")
}


def header_hint(df: pd.DataFrame) -> str:
    """A sentence on where a table's header row seems to be, or ``""`` when the first row
    reads as a header.

    Spreadsheets from offices often carry a title row or two above the header, or a header
    whose cells are merged; pandas then names the columns ``Unnamed: 1``, ``Unnamed: 2``...

    Examples
    --------
    >>> df = pd.DataFrame([["楼号", "户数", "经度", "纬度"], ["1", 120, 112.5, 37.8]],
    ...                   columns=["某社区住户统计", "Unnamed: 1", "Unnamed: 2", "Unnamed: 3"])
    >>> header_hint(df)  # doctest: +ELLIPSIS
    'the header row seems to be row 2 of the sheet (楼号, 户数, 经度, 纬度), not row 1; ...'
    """
    names = [str(c) for c in df.columns]
    unnamed = [i for i, c in enumerate(names) if c.startswith("Unnamed:")]
    if not unnamed:
        return ""
    best: tuple[int, int] | None = None
    for i, row in enumerate(df.head(20).itertuples(index=False)):
        words = [str(v).strip() for v in row if isinstance(v, str) and v.strip()]
        score = sum(w.lower() in _HEADER_WORDS for w in words) * 10 + len(words)
        if words and (best is None or score > best[1]):
            best = (i, score)
    if best is not None and best[1] >= 20:
        i = best[0]
        shown = ", ".join(str(v) for v in df.iloc[i].tolist() if pd.notna(v))
        return (
            f"the header row seems to be row {i + 2} of the sheet ({shown}), not row 1; "
            f"delete the {i + 1} row(s) above it and unmerge its cells, then read it again"
        )
    cols = ", ".join(str(i + 1) for i in unnamed[:10])
    return (
        f"column(s) {cols} of the header row have no name, as when header cells are merged; "
        "unmerge the header cells so every column has its own name in row 1"
    )


def _coordinate_crs(crs: Any, path: Path) -> Any:
    if crs is None:
        return "EPSG:4326"
    import pyproj

    try:
        return pyproj.CRS.from_user_input(crs)
    except Exception as exc:  # pyproj.exceptions.CRSError, TypeError
        raise _fail(
            path,
            "bad_crs",
            f"crs={crs!r} is not a coordinate reference system ({exc}); give an EPSG code such "
            "as 'EPSG:4326' (WGS84 lon/lat), 'EPSG:4490' (CGCS2000 lon/lat) or 'EPSG:4547' "
            "(CGCS2000 / Gauss-Kruger CM 114E)",
        ) from exc


def _table_to_gdf(
    df: pd.DataFrame,
    path: Path,
    *,
    x: str | None,
    y: str | None,
    crs: Any,
    interface: Interface = "python",
) -> gpd.GeoDataFrame:
    columns = [str(c) for c in df.columns]
    df = df.copy()
    df.columns = columns
    target_crs = _coordinate_crs(crs, path)
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
        hint = header_hint(df)
        raise _fail(
            path,
            "no_coordinates",
            f"cannot find the coordinate columns of {path.name!r} (columns: "
            f"{', '.join(columns)}); expected longitude/latitude columns named like "
            f"{'/'.join(X_NAMES[:5])} and {'/'.join(Y_NAMES[:3])}, or a WKT `geometry` column; "
            + (hint if hint else option("coordinates", interface, x="<x column>", y="<y column>")),
        )
    assert xcol is not None and ycol is not None
    xs = pd.to_numeric(df[xcol], errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(df[ycol], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    if getattr(target_crs, "is_geographic", False) or target_crs == "EPSG:4326":
        id_col = find_column(columns, ("unit_id",))
        # without ids, the line numbers a spreadsheet shows (the header is line 1)
        ids = df[id_col].tolist() if id_col else [i + 2 for i in range(len(df))]
        found = coordinate_problems(
            xs,
            ys,
            layer=path.name,
            ids=ids,
            columns=(xcol, ycol),
            id_word="ids" if id_col else "rows",
            interface=interface,
        )
        if found:
            raise ValidationError(found)
    else:
        found = degree_problems(
            xs,
            ys,
            layer=path.name,
            crs=target_crs,
            fix="leave out the CRS (CSV/XLSX coordinates are WGS84 longitude/latitude by "
            "default) or give the geographic CRS they are in, e.g. EPSG:4490",
        )
        if found:
            raise ValidationError(found)
    if (~ok).any():
        # a row without a place would be lost: name it and what its cells hold
        id_col = find_column(columns, ("unit_id",))
        ids = df[id_col].tolist() if id_col else [i + 2 for i in range(len(df))]
        bad = np.flatnonzero(~ok)

        def cell(value: object) -> str:
            if value is None or (isinstance(value, float) and not np.isfinite(value)):
                return "empty" if value is None or value != value else str(value)
            return repr(value) if isinstance(value, str) else str(value)

        shown = ", ".join(
            f"{ids[i]}: {xcol}={cell(df[xcol].iloc[i])}, {ycol}={cell(df[ycol].iloc[i])}"
            for i in bad[:5]
        )
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ValidationError(
            [
                Problem(
                    path.name,
                    "missing_coordinates",
                    f"{len(bad)} row(s) of {path.name!r} have no usable coordinates in "
                    f"{xcol!r}/{ycol!r} ({'ids' if id_col else 'rows'} {shown}{more}); write "
                    "both as numbers (decimal degrees for longitude/latitude) or drop those rows",
                    tuple(ids[i] for i in bad),
                )
            ]
        )
    geoms = shapely.points(xs, ys)
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
    interface: Interface = "python",
) -> gpd.GeoDataFrame:
    """Read one layer from a file into a GeoDataFrame.

    Parameters
    ----------
    path
        GeoPackage, GeoJSON, zipped Shapefile (``.zip``), Shapefile, GeoParquet, CSV or XLSX.
    layer
        GeoPackage layer, Shapefile name inside a zip, or Excel sheet (default: the first).
    columns
        Renaming applied after reading, e.g. ``{"户数": "households"}``. For CSV/XLSX it is
        applied before the coordinate columns are looked for, so ``{"东经": "lon",
        "北纬": "lat"}`` names them.
    encoding
        Attribute encoding for Shapefiles/CSV. By default a Shapefile's ``.cpg`` is honoured,
        otherwise UTF-8 and then GB18030 (a superset of GBK) are tried.
    x, y
        Coordinate columns of a CSV/XLSX; by default found among lon/lng/longitude/经度/x and
        lat/latitude/纬度/y, or a WKT column named ``geometry``/``wkt``.
    crs
        CRS of CSV/XLSX coordinates (default EPSG:4326, WGS84 lon/lat): e.g. ``"EPSG:4490"``
        for CGCS2000 lon/lat or ``"EPSG:4547"`` for CGCS2000 Gauss-Krüger metres. For other
        formats, the CRS to assign when the file has none.
    interface
        Whose words the fixes in error messages use: ``"python"`` keywords (default),
        ``"cli"`` flags or ``"app"`` controls.

    Raises
    ------
    ValidationError
        Missing or empty file, unknown format, missing layer, undecodable attributes, a zip
        with members outside the archive, damaged or larger than :data:`MAX_ZIP_BYTES`, no
        coordinate columns (with a hint when the header is not the sheet's first row),
        longitudes beyond ±180° or latitudes beyond ±90° (and swapped lon/lat): always a
        readable message instead of a GDAL traceback.
    """
    p = Path(path)
    _check_exists(p)
    fmt = _format_of(p)
    _check_not_empty(p)
    if fmt == "gpkg" or fmt == "geojson":
        gdf = _ogr(p, layer=layer, encoding=encoding)
    elif fmt == "shapefile_zip":
        gdf = _shapefile(p, layer=layer, encoding=encoding, zipped=True, interface=interface)
    elif fmt == "shapefile":
        gdf = _shapefile(p, layer=layer, encoding=encoding, zipped=False, interface=interface)
    elif fmt == "parquet":
        try:
            gdf = gpd.read_parquet(p)
        except Exception as exc:
            raise _fail(p, "unreadable", f"cannot read {p.name!r} as GeoParquet: {exc}") from exc
    else:  # csv or excel
        table = read_table(p, sheet=layer if fmt == "excel" else None, encoding=encoding)
        # rename first, so a mapping can name the coordinate columns (东经=lon, 北纬=lat)
        table = _rename(table, columns, p, interface)
        return _table_to_gdf(table, p, x=x, y=y, crs=crs, interface=interface)
    if crs is not None and gdf.crs is None:
        try:
            gdf = gdf.set_crs(crs)
        except Exception as exc:
            raise _fail(p, "bad_crs", f"crs={crs!r} is not a CRS ({exc})") from exc
    return _rename(gdf, columns, p, interface)


#: output formats by file suffix; a name ending in anything else is refused
OUTPUT_FORMATS: dict[str, str] = {
    ".gpkg": "gpkg",
    ".geojson": "geojson",
    ".json": "geojson",
    ".zip": "shapefile_zip",
    ".parquet": "parquet",
    ".geoparquet": "parquet",
    ".csv": "csv",
}


def output_format(path: str | Path) -> str:
    """The format a result is written in, chosen by the extension of ``path``: ``"gpkg"``,
    ``"geojson"``, ``"shapefile_zip"`` (a ``.zip`` holding a Shapefile), ``"parquet"`` or
    ``"csv"``.

    A bare ``.shp`` is refused rather than written as something else under its name: a
    Shapefile is several files, so it is written zipped.

    Raises
    ------
    ValidationError
        For any other extension, naming the ones that work.

    Examples
    --------
    >>> output_format("plan.gpkg"), output_format("grids.GeoJSON"), output_format("g.shp.zip")
    ('gpkg', 'geojson', 'shapefile_zip')
    >>> output_format("grids.shp")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridplan.errors.ValidationError: 1 problem found in the input:
      - [grids.shp] cannot write 'grids.shp': a Shapefile is several files; ...
    """
    p = Path(path)
    fmt = OUTPUT_FORMATS.get(p.suffix.lower())
    if fmt is not None:
        return fmt
    known = ", ".join(sorted(OUTPUT_FORMATS))
    if p.suffix.lower() == ".shp":
        message = (
            f"cannot write {p.name!r}: a Shapefile is several files; name the output "
            f"{p.stem}.zip for a zipped Shapefile, or {p.stem}.gpkg"
        )
    else:
        message = (
            f"cannot write {p.name!r}: unknown output type {p.suffix or '(none)'!r}; expected "
            f"one of {known}"
        )
    raise _fail(p, "unknown_format", message)


def _input_path(source: str | Path) -> Path:
    """The file of an input given as ``path`` or ``path:layer``."""
    p = Path(source)
    if not p.exists() and isinstance(source, str) and ":" in source[2:]:
        head = source.rsplit(":", 1)[0]
        if Path(head).exists():
            return Path(head)
    return p


def same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output_path(
    out: str | Path,
    *,
    inputs: Iterable[str | Path | None] = (),
    force: bool = False,
    interface: Interface = "python",
    suffixes: Iterable[str] | None = None,
    flag: str | None = None,
) -> Path:
    """Refuse an output path before any work starts; return it as a :class:`~pathlib.Path`.

    * the output is one of the ``inputs`` (``path`` or ``path:layer``; the same file reached
      through another name or a link counts): always refused, even with ``force``, because
      writing would destroy the data being planned;
    * the extension does not choose a format (:func:`output_format`), or is not one of
      ``suffixes`` when given (e.g. ``(".xlsx",)`` for a workbook);
    * the output is a folder, or its folder does not exist;
    * the output exists and ``force`` is not set.

    ``flag`` names the option that gave the path (``--report``) in the messages.

    Raises
    ------
    ValidationError
        Listing every reason the path cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "units.gpkg").write_bytes(b"x")
    >>> check_output_path(d / "plan.gpkg", inputs=[d / "units.gpkg"]).name
    'plan.gpkg'
    >>> check_output_path(d / "units.gpkg", inputs=[f"{d}/units.gpkg:units"], force=True)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridplan.errors.ValidationError: 1 problem found in the input:
      - [units.gpkg] the output 'units.gpkg' is also an input; ...
    """
    p = Path(out)
    what = f"the output {p.name!r}" if flag is None else f"the output {p.name!r} ({flag})"
    problems: list[Problem] = []
    for source in inputs:
        if source is None:
            continue
        if same_file(p, _input_path(source)):
            problems.append(
                Problem(
                    p.name,
                    "output_is_input",
                    f"{what} is also an input; writing it would destroy the input's data. "
                    "Write the result to another file",
                )
            )
            break
    if suffixes is not None:
        allowed = tuple(s.lower() for s in suffixes)
        if p.suffix.lower() not in allowed:
            problems.append(
                Problem(
                    p.name,
                    "unknown_format",
                    f"cannot write {p.name!r}{f' ({flag})' if flag else ''}: expected a file "
                    f"ending in {' or '.join(allowed)}, got {p.suffix or '(no extension)'!r}",
                )
            )
    else:
        try:
            output_format(p)
        except ValidationError as exc:
            problems.extend(exc.problems)
    if p.is_dir():
        problems.append(
            Problem(p.name, "not_a_file", f"the output {str(p)!r} is a folder; name a file in it")
        )
    elif not p.parent.exists():
        problems.append(
            Problem(
                p.name,
                "missing_folder",
                f"the folder of the output, {str(p.parent)!r}, does not exist; create it first",
            )
        )
    elif p.exists() and not force and not any(pr.check == "output_is_input" for pr in problems):
        problems.append(
            Problem(
                p.name,
                "output_exists",
                f"{what} already exists; {option('force', interface)}, or write to another file",
            )
        )
    if problems:
        raise ValidationError(problems)
    return p


def _partial(path: Path) -> Path:
    """A temporary name next to ``path``, with its suffix, for writing before a rename."""
    return path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")


@contextmanager
def atomic_path(path: str | Path, *, keep: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` in one rename,
    so an interrupted run never leaves a half-written file. ``keep`` starts the temporary
    file as a copy of an existing ``path`` (a GeoPackage whose other layers are kept).

    Every writer of a gridplan output goes through it: GeoPackages, GeoJSON, zipped
    Shapefiles, CSV and Excel files.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "a.csv"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("x")
    ...     out.exists()
    False
    >>> out.read_text()
    'x'
    """
    path = Path(path)
    tmp = _partial(path)
    if tmp.exists():
        tmp.unlink()
    if keep and path.exists():
        shutil.copyfile(path, tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_shapefile_zip(gdf: gpd.GeoDataFrame, path: Path, *, layer: str) -> None:
    """A zipped Shapefile in UTF-8 (with a .cpg saying so), named ``layer`` inside the zip."""
    with tempfile.TemporaryDirectory(prefix="gridplan-shp-") as folder:
        shp = Path(folder) / f"{layer}.shp"
        pyogrio.write_dataframe(gdf, shp, driver="ESRI Shapefile", encoding="UTF-8")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(Path(folder).iterdir()):
                entry = zipfile.ZipInfo(f.name, date_time=(1980, 1, 1, 0, 0, 0))
                entry.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(entry, f.read_bytes())


def index_as_column(gdf: _Frame) -> _Frame:
    """Move a named index (``unit_id``, ``grid_id``...) into a column so it is written out."""
    if gdf.index.name is not None and gdf.index.name not in gdf.columns:
        return gdf.reset_index()
    return gdf


def write_layer(gdf: gpd.GeoDataFrame, path: str | Path, *, layer: str | None = None) -> Path:
    """Write ``gdf`` to a GeoPackage (``layer`` name, default the file stem; other layers are
    kept), GeoJSON (RFC 7946, WGS84), a zipped Shapefile (``.zip``, UTF-8), GeoParquet, or
    CSV: the extension chooses (:func:`output_format`), and any other one is refused.

    Every format is written to a temporary file next to ``path`` and renamed over it, so an
    interrupted run leaves the old file or the new one, never half of one.

    CSV holds ``lon``/``lat`` columns when every geometry is a point and a WKT ``geometry``
    column otherwise, both in WGS84 (EPSG:4326) so :func:`read_layer` reads it back as is.
    A named index is written as a column.
    """
    p = Path(path)
    fmt = output_format(p)
    out = index_as_column(gdf)
    if fmt == "gpkg":
        write_gpkg(p, {layer or p.stem: out})
    elif fmt == "geojson":
        if out.crs is not None:
            out = out.to_crs(output_crs(out.crs, fmt="geojson"))
        with atomic_path(p) as tmp:  # GeoJSON has no layers; the file is replaced
            pyogrio.write_dataframe(out, tmp, driver="GeoJSON", layer_options={"RFC7946": "YES"})
    elif fmt == "shapefile_zip":
        name = layer or p.name.split(".")[0] or "layer"
        with atomic_path(p) as tmp:
            _write_shapefile_zip(out, tmp, layer=name)
    elif fmt == "parquet":
        with atomic_path(p) as tmp:
            out.to_parquet(tmp)
    else:  # csv
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
        with atomic_path(p) as tmp:
            table.to_csv(tmp, index=False, encoding="utf-8-sig")
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


def write_gpkg(path: str | Path, layers: Mapping[str, pd.DataFrame], *, keep: bool = True) -> Path:
    """Write ``layers`` (name -> GeoDataFrame or attribute table) into one GeoPackage, in
    order, with its timestamps pinned (:func:`pin_gpkg_timestamps`). Other layers already in
    the file are kept, unless ``keep=False``: then the file holds only ``layers``, so no stale
    layer of an earlier run survives.

    The GeoPackage is written to a temporary file next to ``path`` (a copy of it when it
    exists) and renamed over it once complete, so an interrupted run never leaves a
    half-written GeoPackage. Callers refuse an output that is also an input first, with
    :func:`check_output_path`."""
    p = Path(path)
    with atomic_path(p, keep=keep) as tmp:
        for name, frame in layers.items():
            pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG")
        pin_gpkg_timestamps(tmp)
    return p


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
    with atomic_path(p) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for info, content in items:
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, content
                )
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            z.writestr(entry, content)
    return p
