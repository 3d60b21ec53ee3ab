"""Print the "Packages and modules" section of docs/architecture.md from the code itself.

Layers come from `tests/unit/test_layers.py` (the test that enforces them), each package's
paragraph from its `__init__` docstring, each module's line from its docstring's first sentence.

    python tools/module_map.py > /tmp/modules.md   # then paste it over the section
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.unit.test_layers import LAYERS  # noqa: E402

PACKAGE = ROOT / "dashboard"


def first_line(path: Path) -> str:
    """A module's docstring up to its first blank line, on one line."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return " ".join(doc.split("\n\n")[0].split())


def table(paths: list[Path]) -> list[str]:
    rows = ["| module | what it owns |", "| --- | --- |"]
    rows += [f"| `{p.relative_to(ROOT)}` | {first_line(p)} |" for p in paths]
    return rows


def section() -> str:
    out = ["## Packages and modules", ""]
    for layer, members in LAYERS:
        out += [f"### {layer[0].upper()}{layer[1:]}", ""]
        files = sorted(PACKAGE / f"{name}.py" for name in members if (PACKAGE / f"{name}.py").is_file())
        if files:
            out += [*table(files), ""]
        for name in sorted(m for m in members if (PACKAGE / m).is_dir()):
            folder = PACKAGE / name
            out += [f"**`dashboard/{name}/`**: {first_line(folder / '__init__.py')}", ""]
            out += [*table(sorted(p for p in folder.glob("*.py") if p.name != "__init__.py")), ""]
    out += ["### The package", "", *table([PACKAGE / "__init__.py"]), ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(section())
