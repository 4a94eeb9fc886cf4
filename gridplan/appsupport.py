"""The non-visual work behind ``app.py``: uploads, rules from widgets, locks and edits.

Everything here is a plain function of its arguments (no Streamlit, no module state), so the
app stays a thin layer of widgets and the logic is tested without a browser.

* :func:`read_upload` reads one uploaded file (GeoPackage, GeoJSON, zipped Shapefile, CSV,
  XLSX) after :func:`check_upload_size`; zip members are extracted by :func:`safe_extract_zip`,
  which refuses absolute paths, ``..`` and zip bombs. Files live in a temporary folder that is
  removed once read, so nothing one session uploads is left where another could see it.
* :func:`plan_from_uploads` reads every role and calls :func:`gridplan.plan`.
* Edits (:data:`Edit`: lock, unlock, move units, re-plan a community) are applied to a plan
  by :func:`apply_edits`: locks change no grid, moves and re-plans re-plan one community
  (:func:`gridplan.replan`), so every other grid keeps its code; :func:`move_preview` shows
  what a move does to both grids' households and contiguity before it is applied.

Examples
--------
>>> parse_columns("户数 = households\\n楼号: unit_id")
{'户数': 'households', '楼号': 'unit_id'}
"""

from __future__ import annotations

import hashlib
import importlib
import io
import re
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .diagnostics import flat, in_words, render_frame
from .errors import Problem, ValidationError
from .i18n import Lang, label_columns, label_values, sheet_label, t, value_label
from .io import (
    FORMATS,
    extract_zip,
    list_layers,
    parse_columns,
    read_layer,
    read_table,
    safe_zip_members,
)
from .render import grid_adjacency
from .validate import id_str, normalize_ids

if TYPE_CHECKING:
    from .config import PlanRules
    from .pipeline import Plan

__all__ = [
    "COLUMN_SYNONYMS",
    "MAX_UNZIPPED_MB",
    "MAX_UPLOAD_MB",
    "ROLES",
    "SAVED_PLAN_COLUMNS",
    "SAVED_PLAN_ROLES",
    "STREAMLIT_TEXTS",
    "TABLE_SUFFIXES",
    "Coordinates",
    "Edit",
    "MovePreview",
    "Upload",
    "apply_edit",
    "apply_edits",
    "check_coordinates",
    "check_upload_size",
    "columns_text",
    "communities_gpkg",
    "community_zip",
    "data_template",
    "detect_columns",
    "diagnostics_view",
    "display_table",
    "edit_label",
    "export_bytes",
    "fingerprint",
    "grid_option",
    "grid_units",
    "households_zip",
    "is_table",
    "kml_bytes",
    "movable_targets",
    "move_preview",
    "optional_module",
    "parse_columns",
    "plan_from_uploads",
    "print_zip",
    "problem_message",
    "problems_table",
    "read_upload",
    "read_upload_table",
    "reform_xlsx",
    "report_sheets",
    "safe_extract_zip",
    "saved_plan_uploads",
    "search",
    "set_locked",
    "shapefile_zip",
    "share_text",
    "staffing_xlsx",
    "streamlit_texts_css",
    "streamlit_texts_js",
    "unit_names",
    "upload_categories",
    "upload_columns",
    "upload_layers",
]

#: Largest upload accepted, in MB; ``.streamlit/config.toml`` sets the same
#: ``server.maxUploadSize`` so the browser refuses bigger files before they are sent.
MAX_UPLOAD_MB = 200
#: Largest total size of a zip's members once extracted (guards against zip bombs).
MAX_UNZIPPED_MB = 1000
MAX_ZIP_MEMBERS = 10_000

ROLES: tuple[str, ...] = (
    "units",
    "compounds",
    "dedicated",
    "barriers",
    "roads",
    "communities",
    "streets",
)

#: ``{lock label: unit ids}``; units sharing a label form one locked grid.
Locks = Mapping[str, tuple[str, ...]]


# ---------------------------------------------------------------------------------------------
# uploads
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """One uploaded file for one role (hashable, so Streamlit can cache on it)."""

    role: str
    name: str
    data: bytes
    layer: str | None = None


def _problem(name: str, check: str, message: str) -> ValidationError:
    return ValidationError([Problem(name, check, message)])


def check_upload_size(name: str, data: bytes, *, limit_mb: float = MAX_UPLOAD_MB) -> None:
    """Raise :class:`ValidationError` when ``data`` is larger than ``limit_mb``."""
    size_mb = len(data) / 1e6
    if size_mb > limit_mb:
        raise _problem(
            name,
            "too_large",
            f"{name!r} is {size_mb:.1f} MB, above the {limit_mb:g} MB upload limit; split it "
            "or keep only the layers needed",
        )


def safe_extract_zip(
    data: bytes,
    dest: Path,
    *,
    max_bytes: int = MAX_UNZIPPED_MB * 1_000_000,
    max_members: int = MAX_ZIP_MEMBERS,
    name: str = "zip",
) -> list[Path]:
    """Extract a zip archive held in ``data`` into ``dest``, safely.

    Refuses (with a :class:`ValidationError`, before writing anything) archives with absolute
    member paths, ``..`` components, more than ``max_members`` members or more than
    ``max_bytes`` once extracted. Symbolic links are written as plain files. ``name`` is the
    upload's name in messages.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            n_files = sum(1 for i in zf.infolist() if not i.is_dir())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _problem(name, "bad_zip", f"{name!r} is not a readable zip file ({exc})") from exc
    if n_files > max_members:
        raise _problem(
            name, "too_many_members", f"{name!r} holds {n_files} files, above {max_members}"
        )
    # the one safe extraction: names checked, decompressed bytes counted against the cap (a
    # zip whose declared sizes lie gives a ValidationError, not BadZipFile)
    return extract_zip(data, dest, limit=max_bytes, name=name)


def _safe_name(name: str, fallback: str) -> str:
    """A plain file name keeping the suffix: no folders, no odd characters."""
    base = PurePosixPath(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    stem = re.sub(r"[^\w.-]+", "_", stem, flags=re.UNICODE).strip("._") or fallback
    return f"{stem[:80]}{suffix}"


def _readable_in(files: list[Path]) -> list[Path]:
    """Readable layers among extracted files: Shapefiles first, then other formats."""
    ok = [
        f
        for f in files
        if f.suffix.lower() in FORMATS
        and f.suffix.lower() not in (".zip", ".txt")  # a readme is not a layer
        and "__MACOSX" not in f.parts
        and not f.name.startswith("._")
    ]
    return sorted(ok, key=lambda f: (f.suffix.lower() != ".shp", str(f)))


def _materialise(upload: Upload, workdir: Path) -> list[Path]:
    """Write an upload under ``workdir``; a zip is extracted and its layers returned."""
    check_upload_size(upload.name, upload.data)
    name = _safe_name(upload.name, upload.role)
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise _problem(
            upload.name,
            "unknown_format",
            f"cannot read {upload.name!r}: unknown file type {suffix or '(none)'!r}; expected one "
            f"of {', '.join(sorted(FORMATS))}",
        )
    folder = workdir / upload.role
    folder.mkdir(parents=True, exist_ok=True)
    if suffix == ".zip":
        if not upload.data:
            raise _problem(
                upload.name,
                "empty_file",
                f"the file {upload.name!r} is empty (0 bytes); export the layer again or pick "
                "the right file",
            )
        path = folder / name
        path.write_bytes(upload.data)
        if any(m.lower().endswith(".shp") for m in safe_zip_members(path)):
            # a zipped Shapefile is read as the CLI reads it (gridplan.io.read_layer): member
            # names checked, sidecars required, decompressed bytes counted
            return [path]
        files = _readable_in(safe_extract_zip(upload.data, folder / "zip", name=upload.name))
        if not files:
            raise _problem(
                upload.name,
                "no_layer",
                f"{upload.name!r} holds no .shp, .gpkg, .geojson, .csv or .xlsx layer to read",
            )
        return files
    path = folder / name
    path.write_bytes(upload.data)
    return [path]


def upload_layers(name: str, data: bytes) -> list[str]:
    """The layers a user can pick in an upload: GeoPackage layers, Excel sheets, or the
    readable files (Shapefiles first) of a zip."""
    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        files = _materialise(Upload("layers", name, data), Path(tmp))
        if files[0].suffix.lower() == ".zip":  # a zipped Shapefile: its Shapefiles
            return list_layers(files[0])
        if len(files) > 1 or Path(name).suffix.lower() == ".zip":
            return [f.stem if f.suffix.lower() == ".shp" else f.name for f in files]
        return list_layers(files[0])


#: uploads whose coordinates are columns (the coordinate widgets apply to these only)
TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")


@dataclass(frozen=True)
class Coordinates:
    """How the coordinate columns of CSV/XLSX uploads are read: ``crs`` (None: WGS84
    lon/lat; e.g. ``"EPSG:4490"`` CGCS2000 lon/lat, ``"EPSG:4547"`` CGCS2000 Gauss-Krüger
    metres) and, for the units layer, the ``x`` / ``y`` columns (None: found by name)."""

    crs: str | None = None
    x: str | None = None
    y: str | None = None


def is_table(upload: Upload) -> bool:
    """Whether ``upload`` is a CSV/XLSX file (coordinates in columns)."""
    return Path(upload.name).suffix.lower() in TABLE_SUFFIXES


def check_coordinates(coords: Coordinates, lang: Lang = "zh") -> None:
    """Refuse a coordinate system that is not one, or a projected choice without a code,
    naming the widget in ``lang``, before anything is read."""
    import pyproj

    if coords.x is not None and coords.x == coords.y:
        raise _problem(
            "columns",
            "coords_same_column",
            t("coords_same_column", lang, x=t("coords_x", lang), y=t("coords_y", lang)),
        )
    if coords.crs is None:
        return
    widget = t("coords_epsg", lang)
    if not coords.crs.strip():
        raise _problem(
            "columns", "coords_crs_missing", t("coords_crs_missing", lang, widget=widget)
        )
    try:
        pyproj.CRS.from_user_input(coords.crs)
    except Exception as exc:  # pyproj.exceptions.CRSError
        raise _problem(
            "columns", "coords_crs_bad", t("coords_crs_bad", lang, widget=widget, given=coords.crs)
        ) from exc


def read_upload(
    upload: Upload,
    *,
    workdir: Path,
    columns: Mapping[str, str] | None = None,
    coords: Coordinates | None = None,
) -> gpd.GeoDataFrame:
    """Read one uploaded layer (see :func:`gridplan.io.read_layer`) via files in ``workdir``.

    ``columns`` (the column mapping box) is applied as the file is read, so it can name a
    CSV/XLSX's coordinate columns (东经 = lon, 北纬 = lat); ``coords`` gives a CSV/XLSX's
    coordinate system and (units only) its coordinate columns."""
    files = _materialise(upload, workdir)
    c = coords or Coordinates()

    def read(path: Path, layer: str | None) -> gpd.GeoDataFrame:
        table = path.suffix.lower() in TABLE_SUFFIXES
        xy = {"x": c.x, "y": c.y} if table and upload.role == "units" else {}
        return read_layer(
            path,
            layer=layer,
            columns=columns,
            crs=c.crs if table else None,
            interface="app",
            **xy,
        )

    if files[0].suffix.lower() == ".zip":  # a zipped Shapefile
        return read(files[0], upload.layer)
    if len(files) > 1 or Path(upload.name).suffix.lower() == ".zip":
        chosen = files[0]
        if upload.layer is not None:
            match = [f for f in files if upload.layer in (f.stem, f.name)]
            if not match:
                raise _problem(
                    upload.name,
                    "missing_layer",
                    f"no layer {upload.layer!r} in {upload.name!r}; it holds "
                    f"{', '.join(f.name for f in files)}",
                )
            chosen = match[0]
        return read(chosen, None)
    return read(files[0], upload.layer)


def upload_categories(upload: Upload, *, columns: Mapping[str, str] | None = None) -> list[str]:
    """The ``category`` values of an uploaded dedicated layer (after ``columns`` renaming), for
    the rules' dedicated-category choice."""
    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        gdf = read_upload(upload, workdir=Path(tmp))
    gdf = gdf.rename(columns={k: v for k, v in (columns or {}).items() if k in gdf.columns})
    return sorted({str(c) for c in gdf["category"].dropna()}) if "category" in gdf else []


def plan_from_uploads(
    uploads: Sequence[Upload],
    *,
    rules: PlanRules,
    columns: Mapping[str, str] | None = None,
    seed: int = 0,
    source_crs: str | None = None,
    fix_invalid: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    previous: Upload | None = None,
    roster: Upload | None = None,
    coords: Coordinates | None = None,
) -> Plan:
    """Read the uploads (one per role; ``units`` required) and plan them.

    The files are written to a temporary folder that is deleted once they are read;
    ``fix_invalid`` is the app's 'Repair invalid geometry' checkbox; ``previous`` is a saved
    plan file whose grids are kept with their codes (:func:`gridplan.plan`'s ``previous``);
    ``coords`` the coordinate system and columns of CSV/XLSX uploads (:class:`Coordinates`);
    ``roster`` a household roster (:mod:`gridplan.addresses`) joined to the units before
    planning, whose household list ends in ``plan.report["households"]`` (every roster row,
    joined or not) with the join report in ``plan.report["roster_report"]``.
    """
    from .pipeline import plan

    roles = [u.role for u in uploads]
    problems = [
        Problem(r, "unknown_role", f"unknown layer role {r!r}; expected one of {', '.join(ROLES)}")
        for r in roles
        if r not in ROLES
    ]
    if "units" not in roles:
        problems.append(
            Problem("units", "missing_layer", "no units layer was given; upload one to plan")
        )
    if problems:
        raise ValidationError(problems)
    frames: dict[str, gpd.GeoDataFrame] = {}
    read_problems: list[Problem] = []
    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        for u in uploads:
            try:
                frames[u.role] = read_upload(u, workdir=Path(tmp), columns=columns, coords=coords)
            except ValidationError as exc:
                read_problems.extend(exc.problems)
    if read_problems:
        raise ValidationError(read_problems)
    units = frames.pop("units")
    if previous is not None:
        # a reopened plan's units carry its codes; the plan file itself gives them back
        units = units.drop(columns=[c for c in SAVED_PLAN_COLUMNS if c in units.columns])
    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        previous_path = _materialise(previous, Path(tmp))[0] if previous is not None else None
        options: dict[str, Any] = {
            "rules": rules,
            "columns": None,  # applied as each upload was read
            "seed": seed,
            "source_crs": source_crs,
            "fix_invalid": fix_invalid,
            "progress": progress,
            "previous": previous_path,
            "interface": "app",  # fixes name the app's widgets, not Python keywords
        }
        if roster is not None:
            return _plan_with_roster(
                units, frames, roster=roster, workdir=Path(tmp), columns=columns, options=options
            )
        return plan(units, **frames, **options)


def _plan_with_roster(
    units: gpd.GeoDataFrame,
    frames: dict[str, gpd.GeoDataFrame],
    *,
    roster: Upload,
    workdir: Path,
    columns: Mapping[str, str] | None,
    options: dict[str, Any],
) -> Plan:
    """:func:`plan_from_uploads` with a household roster, as ``gridplan plan --roster`` does."""
    from dataclasses import replace

    from .addresses import (
        household_equivalency,
        join_roster,
        read_roster,
        report_addresses,
        report_table,
        split_unit_records,
    )
    from .diagnostics import frame
    from .pipeline import plan

    path = _materialise(roster, workdir)[0]
    book = read_roster(path, interface="app")
    joined, join = join_roster(
        units, book, columns=dict(columns) if columns else None, interface="app"
    )
    result = plan(joined, **frames, **options)
    table = household_equivalency(result, book, join)
    records = [*join.records, *split_unit_records(table, join, result)]
    diagnostics = pd.concat(
        [result.diagnostics, frame(records, interface="app")], ignore_index=True
    )
    result = report_addresses(replace(result, diagnostics=diagnostics))
    report = {
        **result.report,
        "households": table,
        "roster_report": report_table(records, interface="app"),
    }
    return replace(result, report=report)


def households_zip(plan: Plan, *, lang: Lang = "zh") -> bytes:
    """The roster plan's household list (CSV, UTF-8 with BOM, and XLSX with the roster check
    sheet, :func:`gridplan.export.write_household_equivalency`) as one zip."""
    from .export import write_household_equivalency

    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        written = write_household_equivalency(
            plan.report["households"],
            Path(tmp) / "households.csv",
            report=plan.report.get("roster_report"),
            lang=lang,
        )
        return _zip_bytes({Path(f).name: Path(f).read_bytes() for f in written})


#: columns a saved plan's units layer carries about the plan itself (not input data)
SAVED_PLAN_COLUMNS = ("grid_code", "microgrid_code", "grid_codes", "n_parts")
#: the layers of a saved plan that are the plan's inputs, in role order
SAVED_PLAN_ROLES: tuple[str, ...] = ROLES


def saved_plan_uploads(upload: Upload) -> tuple[Upload, ...]:
    """The inputs held in a plan GeoPackage the app (or ``gridplan plan``) wrote: its
    ``units`` and context layers, one :class:`Upload` per role. Planned again with
    ``previous=upload`` (:func:`plan_from_uploads`), every saved grid still in band comes back
    with its code and units."""
    layers = upload_layers(upload.name, upload.data)
    if "units" not in layers or "grids" not in layers:
        raise _problem(
            "plan",
            "format",
            f"{upload.name!r} is not a saved plan: it needs 'units' and 'grids' layers, it "
            f"holds {', '.join(layers) or 'none'}",
        )
    return tuple(
        Upload(role, upload.name, upload.data, layer=role)
        for role in SAVED_PLAN_ROLES
        if role in layers
    )


def _ids(values: pd.Series) -> np.ndarray:
    """Ids of a column as :func:`~gridplan.validate.id_str` text, for comparing with an id."""
    return np.array(normalize_ids(values), dtype=object)


#: temporary folders the app reads uploads from: never shown to the planner
_TEMP_PATH = re.compile(r"(?:/[^\s'\"]*)?/gridplan-[^/\s'\"]+/(?:[^\s'\"]*/)?([^/\s'\"]+)")
#: library and driver details in parentheses (pyogrio, GDAL, errno): developer words
_DRIVER_DETAIL = re.compile(r"\s*\((?:[^()]*(?:GDAL|pyogrio|OGR|Errno|DataSourceError)[^()]*)\)")


def _plain(message: str) -> str:
    """A message without the server's temporary paths and driver details."""
    message = _TEMP_PATH.sub(lambda m: m.group(1), message)
    message = _DRIVER_DETAIL.sub("", message)
    return re.sub(r"\s*set the GDAL[^;.]*[;.]?", "", message)


def _rules_bounds(message: str, lang: Lang) -> str | None:
    """A band's min/max problem named by the sidebar's widgets (最少户数 < 最多户数)."""
    for section, lo, hi in (
        ("[grid]", "grid_min", "grid_max"),
        ("[microgrid]", "micro_min", "micro_max"),
    ):
        if message.startswith(section):
            got = re.findall(r"=(\d+(?:\.\d+)?)", message)
            text = t("rules_bounds", lang, lo=t(lo, lang), hi=t(hi, lang))
            return (
                f"{text}（{' / '.join(got)}）"
                if got and lang == "zh"
                else (f"{text} ({' / '.join(got)})" if got else text)
            )
    return None


def problem_message(problem: Problem, lang: Lang = "zh") -> str:
    """One problem in the app's words and language: what is wrong, in which layer, and the fix
    naming the app's widgets; no Python keywords, server paths or driver advice.

    In Chinese the sentence is the check's ``[problems]`` template filled from the problem's
    values, its fix naming the app's widgets (:meth:`Problem.text` with ``interface="app"``);
    a check without a template reads as its label (``[values.check]``) and the rows concerned,
    so nothing of the English message shows.
    """
    if problem.layer == "rules" and problem.check == "bounds":
        named = _rules_bounds(problem.message, lang)
        if named is not None:
            return named
    if lang == "en":
        return _plain(in_words(problem.message, interface="app"))
    return _plain(problem.text("zh", interface="app"))


def problems_table(exc: ValidationError, lang: Lang = "en") -> pd.DataFrame:
    """A validation error's problems as a table: ``layer``, ``check``, ``message``, ``rows``,
    in ``lang`` (:func:`problem_message`); advice is given in the app's words (the checkbox,
    not ``fix_invalid=True``), never with the server's temporary paths."""
    return pd.DataFrame(
        [
            {
                "layer": value_label("layer", p.layer, lang),
                "check": value_label("check", p.check, lang) if lang == "zh" else p.check,
                "message": problem_message(p, lang),
                "rows": ", ".join(_plain(str(r)) for r in p.rows[:20])
                + (f" (+{len(p.rows) - 20})" if len(p.rows) > 20 else ""),
            }
            for p in exc.problems
        ],
        columns=["layer", "check", "message", "rows"],
    )


# ---------------------------------------------------------------------------------------------
# figures and tables as the app shows them
# ---------------------------------------------------------------------------------------------

#: shares shown as percentages (never rounded up to 100 %)
SHARE_COLUMNS = ("in_band_share", "microgrids_in_band_share")
#: estimated residents, shown as whole people
RESIDENT_COLUMNS = ("residents", "population", "population_moved")


def share_text(value: object) -> str:
    """A share as a percentage, cut (not rounded) to one decimal so that 99.7 % never reads
    as 100 %; whole percentages lose their decimal.

    Examples
    --------
    >>> share_text(0.9977), share_text(1.0), share_text(0.5), share_text(None)
    ('99.7%', '100%', '50%', '–')
    """
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    if not np.isfinite(x):
        return "–"
    tenths = int(np.floor(round(x * 1000, 6)))
    return f"{tenths // 10}%" if tenths % 10 == 0 else f"{tenths / 10:.1f}%"


def display_table(
    frame: pd.DataFrame, lang: Lang = "zh", *, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """A table for display: the chosen ``columns``, coded values in words, residents as whole
    people, shares as percentages (:func:`share_text`), mixed-type columns as text (Arrow
    cannot show a column holding both numbers and words), headers in ``lang``."""
    out = frame[[c for c in columns if c in frame.columns]] if columns else frame
    out = label_values(pd.DataFrame(out).drop(columns="geometry", errors="ignore"), lang)
    for c in out.columns:
        if c in RESIDENT_COLUMNS and pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].round().astype("Int64")
        elif c in SHARE_COLUMNS:
            out[c] = out[c].map(share_text)
    mixed = [
        c
        for c in out.columns
        if out[c].dtype == object and out[c].map(type).nunique(dropna=True) > 1
    ]
    if mixed:
        out = out.astype({c: str for c in mixed})
    return label_columns(out, lang)


# ---------------------------------------------------------------------------------------------
# locks and edits
# ---------------------------------------------------------------------------------------------


#: An edit of a plan, as the edit tab records it (applied in order by :func:`apply_edits`):
#: ``("lock", code)``, ``("unlock", code)``, ``("unlock_all",)``, ``("move", unit ids,
#: target code)`` or ``("replan", community id)``.
Edit = tuple[Any, ...]


def set_locked(plan: Plan, codes: Sequence[str], *, locked: bool = True) -> Plan:
    """``plan`` with grids ``codes`` locked (or unlocked): nothing is re-planned, so the grids
    keep their codes, units and geometry; :func:`gridplan.replan` then keeps locked grids as
    they are. Only residential grids are locked (a dedicated grid follows its area)."""
    from dataclasses import replace

    grids = plan.grids.copy()
    hit = (
        grids["grid_code"].astype(str).isin([str(c) for c in codes]).to_numpy()
        & (grids["kind"] == "residential").to_numpy()
    )
    grids["locked"] = np.where(hit, locked, grids["locked"].to_numpy(dtype=bool))
    return replace(plan, grids=grids)


def _community_of(plan: Plan, code: str) -> str | None:
    row = plan.grids[plan.grids["grid_code"].astype(str) == str(code)]
    if row.empty:
        raise _problem("edit", "unknown_grid_code", f"grid {code} is not in the plan")
    return id_str(row["community_id"].iloc[0])


def _replan(
    plan: Plan,
    community: str | None,
    *,
    locks: Sequence[str] = (),
    moves: Mapping[str, str] | None = None,
) -> Plan:
    """Re-plan one community of ``plan`` (:func:`gridplan.replan`): every other community keeps
    its grids, micro-grids and codes. Units outside any community (no communities layer) are
    one area: it is planned again with the locked grids as locks and the plan as ``previous``,
    so kept grids keep their codes and re-planned ones inherit the code of the old grid they
    hold most of."""
    from .pipeline import plan as plan_fn
    from .replan import replan

    if community is not None:
        return replan(plan, communities=[community], locks=list(locks), moves=moves)
    g = plan.grids
    held = set(g.loc[g["locked"].to_numpy(dtype=bool), "grid_code"].astype(str)) | set(locks)
    held |= set((moves or {}).values())
    u = plan.units
    unit_codes = pd.Series(normalize_ids(u["grid_code"]), index=normalize_ids(u.index))
    lock_units: dict[str, str] = {str(i): str(c) for i, c in unit_codes.items() if c in held}
    lock_units.update({str(k): str(v) for k, v in (moves or {}).items()})
    previous = pd.DataFrame({"unit_id": unit_codes.index, "grid_code": unit_codes.to_numpy()})
    return plan_fn(
        plan.layers,
        rules=plan.rules,
        seed=plan.seed if plan.seed is not None else 0,
        locks=lock_units or None,
        previous=previous.dropna(subset=["grid_code"]),
        interface="app",
    )


def apply_edit(plan: Plan, edit: Edit) -> Plan:
    """``plan`` after one :data:`Edit`. Locks change no grid; a move re-plans the community of
    the two grids with the source grid (less the moved units) and the target grid (with them)
    locked; ``replan`` re-plans a community around its locked grids. Codes of every grid that
    is not re-planned stay as they are.

    Raises
    ------
    ValidationError
        The edit names grids or units the plan does not have (an edit made on another plan).
    """
    kind = edit[0]
    if kind == "lock":
        _community_of(plan, edit[1])
        return set_locked(plan, [edit[1]], locked=True)
    if kind == "unlock":
        _community_of(plan, edit[1])
        return set_locked(plan, [edit[1]], locked=False)
    if kind == "unlock_all":
        return set_locked(plan, plan.grids["grid_code"].astype(str).tolist(), locked=False)
    if kind == "replan":
        community = id_str(edit[1])
        known = set(normalize_ids(plan.grids["community_id"]))
        if community not in known:
            raise _problem("edit", "unknown_community", f"community {edit[1]} is not in the plan")
        return _replan(plan, community)
    if kind == "move":
        ids, target = [str(i) for i in edit[1]], str(edit[2])
        community = _community_of(plan, target)
        known = set(normalize_ids(plan.units.index))
        missing = [i for i in ids if i not in known]
        if missing or not ids:
            raise _problem("edit", "unknown_unit", f"unknown unit id(s) {missing or '(none)'}")
        units = plan.units.set_axis(normalize_ids(plan.units.index))
        sources = sorted({c for c in normalize_ids(units.loc[ids, "grid_code"]) if c})
        rest = set(_grid_unit_ids(plan, sources[0])) - set(ids) if len(sources) == 1 else set()
        locks = [s for s in sources if s != target and rest]
        return _replan(plan, community, locks=locks, moves=dict.fromkeys(ids, target))
    raise _problem("edit", "unknown_edit", f"unknown edit {kind!r}")


def apply_edits(plan: Plan, edits: Sequence[Edit]) -> tuple[Plan, list[Edit]]:
    """``plan`` after ``edits`` in order, and the edits that no longer apply (they name grids
    or units this plan does not have, e.g. after the rules changed), which are skipped."""
    skipped: list[Edit] = []
    for edit in edits:
        try:
            plan = apply_edit(plan, edit)
        except ValidationError:
            skipped.append(edit)
    return plan, skipped


def _grid_unit_ids(plan: Plan, code: str) -> tuple[str, ...]:
    """Units of grid ``code`` (by each unit's main grid)."""
    u = plan.units
    sel = u[_ids(u["grid_code"]) == id_str(code)]
    return tuple(sorted(str(i) for i in normalize_ids(sel.index)))


def edit_label(edit: Edit, lang: Lang = "zh") -> str:
    """An edit in words, for the list of edits the app shows."""
    kind = edit[0]
    if kind == "move":
        return t("edit_move", lang, n=len(edit[1]), code=edit[2])
    if kind == "unlock_all":
        return t("edit_unlock_all", lang)
    return t(f"edit_{kind}", lang, code=edit[1])


def movable_targets(plan: Plan, code: str) -> list[str]:
    """Residential grids of the same community that touch grid ``code``."""
    grids = plan.grids
    row = grids[grids["grid_code"] == code]
    if row.empty:
        return []
    comm = row["community_id"].iloc[0]
    same = grids[(grids["kind"] == "residential") & (_ids(grids["community_id"]) == id_str(comm))]
    if code not in set(same["grid_code"]):
        return []
    graph = grid_adjacency(same, crs=plan.work_crs)
    return sorted(graph.neighbors(code)) if code in graph else []


#: unit columns that name a unit for a planner, in order of preference
UNIT_NAME_COLUMNS = ("name", "address", "addr", "地址", "名称")


def unit_names(units: pd.DataFrame) -> pd.Series:
    """How a planner knows each unit: its name or address, else block number and street
    (``blk_no`` ``street``: 105 QUEENSWAY), else compound and building, else its id."""

    def text(column: str) -> pd.Series:
        if column not in units.columns:
            return pd.Series("", index=units.index, dtype=object)
        v = units[column]
        return v.where(v.notna(), "").astype(str).str.strip().replace({"nan": "", "None": ""})

    blk = (text("blk_no") + " " + text("street")).str.strip()
    building = (text("compound_name") + text("building")).str.strip()
    out = pd.Series("", index=units.index, dtype=object)
    for candidate in [*(text(c) for c in UNIT_NAME_COLUMNS), blk, building]:
        out = out.where(out != "", candidate)
    out = out.where(out != "", pd.Series([str(i) for i in units.index], index=units.index))
    return out


def grid_units(plan: Plan, code: str) -> pd.DataFrame:
    """Every unit with households in grid ``code``, one row each: ``unit_id``, ``name``
    (:func:`unit_names`), ``households`` (this grid's share of the unit, from
    ``plan.unit_parts``), ``unit_households`` (the whole unit), ``split`` (the unit has parts
    in other grids), ``compound_id``. A unit cut across grids shows only its part here, never
    the whole building's households."""
    parts = getattr(plan, "unit_parts", None)
    u = plan.units
    if parts is None or len(parts) == 0:
        ids = u.index[_ids(u["grid_code"]) == id_str(code)]
        here = pd.Series(u.loc[ids, "households"].to_numpy(), index=[str(i) for i in ids])
    else:
        mine = parts[_ids(parts["grid_code"]) == id_str(code)]
        here = mine.groupby(mine["unit_id"].astype(str), sort=False)["households"].sum()
    index = pd.Index(normalize_ids(u.index))
    rows = u.set_axis(index)
    known = [i for i in here.index if i in rows.index]
    sel = rows.loc[known]
    names = unit_names(sel)
    total = pd.to_numeric(sel["households"], errors="coerce").fillna(0).astype(int)
    here_hh = here.loc[known].astype(int)
    out = pd.DataFrame(
        {
            "unit_id": known,
            "name": names.to_numpy(),
            "households": here_hh.to_numpy(),
            "unit_households": total.to_numpy(),
            "split": (here_hh.to_numpy() < total.to_numpy()),
            "compound_id": sel["compound_id"].to_numpy() if "compound_id" in sel else None,
        }
    )
    return out.sort_values(["name", "unit_id"], kind="stable").reset_index(drop=True)


def grid_option(row: Mapping[str, Any], lang: Lang = "zh") -> str:
    """A grid as the grid list shows it: code, households, and whether it is dedicated."""
    key = "grid_option_residential" if row["kind"] == "residential" else "grid_option_dedicated"
    return t(key, lang, code=row["grid_code"], hh=f"{int(row['households']):,}")


@dataclass(frozen=True)
class MovePreview:
    """What moving ``unit_ids`` from ``source`` to ``target`` would do.

    ``table`` has one row per grid (``grid``, ``households`` before/after, ``in_band`` after,
    ``contiguous`` after); ``warnings`` are ``(i18n key, format arguments)`` pairs, empty when
    both grids stay in band and contiguous.
    """

    unit_ids: tuple[str, ...]
    source: str
    target: str
    table: pd.DataFrame
    warnings: tuple[tuple[str, dict[str, Any]], ...]

    @property
    def ok(self) -> bool:
        return not self.warnings


def _parts(geom: Any, *, min_area: float = 1.0) -> int:
    """Polygon parts of ``geom`` above ``min_area`` m²."""
    if geom is None or geom.is_empty:
        return 0
    parts = shapely.get_parts(geom)
    return int(sum(1 for p in parts if p.area > min_area))


def _cells(grid_geom: Any, unit_geoms: np.ndarray) -> np.ndarray:
    """Approximate each unit's share of its grid: the unit polygon where units tile the grid,
    else the Voronoi cell of its representative point clipped to the grid."""
    areas = shapely.area(unit_geoms)
    if areas.sum() > 0.5 * grid_geom.area:
        return shapely.intersection(unit_geoms, grid_geom)
    pts = shapely.point_on_surface(unit_geoms)
    if len(pts) == 1:
        return np.array([grid_geom], dtype=object)
    vor = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=grid_geom))
    tree = shapely.STRtree(vor)
    cells = np.empty(len(pts), dtype=object)
    for k, p in enumerate(pts):
        hit = tree.query(p, predicate="intersects")
        cells[k] = shapely.intersection(vor[hit[0]], grid_geom) if len(hit) else p.buffer(1.0)
    return cells


def move_preview(plan: Plan, unit_ids: Sequence[str], target: str) -> MovePreview:
    """The effect of moving ``unit_ids`` (all in one grid) to neighbouring grid ``target``:
    households of both grids before and after, whether each stays in the grid band, and
    whether each stays contiguous (judged on cells approximated from the units)."""
    ids = tuple(sorted({str(i) for i in unit_ids}))
    u = plan.units
    known = set(normalize_ids(u.index))
    missing = [i for i in ids if i not in known]
    if missing or not ids:
        raise _problem("edit", "unknown_unit", f"unknown unit id(s) {missing or '(none)'}")
    sel = u.loc[list(ids)]
    sources = sorted({c for c in normalize_ids(sel["grid_code"]) if c is not None})
    if len(sources) != 1:
        raise _problem("edit", "several_grids", f"the units lie in several grids: {sources}")
    source = sources[0]
    warnings: list[tuple[str, dict[str, Any]]] = []
    split = [i for i in ids if int(u.loc[i].get("n_parts", 1) or 1) > 1]
    if split:
        warnings.append(("warn_split_unit", {"ids": ", ".join(split)}))
    grids = plan.grids.set_index("grid_code")
    lo, hi = plan.rules.grid.min_households, plan.rules.grid.max_households
    moved_hh = int(sel["households"].sum())
    before = {
        source: int(grids.loc[source, "households"]),
        target: int(grids.loc[target, "households"]),
    }
    after = {source: before[source] - moved_hh, target: before[target] + moved_hh}

    work = plan.work_crs
    g_work = plan.grids.to_crs(work).set_index("grid_code").geometry
    in_source = u[_ids(u["grid_code"]) == source].to_crs(work)
    cells = _cells(g_work[source], in_source.geometry.to_numpy())
    moving = pd.Index(normalize_ids(in_source.index)).isin(ids)
    rest = shapely.union_all(cells[~moving]) if (~moving).any() else None
    moved = shapely.union_all(cells[moving])
    # grids share boundaries only up to floating point; half a metre closes the seams
    joined = shapely.union(g_work[target].buffer(0.5), moved.buffer(0.5))
    contiguous = {
        source: rest is not None and _parts(rest.buffer(0.01)) == 1,
        target: _parts(joined) == 1,
    }
    rows = []
    for code in (source, target):
        band = lo <= after[code] <= hi
        rows.append(
            {
                "grid": code,
                "before": before[code],
                "after": after[code],
                "in_band": band,
                "contiguous": contiguous[code],
            }
        )
        if not band:
            warnings.append(
                ("warn_out_of_band", {"code": code, "hh": after[code], "lo": lo, "hi": hi})
            )
        if not contiguous[code]:
            warnings.append(("warn_not_contiguous", {"code": code}))
    return MovePreview(
        unit_ids=ids,
        source=source,
        target=target,
        table=pd.DataFrame(rows, columns=["grid", "before", "after", "in_band", "contiguous"]),
        warnings=tuple(warnings),
    )


# ---------------------------------------------------------------------------------------------
# downloads and optional modules
# ---------------------------------------------------------------------------------------------

ExportKind = Literal["gpkg", "geojson", "microgrids_geojson", "equivalency", "report_xlsx"]


def optional_module(name: str) -> ModuleType | None:
    """``gridplan.<name>`` if it is installed (modules that land separately), else ``None``."""
    try:
        return importlib.import_module(f"gridplan.{name}")
    except ImportError:
        return None


def diagnostics_view(
    table: pd.DataFrame, lang: Lang = "zh", *, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """A diagnostics table as the app shows it: messages and fixes in ``lang`` naming the app's
    widgets, levels and severities in words, lists and params as text, headers in ``lang``.

    ``columns`` keeps only those columns (machine names, e.g. ``["level", "message"]``).
    """
    shown = flat(render_frame(table, lang=lang, interface="app"))
    if columns is not None:
        shown = shown[[c for c in columns if c in shown.columns]]
    return label_columns(label_values(shown, lang), lang)


def export_bytes(plan: Plan, kind: ExportKind, *, lang: Lang = "zh") -> bytes:
    """The bytes of one download, written by :mod:`gridplan.export` into a temporary folder.

    ``gpkg``: every layer; ``geojson`` / ``microgrids_geojson``: RFC 7946 grids / micro-grids;
    ``equivalency``: ``unit_id, grid_code, microgrid_code`` (UTF-8 with BOM for Excel);
    ``report_xlsx``: the report tables (:func:`report_sheets`, in ``lang``). Diagnostics
    (GeoPackage layer, workbook sheet) are written in ``lang``, their fixes naming the app's
    widgets; the GeoPackage keeps the machine column names, so
    :func:`gridplan.diagnostics.records` reads them back.
    """
    from . import export

    plan = export.in_language(plan, lang=lang, interface="app")
    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        folder = Path(tmp)
        if kind == "gpkg":
            path = export.write_geopackage(plan, folder / "plan.gpkg")
        elif kind in ("geojson", "microgrids_geojson"):
            files = export.write_geojson(plan, folder)
            path = files[0] if kind == "geojson" else files[1]
        elif kind == "equivalency":
            path = export.write_equivalency(plan, folder / "equivalency.csv", encoding="utf-8-sig")
        elif kind == "report_xlsx":
            path = export.write_workbook(folder / "report.xlsx", report_sheets(plan, lang=lang))
        else:
            raise ValueError(f"unknown export kind {kind!r}")
        return Path(path).read_bytes()


def report_sheets(plan: Plan, *, lang: Lang = "zh") -> dict[str, pd.DataFrame]:
    """The report workbook's sheets in ``lang``: sheet names (:func:`gridplan.i18n.sheet_label`),
    headers and coded values in words, the same tables as
    :func:`gridplan.export.write_report_xlsx` (diagnostics already rendered in ``lang``)."""
    from . import export

    tables: dict[str, pd.DataFrame] = {
        name: plan.report[name]
        for name in ("totals", "streets", "communities", "grids", "microgrids")
        if name in plan.report
    }
    tables.update(export.unit_part_tables(plan))
    tables["diagnostics"] = flat(pd.DataFrame(plan.diagnostics))
    out = {}
    for name, table in tables.items():
        shown = label_values(pd.DataFrame(table), lang)
        for c in shown.columns:
            if c in RESIDENT_COLUMNS and pd.api.types.is_numeric_dtype(shown[c]):
                shown[c] = shown[c].round().astype("Int64")
        key = {"microgrids": "report_microgrids"}.get(name, name)
        out[sheet_label(key, lang)] = label_columns(shown, lang)
    return out


def staffing_xlsx(staff: Any, *, lang: str = "zh") -> bytes:
    """A :class:`gridplan.staffing.Staffing` workbook as bytes (phones masked)."""
    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        path = staff.to_excel(Path(tmp) / "staffing.xlsx", language=lang)
        return Path(path).read_bytes()


def reform_xlsx(reform: Any, *, lang: Lang = "zh") -> bytes:
    """A :class:`gridplan.reform.Reform`'s before/after workbook (``Reform.to_excel``) as
    bytes."""
    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        return Path(reform.to_excel(Path(tmp) / "reform.xlsx", language=lang)).read_bytes()


def read_upload_table(upload: Upload) -> pd.DataFrame:
    """An uploaded CSV/XLSX as a plain table (:func:`gridplan.io.read_table`)."""
    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        return read_table(_materialise(upload, Path(tmp))[0], sheet=upload.layer)


def streamlit_texts_css(lang: Lang = "zh", *, limit_mb: float = MAX_UPLOAD_MB) -> str:
    """A ``<style>`` block that shows Streamlit's own upload texts (the "Upload" button and
    the "200MB per file • GPKG, …" line), which Streamlit offers no option for, in ``lang``.

    The English text is shrunk to nothing and the label drawn in its place, so the widget
    keeps working (and keeps its accessible name) however the page is styled.
    """
    browse = t("uploader_browse", lang).replace('"', "")
    limit = t("uploader_limit", lang, mb=f"{limit_mb:g}").replace('"', "")
    zone = '[data-testid="stFileUploaderDropzone"]'
    return (
        "<style>"
        f"{zone} button p, {zone} button span[data-testid=stIconMaterial] + div p"
        "{font-size:0 !important;}"
        f'{zone} button p::after{{content:"{browse}";font-size:0.875rem;}}'
        f"[data-testid=stFileUploaderDropzoneInstructions] span{{font-size:0 !important;}}"
        f'[data-testid=stFileUploaderDropzoneInstructions] span::after{{content:"{limit}";'
        "font-size:0.8rem;}"
        "</style>"
    )


#: Streamlit's own English toolbar texts (table and chart toolbars) and their label keys
STREAMLIT_TEXTS = {
    "Download as CSV": "st_download_csv",
    "Search": "st_search",
    "Fullscreen": "st_fullscreen",
    "Close fullscreen": "st_close_fullscreen",
    "Show/hide columns": "st_show_hide_columns",
    "Add row": "st_add_row",
    "Delete row": "st_delete_row",
}


def streamlit_texts_js(lang: Lang = "zh") -> str:
    """A ``<script>`` that shows Streamlit's table toolbar tooltips (download, search,
    fullscreen, ...) in ``lang``: Streamlit hard-codes them in English and draws them in a
    popover outside the table, which no style can reach, so a watcher on the page replaces
    those exact texts (and the buttons' accessible names) as they appear."""
    import json

    words = {en: t(key, lang) for en, key in STREAMLIT_TEXTS.items()}
    return (
        "<script>(() => {"
        f"const W = {json.dumps(words, ensure_ascii=False)};"
        "const doc = window.parent && window.parent.document ? window.parent.document : document;"
        "if (doc.__gridplanTexts) return; doc.__gridplanTexts = true;"
        "const fix = root => {"
        " const tw = doc.createTreeWalker(root, NodeFilter.SHOW_TEXT);"
        " for (let n = tw.nextNode(); n; n = tw.nextNode()) {"
        "  const k = n.nodeValue.trim(); if (W[k]) n.nodeValue = W[k]; }"
        " root.querySelectorAll && root.querySelectorAll('[aria-label]').forEach(e => {"
        "  const a = e.getAttribute('aria-label'); const i = a.indexOf(':');"
        "  const k = i < 0 ? a : a.slice(0, i);"
        "  if (W[k]) e.setAttribute('aria-label', W[k] + (i < 0 ? '' : a.slice(i))); });"
        "};"
        "new MutationObserver(ms => ms.forEach(m => m.addedNodes.forEach(n => {"
        " if (n.nodeType === 1) fix(n);"
        " else if (n.nodeType === 3 && W[n.nodeValue.trim()]) n.nodeValue = W[n.nodeValue.trim()];"
        "}))).observe(doc.body, {childList: true, subtree: true});"
        "fix(doc.body);"
        "})();</script>"
    )


# ---------------------------------------------------------------------------------------------
# issue 19 item 10: column detection, template, shapefile/KML, per-community files, search
# ---------------------------------------------------------------------------------------------

#: common Chinese (and English) headers of the standard columns, for one-click mapping
COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "households": ("户数", "住户数", "总户数", "户", "households", "hh", "dwelling_units"),
    "population": ("人口", "常住人口", "人数", "population", "pop"),
    "unit_id": ("楼栋编号", "楼号", "单元编号", "编号", "unit_id", "id"),
    "compound_id": ("小区编号", "小区", "小区名称", "compound_id", "compound"),
    "community_id": ("社区编号", "社区", "社区名称", "community_id", "community"),
    "name": ("名称", "楼栋名称", "name"),
    "address": ("地址", "门牌", "address"),
    "category": ("类别", "类型", "category"),
}


def detect_columns(columns: Sequence[str]) -> dict[str, str]:
    """``{source column: standard column}`` for headers that name a standard column in
    other words (户数 -> households); columns already standard, or claimed twice, are left.

    Examples
    --------
    >>> detect_columns(["楼号", "户数", "人口", "geometry"])
    {'楼号': 'unit_id', '户数': 'households', '人口': 'population'}
    >>> detect_columns(["households", "户数"])
    {}
    """
    present = {str(c) for c in columns}
    out: dict[str, str] = {}
    for target, names in COLUMN_SYNONYMS.items():
        if target in present:
            continue
        hit = [c for c in columns if str(c).strip().lower() in names and str(c) != target]
        if hit:
            out[str(hit[0])] = target
    # in the order of the file's columns, as the mapping box shows them
    order = {str(c): i for i, c in enumerate(columns)}
    return dict(sorted(out.items(), key=lambda kv: order[kv[0]]))


def columns_text(mapping: Mapping[str, str]) -> str:
    """A mapping as the column-mapping box writes it, one ``source = target`` per line."""
    return "\n".join(f"{k} = {v}" for k, v in mapping.items())


def upload_columns(upload: Upload) -> list[str]:
    """The column names of an uploaded layer (geometry left out)."""
    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        if is_table(upload):  # the header as it is: its coordinate columns may not be found yet
            files = _materialise(upload, Path(tmp))
            return [str(c) for c in read_table(files[0], sheet=upload.layer).columns]
        gdf = read_upload(upload, workdir=Path(tmp))
    return [str(c) for c in gdf.columns if c != gdf.geometry.name]


def data_template(*, lang: Lang = "zh") -> bytes:
    """An XLSX template for the units layer: one sheet with Chinese headers the column
    detection maps (楼号, 小区编号, 户数, 人口, 经度, 纬度, 地址) and two example rows, and a
    sheet saying what each column means."""
    from .export import write_workbook

    units = pd.DataFrame(
        {
            "楼号": ["A-1", "A-2"],
            "名称": ["阳光小区1号楼", "阳光小区2号楼"],
            "小区编号": ["Y01", "Y01"],
            "社区编号": ["S01", "S01"],
            "户数": [96, 120],
            "人口": [270, 330],
            "经度": [112.5501, 112.5512],
            "纬度": [37.8601, 37.8598],
            "地址": ["迎泽大街1号", "迎泽大街3号"],
        }
    )
    notes = pd.DataFrame(
        {
            t("template_column", lang): list(units.columns),
            t("template_meaning", lang): [
                t(f"template_{k}", lang)
                for k in (
                    "unit_id",
                    "name",
                    "compound_id",
                    "community_id",
                    "households",
                    "population",
                    "lon",
                    "lat",
                    "address",
                )
            ],
        }
    )
    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        path = write_workbook(
            Path(tmp) / "template.xlsx",
            {t("template_sheet_units", lang): units, t("template_sheet_notes", lang): notes},
        )
        return Path(path).read_bytes()


def _zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A zip of ``files`` with fixed dates, so the same files give the same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.flag_bits |= 0x800  # UTF-8 member names
            zf.writestr(info, files[name])
    return buf.getvalue()


#: Shapefile fields are at most 10 characters: the plan's columns under short names
_SHP_GRID_FIELDS = {
    "grid_code": "grid_code",
    "community_code": "comm_code",
    "community_id": "comm_id",
    "kind": "kind",
    "name": "name",
    "households": "households",
    "residents": "residents",
    "n_microgrids": "n_micro",
}
_SHP_MICRO_FIELDS = {
    "microgrid_code": "mg_code",
    "grid_code": "grid_code",
    "households": "households",
}


def shapefile_zip(plan: Plan, *, lang: Lang = "zh") -> bytes:
    """Grids and micro-grids as zipped Shapefiles in GBK (``.cpg`` says so), for older GIS
    systems: ``grids.shp`` and ``microgrids.shp`` with their sidecars, in the plan's input
    CRS; coded values in ``lang``; residents as whole people."""
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        for stem, frame, fields in (
            ("grids", plan.grids, _SHP_GRID_FIELDS),
            ("microgrids", plan.microgrids, _SHP_MICRO_FIELDS),
        ):
            cols = [c for c in fields if c in frame.columns]
            out = label_values(pd.DataFrame(frame[cols]), lang).rename(columns=fields)
            if "residents" in out.columns:
                out["residents"] = pd.to_numeric(out["residents"], errors="coerce").round()
            for c in out.columns:
                if out[c].dtype == object:
                    out[c] = out[c].map(lambda v: None if v is None else str(v))
            gdf = gpd.GeoDataFrame(out, geometry=frame.geometry.to_numpy(), crs=frame.crs)
            path = Path(tmp) / f"{stem}.shp"
            gdf.to_file(path, driver="ESRI Shapefile", encoding="GBK", engine="pyogrio")
            for f in sorted(Path(tmp).glob(f"{stem}.*")):
                files[f.name] = f.read_bytes()
    return _zip_bytes(files)


def _kml_coords(ring: Any) -> str:
    return " ".join(f"{x:.6f},{y:.6f}" for x, y in np.asarray(ring.coords)[:, :2])


def _kml_polygon(poly: Any) -> str:
    inner = "".join(
        f"<innerBoundaryIs><LinearRing><coordinates>{_kml_coords(r)}</coordinates>"
        "</LinearRing></innerBoundaryIs>"
        for r in poly.interiors
    )
    return (
        f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{_kml_coords(poly.exterior)}"
        f"</coordinates></LinearRing></outerBoundaryIs>{inner}</Polygon>"
    )


def kml_bytes(plan: Plan, *, lang: Lang = "zh") -> bytes:
    """The grids as KML (WGS84 lon/lat) for mobile map apps: one placemark per grid named by
    its code, its households and community in the description."""
    from xml.sax.saxutils import escape

    grids = plan.grids.to_crs(4326)
    marks = []
    for row in grids.itertuples():
        geom = row.geometry
        if geom is None or geom.is_empty:
            continue
        polys = "".join(
            _kml_polygon(p) for p in shapely.get_parts(geom) if p.geom_type == "Polygon"
        )
        desc = t("kml_description", lang, hh=int(row.households), community=row.community_id)
        marks.append(
            f"<Placemark><name>{escape(str(row.grid_code))}</name>"
            f"<description>{escape(desc)}</description>"
            f"<MultiGeometry>{polys}</MultiGeometry></Placemark>"
        )
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        f"<name>{escape(t('layer_grids', lang))}</name>{''.join(marks)}</Document></kml>\n"
    )
    return doc.encode("utf-8")


def community_zip(plan: Plan, community: str, *, lang: Lang = "zh") -> bytes:
    """One community's files in a zip: its grids and micro-grids (GeoJSON, WGS84), its
    units' equivalency (CSV, UTF-8 with BOM) and its grids table (XLSX, in ``lang``)."""
    from .export import unit_parts_frame, write_workbook

    cid = id_str(community)
    grids = plan.grids[_ids(plan.grids["community_id"]) == cid]
    codes = set(grids["grid_code"].astype(str))
    micro = plan.microgrids[plan.microgrids["grid_code"].astype(str).isin(codes)]
    parts = unit_parts_frame(plan)
    parts = parts[parts["grid_code"].astype(str).isin(codes)]
    files = {
        "grids.geojson": grids.to_crs(4326).to_json(drop_id=True).encode("utf-8"),
        "microgrids.geojson": micro.to_crs(4326).to_json(drop_id=True).encode("utf-8"),
        "equivalency.csv": parts.to_csv(index=False).encode("utf-8-sig"),
    }
    report = plan.report["grids"]
    report = report[report["grid_code"].astype(str).isin(codes)]
    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        path = write_workbook(
            Path(tmp) / "grids.xlsx", {sheet_label("grids", lang): display_table(report, lang)}
        )
        files["grids.xlsx"] = Path(path).read_bytes()
    return _zip_bytes(files)


def print_zip(
    plan: Plan, *, staffing: Any = None, lang: Lang = "zh", community: str | None = None
) -> bytes:
    """Wall maps and notice boards (:func:`gridplan.printing.print_plan`) printed into a
    temporary folder and returned as one zip of the two PDFs."""
    from .printing import print_plan

    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        print_plan(
            plan, out=Path(tmp), staffing=staffing, lang=lang, community=community, interface="app"
        )
        return _zip_bytes({f.name: f.read_bytes() for f in sorted(Path(tmp).glob("*.pdf"))})


def communities_gpkg(communities: gpd.GeoDataFrame) -> bytes:
    """Redivided communities (:func:`gridplan.reform.redivide`) as a GeoPackage layer
    ``communities`` the next plan reads as its communities layer."""
    from .io import write_layer

    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        path = Path(tmp) / "communities.gpkg"
        write_layer(communities, path, layer="communities")
        return path.read_bytes()


def search(plan: Plan, query: str, *, limit: int = 20) -> pd.DataFrame:
    """Units whose name, address, block, street, compound or id contains ``query`` (case
    ignored): ``unit_id``, ``name`` (:func:`unit_names`), ``grid_code``, ``community_id``."""
    q = query.strip().lower()
    u = plan.units
    cols = ["unit_id", "name", "grid_code", "community_id"]
    if not q:
        return pd.DataFrame(columns=cols)
    names = unit_names(u)
    hay = (
        names.astype(str).str.lower()
        + " "
        + pd.Series([str(i) for i in u.index], index=u.index).str.lower()
    )
    for c in ("compound_id", "compound_name", "street", "blk_no", "postal", "address", "name"):
        if c in u.columns:
            hay = hay + " " + u[c].astype(object).where(u[c].notna(), "").astype(str).str.lower()
    hit = hay.fillna("").str.contains(q, regex=False).to_numpy(dtype=bool)
    found = pd.DataFrame(
        {
            "unit_id": [str(i) for i in u.index[hit]],
            "name": names[hit].to_numpy(),
            "grid_code": u.loc[hit, "grid_code"].astype(str).to_numpy(),
            "community_id": u.loc[hit, "community_id"].astype(str).to_numpy(),
        }
    )
    return found.head(limit).reset_index(drop=True)


def fingerprint(*parts: object) -> str:
    """A short stable digest of ``parts`` (bytes hashed as they are, the rest by ``repr``)."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, Upload):
            h.update(f"{p.role}|{p.name}|{p.layer}|".encode())
            h.update(hashlib.sha256(p.data).digest())
        elif isinstance(p, bytes):
            h.update(hashlib.sha256(p).digest())
        elif isinstance(p, (tuple, list)):
            h.update(fingerprint(*p).encode())
        else:
            h.update(repr(p).encode())
        h.update(b"\x1f")
    return h.hexdigest()[:16]
