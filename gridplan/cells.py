"""Cells from the street network: blocks cut by every line, and a cell per unit inside its
block, tiling the study area exactly.

In Chinese practice a grid is bounded by streets, lanes, compound walls and rivers, and covers
its community with no gaps and no overlaps (全覆盖、无缝隙、不交叉). This module builds the
ground the partition works on so that both hold:

1. :func:`study_area` is the area to cover: the community polygons, else the street
   polygons, else the blocks of the road network around the units, else a bounded hull.
2. :func:`blocks` cuts an area by every line (roads, barriers, compound outlines, community
   and street boundaries) into blocks (enclosures, as in momepy). Lines are centrelines, so
   the road space is split along the road's centre between the blocks on either side.
3. :func:`street_tessellate` gives every unit a cell inside its block (an enclosed
   tessellation): the Voronoi cell of its point, or of points sampled along its outline for a
   footprint, clipped to the block. Polygon units that already tile their region (census
   areas) are their own cells. Blocks without units join a neighbouring block first.
4. :func:`edge_on_lines` measures how much of the edge two cells share lies on a line, so the
   partition can prefer boundaries on roads.

Why not momepy (0.11) itself: its ``enclosures`` is the same polygonize, and is matched here,
but ``enclosed_tessellation`` works on footprints only (points are not its input), leaves
blocks without buildings as extra rows instead of joining them to a neighbour, gives a
building that straddles two blocks a cell in each, drops buildings that collapse when shrunk,
returns cells that are, in its own words, "not a precise polygonal coverage", and runs its
per-block work through joblib processes. ``benchmarks/streets_bench.py`` times both.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from .errors import Problem, ValidationError
from .metrics import length_near_lines
from .tessellation import Tessellation, absorb_empty, mend_parts, region_hulls, voronoi_in_face

__all__ = ["as_lines", "blocks", "edge_on_lines", "street_tessellate", "study_area"]

log = logging.getLogger(__name__)

_POLY = (3, 6)
_LINE = (1, 2)
# lines are clipped to the area's bounding box grown by this much, so a line ending on the
# area's outline still crosses it after clipping and is noded with it
_CLIP_PAD_M = 1.0
# fixed-precision grid (m) of the union that joins an empty block to a cell
_SEAM_M = 1e-6


def _geom_array(layer: Any) -> np.ndarray:
    """Shapely geometries of a GeoDataFrame, GeoSeries, array, list or single geometry."""
    if layer is None:
        return np.empty(0, dtype=object)
    if isinstance(layer, shapely.Geometry):
        return np.array([layer], dtype=object)
    g = np.asarray(getattr(layer, "geometry", layer), dtype=object)
    if g.size == 0:
        return np.empty(0, dtype=object)
    return g[~(shapely.is_missing(g) | shapely.is_empty(g))]


def as_lines(*layers: Any) -> np.ndarray:
    """Every layer's line work as single LineStrings: lines as given, polygons by outline."""
    out = [np.empty(0, dtype=object)]
    for layer in layers:
        g = _geom_array(layer)
        if g.size == 0:
            continue
        poly = np.isin(shapely.get_type_id(g), _POLY)
        if poly.any():
            g = g.copy()
            g[poly] = shapely.boundary(g[poly])
        parts = shapely.get_parts(g)
        out.append(parts[np.isin(shapely.get_type_id(parts), _LINE)])
    return np.concatenate(out)


def _sorted(polys: np.ndarray) -> np.ndarray:
    """Blocks in a fixed order (by representative point), whatever GEOS returned them in."""
    if len(polys) < 2:
        return polys
    xy = np.round(shapely.get_coordinates(shapely.point_on_surface(polys)), 3)
    return polys[np.lexsort((xy[:, 1], xy[:, 0]))]


def _cut(area: Any, lines: np.ndarray) -> np.ndarray:
    """Faces of ``area`` cut by ``lines`` (the faces of the lines alone when no area)."""
    if area is None:
        if lines.size == 0:
            return np.empty(0, dtype=object)
        faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(lines))))
        return _sorted(faces[shapely.area(faces) > 0])
    own = shapely.get_parts(area)
    own = own[shapely.get_type_id(own) == 3]
    if lines.size == 0:
        return _sorted(own)
    x0, y0, x1, y1 = shapely.bounds(area)
    pad = _CLIP_PAD_M
    box = shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    near = lines[shapely.intersects(lines, box)]
    if near.size == 0:
        return _sorted(own)
    clipped = shapely.clip_by_rect(near, x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    noded = shapely.union_all(np.concatenate([[shapely.boundary(area)], clipped]))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if faces.size == 0:
        return _sorted(own)
    shapely.prepare(area)
    # the area's outline is part of the noded line work, so a face is wholly in or out
    faces = faces[shapely.intersects(area, shapely.point_on_surface(faces))]
    faces = faces[shapely.area(faces) > 0]
    return _sorted(faces) if faces.size else _sorted(own)


def blocks(
    area: Any = None,
    *,
    roads: Any = None,
    barriers: Any = None,
    boundaries: Any = None,
) -> np.ndarray:
    """The study area cut by every line into blocks (enclosures).

    Parameters
    ----------
    area
        Polygon or MultiPolygon to cut (working CRS). ``None``: the faces enclosed by the
        lines themselves (momepy's ``enclosures`` without a limit).
    roads, barriers
        Line layers (GeoDataFrame, GeoSeries or array). Both cut: roads are where boundaries
        should run, barriers what grids must not cross; here they are the same line work.
    boundaries
        Compound outlines, community and street polygons (their outlines cut) or lines.

    Returns
    -------
    numpy.ndarray
        Polygons tiling ``area``, in a fixed order. Lines are centrelines: the blocks either
        side of a road meet on its centre line, so the road's own space is split between them.
        Dead ends (a lane into a compound) do not close a block and cut nothing.

    Examples
    --------
    A 300 m square cut by two crossing roads and a dead end:

    >>> from shapely.geometry import LineString, box
    >>> roads = [LineString([(100, -10), (100, 310)]), LineString([(-10, 150), (310, 150)]),
    ...          LineString([(200, 0), (200, 60)])]
    >>> b = blocks(box(0, 0, 300, 300), roads=roads)
    >>> len(b), sorted(round(p.area) for p in b)
    (4, [15000, 15000, 30000, 30000])
    """
    lines = as_lines(roads, barriers, boundaries)
    return _cut(area, lines)


def _overlap_problems(layer: str, polys: Any, *, tolerance_m2: float) -> list[Problem]:
    """One problem per pair of polygons overlapping by more than ``tolerance_m2``."""
    g = np.asarray(getattr(polys, "geometry", polys), dtype=object)
    ids = list(getattr(polys, "index", range(len(g))))
    g = shapely.make_valid(g)
    a, b = STRtree(g).query(g, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    if a.size == 0:
        return []
    inter = shapely.area(shapely.intersection(g[a], g[b]))
    bad = np.flatnonzero(inter > tolerance_m2)
    noun = {"communities": "communities", "streets": "streets"}.get(layer, layer)
    out = []
    for k in bad[np.lexsort((b[bad], a[bad]))].tolist():
        ia, ib = ids[int(a[k])], ids[int(b[k])]
        out.append(
            Problem(
                layer,
                "overlapping_polygons",
                f"{noun} {ia!r} and {ib!r} overlap by {inter[k]:,.0f} m²; every place must "
                "belong to one of them: cut the overlap out of one polygon (e.g. with "
                "shapely.difference) or give a rule that assigns it",
                (ia, ib),
            )
        )
    return out


def _areal(geoms: np.ndarray) -> tuple[bool, Any]:
    """Whether polygon units form a coverage of their own (census areas, plots): they touch
    each other into a few pieces and barely overlap. Returns the test and their union."""
    if geoms.size == 0 or not np.isin(shapely.get_type_id(geoms), _POLY).all():
        return False, None
    union = shapely.union_all(shapely.make_valid(geoms))
    pieces = shapely.get_num_geometries(union)
    total = float(shapely.area(geoms).sum())
    ok = pieces <= max(1, len(geoms) // 10) and total <= 1.02 * float(shapely.area(union))
    return bool(ok), union


def study_area(
    units: Any,
    *,
    communities: Any = None,
    streets: Any = None,
    roads: Any = None,
    barriers: Any = None,
    buffer_m: float | None = None,
    overlap_tolerance_m2: float = 1.0,
) -> Any:
    """The area the grids must cover, as one (Multi)Polygon in the working CRS.

    In order of preference:

    1. the union of the ``communities`` polygons, if given;
    2. else the union of the ``streets`` polygons;
    3. else, for polygon units that form a coverage of their own (census areas, plots: they
       touch each other into a few pieces), the union of the units;
    4. else the blocks of the ``roads`` and ``barriers`` network around the units: the blocks
       that hold a unit, the parts of empty blocks the bounded hull round the units (as in 5)
       reaches into (the land between nearby estates), and empty blocks enclosed by them;
       units outside every block add a bounded hull around themselves;
    5. else (no lines either) a bounded hull around the units
       (:func:`gridplan.tessellation.region_hulls`, ``buffer_m``).

    ``communities`` and ``streets`` are GeoDataFrames or GeoSeries indexed by their ids (the
    ids the error names); ``roads`` and ``barriers`` any line layers.

    Raises
    ------
    ValidationError
        When two community (or street) polygons overlap by more than
        ``overlap_tolerance_m2``; one problem per pair names both ids and the overlap area.

    Examples
    --------
    >>> from shapely.geometry import LineString, Point, box
    >>> roads = [LineString([(x, -5), (x, 305)]) for x in (0, 100, 200, 300)]
    >>> roads += [LineString([(-5, y), (305, y)]) for y in (0, 100, 200, 300)]
    >>> ring = [Point(x, y) for x in (50, 150, 250) for y in (50, 150, 250) if (x, y) != (150, 150)]
    >>> study_area(ring, roads=roads).area  # eight held blocks and the empty one they enclose
    90000.0
    >>> round(study_area(ring[:1], roads=roads).area)  # one held block, the hull's rim
    10757
    """
    problems: list[Problem] = []
    for layer, polys in (("communities", communities), ("streets", streets)):
        if polys is None or len(_geom_array(polys)) == 0:
            continue
        problems += _overlap_problems(layer, polys, tolerance_m2=overlap_tolerance_m2)
        if problems:
            raise ValidationError(problems)
        return shapely.union_all(shapely.make_valid(_geom_array(polys)))
    geoms = _geom_array(units)
    if geoms.size == 0:
        return shapely.Polygon()
    areal, union = _areal(geoms)
    if areal:
        return union
    rep = shapely.point_on_surface(geoms)
    lines = as_lines(roads, barriers)
    if lines.size:
        blk = _cut(None, lines)
        if blk.size:
            u_idx, b_idx = STRtree(blk).query(rep, predicate="within")
            held = np.unique(b_idx)
            if held.size:
                # the land amid the units (a park, a yard between two estates) belongs to the
                # area too: without it the held blocks fall apart into islands whose units have
                # no neighbour across the empty block, and the grid stage is left with pieces
                # below the band. Empty blocks join as far as the bounded hull round the units
                # (as without lines) reaches into them; the cells give each such piece whole
                # to one neighbour. (Joining only pieces that touch two held blocks was
                # measured worse: Taiyuan 46.9 -> 33.4 % of boundaries on lines.)
                hull = region_hulls(geoms, np.zeros(len(geoms)), buffer_m=buffer_m)[0]
                empty = np.setdiff1d(np.arange(len(blk)), held)
                near = empty[shapely.intersects(blk[empty], hull)]
                core = shapely.union_all([*blk[held], *shapely.intersection(blk[near], hull)])
                # fill the holes: empty blocks enclosed by held ones belong to the area
                shells = [shapely.Polygon(p.exterior) for p in shapely.get_parts(core)]
                parts = [shapely.union_all(shells)]
                outside = np.setdiff1d(np.arange(len(geoms)), u_idx)
                if outside.size:
                    hull = region_hulls(geoms[outside], np.zeros(outside.size), buffer_m=buffer_m)
                    parts.append(hull[0])
                return shapely.union_all(parts)
    return region_hulls(geoms, np.zeros(len(geoms)), buffer_m=buffer_m)[0]


def _block_neighbours(
    blk: np.ndarray, held: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (empty block, neighbour) sharing an edge, and the shared length.

    Blocks from one polygonize share their edges vertex for vertex, so a shared edge is a
    run of identical segments: segments are matched by their end points in one sort over all
    rings, with no polygon overlay.
    """
    rings, owner = shapely.get_rings(blk, return_index=True)
    xy, ri = shapely.get_coordinates(rings, return_index=True)
    same = ri[1:] == ri[:-1]
    p0, p1 = xy[:-1][same], xy[1:][same]
    seg_blk = owner[ri[:-1][same]]
    length = np.hypot(*(p1 - p0).T)
    # an undirected key per segment: its end points in a fixed order
    swap = (p0[:, 0] > p1[:, 0]) | ((p0[:, 0] == p1[:, 0]) & (p0[:, 1] > p1[:, 1]))
    lo = np.where(swap[:, None], p1, p0)
    hi = np.where(swap[:, None], p0, p1)
    key = np.column_stack([lo, hi])
    _, inv, cnt = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    shared_seg = np.flatnonzero(cnt[inv] == 2)
    order = shared_seg[np.argsort(inv[shared_seg], kind="stable")]
    first, second = order[0::2], order[1::2]
    ba, bb, ln = seg_blk[first], seg_blk[second], length[first]
    # both directions, then only pairs with an empty block first
    a = np.concatenate([ba, bb])
    b = np.concatenate([bb, ba])
    ln = np.concatenate([ln, ln])
    keep = (a != b) & ~held[a]
    a, b, ln = a[keep], b[keep], ln[keep]
    if a.size == 0:
        return a, b, ln
    pair, pinv = np.unique(np.column_stack([a, b]), axis=0, return_inverse=True)
    shared = np.bincount(pinv.ravel(), weights=ln)
    return pair[:, 0], pair[:, 1], shared


def _absorb_blocks(blk: np.ndarray, held: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which neighbour each empty block joins, and the order they resolve in.

    An empty block joins the neighbouring block it shares the longest edge with, among those
    already resolved; resolution runs outward from the blocks with units one ring at a time,
    so a chain of empty blocks joins the held block it reaches first. Empty blocks touching no
    resolved block (an islet) join the nearest held block.

    Returns ``via`` (the neighbour joined, ``-1`` for held blocks) and the empty blocks in
    resolution order (a block comes after the block it joins).
    """
    m = len(blk)
    via = np.full(m, -1, dtype=np.int64)
    if held.all() or not held.any():
        return via, np.zeros(0, dtype=np.int64)
    a, b, shared = _block_neighbours(blk, held)
    resolved = held.copy()
    order_out = []
    while True:
        cand = np.flatnonzero(~resolved[a] & resolved[b])
        if cand.size == 0:
            break
        # per empty block, the resolved neighbour with the longest shared edge (ties: lowest)
        order = np.lexsort((b[cand], -shared[cand], a[cand]))
        src = a[cand][order]
        first = np.r_[True, src[1:] != src[:-1]]
        pick_src, pick_dst = src[first], b[cand][order][first]
        via[pick_src] = pick_dst
        resolved[pick_src] = True
        order_out.append(pick_src)
    left = np.flatnonzero(~resolved)
    if left.size:
        held_idx = np.flatnonzero(held)
        near = STRtree(blk[held_idx]).query_nearest(blk[left], all_matches=False)[1]
        via[left] = held_idx[near]
        order_out.append(left)
        log.info("%d empty blocks touch no block with units; joined to the nearest", left.size)
    return via, np.concatenate(order_out)


def _which_block(blk: np.ndarray, rep: np.ndarray) -> np.ndarray:
    """Block per unit by its representative point; a point on a line goes to the nearest."""
    tree = STRtree(blk)
    u_idx, b_idx = tree.query(rep, predicate="within")
    which = np.full(len(rep), -1, dtype=np.int64)
    order = np.lexsort((b_idx, u_idx))
    u_idx, b_idx = u_idx[order], b_idx[order]
    first = np.r_[True, u_idx[1:] != u_idx[:-1]] if u_idx.size else np.zeros(0, dtype=bool)
    which[u_idx[first]] = b_idx[first]
    missing = np.flatnonzero(which < 0)
    if missing.size:
        which[missing] = tree.query_nearest(rep[missing], all_matches=False)[1]
    return which


def _groups(keys: np.ndarray) -> dict[int, np.ndarray]:
    """Positions per integer key, in one sort (no pass over all units per key)."""
    order = np.argsort(keys, kind="stable")
    uniq, start = np.unique(keys[order], return_index=True)
    return {int(k): g for k, g in zip(uniq, np.split(order, start[1:]), strict=True)}


def _enclosed(
    blk: np.ndarray, geoms: np.ndarray, rep: np.ndarray, *, empty: str = "whole"
) -> tuple[np.ndarray, np.ndarray]:
    """Cells of units inside their blocks, empty blocks joined, and the block per unit."""
    which = _which_block(blk, rep)
    held = np.bincount(which, minlength=len(blk)) > 0
    via, order = _absorb_blocks(blk, held)
    by_block = _groups(which)
    ground = blk.copy()
    if empty == "share":
        # join the empty land to its held block first; the Voronoi step then shares it out
        root = np.where(held, np.arange(len(blk)), -1)
        for e in order.tolist():
            root[e] = root[via[e]]
        for r, members in _groups(root).items():
            if len(members) > 1:
                # blocks from one polygonize share their edges exactly: no seam is left
                ground[r] = shapely.union_all(blk[members])
    cells = np.empty(len(geoms), dtype=object)
    for r, units in by_block.items():
        if len(units) == 1:
            cells[units] = [ground[r]]
        else:
            cells[units] = voronoi_in_face(ground[r], geoms[units], anchors=rep[units])
    if empty == "whole" and order.size:
        cells = _join_whole(cells, blk, via, order, by_block)
    return cells, which


def _join_whole(
    cells: np.ndarray,
    blk: np.ndarray,
    via: np.ndarray,
    order: np.ndarray,
    by_block: dict[int, np.ndarray],
) -> np.ndarray:
    """Give each empty block, whole, to one cell of the block it joins: the cell sharing the
    longest edge with it (or, for a block joined to an empty block, that block's cell). A road
    between two held blocks thus stays a cell edge, and an empty block is never split."""
    tree = STRtree(cells)
    taker = np.full(len(blk), -1, dtype=np.int64)
    for e in order.tolist():
        r = int(via[e])
        if taker[r] >= 0:
            taker[e] = taker[r]
            continue
        units = by_block[r]
        if len(units) == 1:
            taker[e] = units[0]
            continue
        cand = tree.query(blk[e], predicate="intersects")
        cand = cand[np.isin(cand, units)]
        if cand.size == 0:  # an islet joined by distance
            cand = units[
                np.atleast_1d(STRtree(cells[units]).query_nearest(blk[e], all_matches=False))
            ]
        # contact with a 5 cm tolerance: a cell's vertex on the shared road can sit 1e-10 m
        # off it, and an exact intersection would then be a mere point
        ring = shapely.buffer(shapely.boundary(blk[e]), 0.05, quad_segs=1)
        contact = shapely.length(shapely.intersection(shapely.boundary(cells[cand]), ring))
        taker[e] = int(cand[int(np.argmax(contact))])
    out = cells.copy()
    for c, members in _groups(taker[order]).items():
        # the joined blocks share their edges exactly, so their own union is clean; the union
        # with the cell is done pairwise, in floating point first and, where that leaves two
        # polygons (a hairline along the road: the clipped cell's vertices sit 1e-14 m off
        # it), again on a micron grid. (A many-input union_all with a grid can still return
        # two parts here: GEOS unions the inputs in an order that keeps the hairline.)
        land = shapely.union_all(blk[order[members]])
        joined = shapely.union(cells[c], land)
        if shapely.get_type_id(joined) != 3:
            joined = shapely.union(cells[c], land, grid_size=_SEAM_M)
        out[c] = joined
    return out


def _own_cells(geoms: np.ndarray, rep: np.ndarray, region: Any) -> np.ndarray:
    """Polygon units that tile their region as its cells, made exact: overlaps go to the
    lower-numbered unit, parts outside the region are cut off, slivers of the region no unit
    covers go to the cell sharing the longest edge with them."""
    cells = shapely.make_valid(geoms)
    tree = STRtree(cells)
    a, b = tree.query(cells, predicate="overlaps")
    keep = a < b
    a, b = a[keep], b[keep]
    for j in np.unique(b).tolist():
        cells[j] = shapely.difference(cells[j], shapely.union_all(cells[a[b == j]]))
    shapely.prepare(region)
    out = np.flatnonzero(~shapely.covered_by(cells, region))
    if out.size:
        cells[out] = shapely.intersection(cells[out], region)
    gap = shapely.get_parts(shapely.difference(region, shapely.union_all(cells)))
    gap = gap[(shapely.get_type_id(gap) == 3) & (shapely.area(gap) > 1e-6)]
    if gap.size:
        cells = absorb_empty(cells, list(gap))
    return mend_parts(_polygonal(cells), anchors=rep)


def _polygonal(cells: np.ndarray) -> np.ndarray:
    """Cells as Polygons where they are one piece: a clip can leave a stray line or point
    (a GeometryCollection), a union a one-part MultiPolygon or two parts a hairline apart."""
    cells = cells.copy()
    for i in np.flatnonzero(shapely.get_type_id(cells) != 3).tolist():
        parts = shapely.get_parts(cells[i])
        parts = parts[(shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)]
        if len(parts) == 1:
            cells[i] = parts[0]
        elif len(parts) > 1:
            cells[i] = shapely.MultiPolygon(list(parts))
            # pieces a hairline apart (a float union along a slanted edge) are one piece
            seam = shapely.union(parts[0], shapely.MultiPolygon(list(parts[1:])), grid_size=_SEAM_M)
            if shapely.get_type_id(seam) == 3:
                cells[i] = seam
    return cells


def _disjoint(polys: list) -> np.ndarray:
    """Regions made disjoint: where two overlap (subzones drawn a few cm over each other),
    the overlap stays with the one earlier in the list, so their cells cannot overlap."""
    g = np.array(polys, dtype=object)
    if len(g) < 2:
        return g
    a, b = STRtree(g).query(g, predicate="overlaps")
    keep = a < b
    a, b = a[keep], b[keep]
    if a.size:
        log.info("%d pairs of regions overlap; each overlap stays with one of them", a.size)
    for j in np.unique(b).tolist():
        g[j] = shapely.difference(g[j], shapely.union_all(g[a[b == j]]))
    return g


def _tiles(geoms: np.ndarray, region: Any) -> bool:
    """Polygons covering 90-102 % of the region's area (census areas, blocks)."""
    if geoms.size == 0 or not np.isin(shapely.get_type_id(geoms), _POLY).all():
        return False
    r = float(shapely.area(region))
    return r > 0 and 0.9 * r <= float(shapely.area(geoms).sum()) <= 1.02 * r


def street_tessellate(
    geoms: np.ndarray,
    region_of: np.ndarray,
    regions: Mapping[Any, Any],
    *,
    roads: Any = None,
    barriers: Any = None,
    compounds: Any = None,
    boundaries: Any = None,
    erase: Any = None,
    empty_blocks: Literal["whole", "share"] = "whole",
    hard: Any = None,
) -> Tessellation:
    """One cell per unit, inside its block, tiling each region exactly.

    A drop-in for :func:`gridplan.tessellation.tessellate`: same arguments and return type,
    plus the line layers that cut blocks.

    Parameters
    ----------
    geoms
        Unit geometries (points or polygons), object array, working CRS.
    region_of
        Region key per unit (community id; a single key when the study area is one region).
    regions
        Mapping region key -> polygon (see :func:`study_area`). Regions should not overlap.
    roads, barriers
        Line layers. Both cut blocks; the partition still decides which it may join across.
    compounds
        Compound (小区) polygons: their outlines (walls) cut blocks.
    boundaries
        Further outlines that cut (community or street polygons inside a larger region).
    erase
        Polygons removed from every region first (dedicated areas).
    empty_blocks
        How a block without units joins its neighbour (see Notes): ``"whole"``, given whole to
        one cell; ``"share"``, merged into the neighbouring block before the Voronoi step,
        so its land is shared among that block's units.
    hard
        The lines that separate (the barriers that count): ``face`` numbers the areas they
        cut the regions into. ``None``: ``face`` is the block.

    Returns
    -------
    Tessellation
        ``cells``: one Polygon per unit; the cells of a region tile it (after ``erase``).
        ``block``: the block per unit, numbered across regions; units in different blocks have
        a road, barrier, wall or boundary between them. ``face``: the area of the ``hard``
        lines per unit (each block lies in one), numbered across regions.

    Notes
    -----
    - Polygon units that cover 90-102 % of their region (census areas) are their own cells,
      with no Voronoi step; overlaps go to the lower-numbered unit and uncovered slivers to the
      neighbour sharing the longest edge.
    - Otherwise each unit gets the Voronoi cell of its point, or of points sampled along its
      outline (a footprint), clipped to its block. A unit on a line goes to the nearest block.
    - A block with no units joins the neighbouring block it shares the longest edge with
      (chains of empty blocks resolve outward from the blocks with units). By default it goes
      whole to the cell of that block sharing the longest edge with it, so it lies in one
      grid and the roads round it stay cell edges; joining across the longest edge (not the
      shortest) is what keeps a median strip or a river bank from hanging off a grid by its
      end as a ribbon. An empty block that touches no block with units (an islet) joins the
      nearest one, and that cell has two parts.
    - A cell that a non-convex block cuts into pieces keeps the piece nearest its unit; the
      other pieces go to the cell they share the longest edge with.
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    region_of = np.asarray(region_of, dtype=object)
    cells = np.empty(n, dtype=object)
    face = np.full(n, -1, dtype=np.int64)
    block = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return Tessellation(cells=cells, face=face, block=block)
    if empty_blocks not in ("whole", "share"):
        raise ValueError(f"`empty_blocks` must be 'whole' or 'share', got {empty_blocks!r}")
    missing = sorted({str(k) for k in pd.unique(region_of) if k not in regions})
    if missing:
        raise ValueError(f"units name regions that `regions` does not hold: {missing[:10]}")
    lines = as_lines(roads, barriers, compounds, boundaries)
    line_tree = STRtree(lines) if lines.size else None
    sep = as_lines(hard) if hard is not None else None
    sep_tree = STRtree(sep) if sep is not None and sep.size else None
    er = _geom_array(erase)
    er_tree = STRtree(er) if er.size else None
    rep = shapely.point_on_surface(geoms)
    groups = pd.Series(np.arange(n)).groupby(pd.Series(region_of, dtype=object), sort=False)
    items = sorted(groups.indices.items(), key=lambda kv: str(kv[0]))
    ground = _disjoint([regions[k] for k, _ in items])
    next_face = 0
    next_block = 0
    for (_, members), region in zip(items, ground, strict=True):
        if er_tree is not None:
            hits = np.sort(er_tree.query(region, predicate="intersects"))
            if hits.size:
                region = shapely.difference(region, shapely.union_all(er[hits]))
        here = lines[np.sort(line_tree.query(region))] if line_tree is not None else lines
        blk = _cut(region, here)
        if _tiles(geoms[members], region) and er_tree is None:
            cells[members] = _own_cells(geoms[members], rep[members], region)
            which = _which_block(blk, rep[members])
        else:
            cells[members], which = _enclosed(blk, geoms[members], rep[members], empty=empty_blocks)
        cells[members] = _polygonal(cells[members])
        block[members] = next_block + which
        next_block += len(blk)
        if sep is None:
            face[members] = block[members]
            continue
        # each block lies in one area of the separating lines (they cut the blocks too)
        hf = _cut(region, sep[np.sort(sep_tree.query(region))] if sep_tree is not None else sep)
        face_of_block = _which_block(hf, shapely.point_on_surface(blk))
        face[members] = next_face + face_of_block[which]
        next_face += len(hf)
    if sep is None:
        face = block.copy()
    return Tessellation(cells=cells, face=face, block=block)


def edge_on_lines(
    cells: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    lines: Any,
    *,
    tolerance_m: float = 1.0,
) -> np.ndarray:
    """Length (m) of the edge cells ``i[k]`` and ``j[k]`` share that lies on a line.

    ``lines`` are the roads, barriers, compound outlines and boundaries; a piece of the shared
    edge counts when it is within ``tolerance_m`` of one. The partition can use this to prefer
    grid boundaries on roads.

    Examples
    --------
    >>> from shapely.geometry import LineString, box
    >>> cells = np.array([box(0, 0, 100, 100), box(100, 0, 200, 100), box(0, 100, 100, 200)])
    >>> road = LineString([(100, -10), (100, 210)])
    >>> edge_on_lines(cells, np.array([0, 0]), np.array([1, 2]), [road]).round(1).tolist()
    [100.0, 1.0]
    """
    cells = np.asarray(cells, dtype=object)
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    if i.size == 0:
        return np.zeros(0)
    shared = shapely.intersection(cells[i], cells[j], grid_size=1e-3)
    _, near = length_near_lines(shared, as_lines(lines), tolerance_m=tolerance_m)
    return near
