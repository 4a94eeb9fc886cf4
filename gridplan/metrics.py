"""Geometry figures of a plan: do grid boundaries run on streets, does a grid own a ribbon of
land, do the grids cover the study area exactly (全覆盖、无缝隙、不交叉).

Every function takes the grid polygons in a metric CRS (a GeoDataFrame, a GeoSeries or an
array of shapely polygons) and returns a plain number or a frame keyed by the grid's index.
Overlaps and gaps are measured with a fixed-precision overlay (``grid_size`` metres), so the
noise of floating-point clipping (vertices 1e-10 m off a neighbour's edge) does not count as
an overlap or a gap, while anything wider than the grid does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

__all__ = [
    "boundary_on_lines_share",
    "gap_area",
    "length_near_lines",
    "multipart_count",
    "overlap_area",
    "ribbons",
    "shared_edges",
]

_LINEAR = (1, 2)  # LineString, LinearRing


def _geoms(grids: Any) -> np.ndarray:
    """Shapely geometries of a GeoDataFrame / GeoSeries / array / single geometry."""
    if grids is None:
        return np.empty(0, dtype=object)
    if isinstance(grids, shapely.Geometry):
        return np.array([grids], dtype=object)
    geom = getattr(grids, "geometry", grids)
    return np.asarray(geom, dtype=object)


def _index(grids: Any, n: int) -> pd.Index:
    idx = getattr(grids, "index", None)
    return idx if isinstance(idx, pd.Index) and len(idx) == n else pd.RangeIndex(n)


def shared_edges(
    polys: Any, *, grid_size: float = 1e-3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of polygons that touch along an edge, and that edge.

    Returns positions ``i < j`` and the shared boundary (a line geometry per pair), measured
    with ``grid_size`` snap-rounding so vertices a few 1e-11 m off the neighbour's edge (cells
    clipped from one another) still count as on it. Pairs meeting only at a point are dropped.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> i, j, edge = shared_edges([box(0, 0, 1, 1), box(1, 0, 2, 1), box(5, 5, 6, 6)])
    >>> i.tolist(), j.tolist(), [round(e.length, 3) for e in edge]
    ([0], [1], [1.0])
    """
    g = _geoms(polys)
    ok = ~(shapely.is_missing(g) | shapely.is_empty(g))
    q = g.copy()
    q[~ok] = None
    a, b = STRtree(q).query(g, predicate="intersects")
    keep = (a < b) & ok[a] & ok[b]
    a, b = a[keep], b[keep]
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    if a.size == 0:
        return a, b, np.empty(0, dtype=object)
    inter = shapely.intersection(g[a], g[b], grid_size=grid_size)
    # keep the linear part only (an overlap, if any, contributes its outline elsewhere)
    parts, which = shapely.get_parts(inter, return_index=True)
    lin = np.isin(shapely.get_type_id(parts), _LINEAR)
    parts, which = parts[lin], which[lin]
    has = np.zeros(a.size, dtype=bool)
    has[which] = True
    lines = np.full(a.size, None, dtype=object)
    if parts.size:
        # one MultiLineString per pair, built in one vectorised call
        lines[has] = shapely.multilinestrings(
            parts, indices=np.unique(which, return_inverse=True)[1]
        )
    has &= shapely.length(lines) > 0
    return a[has], b[has], lines[has]


def length_near_lines(
    geoms: Any, lines: Any, *, tolerance_m: float, step_m: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Length of each line geometry, and how much of it lies within ``tolerance_m`` of
    ``lines``.

    Each geometry is cut into pieces of at most ``step_m``; a piece counts as on a line when
    its midpoint is within the tolerance. One spatial-index query for all pieces, so the cost
    grows linearly with the total length.

    Examples
    --------
    >>> from shapely.geometry import LineString
    >>> edge = LineString([(0, 0), (100, 0)])
    >>> road = LineString([(0, 2), (40, 2)])
    >>> total, near = length_near_lines([edge], [road], tolerance_m=3.0)
    >>> float(total[0]), float(near[0])  # 40 m alongside, 2 m past the road's end
    (100.0, 42.0)
    """
    g = _geoms(geoms)
    n = len(g)
    total = np.zeros(n)
    near = np.zeros(n)
    if n == 0:
        return total, near
    parts, owner = shapely.get_parts(g, return_index=True)
    lin = np.isin(shapely.get_type_id(parts), _LINEAR)
    parts, owner = parts[lin], owner[lin]
    if parts.size == 0:
        return total, near
    dense = shapely.segmentize(parts, step_m)
    xy, pi = shapely.get_coordinates(dense, return_index=True)
    same = pi[1:] == pi[:-1]
    p0, p1 = xy[:-1][same], xy[1:][same]
    seg_owner = owner[pi[:-1][same]]
    seg_len = np.hypot(*(p1 - p0).T)
    total = np.bincount(seg_owner, seg_len, minlength=n).astype(float)
    ln = _geoms(lines)
    ln = ln[~(shapely.is_missing(ln) | shapely.is_empty(ln))] if ln.size else ln
    if ln.size and seg_len.size:
        mids = shapely.points((p0 + p1) / 2)
        hit = np.unique(STRtree(ln).query(mids, predicate="dwithin", distance=tolerance_m)[0])
        on = np.zeros(seg_len.size, dtype=bool)
        on[hit] = True
        near = np.bincount(seg_owner, seg_len * on, minlength=n).astype(float)
    return total, near


def boundary_on_lines_share(grids: Any, lines: Any, *, tolerance_m: float = 3.0) -> float:
    """Share of the internal grid-boundary length within ``tolerance_m`` of ``lines``.

    Internal boundaries are the edges two grids share (the study area's outline is not
    counted). ``lines`` are the roads, barriers, compound outlines and community/street
    boundaries a planner expects boundaries to follow. ``nan`` when no two grids touch.

    Examples
    --------
    Two grids split along a road, a third split off where no road runs:

    >>> from shapely.geometry import LineString, box
    >>> grids = [box(0, 0, 100, 100), box(100, 0, 200, 100), box(0, 100, 200, 200)]
    >>> road = LineString([(100, -50), (100, 250)])
    >>> share = boundary_on_lines_share(grids, [road])  # 100 m of 300 m, +3 m each side
    >>> round(share, 2)
    0.35
    """
    _, _, edges = shared_edges(grids)
    if edges.size == 0:
        return float("nan")
    total, near = length_near_lines(edges, lines, tolerance_m=tolerance_m)
    return float(near.sum() / total.sum()) if total.sum() > 0 else float("nan")


def ribbons(
    grids: Any, *, width_m: float = 30.0, min_area_m2: float = 5000.0, opening_m: float = 15.0
) -> pd.DataFrame:
    """Strips narrower than ``width_m`` and larger than ``min_area_m2`` hanging off a grid.

    A strip is a piece that a morphological opening of radius ``opening_m`` (erode, then
    dilate) removes from the grid; it is narrower than ``width_m`` when an inward buffer of
    half that width leaves nothing of it. A median strip, a river bank or a road corridor owned
    by one grid shows up here; the rounded-off corners of a compact grid (about 48 m² each at
    15 m) do not reach the area threshold.

    Returns
    -------
    DataFrame
        One row per ribbon: ``grid`` (the grid's index label) and ``area_m2``.

    Examples
    --------
    A 20 m x 400 m strip attached to a 200 m square is a ribbon; a 60 m x 100 m block is not:

    >>> from shapely.geometry import box
    >>> strip = box(0, 0, 200, 200).union(box(200, 90, 600, 110))
    >>> ribbons([strip, box(1000, 0, 1060, 100)]).round(-3)
       grid  area_m2
    0     0   8000.0
    """
    g = _geoms(grids)
    idx = _index(grids, len(g))
    cols = {"grid": pd.Series([], dtype=idx.dtype), "area_m2": pd.Series([], dtype=float)}
    if len(g) == 0:
        return pd.DataFrame(cols)
    opened = shapely.buffer(shapely.buffer(g, -opening_m, quad_segs=8), opening_m, quad_segs=8)
    residue = shapely.difference(g, opened)
    parts, owner = shapely.get_parts(residue, return_index=True)
    poly = shapely.get_type_id(parts) == 3
    parts, owner = parts[poly], owner[poly]
    area = shapely.area(parts)
    big = area > min_area_m2
    parts, owner, area = parts[big], owner[big], area[big]
    thin = shapely.is_empty(shapely.buffer(parts, -width_m / 2, quad_segs=8))
    out = pd.DataFrame({"grid": idx[owner[thin]], "area_m2": area[thin]})
    return out.reset_index(drop=True)


def overlap_area(grids: Any, *, grid_size: float = 0.01) -> float:
    """Total area (m²) where two grids overlap, by a fixed-precision overlay.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> overlap_area([box(0, 0, 10, 10), box(8, 0, 18, 10), box(18, 0, 20, 10)])
    20.0
    """
    g = _geoms(grids)
    ok = ~(shapely.is_missing(g) | shapely.is_empty(g))
    q = g.copy()
    q[~ok] = None
    a, b = STRtree(q).query(g, predicate="intersects")
    keep = (a < b) & ok[a] & ok[b]
    a, b = a[keep], b[keep]
    if a.size == 0:
        return 0.0
    return float(shapely.area(shapely.intersection(g[a], g[b], grid_size=grid_size)).sum())


def gap_area(grids: Any, study_area: Any, *, grid_size: float = 0.01) -> float:
    """Area (m²) of the study area that no grid covers, by a fixed-precision overlay.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> gap_area([box(0, 0, 10, 10), box(12, 0, 20, 10)], box(0, 0, 20, 10))
    20.0
    """
    g = _geoms(grids)
    g = g[~(shapely.is_missing(g) | shapely.is_empty(g))]
    area = shapely.union_all(_geoms(study_area))
    if len(g) == 0:
        return float(shapely.area(area))
    # one snap-rounded overlay of both sides: snapping each union on its own would shift their
    # outlines by different fractions of the grid and report that as a gap
    cover = shapely.union_all(g)
    return float(shapely.area(shapely.difference(area, cover, grid_size=grid_size)))


def multipart_count(grids: Any) -> int:
    """Number of grids that are not one Polygon (two polygons touching at a point, islands).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> multipart_count([box(0, 0, 1, 1), box(0, 0, 1, 1).union(box(1, 1, 2, 2))])
    1
    """
    g = _geoms(grids)
    g = g[~(shapely.is_missing(g) | shapely.is_empty(g))]
    return int((shapely.get_type_id(g) != 3).sum())
