"""The redivision feeds the next plan (issue 20): `gridplan reform` → `gridplan plan`.

Planning after a redivision with the units' old community ids used to crash in the code stage
(``codes.reading_order``: 'all keys need to be the same shape'); it is now one clear error
naming the units and the fix, and the reform's own units plan directly with the new codes.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from typer.testing import CliRunner

from gridplan.cli import app
from gridplan.errors import ValidationError
from gridplan.layers import prepare_layers
from gridplan.reform import ReformRules, redivide

runner = CliRunner()
DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def camden_reform(tmp_path_factory):
    """Camden's 3 MSOAs (10,701 households) redivided into 1,000-2,500-household communities."""
    out = tmp_path_factory.mktemp("reform") / "reform.gpkg"
    src = DATA / "camden_sample.gpkg"
    res = runner.invoke(
        app,
        [
            "reform",
            f"{src}:units",
            "--communities",
            f"{src}:communities",
            "--min-households",
            "1000",
            "--max-households",
            "2500",
            "--replan-valid",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    return src, out


def test_old_community_ids_with_new_communities_are_one_clear_error(camden_reform, tmp_path):
    src, reform = camden_reform
    res = runner.invoke(
        app,
        [
            "plan",
            f"{src}:units",
            "--communities",
            f"{reform}:communities",
            "--out",
            str(tmp_path / "plan.gpkg"),
        ],
    )
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output and "same shape" not in res.output
    assert "lie inside another community than their community_id names" in res.output
    assert "REFORM.gpkg:units" in res.output  # the fix in the command line's words
    assert not (tmp_path / "plan.gpkg").exists()


def test_python_names_the_fix_in_keywords(camden_reform):
    src, reform = camden_reform
    units = gpd.read_file(src, layer="units")
    comms = gpd.read_file(reform, layer="communities")
    with pytest.raises(ValidationError) as err:
        prepare_layers(units, communities=comms)
    assert "`Reform.units`" in str(err.value)
    # units inside the community they name pass
    prepare_layers(units, communities=gpd.read_file(src, layer="communities"))


def test_reform_units_plan_directly_into_the_new_communities(camden_reform, tmp_path):
    _, reform = camden_reform
    plan = tmp_path / "plan.gpkg"
    res = runner.invoke(
        app,
        ["plan", f"{reform}:units", "--communities", f"{reform}:communities", "--out", str(plan)],
    )
    assert res.exit_code == 0, res.output
    grids = gpd.read_file(plan, layer="grids")
    new = gpd.read_file(reform, layer="communities")
    assert set(grids["community_id"]) == set(new["community_id"])
    assert grids["households"].sum() == new["households"].sum()


def test_python_reform_then_plan(data_dir):
    import gridplan

    src = data_dir / "camden_sample.gpkg"
    units = gpd.read_file(src, layer="units")
    r = redivide(
        units,
        communities=gpd.read_file(src, layer="communities"),
        rules=ReformRules(min_households=1000, max_households=2500, keep_valid=False),
    )
    p = gridplan.plan(r.units, communities=r.communities)
    assert set(p.grids["community_id"]) == set(r.communities["community_id"])
    assert int(p.grids["households"].sum()) == int(units["households"].sum())
