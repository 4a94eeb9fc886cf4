"""Community redivision for village-to-community reform (村改社区).

During the reform a city redraws its community (社区) boundaries so that no community is over-
or under-sized, residents are separated from enterprises (居企分离), and service is equal
across communities. :func:`redivide` takes the units (buildings, blocks or small areas with
households), the current communities and optionally streets (街道), barriers and dedicated
areas, and returns new communities that are contiguous, compact, inside their street and
within a household band, while keeping as many households as possible in the community they
are in now.

The data flow:

1. units inside an enterprise area (a dedicated polygon whose category reads industrial or
   business) leave the residential communities and are listed for dedicated grids;
2. every other unit gets a space-filling cell inside its street, cut by barrier lines (the
   grid stage's :func:`gridplan.partition.grids.region_cells`), and cells that share an edge
   are neighbours in one :class:`gridplan.graph.UnitGraph` whose regions are the streets;
   neighbours in different streets are never joined (:mod:`gridplan.reform.cells`);
3. each current community, restricted to one street and one connected piece, is a *group*.
   With ``keep_valid`` a group within the band stays exactly as it is unless a neighbour
   needs it; with ``keep_valid=False`` every street is planned afresh;
4. repair: an undersized group joins the adjacent group that keeps the most households in
   place and stays within the band; an oversized group is split with
   :func:`gridplan.partition.core.split_piece`; where neither works alone, the group and its
   nearest neighbours are re-planned together (the region grows one group at a time). Spanning
   trees prefer edges inside a current community, so cuts follow current boundaries;
5. with ``target_count``, adjacent groups are merged or large groups split until the count is
   reached where the band allows;
6. the shared local search (:func:`gridplan.partition.refine.refine`) moves boundary units
   between re-planned groups to reduce ``compactness cost + disruption_weight * households
   moved``, never leaving the band or breaking contiguity (steps 3-6:
   :mod:`gridplan.reform.planner`);
7. codes (:mod:`gridplan.codes`): a new community that is substantially a current one (at
   least half of its households come from it, and more than half of that community's
   households went into it) keeps its code; every other community is numbered from 601
   within its street (CJ/T 349 style, three digits). :mod:`gridplan.reform.assemble` builds
   the result, its report and its diagnostics.

The package: :mod:`~gridplan.reform.rules` (rules and result), :mod:`~gridplan.reform.inputs`,
:mod:`~gridplan.reform.cells`, :mod:`~gridplan.reform.planner`,
:mod:`~gridplan.reform.assemble`; :func:`redivide` chains them.

Examples
--------
>>> import geopandas as gpd
>>> from gridplan.reform import ReformRules, redivide
>>> units = gpd.read_file("data/camden_sample.gpkg", layer="units")
>>> comms = gpd.read_file("data/camden_sample.gpkg", layer="communities")
>>> reform = redivide(units, communities=comms,
...                   rules=ReformRules(min_households=500, max_households=1500))
>>> int(reform.communities["households"].sum()) == int(units["households"].sum())
True
>>> bool(reform.communities["in_bounds"].all())
True
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import shapely

from ..codes import code_continuity
from ..config import band_admits, check_plan_arguments
from ..diagnostics import Diagnostic
from ..errors import Problem, ValidationError, describe_rows
from ..layers import Layers, prepare_layers
from ..validate import normalize_ids
from .assemble import assemble
from .cells import ReformInput, prepare
from .inputs import check_inputs, communities_from_column, locate_in_streets
from .planner import Planner
from .rules import Reform, ReformRules

__all__ = [
    "VILLAGE_TYPES",
    "Reform",
    "ReformRules",
    "code_continuity",
    "plan_communities",
    "redivide",
]

log = logging.getLogger(__name__)


def redivide(
    units: gpd.GeoDataFrame | Layers,
    *,
    communities: gpd.GeoDataFrame | str | None,
    streets: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    dedicated: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    rules: ReformRules | None = None,
    seed: int = 0,
    columns: Mapping[str, str] | None = None,
    village_types: str | Mapping[str, str] | None = None,
) -> Reform:
    """Redivide communities into contiguous, compact, size-bounded ones with minimal disruption.

    Parameters
    ----------
    units
        Buildings, blocks or small areas (points or polygons) with ``households`` (or
        ``population`` when ``rules.balance == "population"``), or prepared
        :class:`~gridplan.layers.Layers` holding a communities layer.
    communities
        The current communities: polygons (``community_id`` column or index = current code,
        optional ``street_id`` and ``name``), or the name of a units column holding each
        unit's current community (polygons are then the dissolved units).
    streets
        Street (街道) polygons; no new community crosses a street boundary. Without them the
        communities' ``street_id`` (or the units' own) decides; with neither, the whole area
        is one street.
    barriers
        Major roads, railways and rivers (lines). Re-planned communities do not cross them
        unless a piece cannot be made feasible otherwise (reported in ``crosses_barrier``).
    dedicated
        Dedicated areas; those whose ``category`` is an enterprise category (see
        :class:`ReformRules`) are left out of residential communities.
    roads
        All streets, lanes and paths (lines): the cells follow them, so community boundaries
        can run on them; communities may join across them.
    rules
        :class:`ReformRules`; default 1,000-3,000 households.
    seed
        Same inputs and seed give the same plan.
    columns
        Column renaming applied to every layer, e.g. ``{"户数": "households"}``.
    village_types
        What becomes of each current village (村改社区), as a column of the communities layer
        (or of the units, when ``communities`` names a units column) or a mapping
        ``{community_id: type}``: ``kept`` (保留, planned as any community; the default for
        blanks), ``merged`` (合并: joins the adjacent community it shares most boundary with),
        ``relocated`` (搬迁) or ``cash`` (货币补偿: both merged into the nearest adjacent
        community, Xiaoyi practice). The types hold with and without ``rules.keep_valid``:
        re-planned afresh, the rest of a street is split around such villages, which then
        join a neighbour whole. Merged, relocated and cash-compensated villages never keep
        their code nor lead a community; the report's ``mapping`` gives each village's type.

    Returns
    -------
    Reform

    Raises
    ------
    ValidationError
        Bad inputs (every problem listed with row ids and the fix).
    """
    check_plan_arguments(
        rules=rules,
        seed=seed,
        expected=ReformRules,
        columns=columns if isinstance(units, gpd.GeoDataFrame) else None,
    )
    rules = rules or ReformRules()
    if isinstance(units, Layers):
        layers = units
    else:
        if isinstance(communities, str):
            units, communities = communities_from_column(units, communities, columns)
        named = set(units.columns) | set((columns or {}).values())
        own_street = "street_id" in named
        layers = prepare_layers(
            units,
            dedicated=dedicated,
            barriers=barriers,
            communities=communities,
            streets=streets,
            roads=roads,
            columns=columns,
            balance=rules.balance,
            redivision=True,
        )
        if not own_street and layers.streets is not None:
            layers = locate_in_streets(layers)
    check_inputs(layers)
    types = village_type_of(
        village_types,
        layers=layers,
        units=units if isinstance(units, gpd.GeoDataFrame) else None,
        column=communities if isinstance(communities, str) else None,
    )
    inp = prepare(layers, rules=rules)
    diags: list[Diagnostic] = []
    g = inp.graph
    if g.linked.size:
        lonely = inp.resid[g.linked]
        diags.append(
            Diagnostic(
                level="unit",
                code="reform_isolated_unit",
                unit_ids=tuple(sorted(inp.ids[lonely])),
                households=int(inp.hh[lonely].sum()),
                params={"n": int(lonely.size)},
                fix="reform_check_links",
            )
        )
    planner = plan_communities(inp, rules=rules, seed=seed, diags=diags, village_types=types)
    return assemble(inp, planner, layers=layers, rules=rules, diags=diags, village_types=types)


#: village types (村改社区) and the words planners write for them
VILLAGE_TYPES: dict[str, tuple[str, ...]] = {
    "kept": ("kept", "keep", "保留", "村改社区", "撤村建居", "村改居", "改社区"),
    "merged": ("merged", "merge", "合并", "并入", "撤并"),
    "relocated": ("relocated", "relocate", "搬迁", "易地搬迁", "整体搬迁", "移民搬迁"),
    "cash": (
        "cash",
        "cash_compensated",
        "cash-compensated",
        "货币补偿",
        "货币化安置",
        "货币安置",
    ),
}


def village_type_of(
    spec: str | Mapping[str, str] | None,
    *,
    layers: Layers,
    units: gpd.GeoDataFrame | None,
    column: str | None,
) -> dict[str, str]:
    """Each current community's village type (only those not ``kept``), checked: unknown
    words and communities not in the plan are one error naming them."""
    if spec is None:
        return {}
    raw: dict[str | None, object] = {}
    where = "village_types"
    if isinstance(spec, str):
        comms = layers.communities
        if comms is not None and spec in comms.columns:
            raw = dict(zip(normalize_ids(comms.index), comms[spec], strict=True))
            where = f"communities column {spec!r}"
        elif units is not None and spec in units.columns and column is not None:
            keys = normalize_ids(units[column])
            raw = dict(zip(keys, units[spec], strict=True))
            where = f"units column {spec!r}"
        else:
            have = list(comms.columns) if comms is not None else []
            raise ValidationError(
                [
                    Problem(
                        "communities",
                        "missing_column",
                        f"village_types={spec!r} names no column of the communities layer "
                        f"(columns: {', '.join(map(str, have[:20]))}); give the column holding "
                        "each village's type (kept/merged/relocated/cash, 保留/合并/搬迁/货币补偿)",
                    )
                ]
            )
    else:
        raw = {str(k): v for k, v in spec.items()}
    lookup = {w.lower(): t for t, words in VILLAGE_TYPES.items() for w in words}
    out: dict[str, str] = {}
    bad: list[str] = []
    for k, v in raw.items():
        if k is None or v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        text = str(v).strip()
        if not text:
            continue
        t = lookup.get(text.lower())
        if t is None:
            bad.append(f"{k}: {text!r}")
        elif t != "kept":
            out[str(k)] = t
    problems = []
    if bad:
        problems.append(
            Problem(
                "communities",
                "village_type",
                f"{len(bad)} villages have an unknown type in {where} ({describe_rows(bad)}); "
                "expected kept (保留), merged (合并), relocated (搬迁) or cash (货币补偿)",
            )
        )
    known = (
        set(normalize_ids(layers.communities.index)) if layers.communities is not None else set()
    )
    unknown = sorted(k for k in out if k not in known)
    if unknown:
        problems.append(
            Problem(
                "communities",
                "unknown_community",
                f"village_types names {len(unknown)} communities that are not current "
                f"communities ({describe_rows(unknown)}); use their community_id",
            )
        )
    if problems:
        raise ValidationError(problems)
    return out


def follow_ground(inp: ReformInput, planner: Planner, pts: np.ndarray) -> int:
    """Units whose point lies outside their own cell (two buildings on one spot share a
    Voronoi cell) join the community whose cells hold the point, so every unit lies inside
    the community it names and the new layers plan directly. Returns the units moved."""
    cells = inp.cells[inp.resid]
    ok = ~(shapely.is_empty(cells) | shapely.is_missing(cells))
    points = shapely.points(pts)
    inside = np.zeros(len(cells), dtype=bool)
    inside[ok] = shapely.covers(cells[ok], points[ok])
    stray = np.flatnonzero(~inside)
    if not stray.size:
        return 0
    tree = shapely.STRtree(cells[ok])
    holder = np.flatnonzero(ok)
    moved = 0
    for a, b in zip(*tree.query(points[stray], predicate="covered_by"), strict=True):
        node, host = int(stray[a]), int(holder[b])
        src, dst = int(planner.label[node]), int(planner.label[host])
        if src == dst or planner.members[src].size <= 1:
            continue
        planner.members[src] = planner.members[src][planner.members[src] != node]
        planner.members[dst] = np.sort(np.append(planner.members[dst], node))
        w = float(planner.g.weight[node])
        planner.weight[src] -= w
        planner.weight[dst] += w
        planner.label[node] = dst
        moved += 1
    if moved:
        log.info("redivision: %d units joined the community whose ground holds them", moved)
    return moved


def plan_communities(
    inp: ReformInput,
    *,
    rules: ReformRules,
    seed: int = 0,
    diags: list[Diagnostic],
    village_types: Mapping[str, str] | None = None,
) -> Planner:
    """Steps 3-6: groups from the current communities (or afresh), villages that may not stand
    alone merged, repair, target count, the local search and the service limit; a missed
    target count is added to ``diags``."""
    lo, hi = float(rules.min_households), float(rules.max_households)
    rng = np.random.default_rng(seed)
    planner = Planner(inp.graph, inp.old, lo=lo, hi=hi, rules=rules, rng=rng)
    total_w = float(inp.graph.weight.sum())
    target_size = rules.target
    if rules.target_count:
        target_size = float(np.clip(total_w / rules.target_count, lo, hi))
    pts = shapely.get_coordinates(shapely.point_on_surface(inp.u.geometry.to_numpy()))[inp.resid]
    hh = inp.hh[inp.resid]
    village_types = village_types or {}
    old_codes = sorted(set(inp.prev[inp.resid].tolist()) - {""})
    kind = np.array(
        [
            {"merged": "merged", "relocated": "nearest", "cash": "nearest"}.get(
                village_types.get(c, "kept"), ""
            )
            for c in old_codes
        ],
        dtype=object,
    )
    # units of villages that may not stand alone (merged, relocated, cash-compensated)
    whole = np.zeros(inp.graph.n, dtype=bool)
    has = inp.old >= 0
    whole[has] = kind[inp.old[has]] != ""
    if rules.keep_valid:
        planner.start_from_current(keep_valid=True)
    else:
        # the reform mode plans every street afresh around those villages, which then join
        # a neighbour as in the repair mode
        planner.start_fresh(target_size, whole=whole)
    n_start = len(planner.members)
    if whole.any():
        alone = planner.force_merges(kind, pts)
        for o in alone:
            diags.append(
                Diagnostic(
                    level="community",
                    code="reform_village_alone",
                    community_code=old_codes[o],
                    params={
                        "village_type": village_types.get(old_codes[o], "kept"),
                    },
                    fix="reform_village_neighbours",
                )
            )
    planner.repair()
    if rules.target_count:
        planner.reach_count(int(rules.target_count))
        planner.repair()
    moves = planner.polish(rules.refine_passes)
    if rules.max_service_distance_m > 0:
        planner.enforce_reach(float(rules.max_service_distance_m), pts, hh)
    follow_ground(inp, planner, pts)
    log.info(
        "redivision: %d groups at start, %d after repair, %d units moved at the boundaries",
        n_start,
        len(planner.members),
        moves,
    )
    if rules.target_count and len(planner.members) != rules.target_count:
        k_min, k_max = band_admits(total_w, lo, hi)
        diags.append(
            Diagnostic(
                level="plan",
                code="reform_target_count",
                households=int(inp.hh[inp.resid].sum()),
                params={
                    "target": int(rules.target_count),
                    "got": len(planner.members),
                    "lo": int(lo),
                    "hi": int(hi),
                    "k_min": k_min,
                    "k_max": k_max,
                    "total": int(total_w),
                },
                fix="reform_target_count",
            )
        )
    return planner
