"""Province benchmark: one process vs a local Dask cluster on a tiled Singapore.

A synthetic province is built by tiling the real Singapore HDB blocks (1,167,900 counted
households in 10,744 blocks) side by side in SVY21 (EPSG:3414): copy ``k`` is shifted east by
``k x (width + gap)`` and its unit, community (subzone) and street (planning area) ids get the
suffix ``-k``. Five copies hold 5.84 million households in 160 streets.

Each engine is run by its own command (its own process), so its peak memory is its own:

* ``single``: :func:`gridplan.plan` in one process;
* ``dask``: :func:`gridplan.distributed.plan_distributed` on a local cluster (``--workers``
  worker processes with one thread each), split by street. Peak memory per worker is the
  worker process's own peak RSS (``getrusage``), read with ``client.run`` at the end, and the
  largest RSS seen by a 1 s psutil sampler.

Every run records a digest of the whole plan, so the two engines' plans can be compared.

Usage (the engine changes fast: freeze a copy of the package so both engines run the same code;
the workers inherit ``PYTHONPATH``)::

    cp -r gridplan /tmp/gp_snapshot/
    export PYTHONPATH=/tmp/gp_snapshot GRIDPLAN_SNAPSHOT=$(git rev-parse --short HEAD)
    .venv/bin/python benchmarks/province_bench.py run --copies 5 --engine dask
    .venv/bin/python benchmarks/province_bench.py run --copies 5 --engine single
    .venv/bin/python benchmarks/province_bench.py report benchmarks/work/province_runs.jsonl

Results of each run are appended to ``benchmarks/work/province_runs.jsonl``; ``report`` writes
``benchmarks/PROVINCE_RESULTS.md`` from one or more such files.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import sys
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared" / "data"
RUNS = HERE / "work" / "province_runs.jsonl"
RESULTS = HERE / "PROVINCE_RESULTS.md"
CRS = "EPSG:3414"  # SVY21 / Singapore TM, metres
GAP_M = 5_000.0

log = logging.getLogger("province_bench")


def _shift(gdf: gpd.GeoDataFrame, dx: float) -> gpd.GeoDataFrame:
    out = gdf.copy()
    geoms = out.geometry.to_numpy()
    out[out.geometry.name] = gpd.GeoSeries(
        shapely.transform(geoms, lambda xy: xy + np.array([dx, 0.0])), index=out.index, crs=CRS
    )
    return out


def singapore() -> dict[str, gpd.GeoDataFrame]:
    """One copy: units (HDB blocks), communities (subzones), streets (planning areas),
    barriers (the partial major-road layer), all in EPSG:3414 with gridplan columns."""
    b = gpd.read_file(SHARED / "singapore_hdb_buildings.gpkg", layer="buildings").to_crs(CRS)
    sz = gpd.read_file(SHARED / "singapore_boundaries.gpkg", layer="subzones").to_crs(CRS)
    pa = gpd.read_file(SHARED / "singapore_boundaries.gpkg", layer="planning_areas").to_crs(CRS)
    bars = gpd.read_file(SHARED / "singapore_boundaries.gpkg", layer="barriers").to_crs(CRS)
    area_code = dict(zip(pa["PLN_AREA_N"], pa["PLN_AREA_C"], strict=True))
    units = gpd.GeoDataFrame(
        {
            "unit_id": b["hdb_objectid"].astype(str),
            "households": b["households"].astype(int),
            "floors": b["max_floor_lvl"],
            "community_id": b["subzone_code"].astype(str),
            "street_id": b["planning_area"].map(area_code).astype(str),
        },
        geometry=b.geometry.to_numpy(),
        crs=CRS,
    )
    communities = gpd.GeoDataFrame(
        {
            "community_id": sz["SUBZONE_C"].astype(str),
            "name": sz["SUBZONE_N"],
            "street_id": sz["PLN_AREA_C"].astype(str),
        },
        geometry=sz.geometry.to_numpy(),
        crs=CRS,
    )
    streets = gpd.GeoDataFrame(
        {"street_id": pa["PLN_AREA_C"].astype(str), "name": pa["PLN_AREA_N"]},
        geometry=pa.geometry.to_numpy(),
        crs=CRS,
    )
    barriers = gpd.GeoDataFrame(
        {
            "barrier_id": [f"b{i}" for i in range(len(bars))],
            "name": bars["name"],
            "barrier_class": bars["barrier_class"],
        },
        geometry=bars.geometry.to_numpy(),
        crs=CRS,
    )
    return {"units": units, "communities": communities, "streets": streets, "barriers": barriers}


def province(copies: int) -> dict[str, gpd.GeoDataFrame]:
    """``copies`` translated copies of Singapore, side by side, with suffixed ids."""
    one = singapore()
    minx, _, maxx, _ = one["communities"].total_bounds
    step = (maxx - minx) + GAP_M
    id_cols = {
        "units": ("unit_id", "community_id", "street_id"),
        "communities": ("community_id", "street_id"),
        "streets": ("street_id",),
        "barriers": ("barrier_id",),
    }
    out: dict[str, list[gpd.GeoDataFrame]] = {k: [] for k in one}
    for k in range(1, copies + 1):
        for role, gdf in one.items():
            c = _shift(gdf, (k - 1) * step)
            for col in id_cols[role]:
                c[col] = c[col] + f"-{k}"
            out[role].append(c)
    return {
        role: gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=CRS)
        for role, parts in out.items()
    }


def _commit() -> str:
    """HEAD, with ``+dirty`` when gridplan/ has uncommitted changes (engines change fast)."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD")
    return head + ("+dirty" if git("status", "--porcelain", "gridplan") else "")


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


class _Sampler:
    """Largest RSS of every worker, sampled once a second with ``client.run``."""

    def __init__(self, client) -> None:
        self.client = client
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        import psutil

        def rss() -> float:
            return psutil.Process().memory_info().rss / 2**20

        while not self._stop.wait(1.0):
            try:
                for w, mb in self.client.run(rss).items():
                    self.peak[w] = max(self.peak.get(w, 0.0), float(mb))
            except Exception:  # a worker restarting; the next sample catches up
                continue

    def __enter__(self) -> _Sampler:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def plan_digest(p) -> str:
    """SHA-256 over every unit's codes and every grid's and micro-grid's code, households and
    geometry (WKB): equal digests mean the two engines gave the same plan."""
    import hashlib

    h = hashlib.sha256()
    u = p.units.sort_index()
    for col in ("grid_code", "microgrid_code", "n_parts"):
        h.update("|".join(map(str, u[col].tolist())).encode())
    for frame, code in ((p.grids, "grid_code"), (p.microgrids, "microgrid_code")):
        f = frame.sort_values(code)
        h.update("|".join(f[code].astype(str)).encode())
        h.update(f["households"].to_numpy(dtype=np.int64).tobytes())
        for wkb in shapely.to_wkb(f.geometry.to_numpy()):
            h.update(wkb)
    return h.hexdigest()[:16]


def run_once(copies: int, engine: str, workers: int, seed: int) -> dict:
    """Plan the province once with ``engine``; returns the measurements."""
    import gridplan
    from gridplan.distributed import plan_distributed

    t0 = time.perf_counter()
    layers = province(copies)
    t_build = time.perf_counter() - t0
    hh = int(layers["units"]["households"].sum())
    n_streets = layers["units"]["street_id"].nunique()
    log.info("province: %d copies, %d units, %d households", copies, len(layers["units"]), hh)
    kw = {k: v for k, v in layers.items() if k != "units"}
    result: dict = {
        "copies": copies,
        "engine": engine,
        "units": len(layers["units"]),
        "households": hh,
        "streets": int(n_streets),
        "build_s": round(t_build, 1),
        "seed": seed,
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
        "python": platform.python_version(),
        # a frozen copy of the package (GRIDPLAN_SNAPSHOT names its commit) keeps both engines
        # on the same code while the tree moves
        "commit": os.environ.get("GRIDPLAN_SNAPSHOT") or _commit(),
        "gridplan": str(Path(gridplan.__file__).parent),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }

    def progress(done: int, total: int, message: str) -> None:
        if done == total or done % max(1, total // 20) == 0:
            log.info("%d/%d %s (%.0f s)", done, total, message, time.perf_counter() - t0)

    t0 = time.perf_counter()
    if engine == "single":
        cpu0 = _cpu_s()
        p = gridplan.plan(layers["units"], **kw, seed=seed)
        result["wall_s"] = round(time.perf_counter() - t0, 1)
        result["cpu_s"] = round(_cpu_s() - cpu0, 1)
        result["peak_rss_mb"] = round(_peak_rss_mb(), 0)
    else:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            t_start = time.perf_counter() - t0
            cpu0 = client.run(_cpu_s)
            with _Sampler(client) as sampler:
                p = plan_distributed(
                    layers["units"], **kw, seed=seed, scheduler=client, progress=progress
                )
            result["wall_s"] = round(time.perf_counter() - t0, 1)
            peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            cpu1 = client.run(_cpu_s)
            result["worker_cpu_s"] = sorted(round(cpu1[w] - cpu0.get(w, 0.0), 1) for w in cpu1)
            result["cluster_start_s"] = round(t_start, 1)
            result["worker_peak_rss_mb"] = sorted(round(v) for v in peaks.values())
            result["worker_sampled_rss_mb"] = sorted(round(v) for v in sampler.peak.values())
        result["workers"] = workers
        result["driver_peak_rss_mb"] = round(_peak_rss_mb(), 0)
    g = p.grids
    result["plan_digest"] = plan_digest(p)
    result.update(
        grids=len(g),
        dedicated=int((g["kind"] == "dedicated").sum()),
        microgrids=len(p.microgrids),
        grids_in_band=round(float(g.loc[g["kind"] == "residential", "in_band"].mean()), 4),
        households_in_grids=int(g["households"].sum()),
        households_in_microgrids=int(p.microgrids["households"].sum()),
        failed_parts=int((p.diagnostics["code"].isin(["part_failed", "part_failed_county"])).sum()),
        load_after=os.getloadavg(),
    )
    return result


def cmd_run(args: argparse.Namespace) -> None:
    res = run_once(args.copies, args.engine, args.workers, args.seed)
    RUNS.parent.mkdir(parents=True, exist_ok=True)
    with RUNS.open("a") as f:
        f.write(json.dumps(res) + "\n")
    print(json.dumps(res, indent=1))


def _table(runs: pd.DataFrame) -> list[str]:
    lines = [
        "| copies | households | units | streets | engine | wall (s) | CPU (s) | speed-up |"
        " speed-up per core | peak RSS per process (MB) | grids | micro-grids | plan digest |"
        " load avg before, after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for copies, grp in runs.groupby("copies"):
        single = grp[grp["engine"] == "single"]
        # against the fastest one-process run of the same size: the conservative choice
        base = float(single["wall_s"].min()) if len(single) else float("nan")
        digest = single["plan_digest"].iloc[-1] if len(single) else None
        for _, r in grp.iterrows():
            if r["engine"] == "dask":
                w = int(r["workers"])
                engine = f"dask, {w} workers"
                cpu = " + ".join(f"{v:.0f}" for v in r["worker_cpu_s"])
                mem = "workers " + ", ".join(str(v) for v in r["worker_peak_rss_mb"])
                mem += f"; client {int(r['driver_peak_rss_mb'])}"
            else:
                w = 1
                engine = "one process"
                cpu = f"{r['cpu_s']:.0f}"
                mem = str(int(r["peak_rss_mb"]))
            speed = base / r["wall_s"]
            same = (
                ""
                if r["engine"] == "single"
                else (" (=)" if r["plan_digest"] == digest else " (≠)")
            )
            lines.append(
                f"| {copies} | {r['households']:,} | {r['units']:,} | {r['streets']} | {engine} | "
                f"{r['wall_s']:.0f} | {cpu} | {speed:.2f} | {speed / w:.2f} | {mem} | "
                f"{r['grids']:,} | {r['microgrids']:,} | `{r['plan_digest']}`{same} | "
                f"{r['load_before'][0]:.1f}, {r['load_after'][0]:.1f} |"
            )
    return lines


def cmd_report(args: argparse.Namespace) -> None:
    sections = []
    for path in args.runs:
        rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
        runs = pd.DataFrame(rows)
        code = ", ".join(sorted(set(runs["commit"])))
        sections += [f"### Runs on `{code}` ({Path(path).name})", "", *_table(runs), ""]
    text = NOTES.strip().replace("{{TABLES}}", "\n".join(sections).strip())
    RESULTS.write_text(text + "\n")
    print(text)


NOTES = """
# Province benchmark: one process vs a local Dask cluster

Issue 8. `benchmarks/province_bench.py` tiles the real Singapore HDB data into a synthetic
province and plans it with `gridplan.plan` (one process) and with
`gridplan.distributed.plan_distributed` (a `distributed.LocalCluster` of 2 worker processes, 1
thread each, split by street). Tables and this note are written by
`province_bench.py report <runs.jsonl>...`; the runs themselves are in `benchmarks/work/`.

**Input.** `singapore_hdb_buildings.gpkg` (10,744 blocks, 1,167,900 counted households),
subzones as communities and planning areas as streets (`singapore_boundaries.gpkg`), the partial
major-road layer as barriers, all in SVY21 (EPSG:3414). Copy *k* is shifted east by *k* x (width of
Singapore + 5 km) and its unit, community and street ids get the suffix `-k`. Five copies:
**5,839,500 households**, 53,720 blocks, 1,660 communities (790 with blocks), 160 streets with
blocks. Default rules (grids 300-500, micro-grids 30-50), seed 0.

**Machine.** 2 cores, 24 GB, *shared with other engineers' test runs*: "load avg before, after"
is the 1-minute load average when the run started and ended (the two engines' own processes add
about 1 and 2). Each engine ran in its own process, one after the other.
"CPU (s)" is user + system time of the planning process (one process) or of each worker
(Dask). "speed-up" is the *fastest* one-process wall time for the same number of copies
divided by the row's wall time (conservative); "per core" divides it by the workers. Peak
RSS is each process's own peak (`getrusage`); the workers' come from `client.run`, and the
client holds the inputs and the merged plan. "plan digest" hashes every unit's codes and
every grid's and micro-grid's code, households and geometry (WKB); `(=)` marks a Dask plan
identical to the one-process plan, `(≠)` one that is not.

{{TABLES}}

## Reading the figures

* **Same answer.** With the engine at `2c16829` plus the two-line tree-order fix below, the
  distributed plans are byte-identical to the one-process plans at 2 and 5 copies (same digest:
  codes, assignments, households and geometry of all 14,664 grids and 139,597 micro-grids).
  Without the fix (the `2c16829` runs) grid and micro-grid counts agree but the digests do not:
  in one copy, 0.3 % of the grid polygons start their rings at another vertex and 0.07 % of
  the blocks land in other micro-grids. The cause is in the engine, not the split:
  `tessellate` unions the barrier lines (and dedicated areas) hitting a community in the order an
  `STRtree` returns them, and that order depends on everything else in the tree, so a street
  planned with fewer barriers around it gets faces with the same area but other vertex order.
  Sorting the hits (`np.sort(bar_tree.query(...))`, `np.sort(er_tree.query(...))` in
  `tessellation.tessellate`, and the lowest barrier per segment in `adjacency.cell_edges`) makes
  them identical (checked on one copy in-process and on 2 and 5 copies through Dask).
* **Speed.** Five copies: 488 s in one process, 208 s on the 2-worker cluster, a speed-up of
  2.35 (1.17 per core). It is more than 2 because the one-process engine does more than linear
  work as the input grows (139-163 CPU-s for 2 copies, 488 for 5: 3-3.5x the work for 2.5x
  the data; some per-piece steps scan the whole input), while a street-sized part stays small
  (the two workers together spent 378 CPU-s). At 2 copies the first cluster run was no faster
  than one process because another engineer's job started during it and held one of the two
  cores (load 0.2 before, 4.3 after; each worker got about half a core: 78 CPU-s in 150 s);
  rerun on free cores it took 100 s, 1.47x the fastest one-process run (1.68x the one right
  after it). Starting the cluster takes about 2 s, splitting 1 s, merging and recoding 7 s
  for 5 copies.
* **Memory.** A worker peaks at about 380 MB whatever the province's size (it holds one street
  at a time), against 711 MB for the one-process plan of 5 copies; the client peaks at about
  700 MB because it holds the whole input and the merged plan. For the ~12 million households
  of a real province expect a client of roughly 1.5 GB and workers of 400-500 MB.
* **Granularity.** Parts are streets, submitted largest first; the largest street (Tampines,
  86,549 households, 5.2 s alone) is about 1.4 % of the 5-copy work, so a cluster of a few
  dozen cores would still be kept busy by a province of 500+ streets. `split_by="county"`
  gives fewer, larger parts (units need a `county_id` column).

## Running on a real cluster

1. On every machine: the same Python and `pip install "gridplan[dask]"` (the workers import
   gridplan; versions must match the client's).
2. On one machine: `dask scheduler` (listens on `tcp://HOST:8786`, dashboard on 8787 when
   bokeh is installed).
3. On each machine: `dask worker tcp://HOST:8786 --nworkers N --nthreads 1` with N = its
   cores (gridplan is single-threaded Python; one thread per process avoids the GIL).
   `--memory-limit` of 1-2 GB per worker is ample.
4. From the planner's machine: `plan_distributed(units, ..., scheduler="tcp://HOST:8786")`, or
   on the command line `gridplan plan ... --engine dask --scheduler tcp://HOST:8786` once the
   CLI hook is in. Inputs are validated on the client and sent with each street's task; results
   come back to the client, so it needs memory for the whole plan (see above) and a network
   path to the scheduler.
5. A worker that dies mid-street is replaced by the scheduler and its street rerun elsewhere
   (households are neither lost nor counted twice: each street's result is taken once); a
   street whose planning raises is retried twice, then reported as a `part_failed` diagnostics
   row with its street code, the error and all its units, while the rest of the province
   completes.
"""


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="plan the province once and append the figures")
    r.add_argument("--copies", type=int, default=5)
    r.add_argument("--engine", choices=["single", "dask"], default="dask")
    r.add_argument("--workers", type=int, default=2)
    r.add_argument("--seed", type=int, default=0)
    r.set_defaults(func=cmd_run)
    rep = sub.add_parser("report", help="write PROVINCE_RESULTS.md from the recorded runs")
    rep.add_argument("runs", nargs="*", default=[str(RUNS)], help="run files (JSON lines)")
    rep.set_defaults(func=cmd_report)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
