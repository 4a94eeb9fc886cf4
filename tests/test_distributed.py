"""The Dask engine: same plan as one process, failed parts reported, lost workers retried.

One local cluster (2 worker processes, 1 thread each) serves the whole module and is closed in
the fixture's finalizer.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cloudpickle
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LineString, Point, box

import gridplan
from gridplan.crs import working_crs
from gridplan.diagnostics import render_frame
from gridplan.distributed import PlanPart, plan_distributed, plan_part, split_layers

distributed = pytest.importorskip("distributed")

DATA = Path(__file__).resolve().parents[1] / "data"

# the fault-injecting part functions below run on the workers: ship them by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


# --- inputs -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def queenstown_two_streets() -> dict[str, gpd.GeoDataFrame]:
    """Queenstown (EPSG:4326) cut into two streets along its subzones, so parts share borders
    and barriers the way real streets do."""
    src = DATA / "singapore_queenstown.gpkg"
    layers = {k: gpd.read_file(src, layer=k) for k in ("units", "communities", "barriers")}
    north = {"QTSZ01", "QTSZ02", "QTSZ03", "QTSZ04"}

    def street(c: str) -> str:
        return "QT-N" if c in north else "QT-S"

    layers["units"]["street_id"] = layers["units"]["community_id"].map(street)
    comm = layers["communities"]
    comm["street_id"] = comm["community_id"].map(street)
    layers["streets"] = comm.dissolve("street_id").reset_index()[["street_id", "geometry"]]
    return layers


def lattice_province(
    n_streets: int = 3, *, x0: float = 0.0, crs: str = "EPSG:32649"
) -> dict[str, gpd.GeoDataFrame]:
    """``n_streets`` streets side by side, each of two 600 m x 500 m communities holding 30
    blocks (points, slightly off a 100 m lattice) of 40 households: 1,200 per community."""
    rng = np.random.default_rng(0)
    units, comms = [], []
    for s in range(n_streets):
        for c in range(2):
            left = x0 + (2 * s + c) * 600.0
            cid = f"S{s + 1}C{c + 1}"
            comms.append(
                {
                    "community_id": cid,
                    "street_id": f"S{s + 1}",
                    "geometry": box(left, 0, left + 600, 500),
                }
            )
            for r in range(5):
                for k in range(6):
                    dx, dy = rng.uniform(-20, 20, size=2)
                    units.append(
                        {
                            "unit_id": f"{cid}-{r}-{k}",
                            "households": 40,
                            "community_id": cid,
                            "street_id": f"S{s + 1}",
                            "geometry": Point(left + 50 + k * 100 + dx, 50 + r * 100 + dy),
                        }
                    )
    return {
        "units": gpd.GeoDataFrame(units, crs=crs),
        "communities": gpd.GeoDataFrame(comms, crs=crs),
    }


# --- fault injection (runs on the workers) ----------------------------------------------------


def failing_on(street: str):
    def part_fn(part: PlanPart, rules, seed):
        if street in part.keys:
            raise RuntimeError(f"disk full while planning {street}")
        return plan_part(part, rules, seed)

    return part_fn


def counting(marker_dir: Path, *, street: str, action: str):
    """A part function that records every attempt for ``street`` and, on the first one,
    kills its worker process (``action="exit"``) or raises (``action="raise"``)."""

    def part_fn(part: PlanPart, rules, seed):
        if street in part.keys:
            n = len(list(marker_dir.glob("attempt-*")))
            (marker_dir / f"attempt-{n}-{os.getpid()}").touch()
            if n == 0 and action == "exit":
                os._exit(1)  # the worker process dies mid-task, as a lost machine would
            if n == 0 and action == "raise":
                raise ConnectionError("flaky network")
            if action == "data":
                raise gridplan.ValidationError([gridplan.Problem("units", "bad", "bad data")])
        return plan_part(part, rules, seed)

    return part_fn


# --- helpers ------------------------------------------------------------------------------------


def assert_same_plan(a: gridplan.Plan, b: gridplan.Plan) -> None:
    assert_geodataframe_equal(a.units, b.units)
    assert_geodataframe_equal(a.grids, b.grids)
    assert_geodataframe_equal(a.microgrids, b.microgrids)
    # the same code and assembly stages run on the merged parts: the same rows, in the same
    # order, naming the same grid codes
    pd.testing.assert_frame_equal(a.diagnostics, b.diagnostics)
    assert a.report.keys() == b.report.keys()
    for k in a.report:
        pd.testing.assert_frame_equal(a.report[k], b.report[k])
    assert a.work_crs == b.work_crs


def assert_conserved(p: gridplan.Plan, units: gpd.GeoDataFrame) -> None:
    """Every unit once; every household once in the grids and once in the micro-grids."""
    total = int(units["households"].sum())
    assert p.units.index.is_unique
    assert sorted(p.units.index.astype(str)) == sorted(units["unit_id"].astype(str))
    assert int(p.grids["households"].sum()) == total
    residential = p.grids.loc[p.grids["kind"] == "residential", "households"].sum()
    assert int(p.microgrids["households"].sum()) == int(residential)
    assert p.grids["grid_code"].is_unique
    assert p.microgrids["microgrid_code"].is_unique
    assert set(p.units["grid_code"]) <= set(p.grids["grid_code"])
    per_grid = p.units.groupby("grid_code")["households"].sum()
    split = p.units["n_parts"] > 1  # a unit sliced across grids is listed under its largest part
    if not split.any():
        got = p.grids.set_index("grid_code")["households"]
        pd.testing.assert_series_equal(
            per_grid.reindex(got.index).fillna(0).astype(int), got.astype(int), check_names=False
        )


# --- same answer ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def queenstown_plans(client, queenstown_two_streets):
    kw = {k: v for k, v in queenstown_two_streets.items() if k != "units"}
    seen: list[tuple[int, int, str]] = []
    single = gridplan.plan(queenstown_two_streets["units"], **kw, seed=7)
    dist = plan_distributed(
        queenstown_two_streets["units"],
        **kw,
        seed=7,
        scheduler=client,
        progress=lambda d, t, m: seen.append((d, t, m)),
    )
    return single, dist, seen


def test_same_plan_as_one_process(queenstown_plans):
    single, dist, _ = queenstown_plans
    assert_same_plan(single, dist)


def test_same_plan_with_dedicated_areas_and_locks(client):
    layers = lattice_province(4)
    u = layers["units"]
    crs = u.crs
    dedicated = gpd.GeoDataFrame(
        {
            "dedicated_id": ["market", "park", "school", "depot"],
            "category": ["market", "park", "school", "industry"],
            "name": ["S3/S4 market", "park", "school in the park", ""],
        },
        geometry=[
            box(3600 - 150, 0, 3600 + 150, 100),  # straddles streets S3 and S4
            box(700, 300, 1000, 500),  # in S1C2, overlapped by the school
            box(900, 400, 1100, 500),  # smaller: keeps the overlap, reaches into S2C1
            box(6000, 0, 6100, 100),  # outside every community, no units
        ],
        crs=crs,
    )
    locks = {"S2C2-0-0": "L1", "S2C2-0-1": "L1", "S2C2-1-0": "L1"}
    kw = {"communities": layers["communities"], "dedicated": dedicated, "locks": locks}
    single = gridplan.plan(u, **kw, seed=3)
    dist = plan_distributed(u, **kw, seed=3, scheduler=client)
    assert (dist.grids["kind"] == "dedicated").sum() == 4
    assert_same_plan(single, dist)
    assert_conserved(dist, u)


def test_same_plan_when_far_barriers_change_the_tree(client):
    layers = lattice_province(2)
    u, comm = layers["units"], layers["communities"]
    far = 50_000.0  # street S2 moved 50 km east, among 400 short roads of its own

    def east(gdf: gpd.GeoDataFrame) -> gpd.GeoSeries:
        moved = shapely.transform(
            gdf.geometry.to_numpy(), lambda xy: xy + np.array([far - 1200, 0.0])
        )
        return gpd.GeoSeries(np.where(gdf["street_id"] == "S2", moved, gdf.geometry), crs=u.crs)

    u = u.set_geometry(east(u))
    comm = comm.set_geometry(east(comm))
    rng = np.random.default_rng(1)
    lines = [
        LineString([(x, -10), (x + rng.uniform(-80, 80), 510)])
        for x in 100 + 200 * np.arange(6) + rng.uniform(-30, 30, 6)
    ]
    lines.append(LineString([(-10, 250), (1210, 260)]))
    for x0, y0 in zip(far + rng.uniform(0, 1200, 400), rng.uniform(0, 500, 400), strict=True):
        lines.append(LineString([(x0, y0), (x0 + 50, y0 + 40)]))
    roads = gpd.GeoDataFrame(
        {
            "barrier_id": [f"b{i}" for i in range(len(lines))],
            "barrier_class": "major_road",
            "name": [f"road {i}" for i in range(len(lines))],
        },
        geometry=lines,
        crs=u.crs,
    )
    kw = {"communities": comm, "barriers": roads}
    single = gridplan.plan(u, **kw)
    dist = plan_distributed(u, **kw, scheduler=client)
    assert_same_plan(single, dist)


def test_parts_conserve_every_household(queenstown_plans, queenstown_two_streets):
    _, dist, _ = queenstown_plans
    assert_conserved(dist, queenstown_two_streets["units"])
    assert not (dist.diagnostics["code"] == "part_failed").any()
    # codes are numbered over the whole: two streets, each with its communities from 001
    streets = {c[6:9] for c in dist.grids["grid_code"]}
    assert streets == {"001", "002"}
    assert dist.work_crs.to_epsg() == 32648  # the whole input's UTM zone, not a part's


def test_progress_counts_parts(queenstown_plans):
    _, _, seen = queenstown_plans
    assert [(d, t) for d, t, _ in seen] == [(1, 2), (2, 2)]
    assert {m for *_, m in seen} == {"street QT-N", "street QT-S"}


# --- faults -------------------------------------------------------------------------------------


def test_failed_part_is_reported_and_the_rest_completes(client):
    layers = lattice_province(3)
    p = plan_distributed(
        layers["units"],
        communities=layers["communities"],
        scheduler=client,
        part_fn=failing_on("S2"),
    )
    failed = p.diagnostics[p.diagnostics["code"] == "part_failed"]
    assert len(failed) == 1
    row = failed.iloc[0]
    assert row["level"] == "part" and row["severity"] == "error"
    assert row["street_id"] == "S2" and row["params"]["street_codes"] == "000000002"
    en = render_frame(failed, lang="en").iloc[0]
    assert "(street S2) failed" in en["message"]
    assert "RuntimeError: disk full while planning S2" in en["message"]
    s2 = layers["units"].loc[layers["units"]["street_id"] == "S2"]
    assert list(row["unit_ids"]) == s2["unit_id"].tolist()
    assert row["households"] == int(s2["households"].sum())
    # the other streets are planned, with the codes they have in a complete plan
    assert set(p.grids["street_id"]) == {"S1", "S3"}
    assert {c[6:9] for c in p.grids["grid_code"]} == {"001", "003"}
    planned = p.units["grid_code"].notna()
    assert set(p.units.index[~planned]) == set(s2["unit_id"])
    assert (p.units.loc[~planned, "n_parts"] == 0).all()
    # nothing lost: grids + failed parts hold every household exactly once
    assert int(p.grids["households"].sum()) + int(failed["households"].sum()) == int(
        layers["units"]["households"].sum()
    )


def test_lost_worker_is_retried_without_losing_or_duplicating(client, tmp_path):
    layers = lattice_province(3)
    p = plan_distributed(
        layers["units"],
        communities=layers["communities"],
        scheduler=client,
        part_fn=counting(tmp_path, street="S2", action="exit"),
    )
    attempts = sorted(tmp_path.glob("attempt-*"))
    assert len(attempts) == 2  # killed once, rerun once
    assert len({a.name.split("-")[2] for a in attempts}) == 2  # in another worker process
    assert not (p.diagnostics["code"] == "part_failed").any()
    assert_conserved(p, layers["units"])
    client.wait_for_workers(2, timeout=60)


def test_raising_part_is_retried(client, tmp_path):
    layers = lattice_province(2)
    p = plan_distributed(
        layers["units"],
        communities=layers["communities"],
        scheduler=client,
        part_fn=counting(tmp_path, street="S1", action="raise"),
    )
    assert len(list(tmp_path.glob("attempt-*"))) == 2
    assert not (p.diagnostics["code"] == "part_failed").any()
    assert_conserved(p, layers["units"])


def test_data_error_is_not_retried(client, tmp_path):
    layers = lattice_province(2)
    p = plan_distributed(
        layers["units"],
        communities=layers["communities"],
        scheduler=client,
        part_fn=counting(tmp_path, street="S1", action="data"),
    )
    assert len(list(tmp_path.glob("attempt-*"))) == 1
    failed = p.diagnostics[p.diagnostics["code"] == "part_failed"]
    assert failed["message"].str.contains("ValidationError").all() and len(failed) == 1


# --- splitting (no cluster) ---------------------------------------------------------------------


def _prepared(layers: dict[str, gpd.GeoDataFrame], **kw) -> gridplan.Layers:
    return gridplan.prepare_layers(layers["units"], communities=layers.get("communities"), **kw)


def test_one_part_per_street_in_input_order():
    parts, home = split_layers(_prepared(lattice_province(3)))
    assert [p.keys for p in parts] == [("S1",), ("S2",), ("S3",)]
    assert [len(p.layers.units) for p in parts] == [60, 60, 60]
    assert home == {"S1C1": 0, "S1C2": 0, "S2C1": 1, "S2C2": 1, "S3C1": 2, "S3C2": 2}
    assert parts[1].layers.units.index[0] == "S2C1-0-0"


def test_streets_sharing_a_community_or_dedicated_area_stay_together():
    layers = lattice_province(4)
    u = layers["units"]
    # a community whose units lie in two streets (S1 and S2); the units carry the ids, so the
    # communities layer (which would contradict that unit's community_id) is left out
    u.loc[u["unit_id"] == "S2C1-0-0", "community_id"] = "S1C2"
    layers = {"units": u}
    # a market straddling S3 and S4
    market = gpd.GeoDataFrame(
        {"dedicated_id": ["m1"], "category": ["market"]},
        geometry=[box(6 * 600 - 150, 0, 6 * 600 + 150, 100)],
        crs=u.crs,
    )
    parts, _ = split_layers(_prepared(layers, dedicated=market))
    assert [p.keys for p in parts] == [("S1", "S2"), ("S3", "S4")]
    assert parts[1].layers.dedicated is not None and len(parts[1].layers.dedicated) == 1


def test_lock_label_across_streets_keeps_them_together():
    layers = lattice_province(3)
    parts, _ = split_layers(
        _prepared(layers), locks={"S1C1-0-0": "L1", "S3C1-0-0": "L1", "S2C1-0-0": "L2"}
    )
    assert [p.keys for p in parts] == [("S1", "S3"), ("S2",)]
    assert parts[1].locks == {"S2C1-0-0": "L2"}


def test_split_by_county_needs_the_column():
    with pytest.raises(gridplan.ValidationError, match="county_id"):
        split_layers(_prepared(lattice_province(2)), split_by="county")
    layers = lattice_province(3)
    layers["units"]["county_id"] = np.where(layers["units"]["street_id"] == "S3", "B", "A")
    parts, _ = split_layers(_prepared(layers), split_by="county")
    assert [p.keys for p in parts] == [("A",), ("B",)]


def test_parts_are_in_the_whole_inputs_working_crs():
    # three streets across 108 E, the edge of UTM zones 48 and 49, in lon/lat
    layers = lattice_province(3, x0=166_021.0 - 1_800.0)
    wgs = {k: v.to_crs(4326) for k, v in layers.items()}
    prepared = _prepared(wgs)
    whole = working_crs(prepared.units)
    alone = {working_crs(prepared.units[prepared.units["street_id"] == s]) for s in ("S1", "S3")}
    assert len(alone) == 2  # planned alone, the first and the last street change zone
    parts, _ = split_layers(prepared)
    assert all(p.layers.units.crs == whole for p in parts)
    assert shapely.equals_exact(
        parts[0].layers.units.geometry.iloc[0],
        prepared.units.to_crs(whole).geometry.iloc[0],
        tolerance=0.0,
    )


def test_plan_with_the_dask_engine_is_the_one_process_plan(client):
    # gridplan.plan validates once and hands the prepared layers to the Dask engine
    layers = lattice_province(2)
    single = gridplan.plan(layers["units"], communities=layers["communities"], seed=2)
    dask = gridplan.plan(
        layers["units"],
        communities=layers["communities"],
        seed=2,
        engine="dask",
        scheduler=client,
    )
    assert_same_plan(single, dask)
