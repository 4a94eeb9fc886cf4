from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LineString, Point, box

from gridplan.crs import bd09_to_wgs84, gcj02_to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
from gridplan.errors import ValidationError
from gridplan.io import read_layer
from gridplan.layers import UNIT_COLUMNS, Layers, prepare_layers


@pytest.fixture
def units(lattice_units):
    return lattice_units(4, 2, households=lambda r, c: 10 * (r + 1) + c)


def _poly(ids, boxes, crs, **cols):
    return gpd.GeoDataFrame({**cols}, index=pd.Index(ids), geometry=list(boxes), crs=crs)


def test_inputs_are_never_mutated(units):
    before = units.copy()
    compounds = _poly(["c"], [box(500_000, 4_180_000, 500_200, 4_180_200)], units.crs)
    compounds_before = compounds.copy()
    prepare_layers(units, compounds=compounds, columns={"households": "households"})
    assert_geodataframe_equal(units, before)
    assert_geodataframe_equal(compounds, compounds_before)


def test_canonical_unit_columns_and_dtypes(units):
    layers = prepare_layers(units.assign(extra=["x"] * 8))
    u = layers.units
    assert isinstance(layers, Layers)
    assert u.index.name == "unit_id" and u.index.is_unique
    assert list(u.index) == [f"u{k}" for k in range(8)]
    assert "unit_id" not in u.columns
    assert list(u.columns[: len(UNIT_COLUMNS)]) == list(UNIT_COLUMNS)
    assert u["households"].dtype == np.int64 and u["households"].sum() == 4 * 10 + 6 + 4 * 20 + 6
    for col in ("population", "party_members", "floors", "stairwells"):
        assert u[col].dtype == np.float64 and u[col].isna().all()
    assert u["gated"].dtype == bool and not u["gated"].any()
    for col in ("compound_id", "community_id", "street_id"):
        assert u[col].isna().all()
    assert (u["extra"] == "x").all()  # other columns untouched
    assert u.geometry.name == u.columns[-1]
    assert layers.crs == units.crs


def test_unit_id_from_index_when_no_column(units):
    u = prepare_layers(units.drop(columns="unit_id").set_index(pd.Index(range(100, 108)))).units
    assert list(u.index) == [str(i) for i in range(100, 108)]


def test_households_from_floats_become_int64(units):
    u = prepare_layers(units.astype({"households": float})).units
    assert u["households"].dtype == np.int64


def test_columns_mapping_renames_every_layer(units):
    chinese = units.rename(columns={"households": "户数", "unit_id": "楼栋编号"})
    compounds = gpd.GeoDataFrame(
        {"小区编号": ["A"], "小区名称": ["太嘉小区"], "gated": [True]},
        geometry=[box(500_000, 4_180_000, 500_200, 4_180_200)],
        crs=units.crs,
    )
    layers = prepare_layers(
        chinese,
        compounds=compounds,
        columns={
            "户数": "households",
            "楼栋编号": "unit_id",
            "小区编号": "compound_id",
            "小区名称": "name",
        },
    )
    assert layers.units["households"].sum() == units["households"].sum()
    assert list(layers.compounds.index) == ["A"]
    assert layers.compounds.loc["A", "name"] == "太嘉小区"


def test_compound_assignment_by_representative_point_inherits_gated(units):
    compounds = gpd.GeoDataFrame(
        {"compound_id": [7, 8], "gated": ["是", "否"]},
        geometry=[
            box(500_000, 4_180_000, 500_200, 4_180_200),  # covers columns 0-1 of both rows
            box(500_200, 4_180_000, 500_300, 4_180_100),  # column 2 of row 0
        ],
        crs=units.crs,
    )
    layers = prepare_layers(units, compounds=compounds)
    u = layers.units
    assert u.loc[["u0", "u1", "u4", "u5"], "compound_id"].tolist() == ["7"] * 4
    assert u.loc["u2", "compound_id"] == "8"
    assert u.loc["u3", "compound_id"] is None and u.loc["u7", "compound_id"] is None
    assert u.loc[["u0", "u1", "u4", "u5"], "gated"].all()
    assert not u.loc[["u2", "u3"], "gated"].any()
    assert layers.compounds["gated"].dtype == bool
    assert list(layers.compounds.index) == ["7", "8"]
    assert layers.compounds.loc["8", "name"] == "8"  # missing name filled with the id


def test_community_and_street_assignment(units):
    communities = gpd.GeoDataFrame(
        {"community_id": ["W", "E"], "name": ["West", "East"]},
        geometry=[
            box(500_000, 4_180_000, 500_200, 4_180_200),
            box(500_200, 4_180_000, 500_400, 4_180_200),
        ],
        crs=units.crs,
    )
    streets = gpd.GeoDataFrame(
        {"street_id": ["S"]},
        geometry=[box(499_000, 4_179_000, 501_000, 4_181_000)],
        crs=units.crs,
    ).to_crs(4326)  # another CRS: reprojected to the units' CRS
    layers = prepare_layers(units, communities=communities, streets=streets)
    u = layers.units
    assert u["community_id"].tolist() == ["W", "W", "E", "E"] * 2
    assert set(u["street_id"]) == {"S"}
    assert layers.communities["street_id"].tolist() == ["S", "S"]
    assert layers.streets.crs == units.crs


def test_street_id_follows_the_communities_street_id(units):
    communities = gpd.GeoDataFrame(
        {"community_id": ["W", "E"], "street_id": ["S1", "S2"]},
        geometry=[
            box(500_000, 4_180_000, 500_200, 4_180_200),
            box(500_200, 4_180_000, 500_400, 4_180_200),
        ],
        crs=units.crs,
    )
    u = prepare_layers(units, communities=communities).units
    assert u["street_id"].tolist() == ["S1", "S1", "S2", "S2"] * 2


def test_context_defaults(units):
    dedicated = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs=units.crs)
    barriers = gpd.GeoDataFrame(
        {"barrier_class": [None, "railway_rail"]},
        geometry=[LineString([(0, 0), (1, 1)]), LineString([(1, 0), (0, 1)])],
        crs=units.crs,
    )
    layers = prepare_layers(units, dedicated=dedicated, barriers=barriers)
    assert layers.dedicated["category"].tolist() == ["other"]
    assert layers.dedicated.index.name == "dedicated_id"
    assert layers.barriers["barrier_class"].tolist() == ["barrier", "railway_rail"]
    assert layers.barriers.index.tolist() == ["0", "1"]
    assert set(layers.context()) == {"dedicated", "barriers"}


@pytest.mark.parametrize(
    ("source", "shift", "unshift"),
    [("gcj02", wgs84_to_gcj02, gcj02_to_wgs84), ("bd09", wgs84_to_bd09, bd09_to_wgs84)],
)
def test_source_crs_converts_every_layer_to_wgs84(source, shift, unshift):
    truth = [(112.55, 37.80), (112.56, 37.81)]
    shifted = [tuple(map(float, shift(x, y))) for x, y in truth]
    units = gpd.GeoDataFrame(
        {"unit_id": ["a", "b"], "households": [100, 200]},
        geometry=[Point(p) for p in shifted],
        crs=4326,
    )
    frame = box(112.53, 37.78, 112.60, 37.84)
    community = gpd.GeoDataFrame({"community_id": ["C"]}, geometry=[frame], crs=4326)
    layers = prepare_layers(units, communities=community, source_crs=source)
    got = layers.units.geometry
    assert layers.crs.to_epsg() == 4326
    assert np.allclose(got.x, [t[0] for t in truth], atol=1e-7)
    assert np.allclose(got.y, [t[1] for t in truth], atol=1e-7)
    corners = np.asarray(frame.exterior.coords)
    expected = np.column_stack(unshift(corners[:, 0], corners[:, 1]))
    got_corners = np.asarray(layers.communities.geometry.iloc[0].exterior.coords)
    assert np.allclose(got_corners, expected, atol=1e-9)
    assert layers.units["community_id"].tolist() == ["C", "C"]


def test_population_balance_without_households(units):
    with pytest.warns(UserWarning, match="households set to 0"):
        u = prepare_layers(
            units.drop(columns="households").assign(population=3.0), balance="population"
        ).units
    assert (u["households"] == 0).all() and u["population"].sum() == 24.0


def test_renaming_onto_an_existing_column_is_reported(units):
    with pytest.raises(ValidationError, match="two columns named households"):
        prepare_layers(units.assign(户数=1), columns={"户数": "households"})


@pytest.mark.parametrize(
    ("name", "n_units", "households"),
    [
        ("singapore_queenstown.gpkg", 241, 34_819),
        ("camden_sample.gpkg", 86, 10_701),
        ("taiyuan.gpkg", 19, 4_333),
    ],
)
def test_bundled_samples_prepare_cleanly(data_dir, name, n_units, households):
    path = data_dir / name
    from gridplan.io import list_layers

    context = {
        layer: read_layer(path, layer=layer)
        for layer in list_layers(path)
        if layer not in ("units", "units_all_buildings")
    }
    layers = prepare_layers(read_layer(path, layer="units"), **context)
    assert len(layers.units) == n_units
    assert layers.units["households"].sum() == households
    if layers.communities is not None:
        assert layers.units["community_id"].notna().all()
