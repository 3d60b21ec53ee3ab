"""A layer's output shape in words, and the kernel and output of a conv layer placed on the input.

`(None, 3, 3, 64)` confuses on two counts: `None` is not a missing value but the batch
dimension, and the 3×3 is the *output* map of `conv2d_2`, not the 3×3 *kernel* of
`Conv2D(64, (3, 3))`. `decode_shape` names every part of a shape; `kernel_taps` and
`output_cells` say where, on the 28×28 input, the kernel's 3×3 weights and the output's 3×3
positions sit, so both can be drawn to scale.

Pure Python: imports neither TensorFlow nor Streamlit (the home page uses it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dashboard.network.spec import INPUT_CHANNELS, INPUT_SIZE, LayerGeometry, NetworkSpec, geometry

INPUT_GEOMETRY = LayerGeometry("input", "Input", INPUT_SIZE, INPUT_CHANNELS, 1, 1, 0.0)


@dataclass(frozen=True)
class ShapePart:
    """One part of a shape: its text as Keras prints it, and what it means."""

    text: str  # "None", "3, 3", "64"
    name: str  # "batch", "height, width", "channels"
    meaning: str


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def article(n: int) -> str:
    """'an' before numbers read with a vowel sound (8, 11, 18, 80–89, 800…), else 'a'."""
    text = str(n)
    return "an" if text.startswith("8") or (len(text) % 3 == 2 and text[:2] in ("11", "18")) else "a"


def decode_shape(shape: Sequence[int | None], name: str, kind: str, geo: LayerGeometry | None = None) -> list[ShapePart]:
    """What each part of `shape` (as Keras prints it) means for layer `name` of type `kind`."""
    shape = list(shape)
    if not shape or shape[0] is not None:
        raise ValueError(f"expected a Keras output shape starting with None, got {shape}")
    parts = [
        ShapePart(
            "None", "batch",
            "how many digits go through at once. Keras leaves it open (None): the same network "
            "reads 1 digit or a batch of 128.",
        )
    ]
    if len(shape) == 4:
        _, h, w, c = shape
        where = ""
        if geo is not None and geo.jump is not None:
            window = f"{article(geo.receptive_field)} {geo.receptive_field}×{geo.receptive_field} window of the 28×28 digit"
            if h * w == 1:
                where = f"; it looks at {window}"
            else:
                where = f"; each position looks at {window}, neighbours {plural(geo.jump, 'pixel')} apart"
        parts.append(ShapePart(f"{h}, {w}", "height, width", f"the map has {h}×{w} = {plural(h * w, 'position')}{where}."))
        if kind == "Conv2D":
            meaning = f"{plural(c, 'channel')}, one per filter of `{name}`: at every position, how strongly each of its {c} learned patterns is there."
        elif kind == "MaxPooling2D":
            meaning = f"the {plural(c, 'channel')} of the conv layer before, each pooled on its own (the strongest value of every 2×2 block kept)."
        else:
            meaning = f"{plural(c, 'channel')}."
        parts.append(ShapePart(str(c), "channels", meaning))
        parts.append(ShapePart("", "in all", f"{h}×{w}×{c} = {h * w * c:,} numbers per digit."))
    elif len(shape) == 2:
        n = shape[1]
        meanings = {
            "Flatten": f"the map laid out in one row: {n:,} numbers per digit, positions kept in their order.",
            "GlobalAveragePooling2D": f"one average per channel: {n:,} numbers per digit, positions forgotten.",
            "Dense": f"{plural(n, 'unit')}: {n:,} numbers per digit" + (", one score per digit class." if n == 10 else "."),
            "Dropout": f"the same {n:,} numbers, some set to zero while training.",
        }
        parts.append(ShapePart(str(n), "features", meanings.get(kind, f"{n:,} numbers per digit.")))
    return parts


def shape_text(shape: Sequence[int | None]) -> str:
    """`(None, 3, 3, 64)` as Keras prints it."""
    return "(" + ", ".join("None" if v is None else str(v) for v in shape) + ")"


# --- the kernel and the output on the input ------------------------------------------------


@dataclass(frozen=True)
class Squares:
    """Squares on the 28×28 input: centres (row, col) in pixels (pixel centres are integers), one side."""

    centres: tuple[tuple[float, float], ...]
    side: float  # pixels
    grid: int  # squares per row (they form a grid×grid block)


def spatial_layers(spec: NetworkSpec) -> list[LayerGeometry]:
    """The input, then every conv and pooling layer's geometry."""
    return [INPUT_GEOMETRY, *[g for g in geometry(spec) if g.size is not None]]


def _layer_index(layers: Sequence[LayerGeometry], name: str) -> int:
    names = [g.name for g in layers]
    if name not in names:
        raise ValueError(f"{name!r} is not a conv or pooling layer of this network")
    return names.index(name)


def kernel_taps(spec: NetworkSpec, name: str, row: int, col: int) -> tuple[Squares, Squares]:
    """(the kernel's k×k weights, the whole input map) of conv layer `name`, placed on the input.

    Each weight of the kernel at output position (row, col) multiplies one position of the
    layer's input map; that position is drawn as a square of the input map's pitch (its jump)
    centred where it sits on the 28×28 digit. 'same' padding may put taps outside the image.
    """
    layers = spatial_layers(spec)
    i = _layer_index(layers, name)
    if layers[i].kind != "Conv2D":
        raise ValueError(f"{name} is not a Conv2D layer")
    block = [b for b in spec.blocks][[g.name for g in layers if g.kind == "Conv2D"].index(name)]
    before = layers[i - 1]
    k, stride = block.kernel_size, block.strides
    pad = 0
    if block.padding == "same":
        out = -(-before.size // stride)
        pad = max((out - 1) * stride + k - before.size, 0) // 2
    pitch = float(before.jump)

    def centre(index: int) -> float:
        return before.start + index * pitch

    taps = tuple(
        (centre(row * stride + a - pad), centre(col * stride + b - pad)) for a in range(k) for b in range(k)
    )
    grid = tuple((centre(a), centre(b)) for a in range(before.size) for b in range(before.size))
    return Squares(taps, pitch, k), Squares(grid, pitch, before.size)


def output_cells(spec: NetworkSpec, name: str) -> Squares:
    """The positions of layer `name`'s map on the input: squares of its pitch at their window centres."""
    layers = spatial_layers(spec)
    geo = layers[_layer_index(layers, name)]
    jump = float(geo.jump)
    cells = tuple((geo.start + a * jump, geo.start + b * jump) for a in range(geo.size) for b in range(geo.size))
    return Squares(cells, jump, geo.size)


def kernel_text(spec: NetworkSpec, name: str, shape: Sequence[int | None]) -> str:
    """Markdown telling the kernel's k×k from the output's h×h of conv layer `name` (output `shape`);
    headed "Two different 3×3s?" only when both are 3×3 (or k×k), where they could be confused."""
    layers = spatial_layers(spec)
    index = [g.name for g in layers].index(name)
    before, geo = layers[index - 1], layers[index]
    block = spec.blocks[[g.name for g in layers if g.kind == "Conv2D"].index(name)]
    k, h = block.kernel_size, shape[1]
    if block.padding == "valid" and block.strides == 1:
        fit = f"the kernel fits {before.size} − {k} + 1 = {plural(h, 'time')} across the {before.size}×{before.size} map"
    else:
        fit = f"with padding '{block.padding}' and stride {block.strides}, the kernel takes {plural(h, 'place')} across the {before.size}×{before.size} map"
    source = "the 28×28 digit" if before.name == "input" else f"the {before.size}×{before.size}×{before.channels} map of `{before.name}`"
    return (
        (f"**Two different {k}×{k}s?** " if k == h else f"**{article(k).capitalize()} {k}×{k} kernel, {article(h)} {h}×{h} output.** ")
        + f"`Conv2D({block.filters}, ({k}, {k}))` sets the **kernel** (left, orange): "
        f"each filter has {k}×{k} weights for each of the {before.channels} input channels "
        f"({k}×{k}×{before.channels} = {k * k * before.channels:,}) and slides over {source}; one step of it is "
        f"{plural(before.jump, 'pixel')} of the digit. The **output** is {h}×{h} (right, blue) because {fit}: "
        "one output position per place."
        + (f" Both being {k}×{k} here is a coincidence of this network." if k == h else "")
        + (" Each output position" if h * shape[2] > 1 else " The single output position")
        + f" sees {article(geo.receptive_field)} {geo.receptive_field}×{geo.receptive_field} "
        "window of the digit (red, dashed)."
    )
