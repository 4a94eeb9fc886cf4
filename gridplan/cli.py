"""Command line: ``gridplan validate`` checks input files before planning.

The CLI is thin: it reads files with :mod:`gridplan.io`, checks them with
:mod:`gridplan.validate`, and prints a report. Bad data never produce a traceback: every
problem is listed with the offending row ids and the fix, and the exit code says whether the
input is usable (0), has problems (1), or hit an unexpected error (2).
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, cast

import geopandas as gpd
import pandas as pd
import typer

from .config import GridRules, PlanRules, is_iso_date
from .crs import unshift_to_wgs84
from .diagnostics import flat, in_words, render_frame
from .diff import STATUSES
from .errors import GridplanError, Problem, ValidationError
from .io import (
    FORMATS,
    check_output_path,
    list_layers,
    parse_columns,
    read_layer,
    same_file,
    split_layer,
    write_gpkg,
)
from .pipeline import Plan, check_workers
from .validate import (
    ROLES,
    barrier_class_table,
    describe_barrier_classes,
    validate_layer,
    validate_layers,
)

app = typer.Typer(
    name="gridplan",
    help="Plan community grids (网格) and micro-grids (微网格) from GIS layers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class RoleChoice(StrEnum):
    units = "units"
    compounds = "compounds"
    dedicated = "dedicated"
    barriers = "barriers"
    communities = "communities"
    streets = "streets"
    roads = "roads"


class SourceCRSChoice(StrEnum):
    wgs84 = "wgs84"
    gcj02 = "gcj02"
    bd09 = "bd09"


# words in a file or layer name that say what the layer holds; checked in this order so that
# "residential_buildings" is units and "business_special_areas" is dedicated
_ROLE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "units",
        (
            "units",
            "unit",
            "buildings",
            "building",
            "blocks",
            "block",
            "output_areas",
            "oa",
            "楼栋",
            "楼宇",
            "建筑",
            "住户",
            "房屋",
        ),
    ),
    ("dedicated", ("dedicated", "business", "special", "commercial", "专属", "商务", "商业")),
    ("compounds", ("compounds", "compound", "residential", "res_areas", "estates", "小区", "院落")),
    # a street network by name; a layer named just "roads" stays a barrier layer, as before
    ("roads", ("highways", "highway", "road_network", "street_network", "路网", "街巷")),
    (
        "barriers",
        (
            "barriers",
            "barrier",
            "lines",
            "roads",
            "road",
            "rail",
            "railways",
            "rivers",
            "river",
            "道路",
            "铁路",
            "河流",
        ),
    ),
    (
        "streets",
        ("streets", "street", "planning_areas", "planning_area", "subdistricts", "街道", "乡镇"),
    ),
    ("communities", ("communities", "community", "subzones", "subzone", "msoa", "社区", "村居")),
)
_NOUNS = {
    "compounds": ("compound", "compounds"),
    "dedicated": ("dedicated area", "dedicated areas"),
    "barriers": ("barrier line", "barrier lines"),
    "communities": ("community", "communities"),
    "streets": ("street", "streets"),
    "roads": ("road", "roads"),
}
# file types picked up when a folder is given (.txt only when named explicitly)
_FOLDER_SUFFIXES = {s for s in FORMATS if s != ".txt"}


def guess_role(*names: str) -> str | None:
    """Role of a layer from its names (layer name first, then file stem), or ``None``.

    Examples
    --------
    >>> guess_role("residential_areas"), guess_role("units_all_buildings"), guess_role("小区边界")
    ('compounds', 'units', 'compounds')
    """
    for name in names:
        lowered = name.lower()
        tokens = set(re.split(r"[^0-9a-z]+", lowered))
        joined = "_".join(t for t in re.split(r"[^0-9a-z]+", lowered) if t)
        for role, words in _ROLE_WORDS:
            for word in words:
                ascii_word = word.isascii()
                if ascii_word and (word in tokens or ("_" in word and word in joined)):
                    return role
                if not ascii_word and word in name:
                    return role
    return None


def _parse_seed(text: str) -> int:
    """``--seed`` as a whole number, naming what was given otherwise."""
    try:
        return int(str(text).strip())
    except ValueError:
        raise typer.BadParameter(f"must be a whole number, e.g. --seed 0; got {text!r}") from None


def _parse_crs(text: str | None) -> str | None:
    """``--coords-crs`` checked before anything is read: an EPSG code or other CRS text."""
    if text is None:
        return None
    import pyproj

    try:
        pyproj.CRS.from_user_input(text)
    except Exception:  # pyproj.exceptions.CRSError
        raise typer.BadParameter(
            f"{text!r} is not a coordinate reference system; give an EPSG code such as "
            "EPSG:4326 (WGS84 lon/lat, the default), EPSG:4490 (CGCS2000 lon/lat) or EPSG:4547 "
            "(CGCS2000 / Gauss-Kruger CM 114E, metres)",
            param_hint="--coords-crs",
        ) from None
    return text


_SeedOpt = typer.Option(parser=_parse_seed, help="Same input and seed give the same plan.")
_CoordsCRSOpt = typer.Option(
    "--coords-crs",
    help="CRS of CSV/XLSX coordinate columns (default EPSG:4326 WGS84 lon/lat), e.g. "
    "EPSG:4490 (CGCS2000) or a projected EPSG such as EPSG:4547.",
)


def _parse_columns(text: str | None) -> dict[str, str]:
    try:
        return parse_columns(text)
    except ValidationError as exc:
        raise typer.BadParameter(
            "; ".join(p.message for p in exc.problems), param_hint="--columns"
        ) from exc


@dataclass
class _Layer:
    name: str
    role: str | None
    gdf: gpd.GeoDataFrame


@dataclass
class _FileReport:
    path: Path
    layers: list[_Layer] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unexpected: str | None = None
    #: (rows, households, rows listed as issues) when the file is a household roster
    roster: tuple[int, int, int] | None = None


def _expand(paths: list[Path]) -> tuple[list[Path], list[_FileReport]]:
    files: list[Path] = []
    failed: list[_FileReport] = []
    for p in paths:
        if p.is_dir():
            found = sorted(
                f
                for f in p.iterdir()
                if f.is_file()
                and not f.name.startswith(".")
                and f.suffix.lower() in _FOLDER_SUFFIXES
            )
            if not found:
                failed.append(
                    _FileReport(
                        p,
                        problems=[
                            Problem(
                                p.name,
                                "empty_folder",
                                f"no readable files in folder {str(p)!r}; expected "
                                f"{', '.join(sorted(_FOLDER_SUFFIXES))}",
                            )
                        ],
                    )
                )
            files.extend(found)
        else:
            files.append(p)
    return files, failed


def _summary(layer: _Layer) -> str:
    gdf = layer.gdf
    if layer.role == "units":
        if "households" in gdf.columns:
            hh = pd.to_numeric(gdf["households"], errors="coerce").sum()
            noun = "unit" if len(gdf) == 1 else "units"
            return f"OK: {len(gdf):,} {noun}, {round(float(hh)):,} households"
        return f"OK: {len(gdf):,} {'unit' if len(gdf) == 1 else 'units'}"
    singular, plural = _NOUNS.get(layer.role or "", ("feature", "features"))
    text = f"OK: {len(gdf):,} {singular if len(gdf) == 1 else plural}"
    if layer.role == "barriers":
        # how every line is used, by class: none is dropped
        rules = GridRules()
        table = barrier_class_table(
            gdf, barrier_classes=rules.barrier_classes, road_classes=rules.road_classes
        )
        text += f": {describe_barrier_classes(table)}"
    return text


def _roster_or_none(path: Path, *, explicit: bool) -> _FileReport | None:
    """A household roster (no coordinates, a roster header) checked as one; None otherwise.

    Without ``--as roster`` a table is only taken for a roster when it has no coordinate
    columns and :func:`gridplan.addresses.read_roster` finds a roster header in it, so layer
    tables keep their own checks.
    """
    from .addresses import read_roster

    if not explicit:
        try:
            read_layer(path, interface="cli")
            return None
        except ValidationError as exc:
            if not any(p.check == "no_coordinates" for p in exc.problems):
                return None
    report = _FileReport(path)
    try:
        roster = read_roster(path, interface="cli")
    except ValidationError as exc:
        if not explicit:
            return None
        report.problems.extend(exc.problems)
        return report
    report.roster = (len(roster.rows), roster.households, len(roster.issues))
    return report


def _check_file(
    path: Path,
    *,
    role: str | None,
    columns: dict[str, str],
    layer: str | None,
    source_crs: str | None,
    coords_crs: str | None = None,
    fix_invalid: bool = False,
) -> _FileReport:
    report = _FileReport(path)
    if role in (None, "roster") and path.suffix.lower() in (".xlsx", ".xlsm", ".csv"):
        roster = _roster_or_none(path, explicit=role == "roster")
        if isinstance(roster, _FileReport):
            return roster
    try:
        names = [layer] if layer is not None else list_layers(path)
    except ValidationError as exc:
        report.problems.extend(exc.problems)
        return report
    for name in names:
        try:
            gdf = read_layer(path, layer=name, columns=columns, crs=coords_crs, interface="cli")
        except ValidationError as exc:
            report.problems.extend(exc.problems)
            continue
        if source_crs in ("gcj02", "bd09"):
            try:
                gdf = unshift_to_wgs84(gdf, source=source_crs)  # type: ignore[arg-type]
            except ValueError as exc:
                report.problems.append(Problem(name, "source_crs", str(exc)))
                continue
        layer_role = role or guess_role(name, path.stem)
        if fix_invalid and layer_role is not None:
            # the repair `plan --fix-invalid` makes, so validate reports what plan would see
            from .layers import repair_geometry, split_distant_parts

            gdf = repair_geometry(gdf, role=layer_role)
            if layer_role == "units" and gdf.crs is not None:
                try:
                    gdf = split_distant_parts(gdf)
                except Exception:  # unprojectable coordinates: reported by validation
                    pass
        report.layers.append(_Layer(name, layer_role, gdf))
        if layer_role is None:
            report.problems.append(
                Problem(
                    name,
                    "unknown_role",
                    f"cannot tell what layer {name!r} holds from its name; pass --as "
                    f"{'|'.join(ROLES)}",
                )
            )

    by_role: dict[str, list[_Layer]] = {}
    for item in report.layers:
        if item.role is not None:
            by_role.setdefault(item.role, []).append(item)
    first = {r: items[0] for r, items in by_role.items()}

    def relabel(problems: list[Problem], labels: dict[str, str]) -> list[Problem]:
        return [replace(p, layer=labels.get(p.layer, p.layer)) for p in problems]

    labels = {
        r: (item.name if item.name == r else f"{item.name} ({r})") for r, item in first.items()
    }
    units = first.get("units")
    found = validate_layers(
        units.gdf if units else None,
        **{r: first[r].gdf if r in first else None for r in ROLES if r != "units"},  # type: ignore[arg-type]
        interface="cli",
    )
    report.problems.extend(relabel(found, labels))
    # further layers of a role already seen (e.g. a stress-test units layer) are checked on
    # their own, plus against the same community/street boundaries
    for r, items in by_role.items():
        for item in items[1:]:
            label = {r: f"{item.name} ({r})"}
            if r == "units":
                extra = validate_layers(
                    item.gdf,
                    communities=first["communities"].gdf if "communities" in first else None,
                    streets=first["streets"].gdf if "streets" in first else None,
                    interface="cli",
                )
                extra = [p for p in extra if p.layer == "units"]
            else:
                extra = validate_layer(item.gdf, role=r)  # type: ignore[arg-type]
            report.problems.extend(relabel(extra, label))
    return report


def _print_report(report: _FileReport) -> None:
    typer.echo(str(report.path))
    if report.roster is not None:
        rows, households, issues = report.roster
        typer.echo(
            f"  roster: OK: {rows:,} rows, {households:,} households"
            + (
                f", {issues:,} notes on its rows (blank, duplicate or incomplete rows; "
                "plan --roster lists them)"
                if issues
                else ""
            )
        )
    bad_layers = {p.layer for p in report.problems}
    for item in report.layers:
        label = item.name if item.name == item.role else f"{item.name} ({item.role or '?'})"
        if label not in bad_layers and item.role is not None:
            typer.echo(f"  {label}: {_summary(item)}")
    if report.problems:
        n = len(report.problems)
        typer.echo(f"  {n} problem{'s' if n != 1 else ''}:")
        for p in report.problems:
            typer.echo(f"  - [{p.layer}] {in_words(p.message, interface='cli')}")
    if report.unexpected:
        typer.echo(f"  error: {report.unexpected}")


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    """Plan community grids (网格) and micro-grids (微网格) from GIS layers."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )


@app.command()
def validate(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Files or folders (GeoPackage, GeoJSON, zipped Shapefile, GeoParquet, CSV, XLSX)."
        ),
    ],
    as_role: Annotated[
        RoleChoice | None,
        typer.Option("--as", help="Role of every layer; guessed from the names otherwise."),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(help="Column renaming, e.g. 户数=households,小区编号=compound_id"),
    ] = None,
    layer: Annotated[
        str | None, typer.Option(help="Only this layer (GeoPackage layer / Excel sheet).")
    ] = None,
    source_crs: Annotated[
        SourceCRSChoice | None,
        typer.Option("--source-crs", help="Coordinates come from Gaode (gcj02) or Baidu (bd09)."),
    ] = None,
    coords_crs: Annotated[str | None, _CoordsCRSOpt] = None,
    fix_invalid: Annotated[
        bool,
        typer.Option(
            "--fix-invalid", help="Repair invalid geometries first, as plan --fix-invalid does."
        ),
    ] = False,
) -> None:
    """Check input layers and report every problem, naming the rows and the fix.

    Exits 0 when everything is valid, 1 when problems were found, 2 on an unexpected error.
    """
    mapping = _parse_columns(columns)
    coords = _parse_crs(coords_crs)
    paths, reports = _expand(files)
    for path in paths:
        try:
            reports.append(
                _check_file(
                    path,
                    role=as_role.value if as_role else None,
                    columns=mapping,
                    layer=layer,
                    source_crs=source_crs.value if source_crs else None,
                    coords_crs=coords,
                    fix_invalid=fix_invalid,
                )
            )
        except GridplanError as exc:
            report = _FileReport(path)
            report.problems.extend(
                exc.problems
                if isinstance(exc, ValidationError)
                else [Problem(path.name, "error", str(exc))]
            )
            reports.append(report)
        except Exception as exc:  # bad data must not surface as a traceback
            reports.append(_FileReport(path, unexpected=f"{type(exc).__name__}: {exc}"))
    for report in reports:
        _print_report(report)
    n_bad = sum(1 for r in reports if r.problems or r.unexpected)
    if any(r.unexpected for r in reports):
        typer.echo(f"{n_bad} of {len(reports)} files could not be checked or have problems.")
        raise typer.Exit(2)
    if n_bad:
        typer.echo(f"{n_bad} of {len(reports)} files have problems.")
        raise typer.Exit(1)
    typer.echo(f"All {len(reports)} file{'s are' if len(reports) != 1 else ' is'} valid.")


# ---------------------------------------------------------------------------------------------
# gridplan plan / grids / demo
# ---------------------------------------------------------------------------------------------

_plan_log = logging.getLogger(__name__)

#: the bundled samples `gridplan demo` plans: file, context layers, county code for the codes
_DEMO_SAMPLES: dict[str, tuple[str, dict[str, str], str]] = {
    "queenstown": (
        "singapore_queenstown.gpkg",
        {"communities": "communities", "streets": "streets", "barriers": "barriers"},
        "000000",  # not in China: no GB/T 2260 code
    ),
    "taiyuan": (
        "taiyuan.gpkg",
        {"compounds": "compounds", "dedicated": "dedicated", "barriers": "barriers"},
        "140105",  # 小店区, where most of the sample lies
    ),
}


def _split_layer(spec: str) -> tuple[Path, str | None]:
    """``"path.gpkg:layer"`` -> ``(path, "layer")`` (:func:`gridplan.io.split_layer`)."""
    return split_layer(spec)


def _read_input(
    spec: str,
    *,
    role: str,
    columns: dict[str, str] | None = None,
    coords_crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Read one input layer; in a multi-layer GeoPackage without ``:layer`` pick the layer named
    for the role (``units``, ``barriers``...) or, failing that, the first one.

    ``columns`` (``--columns``) is applied as the file is read, so it can name a table's
    coordinate columns (东经=lon,北纬=lat); ``coords_crs`` (``--coords-crs``) is the CRS of a
    table's coordinates."""
    path, layer = _split_layer(spec)
    if layer is None and path.suffix.lower() == ".gpkg" and path.is_file():
        names = list_layers(path)
        if len(names) > 1:
            exact = [n for n in names if n == role]
            guessed = [n for n in names if guess_role(n) == role]
            layer = (exact or guessed or names)[0]
            _plan_log.info("%s: using layer %r as %s", path.name, layer, role)
    return read_layer(path, layer=layer, columns=columns, crs=coords_crs, interface="cli")


def _unused_layers_hint(units_spec: str, given: dict[str, str | None]) -> str | None:
    """Name context layers sitting in the units GeoPackage that were not passed."""
    path, _ = _split_layer(units_spec)
    if path.suffix.lower() != ".gpkg" or not path.is_file():
        return None
    try:
        names = list_layers(path)
    except ValidationError:
        return None
    unused = [
        (n, role)
        for n in names
        if (role := guess_role(n)) not in (None, "units") and given.get(role) is None
    ]
    if not unused:
        return None
    flags = " ".join(f"--{role} {path}:{n}" for n, role in unused)
    return (
        f"note: {path.name} also holds {', '.join(n for n, _ in unused)}; add {flags} to use them"
    )


def _read_config(config: Path | None) -> Any:
    """:func:`gridplan.config.read_rules` on ``--config``, its problems naming the flag."""
    from .config import read_rules

    if config is not None and not config.is_file():
        where = "is a folder; name the rules .toml file in it" if config.is_dir() else "not found"
        raise ValidationError(
            [Problem(config.name, "missing_file", f"--config {str(config)!r}: {where}")]
        )
    try:
        return read_rules(config)
    except ValidationError as exc:
        assert config is not None  # the defaults are valid
        raise ValidationError(
            [
                replace(p, message=f"{p.message} (fix it in the --config file {config.name!r})")
                for p in exc.problems
            ]
        ) from None


def _load_rules(config: Path | None, county_code: str | None) -> PlanRules:
    """The plan rules of ``--config`` with ``--county-code`` on top; both checked at once."""
    problems: list[Problem] = []
    if county_code is not None and not (len(county_code) == 6 and county_code.isdigit()):
        problems.append(
            Problem(
                "--county-code",
                "county_code",
                f"--county-code must be 6 digits (the GB/T 2260 county_code of the district), "
                f"got {county_code!r}; e.g. --county-code 140105 (小店区)",
            )
        )
    try:
        rules = _read_config(config).plan
    except ValidationError as exc:
        problems[:0] = exc.problems
    if problems:
        raise ValidationError(problems)
    if county_code is not None:
        rules = replace(rules, codes=replace(rules.codes, county_code=county_code))
    return rules


class _ProgressBar:
    """A tqdm bar fed by the library's ``progress(done, total, message)`` callback."""

    def __init__(self, label: str) -> None:
        from tqdm import tqdm

        # delay: no empty "0 communities" bar before the first community is done
        self.bar = tqdm(desc=label, unit="community", leave=False, disable=None, delay=0.5)

    def __call__(self, done: int, total: int, message: str) -> None:
        if self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        self.bar.set_postfix_str(message, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _exit_with(exc: BaseException) -> NoReturn:
    """Print ``exc`` the way planners can act on it and exit: 1 for bad input or an
    unwritable output, 2 for anything unexpected (never a traceback; -v logs it)."""
    if isinstance(exc, ValidationError):
        n = len(exc.problems)
        typer.echo(f"{n} problem{'s' if n != 1 else ''} found:", err=True)
        for p in exc.problems:
            typer.echo(f"  - [{p.layer}] {in_words(p.message, interface='cli')}", err=True)
        raise typer.Exit(1)
    if isinstance(exc, GridplanError | OSError):
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    _plan_log.info("unexpected error", exc_info=exc)
    typer.echo(f"unexpected error: {type(exc).__name__}: {exc} (run with -v for details)", err=True)
    raise typer.Exit(2)


def _pct(share: float | None) -> str:
    """``96.6%``, or ``n/a`` for a share of nothing (NaN)."""
    return "n/a" if share is None or share != share else f"{share:.1%}"


def _echo_plan_summary(result: Plan, *, label: str) -> None:
    t = result.report["totals"].iloc[0]
    g, m = result.rules.grid, result.rules.microgrid
    typer.echo(f"{label}: {int(t['households']):,} households in {len(result.units):,} units")
    typer.echo(
        f"  grids: {int(t['residential_grids']):,} residential "
        f"({_pct(t['in_band_share'])} in {g.min_households}-{g.max_households}), "
        f"{int(t['dedicated_grids']):,} dedicated"
    )
    typer.echo(
        f"  micro-grids: {int(t['microgrids']):,} "
        f"({_pct(t['microgrids_in_band_share'])} in {m.min_households}-{m.max_households})"
    )
    bars = result.report.get("barriers")
    if bars is not None and len(bars):
        typer.echo(f"  barrier lines: {describe_barrier_classes(bars)}")
    typer.echo(f"  diagnostics: {len(result.diagnostics):,}")


def _plan_frames(frames: dict, *, label: str, **options: Any) -> Plan:
    """:func:`gridplan.plan` on the layers read from the command line, with a progress bar."""
    from .pipeline import plan as run_plan

    bar = _ProgressBar(label)
    try:
        return run_plan(
            frames["units"],
            compounds=frames.get("compounds"),
            dedicated=frames.get("dedicated"),
            barriers=frames.get("barriers"),
            communities=frames.get("communities"),
            streets=frames.get("streets"),
            roads=frames.get("roads"),
            progress=bar,
            **options,
        )
    finally:
        bar.close()


def _diagnostics_lang(lang: str) -> Literal["zh", "en"]:
    """The language diagnostics are written in (``--lang``)."""
    if lang == "zh":
        return "zh"
    if lang == "en":
        return "en"
    raise typer.BadParameter(f"must be 'zh' or 'en', got {lang!r}", param_hint="--lang")


def _write_outputs(
    result: Plan,
    *,
    out: Path,
    geojson: Path | None,
    equivalency: Path | None,
    report: Path | None,
    lang: str = "zh",
) -> list[Path]:
    from .export import (
        in_language,
        write_equivalency,
        write_geojson,
        write_geopackage,
        write_report_xlsx,
    )

    # diagnostics name the options a command-line user changes (--config, --fix-invalid)
    result = in_language(result, lang=_diagnostics_lang(lang), interface="cli")
    written = [write_geopackage(result, out)]
    if geojson is not None:
        write_geojson(result, geojson)
        written.append(geojson)
    if equivalency is not None:
        written.append(write_equivalency(result, equivalency))
    if report is not None:
        written.append(write_report_xlsx(result, report))
    return written


def _read_inputs(
    units: str,
    given: dict[str, str | None],
    *,
    columns: dict[str, str] | None = None,
    coords_crs: str | None = None,
) -> dict:
    """Read the units and every context layer given; all reading problems raised at once."""
    return _read_context({"units": units, **given}, columns=columns, coords_crs=coords_crs)


def _read_context(
    given: dict[str, str | None],
    *,
    columns: dict[str, str] | None = None,
    coords_crs: str | None = None,
) -> dict:
    """Read every layer given (role -> FILE or FILE.gpkg:LAYER); problems raised at once."""
    frames = {}
    problems: list[Problem] = []
    for role, spec in given.items():
        if spec is not None:
            try:
                frames[role] = _read_input(spec, role=role, columns=columns, coords_crs=coords_crs)
            except ValidationError as exc:
                problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)
    return frames


class EngineChoice(StrEnum):
    """Where ``gridplan plan`` computes: one process, or street by street on Dask."""

    single = "single"
    dask = "dask"


_InputOpt = typer.Option(help="File, or file.gpkg:layer.")
_RoadsOpt = typer.Option(
    help="All streets, lanes and paths (lines): FILE or FILE.gpkg:LAYER. Grid boundaries run "
    "on them; unlike --barriers, grids may join across them."
)
_Lang = Annotated[str, typer.Option("--lang", help="Diagnostics in Chinese (zh) or English (en).")]


def _plan_input_options(
    units: Annotated[str, typer.Argument(help="Units with households: FILE or FILE.gpkg:LAYER.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="GeoPackage to write.")],
    compounds: Annotated[str | None, _InputOpt] = None,
    dedicated: Annotated[str | None, _InputOpt] = None,
    barriers: Annotated[str | None, _InputOpt] = None,
    communities: Annotated[str | None, _InputOpt] = None,
    streets: Annotated[str | None, _InputOpt] = None,
    roads: Annotated[str | None, _RoadsOpt] = None,
    columns: Annotated[
        str | None, typer.Option(help="Column renaming, e.g. 户数=households,小区编号=compound_id")
    ] = None,
    source_crs: Annotated[
        SourceCRSChoice | None,
        typer.Option("--source-crs", help="Coordinates come from Gaode (gcj02) or Baidu (bd09)."),
    ] = None,
    coords_crs: Annotated[str | None, _CoordsCRSOpt] = None,
    config: Annotated[Path | None, typer.Option(help="Rules as TOML ([grid], [codes]...).")] = None,
    county_code: Annotated[
        str | None, typer.Option("--county-code", help="6-digit GB/T 2260 code for grid codes.")
    ] = None,
    seed: Annotated[int, _SeedOpt] = 0,
    fix_invalid: Annotated[
        bool, typer.Option("--fix-invalid", help="Repair invalid geometries.")
    ] = False,
    lang: _Lang = "zh",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite OUT if it exists (never an input file).")
    ] = False,
    previous: Annotated[
        str | None,
        typer.Option(
            "--previous",
            help="The existing plan to re-plan from: OLD.gpkg[:LAYER] (grid polygons with "
            "grid_code) or OLD.csv/.xlsx (unit_id, grid_code). Grids still valid keep their "
            "shape and code; new grids never reuse a retired code.",
        ),
    ] = None,
    plan_date: Annotated[
        str | None,
        typer.Option(
            "--plan-date",
            help="The plan's date, YYYY-MM-DD: new and changed grids are valid from it, "
            "retired ones to it (default: [codes] plan_date of --config, else none).",
        ),
    ] = None,
) -> None:
    """The inputs `gridplan plan` and `gridplan grids` share, declared once (a template for
    :func:`_with_plan_inputs`; never called)."""


@dataclass(frozen=True)
class _PlanInputs:
    """The values of :func:`_plan_input_options` as one command received them."""

    units: str
    out: Path
    compounds: str | None
    dedicated: str | None
    barriers: str | None
    communities: str | None
    streets: str | None
    roads: str | None
    columns: str | None
    source_crs: SourceCRSChoice | None
    coords_crs: str | None
    config: Path | None
    county_code: str | None
    seed: int
    fix_invalid: bool
    lang: str
    force: bool
    previous: str | None = None
    plan_date: str | None = None

    @property
    def context(self) -> dict[str, str | None]:
        """The context layers as given (role -> FILE or FILE.gpkg:LAYER, or None)."""
        return {
            "compounds": self.compounds,
            "dedicated": self.dedicated,
            "barriers": self.barriers,
            "communities": self.communities,
            "streets": self.streets,
            "roads": self.roads,
        }


def _with_plan_inputs(command: Callable[..., None]) -> Callable[..., None]:
    """A typer command taking the shared inputs as one :class:`_PlanInputs` first argument.

    Typer reads a command's options from its signature; the one given here is the template's
    parameters followed by the command's own (keyword-only) ones, so every shared option is
    declared once, in :func:`_plan_input_options`.
    """
    shared = inspect.signature(_plan_input_options, eval_str=True).parameters
    own = list(inspect.signature(command, eval_str=True).parameters.values())[1:]

    def run(**values: Any) -> None:
        inputs = _PlanInputs(**{name: values.pop(name) for name in shared})
        command(inputs, **values)

    run.__signature__ = inspect.Signature([*shared.values(), *own])  # type: ignore[attr-defined]
    run.__name__, run.__qualname__ = command.__name__, command.__qualname__
    run.__doc__, run.__module__ = command.__doc__, command.__module__
    return run


def _check_out(inputs: _PlanInputs) -> None:
    """Refuse ``--out`` before any reading: not a GeoPackage name, an input, or an existing
    file without --force."""
    if inputs.out.suffix.lower() != ".gpkg":
        raise ValidationError(
            [
                Problem(
                    inputs.out.name,
                    "output_format",
                    f"--out {inputs.out.name!r} must be a GeoPackage (.gpkg): the plan has "
                    "several layers; write GeoJSON with --geojson DIR",
                )
            ]
        )
    inputs.out.parent.mkdir(parents=True, exist_ok=True)
    check_output_path(
        inputs.out,
        inputs=[inputs.units, *inputs.context.values(), inputs.previous],
        force=inputs.force,
        interface="cli",
    )


def _refusing_all(*checks: Callable[[], object]) -> list[object]:
    """Run every check and raise one error listing all their problems (so a run that refuses
    several outputs names them all, not one per attempt); else each check's result."""
    problems: list[Problem] = []
    results: list[object] = []
    for check in checks:
        try:
            results.append(check())
        except ValidationError as exc:
            problems.extend(exc.problems)
            results.append(None)
    if problems:
        raise ValidationError(problems)
    return results


def _plan_inputs(
    inputs: _PlanInputs,
    *,
    label: str,
    units_hook: Callable[[gpd.GeoDataFrame, dict[str, str]], gpd.GeoDataFrame] | None = None,
    **options: Any,
) -> tuple[Plan, PlanRules]:
    """Read the inputs, load the rules and run the plan chain (``options`` go to
    :func:`gridplan.plan`); every reading problem is raised at once. ``units_hook(units,
    columns)`` changes the units layer read before it is planned (``--roster``)."""
    # the output is refused before any reading or planning: never an input, never an
    # existing file without --force, always a format its extension names
    _diagnostics_lang(inputs.lang)  # a usage mistake is named before anything is read
    _check_out(inputs)
    mapping = _parse_columns(inputs.columns)
    coords_crs = _parse_crs(inputs.coords_crs)
    rules = _load_rules(inputs.config, inputs.county_code)
    if inputs.plan_date is not None:
        if not is_iso_date(inputs.plan_date):
            raise ValidationError(
                [
                    Problem(
                        "arguments",
                        "plan_date",
                        f"--plan-date must be a date as YYYY-MM-DD (e.g. 2026-12-03), got "
                        f"{inputs.plan_date!r}",
                    )
                ]
            )
        rules = replace(rules, codes=replace(rules.codes, plan_date=inputs.plan_date))
    if inputs.previous is not None:
        # the old plan is checked (file, layer, code and unit columns) before anything else
        # is read, in the language of --lang
        from .previous import load_previous

        options["previous"] = load_previous(
            inputs.previous, lang=_diagnostics_lang(inputs.lang), interface="cli"
        )
    # --columns is applied as each file is read (before a table's coordinate columns are
    # looked for), so it is not applied again by the plan
    frames = _read_inputs(inputs.units, inputs.context, columns=mapping, coords_crs=coords_crs)
    if units_hook is not None:
        frames["units"] = units_hook(frames["units"], {})
    result = _plan_frames(
        frames,
        label=label,
        rules=rules,
        seed=inputs.seed,
        columns=None,
        source_crs=inputs.source_crs.value if inputs.source_crs else None,
        fix_invalid=inputs.fix_invalid,
        interface="cli",
        **options,
    )
    return result, rules


@app.command("plan")
@_with_plan_inputs
def plan_command(
    inputs: _PlanInputs,
    *,
    geojson: Annotated[
        Path | None, typer.Option(help="Folder for grids/microgrids/units.geojson (RFC 7946).")
    ] = None,
    equivalency: Annotated[
        Path | None, typer.Option(help="CSV: unit_id, grid_code, microgrid_code.")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Excel workbook of the report.")] = None,
    roster: Annotated[
        Path | None,
        typer.Option(
            help="Household roster (XLSX or CSV: 小区/楼栋/单元/楼层/房号...): households come "
            "from it, micro-grids follow its stairwells and floors, and every row is listed "
            "with its grid and micro-grid (see --households)."
        ),
    ] = None,
    roster_columns: Annotated[
        str | None,
        typer.Option(
            "--roster-columns",
            help="Roster headers to fields, e.g. 楼号=building,梯号=stairwell,人口=population "
            "(common Chinese and English headers are recognised without it).",
        ),
    ] = None,
    households: Annotated[
        Path | None,
        typer.Option(
            help="With --roster: the household list, CSV (UTF-8 with BOM) plus an .xlsx of the "
            "same name (default: OUT's name with _households.csv)."
        ),
    ] = None,
    engine: Annotated[
        EngineChoice,
        typer.Option(help="single: one process; dask: street by street on a Dask cluster."),
    ] = EngineChoice.single,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Dask scheduler, e.g. tcp://host:8786 (a local 2-worker cluster if omitted)."
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Processes planning streets side by side on this machine (default 1, as in "
            "gridplan.plan); the plan is byte for byte the same for every N."
        ),
    ] = 1,
) -> None:
    """Plan grids, micro-grids and dedicated grids with codes, and write them out.

    Exits 0 on success, 1 on bad input (every problem is listed), 2 on an unexpected error.
    """
    try:
        hint = _unused_layers_hint(inputs.units, inputs.context)
        if hint:
            typer.echo(hint, err=True)
        if scheduler is not None and engine is not EngineChoice.dask:
            raise typer.BadParameter("--scheduler needs --engine dask", param_hint="--scheduler")
        _check_workers(workers, engine=engine)
        sources = [inputs.units, *inputs.context.values(), roster]
        # every output is refused before any work, all in one error
        *_, started = _refusing_all(
            lambda: _check_out(inputs),
            lambda: _check_side_outputs(
                {"--equivalency": (equivalency, (".csv",)), "--report": (report, (".xlsx",))},
                inputs=sources,
                force=inputs.force,
            ),
            lambda: _check_geojson_folder(geojson, inputs=sources),
            lambda: _check_distinct_outputs(
                {
                    "--out": inputs.out,
                    "--equivalency": equivalency,
                    "--report": report,
                    **_RosterRun.outputs(inputs, roster, households),
                }
            ),
            lambda: _RosterRun.start(inputs, roster, roster_columns, households),
        )
        rostered = cast("_RosterRun | None", started)
        result, _ = _plan_inputs(
            inputs,
            label="planning",
            units_hook=rostered.join if rostered else None,
            engine=engine.value,
            scheduler=scheduler,
            workers=workers,
        )
        if rostered is not None:
            result = rostered.finish(result, lang=inputs.lang)
        written = _write_outputs(
            result,
            out=inputs.out,
            geojson=geojson,
            equivalency=equivalency,
            report=report,
            lang=inputs.lang,
        )
    except typer.Exit:
        raise
    except typer.BadParameter:
        raise
    except Exception as exc:  # bad data must not surface as a traceback
        _exit_with(exc)
    _echo_plan_summary(result, label=Path(_split_layer(inputs.units)[0]).name)
    if rostered is not None:
        rostered.echo()
        written.extend(rostered.written)
    typer.echo(f"wrote {', '.join(str(p) for p in written)}")


def _check_side_outputs(
    outputs: dict[str, tuple[Path | None, tuple[str, ...]]],
    *,
    inputs: list[str | Path | None],
    force: bool,
) -> None:
    """Refuse, before any work, every output file a flag names (flag -> (path, suffixes))
    that is an input, exists without --force, or has the wrong extension; all at once."""
    problems: list[Problem] = []
    for flag, (path, suffixes) in outputs.items():
        if path is None:
            continue
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)  # as --out's folder is made
        try:
            check_output_path(
                path, inputs=inputs, force=force, interface="cli", suffixes=suffixes, flag=flag
            )
        except ValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)


def _check_distinct_outputs(outputs: dict[str, Path | None]) -> None:
    """Refuse two output flags naming one file (flag -> path): the second would overwrite
    the first without a word (e.g. --report h.xlsx beside --households h.csv, whose
    workbook is h.xlsx)."""
    by_file: dict[Path, list[str]] = {}
    for flag, path in outputs.items():
        if path is not None:
            by_file.setdefault(path.resolve(), []).append(flag)
    problems = [
        Problem(
            path.name,
            "output_twice",
            f"{' and '.join(flags)} both write {str(path)!r}; the second would overwrite the "
            "first: give each of them its own file name",
            params={"flags": "、".join(flags)},
        )
        for path, flags in by_file.items()
        if len(flags) > 1
    ]
    if problems:
        raise ValidationError(problems)


def _check_geojson_folder(folder: Path | None, *, inputs: list[str | Path | None]) -> None:
    """Refuse ``--geojson DIR`` before any work when it is a file, or when a file it would
    write (grids/microgrids/units.geojson) is an input."""
    if folder is None:
        return
    problems: list[Problem] = []
    if folder.exists() and not folder.is_dir():
        problems.append(
            Problem(
                folder.name,
                "not_a_folder",
                f"--geojson {str(folder)!r} is a file; name a folder for grids.geojson, "
                "microgrids.geojson and units.geojson",
            )
        )
    else:
        targets = [folder / f"{n}.geojson" for n in ("grids", "microgrids", "units")]
        for target in targets:
            try:
                check_output_path(target, inputs=inputs, force=True, flag="--geojson")
            except ValidationError as exc:
                problems.extend(p for p in exc.problems if p.check == "output_is_input")
    if problems:
        raise ValidationError(problems)


def _check_workers(workers: int, *, engine: EngineChoice) -> None:
    """``--workers`` refused before anything is read: a count below 1, or with the Dask
    engine (whose cluster has its own workers)."""
    check_workers(workers, interface="cli")
    if workers > 1 and engine is EngineChoice.dask:
        raise ValidationError(
            [
                Problem(
                    "arguments",
                    "workers",
                    f"--workers {workers} plans in processes of this machine, but --engine dask "
                    "plans on the Dask cluster's workers; drop --workers or use --engine single",
                )
            ]
        )


@dataclass
class _RosterRun:
    """``gridplan plan --roster``: the roster read and joined before planning, the household
    list and the join report written after (:mod:`gridplan.addresses`)."""

    path: Path
    columns: dict[str, str]
    households: Path
    roster: Any = None
    report: Any = None
    table: Any = None
    written: list[Path] = field(default_factory=list)

    @staticmethod
    def outputs(inputs: _PlanInputs, path: Path | None, households: Path | None) -> dict[str, Path]:
        """The files ``--roster`` writes, by the flag naming them: the household list and its
        workbook (none without ``--roster``)."""
        if path is None:
            return {}
        out = households or inputs.out.with_name(f"{inputs.out.stem}_households.csv")
        return {"--households": out, "--households (its .xlsx)": out.with_suffix(".xlsx")}

    @classmethod
    def start(
        cls, inputs: _PlanInputs, path: Path | None, columns: str | None, households: Path | None
    ) -> _RosterRun | None:
        """Check the roster options before anything is read (None without ``--roster``)."""
        if path is None:
            if roster_flags := [
                f for f, v in (("--roster-columns", columns), ("--households", households)) if v
            ]:
                raise ValidationError(
                    [
                        Problem(
                            "arguments",
                            "roster_needed",
                            f"{' and '.join(roster_flags)} need --roster FILE (the household "
                            "roster to plan from)",
                        )
                    ]
                )
            return None
        out = cls.outputs(inputs, path, households)["--households"]
        if out.suffix.lower() != ".csv":
            raise ValidationError(
                [
                    Problem(
                        out.name,
                        "output_format",
                        f"--households {out.name!r} must be a .csv file (an .xlsx of the same "
                        "name is written next to it)",
                    )
                ]
            )
        sources = [inputs.units, *inputs.context.values(), str(path)]
        check_output_path(out, inputs=sources, force=inputs.force, interface="cli")
        book = out.with_suffix(".xlsx")
        if book.exists() and (not inputs.force or book.resolve() == path.resolve()):
            raise ValidationError(
                [
                    Problem(
                        book.name,
                        "output_exists",
                        f"{str(book)!r} exists (the household list's workbook); pass --force "
                        "to overwrite it, or choose another --households name",
                    )
                ]
            )
        return cls(path=path, columns=_parse_roster_columns(columns), households=out)

    def join(self, units: gpd.GeoDataFrame, mapping: dict[str, str]) -> gpd.GeoDataFrame:
        """Read the roster and join it to the units read (before planning)."""
        from .addresses import join_roster, read_roster

        self.roster = read_roster(self.path, columns=self.columns or None, interface="cli")
        joined, self.report = join_roster(
            units, self.roster, columns=mapping or None, interface="cli"
        )
        return joined

    def finish(self, result: Plan, *, lang: str) -> Plan:
        """The household list written, the roster's records added to the diagnostics."""
        from .addresses import (
            household_equivalency,
            report_addresses,
            report_table,
            split_unit_records,
        )
        from .diagnostics import frame
        from .export import write_household_equivalency

        table = household_equivalency(result, self.roster, self.report)
        records = [*self.report.records, *split_unit_records(table, self.report, result)]
        self.table = table
        self.written = write_household_equivalency(
            table,
            self.households,
            report=report_table(records, interface="cli"),
            lang=_diagnostics_lang(lang),
        )
        extra = frame(records, interface="cli")
        diagnostics = pd.concat([result.diagnostics, extra], ignore_index=True)
        return report_addresses(replace(result, diagnostics=diagnostics))

    def echo(self) -> None:
        rows = self.report.rows
        joined = int((rows["status"] == "joined").sum())
        typer.echo(
            f"  roster {self.roster.source}: {len(rows):,} rows, {self.roster.households:,} "
            f"households; {joined:,} rows joined ({_pct(self.report.share_joined)}), "
            f"{len(rows) - joined:,} in diagnostics"
        )


def _parse_roster_columns(text: str | None) -> dict[str, str]:
    """``--roster-columns`` as a mapping, its problems named by that flag."""
    try:
        return parse_columns(text)
    except ValidationError as exc:
        raise ValidationError(
            [
                Problem("--roster-columns", p.check, f"--roster-columns: {p.message}")
                for p in exc.problems
            ]
        ) from exc


@app.command("diff")
def diff_command(
    old: Annotated[Path, typer.Argument(help="The earlier plan (GeoPackage of gridplan plan).")],
    new: Annotated[Path, typer.Argument(help="The later plan (GeoPackage of gridplan plan).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="GeoPackage of the comparison.")],
    xlsx: Annotated[
        Path | None, typer.Option("--xlsx", help="Workbook of the comparison (headers in --lang).")
    ] = None,
    map_path: Annotated[
        Path | None,
        typer.Option("--map", help="Before/after map: .png (two panels) or .html (interactive)."),
    ] = None,
    lang: _Lang = "zh",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite outputs that exist (never an input).")
    ] = False,
) -> None:
    """Compare two versions of a plan: each grid kept, changed, split, merged, new or retired,
    and the households moved from each old grid to each new one.

    Exits 0 on success, 1 on bad input.
    """
    from .diff import diff_plans, write_diff

    try:
        language = _diagnostics_lang(lang)
        outputs = [p for p in (out, xlsx, map_path) if p is not None]
        for path, suffixes, flag in (
            (out, {".gpkg"}, "--out"),
            (xlsx, {".xlsx"}, "--xlsx"),
            (map_path, {".png", ".html"}, "--map"),
        ):
            if path is not None and path.suffix.lower() not in suffixes:
                raise ValidationError(
                    [
                        Problem(
                            path.name,
                            "output_format",
                            f"{flag} {path.name!r} must end in {' or '.join(sorted(suffixes))}",
                        )
                    ]
                )
        check_output_path(out, inputs=[old, new], force=force, interface="cli")
        for path in outputs[1:]:
            if any(same_file(path, p) for p in (old, new)) or (path.exists() and not force):
                raise ValidationError(
                    [
                        Problem(
                            path.name,
                            "output_exists",
                            f"{str(path)!r} is an input or exists; pass --force to overwrite "
                            "an output, or choose another name (inputs are never overwritten)",
                        )
                    ]
                )
        result = diff_plans(old, new)
        written = write_diff(result, out, xlsx=xlsx, map_path=map_path, lang=language)
    except typer.Exit:
        raise
    except typer.BadParameter:
        raise
    except Exception as exc:  # bad data must not surface as a traceback
        _exit_with(exc)
    s = result.summary.iloc[0]
    typer.echo(
        f"{old.name} -> {new.name}: {int(s['grids_old'])} -> {int(s['grids_new'])} grids; "
        + ", ".join(f"{int(s[f'{k}_grids'])} {k}" for k in STATUSES)
    )
    typer.echo(
        f"  {s['households_kept_code']:,.0f} of {s['households_old']:,.0f} households keep their "
        f"grid code ({_pct(s['share_kept_code'])}); {s['households_moved']:,.0f} moved, "
        f"{s['households_removed']:,.0f} removed, {s['households_added']:,.0f} added"
    )
    typer.echo(f"wrote {', '.join(str(p) for p in written)}")


@app.command("grids")
@_with_plan_inputs
def grids_command(inputs: _PlanInputs) -> None:
    """Plan residential and dedicated grids only (no micro-grids): layers grids, units,
    diagnostics in OUT.

    Exits 0 on success, 1 on bad input (every problem is listed), 2 on an unexpected error.
    """
    out = inputs.out
    try:
        # the plan chain without its micro-grid stage
        result, rules = _plan_inputs(inputs, label="grids", microgrids=False)
        grids_out = result.grids.drop(columns=["n_microgrids"])
        units_out = result.units.drop(columns=["microgrid_code"])
        units_out = units_out.reset_index(names=units_out.index.name or "unit_id")
        diags = flat(
            render_frame(result.diagnostics, lang=_diagnostics_lang(inputs.lang), interface="cli")
        )
        write_gpkg(out, {"grids": grids_out, "units": units_out, "diagnostics": diags}, keep=False)
    except typer.Exit:
        raise
    except typer.BadParameter:
        raise
    except Exception as exc:  # bad data must not surface as a traceback
        _exit_with(exc)
    res = grids_out[grids_out["kind"] == "residential"]
    share = _pct(res["in_band"].mean()) if len(res) else "n/a"
    typer.echo(
        f"{Path(_split_layer(inputs.units)[0]).name}: {int(grids_out['households'].sum()):,} "
        f"households in {len(res):,} residential grids ({share} in "
        f"{rules.grid.min_households}-{rules.grid.max_households}), "
        f"{len(grids_out) - len(res):,} dedicated; {len(diags):,} diagnostics"
    )
    typer.echo(f"wrote {out}")


def _default_data_dir() -> Path:
    bundled = Path(__file__).resolve().parents[1] / "data"
    return bundled if bundled.is_dir() else Path("data")


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results.")] = Path("out"),
    data: Annotated[
        Path | None, typer.Option(help="Folder holding the bundled samples (default: data/).")
    ] = None,
    seed: Annotated[int, _SeedOpt] = 0,
) -> None:
    """Plan the bundled samples (Singapore Queenstown, Taiyuan) and write every output.

    For each sample NAME: OUT/NAME.gpkg, OUT/NAME_geojson/, OUT/NAME_equivalency.csv and
    OUT/NAME_report.xlsx.
    """
    from .config import CodeRules
    from .pipeline import plan as run_plan

    folder = data or _default_data_dir()
    written: list[Path] = []
    for name, (filename, context, county) in _DEMO_SAMPLES.items():
        src = folder / filename
        try:
            if not src.is_file():
                raise ValidationError(
                    [
                        Problem(
                            filename,
                            "missing_file",
                            f"sample {str(src)!r} not found; run from the repository or pass "
                            "--data pointing at its data/ folder",
                        )
                    ]
                )
            frames = {"units": read_layer(src, layer="units")}
            for role, layer in context.items():
                frames[role] = read_layer(src, layer=layer)
            rules = PlanRules(codes=CodeRules(county_code=county))
            bar = _ProgressBar(name)
            try:
                result = run_plan(
                    frames.pop("units"),
                    rules=rules,
                    seed=seed,
                    progress=bar,
                    **frames,
                )
            finally:
                bar.close()
            files = _write_outputs(
                result,
                out=out / f"{name}.gpkg",
                geojson=out / f"{name}_geojson",
                equivalency=out / f"{name}_equivalency.csv",
                report=out / f"{name}_report.xlsx",
            )
        except typer.Exit:
            raise
        except Exception as exc:  # bad data must not surface as a traceback
            _exit_with(exc)
        _echo_plan_summary(result, label=f"{name} ({filename})")
        for f in files:
            typer.echo(f"  wrote {f}")
        written.extend(files)
    typer.echo(
        f"Done: {len(written)} outputs in {out}/. Open the .gpkg files in QGIS, or drop "
        f"{out}/queenstown_geojson/grids.geojson on geojson.io."
    )


class LangChoice(StrEnum):
    zh = "zh"
    en = "en"


@app.command("staff")
def staff_command(
    plan_file: Annotated[
        Path,
        typer.Argument(
            metavar="PLAN.gpkg",
            help="GeoPackage written by `gridplan plan` (layers units, grids, microgrids).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Excel workbook to write (.xlsx).")],
    roster: Annotated[
        Path | None,
        typer.Option(
            help="CSV/XLSX of people: name, role (grid_head|fulltime_worker|parttime_worker|"
            "building_head|unit_head, or 网格长/专职网格员/兼职网格员/楼栋长/单元长), phone, "
            "lon/lat or unit_id/compound_id, capacity, community_id."
        ),
    ] = None,
    compounds: Annotated[
        str | None,
        typer.Option(
            help="Compound polygons the plan was made with (FILE or FILE.gpkg:LAYER), for "
            "party branches by adjacent compounds; default: the plan file's compounds layer."
        ),
    ] = None,
    communities: Annotated[
        str | None,
        typer.Option(
            help="Community polygons with `name` (FILE or FILE.gpkg:LAYER), for community "
            "names; default: the plan file's communities layer."
        ),
    ] = None,
    streets: Annotated[
        str | None,
        typer.Option(
            help="Street polygons with `name` (FILE or FILE.gpkg:LAYER), for street names; "
            "default: the plan file's streets layer."
        ),
    ] = None,
    households: Annotated[
        Path | None,
        typer.Option(
            "--households",
            help="The household list `gridplan plan --roster` wrote (CSV or XLSX) when the "
            "roster has a role column (角色/身份/职务): its 楼栋长/单元长/兼职网格员 are "
            "assigned to the micro-grid holding their address.",
        ),
    ] = None,
    current_staff: Annotated[
        Path | None,
        typer.Option(
            "--current-staff",
            help="CSV/XLSX of the community workers each community has now (community_id or "
            "社区名称, and 在岗社区工作者/current_workers): shows the gap to the resident ratio.",
        ),
    ] = None,
    max_distance: Annotated[
        float | None,
        typer.Option(
            "--max-distance",
            help="Farthest a roster person may live from a post outside their own grid "
            "(metres; default: [staffing] roster_max_distance_m, 0 = no limit).",
        ),
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Rules as TOML: a staffing table.")] = None,
    lang: Annotated[
        LangChoice, typer.Option("--lang", help="Headers in Chinese (zh) or English (en).")
    ] = LangChoice.zh,
    show_phones: Annotated[
        bool, typer.Option("--show-phones", help="Write phone numbers unmasked.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite OUT if it exists (never an input file).")
    ] = False,
) -> None:
    """Posts, party branches and roster assignments for a plan, as an Excel workbook.

    Give --compounds (and --communities/--streets for names) when the plan file does not carry
    them, so the branches and names match planning from Python. Exits 0 on success, 1 on bad
    input (every problem is listed), 2 on an unexpected error.
    """
    try:
        from .staffing import read_plan_layers, staffing_plan

        # the workbook is refused before anything is read: never an input, never an existing
        # file without --force, always .xlsx
        _check_side_outputs(
            {"--out": (out, (".xlsx", ".xlsm"))},
            inputs=[plan_file, roster, compounds, communities, streets, config],
            force=force,
        )
        rules = _read_config(config).staffing
        if max_distance is not None:
            rules = replace(rules, roster_max_distance_m=max_distance)
        parts: dict[str, Any] = dict(read_plan_layers(plan_file))
        # layers given on the command line win over the plan file's own
        parts.update(
            _read_context({"compounds": compounds, "communities": communities, "streets": streets})
        )
        result = staffing_plan(
            parts,
            rules=rules,
            roster=roster,
            household_list=households,
            current_staff=current_staff,
            interface="cli",
        )
        written = result.to_excel(out, language=lang.value, mask_phones=not show_phones)
    except typer.Exit:
        raise
    except Exception as exc:  # bad data must not surface as a traceback
        _exit_with(exc)
    g = result.grids
    c = result.communities
    typer.echo(
        f"{plan_file.name}: {len(g):,} grids, {int(c['grid_head'].sum()):,} grid heads, "
        f"{int(c['fulltime_worker'].sum()):,} full-time and "
        f"{int(c['parttime_workers'].sum()):,} part-time grid workers, "
        f"{int(c['community_workers'].sum()):,} community workers"
    )
    kinds = result.party["type"].value_counts() if len(result.party) else pd.Series(dtype=int)
    n_branches = int(kinds.get("single", 0) + kinds.get("joint", 0))
    n_short = int(kinds.get("short", 0))
    typer.echo(
        f"  party branches: {n_branches:,} ({int(kinds.get('joint', 0)):,} joint)"
        + (f"; {n_short:,} groups short of {result.rules.branch_min_members}" if n_short else "")
    )
    c_total = int(c["paid_staff"].sum())
    typer.echo(f"  paid community staff needed (grid heads included): {c_total:,}")
    if "current_workers" in c.columns:
        typer.echo(
            f"  community workers now: {int(c['current_workers'].sum()):,}; still needed to "
            f"reach {result.rules.community_workers_per_10k:g} per 10,000: "
            f"{int(c['workers_gap'].sum()):,}"
        )
    if result.party_communities is not None:
        levels = result.party_communities["party_level"].value_counts()
        typer.echo(
            "  community party organisations: "
            + ", ".join(
                f"{int(levels.get(k, 0)):,} {w}"
                for k, w in (
                    ("committee", "committees"),
                    ("big_committee", "big committees"),
                    ("general_branch", "general branches"),
                    ("branch", "branches"),
                )
            )
        )
    if result.has_roster:
        typer.echo(
            f"  roster: {len(result.assignments):,} posts filled, {len(result.unfilled):,} "
            f"unfilled, {len(result.unassigned):,} people without a post"
        )
    if result.heads is not None:
        h = result.heads
        typer.echo(
            f"  household list: {int((h['role'] == 'building_head').sum()):,} building heads, "
            f"{int((h['role'] == 'unit_head').sum()):,} stairwell heads, "
            f"{int(h['serves_as_parttime'].sum()):,} of them part-time grid workers"
        )
    typer.echo(f"  diagnostics: {len(result.diagnostics):,}")
    typer.echo(f"wrote {written}")


class PaperChoice(StrEnum):
    A3 = "A3"
    A4 = "A4"


@app.command("print")
def print_command(
    plan_file: Annotated[
        Path, typer.Argument(metavar="PLAN.gpkg", help="GeoPackage written by `gridplan plan`.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for wallmaps.pdf, boards.pdf.")],
    staffing: Annotated[
        Path | None, typer.Option(help="Workbook written by `gridplan staff` (names, phones).")
    ] = None,
    paper: Annotated[PaperChoice, typer.Option(help="Paper size.")] = PaperChoice.A3,
    lang: Annotated[
        LangChoice, typer.Option("--lang", help="Chinese (zh) or English (en).")
    ] = LangChoice.zh,
    community: Annotated[
        str | None, typer.Option(help="Only this community (code, id or name).")
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="Version printed under the title (default: today).")
    ] = None,
    font: Annotated[
        Path | None, typer.Option(help="CJK font file (default: an installed one).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite wallmaps.pdf / boards.pdf.")
    ] = False,
) -> None:
    """Print wall maps (one page per community) and notice boards (one page per grid).

    Exits 0 on success, 1 on bad input (every problem is listed), 2 on an unexpected error.
    """
    try:
        from .printing import print_plan

        result = print_plan(
            plan_file,
            out=out,
            staffing=staffing,
            paper=paper.value,
            lang=lang.value,
            community=community,
            version=version,
            font=font,
            force=force,
            interface="cli",
        )
    except typer.Exit:
        raise
    except Exception as exc:  # bad data must not surface as a traceback
        _exit_with(exc)
    typer.echo(
        f"wrote {result.wallmaps} ({result.wallmap_pages} pages), "
        f"{result.boards} ({result.board_pages} pages)"
    )


class _ReformMode(StrEnum):
    reform = "reform"
    repair = "repair"


class _EnterpriseResidents(StrEnum):
    handover = "handover"
    dedicated = "dedicated"


class _ReformBalance(StrEnum):
    households = "households"
    population = "population"


@app.command("reform")
def reform_command(
    units: Annotated[str, typer.Argument(help="Units with households: FILE or FILE.gpkg:LAYER.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="GeoPackage (.gpkg) to write.")],
    communities: Annotated[
        str | None, typer.Option(help="Current communities (polygons): FILE or FILE.gpkg:LAYER.")
    ] = None,
    community_column: Annotated[
        str | None,
        typer.Option(
            "--community-column",
            help="Units column holding each unit's current community (instead of --communities).",
        ),
    ] = None,
    streets: Annotated[str | None, _InputOpt] = None,
    barriers: Annotated[str | None, _InputOpt] = None,
    dedicated: Annotated[str | None, _InputOpt] = None,
    roads: Annotated[str | None, _RoadsOpt] = None,
    min_households: Annotated[
        int | None,
        typer.Option("--min-households", help="Band floor (default: [reform] or 1000)."),
    ] = None,
    max_households: Annotated[
        int | None,
        typer.Option("--max-households", help="Band ceiling (default: [reform] or 3000)."),
    ] = None,
    target_count: Annotated[
        int | None, typer.Option("--target-count", help="Number of communities wanted.")
    ] = None,
    balance: Annotated[
        _ReformBalance | None,
        typer.Option(help="Bound households or population (default: [reform] or households)."),
    ] = None,
    disruption_weight: Annotated[
        float | None,
        typer.Option("--disruption-weight", help="Households moved vs compactness (default 1)."),
    ] = None,
    replan_valid: Annotated[
        bool,
        typer.Option(
            "--replan-valid",
            help="Re-plan communities that are already valid too (the same as --mode reform).",
        ),
    ] = False,
    mode: Annotated[
        _ReformMode | None,
        typer.Option(
            "--mode",
            help="reform: break the old boundaries (彻底打破原有四至边界) and plan every street "
            "afresh, the 村改社区 mode; repair: keep every current community that is in band "
            "and contiguous, and fix only the others (default: [reform] keep_valid, repair).",
        ),
    ] = None,
    enterprise_categories: Annotated[
        str | None,
        typer.Option(
            "--enterprise-categories",
            help="Comma-separated words marking a dedicated area's category as an enterprise "
            "(居企分离), e.g. industrial,工业,企业 (default: [reform] enterprise_categories).",
        ),
    ] = None,
    enterprise_residents: Annotated[
        _EnterpriseResidents | None,
        typer.Option(
            "--enterprise-residents",
            help="handover: homes inside enterprise areas go to the territorial community "
            "(居企分离 as practice means it, default); dedicated: they stay with the "
            "enterprise's dedicated grid.",
        ),
    ] = None,
    max_service_distance: Annotated[
        float | None,
        typer.Option(
            "--max-service-distance",
            help="Service equality (服务均等): farthest a household may be from its community's "
            "service centre, in metres, e.g. 1000; communities reaching farther are split "
            "where the band allows, the rest reported (0 = no limit; the reach is always "
            "reported).",
        ),
    ] = None,
    village_types: Annotated[
        str | None,
        typer.Option(
            "--village-types",
            help="Column of the communities layer (or of the units, with --community-column) "
            "giving each village's type: kept/保留, merged/合并, relocated/搬迁 or "
            "cash/货币补偿; relocated and cash-compensated villages join the nearest "
            "community, merged ones their main neighbour.",
        ),
    ] = None,
    xlsx: Annotated[
        Path | None,
        typer.Option(
            "--xlsx",
            help="Also write the before/after report (村改社区前后对照) as an Excel workbook "
            "(default: next to --out, same name, .xlsx).",
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Rules as TOML: a [reform] table; flags override it.")
    ] = None,
    columns: Annotated[
        str | None, typer.Option(help="Column renaming, e.g. 户数=households,村编码=community_id")
    ] = None,
    coords_crs: Annotated[str | None, _CoordsCRSOpt] = None,
    seed: Annotated[int, _SeedOpt] = 0,
    lang: _Lang = "zh",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite OUT if it exists (never an input file).")
    ] = False,
) -> None:
    """Redivide communities (村改社区): size-bounded, contiguous, minimal disruption.

    Writes layers communities, changes, units and counts (plus per_street, mapping,
    dedicated and diagnostics) and prints the before/after counts. Exits 0 on success,
    1 on bad input (every problem is listed), 2 on an unexpected error.
    """
    try:
        import warnings

        from .io import index_as_column
        from .reform import redivide
        from .reform.report import reform_workbook

        given = {
            "communities": communities,
            "streets": streets,
            "barriers": barriers,
            "dedicated": dedicated,
            "roads": roads,
        }
        # the output is refused before any reading: never an input, never an existing file
        # without --force, always a GeoPackage
        book = xlsx or out.with_suffix(".xlsx")
        _check_side_outputs(
            {"--out": (out, (".gpkg",)), "--xlsx": (book, (".xlsx",))},
            inputs=[units, *given.values(), config],
            force=force,
        )
        if (communities is None) == (community_column is None):
            raise ValidationError(
                [
                    Problem(
                        "communities",
                        "missing_layer",
                        "give the current communities with --communities FILE or "
                        "--community-column COLUMN (exactly one of them)",
                    )
                ]
            )
        mapping = _parse_columns(columns)
        coords = _parse_crs(coords_crs)
        diagnostics_lang = _diagnostics_lang(lang)
        problems: list[Problem] = []
        # the file's [reform] table (the one rules loader), then the flags given on top
        flags: dict[str, Any] = {
            "min_households": min_households,
            "max_households": max_households,
            "target_count": target_count,
            "balance": balance.value if balance else None,
            "disruption_weight": disruption_weight,
            "keep_valid": False
            if replan_valid or mode == _ReformMode.reform
            else (True if mode == _ReformMode.repair else None),
            "enterprise_categories": tuple(
                w.strip() for w in enterprise_categories.split(",") if w.strip()
            )
            if enterprise_categories is not None
            else None,
            "enterprise_residents": enterprise_residents.value if enterprise_residents else None,
            "max_service_distance_m": max_service_distance,
        }
        if replan_valid and mode == _ReformMode.repair:
            problems.append(
                Problem(
                    "arguments",
                    "mode",
                    "--replan-valid re-plans valid communities, --mode repair keeps them: give "
                    "one of them (--mode reform is the same as --replan-valid)",
                )
            )
        if enterprise_categories is not None and not flags["enterprise_categories"]:
            problems.append(
                Problem(
                    "arguments",
                    "enterprise_categories",
                    "--enterprise-categories needs at least one word, e.g. industrial,工业",
                )
            )
            flags["enterprise_categories"] = None
        if max_service_distance is not None and not max_service_distance >= 0:
            problems.append(
                Problem(
                    "arguments",
                    "max_service_distance",
                    f"--max-service-distance must be a number of metres >= 0 (0 = no limit), "
                    f"got {max_service_distance:g}",
                )
            )
            flags["max_service_distance_m"] = None
        try:
            rules = replace(
                _read_config(config).reform, **{k: v for k, v in flags.items() if v is not None}
            )
        except ValidationError as exc:
            problems.extend(exc.problems)
        frames: dict[str, gpd.GeoDataFrame] = {}
        try:
            # --columns applied as each file is read, so a table's coordinates can be named
            frames = _read_inputs(units, given, columns=mapping, coords_crs=coords)
        except ValidationError as exc:
            problems.extend(exc.problems)
        if problems:
            raise ValidationError(problems)
        with warnings.catch_warnings():
            if rules.balance == "population":
                # expected when planning by residents: say nothing about it
                warnings.filterwarnings("ignore", message="units have no `households` column")
            result = redivide(
                frames["units"],
                communities=frames.get(
                    "communities",
                    mapping.get(community_column, community_column) if community_column else None,
                ),
                streets=frames.get("streets"),
                barriers=frames.get("barriers"),
                dedicated=frames.get("dedicated"),
                roads=frames.get("roads"),
                rules=rules,
                seed=seed,
                columns=None,  # applied as each file was read
                village_types=village_types,
            )
        layers_out: dict[str, pd.DataFrame] = {
            "communities": result.communities,
            "changes": result.changes,
            "units": result.units,
            "counts": result.report["counts"],
            "per_street": result.report["per_street"],
            "mapping": result.report["mapping"],
        }
        if len(result.dedicated):
            layers_out["dedicated"] = result.dedicated
        if len(result.diagnostics):
            # machine columns as text next to messages that name this command's flags
            layers_out["diagnostics"] = flat(
                render_frame(result.diagnostics, lang=diagnostics_lang, interface="cli")
            )
        # one fresh file, written whole and renamed into place: no stale layers from an
        # earlier run, never half a GeoPackage
        write_gpkg(out, {n: index_as_column(f) for n, f in layers_out.items()}, keep=False)
        reform_workbook(result, book, lang=diagnostics_lang)
    except typer.Exit:
        raise
    except typer.BadParameter:
        raise
    except Exception as exc:  # bad data must not surface as a traceback
        _exit_with(exc)
    c: dict[str, tuple[float, float]] = {
        str(m): (float(b), float(a))
        for m, b, a in result.report["counts"][["metric", "before", "after"]].itertuples(
            index=False
        )
    }
    if rules.balance == "households":
        noun, total_text = "households", f"{int(c['households'][1]):,} households"
    else:
        noun = "residents"
        total_text = f"{int(result.units['population'].sum()):,} residents"
    typer.echo(
        f"{Path(_split_layer(units)[0]).name}: {total_text} in {len(result.units):,} units, "
        f"band {rules.min_households:,}-{rules.max_households:,} {noun}"
    )
    for metric, label in (
        ("communities", "communities"),
        ("in_bounds", "in bounds"),
        ("oversized", "oversized"),
        ("undersized", "undersized"),
    ):
        typer.echo(f"  {label}: {int(c[metric][0]):,} -> {int(c[metric][1]):,}")
    if rules.balance == "households":
        moved, total = c["households_moved"][1], c["households"][1]
    else:
        moved, total = c["population_moved"][1], float(result.units["population"].sum())
    share = _pct(moved / total) if total else "n/a"
    typer.echo(f"  {noun} moved: {int(moved):,} of {int(total):,} ({share})")
    if len(result.dedicated):
        handed = int(c.get("households_handed_over", (0, 0))[1])
        if rules.enterprise_residents == "handover":
            # 居企分离: the homes went to the territorial community, none to the enterprise
            typer.echo(
                f"  enterprise areas: {len(result.dedicated):,}; {handed:,} households in them "
                "handed over to the territorial community"
            )
        else:
            typer.echo(
                f"  enterprise areas for dedicated grids: {len(result.dedicated):,} "
                f"({int(result.dedicated['households'].sum()):,} households)"
            )
    typer.echo(f"  diagnostics: {len(result.diagnostics):,}")
    reach = result.communities["service_reach_m"]
    if len(reach) and reach.notna().any():
        typer.echo(
            f"  service reach: up to {float(reach.max()):,.0f} m from a community's service "
            f"centre; households per community worker up to "
            f"{float(result.communities['households_per_worker'].max()):,.1f}"
        )
    typer.echo(f"wrote {out} (layers {', '.join(layers_out)})")
    typer.echo(f"wrote {book}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``gridplan`` command.

    A user's mistake on the command line (an unknown option, a missing argument, a bad value)
    exits with 1 and click's usage message, like bad data; 2 is kept for unexpected errors.
    """
    import sys

    try:
        code = app(args=argv, standalone_mode=False)
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument, ...
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(getattr(exc, "exit_code", 0))
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
