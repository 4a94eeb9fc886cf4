"""Every grid a unit belongs to (issue 21), on real data: before and after.

For each instance it plans once (seed 0) and measures, from the plan and its equivalency CSV:

- *split units*: units with households in more than one grid;
- *grids the equivalency file misses*: grids holding households that no row of the file
  points to;
- *grids the file gets wrong*: grids whose households, summed over the file's rows (its
  ``households`` column, or the units' households joined on ``unit_id`` when the file has
  none), differ from the grid's;
- *homes in dedicated areas*: households of units with households whose point lies in a
  dedicated polygon, and of those the ones in no micro-grid and in no report row saying who
  serves them (*unserved*);
- *dedicated grids shown in band*: dedicated grids whose ``in_band`` is true;
- grids, share of residential grids in band, wall time of the plan.

Run against older code too (``git archive main | tar -x -C /tmp/base``)::

    PYTHONPATH=/tmp/base python benchmarks/unit_parts_real.py --label before --json /tmp/b.json
    PYTHONPATH=. python benchmarks/unit_parts_real.py --label after --json /tmp/a.json
    PYTHONPATH=. python benchmarks/unit_parts_real.py --table /tmp/b.json /tmp/a.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

import gridplan
from gridplan.export import write_equivalency

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GRIDPLAN_SHARED_DATA", "/work/shared/data"))
OUT = REPO / "benchmarks" / "UNIT_PARTS_RESULTS.md"


def _shanghai(column: str) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    src = DATA / "shanghai_central_osm_tilezen.gpkg"
    crs = 32651
    b = gpd.read_file(src, layer="buildings").to_crs(crs)
    b = b[(b["kind"] != "building_part") & (b[column] > 0)]
    units = gpd.GeoDataFrame(
        {
            "unit_id": "s-" + b["osm_id"].astype(str),
            "households": np.maximum(np.rint(b[column].to_numpy()), 1).astype(np.int64),
        },
        geometry=shapely.make_valid(b.geometry.to_numpy()),
        crs=crs,
    )
    units = units[units.geom_type.isin(["Polygon", "MultiPolygon"])]
    d = gpd.read_file(src, layer="business_special_areas").to_crs(crs)
    dedicated = gpd.GeoDataFrame(
        {"dedicated_id": d["osm_id"].astype(str), "name": d["name"], "category": d["kind"]},
        geometry=d.geometry,
        crs=crs,
    )
    lines = gpd.read_file(src, layer="roads").to_crs(crs)
    hard = lines["kind"].isin(["major_road", "rail"])
    barriers = gpd.GeoDataFrame(
        {"barrier_class": lines.loc[hard, "kind"]}, geometry=lines.geometry[hard], crs=crs
    )
    roads = gpd.GeoDataFrame(geometry=lines.geometry[~hard], crs=crs)
    compounds = gpd.read_file(src, layer="residential_areas").to_crs(crs)[["geometry"]]
    return units, {
        "dedicated": dedicated,
        "barriers": barriers,
        "roads": roads,
        "compounds": compounds,
    }


def _taiyuan(layer: str) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    src = REPO / "data" / "taiyuan.gpkg"
    ctx = {n: gpd.read_file(src, layer=n) for n in ("dedicated", "barriers", "compounds")}
    return gpd.read_file(src, layer=layer), ctx


INSTANCES: dict[str, tuple[str, Callable[[], tuple[gpd.GeoDataFrame, dict[str, Any]]]]] = {
    "shanghai": (
        "Shanghai Bund/Lujiazui OSM, residential buildings (`households_est`), 46 "
        "business/special areas as dedicated, major roads/rail as barriers, other roads",
        lambda: _shanghai("households_est"),
    ),
    "shanghai_stress": (
        "Shanghai, every building as housing (`hh_est_if_residential`, stress test)",
        lambda: _shanghai("hh_est_if_residential"),
    ),
    "taiyuan": ("Taiyuan sample (bundled), 19 residential buildings", lambda: _taiyuan("units")),
    "taiyuan_stress": (
        "Taiyuan sample, stress layer `units_all_buildings` (every building as housing)",
        lambda: _taiyuan("units_all_buildings"),
    ),
}


def run(name: str) -> dict[str, Any]:
    _, make = INSTANCES[name]
    units, ctx = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        plan = gridplan.plan(units, seed=0, **ctx)
        wall = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        eq = pd.read_csv(write_equivalency(plan, Path(tmp) / "eq.csv"), dtype=str)
    hh_of = plan.units["households"].astype(int)
    hh_of.index = hh_of.index.astype(str)
    if "households" in eq.columns:
        rows_hh = eq["households"].astype(int)
    else:  # one row per unit: the unit's households joined on its id
        rows_hh = eq["unit_id"].map(hh_of)
    by_grid = rows_hh.groupby(eq["grid_code"]).sum()
    grids = plan.grids.set_index("grid_code")["households"].astype(int)
    missing = int(((~grids.index.isin(by_grid.index)) & (grids > 0).to_numpy()).sum())
    wrong = int((by_grid.reindex(grids.index).fillna(0).astype(int) != grids).sum())
    parts = getattr(plan, "unit_parts", None)
    if parts is not None:
        split = int((parts.groupby("unit_id")["grid_code"].nunique() > 1).sum())
    else:
        split = int((plan.units["n_parts"] > 1).sum())
    # homes in dedicated areas: in a micro-grid, or in a report row saying who serves them
    ded = ctx["dedicated"].to_crs(plan.units.crs)
    rep = gpd.GeoDataFrame(geometry=plan.units.geometry.representative_point(), crs=ded.crs)
    hit = gpd.sjoin(rep, ded[["geometry"]], predicate="within")
    inside = plan.units.index[plan.units.index.isin(hit.index)]
    inside = inside[plan.units.loc[inside, "households"].to_numpy() > 0]
    table = plan.report.get("dedicated_residents")
    listed: set[str] = set()
    if table is not None:
        for ids in table["unit_ids"]:
            listed.update(str(ids).split(";"))
    micro = plan.units.loc[inside, "microgrid_code"].to_numpy(dtype=object)
    in_micro = np.array([isinstance(m, str) and bool(m) for m in micro], dtype=bool)
    served = in_micro | inside.astype(str).isin(list(listed))
    kind = plan.grids["kind"]
    res = plan.grids[kind == "residential"]
    ded_grids = plan.grids[kind == "dedicated"]
    return {
        "instance": name,
        "units": len(plan.units),
        "households": int(hh_of.sum()),
        "grids": int((kind == "residential").sum()),
        "dedicated_grids": int((kind == "dedicated").sum()),
        "in_band_share": float(res["in_band"].mean()) if len(res) else float("nan"),
        "split_units": split,
        "eq_rows": len(eq),
        "grids_missed": missing,
        "grids_wrong": wrong,
        "homes_in_dedicated": int(hh_of.reindex(inside.astype(str)).sum()),
        "homes_in_dedicated_grids": int(ded_grids["households"].sum()),
        "unserved": int(hh_of.reindex(inside[~served].astype(str)).sum()),
        "dedicated_in_band": int(ded_grids["in_band"].astype(bool).sum()),
        "wall_s": round(wall, 2),
    }


def table(paths: list[Path]) -> str:
    rows = []
    for p in paths:
        doc = json.loads(p.read_text(encoding="utf-8"))
        rows.extend({"code": doc["label"], **r} for r in doc["rows"])
    df = pd.DataFrame(rows).sort_values(["instance", "code"], ascending=[True, False])
    cols = [
        "instance",
        "code",
        "units",
        "households",
        "grids",
        "dedicated_grids",
        "in_band_share",
        "split_units",
        "eq_rows",
        "grids_missed",
        "grids_wrong",
        "homes_in_dedicated",
        "homes_in_dedicated_grids",
        "unserved",
        "dedicated_in_band",
        "wall_s",
    ]
    df["in_band_share"] = (df["in_band_share"] * 100).round(1).astype(str) + " %"
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in df[cols].itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in r) + " |")
    notes = "\n".join(f"- `{k}`: {title}" for k, (title, _) in INSTANCES.items())
    return (
        "# Every grid a unit belongs to (issue 21): before and after\n\n"
        "Written by `benchmarks/unit_parts_real.py` (seed 0, one process, 2 shared cores). "
        "`grids_missed`: grids holding households that no row of the equivalency file points "
        "to; `grids_wrong`: grids "
        "whose households the file's rows do not add up to (before: one row per unit, its "
        "households joined on `unit_id`); `unserved`: households of homes inside a dedicated "
        "polygon that are in no micro-grid and in no report row saying who serves them; "
        "`dedicated_in_band`: dedicated grids flagged in band.\n\n"
        f"{notes}\n\n" + "\n".join(lines) + "\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="after")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--only", nargs="*", default=list(INSTANCES))
    ap.add_argument("--table", nargs="*", type=Path)
    args = ap.parse_args()
    if args.table:
        OUT.write_text(table(args.table), encoding="utf-8")
        print(OUT.read_text(encoding="utf-8"))
        return
    rows = [run(name) for name in args.only]
    doc = {"label": args.label, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
