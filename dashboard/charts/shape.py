"""The two 3×3s of `conv2d_2`, drawn to scale over the 28×28 input: its kernel and its output map.

Pure plotly from numbers (`dashboard.decode.Squares`); no model is built.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.decode import Squares
from dashboard.spec import INPUT_SIZE

KERNEL_COLOR = "#F76707"
OUTPUT_COLOR = "#4C6EF5"
WINDOW_COLOR = "#E03131"
GRID_COLOR = "rgba(255, 255, 255, 0.35)"


def _square(cy: float, cx: float, side: float, xref: str, yref: str, **style) -> dict:
    half = side / 2
    return dict(type="rect", xref=xref, yref=yref, x0=cx - half, x1=cx + half, y0=cy - half, y1=cy + half, **style)


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

    Without a kernel (a pooling layer) only the right panel is drawn.
    """
    base = np.zeros((INPUT_SIZE, INPUT_SIZE)) if image is None else np.asarray(image, dtype=float)
    panels = 2 if kernel is not None else 1
    fig = make_subplots(rows=1, cols=panels, subplot_titles=titles[-panels:], horizontal_spacing=0.06)
    shapes: list[dict] = []
    for col in range(1, panels + 1):
        fig.add_trace(
            go.Heatmap(z=base, colorscale="gray", zmin=0, zmax=1, showscale=False,
                       hovertemplate="row %{y}, col %{x}<extra></extra>"),
            row=1, col=col,
        )
    axes = [("x", "y"), ("x2", "y2")][:panels]
    if kernel is not None and input_map is not None:
        xr, yr = axes[0]
        shapes += [_square(cy, cx, input_map.side, xr, yr, line=dict(color=GRID_COLOR, width=1)) for cy, cx in input_map.centres]
        shapes += [
            _square(cy, cx, kernel.side, xr, yr, line=dict(color=KERNEL_COLOR, width=2), fillcolor="rgba(247, 103, 7, 0.35)")
            for cy, cx in kernel.centres
        ]
    xr, yr = axes[-1]
    for i, (cy, cx) in enumerate(output.centres):
        fill = "rgba(76, 110, 245, 0.55)" if i == chosen else "rgba(76, 110, 245, 0.15)"
        shapes.append(_square(cy, cx, output.side, xr, yr, line=dict(color=OUTPUT_COLOR, width=2), fillcolor=fill))
    top, left, bottom, right = window
    shapes.append(dict(type="rect", xref=xr, yref=yr, x0=left - 0.5, x1=right + 0.5, y0=top - 0.5, y1=bottom + 0.5,
                       line=dict(color=WINDOW_COLOR, width=3, dash="dash")))
    fig.update_layout(
        shapes=shapes, height=400, template="none", margin=dict(l=10, r=10, t=60, b=10), showlegend=False,
    )
    for i in range(1, panels + 1):
        suffix = "" if i == 1 else str(i)
        fig.layout[f"xaxis{suffix}"].update(range=[-0.5, INPUT_SIZE - 0.5], visible=False, constrain="domain")
        fig.layout[f"yaxis{suffix}"].update(range=[INPUT_SIZE - 0.5, -0.5], visible=False, constrain="domain",
                                            scaleanchor=f"x{suffix}")
    return fig
