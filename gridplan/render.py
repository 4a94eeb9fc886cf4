"""Folium maps of a plan, shared by the Streamlit app, notebooks and the CLI.

:func:`plan_map` draws a :class:`~gridplan.pipeline.Plan`: residential grids in distinct colours
(neighbouring grids never share one), dedicated grids grey and hatched, micro-grids on a layer
toggle, barriers, community boundaries and tooltips with each grid's code and households.

Display geometry is prepared once by :func:`display_layers`: simplified in the plan's metric
working CRS (2 m by default, invisible at street zoom), moved to EPSG:4326 and rounded to
1e-6 degrees (about 0.1 m), which keeps a city of 2,500 grids and 25,000 micro-grids small enough
for a browser. The map uses Leaflet's canvas renderer (``prefer_canvas=True``) for the same
reason, so hatching is drawn as real line geometry rather than SVG patterns.

For the Gaode (AMap) basemap the overlays are shifted from WGS84 to GCJ-02 *for display only*,
since Gaode's tiles are drawn in the offset system; the plan itself is never changed.

Intranet mode
-------------
Government networks often block the CDNs folium loads Leaflet from. With ``intranet=True`` the map
uses the Leaflet 1.9.3 files shipped in ``gridplan/assets/leaflet/`` (copied unchanged from the
``leaflet`` npm package; BSD-2-Clause, licence alongside) and nothing else: the map instance's
``default_js``/``default_css`` are replaced by ``data:`` URIs holding the files (the CSS with its
images inlined too). Inlining, rather than Streamlit static serving, keeps one mechanism for the
app, a saved HTML file and a notebook, works behind any ``baseUrlPath`` proxy, and adds about
200 kB per map. jQuery, Bootstrap and Font Awesome, which folium also loads by default, are not
needed by anything these maps draw and are dropped.

Examples
--------
>>> import geopandas as gpd, gridplan
>>> src = "data/camden_sample.gpkg"
>>> plan = gridplan.plan(gpd.read_file(src, layer="units"),
...                      communities=gpd.read_file(src, layer="communities"))
>>> m = plan_map(plan, basemap="none", intranet=True)
>>> html = m.get_root().render()
>>> all(code in html for code in plan.grids["grid_code"]), "jsdelivr" in html
(True, False)
"""

from __future__ import annotations

import base64
import colorsys
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

import folium
import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely

from .crs import wgs84_to_gcj02, working_crs
from .i18n import Lang, column_label, t

if TYPE_CHECKING:
    from .pipeline import Plan

__all__ = [
    "BASEMAPS",
    "LABEL_CSS",
    "PALETTE",
    "DisplayLayers",
    "basemap_layer",
    "clicked_grid",
    "diff_map",
    "display_layers",
    "fitted_map",
    "focus_layers",
    "grid_adjacency",
    "grid_colours",
    "households_histogram",
    "intranet_assets",
    "legend_html",
    "overlay_layers",
    "plan_map",
    "reform_map",
    "selected_layer",
    "view",
]

Basemap = Literal["osm", "tianditu", "gaode", "none"]
BASEMAPS: tuple[Basemap, ...] = ("osm", "tianditu", "gaode", "none")

#: Colours of residential grids: Tableau 10 without its grey (grey marks dedicated grids) plus
#: three more, so greedy colouring of a planar grid layout never runs out.
PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#b07aa1",
    "#edc948",
    "#76b7b2",
    "#ff9da7",
    "#9c755f",
    "#a0cbe8",
    "#8cd17d",
    "#d4a6c8",
)
DEDICATED_COLOUR = "#8c8c8c"
#: barrier line colour by ``barrier_class`` prefix (read-only: sessions share the module)
BARRIER_COLOURS: tuple[tuple[str, str], ...] = (
    ("major_road", "#c0392b"),
    ("railway", "#222222"),
    ("waterway", "#2e86de"),
    ("river", "#2e86de"),
)
DEFAULT_BARRIER_COLOUR = "#e67e22"

_TIANDITU = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
    "&TILECOL={{x}}&tk={key}"
)
_GAODE = (
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
    "&x={x}&y={y}&z={z}"
)


# ---------------------------------------------------------------------------------------------
# colours
# ---------------------------------------------------------------------------------------------


def _metric(gdf: gpd.GeoDataFrame, crs: Any | None) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        return gdf
    if crs is None:
        c = pyproj.CRS.from_user_input(gdf.crs)
        if c.is_projected:
            return gdf
        crs = working_crs(gdf)
    return gdf.to_crs(crs)


def grid_adjacency(
    grids: gpd.GeoDataFrame,
    *,
    crs: Any | None = None,
    tolerance_m: float = 1.0,
    code_col: str = "grid_code",
) -> nx.Graph:
    """Graph of grids (nodes: ``code_col``) that touch or lie within ``tolerance_m`` metres.

    Parameters
    ----------
    grids
        Grid polygons.
    crs
        Metric CRS to measure in (e.g. ``plan.work_crs``); by default the grids' own CRS when
        projected, else a local one.
    tolerance_m
        Gap still counted as touching (simplified or rounded boundaries leave slivers).
    """
    g = _metric(grids, crs)
    codes = g[code_col].astype(str).to_numpy()
    geoms = g.geometry.to_numpy()
    graph = nx.Graph()
    graph.add_nodes_from(codes)
    if len(geoms) < 2:
        return graph
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="dwithin", distance=tolerance_m)
    keep = i < j
    graph.add_edges_from(zip(codes[i[keep]], codes[j[keep]], strict=True))
    return graph


def _palette(n: int, palette: tuple[str, ...]) -> list[str]:
    """``palette`` extended with evenly spread hues when ``n`` colours are needed."""
    colours = list(palette)
    k = 0
    while len(colours) < n:
        h = (k * 0.618033988749895) % 1.0  # golden-ratio hue steps stay apart
        r, g, b = colorsys.hsv_to_rgb(h, 0.55, 0.85)
        colours.append(f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}")
        k += 1
    return colours


def grid_colours(
    grids: gpd.GeoDataFrame,
    *,
    crs: Any | None = None,
    palette: tuple[str, ...] = PALETTE,
    code_col: str = "grid_code",
) -> pd.Series:
    """A colour per grid such that touching grids differ: greedy colouring of the grid graph.

    Deterministic: nodes are coloured largest-degree first, ties in ``code_col`` order.

    Returns
    -------
    pandas.Series
        Colour (``"#rrggbb"``) per row of ``grids``, same index.
    """
    ordered = grids.sort_values(code_col, kind="stable")
    graph = grid_adjacency(ordered, crs=crs, code_col=code_col)
    colour_of = nx.greedy_color(graph, strategy="largest_first")
    colours = _palette(max(colour_of.values(), default=0) + 1, palette)
    codes = grids[code_col].astype(str)
    return pd.Series([colours[colour_of[c]] for c in codes], index=grids.index, dtype=object)


# ---------------------------------------------------------------------------------------------
# display geometry
# ---------------------------------------------------------------------------------------------


def _to_display(
    geoms: gpd.GeoSeries, *, work_crs: Any, tolerance_m: float, gcj02: bool
) -> np.ndarray:
    """Simplified (metres, ``work_crs``), EPSG:4326, optionally GCJ-02, rounded to 1e-6 deg."""
    s = geoms
    if s.crs is not None and work_crs is not None:
        s = s.to_crs(work_crs)
    arr = s.to_numpy()
    if tolerance_m > 0:
        arr = shapely.simplify(arr, tolerance_m, preserve_topology=True)
    out = gpd.GeoSeries(arr, crs=s.crs)
    if out.crs is not None:
        out = out.to_crs(4326)
    arr = out.to_numpy()

    def _shift(xy: np.ndarray) -> np.ndarray:
        if gcj02 and len(xy):
            lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
            xy = np.column_stack([np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)])
        return np.round(xy, 6)

    return shapely.transform(arr, _shift)


def _hatch(geoms: np.ndarray, *, spacing_m: float = 20.0, max_lines: int = 150) -> np.ndarray:
    """Diagonal hatch lines clipped to each polygon (metric CRS): hatching the canvas renderer
    can draw, since it has no SVG fill patterns."""
    out = np.empty(len(geoms), dtype=object)
    for k, g in enumerate(geoms):
        if g is None or g.is_empty:
            out[k] = shapely.MultiLineString()
            continue
        minx, miny, maxx, maxy = g.bounds
        span = (maxx - minx) + (maxy - miny)
        step = max(spacing_m, span / max_lines)
        offsets = np.arange(-span, span + step, step)
        # lines y - miny = (x - minx) + c, drawn across the bounding box
        x0, x1 = minx - span, maxx + span
        lines = [((x0, miny + (x0 - minx) + c), (x1, miny + (x1 - minx) + c)) for c in offsets]
        out[k] = shapely.intersection(g, shapely.MultiLineString(lines))
    return out


@dataclass(frozen=True)
class DisplayLayers:
    """A plan's layers ready to draw: EPSG:4326 (or GCJ-02 when ``gcj02``), simplified.

    Attributes
    ----------
    grids
        ``grid_code``, ``community_id``, ``kind``, ``category``, ``name``, ``households``,
        ``population``, ``n_microgrids``, ``in_band``, ``locked``, ``colour``.
    microgrids
        ``microgrid_code``, ``grid_code``, ``community_id``, ``households``, ``colour``.
    units
        Representative points: ``unit_id``, ``households``, ``grid_code``, ``community_id``.
    communities, barriers
        The plan's context layers (``None`` when absent).
    hatch
        Hatch lines over dedicated grids (``grid_code``).
    gcj02
        Whether coordinates were shifted to GCJ-02 (Gaode).
    """

    grids: gpd.GeoDataFrame
    microgrids: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame | None
    barriers: gpd.GeoDataFrame | None
    hatch: gpd.GeoDataFrame
    gcj02: bool


def _frame(
    gdf: gpd.GeoDataFrame,
    columns: Iterable[str],
    *,
    work_crs: Any,
    tolerance_m: float,
    gcj02: bool,
) -> gpd.GeoDataFrame:
    cols = [c for c in columns if c in gdf.columns]
    geoms = _to_display(gdf.geometry, work_crs=work_crs, tolerance_m=tolerance_m, gcj02=gcj02)
    data = pd.DataFrame(gdf[cols]).reset_index(drop=True)
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=4326)


def display_layers(
    plan: Plan,
    *,
    tolerance_m: float = 2.0,
    gcj02: bool = False,
) -> DisplayLayers:
    """Prepare a plan's layers for :func:`plan_map` (the expensive, cacheable part).

    Parameters
    ----------
    plan
        A :class:`~gridplan.pipeline.Plan`.
    tolerance_m
        Simplification tolerance in metres, in the plan's working CRS.
    gcj02
        Shift coordinates to GCJ-02 for a Gaode basemap (display only).
    """
    work = plan.work_crs
    kw: dict[str, Any] = {"work_crs": work, "tolerance_m": tolerance_m, "gcj02": gcj02}
    grids = plan.grids
    colours = pd.Series(DEDICATED_COLOUR, index=grids.index, dtype=object)
    res = grids["kind"] == "residential"
    if res.any():
        colours[res] = grid_colours(grids[res], crs=work)
    g = _frame(
        grids.assign(colour=colours),
        [
            "grid_code",
            "community_id",
            "kind",
            "category",
            "name",
            "households",
            "population",
            "n_microgrids",
            "in_band",
            "locked",
            "colour",
        ],
        **kw,
    )
    colour_of = dict(zip(grids["grid_code"], colours, strict=True))
    mg = plan.microgrids.assign(colour=plan.microgrids["grid_code"].map(colour_of))
    m = _frame(mg, ["microgrid_code", "grid_code", "community_id", "households", "colour"], **kw)
    u = plan.units
    pts = u.geometry.representative_point()
    units = _frame(
        gpd.GeoDataFrame(
            {
                "unit_id": u.index.astype(str),
                "households": u["households"].to_numpy(),
                "grid_code": u["grid_code"].to_numpy(),
                "community_id": u["community_id"].to_numpy(),
            },
            geometry=pts.to_numpy(),
            crs=u.crs,
        ),
        ["unit_id", "households", "grid_code", "community_id"],
        work_crs=work,
        tolerance_m=0.0,
        gcj02=gcj02,
    )
    comms = plan.layers.communities
    communities = None
    if comms is not None and len(comms):
        c = comms.reset_index()
        if "name" not in c.columns:
            c["name"] = c["community_id"]
        communities = _frame(c, ["community_id", "name"], **kw)
    bars = plan.layers.barriers
    barriers = None
    if bars is not None and len(bars):
        barriers = _frame(bars.reset_index(), ["barrier_class", "name"], **kw)
    ded = grids[~res]
    hatch_geoms = (
        _hatch(_metric(ded, work).geometry.to_numpy()) if len(ded) else np.empty(0, dtype=object)
    )
    hatch = _frame(
        gpd.GeoDataFrame(
            {"grid_code": ded["grid_code"].to_numpy()},
            geometry=list(hatch_geoms),
            crs=work if len(ded) else grids.crs,
        ),
        ["grid_code"],
        work_crs=work,
        tolerance_m=0.0,
        gcj02=gcj02,
    )
    return DisplayLayers(
        grids=g,
        microgrids=m,
        units=units,
        communities=communities,
        barriers=barriers,
        hatch=hatch,
        gcj02=gcj02,
    )


# ---------------------------------------------------------------------------------------------
# intranet assets
# ---------------------------------------------------------------------------------------------


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def intranet_assets() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(default_js, default_css)`` for a folium map that loads nothing from the network.

    Leaflet's script and stylesheet come from ``gridplan/assets/leaflet/`` as ``data:`` URIs;
    the stylesheet's images are inlined into it as well.
    """
    root = resources.files("gridplan").joinpath("assets", "leaflet")
    js = root.joinpath("leaflet.js").read_bytes()
    css = root.joinpath("leaflet.css").read_text(encoding="utf-8")

    def _inline(match: re.Match[str]) -> str:
        image = root.joinpath(*match.group(1).split("/")).read_bytes()
        return f"url({_data_uri('image/png', image)})"

    css = re.sub(r"url\((images/[A-Za-z0-9_.-]+\.png)\)", _inline, css)
    return (
        [("leaflet", _data_uri("text/javascript", js))],
        [("leaflet_css", _data_uri("text/css", css.encode("utf-8")))],
    )


# ---------------------------------------------------------------------------------------------
# the map
# ---------------------------------------------------------------------------------------------


def _units_layer(units: Any, *, lang: Lang, name: str | None = None) -> Any:
    """Units as small dark dots with their id, households and grid in the tooltip."""
    return folium.GeoJson(
        _geojson(units),
        name=name,
        marker=folium.CircleMarker(
            radius=3, color="#111111", weight=1, fill=True, fill_opacity=0.9
        ),
        tooltip=folium.GeoJsonTooltip(
            fields=["unit_id", "households", "grid_code"],
            aliases=[t("unit", lang), t("households", lang), t("grid", lang)],
        ),
    )


def _geojson(gdf: gpd.GeoDataFrame) -> dict:
    return json.loads(gdf.to_json(drop_id=True))


def _add_basemap(
    m: folium.Map | folium.FeatureGroup, basemap: Basemap, tianditu_key: str | None, lang: Lang
) -> None:
    if basemap == "osm":
        folium.TileLayer("OpenStreetMap", name=t("basemap_osm", lang)).add_to(m)
    elif basemap == "tianditu":
        if not tianditu_key:
            raise ValueError(
                "basemap='tianditu' needs tianditu_key (a Tianditu browser key from "
                "console.tianditu.gov.cn); pass it or choose basemap='osm' or 'none'"
            )
        attr = '© <a href="https://www.tianditu.gov.cn">天地图</a>'
        folium.TileLayer(
            _TIANDITU.format(layer="vec", key=tianditu_key),
            attr=attr,
            name=t("basemap_tianditu", lang),
            subdomains="01234567",
            max_zoom=18,
        ).add_to(m)
        folium.TileLayer(
            _TIANDITU.format(layer="cva", key=tianditu_key),
            attr=attr,
            name=t("basemap_tianditu", lang) + " (注记)",
            subdomains="01234567",
            overlay=True,
            control=False,
            max_zoom=18,
        ).add_to(m)
    elif basemap == "gaode":
        folium.TileLayer(
            _GAODE,
            attr="© 高德地图 AutoNavi",
            name=t("basemap_gaode", lang),
            subdomains="1234",
            max_zoom=18,
        ).add_to(m)
    elif basemap != "none":
        raise ValueError(f"basemap must be one of {', '.join(BASEMAPS)}, got {basemap!r}")


def _bounds(gdf: gpd.GeoDataFrame) -> list[list[float]] | None:
    if gdf.empty:
        return None
    minx, miny, maxx, maxy = gdf.total_bounds
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        return None
    return [[float(miny), float(minx)], [float(maxy), float(maxx)]]


def _grid_style(feature: dict) -> dict:
    p = feature["properties"]
    return {
        "fillColor": p["colour"],
        "color": "#333333",
        "weight": 1.2,
        "fillOpacity": 0.55,
    }


def _dedicated_style(feature: dict) -> dict:
    return {
        "fillColor": DEDICATED_COLOUR,
        "color": "#555555",
        "weight": 1.2,
        "dashArray": "5 4",
        "fillOpacity": 0.3,
    }


def _micro_style(feature: dict) -> dict:
    return {"fillOpacity": 0.0, "color": "#1b1b1b", "weight": 0.8, "opacity": 0.8}


def _barrier_style(feature: dict) -> dict:
    cls = str(feature["properties"].get("barrier_class") or "")
    colour = next((c for k, c in BARRIER_COLOURS if cls.startswith(k)), DEFAULT_BARRIER_COLOUR)
    return {"color": colour, "weight": 2.5 if cls.startswith("major") else 1.5, "opacity": 0.85}


def _community_style(feature: dict) -> dict:
    return {"fill": False, "color": "#000000", "weight": 2.5, "dashArray": "8 6", "opacity": 0.9}


def _highlight(feature: dict) -> dict:
    return {"weight": 3, "fillOpacity": 0.75}


def selected_layer(
    plan_or_layers: Plan | DisplayLayers, code: str, *, lang: Lang = "zh"
) -> folium.FeatureGroup:
    """A feature group outlining grid ``code`` (for ``st_folium(feature_group_to_add=...)``, so
    selecting a grid does not reload the whole map)."""
    layers = plan_or_layers if isinstance(plan_or_layers, DisplayLayers) else None
    fg = folium.FeatureGroup(name=t("layer_selected", lang), control=False)
    if layers is None:
        layers = display_layers(plan_or_layers)  # type: ignore[arg-type]
    sel = layers.grids[layers.grids["grid_code"] == code]
    if len(sel):
        folium.GeoJson(
            _geojson(sel[["grid_code", "geometry"]]),
            style_function=lambda f: {
                "fill": False,
                "color": "#000000",
                "weight": 5,
                "opacity": 1.0,
            },
            interactive=False,
        ).add_to(fg)
    return fg


def plan_map(
    plan: Plan,
    *,
    show_microgrids: bool = False,
    community: str | None = None,
    basemap: Basemap = "osm",
    tianditu_key: str | None = None,
    intranet: bool = False,
    lang: Lang = "zh",
    selected: str | None = None,
    show_units: bool = False,
    tolerance_m: float = 2.0,
    display: DisplayLayers | None = None,
) -> folium.Map:
    """A folium map of a plan.

    Parameters
    ----------
    plan
        A :class:`~gridplan.pipeline.Plan`.
    show_microgrids
        Show the micro-grid layer when the map opens. Micro-grids are drawn only for
        ``community`` when one is given, else for the whole plan only when this is true, so a
        city of 25,000 micro-grids is not drawn by accident.
    community
        A ``community_id``: zoom to it and draw its micro-grids (hidden behind the layer toggle
        unless ``show_microgrids``) and, with ``show_units``, its units.
    basemap
        ``"osm"``, ``"tianditu"`` (needs ``tianditu_key``), ``"gaode"`` (overlays shifted to
        GCJ-02 for display) or ``"none"``.
    tianditu_key
        Tianditu browser key (``tk``).
    intranet
        Load Leaflet from files shipped in the package instead of CDNs (module docstring).
    lang
        ``"zh"`` or ``"en"`` for layer names and tooltips.
    selected
        A grid code to outline.
    show_units
        Draw units as small circles (for ``community`` only when one is given).
    tolerance_m
        Simplification tolerance in metres (ignored when ``display`` is given).
    display
        Layers prepared by :func:`display_layers` (lets callers cache that step). Must have been
        prepared with ``gcj02=(basemap == "gaode")``.

    Returns
    -------
    folium.Map
    """
    gcj02 = basemap == "gaode"
    if display is None:
        display = display_layers(plan, tolerance_m=tolerance_m, gcj02=gcj02)
    elif display.gcj02 != gcj02:
        raise ValueError(
            f"display layers were prepared with gcj02={display.gcj02} but basemap={basemap!r} "
            f"needs gcj02={gcj02}; call display_layers(plan, gcj02={gcj02})"
        )
    g = display.grids
    focus = g
    if community is not None:
        in_comm = g[g["community_id"].astype(str) == str(community)]
        if len(in_comm):
            focus = in_comm
    b = _bounds(focus)
    centre = [(b[0][0] + b[1][0]) / 2, (b[0][1] + b[1][1]) / 2] if b else [35.0, 105.0]
    m = folium.Map(
        location=centre, zoom_start=14, tiles=None, prefer_canvas=True, control_scale=True
    )
    if intranet:
        m.default_js, m.default_css = intranet_assets()
    _add_basemap(m, basemap, tianditu_key, lang)
    if b is not None:
        m.fit_bounds(b)

    res = g[g["kind"] == "residential"]
    ded = g[g["kind"] != "residential"]
    tip_fields = ["grid_code", "households", "community_id"]
    tip_aliases = [t("grid", lang), t("households", lang), t("community", lang)]
    if len(res):
        folium.GeoJson(
            _geojson(res[[*tip_fields, "colour", "geometry"]]),
            name=t("layer_grids", lang),
            style_function=_grid_style,
            highlight_function=_highlight,
            tooltip=folium.GeoJsonTooltip(fields=tip_fields, aliases=tip_aliases, sticky=True),
        ).add_to(m)
    if len(ded):
        fg = folium.FeatureGroup(name=t("layer_dedicated", lang))
        folium.GeoJson(
            _geojson(ded[[*tip_fields, "category", "geometry"]]),
            style_function=_dedicated_style,
            highlight_function=_highlight,
            tooltip=folium.GeoJsonTooltip(
                fields=[*tip_fields, "category"],
                aliases=[*tip_aliases, t("dedicated", lang)],
                sticky=True,
            ),
        ).add_to(fg)
        if len(display.hatch):
            folium.GeoJson(
                _geojson(display.hatch),
                style_function=lambda f: {"color": "#555555", "weight": 1, "opacity": 0.8},
                interactive=False,
            ).add_to(fg)
        fg.add_to(m)

    mg = display.microgrids
    if community is not None:
        mg = mg[mg["community_id"].astype(str) == str(community)]
    if (community is not None or show_microgrids) and len(mg):
        folium.GeoJson(
            _geojson(mg[["microgrid_code", "grid_code", "households", "geometry"]]),
            name=t("layer_microgrids", lang),
            show=show_microgrids,
            style_function=_micro_style,
            tooltip=folium.GeoJsonTooltip(
                fields=["microgrid_code", "households"],
                aliases=[t("microgrid", lang), t("households", lang)],
                sticky=True,
            ),
        ).add_to(m)

    if display.barriers is not None and len(display.barriers):
        folium.GeoJson(
            _geojson(display.barriers),
            name=t("layer_barriers", lang),
            style_function=_barrier_style,
            interactive=False,
        ).add_to(m)
    if display.communities is not None and len(display.communities):
        folium.GeoJson(
            _geojson(display.communities),
            name=t("layer_communities", lang),
            style_function=_community_style,
            interactive=False,
        ).add_to(m)

    if show_units:
        units = display.units
        if community is not None:
            units = units[units["community_id"].astype(str) == str(community)]
        if len(units):
            _units_layer(units, lang=lang, name=t("layer_units", lang)).add_to(m)

    if selected is not None:
        selected_layer(display, selected, lang=lang).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def focus_layers(display: DisplayLayers, codes: Iterable[str]) -> DisplayLayers:
    """The display layers of grids ``codes`` only (their micro-grids, units and hatching), for
    a small map of a grid and its neighbours; context layers are kept."""
    keep = {str(c) for c in codes}

    def sub(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        return frame[frame["grid_code"].astype(str).isin(keep)]

    return replace(
        display,
        grids=sub(display.grids),
        microgrids=sub(display.microgrids),
        units=sub(display.units),
        hatch=sub(display.hatch),
    )


def basemap_layer(
    basemap: Basemap, *, tianditu_key: str | None = None, lang: Lang = "zh"
) -> folium.FeatureGroup:
    """The basemap's tiles as a feature group, for ``st_folium(feature_group_to_add=...)``:
    changing the basemap then swaps the tiles without reloading the map, so the planner's
    zoom and position stay. ``basemap="none"`` gives an empty group."""
    fg = folium.FeatureGroup(name=t(f"basemap_{basemap}", lang), control=False)
    _add_basemap(fg, basemap, tianditu_key, lang)
    return fg


def view(
    display: DisplayLayers,
    *,
    community: str | None = None,
    grid: str | None = None,
    width_px: int = 800,
    height_px: int = 620,
) -> tuple[tuple[float, float], int]:
    """``(centre, zoom)`` showing grid ``grid`` (with its neighbours around it), else
    ``community``, else the whole plan, in a map of ``width_px`` × ``height_px``.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoDataFrame({"grid_code": ["a"], "community_id": ["c"]},
    ...                      geometry=[shapely.box(116.0, 39.0, 116.01, 39.01)], crs=4326)
    >>> d = DisplayLayers(g, g.iloc[:0], g.iloc[:0], None, None, g.iloc[:0], False)
    >>> view(d, grid="a")
    ((39.005, 116.005), 14)
    """
    g = display.grids
    focus = g
    if grid is not None and (g["grid_code"].astype(str) == str(grid)).any():
        focus = g[g["grid_code"].astype(str) == str(grid)]
    elif community is not None and (g["community_id"].astype(str) == str(community)).any():
        focus = g[g["community_id"].astype(str) == str(community)]
    b = _bounds(focus)
    if b is None:
        return (35.0, 105.0), 4
    (south, west), (north, east) = b
    centre = ((south + north) / 2, (west + east) / 2)
    # Web Mercator: 256 px span 360 degrees of longitude at zoom 0; a grid gets room around it
    pad = 3.0 if focus is not g and grid is not None else 1.2
    lon_span = max((east - west) * pad, 1e-6)
    lat_span = max((north - south) * pad, 1e-6) / max(np.cos(np.radians(centre[0])), 0.1)
    zoom = min(
        np.log2(width_px * 360 / (256 * lon_span)), np.log2(height_px * 360 / (256 * lat_span))
    )
    return (round(centre[0], 6), round(centre[1], 6)), int(np.clip(np.floor(zoom), 3, 18))


def overlay_layers(
    display: DisplayLayers,
    *,
    lang: Lang = "zh",
    selected: str | None = None,
    microgrids: Iterable[str] | None = None,
    units: Iterable[str] | None = None,
    labels: Iterable[str] | None = None,
) -> list[folium.FeatureGroup]:
    """Layers drawn on top of a base map without reloading it (``st_folium``'s
    ``feature_group_to_add``): the selected grid's outline, the micro-grids and units of the
    communities in ``microgrids`` / ``units``, and grid-code labels for the communities in
    ``labels`` (``None`` draws none of that kind). Keeping them out of the base map lets a
    toggle redraw only what it shows."""
    out: list[folium.FeatureGroup] = []
    if selected is not None:
        out.append(selected_layer(display, selected, lang=lang))
    if microgrids is not None:
        keep = {str(c) for c in microgrids}
        mg = display.microgrids[display.microgrids["community_id"].astype(str).isin(keep)]
        fg = folium.FeatureGroup(name=t("layer_microgrids", lang))
        if len(mg):
            folium.GeoJson(
                _geojson(mg[["microgrid_code", "grid_code", "households", "geometry"]]),
                style_function=_micro_style,
                tooltip=folium.GeoJsonTooltip(
                    fields=["microgrid_code", "households"],
                    aliases=[t("microgrid", lang), t("households", lang)],
                    sticky=True,
                ),
            ).add_to(fg)
        out.append(fg)
    if units is not None:
        keep = {str(c) for c in units}
        u = display.units[display.units["community_id"].astype(str).isin(keep)]
        fg = folium.FeatureGroup(name=t("layer_units", lang))
        if len(u):
            _units_layer(u, lang=lang).add_to(fg)
        out.append(fg)
    if labels is not None:
        keep = {str(c) for c in labels}
        g = display.grids[display.grids["community_id"].astype(str).isin(keep)]
        fg = folium.FeatureGroup(name=t("layer_labels", lang))
        for code, geom in zip(g["grid_code"].astype(str), g.geometry, strict=True):
            if geom is None or geom.is_empty:
                continue
            pt = geom.representative_point()
            folium.Marker(
                (pt.y, pt.x),
                icon=folium.DivIcon(
                    html=f'<div class="gp-label">{code[-3:]}</div>',
                    icon_size=(30, 14),
                    icon_anchor=(15, 7),
                    class_name="gp-label-icon",
                ),
                interactive=False,
            ).add_to(fg)
        out.append(fg)
    return out


def legend_html(display: DisplayLayers, *, lang: Lang = "zh") -> str:
    """A legend of every layer the map can show (grids, dedicated grids, micro-grids, units,
    each barrier class present, community boundaries, the selected grid, grid-code labels) as
    HTML swatches."""

    def swatch(style: str, text: str) -> str:
        return (
            f'<span style="display:inline-flex;align-items:center;margin:0 14px 4px 0">'
            f'<span style="display:inline-block;width:22px;height:14px;margin-right:5px;'
            f'{style}"></span>{text}</span>'
        )

    stripes = "repeating-linear-gradient(45deg,#555 0 1px,#bbb 1px 5px)"
    items = [
        swatch(
            f"background:linear-gradient(90deg,{PALETTE[0]},{PALETTE[1]},{PALETTE[2]});"
            "opacity:.7;border:1px solid #333",
            t("legend_grids", lang),
        ),
        swatch(f"background:{stripes};border:1px dashed #555", t("legend_dedicated", lang)),
        swatch("border:1px solid #1b1b1b", t("legend_microgrids", lang)),
        swatch("width:8px;height:8px;border-radius:50%;background:#111", t("legend_units", lang)),
    ]
    if display.barriers is not None and len(display.barriers):
        classes = sorted({str(c or "") for c in display.barriers.get("barrier_class", [])})
        seen: set[str] = set()
        for cls in classes:
            key = next((k for k, _ in BARRIER_COLOURS if cls.startswith(k)), "other")
            if key in seen:
                continue
            seen.add(key)
            colour = dict(BARRIER_COLOURS).get(key, DEFAULT_BARRIER_COLOUR)
            items.append(
                swatch(f"height:0;border-top:3px solid {colour}", t(f"legend_barrier_{key}", lang))
            )
    if display.communities is not None and len(display.communities):
        items.append(swatch("height:0;border-top:3px dashed #000", t("legend_communities", lang)))
    items.append(swatch("border:4px solid #000", t("legend_selected", lang)))
    items.append(
        swatch("border:1px solid #999;background:#fff;font-size:9px", t("legend_labels", lang))
    )
    return '<div style="font-size:0.85rem;line-height:1.6">' + "".join(items) + "</div>"


#: CSS for the grid-code labels of :func:`overlay_layers` (add to the map's page)
LABEL_CSS = (
    ".gp-label{font:bold 11px sans-serif;color:#111;text-align:center;"
    "text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff;white-space:nowrap;pointer-events:none}"
    ".gp-label-icon{background:none;border:none}"
    # metres only: the scale bar's second line is in feet
    ".leaflet-control-scale-line:nth-child(2){display:none}"
)


def clicked_grid(tooltip: str | None, plan_or_layers: Plan | DisplayLayers) -> str | None:
    """The grid code in a clicked tooltip's text (``st_folium``'s
    ``last_object_clicked_tooltip``); a micro-grid's or unit's tooltip gives its grid."""
    if not tooltip:
        return None
    grids = plan_or_layers.grids
    codes = set(grids["grid_code"].astype(str))
    micro = dict(
        zip(
            plan_or_layers.microgrids["microgrid_code"].astype(str),
            plan_or_layers.microgrids["grid_code"].astype(str),
            strict=True,
        )
    )
    for token in re.findall(r"[0-9A-Za-z_.:-]+", tooltip):
        if token in codes:
            return token
        if token in micro:
            return micro[token]
    return None


# ---------------------------------------------------------------------------------------------
# charts and the reform map
# ---------------------------------------------------------------------------------------------


def households_histogram(plan: Plan, *, lang: Lang = "zh", step: int = 25) -> Any:
    """An Altair histogram of households per residential grid over the rules' band (green).

    Returns
    -------
    altair.LayerChart
    """
    import altair as alt

    lo, hi = plan.rules.grid.min_households, plan.rules.grid.max_households
    res = plan.grids.loc[plan.grids["kind"] == "residential", ["grid_code", "households"]]
    data = pd.DataFrame(
        {"grid_code": res["grid_code"].astype(str), "households": res["households"].astype(int)}
    )
    band = (
        alt.Chart(pd.DataFrame({"lo": [lo], "hi": [hi]}))
        .mark_rect(color="#59a14f", opacity=0.18)
        .encode(x="lo:Q", x2="hi:Q")
    )
    bars = (
        alt.Chart(data)
        .mark_bar(color="#4e79a7")
        .encode(
            x=alt.X("households:Q", bin=alt.Bin(step=step), title=t("households", lang)),
            y=alt.Y("count():Q", title=t("grid_count", lang)),
            tooltip=[alt.Tooltip("count():Q", title=t("grid_count", lang))],
        )
    )
    return alt.layer(band, bars)


def fitted_map(
    bounds: list[list[float]] | None,
    *,
    basemap: Basemap = "osm",
    tianditu_key: str | None = None,
    intranet: bool = False,
    lang: Lang = "zh",
) -> folium.Map:
    """An empty map (canvas renderer, scale bar, the basemap, Leaflet from ``gridplan/assets``
    when ``intranet``) fitted to ``bounds`` (``[[south, west], [north, east]]``)."""
    b = bounds
    centre = [(b[0][0] + b[1][0]) / 2, (b[0][1] + b[1][1]) / 2] if b else [35.0, 105.0]
    m = folium.Map(
        location=centre, zoom_start=13, tiles=None, prefer_canvas=True, control_scale=True
    )
    if intranet:
        m.default_js, m.default_css = intranet_assets()
    _add_basemap(m, basemap, tianditu_key, lang)
    if b is not None:
        m.fit_bounds(b)
    return m


def reform_map(
    old: gpd.GeoDataFrame,
    new: gpd.GeoDataFrame,
    *,
    basemap: Basemap = "osm",
    tianditu_key: str | None = None,
    intranet: bool = False,
    lang: Lang = "zh",
    tolerance_m: float = 2.0,
) -> folium.Map:
    """Old community boundaries (black dashes) over the new communities (coloured, tooltips
    with code, households and the community each continues), for a reform's diff view.

    Parameters
    ----------
    old
        Current communities (index or column ``community_id``).
    new
        :attr:`gridplan.reform.Reform.communities` (``community_code``, ``households``,
        ``previous_code``).
    """
    gcj02 = basemap == "gaode"
    work = working_crs(new) if new.crs is not None else None
    kw: dict[str, Any] = {"work_crs": work, "tolerance_m": tolerance_m, "gcj02": gcj02}
    new_cols = [c for c in ("community_code", "households", "previous_code") if c in new.columns]
    n = _frame(
        new.assign(colour=grid_colours(new, code_col="community_code")), [*new_cols, "colour"], **kw
    )
    o = _frame(old.reset_index(), ["community_id"], **kw)
    m = fitted_map(
        _bounds(n) or _bounds(o),
        basemap=basemap,
        tianditu_key=tianditu_key,
        intranet=intranet,
        lang=lang,
    )
    aliases = {
        "community_code": t("community", lang),
        "households": t("households", lang),
        "previous_code": t("layer_old", lang),
    }
    folium.GeoJson(
        _geojson(n),
        name=t("layer_new", lang),
        style_function=_grid_style,
        highlight_function=_highlight,
        tooltip=folium.GeoJsonTooltip(
            fields=new_cols, aliases=[aliases[c] for c in new_cols], sticky=True
        ),
    ).add_to(m)
    folium.GeoJson(
        _geojson(o),
        name=t("layer_old", lang),
        style_function=_community_style,
        interactive=False,
    ).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def diff_map(
    diff: Any,
    *,
    colours: Mapping[str, str],
    basemap: Basemap = "none",
    tianditu_key: str | None = None,
    intranet: bool = True,
    lang: Lang = "zh",
) -> folium.Map:
    """The new plan's grids coloured by status (kept, changed, split, merged, new), the old
    plan's grids as dashed outlines, retired grids in red; tooltips give the code, the status
    and the households in each plan. ``diff`` is :func:`gridplan.diff_plans`' result,
    ``colours`` a colour per status (:data:`gridplan.diff.STATUS_COLOURS`)."""
    figures = diff.grids.set_index("grid_code")
    kw: dict[str, Any] = {"work_crs": None, "tolerance_m": 0.0, "gcj02": basemap == "gaode"}

    def layer(frame: Any) -> Any:
        f = frame.assign(
            status=[str(t(f"diff_{s}", lang)) for s in frame["change"]],
            colour=[colours.get(s, "#ffffff") for s in frame["change"]],
            households_old=frame["grid_code"].map(figures["households_old"]).round(0),
            households_new=frame["grid_code"].map(figures["households_new"]).round(0),
        )
        return _frame(
            f, ["grid_code", "status", "colour", "households_old", "households_new"], **kw
        )

    new, old = layer(diff.new), layer(diff.old)
    retired = old[diff.old["change"].to_numpy() == "retired"]
    m = fitted_map(
        _bounds(new) or _bounds(old),
        basemap=basemap,
        tianditu_key=tianditu_key,
        intranet=intranet,
        lang=lang,
    )
    fields = ["grid_code", "status", "households_old", "households_new"]
    aliases = [column_label(c, lang) for c in ("grid_code", "change", *fields[2:])]

    def tooltip() -> folium.GeoJsonTooltip:
        return folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True)

    def fill(feature: dict) -> dict:
        colour = feature["properties"]["colour"]
        return {"fillColor": colour, "color": "#37474f", "weight": 1.0, "fillOpacity": 0.6}

    def outline(feature: dict) -> dict:
        return {"fill": False, "color": "#263238", "weight": 1.6, "dashArray": "6 5"}

    def gone(feature: dict) -> dict:
        return {
            "fillColor": colours["retired"],
            "color": "#b71c1c",
            "weight": 1.6,
            "fillOpacity": 0.35,
        }

    folium.GeoJson(
        _geojson(new), name=t("diff_after", lang), style_function=fill, tooltip=tooltip()
    ).add_to(m)
    folium.GeoJson(
        _geojson(old), name=t("diff_before", lang), style_function=outline, interactive=False
    ).add_to(m)
    if len(retired):
        folium.GeoJson(
            _geojson(retired), name=t("diff_retired", lang), style_function=gone, tooltip=tooltip()
        ).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m
