"""The convolution animation's numbers: numpy's convolution equals Keras's, and the frames cover the map."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dashboard.charts.conv_animation import convolution_chart
from dashboard.network import convolution


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [3, 5])
def test_numpy_convolution_equals_keras(padding, stride, kernel):
    rng = np.random.default_rng(kernel * 10 + stride)
    x = rng.normal(size=(1, 13, 13, 4)).astype(np.float32)
    layer = keras.layers.Conv2D(6, kernel, strides=stride, padding=padding, activation="relu")
    layer.build(x.shape)
    w, b = (np.asarray(v) for v in layer.get_weights())
    b = rng.normal(size=b.shape).astype(np.float32)
    layer.set_weights([w, b])
    expected = np.asarray(layer(x))[0]
    for channel in range(6):
        z, out = convolution.convolve_channel(x[0], w[:, :, :, channel], b[channel], stride, padding)
        np.testing.assert_allclose(out, expected[:, :, channel], atol=1e-4)
        np.testing.assert_allclose(out, np.maximum(z, 0))


def test_frames_by_position_or_by_row():
    small = convolution.steps(3, 3, 3)
    assert len(small) == 9 and small[-1].written == 9 and small[4].position == (1, 1)
    assert (small[4].top, small[4].left, small[4].bottom, small[4].right) == (1, 1, 3, 3)
    big = convolution.steps(26, 26, 3)
    assert len(big) == 26 and big[-1].written == 676 and big[0].position is None and big[0].right == 27
    same = convolution.steps(14, 14, 3, stride=2, pad_top=0, pad_left=0)
    assert same[1].left == 2
    assert convolution.pad_before(28, 3, 1, "same") == 1 and convolution.pad_before(28, 3, 1, "valid") == 0


def test_animation_figure_has_a_frame_per_step_and_ends_with_the_full_map():
    rng = np.random.default_rng(0)
    inputs = rng.random((7, 7)).astype(np.float32)
    out = rng.random((5, 5)).astype(np.float32)
    frames = convolution.steps(5, 5, 3)
    fig = convolution_chart(inputs, out, frames, "t", "in", "out")
    assert len(fig.frames) == 25 and len(fig.layout.sliders[0].steps) == 25
    np.testing.assert_allclose(np.asarray(fig.frames[-1].data[0].z, dtype=float), out)
    assert np.isnan(np.asarray(fig.frames[0].data[0].z, dtype=float)).sum() == 24
    assert convolution.shown_input_channel(np.stack([np.zeros((3, 3)), np.ones((3, 3))], axis=-1)) == 1


@pytest.mark.parametrize("out_side", [5, 14, 20], ids=["by position", "196 positions", "by row"])
def test_the_unvalidated_animation_is_a_valid_plotly_figure(out_side):
    """The chart is built without plotly's checks (for speed): every property must still pass them."""
    import plotly.graph_objects as go

    rng = np.random.default_rng(out_side)
    frames = convolution.steps(out_side, out_side, 3)
    fig = convolution_chart(rng.random((out_side + 2, out_side + 2)), rng.random((out_side, out_side)), frames,
                            "t", "in", "out")
    checked = go.Figure(fig.to_dict())  # validating: raises on any unknown property or bad value
    assert checked.to_dict() == fig.to_dict() and len(checked.frames) == len(frames)
