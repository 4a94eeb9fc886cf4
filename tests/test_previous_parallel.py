"""Re-planning from a previous plan street by street in processes (``workers=2``, CLI
``--workers 2``): the files are the one-process files, byte for byte (issue 16)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from living_data import changed_queenstown, queenstown_streets

import gridplan
from gridplan.distributed import split_layers
from gridplan.export import write_equivalency, write_geopackage, write_report_xlsx
from gridplan.previous import read_previous


@pytest.fixture(scope="module")
def streets() -> dict[str, gpd.GeoDataFrame]:
    return queenstown_streets(3)


@pytest.fixture(scope="module")
def today(streets) -> gridplan.Plan:
    return gridplan.plan(
        streets["units"], communities=streets["communities"], barriers=streets["barriers"]
    )


@pytest.fixture(scope="module")
def next_year(streets) -> dict[str, gpd.GeoDataFrame]:
    """Two blocks gone, a compound of 700 households built, and the largest community split:
    its east half is a new community of a new street, so old grids across the cut now lie
    in two streets."""
    units, _ = changed_queenstown(streets["units"])
    big = units.groupby("community_id")["households"].sum().idxmax()
    members = units["community_id"] == big
    mid = float(np.median(units.geometry[members].x))
    east = members & (units.geometry.x >= mid)
    units.loc[east, "community_id"] = f"{big}_B"
    units.loc[east, "street_id"] = "QT-new"
    comm = streets["communities"]
    row = comm[comm["community_id"] == big]
    x0, y0, x1, y1 = row.geometry.iloc[0].bounds
    west, east_row = row.copy(), row.copy()
    west["geometry"] = row.geometry.intersection(shapely.box(x0 - 1, y0 - 1, mid, y1 + 1))
    east_row["geometry"] = row.geometry.intersection(shapely.box(mid, y0 - 1, x1 + 1, y1 + 1))
    east_row["community_id"], east_row["street_id"] = f"{big}_B", "QT-new"
    communities = pd.concat([comm[comm["community_id"] != big], west, east_row])
    return {"units": units, "communities": communities, "barriers": streets["barriers"]}


def _across_streets(today: gridplan.Plan, units: gpd.GeoDataFrame) -> list[str]:
    """Old grid codes whose units now lie in more than one street."""
    street = units.set_index("unit_id")["street_id"]
    old = today.units["grid_code"].reindex(street.index).dropna()
    n = street.reindex(old.index).groupby(old).nunique()
    return sorted(n[n > 1].index)


def test_split_layers_keeps_an_old_grid_across_streets_in_one_part(today, next_year):
    units = next_year["units"]
    across = _across_streets(today, units)
    assert across  # the split community's new street cuts old grids
    layers = gridplan.prepare_layers(units, communities=next_year["communities"])
    previous = read_previous(today.unit_parts, layers.units)
    parts, _ = split_layers(layers, previous=previous)
    part_of = {str(u): i for i, p in enumerate(parts) for u in p.layers.units.index}
    for code in across:
        held = [u for u, c in previous.grid.items() if c == code]
        assert len({part_of[u] for u in held}) == 1, code
    # each part carries its own units' share of the old plan, nobody else's
    for p in parts:
        ids = set(p.layers.units.index.astype(str))
        assert p.previous is not None and set(p.previous.grid) <= ids
    assert sum(len(p.previous.grid) for p in parts) == len(previous.grid)
    # without the previous plan the new street is a part of its own
    plain, _ = split_layers(layers)
    assert len(plain) > len(parts)


def _files(plan: gridplan.Plan, out: Path) -> dict[str, bytes]:
    out.mkdir()
    write_geopackage(plan, out / "plan.gpkg")
    write_equivalency(plan, out / "units.csv")
    write_report_xlsx(plan, out / "report.xlsx")
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.mark.parametrize("data", ["changed", "unchanged"])
def test_replan_in_two_workers_writes_the_one_process_files(
    data, streets, today, next_year, tmp_path
):
    layers = next_year if data == "changed" else streets
    kw = {"communities": layers["communities"], "barriers": layers["barriers"]}
    one = gridplan.plan(layers["units"], **kw, previous=today.unit_parts)
    seen: list[str] = []
    two = gridplan.plan(
        layers["units"], **kw, previous=today.unit_parts, workers=2,
        progress=lambda done, total, message: seen.append(message),
    )  # fmt: skip
    # planned street by street in processes (each street's end is reported by name)
    assert any(m.startswith("street") for m in seen), seen[:3]
    a, b = _files(one, tmp_path / "one"), _files(two, tmp_path / "two")
    assert [k for k in a if a[k] != b[k]] == []
    replanned = set(one.diagnostics.loc[one.diagnostics["code"] == "previous_replanned", "code"])
    if data == "changed":
        assert replanned  # a re-plan worth comparing: some old grids were re-planned
        assert _across_streets(today, layers["units"])
    else:
        assert not replanned
        assert one.units["grid_code"].tolist() == today.units["grid_code"].tolist()
