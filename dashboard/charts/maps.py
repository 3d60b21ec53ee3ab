"""Figures of one digit going through a network: probabilities, feature maps, kernels, receptive field.

Each function takes numbers or arrays and returns a plotly figure. A layer's channels arrive
already tiled into one 2-D image (`dashboard.charts.tiles`), drawn as ONE heatmap: one trace per
layer keeps figures small and fast, where one subplot per channel would be slow.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from dashboard.charts import OKABE_ITO, tiles
from dashboard.charts.tiles import tile_origin
from dashboard.inspection import readings
from dashboard.inspection.readings import Reading
from dashboard.network.spec import LayerGeometry

PALETTE = OKABE_ITO
HIGHLIGHT = "#E03131"
MAPS_COLORSCALE = "Viridis"
DIGIT_COLORSCALE = "gray"  # 0 black, 1 white: the digit as MNIST stores it
_MARGIN = dict(l=10, r=10, t=40, b=10)
# No plotly template: Streamlit's theme styles the charts in the browser anyway, and copying
# plotly's default template costs ~2 ms and ~9 KB of JSON per figure.
_BARE = dict(template="none", margin=_MARGIN)


# Figures are built from one layout dict: every fig.update_*() call re-validates and costs
# ~3 ms, which adds up over a dozen panels on each rerun.
_IMAGE_AXES = dict(
    # Row 0 at the top, square pixels, no tick clutter.
    xaxis=dict(visible=False, constrain="domain"),
    yaxis=dict(visible=False, autorange="reversed", scaleanchor="x", constrain="domain"),
)


def _image_height(rows: int, cols: int, width: int = 520, low: int = 160, high: int = 720) -> int:
    # Height that shows an image of rows×cols pixels at the width a column usually gets.
    return int(np.clip(50 + width * rows / max(cols, 1), low, high))


def probabilities_chart(probs: Sequence[float], true_label: int | None = None, title: str | None = None) -> go.Figure:
    """Bars of the ten class probabilities, the predicted digit highlighted."""
    probs = np.asarray(probs, dtype=float)
    predicted = int(np.argmax(probs))
    colors = [HIGHLIGHT if d == predicted else PALETTE[0] for d in range(len(probs))]
    if title is None:
        title = f"Predicted {predicted} ({probs[predicted]:.1%})"
        if true_label is not None:
            title += f" · true label {true_label}"
    bar = go.Bar(
        x=[str(d) for d in range(len(probs))],
        y=probs,
        marker_color=colors,
        text=[f"{p:.0%}" if p >= 0.005 else "" for p in probs],
        textposition="outside",
        hovertemplate="digit %{x}: %{y:.2%}<extra></extra>",
    )
    layout = dict(
        title=dict(x=0, xanchor="left", text=title),
        height=260,
        **_BARE,
        showlegend=False,
        xaxis=dict(title=dict(text="digit"), type="category"),
        yaxis=dict(title=dict(text="probability"), range=[0, 1.15], tickformat=".0%"),
    )
    return go.Figure(data=[bar], layout=layout)


def layer_chart(
    tiled: np.ndarray,
    channels: np.ndarray,
    title: str,
    map_size: tuple[int, int] | None = None,
    columns: int | None = None,
    mark: tuple[int, int] | None = None,
    width: int = 520,
) -> go.Figure:
    """All channels of one layer as a single heatmap; hover names the channel.

    `tiled` comes from `tiles.tile_maps`, `channels` from `tiles.tile_index` (same shape). With
    `mark=(row, col)`, `map_size=(h, w)` and `columns`, that position is ringed in every tile.
    `width` is about the pixels the chart will get; the height follows the image's aspect.
    """
    traces: list = [
        go.Heatmap(
            z=tiled,
            customdata=channels,
            colorscale=MAPS_COLORSCALE,
            zmin=0.0,
            zmax=1.0,
            showscale=False,
            hoverongaps=False,
            hovertemplate="channel %{customdata}<br>activation %{z:.2f} of its max<extra></extra>",
        )
    ]
    if mark is not None and map_size is not None and columns:
        # One scatter trace of open squares, not one shape per tile: shapes are slow.
        h, w = map_size
        count = int(channels.max()) + 1
        height = _image_height(*tiled.shape, width=width)
        pixel = min(width / tiled.shape[1], (height - 50) / tiled.shape[0])  # screen px per map pixel
        marker_size = float(np.clip(pixel * 1.2, 5, 14))
        origins = np.array([tile_origin(c, h, w, columns) for c in range(count)])  # (count, 2)
        traces.append(
            go.Scatter(
                x=origins[:, 1] + mark[1],
                y=origins[:, 0] + mark[0],
                mode="markers",
                # About one map pixel across, as drawn: the ring should frame the cell, not a blob.
                marker=dict(symbol="square-open", size=marker_size, color=HIGHLIGHT, line=dict(width=2)),
                hoverinfo="skip",
                showlegend=False,
            )
        )
    layout = dict(
        title=dict(x=0, xanchor="left", text=title),
        height=_image_height(*tiled.shape, width=width),
        **_BARE,
        showlegend=False,
        **_IMAGE_AXES,
    )
    return go.Figure(data=traces, layout=layout)


def kernels_chart(tiled: np.ndarray, channels: np.ndarray, title: str = "First conv layer's kernels") -> go.Figure:
    """The first conv layer's kernels side by side, red positive, blue negative, white zero."""
    finite = np.abs(tiled[np.isfinite(tiled)])
    limit = float(finite.max()) if finite.size else 1.0
    heatmap = go.Heatmap(
        z=tiled,
        customdata=channels,
        colorscale="RdBu",
        reversescale=True,  # plotly's RdBu runs red → blue; positive weights in red
        zmin=-limit,
        zmax=limit,
        showscale=True,
        colorbar=dict(thickness=10, len=0.8),
        hoverongaps=False,
        hovertemplate="filter %{customdata}<br>weight %{z:.3f}<extra></extra>",
    )
    layout = dict(
        title=dict(x=0, xanchor="left", text=title), height=_image_height(*tiled.shape, low=180, high=420), **_BARE, **_IMAGE_AXES
    )
    return go.Figure(data=[heatmap], layout=layout)


def digit_chart(
    image: np.ndarray,
    window: tuple[int, int, int, int] | None = None,
    title: str = "What the network sees (28×28)",
    height: int = 320,
) -> go.Figure:
    """The 28×28 input in grey; `window=(top, left, bottom, right)` (inclusive) drawn as a red box."""
    heatmap = go.Heatmap(
        z=np.asarray(image),
        colorscale=DIGIT_COLORSCALE,
        zmin=0.0,
        zmax=1.0,
        showscale=False,
        hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>",
    )
    shapes = []
    if window is not None:
        top, left, bottom, right = window
        # Pixel (r, c) covers [c - 0.5, c + 0.5] × [r - 0.5, r + 0.5]: the box encloses whole pixels.
        shapes.append(
            dict(
                type="rect",
                x0=left - 0.5,
                x1=right + 0.5,
                y0=top - 0.5,
                y1=bottom + 0.5,
                line=dict(color=HIGHLIGHT, width=3),
                fillcolor="rgba(224, 49, 49, 0.15)",
            )
        )
    layout = dict(title=dict(x=0, xanchor="left", text=title), height=height, **_BARE, shapes=shapes, **_IMAGE_AXES)
    if "<br>" in title:
        layout["margin"] = dict(_MARGIN, t=64)  # room for a two-line title
    return go.Figure(data=[heatmap], layout=layout)


def strongest_chart(pairs: Sequence[tuple[int, float]], title: str) -> go.Figure:
    """Bars of the channels most active at one position: (channel, activation) pairs, strongest first."""
    bar = go.Bar(
        x=[f"ch {c}" for c, _ in pairs],
        y=[v for _, v in pairs],
        marker_color=PALETTE[2],
        hovertemplate="%{x}: %{y:.3f}<extra></extra>",
    )
    layout = dict(
        title=dict(x=0, xanchor="left", text=title),
        height=240,
        **_BARE,
        showlegend=False,
        xaxis=dict(type="category"),
        yaxis=dict(title=dict(text="activation")),
    )
    return go.Figure(data=[bar], layout=layout)


def reading_figures(
    reading: Reading,
    kernels: np.ndarray,
    last_conv: LayerGeometry,
    position: tuple[int, int],
    true_label: int | None = None,
    wide: bool = True,
    strongest: int = 8,
) -> dict[str, go.Figure]:
    """Every panel of one run for one digit, by name: "probabilities", "window", "strongest",
    "layer:<name>" for each conv/pool layer in order, and "kernels".

    `kernels` are the first conv layer's weights (kh, kw, 1, filters); `last_conv` is the
    geometry of the last Conv2D layer and `position` a (row, col) in its map. `wide` (the run
    has the page to itself) puts twice as many tiles in a row.
    """
    spread, width = (2, 1000) if wide else (1, 520)  # width: about the pixels a panel gets
    row, col = position
    window = last_conv.window(row, col)
    top, left, bottom, right = window
    figures = {
        "probabilities": probabilities_chart(reading.probabilities, true_label),
        "window": digit_chart(
            reading.image,
            window,
            title=f"({row}, {col}) sees {bottom - top + 1}×{right - left + 1}:<br>rows {top}–{bottom}, cols {left}–{right}",
        ),
        "strongest": strongest_chart(
            readings.strongest_channels(reading.last_conv().maps, row, col, strongest), f"Strongest channels at ({row}, {col})"
        ),
    }
    for layer in reading.layers:
        h, w, c = layer.maps.shape
        columns = min(c, tiles.default_columns(c) * spread)
        marked = layer.name == last_conv.name and (last_conv.size or 1) > 1
        figures[f"layer:{layer.name}"] = layer_chart(
            tiles.tile_maps(layer.maps, columns),
            tiles.tile_index(h, w, c, columns),
            layer.label,
            map_size=(h, w),
            columns=columns,
            mark=position if marked else None,
            width=width,
        )
    kh, kw, _, filters = kernels.shape
    columns = min(filters, tiles.default_columns(filters) * spread)
    first = reading.layers[0].name if reading.layers else "first conv"
    figures["kernels"] = kernels_chart(
        tiles.tile_kernels(kernels, columns),
        tiles.tile_index(kh, kw, filters, columns),
        title=f"{first}: {filters} kernels of {kh}×{kw}",
    )
    return figures
