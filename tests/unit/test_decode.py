"""The shape decoded, and the kernel and output squares placed on the input."""

from __future__ import annotations

import json

import pytest

from dashboard.network import decode
from dashboard.network.spec import BOOK, PRESETS, geometry
from dashboard.ui.pick import picked_values


def book_rows():
    from dashboard.network.summaries import preset_summaries

    return {r["name"]: r for r in preset_summaries()["book"]["layers"]}


def test_book_last_conv_shape_is_decoded():
    geo = next(g for g in geometry(BOOK) if g.name == "conv2d_2")
    parts = decode.decode_shape([None, 3, 3, 64], "conv2d_2", "Conv2D", geo)
    assert [(p.text, p.name) for p in parts] == [("None", "batch"), ("3, 3", "height, width"), ("64", "channels"), ("", "in all")]
    assert "batch of 128" in parts[0].meaning
    assert "9 positions" in parts[1].meaning and "an 18×18 window" in parts[1].meaning and "4 pixels apart" in parts[1].meaning
    assert "one per filter of `conv2d_2`" in parts[2].meaning
    assert parts[3].meaning == "3×3×64 = 576 numbers per digit."
    assert decode.shape_text([None, 3, 3, 64]) == "(None, 3, 3, 64)"


def test_every_layer_of_the_book_summary_decodes():
    for name, row in book_rows().items():
        parts = decode.decode_shape(row["output_shape"], name, row["type"])
        assert parts[0].text == "None" and len(parts) >= 2
    flat = decode.decode_shape([None, 576], "flatten", "Flatten")
    assert "576 numbers per digit, positions kept" in flat[1].meaning
    assert "one score per digit class" in decode.decode_shape([None, 10], "dense_1", "Dense")[1].meaning
    with pytest.raises(ValueError):
        decode.decode_shape([3, 3, 64], "x", "Conv2D")


def test_kernel_of_conv2d_2_sits_on_the_pooled_grid_and_centres_on_its_output():
    kernel, grid = decode.kernel_taps(BOOK, "conv2d_2", 1, 1)
    assert kernel.grid == 3 and kernel.side == 4.0  # 3×3 weights, 4 input pixels apart
    assert grid.grid == 5 and len(grid.centres) == 25  # the 5×5 map of max_pooling2d_1
    assert kernel.centres[0] == (8.5, 8.5) and kernel.centres[-1] == (16.5, 16.5)
    out = decode.output_cells(BOOK, "conv2d_2")
    assert out.grid == 3 and out.side == 4.0 and out.centres[4] == (12.5, 12.5)
    # Valid padding, stride 1: output (r, c) sits at the centre of the taps that compute it.
    for r in range(3):
        for c in range(3):
            taps, _ = decode.kernel_taps(BOOK, "conv2d_2", r, c)
            assert taps.centres[4] == out.centres[3 * r + c]


@pytest.mark.parametrize("preset", list(PRESETS))
def test_taps_span_the_receptive_field_growth(preset):
    """The kernel spans (k-1)·jump_in pixels: what the geometry adds to the receptive field."""
    spec = PRESETS[preset]
    layers = decode.spatial_layers(spec)
    for i, geo in enumerate(layers):
        if geo.kind != "Conv2D":
            continue
        taps, _ = decode.kernel_taps(spec, geo.name, 0, 0)
        span = taps.centres[-1][0] - taps.centres[0][0]
        assert span == geo.receptive_field - layers[i - 1].receptive_field
    with pytest.raises(ValueError):
        decode.kernel_taps(spec, "max_pooling2d", 0, 0) if any(g.name == "max_pooling2d" for g in layers) else decode.kernel_taps(spec, "nope", 0, 0)


def test_articles():
    assert [decode.article(n) for n in (8, 11, 18, 3, 28, 80, 100, 800, 1100)] == ["an", "an", "an", "a", "a", "an", "a", "an", "a"]


def test_picked_values_from_selection_events():
    assert picked_values({"selection": {"points": [{"customdata": [2, 1], "x": 3}]}}) == [2, 1]
    assert picked_values({"selection": {"points": [{"x": 1}, {"customdata": 7}]}}) == [7]
    assert picked_values({"selection": {"points": []}}) is None
    assert picked_values(None) is None and picked_values({"selection": {"points": [{"customdata": ["a"]}]}}) is None
    assert json.dumps(picked_values({"selection": {"points": [{"customdata": [1.0, 2.0]}]}})) == "[1, 2]"
    # A row of 2-D customdata arrives as a typed array, which JSON writes as an object.
    assert picked_values({"selection": {"points": [{"customdata": {"1": 2, "0": 0}}]}}) == [0, 2]
    assert picked_values({"selection": {"points": [{"customdata": {"a": 2}}]}}) is None


def test_bar_channel_from_a_click_on_the_channel_chart():
    from dashboard.ui.pick import bar_channel

    assert bar_channel({"selection": {"points": [{"x": "ch 17", "y": 0.98}]}}, 64) == 17
    assert bar_channel({"selection": {"points": [{"x": "ch 70"}]}}, 64) is None
    assert bar_channel({"selection": {"points": [{"x": "dense"}]}}, 64) is None
    assert bar_channel(None, 64) is None


def test_the_two_3x3s_heading_appears_only_where_kernel_and_output_are_both_3x3():
    from dashboard.network.decode import kernel_text
    from dashboard.network.summaries import summarize

    shapes = {row.name: row.output_shape for row in summarize(BOOK)}
    middle = kernel_text(BOOK, "conv2d_1", shapes["conv2d_1"])  # a 3×3 kernel, an 11×11 output
    assert middle.startswith("**A 3×3 kernel, an 11×11 output.**") and "Two different" not in middle
    assert "coincidence" not in middle
    last = kernel_text(BOOK, "conv2d_2", shapes["conv2d_2"])
    assert last.startswith("**Two different 3×3s?**") and "coincidence" in last


def test_the_words_for_a_place_in_a_feature_map_are_position_not_cell_or_unit():
    import re
    from pathlib import Path

    root = Path(__file__).parents[2]
    from dashboard.ui.widgets import PRESET_NOTES
    from dashboard.workshop.exercise_texts import ONE_BY_ONE_CHOICES, ONE_BY_ONE_EXPLANATIONS, TEXTS

    shown = [*ONE_BY_ONE_CHOICES, *ONE_BY_ONE_EXPLANATIONS, *(t["prompt"] + t["hint"] for t in TEXTS.values()),
             *PRESET_NOTES.values(), (root / "streamlit_app.py").read_text()]
    for text in shown:
        assert not re.search(r"\b(cells?|units?) (of|sees?|looks?|carries)\b|1×1 unit|\d cells\b", text), text
