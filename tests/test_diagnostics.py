"""Diagnostics as data: every template renders in zh and en with the params its emitter passes,
tables round-trip through text and a GeoPackage, and fixes speak each interface's words."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import typer

from gridplan import diagnostics as dg
from gridplan.cli import app
from gridplan.diagnostics import FIXES, OPTIONS, TEMPLATES, Diagnostic
from gridplan.i18n import LABELS, RULES, column_label, label_columns, t

GRID = "140105001001001"
GRID2 = "140105001001002"
COMMUNITY = "140105001001"
BAND = {"lo": 300, "hi": 500, "band": "grid"}
PIECE = {**BAND, "total": 1020, "k_min": 3, "k_max": 2}
REFORM = {"lo": 1000, "hi": 3000, "noun": "households"}

#: one record per case, with the fields and params its emitter passes (partition/grids.py,
#: microgrids.py, reform/, staffing/, distributed.py), grid ids already resolved to codes
SAMPLES: list[Diagnostic] = [
    Diagnostic(level="plan", code="codes_unset", severity="info", fix="set_county_code"),
    Diagnostic(level="plan", code="codes_no_communities", severity="info", fix="give_communities"),
    Diagnostic(
        level="grid",
        code="infeasible_piece_small",
        community_id="c1",
        grid_code=GRID,
        households=220,
        params={**BAND, "total": 220, "k_min": 0, "k_max": 0},
        fix="redivide_small",
    ),
    Diagnostic(
        level="grid",
        code="infeasible_piece",
        community_id="c1",
        grid_code=GRID,
        households=520,
        params={**PIECE, "lo_fix": 340, "hi_fix": 510},
        fix="relax_band",
    ),
    Diagnostic(
        level="grid",
        code="out_of_band",
        community_id="c1",
        grid_code=GRID,
        unit_ids=("b1", "b2"),
        households=520,
        params={
            **PIECE,
            "k_min": 3,
            "k_max": 3,
            "sizes": "250, 250, 520",
            "lo_fix": 250,
            "hi_fix": 520,
        },
        fix="widen_band_or_split",
    ),
    Diagnostic(
        level="grid",
        code="out_of_band_proven",
        community_id="c1",
        grid_code=GRID,
        households=520,
        params={**PIECE, "sizes": "500, 520", "lo_fix": 300, "hi_fix": 520},
        fix="relax_band_or_split",
    ),
    Diagnostic(
        level="grid",
        code="locked_out_of_band",
        community_id="c1",
        grid_code=GRID,
        households=610,
        params={"label": "G7", "lo": 300, "hi": 500},
        fix="unlock_or_edit",
    ),
    Diagnostic(
        level="grid",
        code="previous_replanned",
        severity="info",
        community_id="c1",
        grid_code=GRID,
        households=540,
        params={"why": "previous_band", "lo": 300, "hi": 500},
        fix="previous_check",
    ),
    Diagnostic(
        level="unit",
        code="previous_unit_split",
        severity="info",
        grid_code=GRID,
        unit_ids=("b3",),
        params={"unit": "b3", "n_grids": 2, "old": GRID2},
        fix="previous_split_check",
    ),
    Diagnostic(
        level="unit",
        code="unit_split",
        community_id="c1",
        grid_code=GRID,
        unit_ids=("b9",),
        households=900,
        params={"unit": "b9", "weight": 900, "hi": 500, "parts": 2, "grids": f"{GRID}, {GRID2}"},
        fix="stairwells_for_split",
    ),
    Diagnostic(
        level="grid",
        code="barrier_crossing",
        community_id="c1",
        grid_code=GRID,
        households=410,
        params={"barrier": "Commonwealth Ave", "barriers": ["Commonwealth Ave"]},
        fix="split_barrier_side",
    ),
    Diagnostic(
        level="grid",
        code="barrier_crossing_dead_end",
        community_id="c1",
        grid_code=GRID,
        params={"barrier": "滨河路", "barriers": ["滨河路"]},
        fix="extend_barrier",
    ),
    Diagnostic(
        level="grid",
        code="barrier_crossing_locked",
        community_id="c1",
        grid_code=GRID,
        params={"barrier": "滨河路", "barriers": ["滨河路"]},
        fix="unlock_or_edit",
    ),
    Diagnostic(
        level="microgrid",
        code="microgrid_out_of_band",
        community_id="c1",
        grid_code=GRID,
        households=95,
        params={
            "sizes": "45, 50",
            "total": 95,
            "lo": 30,
            "hi": 50,
            "why": "search",
            "band": "microgrid",
        },
        fix="give_stairwells",
    ),
    Diagnostic(
        level="unit",
        code="reform_isolated_unit",
        unit_ids=("u3",),
        households=80,
        params={"n": 1},
        fix="reform_check_links",
    ),
    Diagnostic(
        level="plan",
        code="reform_target_count",
        households=9600,
        params={
            "target": 3,
            "got": 4,
            "lo": 1000,
            "hi": 3000,
            "k_min": 4,
            "k_max": 9,
            "total": 9600,
        },
        fix="reform_target_count",
    ),
    Diagnostic(
        level="community",
        code="reform_service_reach",
        community_code=COMMUNITY,
        households=2400,
        params={"reach": "1250", "limit": "1000"},
        fix="reform_service_smaller",
    ),
    Diagnostic(
        level="community",
        code="reform_village_alone",
        community_code=COMMUNITY,
        params={"village_type": "relocated"},
        fix="reform_village_neighbours",
    ),
    Diagnostic(
        level="community",
        code="reform_village_leads",
        community_code=COMMUNITY,
        households=4800,
        params={"village": "C4", "village_type": "relocated", "hi": 3000},
        fix="reform_village_smaller",
    ),
    Diagnostic(
        level="community",
        code="reform_barrier_crossing",
        community_code=COMMUNITY,
        households=2400,
        params={"barrier": "汾河"},
        fix="reform_accept_or_widen",
    ),
    Diagnostic(
        level="street",
        code="reform_infeasible_street",
        street_id="s1",
        households=800,
        params={**REFORM, "street": "s1", "total": 800, "k_min": 1, "k_max": 0, "lo_fix": 800},
        fix="reform_street_small",
    ),
    Diagnostic(
        level="street",
        code="reform_infeasible_street",
        street_id="s2",
        households=3300,
        params={
            **REFORM,
            "lo": 1700,
            "street": "s2",
            "total": 3300,
            "k_min": 2,
            "k_max": 1,
            "lo_fix": 1650,
            "hi_fix": 3300,
        },
        fix="reform_street_band",
    ),
    Diagnostic(
        level="street",
        code="reform_infeasible_street",
        street_id="s3",
        params={**REFORM, "street": "s3", "total": 0, "k_min": 1, "k_max": 0, "lo_fix": 0},
        fix="reform_join_street",
    ),
    Diagnostic(
        level="unit",
        code="reform_unit_over_ceiling",
        unit_ids=("u0",),
        households=4000,
        params={**REFORM, "largest": 4000},
        fix="reform_split_units",
    ),
    Diagnostic(
        level="community",
        code="reform_under_isolated",
        street_id="s1",
        community_id="A",
        community_code=COMMUNITY,
        households=800,
        params={**REFORM, "size": 800, "area": 800, "lo_fix": 800},
        fix="reform_under_isolated",
    ),
    Diagnostic(
        level="community",
        code="reform_under_bounds",
        community_id="A",
        community_code=COMMUNITY,
        households=900,
        params={**REFORM, "size": 900, "area": 5000, "lo_fix": 900},
        fix="reform_under",
    ),
    Diagnostic(
        level="community",
        code="reform_over_bounds",
        community_id="A",
        community_code=COMMUNITY,
        households=6100,
        params={**REFORM, "noun": "population", "size": 6100, "area": 6100, "hi_fix": 6100},
        fix="reform_over",
    ),
    Diagnostic(
        level="staffing",
        code="no_microgrids",
        params={"topic": "posts"},
        fix="staffing_give_microgrids",
    ),
    Diagnostic(
        level="staffing",
        code="residents_estimated",
        households=900,
        params={
            "topic": "posts",
            "n_grids": 2,
            "grid_codes": [GRID, GRID2],
            "grids": f"{GRID}, {GRID2}",
            "household_size": 2.8,
        },
        fix="staffing_give_population",
    ),
    Diagnostic(
        level="grid",
        code="dedicated_residents",
        grid_code=GRID,
        unit_ids=("h1", "h2"),
        households=990,
        params={"area": "农贸市场", "category": "market"},
        fix="plan_dedicated_residents",
    ),
    Diagnostic(
        level="grid",
        code="dedicated_residents_planned",
        severity="info",
        grid_code=GRID,
        unit_ids=("h1",),
        households=120,
        params={"area": "山西大学", "category": "school", "grids": "140106001001003"},
        fix="keep_dedicated_residents",
    ),
    Diagnostic(
        level="grid",
        code="dedicated_area_all_homes",
        severity="info",
        grid_code=GRID,
        unit_ids=("h1",),
        households=120,
        params={"area": "d7", "category": "business", "grids": "140106001001003"},
        fix="keep_dedicated_residents",
    ),
    Diagnostic(
        level="staffing",
        code="dedicated_with_households",
        grid_code=GRID,
        households=40,
        params={"topic": "posts"},
        fix="staffing_staff_dedicated",
    ),
    Diagnostic(
        level="staffing",
        code="grid_heads_beyond_workers",
        community_id="c1",
        params={"topic": "posts", "grid_heads": 9, "workers": 7},
        fix="staffing_other_grid_heads",
    ),
    Diagnostic(
        level="staffing",
        code="grid_posts_beyond_ratio",
        households=12_000,
        params={
            "topic": "posts",
            "n_communities": 40,
            "n_all": 44,
            "community_ids": ["c1", "c2"],
            "communities": "c1, c2 and 38 more",
            "grid_posts": 494,
            "workers": 417,
            "per_10k": "18",
        },
        fix="staffing_ratio_or_grids",
    ),
    Diagnostic(
        level="staffing",
        code="heads_unplaced",
        params={"topic": "heads", "n": 1, "rows": "row 12 (王芳)"},
        fix="staffing_heads_join",
    ),
    Diagnostic(
        level="staffing",
        code="household_roles_ignored",
        severity="info",
        params={"topic": "heads", "n": 1, "rows": "row 7: '党员'"},
        fix="staffing_head_roles",
    ),
    Diagnostic(
        level="staffing",
        code="grids_without_community",
        households=300,
        params={"topic": "posts", "n_grids": 2, "grids": "G1, G2"},
        fix="staffing_give_communities",
    ),
    Diagnostic(
        level="staffing",
        code="per_grid",
        params={"topic": "party"},
        fix="staffing_members_per_unit",
    ),
    Diagnostic(
        level="staffing",
        code="no_party_members",
        params={"topic": "party"},
        fix="staffing_add_party_members",
    ),
    Diagnostic(
        level="staffing",
        code="members_unknown",
        community_id="c1",
        households=300,
        params={"topic": "party", "n_orgs": 2, "org_units": ["x1", "x2"], "names": "x1, x2"},
        fix="staffing_fill_members",
    ),
    Diagnostic(
        level="staffing",
        code="members_partial",
        params={"topic": "party", "n_orgs": 1, "org_units": ["x1"], "names": "x1"},
        fix="staffing_fill_members",
    ),
    Diagnostic(
        level="staffing",
        code="below_minimum",
        community_id="c1",
        households=120,
        params={
            "topic": "party",
            "branch_id": "c1-01",
            "org_units": ["x1"],
            "names": "x1",
            "members": "2",
            "min_members": 3,
            "adjacency_m": "200",
        },
        fix="staffing_join_branch",
    ),
    Diagnostic(
        level="staffing",
        code="should_split",
        community_id="c1",
        params={
            "topic": "party",
            "branch_id": "c1-02",
            "org_units": ["x2"],
            "names": "x2",
            "members": "120",
            "max_members": 100,
        },
        fix="staffing_split_branch",
    ),
    Diagnostic(
        level="staffing",
        code="few_central_households",
        params={
            "topic": "party",
            "n_branches": 1,
            "branch_ids": ["c1-01"],
            "branches": "c1-01",
            "span": 15,
        },
        fix="staffing_central_span",
    ),
    Diagnostic(
        level="staffing",
        code="unfilled",
        params={"topic": "roster", "n_posts": 3},
        fix="staffing_add_people",
    ),
    Diagnostic(
        level="staffing",
        code="lives_elsewhere",
        params={"topic": "roster", "n_posts": 1, "grid_codes": [GRID], "grids": GRID},
        fix="staffing_find_residents",
    ),
    Diagnostic(
        level="part",
        code="part_failed",
        severity="error",
        street_id="s1",
        unit_ids=("u1", "u2"),
        households=80,
        params={"part": 2, "county": None, "error": "ValueError: boom", "street_codes": "001"},
        fix="rerun_part",
    ),
    Diagnostic(
        level="part",
        code="part_failed_county",
        severity="error",
        unit_ids=("u1",),
        households=40,
        params={"part": 1, "county": "140105", "error": "ValueError: boom", "street_codes": ""},
        fix="rerun_part",
    ),
    # household rosters (gridplan.addresses)
    Diagnostic(
        level="roster",
        code="roster_blank_rows",
        severity="info",
        params={"source": "名册.xlsx", "rows": [4, 5], "n_rows": 2, "first_rows": "4, 5"},
        fix="roster_complete_address",
    ),
    Diagnostic(
        level="roster",
        code="roster_total_rows",
        severity="info",
        params={"source": "名册.xlsx", "rows": [4, 5], "n_rows": 2, "first_rows": "4, 5"},
        fix="roster_check_count",
    ),
    Diagnostic(
        level="roster",
        code="roster_duplicate_address",
        params={
            "source": "名册.xlsx",
            "rows": [4, 5],
            "n_rows": 2,
            "first_rows": "4, 5",
            "address": "阳光小区3号楼1单元1502",
        },
        fix="roster_check_duplicates",
    ),
    Diagnostic(
        level="roster",
        code="roster_incomplete_address",
        params={
            "source": "名册.xlsx",
            "rows": [4, 5],
            "n_rows": 2,
            "first_rows": "4, 5",
            "missing": "floor",
            "why": "roster_floor",
        },
        fix="roster_complete_address",
    ),
    Diagnostic(
        level="roster",
        code="roster_unmatched",
        severity="error",
        households=2,
        params={
            "source": "名册.xlsx",
            "rows": [4, 5],
            "n_rows": 2,
            "first_rows": "4, 5",
            "address": "阳光小区9号楼",
            "unit_keys": "building=楼号",
        },
        fix="roster_match_units",
    ),
    Diagnostic(
        level="roster",
        code="roster_ambiguous",
        severity="error",
        unit_ids=("u1", "u2"),
        households=2,
        params={
            "source": "名册.xlsx",
            "rows": [4, 5],
            "n_rows": 2,
            "first_rows": "4, 5",
            "address": "3号楼",
            "units": "u1, u2",
            "n_units": 2,
        },
        fix="roster_distinct_units",
    ),
    Diagnostic(
        level="roster",
        code="roster_units_without_rows",
        unit_ids=("u7",),
        households=120,
        params={"source": "名册.xlsx", "units": "u7", "n_units": 1},
        fix="roster_add_rows",
    ),
    Diagnostic(
        level="roster",
        code="roster_households_differ",
        severity="info",
        unit_ids=("u3",),
        households=90,
        params={
            "source": "名册.xlsx",
            "unit": "u3",
            "address": "3号楼",
            "roster_households": 90,
            "layer_households": 120,
            "difference": "-30",
        },
        fix="roster_check_count",
    ),
    Diagnostic(
        level="roster",
        code="roster_rows_split",
        severity="info",
        unit_ids=("u4",),
        params={
            "source": "名册.xlsx",
            "rows": [4, 5],
            "n_rows": 2,
            "first_rows": "4, 5",
            "unit": "u4",
            "microgrids": "001;002",
        },
        fix="roster_check_count",
    ),
]


def test_samples_cover_every_template_and_fix():
    assert {d.code for d in SAMPLES} == set(TEMPLATES)
    assert {d.fix for d in SAMPLES} == set(FIXES)


@pytest.mark.parametrize("interface", ["python", "cli", "app"])
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("d", SAMPLES, ids=lambda d: f"{d.code}-{d.fix}")
def test_every_template_renders_every_field(d, lang, interface):
    message, fix = dg.render(d, lang=lang, interface=interface)
    assert message and fix
    # nothing missing (a missing field renders as "?") and no field left unformatted
    for text in (message, fix):
        assert "?" not in text and "{" not in text and "}" not in text, text
    if lang == "zh":
        assert re.search(r"[\u4e00-\u9fff]", message) and re.search(r"[\u4e00-\u9fff]", fix)


def test_the_band_noun_defaults_to_households_and_follows_balance():
    d = next(s for s in SAMPLES if s.code == "out_of_band")
    assert "1020 户" in dg.render(d, lang="zh")[0]
    assert "1020 households" in dg.render(d, lang="en")[0]
    by_people = replace(d, params={**d.params, "noun": "population"})
    assert "1020 人" in dg.render(by_people, lang="zh")[0]
    assert "1020 residents" in dg.render(by_people, lang="en")[0]
    over = next(s for s in SAMPLES if s.code == "reform_over_bounds")
    assert "6100 residents" in dg.render(over, lang="en")[0]


def _flags() -> set[str]:
    """Every option name of every command of the CLI."""
    group = typer.main.get_command(app)
    names: set[str] = set()
    for command in group.commands.values():  # type: ignore[attr-defined]
        for param in command.params:
            names.update(n for n in param.opts if n.startswith("--"))
    return names


def test_fixes_speak_each_interface_and_the_cli_names_real_flags():
    flags = _flags()
    # a widget's label, or a staffing rule's meaning as the app's rules sheet names it
    labels = {table[k][lang] for table in (LABELS, RULES) for k in table for lang in ("zh", "en")}
    for d in SAMPLES:
        uses = re.findall(r"\{opt\[(\w+)\]\}", FIXES[d.fix]["en"])
        if not uses:
            continue
        words = {i: dg.render(d, lang="en", interface=i)[1] for i in ("python", "cli", "app")}
        assert len(set(words.values())) == 3, words
        for name in uses:
            cli = dg.render(d, lang="en", interface="cli")[1]
            named = set(re.findall(r"--[a-z][a-z-]+", OPTIONS[name]["cli"]["en"]))
            assert named and named <= flags, (name, named - flags)
            assert all(f in cli for f in named)
            # the app's words quote a widget label the app shows
            quoted = set(re.findall(r"(?<![a-z])'([^']+)'", dg._Options("en", "app")[name]))
            assert quoted and quoted <= labels, (name, quoted - labels)
    # no fix anywhere suggests a flag the CLI does not have
    for d in SAMPLES:
        for lang in ("zh", "en"):
            fix = dg.render(d, lang=lang, interface="cli")[1]
            assert set(re.findall(r"--[a-z][a-z-]+", fix)) <= flags, fix


def test_keyword_advice_in_the_words_of_the_interface():
    msg = (
        "3 units have invalid geometry (ids 4, 9, 12); repair with shapely.make_valid or "
        "pass fix_invalid=True."
    )
    assert dg.in_words(msg, interface="python") == msg
    cli = dg.in_words(msg, interface="cli")
    assert "--fix-invalid" in cli and "fix_invalid=True" not in cli
    assert "--fix-invalid" in _flags()
    app_words = dg.in_words(msg, interface="app")
    assert t("fix_invalid", "en") in app_words and "fix_invalid" not in app_words


def test_frame_records_round_trip_through_flat_text_and_a_geopackage(tmp_path):
    items = [replace(d, unit_ids=d.unit_ids or ("u1",)) for d in SAMPLES]
    table = dg.frame(items, lang="zh")
    assert list(table.columns) == list(dg.COLUMNS)
    assert dg.records(table) == items
    flat = dg.flat(table)
    assert flat["unit_ids"].map(type).eq(str).all() and flat["params"].map(type).eq(str).all()
    assert json.loads(flat["params"].iat[0])["fix"] == items[0].fix
    assert dg.records(flat) == items
    path = tmp_path / "d.gpkg"
    pyogrio.write_dataframe(flat, path, layer="diagnostics")
    back = pyogrio.read_dataframe(path, layer="diagnostics", read_geometry=False)
    assert dg.records(back) == items
    # and re-rendered in another language from what was read back
    en = dg.render_frame(back, lang="en", interface="cli")
    assert en["message"].tolist() == [dg.render(d, lang="en", interface="cli")[0] for d in items]
    assert en["fix"].tolist() == [dg.render(d, lang="en", interface="cli")[1] for d in items]


def test_resolve_grids_maps_ids_to_codes_without_reading_text():
    d = Diagnostic(
        level="unit",
        code="unit_split",
        grid_id=3,
        unit_ids=("b9",),
        households=900,
        params={"unit": "b9", "hi": 500, "parts": 2, "grid_ids": [3, 4]},
        fix="stairwells_for_split",
    )
    other = Diagnostic(level="plan", code="no_party_members")
    got = dg.resolve_grids([d, other], {3: GRID, 4: GRID2})
    assert got[1] is other
    assert got[0].grid_code == GRID and got[0].grid_id is None
    assert got[0].params["grids"] == f"{GRID}, {GRID2}" and "grid_ids" not in got[0].params
    assert f"{GRID}, {GRID2}" in dg.render(got[0], lang="en")[0]


def test_every_diagnostics_column_has_a_chinese_header():
    table = dg.frame(SAMPLES[:2])
    headers = label_columns(table, "zh").columns
    assert all(re.search(r"[\u4e00-\u9fff]", str(h)) for h in headers), list(headers)
    for c in dg.COLUMNS:
        assert column_label(c, "en") != c


def test_unknown_codes_are_refused():
    with pytest.raises(KeyError, match="no template"):
        Diagnostic(level="grid", code="no_such_code")
    with pytest.raises(KeyError, match="no template"):
        Diagnostic(level="grid", code="out_of_band", fix="no_such_fix")


def test_render_frame_keeps_the_machine_columns():
    table = dg.frame(SAMPLES, lang="zh")
    en = dg.render_frame(table, lang="en", interface="app")
    machine = [c for c in dg.COLUMNS if c not in ("message", "fix")]
    pd.testing.assert_frame_equal(
        table[machine].astype(str), en[machine].astype(str), check_dtype=False
    )
    assert (table["message"] != en["message"]).all()


def test_a_geodataframe_diagnostics_layer_is_not_needed():
    # the diagnostics layer is an attribute table: no geometry column is written
    assert "geometry" not in dg.COLUMNS
    assert not isinstance(dg.frame(SAMPLES[:1]), gpd.GeoDataFrame)
