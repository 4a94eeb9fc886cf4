"""The app's map on the whole of Singapore (10,744 HDB blocks): how long the map takes to show
after the plan, and how long a toggle takes (issue 19: <= 5 s and <= 1 s).

    .venv/bin/python benchmarks/app_map.py [--out benchmarks/APP_RESULTS.md] [--plan-cache P]

What is timed, in the app's own order (``app.py``'s map tab):

* Python, once per plan: :func:`gridplan.render.display_layers` (cached by the app).
* Python, every script run: the base map (:func:`gridplan.render.plan_map`, grids, barriers and
  boundaries, no micro-grids or units) built and rendered to HTML the way ``st_folium`` does
  (``get_root().render()``), and the overlays of one toggle (:func:`gridplan.render.overlay_layers`:
  micro-grids, units and code labels of the selected grid's community).
* Chromium (Debian's, headless): the base map's HTML loaded from a file until Leaflet has drawn
  every grid, and the micro-grid overlay added to the live map (``L.geoJSON`` of the same
  features), which is what ``st_folium`` does with ``feature_group_to_add``.

"Map shown after the plan" = display layers + base map build/render + browser load; "toggle"
= base map build/render + overlay build + overlay drawn (a toggle re-runs the script but does
not reload the map). The previous design (micro-grids of the whole plan in the map's HTML) is
measured alongside for comparison. Wall times depend on the machine's load, recorded too.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import tempfile
import time
from pathlib import Path

import folium
from plan_bench import singapore_layers

import gridplan
from gridplan import render

HERE = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

_READY = """
() => { const m = Object.values(window).find(v => v && v instanceof L.Map);
        if (!m) return -1; let n = 0;
        m.eachLayer(l => { const p = l.feature && l.feature.properties;
                           if (p && p.grid_code && !p.microgrid_code) n += 1; });
        return n; }
"""

_ADD = """
data => { const m = Object.values(window).find(v => v && v instanceof L.Map);
          const t0 = performance.now();
          const layer = L.geoJSON(data, {style: () => ({fillOpacity: 0, color: '#1b1b1b',
                                                      weight: 0.8})}).addTo(m);
          return new Promise(r => requestAnimationFrame(() =>
              requestAnimationFrame(() => r(performance.now() - t0)))); }
"""


#: CPU seconds of this process in the last _timed call (the machine's load does not add)
CPU = [0.0]


def _timed(fn):  # type: ignore[no-untyped-def]
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    CPU[0] = time.process_time() - c0
    return out, time.perf_counter() - t0


def _plan(cache: Path | None) -> gridplan.Plan:
    if cache is not None and cache.exists():
        with open(cache, "rb") as fh:
            return pickle.load(fh)
    units, comm, streets, bars = singapore_layers()
    plan = gridplan.plan(units, communities=comm, streets=streets, barriers=bars, seed=0)
    if cache is not None:
        with open(cache, "wb") as fh:
            pickle.dump(plan, fh)
    return plan


def _browser_times(html: str, overlay: dict, n_grids: int) -> tuple[float, float]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        page_file = Path(tmp) / "map.html"
        page_file.write_text(html, encoding="utf-8")
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 700})
            t0 = time.perf_counter()
            page.goto(page_file.as_uri(), wait_until="domcontentloaded", timeout=120_000)
            page.wait_for_function(f"() => ({_READY})() >= {n_grids}", timeout=120_000)
            load = time.perf_counter() - t0
            added_ms = page.evaluate(_ADD, overlay)
        finally:
            browser.close()
    return load, float(added_ms) / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=HERE / "APP_RESULTS.md")
    ap.add_argument("--plan-cache", type=Path, default=None, help="pickle the plan here")
    args = ap.parse_args()
    load_avg = os.getloadavg()
    plan, plan_s = _timed(lambda: _plan(args.plan_cache))
    disp, disp_s = _timed(lambda: render.display_layers(plan))

    def base() -> str:
        m = render.plan_map(plan, display=disp, basemap="none", intranet=True, lang="zh")
        return m.get_root().render()

    html, base_s = _timed(base)
    _, base_again_s = _timed(base)
    base_cpu = CPU[0]
    # the selected grid's community (the first grid's), as the app draws on a toggle
    first = str(disp.grids["community_id"].iat[0])
    counts = disp.microgrids["community_id"].astype(str).value_counts()
    biggest = str(counts.index[0])

    def toggle_layers() -> str:
        # built and turned into JavaScript, as st_folium does with feature_group_to_add
        groups = render.overlay_layers(
            disp,
            lang="zh",
            selected=disp.grids["grid_code"].iat[0],
            microgrids=[biggest],
            units=[biggest],
            labels=[biggest],
        )
        holder = folium.Map(tiles=None)
        for g in groups:
            g.add_to(holder)
        return holder.get_root().render()

    _, overlay_s = _timed(toggle_layers)
    overlay_cpu = CPU[0]
    mg = disp.microgrids[disp.microgrids["community_id"].astype(str) == biggest]
    overlay = json.loads(mg[["microgrid_code", "grid_code", "households", "geometry"]].to_json())

    def old() -> str:
        m = render.plan_map(
            plan, display=disp, basemap="none", intranet=True, lang="zh", show_microgrids=True
        )
        return m.get_root().render()

    old_html, old_s = _timed(old)
    n_res = int((disp.grids["kind"] == "residential").sum())
    browser_load_s, overlay_draw_s = (float("nan"), float("nan"))
    old_load_s = float("nan")
    if CHROMIUM.exists():
        browser_load_s, overlay_draw_s = _browser_times(html, overlay, n_res)
        old_load_s, _ = _browser_times(old_html, overlay, n_res)
    shown = disp_s + base_s + browser_load_s
    toggle = base_again_s + overlay_s + overlay_draw_s
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    rows = [
        ("load average at start (1/5/15 min)", " / ".join(f"{x:.1f}" for x in load_avg)),
        (
            "units / grids / micro-grids",
            f"{len(plan.units):,} / {len(plan.grids):,} / {len(plan.microgrids):,}",
        ),
        ("plan, or reading it from --plan-cache (s, not part of the map)", f"{plan_s:.1f}"),
        ("display layers, once per plan (s)", f"{disp_s:.2f}"),
        (
            "base map build + render, each script run (s wall; CPU s of the second)",
            f"{base_s:.2f} (again {base_again_s:.2f}; CPU {base_cpu:.2f})",
        ),
        ("base map HTML (MB)", f"{len(html.encode()) / 1e6:.1f}"),
        ("Chromium: base map loaded, every grid drawn (s)", f"{browser_load_s:.2f}"),
        ("**map shown after the plan (s)**", f"**{shown:.2f}**"),
        (
            f"toggle overlay build, community {biggest}: {len(mg)} micro-grids (s)",
            f"{overlay_s:.2f} (CPU {overlay_cpu:.2f})",
        ),
        ("Chromium: micro-grid overlay drawn (s)", f"{overlay_draw_s:.2f}"),
        ("**toggle: script run + overlay (s)**", f"**{toggle:.2f}**"),
        ("before: map HTML with every micro-grid (MB)", f"{len(old_html.encode()) / 1e6:.1f}"),
        ("before: build + render (s) / Chromium load (s)", f"{old_s:.2f} / {old_load_s:.2f}"),
    ]
    text = [
        "# The app's map on the whole of Singapore",
        "",
        f"`benchmarks/app_map.py` at commit `{commit}`, 2 shared cores, Debian Chromium headless."
        f" Selected grid's community for the toggle: the one with most micro-grids ({biggest});"
        f" the first grid's community is {first}.",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in rows),
        "",
    ]
    args.out.write_text("\n".join(text), encoding="utf-8")
    print("\n".join(text))


if __name__ == "__main__":
    main()
