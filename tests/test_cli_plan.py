"""End-to-end `gridplan plan`, `gridplan grids` and `gridplan demo` on the bundled data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

from gridplan.cli import _split_layer, app

REPO = Path(__file__).resolve().parents[1]
QT = REPO / "data" / "singapore_queenstown.gpkg"
CAMDEN = REPO / "data" / "camden_sample.gpkg"

runner = CliRunner()


@pytest.fixture(scope="module")
def queenstown(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("qt")
    rules = out / "rules.toml"
    rules.write_text(
        '[codes]\ncounty_code = "140106"\n\n[grid]\nmin_households = 300\nmax_households = 500\n',
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        [
            "plan",
            str(QT),
            "--communities",
            f"{QT}:communities",
            "--streets",
            f"{QT}:streets",
            "--barriers",
            f"{QT}:barriers",
            "--config",
            str(rules),
            "--seed",
            "1",
            "--out",
            str(out / "plan.gpkg"),
            "--geojson",
            str(out / "geojson"),
            "--equivalency",
            str(out / "eq.csv"),
            "--report",
            str(out / "report.xlsx"),
        ],
    )
    return out, result


def test_plan_succeeds_and_prints_a_summary(queenstown):
    _, result = queenstown
    assert result.exit_code == 0, result.output
    assert "34,819 households in 241 units" in result.output
    assert "residential" in result.output and "micro-grids:" in result.output
    assert "diagnostics:" in result.output
    assert "Traceback" not in result.output


def test_plan_geopackage_layers_and_conservation(queenstown):
    out, _ = queenstown
    path = out / "plan.gpkg"
    # the plan's layers, then the context layers given on the command line (for printing)
    assert {n for n, _ in pyogrio.list_layers(path)} == {
        "units",
        "grids",
        "microgrids",
        "diagnostics",
        "summary",
        "unit_parts",
        "dedicated_residents",
        "communities",
        "streets",
        "barriers",
    }
    for role, key in (("communities", "community_id"), ("barriers", "barrier_id")):
        given, written = gpd.read_file(QT, layer=role), gpd.read_file(path, layer=role)
        assert sorted(written[key]) == sorted(given[key])
        assert written.crs == given.crs
    source = gpd.read_file(QT, layer="units")
    units = gpd.read_file(path, layer="units")
    grids = gpd.read_file(path, layer="grids")
    micro = gpd.read_file(path, layer="microgrids")
    assert units.crs == source.crs  # the input CRS
    assert sorted(units["unit_id"].astype(str)) == sorted(source["unit_id"].astype(str))
    # every household once in the grids, and once in the micro-grids of residential grids
    total = int(source["households"].sum())
    assert int(units["households"].sum()) == total
    assert int(grids["households"].sum()) == total
    res = grids[grids["kind"] == "residential"]
    assert int(micro["households"].sum()) == int(res["households"].sum())
    # per grid: the units' households add up to the grid's
    by_grid = units.groupby("grid_code")["households"].sum()
    assert by_grid.to_dict() == grids.set_index("grid_code")["households"].to_dict()
    assert grids["grid_code"].is_unique and micro["microgrid_code"].is_unique
    assert grids["grid_code"].str.startswith("140106").all()
    assert all(
        m.startswith(g) for m, g in zip(micro["microgrid_code"], micro["grid_code"], strict=True)
    )
    assert {"grid_code", "community_code", "kind", "households", "population", "in_band"} <= set(
        grids.columns
    )
    summary = pyogrio.read_dataframe(path, layer="summary")
    assert int(summary.loc[summary["level"] == "total", "households"].iloc[0]) == total


def _signed_area(ring) -> float:
    xy = np.asarray(ring)
    return 0.5 * float(np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1]))


def test_plan_geojson_and_equivalency(queenstown):
    out, _ = queenstown
    for name in ("grids", "microgrids", "units"):
        doc = json.loads((out / "geojson" / f"{name}.geojson").read_text(encoding="utf-8"))
        assert doc["type"] == "FeatureCollection" and "crs" not in doc
        assert doc["features"]
        for feature in doc["features"]:
            geom = feature["geometry"]
            polys = {"Polygon": [geom["coordinates"]], "MultiPolygon": geom["coordinates"]}
            for rings in polys.get(geom["type"], []):
                assert _signed_area(rings[0]) > 0
                assert all(_signed_area(h) < 0 for h in rings[1:])
    with (out / "eq.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # one row per unit part: every unit, a split building once per piece
    ids = [r["unit_id"] for r in rows]
    assert len(set(ids)) == 241 and len(ids) >= 241
    assert all(r["grid_code"] for r in rows)
    grids = gpd.read_file(out / "plan.gpkg", layer="grids")
    by_grid: dict[str, int] = {}
    for r in rows:
        by_grid[r["grid_code"]] = by_grid.get(r["grid_code"], 0) + int(r["households"])
    assert by_grid == dict(zip(grids["grid_code"], grids["households"].astype(int), strict=True))
    assert (out / "report.xlsx").stat().st_size > 0


def test_plan_is_deterministic(queenstown, tmp_path):
    out, _ = queenstown
    again = runner.invoke(
        app,
        [
            "plan",
            f"{QT}:units",
            "--communities",
            f"{QT}:communities",
            "--streets",
            f"{QT}:streets",
            "--barriers",
            f"{QT}:barriers",
            "--config",
            str(out / "rules.toml"),
            "--seed",
            "1",
            "--out",
            str(tmp_path / "again.gpkg"),
            "--equivalency",
            str(tmp_path / "eq.csv"),
        ],
    )
    assert again.exit_code == 0, again.output
    assert (tmp_path / "eq.csv").read_bytes() == (out / "eq.csv").read_bytes()


def test_missing_file_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["plan", str(tmp_path / "nope.gpkg"), "--out", "x.gpkg"])
    assert result.exit_code == 1
    assert "file not found" in result.output
    assert "Traceback" not in result.output


def test_every_bad_input_is_listed_at_once(tmp_path):
    result = runner.invoke(
        app,
        [
            "plan",
            f"{QT}:units",
            "--communities",
            f"{QT}:no_such_layer",
            "--barriers",
            str(tmp_path / "missing.geojson"),
            "--out",
            str(tmp_path / "p.gpkg"),
        ],
    )
    assert result.exit_code == 1
    assert "2 problems" in result.output
    assert "no_such_layer" in result.output and "missing.geojson" in result.output


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[grid\nmin_households = 3", "cannot parse"),
        ("[grid]\nminimum = 3\n", "unknown key"),
        ('[codes]\ncounty_code = "14"\n', "county_code"),
        ("[grid]\nmin_households = 600\n", "max_households"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, toml, expected):
    cfg = tmp_path / "rules.toml"
    cfg.write_text(toml, encoding="utf-8")
    result = runner.invoke(
        app, ["plan", f"{QT}:units", "--config", str(cfg), "--out", str(tmp_path / "p.gpkg")]
    )
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "p.gpkg").exists()


def test_bad_county_code_option(tmp_path):
    result = runner.invoke(
        app, ["plan", f"{QT}:units", "--county-code", "ABC", "--out", str(tmp_path / "p.gpkg")]
    )
    assert result.exit_code == 1
    assert "county_code" in result.output


def test_bad_columns_mapping(tmp_path):
    result = runner.invoke(
        app, ["plan", f"{QT}:units", "--columns", "户数", "--out", str(tmp_path / "p.gpkg")]
    )
    assert result.exit_code != 0
    assert "OLD=NEW" in result.output


def test_split_layer_syntax(tmp_path):
    assert _split_layer(f"{QT}:units") == (QT, "units")
    assert _split_layer(str(QT)) == (QT, None)
    assert _split_layer("C:\\data\\a.gpkg") == (Path("C:\\data\\a.gpkg"), None)
    assert _split_layer("a/b.gpkg") == (Path("a/b.gpkg"), None)


def test_grids_command_on_camden(tmp_path):
    out = tmp_path / "grids.gpkg"
    result = runner.invoke(
        app,
        [
            "grids",
            f"{CAMDEN}:units",
            "--communities",
            f"{CAMDEN}:communities",
            "--county-code",
            "110101",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "10,701 households" in result.output
    assert {n for n, _ in pyogrio.list_layers(out)} == {"grids", "units", "diagnostics"}
    grids = gpd.read_file(out, layer="grids")
    assert grids.crs.to_epsg() == 27700
    assert int(grids["households"].sum()) == 10_701
    assert grids["grid_code"].str.startswith("110101").all() and grids["grid_code"].is_unique
    units = gpd.read_file(out, layer="units")
    assert units["grid_code"].notna().all()


@pytest.mark.slow
def test_demo_writes_every_output(tmp_path):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in ("queenstown", "taiyuan"):
        assert (tmp_path / f"{name}.gpkg").is_file()
        assert (tmp_path / f"{name}_equivalency.csv").is_file()
        assert (tmp_path / f"{name}_report.xlsx").is_file()
        for level in ("grids", "microgrids", "units"):
            assert (tmp_path / f"{name}_geojson" / f"{level}.geojson").is_file()
        assert f"{name} (" in result.output
    taiyuan = gpd.read_file(tmp_path / "taiyuan.gpkg", layer="grids")
    assert (taiyuan["kind"] == "dedicated").any()
    assert (
        taiyuan.loc[taiyuan["kind"] == "dedicated", "grid_code"].str[-3:].astype(int).min() >= 901
    )


def test_demo_without_data_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--data", str(tmp_path)])
    assert result.exit_code == 1
    assert "not found" in result.output and "--data" in result.output


def test_microgrids_tile_their_grid(queenstown):
    # every residential grid is covered by its micro-grids: nothing sticks out, no gaps, no
    # overlaps, up to the 1 cm fixed-precision overlay both levels are dissolved with: slivers
    # at most 5 mm wide along the grid's outline (measured: 2.3 mm per metre at worst). A lost
    # building slice or a micro-grid in the wrong grid would be tens of square metres.
    out, _ = queenstown
    path = out / "plan.gpkg"
    grids = gpd.read_file(path, layer="grids")
    micro = gpd.read_file(path, layer="microgrids")
    crs = grids.estimate_utm_crs()
    grids, micro = grids.to_crs(crs), micro.to_crs(crs)
    res = grids[grids["kind"] == "residential"]
    assert set(micro["grid_code"]) == set(res["grid_code"])
    for code, geom in zip(res["grid_code"], res.geometry, strict=True):
        parts = micro.loc[micro["grid_code"] == code].geometry.to_numpy()
        union = shapely.union_all(parts)
        outside = shapely.area(shapely.difference(union, geom))
        gaps = shapely.area(shapely.difference(geom, union))
        overlap = float(shapely.area(parts).sum()) - shapely.area(union)
        tol = 0.005 * geom.length  # square metres
        assert outside <= tol and gaps <= tol and overlap <= tol, (code, outside, gaps, overlap)


def test_diagnostics_layer_and_sheet_keep_machine_columns_next_to_chinese_text(queenstown):
    out, _ = queenstown
    diags = pyogrio.read_dataframe(out / "plan.gpkg", layer="diagnostics")
    assert len(diags) >= 1
    assert {"level", "code", "grid_code", "unit_ids", "params", "message", "fix"} <= set(diags)
    grids = gpd.read_file(out / "plan.gpkg", layer="grids")
    units = gpd.read_file(out / "plan.gpkg", layer="units")
    for row in diags.to_dict("records"):
        assert row["grid_code"] in set(grids["grid_code"])
        assert set(row["unit_ids"].split(";")) <= set(units["unit_id"].astype(str))
        assert isinstance(json.loads(row["params"]), dict)
        # Chinese by default, the fix in the command line's words, no internal grid id
        assert any("\u4e00" <= ch <= "\u9fff" for ch in row["message"])
        assert "--config" in row["fix"] and "GridRules" not in row["fix"]
        assert "G0" not in row["message"]
    import openpyxl

    ws = openpyxl.load_workbook(out / "report.xlsx")["diagnostics"]
    header = [c.value for c in ws[1]]
    assert {"code", "unit_ids", "params", "message", "fix"} <= set(header)


def test_grids_command_writes_diagnostics_in_the_language_asked_for(tmp_path):
    out = tmp_path / "grids.gpkg"
    args = ["grids", str(QT), "--communities", f"{QT}:communities", "--barriers", f"{QT}:barriers"]
    result = runner.invoke(app, [*args, "--lang", "en", "--out", str(out)])
    assert result.exit_code == 0, result.output
    diags = pyogrio.read_dataframe(out, layer="diagnostics")
    # Queenstown has no GB/T 2260 county code: its codes start with 000000, which a note says
    assert diags.loc[diags["code"] == "codes_unset", "fix"].str.contains("--county-code").all()
    diags = diags[diags["code"] != "codes_unset"]
    assert len(diags) >= 1 and diags["code"].str.startswith("out_of_band").all()
    assert diags["message"].str.contains("households").all()
    assert diags["fix"].str.contains("--config").all()
    assert not diags["message"].str.contains(r"\bG\d{5}\b").any()
    bad = runner.invoke(app, [*args, "--lang", "fr", "--out", str(tmp_path / "x.gpkg")])
    assert bad.exit_code != 0 and "--lang" in bad.output


@pytest.fixture(scope="module")
def two_streets(tmp_path_factory) -> Path:
    """Queenstown with its subzones in two streets, as one GeoPackage."""
    src = tmp_path_factory.mktemp("streets") / "qt_two_streets.gpkg"
    comm = gpd.read_file(QT, layer="communities")
    ids = sorted(comm["community_id"])
    street = {c: f"QT-{i % 2}" for i, c in enumerate(ids)}
    units = gpd.read_file(QT, layer="units")
    units["street_id"] = units["community_id"].map(street)
    comm["street_id"] = comm["community_id"].map(street)
    units.to_file(src, layer="units")
    comm.to_file(src, layer="communities")
    gpd.read_file(QT, layer="barriers").to_file(src, layer="barriers")
    return src


def test_plan_workers_gives_the_same_files(two_streets, tmp_path):
    outs = {}
    for n in (1, 2):
        out = tmp_path / f"w{n}.gpkg"
        args = ["plan", str(two_streets), "--communities", f"{two_streets}:communities"]
        args += ["--barriers", f"{two_streets}:barriers", "--out", str(out), "--workers", str(n)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        outs[n] = out
    for layer in ("grids", "microgrids", "units"):
        one = gpd.read_file(outs[1], layer=layer)
        two = gpd.read_file(outs[2], layer=layer)
        assert len(one) > 2
        assert one.equals(two), layer


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--workers", "0"], "--workers must be a whole number >= 1, got 0"),
        (["--workers", "2", "--engine", "dask"], "drop --workers or use --engine single"),
    ],
)
def test_a_bad_worker_count_is_refused_before_reading(extra, words, tmp_path):
    # refused before anything is read or written
    out = tmp_path / "x.gpkg"
    result = runner.invoke(app, ["plan", str(QT), "--out", str(out), *extra])
    assert result.exit_code == 1, result.output
    assert words in result.output
    assert "Traceback" not in result.output and not out.exists()
