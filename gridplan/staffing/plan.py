"""The staffing plan as a result: :func:`staffing_plan` chains the inputs, posts, party and
assignment steps, and :class:`Staffing` holds the tables and writes the workbook."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import diagnostics as dg
from ..config import StaffingRules
from ..diagnostics import Diagnostic
from ..errors import Problem, ValidationError, describe_rows
from ..export import excel_path, write_workbook
from ..i18n import column_label, rule_label, sheet_label, value_label
from .assign import (
    ASSIGNMENT_COLUMNS,
    UNFILLED_COLUMNS,
    assign_posts,
    fill_grid_table,
    frames_per_microgrid,
    locate_homes,
    parttime_slots,
)
from .current import apply_current_staff, read_current_staff
from .heads import HEAD_COLUMNS, heads_fill_parttime, heads_from_households
from .inputs import normalise_plan, plan_parts
from .party import party_plan, party_rollup
from .posts import (
    community_posts,
    dedicated_resident_posts,
    grid_posts,
    post_diagnostics,
    street_posts,
)
from .report import party_setup_table, summary_table, worker_roster_table
from .roster import check_roster, read_roster_table

__all__ = ["Staffing", "mask_phone", "staffing_plan"]

log = logging.getLogger(__name__)

Language = Literal["zh", "en"]

#: the tables of a staffing plan, in workbook order
TABLES = (
    "summary",
    "worker_roster",
    "party_setup",
    "grids",
    "microgrids",
    "communities",
    "streets",
    "dedicated_residents",
    "party_communities",
    "party_streets",
    "party",
    "party_units",
    "assignments",
    "unfilled",
    "unassigned",
    "heads",
    "diagnostics",
    "rules",
)


def mask_phone(value: object) -> object:
    """Mask the middle digits of a phone number: keep the first 3 and last 4 digits.

    Examples
    --------
    >>> mask_phone("13812345678"), mask_phone("0351-7654321"), mask_phone(None)
    ('138****5678', '035*-***4321', None)
    >>> mask_phone("12345")
    '***45'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return value
    s = str(value).strip()
    if s.endswith(".0") and s[:-2].isdigit():  # read from Excel as a number
        s = s[:-2]
    digits = [i for i, ch in enumerate(s) if ch.isdigit()]
    if len(digits) >= 8:
        hide = set(digits[3:-4])
    else:
        hide = set(digits[:-2])
    return "".join("*" if i in hide else ch for i, ch in enumerate(s))


def _yes_no(value: object) -> object:
    if isinstance(value, (bool, np.bool_)):
        return "是" if value else "否"
    return value


@dataclass(frozen=True)
class Staffing:
    """A staffing and party-organisation plan (see :func:`staffing_plan`).

    Attributes
    ----------
    grids
        One row per grid: ``grid_code``, ``community_id``, ``community_name``, ``street_id``,
        ``kind``, ``households``, ``residents``, ``residents_estimated``, ``n_microgrids``, the
        posts ``grid_head``, ``fulltime_worker``, ``parttime_workers`` (= micro-grids),
        ``dedicated_contact`` and ``paid_posts`` (grid heads + full-time workers; volunteers
        are never added to paid staff); with a roster also ``*_filled``, ``*_gap``, ``gap``
        and the names holding the posts.
    communities, streets
        The same rolled up, plus ``community_workers`` required by the resident ratio
        (rounded up per community; a street's figure is the sum of its communities'; none for
        grids in no community) and ``paid_staff``, the community staff needed counting grid
        heads as community workers (see ``StaffingRules.fulltime_are_community_workers``).
    party
        One row per branch: ``branch_id``, ``community_id``, ``type`` (single | joint),
        ``org_kind`` (compound | grid | mixed), ``org_units``, ``n_units``, ``grid_codes``,
        ``households``, ``members``, ``meets_min``, ``needs_committee``, ``should_split``,
        ``building_groups``, ``central_households``.
    party_units
        One row per compound/grid with known party members and its ``branch_id``.
    assignments
        Roster person → post (``grid_code``, ``role``, ``seq``, ``name``, ``phone``, ``home``,
        ``lives_in_grid``, ``distance_m`` to the grid's centre).
    unfilled, unassigned
        Posts no roster person fills, and people who got no post, each with a ``reason``
        (and ``reason_zh``, which the Chinese workbook shows).
    diagnostics
        :func:`gridplan.diagnostics.frame` table (level ``staffing``; ``code``, the community
        and grid codes concerned, ``params`` with the branch ids, grid codes and figures, and
        ``message``/``fix`` rendered in Chinese; the workbook renders them in its language):
        estimates, unknown party members, branches below the minimum or to split, and the
        like.
    rules
        The rules used.
    has_roster
        Whether a roster was given (the filled/gap columns exist).
    dedicated_residents
        Who serves the households of dedicated grids that hold any, one row per grid:
        ``grid_code``, ``community_id``, ``community_name``, ``households``, ``residents``,
        ``residents_estimated``, ``served_by`` (``dedicated_contact``: only the host
        institution's contact, a planner must confirm; ``grid_staff`` with
        ``staff_dedicated_grids``) and the posts they get. Empty when the plan planned such
        homes into residential grids (the default ``dedicated_residents = "residential"``).
    microgrids
        The part-time workers per micro-grid, one row each (when the plan gives micro-grids):
        ``microgrid_code``, ``grid_code``, ``community_id``, ``community_name``,
        ``households``, ``addresses``, ``parttime_workers`` (posts), ``parttime_worker_name``
        (who holds them), ``unit_head_name`` and ``building_head_name`` (the heads living
        there, from a household list).
    heads
        Building and stairwell heads (楼栋长/单元长) a household list names, one row each, in
        the micro-grid holding their address (:data:`gridplan.staffing.heads.HEAD_COLUMNS`);
        ``serves_as_parttime`` where they hold their micro-grid's part-time post.
    party_communities, party_streets
        The party organisation through its four levels, Xinzhou style, per community (the
        community's own organisation ``party_level``: ``branch`` 党支部, ``general_branch``
        党总支, ``committee`` 党委 by its members, ``big_committee`` 社区大党委 where units
        are stationed in it (``stationed_units``: its dedicated grids); its ``branches``,
        ``single_branches``, ``joint_branches``, ``compounds_covered``, ``grids_covered``,
        ``building_groups``,
        ``central_households``) and per street (the same summed, with the count of each
        community level ``level_*``).
    """

    grids: pd.DataFrame
    communities: pd.DataFrame
    streets: pd.DataFrame
    party: pd.DataFrame
    party_units: pd.DataFrame
    assignments: pd.DataFrame
    unfilled: pd.DataFrame
    unassigned: pd.DataFrame
    diagnostics: pd.DataFrame
    rules: StaffingRules
    has_roster: bool = False
    dedicated_residents: pd.DataFrame | None = None
    microgrids: pd.DataFrame | None = None
    heads: pd.DataFrame | None = None
    party_communities: pd.DataFrame | None = None
    party_streets: pd.DataFrame | None = None

    def rules_table(self, *, language: Language = "en") -> pd.DataFrame:
        """The rules as a ``rule``/``value``/``description`` table."""
        return pd.DataFrame(
            [
                {
                    "rule": f.name,
                    "value": getattr(self.rules, f.name),
                    "description": rule_label(f.name, language),
                }
                for f in fields(self.rules)
            ]
        )

    def tables(
        self, *, language: Language = "en", mask_phones: bool = True
    ) -> dict[str, pd.DataFrame]:
        """Every table ready to export: phones masked (unless ``mask_phones=False``), and with
        ``language="zh"`` Chinese headers, sheet names and values (是/否, 住宅网格, 网格长...).
        Keys are sheet names. The first three are the tables a street office files: 汇总表
        (per community, street totals and a grand total), 网格员花名册 (every post and who
        holds it, with a roster) and 党组织设置表 (with party members)."""
        if language not in ("zh", "en"):
            raise ValidationError(
                [
                    Problem(
                        "export", "language", f"`language` must be 'zh' or 'en', got {language!r}"
                    )
                ]
            )
        out: dict[str, pd.DataFrame] = {}
        report = {
            "summary": lambda: summary_table(self, language=language),
            "worker_roster": lambda: worker_roster_table(self),
            "party_setup": lambda: party_setup_table(self, language=language),
        }
        for name in TABLES:
            if name in report:
                made = report[name]()
                if made is None:
                    continue  # no roster, no party members: no such table
                frame = made
            elif name == "rules":
                frame = self.rules_table(language=language)
            elif name == "diagnostics":
                # rendered again in the workbook's language; lists and params as text
                frame = dg.flat(dg.render_frame(self.diagnostics, lang=language))
            elif name in (
                "dedicated_residents",
                "microgrids",
                "heads",
                "party_communities",
                "party_streets",
            ) and (getattr(self, name) is None or getattr(self, name).empty):
                continue  # a sheet only where there are rows
            else:
                frame = getattr(self, name).copy()
            if "reason_zh" in frame.columns:
                # reasons are kept in both languages; the workbook shows one
                if language == "zh":
                    frame["reason"] = frame["reason_zh"]
                frame = frame.drop(columns=["reason_zh"])
            if "phone" in frame.columns and mask_phones:
                frame["phone"] = frame["phone"].map(mask_phone)
            if "residents" in frame.columns:
                frame["residents"] = frame["residents"].astype(float).round(1)
            if language == "zh":
                for col in frame.columns:
                    frame[col] = frame[col].map(lambda v, c=str(col): value_label(c, v, "zh"))
                    if frame[col].dtype == bool or frame[col].dtype == object:
                        frame[col] = frame[col].map(_yes_no)
            # in these tables `name` is a person's name (姓名), not a place's (名称)
            frame.columns = [
                column_label("person_name" if c == "name" else str(c), language)
                for c in frame.columns
            ]
            # the plan report has its own micro-grids sheet; this one lists their workers
            sheet = "microgrid_workers" if name == "microgrids" else name
            out[sheet_label(sheet, language)] = frame
        return out

    def to_excel(
        self, path: str | Path, *, language: Language = "zh", mask_phones: bool = True
    ) -> Path:
        """Write one sheet per table (Chinese headers by default; ``language="en"`` for
        English). Phone numbers are masked unless ``mask_phones=False``."""
        p = excel_path(path)
        tables = self.tables(language=language, mask_phones=mask_phones)
        write_workbook(p, tables)
        log.info("wrote staffing workbook %s (%d sheets)", p, len(tables))
        return p


def staffing_plan(
    plan: Any,
    *,
    rules: StaffingRules | None = None,
    roster: str | Path | pd.DataFrame | None = None,
    roster_crs: Any = "EPSG:4326",
    household_list: str | Path | pd.DataFrame | None = None,
    current_staff: str | Path | pd.DataFrame | None = None,
    interface: Literal["python", "cli"] = "python",
) -> Staffing:
    """Posts, party organisation and (optionally) named assignments for a grid plan.

    Parameters
    ----------
    plan
        A :class:`gridplan.Plan`; or a mapping of its frames (``grids`` required, ``units``,
        ``microgrids``, ``compounds``, ``communities``, ``streets`` used when given), e.g. the
        layers of a plan GeoPackage from :func:`read_plan_layers`; or the GeoPackage's path.
    rules
        :class:`StaffingRules` (defaults: 1 grid head and 1 full-time worker per grid, 1
        part-time worker per micro-grid, 18 community workers per 10,000 residents ...).
    roster
        Named people (CSV/XLSX path or DataFrame, see :func:`read_roster`) to assign to the
        grid-head and full-time posts.
    roster_crs
        CRS of the roster's lon/lat columns (default WGS84).
    household_list
        The plan's household list (:func:`gridplan.addresses.household_equivalency`, or the
        CSV/XLSX ``gridplan plan --roster`` writes) when its roster has a role column
        (角色/身份/职务): the building and stairwell heads (楼栋长/单元长) and part-time
        workers it names are assigned to the micro-grid holding their address, and fill that
        micro-grid's part-time posts the ``roster`` left open.
    current_staff
        The community workers each community has now (CSV/XLSX or frame: community_id or
        社区名称, and 在岗社区工作者/current_workers): communities and streets then show
        ``current_workers``, ``current_per_10k`` and ``workers_gap`` to the resident ratio.
    interface
        Whose words the errors use for the fix: ``"python"`` (keywords) or ``"cli"`` (flags).

    Returns
    -------
    Staffing

    Raises
    ------
    ValidationError
        Naming every bad row of the plan's frames or of the roster.
    """
    rules = rules or StaffingRules()
    frames = normalise_plan(plan_parts(plan), rules)
    diags: list[Diagnostic] = list(frames.notes)
    grid_table = grid_posts(frames, rules)

    people: gpd.GeoDataFrame | None = None
    if roster is not None:
        table, label = read_roster_table(roster)
        people, problems = check_roster(table, label, crs=roster_crs)
        if people.empty and problems:
            raise ValidationError(problems)
        pts, in_grids, how, more = locate_homes(people, frames, label)
        if problems or more:
            raise ValidationError([*problems, *more])
        assignments, unfilled, unassigned = assign_posts(
            people,
            (pts, in_grids, how),
            grid_table,
            frames,
            max_distance_m=rules.roster_max_distance_m,
        )
        grid_table = fill_grid_table(grid_table, assignments)
        if len(unfilled):
            diags.append(
                Diagnostic(
                    level="staffing",
                    code="unfilled",
                    params={"topic": "roster", "n_posts": len(unfilled)},
                    fix="staffing_add_people",
                )
            )
        outside = assignments[~assignments["lives_in_grid"].astype(bool)]
        if len(outside):
            diags.append(
                Diagnostic(
                    level="staffing",
                    code="lives_elsewhere",
                    params={
                        "topic": "roster",
                        "n_posts": len(outside),
                        "grid_codes": [str(c) for c in outside["grid_code"]],
                        "grids": describe_rows([str(c) for c in outside["grid_code"]]),
                    },
                    fix="staffing_find_residents",
                )
            )
    else:
        assignments = pd.DataFrame(columns=ASSIGNMENT_COLUMNS)
        unfilled = pd.DataFrame(columns=UNFILLED_COLUMNS)
        unassigned = pd.DataFrame(columns=["name", "role", "phone", "home", "reason", "reason_zh"])

    heads: pd.DataFrame | None = None
    if household_list is not None:
        heads, assignments, unfilled, head_diags = _place_heads(
            household_list,
            grid_table,
            frames,
            assignments,
            unfilled,
            roster is not None,
            flag="--households" if interface == "cli" else "`household_list=`",
        )
        diags.extend(head_diags)
        grid_table = fill_grid_table(grid_table, assignments)

    filled = roster is not None or household_list is not None
    if filled and "gap" not in grid_table.columns:
        grid_table = fill_grid_table(grid_table, assignments)
    communities = community_posts(grid_table, frames, rules, filled=filled)
    if current_staff is not None:
        now = read_current_staff(
            current_staff,
            communities=communities,
            flag="--current-staff" if interface == "cli" else "`current_staff=`",
        )
        communities = apply_current_staff(communities, now)
    streets = street_posts(communities, frames, filled=filled)
    if current_staff is not None:
        by_street = communities.groupby("street_id", dropna=False)
        streets["current_workers"] = streets["street_id"].map(
            by_street["current_workers"].sum(min_count=1)
        )
        res = streets["residents"].astype(float)
        streets["current_per_10k"] = np.where(
            res > 0, np.round(streets["current_workers"] / res * 10_000, 2), np.nan
        )
        streets["workers_gap"] = streets["street_id"].map(by_street["workers_gap"].sum(min_count=1))
    diags.extend(post_diagnostics(grid_table, communities, rules))
    party, party_units, party_diags = party_plan(frames, rules)
    diags.extend(party_diags)
    party_comms: pd.DataFrame | None = None
    party_streets: pd.DataFrame | None = None
    if not party_units.empty:
        party_comms, party_streets = party_rollup(party, party_units, communities, frames, rules)
    log.info(
        "staffing: %d grids, %d paid grid posts, %d branches, %d assignments",
        len(grid_table),
        int(grid_table["paid_posts"].sum()),
        len(party),
        len(assignments),
    )
    return Staffing(
        grids=grid_table,
        communities=communities,
        streets=streets,
        party=party,
        party_units=party_units,
        assignments=assignments,
        unfilled=unfilled,
        unassigned=unassigned,
        diagnostics=dg.frame(diags),
        rules=rules,
        has_roster=filled,
        dedicated_residents=dedicated_resident_posts(grid_table, rules),
        microgrids=microgrid_sheet(grid_table, frames, assignments, heads),
        heads=heads,
        party_communities=party_comms,
        party_streets=party_streets,
    )


def _place_heads(
    household_list: Any,
    grid_table: pd.DataFrame,
    frames: Any,
    assignments: pd.DataFrame,
    unfilled: pd.DataFrame,
    has_roster: bool,
    *,
    flag: str,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[Diagnostic]]:
    """The household list's heads in their micro-grids, holding the part-time posts there
    that are still open; the assignments and unfilled posts updated."""
    if frames.microgrids is None:
        raise ValidationError(
            [
                Problem(
                    "microgrids",
                    "missing_layer",
                    "a household list assigns heads to micro-grids, but the plan has no "
                    "micro-grids; pass the plan's microgrids layer",
                )
            ]
        )
    known = {str(c) for c in frames.microgrids["microgrid_code"]}
    heads, diags = heads_from_households(
        household_list, known_microgrids=known, interface_flag=flag
    )
    grid_of = dict(
        zip(
            frames.microgrids["microgrid_code"].astype(str),
            frames.microgrids["grid_code"],
            strict=True,
        )
    )
    comm_of = dict(zip(grid_table["grid_code"], grid_table["community_id"], strict=True))
    heads["grid_code"] = heads["microgrid_code"].map(grid_of)
    heads["community_id"] = heads["grid_code"].map(comm_of)
    slots = parttime_slots(grid_table, frames)
    part = assignments[assignments["role"] == "parttime_worker"]
    held = {(str(m), int(q)) for m, q in zip(part["microgrid_code"], part["seq"], strict=True)}
    heads, pairs = heads_fill_parttime(heads, slots, held)
    rows = []
    taken = set()
    head_rows = heads["roster_row"].to_numpy(dtype=np.int64)
    for i, b in pairs:
        grid_code, community_id, seq, micro, _pt = slots[b]
        taken.add((grid_code, micro, seq))
        rows.append(
            {
                "grid_code": grid_code,
                "microgrid_code": micro,
                "community_id": community_id,
                "role": "parttime_worker",
                "seq": seq,
                "name": heads["name"].iat[i],
                "person_role": heads["role"].iat[i],
                "phone": heads["phone"].iat[i],
                "home": heads["address"].iat[i],
                "lives_in_grid": True,
                "distance_m": 0.0,
                "roster_row": int(head_rows[i]),
            }
        )
    if rows:
        extra = pd.DataFrame(rows, columns=ASSIGNMENT_COLUMNS)
        assignments = (
            pd.concat([assignments, extra], ignore_index=True) if len(assignments) else extra
        )
        assignments = assignments.sort_values(
            ["grid_code", "role", "seq"],
            key=lambda c: (
                c.map({"grid_head": 0, "fulltime_worker": 1, "parttime_worker": 2})
                if c.name == "role"
                else c
            ),
        ).reset_index(drop=True)
    if has_roster:
        keep = [
            (g, m, q) not in taken
            for g, m, q in zip(
                unfilled["grid_code"], unfilled["microgrid_code"], unfilled["seq"], strict=True
            )
        ]
        unfilled = unfilled[keep].reset_index(drop=True)
    else:
        # without a named roster, the part-time posts no head holds are the open ones
        rz = value_label("role", "parttime_worker", "zh")
        open_rows = [
            {
                "grid_code": g,
                "microgrid_code": m,
                "community_id": c,
                "role": "parttime_worker",
                "seq": q,
                "reason": "no part-time worker or head in the household list lives here",
                "reason_zh": f"住户名册中本微网格没有{rz}、单元长或楼栋长",
            }
            for g, c, q, m, _pt in slots
            if (g, m, q) not in taken
        ]
        unfilled = pd.DataFrame(open_rows, columns=UNFILLED_COLUMNS)
    return heads[HEAD_COLUMNS], assignments, unfilled, diags


def microgrid_sheet(
    grid_table: pd.DataFrame,
    frames: Any,
    assignments: pd.DataFrame,
    heads: pd.DataFrame | None,
) -> pd.DataFrame | None:
    """One row per micro-grid: its part-time posts, who holds them and the heads living there."""
    m = frames.microgrids
    if m is None or m.empty:
        return None
    posts = frames_per_microgrid(grid_table)
    comm = dict(zip(grid_table["grid_code"], grid_table["community_id"], strict=True))
    cname = dict(zip(grid_table["grid_code"], grid_table["community_name"], strict=True))
    out = pd.DataFrame(
        {
            "microgrid_code": m["microgrid_code"].astype(str).to_numpy(),
            "grid_code": m["grid_code"].to_numpy(dtype=object),
        }
    )
    out["community_id"] = out["grid_code"].map(comm)
    out["community_name"] = out["grid_code"].map(cname)
    hh = pd.Series(m["households"].to_numpy(dtype=float))
    out["households"] = hh.round().astype("Int64")
    out["addresses"] = m["addresses"].to_numpy(dtype=object)
    out["parttime_workers"] = posts
    part = assignments[assignments["role"] == "parttime_worker"]
    names = part.groupby("microgrid_code")["name"].agg(lambda s: "、".join(map(str, s)))
    out["parttime_worker_name"] = out["microgrid_code"].map(names)
    for role in ("unit_head", "building_head"):
        if heads is not None and len(heads):
            h = heads[heads["role"] == role]
            who = h.groupby("microgrid_code")["name"].agg(lambda s: "、".join(map(str, s)))
            out[f"{role}_name"] = out["microgrid_code"].map(who)
        else:
            out[f"{role}_name"] = None
    if out["addresses"].isna().all():
        out = out.drop(columns=["addresses"])
    return out.sort_values("microgrid_code", kind="stable").reset_index(drop=True)
