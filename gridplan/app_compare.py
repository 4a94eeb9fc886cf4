"""The app's comparison of two plans (issue 19, "codes stable"; issue 16's
:func:`gridplan.diff_plans`): a previous plan uploaded as a GeoPackage (or the plan before
the planner's edits) against the plan on screen.

Plain functions, no Streamlit: :func:`diff_upload` compares an uploaded plan file with a
plan and refuses a file that is not a saved plan in the app's words (naming the upload
widget); :func:`diff_tables` gives the tables the compare tab shows, labelled in the app's
language; :func:`gridplan.render.diff_map` draws the map.

Examples
--------
>>> import gridplan
>>> from gridplan.app_compare import diff_tables
>>> p = gridplan.plan(gridplan.read_layer("data/camden_sample.gpkg", layer="units"))
>>> tables = diff_tables(gridplan.diff_plans(p, p), "en")
>>> list(tables)
['summary', 'grids', 'matrix', 'moves']
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .diff import STATUS_COLOURS, STATUSES, PlanDiff, diff_plans
from .errors import Problem, ValidationError
from .i18n import Lang, label_columns, label_values, t

if TYPE_CHECKING:
    from .appsupport import Upload
    from .pipeline import Plan

__all__ = ["diff_tables", "diff_upload", "diff_xlsx", "legend_html"]


def diff_upload(upload: Upload, plan: Plan, *, lang: Lang = "zh") -> PlanDiff:
    """Compare the saved plan ``upload`` (a GeoPackage the app or ``gridplan plan`` wrote)
    with ``plan``.

    Raises
    ------
    ValidationError
        The file is not a GeoPackage with ``grids`` and ``units`` (or ``unit_parts``) layers;
        the message names the compare tab's upload widget, in ``lang``.
    """
    widget = t("compare_upload", lang)
    if Path(upload.name).suffix.lower() != ".gpkg":
        raise ValidationError(
            [Problem("compare", "compare_format", t("compare_not_gpkg", lang, widget=widget))]
        )
    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        path = Path(tmp) / "previous.gpkg"
        path.write_bytes(upload.data)
        try:
            return diff_plans(path, plan)
        except ValidationError as exc:
            raise ValidationError(
                [
                    Problem(
                        "compare",
                        "compare_not_plan",
                        t("compare_not_plan", lang, name=upload.name, widget=widget),
                    )
                ]
            ) from exc


def diff_tables(diff: PlanDiff, lang: Lang = "zh") -> dict[str, pd.DataFrame]:
    """The comparison as the compare tab shows it, headers and statuses in ``lang``:
    ``summary`` (one row), ``grids`` (what became of every grid code), ``matrix``
    (households from each old grid, down, to each new one, across; "—" is no grid: units
    added or removed) and ``moves`` (the same as rows, households moved only)."""
    grids = diff.grids.drop(columns=["in_old", "in_new"])
    moves = diff.moves[diff.moves["old_code"] != diff.moves["new_code"]]
    return {
        "summary": label_columns(label_values(diff.summary, lang), lang),
        "grids": label_columns(label_values(grids, lang), lang),
        "matrix": diff.matrix.rename(columns={"old_code": t("diff_old_new", lang)}),
        "moves": label_columns(label_values(moves.reset_index(drop=True), lang), lang),
    }


def legend_html(lang: Lang = "zh") -> str:
    """The statuses' colours, for under the map."""
    items = "".join(
        f'<span style="display:inline-block;margin-right:14px"><span style="display:inline-block;'
        f"width:14px;height:14px;background:{STATUS_COLOURS[s]};border:1px solid #37474f;"
        f'vertical-align:middle;margin-right:4px"></span>{t(f"diff_{s}", lang)}</span>'
        for s in STATUSES
    )
    return f'<div style="font-size:0.9rem">{items}</div>'


def diff_xlsx(diff: PlanDiff, *, lang: Lang = "zh") -> bytes:
    """The comparison as a workbook (summary, grid changes, moves, matrix; sheets and headers
    in ``lang``), as ``gridplan diff --xlsx`` writes it."""
    from .diff import write_diff

    with tempfile.TemporaryDirectory(prefix="gridplan-") as tmp:
        out = Path(tmp) / "diff.xlsx"
        write_diff(diff, Path(tmp) / "diff.gpkg", xlsx=out, lang=lang)
        return out.read_bytes()
