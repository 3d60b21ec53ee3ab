"""The one image tiler: many small images laid out in a grid as ONE 2-D array, NaN in the gaps.

Drawing c plotly subplots (or c heatmaps) is slow, so every chart of many images (a layer's
feature maps, kernels, a channel's top windows, digit thumbnails, misclassified digits) tiles
them into one array and draws ONE heatmap; plotly leaves NaN cells blank. `tile_index` says
which image each pixel belongs to (for hover text), `tile_origin` where an image starts (for
marks and click targets). Pure numpy: no plotly, Keras or Streamlit.
"""

from __future__ import annotations

import math

import numpy as np

SEPARATOR = 1  # pixels of NaN between tiles, unless told otherwise


def default_columns(count: int) -> int:
    """A pleasant grid width: 8 columns for 32 or 64 images, fewer for few, more for many."""
    if count <= 4:
        return max(count, 1)
    if count <= 16:
        return 4
    if count <= 64:
        return 8
    return 16


def grid_shape(count: int, columns: int) -> tuple[int, int]:
    """(rows, columns) of the grid holding `count` tiles, `columns` per row at most."""
    if count < 1 or columns < 1:
        raise ValueError(f"need at least one image and one column, got {count} and {columns}")
    columns = min(columns, count)
    return math.ceil(count / columns), columns


def tiled_shape(h: int, w: int, count: int, columns: int, gap: int = SEPARATOR) -> tuple[int, int]:
    """Height and width of the tiled image of `count` images of h×w."""
    rows, cols = grid_shape(count, columns)
    return rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap


def tile_origin(index: int, h: int, w: int, columns: int, gap: int = SEPARATOR) -> tuple[int, int]:
    """(row, col) in the tiled image of the top-left pixel of image `index`."""
    grid_row, grid_col = divmod(index, columns)
    return grid_row * (h + gap), grid_col * (w + gap)


def tile(images: np.ndarray, columns: int | None = None, gap: int = SEPARATOR) -> np.ndarray:
    """Images (n, h, w) → one float32 array of them row by row, NaN between tiles and after the last.

    No images give one empty (all-NaN) tile, so a chart of "none" still has a shape.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3:
        raise ValueError(f"expected images (n, h, w), got shape {images.shape}")
    n, h, w = images.shape
    if n == 0:
        return np.full((h, w), np.nan, dtype=np.float32)
    rows, cols = grid_shape(n, default_columns(n) if columns is None else columns)
    # Pad to a full grid of (h+gap)×(w+gap) cells, lay (rows, h+gap, cols, w+gap) out, drop the last gap.
    padded = np.full((rows * cols, h + gap, w + gap), np.nan, dtype=np.float32)
    padded[:n, :h, :w] = images
    grid = padded.reshape(rows, cols, h + gap, w + gap).transpose(0, 2, 1, 3)
    out = grid.reshape(rows * (h + gap), cols * (w + gap))
    return out[: rows * (h + gap) - gap, : cols * (w + gap) - gap]


def with_band(images: np.ndarray, band: int) -> np.ndarray:
    """Images (n, h, w) → (n, h + band, w) float32 with `band` rows of NaN under each, for a caption."""
    images = np.asarray(images, dtype=np.float32)
    cells = np.full((len(images), images.shape[1] + band, images.shape[2]), np.nan, dtype=np.float32)
    cells[:, : images.shape[1]] = images
    return cells


def tile_maps(
    maps: np.ndarray, columns: int | None = None, gap: int = SEPARATOR, normalize: str | None = "channel"
) -> np.ndarray:
    """Activations (h, w, c) → one image of the c maps in a grid (see `tile`).

    `normalize`: "channel" scales each map by its own maximum (a weak but sharp feature is as
    visible as a strong one; an all-zero map stays 0), "layer" by the layer's maximum, None
    leaves the values as they are.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"expected activations (h, w, c), got shape {maps.shape}")
    if normalize == "channel":
        peak = np.abs(maps).max(axis=(0, 1))  # (c,)
        maps = maps / np.where(peak > 0, peak, 1.0)
    elif normalize == "layer":
        peak = float(np.abs(maps).max())
        maps = maps / (peak if peak > 0 else 1.0)
    elif normalize is not None:
        raise ValueError(f"normalize must be 'channel', 'layer' or None, not {normalize!r}")
    return tile(maps.transpose(2, 0, 1), columns, gap)


def tile_index(h: int, w: int, count: int, columns: int, gap: int = SEPARATOR) -> np.ndarray:
    """An int16 array the shape of the tiled image: each pixel's image number, -1 on gaps."""
    index = np.broadcast_to(np.arange(count, dtype=np.float32)[:, None, None], (count, h, w))
    tiled = tile(index, columns, gap)
    return np.where(np.isnan(tiled), -1, tiled).astype(np.int16)  # small in a chart's JSON


def tile_kernels(weights: np.ndarray, columns: int | None = None, gap: int = SEPARATOR) -> np.ndarray:
    """First-layer Conv2D weights (kh, kw, in, filters) → one image of all kernels (signed, unscaled)."""
    weights = np.asarray(weights, dtype=np.float32)
    if weights.ndim != 4:
        raise ValueError(f"expected Conv2D weights (kh, kw, in, out), got shape {weights.shape}")
    # A first layer has one input channel; for more, show what each filter does on average.
    kernels = weights.mean(axis=2) if weights.shape[2] > 1 else weights[:, :, 0, :]
    return tile_maps(kernels, columns, gap, normalize=None)
