"""Unit parts (issue 21): every grid a unit belongs to is recorded.

The equivalency file alone must add up to every grid's and every micro-grid's households,
split buildings included; the units layer lists every grid of a unit; a split unit's
diagnostic names the grids of its parts; the GeoPackage and the report carry the same rows.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

import gridplan
from gridplan.export import (
    unit_parts_frame,
    write_equivalency,
    write_geopackage,
    write_report_xlsx,
)
from gridplan.previous import read_previous
from gridplan.stages import UNIT_PART_COLUMNS

DATA = Path(__file__).resolve().parents[1] / "data"
CRS = 32650
X0, Y0 = 500_000.0, 3_000_000.0


def _plan(units, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gridplan.plan(units, seed=0, **kw)


def _read_equivalency(plan, tmp_path: Path) -> pd.DataFrame:
    path = write_equivalency(plan, tmp_path / "eq.csv")
    return pd.read_csv(path, dtype={"unit_id": str, "grid_code": str, "microgrid_code": str})


def assert_equivalency_reproduces_the_plan(plan, table: pd.DataFrame) -> None:
    """The equivalency rows alone give every grid's and micro-grid's households, every unit
    is listed with all its households, and (unit, part) names one row."""
    assert list(table.columns) == list(UNIT_PART_COLUMNS)
    grids = plan.grids.set_index("grid_code")["households"].astype(int)
    by_grid = table.groupby("grid_code")["households"].sum().reindex(grids.index).fillna(0)
    assert (by_grid.astype(int) == grids).all(), (by_grid[by_grid != grids], grids)
    # no row points to a grid the plan does not have
    assert set(table["grid_code"].dropna()) <= set(grids.index)
    micro = plan.microgrids.set_index("microgrid_code")["households"].astype(int)
    by_micro = table.dropna(subset=["microgrid_code"]).groupby("microgrid_code")["households"]
    by_micro = by_micro.sum().reindex(micro.index).fillna(0).astype(int)
    assert (by_micro == micro).all()
    assert set(table["microgrid_code"].dropna()) <= set(micro.index)
    units = plan.units["households"].astype(int)
    per_unit = table.groupby("unit_id")["households"].sum()
    assert set(per_unit.index) == set(units.index.astype(str))
    assert (per_unit.reindex(units.index.astype(str)).to_numpy() == units.to_numpy()).all()
    assert not table.duplicated(["unit_id", "part"]).any()
    # parts are numbered 1..n within each unit
    n = table.groupby("unit_id")["part"].agg(["min", "max", "size"])
    assert (n["min"] == 1).all() and (n["max"] == n["size"]).all()
    # a micro-grid code extends its grid code
    both = table.dropna(subset=["microgrid_code"])
    assert all(
        m.startswith(g) for g, m in zip(both["grid_code"], both["microgrid_code"], strict=True)
    )


def assert_units_list_every_grid(plan) -> None:
    parts = unit_parts_frame(plan)
    every = parts.dropna(subset=["grid_code"]).groupby("unit_id")["grid_code"].agg(set)
    listed = plan.units["grid_codes"].dropna().map(lambda s: set(s.split(";")))
    listed.index = listed.index.astype(str)
    assert listed.to_dict() == every.to_dict()
    for uid, code in plan.units["grid_code"].dropna().items():
        assert code in every[str(uid)]


# ---------------------------------------------------------------------------------------------
# the bundled samples: every grid
# ---------------------------------------------------------------------------------------------


def _taiyuan(layer: str = "units"):
    src = DATA / "taiyuan.gpkg"
    units = gpd.read_file(src, layer=layer)
    ctx = {n: gpd.read_file(src, layer=n) for n in ("dedicated", "barriers", "compounds")}
    return units, ctx


def _queenstown():
    src = DATA / "singapore_queenstown.gpkg"
    units = gpd.read_file(src, layer="units")
    ctx = {n: gpd.read_file(src, layer=n) for n in ("communities", "streets", "barriers")}
    return units, ctx


def _camden():
    src = DATA / "camden_sample.gpkg"
    return gpd.read_file(src, layer="units"), {
        "communities": gpd.read_file(src, layer="communities")
    }


SAMPLES = {
    "queenstown": _queenstown,
    "taiyuan": _taiyuan,
    "taiyuan_stress": lambda: _taiyuan("units_all_buildings"),
    "camden": _camden,
}


@pytest.fixture(scope="module")
def sample_plans():
    out = {}
    for name, make in SAMPLES.items():
        units, ctx = make()
        out[name] = _plan(units, **ctx)
    return out


@pytest.mark.parametrize("name", list(SAMPLES))
def test_the_equivalency_file_alone_reproduces_every_grid(sample_plans, name, tmp_path):
    plan = sample_plans[name]
    table = _read_equivalency(plan, tmp_path)
    assert_equivalency_reproduces_the_plan(plan, table)
    assert_units_list_every_grid(plan)


def test_the_samples_do_split_buildings_across_grids(sample_plans):
    # the property above is only worth something where buildings are split: Taiyuan's
    # largest estimate (3,410 households) alone fills seven grids, and the stress layer
    # (every building counted as housing) splits many more
    assert (
        unit_parts_frame(sample_plans["taiyuan"]).groupby("unit_id")["grid_code"].nunique().max()
        >= 7
    )
    parts = unit_parts_frame(sample_plans["taiyuan_stress"])
    grids_per_unit = parts.groupby("unit_id")["grid_code"].nunique()
    assert grids_per_unit.max() >= 7
    assert (grids_per_unit > 1).sum() >= 3
    # a grid made of one building's part alone has a row pointing to it
    only = parts.groupby("grid_code")["unit_id"].nunique()
    assert (only == 1).any()


def test_a_split_units_diagnostic_names_every_grid_of_its_parts(sample_plans):
    plan = sample_plans["taiyuan_stress"]
    parts = unit_parts_frame(plan)
    split = plan.diagnostics[plan.diagnostics["code"] == "unit_split"]
    assert len(split) >= 3
    for row in split.itertuples():
        (uid,) = row.unit_ids
        grids = set(parts.loc[parts["unit_id"] == uid, "grid_code"])
        assert set(row.params["grid_codes"]) == grids
        assert row.grid_code in grids
        assert all(code in row.message for code in grids)


def test_geopackage_and_workbook_carry_the_unit_parts(sample_plans, tmp_path):
    plan = sample_plans["taiyuan"]
    path = write_geopackage(plan, tmp_path / "plan.gpkg")
    layers = dict(pyogrio.list_layers(path))
    assert layers["unit_parts"] is None  # an attribute table
    back = pyogrio.read_dataframe(path, layer="unit_parts")
    expected = unit_parts_frame(plan)
    assert back["unit_id"].tolist() == expected["unit_id"].tolist()
    assert back["households"].tolist() == expected["households"].tolist()
    assert back["grid_code"].tolist() == expected["grid_code"].tolist()
    units = gpd.read_file(path, layer="units")
    assert "grid_codes" in units.columns
    xlsx = write_report_xlsx(plan, tmp_path / "report.xlsx")
    sheet = pd.read_excel(xlsx, sheet_name="unit_parts", dtype={"grid_code": str})
    assert sheet["households"].sum() == plan.grids["households"].sum()


def test_an_equivalency_file_with_split_units_is_a_previous_plan(sample_plans, tmp_path):
    plan = sample_plans["taiyuan"]
    path = write_equivalency(plan, tmp_path / "eq.csv")
    old = read_previous(path, plan.units)
    # a split unit belongs to the grid holding its largest part: its unit grid_code
    assert old.grid == {str(k): v for k, v in plan.units["grid_code"].items()}
    n_grids = unit_parts_frame(plan).groupby("unit_id")["grid_code"].nunique()
    assert set(old.split["unit_id"]) == set(n_grids.index[n_grids > 1])


def test_equivalency_is_deterministic(tmp_path):
    units, ctx = _taiyuan()
    a = write_equivalency(_plan(units, **ctx), tmp_path / "a.csv").read_bytes()
    b = write_equivalency(_plan(units, **ctx), tmp_path / "b.csv").read_bytes()
    assert a == b


# ---------------------------------------------------------------------------------------------
# generated inputs
# ---------------------------------------------------------------------------------------------


@st.composite
def buildings(draw):
    """Footprints on a jittered lattice with households from a handful to far above the
    grid ceiling, so buildings are split across grids and micro-grids."""
    nx = draw(st.integers(3, 7))
    ny = draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    n = nx * ny
    big = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3, unique=True))
    hh = rng.integers(5, 160, n)
    for i in big:
        hh[i] = draw(st.integers(501, 1800))
    geoms = []
    for k in range(n):
        x, y = X0 + (k % nx) * 60 + rng.uniform(0, 8), Y0 + (k // nx) * 60 + rng.uniform(0, 8)
        w, h = rng.uniform(15, 40), rng.uniform(10, 25)
        geoms.append(box(x, y, x + w, y + h))
    units = gpd.GeoDataFrame(
        {"unit_id": [f"b{k:03d}" for k in range(n)], "households": hh}, geometry=geoms, crs=CRS
    )
    return units


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(units=buildings())
def test_generated_plans_are_reproduced_by_their_equivalency_file(units, tmp_path_factory):
    plan = _plan(units)
    table = _read_equivalency(plan, tmp_path_factory.mktemp("eq"))
    assert_equivalency_reproduces_the_plan(plan, table)
    assert_units_list_every_grid(plan)
    # every building above the ceiling has rows in more than one grid
    over = units.loc[units["households"] > 500, "unit_id"]
    grids_of = table.groupby("unit_id")["grid_code"].nunique()
    assert (grids_of.reindex(over).to_numpy() > 1).all()


def test_a_plan_of_grids_only_has_one_row_per_grid_part(tmp_path):
    units = gpd.GeoDataFrame(
        {"unit_id": ["a", "b", "c"], "households": [900, 200, 150]},
        geometry=[Point(X0, Y0), Point(X0 + 50, Y0), Point(X0 + 100, Y0)],
        crs=CRS,
    )
    plan = _plan(units, microgrids=False)
    table = _read_equivalency(plan, tmp_path)
    assert table["microgrid_code"].isna().all()
    assert (table.groupby("unit_id").size().to_dict()) == {"a": 2, "b": 1, "c": 1}
    assert_equivalency_reproduces_the_plan(plan, table)
