"""Community redivision benchmark: gridplan.reform against METIS and GerryChain.

Instances (real public data, see ``../shared/data/README.md``):

* **Camden**: 749 output areas with counted households (97,534); the 28 MSOAs are the
  current plan (polygons dissolved from the OAs on ``MSOA11CD``); new communities of
  1,500-3,000 households. 23 of the 28 MSOAs are above the ceiling.
* **Providence 11-13k**: 3,014 census blocks balanced on ``TOTPOP`` (178,040 residents); the
  15 wards of 2014 are the current plan; bounds 11,000-13,000 residents. Every ward is
  already within them, so this instance tests that a valid plan is left alone.
* **Providence 7-9k**: the same blocks and wards with bounds 7,000-9,000 residents. No ward
  fits on its own or split in two, so wards must be re-planned with their neighbours.

Every tool partitions the same graph: the units' own polygons, neighbours when they share at
least 0.5 m of boundary (:func:`gridplan.graph.cell_edges`, the graph ``redivide`` builds
for areal units). METIS and GerryChain get ``k`` = the number of communities gridplan's default
run produced, the units' weights, and a balance tolerance that maps the target size onto the
bounds. Every figure is computed here from the labels, by one function, for every tool.

Run ``python benchmarks/reform_bench.py`` (add ``--out PATH`` to write the Markdown
elsewhere); it writes ``benchmarks/REFORM_RESULTS.md``, keeping a hand-written
``## Findings`` section found at its end.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from gridplan.crs import working_crs
from gridplan.graph import cell_edges
from gridplan.reform import ReformRules, code_continuity, redivide

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def shared_data_dir() -> Path:
    """``$GRIDPLAN_SHARED_DATA`` if set, else ``../shared/data`` next to the repository."""
    env = os.environ.get("GRIDPLAN_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


# ---------------------------------------------------------------------------------------------
# instances and the shared graph
# ---------------------------------------------------------------------------------------------


@dataclass
class Instance:
    name: str
    title: str
    units: gpd.GeoDataFrame  # raw input layer, as read
    community_column: str
    columns: dict[str, str]
    rules: ReformRules
    weight_col: str  # raw column the bounds apply to
    noun: str  # "households" or "residents"


@dataclass
class Graph:
    """The units as one graph (working CRS), shared by every tool."""

    ids: np.ndarray
    cells: np.ndarray
    weight: np.ndarray
    previous: np.ndarray
    i: np.ndarray
    j: np.ndarray
    shared_m: np.ndarray
    build_s: float
    linked: int  # components joined by a nearest-unit edge (none in these instances)


def instances() -> list[Instance]:
    src = shared_data_dir()
    camden = gpd.read_file(src / "camden_oa2011_households.gpkg", layer="output_areas")
    prov = gpd.read_file(src / "providence_blocks2010_population.gpkg", layer="blocks")
    prov_cols = {"GEOID10": "unit_id", "TOTPOP": "population"}
    return [
        Instance(
            "camden",
            "Camden OAs, MSOAs as current plan, 1,500-3,000 households",
            camden,
            "MSOA11CD",
            {"OA11CD": "unit_id"},
            ReformRules(min_households=1500, max_households=3000),
            "households",
            "households",
        ),
        Instance(
            "providence_11_13k",
            "Providence blocks, 2014 wards as current plan, 11,000-13,000 residents",
            prov,
            "WARD",
            prov_cols,
            ReformRules(min_households=11000, max_households=13000, balance="population"),
            "TOTPOP",
            "residents",
        ),
        Instance(
            "providence_7_9k",
            "Providence blocks, 2014 wards as current plan, 7,000-9,000 residents",
            prov,
            "WARD",
            prov_cols,
            ReformRules(min_households=7000, max_households=9000, balance="population"),
            "TOTPOP",
            "residents",
        ),
    ]


def shared_graph(inst: Instance) -> Graph:
    t0 = time.perf_counter()
    u = inst.units.to_crs(working_crs(inst.units))
    id_col = next(k for k, v in inst.columns.items() if v == "unit_id")
    cells = shapely.make_valid(u.geometry.to_numpy())
    xy = shapely.get_coordinates(shapely.point_on_surface(cells))
    e = cell_edges(cells, xy)
    i, j, shared = e.i, e.j, e.shared_m
    n = len(u)
    adj = sparse.coo_array((np.ones(i.size), (i, j)), shape=(n, n)).tocsr()
    n_comp, comp = csgraph.connected_components(adj, directed=False)
    linked = 0
    if n_comp > 1:  # join each smaller component to its nearest unit elsewhere
        main = np.bincount(comp).argmax()
        extra_i, extra_j = [], []
        for c in range(n_comp):
            if c == main:
                continue
            a = np.flatnonzero(comp == c)
            b = np.flatnonzero(comp != c)
            d = np.hypot(*(xy[a][:, None, :] - xy[b][None, :, :]).transpose(2, 0, 1))
            ia, ib = np.unravel_index(np.argmin(d), d.shape)
            extra_i.append(min(a[ia], b[ib]))
            extra_j.append(max(a[ia], b[ib]))
        i = np.concatenate([i, extra_i])
        j = np.concatenate([j, extra_j])
        shared = np.concatenate([shared, np.ones(len(extra_i))])
        linked = len(extra_i)
    weight = np.rint(pd.to_numeric(u[inst.weight_col]).to_numpy(dtype=float)).astype(np.int64)
    prev = u[inst.community_column].map(
        lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
    )
    return Graph(
        ids=u[id_col].astype(str).to_numpy(),
        cells=cells,
        weight=weight,
        previous=prev.to_numpy(dtype=object),
        i=i,
        j=j,
        shared_m=shared,
        build_s=time.perf_counter() - t0,
        linked=linked,
    )


# ---------------------------------------------------------------------------------------------
# evaluation: one function for every tool
# ---------------------------------------------------------------------------------------------


def evaluate(g: Graph, labels: np.ndarray, lo: float, hi: float) -> dict[str, float]:
    labels = np.asarray(labels)
    keys, lab = np.unique(labels, return_inverse=True)
    k = keys.size
    w = np.bincount(lab, weights=g.weight, minlength=k)
    in_bounds = (w >= lo) & (w <= hi)
    total = float(g.weight.sum())
    # kept in place: the new community carries the unit's current code (the code rule)
    cont = code_continuity(g.previous, lab, g.weight)
    keeps = np.array([cont.get(x) for x in lab], dtype=object)
    kept = float(g.weight[keeps == g.previous].sum())
    # core retention: each new community counts the weight of its largest current source
    pair = pd.DataFrame({"n": lab, "o": g.previous, "w": g.weight}).groupby(["n", "o"])["w"].sum()
    core = float(pair.groupby(level=0).max().sum())
    # contiguity on the shared graph
    same = lab[g.i] == lab[g.j]
    adj = sparse.coo_array(
        (np.ones(int(same.sum())), (g.i[same], g.j[same])), shape=(lab.size, lab.size)
    ).tocsr()
    _, comp = csgraph.connected_components(adj, directed=False)
    pieces = pd.Series(comp).groupby(lab).nunique().to_numpy()
    # compactness of the union of member polygons
    order = np.argsort(lab, kind="stable")
    bounds = np.searchsorted(lab[order], np.arange(k + 1))
    geoms = [shapely.union_all(g.cells[order[bounds[x] : bounds[x + 1]]]) for x in range(k)]
    area, perim = shapely.area(geoms), shapely.length(geoms)
    pp = 4 * math.pi * area / (perim * perim)
    return {
        "k": k,
        "in_bounds": float(in_bounds.mean()),
        "kept": kept / total,
        "core": core / total,
        "contiguous": float((pieces == 1).mean()),
        "pp_mean": float(np.mean(pp)),
        "pp_min": float(np.min(pp)),
        "size_min": float(w.min()),
        "size_max": float(w.max()),
    }


# ---------------------------------------------------------------------------------------------
# the tools
# ---------------------------------------------------------------------------------------------


def run_gridplan(inst: Instance, g: Graph, **changes: object) -> tuple[np.ndarray, float, str]:
    rules = inst.rules
    if changes:
        from dataclasses import replace

        rules = replace(rules, **changes)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no households column" for Providence
        res = redivide(
            inst.units,
            communities=inst.community_column,
            columns=inst.columns,
            rules=rules,
            seed=0,
        )
    dt = time.perf_counter() - t0
    lab = res.units["community_id"].reindex(g.ids).to_numpy(dtype=object)
    assert not pd.isna(lab).any(), "every unit must be in a community"
    note = f"{len(res.diagnostics)} diagnostics" if len(res.diagnostics) else ""
    return lab.astype(str), dt, note


def run_metis(inst: Instance, g: Graph, k: int, *, seed: int = 0) -> tuple[np.ndarray, float, str]:
    import pymetis

    n = g.weight.size
    total = float(g.weight.sum())
    # METIS caps the heaviest part at (1 + ufactor/1000) x the mean: map the ceiling onto it
    ufactor = max(1, int((inst.rules.max_households / (total / k) - 1) * 1000))
    rows = np.concatenate([g.i, g.j])
    cols = np.concatenate([g.j, g.i])
    ew = np.maximum(np.rint(np.concatenate([g.shared_m, g.shared_m])), 1).astype(np.int64)
    m = sparse.coo_array((ew, (rows, cols)), shape=(n, n)).tocsr()
    m.sum_duplicates()
    opts = pymetis.Options(contig=1, seed=seed, ufactor=ufactor)
    t0 = time.perf_counter()
    _, parts = pymetis.part_graph(
        k,
        pymetis.CSRAdjacency(m.indptr.tolist(), m.indices.tolist()),
        vweights=g.weight.tolist(),
        eweights=m.data.astype(np.int64).tolist(),
        options=opts,
    )
    dt = time.perf_counter() - t0
    return np.asarray(parts), dt, f"contig, ufactor={ufactor}, edge weight = shared boundary (m)"


def run_gerrychain(
    inst: Instance, g: Graph, k: int, *, seed: int = 0
) -> tuple[np.ndarray | None, float, str]:
    import networkx as nx
    from gerrychain import Graph as GCGraph
    from gerrychain.partition import recursive_tree_part

    total = float(g.weight.sum())
    target = total / k
    lo, hi = inst.rules.min_households, inst.rules.max_households
    eps = min(hi / target - 1, 1 - lo / target)
    nxg = nx.Graph()
    nxg.add_nodes_from((int(x), {"pop": int(w)}) for x, w in enumerate(g.weight))
    nxg.add_edges_from(zip(g.i.tolist(), g.j.tolist(), strict=True))
    graph = GCGraph.from_networkx(nxg)
    t0 = time.perf_counter()
    try:
        assign = recursive_tree_part(
            graph, range(k), pop_target=target, pop_col="pop", epsilon=eps, rng=seed
        )
    except Exception as exc:  # report the failure instead of a number
        return None, time.perf_counter() - t0, f"failed: {type(exc).__name__}: {exc}"[:160]
    dt = time.perf_counter() - t0
    labels = np.array([assign[x] for x in range(g.weight.size)])
    return labels, dt, f"epsilon={eps:.3f} around {target:,.0f}"


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------


def fmt_row(tool: str, m: dict[str, float] | None, dt: float, note: str, noun: str) -> str:
    if m is None:
        return f"| {tool} | - | - | - | - | - | - | - | {dt:.1f} | {note} |"
    return (
        f"| {tool} | {m['k']} | {m['in_bounds']:.0%} | {m['kept']:.1%} | {m['core']:.1%} | "
        f"{m['contiguous']:.0%} | {m['pp_mean']:.3f} ({m['pp_min']:.3f}) | "
        f"{m['size_min']:,.0f}-{m['size_max']:,.0f} | {dt:.2f} | {note} |"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "REFORM_RESULTS.md")
    args = ap.parse_args(argv)
    random.seed(0)
    lines: list[str] = []
    for inst in instances():
        g = shared_graph(inst)
        lo, hi = inst.rules.min_households, inst.rules.max_households
        print(f"== {inst.title}", file=sys.stderr)
        rows: list[tuple[str, dict[str, float] | None, float, str]] = []
        before = evaluate(g, g.previous, lo, hi)
        rows.append(("current plan", before, 0.0, "as given"))
        lab, dt, note = run_gridplan(inst, g)
        base = evaluate(g, lab, lo, hi)
        rows.append(("gridplan reform (default)", base, dt, note))
        k = int(base["k"])
        lab, dt, note = run_gridplan(inst, g, keep_valid=False)
        rows.append(("gridplan reform, keep_valid=False", evaluate(g, lab, lo, hi), dt, note))
        # the reform scenario of the issue: fewer, larger communities (about 15 % fewer)
        k_floor = math.ceil(float(g.weight.sum()) / hi)
        target = max(k_floor, round(0.85 * k))
        lab, dt, note = run_gridplan(inst, g, target_count=target)
        rows.append((f"gridplan reform, target_count={target}", evaluate(g, lab, lo, hi), dt, note))
        for dw in (0.0, 3.0):
            lab, dt, note = run_gridplan(inst, g, disruption_weight=dw)
            rows.append(
                (f"gridplan reform, disruption_weight={dw:g}", evaluate(g, lab, lo, hi), dt, note)
            )
        runners: list[tuple[str, Callable[..., tuple[np.ndarray | None, float, str]]]] = [
            ("METIS (pymetis)", run_metis),
            ("GerryChain recursive_tree_part", run_gerrychain),
        ]
        for name, fn in runners:
            lab_p, dt, note = fn(inst, g, k)
            rows.append(
                (
                    f"{name}, k={k}",
                    evaluate(g, lab_p, lo, hi) if lab_p is not None else None,
                    dt,
                    note,
                )
            )
        for r in rows:
            print(fmt_row(r[0], r[1], r[2], r[3], inst.noun), file=sys.stderr)
        lines.append(f"### {inst.title}\n")
        lines.append(
            f"{g.weight.size:,} units, {int(g.weight.sum()):,} {inst.noun}, "
            f"{len(np.unique(g.previous))} current communities; shared graph {g.i.size:,} edges "
            f"(built in {g.build_s:.2f} s"
            + (f"; {g.linked} island(s) linked to their nearest unit" if g.linked else "")
            + ").\n"
        )
        lines.append(
            f"| tool | communities | in bounds | {inst.noun} kept in place | core retention | "
            "contiguous | Polsby-Popper mean (min) | sizes | time (s) | notes |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        lines.extend(fmt_row(r[0], r[1], r[2], r[3], inst.noun) for r in rows)
        lines.append("")
    header = f"""# Community redivision benchmark (issue 7)

Generated by `benchmarks/reform_bench.py` on {time.strftime("%Y-%m-%d")}
(Python {platform.python_version()}, {platform.machine()}; pymetis {version("pymetis")},
GerryChain {version("gerrychain")}, numpy {np.__version__}, shapely {shapely.__version__};
gridplan from the working tree). One run per tool, seed 0; times are wall-clock on a shared
machine and vary by about +-30 % between runs.

All tools partition the same graph (unit polygons, rook-style adjacency with at least 0.5 m
of shared boundary). METIS and GerryChain are given k = the number of communities of
gridplan's default run; METIS gets `contig=1`, `ufactor` set so its heaviest part may reach
the ceiling, and shared boundary lengths as edge weights (so it minimises cut length);
GerryChain gets `epsilon` = the largest tolerance around total/k that stays inside the bounds.

Columns:

* **in bounds**: share of communities whose size lies within the bounds.
* **kept in place**: share of households (Camden) or residents (Providence) whose new
  community keeps their current community's code under gridplan's code rule (the new
  community holds at least 50 % from that community and more than half of that community
  went into it). The same rule scores every tool (`gridplan.reform.code_continuity`).
* **core retention**: share that lies in the largest current-community block of its new
  community (a looser measure of continuity, common in redistricting).
* **Polsby-Popper**: 4 pi A / P^2 of the union of member polygons, mean (min).
* **time**: gridplan's figure is the whole `redivide` call (validation, cells, graph,
  planning, codes, report); METIS and GerryChain get the prepared graph, so their figure is
  the partition call alone.

"""
    # a hand-written "## Findings" section below the tables survives a re-run
    kept = ""
    if args.out.exists():
        old = args.out.read_text(encoding="utf-8")
        if "\n## Findings" in old:
            kept = "\n## Findings" + old.split("\n## Findings", 1)[1]
    args.out.write_text(header + "\n".join(lines) + "\n" + kept, encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
