"""Layer summaries (what `model.summary()` shows, plus receptive fields and the parameter arithmetic)
of networks, computed from `dashboard.network.geometry` without TensorFlow and without allocating weights.

Every page, the exercises' checkers and the CLI's `summary` read these rows; tests check them
against Keras building the same networks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from typing import TYPE_CHECKING

from dashboard.network.geometry import LayerInfo, square
from dashboard.network.spec import PRESETS, NetworkSpec, layer_infos, validate

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class LayerRow:
    """One row of the summary: what `model.summary()` shows, the receptive field and the arithmetic."""

    name: str
    type: str
    output_shape: tuple[int | None, ...]  # (None, 3, 3, 64)
    params: int
    receptive_field: int | list[int]  # one number for square windows, else [rows, cols]
    jump: int | list[int] | None
    params_formula: str = ""  # "3×3×64 weights per filter × 64 filters + 64 biases = 36,928"

    def to_dict(self) -> dict:
        """JSON-ready dict; `output_shape` is a list whose first item is null."""
        row = asdict(self)
        row["output_shape"] = list(self.output_shape)
        return row


def rows_from_infos(infos: Sequence[LayerInfo]) -> list[LayerRow]:
    """Summary rows of analysed layers (from a spec or an imported model)."""
    return [
        LayerRow(i.name, i.kind, i.output_shape, i.params, square(i.receptive_field), square(i.jump), i.params_formula)
        for i in infos
    ]


def summarize(spec: NetworkSpec) -> list[LayerRow]:
    """The summary rows of `spec` (raises `SpecError` if it is invalid); no TensorFlow, no weights."""
    return rows_from_infos(layer_infos(validate(spec)))


def total_params(spec: NetworkSpec) -> int:
    """Parameter count of the whole network, as Keras's 'Total params' gives it."""
    return sum(row.params for row in summarize(spec))


def summary_dict(rows: Sequence[LayerRow]) -> dict:
    """{"layers": [row dicts…], "total_params": n}: the `summary --json` layout."""
    return {"layers": [row.to_dict() for row in rows], "total_params": sum(row.params for row in rows)}


FORMULAS = "Where the params come from"


def summary_frame(rows: Sequence[dict], jump: bool = True, formulas: bool = True, types: bool = True) -> pd.DataFrame:
    """The summary table of the home and Architecture pages (`summary_markdown` writes it): one row per layer (row dicts as
    `LayerRow.to_dict()` gives them), with the layer types, the jump and the parameter arithmetic
    if asked ("Layer (type)" as `model.summary()` writes it, else "Layer": the name alone)."""
    import pandas as pd  # here, so that the command line's summary does not load pandas

    columns = {
        "Layer (type)" if types else "Layer": [f"{r['name']} ({r['type']})" if types else r["name"] for r in rows],
        "Output shape": [str(tuple(r["output_shape"])) for r in rows],
        "Param #": [r["params"] for r in rows],
        "Receptive field": [r["receptive_field"] for r in rows],
    }
    if jump:
        columns["Jump"] = ["—" if r["jump"] is None else str(r["jump"]) for r in rows]
    if formulas:
        columns[FORMULAS] = [short_formula(r["params_formula"]) for r in rows]
    return pd.DataFrame(columns)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[str] = (),
                   marked: int | None = None) -> str:
    """A Markdown table of cell texts made by the app (never outside text): the `right` columns
    aligned right, row `marked` in bold on red. Markdown needs none of the data grid's or Arrow's
    ~25 scripts in a new browser."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" ---: " if name in right else " --- " for name in header) + "|"]
    for index, cells in enumerate(rows):
        texts = [f":red-background[**{text}**]" for text in cells] if index == marked else list(cells)
        lines.append("| " + " | ".join(texts) + " |")
    return "\n".join(lines)


def summary_markdown(rows: Sequence[dict], highlight: str, jump: bool = True, formulas: bool = True) -> str:
    """The summary table (columns as `summary_frame`'s) in Markdown, the `highlight` layer's row marked;
    shapes and layer names keep to one line (no-break spaces), only the formulas wrap."""
    def cell(column: str, value: object) -> str:
        if isinstance(value, int):
            return f"{value:,}"
        return str(value) if column == FORMULAS else str(value).replace(" ", "\N{NO-BREAK SPACE}")

    frame = summary_frame(rows, jump=jump, formulas=formulas)
    cells = [[cell(column, value) for column, value in zip(frame.columns, row)] for row in frame.itertuples(index=False)]
    marked = next((i for i, row in enumerate(rows) if row["name"] == highlight), None)
    return markdown_table(list(frame.columns), cells, right=("Output shape", "Param #", "Receptive field", "Jump"),
                          marked=marked)


def short_formula(formula: str) -> str:
    """A conv layer's arithmetic without its words, to fit a table column:
    "3×3×64 weights per filter × 64 filters + 64 biases = 36,928" → "3×3×64 × 64 + 64 = 36,928"."""
    for words in (" weights per filter", " filters", " biases"):
        formula = formula.replace(words, "")
    return formula


# --- what the app agrees to build and train ------------------------------------------------------

# Measured on 2 CPU cores (benchmarks/train_cost.py, see the README): the book network (93,322
# parameters, 2.8 M multiply-adds an image) trains an epoch in ~8 s; the no-pooling preset (2.0 M
# parameters, 30.7 M multiply-adds) in ~60 s. Above these caps an epoch takes many minutes and
# training's weights, optimizer state and activations no longer fit a shared 1 GB server.
MAX_TRAIN_PARAMS = 2_500_000
MAX_TRAIN_MULTIPLY_ADDS = 40_000_000


def multiply_adds(spec: NetworkSpec) -> int:
    """Multiply-adds of one forward pass of one image through `spec` (a valid spec)."""
    return sum(info.multiply_adds for info in layer_infos(spec))


def training_problems(spec: NetworkSpec) -> list[str]:
    """Why the app will not build or train `spec` (too big for a shared server); empty when it will."""
    params, macs = total_params(spec), multiply_adds(spec)
    found = []
    if params > MAX_TRAIN_PARAMS:
        found.append(
            f"this network has {params:,} parameters; the app builds and trains networks of up to "
            f"{MAX_TRAIN_PARAMS:,} so that training fits a shared server"
        )
    if macs > MAX_TRAIN_MULTIPLY_ADDS:
        found.append(
            f"one image costs {macs:,} multiply-adds; the app trains networks of up to {MAX_TRAIN_MULTIPLY_ADDS:,} "
            "so that an epoch takes minutes, not hours"
        )
    if found:
        found.append("its shapes, parameters and receptive fields are all on the Architecture page; to train it, "
                     "use fewer filters, pooling, strides or global averaging")
    return found


@cache
def preset_summaries() -> dict[str, dict]:
    """{preset: {"spec", "layers", "total_params"}} for every preset network."""
    return {name: {"spec": spec.to_dict(), **summary_dict(summarize(spec))} for name, spec in PRESETS.items()}
