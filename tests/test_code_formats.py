"""Code formats chosen in the rules (issue 16): CJ/T 349-2010 (20 digits), Beijing
DB11/T 2157-2023 (15 digits, numbered in columns) and the current form."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import box

import gridplan
from gridplan.codes import grid_codes
from gridplan.config import CodeRules, read_rules
from gridplan.errors import ValidationError

SRC = "data/camden_sample.gpkg"


def _grids():
    # a 3 x 2 block of grids, plus one dedicated grid, in one community
    cells = [(x, y) for y in (1, 0) for x in (0, 1, 2)]
    return gpd.GeoDataFrame(
        {
            "grid_id": [f"g{x}{y}" for x, y in cells] + ["d"],
            "kind": ["residential"] * 6 + ["dedicated"],
            "community_id": ["C1"] * 7,
            "street_id": ["S1"] * 7,
        },
        geometry=[box(100 * x, 100 * y, 100 * x + 100, 100 * y + 100) for x, y in cells]
        + [box(300, 0, 400, 100)],
        crs="EPSG:32650",
    )


def test_current_and_db11_number_rows_and_columns():
    g = _grids()
    cur = grid_codes(g, rules=CodeRules(county_code="110105"))["grid_code"]
    bj = grid_codes(g, rules=CodeRules(county_code="110105", code_format="db11"))["grid_code"]
    seq = lambda s: dict(zip(g["grid_id"], s.str[-3:], strict=True))  # noqa: E731
    # rows north to south, west to east in a row
    assert seq(cur) == {"g01": "001", "g11": "002", "g21": "003", "g00": "004", "g10": "005",
                        "g20": "006", "d": "901"}  # fmt: skip
    # DB11/T 2157-2023: west to east, then north to south (columns)
    assert seq(bj) == {"g01": "001", "g00": "002", "g11": "003", "g10": "004", "g21": "005",
                       "g20": "006", "d": "901"}  # fmt: skip
    assert cur.str.len().eq(15).all() and bj.str.len().eq(15).all()
    assert (cur.str[:6] == "110105").all()


def test_cjt349_is_20_digits_object_county_street_community_grid():
    g = _grids()
    rules = CodeRules(county_code="110105", code_format="cjt349", object_code="100000")
    assert rules.grid_digits == 2 and rules.dedicated_start == 91
    codes = grid_codes(g, rules=rules)
    gc = codes["grid_code"]
    assert gc.str.len().eq(20).all()
    assert (gc.str[:6] == "100000").all() and (gc.str[6:12] == "110105").all()
    assert (gc.str[12:15] == "001").all() and (gc.str[15:18] == "001").all()
    assert sorted(gc.str[18:]) == ["01", "02", "03", "04", "05", "06", "91"]
    assert codes["community_code"].str.len().eq(18).all()


@pytest.mark.parametrize(
    ("key", "value"), [("code_format", "gb"), ("object_code", "12ab56"), ("object_code", "123")]
)
def test_bad_code_format_rules_are_refused(key, value):
    with pytest.raises(ValidationError, match=key):
        read_rules({"codes": {key: value}})


@pytest.mark.parametrize("fmt", ["cjt349", "db11"])
def test_micro_grid_codes_extend_grid_codes_and_survive_a_replan(fmt, tmp_path):
    units = gpd.read_file(SRC, layer="units")
    comm = gpd.read_file(SRC, layer="communities")
    rules = read_rules({"codes": {"code_format": fmt, "county_code": "110105"}}).plan
    first = gridplan.plan(units, communities=comm, rules=rules)
    n = 20 if fmt == "cjt349" else 15
    assert first.grids["grid_code"].str.len().eq(n).all()
    mg = first.microgrids
    assert (mg["microgrid_code"].str[:n] == mg["grid_code"]).all()
    assert mg["microgrid_code"].str.len().eq(n + 3).all()
    # one output area demolished: grids still valid keep their codes in the same format,
    # and no retired code comes back
    gone = units["unit_id"].iloc[0]
    again = gridplan.plan(
        units[units["unit_id"] != gone], communities=comm, rules=rules,
        previous=first.unit_parts,
    )  # fmt: skip
    old = first.units["grid_code"].drop(index=str(gone))
    new = again.units["grid_code"].reindex(old.index)
    hh = first.units["households"].reindex(old.index)
    assert hh[new == old].sum() / hh.sum() >= 0.9
    assert again.grids["grid_code"].str.len().eq(n).all()
    retired = set(first.grids["grid_code"]) - set(again.grids["grid_code"])
    fresh = set(again.grids["grid_code"]) - set(first.grids["grid_code"])
    assert not retired & fresh
