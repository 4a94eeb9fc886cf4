"""Community redivision (村改社区): invariants, minimal disruption, code rules and the CLI."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from conftest import LATTICE_CELL_M, LATTICE_ORIGIN, make_lattice_units
from shapely.geometry import LineString, box
from typer.testing import CliRunner

from gridplan.cli import app
from gridplan.errors import ValidationError
from gridplan.reform import ReformRules, code_continuity, redivide

runner = CliRunner()


def communities_of(units: gpd.GeoDataFrame, key) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Units with a ``zone`` column from ``key(row, col)`` and the dissolved zone polygons."""
    units = units.copy()
    units["zone"] = [key(r, c) for r, c in zip(units["row"], units["col"], strict=True)]
    comms = units.dissolve("zone").reset_index()[["zone", "geometry"]]
    comms = comms.rename(columns={"zone": "community_id"})
    return units.drop(columns=["zone"]), comms


def membership(units: gpd.GeoDataFrame, col: str) -> dict[str, frozenset]:
    return {str(k): frozenset(v.index) for k, v in units.groupby(units[col].astype(str))}


def rook_connected(ids: list[str], units: gpd.GeoDataFrame) -> bool:
    """The units' squares form one rook-connected patch."""
    cells = {(int(units.loc[i, "row"]), int(units.loc[i, "col"])) for i in ids}
    start = next(iter(cells))
    seen, stack = {start}, [start]
    while stack:
        r, c = stack.pop()
        for nb in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if nb in cells and nb not in seen:
                seen.add(nb)
                stack.append(nb)
    return len(seen) == len(cells)


@pytest.fixture
def four_blocks():
    """12 x 8 lattice, 100 households per unit, four current communities of 24 units each."""
    units = make_lattice_units(12, 8, households=100)
    return communities_of(units, lambda r, c: f"C{(r >= 4) * 2 + (c >= 6) + 1}")


@pytest.fixture
def mixed_sizes():
    """12 x 8 lattice with an oversized community (C1, 48 units = 4,800 households), an
    undersized one (C4, 8 units = 800) and two valid ones; band 1,000-3,000."""
    units = make_lattice_units(12, 8, households=100)

    def key(r: int, c: int) -> str:
        if c < 6:
            return "C1"
        if c >= 10 and r >= 4:
            return "C4"
        return "C2" if r < 4 else "C3"

    return communities_of(units, key)


def test_valid_input_comes_back_unchanged(four_blocks):
    units, comms = four_blocks
    res = redivide(units, communities=comms, rules=ReformRules(min_households=1000))
    assert membership(res.units, "community_code") == membership(res.units, "previous_code")
    assert set(res.communities["community_code"]) == {"C1", "C2", "C3", "C4"}
    assert (res.communities["community_code"] == res.communities["previous_code"]).all()
    assert not res.communities["changed"].any()
    assert not res.changes["moved"].any()
    counts = res.report["counts"].set_index("metric")
    assert counts.loc["communities", "before"] == counts.loc["communities", "after"] == 4
    assert counts.loc["households_moved", "after"] == 0


def test_invariants_conservation_contiguity_bounds(mixed_sizes):
    units, comms = mixed_sizes
    res = redivide(units, communities=comms, rules=ReformRules())
    # every unit in exactly one new community, households conserved
    assert res.units["community_code"].notna().all()
    assert len(res.units) == len(units)
    assert int(res.communities["households"].sum()) == int(units["households"].sum())
    assert int(res.changes["households"].sum()) == int(units["households"].sum())
    assert res.communities["community_id"].is_unique
    # contiguous: rook-connected squares and a single polygon each
    for cid, grp in res.units.groupby("community_id"):
        assert rook_connected(list(grp.index), res.units), cid
    assert (res.communities.geometry.geom_type == "Polygon").all()
    # feasible here, so every community is within the band
    assert res.communities["in_bounds"].all()
    assert res.communities["households"].between(1000, 3000).all()
    assert res.diagnostics.empty


def test_undersized_community_is_merged_and_oversized_split(mixed_sizes):
    units, comms = mixed_sizes
    res = redivide(units, communities=comms, rules=ReformRules())
    new_of = res.units["community_code"]
    # C4 (800 households) is below the floor: all its units now share a larger community
    c4 = res.units.index[res.units["previous_code"] == "C4"]
    assert new_of[c4].nunique() == 1
    merged = res.communities.set_index("community_code").loc[new_of[c4].iloc[0]]
    assert merged["households"] > 800
    assert "C4" not in set(res.communities["community_code"])
    # C1 (4,800) is above the ceiling: split into at least two communities
    c1 = res.units.index[res.units["previous_code"] == "C1"]
    assert new_of[c1].nunique() >= 2
    counts = res.report["counts"].set_index("metric")
    assert counts.loc["oversized", "before"] == 1 and counts.loc["undersized", "before"] == 1
    assert counts.loc["oversized", "after"] == 0 and counts.loc["undersized", "after"] == 0
    # the valid neighbour that did not have to take C4 is untouched
    untouched = [c for c in ("C2", "C3") if c in set(res.communities["community_code"])]
    assert untouched
    for code in untouched:
        row = res.communities.set_index("community_code").loc[code]
        if not row["changed"]:
            old = set(res.units.index[res.units["previous_code"] == code])
            assert set(res.units.index[new_of == code]) == old


def test_code_rules_keep_majority_code_and_number_new_from_601(mixed_sizes):
    units, comms = mixed_sizes
    res = redivide(units, communities=comms, rules=ReformRules())
    c = res.communities
    for _, row in c.iterrows():
        code = row["community_code"]
        members = res.units[res.units["community_code"] == code]
        if row["kept"]:
            # substantially the old one: >= 50 % of it, and that community's majority
            from_old = members.loc[members["previous_code"] == code, "households"].sum()
            old_total = res.units.loc[res.units["previous_code"] == code, "households"].sum()
            assert from_old >= 0.5 * row["households"]
            assert from_old > 0.5 * old_total
        else:
            assert len(code) == 3 and code.isdigit() and int(code) >= 601
    new_codes = sorted(int(x) for x in c.loc[~c["kept"], "community_code"])
    assert new_codes == list(range(601, 601 + len(new_codes)))
    assert (c["kept"] == (c["community_code"] == c["previous_code"])).all()


def test_code_continuity_rule():
    # a keeps its code: 20 of 25 from a (>= 50 %) and all of a
    assert code_continuity(["a", "a", "b"], [1, 1, 1], [10, 10, 5]).to_dict() == {1: "a"}
    # an even split of a: neither half holds a's majority
    out = code_continuity(["a", "a"], [1, 2], [10, 10]).to_dict()
    assert out == {1: None, 2: None}
    # a merged community mostly from b keeps b's code; a's code retires
    out = code_continuity(["a", "b", "b"], [1, 1, 1], [10, 15, 15]).to_dict()
    assert out == {1: "b"}
    # all-zero weights fall back to unit counts
    assert code_continuity(["a", "a", "a"], [1, 1, 2], [0, 0, 0]).to_dict() == {1: "a", 2: None}


def test_new_codes_restart_at_601_in_every_street():
    units = make_lattice_units(12, 8, households=100)
    units["street_id"] = np.where(units["col"] < 6, "S1", "S2")
    units, comms = communities_of(units, lambda r, c: "W" if c < 6 else "E")
    res = redivide(units, communities=comms, rules=ReformRules(max_households=2000))
    c = res.communities
    for street, grp in c.groupby("street_id"):
        new = sorted(grp.loc[~grp["kept"], "community_code"])
        assert new and new[0] == "601", street
    assert c["community_id"].is_unique
    # within street: no community mixes units of the two streets
    assert (res.units.groupby("community_id")["street_id"].nunique() == 1).all()


def test_communities_stay_inside_streets():
    units = make_lattice_units(12, 8, households=100)
    x0, y0 = LATTICE_ORIGIN
    cell = LATTICE_CELL_M
    streets = gpd.GeoDataFrame(
        {"street_id": ["S1", "S2"]},
        geometry=[
            box(x0, y0, x0 + 5 * cell, y0 + 8 * cell),
            box(x0 + 5 * cell, y0, x0 + 12 * cell, y0 + 8 * cell),
        ],
        crs=units.crs,
    )
    # the current communities straddle the street boundary at column 5
    units, comms = communities_of(units, lambda r, c: "N" if r < 4 else "S")
    res = redivide(units, communities=comms, streets=streets, rules=ReformRules())
    street_of = np.where(units["col"] < 5, "S1", "S2")
    per = pd.Series(street_of, index=res.units.index).groupby(res.units["community_id"]).nunique()
    assert (per == 1).all()
    assert set(res.communities["street_id"]) == {"S1", "S2"}
    assert res.communities["in_bounds"].all()


def test_barriers_are_not_crossed_by_replanned_communities():
    units = make_lattice_units(12, 8, households=100)
    x0, y0 = LATTICE_ORIGIN
    road = gpd.GeoDataFrame(
        {"name": ["ring road"], "barrier_class": ["major_road"]},
        geometry=[LineString([(x0 - 50, y0 + 400), (x0 + 1250, y0 + 400)])],
        crs=units.crs,
    )
    units, comms = communities_of(units, lambda r, c: "A" if c < 6 else "B")  # 4,800 each
    res = redivide(units, communities=comms, barriers=road, rules=ReformRules())
    assert not res.communities["crosses_barrier"].any()
    north = units["row"] >= 4
    per = north.groupby(res.units["community_id"]).nunique()
    assert (per == 1).all()


def test_enterprise_areas_are_left_out_and_listed():
    units = make_lattice_units(12, 8, households=100)
    x0, y0 = LATTICE_ORIGIN
    park = gpd.GeoDataFrame(
        {"dedicated_id": ["D1", "D2"], "category": ["landuse_industrial", "park"]},
        geometry=[box(x0 + 1000, y0, x0 + 1200, y0 + 200), box(x0, y0, x0 + 200, y0 + 200)],
        crs=units.crs,
    )
    units, comms = communities_of(units, lambda r, c: f"C{(r >= 4) * 2 + (c >= 6) + 1}")
    rules = ReformRules(enterprise_residents="dedicated")
    res = redivide(units, communities=comms, dedicated=park, rules=rules)
    in_ent = res.units["dedicated_id"] == "D1"
    assert in_ent.sum() == 4
    assert res.units.loc[in_ent, "community_id"].isna().all()
    assert res.units.loc[~in_ent, "community_id"].notna().all()  # the park stays residential
    assert list(res.dedicated["dedicated_id"]) == ["D1"]
    assert int(res.dedicated["households"].sum()) == 400
    total = int(res.communities["households"].sum()) + int(res.dedicated["households"].sum())
    assert total == int(units["households"].sum())
    # sent to the enterprise area, not moved to another community (they counted as moved)
    sent = res.changes[res.changes["dedicated_id"] == "D1"]
    assert sent["to_enterprise"].all() and not sent["moved"].any()
    assert int(sent["households_moved"].sum()) == 0
    counts = res.report["counts"].set_index("metric")["after"]
    assert counts["households_to_enterprise"] == 400 and counts["households_moved"] == 0


def test_enterprise_homes_are_handed_over_to_the_territorial_community():
    # 居企分离 as practice means it: the enterprise-run homes join the community around them
    units = make_lattice_units(12, 8, households=100)
    x0, y0 = LATTICE_ORIGIN
    works = gpd.GeoDataFrame(
        {"dedicated_id": ["D1"], "category": ["landuse_industrial"]},
        geometry=[box(x0 + 1000, y0, x0 + 1200, y0 + 200)],
        crs=units.crs,
    )
    units, comms = communities_of(units, lambda r, c: f"C{(r >= 4) * 2 + (c >= 6) + 1}")
    res = redivide(units, communities=comms, dedicated=works, rules=ReformRules())
    in_ent = res.units["dedicated_id"] == "D1"
    assert in_ent.sum() == 4
    assert res.units["community_id"].notna().all()  # nobody is left out of a community
    # they join the community that holds the territory around them (C2, south-east)
    assert set(res.units.loc[in_ent, "community_id"]) == {"C2"}
    assert int(res.communities["households"].sum()) == int(units["households"].sum())
    handed = res.changes[res.changes["handed_over"]]
    assert int(handed["households"].sum()) == 400 and not handed["moved"].any()
    counts = res.report["counts"].set_index("metric")["after"]
    assert counts["households_handed_over"] == 400 and counts["households_to_enterprise"] == 0


def test_target_count_is_reached(four_blocks):
    units, comms = four_blocks  # 9,600 households in four valid communities
    res = redivide(units, communities=comms, rules=ReformRules(max_households=4000, target_count=3))
    assert len(res.communities) == 3
    assert res.communities["in_bounds"].all()
    res = redivide(units, communities=comms, rules=ReformRules(target_count=6))
    assert len(res.communities) == 6
    assert res.communities["in_bounds"].all()
    # 9,600 cannot make three communities of at most 3,000: as close as the band allows
    res = redivide(units, communities=comms, rules=ReformRules(target_count=3))
    assert len(res.communities) == 4
    row = res.diagnostics.set_index("code").loc["reform_target_count"]
    assert row["params"]["target"] == 3 and row["params"]["got"] == 4


def test_replanning_valid_communities_keeps_bounds_and_is_deterministic(four_blocks):
    units, comms = four_blocks
    rules = ReformRules(keep_valid=False, max_households=2000)
    a = redivide(units, communities=comms, rules=rules, seed=3)
    b = redivide(units, communities=comms, rules=rules, seed=3)
    assert a.communities["in_bounds"].all()
    pd.testing.assert_series_equal(a.units["community_id"], b.units["community_id"])


def test_communities_given_as_a_units_column(mixed_sizes):
    units, _ = mixed_sizes
    units = units.copy()
    units["ward"] = np.where(units["col"] < 6, 1, 2)
    res = redivide(units, communities="ward", rules=ReformRules())
    assert set(res.units["previous_code"]) == {"1", "2"}
    assert res.communities["in_bounds"].all()


def test_population_balance_without_households():
    units = make_lattice_units(12, 8, households=100)
    units = units.drop(columns=["households"]).assign(TOTPOP=250)
    units, comms = communities_of(units, lambda r, c: "A" if c < 6 else "B")  # 12,000 each
    with pytest.warns(UserWarning, match="no `households` column"):
        res = redivide(
            units,
            communities=comms,
            columns={"TOTPOP": "population"},
            rules=ReformRules(min_households=4000, max_households=6000, balance="population"),
        )
    assert res.communities["population"].between(4000, 6000).all()
    assert res.communities["population"].sum() == 24000


def test_infeasible_community_is_reported():
    units = make_lattice_units(4, 2, households=100)  # 800 households in all
    units, comms = communities_of(units, lambda r, c: "A" if c < 2 else "B")
    res = redivide(units, communities=comms, rules=ReformRules())
    assert len(res.communities) == 1  # merged as far as possible
    assert not res.communities["in_bounds"].any()
    codes = set(res.diagnostics["code"])
    assert {"reform_infeasible_street", "reform_under_isolated"} <= codes
    assert res.diagnostics["fix"].str.contains("min_households").all()
    # the rows name the units and suggest only values the rules accept: a floor of 800
    street = res.diagnostics.set_index("code").loc["reform_infeasible_street"]
    assert len(street["unit_ids"]) == 8 and isinstance(street["unit_ids"], tuple)
    assert street["params"]["lo_fix"] == 800
    ReformRules(min_households=street["params"]["lo_fix"])
    assert "800" in street["fix"]


def test_rules_and_inputs_are_validated(four_blocks):
    with pytest.raises(ValidationError) as err:
        ReformRules(min_households=0, max_households=-1, target_count=0, new_code_start=1200)
    checks = {p.check for p in err.value.problems}
    assert {"bounds", "target_count", "new_code_start"} <= checks
    units, comms = four_blocks
    units = units.copy()
    units["community_id"] = ["C9"] * 2 + ["C1"] * (len(units) - 2)
    with pytest.raises(ValidationError, match=r"C9.*ids u0, u1"):
        redivide(units, communities=comms)
    with pytest.raises(ValidationError, match="current communities"):
        redivide(units.drop(columns=["community_id"]), communities=None)


def test_cli_writes_layers_and_prints_counts(mixed_sizes, write_gpkg, tmp_path):
    units, comms = mixed_sizes
    src = write_gpkg({"units": units, "communities": comms})
    out = tmp_path / "new.gpkg"
    result = runner.invoke(app, ["reform", str(src), "--communities", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "communities: 4 ->" in result.output
    assert "oversized: 1 -> 0" in result.output
    names = {n for n, _ in pyogrio.list_layers(out)}
    assert {"communities", "changes", "units", "counts"} <= names
    comm = gpd.read_file(out, layer="communities")
    assert {"community_code", "previous_code", "households", "in_bounds"} <= set(comm.columns)
    changes = pyogrio.read_dataframe(out, layer="changes")
    assert {"previous_code", "community_code", "households_moved"} <= set(changes.columns)
    assert int(changes["households"].sum()) == int(units["households"].sum())


def test_cli_bad_input_lists_every_problem_without_traceback(tmp_path):
    out = tmp_path / "new.gpkg"
    result = runner.invoke(
        app,
        [
            "reform",
            str(tmp_path / "missing.gpkg"),
            "--communities",
            str(tmp_path / "also_missing.gpkg"),
            "--min-households",
            "5000",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "3 problems found" in result.output
    assert "missing.gpkg" in result.output and "max_households" in result.output
    assert not out.exists()


def test_cells_mode_units_matches_polygons(four_blocks):
    units, comms = four_blocks
    res = redivide(units, communities=comms, rules=ReformRules(cells="units"))
    got = res.communities.set_index("community_code").geometry
    want = comms.set_index("community_id").geometry
    for code in want.index:
        assert shapely.equals_exact(got[code].normalize(), want[code].normalize(), 1e-6) or (
            abs(got[code].area - want[code].area) < 1e-3
        )


def test_queenstown_points_with_streets_and_barriers(data_dir):
    """Real HDB blocks (points, tessellated), subzones, a planning area and major roads."""
    src = data_dir / "singapore_queenstown.gpkg"
    layers = {n: gpd.read_file(src, layer=n) for n in ("units", "communities", "streets")}
    barriers = gpd.read_file(src, layer="barriers")
    res = redivide(
        layers["units"],
        communities=layers["communities"],
        streets=layers["streets"],
        barriers=barriers,
        rules=ReformRules(min_households=1500, max_households=3000),
    )
    c = res.communities
    assert int(c["households"].sum()) == int(layers["units"]["households"].sum())
    assert c["in_bounds"].all()
    assert not c["crosses_barrier"].any()
    assert (c.geometry.geom_type == "Polygon").all()
    counts = res.report["counts"].set_index("metric")
    assert counts.loc["oversized", "before"] > 0 and counts.loc["oversized", "after"] == 0
    # communities that were valid and untouched keep their code and their blocks
    for _, row in c[~c["changed"]].iterrows():
        members = res.units.index[res.units["community_code"] == row["community_code"]]
        assert (res.units.loc[members, "previous_code"] == row["community_code"]).all()


# --- diagnostics as records -------------------------------------------------------------------


def test_diagnostics_are_records_in_both_languages_with_fixes_the_rules_accept():
    from gridplan import diagnostics

    # one 4,000-household unit in a 1,000-3,000 band: its community cannot be split
    units = make_lattice_units(4, 2, households=lambda r, c: 4000 if (r, c) == (0, 0) else 300)
    units, comms = communities_of(units, lambda r, c: "A")
    res = redivide(units, communities=comms, rules=ReformRules())
    table = res.diagnostics
    assert list(table.columns) == list(diagnostics.COLUMNS)
    by_code = table.set_index("code")
    assert {"reform_unit_over_ceiling", "reform_over_bounds"} <= set(by_code.index)
    unit = by_code.loc["reform_unit_over_ceiling"]
    assert unit["unit_ids"] == ("u0",) and unit["households"] == 4000
    over = by_code.loc["reform_over_bounds"]
    code = res.communities["community_code"].iat[0]
    assert over["community_code"] == code and len(over["unit_ids"]) == 8
    # messages name the public community code, in Chinese by default and in English on demand
    assert code in over["message"] and "超过上限" in over["message"]
    en = diagnostics.render_frame(table, lang="en").set_index("code").loc["reform_over_bounds"]
    assert f"community {code} holds 6100 households" in en["message"]
    # the fix names a ceiling above the current one, which the rules accept
    hi_fix = over["params"]["hi_fix"]
    assert hi_fix == 6100 and f"max_households to {hi_fix}" in en["fix"]
    ReformRules(max_households=hi_fix)


def test_isolated_unit_is_linked_and_reported():
    units = make_lattice_units(4, 2, households=300)
    lone = units.iloc[[0]].copy()
    lone["unit_id"] = "island"
    lone.index = ["island"]
    lone["geometry"] = lone.geometry.translate(0, 5000)  # touches nothing
    units = pd.concat([units, lone])
    units, comms = communities_of(units, lambda r, c: "A")
    res = redivide(units, communities=comms, rules=ReformRules(min_households=1000, cells="units"))
    row = res.diagnostics.set_index("code").loc["reform_isolated_unit"]
    assert row["unit_ids"] == ("island",) and row["params"]["n"] == 1
    # linked, so it belongs to a community like every other unit
    assert res.units.loc["island", "community_id"] is not None
    assert int(res.communities["households"].sum()) == 2700


# --- codes and groups -------------------------------------------------------------------------


def test_a_community_in_two_pieces_becomes_two_new_ones():
    # A lies in two separate patches (columns 0-2 and 9-11) around B: each patch is a group of
    # its own, neither holds more than half of A, so both get new numbers from 601
    units = make_lattice_units(12, 4, households=100)  # patches of 1,200, B holds 2,400
    units, comms = communities_of(units, lambda r, c: "B" if 3 <= c <= 8 else "A")
    res = redivide(units, communities=comms, rules=ReformRules())
    assert sorted(res.communities["community_code"]) == ["601", "602", "B"]
    by_code = res.communities.set_index("community_code")
    assert by_code.loc["B", "kept"] and not by_code.loc["B", "changed"]
    # numbered north to south, then west to east: the western patch first (same latitude)
    west = res.units.loc[res.units["col"] == 0, "community_code"].unique().tolist()
    assert west == ["601"]
    assert set(by_code.loc[["601", "602"], "previous_code"]) == {"A"}


def test_number_communities_skips_taken_codes_and_reads_like_its_neighbours():
    from gridplan.codes import number_communities

    street = np.array(["s1", "s1", "s2", "s2"], dtype=object)
    kept = np.array([None, "110101001601", None, None], dtype=object)
    xy = np.array([[0.0, 0.0], [0.0, 5.0], [0.0, 9.0], [3.0, 9.0]])
    current = {"s1": {"110101001601", "110101001602"}, "s2": {"A7"}}
    code, cid = number_communities(street, kept, xy, current=current, start=601)
    # s1: 601 and 602 are taken by current communities, so the new one is 603 with their prefix
    assert (code[0], cid[0]) == ("603", "110101001603")
    assert (code[1], cid[1]) == ("110101001601", "110101001601")
    # s2 has no numeric codes: ids are street-number, west to east on one row
    assert code[2:].tolist() == ["601", "602"] and cid[2:].tolist() == ["s2-601", "s2-602"]


def test_float_and_text_community_ids_name_the_same_community(four_blocks):
    """Current communities named 12.0 on the units (a spreadsheet's number) and "12" on the
    layer, or given as a float column, are one community with one code."""
    units, comms = four_blocks
    number = {"C1": 12.0, "C2": 13.0, "C3": 14.0, "C4": 15.0}
    zone = [
        f"C{(r >= 4) * 2 + (c >= 6) + 1}" for r, c in zip(units["row"], units["col"], strict=True)
    ]
    as_float = units.assign(community_id=[number[z] for z in zone])
    as_text = comms.assign(community_id=comms["community_id"].map(lambda c: str(int(number[c]))))
    rules = ReformRules(min_households=1000)
    by_layer = redivide(as_float, communities=as_text, rules=rules)
    by_column = redivide(
        as_float.rename(columns={"community_id": "ward"}), communities="ward", rules=rules
    )
    for res in (by_layer, by_column):
        assert set(res.units["previous_code"]) == {"12", "13", "14", "15"}
        assert membership(res.units, "community_code") == membership(res.units, "previous_code")


def test_redivision_and_the_grid_stage_draw_the_same_cells():
    """One cells function: with one community (so street = community) and one enterprise
    area, redivision's cells are the grid stage's cells and the same units are taken out."""
    from gridplan.layers import prepare_layers
    from gridplan.partition.grids import unit_cells
    from gridplan.reform.cells import prepare

    units = make_lattice_units(6, 4, households=100)
    units = units.assign(geometry=units.geometry.centroid)  # points: cells are tessellated
    x0, y0 = LATTICE_ORIGIN
    whole = gpd.GeoDataFrame(
        {"community_id": ["C1"]}, geometry=[box(*units.total_bounds).buffer(50)], crs=units.crs
    )
    works = gpd.GeoDataFrame(
        {"dedicated_id": ["D1"], "category": ["industrial"]},
        geometry=[box(x0, y0, x0 + 200, y0 + 200)],
        crs=units.crs,
    )
    layers = prepare_layers(units, communities=whole, dedicated=works)
    grid = unit_cells(layers)
    reform = prepare(layers, rules=ReformRules(enterprise_residents="dedicated"))
    order = {u: k for k, u in enumerate(grid.ids)}
    at = np.array([order[u] for u in reform.ids])  # the grid stage sorts the units by id
    assert (grid.dedicated_of[at] == reform.ent_of).all() and (reform.ent_of >= 0).sum() == 4
    resid = reform.resid
    assert shapely.equals(grid.cells[at[resid]], reform.cells[resid]).all()
