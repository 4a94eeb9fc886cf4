"""The bad-input corpus (:mod:`badfiles`) through the command line.

Every case must exit with 1 (a user's mistake; 2 is an unexpected error), print no traceback,
name the rows, columns or keys concerned, give the fix as a flag (never a Python keyword),
and leave every input byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from badfiles import CASES, build, invalid_bowtie, lattice, points_table, units_gpkg

from gridplan.cli import main

#: Python-API advice that must not reach a command-line user
PYTHON_WORDS = re.compile(r"fix_invalid=True|columns=\{|force=True|crs='|encoding='")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``gridplan ARGV`` in this process: exit code and everything printed."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), captured.out + captured.err


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


#: cases the CLI does not handle yet (issue 15): expected to fail until fixed, strictly, so a
#: fix shows up as an unexpected pass and the case must then leave this list
NOT_YET: set[str] = set()


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="issue 15: not handled yet"))
        if c in NOT_YET
        else c
        for c in sorted(CASES)
    ],
)
def test_bad_input_exits_1_with_a_clear_message(case, tmp_path, capsys):
    bad = build(case, tmp_path)
    before = {p: _digest(p) for p in bad.untouched}
    code, output = run(bad.argv, capsys)
    assert code == 1, f"exit {code}:\n{output}"
    assert "Traceback" not in output
    assert "unexpected error" not in output
    for needle in bad.needles:
        assert needle in output, f"{needle!r} not in:\n{output}"
    if bad.flag is not None:
        assert bad.flag in output, f"fix {bad.flag!r} not in:\n{output}"
    assert not PYTHON_WORDS.search(output), output
    for path, digest in before.items():
        assert path.exists() and _digest(path) == digest, f"{path.name} was changed"


def test_the_corpus_is_large():
    assert len(CASES) >= 80


# ---------------------------------------------------------------------------------------------
# the fixes the messages name work
# ---------------------------------------------------------------------------------------------


def test_columns_name_the_coordinate_columns_of_a_table(tmp_path, capsys):
    table = points_table(20).rename(columns={"lon": "东经", "lat": "北纬", "households": "户数"})
    table.to_csv(tmp_path / "cn.csv", index=False)
    out = tmp_path / "plan.gpkg"
    code, output = run(
        [
            "plan",
            str(tmp_path / "cn.csv"),
            "--columns",
            "东经=lon,北纬=lat,户数=households",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, output
    units = gpd.read_file(out, layer="units")
    assert len(units) == 20 and int(units["households"].sum()) == 20 * 40


def test_swapped_coordinates_fixed_by_the_named_mapping(tmp_path, capsys):
    t = points_table(20)
    t.assign(lon=t["lat"], lat=t["lon"]).to_csv(tmp_path / "s.csv", index=False)
    code, output = run(
        [
            "plan",
            str(tmp_path / "s.csv"),
            "--columns",
            "lat=lon,lon=lat",
            "-o",
            str(tmp_path / "p.gpkg"),
        ],
        capsys,
    )
    assert code == 0, output
    units = gpd.read_file(tmp_path / "p.gpkg", layer="units").to_crs(4326)
    assert units.geometry.x.between(112, 113).all() and units.geometry.y.between(37, 38).all()


def test_validate_fix_invalid_repairs_what_plan_would(tmp_path, capsys):
    path = units_gpkg(tmp_path, invalid_bowtie())
    code, output = run(["validate", str(path), "--as", "units"], capsys)
    assert code == 1 and "--fix-invalid" in output, output
    code, output = run(["validate", str(path), "--as", "units", "--fix-invalid"], capsys)
    assert code == 0, output
    assert "valid" in output


def test_force_overwrites_an_output_that_is_not_an_input(tmp_path, capsys):
    units = units_gpkg(tmp_path, lattice(8, households=60))
    out = tmp_path / "plan.gpkg"
    out.write_bytes(b"an earlier result")
    code, output = run(["plan", str(units), "--out", str(out), "--force"], capsys)
    assert code == 0, output
    assert {"units", "grids"} <= {n for n, _ in pyogrio.list_layers(out)}


def test_codes_of_zeros_are_explained(tmp_path, capsys):
    units = units_gpkg(tmp_path, lattice(8, households=60))
    out = tmp_path / "plan.gpkg"
    code, output = run(["plan", str(units), "--out", str(out), "--lang", "en"], capsys)
    assert code == 0, output
    diags = pd.DataFrame(gpd.read_file(out, layer="diagnostics"))
    row = diags[diags["code"] == "codes_unset"]
    assert len(row) == 1, diags[["code", "message"]]
    assert "--county-code" in row["fix"].iloc[0] and "[codes] county_code" in row["fix"].iloc[0]
    assert row["severity"].iloc[0] == "info"
    grids = gpd.read_file(out, layer="grids")
    assert grids["grid_code"].str.startswith("000000").all()
    code, output = run(
        ["plan", str(units), "--out", str(tmp_path / "p2.gpkg"), "--county-code", "140105"], capsys
    )
    assert code == 0, output
    diags = pd.DataFrame(gpd.read_file(tmp_path / "p2.gpkg", layer="diagnostics"))
    assert "codes_unset" not in set(diags.get("code", []))
