"""Micro-grids: each residential grid split into contiguous 30-50-household parts.

The hard cases are buildings above the micro-grid band, which are cut into slices: the slices
must be able to recombine into in-band micro-grids, households must be conserved exactly, and
every micro-grid must lie inside its grid.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from gridplan.config import MicroGridRules, SearchRules
from gridplan.diagnostics import frame
from gridplan.partition import microgrids as mg


def one_grid(households: list[int], boxes: list) -> tuple[gpd.GeoDataFrame, ...]:
    """Grid-stage output for one residential grid made of the given buildings' cells."""
    parts = gpd.GeoDataFrame(
        {
            "unit_id": [f"u{i}" for i in range(len(households))],
            "part": 0,
            "households": households,
            "population": np.nan,
            "grid_id": "G1",
            "community_id": "C1",
        },
        geometry=boxes,
        crs=3857,
    )
    grids = gpd.GeoDataFrame(
        {"grid_id": ["G1"], "kind": ["residential"], "community_id": ["C1"]},
        geometry=[shapely.union_all(boxes)],
        crs=3857,
    )
    units = pd.DataFrame({"stairwells": np.nan}, index=parts["unit_id"])
    return parts, grids, units


# three slab blocks of 110 households side by side and a short block of 58: slices of the
# fewest in-band size (37) leave the 58 alone, slices of ~15 only combine in runs of three
# (42-45) and cannot absorb the short block's ends; slices of ~10 can
SLABS = (
    [110, 110, 110, 58],
    [box(0, 0, 20, 100), box(20, 0, 40, 100), box(40, 0, 60, 100), box(60, 0, 80, 60)],
)


def test_finer_slices_recombine_where_coarse_ones_cannot():
    parts, grids, units = one_grid(*SLABS)
    only_halves = MicroGridRules(search=SearchRules(exact_first_units=30, fine_divisors=(2,)))
    coarse = mg.partition_microgrids(parts, grids, units, rules=only_halves, seed=0)
    assert not coarse.microgrids["in_band"].all()  # the situation this test is about
    assert [d.code for d in coarse.records] == ["microgrid_out_of_band"]
    assert MicroGridRules().search.fine_divisors == (2, 3)
    res = mg.partition_microgrids(parts, grids, units, rules=MicroGridRules(), seed=0)
    m = res.microgrids
    assert m["in_band"].all(), m["households"].tolist()
    assert res.records == () and res.diagnostics.empty
    assert int(m["households"].sum()) == 388
    # every slice is in exactly one micro-grid, and the slices of a building add up to it
    assert res.slices["microgrid_id"].notna().all()
    per_unit = res.slices.groupby("unit_id")["households"].sum()
    assert per_unit.to_dict() == {"u0": 110, "u1": 110, "u2": 110, "u3": 58}
    # micro-grids are single polygons inside the grid and do not overlap
    grid = grids.geometry.iat[0]
    for geom in m.geometry:
        assert geom.geom_type == "Polygon"
        assert shapely.area(shapely.difference(geom, grid)) < 1e-6
    union_area = shapely.area(shapely.union_all(m.geometry.to_numpy()))
    assert union_area == pytest.approx(float(m.geometry.area.sum()), rel=1e-9)
    assert union_area == pytest.approx(shapely.area(grid), rel=1e-9)


def test_a_grid_that_admits_no_count_says_so():
    # one building of 58 households alone in its grid: 58 cannot be cut into 30-50 parts
    parts, grids, units = one_grid([58], [box(0, 0, 20, 60)])
    res = mg.partition_microgrids(parts, grids, units, rules=MicroGridRules(), seed=0)
    assert int(res.microgrids["households"].sum()) == 58
    (diag,) = frame(res.records, lang="en").to_dict("records")
    assert diag["code"] == "microgrid_out_of_band" and diag["level"] == "microgrid"
    assert "58 households admit no number of 30-50-household micro-grids" in diag["message"]
    assert "micro-grid band 30-50" in diag["message"]
    assert "MicroGridRules" in diag["fix"]  # the micro-grid band, not the grid band
    assert res.records[0].grid_id == "G1" and diag["unit_ids"] == ("u0",)


def test_a_grid_whose_slices_cannot_reach_the_band_is_reported_as_proven():
    # 100 households admit two or three micro-grids, but without slicing the buildings
    # (60 + 40 in two cells) the only split is 60 | 40, proven exhaustively
    parts, grids, units = one_grid([60, 40], [box(0, 0, 20, 60), box(20, 0, 40, 60)])
    rules = MicroGridRules(split_buildings=False)
    res = mg.partition_microgrids(parts, grids, units, rules=rules, seed=0)
    assert sorted(res.microgrids["households"].tolist()) == [40, 60]
    (diag,) = frame(res.records, lang="en").to_dict("records")
    assert "checked exhaustively" in diag["message"], diag["message"]


def test_same_seed_same_microgrids():
    parts, grids, units = one_grid(*SLABS)
    runs = [
        mg.partition_microgrids(parts, grids, units, rules=MicroGridRules(), seed=3)
        for _ in range(2)
    ]
    pd.testing.assert_frame_equal(runs[0].slices, runs[1].slices)
    assert runs[0].microgrids.geometry.to_wkb().tolist() == (
        runs[1].microgrids.geometry.to_wkb().tolist()
    )


def _footprints() -> np.ndarray:
    """Convex and non-convex footprints, rotated slabs, a hole, a sliver and an empty cell."""
    rng = np.random.default_rng(7)
    out = []
    for k in range(60):
        x, y = rng.uniform(0, 5000, 2)
        w, h = rng.uniform(5, 80, 2)
        b = box(x, y, x + w, y + h)
        if k % 4 == 1:  # an L-shaped block: strips across it can fall apart
            b = b.difference(box(x + w / 3, y + h / 3, x + w + 1, y + h + 1))
        if k % 4 == 2:
            b = shapely.affinity.rotate(b, rng.uniform(0, 180), origin="centroid")
        if k % 4 == 3:
            b = b.difference(b.centroid.buffer(min(w, h) / 5))
        out.append(b)
    out += [box(0, 0, 1e-3, 50), shapely.Polygon()]
    return np.asarray(out, dtype=object)


def test_strips_cut_every_cell_exactly_as_slice_polygon_does():
    from gridplan.tessellation import slice_polygon

    cells = _footprints()
    counts = np.arange(len(cells)) % 6 + 1
    expected = [
        g
        for c, n in zip(cells, counts, strict=True)
        for g in ([c] if n == 1 else slice_polygon(c, n))
    ]
    got = mg._strips(cells, counts)
    assert len(got) == len(expected) == counts.sum()
    assert [shapely.to_wkb(g) for g in got] == [shapely.to_wkb(g) for g in expected]


def test_dissolve_groups_matches_dissolving_each_micro_grid():
    from gridplan.tessellation import dissolve

    cells = _footprints()
    # neighbours in groups of one to three, some groups holding only the empty cell
    micro_of = np.repeat(np.arange(40), 3)[: len(cells)]
    micro_of = np.where(np.arange(len(cells)) % 5 == 0, micro_of + 100, micro_of)
    _, micro_of = np.unique(micro_of, return_inverse=True)
    n_m = int(micro_of.max()) + 1
    got = mg._dissolve_groups(cells, micro_of, n_m)
    expected = [dissolve(cells[micro_of == m]) for m in range(n_m)]
    assert [shapely.to_wkb(g) for g in got] == [shapely.to_wkb(g) for g in expected]


def test_grids_sliced_finer_together_get_the_micro_grids_they_get_alone(monkeypatch):
    """The finer slicing of grids whose coarse slices admit no in-band split is done for all
    such grids at once; each grid's micro-grids must still be its own, as when it is the
    only grid planned."""
    from pathlib import Path

    import gridplan
    from gridplan.stages import build_cells, plan_grids, prepare

    src = Path(__file__).resolve().parents[1] / "data" / "singapore_queenstown.gpkg"
    rules = gridplan.PlanRules()
    layers = prepare(
        gpd.read_file(src, layer="units"),
        communities=gpd.read_file(src, layer="communities"),
        rules=rules,
    )
    gp = plan_grids(build_cells(layers, rules=rules), rules=rules, seed=2)
    calls: list[list[str]] = []
    real = mg._slice_parts

    def spy(p, *args, **kwargs):
        if kwargs.get("per_slice") is not None:
            calls.append(sorted(set(p["grid_id"])))
        return real(p, *args, **kwargs)

    monkeypatch.setattr(mg, "_slice_parts", spy)
    whole = mg.partition_microgrids(gp.parts, gp.grids, gp.units, rules=rules.microgrid, seed=2)
    assert calls and len(calls[0]) > 1  # several grids sliced finer in one call
    others = sorted(set(whole.microgrids["grid_id"]) - set(calls[0]))
    for gid in [*calls[0][:3], others[0]]:
        alone = mg.partition_microgrids(
            gp.parts[gp.parts["grid_id"] == gid],
            gp.grids[gp.grids["grid_id"] == gid],
            gp.units,
            rules=rules.microgrid,
            seed=2,
        )
        mine = whole.microgrids[whole.microgrids["grid_id"] == gid]
        assert sorted(alone.microgrids["households"]) == sorted(mine["households"])
        a = sorted(shapely.to_wkb(alone.microgrids.geometry.to_numpy()))
        b = sorted(shapely.to_wkb(mine.geometry.to_numpy()))
        assert a == b
