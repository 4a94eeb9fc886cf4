"""Building and stairwell heads (楼栋长/单元长) from a household roster's role column.

A household roster (:mod:`gridplan.addresses`) often marks the householder who serves as
building or stairwell head in a role column (角色/身份/职务). Once the roster is planned, its
household list (:func:`gridplan.addresses.household_equivalency`, or the CSV/XLSX that
``gridplan plan --roster`` writes) gives every row its micro-grid, so each head is assigned to
the micro-grid that holds their address. Heads commonly serve as their micro-grid's part-time
grid worker (兼职网格员): they fill the part-time posts of their own micro-grid that the named
roster left open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..addresses import ROSTER_HEADERS
from ..diagnostics import Diagnostic
from ..errors import Problem, ValidationError, describe_rows
from ..i18n import column_label
from ..io import find_column, read_table
from .roster import ROLES

__all__ = ["HEAD_COLUMNS", "HEAD_ROLES", "heads_from_households", "read_household_list"]

#: roles a household roster may give that staffing takes, in the order a micro-grid's
#: part-time post goes to them
HEAD_ROLES = ("parttime_worker", "unit_head", "building_head")

#: columns of :attr:`gridplan.staffing.Staffing.heads`
HEAD_COLUMNS = [
    "microgrid_code",
    "grid_code",
    "community_id",
    "role",
    "name",
    "phone",
    "address",
    "roster_row",
    "serves_as_parttime",
]


def _aliases(field: str, *canonical: str) -> tuple[str, ...]:
    """A field's names: canonical, as the household list labels it (zh/en), and the roster's."""
    out: list[str] = []
    for c in canonical:
        out += [c, column_label(c, "zh"), column_label(c, "en")]
    return (*out, *ROSTER_HEADERS.get(field, ()))


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    s = str(value).strip()
    # codes written for Excel as ="001..." by the household list's CSV
    if s.startswith('="') and s.endswith('"'):
        s = s[2:-1]
    if s.endswith(".0") and s[:-2].isdigit():
        s = s[:-2]
    return s or None


def read_household_list(source: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The household list as a frame of text, and the name its problems are reported under."""
    if isinstance(source, pd.DataFrame):
        return source.copy(), "households"
    p = Path(source)
    if p.suffix.lower() not in (".csv", ".txt", ".xlsx", ".xlsm"):
        raise ValidationError(
            [
                Problem(
                    p.name,
                    "format",
                    f"cannot read the household list {p.name!r}: expected the .csv or .xlsx "
                    "that `gridplan plan --roster` writes",
                )
            ]
        )
    return read_table(p, dtype=object), p.name


def heads_from_households(
    source: str | Path | pd.DataFrame,
    *,
    known_microgrids: set[str] | None = None,
    interface_flag: str = "`household_list=`",
) -> tuple[pd.DataFrame, list[Diagnostic]]:
    """The heads a household list names, each with the micro-grid holding their address.

    Parameters
    ----------
    source
        A household list: :func:`gridplan.addresses.household_equivalency`'s frame, or the
        CSV/XLSX ``gridplan plan --roster`` writes (Chinese or English headers). It needs a
        role column (角色/身份/职务/role), a name (户主/姓名/name) and ``microgrid_code``.
    known_microgrids
        Micro-grid codes of the plan: a head whose micro-grid is not among them is refused.
    interface_flag
        How the error names the input (``--households`` on the command line).

    Returns
    -------
    heads, records
        One row per head (:data:`HEAD_COLUMNS`, ``serves_as_parttime`` still False), and a
        diagnostic for rows whose role is not a staffing role and heads whose address joined
        no micro-grid (they are listed, never dropped).
    """
    table, label = read_household_list(source)
    cols = [str(c) for c in table.columns]
    table.columns = cols
    table = table.reset_index(drop=True)
    role_col = find_column(cols, _aliases("role", "role"))
    name_col = find_column(cols, _aliases("head", "person_name", "name"))
    micro_col = find_column(cols, _aliases("", "microgrid_code"))
    missing = [
        what
        for what, col in (
            ("role column (角色/身份/职务)", role_col),
            ("name column (户主/姓名)", name_col),
            ("micro-grid code column (`microgrid_code`, 微网格编码)", micro_col),
        )
        if col is None
    ]
    if missing:
        raise ValidationError(
            [
                Problem(
                    label,
                    "missing_column",
                    f"the household list has no {', no '.join(missing)} (columns: "
                    f"{', '.join(cols[:20])}); give {interface_flag} the household list "
                    "`gridplan plan --roster` wrote from a roster with a role column",
                )
            ]
        )
    assert role_col and name_col and micro_col
    grid_col = find_column(cols, _aliases("", "grid_code"))
    phone_col = find_column(cols, _aliases("phone", "phone"))
    addr_col = find_column(cols, _aliases("", "address"))
    row_col = find_column(cols, _aliases("", "roster_row"))
    lookup = {a.lower(): r for r in HEAD_ROLES for a in ROLES[r]}
    other_roles = {a.lower() for r, names in ROLES.items() if r not in HEAD_ROLES for a in names}
    rows: list[dict[str, Any]] = []
    ignored: list[str] = []
    unplaced: list[str] = []
    unknown_micro: list[str] = []
    for i, rec in enumerate(table.to_dict("records")):
        role_text = _text(rec[role_col])
        if role_text is None:
            continue
        sheet_row = _text(rec[row_col]) if row_col else None
        who = f"row {sheet_row or i + 2}"
        role = lookup.get(role_text.lower())
        if role is None:
            if role_text.lower() not in other_roles:
                ignored.append(f"{who}: {role_text!r}")
            continue
        micro = _text(rec[micro_col])
        name = _text(rec[name_col])
        if micro is None or ";" in micro:
            unplaced.append(f"{who} ({name or '?'})")
            continue
        if known_microgrids is not None and micro not in known_microgrids:
            unknown_micro.append(f"{who}: {micro}")
            continue
        rows.append(
            {
                "microgrid_code": micro,
                "grid_code": _text(rec[grid_col]) if grid_col else None,
                "community_id": None,
                "role": role,
                "name": name,
                "phone": _text(rec[phone_col]) if phone_col else None,
                "address": _text(rec[addr_col]) if addr_col else None,
                "roster_row": int(float(sheet_row)) if sheet_row else i + 2,
                "serves_as_parttime": False,
            }
        )
    if unknown_micro:
        raise ValidationError(
            [
                Problem(
                    label,
                    "unknown_microgrid",
                    f"{len(unknown_micro)} heads are in micro-grids that are not in the plan "
                    f"({describe_rows(unknown_micro)}); give {interface_flag} the household "
                    "list written with this plan",
                )
            ]
        )
    records: list[Diagnostic] = []
    if unplaced:
        records.append(
            Diagnostic(
                level="staffing",
                code="heads_unplaced",
                params={"topic": "heads", "n": len(unplaced), "rows": describe_rows(unplaced)},
                fix="staffing_heads_join",
            )
        )
    if ignored:
        records.append(
            Diagnostic(
                level="staffing",
                code="household_roles_ignored",
                severity="info",
                params={"topic": "heads", "n": len(ignored), "rows": describe_rows(ignored)},
                fix="staffing_head_roles",
            )
        )
    heads = pd.DataFrame(rows, columns=HEAD_COLUMNS)
    return heads, records


def heads_fill_parttime(
    heads: pd.DataFrame,
    slots: list[tuple[str, str, int, str | None, Any]],
    filled: set[tuple[str, int]],
) -> tuple[pd.DataFrame, list[tuple[int, int]]]:
    """Heads take the open part-time posts of their own micro-grid (part-time workers named
    in the household list first, then stairwell heads, then building heads; sheet order).

    ``slots`` are the part-time posts (grid, community, seq, micro-grid, point), ``filled`` the
    (micro-grid, seq) pairs the named roster holds. Returns the heads with
    ``serves_as_parttime`` set, and the (head row, slot index) pairs.
    """
    heads = heads.copy()
    rank = {r: k for k, r in enumerate(HEAD_ROLES)}
    roles = [str(r) for r in heads["role"]]
    sheet_rows = heads["roster_row"].to_numpy(dtype=np.int64)
    order = sorted(range(len(heads)), key=lambda i: (rank[roles[i]], int(sheet_rows[i])))
    serves = np.zeros(len(heads), dtype=bool)
    open_slots: dict[str, list[int]] = {}
    for b, (_g, _c, seq, micro, _pt) in enumerate(slots):
        if micro is not None and (micro, seq) not in filled:
            open_slots.setdefault(micro, []).append(b)
    pairs: list[tuple[int, int]] = []
    for i in order:
        free = open_slots.get(str(heads["microgrid_code"].iat[i]), [])
        if free:
            pairs.append((i, free.pop(0)))
            serves[i] = True
    heads["serves_as_parttime"] = serves
    return heads, pairs
