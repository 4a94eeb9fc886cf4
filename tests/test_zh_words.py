"""Chinese diagnostics name the interface's words, never a rule's Python key (issue 15).

A fix such as "raise adjacency_m" is Python talking to a planner: in Chinese text a rule is
named through ``{opt[...]}`` (a keyword in Python, the ``--config`` key in the CLI, the
widget or the rule's meaning in the app). Only the standard input column names a planner puts
in a file (``party_members``, ``community_id`` ...) may appear as they are.
"""

from __future__ import annotations

import re

import pytest

from gridplan import diagnostics as dg
from gridplan.layers import UNIT_COLUMNS
from gridplan.validate import ID_COLUMNS

#: identifiers a Chinese text may name as they are: the columns of the input layers
INPUT_COLUMNS = set(UNIT_COLUMNS) | set(ID_COLUMNS.values()) | {"n_microgrids"}
SNAKE = re.compile(r"[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+")


def _leaks(text: str) -> set[str]:
    shown = re.sub(r"\{[^}]*\}", "", text)  # fields are filled in, in the interface's words
    return set(SNAKE.findall(shown)) - INPUT_COLUMNS


@pytest.mark.parametrize("table", ["TEMPLATES", "FIXES", "WHY"])
def test_chinese_templates_name_no_rule_keys(table):
    leaks = {
        key: _leaks(entry["zh"]) for key, entry in getattr(dg, table).items() if _leaks(entry["zh"])
    }
    assert not leaks, leaks


@pytest.mark.parametrize("name", sorted(dg.OPTIONS))
def test_options_in_the_apps_chinese_hold_no_latin_identifiers(name):
    text = dg._Options("zh", "app")[name]
    assert not SNAKE.findall(text), (name, text)
    assert "{" not in text, (name, text)  # every widget label was filled in


def test_the_join_branch_fix_names_each_interfaces_words():
    d = dg.Diagnostic(
        level="staffing",
        code="no_party_members",
        fix="staffing_join_branch",
    )
    py = dg.render(d, lang="zh", interface="python")[1]
    cli = dg.render(d, lang="zh", interface="cli")[1]
    app = dg.render(d, lang="zh", interface="app")[1]
    assert "StaffingRules(adjacency_m=" in py
    assert "--config" in cli and "[staffing] adjacency_m" in cli
    assert "相邻判定距离" in app and "联合党支部最多单元数" in app
    assert not SNAKE.findall(app)


def test_the_leak_check_catches_a_rule_key():
    assert _leaks("或调大 adjacency_m 或 {opt[adjacency_m]}") == {"adjacency_m"}
    assert _leaks("在单元图层中增加党员数列 party_members") == set()
