"""Rosters of named people: read (CSV/XLSX in any office encoding, point layers, frames) and
checked row by row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..errors import Problem, ValidationError, describe_rows
from ..io import X_NAMES, Y_NAMES, find_column, read_layer, read_table
from ..validate import normalize_ids
from .inputs import numeric_values

__all__ = ["CATEGORIES", "ROLES", "check_roster", "read_roster", "read_roster_table"]

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
    # micro-grid posts: part-time grid workers, and the building and stairwell heads who
    # commonly serve as one (each micro-grid is a stairwell or a few small buildings)
    "parttime_worker": (
        "parttime_worker",
        "part-time worker",
        "parttime",
        "part_time_worker",
        "part-time",
        "兼职网格员",
        "兼职",
        "微网格员",
    ),
    "building_head": ("building_head", "building head", "楼栋长", "楼长", "栋长"),
    "unit_head": ("unit_head", "stairwell_head", "stairwell head", "单元长"),
}

#: person categories for filling posts left open (人员类别), with the words planners use
CATEGORIES: dict[str, tuple[str, ...]] = {
    "community_worker": ("community_worker", "community worker", "社区工作者", "社工", "社区干部"),
    "party_member": ("party_member", "party member", "党员", "党员志愿者"),
    "retired_cadre": ("retired_cadre", "retired cadre", "退休干部", "离退休干部"),
    "property_staff": ("property_staff", "property staff", "物业人员", "物业", "物业公司"),
    "building_head": ("building_head", "building head", "楼栋长", "楼长", "单元长"),
}

#: the words the role error lists, in the order planners read them
_ROLE_HINT = (
    "grid_head (网格长), fulltime_worker (专职网格员), parttime_worker (兼职网格员), "
    "building_head (楼栋长) or unit_head (单元长)"
)


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
    "category": ("category", "人员类别", "类别", "人员类型", "身份类别"),
}


def read_roster_table(source: Any) -> tuple[pd.DataFrame, str]:
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
        (``grid_head``/网格长, ``fulltime_worker``/专职网格员, ``parttime_worker``/兼职网格员,
        ``building_head``/楼栋长 or ``unit_head``/单元长; the last three fill the micro-grid
        posts), ``phone``, the home as
        ``lon``/``lat`` (or 经度/纬度, or point geometry) or ``unit_id`` or ``compound_id``,
        optionally ``capacity`` (posts the person can hold, default 1), ``community_id``
        (the person serves only that community) and ``category`` (人员类别:
        ``community_worker``/社区工作者, ``party_member``/党员, ``retired_cadre``/退休干部,
        ``property_staff``/物业人员, ``building_head``/楼栋长): posts their own role leaves
        open go to people of these categories in that order (grid heads: all five; full-time
        workers: community workers; part-time workers: party members, building heads),
        within ``roster_max_distance_m``. A row with a category and no role is a reserve
        who only fills such posts. Chinese headers (姓名, 岗位, 电话, 小区编号,
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
    table, label = read_roster_table(source)
    out, problems = check_roster(table, label, crs=crs)
    if problems:
        raise ValidationError(problems)
    return out


def check_roster(
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
    missing = [k for k in ("name",) if found[k] is None]
    if found["role"] is None and found["category"] is None:
        missing.append("role")
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
        return normalize_ids(table[col]) if col else [None] * n

    names = text(found["name"])

    def who(i: int) -> str:
        return f"row {row_no[i]}" + (f" ({names[i]})" if names[i] else "")

    bad = [who(i) for i in range(n) if not names[i]]
    if bad:
        problems.append(
            Problem(label, "name", f"{len(bad)} rows have no name ({describe_rows(bad)})")
        )
    cat_lookup = {a.lower(): c for c, aliases in CATEGORIES.items() for a in aliases}
    cats: list[str | None] = []
    bad_cat = []
    for i, c in enumerate(text(found["category"])):
        cat = cat_lookup.get(c.strip().lower()) if c else None
        cats.append(cat)
        if c and cat is None:
            bad_cat.append(f"{who(i)}: {c!r}")
    if bad_cat:
        problems.append(
            Problem(
                label,
                "category",
                f"{len(bad_cat)} rows have an unknown category ({describe_rows(bad_cat)}); "
                "expected community_worker (社区工作者), party_member (党员), retired_cadre "
                "(退休干部), property_staff (物业人员) or building_head (楼栋长)",
            )
        )
    lookup = {alias.lower(): role for role, aliases in ROLES.items() for alias in aliases}
    roles: list[str | None] = []
    bad = []
    for i, r in enumerate(text(found["role"])):
        role = lookup.get(r.strip().lower()) if r else None
        if role is None and not r and cats[i] is not None:
            role = "reserve"  # no post of their own: fills posts left open
        roles.append(role)
        if role is None:
            bad.append(f"{who(i)}: {r!r}")
    if bad:
        problems.append(
            Problem(
                label,
                "role",
                f"{len(bad)} rows have a missing or unknown role ({describe_rows(bad)}); "
                f"expected {_ROLE_HINT}",
            )
        )
    cap = np.ones(n, dtype=np.int64)
    if found["capacity"]:
        num, unreadable = numeric_values(table[found["capacity"]])
        vals = num.to_numpy()
        ok = np.isnan(vals) | ((vals >= 1) & (np.mod(vals, 1) == 0))
        bad = [who(int(i)) for i in np.flatnonzero(unreadable | ~ok)]
        if bad:
            problems.append(
                Problem(
                    label,
                    "capacity",
                    f"{len(bad)} rows have a capacity that is not a whole number >= 1 "
                    f"({describe_rows(bad)}); leave it blank for 1",
                )
            )
        cap = np.where(np.isnan(vals) | ~ok, 1, vals).astype(np.int64)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if xcol and ycol:
        x, xbad = numeric_values(table[xcol])
        y, ybad = numeric_values(table[ycol])
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
                    f"{len(bad)} rows have unusable coordinates ({describe_rows(bad)}); "
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
                f"{len(nohome)} rows say nowhere where the person lives ({describe_rows(nohome)}); "
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
        "category": cats,
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
