"""Labels of the app, the maps and the workbooks, in Chinese (default) and English.

Every piece of text a planner reads in :mod:`gridplan.render`, ``app.py`` or a staffing workbook
comes from here, read once from the catalogue ``gridplan/assets/i18n/labels.toml``, so a
translation is one entry in that file and nothing is hard-coded elsewhere:

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

import tomllib
from collections.abc import Mapping
from importlib.resources import files
from types import MappingProxyType
from typing import Any, Literal

import pandas as pd

__all__ = [
    "CATALOGUE",
    "COLUMNS",
    "COLUMNS_BY_KEY",
    "KEY_COLUMNS",
    "LABELS",
    "LANGS",
    "PROBLEMS",
    "RULES",
    "SHEETS",
    "VALUES",
    "Lang",
    "column_label",
    "label_columns",
    "label_values",
    "row_key",
    "rule_label",
    "sheet_label",
    "t",
    "value_label",
]

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

#: the catalogue: ``gridplan/assets/i18n/labels.toml``, one ``key = { zh = "...", en = "..." }``
#: per label, in tables ``[labels]``, ``[columns]``, ``[sheets]``, ``[rules]`` and
#: ``[values.<column>]``; translators edit it, not this module
CATALOGUE = files("gridplan").joinpath("assets", "i18n", "labels.toml")


def _frozen(table: Mapping[str, Any], where: str) -> MappingProxyType:
    """``{key: {"zh": ..., "en": ...}}`` read-only, checking that every entry has both."""
    out = {}
    for key, entry in table.items():
        if not isinstance(entry, Mapping) or set(entry) != set(LANGS):
            raise ValueError(f"{CATALOGUE}: [{where}] {key} must give exactly zh and en")
        out[key] = MappingProxyType({lang: str(entry[lang]) for lang in LANGS})
    return MappingProxyType(out)


def _read_catalogue() -> dict[str, Any]:
    with CATALOGUE.open("rb") as fh:
        return tomllib.load(fh)


_CATALOGUE = _read_catalogue()
LABELS = _frozen(_CATALOGUE["labels"], "labels")
#: table column labels (columns of ``Plan.report``, diagnostics and validation problems)
COLUMNS = _frozen(_CATALOGUE["columns"], "columns")
#: sheet names of the staffing workbook
SHEETS = _frozen(_CATALOGUE["sheets"], "sheets")
#: what each rule means, for the rules sheet: field of a rule class -> text
RULES = _frozen(_CATALOGUE["rules"], "rules")
#: values shown in words: column -> value -> text
VALUES = MappingProxyType(
    {col: _frozen(table, f"values.{col}") for col, table in _CATALOGUE["values"].items()}
)
#: column labels that depend on what a row is: key column -> column -> text (a grid's
#: ``previous_code`` is the old grid code, a redivided community's the old community code)
COLUMNS_BY_KEY = MappingProxyType(
    {
        key: _frozen(table, f"columns_by_key.{key}")
        for key, table in _CATALOGUE.get("columns_by_key", {}).items()
    }
)
#: Chinese sentences of the input checks (:class:`gridplan.errors.Problem`): check -> zh
#: template, filled from the problem's params; the English is written where the check is made
PROBLEMS = MappingProxyType(
    {
        check: MappingProxyType({"zh": str(entry["zh"])})
        for check, entry in _CATALOGUE.get("problems", {}).items()
    }
)
#: the key columns that say what a row is, most specific first (see :func:`row_key`)
KEY_COLUMNS = ("microgrid_code", "grid_code", "community_code")
del _CATALOGUE


def t(key: str, lang: Lang = "zh", /, **fmt: object) -> str:
    """The label ``key`` in ``lang``, formatted with ``fmt``; the key itself when unknown."""
    entry = LABELS.get(key)
    text = entry.get(lang, entry["zh"]) if entry is not None else key
    return text.format(**fmt) if fmt else text


def row_key(columns: object) -> str | None:
    """What a table's rows are, by its most specific key column (:data:`KEY_COLUMNS`):
    ``microgrid_code``, ``grid_code``, ``community_code`` or None.

    Examples
    --------
    >>> row_key(["grid_code", "community_code", "previous_code"])
    'grid_code'
    >>> row_key(["community_code", "previous_code"])
    'community_code'
    """
    names = {str(c) for c in columns}  # type: ignore[attr-defined]
    return next((k for k in KEY_COLUMNS if k in names), None)


def column_label(column: str, lang: Lang = "zh", *, key: str | None = None) -> str:
    """The display name of a table column (the column itself when there is none).

    ``key`` is the table's key column (:func:`row_key`): a column whose meaning depends on
    what a row is reads by it, e.g. ``previous_code`` is 原网格编码 in a grids table and
    原社区（村）编码 in a redivision's communities table.

    Examples
    --------
    >>> column_label("previous_code", "zh", key="grid_code")
    '原网格编码'
    >>> column_label("previous_code", "zh", key="community_code")
    '原社区（村）编码'
    """
    by_key = COLUMNS_BY_KEY.get(key) if key is not None else None
    entry = by_key.get(column) if by_key is not None else None
    if entry is None:
        entry = COLUMNS.get(column)
    return entry.get(lang, column) if entry is not None else column


def label_columns(
    frame: pd.DataFrame, lang: Lang = "zh", *, key: str | None = None
) -> pd.DataFrame:
    """A copy of ``frame`` with its columns renamed for display in ``lang``.

    ``key`` (default: :func:`row_key` of the frame's columns) says what a row is, for the
    columns whose label depends on it (:data:`COLUMNS_BY_KEY`).

    Examples
    --------
    >>> grids = pd.DataFrame({"grid_code": [], "previous_code": []})
    >>> list(label_columns(grids, "zh").columns)
    ['网格编码', '原网格编码']
    """
    key = key if key is not None else row_key(frame.columns)
    return frame.rename(columns={c: column_label(str(c), lang, key=key) for c in frame.columns})


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


def label_values(frame: pd.DataFrame, lang: Lang = "zh") -> pd.DataFrame:
    """A copy of ``frame`` with the coded values of every :data:`VALUES` column in words.

    Examples
    --------
    >>> label_values(pd.DataFrame({"level": ["grid"], "severity": ["warning"]}), "zh")
      level severity
    0    网格       警告
    """
    out = frame.copy()
    for column in out.columns:
        if column in VALUES:
            out[column] = out[column].map(lambda v, c=str(column): value_label(c, v, lang))
    return out


def sheet_label(table: str, lang: Lang = "zh") -> str:
    """Workbook sheet name of a table (the table's key when there is none)."""
    entry = SHEETS.get(table)
    return entry[lang] if entry is not None else table


def rule_label(name: str, lang: Lang = "zh") -> str:
    """What the rule ``name`` means, in ``lang`` (the name itself when there is no text)."""
    entry = RULES.get(name)
    return entry[lang] if entry is not None else name
