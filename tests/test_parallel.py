"""Streets planned side by side in processes (``workers=``): the same plan as one process,
byte for byte, and a bad worker count refused before any work."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from living_data import queenstown_streets

import gridplan

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def three_streets() -> dict[str, gpd.GeoDataFrame]:
    """Queenstown's subzones grouped into three streets, with its barriers."""
    layers = queenstown_streets(3)
    comm = layers["communities"]
    layers["streets"] = comm.dissolve("street_id").reset_index()[["street_id", "geometry"]]
    return layers


def test_two_workers_give_the_one_process_plan_byte_for_byte(three_streets):
    units = three_streets["units"]
    kw = {k: v for k, v in three_streets.items() if k != "units"}
    locks = {str(units["unit_id"].iloc[0]): "L1", str(units["unit_id"].iloc[1]): "L1"}
    seen: list[tuple[int, int, str]] = []
    one = gridplan.plan(units, **kw, seed=3, locks=locks)
    two = gridplan.plan(
        units, **kw, seed=3, locks=locks, workers=2, progress=lambda *a: seen.append(a)
    )
    assert len(one.grids) > 3 and len(one.microgrids) > 30  # a plan worth comparing
    assert_geodataframe_equal(one.units, two.units)
    assert_geodataframe_equal(one.grids, two.grids)
    assert_geodataframe_equal(one.microgrids, two.microgrids)
    pd.testing.assert_frame_equal(one.diagnostics, two.diagnostics)
    for k in one.report:
        pd.testing.assert_frame_equal(one.report[k], two.report[k])
    # one progress call per street, the last saying all are done
    assert [d for d, _, _ in seen] == [1, 2, 3] and {t for _, t, _ in seen} == {3}


@pytest.mark.parametrize("workers", [0, -2, 1.5, True, "2"])
def test_a_bad_worker_count_is_refused_naming_the_option(workers, three_streets):
    with pytest.raises(gridplan.ValidationError) as err:
        gridplan.plan(three_streets["units"], workers=workers)
    assert [p.check for p in err.value.problems] == ["workers"]
    assert "`workers` must be a whole number >= 1" in str(err.value)
    assert repr(workers) in str(err.value)
