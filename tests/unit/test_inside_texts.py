"""The words of Inside the 3×3 agree with the numbers they are given, on both sides of every threshold."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.charts.inside import HEAT_COLORSCALE, OVERLAY_COLORSCALE, depth_size_chart, log_ticks, si_number
from dashboard.network.spec import BOOK, PRESETS, geometry
from dashboard.views import inside_texts as texts
from dashboard.views.labels import ESSENTIAL_POSITION_DROP, HARMLESS_CHANNEL_DROP, INFORMATIVE_WINDOW_ACCURACY


def last_conv(spec):
    return [g for g in geometry(spec) if g.kind == "Conv2D"][-1]


@pytest.mark.parametrize("drop", [ESSENTIAL_POSITION_DROP - 0.01, ESSENTIAL_POSITION_DROP + 0.01])
def test_positions_text_names_the_worst_and_best_positions_and_judges_by_the_threshold(drop):
    zero_one = np.full((3, 3), 0.98)
    zero_one[2, 1] = 0.99 - drop
    keep_one = np.full((3, 3), 0.2)
    keep_one[0, 2] = INFORMATIVE_WINDOW_ACCURACY + 0.05
    text = texts.positions_text(last_conv(BOOK), 64, zero_one, keep_one, 0.99, 2000)
    assert f"Losing position (2, 1) hurts most: {0.99 - drop:.1%}, {drop * 100:.1f} points" in text
    assert "The best one alone, (0, 2), gives 35.0% against 10% for guessing: one window already" in text
    essential = "No single position is essential" in text
    assert essential == (drop < ESSENTIAL_POSITION_DROP)
    assert "18×18 window" in text and "neighbours are 4 pixels apart" in text


def test_a_one_by_one_map_is_one_position_without_neighbours():
    geo = last_conv(PRESETS["one_by_one"])
    assert geo.size == 1
    text = texts.positions_text(geo, 64, np.array([[0.1]]), np.array([[0.98]]), 0.98, 500)
    assert "has one position" in text and "neighbours" not in text and "pixels apart" not in text


def test_channels_text_counts_harmless_channels_at_the_threshold():
    accuracy = np.array([0.99, 0.99 - HARMLESS_CHANNEL_DROP, 0.99 - 2 * HARMLESS_CHANNEL_DROP, 0.90])
    text = texts.channels_text("conv2d_2", accuracy, np.argsort(accuracy), 0.99)
    assert "Losing channel 3 costs most (9.00 points); 2 of the 4 channels" in text
    assert "carries much of what" in text  # a 9-point drop: one channel matters
    small = texts.channels_text("conv2d_2", accuracy[:3], np.argsort(accuracy[:3]), 0.99)
    assert "spread over many detectors" in small


def test_depth_text_states_the_measured_spans():
    text = texts.depth_text([0.9912, 0.9870, 0.9901], [93322, 36928, 409664])
    assert "3 runs; test accuracy spans 98.70%–99.12% (0.42 points)" in text
    assert "36,928–409,664 (11×)" in text
    assert "python -m" not in text


def test_depth_text_describes_only_a_chart_that_is_drawn():
    assert texts.depth_text([0.99], [93322]) == ""  # one run: no chart, no panels to compare
    assert "(this one in red)" in texts.depth_text([0.99, 0.98], [93322, 14410])
    unmarked = texts.depth_text([0.99, 0.98], [93322, 14410], marked=False)
    assert "two panels" in unmarked and "in red" not in unmarked
    assert "this run is not among them" in texts.depth_note("fast preset", 9)


def test_gradcam_text_speaks_of_the_chart_colours_and_names_the_hottest_position():
    coarse = np.array([[0.0, 0.2, 0.6], [0.1, 1.0, 0.3], [0.0, 0.55, 0.0]])
    text = texts.gradcam_text("conv2d_2", 7, coarse)
    assert "Bright" not in text and "bright" not in text
    assert "**Dark red** marks where the evidence *for* 7 is strongest" in text
    assert "hottest position is (1, 1); 3 positions of 9 reach half its heat or more ((1, 1), (0, 2), (2, 1))" in text
    # The words match the colour scales the chart uses: the top is dark red, nothing is transparent.
    assert OVERLAY_COLORSCALE[-1][1] == "rgba(122, 4, 3, 0.8)" and OVERLAY_COLORSCALE[0][1].endswith(", 0)")
    assert HEAT_COLORSCALE == "Turbo"  # plotly's Turbo ends in dark red (#7a0403)
    assert "nothing to localise" in texts.gradcam_text("c", 3, np.ones((1, 1)))
    assert "zero everywhere" in texts.gradcam_text("c", 3, np.zeros((3, 3)))


def test_log_axis_ticks_are_round_numbers_with_their_own_labels():
    ticks = log_ticks([36928, 93322, 409664])
    assert [si_number(t) for t in ticks] == ["50k", "100k", "200k", "500k"]
    assert [si_number(t) for t in log_ticks([1000, 1_000_000])] == ["1k", "10k", "100k", "1M"]
    assert len(log_ticks([93322, 101770])) >= 2
    fig = depth_size_chart([3, 5, 1], [0.99, 0.98, 0.985], [93322, 409664, 36928], ["a", "b", "c"])
    assert list(fig.layout.yaxis2.ticktext) == ["50k", "100k", "200k", "500k"]
    assert list(fig.layout.yaxis2.tickvals) == ticks
