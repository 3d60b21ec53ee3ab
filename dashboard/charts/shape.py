"""The two 3×3s of `conv2d_2`, drawn to scale over the 28×28 input: its kernel and its output map.

Pure plotly from numbers (`dashboard.network.decode.Squares`); no model is built.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.network.decode import Squares
from dashboard.network.spec import INPUT_SIZE

KERNEL_COLOR = "#F76707"
OUTPUT_COLOR = "#4C6EF5"
WINDOW_COLOR = "#E03131"
GRID_COLOR = "rgba(255, 255, 255, 0.35)"


def _outlines(centres, side: float) -> tuple[np.ndarray, np.ndarray]:
    """x and y of closed square outlines around `centres` (row, col), separated by gaps (NaN)."""
    half = side / 2
    c = np.asarray(centres, dtype=float).reshape(-1, 2)  # (n, 2): row, col
    corner_x = np.array([-half, half, half, -half, -half, np.nan])
    corner_y = np.array([-half, -half, half, half, -half, np.nan])
    return (c[:, 1:2] + corner_x).ravel(), (c[:, 0:1] + corner_y).ravel()  # (n * 6,) each


def _squares(centres, side: float, axes: tuple[str, str], line: str, width: float, fill: str | None) -> go.Scatter:
    """Squares as one trace (one shape each would be validated one by one: 676 for a 26×26 map)."""
    xs, ys = _outlines(centres, side)
    return go.Scatter(x=xs, y=ys, xaxis=axes[0], yaxis=axes[1], mode="lines", line=dict(color=line, width=width),
                      fill="toself" if fill else "none", fillcolor=fill, hoverinfo="skip", showlegend=False)


def _panel_axes(panels: int, gap: float = 0.06) -> dict:
    """Side-by-side image axes (what `make_subplots(1, panels)` sets up): row 0 at the top, square pixels."""
    width = (1 - gap * (panels - 1)) / panels
    layout = {}
    for i in range(panels):
        suffix = "" if i == 0 else str(i + 1)
        start = i * (width + gap)
        layout[f"xaxis{suffix}"] = dict(domain=[start, start + width], range=[-0.5, INPUT_SIZE - 0.5], visible=False,
                                        constrain="domain", anchor=f"y{suffix}")
        layout[f"yaxis{suffix}"] = dict(domain=[0, 1], range=[INPUT_SIZE - 0.5, -0.5], visible=False,
                                        constrain="domain", scaleanchor=f"x{suffix}", anchor=f"x{suffix}")
    return layout


def kernel_output_chart(
    image: np.ndarray | None,
    kernel: Squares | None,
    input_map: Squares | None,
    output: Squares,
    window: tuple[int, int, int, int],
    titles: tuple[str, str],
    chosen: int = 0,
) -> go.Figure:
    """Left: the k×k kernel (orange) over the grid of its input map (white); right: the output's
    positions (blue), the `chosen` one filled, and the window it sees (red, clipped to the input).

    Without a kernel (a pooling layer) only the right panel is drawn. The figure is written in
    one piece (no `make_subplots`, no per-shape updates): a 26×26 input grid is 676 shapes.
    """
    base = np.zeros((INPUT_SIZE, INPUT_SIZE)) if image is None else np.asarray(image, dtype=float)
    panels = 2 if kernel is not None else 1
    axes = [("x", "y"), ("x2", "y2")][:panels]
    traces = [
        go.Heatmap(z=base, colorscale="gray", zmin=0, zmax=1, showscale=False, xaxis=xr, yaxis=yr,
                   hovertemplate="row %{y}, col %{x}<extra></extra>")
        for xr, yr in axes
    ]
    if kernel is not None and input_map is not None:
        traces.append(_squares(input_map.centres, input_map.side, axes[0], GRID_COLOR, 1, None))
        traces.append(_squares(kernel.centres, kernel.side, axes[0], KERNEL_COLOR, 2, "rgba(247, 103, 7, 0.35)"))
    others = [c for i, c in enumerate(output.centres) if i != chosen]
    picked = [c for i, c in enumerate(output.centres) if i == chosen]
    traces.append(_squares(others, output.side, axes[-1], OUTPUT_COLOR, 2, "rgba(76, 110, 245, 0.15)"))
    traces.append(_squares(picked, output.side, axes[-1], OUTPUT_COLOR, 2, "rgba(76, 110, 245, 0.55)"))
    xr, yr = axes[-1]
    top, left, bottom, right = window
    shapes = [dict(type="rect", xref=xr, yref=yr, x0=left - 0.5, x1=right + 0.5, y0=top - 0.5, y1=bottom + 0.5,
                   line=dict(color=WINDOW_COLOR, width=3, dash="dash"))]
    layout = _panel_axes(panels)
    # Panel titles as annotations above each panel, as make_subplots writes them.
    annotations = [
        dict(text=title, x=sum(layout[f"xaxis{'' if i == 0 else i + 1}"]["domain"]) / 2, y=1.0, xref="paper",
             yref="paper", xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=12))
        for i, title in enumerate(titles[-panels:])
    ]
    layout.update(shapes=shapes, annotations=annotations, height=400, template="none",
                  margin=dict(l=10, r=10, t=60, b=10), showlegend=False)
    return go.Figure(data=traces, layout=layout)
