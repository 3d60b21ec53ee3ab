"""What each chart shows, in words: the caption under a chart, computed from the chart's own data.

A screen-reader user, or anyone whose browser has not drawn the chart yet, gets the chart's
finding from its caption: what is plotted, its extreme values, and the point the page makes.
Streamlit has no `alt` text for plotly charts, so the caption is the chart's text alternative.
Pure functions of numbers and names; the pages show the result as plain text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dashboard.views.compare_table import GroupPoint


def _best_epoch(values: Sequence[float]) -> tuple[int, float]:
    """(1-based epoch, value) of the highest value."""
    index = int(np.nanargmax(np.asarray(values, dtype=float)))
    return index + 1, float(values[index])


def curves_caption(history: Mapping[str, Sequence[float]]) -> str:
    """The learning curves of one run: how many epochs, where validation accuracy ends and peaks."""
    val = [v for v in history.get("val_accuracy", []) if v == v]
    if not val:
        return "Accuracy by epoch: no epoch has finished yet."
    train = [v for v in history.get("accuracy", []) if v == v]
    epoch, best = _best_epoch(val)
    words = (f"Accuracy by epoch over {len(val)} epoch{'s' if len(val) != 1 else ''}: validation accuracy "
             f"ends at {val[-1]:.2%}")
    if len(val) > 1:
        words += f" (highest {best:.2%}, at epoch {epoch})" if epoch != len(val) else ", its highest"
    if train:
        words += f"; training accuracy ends at {train[-1]:.2%}"
    return words + "."


def compare_curves_caption(curves: Mapping[str, Sequence[float]]) -> str:
    """Several runs' validation curves: the best run and the last one."""
    ends = {label: float(values[-1]) for label, values in curves.items() if len(values)}
    if not ends:
        return "Validation accuracy by epoch: no run to draw."
    top, low = max(ends, key=ends.get), min(ends, key=ends.get)
    if len(ends) == 1:
        return f"Validation accuracy by epoch of {top}: it ends at {ends[top]:.2%}."
    return (f"Validation accuracy by epoch of {len(ends)} runs: {top} ends highest, at {ends[top]:.2%}; "
            f"{low} ends lowest, at {ends[low]:.2%}.")


def scatter_caption(points: Sequence[GroupPoint], x_title: str) -> str:
    """A Compare scatter: test accuracy against `x_title`, its best and worst networks and their x."""
    shown = [p for p in points if p.spread.n]
    if not shown:
        return f"Test accuracy against {x_title}: no network that trained to show."
    best = max(shown, key=lambda p: p.spread.median)
    worst = min(shown, key=lambda p: p.spread.median)
    words = (f"Test accuracy (median over seeds) against {x_title}, {len(shown)} network{'s' if len(shown) != 1 else ''}: "
             f"the highest is {best.label} at {best.spread.median:.2%} ({x_title} {best.x:,.0f})")
    if worst is not best:
        words += f", the lowest {worst.label} at {worst.spread.median:.2%} ({x_title} {worst.x:,.0f})"
    return words + "."


def confusion_caption(matrix: np.ndarray) -> str:
    """The confusion matrix: how many are right, and the most frequent mistake."""
    matrix = np.asarray(matrix)
    total, right = int(matrix.sum()), int(np.trace(matrix))
    words = (f"Confusion matrix, true digit by row and predicted digit by column: {right:,} of {total:,} test "
             f"images are on the diagonal (right)")
    wrong = matrix.copy()
    np.fill_diagonal(wrong, 0)
    if wrong.max() > 0:
        true, predicted = np.unravel_index(int(np.argmax(wrong)), wrong.shape)
        words += (f"; the most frequent mistake is a {true} read as {predicted} ({int(wrong[true, predicted])} "
                  f"time{'s' if wrong[true, predicted] != 1 else ''})")
    return words + ". Click a cell, or choose its digits in the boxes, to see its images."


def family_caption(points: Sequence[tuple[int, object]], x_title: str) -> str:
    """The family chart: test accuracy (median of seeds) as one setting varies."""
    shown = [(x, s) for x, s in points if s is not None and getattr(s, "n", 0)]
    if not shown:
        return f"Test accuracy against {x_title}: no trained run yet."
    best = max(shown, key=lambda p: p[1].median)
    worst = min(shown, key=lambda p: p[1].median)
    return (f"Test accuracy (median over seeds) against {x_title} for {len(shown)} value{'s' if len(shown) != 1 else ''}: "
            f"highest at {x_title} {best[0]:,} ({best[1].median:.2%}), lowest at {worst[0]:,} ({worst[1].median:.2%}).")


def spatial_caption(rows: Sequence[Mapping]) -> str:
    """The map-side chart: the side at the input and after each layer, down to the smallest."""
    maps = [(r["name"], r["output_shape"][1]) for r in rows if len(r["output_shape"]) == 4]
    if not maps:
        return "Map side by layer: this network has no spatial layer."
    name, side = min(maps, key=lambda m: m[1])
    return (f"The side of each layer's output map, from the 28×28 input: {' → '.join(str(s) for _, s in maps)}; "
            f"the smallest is {side}×{side}, after {name}.")


def params_caption(rows: Sequence[Mapping]) -> str:
    """The parameter chart: the total and the layer that holds the most."""
    total = sum(int(r["params"]) for r in rows)
    if not total:
        return "Parameters by layer: none."
    top = max(rows, key=lambda r: int(r["params"]))
    return (f"Parameters by layer, {total:,} in all: {top['name']} holds the most, {int(top['params']):,} "
            f"({int(top['params']) / total:.0%}).")


def field_caption(rows: Sequence[Mapping], side: int = 28) -> str:
    """The receptive-field chart: the window one position of each spatial layer sees, first to last."""
    fields = [(r["name"], int(r["receptive_field"])) for r in rows
              if len(r["output_shape"]) == 4 and r.get("receptive_field")]
    if not fields:
        return "Receptive fields: this network has no spatial layer."
    (first, small), (last, large) = fields[0], fields[-1]
    share = "the whole digit" if large >= side else f"{large * large / side ** 2:.0%} of the digit"
    return (f"The window of the {side}×{side} input that one position sees, layer by layer (squares on the digit, "
            f"each in its own colour and line pattern, named in the legend): from {small}×{small} in {first} "
            f"to {large}×{large} in {last}, {share}.")


def probabilities_caption(probabilities: Sequence[float]) -> str:
    """The probability bars: the predicted digit and the runner-up."""
    p = np.asarray(probabilities, dtype=float)
    order = np.argsort(-p)
    first, second = int(order[0]), int(order[1])
    return (f"Probability of each digit: {first} at {p[first]:.1%} (the prediction), then {second} at "
            f"{p[second]:.1%}.")


def strongest_caption(labels: Sequence[str], values: Sequence[float]) -> str:
    """The strongest-channels bars: the strongest channel and how many are shown."""
    if not len(values):
        return "Strongest channels: none fires at this position."
    top = int(np.argmax(values))
    return (f"Activation of the {len(values)} strongest channels at the chosen position: {labels[top]} is the "
            f"strongest at {float(values[top]):.2f}, the weakest shown {float(min(values)):.2f}.")


def maps_caption(name: str, maps: np.ndarray) -> str:
    """One layer's activation tiles (h, w, channels) on a digit: the strongest channel and the silent ones."""
    maps = np.asarray(maps)
    peaks = maps.reshape(-1, maps.shape[-1]).max(axis=0)
    top = int(np.argmax(peaks))
    silent = int(np.sum(peaks <= 0))
    return (f"{name}: {maps.shape[-1]} channels of {maps.shape[0]}×{maps.shape[1]} on this digit; the strongest is "
            f"channel {top} (peak {float(peaks[top]):.2f}); {silent} channel{'s are' if silent != 1 else ' is'} "
            "zero everywhere.")


def kernels_caption(kernels: np.ndarray) -> str:
    """The first conv layer's kernels (kh, kw, 1, filters): how many, their size and their weights' range."""
    kernels = np.asarray(kernels)
    return (f"The {kernels.shape[-1]} kernels of the first conv layer, {kernels.shape[0]}×{kernels.shape[1]} weights "
            f"each, from {float(kernels.min()):.2f} to {float(kernels.max()):.2f}.")
