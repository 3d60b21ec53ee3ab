"""Keras layers at inference, in numpy: each layer's output, and the gradient at its input.

A layer is read as plain data, its Keras configuration (`dashboard.network.keras_layers.KerasLayer`),
with its weights as arrays (`dashboard.modelfiles.weights`): every kind an imported chain may hold
(`dashboard.modelfiles.modelfile.LAYER_CLASSES`) and every kind `build_model` makes. `supported`
says whether numpy computes a layer; `forward(layer, x, arrays)` gives its output and
`backward(layer, x, grad, arrays)` the gradient at its input `x` given the gradient at its output
(Grad-CAM runs the head backwards, the channel atlas the body). Conventions are TensorFlow's:
'same' padding puts the odd pixel after, an average pool over padding counts the real cells
only, a max pool's gradient goes to the first largest cell, a global max's is shared among ties.
`tests/unit/test_run_model.py` holds every kind to Keras, forward and backward.

Pure numpy: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dashboard.network.keras_layers import KerasLayer

Arrays = Sequence[np.ndarray]
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
IDENTITY_KINDS = ("Dropout", "SpatialDropout2D")  # nothing at inference
WINDOW_KINDS = ("Conv2D", "MaxPooling2D", "AveragePooling2D")


# --- activations: (output of z, gradient at z given the output's gradient g) ------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^−z), by tanh: no overflow for large |z|."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) without overflow."""
    return np.logaddexp(0.0, z)


def _erf(z: np.ndarray) -> np.ndarray:
    """erf with fractional error below 1.2e-7 (Numerical Recipes' Chebyshev fit of erfc)."""
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.5 * a)
    poly = -a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    return np.sign(z) * (1.0 - t * np.exp(poly))


def _softmax(z: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """Log-probabilities over the last axis."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _mish_grad(z: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The gradient at z of mish(z) = z·tanh(softplus(z)), given g at its output."""
    t = np.tanh(_softplus(z))
    return g * (t + z * (1.0 - t * t) * _sigmoid(z))


Activation = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray, np.ndarray], np.ndarray]]
ACTIVATIONS: dict[str | None, Activation] = {
    None: (lambda z: z, lambda z, g: g),
    "linear": (lambda z: z, lambda z, g: g),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, g: g * (z > 0)),
    "relu6": (lambda z: np.clip(z, 0.0, 6.0), lambda z, g: g * ((z > 0) & (z < 6))),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.2 * z), lambda z, g: g * np.where(z > 0, 1.0, 0.2)),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
            lambda z, g: g * np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0)))),
    "selu": (lambda z: SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0.0))),
             lambda z, g: g * SELU_SCALE * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(z, 0.0)))),
    "sigmoid": (_sigmoid, lambda z, g: g * _sigmoid(z) * (1.0 - _sigmoid(z))),
    "hard_sigmoid": (lambda z: np.clip(z + 3.0, 0.0, 6.0) / 6.0, lambda z, g: g * ((z > -3) & (z < 3)) / 6.0),
    "tanh": (np.tanh, lambda z, g: g * (1.0 - np.tanh(z) ** 2)),
    "softplus": (_softplus, lambda z, g: g * _sigmoid(z)),
    "softsign": (lambda z: z / (1.0 + np.abs(z)), lambda z, g: g / (1.0 + np.abs(z)) ** 2),
    "swish": (lambda z: z * _sigmoid(z), lambda z, g: g * _sigmoid(z) * (1.0 + z * (1.0 - _sigmoid(z)))),
    "gelu": (lambda z: 0.5 * z * (1.0 + _erf(z / math.sqrt(2.0))),
             lambda z, g: g * (0.5 * (1.0 + _erf(z / math.sqrt(2.0))) + z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))),
    "exponential": (np.exp, lambda z, g: g * np.exp(z)),
    "mish": (lambda z: z * np.tanh(_softplus(z)), _mish_grad),
    "softmax": (_softmax, lambda z, g: _softmax(z) * (g - (g * _softmax(z)).sum(axis=-1, keepdims=True))),
    "log_softmax": (_log_softmax, lambda z, g: g - _softmax(z) * g.sum(axis=-1, keepdims=True)),
}
ACTIVATIONS["silu"] = ACTIVATIONS["swish"]


def _activation(layer: KerasLayer) -> Activation:
    """The (function, gradient) of a layer's activation; `KeyError` if numpy has none for it."""
    config = layer.config
    if layer.kind == "ReLU":
        return _relu_layer(float(config.get("negative_slope") or 0.0), config.get("max_value"),
                           float(config.get("threshold") or 0.0))
    if layer.kind == "LeakyReLU":
        slope = float(config.get("negative_slope", config.get("alpha", 0.3)))
        return (lambda z: np.where(z > 0, z, slope * z), lambda z, g: g * np.where(z > 0, 1.0, slope))
    if layer.kind == "ELU":
        alpha = float(config.get("alpha", 1.0))
        return (lambda z: np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0))),
                lambda z, g: g * np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0))))
    if layer.kind == "Softmax":
        return ACTIVATIONS["softmax"]
    return ACTIVATIONS[config.get("activation")]


def _relu_layer(slope: float, max_value: Any, threshold: float) -> Activation:
    """Keras's `ReLU(max_value, negative_slope, threshold)`: x above the threshold (capped), slope·(x − threshold) below."""
    top = math.inf if max_value is None else float(max_value)

    def f(z: np.ndarray) -> np.ndarray:
        return np.clip(np.where(z > threshold, z, 0.0), 0.0, top) - slope * np.maximum(threshold - z, 0.0)

    def df(z: np.ndarray, g: np.ndarray) -> np.ndarray:
        return g * (((z > threshold) & (z > 0) & (z < top)) + slope * (z < threshold))

    return f, df


# --- which layers numpy computes ------------------------------------------------------------


def supported(layer: KerasLayer) -> bool:
    """True if `forward` and `backward` compute this layer as Keras does."""
    config = layer.config
    if config.get("data_format", "channels_last") not in ("channels_last", None):
        return False
    if layer.kind in (*WINDOW_KINDS, *IDENTITY_KINDS, "BatchNormalization", "Flatten", "Reshape", "Rescaling",
                      "GlobalAveragePooling2D", "GlobalMaxPooling2D", "ReLU", "LeakyReLU", "ELU"):
        return layer.kind != "Conv2D" or config.get("activation") in ACTIVATIONS
    if layer.kind in ("Dense", "Activation"):
        return config.get("activation") in ACTIVATIONS
    if layer.kind == "Softmax":
        return config.get("axis", -1) in (-1, [-1])
    return False


# --- windows: convolution and pooling -------------------------------------------------------


def _pair(value: Any) -> tuple[int, int]:
    """A Keras size (an int or a pair) as (rows, cols)."""
    return (int(value), int(value)) if isinstance(value, (int, float)) else (int(value[0]), int(value[1]))


def _pads(size: int, kernel: int, stride: int, dilation: int, padding: str) -> tuple[int, int, int]:
    """(pad before, pad after, output size) along one axis, as TensorFlow pads."""
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        return 0, 0, (size - span) // stride + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2, out


def _window_setup(x_shape: tuple[int, ...], kernel: tuple[int, int], strides: tuple[int, int],
                  dilation: tuple[int, int], padding: str) -> tuple[tuple, tuple[int, int]]:
    """((pad widths for np.pad), (h_out, w_out)) of a sliding window over x (n, h, w, c)."""
    top, bottom, out_h = _pads(x_shape[1], kernel[0], strides[0], dilation[0], padding)
    left, right, out_w = _pads(x_shape[2], kernel[1], strides[1], dilation[1], padding)
    return ((0, 0), (top, bottom), (left, right), (0, 0)), (out_h, out_w)


def _windows(xp: np.ndarray, kernel: tuple[int, int], strides: tuple[int, int], dilation: tuple[int, int],
             out: tuple[int, int]) -> np.ndarray:
    """The windows of a padded x (n, H, W, c) as a view (n, h_out, w_out, c, kh, kw)."""
    span = ((kernel[0] - 1) * dilation[0] + 1, (kernel[1] - 1) * dilation[1] + 1)
    windows = np.lib.stride_tricks.sliding_window_view(xp, span, axis=(1, 2))  # (n, H', W', c, span_h, span_w)
    windows = windows[:, :: strides[0], :: strides[1]][:, : out[0], : out[1]]
    return windows if dilation == (1, 1) else windows[..., :: dilation[0], :: dilation[1]]


def _conv_params(layer: KerasLayer) -> tuple[tuple[int, int], tuple[int, int], str, int]:
    """(strides, dilation, padding, groups) of a Conv2D configuration."""
    c = layer.config
    return _pair(c.get("strides", 1)), _pair(c.get("dilation_rate", 1)), c.get("padding", "valid"), int(c.get("groups", 1))


def conv_response(layer: KerasLayer, x: np.ndarray, arrays: Arrays) -> np.ndarray:
    """A Conv2D layer's response before its activation: x (n, h, w, c_in) → (n, h_out, w_out, filters)."""
    kernel = arrays[0]  # (kh, kw, c_in / groups, filters)
    strides, dilation, padding, groups = _conv_params(layer)
    widths, out = _window_setup(x.shape, kernel.shape[:2], strides, dilation, padding)
    padded = np.pad(x, widths) if any(any(pair) for pair in widths) else x
    windows = _windows(padded, kernel.shape[:2], strides, dilation, out)  # (n, h_out, w_out, c_in, kh, kw)
    per_in, per_out = kernel.shape[2], kernel.shape[3] // groups
    parts = [np.tensordot(windows[:, :, :, g * per_in:(g + 1) * per_in], kernel[..., g * per_out:(g + 1) * per_out],
                          axes=([4, 5, 3], [0, 1, 2])) for g in range(groups)]
    z = parts[0] if groups == 1 else np.concatenate(parts, axis=-1)
    return z + arrays[1] if len(arrays) > 1 else z


def _conv_input_grad(layer: KerasLayer, x_shape: tuple[int, ...], grad: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The gradient at a conv's input (n, h, w, c_in) from the gradient at its response (n, h_out, w_out, f)."""
    strides, dilation, padding, groups = _conv_params(layer)
    widths, (out_h, out_w) = _window_setup(x_shape, kernel.shape[:2], strides, dilation, padding)
    padded = np.zeros((x_shape[0], x_shape[1] + sum(widths[1]), x_shape[2] + sum(widths[2]), x_shape[3]), grad.dtype)
    per_in, per_out = kernel.shape[2], kernel.shape[3] // groups
    for a in range(kernel.shape[0]):
        for b in range(kernel.shape[1]):
            rows = slice(a * dilation[0], a * dilation[0] + strides[0] * (out_h - 1) + 1, strides[0])
            cols = slice(b * dilation[1], b * dilation[1] + strides[1] * (out_w - 1) + 1, strides[1])
            for g in range(groups):  # (n, h_out, w_out, f/groups) @ (f/groups, c_in/groups)
                padded[:, rows, cols, g * per_in:(g + 1) * per_in] += (
                    grad[..., g * per_out:(g + 1) * per_out] @ kernel[a, b, :, g * per_out:(g + 1) * per_out].T)
    (top, _), (left, _) = widths[1], widths[2]
    return padded[:, top:top + x_shape[1], left:left + x_shape[2]]


def _pool_params(layer: KerasLayer) -> tuple[tuple[int, int], tuple[int, int], str]:
    """(pool size, strides, padding) of a pooling configuration (strides None: the pool size)."""
    c = layer.config
    size = _pair(c.get("pool_size", 2))
    strides = c.get("strides")
    return size, size if strides is None else _pair(strides), c.get("padding", "valid")


def _pool_windows(layer: KerasLayer, x: np.ndarray) -> tuple[np.ndarray, tuple, np.ndarray | None]:
    """(windows (n, h_out, w_out, c, ph, pw), pad widths, cells counted per output (h_out, w_out) or None)."""
    size, strides, padding = _pool_params(layer)
    widths, out = _window_setup(x.shape, size, strides, (1, 1), padding)
    fill = -np.inf if layer.kind == "MaxPooling2D" else 0.0
    windows = _windows(np.pad(x, widths, constant_values=fill), size, strides, (1, 1), out)
    counts = None
    if layer.kind == "AveragePooling2D":
        ones = np.pad(np.ones((1, *x.shape[1:3], 1), x.dtype), widths)
        counts = _windows(ones, size, strides, (1, 1), out).sum(axis=(3, 4, 5))[0]  # real cells under each window
    return windows, widths, counts


def _pool(layer: KerasLayer, x: np.ndarray) -> np.ndarray:
    """A max or average pool of x (n, h, w, c)."""
    size, strides, padding = _pool_params(layer)
    if padding == "valid" and size == strides:  # tiles: a reshape, no window view (the app's 2×2 pools)
        n, h, w, c = x.shape
        (ph, pw), (out_h, out_w) = size, (h // size[0], w // size[1])
        blocks = x[:, : out_h * ph, : out_w * pw].reshape(n, out_h, ph, out_w, pw, c)
        return blocks.max(axis=(2, 4)) if layer.kind == "MaxPooling2D" else blocks.mean(axis=(2, 4))
    windows, _, counts = _pool_windows(layer, x)
    if counts is None:
        return windows.max(axis=(4, 5))
    return windows.sum(axis=(4, 5)) / counts[None, :, :, None]


def _pool_grad(layer: KerasLayer, x: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """The gradient at a pool's input x (n, h, w, c) from `grad` at its output (n, h_out, w_out, c)."""
    size, strides, padding = _pool_params(layer)
    if padding == "valid" and size == strides:  # tiles: each cell in one window at most
        n, h, w, c = x.shape
        (ph, pw), (out_h, out_w) = size, grad.shape[1:3]
        blocks = x[:, : out_h * ph, : out_w * pw].reshape(n, out_h, ph, out_w, pw, c).transpose(0, 1, 3, 5, 2, 4)
        blocks = blocks.reshape(n, out_h, out_w, c, ph * pw)  # the cells of each window
        if layer.kind == "MaxPooling2D":  # all of it to the first largest cell, as TensorFlow routes it
            share = np.eye(ph * pw, dtype=grad.dtype)[blocks.argmax(axis=-1)]
        else:
            share = np.full(blocks.shape, 1.0 / (ph * pw), dtype=grad.dtype)
        spread = (share * grad[..., None]).reshape(n, out_h, out_w, c, ph, pw).transpose(0, 1, 4, 2, 5, 3)
        out = np.zeros(x.shape, dtype=grad.dtype)
        out[:, : out_h * ph, : out_w * pw] = spread.reshape(n, out_h * ph, out_w * pw, c)
        return out
    windows, widths, counts = _pool_windows(layer, x)
    n, out_h, out_w, c = grad.shape
    if counts is None:  # all of it to the first largest cell, as TensorFlow routes it
        first = windows.reshape(n, out_h, out_w, c, -1).argmax(axis=-1)  # (n, h_out, w_out, c)
        shares = [grad * (first == cell) for cell in range(size[0] * size[1])]
    else:  # each real cell under the window gets an equal part
        shares = [grad / counts[None, :, :, None]] * (size[0] * size[1])
    padded = np.zeros((n, x.shape[1] + sum(widths[1]), x.shape[2] + sum(widths[2]), c), grad.dtype)
    for a in range(size[0]):
        for b in range(size[1]):
            rows = slice(a, a + strides[0] * (out_h - 1) + 1, strides[0])
            cols = slice(b, b + strides[1] * (out_w - 1) + 1, strides[1])
            padded[:, rows, cols] += shares[a * size[1] + b]
    (top, _), (left, _) = widths[1], widths[2]
    return padded[:, top:top + x.shape[1], left:left + x.shape[2]]


# --- one layer forward and backward -----------------------------------------------------------


def _batch_norm_terms(layer: KerasLayer, arrays: Arrays) -> tuple[np.ndarray, np.ndarray]:
    """(multiplier, shift) per channel of a BatchNormalization at inference: y = x·multiplier + shift."""
    arrays = list(arrays)  # [γ if scale] [β if center] moving mean, moving variance
    gamma = arrays.pop(0) if layer.config.get("scale", True) else 1.0
    beta = arrays.pop(0) if layer.config.get("center", True) else 0.0
    mean, variance = arrays
    multiplier = gamma / np.sqrt(variance + float(layer.config.get("epsilon", 1e-3)))
    return multiplier, beta - mean * multiplier


def _rescaling(layer: KerasLayer) -> tuple[np.ndarray, np.ndarray]:
    """(scale, offset) of a Rescaling configuration: y = x·scale + offset."""
    c = layer.config
    return np.asarray(c.get("scale", 1.0), np.float32), np.asarray(c.get("offset", 0.0), np.float32)


def pre_activation(layer: KerasLayer, x: np.ndarray, arrays: Arrays) -> np.ndarray:
    """What a layer computes before its activation (its output, for layers without one)."""
    kind = layer.kind
    if kind == "Conv2D":
        return conv_response(layer, x, arrays)
    if kind == "Dense":
        z = x @ arrays[0]  # on the last axis, as Keras applies Dense to any rank
        return z + arrays[1] if len(arrays) > 1 else z
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return _pool(layer, x)
    if kind == "BatchNormalization":
        multiplier, shift = _batch_norm_terms(layer, arrays)
        return x * multiplier + shift
    if kind == "Rescaling":
        scale, offset = _rescaling(layer)
        return x * scale + offset
    if kind == "Flatten":
        return x.reshape(len(x), -1)  # row-major over (h, w, c): Keras's channels-last order
    if kind == "Reshape":
        return x.reshape(len(x), *[int(d) for d in layer.config["target_shape"]])
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        keep = bool(layer.config.get("keepdims", False))
        return x.mean(axis=(1, 2), keepdims=keep) if kind == "GlobalAveragePooling2D" else x.max(axis=(1, 2), keepdims=keep)
    return x  # Dropout, SpatialDropout2D, and the activation layers (their function follows)


def has_activation(layer: KerasLayer) -> bool:
    """True for a layer whose output is an activation of what `pre_activation` computes."""
    return layer.kind in ("Conv2D", "Dense", "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax")


def activate(layer: KerasLayer, z: np.ndarray) -> np.ndarray:
    """The layer's activation of what `pre_activation` computed (z itself for a layer without one)."""
    return _activation(layer)[0](z) if has_activation(layer) else z


def forward(layer: KerasLayer, x: np.ndarray, arrays: Arrays) -> np.ndarray:
    """The layer's output at inference for a batch x (n, …), float32."""
    return np.asarray(activate(layer, pre_activation(layer, x, arrays)), dtype=np.float32)


def backward(layer: KerasLayer, x: np.ndarray, grad: np.ndarray, arrays: Arrays, z: np.ndarray | None = None) -> np.ndarray:
    """The gradient at the layer's input x (n, …) given `grad` at its output (same shape as the output);
    `z` is the layer's `pre_activation(x)` when the caller kept it (else it is computed again)."""
    kind = layer.kind
    if has_activation(layer):
        grad = _activation(layer)[1](pre_activation(layer, x, arrays) if z is None else z, grad)
    if kind == "Conv2D":
        return _conv_input_grad(layer, x.shape, grad, arrays[0])
    if kind == "Dense":
        return grad @ arrays[0].T
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return _pool_grad(layer, x, grad)
    if kind == "BatchNormalization":
        return grad * _batch_norm_terms(layer, arrays)[0]
    if kind == "Rescaling":
        return np.broadcast_to(grad * _rescaling(layer)[0], x.shape)
    if kind in ("Flatten", "Reshape"):
        return grad.reshape(x.shape)
    if kind == "GlobalAveragePooling2D":
        n, h, w, c = x.shape
        return np.broadcast_to(grad.reshape(n, 1, 1, c) / (h * w), x.shape)
    if kind == "GlobalMaxPooling2D":  # shared among ties, as TensorFlow's reduce_max shares it
        top = x == x.max(axis=(1, 2), keepdims=True)
        return top * grad.reshape(len(x), 1, 1, -1) / top.sum(axis=(1, 2), keepdims=True)
    return grad  # Dropout, SpatialDropout2D, activation layers (their gradient applied above)
