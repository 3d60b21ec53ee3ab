"""Feature maps as numbers ready to draw: tiling, kernels, strongest channels, one reading.

A layer's activations for one digit are (h, w, c): c small maps. Drawing c plotly subplots is
slow, so `tile` lays all channels out in ONE 2-D image (a grid with a 1-pixel NaN gap between
maps, which plotly leaves blank), and `tile_channels` says which channel each pixel belongs to,
for hover text. Everything here returns arrays and draws nothing. Pure numpy: `read_digit`
calls the Keras model it is given but imports neither Keras nor Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SEPARATOR = 1  # pixels of NaN between tiles


def default_columns(channels: int) -> int:
    """A pleasant grid width: 8 columns for 32 or 64 channels, fewer for few, more for many."""
    if channels <= 4:
        return channels
    if channels <= 16:
        return 4
    if channels <= 64:
        return 8
    return 16


def grid_shape(channels: int, columns: int) -> tuple[int, int]:
    """(rows, columns) of the grid holding `channels` tiles, `columns` per row at most."""
    if channels < 1 or columns < 1:
        raise ValueError(f"need at least one channel and one column, got {channels} and {columns}")
    columns = min(columns, channels)
    return math.ceil(channels / columns), columns


def tiled_shape(h: int, w: int, channels: int, columns: int, sep: int = SEPARATOR) -> tuple[int, int]:
    """Height and width of the tiled image of `channels` maps of h×w."""
    rows, cols = grid_shape(channels, columns)
    return rows * h + (rows - 1) * sep, cols * w + (cols - 1) * sep


def tile_origin(channel: int, h: int, w: int, columns: int, sep: int = SEPARATOR) -> tuple[int, int]:
    """(row, col) in the tiled image of the top-left pixel of `channel`'s map."""
    grid_row, grid_col = divmod(channel, columns)
    return grid_row * (h + sep), grid_col * (w + sep)


def tile(
    maps: np.ndarray, columns: int | None = None, sep: int = SEPARATOR, normalize: str | None = "channel"
) -> np.ndarray:
    """Activations (h, w, c) → one float32 image of all c maps in a grid, NaN between and after.

    `normalize`: "channel" scales each map by its own maximum (so a weak but sharp feature is as
    visible as a strong one; an all-zero map stays 0), "layer" by the layer's maximum, None
    leaves the values as they are.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"expected activations (h, w, c), got shape {maps.shape}")
    h, w, c = maps.shape
    columns = default_columns(c) if columns is None else columns
    rows, cols = grid_shape(c, columns)
    if normalize == "channel":
        peak = np.abs(maps).max(axis=(0, 1))  # (c,)
        maps = maps / np.where(peak > 0, peak, 1.0)
    elif normalize == "layer":
        peak = float(np.abs(maps).max())
        maps = maps / (peak if peak > 0 else 1.0)
    elif normalize is not None:
        raise ValueError(f"normalize must be 'channel', 'layer' or None, not {normalize!r}")
    # Pad the channel axis to a full grid, then lay (rows, cols, h, w) out row-major with gaps.
    padded = np.full((h + sep, w + sep, rows * cols), np.nan, dtype=np.float32)
    padded[:h, :w, :c] = maps
    grid = padded.reshape(h + sep, w + sep, rows, cols).transpose(2, 0, 3, 1)  # (rows, h+sep, cols, w+sep)
    out = grid.reshape(rows * (h + sep), cols * (w + sep))
    return out[: rows * (h + sep) - sep, : cols * (w + sep) - sep]


def tile_channels(h: int, w: int, channels: int, columns: int, sep: int = SEPARATOR) -> np.ndarray:
    """An int16 array the shape of the tiled image: each pixel's channel number, -1 on gaps."""
    index = np.broadcast_to(np.arange(channels, dtype=np.float32), (h, w, channels))
    tiled = tile(index, columns, sep, normalize=None)
    return np.where(np.isnan(tiled), -1, tiled).astype(np.int16)  # small in the chart's JSON


def tile_kernels(weights: np.ndarray, columns: int | None = None, sep: int = SEPARATOR) -> np.ndarray:
    """First-layer Conv2D weights (kh, kw, 1, filters) → one image of all kernels (signed, unscaled)."""
    weights = np.asarray(weights, dtype=np.float32)
    if weights.ndim != 4:
        raise ValueError(f"expected Conv2D weights (kh, kw, in, out), got shape {weights.shape}")
    # A first layer has one input channel; for more, show what each filter does on average.
    kernels = weights.mean(axis=2) if weights.shape[2] > 1 else weights[:, :, 0, :]
    return tile(kernels, columns, sep, normalize=None)


def strongest_channels(maps: np.ndarray, row: int, col: int, k: int = 8) -> list[tuple[int, float]]:
    """The k channels (index, activation) most active at position (row, col) of maps (h, w, c), strongest first."""
    maps = np.asarray(maps)
    h, w, c = maps.shape
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"position ({row}, {col}) is outside the {h}×{w} map")
    values = maps[row, col, :]
    order = np.argsort(-values, kind="stable")[: max(0, min(k, c))]
    return [(int(i), float(values[i])) for i in order]


def channel_maps(maps: np.ndarray, channels: Sequence[int]) -> np.ndarray:
    """The maps (h, w, len(channels)) of the chosen channels, in that order."""
    return np.asarray(maps)[:, :, list(channels)]


@dataclass(frozen=True)
class LayerMaps:
    """One conv or pooling layer's output for one digit."""

    name: str  # "conv2d"
    kind: str  # "Conv2D" or "MaxPooling2D"
    maps: np.ndarray  # (h, w, c) float32

    @property
    def shape(self) -> tuple[None, int, int, int]:
        """The output shape as Keras prints it, e.g. (None, 26, 26, 32)."""
        h, w, c = self.maps.shape
        return (None, h, w, c)

    @property
    def label(self) -> str:
        """'conv2d (Conv2D) · (None, 26, 26, 32)'."""
        return f"{self.name} ({self.kind}) · {self.shape}"


@dataclass(frozen=True)
class Reading:
    """What a network makes of one digit: class probabilities and every layer's maps."""

    image: np.ndarray  # (28, 28) float32 in [0, 1], what the network saw
    probabilities: np.ndarray  # (10,) float32
    layers: tuple[LayerMaps, ...]

    @property
    def predicted(self) -> int:
        """The most probable digit."""
        return int(np.argmax(self.probabilities))

    @property
    def confidence(self) -> float:
        """Probability of the predicted digit."""
        return float(self.probabilities[self.predicted])

    def last_conv(self) -> LayerMaps:
        """The last Conv2D layer's maps (the book network's (None, 3, 3, 64))."""
        return [layer for layer in self.layers if layer.kind == "Conv2D"][-1]


def reading_from_outputs(
    image: np.ndarray, names: Sequence[str], kinds: Sequence[str], maps: Sequence[np.ndarray], probs: np.ndarray
) -> Reading:
    """Package `forward_all`'s output for a batch of one: maps [(1, h, w, c)…], probs (1, 10)."""
    if not (len(names) == len(kinds) == len(maps)):
        raise ValueError(f"{len(names)} names, {len(kinds)} kinds and {len(maps)} maps do not match")
    layers = tuple(
        LayerMaps(name, kind, np.asarray(m[0], dtype=np.float32)) for name, kind, m in zip(names, kinds, maps)
    )
    return Reading(np.asarray(image, dtype=np.float32), np.asarray(probs[0], dtype=np.float32), layers)


def read_digit(act_model: Any, names: Sequence[str], kinds: Sequence[str], image: np.ndarray) -> Reading:
    """One forward pass of a (28, 28) image through `activation_model(...)` → its `Reading`.

    `forward_all` runs the compiled graph: ~2 ms for the book network once traced.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.shape != (28, 28):
        raise ValueError(f"expected a (28, 28) image, got shape {image.shape}")
    from dashboard.model import forward_all  # Keras loads only when a digit is read

    maps, probs = forward_all(act_model, image[None, :, :, None])  # [(1, h, w, c)…], (1, 10)
    return reading_from_outputs(image, names, kinds, maps, probs)
