"""Cells and the unit graph of a community redivision.

Units inside an enterprise area (a dedicated polygon whose category reads industrial or
business) leave the residential communities (居企分离). Every other unit gets a space-filling
cell inside its street, cut by barrier lines (the grid stage's
:func:`gridplan.partition.grids.region_cells`, with streets as regions and enterprise areas as
the areas), and the cells become one :class:`gridplan.graph.UnitGraph`
(:func:`gridplan.graph.build_graph`) whose regions are the streets, so neighbours in different
streets are never joined.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..crs import working_crs
from ..graph import UnitGraph, barrier_lines, barrier_names, barrier_road_lines, build_graph
from ..layers import Layers
from ..partition.grids import region_cells
from ..tessellation import region_hulls
from ..validate import normalize_ids
from .rules import ReformRules

__all__ = ["ReformInput", "prepare"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReformInput:
    """The units of a redivision in the working CRS, their cells and the residential graph.

    Per unit (all units): ``ids``, ``weight`` (the balanced column), ``hh``, ``pop``,
    ``prev`` (current community, "" if none), ``street_key`` ("" if none), ``cells`` and
    ``ent_of`` (enterprise area position, -1 if none). ``resid`` lists the residential units;
    ``graph`` is their unit graph (node ``k`` is unit ``resid[k]``, region = street number) and
    ``old`` their current community numbers (-1 if none). ``bar_names`` name the barrier
    lines the graph's ``barrier`` entries point at.
    """

    u: gpd.GeoDataFrame
    crs: Any
    ids: np.ndarray
    weight: np.ndarray
    hh: np.ndarray
    pop: np.ndarray
    prev: np.ndarray
    street_key: np.ndarray
    cells: np.ndarray
    ent: gpd.GeoDataFrame | None
    ent_of: np.ndarray
    resid: np.ndarray
    graph: UnitGraph
    old: np.ndarray
    bar_names: list[str]


def prepare(layers: Layers, *, rules: ReformRules) -> ReformInput:
    """Enterprise areas, cells per street cut by barriers, and the residential unit graph."""
    crs = working_crs(layers.units)
    u = layers.units.to_crs(crs)
    ids = u.index.astype(str).to_numpy()
    if rules.balance == "population":
        weight = np.rint(u["population"].fillna(0).to_numpy(dtype=float)).astype(np.int64)
    else:
        weight = u["households"].to_numpy(dtype=np.int64)
    hh = u["households"].to_numpy(dtype=np.int64)
    pop = u["population"].to_numpy(dtype=float)
    # "" for none, so keys sort and compare as text
    prev = np.array([c or "" for c in normalize_ids(u["community_id"])], dtype=object)
    street_key = np.array([s or "" for s in normalize_ids(u["street_id"])], dtype=object)

    # enterprise areas (居企分离) take the units inside them; every other unit gets a cell in
    # its street, cut by barriers (the grid stage's cells, with streets as regions)
    ent = None
    if layers.dedicated is not None and len(layers.dedicated):
        d = layers.dedicated.to_crs(crs)
        mask = enterprise_mask(d["category"], rules.enterprise_categories)
        if mask.any():
            ent = d[mask]
    kw: dict[str, Any] = {
        "classes": rules.barrier_classes,
        "crs": crs,
        "road_classes": rules.road_classes,
    }
    bars = barrier_lines(layers.barriers, **kw)
    bar_geoms = bars.geometry.to_numpy() if bars is not None else None
    # streets of the roads layer and of a street class in the barriers layer cut the cells
    # into blocks (grids of the new communities may still join across them)
    soft = barrier_road_lines(layers.barriers, **kw)
    road_parts = [f.to_crs(crs).geometry.to_numpy() for f in (layers.roads, soft) if f is not None]
    roads = np.concatenate(road_parts) if road_parts else np.empty(0, dtype=object)
    # 居企分离: enterprise-run homes are handed over to the territorial community (they stay
    # residential units, noted by the area they came from) unless kept for dedicated grids
    handover = getattr(rules, "enterprise_residents", "dedicated") == "handover"
    rc = region_cells(
        u.geometry.to_numpy(),
        street_key,
        regions=lambda resid: street_regions(u, resid, street_key, layers, crs),
        areas=ent.geometry.to_numpy() if ent is not None and not handover else None,
        barriers=bar_geoms,
        mode="streets" if roads.size and rules.cells != "units" else rules.cells,
        roads=roads,
    )
    resid, cells, face, rep = rc.kept, rc.cells, rc.face, rc.points
    ent_of = rc.area_of
    if handover and ent is not None:
        ent_of = np.full(len(u), -1)
        u_idx, a_idx = shapely.STRtree(ent.geometry.to_numpy()).query(rep, predicate="within")
        _, first = np.unique(u_idx, return_index=True)
        ent_of[u_idx[first]] = a_idx[first]
    streets_sorted = sorted(set(street_key[resid].tolist()))
    street_index = {s: i for i, s in enumerate(streets_sorted)}
    graph = build_graph(
        cells[resid],
        shapely.get_coordinates(rep[resid]),
        weight=weight[resid],
        face=face[resid],
        barriers=bar_geoms,
        region=np.array([street_index[s] for s in street_key[resid]], dtype=np.int64),
        # a unit whose cell touches no other (a lone building, an empty cell) joins its
        # nearest unit in the same street so it can belong to a community
        link_isolated=True,
    )
    old_codes = sorted(set(prev[resid].tolist()) - {""})
    old_index = {c: i for i, c in enumerate(old_codes)}
    old = np.array([old_index.get(c, -1) for c in prev[resid]], dtype=np.int64)
    return ReformInput(
        u=u,
        crs=crs,
        ids=ids,
        weight=weight,
        hh=hh,
        pop=pop,
        prev=prev,
        street_key=street_key,
        cells=cells,
        ent=ent,
        ent_of=ent_of,
        resid=resid,
        graph=graph,
        old=old,
        bar_names=barrier_names(bars),
    )


def enterprise_mask(categories: pd.Series, words: tuple[str, ...]) -> np.ndarray:
    text = categories.astype(str).str.lower()
    mask = np.zeros(len(text), dtype=bool)
    for word in words:
        mask |= text.str.contains(word.lower(), regex=False).to_numpy()
    return mask


def street_regions(
    u: gpd.GeoDataFrame,
    resid: np.ndarray,
    street_key: np.ndarray,
    layers: Layers,
    crs: Any,
) -> dict[str, Any]:
    """The polygon each street's units are tessellated in: the street polygon, else the union
    of its current communities, else the area around its units."""
    geoms = u.geometry.to_numpy()
    rep = shapely.point_on_surface(geoms)
    regions: dict[str, Any] = {}
    streets = layers.streets.to_crs(crs) if layers.streets is not None else None
    comms = layers.communities.to_crs(crs) if layers.communities is not None else None
    comm_of = u["community_id"].astype(object).to_numpy()
    for key in sorted(set(street_key[resid].tolist())):
        sel = resid[street_key[resid] == key]
        region = None
        if streets is not None and key in streets.index:
            region = streets.geometry.loc[key]
        elif comms is not None:
            codes = sorted({str(c) for c in comm_of[sel] if c is not None})
            present = [c for c in codes if c in comms.index]
            if present:
                region = shapely.union_all(
                    shapely.make_valid(comms.geometry.loc[present].to_numpy())
                )
        if region is not None:
            outside = ~shapely.intersects(region, rep[sel])
            if outside.any():
                hull = region_hulls(geoms[sel[outside]], np.zeros(int(outside.sum())))[0]
                region = shapely.union_all([region, hull])
        else:
            region = region_hulls(geoms[sel], np.zeros(sel.size))[0]
        regions[key] = region
    return regions
