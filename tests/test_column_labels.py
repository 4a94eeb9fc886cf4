"""Column headers whose meaning depends on what a row is (issue 16): ``previous_code`` is the
old grid code in a grids table, the old micro-grid code in a micro-grids table and the old
community (village) code in a redivision's tables."""

from __future__ import annotations

import pandas as pd
from conftest import make_lattice_units

import gridplan
from gridplan import i18n
from gridplan.appsupport import display_table
from gridplan.reform import ReformRules, redivide
from gridplan.reform.report import reform_tables


def test_previous_code_reads_by_the_row_key():
    assert i18n.column_label("previous_code", "zh", key="grid_code") == "原网格编码"
    assert i18n.column_label("previous_code", "zh", key="microgrid_code") == "原微网格编码"
    assert i18n.column_label("previous_code", "zh", key="community_code") == "原社区（村）编码"
    assert i18n.column_label("previous_code", "en", key="grid_code") == "Previous grid code"
    # a micro-grids table also holds its grid's code: the most specific key wins
    frame = pd.DataFrame(columns=["microgrid_code", "grid_code", "previous_code"])
    assert list(i18n.label_columns(frame, "zh").columns)[-1] == "原微网格编码"


def test_a_plans_grids_table_names_the_previous_grid_code():
    units = make_lattice_units(6, 4, households=40)
    plan = gridplan.plan(units)
    assert "previous_code" in plan.grids.columns
    zh = display_table(plan.grids, "zh")  # the app's grids table
    assert "原网格编码" in zh.columns
    assert not any("社区（村）" in str(c) for c in zh.columns)
    assert "Previous grid code" in display_table(plan.grids, "en").columns
    versions = i18n.label_columns(plan.report["versions"], "zh")
    assert "原网格编码" in versions.columns


def test_a_redivisions_communities_keep_the_previous_community_code():
    units = make_lattice_units(12, 8, households=100)
    units["zone"] = [
        f"C{(r >= 4) * 2 + (c >= 6) + 1}" for r, c in zip(units["row"], units["col"], strict=True)
    ]
    comms = units.dissolve("zone").reset_index()[["zone", "geometry"]]
    comms = comms.rename(columns={"zone": "community_id"})
    res = redivide(
        units.drop(columns="zone"), communities=comms, rules=ReformRules(min_households=1000)
    )
    tables = reform_tables(res, language="zh")
    headers = {str(c) for table in tables.values() for c in table.columns}
    assert "原社区（村）编码" in headers
    assert "原网格编码" not in headers
