"""Every label, column, value, sheet, rule text and diagnostic template has zh and en."""

from __future__ import annotations

import re
import string
from dataclasses import fields

import pytest

from gridplan import diagnostics as dg
from gridplan import i18n
from gridplan.config import StaffingRules

TABLES = {
    "labels": i18n.LABELS,
    "columns": i18n.COLUMNS,
    "sheets": i18n.SHEETS,
    "rules": i18n.RULES,
    **{f"values[{k}]": v for k, v in i18n.VALUES.items()},
    **{f"columns_by_key[{k}]": v for k, v in i18n.COLUMNS_BY_KEY.items()},
}

#: the only Latin words a Chinese label may hold: names of formats, systems, units and
#: modules that have no Chinese name planners use (each one is listed on purpose)
ALLOWED_LATIN = {
    "English",  # the language switch names its language in that language
    "OpenStreetMap",
    "GeoPackage",
    "GeoJSON",
    "Shapefile",
    "zip",
    "CSV",
    "XLSX",
    "Excel",
    "RFC",
    "WGS",
    "GCJ",
    "BD",
    "GPS",
    "HDB",
    "URA",
    "SLA",
    "CDN",
    "MB",
    "tk",
    "gridplan",
    "staffing",
    "export",
    "households",  # the example of a standard column name, which are English by design
    "KML",  # file formats offered for download, named as the planner's software names them
    "PDF",
    "CGCS",  # CGCS2000, the national coordinate system, and the EPSG codes planners type
    "EPSG",
    "A",  # paper sizes A3 / A4
}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _entries():
    for table, entries in TABLES.items():
        for key, entry in entries.items():
            yield table, key, entry


@pytest.mark.parametrize(("table", "key", "entry"), list(_entries()))
def test_every_label_has_zh_and_en(table, key, entry):
    assert set(entry) == {"zh", "en"}
    assert entry["zh"].strip() and entry["en"].strip(), (table, key)
    assert _fields(entry["zh"]) == _fields(entry["en"]), (table, key)


@pytest.mark.parametrize(("table", "key", "entry"), list(_entries()))
def test_chinese_labels_hold_no_latin_words_but_the_allowed_ones(table, key, entry):
    text = re.sub(r"\{[^}]*\}", "", entry["zh"])  # format fields are not shown
    words = set(re.findall(r"[A-Za-z]+", text))
    assert words <= ALLOWED_LATIN, (table, key, words - ALLOWED_LATIN)


def test_allowed_latin_words_are_all_used():
    # a word allowed but used nowhere is an allowance to remove
    used = set()
    for _, _, entry in _entries():
        used |= set(re.findall(r"[A-Za-z]+", re.sub(r"\{[^}]*\}", "", entry["zh"])))
    assert used >= ALLOWED_LATIN, ALLOWED_LATIN - used


@pytest.mark.parametrize("code", sorted(dg.TEMPLATES))
def test_every_diagnostic_template_has_zh_and_en_with_the_same_fields(code):
    entry = dg.TEMPLATES[code]
    assert entry["zh"].strip() and entry["en"].strip()
    assert _fields(entry["zh"]) == _fields(entry["en"])


@pytest.mark.parametrize("fix", sorted(dg.FIXES))
def test_every_fix_has_zh_and_en_with_the_same_fields(fix):
    entry = dg.FIXES[fix]
    assert entry["zh"].strip() and entry["en"].strip()
    assert _fields(entry["zh"]) == _fields(entry["en"])


def test_every_staffing_rule_has_a_meaning():
    assert {f.name for f in fields(StaffingRules)} <= set(i18n.RULES)


def test_one_term_per_concept():
    # a residential grid is 住宅网格 wherever it is named
    assert i18n.t("residential", "zh") == i18n.value_label("kind", "residential", "zh")
    assert i18n.column_label("residential_grids", "zh").startswith("住宅网格")
    assert "居民网格" not in str([e["zh"] for _, _, e in _entries()])
    # an id column is 编号, a name 名称, a public code 编码
    assert i18n.column_label("community_id", "zh") == "社区编号"
    assert i18n.column_label("community_name", "zh") == "社区名称"
    assert i18n.column_label("community_code", "zh") == "社区编码"


def test_labels_are_read_only():
    with pytest.raises(TypeError):
        i18n.COLUMNS["grid_code"] = {"zh": "x", "en": "x"}  # type: ignore[index]
    with pytest.raises(TypeError):
        i18n.VALUES["kind"]["residential"]["zh"] = "x"  # type: ignore[index]
