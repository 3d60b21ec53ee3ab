"""Figures of a network's shape: spatial size, parameters and receptive field per layer.

Each function takes plain rows (dicts as `LayerRow.to_dict()` gives them) or geometry and
returns a plotly figure; nothing here builds a model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from dashboard.charts import OKABE_ITO
from dashboard.network.spec import INPUT_SIZE, LayerGeometry

PALETTE = OKABE_ITO
HIGHLIGHT = "#E03131"
DASHES = ("dot", "dash", "longdash", "dashdot", "longdashdot")  # receptive-field squares: a pattern each, besides a colour
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=300)


def _shape_text(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("None" if v is None else str(v) for v in shape) + ")"


def spatial_chart(rows: Sequence[dict], highlight: str | None = None) -> go.Figure:
    """Bars of each map's side (28 for the input, then every conv/pool layer), labelled h×w×c."""
    names = ["input"]
    sides = [INPUT_SIZE]
    labels = [f"{INPUT_SIZE}×{INPUT_SIZE}×1"]
    for row in rows:
        shape = row["output_shape"]
        if len(shape) != 4:
            continue
        _, h, w, c = shape
        names.append(row["name"])
        sides.append(h)
        labels.append(f"{h}×{w}×{c}")
    colors = [HIGHLIGHT if name == highlight else PALETTE[0] for name in names]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=sides,
            text=labels,
            textposition="outside",
            marker_color=colors,
            hovertemplate="%{x}<br>%{text}<extra></extra>",
        )
    )
    fig.update_layout(title="Feature map size (height × width × channels)", **_LAYOUT)
    fig.update_yaxes(title="side (pixels)", range=[0, INPUT_SIZE * 1.2])
    return fig


def params_chart(rows: Sequence[dict], highlight: str | None = None, top: int | None = None) -> go.Figure:
    """Bars of parameters per layer with weights, labelled with the count.

    `top`: the largest count the y-axis must hold (default: this network's), so that two charts
    side by side can share one scale.
    """
    shown = [row for row in rows if row["params"] > 0]
    colors = [HIGHLIGHT if row["name"] == highlight else PALETTE[1] for row in shown]
    fig = go.Figure(
        go.Bar(
            x=[row["name"] for row in shown],
            y=[row["params"] for row in shown],
            text=[f"{row['params']:,}" for row in shown],
            textposition="outside",
            marker_color=colors,
            hovertemplate="%{x}: %{y:,} parameters<extra></extra>",
        )
    )
    total = sum(row["params"] for row in rows)
    fig.update_layout(title=f"Parameters per layer (total {total:,})", **_LAYOUT)
    top = top or max((row["params"] for row in shown), default=1)
    fig.update_yaxes(title="parameters", range=[0, top * 1.25])
    return fig


def receptive_field_chart(
    layers: Sequence[LayerGeometry],
    image: np.ndarray | None = None,
    highlight: str | None = None,
    title: str = "What one central position of each layer sees",
    height: int = 460,
) -> go.Figure:
    """The input (a digit, if given) with the window one central position of each map layer sees.

    `layers` are the spatial layers of `spec.geometry`; each gets a square around the window of
    its central position, clipped to the 28×28 input.
    """
    fig = go.Figure()
    base = np.zeros((INPUT_SIZE, INPUT_SIZE)) if image is None else np.asarray(image, dtype=float)
    fig.add_trace(
        go.Heatmap(z=base, colorscale="gray", showscale=False, hovertemplate="row %{y}, col %{x}<extra></extra>")
    )
    for i, geo in enumerate(layers):
        if geo.size is None:
            continue
        centre = (geo.size - 1) // 2
        top, left, bottom, right = geo.window(centre, centre)
        color = HIGHLIGHT if geo.name == highlight else PALETTE[i % len(PALETTE)]
        width = 4 if geo.name == highlight else 2
        dash = "solid" if geo.name == highlight else DASHES[i % len(DASHES)]  # not told apart by colour alone
        label = f"{geo.name}: {geo.receptive_field}×{geo.receptive_field}, jump {geo.jump}"
        # A closed outline as a scatter trace, so it has a legend entry and a hover label.
        xs = [left - 0.5, right + 0.5, right + 0.5, left - 0.5, left - 0.5]
        ys = [top - 0.5, top - 0.5, bottom + 0.5, bottom + 0.5, top - 0.5]
        fig.add_trace(
            go.Scatter(
                x=xs, y=ys, mode="lines", name=label, line=dict(color=color, width=width, dash=dash),
                hoverinfo="name",
            )
        )
    # Image convention: row 0 at the top, square pixels, nothing outside the 28×28 input.
    fig.update_yaxes(range=[INPUT_SIZE - 0.5, -0.5], scaleanchor="x", constrain="domain", showgrid=False)
    fig.update_xaxes(range=[-0.5, INPUT_SIZE - 0.5], constrain="domain", showgrid=False)
    fig.update_layout(
        title=title,
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        # Below the image, far enough to clear the axis numbers (plotly does not count them when
        # it places a legend); plotly widens the bottom margin to fit the legend's rows.
        legend=dict(font=dict(size=11), orientation="h", x=0, xanchor="left", y=-0.15, yanchor="top"),
    )
    return fig
