"""Staffing and party-organisation plan (人员配备与党组织设置) for a grid plan.

Planners do not stop at boundaries: each plan must say who serves where. Given a plan's grids,
micro-grids and units, :func:`staffing_plan` works out, following common practice:

* **posts per grid** — one grid head (网格长) and one full-time grid worker (专职网格员) per
  residential grid, one part-time grid worker (兼职网格员) per micro-grid, one contact
  (专属网格联络员) per dedicated grid (专属网格);
* **community workers** (社区工作者) — no fewer than 18 per 10,000 residents (some cities use
  25), rounded up per community. Residents are counted where the input gave them and
  estimated as ``households × household_size`` elsewhere, and flagged as estimated;
* **party organisation** — per compound (小区) when the units carry ``compound_id``, else per
  grid: 3 or more party members form a branch (党支部) of their own; smaller ones are grouped
  with *adjacent* small neighbours into joint branches (联合党支部) of at most 5 compounds/grids;
  a branch over 50 members should be split, one with 7 or more has a committee (支委会);
  buildings with 3 or more members hold a building party group (楼栋党小组) and each
  party-member central household (党员中心户) keeps in touch with about 15 households;
* **named roster** (optional) — people assigned to grid-head and full-time posts by a
  min-cost assignment: those living in the grid first, then the least total distance.

Every number is a field of :class:`StaffingRules`. The result, :class:`Staffing`, holds one
table per topic and writes an Excel workbook with Chinese headers (English on request); phone
numbers are masked in every export unless asked otherwise.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> grids = gpd.GeoDataFrame(
...     {"grid_code": ["001", "002"], "community_id": ["C1", "C1"],
...      "kind": ["residential", "residential"], "households": [400, 420],
...      "n_microgrids": [8, 9]},
...     geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=32649)
>>> s = staffing_plan({"grids": grids})
>>> s.grids[["grid_code", "grid_head", "fulltime_worker", "parttime_workers"]].values.tolist()
[['001', 1, 1, 8], ['002', 1, 1, 9]]
>>> int(s.communities.loc[0, "community_workers"])   # 820 households x 2.8 = 2,296 residents
5
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.optimize import linear_sum_assignment

from .config import StaffingRules, staffing_rules_from_dict, staffing_rules_from_toml
from .crs import working_crs
from .errors import Problem, ValidationError, describe_rows
from .export import write_workbook
from .io import X_NAMES, Y_NAMES, find_column, list_layers, read_layer, read_table
from .validate import id_str, normalize_ids

__all__ = [
    "ROLES",
    "Staffing",
    "StaffingRules",
    "assign_min_cost",
    "community_workers_needed",
    "group_joint_branches",
    "mask_phone",
    "org_unit_graph",
    "read_plan_layers",
    "read_roster",
    "staffing_plan",
    "staffing_rules_from_dict",
    "staffing_rules_from_toml",
]

log = logging.getLogger(__name__)

Language = Literal["zh", "en"]

#: roster roles that are assigned to posts, with the words planners use for them
ROLES: dict[str, tuple[str, ...]] = {
    "grid_head": ("grid_head", "grid head", "head", "网格长"),
    "fulltime_worker": (
        "fulltime_worker",
        "full-time worker",
        "fulltime",
        "full_time_worker",
        "full-time",
        "专职网格员",
        "专职",
    ),
}
#: community key used where a grid has no community
NO_COMMUNITY = "-"
DIAGNOSTIC_COLUMNS = ["level", "check", "ref", "message", "fix"]


def community_workers_needed(residents: float, per_10k: float) -> int:
    """Community workers for ``residents`` at ``per_10k`` per 10,000, rounded up.

    Examples
    --------
    >>> community_workers_needed(12_345, 18), community_workers_needed(12_345, 25)
    (23, 31)
    >>> community_workers_needed(10_000, 18)
    18
    """
    if not residents or residents <= 0:
        return 0
    exact = residents * per_10k / 10_000
    # tolerate float noise so 10,000 residents at 18 give 18, not 19
    return math.ceil(exact - 1e-9 * max(1.0, exact))


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


def _plan_parts(plan: Any) -> dict[str, Any]:
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
class _Frames:
    """A plan's frames normalised for staffing (geometry in a metric CRS)."""

    grids: gpd.GeoDataFrame  # RangeIndex; canonical columns below
    units: gpd.GeoDataFrame | None  # index unit_id (str)
    compounds: gpd.GeoSeries | None  # index compound_id (str)
    community_names: dict[str, str]
    street_names: dict[str, str]
    crs: pyproj.CRS | None
    notes: list[dict[str, object]]
    unit_columns: frozenset[str] = frozenset()


def _ids(values: Any) -> list[str | None]:
    """Identifiers as stripped strings (``12.0`` -> ``"12"``), ``None`` where blank."""
    return normalize_ids(pd.Series(values, dtype=object))


def _column_or_index(frame: pd.DataFrame, *names: str) -> pd.Series | None:
    for n in names:
        if n in frame.columns:
            return frame[n]
    if frame.index.name in names:
        return frame.index.to_series(index=frame.index)
    return None


def _numeric(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
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
    ids = _column_or_index(frame, key)
    if ids is None:
        ids = frame.index.to_series(index=frame.index)
    out = {}
    for k, v in zip(_ids(ids), frame["name"].to_numpy(dtype=object), strict=True):
        if k is not None and isinstance(v, str) and v.strip():
            out[k] = v.strip()
    return out


def _normalise(parts: Mapping[str, Any], rules: StaffingRules) -> _Frames:
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
    code_col = _column_or_index(grids_in, "grid_code", "grid_id")
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
    codes = _ids(code_col)
    g["grid_code"] = pd.Series(codes, dtype=object)
    rows = [str(i) for i in range(len(grids_in))]
    label = [c if c is not None else f"row {r}" for c, r in zip(codes, rows, strict=True)]
    missing = [label[i] for i, c in enumerate(codes) if c is None]
    if missing:
        problems.append(
            Problem(
                "grids",
                "missing_code",
                f"{len(missing)} grids have no grid_code ({_named(missing)}); "
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
                f"{len(dup)} grid codes are used more than once ({_named(dup)}); "
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
        hh, unreadable = _numeric(grids_in["households"].reset_index(drop=True))
        bad = unreadable | hh.isna().to_numpy() | (hh < 0).to_numpy()
        if bad.any():
            ids = [label[i] for i in np.flatnonzero(bad)]
            problems.append(
                Problem(
                    "grids",
                    "households",
                    f"{len(ids)} grids have missing, negative or non-numeric households "
                    f"({_named(ids)}); expected whole numbers >= 0",
                    tuple(ids),
                )
            )
    g["households"] = hh.fillna(0).clip(lower=0).round().astype(np.int64).to_numpy()
    kind_raw = _column_or_index(grids_in, "kind")
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
                    f"{len(bad_kind)} grids have an unknown kind ({_named(bad_kind)}); "
                    "expected 'residential' or 'dedicated'",
                )
            )
    g["kind"] = kinds
    comm = _column_or_index(grids_in, "community_id", "community_code")
    g["community_id"] = [
        c if c is not None else NO_COMMUNITY
        for c in (_ids(comm) if comm is not None else [None] * len(g))
    ]
    ccode = _column_or_index(grids_in, "community_code")
    g["community_code"] = _ids(ccode) if ccode is not None else [None] * len(g)
    street = _column_or_index(grids_in, "street_id")
    g["street_id"] = [
        s if s is not None else NO_COMMUNITY
        for s in (_ids(street) if street is not None else [None] * len(g))
    ]
    for name in ("population", "party_members"):
        if name in grids_in.columns:
            num, unreadable = _numeric(grids_in[name].reset_index(drop=True))
            bad = unreadable | (num < 0).to_numpy()
            if bad.any():
                ids = [label[i] for i in np.flatnonzero(bad)]
                problems.append(
                    Problem(
                        "grids",
                        name,
                        f"{len(ids)} grids have a negative or non-numeric {name} "
                        f"({_named(ids)}); leave it blank when unknown",
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
    if isinstance(micro_in, pd.DataFrame) and len(micro_in):
        mcode = _column_or_index(micro_in, "grid_code")
        if mcode is None:
            problems.append(
                Problem(
                    "microgrids",
                    "missing_column",
                    "the microgrids layer has no `grid_code` column naming each micro-grid's grid",
                )
            )
        else:
            parents = pd.Series(_ids(mcode), dtype=object)
            mids = _column_or_index(micro_in, "microgrid_code")
            mlabel = _ids(mids) if mids is not None else [f"row {i}" for i in range(len(parents))]
            orphan = [
                f"{mlabel[i]} -> {p}" for i, p in enumerate(parents) if p is None or p not in known
            ]
            if orphan:
                problems.append(
                    Problem(
                        "microgrids",
                        "unknown_grid",
                        f"{len(orphan)} micro-grids name a grid that is not in the grids layer "
                        f"({_named(orphan)}); use the layers of one plan",
                    )
                )
            n_micro = parents.value_counts()
    if n_micro is not None:
        g["n_microgrids"] = g["grid_code"].map(n_micro).fillna(0).astype(np.int64)
    elif "n_microgrids" in grids_in.columns:
        num, _ = _numeric(grids_in["n_microgrids"].reset_index(drop=True))
        g["n_microgrids"] = num.fillna(0).clip(lower=0).round().astype(np.int64).to_numpy()
    else:
        g["n_microgrids"] = 0
    notes: list[dict[str, object]] = []
    if n_micro is None and "n_microgrids" not in grids_in.columns:
        notes.append(
            _diag(
                "grid",
                "no_microgrids",
                "",
                "neither a microgrids layer nor an n_microgrids column was given; "
                "no part-time grid worker posts are counted",
                "pass the plan's microgrids layer",
            )
        )

    # --- units ----------------------------------------------------------------------------------
    units: gpd.GeoDataFrame | None = None
    if isinstance(units_in, pd.DataFrame) and len(units_in):
        uid = _column_or_index(units_in, "unit_id")
        uids = _ids(uid) if uid is not None else [str(i) for i in range(len(units_in))]
        u = pd.DataFrame(index=pd.Index([x or "" for x in uids], name="unit_id", dtype=object))
        ugrid = _column_or_index(units_in, "grid_code")
        if ugrid is None:
            problems.append(
                Problem(
                    "units",
                    "missing_column",
                    "the units layer has no `grid_code` column; pass the units of a gridplan plan",
                )
            )
        else:
            gcodes = _ids(ugrid)
            # a unit's first code is its grid; further ";"-joined codes are tolerated
            first = [c.split(";")[0].strip() if c else None for c in gcodes]
            orphan = [str(uids[i]) for i, c in enumerate(first) if c is None or c not in known]
            if orphan:
                problems.append(
                    Problem(
                        "units",
                        "unknown_grid",
                        f"{len(orphan)} units are in no grid of the grids layer "
                        f"({_named(orphan)}); use the layers of one plan",
                        tuple(orphan),
                    )
                )
            u["grid_code"] = first
            for name in ("households", "population", "party_members"):
                if name in units_in.columns:
                    num, unreadable = _numeric(units_in[name].reset_index(drop=True))
                    bad = unreadable | (num < 0).to_numpy()
                    if bad.any():
                        ids = [str(uids[i]) for i in np.flatnonzero(bad)]
                        problems.append(
                            Problem(
                                "units",
                                name,
                                f"{len(ids)} units have a negative or non-numeric {name} "
                                f"({_named(ids)}); leave it blank when unknown",
                                tuple(ids),
                            )
                        )
                    u[name] = num.where(num >= 0).to_numpy()
                else:
                    u[name] = np.nan
            u["households"] = u["households"].fillna(0)
            comp = _column_or_index(units_in, "compound_id")
            u["compound_id"] = _ids(comp) if comp is not None else [None] * len(u)
            if "n_parts" in units_in.columns:
                num, _ = _numeric(units_in["n_parts"].reset_index(drop=True))
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
        cid = _column_or_index(comp_in, "compound_id")
        cids = _ids(cid) if cid is not None else _ids(comp_in.index)
        compounds = gpd.GeoSeries(
            cgeom.to_numpy(), index=pd.Index(cids, dtype=object, name="compound_id"), crs=crs
        )
        compounds = compounds[compounds.index.notna() & ~compounds.index.duplicated()]
    return _Frames(
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
    )


def _named(items: Sequence[object]) -> str:
    """``a, b, c and 7 more`` for a message."""
    return describe_rows(list(items))


def _diag(level: str, check: str, ref: object, message: str, fix: str = "") -> dict[str, object]:
    return {"level": level, "check": check, "ref": ref, "message": message, "fix": fix}


# ---------------------------------------------------------------------------------------------
# posts
# ---------------------------------------------------------------------------------------------


def _residents(frames: _Frames, rules: StaffingRules) -> tuple[np.ndarray, np.ndarray]:
    """Residents per grid and whether any of them were estimated.

    With units: residents of buildings wholly inside the grid are counted where given; every
    other household of the grid (unknown population, or a building split between grids) is
    estimated as ``household_size`` residents. Without units: the grid's ``population``,
    estimated where missing.
    """
    g = frames.grids
    hh = g["households"].to_numpy(dtype=float)
    # units are the source of truth whenever they carry a population column, even a blank one
    if frames.units is not None and "population" in frames.unit_columns:
        u = frames.units
        whole = (u["n_parts"] <= 1) & u["population"].notna()
        counted = u[whole].groupby("grid_code")
        known_pop = g["grid_code"].map(counted["population"].sum()).fillna(0.0).to_numpy()
        known_hh = g["grid_code"].map(counted["households"].sum()).fillna(0.0).to_numpy()
        rest = np.clip(hh - known_hh, 0, None)
        return known_pop + rest * rules.household_size, rest > 0
    pop = g["population"].to_numpy(dtype=float)
    missing = np.isnan(pop)
    estimated = missing | g["population_estimated"].to_numpy(dtype=bool)
    return np.where(missing, hh * rules.household_size, pop), estimated & (hh > 0)


def _grid_table(frames: _Frames, rules: StaffingRules) -> pd.DataFrame:
    g = frames.grids
    res = (g["kind"] == "residential").to_numpy()
    staffed = res | rules.staff_dedicated_grids
    residents, estimated = _residents(frames, rules)
    out = pd.DataFrame(
        {
            "grid_code": g["grid_code"].to_numpy(dtype=object),
            "community_id": g["community_id"].to_numpy(dtype=object),
            "community_name": g["community_id"].map(frames.community_names).to_numpy(dtype=object),
            "street_id": g["street_id"].to_numpy(dtype=object),
            "kind": g["kind"].to_numpy(dtype=object),
            "households": g["households"].to_numpy(dtype=np.int64),
            "residents": residents,
            "residents_estimated": estimated,
            "n_microgrids": g["n_microgrids"].to_numpy(dtype=np.int64),
            "grid_head": np.where(staffed, rules.grid_heads_per_grid, 0),
            "fulltime_worker": np.where(staffed, rules.fulltime_workers_per_grid, 0),
            "parttime_workers": g["n_microgrids"].to_numpy(dtype=np.int64)
            * rules.parttime_workers_per_microgrid,
            "dedicated_contact": np.where(res, 0, rules.dedicated_contacts_per_dedicated_grid),
        }
    )
    for c in ("grid_head", "fulltime_worker", "parttime_workers", "dedicated_contact"):
        out[c] = out[c].astype(np.int64)
    out["posts"] = out[
        ["grid_head", "fulltime_worker", "parttime_workers", "dedicated_contact"]
    ].sum(axis=1)
    return out


_POST_COLUMNS = ["grid_head", "fulltime_worker", "parttime_workers", "dedicated_contact", "posts"]
_FILLED_COLUMNS = [
    "grid_head_filled",
    "fulltime_worker_filled",
    "grid_head_gap",
    "fulltime_worker_gap",
    "gap",
]


def _rollup(grid_table: pd.DataFrame, keys: list[str], *, filled: bool) -> pd.DataFrame:
    t = grid_table.assign(
        dedicated_grids=(grid_table["kind"] == "dedicated").astype(np.int64),
        grids=1,
    )
    sums = {
        "grids": "sum",
        "dedicated_grids": "sum",
        "n_microgrids": "sum",
        "households": "sum",
        "residents": "sum",
        "residents_estimated": "any",
        **{c: "sum" for c in _POST_COLUMNS},
    }
    if filled:
        sums.update({c: "sum" for c in _FILLED_COLUMNS})
    return t.groupby(keys, sort=True, dropna=False).agg(sums).reset_index()


def _community_table(
    grid_table: pd.DataFrame, frames: _Frames, rules: StaffingRules, *, filled: bool
) -> pd.DataFrame:
    c = _rollup(grid_table, ["community_id"], filled=filled)
    first = grid_table.groupby("community_id", sort=False).agg(
        street_id=("street_id", "first"),
    )
    c["street_id"] = c["community_id"].map(first["street_id"])
    code = frames.grids.groupby("community_id")["community_code"].first()
    c["community_code"] = c["community_id"].map(code)
    c["community_name"] = c["community_id"].map(frames.community_names)
    c["community_workers"] = [
        community_workers_needed(r, rules.community_workers_per_10k) for r in c["residents"]
    ]
    c["community_workers"] = c["community_workers"].astype(np.int64)
    c["posts"] = c["posts"] + c["community_workers"]
    head = ["community_id", "community_code", "community_name", "street_id"]
    rest = [x for x in c.columns if x not in head and x not in ("posts", "community_workers")]
    cols = head + rest[: rest.index("dedicated_contact") + 1] + ["community_workers", "posts"]
    cols += [x for x in rest if x not in cols]
    return c[cols]


def _street_table(communities: pd.DataFrame, frames: _Frames, *, filled: bool) -> pd.DataFrame:
    t = communities.assign(communities=1)
    sums: dict[str, str] = {
        "communities": "sum",
        "grids": "sum",
        "dedicated_grids": "sum",
        "n_microgrids": "sum",
        "households": "sum",
        "residents": "sum",
        "residents_estimated": "any",
        "grid_head": "sum",
        "fulltime_worker": "sum",
        "parttime_workers": "sum",
        "dedicated_contact": "sum",
        "community_workers": "sum",
        "posts": "sum",
    }
    if filled:
        sums.update({c: "sum" for c in _FILLED_COLUMNS})
    s = t.groupby("street_id", sort=True, dropna=False).agg(sums).reset_index()
    s.insert(1, "street_name", s["street_id"].map(frames.street_names))
    return s


def _post_diagnostics(
    grid_table: pd.DataFrame, communities: pd.DataFrame, rules: StaffingRules
) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    est = grid_table[grid_table["residents_estimated"]]
    if len(est):
        codes = est["grid_code"].tolist()
        out.append(
            _diag(
                "grid",
                "residents_estimated",
                _named(codes),
                f"{len(codes)} grids have households without a population; their residents are "
                f"estimated as households × {rules.household_size}",
                "give `population` per unit for counted residents, or set household_size",
            )
        )
    if not rules.staff_dedicated_grids:
        lived = grid_table[(grid_table["kind"] == "dedicated") & (grid_table["households"] > 0)]
        for row in lived.itertuples():
            out.append(
                _diag(
                    "grid",
                    "dedicated_with_households",
                    row.grid_code,
                    f"dedicated grid {row.grid_code} holds {row.households} households but gets "
                    "only a dedicated contact, no grid head or full-time grid worker",
                    "set staff_dedicated_grids = true, or plan those homes as a residential grid",
                )
            )
    short = communities[communities["community_workers"] < communities["grid_head"]]
    for row in short.itertuples():
        out.append(
            _diag(
                "community",
                "grid_heads_beyond_workers",
                row.community_id,
                f"community {row.community_id} needs {row.grid_head} grid heads but the "
                f"resident ratio gives only {row.community_workers} community workers",
                "fill the other grid-head posts with resident party members, retired cadres, "
                "property staff or building heads",
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# party organisation
# ---------------------------------------------------------------------------------------------


def org_unit_graph(geoms: gpd.GeoSeries, *, tolerance_m: float = 50.0) -> nx.Graph:
    """Neighbour graph of compounds/grids: an edge where two geometries touch or lie within
    ``tolerance_m`` (in the GeoSeries' units, metres in a projected CRS).

    Nodes are the index labels; missing or empty geometries become isolated nodes.
    """
    graph = nx.Graph()
    graph.add_nodes_from(geoms.index)
    arr = geoms.to_numpy()
    ok = ~shapely.is_missing(arr)
    ok[ok] = ~shapely.is_empty(arr[ok])
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return graph
    tree = shapely.STRtree(arr[idx])
    if tolerance_m > 0:
        i, j = tree.query(arr[idx], predicate="dwithin", distance=tolerance_m)
    else:
        i, j = tree.query(arr[idx], predicate="intersects")
    keep = i < j
    labels = geoms.index.to_numpy()
    graph.add_edges_from(
        zip(labels[idx[i[keep]]].tolist(), labels[idx[j[keep]]].tolist(), strict=True)
    )
    return graph


def group_joint_branches(
    graph: nx.Graph,
    members: Mapping[Hashable, float],
    *,
    min_members: int = 3,
    max_units: int = 5,
    attach: bool = True,
) -> list[list[Hashable]]:
    """Group compounds/grids into party branches.

    A node with ``members >= min_members`` is a branch of its own. The others are grouped
    into connected joint branches of at most ``max_units`` nodes that reach ``min_members``
    where possible:

    1. grow groups inside each connected set of small nodes, seeding at the periphery (the
       node with the fewest free small neighbours) so no node is stranded needlessly, and
       adding the neighbour that reaches the minimum with the least to spare, else the
       largest neighbour;
    2. merge adjacent groups that are both short when together they fit in ``max_units``;
    3. with ``attach``, join a group still short to the adjacent branch (own or joint) with
       room and the fewest members.

    Returns
    -------
    list of list
        Every node of ``graph`` in exactly one group; each group is connected in ``graph``.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.path_graph(["a", "b", "c", "d"])
    >>> group_joint_branches(g, {"a": 5, "b": 1, "c": 1, "d": 1})
    [['a'], ['b', 'c', 'd']]
    """
    m = {n: float(members[n]) for n in graph.nodes}
    key = {n: (str(type(n).__name__), str(n)) for n in graph.nodes}

    def order(n: Hashable) -> tuple[str, str]:
        return key[n]

    big = sorted((n for n in graph.nodes if m[n] >= min_members), key=order)
    small = sorted((n for n in graph.nodes if m[n] < min_members), key=order)
    sub = graph.subgraph(small)
    groups: list[list[Hashable]] = []
    free_deg = {n: sub.degree(n) for n in small}
    free = set(small)

    def take(n: Hashable) -> None:
        free.discard(n)
        for x in sub.neighbors(n):
            if x in free:
                free_deg[x] -= 1
                heapq.heappush(heap, (free_deg[x], order(x), x))

    # seeds in order of fewest free small neighbours (lazy heap: stale entries are skipped)
    heap = [(free_deg[n], order(n), n) for n in small]
    heapq.heapify(heap)
    while heap:
        d, _, seed = heapq.heappop(heap)
        if seed not in free or d != free_deg[seed]:
            continue
        group = [seed]
        take(seed)
        acc = m[seed]
        while acc < min_members and len(group) < max_units:
            cands = {x for n in group for x in sub.neighbors(n) if x in free}
            if not cands:
                break
            reach = [c for c in cands if acc + m[c] >= min_members]
            if reach:
                pick = min(reach, key=lambda c: (m[c], free_deg[c], order(c)))
            else:
                pick = min(cands, key=lambda c: (-m[c], free_deg[c], order(c)))
            group.append(pick)
            take(pick)
            acc += m[pick]
        groups.append(group)

    groups.extend([n] for n in big)
    # repairs below look groups up by node, so each step is local (no all-pairs scans)
    by_id: dict[int, list[Hashable]] = dict(enumerate(groups))
    group_of = {n: gid for gid, grp in by_id.items() for n in grp}
    total = {gid: sum(m[n] for n in grp) for gid, grp in by_id.items()}

    def first(gid: int) -> tuple[str, str]:
        return min(order(n) for n in by_id[gid])

    def neighbours(gid: int) -> set[int]:
        return {group_of[x] for n in by_id[gid] for x in graph.neighbors(n)} - {gid}

    def merge(src: int, dst: int) -> None:
        for n in by_id[src]:
            group_of[n] = dst
        by_id[dst] = by_id[dst] + by_id.pop(src)
        total[dst] += total.pop(src)

    def short_groups() -> list[int]:
        return sorted(
            (gid for gid in by_id if total[gid] < min_members),
            key=lambda gid: (total[gid], first(gid)),
        )

    # 2. short + short, when together they fit; prefer a partner that completes the branch
    changed = True
    while changed:
        changed = False
        for i in short_groups():
            if i not in by_id or total[i] >= min_members:
                continue
            options = [
                j
                for j in neighbours(i)
                if total[j] < min_members and len(by_id[j]) + len(by_id[i]) <= max_units
            ]
            if options:
                j = min(
                    options,
                    key=lambda j: (
                        total[i] + total[j] < min_members,
                        len(by_id[j]),
                        total[j],
                        first(j),
                    ),
                )
                merge(i, j)
                changed = True
    # 3. attach what is still short to the adjacent branch with room and the fewest members
    changed = attach
    while changed:
        changed = False
        for i in short_groups():
            options = [
                j
                for j in neighbours(i)
                if total[j] >= min_members and len(by_id[j]) + len(by_id[i]) <= max_units
            ]
            if options:
                j = min(options, key=lambda j: (total[j], len(by_id[j]), first(j)))
                merge(i, j)
                changed = True
    out = [sorted(grp, key=order) for grp in by_id.values()]
    out.sort(key=lambda grp: order(grp[0]))
    return out


@dataclass
class _OrgUnits:
    table: pd.DataFrame  # index org key; org_unit, org_kind, community_id, grid_codes, ...
    geoms: gpd.GeoSeries


def _org_units(frames: _Frames, rules: StaffingRules) -> tuple[_OrgUnits | None, list[dict]]:
    """Compounds (or grids) with their party members, households and geometry."""
    diags: list[dict[str, object]] = []
    g = frames.grids
    comm_of = dict(zip(g["grid_code"], g["community_id"], strict=True))
    u = frames.units
    if u is not None and u["party_members"].notna().any():
        u = u.copy()
        has_comp = u["compound_id"].notna().to_numpy()
        u["org_kind"] = np.where(has_comp, "compound", "grid")
        u["org_unit"] = np.where(has_comp, u["compound_id"], u["grid_code"])
        u["key"] = [f"{k}:{o}" for k, o in zip(u["org_kind"], u["org_unit"], strict=True)]
        u["community_id"] = u["grid_code"].map(comm_of)
        u["group_building"] = (u["party_members"] >= rules.party_group_min_members).astype(int)
        grouped = u.groupby("key", sort=True)
        # built-in aggregations only: a city has 10^5 units in 10^4 compounds
        t = grouped.agg(
            org_unit=("org_unit", "first"),
            org_kind=("org_kind", "first"),
            community_id=("community_id", "first"),
            households=("households", "sum"),
            n_buildings=("party_members", "size"),
            building_groups=("group_building", "sum"),
        )
        t["members"] = grouped["party_members"].sum(min_count=1)
        t["members_complete"] = u["party_members"].notna().groupby(u["key"]).all()
        pairs = u[["key", "grid_code"]].drop_duplicates().sort_values(["key", "grid_code"])
        t["grid_codes"] = pairs.groupby("key")["grid_code"].first()
        # most compounds lie in one grid: join codes only where there are several
        multi = pairs[pairs.duplicated("key", keep=False)]
        if len(multi):
            joined = multi.groupby("key")["grid_code"].agg(";".join)
            t.loc[joined.index, "grid_codes"] = joined
        # geometry: the compound's polygon if given; a grid without compounds is its polygon;
        # otherwise the union of the units'
        gpoly = dict(zip(g["grid_code"], g.geometry, strict=True))
        grids_with_compounds = set(u.loc[has_comp, "grid_code"])
        positions = grouped.indices
        unit_geoms = u.geometry.to_numpy()
        geoms = []
        for k, kind, org in zip(t.index, t["org_kind"], t["org_unit"], strict=True):
            geom = None
            if kind == "compound" and frames.compounds is not None:
                geom = frames.compounds.get(org)
            elif kind == "grid" and org not in grids_with_compounds:
                geom = gpoly.get(org)
            if geom is None or shapely.is_missing(geom) or shapely.is_empty(geom):
                own = unit_geoms[positions[k]]
                own = own[~shapely.is_missing(own)]
                geom = shapely.union_all(own) if len(own) else None
            geoms.append(geom)
        geo = gpd.GeoSeries(geoms, index=t.index, crs=frames.crs)
    elif g["party_members"].notna().any():
        t = pd.DataFrame(
            {
                "org_unit": g["grid_code"].to_numpy(dtype=object),
                "org_kind": "grid",
                "community_id": g["community_id"].to_numpy(dtype=object),
                "households": g["households"].to_numpy(),
                "members": g["party_members"].to_numpy(dtype=float),
                "members_complete": g["party_members"].notna().to_numpy(),
                "n_buildings": np.nan,
                "building_groups": np.nan,
                "grid_codes": g["grid_code"].to_numpy(dtype=object),
            },
            index=pd.Index([f"grid:{c}" for c in g["grid_code"]], dtype=object),
        )
        geo = gpd.GeoSeries(g.geometry.to_numpy(), index=t.index, crs=frames.crs)
        diags.append(
            _diag(
                "party",
                "per_grid",
                "",
                "party members are known per grid only; branches are planned per grid and "
                "building party groups are not counted",
                "give `party_members` per unit (and `compound_id`) to plan per compound",
            )
        )
    else:
        diags.append(
            _diag(
                "party",
                "no_party_members",
                "",
                "no unit or grid gives `party_members`; no party organisation is planned",
                "add a `party_members` column to the units (blank where unknown)",
            )
        )
        return None, diags

    unknown = t["members"].isna() & (t["households"] > 0)
    if unknown.any():
        for comm, part in t[unknown].groupby("community_id"):
            ids = part["org_unit"].tolist()
            diags.append(
                _diag(
                    "party",
                    "members_unknown",
                    comm,
                    f"{len(ids)} compounds/grids in community {comm} have no party-member count "
                    f"({_named(ids)}); they are left out of the branches",
                    "fill `party_members` for their units (0 where there are none)",
                )
            )
    partial = t["members"].notna() & ~t["members_complete"].astype(bool)
    if partial.any():
        ids = t.loc[partial, "org_unit"].tolist()
        diags.append(
            _diag(
                "party",
                "members_partial",
                _named(ids),
                f"{len(ids)} compounds/grids have party members counted for some units only; "
                "their totals are lower bounds",
                "fill `party_members` for every unit (0 where there are none)",
            )
        )
    keep = t["members"].notna()
    return _OrgUnits(t[keep], geo[keep]), diags


def _party(frames: _Frames, rules: StaffingRules) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    org, diags = _org_units(frames, rules)
    branch_cols = [
        "branch_id",
        "community_id",
        "type",
        "org_kind",
        "org_units",
        "n_units",
        "grid_codes",
        "households",
        "members",
        "meets_min",
        "needs_committee",
        "should_split",
        "building_groups",
        "central_households",
    ]
    unit_cols = [
        "org_unit",
        "org_kind",
        "community_id",
        "grid_codes",
        "households",
        "members",
        "members_complete",
        "n_buildings",
        "building_groups",
        "branch_id",
    ]
    if org is None or org.table.empty:
        return pd.DataFrame(columns=branch_cols), pd.DataFrame(columns=unit_cols), diags
    t = org.table
    graph = org_unit_graph(org.geoms, tolerance_m=rules.adjacency_m) if frames.crs else nx.Graph()
    graph.add_nodes_from(t.index)
    comm = t["community_id"].to_dict()
    # branches sit under one community's party organisation: no joint branch across communities
    graph.remove_edges_from([(a, b) for a, b in graph.edges if comm[a] != comm[b]])
    groups = group_joint_branches(
        graph,
        t["members"].to_dict(),
        min_members=rules.branch_min_members,
        max_units=rules.joint_branch_max_units,
        attach=rules.attach_small_groups,
    )
    org_name = t["org_unit"].to_dict()
    groups.sort(key=lambda grp: (str(comm[grp[0]]), str(org_name[grp[0]])))
    width = max(3, len(str(len(groups))))
    rows = []
    few: list[str] = []
    branch_of: dict[Hashable, str] = {}
    cols = ["org_unit", "org_kind", "members", "households", "grid_codes", "building_groups"]
    rec = t[cols].to_dict("index")
    for i, grp in enumerate(groups, start=1):
        bid = f"B{i:0{width}d}"
        part = [rec[n] for n in grp]
        for n in grp:
            branch_of[n] = bid
        members = float(sum(r["members"] for r in part))
        households = int(sum(r["households"] for r in part))
        kinds = sorted({r["org_kind"] for r in part})
        groups_known = [r["building_groups"] for r in part if not pd.isna(r["building_groups"])]
        need_central = math.ceil(households / rules.central_household_span) if households else 0
        central = min(need_central, int(members))
        org_names = [str(r["org_unit"]) for r in part]
        rows.append(
            {
                "branch_id": bid,
                "community_id": comm[grp[0]],
                "type": "single" if len(grp) == 1 else "joint",
                "org_kind": kinds[0] if len(kinds) == 1 else "mixed",
                "org_units": ";".join(org_names),
                "n_units": len(grp),
                "grid_codes": ";".join(
                    sorted({c for r in part for c in str(r["grid_codes"]).split(";")})
                ),
                "households": households,
                "members": int(members) if members.is_integer() else members,
                "meets_min": members >= rules.branch_min_members,
                "needs_committee": members >= rules.committee_from,
                "should_split": members > rules.branch_split_over,
                "building_groups": int(sum(groups_known)) if groups_known else np.nan,
                "central_households": central,
            }
        )
        names = _named(org_names)
        if members < rules.branch_min_members:
            diags.append(
                _diag(
                    "party",
                    "below_minimum",
                    bid,
                    f"branch {bid} ({names}) has {members:g} party members, below "
                    f"{rules.branch_min_members}; no adjacent compound/grid or branch with room "
                    f"within {rules.adjacency_m:g} m",
                    "join it by hand to a nearby branch, or raise adjacency_m or "
                    "joint_branch_max_units",
                )
            )
        if members > rules.branch_split_over:
            diags.append(
                _diag(
                    "party",
                    "should_split",
                    bid,
                    f"branch {bid} ({names}) has {members:g} party members, over "
                    f"{rules.branch_split_over}",
                    "split it into branches by building or micro-grid",
                )
            )
        if need_central > central:
            few.append(bid)
    if few:
        diags.append(
            _diag(
                "party",
                "few_central_households",
                _named(few),
                f"{len(few)} branches have fewer party members than the central households "
                f"their households need at {rules.central_household_span} households each; "
                "every member's household is counted as a central household",
                "let each central household keep in touch with more households "
                "(central_household_span)",
            )
        )
    branches = pd.DataFrame(rows, columns=branch_cols)
    units = t.assign(branch_id=[branch_of[k] for k in t.index])[unit_cols].reset_index(drop=True)
    units["members_complete"] = units["members_complete"].astype(bool)
    return branches, units, diags


# ---------------------------------------------------------------------------------------------
# roster and assignment
# ---------------------------------------------------------------------------------------------

_ROSTER_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "姓名", "名字"),
    "role": ("role", "post", "岗位", "角色", "职务"),
    "phone": ("phone", "mobile", "tel", "telephone", "电话", "手机", "手机号", "联系电话"),
    "unit_id": ("unit_id", "楼栋编号", "楼栋", "building_id"),
    "compound_id": ("compound_id", "小区编号", "小区"),
    "community_id": ("community_id", "社区编号", "社区"),
    "capacity": ("capacity", "兼岗数", "可兼岗位数", "岗位数"),
}


def _read_roster_table(source: Any) -> tuple[pd.DataFrame, str]:
    """The roster as read (text kept as text), and the name its problems are reported under."""
    if isinstance(source, pd.DataFrame):
        return source.copy(), "roster"
    p = Path(source)
    if p.suffix.lower() in (".csv", ".txt", ".xlsx", ".xlsm"):
        return read_table(p, dtype=object), p.name
    # GeoPackage / GeoJSON / Shapefile of home points
    return read_layer(p), p.name


def read_roster(source: str | Path | pd.DataFrame, *, crs: Any = "EPSG:4326") -> pd.DataFrame:
    """Read and check a roster of named people.

    Parameters
    ----------
    source
        CSV/XLSX (or a point layer, or a DataFrame) with columns ``name``, ``role``
        (``grid_head``/网格长 or ``fulltime_worker``/专职网格员), ``phone``, the home as
        ``lon``/``lat`` (or 经度/纬度, or point geometry) or ``unit_id`` or ``compound_id``,
        optionally ``capacity`` (posts the person can hold, default 1) and ``community_id``
        (the person serves only that community). Chinese headers (姓名, 岗位, 电话, 小区编号,
        兼岗数 ...) are understood.
    crs
        CRS of ``lon``/``lat`` (default WGS84).

    Returns
    -------
    DataFrame
        ``row`` (as a spreadsheet numbers it: the header is row 1), ``name``, ``role``, ``phone``,
        ``lon``, ``lat``, ``unit_id``, ``compound_id``, ``community_id``, ``capacity``,
        and a point ``geometry`` in ``crs`` where coordinates were given.

    Raises
    ------
    ValidationError
        Listing every bad row: missing names or roles, unknown roles, bad capacity or
        coordinates, rows without a home.
    """
    table, label = _read_roster_table(source)
    out, problems = _check_roster(table, label, crs=crs)
    if problems:
        raise ValidationError(problems)
    return out


def _check_roster(
    table: pd.DataFrame, label: str, *, crs: Any
) -> tuple[pd.DataFrame, list[Problem]]:
    problems: list[Problem] = []
    cols = [str(c) for c in table.columns]
    table = table.copy()
    table.columns = cols
    table = table.reset_index(drop=True)
    found = {k: find_column(cols, v) for k, v in _ROSTER_ALIASES.items()}
    xcol = find_column(cols, X_NAMES)
    ycol = find_column(cols, Y_NAMES)
    geom = table.geometry if isinstance(table, gpd.GeoDataFrame) else None
    missing = [k for k in ("name", "role") if found[k] is None]
    if missing:
        problems.append(
            Problem(
                label,
                "missing_column",
                f"the roster has no {' or '.join(f'`{m}`' for m in missing)} column (columns: "
                f"{', '.join(cols)}); expected name/姓名 and role/岗位",
            )
        )
    has_home = (xcol and ycol) or geom is not None or found["unit_id"] or found["compound_id"]
    if not has_home:
        problems.append(
            Problem(
                label,
                "missing_column",
                f"the roster says nowhere where people live (columns: {', '.join(cols)}); "
                "add lon/lat (经度/纬度), unit_id or compound_id",
            )
        )
    if problems:
        return pd.DataFrame(), problems
    n = len(table)
    # row numbers as a spreadsheet shows them: the header is row 1
    row_no = np.arange(2, n + 2)

    def text(col: str | None) -> list[str | None]:
        return _ids(table[col]) if col else [None] * n

    names = text(found["name"])

    def who(i: int) -> str:
        return f"row {row_no[i]}" + (f" ({names[i]})" if names[i] else "")

    bad = [who(i) for i in range(n) if not names[i]]
    if bad:
        problems.append(Problem(label, "name", f"{len(bad)} rows have no name ({_named(bad)})"))
    lookup = {alias.lower(): role for role, aliases in ROLES.items() for alias in aliases}
    roles: list[str | None] = []
    bad = []
    for i, r in enumerate(text(found["role"])):
        role = lookup.get(r.strip().lower()) if r else None
        roles.append(role)
        if role is None:
            bad.append(f"{who(i)}: {r!r}")
    if bad:
        problems.append(
            Problem(
                label,
                "role",
                f"{len(bad)} rows have a missing or unknown role ({_named(bad)}); "
                "expected grid_head (网格长) or fulltime_worker (专职网格员)",
            )
        )
    cap = np.ones(n, dtype=np.int64)
    if found["capacity"]:
        num, unreadable = _numeric(table[found["capacity"]])
        vals = num.to_numpy()
        ok = np.isnan(vals) | ((vals >= 1) & (np.mod(vals, 1) == 0))
        bad = [who(int(i)) for i in np.flatnonzero(unreadable | ~ok)]
        if bad:
            problems.append(
                Problem(
                    label,
                    "capacity",
                    f"{len(bad)} rows have a capacity that is not a whole number >= 1 "
                    f"({_named(bad)}); leave it blank for 1",
                )
            )
        cap = np.where(np.isnan(vals) | ~ok, 1, vals).astype(np.int64)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if xcol and ycol:
        x, xbad = _numeric(table[xcol])
        y, ybad = _numeric(table[ycol])
        lon, lat = x.to_numpy(dtype=float, copy=True), y.to_numpy(dtype=float, copy=True)
        if pyproj.CRS.from_user_input(crs).is_geographic:
            xbad = xbad | (np.abs(np.nan_to_num(lon)) > 180)
            ybad = ybad | (np.abs(np.nan_to_num(lat)) > 90)
        half = np.isnan(lon) ^ np.isnan(lat)
        bad = [who(int(i)) for i in np.flatnonzero(xbad | ybad | half)]
        if bad:
            problems.append(
                Problem(
                    label,
                    "coordinates",
                    f"{len(bad)} rows have unusable coordinates ({_named(bad)}); "
                    f"expected numbers in {xcol}/{ycol} (longitude -180..180, latitude -90..90)",
                )
            )
            both = xbad | ybad | half
            lon[both] = np.nan
            lat[both] = np.nan
    points = np.full(n, None, dtype=object)
    ok = ~np.isnan(lon) & ~np.isnan(lat)
    points[ok] = shapely.points(lon[ok], lat[ok])
    point_crs = crs
    if geom is not None:
        use = ~ok & ~shapely.is_missing(geom.to_numpy())
        pts = shapely.point_on_surface(geom.to_numpy()[use])
        if geom.crs is not None and use.any():
            pts = gpd.GeoSeries(pts, crs=geom.crs).to_crs(crs).to_numpy()
        points[use] = pts
    unit_ids = text(found["unit_id"])
    compound_ids = text(found["compound_id"])
    nohome = [
        who(i)
        for i in range(n)
        if points[i] is None and unit_ids[i] is None and compound_ids[i] is None
    ]
    if nohome:
        problems.append(
            Problem(
                label,
                "home",
                f"{len(nohome)} rows say nowhere where the person lives ({_named(nohome)}); "
                "give lon/lat, unit_id or compound_id",
            )
        )
    obj = {
        "name": names,
        "role": roles,
        "phone": text(found["phone"]),
        "unit_id": unit_ids,
        "compound_id": compound_ids,
        "community_id": text(found["community_id"]),
    }
    out = gpd.GeoDataFrame(
        {
            "row": row_no,
            **{k: pd.Series(v, dtype=object) for k, v in obj.items()},
            "lon": lon,
            "lat": lat,
            "capacity": cap,
        },
        geometry=list(points),
        crs=point_crs,
    )
    return out, problems


def assign_min_cost(
    distance: np.ndarray,
    inside: np.ndarray,
    *,
    capacity: Sequence[int] | np.ndarray | None = None,
    allowed: np.ndarray | None = None,
) -> list[tuple[int, int]]:
    """Optimal assignment of people (rows) to posts (columns).

    Lexicographic objective, solved as one min-cost assignment
    (:func:`scipy.optimize.linear_sum_assignment`) with each person expanded into
    ``capacity`` copies: fill as many posts as allowed pairs permit; among those, seat as many
    people as possible in the grid they live in (``inside``); among those, the least total
    ``distance``. The penalties are scaled so that no amount of distance outweighs one more
    resident post-holder, and nothing outweighs one more filled post.

    Parameters
    ----------
    distance
        ``(n_people, n_posts)`` distances (metres); NaN counts as the largest distance.
    inside
        ``(n_people, n_posts)`` booleans: the person lives in the post's grid.
    capacity
        Posts each person can hold (default 1).
    allowed
        ``(n_people, n_posts)`` booleans; pairs not allowed are never used.

    Returns
    -------
    list of (person, post)
        Sorted pairs of row and column indices; each post at most once, each person at most
        ``capacity`` times.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([[0.0, 900.0], [100.0, 50.0]])
    >>> assign_min_cost(d, np.array([[True, False], [False, False]]))
    [(0, 0), (1, 1)]
    """
    d = np.asarray(distance, dtype=float)
    if d.ndim != 2:
        raise ValueError(f"`distance` must be 2-D (people x posts), got shape {d.shape}")
    n_people, n_posts = d.shape
    ins = np.asarray(inside, dtype=bool)
    ok = np.ones_like(ins) if allowed is None else np.asarray(allowed, dtype=bool)
    if ins.shape != d.shape or ok.shape != d.shape:
        raise ValueError("`inside` and `allowed` must have the shape of `distance`")
    cap = np.ones(n_people, dtype=np.int64) if capacity is None else np.asarray(capacity)
    if len(cap) != n_people or (cap < 0).any():
        raise ValueError("`capacity` needs one count >= 0 per person")
    rows = np.repeat(np.arange(n_people), cap.astype(np.int64))
    if rows.size == 0 or n_posts == 0:
        return []
    finite = d[np.isfinite(d)]
    dmax = float(np.abs(finite).max()) if finite.size else 0.0
    dd = np.where(np.isfinite(d), np.abs(d), dmax)
    m = min(rows.size, n_posts)
    outside = (dmax + 1.0) * (m + 1)  # more than any sum of m distances
    forbidden = (outside + dmax + 1.0) * (m + 1)  # more than any sum of m allowed costs
    cost = dd[rows] + np.where(ins[rows], 0.0, outside)
    cost[~ok[rows]] = forbidden
    r, c = linear_sum_assignment(cost)
    keep = ok[rows[r], c]
    return sorted((int(rows[a]), int(b)) for a, b in zip(r[keep], c[keep], strict=True))


def _homes(
    roster: gpd.GeoDataFrame, frames: _Frames, label: str
) -> tuple[np.ndarray, list[set[str]], list[str], list[Problem]]:
    """Home point (working CRS), the grids the home lies in, and how the home was given."""
    problems: list[Problem] = []
    n = len(roster)
    pts = np.full(n, None, dtype=object)
    in_grids: list[set[str]] = [set() for _ in range(n)]
    how = [""] * n
    g = frames.grids
    u = frames.units
    # look up only the units and compounds the roster names
    unit_grid = u["grid_code"].to_dict() if u is not None else {}
    unit_pt: dict[str, Any] = {}
    wanted = [x for x in roster["unit_id"] if x is not None and x in unit_grid]
    if u is not None and wanted and frames.crs is not None:
        arr = u.geometry.loc[list(dict.fromkeys(wanted))]
        arr = arr[arr.notna()]
        unit_pt = dict(
            zip(arr.index, shapely.point_on_surface(arr.to_numpy()).tolist(), strict=True)
        )
    comp_grids: dict[str, set[str]] = {}
    comp_pt: dict[str, Any] = {}
    wanted_comps = {x for x in roster["compound_id"] if x is not None}
    if u is not None and wanted_comps:
        in_comps = u[u["compound_id"].isin(wanted_comps)]
        for cid, part in in_comps.groupby("compound_id"):
            comp_grids[str(cid)] = set(part["grid_code"])
            arr = part.geometry.dropna().to_numpy()
            if len(arr):
                comp_pt[str(cid)] = shapely.point_on_surface(shapely.union_all(arr))
    if frames.compounds is not None and wanted_comps:
        for cid, geom in frames.compounds[frames.compounds.index.isin(wanted_comps)].items():
            if geom is not None and not shapely.is_empty(geom):
                comp_pt[str(cid)] = shapely.point_on_surface(geom)
                comp_grids.setdefault(str(cid), set())
    coords = roster.geometry
    if frames.crs is not None and coords.crs is not None and coords.notna().any():
        coords = coords.to_crs(frames.crs)
    unknown_units, unknown_comps, no_crs = [], [], []
    for i, row in enumerate(roster.itertuples()):
        who = f"row {row.row} ({row.name})"
        if row.unit_id is not None:
            if row.unit_id not in unit_grid:
                unknown_units.append(f"{who}: {row.unit_id}")
                continue
            in_grids[i] = {unit_grid[row.unit_id]}
            pts[i] = unit_pt.get(row.unit_id)
            how[i] = f"unit {row.unit_id}"
        elif row.compound_id is not None:
            if row.compound_id not in comp_grids:
                unknown_comps.append(f"{who}: {row.compound_id}")
                continue
            in_grids[i] = set(comp_grids[row.compound_id])
            pts[i] = comp_pt.get(row.compound_id)
            how[i] = f"compound {row.compound_id}"
        elif coords.iloc[i] is not None:
            if frames.crs is None or coords.crs is None:
                no_crs.append(who)
                continue
            pts[i] = coords.iloc[i]
            how[i] = f"{row.lon:.6f},{row.lat:.6f}" if not np.isnan(row.lon) else "point"
    if unknown_units:
        problems.append(
            Problem(
                label,
                "unknown_unit",
                f"{len(unknown_units)} rows name a unit_id that is not in the plan "
                f"({_named(unknown_units)})",
            )
        )
    if unknown_comps:
        problems.append(
            Problem(
                label,
                "unknown_compound",
                f"{len(unknown_comps)} rows name a compound_id that is not in the plan "
                f"({_named(unknown_comps)})",
            )
        )
    if no_crs:
        problems.append(
            Problem(
                label,
                "no_geometry",
                f"{len(no_crs)} rows give coordinates but the plan's grids have no geometry or "
                f"CRS to place them ({_named(no_crs)}); give unit_id or compound_id",
            )
        )
    # grids the coordinate homes lie in
    has_pt = [i for i in range(n) if pts[i] is not None and not in_grids[i]]
    if has_pt and frames.crs is not None:
        garr = g.geometry.to_numpy()
        ok = np.flatnonzero(~shapely.is_missing(garr))
        tree = shapely.STRtree(garr[ok])
        pi, gi = tree.query(np.array([pts[i] for i in has_pt]), predicate="intersects")
        codes = g["grid_code"].to_numpy()
        for a, b in zip(pi, gi, strict=True):
            in_grids[has_pt[a]].add(codes[ok[b]])
    known = set(g["community_id"])
    bad_comm = [
        f"row {row.row} ({row.name}): {row.community_id}"
        for row in roster.itertuples()
        if row.community_id is not None and row.community_id not in known
    ]
    if bad_comm:
        problems.append(
            Problem(
                label,
                "unknown_community",
                f"{len(bad_comm)} rows name a community_id that is not in the plan "
                f"({_named(bad_comm)})",
            )
        )
    return pts, in_grids, how, problems


_ROLE_POST_COLUMN = {"grid_head": "grid_head", "fulltime_worker": "fulltime_worker"}
_ROLE_ZH = {"grid_head": "网格长", "fulltime_worker": "专职网格员"}


def _assign(
    roster: gpd.GeoDataFrame,
    homes: tuple[np.ndarray, list[set[str]], list[str]],
    grid_table: pd.DataFrame,
    frames: _Frames,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    pts, in_grids, how = homes
    g = frames.grids
    centre = dict(
        zip(
            g["grid_code"],
            shapely.centroid(g.geometry.to_numpy()) if frames.crs is not None else [None] * len(g),
            strict=True,
        )
    )
    assigned_rows, unfilled_rows = [], []
    held = np.zeros(len(roster), dtype=np.int64)
    for role, col in _ROLE_POST_COLUMN.items():
        posts = [
            (r.grid_code, r.community_id, k)
            for r in grid_table.itertuples()
            for k in range(1, int(getattr(r, col)) + 1)
        ]
        people = np.flatnonzero((roster["role"] == role).to_numpy())
        dist = np.full((len(people), len(posts)), np.nan)
        inside = np.zeros((len(people), len(posts)), dtype=bool)
        allowed = np.ones((len(people), len(posts)), dtype=bool)
        if len(posts) and len(people):
            post_pts = np.array([centre[p[0]] for p in posts], dtype=object)
            post_comm = np.array([p[1] for p in posts], dtype=object)
            post_grid = np.array([p[0] for p in posts], dtype=object)
            # missing points give NaN, which assign_min_cost treats as the largest distance
            dist = shapely.distance(pts[people][:, None], post_pts[None, :]).astype(float)
            comms = roster["community_id"].to_numpy(dtype=object)
            for a, i in enumerate(people):
                inside[a] = np.isin(post_grid, list(in_grids[i]))
                if comms[i] is not None:
                    allowed[a] = post_comm == comms[i]
        caps = roster["capacity"].to_numpy()[people]
        pairs = assign_min_cost(dist, inside, capacity=caps, allowed=allowed)
        used = set()
        for a, b in pairs:
            i = people[a]
            used.add(b)
            held[i] += 1
            grid_code, community_id, seq = posts[b]
            d = dist[a, b]
            assigned_rows.append(
                {
                    "grid_code": grid_code,
                    "community_id": community_id,
                    "role": role,
                    "seq": seq,
                    "name": roster["name"].iat[i],
                    "phone": roster["phone"].iat[i],
                    "home": how[i],
                    "lives_in_grid": bool(inside[a, b]),
                    "distance_m": round(float(d), 1) if np.isfinite(d) else np.nan,
                    "roster_row": int(roster["row"].iat[i]),
                }
            )
        slots = int(caps.sum())
        for b, (grid_code, community_id, seq) in enumerate(posts):
            if b in used:
                continue
            rz = _ROLE_ZH[role]
            if slots < len(posts):
                reason = f"the roster has {slots} {role} places for {len(posts)} posts"
                reason_zh = f"名单中{rz}共可任{slots}个岗位，需配{len(posts)}个"
            else:
                reason = f"no {role} on the roster may serve community {community_id!s}"
                reason_zh = f"名单中没有可在社区{community_id!s}任职的{rz}"
            unfilled_rows.append(
                {
                    "grid_code": grid_code,
                    "community_id": community_id,
                    "role": role,
                    "seq": seq,
                    "reason": reason,
                    "reason_zh": reason_zh,
                }
            )
    assignments = pd.DataFrame(
        assigned_rows,
        columns=[
            "grid_code",
            "community_id",
            "role",
            "seq",
            "name",
            "phone",
            "home",
            "lives_in_grid",
            "distance_m",
            "roster_row",
        ],
    )
    if len(assignments):
        assignments = assignments.sort_values(["grid_code", "role", "seq"]).reset_index(drop=True)
    unfilled = pd.DataFrame(
        unfilled_rows,
        columns=["grid_code", "community_id", "role", "seq", "reason", "reason_zh"],
    )
    free = []
    n_posts = {role: int(grid_table[col].sum()) for role, col in _ROLE_POST_COLUMN.items()}
    for i in np.flatnonzero(held == 0):
        role = roster["role"].iat[i]
        comm = roster["community_id"].iat[i]
        rz = _ROLE_ZH[role]
        if n_posts[role] == 0:
            reason = f"the plan has no {role} posts"
            reason_zh = f"规划中没有{rz}岗位"
        elif (
            comm is not None
            and not (grid_table.loc[grid_table["community_id"] == comm, role]).sum()
        ):
            reason = f"community {comm} has no {role} posts"
            reason_zh = f"社区{comm}没有{rz}岗位"
        else:
            reason = f"every {role} post went to someone living in the grid or closer"
            reason_zh = f"{rz}岗位均已由住在网格内或住得更近的人担任"
        free.append(
            {
                "name": roster["name"].iat[i],
                "role": role,
                "phone": roster["phone"].iat[i],
                "home": how[i],
                "capacity": int(roster["capacity"].iat[i]),
                "roster_row": int(roster["row"].iat[i]),
                "reason": reason,
                "reason_zh": reason_zh,
            }
        )
    unassigned = pd.DataFrame(
        free,
        columns=["name", "role", "phone", "home", "capacity", "roster_row", "reason", "reason_zh"],
    )
    return assignments, unfilled, unassigned


def _fill_grid_table(grid_table: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    t = grid_table.copy()
    for role in _ROLE_POST_COLUMN:
        a = assignments[assignments["role"] == role]
        counts = a.groupby("grid_code").size()
        names = a.groupby("grid_code")["name"].agg(lambda s: "、".join(map(str, s)))
        t[f"{role}_filled"] = t["grid_code"].map(counts).fillna(0).astype(np.int64)
        t[f"{role}_gap"] = (t[role] - t[f"{role}_filled"]).clip(lower=0).astype(np.int64)
        t[f"{role}_name"] = t["grid_code"].map(names)
    t["gap"] = t["grid_head_gap"] + t["fulltime_worker_gap"]
    return t


# ---------------------------------------------------------------------------------------------
# result and export
# ---------------------------------------------------------------------------------------------


def mask_phone(value: object) -> object:
    """Mask the middle digits of a phone number: keep the first 3 and last 4 digits.

    Examples
    --------
    >>> mask_phone("13812345678"), mask_phone("0351-7654321"), mask_phone(None)
    ('138****5678', '035*-***4321', None)
    >>> mask_phone("12345")
    '***45'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return value
    s = str(value).strip()
    if s.endswith(".0") and s[:-2].isdigit():  # read from Excel as a number
        s = s[:-2]
    digits = [i for i, ch in enumerate(s) if ch.isdigit()]
    if len(digits) >= 8:
        hide = set(digits[3:-4])
    else:
        hide = set(digits[:-2])
    return "".join("*" if i in hide else ch for i, ch in enumerate(s))


def _yes_no(value: object) -> object:
    if isinstance(value, (bool, np.bool_)):
        return "是" if value else "否"
    return value


_SHEETS: dict[str, tuple[str, str]] = {
    "grids": ("网格", "Grids"),
    "communities": ("社区", "Communities"),
    "streets": ("街道", "Streets"),
    "party": ("党组织", "Party branches"),
    "party_units": ("党组织单元", "Party units"),
    "assignments": ("人员安排", "Assignments"),
    "unfilled": ("空缺岗位", "Unfilled posts"),
    "unassigned": ("未安排人员", "Unassigned people"),
    "diagnostics": ("提示", "Diagnostics"),
    "rules": ("参数", "Rules"),
}

_HEADERS: dict[str, tuple[str, str]] = {
    "grid_code": ("网格编码", "Grid code"),
    "community_id": ("社区编号", "Community"),
    "community_code": ("社区编码", "Community code"),
    "community_name": ("社区名称", "Community name"),
    "street_id": ("街道编号", "Street"),
    "street_name": ("街道名称", "Street name"),
    "kind": ("网格类型", "Kind"),
    "households": ("户数", "Households"),
    "residents": ("常住人口", "Residents"),
    "residents_estimated": ("人口为估算", "Residents estimated"),
    "n_microgrids": ("微网格数", "Micro-grids"),
    "grid_head": ("网格长", "Grid heads"),
    "fulltime_worker": ("专职网格员", "Full-time grid workers"),
    "parttime_workers": ("兼职网格员", "Part-time grid workers"),
    "dedicated_contact": ("专属网格联络员", "Dedicated-grid contacts"),
    "community_workers": ("社区工作者(按人口比例)", "Community workers (resident ratio)"),
    "posts": ("岗位合计", "Posts"),
    "grid_head_filled": ("网格长已配", "Grid heads filled"),
    "fulltime_worker_filled": ("专职网格员已配", "Full-time workers filled"),
    "grid_head_gap": ("网格长缺口", "Grid head gap"),
    "fulltime_worker_gap": ("专职网格员缺口", "Full-time worker gap"),
    "gap": ("缺口", "Gap"),
    "grid_head_name": ("网格长姓名", "Grid head"),
    "fulltime_worker_name": ("专职网格员姓名", "Full-time worker"),
    "grids": ("网格数", "Grids"),
    "dedicated_grids": ("专属网格数", "Dedicated grids"),
    "communities": ("社区数", "Communities"),
    "branch_id": ("党组织编号", "Branch"),
    "type": ("类型", "Type"),
    "org_kind": ("单元类型", "Unit kind"),
    "org_units": ("所含小区/网格", "Compounds/grids"),
    "org_unit": ("小区/网格", "Compound/grid"),
    "n_units": ("单元数", "Units"),
    "grid_codes": ("所在网格", "Grids"),
    "members": ("党员数", "Party members"),
    "members_complete": ("党员数完整", "Members complete"),
    "meets_min": ("达到建支部人数", "Meets minimum"),
    "needs_committee": ("设支部委员会", "Needs committee"),
    "should_split": ("建议拆分", "Should split"),
    "building_groups": ("楼栋党小组", "Building party groups"),
    "central_households": ("党员中心户", "Central households"),
    "n_buildings": ("楼栋数", "Buildings"),
    "role": ("岗位", "Role"),
    "seq": ("序号", "No."),
    "name": ("姓名", "Name"),
    "phone": ("电话", "Phone"),
    "home": ("住址", "Home"),
    "lives_in_grid": ("住在本网格", "Lives in grid"),
    "distance_m": ("距离(米)", "Distance (m)"),
    "roster_row": ("名单行号", "Roster row"),
    "capacity": ("可兼岗位数", "Capacity"),
    "reason": ("原因", "Reason"),
    "level": ("层级", "Level"),
    "check": ("检查项", "Check"),
    "ref": ("对象", "Object"),
    "message": ("说明", "Message"),
    "fix": ("建议", "Fix"),
    "rule": ("参数", "Rule"),
    "value": ("取值", "Value"),
    "description": ("含义", "Meaning"),
}

_VALUES_ZH: dict[str, dict[object, str]] = {
    "kind": {"residential": "住宅网格", "dedicated": "专属网格"},
    "type": {"single": "单独党支部", "joint": "联合党支部"},
    "org_kind": {"compound": "小区", "grid": "网格", "mixed": "小区和网格"},
    "role": {"grid_head": "网格长", "fulltime_worker": "专职网格员"},
    "level": {"grid": "网格", "community": "社区", "party": "党组织", "roster": "人员名单"},
}

_RULE_TEXT: dict[str, tuple[str, str]] = {
    "grid_heads_per_grid": ("每个网格网格长数", "Grid heads per residential grid"),
    "fulltime_workers_per_grid": ("每个网格专职网格员数", "Full-time workers per grid"),
    "parttime_workers_per_microgrid": (
        "每个微网格兼职网格员数",
        "Part-time workers per micro-grid",
    ),
    "dedicated_contacts_per_dedicated_grid": (
        "每个专属网格联络员数",
        "Contacts per dedicated grid",
    ),
    "staff_dedicated_grids": (
        "专属网格也配网格长和专职网格员",
        "Dedicated grids also get grid heads and full-time workers",
    ),
    "community_workers_per_10k": (
        "每万名常住人口社区工作者数",
        "Community workers per 10,000 residents",
    ),
    "household_size": ("户均人口(估算用)", "Residents per household (for estimates)"),
    "branch_min_members": ("单独建支部最少党员数", "Members for a branch of its own"),
    "joint_branch_max_units": ("联合党支部最多单元数", "Most units in a joint branch"),
    "branch_split_over": ("党员超过此数建议拆分", "Split a branch above this many members"),
    "committee_from": ("党员达到此数设支委会", "Committee from this many members"),
    "central_household_span": ("每个党员中心户联系户数", "Households per central household"),
    "party_group_min_members": (
        "楼栋党员达到此数设党小组(假设)",
        "Members for a building party group (assumption)",
    ),
    "adjacency_m": ("相邻判定距离(米)", "Neighbour distance (m)"),
    "attach_small_groups": (
        "不足人数的单元并入相邻支部",
        "Attach short groups to a neighbouring branch",
    ),
}


@dataclass(frozen=True)
class Staffing:
    """A staffing and party-organisation plan (see :func:`staffing_plan`).

    Attributes
    ----------
    grids
        One row per grid: ``grid_code``, ``community_id``, ``community_name``, ``street_id``,
        ``kind``, ``households``, ``residents``, ``residents_estimated``, ``n_microgrids``, the
        posts ``grid_head``, ``fulltime_worker``, ``parttime_workers`` (= micro-grids),
        ``dedicated_contact`` and their sum ``posts``; with a roster also ``*_filled``,
        ``*_gap``, ``gap`` and the names holding the posts.
    communities, streets
        The same rolled up, plus ``community_workers`` required by the resident ratio
        (rounded up per community; a street's figure is the sum of its communities').
        ``posts`` includes the community workers.
    party
        One row per branch: ``branch_id``, ``community_id``, ``type`` (single | joint),
        ``org_kind`` (compound | grid | mixed), ``org_units``, ``n_units``, ``grid_codes``,
        ``households``, ``members``, ``meets_min``, ``needs_committee``, ``should_split``,
        ``building_groups``, ``central_households``.
    party_units
        One row per compound/grid with known party members and its ``branch_id``.
    assignments
        Roster person → post (``grid_code``, ``role``, ``seq``, ``name``, ``phone``, ``home``,
        ``lives_in_grid``, ``distance_m`` to the grid's centre).
    unfilled, unassigned
        Posts no roster person fills, and people who got no post, each with a ``reason``
        (and ``reason_zh``, which the Chinese workbook shows).
    diagnostics
        ``level``, ``check``, ``ref``, ``message``, ``fix``: estimates, unknown party members,
        branches below the minimum or to split, and the like.
    rules
        The rules used.
    has_roster
        Whether a roster was given (the filled/gap columns exist).
    """

    grids: pd.DataFrame
    communities: pd.DataFrame
    streets: pd.DataFrame
    party: pd.DataFrame
    party_units: pd.DataFrame
    assignments: pd.DataFrame
    unfilled: pd.DataFrame
    unassigned: pd.DataFrame
    diagnostics: pd.DataFrame
    rules: StaffingRules
    has_roster: bool = False

    def rules_table(self, *, language: Language = "en") -> pd.DataFrame:
        """The rules as a ``rule``/``value``/``description`` table."""
        k = 0 if language == "zh" else 1
        return pd.DataFrame(
            [
                {
                    "rule": f.name,
                    "value": getattr(self.rules, f.name),
                    "description": _RULE_TEXT[f.name][k],
                }
                for f in fields(self.rules)
            ]
        )

    def tables(
        self, *, language: Language = "en", mask_phones: bool = True
    ) -> dict[str, pd.DataFrame]:
        """Every table ready to export: phones masked (unless ``mask_phones=False``), and with
        ``language="zh"`` Chinese headers, sheet names and values (是/否, 住宅网格, 网格长...).
        Keys are sheet names."""
        if language not in ("zh", "en"):
            raise ValidationError(
                [
                    Problem(
                        "export", "language", f"`language` must be 'zh' or 'en', got {language!r}"
                    )
                ]
            )
        k = 0 if language == "zh" else 1
        out: dict[str, pd.DataFrame] = {}
        for name in _SHEETS:
            frame = self.rules_table(language=language) if name == "rules" else getattr(self, name)
            frame = frame.copy()
            if "reason_zh" in frame.columns:
                # reasons are kept in both languages; the workbook shows one
                if language == "zh":
                    frame["reason"] = frame["reason_zh"]
                frame = frame.drop(columns=["reason_zh"])
            if "phone" in frame.columns and mask_phones:
                frame["phone"] = frame["phone"].map(mask_phone)
            if "residents" in frame.columns:
                frame["residents"] = frame["residents"].astype(float).round(1)
            if language == "zh":
                for col, mapping in _VALUES_ZH.items():
                    if col in frame.columns:
                        frame[col] = frame[col].map(lambda v, m=mapping: m.get(v, v))
                for col in frame.columns:
                    if frame[col].dtype == bool or frame[col].dtype == object:
                        frame[col] = frame[col].map(_yes_no)
            frame.columns = [_HEADERS.get(str(c), (str(c), str(c)))[k] for c in frame.columns]
            out[_SHEETS[name][k]] = frame
        return out

    def to_excel(
        self, path: str | Path, *, language: Language = "zh", mask_phones: bool = True
    ) -> Path:
        """Write one sheet per table (Chinese headers by default; ``language="en"`` for
        English). Phone numbers are masked unless ``mask_phones=False``."""
        p = Path(path)
        if p.suffix.lower() not in (".xlsx", ".xlsm"):
            raise ValidationError(
                [
                    Problem(
                        p.name,
                        "format",
                        f"cannot write {p.name!r}: expected an Excel workbook ending in .xlsx",
                    )
                ]
            )
        tables = self.tables(language=language, mask_phones=mask_phones)
        write_workbook(p, tables)
        log.info("wrote staffing workbook %s (%d sheets)", p, len(tables))
        return p


def staffing_plan(
    plan: Any,
    *,
    rules: StaffingRules | None = None,
    roster: str | Path | pd.DataFrame | None = None,
    roster_crs: Any = "EPSG:4326",
) -> Staffing:
    """Posts, party organisation and (optionally) named assignments for a grid plan.

    Parameters
    ----------
    plan
        A :class:`gridplan.Plan`; or a mapping of its frames (``grids`` required, ``units``,
        ``microgrids``, ``compounds``, ``communities``, ``streets`` used when given), e.g. the
        layers of a plan GeoPackage from :func:`read_plan_layers`; or the GeoPackage's path.
    rules
        :class:`StaffingRules` (defaults: 1 grid head and 1 full-time worker per grid, 1
        part-time worker per micro-grid, 18 community workers per 10,000 residents ...).
    roster
        Named people (CSV/XLSX path or DataFrame, see :func:`read_roster`) to assign to the
        grid-head and full-time posts.
    roster_crs
        CRS of the roster's lon/lat columns (default WGS84).

    Returns
    -------
    Staffing

    Raises
    ------
    ValidationError
        Naming every bad row of the plan's frames or of the roster.
    """
    rules = rules or StaffingRules()
    frames = _normalise(_plan_parts(plan), rules)
    diags: list[dict[str, object]] = list(frames.notes)
    grid_table = _grid_table(frames, rules)

    people: gpd.GeoDataFrame | None = None
    if roster is not None:
        table, label = _read_roster_table(roster)
        people, problems = _check_roster(table, label, crs=roster_crs)
        if people.empty and problems:
            raise ValidationError(problems)
        pts, in_grids, how, more = _homes(people, frames, label)
        if problems or more:
            raise ValidationError([*problems, *more])
        assignments, unfilled, unassigned = _assign(
            people, (pts, in_grids, how), grid_table, frames
        )
        grid_table = _fill_grid_table(grid_table, assignments)
        if len(unfilled):
            diags.append(
                _diag(
                    "roster",
                    "unfilled",
                    "",
                    f"{len(unfilled)} grid-head/full-time posts are not filled from the roster",
                    "see the unfilled sheet; add people or raise their capacity",
                )
            )
        outside = assignments[~assignments["lives_in_grid"].astype(bool)]
        if len(outside):
            diags.append(
                _diag(
                    "roster",
                    "lives_elsewhere",
                    _named(outside["grid_code"].tolist()),
                    f"{len(outside)} posts are held by people who do not live in the grid",
                    "look for residents of those grids (party members, retired cadres, "
                    "property staff, building heads)",
                )
            )
    else:
        assignments = pd.DataFrame(
            columns=["grid_code", "community_id", "role", "seq", "name", "phone", "home"]
        )
        unfilled = pd.DataFrame(
            columns=["grid_code", "community_id", "role", "seq", "reason", "reason_zh"]
        )
        unassigned = pd.DataFrame(columns=["name", "role", "phone", "home", "reason", "reason_zh"])

    filled = roster is not None
    communities = _community_table(grid_table, frames, rules, filled=filled)
    streets = _street_table(communities, frames, filled=filled)
    diags.extend(_post_diagnostics(grid_table, communities, rules))
    party, party_units, party_diags = _party(frames, rules)
    diags.extend(party_diags)
    log.info(
        "staffing: %d grids, %d posts, %d branches, %d assignments",
        len(grid_table),
        int(grid_table["posts"].sum()),
        len(party),
        len(assignments),
    )
    return Staffing(
        grids=grid_table,
        communities=communities,
        streets=streets,
        party=party,
        party_units=party_units,
        assignments=assignments,
        unfilled=unfilled,
        unassigned=unassigned,
        diagnostics=pd.DataFrame(diags, columns=DIAGNOSTIC_COLUMNS),
        rules=rules,
        has_roster=filled,
    )
