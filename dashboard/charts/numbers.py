"""Test accuracy against the number of numbers the classifier reads (log axis), references labelled."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from dashboard.numbers import REFERENCE_LABELS, NumbersPoint

FAMILY_COLOR = "#4C6EF5"
REFERENCE_COLORS = {"global_avg": "#F76707", "one_by_one": "#2B8A3E", "no_pooling": "#AE3EC9"}
REFERENCE_SYMBOLS = {"global_avg": "diamond", "one_by_one": "square", "no_pooling": "triangle-up"}


def _hover(points: Sequence[NumbersPoint]) -> np.ndarray:
    return np.array(
        [[p.label, f"{p.side}×{p.side}×{p.channels}", f"{p.numbers:,}", f"{p.test_accuracy:.2%}"] for p in points],
        dtype=object,
    ).reshape(len(points), 4)


HOVER = "%{customdata[0]}<br>last map %{customdata[1]}<br>%{customdata[2]} numbers · test %{customdata[3]}<extra></extra>"


def numbers_chart(points: Sequence[NumbersPoint], title: str = "Test accuracy against the numbers in the last map") -> go.Figure:
    """Family runs as a line (labelled with their filters), references as labelled markers; x on a log scale."""
    family = sorted((p for p in points if p.role == "family"), key=lambda p: p.numbers)
    traces = []
    if family:
        traces.append(
            go.Scatter(
                x=[p.numbers for p in family], y=[p.test_accuracy for p in family],
                mode="lines+markers+text", name="book network, last conv filters varied",
                text=[str(p.channels) for p in family], textposition="top center",
                marker=dict(size=10, color=FAMILY_COLOR), line=dict(color=FAMILY_COLOR),
                customdata=_hover(family), hovertemplate=HOVER,
            )
        )
    for role, label in REFERENCE_LABELS.items():
        refs = [p for p in points if p.role == role]
        if refs:
            traces.append(
                go.Scatter(
                    # Named in the legend only: written beside the points, the labels overlapped each other.
                    x=[p.numbers for p in refs], y=[p.test_accuracy for p in refs], mode="markers", name=label,
                    marker=dict(size=13, color=REFERENCE_COLORS[role], symbol=REFERENCE_SYMBOLS[role]),
                    customdata=_hover(refs), hovertemplate=HOVER,
                )
            )
    ticks = sorted({p.numbers for p in points})
    accs = [p.test_accuracy for p in points] or [0.9, 1.0]
    low, high = min(accs), max(accs)
    pad = max(0.002, 0.12 * (high - low))
    return go.Figure(
        data=traces,
        layout=dict(
            title=dict(x=0, xanchor="left", text=title),
            height=430,
            template="none",
            margin=dict(l=60, r=20, t=50, b=60),
            # Inside the plot, bottom right: empty there (accuracy is low only for few numbers, on the left),
            # and clear of the axis title and tick labels below.
            legend=dict(x=0.99, xanchor="right", y=0.03, yanchor="bottom", bgcolor="rgba(255, 255, 255, 0.8)"),
            xaxis=dict(
                type="log", title=dict(text="numbers the classifier reads (log scale)"),
                tickvals=ticks, ticktext=[f"{n:,}" for n in ticks],
                range=[np.log10(min(ticks or [9])) - 0.15, np.log10(max(ticks or [576])) + 0.15],
            ),
            yaxis=dict(title=dict(text="test accuracy"), tickformat=".1%", range=[low - pad, min(1.0, high + pad) + pad / 2]),
        ),
    )
