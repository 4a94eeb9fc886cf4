"""Re-planning from a previous plan (issue 16): valid grids and their codes are kept."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

import gridplan
from gridplan.previous import previous_locks, read_previous

SRC = "data/singapore_queenstown.gpkg"


@pytest.fixture(scope="module")
def layers():
    return {
        "units": gpd.read_file(SRC, layer="units"),
        "communities": gpd.read_file(SRC, layer="communities"),
        "barriers": gpd.read_file(SRC, layer="barriers"),
    }


@pytest.fixture(scope="module")
def first(layers):
    return gridplan.plan(
        layers["units"], communities=layers["communities"], barriers=layers["barriers"]
    )


def test_unchanged_data_with_itself_as_previous_gives_the_same_plan(layers, first, tmp_path):
    path = tmp_path / "old.gpkg"
    first.grids.to_file(path, layer="grids")
    again = gridplan.plan(
        layers["units"],
        communities=layers["communities"],
        barriers=layers["barriers"],
        previous=path,
    )
    assert again.grids["grid_code"].tolist() == first.grids["grid_code"].tolist()
    assert again.units["grid_code"].tolist() == first.units["grid_code"].tolist()
    assert (
        again.microgrids["microgrid_code"].tolist() == first.microgrids["microgrid_code"].tolist()
    )
    assert again.grids["locked"].sum() == first.grids["in_band"].sum()


def test_equivalency_table_maps_units_and_in_band_grids_become_locks(layers, first, tmp_path):
    table = pd.DataFrame({"unit_id": first.units.index, "grid_code": first.units["grid_code"]})
    path = tmp_path / "old.csv"
    table.to_csv(path, index=False)
    old = read_previous(path, first.units)
    assert old.grid == dict(
        zip(first.units.index.astype(str), first.units["grid_code"], strict=True)
    )
    locks = previous_locks(old, first.units["households"], min_households=300, max_households=500)
    in_band = set(first.grids.loc[first.grids["in_band"], "grid_code"])
    assert set(locks.values()) == in_band & set(locks.values())
    assert set(locks.values()) == in_band & set(first.units["grid_code"])


def test_retired_codes_are_never_reused_and_new_grids_take_free_numbers(layers, first):
    # retire one community's grids from the old plan by dropping their units, then re-plan:
    # the grids that stay keep codes; dropped codes never come back for other grids
    g = first.grids
    res = g[(g["kind"] == "residential") & g["in_band"]]
    victim = res["grid_code"].iloc[0]
    old = first.units[["grid_code"]].reset_index()
    old = old[old["grid_code"] != victim]
    extra = pd.DataFrame({"unit_id": ["ghost"], "grid_code": [victim]})
    table = pd.concat([old, extra], ignore_index=True)
    again = gridplan.plan(
        layers["units"],
        communities=layers["communities"],
        barriers=layers["barriers"],
        previous=table,
    )
    codes = again.grids["grid_code"].tolist()
    assert victim not in codes
    assert len(set(codes)) == len(codes)
    kept = first.grids.set_index("grid_code")["households"]
    same = [c for c in codes if c in kept.index]
    assert len(same) >= len(codes) - 3
