from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from gridplan.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    output_crs,
    to_working,
    unshift_to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
    working_crs,
)

GEOD = pyproj.Geod(ellps="WGS84")


def metres(lon1, lat1, lon2, lat2) -> float:
    return float(np.max(GEOD.inv(lon1, lat1, lon2, lat2)[2]))


# --- GCJ-02 / BD-09 -------------------------------------------------------------------------


def test_wgs84_to_gcj02_matches_published_coordtransform_vector():
    # wandergis/coordTransform README: wgs84togcj02(116.404, 39.915)
    lon, lat = wgs84_to_gcj02(116.404, 39.915)
    assert lon == pytest.approx(116.41024449916938, abs=1e-9)
    assert lat == pytest.approx(39.91640428150164, abs=1e-9)


def test_gcj02_to_bd09_matches_published_coordtransform_vector():
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert lon == pytest.approx(116.41036949371029, abs=1e-9)
    assert lat == pytest.approx(39.92133699351021, abs=1e-9)


def test_inverses_agree_with_published_approximate_inverses_within_a_metre():
    # the published inverses are one-step approximations; ours iterate, so they differ by cm
    assert metres(*bd09_to_gcj02(116.404, 39.915), 116.39762729119315, 39.90865673957631) < 1.0
    assert metres(*gcj02_to_wgs84(116.404, 39.915), 116.39775550083061, 39.91359571849836) < 1.0


def test_tiananmen_offset_matches_gaode_reference_and_magnitude():
    lon, lat = wgs84_to_gcj02(116.397128, 39.916527)
    assert metres(lon, lat, 116.403364, 39.917929) < 1.0
    # the GCJ-02 shift in Beijing is known to be roughly 500-600 m
    assert 450 < metres(116.397128, 39.916527, lon, lat) < 650


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [
        (wgs84_to_gcj02, gcj02_to_wgs84),
        (gcj02_to_bd09, bd09_to_gcj02),
        (wgs84_to_bd09, bd09_to_wgs84),
    ],
)
def test_round_trips_are_below_one_centimetre_across_china(forward, inverse):
    rng = np.random.default_rng(0)
    # a box well inside mainland China (no Taiwan, no Vietnam), where the offset applies
    lon = rng.uniform(100, 119.9, 500)
    lat = rng.uniform(23, 40, 500)
    back = inverse(*forward(lon, lat))
    assert metres(lon, lat, *back) < 0.01
    assert metres(lon, lat, *forward(lon, lat)) > 100  # the offset is real, not a no-op


@settings(max_examples=60, deadline=None)
@given(st.floats(73.7, 134.9), st.floats(18.2, 53.4))
def test_gcj02_inverse_round_trip_property(lon, lat):
    # at the edge of the China region a point and its shifted image can fall on either side,
    # and the inverse is ambiguous there by construction; everywhere else it must round-trip
    assume(bool(in_china(lon, lat)) == bool(in_china(*wgs84_to_gcj02(lon, lat))))
    assert metres(lon, lat, *gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))) < 0.01


def test_outside_china_gcj02_equals_wgs84():
    # Singapore, London, Seoul, Taipei: a single China bounding box would wrongly shift 1, 3, 4
    lon_in, lat_in = [103.8198, -0.1276, 126.978, 121.5654], [1.3521, 51.5072, 37.5665, 25.033]
    lon, lat = wgs84_to_gcj02(lon_in, lat_in)
    np.testing.assert_array_equal(lon, lon_in)
    np.testing.assert_array_equal(lat, lat_in)
    lon, lat = gcj02_to_wgs84(103.8198, 1.3521)
    assert (float(lon), float(lat)) == (103.8198, 1.3521)


def test_unshift_to_wgs84_moves_a_layer_back_to_its_true_position():
    truth = [(112.55, 37.80), (112.56, 37.81)]
    shifted = [wgs84_to_gcj02(x, y) for x, y in truth]
    gdf = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[Point(p) for p in shifted], crs=4326)
    before = gdf.copy()
    out = unshift_to_wgs84(gdf, source="gcj02")
    for (x, y), geom in zip(truth, out.geometry, strict=True):
        assert metres(x, y, geom.x, geom.y) < 0.01
    assert out.crs.to_epsg() == 4326
    assert gdf.geometry.equals(before.geometry)  # input untouched


def test_unshift_refuses_projected_layers():
    gdf = gpd.GeoDataFrame(geometry=[Point(500000, 4180000)], crs=32649)
    with pytest.raises(ValueError, match="projected"):
        unshift_to_wgs84(gdf, source="bd09")


# --- working CRS ----------------------------------------------------------------------------


def _pts(lonlat, crs):
    return gpd.GeoDataFrame(geometry=[Point(x, y) for x, y in lonlat], crs=crs)


def test_working_crs_beijing_is_utm_50n():
    assert working_crs(_pts([(116.30, 39.85), (116.50, 40.00)], 4326)).to_epsg() == 32650


def test_working_crs_taiyuan_cgcs2000_is_gauss_kruger_cm_114():
    # EPSG:4490 is latitude-first by definition, but geopandas stores lon as x: the zone must
    # come from lon 112.5 (CM 114E), not from the latitude
    gdf = _pts([(112.45, 37.75), (112.60, 37.90)], 4490)
    crs = working_crs(gdf)
    assert crs.to_epsg() == 4547
    assert crs.name == "CGCS2000 / 3-degree Gauss-Kruger CM 114E"
    cm = next(p.value for p in crs.coordinate_operation.params if "longitude" in p.name.lower())
    assert cm == 114
    projected = to_working(gdf)
    # GK 3-degree zone without zone prefix: false easting 500 km, Taiyuan ~ 4.18e6 m north
    assert 300_000 < projected.geometry.x.min() < 500_000
    assert 4_150_000 < projected.geometry.y.min() < 4_250_000


def test_working_crs_taiyuan_wgs84_is_utm_49n():
    assert working_crs(_pts([(112.5, 37.8)], 4326)).to_epsg() == 32649


def test_working_crs_singapore_is_utm_48n():
    assert working_crs(_pts([(103.75, 1.30), (103.90, 1.40)], 4326)).to_epsg() == 32648


def test_working_crs_london():
    assert working_crs(_pts([(-0.20, 51.50), (-0.10, 51.55)], 4326)).to_epsg() == 32630
    bng = _pts([(-0.15, 51.53)], 4326).to_crs(27700)
    assert working_crs(bng).to_epsg() == 27700  # already metric: kept


def test_working_crs_southern_hemisphere_and_missing_crs():
    assert working_crs(_pts([(151.2, -33.9)], 4326)).to_epsg() == 32756
    with pytest.raises(ValueError, match="no CRS"):
        working_crs(gpd.GeoDataFrame(geometry=[Point(0, 0)]))


def test_output_crs():
    assert output_crs("EPSG:4547", fmt="geojson").to_epsg() == 4326
    assert output_crs("EPSG:4547", fmt="csv").to_epsg() == 4326
    assert output_crs("EPSG:4547", fmt="gpkg").to_epsg() == 4547


def test_web_mercator_is_replanned_in_the_datas_zone():
    import geopandas as gpd
    from shapely.geometry import Point

    from gridplan.crs import is_planning_crs, working_crs

    beijing = gpd.GeoDataFrame(geometry=[Point(116.4, 39.9)], crs=4326)
    assert not is_planning_crs(3857) and not is_planning_crs(3395)
    assert working_crs(beijing.to_crs(3857)).to_epsg() == 32650
    assert working_crs(beijing.to_crs(3395)).to_epsg() == 32650
    # CGCS2000 data stays on its datum
    assert working_crs(beijing.set_crs(4490, allow_override=True)).to_epsg() == 4548
    assert working_crs(beijing.to_crs(4547)).to_epsg() == 4547
