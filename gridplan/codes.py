"""Hierarchical grid codes in the CJ/T 349 style.

A grid code is ``county (6, GB/T 2260) + street (3) + community (3) + grid (3)``; a micro-grid
code appends a 3-digit sequence to its grid's code::

    140106 001 002 003 004
    county street community grid micro-grid

Streets and communities are numbered ``001``, ``002``... in the sorted order of their ids,
unless their layer carries a numeric ``code`` column (an official code), whose last three
digits are used. A unit with no street or community gets ``000`` at that level. Grids are
numbered west to east within rows read north to south; dedicated grids (专属网格) get their
own range starting at :attr:`~gridplan.config.CodeRules.dedicated_start` (901) so that
residential numbering never shifts when a dedicated grid is added or removed.

Community redivision (:mod:`gridplan.reform`) uses the same module for community codes: the
code rule (:func:`code_continuity`: a new community keeps a current community's code when it
is substantially that community) and the numbering of every other new community from 601
within its street (:func:`number_communities`).

Codes depend only on the ids and geometry of the input, never on row order, so the same
input always gets the same codes.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> from gridplan.config import CodeRules
>>> grids = gpd.GeoDataFrame(
...     {"grid_id": ["a", "b", "c"], "kind": ["residential"] * 2 + ["dedicated"],
...      "community_id": ["C1"] * 3, "street_id": ["S1"] * 3},
...     geometry=[box(100, 0, 200, 100), box(0, 0, 100, 100), box(0, 100, 100, 200)],
...     crs="EPSG:32649")
>>> grid_codes(grids, rules=CodeRules(county_code="140106"))["grid_code"].tolist()
['140106001001002', '140106001001001', '140106001001901']
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Hashable, Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .config import CodeRules
from .errors import Problem, ValidationError, describe_rows
from .validate import normalize_ids

__all__ = [
    "code_continuity",
    "code_prefix",
    "grid_codes",
    "microgrid_codes",
    "number_communities",
    "reading_order",
]

log = logging.getLogger(__name__)

#: the level code used for grids outside every street / community
NONE_CODE = "000"

_CODE_EPS = 1e-9


def _ids(values: Iterable[object]) -> np.ndarray:
    # one object array of :func:`gridplan.validate.id_str` ids (None stays None)
    return np.array(normalize_ids(values), dtype=object)


def reading_order(
    geoms: gpd.GeoSeries | np.ndarray, *, ids: Iterable[Hashable], columns: bool = False
) -> np.ndarray:
    """Positions of ``geoms`` in reading order: rows north to south, west to east within a row
    (``columns=True``: columns west to east, north to south within a column, as Beijing's
    DB11/T 2157-2023 numbers grids).

    Rows are bands of the median bounding-box height of the geometries, counted down from the
    top of their total bounds; ties are broken by x, then y, then ``ids`` so the order never
    depends on the order of the input.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> g = [box(1, 0, 2, 1), box(0, 1, 1, 2), box(0, 0, 1, 1), box(1, 1, 2, 2)]
    >>> reading_order(np.array(g), ids=["a", "b", "c", "d"]).tolist()
    [1, 3, 2, 0]
    >>> reading_order(np.array(g), ids=["a", "b", "c", "d"], columns=True).tolist()
    [1, 2, 3, 0]
    """
    arr = np.asarray(geoms.to_numpy() if isinstance(geoms, gpd.GeoSeries) else geoms)
    if columns:
        # columns west to east are rows north to south once (x, y) becomes (-y, -x)
        arr = shapely.transform(arr, lambda xy: -xy[:, ::-1])
    keys = np.array([str(i) for i in ids], dtype=object)
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    cent = shapely.get_coordinates(shapely.centroid(arr))
    bounds = shapely.bounds(arr)
    heights = bounds[:, 3] - bounds[:, 1]
    heights = heights[np.isfinite(heights) & (heights > 0)]
    row_height = float(np.median(heights)) if len(heights) else 0.0
    x, y = cent[:, 0], cent[:, 1]
    if row_height > 0:
        ymax = float(np.nanmax(bounds[:, 3]))
        # round before flooring so a centroid exactly on a band edge does not flip rows with
        # floating-point noise between runs or platforms
        row = np.floor(np.round((ymax - y) / row_height, 9)).astype(np.int64)
    else:
        row = np.zeros(n, dtype=np.int64)
    # np.lexsort sorts by the last key first
    return np.lexsort((keys, -y, x, row))


def _layer_ids(layer: gpd.GeoDataFrame, id_col: str) -> pd.Series:
    """The ids of a streets/communities layer (from the ``<role>_id`` column or the index)."""
    values = layer[id_col] if id_col in layer.columns else layer.index
    return pd.Series(_ids(values), index=layer.index, dtype=object)


def _official_codes(
    layer: gpd.GeoDataFrame | None, id_col: str, role: str, problems: list[Problem]
) -> dict[str, str] | None:
    """``id -> last three digits of the numeric `code` column``, or ``None`` when the layer has
    no usable code column (then ids are numbered in sorted order)."""
    if layer is None or "code" not in layer.columns:
        return None
    ids = _layer_ids(layer, id_col)
    codes = pd.Series(normalize_ids(layer["code"]), index=layer.index, dtype=object)
    # integer-like floats written by spreadsheets ("140106001.0") count as numeric
    codes = codes.map(lambda s: s[:-2] if isinstance(s, str) and s.endswith(".0") else s)
    numeric = codes.map(lambda s: isinstance(s, str) and s.isdigit())
    if not numeric.all():
        bad: list[object] = ids[~numeric.to_numpy()].tolist()
        log.warning(
            "%s layer: `code` is not numeric for %d rows (ids %s); numbering %s by id instead",
            role,
            len(bad),
            describe_rows(bad),
            role,
        )
        return None
    out: dict[str, str] = {}
    for i, c in zip(ids, codes, strict=True):
        if i is not None:
            out[i] = c[-3:].zfill(3)
    by_code: dict[str, list[str]] = {}
    for i, c in out.items():
        by_code.setdefault(c, []).append(i)
    clashes = {c: sorted(v) for c, v in by_code.items() if len(v) > 1}
    if clashes and role == "streets":
        for c, ids_ in sorted(clashes.items()):
            problems.append(
                Problem(
                    role,
                    "duplicate_code",
                    f"{len(ids_)} streets share the code digits {c} (ids "
                    f"{describe_rows(tuple(ids_))}); give each street its own `code`.",
                    tuple(ids_),
                )
            )
    return out


def _sequence(ids: Iterable[str], *, what: str, problems: list[Problem]) -> dict[str, str]:
    """``001, 002, ...`` in sorted order of ``ids``."""
    ordered = sorted(set(ids))
    if len(ordered) > 999:
        problems.append(
            Problem(
                "codes",
                "overflow",
                f"{len(ordered)} {what} cannot be numbered in 3 digits (at most 999); "
                "give the layer a numeric `code` column.",
            )
        )
    return {k: str(n).zfill(3) for n, k in enumerate(ordered, start=1)}


def _groups(keys: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """``(key, positions)`` for each distinct key in sorted key order, positions ascending:
    one stable sort instead of one comparison of every row per key.

    Examples
    --------
    >>> [(k, i.tolist()) for k, i in _groups(np.array(["b", "a", "b"], dtype=object))]
    [('a', [1]), ('b', [0, 2])]
    """
    if len(keys) == 0:
        return []
    text = np.asarray(keys, dtype=str)
    order = np.argsort(text, kind="stable")
    sorted_keys = text[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    ends = np.r_[starts[1:], len(order)]
    return [(str(keys[order[a]]), order[a:b]) for a, b in zip(starts, ends, strict=True)]


def _number_grids(
    geoms: np.ndarray,
    ids: np.ndarray,
    *,
    start: int,
    digits: int,
    limit: int,
    label: str,
    problems: list[Problem],
    columns: bool = False,
) -> np.ndarray:
    """Sequence strings for one group of grids in reading order, from ``start``."""
    order = reading_order(geoms, ids=ids, columns=columns)
    seq = np.empty(len(geoms), dtype=object)
    last = start + len(geoms) - 1
    if len(geoms) and last > limit:
        problems.append(
            Problem(
                "codes",
                "overflow",
                f"{label}: {len(geoms)} grids need sequence numbers {start}..{last}, more than "
                f"the {digits}-digit range allows (up to {limit}); raise `dedicated_start` or "
                "`grid_digits` in the code rules.",
            )
        )
    for n, pos in enumerate(order):
        seq[pos] = str(start + n).zfill(digits)
    return seq


def grid_codes(
    grids: gpd.GeoDataFrame,
    *,
    rules: CodeRules,
    communities: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    id_col: str = "grid_id",
    kind_col: str = "kind",
    community_col: str = "community_id",
    street_col: str = "street_id",
) -> pd.DataFrame:
    """Community and grid codes for every grid.

    Parameters
    ----------
    grids
        One row per grid: ``grid_id``, ``kind`` (``"residential"`` | ``"dedicated"``),
        ``community_id`` (``""`` or None outside every community), ``street_id`` (str or None),
        polygonal geometry in a metric (projected) CRS.
    rules
        :class:`~gridplan.config.CodeRules` with the 6-digit county code.
    communities, streets
        Optional layers (id in the ``community_id`` / ``street_id`` column or as the index).
        Their ids are numbered as a whole, so a community's code does not change when another
        community loses its last grid. A numeric ``code`` column gives the official code
        instead; its last three digits are used. A ``street_id`` column of ``communities``
        places a community in its street when the grid does not say.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``grids``, with ``community_code`` (12 digits; 18 with
        ``code_format="cjt349"``, the object code first) and ``grid_code``
        (``community_code`` + the grid sequence, ``rules.grid_digits`` digits), numbered in
        the order ``rules.code_format`` names.

    Raises
    ------
    ValidationError
        A group of grids overflowing its sequence range, two streets with the same official
        code, or an unknown ``kind``.
    """
    problems: list[Problem] = []
    n = len(grids)
    kinds = grids[kind_col].astype(str).to_numpy() if n else np.zeros(0, dtype=object)
    bad_kind = sorted(set(kinds) - {"residential", "dedicated"})
    if bad_kind:
        problems.append(
            Problem(
                "grids",
                "kind",
                f"`{kind_col}` must be 'residential' or 'dedicated', got {bad_kind}",
            )
        )
    gids = (grids[id_col] if id_col in grids.columns else grids.index.to_series()).astype(str)
    comm = _ids(grids[community_col])
    street = (
        _ids(grids[street_col]) if street_col in grids.columns else np.full(n, None, dtype=object)
    )

    # a community's street: the grid's own, else the communities layer's street_id
    comm_street: dict[str, str | None] = {}
    if communities is not None and "street_id" in communities.columns:
        for cid, sid in zip(
            _layer_ids(communities, "community_id"),
            _ids(communities["street_id"]),
            strict=True,
        ):
            if cid is not None:
                comm_street[cid] = sid
    street = np.array(
        [
            s if s is not None else comm_street.get(c) if c else None
            for s, c in zip(street, comm, strict=True)
        ],
        dtype=object,
    )

    # streets
    street_official = _official_codes(streets, "street_id", "streets", problems)
    if street_official is not None:
        street_digits = dict(street_official)
        missing = sorted({s for s in street if s is not None and s not in street_digits})
        if missing:
            problems.append(
                Problem(
                    "streets",
                    "missing_code",
                    f"{len(missing)} street ids used by grids are not in the streets layer "
                    f"(ids {describe_rows(missing)}); add them with a `code`.",
                    tuple(missing),
                )
            )
    else:
        universe = {s for s in street if s is not None}
        if streets is not None:
            universe |= {s for s in _layer_ids(streets, "street_id") if s is not None}
        universe |= {s for s in comm_street.values() if s is not None}
        street_digits = _sequence(universe, what="streets", problems=problems)

    # communities, numbered within their street
    comm_official = _official_codes(communities, "community_id", "communities", problems)
    pairs = {(s, c) for s, c in zip(street, comm, strict=True) if c is not None}
    if comm_official is None and communities is not None:
        for cid in _layer_ids(communities, "community_id"):
            if cid is not None and cid not in {c for _, c in pairs}:
                pairs.add((comm_street.get(cid), cid))
    comm_digits: dict[tuple[str | None, str], str] = {}
    by_street: dict[str | None, list[str]] = {}
    for s, c in pairs:
        by_street.setdefault(s, []).append(c)
    for s, cs in by_street.items():
        if comm_official is not None:
            missing = sorted(c for c in cs if c not in comm_official)
            if missing:
                problems.append(
                    Problem(
                        "communities",
                        "missing_code",
                        f"{len(missing)} community ids used by grids are not in the communities "
                        f"layer (ids {describe_rows(missing)}); add them with a `code`.",
                        tuple(missing),
                    )
                )
            digits = {c: comm_official.get(c, NONE_CODE) for c in cs}
            clash = pd.Series(digits).duplicated(keep=False)
            if clash.any():
                ids_ = sorted(clash.index[clash.to_numpy()])
                problems.append(
                    Problem(
                        "communities",
                        "duplicate_code",
                        f"communities {describe_rows(ids_)} of street {s or '(none)'} share "
                        "the same code digits; give each community its own `code`.",
                        tuple(ids_),
                    )
                )
        else:
            digits = _sequence(cs, what=f"communities in street {s or '(none)'}", problems=problems)
        for c, d in digits.items():
            comm_digits[(s, c)] = d
    if problems:
        raise ValidationError(problems)

    prefix = rules.object_code + rules.county_code if rules.code_format == "cjt349" else ""
    community_code = np.array(
        [
            (prefix or rules.county_code)
            + (street_digits.get(s, NONE_CODE) if s is not None else NONE_CODE)
            + (comm_digits[(s, c)] if c is not None else NONE_CODE)
            for s, c in zip(street, comm, strict=True)
        ],
        dtype=object,
    )

    # grid sequence within each community: residential from 1, dedicated from dedicated_start
    n_digits = rules.grid_digits
    limit = 10**n_digits - 1
    grid_seq = np.empty(n, dtype=object)
    geoms = grids.geometry.to_numpy()
    gid_arr = gids.to_numpy(dtype=object)
    for code, in_code in _groups(community_code):
        for kind, start, top in (
            ("residential", 1, rules.dedicated_start - 1),
            ("dedicated", rules.dedicated_start, limit),
        ):
            idx = in_code[kinds[in_code] == kind]
            if len(idx) == 0:
                continue
            grid_seq[idx] = _number_grids(
                geoms[idx],
                gid_arr[idx],
                start=start,
                digits=n_digits,
                limit=top,
                label=f"community {code} ({kind})",
                problems=problems,
                columns=rules.code_format == "db11",
            )
    if problems:
        raise ValidationError(problems)
    return pd.DataFrame(
        {
            "community_code": pd.Series(community_code, index=grids.index, dtype=object),
            "grid_code": pd.Series(
                [c + s for c, s in zip(community_code, grid_seq, strict=True)],
                index=grids.index,
                dtype=object,
            ),
        },
        index=grids.index,
    )


def microgrid_codes(
    microgrids: gpd.GeoDataFrame,
    *,
    rules: CodeRules,
    grid_col: str = "grid_code",
    id_col: str | None = None,
) -> pd.Series:
    """Micro-grid codes: the grid's code plus a sequence in reading order within the grid.

    Parameters
    ----------
    microgrids
        ``grid_code`` and polygonal geometry (metric CRS).
    rules
        :class:`~gridplan.config.CodeRules` (``microgrid_digits``).
    id_col
        Column that breaks ties between micro-grids with the same centroid; by default a
        WKB of the geometry, so the result never depends on row order.

    Returns
    -------
    pandas.Series
        ``microgrid_code`` indexed like ``microgrids``.
    """
    n = len(microgrids)
    grid_code = _ids(microgrids[grid_col])
    missing = np.flatnonzero(np.array([g is None for g in grid_code], dtype=bool))
    if len(missing):
        rows = microgrids.index[missing].tolist()
        raise ValidationError(
            [
                Problem(
                    "microgrids",
                    "missing_grid_code",
                    f"{len(rows)} micro-grids have no `{grid_col}` (rows {describe_rows(rows)}); "
                    "code the grids first with grid_codes().",
                    tuple(rows),
                )
            ]
        )
    geoms = microgrids.geometry.to_numpy()
    if id_col is not None:
        ids = microgrids[id_col].astype(str).to_numpy(dtype=object)
    else:
        ids = np.array(shapely.to_wkb(geoms, hex=True), dtype=object)
    digits = rules.microgrid_digits
    limit = 10**digits - 1
    seq = np.empty(n, dtype=object)
    problems: list[Problem] = []
    for code, idx in _groups(grid_code):
        seq[idx] = _number_grids(
            geoms[idx],
            ids[idx],
            start=1,
            digits=digits,
            limit=limit,
            label=f"grid {code}",
            problems=problems,
        )
    if problems:
        raise ValidationError(problems)
    return pd.Series(
        [g + s for g, s in zip(grid_code, seq, strict=True)],
        index=microgrids.index,
        name="microgrid_code",
        dtype=object,
    )


# ---------------------------------------------------------------------------------------------
# community codes after a redivision
# ---------------------------------------------------------------------------------------------


def code_continuity(
    previous: Any, new: Any, weights: Any, *, exclude: Collection[str] = ()
) -> pd.Series:
    """The current community each new community continues, by the code rule.

    A new community keeps the code of current community ``O`` when at least half of its
    weight comes from ``O`` and more than half of ``O``'s weight went into it. Where the
    weights involved are all zero, unit counts decide instead.

    Parameters
    ----------
    previous, new
        Current and new label per unit (array-likes of equal length; missing labels are
        ignored).
    weights
        Households (or residents) per unit.
    exclude
        Current labels that no new community continues (villages merged into another): their
        weight still counts towards the new community's total, so the community they joined
        keeps its own code when that code holds half of it.

    Returns
    -------
    pandas.Series
        Indexed by new label: the continued current label, or None.

    Examples
    --------
    >>> code_continuity(["a", "a", "a", "b"], [1, 1, 2, 2], [10, 10, 5, 20]).to_dict()
    {1: 'a', 2: 'b'}
    >>> code_continuity(["a", "a"], [1, 2], [10, 10]).to_dict()  # an even split keeps neither
    {1: None, 2: None}
    """
    df = pd.DataFrame(
        {
            "old": pd.Series(previous, dtype=object).to_numpy(),
            "new": pd.Series(new, dtype=object).to_numpy(),
            "w": np.asarray(weights, dtype=float),
            "n": 1.0,
        }
    )
    new_labels = pd.unique(df["new"].dropna())
    out = pd.Series([None] * len(new_labels), index=new_labels, dtype=object)
    df = df[df["old"].notna() & df["new"].notna()]
    if df.empty:
        return out
    pair = df.groupby(["new", "old"], sort=True)[["w", "n"]].sum()
    new_tot = df.groupby("new")[["w", "n"]].sum()
    old_tot = df.groupby("old")[["w", "n"]].sum()
    nt = new_tot.reindex(pair.index.get_level_values(0)).to_numpy()
    ot = old_tot.reindex(pair.index.get_level_values(1)).to_numpy()
    # weights decide where there are any; all-zero communities fall back to unit counts
    use_w = (nt[:, 0] > 0) & (ot[:, 0] > 0)
    h = np.where(use_w, pair["w"].to_numpy(), pair["n"].to_numpy())
    n_tot = np.where(use_w, nt[:, 0], nt[:, 1])
    o_tot = np.where(use_w, ot[:, 0], ot[:, 1])
    ok = (h >= 0.5 * n_tot - _CODE_EPS) & (h > 0.5 * o_tot + _CODE_EPS)
    ok &= ~pair.index.get_level_values(1).isin(list(exclude))
    cand = pd.DataFrame(
        {"new": pair.index.get_level_values(0), "old": pair.index.get_level_values(1), "h": h}
    )[ok]
    # two halves of exactly 50 % each: the larger share, then the smaller code, wins
    cand = cand.sort_values(["new", "h", "old"], ascending=[True, False, True], kind="stable")
    cand = cand.drop_duplicates("new")
    out.loc[cand["new"].to_numpy()] = cand["old"].to_numpy()
    return out


def code_prefix(codes: list[str]) -> str | None:
    """Shared prefix of CJ/T 349 community codes (all digits, same length, last 3 digits the
    community), so a new community's id reads like its neighbours'.

    Examples
    --------
    >>> code_prefix(["140106001001", "140106001002"]), code_prefix(["a", "b"])
    ('140106001', None)
    """
    if not codes or not all(c.isdigit() for c in codes):
        return None
    lengths = {len(c) for c in codes}
    if len(lengths) != 1 or next(iter(lengths)) <= 3:
        return None
    prefixes = {c[:-3] for c in codes}
    return prefixes.pop() if len(prefixes) == 1 else None


def number_communities(
    street: np.ndarray,
    kept: np.ndarray,
    xy: np.ndarray,
    *,
    current: Mapping[str, set[str]],
    start: int = 601,
) -> tuple[np.ndarray, np.ndarray]:
    """Codes and ids of new communities.

    A community that continues a current one (``kept``, by :func:`code_continuity`) keeps its
    code as code and id. Every other one is numbered from ``start`` within its street, north
    to south and west to east by its point ``xy``, skipping the codes the street's current
    communities use (``current``: street -> current codes); its id is the street's shared
    code prefix (:func:`code_prefix`) plus the number, else ``street-number``.

    Returns
    -------
    (code, community_id)
        Object arrays, one entry per new community.

    Examples
    --------
    >>> code, cid = number_communities(
    ...     np.array(["s1", "s1", "s1"], dtype=object), np.array(["140106001001", None, None]),
    ...     np.array([[0.0, 0.0], [0.0, 10.0], [5.0, 0.0]]),
    ...     current={"s1": {"140106001001", "140106001002"}})
    >>> code.tolist(), cid.tolist()
    (['140106001001', '601', '602'], ['140106001001', '140106001601', '140106001602'])
    """
    n_new = len(street)
    code = np.empty(n_new, dtype=object)
    cid = np.empty(n_new, dtype=object)
    for s in sorted(set(street.tolist())):
        in_s = np.flatnonzero(street == s)
        taken = set(current.get(s, set()))
        taken |= {c[-3:] for c in taken if c.isdigit()}
        prefix = code_prefix(sorted(current.get(s, set())))
        nxt = start
        order_s = in_s[np.lexsort((np.round(xy[in_s, 0], 1), -np.round(xy[in_s, 1], 1)))]
        for k in order_s:
            if kept[k] is not None:
                code[k] = kept[k]
                cid[k] = kept[k]
                continue
            while f"{nxt:03d}" in taken or (prefix and f"{prefix}{nxt:03d}" in taken):
                nxt += 1
            c3 = f"{nxt:03d}"
            nxt += 1
            code[k] = c3
            cid[k] = f"{prefix}{c3}" if prefix else (f"{s}-{c3}" if s else c3)
    # an id that collides with a current community's id elsewhere gets the street prefix
    dup = pd.Series(cid).duplicated(keep=False).to_numpy()
    fresh = np.array([k is None for k in kept], dtype=bool)
    for k in np.flatnonzero(dup & fresh).tolist():
        cid[k] = f"{street[k] or 'S'}-{cid[k]}"
    return code, cid
