"""The `dashboard` package's modules depend on each other one way only (read from the source with `ast`).

Layers, lowest first: pure descriptions and outside input (`spec`, `data`, …) → `model` →
`training` → the run object → `cache` → jobs → evaluation and analysis → `charts` (pure plotly)
→ `ui` (the only code importing Streamlit) → the command line. A module may import its own
layer or lower ones, never a higher one; imports inside functions count too. A new module
must be placed in a layer here, so its place is a decision, not an accident.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "dashboard"

LAYERS: list[tuple[str, set[str]]] = [
    ("pure", {"outside", "geometry", "tempdirs", "data", "digits", "convolution", "spec", "kerasgeometry",
              "train_settings", "summaries", "decode", "links", "grids", "modelfile", "archive", "blas",
              "downloads", "projection", "exercise_texts", "network_text", "stored", "weights", "reproducible",
              "diagnosis", "cluster_certs", "answers", "browser_store", "memory_budget"}),
    ("model", {"model", "optim", "maps", "forward"}),
    ("training", {"training", "families"}),
    ("run", {"run", "labels", "entry", "seeds"}),
    ("cache", {"cache", "runs", "imported"}),
    ("jobs", {"job_status", "job_task", "job_cluster", "jobs", "cli_jobs", "job_result", "job_guard", "job_health",
              "job_watch"}),
    ("evaluation", {"evaluation", "analysis", "atlas", "numbers", "exercises", "exercise_checks", "inside_texts",
                    "compare", "trainform", "results", "final_maps", "gradcam", "ablation", "chart_texts"}),
    ("charts", {"charts"}),
    ("ui", {"ui"}),
    ("cli", {"__main__"}),
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
    """Index in LAYERS of a module ('charts.maps' lives in 'charts'); KeyError if unplaced."""
    for name in (module, module.split(".")[0]):
        for index, (_, members) in enumerate(LAYERS):
            if name in members:
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
    # the rule bites: `spec` importing `cache` would be reported
    fake = tmp_path / "spec.py"
    fake.write_text("def f():\n    from dashboard.cache import ModelCache\n", encoding="utf-8")
    assert "cache" in _imports(fake) and _layer("cache") > _layer("spec")
