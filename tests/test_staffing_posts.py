"""Posts per grid, community and street (gridplan.staffing.posts)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from staffing_data import CRS, make_grids, make_plan, square

from gridplan.staffing import (
    StaffingRules,
    community_workers_needed,
    staffing_plan,
)

# ---------------------------------------------------------------------------------------------
# posts
# ---------------------------------------------------------------------------------------------


def test_posts_for_three_grids_with_2_5_0_microgrids():
    grids = make_grids([400, 450, 300])
    micro = pd.DataFrame({"microgrid_code": [f"M{i}" for i in range(7)]})
    micro["grid_code"] = ["G1", "G1", "G2", "G2", "G2", "G2", "G2"]
    s = staffing_plan(make_plan(grids, microgrids=micro))
    g = s.grids.set_index("grid_code")
    assert g["n_microgrids"].tolist() == [2, 5, 0]
    assert g["grid_head"].tolist() == [1, 1, 1]
    assert g["fulltime_worker"].tolist() == [1, 1, 1]
    assert g["parttime_workers"].tolist() == [2, 5, 0]
    assert g["dedicated_contact"].tolist() == [0, 0, 0]
    # paid grid posts: heads + full-time workers; the part-time volunteers are not added in
    assert g["paid_posts"].tolist() == [2, 2, 2]
    # the same from the grids' n_microgrids column, and with two part-timers per micro-grid
    s2 = staffing_plan(
        {"grids": make_grids([400, 450, 300], n_microgrids=[2, 5, 0])},
        rules=StaffingRules(parttime_workers_per_microgrid=2, grid_heads_per_grid=2),
    )
    assert s2.grids["parttime_workers"].tolist() == [4, 10, 0]
    assert s2.grids["paid_posts"].tolist() == [2 + 1, 2 + 1, 2 + 1]


def test_dedicated_grids_get_a_contact_not_grid_workers():
    grids = make_grids([400, 0, 120], kinds=["residential", "dedicated", "dedicated"])
    grids["n_microgrids"] = [8, 0, 0]
    s = staffing_plan({"grids": grids})
    g = s.grids.set_index("grid_code")
    assert g.loc[
        "G2", ["grid_head", "fulltime_worker", "dedicated_contact", "paid_posts"]
    ].tolist() == [0, 0, 1, 0]
    # a dedicated grid with homes is pointed out
    d = s.diagnostics
    assert d.loc[d["code"] == "dedicated_with_households", "grid_code"].tolist() == ["G3"]
    s2 = staffing_plan({"grids": grids}, rules=StaffingRules(staff_dedicated_grids=True))
    assert s2.grids.set_index("grid_code").loc["G3", "grid_head"] == 1
    assert "dedicated_with_households" not in set(s2.diagnostics["code"])


@pytest.mark.parametrize(("per_10k", "expected"), [(18, 23), (25, 31)])
def test_community_workers_for_12345_residents(per_10k, expected):
    grids = make_grids([2000, 2400], population=[6000.0, 6345.0], n_microgrids=[1, 1])
    s = staffing_plan({"grids": grids}, rules=StaffingRules(community_workers_per_10k=per_10k))
    c = s.communities.iloc[0]
    assert c["residents"] == 12_345
    assert not c["residents_estimated"]
    assert c["community_workers"] == expected
    # paid staff: the ratio's community workers, who include the 2 heads and 2 full-time
    # workers; the 2 part-time volunteers are not paid staff (the old total added all four)
    assert c["paid_posts"] == 4
    assert c["paid_staff"] == expected
    assert "grid_posts_beyond_ratio" not in set(s.diagnostics["code"])


def test_community_workers_rounding():
    assert community_workers_needed(10_000, 18) == 18
    assert community_workers_needed(10_001, 18) == 19
    assert community_workers_needed(0, 18) == 0
    assert community_workers_needed(1, 25) == 1


def test_communities_and_streets_roll_up():
    grids = make_grids(
        [400, 400, 400, 0],
        communities=["C1", "C1", "C2", "C3"],
        streets=["S1", "S1", "S1", "S2"],
        kinds=["residential", "residential", "residential", "dedicated"],
        population=[1000.0, 1000.0, 5000.0, 0.0],
        n_microgrids=[9, 8, 10, 0],
    )
    s = staffing_plan({"grids": grids})
    c = s.communities.set_index("community_id")
    assert c["grids"].tolist() == [2, 1, 1]
    assert c["dedicated_grids"].tolist() == [0, 0, 1]
    assert c["community_workers"].tolist() == [4, 9, 0]  # ceil(2000*18/1e4), ceil(5000*18/1e4)
    assert c.loc["C1", "paid_staff"] == 4  # 2 heads + 2 full-time fit in the ratio's 4
    assert c.loc["C2", "paid_staff"] == 9
    st_ = s.streets.set_index("street_id")
    assert st_.loc["S1", "communities"] == 2
    assert st_.loc["S1", "community_workers"] == 13  # the sum of the communities' figures
    assert st_.loc["S2", "dedicated_contact"] == 1
    assert s.streets["paid_staff"].sum() == s.communities["paid_staff"].sum()


def test_community_with_more_grid_heads_than_workers_is_reported():
    grids = make_grids([400, 400], population=[500.0, 500.0], n_microgrids=[1, 1])
    s = staffing_plan({"grids": grids})
    assert s.communities.iloc[0]["community_workers"] == 2
    d = s.diagnostics
    assert (d["code"] == "grid_heads_beyond_workers").sum() == 0
    s = staffing_plan(
        {"grids": grids}, rules=StaffingRules(community_workers_per_10k=1, grid_heads_per_grid=2)
    )
    assert "grid_heads_beyond_workers" in set(s.diagnostics["code"])


def test_residents_estimated_where_population_missing():
    grids = make_grids([100, 200, 300], population=[250.0, np.nan, np.nan], n_microgrids=[2] * 3)
    s = staffing_plan({"grids": grids})
    g = s.grids.set_index("grid_code")
    assert g["residents"].tolist() == pytest.approx([250.0, 560.0, 840.0])
    assert g["residents_estimated"].tolist() == [False, True, True]
    assert s.communities.iloc[0]["residents_estimated"]
    d = s.diagnostics
    row = d[d["code"] == "residents_estimated"].iloc[0]
    codes = row["params"]["grid_codes"]
    assert "G2" in codes and "G3" in codes and "G1" not in codes
    s3 = staffing_plan({"grids": grids}, rules=StaffingRules(household_size=3.0))
    assert s3.grids["residents"].tolist() == pytest.approx([250.0, 600.0, 900.0])


def test_residents_from_units_count_known_and_estimate_the_rest():
    grids = make_grids([100, 60], population=[9999.0, 0.0], n_microgrids=[2, 1])
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["a", "b", "c", "d"],
            "grid_code": ["G1", "G1", "G1", "G2"],
            "households": [40, 30, 10, 20],
            "population": [100.0, np.nan, 25.0, 70.0],
            # c is split: 10 households here, 50 in G2 -> its population cannot be placed
            "n_parts": [1, 1, 2, 1],
        },
        geometry=[square(0).centroid, square(0).centroid, square(0).centroid, square(1).centroid],
        crs=CRS,
    )
    s = staffing_plan(make_plan(grids, units=units))
    g = s.grids.set_index("grid_code")
    # G1: a counted (100) + (100 - 40) households estimated at 2.8
    assert g.loc["G1", "residents"] == pytest.approx(100 + 60 * 2.8)
    # G2: d counted (70) + 40 households of the split unit estimated
    assert g.loc["G2", "residents"] == pytest.approx(70 + 40 * 2.8)
    assert g["residents_estimated"].tolist() == [True, True]
    units["population"] = [100.0, 90.0, np.nan, 70.0]
    units["n_parts"] = 1
    units["households"] = [40, 30, 30, 60]
    s = staffing_plan(make_plan(grids, units=units.assign(grid_code=["G1", "G1", "G1", "G2"])))
    g = s.grids.set_index("grid_code")
    assert g.loc["G2", "residents_estimated"] == np.False_
    # units without a population column: the grids' figures are used
    s = staffing_plan(make_plan(grids, units=units.drop(columns=["population"])))
    assert s.grids["residents"].tolist() == [9999.0, 0.0]


def test_grid_posts_beyond_the_ratio_are_reported_and_paid_staff_not_double_counted():
    # Camden-like: 400-household grids of 1,000 residents, 18/10k gives 2 workers per grid
    # pair (1.8 each) while the grids need 2 paid posts each
    grids = make_grids(
        [400, 400, 400, 400],
        communities=["C1", "C1", "C2", "C2"],
        population=[1000.0, 1000.0, 3000.0, 3000.0],
        n_microgrids=[8, 8, 8, 8],
    )
    s = staffing_plan({"grids": grids})
    c = s.communities.set_index("community_id")
    assert c["community_workers"].tolist() == [4, 11]
    assert c["paid_posts"].tolist() == [4, 4]
    assert c["paid_staff"].tolist() == [4, 11]
    assert "grid_posts_beyond_ratio" not in set(s.diagnostics["code"])
    low = staffing_plan({"grids": grids}, rules=StaffingRules(community_workers_per_10k=10))
    c = low.communities.set_index("community_id")
    assert c["community_workers"].tolist() == [2, 6]
    assert c["paid_staff"].tolist() == [4, 6]  # C1's grids need more than the ratio gives
    d = low.diagnostics.set_index("code")
    params = d.loc["grid_posts_beyond_ratio", "params"]
    assert params["community_ids"] == ["C1"] and params["grid_posts"] == 4
    assert params["workers"] == 2 and params["n_all"] == 2
    # full-time workers hired on top of the community workers
    apart = staffing_plan(
        {"grids": grids},
        rules=StaffingRules(community_workers_per_10k=10, fulltime_are_community_workers=False),
    )
    assert apart.communities["paid_staff"].tolist() == [2 + 2, 6 + 2]


def test_grids_in_no_community_get_no_community_workers():
    grids = make_grids([400, 300], population=[1000.0, 40_000.0], n_microgrids=[8, 6])
    grids["community_id"] = ["C1", None]
    s = staffing_plan({"grids": grids})
    c = s.communities.set_index("community_id")
    assert c.loc["-", "community_workers"] == 0  # was 72 for 40,000 enterprise residents
    assert c.loc["C1", "community_workers"] == 2
    d = s.diagnostics.set_index("code")
    assert d.loc["grids_without_community", "households"] == 300
