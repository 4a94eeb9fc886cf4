"""Comparing two versions of a grid plan (issue 16): what became of every grid, and where the
households went.

:func:`diff_plans` joins the two plans' unit parts by unit id: the households each old grid
gave each new grid (a unit's households in the new plan shared out in proportion to where
they were in the old one), households of removed units (to no grid) and of new units (from
no grid). Every grid code of either plan gets one status:

* ``kept``: in both plans with exactly the same units and households;
* ``split``: its households went to two or more grids (each receiving at least
  :data:`SUBSTANTIAL` of them), or it is one of those grids;
* ``merged``: it took households from two or more old grids (each giving at least
  :data:`SUBSTANTIAL` of it), or it is one of those old grids;
* ``changed``: in both plans, otherwise;
* ``new`` / ``retired``: in the new / old plan only, otherwise.

:func:`write_diff` writes a GeoPackage (``grids_old``, ``grids_new``, ``moves``,
``summary``), a workbook with zh or en headers and a before/after map.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from .errors import Problem, ValidationError
from .i18n import label_columns, label_values, sheet_label, t

__all__ = ["STATUSES", "STATUS_COLOURS", "SUBSTANTIAL", "PlanDiff", "diff_plans", "write_diff"]

Lang = Literal["zh", "en"]

#: Share of a grid's households that makes a flow count for split / merged.
SUBSTANTIAL = 0.1
#: Statuses in the order tables list them.
STATUSES = ("kept", "changed", "split", "merged", "new", "retired")
STATUS_COLOURS = {
    "kept": "#cfd8dc",
    "changed": "#4fc3f7",
    "split": "#ffb74d",
    "merged": "#ba68c8",
    "new": "#81c784",
    "retired": "#e57373",
}


@dataclass(frozen=True)
class PlanDiff:
    """:func:`diff_plans`' result.

    Attributes
    ----------
    grids
        One row per grid code of either plan: ``grid_code``, ``change``, ``households_old``,
        ``households_new``, ``households_stayed`` (in the same code in both), ``moved_out``,
        ``moved_in``, ``to_codes`` / ``from_codes`` (the grids households went to / came
        from, ";"-joined), and ``in_old`` / ``in_new``.
    moves
        Households from each old grid to each new one: ``old_code`` (None: units added),
        ``new_code`` (None: units removed), ``households``; households staying in their
        code included.
    matrix
        ``moves`` as a table, old grids down, new grids across.
    summary
        One row: grids per status, households in each plan, households keeping their grid
        code and their share, households moved, added and removed.
    old, new
        The two plans' grid polygons with ``change`` (for maps).
    """

    grids: pd.DataFrame
    moves: pd.DataFrame
    matrix: pd.DataFrame
    summary: pd.DataFrame
    old: gpd.GeoDataFrame
    new: gpd.GeoDataFrame


def _read(plan: Any, which: str) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Grids and unit parts of a :class:`~gridplan.pipeline.Plan` or a plan GeoPackage."""
    if hasattr(plan, "grids") and hasattr(plan, "units"):
        parts = plan.unit_parts
        if parts is None:
            parts = plan.units.reset_index()[["unit_id", "grid_code", "households"]]
        return plan.grids, pd.DataFrame(parts)
    path = Path(str(plan))
    if not path.is_file():
        raise ValidationError(
            [Problem(which, "missing", f"{which} plan {path} does not exist; pass a plan file")]
        )
    try:
        layers = gpd.list_layers(path)["name"].tolist()
    except Exception as exc:
        raise ValidationError(
            [Problem(which, "unreadable", f"{which} plan {path.name} cannot be read: {exc}")]
        ) from exc
    need = {"grids"} | ({"unit_parts"} if "unit_parts" in layers else {"units"})
    if not need <= set(layers):
        raise ValidationError(
            [
                Problem(
                    which,
                    "layers",
                    f"{which} plan {path.name} has no {' or '.join(sorted(need - set(layers)))}"
                    f" layer (layers: {', '.join(layers)}); pass a GeoPackage written by "
                    "gridplan plan",
                )
            ]
        )
    grids = gpd.read_file(path, layer="grids")
    table = gpd.read_file(path, layer="unit_parts" if "unit_parts" in layers else "units")
    parts = pd.DataFrame(table.drop(columns="geometry", errors="ignore"))
    return grids, parts


def _norm(parts: pd.DataFrame) -> pd.DataFrame:
    t_ = parts.dropna(subset=["grid_code"])
    return (
        pd.DataFrame(
            {
                "u": t_["unit_id"].astype(str).to_numpy(),
                "c": t_["grid_code"].astype(str).to_numpy(),
                "h": pd.to_numeric(t_["households"], errors="coerce").fillna(0).to_numpy(),
            }
        )
        .groupby(["u", "c"], sort=True)["h"]
        .sum()
        .reset_index()
    )


def diff_plans(old: Any, new: Any) -> PlanDiff:
    """Compare two versions of a plan (see the module docstring).

    Parameters
    ----------
    old, new
        :class:`~gridplan.pipeline.Plan` objects or GeoPackages written by ``gridplan plan``.

    Returns
    -------
    PlanDiff

    Examples
    --------
    >>> import geopandas as gpd, gridplan
    >>> src = "data/camden_sample.gpkg"
    >>> p = gridplan.plan(gpd.read_file(src, layer="units"),
    ...                   communities=gpd.read_file(src, layer="communities"))
    >>> d = diff_plans(p, p)
    >>> set(d.grids["change"]), float(d.summary["share_kept_code"].iloc[0])
    ({'kept'}, 1.0)
    """
    g_old, p_old = _read(old, "old")
    g_new, p_new = _read(new, "new")
    a, b = _norm(p_old), _norm(p_new)
    share = a.assign(s=a["h"] / a.groupby("u")["h"].transform("sum").replace(0, np.nan))
    share["s"] = share["s"].fillna(1.0 / a.groupby("u")["h"].transform("size"))
    both = b.merge(share[["u", "c", "s"]], on="u", how="left", suffixes=("_new", "_old"))
    both["f"] = both["h"] * both["s"].fillna(1.0)
    flows = both.rename(columns={"c_old": "old_code", "c_new": "new_code"})[
        ["old_code", "new_code", "f"]
    ]
    gone = a[~a["u"].isin(set(b["u"]))]
    flows = pd.concat(
        [flows, pd.DataFrame({"old_code": gone["c"], "new_code": None, "f": gone["h"]})],
        ignore_index=True,
    )
    moves = (
        flows.groupby(["old_code", "new_code"], sort=True, dropna=False)["f"]
        .sum()
        .reset_index()
        .rename(columns={"f": "households"})
    )
    moves = moves[moves["households"] > 0].reset_index(drop=True)
    moves = moves.astype({"old_code": object, "new_code": object})
    moves = moves.where(moves.notna(), None)
    moves["households"] = moves["households"].round(2)

    codes_old = set(g_old["grid_code"].astype(str))
    codes_new = set(g_new["grid_code"].astype(str))
    hh_old = a.groupby("c")["h"].sum()
    hh_new = b.groupby("c")["h"].sum()
    real = moves.dropna(subset=["old_code", "new_code"])
    out_of = real.groupby("old_code")
    into = real.groupby("new_code")

    def big_dests(o: str) -> list[str]:
        if o not in out_of.groups:
            return []
        r = out_of.get_group(o)
        return sorted(r.loc[r["households"] >= SUBSTANTIAL * hh_old.get(o, 0), "new_code"])

    def big_sources(n: str) -> list[str]:
        if n not in into.groups:
            return []
        r = into.get_group(n)
        return sorted(r.loc[r["households"] >= SUBSTANTIAL * hh_new.get(n, 0), "old_code"])

    def main(frame_group: Any, key: str, col: str) -> str | None:
        if key not in frame_group.groups:
            return None
        r = frame_group.get_group(key).sort_values(
            ["households", col], ascending=[False, True], kind="stable"
        )
        return str(r[col].iloc[0])

    def members(t_: pd.DataFrame) -> dict[str, tuple]:
        return {
            str(c): tuple(zip(f["u"], f["h"], strict=True)) for c, f in t_.groupby("c", sort=True)
        }

    members_old, members_new = members(a), members(b)
    rows = []
    for code in sorted(codes_old | codes_new):
        in_old, in_new = code in codes_old, code in codes_new
        dests = big_dests(code) if in_old else []
        sources = big_sources(code) if in_new else []
        if in_old and in_new and members_old.get(code) == members_new.get(code):
            status = "kept"
        elif (in_old and len(dests) >= 2) or (
            in_new
            and (src := main(into, code, "old_code")) is not None
            and len(big_dests(src)) >= 2
        ):
            status = "split"
        elif (in_new and len(sources) >= 2) or (
            in_old
            and (dst := main(out_of, code, "new_code")) is not None
            and len(big_sources(dst)) >= 2
        ):
            status = "merged"
        elif in_old and in_new:
            status = "changed"
        else:
            status = "new" if in_new else "retired"
        stayed = real.loc[(real["old_code"] == code) & (real["new_code"] == code), "households"]
        to = real.loc[(real["old_code"] == code) & (real["new_code"] != code)]
        fr = real.loc[(real["new_code"] == code) & (real["old_code"] != code)]
        rows.append(
            {
                "grid_code": code,
                "change": status,
                "households_old": float(hh_old.get(code, 0.0)),
                "households_new": float(hh_new.get(code, 0.0)),
                "households_stayed": float(stayed.sum()),
                "moved_out": float(hh_old.get(code, 0.0) - stayed.sum()) if in_old else 0.0,
                "moved_in": float(hh_new.get(code, 0.0) - stayed.sum()) if in_new else 0.0,
                "to_codes": ";".join(sorted(set(to["new_code"]))),
                "from_codes": ";".join(sorted(set(fr["old_code"]))),
                "in_old": in_old,
                "in_new": in_new,
            }
        )
    grids = pd.DataFrame(rows)
    for col in ("households_old", "households_new", "households_stayed", "moved_out", "moved_in"):
        grids[col] = grids[col].round(2)
    matrix = (
        moves.assign(old_code=moves["old_code"].fillna("—"), new_code=moves["new_code"].fillna("—"))
        .pivot_table(index="old_code", columns="new_code", values="households", aggfunc="sum")
        .fillna(0.0)
        .round(2)
    )
    matrix.columns.name = None
    matrix = matrix.reset_index()
    total_old, total_new = float(a["h"].sum()), float(b["h"].sum())
    kept_hh = float(grids["households_stayed"].sum())
    counts = grids["change"].value_counts()
    summary = pd.DataFrame(
        [
            {
                "grids_old": len(codes_old),
                "grids_new": len(codes_new),
                **{f"{s}_grids": int(counts.get(s, 0)) for s in STATUSES},
                "households_old": round(total_old, 2),
                "households_new": round(total_new, 2),
                "households_kept_code": round(kept_hh, 2),
                "share_kept_code": round(kept_hh / total_old, 4) if total_old else np.nan,
                "households_moved": round(
                    float(real.loc[real["old_code"] != real["new_code"], "households"].sum()), 2
                ),
                "households_removed": round(float(gone["h"].sum()), 2),
                "households_added": round(float(b.loc[~b["u"].isin(set(a["u"])), "h"].sum()), 2),
            }
        ]
    )
    status_of = dict(zip(grids["grid_code"], grids["change"], strict=True))

    def with_status(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        cols = [c for c in ("grid_code", "community_code", "kind", "households") if c in g]
        out = gpd.GeoDataFrame(g[cols].copy(), geometry=g.geometry.values, crs=g.crs)
        out["grid_code"] = out["grid_code"].astype(str)
        out["change"] = out["grid_code"].map(status_of)
        return out.sort_values("grid_code", kind="stable").reset_index(drop=True)

    return PlanDiff(
        grids=grids,
        moves=moves,
        matrix=matrix,
        summary=summary,
        old=with_status(g_old),
        new=with_status(g_new),
    )


def _labelled(frame: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    return label_columns(label_values(frame, lang), lang)


def write_diff(
    diff: PlanDiff,
    out: str | Path,
    *,
    xlsx: str | Path | None = None,
    map_path: str | Path | None = None,
    lang: Lang = "zh",
) -> list[Path]:
    """Write a comparison: GeoPackage ``out`` (layers ``grids_old``, ``grids_new`` with each
    grid's status and figures, ``moves``, ``matrix``, ``summary``), optionally a workbook
    with headers in ``lang`` and a before/after map (``.png``: two panels, byte-identical
    for the same plans; ``.html``: an interactive map, :func:`gridplan.render.reform_map`).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from .export import write_workbook
    from .io import write_gpkg

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    figures = diff.grids.drop(columns=["in_old", "in_new"])
    layers: dict[str, pd.DataFrame] = {
        "grids_old": diff.old.merge(
            figures.drop(columns=["change"]), on="grid_code", how="left", suffixes=("", "_d")
        ),
        "grids_new": diff.new.merge(
            figures.drop(columns=["change"]), on="grid_code", how="left", suffixes=("", "_d")
        ),
        "changes": figures,
        "moves": diff.moves,
        "summary": diff.summary,
    }
    write_gpkg(out, layers)
    written = [out]
    if xlsx is not None:
        sheets = {
            "diff_summary": _labelled(diff.summary, lang),
            "changes": _labelled(figures, lang),
            "moves": _labelled(diff.moves, lang),
            "matrix": diff.matrix.rename(columns={"old_code": t("diff_old_new", lang)}),
        }
        written.append(
            write_workbook(Path(xlsx), {sheet_label(k, lang): v for k, v in sheets.items()})
        )
    if map_path is not None:
        written.append(_write_map(diff, Path(map_path), lang=lang))
    return written


def _write_map(diff: PlanDiff, path: Path, *, lang: Lang) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".html":
        from .render import reform_map

        old = diff.old.set_index("grid_code")
        old.index.name = "community_id"
        new = diff.new.rename(columns={"grid_code": "community_code"})
        reform_map(old, new, lang=lang).save(str(path))
        return path
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager
    from matplotlib import pyplot as plt
    from matplotlib.patches import Patch

    from .printing import find_cjk_font

    font = font_manager.FontProperties(fname=str(find_cjk_font())) if lang == "zh" else None
    fig, axes = plt.subplots(1, 2, figsize=(14, 7), dpi=110)
    frames: Mapping[str, gpd.GeoDataFrame] = {"diff_before": diff.old, "diff_after": diff.new}
    crs = diff.new.crs or diff.old.crs
    for ax, (key, frame) in zip(axes, frames.items(), strict=True):
        f = frame.to_crs(crs) if crs is not None and frame.crs is not None else frame
        colours = [STATUS_COLOURS.get(s, "#ffffff") for s in f["change"]]
        f.plot(ax=ax, color=colours, edgecolor="#37474f", linewidth=0.5)
        ax.set_title(t(key, lang), fontproperties=font)
        ax.set_axis_off()
    handles = [
        Patch(facecolor=STATUS_COLOURS[s], edgecolor="#37474f", label=t(f"diff_{s}", lang))
        for s in STATUSES
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(STATUSES), prop=font)
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path
