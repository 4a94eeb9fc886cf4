"""Incremental re-plans (``gridplan.replan``): only the named communities change, moves and
locks are kept, the rest of the plan is the input's rows byte for byte."""

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
def queenstown() -> gridplan.Plan:
    src = DATA / "singapore_queenstown.gpkg"
    return gridplan.plan(
        gpd.read_file(src, layer="units"),
        communities=gpd.read_file(src, layer="communities"),
        barriers=gpd.read_file(src, layer="barriers"),
        seed=5,
    )


def _largest(plan: gridplan.Plan) -> str:
    return str(plan.units.groupby("community_id")["households"].sum().idxmax())


def _others(frame: pd.DataFrame, communities: set[str]) -> pd.DataFrame:
    return frame[~frame["community_id"].isin(communities)].reset_index(drop=True)


def _a_move(plan: gridplan.Plan, community: str) -> tuple[str, str, str]:
    """A unit of ``community`` in a grid of several units, and a grid of the same
    community that touches its grid: (unit, its grid, the target grid)."""
    g = plan.grids[
        (plan.grids["community_id"] == community) & (plan.grids["kind"] == "residential")
    ]
    u = plan.units[(plan.units["community_id"] == community) & (plan.units["n_parts"] == 1)]
    sizes = u.groupby("grid_code").size()
    for src in sizes[sizes > 2].index:
        here = g.loc[g["grid_code"] == src, "geometry"].iloc[0]
        near = g[(g["grid_code"] != src) & g.geometry.touches(here)]
        if len(near):
            target = str(near["grid_code"].iloc[0])
            mine = u[u["grid_code"] == src].to_crs(plan.work_crs)
            tgeom = near.to_crs(plan.work_crs).geometry.iloc[0]
            unit = str(mine.geometry.distance(tgeom).idxmin())
            return unit, str(src), target
    raise AssertionError("no grid with a neighbour in the community")


def test_a_replan_without_edits_is_the_plan_itself(queenstown):
    p = queenstown
    q = gridplan.replan(p, communities=[_largest(p)])
    assert q.seed == p.seed == 5
    assert_geodataframe_equal(p.units, q.units)
    assert_geodataframe_equal(p.grids, q.grids)
    assert_geodataframe_equal(p.microgrids, q.microgrids)
    pd.testing.assert_frame_equal(p.diagnostics, q.diagnostics)
    pd.testing.assert_frame_equal(p.unit_parts, q.unit_parts)
    assert set(p.report) == set(q.report)
    for k in p.report:
        pd.testing.assert_frame_equal(p.report[k], q.report[k])


def test_a_move_is_honoured_and_other_communities_are_untouched(queenstown):
    p = queenstown
    c = _largest(p)
    unit, src, target = _a_move(p, c)
    q = gridplan.replan(p, communities=c, moves={unit: target})
    assert q.units.loc[unit, "grid_code"] == target
    assert set(q.unit_parts.loc[q.unit_parts["unit_id"] == unit, "grid_code"]) == {target}
    # the target grid is locked with its units and the moved one, under its own code
    tg = q.grids[q.grids["grid_code"] == target].iloc[0]
    assert bool(tg["locked"])
    before = set(p.units.index[p.units["grid_code"] == target]) | {unit}
    assert set(q.units.index[q.units["grid_code"] == target]) == before
    # the grid the unit left lost it
    assert unit not in set(q.units.index[q.units["grid_code"] == src])
    # other communities: grids, micro-grids (geometry and codes) and units as they were
    assert_geodataframe_equal(_others(p.grids, {c}), _others(q.grids, {c}))
    assert_geodataframe_equal(_others(p.microgrids, {c}), _others(q.microgrids, {c}))
    rest = p.units["community_id"] != c
    assert_geodataframe_equal(p.units[rest], q.units[rest])
    other_diag = p.diagnostics["community_id"] != c
    pd.testing.assert_frame_equal(
        p.diagnostics[other_diag].reset_index(drop=True),
        q.diagnostics[q.diagnostics["community_id"] != c].reset_index(drop=True),
    )
    # nothing lost: every household in one grid and one micro-grid, codes unique
    total = int(p.units["households"].sum())
    assert int(q.grids["households"].sum()) == total
    assert int(q.microgrids["households"].sum()) == total
    assert int(q.unit_parts["households"].sum()) == total
    assert q.grids["grid_code"].is_unique and q.microgrids["microgrid_code"].is_unique
    assert set(q.microgrids["grid_code"]) <= set(q.grids["grid_code"])
    by_grid = q.unit_parts.groupby("grid_code")["households"].sum()
    assert (
        by_grid.reindex(q.grids["grid_code"]).fillna(0).to_numpy() == q.grids["households"]
    ).all()
    # the report is rebuilt over the new grids
    assert q.report["grids"]["grid_code"].tolist() == q.grids["grid_code"].tolist()
    # a later re-plan keeps the move (the target grid stays locked)
    r = gridplan.replan(q, communities=[c])
    assert r.units.loc[unit, "grid_code"] == target
    assert_geodataframe_equal(q.grids, r.grids)


def test_locked_grids_keep_their_units_code_and_shape(queenstown):
    p = queenstown
    c = _largest(p)
    unit, src, target = _a_move(p, c)
    res = p.grids[(p.grids["community_id"] == c) & (p.grids["kind"] == "residential")]
    keep = [code for code in res["grid_code"] if code not in (src, target)][:2]
    q = gridplan.replan(p, communities=[c], locks=keep, moves={unit: target})
    for code in keep:
        old = p.grids[p.grids["grid_code"] == code].reset_index(drop=True)
        new = q.grids[q.grids["grid_code"] == code].reset_index(drop=True)
        assert set(q.units.index[q.units["grid_code"] == code]) == set(
            p.units.index[p.units["grid_code"] == code]
        )
        assert bool(new["locked"].iloc[0])
        assert new.geometry.iloc[0].equals(old.geometry.iloc[0])
        assert new["name"].iloc[0] == old["name"].iloc[0]
        assert int(new["households"].iloc[0]) == int(old["households"].iloc[0])


def test_replan_is_deterministic(queenstown):
    p = queenstown
    c = _largest(p)
    unit, _, target = _a_move(p, c)
    a = gridplan.replan(p, communities=[c], moves={unit: target}, seed=11)
    b = gridplan.replan(p, communities=[c], moves={unit: target}, seed=11)
    assert a.seed == 11
    assert_geodataframe_equal(a.grids, b.grids)
    assert_geodataframe_equal(a.microgrids, b.microgrids)
    assert_geodataframe_equal(a.units, b.units)
    pd.testing.assert_frame_equal(a.diagnostics, b.diagnostics)


def test_bad_arguments_are_refused_at_once_in_keyword_words(queenstown):
    p = queenstown
    c = _largest(p)
    other = next(x for x in p.units["community_id"].unique() if x != c)
    unit_here = str(p.units.index[p.units["community_id"] == c][0])
    unit_there = str(p.units.index[p.units["community_id"] == other][0])
    code_there = str(p.grids.loc[p.grids["community_id"] == other, "grid_code"].iloc[0])
    with pytest.raises(gridplan.ValidationError) as err:
        gridplan.replan(
            p,
            communities=[c, "NOPE"],
            locks=["999999999999999"],
            moves={"no-such-unit": code_there, unit_here: code_there, unit_there: "123"},
        )
    checks = [x.check for x in err.value.problems]
    assert checks == [
        "unknown_community",
        "unknown_grid_code",
        "unknown_unit",
        "unknown_grid_code",
        "move_across_communities",
    ]
    text = str(err.value)
    for words in ("`communities`", "NOPE", "`locks`", "999999999999999", "`moves`", "no-such-unit"):
        assert words in text
    assert f"unit {unit_here} of community {c}" in text
    # a move in a community that is not re-planned names the community to add
    there_code = str(p.units.loc[unit_there, "grid_code"])
    near = p.grids[(p.grids["community_id"] == other) & (p.grids["grid_code"] != there_code)]
    with pytest.raises(gridplan.ValidationError) as err:
        gridplan.replan(p, communities=[c], moves={unit_there: str(near["grid_code"].iloc[0])})
    assert [x.check for x in err.value.problems] == ["move_not_replanned"]
    assert other in str(err.value) and "`communities`" in str(err.value)
    with pytest.raises(gridplan.ValidationError) as err:
        gridplan.replan(p, communities=[])
    assert [x.check for x in err.value.problems] == ["communities"]
    with pytest.raises(gridplan.ValidationError) as err:
        gridplan.replan(p, communities=[c], moves=[unit_here], seed="1")
    assert [x.check for x in err.value.problems] == ["moves", "seed"]


def test_replan_of_a_parallel_plan_of_several_streets():
    layers = queenstown_streets(2)
    ids = sorted(layers["communities"]["community_id"])
    units = layers.pop("units")
    p = gridplan.plan(units, **layers, workers=2)
    two = [ids[0], ids[1]]
    q = gridplan.replan(p, communities=two)
    assert_geodataframe_equal(p.grids, q.grids)
    assert_geodataframe_equal(p.microgrids, q.microgrids)
    pd.testing.assert_frame_equal(p.diagnostics, q.diagnostics)
