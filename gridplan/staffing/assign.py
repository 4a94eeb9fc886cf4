"""Named people to posts: a min-cost assignment that fills every post it can, with those
living in the grid first and then the least total distance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.optimize import linear_sum_assignment

from ..errors import Problem, describe_rows
from ..i18n import value_label
from .inputs import PlanFrames

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "POSTS",
    "ROLE_POST_COLUMN",
    "assign_min_cost",
    "assign_posts",
    "fill_grid_table",
    "grid_centres",
    "locate_homes",
    "parttime_slots",
]


def assign_min_cost(
    distance: np.ndarray,
    inside: np.ndarray,
    *,
    capacity: Sequence[int] | np.ndarray | None = None,
    allowed: np.ndarray | None = None,
) -> list[tuple[int, int]]:
    """Optimal assignment of people (rows) to posts (columns).

    Lexicographic objective, solved as one min-cost assignment
    (:func:`scipy.optimize.linear_sum_assignment`) with each person expanded into
    ``capacity`` copies: fill as many posts as allowed pairs permit; among those, seat as many
    people as possible in the grid they live in (``inside``); among those, the least total
    ``distance``. The penalties are scaled so that no amount of distance outweighs one more
    resident post-holder, and nothing outweighs one more filled post.

    Parameters
    ----------
    distance
        ``(n_people, n_posts)`` distances (metres); NaN counts as the largest distance.
    inside
        ``(n_people, n_posts)`` booleans: the person lives in the post's grid.
    capacity
        Posts each person can hold (default 1).
    allowed
        ``(n_people, n_posts)`` booleans; pairs not allowed are never used.

    Returns
    -------
    list of (person, post)
        Sorted pairs of row and column indices; each post at most once, each person at most
        ``capacity`` times.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([[0.0, 900.0], [100.0, 50.0]])
    >>> assign_min_cost(d, np.array([[True, False], [False, False]]))
    [(0, 0), (1, 1)]
    """
    d = np.asarray(distance, dtype=float)
    if d.ndim != 2:
        raise ValueError(f"`distance` must be 2-D (people x posts), got shape {d.shape}")
    n_people, n_posts = d.shape
    ins = np.asarray(inside, dtype=bool)
    ok = np.ones_like(ins) if allowed is None else np.asarray(allowed, dtype=bool)
    if ins.shape != d.shape or ok.shape != d.shape:
        raise ValueError("`inside` and `allowed` must have the shape of `distance`")
    cap = np.ones(n_people, dtype=np.int64) if capacity is None else np.asarray(capacity)
    if len(cap) != n_people or (cap < 0).any():
        raise ValueError("`capacity` needs one count >= 0 per person")
    rows = np.repeat(np.arange(n_people), cap.astype(np.int64))
    if rows.size == 0 or n_posts == 0:
        return []
    finite = d[np.isfinite(d)]
    dmax = float(np.abs(finite).max()) if finite.size else 0.0
    dd = np.where(np.isfinite(d), np.abs(d), dmax)
    m = min(rows.size, n_posts)
    outside = (dmax + 1.0) * (m + 1)  # more than any sum of m distances
    forbidden = (outside + dmax + 1.0) * (m + 1)  # more than any sum of m allowed costs
    cost = dd[rows] + np.where(ins[rows], 0.0, outside)
    cost[~ok[rows]] = forbidden
    r, c = linear_sum_assignment(cost)
    keep = ok[rows[r], c]
    return sorted((int(rows[a]), int(b)) for a, b in zip(r[keep], c[keep], strict=True))


def locate_homes(
    roster: gpd.GeoDataFrame, frames: PlanFrames, label: str
) -> tuple[np.ndarray, list[set[str]], list[str], list[Problem]]:
    """Home point (working CRS), the grids the home lies in, and how the home was given."""
    problems: list[Problem] = []
    n = len(roster)
    pts = np.full(n, None, dtype=object)
    in_grids: list[set[str]] = [set() for _ in range(n)]
    how = [""] * n
    g = frames.grids
    u = frames.units
    # look up only the units and compounds the roster names
    unit_grid = u["grid_code"].to_dict() if u is not None else {}
    unit_pt: dict[str, Any] = {}
    wanted = [x for x in roster["unit_id"] if x is not None and x in unit_grid]
    if u is not None and wanted and frames.crs is not None:
        arr = u.geometry.loc[list(dict.fromkeys(wanted))]
        arr = arr[arr.notna()]
        unit_pt = dict(
            zip(arr.index, shapely.point_on_surface(arr.to_numpy()).tolist(), strict=True)
        )
    comp_grids: dict[str, set[str]] = {}
    comp_pt: dict[str, Any] = {}
    wanted_comps = {x for x in roster["compound_id"] if x is not None}
    if u is not None and wanted_comps:
        in_comps = u[u["compound_id"].isin(wanted_comps)]
        for cid, part in in_comps.groupby("compound_id"):
            comp_grids[str(cid)] = set(part["grid_code"])
            arr = part.geometry.dropna().to_numpy()
            if len(arr):
                comp_pt[str(cid)] = shapely.point_on_surface(shapely.union_all(arr))
    if frames.compounds is not None and wanted_comps:
        for cid, geom in frames.compounds[frames.compounds.index.isin(wanted_comps)].items():
            if geom is not None and not shapely.is_empty(geom):
                comp_pt[str(cid)] = shapely.point_on_surface(geom)
                comp_grids.setdefault(str(cid), set())
    coords = roster.geometry
    if frames.crs is not None and coords.crs is not None and coords.notna().any():
        coords = coords.to_crs(frames.crs)
    unknown_units, unknown_comps, no_crs = [], [], []
    for i, row in enumerate(roster.itertuples()):
        who = f"row {row.row} ({row.name})"
        if row.unit_id is not None:
            if row.unit_id not in unit_grid:
                unknown_units.append(f"{who}: {row.unit_id}")
                continue
            in_grids[i] = {unit_grid[row.unit_id]}
            pts[i] = unit_pt.get(row.unit_id)
            how[i] = f"unit {row.unit_id}"
        elif row.compound_id is not None:
            if row.compound_id not in comp_grids:
                unknown_comps.append(f"{who}: {row.compound_id}")
                continue
            in_grids[i] = set(comp_grids[row.compound_id])
            pts[i] = comp_pt.get(row.compound_id)
            how[i] = f"compound {row.compound_id}"
        elif coords.iloc[i] is not None:
            if frames.crs is None or coords.crs is None:
                no_crs.append(who)
                continue
            pts[i] = coords.iloc[i]
            how[i] = f"{row.lon:.6f},{row.lat:.6f}" if not np.isnan(row.lon) else "point"
    if unknown_units:
        problems.append(
            Problem(
                label,
                "unknown_unit",
                f"{len(unknown_units)} rows name a unit_id that is not in the plan "
                f"({describe_rows(unknown_units)})",
            )
        )
    if unknown_comps:
        problems.append(
            Problem(
                label,
                "unknown_compound",
                f"{len(unknown_comps)} rows name a compound_id that is not in the plan "
                f"({describe_rows(unknown_comps)})",
            )
        )
    if no_crs:
        problems.append(
            Problem(
                label,
                "no_geometry",
                f"{len(no_crs)} rows give coordinates but the plan's grids have no geometry or "
                f"CRS to place them ({describe_rows(no_crs)}); give unit_id or compound_id",
            )
        )
    # grids the coordinate homes lie in
    has_pt = [i for i in range(n) if pts[i] is not None and not in_grids[i]]
    if has_pt and frames.crs is not None:
        garr = g.geometry.to_numpy()
        ok = np.flatnonzero(~shapely.is_missing(garr))
        tree = shapely.STRtree(garr[ok])
        pi, gi = tree.query(np.array([pts[i] for i in has_pt]), predicate="intersects")
        codes = g["grid_code"].to_numpy()
        for a, b in zip(pi, gi, strict=True):
            in_grids[has_pt[a]].add(codes[ok[b]])
    known = set(g["community_id"])
    bad_comm = [
        f"row {row.row} ({row.name}): {row.community_id}"
        for row in roster.itertuples()
        if row.community_id is not None and row.community_id not in known
    ]
    if bad_comm:
        problems.append(
            Problem(
                label,
                "unknown_community",
                f"{len(bad_comm)} rows name a community_id that is not in the plan "
                f"({describe_rows(bad_comm)})",
            )
        )
    return pts, in_grids, how, problems


#: each post: the grid-table column counting it, and the roster roles that may hold it
POSTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "grid_head": ("grid_head", ("grid_head",)),
    "fulltime_worker": ("fulltime_worker", ("fulltime_worker",)),
    # building and stairwell heads commonly serve as their micro-grid's part-time worker
    "parttime_worker": ("parttime_workers", ("parttime_worker", "unit_head", "building_head")),
}
ROLE_POST_COLUMN = {post: col for post, (col, _) in POSTS.items()}
#: where a post's own role runs short, the roster categories that fill it, in order
#: (practice: a grid head is a community worker; where there are too few, a party member,
#: retired cadre, property-company staff member or building head)
FILL_ORDER: dict[str, tuple[str, ...]] = {
    "grid_head": (
        "community_worker",
        "party_member",
        "retired_cadre",
        "property_staff",
        "building_head",
    ),
    "fulltime_worker": ("community_worker",),
    "parttime_worker": ("party_member", "building_head"),
}


def _post_slots(
    post: str, grid_table: pd.DataFrame, frames: PlanFrames, centre: dict[str, Any]
) -> list[tuple[str, str, int, str | None, Any]]:
    """(grid_code, community_id, seq, microgrid_code, point) for every post of one kind.

    Part-time posts sit in the plan's micro-grids when it gives them (the post's point is the
    micro-grid's centre); otherwise, like the grid posts, at the grid's centre.
    """
    col = POSTS[post][0]
    micro: dict[str, list[tuple[str, Any]]] = {}
    if post == "parttime_worker" and frames.microgrids is not None:
        m = frames.microgrids.sort_values("microgrid_code", kind="stable")
        geoms = m.geometry.to_numpy()
        ok = ~shapely.is_missing(geoms)
        pts = np.full(len(m), None, dtype=object)
        if frames.crs is not None and ok.any():
            pts[ok] = shapely.centroid(geoms[ok])
        for code, grid, pt in zip(m["microgrid_code"], m["grid_code"], pts, strict=True):
            micro.setdefault(str(grid), []).append((str(code), pt))
    per = frames_per_microgrid(grid_table)
    out: list[tuple[str, str, int, str | None, Any]] = []
    for grid, comm, n in zip(
        grid_table["grid_code"].astype(str),
        grid_table["community_id"].astype(str),
        grid_table[col].astype(int),
        strict=True,
    ):
        mine = micro.get(grid, [])
        if mine and per and len(mine) * per == n:
            seq = 0
            for code, pt in mine:
                for _ in range(per):
                    seq += 1
                    out.append((grid, comm, seq, code, pt))
        else:
            out.extend((grid, comm, k, None, centre[grid]) for k in range(1, n + 1))
    return out


def grid_centres(frames: PlanFrames) -> dict[str, Any]:
    """Each grid's centre (None without geometry), where its grid posts sit."""
    g = frames.grids
    pts = shapely.centroid(g.geometry.to_numpy()) if frames.crs is not None else [None] * len(g)
    return dict(zip(g["grid_code"], pts, strict=True))


def parttime_slots(
    grid_table: pd.DataFrame, frames: PlanFrames
) -> list[tuple[str, str, int, str | None, Any]]:
    """Every part-time post: (grid_code, community_id, seq, microgrid_code, point)."""
    return _post_slots("parttime_worker", grid_table, frames, grid_centres(frames))


def frames_per_microgrid(grid_table: pd.DataFrame) -> int:
    """Part-time posts per micro-grid as the grid table gives them (0 when there are none)."""
    t = grid_table[grid_table["n_microgrids"] > 0]
    if t.empty:
        return 0
    ratio = t["parttime_workers"] / t["n_microgrids"]
    return int(ratio.iloc[0]) if (ratio == ratio.iloc[0]).all() else 0


def _solve_one_community(
    dist: np.ndarray,
    inside: np.ndarray,
    allowed: np.ndarray,
    caps: np.ndarray,
    post_comm: np.ndarray,
) -> list[tuple[int, int]]:
    """The min-cost assignment, with everyone who holds several posts keeping them in one
    community: a person is a community's worker, not a street's. Someone seated in two
    communities is held to the one where they hold most posts (then the nearest) and the
    assignment is solved again, until nobody spans two."""
    allowed = allowed.copy()
    for _ in range(len(caps) + 1):
        pairs = assign_min_cost(dist, inside, capacity=caps, allowed=allowed)
        spans: dict[int, list[int]] = {}
        for a, b in pairs:
            spans.setdefault(a, []).append(b)
        split = {a: bs for a, bs in spans.items() if len({post_comm[b] for b in bs}) > 1}
        if not split:
            return pairs
        for a, bs in split.items():
            held: dict[Any, list[float]] = {}
            for b in bs:
                d = dist[a, b]
                held.setdefault(post_comm[b], []).append(float(d) if np.isfinite(d) else 1e18)
            keep = min(held, key=lambda c: (-len(held[c]), sum(held[c]), str(c)))
            allowed[a] &= post_comm == keep
    return pairs


def assign_posts(
    roster: gpd.GeoDataFrame,
    homes: tuple[np.ndarray, list[set[str]], list[str]],
    grid_table: pd.DataFrame,
    frames: PlanFrames,
    *,
    max_distance_m: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    pts, in_grids, how = homes
    centre = grid_centres(frames)
    assigned_rows, unfilled_rows = [], []
    held = np.zeros(len(roster), dtype=np.int64)
    person_role = roster["role"].to_numpy(dtype=object)
    comms = roster["community_id"].to_numpy(dtype=object)
    category = (
        roster["category"].to_numpy(dtype=object)
        if "category" in roster.columns
        else np.full(len(roster), None, dtype=object)
    )
    capacity = roster["capacity"].to_numpy()

    def matrices(
        people: np.ndarray, posts: list[tuple[str, str, int, str | None, Any]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        dist = np.full((len(people), len(posts)), np.nan)
        inside = np.zeros((len(people), len(posts)), dtype=bool)
        allowed = np.ones((len(people), len(posts)), dtype=bool)
        post_comm = np.array([p[1] for p in posts], dtype=object)
        far = np.zeros((len(people), len(posts)), dtype=bool)
        if len(posts) and len(people):
            post_pts = np.array([p[4] for p in posts], dtype=object)
            post_grid = np.array([p[0] for p in posts], dtype=object)
            # missing points give NaN, which assign_min_cost treats as the largest distance
            dist = shapely.distance(pts[people][:, None], post_pts[None, :]).astype(float)
            for a, i in enumerate(people):
                inside[a] = np.isin(post_grid, list(in_grids[i]))
                if comms[i] is not None:
                    allowed[a] = post_comm == comms[i]
            if max_distance_m > 0:
                # a home farther than the limit (or unknown) serves only the grid it is in
                far = ~inside & ~(dist <= max_distance_m)
                allowed &= ~far
        return dist, inside, allowed, far, post_comm

    for post, (_col, roles) in POSTS.items():
        posts = _post_slots(post, grid_table, frames, centre)
        people = np.flatnonzero(np.isin(person_role, roles))
        dist, inside, allowed, far, post_comm = matrices(people, posts)
        caps = capacity[people]
        # (person row, slot, distance, lives in grid, filled from category)
        taken: list[tuple[int, int, float, bool, str | None]] = [
            (int(people[a]), b, float(dist[a, b]), bool(inside[a, b]), None)
            for a, b in _solve_one_community(dist, inside, allowed, caps, post_comm)
        ]
        used = {b for _i, b, _d, _in, _c in taken}
        for i, *_ in taken:
            held[i] += 1
        # posts still open go to people of the fill categories, in order (a party member,
        # retired cadre, property staff or building head where community workers run short)
        for cat in FILL_ORDER.get(post, ()):
            open_b = [b for b in range(len(posts)) if b not in used]
            spare = np.flatnonzero((category == cat) & (held < capacity))
            if not open_b or not len(spare):
                continue
            sub = [posts[b] for b in open_b]
            d2, in2, al2, _f2, pc2 = matrices(spare, sub)
            for a, b2 in _solve_one_community(d2, in2, al2, capacity[spare] - held[spare], pc2):
                k, b = int(spare[a]), open_b[b2]
                taken.append((k, b, float(d2[a, b2]), bool(in2[a, b2]), cat))
                used.add(b)
                held[k] += 1
        for i, b, d, lives, from_cat in taken:
            grid_code, community_id, seq, micro_code, _pt = posts[b]
            assigned_rows.append(
                {
                    "grid_code": grid_code,
                    "microgrid_code": micro_code,
                    "community_id": community_id,
                    "role": post,
                    "seq": seq,
                    "name": roster["name"].iat[i],
                    "person_role": person_role[i],
                    "filled_from": from_cat,
                    "phone": roster["phone"].iat[i],
                    "home": how[i],
                    "lives_in_grid": lives,
                    "distance_m": round(d, 1) if np.isfinite(d) else np.nan,
                    "roster_row": int(roster["row"].iat[i]),
                }
            )
        slots = int(caps.sum())
        rz = value_label("role", post, "zh")
        for b, (grid_code, community_id, seq, micro_code, _pt) in enumerate(posts):
            if b in used:
                continue
            if slots < len(posts):
                reason = f"the roster has {slots} {post} places for {len(posts)} posts"
                reason_zh = f"名单中{rz}共可任{slots}个岗位，需配{len(posts)}个"
            elif len(people) and far[:, b].all():
                reason = f"no {post} on the roster lives within {max_distance_m:g} m"
                reason_zh = f"名单中没有住在{max_distance_m:g}米以内的{rz}"
            else:
                reason = f"no {post} on the roster may serve community {community_id!s}"
                reason_zh = f"名单中没有可在社区{community_id!s}任职的{rz}"
            unfilled_rows.append(
                {
                    "grid_code": grid_code,
                    "microgrid_code": micro_code,
                    "community_id": community_id,
                    "role": post,
                    "seq": seq,
                    "reason": reason,
                    "reason_zh": reason_zh,
                }
            )
    assignments = pd.DataFrame(assigned_rows, columns=ASSIGNMENT_COLUMNS)
    if len(assignments):
        assignments = assignments.sort_values(
            ["grid_code", "role", "seq"], key=_role_order
        ).reset_index(drop=True)
    unfilled = pd.DataFrame(unfilled_rows, columns=UNFILLED_COLUMNS)
    free = []
    n_posts = {post: int(grid_table[col].sum()) for post, (col, _) in POSTS.items()}
    post_of = {role: post for post, (_, roles) in POSTS.items() for role in roles}
    for i in np.flatnonzero(held == 0).tolist():
        role = person_role[i]
        person = {
            "name": roster["name"].iat[i],
            "role": role,
            "phone": roster["phone"].iat[i],
            "home": how[i],
            "capacity": int(roster["capacity"].iat[i]),
            "roster_row": int(roster["row"].iat[i]),
        }
        if role not in post_of:
            # a reserve (a category and no role): held back for posts left open
            cz = value_label("category", category[i], "zh")
            free.append(
                {
                    **person,
                    "reason": f"no post was left open for a {category[i]} (reserve) within reach",
                    "reason_zh": f"没有可由{cz}（后备人员）补缺的空缺岗位",
                }
            )
            continue
        post = post_of[role]
        col = POSTS[post][0]
        comm = comms[i]
        rz = value_label("role", post, "zh")
        if n_posts[post] == 0:
            reason = f"the plan has no {post} posts"
            reason_zh = f"规划中没有{rz}岗位"
        elif (
            comm is not None and not (grid_table.loc[grid_table["community_id"] == comm, col]).sum()
        ):
            reason = f"community {comm} has no {post} posts"
            reason_zh = f"社区{comm}没有{rz}岗位"
        else:
            reason = f"every {post} post went to someone living in the grid or closer"
            reason_zh = f"{rz}岗位均已由住在网格内或住得更近的人担任"
        free.append({**person, "reason": reason, "reason_zh": reason_zh})
    unassigned = pd.DataFrame(
        free,
        columns=["name", "role", "phone", "home", "capacity", "roster_row", "reason", "reason_zh"],
    )
    return assignments, unfilled, unassigned


ASSIGNMENT_COLUMNS = [
    "grid_code",
    "microgrid_code",
    "community_id",
    "role",
    "seq",
    "name",
    "person_role",
    "filled_from",
    "phone",
    "home",
    "lives_in_grid",
    "distance_m",
    "roster_row",
]
UNFILLED_COLUMNS = [
    "grid_code",
    "microgrid_code",
    "community_id",
    "role",
    "seq",
    "reason",
    "reason_zh",
]


def _role_order(col: pd.Series) -> pd.Series:
    # posts in the order of POSTS (grid head, full-time, part-time), other keys as they are
    if col.name == "role":
        return col.map({p: i for i, p in enumerate(POSTS)})
    return col


def fill_grid_table(grid_table: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    t = grid_table.copy()
    for role in ROLE_POST_COLUMN:
        a = assignments[assignments["role"] == role]
        need = ROLE_POST_COLUMN[role]
        counts = a.groupby("grid_code").size()
        names = a.groupby("grid_code")["name"].agg(lambda s: "、".join(map(str, s)))
        t[f"{role}_filled"] = t["grid_code"].map(counts).fillna(0).astype(np.int64)
        t[f"{role}_gap"] = (t[need] - t[f"{role}_filled"]).clip(lower=0).astype(np.int64)
        t[f"{role}_name"] = t["grid_code"].map(names)
    t["gap"] = sum(t[f"{role}_gap"] for role in ROLE_POST_COLUMN)
    return t
