"""Household rosters: reading, joining, address micro-grids and the household list."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import DATA, make_lattice_units
from shapely.geometry import Point

import gridplan
from gridplan.addresses import (
    PartAddresses,
    building_key,
    floor_from_room,
    household_equivalency,
    join_roster,
    part_addresses,
    read_roster,
    report_table,
    stairwell_key,
)
from gridplan.config import MicroGridRules, PlanRules
from gridplan.errors import ValidationError

# ---------------------------------------------------------------------------------------------
# keys
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("3号楼", "3"),
        ("3栋", "3"),
        ("3幢", "3"),
        ("三号楼", "3"),
        ("第三栋", "3"),
        ("3#楼", "3"),
        ("３号楼", "3"),  # full-width digit
        ("十二栋", "12"),
        ("二十一号楼", "21"),
        ("Blk 21A", "21A"),
        ("21a栋", "21A"),
        (3, "3"),
        (3.0, "3"),
        ("A座", "A"),
    ],
)
def test_building_keys_written_many_ways_are_one(written, key):
    assert building_key(written) == key


def test_stairwell_and_room_floor_keys():
    assert {stairwell_key(v) for v in ("1单元", "一单元", "第1单元", "1", 1)} == {"1"}
    assert floor_from_room("1502") == 15
    assert floor_from_room("2-0304") == 3
    assert np.isnan(floor_from_room("12"))


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------


def _office_workbook(path, rows, *, title=True):
    """A roster as offices keep it: title row, merged group header, merged 小区/楼栋 cells
    down each building, a blank row and a 合计 row."""
    wb = openpyxl.Workbook()
    ws = wb.active
    r = 0
    if title:
        ws.append(["阳光社区住户名册（2024 年）"])
        ws.merge_cells("A1:H1")
        r += 1
    ws.append(["地址", None, None, None, None, "住户", None, None])
    ws.merge_cells(start_row=r + 1, start_column=1, end_row=r + 1, end_column=5)
    ws.merge_cells(start_row=r + 1, start_column=6, end_row=r + 1, end_column=8)
    ws.append(["小区", "楼栋", "单元", "楼层", "房号", "户主", "人数", "电话"])
    r += 2
    first = r + 1
    for row in rows:
        if row is None:
            ws.append([])
        else:
            ws.append(list(row))
        r += 1
    # the compound and building written once and merged down, as offices do
    ws.merge_cells(start_row=first, start_column=1, end_row=first + 2, end_column=1)
    ws.merge_cells(start_row=first, start_column=2, end_row=first + 2, end_column=2)
    ws.append(["合计", None, None, None, None, f"{len(rows)} 户"])
    wb.save(path)
    return path


ROWS = [
    ("阳光小区", "3号楼", "1单元", 1, "101", "张三", 3, "13800000001"),
    (None, None, "1单元", 1, "102", "李四", 2, "13800000002"),
    (None, None, "1单元", None, "201", "王五", 4, "13800000003"),
    None,  # a blank row between buildings
    ("阳光小区", "4栋", "2单元", 5, "502", "赵六", 1, "13800000004"),
]


def test_read_xlsx_with_title_merged_header_and_merged_cells(tmp_path):
    roster = read_roster(_office_workbook(tmp_path / "名册.xlsx", ROWS))
    assert roster.header_row == 3
    assert roster.columns["building"] == "楼栋" and roster.columns["population"] == "人数"
    rows = roster.rows
    assert rows["row"].tolist() == [4, 5, 6, 8]
    # merged 小区/楼栋 cells are filled down
    assert rows["compound"].tolist() == ["阳光小区"] * 4
    assert rows["building_key"].tolist() == ["3", "3", "3", "4"]
    # the floor of room 201 comes from its number when 楼层 is blank
    assert rows["floor"].tolist() == [1.0, 1.0, 2.0, 5.0]
    assert rows["floor_from_room"].tolist() == [False, False, True, False]
    assert roster.households == 4 and roster.household_source == "rows"
    assert rows["population"].tolist() == [3.0, 2.0, 4.0, 1.0]
    assert roster.blank_rows == (7,) and roster.total_rows == (9,)
    codes = {d.code for d in roster.issues}
    assert {"roster_blank_rows", "roster_total_rows"} <= codes
    # phone numbers stay text, with their digits
    assert roster.table["电话"].tolist()[0] == "13800000001"


def test_read_gbk_and_utf8_bom_csv_the_same(tmp_path):
    text = (
        "小区,楼号,单元,房号,户主\n阳光小区,3号楼,1单元,101,张三\n\n阳光小区,三号楼,1,1502,李四\n"
    )
    gbk, bom = tmp_path / "gbk.csv", tmp_path / "bom.csv"
    gbk.write_bytes(text.encode("gbk"))
    bom.write_bytes(text.encode("utf-8-sig"))
    a, b = read_roster(gbk), read_roster(bom)
    pd.testing.assert_frame_equal(a.rows, b.rows)
    assert a.rows["building_key"].tolist() == ["3", "3"]
    assert a.rows["floor"].tolist() == [1.0, 15.0]
    assert a.blank_rows == (3,)


def test_english_headers_and_household_counts():
    frame = pd.DataFrame(
        {
            "Estate": ["Green Court", "Green Court"],
            "Block": ["Blk 3", "Blk 4"],
            "Stairwell": ["1", "1"],
            "Households": ["40", "38户"],
        }
    )
    roster = read_roster(frame)
    assert roster.household_source == "Households"
    assert roster.rows["households"].tolist() == [40, 38]
    assert roster.rows["building_key"].tolist() == ["3", "4"]


def test_a_mapping_overrides_the_headers():
    frame = pd.DataFrame({"楼": ["1号楼"], "楼宇代码": ["7号楼"], "户数": [3]})
    assert read_roster(frame).rows["building_key"].tolist() == ["1"]
    mapped = read_roster(frame, columns={"楼宇代码": "building"})
    assert mapped.rows["building_key"].tolist() == ["7"]
    assert mapped.columns["building"] == "楼宇代码"


def test_no_header_names_the_fix_in_the_interfaces_words(tmp_path):
    frame = pd.DataFrame({"甲": ["1"], "乙": ["2"]})
    with pytest.raises(ValidationError) as cli:
        read_roster(frame, interface="cli")
    assert "--roster-columns" in str(cli.value)
    with pytest.raises(ValidationError) as py:
        read_roster(frame)
    assert "columns=" in str(py.value) and "--roster" not in str(py.value)


def test_no_building_column_is_one_clear_error():
    frame = pd.DataFrame({"户主": ["张三"], "电话": ["1"]})
    with pytest.raises(ValidationError) as err:
        read_roster(frame, interface="cli")
    (problem,) = err.value.problems
    assert problem.check == "roster_no_building"
    assert "户主, 电话" in problem.message and "--roster-columns" in problem.message


def test_mapping_problems_are_collected():
    frame = pd.DataFrame({"楼栋": ["1"]})
    with pytest.raises(ValidationError) as err:
        read_roster(frame, columns={"楼号": "building", "楼栋": "tower"})
    checks = {p.check for p in err.value.problems}
    assert checks == {"roster_field", "roster_missing_column"}


def test_bad_household_counts_name_every_row():
    frame = pd.DataFrame({"楼栋": ["1", "1", "2", "3"], "户数": ["3", "两户", "-1", "2.5"]})
    with pytest.raises(ValidationError) as err:
        read_roster(frame)
    (problem,) = err.value.problems
    assert problem.check == "roster_bad_count"
    assert problem.rows == (3, 4, 5)
    assert "'两户'" in problem.message


def test_duplicates_and_incomplete_addresses_are_listed_not_dropped():
    frame = pd.DataFrame(
        {
            "楼栋": ["1", "1", "1", None, "2"],
            "单元": ["1", "1", None, "1", "1"],
            "房号": ["101", "101", "102", "103", None],
        }
    )
    roster = read_roster(frame)
    assert len(roster.rows) == 5 and roster.households == 5
    by_code = {}
    for d in roster.issues:
        by_code.setdefault(d.code, []).append(d)
    (dup,) = by_code["roster_duplicate_address"]
    assert dup.params["rows"] == [2, 3]
    missing = {d.params["missing"]: d.params["rows"] for d in by_code["roster_incomplete_address"]}
    assert missing == {"building": [5], "stairwell": [4], "room": [6]}
    table = report_table(roster.issues)
    assert table["message_zh"].str.contains("名册").all()
    assert table["message_en"].str.contains("roster").all()


# ---------------------------------------------------------------------------------------------
# joining
# ---------------------------------------------------------------------------------------------


def _units(**cols):
    n = len(next(iter(cols.values())))
    return gpd.GeoDataFrame(cols, geometry=[Point(i, 0) for i in range(n)], crs=4326)


def test_join_report_names_unmatched_missing_differing_and_ambiguous():
    units = _units(
        unit_id=["a", "b", "c", "d", "e"],
        compound=["阳光小区", "阳光小区", "阳光小区", "明月小区", "明月小区"],
        building=["1", "2", "3", "1", "1"],
        households=[3, 30, 40, 5, 5],
    )
    frame = pd.DataFrame(
        {
            "小区": ["阳光小区"] * 4 + ["明月小区", "阳光小区"],
            "楼栋": ["1号楼", "1栋", "一号楼", "2栋", "1号楼", "9号楼"],
            "房号": ["101", "102", "201", "101", "101", "101"],
        }
    )
    roster = read_roster(frame)
    joined, report = join_roster(units, roster)
    assert report.by == "address"
    assert report.rows["status"].tolist() == [
        "joined",
        "joined",
        "joined",
        "joined",
        "ambiguous",
        "unmatched",
    ]
    assert report.share_joined == pytest.approx(4 / 6)
    assert joined["households"].tolist() == [3, 1, 40, 5, 5]
    assert joined["households_layer"].tolist() == [3, 30, 40, 5, 5]
    assert joined["address"].tolist()[:2] == ["阳光小区1号楼", "阳光小区2号楼"]
    table = report.report(interface="cli")
    codes = table.set_index("code")
    assert codes.loc["roster_unmatched", "rows"] == (7,)
    assert "9号楼" in codes.loc["roster_unmatched", "message_zh"]
    assert codes.loc["roster_ambiguous", "unit_ids"] == ("d", "e")
    assert codes.loc["roster_units_without_rows", "unit_ids"] == ("c", "d", "e")
    assert codes.loc["roster_households_differ", "unit_ids"] == ("b",)
    assert (table["message_zh"].str.len() > 0).all() and (table["message_en"].str.len() > 0).all()
    # no English in the Chinese messages besides the roster's own name
    zh = table["message_zh"].str.replace("roster", "")
    assert not zh.str.contains("[A-Za-z]{3,}", regex=True).any()


def test_join_by_unit_id_column():
    units = _units(unit_id=["7", "8"], households=[2, 2])
    roster = read_roster(pd.DataFrame({"楼栋编号": [7.0, 8, 8, 9], "户主": list("abcd")}))
    joined, report = join_roster(units, roster)
    assert report.by == "unit_id"
    assert report.rows["unit_id"].tolist() == ["7", "8", "8", None]
    assert joined["households"].tolist() == [1, 2]


def test_address_join_without_a_building_column_in_the_units_is_refused():
    units = _units(unit_id=["a"], households=[2])
    roster = read_roster(pd.DataFrame({"楼栋": ["1"]}))
    with pytest.raises(ValidationError, match="no building column"):
        join_roster(units, roster)


# ---------------------------------------------------------------------------------------------
# address slices
# ---------------------------------------------------------------------------------------------


def _book(atoms, *, hh=None):
    total = sum(a[2] for a in atoms)
    units = pd.DataFrame(
        {"address_atoms": [json.dumps(atoms)], "address": ["3号楼"]}, index=pd.Index(["u"])
    )
    parts = pd.DataFrame({"unit_id": ["u"], "part": [0], "households": [hh or total]})
    return part_addresses(units, parts), parts


def _atoms(stairs: dict[str, list[int]]):
    return [[s, f + 1, h] for s, floors in stairs.items() for f, h in enumerate(floors)]


def test_whole_stairwells_when_each_is_within_the_ceiling():
    book, parts = _book(_atoms({"1单元": [6] * 7, "2单元": [6] * 7}))  # 42 + 42
    (spans,) = book.spans(parts["households"].to_numpy(), lo=30, hi=50)
    assert spans == [(0, 42), (42, 84)]
    addresses, keys = book.labels(np.array(["u", "u"]), spans, np.array([0, 1]), 2)
    assert addresses == ["3号楼1单元", "3号楼2单元"]
    assert json.loads(keys[0]) == [["u", 0, 42]]


def test_a_stairwell_above_the_ceiling_is_cut_at_floor_boundaries():
    book, parts = _book(_atoms({"1单元": [6] * 14}))  # 84 households on 14 floors
    (spans,) = book.spans(parts["households"].to_numpy(), lo=30, hi=50)
    assert spans == [(0, 42), (42, 84)]  # floors 1-7 and 8-14
    addresses, _ = book.labels(np.array(["u", "u"]), spans, np.array([0, 1]), 2)
    assert addresses == ["3号楼1单元1–7层", "3号楼1单元8–14层"]
    # the finer retry cuts floor ranges of about the size asked
    (fine,) = book.spans(parts["households"].to_numpy(), lo=30, hi=50, per_slice=15)
    sizes = [b - a for a, b in fine]
    assert len(fine) == 6 and sum(sizes) == 84 and set(sizes) <= {12, 18}
    assert all(a % 6 == 0 for a, _ in fine)  # at floor boundaries


def test_a_building_within_the_ceiling_is_one_slice_and_one_address():
    book, parts = _book(_atoms({"1单元": [5] * 4, "2单元": [5] * 4}))
    (spans,) = book.spans(parts["households"].to_numpy(), lo=30, hi=50)
    assert spans == [(0, 40)]
    assert book.labels(np.array(["u"]), spans, np.array([0]), 1)[0] == ["3号楼"]


def test_a_stairwell_counted_on_one_row_is_shared_and_its_row_lists_its_microgrids():
    units = make_lattice_units(2, 1, households=60)
    units["building"] = ["1", "2"]
    frame = pd.DataFrame({"楼栋": ["1号楼", "1号楼", "2号楼"], "单元": ["1", "2", "1"]})
    frame["户数"] = [90, 20, 40]
    roster = read_roster(frame)
    joined, join = join_roster(units, roster)
    plan = gridplan.plan(joined)
    table = household_equivalency(plan, roster, join)
    # 90 households on one row cannot sit in one micro-grid: the row lists each it is in
    first = table["microgrid_code"].iat[0].split(";")
    assert len(first) >= 2 and set(first) <= set(plan.microgrids["microgrid_code"])
    assert int(plan.microgrids["households"].sum()) == 150
    assert plan.microgrids["in_band"].all()
    labels = "；".join(plan.microgrids["addresses"])
    assert "1号楼1单元（部分）" in labels and "楼层不详" not in labels


def test_units_whose_parts_do_not_add_up_to_the_roster_are_not_cut_by_address():
    book, _ = _book(_atoms({"1单元": [6] * 14}), hh=80)
    assert book.atoms == [None]


def test_no_addresses_without_a_roster():
    parts = pd.DataFrame({"unit_id": ["u"], "part": [0], "households": [3]})
    assert part_addresses(pd.DataFrame({"households": [3]}, index=["u"]), parts) is None
    assert isinstance(_book(_atoms({"1单元": [1]}))[0], PartAddresses)


# ---------------------------------------------------------------------------------------------
# end to end
# ---------------------------------------------------------------------------------------------


def _lattice_roster():
    """A 3 x 2 lattice of buildings with stairwells of 36-90 households and a roster of one
    row per household."""
    units = make_lattice_units(3, 2, households=60)
    units["building"] = [f"{i + 1}号楼" for i in range(len(units))]
    rows = []
    for i in range(len(units)):
        stairs = 1 + i % 3
        for s in range(stairs):
            for f in range(1, 13):
                for r in range(1 + (i + s) % 3 + 2):
                    rows.append((f"{i + 1}栋", f"{s + 1}单元", f"{f}{r + 1:02d}"))
    return units, pd.DataFrame(rows, columns=["楼栋", "单元", "房号"])


@pytest.fixture(scope="module")
def lattice_plan():
    units, frame = _lattice_roster()
    roster = read_roster(frame)
    joined, join = join_roster(units, roster)
    rules = PlanRules(microgrid=MicroGridRules(min_households=30, max_households=50))
    plan = gridplan.plan(joined, rules=rules)
    return plan, roster, join


def test_every_roster_row_is_in_exactly_one_microgrid(lattice_plan):
    plan, roster, join = lattice_plan
    assert join.share_joined == 1.0
    table = household_equivalency(plan, roster, join)
    assert len(table) == len(roster.rows)
    assert (table["microgrid_code"] != "").all()
    assert not table["microgrid_code"].str.contains(";").any()
    counts = table.groupby("microgrid_code").size()
    mg = plan.microgrids.set_index("microgrid_code")
    assert counts.reindex(mg.index).tolist() == mg["households"].tolist()
    # a household's grid is its micro-grid's grid
    grid_of = mg["grid_code"]
    assert (table["grid_code"] == table["microgrid_code"].map(grid_of)).all()
    assert plan.microgrids["addresses"].notna().all()
    assert int(plan.microgrids["households"].sum()) == roster.households


def test_same_roster_same_household_list(lattice_plan):
    plan, roster, join = lattice_plan
    units, frame = _lattice_roster()
    again_roster = read_roster(frame)
    joined, again_join = join_roster(units, again_roster)
    rules = PlanRules(microgrid=MicroGridRules(min_households=30, max_households=50))
    again = gridplan.plan(joined, rules=rules)
    pd.testing.assert_frame_equal(
        household_equivalency(plan, roster, join),
        household_equivalency(again, again_roster, again_join),
    )


def test_unmatched_rows_are_listed_with_no_code(lattice_plan):
    units, frame = _lattice_roster()
    frame.loc[len(frame)] = ["99号楼", "1单元", "101"]
    roster = read_roster(frame)
    joined, join = join_roster(units, roster)
    plan = gridplan.plan(joined)
    table = household_equivalency(plan, roster, join)
    lost = table[table["join_status"] != "joined"]
    assert lost["roster_row"].tolist() == [len(frame) + 1]
    assert (lost["microgrid_code"] == "").all()
    (record,) = [d for d in join.records if d.code == "roster_unmatched"]
    assert record.params["rows"] == [len(frame) + 1]


@pytest.fixture(scope="module")
def queenstown():
    units = gpd.read_file(DATA / "singapore_queenstown.gpkg", layer="units")
    roster = read_roster(DATA / "queenstown_roster.xlsx")
    return units, roster


def test_the_sample_roster_joins_and_every_household_has_one_microgrid(queenstown):
    units, roster = queenstown
    assert len(roster.rows) == int(units["households"].sum())
    joined, join = join_roster(units, roster)
    assert join.share_joined >= 0.99
    src = DATA / "singapore_queenstown.gpkg"
    plan = gridplan.plan(
        joined,
        communities=gpd.read_file(src, layer="communities"),
        barriers=gpd.read_file(src, layer="barriers"),
    )
    table = household_equivalency(plan, roster, join)
    assert len(table) == len(roster.rows)
    joined_rows = table[table["join_status"] == "joined"]
    assert (joined_rows["microgrid_code"] != "").all()
    assert not joined_rows["microgrid_code"].str.contains(";").any()
    mg = plan.microgrids.set_index("microgrid_code")
    counts = joined_rows.groupby("microgrid_code").size().reindex(mg.index)
    assert counts.tolist() == mg["households"].tolist()
    assert plan.microgrids["in_band"].mean() == 1.0


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------


def _cli(args):
    from typer.testing import CliRunner

    from gridplan.cli import app

    return CliRunner().invoke(app, args)


@pytest.fixture()
def lattice_files(tmp_path):
    units, frame = _lattice_roster()
    units.to_file(tmp_path / "units.gpkg", layer="units")
    frame.loc[len(frame)] = ["99号楼", "1单元", "101"]  # matches no building
    roster = tmp_path / "名册.csv"
    roster.write_bytes(frame.to_csv(index=False).encode("gbk"))
    return tmp_path, roster, len(frame)


def test_cli_plan_with_a_roster_lists_every_row(lattice_files):
    tmp, roster, n = lattice_files
    res = _cli(
        ["plan", str(tmp / "units.gpkg"), "--roster", str(roster), "-o", str(tmp / "p.gpkg")]
    )
    assert res.exit_code == 0, res.output
    assert "1 in diagnostics" in res.output
    raw = (tmp / "p_households.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(tmp / "p_households.csv", dtype=str, keep_default_na=False)
    assert len(table) == n
    assert table["网格编码"].str.fullmatch(r'="\d+"|').all()
    lost = table[table["匹配情况"] != "已匹配"]
    assert lost["名单行号"].tolist() == [str(n + 1)] and (lost["微网格编码"] == "").all()
    # every row is in the household list with a micro-grid, or in a diagnostics row
    diags = gpd.read_file(tmp / "p.gpkg", layer="diagnostics")
    unmatched = diags[diags["code"] == "roster_unmatched"]
    assert json.loads(unmatched["params"].iat[0])["rows"] == [n + 1]
    assert "99号楼" in unmatched["message"].iat[0]
    placed = table[table["匹配情况"] == "已匹配"]
    assert (placed["微网格编码"] != "").all()
    book = openpyxl.load_workbook(tmp / "p_households.xlsx", read_only=True)
    assert book.sheetnames == ["住户", "名册核对"]
    first = next(book.worksheets[0].iter_rows(min_row=2, max_row=2, values_only=True))
    header = next(book.worksheets[0].iter_rows(min_row=1, max_row=1, values_only=True))
    code = first[header.index("微网格编码")]
    assert isinstance(code, str) and code.startswith("0")
    micro = gpd.read_file(tmp / "p.gpkg", layer="microgrids")
    assert micro["addresses"].notna().all()
    assert micro["addresses"].str.contains("号楼").all()


def test_cli_roster_outputs_are_byte_identical_and_the_report_lists_addresses(lattice_files):
    tmp, roster, _n = lattice_files
    for name in ("a", "b"):
        args = ["plan", str(tmp / "units.gpkg"), "--roster", str(roster)]
        args += ["-o", str(tmp / f"{name}.gpkg"), "--report", str(tmp / f"{name}_report.xlsx")]
        assert _cli(args).exit_code == 0
    for suffix in ("_households.csv", "_households.xlsx", "_report.xlsx"):
        assert (tmp / f"a{suffix}").read_bytes() == (tmp / f"b{suffix}").read_bytes(), suffix
    micro = pd.read_excel(tmp / "a_report.xlsx", sheet_name="microgrids", dtype=str)
    assert micro["addresses"].str.contains("号楼").all()
    grids = pd.read_excel(tmp / "a_report.xlsx", sheet_name="grids", dtype=str)
    assert grids["addresses"].str.contains("号楼").all()


def test_cli_roster_errors_are_one_clear_message_before_any_work(tmp_path, lattice_files):
    tmp, _roster, _n = lattice_files
    bad = tmp / "bad.csv"
    bad.write_text("甲,乙\n1,2\n", encoding="utf-8")
    out = tmp / "q.gpkg"
    res = _cli(["plan", str(tmp / "units.gpkg"), "--roster", str(bad), "-o", str(out)])
    assert res.exit_code == 1
    assert "--roster-columns" in res.output and "Traceback" not in res.output
    assert not out.exists() and not (tmp / "q_households.csv").exists()
    res = _cli(
        ["plan", str(tmp / "units.gpkg"), "--roster-columns", "楼号=building", "-o", str(out)]
    )
    assert res.exit_code == 1 and "need --roster" in res.output
    res = _cli(
        [
            "plan",
            str(tmp / "units.gpkg"),
            "--roster",
            str(bad),
            "--roster-columns",
            "楼号",
            "-o",
            str(out),
        ]
    )
    assert res.exit_code == 1 and "--roster-columns" in res.output


def test_cli_roster_columns_map_headers(lattice_files):
    tmp, _roster, _n = lattice_files
    frame = pd.DataFrame({"幢号X": ["1号楼", "1号楼", "2号楼"], "单元": ["1", "1", "1"]})
    roster = tmp / "r.csv"
    frame.to_csv(roster, index=False, encoding="utf-8-sig")
    out = tmp / "m.gpkg"
    args = ["plan", str(tmp / "units.gpkg"), "--roster", str(roster), "-o", str(out)]
    assert _cli(args).exit_code == 1  # no building column
    res = _cli([*args, "--roster-columns", "幢号X=building"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp / "m_households.csv", dtype=str, keep_default_na=False)
    assert (table["匹配情况"] == "已匹配").all()


def test_io_reexports_the_reader_and_shares_its_encodings():
    import gridplan.addresses
    import gridplan.io

    assert gridplan.io.read_roster is read_roster
    assert gridplan.addresses.CSV_ENCODINGS == gridplan.io.CSV_ENCODINGS
