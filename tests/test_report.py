"""Plan report: per grid, per micro-grid, rollups and totals on a hand-built tiny plan."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from gridplan.config import GridRules, PlanRules
from gridplan.report import ROLLUP_COLUMNS, TOTAL_COLUMNS, plan_report

RULES = PlanRules()  # grids 300-500 (target 400), micro-grids 30-50 (target 40), 2.8 per household


def tiny_plan() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Two streets; street S1 holds communities C1 (two residential grids, one dedicated) and
    C2 (one residential grid, out of band); street S2 holds C3 (one residential grid)."""
    grids = gpd.GeoDataFrame(
        {
            "grid_code": ["A001", "A002", "A901", "B001", "C001"],
            "community_code": ["A", "A", "A", "B", "C"],
            "community_id": ["C1", "C1", "C1", "C2", "C3"],
            "street_id": ["S1", "S1", "S1", "S1", "S2"],
            "kind": ["residential", "residential", "dedicated", "residential", "residential"],
            "category": ["residential"] * 2 + ["school"] + ["residential"] * 2,
            "households": [400, 300, 12, 520, 450],
            "population": [1000.0, 840.0, 33.6, 1456.0, 1300.0],
            "population_estimated": [False, True, True, True, False],
            "in_band": [True, True, True, False, True],
            "compactness": [0.5, 0.7, 0.9, 0.3, 0.6],
            "n_microgrids": [10, 7, 0, 11, 10],
        },
        geometry=[box(i, 0, i + 1, 1) for i in range(5)],
        crs="EPSG:32649",
    )
    micro_sizes = {"A001": [40] * 10, "A002": [43] * 6 + [42], "B001": [47] * 10 + [50]}
    micro_sizes["C001"] = [45] * 9 + [45]
    rows = []
    for code, sizes in micro_sizes.items():
        for k, h in enumerate(sizes, start=1):
            rows.append(
                {
                    "microgrid_code": f"{code}{k:03d}",
                    "grid_code": code,
                    "households": h,
                    "population": h * 2.5,
                    "in_band": 30 <= h <= 50,
                    "compactness": 0.5,
                    "n_units": 2,
                    "geometry": box(0, 0, 1, 1),
                }
            )
    # one micro-grid of B001 out of band: 10 x 47 + 50 = 520 -> make it 28 + 22 more elsewhere
    micro = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:32649")
    b = micro.index[micro["grid_code"] == "B001"]
    micro.loc[b[0], "households"] = 28
    micro.loc[b[0], "in_band"] = False
    micro.loc[b[1], "households"] = 47 + 19
    micro.loc[b[1], "in_band"] = False
    return grids, micro


def test_tiny_plan_is_consistent():
    grids, micro = tiny_plan()
    res = grids[grids["kind"] == "residential"].set_index("grid_code")["households"]
    assert micro.groupby("grid_code")["households"].sum().to_dict() == res.to_dict()


def test_grid_table():
    grids, micro = tiny_plan()
    t = plan_report(grids, micro, rules=RULES)["grids"]
    assert t["grid_code"].tolist() == ["A001", "A002", "A901", "B001", "C001"]
    # deviation from the 400-household target, in %, none for the dedicated grid
    assert t["deviation_pct"].tolist()[:2] == [0.0, -25.0]
    assert np.isnan(t.loc[2, "deviation_pct"])
    assert t["deviation_pct"].tolist()[3:] == [30.0, 12.5]
    assert t["residents"].tolist() == [1000.0, 840.0, 33.6, 1456.0, 1300.0]
    assert t["n_microgrids"].tolist() == [10, 7, 0, 11, 10]
    assert t["community"].tolist() == ["C1", "C1", "C1", "C2", "C3"]
    # the dedicated grid is exempt from the band, never in band
    assert t["in_band"].tolist() == [True, True, False, False, True]
    assert t["band_status"].tolist() == ["in_band", "in_band", "exempt", "out_of_band", "in_band"]


def test_grid_table_uses_the_given_deviation_and_fills_missing_residents():
    grids, micro = tiny_plan()
    grids["deviation"] = [0.1, 0.2, np.nan, 0.3, 0.4]
    grids.loc[0, "population"] = np.nan
    t = plan_report(grids, micro, rules=RULES)["grids"]
    assert t["deviation_pct"].tolist()[:2] == [10.0, 20.0]
    assert t.loc[0, "residents"] == pytest.approx(400 * 2.8)


def test_microgrid_table():
    grids, micro = tiny_plan()
    t = plan_report(grids, micro, rules=RULES)["microgrids"]
    assert len(t) == 38
    assert t["microgrid_code"].is_unique
    first = t.set_index("microgrid_code").loc["B001001"]
    assert first["households"] == 28
    assert first["deviation_pct"] == pytest.approx(-30.0)  # 28 / 40 - 1
    assert first["community"] == "C2"
    assert not first["in_band"]
    assert t.set_index("microgrid_code").loc["A001001", "residents"] == 100.0


def test_community_rollup():
    grids, micro = tiny_plan()
    t = plan_report(grids, micro, rules=RULES)["communities"].set_index("community")
    assert list(t.columns[:2]) == ["community_code", "street"]
    assert set(ROLLUP_COLUMNS) <= set(t.columns)
    c1 = t.loc["C1"]
    assert (c1["grids"], c1["residential_grids"], c1["dedicated_grids"]) == (3, 2, 1)
    assert c1["microgrids"] == 17
    assert c1["households"] == 712  # 400 + 300 + 12
    assert c1["residents"] == pytest.approx(1873.6)
    assert c1["in_band_share"] == 1.0
    assert (c1["min_households"], c1["max_households"]) == (300, 400)  # residential only
    assert c1["mean_compactness"] == pytest.approx(0.6)
    assert bool(c1["residents_estimated"])
    c2 = t.loc["C2"]
    assert c2["in_band_share"] == 0.0
    assert c2["microgrids_in_band_share"] == pytest.approx(9 / 11)
    assert (c2["min_households"], c2["max_households"]) == (520, 520)
    assert not bool(t.loc["C3", "residents_estimated"])


def test_street_rollup():
    grids, micro = tiny_plan()
    t = plan_report(grids, micro, rules=RULES)["streets"].set_index("street")
    assert t.index.tolist() == ["S1", "S2"]
    s1 = t.loc["S1"]
    assert (s1["grids"], s1["dedicated_grids"], s1["microgrids"]) == (4, 1, 28)
    assert s1["households"] == 1232
    assert s1["in_band_share"] == pytest.approx(2 / 3)
    assert s1["microgrids_in_band_share"] == pytest.approx(26 / 28)
    assert (s1["min_households"], s1["max_households"]) == (300, 520)
    assert t.loc["S2", "households"] == 450


def test_totals():
    grids, micro = tiny_plan()
    t = plan_report(grids, micro, rules=RULES)["totals"]
    assert list(t.columns) == TOTAL_COLUMNS
    assert len(t) == 1
    row = t.iloc[0]
    assert (row["streets"], row["communities"]) == (2, 3)
    assert (row["grids"], row["residential_grids"], row["dedicated_grids"]) == (5, 4, 1)
    assert row["microgrids"] == 38
    assert row["households"] == 1682
    assert row["residents"] == pytest.approx(4629.6)
    assert row["in_band_share"] == 0.75
    assert row["microgrids_in_band_share"] == pytest.approx(36 / 38)
    assert row["max_abs_deviation_pct"] == 30.0
    # households counted once: the same in grids, communities, streets and totals
    report = plan_report(grids, micro, rules=RULES)
    assert report["communities"]["households"].sum() == row["households"]
    assert report["streets"]["households"].sum() == row["households"]


def test_population_balance_measures_residents():
    grids, micro = tiny_plan()
    rules = PlanRules(grid=GridRules(min_households=800, max_households=1200, balance="population"))
    t = plan_report(grids, micro, rules=rules)["grids"]
    assert t.loc[0, "deviation_pct"] == 0.0  # 1000 residents vs target 1000
    assert t.loc[3, "deviation_pct"] == pytest.approx(45.6)


def test_order_of_rows_does_not_matter():
    grids, micro = tiny_plan()
    a = plan_report(grids, micro, rules=RULES)
    b = plan_report(grids.iloc[::-1], micro.iloc[::-1], rules=RULES)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])


def test_a_plan_without_microgrids():
    grids, micro = tiny_plan()
    report = plan_report(grids.drop(columns="n_microgrids"), micro.iloc[:0], rules=RULES)
    assert report["grids"]["n_microgrids"].eq(0).all()
    assert np.isnan(report["totals"].loc[0, "microgrids_in_band_share"])


def test_rollups_equal_each_group_summed_on_its_own():
    """The grouped rollup gives, to the last digit, what each community's grids and
    micro-grids give on their own (including a community of only a dedicated grid and a grid
    without micro-grids)."""
    from gridplan.report import _grid_table, _microgrid_table, _rollup

    rng = np.random.default_rng(4)
    n = 300
    kind = np.where(rng.random(n) < 0.1, "dedicated", "residential")
    comm = rng.integers(0, 40, n).astype(str)
    comm[:1], kind[:1] = "only-dedicated", "dedicated"
    grids = gpd.GeoDataFrame(
        {
            "grid_code": [f"G{i:04d}" for i in range(n)],
            "community_code": comm,
            "community_id": comm,
            "street_id": [f"S{len(c) % 3}{c[:1]}" for c in comm],
            "kind": kind,
            "households": rng.integers(200, 600, n),
            "population": np.where(rng.random(n) < 0.5, np.nan, rng.random(n) * 1500),
            "population_estimated": rng.random(n) < 0.5,
            "in_band": rng.random(n) < 0.8,
            "compactness": np.where(rng.random(n) < 0.05, np.nan, rng.random(n)),
        },
        geometry=[box(0, 0, 1, 1)] * n,
        crs="EPSG:32649",
    )
    m = 3000
    micro = pd.DataFrame(
        {
            "microgrid_code": [f"M{i:05d}" for i in range(m)],
            "grid_code": [f"G{i:04d}" for i in rng.integers(1, n - 1, m)],
            "households": rng.integers(20, 60, m),
        }
    )
    micro["in_band"] = micro["households"].between(30, 50)
    t = plan_report(grids, micro, rules=RULES)["communities"].set_index("community")
    gt = _grid_table(pd.DataFrame(grids), micro, RULES)
    mt = _microgrid_table(micro, RULES, gt)
    for c, group in gt.groupby("community"):
        want = _rollup(group, mt[mt["grid_code"].isin(set(group["grid_code"]))])
        got = t.loc[c]
        for col, value in want.items():
            if pd.isna(value):
                assert pd.isna(got[col]), (c, col)
            else:
                assert got[col] == value, (c, col, got[col], value)
    assert t.loc["only-dedicated", "microgrids"] == 0
    assert pd.isna(t.loc["only-dedicated", "in_band_share"])
