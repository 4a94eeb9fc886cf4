"""Benchmark instances: the real datasets and the synthetic 10^5-unit city.

Every builder returns an :class:`Instance` holding exactly the layers handed to
:func:`gridplan.partition_grids`; the shared cell graph the peers use is derived from the same
layers (:mod:`shared_graph`), so every tool sees the same units, cells and adjacency.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$GRIDPLAN_SHARED_DATA`` if set, else ``../shared/data`` next to the repository."""
    env = os.environ.get("GRIDPLAN_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@dataclass
class Instance:
    """The layers of one benchmark instance (keyword arguments of ``partition_grids``)."""

    name: str
    title: str
    units: gpd.GeoDataFrame
    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def households(self) -> int:
        return int(self.units["households"].sum())


# ---------------------------------------------------------------------------------------------
# Singapore: 10,744 HDB blocks, subzones as communities
# ---------------------------------------------------------------------------------------------

#: ``highway`` values that make a road a barrier (OSM classes, links included)
MAJOR_HIGHWAYS = ("motorway", "trunk", "primary")

#: planning areas kept by ``--quick`` (about 1,400 blocks, all four barrier districts but one)
SINGAPORE_QUICK_AREAS = ("QUEENSTOWN", "BUKIT MERAH", "TOA PAYOH")


def singapore(*, quick: bool = False) -> Instance:
    src = shared_data_dir()
    blocks = gpd.read_file(src / "singapore_hdb_buildings.gpkg", layer="buildings")
    subzones = gpd.read_file(src / "singapore_boundaries.gpkg", layer="subzones")
    areas = gpd.read_file(src / "singapore_boundaries.gpkg", layer="planning_areas")
    roads = gpd.read_file(src / "singapore_boundaries.gpkg", layer="barriers")
    if quick:
        blocks = blocks[blocks["planning_area"].isin(SINGAPORE_QUICK_AREAS)]
    blocks = blocks.sort_values("hdb_objectid")
    units = gpd.GeoDataFrame(
        {
            "unit_id": blocks["hdb_objectid"].astype(str).to_numpy(),
            "households": blocks["households"].astype("int64").to_numpy(),
            "community_id": blocks["subzone_code"].astype(str).to_numpy(),
        },
        geometry=blocks.geometry.to_numpy(),
        crs=blocks.crs,
    )
    # only subzones holding units matter (grids never leave their community)
    sz = subzones[subzones["SUBZONE_C"].isin(set(units["community_id"]))].sort_values("SUBZONE_C")
    communities = gpd.GeoDataFrame(
        {
            "community_id": sz["SUBZONE_C"].to_numpy(),
            "name": sz["SUBZONE_N"].to_numpy(),
            "street_id": sz["PLN_AREA_C"].to_numpy(),
        },
        geometry=sz.geometry.to_numpy(),
        crs=subzones.crs,
    )
    pa = areas[areas["PLN_AREA_C"].isin(set(communities["street_id"]))]
    streets = gpd.GeoDataFrame(
        {"street_id": pa["PLN_AREA_C"].to_numpy(), "name": pa["PLN_AREA_N"].to_numpy()},
        geometry=pa.geometry.to_numpy(),
        crs=areas.crs,
    )
    # osmnx stores two-way roads once per direction: keep one copy of each segment
    uv = np.sort(roads[["u", "v"]].to_numpy(dtype=np.int64), axis=1)
    roads = roads.loc[~pd.DataFrame(uv).duplicated().to_numpy()]
    hw = roads["highway"].astype(str).str.replace("_link", "", regex=False)
    cls = np.where(hw.isin(MAJOR_HIGHWAYS), "major_road", "secondary_road")
    barriers = gpd.GeoDataFrame(
        {
            "barrier_id": [f"osm_{u}_{v}" for u, v in zip(roads["u"], roads["v"], strict=True)],
            "name": roads["name"].to_numpy(),
            "barrier_class": cls,
            "highway": roads["highway"].to_numpy(),
        },
        geometry=roads.geometry.to_numpy(),
        crs=roads.crs,
    )
    title = "Singapore HDB, whole island" if not quick else "Singapore HDB (quick: 3 areas)"
    return Instance(
        name="singapore",
        title=title,
        units=units,
        layers={"communities": communities, "streets": streets, "barriers": barriers},
        notes=[
            f"{len(units):,} HDB blocks (points), {units['households'].sum():,} dwelling units, "
            f"{len(communities)} subzones holding units as communities, {len(streets)} planning "
            f"areas as streets, {int((cls == 'major_road').sum())} of {len(barriers)} deduplicated "
            "OSM road segments are barriers (motorway/trunk/primary and links; barrier data "
            "cover only 4 central districts)",
        ],
    )


# ---------------------------------------------------------------------------------------------
# Camden: 749 census output areas, MSOAs as communities
# ---------------------------------------------------------------------------------------------


def camden(*, quick: bool = False, snap: bool = True) -> Instance:
    """Camden's 749 output areas; with ``snap`` the polygons are passed through
    ``shapely.set_precision(..., 0.001)`` (the file's coordinates are already in whole mm).

    Up to gridplan commit 672107d the published polygons made the tessellation raise a GEOS
    TopologyException in 2 of the 28 MSOAs (``shapely.voronoi_polygons`` returned a
    self-intersecting cell for the outline seeds); the snap avoided it with some engine
    versions, not all. Since d31c5dd/5c571c0 the engine retries such cells and uses areal
    units that tile their community as their own cells, so the snap is no longer needed;
    ``camden_raw`` keeps checking the published polygons.
    """
    oa = gpd.read_file(shared_data_dir() / "camden_oa2011_households.gpkg", layer="output_areas")
    oa = oa.sort_values("OA11CD")
    if snap:
        oa = oa.set_geometry(shapely.set_precision(oa.geometry.to_numpy(), 0.001), crs=oa.crs)
    units = gpd.GeoDataFrame(
        {
            "unit_id": oa["OA11CD"].to_numpy(),
            "households": oa["households"].astype("int64").to_numpy(),
            "community_id": oa["MSOA11CD"].to_numpy(),
        },
        geometry=oa.geometry.to_numpy(),
        crs=oa.crs,
    )
    msoa = oa[["MSOA11CD", "geometry"]].dissolve(by="MSOA11CD").reset_index()
    if snap:
        msoa = msoa.set_geometry(shapely.set_precision(msoa.geometry.to_numpy(), 0.001))
    communities = gpd.GeoDataFrame(
        {"community_id": msoa["MSOA11CD"].to_numpy()},
        geometry=msoa.geometry.to_numpy(),
        crs=oa.crs,
    )
    return Instance(
        name="camden" if snap else "camden_raw",
        title="Camden output areas" + (" (snapped to 1 mm)" if snap else ", as published"),
        units=units,
        layers={"communities": communities},
        notes=[
            f"{len(units)} 2011 output areas (polygons), {units['households'].sum():,} counted "
            f"households, {len(communities)} MSOAs dissolved from the OAs as communities, "
            "no barriers; "
            + (
                "polygons snapped with shapely.set_precision(0.001), a workaround (effective "
                "with some engine versions) for a GEOS TopologyException the tessellation raised "
                "up to gridplan 672107d; no longer needed (see camden_raw)."
                if snap
                else "polygons exactly as published; gridplan only, to check that the engine "
                "handles them (up to 672107d it raised a GEOS TopologyException)."
            ),
        ],
    )


def camden_raw(*, quick: bool = False) -> Instance:
    return camden(quick=quick, snap=False)


# ---------------------------------------------------------------------------------------------
# Taiyuan: OSM buildings, every building counted as housing (stress variant)
# ---------------------------------------------------------------------------------------------


def taiyuan(*, quick: bool = False) -> Instance:
    path = REPO / "data" / "taiyuan.gpkg"
    units = gpd.read_file(path, layer="units_all_buildings")
    layers = {
        name: gpd.read_file(path, layer=name) for name in ("compounds", "dedicated", "barriers")
    }
    return Instance(
        name="taiyuan",
        title="Taiyuan OSM, all buildings (stress)",
        units=units,
        layers=layers,
        notes=[
            f"{len(units)} OSM footprints with the 'every building is housing' estimate "
            f"({units['households'].sum():,} households, max {units['households'].max():,} in "
            f"one building), {len(layers['compounds'])} compounds, {len(layers['dedicated'])} "
            f"dedicated areas, {len(layers['barriers'])} barrier lines, no community boundaries",
        ],
    )


# ---------------------------------------------------------------------------------------------
# Synthetic city
# ---------------------------------------------------------------------------------------------

#: lattice spacing of the synthetic city, metres
SYN_SPACING = 20.0
#: units per side of one square community
SYN_BLOCK = 20


def synthetic(*, quick: bool = False, seed: int = 20240611) -> Instance:
    """A deterministic city of 100,000 point units (10,000 with ``quick``).

    * Units sit on a square lattice of 20 m spacing, 500 columns x 200 rows (100 x 100 with
      ``quick``), each jittered uniformly by up to +-6 m in x and y.
    * Households per unit are drawn uniformly from the integers 5..30 (mean 17.5), so a
      grid of 300-500 households holds roughly 17-29 units.
    * Communities are the squares of 20 x 20 lattice cells (400 m x 400 m), 25 x 10 = 250 of
      them (25 with ``quick``), each holding 400 units and about 7,000 households.
    * Barriers are straight major roads: 3 east-west and 4 north-south lines laid halfway
      between lattice rows/columns (never through a unit) at positions that cut communities
      off-centre, plus one diagonal. They create pieces of every size, including some that
      admit no in-band count.
    * Placed in UTM zone 49N (EPSG:32649, metres) near Taiyuan, so the CRS is metric.

    Everything is drawn from ``numpy.random.default_rng(seed)``: same seed, same city.
    """
    rng = np.random.default_rng(seed)
    nx_, ny_ = (100, 100) if quick else (500, 200)
    s = SYN_SPACING
    x0, y0 = 500_000.0, 4_180_000.0
    gx, gy = np.meshgrid(np.arange(nx_), np.arange(ny_))
    gx, gy = gx.ravel(), gy.ravel()
    jitter = rng.uniform(-0.3 * s, 0.3 * s, size=(gx.size, 2))
    x = x0 + (gx + 0.5) * s + jitter[:, 0]
    y = y0 + (gy + 0.5) * s + jitter[:, 1]
    hh = rng.integers(5, 31, size=gx.size)
    cx, cy = gx // SYN_BLOCK, gy // SYN_BLOCK
    n_cx = nx_ // SYN_BLOCK
    comm = np.array([f"C{r:02d}{c:02d}" for r, c in zip(cy, cx, strict=True)], dtype=object)
    units = gpd.GeoDataFrame(
        {
            "unit_id": [f"U{i:06d}" for i in range(gx.size)],
            "households": hh.astype("int64"),
            "community_id": comm,
        },
        geometry=shapely.points(x, y),
        crs=32649,
    )
    boxes = []
    for r in range(ny_ // SYN_BLOCK):
        for c in range(n_cx):
            boxes.append(
                (
                    f"C{r:02d}{c:02d}",
                    shapely.box(
                        x0 + c * SYN_BLOCK * s,
                        y0 + r * SYN_BLOCK * s,
                        x0 + (c + 1) * SYN_BLOCK * s,
                        y0 + (r + 1) * SYN_BLOCK * s,
                    ),
                )
            )
    communities = gpd.GeoDataFrame(
        {"community_id": [b[0] for b in boxes]}, geometry=[b[1] for b in boxes], crs=32649
    )
    w, h = nx_ * s, ny_ * s
    # roads halfway between lattice lines, at 0.31/0.57/0.83 of the height and
    # 0.13/0.38/0.62/0.88 of the width (rounded to the lattice), plus one diagonal
    lines = []
    for f in (0.31, 0.57, 0.83):
        yy = y0 + round(f * ny_) * s
        lines.append(("ew", shapely.linestrings([[x0, yy], [x0 + w, yy]])))
    for f in (0.13, 0.38, 0.62, 0.88):
        xx = x0 + round(f * nx_) * s
        lines.append(("ns", shapely.linestrings([[xx, y0], [xx, y0 + h]])))
    lines.append(("diag", shapely.linestrings([[x0, y0 + 0.1 * h], [x0 + 0.6 * w, y0 + h]])))
    barriers = gpd.GeoDataFrame(
        {
            "barrier_id": [f"R{i}" for i in range(len(lines))],
            "name": [f"Road {i} ({kind})" for i, (kind, _) in enumerate(lines)],
            "barrier_class": "major_road",
        },
        geometry=[g for _, g in lines],
        crs=32649,
    )
    n = gx.size
    return Instance(
        name="synthetic",
        title=f"Synthetic city, {n:,} units",
        units=units,
        layers={"communities": communities, "barriers": barriers},
        notes=[
            f"{n:,} jittered lattice points (seed {seed}), households uniform 5-30 "
            f"({int(hh.sum()):,} in all), {len(communities)} square communities of 400 m, "
            f"{len(barriers)} straight major roads",
        ],
    )


BUILDERS = {
    "singapore": singapore,
    "camden": camden,
    "camden_raw": camden_raw,
    "taiyuan": taiyuan,
    "synthetic": synthetic,
}
