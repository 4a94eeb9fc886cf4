"""A yearly update on the command line (issue 16): plan, edit the input (demolish blocks,
build a compound), ``plan --previous``, ``diff``, three versions in a row, on the bundled
Queenstown sample."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from gridplan.cli import app

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "singapore_queenstown.gpkg"

runner = CliRunner()


def _edit(src: Path, out: Path, *, drop: list[str], host: str, prefix: str) -> None:
    """The planner's edit of a year: ``drop`` demolished, a compound of 4 new blocks (800
    households) built 40-80 m from block ``host``, in its community and street."""
    units = gpd.read_file(src, layer="units")
    metric = units.to_crs(3414)
    at = metric.loc[metric["unit_id"] == host].iloc[0]
    c = at.geometry
    new = gpd.GeoDataFrame(
        {
            "unit_id": [f"{prefix}{i}" for i in range(4)],
            "households": [220, 210, 190, 180],
            "community_id": at["community_id"],
            "street_id": at["street_id"],
        },
        geometry=[shapely.Point(c.x + dx, c.y + dy) for dx in (40, 80) for dy in (40, 80)],
        crs=3414,
    ).to_crs(units.crs)
    units = pd.concat([units[~units["unit_id"].isin(drop)], new], ignore_index=True)
    units.to_file(out, layer="units")
    for layer in ("communities", "barriers"):
        gpd.read_file(src, layer=layer).to_file(out, layer=layer)


def _plan(data: Path, out: Path, date: str, *extra: str) -> None:
    args = [
        "plan", str(data), "--communities", f"{data}:communities",
        "--barriers", f"{data}:barriers", "--out", str(out), "--plan-date", date, *extra,
    ]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output


def _diff(old: Path, new: Path, out: Path) -> str:
    res = runner.invoke(app, ["diff", str(old), str(new), "--out", str(out), "--lang", "en"])
    assert res.exit_code == 0, res.output
    return res.output


def _every_household_in_one_grid(plan: Path, data: Path) -> None:
    units = gpd.read_file(plan, layer="units")
    parts = gpd.read_file(plan, layer="unit_parts")
    grids = gpd.read_file(plan, layer="grids")
    micro = gpd.read_file(plan, layer="microgrids")
    given = gpd.read_file(data, layer="units")
    assert sorted(units["unit_id"]) == sorted(given["unit_id"])
    total = int(given["households"].sum())
    assert int(parts["households"].sum()) == total
    assert int(grids["households"].sum()) == total
    assert int(micro["households"].sum()) == total
    # each part is in one grid of the plan, and a unit's parts add up to the unit
    assert parts["grid_code"].notna().all()
    assert set(parts["grid_code"]) <= set(grids["grid_code"])
    assert grids["grid_code"].is_unique
    per_unit = parts.groupby("unit_id")["households"].sum()
    assert per_unit.to_dict() == given.set_index("unit_id")["households"].to_dict()


@pytest.fixture(scope="module")
def years(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("years")
    _plan(SAMPLE, d / "v1.gpkg", "2025-01-01")
    v1 = gpd.read_file(d / "v1.gpkg", layer="unit_parts")
    # year 2: the estate of one grid demolished (every unit with a part in it), another
    # block gone, a compound built in another community
    grids = gpd.read_file(d / "v1.gpkg", layer="grids")
    first = sorted(grids.loc[grids["community_id"] == "QTSZ01", "grid_code"])
    estate = first[1]
    gone = sorted(set(v1.loc[v1["grid_code"] == estate, "unit_id"]))
    assert sum(v1["unit_id"].isin(gone) & (v1["grid_code"] != estate)) == 0
    others = v1[~v1["unit_id"].isin(gone)]
    elsewhere = others.loc[others["grid_code"].str[:12] != estate[:12], "unit_id"]
    block, host = elsewhere.iloc[0], elsewhere.iloc[len(elsewhere) // 2]
    _edit(SAMPLE, d / "y2.gpkg", drop=[*gone, block], host=host, prefix="new25_")
    _plan(d / "y2.gpkg", d / "v2.gpkg", "2026-01-01", "--previous", str(d / "v1.gpkg"))
    (d / "estate.txt").write_text(estate)
    # year 3: a compound built in the demolished estate's community, a block gone
    v2 = gpd.read_file(d / "v2.gpkg", layer="unit_parts")
    mine = v2.loc[v2["grid_code"].str[:12] == estate[:12], "unit_id"]
    _edit(
        d / "y2.gpkg", d / "y3.gpkg", drop=[elsewhere.iloc[-1]], host=mine.iloc[0], prefix="new26_"
    )
    _plan(d / "y3.gpkg", d / "v3.gpkg", "2027-01-01", "--previous", str(d / "v2.gpkg"))
    return d


def test_every_household_is_in_exactly_one_grid_in_every_version(years):
    _every_household_in_one_grid(years / "v1.gpkg", SAMPLE)
    _every_household_in_one_grid(years / "v2.gpkg", years / "y2.gpkg")
    _every_household_in_one_grid(years / "v3.gpkg", years / "y3.gpkg")


def test_retired_codes_are_never_reused_across_three_versions(years):
    estate = (years / "estate.txt").read_text()
    codes = {
        v: set(gpd.read_file(years / f"{v}.gpkg", layer="grids")["grid_code"])
        for v in ("v1", "v2", "v3")
    }
    assert estate in codes["v1"] and estate not in codes["v2"]
    v2 = gpd.read_file(years / "v2.gpkg", layer="versions")
    v3 = gpd.read_file(years / "v3.gpkg", layer="versions")
    retired2 = set(v2.loc[v2["version_status"] == "retired", "grid_code"])
    assert retired2 == codes["v1"] - codes["v2"] and estate in retired2
    assert (v2.loc[v2["version_status"] == "retired", "valid_to"] == "2026-01-01").all()
    # v3 builds new grids in the estate's community, numbered past the retired code
    new3 = codes["v3"] - codes["v2"]
    assert {c for c in new3 if c[:12] == estate[:12]}
    assert not new3 & (codes["v1"] | codes["v2"])
    assert not codes["v3"] & retired2
    retired3 = set(v3.loc[v3["version_status"] == "retired", "grid_code"])
    assert retired2 <= retired3  # the history is carried on
    grids3 = gpd.read_file(years / "v3.gpkg", layer="grids").set_index("grid_code")
    assert (grids3.loc[sorted(new3), "valid_from"] == "2027-01-01").all()
    # a grid with the same units as last year keeps its date; a changed one takes the new
    grids2 = gpd.read_file(years / "v2.gpkg", layer="grids").set_index("grid_code")

    def members(v: str) -> pd.Series:
        parts = gpd.read_file(years / f"{v}.gpkg", layer="unit_parts")
        return parts.groupby("grid_code")["unit_id"].agg(frozenset)

    m2, m3 = members("v2"), members("v3")
    both = sorted(codes["v2"] & codes["v3"])
    same = [c for c in both if m2[c] == m3[c]]
    changed = [c for c in both if m2[c] != m3[c]]
    assert len(same) > 80 and changed
    assert grids3.loc[same, "valid_from"].tolist() == grids2.loc[same, "valid_from"].tolist()
    assert (grids3.loc[changed, "valid_from"] == "2027-01-01").all()


def test_diff_names_what_each_year_changed(years):
    out12 = _diff(years / "v1.gpkg", years / "v2.gpkg", years / "d12.gpkg")
    out23 = _diff(years / "v2.gpkg", years / "v3.gpkg", years / "d23.gpkg")
    d12 = gpd.read_file(years / "d12.gpkg", layer="changes").set_index("grid_code")
    d23 = gpd.read_file(years / "d23.gpkg", layer="changes").set_index("grid_code")
    estate = (years / "estate.txt").read_text()
    assert d12.loc[estate, "change"] == "retired"
    assert "1 retired" in out12
    v2 = set(gpd.read_file(years / "v2.gpkg", layer="grids")["grid_code"])
    v3 = set(gpd.read_file(years / "v3.gpkg", layer="grids")["grid_code"])
    assert set(d23.index[d23["change"] == "new"]) == v3 - v2
    assert "kept" in out23 and (d23["change"] == "kept").sum() >= 0.9 * len(v2)
