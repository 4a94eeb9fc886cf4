"""Bounded time on absurd inputs (issue 14): each case runs ``gridplan.plan`` in its own
process with a time limit and is listed with its outcome and wall time.

    .venv/bin/python benchmarks/absurd_inputs.py [--limit 60] [--out benchmarks/ABSURD_RESULTS.md]

An outcome is ``plan`` (with grid and diagnostics counts), ``error <check codes>`` (a
``ValidationError`` or ``InfeasibleError``, the planner's clear refusal), ``crash <type>`` (any
other exception: a bug) or ``timeout`` (still running after ``--limit`` seconds: a bug).
The goal is every case ending within 30 s with a plan or a clear error.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _points(n: int, *, households, spacing: float = 40.0, same: bool = False):
    import geopandas as gpd
    import numpy as np

    side = max(1, int(np.ceil(np.sqrt(n))))
    i = np.arange(n)
    x = np.zeros(n) if same else (i % side) * spacing
    y = np.zeros(n) if same else (i // side) * spacing
    hh = np.broadcast_to(np.asarray(households), (n,)).astype(np.int64)
    return gpd.GeoDataFrame(
        {"unit_id": [f"u{k}" for k in range(n)], "households": hh},
        geometry=gpd.points_from_xy(x + 30000.0, y + 30000.0),
        crs="EPSG:3414",
    )


def _near_same(n: int):
    """``n`` points within a few millimetres of each other (digitising noise)."""
    import numpy as np

    u = _points(n, households=40, same=True)
    rng = np.random.default_rng(0)
    jitter = rng.uniform(-0.005, 0.005, size=(n, 2))
    import geopandas as gpd

    u["geometry"] = gpd.points_from_xy(30000.0 + jitter[:, 0], 30000.0 + jitter[:, 1])
    return u.set_crs("EPSG:3414", allow_override=True)


def _case(name: str):
    """(units, rules) of one case; rules building may itself be the refusal."""
    from gridplan import GridRules, MicroGridRules, PlanRules

    if name == "one unit of 10^9 households":
        return _points(1, households=10**9), None
    if name == "one unit of 10^6 households":
        return _points(1, households=10**6), None
    if name == "10^6 tiny units (1 household each), one community":
        return _points(10**6, households=1, spacing=5.0), None
    if name == "grid band lo > hi (500-300)":
        return _points(20, households=40), (
            lambda: PlanRules(grid=GridRules(min_households=500, max_households=300))
        )
    if name == "grid band 1-10^9":
        return _points(200, households=100), (
            lambda: PlanRules(grid=GridRules(min_households=1, max_households=10**9))
        )
    if name == "grid band 300-10^9, micro band 30-10^9":
        return _points(200, households=100), (
            lambda: PlanRules(
                grid=GridRules(min_households=300, max_households=10**9),
                microgrid=MicroGridRules(min_households=30, max_households=10**9),
            )
        )
    if name == "micro band impossible (260-280 in grids of 300-500)":
        return _points(200, households=100), (
            lambda: PlanRules(microgrid=MicroGridRules(min_households=260, max_households=280))
        )
    if name == "micro band lo > hi (50-30)":
        return _points(20, households=40), (
            lambda: PlanRules(microgrid=MicroGridRules(min_households=50, max_households=30))
        )
    if name == "100,000 identical points":
        return _points(100_000, households=10, same=True), None
    if name == "20,000 identical points":
        return _points(20_000, households=10, same=True), None
    if name == "5,000 points within 1 cm":
        return _near_same(5_000), None
    raise KeyError(name)


CASES = (
    "one unit of 10^9 households",
    "one unit of 10^6 households",
    "10^6 tiny units (1 household each), one community",
    "grid band lo > hi (500-300)",
    "grid band 1-10^9",
    "grid band 300-10^9, micro band 30-10^9",
    "micro band impossible (260-280 in grids of 300-500)",
    "micro band lo > hi (50-30)",
    "100,000 identical points",
    "20,000 identical points",
    "5,000 points within 1 cm",
)


def _run(name: str, queue) -> None:
    import gridplan

    t0 = time.perf_counter()
    try:
        units, make_rules = _case(name)
        t0 = time.perf_counter()  # building the input is not the planner's time
        rules = make_rules() if make_rules is not None else None
        plan = gridplan.plan(units, rules=rules, seed=0)
        outcome = f"plan: {len(plan.grids)} grids, {len(plan.diagnostics)} diagnostics"
    except (gridplan.ValidationError, gridplan.InfeasibleError) as exc:
        checks = sorted({p.check for p in getattr(exc, "problems", ())}) or [type(exc).__name__]
        first = str(exc).splitlines()
        text = first[1].strip() if len(first) > 1 else first[0]
        outcome = f"error {', '.join(checks)}: {text[:140]}"
    except Exception as exc:  # a bug: reported, not hidden
        outcome = f"crash {type(exc).__name__}: {str(exc)[:120]}"
    queue.put((outcome, time.perf_counter() - t0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit", type=float, default=60.0, help="seconds before a case is killed")
    ap.add_argument("--out", type=Path, default=HERE / "ABSURD_RESULTS.md")
    ap.add_argument("--only", default=None, help="run the cases whose name contains this")
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    rows = []
    for name in CASES:
        if args.only and args.only not in name:
            continue
        q = ctx.Queue()
        proc = ctx.Process(target=_run, args=(name, q))
        t0 = time.perf_counter()
        proc.start()
        proc.join(args.limit)
        if proc.is_alive():
            proc.kill()
            proc.join()
            outcome, wall = "timeout", time.perf_counter() - t0
        else:
            outcome, wall = q.get() if not q.empty() else (f"exit {proc.exitcode}", 0.0)
        rows.append((name, outcome, wall))
        print(f"{wall:8.2f} s  {name}: {outcome}", flush=True)
    lines = [
        "# Absurd inputs: bounded time (issue 14)",
        "",
        f"`benchmarks/absurd_inputs.py`, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, limit {args.limit:.0f} s per case (the goal: 30 s). Wall time "
        "is the planner's, from `gridplan.plan` (or building the rules) to its result or error.",
        "",
        "| input | outcome | wall (s) |",
        "|---|---|---|",
        *(f"| {n} | {o.replace('|', '/')} | {w:.2f} |" for n, o, w in rows),
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
