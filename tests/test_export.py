"""Exports: RFC 7946 GeoJSON, GeoPackage round trip, equivalency CSV, Excel report."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import geopandas as gpd
import geopandas.testing
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon, box

from gridplan.config import PlanRules
from gridplan.export import (
    summary_table,
    text_width,
    write_equivalency,
    write_geojson,
    write_geopackage,
    write_report_xlsx,
    write_workbook,
)
from gridplan.layers import Layers
from gridplan.pipeline import Plan
from gridplan.report import plan_report

CRS = "EPSG:32649"  # UTM 49N, Taiyuan
X0, Y0 = 500_000.0, 4_180_000.0


def _cw(poly: Polygon) -> Polygon:
    """The polygon with a clockwise exterior and counter-clockwise holes (the wrong way round
    for RFC 7946), so the writer has to fix it."""
    return shapely.orient_polygons(poly, exterior_cw=True)


def hand_plan() -> Plan:
    """Two residential grids (one with a courtyard hole, one a MultiPolygon) and a dedicated
    grid; four micro-grids; five units, one building split across two micro-grids."""
    g1 = Polygon(
        [(X0, Y0), (X0 + 200, Y0), (X0 + 200, Y0 + 200), (X0, Y0 + 200)],
        holes=[
            [(X0 + 80, Y0 + 80), (X0 + 80, Y0 + 120), (X0 + 120, Y0 + 120), (X0 + 120, Y0 + 80)]
        ],
    )
    g2 = MultiPolygon([box(X0 + 200, Y0, X0 + 400, Y0 + 200), box(X0 + 420, Y0, X0 + 460, Y0 + 40)])
    g3 = box(X0, Y0 + 200, X0 + 400, Y0 + 300)
    grids = gpd.GeoDataFrame(
        {
            "grid_code": ["140106001001001", "140106001001002", "140106001001901"],
            "community_code": ["140106001001"] * 3,
            "community_id": ["C1"] * 3,
            "street_id": ["S1"] * 3,
            "kind": ["residential", "residential", "dedicated"],
            "category": ["residential", "residential", "school"],
            "name": ["", "", "第一中学"],
            "households": [80, 90, 5],
            "population": [224.0, 252.0, np.nan],
            "population_estimated": [True, True, True],
            "party_members": [np.nan, 3.0, np.nan],
            "n_units": [2, 2, 1],
            "n_microgrids": [2, 2, 0],
            "in_band": [True, True, True],
            "deviation": [-0.8, -0.775, np.nan],
            "compactness": [0.7, 0.5, 0.6],
        },
        geometry=[_cw(g1), g2, _cw(g3)],
        crs=CRS,
    )
    micro = gpd.GeoDataFrame(
        {
            "microgrid_code": [
                "140106001001001001",
                "140106001001001002",
                "140106001001002001",
                "140106001001002002",
            ],
            "grid_code": ["140106001001001"] * 2 + ["140106001001002"] * 2,
            "community_id": ["C1"] * 4,
            "households": [40, 40, 45, 45],
            "population": [112.0, 112.0, 126.0, 126.0],
            "n_units": [1, 2, 1, 1],
            "in_band": [True] * 4,
            "compactness": [0.6] * 4,
        },
        geometry=[
            _cw(box(X0, Y0, X0 + 100, Y0 + 200)),
            box(X0 + 100, Y0, X0 + 200, Y0 + 200),
            box(X0 + 200, Y0, X0 + 300, Y0 + 200),
            MultiPolygon(
                [box(X0 + 300, Y0, X0 + 400, Y0 + 200), box(X0 + 420, Y0, X0 + 460, Y0 + 40)]
            ),
        ],
        crs=CRS,
    )
    units = gpd.GeoDataFrame(
        {
            "households": [40, 40, 45, 45, 5],
            "population": [np.nan] * 5,
            "community_id": ["C1"] * 5,
            "street_id": ["S1"] * 5,
            "楼栋名称": ["1号楼", "2号楼", "3号楼", "4号楼", "教学楼"],
            "grid_code": ["140106001001001"] * 2 + ["140106001001002"] * 2 + ["140106001001901"],
            "microgrid_code": [
                "140106001001001001",
                "140106001001001002",
                "140106001001002001",
                "140106001001002002",
                None,
            ],
            "n_parts": [1, 1, 1, 1, 1],
        },
        index=pd.Index(["b1", "b2", "b3", "b4", "s1"], name="unit_id"),
        geometry=[
            box(X0 + 10, Y0 + 10, X0 + 60, Y0 + 60),
            box(X0 + 130, Y0 + 10, X0 + 180, Y0 + 60),
            box(X0 + 210, Y0 + 10, X0 + 260, Y0 + 60),
            box(X0 + 310, Y0 + 10, X0 + 360, Y0 + 60),
            box(X0 + 10, Y0 + 210, X0 + 60, Y0 + 260),
        ],
        crs=CRS,
    )
    # b1 is a long building cut by stairwell into both micro-grids of grid 001
    units.loc["b1", "microgrid_code"] = "140106001001001001;140106001001001002"
    diagnostics = pd.DataFrame(
        {
            "level": ["grid"],
            "kind": ["out_of_band"],
            "community_id": ["C1"],
            "grid_code": ["140106001001001"],
            "unit_ids": [["b1", "b2"]],
            "households": [80],
            "message": ["grid holds 80 households, below 300"],
            "fix": ["lower min_households"],
        }
    )
    rules = PlanRules()
    return Plan(
        units=units,
        grids=grids,
        microgrids=micro,
        diagnostics=diagnostics,
        report=plan_report(grids, micro, rules=rules),
        rules=rules,
        layers=Layers(units=units),
        work_crs=grids.crs,
    )


def _signed_area(ring: list[list[float]]) -> float:
    xy = np.asarray(ring)
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


def _polygons(geometry: dict) -> list[list]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return geometry["coordinates"]
    return []


def _positions(coords):
    if isinstance(coords[0], int | float):
        yield coords
    else:
        for c in coords:
            yield from _positions(c)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return hand_plan()


def test_geojson_is_rfc7946(plan, tmp_path):
    files = write_geojson(plan, tmp_path / "gj")
    assert [f.name for f in files] == ["grids.geojson", "microgrids.geojson", "units.geojson"]
    n_holes = 0
    for f in files:
        text = f.read_text(encoding="utf-8")
        doc = json.loads(text)  # strict JSON: no NaN
        assert doc["type"] == "FeatureCollection"
        assert "crs" not in doc
        for feature in doc["features"]:
            assert feature["type"] == "Feature"
            for pos in _positions(feature["geometry"]["coordinates"]):
                lon, lat = pos
                assert -180 <= lon <= 180 and -90 <= lat <= 90
                assert (
                    110.9 < lon < 111.1 and 37.5 < lat < 38
                )  # UTM 49N near Taiyuan, lon/lat order
                assert round(lon, 7) == lon and round(lat, 7) == lat
            for poly in _polygons(feature["geometry"]):
                assert _signed_area(poly[0]) > 0, f"{f.name}: exterior ring not counter-clockwise"
                for hole in poly[1:]:
                    n_holes += 1
                    assert _signed_area(hole) < 0, f"{f.name}: hole not clockwise"
    assert n_holes == 1


def test_geojson_properties(plan, tmp_path):
    write_geojson(plan, tmp_path)
    grids = json.loads((tmp_path / "grids.geojson").read_text(encoding="utf-8"))
    props = [f["properties"] for f in grids["features"]]
    assert [p["grid_code"] for p in props] == plan.grids["grid_code"].tolist()
    assert [p["households"] for p in props] == [80, 90, 5]
    assert props[0]["n_microgrids"] == 2 and props[0]["kind"] == "residential"
    assert props[2]["population"] is None and props[2]["name"] == "第一中学"
    assert isinstance(props[0]["in_band"], bool)
    micro = json.loads((tmp_path / "microgrids.geojson").read_text(encoding="utf-8"))
    assert {"microgrid_code", "grid_code", "households", "in_band"} <= set(
        micro["features"][0]["properties"]
    )
    units = json.loads((tmp_path / "units.geojson").read_text(encoding="utf-8"))
    first = units["features"][0]["properties"]
    assert first["unit_id"] == "b1" and first["楼栋名称"] == "1号楼"
    assert first["microgrid_code"].count(";") == 1


def test_geojson_reads_back_with_pyogrio(plan, tmp_path):
    write_geojson(plan, tmp_path)
    for name, expected in (("grids", plan.grids), ("microgrids", plan.microgrids)):
        back = pyogrio.read_dataframe(tmp_path / f"{name}.geojson")
        assert back.crs.to_epsg() == 4326
        assert back[f"{name[:-1]}_code"].tolist() == expected[f"{name[:-1]}_code"].tolist()
        # same shapes, to the centimetre
        original = expected.to_crs(4326).geometry
        diff = shapely.symmetric_difference(back.geometry.to_numpy(), original.to_numpy())
        assert (shapely.area(diff) < 1e-4 * shapely.area(original.to_numpy())).all()
    units = pyogrio.read_dataframe(tmp_path / "units.geojson")
    assert units["unit_id"].tolist() == ["b1", "b2", "b3", "b4", "s1"]


def test_geopackage_round_trip(plan, tmp_path):
    path = write_geopackage(plan, tmp_path / "plan.gpkg")
    layers = dict(pyogrio.list_layers(path))
    assert set(layers) == {"units", "grids", "microgrids", "diagnostics", "summary", "unit_parts"}
    assert layers["diagnostics"] is None and layers["summary"] is None
    assert layers["unit_parts"] is None
    units = gpd.read_file(path, layer="units")
    assert units.crs == plan.units.crs
    assert units["unit_id"].tolist() == plan.units.index.tolist()
    assert {"grid_code", "microgrid_code", "楼栋名称", "households"} <= set(units.columns)
    grids = gpd.read_file(path, layer="grids")
    gpd.testing.assert_geodataframe_equal(
        grids[["grid_code", "households", "geometry"]],
        plan.grids[["grid_code", "households", "geometry"]],
        check_dtype=False,
        check_geom_type=False,
    )
    assert {"grid_code", "community_code", "kind", "households", "population", "in_band"} <= set(
        grids.columns
    )
    micro = gpd.read_file(path, layer="microgrids")
    assert micro["microgrid_code"].tolist() == plan.microgrids["microgrid_code"].tolist()
    diags = pyogrio.read_dataframe(path, layer="diagnostics")
    assert diags.loc[0, "unit_ids"] == "b1;b2"
    summary = pyogrio.read_dataframe(path, layer="summary")
    assert summary["level"].tolist() == ["total", "street", "community"]
    assert summary["households"].tolist() == [175, 175, 175]


def test_geopackage_holds_the_context_layers_given(plan, tmp_path):
    # a plan made with barriers and compounds keeps them in its file, so a wall map printed
    # from the file draws the same lines; layers not given are not invented
    barriers = gpd.GeoDataFrame(
        {"name": ["汾河"], "barrier_class": ["river"]},
        index=pd.Index(["r1"], name="barrier_id"),
        geometry=[LineString([(X0, Y0 + 100), (X0 + 400, Y0 + 100)])],
        crs=CRS,
    )
    compounds = gpd.GeoDataFrame(
        {"name": ["滨河小区"], "gated": [True]},
        index=pd.Index(["k1"], name="compound_id"),
        geometry=[box(X0, Y0, X0 + 200, Y0 + 90)],
        crs=CRS,
    )
    with_context = replace(
        plan, layers=Layers(units=plan.units, barriers=barriers, compounds=compounds)
    )
    path = write_geopackage(with_context, tmp_path / "plan.gpkg")
    layers = dict(pyogrio.list_layers(path))
    assert set(layers) == {
        "units",
        "grids",
        "microgrids",
        "diagnostics",
        "summary",
        "unit_parts",
        "compounds",
        "barriers",
    }
    back = gpd.read_file(path, layer="barriers")
    assert back["barrier_id"].tolist() == ["r1"] and back["name"].tolist() == ["汾河"]
    assert back.crs == barriers.crs
    assert gpd.read_file(path, layer="compounds")["compound_id"].tolist() == ["k1"]


def test_geopackage_overwrites_an_earlier_plan(plan, tmp_path):
    path = tmp_path / "plan.gpkg"
    pyogrio.write_dataframe(plan.grids.iloc[:1], path, layer="stale", driver="GPKG")
    write_geopackage(plan, path)
    assert "stale" not in dict(pyogrio.list_layers(path))


def test_summary_table(plan):
    table = summary_table(plan)
    assert list(table.columns[:4]) == ["level", "street", "community_code", "community"]
    assert table.loc[0, "grids"] == 3 and table.loc[0, "dedicated_grids"] == 1


def test_equivalency_covers_every_unit_once(plan, tmp_path):
    path = write_equivalency(plan, tmp_path / "eq.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # a plan made by hand, without unit parts: one row per unit
    assert list(rows[0]) == ["unit_id", "part", "grid_code", "microgrid_code", "households"]
    ids = [r["unit_id"] for r in rows]
    assert sorted(ids) == sorted(plan.units.index) and len(set(ids)) == len(ids)
    by_id = {r["unit_id"]: r for r in rows}
    assert by_id["b1"]["microgrid_code"].split(";") == [
        "140106001001001001",
        "140106001001001002",
    ]
    assert by_id["s1"]["grid_code"] == "140106001001901" and by_id["s1"]["microgrid_code"] == ""
    # every micro-grid code extends the unit's grid code
    for r in rows:
        for m in filter(None, r["microgrid_code"].split(";")):
            assert m.startswith(r["grid_code"])


def test_report_xlsx(plan, tmp_path):
    path = write_report_xlsx(plan, tmp_path / "report.xlsx")
    sheets = pd.read_excel(path, sheet_name=None, dtype={"grid_code": str})
    assert list(sheets) == [
        "totals",
        "streets",
        "communities",
        "grids",
        "microgrids",
        "unit_parts",
        "diagnostics",
    ]
    assert sheets["totals"].loc[0, "households"] == 175
    assert sheets["grids"]["grid_code"].tolist() == plan.grids["grid_code"].tolist()


def test_geojson_orientation_survives_rounding(plan, tmp_path):
    """A sliver hole (a few cm wide, as unions of cells leave) would be flattened or flipped by
    rounding to 7 decimals: it is left out, and the courtyard hole is kept clockwise."""
    grids = plan.grids.copy()
    g = grids.geometry.iloc[0]
    sliver = [(X0 + 150, Y0 + 150), (X0 + 150.3, Y0 + 150.01), (X0 + 150.6, Y0 + 150.0)]
    grids.loc[0, "geometry"] = Polygon(
        g.exterior.coords, [*(r.coords for r in g.interiors), sliver]
    )
    assert len(grids.geometry.iloc[0].interiors) == 2
    sliced = Plan(**{**plan.__dict__, "grids": grids})
    write_geojson(sliced, tmp_path)
    doc = json.loads((tmp_path / "grids.geojson").read_text(encoding="utf-8"))
    rings = doc["features"][0]["geometry"]["coordinates"]
    assert len(rings) == 2  # exterior + courtyard
    assert _signed_area(rings[0]) > 0 and _signed_area(rings[1]) < 0
    # the GeoPackage keeps the plan's geometry as it is
    write_geopackage(sliced, tmp_path / "p.gpkg")
    back = gpd.read_file(tmp_path / "p.gpkg", layer="grids")
    parts = shapely.get_parts(back.geometry.iloc[0])
    assert sum(len(p.interiors) for p in parts) == 2


# ---------------------------------------------------------------------------------------------
# the one workbook writer
# ---------------------------------------------------------------------------------------------


def test_text_width_counts_cjk_double():
    assert text_width("社区编号") == 8
    assert text_width("grid_code") == 9
    assert text_width("3号楼") == 5
    assert text_width(None) == 0


def test_write_workbook_widths_freeze_and_bytes(tmp_path):
    import openpyxl

    sheets = {
        "网格": pd.DataFrame(
            {"网格编码": ["110101001001001"], "社区名称": ["迎泽区柳巷社区居民委员会"]}
        ),
        "en": pd.DataFrame({"a": [1], "long_english_header": ["x"]}),
    }
    a = write_workbook(tmp_path / "a.xlsx", sheets)
    b = write_workbook(tmp_path / "sub" / "b.xlsx", sheets)
    assert a.read_bytes() == b.read_bytes()
    wb = openpyxl.load_workbook(a)
    ws = wb["网格"]
    assert ws.freeze_panes == "A2"
    # the longer of header and values, CJK counted double, plus 2
    assert ws.column_dimensions["A"].width == 17  # 15 digits
    assert ws.column_dimensions["B"].width == 26  # 12 CJK characters
    assert wb["en"].column_dimensions["A"].width == 8  # never narrower than 8
    assert wb["en"].column_dimensions["B"].width == len("long_english_header") + 2
