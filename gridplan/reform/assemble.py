"""The result of a redivision: codes, communities, units, changes, report and diagnostics.

New communities take their codes from :mod:`gridplan.codes` (the code rule, then numbering
from 601 within each street); every diagnostic is a :class:`gridplan.diagnostics.Diagnostic`.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .. import diagnostics
from ..codes import code_continuity, number_communities
from ..config import band_admits
from ..diagnostics import Diagnostic
from ..graph import in_band
from ..layers import Layers
from ..partition.grids import polsby_popper
from .cells import ReformInput
from .planner import Planner, reach_of
from .rules import Reform, ReformRules

__all__ = ["assemble", "counts_report", "dedicated_table", "plan_diagnostics"]

log = logging.getLogger(__name__)

_EPS = 1e-9


def assemble(
    inp: ReformInput,
    planner: Planner,
    *,
    layers: Layers,
    rules: ReformRules,
    diags: list[Diagnostic],
    village_types: dict[str, str] | None = None,
) -> Reform:
    """The result of a redivision: communities with their codes, units, changes, report,
    enterprise areas and diagnostics. Merged, relocated and cash-compensated villages
    (``village_types``) never give a new community their code."""
    village_types = village_types or {}
    u, crs, ids, resid, cells = inp.u, inp.crs, inp.ids, inp.resid, inp.cells
    prev, street_key, weight, hh, pop = inp.prev, inp.street_key, inp.weight, inp.hh, inp.pop
    ent, ent_of, bar_names = inp.ent, inp.ent_of, inp.bar_names
    lo, hi = float(rules.min_households), float(rules.max_households)
    n_units = len(u)
    gids = sorted(planner.members)
    # new community per residential unit
    group_of = np.full(n_units, -1, dtype=np.int64)
    group_of[resid] = planner.label
    gpos = {gid: i for i, gid in enumerate(gids)}
    n_new = len(gids)
    gi = np.full(n_units, -1, dtype=np.int64)
    gi[resid] = [gpos[x] for x in planner.label.tolist()]

    # geometry and figures per new community
    geom = np.empty(n_new, dtype=object)
    crosses = np.zeros(n_new, dtype=bool)
    for k, gid in enumerate(gids):
        sel = cells[resid[planner.members[gid]]]
        sel = sel[~(shapely.is_empty(sel) | shapely.is_missing(sel))]
        geom[k] = valid_polygonal(shapely.union_all(sel)) if len(sel) else shapely.Polygon()
    g = planner.g
    src = g.sources
    inside = g.crossing & (planner.label[src] == planner.label[g.indices])
    crosses[[gpos[x] for x in np.unique(planner.label[src[inside]]).tolist()]] = True
    res_mask = gi >= 0
    w_new = np.bincount(gi[res_mask], weights=weight[res_mask], minlength=n_new)
    hh_new = np.bincount(gi[res_mask], weights=hh[res_mask], minlength=n_new).astype(np.int64)
    pop_new = (
        pd.Series(pop[res_mask]).groupby(gi[res_mask]).sum(min_count=1).reindex(range(n_new))
    ).to_numpy()
    n_new_units = np.bincount(gi[res_mask], minlength=n_new).astype(np.int64)
    street_new = np.array(
        [street_key[resid[planner.members[gid][0]]] for gid in gids], dtype=object
    )

    # codes: continuity by the code rule, then 601.. per street for the rest
    cont = code_continuity(
        prev[res_mask], gi[res_mask], weight[res_mask], exclude=set(village_types)
    )
    kept_code = np.array([cont.get(k) for k in range(n_new)], dtype=object)
    contrib = (
        pd.DataFrame({"new": gi[res_mask], "old": prev[res_mask], "w": weight[res_mask]})
        .groupby(["new", "old"])["w"]
        .sum()
        .reset_index()
        .sort_values(["new", "w", "old"], ascending=[True, False, True], kind="stable")
    )
    prev_main = contrib.drop_duplicates("new").set_index("new")["old"].reindex(range(n_new))
    # a community continues the code it keeps, whatever a merged village brought it
    prev_main = prev_main.where(pd.isna(kept_code), pd.Series(kept_code, index=prev_main.index))
    contrib["text"] = contrib["old"].astype(str) + ":" + contrib["w"].astype(np.int64).astype(str)
    prev_all = contrib.groupby("new")["text"].agg(";".join)
    cen = shapely.get_coordinates(
        shapely.point_on_surface(
            np.where(shapely.is_empty(geom), shapely.Point(0, 0), geom).astype(object)
        )
    )
    old_street: dict[str, set[str]] = {}
    for c, s in zip(prev, street_key, strict=True):
        if c:
            old_street.setdefault(s, set()).add(c)
    code, cid = number_communities(
        street_new, kept_code, cen, current=old_street, start=rules.new_code_start
    )

    in_bounds = in_band(w_new, lo, hi)
    # membership unchanged: the same units as the current community, nothing more, nothing less
    old_members = pd.Series(prev[res_mask]).value_counts()
    changed = np.ones(n_new, dtype=bool)
    for k in range(n_new):
        if kept_code[k] is None:
            continue
        same = int(((gi == k) & (prev == kept_code[k])).sum())
        changed[k] = not (same == n_new_units[k] == int(old_members.get(kept_code[k], -1)))
    names = (
        layers.communities["name"].astype(str).to_dict()
        if layers.communities is not None and "name" in layers.communities.columns
        else {}
    )
    street_out = [None if s == "" else s for s in street_new]
    comm_gdf = gpd.GeoDataFrame(
        {
            "community_id": cid,
            "community_code": code,
            "previous_code": prev_main.to_numpy(),
            "previous_codes": prev_all.reindex(range(n_new)).to_numpy(),
            "street_id": street_out,
            "name": [names.get(c, "") if c is not None else "" for c in kept_code],
            "households": hh_new,
            "population": pop_new,
            "n_units": n_new_units,
            "in_bounds": in_bounds,
            "kept": kept_code != None,  # noqa: E711
            "changed": changed,
            "crosses_barrier": crosses,
        },
        geometry=geom,
        crs=crs,
    )
    comm_gdf["compactness"] = polsby_popper(comm_gdf.geometry.to_numpy())
    comm_gdf["stationed_units"] = stationed_units(geom, layers=layers, crs=crs)
    order_c = np.lexsort((cid.astype(str), np.array([str(s) for s in street_new])))
    comm_gdf = comm_gdf.iloc[order_c].reset_index(drop=True)
    comm_gdf = comm_gdf.set_geometry("geometry")
    comm_gdf["name"], comm_gdf["name_proposed"] = proposed_names(comm_gdf, names)
    reach, centre_ids = service_reach(comm_gdf, gi_sorted(gi, order_c), u, ids)
    comm_gdf["service_centre_unit"] = centre_ids
    comm_gdf["service_reach_m"] = np.round(reach, 1)
    residents = np.where(
        np.isnan(comm_gdf["population"].to_numpy(dtype=float)),
        comm_gdf["households"].to_numpy(dtype=float) * rules.household_size,
        comm_gdf["population"].to_numpy(dtype=float),
    )
    workers = np.array(
        [
            math.ceil(r * rules.community_workers_per_10k / 10_000 - 1e-9) if r > 0 else 0
            for r in residents
        ],
        dtype=np.int64,
    )
    comm_gdf["community_workers"] = workers
    comm_gdf["households_per_worker"] = np.round(
        np.where(workers > 0, comm_gdf["households"] / np.maximum(workers, 1), np.nan), 1
    )
    comm_gdf.insert(2, "code", plan_codes(comm_gdf, layers))
    limit = float(rules.max_service_distance_m)
    if limit > 0:
        far = comm_gdf[comm_gdf["service_reach_m"] > limit]
        for row in far.itertuples():
            diags.append(
                Diagnostic(
                    level="community",
                    code="reform_service_reach",
                    street_id=row.street_id,
                    community_id=str(row.community_id),
                    community_code=str(row.community_code),
                    households=int(row.households),
                    params={"reach": f"{row.service_reach_m:.0f}", "limit": f"{limit:g}"},
                    fix="reform_service_smaller",
                )
            )
    if layers.crs is not None:
        comm_gdf = comm_gdf.to_crs(layers.crs)
        # reprojection can fold a vertex over a neighbour's: repair once more
        comm_gdf["geometry"] = [valid_polygonal(x) for x in comm_gdf.geometry.to_numpy()]

    # units
    units_out = layers.units.copy()
    new_code = np.full(n_units, None, dtype=object)
    new_id = np.full(n_units, None, dtype=object)
    new_code[res_mask] = code[gi[res_mask]]
    new_id[res_mask] = cid[gi[res_mask]]
    ded_id = np.full(n_units, None, dtype=object)
    if ent is not None:
        e_ids = ent.index.astype(str).to_numpy()
        has = ent_of >= 0
        ded_id[has] = e_ids[ent_of[has]]
    units_out["previous_code"] = [c or None for c in prev]
    units_out["community_id"] = new_id
    units_out["community_code"] = new_code
    units_out["dedicated_id"] = ded_id

    # enterprise areas for dedicated grids
    ded_gdf = dedicated_table(inp, layers=layers)

    # changes: one row per (current, new) pair
    # one row per (current, new community, enterprise area it was handed over from) too
    handed_key = np.array(
        [f"{n}|{d}" if d is not None else str(n) for n, d in zip(new_id, ded_id, strict=True)],
        dtype=object,
    )
    dest = np.where(
        res_mask, handed_key, np.array([f"dedicated:{d}" for d in ded_id], dtype=object)
    )
    ch = pd.DataFrame(
        {
            "previous_code": prev,
            "dest": dest,
            "community_id": new_id,
            "community_code": new_code,
            "dedicated_id": ded_id,
            "street_id": street_key,
            "households": hh,
            "population": pop,
            "n_units": 1,
        }
    )
    changes = (
        ch.groupby(["previous_code", "dest"], sort=True, dropna=False)
        .agg(
            community_id=("community_id", "first"),
            community_code=("community_code", "first"),
            dedicated_id=("dedicated_id", "first"),
            street_id=("street_id", "first"),
            households=("households", "sum"),
            population=("population", lambda s: s.sum(min_count=1)),
            n_units=("n_units", "sum"),
        )
        .reset_index()
        .drop(columns=["dest"])
    )
    # households sent to an enterprise area (dedicated mode) are not moved to another
    # community: they are counted as to_enterprise
    changes["to_enterprise"] = changes["community_code"].isna() & changes["dedicated_id"].notna()
    changes["handed_over"] = changes["community_code"].notna() & changes["dedicated_id"].notna()
    changes["moved"] = changes["community_code"].notna() & (
        changes["community_code"].astype(object) != changes["previous_code"]
    )
    changes["households_moved"] = np.where(changes["moved"], changes["households"], 0).astype(
        np.int64
    )
    changes["population_moved"] = np.where(
        changes["moved"], changes["population"], np.where(changes["population"].isna(), np.nan, 0.0)
    )
    changes["street_id"] = [s or None for s in changes["street_id"]]
    changes["previous_code"] = [c or None for c in changes["previous_code"]]
    changes = changes.sort_values(
        ["previous_code", "households"], ascending=[True, False], kind="stable"
    ).reset_index(drop=True)

    report = counts_report(
        inp,
        layers=layers,
        rules=rules,
        communities=comm_gdf,
        sizes=w_new,
        streets=street_new,
        changes=changes,
        dedicated=ded_gdf,
    )
    mapping = report["mapping"]
    if len(mapping):
        mapping.insert(
            2,
            "village_type",
            [village_types.get(str(c), "kept") if c else None for c in mapping["previous_code"]],
        )
    counts = report["counts"]
    typed = pd.Series(village_types, dtype=object).value_counts()
    extra = pd.DataFrame(
        {
            "metric": [f"villages_{t}" for t in ("merged", "relocated", "cash")],
            "before": [float(typed.get(t, 0)) for t in ("merged", "relocated", "cash")],
            "after": [0.0, 0.0, 0.0],
        }
    )
    # a merged, relocated or cash-compensated village stands alone afterwards only if no
    # neighbour could take it (a reform_village_alone diagnostic says so), or if it is too
    # large to join one within the band and still gives a community most of its households
    alone = {d.community_code for d in diags if d.code == "reform_village_alone"}
    leads = comm_gdf[comm_gdf["previous_code"].isin(list(village_types))]
    for row in leads.itertuples():
        village = str(row.previous_code)
        if village in alone:
            continue
        alone.add(village)
        diags.append(
            Diagnostic(
                level="community",
                code="reform_village_leads",
                community_id=str(row.community_id),
                community_code=str(row.community_code),
                households=int(row.households),
                params={
                    "village": village,
                    "village_type": village_types[village],
                    "hi": int(hi),
                },
                fix="reform_village_smaller",
            )
        )
    for j, t in enumerate(("merged", "relocated", "cash")):
        extra.loc[j, "after"] = float(
            sum(1 for c, v in village_types.items() if v == t and c in alone)
        )
    report["counts"] = pd.concat([counts, extra], ignore_index=True)
    plan_diagnostics(
        planner, gids, code, cid, street_new, w_new, ids, resid, hh, lo, hi, rules, diags
    )
    for k in np.flatnonzero(crosses & changed).tolist():
        sel = inside & (planner.label[src] == gids[k])
        names = sorted({bar_names[b] for b in g.barrier[sel].tolist() if 0 <= b < len(bar_names)})
        diags.append(
            Diagnostic(
                level="community",
                code="reform_barrier_crossing",
                street_id=street_new[k] or None,
                community_id=cid[k],
                community_code=code[k],
                unit_ids=tuple(sorted(ids[resid[planner.members[gids[k]]]])),
                households=int(hh_new[k]),
                params={"barrier": ", ".join(names) if names else "?"},
                fix="reform_accept_or_widen",
            )
        )
    diag_df = diagnostics.frame(diags)
    log.info(
        "redivided %d current communities into %d (%d in bounds); %d enterprise areas",
        int(report["counts"]["before"].iloc[0]),
        n_new,
        int(in_bounds.sum()),
        len(ded_gdf),
    )
    return Reform(
        units=units_out,
        communities=comm_gdf,
        changes=changes,
        report=report,
        diagnostics=diag_df,
        dedicated=ded_gdf,
        rules=rules,
        work_crs=pyproj.CRS.from_user_input(crs),
    )


_CN_ORDINALS = "一二三四五六七八九十"


def proposed_names(comms: gpd.GeoDataFrame, names: dict[str, str]) -> tuple[list[str], list[bool]]:
    """Names for the new communities: a kept community keeps its name; a new one is proposed
    from the current community that gave it most households (``王村`` -> ``王村社区``; several
    from one -> ``王村一社区``, ``王村二社区`` in code order), for the street office to confirm
    (``name_proposed``)."""
    out: list[str] = []
    proposed: list[bool] = []
    base_of: list[str] = []
    for name, prev, kept in zip(comms["name"], comms["previous_code"], comms["kept"], strict=True):
        if kept and isinstance(name, str) and name:
            base_of.append("")
            continue
        base = names.get(str(prev), "") if isinstance(prev, str) else ""
        base = base or (str(prev) if isinstance(prev, str) else "")
        base_of.append(base.removesuffix("社区").removesuffix("居委会"))
    seen = pd.Series([b for b in base_of if b]).value_counts()
    n_of: dict[str, int] = {}
    order = np.argsort(comms["community_code"].astype(str).to_numpy(), kind="stable")
    ordinal: dict[int, int] = {}
    for j in order.tolist():
        b = base_of[j]
        if b:
            n_of[b] = n_of.get(b, 0) + 1
            ordinal[j] = n_of[b]
    for j, (name, b) in enumerate(zip(comms["name"], base_of, strict=True)):
        if not b:
            out.append(str(name))
            proposed.append(False)
            continue
        if int(seen.get(b, 0)) > 1:
            k = ordinal[j]
            word = _CN_ORDINALS[k - 1] if k <= len(_CN_ORDINALS) else str(k)
            out.append(f"{b}{word}社区")
        else:
            out.append(f"{b}社区")
        proposed.append(True)
    return out, proposed


def valid_polygonal(geom: object) -> object:
    """``geom`` made valid and kept polygonal: a union of cells can touch itself at a vertex or
    fold after reprojection, which GIS tools and the next plan refuse."""
    if geom is None or shapely.is_missing(geom) or shapely.is_empty(geom):
        return shapely.Polygon()
    if shapely.is_valid(geom) and shapely.get_type_id(geom) in (3, 6):
        return geom
    fixed = shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(fixed) if shapely.get_type_id(p) in (3, 6)]
    polys = [q for p in parts for q in shapely.get_parts(p)]
    if not polys:
        return shapely.Polygon()
    out = shapely.union_all(polys)
    return out if shapely.is_valid(out) else shapely.make_valid(out)


def gi_sorted(gi: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Each unit's row in the communities table after it was sorted by ``order`` (-1: none)."""
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.arange(len(order))
    return np.where(gi >= 0, inverse[np.clip(gi, 0, None)], -1)


def service_reach(
    comms: gpd.GeoDataFrame, row_of: np.ndarray, u: gpd.GeoDataFrame, ids: np.ndarray
) -> tuple[np.ndarray, list[str | None]]:
    """Service equality (服务均等) per community: the member building nearest the households'
    weighted centre is where the service centre would go, and the reach is the farthest any
    member's household is from it (metres, in the working CRS of ``u``)."""
    pts = shapely.get_coordinates(shapely.point_on_surface(u.geometry.to_numpy()))
    w = np.maximum(u["households"].to_numpy(dtype=float), 0.0)
    reach = np.full(len(comms), np.nan)
    centres: list[str | None] = [None] * len(comms)
    order = np.argsort(row_of, kind="stable")
    rows_sorted = row_of[order]
    for j in range(len(comms)):
        lo, hi = np.searchsorted(rows_sorted, [j, j + 1])
        members = order[lo:hi]
        if len(members) == 0:
            continue
        # the planner enforces a service limit with the same measure
        reach[j], c = reach_of(pts[members], w[members])
        centres[j] = str(ids[members[c]])
    return reach, centres


def plan_codes(comms: gpd.GeoDataFrame, layers: Layers) -> list[str]:
    """The 3-digit community code ``gridplan plan`` reads from a ``code`` column: new
    communities their 601... number, kept ones the last digits of their code (or of the
    current layer's ``code``), the rest numbered from 001 in their street, skipping codes in
    use, so the redivision's codes carry into the grid codes."""
    official: dict[str, str] = {}
    cur = layers.communities
    if cur is not None and "code" in cur.columns:
        for k, v in zip(cur.index.astype(str), cur["code"].astype(str), strict=True):
            v = v[:-2] if v.endswith(".0") else v
            if v.isdigit():
                official[k] = v[-3:].zfill(3)
    out: list[str | None] = [None] * len(comms)
    streets = [str(s) if s is not None else "" for s in comms["street_id"]]
    taken: dict[str, set[str]] = {}
    for j, (cc, cid) in enumerate(zip(comms["community_code"], comms["community_id"], strict=True)):
        cc = str(cc)
        digits = cc[-3:].zfill(3) if cc.isdigit() else official.get(str(cid))
        if digits is not None and digits not in taken.setdefault(streets[j], set()):
            out[j] = digits
            taken[streets[j]].add(digits)
    for j in range(len(comms)):
        if out[j] is None:
            n = 1
            while f"{n:03d}" in taken.setdefault(streets[j], set()):
                n += 1
            out[j] = f"{n:03d}"
            taken[streets[j]].add(f"{n:03d}")
    return [str(x) for x in out]


def stationed_units(geom: np.ndarray, *, layers: Layers, crs: Any) -> np.ndarray:
    """Dedicated areas (驻区单位: enterprises, business districts, parks, schools, offices)
    per new community: each area counts for the community it overlaps most, or touches, or
    else lies nearest to (an enterprise area kept out for dedicated grids is a hole)."""
    out = np.zeros(len(geom), dtype=np.int64)
    d = layers.dedicated
    ok = ~(shapely.is_empty(geom) | shapely.is_missing(geom))
    if d is None or not len(d) or not ok.any():
        return out
    areas = d.to_crs(crs).geometry.to_numpy()
    areas = areas[~(shapely.is_empty(areas) | shapely.is_missing(areas))]
    held = np.flatnonzero(ok)
    tree = shapely.STRtree(geom[held])
    ai, ci = tree.query(areas, predicate="intersects")
    share = shapely.area(shapely.intersection(areas[ai], geom[held][ci]))
    best = (
        pd.DataFrame({"a": ai, "c": held[ci], "m": share})
        .sort_values(["a", "m", "c"], ascending=[True, False, True], kind="stable")
        .drop_duplicates("a")
    )
    host = np.full(len(areas), -1, dtype=np.int64)
    host[best["a"].to_numpy()] = best["c"].to_numpy()
    rest = np.flatnonzero(host < 0)
    if rest.size:
        ri, ni = tree.query_nearest(areas[rest], return_distance=False, all_matches=False)
        host[rest[ri]] = held[ni]
    np.add.at(out, host[host >= 0], 1)
    return out


def dedicated_table(inp: ReformInput, *, layers: Layers) -> gpd.GeoDataFrame:
    """One row per enterprise area: the units it took, their households, residents, street
    and current communities (for dedicated grids), in the layers' CRS."""
    ent, ent_of, prev, street_key = inp.ent, inp.ent_of, inp.prev, inp.street_key
    hh, pop = inp.hh, inp.pop
    columns = [
        "dedicated_id",
        "name",
        "category",
        "street_id",
        "previous_codes",
        "households",
        "population",
        "n_units",
    ]
    if ent is None or len(ent) == 0:
        return gpd.GeoDataFrame(
            {c: pd.Series(dtype=object) for c in columns}, geometry=[], crs=layers.crs
        )
    rows = []
    for k, (did, row) in enumerate(ent.iterrows()):
        sel = ent_of == k
        streets = pd.Series(street_key[sel]).value_counts()
        olds = pd.Series(prev[sel])
        rows.append(
            {
                "dedicated_id": str(did),
                "name": row.get("name", ""),
                "category": row.get("category", ""),
                "street_id": (streets.index[0] or None) if len(streets) else None,
                "previous_codes": ";".join(sorted({o for o in olds if o})),
                "households": int(hh[sel].sum()),
                "population": float(pd.Series(pop[sel]).sum(min_count=1)),
                "n_units": int(sel.sum()),
                "geometry": row.geometry,
            }
        )
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=ent.crs)
    return out.to_crs(layers.crs) if layers.crs is not None else out


def counts_report(
    inp: ReformInput,
    *,
    layers: Layers,
    rules: ReformRules,
    communities: gpd.GeoDataFrame,
    sizes: np.ndarray,
    streets: np.ndarray,
    changes: pd.DataFrame,
    dedicated: gpd.GeoDataFrame,
) -> dict[str, pd.DataFrame]:
    """The report of a redivision: ``counts`` (before and after), ``per_street`` and
    ``mapping`` (where each current community went).

    ``sizes`` and ``streets`` give each new community's size in the balanced column and its
    street; ``communities``, ``changes`` and ``dedicated`` are the result's tables.
    """
    crs, prev, street_key, weight = inp.crs, inp.prev, inp.street_key, inp.weight
    hh, pop = inp.hh, inp.pop
    lo, hi = float(rules.min_households), float(rules.max_households)
    # before: the current communities as they are, every unit included
    before = pd.DataFrame({"old": prev, "w": weight, "hh": hh, "street": street_key})
    before = before[before["old"] != ""]
    w_old = before.groupby("old")["w"].sum()
    street_old = before.groupby("old")["street"].agg(lambda s: s.value_counts().index[0])
    comp_before = np.nan
    if layers.communities is not None:
        cg = layers.communities.to_crs(crs)
        cg = cg[cg.index.astype(str).isin(w_old.index)]
        if len(cg):
            comp_before = float(np.nanmean(polsby_popper(cg.geometry.to_numpy())))
    moved_hh = int(changes["households_moved"].sum())
    moved_pop = float(changes["population_moved"].sum(min_count=1))
    to_ent = int(changes.loc[changes["to_enterprise"], "households"].sum())
    handed = int(changes.loc[changes["handed_over"], "households"].sum())
    total_hh = int(hh.sum())

    def size_rows(w: np.ndarray) -> list[float]:
        if len(w) == 0:
            return [0, 0, 0, 0, np.nan, np.nan]
        return [
            len(w),
            int(in_band(w, lo, hi).sum()),
            int((w > hi + _EPS).sum()),
            int((w < lo - _EPS).sum()),
            float(np.min(w)),
            float(np.max(w)),
        ]

    b = size_rows(w_old.to_numpy(dtype=float))
    a = size_rows(sizes.astype(float))
    counts = pd.DataFrame(
        {
            "metric": [
                "communities",
                "in_bounds",
                "oversized",
                "undersized",
                "min_size",
                "max_size",
                "mean_compactness",
                "households",
                "households_moved",
                "population_moved",
                "dedicated_areas",
                "dedicated_households",
                "households_to_enterprise",
                "households_handed_over",
            ],
            "before": [
                *b,
                comp_before,
                total_hh,
                0,
                0.0,
                0,
                0,
                0,
                0,
            ],
            "after": [
                *a,
                float(np.nanmean(communities["compactness"])) if len(communities) else np.nan,
                total_hh,
                moved_hh,
                moved_pop,
                int((dedicated["n_units"] > 0).sum()) if len(dedicated) else 0,
                int(dedicated["households"].sum()) if len(dedicated) else 0,
                to_ent,
                handed,
            ],
        }
    )
    counts["before"] = counts["before"].astype(float)
    counts["after"] = counts["after"].astype(float)

    # per street
    rows = []
    street_ids = sorted(set(street_key.tolist()) | set(streets.tolist()))
    for s in street_ids:
        wo = w_old[street_old.reindex(w_old.index) == s].to_numpy(dtype=float)
        wn = sizes[streets == s].astype(float)
        sb, sa = size_rows(wo), size_rows(wn)
        sel = street_key == s
        ch_s = changes[changes["street_id"].fillna("") == s]
        rows.append(
            {
                "street_id": s or None,
                "households": int(hh[sel].sum()),
                "population": float(pd.Series(pop[sel]).sum(min_count=1)),
                "communities_before": int(sb[0]),
                "communities_after": int(sa[0]),
                "in_bounds_before": int(sb[1]),
                "in_bounds_after": int(sa[1]),
                "oversized_before": int(sb[2]),
                "oversized_after": int(sa[2]),
                "undersized_before": int(sb[3]),
                "undersized_after": int(sa[3]),
                "households_moved": int(ch_s["households_moved"].sum()),
                "dedicated_households": int(
                    ch_s.loc[ch_s["dedicated_id"].notna(), "households"].sum()
                ),
            }
        )
    per_street = pd.DataFrame(rows)

    # mapping: where each current community went
    mrows = []
    for old, t in changes.groupby("previous_code", sort=True):
        kept = t.loc[~t["moved"] & ~t["to_enterprise"], "community_code"]
        total = int(t["households"].sum())
        kept_hh = int(t.loc[~t["moved"] & ~t["to_enterprise"], "households"].sum())
        # the new communities it went to, once each; enterprise areas are counted apart
        dests = list(dict.fromkeys(str(c) for c in t["community_code"] if isinstance(c, str)))
        to_ent = int(t.loc[t["to_enterprise"], "households"].sum())
        handed = int(t.loc[t["handed_over"], "households"].sum())
        mrows.append(
            {
                "previous_code": old,
                "street_id": street_old.get(old),
                "households": total,
                "population": float(t["population"].sum(min_count=1)),
                "n_units": int(t["n_units"].sum()),
                "size_before": float(w_old.get(old, 0)),
                "kept_as": kept.iloc[0] if len(kept) else None,
                "new_codes": ";".join(dests),
                "households_moved": int(t["households_moved"].sum()),
                "households_to_enterprise": to_ent,
                "households_handed_over": handed,
                "share_kept": kept_hh / total if total else (1.0 if len(kept) else 0.0),
            }
        )
    mapping = pd.DataFrame(mrows)
    if len(mapping):
        mapping["street_id"] = [s or None for s in mapping["street_id"]]
    return {"counts": counts, "per_street": per_street, "mapping": mapping}


def plan_diagnostics(
    planner: Planner,
    gids: list[int],
    code: np.ndarray,
    cid: np.ndarray,
    street_new: np.ndarray,
    w_new: np.ndarray,
    ids: np.ndarray,
    resid: np.ndarray,
    hh: np.ndarray,
    lo: float,
    hi: float,
    rules: ReformRules,
    diags: list[Diagnostic],
) -> None:
    """Streets no count of communities fits, units above the ceiling, and communities left
    out of bounds (with why, and a fix the rules accept)."""
    band = {"lo": int(lo), "hi": int(hi), "noun": rules.balance}
    g = planner.g
    # street totals that no count of communities fits
    for s in sorted(set(street_new.tolist())):
        sel = street_new == s
        total = float(w_new[sel].sum())
        k_min, k_max = band_admits(total, lo, hi)
        in_street = [gids[k] for k in np.flatnonzero(sel)]
        if k_min > k_max:
            members = resid[np.isin(planner.label, in_street)]
            params = {
                **band,
                "street": s or "(all)",
                "total": int(total),
                "k_min": k_min,
                "k_max": k_max,
            }
            if total < lo:
                # a floor of ``total`` is accepted by the rules only when it is positive
                fix = "reform_street_small" if total >= 1 else "reform_join_street"
                params["lo_fix"] = int(total)
            else:
                # between two counts: a floor the smaller count meets, or a ceiling the larger
                # one meets; both stay inside what the rules accept (0 < floor < ceiling)
                fix = "reform_street_band"
                params["lo_fix"] = math.floor(total / k_min)
                params["hi_fix"] = math.ceil(total / max(k_max, 1))
            diags.append(
                Diagnostic(
                    level="street",
                    code="reform_infeasible_street",
                    street_id=s or None,
                    unit_ids=tuple(sorted(ids[members])),
                    households=int(hh[members].sum()),
                    params=params,
                    fix=fix,
                )
            )
    big = np.flatnonzero(g.weight > hi)
    if big.size:
        diags.append(
            Diagnostic(
                level="unit",
                code="reform_unit_over_ceiling",
                unit_ids=tuple(sorted(ids[resid[big]])),
                households=int(hh[resid[big]].sum()),
                params={**band, "largest": int(g.weight[big].max())},
                fix="reform_split_units",
            )
        )
    for k, gid in enumerate(gids):
        w = float(w_new[k])
        if in_band(w, lo, hi):
            continue
        nodes = planner.members[gid]
        # the connected area this community sits in (same street, through any edge)
        seen = {int(nodes[0])}
        dq = deque([int(nodes[0])])
        while dq:
            a = dq.popleft()
            for b in g.indices[g.indptr[a] : g.indptr[a + 1]].tolist():
                if b not in seen:
                    seen.add(b)
                    dq.append(b)
        area_w = float(g.weight[list(seen)].sum())
        params = {**band, "size": int(w), "area": int(area_w)}
        # a floor of ``w`` is accepted by the rules only when it is positive
        if w < lo and area_w < lo:
            what, fix = "reform_under_isolated", "reform_under_isolated"
        elif w < lo:
            what, fix = "reform_under_bounds", "reform_under"
        else:
            what, fix = "reform_over_bounds", "reform_over"
        if w < lo:
            params["lo_fix"] = int(w)
            fix = fix if w >= 1 else "reform_join_street"
        else:
            params["hi_fix"] = math.ceil(w)
        diags.append(
            Diagnostic(
                level="community",
                code=what,
                street_id=street_new[k] or None,
                community_id=cid[k],
                community_code=code[k],
                unit_ids=tuple(sorted(ids[resid[nodes]])),
                households=int(hh[resid[nodes]].sum()),
                params=params,
                fix=fix,
            )
        )
