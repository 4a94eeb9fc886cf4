"""The rules of a community redivision and its result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import pandas as pd

from ..config import CellMode, ReformRules

__all__ = ["CellMode", "Reform", "ReformRules"]


@dataclass(frozen=True)
class Reform:
    """Result of :func:`redivide`.

    Attributes
    ----------
    units
        The normalised input units (input CRS, index ``unit_id``) with ``previous_code`` (the
        current community), ``community_code`` and ``community_id`` (the new community; None
        for units in an enterprise area) and ``dedicated_id`` (the enterprise area, else None).
    communities
        One row per new residential community (input CRS): ``community_id`` (unique),
        ``community_code``, ``previous_code`` (the current community it continues, or the one
        that gave it most households), ``previous_codes`` (every contributing community with
        its households, ``"A:1200;B:300"``), ``street_id``, ``name``, ``households``,
        ``population``, ``n_units``, ``in_bounds``, ``kept`` (same code as before),
        ``changed`` (membership differs from the current community), ``crosses_barrier``,
        ``compactness`` (Polsby-Popper), geometry (union of member cells).
    changes
        One row per (current community, new community or enterprise area) pair:
        ``previous_code``, ``community_code``, ``community_id``, ``dedicated_id``,
        ``street_id``, ``households``, ``population``, ``n_units``, ``moved``,
        ``households_moved``, ``population_moved``.
    report
        ``counts`` (metric, before, after), ``per_street`` totals, ``mapping`` (one row per
        current community: where its households went).
    diagnostics
        One row per problem, columns :data:`gridplan.diagnostics.COLUMNS` (``code``,
        ``community_code``, ``unit_ids`` as a tuple, ``params``, the rendered ``message`` and
        ``fix``; :func:`gridplan.diagnostics.render_frame` renders them in another language).
    dedicated
        Enterprise areas left out of residential communities, for dedicated grids:
        ``dedicated_id``, ``name``, ``category``, ``street_id``, ``previous_codes``,
        ``households``, ``population``, ``n_units``, geometry (input CRS).
    rules
        The rules used.
    work_crs
        The metric CRS the work was done in.
    """

    units: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    changes: pd.DataFrame
    report: dict[str, pd.DataFrame]
    diagnostics: pd.DataFrame
    dedicated: gpd.GeoDataFrame
    rules: ReformRules = field(default_factory=ReformRules)
    work_crs: Any = None

    def to_excel(self, path: str | Path, *, language: Literal["zh", "en"] = "zh") -> Path:
        """The before/after report (村改社区前后对照: counts, new communities with names, codes,
        service reach and party organisation, old → new mapping, streets, diagnostics) as an
        Excel workbook, Chinese by default (:func:`gridplan.reform.report.reform_workbook`)."""
        from .report import reform_workbook

        return reform_workbook(self, path, lang=language)
