"""Figures of the channel atlas: every channel's top windows and preferred pattern, and one channel on a digit.

Pure functions from arrays to plotly figures. All channels of a layer are ONE figure: the
windows (a 3×3 mosaic per channel) and the patterns are each tiled into one picture, sent as a
PNG (`go.Image`: the book network's last layer is ~0.26 MB of PNG where heatmaps of its numbers
were 2.8 MB of JSON, sent again at every view), and one scatter trace of invisible square
markers, one per channel, names the channel under the pointer and makes it selectable by a
click (plotly cannot select image pixels or heatmap cells).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from dashboard.charts import tiles
from dashboard.network.spec import INPUT_SIZE, LayerGeometry

HIGHLIGHT = "#E03131"
RING_COLORS = ("#E03131", "#F59F00", "#1098AD")  # strongest, second, third position
RING_NAMES = ("red", "amber", "teal")  # the same colours in words, for the text beside the chart
OVERLAY_COLORSCALE = [
    [0.0, "rgba(255, 145, 0, 0)"],
    [0.3, "rgba(255, 145, 0, 0.35)"],
    [1.0, "rgba(255, 60, 0, 0.85)"],
]
_BARE = dict(template="none", margin=dict(l=10, r=10, t=50, b=10))
GAP = 2  # pixels between channels


def _stretch(patterns: np.ndarray) -> np.ndarray:
    """Each pattern's departure from grey stretched to the full 0–1 range (grey stays 0.5)."""
    centred = np.asarray(patterns, dtype=np.float32) - 0.5
    peak = np.abs(centred).max(axis=(1, 2), keepdims=True)
    return 0.5 + 0.5 * centred / np.where(peak > 0, peak, 1.0)


def png_source(picture: np.ndarray) -> str:
    """A (h, w) picture in [0, 1] with NaN gaps as a PNG data URI: grey levels, the gaps transparent."""
    grey = np.round(np.clip(np.nan_to_num(picture, nan=0.0), 0.0, 1.0) * 255).astype(np.uint8)
    alpha = np.where(np.isnan(picture), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    # (h, w, 2) uint8, grey + alpha; zlib level 1: 15 ms for the book atlas where level 6 took 38, 20% larger
    Image.fromarray(np.stack([grey, alpha], axis=-1)).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def mosaics(crops: np.ndarray) -> np.ndarray:
    """Crops (c, k, rf, rf) → one mosaic per channel (c, H, W), k crops in a square-ish grid, NaN gaps."""
    c, k, rf, _ = crops.shape
    side = int(np.ceil(np.sqrt(k)))
    return np.stack([tiles.tile(crops[i], side, gap=1) for i in range(c)])


def channel_columns(channels: int) -> int:
    """Channels per row of the atlas: 8 for 32 or 64 channels."""
    return tiles.default_columns(channels)


def _selectable(h: int, w: int, channels: int, columns: int, x_offset: float, axes: tuple[str, str], size: float):
    """Invisible square markers, one per channel at its tile's centre, carrying the channel number."""
    origins = np.array([tiles.tile_origin(c, h, w, columns, GAP) for c in range(channels)], dtype=float)
    return go.Scatter(
        x=origins[:, 1] + (w - 1) / 2 + x_offset,
        y=origins[:, 0] + (h - 1) / 2,
        xaxis=axes[0],
        yaxis=axes[1],
        mode="markers",
        marker=dict(symbol="square", size=size, color="rgba(255, 255, 255, 0.01)", line=dict(width=0)),
        customdata=np.arange(channels),
        hovertemplate="channel %{customdata}: click to see it on your digit<extra></extra>",
        unselected=dict(marker=dict(opacity=1)),
        selected=dict(marker=dict(opacity=1)),
        showlegend=False,
    )


def channel_numbers(channels: int, h: int, w: int, columns: int, axes: tuple[str, str] = ("x", "y")) -> list[dict]:
    """One annotation per channel: its number in the top-left corner of its tile, white on dark."""
    labels = []
    for channel in range(channels):
        top, left = tiles.tile_origin(channel, h, w, columns, GAP)
        labels.append(dict(text=str(channel), x=left - 0.5, y=top - 0.5, xref=axes[0], yref=axes[1],
                           xanchor="left", yanchor="top", showarrow=False, font=dict(size=10, color="#FFFFFF"),
                           bgcolor="rgba(0, 0, 0, 0.7)", borderpad=1))
    return labels


def atlas_chart(
    crops: np.ndarray, patterns: np.ndarray, title: str, selected: int | None = None, width: int = 940
) -> go.Figure:
    """Left: each channel's top windows (crops (c, k, rf, rf)); right: its pattern (c, 28, 28).

    Both sides lay channels out in the same grid, so channel i sits at the same place in each; each
    top-windows tile carries its channel's number; `selected` is framed in red. `width` is about the pixels the chart gets.
    """
    c = crops.shape[0]
    columns = channel_columns(c)
    mosaic = mosaics(crops)  # (c, H, W)
    th, tw = mosaic.shape[1:]
    left = tiles.tile(mosaic, columns, gap=GAP)
    right = tiles.tile(_stretch(patterns), columns, gap=GAP)
    # Both images keep square pixels inside their share of the width: the taller one sets the height.
    drawn = max(0.53 * width * left.shape[0] / left.shape[1], 0.44 * width * right.shape[0] / right.shape[1])
    height = int(np.clip(70 + drawn, 220, 1100))
    scale_left = min(0.5 * width / left.shape[1], (height - 60) / left.shape[0])  # screen px per pixel
    scale_right = min(0.45 * width / right.shape[1], (height - 60) / right.shape[0])
    traces = [  # pixel (i, j) centred on (x, y) = (j, i), as a heatmap's cells: the markers and frames line up
        go.Image(source=png_source(left), xaxis="x", yaxis="y", hoverinfo="skip"),
        go.Image(source=png_source(right), xaxis="x2", yaxis="y2", hoverinfo="skip"),
        _selectable(th, tw, c, columns, 0.0, ("x", "y"), 0.9 * th * scale_left),
        _selectable(INPUT_SIZE, INPUT_SIZE, c, columns, 0.0, ("x2", "y2"), 0.9 * INPUT_SIZE * scale_right),
    ]
    shapes = []
    if selected is not None and 0 <= selected < c:
        for (h, w), (xa, ya) in (((th, tw), ("x", "y")), ((INPUT_SIZE, INPUT_SIZE), ("x2", "y2"))):
            top, lft = tiles.tile_origin(selected, h, w, columns, GAP)
            shapes.append(dict(type="rect", xref=xa, yref=ya, x0=lft - 1.5, x1=lft + w + 0.5, y0=top - 1.5,
                               y1=top + h + 0.5, line=dict(color=HIGHLIGHT, width=3)))
    image_axis = dict(visible=False, constrain="domain")
    layout = dict(
        title=dict(x=0, xanchor="left", text=title),
        height=height,
        **_BARE,
        showlegend=False,
        shapes=shapes,
        clickmode="event+select",
        dragmode=False,
        xaxis=dict(domain=[0.0, 0.53], **image_axis),
        yaxis=dict(autorange="reversed", scaleanchor="x", **image_axis),
        xaxis2=dict(domain=[0.56, 1.0], **image_axis),
        yaxis2=dict(autorange="reversed", scaleanchor="x2", **image_axis),
        annotations=[
            dict(text=f"top {crops.shape[1]} windows of the test images", x=0.0, xanchor="left", xref="paper",
                 y=1.0, yref="paper", yanchor="bottom", showarrow=False),
            dict(text="preferred pattern (gradient ascent from grey)", x=0.56, xanchor="left", xref="paper",
                 y=1.0, yref="paper", yanchor="bottom", showarrow=False),
            *channel_numbers(c, th, tw, columns),
        ],
    )
    return go.Figure(data=traces, layout=layout)


def channel_on_digit_chart(
    image: np.ndarray,
    overlay: np.ndarray,
    windows: Sequence[tuple[int, int, int, int]],
    title: str,
    peak: float | None = None,
) -> go.Figure:
    """The digit in grey, the channel's map over it (orange, transparent where it is 0) and the
    receptive fields (top, left, bottom, right) of its strongest positions as coloured boxes."""
    overlay = np.asarray(overlay, dtype=np.float32)
    top = float(peak if peak is not None else overlay.max())
    traces = [
        go.Heatmap(z=np.asarray(image), colorscale="gray", zmin=0.0, zmax=1.0, showscale=False,
                   hovertemplate="row %{y}, col %{x}<extra></extra>"),
        go.Heatmap(z=overlay, colorscale=OVERLAY_COLORSCALE, zmin=0.0, zmax=top if top > 0 else 1.0,
                   showscale=True, colorbar=dict(thickness=10, len=0.8, title=dict(text="activation")),
                   hovertemplate="activation %{z:.2f}<extra></extra>"),
    ]
    shapes = [
        dict(type="rect", x0=lft - 0.5, x1=rgt + 0.5, y0=tp - 0.5, y1=btm + 0.5,
             line=dict(color=RING_COLORS[i % len(RING_COLORS)], width=3 if i == 0 else 2))
        for i, (tp, lft, btm, rgt) in enumerate(windows)
    ]
    layout = dict(
        title=dict(x=0, xanchor="left", text=title),
        height=400,
        **_BARE,
        shapes=shapes,
        xaxis=dict(visible=False, constrain="domain", range=[-0.5, INPUT_SIZE - 0.5]),
        yaxis=dict(visible=False, scaleanchor="x", constrain="domain", range=[INPUT_SIZE - 0.5, -0.5]),
    )
    return go.Figure(data=traces, layout=layout)


def window_boxes(geo: LayerGeometry, positions: Sequence[tuple[int, int, float]]) -> list[tuple[int, int, int, int]]:
    """Clipped input windows (top, left, bottom, right) of the given (row, col, value) positions."""
    return [geo.window(row, col) for row, col, _ in positions]


def position_markers(geo: LayerGeometry, pixel: float = 10.0) -> go.Scatter:
    """One selectable square per position of `geo`'s map, at the centre of its window on the input.

    `customdata` is [row, col]; `pixel` is about the screen pixels per input pixel of the chart.
    """
    size = geo.size or 1
    rows, cols = np.divmod(np.arange(size * size), size)
    jump = float(geo.jump or 1)
    return go.Scatter(
        x=geo.start + cols * jump,
        y=geo.start + rows * jump,
        mode="markers",
        marker=dict(symbol="square", size=max(6.0, 0.8 * jump * pixel), color="rgba(76, 110, 245, 0.18)",
                    line=dict(color="rgba(76, 110, 245, 0.8)", width=1)),
        customdata=np.stack([rows, cols], axis=1),
        hovertemplate="position (%{customdata[0]}, %{customdata[1]}): click to pick it<extra></extra>",
        unselected=dict(marker=dict(opacity=1)),
        selected=dict(marker=dict(opacity=1)),
        showlegend=False,
    )
