"""Every input problem reads in Chinese (issue 15): :meth:`gridplan.errors.Problem.text`.

Each check code raised anywhere in gridplan has a Chinese sentence or label, and every case of
the bad-input corpus, through the CLI and the app's upload path, renders in Chinese with no
English beyond what the user gave (files, columns, ids, values), format names, and the words
of the interface in use (flags in the CLI, keywords in Python, widgets in the app).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from badfiles import CASES, build
from test_bad_inputs_app import UPLOAD_CASES, _uploads

import gridplan
from gridplan import appsupport as sup
from gridplan import errors
from gridplan.cli import main
from gridplan.errors import Problem, ValidationError

GRIDPLAN = Path(__file__).resolve().parents[1] / "gridplan"
#: names that read the same in a Chinese text: formats, systems, units and standard columns
NAMES = {
    "GeoPackage", "GeoJSON", "Shapefile", "zip", "CSV", "XLSX", "gpkg", "geojson", "csv",
    "xlsx", "shp", "shx", "dbf", "prj", "cpg", "TOML", "WKT", "EPSG", "WGS", "GIS", "UTF",
    "GBK", "lon", "lat", "households", "population", "A3", "A4",
}  # fmt: skip
#: the words of each interface a fix may use
INTERFACE_WORDS = {
    "cli": re.compile(r"--[a-z][a-z-]*(?:\s\S+)?|\[[a-z_]+\]|balance = \"population\""),
    "python": re.compile(r"\[[a-z_.]+\]|\w+=\S+|\w+\([^)]*\)|\b(?:source_crs|layer|columns)\b"),
    "app": re.compile(r"(?!)"),
}
#: the app's widgets, which a command-line or Python user does not have
APP_WORDS = r"|侧栏|「字段对应」|「坐标来源」|「文件中的图层」|「修复无效几何」"
FOREIGN = {
    "cli": re.compile(r"fix_invalid=True|columns=\{|force=True|crs='|encoding='" + APP_WORDS),
    "app": re.compile(r"--[a-z]|fix_invalid=True|columns=\{|force=True|crs='"),
    "python": re.compile(r"--(?:columns|fix-invalid|force|coords-crs)\b" + APP_WORDS),
}


def _codes() -> set[str]:
    """Every check code a Problem is built with, read from the source."""
    call = r"(?:Problem|_problem|_fail)\(\s*[^,()]+(?:\([^()]*\))?,\s*\"([a-z_0-9]+)\""
    codes = set()
    for path in GRIDPLAN.rglob("*.py"):
        codes.update(re.findall(call, path.read_text(encoding="utf-8")))
    return codes | {f"overlapping_{r}" for r in ("compounds", "communities", "streets")}


def _settings() -> set[str]:
    """The names a Python or CLI user sets: rule fields and the keywords of plan()."""
    import inspect
    from dataclasses import fields

    from gridplan import config

    classes = [config.GridRules, config.MicroGridRules, config.PlanRules, config.CodeRules]
    classes.append(config.StaffingRules)
    names = {f.name for c in classes for f in fields(c)}
    calls = (gridplan.plan, gridplan.prepare_layers, config.check_plan_arguments)
    names |= {n for c in calls for n in inspect.signature(c).parameters}
    return names | {"work_crs"}  # the working-CRS keyword of the map and metric functions


SETTINGS = _settings()


def _english(text: str, problem: Problem, interface: str) -> set[str]:
    """The Latin words of ``text`` that are neither given by the user nor allowed."""
    shown = INTERFACE_WORDS[interface].sub(" ", text)
    if interface != "app":  # a setting's key is the Python keyword / the --config key
        shown = re.sub(
            r"\b[a-z]+(?:_[a-z0-9]+)+\b", lambda m: " " if m[0] in SETTINGS else m[0], shown
        )
    given = [problem.layer, *map(str, problem.rows), *map(str, problem.params.values())]
    for value in sorted(given, key=len, reverse=True):
        shown = shown.replace(value, " ")
    return {w for w in re.findall(r"[A-Za-z][A-Za-z_]+", shown) if w not in NAMES}


def test_the_code_scan_finds_the_checks():
    codes = _codes()
    assert {"missing_households", "output_exists", "unknown_key", "swapped_coordinates"} <= codes
    assert len(codes) > 100


@pytest.mark.parametrize("code", sorted(_codes()))
@pytest.mark.parametrize("interface", ["python", "cli", "app"])
def test_every_check_code_reads_in_chinese(code, interface):
    problem = Problem("units", code, "an English message", ("u1", "u2"))
    text = problem.text("zh", interface)
    assert f"（{code}）" not in text, text  # not the problem_unknown fallback naming the code
    assert not _english(text, problem, interface), (code, text)
    assert "u1" in text  # the rows concerned are named
    assert not FOREIGN[interface].search(text), text


def _raised(argv: list[str], monkeypatch) -> list[Problem]:
    """The problems of every ValidationError raised while the CLI runs ``argv``."""
    seen: list[Problem] = []
    init = ValidationError.__init__

    def spy(self, problems):
        init(self, problems)
        seen.extend(self.problems)

    monkeypatch.setattr(ValidationError, "__init__", spy)
    with pytest.raises(SystemExit):
        main(argv)
    return seen


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_cli_corpus_case_reads_in_chinese(case, tmp_path, monkeypatch, capsys):
    bad = build(case, tmp_path)
    problems = _raised(bad.argv, monkeypatch)
    output = "".join(capsys.readouterr())
    if not problems:
        # a usage mistake the command-line parser reports itself (an unknown option, a value
        # of the wrong type): its words are the parser's, not a Problem
        assert "Invalid value" in output or "No such option" in output or "Missing" in output
        return
    for p in problems:
        text = p.text("zh", "cli")
        assert not _english(text, p, "cli"), text
        assert not FOREIGN["cli"].search(text), text
        assert re.search(r"[\u4e00-\u9fff]", text), text


@pytest.mark.parametrize("case", UPLOAD_CASES)
def test_every_upload_corpus_case_reads_in_chinese_in_the_apps_words(case, tmp_path):
    bad = build(case, tmp_path)
    with pytest.raises(ValidationError) as info:
        sup.plan_from_uploads(
            _uploads(bad, tmp_path), rules=gridplan.PlanRules(), columns=bad.app_columns or None
        )
    for p in info.value.problems:
        text = p.text("zh", "app")
        assert not _english(text, p, "app"), text
        assert not FOREIGN["app"].search(text), text


def test_fixes_are_given_in_each_interfaces_words():
    p = Problem("units", "invalid_geometry", "x", ("u4", "u9"))
    assert "--fix-invalid" in p.text("zh", "cli")
    assert "fix_invalid=True" in p.text("zh", "python")
    assert "「修复无效几何」" in p.text("zh", "app")
    swapped = Problem(
        "pts.csv", "swapped_coordinates", "x", ("p0",),
        params={"xcol": "lon", "ycol": "lat", "x": "lat", "y": "lon"},
    )  # fmt: skip
    assert "--columns lat=lon,lon=lat" in swapped.text("zh", "cli")
    assert "「字段对应」" in swapped.text("zh", "app")
    # a template needing a value the problem lacks falls back to the label, never to English
    bare = Problem("pts.csv", "swapped_coordinates", "English", ("p0",))
    assert bare.text("zh", "cli") == "pts.csv：经纬度疑似颠倒，请核对坐标字段（涉及 p0）"
    assert errors.ValidationError([p, bare]).text("zh", "cli").startswith("输入数据有 2 处问题")


def _python_cases():
    import test_bad_inputs as py

    for name, build_path, kwargs, _ in py.FILE_CASES:
        yield pytest.param("file", build_path, kwargs, id=f"file: {name}")
    for name, build_layers, _ in py.LAYER_CASES:
        yield pytest.param("layers", build_layers, None, id=f"layers: {name}")
    for name, call, _ in py.RULE_CASES:
        yield pytest.param("rules", call, None, id=f"rules: {name}")


@pytest.mark.parametrize(("kind", "build", "kwargs"), list(_python_cases()))
def test_every_python_corpus_case_reads_in_chinese_in_pythons_words(kind, build, kwargs, tmp_path):
    from gridplan.io import read_layer

    if kind == "file":
        path = build(tmp_path)
        call = lambda: read_layer(path, **kwargs)  # noqa: E731
    elif kind == "layers":
        given = build()
        layer = given.pop("units")
        call = lambda: gridplan.prepare_layers(layer, **given)  # noqa: E731
    else:
        call = build
    with pytest.raises(ValidationError) as info:
        call()
    for p in info.value.problems:
        text = p.text("zh", "python")
        assert not _english(text, p, "python"), text
        assert not FOREIGN["python"].search(text), text
        assert re.search(r"[\u4e00-\u9fff]", text), text


def test_rules_problems_name_the_key_and_what_was_given():
    with pytest.raises(ValidationError) as info:
        gridplan.config.rules_from_dict({"grid": {"min_househods": 3, "max_households": "x"}})
    text = info.value.text("zh", "cli")
    assert "min_househods" in text and "无法识别" in text
    assert "max_households" in text and '"x"（文字）' in text
    assert "(text)" not in text and "allowed" not in text
