"""Errors raised by gridplan.

Every error a user can trigger with bad input is a :class:`ValidationError` that lists *all*
problems found, names the offending rows or columns, and says how to fix them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

#: Whose words a fix is given in (as :data:`gridplan.diagnostics.Interface`).
Interface = Literal["python", "cli", "app"]


class GridplanError(Exception):
    """Base class for every error gridplan raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem found while validating input.

    Parameters
    ----------
    layer
        Name of the layer (``units``, ``barriers``, ...) or ``rules``.
    check
        Short machine-readable name of the check, e.g. ``invalid_geometry``.
    message
        Human-readable sentence naming rows/columns and the fix.
    rows
        Identifiers of the offending rows (may be empty for column-level problems).
    """

    layer: str
    check: str
    message: str
    rows: tuple[object, ...] = ()

    def __str__(self) -> str:
        return f"[{self.layer}] {self.message}"


class ValidationError(GridplanError, ValueError):
    """Input data or rules are invalid. ``problems`` holds every problem found."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]):
        self.problems: tuple[Problem, ...] = tuple(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found in the input:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class InfeasibleError(GridplanError):
    """A requested plan cannot be produced at all (not raised for ordinary infeasible pieces,
    which are reported in the plan's diagnostics table instead)."""


def describe_rows(rows: Sequence[object], *, limit: int = 10) -> str:
    """Format row identifiers for an error message: ``ids 4, 9, 12`` (truncated after ``limit``)."""
    shown = ", ".join(str(r) for r in list(rows)[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"{shown}{more}"


#: How a planner changes an input option, in the words of the interface in use; ``{...}``
#: fields are filled by :func:`option`. The fix of an input problem names the option the
#: caller can actually set: a keyword in Python, a flag in the CLI, a control in the app.
INPUT_OPTIONS: dict[str, dict[str, str]] = {
    "fix_invalid": {
        "python": "pass fix_invalid=True",
        "cli": "pass --fix-invalid",
        "app": "tick 'Repair invalid geometry'",
    },
    "columns": {
        "python": "rename it with columns={{{old!r}: {new!r}}}",
        "cli": "rename it with --columns {old}={new}",
        "app": "rename it in the column mapping box ({old} = {new})",
    },
    "columns_drop": {
        "python": "drop the old column, or leave {old!r} out of the `columns` mapping",
        "cli": "drop the old column from the file, or leave {old}={new} out of --columns",
        "app": "drop the old column from the file, or leave {old} = {new} out of the column "
        "mapping box",
    },
    "coordinates": {
        "python": "name them with columns={{{x!r}: 'lon', {y!r}: 'lat'}} (or x={x!r}, y={y!r})",
        "cli": "name them with --columns {x}=lon,{y}=lat",
        "app": "name them in the column mapping box ({x} = lon, {y} = lat)",
    },
    "crs": {
        "python": "pass the CRS they are in, e.g. crs='EPSG:4490' (CGCS2000) or crs='EPSG:4547'",
        "cli": "pass the CRS they are in, e.g. --coords-crs EPSG:4547 (CGCS2000 / Gauss-Kruger "
        "CM 114E, metres; --coords-crs EPSG:4490 for CGCS2000 lon/lat)",
        "app": "choose 'Projected, metres' in 'Coordinate system of CSV/XLSX coordinates' and "
        "give its code in 'EPSG code of the projection' (e.g. EPSG:4547)",
    },
    "encoding": {
        "python": "pass encoding='gbk' (or the file's encoding)",
        "cli": "put a .cpg file naming the encoding (e.g. GBK) next to the .shp",
        "app": "re-save the file as UTF-8",
    },
    "source_crs": {
        "python": "drop source_crs, or pass the layer in longitude/latitude",
        "cli": "drop --source-crs, or pass the layer in longitude/latitude",
        "app": "set 'Coordinates taken from' to WGS84, or upload the layer in longitude/latitude",
    },
    "force": {
        "python": "pass force=True to overwrite it",
        "cli": "pass --force to overwrite it",
        "app": "choose another file name",
    },
    "balance": {
        "python": "plan by population with GridRules(balance='population')",
        "cli": 'plan by population with balance = "population" in the [grid] table of the '
        "--config file",
        "app": "plan by population in the sidebar",
    },
}


def option(name: str, interface: Interface = "python", **fields: object) -> str:
    """The fix ``name`` of :data:`INPUT_OPTIONS` in the words of ``interface``.

    Examples
    --------
    >>> option("fix_invalid", "cli")
    'pass --fix-invalid'
    >>> option("columns", "cli", old="户数", new="households")
    'rename it with --columns 户数=households'
    """
    words = INPUT_OPTIONS[name]
    return words.get(interface, words["python"]).format(**fields)
