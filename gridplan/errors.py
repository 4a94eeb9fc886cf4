"""Errors raised by gridplan.

Every error a user can trigger with bad input is a :class:`ValidationError` that lists *all*
problems found, names the offending rows or columns, and says how to fix them.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

#: Whose words a fix is given in (as :data:`gridplan.diagnostics.Interface`).
Interface = Literal["python", "cli", "app"]


class GridplanError(Exception):
    """Base class for every error gridplan raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem found while validating input.

    Parameters
    ----------
    layer
        Name of the layer (``units``, ``barriers``, ...) or ``rules``.
    check
        Short machine-readable name of the check, e.g. ``invalid_geometry``.
    message
        Human-readable sentence naming rows/columns and the fix.
    rows
        Identifiers of the offending rows (may be empty for column-level problems).
    params
        The values the check found (given vs expected, column names, files), which fill the
        check's Chinese template in the catalogue's ``[problems]`` table (:meth:`text`).
    """

    layer: str
    check: str
    message: str
    rows: tuple[object, ...] = ()
    params: Mapping[str, object] = field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        return f"[{self.layer}] {self.message}"

    def text(self, lang: Literal["zh", "en"] = "en", interface: Interface = "python") -> str:
        """The problem in ``lang``, its fix in the words of ``interface``.

        English is :attr:`message` (Python keyword advice turned into the interface's words).
        Chinese is the check's ``[problems]`` template filled from :attr:`params` (the fix
        through ``{opt_<name>}``, :data:`INPUT_OPTIONS_ZH`); a check without one, or whose
        template needs a value this problem does not carry, reads as the check's label
        (``[values.check]``) and the rows concerned, so no English reaches a Chinese reader.

        Examples
        --------
        >>> p = Problem("units.csv", "missing_households", "units have no households column",
        ...             params={"old": "户数"})
        >>> print(p.text("zh", "cli")[:48])
        units.csv：没有户数字段；用 --columns 户数=households 改名，或在
        >>> print(Problem("rules", "seed", "seed must be >= 0", ("x",)).text("zh"))
        规划规则：「随机种子」须为非负整数（涉及 x）
        """
        if lang == "en":
            from .diagnostics import in_words  # diagnostics imports this module

            return in_words(self.message, interface=interface)
        from .i18n import PROBLEMS, t, value_label

        layer = str(value_label("layer", self.layer, "zh"))
        listed = [str(r) for r in self.rows if str(r) != "(none)"]  # "(none)": no key at all
        rows = "、".join(listed[:10]) + (f" 等 {len(listed)} 行" if len(listed) > 10 else "")
        entry = PROBLEMS.get(self.check)
        if entry is not None:
            values: dict[str, Any] = {k: value_label(k, v, "zh") for k, v in self.params.items()}
            values.update(layer=layer, rows=rows, n_rows=len(self.rows))
            for name, words in INPUT_OPTIONS_ZH.items():
                values[f"opt_{name}"] = _Lazy(words.get(interface, words["python"]), values)
            text = _fill(entry["zh"], values)
            if text is not None:
                named = any(f"{{{k}}}" in entry["zh"] for k in ("rows", "positions"))
                # the rows concerned are always named, if the sentence does not name them
                return text + (t("problem_rows_zh", "zh", rows=rows) if rows and not named else "")
        checks = _check_labels()
        if self.check not in checks:
            from .i18n import RULES

            if self.check in RULES:  # a rule checked by its own name: say what it means
                what = f"「{RULES[self.check]['zh']}」取值有误"
            else:  # a setting checked by its name: the key the caller set
                shown = t("problem_rows_zh", "zh", rows=rows) if rows else ""
                return t("problem_setting", "zh", layer=layer, check=self.check, rows=shown)
        else:
            what = checks[self.check]
        return t("problem_zh", "zh", layer=layer, what=what) + (
            t("problem_rows_zh", "zh", rows=rows) if rows else ""
        )


class ValidationError(GridplanError, ValueError):
    """Input data or rules are invalid. ``problems`` holds every problem found."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]):
        self.problems: tuple[Problem, ...] = tuple(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found in the input:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))

    def text(self, lang: Literal["zh", "en"] = "en", interface: Interface = "python") -> str:
        """Every problem in ``lang``, fixes in the words of ``interface`` (:meth:`Problem.text`)."""
        n = len(self.problems)
        if lang == "zh":
            head = f"输入数据有 {n} 处问题："
        else:
            head = f"{n} problem{'s' if n != 1 else ''} found in the input:"
        return "\n".join([head, *(f"  - {p.text(lang, interface)}" for p in self.problems)])


class _Lazy(str):
    """An option's words, formatted with the problem's values only when a template uses it."""

    def __new__(cls, words: str, values: Mapping[str, Any]) -> _Lazy:
        return super().__new__(cls, words)

    def __init__(self, words: str, values: Mapping[str, Any]) -> None:
        self.values = values

    def __format__(self, spec: str) -> str:
        out = _fill(str(self), self.values)
        if out is None:
            raise KeyError(str(self))
        return out


def _fill(template: str, values: Mapping[str, Any]) -> str | None:
    """``template`` filled from ``values``; None when it needs a value that is not there."""
    try:
        return string.Formatter().vformat(template, (), values)
    except (KeyError, IndexError, AttributeError):
        return None


def _check_labels() -> dict[str, str]:
    from .i18n import VALUES

    table = VALUES.get("check")
    return {k: v["zh"] for k, v in table.items()} if table is not None else {}


class InfeasibleError(GridplanError):
    """A requested plan cannot be produced at all (not raised for ordinary infeasible pieces,
    which are reported in the plan's diagnostics table instead)."""


def describe_rows(rows: Sequence[object], *, limit: int = 10) -> str:
    """Format row identifiers for an error message: ``ids 4, 9, 12`` (truncated after ``limit``)."""
    shown = ", ".join(str(r) for r in list(rows)[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"{shown}{more}"


#: How a planner changes an input option, in the words of the interface in use; ``{...}``
#: fields are filled by :func:`option`. The fix of an input problem names the option the
#: caller can actually set: a keyword in Python, a flag in the CLI, a control in the app.
INPUT_OPTIONS: dict[str, dict[str, str]] = {
    "fix_invalid": {
        "python": "pass fix_invalid=True",
        "cli": "pass --fix-invalid",
        "app": "tick 'Repair invalid geometry'",
    },
    "columns": {
        "python": "rename it with columns={{{old!r}: {new!r}}}",
        "cli": "rename it with --columns {old}={new}",
        "app": "rename it in the column mapping box ({old} = {new})",
    },
    "columns_drop": {
        "python": "drop the old column, or leave {old!r} out of the `columns` mapping",
        "cli": "drop the old column from the file, or leave {old}={new} out of --columns",
        "app": "drop the old column from the file, or leave {old} = {new} out of the column "
        "mapping box",
    },
    "coordinates": {
        "python": "name them with columns={{{x!r}: 'lon', {y!r}: 'lat'}} (or x={x!r}, y={y!r})",
        "cli": "name them with --columns {x}=lon,{y}=lat",
        "app": "name them in the column mapping box ({x} = lon, {y} = lat)",
    },
    "crs": {
        "python": "pass the CRS they are in, e.g. crs='EPSG:4490' (CGCS2000) or crs='EPSG:4547'",
        "cli": "pass the CRS they are in, e.g. --coords-crs EPSG:4547 (CGCS2000 / Gauss-Kruger "
        "CM 114E, metres; --coords-crs EPSG:4490 for CGCS2000 lon/lat)",
        "app": "choose 'Projected, metres' in 'Coordinate system of CSV/XLSX coordinates' and "
        "give its code in 'EPSG code of the projection' (e.g. EPSG:4547)",
    },
    "encoding": {
        "python": "pass encoding='gbk' (or the file's encoding)",
        "cli": "put a .cpg file naming the encoding (e.g. GBK) next to the .shp",
        "app": "re-save the file as UTF-8",
    },
    "source_crs": {
        "python": "drop source_crs, or pass the layer in longitude/latitude",
        "cli": "drop --source-crs, or pass the layer in longitude/latitude",
        "app": "set 'Coordinates taken from' to WGS84, or upload the layer in longitude/latitude",
    },
    "force": {
        "python": "pass force=True to overwrite it",
        "cli": "pass --force to overwrite it",
        "app": "choose another file name",
    },
    "balance": {
        "python": "plan by population with GridRules(balance='population')",
        "cli": 'plan by population with balance = "population" in the [grid] table of the '
        "--config file",
        "app": "plan by population in the sidebar",
    },
}


def option(name: str, interface: Interface = "python", **fields: object) -> str:
    """The fix ``name`` of :data:`INPUT_OPTIONS` in the words of ``interface``.

    Examples
    --------
    >>> option("fix_invalid", "cli")
    'pass --fix-invalid'
    >>> option("columns", "cli", old="户数", new="households")
    'rename it with --columns 户数=households'
    """
    words = INPUT_OPTIONS[name]
    return words.get(interface, words["python"]).format(**fields)


#: :data:`INPUT_OPTIONS` in Chinese: the same fixes, ``{...}`` filled from the problem's
#: params (:meth:`Problem.text`); ``opt_<name>`` in a ``[problems]`` template.
INPUT_OPTIONS_ZH: dict[str, dict[str, str]] = {
    "fix_invalid": {
        "python": "传入 fix_invalid=True 自动修复",
        "cli": "加上 --fix-invalid 自动修复",
        "app": "勾选侧栏的「修复无效几何」",
    },
    "columns": {
        "python": "用 columns={{{old!r}: 'households'}} 改名",
        "cli": "用 --columns {old}=households 改名",
        "app": "在「字段对应」中写明 {old} = households",
    },
    "coordinates": {
        "python": "用 columns={{{x!r}: 'lon', {y!r}: 'lat'}} 指明经纬度列",
        "cli": "用 --columns {x}=lon,{y}=lat 指明经纬度列",
        "app": "在「字段对应」中写明 {x} = lon、{y} = lat",
    },
    "crs": {
        "python": "如为投影坐标（米），传入其坐标系，例如 crs='EPSG:4547'（国家2000 高斯投影 "
        "114°E）或 crs='EPSG:4490'（国家2000 经纬度）",
        "cli": "如为投影坐标（米），用 --coords-crs 指明其坐标系，例如 --coords-crs EPSG:4547"
        "（国家2000 高斯投影 114°E）或 --coords-crs EPSG:4490（国家2000 经纬度）",
        "app": "如为投影坐标（米），请在侧栏「表格坐标的坐标系」中选“投影坐标”，并在「投影坐标系 "
        "EPSG 代码」中填写其代码（如 4547，国家2000 高斯投影 114°E）",
    },
    "encoding": {
        "python": "传入 encoding='gbk'（或文件实际的编码）",
        "cli": "在 .shp 旁放一个写明编码（如 GBK）的 .cpg 文件",
        "app": "将文件另存为 UTF-8 编码后再上传",
    },
    "mapping": {
        "python": "用 columns={{'原字段名': '标准字段名'}} 指明字段",
        "cli": "用 --columns 原字段名=标准字段名 指明字段",
        "app": "在「字段对应」中写明：原字段名 = 标准字段名",
    },
    "source_crs": {
        "python": "source_crs 与数据不符：请去掉 source_crs，或传入经纬度坐标的图层",
        "cli": "--source-crs 与数据不符：请去掉 --source-crs，或传入经纬度坐标的图层",
        "app": "「坐标来源」与数据不符：请在「坐标来源」中选择 WGS84，或上传经纬度坐标的图层",
    },
    "layer": {
        "python": "用 layer='图层名' 指明图层",
        "cli": "用 文件.gpkg:图层名 指明图层",
        "app": "请上传该图层，或在「文件中的图层」中选择",
    },
    "force": {
        "python": "传入 force=True 覆盖",
        "cli": "加上 --force 覆盖",
        "app": "换一个文件名",
    },
    "balance": {
        "python": "或用 GridRules(balance='population') 按人口规划",
        "cli": '或在 --config 文件的 [grid] 表中设置 balance = "population" 按人口规划',
        "app": "或在侧栏选择按人口规划",
    },
}
