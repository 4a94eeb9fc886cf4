"""Hypothesis fuzzing of the input layers, through :func:`gridplan.plan`.

Random units (points, footprints, MultiPolygons with near or distant parts, invalid or missing
geometries), random ids and household counts, in a random CRS (UTM, WGS84, CGCS2000 lon/lat,
CGCS2000 Gauss-Kruger, Web Mercator), with optional compounds, a dedicated area and
communities. Every example must end in one of two ways:

* a :class:`gridplan.ValidationError` listing problems, each with a message (never another
  exception type, which a user would see as a traceback);
* a plan that keeps every household (grids, units and unit parts add up to the input), puts
  every unit in a grid, tiles its area (grids do not overlap and cover every unit) and is
  deterministic (the same input and seed give the same grids, units and unit parts).

Bounded for CI: few, small examples and no per-example deadline (the first plan of a run
warms caches).
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

import gridplan
from gridplan.export import unit_parts_frame

X0, Y0 = 500_000.0, 4_180_000.0  # UTM 49N, Taiyuan
CRSS = (32649, 4326, 4490, 3857, 4547)


def _geometry(draw: st.DrawFn, kind: str, x: float, y: float) -> Any:
    if kind == "point":
        return Point(x + 40, y + 40)
    if kind == "box":
        return box(x, y, x + 90, y + 90)
    if kind == "multi":
        gap = draw(st.sampled_from([5.0, 400.0]))  # near parts, or a part far away
        return MultiPolygon([box(x, y, x + 40, y + 40), box(x + 40 + gap, y, x + 80 + gap, y + 40)])
    return draw(
        st.sampled_from(
            [
                None,
                Polygon(),
                LineString([(x, y), (x + 5, y)]),
                Polygon([(x, y), (x + 9, y + 9), (x + 9, y), (x, y + 9)]),  # a bow-tie
            ]
        )
    )


@st.composite
def layers(draw: st.DrawFn) -> dict[str, Any]:
    nx = draw(st.integers(1, 4))
    ny = draw(st.integers(1, 3))
    n = nx * ny
    # one example in three carries bad values; the others must plan
    bad = draw(st.integers(0, 2)) == 0
    kind = draw(st.sampled_from(["point", "box", "mixed"] if bad else ["point", "box", "multi"]))
    geoms = []
    for k in range(n):
        this = kind if kind != "mixed" else draw(st.sampled_from(["box", "multi", "junk"]))
        geoms.append(_geometry(draw, this, X0 + 100 * (k % nx), Y0 + 100 * (k // nx)))
    counts = draw(
        st.lists(
            st.one_of(
                st.integers(0, 220),
                st.sampled_from([-3, 2.5, math.nan, True, "40", "many", 10**9]),
            )
            if bad
            else st.integers(0, 220),
            min_size=n,
            max_size=n,
        )
    )
    if not bad or draw(st.booleans()):
        ids: list[Any] = [f"u{k}" for k in range(n)]
    else:
        ids = draw(
            st.lists(st.sampled_from(["a", "b", 1, 2, "1", None, "楼1"]), min_size=n, max_size=n)
        )
    crs = draw(st.sampled_from(CRSS))
    units = gpd.GeoDataFrame(
        {"unit_id": ids, "households": counts},
        geometry=gpd.GeoSeries(geoms, dtype="geometry"),
        crs=32649,
    )
    w, h = 100.0 * nx, 100.0 * ny
    context: dict[str, gpd.GeoDataFrame] = {}
    if draw(st.booleans()):
        cut = draw(st.sampled_from([0.5, 0.7]))  # 0.7 with the second from 0.5: overlapping
        context["compounds"] = gpd.GeoDataFrame(
            {"compound_id": ["k1", "k2"]},
            geometry=[box(X0, Y0, X0 + w * cut, Y0 + h), box(X0 + w * 0.5, Y0, X0 + w, Y0 + h)],
            crs=32649,
        )
    if draw(st.booleans()):
        share = draw(st.sampled_from([0.3, 1.1]))  # a corner, or everything
        context["dedicated"] = gpd.GeoDataFrame(
            {"dedicated_id": ["d1"], "category": ["school"]},
            geometry=[box(X0 - 5, Y0 - 5, X0 + w * share, Y0 + h * share)],
            crs=32649,
        )
    if draw(st.booleans()):
        context["communities"] = gpd.GeoDataFrame(
            {"community_id": ["c1", "c2"]},
            geometry=[
                box(X0 - 10, Y0 - 10, X0 + w / 2, Y0 + h + 10),
                box(X0 + w / 2, Y0 - 10, X0 + w + 10, Y0 + h + 10),
            ],
            crs=32649,
        )

    def in_crs(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        # drop rows that cannot be projected (missing/empty) only from the transform, not the data
        return g if crs == 32649 else g.to_crs(crs)

    return {
        "units": in_crs(units),
        **{role: in_crs(g) for role, g in context.items()},
        "fix_invalid": not bad or draw(st.booleans()),
        "seed": draw(st.integers(0, 2)),
    }


def _plan(case: dict[str, Any]) -> gridplan.Plan:
    options = {k: v for k, v in case.items() if k != "units"}
    return gridplan.plan(case["units"], **options)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples in every CI run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(layers())
def test_random_layers_give_a_clear_error_or_a_sound_plan(case):
    units_in = case["units"]
    before = units_in.copy()
    try:
        result = _plan(case)
    except gridplan.ValidationError as exc:
        event("refused")
        assert exc.problems and all(p.message and p.layer for p in exc.problems)
        assert "Traceback" not in str(exc)
        return
    finally:
        pd.testing.assert_frame_equal(pd.DataFrame(units_in), pd.DataFrame(before))
    event("planned")
    total = int(pd.to_numeric(units_in["households"]).sum())
    # conserves households, at every level that counts them
    assert int(result.grids["households"].sum()) == total
    assert int(result.units["households"].sum()) == total
    assert int(unit_parts_frame(result)["households"].sum()) == total
    assert result.units["grid_code"].notna().all()
    # tiles its area: no overlaps, every unit inside the grids
    work = result.work_crs
    grids = result.grids.to_crs(work).geometry.to_numpy()
    union = shapely.union_all(grids)
    # (cutting dedicated areas out leaves float slivers far below a square metre)
    assert shapely.area(grids).sum() == pytest.approx(union.area, rel=1e-6, abs=1.0)
    unit_geoms = result.units.to_crs(work).geometry.to_numpy()
    inside = shapely.point_on_surface(unit_geoms)
    assert shapely.covers(union.buffer(1e-3), inside).all()
    # deterministic
    again = _plan(case)
    pd.testing.assert_frame_equal(pd.DataFrame(result.grids), pd.DataFrame(again.grids))
    pd.testing.assert_frame_equal(pd.DataFrame(result.units), pd.DataFrame(again.units))
    pd.testing.assert_frame_equal(unit_parts_frame(result), unit_parts_frame(again))
