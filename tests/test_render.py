"""Plan maps: every grid drawn, neighbours coloured apart, intranet mode offline, city scale."""

from __future__ import annotations

import itertools
import json
import re

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

import gridplan
from gridplan.config import PlanRules
from gridplan.i18n import label_columns, t
from gridplan.layers import Layers
from gridplan.pipeline import Plan
from gridplan.render import (
    DEDICATED_COLOUR,
    clicked_grid,
    display_layers,
    grid_adjacency,
    grid_colours,
    households_histogram,
    intranet_assets,
    plan_map,
    reform_map,
    selected_layer,
)

CDN_MARKERS = ("https://cdn", "unpkg", "jsdelivr", "cdnjs", "code.jquery", "bootstrapcdn")


@pytest.fixture(scope="module")
def lattice_plan() -> Plan:
    """A 10 x 8 lattice of 40-household squares near Taiyuan in two communities: ~8 grids."""
    from conftest import make_lattice_units

    units = make_lattice_units(10, 8, households=40)
    units["community_id"] = np.where(units["col"] < 5, "C1", "C2")
    x0, y0 = units.total_bounds[:2]
    communities = gpd.GeoDataFrame(
        {"community_id": ["C1", "C2"], "name": ["东社区", "西社区"]},
        geometry=[box(x0, y0, x0 + 500, y0 + 800), box(x0 + 500, y0, x0 + 1000, y0 + 800)],
        crs=units.crs,
    )
    return gridplan.plan(units, communities=communities)


def _html(m: folium.Map) -> str:
    return m.get_root().render()


def _has(html: str, text: str) -> bool:
    """``text`` in the page as is or JSON-escaped (folium writes ``\\u7f51`` for 网)."""
    return text in html or json.dumps(text)[1:-1] in html


def test_plan_map_draws_every_grid_code(lattice_plan: Plan) -> None:
    m = plan_map(lattice_plan, basemap="none")
    assert isinstance(m, folium.Map)
    html = _html(m)
    codes = lattice_plan.grids["grid_code"].tolist()
    assert len(codes) >= 4
    missing = [c for c in codes if c not in html]
    assert not missing
    assert "preferCanvas" in html and "true" in html.split("preferCanvas", 1)[1][:20]


def test_neighbouring_grids_get_different_colours(lattice_plan: Plan) -> None:
    grids = lattice_plan.grids
    colours = grid_colours(grids, crs=lattice_plan.work_crs)
    graph = grid_adjacency(grids, crs=lattice_plan.work_crs)
    assert graph.number_of_edges() >= len(grids) - 1  # a lattice's grids do touch
    colour_of = dict(zip(grids["grid_code"], colours, strict=True))
    clashes = [(a, b) for a, b in graph.edges if colour_of[a] == colour_of[b]]
    assert not clashes
    # deterministic and carried into the drawn layer
    assert grid_colours(grids, crs=lattice_plan.work_crs).equals(colours)
    shown = display_layers(lattice_plan).grids.set_index("grid_code")["colour"]
    assert shown.to_dict() == colour_of


def test_colouring_runs_past_the_palette() -> None:
    """A wheel of 13 grids around a hub needs more colours than a tiny palette holds."""
    angles = np.linspace(0, 2 * np.pi, 14)
    spokes = [
        shapely.Polygon(
            [(0, 0), (100 * np.cos(a), 100 * np.sin(a)), (100 * np.cos(b), 100 * np.sin(b))]
        )
        for a, b in itertools.pairwise(angles)
    ]
    grids = gpd.GeoDataFrame(
        {"grid_code": [f"g{i:02d}" for i in range(len(spokes))]}, geometry=spokes, crs=32649
    )
    colours = grid_colours(grids, palette=("#111111", "#222222"))
    # every spoke touches every other at the hub, so all colours differ
    assert colours.nunique() == len(spokes)


def test_intranet_map_loads_nothing_from_cdns(lattice_plan: Plan) -> None:
    online = _html(plan_map(lattice_plan, basemap="none"))
    assert any(marker in online for marker in CDN_MARKERS)  # the check below can fail
    html = _html(plan_map(lattice_plan, basemap="none", intranet=True, show_microgrids=True))
    found = [marker for marker in CDN_MARKERS if marker in html]
    assert not found
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", html)
    js, css = intranet_assets()
    assert js[0][1].startswith("data:text/javascript;base64,")
    assert css[0][1].startswith("data:text/css;base64,")
    assert js[0][1] in html


def test_microgrids_only_when_asked_or_for_one_community(lattice_plan: Plan) -> None:
    mg = lattice_plan.microgrids
    assert len(mg) > 0
    plain = _html(plan_map(lattice_plan, basemap="none"))
    assert not any(code in plain for code in mg["microgrid_code"])
    everything = _html(plan_map(lattice_plan, basemap="none", show_microgrids=True))
    assert all(code in everything for code in mg["microgrid_code"])
    one = _html(plan_map(lattice_plan, basemap="none", community="C1"))
    inside = mg["community_id"] == "C1"
    assert all(code in one for code in mg.loc[inside, "microgrid_code"])
    assert not any(code in one for code in mg.loc[~inside, "microgrid_code"])


def test_dedicated_grids_are_grey_and_hatched(lattice_plan: Plan) -> None:
    units = lattice_plan.layers.units.reset_index()
    x0, y0 = units.total_bounds[:2]
    school = gpd.GeoDataFrame(
        {"dedicated_id": ["d1"], "category": ["school"]},
        geometry=[box(x0 + 5, y0 + 5, x0 + 195, y0 + 195)],
        crs=units.crs,
    )
    p = gridplan.plan(units, dedicated=school, communities=lattice_plan.layers.communities)
    ded = p.grids[p.grids["kind"] == "dedicated"]
    assert len(ded) == 1
    layers = display_layers(p)
    assert set(layers.grids.loc[layers.grids["kind"] == "dedicated", "colour"]) == {
        DEDICATED_COLOUR
    }
    assert len(layers.hatch) == 1 and layers.hatch.geometry.iloc[0].length > 0
    html = _html(plan_map(p, basemap="none"))
    assert ded["grid_code"].iloc[0] in html and "5 4" in html  # dashed outline


def test_gaode_overlays_are_shifted_to_gcj02(lattice_plan: Plan) -> None:
    wgs = display_layers(lattice_plan).grids
    gcj = display_layers(lattice_plan, gcj02=True).grids
    shift = np.asarray(gcj.geometry.bounds["minx"] - wgs.geometry.bounds["minx"])
    # Taiyuan: GCJ-02 moves points by a few hundred metres (~0.005 deg), never zero
    assert np.all(np.abs(shift) > 1e-3) and np.all(np.abs(shift) < 0.02)
    html = _html(plan_map(lattice_plan, basemap="gaode", intranet=True))
    assert "autonavi.com" in html
    with pytest.raises(ValueError, match="gcj02"):
        plan_map(lattice_plan, basemap="gaode", display=display_layers(lattice_plan))


def test_basemaps(lattice_plan: Plan) -> None:
    with pytest.raises(ValueError, match="tianditu_key"):
        plan_map(lattice_plan, basemap="tianditu")
    html = _html(plan_map(lattice_plan, basemap="tianditu", tianditu_key="abc123"))
    assert "tianditu.gov.cn" in html and "tk=abc123" in html
    assert "openstreetmap" in _html(plan_map(lattice_plan, basemap="osm")).lower()
    with pytest.raises(ValueError, match="basemap"):
        plan_map(lattice_plan, basemap="google")  # type: ignore[arg-type]


def test_labels_follow_the_language(lattice_plan: Plan) -> None:
    zh = _html(plan_map(lattice_plan, basemap="none"))
    en = _html(plan_map(lattice_plan, basemap="none", lang="en"))
    assert _has(zh, t("layer_grids", "zh")) and "Grids" in en
    assert _has(zh, t("households", "zh")) and "Households" in en
    assert not _has(en, t("households", "zh"))
    frame = label_columns(pd.DataFrame({"grid_code": ["1"], "households": [1]}), "en")
    assert list(frame.columns) == ["Grid code", "Households"]


def test_clicked_tooltip_gives_the_grid(lattice_plan: Plan) -> None:
    g = lattice_plan.grids["grid_code"].iloc[1]
    mg = lattice_plan.microgrids.iloc[0]
    assert clicked_grid(f"网格\t{g}\n户数\t400\n社区\tC1", lattice_plan) == g
    assert clicked_grid(f"微网格 {mg['microgrid_code']} 户数 40", lattice_plan) == mg["grid_code"]
    assert clicked_grid("nothing here", lattice_plan) is None
    assert clicked_grid(None, lattice_plan) is None
    fg = selected_layer(lattice_plan, g)
    assert isinstance(fg, folium.FeatureGroup) and len(fg._children) == 1


def test_histogram_shows_the_band(lattice_plan: Plan) -> None:
    spec = households_histogram(lattice_plan).to_dict()
    values = spec["datasets"]
    flat = str(values)
    assert "300" in flat and "500" in flat
    assert len(spec["layer"]) == 2


def test_reform_map_draws_old_and_new(lattice_plan: Plan) -> None:
    old = lattice_plan.layers.communities
    new = gpd.GeoDataFrame(
        {"community_code": ["601"], "households": [3200], "previous_code": ["C1"]},
        geometry=[shapely.union_all(old.geometry.to_numpy())],
        crs=old.crs,
    )
    html = _html(reform_map(old, new, basemap="none", intranet=True))
    assert "601" in html and "C2" in html
    assert not any(marker in html for marker in CDN_MARKERS)


def _city(n_side: int = 50, per_grid: int = 10) -> Plan:
    """A synthetic plan of n_side² grids (200 m squares) with per_grid strip micro-grids,
    ten grids per community row: the 2,500-grid / 25,000-micro-grid city of issue 6."""
    x0, y0, size = 500_000.0, 4_180_000.0, 200.0
    codes, comms, geoms, mcodes, mparents, mcomms, mgeoms = [], [], [], [], [], [], []
    for r in range(n_side):
        for c in range(n_side):
            code = f"{r:03d}{c:03d}"
            comm = f"C{r // 5:02d}{c // 10:02d}"
            x, y = x0 + c * size, y0 + r * size
            codes.append(code)
            comms.append(comm)
            geoms.append(box(x, y, x + size, y + size))
            w = size / per_grid
            for k in range(per_grid):
                mcodes.append(f"{code}{k:03d}")
                mparents.append(code)
                mcomms.append(comm)
                mgeoms.append(box(x + k * w, y, x + (k + 1) * w, y + size))
    crs = "EPSG:32649"
    n = len(codes)
    grids = gpd.GeoDataFrame(
        {
            "grid_code": codes,
            "community_id": comms,
            "kind": "residential",
            "category": "residential",
            "name": "",
            "households": 400,
            "population": 1120.0,
            "n_microgrids": per_grid,
            "in_band": True,
            "locked": False,
        },
        geometry=geoms,
        crs=crs,
    )
    micro = gpd.GeoDataFrame(
        {"microgrid_code": mcodes, "grid_code": mparents, "community_id": mcomms, "households": 40},
        geometry=mgeoms,
        crs=crs,
    )
    units = gpd.GeoDataFrame(
        {"households": 400, "community_id": comms, "grid_code": codes},
        geometry=[g.centroid for g in geoms],
        crs=crs,
        index=pd.Index([f"u{i}" for i in range(n)], name="unit_id"),
    )
    return Plan(
        units=units,
        grids=grids,
        microgrids=micro,
        diagnostics=pd.DataFrame(),
        report={},
        rules=PlanRules(),
        layers=Layers(units=units),
        work_crs=grids.crs,
    )


def test_city_scale_draws_grids_and_only_the_selected_community() -> None:
    city = _city()
    assert len(city.grids) == 2500 and len(city.microgrids) == 25_000
    layers = display_layers(city)
    graph = grid_adjacency(city.grids)
    colour_of = layers.grids.set_index("grid_code")["colour"]
    assert all(colour_of[a] != colour_of[b] for a, b in graph.edges)
    html = _html(plan_map(city, display=layers, community="C0101", basemap="none"))
    assert all(code in html for code in city.grids["grid_code"].iloc[::97])
    inside = city.microgrids["community_id"] == "C0101"
    assert inside.sum() == 500
    shown = set(re.findall(r'"microgrid_code": ?"(\d+)"', html))
    assert shown == set(city.microgrids.loc[inside, "microgrid_code"])
    # simplified, rounded geometry keeps a whole city to a few MB of HTML
    assert len(html) < 8_000_000
