"""Reading an existing grid plan, to re-plan from it (issue 16).

An old plan is either grid polygons with a code column (any layer; a GeoPackage written by
gridplan also carries its ``unit_parts`` table and its ``versions`` history) or an
equivalency table (``unit_id -> grid_code``, optionally ``part``, ``microgrid_code`` and
``households``). :func:`read_previous` maps it onto the new units: by unit id where the ids
match, otherwise a unit belongs to the old grid holding its representative point; units that
old boundaries cut are reported. The grid stage
(:func:`gridplan.partition.grids.grids_from_cells`) keeps the old grids that are still valid
and re-plans the rest with a disruption term; :func:`gridplan.stages.assign_codes` keeps and
inherits codes and never reuses a retired one.

Bad files are refused before any planning, in zh or en, naming the flag (``--previous``),
keyword (``previous=``) or widget that fixes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from .errors import Interface, Problem, ValidationError, describe_rows
from .i18n import LANGS, column_label, t
from .io import split_layer
from .validate import id_str

__all__ = ["PreviousFile", "PreviousPlan", "load_previous", "previous_locks", "read_previous"]

Lang = Literal["zh", "en"]

#: How the previous plan is given, in the words of each interface.
_OPTION = {
    "python": {"zh": "previous=", "en": "previous="},
    "cli": {"zh": "--previous", "en": "--previous"},
    "app": {"zh": "“上一版规划”文件", "en": "the 'Previous plan' file"},
}


@dataclass(frozen=True)
class PreviousPlan:
    """An old plan mapped onto the units.

    Attributes
    ----------
    grid
        ``unit_id -> old grid_code`` (the grid holding most of the unit's households; units
        the old plan did not cover are absent).
    codes
        Every code of the old plan and of the versions before it, including grids no unit
        maps to any more: a retired code is never given to a new grid.
    split
        Units cut by old grid boundaries: ``unit_id``, ``grid_code`` (where the unit was
        put), ``n_grids`` (how many old grids it overlaps).
    parts
        ``unit_id -> old grid code of each part`` for units the old plan split into parts
        (a tuple, by part number), so a building split the same way keeps each part's grid.
    micro
        ``unit_id -> old microgrid_code`` (most households; absent where the old plan had
        no micro-grid codes).
    micro_parts
        Old micro-grid households per unit: ``unit_id``, ``part``, ``microgrid_code``,
        ``households`` (empty when the old plan does not say).
    versions
        The old plan's grids with their version columns: ``grid_code``, ``valid_from``,
        ``valid_to``, ``previous_code`` (empty when the old plan had none), plus the
        retired grids of earlier versions.
    dedicated
        ``dedicated_ids -> old grid code`` of the old dedicated grids, so a dedicated area
        without households keeps its code.
    source
        The file (or ``"table"``) the plan was read from, for messages.
    current
        The codes of the old plan itself (without earlier versions' retired ones).
    grid_households
        Households per old grid code, where the old plan says (to tell an unchanged grid).
    release
        Old grids to re-plan even if still valid (neighbours of a re-planned area that could
        not be put in band without them).
    """

    grid: dict[str, str]
    codes: frozenset[str]
    split: pd.DataFrame
    parts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    micro: dict[str, str] = field(default_factory=dict)
    micro_parts: pd.DataFrame = field(default_factory=pd.DataFrame)
    versions: pd.DataFrame = field(default_factory=pd.DataFrame)
    dedicated: dict[str, str] = field(default_factory=dict)
    source: str = "table"
    current: frozenset[str] = frozenset()
    grid_households: dict[str, float] = field(default_factory=dict)
    release: frozenset[str] = frozenset()

    def for_units(self, unit_ids: Iterable[str]) -> PreviousPlan:
        """What the grid stage of some units needs of this plan: their old grids, part
        grids and boundary splits (codes, versions and release as they are), for a part of
        the units planned on its own (:func:`gridplan.distributed.split_layers`)."""
        ids = {str(u) for u in unit_ids}
        split = (
            self.split[self.split["unit_id"].astype(str).isin(ids)]
            if len(self.split)
            else self.split
        )
        return replace(
            self,
            grid={u: c for u, c in self.grid.items() if u in ids},
            parts={u: c for u, c in self.parts.items() if u in ids},
            split=split.reset_index(drop=True),
            micro={},
            micro_parts=pd.DataFrame(),
        )

    def units_by_code(self) -> dict[str, set[str]]:
        """``old grid code -> unit ids`` with a household or a part in it."""
        out: dict[str, set[str]] = {}
        for u, c in self.grid.items():
            out.setdefault(c, set()).add(u)
        for u, codes in self.parts.items():
            for c in codes:
                out.setdefault(c, set()).add(u)
        return out


@dataclass(frozen=True)
class PreviousFile:
    """What an old plan file holds, checked, before it is mapped onto units
    (:func:`load_previous`); it remembers the language and interface its messages use."""

    source: str
    table: pd.DataFrame | None  # unit rows (equivalency / unit_parts)
    polygons: gpd.GeoDataFrame | None  # grid polygons
    micro_polygons: gpd.GeoDataFrame | None
    versions: pd.DataFrame | None
    lang: Lang = "en"
    interface: Interface = "python"


def _fail(check: str, lang: Lang, interface: Interface, **fmt: object) -> ValidationError:
    opt = _OPTION.get(interface, _OPTION["python"])[lang]
    return ValidationError(
        [Problem("previous", check, t(f"previous_{check}", lang, opt=opt, **fmt))]
    )


def _find(frame: pd.DataFrame, name: str) -> str | None:
    """The column ``name`` or its zh/en display label (a table exported from the report)."""
    labels = [column_label(name, lang, key=key) for key in (None, "grid_code") for lang in LANGS]
    for cand in (name, *labels):
        if cand in frame.columns:
            return cand
    return None


def load_previous(
    source: object,
    *,
    code_col: str = "grid_code",
    unit_col: str = "unit_id",
    lang: Lang = "en",
    interface: Interface = "python",
) -> PreviousFile:
    """Read an old plan and check it, before any planning (a :class:`PreviousFile` is
    returned as it is).

    Parameters
    ----------
    source
        A path (``OLD.gpkg``, ``OLD.gpkg:LAYER``, GeoJSON/Shapefile, ``OLD.csv``/``.xlsx``) or
        a (Geo)DataFrame.
    code_col, unit_col
        The grid code column and (for a table) the unit id column; their zh/en report labels
        (网格编码, 单元编号) are accepted too.
    lang, interface
        Language of the messages and whose words name the fix.

    Raises
    ------
    ValidationError
        A missing or unreadable file, an unknown layer, no code column, a table without unit
        ids, or no plan rows.
    """

    def fail(check: str, **fmt: object) -> ValidationError:
        return _fail(check, lang, interface, **fmt)

    if isinstance(source, PreviousFile):
        return source
    versions = micro = table = None
    if isinstance(source, pd.DataFrame):
        frame, name = source, "table"
    else:
        path, layer = split_layer(str(source))
        name = path.name
        if not path.exists():
            raise fail("missing", path=str(path))
        suffix = path.suffix.lower()
        try:
            if suffix in {".csv", ".txt"}:
                frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
            elif suffix in {".xlsx", ".xls"}:
                frame = pd.read_excel(path, dtype=str, sheet_name=layer or 0)
            else:
                layers = gpd.list_layers(path)["name"].tolist()
                if layer is not None and layer not in layers:
                    raise fail("layer", path=name, layer=layer, layers=", ".join(layers))
                chosen = layer or ("grids" if "grids" in layers else layers[0])
                frame = gpd.read_file(path, layer=chosen)
                if layer is None and "unit_parts" in layers:
                    table = pd.DataFrame(gpd.read_file(path, layer="unit_parts"))
                    table = table.drop(columns="geometry", errors="ignore")
                if "microgrids" in layers and layer is None:
                    micro = gpd.read_file(path, layer="microgrids")
                if "versions" in layers:
                    versions = pd.DataFrame(gpd.read_file(path, layer="versions"))
                    versions = versions.drop(columns="geometry", errors="ignore")
        except ValidationError:
            raise
        except Exception as exc:  # an unreadable file is the user's to fix, not a traceback
            raise fail("unreadable", path=name, error=f"{type(exc).__name__}: {exc}") from exc
    code = _find(frame, code_col)
    if code is None:
        cols = ", ".join(str(c) for c in frame.columns if c != "geometry")
        raise fail("code_column", path=name, column=code_col, columns=cols or "-")
    frame = frame.rename(columns={code: "grid_code"})
    polys: gpd.GeoDataFrame | None = None
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.notna().any():
        polys = frame
    else:
        unit = _find(frame, unit_col)
        if unit is None:
            raise fail("unit_column", path=name, column=unit_col, code=code_col)
        table = pd.DataFrame(frame.rename(columns={unit: "unit_id"}))
        mcode = _find(table, "microgrid_code")
        if mcode is not None:
            table = table.rename(columns={mcode: "microgrid_code"})
    if table is not None and "grid_code" not in table.columns:
        table = None
    n_codes = (
        len(table["grid_code"].dropna())
        if table is not None
        else len(polys["grid_code"].dropna())
        if polys is not None
        else 0
    )
    if n_codes == 0:
        raise fail("empty", path=name, column=code_col)
    return PreviousFile(
        source=name,
        table=table,
        polygons=polys,
        micro_polygons=micro,
        versions=versions,
        lang=lang,
        interface=interface,
    )


def _text(values: pd.Series) -> pd.Series:
    return values.map(id_str).astype(object).where(values.notna(), None).astype(str)


def read_previous(
    source: object,
    units: gpd.GeoDataFrame,
    *,
    unit_col: str = "unit_id",
    code_col: str = "grid_code",
    lang: Lang = "en",
    interface: Interface = "python",
) -> PreviousPlan:
    """Map an old plan onto ``units``.

    Parameters
    ----------
    source
        A path (GeoPackage/GeoJSON/Shapefile with grid polygons, ``OLD.gpkg:LAYER``, or a
        CSV/Excel equivalency table), a (Geo)DataFrame, or :func:`load_previous`'s result.
    units
        The new units (``unit_id`` index or column, geometry).
    unit_col, code_col
        Column names of the equivalency table / the code column of the polygons.
    lang, interface
        Language of the messages and whose words name the fix.

    Returns
    -------
    PreviousPlan

    Raises
    ------
    ValidationError
        Everything :func:`load_previous` refuses, and an old plan that covers none of the
        units (no unit id matches and no grid polygon holds a unit).
    """
    old = load_previous(
        source, code_col=code_col, unit_col=unit_col, lang=lang, interface=interface
    )
    lang, interface = old.lang, old.interface
    ids = units[unit_col].map(id_str) if unit_col in units.columns else units.index.map(id_str)
    ids = pd.Index([str(i) for i in ids])
    empty = pd.DataFrame({"unit_id": [], "grid_code": [], "n_grids": []})
    codes: set[str] = set()
    grid: dict[str, str] = {}
    parts: dict[str, tuple[str, ...]] = {}
    split = empty
    micro: dict[str, str] = {}
    micro_parts = pd.DataFrame(columns=["unit_id", "part", "microgrid_code", "households"])
    dedicated: dict[str, str] = {}
    if old.polygons is not None:
        codes |= set(_text(old.polygons["grid_code"].dropna()))
        if {"kind", "dedicated_ids"} <= set(old.polygons.columns):
            ded = old.polygons[old.polygons["kind"].astype(str) == "dedicated"]
            dedicated = {
                str(d): str(id_str(c))
                for d, c in zip(ded["dedicated_ids"], ded["grid_code"], strict=True)
                if isinstance(d, str) and d
            }
    table = old.table
    matched = False
    if table is not None:
        t_ = table.dropna(subset=["unit_id", "grid_code"])
        keys = _text(t_["unit_id"])
        matched = bool(keys.isin(set(ids)).any())
        codes |= set(_text(t_["grid_code"]))
    if table is not None and (matched or old.polygons is None):
        grid, parts, split, micro, micro_parts = _from_table(table, ids)
    elif old.polygons is not None:
        grid, split = _from_polygons(old.polygons, units, ids)
        if old.micro_polygons is not None and "microgrid_code" in old.micro_polygons.columns:
            micro, _ = _from_polygons(
                old.micro_polygons.rename(columns={"grid_code": "_g"}).rename(
                    columns={"microgrid_code": "grid_code"}
                ),
                units,
                ids,
                report_split=False,
            )
            micro_parts = pd.DataFrame(
                {
                    "unit_id": list(micro),
                    "part": 0,
                    "microgrid_code": list(micro.values()),
                    "households": np.nan,
                }
            )
    if not grid:
        sample_old = (
            ", ".join(map(str, _text(table["unit_id"].dropna()).head(3)))
            if table is not None
            else "-"
        )
        raise _fail(
            "no_match",
            path=old.source,
            units=describe_rows(list(ids[:3]), limit=3),
            old=sample_old,
            lang=lang,
            interface=interface,
        )
    versions = pd.DataFrame()
    if old.polygons is not None and "valid_from" in old.polygons.columns:
        cols = [
            c for c in ("grid_code", "valid_from", "valid_to", "previous_code") if c in old.polygons
        ]
        versions = pd.DataFrame(old.polygons[cols]).assign(
            grid_code=lambda f: _text(f["grid_code"])
        )
    current = frozenset(codes)
    hh_of: dict[str, float] = {}
    if old.polygons is not None and "households" in old.polygons.columns:
        hh = pd.to_numeric(old.polygons["households"], errors="coerce")
        hh_of = {
            str(c): float(h)
            for c, h in zip(_text(old.polygons["grid_code"]), hh, strict=True)
            if h == h
        }
    elif table is not None and "households" in table.columns:
        t_ = table.dropna(subset=["grid_code"])
        hh = pd.to_numeric(t_["households"], errors="coerce").fillna(0.0)
        hh_of = {
            str(k): float(v) for k, v in hh.groupby(_text(t_["grid_code"]).to_numpy()).sum().items()
        }
    if old.versions is not None and "grid_code" in old.versions.columns:
        hist = old.versions.assign(grid_code=lambda f: _text(f["grid_code"]))
        codes |= set(hist["grid_code"])
        versions = pd.concat([versions, hist], ignore_index=True).drop_duplicates(
            "grid_code", keep="first"
        )
    return PreviousPlan(
        grid=grid,
        codes=frozenset(codes),
        split=split,
        parts=parts,
        micro=micro,
        micro_parts=micro_parts,
        versions=versions.reset_index(drop=True),
        dedicated=dedicated,
        source=old.source,
        current=current,
        grid_households=hh_of,
    )


def _from_polygons(
    polys: gpd.GeoDataFrame, units: gpd.GeoDataFrame, ids: pd.Index, *, report_split: bool = True
) -> tuple[dict[str, str], pd.DataFrame]:
    """``unit -> code`` of the polygon holding each unit's representative point, and the
    units whose footprint more than one polygon covers (above 1 % of its area)."""
    old = polys[["grid_code", "geometry"]].dropna(subset=["grid_code"])
    old = old.assign(_code=_text(old["grid_code"]))
    old = old.to_crs(units.crs) if units.crs is not None and old.crs is not None else old
    pts = gpd.GeoDataFrame(
        {"_uid": ids}, geometry=units.geometry.representative_point().values, crs=units.crs
    )
    hit = gpd.sjoin(pts, old[["_code", "geometry"]], how="inner", predicate="within")
    hit = hit.sort_values(["_uid", "_code"]).drop_duplicates("_uid")
    grid = dict(zip(hit["_uid"], hit["_code"], strict=True))
    split = pd.DataFrame({"unit_id": [], "grid_code": [], "n_grids": []})
    poly = units.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if report_split and poly.any():
        shapes = gpd.GeoDataFrame(
            {"_uid": ids[poly]}, geometry=units.geometry.values[poly], crs=units.crs
        )
        over = gpd.overlay(
            shapes, old[["_code", "geometry"]], how="intersection", keep_geom_type=True
        )
        area = shapes.set_index("_uid").area
        over = over[over.area > 0.01 * over["_uid"].map(area).to_numpy()]
        n = over.groupby("_uid")["_code"].nunique()
        n = n[n > 1]
        split = pd.DataFrame(
            {
                "unit_id": n.index.astype(str),
                "grid_code": [grid.get(u) for u in n.index],
                "n_grids": n.to_numpy(),
            }
        )
    return grid, split


def _from_table(
    table: pd.DataFrame, ids: pd.Index
) -> tuple[dict[str, str], dict[str, tuple[str, ...]], pd.DataFrame, dict[str, str], pd.DataFrame]:
    """Grid per unit (most households), codes per part, split units and micro-grids from an
    equivalency table (one row per unit part)."""
    t_ = table.dropna(subset=["unit_id", "grid_code"])
    hh = (
        pd.to_numeric(t_["households"], errors="coerce").fillna(0).to_numpy(dtype=float)
        if "households" in t_.columns
        else np.zeros(len(t_))
    )
    part = (
        pd.to_numeric(t_["part"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
        if "part" in t_.columns
        else np.zeros(len(t_), dtype=np.int64)
    )
    rows = pd.DataFrame(
        {
            "k": _text(t_["unit_id"]).to_numpy(),
            "c": _text(t_["grid_code"]).to_numpy(),
            "h": hh,
            "p": part,
            "m": (
                _text(t_["microgrid_code"]).where(t_["microgrid_code"].notna(), None).to_numpy()
                if "microgrid_code" in t_.columns
                else None
            ),
        }
    )
    rows = rows[rows["k"].isin(set(ids))]
    # a building split across grids is listed once per part: the unit belongs to the grid
    # holding most of its households (the first listed on a tie)
    per = rows.groupby(["k", "c"], sort=False)["h"].sum().reset_index()
    best = per.sort_values("h", ascending=False, kind="stable").drop_duplicates("k")
    grid = dict(zip(best["k"], best["c"], strict=True))
    n = per.groupby("k")["c"].size()
    n = n[n > 1]
    split = pd.DataFrame(
        {
            "unit_id": n.index.astype(str),
            "grid_code": [grid[u] for u in n.index],
            "n_grids": n.to_numpy(),
        }
    )
    by_part = rows.drop_duplicates(["k", "p"]).sort_values(["k", "p"], kind="stable")
    multi = by_part[by_part["k"].isin(set(n.index))]
    parts = {str(k): tuple(map(str, g["c"])) for k, g in multi.groupby("k", sort=True)}
    micro: dict[str, str] = {}
    micro_parts = pd.DataFrame(columns=["unit_id", "part", "microgrid_code", "households"])
    has_m = rows["m"].notna() & (rows["m"] != "None")
    if has_m.any():
        m = rows[has_m]
        mp = m.groupby(["k", "m"], sort=False)["h"].sum().reset_index()
        mb = mp.sort_values("h", ascending=False, kind="stable").drop_duplicates("k")
        micro = dict(zip(mb["k"], mb["m"], strict=True))
        micro_parts = pd.DataFrame(
            {
                "unit_id": m["k"].to_numpy(),
                "part": m["p"].to_numpy(),
                "microgrid_code": m["m"].to_numpy(),
                "households": m["h"].to_numpy(),
            }
        )
    return grid, parts, split, micro, micro_parts


def previous_locks(
    previous: PreviousPlan,
    households: pd.Series,
    *,
    min_households: int,
    max_households: int,
) -> dict[str, str]:
    """``unit_id -> old grid_code`` for the old grids that are still in band (the band check
    only; the grid stage checks contiguity, barriers and communities too).

    Parameters
    ----------
    previous
        :func:`read_previous`'s result.
    households
        Households per unit, indexed by ``unit_id``.
    min_households, max_households
        The grid band: an old grid outside it is re-planned.

    Returns
    -------
    dict
        ``unit_id -> old grid_code`` of the units in old grids within the band.
    """
    hh = households.copy()
    hh.index = hh.index.map(lambda i: str(id_str(i)))
    mapped = pd.Series(previous.grid, dtype=object)
    mapped = mapped[mapped.index.isin(hh.index)]
    totals = hh.reindex(mapped.index).groupby(mapped.to_numpy()).sum()
    valid = set(totals.index[(totals >= min_households) & (totals <= max_households)])
    return {str(u): str(c) for u, c in mapped.items() if c in valid}
