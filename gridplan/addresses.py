"""Household rosters (住户名册) in, address-level micro-grids and household lists out (一标三实).

Street offices hold rosters, not layers: Excel sheets or GBK CSV files ordered by compound,
building, stairwell, floor and room (小区/楼栋/单元/楼层/房号), from the standard-address work.
This module follows one roster row from the sheet to its micro-grid:

* :func:`read_roster` finds the header row under title rows, fills merged cells, maps Chinese
  and English headers (:data:`ROSTER_HEADERS`), skips blank and total rows, and lists
  duplicates and incomplete addresses (:attr:`Roster.issues`); nothing is dropped silently;
* :func:`join_roster` joins the rows to the units by ``unit_id`` or by compound and building
  keys (``3号楼``, ``3栋``, ``3幢``, ``三号楼`` are all building ``3``, see
  :func:`building_key`). Matched units take their households from the roster (the layer's
  count is kept as ``households_layer``) and carry their addresses for the micro-grid stage;
  every row that cannot be placed is reported (:attr:`RosterJoin.records`);
* the micro-grid stage (:mod:`gridplan.partition.microgrids`) cuts a building above the
  micro-grid ceiling into whole stairwells where each is within the ceiling, else into floor
  ranges cut at floor boundaries (:meth:`PartAddresses.spans`), and labels every micro-grid
  with its addresses, e.g. ``3号楼1单元1–7层；3号楼2单元`` (column ``addresses``);
* :func:`household_equivalency` lists every roster row with its ``grid_code`` and
  ``microgrid_code`` (written by :func:`gridplan.export.write_household_equivalency`).

Households are counted along one axis per unit: the unit's rows sorted by stairwell, floor
and room, each row taking its households. Micro-grid slices of a unit are intervals of that
axis (``address_keys`` on the micro-grids, JSON ``[[unit_id, start, end], ...]``), so a roster
row is found in its micro-grid exactly, by arithmetic, never by parsing labels.

Examples
--------
>>> import geopandas as gpd, pandas as pd
>>> from shapely.geometry import Point
>>> roster = read_roster(pd.DataFrame({"楼栋": ["3号楼", "3栋", "三号楼"],
...                                   "房号": ["101", "102", "201"]}))
>>> roster.rows[["building_key", "floor"]].to_dict("list")
{'building_key': ['3', '3', '3'], 'floor': [1.0, 1.0, 2.0]}
>>> units = gpd.GeoDataFrame({"unit_id": ["u3"], "building": ["3"], "households": [4]},
...                          geometry=[Point(0, 0)], crs=4326)
>>> joined, report = join_roster(units, roster)
>>> joined["households"].tolist(), joined["households_layer"].tolist(), report.share_joined
([3], [4], 1.0)
"""

from __future__ import annotations

import csv
import io as _io
import itertools
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .config import band_admits
from .diagnostics import Diagnostic, render
from .errors import Interface, Problem, ValidationError

__all__ = [
    "ROSTER_FIELDS",
    "ROSTER_HEADERS",
    "UNIT_KEY_COLUMNS",
    "PartAddresses",
    "Roster",
    "RosterJoin",
    "building_key",
    "building_label",
    "floor_number",
    "household_equivalency",
    "join_roster",
    "part_addresses",
    "read_roster",
    "report_addresses",
    "report_table",
    "slice_households",
    "stairwell_key",
]

#: Header names recognised without a mapping, by canonical field (compared after NFKC
#: normalisation, without spaces, brackets' contents or case). A mapping passed as
#: ``columns`` (CLI ``--roster-columns``) overrides them.
ROSTER_HEADERS: dict[str, tuple[str, ...]] = {
    "unit_id": ("unit_id", "楼栋编号", "楼栋编码", "建筑编号", "建筑物编码", "building_id"),
    "community": ("社区", "社区名称", "community"),
    "compound": (
        "小区",
        "小区名称",
        "小区名",
        "院落",
        "院落名称",
        "街路巷",
        "街路巷名称",
        "compound",
        "estate",
        "street",
        "road",
    ),
    "building": (
        "楼栋",
        "楼栋号",
        "楼号",
        "栋号",
        "幢号",
        "楼栋名称",
        "楼宇",
        "楼",
        "栋",
        "幢",
        "门牌号",
        "building",
        "block",
        "blk",
        "blk_no",
    ),
    "stairwell": ("单元", "单元号", "楼梯", "门洞", "stairwell", "entrance", "staircase"),
    "floor": ("楼层", "层", "所在楼层", "层次", "floor", "level", "storey"),
    "room": ("房号", "房间号", "房间", "户号", "室号", "室", "room", "unit_no", "flat"),
    "head": ("户主", "户主姓名", "户主名", "姓名", "head", "householder", "name"),
    "households": ("户数", "常住户数", "实有户数", "households"),
    "registered_households": ("户籍户数", "registered_households"),
    "population": (
        "人数",
        "人口",
        "人口数",
        "家庭人口",
        "常住人口",
        "居住人数",
        "persons",
        "population",
        "residents",
    ),
    "party_members": ("党员", "党员数", "党员人数", "party_members"),
    "phone": ("电话", "联系电话", "手机", "手机号", "手机号码", "phone", "telephone", "mobile"),
    "role": ("角色", "职务", "身份", "role"),
}
#: Canonical roster fields (the targets a ``columns`` mapping may name).
ROSTER_FIELDS: tuple[str, ...] = tuple(ROSTER_HEADERS)
#: Columns of the units layer read as the join keys, by roster field, in order of preference.
UNIT_KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "building": ("building", "楼栋", "楼号", "楼栋号", "blk_no", "block", "blk", "门牌号"),
    "compound": ("compound", "compound_name", "小区", "小区名称", "街路巷", "street"),
}
#: Rows read for the header: a header below this many title rows is not found.
HEADER_SEARCH_ROWS = 30
#: First cells that mark a total row, which is skipped (and reported), never a household.
_TOTAL_WORDS = ("合计", "总计", "小计", "共计", "total", "sum")
#: Encodings tried, in order, for a CSV roster: UTF-8 (with or without a byte-order mark), then
#: GB18030, a superset of GBK. The same as :data:`gridplan.io.CSV_ENCODINGS`; ``gridplan.io``
#: re-exports :func:`read_roster`, so this module does not import it.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
#: Households a roster row may give (a larger count is a typing error).
MAX_ROW_HOUSEHOLDS = 10_000

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "○": 0,
    "一": 1,
    "壹": 1,
    "二": 2,
    "两": 2,
    "贰": 2,
    "三": 3,
    "叁": 3,
    "四": 4,
    "肆": 4,
    "五": 5,
    "伍": 5,
    "六": 6,
    "陆": 6,
    "七": 7,
    "柒": 7,
    "八": 8,
    "捌": 8,
    "九": 9,
    "玖": 9,
}
_CN_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_RUN = re.compile(f"[{''.join(_CN_DIGITS)}{''.join(_CN_UNITS)}]+")
_BUILDING_PREFIX = re.compile(r"^(?:第|BLK\.?|BLOCK|BLDG\.?|NO\.?)")
_BUILDING_SUFFIX = re.compile(r"(?:号楼|号院|号|栋|幢|楼|座|#|BLK|BLOCK)$")
_STAIR_SUFFIX = re.compile(r"(?:单元|门洞|门|梯|号)$")

# how a planner maps a roster column, by interface (the fix of a reading problem)
_MAP_WORDS: dict[str, str] = {
    "python": "map it with read_roster(..., columns={{{source!r}: {target!r}}})",
    "cli": "map it with --roster-columns {source}={target}",
    "app": "map it in the roster column mapping ({source} = {target})",
}


def _map_fix(interface: Interface, source: str, target: str) -> str:
    return _MAP_WORDS.get(interface, _MAP_WORDS["python"]).format(source=source, target=target)


# ---------------------------------------------------------------------------------------------
# normalisation of address parts
# ---------------------------------------------------------------------------------------------


def _text(value: object) -> str | None:
    """A cell as clean text (NFKC: full-width digits and letters become ASCII); None if blank."""
    if value is None:
        return None
    if type(value) is str:
        if value.isascii():
            return value.strip() or None
        text = unicodedata.normalize("NFKC", value).strip()
        return text or None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            value = int(value)
    try:
        if pd.isna(value):  # type: ignore[call-overload]
            return None
    except (TypeError, ValueError):
        pass
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return text or None


def _cn_number(run: str) -> str:
    """A run of Chinese numerals as Arabic digits: 三 -> 3, 十二 -> 12, 二〇一 -> 201."""
    if not any(ch in _CN_UNITS for ch in run):
        return "".join(str(_CN_DIGITS[ch]) for ch in run)
    total, current = 0, 0
    for ch in run:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        else:
            total += (current or 1) * _CN_UNITS[ch]
            current = 0
    return str(total + current)


def _arabic(text: str) -> str:
    return _CN_RUN.sub(lambda m: _cn_number(m.group(0)), text)


def building_key(value: object) -> str | None:
    """The join key of a building as rosters and layers write it.

    Examples
    --------
    >>> [building_key(v) for v in ("3号楼", "3栋", "3幢", "三号楼", "第十二栋", " 3 ")]
    ['3', '3', '3', '3', '12', '3']
    >>> building_key("Blk 21A"), building_key("21a栋"), building_key("3#楼"), building_key(3.0)
    ('21A', '21A', '3', '3')
    >>> building_key("A座"), building_key("综合楼"), building_key(None)
    ('A', '综合', None)
    """
    text = _text(value)
    if text is None:
        return None
    s = re.sub(r"\s+", "", text).upper()
    s = _BUILDING_PREFIX.sub("", s)
    s = _arabic(s)
    for _ in range(3):
        stripped = _BUILDING_SUFFIX.sub("", s)
        if stripped == s or not stripped:
            break
        s = stripped
    return s or re.sub(r"\s+", "", text).upper()


def stairwell_key(value: object) -> str | None:
    """The key of a stairwell (单元): ``1单元``, ``一单元``, ``1`` and ``第1单元`` are ``1``.

    Examples
    --------
    >>> [stairwell_key(v) for v in ("1单元", "一单元", "第1单元", 2, "A", None)]
    ['1', '1', '1', '2', 'A', None]
    """
    text = _text(value)
    if text is None:
        return None
    s = _arabic(re.sub(r"\s+", "", text).upper())
    s = re.sub(r"^第", "", s)
    stripped = _STAIR_SUFFIX.sub("", s)
    return stripped or s


def floor_number(value: object) -> float:
    """A floor as a number: ``15``, ``15层``, ``第15层``, ``15F`` are 15; ``B1``, ``地下1层`` are
    -1; NaN when it cannot be read.

    Examples
    --------
    >>> [floor_number(v) for v in ("15", "15层", "第十五层", "15F", "B1", "地下1层", "x", None)]
    [15.0, 15.0, 15.0, 15.0, -1.0, -1.0, nan, nan]
    """
    text = _text(value)
    if text is None:
        return math.nan
    s = _arabic(re.sub(r"\s+", "", text).upper())
    m = re.fullmatch(r"(?:第)?(-?\d+)(?:层|楼|F|/F)?", s)
    if m:
        return float(int(m.group(1)))
    m = re.fullmatch(r"(?:地下|负|B|-)(\d+)(?:层|F)?", s)
    if m:
        return -float(int(m.group(1)))
    return math.nan


def floor_from_room(value: object) -> float:
    """The floor a room number implies: ``1502`` and ``1502室`` are on 15, ``15-02`` on 15,
    ``1-1502`` (stairwell 1) on 15; NaN for rooms of one or two digits.

    Examples
    --------
    >>> [floor_from_room(v) for v in ("1502", "1502室", "15-02", "1-1502", "302", "12", None)]
    [15.0, 15.0, 15.0, 15.0, 3.0, nan, nan]
    """
    text = _text(value)
    if text is None:
        return math.nan
    s = _arabic(text)
    m = re.search(r"(\d+)\s*[-－_]\s*(\d{2})\D*$", s)
    if m:
        return float(int(m.group(1)))
    runs = re.findall(r"\d+", s)
    if runs and len(runs[-1]) >= 3:
        return float(int(runs[-1][:-2]))
    return math.nan


def _compound_key(value: object) -> str | None:
    text = _text(value)
    return None if text is None else re.sub(r"\s+", "", text).upper()


def _room_key(value: object) -> str | None:
    text = _text(value)
    return None if text is None else re.sub(r"\s+", "", text).upper()


def building_label(key: str | None) -> str:
    """How a building is written in labels: ``3`` -> ``3号楼``; other keys as they are.

    Examples
    --------
    >>> building_label("3"), building_label("21A"), building_label("综合")
    ('3号楼', '21A号楼', '综合')
    """
    if not isinstance(key, str) or not key:
        return ""
    return f"{key}号楼" if re.fullmatch(r"\d+[A-Z]?", key) else key


def _stair_label(key: str | None) -> str:
    return f"{key}单元" if key else ""


def _natural(value: str | None) -> tuple:
    """Sort key: numbers by value, then text (``2`` before ``10``, both before ``A``)."""
    if value is None:
        return (2, 0, "")
    m = re.fullmatch(r"(-?\d+)(.*)", value)
    if m:
        return (0, int(m.group(1)), m.group(2))
    return (1, 0, value)


def _norm_header(value: object) -> str:
    text = _text(value) or ""
    text = re.sub(r"[(（\[【].*?[)）\]】]", "", text)
    return re.sub(r"[\s*＊:：]", "", text).lower()


_HEADER_OF: dict[str, str] = {
    _norm_header(name): fld for fld, names in ROSTER_HEADERS.items() for name in names
}


def _rows_text(rows: Sequence[object], *, limit: int = 10) -> str:
    """Row numbers or ids for a message in either language: ``4, 5, 9 … 120`` (the first
    ``limit`` and the last; the record keeps them all)."""
    items = [str(r) for r in rows]
    if len(items) <= limit:
        return ", ".join(items)
    return f"{', '.join(items[: limit - 1])} … {items[-1]}"


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Roster:
    """A household roster as read by :func:`read_roster`.

    Attributes
    ----------
    rows
        One row per roster row that holds households (blank and total rows are not here),
        in sheet order: ``row`` (the row number the planner sees in the sheet), the canonical
        fields found (:data:`ROSTER_FIELDS`), and the keys ``compound_key``,
        ``building_key``, ``stairwell_key``, ``floor`` (float, from ``房号`` when ``楼层`` is
        missing; ``floor_from_room`` says which), ``room_key`` and ``households`` (int: the
        row's count, or 1 per row).
    table
        The same rows as written in the sheet (text, original headers), same index.
    columns
        Canonical field -> the header it was read from.
    issues
        :class:`~gridplan.diagnostics.Diagnostic` records (level ``roster``): blank and total
        rows skipped, duplicate addresses, incomplete addresses.
    source
        File name (or ``"roster"`` for a frame).
    header_row
        Sheet row number of the header.
    household_source
        ``"rows"`` (one row per household) or the header the counts came from.
    """

    rows: pd.DataFrame
    table: pd.DataFrame
    columns: Mapping[str, str]
    issues: tuple[Diagnostic, ...]
    source: str
    header_row: int
    household_source: str
    blank_rows: tuple[int, ...] = ()
    total_rows: tuple[int, ...] = ()

    @property
    def households(self) -> int:
        """Households in the roster."""
        return int(self.rows["households"].sum())


def _fail(source: str, check: str, message: str, rows: Sequence[object] = ()) -> ValidationError:
    return ValidationError([Problem(source, check, message, tuple(rows))])


def _xlsx_grid(path: Path, sheet: str | int | None) -> list[list[object]]:
    """Every cell of a sheet, merged ranges filled with their top-left value.

    The workbook is read in openpyxl's fast read-only mode, which has no merged cells, so the
    ranges come from the sheet's own ``<mergeCell ref="A1:G1"/>`` elements."""
    import zipfile

    import openpyxl
    from openpyxl.utils.cell import range_boundaries

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise _fail(path.name, "unreadable", f"cannot read {path.name!r} as Excel: {exc}") from exc
    try:
        try:
            if sheet is None:
                ws = wb.worksheets[0]
            elif isinstance(sheet, int):
                ws = wb.worksheets[sheet]
            else:
                ws = wb[sheet]
        except (IndexError, KeyError) as exc:
            raise _fail(
                path.name,
                "missing_sheet",
                f"no sheet {sheet!r} in {path.name!r}; it holds {', '.join(wb.sheetnames)}",
            ) from exc
        grid = [list(r) for r in ws.iter_rows(values_only=True)]
        member = str(getattr(ws, "_worksheet_path", "")).lstrip("/")
    finally:
        wb.close()
    with zipfile.ZipFile(path) as z:
        xml = z.read(member) if member in z.namelist() else b""
    for m in re.finditer(rb'<mergeCell[^>]*\sref="([A-Z]+[0-9]+:[A-Z]+[0-9]+)"', xml):
        c0, r0, c1, r1 = range_boundaries(m.group(1).decode())
        if r0 - 1 >= len(grid):
            continue
        top = grid[r0 - 1][c0 - 1] if c0 - 1 < len(grid[r0 - 1]) else None
        for r in range(r0 - 1, min(r1, len(grid))):
            row = grid[r]
            if len(row) < c1:
                row.extend([None] * (c1 - len(row)))
            for c in range(c0 - 1, c1):
                row[c] = top
    return grid


def _csv_grid(path: Path, encoding: str | None) -> list[list[object]]:
    data = path.read_bytes()
    encodings = [encoding] if encoding else list(CSV_ENCODINGS)
    for enc in encodings:
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        return [list(r) for r in csv.reader(_io.StringIO(text))]
    raise _fail(
        path.name,
        "encoding",
        f"cannot decode {path.name!r} as {' or '.join(encodings)}; save it as UTF-8 or GBK",
    )


def _grid_of(
    source: str | Path | pd.DataFrame, sheet: str | int | None, encoding: str | None
) -> tuple[list[list[object]], str]:
    if isinstance(source, pd.DataFrame):
        # a frame's columns are its header row
        head = [list(source.columns)]
        return head + source.astype(object).to_numpy().tolist(), "roster"
    p = Path(source)
    if not p.is_file():
        why = "is a folder; pass a file inside it" if p.is_dir() else "not found"
        raise _fail(p.name, "missing_file", f"roster file {str(p)!r} {why}")
    if p.stat().st_size == 0:
        raise _fail(p.name, "empty_file", f"the roster {p.name!r} is empty (0 bytes)")
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_grid(p, sheet), p.name
    if suffix in (".csv", ".txt"):
        return _csv_grid(p, encoding), p.name
    raise _fail(
        p.name,
        "unknown_format",
        f"cannot read {p.name!r} as a roster: expected .xlsx, .xlsm, .csv or .txt",
    )


def _find_header(
    grid: list[list[object]], mapping: Mapping[str, str], source: str, interface: Interface
) -> int:
    known = set(_HEADER_OF) | {_norm_header(k) for k in mapping}
    best, best_score = -1, 0
    for i, row in enumerate(grid[:HEADER_SEARCH_ROWS]):
        cells = {_norm_header(v) for v in row if _text(v) is not None}
        score = len(cells & known)
        if score > best_score:
            best, best_score = i, score
    if best < 0 or best_score < 1:
        seen = [_text(v) for row in grid[:HEADER_SEARCH_ROWS] for v in row if _text(v) is not None][
            :8
        ]
        raise _fail(
            source,
            "no_header",
            f"no header row in the first {HEADER_SEARCH_ROWS} rows of {source!r} (first cells: "
            f"{', '.join(map(str, seen)) or 'none'}); expected headers such as 小区, 楼栋, 单元, "
            f"楼层, 房号, 户主, 户数; {_map_fix(interface, '楼号', 'building')}",
        )
    return best


def _parse_count(value: object) -> float | None:
    """A count cell: ``3``, ``3.0``, ``3户``, ``3人``; None for blank, NaN for unreadable."""
    text = _text(value)
    if text is None:
        return None
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*(?:户|人|名|个)?", text.replace(",", ""))
    return float(m.group(1)) if m else math.nan


def read_roster(
    source: str | Path | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    interface: Interface = "python",
) -> Roster:
    """Read a household roster: XLSX (merged cells filled) or CSV (UTF-8, UTF-8 with BOM, GBK).

    Parameters
    ----------
    source
        ``.xlsx``/``.xlsm``/``.csv``/``.txt`` file, or a frame whose columns are the headers.
    columns
        ``{header: field}`` overriding :data:`ROSTER_HEADERS`, e.g. ``{"楼号": "building"}``
        (fields: :data:`ROSTER_FIELDS`).
    sheet
        Excel sheet name or position (default the first).
    encoding
        CSV encoding (default: UTF-8, then GB18030, a superset of GBK).
    interface
        Whose words the fixes of reading errors use (``"cli"``: ``--roster-columns``).

    Returns
    -------
    Roster

    Raises
    ------
    ValidationError
        No header row, no building (or ``unit_id``) column, a mapping naming a missing
        header or an unknown field, unreadable counts (every bad row named).
    """
    mapping = {str(k): str(v) for k, v in (columns or {}).items()}
    grid, name = _grid_of(source, sheet, encoding)
    problems: list[Problem] = []
    bad_targets = sorted({v for v in mapping.values() if v not in ROSTER_FIELDS})
    if bad_targets:
        problems.append(
            Problem(
                name,
                "roster_field",
                f"roster column mapping names unknown fields {', '.join(bad_targets)}; "
                f"expected one of {', '.join(ROSTER_FIELDS)}",
            )
        )
    if not any(_text(v) is not None for row in grid for v in row):
        raise _fail(name, "empty_roster", f"the roster {name!r} holds no cells")
    h = _find_header(grid, mapping, name, interface)
    width = max(len(r) for r in grid)
    header_cells = [*grid[h], *([None] * (width - len(grid[h])))]
    headers: list[str] = []
    for c, v in enumerate(header_cells):
        text = _text(v) or f"col{c + 1}"
        while text in headers:  # two columns under one merged header
            text = f"{text}_{c + 1}"
        headers.append(text)
    field_of: dict[str, int] = {}
    by_norm = {_norm_header(t): i for i, t in reversed(list(enumerate(headers)))}
    missing_sources = [k for k in mapping if _norm_header(k) not in by_norm]
    if missing_sources:
        problems.append(
            Problem(
                name,
                "roster_missing_column",
                f"roster column mapping names {', '.join(missing_sources)}, not among the "
                f"headers of {name!r} (row {h + 1}: {', '.join(headers)})",
            )
        )
    for src, target in mapping.items():
        i = by_norm.get(_norm_header(src))
        if i is not None and target in ROSTER_FIELDS:
            field_of[target] = i
    taken = set(field_of.values())
    for i, text in enumerate(headers):
        fld = _HEADER_OF.get(_norm_header(text))
        if fld is not None and fld not in field_of and i not in taken:
            field_of[fld] = i
            taken.add(i)
    if "building" not in field_of and "unit_id" not in field_of:
        problems.append(
            Problem(
                name,
                "roster_no_building",
                f"the roster {name!r} has no building column (headers in row {h + 1}: "
                f"{', '.join(headers)}); expected 楼栋, 楼号 or 栋号, or a unit_id column; "
                f"{_map_fix(interface, headers[0] if headers else '楼号', 'building')}",
            )
        )
    if problems:
        raise ValidationError(problems)

    body = grid[h + 1 :]
    blank: list[int] = []
    totals: list[int] = []
    kept: list[int] = []
    for j, row in enumerate(body):
        cells = [_text(v) for v in row]
        present = [v for v in cells if v is not None]
        sheet_row = h + 2 + j
        if not present:
            blank.append(sheet_row)
        elif present[0].lower().replace(" ", "") in _TOTAL_WORDS:
            totals.append(sheet_row)
        else:
            kept.append(j)
    table = pd.DataFrame(
        [[_text(v) for v in [*body[j], *([None] * (width - len(body[j])))]] for j in kept],
        columns=headers,
        dtype=object,
    )
    sheet_rows = np.array([h + 2 + j for j in kept], dtype=np.int64)
    rows = pd.DataFrame({"row": sheet_rows})
    for fld, i in field_of.items():
        rows[fld] = table.iloc[:, i].to_numpy() if len(table) else []

    count_field = next((f for f in ("households", "registered_households") if f in field_of), None)
    bad: dict[str, list[int]] = {}
    counts = {}
    for fld in ("households", "registered_households", "population", "party_members"):
        if fld not in rows:
            continue
        values = [_parse_count(v) for v in rows[fld]]
        wrong = [
            int(r)
            for r, v in zip(sheet_rows, values, strict=True)
            if (v is None and fld == count_field)
            or (v is not None and (math.isnan(v) or v < 0))
            or (fld == count_field and v is not None and not float(v).is_integer())
            or (fld == count_field and v is not None and v > MAX_ROW_HOUSEHOLDS)
        ]
        if wrong:
            bad[fld] = wrong
        counts[fld] = [math.nan if v is None else v for v in values]
    if bad:
        raise ValidationError(
            [
                Problem(
                    name,
                    "roster_bad_count",
                    f"column {headers[field_of[fld]]!r} ({fld}) of {name!r} must hold whole "
                    f"numbers >= 0{' for every row' if fld == count_field else ''}; rows "
                    f"{_rows_text(wrong)} do not ({len(wrong)} rows; given e.g. "
                    f"{rows.loc[rows['row'] == wrong[0], fld].iat[0]!r}); correct them, or "
                    f"{_map_fix(interface, headers[field_of[fld]], 'a field that fits')}",
                    tuple(wrong),
                )
                for fld, wrong in bad.items()
            ]
        )
    for fld, numbers in counts.items():
        rows[fld] = np.asarray(numbers, dtype=float)
    if count_field is not None:
        rows["households"] = rows[count_field].astype(np.int64)
        source_of_counts = headers[field_of[count_field]]
    else:
        rows["households"] = np.ones(len(rows), dtype=np.int64)
        source_of_counts = "rows"

    def keyed(column: str, fn: Any) -> list[Any]:
        values = _vals(rows, column)
        known = {v: fn(v) for v in set(values)}  # rosters repeat the same few values
        return [known[v] for v in values]

    rows["compound_key"] = keyed("compound", _compound_key)
    rows["building_key"] = keyed("building", building_key)
    rows["stairwell_key"] = keyed("stairwell", stairwell_key)
    given_floor = np.array(keyed("floor", floor_number), dtype=float)
    room_floor = np.array(keyed("room", floor_from_room), dtype=float)
    from_room = np.isnan(given_floor) & ~np.isnan(room_floor)
    rows["floor"] = np.where(from_room, room_floor, given_floor).astype(float)
    rows["floor_from_room"] = from_room
    rows["room_key"] = keyed("room", _room_key)
    if "unit_id" in rows:
        from .validate import id_str

        rows["unit_id"] = [id_str(v) for v in rows["unit_id"]]

    issues: list[Diagnostic] = []
    if blank:
        issues.append(_record("roster_blank_rows", name, blank, severity="info"))
    if totals:
        issues.append(_record("roster_total_rows", name, totals, severity="info"))
    issues.extend(_incomplete(rows, field_of, name))
    issues.extend(_duplicates(rows, field_of, name, per_row=count_field is None))
    table.index = rows.index
    return Roster(
        rows=rows,
        table=table,
        columns={f: headers[i] for f, i in sorted(field_of.items(), key=lambda kv: kv[1])},
        issues=tuple(issues),
        source=name,
        header_row=h + 1,
        household_source=source_of_counts,
        blank_rows=tuple(blank),
        total_rows=tuple(totals),
    )


def _record(
    code: str,
    source: str,
    rows: Sequence[int],
    *,
    severity: Literal["error", "warning", "info"] = "warning",
    fix: str | None = None,
    unit_ids: Iterable[str] = (),
    households: int | None = None,
    **params: Any,
) -> Diagnostic:
    rows = [int(r) for r in rows]
    return Diagnostic(
        level="roster",
        code=code,
        severity=severity,
        unit_ids=tuple(unit_ids),
        households=households,
        params={
            "source": source,
            "rows": rows,
            "n_rows": len(rows),
            "first_rows": _rows_text(rows),
            **params,
        },
        fix=fix,
    )


_ADDRESS_PARTS = ("compound", "building", "stairwell", "floor", "room")


def _incomplete(rows: pd.DataFrame, field_of: Mapping[str, int], source: str) -> list[Diagnostic]:
    """Rows lacking an address part the roster has a column for (a floor counts as given when
    the room implies it); one record per missing part."""
    present = {
        "compound": rows["compound_key"].notna(),
        "building": rows["building_key"].notna()
        | (rows["unit_id"].notna() if "unit_id" in rows else False),
        "stairwell": rows["stairwell_key"].notna(),
        "floor": rows["floor"].notna(),
        "room": rows["room_key"].notna(),
    }
    checked = [f for f in _ADDRESS_PARTS if f in field_of or (f == "floor" and "room" in field_of)]
    if "floor" in checked and "floor" not in field_of and "room" in field_of:
        # a floor is only expected from rooms when rooms carry it (3 digits or more)
        checked.remove("floor")
    sheet_rows = rows["row"].to_numpy().tolist()
    out = []
    for f in checked:
        found = [int(r) for r, ok in zip(sheet_rows, present[f].to_numpy(), strict=True) if not ok]
        if found:
            out.append(
                _record(
                    "roster_incomplete_address",
                    source,
                    found,
                    fix="roster_complete_address",
                    missing=f,
                    why=f"roster_{f}",
                )
            )
    return out


def _address_text(r: Mapping[str, Any]) -> str:
    """A row's address as one text: ``阳光小区3号楼1单元1502``."""

    def get(key: str) -> Any:
        v = r.get(key)
        return None if _missing(v) else v

    floor = get("floor")
    room = get("room")
    parts = [
        get("compound") or "",
        building_label(get("building_key")),
        _stair_label(get("stairwell_key")),
        room if room is not None else ("" if floor is None else f"{int(floor)}层"),
    ]
    text = _join_label(str(parts[0]), "".join(str(p) for p in parts[1:] if p))
    return text or str(get("unit_id") or "?")


def _duplicates(
    rows: pd.DataFrame, field_of: Mapping[str, int], source: str, *, per_row: bool
) -> list[Diagnostic]:
    """The same address on several rows. A roster of one row per household without rooms
    cannot tell households apart, so it is not checked."""
    if per_row and "room" not in field_of:
        return []
    key_cols = ["unit_id"] if "unit_id" in rows else []
    key_cols += ["compound_key", "building_key", "stairwell_key", "floor", "room_key"]
    keys = rows[key_cols].astype(object).where(rows[key_cols].notna(), None)
    if "room" in field_of:
        usable = rows["room_key"].notna()
    else:
        usable = rows["building_key"].notna()
    tuples = [tuple(k) for k in keys.to_numpy().tolist()]
    seen: dict[tuple, list[int]] = {}
    for t, ok, r in zip(tuples, usable.to_numpy(), rows["row"].to_numpy(), strict=True):
        if ok:
            seen.setdefault(t, []).append(int(r))
    out = []
    first_of = {int(r): i for i, r in enumerate(rows["row"].to_numpy())}
    for found in seen.values():
        if len(found) > 1:
            address = _address_text({str(k): v for k, v in rows.iloc[first_of[found[0]]].items()})
            out.append(
                _record(
                    "roster_duplicate_address",
                    source,
                    found,
                    fix="roster_check_duplicates",
                    address=address,
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# joining
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterJoin:
    """What :func:`join_roster` did with every roster row.

    Attributes
    ----------
    rows
        One row per roster row (the roster's index): ``row``, ``unit_id`` (None when not
        joined), ``status`` (``joined``, ``unmatched``, ``ambiguous``), ``households`` and
        ``offset`` (where the row's households start on its unit's address axis).
    records
        The roster's issues and the join's: rows matching no unit, rows matching several
        units, units without rows, household counts differing from the layer's.
    by
        ``"unit_id"`` or ``"address"``.
    unit_keys
        Units column read for each key (``{"building": "blk_no", "compound": "street"}``).
    source
        The roster's file name.
    """

    rows: pd.DataFrame
    records: tuple[Diagnostic, ...]
    by: str
    unit_keys: Mapping[str, str] = field(default_factory=dict)
    source: str = "roster"

    @property
    def share_joined(self) -> float:
        """Share of roster rows joined to a unit."""
        n = len(self.rows)
        return float((self.rows["status"] == "joined").mean()) if n else math.nan

    def report(self, *, interface: Interface = "python") -> pd.DataFrame:
        """The records as a table with ``message_zh``, ``message_en``, ``fix_zh``,
        ``fix_en`` (:func:`report_table`)."""
        return report_table(self.records, interface=interface)


def report_table(records: Iterable[Diagnostic], *, interface: Interface = "python") -> pd.DataFrame:
    """Roster records as a table in both languages: ``code``, ``severity``, ``rows`` (sheet
    row numbers), ``unit_ids``, ``households``, ``message_zh``, ``message_en``, ``fix_zh``,
    ``fix_en``."""
    out = []
    for d in records:
        zh, fix_zh = render(d, lang="zh", interface=interface)
        en, fix_en = render(d, lang="en", interface=interface)
        out.append(
            {
                "code": d.code,
                "severity": d.severity,
                "rows": tuple(d.params.get("rows", ())),
                "unit_ids": d.unit_ids,
                "households": d.households,
                "message_zh": zh,
                "message_en": en,
                "fix_zh": fix_zh,
                "fix_en": fix_en,
            }
        )
    columns = ["code", "severity", "rows", "unit_ids", "households"]
    columns += ["message_zh", "message_en", "fix_zh", "fix_en"]
    return pd.DataFrame(out, columns=columns)


def _vals(frame: pd.DataFrame, column: str) -> list[Any]:
    """A column as a list with None where missing (or all None when there is no column)."""
    if column not in frame.columns:
        return [None] * len(frame)
    return [None if _missing(v) else v for v in frame[column].tolist()]


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _unit_ids(units: pd.DataFrame) -> list[str]:
    from .validate import id_str

    if "unit_id" in units.columns:
        values = units["unit_id"]
    else:
        values = pd.Series(units.index, index=units.index)
    return [id_str(v) or "" for v in values]


def join_roster(
    units: pd.DataFrame,
    roster: Roster,
    *,
    by: Literal["auto", "unit_id", "address"] = "auto",
    unit_keys: Mapping[str, str] | None = None,
    columns: Mapping[str, str] | None = None,
    tolerance: float = 0.2,
    interface: Interface = "python",
) -> tuple[Any, RosterJoin]:
    """Join roster rows to units, take households from the roster, and report what did not
    join.

    Parameters
    ----------
    units
        The units layer (before or after :func:`gridplan.layers.prepare_layers`).
    roster
        :func:`read_roster`'s result.
    by
        ``"unit_id"`` (the roster has a unit_id column), ``"address"`` (compound and
        building keys), or ``"auto"``: unit_id when the roster has it.
    unit_keys
        Units columns holding the keys, e.g. ``{"compound": "street", "building": "blk_no"}``
        (default: the first of :data:`UNIT_KEY_COLUMNS` present). The compound key is used
        when both the roster and the units have one.
    columns
        The units' column renaming (as for :func:`gridplan.plan`), applied first.
    tolerance
        A unit whose roster count differs from the layer's by more than this share (and by
        more than 2 households) is reported.
    interface
        Whose words the fixes use.

    Returns
    -------
    (units, RosterJoin)
        A copy of ``units`` (renamed) where every matched unit has ``households`` from the
        roster (``population`` and ``party_members`` too, when the roster has them), the
        layer's count in ``households_layer``, ``roster_rows``, ``address`` (its label, e.g.
        ``阳光小区3号楼``) and ``address_atoms`` (JSON: its households by stairwell and floor,
        read by the micro-grid stage); and the join report.

    Raises
    ------
    ValidationError
        No key to join on: a unit_id join without a unit_id column on either side, or an
        address join without a building column in the units.
    """
    out = units.copy()
    if columns:
        mapping = {k: v for k, v in columns.items() if k in out.columns and k != v}
        out = out.rename(columns=mapping)
    rows = roster.rows
    ids = _unit_ids(out)
    # plain lists, None where missing (pandas' string columns hold NaN)
    r_unit, r_comp, r_bld = (
        _vals(rows, "unit_id"),
        _vals(rows, "compound_key"),
        _vals(rows, "building_key"),
    )
    r_stair, r_room, r_compound = (
        _vals(rows, "stairwell_key"),
        _vals(rows, "room_key"),
        _vals(rows, "compound"),
    )
    r_floor = rows["floor"].to_numpy(dtype=float)
    r_row = rows["row"].to_numpy(dtype=np.int64).tolist()
    has_unit_id = any(v is not None for v in r_unit)
    mode = ("unit_id" if has_unit_id else "address") if by == "auto" else by
    keys = dict(unit_keys or {})
    for role, names in UNIT_KEY_COLUMNS.items():
        if role not in keys:
            hit = next((c for c in names if c in out.columns), None)
            if hit is not None:
                keys[role] = hit
    if mode == "unit_id" and not has_unit_id:
        raise _fail(
            roster.source,
            "roster_no_unit_id",
            f"the roster {roster.source!r} has no unit_id column to join on; "
            f"{_map_fix(interface, '楼栋编号', 'unit_id')}, or join by address",
        )
    if mode == "address" and "building" not in keys:
        raise _fail(
            "units",
            "units_no_building",
            "the units layer has no building column to join the roster on (looked for "
            f"{', '.join(UNIT_KEY_COLUMNS['building'])}); add one, or give the roster a "
            "unit_id column",
        )
    if mode == "address" and all(v is None for v in r_bld):
        raise _fail(
            roster.source,
            "roster_no_building",
            f"the roster {roster.source!r} has no building values to join on; "
            f"{_map_fix(interface, '楼号', 'building')}",
        )

    # the key of every unit, and the units sharing a key (ambiguous)
    use_compound = mode == "address" and "compound" in keys and any(v is not None for v in r_comp)
    unit_key: list[tuple[Any, ...]]
    row_key: list[tuple[Any, ...]]
    if mode == "unit_id":
        unit_key = [(u,) for u in ids]
        row_key = [(u,) for u in r_unit]
    else:
        b = [building_key(v) for v in out[keys["building"]]]
        if use_compound:
            c = [_compound_key(v) for v in out[keys["compound"]]]
            unit_key = list(zip(c, b, strict=True))
            row_key = list(zip(r_comp, r_bld, strict=True))
        else:
            unit_key = [(k,) for k in b]
            row_key = [(k,) for k in r_bld]
    units_of: dict[tuple[Any, ...], list[int]] = {}
    for pos, k in enumerate(unit_key):
        if all(v is not None for v in k):
            units_of.setdefault(k, []).append(pos)

    status, unit_of = [], []
    for k in row_key:
        found = units_of.get(k, []) if all(v is not None for v in k) else []
        if len(found) == 1:
            status.append("joined")
            unit_of.append(found[0])
        else:
            status.append("ambiguous" if len(found) > 1 else "unmatched")
            unit_of.append(-1)
    joined = pd.DataFrame(
        {
            "row": rows["row"].to_numpy(),
            "unit_id": pd.Series(
                [ids[u] if u >= 0 else None for u in unit_of], index=rows.index, dtype=object
            ),
            "status": status,
            "households": rows["households"].to_numpy(),
        },
        index=rows.index,
    )
    joined["_unit"] = unit_of

    # the address axis of each unit: rows sorted by stairwell, floor, room
    order = sorted(
        (i for i, u in enumerate(unit_of) if u >= 0),
        key=lambda i: (
            unit_of[i],
            _natural(r_stair[i]),
            (0, r_floor[i]) if not math.isnan(r_floor[i]) else (1, 0.0),
            _natural(r_room[i]),
            r_row[i],
        ),
    )
    offset = np.zeros(len(rows), dtype=np.int64)
    atoms: dict[int, list[list[Any]]] = {}
    running: dict[int, int] = {}
    hh = rows["households"].to_numpy(dtype=np.int64)
    hh_list = hh.tolist()
    for i in order:
        u = unit_of[i]
        start = running.get(u, 0)
        offset[i] = start
        running[u] = start + hh_list[i]
        stair = _stair_label(r_stair[i])
        f = r_floor[i]
        fl = None if math.isnan(f) else int(f)
        seq = atoms.setdefault(u, [])
        if seq and seq[-1][0] == stair and seq[-1][1] == fl:
            seq[-1][2] += hh_list[i]
        else:
            seq.append([stair, fl, hh_list[i]])
    joined["offset"] = offset

    hh_col = "households"
    layer_hh = (
        pd.to_numeric(out[hh_col], errors="coerce")
        if hh_col in out.columns
        else pd.Series(np.nan, index=out.index)
    )
    roster_hh = np.zeros(len(out), dtype=np.int64)
    n_rows = np.zeros(len(out), dtype=np.int64)
    for i in order:
        roster_hh[unit_of[i]] += hh[i]
        n_rows[unit_of[i]] += 1
    matched = n_rows > 0
    out["households_layer"] = layer_hh.to_numpy()
    new_hh = np.where(matched, roster_hh, layer_hh.fillna(0).to_numpy())
    out[hh_col] = new_hh.astype(np.int64)
    for fld in ("population", "party_members"):
        if fld in rows and rows[fld].notna().any():
            sums = np.zeros(len(out))
            values = rows[fld].to_numpy(dtype=float)
            for i in order:
                v = values[i]
                if not math.isnan(v):
                    sums[unit_of[i]] += v
            old = (
                pd.to_numeric(out[fld], errors="coerce").to_numpy(dtype=float)
                if fld in out.columns
                else np.full(len(out), np.nan)
            )
            out[fld] = np.where(matched, sums, old)
    out["roster_rows"] = n_rows
    compound_text: dict[int, str] = {}
    if "compound" in rows:
        counts: dict[int, Counter] = {}
        for i in order:
            v = r_compound[i]
            if v is not None:
                counts.setdefault(unit_of[i], Counter())[str(v)] += 1
        compound_text = {u: c.most_common(1)[0][0] for u, c in counts.items()}
    first_row: dict[int, int] = {}
    for i in order:
        first_row.setdefault(unit_of[i], i)
    labels: list[str | None] = []
    for pos in range(len(out)):
        if not matched[pos]:
            labels.append(None)
            continue
        bkey = unit_key[pos][-1] if mode == "address" else None
        if bkey is None:
            bkey = r_bld[first_row[pos]]
        labels.append(_join_label(compound_text.get(pos, ""), building_label(bkey) or ids[pos]))
    out["address"] = labels
    out["address_atoms"] = [
        json.dumps(atoms[pos], ensure_ascii=False, separators=(",", ":")) if matched[pos] else None
        for pos in range(len(out))
    ]

    records = list(roster.issues)
    records.extend(_join_records(joined, rows, roster, ids, units_of, row_key, keys, mode))
    missing = [pos for pos in range(len(out)) if not matched[pos]]
    if missing:
        records.append(
            Diagnostic(
                level="roster",
                code="roster_units_without_rows",
                unit_ids=tuple(ids[p] for p in missing),
                households=int(np.nan_to_num(layer_hh.to_numpy()[missing]).sum()),
                params={
                    "units": _rows_text([ids[p] for p in missing]),
                    "n_units": len(missing),
                    "source": roster.source,
                },
                fix="roster_add_rows",
            )
        )
    layer_values = layer_hh.to_numpy(dtype=float)
    for pos in np.flatnonzero(matched).tolist():
        old = layer_values[pos]
        new = int(roster_hh[pos])
        if math.isnan(old):
            continue
        diff = new - int(old)
        if abs(diff) > 2 and abs(diff) > tolerance * max(int(old), 1):
            records.append(
                Diagnostic(
                    level="roster",
                    code="roster_households_differ",
                    severity="info",
                    unit_ids=(ids[pos],),
                    households=new,
                    params={
                        "unit": ids[pos],
                        "address": labels[pos],
                        "roster_households": new,
                        "layer_households": int(old),
                        "difference": f"{diff:+d}",
                        "source": roster.source,
                    },
                    fix="roster_check_count",
                )
            )
    report = RosterJoin(
        rows=joined.drop(columns=["_unit"]),
        records=tuple(records),
        by=mode,
        unit_keys=keys,
        source=roster.source,
    )
    return out, report


def _join_label(compound: str, building: str) -> str:
    if compound and building and compound[-1].isascii() and compound[-1].isalnum():
        return f"{compound} {building}"
    return f"{compound}{building}"


def _join_records(
    joined: pd.DataFrame,
    rows: pd.DataFrame,
    roster: Roster,
    ids: list[str],
    units_of: Mapping[tuple, list[int]],
    row_key: list[tuple],
    keys: Mapping[str, str],
    mode: str,
) -> list[Diagnostic]:
    """One record per address key whose rows match no unit, or several."""
    groups: dict[tuple[str, tuple], list[int]] = {}
    for i, s in enumerate(joined["status"].to_numpy()):
        if s != "joined":
            groups.setdefault((s, row_key[i]), []).append(i)
    unit_words = ", ".join(f"{k}={v}" for k, v in keys.items()) or "unit_id"
    out = []
    for (s, k), members in sorted(groups.items(), key=lambda kv: kv[1][0]):
        all_rows = joined["row"].to_numpy(dtype=np.int64)
        sheet_rows = [int(all_rows[i]) for i in members]
        hh = int(joined["households"].iloc[members].sum())
        if mode == "unit_id":
            address = f"unit_id {k[0]}" if k[0] else "(no unit_id)"
        else:
            address = _address_key_text(k, rows, members[0])
        if s == "ambiguous":
            found = [ids[p] for p in units_of[k]]
            out.append(
                _record(
                    "roster_ambiguous",
                    roster.source,
                    sheet_rows,
                    severity="error",
                    fix="roster_distinct_units",
                    unit_ids=found,
                    households=hh,
                    address=address,
                    units=_rows_text(found),
                    n_units=len(found),
                )
            )
        else:
            out.append(
                _record(
                    "roster_unmatched",
                    roster.source,
                    sheet_rows,
                    severity="error",
                    fix="roster_match_units",
                    households=hh,
                    address=address,
                    unit_keys=unit_words,
                )
            )
    return out


def _address_key_text(k: tuple, rows: pd.DataFrame, i: int) -> str:
    compound = _vals(rows, "compound")[i] if len(k) == 2 else ""
    b = k[-1]
    text = _join_label(str(compound or ""), building_label(b) if b else "")
    return text or "（无楼栋）/ (no building)"


# ---------------------------------------------------------------------------------------------
# the micro-grid stage's seam: address slices of unit parts
# ---------------------------------------------------------------------------------------------

Atom = tuple[str, int | None, int]  # stairwell label, floor (None unknown), households


@dataclass(frozen=True)
class PartAddresses:
    """The addresses of the unit parts the micro-grid stage slices (see
    :func:`part_addresses`). Arrays are aligned with those parts.

    Attributes
    ----------
    atoms
        Per part: its unit's households by stairwell and floor (address order), or None when
        the unit has no roster addresses.
    offset
        Where the part's households start on its unit's address axis.
    unit_label
        Unit id -> its address label (``阳光小区3号楼``).
    unit_atoms
        Unit id -> its atoms.
    """

    atoms: list[list[Atom] | None]
    offset: np.ndarray
    unit_label: Mapping[str, str]
    unit_atoms: Mapping[str, list[Atom]]

    def take(self, positions: Sequence[int] | np.ndarray) -> PartAddresses:
        """The same for a subset of the parts (by position)."""
        pos = np.asarray(positions, dtype=np.int64)
        return PartAddresses(
            atoms=[self.atoms[i] for i in pos.tolist()],
            offset=self.offset[pos],
            unit_label=self.unit_label,
            unit_atoms=self.unit_atoms,
        )

    def spans(
        self,
        households: np.ndarray,
        *,
        lo: int,
        hi: int,
        per_slice: float | None = None,
        split: bool = True,
    ) -> list[list[tuple[int, int]] | None]:
        """Slices of every part with addresses, as intervals of its unit's address axis.

        A part within ``hi`` is one slice. A larger part is cut into whole stairwells where
        each is within ``hi``, a stairwell above ``hi`` into the fewest floor ranges within
        the band (cut at floor boundaries; a single floor above ``hi`` is shared evenly).
        With ``per_slice`` (the stage's retry with finer slices), every stairwell is cut into
        floor ranges of about that many households. Parts without addresses give None.
        """
        out: list[list[tuple[int, int]] | None] = []
        for atoms, off, h in zip(
            self.atoms, self.offset.tolist(), households.tolist(), strict=True
        ):
            if atoms is None:
                out.append(None)
                continue
            a, b = int(off), int(off) + int(h)
            if not split or h == 0 or (per_slice is None and h <= hi):
                out.append([(a, b)])
                continue
            out.append(_cut_part(atoms, a, b, lo=lo, hi=hi, per_slice=per_slice))
        return out

    def labels(
        self, unit_ids: np.ndarray, spans: Sequence[object], micro_of: np.ndarray, n_micro: int
    ) -> tuple[list[str | None], list[str | None]]:
        """``addresses`` and ``address_keys`` of every micro-grid from its slices
        (``spans`` holds ``(start, end)`` or None per slice)."""
        pieces: list[list[tuple[str, int, int]]] = [[] for _ in range(n_micro)]
        for u, sp, m in zip(unit_ids.tolist(), spans, micro_of.tolist(), strict=True):
            if isinstance(sp, tuple):
                pieces[m].append((str(u), int(sp[0]), int(sp[1])))
        addresses: list[str | None] = []
        keys: list[str | None] = []
        for items in pieces:
            if not items:
                addresses.append(None)
                keys.append(None)
                continue
            merged: list[list[Any]] = []
            for u, s, e in sorted(items, key=lambda t: (t[0], t[1])):
                if merged and merged[-1][0] == u and merged[-1][2] == s:
                    merged[-1][2] = e
                else:
                    merged.append([u, s, e])
            entries: list[str] = []
            for u, s, e in merged:
                entries.extend(_range_label(self.unit_label.get(u, u), self.unit_atoms[u], s, e))
            addresses.append("；".join(entries))
            keys.append(json.dumps(merged, ensure_ascii=False, separators=(",", ":")))
        return addresses, keys


def part_addresses(units: pd.DataFrame, parts: pd.DataFrame) -> PartAddresses | None:
    """The addresses of ``parts`` (rows with ``unit_id``, ``part``, ``households``) from the
    units' ``address_atoms`` (:func:`join_roster`); None when the units carry none.

    A unit is cut by address only when its parts' households add up to its roster count
    (a unit split by :func:`gridplan.layers.split_distant_parts` is not)."""
    if "address_atoms" not in units.columns or units["address_atoms"].isna().all():
        return None
    raw = units["address_atoms"]
    label = units["address"] if "address" in units.columns else pd.Series(dtype=object)
    unit_atoms: dict[str, list[Atom]] = {}
    unit_label: dict[str, str] = {}
    for u, text in raw.items():
        if isinstance(text, str) and text:
            unit_atoms[str(u)] = [
                (str(s), None if f is None else int(f), int(h)) for s, f, h in json.loads(text)
            ]
            lab = label.get(u)
            unit_label[str(u)] = str(lab) if isinstance(lab, str) and lab else str(u)
    uid = parts["unit_id"].astype(str).to_numpy()
    hh = parts["households"].to_numpy(dtype=np.int64)
    order = np.lexsort((parts["part"].to_numpy(), uid))
    offset = np.zeros(len(parts), dtype=np.int64)
    total: dict[str, int] = {}
    for i in order.tolist():
        offset[i] = total.get(uid[i], 0)
        total[uid[i]] = int(offset[i] + hh[i])
    atoms: list[list[Atom] | None] = []
    for u in uid.tolist():
        seq = unit_atoms.get(u)
        ok = seq is not None and sum(a[2] for a in seq) == total.get(u, -1)
        atoms.append(seq if ok else None)
    return PartAddresses(atoms=atoms, offset=offset, unit_label=unit_label, unit_atoms=unit_atoms)


def slice_households(
    spans: Sequence[list[tuple[int, int]] | None],
    rows: np.ndarray,
    slice_no: np.ndarray,
    shares: np.ndarray,
) -> tuple[np.ndarray, list[tuple[int, int] | None]]:
    """Households and address span of every slice (slice ``slice_no`` of part ``rows``): a
    part cut by address takes each span's households, others keep ``shares``."""
    out = np.asarray(shares, dtype=np.int64).copy()
    span_of: list[tuple[int, int] | None] = []
    for k, (r, j) in enumerate(zip(rows.tolist(), slice_no.tolist(), strict=True)):
        sp = spans[r]
        if sp is None:
            span_of.append(None)
            continue
        a, b = sp[j]
        out[k] = b - a
        span_of.append((a, b))
    return out, span_of


def _cut_part(
    atoms: list[Atom], a: int, b: int, *, lo: int, hi: int, per_slice: float | None
) -> list[tuple[int, int]]:
    """Slices of the interval [a, b) of a unit's address axis (see :meth:`PartAddresses.spans`)."""
    # atoms clipped to the part, grouped by stairwell: [stairwell, start, end, floor bounds]
    stairs: list[list[Any]] = []
    pos = 0
    for stair, _floor, h in atoms:
        lo_, hi_ = max(pos, a), min(pos + h, b)
        if hi_ > lo_:
            if stairs and stairs[-1][0] == stair:
                stairs[-1][3].append(lo_)
                stairs[-1][2] = hi_
            else:
                stairs.append([stair, lo_, hi_, []])
        pos += h
    out: list[tuple[int, int]] = []
    for _stair, s, e, inner in stairs:
        total = e - s
        if total == 0:
            continue
        if per_slice is None and total <= hi:
            out.append((s, e))
            continue
        if per_slice is None:
            k_min, k_max = band_admits(total, lo, hi)
            k = k_min if k_min <= k_max else math.ceil(total / hi)
            cap = hi
        else:
            k = max(1, math.ceil(total / per_slice))
            cap = max(int(per_slice), 1)
        cuts = _best_cuts(s, e, inner, k, lo=lo if per_slice is None else 0, hi=hi, cap=cap)
        out.extend(zip([s, *cuts], [*cuts, e], strict=True))
    if not out:
        out.append((a, b))
    # slices must tile [a, b) exactly
    return out


def _best_cuts(
    s: int, e: int, inner: list[int], k: int, *, lo: int, hi: int, cap: int
) -> list[int]:
    """``k - 1`` cut points in (s, e) at floor boundaries (``inner``), or inside a floor above
    ``cap``, keeping pieces within [lo, hi] where possible and as even as possible."""
    if k <= 1:
        return []
    cand = set(x for x in inner if s < x < e)
    bounds = [s, *sorted(cand), e]
    for x0, x1 in itertools.pairwise(bounds):
        if x1 - x0 > cap:  # one floor above the ceiling: shared evenly
            n = math.ceil((x1 - x0) / cap)
            cand.update(x0 + round((x1 - x0) * j / n) for j in range(1, n))
    pts = np.array([s, *sorted(x for x in cand if s < x < e), e], dtype=np.float64)
    n = len(pts)
    k = min(k, n - 1)
    target = (e - s) / k
    size = pts[None, :] - pts[:, None]  # size[j, i]: piece from pts[j] to pts[i]
    over = np.maximum(size - hi, 0) + np.maximum(lo - size, 0)
    cost = np.where(size > 0, 1e6 * over + (size - target) ** 2, np.inf)
    best = np.full(n, np.inf)
    best[0] = 0.0
    back = np.zeros((k + 1, n), dtype=np.int64)
    for step in range(1, k + 1):
        total = best[:, None] + cost
        back[step] = np.argmin(total, axis=0)
        best = total[back[step], np.arange(n)]
    cuts = []
    i = n - 1
    for step in range(k, 0, -1):
        i = int(back[step, i])
        cuts.append(i)
    return [int(pts[i]) for i in sorted(cuts)[1:]]


def _range_label(building: str, atoms: list[Atom], s: int, e: int) -> list[str]:
    """Address entries of the interval [s, e) of a unit: ``3号楼``, ``3号楼1单元``,
    ``3号楼1单元1–7层``, ``3号楼1单元8层（部分）``."""
    stairs: dict[str, list[tuple[int | None, int, int, int]]] = {}
    stair_total: dict[str, int] = {}
    pos = 0
    for stair, floor, h in atoms:
        stair_total[stair] = stair_total.get(stair, 0) + h
        a, b = max(pos, s), min(pos + h, e)
        if b > a or (h == 0 and s <= pos < e):
            stairs.setdefault(stair, []).append((floor, b - a, h, pos))
        pos += h
    if s == 0 and e >= pos:
        return [building]
    out = []
    for stair, hits in stairs.items():
        covered = sum(x[1] for x in hits)
        if covered == stair_total[stair] and all(x[1] == x[2] for x in hits):
            out.append(f"{building}{stair}" if stair else building)
            continue
        floors = [x[0] for x in hits if x[0] is not None]
        partial = hits[0][1] < hits[0][2] or hits[-1][1] < hits[-1][2]
        span = ""  # a roster without floors: part of the stairwell
        if floors:
            f0, f1 = min(floors), max(floors)
            span = f"{f0}层" if f0 == f1 else f"{f0}–{f1}层"
            if any(x[0] is None for x in hits):
                span += "（含楼层不详）"
        out.append(f"{building}{stair}{span}{'（部分）' if partial else ''}")
    return out


# ---------------------------------------------------------------------------------------------
# the household list
# ---------------------------------------------------------------------------------------------


#: columns :func:`household_equivalency` adds (a roster column of the same name gets ``_roster``)
_OWN_COLUMNS = ("roster_row", "address", "unit_id", "grid_code", "microgrid_code", "join_status")


def household_equivalency(plan: Any, roster: Roster, join: RosterJoin) -> pd.DataFrame:
    """Every roster row with its ``grid_code`` and ``microgrid_code``.

    Columns: ``roster_row`` (sheet row), the roster's own columns as written, ``address``
    (the row's address, e.g. ``阳光小区3号楼1单元1502``), ``unit_id``, ``grid_code``,
    ``microgrid_code``, ``join_status`` (``joined``, ``unmatched``, ``ambiguous``: the last
    two have no codes and are in the plan's diagnostics). A row of a unit that was not cut
    by address (a dedicated grid, or a unit split into places) lists all of its unit's
    micro-grids, ``;``-joined.
    """
    units = plan.units
    mg = plan.microgrids
    spans: dict[str, list[tuple[int, int, str, str]]] = {}
    if "address_keys" in mg.columns:
        for key, code, grid in zip(
            mg["address_keys"], mg["microgrid_code"], mg["grid_code"], strict=True
        ):
            if isinstance(key, str) and key:
                for u, s, e in json.loads(key):
                    spans.setdefault(str(u), []).append((int(s), int(e), str(code), str(grid)))
    for v in spans.values():
        v.sort()
    unit_index = units.index.astype(str)
    grid_of = dict(zip(unit_index, units["grid_code"].astype(object), strict=True))
    micro_of = dict(zip(unit_index, units["microgrid_code"].astype(object), strict=True))
    # units split into places (<id>.1, <id>.2) answer for their id
    pieces: dict[str, list[str]] = {}
    for u in unit_index:
        m = re.fullmatch(r"(.+)\.\d+", u)
        if m and m.group(1) not in grid_of:
            pieces.setdefault(m.group(1), []).append(u)

    def unit_codes(u: str) -> tuple[str, str]:
        members = [u] if u in grid_of else pieces.get(u, [])
        grids = sorted({str(grid_of[x]) for x in members if isinstance(grid_of[x], str)})
        micro = sorted(
            {
                c
                for x in members
                if isinstance(micro_of[x], str)
                for c in micro_of[x].split(";")
                if c
            }
        )
        return ";".join(grids), ";".join(micro)

    grid_codes, micro_codes = [], []
    rows = join.rows
    for u, off, h, status in zip(
        rows["unit_id"],
        rows["offset"].to_numpy(),
        rows["households"].to_numpy(),
        rows["status"],
        strict=True,
    ):
        if status != "joined" or u is None:
            grid_codes.append("")
            micro_codes.append("")
            continue
        hits = [
            t
            for t in spans.get(u, [])
            if (t[0] < off + h and t[1] > off) or (h == 0 and t[0] <= off < t[1])
        ]
        if not hits and h == 0 and spans.get(u):
            hits = [spans[u][-1]]
        if hits:
            grid_codes.append(";".join(sorted({t[3] for t in hits})))
            micro_codes.append(";".join(sorted({t[2] for t in hits})))
        else:
            g_codes, m_codes = unit_codes(u)
            grid_codes.append(g_codes)
            micro_codes.append(m_codes)
    out = pd.DataFrame({"roster_row": rows["row"].to_numpy()}, index=rows.index)
    for c in roster.table.columns:
        out[c if c not in _OWN_COLUMNS else f"{c}_roster"] = roster.table[c].to_numpy()
    out["address"] = [
        _address_text({str(k): v for k, v in r.items()}) for r in roster.rows.to_dict("records")
    ]
    out["unit_id"] = pd.Series(rows["unit_id"].to_numpy(), index=out.index, dtype=object)
    out["grid_code"] = grid_codes
    out["microgrid_code"] = micro_codes
    out["join_status"] = rows["status"].to_numpy()
    return out.reset_index(drop=True)


def split_unit_records(table: pd.DataFrame, join: RosterJoin, plan: Any) -> list[Diagnostic]:
    """Records for joined rows of units not cut by address that lie in several micro-grids
    (their rows list every micro-grid of the unit)."""
    many = table[(table["join_status"] == "joined") & table["microgrid_code"].str.contains(";")]
    cut: set[str] = set()
    if "address_keys" in plan.microgrids.columns:
        for key in plan.microgrids["address_keys"].dropna():
            cut.update(str(u) for u, _s, _e in json.loads(key))
    out = []
    for u, group in many.groupby("unit_id", sort=True):
        if u in cut:
            continue
        out.append(
            _record(
                "roster_rows_split",
                join.source,
                group["roster_row"].tolist(),
                severity="info",
                unit_ids=(str(u),),
                unit=str(u),
                microgrids=group["microgrid_code"].iat[0],
            )
        )
    return out


def report_addresses(plan: Any) -> Any:
    """The plan with the addresses in its report: ``addresses`` on the ``microgrids`` table
    (its stairwells and floor ranges) and on the ``grids`` table (its buildings, ``、``-joined,
    in code order of their micro-grids).

    A plan without roster addresses is returned as it is.
    """
    from dataclasses import replace

    mg = plan.microgrids
    if "addresses" not in mg.columns:
        return plan
    report = dict(plan.report)
    of_micro = dict(zip(mg["microgrid_code"], mg["addresses"], strict=True))
    if "microgrids" in report:
        table = report["microgrids"]
        report["microgrids"] = table.assign(addresses=table["microgrid_code"].map(of_micro))
    if "grids" in report and "address" in plan.units.columns:
        buildings: dict[str, list[str]] = {}
        units = plan.units.dropna(subset=["address"]).sort_values("microgrid_code", kind="stable")
        for grid, label in zip(units["grid_code"], units["address"], strict=True):
            seq = buildings.setdefault(str(grid), [])
            if label not in seq:
                seq.append(str(label))
        table = report["grids"]
        report["grids"] = table.assign(
            addresses=table["grid_code"].astype(str).map(lambda g: "、".join(buildings.get(g, [])))
        )
    return replace(plan, report=report)
