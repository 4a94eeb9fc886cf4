"""The 村改社区 before/after report as a street office files it: an Excel workbook in Chinese
(or English) with the counts before and after, the new communities with their names, codes,
service reach and party organisation, the old → new mapping per village and the streets."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from .. import diagnostics as dg
from ..config import StaffingRules
from ..errors import Problem, ValidationError
from ..export import excel_path, write_workbook
from ..i18n import label_columns, label_values, sheet_label

if TYPE_CHECKING:
    from .rules import Reform

__all__ = ["reform_tables", "reform_workbook"]

log = logging.getLogger(__name__)

Language = Literal["zh", "en"]

#: columns of the new-communities sheet, in order (those the result has)
COMMUNITY_COLUMNS = (
    "code",
    "community_id",
    "name",
    "name_proposed",
    "street_id",
    "households",
    "population",
    "party_members",
    "party_level",
    "stationed_units",
    "previous_codes",
    "kept",
    "in_bounds",
    "service_reach_m",
    "community_workers",
    "households_per_worker",
)


def _party(reform: Reform, rules: StaffingRules) -> tuple[pd.Series, pd.Series]:
    """Party members per new community (where the units give them) and the community's party
    organisation: 社区大党委 where units are stationed in it (``stationed_units``, the
    dedicated areas within it), else 党支部/党总支/党委 by its members."""
    from ..staffing.party import community_party_level

    c = reform.communities
    members = pd.Series(np.nan, index=c.index)
    u = reform.units
    if "party_members" in u.columns:
        num = pd.to_numeric(u["party_members"], errors="coerce")
        per = num.groupby(u["community_id"]).sum(min_count=1)
        members = c["community_id"].map(per)
    stationed = (
        c["stationed_units"].fillna(0).astype(int)
        if "stationed_units" in c.columns
        else pd.Series(0, index=c.index)
    )
    levels = [
        community_party_level(float(m), rules=rules, stationed=int(n))
        for m, n in zip(members, stationed, strict=True)
    ]
    return members, pd.Series(levels, index=c.index, dtype=object)


def reform_tables(
    reform: Reform, *, language: Language = "zh", staffing: StaffingRules | None = None
) -> dict[str, pd.DataFrame]:
    """The report's sheets (keys are sheet names in ``language``), values in words."""
    if language not in ("zh", "en"):
        raise ValidationError(
            [Problem("export", "language", f"`language` must be 'zh' or 'en', got {language!r}")]
        )
    rules = staffing or StaffingRules()
    c = reform.communities.drop(columns="geometry").copy()
    c["party_members"], c["party_level"] = _party(reform, rules)
    c = c[[k for k in COMMUNITY_COLUMNS if k in c.columns]]
    counts = reform.report["counts"].copy()
    limit = float(reform.rules.max_service_distance_m)
    reach = reform.communities["service_reach_m"]
    extra = [
        ("max_service_reach_m", np.nan, float(reach.max()) if len(reach) else np.nan),
        (
            "max_households_per_worker",
            np.nan,
            float(reform.communities["households_per_worker"].max()) if len(reach) else np.nan,
        ),
    ]
    if limit > 0:
        extra.append(("over_service_limit", np.nan, float((reach > limit).sum())))
    counts = pd.concat(
        [counts, pd.DataFrame(extra, columns=["metric", "before", "after"])], ignore_index=True
    )
    tables = {
        "reform_summary": counts,
        "reform_communities": c,
        "reform_mapping": reform.report["mapping"],
        "reform_streets": reform.report["per_street"],
    }
    if len(reform.dedicated):
        tables["reform_dedicated"] = pd.DataFrame(reform.dedicated.drop(columns="geometry"))
    if len(reform.diagnostics):
        tables["diagnostics"] = dg.flat(
            dg.render_frame(reform.diagnostics, lang=language, interface="cli")
        )
    out: dict[str, pd.DataFrame] = {}
    for key, frame in tables.items():
        shown = label_values(frame, language)
        for col in shown.columns:
            if shown[col].dtype == bool:
                yes, no = ("是", "否") if language == "zh" else ("yes", "no")
                shown[col] = shown[col].map({True: yes, False: no})
        out[sheet_label(key, language)] = label_columns(shown, language)
    return out


def reform_workbook(
    reform: Reform,
    path: str | Path,
    *,
    lang: Language = "zh",
    staffing: StaffingRules | None = None,
) -> Path:
    """Write the before/after report (:func:`reform_tables`) as an ``.xlsx`` workbook."""
    p = excel_path(path)
    tables = reform_tables(reform, language=lang, staffing=staffing)
    write_workbook(p, tables)
    log.info("wrote the redivision report %s (%d sheets)", p, len(tables))
    return p
