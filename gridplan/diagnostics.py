"""Diagnostics as data: one record type for everything a plan could not meet.

Every stage (grids, micro-grids, community redivision, staffing, the Dask engine) reports what
it could not meet as :class:`Diagnostic` records. A record holds only data: a level, a code, the
public codes and unit ids it concerns, the households involved and the parameters of the case.
Message and fix are rendered from the zh and en templates in :data:`TEMPLATES` and
:data:`FIXES` only when a table is shown or written, in the language and in the words of the
interface in use (a keyword in Python, a flag in the CLI, a widget in the app).

Stages work with internal grid ids while they run; :func:`resolve_grids` swaps them for public
grid codes structurally, by a mapping, once codes exist. Nothing parses the prose.

Examples
--------
>>> d = Diagnostic(
...     level="grid", code="out_of_band", community_id="c1", grid_code="110101001001001",
...     unit_ids=("a", "b"), households=520,
...     params={"total": 1020, "k_min": 3, "k_max": 2, "lo": 300, "hi": 500, "sizes": "500, 520",
...             "proven": False, "band": "grid"},
...     fix="relax_band_or_split",
... )
>>> table = frame([d], lang="zh")
>>> list(table["unit_ids"].iat[0])
['a', 'b']
>>> print(table["message"].iat[0][:37])
社区 c1 的片区共 1020 户（按户数可划 3–2 个网格），但未找到
>>> print(render(d, lang="en", interface="cli")[1])  # doctest: +NORMALIZE_WHITESPACE
relax the grid band in the --config file ([grid] min_households / max_households),
or split the largest units by stairwell
>>> print(render(replace(d, params={**d.params, "noun": "population"}), lang="zh")[0][:23])
社区 c1 的片区共 1020 人（按人数可划
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

from .i18n import LABELS, RULES, value_label

__all__ = [
    "COLUMNS",
    "FIXES",
    "OPTIONS",
    "TEMPLATES",
    "Diagnostic",
    "Interface",
    "flat",
    "frame",
    "in_words",
    "records",
    "render",
    "render_frame",
    "resolve_grids",
]

Lang = Literal["zh", "en"]
#: Whose words a fix is given in: keyword arguments, command-line flags or app widgets.
Interface = Literal["python", "cli", "app"]
Level = Literal[
    "unit", "grid", "microgrid", "community", "street", "part", "plan", "staffing", "roster"
]

#: Columns of every diagnostics table, in order: machine-readable first, rendered text last.
COLUMNS = (
    "level",
    "code",
    "severity",
    "street_id",
    "community_id",
    "community_code",
    "grid_code",
    "microgrid_code",
    "unit_ids",
    "households",
    "params",
    "message",
    "fix",
)


@dataclass(frozen=True)
class Diagnostic:
    """One thing a plan could not meet, as data.

    Parameters
    ----------
    level
        What it concerns: ``unit``, ``grid``, ``microgrid``, ``community``, ``street``, ``part``
        (a part of a distributed run), ``plan`` or ``staffing``.
    code
        Key of its message template in :data:`TEMPLATES`, e.g. ``out_of_band``.
    severity
        ``warning`` (the plan is usable, a target is missed), ``error`` (households are not
        planned) or ``info``.
    street_id, community_id, community_code, grid_code, microgrid_code
        Public ids and codes of what it concerns (None where not applicable).
    grid_id
        Internal grid label while a stage runs; :func:`resolve_grids` turns it into
        ``grid_code``. Never written out.
    unit_ids
        Every unit concerned, as a real tuple of ids (joinable back to the units).
    households
        Households concerned (None where not applicable).
    params
        Values the templates format (totals, bands, sizes, names).
    fix
        Key of its fix template in :data:`FIXES`, or None when there is nothing to change.
    """

    level: str
    code: str
    severity: Literal["error", "warning", "info"] = "warning"
    street_id: str | None = None
    community_id: str | None = None
    community_code: str | None = None
    grid_code: str | None = None
    microgrid_code: str | None = None
    grid_id: object | None = None
    unit_ids: tuple[str, ...] = ()
    households: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    fix: str | None = None

    def __post_init__(self) -> None:
        if self.code not in TEMPLATES:
            raise KeyError(f"diagnostic code {self.code!r} has no template in TEMPLATES")
        if self.fix is not None and self.fix not in FIXES:
            raise KeyError(f"diagnostic fix {self.fix!r} has no template in FIXES")
        object.__setattr__(self, "unit_ids", tuple(str(u) for u in self.unit_ids))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


# ---------------------------------------------------------------------------------------------
# Templates. Each entry: code -> (zh, en). Fields in braces come from the record's params and
# fields (community_id, grid_code, households, n_units ...); ``{opt[name]}`` names an option in
# the words of the interface in use (see OPTIONS).
# ---------------------------------------------------------------------------------------------

_TEMPLATES: dict[str, tuple[str, str]] = {
    # --- codes ---
    "codes_unset": (
        "网格编码以 000000 开头：未给出区县代码（国家行政区划代码），编码的区县部分全为 0",
        "grid codes start with 000000: no county code (GB/T 2260) was given, so the county part "
        "of every code is zeros",
    ),
    "codes_no_communities": (
        "网格编码的社区部分均为 000：没有社区边界，单元也没有社区编号",
        "the community part of every grid code is 000: there are no community boundaries and "
        "no community_id on the units",
    ),
    # --- grids (partition) ---
    "infeasible_piece_small": (
        "社区 {community_id} 的片区共 {total} {noun}，低于网格下限 {lo} {noun}",
        "piece in community {community_id} holds {total} {noun}, below the grid floor of {lo}",
    ),
    "infeasible_piece": (
        "社区 {community_id} 的片区共 {total} {noun}：划 {k_max} 个网格会超过 {hi} {noun}，"
        "划 {k_min} 个会低于 {lo} {noun}",
        "piece in community {community_id} holds {total} {noun}: {k_max} grid(s) would "
        "exceed {hi} and {k_min} would fall below {lo}",
    ),
    "out_of_band": (
        "社区 {community_id} 的片区共 {total} {noun}（按{noun}数可划 {k_min}–{k_max} 个网格），"
        "但未找到全部在网格{noun}数范围内的连通划分；最优方案网格{noun}数为 {sizes}",
        "piece in community {community_id} holds {total} {noun} ({k_min}-{k_max} grids "
        "would fit by count) but the search found no in-band split; best plan has grid sizes "
        "{sizes}",
    ),
    "out_of_band_proven": (
        "社区 {community_id} 的片区共 {total} {noun}（按{noun}数可划 {k_min}–{k_max} 个网格），"
        "经穷举证明不存在全部在网格{noun}数范围内的连通划分；违规最少的方案网格{noun}数为 {sizes}",
        "piece in community {community_id} holds {total} {noun} ({k_min}-{k_max} grids "
        "would fit by count) but no split of its units into contiguous in-band grids exists "
        "(checked exhaustively); least-violating plan has grid sizes {sizes}",
    ),
    "previous_replanned": (
        "上一版网格 {grid_code}（{households} {noun}）未原样保留：{why}；已按最小变动重新划分",
        "previous grid {grid_code} ({households} {noun}) was not kept as it was: {why}; it "
        "was re-planned moving as few households as possible",
    ),
    "previous_unit_split": (
        "单元 {unit} 被上一版网格边界分在 {n_grids} 个网格中，按其大部分所在的上一版网格 {old} 计",
        "unit {unit} lies in {n_grids} grids of the previous plan; it counts as in old grid "
        "{old}, which holds most of it",
    ),
    "locked_out_of_band": (
        "锁定的网格 {grid_code}（锁定标签 {label}）共 {households} {noun}，不在网格{noun}数范围 "
        "{lo}–{hi} 内，按锁定保留",
        "locked grid {grid_code} (lock label {label}) holds {households} {noun}, outside "
        "the grid band {lo}-{hi}; kept as locked",
    ),
    "unit_split": (
        "单元 {unit} 共 {households} {noun}，超过网格上限 {hi} {noun}，已切分为 {parts} 块，"
        "分属网格 {grids}",
        "unit {unit} holds {households} {noun}, above the grid ceiling of {hi}; it was "
        "sliced into {parts} parts in grids {grids}",
    ),
    "dedicated_residents": (
        "专属网格 {grid_code}（{area}）内有 {households} 户居民（{n_units} 个单元），未划入住宅网格"
        "和微网格，目前只由专属网格联络员服务，需规划人员确认",
        "dedicated grid {grid_code} ({area}) holds {households} households in {n_units} "
        "unit(s) with no residential grid or micro-grid; only its dedicated contact serves "
        "them, which a planner must confirm",
    ),
    "dedicated_residents_planned": (
        "专属区域 {area} 内的 {households} 户居民（{n_units} 个单元）已划入住宅网格 {grids} 及其"
        "微网格，由这些网格的网格员服务；专属网格 {grid_code} 保留其余区域",
        "the {households} households in {n_units} unit(s) inside dedicated area {area} are "
        "planned into residential grid(s) {grids} and their micro-grids, served by those "
        "grids' workers; dedicated grid {grid_code} keeps the rest of the area",
    ),
    "dedicated_area_all_homes": (
        "专属区域 {area} 全部为住宅（{households} 户，{n_units} 个单元），已划入住宅网格 {grids} "
        "及其微网格，不再单设专属网格",
        "dedicated area {area} is all homes ({households} households in {n_units} unit(s)): "
        "they are planned into residential grid(s) {grids} and their micro-grids, and no "
        "dedicated grid is kept for it",
    ),
    "barrier_crossing": (
        "网格 {grid_code} 跨越障碍线 {barrier}：其一侧的户数无法单独成网格",
        "grid {grid_code} crosses the barrier {barrier}: the households on one side cannot "
        "form grids on their own",
    ),
    "barrier_crossing_dead_end": (
        "网格 {grid_code} 跨越障碍线 {barrier}：该道路止于片区内部，未把片区分开",
        "grid {grid_code} crosses the barrier {barrier}, which ends inside its piece and so "
        "does not separate it",
    ),
    "barrier_crossing_locked": (
        "网格 {grid_code} 跨越障碍线 {barrier}：其单元被锁定在同一网格",
        "grid {grid_code} crosses the barrier {barrier}: its units are locked together",
    ),
    # --- micro-grids ---
    "microgrid_out_of_band": (
        "网格 {grid_code} 的微网格{noun}数为 {sizes}（微网格{noun}数范围 {lo}–{hi}）：{why}",
        "grid {grid_code}: micro-grid sizes {sizes} (micro-grid band {lo}-{hi} {noun}) - {why}",
    ),
    # --- community redivision (reform) ---
    "reform_isolated_unit": (
        "{n} 个单元与其他单元没有共同的单元格边，已各自连接到同一街道内最近的单元",
        "{n} unit(s) share no cell edge with any other unit; each was linked to its nearest "
        "unit in the same street",
    ),
    "reform_target_count": (
        "未达到目标社区数 {target}：方案有 {got} 个社区（范围 {lo}–{hi} 对总计 {total} 可划 "
        "{k_min}–{k_max} 个，未计街道边界和连通性）",
        "target_count {target} not reached: the plan has {got} communities (the band {lo}-{hi} "
        "admits {k_min}-{k_max} for {total} in all, before street boundaries and contiguity)",
    ),
    "reform_service_reach": (
        "社区 {community_code} 最远住户距服务中心 {reach} 米，超过服务半径上限 {limit} 米",
        "community {community_code} reaches {reach} m from its service centre, beyond the "
        "{limit} m service limit",
    ),
    "reform_village_alone": (
        "村 {community_code}（{village_type}）没有相邻社区可并入，仍单独成社区",
        "village {community_code} ({village_type}) has no neighbouring community to join and "
        "stands alone",
    ),
    "reform_village_leads": (
        "村 {village}（{village_type}）并入相邻社区后超过规模上限 {hi}，其住户仍占社区 "
        "{community_code} 的多数",
        "village {village} ({village_type}) joined to a neighbour would exceed the {hi} "
        "maximum, and its households are still most of community {community_code}",
    ),
    "reform_barrier_crossing": (
        "社区 {community_code} 在障碍线 {barrier} 两侧都有相邻单元",
        "community {community_code} has neighbouring units on both sides of {barrier}",
    ),
    "reform_infeasible_street": (
        "街道 {street} 共 {total} {noun}：无论划几个 {lo}–{hi} {noun}的社区都不合适",
        "street {street} holds {total} {noun}: no number of communities of {lo}-{hi} fits",
    ),
    "reform_unit_over_ceiling": (
        "{n_units} 个单元各自超过 {hi} {noun}（最大 {largest}）",
        "{n_units} unit(s) alone hold more than {hi} {noun} (the largest {largest})",
    ),
    "reform_under_isolated": (
        "社区 {community_code} 共 {size} {noun}，低于下限 {lo}：它在街道内所在的连通区域"
        "总共只有 {area}",
        "community {community_code} holds {size} {noun}, below the floor of {lo}: its "
        "connected area in the street holds only {area} in all",
    ),
    "reform_under_bounds": (
        "社区 {community_code} 共 {size} {noun}，低于下限 {lo}：没有相邻社区能在范围内"
        "接纳它或与它一起重新划分",
        "community {community_code} holds {size} {noun}, below the floor of {lo}: no "
        "neighbour could take it, or re-plan with it, within the band",
    ),
    "reform_over_bounds": (
        "社区 {community_code} 共 {size} {noun}，超过上限 {hi}：未找到将它（与相邻社区一起）"
        "划分为连通且在范围内的方案",
        "community {community_code} holds {size} {noun}, above the ceiling of {hi}: no split "
        "of it (with its neighbours) into contiguous in-band parts was found",
    ),
    # --- staffing ---
    "no_microgrids": (
        "未提供微网格图层或 n_microgrids 列，未计兼职网格员岗位",
        "neither a microgrids layer nor an n_microgrids column was given; no part-time grid "
        "worker posts are counted",
    ),
    "residents_estimated": (
        "{n_grids} 个网格有户数而无人口数（{grids}），其常住人口按户数 × {household_size} 估算",
        "{n_grids} grids have households without a population ({grids}); their residents are "
        "estimated as households × {household_size}",
    ),
    "dedicated_with_households": (
        "专属网格 {grid_code} 有 {households} 户，但只配专属网格联络员，不配网格长和专职网格员",
        "dedicated grid {grid_code} holds {households} households but gets only a dedicated "
        "contact, no grid head or full-time grid worker",
    ),
    "grid_heads_beyond_workers": (
        "社区 {community_id} 需配 {grid_heads} 名网格长，但按人口比例只有 {workers} 名社区工作者",
        "community {community_id} needs {grid_heads} grid heads but the resident ratio gives "
        "only {workers} community workers",
    ),
    "grid_posts_beyond_ratio": (
        "{n_communities} 个社区（共 {n_all} 个；{communities}）的网格长和专职网格员 "
        "{grid_posts} 名，超过按每万人 {per_10k} 名配备的社区工作者 {workers} 名",
        "in {n_communities} of {n_all} communities ({communities}) the grid heads and full-time "
        "grid workers ({grid_posts}) exceed the community workers at {per_10k} per 10,000 "
        "residents ({workers})",
    ),
    "heads_unplaced": (
        "住户名册中 {n} 名楼栋长、单元长或兼职网格员的地址未落到唯一微网格（{rows}）",
        "{n} building or stairwell heads or part-time workers of the household list have an "
        "address in no single micro-grid ({rows})",
    ),
    "household_roles_ignored": (
        "住户名册中 {n} 行的角色不是网格岗位，未参与配置（{rows}）",
        "{n} rows of the household list have a role that is no staffing post and were not "
        "used ({rows})",
    ),
    "grids_without_community": (
        "{n_grids} 个网格（{grids}）不属于任何社区，未配社区工作者",
        "{n_grids} grids ({grids}) belong to no community; no community workers are counted "
        "for them",
    ),
    "per_grid": (
        "仅按网格提供了党员数：按网格设置党支部，不计楼栋党小组",
        "party members are known per grid only; branches are planned per grid and building "
        "party groups are not counted",
    ),
    "no_party_members": (
        "单元和网格均未提供党员数（party_members），未设置党组织",
        "no unit or grid gives `party_members`; no party organisation is planned",
    ),
    "members_unknown": (
        "社区 {community_id} 有 {n_orgs} 个小区/网格无党员数（{names}），未纳入党支部",
        "{n_orgs} compounds/grids in community {community_id} have no party-member count "
        "({names}); they are left out of the branches",
    ),
    "members_partial": (
        "{n_orgs} 个小区/网格只有部分单元有党员数（{names}），其党员总数为下限",
        "{n_orgs} compounds/grids have party members counted for some units only ({names}); "
        "their totals are lower bounds",
    ),
    "below_minimum": (
        "党支部 {branch_id}（{names}）有党员 {members} 名，少于 {min_members} 名；"
        "{adjacency_m} 米内没有可并入的相邻小区/网格或党支部",
        "branch {branch_id} ({names}) has {members} party members, below {min_members}; no "
        "adjacent compound/grid or branch with room within {adjacency_m} m",
    ),
    "should_split": (
        "党支部 {branch_id}（{names}）有党员 {members} 名，超过 {max_members} 名",
        "branch {branch_id} ({names}) has {members} party members, over {max_members}",
    ),
    "few_central_households": (
        "{n_branches} 个党支部（{branches}）的党员少于按每户联系 {span} 户所需的党员中心户，"
        "每名党员的家庭都计为党员中心户",
        "{n_branches} branches ({branches}) have fewer party members than the central "
        "households their households need at {span} households each; every member's household "
        "is counted as a central household",
    ),
    "unfilled": (
        "名单未能配齐 {n_posts} 个网格长/专职网格员岗位",
        "{n_posts} grid-head/full-time posts are not filled from the roster",
    ),
    "lives_elsewhere": (
        "{n_posts} 个岗位由不住在本网格的人担任（网格 {grids}）",
        "{n_posts} posts are held by people who do not live in the grid (grids {grids})",
    ),
    # --- distributed engine ---
    "part_failed": (
        "第 {part} 部分（街道 {street_id}）规划失败：{error}；其 {n_units} 个单元未规划",
        "part {part} (street {street_id}) failed: {error}; its {n_units} units are not planned",
    ),
    "part_failed_county": (
        "第 {part} 部分（区县 {county}）规划失败：{error}；其 {n_units} 个单元未规划",
        "part {part} (county {county}) failed: {error}; its {n_units} units are not planned",
    ),
    # --- household rosters (gridplan.addresses) ---
    "roster_blank_rows": (
        "名册 {source} 有 {n_rows} 个空行（第 {first_rows} 行），已跳过",
        "roster {source}: {n_rows} blank rows skipped (rows {first_rows})",
    ),
    "roster_total_rows": (
        "名册 {source} 第 {first_rows} 行是合计行，未计入户数",
        "roster {source}: rows {first_rows} are total rows, not counted as households",
    ),
    "roster_duplicate_address": (
        "名册 {source} 中地址 {address} 出现 {n_rows} 次（第 {first_rows} 行），均已计入",
        "roster {source}: address {address} appears {n_rows} times (rows {first_rows}); all "
        "are counted",
    ),
    "roster_incomplete_address": (
        "名册 {source} 有 {n_rows} 行缺少{why}（第 {first_rows} 行）",
        "roster {source}: {n_rows} rows lack {why} (rows {first_rows})",
    ),
    "roster_unmatched": (
        "名册 {source} 中 {address} 的 {n_rows} 行（{households} 户，第 {first_rows} 行）"
        "未匹配到任何单元，未纳入网格",
        "roster {source}: {n_rows} rows of {address} ({households} households, rows "
        "{first_rows}) match no unit and are in no grid",
    ),
    "roster_ambiguous": (
        "名册 {source} 中 {address} 对应 {n_units} 个单元（{units}），其 {n_rows} 行"
        "（第 {first_rows} 行）无法确定归属，未纳入网格",
        "roster {source}: {address} matches {n_units} units ({units}); its {n_rows} rows "
        "(rows {first_rows}) are in no grid",
    ),
    "roster_units_without_rows": (
        "{n_units} 个单元在名册中没有住户行（{units}），户数按单元图层计（共 {households} 户）",
        "{n_units} units have no roster rows ({units}); their households come from the units "
        "layer ({households} in all)",
    ),
    "roster_households_differ": (
        "单元 {unit} （{address}）名册为 {roster_households} 户，单元图层为 "
        "{layer_households} 户（相差 {difference}），按名册计",
        "unit {unit} ({address}): the roster gives {roster_households} households, the units "
        "layer {layer_households} (difference {difference}); the roster's count is used",
    ),
    "roster_rows_split": (
        "单元 {unit} 未按地址切分，其 {n_rows} 行名册住户列出该楼全部微网格 {microgrids}",
        "unit {unit} was not cut by address: its {n_rows} roster rows list all of its "
        "micro-grids {microgrids}",
    ),
}

#: What a band counts (``{noun}``), by the rules' ``balance``.
_NOUNS: dict[str, tuple[str, str]] = {
    "households": ("户", "households"),
    "population": ("人", "residents"),
}

#: Village types (村改社区) named inside messages (``{village_type}``).
_VILLAGE_TYPES: dict[str, tuple[str, str]] = {
    "kept": ("保留", "kept"),
    "merged": ("合并", "merged"),
    "relocated": ("搬迁", "relocated"),
    "cash": ("货币补偿", "cash-compensated"),
}

#: Reasons quoted inside messages (``{why}``), keyed by a param value.
_WHY: dict[str, tuple[str, str]] = {
    "no_count": (
        "{total} {noun}无法分为若干个 {lo}–{hi} {noun}的微网格",
        "{total} {noun} admit no number of {lo}-{hi}-household micro-grids",
    ),
    "proven": (
        "经穷举证明（各种切片粒度）不存在连通且在范围内的划分",
        "no contiguous in-band split of its building slices exists (checked exhaustively at "
        "every slice size tried)",
    ),
    "search": ("搜索未找到在范围内的划分", "the search found no in-band split"),
    # the address part a roster row lacks (roster_incomplete_address)
    "roster_compound": ("小区", "a compound"),
    # why a previous grid was re-planned (previous_replanned)
    "previous_band": ("现有{noun}数不在 {lo}–{hi} 范围内", "its {noun} are now outside {lo}-{hi}"),
    "previous_contiguity": ("其单元已不连片", "its units are no longer contiguous"),
    "previous_barrier": ("只能跨越障碍线连片", "its units join only across a barrier"),
    "previous_communities": ("其单元分属不同社区", "its units now lie in different communities"),
    "previous_affected": (
        "相邻的新增或变动区域需要它的单元才能划出合规网格",
        "a neighbouring new or changed area needed its units to form in-band grids",
    ),
    "roster_building": ("楼栋", "a building"),
    "roster_stairwell": ("单元", "a stairwell"),
    "roster_floor": ("楼层", "a floor"),
    "roster_room": ("房号", "a room"),
}

_FIXES: dict[str, tuple[str, str]] = {
    "set_county_code": (
        "用{opt[county_code]}给出 6 位区县代码，例如 140105（小店区）",
        "give the 6-digit county code with {opt[county_code]}, e.g. 140105",
    ),
    "give_communities": (
        "用{opt[communities]}给出社区边界，或在单元中加入社区编号（community_id）列",
        "give the community boundaries with {opt[communities]}, or a community_id column on "
        "the units",
    ),
    "previous_split_check": (
        "核对该单元归属的网格，必要时在新方案中调整",
        "check which grid the unit belongs to, and adjust the new plan if needed",
    ),
    "previous_check": (
        "发布前核对变动的网格及其编码",
        "check the changed grids and their codes before publishing them",
    ),
    "redivide_small": (
        "与相邻社区合并（社区调整），或降低{opt[min_households]}",
        "join it with a neighbouring community (redivision), or lower {opt[min_households]}",
    ),
    "relax_band": (
        "调整{opt[grid_band]}（可取 {lo_fix}–{hi_fix} {noun}），或与相邻社区调整边界",
        "relax {opt[grid_band]} (e.g. {lo_fix}-{hi_fix} {noun}), or redraw the community boundary",
    ),
    "widen_band_or_split": (
        "将{opt[grid_band]}放宽到 {lo_fix}–{hi_fix} {noun}，或按单元（楼梯）切分最大的单元",
        "widen {opt[grid_band]} to {lo_fix}-{hi_fix} {noun}, or split the largest units by "
        "stairwell",
    ),
    "extend_barrier": (
        "接受跨越；或把障碍线延长到把片区分开为止",
        "accept the crossing, or extend the barrier line until it separates the piece",
    ),
    "relax_band_or_split": (
        "调整{opt[grid_band]}，或按单元（楼梯）切分最大的单元",
        "relax {opt[grid_band]}, or split the largest units by stairwell",
    ),
    "unlock_or_edit": (
        "解除锁定或增减该网格的单元",
        "unlock it, or add or remove units of the grid",
    ),
    "give_stairwells": (
        "提供楼栋的单元（楼梯）数，或调整{opt[micro_band]}",
        "give the buildings' stairwells, or relax {opt[micro_band]}",
    ),
    "split_barrier_side": (
        "与障碍线另一侧合并或调整社区边界；如该线不应作为障碍，请从障碍线图层中删除",
        "join it with the other side or redraw the community boundary; if the line should not "
        "be a barrier, remove it from the barriers layer",
    ),
    "stairwells_for_split": (
        "提供该楼的单元（楼梯）数，切分将按单元进行",
        "give the building's stairwells so it is split by stairwell",
    ),
    "plan_dedicated_residents": (
        "如这些住户应由网格员服务，{opt[residents_residential]}，把它们划入住宅网格和微网格；"
        "或为该专属网格配备网格长和专职网格员（{opt[staff_dedicated_grids]}）",
        "if grid workers should serve these homes, {opt[residents_residential]} to plan them "
        "into residential grids and micro-grids, or staff the dedicated grid "
        "({opt[staff_dedicated_grids]})",
    ),
    "keep_dedicated_residents": (
        "如需把这些住户留在专属网格，{opt[residents_dedicated]}",
        "to leave these homes in the dedicated grid instead, {opt[residents_dedicated]}",
    ),
    "rerun_part": (
        "检查该街道的数据后重新运行",
        "check the street's data and run again",
    ),
    "staffing_give_microgrids": (
        "提供规划的微网格图层",
        "pass the plan's microgrids layer",
    ),
    "staffing_give_population": (
        "按单元提供常住人口（population），或调整{opt[household_size]}",
        "give `population` per unit for counted residents, or set {opt[household_size]}",
    ),
    "staffing_staff_dedicated": (
        "开启{opt[staff_dedicated_grids]}，或把这些住户规划为住宅网格",
        "turn on {opt[staff_dedicated_grids]}, or plan those homes as a residential grid",
    ),
    "staffing_other_grid_heads": (
        "其余网格长岗位由居住在网格内的党员、退休干部、物业人员或楼栋长担任",
        "fill the other grid-head posts with resident party members, retired cadres, property "
        "staff or building heads",
    ),
    "staffing_ratio_or_grids": (
        "提高{opt[community_workers_per_10k]}，或合并过小的网格",
        "raise {opt[community_workers_per_10k]}, or merge grids that are too small",
    ),
    "staffing_heads_join": (
        "核对这些住户的地址，使其在规划时匹配到单元（见住户名册的匹配情况）",
        "correct these households' addresses so they join a unit when planning (see the "
        "household list's join status)",
    ),
    "staffing_head_roles": (
        "角色写作楼栋长、单元长或兼职网格员的住户才会被安排；其他角色可忽略",
        "only households whose role reads 楼栋长, 单元长 or 兼职网格员 are assigned; other roles "
        "can be ignored",
    ),
    "staffing_give_communities": (
        "为这些网格所在的单元提供社区（community_id 或社区图层），或把住户移交属地社区",
        "give their units a community (community_id or a communities layer), or hand those "
        "homes over to the territorial community",
    ),
    "staffing_members_per_unit": (
        "按单元提供党员数（party_members）和小区编号（compound_id），以便按小区设置党组织",
        "give `party_members` per unit (and `compound_id`) to plan per compound",
    ),
    "staffing_add_party_members": (
        "在单元图层中增加党员数列 party_members（未知的留空）",
        "add a `party_members` column to the units (blank where unknown)",
    ),
    "staffing_fill_members": (
        "为这些单元填写党员数 party_members（没有党员的填 0）",
        "fill `party_members` for their units (0 where there are none)",
    ),
    "staffing_join_branch": (
        "手工并入附近的党支部，或调大{opt[adjacency_m]}或{opt[joint_branch_max_units]}",
        "join it by hand to a nearby branch, or raise {opt[adjacency_m]} or "
        "{opt[joint_branch_max_units]}",
    ),
    "staffing_split_branch": (
        "按楼栋或微网格拆分为若干党支部",
        "split it into branches by building or micro-grid",
    ),
    "staffing_central_span": (
        "让每个党员中心户联系更多住户（{opt[central_household_span]}）",
        "let each central household keep in touch with more households "
        "({opt[central_household_span]})",
    ),
    "staffing_add_people": (
        "见空缺岗位表：补充人员，或提高其可兼岗位数",
        "see the unfilled sheet; add people or raise their capacity",
    ),
    "staffing_find_residents": (
        "在这些网格的居民中物色人选（党员、退休干部、物业人员、楼栋长）",
        "look for residents of those grids (party members, retired cadres, property staff, "
        "building heads)",
    ),
    "reform_check_links": (
        "检查这些单元的几何，或接受该连接",
        "check their geometry, or accept the link",
    ),
    "reform_target_count": (
        "将{opt[target_count]}设为接近 {got} 的值（该范围在不计街道边界和连通性时可划 "
        "{k_min}–{k_max} 个），或放宽{opt[community_band]}",
        "set {opt[target_count]} nearer {got} (the band admits {k_min}-{k_max} before street "
        "boundaries and contiguity), or widen {opt[community_band]}",
    ),
    "reform_service_smaller": (
        "提高{opt[target_count]}或降低{opt[community_max]}，使社区更小；或放宽服务半径上限",
        "raise {opt[target_count]} or lower {opt[community_max]} so communities are smaller, "
        "or relax the service limit",
    ),
    "reform_village_neighbours": (
        "核对该村的边界是否与相邻社区相接，或将其类型改为保留",
        "check that the village's boundary meets its neighbours', or set its type to kept",
    ),
    "reform_village_smaller": (
        "放宽{opt[community_max]}，使该村可整体并入相邻社区；或将其类型改为保留",
        "raise {opt[community_max]} so the village can join a neighbour whole, or set its type "
        "to kept",
    ),
    "reform_accept_or_widen": (
        "可以接受（例如该线止于社区内部），或放宽{opt[community_band]}使两侧各自成社区",
        "accept it (e.g. the line ends inside the community), or widen {opt[community_band]} "
        "so each side can stand alone",
    ),
    "reform_street_small": (
        "将{opt[community_min]}降至 {lo_fix}，或与相邻街道合并",
        "lower {opt[community_min]} to {lo_fix}, or join the street with a neighbour",
    ),
    "reform_join_street": (
        "与相邻街道合并，或调整街道边界",
        "join it with a neighbouring street, or redraw the street boundary",
    ),
    "reform_street_band": (
        "将{opt[community_min]}降至 {lo_fix}，或将{opt[community_max]}提高到 {hi_fix}",
        "lower {opt[community_min]} to {lo_fix} or raise {opt[community_max]} to {hi_fix}",
    ),
    "reform_split_units": (
        "先切分这些单元（楼栋按单元/楼梯，片区按地块）",
        "split those units (buildings by stairwell, areas into blocks) first",
    ),
    "reform_under_isolated": (
        "将{opt[community_min]}降至 {lo_fix}，或允许它跨街道边界并入相邻社区",
        "lower {opt[community_min]} to {lo_fix}, or let it join a community across the street "
        "boundary",
    ),
    "reform_under": (
        "将{opt[community_min]}降至 {lo_fix}，或提高{opt[community_max]}",
        "lower {opt[community_min]} to {lo_fix} or raise {opt[community_max]}",
    ),
    "reform_over": (
        "将{opt[community_max]}提高到 {hi_fix}，或切分其中最大的单元",
        "raise {opt[community_max]} to {hi_fix} or split its largest units",
    ),
    "roster_check_duplicates": (
        "核对是否重复登记；同一房号住有多户时可保留",
        "check for double entries; keep them if several households share the room",
    ),
    "roster_complete_address": (
        "在名册中补全这些行的地址",
        "complete the addresses of these rows in the roster",
    ),
    "roster_match_units": (
        "核对名册的小区、楼栋名称与单元图层（{unit_keys}）是否一致，或为名册指定正确的楼栋列",
        "check that the roster's compound and building names match the units layer "
        "({unit_keys}), or map the roster's building column",
    ),
    "roster_distinct_units": (
        "为这些单元设不同的楼栋名称，或在名册中加入单元编号（unit_id）列",
        "give these units distinct building names, or add a unit_id column to the roster",
    ),
    "roster_add_rows": (
        "在名册中补充这些楼栋的住户，或核对楼栋名称",
        "add these buildings' households to the roster, or check their building names",
    ),
    "roster_check_count": (
        "核对名册与单元图层的户数",
        "check the household counts of the roster and the units layer",
    ),
}

#: Staffing rules the app has no widget for: the rule's meaning (``{rule_<name>}``, from
#: :data:`gridplan.i18n.RULES`) and where to set it; ``community_workers_per_10k`` is the
#: sidebar's ratio box.
_STAFFING_APP = {
    "community_workers_per_10k": ("侧栏的「{staffing_ratio}」", "the sidebar's '{staffing_ratio}'"),
}


def _staffing_option(name: str) -> dict[str, tuple[str, str]]:
    app = _STAFFING_APP.get(
        name,
        (
            f"配备规则「{{rule_{name}}}」（本应用使用默认值，可在命令行的配置文件中修改）",
            f"the staffing rule '{{rule_{name}}}' (the app uses its default; set it in the "
            "command line's --config file)",
        ),
    )
    return {
        "python": (f" StaffingRules({name}=…) ", f"StaffingRules({name}=...)"),
        "cli": (
            f" --config 文件中的 [staffing] {name} ",
            f"[staffing] {name} in the --config file",
        ),
        "app": app,
    }


_STAFFING_OPTIONS = {
    name: _staffing_option(name)
    for name in (
        "adjacency_m",
        "joint_branch_max_units",
        "central_household_span",
        "staff_dedicated_grids",
        "community_workers_per_10k",
    )
}

#: Option names by interface: what a planner changes, in the words of the tool they use. In the
#: app's words, ``{label}`` is the widget's label in :mod:`gridplan.i18n`, so a fix names the
#: widget as the planner sees it.
_OPTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "grid_band": {
        "python": (
            " GridRules(min_households=…, max_households=…) ",
            "GridRules(min_households=..., max_households=...)",
        ),
        "cli": (
            " --config 文件中的 [grid] min_households / max_households ",
            "the grid band in the --config file ([grid] min_households / max_households)",
        ),
        "app": (
            "侧栏的「{grid_min}」和「{grid_max}」",
            "the sidebar's '{grid_min}' and '{grid_max}'",
        ),
    },
    "min_households": {
        "python": (" GridRules(min_households=…) ", "GridRules(min_households=...)"),
        "cli": (
            " --config 文件中的 [grid] min_households ",
            "[grid] min_households in the --config file",
        ),
        "app": ("侧栏的「{grid_min}」", "the sidebar's '{grid_min}'"),
    },
    "micro_band": {
        "python": (
            " MicroGridRules(min_households=…, max_households=…) ",
            "MicroGridRules(min_households=..., max_households=...)",
        ),
        "cli": (
            " --config 文件中的 [microgrid] min_households / max_households ",
            "the micro-grid band in the --config file ([microgrid] min_households / "
            "max_households)",
        ),
        "app": (
            "侧栏的「{micro_min}」和「{micro_max}」",
            "the sidebar's '{micro_min}' and '{micro_max}'",
        ),
    },
    "community_band": {
        "python": (
            " ReformRules.min_households / max_households ",
            "ReformRules.min_households / max_households",
        ),
        "cli": (
            " --min-households / --max-households（或 --config 文件中的 [reform] 同名项）",
            "the band (--min-households / --max-households, or [reform] in the --config file)",
        ),
        "app": (
            "「{reform}」页的「{community_min}」和「{community_max}」",
            "'{community_min}' and '{community_max}' on the {reform} tab",
        ),
    },
    "community_min": {
        "python": (" ReformRules.min_households ", "ReformRules.min_households"),
        "cli": (
            " --min-households（或 --config 文件中的 [reform] min_households）",
            "--min-households (or [reform] min_households in the --config file)",
        ),
        "app": ("「{reform}」页的「{community_min}」", "'{community_min}' on the {reform} tab"),
    },
    "community_max": {
        "python": (" ReformRules.max_households ", "ReformRules.max_households"),
        "cli": (
            " --max-households（或 --config 文件中的 [reform] max_households）",
            "--max-households (or [reform] max_households in the --config file)",
        ),
        "app": ("「{reform}」页的「{community_max}」", "'{community_max}' on the {reform} tab"),
    },
    "target_count": {
        "python": (" ReformRules.target_count ", "ReformRules.target_count"),
        "cli": (
            " --target-count（或 --config 文件中的 [reform] target_count）",
            "--target-count (or [reform] target_count in the --config file)",
        ),
        "app": (
            "「{reform}」页的「{community_target}」",
            "'{community_target}' on the {reform} tab",
        ),
    },
    **_STAFFING_OPTIONS,
    "household_size": {
        "python": (" StaffingRules.household_size ", "StaffingRules.household_size"),
        "cli": (" --config 文件中的 household_size ", "household_size in the --config file"),
        "app": ("侧栏的「{household_size}」", "the sidebar's '{household_size}'"),
    },
    "residents_residential": {
        "python": (
            '设置 PlanRules(dedicated_residents="residential")',
            'set PlanRules(dedicated_residents="residential")',
        ),
        "cli": (
            '在 --config 文件中设置 dedicated_residents = "residential"',
            'set dedicated_residents = "residential" in the --config file',
        ),
        "app": (
            "在侧栏的「{dedicated_residents}」中选择「{dedicated_residents_residential}」",
            "choose '{dedicated_residents_residential}' for the sidebar's '{dedicated_residents}'",
        ),
    },
    "residents_dedicated": {
        "python": (
            '设置 PlanRules(dedicated_residents="dedicated")',
            'set PlanRules(dedicated_residents="dedicated")',
        ),
        "cli": (
            '在 --config 文件中设置 dedicated_residents = "dedicated"',
            'set dedicated_residents = "dedicated" in the --config file',
        ),
        "app": (
            "在侧栏的「{dedicated_residents}」中选择「{dedicated_residents_dedicated}」",
            "choose '{dedicated_residents_dedicated}' for the sidebar's '{dedicated_residents}'",
        ),
    },
    "county_code": {
        "python": (" PlanRules(codes=CodeRules(county_code=…)) ", "CodeRules(county_code=...)"),
        "cli": (
            " --county-code（或 --config 文件中的 [codes] county_code）",
            "--county-code (or [codes] county_code in the --config file)",
        ),
        "app": ("侧栏的「{county_code}」", "the sidebar's '{county_code}'"),
    },
    "communities": {
        "python": (" communities= ", "communities="),
        "cli": (" --communities FILE ", "--communities FILE"),
        "app": ("「{role_communities}」上传框", "the '{role_communities}' upload"),
    },
    "fix_invalid": {
        "python": (" fix_invalid=True ", "fix_invalid=True"),
        "cli": (" --fix-invalid ", "--fix-invalid"),
        "app": ("侧栏的「{fix_invalid}」复选框", "the sidebar's '{fix_invalid}' checkbox"),
    },
}

#: Python keyword advice that the input checks (:mod:`gridplan.validate`) write into their
#: messages, and the same advice in the words of the other interfaces (see :func:`in_words`).
_KEYWORD_ADVICE: dict[str, dict[str, str]] = {
    "pass fix_invalid=True": {
        "cli": "pass --fix-invalid (gridplan plan / grids)",
        "app": "tick the 'Repair invalid geometry' checkbox",
    },
}

#: code -> {"zh": template, "en": template}; read-only (Streamlit sessions share the process).
TEMPLATES = MappingProxyType(
    {k: MappingProxyType({"zh": zh, "en": en}) for k, (zh, en) in _TEMPLATES.items()}
)
FIXES = MappingProxyType(
    {k: MappingProxyType({"zh": zh, "en": en}) for k, (zh, en) in _FIXES.items()}
)
WHY = MappingProxyType({k: MappingProxyType({"zh": zh, "en": en}) for k, (zh, en) in _WHY.items()})
OPTIONS = MappingProxyType(
    {
        k: MappingProxyType({i: MappingProxyType({"zh": a, "en": b}) for i, (a, b) in v.items()})
        for k, v in _OPTIONS.items()
    }
)


class _Options(Mapping[str, str]):
    """``{opt[name]}`` in a template: the option's name in the interface and language."""

    def __init__(self, lang: Lang, interface: Interface) -> None:
        self.lang, self.interface = lang, interface

    def __getitem__(self, key: str) -> str:
        text = OPTIONS[key][self.interface][self.lang]
        if self.interface == "app":
            words = {k: v[self.lang] for k, v in LABELS.items()}
            words.update({f"rule_{k}": v[self.lang] for k, v in RULES.items()})
            text = text.format_map(words)
        return text.strip() if self.lang == "en" else text

    def __iter__(self):
        return iter(OPTIONS)

    def __len__(self) -> int:
        return len(OPTIONS)


class _Fields(dict):
    """Format fields; a missing one renders as ``?`` rather than failing an output."""

    def __missing__(self, key: str) -> str:
        return "?"


def _format(template: str, values: Mapping[str, Any]) -> str:
    return string.Formatter().vformat(template, (), _Fields(values))


def in_words(message: str, *, interface: Interface) -> str:
    """A validation message with its Python keyword advice in the words of ``interface``.

    Examples
    --------
    >>> in_words("repair with shapely.make_valid or pass fix_invalid=True.", interface="cli")
    'repair with shapely.make_valid or pass --fix-invalid (gridplan plan / grids).'
    """
    if interface == "python":
        return message
    for phrase, words in _KEYWORD_ADVICE.items():
        message = message.replace(phrase, words[interface])
    return message


def render(d: Diagnostic, *, lang: Lang = "zh", interface: Interface = "python") -> tuple[str, str]:
    """Message and fix of one record, in ``lang`` and in the words of ``interface``.

    Examples
    --------
    >>> d = Diagnostic(level="plan", code="part_failed", street_id="s1",
    ...                params={"part": 2, "error": "boom", "n_units": 5}, fix="rerun_part")
    >>> message, fix = render(d, lang="en")
    >>> message
    'part 2 (street s1) failed: boom; its 5 units are not planned'
    >>> fix
    "check the street's data and run again"
    """
    values: dict[str, Any] = {
        "street_id": d.street_id,
        "community_id": d.community_id,
        "community_code": d.community_code,
        "grid_code": d.grid_code if d.grid_code is not None else "?",
        "microgrid_code": d.microgrid_code,
        "households": d.households,
        "n_units": len(d.unit_ids),
        **d.params,
        "opt": _Options(lang, interface),
    }
    if lang == "zh":
        # coded values (a village type, a dedicated category) read in words in Chinese
        for key, value in d.params.items():
            values[key] = value_label(key, value, "zh")
    # what a band counts: households unless the record says residents (``balance``)
    noun = d.params.get("noun")
    values["noun"] = _NOUNS[noun if isinstance(noun, str) and noun in _NOUNS else "households"][
        0 if lang == "zh" else 1
    ]
    vt = d.params.get("village_type")
    if isinstance(vt, str) and vt in _VILLAGE_TYPES:
        values["village_type"] = _VILLAGE_TYPES[vt][0 if lang == "zh" else 1]
    why = d.params.get("why")
    if isinstance(why, str) and why in WHY:
        values["why"] = _format(WHY[why][lang], values)
    message = _format(TEMPLATES[d.code][lang], values)
    fix = _format(FIXES[d.fix][lang], values).strip() if d.fix else ""
    return message, fix


def frame(
    items: Iterable[Diagnostic], *, lang: Lang = "zh", interface: Interface = "python"
) -> pd.DataFrame:
    """The diagnostics table: one row per record, columns :data:`COLUMNS`.

    ``unit_ids`` holds tuples and ``params`` dicts, so rows can be joined back to the units and
    re-rendered in another language with :func:`render_frame`.
    """
    rows = []
    for d in items:
        message, fix = render(d, lang=lang, interface=interface)
        rows.append(
            {
                "level": d.level,
                "code": d.code,
                "severity": d.severity,
                "street_id": d.street_id,
                "community_id": d.community_id,
                "community_code": d.community_code,
                "grid_code": d.grid_code,
                "microgrid_code": d.microgrid_code,
                "unit_ids": d.unit_ids,
                "households": d.households,
                "params": {**dict(d.params), **({"fix": d.fix} if d.fix else {})},
                "message": message,
                "fix": fix,
            }
        )
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    out["households"] = out["households"].astype("Int64")
    return out


def records(table: pd.DataFrame) -> list[Diagnostic]:
    """Records back from a diagnostics table (as :func:`frame` or a written sheet gives it).

    Examples
    --------
    >>> d = Diagnostic(level="plan", code="part_failed", unit_ids=("a",), params={"part": 1},
    ...                fix="rerun_part")
    >>> records(frame([d])) == [d]
    True
    """
    out = []
    for row in table.to_dict("records"):
        params = row.get("params") or {}
        if isinstance(params, str):
            params = json.loads(params) if params else {}
        params = dict(params)
        fix = params.pop("fix", None)
        ids = row.get("unit_ids")
        if isinstance(ids, str):
            ids = tuple(i for i in ids.split(";") if i)
        hh = row.get("households")
        out.append(
            Diagnostic(
                level=row["level"],
                code=row["code"],
                severity=row.get("severity") or "warning",
                street_id=_opt_str(row.get("street_id")),
                community_id=_opt_str(row.get("community_id")),
                community_code=_opt_str(row.get("community_code")),
                grid_code=_opt_str(row.get("grid_code")),
                microgrid_code=_opt_str(row.get("microgrid_code")),
                unit_ids=tuple(ids or ()),
                households=None if hh is None or pd.isna(hh) else int(hh),
                params=params,
                fix=fix,
            )
        )
    return out


def render_frame(
    table: pd.DataFrame, *, lang: Lang = "zh", interface: Interface = "python"
) -> pd.DataFrame:
    """The same table with ``message`` and ``fix`` rendered again in ``lang``/``interface``."""
    return frame(records(table), lang=lang, interface=interface)


def resolve_grids(
    items: Sequence[Diagnostic], grid_code_of: Mapping[object, str]
) -> list[Diagnostic]:
    """Swap internal grid ids for public grid codes, by mapping (never by parsing text).

    Examples
    --------
    >>> d = Diagnostic(level="grid", code="locked_out_of_band", grid_id=7)
    >>> resolve_grids([d], {7: "110101001001003"})[0].grid_code
    '110101001001003'
    """
    out = []
    for d in items:
        if d.grid_id is None:
            out.append(d)
            continue
        code = grid_code_of.get(d.grid_id, d.grid_code)
        params = dict(d.params)
        grids = params.get("grid_ids")
        if grids is not None:
            named = [str(grid_code_of.get(g, g)) for g in grids]
            params["grids"] = ", ".join(named)
            # the grids as data too (a split unit's record names every grid of its parts)
            params["grid_codes"] = named
            params.pop("grid_ids")
        out.append(replace(d, grid_code=code, grid_id=None, params=params))
    return out


def flat(table: pd.DataFrame) -> pd.DataFrame:
    """A diagnostics table with list and dict cells as text, for GeoPackage/CSV/Excel.

    ``unit_ids`` becomes ``;``-joined ids and ``params`` JSON, which :func:`records` reads back.
    """
    out = table.copy()
    if "unit_ids" in out:
        out["unit_ids"] = [
            ";".join(v) if isinstance(v, tuple | list) else ("" if v is None else str(v))
            for v in out["unit_ids"]
        ]
    if "params" in out:
        out["params"] = [
            json.dumps(_plain(v), ensure_ascii=False, sort_keys=True)
            if isinstance(v, Mapping)
            else v
            for v in out["params"]
        ]
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _opt_str(v: object) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    return str(v)
