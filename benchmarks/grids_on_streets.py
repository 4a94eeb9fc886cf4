"""Grids drawn on the streets (issue 13): whole plans, before and after.

For each instance it runs :func:`gridplan.plan` once and measures the grids (residential and
dedicated) and micro-grids with :mod:`gridplan.metrics`:

- *on lines*: share of the internal grid-boundary length within 3 m of a road, barrier,
  compound outline or community/street boundary (the same lines for every run);
- *ribbons*: strips narrower than 30 m and larger than 5,000 m² that a 15 m opening removes;
- *overlap* and *gap* (m²), the gap against :func:`gridplan.cells.study_area` of the inputs;
- *multipart*: grids and micro-grids that are not one Polygon;
- band share, mean Polsby-Popper compactness, households kept, wall time of the plan.

The same script runs against older code ("today": ``git worktree add /work/wt/old main``),
which has no ``roads=`` keyword; the instance then plans without its roads layer, as a user
could before. Each run writes a JSON file; ``--table`` joins them into the results table.

Run::

    PYTHONPATH=/work/wt/old python benchmarks/grids_on_streets.py --label today \
        --json /tmp/today.json
    PYTHONPATH=. python benchmarks/grids_on_streets.py --label new --json /tmp/new.json
    PYTHONPATH=. python benchmarks/grids_on_streets.py --table /tmp/today.json /tmp/new.json
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Point, box

import gridplan
from gridplan.metrics import (
    boundary_on_lines_share,
    gap_area,
    multipart_count,
    overlap_area,
    ribbons,
)

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GRIDPLAN_SHARED_DATA", "/work/shared/data"))
OUT = REPO / "benchmarks" / "GRIDS_ON_STREETS.md"


def _lines(*layers: Any) -> np.ndarray:
    """Every layer's line work (polygon outlines for polygons), for the on-lines share."""
    out = [np.empty(0, dtype=object)]
    for layer in layers:
        if layer is None or len(layer) == 0:
            continue
        g = np.asarray(layer.geometry.to_numpy(), dtype=object)
        poly = np.isin(shapely.get_type_id(g), (3, 6))
        g = np.where(poly, shapely.boundary(g), g)
        out.append(g)
    return np.concatenate(out)


def lattice() -> dict[str, Any]:
    """3 km x 3 km, a jittered street lattice every ~150 m with 20 % of the segments missing,
    two diagonal major roads as barriers, 4,000 random points of 5-35 households."""
    rng = np.random.default_rng(13)
    size, step = 3000.0, 150.0
    ticks = np.arange(0.0, size + 1, step)
    segs = []
    for t in ticks:
        inner = 0 < t < size
        # one offset per street, so its segments still meet the crossing streets
        jx, jy = rng.normal(0, 8, 2) if inner else (0.0, 0.0)
        for a, b in itertools.pairwise(ticks):
            for seg in (((t + jx, a), (t + jx, b)), ((a, t + jy), (b, t + jy))):
                if inner and rng.random() < 0.2:
                    continue
                segs.append(LineString(seg))
    crs = 32650
    x0, y0 = 400_000.0, 3_400_000.0
    roads = gpd.GeoDataFrame(
        {"road_class": ["street"] * len(segs)},
        geometry=[shapely.affinity.translate(s, x0, y0) for s in segs],
        crs=crs,
    )
    bars = gpd.GeoDataFrame(
        {"barrier_class": ["major_road", "major_road"]},
        geometry=[
            LineString([(x0 - 10, y0 + 300), (x0 + size + 10, y0 + 2600)]),
            LineString([(x0 - 10, y0 + 2500), (x0 + size + 10, y0 + 900)]),
        ],
        crs=crs,
    )
    n = 4000
    xy = rng.uniform(5, size - 5, (n, 2)) + np.array([x0, y0])
    units = gpd.GeoDataFrame(
        {"unit_id": [f"u{i}" for i in range(n)], "households": rng.integers(5, 36, n)},
        geometry=[Point(p) for p in xy],
        crs=crs,
    )
    area = gpd.GeoDataFrame(
        {"street_id": ["s"]}, geometry=[box(x0, y0, x0 + size, y0 + size)], crs=crs
    )
    return {
        "title": "Synthetic lattice: 4,000 points, streets every ~150 m (20 % missing), 2 "
        "major roads as barriers, one street polygon, no communities",
        "units": units,
        "layers": {"roads": roads, "barriers": bars, "streets": area},
    }


def queenstown(*, communities: bool) -> dict[str, Any]:
    src = REPO / "data" / "singapore_queenstown.gpkg"
    units = gpd.read_file(src, layer="units")
    layers = {"barriers": gpd.read_file(src, layer="barriers")}
    if communities:
        layers["communities"] = gpd.read_file(src, layer="communities")
    else:
        units = units.drop(columns=["community_id", "street_id"])
    what = "its 15 communities" if communities else "no communities"
    return {
        "title": f"Queenstown sample (bundled): 241 HDB blocks, {what}, its barrier layer "
        "(512 major_road, 109 secondary_road lines)",
        "units": units,
        "layers": layers,
    }


def camden() -> dict[str, Any]:
    oa = gpd.read_file(DATA / "camden_oa2011_households.gpkg", layer="output_areas")
    units = oa.rename(columns={"OA11CD": "unit_id", "MSOA11CD": "community_id"})[
        ["unit_id", "community_id", "households", "geometry"]
    ]
    return {
        "title": "Camden: 749 census output areas, communities only as the MSOA column (no "
        "polygons), no roads",
        "units": units,
        "layers": {},
    }


def _osm(src: Path, *, roads_layer: str, class_col: str, hard: tuple[str, ...], crs: int):
    b = gpd.read_file(src, layer="buildings").to_crs(crs)
    if "kind" in b.columns:
        b = b[b["kind"] != "building_part"]
    b = b[b["hh_est_if_residential"] > 0]
    units = gpd.GeoDataFrame(
        {
            "unit_id": [f"b{i}" for i in range(len(b))],
            "households": np.maximum(np.rint(b["hh_est_if_residential"].to_numpy()), 1),
        },
        geometry=shapely.make_valid(b.geometry.to_numpy()),
        crs=crs,
    )
    units = units[units.geom_type.isin(["Polygon", "MultiPolygon"])]
    lines = gpd.read_file(src, layer=roads_layer).to_crs(crs)
    lines = lines[lines.geom_type.isin(["LineString", "MultiLineString"])]
    cls = lines[class_col].astype(str)
    is_hard = cls.str.startswith(hard).to_numpy()
    bars = lines[is_hard].assign(barrier_class=cls[is_hard].to_numpy())[
        ["barrier_class", "geometry"]
    ]
    roads = lines[~is_hard][["geometry"]]
    comp = gpd.read_file(src, layer="residential_areas").to_crs(crs)[["geometry"]]
    return units, roads, bars, comp


def taiyuan() -> dict[str, Any]:
    units, roads, bars, comp = _osm(
        DATA / "taiyuan_osm.gpkg",
        roads_layer="lines",
        class_col="barrier_class",
        hard=("major_road", "railway", "waterway"),
        crs=32649,
    )
    return {
        "title": f"Taiyuan OSM: {len(units):,} building footprints (`hh_est_if_residential`, "
        "every building), no communities; major_road/railway/waterway lines as barriers, the "
        "other lines as roads, 76 residential areas as compounds",
        "units": units,
        "layers": {"roads": roads, "barriers": bars, "compounds": comp},
    }


def shanghai() -> dict[str, Any]:
    units, roads, bars, comp = _osm(
        DATA / "shanghai_central_osm_tilezen.gpkg",
        roads_layer="roads",
        class_col="kind",
        hard=("major_road", "rail"),
        crs=32651,
    )
    return {
        "title": f"Shanghai Bund/Lujiazui OSM: {len(units):,} building footprints "
        "(`hh_est_if_residential`), no communities; major_road/rail as barriers, the other "
        "roads as roads, 18 residential areas as compounds",
        "units": units,
        "layers": {"roads": roads, "barriers": bars, "compounds": comp},
    }


INSTANCES: dict[str, Callable[[], dict[str, Any]]] = {
    "lattice": lattice,
    "queenstown": lambda: queenstown(communities=True),
    "queenstown_nocomm": lambda: queenstown(communities=False),
    "camden_nocomm": camden,
    "taiyuan": taiyuan,
    "shanghai": shanghai,
}


def run(name: str) -> dict[str, Any]:
    inst = INSTANCES[name]()
    units, layers = inst["units"], dict(inst["layers"])
    has_roads = "roads" in inspect.signature(gridplan.plan).parameters
    given = {k: v for k, v in layers.items() if k != "roads" or has_roads}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        plan = gridplan.plan(units, seed=0, **given)
        wall = time.perf_counter() - t0
    crs = plan.work_crs
    grids = plan.grids.to_crs(crs)
    micro = plan.microgrids.to_crs(crs)
    g = grids.geometry.to_numpy()
    work = {k: v.to_crs(crs) for k, v in layers.items()}
    lines = _lines(*work.values())
    from gridplan.cells import study_area

    comm = work.get("communities")
    if comm is not None and "community_id" in units.columns:
        # a community without units gets no grid: the gap is measured over the others
        comm = comm[comm["community_id"].isin(set(units["community_id"]))]
    area = study_area(
        units.to_crs(crs).geometry.to_numpy(),
        communities=comm.geometry if comm is not None else None,
        streets=work["streets"].geometry if "streets" in work else None,
        roads=work["roads"].geometry.to_numpy() if "roads" in work else None,
        barriers=work["barriers"].geometry.to_numpy() if "barriers" in work else None,
    )
    resid = grids[grids["kind"] == "residential"]
    return {
        "instance": name,
        "title": inst["title"],
        "label": "",
        "time_s": round(wall, 2),
        "grids": len(grids),
        "microgrids": len(micro),
        "on_lines": boundary_on_lines_share(g, lines, tolerance_m=3.0) if lines.size else None,
        "ribbons": len(ribbons(resid.geometry.to_numpy())),
        "overlap_m2": overlap_area(g),
        "gap_m2": gap_area(g, area),
        "multipart_grids": multipart_count(g),
        "multipart_micro": multipart_count(micro.geometry.to_numpy()),
        "in_band": float(resid["in_band"].mean()),
        "compactness": float(resid["compactness"].mean()),
        "households_kept": int(grids["households"].sum()) == int(units["households"].sum()),
    }


def _fmt(v: Any, kind: str) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    if kind == "pct":
        return f"{100 * v:.1f} %"
    if kind == "m2":
        return f"{v:,.0f}"
    if kind == "f3":
        return f"{v:.3f}"
    return str(v)


def table(paths: list[Path]) -> str:
    rows = [r for p in paths for r in json.loads(p.read_text("utf-8"))]
    head = (
        "| instance | code | time s | grids | on lines | ribbons | overlap m² | gap m² | "
        "multipart grids | multipart micro | in band | compactness | households kept |"
    )
    out = [head, "|" + "---|" * 13]
    titles: dict[str, str] = {}
    for name in INSTANCES:
        for r in rows:
            if r["instance"] != name:
                continue
            titles.setdefault(name, r["title"])
            out.append(
                f"| {name} | {r['label']} | {r['time_s']:.2f} | {r['grids']} | "
                f"{_fmt(r['on_lines'], 'pct')} | {r['ribbons']} | {_fmt(r['overlap_m2'], 'm2')} | "
                f"{_fmt(r['gap_m2'], 'm2')} | {r['multipart_grids']} | {r['multipart_micro']} | "
                f"{_fmt(r['in_band'], 'pct')} | {_fmt(r['compactness'], 'f3')} | "
                f"{'yes' if r['households_kept'] else 'NO'} |"
            )
    inst = "\n".join(f"- **{k}**: {v}" for k, v in titles.items())
    return f"## Instances\n\n{inst}\n\n## Results\n\n" + "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--label", default="new")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--table", nargs="*", type=Path)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if args.table:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        text = (
            "# Grids drawn on the streets (issue 13): whole plans before and after\n\n"
            f"Machine: {platform.processor() or platform.machine()}, 2 cores shared with other "
            f"work; Python {sys.version.split()[0]}, shapely {shapely.__version__}. New code: "
            f"gridplan {commit}; today: main before the change. One run each, wall-clock "
            "seconds of `gridplan.plan` (grids and micro-grids).\n\n"
            "Produced by `benchmarks/grids_on_streets.py` (see its docstring).\n\n"
            + table(args.table)
            + "\n- *on lines*: share of the internal grid-boundary length (edges two grids "
            "share) within 3 m of a road, barrier, compound outline or community/street "
            "boundary; the same lines for both codes. Today's code cannot take the roads "
            "layer, so it plans without it.\n"
            "- *gap m²*: area of `gridplan.cells.study_area` (communities holding units, else "
            "streets, else the blocks of the road network round the units, else a hull) "
            "that no grid "
            "covers; *overlap m²* by a 1 cm overlay.\n"
            "- *ribbons*: strips narrower than 30 m and larger than 5,000 m² that a 15 m "
            "opening removes from a residential grid.\n"
            "- *in band*, *compactness*: residential grids in 300-500 households and their "
            "mean Polsby-Popper.\n"
        )
        args.out.write_text(text, "utf-8")
        print(text)
        return
    results = []
    for name in args.only or list(INSTANCES):
        r = run(name)
        r["label"] = args.label
        print(json.dumps(r), flush=True)
        results.append(r)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), "utf-8")


if __name__ == "__main__":
    main()
