"""The layer model: what gridplan plans from, checked and normalised once.

A plan starts from one *units* layer (buildings as points or footprints, or blocks / census
areas as polygons) with household counts, plus optional context layers:

* ``compounds`` — residential compounds (小区), optionally gated;
* ``dedicated`` — business districts, markets, schools, hospitals, parks... (专属网格 candidates);
* ``barriers`` — major roads, railways and rivers that grids must not cross;
* ``communities`` — community (社区) boundaries: grids never span two communities;
* ``streets`` — street/sub-district (街道) boundaries;
* ``roads`` — all streets, lanes and paths: where grid boundaries should run (grids may join
  across them).

:func:`prepare_layers` renames columns, undoes GCJ-02/BD-09 offsets, validates everything
(raising one :class:`~gridplan.errors.ValidationError` that lists every problem), and returns a
:class:`Layers` whose frames have canonical ids, columns and dtypes, all in the units' CRS.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> units = gpd.GeoDataFrame(
...     {"楼号": ["1", "2"], "户数": [120, 96]},
...     geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)], crs=32649)
>>> layers = prepare_layers(units, columns={"楼号": "unit_id", "户数": "households"})
>>> layers.units.index.tolist(), layers.units["households"].sum()
(['1', '2'], np.int64(216))
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .config import argument_problems
from .crs import unshift_to_wgs84
from .errors import Interface, Problem, ValidationError, describe_rows, option
from .validate import (
    ALLOWED_TYPES,
    DEDICATED_SHARE_MAX,
    ID_COLUMNS,
    NUMERIC_UNIT_COLUMNS,
    PART_GAP_M,
    check_or_raise,
    id_str,
    layer_ids,
    parse_bool,
    part_groups,
    plan_size_problems,
    representative_points,
    validate_layers,
)

logger = logging.getLogger(__name__)

Balance = Literal["households", "population"]
SourceCRS = Literal["wgs84", "gcj02", "bd09"]

#: Canonical unit columns and their dtypes after :func:`prepare_layers`.
UNIT_COLUMNS: dict[str, str] = {
    "households": "int64",
    "population": "float64",
    "party_members": "float64",
    "compound_id": "object (str or None)",
    "gated": "bool",
    "community_id": "object (str or None)",
    "street_id": "object (str or None)",
    "floors": "float64",
    "stairwells": "float64",
}


@dataclass(frozen=True)
class Layers:
    """Validated, normalised input layers, all in the units' CRS.

    Attributes
    ----------
    units
        Index ``unit_id`` (str, unique). Columns ``households`` (int64), ``population``,
        ``party_members``, ``floors``, ``stairwells`` (float, NaN when unknown),
        ``compound_id``, ``community_id``, ``street_id`` (str or None), ``gated`` (bool),
        geometry (Point or Polygon/MultiPolygon), plus any other input columns untouched.
    compounds
        Index ``compound_id``; columns ``name``, ``gated`` (bool), polygonal geometry.
    dedicated
        Index ``dedicated_id``; columns ``name``, ``category`` (str), polygonal geometry.
    barriers
        Index ``barrier_id``; columns ``name``, ``barrier_class`` (str), lineal geometry.
    communities
        Index ``community_id``; columns ``name``, ``street_id`` (str or None), polygons.
    streets
        Index ``street_id``; columns ``name``, polygons.
    roads
        Index ``road_id``; columns ``name``, ``road_class`` (str), lineal geometry. Streets,
        lanes and paths: where grid boundaries should run. Unlike barriers they do not forbid
        adjacency.
    """

    units: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame | None = None
    dedicated: gpd.GeoDataFrame | None = None
    barriers: gpd.GeoDataFrame | None = None
    communities: gpd.GeoDataFrame | None = None
    streets: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None

    @property
    def crs(self) -> pyproj.CRS | None:
        """The units' CRS (every layer shares it)."""
        return self.units.crs

    def context(self) -> dict[str, gpd.GeoDataFrame]:
        """The optional layers that are present, by role name."""
        found = {
            "compounds": self.compounds,
            "dedicated": self.dedicated,
            "barriers": self.barriers,
            "communities": self.communities,
            "streets": self.streets,
            "roads": self.roads,
        }
        return {k: v for k, v in found.items() if v is not None}


# ---------------------------------------------------------------------------------------------
# steps before validation
# ---------------------------------------------------------------------------------------------


def _rename(
    gdf: Any, role: str, columns: Mapping[str, str] | None, interface: Interface = "python"
) -> tuple[Any, list[Problem]]:
    if not isinstance(gdf, gpd.GeoDataFrame):
        return gdf, []
    out = gdf.copy()
    if not columns:
        return out, []
    mapping = {k: v for k, v in columns.items() if k in out.columns and k != v}
    if not mapping:
        return out, []
    out = out.rename(columns=mapping)
    dup = sorted({str(c) for c in out.columns[out.columns.duplicated()]})
    if dup:
        return gdf.copy(), [
            Problem(
                role,
                "duplicate_column",
                f"renaming {mapping} gives the {role} layer two columns named "
                f"{', '.join(dup)}; "
                + option("columns_drop", interface, old=next(iter(mapping)), new=dup[0])
                + ".",
            )
        ]
    return out, []


def _unshift(
    gdf: Any, role: str, source_crs: SourceCRS | None, interface: Interface = "python"
) -> tuple[Any, list[Problem]]:
    if source_crs in (None, "wgs84") or not isinstance(gdf, gpd.GeoDataFrame):
        return gdf, []
    try:
        return unshift_to_wgs84(gdf, source=source_crs), []
    except ValueError as exc:
        message = str(exc).replace(f"source_crs={source_crs!r}", f"converting from {source_crs}")
        return gdf, [Problem(role, "source_crs", f"{message}; {option('source_crs', interface)}.")]


def _keep_dimension(geom: Any, dim: int) -> Any:
    """Parts of ``geom`` with topological dimension ``dim``, combined (or empty)."""
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_dimensions(parts) == dim]
    if len(parts) == 0:
        return shapely.from_wkt({0: "POINT EMPTY", 1: "LINESTRING EMPTY"}.get(dim, "POLYGON EMPTY"))
    if len(parts) == 1:
        return parts[0]
    if dim == 2:
        return shapely.union_all(parts)
    if dim == 1:
        return shapely.multilinestrings(parts)
    return shapely.multipoints(parts)


def repair_geometry(gdf: gpd.GeoDataFrame, *, role: str) -> gpd.GeoDataFrame:
    """Return a copy with invalid geometries repaired by :func:`shapely.make_valid`, keeping the
    layer's geometry type (polygons stay polygons; slivers of lower dimension are dropped)."""
    out = gdf.copy()
    geoms = out.geometry.to_numpy()
    present = ~shapely.is_missing(geoms)
    bad = np.zeros(len(geoms), dtype=bool)
    bad[present] = ~shapely.is_valid(geoms[present])
    if not bad.any():
        return out
    fixed = geoms.copy()
    allowed = ALLOWED_TYPES.get(role)
    for i in np.flatnonzero(bad):
        g = geoms[i]
        dim = int(shapely.get_dimensions(g))
        v = shapely.make_valid(g, method="structure") if dim == 2 else shapely.make_valid(g)
        if allowed is None or v.geom_type not in allowed:
            v = _keep_dimension(v, dim)
        fixed[i] = v
    ids = layer_ids(gdf, role)
    logger.warning(
        "repaired %d invalid %s geometries with shapely.make_valid (ids %s)",
        int(bad.sum()),
        role,
        describe_rows(tuple(ids[bad])),
    )
    out[out.geometry.name] = gpd.GeoSeries(fixed, index=out.index, crs=out.crs)
    return out


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Whole shares of ``total`` proportional to ``weights`` that sum to ``total`` exactly."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))
    raw = total * w
    out = np.floor(raw).astype("int64")
    rest = int(total - out.sum())
    if rest > 0:
        order = np.lexsort((np.arange(len(w)), -(raw - out)))  # ties: the first part
        out[order[:rest]] += 1
    return out


def split_distant_parts(units: gpd.GeoDataFrame, *, gap_m: float = PART_GAP_M) -> gpd.GeoDataFrame:
    """Split every MultiPolygon unit with a part farther than ``gap_m`` from its other parts
    into one unit per group of nearby parts, so each place is planned where it is.

    The new units get ids ``<id>.1``, ``<id>.2``... (largest part group first) and share the
    unit's ``households`` (and ``population``, ``party_members``) by area with the largest
    remainder method, so totals are conserved exactly. Other columns are copied. Units whose
    parts lie within ``gap_m`` of each other are kept as they are. ``units`` is not mutated.

    Examples
    --------
    >>> from shapely.geometry import MultiPolygon, box
    >>> u = gpd.GeoDataFrame({"unit_id": ["a"], "households": [101]},
    ...     geometry=[MultiPolygon([box(0, 0, 20, 10), box(500, 0, 510, 10)])], crs=32650)
    >>> out = split_distant_parts(u)
    >>> out["unit_id"].tolist(), out["households"].tolist()
    (['a.1', 'a.2'], [67, 34])
    """
    from .crs import to_working

    if len(units) == 0:
        return units.copy()
    geoms = units.geometry.to_numpy()
    multi = np.asarray(shapely.get_type_id(geoms)) == 6
    if not multi.any() or units.crs is None:
        return units.copy()
    metric = to_working(units[[units.geometry.name]]).geometry.to_numpy()
    ids = layer_ids(units, "units")
    pieces_at: dict[int, pd.DataFrame] = {}
    for pos in (int(i) for i in np.flatnonzero(multi)):
        row = units.iloc[[pos]]
        parts = shapely.get_parts(metric[pos])
        originals = shapely.get_parts(geoms[pos])
        label = part_groups(metric[pos], gap_m=gap_m)
        n_groups = int(label.max()) + 1 if len(label) else 1
        if n_groups == 1:
            continue
        areas = np.bincount(label, weights=shapely.area(parts), minlength=n_groups)
        pieces = row.loc[row.index.repeat(n_groups)].copy()
        pieces[units.geometry.name] = [
            shapely.union_all(originals[label == g]) for g in range(n_groups)
        ]
        for col in ("households", "population", "party_members"):
            if col in pieces.columns:
                value = pd.to_numeric(pd.Series([row[col].iloc[0]]), errors="coerce").iloc[0]
                if pd.notna(value) and float(value).is_integer():
                    pieces[col] = _largest_remainder(int(value), areas)
                elif pd.notna(value):
                    pieces[col] = float(value) * areas / areas.sum()
        new_ids = [f"{ids[pos]}.{k + 1}" for k in range(n_groups)]
        if "unit_id" in pieces.columns:
            pieces["unit_id"] = new_ids
        else:
            pieces.index = pd.Index(new_ids, name=units.index.name)
        pieces_at[pos] = pieces
    split_ids = [ids[pos] for pos in pieces_at]
    if not split_ids:
        return units.copy()
    logger.warning(
        "split %d units whose parts lie more than %g m apart into one unit per place (ids %s)",
        len(split_ids),
        gap_m,
        describe_rows(tuple(split_ids)),
    )
    # the new units take the place of the one they came from, so the order is kept
    frames: list[pd.DataFrame] = []
    last = 0
    for pos in sorted(pieces_at):
        frames.extend([units.iloc[last:pos], pieces_at[pos]])
        last = pos + 1
    frames.append(units.iloc[last:])
    out = pd.concat([f for f in frames if len(f)])
    return gpd.GeoDataFrame(out, geometry=units.geometry.name, crs=units.crs)


def check_plan_size(layers: Layers, *, rules: Any) -> None:
    """Raise a :class:`~gridplan.errors.ValidationError` when the plan could not be coded or
    would run without bound (:func:`gridplan.validate.plan_size_problems`), before any work.
    """
    check_or_raise(plan_size_problems(layers.units, rules=rules))


# ---------------------------------------------------------------------------------------------
# normalisation
# ---------------------------------------------------------------------------------------------


def _str_or_none(values: pd.Series) -> pd.Series:
    return pd.Series([id_str(v) for v in values.to_numpy()], index=values.index, dtype=object)


def _with_id_index(gdf: gpd.GeoDataFrame, role: str) -> gpd.GeoDataFrame:
    col = ID_COLUMNS[role]
    ids = layer_ids(gdf, role)
    out = gdf.drop(columns=[col]) if col in gdf.columns else gdf.copy()
    out.index = pd.Index([str(v) for v in ids], name=col)
    return out


def _to_crs(gdf: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    if crs is None or gdf.crs is None or gdf.crs == crs:
        return gdf
    return gdf.to_crs(crs)


def _assign_by_point(units: gpd.GeoDataFrame, polys: gpd.GeoDataFrame) -> pd.Series:
    """Id (index label) of the first polygon holding each unit's representative point."""
    result = pd.Series([None] * len(units), index=units.index, dtype=object)
    geoms = polys.geometry.to_numpy()
    ok = ~shapely.is_missing(geoms)
    if not ok.any() or len(units) == 0:
        return result
    tree = shapely.STRtree(geoms[ok])
    labels = np.asarray(polys.index[ok], dtype=object)
    pts = representative_points(units).to_numpy()
    present = ~shapely.is_missing(pts)
    unit_pos, poly_pos = tree.query(pts[present], predicate="intersects")
    if len(unit_pos) == 0:
        return result
    # the first (lowest) polygon wins where polygons overlap, so results are deterministic
    order = np.lexsort((poly_pos, unit_pos))
    unit_pos, poly_pos = unit_pos[order], poly_pos[order]
    first = np.r_[True, unit_pos[1:] != unit_pos[:-1]]
    rows = np.flatnonzero(present)[unit_pos[first]]
    values = result.to_numpy(copy=True)
    values[rows] = labels[poly_pos[first]]
    return pd.Series(values, index=units.index, dtype=object)


def _fill_text(gdf: gpd.GeoDataFrame, col: str, default: str | pd.Series) -> None:
    if col not in gdf.columns:
        gdf[col] = (
            default
            if isinstance(default, pd.Series)
            else pd.Series([default] * len(gdf), index=gdf.index, dtype=object)
        )
        return
    fill = (
        default
        if isinstance(default, pd.Series)
        else pd.Series([default] * len(gdf), index=gdf.index, dtype=object)
    )
    values = gdf[col].astype(object)
    gdf[col] = values.where(values.notna(), fill).map(str).astype(object)


def _normalise_context(
    gdf: gpd.GeoDataFrame | None, role: str, crs: Any
) -> gpd.GeoDataFrame | None:
    if gdf is None:
        return None
    out = _with_id_index(_to_crs(gdf, crs), role)
    ids = pd.Series(out.index.to_numpy(dtype=object), index=out.index, dtype=object)
    _fill_text(out, "name", ids)
    if role == "compounds":
        out["gated"] = parse_bool(out["gated"])[0] if "gated" in out.columns else False
    elif role == "dedicated":
        _fill_text(out, "category", "other")
    elif role == "barriers":
        _fill_text(out, "barrier_class", "barrier")
    elif role == "roads":
        # an OSM export names the class `highway`; any other layer is just streets
        default = out["highway"].astype(object) if "highway" in out.columns else "road"
        _fill_text(out, "road_class", default)
        _fill_text(out, "road_class", "road")
    return out


def _normalise_units(
    units: gpd.GeoDataFrame,
    *,
    compounds: gpd.GeoDataFrame | None,
    communities: gpd.GeoDataFrame | None,
    streets: gpd.GeoDataFrame | None,
    balance: Balance,
) -> gpd.GeoDataFrame:
    out = _with_id_index(units, "units")
    if "households" in out.columns:
        hh = pd.to_numeric(out["households"], errors="coerce")
        if hh.isna().any():
            # only reachable with balance="population" (validation rejects it otherwise)
            warnings.warn(
                f"{int(hh.isna().sum())} units have no households value; set to 0 because the "
                "plan balances population",
                stacklevel=3,
            )
        out["households"] = hh.fillna(0).round().astype("int64")
    else:
        warnings.warn(
            "units have no `households` column; households set to 0 and the plan balances "
            "population",
            stacklevel=3,
        )
        out["households"] = np.zeros(len(out), dtype="int64")
    for col in NUMERIC_UNIT_COLUMNS:
        if col in out.columns:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
        else:
            out[col] = np.full(len(out), np.nan)

    if "compound_id" in out.columns:
        out["compound_id"] = _str_or_none(out["compound_id"])
    elif compounds is not None:
        out["compound_id"] = _assign_by_point(out, compounds)
    else:
        out["compound_id"] = pd.Series([None] * len(out), index=out.index, dtype=object)

    if "gated" in out.columns:
        out["gated"] = parse_bool(out["gated"])[0]
    elif compounds is not None:
        gated = out["compound_id"].map(compounds["gated"].to_dict())
        out["gated"] = gated.where(gated.notna(), False).astype(bool)
    else:
        out["gated"] = False

    if "community_id" in out.columns:
        out["community_id"] = _str_or_none(out["community_id"])
    elif communities is not None:
        out["community_id"] = _assign_by_point(out, communities)
    else:
        out["community_id"] = pd.Series([None] * len(out), index=out.index, dtype=object)

    if "street_id" in out.columns:
        out["street_id"] = _str_or_none(out["street_id"])
    elif communities is not None and "street_id" in communities.columns:
        mapped = out["community_id"].map(communities["street_id"].to_dict())
        out["street_id"] = _str_or_none(mapped)
    elif streets is not None:
        out["street_id"] = _assign_by_point(out, streets)
    else:
        out["street_id"] = pd.Series([None] * len(out), index=out.index, dtype=object)
    # canonical columns first, the user's own columns after them, geometry last
    geom = out.geometry.name
    others = [c for c in out.columns if c not in UNIT_COLUMNS and c != geom]
    return out[[*UNIT_COLUMNS, *others, geom]]


def prepare_layers(
    units: gpd.GeoDataFrame,
    *,
    compounds: gpd.GeoDataFrame | None = None,
    dedicated: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    columns: Mapping[str, str] | None = None,
    source_crs: SourceCRS | None = None,
    balance: Balance = "households",
    fix_invalid: bool = False,
    rules: Any = None,
    part_gap_m: float = PART_GAP_M,
    dedicated_share_max: float = DEDICATED_SHARE_MAX,
    interface: Interface = "python",
    redivision: bool = False,
) -> Layers:
    """Rename, convert, validate and normalise the input layers. Inputs are never mutated.

    Parameters
    ----------
    units
        Buildings (points or footprints) or blocks/areas (polygons) with household counts.
    compounds, dedicated, barriers, communities, streets, roads
        Optional context layers (see :class:`Layers`). ``roads`` are all streets, lanes and
        paths (any line layer): grid boundaries run on them, grids may join across them.
    columns
        One renaming for all layers, e.g. ``{"户数": "households", "小区编号": "compound_id"}``.
    source_crs
        ``"gcj02"`` or ``"bd09"`` when coordinates were digitised on Gaode/Tencent or Baidu
        maps; every layer is converted to WGS84 (EPSG:4326) first.
    balance
        ``"population"`` makes the ``households`` column optional and ``population`` required.
    fix_invalid
        Repair invalid geometries with :func:`shapely.make_valid` instead of reporting them,
        and split MultiPolygon units whose parts lie more than ``part_gap_m`` apart into one
        unit per place (:func:`split_distant_parts`).
    rules
        :class:`~gridplan.config.PlanRules`: when given, plans that could not be coded or
        would run without bound are refused too (:func:`check_plan_size`).
    part_gap_m, dedicated_share_max
        A MultiPolygon unit with a part farther than ``part_gap_m`` metres from the rest, and
        a dedicated area holding more than ``dedicated_share_max`` of the households, are
        problems (:func:`gridplan.validate.validate_layers`).
    interface
        Whose words the fixes use: ``"python"`` keywords (default), ``"cli"`` flags or
        ``"app"`` controls.
    redivision
        The communities are the current ones a redivision redraws: units may name another
        community than the polygon they lie in (see :func:`gridplan.validate.validate_layers`).

    Returns
    -------
    Layers
        Frames with canonical ids (as the index), columns and dtypes, in the units' CRS.
        Units lacking ``compound_id`` / ``community_id`` / ``street_id`` get them from the
        compound / community / street polygon holding their representative point.

    Raises
    ------
    ValidationError
        Listing every problem in every layer, with row ids and the fix.
    """
    raw: dict[str, Any] = {
        "units": units,
        "compounds": compounds,
        "dedicated": dedicated,
        "barriers": barriers,
        "communities": communities,
        "streets": streets,
        "roads": roads,
    }
    problems: list[Problem] = argument_problems(columns=columns, source_crs=source_crs)
    if problems:
        raise ValidationError(problems)
    work: dict[str, Any] = {}
    for role, gdf in raw.items():
        if gdf is None:
            work[role] = None
            continue
        gdf, found = _rename(gdf, role, columns, interface)
        problems.extend(found)
        gdf, found = _unshift(gdf, role, source_crs, interface)
        problems.extend(found)
        if fix_invalid and isinstance(gdf, gpd.GeoDataFrame):
            gdf = repair_geometry(gdf, role=role)
            if role == "units" and gdf.crs is not None:
                try:
                    gdf = split_distant_parts(gdf, gap_m=part_gap_m)
                except Exception:  # unprojectable coordinates: reported by validation
                    pass
        work[role] = gdf
    if work["units"] is None:
        problems.append(Problem("units", "missing_layer", "a units layer is required."))
    problems.extend(
        validate_layers(
            work["units"],
            compounds=work["compounds"],
            dedicated=work["dedicated"],
            barriers=work["barriers"],
            communities=work["communities"],
            streets=work["streets"],
            roads=work["roads"],
            balance=balance,
            part_gap_m=part_gap_m,
            dedicated_share_max=dedicated_share_max,
            interface=interface,
            redivision=redivision,
        )
    )
    check_or_raise(problems)

    crs = work["units"].crs
    streets_n = _normalise_context(work["streets"], "streets", crs)
    communities_n = _normalise_context(work["communities"], "communities", crs)
    if communities_n is not None:
        if "street_id" in communities_n.columns:
            communities_n["street_id"] = _str_or_none(communities_n["street_id"])
        elif streets_n is not None:
            communities_n["street_id"] = _assign_by_point(communities_n, streets_n)
        else:
            communities_n["street_id"] = pd.Series(
                [None] * len(communities_n), index=communities_n.index, dtype=object
            )
    compounds_n = _normalise_context(work["compounds"], "compounds", crs)
    units_n = _normalise_units(
        work["units"],
        compounds=compounds_n,
        communities=communities_n,
        streets=streets_n,
        balance=balance,
    )
    layers = Layers(
        units=units_n,
        compounds=compounds_n,
        dedicated=_normalise_context(work["dedicated"], "dedicated", crs),
        barriers=_normalise_context(work["barriers"], "barriers", crs),
        communities=communities_n,
        streets=streets_n,
        roads=_normalise_context(work["roads"], "roads", crs),
    )
    if rules is not None:
        check_plan_size(layers, rules=rules)
    logger.info(
        "prepared %d units (%d households) and %s",
        len(units_n),
        int(units_n["households"].sum()),
        ", ".join(f"{len(v)} {k}" for k, v in layers.context().items()) or "no context layers",
    )
    return layers
