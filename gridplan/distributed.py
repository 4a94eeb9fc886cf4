"""Province scale on Dask: plan street by street (or county by county) across workers.

Grids never cross communities and communities never cross streets, so a province splits
cleanly. :func:`plan_distributed` validates the layers once, cuts them into *parts* (one per
street, or per county), plans every part with :func:`gridplan.plan` on a Dask worker, and
merges the parts into one :class:`~gridplan.pipeline.Plan`: units, grids, micro-grids and
diagnostics are concatenated, grid ids and grid codes are recomputed over the whole, and the
report is rebuilt.

Follow one household: it is validated with everyone else (:func:`prepare_layers`), moved into
the *whole* input's working CRS, sent with its street's part to a worker, planned there exactly
as in one process, and comes back with codes renumbered over the whole province.

Same answer as one process
--------------------------
* The layers are moved into the working CRS of the whole input before they are cut: the
  working CRS follows the data's centre, so a part alone could land in another UTM zone.
* Streets that share a community, a dedicated area (专属网格) or a lock label are planned as
  one part, so nothing the engine does across them is cut.
* Every part gets its communities, every dedicated area that can touch them (cells are cut
  around them) and every barrier near them; units keep their relative input order, which the
  engine's tie-breaks follow.
* Grid ids (``G00001``...) and grid/micro-grid codes are recomputed over the merged grids with
  :func:`gridplan.codes.grid_codes`, so codes never depend on which part a grid came from.

Faults
------
A part whose planning raises is retried by Dask (``retries=2``) unless the error is the data's
(:class:`~gridplan.errors.GridplanError`, which a retry cannot fix). A part that still fails is
one ``part_failed`` row in the diagnostics naming its street code(s), the error and *all* its
units; its units stay in ``plan.units`` with no grid code. A worker lost mid-task is handled by
the Dask scheduler, which reruns the task elsewhere; every part's result is taken exactly once.

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
import re
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from shapely import STRtree

from .codes import grid_codes
from .config import PlanRules
from .crs import working_crs
from .errors import GridplanError, Problem, ValidationError, describe_rows
from .layers import Layers, prepare_layers
from .partition.grids import DIAGNOSTIC_COLUMNS, _dedicated_areas, _norm_locks
from .pipeline import GRID_COLUMNS, MICROGRID_COLUMNS, Plan, _dedicated_filter, plan
from .tessellation import units_tile

__all__ = ["PlanPart", "plan_distributed", "split_layers"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
SplitBy = Literal["street", "county"]

#: diagnostics columns of a :class:`~gridplan.pipeline.Plan`
PLAN_DIAGNOSTIC_COLUMNS = [c for c in DIAGNOSTIC_COLUMNS if c != "grid_id"] + ["grid_code"]
#: columns of the grids / micro-grids of a plan whose every part failed (docs/contracts.md)
EMPTY_GRID_COLUMNS = GRID_COLUMNS
EMPTY_MICROGRID_COLUMNS = MICROGRID_COLUMNS


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
    """

    keys: tuple[str | None, ...]
    layers: Layers
    locks: dict[str, str]
    level: str = "street"

    @property
    def label(self) -> str:
        """``"street QT"`` / ``"streets QT, QT-2"`` for messages (``"(none)"`` for units
        without a street)."""
        names = ", ".join("(none)" if k is None else str(k) for k in self.keys)
        plural = "streets" if self.level == "street" else "counties"
        return f"{self.level if len(self.keys) == 1 else plural} {names}"


@dataclass(frozen=True)
class _PartResult:
    units: pd.DataFrame  # n_parts, grid_code, microgrid_code; index unit_id
    grids: gpd.GeoDataFrame  # working CRS
    microgrids: gpd.GeoDataFrame  # working CRS
    diagnostics: pd.DataFrame


@dataclass(frozen=True)
class _PartFailure:
    error: str
    traceback: str


# ---------------------------------------------------------------------------------------------
# splitting
# ---------------------------------------------------------------------------------------------


def _key(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str) and value.strip() == "":
        return None
    try:
        if pd.isna(value):  # type: ignore[call-overload]
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _community_keys(units: gpd.GeoDataFrame) -> np.ndarray:
    """Community per unit exactly as the grid engine keys it ("" outside every community)."""
    c = units["community_id"].astype(object).where(units["community_id"].notna(), "")
    return np.array([str(v) for v in c.to_numpy()], dtype=object)


def _to_work(layers: Layers, crs: pyproj.CRS) -> Layers:
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
    ded = _dedicated_areas(layers, crs, merge_m=rules.grid.dedicated_merge_m)
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
    lw = _to_work(layers, crs)
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
    unit_key = [_key(v) for v in u[key_col].to_numpy()]
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
    lock_map = _norm_locks(locks, u.index)
    if lock_map:
        labels = pd.Series(u.index.astype(str).map(lock_map), index=range(len(u)))
        for _, idx in labels.dropna().groupby(labels.dropna()).groups.items():
            groups.append(ukey[np.asarray(idx, dtype=np.int64)])
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
            wanted = {_key(s) for s in pu["street_id"]}
            if communities is not None and "street_id" in communities.columns:
                wanted |= {_key(s) for s in communities["street_id"]}
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
                ),
                locks={k: v for k, v in lock_map.items() if k in pids},
                level=split_by,
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
    known = set(lw.communities.index.astype(str)) if lw.communities is not None else set()
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


def plan_part(part: PlanPart, rules: PlanRules, seed: int) -> _PartResult:
    """Plan one part with :func:`gridplan.plan` and keep what the merge needs."""
    p = plan(part.layers, rules=rules, locks=part.locks or None, seed=seed)
    return _PartResult(
        units=pd.DataFrame(p.units[["n_parts", "grid_code", "microgrid_code"]]),
        grids=p.grids,
        microgrids=p.microgrids,
        diagnostics=p.diagnostics,
    )


def _guarded(
    part_fn: Callable[[PlanPart, PlanRules, int], _PartResult],
    part: PlanPart,
    rules: PlanRules,
    seed: int,
) -> _PartResult | _PartFailure:
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
    part_fn: Callable[[PlanPart, PlanRules, int], _PartResult],
) -> list[_PartResult | _PartFailure]:
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
    outcomes: list[_PartResult | _PartFailure | None] = [None] * len(parts)
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


def _placeholders(part: PlanPart, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    """One stand-in grid per community of a failed part, so the streets and communities of
    the parts that did finish keep the numbers they have in a complete plan."""
    u = part.layers.units
    comm = _community_keys(u)
    first = pd.DataFrame({"c": comm, "s": u["street_id"].to_numpy()}).groupby("c").first()["s"]
    boxes = [shapely.box(*u[comm == c].total_bounds) for c in first.index]
    return gpd.GeoDataFrame(
        {
            "grid_id": [f"P{i}" for i in range(len(first))],
            "kind": "residential",
            "community_id": first.index.astype(str),
            "street_id": [_key(s) for s in first.to_numpy()],
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


def _merge(
    layers: Layers,
    lw: Layers,
    parts: Sequence[PlanPart],
    outcomes: Sequence[_PartResult | _PartFailure],
    home: Mapping[str, int],
    *,
    rules: PlanRules,
    crs: pyproj.CRS,
) -> Plan:
    grids_l: list[gpd.GeoDataFrame] = []
    mg_l: list[gpd.GeoDataFrame] = []
    units_l: list[tuple[int, pd.DataFrame]] = []
    diag_l: list[tuple[int, pd.DataFrame]] = []
    stand_ins = []
    for i, (part, out) in enumerate(zip(parts, outcomes, strict=True)):
        if isinstance(out, _PartFailure):
            ph = _placeholders(part, crs)
            ph["_part"] = i
            stand_ins.append(ph)
            continue
        g = out.grids
        # dedicated areas of other parts came along only to cut this part's cells
        foreign = (g["kind"] == "dedicated").to_numpy() & (
            g["community_id"].astype(str).map(lambda c: home.get(c, 0)).to_numpy() != i
        )
        grids_l.append(g[~foreign].assign(_part=i))
        if len(out.microgrids):
            mg_l.append(out.microgrids.assign(_part=i))
        units_l.append((i, out.units))
        if len(out.diagnostics):
            diag_l.append((i, out.diagnostics))
    grids = (
        _concat(grids_l)
        if grids_l
        else gpd.GeoDataFrame({c: [] for c in (*EMPTY_GRID_COLUMNS, "_part")}, geometry=[], crs=crs)
    )
    grids = gpd.GeoDataFrame(grids, geometry="geometry", crs=crs)
    ids_of: dict[tuple[int, str], tuple[str, str]] = {}

    # grid ids: the engine numbers grids by community, then in its own order within one
    # community; a community is planned in one part, so its local order is the global one
    if len(grids):
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
        # messages name grids by id: (part, grid code) -> (local id, global id)
        ids_of = {
            (int(p), c): (old, new)
            for p, c, old, new in zip(
                grids["_part"], grids["grid_code"], grids["grid_id"], new_id, strict=True
            )
        }
        grids["grid_id"] = new_id

    # codes over the whole (stand-ins keep the failed parts' streets and communities counted)
    cols = ["grid_id", "kind", "community_id", "street_id", "_part", "geometry"]
    coded = pd.concat(
        [grids[cols].assign(_stand_in=False)] + [s.assign(_stand_in=True) for s in stand_ins],
        ignore_index=True,
    )
    coded = gpd.GeoDataFrame(coded, geometry="geometry", crs=crs)
    codes = grid_codes(
        coded, rules=rules.codes, communities=lw.communities, streets=lw.streets
    ).to_numpy()
    real = ~coded["_stand_in"].to_numpy(dtype=bool)
    old_code = grids["grid_code"].to_numpy() if len(grids) else np.zeros(0, dtype=object)
    grid_map = {
        (int(p), old): new
        for p, old, new in zip(grids["_part"], old_code, codes[real, 1], strict=True)
    }
    street_codes: dict[int, set[str]] = {}
    for p, cc in zip(coded["_part"][~real], codes[~real, 0], strict=True):
        street_codes.setdefault(int(p), set()).add(cc[:9])
    if len(grids):
        grids["grid_code"] = codes[real, 1]
        grids["community_code"] = codes[real, 0]

    # micro-grids: the new grid code and the part's own sequence within the grid
    micro_map: dict[int, dict[str, str]] = {}
    if mg_l:
        mg = _concat(mg_l)
        new_g = [grid_map[(int(p), g)] for p, g in zip(mg["_part"], mg["grid_code"], strict=True)]
        new_m = [
            ng + m[len(g) :]
            for ng, g, m in zip(new_g, mg["grid_code"], mg["microgrid_code"], strict=True)
        ]
        for p, m, nm in zip(mg["_part"], mg["microgrid_code"], new_m, strict=True):
            micro_map.setdefault(int(p), {})[m] = nm
        mg["grid_code"] = new_g
        mg["microgrid_code"] = new_m
        mg = gpd.GeoDataFrame(mg, geometry="geometry", crs=crs)
    else:
        mg = None

    # units: every input unit, in input order, with its codes (none for a failed part)
    units = layers.units.copy()
    n_parts = pd.Series(0, index=units.index, dtype=np.int64)
    gcode: dict[str, str] = {}
    joined: dict[str, str] = {}
    for p, uf in units_l:
        n_parts.loc[uf.index] = uf["n_parts"].to_numpy(dtype=np.int64)
        mm = micro_map.get(p, {})
        for uid, g, s in zip(
            uf.index.astype(str), uf["grid_code"], uf["microgrid_code"], strict=True
        ):
            if isinstance(g, str):
                gcode[uid] = grid_map[(p, g)]
            if isinstance(s, str):
                joined[uid] = ";".join(sorted({mm[c] for c in s.split(";")}))
    # built the way the pipeline builds them, so the columns get the same dtypes
    uid = units.index.astype(str)
    units["n_parts"] = n_parts
    units["grid_code"] = uid.map(pd.Series(gcode, dtype=object)).to_numpy()
    units["grid_code"] = units["grid_code"].map(lambda c: c)
    units["microgrid_code"] = uid.map(pd.Series(joined))

    # diagnostics: the parts' own, then one row per failed part
    diag_cols = list(diag_l[0][1].columns) if diag_l else PLAN_DIAGNOSTIC_COLUMNS
    frames = []
    for p, d in diag_l:
        d = d.copy()
        msgs = []
        for c, m in zip(d["grid_code"], d["message"], strict=True):
            ids = ids_of.get((p, c)) if isinstance(c, str) else None
            msgs.append(re.sub(rf"\b{ids[0]}\b", ids[1], m) if ids and isinstance(m, str) else m)
        d["message"] = msgs
        d["grid_code"] = [
            grid_map.get((p, c), c) if isinstance(c, str) else c for c in d["grid_code"]
        ]
        frames.append(d)
    fails = []
    for i, out in enumerate(outcomes):
        if isinstance(out, _PartFailure):
            pu = parts[i].layers.units
            codes_txt = ", ".join(sorted(street_codes.get(i, set()))) or "none"
            fails.append(
                {
                    "level": "part",
                    "kind": "part_failed",
                    "community_id": None,
                    "grid_code": None,
                    "unit_ids": ", ".join(pu.index.astype(str)),
                    "households": int(pu["households"].sum()),
                    "message": f"{parts[i].label} (street code {codes_txt}) was not planned: "
                    f"{out.error}; its {len(pu)} units have no grid",
                    "fix": "plan this street alone with gridplan.plan to see the full "
                    "traceback, fix the data it names, and plan it again",
                }
            )
    if fails:
        frames.append(pd.DataFrame(fails, columns=diag_cols))
    diags = _concat(frames) if frames else pd.DataFrame(columns=PLAN_DIAGNOSTIC_COLUMNS)

    in_crs = layers.crs
    grids_out = grids.drop(columns="_part").to_crs(in_crs)
    grids_out = grids_out.sort_values("grid_code", kind="stable").reset_index(drop=True)
    if mg is not None:
        mg_out = mg.drop(columns="_part").to_crs(in_crs)
        mg_out = mg_out.sort_values("microgrid_code", kind="stable").reset_index(drop=True)
    else:
        mg_out = gpd.GeoDataFrame({c: [] for c in EMPTY_MICROGRID_COLUMNS}, geometry=[], crs=in_crs)

    from .report import plan_report

    report = plan_report(grids_out, mg_out, rules=rules)
    log.info(
        "merged %d parts (%d failed): %d grids, %d micro-grids",
        len(parts),
        len(fails),
        len(grids_out),
        len(mg_out),
    )
    return Plan(
        units=units,
        grids=grids_out,
        microgrids=mg_out,
        diagnostics=diags,
        report=report,
        rules=rules,
        layers=layers,
        work_crs=crs,
    )


# ---------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------


def plan_distributed(
    units: gpd.GeoDataFrame | Layers,
    *,
    compounds: gpd.GeoDataFrame | None = None,
    dedicated: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    rules: PlanRules | None = None,
    locks: Mapping[str, object] | pd.Series | None = None,
    seed: int = 0,
    columns: Mapping[str, str] | None = None,
    source_crs: Literal["wgs84", "gcj02", "bd09"] | None = None,
    fix_invalid: bool = False,
    progress: Progress | None = None,
    scheduler: Any = None,
    split_by: SplitBy = "street",
    county_col: str = "county_id",
    n_workers: int = 2,
    part_fn: Callable[[PlanPart, PlanRules, int], Any] | None = None,
) -> Plan:
    """Plan like :func:`gridplan.plan`, street by street (or county by county) on Dask.

    Parameters
    ----------
    units, compounds, dedicated, barriers, communities, streets, rules, locks, seed, columns,
    source_crs, fix_invalid
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

    Returns
    -------
    Plan
        Identical to :func:`gridplan.plan` on the same input and seed, except the order of
        the diagnostics rows (grouped by part). Parts that failed are ``part_failed``
        diagnostics rows listing their street code(s), the error and every unit.

    Raises
    ------
    ValidationError
        Invalid input (found once, before anything is sent to the cluster).
    """
    rules = rules or PlanRules()
    if isinstance(units, Layers):
        layers = units
    else:
        layers = prepare_layers(
            units,
            compounds=compounds,
            dedicated=_dedicated_filter(dedicated, rules),
            barriers=barriers,
            communities=communities,
            streets=streets,
            columns=columns,
            source_crs=source_crs,
            balance=rules.grid.balance,
            fix_invalid=fix_invalid,
        )
    crs = working_crs(layers.units)
    lw = _to_work(layers, crs)
    parts, home = split_layers(
        lw, rules=rules, locks=locks, split_by=split_by, county_col=county_col, crs=crs
    )
    with _client(scheduler, n_workers) as client:
        outcomes = _run(
            client, parts, rules=rules, seed=seed, progress=progress, part_fn=part_fn or plan_part
        )
    return _merge(layers, lw, parts, outcomes, home, rules=rules, crs=crs)
