"""The one cell graph every tool is given and judged on.

It is built with gridplan's own public pieces, in the order :func:`gridplan.partition_grids`
uses them (``gridplan/partition/grids.py``, steps 1-3):

1. the layers are validated and normalised by :func:`gridplan.prepare_layers`;
2. units inside a dedicated area (Taiyuan only) leave the residential problem;
3. residential units get space-filling cells from :func:`gridplan.tessellation.tessellate`,
   per community polygon (or the hull of a community's units when no polygon is given),
   cut by the barrier lines gridplan counts (:func:`gridplan.graph.barrier_lines` with
   ``GridRules().barrier_classes``) -- except areal units that already tile their
   communities (:func:`gridplan.tessellation.units_tile`, e.g. census areas), which are their
   own cells;
4. :func:`gridplan.graph.cell_edges` gives the adjacency and flags edges that cross a
   barrier; edges between communities are dropped (no tool may join communities).

This mirrors the engine, which changes; the run checks that gridplan's own cells match these
(``cells_match`` in the results) so a divergence shows up instead of skewing the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from shapely import STRtree

from gridplan import GridRules, prepare_layers
from gridplan.crs import working_crs
from gridplan.graph import Edges, barrier_lines, cell_edges
from gridplan.tessellation import region_hulls, tessellate, units_tile


@dataclass
class SharedGraph:
    """Residential units with cells and adjacency, in the working CRS.

    ``unit_ids``, ``households``, ``community``, ``xy``, ``face`` and ``cells`` are aligned;
    ``edges`` index into them. ``dedicated_households`` are the households gridplan gives to
    dedicated grids (outside the residential problem every tool solves).
    """

    unit_ids: np.ndarray
    households: np.ndarray
    community: np.ndarray
    xy: np.ndarray
    face: np.ndarray
    cells: np.ndarray
    edges: Edges
    barriers: np.ndarray | None
    crs: object
    dedicated_households: int
    all_households: int

    @property
    def n(self) -> int:
        return int(self.households.shape[0])

    def pieces(self) -> list[np.ndarray]:
        """Connected components of each community's cell graph (barrier edges included):
        the problems handed to the peers, which do not know about barriers."""
        g = sparse.coo_array(
            (np.ones(len(self.edges)), (self.edges.i, self.edges.j)), shape=(self.n, self.n)
        ).tocsr()
        _, comp = csgraph.connected_components(g, directed=False)
        order = np.lexsort((np.arange(self.n), comp))
        bounds = np.flatnonzero(np.diff(comp[order])) + 1
        return [np.sort(p) for p in np.split(order, bounds)]


def build(units: gpd.GeoDataFrame, layers: dict, *, rules: GridRules | None = None) -> SharedGraph:
    rules = rules or GridRules()
    lay = prepare_layers(units, **layers)
    crs = working_crs(lay.units)
    # the engine plans in sorted unit-id order (its plans do not depend on row order); the
    # same order gives the same Voronoi seeds, hence the same cells
    order = np.argsort(lay.units.index.astype(str).to_numpy(), kind="stable")
    u = lay.units.iloc[order].to_crs(crs)
    geoms = u.geometry.to_numpy()
    rep = shapely.point_on_surface(geoms)
    community = np.array(
        [str(c) if c is not None else "" for c in u["community_id"].astype(object)], dtype=object
    )
    hh_all = u["households"].to_numpy(dtype=np.int64)

    erase = None
    in_ded = np.zeros(len(u), dtype=bool)
    if lay.dedicated is not None and len(lay.dedicated):
        erase = lay.dedicated.to_crs(crs).geometry.to_numpy()
        u_idx, _ = STRtree(erase).query(rep, predicate="within")
        in_ded[np.unique(u_idx)] = True
    resid = np.flatnonzero(~in_ded)

    if lay.communities is not None:
        comms = lay.communities.to_crs(crs)
        regions = {str(k): g for k, g in zip(comms.index, comms.geometry.to_numpy(), strict=True)}
        missing = sorted(set(community[resid]) - set(regions))
        if missing:
            hulls = region_hulls(geoms[resid], community[resid])
            regions.update({k: hulls[k] for k in missing})
    else:
        regions = region_hulls(geoms[resid], community[resid])
    bar_gdf = (
        barrier_lines(lay.barriers, classes=rules.barrier_classes, crs=crs)
        if rules.respect_barriers
        else None
    )
    bars = bar_gdf.geometry.to_numpy() if bar_gdf is not None else None
    if units_tile(geoms[resid], community[resid], regions) and erase is None:
        # census areas and blocks tile their community: they are their own cells, and
        # barriers are read from the segment test alone
        cells = shapely.make_valid(geoms[resid])
        face = np.full(resid.size, -1, dtype=np.int64)
    else:
        tess = tessellate(geoms[resid], community[resid], regions, barriers=bars, erase=erase)
        cells, face = tess.cells, tess.face
    xy = shapely.get_coordinates(rep[resid])
    edges = cell_edges(cells, xy, face=face, barriers=bars)
    comm_r = community[resid]
    edges = edges.subset(comm_r[edges.i] == comm_r[edges.j])
    return SharedGraph(
        unit_ids=u.index.astype(str).to_numpy()[resid],
        households=hh_all[resid],
        community=comm_r,
        xy=xy,
        face=face,
        cells=cells,
        edges=edges,
        barriers=bars,
        crs=crs,
        dedicated_households=int(hh_all[in_ded].sum()),
        all_households=int(hh_all.sum()),
    )
