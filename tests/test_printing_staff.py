"""Notice boards printed from a staffing plan, and pages that overflow one sheet (issue 18):
grid heads, full-time and part-time workers by name with masked phones, micro-grid address
ranges from a household roster, board and wall-map continuation pages, every character in
the embedded CJK font and on the page."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from conftest import make_lattice_units
from fontTools.ttLib import TTCollection, TTFont
from shapely.geometry import box
from test_addresses import _lattice_roster

import gridplan
from gridplan.addresses import join_roster, read_roster
from gridplan.config import MicroGridRules, PlanRules
from gridplan.export import write_geopackage
from gridplan.printing import print_plan
from gridplan.staffing import staffing_plan

X0, Y0 = 500_000.0, 4_180_000.0
CRS = "EPSG:32649"


def _pages(path: Path) -> list[str]:
    pdf = pdfium.PdfDocument(str(path))
    return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]


def _cmap(font: Path) -> set[int]:
    if font.suffix.lower() == ".ttc":
        faces = TTCollection(str(font)).fonts
    else:
        faces = [TTFont(str(font))]
    return set().union(*(set(f.getBestCmap()) for f in faces))


def _chars(path: Path):
    """(page, character, font size, box) for every character the PDF holds."""
    pdf = pdfium.PdfDocument(str(path))
    for i in range(len(pdf)):
        page = pdf[i]
        tp = page.get_textpage()
        w, h = page.get_size()
        for k in range(tp.count_chars()):
            ch = chr(pdfium_c.FPDFText_GetUnicode(tp.raw, k))
            if ch.isspace():
                continue
            size = pdfium_c.FPDFText_GetFontSize(tp.raw, k)
            yield i, ch, size, tp.get_charbox(k), (w, h)


def _check_glyphs_and_margins(path: Path, font: Path) -> None:
    """Every character is in the font (no boxes) and lies on its page."""
    have = _cmap(font)
    missing = set()
    outside = []
    for page, ch, _, (left, bottom, right, top), (w, h) in _chars(path):
        if ord(ch) not in have:
            missing.add(ch)
        if left < 0 or bottom < 0 or right > w or top > h:
            outside.append((page, ch))
    assert not missing, f"characters without a glyph: {sorted(missing)}"
    assert not outside, f"characters off the page: {outside[:10]}"


@pytest.fixture(scope="module")
def staffed(tmp_path_factory):
    """A 5-grid, 48-micro-grid lattice plan and a roster naming every post."""
    folder = tmp_path_factory.mktemp("staffed")
    units = make_lattice_units(8, 6, households=40)
    units["name"] = [f"{k + 1}号楼" for k in range(len(units))]
    units["party_members"] = 2
    plan = gridplan.plan(units)
    path = write_geopackage(plan, folder / "plan.gpkg")
    u = plan.units.reset_index()
    first_in = u.groupby("grid_code")["unit_id"].first()
    first_in_micro = u.groupby("microgrid_code")["unit_id"].first()
    rows = []
    for k, g in enumerate(sorted(plan.grids["grid_code"])):
        home = first_in[g]
        rows.append(("网格长", f"网长{k}", f"1381234{k:04d}", home))
        rows.append(("专职网格员", f"专职{k}", f"1391234{k:04d}", home))
    for k, m in enumerate(sorted(plan.microgrids["microgrid_code"])):
        rows.append(("兼职网格员", f"兼职{k}", f"1371234{k:04d}", first_in_micro[m]))
    roster = pd.DataFrame(rows, columns=["岗位", "姓名", "手机", "unit_id"])
    staffing = staffing_plan(plan, roster=roster)
    assert len(staffing.unfilled) == 0
    return SimpleNamespace(plan=plan, path=path, staffing=staffing, folder=folder)


@pytest.mark.parametrize("source", ["workbook_zh", "workbook_en", "python"])
def test_boards_name_every_post_from_the_staffing_plan(staffed, tmp_path, source):
    s = staffed.staffing
    if source == "python":
        given = s
    else:
        lang = source.rsplit("_", 1)[1]
        given = s.to_excel(tmp_path / f"staff_{lang}.xlsx", language=lang)
    r = print_plan(staffed.path, out=tmp_path / "out", staffing=given, paper="A4")
    pages = _pages(r.boards)
    assert r.board_pages == len(pages) == len(staffed.plan.grids)
    by_grid = dict(zip(r.grids, pages, strict=True))
    a = s.assignments
    for row in a.itertuples():
        text = by_grid[row.grid_code]
        masked = f"{row.phone[:3]}****{row.phone[-4:]}"
        assert f"{row.name} " in text or f"{row.name}\n" in text, (row.role, row.name)
        assert masked in text, (row.role, masked)
        if row.role == "parttime_worker":
            # on the line of its own micro-grid: number, households, scope, worker
            number = row.microgrid_code[-3:]
            line = next(ln for ln in text.splitlines() if ln.startswith(number + " "))
            assert line.endswith(f"{row.name} {masked}"), line
    whole = "\n".join(pages)
    assert not any(p in whole for p in a["phone"])  # phones are only ever printed masked
    # no blank line left where a name was given
    assert not [ln for ln in whole.splitlines() if ln[:3].isdigit() and ln.endswith("____")]
    # the party branch of each grid, from the same staffing plan
    for g, text in by_grid.items():
        mine = s.party[s.party["grid_codes"].map(lambda c, g=g: g in str(c))]
        assert len(mine), g
        for b in mine.itertuples():  # its id and members on one line
            line = next(ln for ln in text.splitlines() if str(b.branch_id) in ln)
            assert str(int(b.members)) in line, line
    _check_glyphs_and_margins(r.boards, r.font)


def test_boards_without_staffing_leave_lines_to_fill_in(staffed, tmp_path):
    r = print_plan(staffed.path, out=tmp_path, paper="A4", community=None)
    text = "\n".join(_pages(r.boards))
    assert "网长0" not in text and "兼职0" not in text
    assert text.count("______________") >= len(staffed.plan.microgrids)


def test_boards_give_the_address_ranges_of_a_roster_plan(tmp_path):
    units, frame = _lattice_roster()
    roster = read_roster(frame)
    joined, _ = join_roster(units, roster)
    rules = PlanRules(microgrid=MicroGridRules(min_households=30, max_households=50))
    plan = gridplan.plan(joined, rules=rules)
    path = write_geopackage(plan, tmp_path / "plan.gpkg")
    r = print_plan(path, out=tmp_path / "out", paper="A4")
    by_grid = dict(zip(r.grids, _pages(r.boards), strict=True))
    micro = plan.microgrids
    assert micro["addresses"].notna().all()
    for m in micro.itertuples():
        first = m.addresses.split("；")[0]
        lines = by_grid[m.grid_code].splitlines()
        line = next(ln for ln in lines if ln.startswith(m.microgrid_code[-3:] + " "))
        # e.g. "002 36 3号楼1单元1–6层、3号楼2单元 ______": its range, not a unit id
        assert f" {m.households} {first}" in line, line
    _check_glyphs_and_margins(r.boards, r.font)


def _micro_plan(folder: Path, n_micro: int) -> Path:
    """One grid of ``n_micro`` micro-grids (a strip of 20 m squares) next to a small one."""
    grid = box(X0, Y0, X0 + 20 * n_micro, Y0 + 100)
    grids = gpd.GeoDataFrame(
        {
            "grid_code": ["140106001001001", "140106001001002"],
            "community_code": ["140106001001"] * 2,
            "community_id": ["C1"] * 2,
            "kind": ["residential"] * 2,
            "households": [10 * n_micro, 40],
            "n_microgrids": [n_micro, 1],
        },
        geometry=[grid, box(X0, Y0 + 100, X0 + 100, Y0 + 200)],
        crs=CRS,
    )
    codes = [f"140106001001001{k + 1:03d}" for k in range(n_micro)]
    micro = gpd.GeoDataFrame(
        {
            "microgrid_code": [*codes, "140106001001002001"],
            "grid_code": ["140106001001001"] * n_micro + ["140106001001002"],
            "households": [10] * n_micro + [40],
            "addresses": [f"{k + 1}号楼1单元1–6层" for k in range(n_micro)] + [None],
        },
        geometry=[box(X0 + 20 * k, Y0, X0 + 20 * (k + 1), Y0 + 100) for k in range(n_micro)]
        + [box(X0, Y0 + 100, X0 + 100, Y0 + 200)],
        crs=CRS,
    )
    path = folder / "micro.gpkg"
    grids.to_file(path, layer="grids")
    micro.to_file(path, layer="microgrids")
    return path


@pytest.mark.parametrize("paper", ["A4", "A3"])
def test_a_board_with_many_microgrids_continues_legibly(tmp_path, paper):
    n = 70
    path = _micro_plan(tmp_path, n)
    assignments = pd.DataFrame(
        {
            "grid_code": ["140106001001001"] * n,
            "microgrid_code": [f"140106001001001{k + 1:03d}" for k in range(n)],
            "role": ["parttime_worker"] * n,
            "seq": [1] * n,
            "name": [f"志愿者{k + 1}" for k in range(n)],
            "phone": [f"1590000{k + 1:04d}" for k in range(n)],
        }
    )
    staff = SimpleNamespace(assignments=assignments, party=None)
    r = print_plan(path, out=tmp_path / "out", staffing=staff, paper=paper)
    pages = _pages(r.boards)
    assert r.grids == ("140106001001001", "140106001001002")
    assert r.board_pages == len(pages) >= 3  # the long grid's board continues
    long_pages = [p for p in pages if "140106001001001" in p]
    assert len(long_pages) == len(pages) - 1
    assert all("网格公示牌（续）" in p and "微网格（续）" in p for p in long_pages[1:])
    assert "网格公示牌（续）" not in long_pages[0]
    # every micro-grid is listed once, with its address range and its worker
    rows = [ln for p in long_pages for ln in p.splitlines() if "号楼1单元1–6层" in ln]
    assert len(rows) == n
    for k, line in enumerate(rows):
        assert line.startswith(f"{k + 1:03d} 10 {k + 1}号楼1单元1–6层 志愿者{k + 1} 159****")
    # the rows keep a legible size: 8 pt on A3, scaled for A4
    least = 8.0 * (1.0 if paper == "A3" else 0.72) - 0.05
    sizes = [size for _, ch, size, *_ in _chars(r.boards) if ch == "志"]
    assert len(sizes) == n and min(sizes) >= least
    _check_glyphs_and_margins(r.boards, r.font)
    png = pdfium.PdfDocument(str(r.boards))[1].render(scale=0.6).to_pil()
    png.save(tmp_path / f"board_continued_{paper}.png")  # kept to look at
    assert (np.asarray(png) < 250).mean() > 0.02


@pytest.mark.slow
def test_a_long_code_table_continues_on_further_wall_map_pages(tmp_path):
    # 112 grids in one community: more than an A4 page's table holds (104 at 4.5 pt)
    nx_, ny = 14, 8
    grids = gpd.GeoDataFrame(
        {
            "grid_code": [f"140106001001{k + 1:03d}" for k in range(nx_ * ny)],
            "community_code": ["140106001001"] * (nx_ * ny),
            "kind": ["residential"] * (nx_ * ny),
            "households": [400] * (nx_ * ny),
            "n_microgrids": [10] * (nx_ * ny),
        },
        geometry=[
            box(X0 + 100 * c, Y0 + 100 * r, X0 + 100 * (c + 1), Y0 + 100 * (r + 1))
            for r in range(ny)
            for c in range(nx_)
        ],
        crs=CRS,
    )
    path = tmp_path / "many.gpkg"
    grids.to_file(path, layer="grids")
    r = print_plan(path, out=tmp_path / "out", paper="A4", lang="zh")
    pages = _pages(r.wallmaps)
    assert r.wallmap_pages == len(pages) == 2
    assert all("网格编码表（续）" in p for p in pages[1:])
    # every full code is in the table exactly once, across the pages
    text = "\n".join(pages)
    for code in grids["grid_code"]:
        assert text.count(code) == 1, code
    _check_glyphs_and_margins(r.wallmaps, r.font)


def _overlapping(boxes: np.ndarray, *, share: float = 0.2) -> list[tuple[int, int]]:
    """Pairs of character boxes (left, bottom, right, top) that cover more than ``share`` of
    the smaller one."""
    out = []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for i in range(len(boxes)):
        left, bottom, right, top = boxes[i]
        ix = np.clip(np.minimum(right, boxes[:, 2]) - np.maximum(left, boxes[:, 0]), 0, None)
        iy = np.clip(np.minimum(top, boxes[:, 3]) - np.maximum(bottom, boxes[:, 1]), 0, None)
        least = np.maximum(np.minimum(area[i], area), 1e-9)
        hit = np.flatnonzero((ix * iy / least > share) & (np.arange(len(boxes)) > i))
        out.extend((i, int(j)) for j in hit)
    return out


@pytest.mark.parametrize("paper", ["A4", "A3"])
def test_wall_map_labels_never_overlap_and_small_grids_get_leader_lines(tmp_path, paper):
    """23 grids of 200 m and a cluster of 16 grids of 12 m, too small for their labels."""
    geoms = [
        box(X0 + 200 * c, Y0 + 200 * r, X0 + 200 * (c + 1), Y0 + 200 * (r + 1))
        for r in range(4)
        for c in range(6)
        if (r, c) != (0, 0)
    ]
    geoms += [
        box(X0 + 12 * c, Y0 + 12 * r, X0 + 12 * (c + 1), Y0 + 12 * (r + 1))
        for r in range(4)
        for c in range(4)
    ]
    n = len(geoms)
    grids = gpd.GeoDataFrame(
        {
            "grid_code": [f"140106001001{k + 1:03d}" for k in range(n)],
            "community_code": ["140106001001"] * n,
            "households": [400] * n,
            "n_microgrids": [8] * n,
        },
        geometry=geoms,
        crs=CRS,
    )
    path = tmp_path / "small.gpkg"
    grids.to_file(path, layer="grids")
    r = print_plan(path, out=tmp_path / "out", paper=paper)
    chars = [(ch, b) for page, ch, _, b, _ in _chars(r.wallmaps) if page == 0]
    clash = _overlapping(np.array([b for _, b in chars]))
    assert not clash, [(chars[i][0], chars[j][0]) for i, j in clash[:10]]
    # every grid's number is on the map as text (searchable, not outlines), once, beside its
    # row in the code table; so the overlap check above saw every label
    text = _pages(r.wallmaps)[0]
    for k in range(n):
        assert len(re.findall(rf"(?<!\d){k + 1:03d}(?!\d)", text)) == 2, k
    _check_glyphs_and_margins(r.wallmaps, r.font)
    # the small grids' labels sit beside them (leader lines), not on the 50 m cluster
    png = pdfium.PdfDocument(str(r.wallmaps))[0].render(scale=0.8).to_pil()
    png.save(tmp_path / f"labels_{paper}.png")  # kept to look at


def test_cli_staff_then_print_names_the_posts_in_english(staffed, tmp_path):
    """The street office's chain: gridplan staff --roster writes the workbook, gridplan print
    --staffing prints the boards from it."""
    from typer.testing import CliRunner

    from gridplan.cli import app

    a = staffed.staffing.assignments
    roster = tmp_path / "roster.csv"
    rows = a
    # the same people as the fixture's roster, written as a street office's CSV
    u = staffed.plan.units.reset_index()
    first_in = u.groupby("grid_code")["unit_id"].first()
    first_in_micro = u.groupby("microgrid_code")["unit_id"].first()
    home = [
        first_in_micro[m] if isinstance(m, str) else first_in[g]
        for g, m in zip(rows["grid_code"], rows["microgrid_code"], strict=True)
    ]
    pd.DataFrame(
        {"name": a["name"], "role": a["role"], "phone": a["phone"], "unit_id": home}
    ).to_csv(roster, index=False)
    runner = CliRunner()
    book = tmp_path / "staff.xlsx"
    res = runner.invoke(
        app,
        ["staff", str(staffed.path), "--roster", str(roster), "--out", str(book), "--lang", "en"],
    )
    assert res.exit_code == 0, res.output
    out = tmp_path / "prints"
    res = runner.invoke(
        app,
        [
            "print",
            str(staffed.path),
            "--out",
            str(out),
            "--staffing",
            str(book),
            "--paper",
            "A4",
            "--lang",
            "en",
        ],
    )
    assert res.exit_code == 0, res.output
    assert f"({len(staffed.plan.grids)} pages)" in res.output
    text = "\n".join(_pages(out / "boards.pdf"))
    for name, phone in zip(a["name"], a["phone"], strict=True):
        assert name in text and f"{phone[:3]}****{phone[-4:]}" in text, name
        assert phone not in text
    assert "Grid head" in text and "网格" not in text  # English boards, no Chinese words
