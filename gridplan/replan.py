"""Incremental re-plans: re-plan a few communities of a plan after a planner's edits.

A planner who moves a building into the next grid, or locks a grid that the residents'
committee has agreed, should not wait for the whole layer to be planned again. Grids never
cross communities, so :func:`replan` plans only the named communities, with the same stages
and on the same ground (cells, barriers, dedicated areas) the whole plan used
(:func:`gridplan.distributed.split_layers` cuts them out exactly as the parallel engine
does), and writes the result into the plan's tables. Every other community keeps its rows
byte for byte: grids, micro-grids, their codes and geometry, its units' codes and its
diagnostics.

Follow one household of a re-planned community: its unit is cut out with its community,
gets the cell it had, is locked into the grid a planner moved it to (or re-planned with its
neighbours), is put in a micro-grid, and its grid keeps the code of the old grid that held
most of its households (a new grid takes the lowest free sequence number of its community;
a retired code is never reused, as with ``gridplan.plan(previous=...)``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from . import diagnostics as dg
from .distributed import PartResult, merge_parts, plan_part, split_layers, to_work_crs
from .errors import Problem, ValidationError, describe_rows
from .previous import PreviousPlan
from .report import dedicated_residents_table, plan_report
from .stages import Plan, apportion, assemble, assign_codes, order_records
from .validate import id_str

__all__ = ["replan"]

log = logging.getLogger(__name__)

#: The split key of the units that are re-planned (every other unit shares one key).
_KEY = "_gridplan_replan"


def replan(
    plan: Plan,
    *,
    communities: str | Iterable[str],
    locks: Iterable[str] | None = None,
    moves: Mapping[str, str] | pd.Series | None = None,
    seed: int | None = None,
) -> Plan:
    """Re-plan only the named communities of ``plan``, after locks or unit moves.

    Parameters
    ----------
    plan
        A plan from :func:`gridplan.plan` (or an earlier :func:`replan`).
    communities
        The community ids to re-plan (one id or several), as in ``plan.units["community_id"]``.
    locks
        Grid codes kept exactly as they are: their units stay together in a grid with that
        code. Grids the plan already has ``locked`` stay locked; codes of communities that are
        not re-planned are kept anyway.
    moves
        ``unit_id -> grid_code``: the unit goes into that grid (of its own community; grids
        never cross communities). The grid is then locked with its other units and the
        moved ones, so the move is kept by later re-plans too; a unit split across grids goes
        whole into the grid it is moved to.
    seed
        The seed of the re-plan; None uses the plan's own (``plan.seed``, 0 when unknown).

    Returns
    -------
    Plan
        The plan with the named communities re-planned. Other communities' grids,
        micro-grids, unit codes and diagnostics are the input's rows unchanged; household
        totals are conserved; the report tables are rebuilt over the whole plan.

    Raises
    ------
    ValidationError
        Unknown community ids, unit ids or grid codes, or a move into a grid of another
        community or out of a dedicated area, each naming the keyword that fixes it.

    Examples
    --------
    >>> import geopandas as gpd, gridplan
    >>> src = "data/singapore_queenstown.gpkg"
    >>> p = gridplan.plan(
    ...     gpd.read_file(src, layer="units"),
    ...     communities=gpd.read_file(src, layer="communities"),
    ... )
    >>> unit = p.units.index[0]
    >>> here, now = p.units.loc[unit, ["community_id", "grid_code"]]
    >>> target = p.grids.query("community_id == @here and grid_code != @now")["grid_code"].iloc[0]
    >>> q = gridplan.replan(p, communities=[here], moves={unit: target})
    >>> q.units.loc[unit, "grid_code"] == target
    True
    """
    names = _check(plan, communities=communities, locks=locks, moves=moves, seed=seed)
    wanted, lock_codes, move_map = names
    seed = seed if seed is not None else (plan.seed if plan.seed is not None else 0)
    rules = plan.rules
    crs = pyproj.CRS.from_user_input(plan.work_crs)
    units = plan.units
    ids = units.index.astype(str)
    comm = _community_keys(units["community_id"])

    # locks: unit -> grid code, for grids kept as they are
    unit_grid = units["grid_code"].astype(object).to_numpy()
    g = plan.grids
    in_wanted = g["community_id"].map(id_str).fillna("").isin(wanted).to_numpy()
    residential = (g["kind"] == "residential").to_numpy()
    held = set(lock_codes) | set(move_map.values())
    held |= set(g.loc[in_wanted & residential & g["locked"].to_numpy(dtype=bool), "grid_code"])
    held &= set(g.loc[in_wanted & residential, "grid_code"])
    lock_map: dict[str, str] = {}
    for uid, code in zip(ids, unit_grid, strict=True):
        if code in held and uid not in move_map:
            lock_map[uid] = str(code)
    lock_map.update(move_map)

    # the same ground and neighbours as the whole plan: cut out as the parallel engine does
    lw = to_work_crs(plan.layers, crs)
    key = np.where(np.isin(comm, list(wanted)), comm, "")
    lw = replace(lw, units=lw.units.assign(**{_KEY: key}))
    parts, home = split_layers(
        lw, rules=rules, locks=lock_map, split_by="county", county_col=_KEY, crs=crs
    )
    chosen = [i for i, p in enumerate(parts) if any(k is not None for k in p.keys)]
    touched = {
        c for i in chosen for c in set(_community_keys(parts[i].layers.units["community_id"]))
    }
    if touched - wanted:
        # a dedicated area ties a named community to the others: plan them one by one
        lw = replace(lw, units=lw.units.assign(**{_KEY: comm}))
        parts, home = split_layers(
            lw, rules=rules, locks=lock_map, split_by="county", county_col=_KEY, crs=crs
        )
        chosen = [i for i, p in enumerate(parts) if set(p.keys) & wanted]
        touched = {
            c for i in chosen for c in set(_community_keys(parts[i].layers.units["community_id"]))
        }
    log.info("replan: %d communities (%s)", len(touched), describe_rows(sorted(touched)))
    sel = [parts[i] for i in chosen]
    sel = [
        replace(p, layers=replace(p.layers, units=p.layers.units.drop(columns=_KEY))) for p in sel
    ]
    outcomes: list[PartResult] = [plan_part(p, rules, seed) for p in sel]
    local_home = {c: chosen.index(h) for c, h in home.items() if h in chosen}

    mask = np.isin(comm, list(touched))
    sub_layers = replace(plan.layers, units=plan.layers.units[mask])
    merged = merge_parts(sub_layers, sel, outcomes, local_home, crs=crs)
    old_grids = g[g["community_id"].map(id_str).fillna("").isin(touched).to_numpy()]
    previous = PreviousPlan(
        grid={u: str(c) for u, c in zip(ids[mask], unit_grid[mask], strict=True) if c is not None},
        codes=frozenset(old_grids.loc[old_grids["kind"] == "residential", "grid_code"].astype(str)),
        split=pd.DataFrame({"unit_id": [], "grid_code": [], "n_grids": []}),
    )
    codes = assign_codes(
        merged.grids,
        merged.microgrids,
        rules=rules,
        communities=lw.communities,
        streets=lw.streets,
        previous=previous,
    )
    sub = assemble(
        sub_layers,
        merged.grids,
        merged.microgrids,
        codes,
        apportion(merged.grids, rules=rules),
        rules=rules,
    )
    return _splice(plan, sub, touched=touched, old_grids=old_grids, unit_mask=mask, seed=seed)


def _community_keys(values: pd.Series) -> np.ndarray:
    """Community per unit as text ("" outside every community); the layers hold the ids
    normalised already (:func:`gridplan.validate.id_str`), or None."""
    v = values.astype(object).to_numpy()
    missing = pd.isna(v)
    if not missing.any() and all(isinstance(x, str) for x in v):
        return v
    return np.array([id_str(x) or "" for x in v], dtype=object)


def _as_list(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def _check(
    plan: Plan,
    *,
    communities: object,
    locks: object,
    moves: object,
    seed: object,
) -> tuple[set[str], list[str], dict[str, str]]:
    """Every problem with the arguments, raised at once before any work."""
    problems: list[Problem] = []
    units = plan.units
    comm = _community_keys(units["community_id"])
    known = set(comm) - {""}
    wanted = [id_str(c) for c in _as_list(communities)]
    unknown = sorted(
        {str(c) for c, w in zip(_as_list(communities), wanted, strict=True) if w not in known}
    )
    if not wanted:
        problems.append(
            Problem(
                "arguments",
                "communities",
                "`communities` names no community; pass the ids to re-plan, e.g. "
                f"communities=[{sorted(known)[0]!r}]"
                if known
                else "`communities` names no community",
            )
        )
    elif unknown:
        problems.append(
            Problem(
                "arguments",
                "unknown_community",
                f"`communities` names {len(unknown)} id(s) that are not communities of the plan "
                f"(ids {describe_rows(unknown)}); pass ids of plan.units['community_id'], e.g. "
                f"{describe_rows(sorted(known)[:3])}.",
                tuple(unknown),
            )
        )
    wanted_set = {w for w in wanted if w is not None and w in known}
    g = plan.grids
    code_comm = dict(
        zip(g["grid_code"].astype(str), g["community_id"].map(id_str).fillna(""), strict=True)
    )
    code_kind = dict(zip(g["grid_code"].astype(str), g["kind"].astype(str), strict=True))
    lock_codes = [str(id_str(c)) for c in _as_list(locks)]
    bad = sorted({c for c in lock_codes if c not in code_comm})
    if bad:
        problems.append(
            Problem(
                "arguments",
                "unknown_grid_code",
                f"`locks` names {len(bad)} grid code(s) that are not in the plan (codes "
                f"{describe_rows(bad)}); pass codes of plan.grids['grid_code'].",
                tuple(bad),
            )
        )
    move_map: dict[str, str] = {}
    if moves is not None:
        if not isinstance(moves, Mapping | pd.Series):
            problems.append(
                Problem(
                    "arguments",
                    "moves",
                    "`moves` must map unit ids to grid codes, e.g. moves={unit_id: grid_code}, "
                    f"got {type(moves).__name__}",
                )
            )
        else:
            raw = dict(moves.items())
            move_map = {str(id_str(k)): str(id_str(v)) for k, v in raw.items()}
    index = units.index.astype(str)
    ids = set(index) if move_map else set()
    moved = index.isin(list(move_map))
    unit_comm = dict(zip(index[moved], comm[moved], strict=True))
    unit_grid = dict(zip(index[moved], units["grid_code"].astype(object)[moved], strict=True))
    no_unit = sorted(u for u in move_map if u not in ids)
    no_code = sorted({c for c in move_map.values() if c not in code_comm})
    if no_unit:
        problems.append(
            Problem(
                "arguments",
                "unknown_unit",
                f"`moves` names {len(no_unit)} unit id(s) that are not in the plan (ids "
                f"{describe_rows(no_unit)}); pass ids of plan.units.index.",
                tuple(no_unit),
            )
        )
    if no_code:
        problems.append(
            Problem(
                "arguments",
                "unknown_grid_code",
                f"`moves` names {len(no_code)} grid code(s) that are not in the plan (codes "
                f"{describe_rows(no_code)}); pass codes of plan.grids['grid_code'].",
                tuple(no_code),
            )
        )
    known_moves = {u: c for u, c in move_map.items() if u in ids and c in code_comm}
    dedicated = sorted(
        u
        for u, c in known_moves.items()
        if code_kind.get(str(unit_grid[u])) == "dedicated" or code_kind[c] == "dedicated"
    )
    if dedicated:
        problems.append(
            Problem(
                "arguments",
                "dedicated_move",
                f"`moves` moves {len(dedicated)} unit(s) into or out of a dedicated grid (ids "
                f"{describe_rows(dedicated)}); a dedicated area's grid follows the area: move "
                "units between residential grids only.",
                tuple(dedicated),
            )
        )
    across = sorted(
        u for u, c in known_moves.items() if u not in dedicated and code_comm[c] != unit_comm[u]
    )
    if across:
        problems.append(
            Problem(
                "arguments",
                "move_across_communities",
                f"`moves` moves {len(across)} unit(s) into a grid of another community (ids "
                f"{describe_rows(across)}, e.g. unit {across[0]} of community "
                f"{unit_comm[across[0]] or '(none)'} into grid {known_moves[across[0]]} of "
                f"community {code_comm[known_moves[across[0]]] or '(none)'}); grids never "
                "cross communities: move each unit into a grid of its own community.",
                tuple(across),
            )
        )
    outside = sorted(
        u
        for u, c in known_moves.items()
        if u not in dedicated and u not in across and unit_comm[u] not in wanted_set
    )
    if outside and not unknown:
        problems.append(
            Problem(
                "arguments",
                "move_not_replanned",
                f"`moves` moves {len(outside)} unit(s) of communities that are not re-planned "
                f"(ids {describe_rows(outside)}); add their communities "
                f"({describe_rows(sorted({unit_comm[u] for u in outside}))}) to `communities`.",
                tuple(outside),
            )
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        problems.append(
            Problem(
                "arguments",
                "seed",
                f"`seed` must be a whole number or None, got {seed!r} ({type(seed).__name__})",
            )
        )
    if problems:
        raise ValidationError(problems)
    return wanted_set, lock_codes, known_moves


def _grid_ids(old: pd.DataFrame, new: pd.DataFrame, everyone: pd.Series) -> np.ndarray:
    """Internal grid ids for the re-planned grids: the old grids' ids of those communities in
    order, then new ids after the plan's highest."""
    mine = sorted(old["grid_id"].astype(str), key=lambda s: (len(s), s))
    top = max((int(str(s)[1:]) for s in everyone if str(s)[1:].isdigit()), default=0)
    out = list(mine[: len(new)])
    out += [f"G{top + i + 1:05d}" for i in range(len(new) - len(out))]
    return np.array(out, dtype=object)


def _splice(
    plan: Plan,
    sub: Plan,
    *,
    touched: set[str],
    old_grids: gpd.GeoDataFrame,
    unit_mask: np.ndarray,
    seed: int,
) -> Plan:
    """The plan with the rows of ``touched`` communities replaced by ``sub``'s."""
    rules = plan.rules
    # grids: keep the other communities' rows, take the re-planned ones (dedicated grids
    # of areas that only came along to cut cells are another community's)
    sg = sub.grids[sub.grids["community_id"].map(id_str).fillna("").isin(touched).to_numpy()]
    sg = sg.copy()
    order = np.lexsort((sg["grid_id"].str[1:].astype(np.int64).to_numpy(),))
    new_ids = np.empty(len(sg), dtype=object)
    new_ids[order] = _grid_ids(old_grids, sg, plan.grids["grid_id"])
    sg["grid_id"] = new_ids
    # a locked grid keeps the name it had (its lock label is its code)
    old_name = dict(zip(old_grids["grid_code"], old_grids["name"], strict=True))
    locked = sg["locked"].to_numpy(dtype=bool) & sg["grid_code"].isin(old_name).to_numpy()
    sg.loc[locked, "name"] = sg.loc[locked, "grid_code"].map(old_name)
    kept = plan.grids[~plan.grids.index.isin(old_grids.index)]
    grids = pd.concat([kept, sg], ignore_index=True)
    grids = grids.sort_values("grid_code", kind="stable").reset_index(drop=True)
    grids = gpd.GeoDataFrame(grids, geometry="geometry", crs=plan.grids.crs)

    gone = set(old_grids["grid_code"].astype(str))
    mg_keep = plan.microgrids[~plan.microgrids["grid_code"].astype(str).isin(gone).to_numpy()]
    smg = sub.microgrids[sub.microgrids["grid_code"].isin(set(sg["grid_code"])).to_numpy()]
    mg = pd.concat([mg_keep, smg], ignore_index=True)
    mg = mg.sort_values("microgrid_code", kind="stable").reset_index(drop=True)
    mg = gpd.GeoDataFrame(mg, geometry="geometry", crs=plan.microgrids.crs)

    units = plan.units.copy()
    rows = units.index[unit_mask]
    for col in ("n_parts", "grid_code", "microgrid_code", "grid_codes"):
        units.loc[rows, col] = sub.units.loc[rows, col].to_numpy()

    ids = set(rows.astype(str))
    parts = None
    if plan.unit_parts is not None and sub.unit_parts is not None:
        up = plan.unit_parts
        parts = pd.concat(
            [up[~up["unit_id"].astype(str).isin(ids)], sub.unit_parts], ignore_index=True
        )
        pos = pd.Series(np.arange(len(units)), index=units.index.astype(str))
        parts = (
            parts.assign(_pos=parts["unit_id"].astype(str).map(pos).to_numpy())
            .sort_values(["_pos", "part"], kind="stable")
            .drop(columns="_pos")
            .reset_index(drop=True)
        )

    table = _diagnostics(
        plan.diagnostics,
        sub.diagnostics,
        touched=touched,
        gone=gone,
        ids=ids,
        codes=set(sg["grid_code"]),
    )
    report = plan_report(grids, mg, rules=rules)
    old_homes = plan.report.get("dedicated_residents")
    new_homes = sub.report.get("dedicated_residents")
    if old_homes is not None and new_homes is not None:
        homes = pd.concat(
            [
                old_homes[~old_homes["community"].astype(str).isin(touched).to_numpy()],
                new_homes[new_homes["community"].astype(str).isin(touched).to_numpy()],
            ],
            ignore_index=True,
        )
        report["dedicated_residents"] = (
            homes.sort_values(["grid_code", "dedicated_ids"], kind="stable")
            .reset_index(drop=True)
            .astype(old_homes.dtypes.to_dict())
            if len(homes)
            else dedicated_residents_table([])
        )
    for k, v in plan.report.items():
        report.setdefault(k, v)
    return replace(
        plan,
        units=units,
        grids=grids,
        microgrids=mg,
        diagnostics=table,
        report=report,
        unit_parts=parts,
        seed=seed,
    )


def _diagnostics(
    old: pd.DataFrame,
    fresh: pd.DataFrame,
    *,
    touched: set[str],
    gone: set[str],
    ids: set[str],
    codes: set[str],
) -> pd.DataFrame:
    """The plan's diagnostics with the records of the re-planned communities (their
    community, their old grids, or only their units) replaced by the re-plan's, in
    :func:`gridplan.stages.order_records` order."""

    def theirs(d: dg.Diagnostic, grids: set[str]) -> bool:
        if d.community_id is not None:
            return d.community_id in touched
        if d.grid_code is not None:
            return d.grid_code in grids
        return bool(set(d.unit_ids) & ids)

    kept = [d for d in dg.records(old) if not theirs(d, gone)]
    mine = [d for d in dg.records(fresh) if theirs(d, codes)]
    return dg.frame(order_records([*kept, *mine]))
