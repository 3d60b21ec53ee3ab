"""Plotly figures of training runs: learning curves, accuracy scatters, confusion matrix, mistakes.

Pure functions from numbers and arrays to figures; no Streamlit, no Keras.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from dashboard.charts import OKABE_ITO
from dashboard.charts.tiles import tile, with_band
from dashboard.outside import plotly_text
from dashboard.store.seeds import Spread
from dashboard.views.compare_table import GroupPoint

HEIGHT = 360
TILE = 28
GAP = 2  # pixels of background between tiles of the mistakes grid


def _epochs(values: Sequence[float]) -> list[int]:
    return list(range(1, len(values) + 1))


def _one_or_more(values: Sequence[float]) -> dict:
    """Scatter options of a history: a line through its epochs, or, for a single epoch, a large marker
    with its value written beside it (a line of one point would be a lone dot)."""
    if len(values) != 1:
        return {"mode": "lines+markers"}
    return {"mode": "markers+text", "marker": {"size": 12}, "text": [f"{values[0]:.2%}"],
            "textposition": "middle right"}


def learning_curves(history: Mapping[str, Sequence[float]], epochs: int | None = None) -> go.Figure:
    """Training and validation accuracy of one run, epoch by epoch (x axis up to `epochs`)."""
    fig = go.Figure()
    styles = {"accuracy": ("training", "dot"), "val_accuracy": ("validation", "solid")}
    for metric, (name, dash) in styles.items():
        values = list(history.get(metric, []))
        fig.add_trace(
            go.Scatter(
                x=_epochs(values), y=values, name=name, **_one_or_more(values),
                line={"dash": dash}, hovertemplate="epoch %{x}: %{y:.4f}<extra>" + name + "</extra>",
            )
        )
    upper = max(epochs or 0, len(history.get("val_accuracy", [])), 1)
    seen = [v for m in styles for v in history.get(m, []) if v == v]  # NaN-free values
    # Before the first epoch there is nothing to scale to: show the whole 0-100% range.
    y_range = None if seen else [0, 1]
    fig.update_layout(
        height=HEIGHT, margin={"l": 10, "r": 10, "t": 40, "b": 10}, title="Accuracy by epoch",
        xaxis={"title": "epoch", "range": [0.5, upper + 0.5], "dtick": 1},
        yaxis={"title": "accuracy", "tickformat": ".1%", "range": y_range}, legend={"orientation": "h", "y": -0.2},
    )
    return fig


def compare_curves(curves: Mapping[str, Sequence[float]], metric: str = "validation accuracy") -> go.Figure:
    """One line per run (label → per-epoch values) on one chart; labels are plain text."""
    fig = go.Figure()
    for label, values in curves.items():
        fig.add_trace(
            go.Scatter(
                x=_epochs(values), y=list(values), name=plotly_text(label, 120), **_one_or_more(values),
                hovertemplate="epoch %{x}: %{y:.4f}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(
        height=HEIGHT + 60, margin={"l": 10, "r": 10, "t": 40, "b": 10}, title=f"{metric.capitalize()} by epoch",
        xaxis={"title": "epoch", "dtick": 1}, yaxis={"title": metric, "tickformat": ".1%"},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


DATA_STYLES = tuple(zip(OKABE_ITO[:4], ("circle", "diamond", "square", "triangle-up")))


def accuracy_scatter(
    x: Sequence[float], accuracy: Sequence[float], labels: Sequence[str], x_title: str,
    log_x: bool = False, title: str = "", groups: Sequence[str] | None = None,
) -> go.Figure:
    """Test accuracy (y) against a property of each run (x), one marker per run labelled with plain text.

    `groups` (e.g. each run's data name) gives each group its own colour and symbol and a legend
    entry, so runs on different data never look alike; groups keep their first-seen order.
    """
    groups = list(groups) if groups is not None else [""] * len(labels)
    fig = go.Figure()
    for index, group in enumerate(dict.fromkeys(groups)):
        members = [i for i, g in enumerate(groups) if g == group]
        colour, symbol = DATA_STYLES[index % len(DATA_STYLES)]
        fig.add_trace(go.Scatter(
            x=[x[i] for i in members], y=[accuracy[i] for i in members], mode="markers",
            name=plotly_text(group, 60), showlegend=bool(group),
            text=[plotly_text(labels[i], 120) for i in members], marker={"size": 11, "color": colour, "symbol": symbol},
            hovertemplate="%{text}<br>" + x_title + ": %{x:,}<br>test accuracy: %{y:.4f}<extra></extra>",
        ))
    fig.update_layout(
        height=HEIGHT, margin={"l": 10, "r": 10, "t": 40, "b": 10}, title=title or f"Test accuracy vs {x_title}",
        xaxis={"title": x_title, "type": "log" if log_x else "linear"},
        yaxis={"title": "test accuracy", "tickformat": ".1%"},
        legend={"orientation": "h", "y": -0.25, "title": {"text": "trained on "}},
    )
    return fig


def group_scatter(points: Sequence[GroupPoint], x_title: str, log_x: bool = False, title: str = "") -> go.Figure:
    """Each network's median test accuracy over its seeds (bars: lowest to highest), labelled on the chart.

    One series per data set (its own colour and symbol); failed trainings are crosses at the
    chart's floor, named in the legend (their accuracy is chance, off the scale).
    """
    fig = go.Figure()
    trained = [p for p in points if p.spread.n]
    for index, data in enumerate(dict.fromkeys(p.data for p in trained)):
        members = [p for p in trained if p.data == data]
        colour, symbol = DATA_STYLES[index % len(DATA_STYLES)]
        fig.add_trace(go.Scatter(
            x=[p.x for p in members], y=[p.spread.median for p in members], mode="markers+text",
            name=plotly_text(data, 60), text=[plotly_text(p.label, 40) for p in members], textposition="top center",
            textfont={"size": 10}, customdata=[plotly_text(p.hover, 200) for p in members],
            error_y={"type": "data", "symmetric": False, "array": [p.spread.high - p.spread.median for p in members],
                     "arrayminus": [p.spread.median - p.spread.low for p in members], "thickness": 1.5, "width": 4},
            marker={"size": 11, "color": colour, "symbol": symbol},
            hovertemplate="%{customdata}<br>" + x_title + ": %{x:,}<extra></extra>",
        ))
    values = [v for p in trained for v in (p.spread.low, p.spread.high)] or [0.9, 1.0]
    low, high = min(values), max(values)
    pad = max(0.002, 0.12 * (high - low))
    failed = [(p, a) for p in points for a in p.failed]
    if failed:
        fig.add_trace(go.Scatter(
            x=[p.x for p, _ in failed], y=[low - pad * 0.6] * len(failed), mode="markers",
            name="training failed (off the scale)", customdata=[f"{plotly_text(p.hover, 200)}: a seed did not train "
                                                                f"({a:.2%}, chance)" for p, a in failed],
            marker={"size": 11, "symbol": "x-thin-open", "color": "#C92A2A", "line": {"width": 2}},
            hovertemplate="%{customdata}<extra></extra>",
        ))
    fig.update_layout(
        height=HEIGHT + 40, margin={"l": 10, "r": 10, "t": 40, "b": 10}, title=title or f"Test accuracy vs {x_title}",
        xaxis={"title": x_title, "type": "log" if log_x else "linear"},
        yaxis={"title": "test accuracy (median over seeds)", "tickformat": ".1%", "range": [low - pad, high + pad]},
        legend={"orientation": "h", "y": -0.25, "title": {"text": "trained on "}},
    )
    return fig


def confusion_figure(matrix: np.ndarray) -> go.Figure:
    """A 10×10 confusion matrix (rows: true digit, columns: predicted), counts written in the cells."""
    matrix = np.asarray(matrix)
    digits = [str(d) for d in range(matrix.shape[0])]
    # Colour the mistakes, not the diagonal, which would wash everything else out.
    shown = matrix.astype(float).copy()
    np.fill_diagonal(shown, np.nan)
    fig = go.Figure(
        go.Heatmap(
            z=shown, x=digits, y=digits, colorscale="Reds", text=matrix, texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>", showscale=False,
        )
    )
    # Heatmap cells cannot be selected: one invisible square per cell carries [true, predicted, count]
    # (dashboard.ui.pick), so a click on a cell shows its digits.
    rows, cols = np.indices(matrix.shape)
    fig.add_trace(go.Scatter(
        x=cols.ravel().astype(str), y=rows.ravel().astype(str), mode="markers", showlegend=False,
        customdata=np.stack([rows.ravel(), cols.ravel(), matrix.ravel()], 1),
        marker={"symbol": "square", "size": 30, "color": "rgba(255, 255, 255, 0.01)", "line": {"width": 0}},
        hovertemplate=("true %{customdata[0]}, predicted %{customdata[1]}: %{customdata[2]} · "
                       "click to see them<extra></extra>"),
    ))
    # The title sits at the top of the figure and the "predicted" axis (on top, as in the
    # usual layout) below it: a tall top margin keeps them apart.
    fig.update_layout(
        height=460, margin={"l": 10, "r": 10, "t": 90, "b": 10},
        title={"text": "Confusion matrix (diagonal = correct)", "y": 0.98, "yanchor": "top"},
        # Fixed ranges: the squares' markers would otherwise pad the axes by a cell.
        xaxis={"title": {"text": "predicted", "standoff": 6}, "side": "top", "dtick": 1, "showgrid": False,
               "zeroline": False, "range": [-0.5, len(digits) - 0.5]},
        yaxis={"title": "true", "dtick": 1, "showgrid": False, "zeroline": False, "range": [len(digits) - 0.5, -0.5]},
    )
    return fig


WRONG_MARK = "✗"  # marks a wrong prediction in words as well as in red
RIGHT_MARK = "✓"  # a right one (a diagonal cell of the confusion matrix), in words as well as in green
LABEL_BAND = 17  # pixels of background under each digit for its label (never on the strokes)
LABEL_SIZE = 15  # the labels' font size in pixels


def mistakes_figure(images: np.ndarray, true: Sequence[int], predicted: Sequence[int], cols: int = 10,
                    title: str | None = None) -> go.Figure:
    """Test digits tiled into ONE heatmap, each labelled '✗ predicted (true)' in red under it when wrong,
    '✓ predicted' in green when right (the mark says which where the colour cannot be told)."""
    images = np.asarray(images)
    n = len(images)
    # Each digit gets a band of background under it for its label, then the shared tiler.
    canvas = tile(with_band(images, LABEL_BAND), cols, gap=GAP)  # (H, W) float, NaN between tiles and under each digit
    cols = max(1, min(cols, n)) if n else 1
    step, row_step = TILE + GAP, TILE + LABEL_BAND + GAP
    fig = go.Figure(
        go.Heatmap(z=canvas, colorscale="gray_r", showscale=False, hoverinfo="skip", zmin=0, zmax=255)
    )
    # One list, set once: `add_annotation` in a loop copies every earlier label each time (~6 ms a label).
    labels = [
        {"x": (i % cols) * step + TILE / 2 - 0.5, "y": (i // cols) * row_step + TILE, "xanchor": "center",
         "yanchor": "top", "showarrow": False, "text": _tile_label(int(true[i]), int(predicted[i])),
         "font": {"size": LABEL_SIZE, "color": "#c92a2a" if int(true[i]) != int(predicted[i]) else "#2b8a3e"}}
        for i in range(n)
    ]
    rows = max(1, -(-n // cols))
    fig.update_layout(
        annotations=labels,
        height=max(150, 90 * rows + 50), margin={"l": 5, "r": 5, "t": 30, "b": 5},
        title=title or (f"{n} misclassified test images: {WRONG_MARK} predicted (true)" if n else "No misclassified images"),
        xaxis={"visible": False, "constrain": "domain"},
        yaxis={"visible": False, "autorange": "reversed", "scaleanchor": "x"},
        plot_bgcolor="white",
    )
    return fig


def _tile_label(true: int, predicted: int) -> str:
    """'✗3 (5)' for a 5 read as 3, '✓5' for a 5 read right."""
    return f"{RIGHT_MARK}<b>{predicted}</b>" if true == predicted else f"{WRONG_MARK}<b>{predicted}</b> ({true})"


def family_chart(points: Sequence[tuple[int, Spread | None]], x_title: str, log_x: bool = False) -> go.Figure:
    """Test accuracy against a family's varied value: each value's median over its seeds with its range
    (None while training); values whose every seed failed are crosses at the floor."""
    done = [(x, s) for x, s in points if s is not None and s.n]
    dead = [(x, s) for x, s in points if s is not None and not s.n]
    waiting = [x for x, s in points if s is None]
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=[x for x, _ in done], y=[s.median for _, s in done], name="test accuracy (median over seeds)",
        mode="lines+markers", customdata=[s.text() for _, s in done],
        error_y={"type": "data", "symmetric": False, "array": [s.high - s.median for _, s in done],
                 "arrayminus": [s.median - s.low for _, s in done], "thickness": 1.5, "width": 4},
        hovertemplate=f"{x_title} %{{x}}: %{{customdata}}<extra></extra>",
    ))
    low = min((s.low for _, s in done), default=0.9)
    fig.add_trace(go.Scatter(
        x=waiting, y=[low] * len(waiting), name="training…", mode="markers",
        marker={"symbol": "circle-open", "size": 10, "color": "grey"}, hovertemplate="%{x}: not done yet<extra></extra>",
    ))
    if dead:
        fig.add_trace(go.Scatter(
            x=[x for x, _ in dead], y=[low] * len(dead), name="did not train", mode="markers",
            marker={"symbol": "x-thin-open", "size": 11, "color": "#C92A2A", "line": {"width": 2}},
            customdata=[s.text() for _, s in dead], hovertemplate="%{x}: %{customdata}<extra></extra>",
        ))
    values = sorted({x for x, _ in points})
    fig.update_layout(
        height=HEIGHT, margin={"l": 10, "r": 10, "t": 40, "b": 10}, title="Test accuracy across the family",
        # the family's own values as ticks: a log axis would otherwise label 1, 2, 5, 10, … in between
        xaxis={"title": x_title, "type": "log" if log_x else "linear", "tickvals": values,
               "ticktext": [f"{v:,}" for v in values]},
        yaxis={"title": "test accuracy", "tickformat": ".1%"}, legend={"orientation": "h", "y": -0.2},
    )
    return fig
