"""Labels of the app, the maps and the workbooks, in Chinese (default) and English.

Every piece of text a planner reads in :mod:`gridplan.render`, ``app.py`` or a staffing workbook
comes from here, so a translation is one dictionary entry and nothing is hard-coded elsewhere:

* :data:`LABELS` (:func:`t`): the app's and the maps' words;
* :data:`COLUMNS` (:func:`column_label`, :func:`label_columns`): table column headers;
* :data:`VALUES` (:func:`value_label`): coded values in words (``dedicated`` -> 专属网格);
* :data:`SHEETS` (:func:`sheet_label`) and :data:`RULES` (:func:`rule_label`): workbook sheet
  names and what each staffing rule means.

One concept has one term: a residential grid is 住宅网格, an input's id column 编号 (社区编号),
a public code 编码 (社区编码), a name 名称 (a person's name 姓名). Diagnostic messages have their
own zh/en templates in :mod:`gridplan.diagnostics`. The tables are read-only
(:class:`types.MappingProxyType`): Streamlit sessions share the process, so no session may change
them.

Examples
--------
>>> t("households", "zh"), t("households", "en")
('户数', 'Households')
>>> t("no_such_label", "en")
'no_such_label'
>>> list(label_columns(pd.DataFrame({"grid_code": [], "households": []}), "zh").columns)
['网格编码', '户数']
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal

import pandas as pd

__all__ = [
    "COLUMNS",
    "LABELS",
    "LANGS",
    "RULES",
    "SHEETS",
    "VALUES",
    "Lang",
    "column_label",
    "label_columns",
    "rule_label",
    "sheet_label",
    "t",
    "value_label",
]

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

_LABELS: dict[str, tuple[str, str]] = {
    # app frame
    "app_title": ("社区网格规划", "Community grid planning"),
    "app_caption": (
        "划分网格（300–500 户）与微网格（30–50 户），核对、调整、导出。",
        "Divide communities into grids (300–500 households) and micro-grids (30–50); "
        "check, adjust and export.",
    ),
    "english": ("English", "English"),
    "settings": ("设置", "Settings"),
    "data": ("数据", "Data"),
    "data_source": ("数据来源", "Data source"),
    "source_sample": ("示例数据（新加坡女皇镇）", "Sample data (Queenstown, Singapore)"),
    "source_upload": ("上传我的数据", "Upload my data"),
    "sample_note": (
        "示例：新加坡女皇镇组屋（HDB / URA / SLA 开放数据，道路 © OpenStreetMap 贡献者）。",
        "Sample: HDB blocks of Queenstown, Singapore (HDB / URA / SLA open data, roads "
        "© OpenStreetMap contributors).",
    ),
    # roles
    "role_units": ("住宅单元（楼栋 / 街坊，必填）", "Units (buildings / blocks, required)"),
    "role_compounds": ("小区", "Compounds (小区)"),
    "role_dedicated": ("专属区域（商圈、学校、医院…）", "Dedicated areas (business, schools…)"),
    "role_barriers": ("障碍线（主干道、铁路、河流）", "Barriers (major roads, railways, rivers)"),
    "role_communities": ("社区边界", "Community boundaries"),
    "role_streets": ("街道边界", "Street boundaries"),
    "upload_help": (
        "GeoPackage、GeoJSON、Shapefile（zip 压缩包）、带坐标的 CSV / XLSX",
        "GeoPackage, GeoJSON, zipped Shapefile, CSV / XLSX with coordinates",
    ),
    "layer_in_file": ("文件中的图层", "Layer in the file"),
    "columns": ("字段对应", "Column mapping"),
    "columns_help": (
        "每行一条：原字段名 = 标准字段名，例如 户数 = households",
        "One per line: source column = standard column, e.g. 户数 = households",
    ),
    "source_crs": ("坐标来源", "Coordinates taken from"),
    "crs_wgs84": ("WGS84（GPS、天地图）", "WGS84 (GPS, Tianditu)"),
    "crs_gcj02": ("GCJ-02（高德、腾讯）", "GCJ-02 (Gaode, Tencent)"),
    "crs_bd09": ("BD-09（百度）", "BD-09 (Baidu)"),
    "need_units": ("请上传住宅单元图层。", "Upload a units layer to plan."),
    "upload_too_large": (
        "文件 {name} 为 {size:.1f} MB，超过上限 {limit} MB。",
        "File {name} is {size:.1f} MB, above the {limit} MB limit.",
    ),
    "validation_failed": (
        "输入数据有 {n} 个问题，请修正后重新上传：",
        "The input has {n} problem(s); fix them and upload again:",
    ),
    "rules_invalid": ("规则有误：", "The rules are invalid:"),
    # rules
    "rules": ("规划规则", "Planning rules"),
    "grid_min": ("网格最少户数", "Grid: min households"),
    "grid_max": ("网格最多户数", "Grid: max households"),
    "micro_min": ("微网格最少户数", "Micro-grid: min households"),
    "micro_max": ("微网格最多户数", "Micro-grid: max households"),
    "household_size": ("户均人口", "Persons per household"),
    "dedicated_categories": ("专属网格类别", "Dedicated grid categories"),
    "dedicated_categories_help": (
        "留空表示全部类别",
        "Leave empty to use every category in the dedicated layer",
    ),
    "staffing_ratio": (
        "每万名常住人口社区工作者数",
        "Community workers per 10,000 residents",
    ),
    "seed": ("随机种子", "Seed"),
    "county_code": ("区县代码（6 位）", "County code (6 digits)"),
    "run_plan": ("运行规划", "Run plan"),
    "planning": ("正在规划…", "Planning…"),
    "plan_done": ("规划完成", "Plan ready"),
    # map
    "map": ("地图", "Map"),
    "map_settings": ("地图设置", "Map settings"),
    "basemap": ("底图", "Basemap"),
    "basemap_osm": ("OpenStreetMap", "OpenStreetMap"),
    "basemap_tianditu": ("天地图", "Tianditu"),
    "basemap_gaode": ("高德地图", "Gaode (AMap)"),
    "basemap_none": ("无底图", "None"),
    "tianditu_key": ("天地图密钥（tk）", "Tianditu key (tk)"),
    "tianditu_needs_key": (
        "天地图需要密钥，暂不显示底图。",
        "Tianditu needs a key; showing no basemap for now.",
    ),
    "gaode_note": (
        "高德底图：网格叠加层已转换为 GCJ-02 仅用于显示，导出数据不受影响。",
        "Gaode basemap: overlays are shifted to GCJ-02 for display only; exports are unchanged.",
    ),
    "intranet": ("内网模式（不访问 CDN）", "Intranet mode (no CDN)"),
    "intranet_help": (
        "地图脚本与样式从本软件包内置文件加载，适用于屏蔽外网 CDN 的政务网络。",
        "Map scripts and styles load from files shipped in the package, for networks that "
        "block CDNs.",
    ),
    "show_microgrids": ("显示微网格", "Show micro-grids"),
    "show_units": ("显示住宅单元", "Show units"),
    "community_filter": ("社区", "Community"),
    "all_communities": ("全部社区", "All communities"),
    "layer_grids": ("网格", "Grids"),
    "layer_dedicated": ("专属网格", "Dedicated grids"),
    "layer_microgrids": ("微网格", "Micro-grids"),
    "layer_barriers": ("障碍线", "Barriers"),
    "layer_communities": ("社区边界", "Community boundaries"),
    "layer_units": ("住宅单元", "Units"),
    "layer_selected": ("选中网格", "Selected grid"),
    "layer_old": ("原社区边界", "Old community boundaries"),
    "layer_new": ("新社区边界", "New community boundaries"),
    "legend": (
        "彩色：住宅网格（相邻网格颜色不同）；灰色斜线：专属网格；红线：障碍线；黑色虚线：社区边界。",
        "Colours: residential grids (neighbours differ); grey hatched: dedicated grids; "
        "red lines: barriers; black dashes: community boundaries.",
    ),
    "click_hint": (
        "点击地图上的网格查看详情，或在下方选择。",
        "Click a grid on the map to see its details, or pick one below.",
    ),
    "select_grid": ("网格", "Grid"),
    "no_grid_selected": ("未选择网格", "No grid selected"),
    # grid details
    "grid_details": ("网格详情", "Grid details"),
    "staffing_posts": ("人员配置", "Staffing posts"),
    "party_branch": ("党组织", "Party organisation"),
    "diagnostics": ("诊断信息", "Diagnostics"),
    "no_diagnostics": ("无诊断问题。", "No diagnostics."),
    "microgrid_list": ("所含微网格", "Micro-grids in this grid"),
    # report
    "report": ("统计报表", "Report"),
    "summary": ("规划概览", "Plan summary"),
    "by_community": ("分社区汇总", "By community"),
    "by_street": ("分街道汇总", "By street"),
    "grid_table": ("网格明细", "Grids"),
    "microgrid_table": ("微网格明细", "Micro-grids"),
    "histogram": ("各网格户数分布", "Households per grid"),
    "histogram_caption": (
        "绿色区间为规则要求的户数范围（{lo}–{hi} 户）。",
        "The green band is the rule's range ({lo}–{hi} households).",
    ),
    "grid_count": ("网格数", "Grids"),
    "in_band_share": ("符合规模比例", "In band"),
    "microgrid_count": ("微网格数", "Micro-grids"),
    "households_total": ("总户数", "Households"),
    # staffing
    "staffing": ("人员与党组织", "Staffing and party"),
    "staffing_missing": (
        "人员配置模块（gridplan.staffing）尚未安装，此页暂不可用。",
        "The staffing module (gridplan.staffing) is not available yet; this view is disabled.",
    ),
    "staffing_failed": ("人员配置计算失败：{err}", "Staffing could not be computed: {err}"),
    # editing
    "edit": ("手动调整", "Manual editing"),
    "edit_intro": (
        "锁定网格后重新规划时保持不变；把单元移到相邻网格会同时锁定这两个网格。",
        "Locked grids are kept when re-planning; moving units to a neighbouring grid locks "
        "both grids.",
    ),
    "edit_pick_hint": (
        "在“地图”页点击或选择要调整的网格。",
        "Pick the grid to edit on the Map tab (click it or choose it there).",
    ),
    "lock_grid": ("锁定此网格", "Lock this grid"),
    "unlock_grid": ("解锁此网格", "Unlock this grid"),
    "unlock_all": ("全部解锁并重新规划", "Unlock all and re-plan"),
    "locked_grids": ("已锁定网格：{n} 个", "Locked grids: {n}"),
    "move_units": ("移动单元到相邻网格", "Move units to a neighbouring grid"),
    "units_to_move": ("要移动的单元", "Units to move"),
    "compound_to_move": ("或整个小区", "Or a whole compound"),
    "target_grid": ("目标网格", "Target grid"),
    "no_neighbours": ("此网格没有相邻网格。", "This grid has no neighbouring grid."),
    "preview": ("调整预览", "Preview"),
    "apply_move": ("确认移动并重新规划", "Apply and re-plan"),
    "undo": ("撤销", "Undo"),
    "nothing_to_undo": ("没有可撤销的操作。", "Nothing to undo."),
    "before": ("调整前", "Before"),
    "after": ("调整后", "After"),
    "contiguous": ("连片", "Contiguous"),
    "in_band": ("符合规模", "In band"),
    "move_warnings": ("注意：", "Note:"),
    "warn_not_contiguous": (
        "网格 {code} 调整后将不连片。",
        "Grid {code} would no longer be contiguous.",
    ),
    "warn_out_of_band": (
        "网格 {code} 调整后为 {hh} 户，超出 {lo}–{hi} 户。",
        "Grid {code} would hold {hh} households, outside {lo}–{hi}.",
    ),
    "warn_split_unit": (
        "单元 {ids} 跨多个网格，不能整体移动。",
        "Unit(s) {ids} are split across grids and cannot be moved whole.",
    ),
    "move_ok": ("调整后两个网格都连片且符合规模。", "Both grids stay contiguous and in band."),
    # downloads
    "downloads": ("下载", "Downloads"),
    "download_gpkg": ("GeoPackage（全部图层）", "GeoPackage (all layers)"),
    "download_geojson": ("GeoJSON 网格（RFC 7946）", "GeoJSON grids (RFC 7946)"),
    "download_equivalency": ("单元–网格对应表（CSV）", "Equivalency table (CSV)"),
    "download_report": ("统计报表工作簿（Excel）", "Report workbook (Excel)"),
    "download_staffing": ("人员配置工作簿（Excel）", "Staffing workbook (Excel)"),
    "export_missing": (
        "导出模块（gridplan.export）尚未安装，暂不能下载 {what}。",
        "The export module (gridplan.export) is not available yet; {what} cannot be downloaded.",
    ),
    # reform
    "reform": ("社区调整对比", "Reform"),
    "reform_intro": (
        "按当前规则重新划分社区边界，对比新旧边界。",
        "Redivide community boundaries under the current rules and compare old and new.",
    ),
    "community_min": ("新社区最少户数", "New community: min households"),
    "community_max": ("新社区最多户数", "New community: max households"),
    "reform_counts": ("调整前后对比", "Before and after"),
    "reform_run": ("计算新社区边界", "Compute new community boundaries"),
    "reform_failed": ("社区调整计算失败：{err}", "Reform failed: {err}"),
    # generic values
    "households": ("户数", "Households"),
    "residents": ("人口", "Residents"),
    "microgrids": ("微网格", "Micro-grids"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "residential": ("住宅网格", "residential"),
    "dedicated": ("专属网格", "dedicated"),
    "grid": ("网格", "grid"),
    "microgrid": ("微网格", "micro-grid"),
    "community": ("社区", "Community"),
    "unit": ("单元", "Unit"),
}

#: table column labels (columns of ``Plan.report``, diagnostics and validation problems)
_COLUMNS: dict[str, tuple[str, str]] = {
    # codes and ids: a code (编码) is the public hierarchical code, an id (编号) the input's key
    "grid_code": ("网格编码", "Grid code"),
    "microgrid_code": ("微网格编码", "Micro-grid code"),
    "community_code": ("社区编码", "Community code"),
    "community": ("社区", "Community"),
    "community_id": ("社区编号", "Community ID"),
    "community_name": ("社区名称", "Community name"),
    "street": ("街道", "Street"),
    "street_id": ("街道编号", "Street ID"),
    "street_name": ("街道名称", "Street name"),
    "unit_id": ("单元编号", "Unit ID"),
    "kind": ("网格类型", "Grid kind"),
    "category": ("类别", "Category"),
    "name": ("名称", "Name"),
    "person_name": ("姓名", "Name"),
    # figures
    "households": ("户数", "Households"),
    "residents": ("常住人口", "Residents"),
    "population": ("常住人口", "Residents"),
    "residents_estimated": ("人口为估算", "Residents estimated"),
    "deviation_pct": ("偏差（%）", "Deviation (%)"),
    "in_band": ("符合规模", "In band"),
    "compactness": ("紧凑度", "Compactness"),
    "n_microgrids": ("微网格数", "Micro-grids"),
    "n_units": ("单元数", "Units"),
    "n_buildings": ("楼栋数", "Buildings"),
    "streets": ("街道数", "Streets"),
    "communities": ("社区数", "Communities"),
    "grids": ("网格数", "Grids"),
    "residential_grids": ("住宅网格数", "Residential grids"),
    "dedicated_grids": ("专属网格数", "Dedicated grids"),
    "microgrids": ("微网格数", "Micro-grids"),
    "in_band_share": ("网格达标比例", "Grids in band"),
    "microgrids_in_band_share": ("微网格达标比例", "Micro-grids in band"),
    "min_households": ("最少户数", "Min households"),
    "max_households": ("最多户数", "Max households"),
    "mean_compactness": ("平均紧凑度", "Mean compactness"),
    "max_abs_deviation_pct": ("最大偏差（%）", "Max deviation (%)"),
    # diagnostics and validation problems
    "level": ("层级", "Level"),
    "code": ("问题代码", "Code"),
    "severity": ("严重程度", "Severity"),
    "unit_ids": ("单元", "Units"),
    "params": ("详细数据", "Details"),
    "message": ("说明", "Message"),
    "fix": ("建议", "Fix"),
    "layer": ("图层", "Layer"),
    "check": ("检查项", "Check"),
    "rows": ("行", "Rows"),
    "ref": ("对象", "Object"),
    # editing
    "locked": ("已锁定", "Locked"),
    "crosses_barrier": ("跨越障碍线", "Crosses barrier"),
    "grid": ("网格", "Grid"),
    "before": ("调整前", "Before"),
    "after": ("调整后", "After"),
    "contiguous": ("连片", "Contiguous"),
    # staffing: posts per grid, community or street
    "grid_head": ("网格长", "Grid heads"),
    "fulltime_worker": ("专职网格员", "Full-time grid workers"),
    "parttime_workers": ("兼职网格员", "Part-time grid workers"),
    "dedicated_contact": ("专属网格联络员", "Dedicated-grid contacts"),
    "community_workers": ("社区工作者(按人口比例)", "Community workers (resident ratio)"),
    "posts": ("岗位合计", "Posts"),
    "grid_head_filled": ("网格长已配", "Grid heads filled"),
    "fulltime_worker_filled": ("专职网格员已配", "Full-time grid workers filled"),
    "grid_head_gap": ("网格长缺口", "Grid head gap"),
    "fulltime_worker_gap": ("专职网格员缺口", "Full-time grid worker gap"),
    "gap": ("缺口", "Gap"),
    "grid_head_name": ("网格长姓名", "Grid head"),
    "fulltime_worker_name": ("专职网格员姓名", "Full-time grid worker"),
    # staffing: party organisation
    "party_members": ("党员数", "Party members"),
    "members": ("党员数", "Party members"),
    "members_complete": ("党员数完整", "Party members complete"),
    "branch_id": ("党组织编号", "Branch"),
    "type": ("类型", "Type"),
    "org_kind": ("单元类型", "Unit kind"),
    "org_units": ("所含小区/网格", "Compounds/grids"),
    "org_unit": ("小区/网格", "Compound/grid"),
    "grid_codes": ("所在网格", "Grids"),
    "meets_min": ("达到建支部人数", "Meets minimum"),
    "needs_committee": ("需设支部委员会", "Needs committee"),
    "should_split": ("建议拆分", "Should split"),
    "building_groups": ("楼栋党小组", "Building party groups"),
    "central_households": ("党员中心户", "Central households"),
    # staffing: roster and assignments
    "role": ("岗位", "Role"),
    "seq": ("序号", "No."),
    "phone": ("电话", "Phone"),
    "home": ("住址", "Home"),
    "lives_in_grid": ("住在本网格", "Lives in grid"),
    "distance_m": ("距离(米)", "Distance (m)"),
    "roster_row": ("名单行号", "Roster row"),
    "capacity": ("可兼岗位数", "Capacity"),
    "reason": ("原因", "Reason"),
    # rules sheet
    "rule": ("参数", "Rule"),
    "value": ("取值", "Value"),
    "description": ("含义", "Meaning"),
}

#: values shown in words: column -> value -> (zh, en)
_VALUES: dict[str, dict[str, tuple[str, str]]] = {
    "kind": {
        "residential": ("住宅网格", "residential"),
        "dedicated": ("专属网格", "dedicated"),
    },
    "type": {"single": ("单独党支部", "single"), "joint": ("联合党支部", "joint")},
    "org_kind": {
        "compound": ("小区", "compound"),
        "grid": ("网格", "grid"),
        "mixed": ("小区和网格", "mixed"),
    },
    "role": {
        "grid_head": ("网格长", "grid_head"),
        "fulltime_worker": ("专职网格员", "fulltime_worker"),
    },
    "level": {
        "unit": ("单元", "unit"),
        "grid": ("网格", "grid"),
        "microgrid": ("微网格", "micro-grid"),
        "community": ("社区", "community"),
        "street": ("街道", "street"),
        "part": ("分区", "part"),
        "plan": ("规划", "plan"),
        "staffing": ("人员配置", "staffing"),
    },
    "severity": {
        "error": ("错误", "error"),
        "warning": ("警告", "warning"),
        "info": ("提示", "info"),
    },
}

#: sheet names of the staffing workbook: table -> (zh, en)
_SHEETS: dict[str, tuple[str, str]] = {
    "grids": ("网格", "Grids"),
    "communities": ("社区", "Communities"),
    "streets": ("街道", "Streets"),
    "party": ("党组织", "Party branches"),
    "party_units": ("党组织单元", "Party units"),
    "assignments": ("人员安排", "Assignments"),
    "unfilled": ("空缺岗位", "Unfilled posts"),
    "unassigned": ("未安排人员", "Unassigned people"),
    "diagnostics": ("提示", "Diagnostics"),
    "rules": ("参数", "Rules"),
}

#: what each rule means, for the rules sheet: field of a rule class -> (zh, en)
_RULES: dict[str, tuple[str, str]] = {
    "grid_heads_per_grid": ("每个网格网格长数", "Grid heads per residential grid"),
    "fulltime_workers_per_grid": ("每个网格专职网格员数", "Full-time grid workers per grid"),
    "parttime_workers_per_microgrid": (
        "每个微网格兼职网格员数",
        "Part-time grid workers per micro-grid",
    ),
    "dedicated_contacts_per_dedicated_grid": (
        "每个专属网格联络员数",
        "Contacts per dedicated grid",
    ),
    "staff_dedicated_grids": (
        "专属网格也配网格长和专职网格员",
        "Dedicated grids also get grid heads and full-time grid workers",
    ),
    "community_workers_per_10k": (
        "每万名常住人口社区工作者数",
        "Community workers per 10,000 residents",
    ),
    "household_size": ("户均人口(估算用)", "Residents per household (for estimates)"),
    "branch_min_members": ("单独建支部最少党员数", "Members for a branch of its own"),
    "joint_branch_max_units": ("联合党支部最多单元数", "Most units in a joint branch"),
    "branch_split_over": ("党员超过此数建议拆分", "Split a branch above this many members"),
    "committee_from": ("党员达到此数设支委会", "Committee from this many members"),
    "central_household_span": ("每个党员中心户联系户数", "Households per central household"),
    "party_group_min_members": (
        "楼栋党员达到此数设党小组(假设)",
        "Members for a building party group (assumption)",
    ),
    "adjacency_m": ("相邻判定距离(米)", "Neighbour distance (m)"),
    "attach_small_groups": (
        "不足人数的单元并入相邻支部",
        "Attach short groups to a neighbouring branch",
    ),
}


def _frozen(table: dict[str, tuple[str, str]]) -> MappingProxyType:
    return MappingProxyType(
        {k: MappingProxyType(dict(zip(LANGS, v, strict=True))) for k, v in table.items()}
    )


LABELS = _frozen(_LABELS)
COLUMNS = _frozen(_COLUMNS)
SHEETS = _frozen(_SHEETS)
RULES = _frozen(_RULES)
VALUES = MappingProxyType({k: _frozen(v) for k, v in _VALUES.items()})


def t(key: str, lang: Lang = "zh", /, **fmt: object) -> str:
    """The label ``key`` in ``lang``, formatted with ``fmt``; the key itself when unknown."""
    entry = LABELS.get(key)
    text = entry.get(lang, entry["zh"]) if entry is not None else key
    return text.format(**fmt) if fmt else text


def column_label(column: str, lang: Lang = "zh") -> str:
    """The display name of a table column (the column itself when there is none)."""
    entry = COLUMNS.get(column)
    return entry.get(lang, column) if entry is not None else column


def label_columns(frame: pd.DataFrame, lang: Lang = "zh") -> pd.DataFrame:
    """A copy of ``frame`` with its columns renamed for display in ``lang``."""
    return frame.rename(columns={c: column_label(str(c), lang) for c in frame.columns})


def value_label(column: str, value: object, lang: Lang = "zh") -> object:
    """A coded value in words (``kind`` ``"dedicated"`` -> 专属网格); others as they are.

    Examples
    --------
    >>> value_label("kind", "residential", "zh"), value_label("kind", "other", "zh")
    ('住宅网格', 'other')
    """
    entry = VALUES.get(column)
    if entry is None or not isinstance(value, str) or value not in entry:
        return value
    return entry[value][lang]


def sheet_label(table: str, lang: Lang = "zh") -> str:
    """Workbook sheet name of a table (the table's key when there is none)."""
    entry = SHEETS.get(table)
    return entry[lang] if entry is not None else table


def rule_label(name: str, lang: Lang = "zh") -> str:
    """What the rule ``name`` means, in ``lang`` (the name itself when there is no text)."""
    entry = RULES.get(name)
    return entry[lang] if entry is not None else name
