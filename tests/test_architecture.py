"""The package's shape: no private name crosses modules, no import cycle, every required
dependency is used, the library runs without Streamlit, every module says what it holds."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "gridplan"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, ast.Module]:
    return {
        _module_name(p): ast.parse(p.read_text(encoding="utf-8"), filename=str(p))
        for p in sorted(PKG.rglob("*.py"))
    }


def _is_package(name: str) -> bool:
    return (ROOT / Path(*name.split(".")) / "__init__.py").exists()


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """Absolute module an ``ImportFrom`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """ids of import nodes under ``if TYPE_CHECKING:`` (no runtime edge)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                for inner in ast.walk(sub):
                    out.add(id(inner))
    return out


def _imports(mods: dict[str, ast.Module]):
    """(importer, imported module, names, is_runtime) for every gridplan-internal import."""
    for name, tree in mods.items():
        typing_only = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = _resolve(name, node)
                if target == "gridplan" or target.startswith("gridplan."):
                    names = [a.name for a in node.names]
                    # "from . import export" imports a module, not a name
                    subs = [n for n in names if f"{target}.{n}" in mods]
                    for s in subs:
                        yield name, f"{target}.{s}", [], id(node) not in typing_only
                    rest = [n for n in names if n not in subs]
                    if rest or not subs:
                        yield name, target, rest, id(node) not in typing_only
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("gridplan"):
                        yield name, a.name, [], id(node) not in typing_only


def private_crossings(mods: dict[str, ast.Module]) -> list[str]:
    return [
        f"{importer} imports {n} from {target}"
        for importer, target, names, _ in _imports(mods)
        for n in names
        if n.startswith("_") and not n.startswith("__") and target != importer
    ]


def import_cycles(mods: dict[str, ast.Module]) -> list[list[str]]:
    g = nx.DiGraph()
    g.add_nodes_from(mods)
    for importer, target, _names, runtime in _imports(mods):
        if not runtime or target == importer or target not in mods:
            continue
        # a package's __init__ importing its own modules to re-export them is the layout
        if _is_package(importer) and target.startswith(importer + "."):
            continue
        g.add_edge(importer, target)
    return [sorted(c) for c in nx.simple_cycles(g) if len(c) > 1]


def test_checks_find_a_planted_private_import_and_cycle():
    planted = {
        "gridplan.aaa": ast.parse("from .bbb import _helper\n"),
        "gridplan.bbb": ast.parse("def f():\n    from .aaa import thing\n"),
        "gridplan.ccc": ast.parse(
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .aaa import T\n"
        ),
    }
    assert private_crossings(planted) == ["gridplan.aaa imports _helper from gridplan.bbb"]
    assert import_cycles(planted) == [["gridplan.aaa", "gridplan.bbb"]]


def test_no_private_name_crosses_modules():
    assert private_crossings(_modules()) == []


def test_no_import_cycle():
    assert import_cycles(_modules()) == []


def test_every_module_has_a_docstring():
    missing = [name for name, tree in _modules().items() if not ast.get_docstring(tree)]
    assert missing == []


#: required packages the library uses without importing them by name
USED_THROUGH = {"openpyxl": "pandas' Excel engine (read_excel / to_excel)"}


def test_every_required_dependency_is_imported_by_the_library():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    required = {
        d.split(">")[0].split("=")[0].split("[")[0].strip().lower().replace("-", "_")
        for d in project["dependencies"]
    }
    imported: set[str] = set()
    for tree in _modules().values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(a.name.split(".")[0].lower() for a in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                imported.add(node.module.split(".")[0].lower())
    unused = sorted(r for r in required if r not in imported and r not in USED_THROUGH)
    assert unused == []


def test_library_and_cli_import_without_streamlit():
    """Library users need no Streamlit: every gridplan module imports with it blocked."""
    names = sorted(_modules())
    code = f"""
import importlib, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('streamlit', 'streamlit_folium'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
for name in {names!r}:
    importlib.import_module(name)
print('ok')
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"
