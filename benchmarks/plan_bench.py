"""Whole-plan benchmark (issue 4's target): Singapore whole island, grids + micro-grids +
codes + report, timed end to end.

    .venv/bin/python benchmarks/plan_bench.py [--out FILE]

``benchmarks/PLAN_RESULTS.md`` is written by ``benchmarks/plan_results.py`` (issue 14's ratios,
with the same plan figures); this script prints its table, and writes it only with ``--out``.

Wall time depends on what else the machine runs, so CPU time (this process) is recorded too.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
from evaluate import DIAGNOSTIC_FAMILY

import gridplan

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("GRIDPLAN_SHARED_DATA", HERE.parents[1] / "shared" / "data"))


def singapore_layers():
    b = gpd.read_file(SHARED / "singapore_hdb_buildings.gpkg", layer="buildings")
    sz = gpd.read_file(SHARED / "singapore_boundaries.gpkg", layer="subzones")
    pa = gpd.read_file(SHARED / "singapore_boundaries.gpkg", layer="planning_areas")
    bars = gpd.read_file(SHARED / "singapore_boundaries.gpkg", layer="barriers")
    units = b[["postal", "households", "subzone_code", "max_floor_lvl", "geometry"]].rename(
        columns={"postal": "unit_id", "subzone_code": "community_id", "max_floor_lvl": "floors"}
    )
    comm = sz.rename(
        columns={"SUBZONE_C": "community_id", "SUBZONE_N": "name", "PLN_AREA_C": "street_id"}
    )[["community_id", "name", "street_id", "geometry"]]
    comm = comm[comm["community_id"].isin(units["community_id"])]
    streets = pa.rename(columns={"PLN_AREA_C": "street_id", "PLN_AREA_N": "name"})[
        ["street_id", "name", "geometry"]
    ]
    major = bars["highway"].astype(str).str.startswith(("motorway", "trunk", "primary"))
    bars["barrier_class"] = np.where(major, "major_road", "secondary_road")
    return units, comm, streets, bars


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    units, comm, streets, bars = singapore_layers()
    load = os.getloadavg()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    plan = gridplan.plan(units, communities=comm, streets=streets, barriers=bars, seed=0)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    g = plan.grids[plan.grids["kind"] == "residential"]
    m = plan.microgrids
    hh = int(units["households"].sum())
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    rows = [
        ("wall time (s)", f"{wall:.1f}"),
        ("CPU time, this process (s)", f"{cpu:.1f}"),
        ("peak RSS (MB)", f"{peak_mb:.0f}"),
        ("load average at start (1/5/15 min)", " / ".join(f"{x:.1f}" for x in load)),
        ("units / households", f"{len(units):,} / {hh:,}"),
        ("residential grids / in band", f"{len(g):,} / {g['in_band'].mean():.2%}"),
        ("micro-grids / in band", f"{len(m):,} / {m['in_band'].mean():.2%}"),
        (
            "households in grids / in micro-grids",
            f"{int(plan.grids['households'].sum()):,} / {int(m['households'].sum()):,}",
        ),
        (
            "mean compactness (Polsby-Popper) grids / micro-grids",
            f"{g['compactness'].mean():.3f} / {m['compactness'].mean():.3f}",
        ),
        (
            "diagnostics",
            ", ".join(
                f"{k} {v}"
                for k, v in plan.diagnostics["code"]
                .replace(DIAGNOSTIC_FAMILY)
                .value_counts()
                .items()
            ),
        ),
    ]
    text = [
        "# Whole-plan benchmark: Singapore, whole island",
        "",
        f"`gridplan.plan` (grids + micro-grids + codes + report) at commit `{commit}`, "
        f"Python {platform.python_version()}, {os.cpu_count()} cores; command "
        "`.venv/bin/python benchmarks/plan_bench.py`. Issue 4's target: <= 60 s on 2 cores.",
        "",
        "| measure | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in rows],
        "",
    ]
    if args.out is not None:
        args.out.write_text("\n".join(text), encoding="utf-8")
    print("\n".join(text))


if __name__ == "__main__":
    main()
