"""The project's own bad-input corpus, through the Python API.

Every case is an input a planner (or an adversary) could hand gridplan: a broken file, a
layer with bad values, a rule of the wrong type, an output path that would destroy an input.
Each must end in a :class:`gridplan.ValidationError` whose message names the rows, columns or
keys concerned; any other exception type escaping fails the case. The hypothesis test at the
end throws random layers at :func:`gridplan.prepare_layers`: each must give a clear error or
valid layers that keep every household.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from badfiles import zip_with
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

import gridplan
from gridplan import config
from gridplan.config import (
    CodeRules,
    GridRules,
    MicroGridRules,
    PlanRules,
    ReformRules,
    SearchRules,
    StaffingRules,
    check_plan_arguments,
    read_rules,
)
from gridplan.io import check_output_path, extract_zip, output_format, read_layer, write_layer
from gridplan.layers import split_distant_parts

X0, Y0 = 500_000.0, 4_180_000.0  # UTM 49N, Taiyuan


def expect(call: Callable[[], Any], *needles: str) -> gridplan.ValidationError:
    """``call()`` raises a ValidationError whose message holds every needle."""
    with pytest.raises(gridplan.ValidationError) as info:
        call()
    text = str(info.value)
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text!r}"
    assert "Traceback" not in text
    return info.value


def units(n: int = 4, *, households: Any = 100, crs: Any = 32649, **cols: Any) -> gpd.GeoDataFrame:
    hh = households if isinstance(households, list) else [households] * n
    geoms = [box(X0 + 100 * i, Y0, X0 + 100 * (i + 1), Y0 + 100) for i in range(n)]
    data = {"unit_id": [f"u{i}" for i in range(n)], "households": hh, **cols}
    return gpd.GeoDataFrame(data, geometry=geoms, crs=crs)


def lonlat_points(xy: list[tuple[float, float]], **cols: Any) -> gpd.GeoDataFrame:
    data = {"unit_id": [f"p{i}" for i in range(len(xy))], "households": [50] * len(xy), **cols}
    return gpd.GeoDataFrame(data, geometry=[Point(x, y) for x, y in xy], crs=4326)


# ---------------------------------------------------------------------------------------------
# files: read_layer
# ---------------------------------------------------------------------------------------------


def _shapefile_zip(tmp: Path) -> Path:
    g = lonlat_points([(112.55, 37.87), (112.56, 37.87)])
    return write_layer(g, tmp / "good.zip", layer="units")


def _forged(tmp: Path) -> Path:
    data = bytearray(_shapefile_zip(tmp).read_bytes())
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) != -1:  # every central directory entry
        struct.pack_into("<I", data, pos + 24, 7)
        pos += 4
    pos = 0
    while (pos := data.find(b"PK\x03\x04", pos)) != -1:  # every local header
        struct.pack_into("<I", data, pos + 22, 7)
        pos += 4
    out = tmp / "forged.zip"
    out.write_bytes(bytes(data))
    return out


def _csv(tmp: Path, name: str, frame: pd.DataFrame) -> Path:
    out = tmp / name
    frame.to_csv(out, index=False)
    return out


def _xlsx_title_row(tmp: Path) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["迎泽区某社区住户统计表"])
    ws.append(["楼号", "户数", "经度", "纬度"])
    ws.append(["1", 120, 112.55, 37.87])
    out = tmp / "title.xlsx"
    wb.save(out)
    return out


def _xlsx_merged_header(tmp: Path) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["楼号", "户数", "坐标", None])
    ws.merge_cells("C1:D1")
    ws.append(["1", 120, 112.55, 37.87])
    out = tmp / "merged.xlsx"
    wb.save(out)
    return out


def _bytes(name: str, content: bytes) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        out = tmp / name
        out.write_bytes(content)
        return out

    return build


FILE_CASES: list[tuple[str, Callable[[Path], Path], dict[str, Any], tuple[str, ...]]] = [
    ("empty gpkg", _bytes("units.gpkg", b""), {}, ("is empty", "units.gpkg")),
    ("empty csv", _bytes("units.csv", b""), {}, ("is empty",)),
    ("empty geojson", _bytes("units.geojson", b""), {}, ("is empty",)),
    ("empty zip", _bytes("units.zip", b""), {}, ("is empty",)),
    ("empty xlsx", _bytes("units.xlsx", b""), {}, ("is empty",)),
    ("garbage gpkg", _bytes("units.gpkg", b"not a geopackage"), {}, ("cannot open",)),
    ("garbage geojson", _bytes("units.geojson", b"{not json"), {}, ("cannot read",)),
    ("garbage xlsx", _bytes("units.xlsx", b"PK not a workbook"), {}, ("Excel",)),
    ("not a zip", _bytes("units.zip", b"hello"), {}, ("not a readable zip",)),
    ("unknown type", _bytes("units.dwg", b"x"), {}, ("unknown file type", ".dwg")),
    ("missing file", lambda t: t / "nowhere.gpkg", {}, ("file not found",)),
    ("folder", lambda t: t, {}, ("is a folder",)),
    ("utf-16 csv", _bytes("u.csv", "lon,lat\n1,2\n".encode("utf-16")), {}, ("cannot decode",)),
    (
        "zip with ../ member",
        lambda t: zip_with(t, "up.zip", {"../../evil.shp": b"x"}),
        {},
        ("outside the archive", "../../evil.shp"),
    ),
    (
        "zip with absolute member",
        lambda t: zip_with(t, "abs.zip", {"/etc/units.shp": b"x"}),
        {},
        ("outside the archive", "/etc/units.shp"),
    ),
    (
        "zip with drive-letter member",
        lambda t: zip_with(t, "drive.zip", {"C:/units.shp": b"x"}),
        {},
        ("outside the archive",),
    ),
    ("zip with forged sizes", _forged, {}, ("forged.zip",)),
    (
        "zip without shapefile",
        lambda t: zip_with(t, "none.zip", {"readme.txt": b"x"}, keep_good=False),
        {},
        ("holds no .shp",),
    ),
    (
        "zip with a lone .shp",
        lambda t: zip_with(t, "lone.zip", {"units.shp": b"x"}, keep_good=False),
        {},
        (".shx and .dbf", "units.shp"),
    ),
    ("zip missing layer", _shapefile_zip, {"layer": "grids"}, ("no shapefile 'grids'", "units")),
    (
        "csv swapped lon/lat",
        lambda t: _csv(t, "s.csv", pd.DataFrame({"lon": [37.87, 37.9], "lat": [112.55, 112.6]})),
        {},
        ("look swapped", "'lat'", "'lon'"),
    ),
    (
        "csv longitude 512",
        lambda t: _csv(t, "r.csv", pd.DataFrame({"lon": [512.0, 112.5], "lat": [37.8, 37.8]})),
        {},
        ("beyond ±180", "rows 2", "512"),
    ),
    (
        "csv latitude 95 with ids",
        lambda t: _csv(
            t,
            "r.csv",
            pd.DataFrame({"unit_id": ["a", "b"], "lon": [112.5, 112.5], "lat": [95.0, 37.8]}),
        ),
        {},
        ("beyond ±90", "ids a"),
    ),
    (
        "csv projected metres read as degrees",
        lambda t: _csv(t, "p.csv", pd.DataFrame({"x": [448000.0], "y": [4417000.0]})),
        {},
        ("beyond ±180", "crs='EPSG:4547'"),
    ),
    (
        "csv degrees given a projected crs",
        lambda t: _csv(t, "d.csv", pd.DataFrame({"lon": [112.55, 112.56], "lat": [37.8, 37.9]})),
        {"crs": "EPSG:4547"},
        ("look like longitude/latitude degrees", "Gauss-Kruger"),
    ),
    (
        "csv bad crs",
        lambda t: _csv(t, "c.csv", pd.DataFrame({"x": [1.0], "y": [2.0]})),
        {"crs": "EPSG:99999999"},
        ("is not a coordinate reference system", "EPSG:4490"),
    ),
    (
        "csv no coordinate columns",
        lambda t: _csv(t, "n.csv", pd.DataFrame({"a": [1], "b": [2]})),
        {},
        ("cannot find the coordinate columns", "columns: a, b"),
    ),
    (
        "csv coordinates under unmapped names",
        lambda t: _csv(t, "m.csv", pd.DataFrame({"东经": [112.5], "北纬": [37.8]})),
        {},
        ("东经", "columns="),
    ),
    (
        "csv bad wkt",
        lambda t: _csv(t, "w.csv", pd.DataFrame({"geometry": ["POINT (1 2", "POINT (3 4)"]})),
        {},
        ("is not WKT", "geometry"),
    ),
    ("xlsx title row above header", _xlsx_title_row, {}, ("header row seems to be row 2",)),
    (
        "csv empty coordinate cell",
        lambda t: _csv(t, "e.csv", pd.DataFrame({"lon": [112.5, None], "lat": [37.8, 37.9]})),
        {},
        ("no usable coordinates", "rows 3", "lon=empty"),
    ),
    (
        "csv text coordinate cell",
        lambda t: _csv(
            t,
            "x.csv",
            pd.DataFrame({"unit_id": ["a", "b"], "lon": [112.5, "东经"], "lat": [37.8] * 2}),
        ),
        {},
        ("no usable coordinates", "ids b", "'东经'"),
    ),
    (
        "renaming onto an existing column as read",
        lambda t: _csv(
            t,
            "r.csv",
            pd.DataFrame({"lon": [112.5], "lat": [37.8], "户数": [3], "households": [3]}),
        ),
        {"columns": {"户数": "households"}},
        ("two columns named households", "`columns`"),
    ),
    (
        "csv coordinates mapped onto each other",
        lambda t: _csv(t, "m.csv", pd.DataFrame({"东经": [112.5], "北纬": [37.8]})),
        {"columns": {"东经": "lon", "北纬": "lon"}},
        ("two columns named lon",),
    ),
    ("xlsx merged header cells", _xlsx_merged_header, {}, ("unmerge",)),
]


@pytest.mark.parametrize(
    ("build", "kwargs", "needles"),
    [pytest.param(b, k, n, id=i) for i, b, k, n in FILE_CASES],
)
def test_bad_file(tmp_path, build, kwargs, needles):
    path = build(tmp_path)
    expect(lambda: read_layer(path, **kwargs), *needles)


def test_zip_extraction_is_capped(tmp_path, monkeypatch):
    import gridplan.io as gio

    path = _shapefile_zip(tmp_path)
    monkeypatch.setattr(gio, "MAX_ZIP_BYTES", 100)
    expect(lambda: read_layer(path), "unpacks to more than", "good.zip")


@pytest.mark.parametrize(
    ("build", "needles"),
    [
        pytest.param(_forged, ("sizes do not match",), id="forged sizes"),
        pytest.param(
            lambda t: zip_with(t, "up.zip", {"a/../../x.csv": b"x"}), ("outside",), id="../"
        ),
        pytest.param(_bytes("x.zip", b"PK\x03\x04junk"), ("damaged",), id="truncated"),
    ],
)
def test_upload_bytes_extract_safely(tmp_path, build, needles):
    """The app's upload path: a zip held in memory, extracted with every byte counted."""
    data = build(tmp_path).read_bytes()
    expect(lambda: extract_zip(data, tmp_path / "out"), *needles)


def test_compound_slivers_are_not_overlaps():
    compounds = gpd.GeoDataFrame(
        {"compound_id": ["k1", "k2"]},
        geometry=[box(X0, Y0, X0 + 200, Y0 + 100), box(X0 + 199.9, Y0, X0 + 400, Y0 + 100)],
        crs=32649,
    )
    layers = gridplan.prepare_layers(units(), compounds=compounds)
    assert list(layers.compounds.index) == ["k1", "k2"]


def test_gpkg_missing_layer(tmp_path):
    path = write_layer(units(), tmp_path / "u.gpkg", layer="units")
    expect(lambda: read_layer(path, layer="blocks"), "no layer 'blocks'", "units")


def test_cli_wording_of_a_read_fix(tmp_path):
    path = _csv(tmp_path, "s.csv", pd.DataFrame({"lon": [37.87], "lat": [112.55]}))
    err = expect(lambda: read_layer(path, interface="cli"), "--columns lat=lon,lon=lat")
    assert "columns={" not in str(err)


def test_good_zip_is_chosen_over_junk(tmp_path):
    path = zip_with(
        tmp_path,
        "junk.zip",
        {"__MACOSX/._units.shp": b"x", "a_junk.shp": b"x", ".hidden.shp": b"x"},
    )
    assert len(read_layer(path)) == 2


def test_mapping_names_coordinate_columns(tmp_path):
    path = _csv(tmp_path, "m.csv", pd.DataFrame({"东经": [112.5], "北纬": [37.8], "户数": [3]}))
    gdf = read_layer(path, columns={"东经": "lon", "北纬": "lat", "户数": "households"})
    assert gdf.geometry.iloc[0].equals(Point(112.5, 37.8))
    assert "households" in gdf.columns


@pytest.mark.parametrize("crs", ["EPSG:4490", "EPSG:4547"])
def test_table_coordinates_in_cgcs2000_or_projected(tmp_path, crs):
    xy = (112.5, 37.8) if crs == "EPSG:4490" else (448000.0, 4417000.0)
    path = _csv(tmp_path, "c.csv", pd.DataFrame({"x": [xy[0]], "y": [xy[1]]}))
    gdf = read_layer(path, crs=crs)
    assert gdf.crs.to_epsg() == int(crs.split(":")[1])


# ---------------------------------------------------------------------------------------------
# layers: prepare_layers and plan
# ---------------------------------------------------------------------------------------------


def _invalid_bowtie() -> gpd.GeoDataFrame:
    g = units(2)
    g.loc[1, "geometry"] = Polygon([(X0, Y0), (X0 + 10, Y0 + 10), (X0 + 10, Y0), (X0, Y0 + 10)])
    return g


def _distant() -> gpd.GeoDataFrame:
    g = units(2)
    g.loc[0, "geometry"] = MultiPolygon(
        [box(X0, Y0, X0 + 50, Y0 + 50), box(X0 + 900, Y0, X0 + 950, Y0 + 50)]
    )
    return g


def _set(g: gpd.GeoDataFrame, row: int, col: str, value: Any) -> gpd.GeoDataFrame:
    g = g.copy()
    if col not in g.columns:
        g[col] = None
    g[col] = g[col].astype(object)
    g.loc[row, col] = value
    return g


LAYER_CASES: list[tuple[str, Callable[[], dict[str, Any]], tuple[str, ...]]] = [
    (
        "no households column",
        lambda: {"units": units().drop(columns="households")},
        ("households",),
    ),
    (
        "households under another name",
        lambda: {"units": units().rename(columns={"households": "户数"})},
        ("户数", "columns={'户数': 'households'}"),
    ),
    (
        "true/false households",
        lambda: {"units": units(households=[True, False, 3, 4])},
        ("true/false", "u0, u1"),
    ),
    (
        "negative households",
        lambda: {"units": units(households=[-3, 10, 10, 10])},
        ("negative", "u0"),
    ),
    (
        "fractional households",
        lambda: {"units": units(households=[2.5, 10, 10, 10])},
        ("non-integer", "u0"),
    ),
    ("nan households", lambda: {"units": units(households=[math.nan, 10, 10, 10])}, ("NaN", "u0")),
    (
        "infinite households",
        lambda: {"units": units(households=[math.inf, 10, 10, 10])},
        ("infinite", "u0"),
    ),
    (
        "text households",
        lambda: {"units": units(households=["many", 10, 10, 10])},
        ("not a number", "u0"),
    ),
    (
        "duplicate ids",
        lambda: {"units": units().assign(unit_id=["a", "a", "b", "c"])},
        ("more than once", "a"),
    ),
    ("missing ids", lambda: {"units": _set(units(), 2, "unit_id", None)}, ("no id", "row 2")),
    ("null geometry", lambda: {"units": _set(units(), 1, "geometry", None)}, ("no geometry", "u1")),
    (
        "empty geometry",
        lambda: {"units": _set(units(), 1, "geometry", Polygon())},
        ("empty geometry", "u1"),
    ),
    (
        "invalid geometry",
        lambda: {"units": _invalid_bowtie()},
        ("invalid geometry", "u1", "fix_invalid=True"),
    ),
    (
        "3-D geometry",
        lambda: {"units": _set(units(), 0, "geometry", Point(X0, Y0, 10))},
        ("(Z)", "u0"),
    ),
    (
        "lines as units",
        lambda: {"units": _set(units(), 0, "geometry", LineString([(X0, Y0), (X0 + 1, Y0)]))},
        ("LineString", "u0"),
    ),
    (
        "points among polygons",
        lambda: {"units": _set(units(), 0, "geometry", Point(X0 + 5, Y0 + 5))},
        ("points while", "u0"),
    ),
    ("no crs", lambda: {"units": units(crs=None)}, ("no CRS",)),
    ("empty layer", lambda: {"units": units().iloc[:0]}, ("no rows",)),
    (
        "not a GeoDataFrame",
        lambda: {"units": pd.DataFrame({"households": [1]})},
        ("GeoDataFrame", "DataFrame"),
    ),
    (
        "swapped lon/lat in a GeoDataFrame",
        lambda: {"units": lonlat_points([(37.87, 112.55), (37.88, 112.56)])},
        ("look swapped", "p0"),
    ),
    (
        "longitude 512 in a GeoDataFrame",
        lambda: {"units": lonlat_points([(512.0, 37.8), (112.5, 37.8)])},
        ("beyond ±180", "p0"),
    ),
    (
        "latitude -95 in a context layer",
        lambda: {
            "units": lonlat_points([(112.5, 37.8)]),
            "communities": gpd.GeoDataFrame(
                {"community_id": ["c1"]}, geometry=[box(112, -95, 113, 38)], crs=4326
            ),
        },
        ("[communities]", "beyond ±90", "c1"),
    ),
    (
        "degrees in a projected GeoDataFrame",
        lambda: {
            "units": lonlat_points([(112.55, 37.87), (112.56, 37.88)]).set_crs(
                32649, allow_override=True
            )
        },
        ("look like longitude/latitude degrees", "UTM zone 49N", "set_crs"),
    ),
    (
        "distant MultiPolygon part",
        lambda: {"units": _distant()},
        ("more than 100 m", "u0", "fix_invalid=True"),
    ),
    (
        "overlapping compounds",
        lambda: {
            "units": units(),
            "compounds": gpd.GeoDataFrame(
                {"compound_id": ["k1", "k2"]},
                geometry=[box(X0, Y0, X0 + 200, Y0 + 100), box(X0 + 150, Y0, X0 + 400, Y0 + 100)],
                crs=32649,
            ),
        },
        ("overlap", "k1 and k2", "5,000 m²"),
    ),
    (
        "dedicated area covering every household",
        lambda: {
            "units": units(),
            "dedicated": gpd.GeoDataFrame(
                {"dedicated_id": ["d1"]},
                geometry=[box(X0 - 10, Y0 - 10, X0 + 500, Y0 + 200)],
                crs=32649,
            ),
        },
        ("d1 (100%)", "dedicated"),
    ),
    (
        "many units at one point",
        lambda: {"units": lonlat_points([(112.55, 37.87)] * 12)},
        ("12 at one place", "p0"),
    ),
    (
        "units outside the communities",
        lambda: {
            "units": units(),
            "communities": gpd.GeoDataFrame(
                {"community_id": ["c1"]}, geometry=[box(X0, Y0, X0 + 100, Y0 + 100)], crs=32649
            ),
        },
        ("outside every community", "u1"),
    ),
    (
        "renaming onto an existing column",
        lambda: {"units": units().assign(户数=1), "columns": {"户数": "households"}},
        ("two columns named households",),
    ),
    (
        "bad gated value",
        lambda: {"units": units().assign(gated=["yes", "maybe", "no", "no"])},
        ("yes/no", "u1"),
    ),
    (
        "text population",
        lambda: {"units": units().assign(population=["x", 1, 1, 1])},
        ("population", "u0"),
    ),
    (
        "source_crs on a projected layer",
        lambda: {"units": units(), "source_crs": "gcj02"},
        ("converting from gcj02", "projected", "drop source_crs"),
    ),
    (
        "population plan without population",
        lambda: {"units": units(), "balance": "population"},
        ("`population` column",),
    ),
    (
        "polygon barriers",
        lambda: {
            "units": units(),
            "barriers": gpd.GeoDataFrame(
                {"barrier_id": ["r1"]}, geometry=[box(0, 0, 1, 1)], crs=32649
            ),
        },
        ("[barriers]", "r1", "lines"),
    ),
    (
        "point compounds",
        lambda: {
            "units": units(),
            "compounds": gpd.GeoDataFrame(
                {"compound_id": ["k1"]}, geometry=[Point(X0, Y0)], crs=32649
            ),
        },
        ("[compounds]", "k1", "polygons"),
    ),
    (
        "a unit of a billion households",
        lambda: {"units": units(households=[10**9, 10, 10, 10]), "rules": PlanRules()},
        ("u0", "1,000,000,000", "001-900"),
    ),
    (
        # issue 14: 100,000 units at one place ran past 300 s; refused before any cell is drawn
        "100,000 identical points",
        lambda: {
            "units": gpd.GeoDataFrame(
                {"unit_id": [f"u{i}" for i in range(100_000)], "households": [10] * 100_000},
                geometry=[Point(X0, Y0)] * 100_000,
                crs=32649,
            )
        },
        ("[units]", "100000 units share 1 location", "u0", "99995 more"),
    ),
    (
        "5,000 points within 1 cm",
        lambda: {
            "units": gpd.GeoDataFrame(
                {"unit_id": [f"u{i}" for i in range(5_000)], "households": [10] * 5_000},
                geometry=[Point(X0 + (i % 10) * 1e-3, Y0) for i in range(5_000)],
                crs=32649,
            )
        },
        ("[units]", "5000 units share", "within 1 m"),
    ),
    (
        "a community needing more grids than codes",
        lambda: {"units": units(households=[200_000] * 4), "rules": PlanRules()},
        ("(none)", "1,600 grids", "3-digit"),
    ),
]


@pytest.mark.parametrize(
    ("build", "needles"),
    [pytest.param(b, n, id=i) for i, b, n in LAYER_CASES],
)
def test_bad_layers(build, needles):
    kwargs = build()
    layer = kwargs.pop("units")
    before = layer.copy() if isinstance(layer, pd.DataFrame) else None
    expect(lambda: gridplan.prepare_layers(layer, **kwargs), *needles)
    if before is not None:  # inputs are never mutated, even when refused
        pd.testing.assert_frame_equal(pd.DataFrame(layer), pd.DataFrame(before))


@pytest.mark.parametrize(
    ("build", "needles"),
    [
        pytest.param(b, n, id=i)
        for i, b, n in LAYER_CASES
        if i
        in (
            "true/false households",
            "swapped lon/lat in a GeoDataFrame",
            "distant MultiPolygon part",
        )
    ],
)
def test_bad_layers_through_plan(build, needles):
    kwargs = build()
    expect(lambda: gridplan.plan(kwargs.pop("units"), **kwargs), *needles)


def test_cli_wording_of_a_layer_fix():
    err = expect(
        lambda: gridplan.prepare_layers(_invalid_bowtie(), interface="cli"), "--fix-invalid"
    )
    assert "fix_invalid=True" not in str(err)


def test_fix_invalid_splits_distant_parts_and_keeps_households():
    layers = gridplan.prepare_layers(_distant(), fix_invalid=True)
    assert sorted(layers.units.index) == ["u0.1", "u0.2", "u1"]
    assert int(layers.units["households"].sum()) == 200
    assert split_distant_parts(units()).equals(units())


def test_web_mercator_units_plan_in_their_utm_zone():
    from gridplan.crs import working_crs

    g = units(crs=32649).to_crs(3857)
    assert working_crs(g).to_epsg() == 32649


# ---------------------------------------------------------------------------------------------
# rules and arguments
# ---------------------------------------------------------------------------------------------

RULE_CASES: list[tuple[str, Callable[[], Any], tuple[str, ...]]] = [
    (
        "grid min text",
        lambda: GridRules(min_households="300"),
        ("min_households", '"300" (text)', "whole number"),
    ),
    ("grid min nan", lambda: GridRules(min_households=math.nan), ("min_households", "nan")),
    ("grid min inf", lambda: GridRules(min_households=math.inf), ("min_households", "inf")),
    ("grid min True", lambda: GridRules(min_households=True), ("min_households", "true")),
    (
        "grid max below min",
        lambda: GridRules(min_households=500, max_households=300),
        ("grid band", "max_households=300 and min_households=500"),
    ),
    ("grid min zero", lambda: GridRules(min_households=0), ("must be positive",)),
    (
        "grid barrier classes text",
        lambda: GridRules(barrier_classes="mx"),
        ("barrier_classes", "list of texts"),
    ),
    ("grid balance", lambda: GridRules(balance="people"), ("balance", '"people"')),
    ("grid search not rules", lambda: GridRules(search=5), ("search", "SearchRules")),
    (
        "grid dedicated_merge_m nan",
        lambda: GridRules(dedicated_merge_m=math.nan),
        ("dedicated_merge_m", "finite"),
    ),
    ("micro max text", lambda: MicroGridRules(max_households="50"), ("max_households", '"50"')),
    (
        "micro band reversed",
        lambda: MicroGridRules(min_households=50, max_households=30),
        ("micro-grid band", "max_households=30"),
    ),
    ("search enum_max text", lambda: SearchRules(enum_max="8"), ("enum_max", '"8"')),
    ("codes county int", lambda: CodeRules(county_code=140106), ("county_code", "text")),
    ("codes county letters", lambda: CodeRules(county_code="abcdef"), ("county_code", "6 digits")),
    (
        "plan household_size nan",
        lambda: PlanRules(household_size=math.nan),
        ("household_size", "finite"),
    ),
    ("plan grid not rules", lambda: PlanRules(grid="300-500"), ("grid", "GridRules")),
    (
        "staffing bool count",
        lambda: StaffingRules(branch_min_members=True),
        ("branch_min_members",),
    ),
    ("reform min text", lambda: ReformRules(min_households="1000"), ("min_households", '"1000"')),
    (
        "toml text count",
        lambda: read_rules({"grid": {"min_households": "300"}}),
        ("[grid] min_households",),
    ),
    ("toml unknown key", lambda: read_rules({"grid": {"min_househods": 300}}), ("min_househods",)),
    (
        "toml missing file",
        lambda: read_rules(Path("/nonexistent/rules.toml")),
        ("rules file not found",),
    ),
    ("rules abc", lambda: check_plan_arguments(rules="abc"), ("`rules`", "'abc'", "PlanRules")),
    ("seed text", lambda: check_plan_arguments(seed="x"), ("`seed`", "'x'")),
    ("seed True", lambda: check_plan_arguments(seed=True), ("`seed`", "True")),
    ("seed negative", lambda: check_plan_arguments(seed=-1), ("`seed`", "-1")),
    ("engine unknown", lambda: check_plan_arguments(engine="gpu"), ("`engine`", "'gpu'", "'dask'")),
    (
        "columns not a mapping",
        lambda: check_plan_arguments(columns="户数=households"),
        ("`columns`", "'户数=households'", "{'户数': 'households'}"),
    ),
    (
        "columns to a number",
        lambda: check_plan_arguments(columns={"户数": 3}),
        ("`columns`", "{'户数': 3}"),
    ),
    (
        "source_crs unknown",
        lambda: check_plan_arguments(source_crs="baidu"),
        ("`source_crs`", "'baidu'", "'bd09'"),
    ),
    ("locks not a mapping", lambda: check_plan_arguments(locks="A"), ("`locks`", "'A'")),
    ("progress not callable", lambda: check_plan_arguments(progress=5), ("`progress`", "5")),
    (
        "micro band above the grid band",
        lambda: PlanRules(microgrid=MicroGridRules(min_households=400, max_households=600)),
        ("[microgrid] band 400-600", "300..399"),
    ),
    (
        "plan with columns not a mapping",
        lambda: gridplan.plan(units(), columns="户数=households"),
        ("`columns`",),
    ),
    (
        "prepare_layers with an unknown source_crs",
        lambda: gridplan.prepare_layers(units(), source_crs="gaode"),
        ("`source_crs`", "'gaode'"),
    ),
    (
        "redivide rules abc",
        lambda: gridplan.redivide(
            units(),
            communities=gpd.GeoDataFrame(
                {"community_id": ["c"]}, geometry=[box(X0, Y0, X0 + 400, Y0 + 100)], crs=32649
            ),
            rules="abc",
        ),
        ("`rules`", "'abc'", "ReformRules"),
    ),
    (
        "cells in Web Mercator",
        lambda: gridplan.stages.build_cells(gridplan.prepare_layers(units()), work_crs=3857),
        ("`work_crs`", "EPSG:3857", "1/cos(latitude)"),
    ),
    (
        "cells in degrees",
        lambda: gridplan.stages.dedicated_homes(gridplan.prepare_layers(units()), work_crs=4326),
        ("`work_crs`", "EPSG:4326", "degrees"),
    ),
    (
        "plan with locks not a mapping",
        lambda: gridplan.plan(units(), locks="A"),
        ("`locks`",),
    ),
    (
        "plan rules for grid rules",
        lambda: check_plan_arguments(rules=PlanRules(), expected=GridRules),
        ("GridRules", "rules.grid"),
    ),
]


@pytest.mark.parametrize(
    ("call", "needles"),
    [pytest.param(c, n, id=i) for i, c, n in RULE_CASES],
)
def test_bad_rules(call, needles):
    expect(call, *needles)


def test_bad_toml_file(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text("[grid\nmin_households = 3", encoding="utf-8")
    expect(lambda: read_rules(path), "rules.toml", "TOML")


def test_rule_values_are_stored_canonically():
    r = GridRules(min_households=np.int64(200), max_households=400.0, barrier_classes=["river"])
    assert (r.min_households, r.max_households, r.barrier_classes) == (200, 400, ("river",))
    assert type(r.min_households) is int
    hash(r)
    check_plan_arguments(rules=None, seed=np.int64(3), engine="dask")


# ---------------------------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------------------------

OUTPUT_CASES: list[tuple[str, str, list[str], bool, tuple[str, ...]]] = [
    ("output is the input", "in.gpkg", ["in.gpkg"], True, ("also an input",)),
    ("output is a path:layer input", "in.gpkg", ["{tmp}/in.gpkg:units"], True, ("also an input",)),
    ("output exists", "old.gpkg", [], False, ("already exists", "force=True")),
    ("shapefile name", "grids.shp", [], False, ("several files", "grids.zip")),
    ("unknown extension", "grids.dwg", [], False, ("unknown output type", ".dwg")),
    ("no extension", "grids", [], False, ("unknown output type",)),
    ("missing folder", "nowhere/plan.gpkg", [], False, ("does not exist",)),
]


@pytest.mark.parametrize(
    ("out", "inputs", "force", "needles"),
    [pytest.param(o, i, f, n, id=c) for c, o, i, f, n in OUTPUT_CASES],
)
def test_bad_output(tmp_path, out, inputs, force, needles):
    (tmp_path / "in.gpkg").write_bytes(b"data")
    (tmp_path / "old.gpkg").write_bytes(b"data")
    ins = [i.format(tmp=tmp_path) if "{tmp}" in i else tmp_path / i for i in inputs]
    expect(lambda: check_output_path(tmp_path / out, inputs=ins, force=force), *needles)
    assert (tmp_path / "in.gpkg").read_bytes() == b"data"


def test_output_through_a_link_to_the_input(tmp_path):
    src = tmp_path / "in.gpkg"
    src.write_bytes(b"data")
    link = tmp_path / "link.gpkg"
    link.symlink_to(src)
    expect(lambda: check_output_path(link, inputs=[src], force=True), "also an input")


def test_force_allows_overwriting_a_non_input(tmp_path):
    (tmp_path / "old.gpkg").write_bytes(b"data")
    assert check_output_path(tmp_path / "old.gpkg", inputs=[], force=True).name == "old.gpkg"
    assert output_format("a.GPKG") == "gpkg"


def test_interrupted_gpkg_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = write_layer(units(), tmp_path / "plan.gpkg", layer="units")
    before = path.read_bytes()
    import gridplan.io as gio

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gio, "pin_gpkg_timestamps", boom)
    with pytest.raises(KeyboardInterrupt):
        gio.write_gpkg(path, {"grids": units()})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.gpkg"]


def test_zipped_shapefile_output_round_trips(tmp_path):
    path = write_layer(units(), tmp_path / "grids.zip", layer="grids")
    back = read_layer(path)
    assert back["households"].tolist() == [100] * 4


# ---------------------------------------------------------------------------------------------
# fuzzing prepare_layers
# ---------------------------------------------------------------------------------------------

CRSS = [32649, 4326, 4490, 3857, 4547, None]


@st.composite
def random_layers(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(min_value=0, max_value=8))
    crs = draw(st.sampled_from(CRSS))
    kind = draw(st.sampled_from(["point", "box", "multi", "mixed", "junk"]))
    if crs in (4326, 4490):
        x0, y0, step = draw(
            st.sampled_from([(112.5, 37.8, 0.001), (37.8, 112.5, 0.001), (500.0, 30.0, 1.0)])
        )
    elif crs == 3857:
        x0, y0, step = 12_523_000.0, 4_553_000.0, 120.0
    else:
        x0, y0, step = X0, Y0, 100.0
    geoms: list[Any] = []
    for i in range(n):
        x, y = x0 + step * i, y0 + step * draw(st.integers(0, 2))
        k = kind if kind != "mixed" else draw(st.sampled_from(["point", "box", "junk"]))
        if k == "point":
            geoms.append(Point(x, y))
        elif k == "box":
            geoms.append(box(x, y, x + step * 0.9, y + step * 0.9))
        elif k == "multi":
            far = draw(st.sampled_from([0.5, 20.0]))
            geoms.append(
                MultiPolygon(
                    [
                        box(x, y, x + step * 0.4, y + step * 0.4),
                        box(x + step * far, y, x + step * (far + 0.4), y + step * 0.4),
                    ]
                )
            )
        else:
            geoms.append(
                draw(
                    st.sampled_from(
                        [
                            None,
                            Polygon(),
                            LineString([(x, y), (x + 1, y)]),
                            Polygon([(x, y), (x + 1, y + 1), (x + 1, y), (x, y + 1)]),
                        ]
                    )
                )
            )
    hh_values = st.one_of(
        st.integers(min_value=-5, max_value=600),
        st.sampled_from([math.nan, math.inf, True, "12", "x", None, 2.5, 10**9]),
    )
    ids = draw(
        st.lists(
            st.sampled_from(["a", "b", "1", "1.0", 1, 2.0, None, " ", "u5"]), min_size=n, max_size=n
        )
    )
    unique = draw(st.booleans())
    frame = {
        "unit_id": [f"u{i}" for i in range(n)] if unique else ids,
        "households": draw(st.lists(hh_values, min_size=n, max_size=n)),
    }
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, dtype="geometry"), crs=crs)
    return {
        "units": gdf,
        "fix_invalid": draw(st.booleans()),
        "rules": draw(st.sampled_from([None, PlanRules()])),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_layers())
def test_fuzz_prepare_layers(case):
    units_in = case["units"]
    before = units_in.copy()
    try:
        layers = gridplan.prepare_layers(
            units_in, fix_invalid=case["fix_invalid"], rules=case["rules"]
        )
    except gridplan.ValidationError as exc:
        event("refused")
        assert exc.problems and all(p.message for p in exc.problems)
    else:
        event("prepared")
        out = layers.units
        assert out.index.is_unique
        expected = pd.to_numeric(units_in["households"]).sum()
        assert int(out["households"].sum()) == int(expected)
        assert (out["households"] >= 0).all()
        assert not shapely.is_missing(out.geometry.to_numpy()).any()
    pd.testing.assert_frame_equal(pd.DataFrame(units_in), pd.DataFrame(before))


def test_corpus_size():
    n = len(FILE_CASES) + len(LAYER_CASES) + len(RULE_CASES) + len(OUTPUT_CASES)
    assert n >= 60
    assert config.ENGINES == ("single", "dask")


@st.composite
def random_plans(draw: st.DrawFn) -> tuple[gpd.GeoDataFrame, int]:
    nx = draw(st.integers(min_value=1, max_value=4))
    ny = draw(st.integers(min_value=1, max_value=4))
    hh = draw(
        st.lists(
            st.one_of(st.integers(min_value=0, max_value=250), st.sampled_from([-1, True, 1e12])),
            min_size=nx * ny,
            max_size=nx * ny,
        )
    )
    geoms = [
        box(X0 + 100 * c, Y0 + 100 * r, X0 + 100 * (c + 1), Y0 + 100 * (r + 1))
        for r in range(ny)
        for c in range(nx)
    ]
    g = gpd.GeoDataFrame(
        {"unit_id": [f"u{k}" for k in range(nx * ny)], "households": hh}, geometry=geoms, crs=32649
    )
    crs = draw(st.sampled_from([32649, 4326, 4490, 3857]))
    return (g if crs == 32649 else g.to_crs(crs)), draw(st.integers(0, 3))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_plans())
def test_fuzz_plan(case):
    """Random layers through gridplan.plan: a clear error, or a plan that keeps every
    household, puts each unit in one grid, has no overlapping grids and is deterministic."""
    units_in, seed = case
    try:
        # the plan-size checks need the rules; prepared layers are planned as they are
        layers = gridplan.prepare_layers(units_in, rules=PlanRules())
        result = gridplan.plan(layers, seed=seed)
    except gridplan.ValidationError as exc:
        event("refused")
        assert exc.problems
        return
    event("planned")
    total = int(pd.to_numeric(units_in["households"]).sum())
    assert int(result.grids["households"].sum()) == total
    assert int(result.units["households"].sum()) == total
    assert result.units["grid_code"].notna().all()
    geoms = result.grids.geometry.to_numpy()
    union = shapely.union_all(geoms)
    assert shapely.area(geoms).sum() == pytest.approx(union.area, rel=1e-6)
    again = gridplan.plan(gridplan.prepare_layers(units_in, rules=PlanRules()), seed=seed)
    pd.testing.assert_frame_equal(pd.DataFrame(result.grids), pd.DataFrame(again.grids))


@pytest.mark.parametrize("role", ["communities", "streets"])
def test_overlapping_communities_or_streets_name_both_ids_and_the_area(role):
    id_col = {"communities": "community_id", "streets": "street_id"}[role]
    areas = gpd.GeoDataFrame(
        {id_col: ["a", "b"]},
        geometry=[box(X0, Y0, X0 + 300, Y0 + 100), box(X0 + 200, Y0, X0 + 400, Y0 + 100)],
        crs=32649,
    )
    expect(
        lambda: gridplan.prepare_layers(units(), **{role: areas}),
        f"[{role}]",
        "a and b (10,000 m²)",
        f"Clip the {role}",
    )


@pytest.fixture(scope="module")
def small_plan() -> gridplan.Plan:
    return gridplan.plan(units(8, households=60))


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("equivalency.csv", lambda plan, p: gridplan.export.write_equivalency(plan, p)),
        ("report.xlsx", lambda plan, p: gridplan.export.write_report_xlsx(plan, p)),
        ("plan.gpkg", lambda plan, p: gridplan.export.write_geopackage(plan, p)),
        ("grids.geojson", lambda plan, p: gridplan.export.write_geojson(plan, p.parent)),
        ("grids.csv", lambda plan, p: write_layer(plan.grids, p)),
        ("grids.zip", lambda plan, p: write_layer(plan.grids, p)),
    ],
)
def test_every_writer_leaves_the_old_file_when_interrupted(
    small_plan, tmp_path, monkeypatch, name, write
):
    """Each output is written to a temporary file and renamed: a run stopped before the
    rename leaves the earlier file byte for byte, and no temporary file behind."""
    import gridplan.io as gio

    path = tmp_path / name
    path.write_bytes(b"an earlier result")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gio.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write(small_plan, path)
    assert path.read_bytes() == b"an earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    monkeypatch.undo()
    write(small_plan, path)  # and without the interruption the file is replaced
    assert path.read_bytes() != b"an earlier result"
