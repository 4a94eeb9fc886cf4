"""Micro-grids (微网格): each residential grid split into contiguous parts of 30-50 households.

A building above the micro-grid ceiling is split first: by stairwell (单元) where the units
carry a ``stairwells`` column, otherwise into the fewest slices that keep each slice within the
band (strips across the long axis, see ``slice_polygon``; households shared as evenly as integers
allow). Slices are cut from the building's cell, so every micro-grid polygon lies inside its
grid. Adjacency is computed once for all slices; each grid is then split by the same engine as
the grids. A grid whose slices admit no in-band split is retried with finer slices.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..addresses import PartAddresses, part_addresses, slice_households
from ..config import MicroGridRules, band_admits
from ..diagnostics import Diagnostic, frame, resolve_grids
from ..graph import build_graph, from_edges
from ..tessellation import dissolve, mend_parts, slice_apart
from .core import split_piece
from .grids import polsby_popper, stable_seed

__all__ = ["MicroPartition", "partition_microgrids", "slice_count"]


@dataclass(frozen=True)
class MicroPartition:
    """Result of :func:`partition_microgrids`.

    Attributes
    ----------
    microgrids
        ``microgrid_id``, ``grid_id``, ``community_id``, ``households``, ``population``,
        ``n_units``, ``in_band``, ``compactness``, geometry (working CRS).
    slices
        One row per building slice: ``unit_id``, ``part``, ``slice``, ``households``,
        ``population``, ``grid_id``, ``community_id``, ``microgrid_id``.
    records
        :class:`~gridplan.diagnostics.Diagnostic` records, ``grid_id`` naming the grid.
    """

    microgrids: gpd.GeoDataFrame
    slices: pd.DataFrame
    records: tuple[Diagnostic, ...]

    @property
    def diagnostics(self) -> pd.DataFrame:
        """The records as a table; grids are named by ``grid_id`` (no codes at this stage)."""
        return frame(resolve_grids(self.records, {d.grid_id: str(d.grid_id) for d in self.records}))


def slice_count(households: int, *, lo: int, hi: int, stairwells: float | None = None) -> int:
    """How many slices a building of ``households`` is cut into for micro-grids.

    Stairwells are used when given and each then holds at most ``hi``; otherwise the fewest
    slices that are each within the band, or ``ceil(households / hi)`` when no count fits.

    Examples
    --------
    >>> slice_count(100, lo=30, hi=50)
    2
    >>> slice_count(40, lo=30, hi=50)
    1
    >>> slice_count(120, lo=30, hi=50, stairwells=4)
    4
    """
    if households <= hi:
        return 1
    if stairwells is not None and not math.isnan(stairwells) and stairwells >= 1:
        s = int(stairwells)
        if households / s <= hi:
            return s
    k_min, k_max = band_admits(households, lo, hi)
    return k_min if k_min <= k_max else math.ceil(households / hi)


def partition_microgrids(
    parts: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    units: pd.DataFrame,
    *,
    rules: MicroGridRules,
    seed: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
) -> MicroPartition:
    """Split every residential grid into micro-grids.

    Parameters
    ----------
    parts
        :attr:`GridPartition.parts` (cells in the working CRS, with ``grid_id``).
    grids
        :attr:`GridPartition.grids`; only ``kind == "residential"`` grids are split.
    units
        Normalised units (for ``stairwells``), indexed by unit_id.
    rules
        The micro-grid band and search knobs (``rules.search.fine_divisors``: the retry
        ladder for grids whose building slices admit no in-band split, slices of about
        ``lo / d`` households for each ``d``; ``rules.search.exact_first_units``).
    seed
        Same inputs and seed give the same micro-grids.
    progress
        Called as ``progress(done, total, message)`` after each grid.
    """
    lo, hi = rules.min_households, rules.max_households
    residential = set(grids.loc[grids["kind"] == "residential", "grid_id"])
    p = parts[parts["grid_id"].isin(residential)].reset_index(drop=True)
    stair = units["stairwells"].reindex(p["unit_id"]).to_numpy(dtype=float)
    n_parts_of_unit = p.groupby("unit_id")["part"].transform("count").to_numpy()
    # roster addresses (gridplan.addresses): buildings cut by stairwell and floor range
    addr = part_addresses(units, p)
    sl, rows_geom = _slice_parts(p, stair, n_parts_of_unit, lo=lo, hi=hi, rules=rules, addr=addr)
    diags: list[Diagnostic] = []
    geoms = np.asarray(rows_geom, dtype=object)
    xy = _xy(geoms)
    grid_arr = sl["grid_id"].to_numpy()
    # slices touching along 5 cm are neighbours; never across grids
    _, grid_no = np.unique(grid_arr, return_inverse=True)
    edges = build_graph(
        geoms, xy, weight=sl["households"].to_numpy(), region=grid_no, min_shared_m=0.05
    ).edges()
    e_i, e_j = edges.i, edges.j
    micro_of = np.full(len(sl), -1, dtype=np.int64)
    micro_grid: list[str] = []
    order = np.argsort(grid_arr, kind="stable")
    g_sorted = grid_arr[order]
    e_grid = grid_arr[e_i]
    e_order = np.argsort(e_grid, kind="stable")
    e_sorted = e_grid[e_order]
    area = shapely.area(geoms)
    area = np.where(np.isnan(area), 0.0, area)
    fine_grids: dict[str, tuple] = {}
    # a grid is named by its community and smallest unit id for seeding, never by its
    # global number (which depends on everything else in the run)
    by_grid = sl.groupby("grid_id")
    grid_key = {
        gid: f"{c}:{u}"
        for gid, c, u in zip(
            by_grid.size().index,
            by_grid["community_id"].first(),
            by_grid["unit_id"].min(),
            strict=True,
        )
    }
    n_todo = len(residential)
    hh_all = sl["households"].to_numpy()
    # 1. every grid on its coarse slices
    coarse_of: dict[str, tuple] = {}
    state: dict[str, list] = {}  # gid -> [labels, ok, proven]
    for done, gid in enumerate(sorted(residential), start=1):
        if progress is not None and (done % 50 == 0 or done == n_todo):
            progress(done, n_todo, f"grid {gid}")
        a, b = np.searchsorted(g_sorted, gid), np.searchsorted(g_sorted, gid, side="right")
        members = order[a:b]
        if members.size == 0:
            continue
        ea, eb = np.searchsorted(e_sorted, gid), np.searchsorted(e_sorted, gid, side="right")
        ei, ej = e_i[e_order[ea:eb]], e_j[e_order[ea:eb]]
        coarse = (hh_all[members], xy[members], np.maximum(area[members], 1.0), members, ei, ej)
        coarse_of[gid] = coarse
        # the polished least-violating plan is only wanted if no finer slicing succeeds
        labels, ok, proven = _solve_grid(
            *coarse,
            lo=lo,
            hi=hi,
            rules=rules,
            seed=stable_seed(seed, "micro", grid_key[gid]),
            least_violating=not rules.split_buildings,
            # split buildings: a grid out of band is sliced finer or planned again in step 3
            plan_if_out=not rules.split_buildings,
        )
        state[gid] = [labels, ok, proven]
    # 2. grids whose slices admit no in-band split: finer slices (about lo / d households
    # each) so slices can recombine; slices of ~15 (d = 2) only combine in runs of 3 (42-45
    # households, never 56), ~10 (d = 3) in runs of 3, 4 and 5. Every grid of a rung is
    # sliced and linked in one call (slices and edges are each a grid's own, as one by one).
    pending = (
        sorted(g for g, (_, ok, _) in state.items() if not ok) if rules.split_buildings else []
    )
    p_grid = p["grid_id"].to_numpy()
    for div in rules.search.fine_divisors:
        if not pending:
            break
        f_rows = np.flatnonzero(np.isin(p_grid, pending))
        f_all, f_geom_list = _slice_parts(
            p.iloc[f_rows],
            stair[f_rows],
            n_parts_of_unit[f_rows],
            lo=lo,
            hi=hi,
            rules=rules,
            per_slice=lo / div,
            addr=addr.take(f_rows) if addr is not None else None,
        )
        f_geoms_all = np.asarray(f_geom_list, dtype=object)
        f_xy_all = _xy(f_geoms_all)
        f_grid = f_all["grid_id"].to_numpy()
        _, f_grid_no = np.unique(f_grid, return_inverse=True)
        f_e = build_graph(
            f_geoms_all,
            f_xy_all,
            weight=f_all["households"].to_numpy(),
            region=f_grid_no,
            min_shared_m=0.05,
        ).edges()
        f_order = np.argsort(f_grid, kind="stable")
        f_sorted = f_grid[f_order]
        fe_grid = f_grid[f_e.i]
        fe_order = np.argsort(fe_grid, kind="stable")
        fe_sorted = fe_grid[fe_order]
        loc = np.zeros(len(f_all), dtype=np.int64)
        still = []
        for gid in pending:
            a, b = np.searchsorted(f_sorted, gid), np.searchsorted(f_sorted, gid, side="right")
            mine = np.sort(f_order[a:b])
            loc[mine] = np.arange(mine.size)
            ea, eb = np.searchsorted(fe_sorted, gid), np.searchsorted(fe_sorted, gid, side="right")
            sel = np.sort(fe_order[ea:eb])  # the grid's edges in CSR order
            f_sl = f_all.iloc[mine].reset_index(drop=True)
            f_geoms = f_geoms_all[mine]
            f_lab, f_ok, f_proven = _solve_grid(
                f_sl["households"].to_numpy(),
                f_xy_all[mine],
                np.maximum(shapely.area(f_geoms), 1.0),
                np.arange(mine.size),
                loc[f_e.i[sel]],
                loc[f_e.j[sel]],
                lo=lo,
                hi=hi,
                rules=rules,
                seed=stable_seed(
                    seed, "micro-fine" if div == 2 else f"micro-fine{div}", grid_key[gid]
                ),
                plan_if_out=False,  # a miss keeps its coarse plan
            )
            if f_ok:
                fine_grids[gid] = (f_sl, f_geoms, f_lab)
            else:
                state[gid][2] = state[gid][2] and f_proven
                still.append(gid)
        pending = still
    # 3. grids no slicing splits in band: the polished least-violating plan
    for gid in pending:
        labels, ok, proven_coarse = _solve_grid(
            *coarse_of[gid],
            lo=lo,
            hi=hi,
            rules=rules,
            seed=stable_seed(seed, "micro", grid_key[gid]),
            least_violating=True,
        )
        state[gid] = [labels, ok, state[gid][2] and proven_coarse]
    # 4. micro-grids numbered grid by grid (those of fine slices after the rest)
    for gid in sorted(state):
        if gid in fine_grids:
            continue
        labels, ok, proven = state[gid]
        members = coarse_of[gid][3]
        hh_m = coarse_of[gid][0]
        base = len(micro_grid)
        micro_of[members] = base + labels
        k = int(labels.max()) + 1
        micro_grid.extend([gid] * k)
        if not ok:
            sums = np.bincount(labels, weights=hh_m, minlength=k)
            total = int(hh_m.sum())
            k_min, k_max = band_admits(total, lo, hi)
            if k_min > k_max:
                why = "no_count"
            elif proven:
                why = "proven"
            else:
                why = "search"
            diags.append(
                Diagnostic(
                    level="microgrid",
                    code="microgrid_out_of_band",
                    community_id=str(sl["community_id"].iat[members[0]]),
                    grid_id=gid,
                    unit_ids=tuple(sorted(set(sl["unit_id"].to_numpy()[members]))),
                    households=total,
                    params={
                        "sizes": ", ".join(str(int(v)) for v in sorted(sums)),
                        "total": total,
                        "lo": int(lo),
                        "hi": int(hi),
                        "why": why,
                        "band": "microgrid",
                    },
                    fix="give_stairwells",
                )
            )
    # grids solved with fine slices replace their coarse slice rows
    if fine_grids:
        keep = ~np.isin(grid_arr, list(fine_grids))
        sl = sl[keep].reset_index(drop=True)
        geoms = geoms[keep]
        micro_of = micro_of[keep]
        extra_sl, extra_geoms, extra_micro = [sl], [geoms], [micro_of]
        for gid, (f_sl, f_geoms, f_lab) in sorted(fine_grids.items()):
            base = len(micro_grid)
            k = int(f_lab.max()) + 1
            micro_grid.extend([gid] * k)
            extra_sl.append(f_sl)
            extra_geoms.append(f_geoms)
            extra_micro.append(base + f_lab)
        sl = pd.concat(extra_sl, ignore_index=True)
        geoms = np.concatenate(extra_geoms)
        micro_of = np.concatenate(extra_micro)
    sl["micro"] = micro_of
    n_m = len(micro_grid)
    m_geom = _dissolve_groups(geoms, micro_of, n_m)
    m_hh = np.bincount(micro_of, weights=sl["households"], minlength=n_m).astype(np.int64)
    m_pop = sl.groupby("micro")["population"].sum(min_count=1).reindex(range(n_m)).to_numpy()
    m_units = sl.groupby("micro")["unit_id"].nunique().reindex(range(n_m)).fillna(0)
    comm_of_grid = dict(zip(grids["grid_id"], grids["community_id"], strict=False))
    micro = gpd.GeoDataFrame(
        {
            "microgrid_id": [f"M{m + 1:06d}" for m in range(n_m)],
            "grid_id": micro_grid,
            "community_id": [comm_of_grid.get(g) for g in micro_grid],
            "households": m_hh,
            "population": m_pop,
            "n_units": m_units.to_numpy().astype(np.int64),
            "in_band": (m_hh >= lo) & (m_hh <= hi),
        },
        geometry=m_geom,
        crs=parts.crs,
    )
    micro["compactness"] = polsby_popper(micro.geometry.to_numpy())
    if addr is not None:
        micro["addresses"], micro["address_keys"] = addr.labels(
            sl["unit_id"].to_numpy(), sl["address_span"].tolist(), micro_of, n_m
        )
    sl["microgrid_id"] = micro["microgrid_id"].to_numpy()[micro_of]
    sl = sl.drop(columns=["micro"])
    return MicroPartition(microgrids=micro, slices=sl, records=tuple(diags))


def _xy(geoms: np.ndarray) -> np.ndarray:
    ok = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    xy = np.zeros((len(geoms), 2))
    if ok.any():
        xy[ok] = shapely.get_coordinates(shapely.point_on_surface(geoms[ok]))
    return xy


def _slice_parts(
    p: pd.DataFrame,
    stair: np.ndarray,
    n_parts_of_unit: np.ndarray,
    *,
    lo: int,
    hi: int,
    rules: MicroGridRules,
    per_slice: float | None = None,
    addr: PartAddresses | None = None,
) -> tuple[pd.DataFrame, list]:
    """Slice rows of ``parts`` for micro-grids; ``per_slice`` cuts slices of about that many
    households instead of the fewest in-band slices; ``addr`` cuts buildings with roster
    addresses by stairwell and floor range instead."""
    hh = p["households"].to_numpy(dtype=np.int64)
    pop = p["population"].to_numpy(dtype=float)
    cells = p.geometry.to_numpy()
    # plain arrays: row-wise pandas indexing here cost more than the slicing itself
    unit_id = p["unit_id"].to_numpy()
    part = p["part"].to_numpy()
    grid_id = p["grid_id"].to_numpy()
    community_id = p["community_id"].to_numpy()
    counts = np.ones(len(p), dtype=np.int64)
    if not rules.split_buildings:
        pass
    elif per_slice is not None:
        counts = np.maximum(1, np.ceil(hh / max(per_slice, 1.0))).astype(np.int64)
    else:
        over = np.flatnonzero(hh > hi)  # a building within the ceiling is one slice
        for i in over.tolist():
            st = stair[i] / n_parts_of_unit[i] if not math.isnan(stair[i]) else None
            counts[i] = slice_count(int(hh[i]), lo=lo, hi=hi, stairwells=st)
    spans = None
    if addr is not None:
        spans = addr.spans(hh, lo=lo, hi=hi, per_slice=per_slice, split=rules.split_buildings)
        counts = np.array([c if s is None else len(s) for s, c in zip(spans, counts, strict=True)])
    out_geoms = _strips(cells, counts)
    rows = np.repeat(np.arange(len(p)), counts)
    first = np.cumsum(counts) - counts
    slice_no = np.arange(len(rows)) - first[rows]
    # households shared as evenly as integers allow, the first slices one more
    shares = hh[rows] // counts[rows] + (slice_no < hh[rows] % counts[rows])
    span_of: list[tuple[int, int] | None] = []
    if spans is not None:
        shares, span_of = slice_households(spans, rows, slice_no, shares)
    cols = {
        "unit_id": unit_id[rows],
        "part": part[rows].astype(np.int64),
        "slice": slice_no.astype(np.int64),
        "households": shares.astype(np.int64),
        "population": pop[rows] / counts[rows],
        "grid_id": grid_id[rows],
        "community_id": community_id[rows],
    }
    df = pd.DataFrame(cols)
    df["households"] = df["households"].astype(np.int64)
    if spans is not None:
        df["address_span"] = pd.Series(span_of, dtype=object)
    return df, out_geoms


def _strips(cells: np.ndarray, counts: np.ndarray) -> list:
    """Every cell cut into ``counts`` strips across its long axis, as
    :func:`gridplan.tessellation.slice_polygon` cuts one, in a few array calls for all cells:
    one rotated rectangle per cell, the strip rectangles from the projected vertices, one
    intersection over every (cell, strip) pair. Cells of one slice are kept as they are; only
    a cell whose strips fall apart (a non-convex footprint) goes through ``mend_parts``."""
    out = np.empty(int(counts.sum()), dtype=object)
    rows = np.repeat(np.arange(len(cells)), counts)
    out[:] = cells[rows]
    cut = np.flatnonzero(counts > 1)
    if cut.size == 0:
        return list(out)
    polys = cells[cut]
    present = ~(shapely.is_missing(polys) | shapely.is_empty(polys))
    cut, polys = cut[present], polys[present]
    if cut.size == 0:
        return list(out)
    rc, ri = shapely.get_coordinates(shapely.minimum_rotated_rectangle(polys), return_index=True)
    r_start = np.searchsorted(ri, np.arange(len(polys)))
    r_n = np.bincount(ri, minlength=len(polys))
    corner = [rc[r_start + np.minimum(j, np.maximum(r_n - 1, 0))] for j in range(3)]
    e1 = corner[1] - corner[0]
    e2 = corner[2] - corner[1]
    long1 = np.hypot(e1[:, 0], e1[:, 1]) >= np.hypot(e2[:, 0], e2[:, 1])
    axis = np.where(long1[:, None], e1, e2)
    length = np.hypot(axis[:, 0], axis[:, 1])
    flat = (length == 0) | (r_n < 3)  # a degenerate footprint: every slice is the whole cell
    u = axis / np.where(flat, 1.0, length)[:, None]
    normal = np.stack([-u[:, 1], u[:, 0]], axis=1)
    xy, owner = shapely.get_coordinates(polys, return_index=True)
    starts = np.searchsorted(owner, np.arange(len(polys) + 1))
    ext = np.zeros((len(polys), 4))
    # one small product per cell: a matrix-vector product rounds as slice_polygon's does
    # (fused multiply-add), an elementwise one would not
    for c in range(len(polys)):
        pts = xy[starts[c] : starts[c + 1]]
        t, sv = pts @ u[c], pts @ normal[c]
        ext[c] = (t.min(), t.max(), sv.min(), sv.max())
    t0, t1, s0, s1 = ext.T
    n = counts[cut]
    k = np.repeat(np.arange(len(polys)), n)
    i = np.arange(len(k)) - (np.cumsum(n) - n)[k]
    nk = n[k]
    a = t0[k] + (t1[k] - t0[k]) * i / nk - np.where(i == 0, 1.0, 0.0)
    b = t0[k] + (t1[k] - t0[k]) * (i + 1) / nk + np.where(i == nk - 1, 1.0, 0.0)
    # the same arithmetic as slice_polygon, so the strips are the same to the last bit
    lo_s = s0[k] + (s1[k] - s0[k]) * 0 / nk - 1.0
    hi_s = s0[k] + (s1[k] - s0[k]) * nk / nk + 1.0
    uk, nn = u[k], normal[k]
    corners = np.stack(
        [
            a[:, None] * uk + lo_s[:, None] * nn,
            b[:, None] * uk + lo_s[:, None] * nn,
            b[:, None] * uk + hi_s[:, None] * nn,
            a[:, None] * uk + hi_s[:, None] * nn,
        ],
        axis=1,
    )
    pieces = shapely.intersection(polys[k], shapely.polygons(corners))
    pieces = np.where(flat[k], polys[k], pieces)
    bounds = np.r_[0, np.cumsum(n)]
    broken = np.unique(k[shapely.get_num_geometries(pieces) > 1])
    for c in broken.tolist():
        pieces[bounds[c] : bounds[c + 1]] = mend_parts(pieces[bounds[c] : bounds[c + 1]])
    # a strip between the pieces of a cell in several parts holds no ground
    for c in np.unique(k[shapely.area(pieces) <= 0]).tolist():
        pieces[bounds[c] : bounds[c + 1]] = slice_apart(polys[c], int(n[c]))
    first = (np.cumsum(counts) - counts)[cut]
    slots = np.repeat(first, n) + i
    out[slots] = pieces
    return list(out)


def _dissolve_groups(geoms: np.ndarray, micro_of: np.ndarray, n_m: int) -> np.ndarray:
    """One polygon per micro-grid: :func:`gridplan.tessellation.dissolve` of its slices. A
    micro-grid of one slice (most of them) is that slice on the same 1 cm precision grid, in
    one array call; only micro-grids of several slices, or a single slice with holes or
    parts, are dissolved one by one."""
    m_order = np.argsort(micro_of, kind="stable")
    bounds = np.searchsorted(micro_of[m_order], np.arange(n_m + 1))
    size = np.diff(bounds)
    m_geom = np.empty(n_m, dtype=object)
    single = np.flatnonzero(size == 1)
    g1 = geoms[m_order[bounds[single]]]
    usable = ~(shapely.is_missing(g1) | shapely.is_empty(g1))
    snapped = np.empty(len(g1), dtype=object)
    snapped[usable] = shapely.set_precision(g1[usable], 0.01)
    plain = usable.copy()
    plain[usable] = (shapely.get_type_id(snapped[usable]) == 3) & (
        shapely.get_num_interior_rings(snapped[usable]) == 0
    )
    # a plain polygon is what dissolve returns (rebuilt from its exterior)
    m_geom[single[plain]] = shapely.polygons(shapely.get_exterior_ring(snapped[plain]))
    for m in np.r_[single[~plain], np.flatnonzero(size != 1)].tolist():
        m_geom[m] = dissolve(geoms[m_order[bounds[m] : bounds[m + 1]]])
    return m_geom


def _solve_grid(
    hh: np.ndarray,
    xy: np.ndarray,
    mass: np.ndarray,
    members: np.ndarray,
    ei: np.ndarray,
    ej: np.ndarray,
    *,
    lo: int,
    hi: int,
    rules: MicroGridRules,
    seed: np.random.Generator,
    least_violating: bool = True,
    plan_if_out: bool = True,
) -> tuple[np.ndarray, bool, bool]:
    """Labels for one grid's slices (each connected component split on its own).

    With ``plan_if_out=False`` the caller discards the labels of a grid out of band (it
    slices it finer, or plans it again): a last component the exact model proves to have no
    in-band plan is then not planned at all. Only the last: the components share ``seed``,
    so planning an earlier one less would change the draws of those after it.
    """
    from scipy.sparse import csgraph

    n = members.size
    loc = np.full(int(members.max()) + 1 if n else 0, -1)
    loc[members] = np.arange(n)
    li, lj = loc[ei], loc[ej]
    whole = from_edges(n, li, lj, weight=hh, xy=xy, mass=mass)
    n_comp, comp = csgraph.connected_components(whole.adjacency, directed=False)
    labels = np.zeros(n, dtype=np.int64)
    ok, proven, base = True, True, 0
    for c in range(n_comp):
        sub = np.flatnonzero(comp == c)
        # one component is the whole graph (from_edges' CSR is already in subgraph's order)
        g = whole if n_comp == 1 else whole.subgraph(sub)
        res = split_piece(
            g,
            lo=lo,
            hi=hi,
            target=(lo + hi) / 2,
            seed=seed,
            tries=rules.tries,
            refine_passes=rules.refine_passes,
            least_violating=least_violating,
            exact_first_max_units=rules.search.exact_first_units,
            enum_max=rules.search.enum_max,
            plan_if_proven=plan_if_out or c < n_comp - 1,
        )
        labels[sub] = base + res.labels
        base += res.k
        ok = ok and res.in_band
        proven = proven and (res.in_band or res.proven_infeasible)
    return labels, ok, proven and not ok
