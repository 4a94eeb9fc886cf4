"""The bad-input corpus shared by the CLI and app tests: files a planner (or an adversary)
could hand gridplan, written into a temporary folder.

Each :class:`BadInput` is built by a function ``(tmp) -> BadInput`` from :data:`CASES`. It holds
the command line that must fail (``argv``, without the program name), the words the message
must hold (``needles``: the rows, columns or keys concerned and what was given), and the CLI
flag that fixes it (``flag``), if one does. Cases with an ``upload`` also go through the app's
upload path: the file is uploaded in ``role`` with the app's column mapping ``app_columns``,
and ``app_fix`` is the widget label key (:mod:`gridplan.i18n`) its fix must name.

Nothing here is a hard-coded answer: the needles are the ids and values the builder wrote.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

X0, Y0 = 500_000.0, 4_180_000.0  # UTM 49N, near Taiyuan
LON0, LAT0 = 112.55, 37.87


@dataclass(frozen=True)
class BadInput:
    """One bad input: the command line that must exit 1 and what its message must say."""

    argv: list[str]
    needles: tuple[str, ...]
    flag: str | None = None
    #: file uploaded in the app (``None``: the case has no upload form, e.g. a CLI flag)
    upload: Path | None = None
    role: str = "units"
    #: layer picked in the app's layer box for a multi-layer upload
    layer: str | None = None
    app_columns: dict[str, str] = field(default_factory=dict)
    #: i18n label key of the widget the app's fix names
    app_fix: str | None = None
    #: files that must be byte-identical after the command (inputs it must not touch)
    untouched: tuple[Path, ...] = ()


# ---------------------------------------------------------------------------------------------
# layers and files
# ---------------------------------------------------------------------------------------------


def lattice(
    n: int = 4, *, households: Any = 100, crs: Any = 32649, **cols: Any
) -> gpd.GeoDataFrame:
    """``n`` 100 m squares in a row, ids ``u0``..., ``households`` one value or a list."""
    hh = households if isinstance(households, list) else [households] * n
    geoms = [box(X0 + 100 * i, Y0, X0 + 100 * (i + 1), Y0 + 100) for i in range(n)]
    data = {"unit_id": [f"u{i}" for i in range(n)], "households": hh, **cols}
    return gpd.GeoDataFrame(data, geometry=geoms, crs=crs)


def with_value(g: gpd.GeoDataFrame, row: int, col: str, value: Any) -> gpd.GeoDataFrame:
    g = g.copy()
    if col == "geometry":
        geoms = list(g.geometry)
        geoms[row] = value
        return g.set_geometry(gpd.GeoSeries(geoms, index=g.index, crs=g.crs))
    g[col] = g[col].astype(object)
    g.loc[row, col] = value
    return g


def gpkg(tmp: Path, name: str, layers: dict[str, gpd.GeoDataFrame]) -> Path:
    out = tmp / name
    for layer, frame in layers.items():
        frame.to_file(out, layer=layer, driver="GPKG")
    return out


def units_gpkg(tmp: Path, g: gpd.GeoDataFrame | None = None, name: str = "units.gpkg") -> Path:
    return gpkg(tmp, name, {"units": lattice() if g is None else g})


def csv(tmp: Path, name: str, frame: pd.DataFrame, *, encoding: str = "utf-8") -> Path:
    out = tmp / name
    frame.to_csv(out, index=False, encoding=encoding)
    return out


def points_table(n: int = 3, **cols: Any) -> pd.DataFrame:
    data = {
        "unit_id": [f"p{i}" for i in range(n)],
        "households": [40] * n,
        "lon": [LON0 + 0.001 * i for i in range(n)],
        "lat": [LAT0] * n,
    }
    data.update(cols)
    return pd.DataFrame(data)


def raw(name: str, content: bytes) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        out = tmp / name
        out.write_bytes(content)
        return out

    return build


def shapefile_zip(tmp: Path, name: str = "good.zip", *, drop: tuple[str, ...] = ()) -> Path:
    """A zipped Shapefile of two lon/lat points; members ending in ``drop`` left out."""
    folder = tmp / f"{Path(name).stem}_shp"
    folder.mkdir(exist_ok=True)
    g = gpd.GeoDataFrame(
        {"unit_id": ["p0", "p1"], "households": [40, 40]},
        geometry=[Point(LON0, LAT0), Point(LON0 + 0.001, LAT0)],
        crs=4326,
    )
    g.to_file(folder / "units.shp")
    out = tmp / name
    with zipfile.ZipFile(out, "w") as z:
        for f in sorted(folder.iterdir()):
            if not f.name.endswith(drop):
                z.write(f, f.name)
    return out


def zip_with(tmp: Path, name: str, extra: dict[str, bytes], *, keep_good: bool = True) -> Path:
    out = tmp / name
    with zipfile.ZipFile(out, "w") as z:
        if keep_good:
            good = zipfile.ZipFile(shapefile_zip(tmp))
            for n in good.namelist():
                z.writestr(n, good.read(n))
        for member, content in extra.items():
            z.writestr(member, content)
    return out


def forged_zip(tmp: Path) -> Path:
    """A zipped Shapefile whose headers declare 7-byte members."""
    data = bytearray(shapefile_zip(tmp).read_bytes())
    for sig, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        pos = 0
        while (pos := data.find(sig, pos)) != -1:
            struct.pack_into("<I", data, pos + offset, 7)
            pos += 4
    out = tmp / "forged.zip"
    out.write_bytes(bytes(data))
    return out


def xlsx(tmp: Path, name: str, rows: list[list[Any]], *, merge: str | None = None) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    if merge:
        ws.merge_cells(merge)
    out = tmp / name
    wb.save(out)
    return out


def invalid_bowtie() -> gpd.GeoDataFrame:
    bowtie = Polygon([(X0, Y0), (X0 + 10, Y0 + 10), (X0 + 10, Y0), (X0, Y0 + 10)])
    return with_value(lattice(), 1, "geometry", bowtie)


def distant_part() -> gpd.GeoDataFrame:
    part = MultiPolygon([box(X0, Y0, X0 + 50, Y0 + 50), box(X0 + 2000, Y0, X0 + 2050, Y0 + 50)])
    return with_value(lattice(), 0, "geometry", part)


# ---------------------------------------------------------------------------------------------
# the cases
# ---------------------------------------------------------------------------------------------


def _file_case(
    make: Callable[[Path], Path], needles: tuple[str, ...], flag: str | None = None, **app: Any
) -> Callable[[Path], BadInput]:
    """``gridplan plan FILE --out plan.gpkg`` on the file ``make`` writes, which the app
    uploads too."""

    def build(tmp: Path) -> BadInput:
        path = make(tmp)
        return BadInput(
            ["plan", str(path), "--out", str(tmp / "plan.gpkg")],
            needles,
            flag,
            upload=path if path.is_file() else None,
            untouched=(path,) if path.is_file() else (),
            **app,
        )

    return build


def _units_case(
    make: Callable[[], gpd.GeoDataFrame],
    needles: tuple[str, ...],
    flag: str | None = None,
    *,
    extra: tuple[str, ...] = (),
    **app: Any,
) -> Callable[[Path], BadInput]:
    """A units layer with bad values, planned from a GeoPackage (``extra``: more options)."""

    def build(tmp: Path) -> BadInput:
        path = units_gpkg(tmp, make())
        return BadInput(
            ["plan", str(path), "--out", str(tmp / "plan.gpkg"), *extra],
            needles,
            flag,
            upload=path,
            untouched=(path,),
            **app,
        )

    return build


def _context_case(
    role: str, frame: Callable[[], gpd.GeoDataFrame], needles: tuple[str, ...]
) -> Callable[[Path], BadInput]:
    """Good units with a bad context layer (``--compounds`` etc.) in its own file."""

    def build(tmp: Path) -> BadInput:
        units = units_gpkg(tmp)
        context = gpkg(tmp, f"{role}.gpkg", {role: frame()})
        return BadInput(
            ["plan", str(units), f"--{role}", str(context), "--out", str(tmp / "plan.gpkg")],
            needles,
            upload=context,
            role=role,
            untouched=(units, context),
        )

    return build


def _args_case(
    extra: list[str], needles: tuple[str, ...], flag: str | None = None, *, command: str = "plan"
) -> Callable[[Path], BadInput]:
    """Good units, a bad option."""

    def build(tmp: Path) -> BadInput:
        units = units_gpkg(tmp)
        args = [a.format(tmp=tmp) for a in extra]
        if "--out" not in args and "-o" not in args:
            args += ["--out", str(tmp / "plan.gpkg")]
        return BadInput([command, str(units), *args], needles, flag, untouched=(units,))

    return build


def _config_case(text: str, needles: tuple[str, ...]) -> Callable[[Path], BadInput]:
    def build(tmp: Path) -> BadInput:
        units = units_gpkg(tmp)
        rules = tmp / "rules.toml"
        rules.write_text(text, encoding="utf-8")
        return BadInput(
            ["plan", str(units), "--config", str(rules), "--out", str(tmp / "plan.gpkg")],
            needles,
            "--config",
            untouched=(units, rules),
        )

    return build


def _output_case(
    command: str, out: Callable[[Path, Path], Path], needles: tuple[str, ...], *extra: str
) -> Callable[[Path], BadInput]:
    """``command UNITS --out OUT``: ``out(tmp, units)`` names the output."""

    def build(tmp: Path) -> BadInput:
        units = gpkg(tmp, "units.gpkg", {"units": lattice(), "communities": _one_community()})
        target = out(tmp, units)
        args = [a.format(tmp=tmp, units=units) for a in extra]
        existing = (target,) if target.is_file() else ()
        return BadInput(
            [command, str(units), "--out", str(target), *args],
            needles,
            untouched=(units, *existing),
        )

    return build


def _existing(name: str) -> Callable[[Path, Path], Path]:
    def make(tmp: Path, _units: Path) -> Path:
        out = tmp / name
        out.write_bytes(b"an earlier result")
        return out

    return make


def _one_community() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"community_id": ["c1"]}, geometry=[box(X0 - 10, Y0 - 10, X0 + 410, Y0 + 110)], crs=32649
    )


def _gbk_table(tmp: Path) -> Path:
    table = points_table().rename(columns={"households": "户数", "lon": "经度", "lat": "纬度"})
    return csv(tmp, "gbk.csv", table, encoding="gbk")


def _swapped(tmp: Path) -> Path:
    t = points_table()
    return csv(tmp, "swapped.csv", t.assign(lon=t["lat"], lat=t["lon"]))


CASES: dict[str, Callable[[Path], BadInput]] = {
    # --- files that cannot be read -----------------------------------------------------------
    "empty gpkg": _file_case(raw("units.gpkg", b""), ("is empty", "units.gpkg")),
    "empty csv": _file_case(raw("units.csv", b""), ("is empty", "units.csv")),
    "empty geojson": _file_case(raw("units.geojson", b""), ("is empty",)),
    "empty zip": _file_case(raw("units.zip", b""), ("is empty",)),
    "empty xlsx": _file_case(raw("units.xlsx", b""), ("is empty",)),
    "garbage gpkg": _file_case(raw("units.gpkg", b"not a geopackage"), ("cannot open",)),
    "garbage geojson": _file_case(raw("units.geojson", b"{not json"), ("cannot read",)),
    "garbage xlsx": _file_case(raw("units.xlsx", b"PK not a workbook"), ("Excel",)),
    "not a zip": _file_case(raw("units.zip", b"hello"), ("not a readable zip",)),
    "unknown type": _file_case(raw("units.dwg", b"x"), ("unknown file type", ".dwg")),
    "missing file": _file_case(lambda t: t / "nowhere.gpkg", ("file not found", "nowhere.gpkg")),
    "folder": _file_case(lambda t: t, ("is a folder",)),
    "utf-16 csv": _file_case(
        raw("u16.csv", "lon,lat\n1,2\n".encode("utf-16")), ("cannot decode", "u16.csv")
    ),
    "zip with ../ member": _file_case(
        lambda t: zip_with(t, "up.zip", {"../../evil.shp": b"x"}),
        ("outside the archive", "../../evil.shp"),
    ),
    "zip with absolute member": _file_case(
        lambda t: zip_with(t, "abs.zip", {"/etc/units.shp": b"x"}),
        ("outside the archive", "/etc/units.shp"),
    ),
    "zip with forged sizes": _file_case(forged_zip, ("forged.zip",)),
    "zip without shapefile": _file_case(
        lambda t: zip_with(t, "none.zip", {"readme.txt": b"x"}, keep_good=False),
        ("holds no .shp",),
    ),
    "zip with a lone .shp": _file_case(
        lambda t: zip_with(t, "lone.zip", {"units.shp": b"x"}, keep_good=False),
        (".shx and .dbf", "units.shp"),
    ),
    "zipped shapefile missing .prj": _file_case(
        lambda t: shapefile_zip(t, "noprj.zip", drop=(".prj",)), ("no CRS",)
    ),
    "gpkg missing layer": _file_case(
        lambda t: Path(f"{units_gpkg(t)}:blocks"), ("no layer 'blocks'", "units")
    ),
    # --- tables: coordinates and headers -----------------------------------------------------
    "csv swapped lon/lat": _file_case(
        _swapped, ("look swapped", "'lat'", "'lon'"), "--columns lat=lon,lon=lat"
    ),
    "csv longitude 512": _file_case(
        lambda t: csv(t, "far.csv", points_table(lon=[512.0, LON0, LON0])),
        ("beyond ±180", "p0", "512"),
    ),
    "csv latitude 95": _file_case(
        lambda t: csv(t, "pole.csv", points_table(lat=[LAT0, 95.0, LAT0])), ("beyond ±90", "p1")
    ),
    "csv projected metres read as degrees": _file_case(
        lambda t: csv(t, "metres.csv", points_table(lon=[448000.0] * 3, lat=[4417000.0] * 3)),
        ("beyond ±180", "p0, p1, p2", "448000"),
        "--coords-crs",
    ),
    "csv coordinates under unmapped names": _file_case(
        lambda t: csv(t, "cn.csv", points_table().rename(columns={"lon": "东经", "lat": "北纬"})),
        ("东经", "北纬", "cannot find the coordinate columns"),
        "--columns",
        app_fix="columns",
    ),
    "csv bad wkt": _file_case(
        lambda t: csv(t, "wkt.csv", pd.DataFrame({"geometry": ["POINT (1 2", "POINT (3 4)"]})),
        ("is not WKT", "geometry"),
    ),
    "csv no coordinates at all": _file_case(
        lambda t: csv(t, "nocoord.csv", pd.DataFrame({"a": [1], "b": [2]})),
        ("cannot find the coordinate columns", "columns: a, b"),
        "--columns",
    ),
    "gbk csv with chinese headers": _file_case(
        _gbk_table, ("户数", "households"), "--columns 户数=households"
    ),
    "xlsx title row above header": _file_case(
        lambda t: xlsx(
            t,
            "title.xlsx",
            [["迎泽区某社区住户统计表"], ["楼号", "户数", "经度", "纬度"], ["1", 120, LON0, LAT0]],
        ),
        ("header row seems to be row 2",),
    ),
    "xlsx merged header cells": _file_case(
        lambda t: xlsx(
            t,
            "merged.xlsx",
            [["楼号", "户数", "坐标", None], ["1", 120, LON0, LAT0]],
            merge="C1:D1",
        ),
        ("unmerge",),
    ),
    # --- units with bad values ---------------------------------------------------------------
    "no households column": _units_case(
        lambda: lattice().drop(columns="households"), ("households",)
    ),
    "households under another name": _units_case(
        lambda: lattice().rename(columns={"households": "户数"}),
        ("户数",),
        "--columns 户数=households",
        app_fix="columns",
    ),
    "true/false households": _units_case(
        lambda: lattice(households=[True, False, 3, 4]), ("true/false", "u0, u1")
    ),
    "negative households": _units_case(
        lambda: lattice(households=[-3, 10, 10, 10]), ("negative", "u0")
    ),
    "fractional households": _units_case(
        lambda: lattice(households=[2.5, 10, 10, 10]), ("non-integer", "u0")
    ),
    "nan households": _units_case(
        lambda: lattice(households=[float("nan"), 10, 10, 10]), ("NaN", "u0")
    ),
    "infinite households": _units_case(
        lambda: lattice(households=[float("inf"), 10, 10, 10]), ("infinite", "u0")
    ),
    "text households": _units_case(
        lambda: lattice(households=["many", 10, 10, 10]), ("not a number", "u0")
    ),
    "duplicate ids": _units_case(
        lambda: lattice().assign(unit_id=["a", "a", "b", "c"]), ("more than once", "a")
    ),
    "missing ids": _units_case(lambda: with_value(lattice(), 2, "unit_id", None), ("no id",)),
    "null geometry": _units_case(
        lambda: with_value(lattice(), 1, "geometry", None), ("no geometry", "u1")
    ),
    "empty geometry": _units_case(
        lambda: with_value(lattice(), 1, "geometry", Polygon()), ("empty geometry", "u1")
    ),
    "invalid geometry": _units_case(
        invalid_bowtie, ("invalid geometry", "u1"), "--fix-invalid", app_fix="fix_invalid"
    ),
    "distant multipolygon part": _units_case(
        distant_part, ("more than 100 m", "u0"), "--fix-invalid", app_fix="fix_invalid"
    ),
    "3-D geometry": _units_case(
        lambda: with_value(lattice(), 0, "geometry", Point(X0, Y0, 10)), ("(Z)", "u0")
    ),
    "lines as units": _units_case(
        lambda: with_value(lattice(), 0, "geometry", LineString([(X0, Y0), (X0 + 1, Y0)])),
        ("LineString", "u0"),
    ),
    "points among polygons": _units_case(
        lambda: with_value(lattice(), 0, "geometry", Point(X0 + 5, Y0 + 5)), ("points while", "u0")
    ),
    "no crs": _units_case(lambda: lattice(crs=None), ("no CRS",)),
    "empty layer": _units_case(lambda: lattice().iloc[:0], ("no rows",)),
    "degrees in a projected crs": _units_case(
        lambda: gpd.GeoDataFrame(
            points_table().drop(columns=["lon", "lat"]),
            geometry=[Point(LON0 + 0.001 * i, LAT0) for i in range(3)],
            crs=32649,
        ),
        ("look like longitude/latitude degrees", "UTM zone 49N"),
    ),
    "many units at one point": _units_case(
        lambda: gpd.GeoDataFrame(
            points_table(12).drop(columns=["lon", "lat"]),
            geometry=[Point(LON0, LAT0)] * 12,
            crs=4326,
        ),
        ("12 at one place", "p0"),
    ),
    "bad gated value": _units_case(
        lambda: lattice(gated=["yes", "maybe", "no", "no"]), ("yes/no", "u1")
    ),
    "text population": _units_case(
        lambda: lattice(population=["x", 1, 1, 1]), ("population", "u0")
    ),
    "a unit of a billion households": _units_case(
        lambda: lattice(households=[10**9, 10, 10, 10]), ("u0", "1,000,000,000")
    ),
    "renaming onto an existing column": _units_case(
        lambda: lattice(户数=[1, 1, 1, 1]),
        ("two columns named households",),
        "--columns",
        extra=("--columns", "户数=households"),
        app_columns={"户数": "households"},
    ),
    # --- context layers ----------------------------------------------------------------------
    "overlapping compounds": _context_case(
        "compounds",
        lambda: gpd.GeoDataFrame(
            {"compound_id": ["k1", "k2"]},
            geometry=[box(X0, Y0, X0 + 200, Y0 + 100), box(X0 + 150, Y0, X0 + 400, Y0 + 100)],
            crs=32649,
        ),
        ("overlap", "k1 and k2"),
    ),
    "dedicated area covering everything": _context_case(
        "dedicated",
        lambda: gpd.GeoDataFrame(
            {"dedicated_id": ["d1"]},
            geometry=[box(X0 - 10, Y0 - 10, X0 + 500, Y0 + 200)],
            crs=32649,
        ),
        ("d1 (100%)",),
    ),
    "units outside the communities": _context_case(
        "communities",
        lambda: gpd.GeoDataFrame(
            {"community_id": ["c1"]}, geometry=[box(X0, Y0, X0 + 100, Y0 + 100)], crs=32649
        ),
        ("outside every community", "u1"),
    ),
    "polygon barriers": _context_case(
        "barriers",
        lambda: gpd.GeoDataFrame(
            {"barrier_id": ["r1"]}, geometry=[box(X0, Y0, X0 + 1, Y0 + 1)], crs=32649
        ),
        ("r1", "lines"),
    ),
    "point compounds": _context_case(
        "compounds",
        lambda: gpd.GeoDataFrame({"compound_id": ["k1"]}, geometry=[Point(X0, Y0)], crs=32649),
        ("k1", "polygons"),
    ),
    "community latitude -95": _context_case(
        "communities",
        lambda: gpd.GeoDataFrame(
            {"community_id": ["c1"]}, geometry=[box(112, -95, 113, 38)], crs=4326
        ),
        ("beyond ±90", "c1"),
    ),
    "context layer file missing": lambda tmp: BadInput(
        [
            "plan",
            str(units_gpkg(tmp)),
            "--barriers",
            str(tmp / "rivers.gpkg"),
            "--out",
            str(tmp / "p.gpkg"),
        ],
        ("file not found", "rivers.gpkg"),
    ),
    # --- rules and options -------------------------------------------------------------------
    "config file missing": _args_case(["--config", "{tmp}/nowhere.toml"], ("nowhere.toml",)),
    "config not toml": _config_case("[grid\nmin_households = 300\n", ("rules.toml",)),
    "config unknown key": _config_case("[grid]\nmin_househods = 300\n", ("min_househods",)),
    "config min above max": _config_case(
        "[grid]\nmin_households = 600\nmax_households = 500\n", ("600", "500")
    ),
    "config min nan": _config_case("[grid]\nmin_households = nan\n", ("min_households", "nan")),
    "config households as text": _config_case(
        '[grid]\nmin_households = "300"\n', ("min_households", '"300"')
    ),
    "config micro band above grid band": _config_case(
        "[microgrid]\nmin_households = 400\nmax_households = 600\n", ("microgrid",)
    ),
    "county code letters": _args_case(
        ["--county-code", "abcdef"], ("county_code", "6 digits"), "--county-code"
    ),
    "county code five digits": _args_case(["--county-code", "14010"], ("14010",), "--county-code"),
    "bad --lang": _args_case(["--lang", "fr"], ("--lang", "'fr'")),
    "seed not a number": _args_case(["--seed", "x"], ("--seed", "'x'")),
    "unknown option": _args_case(["--househods", "3"], ("--househods",)),
    "bad --engine": _args_case(["--engine", "gpu"], ("--engine", "gpu")),
    "bad --source-crs": _args_case(["--source-crs", "mars"], ("--source-crs", "mars")),
    "malformed --columns": _args_case(["--columns", "户数"], ("--columns", "户数")),
    "missing --out": lambda tmp: BadInput(["plan", str(units_gpkg(tmp))], ("--out",)),
    # --- outputs -----------------------------------------------------------------------------
    "plan out is the units file": _output_case(
        "plan", lambda t, u: u, ("also an input", "units.gpkg")
    ),
    "plan out is a context layer's file": _output_case(
        "plan",
        _existing("streets.gpkg"),
        ("also an input", "streets.gpkg"),
        "--streets",
        "{tmp}/streets.gpkg:streets",
    ),
    "grids out is the units file": _output_case(
        "grids", lambda t, u: u, ("also an input", "units.gpkg")
    ),
    "plan out exists without --force": _output_case(
        "plan", _existing("old.gpkg"), ("already exists", "--force")
    ),
    "plan out is a .shp": _output_case(
        "plan", lambda t, u: t / "grids.shp", ("grids.shp", ".gpkg")
    ),
    "plan out has an unknown extension": _output_case(
        "plan", lambda t, u: t / "grids.dwg", ("grids.dwg", ".gpkg")
    ),
    "plan equivalency is the input": _output_case(
        "plan",
        lambda t, u: t / "plan.gpkg",
        ("also an input", "units.gpkg"),
        "--equivalency",
        "{units}",
    ),
    "plan report is the input": _output_case(
        "plan",
        lambda t, u: t / "plan.gpkg",
        ("also an input", "units.gpkg"),
        "--report",
        "{units}",
    ),
    "reform out is the units file": _output_case(
        "reform",
        lambda t, u: u,
        ("also an input", "units.gpkg"),
        "--communities",
        "{units}:communities",
    ),
    "reform out exists without --force": _output_case(
        "reform",
        _existing("old.gpkg"),
        ("already exists", "--force"),
        "--communities",
        "{units}:communities",
    ),
    "reform out is a .shp": _output_case(
        "reform", lambda t, u: t / "c.shp", ("c.shp",), "--communities", "{units}:communities"
    ),
    "staff plan file missing": lambda tmp: BadInput(
        ["staff", str(tmp / "plan.gpkg"), "--out", str(tmp / "staff.xlsx")],
        ("file not found", "plan.gpkg"),
    ),
    "staff out is the plan": lambda tmp: BadInput(
        ["staff", str(units_gpkg(tmp)), "--out", str(tmp / "units.gpkg")],
        ("also an input", "units.gpkg"),
        untouched=(tmp / "units.gpkg",),
    ),
    "staff out is the roster": lambda tmp: BadInput(
        [
            "staff",
            str(units_gpkg(tmp)),
            "--roster",
            str(xlsx(tmp, "roster.xlsx", [["name", "role"], ["张三", "grid_head"]])),
            "--out",
            str(tmp / "roster.xlsx"),
        ],
        ("also an input", "roster.xlsx"),
        untouched=(tmp / "roster.xlsx",),
    ),
    "staff out exists without --force": lambda tmp: BadInput(
        [
            "staff",
            str(units_gpkg(tmp)),
            "--out",
            str(_existing("staff.xlsx")(tmp, tmp)),
        ],
        ("already exists", "--force"),
        untouched=(tmp / "staff.xlsx",),
    ),
    "staff out not a workbook": lambda tmp: BadInput(
        ["staff", str(units_gpkg(tmp)), "--out", str(tmp / "staff.csv")], ("staff.csv", ".xlsx")
    ),
}


def _validate_case(
    make: Callable[[Path], Path], needles: tuple[str, ...], *extra: str, flag: str | None = None
) -> Callable[[Path], BadInput]:
    """``gridplan validate FILE`` on the file ``make`` writes."""

    def build(tmp: Path) -> BadInput:
        path = make(tmp)
        return BadInput(["validate", str(path), *extra], needles, flag, untouched=(path,))

    return build


def _blank_coordinate(tmp: Path) -> Path:
    t = points_table(4)
    t["lon"] = t["lon"].astype(object)
    t.loc[2, "lon"] = None
    return csv(tmp, "blank.csv", t)


def _text_coordinate(tmp: Path) -> Path:
    t = points_table(4)
    t["lat"] = t["lat"].astype(object)
    t.loc[1, "lat"] = "北纬37度"
    return csv(tmp, "text.csv", t)


def _geojson_input_folder(tmp: Path) -> BadInput:
    folder = tmp / "geo"
    folder.mkdir()
    units = folder / "units.geojson"
    lattice().to_crs(4326).to_file(units, driver="GeoJSON")
    return BadInput(
        ["plan", str(units), "--out", str(tmp / "plan.gpkg"), "--geojson", str(folder)],
        ("also an input", "units.geojson", "--geojson"),
        untouched=(units,),
    )


def _reform_case(extra: list[str], needles: tuple[str, ...], flag: str | None = None):
    def build(tmp: Path) -> BadInput:
        units = gpkg(tmp, "units.gpkg", {"units": lattice(), "communities": _one_community()})
        args = [a.format(tmp=tmp) for a in extra]
        return BadInput(
            [
                "reform",
                str(units),
                "--communities",
                f"{units}:communities",
                "--out",
                str(tmp / "r.gpkg"),
                *args,
            ],
            needles,
            flag,
            untouched=(units,),
        )

    return build


def _staff_config_case(tmp: Path) -> BadInput:
    plan = units_gpkg(tmp)
    rules = tmp / "staff.toml"
    rules.write_text("[staffing]\ncommunity_workers_per_10 = 25\n", encoding="utf-8")
    return BadInput(
        ["staff", str(plan), "--config", str(rules), "--out", str(tmp / "staff.xlsx")],
        ("community_workers_per_10",),
        "--config",
        untouched=(plan, rules),
    )


CASES.update(
    {
        # --- found by trying issue 15's list again --------------------------------------------
        "validate csv longitude 512": _validate_case(
            lambda t: csv(t, "far.csv", points_table(lon=[512.0, LON0, LON0])),
            ("beyond ±180", "p0", "512"),
        ),
        "validate csv swapped lon/lat": _validate_case(
            _swapped, ("look swapped", "p0"), flag="--columns lat=lon,lon=lat"
        ),
        "validate bad --coords-crs": _validate_case(
            _swapped, ("--coords-crs", "'EPSG:99999999'"), "--coords-crs", "EPSG:99999999"
        ),
        "validate malformed --columns": _validate_case(
            _swapped, ("--columns", "户数"), "--columns", "户数"
        ),
        "csv empty coordinate cell": _file_case(
            _blank_coordinate, ("no usable coordinates", "p2", "lon=empty")
        ),
        "csv text coordinate cell": _file_case(
            _text_coordinate, ("no usable coordinates", "p1", "北纬37度")
        ),
        "zip with drive-letter member": _file_case(
            lambda t: zip_with(t, "drive.zip", {"C:/units.shp": b"x"}),
            ("outside the archive", "C:/units.shp"),
        ),
        "bad --coords-crs": _args_case(["--coords-crs", "mars"], ("--coords-crs", "'mars'")),
        "degrees with a projected --coords-crs": lambda tmp: BadInput(
            [
                "plan",
                str(csv(tmp, "deg.csv", points_table())),
                "--coords-crs",
                "EPSG:4547",
                "--out",
                str(tmp / "p.gpkg"),
            ],
            ("look like longitude/latitude degrees",),
        ),
        "--source-crs on projected units": _args_case(
            ["--source-crs", "gcj02"], ("gcj02", "projected"), "--source-crs"
        ),
        "config is a folder": _args_case(["--config", "{tmp}"], ("is a folder",), "--config"),
        "config missing and county code bad": _args_case(
            ["--config", "{tmp}/nowhere.toml", "--county-code", "1401055"],
            ("nowhere.toml", "'1401055'"),
            "--county-code",
        ),
        "demo seed not a number": lambda tmp: BadInput(
            ["demo", "--seed", "y", "--out", str(tmp / "o")], ("--seed", "'y'")
        ),
        "households without --roster": _args_case(
            ["--households", "{tmp}/h.csv"], ("--households", "--roster")
        ),
        "roster file missing": _args_case(
            ["--roster", "{tmp}/nowhere.xlsx"], ("nowhere.xlsx", "not found")
        ),
        "plan --geojson is a file": _output_case(
            "plan", lambda t, u: t / "plan.gpkg", ("--geojson", "is a file"), "--geojson", "{units}"
        ),
        "plan --geojson folder holds the input": _geojson_input_folder,
        "plan equivalency not csv": _output_case(
            "plan",
            lambda t, u: t / "plan.gpkg",
            ("eq.txt", ".csv", "--equivalency"),
            "--equivalency",
            "{tmp}/eq.txt",
        ),
        "plan report not a workbook": _output_case(
            "plan",
            lambda t, u: t / "plan.gpkg",
            ("report.csv", ".xlsx", "--report"),
            "--report",
            "{tmp}/report.csv",
        ),
        "plan report exists without --force": lambda tmp: _output_case(
            "plan",
            lambda t, u: t / "plan.gpkg",
            ("report.xlsx", "already exists", "--force"),
            "--report",
            str(_existing("report.xlsx")(tmp, tmp)),
        )(tmp),
        "grids out exists without --force": _output_case(
            "grids", _existing("old.gpkg"), ("already exists", "--force")
        ),
        "grids out is a context layer's file": _output_case(
            "grids",
            _existing("streets.gpkg"),
            ("also an input", "streets.gpkg"),
            "--streets",
            "{tmp}/streets.gpkg:streets",
        ),
        "reform seed not a number": _reform_case(["--seed", "z"], ("--seed", "'z'")),
        "reform band reversed": _reform_case(
            ["--min-households", "3000", "--max-households", "1000"], ("3000", "1000")
        ),
        "reform config unknown key": lambda tmp: _reform_case(
            ["--config", str(_write(tmp / "r.toml", "[reform]\nmin_househods = 3\n"))],
            ("min_househods",),
            "--config",
        )(tmp),
        "reform community column missing": lambda tmp: BadInput(
            [
                "reform",
                str(units_gpkg(tmp)),
                "--community-column",
                "村编码",
                "--out",
                str(tmp / "r.gpkg"),
            ],
            ("村编码",),
        ),
        "staff config unknown key": _staff_config_case,
    }
)


def _beside_households(flag: str, name: str) -> Callable[[Path], BadInput]:
    """``plan --roster R --households h.csv FLAG NAME``, where NAME is a file the roster run
    writes too (h.csv, or its workbook h.xlsx): refused, not overwritten."""

    def build(tmp: Path) -> BadInput:
        roster = _write(tmp / "roster.csv", "楼栋编号,户数\nu0,3\n")
        extra = ["--roster", str(roster), "--households", "{tmp}/h.csv", flag, f"{{tmp}}/{name}"]
        return _args_case(extra, (flag, "--households", name, "overwrite"))(tmp)

    return build


CASES.update(
    {
        # --- several outputs refused: every one named in one error, before any work -----------
        "plan out and report both exist without --force": lambda tmp: _output_case(
            "plan",
            _existing("old.gpkg"),
            ("old.gpkg", "old.xlsx", "already exists", "--force", "2 problems"),
            "--report",
            str(_existing("old.xlsx")(tmp, tmp)),
        )(tmp),
        "plan out exists and equivalency is the input": _output_case(
            "plan",
            _existing("old.gpkg"),
            ("old.gpkg", "already exists", "--equivalency", "units.gpkg"),
            "--equivalency",
            "{units}",
        ),
        "plan out a .shp and report not a workbook": _output_case(
            "plan",
            lambda t, u: t / "plan.shp",
            ("--out", "plan.shp", "--report", "report.csv", "2 problems"),
            "--report",
            "{tmp}/report.csv",
        ),
        "plan report is the household list's workbook": _beside_households("--report", "h.xlsx"),
        "plan equivalency is the household list": _beside_households("--equivalency", "h.csv"),
        "plan out, geojson and equivalency all refused": lambda tmp: _output_case(
            "plan",
            _existing("old.gpkg"),
            ("old.gpkg", "--geojson", "is a file", "eq.txt", "3 problems"),
            "--geojson",
            "{units}",
            "--equivalency",
            "{tmp}/eq.txt",
        )(tmp),
    }
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def build(case: str, tmp: Path) -> BadInput:
    """Write case ``case``'s files into ``tmp`` and return what the command must say."""
    return CASES[case](tmp)
