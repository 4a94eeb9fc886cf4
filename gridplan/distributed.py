"""Province scale on Dask: plan street by street (or county by county) across workers.

Grids never cross communities and communities never cross streets, so a province splits
cleanly. :func:`plan_distributed` validates the layers once (:func:`gridplan.stages.prepare`),
cuts them into *parts* (one per street, or per county, :func:`split_layers`), runs the cell,
grid and micro-grid stages on every part on a Dask worker (:func:`plan_part`), merges the
parts' stage results into one grid and one micro-grid partition, and then runs the same code,
apportionment and assembly stages one process runs (:func:`gridplan.stages.assign_codes`,
:func:`~gridplan.stages.apportion`, :func:`~gridplan.stages.assemble`): there is no second copy
of the tail of a plan.

Follow one household: it is validated with everyone else, moved into the *whole* input's
working CRS, sent with its street's part to a worker, put in a grid and a micro-grid there
exactly as in one process, and comes back to be numbered, counted and written with the whole
province.

Same answer as one process
--------------------------
* The layers are moved into the working CRS of the whole input before they are cut: the
  working CRS follows the data's centre, so a part alone could land in another UTM zone.
* Streets that share a community, a dedicated area (专属网格) or a lock label are planned as
  one part, so nothing the engine does across them is cut.
* Every part gets its communities, every dedicated area that can touch them (cells are cut
  around them) and every barrier near them; units keep their relative input order, which the
  engine's tie-breaks follow.
* Grid and micro-grid ids are renumbered over the merged parts in the order one process
  numbers them, and diagnostics records are renamed by mapping (part, id) -> id; codes are
  assigned over the whole, so they never depend on which part a grid came from.

Faults
------
A part whose planning raises is retried by Dask (``retries=2``) unless the error is the data's
(:class:`~gridplan.errors.GridplanError`, which a retry cannot fix). A part that still fails is
one ``part_failed`` row in the diagnostics naming its street(s) (their codes in ``params``),
the error and *all* its units; its units stay in ``plan.units`` with no grid code. A worker
lost mid-task is handled by the Dask scheduler, which reruns the task elsewhere; every part's
result is taken exactly once.

Running on a cluster
--------------------
On every machine install gridplan with the ``dask`` extra, then::

    dask scheduler                        # on one machine, listens on tcp://HOST:8786
    dask worker tcp://HOST:8786 --nworkers 4 --nthreads 1     # on each machine

and pass ``scheduler="tcp://HOST:8786"``. Without a scheduler a local cluster of two worker
processes (one thread each) is started and closed again.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Unpack

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from shapely import STRtree

from .config import PlanRules
from .crs import working_crs
from .diagnostics import Diagnostic
from .errors import GridplanError, Problem, ValidationError, describe_rows
from .layers import Layers
from .partition.grids import GridPartition, dedicated_areas, normalize_locks
from .partition.microgrids import MicroPartition
from .previous import PreviousPlan
from .stages import (
    InputOptions,
    Plan,
    Progress,
    apportion,
    assemble,
    assign_codes,
    build_cells,
    drop_unchanged,
    plan_grids,
    plan_microgrids,
    prepare,
)
from .tessellation import units_tile
from .validate import id_str, normalize_ids

__all__ = [
    "MergedParts",
    "PartResult",
    "PlanPart",
    "merge_parts",
    "plan_distributed",
    "plan_part",
    "plan_processes",
    "split_layers",
    "to_work_crs",
]

log = logging.getLogger(__name__)

SplitBy = Literal["street", "county"]


@dataclass(frozen=True)
class PlanPart:
    """One piece of work: the layers of one street (or county, or of streets that must stay
    together), in the whole input's working CRS.

    Attributes
    ----------
    keys
        The street (or county) ids in the part; ``None`` for units without one.
    layers
        Units of the part in input order; its communities and streets; the dedicated areas
        and barriers that can reach its communities.
    locks
        The locks of the part's units.
    previous
        The previous plan of the part's units (:meth:`gridplan.previous.PreviousPlan.for_units`),
        when the plan is a re-plan.
    """

    keys: tuple[str | None, ...]
    layers: Layers
    locks: dict[str, str]
    level: str = "street"
    previous: PreviousPlan | None = None

    @property
    def label(self) -> str:
        """``"street QT"`` / ``"streets QT, QT-2"`` for messages (``"(none)"`` for units
        without a street)."""
        names = ", ".join("(none)" if k is None else str(k) for k in self.keys)
        plural = "streets" if self.level == "street" else "counties"
        return f"{self.level if len(self.keys) == 1 else plural} {names}"


@dataclass(frozen=True)
class PartResult:
    """What a worker sends back: the grid and micro-grid stages' results for one part, in
    the whole input's working CRS, with the part's own grid and micro-grid ids."""

    grids: GridPartition
    microgrids: MicroPartition


@dataclass(frozen=True)
class _PartFailure:
    error: str
    traceback: str


# ---------------------------------------------------------------------------------------------
# splitting
# ---------------------------------------------------------------------------------------------


def _community_keys(units: gpd.GeoDataFrame) -> np.ndarray:
    """Community per unit exactly as the grid engine keys it ("" outside every community)."""
    c = units["community_id"].astype(object).where(units["community_id"].notna(), "")
    return np.array([str(v) for v in c.to_numpy()], dtype=object)


def to_work_crs(layers: Layers, crs: pyproj.CRS) -> Layers:
    """Every layer of ``layers`` in ``crs`` (layers already in it are passed through)."""

    def move(gdf: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
        if gdf is None or gdf.crs is None or pyproj.CRS.from_user_input(gdf.crs) == crs:
            return gdf
        return gdf.to_crs(crs)

    units = move(layers.units)
    assert units is not None
    return Layers(
        units=units,
        compounds=move(layers.compounds),
        dedicated=move(layers.dedicated),
        barriers=move(layers.barriers),
        communities=move(layers.communities),
        streets=move(layers.streets),
        roads=move(layers.roads),
    )


def _link(n: int, groups: Sequence[np.ndarray]) -> np.ndarray:
    """Component label per key when every array in ``groups`` is joined into one part."""
    ii, jj = [np.arange(n)], [np.arange(n)]
    for g in groups:
        g = np.unique(g)
        if g.size > 1:
            ii.append(g[:-1])
            jj.append(g[1:])
    i, j = np.concatenate(ii), np.concatenate(jj)
    m = sparse.coo_array((np.ones(i.size), (i, j)), shape=(n, n)).tocsr()
    return csgraph.connected_components(m, directed=False)[1]


def _dedicated_groups(
    layers: Layers, rules: PlanRules, crs: pyproj.CRS
) -> tuple[gpd.GeoDataFrame | None, list[np.ndarray], np.ndarray, np.ndarray]:
    """The engine's merged dedicated areas, the raw rows of each, the unit each holds and
    the community each falls in (as the grid engine computes them)."""
    n_units = len(layers.units)
    ded = dedicated_areas(
        layers, crs, merge_m=rules.grid.dedicated_merge_m, merge=rules.merge_dedicated
    )
    if ded is None:
        return None, [], np.full(n_units, -1), np.zeros(0, dtype=object)
    raw_ids = layers.dedicated.index.astype(str)  # type: ignore[union-attr]
    pos = {k: i for i, k in enumerate(raw_ids)}
    members: list[np.ndarray] = []
    for joined in ded["dedicated_ids"]:
        parts = str(joined).split(";")
        if not all(p in pos for p in parts):
            # ids holding ";" cannot be told apart: every part then gets every area
            members = [np.arange(len(raw_ids))] * len(ded)
            break
        members.append(np.array(sorted(pos[p] for p in parts), dtype=np.int64))
    rep = shapely.point_on_surface(layers.units.geometry.to_numpy())
    u_idx, d_idx = STRtree(ded.geometry.to_numpy()).query(rep, predicate="within")
    ded_of = np.full(n_units, -1)
    _, first = np.unique(u_idx, return_index=True)
    ded_of[u_idx[first]] = d_idx[first]
    cid = np.full(len(ded), "", dtype=object)
    if layers.communities is not None:
        comms = layers.communities
        g_idx, c_idx = STRtree(comms.geometry.to_numpy()).query(
            shapely.point_on_surface(ded.geometry.to_numpy()), predicate="within"
        )
        cid[g_idx] = comms.index.astype(str).to_numpy()[c_idx]
    return ded, members, ded_of, cid


def split_layers(
    layers: Layers,
    *,
    rules: PlanRules | None = None,
    locks: Mapping[str, object] | pd.Series | None = None,
    split_by: SplitBy = "street",
    county_col: str = "county_id",
    crs: pyproj.CRS | None = None,
    previous: PreviousPlan | None = None,
) -> tuple[list[PlanPart], dict[str, int]]:
    """Cut prepared layers into parts that can be planned independently.

    Parameters
    ----------
    layers
        Prepared :class:`~gridplan.layers.Layers` (see :func:`gridplan.prepare_layers`).
    rules
        The plan's rules (for the dedicated-area merge distance and barrier classes).
    locks
        ``unit_id -> grid label``; a label shared by units of several streets keeps them
        in one part.
    split_by
        ``"street"`` (the units' ``street_id``) or ``"county"`` (the units' ``county_col``).
    crs
        The working CRS of the whole input; the parts are returned in it. Default:
        :func:`gridplan.crs.working_crs` of the units.
    previous
        The previous plan of a re-plan: the units of one old grid stay in one part (an old
        grid across streets is judged whole, as one process judges it), and each part
        carries its units' share of it.

    Returns
    -------
    parts, home
        The parts in order of their first street id, and the part index planning each
        community (keyed as the grid engine keys communities, "" for none).

    Raises
    ------
    ValidationError
        ``split_by="county"`` without the county column, or locks naming unknown units.
    """
    rules = rules or PlanRules()
    crs = crs or working_crs(layers.units)
    lw = to_work_crs(layers, crs)
    u = lw.units
    if split_by == "street":
        key_col = "street_id"
    elif split_by == "county":
        key_col = county_col
    else:
        raise ValueError(f"`split_by` must be 'street' or 'county', got {split_by!r}")
    if key_col not in u.columns:
        raise ValidationError(
            [
                Problem(
                    "units",
                    "missing_column",
                    f"split_by={split_by!r} needs a `{key_col}` column on the units, got "
                    f"columns {', '.join(map(str, u.columns))}; add it, pass county_col=, or "
                    "split by street.",
                )
            ]
        )
    unit_key = [id_str(v) for v in u[key_col].to_numpy()]
    keys = sorted(set(unit_key), key=lambda k: (k is None, k or ""))
    key_pos = {k: i for i, k in enumerate(keys)}
    ukey = np.array([key_pos[k] for k in unit_key], dtype=np.int64)
    comm = _community_keys(u)

    # what must stay together: a community's units, a dedicated area's units and the units of
    # the community it falls in, a lock label's units
    by_comm = pd.Series(ukey).groupby(comm)
    comm_keys: dict[str, np.ndarray] = {str(c): np.unique(v) for c, v in by_comm}
    ded, members, ded_of, ded_comm = _dedicated_groups(lw, rules, crs)
    groups = list(comm_keys.values())
    ded_keys: dict[str, list[np.ndarray]] = {}
    for g in range(len(members)):
        mine = ukey[ded_of == g]
        ded_keys.setdefault(str(ded_comm[g]), []).append(mine)
    for c, arrs in ded_keys.items():
        groups.append(np.concatenate([*arrs, comm_keys.get(c, np.zeros(0, np.int64))]))
    lock_map = normalize_locks(locks, u.index)
    if lock_map:
        labels = pd.Series(u.index.astype(str).map(lock_map), index=range(len(u)))
        for _, idx in labels.dropna().groupby(labels.dropna()).groups.items():
            groups.append(ukey[np.asarray(idx, dtype=np.int64)])
    if previous is not None:
        row = pd.Series(np.arange(len(u)), index=u.index.astype(str))
        for _, of_code in sorted(previous.units_by_code().items()):
            at = row.reindex(sorted(of_code)).dropna().to_numpy(dtype=np.int64)
            if at.size > 1:
                groups.append(ukey[at])
    comp = _link(len(keys), groups)
    # parts in order of their first key
    _, first_of = np.unique(comp, return_index=True)
    rank = np.empty(len(first_of), dtype=np.int64)
    rank[np.argsort(first_of, kind="stable")] = np.arange(len(first_of))
    part_of_key = rank[comp]
    part_of_unit = part_of_key[ukey]
    n_parts = len(first_of)

    home: dict[str, int] = {c: int(part_of_key[k[0]]) for c, k in comm_keys.items()}
    for c, arrs in ded_keys.items():
        if c not in home:
            held = np.concatenate(arrs)
            home[c] = int(part_of_key[held[0]]) if held.size else 0

    _warn_if_hulls(lw, comm, n_parts)

    # every part gets the dedicated areas and barriers that can reach its communities: cells
    # are cut around both, and a crossing is named after the nearest barrier, so the reach is
    # the part's box grown by its own diagonal
    comm_geom = (
        dict(zip(lw.communities.index.astype(str), lw.communities.geometry.to_numpy(), strict=True))
        if lw.communities is not None
        else {}
    )
    bars = lw.barriers
    bar_tree = STRtree(bars.geometry.to_numpy()) if bars is not None and len(bars) else None
    ded_tree, overlaps = None, []
    if ded is not None:
        # groups as merged, before the engine trims overlaps (the trimmed ones can be empty)
        raw = lw.dedicated.geometry.to_numpy()  # type: ignore[union-attr]
        whole = np.array([shapely.union_all(raw[m]) for m in members], dtype=object)
        ded_tree = STRtree(whole)
        a, b = ded_tree.query(whole, predicate="intersects")
        overlaps = [b[a == g] for g in range(len(whole))]
    out: list[PlanPart] = []
    for p in range(n_parts):
        sel = part_of_unit == p
        pu = u[sel]
        boxes = [shapely.box(*pu.total_bounds)] if len(pu) else []
        boxes += [
            shapely.box(*shapely.bounds(comm_geom[c]))
            for c in set(comm[sel])
            if c in comm_geom and comm_geom[c] is not None
        ]
        minx, miny, maxx, maxy = shapely.bounds(shapely.union_all(boxes)) if boxes else (0,) * 4
        reach = shapely.box(minx, miny, maxx, maxy)
        diag = float(np.hypot(maxx - minx, maxy - miny))
        dedicated = None
        near_groups: list[int] = []
        if ded is not None and ded_tree is not None:
            near = set(ded_tree.query(reach, predicate="intersects").tolist())
            near |= {g for g in range(len(ded)) if home.get(str(ded_comm[g]), 0) == p}
            # an area loses to the smaller areas overlapping it: bring those along too, and at
            # least one area, since the engine tessellates differently when there is none
            near |= {int(h) for g in near for h in overlaps[g]}
            near_groups = sorted(near) or [0]
            rows = np.unique(np.concatenate([members[g] for g in near_groups]))
            dedicated = lw.dedicated.iloc[rows.astype(np.int64)]  # type: ignore[union-attr]
        barriers = None
        if bars is not None:
            hit = (
                bar_tree.query(shapely.buffer(reach, max(diag, 1.0)), predicate="intersects")
                if bar_tree is not None
                else np.zeros(0, dtype=np.int64)
            )
            barriers = bars.iloc[np.sort(hit)]
        roads = None
        if lw.roads is not None and len(lw.roads):
            # the streets that can bound the part's cells
            hit = STRtree(lw.roads.geometry.to_numpy()).query(
                shapely.buffer(reach, max(diag, 1.0)), predicate="intersects"
            )
            roads = lw.roads.iloc[np.sort(hit)]
        compounds = None
        if lw.compounds is not None:
            ids = set(pu["compound_id"].dropna().astype(str))
            compounds = lw.compounds[lw.compounds.index.astype(str).isin(ids)]
        # codes are recomputed over the whole when the parts are merged, so a part needs only
        # the communities it plans or its dedicated areas fall in, and their streets
        communities = None
        if lw.communities is not None:
            wanted = set(comm[sel]) | {str(ded_comm[g]) for g in near_groups}
            communities = lw.communities[lw.communities.index.astype(str).isin(wanted)]
        streets = None
        if lw.streets is not None:
            wanted = {id_str(s) for s in pu["street_id"]}
            if communities is not None and "street_id" in communities.columns:
                wanted |= {id_str(s) for s in communities["street_id"]}
            streets = lw.streets[lw.streets.index.astype(str).isin(wanted - {None})]
        part_keys = tuple(k for k, pk in zip(keys, part_of_key, strict=True) if pk == p)
        pids = set(pu.index.astype(str))
        out.append(
            PlanPart(
                keys=part_keys,
                layers=Layers(
                    units=pu,
                    compounds=compounds,
                    dedicated=dedicated,
                    barriers=barriers,
                    communities=communities,
                    streets=streets,
                    roads=roads,
                ),
                locks={k: v for k, v in lock_map.items() if k in pids},
                level=split_by,
                previous=previous.for_units(pids) if previous is not None else None,
            )
        )
    if ded is None:
        _warn_if_tiling_differs(lw, comm, part_of_unit, out)
    log.info("split %d units into %d parts by %s", len(u), len(out), split_by)
    return out, home


def _warn_if_tiling_differs(
    lw: Layers, comm: np.ndarray, part_of_unit: np.ndarray, parts: Sequence[PlanPart]
) -> None:
    """The engine uses areal units as their own cells only when they tile *every* community
    it plans; a part can pass that test when the whole does not."""
    if lw.communities is None:
        return
    regions = dict(
        zip(lw.communities.index.astype(str), lw.communities.geometry.to_numpy(), strict=True)
    )
    geoms = lw.units.geometry.to_numpy()
    if units_tile(geoms, comm, regions):
        return
    odd = [
        p.label
        for i, p in enumerate(parts)
        if units_tile(geoms[part_of_unit == i], comm[part_of_unit == i], regions)
    ]
    if odd and len(parts) > 1:
        warnings.warn(
            f"the units of {describe_rows(odd)} tile their communities but those of the whole "
            "input do not, so those parts use the units as cells where one process would "
            "tessellate; their grids can differ from a single-process plan.",
            stacklevel=3,
        )


def _warn_if_hulls(lw: Layers, comm: np.ndarray, n_parts: int) -> None:
    known = set(normalize_ids(lw.communities.index)) if lw.communities is not None else set()
    missing = sorted(set(comm) - known)
    if n_parts > 1 and missing:
        warnings.warn(
            f"{len(missing)} communities have no polygon (ids {describe_rows(missing)}); their "
            "areas are drawn around their units with a margin taken from the spacing of the "
            "units planned together, so cells near their edges can differ from a "
            "single-process plan. Give every community a polygon for identical results.",
            stacklevel=3,
        )


# ---------------------------------------------------------------------------------------------
# the work of one part (runs on a worker)
# ---------------------------------------------------------------------------------------------


def plan_part(part: PlanPart, rules: PlanRules, seed: int) -> PartResult:
    """Run the cell, grid and micro-grid stages on one part, exactly as one process does.

    Codes, residents and the report are left to the merged whole: they are numbered and
    counted over every part with the same stages (:func:`gridplan.stages.assign_codes`,
    :func:`~gridplan.stages.apportion`, :func:`~gridplan.stages.assemble`).
    """
    cells = build_cells(part.layers, rules=rules)
    grids = plan_grids(
        cells, rules=rules, locks=part.locks or None, seed=seed, previous=part.previous
    )
    return PartResult(grids=grids, microgrids=plan_microgrids(grids, rules=rules, seed=seed))


def _guarded(
    part_fn: Callable[[PlanPart, PlanRules, int], PartResult],
    part: PlanPart,
    rules: PlanRules,
    seed: int,
) -> PartResult | _PartFailure:
    """A data error comes back as a failure at once (a retry could not fix it); anything else
    is raised, so Dask retries the task."""
    try:
        return part_fn(part, rules, seed)
    except GridplanError as exc:
        return _PartFailure(f"{type(exc).__name__}: {exc}", traceback.format_exc())


# ---------------------------------------------------------------------------------------------
# the cluster
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _client(scheduler: Any, n_workers: int) -> Iterator[Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the Dask engine needs dask.distributed; install it with `pip install 'gridplan[dask]'`"
        ) from exc
    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _run(
    client: Any,
    parts: Sequence[PlanPart],
    *,
    rules: PlanRules,
    seed: int,
    progress: Progress | None,
    part_fn: Callable[[PlanPart, PlanRules, int], PartResult],
) -> list[PartResult | _PartFailure]:
    from distributed import as_completed

    run = uuid.uuid4().hex[:8]
    # the largest parts first, so no big street is left running alone at the end
    size = [int(p.layers.units["households"].sum()) for p in parts]
    rank = np.argsort(np.argsort(size, kind="stable"), kind="stable")
    futures = {
        client.submit(
            _guarded,
            part_fn,
            part,
            rules,
            seed,
            key=f"gridplan-part-{run}-{i}",
            retries=2,
            pure=False,
            priority=int(rank[i]),
        ): i
        for i, part in enumerate(parts)
    }
    outcomes: list[PartResult | _PartFailure | None] = [None] * len(parts)
    done = 0
    for fut in as_completed(futures):
        i = futures[fut]
        if fut.status == "error":
            exc = fut.exception()
            tb = "".join(traceback.format_tb(fut.traceback()))
            outcomes[i] = _PartFailure(f"{type(exc).__name__}: {exc}", tb)
        else:
            outcomes[i] = fut.result()
        fut.release()
        done += 1
        failed = isinstance(outcomes[i], _PartFailure)
        if failed:
            log.error("part %s failed: %s", parts[i].label, outcomes[i].error)  # type: ignore[union-attr]
        if progress is not None:
            progress(done, len(parts), parts[i].label + (" failed" if failed else ""))
    return outcomes  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# merging
# ---------------------------------------------------------------------------------------------


def _placeholders(part: PlanPart, crs: pyproj.CRS, index: int) -> gpd.GeoDataFrame:
    """One stand-in grid per community of a failed part, so the streets and communities of
    the parts that did finish keep the numbers they have in a complete plan."""
    u = part.layers.units
    comm = _community_keys(u)
    first = pd.DataFrame({"c": comm, "s": u["street_id"].to_numpy()}).groupby("c").first()["s"]
    boxes = [shapely.box(*u[comm == c].total_bounds) for c in first.index]
    return gpd.GeoDataFrame(
        {
            "grid_id": [f"P{index}-{i}" for i in range(len(first))],
            "kind": "residential",
            "community_id": first.index.astype(str),
            "street_id": [id_str(s) for s in first.to_numpy()],
        },
        geometry=boxes,
        crs=crs,
    )


def _concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Rows of all parts; a column whose dtype differs between parts (a part where it is all
    missing) gets the dtype pandas infers for the whole column, as in one process."""
    out = pd.concat(frames, ignore_index=True)
    for col in out.columns:
        if col == "geometry" or len({str(f[col].dtype) for f in frames if col in f}) <= 1:
            continue
        out[col] = pd.Series(out[col].tolist(), index=out.index)
    return out


#: Columns of the grids of a merge in which every part failed.
_NO_GRIDS = (
    "grid_id",
    "kind",
    "community_id",
    "street_id",
    "households",
    "population",
    "n_units",
    "in_band",
    "crosses_barrier",
    "locked",
    "category",
    "name",
    "compactness",
)
_NO_PARTS = ("unit_id", "part", "households", "population", "grid_id", "community_id")


@dataclass(frozen=True)
class MergedParts:
    """:func:`merge_parts`'s result: one grid partition, one micro-grid partition (None when
    no part has micro-grids), and stand-in grids of failed parts (None when none failed)."""

    grids: GridPartition
    microgrids: MicroPartition | None
    stand_ins: gpd.GeoDataFrame | None


def merge_parts(
    layers: Layers,
    parts: Sequence[PlanPart],
    outcomes: Sequence[PartResult | _PartFailure],
    home: Mapping[str, int],
    *,
    crs: pyproj.CRS,
) -> MergedParts:
    """The parts' stage results as one grid and one micro-grid partition, with grid and
    micro-grid ids numbered over the whole, as one process numbers them. Codes, figures and
    tables are left to the same stages one process runs."""
    grids_l: list[pd.DataFrame] = []
    parts_l: list[pd.DataFrame] = []
    mg_l: list[pd.DataFrame] = []
    sl_l: list[pd.DataFrame] = []
    stand_ins: list[gpd.GeoDataFrame] = []
    done: list[tuple[int, PartResult]] = []
    for i, (part, out) in enumerate(zip(parts, outcomes, strict=True)):
        if isinstance(out, _PartFailure):
            stand_ins.append(_placeholders(part, crs, i))
            continue
        g = out.grids.grids
        # dedicated areas of other parts came along only to cut this part's cells
        foreign = (g["kind"] == "dedicated").to_numpy() & (
            g["community_id"].astype(str).map(lambda c: home.get(c, 0)).to_numpy() != i
        )
        grids_l.append(g[~foreign].assign(_part=i))
        parts_l.append(out.grids.parts.assign(_part=i))
        if len(out.microgrids.microgrids):
            mg_l.append(out.microgrids.microgrids.assign(_part=i))
            sl_l.append(out.microgrids.slices.assign(_part=i))
        done.append((i, out))

    # grid ids: the engine numbers grids by community, then in its own order within one
    # community; a community is planned in one part, so its local order is the global one
    if grids_l:
        grids = gpd.GeoDataFrame(_concat(grids_l), geometry="geometry", crs=crs)
        order = (
            pd.DataFrame(
                {
                    "c": grids["community_id"].astype(str),
                    "n": grids["grid_id"].str[1:].astype(np.int64),
                }
            )
            .sort_values(["c", "n"], kind="stable")
            .index.to_numpy()
        )
        new_id = np.empty(len(grids), dtype=object)
        new_id[order] = [f"G{i + 1:05d}" for i in range(len(grids))]
    else:
        grids = gpd.GeoDataFrame({c: [] for c in _NO_GRIDS}, geometry=[], crs=crs)
        grids["_part"], order, new_id = [], np.zeros(0, np.int64), np.zeros(0, dtype=object)
    id_of = {
        (int(p), old): new
        for p, old, new in zip(grids["_part"], grids["grid_id"], new_id, strict=True)
    }
    grids["grid_id"] = new_id
    grids = grids.iloc[order].drop(columns="_part").reset_index(drop=True)

    def gid(p: int, old: object) -> object:
        return id_of.get((p, old), old) if old is not None else None

    def regrid(frame: pd.DataFrame) -> np.ndarray:
        """A frame's grid ids (``_part``, ``grid_id``) as the whole's."""
        pairs = zip(frame["_part"], frame["grid_id"], strict=True)
        return np.array([gid(int(p), g) for p, g in pairs], dtype=object)

    if parts_l:
        cells = _concat(parts_l)
        cells["grid_id"] = regrid(cells)
        cells = gpd.GeoDataFrame(cells.drop(columns="_part"), geometry="geometry", crs=crs)
    else:
        cells = gpd.GeoDataFrame({c: [] for c in _NO_PARTS}, geometry=[], crs=crs)

    # units: every input unit, in input order (none of a failed part's has a grid)
    units = layers.units.copy()
    unit_grid = pd.Series(None, index=units.index, dtype=object)
    n_parts = pd.Series(0, index=units.index, dtype=np.int64)
    records: list[Diagnostic] = []
    micro_records: list[Diagnostic] = []
    for i, out in done:
        pu = out.grids.units
        unit_grid.loc[pu.index] = [gid(i, g) for g in pu["grid_id"]]
        n_parts.loc[pu.index] = pu["n_parts"].to_numpy(dtype=np.int64)
        records.extend(_renamed(d, i, gid) for d in out.grids.records)
        micro_records.extend(_renamed(d, i, gid) for d in out.microgrids.records)
    units["grid_id"] = unit_grid.to_numpy()
    units["n_parts"] = n_parts.to_numpy()
    merged = GridPartition(units=units, parts=cells, grids=grids, records=tuple(records), crs=crs)

    micro = None
    if mg_l:
        mg = _concat(mg_l)
        sl = _concat(sl_l)
        mg["grid_id"] = regrid(mg)
        m_order = np.lexsort((mg["microgrid_id"].to_numpy(), mg["grid_id"].to_numpy()))
        new_m = np.empty(len(mg), dtype=object)
        new_m[m_order] = [f"M{j + 1:06d}" for j in range(len(mg))]
        mid_of = {
            (int(p), old): new
            for p, old, new in zip(mg["_part"], mg["microgrid_id"], new_m, strict=True)
        }
        mg["microgrid_id"] = new_m
        mg = mg.iloc[m_order].drop(columns="_part").reset_index(drop=True)
        sl["grid_id"] = regrid(sl)
        sl["microgrid_id"] = np.array(
            [mid_of[(int(p), m)] for p, m in zip(sl["_part"], sl["microgrid_id"], strict=True)],
            dtype=object,
        )
        micro = MicroPartition(
            microgrids=gpd.GeoDataFrame(mg, geometry="geometry", crs=crs),
            slices=sl.drop(columns="_part"),
            records=tuple(micro_records),
        )
    placeholders = (
        gpd.GeoDataFrame(pd.concat(stand_ins, ignore_index=True), geometry="geometry", crs=crs)
        if stand_ins
        else None
    )
    return MergedParts(grids=merged, microgrids=micro, stand_ins=placeholders)


def _renamed(d: Diagnostic, part: int, gid: Callable[[int, object], object]) -> Diagnostic:
    """A part's record with the grid ids of the whole (by mapping, never from its text)."""
    params = dict(d.params)
    if "grid_ids" in params:
        params["grid_ids"] = [gid(part, g) for g in params["grid_ids"]]
    return replace(d, grid_id=gid(part, d.grid_id), params=params)


def _failures(
    parts: Sequence[PlanPart],
    outcomes: Sequence[PartResult | _PartFailure],
    stand_in_codes: Mapping[str, str],
) -> list[Diagnostic]:
    """One ``part_failed`` record per failed part: its streets and their codes, the error
    and every one of its units."""
    street_codes: dict[int, set[str]] = {}
    for g, code in stand_in_codes.items():
        street_codes.setdefault(int(str(g)[1:].split("-")[0]), set()).add(code[:9])
    out = []
    for i, res in enumerate(outcomes):
        if not isinstance(res, _PartFailure):
            continue
        part = parts[i]
        pu = part.layers.units
        names = ", ".join("(none)" if k is None else str(k) for k in part.keys)
        county = part.level != "street"
        out.append(
            Diagnostic(
                level="part",
                code="part_failed_county" if county else "part_failed",
                severity="error",
                street_id=None if county else names,
                unit_ids=tuple(pu.index.astype(str)),
                households=int(pu["households"].sum()),
                params={
                    "part": i + 1,
                    "county": names if county else None,
                    "error": res.error,
                    "street_codes": ", ".join(sorted(street_codes.get(i, set()))),
                },
                fix="rerun_part",
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------


def plan_distributed(
    units: gpd.GeoDataFrame | Layers,
    *,
    rules: PlanRules | None = None,
    locks: Mapping[str, object] | pd.Series | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    scheduler: Any = None,
    split_by: SplitBy = "street",
    county_col: str = "county_id",
    n_workers: int = 2,
    part_fn: Callable[[PlanPart, PlanRules, int], Any] | None = None,
    **inputs: Unpack[InputOptions],
) -> Plan:
    """Plan like :func:`gridplan.plan`, street by street (or county by county) on Dask.

    Parameters
    ----------
    units, rules, locks, seed
        As for :func:`gridplan.plan`; the result is the same plan.
    progress
        ``progress(done, total, message)``, called as each part finishes.
    scheduler
        Address of a running Dask scheduler (``"tcp://host:8786"``) or a
        ``distributed.Client``; ``None`` starts a local cluster of ``n_workers`` processes
        with one thread each and closes it afterwards.
    split_by
        ``"street"``: one part per ``street_id``; ``"county"``: one per ``county_col`` value
        of the units (fewer, larger parts). Streets that share a community, a dedicated area
        or a lock label are always planned together.
    n_workers
        Worker processes of the local cluster (when no scheduler is given).
    part_fn
        The function planning one part on a worker (default :func:`plan_part`); for tests
        and instrumentation.
    **inputs
        The context layers and input options of :func:`gridplan.plan` (``compounds``,
        ``dedicated``, ``barriers``, ``communities``, ``streets``, ``columns``,
        ``source_crs``, ``fix_invalid``; :class:`gridplan.stages.InputOptions`), documented
        there.

    Returns
    -------
    Plan
        Identical to :func:`gridplan.plan` on the same input and seed, diagnostics included.
        Parts that failed are ``part_failed`` diagnostics rows naming their street(s), the
        error and every unit.

    Raises
    ------
    ValidationError
        Invalid input (found once, before anything is sent to the cluster).
    """
    rules = rules or PlanRules()
    layers = prepare(units, rules=rules, **inputs)

    def run(parts: Sequence[PlanPart]) -> list[PartResult | _PartFailure]:
        with _client(scheduler, n_workers) as client:
            return _run(
                client,
                parts,
                rules=rules,
                seed=seed,
                progress=progress,
                part_fn=part_fn or plan_part,
            )

    return _plan_in_parts(
        layers, rules=rules, locks=locks, split_by=split_by, county_col=county_col, run=run
    )


def plan_processes(
    layers: Layers,
    *,
    rules: PlanRules | None = None,
    locks: Mapping[str, object] | pd.Series | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    workers: int = 2,
    previous: PreviousPlan | None = None,
) -> Plan:
    """Plan prepared layers street by street in ``workers`` processes of this machine.

    The parts, the work on each part and the merge are those of :func:`plan_distributed`, so
    the plan is the one-process plan (:func:`gridplan.plan` with ``workers=1``), byte for
    byte. Unlike the Dask engine an error in a part is raised, as one process raises it.

    Parameters
    ----------
    layers
        :func:`gridplan.stages.prepare`'s layers.
    rules, locks, seed
        As for :func:`gridplan.plan`.
    progress
        ``progress(done, total, message)``, called as each street finishes.
    workers
        Worker processes (at least 2; one process is :func:`gridplan.plan`'s own path).
    previous
        The previous plan of a re-plan (:func:`gridplan.previous.read_previous` on these
        layers' units): each part keeps and re-plans its old grids as one process does, and
        codes are kept over the whole.

    Returns
    -------
    Plan
    """
    rules = rules or PlanRules()

    def run(parts: Sequence[PlanPart]) -> list[PartResult | _PartFailure]:
        return _run_processes(parts, rules=rules, seed=seed, progress=progress, workers=workers)

    return _plan_in_parts(
        layers, rules=rules, locks=locks, split_by="street", run=run, previous=previous
    )


def _run_processes(
    parts: Sequence[PlanPart],
    *,
    rules: PlanRules,
    seed: int,
    progress: Progress | None,
    workers: int,
) -> list[PartResult | _PartFailure]:
    """Every part planned in a pool of ``workers`` fresh processes, the largest first so no
    big street is left running alone at the end; results in part order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    import cloudpickle

    size = [int(p.layers.units["households"].sum()) for p in parts]
    by_size = sorted(range(len(parts)), key=lambda i: (-size[i], i))
    outcomes: list[PartResult | _PartFailure | None] = [None] * len(parts)
    # "spawn": a fresh interpreter per worker, safe whatever threads the caller runs
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(parts)), mp_context=ctx) as pool:
        futures = {
            pool.submit(_plan_part_pickled, cloudpickle.dumps((parts[i], rules, seed))): i
            for i in by_size
        }
        for done, fut in enumerate(as_completed(futures), start=1):
            i = futures[fut]
            # a part's error is the plan's error, as in one process
            outcomes[i] = cloudpickle.loads(fut.result())
            if progress is not None:
                progress(done, len(parts), parts[i].label)
    return outcomes  # type: ignore[return-value]


def _plan_part_pickled(payload: bytes) -> bytes:
    """:func:`plan_part` on cloudpickled arguments, its result cloudpickled (the stage results
    hold objects the standard pickle refuses; Dask ships them the same way)."""
    import cloudpickle

    part, rules, seed = cloudpickle.loads(payload)
    return bytes(cloudpickle.dumps(plan_part(part, rules, seed)))


def _plan_in_parts(
    layers: Layers,
    *,
    rules: PlanRules,
    locks: Mapping[str, object] | pd.Series | None,
    split_by: SplitBy,
    county_col: str = "county_id",
    run: Callable[[Sequence[PlanPart]], list[PartResult | _PartFailure]],
    previous: PreviousPlan | None = None,
) -> Plan:
    """Split, plan every part with ``run``, merge, then the one-process tail."""
    crs = working_crs(layers.units)
    lw = to_work_crs(layers, crs)
    parts, home = split_layers(
        lw,
        rules=rules,
        locks=locks,
        split_by=split_by,
        county_col=county_col,
        crs=crs,
        previous=previous,
    )
    outcomes = run(parts)
    # the tail of the plan is the one-process tail: the same stages over the merged parts
    merged = merge_parts(layers, parts, outcomes, home, crs=crs)
    codes = assign_codes(
        merged.grids,
        merged.microgrids,
        rules=rules,
        communities=lw.communities,
        streets=lw.streets,
        stand_ins=merged.stand_ins,
        previous=previous,
    )
    grids = drop_unchanged(merged.grids, codes) if previous is not None else merged.grids
    fails = _failures(parts, outcomes, codes.stand_ins)
    log.info("merged %d parts (%d failed)", len(parts), len(fails))
    return assemble(
        layers,
        grids,
        merged.microgrids,
        codes,
        apportion(grids, rules=rules),
        rules=rules,
        records=fails,
    )
