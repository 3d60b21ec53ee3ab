"""Geometry of a model described by Keras layer configurations, as plain data (no TensorFlow).

`describe_layers` maps the layer dicts of a model's `config.json` (already checked by
`dashboard.modelfile`) to `KerasLayer` descriptions; `propagate` walks them in order and gives
every layer's output shape, parameter count, receptive field and jump on the 28×28 input.
Imported models are measured *before* Keras builds them, so a file that declares a huge layer is
refused without allocating its weights.

Receptive field and jump follow the height axis (square kernels and pools, which is what MNIST
models use, give the same numbers on both axes). Layers after the spatial part (Flatten, global
pooling, Dense) see the union of the last map's windows, as in `dashboard.spec.geometry`.

TODO(integration): `dashboard/geometry.py` (branch geometry-memory) is the one geometry routine
of the app; once it lands, `propagate` should hand these descriptions to it.

Pure Python: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

INPUT_SIDE = 28

IDENTITY = {"Dropout", "SpatialDropout2D", "Activation", "ReLU", "LeakyReLU", "Softmax", "Rescaling"}
POOLS = {"MaxPooling2D", "AveragePooling2D"}
GLOBAL_POOLS = {"GlobalAveragePooling2D", "GlobalMaxPooling2D"}
MERGES = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"}
ALIASES = {"MaxPool2D": "MaxPooling2D", "AvgPool2D": "AveragePooling2D", "Convolution2D": "Conv2D",
           "GlobalAvgPool2D": "GlobalAveragePooling2D", "GlobalMaxPool2D": "GlobalMaxPooling2D"}


class GeometryError(ValueError):
    """A layer whose shapes do not work out (the message names the layer)."""


@dataclass(frozen=True)
class KerasLayer:
    """One layer as data: its name, Keras class, the settings geometry needs, its input layers."""

    name: str
    kind: str
    settings: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerShape:
    """One summary row: output shape without the batch axis, params, receptive field and jump."""

    name: str
    kind: str
    shape: tuple[int, ...]
    params: int
    receptive_field: int | None  # None when unknown (branching models)
    jump: int | None  # None once the spatial layout is gone
    start: float = 0.0  # input coordinate of the centre of unit 0's window (see spec.LayerGeometry)


def _pair(value: Any, default: int = 1) -> tuple[int, int]:
    if value is None:
        return default, default
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise GeometryError(f"expected two numbers, got {value!r}"[:80])
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _positive(*numbers: int) -> bool:
    return all(isinstance(n, int) and n >= 1 for n in numbers)


def describe_layer(class_name: str, config: dict[str, Any], inputs: tuple[str, ...] = ()) -> KerasLayer:
    """Map one Keras layer config to the settings its geometry needs; `GeometryError` if malformed."""
    kind = ALIASES.get(class_name, class_name)
    name = str(config.get("name", kind))[:80]
    c = config
    try:
        if c.get("data_format", "channels_last") not in ("channels_last", None):
            raise GeometryError(f"layer {name!r} uses data_format {c.get('data_format')!r}; only channels_last is supported")
        if kind == "Conv2D":
            s = {"filters": int(c["filters"]), "kernel": _pair(c["kernel_size"]), "strides": _pair(c.get("strides")),
                 "padding": str(c.get("padding", "valid")), "dilation": _pair(c.get("dilation_rate")),
                 "groups": int(c.get("groups", 1) or 1), "bias": bool(c.get("use_bias", True))}
            if not _positive(s["filters"], *s["kernel"], *s["strides"], *s["dilation"], s["groups"]):
                raise GeometryError(f"layer {name!r} has a zero or negative size")
        elif kind in POOLS:
            pool = _pair(c.get("pool_size", 2), 2)
            s = {"kernel": pool, "strides": _pair(c.get("strides")) if c.get("strides") is not None else pool,
                 "padding": str(c.get("padding", "valid")), "dilation": (1, 1)}
            if not _positive(*s["kernel"], *s["strides"]):
                raise GeometryError(f"layer {name!r} has a zero or negative size")
        elif kind == "Dense":
            s = {"units": int(c["units"]), "bias": bool(c.get("use_bias", True))}
            if not _positive(s["units"]):
                raise GeometryError(f"layer {name!r} has no units")
        elif kind == "BatchNormalization":
            s = {"center": bool(c.get("center", True)), "scale": bool(c.get("scale", True)), "axis": c.get("axis", -1)}
        elif kind == "Reshape":
            s = {"target": tuple(int(n) for n in c["target_shape"])}
        elif kind in GLOBAL_POOLS:
            s = {"keepdims": bool(c.get("keepdims", False))}
        elif kind == "InputLayer":
            shape = c.get("batch_shape") or c.get("batch_input_shape")
            if shape is None:
                raise GeometryError("the input layer has no shape")
            s = {"shape": tuple(None if n is None else int(n) for n in shape)[1:]}
        elif kind == "Concatenate":
            s = {"axis": int(c.get("axis", -1))}
        else:
            s = {}
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, GeometryError):
            raise
        raise GeometryError(f"layer {name!r} ({kind}) has a malformed configuration ({type(err).__name__}: {str(err)[:60]})") from None
    if "padding" in s and s["padding"] not in ("valid", "same"):
        raise GeometryError(f"layer {name!r} has padding {s['padding']!r}; only 'valid' and 'same' are supported")
    return KerasLayer(name, kind, s, tuple(inputs))


def _window_out(size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    effective = dilation * (kernel - 1) + 1
    if padding == "same":
        return math.ceil(size / stride)
    return (size - effective) // stride + 1 if size >= effective else 0


def _pad_before(size: int, effective: int, stride: int) -> int:
    out = math.ceil(size / stride)
    return max((out - 1) * stride + effective - size, 0) // 2  # TensorFlow puts the odd pixel after


def output_shape(layer: KerasLayer, shapes: list[tuple[int, ...]]) -> tuple[tuple[int, ...], int]:
    """(output shape without batch axis, params) of `layer` given its input shapes."""
    s, kind = layer.settings, layer.kind
    shape = shapes[0] if shapes else ()
    where = f"layer {layer.name!r} ({kind})"
    if kind in ("Conv2D", *POOLS):
        if len(shape) != 3:
            raise GeometryError(f"{where} needs a (height, width, channels) input, got {shape}")
        h, w, cin = shape
        (kh, kw), (sh, sw), (dh, dw) = s["kernel"], s["strides"], s["dilation"]
        out_h, out_w = _window_out(h, kh, sh, dh, s["padding"]), _window_out(w, kw, sw, dw, s["padding"])
        if out_h < 1 or out_w < 1:
            raise GeometryError(f"{where}: its {kh}×{kw} window does not fit the {h}×{w} input")
        if kind != "Conv2D":
            return (out_h, out_w, cin), 0
        if cin % s["groups"] or s["filters"] % s["groups"]:
            raise GeometryError(f"{where}: groups must divide the channels")
        params = kh * kw * (cin // s["groups"]) * s["filters"] + (s["filters"] if s["bias"] else 0)
        return (out_h, out_w, s["filters"]), params
    if kind == "Dense":
        if not shape:
            raise GeometryError(f"{where} has no input")
        return (*shape[:-1], s["units"]), shape[-1] * s["units"] + (s["units"] if s["bias"] else 0)
    if kind == "BatchNormalization":
        channels = shape[-1] if shape else 0
        return shape, channels * (2 + int(s["center"]) + int(s["scale"]))
    if kind == "Flatten":
        return (math.prod(shape),), 0
    if kind in GLOBAL_POOLS:
        if len(shape) != 3:
            raise GeometryError(f"{where} needs a (height, width, channels) input, got {shape}")
        return ((1, 1, shape[-1]) if s["keepdims"] else (shape[-1],)), 0
    if kind == "Reshape":
        target = list(s["target"])
        if target.count(-1) == 1:
            known = math.prod(n for n in target if n != -1)
            target[target.index(-1)] = math.prod(shape) // known if known else 0
        if math.prod(target) != math.prod(shape):
            raise GeometryError(f"{where} cannot reshape {shape} to {tuple(s['target'])}")
        return tuple(target), 0
    if kind == "Concatenate":
        axis = s["axis"] % len(shape)
        return (*shape[:axis], sum(sh[axis] for sh in shapes), *shape[axis + 1:]), 0
    return shape, 0  # identity layers and element-wise merges


@dataclass
class _Field:
    """Receptive field state on the height axis."""

    rf: int = 1
    jump: int | None = 1
    start: float = 0.0


def _advance(layer: KerasLayer, before: _Field, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> _Field:
    """The receptive field after `layer`, from the field before it."""
    kind, s = layer.kind, layer.settings
    if kind in ("Conv2D", *POOLS) and before.jump is not None:
        k, stride, d = s["kernel"][0], s["strides"][0], s["dilation"][0]
        effective = d * (k - 1) + 1
        pad = _pad_before(in_shape[0], effective, stride) if s["padding"] == "same" else 0
        start = before.start + ((effective - 1) / 2 - pad) * before.jump
        return _Field(before.rf + (effective - 1) * before.jump, before.jump * stride, start)
    if kind == "Reshape" and len(out_shape) == 3 and out_shape[:2] == (INPUT_SIDE, INPUT_SIDE) and before.jump is None \
            and before.rf == INPUT_SIDE and len(in_shape) == 1:
        return _Field()  # (784,) → (28, 28, 1): pixels are back in place
    if kind in ("Flatten", "Reshape", "Dense", *GLOBAL_POOLS) and before.jump is not None and len(in_shape) == 3:
        top = max(0.0, math.ceil(before.start - (before.rf - 1) / 2))
        last = before.start + (in_shape[0] - 1) * before.jump + (before.rf - 1) / 2
        bottom = min(INPUT_SIDE - 1, math.floor(last))
        return _Field(int(bottom - top) + 1, None, float(top))
    return before


def input_field(shape: tuple[int, ...]) -> _Field:
    """The field of the input itself: pixels for a 28×28 image, the whole digit for a flat 784."""
    return _Field() if len(shape) >= 2 else _Field(INPUT_SIDE, None, 0.0)


def propagate(layers: list[KerasLayer], input_shape: tuple[int, ...]) -> list[LayerShape]:
    """Shapes, params, receptive field and jump of each layer after the input (in the given order).

    For a chain each layer reads the previous one; otherwise each layer's `inputs` name its
    parents (the receptive field is then left unknown).
    """
    chain = all(len(layer.inputs) <= 1 for layer in layers) and _is_chain(layers)
    shapes: dict[str, tuple[int, ...]] = {}
    fields: dict[str, _Field] = {}
    out: list[LayerShape] = []
    prev_shape, prev_field, prev_name = tuple(input_shape), input_field(input_shape), None
    for layer in layers:
        if layer.kind == "InputLayer":
            shapes[layer.name], fields[layer.name] = tuple(input_shape), input_field(input_shape)
            prev_shape, prev_field, prev_name = shapes[layer.name], fields[layer.name], layer.name
            continue
        parents = list(layer.inputs) or ([prev_name] if prev_name else [])
        in_shapes = [shapes[p] for p in parents if p in shapes] or [prev_shape]
        shape, params = output_shape(layer, in_shapes)
        fld = _advance(layer, fields.get(parents[0], prev_field) if parents else prev_field, in_shapes[0], shape)
        shapes[layer.name], fields[layer.name] = shape, fld
        out.append(LayerShape(layer.name, layer.kind, shape, params, fld.rf if chain else None,
                              fld.jump if chain else None, fld.start))
        prev_shape, prev_field, prev_name = shape, fld, layer.name
    return out


def _is_chain(layers: list[KerasLayer]) -> bool:
    previous = None
    for layer in layers:
        if layer.inputs and previous is not None and layer.inputs != (previous,):
            return False
        previous = layer.name
    return True
