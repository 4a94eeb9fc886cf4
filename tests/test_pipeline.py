"""The stages of a plan (:mod:`gridplan.stages`) one by one, their chain (:func:`gridplan.plan`),
and the diagnostics they record, rendered in Chinese and English.

The input is a small lattice of two communities (EPSG:32649) with one building above the grid
ceiling, party members on some units, residents on others, and a lock that cannot be met, so
every stage has something to carry through.
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import make_lattice_units
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import box

import gridplan
from gridplan import diagnostics as dg
from gridplan import stages
from gridplan.config import CodeRules, GridRules, PlanRules

PACKAGE = Path(gridplan.__file__).resolve().parent
BIG = "u12"  # row 1, col 2: 1,200 households, above the 500 ceiling
RULES = PlanRules(codes=CodeRules(county_code="140106"))
LOCKS = {"u0": "A", "u1": "A"}  # 80 households locked together: below the floor


@pytest.fixture(scope="module")
def layers() -> dict[str, gpd.GeoDataFrame]:
    units = make_lattice_units(10, 5)
    units.loc[units["unit_id"] == BIG, "households"] = 1200
    units["community_id"] = np.where(units["col"] < 5, "C1", "C2")
    # party members on every third unit (7 in the split building), residents on half the units
    units["party_members"] = [
        7.0 if u == BIG else (3.0 if k % 3 == 0 else np.nan) for k, u in enumerate(units["unit_id"])
    ]
    units["population"] = [np.nan if k % 2 else 100.0 for k in range(len(units))]
    x0, y0, x1, y1 = units.total_bounds
    mid = (x0 + x1) / 2
    communities = gpd.GeoDataFrame(
        {"community_id": ["C1", "C2"]},
        geometry=[box(x0, y0, mid, y1), box(mid, y0, x1, y1)],
        crs=units.crs,
    )
    return {"units": units, "communities": communities}


@pytest.fixture(scope="module")
def chain(layers):
    """Every stage's result, chained by hand exactly as :func:`gridplan.plan` chains them."""
    prepared = stages.prepare(layers["units"], communities=layers["communities"], rules=RULES)
    cells = stages.build_cells(prepared, rules=RULES)
    grids = stages.plan_grids(cells, rules=RULES, locks=LOCKS, seed=3)
    micro = stages.plan_microgrids(grids, rules=RULES, seed=3)
    codes = stages.assign_codes(
        grids, micro, rules=RULES, communities=prepared.communities, streets=prepared.streets
    )
    figures = stages.apportion(grids, rules=RULES)
    plan = stages.assemble(prepared, grids, micro, codes, figures, rules=RULES)
    return {
        "layers": prepared,
        "cells": cells,
        "grids": grids,
        "micro": micro,
        "codes": codes,
        "figures": figures,
        "plan": plan,
    }


# --- each stage --------------------------------------------------------------------------------


def test_prepare_keeps_only_the_dedicated_categories_asked_for(layers):
    units = layers["units"]
    x0, y0, _, _ = units.total_bounds
    dedicated = gpd.GeoDataFrame(
        {"dedicated_id": ["d1", "d2"], "category": ["school", "market"], "name": ["s", "m"]},
        geometry=[box(x0, y0, x0 + 100, y0 + 100), box(x0 + 100, y0, x0 + 200, y0 + 100)],
        crs=units.crs,
    )
    rules = PlanRules(dedicated_categories=("school",))
    prepared = stages.prepare(units, dedicated=dedicated, rules=rules)
    assert list(prepared.dedicated["category"]) == ["school"]
    assert stages.prepare(prepared) is prepared  # prepared layers pass through


def test_cells_stage_gives_every_residential_unit_a_cell(chain):
    cells = chain["cells"]
    n = len(chain["layers"].units)
    assert cells.residential.size == n  # no dedicated areas here
    assert all(c is not None and not c.is_empty for c in cells.cells)
    # canonical order: sorted unit ids, whatever the input order; the input order is kept
    assert list(cells.ids) == sorted(cells.ids)
    assert list(cells.order) == list(chain["layers"].units.index)
    assert cells.units.crs.is_projected


def test_grid_stage_conserves_households_and_splits_the_big_building(chain):
    gp, units = chain["grids"], chain["layers"].units
    total = int(units["households"].sum())
    assert int(gp.grids["households"].sum()) == total
    assert int(gp.parts["households"].sum()) == total
    assert list(gp.units.index) == list(units.index)  # input order
    assert gp.units["grid_id"].notna().all()
    big = gp.parts[gp.parts["unit_id"] == BIG]
    assert len(big) == 3 and int(big["households"].sum()) == 1200
    assert gp.units.loc[BIG, "n_parts"] == 3


def test_microgrid_stage_conserves_the_households_of_every_grid(chain):
    gp, micro = chain["grids"], chain["micro"]
    per_grid = micro.microgrids.groupby("grid_id")["households"].sum()
    res = gp.grids[gp.grids["kind"] == "residential"].set_index("grid_id")["households"]
    pd.testing.assert_series_equal(
        per_grid.reindex(res.index).astype(np.int64), res.astype(np.int64), check_names=False
    )
    per_unit = micro.slices.groupby("unit_id")["households"].sum()
    assert int(per_unit[BIG]) == 1200


def test_codes_stage_names_every_grid_and_microgrid_once(chain):
    gp, micro, codes = chain["grids"], chain["micro"], chain["codes"]
    assert set(codes.grid) == set(gp.grids["grid_id"])
    values = list(codes.grid.values())
    assert len(set(values)) == len(values)
    assert all(c.startswith("140106") and len(c) == 15 for c in values)
    assert set(codes.microgrid) == set(micro.microgrids["microgrid_id"])
    for mid, gid in zip(micro.microgrids["microgrid_id"], micro.microgrids["grid_id"], strict=True):
        assert codes.microgrid[mid].startswith(codes.grid[gid])
        assert len(codes.microgrid[mid]) == 18
    assert codes.stand_ins == {}


def test_codes_stage_numbers_stand_ins_with_the_rest(chain):
    # a stand-in for a failed part's community keeps the other community's codes as they are
    # in the complete plan
    gp, layers = chain["grids"], chain["layers"]
    c1 = gp.grids[gp.grids["community_id"] == "C1"]
    c2 = gp.grids[gp.grids["community_id"] == "C2"]
    stand_in = gpd.GeoDataFrame(
        {"grid_id": ["P0-0"], "kind": ["residential"], "community_id": ["C1"], "street_id": [None]},
        geometry=[c1.geometry.union_all()],
        crs=gp.grids.crs,
    )
    full = stages.assign_codes(gp, rules=RULES, communities=layers.communities)
    alone = stages.assign_codes(
        replace(gp, grids=c2), rules=RULES, communities=layers.communities, stand_ins=stand_in
    )
    assert set(alone.grid) == set(c2["grid_id"])
    assert all(alone.grid[g] == full.grid[g] for g in c2["grid_id"])
    assert alone.stand_ins["P0-0"] == full.community[c1["grid_id"].iloc[0]]


def test_apportion_shares_party_members_as_whole_people(chain):
    figures, units = chain["figures"], chain["layers"].units
    pieces = figures.pieces
    members = pieces["party_members"].dropna()
    assert (members == np.floor(members)).all(), "party members are whole people"
    big = pieces[pieces["unit_id"] == BIG]
    assert sorted(big["party_members"]) == [2.0, 2.0, 3.0]  # 7 over three parts of 400
    per_unit = pieces.groupby("unit_id")["party_members"].sum(min_count=1)
    expected = units["party_members"].rename(None)
    pd.testing.assert_series_equal(
        per_unit.reindex(expected.index), expected, check_names=False, check_index_type=False
    )
    # every member is counted once, in some grid
    assert figures.grids["party_members"].sum() == units["party_members"].sum()
    # residents: given ones kept, missing ones estimated from households and flagged
    est = pieces["estimated"].to_numpy()
    hh = pieces["households"].to_numpy()
    assert np.allclose(pieces["population"].to_numpy()[est], hh[est] * RULES.household_size)
    flagged = pieces.groupby("grid_id")["estimated"].any()
    pd.testing.assert_series_equal(
        figures.grids["population_estimated"], flagged, check_names=False
    )
    # the split building's 100 residents go to its parts in proportion to their households
    assert np.allclose(big["population"].to_numpy(), 100.0 * big["households"] / 1200)
    assert not big["estimated"].any()


def test_assemble_orders_tables_and_resolves_grid_codes(chain):
    plan, layers = chain["plan"], chain["layers"]
    assert list(plan.grids["grid_code"]) == sorted(plan.grids["grid_code"])
    assert list(plan.microgrids["microgrid_code"]) == sorted(plan.microgrids["microgrid_code"])
    assert list(plan.units.index) == list(layers.units.index)
    assert plan.grids.crs == layers.crs and plan.microgrids.crs == layers.crs
    d = plan.diagnostics
    assert list(d.columns) == list(dg.COLUMNS)
    assert d["grid_code"].isin(set(plan.grids["grid_code"])).all()
    assert dg.records(d) == stages.order_records(dg.records(d))
    # every household once in the grids, once in the micro-grids
    total = int(layers.units["households"].sum())
    assert int(plan.grids["households"].sum()) == total
    assert int(plan.microgrids["households"].sum()) == total
    assert int(plan.grids["party_members"].sum()) == int(layers.units["party_members"].sum())


def test_plan_is_the_chained_stages(layers, chain):
    p = gridplan.plan(
        layers["units"], communities=layers["communities"], rules=RULES, locks=LOCKS, seed=3
    )
    q = chain["plan"]
    assert_geodataframe_equal(p.units, q.units)
    assert_geodataframe_equal(p.grids, q.grids)
    assert_geodataframe_equal(p.microgrids, q.microgrids)
    pd.testing.assert_frame_equal(p.diagnostics, q.diagnostics)
    for k in q.report:
        pd.testing.assert_frame_equal(p.report[k], q.report[k])


def test_grids_without_microgrids_are_the_same_grids(layers, chain):
    p = gridplan.plan(
        layers["units"],
        communities=layers["communities"],
        rules=RULES,
        locks=LOCKS,
        seed=3,
        microgrids=False,
    )
    full = chain["plan"]
    assert len(p.microgrids) == 0 and (p.grids["n_microgrids"] == 0).all()
    assert_geodataframe_equal(
        p.grids.drop(columns="n_microgrids"), full.grids.drop(columns="n_microgrids")
    )
    assert p.units["microgrid_code"].isna().all()
    assert (p.diagnostics["level"] != "microgrid").all()


def test_merge_dedicated_false_keeps_one_dedicated_grid_per_polygon(layers):
    units = layers["units"]
    x0, y0, _, _ = units.total_bounds
    # two touching school polygons, each over one unit
    dedicated = gpd.GeoDataFrame(
        {"dedicated_id": ["d1", "d2"], "category": ["school", "school"], "name": ["a", "b"]},
        geometry=[
            box(x0 + 300, y0 + 300, x0 + 400, y0 + 400),
            box(x0 + 400, y0 + 300, x0 + 500, y0 + 400),
        ],
        crs=units.crs,
    )
    kw = {"communities": layers["communities"], "dedicated": dedicated}
    # each school is one home: left in its dedicated grid, so the grids show the merge
    keep = "dedicated"
    merged = gridplan.plan(
        units, **kw, rules=PlanRules(codes=RULES.codes, dedicated_residents=keep)
    )
    apart = gridplan.plan(
        units,
        **kw,
        rules=PlanRules(codes=RULES.codes, merge_dedicated=False, dedicated_residents=keep),
    )
    assert (merged.grids["kind"] == "dedicated").sum() == 1
    assert (apart.grids["kind"] == "dedicated").sum() == 2


# --- diagnostics -------------------------------------------------------------------------------


def _param_text(row) -> list[str]:
    """Every value a template may quote for this row: data, not template words."""
    vals = [row["community_id"], row["grid_code"], row["street_id"], *row["unit_ids"]]
    for v in row["params"].values():
        vals.extend(v if isinstance(v, list | tuple) else [v])
    return sorted((str(v) for v in vals if v is not None), key=len, reverse=True)


def test_the_plan_records_what_it_could_not_meet(chain):
    codes = set(chain["plan"].diagnostics["code"])
    assert {"unit_split", "locked_out_of_band"} <= codes


@pytest.mark.parametrize("interface", ["python", "cli", "app"])
def test_messages_in_chinese_have_no_english_words(chain, interface):
    table = dg.render_frame(chain["plan"].diagnostics, lang="zh", interface=interface)
    for row in table.to_dict("records"):
        text = row["message"]
        for v in _param_text(row):
            text = text.replace(v, " ")
        assert not re.search(r"[A-Za-z]{2,}", text), (row["code"], row["message"])
        assert re.search(r"[\u4e00-\u9fff]", row["message"])


def test_messages_in_english_have_no_chinese(chain):
    table = dg.render_frame(chain["plan"].diagnostics, lang="en", interface="cli")
    for m, f in zip(table["message"], table["fix"], strict=True):
        assert not re.search(r"[\u4e00-\u9fff]", m + f), m


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("interface", ["python", "cli", "app"])
def test_no_internal_grid_id_in_any_message(chain, lang, interface):
    table = dg.render_frame(chain["plan"].diagnostics, lang=lang, interface=interface)
    for text in [*table["message"], *table["fix"]]:
        assert not re.search(r"\bG\d{5}\b", text), text
        assert "?" not in text, text  # every field the templates quote was resolved


def test_split_building_row_names_the_grid_of_every_part(chain):
    gp, codes, plan = chain["grids"], chain["codes"], chain["plan"]
    (row,) = plan.diagnostics[plan.diagnostics["code"] == "unit_split"].to_dict("records")
    part_grids = gp.parts.loc[gp.parts["unit_id"] == BIG, "grid_id"]
    expected = [codes.grid[g] for g in dict.fromkeys(part_grids)]
    assert row["params"]["grids"] == ", ".join(expected)
    assert row["unit_ids"] == (BIG,)
    assert row["grid_code"] == plan.units.loc[BIG, "grid_code"]
    en = dg.render_frame(plan.diagnostics, lang="en")
    message = en.loc[en["code"] == "unit_split", "message"].iat[0]
    assert all(c in message for c in expected)


def test_fixes_suggest_only_bands_the_rules_accept(lattice_units):
    # C1: 11 x 50 = 550 households, between one grid and two; C2: 4 x 50 = 200, below the
    # floor. A suggested band must be one the rules accept and wider than the one in use:
    # never a ceiling below it, never a floor of 0
    units = lattice_units(11, 2, households=lambda r, c: 50 if r == 0 or c < 4 else 0)
    units = units[units["households"] > 0]
    units["community_id"] = np.where(units["row"] == 0, "C1", "C2")
    p = gridplan.plan(units, rules=RULES)
    d = p.diagnostics
    with_band = [r for r in d.to_dict("records") if "lo_fix" in r["params"]]
    assert with_band, d[["code", "households"]]
    lo, hi = RULES.grid.min_households, RULES.grid.max_households
    for r in with_band:
        lo_fix, hi_fix = r["params"]["lo_fix"], r["params"]["hi_fix"]
        GridRules(min_households=lo_fix, max_households=hi_fix)  # the rules accept it
        assert 1 <= lo_fix <= lo and hi_fix >= hi, r
        assert lo_fix < lo or hi_fix > hi, r  # and it changes something
    cli = dg.render_frame(d, lang="en", interface="cli")
    app = dg.render_frame(d, lang="zh", interface="app")
    assert cli["fix"].str.contains("--config").all()
    assert not cli["fix"].str.contains("GridRules").any()
    assert app["fix"].str.contains("侧栏").all()


# --- one chain, no cycle ----------------------------------------------------------------------

#: modules whose imports this suite vouches for
OWN = (
    "pipeline",
    "stages",
    "distributed",
    "partition.grids",
    "partition.microgrids",
    "cli",
    "report",
)


def _imports(module: str) -> list[tuple[str, list[str]]]:
    """(gridplan module imported, names imported) for every import in ``module``, at any depth."""
    path = PACKAGE / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = module.split(".")[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = pkg[: len(pkg) - node.level + 1] if node.level > 1 else pkg
            target = ".".join([*base, node.module] if node.module else base)
            names = [a.name for a in node.names]
            if not node.module:  # "from . import x": x is a module
                out.extend((".".join([*base, n]), []) for n in names)
            else:
                out.append((target, names))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gridplan."):
            out.append((node.module[len("gridplan.") :], [a.name for a in node.names]))
    return out


def test_no_private_name_crosses_into_or_out_of_the_chain():
    for module in OWN:
        for target, names in _imports(module):
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            assert not private, f"{module} imports {private} from {target}"


def test_the_chain_has_no_import_cycle():
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        mod = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        if mod.endswith("__init__"):
            continue
        graph[mod] = {t for t, _ in _imports(mod)}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), list(graph.get(start, ()))
        while todo:
            m = todo.pop()
            if m == goal:
                return True
            if m not in seen:
                seen.add(m)
                todo.extend(graph.get(m, ()))
        return False

    for module in OWN:
        assert not reaches(module, module), f"{module} imports itself through its imports"
    assert "pipeline" not in graph["distributed"] and "stages" in graph["distributed"]


def test_the_dask_merge_runs_the_one_process_tail():
    # the merged parts go through the same code, apportionment and assembly stages: the
    # distributed module numbers nothing and builds no report of its own
    names = {t: n for t, n in _imports("distributed")}
    assert {"assign_codes", "apportion", "assemble"} <= set(names["stages"])
    src = (PACKAGE / "distributed.py").read_text(encoding="utf-8")
    for copy in ("grid_codes(", "microgrid_codes(", "plan_report(", "re.sub("):
        assert copy not in src, copy


def test_grids_only_is_a_one_process_plan(layers):
    with pytest.raises(ValueError, match="engine='single'"):
        gridplan.plan(layers["units"], engine="dask", microgrids=False)


def test_float_and_text_community_ids_name_the_same_community():
    """A community id read as 12.0 (a spreadsheet's number) and as "12" (text) are one
    community: the units keep their community, its code and the grids' codes."""
    units = make_lattice_units(10, 5)
    x0, y0, x1, y1 = units.total_bounds
    mid = (x0 + x1) / 2
    units["community_id"] = np.where(units["col"] < 5, 12.0, 13.0)
    as_text = gpd.GeoDataFrame(
        {"community_id": ["12", "13"]},
        geometry=[box(x0, y0, mid, y1), box(mid, y0, x1, y1)],
        crs=units.crs,
    )
    as_float = as_text.assign(community_id=[12.0, 13.0])
    by_text = gridplan.plan(units, communities=as_text, rules=RULES)
    by_float = gridplan.plan(
        units.assign(community_id=units["community_id"].map(lambda v: str(int(v)))),
        communities=as_float,
        rules=RULES,
    )
    for p in (by_text, by_float):
        assert set(p.units["community_id"]) == {"12", "13"}
        west = p.units["col"] < 5
        assert set(p.units.loc[west, "community_id"]) == {"12"}
        assert p.grids.groupby("community_id")["households"].sum().to_dict() == {
            "12": 1000,
            "13": 1000,
        }
        assert not p.diagnostics["code"].isin(["unknown_community"]).any()
    pd.testing.assert_frame_equal(
        by_text.units[["community_id", "grid_code", "microgrid_code"]],
        by_float.units[["community_id", "grid_code", "microgrid_code"]],
    )
    assert by_text.grids["grid_code"].tolist() == by_float.grids["grid_code"].tolist()
