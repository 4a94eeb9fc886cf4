"""Every input check, collected and raised once.

:func:`validate_layers` looks at all layers a plan needs and returns *every* problem it finds as
a :class:`~gridplan.errors.Problem`; nothing is raised there, so the command line can report
the lot. :func:`check_or_raise` turns a non-empty list into one
:class:`~gridplan.errors.ValidationError`. Each message names the offending rows (up to ten ids)
and says how to fix them.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> units = gpd.GeoDataFrame(
...     {"unit_id": ["a", "b"], "households": [120, -3]},
...     geometry=[Point(0, 0), Point(1, 1)], crs=32649)
>>> [p.check for p in validate_layers(units)]
['negative_households']
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .errors import Interface, Problem, ValidationError, describe_rows, option

Role = Literal["units", "compounds", "dedicated", "barriers", "communities", "streets", "roads"]
ROLES: tuple[Role, ...] = (
    "units",
    "compounds",
    "dedicated",
    "barriers",
    "communities",
    "streets",
    "roads",
)

POLYGONAL = frozenset({"Polygon", "MultiPolygon"})
LINEAL = frozenset({"LineString", "MultiLineString", "LinearRing"})
ALLOWED_TYPES: dict[str, frozenset[str]] = {
    "units": frozenset({"Point", "Polygon", "MultiPolygon"}),
    "compounds": POLYGONAL,
    "dedicated": POLYGONAL,
    "communities": POLYGONAL,
    "streets": POLYGONAL,
    "barriers": LINEAL,
    "roads": LINEAL,
}
_TYPE_WORDS = {
    "units": "points or polygons",
    "compounds": "polygons",
    "dedicated": "polygons",
    "communities": "polygons",
    "streets": "polygons",
    "barriers": "lines",
    "roads": "lines",
}
ID_COLUMNS: dict[str, str] = {
    "units": "unit_id",
    "compounds": "compound_id",
    "dedicated": "dedicated_id",
    "barriers": "barrier_id",
    "communities": "community_id",
    "streets": "street_id",
    "roads": "road_id",
}
# numeric unit columns that are optional but must be numbers when present
NUMERIC_UNIT_COLUMNS = ("population", "party_members", "floors", "stairwells")
# column names that probably hold household counts under another name
_HOUSEHOLD_HINT = re.compile(r"户|household|dwelling|^hh($|_)|_hh$|家庭|住宅套数|套数", re.I)
_POPULATION_HINT = re.compile(r"人口|居民|pop|resident|persons", re.I)

_NOUNS = {
    "units": ("unit", "units"),
    "compounds": ("compound", "compounds"),
    "dedicated": ("dedicated area", "dedicated areas"),
    "barriers": ("barrier", "barriers"),
    "communities": ("community", "communities"),
    "streets": ("street", "streets"),
    "roads": ("road", "roads"),
}
_SINGULAR_VERBS = {"have": "has", "are": "is", "lie": "lies"}
_TRUE = {"true", "t", "yes", "y", "1", "是", "封闭", "gated"}
_FALSE = {"false", "f", "no", "n", "0", "否", "开放", "open", ""}


def layer_ids(gdf: pd.DataFrame, role: str) -> pd.Index:
    """Row identifiers of a layer as strings: its ``<role>_id`` column if present, else the index.

    Missing ids stay missing (``None``).
    """
    col = ID_COLUMNS.get(role, f"{role}_id")
    raw = gdf[col] if col in gdf.columns else gdf.index.to_series()
    values = [id_str(v) for v in raw.to_numpy()]
    return pd.Index(values, dtype=object, name=col)


def id_str(value: object) -> str | None:
    """One identifier as text: the one id normaliser of gridplan.

    Spreadsheets and GIS tools hand over the same id as ``12``, ``12.0``, ``"12"`` or
    ``" 12 "``; all of them become ``"12"`` so ids join across layers, rosters and plans.
    Missing values (None, NaN, NA, blank text) become ``None``.

    Examples
    --------
    >>> id_str(12.0), id_str(12), id_str(" 12 "), id_str(np.int64(7)), id_str(np.float32(3))
    ('12', '12', '12', '7', '3')
    >>> id_str(12.5), id_str("007"), id_str("B-3")
    ('12.5', '007', 'B-3')
    >>> id_str(None), id_str(float("nan")), id_str(pd.NA), id_str("  ")
    (None, None, None, None)
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        return text or None
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return None if np.isnan(value) else str(value)
        if float(value).is_integer():
            return str(int(value))
        return str(float(value))
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return str(int(value))
    try:
        if pd.isna(value):  # type: ignore[call-overload]
            return None
    except (TypeError, ValueError):
        pass
    return str(value).strip() or None


def normalize_ids(values: Iterable[object]) -> list[str | None]:
    """:func:`id_str` of every value (a Series, an Index, an array or a list).

    Examples
    --------
    >>> normalize_ids(pd.Series([1.0, None, "a ", 2]))
    ['1', None, 'a', '2']
    """
    return [id_str(v) for v in (values.tolist() if hasattr(values, "tolist") else values)]


def parse_bool(values: pd.Series) -> tuple[pd.Series, list[int]]:
    """Interpret a yes/no column (bools, 0/1, true/false, 是/否); missing means False.

    Returns the boolean series and the positions of values that could not be read.
    """
    out = np.zeros(len(values), dtype=bool)
    bad: list[int] = []
    for i, v in enumerate(values.to_numpy()):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        if isinstance(v, (bool, np.bool_)):
            out[i] = bool(v)
            continue
        if isinstance(v, (int, np.integer, float, np.floating)) and v in (0, 1):
            out[i] = bool(v)
            continue
        s = str(v).strip().lower()
        if s in _TRUE:
            out[i] = True
        elif s in _FALSE:
            out[i] = False
        else:
            bad.append(i)
    return pd.Series(out, index=values.index, dtype=bool), bad


def _code(snippet: str, interface: Interface) -> str:
    """`` (snippet)`` for a Python caller; nothing where the caller cannot run Python."""
    return f" ({snippet})" if interface == "python" else ""


def _rows(ids: pd.Index, mask: Iterable[bool] | np.ndarray) -> tuple[object, ...]:
    m = np.asarray(mask, dtype=bool)
    return tuple("<missing id>" if v is None else v for v in ids[m])


def _problem(layer: str, check: str, what: str, rows: tuple[object, ...], fix: str) -> Problem:
    n = len(rows)
    singular, plural = _NOUNS.get(layer, ("row", "rows"))
    noun = singular if n == 1 else plural
    if n == 1:
        verb, _, rest = what.partition(" ")
        what = f"{_SINGULAR_VERBS.get(verb, verb)} {rest}"
    message = f"{n} {noun} {what} ({'id' if n == 1 else 'ids'} {describe_rows(rows)}); {fix}"
    return Problem(layer, check, message, rows)


def _geometry_problems(
    gdf: gpd.GeoDataFrame, role: str, ids: pd.Index, interface: Interface = "python"
) -> list[Problem]:
    problems: list[Problem] = []
    geoms = gdf.geometry.to_numpy()
    missing = shapely.is_missing(geoms)
    if missing.any():
        problems.append(
            _problem(
                role,
                "null_geometry",
                "have no geometry",
                _rows(ids, missing),
                "drop them or add their geometry"
                + _code("gdf[gdf.geometry.notna()]", interface)
                + ".",
            )
        )
    present = ~missing
    empty = present & shapely.is_empty(geoms)
    if empty.any():
        problems.append(
            _problem(
                role,
                "empty_geometry",
                "have empty geometry",
                _rows(ids, empty),
                "drop them or add their geometry"
                + _code("gdf[~gdf.geometry.is_empty]", interface)
                + ".",
            )
        )
    usable = present & ~empty
    has_z = usable & shapely.has_z(geoms)
    if has_z.any():
        problems.append(
            _problem(
                role,
                "z_geometry",
                "have 3-D (Z) coordinates",
                _rows(ids, has_z),
                "save them as 2-D"
                + _code("gdf.geometry = shapely.force_2d(gdf.geometry.values)", interface)
                + "; heights belong in a `floors` column.",
            )
        )
    types = np.asarray(shapely.get_type_id(geoms))
    names = np.array(
        [
            "",
            *(
                "Point LineString LinearRing Polygon MultiPoint MultiLineString "
                "MultiPolygon GeometryCollection"
            ).split(),
        ],
        dtype=object,
    )
    type_names = names[np.clip(types + 1, 0, len(names) - 1)]
    allowed = ALLOWED_TYPES[role]
    wrong = usable & ~np.isin(type_names, list(allowed))
    if wrong.any():
        found = sorted(set(type_names[wrong]))
        problems.append(
            _problem(
                role,
                "geometry_type",
                f"have {'/'.join(found)} geometry, but {role} must be {_TYPE_WORDS[role]}",
                _rows(ids, wrong),
                f"keep only {'/'.join(sorted(allowed - {'LinearRing'}))} features in the "
                f"{role} layer"
                + (
                    _code("explode collections with gdf.explode()", interface)
                    if role != "units"
                    else ""
                )
                + ".",
            )
        )
    if role == "units":
        ok_types = type_names[usable & ~wrong]
        is_point = ok_types == "Point"
        if is_point.any() and (~is_point).any():
            point_mask = usable & ~wrong & (type_names == "Point")
            poly_mask = usable & ~wrong & (type_names != "Point")
            minority = point_mask if point_mask.sum() <= poly_mask.sum() else poly_mask
            kind = "points" if minority is point_mask else "polygons"
            problems.append(
                _problem(
                    role,
                    "mixed_geometry",
                    f"are {kind} while the rest of the units are "
                    f"{'polygons' if kind == 'points' else 'points'}",
                    _rows(ids, minority),
                    "use one kind per units layer: either all building points or all "
                    "footprint/block polygons.",
                )
            )
    check_valid = usable & ~wrong
    invalid = np.zeros(len(geoms), dtype=bool)
    if check_valid.any():
        invalid[check_valid] = ~shapely.is_valid(geoms[check_valid])
    if invalid.any():
        problems.append(
            _problem(
                role,
                "invalid_geometry",
                "have invalid geometry",
                _rows(ids, invalid),
                f"repair them with shapely.make_valid or {option('fix_invalid', interface)} to "
                "have gridplan repair them.",
            )
        )
    return problems


def _id_problems(gdf: pd.DataFrame, role: str, ids: pd.Index) -> list[Problem]:
    problems: list[Problem] = []
    col = ID_COLUMNS[role]
    source = f"column `{col}`" if col in gdf.columns else "the index"
    missing = np.array([v is None for v in ids], dtype=bool)
    if missing.any():
        positions = tuple(f"row {i}" for i in np.flatnonzero(missing))
        problems.append(
            Problem(
                role,
                "missing_id",
                f"{len(positions)} {role} rows have no id in {source} "
                f"({describe_rows(positions)}); give every row a unique `{col}`.",
                positions,
                params={
                    "col": col,
                    "positions": "、".join(f"第 {i} 行" for i in np.flatnonzero(missing)[:10]),
                },
            )
        )
    dup = ids.duplicated(keep=False) & ~missing
    if dup.any():
        dup_ids = tuple(dict.fromkeys(v for v in ids[dup]))
        k = len(dup_ids)
        problems.append(
            Problem(
                role,
                "duplicate_id",
                f"{k} {col} value{'s are' if k != 1 else ' is'} used more than once in "
                f"{source} ({'ids' if k != 1 else 'id'} {describe_rows(dup_ids)}, "
                f"{int(dup.sum())} rows); make `{col}` unique, e.g. append a suffix or "
                "dissolve duplicates.",
                dup_ids,
                params={"col": col},
            )
        )
    return problems


def _numeric(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Values as float, and a mask of entries that are present but not numbers."""
    if pd.api.types.is_bool_dtype(values):
        num = values.astype(float)
    else:
        num = pd.to_numeric(values, errors="coerce").astype(float)
    bad = (values.notna() & num.isna()).to_numpy()
    return num, bad


def _hint_columns(columns: Iterable[object], pattern: re.Pattern[str], target: str) -> list[str]:
    return [str(c) for c in columns if str(c) != target and pattern.search(str(c))]


def _households_problems(
    units: pd.DataFrame, ids: pd.Index, balance: str, interface: Interface = "python"
) -> list[Problem]:
    problems: list[Problem] = []
    if "households" not in units.columns:
        if balance == "population":
            return problems
        hints = _hint_columns(units.columns, _HOUSEHOLD_HINT, "households")
        others = [str(c) for c in units.columns if c != units.geometry.name]
        example = hints[0] if hints else "户数"
        look = (
            f" Columns that look like it: {', '.join(hints)}."
            if hints
            else f" Available columns: {', '.join(others)}."
        )
        problems.append(
            Problem(
                "units",
                "missing_households",
                "units have no `households` column; "
                + option("columns", interface, old=example, new="households")
                + f", or {option('balance', interface)}."
                + look,
                params={"old": example},
            )
        )
        return problems
    raw = units["households"]
    # True/False, or the text a file stores them as ("True", "false"): a yes/no column
    is_bool = np.array(
        [
            isinstance(v, bool | np.bool_)
            or (isinstance(v, str) and v.strip().lower() in ("true", "false"))
            for v in raw.to_numpy()
        ],
        dtype=bool,
    )
    if is_bool.any():
        # True is an int in Python: a yes/no column renamed to households would plan 1s and 0s
        problems.append(
            _problem(
                "units",
                "bool_households",
                "have a true/false `households` value",
                _rows(ids, is_bool),
                "household counts must be whole numbers; check that the right column is "
                "mapped to `households`.",
            )
        )
        raw = raw.where(~is_bool, None)
    num, non_numeric = _numeric(raw)
    if non_numeric.any():
        problems.append(
            _problem(
                "units",
                "non_numeric_households",
                "have a `households` value that is not a number",
                _rows(ids, non_numeric),
                "write household counts as whole numbers.",
            )
        )
    nan = (units["households"].isna()).to_numpy() & ~is_bool
    if nan.any() and balance == "households":
        problems.append(
            _problem(
                "units",
                "nan_households",
                "have no `households` value (NaN)",
                _rows(ids, nan),
                "fill them (0 for non-residential units) or drop those rows.",
            )
        )
    values = num.to_numpy()
    finite = np.isfinite(values)
    negative = finite & (values < 0)
    if negative.any():
        problems.append(
            _problem(
                "units",
                "negative_households",
                "have negative `households`",
                _rows(ids, negative),
                "household counts must be 0 or more.",
            )
        )
    with np.errstate(invalid="ignore"):  # inf - inf; infinite values are reported below
        fractional = finite & ~negative & (np.abs(values - np.round(values)) > 1e-9)
    if fractional.any():
        problems.append(
            _problem(
                "units",
                "non_integer_households",
                "have a non-integer `households` value",
                _rows(ids, fractional),
                "household counts must be whole numbers; round estimates first"
                + _code("gdf['households'] = gdf['households'].round().astype(int)", interface)
                + ".",
            )
        )
    infinite = units["households"].notna().to_numpy() & ~non_numeric & ~finite & ~is_bool
    if infinite.any():
        problems.append(
            _problem(
                "units",
                "non_numeric_households",
                "have an infinite `households` value",
                _rows(ids, infinite),
                "write household counts as whole numbers.",
            )
        )
    return problems


def _unit_column_problems(
    units: pd.DataFrame, ids: pd.Index, balance: str, interface: Interface = "python"
) -> list[Problem]:
    problems = _households_problems(units, ids, balance, interface)
    if balance == "population":
        if "population" not in units.columns:
            hints = _hint_columns(units.columns, _POPULATION_HINT, "population")
            example = hints[0] if hints else "人口"
            problems.append(
                Problem(
                    "units",
                    "missing_population",
                    "planning by population needs a `population` column in units; "
                    + option("columns", interface, old=example, new="population")
                    + (f" (columns that look like it: {', '.join(hints)})." if hints else "."),
                )
            )
        else:
            nan = units["population"].isna().to_numpy()
            if nan.any():
                problems.append(
                    _problem(
                        "units",
                        "missing_population",
                        "have no `population` value (NaN)",
                        _rows(ids, nan),
                        "fill them (0 where nobody lives) or drop those rows.",
                    )
                )
            num, _ = _numeric(units["population"])
            neg = (num < 0).to_numpy()
            if neg.any():
                problems.append(
                    _problem(
                        "units",
                        "negative_population",
                        "have negative `population`",
                        _rows(ids, neg),
                        "population must be 0 or more.",
                    )
                )
    for col in NUMERIC_UNIT_COLUMNS:
        if col in units.columns:
            _, bad = _numeric(units[col])
            if bad.any():
                problems.append(
                    _problem(
                        "units",
                        f"non_numeric_{col}",
                        f"have a `{col}` value that is not a number",
                        _rows(ids, bad),
                        f"`{col}` must be numeric; leave it empty where unknown.",
                    )
                )
    if "gated" in units.columns:
        problems.extend(_gated_problems(units, "units", ids))
    return problems


def _gated_problems(gdf: pd.DataFrame, role: str, ids: pd.Index) -> list[Problem]:
    _, bad = parse_bool(gdf["gated"])
    if not bad:
        return []
    mask = np.zeros(len(gdf), dtype=bool)
    mask[bad] = True
    return [
        _problem(
            role,
            "bad_gated",
            "have a `gated` value that is not yes/no",
            _rows(ids, mask),
            "use true/false (or 1/0, 是/否).",
        )
    ]


def representative_points(gdf: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """A point inside each geometry (the point itself for points); same index as ``gdf``."""
    geoms = gdf.geometry.to_numpy()
    pts = shapely.point_on_surface(geoms)
    return gpd.GeoSeries(pts, index=gdf.index, crs=gdf.crs)


def _usable(gdf: gpd.GeoDataFrame) -> np.ndarray:
    geoms = gdf.geometry.to_numpy()
    ok = ~shapely.is_missing(geoms)
    ok[ok] = ~shapely.is_empty(geoms[ok])
    ok[ok] = shapely.is_valid(geoms[ok])
    return np.asarray(ok)


def _outside_problems(
    units: gpd.GeoDataFrame, ids: pd.Index, boundary: gpd.GeoDataFrame, role: str
) -> list[Problem]:
    """Units whose representative point lies in no polygon of ``boundary``."""
    if units.crs is None or boundary.crs is None:
        return []
    bmask = _usable(boundary) & np.isin(
        np.asarray(shapely.get_type_id(boundary.geometry.to_numpy())), (3, 6)
    )
    umask = _usable(units)
    if not bmask.any() or not umask.any():
        return []
    polys = boundary.loc[bmask, [boundary.geometry.name]]
    if polys.crs != units.crs:
        polys = polys.to_crs(units.crs)
    pts = representative_points(units.loc[umask])
    tree = shapely.STRtree(polys.geometry.to_numpy())
    hit = tree.query(pts.to_numpy(), predicate="intersects")
    inside = np.zeros(int(umask.sum()), dtype=bool)
    inside[np.unique(hit[0])] = True
    outside = np.zeros(len(units), dtype=bool)
    outside[np.flatnonzero(umask)[~inside]] = True
    if not outside.any():
        return []
    noun = "community" if role == "communities" else "street"
    return [
        _problem(
            "units",
            f"outside_{role}",
            f"lie outside every {noun} boundary in the {role} layer",
            _rows(ids, outside),
            f"drop them, extend the {role} polygons to cover them, or give them a "
            f"`{ID_COLUMNS[role]}` column directly.",
        )
    ]


def _community_mismatch_problems(
    units: gpd.GeoDataFrame,
    ids: pd.Index,
    communities: gpd.GeoDataFrame,
    interface: Interface = "python",
) -> list[Problem]:
    """Units whose ``community_id`` names one community while they lie inside another.

    This is what planning after a redivision looks like when the units still carry their old
    community: grids would be cut to a polygon the unit is not in (empty grids, and codes that
    cannot be ordered), so it is refused before any work.
    """
    if units.crs is None or communities.crs is None or "community_id" not in units.columns:
        return []
    bmask = _usable(communities) & np.isin(
        np.asarray(shapely.get_type_id(communities.geometry.to_numpy())), (3, 6)
    )
    umask = _usable(units)
    if not bmask.any() or not umask.any():
        return []
    polys = communities.loc[bmask]
    if polys.crs != units.crs:
        polys = polys.to_crs(units.crs)
    cids = np.array(normalize_ids(layer_ids(polys, "communities")), dtype=object)
    known = set(cids.tolist()) - {None}
    named = np.array(normalize_ids(units.loc[umask, "community_id"]), dtype=object)
    pts = representative_points(units.loc[umask]).to_numpy()
    u_idx, p_idx = shapely.STRtree(polys.geometry.to_numpy()).query(pts, predicate="intersects")
    holders: dict[int, set[str]] = {}
    for a, b in zip(u_idx.tolist(), p_idx.tolist(), strict=True):
        holders.setdefault(a, set()).add(cids[b])
    bad = np.zeros(len(units), dtype=bool)
    where: list[str] = []
    positions = np.flatnonzero(umask)
    for a, inside in sorted(holders.items()):
        own = named[a]
        if own is None or own not in known or own in inside:
            continue
        bad[positions[a]] = True
        if len(where) < 3:
            where.append(f"{ids[positions[a]]} names {own} but lies in {min(inside)}")
    if not bad.any():
        return []
    if interface == "python":
        fix = (
            "if the communities were redrawn, plan the redivision's own units "
            "(`Reform.units`, which carry the new community_id), or drop the units' "
            "`community_id` column so the communities layer places them"
        )
    else:
        fix = (
            "if the communities were redrawn (`gridplan reform`), plan its units layer "
            "(REFORM.gpkg:units, which carries the new community_id), or remove the units' "
            "community_id column so the communities layer places them"
        )
    return [
        _problem(
            "units",
            "community_mismatch",
            f"lie inside another community than their community_id names ({'; '.join(where)})",
            _rows(ids, bad),
            fix + ".",
        )
    ]


def coordinate_problems(
    xs: np.ndarray,
    ys: np.ndarray,
    *,
    layer: str,
    ids: Any = None,
    columns: tuple[str, str] = ("x", "y"),
    id_word: str = "ids",
    interface: Interface = "python",
) -> list[Problem]:
    """Longitudes beyond ±180°, latitudes beyond ±90°, and longitude/latitude given the wrong
    way round, for coordinates in a geographic CRS. NaN coordinates are left to the caller.

    Parameters
    ----------
    xs, ys
        Longitudes and latitudes (degrees).
    layer
        Name the problems carry.
    ids
        Row identifiers (default the positions).
    columns
        Names of the longitude and latitude columns, for the message.
    id_word
        What ``ids`` are, for the message: ``"ids"`` or ``"rows"`` (line numbers of a file).

    Examples
    --------
    >>> [p.check for p in coordinate_problems(np.array([37.8]), np.array([112.5]), layer="u")]
    ['swapped_coordinates']
    >>> [p.check for p in coordinate_problems(np.array([512.0]), np.array([30.0]), layer="u")]
    ['coordinate_range']
    """
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    labels = np.asarray(list(ids) if ids is not None else np.arange(len(xs)), dtype=object)
    ok = np.isfinite(xs) & np.isfinite(ys)
    if not ok.any():
        return []
    bad_x = ok & (np.abs(xs) > 180)
    bad_y = ok & (np.abs(ys) > 90)
    xcol, ycol = columns
    # swapped: the "latitudes" look like longitudes (some beyond ±90) while every "longitude"
    # would be a valid latitude
    if bad_y.any() and not bad_x.any() and np.all(np.abs(xs[ok]) <= 90):
        return [
            Problem(
                layer,
                "swapped_coordinates",
                f"longitude and latitude look swapped: {int(bad_y.sum())} row(s) have a "
                f"latitude ({ycol!r}) beyond ±90° ({id_word} {describe_rows(labels[bad_y])}) "
                f"while every longitude ({xcol!r}) is within ±90°; "
                + option("coordinates", interface, x=ycol, y=xcol),
                tuple(labels[bad_y]),
                params={"xcol": xcol, "ycol": ycol, "x": ycol, "y": xcol},
            )
        ]
    problems = []
    for mask, what, col, bound in ((bad_x, "longitude", xcol, 180), (bad_y, "latitude", ycol, 90)):
        if mask.any():
            values = ", ".join(f"{v:g}" for v in (xs if what == "longitude" else ys)[mask][:5])
            problems.append(
                Problem(
                    layer,
                    "coordinate_range",
                    f"{int(mask.sum())} row(s) have a {what} ({col!r}) beyond ±{bound}° "
                    f"({id_word} {describe_rows(labels[mask])}: {values}); fix those values, or "
                    f"if the coordinates are projected metres, {option('crs', interface)}",
                    tuple(labels[mask]),
                    params={
                        "what_zh": "经度" if what == "longitude" else "纬度",
                        "col": col,
                        "bound": bound,
                        "values": values,
                    },
                )
            )
    return problems


def degree_problems(
    xs: np.ndarray, ys: np.ndarray, *, layer: str, crs: Any, fix: str
) -> list[Problem]:
    """Coordinates that all look like degrees in a layer whose CRS is projected: within ±180 /
    ±90, less than 5 units across and away from the origin. Projected coordinates of a real
    district would lie within 180 m of the projection's origin, which none does, so the CRS
    was set wrongly and the plan would be a few metres wide.

    Examples
    --------
    >>> [p.check for p in degree_problems(np.array([112.5]), np.array([37.8]), layer="u",
    ...                                   crs="EPSG:4547", fix="set the right CRS")]
    ['degrees_in_projected_crs']
    """
    import pyproj

    c = pyproj.CRS.from_user_input(crs)
    if not c.is_projected:
        return []
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    if not ok.any() or not (np.all(np.abs(xs[ok]) <= 180) and np.all(np.abs(ys[ok]) <= 90)):
        return []
    x, y = xs[ok], ys[ok]
    # a district spans well under 5 degrees, and lies away from (0, 0); small synthetic layers
    # drawn around the origin of a projected CRS are left alone
    if np.ptp(x) > 5 or np.ptp(y) > 5 or np.min(np.maximum(np.abs(x), np.abs(y))) < 2:
        return []
    return [
        Problem(
            layer,
            "degrees_in_projected_crs",
            f"the {layer} coordinates look like longitude/latitude degrees (x {xs[ok].min():g} "
            f"to {xs[ok].max():g}, y {ys[ok].min():g} to {ys[ok].max():g}), but their CRS, "
            f"{c.name}, is projected in metres; {fix}",
        )
    ]


def _coordinate_range_problems(
    gdf: gpd.GeoDataFrame, role: str, ids: pd.Index, interface: Interface
) -> list[Problem]:
    """:func:`coordinate_problems` of a layer in a geographic CRS, on each geometry's extremes."""
    if gdf.crs is None:
        return []
    geoms = gdf.geometry.to_numpy()
    ok = ~shapely.is_missing(geoms)
    ok[ok] = ~shapely.is_empty(geoms[ok])
    if not ok.any():
        return []
    b = shapely.bounds(geoms[ok])
    if not gdf.crs.is_geographic:
        fix = "set the CRS they are in" + _code(
            "gdf.set_crs('EPSG:4326', allow_override=True)", interface
        )
        return degree_problems(
            np.r_[b[:, 0], b[:, 2]], np.r_[b[:, 1], b[:, 3]], layer=role, crs=gdf.crs, fix=fix + "."
        )
    xs = np.where(np.abs(b[:, 0]) > np.abs(b[:, 2]), b[:, 0], b[:, 2])
    ys = np.where(np.abs(b[:, 1]) > np.abs(b[:, 3]), b[:, 1], b[:, 3])
    labels = ["<missing id>" if v is None else v for v in ids[ok]]
    found = coordinate_problems(
        xs, ys, layer=role, ids=labels, columns=("longitude", "latitude"), interface=interface
    )
    # in a GeoDataFrame the fix is the axis order, not a column mapping
    return [
        p
        if p.check != "swapped_coordinates"
        else Problem(
            role,
            p.check,
            p.message.split("; ", 1)[0]
            + "; swap x and y in the layer (or export it with longitude first)"
            + _code(
                "gdf.geometry = gdf.geometry.map(lambda g: shapely.ops.transform("
                "lambda x, y: (y, x), g))",
                interface,
            )
            + ".",
            p.rows,
        )
        for p in found
    ]


#: A part of a MultiPolygon unit farther than this (metres) from the unit's other parts makes
#: the unit a validation problem: its households would be planned at one place and its
#: footprint would reach into another grid's area.
PART_GAP_M = 100.0
#: Compounds overlapping by more than this area (square metres) and more than
#: :data:`OVERLAP_TOLERANCE_SHARE` of the smaller one are a problem; slivers left by
#: digitising a shared boundary twice stay below it.
OVERLAP_TOLERANCE_M2 = 1.0
OVERLAP_TOLERANCE_SHARE = 0.01
#: A dedicated area holding more than this share of all units' households is a problem.
DEDICATED_SHARE_MAX = 0.5
#: This many units or more at one location (within 1 m) are a problem.
MAX_COLOCATED = 10


def _metric(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame | None:
    """``gdf``'s usable rows' geometry in its working CRS, or None when it cannot be moved."""
    from .crs import to_working

    keep = _usable(gdf)
    if not keep.any() or gdf.crs is None:
        return None
    part = gdf.loc[keep, [gdf.geometry.name]]
    try:
        out = to_working(part)
    except Exception:  # out-of-range coordinates are reported by their own check
        return None
    return out if np.all(np.isfinite(out.total_bounds)) else None


def part_groups(geom: Any, *, gap_m: float) -> np.ndarray:
    """Group label of each part of ``geom`` (metric CRS): parts within ``gap_m`` of each other
    share a group, transitively, so a chain of nearby buildings is one place. Labels are
    0, 1, ... in order of each group's total area, largest first.

    Examples
    --------
    >>> from shapely.geometry import MultiPolygon, box
    >>> part_groups(MultiPolygon([box(0, 0, 1, 1), box(500, 0, 503, 3), box(2, 0, 3, 1)]),
    ...             gap_m=100).tolist()
    [1, 0, 1]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    parts = shapely.get_parts(geom)
    n = len(parts)
    if n <= 1:
        return np.zeros(n, dtype=int)
    a, b = shapely.STRtree(parts).query(parts, predicate="dwithin", distance=gap_m)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    area = np.bincount(labels, weights=shapely.area(parts))
    order = np.lexsort((np.arange(len(area)), -area))  # largest first, ties by first part
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return np.asarray(rank[labels])


def _part_gap_problems(
    units: gpd.GeoDataFrame, ids: pd.Index, gap_m: float, interface: Interface
) -> list[Problem]:
    geoms = units.geometry.to_numpy()
    types = np.asarray(shapely.get_type_id(geoms))
    multi = (types == 6) & _usable(units)
    multi[multi] = shapely.get_num_geometries(geoms[multi]) > 1
    if not multi.any():
        return []
    metric = _metric(units.loc[multi])
    if metric is None:
        return []
    far: list[object] = []
    places = 0
    for label, g in zip(ids[multi], metric.geometry.to_numpy(), strict=True):
        k = int(part_groups(g, gap_m=gap_m).max()) + 1
        if k > 1:
            far.append("<missing id>" if label is None else label)
            places = max(places, k)
    if not far:
        return []
    return [
        _problem(
            "units",
            "distant_parts",
            f"have a MultiPolygon geometry whose parts lie more than {gap_m:g} m apart (in up "
            f"to {places} places)",
            tuple(far),
            "split each into one unit per place, each with its own households, or "
            f"{option('fix_invalid', interface)} to split them into one unit per place "
            "(ids <id>.1, <id>.2, ...; households shared by area).",
        )
    ]


#: What the polygons of an areal layer are called in the overlap message.
_AREA_NOUN = {"compounds": "compounds", "communities": "communities", "streets": "streets"}


def _overlap_problems(
    compounds: gpd.GeoDataFrame, tolerance_m2: float, role: str = "compounds"
) -> list[Problem]:
    """Pairs of polygons of one areal layer (compounds, communities, streets) that overlap:
    a unit in both would be counted in whichever comes first."""
    metric = _metric(compounds)
    if metric is None or len(metric) < 2:
        return []
    ids = layer_ids(compounds, role)[_usable(compounds)]
    geoms = metric.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return []
    areas = shapely.area(shapely.intersection(geoms[a], geoms[b]))
    smaller = np.minimum(shapely.area(geoms[a]), shapely.area(geoms[b]))
    bad = (areas > tolerance_m2) & (areas > OVERLAP_TOLERANCE_SHARE * smaller)
    if not bad.any():
        return []
    pairs = [
        f"{ids[i]} and {ids[j]} ({area:,.0f} m²)"
        for i, j, area in zip(a[bad], b[bad], areas[bad], strict=True)
    ]
    rows = tuple(
        dict.fromkeys(v for i, j in zip(a[bad], b[bad], strict=True) for v in (ids[i], ids[j]))
    )
    n = len(pairs)
    return [
        Problem(
            role,
            f"overlapping_{role}",
            f"{n} pair{'s' if n != 1 else ''} of {_AREA_NOUN[role]} overlap by more than "
            f"{tolerance_m2:g} m² and {OVERLAP_TOLERANCE_SHARE:.0%} of the smaller one: "
            f"{describe_rows(pairs, limit=5)}; a unit in both would be "
            f"counted in whichever comes first. Clip the {_AREA_NOUN[role]} so they do not "
            "overlap.",
            rows,
        )
    ]


def _dedicated_share_problems(
    units: gpd.GeoDataFrame, dedicated: gpd.GeoDataFrame, share_max: float
) -> list[Problem]:
    if "households" not in units.columns or units.crs is None or dedicated.crs is None:
        return []
    hh = pd.to_numeric(units["households"], errors="coerce").fillna(0).to_numpy(dtype=float)
    umask = _usable(units)
    total = float(hh[umask].sum())
    dmask = _usable(dedicated)
    if total <= 0 or not dmask.any():
        return []
    polys = dedicated.loc[dmask, [dedicated.geometry.name]]
    if polys.crs != units.crs:
        polys = polys.to_crs(units.crs)
    dids = list(layer_ids(dedicated, "dedicated")[dmask])
    pts = representative_points(units.loc[umask]).to_numpy()
    d_pos, u_pos = shapely.STRtree(pts).query(polys.geometry.to_numpy(), predicate="contains")
    if len(d_pos) == 0:
        return []
    covered = np.bincount(d_pos, weights=hh[umask][u_pos], minlength=len(polys)) / total
    bad = np.flatnonzero(covered > share_max)
    if not len(bad):
        return []
    items = [f"{dids[i]} ({covered[i]:.0%})" for i in bad]
    return [
        Problem(
            "dedicated",
            "dedicated_too_large",
            f"{len(bad)} dedicated area(s) hold more than {share_max:.0%} of the units' "
            f"{int(total)} households: {describe_rows(items)}; a dedicated grid is for a "
            "business district, market, school or hospital, not the residential area. Check "
            "the dedicated layer (is it the community boundary?) or drop those areas.",
            tuple(dids[i] for i in bad),
        )
    ]


def _colocated_problems(units: gpd.GeoDataFrame, ids: pd.Index, limit: int) -> list[Problem]:
    metric = _metric(units)
    if metric is None:
        return []
    labels = ids[_usable(units)]
    pts = shapely.point_on_surface(metric.geometry.to_numpy())
    key = pd.DataFrame(
        {"x": np.round(shapely.get_x(pts)), "y": np.round(shapely.get_y(pts)), "id": labels}
    )
    sizes = key.groupby(["x", "y"], sort=True)["id"].transform("size").to_numpy()
    bad = sizes >= limit
    if not bad.any():
        return []
    groups = key[bad].groupby(["x", "y"], sort=True)["id"]
    parts = [f"{len(g)} at one place (ids {describe_rows(tuple(g), limit=5)})" for _, g in groups]
    return [
        Problem(
            "units",
            "colocated_units",
            f"{int(bad.sum())} units share {len(parts)} location(s), {limit} or more within "
            f"1 m: {'; '.join(parts[:5])}{' ...' if len(parts) > 5 else ''}. Units geocoded to "
            "one address say nothing about where their households live, so gridplan does not "
            "spread them out; geocode them to their buildings, or merge each group into one "
            "unit with the households summed.",
            tuple(key["id"][bad]),
        )
    ]


def plan_size_problems(units: pd.DataFrame, *, rules: object) -> list[Problem]:
    """Plans that could not be coded or would take unbounded time, refused before any work.

    ``units`` are normalised units (:func:`gridplan.layers.prepare_layers`: ``households``,
    ``population`` and ``community_id`` columns, ids as the index). Grid codes give each
    community a 3-digit grid sequence (:class:`~gridplan.config.CodeRules`), residential grids
    numbered below ``dedicated_start``; a community whose households need more grids than
    that (at the band's ceiling) cannot be coded, and the units that alone need more are named.
    The micro-grids a grid needs at the micro-grid floor are checked against the micro-grid
    sequence the same way.

    Examples
    --------
    >>> from gridplan.config import PlanRules
    >>> u = pd.DataFrame({"households": [10**9], "community_id": ["c1"]},
    ...                  index=pd.Index(["big"], name="unit_id"))
    >>> [p.check for p in plan_size_problems(u, rules=PlanRules())]
    ['unit_capacity', 'community_capacity']
    """
    from .config import PlanRules

    if not isinstance(rules, PlanRules):
        return []
    g, m, c = rules.grid, rules.microgrid, rules.codes
    column = "population" if g.balance == "population" else "households"
    problems: list[Problem] = []
    capacity = c.dedicated_start - 1  # residential grid codes 001 .. dedicated_start - 1
    micro_capacity = 10**c.microgrid_digits - 1
    per_grid = math.ceil(g.max_households / m.min_households)
    if g.balance == "households" and per_grid > micro_capacity:
        problems.append(
            Problem(
                "rules",
                "microgrid_capacity",
                f"a grid of up to {g.max_households} households may need {per_grid} micro-grids "
                f"of at least {m.min_households}, more than the {micro_capacity} a "
                f"{c.microgrid_digits}-digit micro-grid code can number; narrow the grid band "
                "or raise the micro-grid band",
            )
        )
    if column not in units.columns or len(units) == 0:
        return problems
    values = pd.to_numeric(units[column], errors="coerce").fillna(0).to_numpy(dtype=float)
    need = np.ceil(values / g.max_households)
    big = need > capacity
    noun = "residents" if column == "population" else "households"
    if big.any():
        rows = tuple(units.index[big])
        problems.append(
            Problem(
                "units",
                "unit_capacity",
                f"{int(big.sum())} unit(s) alone hold more {noun} than {capacity} grids of "
                f"{g.max_households} (ids {describe_rows(rows)}: "
                f"{', '.join(f'{v:,.0f}' for v in values[big][:5])}); a community's grids are "
                f"numbered 001-{capacity:03d}. Check the `{column}` values (a total row, or "
                "a unit in persons instead of households?).",
                rows,
            )
        )
    community = (
        units["community_id"].astype(object).where(units["community_id"].notna(), "(none)")
        if "community_id" in units.columns
        else pd.Series(["(none)"] * len(units), index=units.index, dtype=object)
    )
    totals = pd.Series(values, index=units.index).groupby(community.to_numpy()).sum()
    grids = np.ceil(totals / g.max_households)
    over = grids[grids > capacity]
    if len(over):
        items = [f"{k} ({totals[k]:,.0f} {noun}, {grids[k]:,.0f} grids)" for k in over.index]
        problems.append(
            Problem(
                "communities",
                "community_capacity",
                f"{len(over)} communit{'ies need' if len(over) != 1 else 'y needs'} more than "
                f"the {capacity} grids a community's 3-digit grid code can number: "
                f"{describe_rows(items, limit=5)}; split the community (give units a "
                "`community_id` or a communities layer) or check the counts.",
                tuple(over.index),
            )
        )
    return problems


def validate_layer(
    gdf: object,
    *,
    role: Role,
    balance: str = "households",
    part_gap_m: float = PART_GAP_M,
    interface: Interface = "python",
) -> list[Problem]:
    """Check one layer on its own: geometry, CRS, coordinate ranges (a geographic CRS holds
    |lon| <= 180 and |lat| <= 90), ids, and for units the count columns, MultiPolygon parts
    farther than ``part_gap_m`` apart and :data:`MAX_COLOCATED` units or more at one place;
    for compounds, overlaps above :data:`OVERLAP_TOLERANCE_M2`. ``interface`` words the
    fixes (``"python"``, ``"cli"`` or ``"app"``)."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        return [
            Problem(
                role,
                "not_geodataframe",
                f"{role} must be a GeoDataFrame, got {type(gdf).__name__}; read it with "
                "gridplan.io.read_layer or build one with "
                "geopandas.GeoDataFrame(..., geometry=...)",
            )
        ]
    if gdf._geometry_column_name not in gdf.columns:
        return [
            Problem(
                role,
                "no_geometry_column",
                f"the {role} layer has no active geometry column; set it with "
                "gdf.set_geometry('<column>').",
            )
        ]
    problems: list[Problem] = []
    if len(gdf) == 0:
        return [
            Problem(role, "empty_layer", f"the {role} layer has no rows; pass a layer with data.")
        ]
    if gdf.crs is None:
        problems.append(
            Problem(
                role,
                "no_crs",
                f"the {role} layer has no CRS; set the CRS its coordinates are in"
                + _code("gdf.set_crs('EPSG:4326') for longitude/latitude", interface)
                + (" (save it with a .prj or as a GeoPackage)" if interface != "python" else "")
                + ".",
            )
        )
    ids = layer_ids(gdf, role)
    problems.extend(_geometry_problems(gdf, role, ids, interface))
    ranges = _coordinate_range_problems(gdf, role, ids, interface)
    problems.extend(ranges)
    problems.extend(_id_problems(gdf, role, ids))
    if role == "units":
        problems.extend(_unit_column_problems(gdf, ids, balance, interface))
    elif role == "compounds" and "gated" in gdf.columns:
        problems.extend(_gated_problems(gdf, role, ids))
    if not ranges and gdf.crs is not None:  # checks in metres need coordinates that project
        if role == "units":
            problems.extend(_part_gap_problems(gdf, ids, part_gap_m, interface))
            problems.extend(_colocated_problems(gdf, ids, MAX_COLOCATED))
        elif role in _AREA_NOUN:
            problems.extend(_overlap_problems(gdf, OVERLAP_TOLERANCE_M2, role))
    return problems


def validate_layers(
    units: gpd.GeoDataFrame | None,
    *,
    compounds: gpd.GeoDataFrame | None = None,
    dedicated: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    balance: Literal["households", "population"] = "households",
    part_gap_m: float = PART_GAP_M,
    dedicated_share_max: float = DEDICATED_SHARE_MAX,
    interface: Interface = "python",
    redivision: bool = False,
) -> list[Problem]:
    """Check every layer and return all problems found (an empty list means valid).

    Each layer is checked by :func:`validate_layer`; across layers, units must lie inside
    the communities and streets, and no dedicated area may hold more than
    ``dedicated_share_max`` of the units' households.

    Column names must already be canonical (``households``, ``unit_id``, ...); use
    :func:`gridplan.layers.prepare_layers` to rename, check and normalise in one step.
    ``units`` may be ``None`` to check context layers on their own (the CLI does that).
    Units are also checked to lie inside the ``communities`` and ``streets`` polygons unless
    they carry their own ``community_id`` / ``street_id``; then a unit lying inside another
    community than the one it names is a problem, unless ``redivision`` (the communities
    are the current ones a redivision redraws, and the units' column is what it reads).
    """
    layers: Mapping[str, object | None] = {
        "units": units,
        "compounds": compounds,
        "dedicated": dedicated,
        "barriers": barriers,
        "communities": communities,
        "streets": streets,
        "roads": roads,
    }
    problems: list[Problem] = []
    for role, gdf in layers.items():
        if gdf is not None:
            problems.extend(
                validate_layer(
                    gdf,
                    role=role,  # type: ignore[arg-type]
                    balance=balance,
                    part_gap_m=part_gap_m,
                    interface=interface,
                )
            )
    if isinstance(units, gpd.GeoDataFrame) and len(units):
        ids = layer_ids(units, "units")
        for role, boundary in (("communities", communities), ("streets", streets)):
            if isinstance(boundary, gpd.GeoDataFrame) and len(boundary):
                if ID_COLUMNS[role] in units.columns:
                    if role == "communities" and not redivision:
                        # ... but they must not contradict the polygons they lie in
                        problems.extend(
                            _community_mismatch_problems(units, ids, boundary, interface)
                        )
                    continue  # the units say where they belong; no need to locate them
                if role == "streets" and isinstance(communities, gpd.GeoDataFrame):
                    if "street_id" in communities.columns:
                        continue  # streets come from the communities' street_id
                problems.extend(_outside_problems(units, ids, boundary, role))
        if isinstance(dedicated, gpd.GeoDataFrame) and len(dedicated):
            problems.extend(_dedicated_share_problems(units, dedicated, dedicated_share_max))
    return problems


def check_or_raise(problems: Iterable[Problem]) -> None:
    """Raise one :class:`ValidationError` listing ``problems`` if there are any."""
    found = list(problems)
    if found:
        raise ValidationError(found)


# ---------------------------------------------------------------------------------------------
# barrier classes: every line passed as a barrier is used, and how is said
# ---------------------------------------------------------------------------------------------

#: How a line of the barriers layer is used (:func:`barrier_uses`).
BarrierUse = Literal["barrier", "road", "unknown"]


def barrier_uses(
    classes: Iterable[object],
    *,
    barrier_classes: Iterable[str],
    road_classes: Iterable[str] = (),
) -> np.ndarray:
    """How each line of a barriers layer is used, from its ``barrier_class``.

    - ``"barrier"``: the class starts with one of ``barrier_classes`` (every line, when
      ``barrier_classes`` is empty). Grids do not cross it.
    - ``"road"``: it starts with one of ``road_classes`` (and no barrier class): a street grid
      boundaries should run on, which does not forbid adjacency.
    - ``"unknown"``: neither. It is still a barrier (a line the user passed as a barrier is
      never ignored); the count is reported so a class named another way ('major', '主干道')
      can be mapped in the rules.

    Examples
    --------
    >>> barrier_uses(["major_road", "minor_road_or_path", "主干道", None],
    ...              barrier_classes=("major_road",), road_classes=("minor",)).tolist()
    ['barrier', 'road', 'unknown', 'unknown']
    >>> barrier_uses(["x"], barrier_classes=()).tolist()
    ['barrier']
    """
    cls = pd.Series([("" if v is None or v != v else str(v)) for v in classes], dtype=object)
    hard = tuple(barrier_classes)
    soft = tuple(road_classes)
    if not hard:
        return np.full(len(cls), "barrier", dtype=object)
    is_hard = cls.str.startswith(hard).to_numpy(dtype=bool) if len(cls) else np.zeros(0, bool)
    is_soft = (
        cls.str.startswith(soft).to_numpy(dtype=bool)
        if soft and len(cls)
        else np.zeros(len(cls), bool)
    )
    return np.where(is_hard, "barrier", np.where(is_soft, "road", "unknown")).astype(object)


def barrier_class_table(
    barriers: pd.DataFrame | None,
    *,
    barrier_classes: Iterable[str],
    road_classes: Iterable[str] = (),
) -> pd.DataFrame:
    """Lines of each ``barrier_class`` and how they are used (:func:`barrier_uses`).

    Returns
    -------
    pandas.DataFrame
        ``barrier_class``, ``lines``, ``use`` (``barrier``, ``road`` or ``unknown``, which is a
        barrier too), one row per class in class order; empty without barriers.

    Examples
    --------
    >>> t = barrier_class_table(pd.DataFrame({"barrier_class": ["river", "major", "river"]}),
    ...                         barrier_classes=("river",))
    >>> t.values.tolist()
    [['major', 1, 'unknown'], ['river', 2, 'barrier']]
    """
    columns = ["barrier_class", "lines", "use"]
    if barriers is None or len(barriers) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    raw = (
        barriers["barrier_class"]
        if "barrier_class" in barriers.columns
        else pd.Series([None] * len(barriers))
    )
    cls = pd.Series(
        [("barrier" if v is None or v != v or str(v) == "" else str(v)) for v in raw], dtype=object
    )
    counts = cls.value_counts(sort=False).sort_index()
    names = counts.index.to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "barrier_class": names,
            "lines": counts.to_numpy(dtype=np.int64),
            "use": barrier_uses(names, barrier_classes=barrier_classes, road_classes=road_classes),
        }
    )


def describe_barrier_classes(table: pd.DataFrame) -> str:
    """One line for ``validate`` and the plan summary: lines per class and their use.

    Examples
    --------
    >>> t = pd.DataFrame({"barrier_class": ["major", "river"], "lines": [1, 2],
    ...                   "use": ["unknown", "barrier"]})
    >>> describe_barrier_classes(t)
    'major 1 (barrier: class not in barrier_classes), river 2 (barrier)'
    """
    words = {
        "barrier": "barrier",
        "road": "road: boundaries run on it, grids may join across",
        "unknown": "barrier: class not in barrier_classes",
    }
    return ", ".join(
        f"{c} {int(n):,} ({words[str(u)]})"
        for c, n, u in zip(table["barrier_class"], table["lines"], table["use"], strict=True)
    )
