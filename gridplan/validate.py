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

import re
from collections.abc import Iterable, Mapping
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .errors import Problem, ValidationError, describe_rows

Role = Literal["units", "compounds", "dedicated", "barriers", "communities", "streets"]
ROLES: tuple[Role, ...] = ("units", "compounds", "dedicated", "barriers", "communities", "streets")

POLYGONAL = frozenset({"Polygon", "MultiPolygon"})
LINEAL = frozenset({"LineString", "MultiLineString", "LinearRing"})
ALLOWED_TYPES: dict[str, frozenset[str]] = {
    "units": frozenset({"Point", "Polygon", "MultiPolygon"}),
    "compounds": POLYGONAL,
    "dedicated": POLYGONAL,
    "communities": POLYGONAL,
    "streets": POLYGONAL,
    "barriers": LINEAL,
}
_TYPE_WORDS = {
    "units": "points or polygons",
    "compounds": "polygons",
    "dedicated": "polygons",
    "communities": "polygons",
    "streets": "polygons",
    "barriers": "lines",
}
ID_COLUMNS: dict[str, str] = {
    "units": "unit_id",
    "compounds": "compound_id",
    "dedicated": "dedicated_id",
    "barriers": "barrier_id",
    "communities": "community_id",
    "streets": "street_id",
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


def _geometry_problems(gdf: gpd.GeoDataFrame, role: str, ids: pd.Index) -> list[Problem]:
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
                "drop them or add their geometry (gdf[gdf.geometry.notna()]).",
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
                "drop them (gdf[~gdf.geometry.is_empty]) or add their geometry.",
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
                "drop Z with gdf.geometry = shapely.force_2d(gdf.geometry.values) "
                "(heights belong in a `floors` column).",
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
                + (" (explode collections with gdf.explode())" if role != "units" else "")
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
                "repair with shapely.make_valid or pass fix_invalid=True.",
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


def _households_problems(units: pd.DataFrame, ids: pd.Index, balance: str) -> list[Problem]:
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
                "units have no `households` column; rename yours with "
                f"columns={{{example!r}: 'households'}} (CLI: --columns {example}=households), "
                "or plan by population with balance='population'." + look,
            )
        )
        return problems
    num, non_numeric = _numeric(units["households"])
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
    nan = (units["households"].isna()).to_numpy()
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
    fractional = finite & ~negative & (np.abs(values - np.round(values)) > 1e-9)
    if fractional.any():
        problems.append(
            _problem(
                "units",
                "non_integer_households",
                "have a non-integer `households` value",
                _rows(ids, fractional),
                "household counts must be whole numbers; round estimates first, e.g. "
                "gdf['households'] = gdf['households'].round().astype(int).",
            )
        )
    infinite = units["households"].notna().to_numpy() & ~non_numeric & ~finite
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


def _unit_column_problems(units: pd.DataFrame, ids: pd.Index, balance: str) -> list[Problem]:
    problems = _households_problems(units, ids, balance)
    if balance == "population":
        if "population" not in units.columns:
            hints = _hint_columns(units.columns, _POPULATION_HINT, "population")
            example = hints[0] if hints else "人口"
            problems.append(
                Problem(
                    "units",
                    "missing_population",
                    "balance='population' needs a `population` column in units; rename yours "
                    f"with columns={{{example!r}: 'population'}}"
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


def validate_layer(gdf: object, *, role: Role, balance: str = "households") -> list[Problem]:
    """Check one layer on its own (geometry, CRS, ids, and for units the count columns)."""
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
                f"the {role} layer has no CRS; set the CRS its coordinates are in, e.g. "
                "gdf.set_crs('EPSG:4326') for longitude/latitude.",
            )
        )
    ids = layer_ids(gdf, role)
    problems.extend(_geometry_problems(gdf, role, ids))
    problems.extend(_id_problems(gdf, role, ids))
    if role == "units":
        problems.extend(_unit_column_problems(gdf, ids, balance))
    elif role == "compounds" and "gated" in gdf.columns:
        problems.extend(_gated_problems(gdf, role, ids))
    return problems


def validate_layers(
    units: gpd.GeoDataFrame | None,
    *,
    compounds: gpd.GeoDataFrame | None = None,
    dedicated: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    balance: Literal["households", "population"] = "households",
) -> list[Problem]:
    """Check every layer and return all problems found (an empty list means valid).

    Column names must already be canonical (``households``, ``unit_id``, ...); use
    :func:`gridplan.layers.prepare_layers` to rename, check and normalise in one step.
    ``units`` may be ``None`` to check context layers on their own (the CLI does that).
    Units are also checked to lie inside the ``communities`` and ``streets`` polygons unless
    they carry their own ``community_id`` / ``street_id``.
    """
    layers: Mapping[str, object | None] = {
        "units": units,
        "compounds": compounds,
        "dedicated": dedicated,
        "barriers": barriers,
        "communities": communities,
        "streets": streets,
    }
    problems: list[Problem] = []
    for role, gdf in layers.items():
        if gdf is not None:
            problems.extend(validate_layer(gdf, role=role, balance=balance))  # type: ignore[arg-type]
    if isinstance(units, gpd.GeoDataFrame) and len(units):
        ids = layer_ids(units, "units")
        for role, boundary in (("communities", communities), ("streets", streets)):
            if isinstance(boundary, gpd.GeoDataFrame) and len(boundary):
                if ID_COLUMNS[role] in units.columns:
                    continue  # the units say where they belong; no need to locate them
                if role == "streets" and isinstance(communities, gpd.GeoDataFrame):
                    if "street_id" in communities.columns:
                        continue  # streets come from the communities' street_id
                problems.extend(_outside_problems(units, ids, boundary, role))
    return problems


def check_or_raise(problems: Iterable[Problem]) -> None:
    """Raise one :class:`ValidationError` listing ``problems`` if there are any."""
    found = list(problems)
    if found:
        raise ValidationError(found)
