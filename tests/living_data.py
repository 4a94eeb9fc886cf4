"""Data for re-planning tests (issue 16): Queenstown with blocks removed and a new compound
added, and Queenstown's subzones grouped into streets (for plans in processes)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

QUEENSTOWN = Path(__file__).resolve().parents[1] / "data" / "singapore_queenstown.gpkg"


def queenstown_streets(n: int) -> dict[str, gpd.GeoDataFrame]:
    """Queenstown's units, communities and barriers, its subzones dealt into ``n`` streets
    ``QT-0`` ... (``street_id`` on units and communities)."""
    layers = {k: gpd.read_file(QUEENSTOWN, layer=k) for k in ("units", "communities", "barriers")}
    ids = sorted(layers["communities"]["community_id"])
    street = {c: f"QT-{i % n}" for i, c in enumerate(ids)}
    layers["units"]["street_id"] = layers["units"]["community_id"].map(street)
    layers["communities"]["street_id"] = layers["communities"]["community_id"].map(street)
    return layers


def changed_queenstown(units: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list]:
    """``units`` with 2 blocks removed and a compound of 700 households (4 blocks) added
    next to block 50; returns the new units and the removed ids."""
    gone = units["unit_id"].iloc[[10, 120]].tolist()
    at = units.geometry.iloc[50]
    new = gpd.GeoDataFrame(
        {
            "unit_id": [f"new{i}" for i in range(4)],
            "households": [200, 200, 150, 150],
            "community_id": units["community_id"].iloc[50],
            "street_id": units["street_id"].iloc[50],
        },
        geometry=[
            shapely.Point(at.x + dx, at.y + dy)
            for dx, dy in [(30, 30), (60, 30), (30, 60), (60, 60)]
        ],
        crs=units.crs,
    )
    return pd.concat([units[~units["unit_id"].isin(gone)], new], ignore_index=True), gone
