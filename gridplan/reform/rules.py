"""The rules of a community redivision and its result."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from ..config import Balance, SearchRules
from ..errors import Problem, ValidationError

__all__ = ["CellMode", "Reform", "ReformRules"]

CellMode = Literal["auto", "tessellate", "units"]


@dataclass(frozen=True)
class ReformRules:
    """Rules for community redivision.

    Parameters
    ----------
    min_households, max_households
        The band every new community must fall in (default 1,000-3,000 households). With
        ``balance="population"`` the same two numbers bound residents instead.
    target_count
        Number of residential communities wanted across all streets (e.g. 245 after merging
        325 villages and communities). Groups are merged or split until it is reached where
        the band allows; ``None`` lets the band decide.
    disruption_weight
        Weight of households moved out of their current community against compactness in
        the local search and when choosing between repairs. ``0`` plans for compactness only.
    balance
        Which column the band applies to: ``"households"`` or ``"population"``.
    keep_valid
        Keep every current community that is within the band and contiguous exactly as it is,
        unless an invalid neighbour needs it. ``False`` plans every street afresh (current
        boundaries are still preferred through ``disruption_weight``).
    new_code_start
        First 3-digit code given to communities that are not substantially a current one.
    enterprise_categories
        Words that mark a dedicated polygon's ``category`` as an enterprise area to be kept
        out of residential communities (居企分离). Matching is case-insensitive by substring,
        so ``"industrial"`` matches ``landuse_industrial`` and ``industrial_building``.
    barrier_classes
        ``barrier_class`` values that count as barriers (prefix match). An empty tuple means
        every line in the barriers layer counts.
    cells
        How units become space-filling cells. ``"tessellate"``: Voronoi cells inside the
        street (:func:`gridplan.tessellation.tessellate`), for buildings and points.
        ``"units"``: the unit polygons themselves, for areal units (census blocks, output
        areas, village polygons) that already tile the street. ``"auto"`` takes ``"units"``
        when every unit is a polygon and together they cover at least 90 % of their streets
        without overlapping, else ``"tessellate"``.
    tries, refine_passes
        Spanning trees tried per bisection and passes of boundary refinement inside
        :func:`~gridplan.partition.core.split_piece`; ``refine_passes`` also bounds the
        passes of the disruption-aware local search.
    search
        Knobs of the partition search (:class:`~gridplan.config.SearchRules`).

    Examples
    --------
    >>> ReformRules(min_households=1500, max_households=3000).target
    2250.0
    >>> ReformRules(min_households=3000, max_households=1000)
    Traceback (most recent call last):
    ...
    gridplan.errors.ValidationError: 1 problem found in the input:
      - [rules] `max_households` must exceed `min_households`, got 1000 <= 3000
    """

    min_households: int = 1000
    max_households: int = 3000
    target_count: int | None = None
    disruption_weight: float = 1.0
    balance: Balance = "households"
    keep_valid: bool = True
    new_code_start: int = 601
    enterprise_categories: tuple[str, ...] = (
        "industrial",
        "business",
        "enterprise",
        "office",
        "commercial",
        "工业",
        "企业",
        "商务",
        "产业",
    )
    barrier_classes: tuple[str, ...] = ("major_road", "railway", "waterway", "river", "barrier")
    cells: CellMode = "auto"
    tries: int = 24
    refine_passes: int = 8
    search: SearchRules = field(default_factory=SearchRules)

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        lo, hi = self.min_households, self.max_households
        if not lo > 0:
            problems.append(
                Problem("rules", "bounds", f"`min_households` must be positive, got {lo}")
            )
        if not hi > lo:
            problems.append(
                Problem(
                    "rules",
                    "bounds",
                    f"`max_households` must exceed `min_households`, got {hi} <= {lo}",
                )
            )
        if self.target_count is not None and not (
            isinstance(self.target_count, (int, np.integer)) and self.target_count >= 1
        ):
            problems.append(
                Problem(
                    "rules",
                    "target_count",
                    "`target_count` must be a whole number >= 1 or None, got "
                    f"{self.target_count!r}",
                )
            )
        dw = self.disruption_weight
        if not (isinstance(dw, (int, float)) and math.isfinite(dw) and dw >= 0):
            problems.append(
                Problem(
                    "rules",
                    "disruption_weight",
                    f"`disruption_weight` must be a finite number >= 0, got {dw!r}",
                )
            )
        if self.balance not in ("households", "population"):
            problems.append(
                Problem(
                    "rules",
                    "balance",
                    f"`balance` must be 'households' or 'population', got {self.balance!r}",
                )
            )
        if not (
            isinstance(self.new_code_start, (int, np.integer)) and 1 <= self.new_code_start <= 999
        ):
            problems.append(
                Problem(
                    "rules",
                    "new_code_start",
                    "`new_code_start` must be a 3-digit number in 1..999, got "
                    f"{self.new_code_start!r}",
                )
            )
        if self.cells not in ("auto", "tessellate", "units"):
            problems.append(
                Problem(
                    "rules",
                    "cells",
                    f"`cells` must be 'auto', 'tessellate' or 'units', got {self.cells!r}",
                )
            )
        if self.tries < 1 or self.refine_passes < 0:
            problems.append(
                Problem(
                    "rules",
                    "search",
                    f"`tries` must be >= 1 and `refine_passes` >= 0, got {self.tries} and "
                    f"{self.refine_passes}",
                )
            )
        if problems:
            raise ValidationError(problems)

    @property
    def target(self) -> float:
        """Preferred community size: the middle of the band."""
        return (self.min_households + self.max_households) / 2


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
