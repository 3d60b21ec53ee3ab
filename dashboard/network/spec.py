"""The network description used everywhere: pages, cache keys, the command line and URLs.

A `NetworkSpec` is a stack of conv blocks (Conv2D + ReLU, then an optional 2×2 max pool) and
a small classifier head. It is a frozen dataclass that round-trips through plain JSON, is
validated with messages a learner can act on, and knows the geometry Keras does not report:
the receptive field and jump of every layer on the 28×28 input.

Pure Python: this module imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from dashboard.network.geometry import Layer, LayerInfo, analyse, conv_output
from dashboard.outside import OutsideInputError, field_problems, loads_json, plain

INPUT_SIZE = 28
INPUT_CHANNELS = 1
NUM_CLASSES = 10
MAP_KINDS = ("Conv2D", "MaxPooling2D", "AveragePooling2D")  # layer kinds whose outputs are spatial feature maps
POOL_SIZE = 2

MIN_BLOCKS, MAX_BLOCKS = 1, 6
MIN_FILTERS, MAX_FILTERS = 1, 256
KERNEL_SIZES = (1, 3, 5, 7)
STRIDES = (1, 2)
PADDINGS = ("valid", "same")
HEADS = ("flatten", "global_avg")
MAX_DENSE_UNITS = 512
MAX_DROPOUT = 0.8
MAX_SPEC_CHARS = 20_000  # a valid network's JSON is a few hundred characters
MAX_SPEC_DEPTH = 8  # object > blocks > block: 3 levels

Padding = Literal["valid", "same"]
PoolType = Literal["max", "avg"]
POOL_TYPES = ("max", "avg")
BLOCK_DEFAULTS_OMITTED = {"pool_type": "max", "batch_norm": False}  # fields added after specs were shared
Head = Literal["flatten", "global_avg"]


class SpecError(ValueError):
    """A network description that cannot be built; `problems` lists every reason.

    Messages are plain text (no markdown): values from outside are quoted by `_shown`, short
    and flat, and the page shows the message escaped.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class ConvBlock:
    """Conv2D(filters, kernel_size, strides, padding, relu), BatchNormalization if `batch_norm`,
    then a 2×2 pool if `pool`: MaxPooling2D, or AveragePooling2D when `pool_type` is "avg".

    `pool_type` and `batch_norm` are left out of `to_dict` at their defaults, so every spec
    written before they existed keeps its JSON, its cache key and its links.
    """

    filters: int = 32
    kernel_size: int = 3
    strides: int = 1
    padding: Padding = "valid"
    pool: bool = True
    pool_type: PoolType = "max"
    batch_norm: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The block as JSON-ready data; the newer fields only when they differ from the default."""
        out = asdict(self)
        for name, default in BLOCK_DEFAULTS_OMITTED.items():
            if out[name] == default:
                del out[name]
        return out


@dataclass(frozen=True)
class NetworkSpec:
    """Conv blocks on a 28×28×1 input, then flatten or global-average, dense, dropout, softmax."""

    blocks: tuple[ConvBlock, ...] = field(default_factory=tuple)
    head: Head = "flatten"
    dense_units: int = 64
    dropout: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict, in the documented layout."""
        return {
            "blocks": [block.to_dict() for block in self.blocks],
            "head": self.head,
            "dense_units": self.dense_units,
            "dropout": self.dropout,
        }

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces; equal specs give equal strings."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def describe(self) -> str:
        """One line a person can read, e.g. 'conv32-pool · conv64-pool · conv64 → flatten → 64'."""
        parts = []
        for block in self.blocks:
            text = f"conv{block.filters}"
            if block.kernel_size != 3:
                text += f"k{block.kernel_size}"
            if block.strides != 1:
                text += f"s{block.strides}"
            if block.padding == "same":
                text += "same"
            if block.batch_norm:
                text += "-bn"
            parts.append(text + (("-avgpool" if block.pool_type == "avg" else "-pool") if block.pool else ""))
        head = "flatten" if self.head == "flatten" else "gap"
        tail = f" → {self.dense_units}" if self.dense_units else ""
        drop = f" drop{self.dropout:g}" if self.dropout else ""
        return " · ".join(parts) + f" → {head}{tail}{drop}"

    def with_block(self, index: int, **changes: Any) -> NetworkSpec:
        """A copy with block `index` changed."""
        blocks = list(self.blocks)
        blocks[index] = replace(blocks[index], **changes)
        return replace(self, blocks=tuple(blocks))

    @classmethod
    def from_dict(cls, data: Any) -> NetworkSpec:
        """Parse and validate a dict from JSON; raise `SpecError` naming every problem."""
        spec = _parse(data)
        validate(spec)
        return spec

    @classmethod
    def from_json(cls, text: str) -> NetworkSpec:
        """Parse and validate a JSON string; raise `SpecError` on bad JSON or a bad network."""
        try:
            data = loads_json(text, max_chars=MAX_SPEC_CHARS, max_depth=MAX_SPEC_DEPTH, what="the network")
        except OutsideInputError as err:
            raise SpecError([str(err)]) from None
        return cls.from_dict(data)


# --- parsing -------------------------------------------------------------------------------

_BLOCK_TYPES: dict[str, type | tuple[type, ...]] = {
    "filters": int,
    "kernel_size": int,
    "strides": int,
    "padding": str,
    "pool": bool,
    "pool_type": str,
    "batch_norm": bool,
}
_TOP_TYPES: dict[str, type | tuple[type, ...]] = {
    "blocks": list,
    "head": str,
    "dense_units": int,
    "dropout": (int, float),
}


def _shown(value: Any, limit: int = 40) -> str:
    """An outside value quoted in a message: its repr, flattened and shortened (plain text)."""
    return plain(repr(value), limit)


def _parse(data: Any) -> NetworkSpec:
    problems = field_problems(data, _TOP_TYPES, "network", required={"blocks"})
    if problems:
        raise SpecError(problems)
    blocks = []
    for i, raw in enumerate(data["blocks"], start=1):
        block_problems = field_problems(raw, _BLOCK_TYPES, f"block {i}", required={"filters"})
        problems += block_problems
        if not block_problems:
            blocks.append(ConvBlock(**raw))
    if problems:
        raise SpecError(problems)
    top = {k: v for k, v in data.items() if k != "blocks"}
    if "dropout" in top:
        top["dropout"] = float(top["dropout"])
    return NetworkSpec(blocks=tuple(blocks), **top)


# --- geometry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerGeometry:
    """Where one layer's units look on the input.

    `size` is the output's height (= width); `receptive_field` the side of the input window one
    unit sees; `jump` the distance on the input between neighbouring units; `start` the input
    coordinate (in pixels, centre of pixel 0 = 0.0) of the centre of position 0's window.
    For flatten, global pooling and dense layers `size` is None and the field covers all input
    pixels any position of the last conv map sees.
    """

    name: str
    kind: str
    size: int | None
    channels: int
    receptive_field: int
    jump: int | None
    start: float

    def window(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Input window (top, left, bottom, right), inclusive and clipped to 28×28, of position (row, col)."""
        if self.jump is None:
            raise ValueError(f"{self.name} has no spatial positions")
        half = (self.receptive_field - 1) / 2
        top = self.start + row * self.jump - half
        left = self.start + col * self.jump - half
        low, high = 0, INPUT_SIZE - 1
        return (
            max(low, math.ceil(top)),
            max(low, math.ceil(left)),
            min(high, math.floor(top + self.receptive_field - 1)),
            min(high, math.floor(left + self.receptive_field - 1)),
        )


def _conv_output(size: int, kernel: int, stride: int, padding: str) -> int:
    return conv_output(size, kernel, stride, padding)


def layer_names(spec: NetworkSpec) -> list[str]:
    """Layer names as a fresh Keras session gives them: conv2d, max_pooling2d, conv2d_1, …"""
    counts: dict[str, int] = {}

    def name(base: str) -> str:
        n = counts.get(base, 0)
        counts[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    names = []
    for block in spec.blocks:
        names.append(name("conv2d"))
        if block.batch_norm:
            names.append(name("batch_normalization"))
        if block.pool:
            names.append(name("average_pooling2d" if block.pool_type == "avg" else "max_pooling2d"))
    names.append(name("flatten" if spec.head == "flatten" else "global_average_pooling2d"))
    if spec.dense_units:
        names.append(name("dense"))
    if spec.dropout:
        names.append(name("dropout"))
    names.append(name("dense"))
    return names


def chain(spec: NetworkSpec) -> list[Layer]:
    """The layers of `spec` as plain data for `dashboard.network.geometry` (and the Keras builder)."""
    names = iter(layer_names(spec))
    out: list[Layer] = []
    for block in spec.blocks:
        k, s = block.kernel_size, block.strides
        out.append(Layer("Conv2D", next(names), filters=block.filters, kernel_size=(k, k), strides=(s, s),
                         padding=block.padding))
        if block.batch_norm:
            out.append(Layer("BatchNormalization", next(names)))
        if block.pool:
            kind = "AveragePooling2D" if block.pool_type == "avg" else "MaxPooling2D"
            out.append(Layer(kind, next(names), pool_size=(POOL_SIZE,) * 2, strides=(POOL_SIZE,) * 2))
    out.append(Layer("Flatten" if spec.head == "flatten" else "GlobalAveragePooling2D", next(names)))
    if spec.dense_units:
        out.append(Layer("Dense", next(names), units=spec.dense_units))
    if spec.dropout:
        out.append(Layer("Dropout", next(names)))
    out.append(Layer("Dense", next(names), units=NUM_CLASSES))
    return out


def layer_infos(spec: NetworkSpec) -> list[LayerInfo]:
    """Shapes, parameters (with formulas) and geometry of every layer of a valid `spec`; no weights."""
    return analyse((INPUT_SIZE, INPUT_SIZE, INPUT_CHANNELS), chain(spec))


def geometry(spec: NetworkSpec) -> list[LayerGeometry]:
    """Receptive field, jump and size of every layer (assumes a valid spec)."""
    out = []
    for info in layer_infos(spec):
        spatial = info.jump is not None
        out.append(
            LayerGeometry(
                name=info.name,
                kind=info.kind,
                size=info.output_shape[1] if spatial else None,
                channels=info.output_shape[-1] if spatial else math.prod(info.output_shape[1:]),
                receptive_field=info.receptive_field[0],
                jump=info.jump[0] if spatial else None,
                start=info.start[0],
            )
        )
    return out


# --- validation ----------------------------------------------------------------------------


def problems(spec: NetworkSpec) -> list[str]:
    """Every reason `spec` cannot be built, in plain words; empty when it is fine."""
    found: list[str] = []
    if not MIN_BLOCKS <= len(spec.blocks) <= MAX_BLOCKS:
        found.append(f"a network needs {MIN_BLOCKS} to {MAX_BLOCKS} conv blocks, not {len(spec.blocks)}")
    if spec.head not in HEADS:
        found.append(f"head must be one of {', '.join(HEADS)}, not {_shown(spec.head)}")
    if not 0 <= spec.dense_units <= MAX_DENSE_UNITS:
        found.append(f"dense_units must be 0 to {MAX_DENSE_UNITS}, not {_shown(spec.dense_units)}")
    if not (0.0 <= spec.dropout <= MAX_DROPOUT) or math.isnan(spec.dropout):
        found.append(f"dropout must be 0 to {MAX_DROPOUT}, not {_shown(spec.dropout)}")
    size = INPUT_SIZE
    for i, block in enumerate(spec.blocks, start=1):
        where = f"block {i}"
        ok = True
        if not MIN_FILTERS <= block.filters <= MAX_FILTERS:
            found.append(f"{where}: filters must be {MIN_FILTERS} to {MAX_FILTERS}, not {_shown(block.filters)}")
        if block.kernel_size not in KERNEL_SIZES:
            found.append(f"{where}: kernel size must be one of {KERNEL_SIZES}, not {_shown(block.kernel_size)}")
            ok = False
        if block.strides not in STRIDES:
            found.append(f"{where}: strides must be 1 or 2, not {_shown(block.strides)}")
            ok = False
        if block.padding not in PADDINGS:
            found.append(f"{where}: padding must be 'valid' or 'same', not {_shown(block.padding)}")
            ok = False
        if block.pool_type not in POOL_TYPES:
            found.append(f"{where}: pool_type must be 'max' or 'avg', not {block.pool_type!r}")
        if not ok or size < 1:
            continue  # later sizes are meaningless once one is wrong
        new = _conv_output(size, block.kernel_size, block.strides, block.padding)
        if new < 1:
            found.append(
                f"{where}: a {block.kernel_size}×{block.kernel_size} kernel does not fit the "
                f"{size}×{size} map with 'valid' padding (use 'same' padding or fewer blocks)"
            )
        elif block.pool and new // POOL_SIZE < 1:
            kind = "average" if block.pool_type == "avg" else "max"
            found.append(f"{where}: {kind} pooling would shrink {new}×{new} to 0×0 (turn pooling off here)")
        size = new // POOL_SIZE if block.pool else new
    return found


def validate(spec: NetworkSpec) -> NetworkSpec:
    """Return `spec` unchanged, or raise `SpecError` with every problem."""
    found = problems(spec)
    if found:
        raise SpecError(found)
    return spec


def final_map(spec: NetworkSpec) -> tuple[int, int]:
    """(side, channels) of the last conv block's output, e.g. (3, 64) for the book network."""
    conv_layers = [g for g in geometry(spec) if g.size is not None]
    return conv_layers[-1].size or 0, conv_layers[-1].channels


# --- presets -------------------------------------------------------------------------------

BOOK = NetworkSpec(
    blocks=(ConvBlock(32), ConvBlock(64), ConvBlock(64, pool=False)),
    head="flatten",
    dense_units=64,
)

PRESETS: dict[str, NetworkSpec] = {
    # Deep Learning with Python, 1st ed., listing 5.1: conv2d_2 is (None, 3, 3, 64).
    "book": BOOK,
    # 2nd ed., listing 8.1: a third conv of 128 filters and no hidden dense layer.
    "book2": NetworkSpec(
        blocks=(ConvBlock(32), ConvBlock(64), ConvBlock(128, pool=False)), dense_units=0
    ),
    # The book network without its two poolings: 22×22 maps and a very large dense layer.
    "no_pooling": NetworkSpec(
        blocks=(ConvBlock(32, pool=False), ConvBlock(64, pool=False), ConvBlock(64, pool=False)),
        dense_units=64,
    ),
    # Small and quick to train, for first experiments.
    "tiny": NetworkSpec(blocks=(ConvBlock(8), ConvBlock(16)), dense_units=32),
    # The book's convs, then global average pooling instead of flatten: 64 numbers, not 576.
    "global_avg": NetworkSpec(
        blocks=(ConvBlock(32), ConvBlock(64), ConvBlock(64, pool=False)), head="global_avg"
    ),
    # One more conv block with 'same' padding: the last map is 1×1.
    "one_by_one": NetworkSpec(
        blocks=(ConvBlock(32), ConvBlock(64), ConvBlock(64), ConvBlock(64, padding="same", pool=False)),
    ),
}

def preset_name(spec: NetworkSpec) -> str | None:
    """The name of the preset equal to `spec`, if any."""
    return next((name for name, preset in PRESETS.items() if preset == spec), None)


# --- the "how many numbers does the classifier need?" family (issue 11) --------------------

LAST_FILTERS = (1, 2, 4, 8, 16, 32, 64)  # last conv layer widths: 9 to 576 numbers
