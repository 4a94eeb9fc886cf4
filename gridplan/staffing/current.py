"""Current staff (现有社区工作者): the community workers each community has now, read from a
table, so the gap to the resident ratio (18 per 10,000) can be shown."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import Problem, ValidationError, describe_rows
from ..io import find_column, read_table
from ..validate import normalize_ids
from .inputs import NO_COMMUNITY, numeric_values

__all__ = ["CURRENT_COLUMNS", "apply_current_staff", "read_current_staff"]

_ID_NAMES = ("community_id", "社区编号", "社区编码", "community_code", "community", "社区")
_NAME_NAMES = ("community_name", "社区名称", "name", "名称")
_COUNT_NAMES = (
    "current_workers",
    "community_workers",
    "workers",
    "在岗社区工作者",
    "现有社区工作者",
    "社区工作者",
    "社区工作者人数",
    "现有人数",
    "在岗人数",
    "人数",
)

#: columns :func:`apply_current_staff` adds to the communities and streets tables
CURRENT_COLUMNS = ["current_workers", "current_per_10k", "workers_gap"]


def read_current_staff(
    source: str | Path | pd.DataFrame,
    *,
    communities: pd.DataFrame,
    flag: str = "`current_staff=`",
) -> dict[str, float]:
    """Community id -> community workers it has now.

    ``source`` is a CSV/XLSX (or frame) with the community (``community_id``/社区编号, or its
    name 社区名称) and the count (``current_workers``/在岗社区工作者/社区工作者/人数).
    ``communities`` is the staffing plan's communities table: rows naming another community,
    a missing or negative count, or a community twice are one error naming them.
    """
    if isinstance(source, pd.DataFrame):
        table, label = source.copy(), "current staff"
    else:
        p = Path(source)
        table, label = read_table(p, dtype=object), p.name
    cols = [str(c) for c in table.columns]
    table.columns = cols
    table = table.reset_index(drop=True)
    id_col = find_column(cols, _ID_NAMES)
    name_col = find_column(cols, _NAME_NAMES)
    count_col = find_column(cols, _COUNT_NAMES)
    if count_col is None or (id_col is None and name_col is None):
        raise ValidationError(
            [
                Problem(
                    label,
                    "missing_column",
                    f"the current-staff table needs a community column (community_id/社区编号 "
                    f"or 社区名称) and a count (current_workers/在岗社区工作者/人数); columns: "
                    f"{', '.join(cols[:20])}; fix the table given to {flag}",
                )
            ]
        )
    ids = set(communities["community_id"].astype(str)) - {NO_COMMUNITY}
    by_name = {
        str(n): str(c)
        for c, n in zip(communities["community_id"], communities["community_name"], strict=True)
        if isinstance(n, str) and n
    }
    keys = normalize_ids(table[id_col]) if id_col else [None] * len(table)
    names = normalize_ids(table[name_col]) if name_col else [None] * len(table)
    counts, unreadable = numeric_values(table[count_col])
    out: dict[str, float] = {}
    unknown, bad, twice = [], [], []
    for i, (k, n, v) in enumerate(zip(keys, names, counts.to_numpy(), strict=True)):
        row = f"row {i + 2}"
        cid = k if k in ids else by_name.get(n or "", None)
        if cid is None:
            if k is None and n is None:
                continue  # a blank row
            unknown.append(f"{row}: {k or n}")
            continue
        if unreadable[i] or np.isnan(v) or v < 0:
            bad.append(f"{row} ({cid})")
            continue
        if cid in out:
            twice.append(f"{row} ({cid})")
            continue
        out[cid] = float(v)
    problems = []
    if unknown:
        problems.append(
            Problem(
                label,
                "unknown_community",
                f"{len(unknown)} rows name communities that are not in the plan "
                f"({describe_rows(unknown)}); use the plan's community_id or 社区名称 in {flag}",
            )
        )
    if bad:
        problems.append(
            Problem(
                label,
                "count",
                f"{len(bad)} rows have a missing, negative or non-numeric count "
                f"({describe_rows(bad)}); expected whole numbers >= 0 in {flag}",
            )
        )
    if twice:
        problems.append(
            Problem(
                label,
                "duplicate",
                f"{len(twice)} communities are given twice ({describe_rows(twice)}); give each "
                f"community one row in {flag}",
            )
        )
    if problems:
        raise ValidationError(problems)
    return out


def apply_current_staff(communities: pd.DataFrame, current: dict[str, float]) -> pd.DataFrame:
    """The communities with ``current_workers`` (blank where not given), ``current_per_10k``
    (the ratio they stand at now) and ``workers_gap`` (workers still needed to reach the
    ratio's ``community_workers``; 0 where they already do)."""
    c = communities.copy()
    now = c["community_id"].astype(str).map(current).astype(float)
    c["current_workers"] = now
    res = c["residents"].astype(float)
    c["current_per_10k"] = np.where(res > 0, np.round(now / res * 10_000, 2), np.nan)
    gap = (c["community_workers"].astype(float) - now).clip(lower=0)
    c["workers_gap"] = gap.astype("Int64")
    return c
