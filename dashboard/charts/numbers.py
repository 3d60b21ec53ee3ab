"""Test accuracy against the number of numbers the classifier reads (log axis), references labelled.

A point is a network's median over the seeds that trained, with bars from the lowest to the
highest of them; each seed is a small circle; failed trainings are crosses on the floor.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from dashboard.views.accuracy_by_size import REFERENCE_LABELS, NumbersPoint

FAMILY_COLOR = "#4C6EF5"
SEED_COLOR = "#495057"
FAILED_COLOR = "#C92A2A"
REFERENCE_COLORS = {"global_avg": "#F76707", "one_by_one": "#2B8A3E", "no_pooling": "#AE3EC9"}
REFERENCE_SYMBOLS = {"global_avg": "diamond", "one_by_one": "square", "no_pooling": "triangle-up"}


def _hover(points: Sequence[NumbersPoint]) -> np.ndarray:
    return np.array(
        [[p.label, f"{p.side}×{p.side}×{p.channels}", f"{p.numbers:,}", p.spread.text()] for p in points],
        dtype=object,
    ).reshape(len(points), 4)


HOVER = "%{customdata[0]}<br>last map %{customdata[1]}<br>%{customdata[2]} numbers · test %{customdata[3]}<extra></extra>"


def _error_bars(points: Sequence[NumbersPoint]) -> dict:
    """Plotly error bars from each point's median to its lowest and highest trained seed."""
    return dict(type="data", symmetric=False, thickness=1.5, width=4,
                array=[p.spread.high - p.spread.median for p in points],
                arrayminus=[p.spread.median - p.spread.low for p in points])


def _seed_trace(points: Sequence[NumbersPoint]) -> go.Scatter:
    """Every trained seed as a small hollow circle: the learner sees each training, not only the median."""
    xs, ys, texts = [], [], []
    for p in points:
        for seed, accuracy, trained in p.seeds:
            if trained:
                xs.append(p.numbers)
                ys.append(accuracy)
                texts.append(f"{p.label} · seed {seed}: {accuracy:.2%}")
    return go.Scatter(x=xs, y=ys, mode="markers", name="one training (seed)", text=texts,
                      marker=dict(size=6, symbol="circle-open", color=SEED_COLOR),
                      hovertemplate="%{text}<extra></extra>")


def _failed_trace(points: Sequence[NumbersPoint], floor: float) -> go.Scatter | None:
    """Trainings that failed as crosses on the chart's floor (their accuracy is chance, off the scale)."""
    xs, texts = [], []
    for p in points:
        for seed, accuracy, trained in p.seeds:
            if not trained:
                xs.append(p.numbers)
                texts.append(f"{p.label} · seed {seed}: did not train ({accuracy:.2%}, chance)")
    if not xs:
        return None
    return go.Scatter(x=xs, y=[floor] * len(xs), mode="markers", name="training failed (off the scale)",
                      text=texts, marker=dict(size=11, symbol="x-thin-open", color=FAILED_COLOR, line=dict(width=2)),
                      hovertemplate="%{text}<extra></extra>")


def numbers_chart(points: Sequence[NumbersPoint], title: str = "Test accuracy against the numbers in the last map") -> go.Figure:
    """Each network's median over seeds with its range; every seed as a dot, failed ones as crosses; log x."""
    shown = [p for p in points if p.trained]
    family = sorted((p for p in shown if p.role == "family"), key=lambda p: p.numbers)
    traces = []
    if family:
        traces.append(
            go.Scatter(
                x=[p.numbers for p in family], y=[p.test_accuracy for p in family],
                mode="lines+markers+text", name="book network, last conv filters varied (median)",
                text=[str(p.channels) for p in family], textposition="top center",
                marker=dict(size=10, color=FAMILY_COLOR), line=dict(color=FAMILY_COLOR),
                error_y=_error_bars(family), customdata=_hover(family), hovertemplate=HOVER,
            )
        )
    for role, label in REFERENCE_LABELS.items():
        refs = [p for p in shown if p.role == role]
        if refs:
            traces.append(
                go.Scatter(
                    # Named in the legend only: written beside the points, the labels overlapped each other.
                    x=[p.numbers for p in refs], y=[p.test_accuracy for p in refs], mode="markers", name=label,
                    marker=dict(size=13, color=REFERENCE_COLORS[role], symbol=REFERENCE_SYMBOLS[role]),
                    error_y=_error_bars(refs), customdata=_hover(refs), hovertemplate=HOVER,
                )
            )
    if any(p.spread.n > 1 for p in shown):
        traces.append(_seed_trace(shown))
    # The family's sizes and the far reference; 64 (global average, 1×1) would print over 72.
    ticks = sorted({p.numbers for p in points if p.role == "family" or p.numbers > 1000}) or sorted({p.numbers for p in points})
    accs = [a for p in shown for _, a, ok in p.seeds if ok] or [p.test_accuracy for p in shown] or [0.9, 1.0]
    low, high = min(accs), max(accs)
    pad = max(0.002, 0.12 * (high - low))
    failed = _failed_trace(points, low - pad * 0.6)
    if failed is not None:
        traces.append(failed)
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
                range=[np.log10(min(p.numbers for p in points) if points else 9) - 0.15,
                       np.log10(max(p.numbers for p in points) if points else 576) + 0.15],
            ),
            yaxis=dict(title=dict(text="test accuracy"), tickformat=".1%", range=[low - pad, min(1.0, high + pad) + pad / 2]),
        ),
    )
