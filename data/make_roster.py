"""Build ``queenstown_roster.xlsx``: a household roster for the bundled Queenstown sample.

One row per dwelling of every HDB block in ``singapore_queenstown.gpkg`` (layer ``units``),
laid out as street offices keep rosters: a title row, a two-row header with merged cells
(地址 over 小区/楼栋/单元/楼层/房号), the 小区 and 楼栋 cells merged down each block, a blank
row after each street and a 合计 row at the end.

What is real and what is derived (see README.md):

* real: the blocks, their streets (written as 小区), block numbers, dwelling counts
  (``households``) and highest floors (``max_floor_lvl``), and postal codes (邮编);
* derived: stairwells, floors and rooms. A block of ``n`` dwellings on ``F`` floors gets
  ``ceil(n / (F' * 4))`` stairwells (at most four dwellings per floor per stairwell), where
  ``F'`` counts floors 2..F (HDB ground floors are void decks) for blocks of 4 floors and more;
  dwellings are spread over the stairwell x floor cells as evenly as integers allow, lower
  floors first; rooms are numbered ``<floor><nn>`` per stairwell. 户主 is a household code,
  not a person. Block numbers are written as 号楼, 栋 or 幢 in turn, so reading the roster
  exercises gridplan's building-key normalisation.

Run from the repository root::

    .venv/bin/python data/make_roster.py
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import geopandas as gpd
import openpyxl
from openpyxl.styles import Alignment, Font

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "singapore_queenstown.gpkg"
OUT = HERE / "queenstown_roster.xlsx"
HEADERS = ("小区", "楼栋", "单元", "楼层", "房号", "户主", "邮编")
SPELLINGS = ("号楼", "栋", "幢")
PER_FLOOR_PER_STAIRWELL = 4


def block_rows(households: int, floors: int) -> list[tuple[int, int, str]]:
    """(stairwell, floor, room) of every dwelling of one block.

    >>> rows = block_rows(125, 12)
    >>> len(rows), sorted({s for s, _f, _r in rows}), min(f for _s, f, _r in rows)
    (125, [1, 2, 3], 2)
    """
    first = 2 if floors >= 4 and households > floors - 1 else 1
    levels = list(range(first, floors + 1))
    stairs = max(1, math.ceil(households / (len(levels) * PER_FLOOR_PER_STAIRWELL)))
    cells = [(s, f) for f in levels for s in range(1, stairs + 1)]
    base, extra = divmod(households, len(cells))
    out = []
    for k, (s, f) in enumerate(cells):
        for n in range(base + (1 if k < extra else 0)):
            out.append((s, f, f"{f}{n + 1:02d}"))
    out.sort(key=lambda r: (r[0], r[1], r[2]))
    return out


def build(source: Path = SOURCE, out: Path = OUT) -> tuple[int, int]:
    """Write the roster; returns (rows, blocks)."""
    units = gpd.read_file(source, layer="units")
    units = units.sort_values(["street", "blk_no", "unit_id"], kind="stable")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "住户名册"
    ws.append(["女皇镇组屋住户名册（示例：楼栋与套数为 HDB 数据，单元、楼层、房号为推算）"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    ws.append(["地址", None, None, None, None, "住户", None])
    ws.merge_cells("A2:E2")
    ws.merge_cells("F2:G2")
    ws.append(list(HEADERS))
    for c in ws[2] + ws[3]:
        c.font = Font(bold=True)
        c.alignment = Alignment(horizontal="center")
    n_rows = 0
    row = 3  # the sheet row last written (append always moves one row down, even when blank)
    for i, (street, group) in enumerate(units.groupby("street", sort=True)):
        street_first = row + 1
        for j, u in enumerate(group.itertuples()):
            spelling = SPELLINGS[(i + j) % len(SPELLINGS)]
            first = row + 1
            for s, f, room in block_rows(int(u.households), int(u.max_floor_lvl)):
                code = f"H{u.postal}-{s}-{room}"
                ws.append([street, f"{u.blk_no}{spelling}", f"{s}单元", f, room, code, u.postal])
                row += 1
                n_rows += 1
            if row > first:
                ws.merge_cells(start_row=first, start_column=2, end_row=row, end_column=2)
        if row > street_first:
            ws.merge_cells(start_row=street_first, start_column=1, end_row=row, end_column=1)
        ws.append([])  # a blank row between streets, as offices leave them
        row += 1
    ws.append(["合计", None, None, None, None, f"{n_rows} 户", None])
    for col, width in zip("ABCDEFG", (22, 10, 8, 6, 8, 24, 10), strict=True):
        ws.column_dimensions[col].width = width
    wb.save(out)
    sys.path.insert(0, str(HERE.parent))
    from gridplan.io import normalize_xlsx

    normalize_xlsx(out)
    return n_rows, len(units)


if __name__ == "__main__":
    rows, blocks = build()
    print(f"wrote {OUT.name}: {rows:,} households in {blocks} blocks")
