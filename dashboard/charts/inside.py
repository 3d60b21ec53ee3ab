"""Figures of what the last feature map carries: projection, ablations, depth against size, Grad-CAM.

Pure functions from numbers and arrays to plotly figures. Images are shown as ONE heatmap
each (a row of thumbnails is tiled into one array first): one trace per picture, never one
subplot per thumbnail. The projection uses WebGL (`Scattergl`), one trace per digit, so that
2,000 points draw fast and a legend click hides a digit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.charts.tiles import tile, with_band
from dashboard.outside import plotly_text

# Ten distinguishable colours, one per digit (Plotly's D3 palette order).
DIGIT_COLORS = (
    "#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD",
    "#8C564B", "#E377C2", "#7F7F7F", "#BCBD22", "#17BECF",
)
HIGHLIGHT = "#E03131"
ACCURACY_COLORSCALE = "Viridis"
HEAT_COLORSCALE = "Turbo"
# Turbo's colours with transparency rising with the heat: no heat leaves the digit visible.
OVERLAY_COLORSCALE = [
    [0.0, "rgba(48, 18, 59, 0)"],
    [0.25, "rgba(70, 134, 251, 0.35)"],
    [0.5, "rgba(26, 228, 182, 0.5)"],
    [0.75, "rgba(250, 186, 57, 0.65)"],
    [1.0, "rgba(122, 4, 3, 0.8)"],
]
_MARGIN = dict(l=10, r=10, t=50, b=10)
_IMAGE_AXES = dict(visible=False, constrain="domain")


def _pct(value: float) -> str:
    return f"{value:.1%}"


def projection_chart(
    coords: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    predicted: np.ndarray | None = None,
    method: str = "PCA",
    explained: Sequence[float] | None = None,
) -> go.Figure:
    """Scatter of 2-D coordinates (n, 2) coloured by true digit; hover names the test image.

    `customdata` of each point is [test index, true label, predicted label], so a selection
    tells the page which images to show. Misclassified images are drawn with a black outline.
    """
    coords = np.asarray(coords, dtype=float)
    labels = np.asarray(labels).astype(int)
    indices = np.asarray(indices).astype(int)
    predicted = labels if predicted is None else np.asarray(predicted).astype(int)
    traces = []
    for digit in range(10):
        mask = labels == digit
        if not mask.any():
            continue
        wrong = predicted[mask] != digit
        traces.append(
            go.Scattergl(
                x=coords[mask, 0],
                y=coords[mask, 1],
                mode="markers",
                name=str(digit),
                marker=dict(
                    color=DIGIT_COLORS[digit],
                    size=np.where(wrong, 8, 5),
                    opacity=0.75,
                    line=dict(color="black", width=np.where(wrong, 1.5, 0)),
                ),
                customdata=np.stack([indices[mask], labels[mask], predicted[mask]], axis=1),
                hovertemplate=(
                    "test image #%{customdata[0]}<br>label %{customdata[1]} · predicted %{customdata[2]}<extra></extra>"
                ),
            )
        )
    if method == "PCA" and explained is not None and len(explained) >= 2:
        axes = [f"PC{i + 1} ({explained[i]:.0%} of the variance)" for i in range(2)]
    else:
        axes = [f"{method} 1", f"{method} 2"]
    n_wrong = int((predicted != labels).sum())
    layout = dict(
        title=dict(x=0, xanchor="left", text=f"{len(labels):,} test images, {method} of the last map ({n_wrong} misclassified, outlined)"),
        height=520,
        margin=_MARGIN,
        legend=dict(title=dict(text="digit"), itemsizing="constant"),
        xaxis=dict(title=dict(text=axes[0]), zeroline=False),
        yaxis=dict(title=dict(text=axes[1]), zeroline=False),
        dragmode="select",
        hovermode="closest",
    )
    return go.Figure(data=traces, layout=layout)


def thumbnails_chart(images: np.ndarray, captions: Sequence[str], cols: int = 8, title: str = "") -> go.Figure:
    """A grid of 28×28 digits as ONE heatmap, each captioned in a band under it (two lines at most)."""
    images = np.asarray(images, dtype=float)
    if images.max(initial=0) > 1.0:
        images = images / 255.0
    n, size = len(images), images.shape[1]
    cols = max(1, min(cols, n))
    band, gap = 22, 2  # image pixels under each digit for its caption; between tiles
    tiled = tile(with_band(images, band), cols, gap=gap)
    annotations = [
        dict(x=(k % cols) * (size + gap) + size / 2 - 0.5, y=(k // cols) * (size + band + gap) + size,
             text=captions[k], showarrow=False, font=dict(size=10), yanchor="top")
        for k in range(n)
    ]
    rows = -(-n // cols)
    layout = dict(
        title=dict(x=0, xanchor="left", text=title),
        height=int((40 if title else 10) + rows * 80 * max(1, 6 / cols)),
        margin=dict(l=5, r=5, t=40 if title else 5, b=5),
        xaxis=_IMAGE_AXES,
        yaxis=dict(_IMAGE_AXES, autorange="reversed", scaleanchor="x"),
        annotations=annotations,
    )
    heat = go.Heatmap(z=tiled, colorscale="gray", zmin=0, zmax=1, showscale=False, hoverinfo="skip")
    return go.Figure(data=[heat], layout=layout)


def position_chart(accuracy: np.ndarray, baseline: float, title: str, note: str = "") -> go.Figure:
    """An h×w heatmap of test accuracies (one per position of the last map), values written in."""
    accuracy = np.asarray(accuracy, dtype=float)
    h, w = accuracy.shape
    delta = accuracy - baseline
    text = [[_pct(accuracy[i, j]) for j in range(w)] for i in range(h)]
    custom = np.stack([delta * 100], axis=-1)
    heat = go.Heatmap(
        z=accuracy,
        x=list(range(w)),
        y=list(range(h)),
        text=text if h * w <= 64 else None,
        texttemplate="%{text}" if h * w <= 64 else None,
        customdata=custom,
        colorscale=ACCURACY_COLORSCALE,
        colorbar=dict(title=dict(text="accuracy"), tickformat=".1%"),
        hovertemplate="position (row %{y}, col %{x})<br>accuracy %{z:.2%} (%{customdata[0]:+.2f} points)<extra></extra>",
    )
    layout = dict(
        title=dict(x=0, xanchor="left", text=title + (f"<br><sup>{note}</sup>" if note else "")),
        height=int(np.clip(140 + 70 * h, 300, 560)),
        margin=dict(l=10, r=10, t=70, b=10),
        xaxis=dict(title=dict(text="column"), dtick=1 if w <= 8 else None, constrain="domain"),
        yaxis=dict(
            title=dict(text="row"), dtick=1 if h <= 8 else None, autorange="reversed", scaleanchor="x", constrain="domain"
        ),
    )
    return go.Figure(data=[heat], layout=layout)


def channel_chart(accuracy: np.ndarray, order: np.ndarray, baseline: float, top: int | None = None) -> go.Figure:
    """Bars of the accuracy lost when each channel is zeroed, most harmful first."""
    accuracy = np.asarray(accuracy, dtype=float)
    order = np.asarray(order).astype(int)
    if top is not None:
        order = order[:top]
    drop = (baseline - accuracy[order]) * 100  # percentage points lost
    bar = go.Bar(
        x=[f"ch {k}" for k in order],
        y=drop,
        marker_color=[HIGHLIGHT if d > 0 else "#ADB5BD" for d in drop],
        customdata=np.stack([order, accuracy[order]], axis=1),
        hovertemplate="channel %{customdata[0]}<br>accuracy without it %{customdata[1]:.2%}<br>lost %{y:.2f} points<extra></extra>",
    )
    layout = dict(
        title=dict(x=0, xanchor="left", text=f"Accuracy lost when one channel is zeroed (all {len(accuracy)} channels: {_pct(baseline)})"),
        height=340,
        margin=_MARGIN,
        showlegend=False,
        xaxis=dict(title=dict(text="channel, most harmful to lose first"), type="category", showticklabels=len(order) <= 64),
        yaxis=dict(title=dict(text="percentage points lost"), zeroline=True),
        bargap=0.15,
    )
    return go.Figure(data=[bar], layout=layout)


def depth_size_chart(
    sizes: Sequence[int],
    accuracies: Sequence[float],
    params: Sequence[int],
    names: Sequence[str],
    highlight: int | None = None,
) -> go.Figure:
    """Final map side against test accuracy (left) and parameter count (right), one point per run (`names`: plain text)."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Test accuracy", "Parameters"),
        horizontal_spacing=0.12,
    )
    sizes = np.asarray(sizes, dtype=int)
    n = len(sizes)
    colors = [HIGHLIGHT if i == highlight else "#4C6EF5" for i in range(n)]
    marker = dict(size=[14 if i == highlight else 10 for i in range(n)], color=colors, line=dict(width=1, color="white"))
    custom = np.array(list(zip([plotly_text(name, 120) for name in names], [f"{p:,}" for p in params], [_pct(a) for a in accuracies])), dtype=object).reshape(n, 3)
    hover = "%{customdata[0]}<br>last map %{x}×%{x}<br>%{customdata[1]} parameters · test %{customdata[2]}<extra></extra>"
    fig.add_trace(
        go.Scatter(x=sizes, y=accuracies, mode="markers", marker=marker, customdata=custom, hovertemplate=hover),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(x=sizes, y=params, mode="markers", marker=marker, customdata=custom, hovertemplate=hover),
        row=1,
        col=2,
    )
    ticks = sorted(set(int(s) for s in sizes))
    fig.update_layout(
        height=380,
        margin=dict(l=10, r=10, t=60, b=10),
        showlegend=False,
        xaxis=dict(title=dict(text="last map side (pixels)"), tickvals=ticks),
        xaxis2=dict(title=dict(text="last map side (pixels)"), tickvals=ticks),
        yaxis=dict(tickformat=".1%"),
        yaxis2=dict(type="log", tickvals=(ticks_y := log_ticks(params)), ticktext=[si_number(v) for v in ticks_y]),
    )
    return fig


def si_number(value: float) -> str:
    """'500', '2k', '100k', '1.5M': a parameter count as a tick label."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def log_ticks(values: Sequence[float]) -> list[float]:
    """Tick values for a log axis over `values`: 1, 2 and 5 times powers of ten, only 1s when that is enough."""
    positive = [float(v) for v in values if v > 0]
    if not positive:
        return []
    low, high = min(positive), max(positive)
    decades = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    for steps in ((1,), (1, 2, 5), (1, 1.5, 2, 3, 5, 7)):
        ticks = [m * 10.0**d for d in decades for m in steps if low / 1.3 <= m * 10.0**d <= high * 1.3]
        if len(ticks) >= 3:
            return ticks
    # A narrow range: the values themselves, to two significant figures.
    return sorted({float(f"{v:.2g}") for v in positive} | set(ticks))


def gradcam_chart(image: np.ndarray, heatmap: np.ndarray, coarse: np.ndarray, title: str) -> go.Figure:
    """The 28×28 digit with the Grad-CAM heat laid over it (left) and the coarse map itself (right)."""
    image = np.asarray(image, dtype=float)
    if image.max(initial=0) > 1.0:
        image = image / 255.0
    heatmap = np.asarray(heatmap, dtype=float)
    coarse = np.asarray(coarse, dtype=float)
    h, w = coarse.shape
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.6, 0.4],
        subplot_titles=("Heat over the digit", f"Last conv map ({h}×{w})"),
        horizontal_spacing=0.08,
    )
    fig.add_trace(go.Heatmap(z=image, colorscale="gray", zmin=0, zmax=1, showscale=False, hoverinfo="skip"), 1, 1)
    fig.add_trace(
        go.Heatmap(
            z=heatmap,
            colorscale=OVERLAY_COLORSCALE,
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate="pixel (%{y}, %{x})<br>heat %{z:.2f}<extra></extra>",
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Heatmap(
            z=coarse,
            colorscale=HEAT_COLORSCALE,
            zmin=0,
            zmax=1,
            text=[[f"{v:.2f}" for v in row] for row in coarse] if h * w <= 64 else None,
            texttemplate="%{text}" if h * w <= 64 else None,
            colorbar=dict(title=dict(text="heat"), len=0.8),
            hovertemplate="position (row %{y}, col %{x})<br>heat %{z:.2f}<extra></extra>",
        ),
        1,
        2,
    )
    fig.update_layout(
        title=dict(x=0, xanchor="left", text=title),
        height=380,
        margin=dict(l=10, r=10, t=70, b=10),
        xaxis=_IMAGE_AXES,
        yaxis=dict(_IMAGE_AXES, autorange="reversed", scaleanchor="x"),
        xaxis2=dict(_IMAGE_AXES),
        yaxis2=dict(_IMAGE_AXES, autorange="reversed", scaleanchor="x2"),
    )
    return fig
