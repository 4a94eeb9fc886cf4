"""Command line: ``gridplan validate`` checks input files before planning.

The CLI is thin: it reads files with :mod:`gridplan.io`, checks them with
:mod:`gridplan.validate`, and prints a report. Bad data never produce a traceback: every
problem is listed with the offending row ids and the fix, and the exit code says whether the
input is usable (0), has problems (1), or hit an unexpected error (2).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Annotated

import geopandas as gpd
import pandas as pd
import typer

from .crs import unshift_to_wgs84
from .errors import GridplanError, Problem, ValidationError
from .io import FORMATS, list_layers, read_layer
from .validate import ROLES, validate_layer, validate_layers

app = typer.Typer(
    name="gridplan",
    help="Plan community grids (网格) and micro-grids (微网格) from GIS layers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class RoleChoice(str, Enum):
    units = "units"
    compounds = "compounds"
    dedicated = "dedicated"
    barriers = "barriers"
    communities = "communities"
    streets = "streets"


class SourceCRSChoice(str, Enum):
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


def _parse_columns(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    mapping: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise typer.BadParameter(
                f"expected OLD=NEW pairs like 户数=households, got {part.strip()!r}",
                param_hint="--columns",
            )
        old, new = (s.strip() for s in part.split("=", 1))
        mapping[old] = new
    return mapping


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
    return f"OK: {len(gdf):,} {singular if len(gdf) == 1 else plural}"


def _check_file(
    path: Path,
    *,
    role: str | None,
    columns: dict[str, str],
    layer: str | None,
    source_crs: str | None,
) -> _FileReport:
    report = _FileReport(path)
    try:
        names = [layer] if layer is not None else list_layers(path)
    except ValidationError as exc:
        report.problems.extend(exc.problems)
        return report
    for name in names:
        try:
            gdf = read_layer(path, layer=name, columns=columns)
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
                )
                extra = [p for p in extra if p.layer == "units"]
            else:
                extra = validate_layer(item.gdf, role=r)  # type: ignore[arg-type]
            report.problems.extend(relabel(extra, label))
    return report


def _print_report(report: _FileReport) -> None:
    typer.echo(str(report.path))
    bad_layers = {p.layer for p in report.problems}
    for item in report.layers:
        label = item.name if item.name == item.role else f"{item.name} ({item.role or '?'})"
        if label not in bad_layers and item.role is not None:
            typer.echo(f"  {label}: {_summary(item)}")
    if report.problems:
        n = len(report.problems)
        typer.echo(f"  {n} problem{'s' if n != 1 else ''}:")
        for p in report.problems:
            typer.echo(f"  - [{p.layer}] {p.message}")
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
) -> None:
    """Check input layers and report every problem, naming the rows and the fix.

    Exits 0 when everything is valid, 1 when problems were found, 2 on an unexpected error.
    """
    mapping = _parse_columns(columns)
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


def main() -> None:
    """Entry point of the ``gridplan`` command."""
    app()


if __name__ == "__main__":
    main()
