"""A convolution step by step, for the animation: where the kernel sits and what it writes.

`convolve_channel` recomputes one output channel of a Conv2D layer from the layer's input with
numpy (the sum over the k×k×c_in window, plus the bias, then ReLU), so each step's number can
be shown and checked against Keras. `steps` lists the frames: one per output position, or one
per output row when the map is large (a 26×26 map would be 676 frames).

Pure numpy: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_POSITION_FRAMES = 196  # up to a 14×14 map, one frame per position; beyond, one per row


def padded(inputs: np.ndarray, kernel: int, stride: int, padding: str) -> tuple[np.ndarray, int, int]:
    """Inputs (..., h, w, c) padded as TensorFlow pads them, and the output's height and width."""
    h, w, _ = inputs.shape[-3:]
    if padding == "valid":
        return inputs, (h - kernel) // stride + 1, (w - kernel) // stride + 1
    out_h, out_w = -(-h // stride), -(-w // stride)
    pad_h = max((out_h - 1) * stride + kernel - h, 0)
    pad_w = max((out_w - 1) * stride + kernel - w, 0)
    widths = ((0, 0),) * (inputs.ndim - 3) + ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0))
    return np.pad(inputs, widths), out_h, out_w


def convolve_channel(
    inputs: np.ndarray, weights: np.ndarray, bias: float, stride: int = 1, padding: str = "valid"
) -> tuple[np.ndarray, np.ndarray]:
    """One output channel: inputs (h, w, c_in), weights (k, k, c_in) → (before ReLU, after ReLU), each (h_out, w_out)."""
    inputs = np.asarray(inputs, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    k = weights.shape[0]
    padded_inputs, out_h, out_w = padded(inputs, k, stride, padding)
    windows = np.lib.stride_tricks.sliding_window_view(padded_inputs, (k, k), axis=(0, 1))  # (H', W', c_in, k, k)
    windows = windows[::stride, ::stride][:out_h, :out_w]
    z = np.einsum("hwcij,ijc->hw", windows, weights) + float(bias)
    return z.astype(np.float32), np.maximum(z, 0.0).astype(np.float32)


@dataclass(frozen=True)
class Step:
    """One frame: the kernel's box on the (unpadded) input, and how many outputs are written."""

    top: int  # input rows top..bottom, columns left..right (inclusive; may reach into the padding)
    left: int
    bottom: int
    right: int
    written: int  # outputs 0..written-1 (row-major) are known after this frame
    position: tuple[int, int] | None  # the output just written; None for a whole-row frame


def steps(out_h: int, out_w: int, kernel: int, stride: int = 1, pad_top: int = 0, pad_left: int = 0) -> list[Step]:
    """Frames of the kernel sliding over the input, row by row."""
    by_position = out_h * out_w <= MAX_POSITION_FRAMES
    frames = []
    for r in range(out_h):
        top = r * stride - pad_top
        if by_position:
            for c in range(out_w):
                left = c * stride - pad_left
                frames.append(Step(top, left, top + kernel - 1, left + kernel - 1, r * out_w + c + 1, (r, c)))
        else:
            last = (out_w - 1) * stride - pad_left
            frames.append(Step(top, -pad_left, top + kernel - 1, last + kernel - 1, (r + 1) * out_w, None))
    return frames


def pad_before(size: int, kernel: int, stride: int, padding: str) -> int:
    """Rows (or columns) of zeros TensorFlow adds before the input for this padding."""
    if padding == "valid":
        return 0
    out = -(-size // stride)
    return max((out - 1) * stride + kernel - size, 0) // 2


def shown_input_channel(weights: np.ndarray) -> int:
    """The input channel whose k×k weights are largest (L2) for this filter: the one to draw."""
    weights = np.asarray(weights)
    return int(np.argmax(np.sqrt((weights**2).sum(axis=(0, 1)))))
