"""Keras layer configurations (read as plain data) → `dashboard.network.geometry`'s layers, and their summary.

`describe_layer` maps one layer dict of a model's `config.json` (already checked by
`dashboard.modelfiles.modelfile`) to a `KerasLayer`; `propagate` gives every layer's output shape,
parameters (with the arithmetic), receptive field and jump on the 28×28 input, using the app's
one geometry routine (`dashboard.network.geometry.analyse`). Imported models are measured *before*
Keras builds them, so a file that declares a huge layer is refused without allocating it.

A branching model (merge layers) is walked layer by layer for shapes and parameters only: its
receptive fields and jumps are left unknown (None).

Pure Python: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from dashboard.network.geometry import GeometryError, LayerInfo, analyse, layer_from_config, square

ALIASES = {"MaxPool2D": "MaxPooling2D", "AvgPool2D": "AveragePooling2D", "Convolution2D": "Conv2D",
           "GlobalAvgPool2D": "GlobalAveragePooling2D", "GlobalMaxPool2D": "GlobalMaxPooling2D"}
MERGES = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"}

__all__ = ["ALIASES", "MERGES", "GeometryError", "KerasLayer", "LayerShape", "describe_layer", "propagate"]


@dataclass(frozen=True)
class KerasLayer:
    """One layer as data: its name, Keras class (aliases resolved), its config, its input layers."""

    name: str
    kind: str
    config: dict[str, Any] = field(default_factory=dict, repr=False)
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerShape:
    """One summary row: output shape without the batch axis, params (and how), receptive field, jump."""

    name: str
    kind: str
    shape: tuple[int, ...]
    params: int
    receptive_field: int | list[int] | None  # None when unknown (branching models)
    jump: int | list[int] | None  # None once the spatial layout is gone
    start: float = 0.0  # input row of the centre of position 0's window (see spec.LayerGeometry)
    params_formula: str = ""


def describe_layer(class_name: str, config: dict[str, Any], inputs: tuple[str, ...] = ()) -> KerasLayer:
    """Map one Keras layer config to a `KerasLayer`; `GeometryError` if its settings are malformed."""
    kind = ALIASES.get(class_name, class_name)
    name = str(config.get("name", kind))[:80]
    if kind not in MERGES and kind != "InputLayer":
        try:
            layer_from_config(kind, {**config, "name": name})  # validates the settings geometry needs
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, GeometryError):
                raise
            raise GeometryError(f"layer {name!r} ({kind}) has a malformed configuration "
                                f"({type(err).__name__}: {str(err)[:60]})") from None
    return KerasLayer(name, kind, dict(config), tuple(inputs))


def _row(info: LayerInfo, known_field: bool = True) -> LayerShape:
    return LayerShape(
        name=info.name, kind=info.kind, shape=tuple(int(d) for d in info.output_shape[1:]), params=info.params,
        receptive_field=square(info.receptive_field) if known_field else None,
        jump=square(info.jump) if known_field else None, start=info.start[0] if known_field else 0.0,
        params_formula=info.params_formula,
    )


def _is_chain(layers: list[KerasLayer]) -> bool:
    previous = None
    for layer in layers:
        if layer.kind in MERGES or len(layer.inputs) > 1:
            return False
        if layer.inputs and previous is not None and layer.inputs != (previous,):
            return False
        previous = layer.name
    return True


def propagate(layers: list[KerasLayer], input_shape: tuple[int, ...]) -> list[LayerShape]:
    """Summary rows of each layer after the input, in order (`GeometryError` where Keras would fail)."""
    body = [layer for layer in layers if layer.kind != "InputLayer"]
    if _is_chain(layers):
        chain = [layer_from_config(layer.kind, {**layer.config, "name": layer.name}) for layer in body]
        return [_row(info) for info in analyse(tuple(input_shape), chain)]
    return _propagate_graph(layers, tuple(input_shape))


def _merge_shape(layer: KerasLayer, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    first = shapes[0]
    if layer.kind == "Concatenate":
        axis = int(layer.config.get("axis", -1)) % (len(first) + 1) - 1  # Keras counts the batch axis
        if any(len(s) != len(first) for s in shapes):
            raise GeometryError(f"{layer.name}: cannot concatenate {shapes}")
        return (*first[:axis], sum(s[axis] for s in shapes), *first[axis + 1:])
    if any(s != first for s in shapes):
        raise GeometryError(f"{layer.name} ({layer.kind}): its inputs have different shapes {shapes}")
    return first


def _propagate_graph(layers: list[KerasLayer], input_shape: tuple[int, ...]) -> list[LayerShape]:
    """Shapes and parameters of a branching model, one layer at a time, in the config's (topological) order."""
    shapes: dict[str, tuple[int, ...]] = {}
    out = []
    for layer in layers:
        if layer.kind == "InputLayer":
            shapes[layer.name] = input_shape
            continue
        missing = [p for p in layer.inputs if p not in shapes]
        if not layer.inputs or missing:
            raise GeometryError(f"{layer.name}: its inputs {missing or '(none)'} come later or not at all")
        parents = [shapes[p] for p in layer.inputs]
        if layer.kind in MERGES:
            shape = _merge_shape(layer, parents)
            out.append(LayerShape(layer.name, layer.kind, shape, 0, None, None, 0.0, "0"))
        else:
            info = analyse(parents[0], [layer_from_config(layer.kind, {**layer.config, "name": layer.name})])[0]
            out.append(_row(info, known_field=False))
            shape = out[-1].shape
        shapes[layer.name] = shape
        if math.prod(shape) <= 0:
            raise GeometryError(f"{layer.name}: empty output {shape}")
    return out
