"""`gridplan reform`: rules from `--config` ([reform]) through the one loader, flags on top,
and a diagnostics layer of text columns in the command line's words."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pyogrio
import pytest
import typer
from conftest import make_lattice_units
from typer.testing import CliRunner

from gridplan import diagnostics
from gridplan.cli import app

runner = CliRunner()


@pytest.fixture
def small_street(write_gpkg):
    """800 households in two current communities: no community of 1,000-3,000 fits."""
    units = make_lattice_units(4, 2, households=100)
    units["zone"] = ["A" if c < 2 else "B" for c in units["col"]]
    comms = units.dissolve("zone").reset_index()[["zone", "geometry"]]
    comms = comms.rename(columns={"zone": "community_id"})
    return write_gpkg({"units": units.drop(columns=["zone"]), "communities": comms})


def _reform(src, out, *args):
    return runner.invoke(
        app,
        ["reform", f"{src}:units", "--communities", f"{src}:communities", *args, "--out", str(out)],
    )


def _flags() -> set[str]:
    group = typer.main.get_command(app)
    return {
        n
        for command in group.commands.values()  # type: ignore[attr-defined]
        for p in command.params
        for n in p.opts
        if n.startswith("--")
    }


def test_diagnostics_layer_is_text_in_the_cli_words(small_street, tmp_path):
    out = tmp_path / "new.gpkg"
    result = _reform(small_street, out)
    assert result.exit_code == 0, result.output
    layer = pyogrio.read_dataframe(out, layer="diagnostics", read_geometry=False)
    assert len(layer) and list(layer.columns) == list(diagnostics.COLUMNS)
    # lists and params as text (not Python reprs of tuples and dicts), read back as records
    assert not layer["unit_ids"].str.startswith("(").any()
    params = [json.loads(p) for p in layer["params"]]
    assert all(isinstance(p, dict) and "lo" in p for p in params)
    records = diagnostics.records(layer)
    assert all(isinstance(r.unit_ids, tuple) and r.unit_ids for r in records)
    # Chinese by default, fixes naming this command's flags
    assert layer["message"].str.contains(r"[\u4e00-\u9fff]").all()
    assert layer["fix"].str.contains("--min-households").all()
    flags = _flags()
    for fix in layer["fix"]:
        assert set(re.findall(r"--[a-z][a-z-]+", fix)) <= flags, fix

    en = tmp_path / "en.gpkg"
    assert _reform(small_street, en, "--lang", "en").exit_code == 0
    layer = pyogrio.read_dataframe(en, layer="diagnostics", read_geometry=False)
    assert not layer["message"].str.contains(r"[\u4e00-\u9fff]").any()
    assert layer["fix"].str.contains("lower --min-households").any()


def test_rules_come_from_the_config_file_and_flags_override_it(small_street, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text("[reform]\nmin_households = 300\nmax_households = 500\n", encoding="utf-8")
    out = tmp_path / "a.gpkg"
    result = _reform(small_street, out, "--config", str(rules))
    assert result.exit_code == 0, result.output
    assert "band 300-500 households" in result.output
    communities = gpd.read_file(out, layer="communities")
    assert communities["in_bounds"].all() and len(communities) >= 2
    # a flag wins over the file
    result = _reform(
        small_street, tmp_path / "b.gpkg", "--config", str(rules), "--max-households", "800"
    )
    assert result.exit_code == 0, result.output
    assert "band 300-800 households" in result.output


def test_a_wrong_type_in_the_config_is_bad_input(small_street, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text('[reform]\nmin_households = "300"\n', encoding="utf-8")
    out = tmp_path / "a.gpkg"
    result = _reform(small_street, out, "--config", str(rules))
    assert result.exit_code == 1
    assert "[reform] min_households" in result.output and '"300" (text)' in result.output
    assert "Traceback" not in result.output and not out.exists()
