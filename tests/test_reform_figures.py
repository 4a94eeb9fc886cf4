"""The figures of a redivision as a street office reads them (issue 20): unknown population,
service reach and households per community worker, codes that carry into the next plan,
valid community polygons."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import shapely
from conftest import make_lattice_units
from shapely.geometry import Polygon
from test_reform import communities_of

import gridplan
from gridplan.reform import ReformRules, redivide


def mixed_sizes() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """12 x 8 lattice of 100-household units: C1 oversized (4,800), C4 undersized (800)."""
    units = make_lattice_units(12, 8, households=100)

    def key(r: int, c: int) -> str:
        if c < 6:
            return "C1"
        if c >= 10 and r >= 4:
            return "C4"
        return "C2" if r < 4 else "C3"

    return communities_of(units, key)


def test_unknown_population_stays_unknown():
    # the units have no population column: every population figure is unknown, never 0.0
    units, comms = mixed_sizes()
    res = redivide(units, communities=comms, rules=ReformRules())
    assert res.communities["population"].isna().all()
    assert res.changes["population"].isna().all()
    assert res.report["mapping"]["population"].isna().all()
    assert res.report["per_street"]["population"].isna().all()
    counts = res.report["counts"].set_index("metric")
    assert math.isnan(counts.loc["population_moved", "after"])
    # households are known and still add up
    assert int(res.communities["households"].sum()) == 9600
    # known in part: the sum of what is known, unknown where nothing is
    units["population"] = np.where(units["col"] < 6, 250.0, np.nan)  # only C1 knows it
    res = redivide(units, communities=comms, rules=ReformRules())
    pop = res.communities.set_index("previous_code")["population"]
    # C1 (48 units x 250) went into two new communities, the others know nothing
    assert float(pop.loc["C1"].sum()) == 48 * 250
    assert pop.drop(index="C1").isna().all()


def test_service_reach_and_households_per_worker():
    units, comms = mixed_sizes()
    rules = ReformRules(community_workers_per_10k=18, household_size=2.8)
    res = redivide(units, communities=comms, rules=rules)
    c = res.communities
    by_id = units.set_index("unit_id")
    pts = shapely.get_coordinates(shapely.point_on_surface(by_id.geometry.to_numpy()))
    xy = dict(zip(by_id.index, map(tuple, pts), strict=True))
    for row in c.itertuples():
        members = res.units.index[res.units["community_id"] == row.community_id]
        mxy = np.array([xy[m] for m in members])
        # the centre is the member nearest the households' mean; the reach its farthest member
        mean = mxy.mean(axis=0)
        centre = members[int(np.argmin(((mxy - mean) ** 2).sum(1)))]
        assert row.service_centre_unit == centre
        reach = float(np.sqrt(((mxy - np.array(xy[centre])) ** 2).sum(1)).max())
        assert abs(row.service_reach_m - reach) < 0.1
        workers = math.ceil(row.households * 2.8 * 18 / 10_000)
        assert row.community_workers == workers
        assert abs(row.households_per_worker - row.households / workers) < 0.05
    # 2,400 households x 2.8 = 6,720 residents need 13 workers: 184.6 households each
    assert set(c["community_workers"]) == {13}
    assert set(c["households_per_worker"]) == {184.6}


def test_reform_codes_carry_into_the_next_plan():
    units, comms = mixed_sizes()
    res = redivide(units, communities=comms, rules=ReformRules())
    code = dict(zip(res.communities["community_id"], res.communities["code"], strict=True))
    assert {"601", "602"} <= set(code.values())  # C1 split into two new communities
    plan = gridplan.plan(res.units, communities=res.communities)
    for cid, part in plan.grids.groupby("community_id"):
        # the grid codes carry the reform's community code, not a number by sorted id
        assert {str(x)[-3:] for x in part["community_code"]} == {code[cid]}
        assert all(str(g)[-6:-3] == code[cid] for g in part["grid_code"])


def test_valid_polygonal_repairs_self_intersections():
    from gridplan.reform.assemble import valid_polygonal

    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    assert not shapely.is_valid(bowtie)
    fixed = valid_polygonal(bowtie)
    assert shapely.is_valid(fixed) and shapely.get_type_id(fixed) in (3, 6)
    assert abs(shapely.area(fixed) - 2.0) < 1e-9
    # a ring touching itself along an edge (a zero-width spike): made valid, kept polygonal
    spike = Polygon([(0, 0), (4, 0), (4, 4), (2, 4), (2, 6), (2, 4), (0, 4)])
    out = valid_polygonal(spike)
    assert shapely.is_valid(out) and abs(shapely.area(out) - 16.0) < 1e-9
    assert shapely.get_type_id(out) in (3, 6)
    assert shapely.is_empty(valid_polygonal(None))


def test_reform_on_taiyuan_keeps_every_home_in_valid_polygons(data_dir):
    # every home of the enterprise areas is handed over to a community, none is lost
    src = data_dir / "taiyuan.gpkg"
    units = gpd.read_file(src, layer="units_all_buildings")
    whole = gpd.GeoDataFrame(
        {"community_id": ["A"]},
        geometry=[units.union_all().convex_hull.buffer(0.001)],
        crs=units.crs,
    )
    res = redivide(
        units,
        communities=whole,
        dedicated=gpd.read_file(src, layer="dedicated"),
        rules=ReformRules(min_households=3000, max_households=8000, keep_valid=False),
    )
    geoms = res.communities.geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    assert np.isin(shapely.get_type_id(geoms), (3, 6)).all()
    assert int(res.communities["households"].sum()) == int(units["households"].sum())
