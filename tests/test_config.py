"""The rules: one loader for every section of rules.toml, checking each key's type."""

from __future__ import annotations

import itertools
import math

import pytest
from typer.testing import CliRunner

from gridplan.cli import app
from gridplan.config import (
    GridRules,
    MicroGridRules,
    PlanRules,
    ReformRules,
    Rules,
    SearchRules,
    StaffingRules,
    band_admits,
    read_rules,
    rules_from_dict,
    staffing_rules_from_dict,
    unnestable_sizes,
)
from gridplan.errors import ValidationError


def problem_text(data) -> str:
    with pytest.raises(ValidationError) as info:
        read_rules(data)
    return str(info.value)


# (rules mapping, key named, value as given, expected type)
TYPE_ERRORS = [
    ({"grid": {"min_households": "300"}}, "[grid] min_households", '"300" (text)', "whole number"),
    ({"grid": {"min_households": 300.5}}, "[grid] min_households", "300.5", "whole number"),
    ({"grid": {"max_households": True}}, "[grid] max_households", "true", "whole number"),
    ({"household_size": "2.8"}, "`household_size`", '"2.8" (text)', "a number"),
    ({"household_size": math.nan}, "`household_size`", "nan", "finite number"),
    ({"household_size": math.inf}, "`household_size`", "inf", "finite number"),
    ({"grid": {"barrier_classes": "mx"}}, "[grid] barrier_classes", '"mx"', "list of texts"),
    ({"grid": {"barrier_classes": ["a", 3]}}, "[grid] barrier_classes", "['a', 3]", "list"),
    ({"grid": {"balance": "people"}}, "[grid] balance", '"people"', '"households"'),
    ({"grid": {"respect_barriers": "yes"}}, "[grid] respect_barriers", '"yes"', "true or false"),
    ({"grid": {"respect_barriers": 1}}, "[grid] respect_barriers", "1", "true or false"),
    ({"grid": {"search": {"enum_max": "8"}}}, "[grid.search] enum_max", '"8"', "whole number"),
    ({"grid": {"search": {"fine_divisors": 2}}}, "[grid.search] fine_divisors", "2", "list"),
    ({"microgrid": {"search": {"enum_max": 2.5}}}, "[microgrid.search] enum_max", "2.5", "whole"),
    ({"grid": {"search": 5}}, "[grid] search", "5", "a table"),
    ({"codes": {"county_code": 140106}}, "[codes] county_code", "140106", "text"),
    ({"dedicated_categories": "office"}, "`dedicated_categories`", '"office"', "list of texts"),
    ({"staffing": {"committee_from": 2.5}}, "[staffing] committee_from", "2.5", "whole number"),
    (
        {"staffing": {"branch_min_members": False}},
        "[staffing] branch_min_members",
        "false",
        "whole",
    ),
    ({"staffing": {"adjacency_m": "50"}}, "[staffing] adjacency_m", '"50"', "a number"),
    ({"staffing": {"adjacency_m": -math.inf}}, "[staffing] adjacency_m", "-inf", "finite"),
    ({"reform": {"target_count": "245"}}, "[reform] target_count", '"245"', "whole number"),
    ({"reform": {"cells": "voronoi"}}, "[reform] cells", '"voronoi"', '"tessellate"'),
    ({"reform": {"keep_valid": "true"}}, "[reform] keep_valid", '"true"', "true or false"),
]


@pytest.mark.parametrize(("data", "key", "given", "expected"), TYPE_ERRORS)
def test_type_error_names_key_given_and_expected(data, key, given, expected):
    text = problem_text(data)
    assert key in text
    assert given in text
    assert expected in text
    assert text.startswith("1 problem found")


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"grid": {"minimum": 3}}, "['minimum'] in [grid]"),
        ({"grid": {"search": {"depth": 3}}}, "['depth'] in [grid.search]"),
        ({"staffing": {"ratio": 25}}, "['ratio'] in [staffing]"),
        ({"reform": {"size": 2}}, "['size'] in [reform]"),
        ({"gird": {}}, "['gird'] in the top level"),
    ],
)
def test_unknown_keys_are_named_with_the_allowed_ones(data, key):
    text = problem_text(data)
    assert "unknown key(s)" in text and key in text and "allowed:" in text


def test_every_problem_of_a_file_is_reported_at_once():
    text = problem_text(
        {
            "grid": {"min_households": "300", "search": {"enum_max": 1.5}},
            "staffing": {"committee_from": True},
            "reform": {"barrier_classes": "mx"},
        }
    )
    assert text.startswith("4 problems found")


def test_section_that_is_not_a_table():
    assert "`staffing` must be a table" in problem_text({"staffing": 3})


def test_values_are_checked_after_types():
    text = problem_text({"grid": {"min_households": 600}})
    assert "max_households" in text and "[grid]" in text


def test_nested_sections_and_defaults():
    r = read_rules(
        {
            "grid": {"min_households": 250, "search": {"enum_max": 10, "fine_divisors": [2]}},
            "microgrid": {"search": {"exact_first_units": 12}},
            "staffing": {"community_workers_per_10k": 25},
            "reform": {"min_households": 1500, "barrier_classes": ["river"]},
        }
    )
    assert isinstance(r, Rules)
    assert r.plan.grid.search == SearchRules(enum_max=10, fine_divisors=(2,))
    assert r.plan.microgrid.search.exact_first_units == 12
    assert r.plan.grid.max_households == 500
    assert r.staffing == StaffingRules(community_workers_per_10k=25)
    assert r.reform == ReformRules(min_households=1500, barrier_classes=("river",))
    assert read_rules() == Rules() == read_rules({})


def test_whole_decimals_are_counts_and_lists_are_tuples():
    r = read_rules({"grid": {"min_households": 300.0, "barrier_classes": ["river"]}})
    assert r.plan.grid.min_households == 300 and isinstance(r.plan.grid.min_households, int)
    assert r.plan.grid.barrier_classes == ("river",)


def test_household_size_is_shared_with_staffing_unless_it_sets_its_own():
    assert read_rules({"household_size": 3.1}).staffing.household_size == 3.1
    r = read_rules({"household_size": 3.1, "staffing": {"household_size": 2.5}})
    assert (r.plan.household_size, r.staffing.household_size) == (3.1, 2.5)
    # a bad shared value is reported once, at the top level
    assert problem_text({"household_size": "x"}).startswith("1 problem found")


def test_flat_staffing_keys_without_a_staffing_table():
    assert staffing_rules_from_dict({"branch_min_members": 4}).branch_min_members == 4
    assert rules_from_dict({"grid": {"min_households": 320}}).grid.min_households == 320


def test_rules_file_errors(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('[grid]\nmin_households = "300"\nbarrier_classes = "mx"\n', "utf-8")
    text = problem_text(path)
    assert '`[grid] min_households` must be a whole number, got "300" (text)' in text
    assert '`[grid] barrier_classes` must be a list of texts, got "mx" (text)' in text
    path.write_text("[grid\n", "utf-8")
    assert "cannot parse" in problem_text(path)
    assert "not found" in problem_text(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    "toml",
    [
        '[grid]\nmin_households = "300"\n',
        "[grid]\nmin_households = 300.5\n",
        'household_size = "2.8"\n',
        '[grid]\nbarrier_classes = "mx"\n',
        "household_size = nan\n",
    ],
)
@pytest.mark.parametrize("command", ["plan", "staff"])
def test_cli_bad_rules_type_is_exit_1_without_traceback(tmp_path, toml, command):
    cfg = tmp_path / "rules.toml"
    cfg.write_text(toml, encoding="utf-8")
    out = tmp_path / ("p.gpkg" if command == "plan" else "s.xlsx")
    res = CliRunner().invoke(
        app, [command, str(tmp_path / "in.gpkg"), "--config", str(cfg), "--out", str(out)]
    )
    assert res.exit_code == 1, res.output
    assert "must be" in res.output and "got" in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_nesting_check_is_arithmetic():
    # a band of a billion households is checked at once, not size by size
    with pytest.raises(ValidationError, match=r"grid sizes 1\.\.59 cannot be split"):
        PlanRules(grid=GridRules(min_households=1, max_households=10**9))
    PlanRules(
        grid=GridRules(min_households=300, max_households=10**9),
        microgrid=MicroGridRules(min_households=30, max_households=50),
    )


def test_unnestable_sizes_matches_counting_size_by_size():
    for lo, hi, mlo, mhi in itertools.product(
        range(1, 40, 3), range(1, 90, 4), range(1, 20), range(2, 25)
    ):
        if mhi <= mlo or hi < lo:
            continue
        bad = [
            h
            for h in range(lo, hi + 1)
            if band_admits(h, mlo, mhi)[0] > band_admits(h, mlo, mhi)[1]
        ]
        assert unnestable_sizes(lo, hi, mlo, mhi) == ((bad[0], bad[-1]) if bad else None)


@pytest.mark.parametrize(
    ("cls", "key", "value"),
    [
        (GridRules, "min_households", "300"),
        (GridRules, "max_households", math.nan),
        (MicroGridRules, "min_households", True),
        (SearchRules, "enum_max", 2.5),
        (ReformRules, "disruption_weight", math.inf),
    ],
)
def test_direct_construction_checks_types_like_the_loader(cls, key, value):
    """One type check: the rules file's, run again by every class on construction."""
    with pytest.raises(ValidationError) as direct:
        cls(**{key: value})
    (problem,) = direct.value.problems
    assert problem.check == "type"
    assert f"`{key}` of {cls.__name__}" in problem.message
    assert "got " in problem.message
