"""Shapes, parameter counts and receptive fields of a chain of layers, without building a model.

One routine, `analyse(input_shape, layers)`, serves every network the app shows: the app's own
`NetworkSpec` (mapped to layers by `dashboard.network.spec`) and imported Keras models (their layers'
configurations read as plain data, see `layer_from_config`). It allocates no weights, so the
largest valid network costs a few microseconds instead of half a gigabyte.

Conventions are Keras's (channels last, TensorFlow 'same' padding that puts the odd pixel
after). Geometry is in input pixels: `receptive_field` is the side of the input window one
unit sees, `jump` the distance between neighbouring units, `start` the input coordinate
(centre of pixel 0 = 0.0) of the centre of position (0, 0)'s window. Layers that mix every
position (Flatten, global pooling, Dense on a flat vector) have no jump; their field is the
part of the input any position of the last map sees.

Pure Python: no TensorFlow, no Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int | None, ...]  # (None, 3, 3, 64): the batch dimension first, left open
Pair = tuple[int, int]

CONV_KINDS = ("Conv2D",)
POOL_KINDS = ("MaxPooling2D", "AveragePooling2D")
GLOBAL_KINDS = ("GlobalAveragePooling2D", "GlobalMaxPooling2D")
# Elementwise (or per-channel) layers: the shape and the geometry pass through unchanged.
PASS_KINDS = ("Dropout", "SpatialDropout2D", "Activation", "ReLU", "LeakyReLU", "Softmax", "ELU", "Rescaling")
KINDS = (*CONV_KINDS, *POOL_KINDS, *GLOBAL_KINDS, *PASS_KINDS, "BatchNormalization", "Reshape", "Flatten", "Dense")


class GeometryError(ValueError):
    """A chain of layers that Keras could not build (or that this routine does not know)."""


@dataclass(frozen=True)
class Layer:
    """One layer as plain data, in Keras's terms (pairs are (height, width))."""

    kind: str  # a Keras class name from KINDS
    name: str = ""
    filters: int = 0  # Conv2D
    kernel_size: Pair = (1, 1)
    strides: Pair = (1, 1)  # Conv2D and pooling (pooling: None in Keras means pool_size)
    padding: str = "valid"
    dilation_rate: Pair = (1, 1)
    groups: int = 1
    pool_size: Pair = (2, 2)
    units: int = 0  # Dense
    use_bias: bool = True
    center: bool = True  # BatchNormalization's β
    scale: bool = True  # BatchNormalization's γ
    keepdims: bool = False  # global pooling
    target_shape: tuple[int, ...] = ()  # Reshape (without the batch dimension; one -1 allowed)


@dataclass(frozen=True)
class LayerInfo:
    """What the routine knows about one layer's output."""

    name: str
    kind: str
    output_shape: Shape
    params: int
    non_trainable_params: int
    params_formula: str
    receptive_field: Pair  # (rows, cols) of input pixels
    jump: Pair | None  # None once positions are mixed
    start: tuple[float, float]
    image: Pair = (28, 28)  # the input image the windows are clipped to
    multiply_adds: int = 0  # per input image: what training and inference cost

    @property
    def spatial(self) -> bool:
        """True when the output still has positions (rows, cols) on the input."""
        return self.jump is not None

    def window(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Input window (top, left, bottom, right), inclusive and clipped to the image, of position (row, col)."""
        if self.jump is None:
            raise ValueError(f"{self.name} has no spatial positions")
        return _window(self.receptive_field, self.jump, self.start, self.image, row, col)


def _window(rf: Pair, jump: Pair, start: tuple[float, float], image: Pair, row: int, col: int) -> tuple[int, int, int, int]:
    out = []
    for axis, index in ((0, row), (1, col)):
        low = start[axis] + index * jump[axis] - (rf[axis] - 1) / 2
        out.append((max(0, math.ceil(low)), min(image[axis] - 1, math.floor(low + rf[axis] - 1))))
    (top, bottom), (left, right) = out
    return top, left, bottom, right


def square(value: Pair | None) -> int | list[int] | None:
    """A pair as one number when both sides agree (the usual case), else [rows, cols]."""
    if value is None:
        return None
    return value[0] if value[0] == value[1] else [value[0], value[1]]


# --- output sizes ------------------------------------------------------------------------------


def conv_output(size: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Output side of a conv or pooling window along one axis (0 when it does not fit)."""
    if padding == "same":
        return math.ceil(size / stride)
    span = (kernel - 1) * dilation + 1
    return (size - span) // stride + 1 if size >= span else 0


def same_pad_before(size: int, kernel: int, stride: int, dilation: int = 1) -> int:
    """Padding TensorFlow adds before the first pixel for 'same' (the odd pixel goes after)."""
    span = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + span - size, 0)
    return total // 2


# --- the routine -------------------------------------------------------------------------------


@dataclass
class _State:
    """The running tensor: its shape and where its units look on the image."""

    shape: tuple[int, ...]  # without the batch dimension
    image: Pair
    rf: Pair = (1, 1)
    jump: Pair | None = (1, 1)
    start: tuple[float, float] = (0.0, 0.0)
    intact: bool = True  # only relayouts of the raw pixels so far (a Reshape can restore positions)
    seen: tuple[int, int, int, int] = field(default=(0, 0, 0, 0))  # union window once mixed

    def info(self, layer: Layer, name: str, params: int, fixed: int, formula: str, macs: int) -> LayerInfo:
        if self.jump is None:
            top, left, bottom, right = self.seen
            rf, start = (bottom - top + 1, right - left + 1), (float(top), float(left))
        else:
            rf, start = self.rf, self.start
        return LayerInfo(name, layer.kind, (None, *self.shape), params, fixed, formula, rf, self.jump, start,
                         self.image, macs)

    def mix(self) -> None:
        """Every unit from now on sees the union of the current units' windows."""
        if self.jump is not None and len(self.shape) >= 2:
            top, left, _, _ = _window(self.rf, self.jump, self.start, self.image, 0, 0)
            last_row, last_col = self.shape[0] - 1, self.shape[1] - 1
            _, _, bottom, right = _window(self.rf, self.jump, self.start, self.image, last_row, last_col)
            self.seen = (top, left, bottom, right)
        self.jump, self.intact = None, False


def default_image(input_shape: Sequence[int]) -> Pair:
    """The image a model's input holds: (h, w) of (h, w[, c]); a square for a flat (h·w,) vector."""
    if len(input_shape) >= 2:
        return int(input_shape[0]), int(input_shape[1])
    side = math.isqrt(int(input_shape[0]))
    return (side, side) if side * side == input_shape[0] else (1, int(input_shape[0]))


def analyse(input_shape: Sequence[int], layers: Sequence[Layer], image: Pair | None = None) -> list[LayerInfo]:
    """Output shape, parameters (with the arithmetic) and geometry of every layer of a chain.

    `input_shape` excludes the batch dimension: (28, 28, 1), (28, 28) or (784,). Raises
    `GeometryError` where Keras would refuse to build the chain (or for an unknown layer kind).
    """
    if not input_shape or any(int(d) < 1 for d in input_shape):
        raise GeometryError(f"input shape {tuple(input_shape)} must have positive sizes")
    image = image or default_image(input_shape)
    state = _State(tuple(int(d) for d in input_shape), image, seen=(0, 0, image[0] - 1, image[1] - 1))
    if len(state.shape) == 1:
        state.jump = None  # a flat vector of the pixels: no positions, but a Reshape can restore them
    counts: dict[str, int] = {}
    out = []
    for layer in layers:
        name = layer.name or _auto_name(layer.kind, counts)
        params, fixed, formula = _step(state, layer, name)
        macs = 0
        if layer.kind in ("Conv2D", "Dense"):  # weights × the positions they are applied at
            weights = params - (state.shape[-1] if layer.use_bias else 0)
            macs = weights * math.prod(state.shape[:-1])
        out.append(state.info(layer, name, params, fixed, formula, macs))
    return out


def _auto_name(kind: str, counts: dict[str, int]) -> str:
    base = "".join("_" + c.lower() if c.isupper() and i and not kind[i - 1].isupper() else c.lower()
                   for i, c in enumerate(kind)).replace("2_d", "2d")
    n = counts.get(base, 0)
    counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _need_rank(state: _State, rank: int, layer: Layer, name: str) -> None:
    if len(state.shape) != rank:
        raise GeometryError(f"{name} ({layer.kind}) needs a {rank + 1}-D input, got {(None, *state.shape)}")


def _step(state: _State, layer: Layer, name: str) -> tuple[int, int, str]:
    """Advance `state` through `layer`; return (params, non-trainable params, formula)."""
    kind = layer.kind
    if kind in CONV_KINDS:
        return _conv(state, layer, name)
    if kind in POOL_KINDS:
        _need_rank(state, 3, layer, name)
        _window_step(state, layer.pool_size, layer.strides, layer.padding, (1, 1), name, kind)
        return 0, 0, "0"
    if kind == "BatchNormalization":
        return _batch_norm(state.shape[-1], layer)
    if kind in PASS_KINDS:
        return 0, 0, "0"
    if kind in GLOBAL_KINDS:
        _need_rank(state, 3, layer, name)
        channels = state.shape[-1]
        state.mix()
        state.shape = (1, 1, channels) if layer.keepdims else (channels,)
        return 0, 0, "0"
    if kind == "Flatten":
        if len(state.shape) > 1:
            intact = state.intact
            state.mix()
            state.shape, state.intact = (math.prod(state.shape),), intact  # row-major: still a relayout
        return 0, 0, "0"
    if kind == "Reshape":
        _reshape(state, layer, name)
        return 0, 0, "0"
    if kind == "Dense":
        return _dense(state, layer, name)
    raise GeometryError(f"{name}: layer kind {kind!r} is not one this app can read")


def _window_step(state: _State, kernel: Pair, strides: Pair, padding: str, dilation: Pair, name: str, kind: str) -> None:
    """Move the shape and geometry through a sliding window (conv or pooling)."""
    if padding not in ("valid", "same"):
        raise GeometryError(f"{name}: padding must be 'valid' or 'same', not {padding!r}")
    sizes = []
    for axis in (0, 1):
        n, k, s, d = state.shape[axis], kernel[axis], strides[axis], dilation[axis]
        if min(k, s, d) < 1:
            raise GeometryError(f"{name}: kernel, strides and dilation must be positive")
        new = conv_output(n, k, s, padding, d)
        if new < 1:
            raise GeometryError(f"{name} ({kind}): a {kernel[0]}×{kernel[1]} window does not fit a "
                                f"{state.shape[0]}×{state.shape[1]} map with '{padding}' padding")
        sizes.append(new)
    if state.jump is not None:
        rf, jump, start = list(state.rf), list(state.jump), list(state.start)
        for axis in (0, 1):
            n, k, s, d = state.shape[axis], kernel[axis], strides[axis], dilation[axis]
            span = (k - 1) * d + 1
            pad = same_pad_before(n, k, s, d) if padding == "same" else 0
            start[axis] += ((span - 1) / 2 - pad) * jump[axis]
            rf[axis] += (span - 1) * jump[axis]
            jump[axis] *= s
        state.rf, state.jump, state.start = (rf[0], rf[1]), (jump[0], jump[1]), (start[0], start[1])
    state.shape, state.intact = (sizes[0], sizes[1], state.shape[2]), False


def _conv(state: _State, layer: Layer, name: str) -> tuple[int, int, str]:
    _need_rank(state, 3, layer, name)
    c_in, groups, filters = state.shape[-1], layer.groups, layer.filters
    if filters < 1 or groups < 1 or c_in % groups or filters % groups:
        raise GeometryError(f"{name}: {filters} filters in {groups} groups cannot read {c_in} channels")
    kh, kw = layer.kernel_size
    _window_step(state, layer.kernel_size, layer.strides, layer.padding, layer.dilation_rate, name, layer.kind)
    state.intact = False
    state.shape = (*state.shape[:2], filters)
    per_filter = kh * kw * (c_in // groups)
    params = per_filter * filters + (filters if layer.use_bias else 0)
    text = f"{kh}×{kw}×{c_in // groups} weights per filter × {filters} filters"
    text += f" + {filters} biases" if layer.use_bias else ""
    return params, 0, f"{text} = {params:,}"


def _dense(state: _State, layer: Layer, name: str) -> tuple[int, int, str]:
    if layer.units < 1:
        raise GeometryError(f"{name}: a Dense layer needs at least 1 unit")
    inputs = state.shape[-1]
    if len(state.shape) != 3:
        state.mix()  # a flat vector, or the columns of an image: every unit mixes positions
    state.intact = False
    state.shape = (*state.shape[:-1], layer.units)
    params = inputs * layer.units + (layer.units if layer.use_bias else 0)
    text = f"{inputs}×{layer.units}" + (f" + {layer.units}" if layer.use_bias else "")
    return params, 0, f"{text} = {params:,}"


def _batch_norm(channels: int, layer: Layer) -> tuple[int, int, str]:
    names = [n for n, on in (("γ", layer.scale), ("β", layer.center)) if on] + ["moving mean", "moving variance"]
    params = len(names) * channels
    fixed = 2 * channels
    formula = f"{len(names)}×{channels} ({', '.join(names)} per channel) = {params:,}; {fixed:,} not trained"
    return params, fixed, formula


def _reshape(state: _State, layer: Layer, name: str) -> None:
    target = list(layer.target_shape)
    total = math.prod(state.shape)
    if target.count(-1) > 1 or any(d == 0 or d < -1 for d in target) or not target:
        raise GeometryError(f"{name}: cannot reshape to {tuple(target)}")
    if -1 in target:
        known = -math.prod(target)
        if known == 0 or total % known:
            raise GeometryError(f"{name}: cannot reshape {(None, *state.shape)} to {tuple(target)}")
        target[target.index(-1)] = total // known
    if math.prod(target) != total:
        raise GeometryError(f"{name}: cannot reshape {(None, *state.shape)} to {tuple(target)}")
    intact = state.intact
    if intact and len(target) >= 2 and tuple(target[:2]) == state.image:
        state.rf, state.jump, state.start = (1, 1), (1, 1), (0.0, 0.0)  # raw pixels laid out as the image
    else:
        state.mix()  # positions are lost; a relayout of raw pixels can still be restored later
    state.shape, state.intact = tuple(target), intact


def total_params(infos: Sequence[LayerInfo]) -> int:
    """Total parameters, as the 'Total params' line of `model.summary()`."""
    return sum(info.params for info in infos)


# --- Keras configurations as plain data --------------------------------------------------------


def _pair(value: Any, what: str) -> Pair:
    if isinstance(value, bool):
        raise GeometryError(f"{what} must be a whole number or a pair, not {value!r}")
    if isinstance(value, int):
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return int(value[0]), int(value[1])
    raise GeometryError(f"{what} must be a whole number or a pair, not {value!r}")


def layer_from_config(kind: str, config: dict[str, Any]) -> Layer:
    """A `Layer` from a Keras layer's class name and `get_config()` dict (read as data, never run)."""
    if kind not in KINDS:
        raise GeometryError(f"layer kind {kind!r} is not one this app can read")
    if config.get("data_format", "channels_last") not in ("channels_last", None):
        raise GeometryError(f"{config.get('name', kind)}: only channels_last data is supported")
    values: dict[str, Any] = {"kind": kind, "name": str(config.get("name") or "")}
    if kind in CONV_KINDS:
        values |= {"filters": int(config["filters"]), "kernel_size": _pair(config["kernel_size"], "kernel_size"),
                   "strides": _pair(config.get("strides", 1), "strides"), "padding": config.get("padding", "valid"),
                   "dilation_rate": _pair(config.get("dilation_rate", 1), "dilation_rate"),
                   "groups": int(config.get("groups", 1)), "use_bias": bool(config.get("use_bias", True))}
    elif kind in POOL_KINDS:
        pool = _pair(config.get("pool_size", 2), "pool_size")
        strides = config.get("strides")
        values |= {"pool_size": pool, "strides": pool if strides is None else _pair(strides, "strides"),
                   "padding": config.get("padding", "valid")}
    elif kind == "Dense":
        values |= {"units": int(config["units"]), "use_bias": bool(config.get("use_bias", True))}
    elif kind == "BatchNormalization":
        axis = config.get("axis", -1)
        if axis not in (-1, 3, [-1], [3]):
            raise GeometryError(f"{values['name'] or kind}: only BatchNormalization over channels is supported")
        values |= {"center": bool(config.get("center", True)), "scale": bool(config.get("scale", True))}
    elif kind in GLOBAL_KINDS:
        values |= {"keepdims": bool(config.get("keepdims", False))}
    elif kind == "Reshape":
        values |= {"target_shape": tuple(int(d) for d in config["target_shape"])}
    return Layer(**values)
