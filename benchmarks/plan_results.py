"""Issue 14's ratios, measured in one run: how far a plan is from the work it cannot avoid.

    .venv/bin/python benchmarks/plan_results.py [--out benchmarks/PLAN_RESULTS.md] [--copies 4]

On the Singapore whole island (``province_bench.singapore``: 10,744 HDB blocks, 1,167,900
households, subzones as communities, planning areas as streets, the partial barrier layer; in
SVY21 with the copy suffix ``-1``), in this order, in this one process:

1. the plan in one process (``workers=1``): the reference digest;
2. **whole plan**: read the layers, ``gridplan.plan(..., workers=2)``, ``write_geopackage``;
3. **physical floor** (3 times, median): read the same layers, one Voronoi cell per block
   inside its subzone, a Delaunay graph over the blocks, dissolve the cells into the plan's
   grids and micro-grids, write grids, micro-grids and units to a GeoPackage;
4. **grid stage** (``gridplan.stages.plan_grids`` on the plan's own cells) against **METIS**
   (pymetis, ``benchmarks/peers.metis``) on the same cell graph
   (``benchmarks/shared_graph.build``), one process each;
5. **tiled**: ``--copies`` copies of the island side by side (``province_bench.province``),
   planned with ``workers=2``, against one copy planned the same way just before (plan
   calls only);
6. **replan** of the largest community (most households) inside the whole-island plan:
   without edits, with one unit moved, with two grids locked and a unit moved.

Wall times: the machine is shared, so the load average is recorded at the start and end of
every step. Ratios within one run share the load they saw.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from evaluate import DIAGNOSTIC_FAMILY
from peers import metis
from province_bench import plan_digest, province, singapore
from scipy.spatial import Delaunay
from shared_graph import build

import gridplan
from gridplan.export import write_geopackage
from gridplan.stages import build_cells, plan_grids, prepare

HERE = Path(__file__).resolve().parent


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


class Step:
    """Wall time of a block, with the load average at its start and end."""

    def __init__(self, name: str, log: list[dict]) -> None:
        self.name, self.log = name, log

    def __enter__(self) -> Step:
        self.load0 = _load()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.s = time.perf_counter() - self.t0
        self.log.append({"step": self.name, "s": self.s, "load": f"{self.load0} -> {_load()}"})
        print(f"{self.name}: {self.s:.2f} s (load {self.load0} -> {_load()})", flush=True)


def _context(layers: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    return {k: v for k, v in layers.items() if k != "units"}


def floor(plan: gridplan.Plan, out: Path) -> None:
    """The work any planner of these grids must do: read, cells, graph, dissolve, write."""
    layers = singapore()
    units, comm = layers["units"], layers["communities"]
    pts = units.geometry.to_numpy()
    xy = shapely.get_coordinates(pts)
    region = dict(zip(comm["community_id"], comm.geometry.to_numpy(), strict=True))
    cells = np.empty(len(units), dtype=object)
    owner = units["community_id"].to_numpy()
    for cid, idx in pd.Series(np.arange(len(units))).groupby(owner).groups.items():
        idx = np.asarray(idx)
        area = region[cid]
        if idx.size == 1:
            cells[idx] = area
            continue
        v = shapely.voronoi_polygons(shapely.multipoints(xy[idx]), extend_to=area, ordered=True)
        parts = shapely.get_parts(v)
        if parts.size == idx.size:
            cells[idx] = parts
        else:  # repeated points: their cells are the nearest of the parts
            tree = shapely.STRtree(parts)
            cells[idx] = parts[tree.query_nearest(pts[idx], return_distance=False)[1]]
    areas = np.array([region[c] for c in owner], dtype=object)
    cells = shapely.intersection(cells, areas)
    tri = Delaunay(xy)
    s = tri.simplices
    e = np.sort(np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]]), axis=1)
    e = np.unique(e, axis=0)
    e = e[owner[e[:, 0]] == owner[e[:, 1]]]
    assert e.shape[0] > len(units)
    u = plan.units
    frame = gpd.GeoDataFrame(
        {
            "grid_code": u["grid_code"].to_numpy(),
            "microgrid_code": [str(m).split(";")[0] for m in u["microgrid_code"]],
        },
        geometry=cells,
        crs=units.crs,
    )
    grids = frame.dissolve(by="grid_code").reset_index()[["grid_code", "geometry"]]
    micro = frame.dissolve(by="microgrid_code").reset_index()[["microgrid_code", "geometry"]]
    out.unlink(missing_ok=True)
    pyogrio.write_dataframe(grids, out, layer="grids")
    pyogrio.write_dataframe(micro, out, layer="microgrids", append=True)
    pyogrio.write_dataframe(units, out, layer="units", append=True)


def _quality(plan: gridplan.Plan) -> dict[str, str]:
    g = plan.grids[plan.grids["kind"] == "residential"]
    m = plan.microgrids
    diag = plan.diagnostics["code"].replace(DIAGNOSTIC_FAMILY).value_counts()
    return {
        "residential grids / in band": f"{len(g):,} / {g['in_band'].mean():.2%}",
        "micro-grids / in band": f"{len(m):,} / {m['in_band'].mean():.2%}",
        "mean compactness grids / micro-grids": (
            f"{g['compactness'].mean():.4f} / {m['compactness'].mean():.4f}"
        ),
        "households in grids / micro-grids": (
            f"{int(plan.grids['households'].sum()):,} / {int(m['households'].sum()):,}"
        ),
        "diagnostics": ", ".join(f"{k} {v}" for k, v in diag.items()),
    }


def _a_move(plan: gridplan.Plan, community: str) -> tuple[str, str]:
    """A unit of ``community`` at the edge of its grid, and the neighbouring grid of the same
    community it is moved into."""
    g = plan.grids[
        (plan.grids["community_id"] == community) & (plan.grids["kind"] == "residential")
    ]
    g = g.to_crs(plan.work_crs)
    u = plan.units[(plan.units["community_id"] == community) & (plan.units["n_parts"] == 1)]
    u = u.to_crs(plan.work_crs)
    for src in g["grid_code"]:
        mine = u[u["grid_code"] == src]
        if len(mine) < 3:
            continue
        here = g.loc[g["grid_code"] == src, "geometry"].iloc[0]
        near = g[(g["grid_code"] != src) & g.geometry.touches(here)]
        if len(near):
            return str(mine.geometry.distance(near.geometry.iloc[0]).idxmin()), str(
                near["grid_code"].iloc[0]
            )
    raise RuntimeError(f"no grid of {community} has a neighbour")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=HERE / "PLAN_RESULTS.md")
    ap.add_argument("--copies", type=int, default=4)
    args = ap.parse_args()
    log: list[dict] = []
    load_start = _load()
    t_all = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="plan_results_"))

    layers = singapore()
    # 1. one process first (its digest is the reference; the process is warm after it)
    with Step("plan call, workers=1", log):
        plan1 = gridplan.plan(layers["units"], **_context(layers), workers=1, seed=0)
    digests = [plan_digest(plan1)]
    del plan1
    # 2. whole plan, 2 workers: read + plan + write
    with Step("whole plan (read + plan workers=2 + write)", log) as whole:
        layers = singapore()
        with Step("plan call, workers=2", log):
            plan = gridplan.plan(layers["units"], **_context(layers), workers=2, seed=0)
        write_geopackage(plan, work / "plan.gpkg")
    digests.append(plan_digest(plan))
    # 3. the physical floor, 3 times
    floors = []
    for k in range(3):
        with Step(f"physical floor {k + 1}", log) as f:
            floor(plan, work / "floor.gpkg")
        floors.append(f.s)
    floor_s = statistics.median(floors)
    # 4. grid stage against METIS on the same graph
    rules = gridplan.PlanRules()
    prepared = prepare(layers["units"], **_context(layers), rules=rules)
    cells = build_cells(prepared, rules=rules)
    with Step("grid stage (plan_grids)", log) as grid_stage:
        gp = plan_grids(cells, rules=rules, seed=0)
    graph = build(layers["units"], _context(layers))
    with Step("METIS (pymetis, per piece)", log) as met:
        labels, _ = metis(graph)
    n_metis = int(np.unique(labels).size)
    n_stage = int((gp.grids["kind"] == "residential").sum())
    del gp, cells, prepared, graph
    # 5. tiled copies, against one copy planned just before them the same way
    with Step("plan call, one copy, workers=2 (before the tiled run)", log) as one_copy:
        again = gridplan.plan(layers["units"], **_context(layers), workers=2, seed=0)
    digests.append(plan_digest(again))
    del again
    tiled = province(args.copies)
    with Step(f"plan call, {args.copies} copies, workers=2", log) as many:
        big = gridplan.plan(tiled["units"], **_context(tiled), workers=2, seed=0)
    hh_big = int(big.grids["households"].sum())
    del big, tiled
    # 6. replan of the largest community
    largest = str(plan.units.groupby("community_id")["households"].sum().idxmax())
    n_comm_grids = int((plan.grids["community_id"] == largest).sum())
    unit, target = _a_move(plan, largest)
    res = plan.grids[
        (plan.grids["community_id"] == largest) & (plan.grids["kind"] == "residential")
    ]
    locks = [c for c in res["grid_code"] if c != target][:2]
    replans = {}
    for name, kw in (
        ("no edits", {}),
        ("one unit moved", {"moves": {unit: target}}),
        ("2 grids locked, one unit moved", {"moves": {unit: target}, "locks": locks}),
    ):
        with Step(f"replan {largest}, {name}", log) as r:
            q = gridplan.replan(plan, communities=[largest], **kw)
        replans[name] = r.s
        assert int(q.grids["households"].sum()) == int(plan.grids["households"].sum())
        if "moves" in kw:
            assert q.units.loc[unit, "grid_code"] == target
    total_s = time.perf_counter() - t_all

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    ratio_floor = whole.s / floor_s
    ratio_metis = grid_stage.s / met.s
    ratio_tiled = many.s / one_copy.s
    best_replan = max(replans.values())
    rows = [
        (
            "whole plan / physical floor, 2 cores",
            "<= 4x",
            f"{ratio_floor:.1f}x ({whole.s:.1f} s / {floor_s:.2f} s)",
        ),
        (
            "grid stage / METIS on the same graph",
            "<= 3x",
            f"{ratio_metis:.1f}x ({grid_stage.s:.2f} s / {met.s:.2f} s)",
        ),
        (
            f"{args.copies} tiled copies of Singapore / one copy (workers=2)",
            f"<= {args.copies * 1.05:.1f}x",
            f"{ratio_tiled:.2f}x ({many.s:.1f} s / {one_copy.s:.1f} s)",
        ),
        (
            f"`replan` of the largest community ({largest}, {n_comm_grids} grids)",
            "<= 1.5 s",
            f"{best_replan:.2f} s (slowest of the three edits below)",
        ),
    ]
    text = [
        "# Plan speed: ratios to the unavoidable work (issue 14)",
        "",
        f"Commit `{commit}`, Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"shared machine (load average 1/5/15 min at start {load_start}). Command "
        "`.venv/bin/python benchmarks/plan_results.py` (one run, "
        f"{total_s / 60:.1f} min). Singapore whole island: 10,744 HDB blocks, 1,167,900 "
        "households, 332 subzones as communities, 55 planning areas as streets.",
        "",
        "| figure | goal | measured |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
        "- **Whole plan**: read the layers, `gridplan.plan(..., workers=2)`, "
        "`write_geopackage` (every layer of the plan). **Physical floor** (median of 3): read "
        "the same layers, one Voronoi cell per block inside its subzone, a Delaunay graph "
        "over the blocks, dissolve the cells into the plan's grids and micro-grids, write "
        "three GeoPackage layers.",
        f"- **Grid stage**: `gridplan.stages.plan_grids` on the plan's cells ({n_stage:,} "
        f"residential grids). **METIS**: pymetis k-way with household weights and "
        f"`contig=1` on each connected piece of each community's cell graph, k = round(T / "
        f"400) ({n_metis:,} parts; no band, no barriers), graph conversion included.",
        f"- **Tiled**: {args.copies} copies side by side ({hh_big:,} households), the plan "
        "call only, against a one-copy plan call with workers=2 made just before it.",
        "- **Same plan in one process and in two**: digest of units, grids and micro-grids "
        f"(codes, households, geometry) with workers=1 `{digests[0]}`, with workers=2 "
        f"`{digests[1]}` and `{digests[2]}` "
        f"({'identical' if len(set(digests)) == 1 else 'DIFFERENT'}).",
        "",
        "## Replan of the largest community",
        "",
        "Inside the whole-island plan, after it (numba's compiled search already loaded):",
        "",
        "| edit | wall (s) |",
        "|---|---|",
        *[f"| {k} | {v:.2f} |" for k, v in replans.items()],
        "",
        "## The one-copy plan",
        "",
        "| measure | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in _quality(plan).items()],
        "",
        "## Every step, with the load it saw",
        "",
        "| step | wall (s) | load 1/5/15 start -> end |",
        "|---|---|---|",
        *[f"| {r['step']} | {r['s']:.2f} | {r['load']} |" for r in log],
        "",
    ]
    args.out.write_text("\n".join(text), encoding="utf-8")
    print("\n".join(text))


if __name__ == "__main__":
    main()
