"""The Streamlit app through ``streamlit.testing.v1.AppTest``, and the upload/edit helpers it
calls (:mod:`gridplan.appsupport`).

The sample plan is cached by ``st.cache_data`` for the whole process, so only the first test
pays for planning it; each rule change or edit below re-plans once.
"""

from __future__ import annotations

import functools
import io
import json
import re
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from conftest import make_lattice_units
from streamlit.testing.v1 import AppTest

import gridplan
from gridplan import appsupport as sup
from gridplan import diagnostics
from gridplan.config import rules_from_dict
from gridplan.errors import Problem, ValidationError
from gridplan.i18n import column_label, sheet_label, t, value_label

APP = Path(__file__).resolve().parents[1] / "app.py"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "singapore_queenstown.gpkg"
SAMPLE_ROLES = ("units", "communities", "streets", "barriers")


@functools.cache
def _sample_plan() -> gridplan.Plan:
    """The plan the app opens with (same data, rules and seed, so the same codes)."""
    layers = {
        r: gridplan.read_layer(SAMPLE, layer=r) for r in ("communities", "streets", "barriers")
    }
    return gridplan.plan(gridplan.read_layer(SAMPLE, layer="units"), **layers)


def _start() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def _metrics(at: AppTest) -> dict[str, str]:
    """The plan's four headline figures (grid details below reuse some labels in English)."""
    return {m.label: m.value for m in at.metric[:4]}


def _texts(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in [*at.markdown, *at.caption, *at.subheader])


def _lattice_geojson(households_col: str = "户数") -> bytes:
    units = make_lattice_units(6, 6, households=40).rename(columns={"households": households_col})
    return units.to_crs(4326).to_json().encode("utf-8")


# ---------------------------------------------------------------------------------------------
# the app
# ---------------------------------------------------------------------------------------------


def test_sample_plan_opens_ready() -> None:
    at = _start()
    assert at.title[0].value == t("app_title", "zh")
    metrics = _metrics(at)
    assert metrics[t("households_total", "zh")] == "34,819"  # the sample's counted households
    assert int(metrics[t("grid_count", "zh")]) > 50
    grids = at.selectbox(key="grid")
    assert len(grids.options) == int(metrics[t("grid_count", "zh")])
    assert grids.value == _sample_plan().grids["grid_code"].iat[0]
    assert grids.options[0] == sup.grid_option(_sample_plan().grids.iloc[0], "zh")
    assert not at.error
    # grid details, report tables and downloads are there
    assert t("grid_details", "zh") in _texts(at)
    assert len(at.dataframe) >= 5
    assert at.get("download_button")


def test_rule_change_replans() -> None:
    at = _start()
    before = _metrics(at)
    at.number_input(key="r_gmax").set_value(450)
    at.button(key="run").click().run()
    _ok(at)
    after = _metrics(at)
    assert after[t("households_total", "zh")] == before[t("households_total", "zh")]
    assert int(after[t("grid_count", "zh")]) > int(before[t("grid_count", "zh")])
    assert "300–450" in _texts(at)


def test_invalid_rules_are_reported() -> None:
    at = _start()
    at.number_input(key="r_gmin").set_value(600)  # above the maximum of 500
    at.button(key="run").click().run()
    _ok(at)
    assert at.error and t("rules_invalid", "zh") in at.error[0].value
    # named by the sidebar's widgets, in Chinese, with the figures given
    message = at.dataframe[0].value[column_label("message", "zh")].iat[0]
    assert t("grid_min", "zh") in message and t("grid_max", "zh") in message
    assert "600" in message and "500" in message
    assert not re.search(r"[A-Za-z]", message), message


def test_language_switch() -> None:
    at = _start()
    assert at.title[0].value == "社区网格规划"
    at.toggle(key="lang_en").set_value(True).run()
    _ok(at)
    assert at.title[0].value == "Community grid planning"
    assert "Households" in _metrics(at)
    assert at.tabs[0].label == "Map"


def test_basemap_choices() -> None:
    at = _start()
    at.selectbox(key="basemap").set_value("tianditu").run()
    _ok(at)
    assert any(t("tianditu_needs_key", "zh") in w.value for w in at.warning)
    at.text_input(key="tk").set_value("0123456789abcdef").run()
    _ok(at)
    assert not any(t("tianditu_needs_key", "zh") in w.value for w in at.warning)
    at.selectbox(key="basemap").set_value("gaode").run()
    _ok(at)
    assert t("gaode_note", "zh") in _texts(at)
    at.toggle(key="show_micro").set_value(True)
    at.selectbox(key="community").set_value(at.selectbox(key="community").options[1]).run()
    _ok(at)


def _grid_options(at: AppTest) -> dict[str, str]:
    """The grid list as shown, by code (all communities)."""
    return {o.split(" ")[0]: o for o in at.selectbox(key="grid").options}


def test_lock_move_undo() -> None:
    at = _start()
    locked = t("locked_grids", "zh", n=0)
    assert locked in _texts(at)
    grid = at.selectbox(key="grid").value
    before = _grid_options(at)
    assert grid in before

    at.button(key="lock").click().run()
    _ok(at)
    assert t("locked_grids", "zh", n=1) in _texts(at)
    # locking re-plans nothing: the same grid under the same code, every grid as it was
    assert at.selectbox(key="grid").value == grid
    assert _grid_options(at) == before
    assert at.button(key="unlock")  # the grid now shows as locked

    # move a unit of a neighbouring grid (not the locked one) into another neighbour
    p = _sample_plan()
    source = next(
        c
        for c in sup.movable_targets(p, grid)
        if [x for x in sup.movable_targets(p, c) if x != grid]
    )
    at.selectbox(key="grid").set_value(source).run()
    _ok(at)
    moving = at.multiselect(key="move_units")
    # units are listed by address (105 QUEENSWAY · 96 户), not by id
    in_grid = sup.grid_units(p, source)
    assert moving.options[0] == t(
        "unit_option", "zh", name=in_grid["name"].iat[0], hh=in_grid["households"].iat[0]
    )
    unit = in_grid["unit_id"].iat[0]
    moving.set_value([unit]).run()
    _ok(at)
    target_box = at.selectbox(key="move_target")
    target = next(c for c in (o.split(" ")[0] for o in target_box.options) if c != grid)
    target_box.set_value(target).run()
    _ok(at)
    preview = next(d for d in at.dataframe if "调整后" in d.value)
    table = preview.value
    assert list(table["网格"]) == [source, target]
    assert int(table["调整前"].sum()) == int(table["调整后"].sum())  # households conserved

    at.button(key="apply_move").click().run()
    _ok(at)
    skipped = t("edits_skipped", "zh", n=1, edits="").split("（")[0]
    assert not any(skipped in w.value for w in at.warning)  # the move applied
    assert t("locked_grids", "zh", n=3) in _texts(at)  # the locked grid, source and target
    after = _grid_options(at)
    # only the moved unit's community was re-planned: the locked grid keeps its code and
    # households, and every grid of the other communities is listed as before
    assert after[grid] == before[grid]
    community = p.grids.set_index("grid_code").loc[grid, "community_id"]
    others = set(p.grids.loc[p.grids["community_id"] != community, "grid_code"])
    assert {c: after.get(c) for c in others} == {c: before[c] for c in others}
    # the selection is the target grid, which now holds the unit; the move's choices are
    # cleared, so no preview offers to move it back
    assert at.selectbox(key="grid").value == target
    assert at.button(key="unlock")
    assert at.multiselect(key="move_units").value == []
    assert not any(d for d in at.dataframe if "调整后" in d.value)
    name = in_grid["name"].iat[0]
    assert any(o.startswith(f"{name} · ") for o in at.multiselect(key="move_units").options)
    assert t("edit_move", "zh", n=1, code=target) in _texts(at)

    # picking the locked grid again shows it under its code, still locked
    at.selectbox(key="grid").set_value(grid).run()
    _ok(at)
    assert at.button(key="unlock")
    assert _grid_options(at)[grid] == before[grid]

    at.button(key="undo").click().run()
    _ok(at)
    assert t("locked_grids", "zh", n=1) in _texts(at)
    assert _grid_options(at) == before
    at.button(key="undo").click().run()
    _ok(at)
    assert t("locked_grids", "zh", n=0) in _texts(at)
    assert at.button(key="undo").disabled


def test_reform_tab_compares_old_and_new_communities() -> None:
    assert sup.optional_module("reform") is not None, "gridplan.reform must import"
    at = _start()
    at.toggle(key="rf_run").set_value(True).run()
    _ok(at)
    assert not at.error
    metric, before, after = (column_label(c, "zh") for c in ("metric", "before", "after"))
    counts = next(d.value for d in at.dataframe if metric in d.value.columns)
    row = counts.set_index(metric)
    households = value_label("metric", "households", "zh")
    assert row.loc[households, before] == row.loc[households, after] == 34_819
    # metrics, headers and the communities table in Chinese
    assert not any(re.search(r"[A-Za-z]", str(m)) for m in counts[metric])
    table = next(d.value for d in at.dataframe if column_label("previous_code", "zh") in d.value)
    assert column_label("in_bounds", "zh") in table.columns


def test_upload_flow_with_column_mapping() -> None:
    at = _start()
    at.radio(key="source").set_value("upload").run()
    _ok(at)
    assert at.info and t("need_units", "zh") in at.info[0].value

    at.file_uploader(key="up_units").set_value(
        ("units.geojson", _lattice_geojson(), "application/geo+json")
    )
    at.run()
    _ok(at)
    # an upload alone plans nothing: the planner presses "run"
    assert not at.metric and t("press_run", "zh", run=t("run_plan", "zh")) in at.info[0].value
    at.button(key="run").click().run()
    _ok(at)
    # without the mapping, 户数 is not households: the validation report says so, naming the
    # mapping box in Chinese
    assert at.error and t("validation_failed", "zh", n=1)[:6] in at.error[0].value
    report = at.dataframe[0].value
    assert value_label("check", "missing_households", "zh") in report.to_string()

    at.text_area(key="columns").set_value("户数 = households").run()
    _ok(at)
    assert not at.metric  # a changed mapping waits for "run" too
    at.button(key="run").click().run()
    _ok(at)
    assert not at.error
    metrics = _metrics(at)
    assert metrics[t("households_total", "zh")] == f"{36 * 40:,}"
    assert int(metrics[t("grid_count", "zh")]) >= 3


# ---------------------------------------------------------------------------------------------
# upload helpers
# ---------------------------------------------------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("bad", ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt", "C:/x.txt"])
def test_zip_members_cannot_leave_the_folder(tmp_path: Path, bad: str) -> None:
    data = _zip({"ok.txt": b"fine", bad: b"pwned"})
    with pytest.raises(ValidationError, match="a path outside the archive"):
        sup.safe_extract_zip(data, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not (tmp_path / "evil.txt").exists()


def test_zip_bombs_and_large_uploads_are_refused(tmp_path: Path) -> None:
    data = _zip({"big.bin": b"\0" * 2_000_000})
    with pytest.raises(ValidationError, match=r"unpacks to more than 1\.0 MB"):
        sup.safe_extract_zip(data, tmp_path, max_bytes=1_000_000)
    with pytest.raises(ValidationError, match="upload limit"):
        sup.check_upload_size("big.gpkg", b"\0" * 2_000_000, limit_mb=1)
    written = sup.safe_extract_zip(_zip({"a/b.txt": b"x"}), tmp_path / "ok")
    assert [p.read_bytes() for p in written] == [b"x"]


def test_zipped_shapefile_upload(tmp_path: Path) -> None:
    units = make_lattice_units(3, 2, households=45)
    shp = tmp_path / "shp"
    shp.mkdir()
    units.to_file(shp / "楼栋.shp", encoding="utf-8")
    members = {p.name: p.read_bytes() for p in shp.iterdir()}
    data = _zip({f"export/{k}": v for k, v in members.items()})
    assert sup.upload_layers("buildings.zip", data) == ["楼栋"]
    gdf = sup.read_upload(sup.Upload("units", "buildings.zip", data), workdir=tmp_path / "w")
    assert len(gdf) == 6 and int(gdf["households"].sum()) == 270


def test_gpkg_layers_csv_and_errors(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[1] / "data" / "singapore_queenstown.gpkg"
    data = sample.read_bytes()
    assert {"units", "communities", "barriers", "streets"} <= set(
        sup.upload_layers(sample.name, data)
    )
    comms = sup.read_upload(
        sup.Upload("communities", "../../x/" + sample.name, data, layer="communities"),
        workdir=tmp_path,
    )
    assert len(comms) == 15
    assert not list(tmp_path.parent.glob("x"))  # the name's folders were dropped
    csv = "楼号,户数,经度,纬度\n1,120,112.55,37.80\n2,96,112.551,37.80\n".encode()
    pts = sup.read_upload(sup.Upload("units", "楼栋.csv", csv), workdir=tmp_path)
    assert pts.crs.to_epsg() == 4326 and list(pts["户数"]) == [120, 96]
    with pytest.raises(ValidationError, match="unknown file type"):
        sup.read_upload(sup.Upload("units", "notes.docx", b"x"), workdir=tmp_path)
    with pytest.raises(ValidationError) as err:
        sup.plan_from_uploads([sup.Upload("barriers", "b.csv", csv)], rules=gridplan.PlanRules())
    assert "no units layer" in str(err.value)
    table = sup.problems_table(err.value)
    assert list(table.columns) == ["layer", "check", "message", "rows"]


def test_parse_columns() -> None:
    assert sup.parse_columns("户数 = households\n# note\n\n楼号 -> unit_id\n人口：population") == {
        "户数": "households",
        "楼号": "unit_id",
        "人口": "population",
    }
    with pytest.raises(ValidationError, match="source = target"):
        sup.parse_columns("just a word")


# ---------------------------------------------------------------------------------------------
# edit helpers on a small plan
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_plan() -> gridplan.Plan:
    return gridplan.plan(make_lattice_units(6, 6, households=40))


def test_edits_replan_one_community_and_keep_codes() -> None:
    p = _sample_plan()
    g = p.grids
    community = g["community_id"].iat[0]
    mine = g[g["community_id"] == community]
    code = mine["grid_code"].iat[0]
    locked, skipped = sup.apply_edits(p, [("lock", code)])
    assert not skipped
    row = locked.grids.set_index("grid_code").loc[code]
    assert bool(row["locked"])
    # a lock changes no grid but its flag
    assert locked.grids.drop(columns="locked").equals(g.drop(columns="locked"))
    assert p.grids["locked"].sum() == 0  # the argument is not changed

    source = next(
        c for c in mine["grid_code"] if c != code and set(sup.movable_targets(p, c)) - {code}
    )
    target = sorted(set(sup.movable_targets(p, source)) - {code})[0]
    unit = sup.grid_units(p, source)["unit_id"].iat[0]
    moved, skipped = sup.apply_edits(locked, [("move", (unit,), target)])
    assert not skipped
    assert moved.units.loc[unit, "grid_code"] == target
    old, new = g.set_index("grid_code"), moved.grids.set_index("grid_code")
    # the locked grid keeps its code, units and geometry; the two grids of the move are locked
    assert new.loc[code].geometry.equals(old.loc[code].geometry)
    assert new.loc[code, "households"] == old.loc[code, "households"]
    assert bool(new.loc[source, "locked"]) and bool(new.loc[target, "locked"])
    hh = int(p.units.loc[unit, "households"])
    assert new.loc[target, "households"] == old.loc[target, "households"] + hh
    assert new.loc[source, "households"] == old.loc[source, "households"] - hh
    # every other community's grids and micro-grids are the input's rows
    keep = g["community_id"] != community
    assert (
        g[keep]
        .reset_index(drop=True)
        .equals(moved.grids[moved.grids["community_id"] != community].reset_index(drop=True))
    )
    assert int(moved.grids["households"].sum()) == int(g["households"].sum())

    # re-planning the community keeps the locked grids as they are
    again, skipped = sup.apply_edits(moved, [("replan", community)])
    assert not skipped
    new = again.grids.set_index("grid_code")
    for c in (code, source, target):
        assert new.loc[c].geometry.equals(moved.grids.set_index("grid_code").loc[c].geometry)
    # unlock all; edits naming grids or units the plan does not have are skipped, not applied
    free, skipped = sup.apply_edits(
        again, [("unlock_all",), ("lock", "999"), ("move", ("x",), code)]
    )
    assert not free.grids["locked"].any()
    assert skipped == [("lock", "999"), ("move", ("x",), code)]
    assert sup.edit_label(("move", ("a", "b"), code), "zh") == t("edit_move", "zh", n=2, code=code)


def test_edits_without_communities_keep_codes(small_plan: gridplan.Plan) -> None:
    # no communities layer: the one area is planned again with the plan as `previous`
    p = small_plan
    code = p.grids["grid_code"].iloc[0]
    locked, _ = sup.apply_edits(p, [("lock", code)])
    source = sup.movable_targets(p, code)[0]
    target = sorted(set(sup.movable_targets(p, source)) - {code})
    assert target, "the lattice has a third grid next to the source"
    unit = sup.grid_units(p, source)["unit_id"].iat[0]
    moved, skipped = sup.apply_edits(locked, [("move", (unit,), target[0])])
    assert not skipped
    assert moved.units.loc[unit, "grid_code"] == target[0]
    old, new = p.grids.set_index("grid_code"), moved.grids.set_index("grid_code")
    assert new.loc[code].geometry.equals(old.loc[code].geometry)
    assert bool(new.loc[code, "locked"])
    assert set(new.index) == set(old.index)
    assert int(new["households"].sum()) == int(old["households"].sum())


def test_move_preview_flags_broken_contiguity_and_band() -> None:
    # two locked strips of three 150-household squares: taking the middle square out of the
    # lower strip cuts it in two and pushes the upper one over 500 households
    units = make_lattice_units(3, 2, households=150)
    locks = {"u0": "A", "u1": "A", "u2": "A", "u3": "B", "u4": "B", "u5": "B"}
    p = gridplan.plan(units, locks=locks)
    lower = p.units.loc["u0", "grid_code"]
    upper = p.units.loc["u3", "grid_code"]
    assert sup.movable_targets(p, lower) == [upper]
    preview = sup.move_preview(p, ["u1"], upper)
    table = preview.table.set_index("grid")
    assert not bool(table.loc[lower, "contiguous"]) and bool(table.loc[upper, "contiguous"])
    assert list(table["after"]) == [300, 600]
    assert ("warn_not_contiguous", {"code": lower}) in preview.warnings
    assert ("warn_out_of_band", {"code": upper, "hh": 600, "lo": 300, "hi": 500}) in (
        preview.warnings
    )
    assert not preview.ok
    # an end square keeps both strips whole
    fine = sup.move_preview(p, ["u0"], upper).table
    assert fine["contiguous"].all()


def test_export_bytes_parse(small_plan: gridplan.Plan) -> None:
    assert sup.optional_module("export") is not None, "gridplan.export must import"
    data = json.loads(sup.export_bytes(small_plan, "geojson"))
    assert data["type"] == "FeatureCollection"
    assert {f["properties"]["grid_code"] for f in data["features"]} == set(
        small_plan.grids["grid_code"]
    )
    csv = sup.export_bytes(small_plan, "equivalency").decode("utf-8-sig")
    assert csv.splitlines()[0] == "unit_id,part,grid_code,microgrid_code,households"
    gpkg = sup.export_bytes(small_plan, "gpkg")
    assert gpkg[:15] == b"SQLite format 3"


def test_fingerprint_is_stable() -> None:
    a = sup.Upload("units", "a.geojson", b"123")
    assert sup.fingerprint(a, 1) == sup.fingerprint(sup.Upload("units", "a.geojson", b"123"), 1)
    assert sup.fingerprint(a, 1) != sup.fingerprint(sup.Upload("units", "a.geojson", b"124"), 1)
    assert np.all([len(sup.fingerprint(x)) == 16 for x in ("x", b"y", (1, 2))])


def test_dedicated_categories_from_upload(tmp_path: Path) -> None:
    units = make_lattice_units(2, 1, households=40)
    ded = units.assign(category=["school", "park"]).drop(columns=["households"])
    data = ded.to_json().encode()
    gdf = sup.read_upload(sup.Upload("dedicated", "d.geojson", data), workdir=tmp_path)
    assert isinstance(gdf, gpd.GeoDataFrame) and set(gdf["category"]) == {"school", "park"}
    upload = sup.Upload("dedicated", "d.geojson", data)
    assert sup.upload_categories(upload) == ["park", "school"]
    renamed = ded.rename(columns={"category": "类别"}).to_json().encode()
    upload = sup.Upload("dedicated", "d.geojson", renamed)
    assert sup.upload_categories(upload) == []
    assert sup.upload_categories(upload, columns={"类别": "category"}) == ["park", "school"]


# ---------------------------------------------------------------------------------------------
# diagnostics in the app's language and words
# ---------------------------------------------------------------------------------------------


def _latin_left(row: dict, text: str) -> list[str]:
    """ASCII words left in ``text`` once the row's own ids, codes and names are taken out."""
    keep = [
        str(row[c])
        for c in ("community_id", "street_id", "grid_code", "microgrid_code", "community_code")
        if row.get(c) is not None and str(row[c]) not in ("", "nan", "None", "<NA>")
    ]
    keep += [u for u in str(row.get("unit_ids") or "").split(";") if u]
    params = json.loads(row["params"]) if isinstance(row.get("params"), str) else {}
    # names from the data (barrier names, lock labels, units); never the coded words
    keep += [str(params[k]) for k in ("barrier", "label", "unit", "street", "names") if k in params]
    for k in sorted(keep, key=len, reverse=True):
        text = text.replace(k, "")
    return re.findall(r"[A-Za-z]+", text)


def _diagnostics_shown(at: AppTest, lang: str = "zh") -> list:
    message = column_label("message", lang)
    return [d.value for d in at.dataframe if message in d.value.columns]


def test_chinese_app_shows_diagnostics_in_chinese() -> None:
    at = _start()
    # a band the sample cannot meet everywhere: out-of-band pieces and their fixes
    at.number_input(key="r_gmin").set_value(480)
    at.number_input(key="r_gmax").set_value(500)
    at.button(key="run").click().run()
    _ok(at)
    tables = _diagnostics_shown(at)
    assert tables, "no diagnostics table shown"
    full = max(tables, key=len)
    assert len(full) > 0
    assert all(re.search(r"[\u4e00-\u9fff]", str(h)) for h in full.columns), list(full.columns)
    # back to machine names to read the row's ids
    names = {column_label(c, "zh"): c for c in diagnostics.COLUMNS}
    rows = full.rename(columns=names).to_dict("records")
    # "plan": the note that codes start with 000000 (the sample has no county code)
    levels = {value_label("level", v, "zh") for v in ("grid", "unit", "plan")}
    assert {r["level"] for r in rows} <= levels
    for row in rows:
        for col in ("message", "fix"):
            assert not _latin_left(row, str(row[col])), (row["code"], row[col])
        assert "--" not in row["fix"] and "Rules(" not in row["fix"]
    assert any("侧栏" in r["fix"] and t("grid_min", "zh") in r["fix"] for r in rows)
    # the English app words them in English, naming the same widgets
    at.toggle(key="lang_en").set_value(True).run()
    _ok(at)
    en = max(_diagnostics_shown(at, "en"), key=len)
    assert any(t("grid_min", "en") in f for f in en[column_label("fix", "en")])


def test_reform_tab_shows_its_diagnostics_in_the_app_language() -> None:
    at = _start()
    at.number_input(key="rf_target").set_value(2)
    at.toggle(key="rf_run").set_value(True).run()
    _ok(at)
    assert not at.error
    tables = [
        d.value
        for d in at.dataframe
        if column_label("message", "zh") in d.value.columns
        and d.value[column_label("code", "zh")].astype(str).str.startswith("reform_").any()
    ]
    assert tables
    rows = (
        tables[0]
        .rename(columns={column_label(c, "zh"): c for c in diagnostics.COLUMNS})
        .to_dict("records")
    )
    target = [r for r in rows if r["code"] == "reform_target_count"]
    assert target and t("community_target", "zh") in target[0]["fix"]
    for row in rows:
        assert not _latin_left(row, str(row["message"])), row["message"]


@pytest.fixture(scope="module")
def tight_plan() -> gridplan.Plan:
    # 1,440 households make no whole number of grids of 300-340: four are too big, five too small
    rules = gridplan.PlanRules(grid=gridplan.GridRules(min_households=300, max_households=340))
    return gridplan.plan(make_lattice_units(6, 6, households=40), rules=rules)


def test_downloads_write_diagnostics_in_the_app_language(tight_plan, tmp_path) -> None:
    assert len(tight_plan.diagnostics)
    path = tmp_path / "plan.gpkg"
    path.write_bytes(sup.export_bytes(tight_plan, "gpkg", lang="zh"))
    layer = pyogrio.read_dataframe(path, layer="diagnostics", read_geometry=False)
    assert layer["message"].str.contains(r"[\u4e00-\u9fff]").all()
    assert (
        layer["fix"].str.contains("侧栏").any() and not layer["fix"].str.contains("GridRules").any()
    )
    # machine columns stay: the layer reads back into records
    assert len(diagnostics.records(layer)) == len(tight_plan.diagnostics)
    xlsx = tmp_path / "report.xlsx"
    xlsx.write_bytes(sup.export_bytes(tight_plan, "report_xlsx", lang="en"))
    sheet = pd.read_excel(xlsx, sheet_name=sheet_label("diagnostics", "en"))
    assert not sheet[column_label("message", "en")].str.contains(r"[\u4e00-\u9fff]").any()
    assert sheet[column_label("fix", "en")].str.contains(t("grid_min", "en")).any()


def test_chinese_workbook_has_chinese_sheets_and_headers(tight_plan, tmp_path) -> None:
    xlsx = tmp_path / "report.xlsx"
    xlsx.write_bytes(sup.export_bytes(tight_plan, "report_xlsx", lang="zh"))
    sheets = pd.read_excel(xlsx, sheet_name=None)
    assert sheet_label("grids", "zh") in sheets and sheet_label("totals", "zh") in sheets
    for name, sheet in sheets.items():
        assert not re.search(r"[A-Za-z]", name), name
        for header in sheet.columns:
            assert re.search(r"[\u4e00-\u9fff]", str(header)), (name, header)
    grids = sheets[sheet_label("grids", "zh")]
    kinds = set(grids[column_label("kind", "zh")])
    assert kinds <= {value_label("kind", k, "zh") for k in ("residential", "dedicated")}
    # residents are whole people in the workbook
    residents = grids[column_label("residents", "zh")]
    assert (residents == residents.round()).all()
    # every grid's households are there
    assert grids[column_label("households", "zh")].sum() == 1440


def test_share_text_never_rounds_up_to_full() -> None:
    assert sup.share_text(0.997) == "99.7%"
    assert sup.share_text(0.9999) == "99.9%"
    assert sup.share_text(1.0) == "100%"
    assert sup.share_text(0.976744) == "97.6%"
    assert sup.share_text(float("nan")) == "–"


def test_problems_in_chinese_name_no_server_paths() -> None:
    exc = ValidationError(
        [
            Problem(
                "units",
                "not_a_file",
                "cannot read '/tmp/gridplan-abc123/units/楼栋.gpkg' (pyogrio DataSourceError: x)",
            ),
            Problem("units", "invalid_geometry", "ids 4 are invalid; pass fix_invalid=True"),
            Problem("dedicated", "some_new_check", "something in English"),
        ]
    )
    zh = sup.problems_table(exc, "zh")
    for message in zh["message"]:
        assert "/tmp" not in message and "fix_invalid" not in message
    assert t("fix_invalid", "zh") in zh["message"].iat[1]
    assert zh["layer"].iat[0] == value_label("layer", "units", "zh")
    assert not re.search(r"[A-Za-z]", zh["message"].iat[1])
    en = sup.problems_table(exc, "en")
    assert "/tmp" not in en["message"].iat[0] and "楼栋.gpkg" in en["message"].iat[0]
    assert "pyogrio" not in en["message"].iat[0]


def test_diagnostics_view_labels_headers_and_values(tight_plan) -> None:
    view = sup.diagnostics_view(tight_plan.diagnostics, "zh", columns=["level", "message"])
    assert list(view.columns) == [column_label("level", "zh"), column_label("message", "zh")]
    assert set(view[column_label("level", "zh")]) <= {
        value_label("level", v, "zh") for v in ("grid", "unit", "microgrid", "plan")
    }


def test_validation_advice_names_the_checkbox() -> None:
    exc = ValidationError(
        [
            Problem(
                "units", "invalid_geometry", "ids 4 have invalid geometry; pass fix_invalid=True."
            )
        ]
    )
    message = sup.problems_table(exc)["message"].iat[0]
    assert t("fix_invalid", "en") in message and "fix_invalid=True" not in message


# ---------------------------------------------------------------------------------------------
# issue 19 items 1, 4, 5: state that survives, Chinese throughout, true figures
# ---------------------------------------------------------------------------------------------


def _upload_units(at: AppTest) -> None:
    at.radio(key="source").set_value("upload").run()
    at.file_uploader(key="up_units").set_value(
        ("units.geojson", _lattice_geojson(), "application/geo+json")
    )
    at.text_area(key="columns").set_value("户数 = households")
    at.button(key="run").click().run()
    _ok(at)


def test_uploads_and_mapping_survive_source_and_language_switch() -> None:
    at = _start()
    _upload_units(at)
    uploaded = _metrics(at)
    assert uploaded[t("households_total", "zh")] == f"{36 * 40:,}"

    at.radio(key="source").set_value("sample").run()
    _ok(at)
    assert _metrics(at)[t("households_total", "zh")] == "34,819"
    at.radio(key="source").set_value("upload").run()
    _ok(at)
    # the file and the mapping are still there: the same plan, no need to upload again
    assert at.text_area(key="columns").value == "户数 = households"
    assert any(t("upload_kept", "zh", name="units.geojson") == c.value for c in at.caption)
    assert _metrics(at) == uploaded

    # a language switch keeps the data source, the upload and the plan
    at.toggle(key="lang_en").set_value(True).run()
    _ok(at)
    assert at.radio(key="source").value == "upload"
    assert _metrics(at)[t("households_total", "en")] == f"{36 * 40:,}"
    at.toggle(key="lang_en").set_value(False).run()
    _ok(at)
    assert _metrics(at) == uploaded

    # removing the kept file leaves nothing to plan
    at.button(key="drop_units").click().run()
    _ok(at)
    assert at.info and t("need_units", "zh") in at.info[0].value


def test_language_switch_keeps_basemap_rules_and_source() -> None:
    at = _start()
    at.selectbox(key="basemap").set_value("none").run()
    at.number_input(key="r_gmax").set_value(450)
    at.button(key="run").click().run()
    _ok(at)
    grids = _metrics(at)[t("grid_count", "zh")]
    for english in (True, False, True, False):
        at.toggle(key="lang_en").set_value(english).run()
        _ok(at)
        assert at.selectbox(key="basemap").value == "none"
        assert at.number_input(key="r_gmax").value == 450
        assert at.radio(key="source").value == "sample"
        lang = "en" if english else "zh"
        assert _metrics(at)[t("grid_count", lang)] == grids
    # the subtitle gives the rules in force
    assert t("app_caption_rules", "zh", glo=300, ghi=450, mlo=30, mhi=50) in _texts(at)


#: words that may appear in the Chinese UI: formats, coordinate systems, data sources, names
_ALLOWED_LATIN = re.compile(
    r"GeoPackage|GeoJSON|RFC|CSV|XLSX|Excel|Shapefile|zip|OpenStreetMap|WGS|GCJ|BD|GPS|CDN|"
    r"English|HDB|URA|SLA|tk|MB|PDF|KML|GBK|CGCS|EPSG|OSM|Leaflet|[0-9A-Z]{1,3}\b"
)


def _latin_words(text: str) -> list[str]:
    text = re.sub(r"\b[A-Za-z_]*\d[\w-]*", "", text)  # ids and codes from the data (QTSZ01)
    return [w for w in re.findall(r"[A-Za-z][A-Za-z_]+", _ALLOWED_LATIN.sub("", text))]


def test_chinese_ui_shows_no_english() -> None:
    at = _start()
    at.toggle(key="rf_run").set_value(True).run()
    _ok(at)
    shown = [
        *(e.value for e in [*at.markdown, *at.caption, *at.subheader, *at.title, *at.info]),
        *(m.label for m in at.metric),
        *(str(m.value) for m in at.metric),
        *(tab.label for tab in at.tabs),
        *(w.label for w in [*at.selectbox, *at.number_input, *at.text_input, *at.toggle]),
        *(str(o) for w in at.selectbox if w.key != "grid" for o in w.options),
        *(b.label for b in at.button),
        *(e.label for e in at.expander),
    ]
    leaks = {s: _latin_words(s) for s in shown if _latin_words(str(s))}
    assert not leaks, leaks
    for frame in at.dataframe:
        for header in frame.value.columns:
            assert re.search(r"[\u4e00-\u9fff]", str(header)), header
    # shares are cut, not rounded up; residents are whole people
    summary = next(
        d.value for d in at.dataframe if column_label("in_band_share", "zh") in d.value.columns
    )
    share = summary[column_label("in_band_share", "zh")].iat[0]
    assert share == sup.share_text(0.976744) == "97.6%"
    assert _metrics(at)[t("in_band_share", "zh")] == "97.6%"
    residents = summary[column_label("residents", "zh")].iat[0]
    assert float(residents) == round(float(residents))


def test_extra_layers_wait_for_run_and_capacity_is_checked_up_front() -> None:
    at = _start()
    _upload_units(at)
    planned = _metrics(at)
    assert planned[t("households_total", "zh")] == f"{36 * 40:,}"
    # a second layer does not re-plan by itself
    barrier = gpd.GeoDataFrame(
        {"name": ["河"]},
        geometry=gpd.GeoSeries.from_wkt(["LINESTRING (0 -10, 0 1000)"], crs=3857),
    ).to_crs(4326)
    at.file_uploader(key="up_barriers").set_value(
        ("river.geojson", barrier.to_json().encode(), "application/geo+json")
    )
    at.run()
    _ok(at)
    assert not at.metric and t("press_run", "zh", run=t("run_plan", "zh")) in at.info[0].value
    at.button(key="run").click().run()
    _ok(at)
    assert _metrics(at)[t("households_total", "zh")] == f"{36 * 40:,}"

    # an island's worth of households in one community: refused at once, in Chinese, saying
    # what to upload
    big = make_lattice_units(6, 6, households=20_000).to_crs(4326).to_json().encode()
    at.file_uploader(key="up_units").set_value(("island.geojson", big, "application/geo+json"))
    at.text_area(key="columns").set_value("")
    at.button(key="run").click().run()
    _ok(at)
    assert at.error
    table = at.dataframe[0].value
    message = table[column_label("message", "zh")].iat[0]
    assert message.startswith(
        t(
            "problem_zh",
            "zh",
            layer=value_label("layer", "communities", "zh"),
            what=value_label("check", "community_capacity", "zh"),
        )
    )
    assert "(none)" not in message
    assert t("role_streets", "zh")[:2] in message or "社区边界" in message


# ---------------------------------------------------------------------------------------------
# issue 19 items 3, 8, 9: dedicated grids, navigation, editing
# ---------------------------------------------------------------------------------------------


def test_community_filter_filters_the_grid_list() -> None:
    at = _start()
    plan = _sample_plan()
    community = at.selectbox(key="community").options[2]
    at.selectbox(key="community").set_value(community).run()
    _ok(at)
    grids = at.selectbox(key="grid")
    mine = plan.grids[plan.grids["community_id"].astype(str) == community]
    assert len(grids.options) == len(mine) < len(plan.grids)
    assert grids.value in set(mine["grid_code"])
    # picking a grid of another community (as a map click would) brings its community along
    other = plan.grids[plan.grids["community_id"].astype(str) != community].iloc[0]
    at.session_state["clicked_tooltip"] = f"网格 {other['grid_code']} 户数 {other['households']}"
    at.run()
    _ok(at)
    assert at.selectbox(key="community").value == str(other["community_id"])
    assert at.selectbox(key="grid").value == other["grid_code"]


def test_grid_units_count_each_part_in_its_grid() -> None:
    plan = _sample_plan()
    split = plan.unit_parts.groupby("unit_id")["grid_code"].nunique()
    split = split[split > 1]
    for code, hh in zip(plan.grids["grid_code"], plan.grids["households"], strict=True):
        units = sup.grid_units(plan, code)
        assert int(units["households"].sum()) == int(hh), code  # nothing lost, nothing twice
        assert (units["households"] <= units["unit_households"]).all()
    if len(split):
        uid = split.index[0]
        code = plan.unit_parts.loc[plan.unit_parts["unit_id"] == uid, "grid_code"].iat[0]
        row = sup.grid_units(plan, code).set_index("unit_id").loc[uid]
        assert bool(row["split"]) and row["households"] < row["unit_households"]
    # names, not ids: Queenstown blocks read "<block> <street>"
    first = sup.grid_units(plan, plan.grids["grid_code"].iat[0])
    assert first["name"].str.contains(" ").all()


def test_unit_names_prefer_name_address_then_block() -> None:
    units = pd.DataFrame(
        {
            "name": ["阳光小区3号楼", None, None, None],
            "address": [None, "迎泽大街1号", None, None],
            "blk_no": [None, None, "105", None],
            "street": [None, None, "QUEENSWAY", None],
        },
        index=["w1", "w2", "w3", "w4"],
    )
    assert list(sup.unit_names(units)) == ["阳光小区3号楼", "迎泽大街1号", "105 QUEENSWAY", "w4"]


def _dedicated_upload(at: AppTest) -> None:
    units = make_lattice_units(6, 6, households=40)
    school = gpd.GeoDataFrame(
        {"category": ["institution_school"], "name": ["实验小学"]},
        geometry=[units.geometry.iloc[[0, 1, 6, 7]].union_all().buffer(1)],
        crs=units.crs,
    )
    at.radio(key="source").set_value("upload").run()
    at.file_uploader(key="up_units").set_value(
        ("units.geojson", units.to_crs(4326).to_json().encode(), "application/geo+json")
    )
    at.file_uploader(key="up_dedicated").set_value(
        ("school.geojson", school.to_crs(4326).to_json().encode(), "application/geo+json")
    )
    at.run()
    at.selectbox(key="r_homes").set_value("dedicated")
    at.button(key="run").click().run()
    _ok(at)


def test_dedicated_grids_show_their_households_as_exempt() -> None:
    at = _start()
    _dedicated_upload(at)
    assert not at.error, [e.value for e in at.error]
    # the plan-wide warning: dedicated grids hold homes outside the band
    warn = [w.value for w in at.warning if "专属网格" in w.value]
    assert warn and "160" in warn[0], [w.value for w in at.warning]
    grids = at.selectbox(key="grid")
    dedicated = [o for o in grids.options if o.endswith("专属网格")]
    assert len(dedicated) == 1
    code = dedicated[0].split(" · ")[0]
    grids.set_value(code).run()
    _ok(at)
    details = _texts(at)
    assert value_label("band_status", "exempt", "zh") in details
    assert value_label("band_status", "in_band", "zh") not in details.split(code)[-1][:60]
    exempt = t(
        "dedicated_exempt",
        "zh",
        hh="160",
        category=value_label("category", "institution_school", "zh"),
    )
    assert any(w.value == exempt for w in at.warning)
    # the category choice shows the category in Chinese
    cats = at.multiselect(key="r_cats")
    assert cats.options == [value_label("category", "institution_school", "zh")]


# ---------------------------------------------------------------------------------------------
# issue 19 item 10: search, per-community files, exports, template, detected columns
# ---------------------------------------------------------------------------------------------


def test_search_finds_blocks_and_selects_their_grid() -> None:
    plan = _sample_plan()
    hits = sup.search(plan, "dover")
    assert len(hits) and hits["name"].str.contains("DOVER").all()
    assert set(hits["grid_code"]) <= set(plan.grids["grid_code"])
    assert sup.search(plan, "   ").empty
    at = _start()
    at.text_input(key="search").set_value("dover").run()
    _ok(at)
    pick = at.selectbox(key="search_pick")
    assert len(pick.options) == len(hits)
    pick.set_value(1).run()
    _ok(at)
    assert at.selectbox(key="grid").value == hits["grid_code"].iat[1]
    # the filter opens to every community so the found grid is in the list
    assert at.selectbox(key="community").value is None


def test_shapefile_kml_and_community_files(small_plan: gridplan.Plan, tmp_path: Path) -> None:
    data = sup.shapefile_zip(small_plan)
    assert data == sup.shapefile_zip(small_plan)  # same plan, same bytes
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.read("grids.cpg") == b"GBK"
        zf.extractall(tmp_path / "shp")
    grids = gpd.read_file(tmp_path / "shp" / "grids.shp")
    assert set(grids["grid_code"]) == set(small_plan.grids["grid_code"])
    assert grids["households"].sum() == small_plan.grids["households"].sum()
    assert set(grids["kind"]) == {value_label("kind", "residential", "zh")}
    micro = gpd.read_file(tmp_path / "shp" / "microgrids.shp")
    assert len(micro) == len(small_plan.microgrids)

    kml = sup.kml_bytes(small_plan).decode("utf-8")
    assert kml.count("<Placemark>") == len(small_plan.grids)
    for code in small_plan.grids["grid_code"]:
        assert f"<name>{code}</name>" in kml
    lon, lat = map(float, re.search(r"<coordinates>([^ <]+)", kml).group(1).split(","))
    ref = small_plan.grids.to_crs(4326).total_bounds
    assert ref[0] - 1e-5 <= lon <= ref[2] + 1e-5 and ref[1] - 1e-5 <= lat <= ref[3] + 1e-5

    community = str(small_plan.grids["community_id"].iat[0])
    with zipfile.ZipFile(io.BytesIO(sup.community_zip(small_plan, community))) as zf:
        names = set(zf.namelist())
        assert names == {"grids.geojson", "microgrids.geojson", "equivalency.csv", "grids.xlsx"}
        eq = pd.read_csv(io.BytesIO(zf.read("equivalency.csv")), encoding="utf-8-sig")
        mine = small_plan.grids[small_plan.grids["community_id"].astype(str) == community]
        assert eq["households"].sum() == mine["households"].sum()


def test_column_detection_template_and_one_click_apply(tmp_path: Path) -> None:
    assert sup.detect_columns(["楼号", "户数", "人口", "小区编号"]) == {
        "楼号": "unit_id",
        "户数": "households",
        "人口": "population",
        "小区编号": "compound_id",
    }
    # the template's headers are all recognised
    path = tmp_path / "template.xlsx"
    path.write_bytes(sup.data_template())
    sheet = pd.read_excel(path, sheet_name=0)
    detected = sup.detect_columns(list(sheet.columns))
    assert {"households", "unit_id", "compound_id", "population"} <= set(detected.values())

    at = _start()
    at.radio(key="source").set_value("upload").run()
    at.file_uploader(key="up_units").set_value(
        ("units.geojson", _lattice_geojson(), "application/geo+json")
    )
    at.run()
    _ok(at)
    assert any(t("apply_detected", "zh") == b.label for b in at.button)
    at.button(key="apply_detected").click().run()
    _ok(at)
    assert "户数 = households" in at.text_area(key="columns").value
    at.button(key="run").click().run()
    _ok(at)
    assert not at.error
    assert _metrics(at)[t("households_total", "zh")] == f"{36 * 40:,}"
    # the downloads tab offers the new formats, per community and printing
    labels = {b.label for b in at.get("download_button")}
    assert {t("download_shapefile", "zh"), t("download_kml", "zh")} <= labels
    assert any(b.label == t("print_make", "zh") for b in at.button)


def test_saved_plan_reopens_with_its_codes(small_plan: gridplan.Plan) -> None:
    saved = sup.export_bytes(small_plan, "gpkg")
    ups = sup.saved_plan_uploads(sup.Upload("plan", "plan.gpkg", saved))
    assert ups[0].role == "units"
    at = _start()
    at.radio(key="source").set_value("plan").run()
    at.file_uploader(key="up_plan").set_value(("plan.gpkg", saved, "application/octet-stream"))
    at.button(key="run").click().run()
    _ok(at)
    assert not at.error, [e.value for e in at.error]
    assert _metrics(at)[t("households_total", "zh")] == f"{36 * 40:,}"
    assert set(at.selectbox(key="grid").options) == {
        sup.grid_option(r, "zh") for _, r in small_plan.grids.iterrows()
    }
    # not a plan file: one clear message in Chinese
    with pytest.raises(ValidationError):
        sup.saved_plan_uploads(sup.Upload("plan", "x.geojson", _lattice_geojson()))


def test_roster_upload_lists_every_household() -> None:
    root = Path(__file__).resolve().parents[1] / "data"
    at = _start()
    at.radio(key="source").set_value("upload").run()
    data = SAMPLE.read_bytes()
    at.file_uploader(key="up_units").set_value(("q.gpkg", data, "application/octet-stream"))
    at.run()
    at.file_uploader(key="up_roster").set_value(
        ("roster.xlsx", (root / "queenstown_roster.xlsx").read_bytes(), XLSX_MIME)
    )
    at.button(key="run").click().run()
    _ok(at)
    assert not at.error, [e.value for e in at.error]
    labels = {b.label for b in at.get("download_button")}
    assert t("download_households", "zh") in labels
    ups = [sup.Upload("units", "q.gpkg", data, layer="units")]
    roster = sup.Upload("roster", "roster.xlsx", (root / "queenstown_roster.xlsx").read_bytes())
    plan = sup.plan_from_uploads(ups, rules=gridplan.PlanRules(), roster=roster)
    table = plan.report["households"]
    assert len(table) == int(plan.grids["households"].sum())  # one row per household
    with zipfile.ZipFile(io.BytesIO(sup.households_zip(plan))) as zf:
        assert set(zf.namelist()) == {"households.csv", "households.xlsx"}


def test_print_zip_holds_wall_maps_and_boards(small_plan: gridplan.Plan) -> None:
    with zipfile.ZipFile(io.BytesIO(sup.print_zip(small_plan))) as zf:
        assert set(zf.namelist()) == {"wallmaps.pdf", "boards.pdf"}
        assert all(zf.read(n)[:5] == b"%PDF-" for n in zf.namelist())


# ---------------------------------------------------------------------------------------------
# compare tab
# ---------------------------------------------------------------------------------------------


def test_compare_tab_shows_what_the_edits_changed() -> None:
    at = _start()
    at.radio(key="cmp_source").set_value("edits").run()
    _ok(at)
    assert any(t("compare_no_edits", "zh") == i.value for i in at.info)
    p = _sample_plan()
    grid = at.selectbox(key="grid").value
    target = sup.movable_targets(p, grid)[0]
    unit = sup.grid_units(p, grid)["unit_id"].iat[0]
    at.multiselect(key="move_units").set_value([unit]).run()
    at.selectbox(key="move_target").set_value(target).run()
    at.button(key="apply_move").click().run()
    _ok(at)
    change = column_label("change", "zh")
    grids = next(d.value for d in at.dataframe if change in d.value.columns)
    status = dict(zip(grids[column_label("grid_code", "zh")], grids[change], strict=True))
    # the two grids of the move changed; kept grids are left out of the list
    assert {status[grid], status[target]} <= {
        value_label("change", c, "zh") for c in ("changed", "split", "merged")
    }
    assert value_label("change", "kept", "zh") not in status.values()
    summary = next(
        d.value for d in at.dataframe if column_label("households_moved", "zh") in d.value.columns
    )
    hh = int(p.units.loc[unit, "households"])
    moved = float(summary[column_label("households_moved", "zh")].iat[0])
    assert moved >= hh
    assert int(summary[column_label("grids_old", "zh")].iat[0]) == len(p.grids)
    moves = next(d.value for d in at.dataframe if column_label("old_code", "zh") in d.value)
    row = moves[
        (moves[column_label("old_code", "zh")] == grid)
        & (moves[column_label("new_code", "zh")] == target)
    ]
    assert float(row[column_label("households", "zh")].iat[0]) == hh
    # headers and statuses in Chinese
    for frame in at.dataframe:
        for header in frame.value.columns:
            assert re.search(r"[\u4e00-\u9fff]", str(header)) or re.fullmatch(r"\d+", str(header))
    assert at.get("download_button")


def test_compare_with_uploaded_plan_and_replan_from_it() -> None:
    p = _sample_plan()
    layers = {
        r: gridplan.read_layer(SAMPLE, layer=r) for r in ("communities", "streets", "barriers")
    }
    rules = rules_from_dict({"grid": {"min_households": 300, "max_households": 450}})
    older = gridplan.plan(gridplan.read_layer(SAMPLE, layer="units"), rules=rules, **layers)
    saved = sup.export_bytes(older, "gpkg")
    at = _start()
    # not a plan file: one message in Chinese naming the upload widget
    at.file_uploader(key="up_compare").set_value(
        ("x.gpkg", _lattice_geojson(), "application/octet-stream")
    )
    at.run()
    _ok(at)
    assert at.error
    message = at.error[0].value
    assert t("compare_upload", "zh") in message, message
    assert not _latin_words(message.replace("x.gpkg", "")), message

    at.file_uploader(key="up_compare").set_value(("older.gpkg", saved, "application/octet-stream"))
    at.run()
    _ok(at)
    assert not at.error, [e.value for e in at.error]
    diff = gridplan.diff_plans(older, p)
    summary = next(d.value for d in at.dataframe if column_label("split_grids", "zh") in d.value)
    for s in ("kept", "changed", "split", "merged", "new", "retired"):
        assert int(summary[column_label(f"{s}_grids", "zh")].iat[0]) == int(
            diff.summary[f"{s}_grids"].iat[0]
        )
    assert int(diff.summary["split_grids"].iat[0]) + int(diff.summary["merged_grids"].iat[0]) > 0

    # re-plan the current data from the uploaded plan: its valid grids keep their codes
    at.button(key="cmp_replan").click().run()
    _ok(at)
    assert any(t("compare_using", "zh", name="older.gpkg") == c.value for c in at.caption)
    sample = tuple(sup.Upload(r, SAMPLE.name, SAMPLE.read_bytes(), layer=r) for r in SAMPLE_ROLES)
    again = sup.plan_from_uploads(
        sample, rules=rules_from_dict({}), previous=sup.Upload("previous", "older.gpkg", saved)
    )
    assert set(_grid_options(at)) == set(again.grids["grid_code"])
    kept = set(older.grids["grid_code"]) & set(again.grids["grid_code"])
    assert len(kept) > len(set(older.grids["grid_code"]) & set(p.grids["grid_code"])) / 2
    summary = next(d.value for d in at.dataframe if column_label("split_grids", "zh") in d.value)
    assert int(summary[column_label("kept_grids", "zh")].iat[0]) > int(
        diff.summary["kept_grids"].iat[0]
    )
    at.button(key="cmp_replan").click().run()  # and back
    _ok(at)
    assert set(_grid_options(at)) == set(p.grids["grid_code"])


# ---------------------------------------------------------------------------------------------
# CSV/XLSX coordinates: columns and coordinate system
# ---------------------------------------------------------------------------------------------


def _projected_csv() -> bytes:
    """The lattice's units as points in CGCS2000 / 3-degree Gauss-Kruger CM 114E metres,
    with coordinate columns no name detection finds."""
    units = make_lattice_units(6, 6, households=40).to_crs("EPSG:4547")
    pts = units.geometry.representative_point()
    table = pd.DataFrame(
        {"楼栋": units.index, "户数": units["households"], "横坐标": pts.x, "纵坐标": pts.y}
    )
    return table.to_csv(index=False).encode("utf-8")


def test_csv_coordinates_mapped_and_projected() -> None:
    at = _start()
    at.radio(key="source").set_value("upload").run()
    at.file_uploader(key="up_units").set_value(("units.csv", _projected_csv(), "text/csv"))
    at.text_area(key="columns").set_value("户数 = households\n楼栋 = unit_id")
    at.run()
    _ok(at)
    # the coordinate widgets appear for a CSV, listing its columns
    assert at.selectbox(key="coords_crs").value == "wgs84"
    assert "横坐标" in at.selectbox(key="coords_x").options
    at.selectbox(key="coords_x").set_value("横坐标")
    at.selectbox(key="coords_y").set_value("纵坐标")
    at.button(key="run").click().run()
    _ok(at)
    # metres read as degrees: refused, naming the coordinate-system widget, in Chinese
    messages = [
        str(m) for d in at.dataframe for m in d.value.get(column_label("message", "zh"), [])
    ]
    assert any(t("coords_crs", "zh") in m for m in messages), messages

    at.selectbox(key="coords_crs").set_value("projected").run()
    _ok(at)
    at.button(key="run").click().run()
    _ok(at)
    messages = [
        str(m) for d in at.dataframe for m in d.value.get(column_label("message", "zh"), [])
    ]
    assert any(t("coords_epsg", "zh") in m for m in messages), messages
    assert not _metrics(at)

    at.text_input(key="coords_epsg").set_value("EPSG:99999999")
    at.button(key="run").click().run()
    _ok(at)
    messages = [
        str(m) for d in at.dataframe for m in d.value.get(column_label("message", "zh"), [])
    ]
    assert any(
        t("coords_epsg", "zh") in m and not _latin_words(m.replace("EPSG", "")) for m in messages
    )

    at.text_input(key="coords_epsg").set_value("EPSG:4547")
    at.button(key="run").click().run()
    _ok(at)
    assert not at.error, [e.value for e in at.error]
    assert _metrics(at)[t("households_total", "zh")] == f"{36 * 40:,}"

    # the same choice in English names the widget in English
    at.text_input(key="coords_epsg").set_value("not a crs")
    at.toggle(key="lang_en").set_value(True).run()
    _ok(at)
    messages = [
        str(m) for d in at.dataframe for m in d.value.get(column_label("message", "en"), [])
    ]
    assert any(t("coords_epsg", "en") in m for m in messages), messages


def test_coordinates_for_tables_only(tmp_path: Path) -> None:
    coords = sup.Coordinates(crs="EPSG:4547", x="横坐标", y="纵坐标")
    table = sup.Upload("units", "units.csv", _projected_csv())
    gdf = sup.read_upload(table, workdir=tmp_path, columns={"户数": "households"}, coords=coords)
    assert gdf.crs.to_epsg() == 4547 and len(gdf) == 36
    # a GeoJSON upload is read as it is (its CRS is in the file)
    geo = sup.Upload("units", "units.geojson", _lattice_geojson())
    assert sup.read_upload(geo, workdir=tmp_path, coords=coords).crs.to_epsg() == 4326
    for bad, key in (
        (sup.Coordinates(crs=" "), "coords_crs_missing"),
        (sup.Coordinates(crs="xx"), "coords_crs_bad"),
        (sup.Coordinates(x="a", y="a"), "coords_same_column"),
    ):
        with pytest.raises(ValidationError) as err:
            sup.check_coordinates(bad, "zh")
        assert err.value.problems[0].check == key
    sup.check_coordinates(sup.Coordinates(crs="EPSG:4490"), "zh")


# ---------------------------------------------------------------------------------------------
# staffing and reform outputs
# ---------------------------------------------------------------------------------------------


def test_staffing_tab_takes_current_workers_and_offers_workbooks() -> None:
    at = _start()
    p = _sample_plan()
    communities = sorted(p.grids["community_id"].dropna().unique())
    now = pd.DataFrame({"社区编号": communities[:2], "在岗社区工作者": [3, 200]})
    at.file_uploader(key="up_current_staff").set_value(
        ("now.csv", now.to_csv(index=False).encode("utf-8"), "text/csv")
    )
    at.run()
    _ok(at)
    assert not at.error, [e.value for e in at.error]
    gap = column_label("workers_gap", "zh")
    table = next(d.value for d in at.dataframe if gap in d.value.columns)
    first = table[table[column_label("community_id", "zh")].astype(str) == communities[0]]
    assert float(first[column_label("current_workers", "zh")].iat[0]) == 3
    assert float(first[gap].iat[0]) > 0  # 3 workers are short of the ratio
    assert at.download_button(key="dl_staffing_tab")

    # a table naming no community of the plan: refused, naming the upload widget
    bad = pd.DataFrame({"社区编号": ["不存在的社区"], "在岗社区工作者": [1]})
    at.file_uploader(key="up_current_staff").set_value(
        ("bad.csv", bad.to_csv(index=False).encode("utf-8"), "text/csv")
    )
    at.run()
    _ok(at)
    assert at.error and t("current_staff_upload", "zh") in at.error[0].value
    assert not any(gap in d.value.columns and d.value[gap].notna().any() for d in at.dataframe)


def test_reform_workbook_download(small_plan: gridplan.Plan) -> None:
    at = _start()
    at.toggle(key="rf_run").set_value(True).run()
    _ok(at)
    assert at.download_button(key="dl_reform_xlsx")
    reform = sup.optional_module("reform")
    p = _sample_plan()
    result = reform.redivide(
        p.layers,
        communities=None,
        rules=reform.ReformRules(min_households=1000, max_households=3000),
        seed=0,
    )
    data = sup.reform_xlsx(result, lang="zh")
    sheets = pd.read_excel(io.BytesIO(data), sheet_name=None)
    assert len(sheets) >= 2
    assert all(re.search(r"[\u4e00-\u9fff]", name) for name in sheets)
