"""The three tables a street office files (报表): 汇总表 (posts, workers and party organisation
per community, with street and grand totals), 网格员花名册 (every post and who holds it) and
党组织设置表 (the party organisation per community and street)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .assign import ASSIGNMENT_COLUMNS
from .inputs import NO_COMMUNITY
from .party import PARTY_COMMUNITY_COLUMNS

if TYPE_CHECKING:
    from .plan import Staffing

__all__ = ["party_setup_table", "summary_table", "worker_roster_table"]

#: columns of the 汇总表, in order (those the plan has)
SUMMARY_COLUMNS = [
    "street_name",
    "street_id",
    "community_name",
    "community_id",
    "households",
    "residents",
    "grids",
    "dedicated_grids",
    "n_microgrids",
    "grid_head",
    "fulltime_worker",
    "parttime_workers",
    "community_workers",
    "current_workers",
    "workers_gap",
    "paid_staff",
    "gap",
    "party_level",
    "members",
    "branches",
    "central_households",
]

#: columns of the 党组织设置表: the community party table, streets' names first
PARTY_SETUP_COLUMNS = [
    "street_name",
    *(c for c in PARTY_COMMUNITY_COLUMNS if c not in ("formed_by_reform", "compounds")),
]

_TOTAL = {"zh": "合计", "en": "Total"}


def _with_totals(
    rows: pd.DataFrame, columns: list[str], *, label: str, sums: list[str]
) -> pd.DataFrame:
    """``rows`` with a total row after each street's communities and a grand total."""
    rows = rows[[c for c in columns if c in rows.columns]].copy()
    out = []
    for _street, part in rows.groupby("street_id", sort=True, dropna=False):
        out.append(part)
        if rows["street_id"].nunique(dropna=False) > 1:
            out.append(_total_row(part, label=f"{label}", sums=sums, keep_street=True))
    out.append(_total_row(rows, label=label, sums=sums, keep_street=False))
    return pd.concat(out, ignore_index=True)


def _total_row(
    part: pd.DataFrame, *, label: str, sums: list[str], keep_street: bool
) -> pd.DataFrame:
    row: dict[str, object] = {c: None for c in part.columns}
    if keep_street:
        row["street_id"] = part["street_id"].iloc[0]
        if "street_name" in part.columns:
            row["street_name"] = part["street_name"].iloc[0]
    row["community_name"] = label
    for c in sums:
        if c in part.columns:
            v = pd.to_numeric(part[c], errors="coerce")
            row[c] = float(v.sum()) if v.notna().any() else np.nan
    return pd.DataFrame([row], columns=part.columns)


def summary_table(s: Staffing, *, language: str = "zh") -> pd.DataFrame:
    """汇总表: one row per community (pseudo-community of grids in none excluded), a total per
    street and a grand total."""
    c = s.communities[s.communities["community_id"] != NO_COMMUNITY].copy()
    names = dict(zip(s.streets["street_id"], s.streets["street_name"], strict=True))
    c["street_name"] = c["street_id"].map(names)
    if s.party_communities is not None:
        p = s.party_communities.set_index("community_id")
        for col in ("party_level", "members", "branches", "central_households"):
            c[col] = c["community_id"].map(p[col])
    sums = [x for x in SUMMARY_COLUMNS[4:] if x != "party_level"]
    return _with_totals(c, SUMMARY_COLUMNS, label=_TOTAL[language], sums=sums)


def party_setup_table(s: Staffing, *, language: str = "zh") -> pd.DataFrame | None:
    """党组织设置表: the party organisation per community, street totals and a grand total."""
    if s.party_communities is None:
        return None
    p = s.party_communities.copy()
    names = dict(zip(s.streets["street_id"], s.streets["street_name"], strict=True))
    p["street_name"] = p["street_id"].map(names)
    sums = [x for x in PARTY_SETUP_COLUMNS if x not in [*PARTY_SETUP_COLUMNS[:4], "party_level"]]
    return _with_totals(p, PARTY_SETUP_COLUMNS, label=_TOTAL[language], sums=sums)


def worker_roster_table(s: Staffing) -> pd.DataFrame | None:
    """网格员花名册: every grid-head, full-time and part-time post with who holds it (a post
    no one holds is listed with its reason), in grid-code order."""
    if not s.has_roster:
        return None
    comm = s.grids.set_index("grid_code")
    a = s.assignments.assign(reason=None)
    u = s.unfilled.copy()
    cols = [c for c in ASSIGNMENT_COLUMNS if c not in ("community_id", "roster_row")]
    cols.append("reason")
    keep = ["reason", "reason_zh"]
    both = pd.concat(
        [a.reindex(columns=[*cols, "reason_zh"]), u.reindex(columns=[*cols[:4], *keep])],
        ignore_index=True,
    )
    order = {"grid_head": 0, "fulltime_worker": 1, "parttime_worker": 2}
    both = both.sort_values(
        ["grid_code", "role", "microgrid_code", "seq"],
        key=lambda col: col.map(order) if col.name == "role" else col.astype(str),
        kind="stable",
    ).reset_index(drop=True)
    both.insert(0, "community_name", both["grid_code"].map(comm["community_name"]))
    both.insert(0, "community_id", both["grid_code"].map(comm["community_id"]))
    both.insert(0, "street_id", both["grid_code"].map(comm["street_id"]))
    return both
