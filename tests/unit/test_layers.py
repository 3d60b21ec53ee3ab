"""The `dashboard` package's modules depend on each other one way only (read from the source with `ast`).

Layers, lowest first, each a set of packages (or top-level modules): the process and outside
input (`outside`, `host`) → pure descriptions (`network`, `mnist`, `modelfiles`) → Keras models
and training (`training`) → the run record and cache (`store`) → jobs (`jobs`) → what is
computed from a run (`inspection`, `workshop`, `views`) → `charts` (pure plotly) → `ui` (the
only code importing Streamlit) → the command line (`cli`). A module may import its own layer or
lower ones, never a higher one; imports inside functions count too. A new package must be placed
in a layer here, so its place is a decision, not an accident.
"""

from __future__ import annotations

import ast
import collections
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "dashboard"

LAYERS: list[tuple[str, set[str]]] = [
    ("process and outside input", {"outside", "host"}),
    ("pure descriptions", {"network", "mnist", "modelfiles"}),
    ("Keras models and training", {"training"}),
    ("run record and cache", {"store"}),
    ("jobs", {"jobs"}),
    ("computed from a run", {"inspection", "workshop", "views"}),
    ("charts", {"charts"}),
    ("ui", {"ui"}),
    ("command line", {"cli", "__main__"}),
]


@functools.cache
def _tree(path: Path) -> ast.Module:
    """The parsed file, once per test run.

    CPython 3.11's parser can raise "SystemError: AST constructor recursion depth mismatch" when
    another thread changes the recursion limit while it runs (CPython gh-106905; seen once in a
    full run, with the earlier tests' server threads still alive): parse again then.
    """
    source = path.read_text(encoding="utf-8")
    try:
        return ast.parse(source)
    except SystemError:
        return ast.parse(source)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(part for part in parts if part != "__init__") or "__init__"


def _layer(module: str) -> int:
    """Index in LAYERS of a module ('network.spec' lives in 'network'); KeyError if unplaced."""
    for index, (_, members) in enumerate(LAYERS):
        if module.split(".")[0] in members:
            return index
    raise KeyError(module)


def _imports(path: Path) -> set[str]:
    """`dashboard` modules imported anywhere in the file (top level or inside functions)."""
    found = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "dashboard":  # from dashboard import maps
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("dashboard."):
                module = node.module.removeprefix("dashboard.")
                found.add(module)
                found |= {f"{module}.{a.name}" for a in node.names if (PACKAGE / module / f"{a.name}.py").exists()}
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("dashboard.") for a in node.names if a.name.startswith("dashboard.")}
    return found


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py")) if path.name != "__init__.py"}


def test_every_module_has_a_layer():
    unplaced = [name for name in _modules() if not _try_layer(name)]
    assert not unplaced, f"place these modules in a layer of {__name__}.LAYERS: {unplaced}"


def _try_layer(name: str) -> bool:
    try:
        _layer(name)
    except KeyError:
        return False
    return True


@pytest.mark.parametrize("module", sorted(_modules()))
def test_imports_go_one_way(module):
    path = _modules()[module]
    mine = _layer(module)
    upward = sorted(f"{dep} ({LAYERS[_layer(dep)][0]})" for dep in _imports(path)
                    if _try_layer(dep) and _layer(dep) > mine)
    assert not upward, f"{module} ({LAYERS[mine][0]} layer) imports higher layers: {upward}"


def test_no_import_cycles():
    graph = {name: {dep for dep in _imports(path) if dep in _modules()} for name, path in _modules().items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            assert state.get(dep) != 1, f"import cycle: {' → '.join([*path, name, dep])}"
            if dep not in state:
                visit(dep, [*path, name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_only_ui_imports_streamlit():
    for module, path in _modules().items():
        if not _try_layer(module) or _layer(module) >= _layer("ui"):  # unplaced: reported above
            continue
        tree = _tree(path)
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.split(".")[0] == "streamlit"], f"{module} imports Streamlit"


def test_the_checker_sees_a_real_upward_import(tmp_path):
    # the rule bites: `network.spec` importing `store.cache` would be reported, in either spelling
    fake = tmp_path / "spec.py"
    fake.write_text("def f():\n    from dashboard.store.cache import ModelCache\n    from dashboard.store import run\n",
                    encoding="utf-8")
    assert {"store.cache", "store.run"} <= _imports(fake) and _layer("store.cache") > _layer("network.spec")


def test_no_relative_imports():
    # the checker reads absolute `dashboard.…` imports only; a relative one would slip past it
    relative = [f"{module}:{node.lineno}" for module, path in _modules().items()
                for node in ast.walk(_tree(path)) if isinstance(node, ast.ImportFrom) and node.level > 0]
    assert not relative, f"use absolute `from dashboard.… import …`: {relative}"


def test_the_checker_sees_a_relative_import(tmp_path):
    fake = tmp_path / "spec.py"
    fake.write_text("from ..store import cache\n", encoding="utf-8")
    assert [n for n in ast.walk(ast.parse(fake.read_text())) if isinstance(n, ast.ImportFrom) and n.level]


def test_packages_mirror_the_layers():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 10, f"dashboard/ holds packages; top-level modules: {top}"
    packages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    for name in packages:
        doc = ast.get_docstring(_tree(PACKAGE / name / "__init__.py"))
        assert doc and len(doc) > 80, f"dashboard/{name}/__init__.py: say in a paragraph what the package owns"
        assert _try_layer(name), f"place the package {name} in a layer of {__name__}.LAYERS"


def test_no_two_modules_share_a_file_name():
    names = collections.Counter(p.name for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert not [name for name, count in names.items() if count > 1]


def test_no_module_is_long():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 430}
    assert not long, f"split these modules by what they own: {long}"
