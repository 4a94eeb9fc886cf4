"""Cells from the street network against today's cells: time, blocks, exact coverage, parts,
and how much of the cell boundaries runs on a line (issue 13).

For each instance it runs

- today's :func:`gridplan.tessellation.tessellate` (Voronoi per unit inside barrier faces of
  each region, regions from community polygons or :func:`~gridplan.tessellation.region_hulls`
  when there are none, as :mod:`gridplan.partition.grids` calls it now);
- :func:`gridplan.cells.street_tessellate` with every line layer (roads, barriers, compound
  outlines; the study area from :func:`gridplan.cells.study_area`);
- momepy 0.11 ``enclosures`` + ``enclosed_tessellation`` (one process, ``n_jobs=1``: the
  machine's two cores are shared), where it applies,

and measures each result with :mod:`gridplan.metrics`: overlap area and gap area against the
study area by a 1 cm fixed-precision overlay, cells that are not one Polygon, units without a
cell, and the share of the edges between cells within 3 m of a road, barrier, compound outline
or boundary line.

Run: ``PYTHONPATH=. python benchmarks/streets_bench.py`` (writes ``benchmarks/STREETS_RESULTS.md``).
``--only NAME`` runs one instance and prints its row without writing the file.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan.cells import as_lines, blocks, street_tessellate, study_area
from gridplan.metrics import (
    boundary_on_lines_share,
    gap_area,
    length_near_lines,
    multipart_count,
    overlap_area,
    ribbons,
    shared_edges,
)
from gridplan.tessellation import region_hulls, tessellate

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GRIDPLAN_SHARED_DATA", "/work/shared/data"))
OUT = REPO / "benchmarks" / "STREETS_RESULTS.md"


@dataclass
class Case:
    """One instance: units, how today's code would tessellate them, and the street layers."""

    name: str
    title: str
    geoms: np.ndarray
    households: np.ndarray
    # today's call
    old_region_of: np.ndarray
    old_regions: dict
    old_barriers: np.ndarray | None
    # the new call
    region_of: np.ndarray
    regions: dict
    roads: Any = None
    barriers: Any = None
    compounds: Any = None
    boundaries: Any = None
    notes: list[str] = field(default_factory=list)
    momepy: bool = True

    @property
    def lines(self) -> np.ndarray:
        """Every line a boundary may follow: roads, barriers, walls, region outlines."""
        return as_lines(
            self.roads,
            self.barriers,
            self.compounds,
            self.boundaries,
            list(self.regions.values()),
        )

    @property
    def area(self):
        return shapely.union_all(list(self.regions.values()))


def _arr(gdf: gpd.GeoDataFrame | None) -> np.ndarray | None:
    return None if gdf is None or len(gdf) == 0 else gdf.geometry.to_numpy()


def singapore() -> Case:
    crs = 3414
    units = gpd.read_file(DATA / "singapore_hdb_buildings.gpkg", layer="buildings").to_crs(crs)
    sz = gpd.read_file(DATA / "singapore_boundaries.gpkg", layer="subzones").to_crs(crs)
    roads = gpd.read_file(DATA / "singapore_boundaries.gpkg", layer="barriers").to_crs(crs)
    regions = dict(zip(sz["SUBZONE_C"], sz.geometry.to_numpy(), strict=True))
    held = set(units["subzone_code"])
    regions = {k: v for k, v in regions.items() if k in held}
    rof = units["subzone_code"].to_numpy(dtype=object)
    return Case(
        "singapore",
        "Singapore HDB: 10,744 block points, 158 subzones as communities, the partial OSM "
        "major-road layer (`barriers`, 2,924 lines, 4 districts) as roads",
        units.geometry.to_numpy(),
        units["households"].to_numpy(),
        rof,
        regions,
        roads.geometry.to_numpy(),
        rof,
        regions,
        roads=roads,
        momepy=True,
    )


def taiyuan() -> Case:
    crs = 32649
    b = gpd.read_file(DATA / "taiyuan_osm.gpkg", layer="buildings").to_crs(crs)
    lines = gpd.read_file(DATA / "taiyuan_osm.gpkg", layer="lines").to_crs(crs)
    comp = gpd.read_file(DATA / "taiyuan_osm.gpkg", layer="residential_areas").to_crs(crs)
    cls = lines["barrier_class"].astype(str)
    bars = lines[cls.str.startswith(("major_road", "railway", "waterway"))]
    g = shapely.make_valid(b.geometry.to_numpy())
    one = np.zeros(len(g), dtype=int)
    area = study_area(g, roads=lines)
    return Case(
        "taiyuan",
        "Taiyuan OSM: 700 building footprints (every building, `hh_est_if_residential`), "
        "no communities; all 4,412 `lines` as roads, major_road/railway/waterway as barriers, "
        "76 `residential_areas` as compounds",
        g,
        b["hh_est_if_residential"].to_numpy(),
        one,
        region_hulls(g, one),
        bars.geometry.to_numpy(),
        one,
        {0: area},
        roads=lines,
        barriers=bars,
        compounds=comp,
    )


def shanghai() -> Case:
    crs = 32651
    src = DATA / "shanghai_central_osm_tilezen.gpkg"
    b = gpd.read_file(src, layer="buildings").to_crs(crs)
    b = b[b["kind"] != "building_part"]
    roads = gpd.read_file(src, layer="roads").to_crs(crs)
    comp = gpd.read_file(src, layer="residential_areas").to_crs(crs)
    water = gpd.read_file(src, layer="water_polygons").to_crs(crs)
    bars = roads[roads["kind"].isin(["major_road", "rail"])]
    g = shapely.make_valid(b.geometry.to_numpy())
    one = np.zeros(len(g), dtype=int)
    area = study_area(g, roads=roads, barriers=water.boundary)
    return Case(
        "shanghai",
        f"Shanghai Bund/Lujiazui (Tilezen OSM): {len(g):,} building footprints (parts "
        "excluded, `hh_est_if_residential`), no communities; all 1,094 `roads` as roads, "
        "major_road/rail as barriers, 18 `residential_areas` as compounds, water outlines "
        "as boundaries",
        g,
        b["hh_est_if_residential"].to_numpy(),
        one,
        region_hulls(g, one),
        bars.geometry.to_numpy(),
        one,
        {0: area},
        roads=roads,
        barriers=bars,
        compounds=comp,
        boundaries=water,
    )


def camden() -> Case:
    oa = gpd.read_file(DATA / "camden_oa2011_households.gpkg", layer="output_areas")
    g = oa.geometry.to_numpy()
    msoa = oa["MSOA11CD"].to_numpy(dtype=object)
    one = np.zeros(len(g), dtype=int)
    return Case(
        "camden",
        "Camden: 749 census output areas (polygons that tile the borough), communities given "
        "only as the MSOA column (no polygons), no roads. Today: one hull per MSOA "
        "(`region_hulls`), as `partition_grids` builds them; new: one study area",
        g,
        oa["households"].to_numpy(),
        msoa,
        region_hulls(g, msoa),
        None,
        one,
        {0: study_area(g)},
        momepy=False,
        notes=["momepy not run: it has no own-cell path and would Voronoi the 749 polygons"],
    )


def lattice(seed: int = 13) -> Case:
    """A 3 km x 3 km town: a jittered street lattice every ~150 m with a fifth of its
    segments missing (dead ends, T-junctions, superblocks), two diagonal barriers, 5,000
    random points with 20-200 households each."""
    rng = np.random.default_rng(seed)
    size, step = 3000.0, 150.0
    lines = []
    ticks = np.arange(step, size, step)
    # street positions, jittered; each street is cut into segments between its cross streets
    pos = [ticks + rng.uniform(-25, 25, ticks.size) for _ in (0, 1)]
    for axis in (0, 1):
        cross = np.r_[-1.0, pos[1 - axis], size + 1.0]
        for t in pos[axis]:
            for a, c in itertools.pairwise(cross):
                if rng.random() < 0.2:
                    continue  # a missing segment: a superblock, a dead end or a T-junction
                p, q = (t, a - 1.0), (t, c + 1.0)
                lines.append(shapely.LineString([p, q] if axis == 0 else [p[::-1], q[::-1]]))
    roads = np.array(lines, dtype=object)
    bars = np.array(
        [
            shapely.LineString([(-10, 400), (size + 10, 2600)]),
            shapely.LineString([(-10, 2800), (size + 10, 1900)]),
        ],
        dtype=object,
    )
    n = 5000
    xy = rng.uniform(5, size - 5, (n, 2))
    g = shapely.points(xy)
    one = np.zeros(n, dtype=int)
    region = shapely.box(0, 0, size, size)
    return Case(
        "lattice",
        "Synthetic: 3 km x 3 km, jittered street lattice every ~150 m with 20 % of segments "
        f"missing ({len(roads):,} road segments), 2 diagonal barriers, 5,000 random points, "
        "one community (its square)",
        g,
        rng.integers(20, 200, n),
        one,
        {0: region},
        bars,
        one,
        {0: region},
        roads=roads,
        barriers=bars,
    )


CASES: dict[str, Callable[[], Case]] = {
    "singapore": singapore,
    "taiyuan": taiyuan,
    "shanghai": shanghai,
    "camden": camden,
    "lattice": lattice,
}


def measure(cells: np.ndarray, area: Any, lines: np.ndarray) -> dict:
    cells = np.asarray(cells, dtype=object)
    missing = shapely.is_missing(cells) | shapely.is_empty(cells)
    ok = cells[~missing]
    return {
        "area km²": float(shapely.area(area)) / 1e6,
        "no cell": int(missing.sum()),
        "overlap m²": overlap_area(ok),
        "gap m²": gap_area(ok, area),
        "multipart": multipart_count(ok),
        "edges on lines": boundary_on_lines_share(ok, lines, tolerance_m=3.0),
        "lines kept": lines_kept(ok, area, lines),
    }


def lines_kept(cells: np.ndarray, area: Any, lines: np.ndarray) -> float:
    """Share of the line length inside the study area (1 m in from its outline) that lies
    within 1 m of an edge between two cells: the roads and walls a cell does not cross."""
    inner = shapely.buffer(area, -1.0)
    inside = shapely.intersection(lines[shapely.intersects(lines, inner)], inner)
    if len(inside) == 0:
        return float("nan")
    _, _, edges = shared_edges(cells)
    total, near = length_near_lines(inside, edges, tolerance_m=1.0)
    return float(near.sum() / total.sum()) if total.sum() > 0 else float("nan")


def blocks_of(case: Case) -> np.ndarray:
    lines = as_lines(case.roads, case.barriers, case.compounds, case.boundaries)
    return np.concatenate([blocks(r, roads=lines) for r in case.regions.values()])


def n_blocks(case: Case) -> int:
    return len(blocks_of(case))


def run_momepy(case: Case) -> tuple[float, np.ndarray, dict]:
    import momepy

    lines = as_lines(case.roads, case.barriers, case.compounds, case.boundaries)
    limit = gpd.GeoSeries(list(case.regions.values()))
    t0 = time.perf_counter()
    enc = momepy.enclosures(gpd.GeoSeries(lines), limit=limit, clip=True)
    units = gpd.GeoDataFrame(geometry=case.geoms)
    is_point = bool((shapely.get_type_id(case.geoms) == 0).all())
    tess = momepy.enclosed_tessellation(units, enc, n_jobs=1, threshold=None if is_point else 0.05)
    dt = time.perf_counter() - t0
    own = tess[tess.index >= 0]
    if is_point:
        # for points momepy numbers the cells of each enclosure 0, 1, ... (not the input
        # index): join them back to the units by the point each cell holds
        c_idx, u_idx = shapely.STRtree(case.geoms).query(own.geometry.to_numpy(), "covers")
        _, first = np.unique(c_idx, return_index=True)
        own = own.iloc[c_idx[first]].set_axis(u_idx[first])
    cells = np.full(len(case.geoms), None, dtype=object)
    dup = int(own.index.duplicated().sum())
    first = own[~own.index.duplicated()]
    cells[first.index.to_numpy()] = first.geometry.to_numpy()
    extra = {
        "empty blocks left as rows": int((tess.index < 0).sum()),
        "units with 2+ cells": dup,
        "blocks": len(enc),
    }
    # momepy's cells plus the blocks it leaves without units are its coverage
    cover = np.concatenate([own.geometry.to_numpy(), tess[tess.index < 0].geometry.to_numpy()])
    return dt, cells, extra | {"cover": cover}


def timed(fn: Callable[[], Any], *, repeat: int = 3) -> tuple[float, Any]:
    """Best of ``repeat`` wall-clock runs (one when a run takes over 20 s): the cores are
    shared, and the best run is the one least disturbed by other work."""
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        if dt > 20:
            break
    return best, out


def run_case(case: Case) -> list[dict]:
    rows = []
    lines = case.lines
    t_old, old = timed(
        lambda: tessellate(
            case.geoms, case.old_region_of, case.old_regions, barriers=case.old_barriers
        )
    )
    rows.append(
        {"instance": case.name, "method": "today: tessellate", "time s": t_old}
        | {"blocks": len(np.unique(old.face[old.face >= 0])) or len(case.old_regions)}
        | measure(old.cells, shapely.union_all(list(case.old_regions.values())), lines)
    )
    t_new, new = timed(
        lambda: street_tessellate(
            case.geoms,
            case.region_of,
            case.regions,
            roads=case.roads,
            barriers=case.barriers,
            compounds=case.compounds,
            boundaries=case.boundaries,
        )
    )
    kept = lines_kept(
        blocks_of(case),
        case.area,
        as_lines(case.roads, case.barriers, case.compounds, case.boundaries),
    )
    if not np.isnan(kept):
        case.notes.append(
            f"{100 * kept:.1f} % of the line length inside the study area bounds a block; the "
            "rest is dead ends and paths inside blocks, which no tessellation can keep"
        )
    per_block = np.bincount(new.face, weights=case.households.astype(float))
    assert abs(per_block.sum() - float(case.households.sum())) < 1e-6 * case.households.sum()
    rows.append(
        {"instance": case.name, "method": "street_tessellate", "time s": t_new}
        | {"blocks": n_blocks(case)}
        | measure(new.cells, case.area, lines)
    )
    if len(new.face) and n_blocks(case) > len(case.regions):
        t_share, share = timed(
            lambda: street_tessellate(
                case.geoms,
                case.region_of,
                case.regions,
                roads=case.roads,
                barriers=case.barriers,
                compounds=case.compounds,
                boundaries=case.boundaries,
                empty_blocks="share",
            ),
            repeat=1,
        )
        rows.append(
            {
                "instance": case.name,
                "method": "street_tessellate, empty_blocks='share'",
                "time s": t_share,
            }
            | {"blocks": n_blocks(case)}
            | measure(share.cells, case.area, lines)
        )
    try:
        import momepy  # noqa: F401  (the comparison row needs it; gridplan does not)
    except ImportError:
        case.notes.append("momepy not installed: no comparison row")
        case.momepy = False
    if case.momepy:
        dt, cells, extra = run_momepy(case)
        m = measure(cells, case.area, lines)
        m["gap m²"] = gap_area(extra["cover"], case.area)
        rows.append(
            {"instance": case.name, "method": "momepy enclosed_tessellation", "time s": dt}
            | {"blocks": extra["blocks"]}
            | m
            | {
                "note": f"{extra['empty blocks left as rows']} empty blocks left as rows; "
                f"{extra['units with 2+ cells']} units with 2+ cells"
            }
        )
    return rows


#: bundled samples planned with today's ``partition_grids``: the grid-level baseline
SAMPLES = {
    "singapore_queenstown": ("communities", "streets", "barriers"),
    "taiyuan": ("compounds", "dedicated", "barriers"),
    "camden_sample": ("communities",),
}


def baseline_grids() -> list[dict]:
    """Today's grids on the bundled samples, with and without their community polygons,
    measured with :mod:`gridplan.metrics` (the issue's "today's figure")."""
    import warnings

    from gridplan.partition.grids import partition_grids

    rows = []
    for name, layers in SAMPLES.items():
        src = REPO / "data" / f"{name}.gpkg"
        units = gpd.read_file(src, layer="units")
        given = {layer: gpd.read_file(src, layer=layer) for layer in layers}
        for with_comms in (True, False):
            kw = {
                k: v for k, v in given.items() if with_comms or k not in ("communities", "streets")
            }
            if not with_comms and len(kw) == len(given):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                res = partition_grids(units, **kw)
                dt = time.perf_counter() - t0
            grids, crs = res.grids, res.crs
            lines = as_lines(*(v.to_crs(crs) for k, v in kw.items() if k != "dedicated"))
            comms = kw.get("communities")
            if comms is not None:
                # the communities that hold units: the others get no grid by design
                comms = comms[comms["community_id"].isin(set(units["community_id"]))]
            area = study_area(
                units.to_crs(crs).geometry.to_numpy(),
                communities=comms.to_crs(crs).set_index("community_id")
                if comms is not None
                else None,
                roads=kw["barriers"].to_crs(crs) if "barriers" in kw else None,
            )
            rows.append(
                {
                    "sample": name,
                    "communities": ("given" if with_comms else "dropped")
                    if "communities" in given
                    else "none in sample",
                    "time s": dt,
                    "grids": len(grids),
                    "boundary on lines": boundary_on_lines_share(grids, lines),
                    "ribbons": len(ribbons(grids)),
                    "overlap m²": overlap_area(grids),
                    "gap m²": gap_area(grids, area),
                    "multipart": multipart_count(grids),
                }
            )
    return rows


def paired(case: Case, *, runs: int = 7) -> dict:
    """Today's and the new call run alternately ``runs`` times each, so load from other work
    on the shared cores falls on both alike; min and median seconds."""
    t_old, t_new = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        tessellate(case.geoms, case.old_region_of, case.old_regions, barriers=case.old_barriers)
        t_old.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        street_tessellate(
            case.geoms,
            case.region_of,
            case.regions,
            roads=case.roads,
            barriers=case.barriers,
            compounds=case.compounds,
            boundaries=case.boundaries,
        )
        t_new.append(time.perf_counter() - t0)
    return {
        "instance": case.name,
        "runs": runs,
        "today min s": min(t_old),
        "today median s": float(np.median(t_old)),
        "street_tessellate min s": min(t_new),
        "street_tessellate median s": float(np.median(t_new)),
    }


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        cpu = f"{names[0]} x{len(names)}" if names else cpu
    except OSError:
        pass
    try:
        import momepy

        mm = momepy.__version__
    except ImportError:
        mm = "not installed"
    return (
        f"{cpu}; Python {platform.python_version()}, shapely {shapely.__version__} "
        f"(GEOS {shapely.geos_version_string}), geopandas {gpd.__version__}, "
        f"momepy {mm}"
    )


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "gridplan"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip() + (" (gridplan/ modified)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def fmt(df: pd.DataFrame) -> str:
    cols = [c for c in df.columns if c != "note"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if c == "time s":
                cells.append(f"{v:.2f}")
            elif c in ("overlap m²", "gap m²"):
                cells.append(f"{v:,.2f}")
            elif c == "area km²":
                cells.append(f"{v:.2f}")
            elif c in ("edges on lines", "lines kept", "boundary on lines"):
                cells.append("–" if pd.isna(v) else f"{100 * v:.1f} %")
            else:
                cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=[*sorted(CASES), "grids"])
    args = ap.parse_args(argv)
    if args.only == "grids":
        print(fmt(pd.DataFrame(baseline_grids())))
        return
    names = [args.only] if args.only else list(CASES)
    rows, titles, notes = [], {}, []
    for name in names:
        case = CASES[name]()
        titles[name] = case.title
        got = run_case(case)
        notes += [f"{name}: {n}" for n in case.notes]
        for r in got:
            if r.get("note"):
                notes.append(f"{name}, {r['method']}: {r['note']}")
        rows += got
        print(fmt(pd.DataFrame(got)), flush=True)
    if args.only:
        return
    df = pd.DataFrame(rows)
    base = pd.DataFrame(baseline_grids())
    pair = pd.DataFrame([paired(CASES[n](), runs=5) for n in ("singapore", "camden") if n in names])
    text = [
        "# Cells from the street network (issue 13): benchmark",
        "",
        f"Machine: {machine()}. Code: gridplan commit {commit()}. "
        "Two cores shared with other work; one process. Times are wall-clock seconds of the "
        "tessellation call alone (study area and layer reading not included), the best of 3 "
        "runs for today's and the new call (1 run when it takes over 20 s), 1 run for momepy.",
        "",
        "Produced by `PYTHONPATH=. python benchmarks/streets_bench.py`.",
        "",
        "## Instances",
        "",
        *[f"- **{k}**: {v}" for k, v in titles.items()],
        "",
        "## Results",
        "",
        fmt(df),
        "",
        "- *blocks*: today, the barrier faces holding units; street_tessellate, all blocks the "
        "lines cut the regions into; momepy, its enclosures.",
        "- *overlap m²*, *gap m²*: 1 cm fixed-precision overlay (`gridplan.metrics`); the gap "
        "is against the method's own study area (*area km²*): today's, the union of its "
        "regions (community polygons, or hulls around the units); the new call's, "
        "`study_area` (the blocks of the road network around the units when there are no "
        "communities).",
        "- *multipart*: cells that are not one Polygon. *no cell*: units without a cell.",
        "- *empty_blocks='share'*: a block without units is merged into the block it joins "
        "before the Voronoi step, so its land is shared among that block's units (1 run); the "
        "default gives it whole to one cell, which keeps more roads as cell edges.",
        "- *edges on lines*: share of the length of the edges between cells within 3 m of a "
        "road, barrier, compound outline or region boundary (Voronoi edges inside a block "
        "count against it, so this cell-level share is low by construction; the grid-level "
        "goal of 85 % applies to grid boundaries).",
        "- *lines kept*: share of the length of those lines inside the study area that lies "
        "within 1 m of an edge between two cells, i.e. that no cell crosses (dead ends do not "
        "bound a block and count against it).",
        "",
        "## Paired timing",
        "",
        "Today's call and the new one alternately, 5 runs each (wall-clock seconds), so that "
        "load from other work on the shared cores falls on both alike.",
        "",
        "| " + " | ".join(pair.columns) + " |",
        "|" + "---|" * len(pair.columns),
        *[
            "| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in r) + " |"
            for r in pair.itertuples(index=False)
        ],
        "",
        "## Today's grids on the bundled samples (baseline for the issue's table)",
        "",
        "`partition_grids` as it is at this commit, on `data/*.gpkg`, with and without the "
        "community/street polygons; measured with `gridplan.metrics`. *boundary on lines*: "
        "share of internal grid-boundary length within 3 m of a barrier, compound outline or "
        "community/street boundary (the samples carry no full road layer). *gap m²* is "
        "against `study_area` of the same layers (the communities that hold units; without "
        "them, the blocks of the barrier network around the units, which today's hulls do "
        "not reach).",
        "",
        fmt(base),
        "",
        "## Notes",
        "",
        *[f"- {n}" for n in notes],
        "",
    ]
    OUT.write_text("\n".join(text), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    sys.exit(main())
