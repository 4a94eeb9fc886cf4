"""Posts per grid, community and street: grid heads, full-time and part-time grid workers,
dedicated-grid contacts and community workers by the resident ratio."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..config import StaffingRules
from ..diagnostics import Diagnostic
from ..errors import describe_rows
from .inputs import NO_COMMUNITY, PlanFrames

__all__ = [
    "DEDICATED_RESIDENT_COLUMNS",
    "FILLED_COLUMNS",
    "POST_COLUMNS",
    "community_posts",
    "community_workers_needed",
    "dedicated_resident_posts",
    "grid_posts",
    "post_diagnostics",
    "street_posts",
]


def community_workers_needed(residents: float, per_10k: float) -> int:
    """Community workers for ``residents`` at ``per_10k`` per 10,000, rounded up.

    Examples
    --------
    >>> community_workers_needed(12_345, 18), community_workers_needed(12_345, 25)
    (23, 31)
    >>> community_workers_needed(10_000, 18)
    18
    """
    if not residents or residents <= 0:
        return 0
    exact = residents * per_10k / 10_000
    # tolerate float noise so 10,000 residents at 18 give 18, not 19
    return math.ceil(exact - 1e-9 * max(1.0, exact))


# ---------------------------------------------------------------------------------------------
# posts
# ---------------------------------------------------------------------------------------------


def _residents(frames: PlanFrames, rules: StaffingRules) -> tuple[np.ndarray, np.ndarray]:
    """Residents per grid and whether any of them were estimated.

    With units: residents of buildings wholly inside the grid are counted where given; every
    other household of the grid (unknown population, or a building split between grids) is
    estimated as ``household_size`` residents. Without units: the grid's ``population``,
    estimated where missing.
    """
    g = frames.grids
    hh = g["households"].to_numpy(dtype=float)
    # units are the source of truth whenever they carry a population column, even a blank one
    if frames.units is not None and "population" in frames.unit_columns:
        u = frames.units
        whole = (u["n_parts"] <= 1) & u["population"].notna()
        counted = u[whole].groupby("grid_code")
        known_pop = g["grid_code"].map(counted["population"].sum()).fillna(0.0).to_numpy()
        known_hh = g["grid_code"].map(counted["households"].sum()).fillna(0.0).to_numpy()
        rest = np.clip(hh - known_hh, 0, None)
        return known_pop + rest * rules.household_size, rest > 0
    pop = g["population"].to_numpy(dtype=float)
    missing = np.isnan(pop)
    estimated = missing | g["population_estimated"].to_numpy(dtype=bool)
    return np.where(missing, hh * rules.household_size, pop), estimated & (hh > 0)


def grid_posts(frames: PlanFrames, rules: StaffingRules) -> pd.DataFrame:
    g = frames.grids
    res = (g["kind"] == "residential").to_numpy()
    staffed = res | rules.staff_dedicated_grids
    residents, estimated = _residents(frames, rules)
    out = pd.DataFrame(
        {
            "grid_code": g["grid_code"].to_numpy(dtype=object),
            "community_id": g["community_id"].to_numpy(dtype=object),
            "community_name": g["community_id"].map(frames.community_names).to_numpy(dtype=object),
            "street_id": g["street_id"].to_numpy(dtype=object),
            "kind": g["kind"].to_numpy(dtype=object),
            "households": g["households"].to_numpy(dtype=np.int64),
            "residents": residents,
            "residents_estimated": estimated,
            "n_microgrids": g["n_microgrids"].to_numpy(dtype=np.int64),
            "grid_head": np.where(staffed, rules.grid_heads_per_grid, 0),
            "fulltime_worker": np.where(staffed, rules.fulltime_workers_per_grid, 0),
            "parttime_workers": g["n_microgrids"].to_numpy(dtype=np.int64)
            * rules.parttime_workers_per_microgrid,
            "dedicated_contact": np.where(res, 0, rules.dedicated_contacts_per_dedicated_grid),
        }
    )
    for c in ("grid_head", "fulltime_worker", "parttime_workers", "dedicated_contact"):
        out[c] = out[c].astype(np.int64)
    # paid posts and volunteers are never added together: a part-time grid worker is a
    # resident volunteer, a grid head and a full-time grid worker are community staff
    out["paid_posts"] = out["grid_head"] + out["fulltime_worker"]
    return out


#: columns of :attr:`gridplan.staffing.Staffing.dedicated_residents`
DEDICATED_RESIDENT_COLUMNS = [
    "grid_code",
    "community_id",
    "community_name",
    "households",
    "residents",
    "residents_estimated",
    "served_by",
    "dedicated_contact",
    "grid_head",
    "fulltime_worker",
]


def dedicated_resident_posts(grid_table: pd.DataFrame, rules: StaffingRules) -> pd.DataFrame:
    """Who serves the households of each dedicated grid that has any, one row per grid.

    ``served_by`` is ``grid_staff`` where dedicated grids get a grid head and a full-time
    grid worker (``rules.staff_dedicated_grids``), else ``dedicated_contact``: only the host
    institution's contact serves them, which a planner must confirm. A plan that planned
    those homes into residential grids (``dedicated_residents = "residential"``) has no row.
    """
    lived = grid_table[(grid_table["kind"] == "dedicated") & (grid_table["households"] > 0)]
    out = lived.assign(
        served_by="grid_staff" if rules.staff_dedicated_grids else "dedicated_contact"
    )
    return out[DEDICATED_RESIDENT_COLUMNS].reset_index(drop=True)


POST_COLUMNS = [
    "grid_head",
    "fulltime_worker",
    "parttime_workers",
    "dedicated_contact",
    "paid_posts",
]
FILLED_COLUMNS = [
    "grid_head_filled",
    "fulltime_worker_filled",
    "parttime_worker_filled",
    "grid_head_gap",
    "fulltime_worker_gap",
    "parttime_worker_gap",
    "gap",
]


def _rollup(grid_table: pd.DataFrame, keys: list[str], *, filled: bool) -> pd.DataFrame:
    t = grid_table.assign(
        dedicated_grids=(grid_table["kind"] == "dedicated").astype(np.int64),
        grids=1,
    )
    sums = {
        "grids": "sum",
        "dedicated_grids": "sum",
        "n_microgrids": "sum",
        "households": "sum",
        "residents": "sum",
        "residents_estimated": "any",
        **{c: "sum" for c in POST_COLUMNS},
    }
    if filled:
        sums.update({c: "sum" for c in FILLED_COLUMNS})
    return t.groupby(keys, sort=True, dropna=False).agg(sums).reset_index()


def community_posts(
    grid_table: pd.DataFrame, frames: PlanFrames, rules: StaffingRules, *, filled: bool
) -> pd.DataFrame:
    c = _rollup(grid_table, ["community_id"], filled=filled)
    first = grid_table.groupby("community_id", sort=False).agg(
        street_id=("street_id", "first"),
    )
    c["street_id"] = c["community_id"].map(first["street_id"])
    code = frames.grids.groupby("community_id")["community_code"].first()
    c["community_code"] = c["community_id"].map(code)
    c["community_name"] = c["community_id"].map(frames.community_names)
    # grids with no community (enterprise residents, say) are no community's to staff
    real = (c["community_id"] != NO_COMMUNITY).to_numpy()
    c["community_workers"] = [
        community_workers_needed(r, rules.community_workers_per_10k) if ok else 0
        for r, ok in zip(c["residents"], real, strict=True)
    ]
    c["community_workers"] = c["community_workers"].astype(np.int64)
    c["paid_staff"] = paid_staff(c, rules)
    head = ["community_id", "community_code", "community_name", "street_id"]
    tail = ("paid_posts", "community_workers", "paid_staff")
    rest = [x for x in c.columns if x not in head and x not in tail]
    cols = head + rest[: rest.index("dedicated_contact") + 1] + list(tail)
    cols += [x for x in rest if x not in cols]
    return c[cols]


def paid_staff(c: pd.DataFrame, rules: StaffingRules) -> np.ndarray:
    """Paid community staff a community needs: the resident ratio's community workers, who
    include the grid heads (and the full-time grid workers where
    ``fulltime_are_community_workers``), or more where the grids need more."""
    workers = c["community_workers"].to_numpy(dtype=np.int64)
    heads = c["grid_head"].to_numpy(dtype=np.int64)
    fulltime = c["fulltime_worker"].to_numpy(dtype=np.int64)
    if rules.fulltime_are_community_workers:
        return np.maximum(workers, heads + fulltime)
    return np.maximum(workers, heads) + fulltime


def street_posts(communities: pd.DataFrame, frames: PlanFrames, *, filled: bool) -> pd.DataFrame:
    t = communities.assign(communities=1)
    sums: dict[str, str] = {
        "communities": "sum",
        "grids": "sum",
        "dedicated_grids": "sum",
        "n_microgrids": "sum",
        "households": "sum",
        "residents": "sum",
        "residents_estimated": "any",
        "grid_head": "sum",
        "fulltime_worker": "sum",
        "parttime_workers": "sum",
        "dedicated_contact": "sum",
        "paid_posts": "sum",
        "community_workers": "sum",
        "paid_staff": "sum",
    }
    if filled:
        sums.update({c: "sum" for c in FILLED_COLUMNS})
    s = t.groupby("street_id", sort=True, dropna=False).agg(sums).reset_index()
    s.insert(1, "street_name", s["street_id"].map(frames.street_names))
    return s


def post_diagnostics(
    grid_table: pd.DataFrame, communities: pd.DataFrame, rules: StaffingRules
) -> list[Diagnostic]:
    """Estimated residents, dedicated grids with homes, and communities whose resident ratio
    gives fewer community workers than they need grid heads."""
    out: list[Diagnostic] = []
    est = grid_table[grid_table["residents_estimated"]]
    if len(est):
        codes = [str(c) for c in est["grid_code"]]
        out.append(
            Diagnostic(
                level="staffing",
                code="residents_estimated",
                severity="info",
                households=int(est["households"].sum()),
                params={
                    "topic": "posts",
                    "n_grids": len(codes),
                    "grid_codes": codes,
                    "grids": describe_rows(codes),
                    "household_size": rules.household_size,
                },
                fix="staffing_give_population",
            )
        )
    if not rules.staff_dedicated_grids:
        lived = grid_table[(grid_table["kind"] == "dedicated") & (grid_table["households"] > 0)]
        for row in lived.to_dict("records"):
            out.append(
                Diagnostic(
                    level="staffing",
                    code="dedicated_with_households",
                    community_id=str(row["community_id"]),
                    grid_code=str(row["grid_code"]),
                    households=int(row["households"]),
                    params={"topic": "posts"},
                    fix="staffing_staff_dedicated",
                )
            )
    real = communities[communities["community_id"] != NO_COMMUNITY]
    short = real[real["community_workers"] < real["grid_head"]]
    for row in short.to_dict("records"):
        out.append(
            Diagnostic(
                level="staffing",
                code="grid_heads_beyond_workers",
                community_id=str(row["community_id"]),
                params={
                    "topic": "posts",
                    "grid_heads": int(row["grid_head"]),
                    "workers": int(row["community_workers"]),
                },
                fix="staffing_other_grid_heads",
            )
        )
    if rules.fulltime_are_community_workers:
        # the grids' paid posts come out of the community workers: say where they do not fit
        grid_paid = real["grid_head"] + real["fulltime_worker"]
        over = real[grid_paid > real["community_workers"]]
        if len(over):
            ids = [str(x) for x in over["community_id"]]
            out.append(
                Diagnostic(
                    level="staffing",
                    code="grid_posts_beyond_ratio",
                    households=int(over["households"].sum()),
                    params={
                        "topic": "posts",
                        "n_communities": len(ids),
                        "n_all": len(real),
                        "community_ids": ids,
                        "communities": describe_rows(ids),
                        "grid_posts": int((over["grid_head"] + over["fulltime_worker"]).sum()),
                        "workers": int(over["community_workers"].sum()),
                        "per_10k": f"{rules.community_workers_per_10k:g}",
                    },
                    fix="staffing_ratio_or_grids",
                )
            )
    no_comm = grid_table[grid_table["community_id"] == NO_COMMUNITY]
    if len(no_comm) and int(no_comm["households"].sum()) > 0:
        codes = [str(x) for x in no_comm["grid_code"]]
        out.append(
            Diagnostic(
                level="staffing",
                code="grids_without_community",
                households=int(no_comm["households"].sum()),
                params={"topic": "posts", "n_grids": len(codes), "grids": describe_rows(codes)},
                fix="staffing_give_communities",
            )
        )
    return out
