"""Grid versions (issue 16): every grid carries ``valid_from``, ``valid_to`` and
``previous_code``, and a plan's ``versions`` table lists its grids and every grid retired
along its chain of versions (DB11/T 2157-2023 keeps start and end dates on every grid).

A grid of a re-plan that holds exactly the units and households of an old grid of the same
code *is* that old grid: it keeps its ``valid_from`` and ``previous_code``, so re-planning
unchanged data gives the same files. Any other grid is a new version from the plan date:
``previous_code`` is the code it continues (its own, when it kept or inherited one) or the
old grid that gave it most households. An old grid whose code is gone is retired: its row
in ``versions`` is valid to the plan date.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .previous import PreviousPlan
from .stages import VERSION_COLUMNS, Plan, versions_table

__all__ = ["VERSION_COLUMNS", "add_versions", "versions_table"]


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value)
    return text or None


def add_versions(plan: Plan, previous: PreviousPlan | None = None) -> Plan:
    """``plan`` with version columns on its grids and a ``versions`` report table,
    continuing ``previous`` (see the module docstring).

    Parameters
    ----------
    plan
        A plan whose grids already carry ``valid_from`` (the plan date), ``valid_to`` and
        ``previous_code`` (empty), as :func:`gridplan.stages.assemble` gives them.
    previous
        The previous plan (:func:`gridplan.previous.read_previous`); None for a first plan.

    Returns
    -------
    Plan
    """
    if previous is None:
        return plan  # a first plan: assemble gave every grid the plan date
    date = _text(plan.rules.codes.plan_date)
    grids = plan.grids.copy()
    retired = None
    parts = plan.unit_parts if plan.unit_parts is not None else pd.DataFrame()
    new_members: dict[str, frozenset[str]] = {}
    if len(parts):
        placed = parts.dropna(subset=["grid_code"])
        for c, t in placed.groupby("grid_code", sort=True):
            new_members[str(c)] = frozenset(map(str, t["unit_id"]))
    old_members: dict[str, set[str]] = {}
    for u, c in previous.grid.items():
        old_members.setdefault(c, set()).add(u)
    hist = (
        previous.versions.set_index("grid_code")
        if len(previous.versions) and "grid_code" in previous.versions.columns
        else pd.DataFrame()
    )
    # households each new grid received from each old grid
    flows = pd.DataFrame()
    if len(parts):
        f = parts.assign(old=parts["unit_id"].astype(str).map(previous.grid)).dropna(
            subset=["old", "grid_code"]
        )
        flows = f.groupby(["grid_code", "old"], sort=True)["households"].sum().reset_index()
        flows = flows.sort_values(
            ["grid_code", "households", "old"], ascending=[True, False, True], kind="stable"
        ).drop_duplicates("grid_code")
    main_old = dict(zip(flows.get("grid_code", []), flows.get("old", []), strict=True))
    vf, pc = [], []
    for code, hh, kind in zip(grids["grid_code"], grids["households"], grids["kind"], strict=True):
        code = str(code)
        same = code in previous.current and (
            (kind == "dedicated" and code in previous.dedicated.values())
            or (
                new_members.get(code) == frozenset(old_members.get(code, ()))
                and (
                    code not in previous.grid_households
                    or float(previous.grid_households[code]) == float(hh)
                )
            )
        )
        if same:
            row = hist.loc[code] if code in hist.index else None
            vf.append(_text(row["valid_from"]) if row is not None else None)
            pc.append(
                _text(row["previous_code"])
                if row is not None and "previous_code" in row.index
                else None
            )
        else:
            vf.append(date)
            pc.append(code if code in previous.codes else _text(main_old.get(code)))
    grids["valid_from"] = pd.Series(vf, index=grids.index, dtype=object)
    grids["previous_code"] = pd.Series(pc, index=grids.index, dtype=object)
    gone = sorted(previous.current - set(grids["grid_code"].astype(str)))
    rows: list[dict[str, object]] = []
    for code in gone:
        row = hist.loc[code] if code in hist.index else None
        rows.append(
            {
                "grid_code": code,
                "valid_from": _text(row["valid_from"]) if row is not None else None,
                "valid_to": date,
                "previous_code": _text(row.get("previous_code")) if row is not None else None,
                "version_status": "retired",
            }
        )
    # grids retired in earlier versions stay listed, so their codes are never reused
    if len(hist) and "version_status" in hist.columns:
        earlier = hist[hist["version_status"].astype(str) == "retired"].reset_index()
        earlier = earlier[~earlier["grid_code"].isin(gone)]
        rows.extend(
            {str(k): v for k, v in r.items()}
            for r in earlier[list(VERSION_COLUMNS)].to_dict("records")
        )
    retired = pd.DataFrame(rows, columns=list(VERSION_COLUMNS))
    for col in ("valid_from", "valid_to", "previous_code"):
        grids[col] = grids[col].astype(object).where(grids[col].notna(), None)
    grids["valid_to"] = np.full(len(grids), None, dtype=object)
    report = {**plan.report, "versions": versions_table(grids, retired)}
    return replace(plan, grids=grids, report=report)
