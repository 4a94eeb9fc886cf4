"""Homes inside dedicated areas (issue 21).

By default (``dedicated_residents = "residential"``) a residential building inside a school or
a market is planned into a residential grid and micro-grids with its neighbours outside, and
the dedicated grid keeps the rest of its area; with ``"dedicated"`` it stays in the dedicated
grid and the diagnostics, the report and the staffing plan say who serves it. Either way every
household in a dedicated area is in a micro-grid or in a report row saying who serves it, and
a dedicated grid is "exempt", never "in band".
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box
from typer.testing import CliRunner

import gridplan
from gridplan.cli import app
from gridplan.config import PlanRules, read_rules
from gridplan.errors import ValidationError
from gridplan.export import write_geopackage, write_report_xlsx
from gridplan.staffing import StaffingRules, staffing_plan

DATA = Path(__file__).resolve().parents[1] / "data"
CRS = 32650
X0, Y0 = 500_000.0, 3_000_000.0
HOMES = PlanRules(dedicated_residents="dedicated")


def _plan(units, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gridplan.plan(units, seed=0, **kw)


def campus(n: int = 6, hh: int = 40):
    """``n`` x ``n`` buildings 60 m apart in one community, and a school over the middle
    2 x 2 of them, far from every building outside it."""
    geoms, ids = [], []
    for k in range(n * n):
        x, y = X0 + (k % n) * 60.0, Y0 + (k // n) * 60.0
        geoms.append(box(x, y, x + 30, y + 20))
        ids.append(f"b{k:02d}")
    units = gpd.GeoDataFrame(
        {"unit_id": ids, "households": hh, "community_id": "C1"}, geometry=geoms, crs=CRS
    )
    lo, hi = (n // 2 - 1) * 60.0 - 12, (n // 2) * 60.0 + 42
    school = gpd.GeoDataFrame(
        {"dedicated_id": ["s1"], "name": ["实验小学"], "category": ["school"]},
        geometry=[box(X0 + lo, Y0 + lo, X0 + hi, Y0 + hi)],
        crs=CRS,
    )
    community = gpd.GeoDataFrame(
        {"community_id": ["C1"], "name": ["一社区"]},
        geometry=[box(X0 - 30, Y0 - 30, X0 + n * 60.0 + 10, Y0 + n * 60.0 + 10)],
        crs=CRS,
    )
    return units, school, community


def homes_inside(plan, dedicated: gpd.GeoDataFrame) -> pd.Index:
    """Units with households whose representative point lies in a dedicated polygon."""
    u = plan.units.to_crs(dedicated.crs)
    rep = gpd.GeoDataFrame(geometry=u.geometry.representative_point(), crs=dedicated.crs)
    hit = gpd.sjoin(rep, dedicated[["geometry"]], predicate="within")
    inside = u.index[u.index.isin(hit.index)]
    return inside[u.loc[inside, "households"].to_numpy() > 0]


def assert_every_home_served(plan, dedicated: gpd.GeoDataFrame) -> None:
    """Each home in a dedicated area is in a micro-grid, or listed in a report row that says
    who serves it."""
    inside = homes_inside(plan, dedicated)
    table = plan.report["dedicated_residents"]
    listed = {
        uid: served
        for ids, served in zip(table["unit_ids"], table["served_by"], strict=True)
        for uid in str(ids).split(";")
    }
    for uid in inside.astype(str):
        micro = plan.units.loc[uid, "microgrid_code"]
        in_micro = isinstance(micro, str) and bool(micro)
        assert in_micro or listed.get(uid), uid
    # nothing goes unreported: every home of the rows is one of them
    assert set(listed) <= set(inside.astype(str))


def assert_dedicated_grids_exempt(plan) -> None:
    ded = plan.grids["kind"] == "dedicated"
    assert (plan.grids.loc[ded, "band_status"] == "exempt").all()
    assert not plan.grids.loc[ded, "in_band"].any()
    assert (
        plan.report["grids"].loc[plan.report["grids"]["kind"] == "dedicated", "band_status"]
        == "exempt"
    ).all()
    res = ~ded
    expect = np.where(plan.grids.loc[res, "in_band"], "in_band", "out_of_band")
    assert (plan.grids.loc[res, "band_status"].to_numpy() == expect).all()


# ---------------------------------------------------------------------------------------------
# by default: homes inside a school are planned with their neighbours
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_plan():
    units, school, community = campus()
    return _plan(units, dedicated=school, communities=community), units, school


def test_homes_inside_a_school_get_grids_and_microgrids(default_plan):
    plan, units, school = default_plan
    inside = homes_inside(plan, school)
    assert len(inside) == 4
    assert plan.units.loc[inside, "microgrid_code"].notna().all()
    ded = plan.grids[plan.grids["kind"] == "dedicated"]
    assert len(ded) == 1 and int(ded["households"].iloc[0]) == 0
    # each is in a grid with homes outside the school (not a grid of its own)
    for code in set(plan.units.loc[inside, "grid_code"]):
        members = plan.units.index[plan.units["grid_code"] == code]
        assert not set(members) <= set(inside), code
    assert int(plan.grids["households"].sum()) == int(units["households"].sum())


def test_the_dedicated_grid_keeps_the_rest_of_its_area(default_plan):
    plan, units, school = default_plan
    ded = plan.grids.loc[plan.grids["kind"] == "dedicated"].geometry.iloc[0]
    area = school.geometry.iloc[0].area
    # most of the school is kept; none of the homes' footprints is in it
    assert 0.5 * area < ded.area < area
    inside = homes_inside(plan, school)
    assert (
        shapely.area(
            shapely.intersection(ded, units.set_index("unit_id").loc[inside].geometry.to_numpy())
        ).sum()
        < 1e-6
    )
    # the residential grids and the dedicated grid do not overlap
    res = plan.grids.loc[plan.grids["kind"] == "residential"].geometry.to_numpy()
    assert shapely.area(shapely.intersection(res, ded)).sum() < 1.0


def test_the_report_and_diagnostics_say_where_the_homes_went(default_plan):
    plan, _, school = default_plan
    inside = homes_inside(plan, school)
    table = plan.report["dedicated_residents"]
    assert len(table) == 1
    row = table.iloc[0]
    code = plan.grids.loc[plan.grids["kind"] == "dedicated", "grid_code"].iloc[0]
    assert row["grid_code"] == code and row["planned_as"] == "residential"
    assert row["served_by"] == "grid_workers" and row["households"] == 160
    assert set(row["grid_codes"].split(";")) == set(plan.units.loc[inside, "grid_code"])
    assert sorted(row["unit_ids"].split(";")) == sorted(inside)
    diag = plan.diagnostics[plan.diagnostics["code"] == "dedicated_residents_planned"]
    assert len(diag) == 1 and diag["severity"].iloc[0] == "info"
    assert sorted(diag["unit_ids"].iloc[0]) == sorted(inside)
    assert "实验小学" in diag["message"].iloc[0]
    assert_every_home_served(plan, school)
    assert_dedicated_grids_exempt(plan)


# ---------------------------------------------------------------------------------------------
# dedicated_residents = "dedicated": they stay, and the plan says who serves them
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kept_plan():
    units, school, community = campus()
    return _plan(units, dedicated=school, communities=community, rules=HOMES), school


def test_dedicated_rule_keeps_them_and_reports_who_serves_them(kept_plan, tmp_path):
    plan, school = kept_plan
    inside = homes_inside(plan, school)
    ded = plan.grids[plan.grids["kind"] == "dedicated"]
    assert int(ded["households"].iloc[0]) == 160
    assert plan.units.loc[inside, "microgrid_code"].isna().all()
    table = plan.report["dedicated_residents"]
    assert table["served_by"].tolist() == ["dedicated_contact"]
    assert table["planned_as"].tolist() == ["dedicated"]
    diag = plan.diagnostics[plan.diagnostics["code"] == "dedicated_residents"]
    assert len(diag) == 1 and diag["severity"].iloc[0] == "warning"
    assert diag["grid_code"].iloc[0] == ded["grid_code"].iloc[0]
    assert sorted(diag["unit_ids"].iloc[0]) == sorted(inside)
    assert "dedicated_residents" in diag["fix"].iloc[0]
    assert_every_home_served(plan, school)
    assert_dedicated_grids_exempt(plan)
    # in the files too
    xlsx = write_report_xlsx(plan, tmp_path / "r.xlsx")
    sheet = pd.read_excel(xlsx, sheet_name="dedicated_residents", dtype=str)
    assert sheet["served_by"].tolist() == ["dedicated_contact"]
    gpkg = write_geopackage(plan, tmp_path / "p.gpkg")
    back = gpd.read_file(gpkg, layer="dedicated_residents")
    assert back["households"].tolist() == [160]


def test_the_staffing_plan_says_who_serves_them(kept_plan, tmp_path):
    plan, _ = kept_plan
    staff = staffing_plan(plan)
    rows = staff.dedicated_residents
    assert rows["served_by"].tolist() == ["dedicated_contact"]
    assert rows["households"].tolist() == [160] and rows["dedicated_contact"].tolist() == [1]
    staffed = staffing_plan(plan, rules=StaffingRules(staff_dedicated_grids=True))
    assert staffed.dedicated_residents["served_by"].tolist() == ["grid_staff"]
    assert staffed.dedicated_residents["grid_head"].tolist() == [1]
    path = staff.to_excel(tmp_path / "staff.xlsx")
    sheet = pd.read_excel(path, sheet_name="专属区域住户")
    assert sheet["服务人员"].tolist() == ["专属网格联络员（需规划人员确认）"]
    # a plan that planned them as homes has no such rows, and no such sheet
    units, school, community = campus()
    planned = _plan(units, dedicated=school, communities=community)
    assert staffing_plan(planned).dedicated_residents.empty


def test_the_rule_is_read_from_rules_toml_and_checked(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('dedicated_residents = "dedicated"\n', encoding="utf-8")
    assert read_rules(path).plan.dedicated_residents == "dedicated"
    assert PlanRules().dedicated_residents == "residential"
    with pytest.raises(ValidationError) as err:
        read_rules({"dedicated_residents": "school"})
    text = str(err.value)
    assert "dedicated_residents" in text and '"residential"' in text and '"school"' in text


def test_cli_refuses_a_bad_rule_naming_the_key(tmp_path):
    (tmp_path / "rules.toml").write_text('dedicated_residents = "yes"\n', encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            "plan",
            f"{DATA / 'taiyuan.gpkg'}:units",
            "--config",
            str(tmp_path / "rules.toml"),
            "--out",
            str(tmp_path / "p.gpkg"),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "dedicated_residents" in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------------------------------------
# every home in a dedicated area is served: the bundled Taiyuan data and generated inputs
# ---------------------------------------------------------------------------------------------


def _taiyuan(layer: str):
    src = DATA / "taiyuan.gpkg"
    units = gpd.read_file(src, layer=layer)
    ctx = {n: gpd.read_file(src, layer=n) for n in ("dedicated", "barriers", "compounds")}
    return units, ctx


@pytest.mark.parametrize("rule", ["residential", "dedicated"])
@pytest.mark.parametrize("layer", ["units", "units_all_buildings"])
def test_taiyuan_every_home_in_a_dedicated_area_is_served(layer, rule):
    units, ctx = _taiyuan(layer)
    plan = _plan(units, **ctx, rules=PlanRules(dedicated_residents=rule))
    assert_every_home_served(plan, ctx["dedicated"])
    assert_dedicated_grids_exempt(plan)
    assert int(plan.grids["households"].sum()) == int(units["households"].sum())
    homes = plan.report["dedicated_residents"]
    ded_hh = int(plan.grids.loc[plan.grids["kind"] == "dedicated", "households"].sum())
    if rule == "residential":
        assert ded_hh == 0
    else:
        assert int(homes["households"].sum()) == ded_hh
    if layer == "units_all_buildings":
        # the stress layer counts every building as housing: 21,000+ households lie in
        # dedicated areas, which a dedicated grid alone would leave without micro-grids
        assert int(homes["households"].sum()) > 20_000


@st.composite
def towns(draw):
    """Random footprints and one or two dedicated boxes over some of them."""
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(12, 40))
    xy = rng.uniform(0, 400, (n, 2))
    geoms = [
        box(X0 + x, Y0 + y, X0 + x + rng.uniform(8, 25), Y0 + y + rng.uniform(8, 20)) for x, y in xy
    ]
    units = gpd.GeoDataFrame(
        {"unit_id": [f"u{i:02d}" for i in range(n)], "households": rng.integers(0, 120, n)},
        geometry=geoms,
        crs=CRS,
    )
    boxes = []
    for _ in range(draw(st.integers(1, 2))):
        x, y = rng.uniform(0, 300, 2)
        boxes.append(
            box(X0 + x, Y0 + y, X0 + x + rng.uniform(40, 150), Y0 + y + rng.uniform(40, 150))
        )
    ded = gpd.GeoDataFrame(
        {
            "dedicated_id": [f"d{i}" for i in range(len(boxes))],
            "category": ["market", "school"][: len(boxes)],
        },
        geometry=boxes,
        crs=CRS,
    )
    rule = draw(st.sampled_from(["residential", "dedicated"]))
    return units, ded, rule


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=towns())
def test_generated_towns_serve_every_home_in_a_dedicated_area(case):
    units, ded, rule = case
    plan = _plan(units, dedicated=ded, rules=PlanRules(dedicated_residents=rule))
    assert_every_home_served(plan, ded)
    assert_dedicated_grids_exempt(plan)
    assert int(plan.grids["households"].sum()) == int(units["households"].sum())
    if rule == "residential":
        assert int(plan.grids.loc[plan.grids["kind"] == "dedicated", "households"].sum()) == 0


def test_a_dedicated_area_drawn_on_a_home_is_kept(tmp_path):
    # a tower mapped both as offices and as flats: the flats are planned as homes, and the
    # office area stays a dedicated grid (less a disc round the tower's point)
    units, _, community = campus(n=4)
    tower = units.geometry.iloc[5]
    office = gpd.GeoDataFrame(
        {"dedicated_id": ["o1"], "name": ["大厦"], "category": ["business"]},
        geometry=[tower],
        crs=CRS,
    )
    plan = _plan(units, dedicated=office, communities=community)
    ded = plan.grids[plan.grids["kind"] == "dedicated"]
    assert len(ded) == 1 and int(ded["households"].iloc[0]) == 0
    assert 0 < ded.geometry.iloc[0].area < tower.area
    assert isinstance(plan.units.loc["b05", "microgrid_code"], str)


def test_processes_plan_homes_inside_dedicated_areas_the_same(tmp_path):
    units, school, _ = campus()
    # two streets of three rows each; the school straddles neither boundary
    units["street_id"] = np.where(units.geometry.centroid.y < Y0 + 90, "S1", "S2")
    units["community_id"] = np.where(units["street_id"] == "S1", "C1", "C2")
    comms = gpd.GeoDataFrame(
        {"community_id": ["C1", "C2"], "street_id": ["S1", "S2"]},
        geometry=[
            box(X0 - 30, Y0 - 30, X0 + 370, Y0 + 105),
            box(X0 - 30, Y0 + 105, X0 + 370, Y0 + 370),
        ],
        crs=CRS,
    )
    one = _plan(units, dedicated=school, communities=comms)
    two = _plan(units, dedicated=school, communities=comms, workers=2)
    pd.testing.assert_frame_equal(one.unit_parts, two.unit_parts)
    pd.testing.assert_frame_equal(
        one.report["dedicated_residents"], two.report["dedicated_residents"]
    )
    assert one.grids["grid_code"].tolist() == two.grids["grid_code"].tolist()
