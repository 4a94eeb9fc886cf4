"""Frozen, validated rule objects.

Rules are plain frozen dataclasses so they are hashable (Streamlit caches on them), shareable
between sessions, and cannot be changed behind a running plan. Each validates itself on
construction and raises :class:`~gridplan.errors.ValidationError` naming every bad field.

* the plan: :class:`GridRules`, :class:`MicroGridRules` (each with :class:`SearchRules`),
  :class:`CodeRules`, :class:`PlanRules`;
* :class:`StaffingRules` (posts and party organisation) and :class:`ReformRules` (community
  redivision);
* :func:`read_rules`: the one ``rules.toml`` loader, returning :class:`Rules`; it checks every
  key's type against the annotations above before the classes check the values.
"""

from __future__ import annotations

import datetime
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import numpy as np

from .errors import Problem, ValidationError

Balance = Literal["households", "population"]


def _field_type_problems(obj: Any) -> list[Problem]:
    """Every field of the rule object ``obj`` whose value does not fit its annotation.

    The same check as :func:`read_rules` applies to a ``rules.toml`` (:func:`_coerce`), so a
    rule class given ``GridRules(min_households="300")`` or ``nan`` in Python is refused with
    the field, the value given and the type expected. Values that fit are stored in their
    canonical form (``300.0`` -> ``300``, ``np.int64(3)`` -> ``3``, a list -> a tuple) so the
    object stays hashable.
    """
    cls = type(obj)
    hints = _hints(cls)  # type: ignore[arg-type]
    problems: list[Problem] = []
    for f in fields(cls):
        value = getattr(obj, f.name)
        try:
            coerced = _coerce(value, hints[f.name])
        except _Bad as exc:
            hint = hints[f.name]
            expected = (
                f"a {getattr(hint, '__name__', hint)}" if is_dataclass(hint) else exc.expected
            )
            problems.append(
                Problem(
                    "rules",
                    "type",
                    f"`{f.name}` of {cls.__name__} must be {expected}, got {_given(value)}",
                    params={"name": f.name, "given": _given(value, "zh")},
                )
            )
            continue
        if coerced is not value and not is_dataclass(hints[f.name]):
            object.__setattr__(obj, f.name, coerced)
    return problems


def _check_field_types(obj: Any) -> None:
    problems = _field_type_problems(obj)
    if problems:
        raise ValidationError(problems)


def _band_problems(
    layer: str, lo: float, hi: float, names: tuple[str, str], *, band: str = "grid"
) -> list[Problem]:
    """The band's floor must be positive and its ceiling above it; the message says which
    band (grid, micro-grid, community) and gives both values by name."""
    problems = []
    if lo <= 0:
        problems.append(
            Problem(layer, "bounds", f"the {band} band's `{names[0]}` must be positive, got {lo}")
        )
    if hi <= lo:
        problems.append(
            Problem(
                layer,
                "bounds",
                f"the {band} band's `{names[1]}` must exceed its `{names[0]}`, got "
                f"{names[1]}={hi} and {names[0]}={lo}",
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
        _check_field_types(self)
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


#: ``barrier_class`` prefixes that are barriers by default (grids do not cross them).
BARRIER_CLASSES: tuple[str, ...] = ("major_road", "railway", "waterway", "river", "barrier")
#: ``barrier_class`` prefixes that are streets by default: boundaries run on them, grids may
#: join across them. Any class in neither list is a barrier.
ROAD_CLASSES: tuple[str, ...] = (
    "secondary",
    "tertiary",
    "minor",
    "residential",
    "service",
    "living_street",
    "unclassified",
    "footway",
    "path",
    "pedestrian",
    "cycleway",
    "track",
    "lane",
    "次干道",
    "支路",
    "街巷",
)


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
    road_classes
        ``barrier_class`` values of the barriers layer that are streets, not barriers
        (prefix match, after ``barrier_classes``): grid boundaries prefer them, as they prefer
        the ``roads`` layer, but grids may join across them. A line whose class is in neither
        list is still a barrier, and is counted as such in ``validate`` and the plan summary.
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
    barrier_classes: tuple[str, ...] = BARRIER_CLASSES
    road_classes: tuple[str, ...] = ROAD_CLASSES
    gated_own_grid: bool = True
    keep_compounds_whole: bool = True
    refine_passes: int = 8
    tries: int = 24
    dedicated_merge_m: float = 100.0
    search: SearchRules = field(default_factory=SearchRules)

    def __post_init__(self) -> None:
        _check_field_types(self)
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
        _check_field_types(self)
        problems = _band_problems(
            "rules",
            self.min_households,
            self.max_households,
            ("min_households", "max_households"),
            band="micro-grid",
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
    code_format
        ``"current"`` (default): county (6) + street (3) + community (3) + grid (3), grids
        in rows north to south, west to east within a row. ``"cjt349"``: CJ/T 349-2010's 20
        digits, ``object_code`` (6) + county (6) + street (3) + community (3) + grid (2),
        numbered left to right, top to bottom (``grid_digits`` becomes 2 and a
        ``dedicated_start`` of 901 becomes 91). ``"db11"``: Beijing DB11/T 2157-2023's 15
        digits, 6 + 3 + 3 + 3, grids numbered west to east, then north to south (in columns).
        Micro-grid codes extend the grid code in every format.
    object_code
        CJ/T 349-2010's 6-digit object code, first in its codes (``code_format="cjt349"``).
    plan_date
        The plan's date (``YYYY-MM-DD``): every new or changed grid is valid from it, and a
        grid retired by a re-plan is valid to it (DB11/T 2157-2023 keeps start and end dates
        on every grid). Empty by default, so the same inputs give the same files whatever
        the day.
    """

    county_code: str = "000000"
    dedicated_start: int = 901
    grid_digits: int = 3
    microgrid_digits: int = 3
    plan_date: str = ""
    code_format: Literal["current", "cjt349", "db11"] = "current"
    object_code: str = "000000"

    def __post_init__(self) -> None:
        _check_field_types(self)
        if self.code_format == "cjt349" and self.grid_digits == 3:
            # CJ/T 349-2010 numbers grids in 2 digits; dedicated grids keep their own range
            object.__setattr__(self, "grid_digits", 2)
            if self.dedicated_start == 901:
                object.__setattr__(self, "dedicated_start", 91)
        problems = []
        if self.code_format not in ("current", "cjt349", "db11"):
            problems.append(
                Problem(
                    "rules",
                    "code_format",
                    f"`code_format` must be 'current', 'cjt349' or 'db11', got "
                    f"{self.code_format!r}",
                )
            )
        if not (len(self.object_code) == 6 and self.object_code.isdigit()):
            problems.append(
                Problem(
                    "rules",
                    "object_code",
                    f"`object_code` must be 6 digits (CJ/T 349-2010), got {self.object_code!r}",
                )
            )
        if not (len(self.county_code) == 6 and self.county_code.isdigit()):
            problems.append(
                Problem(
                    "rules",
                    "county_code",
                    f"`county_code` must be 6 digits (GB/T 2260), got {self.county_code!r}",
                )
            )
        if self.plan_date and not is_iso_date(self.plan_date):
            problems.append(
                Problem(
                    "rules",
                    "plan_date",
                    f"`plan_date` must be a date as YYYY-MM-DD (e.g. 2026-12-03), got "
                    f"{self.plan_date!r}",
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


def is_iso_date(text: str) -> bool:
    """Whether ``text`` is a calendar date written ``YYYY-MM-DD``.

    Examples
    --------
    >>> is_iso_date("2026-12-03"), is_iso_date("2026-13-01"), is_iso_date("20261203")
    (True, False, False)
    """
    try:
        return len(text) == 10 and datetime.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


#: What happens to residential units inside a dedicated area (see ``PlanRules``).
DedicatedResidents = Literal["residential", "dedicated"]


@dataclass(frozen=True)
class PlanRules:
    """Everything :func:`gridplan.plan` needs besides the data.

    Parameters
    ----------
    grid, microgrid, codes
        The grid band, the micro-grid band and the coding rules.
    household_size
        Residents per household where ``population`` is missing.
    dedicated_categories
        The dedicated categories kept (all when empty).
    merge_dedicated
        Merge dedicated areas of one category near each other into one dedicated grid.
    dedicated_residents
        Residential units (buildings with households) inside a dedicated area:
        ``"residential"`` (default) plans them into residential grids and micro-grids like any
        other home, and the dedicated grid keeps the rest of its area; ``"dedicated"`` leaves
        them in the dedicated grid, without a micro-grid, and the plan reports them (the
        diagnostics, the report's ``dedicated_residents`` table, the staffing plan) with
        who serves them.
    """

    grid: GridRules = field(default_factory=GridRules)
    microgrid: MicroGridRules = field(default_factory=MicroGridRules)
    codes: CodeRules = field(default_factory=CodeRules)
    household_size: float = 2.8
    dedicated_categories: tuple[str, ...] = ()
    merge_dedicated: bool = True
    dedicated_residents: DedicatedResidents = "residential"

    def __post_init__(self) -> None:
        _check_field_types(self)
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
            bad = unnestable_sizes(lo, hi, mlo, mhi)
            if bad is not None:
                raise ValidationError(
                    [
                        Problem(
                            "rules",
                            "nesting",
                            f"grid sizes {bad[0]}..{bad[1]} cannot be split into micro-grids of "
                            f"{mlo}-{mhi} households; widen the micro-grid band",
                        )
                    ]
                )
        elif self.grid.balance == "households" and mlo > lo:
            # a grid at the floor could not hold even one micro-grid
            raise ValidationError(
                [
                    Problem(
                        "rules",
                        "nesting",
                        f"the [microgrid] band {mlo}-{mhi} households lies above the grid band "
                        f"{lo}-{hi}: grids of {lo}..{min(hi, mlo - 1)} households cannot hold "
                        f"one micro-grid; the micro-grid `min_households` must not exceed the "
                        f"grid's ({lo}), e.g. 30-50",
                    )
                ]
            )


def unnestable_sizes(lo: int, hi: int, mlo: int, mhi: int) -> tuple[int, int] | None:
    """First and last grid size in ``lo..hi`` that no count of ``mlo``-``mhi`` micro-grids fits.

    ``h`` households fit ``k`` micro-grids when ``k * mlo <= h <= k * mhi``; the sizes that fit
    no ``k`` are the gaps ``k * mhi + 1 .. (k + 1) * mlo - 1``, which exist only while
    ``k * (mhi - mlo) <= mlo - 2``. The answer is computed from the first and last gap that
    meets the band, so a band of a billion households costs as little as one of 200.
    ``None`` when every size fits.

    Examples
    --------
    >>> unnestable_sizes(300, 500, 30, 50) is None
    True
    >>> unnestable_sizes(50, 120, 30, 40)  # gaps 41..59 and 81..89 meet the band
    (50, 89)
    >>> unnestable_sizes(1, 10**9, 30, 50)
    (1, 59)
    """
    lo, hi, mlo, mhi = int(lo), int(hi), int(mlo), int(mhi)
    if mhi <= mlo or hi < lo:
        return None
    n_gaps = (mlo - 2) // (mhi - mlo) + 1 if mlo >= 2 else 0  # gaps k = 0 .. n_gaps - 1
    # the first gap ending at or after lo, the last starting at or before hi
    k1 = max(0, -(-(lo + 1) // mlo) - 1)
    k2 = min(n_gaps - 1, (hi - 1) // mhi)
    if k1 > k2:
        return None
    first = max(lo, k1 * mhi + 1)
    last = min(hi, (k2 + 1) * mlo - 1)
    if first > last:
        return None
    return (first, last)


# ---------------------------------------------------------------------------------------------
# staffing and community redivision
# ---------------------------------------------------------------------------------------------

CellMode = Literal["auto", "tessellate", "units"]


@dataclass(frozen=True)
class StaffingRules:
    """Rules for posts and party organisation; every number is configurable.

    Parameters
    ----------
    grid_heads_per_grid, fulltime_workers_per_grid
        Grid heads (网格长) and full-time grid workers (专职网格员) per residential grid.
    parttime_workers_per_microgrid
        Part-time grid workers (兼职网格员) per micro-grid.
    dedicated_contacts_per_dedicated_grid
        Contacts (专属网格联络员, usually staff of the host institution) per dedicated grid.
    staff_dedicated_grids
        Also give dedicated grids the grid-head and full-time posts of a residential grid.
        Off by default: a dedicated grid is served by its host institution's contact.
    community_workers_per_10k
        Community workers (社区工作者) per 10,000 residents, rounded up per community
        (national guidance: no fewer than 18; some cities use 25).
    household_size
        Residents per household, used where ``population`` is missing (flagged as estimated).
    branch_min_members
        Party members needed for a branch (党支部) of one compound/grid's own.
    joint_branch_max_units
        Most compounds/grids in one joint branch (联合党支部).
    branch_split_over
        A branch with more members than this should be split.
    committee_from
        A branch with at least this many members elects a branch committee (支委会).
    central_household_span
        Households each party-member central household (党员中心户) keeps in touch with.
    central_household_share
        Assumption: at most this share of a branch's party members keep a central household
        (the others are members of the same households, or serve otherwise); so the central
        households are ``min(households / span, members x share)``, not every member.
    party_group_min_members
        Assumption: a building (unit) with at least this many party members holds a building
        party group (楼栋党小组). Units that are blocks or census areas rather than buildings
        are counted the same way, so the count is then an upper bound.
    adjacency_m
        Compounds/grids closer than this (metres; 0 = touching) are neighbours for joint
        branches.
    attach_small_groups
        Policy for small compounds/grids that cannot reach ``branch_min_members`` together
        with their small neighbours: ``True`` joins them to an adjacent branch with room
        (making it a joint branch); ``False`` leaves them as an under-strength group. Either
        way the diagnostics list what is still below the minimum.
    roster_max_distance_m
        A roster person serves a grid they live in, or one whose centre (a micro-grid's, for a
        part-time post) is at most this far from home (metres); 0 = no limit.
    general_branch_over, party_committee_from
        The community's own party organisation by its members (《中国共产党支部工作条例》):
        a branch (党支部) up to ``general_branch_over`` members, a general branch (党总支)
        above, a committee (党委) from ``party_committee_from``.
    big_committee_from_stationed
        A community with at least this many units stationed in it (驻区单位: its dedicated
        grids, the business districts, industrial parks, schools and offices of
        商圈园区划分专属网格; in a redivision, the dedicated areas within the new community)
        sets up a community "big party committee" (社区大党委) that takes them in, whatever
        its own members; the others get 党支部/党总支/党委 by their members. Lüliang set up
        275 of them when its communities were redrawn. 0 = never.
    fulltime_are_community_workers
        Full-time grid workers are drawn from the community workers (Xinzhou: 1,489 community
        workers serve as full-time grid workers), as grid heads always are: the paid staff a
        community needs is then the larger of the resident ratio and its grid posts, and grid
        posts beyond the ratio are reported. ``False`` counts full-time grid workers on top.
    """

    grid_heads_per_grid: int = 1
    fulltime_workers_per_grid: int = 1
    parttime_workers_per_microgrid: int = 1
    dedicated_contacts_per_dedicated_grid: int = 1
    staff_dedicated_grids: bool = False
    community_workers_per_10k: float = 18.0
    household_size: float = 2.8
    branch_min_members: int = 3
    joint_branch_max_units: int = 5
    branch_split_over: int = 50
    committee_from: int = 7
    central_household_span: int = 15
    central_household_share: float = 0.5
    party_group_min_members: int = 3
    adjacency_m: float = 50.0
    attach_small_groups: bool = True
    roster_max_distance_m: float = 0.0
    fulltime_are_community_workers: bool = True
    general_branch_over: int = 50
    party_committee_from: int = 100
    big_committee_from_stationed: int = 1

    def __post_init__(self) -> None:
        # canonical values only: the checks below name every field of the wrong type
        # together with the fields of the right type and a wrong value
        _field_type_problems(self)
        problems: list[Problem] = []

        def whole(name: str, lo: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                problems.append(
                    Problem("rules", name, f"`{name}` must be a whole number >= {lo}, got {v!r}")
                )

        def number(name: str, *, positive: bool) -> None:
            v = getattr(self, name)
            ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            ok = ok and math.isfinite(v) and (v > 0 if positive else v >= 0)
            if not ok:
                what = "a positive number" if positive else "a number >= 0"
                problems.append(Problem("rules", name, f"`{name}` must be {what}, got {v!r}"))

        def flag(name: str) -> None:
            v = getattr(self, name)
            if not isinstance(v, (bool, np.bool_)):
                problems.append(
                    Problem("rules", name, f"`{name}` must be true or false, got {v!r}")
                )

        for name in (
            "grid_heads_per_grid",
            "fulltime_workers_per_grid",
            "parttime_workers_per_microgrid",
            "dedicated_contacts_per_dedicated_grid",
        ):
            whole(name, 0)
        for name in (
            "branch_min_members",
            "committee_from",
            "central_household_span",
            "party_group_min_members",
        ):
            whole(name, 1)
        whole("joint_branch_max_units", 2)
        whole("general_branch_over", 1)
        whole("big_committee_from_stationed", 0)
        whole("party_committee_from", 2)
        whole("branch_split_over", 1)
        number("community_workers_per_10k", positive=True)
        number("household_size", positive=True)
        number("adjacency_m", positive=False)
        number("roster_max_distance_m", positive=False)
        number("central_household_share", positive=True)
        if isinstance(self.central_household_share, float) and self.central_household_share > 1:
            problems.append(
                Problem(
                    "rules",
                    "central_household_share",
                    f"`central_household_share` must be at most 1, got "
                    f"{self.central_household_share!r}",
                )
            )
        flag("staff_dedicated_grids")
        flag("attach_small_groups")
        flag("fulltime_are_community_workers")
        gb, pc = self.general_branch_over, self.party_committee_from
        if not problems and isinstance(gb, int) and isinstance(pc, int) and pc <= gb:
            problems.append(
                Problem(
                    "rules",
                    "party_committee_from",
                    f"`party_committee_from` must exceed `general_branch_over`, got {pc} <= {gb}",
                )
            )
        split, least = self.branch_split_over, self.branch_min_members
        if not problems and isinstance(split, int) and isinstance(least, int) and split < least:
            problems.append(
                Problem(
                    "rules",
                    "branch_split_over",
                    f"`branch_split_over` must be at least `branch_min_members`, got "
                    f"{split} < {least}",
                )
            )
        if problems:
            raise ValidationError(problems)


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
    enterprise_residents
        居企分离 as practice means it: ``"handover"`` (default) hands the homes inside an
        enterprise area (enterprise-run housing) over to the territorial community, which
        takes them like any other homes, and reports them; ``"dedicated"`` keeps them out of
        the residential communities for the enterprise's dedicated grid.
    max_service_distance_m
        Service equality (服务均等): the farthest any household may be from its community's
        service centre (metres). The reach is a column of every community either way; when
        set (> 0), every community reaching farther is a ``reform_service_reach``
        diagnostic (split it with a larger ``target_count`` or a smaller band). 0 = no
        limit.
    community_workers_per_10k, household_size
        Service equality is also households per community worker: each new community gets
        the community workers of this ratio (residents counted, or households x
        ``household_size`` where unknown) and its ``households_per_worker``.
    barrier_classes
        ``barrier_class`` values that count as barriers (prefix match). An empty tuple means
        every line in the barriers layer counts.
    road_classes
        ``barrier_class`` values that are streets, not barriers (as for
        :class:`GridRules`); any other class is a barrier.
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
    >>> ReformRules(min_households=3000, max_households=1000)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    gridplan.errors.ValidationError: 1 problem found in the input:
      - [rules] the community band's `max_households` must exceed its `min_households`, got
        max_households=1000 and min_households=3000
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
    enterprise_residents: Literal["handover", "dedicated"] = "handover"
    max_service_distance_m: float = 0.0
    community_workers_per_10k: float = 18.0
    household_size: float = 2.8
    barrier_classes: tuple[str, ...] = BARRIER_CLASSES
    road_classes: tuple[str, ...] = ROAD_CLASSES
    cells: CellMode = "auto"
    tries: int = 24
    refine_passes: int = 8
    search: SearchRules = field(default_factory=SearchRules)

    def __post_init__(self) -> None:
        _check_field_types(self)
        problems = _band_problems(
            "rules",
            self.min_households,
            self.max_households,
            ("min_households", "max_households"),
            band="community",
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
        if self.enterprise_residents not in ("handover", "dedicated"):
            problems.append(
                Problem(
                    "rules",
                    "enterprise_residents",
                    "`enterprise_residents` must be 'handover' or 'dedicated', got "
                    f"{self.enterprise_residents!r}",
                )
            )
        sd = self.max_service_distance_m
        if (
            not (isinstance(sd, (int, float)) and not isinstance(sd, bool) and math.isfinite(sd))
            or sd < 0
        ):
            problems.append(
                Problem(
                    "rules",
                    "max_service_distance_m",
                    f"`max_service_distance_m` must be a number >= 0 (0 = no limit), got {sd!r}",
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


# ---------------------------------------------------------------------------------------------
# the one rules loader
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """Every rule of a ``rules.toml``: the plan's, the staffing plan's and community redivision's.

    ``[grid]``, ``[grid.search]``, ``[microgrid]``, ``[codes]`` and the top-level keys build
    :attr:`plan`; ``[staffing]`` builds :attr:`staffing` and ``[reform]`` :attr:`reform`.
    """

    plan: PlanRules = field(default_factory=PlanRules)
    staffing: StaffingRules = field(default_factory=StaffingRules)
    reform: ReformRules = field(default_factory=ReformRules)


class _Bad(Exception):
    """A value that does not fit its annotation (internal to the loader)."""

    def __init__(self, expected: str) -> None:
        self.expected = expected


#: how :func:`_given` names each kind of value: kind -> (en, zh)
_GIVEN_KINDS = {
    "bool": ("true/false", "是/否"),
    "str": ("text", "文字"),
    "int": ("a whole number", "整数"),
    "float": ("a decimal number", "小数"),
    "list": ("a list", "列表"),
}


def _given(value: Any, lang: Literal["en", "zh"] = "en") -> str:
    """What the file gave, in words a planner recognises: ``"300" (text)``, ``"300"（文字）``."""
    if isinstance(value, Mapping):
        return "a table" if lang == "en" else "一个表"
    if isinstance(value, bool):
        shown, kind = str(value).lower(), "bool"
    elif isinstance(value, str):
        shown, kind = f'"{value}"', "str"
    elif isinstance(value, int | float):
        shown, kind = str(value), "int" if isinstance(value, int) else "float"
    elif isinstance(value, list | tuple):
        shown, kind = repr(list(value)), "list"
    else:
        return f"{value!r} ({type(value).__name__})" if lang == "en" else repr(value)
    words = _GIVEN_KINDS[kind]
    return f"{shown} ({words[0]})" if lang == "en" else f"{shown}（{words[1]}）"


def _coerce(value: Any, hint: Any) -> Any:
    """``value`` as the annotation ``hint`` wants it, or :class:`_Bad` naming what it wanted.

    TOML has whole numbers, decimals, text, true/false, lists and tables; the annotations of
    the rule classes say which of them each key takes. Python's ``True`` is an ``int`` and
    ``float("nan")`` a ``float``: both are refused where they make no sense.
    """
    origin = get_origin(hint)
    if origin in (Union, UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        if value is None and len(options) < len(get_args(hint)):
            return None
        for option in options:
            try:
                return _coerce(value, option)
            except _Bad:
                continue
        raise _Bad(" or ".join(_coerce_name(o) for o in options))
    if origin is Literal:
        allowed = get_args(hint)
        if isinstance(value, str) and value in allowed:
            return value
        raise _Bad("one of " + ", ".join(f'"{a}"' for a in allowed))
    if origin is tuple:
        args = get_args(hint)
        if not isinstance(value, list | tuple):
            raise _Bad(_coerce_name(hint))
        item = args[0] if args else Any
        try:
            return tuple(_coerce(v, item) for v in value)
        except _Bad as exc:
            raise _Bad(_coerce_name(hint)) from exc
    if hint is bool:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        raise _Bad(_coerce_name(bool))
    if hint is int:
        if isinstance(value, bool | np.bool_):
            raise _Bad(_coerce_name(int))
        if isinstance(value, int | np.integer):
            return int(value)
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        raise _Bad(_coerce_name(int))
    if hint is float:
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer):
            raise _Bad(_coerce_name(float))
        if not math.isfinite(value):
            raise _Bad("a finite number")
        return float(value) if isinstance(value, np.integer) else value
    if hint is str:
        if isinstance(value, str):
            return value
        raise _Bad(_coerce_name(str))
    if is_dataclass(hint):
        if isinstance(hint, type) and isinstance(value, hint):
            return value
        if not isinstance(value, Mapping):
            raise _Bad("a table")
        return value  # built by _build, which knows the section's name
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _coerce_name(hint: Any) -> str:
    origin = get_origin(hint)
    if origin is tuple:
        args = [a for a in get_args(hint) if a is not Ellipsis]
        return f"a list of {_plural(args[0])}" if args else "a list"
    if origin is Literal:
        return "one of " + ", ".join(f'"{a}"' for a in get_args(hint))
    return {
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        str: "text",
    }.get(hint, getattr(hint, "__name__", str(hint)))


def _plural(hint: Any) -> str:
    return {int: "whole numbers", float: "numbers", str: "texts", bool: "true/false"}.get(
        hint, _coerce_name(hint)
    )


def _key_name(section: str, key: str) -> str:
    return f"[{section}] {key}" if section else key


def _build(cls: type, data: Mapping[str, Any], section: str, problems: list[Problem]) -> Any:
    """``cls(**data)`` with every key checked against ``cls``'s annotations first.

    Every problem is added to ``problems``; returns None when the section cannot be built.
    """
    if not isinstance(data, Mapping):
        problems.append(
            Problem(
                "rules",
                "type",
                f"`{section}` must be a table ([{section}] in TOML), got {_given(data)}",
            )
        )
        return None
    hints = _hints(cls)
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(map(str, data)) - set(names))
    if unknown:
        where = f"[{section}]" if section else "the top level"
        problems.append(
            Problem(
                "rules",
                "unknown_key",
                f"unknown key(s) {unknown} in {where}; allowed: {sorted(names)}",
                params={"unknown": "、".join(unknown)},
            )
        )
    kwargs: dict[str, Any] = {}
    ok = not unknown
    for key in names:
        if key not in data:
            continue
        value, hint = data[key], hints[key]
        name = _key_name(section, key)
        try:
            value = _coerce(value, hint)
        except _Bad as exc:
            problems.append(
                Problem(
                    "rules",
                    "type",
                    f"`{name}` must be {exc.expected}, got {_given(value)}",
                    params={"name": name, "given": _given(value, "zh")},
                )
            )
            ok = False
            continue
        if is_dataclass(hint) and isinstance(value, Mapping):
            sub = f"{section}.{key}" if section else key
            value = _build(hint, value, sub, problems)  # type: ignore[arg-type]
            if value is None:
                ok = False
                continue
        kwargs[key] = value
    if not ok:
        return None
    try:
        return cls(**kwargs)
    except ValidationError as exc:
        where = f"[{section}] " if section else ""
        problems.extend(replace(p, message=f"{where}{p.message}") for p in exc.problems)
        return None


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib

    if not path.is_file():
        raise ValidationError(
            [Problem(path.name, "missing_file", f"rules file not found: {str(path)!r}")]
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(
            [Problem(path.name, "bad_toml", f"cannot parse {path.name!r} as TOML: {exc}")]
        ) from exc


_PLAN_SECTIONS = {"grid", "microgrid", "codes"}


def read_rules(source: str | Path | Mapping[str, Any] | None = None) -> Rules:
    """Read every rule from a ``rules.toml`` (a path) or its parsed mapping.

    Each key is checked against the type its rule class declares before the class validates
    the values, and every problem in the file is reported at once, naming the key, what was
    given and what was expected:

    * ``[grid] min_households = "300"`` (text for a whole number), ``= 300.5`` (a decimal for a
      count) or ``= true`` (true/false for a count);
    * ``household_size = "2.8"`` (text for a number), ``nan`` or ``inf`` for a number;
    * ``barrier_classes = "mx"`` (text for a list of texts, which would be read letter by
      letter);
    * unknown keys, with the allowed ones.

    Sections: ``[grid]`` (with ``[grid.search]``), ``[microgrid]`` (with
    ``[microgrid.search]``), ``[codes]``, top-level ``household_size``,
    ``dedicated_categories``, ``merge_dedicated``, ``dedicated_residents``; ``[staffing]``;
    ``[reform]``. A top-level ``household_size`` is shared with ``[staffing]`` unless that
    sets its own; a file without a ``[staffing]`` table may give staffing keys at the top
    level.

    Raises
    ------
    ValidationError
        Listing every problem of the file.

    Examples
    --------
    >>> r = read_rules({"grid": {"min_households": 250, "search": {"enum_max": 10}},
    ...                 "staffing": {"community_workers_per_10k": 25}})
    >>> r.plan.grid.min_households, r.plan.grid.search.enum_max, r.staffing.household_size
    (250, 10, 2.8)
    >>> read_rules({"grid": {"min_households": "300"}})
    Traceback (most recent call last):
    ...
    gridplan.errors.ValidationError: 1 problem found in the input:
      - [rules] `[grid] min_households` must be a whole number, got "300" (text)
    """
    if source is None:
        return Rules()
    data = dict(source) if isinstance(source, Mapping) else _read_toml(Path(source))
    problems: list[Problem] = []
    staffing_names = {f.name for f in fields(StaffingRules)}
    plan_names = {f.name for f in fields(PlanRules)}
    plan_data = {k: v for k, v in data.items() if k not in ("staffing", "reform")}
    staffing_data: Any = data.get("staffing", {})
    if "staffing" not in data:
        # an older flat file for `gridplan staff`: staffing keys at the top level
        flat = {k for k in plan_data if k in staffing_names - plan_names}
        staffing_data = {k: plan_data.pop(k) for k in sorted(flat)}
    shared = data.get("household_size")
    if isinstance(staffing_data, Mapping) and "household_size" not in staffing_data:
        try:  # a bad shared value is reported once, at the top level
            staffing_data = {**staffing_data, "household_size": _coerce(shared, float)}
        except _Bad:
            pass
    plan = _build(PlanRules, plan_data, "", problems)
    staffing = _build(StaffingRules, staffing_data, "staffing", problems)
    reform = _build(ReformRules, data.get("reform", {}), "reform", problems)
    if problems:
        raise ValidationError(problems)
    return Rules(plan=plan, staffing=staffing, reform=reform)


def rules_from_dict(data: Mapping[str, Any]) -> PlanRules:
    """The plan's rules of a parsed ``rules.toml`` (see :func:`read_rules`)."""
    return read_rules(data).plan


def staffing_rules_from_dict(data: Mapping[str, Any]) -> StaffingRules:
    """The ``[staffing]`` rules of a parsed ``rules.toml`` (see :func:`read_rules`).

    Examples
    --------
    >>> staffing_rules_from_dict({"staffing": {"community_workers_per_10k": 25}})
    ... # doctest: +ELLIPSIS
    StaffingRules(..., community_workers_per_10k=25, ...)
    """
    return read_rules(data).staffing


def staffing_rules_from_toml(path: str | Path) -> StaffingRules:
    """The ``[staffing]`` rules of a ``rules.toml`` file (see :func:`read_rules`)."""
    return read_rules(Path(path)).staffing


# ---------------------------------------------------------------------------------------------
# the arguments of an entry point
# ---------------------------------------------------------------------------------------------

#: engines :func:`gridplan.plan` runs on
ENGINES = ("single", "dask")


def _short_repr(value: object, limit: int = 40) -> str:
    """A value as a message quotes it: rule objects by name, long reprs cut."""
    if is_dataclass(value):
        return f"{type(value).__name__}(...)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_plan_arguments(
    *,
    rules: object = None,
    seed: object = 0,
    engine: object = "single",
    expected: type = PlanRules,
    argument: str = "rules",
    columns: object = None,
    source_crs: object = None,
    locks: object = None,
    progress: object = None,
) -> None:
    """Refuse the arguments of a plan before any work starts.

    ``rules`` must be an instance of ``expected`` (or None for the defaults), ``seed`` a whole
    number >= 0 (not True/False) and ``engine`` one of :data:`ENGINES`; ``columns`` a mapping
    of text to text, ``source_crs`` one of ``"wgs84"``, ``"gcj02"``, ``"bd09"``, ``locks`` a
    mapping or Series and ``progress`` a callable (each or None). Every problem is raised
    at once, naming the argument, the value given and what is expected, so ``rules="abc"`` or
    ``seed="x"`` never reach the stages as a raw ``AttributeError`` or ``TypeError``.

    Raises
    ------
    ValidationError
        Listing every bad argument.

    Examples
    --------
    >>> check_plan_arguments(rules=PlanRules(), seed=3, engine="single")
    >>> check_plan_arguments(rules="abc", seed="x")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    gridplan.errors.ValidationError: 2 problems found in the input:
      - [rules] `rules` must be a PlanRules or None, got 'abc' (str); build one with
        PlanRules(...) or read a rules file with gridplan.config.read_rules(path).plan
      - [arguments] `seed` must be a whole number >= 0, got 'x' (str)
    """
    problems: list[Problem] = []
    if rules is not None and not isinstance(rules, expected):
        hint = (
            f"; build one with {expected.__name__}(...) or read a rules file with "
            "gridplan.config.read_rules(path).plan"
            if expected is PlanRules
            else f"; build one with {expected.__name__}(...)"
        )
        if isinstance(rules, PlanRules) and expected is GridRules:
            hint = "; pass the plan's grid rules, rules.grid"
        elif isinstance(rules, PlanRules) and expected is MicroGridRules:
            hint = "; pass the plan's micro-grid rules, rules.microgrid"
        problems.append(
            Problem(
                "rules",
                "type",
                f"`{argument}` must be a {expected.__name__} or None, got "
                f"{_short_repr(rules)} ({type(rules).__name__}){hint}",
            )
        )
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, int | np.integer) or int(seed) < 0:
        problems.append(
            Problem(
                "arguments",
                "seed",
                f"`seed` must be a whole number >= 0, got {seed!r} ({type(seed).__name__})",
            )
        )
    if not (isinstance(engine, str) and engine in ENGINES):
        problems.append(
            Problem(
                "arguments",
                "engine",
                f"`engine` must be one of {', '.join(repr(e) for e in ENGINES)}, got {engine!r}",
            )
        )
    problems.extend(argument_problems(columns=columns, source_crs=source_crs))
    if locks is not None and not hasattr(locks, "items"):  # a Mapping or a pandas Series
        problems.append(
            Problem(
                "arguments",
                "locks",
                "`locks` must map unit ids to grid labels, e.g. {'u1': 'A', 'u2': 'A'}, got "
                f"{_short_repr(locks)} ({type(locks).__name__})",
            )
        )
    if progress is not None and not callable(progress):
        problems.append(
            Problem(
                "arguments",
                "progress",
                "`progress` must be a function progress(done, total, message), got "
                f"{_short_repr(progress)} ({type(progress).__name__})",
            )
        )
    if problems:
        raise ValidationError(problems)


#: the ``source_crs`` values: where lon/lat coordinates were digitised
SOURCE_CRS = ("wgs84", "gcj02", "bd09")


def argument_problems(*, columns: object = None, source_crs: object = None) -> list[Problem]:
    """Problems of the ``columns`` and ``source_crs`` arguments every layer reader takes.

    Examples
    --------
    >>> argument_problems(columns={"户数": "households"}, source_crs="gcj02")
    []
    >>> [p.message for p in argument_problems(columns="户数=households")]  # doctest: +ELLIPSIS
    ["`columns` must map old column names to new ones, e.g. {'户数': 'households'}, got ..."]
    """
    problems: list[Problem] = []
    if columns is not None:
        bad = not isinstance(columns, Mapping) or not all(
            isinstance(v, str) for v in columns.values()
        )
        if bad:
            problems.append(
                Problem(
                    "arguments",
                    "columns",
                    "`columns` must map old column names to new ones, e.g. {'户数': "
                    f"'households'}}, got {_short_repr(columns)} ({type(columns).__name__})",
                )
            )
    if source_crs is not None and source_crs not in SOURCE_CRS:
        problems.append(
            Problem(
                "arguments",
                "source_crs",
                f"`source_crs` must be one of {', '.join(repr(c) for c in SOURCE_CRS)} or None, "
                f"got {_short_repr(source_crs)}",
            )
        )
    return problems
