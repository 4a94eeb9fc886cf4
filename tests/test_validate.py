"""One test per validation problem: each checks the problem is found, that the message names the
offending rows, and that it says how to fix them."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon, box

from gridplan.errors import ValidationError
from gridplan.layers import prepare_layers
from gridplan.validate import check_or_raise, id_str, normalize_ids, validate_layers


def only(problems, check):
    found = [p for p in problems if p.check == check]
    assert found, f"no {check!r} problem in {[p.check for p in problems]}"
    assert len(found) == 1
    return found[0]


@pytest.fixture
def units(lattice_units):
    return lattice_units(4, 3, households=50)


def test_valid_lattice_has_no_problems(units):
    assert validate_layers(units) == []
    check_or_raise([])  # no error


def test_no_crs(units):
    p = only(validate_layers(units.set_crs(None, allow_override=True)), "no_crs")
    assert "set_crs" in p.message and p.rows == ()


def test_null_geometry(units):
    bad = units.copy()
    bad.loc[[2, 7], "geometry"] = None
    p = only(validate_layers(bad), "null_geometry")
    assert p.rows == ("u2", "u7")
    assert "ids u2, u7" in p.message and "drop them" in p.message


def test_empty_geometry(units):
    bad = units.copy()
    bad.loc[5, "geometry"] = Polygon()
    p = only(validate_layers(bad), "empty_geometry")
    assert p.rows == ("u5",) and "u5" in p.message


def test_invalid_geometry_is_reported_and_fix_invalid_repairs_it(units):
    bad = units.copy()
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    bad.loc[3, "geometry"] = bowtie
    p = only(validate_layers(bad), "invalid_geometry")
    assert p.rows == ("u3",)
    assert "fix_invalid=True" in p.message and "make_valid" in p.message
    with pytest.raises(ValidationError, match="u3"):
        prepare_layers(bad)
    fixed = prepare_layers(bad, fix_invalid=True).units
    assert fixed.geometry["u3"].is_valid
    assert fixed.geometry["u3"].geom_type in ("Polygon", "MultiPolygon")  # stays polygonal
    assert not bad.geometry[3].is_valid  # input untouched


def test_fix_invalid_keeps_polygon_type_when_make_valid_yields_a_collection(units):
    bad = units.copy()
    # a polygon with a dangling spike: make_valid(method="linework") would add a line
    spike = Polygon([(0, 0), (10, 0), (10, 10), (0, 10), (0, 0), (-5, -5), (0, 0)])
    bad.loc[0, "geometry"] = spike
    fixed = prepare_layers(bad, fix_invalid=True).units
    assert fixed.geometry["u0"].geom_type in ("Polygon", "MultiPolygon")


def test_wrong_geometry_type_for_units(units):
    bad = units.copy()
    bad.loc[1, "geometry"] = LineString([(0, 0), (1, 1)])
    p = only(validate_layers(bad), "geometry_type")
    assert p.rows == ("u1",) and "LineString" in p.message and "points or polygons" in p.message


def test_wrong_geometry_type_for_barriers_and_compounds(units):
    barriers = gpd.GeoDataFrame(
        {"barrier_id": ["r1", "r2"]},
        geometry=[LineString([(0, 0), (1, 1)]), box(0, 0, 1, 1)],
        crs=units.crs,
    )
    compounds = gpd.GeoDataFrame(
        {"compound_id": ["c1"]}, geometry=[LineString([(0, 0), (1, 1)])], crs=units.crs
    )
    problems = validate_layers(units, barriers=barriers, compounds=compounds)
    wrong = {p.layer: p for p in problems if p.check == "geometry_type"}
    assert wrong["barriers"].rows == ("r2",) and "must be lines" in wrong["barriers"].message
    assert wrong["compounds"].rows == ("c1",) and "must be polygons" in wrong["compounds"].message


def test_mixed_points_and_polygons_in_units(units):
    bad = units.copy()
    bad.loc[[4, 9], "geometry"] = [Point(500_050, 4_180_050), Point(500_150, 4_180_150)]
    p = only(validate_layers(bad), "mixed_geometry")
    assert p.rows == ("u4", "u9") and "are points" in p.message


def test_z_geometry(units):
    bad = units.copy()
    bad.loc[6, "geometry"] = Polygon([(0, 0, 5), (1, 0, 5), (1, 1, 5), (0, 0, 5)])
    p = only(validate_layers(bad), "z_geometry")
    assert p.rows == ("u6",) and "force_2d" in p.message


def test_duplicate_ids(units):
    bad = units.copy()
    bad.loc[[1, 8], "unit_id"] = "dup"
    p = only(validate_layers(bad), "duplicate_id")
    assert p.rows == ("dup",) and "dup" in p.message and "unique" in p.message


def test_duplicate_ids_from_the_index(units):
    bad = units.drop(columns="unit_id").set_index(np.array([1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]))
    p = only(validate_layers(bad), "duplicate_id")
    assert p.rows == ("1",) and "the index" in p.message


def test_missing_households_suggests_columns_mapping(units):
    bad = units.rename(columns={"households": "户数"}).assign(hh_total=1, dwellings=2)
    p = only(validate_layers(bad), "missing_households")
    assert p.rows == ()
    assert "columns={'户数': 'households'}" in p.message
    for col in ("户数", "hh_total", "dwellings"):
        assert col in p.message
    # and the suggested fix works
    assert prepare_layers(bad, columns={"户数": "households"}).units["households"].sum() == 600


def test_nan_households(units):
    bad = units.astype({"households": float})
    bad.loc[[0, 11], "households"] = np.nan
    p = only(validate_layers(bad), "nan_households")
    assert p.rows == ("u0", "u11")


def test_negative_households(units):
    bad = units.copy()
    bad.loc[2, "households"] = -5
    p = only(validate_layers(bad), "negative_households")
    assert p.rows == ("u2",) and "0 or more" in p.message


def test_non_integer_households(units):
    bad = units.astype({"households": float})
    bad.loc[10, "households"] = 12.5
    p = only(validate_layers(bad), "non_integer_households")
    assert p.rows == ("u10",) and "round" in p.message


def test_non_numeric_households(units):
    bad = units.astype({"households": object})
    bad.loc[4, "households"] = "many"
    p = only(validate_layers(bad), "non_numeric_households")
    assert p.rows == ("u4",)


def test_units_outside_communities(units):
    # the community covers only the first two columns of the 4 x 3 lattice
    community = gpd.GeoDataFrame(
        {"community_id": ["C1"]},
        geometry=[box(500_000, 4_180_000, 500_200, 4_180_300)],
        crs=units.crs,
    )
    p = only(validate_layers(units, communities=community), "outside_communities")
    assert p.rows == ("u2", "u3", "u6", "u7", "u10", "u11")
    assert "community" in p.message and "community_id" in p.message


def test_units_outside_streets(lattice_units):
    units = lattice_units(4, 4)
    street = gpd.GeoDataFrame(
        {"street_id": ["S1"]},
        geometry=[box(500_000, 4_180_000, 500_400, 4_180_100)],
        crs=units.crs,
    )
    p = only(validate_layers(units, streets=street), "outside_streets")
    assert p.rows == tuple(f"u{k}" for k in range(4, 16))
    assert "u13" in p.message and "u14" not in p.message and "and 2 more" in p.message


def test_boundaries_in_another_crs_are_reprojected_before_checking(units):
    community = gpd.GeoDataFrame(
        {"community_id": ["C1"]},
        geometry=[box(499_000, 4_179_000, 501_000, 4_181_000)],
        crs=units.crs,
    ).to_crs(4326)
    assert validate_layers(units, communities=community) == []


@pytest.mark.parametrize("col", ["population", "party_members"])
def test_non_numeric_population_and_party_members(units, col):
    bad = units.assign(**{col: [str(i) for i in range(12)]})
    bad.loc[7, col] = "unknown"
    p = only(validate_layers(bad), f"non_numeric_{col}")
    assert p.rows == ("u7",) and col in p.message


def test_population_balance_needs_population_not_households(units):
    no_hh = units.drop(columns="households")
    assert validate_layers(no_hh, balance="population")[0].check == "missing_population"
    ok = no_hh.assign(population=100.0)
    assert validate_layers(ok, balance="population") == []


def test_every_problem_is_collected_and_raised_once(units):
    bad = units.copy()
    bad.loc[0, "geometry"] = None
    bad.loc[1, "households"] = -1
    bad.loc[[2, 3], "unit_id"] = "x"
    barriers = gpd.GeoDataFrame({"barrier_id": ["b"]}, geometry=[box(0, 0, 1, 1)], crs=None)
    with pytest.raises(ValidationError) as info:
        prepare_layers(bad, barriers=barriers)
    checks = {(p.layer, p.check) for p in info.value.problems}
    assert checks == {
        ("units", "null_geometry"),
        ("units", "negative_households"),
        ("units", "duplicate_id"),
        ("barriers", "no_crs"),
        ("barriers", "geometry_type"),
    }
    text = str(info.value)
    assert text.startswith("5 problems found") and "u0" in text and "u1" in text


def test_not_a_geodataframe_and_empty_layer(units):
    import pandas as pd

    p = only(validate_layers(pd.DataFrame({"a": [1]})), "not_geodataframe")  # type: ignore[arg-type]
    assert "DataFrame" in p.message
    only(validate_layers(units.iloc[:0]), "empty_layer")


def test_no_active_geometry_column():
    import pandas as pd

    frame = gpd.GeoDataFrame(pd.DataFrame({"unit_id": ["a"], "households": [3]}))
    p = only(validate_layers(frame), "no_geometry_column")
    assert "set_geometry" in p.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12, "12"),
        (12.0, "12"),
        ("12", "12"),
        (" 12 ", "12"),
        (np.int64(12), "12"),
        (np.float64(12.0), "12"),
        (np.float32(12.0), "12"),
        (12.5, "12.5"),
        ("007", "007"),
        ("小区 3", "小区 3"),
        (None, None),
        (float("nan"), None),
        (pd.NA, None),
        ("", None),
        ("   ", None),
    ],
)
def test_id_str_is_the_one_id_normaliser(value, expected):
    assert id_str(value) == expected


def test_ids_read_as_floats_join_ids_read_as_text():
    # a GIS layer read 12.0 where the roster wrote "12": both are unit 12
    floats = pd.Series([12.0, 13.0, np.nan])
    texts = pd.Series(["12", " 13", ""], dtype=object)
    assert normalize_ids(floats) == normalize_ids(texts) == ["12", "13", None]
    assert normalize_ids(pd.Index([1, 2])) == ["1", "2"]
    assert normalize_ids([1.0, "a"]) == ["1", "a"]
