"""The peer tools, each applied the way a planner would have to apply it to this problem.

Grids must nest in communities, so every peer runs once per *piece*: a connected part of one
community's cell graph (:meth:`shared_graph.SharedGraph.pieces`). Peers do not know about
barriers, so their graph keeps barrier-crossing edges; the evaluation counts the crossings.
A piece gets ``k = max(1, round(T / 400))`` grids (T its households); a piece with ``k = 1``
is one grid and no solver is called. Converting a piece to each tool's input (CSR arrays,
networkx/GerryChain graphs, libpysal weights) is inside the timed work.

* **METIS** (pymetis): k-way partition, household vertex weights, ``contig=1``; METIS
  balances parts to about T/k (default imbalance 3 %) and has no notion of a band.
* **spopt MaxPHeuristic**: floor of 300 households, regions as many as possible;
  **no ceiling**, so regions above 500 are expected. Unit coordinates are the attributes,
  so "homogeneous" regions are spatially tight ones. Default iteration counts.
* **GerryChain recursive_tree_part**: ``pop_target = T/k``, ``epsilon = 0.25``.
  ``bipartition_tree`` gets ``max_attempts=1000`` trees per cut (default 100,000) so a piece
  that cannot be balanced fails in seconds, not hours; a failed piece is counted and left as
  one grid.
* **k-means-constrained**: ``size_min``/``size_max`` count *units*, not households: the band
  is converted with the piece's mean households per unit (and widened just enough for
  ``k`` clusters to exist). No contiguity.
"""

from __future__ import annotations

import json
import math
import random
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import sparse
from shared_graph import SharedGraph

TARGET = 400.0
LO, HI = 300.0, 500.0


def _k(total: float, n: int) -> int:
    return int(min(max(1, round(total / TARGET)), n))


def _adjacency(g: SharedGraph) -> sparse.csr_array:
    n = g.n
    i, j = g.edges.i, g.edges.j
    m = sparse.coo_array(
        (np.ones(2 * i.size), (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n)
    ).tocsr()
    m.sum_duplicates()
    m.sort_indices()
    return sparse.csr_array(m)


def _per_piece(
    g: SharedGraph,
    solve: Callable[[np.ndarray, sparse.csr_array, int], np.ndarray],
    progress: Path | None = None,
) -> tuple[np.ndarray, dict]:
    """Run ``solve(members, piece_adjacency, k) -> local labels`` on every piece.

    ``progress`` gets "pieces done, units done, seconds" after every piece, so a run cut off
    by its time limit still says how far it got.
    """
    adj = _adjacency(g)
    labels = np.full(g.n, -1, dtype=np.int64)
    next_label = 0
    info = {"pieces": 0, "solver_calls": 0, "failures": 0, "failure_messages": {}}
    pieces = g.pieces()
    t0 = time.perf_counter()
    units_done = 0
    for members in pieces:
        if progress is not None:
            progress.write_text(
                json.dumps(
                    {
                        "pieces_done": info["pieces"],
                        "pieces": len(pieces),
                        "units_done": units_done,
                        "units": g.n,
                        "seconds": time.perf_counter() - t0,
                    }
                )
            )
        units_done += members.size
        info["pieces"] += 1
        k = _k(float(g.households[members].sum()), members.size)
        local = np.zeros(members.size, dtype=np.int64)
        if k > 1:
            info["solver_calls"] += 1
            try:
                local = np.asarray(solve(members, adj[members][:, members], k), dtype=np.int64)
            except Exception as exc:  # a peer's failure is a result, not a crash
                info["failures"] += 1
                key = f"{type(exc).__name__}: {str(exc)[:120]}"
                info["failure_messages"][key] = info["failure_messages"].get(key, 0) + 1
                local = np.zeros(members.size, dtype=np.int64)
        _, local = np.unique(local, return_inverse=True)
        labels[members] = next_label + local
        next_label += int(local.max()) + 1
    return labels, info


def metis(g: SharedGraph, progress: Path | None = None) -> tuple[np.ndarray, dict]:
    import pymetis

    def solve(members, sub, k):
        res = pymetis.part_graph(
            k,
            adjacency=pymetis.CSRAdjacency(sub.indptr.tolist(), sub.indices.tolist()),
            vweights=g.households[members].astype(int).tolist(),
            options=pymetis.Options(contig=1, seed=0),
        )
        return np.asarray(res.vertex_part)

    return _per_piece(g, solve, progress)


def maxp(g: SharedGraph, progress: Path | None = None) -> tuple[np.ndarray, dict]:
    import geopandas as gpd
    import libpysal
    import shapely
    from spopt.region import MaxPHeuristic

    np.random.seed(0)  # noqa: NPY002 - spopt draws from numpy's global state

    def solve(members, sub, k):
        total = float(g.households[members].sum())
        if total < 2 * LO:  # at most one region exists: max-p would return the piece
            return np.zeros(members.size, dtype=np.int64)
        xy = g.xy[members]
        df = gpd.GeoDataFrame(
            {
                "x": xy[:, 0] - xy[:, 0].mean(),
                "y": xy[:, 1] - xy[:, 1].mean(),
                "households": g.households[members].astype(float),
            },
            geometry=shapely.points(xy),
        )
        neighbors = {
            i: sub.indices[sub.indptr[i] : sub.indptr[i + 1]].tolist() for i in range(members.size)
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = libpysal.weights.W(neighbors, silence_warnings=True)
            model = MaxPHeuristic(df, w, ["x", "y"], "households", LO)
            model.solve()
        return np.asarray(model.labels_)

    return _per_piece(g, solve, progress)


def gerrychain(g: SharedGraph, progress: Path | None = None) -> tuple[np.ndarray, dict]:
    from functools import partial

    import networkx as nx
    from gerrychain.graph import Graph
    from gerrychain.partition import recursive_tree_part
    from gerrychain.tree import bipartition_tree

    rng = random.Random(0)
    method = partial(bipartition_tree, max_attempts=1000)

    def solve(members, sub, k):
        total = float(g.households[members].sum())
        nxg = nx.Graph()
        hh = g.households[members]
        nxg.add_nodes_from((i, {"households": int(hh[i])}) for i in range(members.size))
        coo = sparse.triu(sub, k=1).tocoo()
        nxg.add_edges_from(zip(coo.row.tolist(), coo.col.tolist(), strict=True))
        graph = Graph.from_networkx(nxg)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flips = recursive_tree_part(
                graph,
                list(range(k)),
                pop_target=total / k,
                pop_col="households",
                epsilon=0.25,
                bipartition_tree_fn=method,
                rng=rng,
            )
        out = np.zeros(members.size, dtype=np.int64)
        for node, part in flips.items():
            out[int(node)] = int(part)
        return out

    return _per_piece(g, solve, progress)


def kmeans_constrained(g: SharedGraph, progress: Path | None = None) -> tuple[np.ndarray, dict]:
    from k_means_constrained import KMeansConstrained

    def solve(members, sub, k):
        n = members.size
        mean_hh = float(g.households[members].sum()) / n
        size_min = max(1, min(math.floor(LO / mean_hh), n // k))
        size_max = max(math.ceil(HI / mean_hh), -(-n // k))
        xy = g.xy[members]
        model = KMeansConstrained(
            n_clusters=k, size_min=size_min, size_max=size_max, random_state=0
        )
        return model.fit_predict(xy - xy.mean(axis=0))

    return _per_piece(g, solve, progress)


PEERS = {
    "metis": metis,
    "maxp": maxp,
    "gerrychain": gerrychain,
    "kmeans_constrained": kmeans_constrained,
}
