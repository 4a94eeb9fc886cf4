"""Inputs of a community redivision: current communities given as a column, units placed in
their streets, and the checks that every unit has a known current community."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from ..crs import working_crs
from ..errors import Problem, ValidationError, describe_rows
from ..layers import Layers
from ..tessellation import region_hulls, voronoi_in_face
from ..validate import normalize_ids

__all__ = ["check_inputs", "communities_from_column", "locate_in_streets"]


def communities_from_column(
    units: gpd.GeoDataFrame, column: str, columns: Mapping[str, str] | None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Current communities given as a unit column: polygons are the dissolved units."""
    if not isinstance(units, gpd.GeoDataFrame):
        raise ValidationError(
            [
                Problem(
                    "units",
                    "not_geodataframe",
                    f"units must be a GeoDataFrame, got {type(units).__name__}",
                )
            ]
        )
    if column not in units.columns:
        raise ValidationError(
            [
                Problem(
                    "communities",
                    "missing_column",
                    f"communities={column!r} names no column of the units; pass a communities "
                    f"layer or one of: {', '.join(str(c) for c in units.columns[:20])}",
                )
            ]
        )
    out = units.copy()
    # one id normaliser: 12.0 and "12" name the same community, blank text names none
    key = pd.Series(normalize_ids(out[column]), index=out.index, dtype=object)
    missing = key.isna().to_numpy()
    if missing.any():
        ids = out.index.astype(str)
        raise ValidationError(
            [
                Problem(
                    "units",
                    "missing_community",
                    f"{int(missing.sum())} units have no value in column {column!r} "
                    f"(rows {describe_rows(list(ids[missing]))}); fill it with their current "
                    "community.",
                )
            ]
        )
    # the named column wins over any community_id the units (or the renaming) carry
    clash = [c for c, new in (columns or {}).items() if new == "community_id" and c != column]
    out = out.drop(
        columns=[c for c in ("community_id", *clash) if c in out.columns and c != column]
    )
    out["community_id"] = key.to_numpy()
    geoms = out.geometry.to_numpy()
    is_poly = np.isin(shapely.get_type_id(geoms), (3, 6))
    names = sorted(set(key))
    if is_poly.all() and out.crs is not None and not _footprints(out):
        # blocks or areas that tile the ground: the dissolved units are the communities
        polys = [
            shapely.union_all(shapely.make_valid(geoms[(key == name).to_numpy()])) for name in names
        ]
    elif out.crs is not None:
        # points, or building footprints that cover only part of the ground: the dissolved
        # units would tile just their own union and leave most units without a neighbour, so
        # each unit's space-filling cell (as a grid plan draws it) goes to its community
        polys = _cell_communities(out, key, names)
    else:
        polys = [
            shapely.convex_hull(shapely.union_all(geoms[(key == name).to_numpy()])).buffer(1.0)
            for name in names
        ]
    comms = gpd.GeoDataFrame({"community_id": names}, geometry=polys, crs=units.crs)
    return out, comms


def _footprints(units: gpd.GeoDataFrame) -> bool:
    """Whether polygon units are building footprints (covering under half of the area around
    them) rather than blocks that tile it."""
    work = units.to_crs(working_crs(units))
    geoms = shapely.make_valid(work.geometry.to_numpy())
    around = region_hulls(geoms, np.zeros(len(geoms)))[0]
    covered = float(shapely.area(shapely.union_all(geoms)))
    return covered < 0.5 * float(shapely.area(around))


def _cell_communities(units: gpd.GeoDataFrame, key: pd.Series, names: list[str]) -> list[Any]:
    """Community polygons from the units' Voronoi cells in the area around them."""
    crs = working_crs(units)
    geoms = shapely.make_valid(units.to_crs(crs).geometry.to_numpy())
    around = region_hulls(geoms, np.zeros(len(geoms)))[0]
    cells = voronoi_in_face(around, geoms, anchors=shapely.point_on_surface(geoms))
    keys = key.to_numpy(dtype=object)
    polys = []
    for name in names:
        shape = shapely.union_all(
            np.concatenate([cells[keys == name], geoms[keys == name]]).astype(object)
        )
        polys.append(shapely.make_valid(shape))
    return list(gpd.GeoSeries(polys, crs=crs).to_crs(units.crs).to_numpy())


def locate_in_streets(layers: Layers) -> Layers:
    """Units take the street they lie in, not their current community's.

    :func:`~gridplan.layers.prepare_layers` gives a unit its community's street, which is
    right for grid planning inside fixed communities; a redivision redraws communities and
    must not carry one across a street boundary because the old one crossed it.
    """
    assert layers.streets is not None
    units = layers.units.copy()
    streets = layers.streets
    pts = shapely.point_on_surface(units.geometry.to_numpy())
    tree = STRtree(streets.geometry.to_numpy())
    u_idx, s_idx = tree.query(pts, predicate="intersects")
    order = np.lexsort((s_idx, u_idx))
    u_idx, s_idx = u_idx[order], s_idx[order]
    first = np.r_[True, u_idx[1:] != u_idx[:-1]] if u_idx.size else np.zeros(0, dtype=bool)
    values = units["street_id"].to_numpy(dtype=object).copy()
    values[u_idx[first]] = streets.index.astype(str).to_numpy()[s_idx[first]]
    units["street_id"] = values
    return Layers(
        units=units,
        compounds=layers.compounds,
        dedicated=layers.dedicated,
        barriers=layers.barriers,
        communities=layers.communities,
        streets=layers.streets,
    )


def check_inputs(layers: Layers) -> None:
    problems: list[Problem] = []
    if layers.communities is None:
        problems.append(
            Problem(
                "communities",
                "missing_layer",
                "redivision needs the current communities: pass communities=<polygons> or the "
                "name of a units column holding each unit's community.",
            )
        )
    else:
        cid = layers.units["community_id"]
        ids = layers.units.index.astype(str)
        missing = cid.isna().to_numpy()
        if missing.any():
            problems.append(
                Problem(
                    "units",
                    "missing_community",
                    f"{int(missing.sum())} units have no current community (ids "
                    f"{describe_rows(list(ids[missing]))}); extend the community polygons to "
                    "cover them or give them a `community_id`.",
                    tuple(ids[missing]),
                )
            )
        known = set(normalize_ids(layers.communities.index))
        cid_text = pd.Series(normalize_ids(cid), index=cid.index, dtype=object)
        unknown = cid.notna().to_numpy() & ~cid_text.isin(known).to_numpy()
        if unknown.any():
            codes = sorted(set(cid_text[unknown]))
            problems.append(
                Problem(
                    "units",
                    "unknown_community",
                    f"{int(unknown.sum())} units name communities that are not in the "
                    f"communities layer ({describe_rows(codes)}; ids "
                    f"{describe_rows(list(ids[unknown]))}); add those communities or correct "
                    "the units' `community_id`.",
                    tuple(ids[unknown]),
                )
            )
    if problems:
        raise ValidationError(problems)
