"""Cached channel atlas of a run's conv layer, and where one channel fires on a digit.

The atlas (top windows and patterns: ~1 MB of arrays for the book network's last layer) is
`st.cache_data` keyed by run, layer and data, at most `MAX_ATLASES` kept, and kept beside the run
(`dashboard.store.stored`) so that it is built once per run, layer and test set. The atlas, a layer's
maps of one digit and its input for the convolution animation all come from the run's model
(`dashboard.ui.run_picker.run_model`: numpy, no Keras model to load), cached per digit and shared,
never mutated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from dashboard.host import one_blas_thread
from dashboard.mnist.digits import image_digest
from dashboard.ui import cached
from dashboard.ui.run_picker import kept_result, result_file, run_model
from dashboard.ui.session_memory import released_when_idle

one_blas_thread()  # numpy work here on one BLAS thread: see dashboard.host

MAX_ATLASES = 16  # ≤ ~2 MB each
MAX_IMAGES = 5_000  # test images searched for top windows (the first half of the full test set: plenty for a top 9)


@released_when_idle
@st.cache_data(show_spinner="Building the channel atlas (top windows and gradient ascent)…", max_entries=MAX_ATLASES, ttl=cached.IDLE_TTL)
def channel_atlas(run_key: str, run_id: str, layer_name: str, data_fingerprint: str):  # -> dashboard.inspection.channel_atlas.Atlas
    """The atlas of conv layer `layer_name` of run `run_key` (its model's `cache_id`: `run_id`), over the test
    images in use (kept beside the run)."""
    from dashboard.inspection import results

    data = cached.mnist()
    if data.fingerprint != data_fingerprint:
        raise ValueError("the data changed since this page was opened; reload the page")
    run = run_model(run_key)
    geo = run.geometry_of(layer_name)
    return kept_result(
        run_key, result_file(run_key, "atlas", data_fingerprint, layer_name),
        lambda stored: results.atlas_from(stored, layer_name, geo, data.x_test),
        lambda: run.atlas(layer_name, data.x_test[:MAX_IMAGES]),
        results.atlas_bytes,
    )


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=16, ttl=cached.IDLE_TTL)
def _around(run_key: str, layer_name: str, digit: str, *, _image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(input, output) of the layer for one digit, (h, w, c) each, read-only, by the run's model."""
    before, after = (np.array(x) for x in run_model(run_key).around(layer_name, _image))
    before.flags.writeable = after.flags.writeable = False  # shared by every session
    return before, after


def layer_maps(run_key: str, layer_name: str, image: np.ndarray) -> np.ndarray:
    """The layer's maps (h, w, c), read-only, for one (28, 28) float image in [0, 1]."""
    return _around(run_key, layer_name, image_digest(image), _image=image)[1]


def convolution_figure(run_key: str, layer_name: str, channel: int, image: np.ndarray, digit_name: str) -> Any:
    """The animation of channel `channel` of conv layer `layer_name` computed on one (28, 28) image
    (built once per run, layer, channel and digit, and shared: never mutate it)."""
    return _convolution_figure(run_key, layer_name, channel, image_digest(image), digit_name, _image=image)


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=16, ttl=cached.IDLE_TTL)
def _convolution_figure(run_key: str, layer_name: str, channel: int, digit: str, digit_name: str, *,
                        _image: np.ndarray) -> Any:
    from dashboard.charts.conv_animation import convolution_chart
    from dashboard.network import convolution

    kernel, bias, stride, padding = run_model(run_key).conv_step(layer_name)  # (k, k, c_in, c_out), (c_out,)
    inputs = _around(run_key, layer_name, digit, _image=_image)[0]  # (h, w, c_in): the digit, or the previous layer's output
    first = inputs.shape == (28, 28, 1)  # the digit itself
    k = kernel.shape[0]
    _, out = convolution.convolve_channel(inputs, kernel[:, :, :, channel], bias[channel], stride, padding)
    pad = convolution.pad_before(inputs.shape[0], k, stride, padding)
    frames = convolution.steps(out.shape[0], out.shape[1], k, stride, pad, pad)
    shown = convolution.shown_input_channel(kernel[:, :, :, channel])
    c_in = inputs.shape[-1]
    input_title = (
        f"input: {digit_name} (28×28)" if first
        else f"input: channel {shown} of {c_in} (the one this filter weighs most)"
    )
    per = "each position" if frames[0].position is not None else "each row"
    return convolution_chart(
        inputs[:, :, shown], out, frames,
        f"{layer_name}, filter {channel}: a {k}×{k}×{c_in} kernel slides over its input ({per} a frame)",
        input_title, f"output channel {channel}: {out.shape[0]}×{out.shape[1]} (after ReLU)",
    )
