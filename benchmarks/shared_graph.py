"""The one cell graph every tool is given and judged on.

It is the grid stage's own ground, built by the stage itself, never by a copy of it:

1. the layers are validated and normalised by :func:`gridplan.prepare_layers`;
2. :func:`gridplan.partition.grids.unit_cells` (the plan's cells stage) puts units inside a
   dedicated area (Taiyuan only) in that area and gives residential units space-filling
   cells, per community polygon (or hull), cut by the barrier lines gridplan counts -- or
   uses areal units that already tile their communities (census areas) as their own cells;
3. :func:`gridplan.partition.grids.unit_graph` gives the adjacency of those cells
   (:func:`gridplan.graph.cell_edges`), flags edges that cross a barrier and drops edges
   between communities (no tool may join them).

The grid stage then builds the same graph over unit *parts* (units above the ceiling are
sliced); the run still checks that gridplan's own cells match these (``cells_match``).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from gridplan import GridRules, prepare_layers
from gridplan.graph import Edges
from gridplan.partition.grids import unit_cells, unit_graph


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
    """The residential cells and their graph, as the grid stage computes them."""
    cells = unit_cells(prepare_layers(units, **layers), rules=rules or GridRules())
    r = cells.residential
    hh_all = cells.units["households"].to_numpy(dtype=np.int64)
    return SharedGraph(
        unit_ids=cells.ids[r],
        households=hh_all[r],
        community=cells.community[r],
        xy=cells.xy[r],
        face=cells.face[r],
        cells=cells.cells[r],
        edges=unit_graph(cells),
        barriers=cells.barrier_geoms,
        crs=cells.crs,
        dedicated_households=int(hh_all[cells.dedicated_of >= 0].sum()),
        all_households=int(hh_all.sum()),
    )
