"""Strongest channels, readings, and the figures drawn from them (tiling: test_tiles.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dashboard.charts import maps as charts
from dashboard.charts import tiles
from dashboard.inspection import readings
from dashboard.network.spec import PRESETS, geometry


def ramp(h: int, w: int, c: int) -> np.ndarray:
    """Maps whose every value is distinct and positive: channel k holds k*1000 + position + 1."""
    base = np.arange(h * w, dtype=np.float32).reshape(h, w, 1) + 1
    return base + 1000 * np.arange(c, dtype=np.float32)


def test_strongest_channels_at_a_position():
    data = np.zeros((3, 3, 6), np.float32)
    data[1, 2, :] = [0.5, 3.0, 0.0, 2.0, 1.0, 2.0]
    data[0, 0, 0] = 99.0  # elsewhere: must not count
    assert readings.strongest_channels(data, 1, 2, k=3) == [(1, 3.0), (3, 2.0), (5, 2.0)]
    assert len(readings.strongest_channels(data, 1, 2, k=50)) == 6
    with pytest.raises(ValueError, match="outside"):
        readings.strongest_channels(data, 3, 0)


class FakeForward:
    """Stands in for a run's forward pass: records its input, returns fixed (maps, probabilities)."""

    def __init__(self, outputs):
        self.outputs = outputs
        self.seen = None

    def __call__(self, x):
        self.seen = x
        return self.outputs[:-1], self.outputs[-1]


def test_read_digit_feeds_a_batch_of_one_and_packages_every_layer():
    probs = np.zeros((1, 10), np.float32)
    probs[0, 4] = 0.9
    probs[0, 1] = 0.1
    outputs = [ramp(26, 26, 2)[None], ramp(13, 13, 2)[None], ramp(11, 11, 3)[None], probs]
    model = FakeForward(outputs)
    image = np.random.default_rng(1).random((28, 28)).astype(np.float32)
    reading = readings.read_digit(model, ["conv2d", "max_pooling2d", "conv2d_1"], ["Conv2D", "MaxPooling2D", "Conv2D"], image)
    assert model.seen.shape == (1, 28, 28, 1) and model.seen.dtype == np.float32
    np.testing.assert_array_equal(model.seen[0, :, :, 0], image)
    assert reading.predicted == 4 and reading.confidence == pytest.approx(0.9)
    assert [layer.shape for layer in reading.layers] == [(None, 26, 26, 2), (None, 13, 13, 2), (None, 11, 11, 3)]
    assert reading.last_conv().name == "conv2d_1"
    assert reading.layers[1].label == "max_pooling2d (MaxPooling2D) · (None, 13, 13, 2)"
    with pytest.raises(ValueError):
        readings.read_digit(model, ["conv2d"], ["Conv2D"], image)  # names do not match the outputs
    with pytest.raises(ValueError):
        readings.read_digit(model, ["a"], ["Conv2D"], np.zeros((14, 14)))


# --- figures ---------------------------------------------------------------------------------


def test_layer_chart_is_one_heatmap_titled_with_name_and_shape():
    data = ramp(26, 26, 32)
    tiled, index = tiles.tile_maps(data, 8), tiles.tile_index(26, 26, 32, 8)
    fig = charts.layer_chart(tiled, index, "conv2d (Conv2D) · (None, 26, 26, 32)")
    assert [trace.type for trace in fig.data] == ["heatmap"]
    assert fig.layout.title.text == "conv2d (Conv2D) · (None, 26, 26, 32)"
    assert np.asarray(fig.data[0].z).shape == tiled.shape
    json.loads(fig.to_json())  # NaN gaps serialise


def test_layer_chart_marks_the_position_in_every_tile():
    index = tiles.tile_index(3, 3, 64, 8)
    fig = charts.layer_chart(tiles.tile_maps(ramp(3, 3, 64), 8), index, "last", map_size=(3, 3), columns=8, mark=(2, 1))
    marks = fig.data[1]
    assert len(marks.x) == 64
    for k in (0, 9, 63):  # each mark lies on its own channel's pixel (2, 1)
        r, q = tiles.tile_origin(k, 3, 3, 8)
        assert (marks.y[k], marks.x[k]) == (r + 2, q + 1)
        assert index[marks.y[k], marks.x[k]] == k


def test_digit_chart_draws_the_book_receptive_field_around_whole_pixels():
    last = [g for g in geometry(PRESETS["book"]) if g.kind == "Conv2D"][-1]
    window = last.window(1, 1)
    assert window == (4, 4, 21, 21)  # 18×18 in the middle
    fig = charts.digit_chart(np.zeros((28, 28)), window)
    (rect,) = fig.layout.shapes
    assert (rect.x0, rect.x1, rect.y0, rect.y1) == (3.5, 21.5, 3.5, 21.5)
    assert rect.x1 - rect.x0 == last.receptive_field


def test_probabilities_chart_highlights_the_prediction():
    probs = np.full(10, 0.02)
    probs[3] = 0.82
    fig = charts.probabilities_chart(probs, true_label=3)
    colors = list(fig.data[0].marker.color)
    assert colors[3] == charts.HIGHLIGHT and colors.count(charts.HIGHLIGHT) == 1
    assert fig.layout.title.text.startswith("Predicted 3 (82.0%)")


def test_kernels_chart_is_symmetric_around_zero():
    weights = np.random.default_rng(2).normal(size=(3, 3, 1, 8)).astype(np.float32)
    tiled = tiles.tile_kernels(weights, 4)
    fig = charts.kernels_chart(tiled, tiles.tile_index(3, 3, 8, 4))
    assert fig.data[0].zmin == -fig.data[0].zmax == pytest.approx(-np.abs(weights).max())


def book_reading() -> readings.Reading:
    """A reading shaped like the book network's, with distinct values everywhere."""
    shapes = [("conv2d", "Conv2D", (26, 26, 32)), ("max_pooling2d", "MaxPooling2D", (13, 13, 32)),
              ("conv2d_1", "Conv2D", (11, 11, 64)), ("max_pooling2d_1", "MaxPooling2D", (5, 5, 64)),
              ("conv2d_2", "Conv2D", (3, 3, 64))]
    layers = tuple(readings.LayerMaps(name, kind, ramp(*shape)) for name, kind, shape in shapes)
    probs = np.eye(10, dtype=np.float32)[7] * 0.9 + 0.01
    return readings.Reading(np.zeros((28, 28), np.float32), probs, layers)


@pytest.mark.parametrize("wide,per_row", [(True, 16), (False, 8)], ids=["one_run", "two_runs"])
def test_reading_figures_gives_every_panel_of_the_page(wide, per_row):
    last = [g for g in geometry(PRESETS["book"]) if g.kind == "Conv2D"][-1]
    kernels = np.random.default_rng(3).normal(size=(3, 3, 1, 32)).astype(np.float32)
    figures = charts.reading_figures(book_reading(), kernels, last, (0, 2), wide=wide)
    assert list(figures) == [
        "probabilities", "window", "strongest",
        "layer:conv2d", "layer:max_pooling2d", "layer:conv2d_1", "layer:max_pooling2d_1", "layer:conv2d_2",
        "kernels",
    ]
    assert figures["window"].layout.title.text == "(0, 2) sees 18×18:<br>rows 0–17, cols 8–25"
    # ramp() makes the last channel the strongest everywhere.
    assert list(figures["strongest"].data[0].x[:3]) == ["ch 63", "ch 62", "ch 61"]
    assert figures["layer:conv2d_2"].layout.title.text == "conv2d_2 (Conv2D) · (None, 3, 3, 64)"
    assert len(figures["layer:conv2d_2"].data) == 2  # the position is ringed on the last conv map only
    assert all(len(figures[f"layer:{n}"].data) == 1 for n in ("conv2d", "max_pooling2d_1"))
    assert np.asarray(figures["layer:conv2d_1"].data[0].z).shape == tiles.tiled_shape(11, 11, 64, per_row)
    assert figures["kernels"].layout.title.text == "conv2d: 32 kernels of 3×3"
