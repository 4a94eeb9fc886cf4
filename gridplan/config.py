"""Frozen, validated rule objects.

Rules are plain frozen dataclasses so they are hashable (Streamlit caches on them), shareable
between sessions, and cannot be changed behind a running plan. Each validates itself on
construction and raises :class:`~gridplan.errors.ValidationError` naming every bad field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from .errors import Problem, ValidationError

Balance = Literal["households", "population"]


def _band_problems(layer: str, lo: float, hi: float, names: tuple[str, str]) -> list[Problem]:
    problems = []
    if lo <= 0:
        problems.append(Problem(layer, "bounds", f"`{names[0]}` must be positive, got {lo}"))
    if hi <= lo:
        problems.append(
            Problem(
                layer,
                "bounds",
                f"`{names[1]}` must exceed `{names[0]}`, got {hi} <= {lo}",
            )
        )
    return problems


def band_admits(total: float, lo: float, hi: float) -> tuple[int, int]:
    """Return the range ``(k_min, k_max)`` of part counts that can hold ``total`` in ``[lo, hi]``.

    A piece holding ``total`` can be split into ``k`` in-band parts only if
    ``ceil(total / hi) <= k <= floor(total / lo)``; the range is empty when ``k_min > k_max``.

    Examples
    --------
    >>> band_admits(1200, 300, 500)
    (3, 4)
    >>> band_admits(550, 300, 500)  # between one and two grids: no count fits
    (2, 1)
    """
    if total <= 0:
        return (0, 0)
    k_min = max(1, math.ceil(total / hi - 1e-9))
    k_max = math.floor(total / lo + 1e-9)
    return (k_min, k_max)


@dataclass(frozen=True)
class SearchRules:
    """Knobs of the partition search: how hard it looks, never what a plan must satisfy.

    Parameters
    ----------
    enum_max
        Pieces of at most this many units are split by enumerating every connected cut
        instead of sampling spanning trees.
    exact_first_units
        Pieces of at most this many units go to the exact set-partitioning model first.
    fine_divisors
        Micro-grids: when a grid has no in-band split, its building slices are cut again into
        this many finer slices each, in turn.
    """

    enum_max: int = 12
    exact_first_units: int = 20
    fine_divisors: tuple[int, ...] = (2, 3)

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.enum_max <= 20:
            problems.append(
                Problem("rules", "search", f"`enum_max` must be in 1..20, got {self.enum_max}")
            )
        if self.exact_first_units < 0:
            problems.append(
                Problem(
                    "rules",
                    "search",
                    f"`exact_first_units` must be >= 0, got {self.exact_first_units}",
                )
            )
        if any(d < 2 for d in self.fine_divisors):
            problems.append(
                Problem(
                    "rules",
                    "search",
                    f"`fine_divisors` must all be >= 2, got {list(self.fine_divisors)}",
                )
            )
        if problems:
            raise ValidationError(problems)


@dataclass(frozen=True)
class GridRules:
    """Rules for residential grids (网格).

    Parameters
    ----------
    min_households, max_households
        The band every residential grid must fall in (default 300–500 households). When
        ``balance="population"`` the same two numbers bound residents instead (e.g. 800–1,200).
    target_households
        Preferred size; defaults to the middle of the band.
    balance
        Which column the band applies to: ``"households"`` or ``"population"``.
    respect_barriers
        Cut adjacency across barrier lines so no grid straddles a major road, river or railway.
        A piece that cannot be made feasible on its own is joined across a barrier and the
        crossing is reported.
    barrier_classes
        ``barrier_class`` values that count as barriers. An empty tuple means every line in the
        barriers layer counts. Matching is by prefix, so ``"railway"`` matches ``railway_rail``.
    gated_own_grid
        A gated compound whose total is within the band forms exactly one grid.
    keep_compounds_whole
        Compounds at or below the ceiling are never split between grids.
    refine_passes
        Passes of the boundary-move local search that improves compactness after the split.
    tries
        Spanning trees tried per bisection before the piece falls back to the
        least-violating plan.
    dedicated_merge_m
        Dedicated areas of the same category closer than this (metres) form one dedicated
        grid, so a cluster of office buildings becomes one business-district grid.
    search
        :class:`SearchRules`: how hard the partition search looks.
    """

    min_households: int = 300
    max_households: int = 500
    target_households: int | None = None
    balance: Balance = "households"
    respect_barriers: bool = True
    barrier_classes: tuple[str, ...] = ("major_road", "railway", "waterway", "river", "barrier")
    gated_own_grid: bool = True
    keep_compounds_whole: bool = True
    refine_passes: int = 8
    tries: int = 24
    dedicated_merge_m: float = 100.0
    search: SearchRules = field(default_factory=SearchRules)

    def __post_init__(self) -> None:
        problems = _band_problems(
            "rules", self.min_households, self.max_households, ("min_households", "max_households")
        )
        if self.dedicated_merge_m < 0:
            problems.append(
                Problem(
                    "rules",
                    "dedicated_merge_m",
                    f"`dedicated_merge_m` must be >= 0, got {self.dedicated_merge_m}",
                )
            )
        t = self.target_households
        if t is not None and not (self.min_households <= t <= self.max_households):
            problems.append(
                Problem(
                    "rules",
                    "bounds",
                    f"`target_households` must lie in [{self.min_households}, "
                    f"{self.max_households}], got {t}",
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
        if self.refine_passes < 0 or self.tries < 1:
            problems.append(
                Problem("rules", "search", "`refine_passes` must be >= 0 and `tries` >= 1")
            )
        if problems:
            raise ValidationError(problems)

    @property
    def target(self) -> float:
        """Preferred grid size (the band's midpoint unless set)."""
        if self.target_households is not None:
            return float(self.target_households)
        return (self.min_households + self.max_households) / 2

    def with_band(self, lo: int, hi: int) -> GridRules:
        """Return a copy with another band (target reset to the midpoint)."""
        return replace(self, min_households=lo, max_households=hi, target_households=None)


@dataclass(frozen=True)
class MicroGridRules:
    """Rules for micro-grids (微网格) inside each residential grid.

    Parameters
    ----------
    min_households, max_households
        Band for every micro-grid (default 30–50 households).
    split_buildings
        Split buildings above ``max_households`` by stairwell (``stairwells`` column) or, where
        that is missing, into slices along the footprint's long axis.
    search
        :class:`SearchRules`; micro-grid pieces go to the exact model first up to 30 units.
    """

    min_households: int = 30
    max_households: int = 50
    split_buildings: bool = True
    refine_passes: int = 4
    tries: int = 4
    search: SearchRules = field(default_factory=lambda: SearchRules(exact_first_units=30))

    def __post_init__(self) -> None:
        problems = _band_problems(
            "rules", self.min_households, self.max_households, ("min_households", "max_households")
        )
        if problems:
            raise ValidationError(problems)

    def as_grid_rules(self) -> GridRules:
        """The same band expressed as :class:`GridRules`, for the shared partition core."""
        return GridRules(
            min_households=self.min_households,
            max_households=self.max_households,
            respect_barriers=False,
            gated_own_grid=False,
            keep_compounds_whole=False,
            refine_passes=self.refine_passes,
            tries=self.tries,
            search=self.search,
        )


@dataclass(frozen=True)
class CodeRules:
    """Grid codes in the CJ/T 349 style: county (6, GB/T 2260) + street (3) + community (3) +
    grid sequence (3) [+ micro-grid sequence (3)].

    Parameters
    ----------
    county_code
        6-digit administrative code of the county/district, e.g. ``"140106"`` (迎泽区).
    dedicated_start
        First sequence number used for dedicated grids (专属网格), keeping them in their own
        range apart from residential grids.
    """

    county_code: str = "000000"
    dedicated_start: int = 901
    grid_digits: int = 3
    microgrid_digits: int = 3

    def __post_init__(self) -> None:
        problems = []
        if not (len(self.county_code) == 6 and self.county_code.isdigit()):
            problems.append(
                Problem(
                    "rules",
                    "county_code",
                    f"`county_code` must be 6 digits (GB/T 2260), got {self.county_code!r}",
                )
            )
        if not (1 <= self.dedicated_start < 10**self.grid_digits):
            problems.append(
                Problem(
                    "rules",
                    "dedicated_start",
                    f"`dedicated_start` must fit in {self.grid_digits} digits, "
                    f"got {self.dedicated_start}",
                )
            )
        if problems:
            raise ValidationError(problems)


@dataclass(frozen=True)
class PlanRules:
    """Everything :func:`gridplan.plan` needs besides the data."""

    grid: GridRules = field(default_factory=GridRules)
    microgrid: MicroGridRules = field(default_factory=MicroGridRules)
    codes: CodeRules = field(default_factory=CodeRules)
    household_size: float = 2.8
    dedicated_categories: tuple[str, ...] = ()
    merge_dedicated: bool = True

    def __post_init__(self) -> None:
        if not self.household_size > 0:
            raise ValidationError(
                [
                    Problem(
                        "rules",
                        "household_size",
                        f"`household_size` must be positive, got {self.household_size}",
                    )
                ]
            )
        lo, hi = self.grid.min_households, self.grid.max_households
        mlo, mhi = self.microgrid.min_households, self.microgrid.max_households
        if self.grid.balance == "households" and mhi < hi:
            # every grid size in the band must admit an in-band count of micro-grids
            bad = [
                h
                for h in range(lo, hi + 1)
                if band_admits(h, mlo, mhi)[0] > band_admits(h, mlo, mhi)[1]
            ]
            if bad:
                raise ValidationError(
                    [
                        Problem(
                            "rules",
                            "nesting",
                            f"grid sizes {bad[0]}..{bad[-1]} cannot be split into micro-grids of "
                            f"{mlo}-{mhi} households; widen the micro-grid band",
                        )
                    ]
                )


def rules_from_dict(data: dict[str, Any]) -> PlanRules:
    """Build :class:`PlanRules` from a nested mapping (e.g. a parsed ``rules.toml``).

    Unknown keys are an error naming the key and the allowed keys.
    """
    sections = {"grid": GridRules, "microgrid": MicroGridRules, "codes": CodeRules}
    # sections read by other modules from the same rules.toml (staffing, reform)
    foreign = {"staffing", "reform"}
    problems: list[Problem] = []
    kwargs: dict[str, Any] = {}
    top_allowed = {f.name for f in fields(PlanRules)}
    for key, value in data.items():
        if key in sections:
            cls = sections[key]
            allowed = {f.name for f in fields(cls)}
            unknown = sorted(set(value) - allowed)
            if unknown:
                problems.append(
                    Problem(
                        "rules",
                        "unknown_key",
                        f"unknown key(s) {unknown} in [{key}]; allowed: {sorted(allowed)}",
                    )
                )
                continue
            vals = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
            try:
                kwargs[key] = cls(**vals)
            except ValidationError as exc:
                problems.extend(exc.problems)
        elif key in foreign:
            continue
        elif key in top_allowed:
            kwargs[key] = tuple(value) if isinstance(value, list) else value
        else:
            problems.append(
                Problem(
                    "rules",
                    "unknown_key",
                    f"unknown key {key!r}; allowed: {sorted(top_allowed | set(sections))}",
                )
            )
    if problems:
        raise ValidationError(problems)
    return PlanRules(**kwargs)
