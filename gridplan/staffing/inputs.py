"""The plan a staffing plan is made for: its frames read, checked and brought into one shape.

:func:`plan_parts` takes a :class:`gridplan.Plan`, a mapping of its layers or the path of a plan
GeoPackage (:func:`read_plan_layers`); :func:`normalise_plan` checks the grids, micro-grids and
units (collecting every problem, raised once) and returns :class:`PlanFrames`: grids with
canonical columns, units indexed by id, compounds, names of communities and streets, all in one
metric CRS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..config import StaffingRules
from ..crs import working_crs
from ..diagnostics import Diagnostic
from ..errors import Problem, ValidationError, describe_rows
from ..io import list_layers, read_layer
from ..validate import id_str, normalize_ids

__all__ = [
    "NO_COMMUNITY",
    "PlanFrames",
    "column_or_index",
    "normalise_plan",
    "numeric_values",
    "plan_parts",
    "read_plan_layers",
]

#: community key used where a grid has no community
NO_COMMUNITY = "-"


# ---------------------------------------------------------------------------------------------
# inputs: a Plan, or the layers of a plan GeoPackage
# ---------------------------------------------------------------------------------------------

_PLAN_LAYERS = ("units", "grids", "microgrids")
_CONTEXT_LAYERS = ("compounds", "communities", "streets")


def read_plan_layers(path: str | Path) -> dict[str, gpd.GeoDataFrame]:
    """Read the layers :func:`staffing_plan` uses from a plan GeoPackage.

    ``grids`` is required; ``units`` and ``microgrids`` (written by ``gridplan plan``) and
    ``compounds``, ``communities``, ``streets`` are read when present.
    """
    p = Path(path)
    names = list_layers(p)
    if "grids" not in names:
        raise ValidationError(
            [
                Problem(
                    p.name,
                    "missing_layer",
                    f"{p.name!r} has no `grids` layer (it holds {', '.join(names) or 'no layers'}"
                    "); pass the GeoPackage written by `gridplan plan`",
                )
            ]
        )
    return {n: read_layer(p, layer=n) for n in (*_PLAN_LAYERS, *_CONTEXT_LAYERS) if n in names}


def plan_parts(plan: Any) -> dict[str, Any]:
    if isinstance(plan, (str, Path)):
        return read_plan_layers(plan)
    if isinstance(plan, Mapping):
        return dict(plan)
    parts: dict[str, Any] = {n: getattr(plan, n, None) for n in _PLAN_LAYERS}
    layers = getattr(plan, "layers", None)
    if layers is not None:
        for n in _CONTEXT_LAYERS:
            parts[n] = getattr(layers, n, None)
    if parts["grids"] is None:
        raise ValidationError(
            [
                Problem(
                    "plan",
                    "no_grids",
                    f"expected a gridplan Plan, a mapping of layers or a GeoPackage path, got "
                    f"{type(plan).__name__} without `grids`",
                )
            ]
        )
    return parts


@dataclass
class PlanFrames:
    """A plan's frames normalised for staffing (geometry in a metric CRS)."""

    grids: gpd.GeoDataFrame  # RangeIndex; canonical columns below
    units: gpd.GeoDataFrame | None  # index unit_id (str)
    compounds: gpd.GeoSeries | None  # index compound_id (str)
    community_names: dict[str, str]
    street_names: dict[str, str]
    crs: pyproj.CRS | None
    notes: list[Diagnostic]
    unit_columns: frozenset[str] = frozenset()
    # microgrid_code, grid_code and geometry (working CRS), when the plan gives micro-grids
    microgrids: gpd.GeoDataFrame | None = None
    # communities a redivision formed from several current ones (their `previous_codes`)
    reformed: frozenset[str] = frozenset()


def column_or_index(frame: pd.DataFrame, *names: str) -> pd.Series | None:
    for n in names:
        if n in frame.columns:
            return frame[n]
    if frame.index.name in names:
        return frame.index.to_series(index=frame.index)
    return None


def numeric_values(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Numbers, with NaN for blanks; also the mask of values that are present but unreadable."""
    num = pd.to_numeric(values, errors="coerce").astype(float)
    raw = values.astype(object)
    present = raw.notna() & (raw.astype(str).str.strip() != "")
    return num, (present & num.isna()).to_numpy()


def _bool_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    s = frame[name]
    out = np.zeros(len(frame), dtype=bool)
    for i, v in enumerate(s.to_numpy(dtype=object)):
        if isinstance(v, (bool, np.bool_)):
            out[i] = bool(v)
        elif isinstance(v, (int, float, np.integer, np.floating)) and not pd.isna(v):
            out[i] = bool(v)
        elif isinstance(v, str):
            out[i] = v.strip().lower() in ("true", "1", "yes", "是", "y", "t")
    return out


def _to_crs(frame: Any, crs: pyproj.CRS | None) -> gpd.GeoSeries | None:
    """The frame's geometry in ``crs`` (None when it has no usable geometry or CRS)."""
    if crs is None or not isinstance(frame, gpd.GeoDataFrame):
        return None
    try:
        geom = frame.geometry
    except AttributeError:
        return None
    if geom.crs is None:
        return None
    geom = geom.to_crs(crs)
    arr = geom.to_numpy()
    bad = ~shapely.is_missing(arr) & ~shapely.is_valid(arr)
    if bad.any():
        arr = arr.copy()
        arr[bad] = shapely.make_valid(arr[bad])
        geom = gpd.GeoSeries(arr, index=geom.index, crs=crs)
    return geom


def _work_crs(*frames: Any) -> pyproj.CRS | None:
    for f in frames:
        if isinstance(f, gpd.GeoDataFrame) and f.crs is not None:
            try:
                arr = f.geometry.to_numpy()
            except AttributeError:
                continue
            if (~shapely.is_missing(arr) & ~shapely.is_empty(arr)).any():
                return working_crs(f)
    return None


def _names(frame: Any, key: str) -> dict[str, str]:
    if not isinstance(frame, pd.DataFrame) or "name" not in frame.columns:
        return {}
    ids = column_or_index(frame, key)
    if ids is None:
        ids = frame.index.to_series(index=frame.index)
    out = {}
    for k, v in zip(normalize_ids(ids), frame["name"].to_numpy(dtype=object), strict=True):
        if k is not None and isinstance(v, str) and v.strip():
            out[k] = v.strip()
    return out


def normalise_plan(parts: Mapping[str, Any], rules: StaffingRules) -> PlanFrames:
    """Check the plan's frames (collecting every problem) and bring them into one shape."""
    problems: list[Problem] = []
    grids_in = parts.get("grids")
    if not isinstance(grids_in, pd.DataFrame):
        raise ValidationError(
            [
                Problem(
                    "grids",
                    "missing_layer",
                    f"expected a `grids` table, got {type(grids_in).__name__}",
                )
            ]
        )
    units_in = parts.get("units")
    micro_in = parts.get("microgrids")
    crs = _work_crs(grids_in, units_in)

    # --- grids --------------------------------------------------------------------------------
    g = pd.DataFrame(index=pd.RangeIndex(len(grids_in)))
    code_col = column_or_index(grids_in, "grid_code", "grid_id")
    if code_col is None:
        problems.append(
            Problem(
                "grids",
                "missing_column",
                f"the grids layer has no `grid_code` column (columns: "
                f"{', '.join(map(str, grids_in.columns))}); pass the grids of a gridplan plan",
            )
        )
        raise ValidationError(problems)
    codes = normalize_ids(code_col)
    g["grid_code"] = pd.Series(codes, dtype=object)
    rows = [str(i) for i in range(len(grids_in))]
    label = [c if c is not None else f"row {r}" for c, r in zip(codes, rows, strict=True)]
    missing = [label[i] for i, c in enumerate(codes) if c is None]
    if missing:
        problems.append(
            Problem(
                "grids",
                "missing_code",
                f"{len(missing)} grids have no grid_code ({describe_rows(missing)}); "
                "every grid needs a unique code",
                tuple(missing),
            )
        )
    seen = pd.Series([c for c in codes if c is not None], dtype=object).value_counts()
    dup = sorted(seen.index[seen > 1].tolist())
    if dup:
        problems.append(
            Problem(
                "grids",
                "duplicate_code",
                f"{len(dup)} grid codes are used more than once ({describe_rows(dup)}); "
                "grid codes must be unique",
                tuple(dup),
            )
        )
    if "households" not in grids_in.columns:
        problems.append(
            Problem("grids", "missing_column", "the grids layer has no `households` column")
        )
        hh = pd.Series(np.zeros(len(g)), index=g.index)
    else:
        hh, unreadable = numeric_values(grids_in["households"].reset_index(drop=True))
        bad = unreadable | hh.isna().to_numpy() | (hh < 0).to_numpy()
        if bad.any():
            ids = [label[i] for i in np.flatnonzero(bad)]
            problems.append(
                Problem(
                    "grids",
                    "households",
                    f"{len(ids)} grids have missing, negative or non-numeric households "
                    f"({describe_rows(ids)}); expected whole numbers >= 0",
                    tuple(ids),
                )
            )
    g["households"] = hh.fillna(0).clip(lower=0).round().astype(np.int64).to_numpy()
    kind_raw = column_or_index(grids_in, "kind")
    kinds = ["residential"] * len(g)
    if kind_raw is not None:
        aliases = {"residential": "residential", "住宅": "residential", "dedicated": "dedicated"}
        aliases.update({"专属": "dedicated", "专属网格": "dedicated", "住宅网格": "residential"})
        bad_kind = []
        for i, v in enumerate(kind_raw.to_numpy(dtype=object)):
            s = id_str(v)
            if s is None:
                continue
            k = aliases.get(s.strip().lower())
            if k is None:
                bad_kind.append(f"{label[i]} ({s!r})")
            else:
                kinds[i] = k
        if bad_kind:
            problems.append(
                Problem(
                    "grids",
                    "kind",
                    f"{len(bad_kind)} grids have an unknown kind ({describe_rows(bad_kind)}); "
                    "expected 'residential' or 'dedicated'",
                )
            )
    g["kind"] = kinds
    comm = column_or_index(grids_in, "community_id", "community_code")
    g["community_id"] = [
        c if c is not None else NO_COMMUNITY
        for c in (normalize_ids(comm) if comm is not None else [None] * len(g))
    ]
    ccode = column_or_index(grids_in, "community_code")
    g["community_code"] = normalize_ids(ccode) if ccode is not None else [None] * len(g)
    street = column_or_index(grids_in, "street_id")
    g["street_id"] = [
        s if s is not None else NO_COMMUNITY
        for s in (normalize_ids(street) if street is not None else [None] * len(g))
    ]
    for name in ("population", "party_members"):
        if name in grids_in.columns:
            num, unreadable = numeric_values(grids_in[name].reset_index(drop=True))
            bad = unreadable | (num < 0).to_numpy()
            if bad.any():
                ids = [label[i] for i in np.flatnonzero(bad)]
                problems.append(
                    Problem(
                        "grids",
                        name,
                        f"{len(ids)} grids have a negative or non-numeric {name} "
                        f"({describe_rows(ids)}); leave it blank when unknown",
                        tuple(ids),
                    )
                )
            g[name] = num.where(num >= 0).to_numpy()
        else:
            g[name] = np.nan
    g["population_estimated"] = _bool_column(
        grids_in.reset_index(drop=True), "population_estimated"
    )
    known = {c for c in codes if c is not None}

    # --- micro-grids: counted per grid ----------------------------------------------------------
    n_micro: pd.Series | None = None
    micro_frame: gpd.GeoDataFrame | None = None
    if isinstance(micro_in, pd.DataFrame) and len(micro_in):
        mcode = column_or_index(micro_in, "grid_code")
        if mcode is None:
            problems.append(
                Problem(
                    "microgrids",
                    "missing_column",
                    "the microgrids layer has no `grid_code` column naming each micro-grid's grid",
                )
            )
        else:
            parents = pd.Series(normalize_ids(mcode), dtype=object)
            mids = column_or_index(micro_in, "microgrid_code")
            mlabel = (
                normalize_ids(mids)
                if mids is not None
                else [f"row {i}" for i in range(len(parents))]
            )
            orphan = [
                f"{mlabel[i]} -> {p}" for i, p in enumerate(parents) if p is None or p not in known
            ]
            if orphan:
                problems.append(
                    Problem(
                        "microgrids",
                        "unknown_grid",
                        f"{len(orphan)} micro-grids name a grid that is not in the grids layer "
                        f"({describe_rows(orphan)}); use the layers of one plan",
                    )
                )
            n_micro = parents.value_counts()
            mgeom = _to_crs(micro_in, crs)
            micro_frame = gpd.GeoDataFrame(
                {
                    "microgrid_code": pd.Series(
                        [
                            m if m is not None else f"{p}-{i}"
                            for i, (m, p) in enumerate(zip(mlabel, parents, strict=True))
                        ],
                        dtype=object,
                    ),
                    "grid_code": parents.to_numpy(dtype=object),
                    # what the per-micro-grid sheet shows: households and roster addresses
                    "households": numeric_values(micro_in["households"].reset_index(drop=True))[
                        0
                    ].to_numpy()
                    if "households" in micro_in.columns
                    else np.full(len(parents), np.nan),
                    "addresses": micro_in["addresses"].to_numpy(dtype=object)
                    if "addresses" in micro_in.columns
                    else np.full(len(parents), None, dtype=object),
                },
                geometry=mgeom.to_numpy() if mgeom is not None else [None] * len(parents),
                crs=crs,
            )
    if n_micro is not None:
        g["n_microgrids"] = g["grid_code"].map(n_micro).fillna(0).astype(np.int64)
    elif "n_microgrids" in grids_in.columns:
        num, _ = numeric_values(grids_in["n_microgrids"].reset_index(drop=True))
        g["n_microgrids"] = num.fillna(0).clip(lower=0).round().astype(np.int64).to_numpy()
    else:
        g["n_microgrids"] = 0
    notes: list[Diagnostic] = []
    if n_micro is None and "n_microgrids" not in grids_in.columns:
        notes.append(
            Diagnostic(
                level="staffing",
                code="no_microgrids",
                params={"topic": "posts"},
                fix="staffing_give_microgrids",
            )
        )

    # --- units ----------------------------------------------------------------------------------
    units: gpd.GeoDataFrame | None = None
    if isinstance(units_in, pd.DataFrame) and len(units_in):
        uid = column_or_index(units_in, "unit_id")
        uids = normalize_ids(uid) if uid is not None else [str(i) for i in range(len(units_in))]
        u = pd.DataFrame(index=pd.Index([x or "" for x in uids], name="unit_id", dtype=object))
        ugrid = column_or_index(units_in, "grid_code")
        if ugrid is None:
            problems.append(
                Problem(
                    "units",
                    "missing_column",
                    "the units layer has no `grid_code` column; pass the units of a gridplan plan",
                )
            )
        else:
            gcodes = normalize_ids(ugrid)
            # a unit's first code is its grid; further ";"-joined codes are tolerated
            first = [c.split(";")[0].strip() if c else None for c in gcodes]
            orphan = [str(uids[i]) for i, c in enumerate(first) if c is None or c not in known]
            if orphan:
                problems.append(
                    Problem(
                        "units",
                        "unknown_grid",
                        f"{len(orphan)} units are in no grid of the grids layer "
                        f"({describe_rows(orphan)}); use the layers of one plan",
                        tuple(orphan),
                    )
                )
            u["grid_code"] = first
            for name in ("households", "population", "party_members"):
                if name in units_in.columns:
                    num, unreadable = numeric_values(units_in[name].reset_index(drop=True))
                    bad = unreadable | (num < 0).to_numpy()
                    if bad.any():
                        ids = [str(uids[i]) for i in np.flatnonzero(bad)]
                        problems.append(
                            Problem(
                                "units",
                                name,
                                f"{len(ids)} units have a negative or non-numeric {name} "
                                f"({describe_rows(ids)}); leave it blank when unknown",
                                tuple(ids),
                            )
                        )
                    u[name] = num.where(num >= 0).to_numpy()
                else:
                    u[name] = np.nan
            u["households"] = u["households"].fillna(0)
            comp = column_or_index(units_in, "compound_id")
            u["compound_id"] = normalize_ids(comp) if comp is not None else [None] * len(u)
            if "n_parts" in units_in.columns:
                num, _ = numeric_values(units_in["n_parts"].reset_index(drop=True))
                u["n_parts"] = num.fillna(1).to_numpy()
            else:
                u["n_parts"] = 1.0
            geom = _to_crs(units_in, crs)
            units = gpd.GeoDataFrame(
                u,
                geometry=geom.to_numpy() if geom is not None else [None] * len(u),
                crs=crs,
            )

    if problems:
        raise ValidationError(problems)

    geom = _to_crs(grids_in, crs)
    grids = gpd.GeoDataFrame(
        g, geometry=geom.to_numpy() if geom is not None else [None] * len(g), crs=crs
    )

    compounds: gpd.GeoSeries | None = None
    comp_in = parts.get("compounds")
    cgeom = _to_crs(comp_in, crs)
    if cgeom is not None and isinstance(comp_in, pd.DataFrame):
        cid = column_or_index(comp_in, "compound_id")
        cids = normalize_ids(cid) if cid is not None else normalize_ids(comp_in.index)
        compounds = gpd.GeoSeries(
            cgeom.to_numpy(), index=pd.Index(cids, dtype=object, name="compound_id"), crs=crs
        )
        compounds = compounds[compounds.index.notna() & ~compounds.index.duplicated()]
    return PlanFrames(
        grids=grids,
        units=units,
        compounds=compounds,
        community_names=_names(parts.get("communities"), "community_id"),
        street_names=_names(parts.get("streets"), "street_id"),
        crs=crs,
        notes=notes,
        unit_columns=frozenset(map(str, units_in.columns))
        if isinstance(units_in, pd.DataFrame)
        else frozenset(),
        microgrids=micro_frame,
        reformed=_reformed(parts.get("communities")),
    )


def _reformed(frame: Any) -> frozenset[str]:
    """Communities of a redivision's layer formed from more than one current community."""
    if not isinstance(frame, pd.DataFrame) or "previous_codes" not in frame.columns:
        return frozenset()
    ids = column_or_index(frame, "community_id")
    if ids is None:
        return frozenset()
    merged = frame["previous_codes"].fillna("").astype(str).str.contains(";").to_numpy()
    return frozenset(k for k, m in zip(normalize_ids(ids), merged, strict=True) if k and m)
