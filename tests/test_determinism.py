"""Same inputs and seed give byte-identical output files."""

from __future__ import annotations

import time

import geopandas as gpd

import gridplan
from gridplan.export import write_equivalency, write_geojson, write_geopackage, write_report_xlsx


def _write_all(data_dir, out):
    src = data_dir / "camden_sample.gpkg"
    plan = gridplan.plan(
        gpd.read_file(src, layer="units"),
        communities=gpd.read_file(src, layer="communities"),
        seed=7,
    )
    write_geopackage(plan, out / "plan.gpkg")
    write_geojson(plan, out / "geojson")
    write_equivalency(plan, out / "units.csv")
    write_report_xlsx(plan, out / "report.xlsx")
    gridplan.staffing_plan(plan).to_excel(out / "staffing.xlsx")


def test_two_runs_write_identical_bytes(data_dir, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    _write_all(data_dir, first)
    time.sleep(1.1)  # a timestamp in the metadata would now differ
    _write_all(data_dir, second)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) >= 7
    differing = [str(f) for f in files if (first / f).read_bytes() != (second / f).read_bytes()]
    assert differing == []
