"""Plans that live (issue 16): re-planning changed data from today's plan.

For Singapore Queenstown and Camden, today's plan (seed 0) is the previous plan; then the data
change the way a year changes a town:

- 3 new compounds of 400-1,500 households (Queenstown: 3-6 blocks of about 150-250 households
  next to an existing block, same community; Camden: a site cut out of an output area, the
  rest of the area keeping its households);
- 2 buildings removed (units dropped);
- one community split in two (its polygon cut north-south at the median of its units, the
  units of the east half given the new community).

The changed data are planned twice, from the previous plan (``previous=``, its unit parts
table) and afresh, and compared with today's plan:

- *kept outside changed areas*: households of units that are in both plans and outside the
  changed areas (the split community, the old grids holding a removed building, the old
  grids within 150 m of a new compound) that keep their grid code (goal >= 95 %);
- *kept in valid grids*: households of the old grids the re-plan kept as valid (not named in
  a ``previous_replanned`` record) that keep their grid code (goal 100 %);
- *kept overall*: all households of units in both plans keeping their grid code;
- band share (residential grids in band) and mean compactness (Polsby-Popper) of the re-plan
  and of the fresh plan of the same data; wall time of each.

Run: ``PYTHONPATH=. python benchmarks/living_plans.py`` (writes
``benchmarks/LIVING_RESULTS.md``).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

import gridplan

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data"
OUT = HERE / "LIVING_RESULTS.md"


def _instances() -> dict[str, dict]:
    qt = DATA / "singapore_queenstown.gpkg"
    cd = DATA / "camden_sample.gpkg"
    return {
        "Singapore Queenstown": {
            "units": gpd.read_file(qt, layer="units"),
            "communities": gpd.read_file(qt, layer="communities"),
            "barriers": gpd.read_file(qt, layer="barriers"),
            "metric": "EPSG:3414",
        },
        "Camden": {
            "units": gpd.read_file(cd, layer="units"),
            "communities": gpd.read_file(cd, layer="communities"),
            "barriers": None,
            "metric": "EPSG:27700",
        },
    }


def _change(inst: dict, rng: np.random.Generator) -> tuple[dict, dict]:
    """The changed layers, and what changed: new unit ids, removed ids, split community."""
    metric = inst["metric"]
    units = inst["units"].to_crs(metric).reset_index(drop=True)
    comms = inst["communities"].to_crs(metric)
    ids = units["unit_id"].astype(str)
    # 1. split the community with most households north-south at the median of its units
    big = units.groupby("community_id")["households"].sum().idxmax()
    members = units["community_id"] == big
    x_mid = float(np.median(units.geometry[members].representative_point().x))
    poly = comms.loc[comms["community_id"] == big].geometry.iloc[0]
    minx, miny, maxx, maxy = poly.bounds
    west = poly.intersection(shapely.box(minx - 1, miny - 1, x_mid, maxy + 1))
    east = poly.intersection(shapely.box(x_mid, miny - 1, maxx + 1, maxy + 1))
    new_id = f"{big}_B"
    row = comms.loc[comms["community_id"] == big].iloc[0].copy()
    comms = comms[comms["community_id"] != big]
    west_row, east_row = row.copy(), row.copy()
    west_row["geometry"], east_row["geometry"] = west, east
    east_row["community_id"] = new_id
    if "name" in east_row:
        east_row["name"] = f"{row.get('name', big)} (east)"
    comms = gpd.GeoDataFrame(
        pd.concat([comms, pd.DataFrame([west_row, east_row])], ignore_index=True),
        geometry="geometry",
        crs=metric,
    )
    east_units = members & (units.geometry.representative_point().x >= x_mid)
    units.loc[east_units, "community_id"] = new_id
    # 2. remove 2 buildings (not in the split community)
    others = np.flatnonzero(~members.to_numpy())
    gone = sorted(ids.iloc[rng.choice(others, size=2, replace=False)].tolist())
    # 3. three new compounds, next to three units outside the split community
    sizes = [int(s) for s in rng.integers(400, 1501, size=3)]
    cand = np.flatnonzero(~members.to_numpy() & ~ids.isin(gone).to_numpy())
    hosts = sorted(int(h) for h in rng.choice(cand, size=3, replace=False))
    new_rows, replaced = [], {}
    points = bool(units.geometry.geom_type.eq("Point").all())
    for k, (h, size) in enumerate(zip(hosts, sizes, strict=True)):
        host = units.iloc[h]
        blocks = max(1, round(size / 200)) if points else 1
        hh = np.full(blocks, size // blocks)
        hh[: size - int(hh.sum())] += 1
        if points:
            c = host.geometry
            shapes = [
                shapely.Point(c.x + 25 * np.cos(a), c.y + 25 * np.sin(a))
                for a in np.linspace(0, 2 * np.pi, blocks, endpoint=False)
            ]
        else:
            site = (
                host.geometry.representative_point()
                .buffer(0.25 * np.sqrt(host.geometry.area))
                .intersection(host.geometry)
            )
            shapes = [site]
            replaced[h] = host.geometry.difference(site)
        for b, (geom, n) in enumerate(zip(shapes, hh, strict=True)):
            r = {col: None for col in units.columns}
            r.update(
                unit_id=f"new{k}_{b}",
                households=int(n),
                community_id=host["community_id"],
                geometry=geom,
            )
            if "street_id" in units.columns:
                r["street_id"] = host["street_id"]
            if "population" in units.columns:
                r["population"] = None
            new_rows.append(r)
    for h, geom in replaced.items():
        units.loc[h, "geometry"] = geom
    changed = pd.concat(
        [units[~ids.isin(gone)], gpd.GeoDataFrame(new_rows, geometry="geometry", crs=metric)],
        ignore_index=True,
    )
    changed = gpd.GeoDataFrame(changed, geometry="geometry", crs=metric).to_crs(inst["units"].crs)
    what = {
        "split": big,
        "gone": gone,
        "new": [r["unit_id"] for r in new_rows],
        "sizes": sizes,
        "sites": gpd.GeoSeries([r["geometry"] for r in new_rows], crs=metric),
    }
    return {
        "units": changed,
        "communities": comms.to_crs(inst["communities"].crs),
        "barriers": inst["barriers"],
    }, what


def _plan(layers: dict, **kw) -> tuple[gridplan.Plan, float]:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = gridplan.plan(
            layers["units"], communities=layers["communities"], barriers=layers["barriers"], **kw
        )
    return p, time.perf_counter() - t0


def _share(hh: pd.Series, keep: pd.Series) -> float:
    return float(hh[keep].sum() / hh.sum()) if hh.sum() else float("nan")


def _run(name: str, inst: dict) -> dict:
    rng = np.random.default_rng(16)
    today, t_today = _plan(inst)
    changed, what = _change(inst, rng)
    again, t_again = _plan(changed, previous=today.unit_parts)
    fresh, t_fresh = _plan(changed)
    old = today.units["grid_code"].astype(str)
    both = old.index[old.index.isin(again.units.index)]
    hh = today.units["households"].reindex(both).astype(float)
    # changed areas: the split community, old grids holding a removed building, old grids
    # within 150 m of a new compound
    metric = inst["metric"]
    grids_m = today.grids.to_crs(metric)
    near = grids_m[grids_m.geometry.distance(what["sites"].union_all()) <= 150]["grid_code"]
    touched = set(near) | set(old.reindex(what["gone"]).dropna())
    in_split = today.units["community_id"].reindex(both) == what["split"]
    changed_area = in_split | old.reindex(both).isin(touched)
    diag = again.diagnostics
    replanned = set(diag.loc[diag["code"] == "previous_replanned", "grid_code"].astype(str))
    valid = ~old.reindex(both).isin(replanned)
    row: dict = {"instance": name}
    for label, plan in (("replan", again), ("fresh", fresh)):
        keep = plan.units["grid_code"].reindex(both).astype(str) == old.reindex(both)
        row[f"{label}_kept_outside"] = _share(hh[~changed_area], keep[~changed_area])
        row[f"{label}_kept_valid"] = _share(hh[valid], keep[valid])
        row[f"{label}_kept_all"] = _share(hh, keep)
        res = plan.grids[plan.grids["kind"] == "residential"]
        row[f"{label}_band"] = float(res["in_band"].mean())
        row[f"{label}_compact"] = float(res["compactness"].mean())
        row[f"{label}_grids"] = len(res)
    row.update(
        households=int(changed["units"]["households"].sum()),
        hh_outside=int(hh[~changed_area].sum()),
        hh_valid=int(hh[valid].sum()),
        grids_today=int((today.grids["kind"] == "residential").sum()),
        kept_grids=len(set(today.grids["grid_code"]) - replanned & set(again.grids["grid_code"])),
        replanned=len(replanned),
        sizes=", ".join(f"{s:,}" for s in what["sizes"]),
        t_today=t_today,
        t_replan=t_again,
        t_fresh=t_fresh,
    )
    d = gridplan.diff_plans(today, again).summary.iloc[0]
    row["diff"] = (
        f"{int(d['kept_grids'])} kept, {int(d['changed_grids'])} changed, "
        f"{int(d['split_grids'])} split, {int(d['merged_grids'])} merged, "
        f"{int(d['new_grids'])} new, {int(d['retired_grids'])} retired"
    )
    return row


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.1f} %"


def main() -> None:
    rows = [_run(name, inst) for name, inst in _instances().items()]
    lines = [
        "# Plans that live: re-planning changed data from today's plan",
        "",
        "`PYTHONPATH=. python benchmarks/living_plans.py` (seed 0; changes drawn with",
        "`numpy.random.default_rng(16)`). Today's plan is the previous plan; the data then get",
        "3 new compounds of 400-1,500 households, lose 2 buildings, and one community is split",
        "in two. *Outside changed areas* leaves out the split community, the old grids that",
        "held a removed building and the old grids within 150 m of a new compound. *Valid",
        "grids* are the old grids the re-plan kept (not named in a `previous_replanned`",
        "diagnostic). Compactness is the mean Polsby-Popper of residential grids.",
        "",
        "| | " + " | ".join(r["instance"] for r in rows) + " |",
        "|---|" + "---|" * len(rows),
    ]

    def add(label: str, fn) -> None:
        lines.append(f"| {label} | " + " | ".join(fn(r) for r in rows) + " |")

    add("households after the change", lambda r: f"{r['households']:,}")
    add("new compounds (households)", lambda r: r["sizes"])
    add("residential grids today", lambda r: str(r["grids_today"]))
    add("old grids kept as valid / re-planned", lambda r: f"{r['kept_grids']} / {r['replanned']}")
    add("**kept code outside changed areas (goal ≥ 95 %)**, re-plan",
        lambda r: f"**{_pct(r['replan_kept_outside'])}** of {r['hh_outside']:,}")  # fmt: skip
    add("kept code outside changed areas, fresh plan", lambda r: _pct(r["fresh_kept_outside"]))
    add("**kept code in valid grids (goal 100 %)**, re-plan",
        lambda r: f"**{_pct(r['replan_kept_valid'])}** of {r['hh_valid']:,}")  # fmt: skip
    add("kept code overall, re-plan / fresh",
        lambda r: f"{_pct(r['replan_kept_all'])} / {_pct(r['fresh_kept_all'])}")  # fmt: skip
    add(
        "band share, re-plan / fresh",
        lambda r: f"{_pct(r['replan_band'])} / {_pct(r['fresh_band'])}",
    )
    add("compactness, re-plan / fresh",
        lambda r: f"{r['replan_compact']:.3f} / {r['fresh_compact']:.3f}")  # fmt: skip
    add("residential grids, re-plan / fresh",
        lambda r: f"{r['replan_grids']} / {r['fresh_grids']}")  # fmt: skip
    add("gridplan diff today -> re-plan", lambda r: r["diff"])
    add("time: today / re-plan / fresh (s)",
        lambda r: f"{r['t_today']:.1f} / {r['t_replan']:.1f} / {r['t_fresh']:.1f}")  # fmt: skip
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
