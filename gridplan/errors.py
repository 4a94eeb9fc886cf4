"""Errors raised by gridplan.

Every error a user can trigger with bad input is a :class:`ValidationError` that lists *all*
problems found, names the offending rows or columns, and says how to fix them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class GridplanError(Exception):
    """Base class for every error gridplan raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem found while validating input.

    Parameters
    ----------
    layer
        Name of the layer (``units``, ``barriers``, ...) or ``rules``.
    check
        Short machine-readable name of the check, e.g. ``invalid_geometry``.
    message
        Human-readable sentence naming rows/columns and the fix.
    rows
        Identifiers of the offending rows (may be empty for column-level problems).
    """

    layer: str
    check: str
    message: str
    rows: tuple[object, ...] = ()

    def __str__(self) -> str:
        return f"[{self.layer}] {self.message}"


class ValidationError(GridplanError, ValueError):
    """Input data or rules are invalid. ``problems`` holds every problem found."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]):
        self.problems: tuple[Problem, ...] = tuple(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found in the input:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class InfeasibleError(GridplanError):
    """A requested plan cannot be produced at all (not raised for ordinary infeasible pieces,
    which are reported in the plan's diagnostics table instead)."""


def describe_rows(rows: Sequence[object], *, limit: int = 10) -> str:
    """Format row identifiers for an error message: ``ids 4, 9, 12`` (truncated after ``limit``)."""
    shown = ", ".join(str(r) for r in list(rows)[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"{shown}{more}"
