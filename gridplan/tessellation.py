"""Space-filling cells per unit, so grids cover the whole community and not just the buildings.

Each region (a community polygon, or the area around its units when no boundary is given) is
cut by the barrier lines into *faces*. Inside a face every unit gets the Voronoi cell of its
point (points) or of points sampled along its outline (footprints: a morphological
tessellation as in momepy). Cells never cross a face edge, so a grid built from cells never
straddles a barrier unless the plan had to join across it. Faces with no units are absorbed
by the neighbouring cell that shares the longest edge with them, so the cells of a region tile
it without gaps or overlaps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely import STRtree

__all__ = [
    "Tessellation",
    "absorb_empty",
    "dissolve",
    "mend_parts",
    "region_hulls",
    "slice_apart",
    "slice_layout",
    "slice_polygon",
    "tessellate",
    "units_tile",
    "voronoi_in_face",
]


@dataclass(frozen=True)
class Tessellation:
    """Cells aligned with the input units.

    Attributes
    ----------
    cells
        One polygon per unit (object array of shapely geometries), in the working CRS.
    face
        Global face number per unit: units in different faces are separated by a barrier.
    block
        Global block number per unit (:func:`gridplan.cells.street_tessellate`): units in
        different blocks have a road, barrier, wall or boundary between them. None when the
        cells were not cut by the street network.
    """

    cells: np.ndarray
    face: np.ndarray
    block: np.ndarray | None = None


def region_hulls(geoms: np.ndarray, groups: np.ndarray, *, buffer_m: float | None = None) -> dict:
    """The area around each group's units when no boundary polygon is given.

    The union of the units buffered by ``buffer_m`` (default: 1.5 x the median distance to
    the nearest other unit, at least 60 m), closed by a matching negative buffer.
    """
    pts = shapely.point_on_surface(geoms)
    if buffer_m is None:
        xy = shapely.get_coordinates(pts)
        if len(xy) > 1:
            from scipy.spatial import cKDTree

            d, _ = cKDTree(xy).query(xy, k=2)
            buffer_m = max(60.0, 1.5 * float(np.median(d[:, 1])))
        else:
            buffer_m = 60.0
    out = {}
    for g in np.unique(groups):
        sel = geoms[groups == g]
        area = shapely.union_all(shapely.buffer(sel, buffer_m, quad_segs=4))
        # close small notches between clusters so the region reads as one neighbourhood
        area = shapely.buffer(shapely.buffer(area, buffer_m, quad_segs=4), -buffer_m, quad_segs=4)
        out[g] = shapely.union_all([area, *shapely.buffer(sel, 1.0)])
    return out


def _faces(region, lines) -> list:
    """Polygons of ``region`` cut by ``lines`` (barrier lines)."""
    if lines is None or len(lines) == 0:
        return list(shapely.get_parts(region))
    cut = shapely.intersection(lines, region)
    cut = cut[~shapely.is_empty(cut)]
    if len(cut) == 0:
        return list(shapely.get_parts(region))
    noded = shapely.union_all([shapely.boundary(region), *cut])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if len(faces) == 0:
        return list(shapely.get_parts(region))
    keep = shapely.contains_properly(region, shapely.point_on_surface(faces))
    faces = faces[keep]
    return list(faces) if len(faces) else list(shapely.get_parts(region))


def _seeds(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seed points and their owner index: points as they are, footprints by outline samples."""
    is_poly = np.isin(shapely.get_type_id(geoms), (3, 6))
    xy_list = []
    owner_list = []
    idx_pt = np.flatnonzero(~is_poly)
    if idx_pt.size:
        xy_list.append(shapely.get_coordinates(shapely.point_on_surface(geoms[idx_pt])))
        owner_list.append(idx_pt)
    idx_poly = np.flatnonzero(is_poly)
    if idx_poly.size:
        polys = geoms[idx_poly]
        # shrink slightly so touching footprints do not produce identical seeds
        shrunk = shapely.buffer(polys, -0.25, quad_segs=2)
        bad = shapely.is_empty(shrunk)
        shrunk = np.where(bad, polys, shrunk)
        rings = shapely.boundary(shrunk)
        seg = np.maximum(shapely.length(rings) / 24.0, 1.0)
        dense = shapely.segmentize(rings, seg)
        coords, which = shapely.get_coordinates(dense, return_index=True)
        xy_list.append(coords)
        owner_list.append(idx_poly[which])
        # a representative point too, so tiny footprints always own a cell
        xy_list.append(shapely.get_coordinates(shapely.point_on_surface(polys)))
        owner_list.append(idx_poly)
    xy = np.vstack(xy_list)
    owner = np.concatenate(owner_list)
    return xy, owner


def _dedupe(xy: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop repeated seeds of one owner; nudge seeds of different owners that coincide."""
    key = np.round(xy, 3)
    _, first = np.unique(np.column_stack([key, owner]), axis=0, return_index=True)
    first = np.sort(first)
    xy, owner = xy[first].copy(), owner[first]
    key = np.round(xy, 3)
    _, inv, cnt = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    dup = cnt[inv] > 1
    if dup.any():
        # deterministic spiral offsets of 0.5 m for stacked units (e.g. two blocks on one point)
        rank = np.zeros(len(xy), dtype=int)
        seen: dict[int, int] = {}
        for i in np.flatnonzero(dup):
            r = seen.get(int(inv[i]), 0)
            rank[i] = r
            seen[int(inv[i])] = r + 1
        ang = rank * 2.399963
        rad = 0.5 * np.sqrt(rank)
        xy[:, 0] += np.where(dup, rad * np.cos(ang), 0.0)
        xy[:, 1] += np.where(dup, rad * np.sin(ang), 0.0)
    return xy, owner


def _voronoi(xy: np.ndarray, face) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voronoi cells of ``xy`` covering ``face``, checked for overlaps, and the cells
    clipped to ``face`` (the clip the check needs anyway, so it is done once).

    GEOS can return overlapping cells for *nearly* cocircular seeds (the densified outline
    of a rectangle); seeds rounded to 1 mm are exactly cocircular, which it handles. If the
    cells still overlap, the seeds are nudged by a deterministic 1 cm jitter and retried.
    """
    area = float(shapely.area(face))
    pts = np.round(xy, 3)
    rng = np.random.default_rng(len(xy))
    for attempt in range(6):
        vor = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=face))
        # GEOS can also return a self-intersecting cell: count that as a failed attempt too
        if shapely.is_valid(vor).all():
            try:
                pieces = shapely.intersection(vor, face)
                covered = float(shapely.area(pieces).sum())
            except shapely.errors.GEOSException:
                covered = np.inf
            if covered <= area * (1 + 1e-7) + 1e-6:
                return vor, pts, pieces
        pts = np.round(xy + rng.uniform(-0.01, 0.01, xy.shape) * (attempt + 1), 3)
    # still degenerate after six nudges: repair the cells rather than fail the plan
    vor = shapely.make_valid(vor)
    return vor, pts, shapely.intersection(vor, face)


def voronoi_in_face(face, geoms: np.ndarray, *, anchors: np.ndarray | None = None) -> np.ndarray:
    """One cell per geometry, tiling ``face``; with ``anchors`` (one point per geometry) a
    cell that falls apart keeps the piece holding its anchor (see :func:`mend_parts`)."""
    n = len(geoms)
    if n == 1:
        return np.array([face], dtype=object)
    xy, owner = _seeds(geoms)
    xy, owner = _dedupe(xy, owner)
    if len(xy) == 1:
        return np.array([face] + [shapely.Polygon()] * (n - 1), dtype=object)
    vor, used, pieces = _voronoi(xy, face)
    # match each cell to the seed it was built from (the rounded/nudged position)
    pts = shapely.points(used)
    tree = STRtree(vor)
    p_idx, v_idx = tree.query(pts, predicate="intersects")
    # a seed lies inside exactly one cell; keep the first hit per seed
    _, first = np.unique(p_idx, return_index=True)
    p_idx, v_idx = p_idx[first], v_idx[first]
    cell_owner = np.full(len(vor), -1)
    cell_owner[v_idx] = owner[p_idx]
    cells = np.empty(n, dtype=object)
    order = np.argsort(cell_owner, kind="stable")
    srt = cell_owner[order]
    starts = np.searchsorted(srt, np.arange(n))
    ends = np.searchsorted(srt, np.arange(n), side="right")
    for u in range(n):
        sel = pieces[order[starts[u] : ends[u]]]
        if len(sel) == 0:
            cells[u] = shapely.Polygon()
        elif len(sel) == 1:
            cells[u] = sel[0]
        else:
            cells[u] = shapely.union_all(sel)
    return mend_parts(cells, anchors=anchors)


def mend_parts(cells: np.ndarray, *, anchors: np.ndarray | None = None) -> np.ndarray:
    """Make every cell one polygon: stray pieces of a multipart cell (a Voronoi cell clipped
    to a non-convex face, a strip cut across an L-shaped block) go to the cell that shares the
    longest edge with them; the largest piece stays, or with ``anchors`` (one point per cell)
    the piece nearest the cell's anchor, so a unit's cell keeps the ground it stands on.
    Total area is unchanged."""
    cells = np.asarray(cells, dtype=object).copy()
    multi = np.flatnonzero(shapely.get_num_geometries(cells) > 1)
    strays: list[tuple[int, object]] = []
    for i in multi.tolist():
        parts = shapely.get_parts(cells[i])
        parts = parts[shapely.get_type_id(parts) == 3]
        if len(parts) <= 1:
            cells[i] = parts[0] if len(parts) else cells[i]
            continue
        if anchors is not None:
            keep = int(np.argmin(shapely.distance(parts, anchors[i])))
        else:
            keep = int(np.argmax(shapely.area(parts)))
        cells[i] = parts[keep]
        strays.extend((i, p) for j, p in enumerate(parts) if j != keep)
    if strays:
        cells, left = absorb_empty(cells, [p for _, p in strays], return_left=True)
        # a piece that touches no other cell stays with its own cell (nothing is dropped)
        owner = {id(p): i for i, p in strays}
        for p in left:
            own = owner[id(p)]
            cells[own] = shapely.union_all([cells[own], p])
    return cells


def absorb_empty(cells: np.ndarray, empty_faces: list, *, return_left: bool = False):
    """Give every unit-less face to the cell that shares the longest edge with it; faces
    touching no cell are returned as ``left`` when asked."""
    cells = cells.copy()
    pending = list(empty_faces)
    for _ in range(len(pending) + 1):
        if not pending:
            break
        tree = STRtree(cells)
        left = []
        for face in pending:
            cand = tree.query(face, predicate="intersects")
            if len(cand) == 0:
                left.append(face)
                continue
            # contact measured with a 5 cm tolerance: cell vertices on a slanted road are not
            # exactly on the face's edge, and an exact intersection would be a mere point
            shared = shapely.length(
                shapely.intersection(shapely.buffer(cells[cand], 0.05), shapely.boundary(face))
            )
            j = int(cand[int(np.argmax(shared))])
            if shared.max() <= 0:
                left.append(face)
                continue
            cells[j] = shapely.union_all([cells[j], face])
        if len(left) == len(pending):
            pending = left
            break
        pending = left
    if return_left:
        return cells, pending
    return cells


def tessellate(
    geoms: np.ndarray,
    region_of: np.ndarray,
    regions: dict,
    *,
    barriers: np.ndarray | None = None,
    erase: np.ndarray | None = None,
) -> Tessellation:
    """Cells for ``geoms`` (working CRS) inside their regions, cut by barrier lines.

    Parameters
    ----------
    geoms
        Unit geometries (points or polygons), object array.
    region_of
        Region key per unit (e.g. community id).
    regions
        Mapping region key -> polygon.
    barriers
        Barrier lines; faces are cut along them.
    erase
        Polygons removed from every region first (dedicated areas).
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    cells = np.empty(n, dtype=object)
    face_of = np.full(n, -1, dtype=np.int64)
    bar_tree = STRtree(barriers) if barriers is not None and len(barriers) else None
    er_tree = STRtree(erase) if erase is not None and len(erase) else None
    rep = shapely.point_on_surface(geoms)
    next_face = 0
    keys = list(regions.keys())
    for key in sorted(keys, key=str):
        members = np.flatnonzero(region_of == key)
        if members.size == 0:
            continue
        region = regions[key]
        if er_tree is not None and erase is not None:
            # sorted: index order depends on what else is in the tree (another run, another part)
            hits = np.sort(er_tree.query(region, predicate="intersects"))
            if len(hits):
                region = shapely.difference(region, shapely.union_all(erase[hits]))
        lines = None
        if bar_tree is not None and barriers is not None:
            hits = np.sort(bar_tree.query(region, predicate="intersects"))
            lines = barriers[hits] if len(hits) else None
        faces = _faces(region, lines)
        faces_arr = np.array(faces, dtype=object)
        # which face holds each unit; units on a face edge go to the nearest face
        f_tree = STRtree(faces_arr)
        u_idx, f_idx = f_tree.query(rep[members], predicate="within")
        which = np.full(members.size, -1)
        _, first = np.unique(u_idx, return_index=True)
        which[u_idx[first]] = f_idx[first]
        missing = np.flatnonzero(which < 0)
        if missing.size:
            which[missing] = f_tree.query_nearest(rep[members[missing]], all_matches=False)[1]
        region_cells = []
        empty = []
        for fi, face in enumerate(faces):
            in_face = members[which == fi]
            if in_face.size == 0:
                empty.append(face)
                continue
            c = voronoi_in_face(face, geoms[in_face])
            cells[in_face] = c
            face_of[in_face] = next_face + fi
            region_cells.append(in_face)
        next_face += len(faces)
        if empty and region_cells:
            idx = np.concatenate(region_cells)
            cells[idx] = absorb_empty(cells[idx], empty)
    return Tessellation(cells=cells, face=face_of)


def slice_layout(n: int, length: float, width: float) -> list[int]:
    """How many slices go in each row when a ``length`` x ``width`` footprint is cut into
    ``n`` near-square slices: ``r = round(sqrt(n * width / length))`` rows across the short
    side, the slices shared between them as evenly as possible.

    Examples
    --------
    >>> slice_layout(3, 100, 20)  # a slab block: one row of strips (its stairwells)
    [3]
    >>> slice_layout(10, 100, 100)  # a square compound-sized footprint: 3 rows
    [4, 3, 3]
    """
    if n <= 1 or length <= 0:
        return [max(n, 1)]
    rows = int(np.clip(round(math.sqrt(n * width / length)), 1, n))
    return [n // rows + (1 if i < n % rows else 0) for i in range(rows)]


def slice_polygon(poly, n: int, *, compact: bool = False) -> list:
    """Cut ``poly`` into ``n`` slices of about equal area.

    Used to split a building when its households exceed a band. By default the slices are
    strips across the footprint's long axis: in a residential block that is where its
    stairwells (单元) are, which is how micro-grids split a building. With ``compact`` a
    footprint that would give strips longer than wide (a square block cut into many grids)
    gets several rows of near-square slices instead (:func:`slice_layout`), so the grids made
    from them stay compact; a slab still gets strips.
    """
    if n <= 1 or poly is None or shapely.is_empty(poly):
        return [poly] * max(n, 1)
    rect = shapely.minimum_rotated_rectangle(poly)
    coords = shapely.get_coordinates(rect)[:4]
    e1 = coords[1] - coords[0]
    e2 = coords[2] - coords[1]
    axis = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
    length = float(np.hypot(*axis))
    if length == 0:
        return [poly] * n
    u = axis / length
    normal = np.array([-u[1], u[0]])
    xy = shapely.get_coordinates(poly)
    t = xy @ u
    t0, t1 = float(t.min()), float(t.max())
    s = xy @ normal
    s0, s1 = float(s.min()), float(s.max())

    def cut(lo_t: float, hi_t: float, lo_s: float, hi_s: float):
        corners = [lo_t * u + lo_s * normal, hi_t * u + lo_s * normal]
        corners += [hi_t * u + hi_s * normal, lo_t * u + hi_s * normal]
        return shapely.intersection(poly, shapely.Polygon(corners))

    def lay_out(rows: list[int]) -> list:
        out = []
        done = 0
        for r, cols in enumerate(rows):
            # row heights follow their slice counts, so every slice gets the same share
            a_s = s0 + (s1 - s0) * done / n - (1.0 if r == 0 else 0.0)
            done += cols
            b_s = s0 + (s1 - s0) * done / n + (1.0 if r == len(rows) - 1 else 0.0)
            for i in range(cols):
                a = t0 + (t1 - t0) * i / cols - (1.0 if i == 0 else 0.0)
                b = t0 + (t1 - t0) * (i + 1) / cols + (1.0 if i == cols - 1 else 0.0)
                out.append(cut(a, b, a_s, b_s))
        return out

    if compact:
        out = _area_lattice(poly, slice_layout(n, t1 - t0, s1 - s0), u, normal)
    else:
        out = lay_out([n])
    if (shapely.area(np.asarray(out, dtype=object)) <= 0).any():
        # a strip fell between the pieces of a cell in several parts
        return slice_apart(poly, n, compact=compact)
    # a slice across a non-convex footprint can fall apart: hand stray pieces to a neighbour
    return list(mend_parts(np.asarray(out, dtype=object)))


#: sample positions per axis when the compact lattice places its cuts by area
_AREA_SAMPLES = 512


def _area_cuts(poly, axis: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Positions along ``axis`` (a unit vector) where ``poly``'s area below the cut reaches
    each of ``fractions``: the area is sampled in thin bands across the axis and the cuts
    are interpolated in its running total, so a thin tail or a hole moves them instead of
    leaving a slice empty."""
    xy = shapely.get_coordinates(poly)
    t = xy @ axis
    t0, t1 = float(t.min()), float(t.max())
    edges = np.linspace(t0, t1, _AREA_SAMPLES + 1)
    normal = np.array([-axis[1], axis[0]])
    s = xy @ normal
    s0, s1 = float(s.min()) - 1.0, float(s.max()) + 1.0
    a, b = edges[:-1], edges[1:]
    corners = np.stack(
        [
            a[:, None] * axis + s0 * normal,
            b[:, None] * axis + s0 * normal,
            b[:, None] * axis + s1 * normal,
            a[:, None] * axis + s1 * normal,
        ],
        axis=1,
    )
    bands = shapely.polygons(corners)
    cum = np.concatenate([[0.0], np.cumsum(shapely.area(shapely.intersection(poly, bands)))])
    return np.interp(np.asarray(fractions) * cum[-1], cum, edges)


def _area_lattice(poly, rows: list[int], u: np.ndarray, normal: np.ndarray) -> list:
    """Rows of slices of equal area: rows across ``normal`` holding area in proportion to
    their slice counts, each row cut along ``u`` into equal-area slices. Unlike cuts at equal
    distances, a block with a thin tail or a rounded corner still gets equal slices."""
    n = sum(rows)
    xy = shapely.get_coordinates(poly)
    t, s = xy @ u, xy @ normal
    pad = 1.0
    t_lo, t_hi = float(t.min()) - pad, float(t.max()) + pad
    s_lo, s_hi = float(s.min()) - pad, float(s.max()) + pad

    def band(lo_t: float, hi_t: float, lo_s: float, hi_s: float):
        corners = [lo_t * u + lo_s * normal, hi_t * u + lo_s * normal]
        corners += [hi_t * u + hi_s * normal, lo_t * u + hi_s * normal]
        return shapely.intersection(poly, shapely.Polygon(corners))

    counts = np.cumsum([0, *rows])
    s_cut = _area_cuts(poly, normal, counts[1:-1] / n) if len(rows) > 1 else np.zeros(0)
    s_at = np.concatenate([[s_lo], s_cut, [s_hi]])
    out = []
    for r, cols in enumerate(rows):
        row = band(t_lo, t_hi, float(s_at[r]), float(s_at[r + 1]))
        if cols == 1:
            out.append(row)
            continue
        t_cut = _area_cuts(row, u, np.arange(1, cols) / cols)
        t_at = np.concatenate([[t_lo], t_cut, [t_hi]])
        out.extend(
            band(float(t_at[i]), float(t_at[i + 1]), float(s_at[r]), float(s_at[r + 1]))
            for i in range(cols)
        )
    return out


def slice_apart(poly, n: int, *, compact: bool = False) -> list:
    """:func:`slice_polygon` for a cell in several pieces whose strips would leave one empty:
    the largest piece is sliced and every other piece joins the slice nearest it, so each
    slice has ground.

    Examples
    --------
    >>> from shapely.geometry import MultiPolygon, box
    >>> cell = MultiPolygon([box(0, 0, 10, 10), box(30, 0, 31, 1)])
    >>> [round(s.area) for s in slice_apart(cell, 2)]
    [51, 50]
    """
    parts = shapely.get_parts(poly)
    parts = parts[(shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)]
    if len(parts) <= 1:
        return [poly] * n
    main = int(np.argmax(shapely.area(parts)))
    out = np.asarray(slice_polygon(parts[main], n, compact=compact), dtype=object)
    for j, piece in enumerate(parts):
        if j != main:
            near = int(np.argmin(shapely.distance(out, piece)))
            out[near] = shapely.union(out[near], piece)
    return list(out)


def dissolve(cells: np.ndarray, *, grid_size: float = 0.01, min_hole_m2: float = 1.0):
    """Union of cells as one (Multi)Polygon: fixed-precision overlay (``grid_size`` metres)
    so cells clipped from different faces union cleanly, and holes below ``min_hole_m2``
    (noding slivers, not enclosed grids) removed."""
    cells = np.asarray(cells, dtype=object)
    cells = cells[~(shapely.is_empty(cells) | shapely.is_missing(cells))]
    if len(cells) == 0:
        return shapely.Polygon()
    if len(cells) > 1:
        geom = shapely.union_all(cells, grid_size=grid_size)
        if shapely.get_num_geometries(geom) > 1:
            geom = _fewest_parts(cells, geom, grid_size=grid_size)
    else:
        geom = shapely.set_precision(cells[0], grid_size)
    parts = []
    for poly in shapely.get_parts(geom):
        if shapely.get_type_id(poly) != 3:
            continue
        holes = [r for r in poly.interiors if shapely.area(shapely.Polygon(r)) >= min_hole_m2]
        parts.append(shapely.Polygon(poly.exterior, holes))
    if not parts:
        return shapely.Polygon()
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def _fewest_parts(cells: np.ndarray, geom: Any, *, grid_size: float) -> Any:
    """A cascaded union snapped to ``grid_size`` can leave two cells that share metres of
    edge as two polygons touching at a point (their edge vertices, computed by different
    cuts, round to different grid nodes), although a pairwise union joins them. Union at a
    finer grid first and snap the result, or union exactly and snap; keep whichever valid
    result has the fewest parts. Cells that really are apart stay apart."""
    best, best_n = geom, shapely.get_num_geometries(geom)
    for finer in (grid_size / 10, None):
        cand = shapely.set_precision(shapely.union_all(cells, grid_size=finer), grid_size)
        n = shapely.get_num_geometries(cand)
        if n < best_n and shapely.is_valid(cand) and shapely.get_type_id(cand) in (3, 6):
            best, best_n = cand, n
        if best_n == 1:
            break
    return best


def units_tile(geoms: np.ndarray, region_of: np.ndarray, regions: dict) -> bool:
    """True when the units are polygons covering 90-102 % of every region's area (census
    areas, blocks, village polygons): then they are their own cells.

    Building footprints leave gaps between them and fail the cover test; points fail outright.
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0 or not np.isin(shapely.get_type_id(geoms), (3, 6)).all():
        return False
    area = shapely.area(geoms)
    for key, region in regions.items():
        sel = region_of == key
        if not sel.any():
            continue
        r_area = float(shapely.area(region))
        total = float(area[sel].sum())
        if r_area <= 0 or not (0.9 * r_area <= total <= 1.02 * r_area):
            return False
    return True
