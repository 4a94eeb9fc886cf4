from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, box

from gridplan.errors import ValidationError
from gridplan.io import (
    FIXED_TIMESTAMP,
    X_NAMES,
    Y_NAMES,
    find_column,
    list_layers,
    parse_columns,
    pin_gpkg_timestamps,
    read_layer,
    read_table,
    write_layer,
)


@pytest.fixture
def points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "unit_id": ["a1", "a2", "a3"],
            "households": [120, 96, 48],
            "名称": ["太嘉小区", "绿军苑", "坞城"],
        },
        geometry=[Point(112.55, 37.80), Point(112.56, 37.81), Point(112.57, 37.79)],
        crs=4326,
    )


@pytest.fixture
def polygons(lattice_units) -> gpd.GeoDataFrame:
    return lattice_units(3, 2)


def assert_same(got: gpd.GeoDataFrame, want: gpd.GeoDataFrame, *, crs=None, tol=1e-6) -> None:
    assert got.crs == (crs or want.crs)
    assert len(got) == len(want)
    for col in want.columns.drop(want.geometry.name):
        assert got[col].tolist() == want[col].tolist(), col
    want_geom = want.geometry if crs is None else want.geometry.to_crs(crs)
    assert all(
        a.normalize().equals_exact(b.normalize(), tol)
        for a, b in zip(got.geometry, want_geom, strict=True)
    )


def test_gpkg_round_trip_with_several_layers(tmp_path, points, polygons):
    path = tmp_path / "plan.gpkg"
    write_layer(points, path, layer="units")
    write_layer(polygons, path, layer="blocks")
    assert list_layers(path) == ["units", "blocks"]
    assert_same(read_layer(path), points)  # default: the first layer
    assert_same(read_layer(path, layer="blocks"), polygons)


def test_gpkg_writes_a_named_index_as_a_column(tmp_path, points):
    path = write_layer(points.set_index("unit_id"), tmp_path / "u.gpkg")
    assert read_layer(path)["unit_id"].tolist() == ["a1", "a2", "a3"]


def test_geojson_round_trip_is_wgs84(tmp_path, polygons):
    path = write_layer(polygons, tmp_path / "blocks.geojson")
    back = read_layer(path)
    assert back.crs.to_epsg() == 4326  # RFC 7946
    assert_same(back, polygons, crs=back.crs, tol=1e-7)


def test_zipped_shapefile_round_trip(tmp_path, polygons):
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    polygons.to_file(shp_dir / "blocks.shp", engine="pyogrio")
    archive = tmp_path / "blocks.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in shp_dir.iterdir():
            zf.write(f, f"blocks/{f.name}")  # inside a folder, as desktop GIS zips often are
    assert list_layers(archive) == ["blocks"]
    assert_same(read_layer(archive), polygons)


def _gbk_shapefile_zip(tmp_path: Path, *, cpg: bool) -> Path:
    gdf = gpd.GeoDataFrame(
        {"楼号": ["1号楼", "2号楼"], "户数": [120, 96], "小区名称": ["太嘉小区", "千禧锦绣苑"]},
        geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)],
        crs=32649,
    )
    folder = tmp_path / ("with_cpg" if cpg else "no_cpg")
    folder.mkdir()
    pyogrio.write_dataframe(gdf, folder / "楼栋.shp", encoding="GBK")
    cpg_file = folder / "楼栋.cpg"
    if cpg:
        cpg_file.write_text("GBK")
    elif cpg_file.exists():
        cpg_file.unlink()
    raw = (folder / "楼栋.dbf").read_bytes()
    assert "户数".encode("gbk") in raw  # the attributes really are GBK, not UTF-8
    archive = tmp_path / f"{folder.name}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f.name)
    return archive


@pytest.mark.parametrize("cpg", [True, False])
def test_gbk_zipped_shapefile_with_chinese_attributes(tmp_path, cpg):
    archive = _gbk_shapefile_zip(tmp_path, cpg=cpg)
    gdf = read_layer(archive, columns={"户数": "households"})
    assert gdf["households"].tolist() == [120, 96]
    assert gdf["小区名称"].tolist() == ["太嘉小区", "千禧锦绣苑"]
    assert gdf["楼号"].tolist() == ["1号楼", "2号楼"]
    assert gdf.crs.to_epsg() == 32649


def test_explicit_wrong_encoding_is_a_clear_error(tmp_path):
    archive = _gbk_shapefile_zip(tmp_path, cpg=False)
    with pytest.raises(ValidationError, match="cannot decode"):
        read_layer(archive, encoding="UTF-8")


def test_geoparquet_round_trip(tmp_path, polygons):
    path = write_layer(polygons, tmp_path / "blocks.parquet")
    assert_same(read_layer(path), polygons)


def test_csv_round_trip_points_as_lon_lat(tmp_path, points):
    path = write_layer(points, tmp_path / "units.csv")
    table = pd.read_csv(path, encoding="utf-8-sig")
    assert {"lon", "lat"} <= set(table.columns)
    assert_same(read_layer(path), points)


def test_csv_round_trip_polygons_as_wkt_in_wgs84(tmp_path, polygons):
    path = write_layer(polygons, tmp_path / "blocks.csv")
    back = read_layer(path)
    assert back.crs.to_epsg() == 4326
    assert_same(back, polygons, crs=back.crs, tol=1e-7)


def test_csv_with_chinese_coordinate_columns_in_gb18030(tmp_path):
    path = tmp_path / "楼栋.csv"
    pd.DataFrame(
        {
            "楼号": ["1号楼", "2号楼"],
            "户数": [120, 96],
            "经度": [112.55, 112.56],
            "纬度": [37.80, 37.81],
        }
    ).to_csv(path, index=False, encoding="gb18030")
    gdf = read_layer(path)
    assert gdf.crs.to_epsg() == 4326
    assert gdf["楼号"].tolist() == ["1号楼", "2号楼"]
    assert gdf.geometry.x.tolist() == [112.55, 112.56]


def test_csv_projected_coordinates_need_crs(tmp_path):
    path = tmp_path / "pts.csv"
    pd.DataFrame({"X": [500_000.0], "Y": [4_180_000.0], "hh": [3]}).to_csv(path, index=False)
    gdf = read_layer(path, crs="EPSG:4547")
    assert gdf.crs.to_epsg() == 4547 and gdf.geometry.x.iloc[0] == 500_000.0


def test_xlsx_round_trip_with_named_columns(tmp_path, points):
    path = tmp_path / "units.xlsx"
    table = pd.DataFrame(points.drop(columns="geometry"))
    table["lng"] = points.geometry.x
    table["latitude"] = points.geometry.y
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        table.to_excel(xl, sheet_name="楼栋", index=False)
        table.head(1).to_excel(xl, sheet_name="other", index=False)
    assert list_layers(path) == ["楼栋", "other"]
    assert_same(read_layer(path), points)
    assert len(read_layer(path, layer="other")) == 1


def test_xlsx_explicit_x_y(tmp_path):
    path = tmp_path / "t.xlsx"
    pd.DataFrame({"E": [112.5], "N": [37.8], "户数": [10]}).to_excel(path, index=False)
    gdf = read_layer(path, x="E", y="N")
    assert (gdf.geometry.x.iloc[0], gdf.geometry.y.iloc[0]) == (112.5, 37.8)


def test_rows_without_coordinates_are_named(tmp_path):
    """A row without a place would be lost: it is refused, naming its line and cells."""
    path = tmp_path / "t.csv"
    pd.DataFrame({"lon": [112.5, np.nan], "lat": [37.8, 37.9]}).to_csv(path, index=False)
    with pytest.raises(ValidationError, match=r"rows 3: lon=empty, lat=37.9"):
        read_layer(path)


@pytest.mark.parametrize(
    ("name", "content", "check", "words"),
    [
        ("missing.gpkg", None, "missing_file", "file not found"),
        ("notes.docx", b"x", "unknown_format", "unknown file type"),
        ("table.csv", b"name,households\na,3\n", "no_coordinates", "coordinate columns"),
        ("broken.gpkg", b"not a geopackage", "unreadable", "cannot"),
        ("broken.zip", b"not a zip", "bad_zip", "not a readable zip"),
    ],
)
def test_reading_errors_are_validation_errors(tmp_path, name, content, check, words):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValidationError) as info:
        read_layer(path)
    assert info.value.problems[0].check == check
    assert words in str(info.value)


def test_missing_gpkg_layer_lists_the_layers(tmp_path, points):
    path = write_layer(points, tmp_path / "p.gpkg", layer="units")
    with pytest.raises(ValidationError, match=r"no layer 'blocks'.*units"):
        read_layer(path, layer="blocks")


def test_bundled_camden_sample_reads_in_british_national_grid(data_dir):
    gdf = read_layer(data_dir / "camden_sample.gpkg", layer="units")
    assert gdf.crs.to_epsg() == 27700 and gdf["households"].sum() == 10_701


# ---------------------------------------------------------------------------------------------
# the one table reader, the one column-mapping parser, GeoPackage timestamps
# ---------------------------------------------------------------------------------------------

ROSTER_TEXT = "姓名,岗位,户数\n张三,网格长,3\n李四,专职网格员,007\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_read_table_csv_in_every_office_encoding(tmp_path, encoding):
    path = tmp_path / "roster.csv"
    path.write_bytes(ROSTER_TEXT.encode(encoding))
    table = read_table(path, dtype=object)
    assert list(table.columns) == ["姓名", "岗位", "户数"]  # no BOM left on the first header
    assert table["姓名"].tolist() == ["张三", "李四"]
    assert table["户数"].tolist() == ["3", "007"]  # dtype=object keeps text as written


def test_read_table_gb18030_only_characters(tmp_path):
    path = tmp_path / "names.csv"
    path.write_bytes("名称\n𠀀小区\n".encode("gb18030"))  # outside GBK
    assert read_table(path)["名称"].tolist() == ["𠀀小区"]


def test_read_table_xlsx_sheet(tmp_path):
    path = tmp_path / "roster.xlsx"
    with pd.ExcelWriter(path) as xw:
        pd.DataFrame({"a": [1]}).to_excel(xw, sheet_name="first", index=False)
        pd.DataFrame({"姓名": ["王五"]}).to_excel(xw, sheet_name="人员", index=False)
    assert read_table(path).columns.tolist() == ["a"]
    assert read_table(path, sheet="人员")["姓名"].tolist() == ["王五"]


@pytest.mark.parametrize(
    ("name", "content", "check"),
    [
        ("bad.csv", "a,b\n1,2\n".encode("utf-16"), "encoding"),
        ("bad.xlsx", b"not a workbook", "unreadable"),
        ("map.gpkg", b"", "unknown_format"),
    ],
)
def test_read_table_errors(tmp_path, name, content, check):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValidationError) as err:
        read_table(path)
    assert err.value.problems[0].check == check
    with pytest.raises(ValidationError, match="not found"):
        read_table(tmp_path / "missing.csv")


def test_read_table_explicit_encoding_is_tried_alone(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(ROSTER_TEXT.encode("gbk"))
    with pytest.raises(ValidationError, match="utf-8"):
        read_table(path, encoding="utf-8")


def test_find_column_ignores_case_and_spaces():
    assert find_column(["ID", " Longitude ", "纬度"], X_NAMES) == " Longitude "
    assert find_column(["ID", " Longitude ", "纬度"], Y_NAMES) == "纬度"
    assert find_column(["ID"], X_NAMES) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("户数=households,楼号=unit_id", {"户数": "households", "楼号": "unit_id"}),
        ("户数 = households\n楼号 -> unit_id\n人口：population", None),
        ("户数=households，楼号=unit_id", {"户数": "households", "楼号": "unit_id"}),
        ("# only a note\n\n", {}),
        ("", {}),
        (None, {}),
    ],
)
def test_parse_columns_cli_and_app_forms(text, expected):
    if expected is None:
        expected = {"户数": "households", "楼号": "unit_id", "人口": "population"}
    assert parse_columns(text) == expected


def test_parse_columns_names_every_bad_entry():
    with pytest.raises(ValidationError) as err:
        parse_columns("户数=households,楼号,=unit_id\n人口 population\n户数=hh")
    messages = [p.message for p in err.value.problems]
    assert len(messages) == 4
    assert "'楼号'" in messages[0] and "'=unit_id'" in messages[1]
    assert "'人口 population'" in messages[2]
    assert "mapped twice" in messages[3] and "'households'" in messages[3]
    assert all(p.layer == "columns" for p in err.value.problems)


def test_gpkg_timestamps_are_pinned_in_the_file_not_in_gdal(tmp_path, points):
    a, b = tmp_path / "a.gpkg", tmp_path / "b.gpkg"
    # GDAL stamps the time of writing to the millisecond: unpinned, the files would differ
    write_layer(points, a, layer="units")
    write_layer(points, b, layer="units")
    assert a.read_bytes() == b.read_bytes()
    con = sqlite3.connect(a)
    stamps = {r[0] for r in con.execute("SELECT last_change FROM gpkg_contents")}
    con.close()
    assert stamps == {FIXED_TIMESTAMP}
    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") is None


def test_pin_gpkg_timestamps_rewrites_a_gdal_stamp(tmp_path, points):
    path = tmp_path / "p.gpkg"
    pyogrio.write_dataframe(points, path, layer="units", driver="GPKG")
    con = sqlite3.connect(path)
    (before,) = con.execute("SELECT last_change FROM gpkg_contents").fetchone()
    con.close()
    assert before != FIXED_TIMESTAMP
    pin_gpkg_timestamps(path)
    con = sqlite3.connect(path)
    (after,) = con.execute("SELECT last_change FROM gpkg_contents").fetchone()
    con.close()
    assert after == FIXED_TIMESTAMP
    assert read_layer(path, layer="units")["unit_id"].tolist() == ["a1", "a2", "a3"]
