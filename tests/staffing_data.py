"""Small hand-built staffing plans shared by the staffing tests.

Plans are ``SimpleNamespace`` objects with ``grids``, ``microgrids``, ``units``, ``layers`` like
:class:`gridplan.Plan`, in EPSG:32649 with 100 m squares, so every expected number can be worked
out by hand.
"""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
from shapely.geometry import Point, box

CRS = "EPSG:32649"
X0, Y0 = 500_000.0, 4_180_000.0


def square(col: int, row: int = 0, size: float = 100.0):
    return box(X0 + col * size, Y0 + row * size, X0 + (col + 1) * size, Y0 + (row + 1) * size)


def make_grids(
    households: list[int],
    *,
    communities: list[str] | None = None,
    kinds: list[str] | None = None,
    population: list[float] | None = None,
    n_microgrids: list[int] | None = None,
    streets: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Grids G1..Gn as a row of 100 m squares."""
    n = len(households)
    data: dict[str, object] = {
        "grid_code": [f"G{i + 1}" for i in range(n)],
        "community_id": communities or ["C1"] * n,
        "street_id": streets or ["S1"] * n,
        "kind": kinds or ["residential"] * n,
        "households": households,
    }
    if population is not None:
        data["population"] = population
    if n_microgrids is not None:
        data["n_microgrids"] = n_microgrids
    return gpd.GeoDataFrame(data, geometry=[square(i) for i in range(n)], crs=CRS)


def make_plan(grids, *, microgrids=None, units=None, layers=None) -> SimpleNamespace:
    return SimpleNamespace(grids=grids, microgrids=microgrids, units=units, layers=layers)


def lattice_compounds(members: list[float], *, nx_: int, community=None) -> SimpleNamespace:
    """One unit (building) per compound; compounds are 100 m squares on an ``nx_``-wide
    lattice, each its own grid, so compound adjacency is lattice adjacency."""
    n = len(members)
    geoms = [square(k % nx_, k // nx_) for k in range(n)]
    comm = community or ["C1"] * n
    grids = gpd.GeoDataFrame(
        {
            "grid_code": [f"G{k}" for k in range(n)],
            "community_id": comm,
            "kind": "residential",
            "households": 40,
            "n_microgrids": 1,
        },
        geometry=geoms,
        crs=CRS,
    )
    units = gpd.GeoDataFrame(
        {
            "unit_id": [f"u{k}" for k in range(n)],
            "grid_code": [f"G{k}" for k in range(n)],
            "compound_id": [f"c{k}" for k in range(n)],
            "households": 40,
            "population": np.nan,
            "party_members": members,
        },
        geometry=[g.centroid.buffer(30) for g in geoms],
        crs=CRS,
    ).set_index("unit_id")
    compounds = gpd.GeoDataFrame(
        {"compound_id": [f"c{k}" for k in range(n)]}, geometry=geoms, crs=CRS
    ).set_index("compound_id")
    return make_plan(grids, units=units, layers=SimpleNamespace(compounds=compounds))


def roster_plan() -> SimpleNamespace:
    """Two residential grids G1 (0-1000 m wide strip) and G2 above it, with units."""
    g1 = box(X0, Y0, X0 + 1000, Y0 + 100)
    g2 = box(X0, Y0 + 100, X0 + 1000, Y0 + 200)
    grids = gpd.GeoDataFrame(
        {
            "grid_code": ["G1", "G2"],
            "community_id": ["C1", "C2"],
            "kind": "residential",
            "households": [400, 400],
            "n_microgrids": [8, 8],
        },
        geometry=[g1, g2],
        crs=CRS,
    )
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["b1", "b2"],
            "grid_code": ["G1", "G2"],
            "compound_id": ["K1", "K2"],
            "households": [400, 400],
            "party_members": [3.0, 4.0],
        },
        geometry=[Point(X0 + 10, Y0 + 50), Point(X0 + 500, Y0 + 150)],
        crs=CRS,
    )
    return make_plan(grids, units=units)


def lonlat(x: float, y: float) -> tuple[float, float]:
    pt = gpd.GeoSeries([Point(x, y)], crs=CRS).to_crs(4326).iloc[0]
    return pt.x, pt.y
