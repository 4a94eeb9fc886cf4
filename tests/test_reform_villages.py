"""村改社区 as practice runs it (issue 20): village types, the service-equality limit, the
enterprise categories and the reform mode on the command line, and the before/after
workbook."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import LATTICE_ORIGIN, make_lattice_units
from shapely.geometry import box
from test_reform import communities_of
from typer.testing import CliRunner

from gridplan.cli import app
from gridplan.errors import ValidationError
from gridplan.reform import ReformRules, redivide
from gridplan.reform.report import reform_tables

runner = CliRunner()
WIDE = ReformRules(min_households=1000, max_households=6000)


def four_villages():
    """12 x 8 lattice of 100-household units in four villages of 2,400 households."""
    units = make_lattice_units(12, 8, households=100)
    return communities_of(units, lambda r, c: f"C{(r >= 4) * 2 + (c >= 6) + 1}")


def test_relocated_village_joins_the_nearest_community():
    units, comms = four_villages()
    plain = redivide(units, communities=comms, rules=WIDE)
    assert len(plain.communities) == 4  # every village is in band: all kept as they are
    # C4 (south-east) is relocated: its centre is 400 m from C2's and 600 m from C3's
    res = redivide(units, communities=comms, rules=WIDE, village_types={"C4": "relocated"})
    assert len(res.communities) == 3
    new_of = res.units.groupby("previous_code")["community_id"].agg(set)
    assert new_of["C4"] == new_of["C2"] == {"C2"}
    assert "C4" not in set(res.communities["community_code"])  # it never keeps its code
    mapping = res.report["mapping"].set_index("previous_code")
    assert mapping.loc["C4", "village_type"] == "relocated"
    assert mapping.loc["C1", "village_type"] == "kept"
    counts = res.report["counts"].set_index("metric")
    assert counts.loc["villages_relocated", "before"] == 1
    assert counts.loc["villages_relocated", "after"] == 0
    assert int(res.communities["households"].sum()) == 9600
    # merging C4 into C2 sets up no 社区大党委: nothing is stationed there
    assert (res.communities["stationed_units"] == 0).all()
    sheet = reform_tables(res, language="en")["New communities"]
    assert "big committee" not in set(sheet["Community party organisation"].dropna())


def test_village_types_from_a_column_in_chinese_and_merged_follows_the_longest_border():
    units, comms = four_villages()
    # C3 (south-west) is cash-compensated; C2 merged: it shares 600 m with C4, 400 m with C1
    comms["类型"] = comms["community_id"].map({"C2": "合并", "C3": "货币补偿"}).fillna("保留")
    res = redivide(units, communities=comms, rules=WIDE, village_types="类型")
    new_of = res.units.groupby("previous_code")["community_id"].agg(set)
    assert new_of["C2"] == new_of["C4"]
    assert new_of["C3"] in (new_of["C1"], new_of["C4"])
    assert len(res.communities) == 2
    assert set(res.report["mapping"]["village_type"]) == {"kept", "merged", "cash"}


def test_village_types_hold_in_the_reform_mode_too():
    """--mode reform plans every street afresh; a relocated, merged or cash-compensated
    village still joins a neighbour whole and never anchors a community of its own."""
    units, comms = four_villages()
    fresh = ReformRules(min_households=1000, max_households=6000, keep_valid=False)
    plain = redivide(units, communities=comms, rules=fresh)
    assert "C4" in set(plain.communities["previous_code"])  # C4 stands alone when kept
    res = redivide(units, communities=comms, rules=fresh, village_types={"C4": "relocated"})
    new_of = res.units.groupby("previous_code")["community_id"].agg(set)
    assert len(new_of["C4"]) == 1  # the whole village went to one community
    (host,) = new_of["C4"]
    row = res.communities.set_index("community_id").loc[host]
    # its nearest neighbour (C2's centre is 400 m away, C3's 600 m) took it in
    assert row["previous_code"] == "C2" and "C2:2400" in row["previous_codes"]
    assert "C4" not in set(res.communities["previous_code"])
    assert "C4" not in set(res.communities["community_code"])
    counts = res.report["counts"].set_index("metric")
    assert counts.loc["villages_relocated", "after"] == 0
    assert int(res.communities["households"].sum()) == 9600
    assert res.communities["in_bounds"].all()

    comms["类型"] = comms["community_id"].map({"C2": "合并", "C3": "货币补偿"}).fillna("保留")
    both = redivide(units, communities=comms, rules=fresh, village_types="类型")
    new_of = both.units.groupby("previous_code")["community_id"].agg(set)
    assert len(new_of["C2"]) == len(new_of["C3"]) == 1
    assert new_of["C2"] == new_of["C4"]  # C2 merged along its longest border (600 m, C4)
    assert new_of["C3"] <= new_of["C1"] | new_of["C4"]
    # the community C2 joined keeps C4's code: a merged village takes no code and no lead
    assert set(both.communities["previous_code"]) == {"C1", "C4"}
    assert set(both.communities["community_code"]) == {"C1", "C4"}


def test_a_village_too_large_to_join_a_neighbour_is_reported():
    units, comms = four_villages()
    # 2,400 households joined to any 2,400-household neighbour exceed the 3,000 maximum
    tight = ReformRules(min_households=1000, max_households=3000, keep_valid=False)
    res = redivide(units, communities=comms, rules=tight, village_types={"C4": "relocated"})
    assert res.communities["in_bounds"].all()
    d = res.diagnostics[res.diagnostics["code"] == "reform_village_leads"]
    assert len(d) == 1 and d["params"].iat[0]["village"] == "C4"
    assert "超过规模上限 3000" in d["message"].iat[0]
    counts = res.report["counts"].set_index("metric")
    assert counts.loc["villages_relocated", "after"] == 1  # still stands, and says so


def test_unknown_village_types_are_one_error_naming_them():
    units, comms = four_villages()
    comms["类型"] = ["保留", "拆迁?", "合并", "unknown"]
    with pytest.raises(ValidationError) as err:
        redivide(units, communities=comms, rules=WIDE, village_types="类型")
    text = str(err.value)
    assert "2 villages have an unknown type" in text and "拆迁?" in text and "C4" in text
    with pytest.raises(ValidationError, match="names no column"):
        redivide(units, communities=comms, rules=WIDE, village_types="kind")
    with pytest.raises(ValidationError, match="not current communities"):
        redivide(units, communities=comms, rules=WIDE, village_types={"X9": "merged"})


def test_service_limit_splits_communities_that_reach_too_far():
    units = make_lattice_units(12, 8, households=100)
    whole = units.dissolve().assign(community_id="A")[["community_id", "geometry"]]
    rules = ReformRules(min_households=1000, max_households=10_000)
    free = redivide(units, communities=whole, rules=rules)
    assert len(free.communities) == 1
    assert free.communities["service_reach_m"].iat[0] > 600  # reported even without a limit
    assert "reform_service_reach" not in set(free.diagnostics["code"])
    limit = 400.0
    res = redivide(
        units,
        communities=whole,
        rules=ReformRules(min_households=1000, max_households=10_000, max_service_distance_m=limit),
    )
    reach = res.communities["service_reach_m"]
    assert len(res.communities) > 1
    assert (reach <= limit).all()
    assert res.communities["in_bounds"].all()
    assert int(res.communities["households"].sum()) == 9600


def test_a_limit_no_split_meets_is_reported():
    units = make_lattice_units(12, 8, households=100)
    whole = units.dissolve().assign(community_id="A")[["community_id", "geometry"]]
    # a band that admits one community only: no split can meet the limit
    rules = ReformRules(min_households=5000, max_households=10_000, max_service_distance_m=100)
    res = redivide(units, communities=whole, rules=rules)
    assert len(res.communities) == 1
    d = res.diagnostics.set_index("code").loc["reform_service_reach"]
    assert d["params"]["limit"] == "100" and "超过服务半径上限 100 米" in d["message"]


@pytest.fixture
def village_files(tmp_path):
    units, comms = four_villages()
    x0, y0 = LATTICE_ORIGIN
    works = gpd.GeoDataFrame(
        {"dedicated_id": ["D1"], "category": ["化工企业"], "name": ["化工厂"]},
        geometry=[box(x0 + 1000, y0, x0 + 1200, y0 + 200)],
        crs=units.crs,
    )
    comms["name"] = ["东村", "西村", "南村", "北村"]
    comms["type"] = ["kept", "kept", "kept", "relocated"]
    src = tmp_path / "in.gpkg"
    units.to_file(src, layer="units")
    comms.to_file(src, layer="communities")
    works.to_file(src, layer="works")
    return src


def _reform(src, out, *extra):
    return runner.invoke(
        app,
        [
            "reform",
            f"{src}:units",
            "--communities",
            f"{src}:communities",
            "--min-households",
            "1000",
            "--max-households",
            "6000",
            "--out",
            str(out),
            "--force",  # the enterprise cases write one file in turn
            *extra,
        ],
    )


def test_cli_village_types_service_limit_and_workbook(village_files, tmp_path):
    out = tmp_path / "r.gpkg"
    res = _reform(
        village_files,
        out,
        "--village-types",
        "type",
        "--max-service-distance",
        "1000",
        "--dedicated",
        f"{village_files}:works",
    )
    assert res.exit_code == 0, res.output
    assert "communities: 4 -> 3" in res.output
    assert "service reach: up to" in res.output
    book = openpyxl.load_workbook(tmp_path / "r.xlsx", read_only=True)
    assert book.sheetnames[:4] == ["汇总", "新社区", "新旧对照", "街道"]
    mapping = pd.read_excel(tmp_path / "r.xlsx", sheet_name="新旧对照", dtype=str)
    assert dict(zip(mapping["原社区（村）编码"], mapping["村类型"], strict=True))["C4"] == "搬迁"
    assert not mapping.apply(lambda col: col.str.contains("dedicated:", na=False)).any().any()
    comms = pd.read_excel(tmp_path / "r.xlsx", sheet_name="新社区", dtype=str)
    assert "最远住户距服务中心（米）" in comms.columns and "社区党组织" in comms.columns
    # C2 took in the relocated C4 and keeps its code and name; the works (an enterprise,
    # handed over) are stationed in it, so it sets up a big party committee; merging alone
    # gives none (PRACTICE.md: 大党委 take in the units stationed in the community)
    by_code = comms.set_index("社区编号")
    row = by_code.loc["C2"]
    assert row["名称"] == "西村" and row["社区党组织"] == "社区大党委"
    assert row["驻区单位数"] == "1"
    others = by_code.drop(index="C2")
    assert (others["驻区单位数"] == "0").all()
    assert not (others["社区党组织"] == "社区大党委").any()
    summary = pd.read_excel(tmp_path / "r.xlsx", sheet_name="汇总", dtype=str)
    assert {"规模过小", "规模过大", "搬迁村数"} <= set(summary["指标"])
    en = tmp_path / "en.gpkg"
    res = _reform(village_files, en, "--village-types", "type", "--lang", "en")
    assert res.exit_code == 0, res.output
    assert openpyxl.load_workbook(tmp_path / "en.xlsx").sheetnames[:2] == [
        "Summary",
        "New communities",
    ]


def test_cli_enterprise_categories_and_residents(village_files, tmp_path):
    out = tmp_path / "r.gpkg"
    # 化工企业 is an enterprise by the default words (企业): handed over by default
    res = _reform(village_files, out, "--dedicated", f"{village_files}:works")
    assert res.exit_code == 0, res.output
    assert "enterprise areas: 1; 400 households in them handed over" in res.output
    res = _reform(
        village_files,
        out,
        "--dedicated",
        f"{village_files}:works",
        "--enterprise-residents",
        "dedicated",
    )
    assert res.exit_code == 0, res.output
    assert "enterprise areas for dedicated grids: 1 (400 households)" in res.output
    # with other words the works are no enterprise: nobody is left out
    res = _reform(
        village_files,
        out,
        "--dedicated",
        f"{village_files}:works",
        "--enterprise-residents",
        "dedicated",
        "--enterprise-categories",
        "industrial,office",
    )
    assert res.exit_code == 0, res.output
    assert "enterprise areas" not in res.output
    units = gpd.read_file(out, layer="units")
    assert units["community_id"].notna().all()


def test_cli_reform_mode_breaks_valid_communities(village_files, tmp_path):
    kept = _reform(village_files, tmp_path / "a.gpkg", "--mode", "repair")
    fresh = _reform(village_files, tmp_path / "b.gpkg", "--mode", "reform")
    alias = _reform(village_files, tmp_path / "c.gpkg", "--replan-valid")
    assert kept.exit_code == fresh.exit_code == alias.exit_code == 0
    a = gpd.read_file(tmp_path / "a.gpkg", layer="communities")
    assert a["kept"].all()  # every valid village stays as it is
    b = gpd.read_file(tmp_path / "b.gpkg", layer="communities")
    c = gpd.read_file(tmp_path / "c.gpkg", layer="communities")
    assert b.drop(columns="geometry").equals(c.drop(columns="geometry"))
    both = _reform(village_files, tmp_path / "d.gpkg", "--mode", "repair", "--replan-valid")
    assert both.exit_code == 1 and "--mode reform is the same as --replan-valid" in both.output
    bad = _reform(village_files, tmp_path / "e.gpkg", "--max-service-distance", "-5")
    assert bad.exit_code == 1 and "--max-service-distance must be" in bad.output
    assert "Traceback" not in bad.output + both.output
    assert np.isfinite(b["service_reach_m"]).all()
    # the village types hold in the reform mode: the relocated C4 leads no community
    typed = _reform(
        village_files, tmp_path / "f.gpkg", "--mode", "reform", "--village-types", "type"
    )
    assert typed.exit_code == 0, typed.output
    f = gpd.read_file(tmp_path / "f.gpkg", layer="communities")
    assert "C4" not in set(f["previous_code"]) and "C4" not in set(f["community_code"])
    fu = gpd.read_file(tmp_path / "f.gpkg", layer="units")
    assert fu.loc[fu["previous_code"] == "C4", "community_id"].nunique() == 1


def test_cli_xlsx_must_be_a_workbook_and_not_an_input(village_files, tmp_path):
    res = _reform(village_files, tmp_path / "r.gpkg", "--xlsx", str(tmp_path / "r.csv"))
    assert res.exit_code == 1 and "(--xlsx): expected a file ending in .xlsx" in res.output
    assert not (tmp_path / "r.gpkg").exists()
    named = tmp_path / "report.xlsx"
    res = _reform(village_files, tmp_path / "r.gpkg", "--xlsx", str(named))
    assert res.exit_code == 0 and named.exists() and not (tmp_path / "r.xlsx").exists()
