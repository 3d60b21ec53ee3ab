"""What each channel looks for: the top test windows and the preferred pattern of every channel (book 5.4)."""

from __future__ import annotations

import html

import numpy as np
import streamlit as st

from dashboard.charts import atlas as charts
from dashboard.decode import article
from dashboard.spec import geometry
from dashboard.ui import atlas as ui_atlas
from dashboard.ui import cached, pick, text
from dashboard.ui.runs import cached_runs, load_run_model, run_picker
from dashboard.ui.state import kept, set_url, url_int, url_token

st.title("🔦 What each channel looks for")
st.caption(
    "A channel is one filter of a conv layer, read at every position. For each channel: the "
    "windows of the test images that excite it most, and the input it likes best, found by "
    "gradient ascent from a grey image (Deep Learning with Python, 5.4). Click a channel to see "
    "where it fires on your digit."
)

records = [r for r in cached_runs() if not r.is_imported]  # the atlas needs the app's network description
record = run_picker("Trained run", key="atlas_run", runs=records)
st.caption("Runs of imported models are not listed here yet: their layers have no network description.")
if record is None:
    st.stop()
spec = record.spec
if spec is None:
    st.info("The channel atlas reads networks described by the app; this run is an imported model: pick another run.",
            icon="ℹ️")
    st.stop()
if load_run_model(record) is None:
    st.stop()

convs = [g for g in geometry(spec) if g.kind == "Conv2D"]
names = [g.name for g in convs]
if st.session_state.get(kept("atlas_layer")) not in names:
    st.session_state["atlas_layer"] = url_token("layer", allowed=names) or names[-1]
shapes = {g.name: f"{g.name} ({g.size}×{g.size}×{g.channels})" for g in convs}
layer_name = st.selectbox(
    "Conv layer", names, key="atlas_layer",
    format_func=lambda n: shapes[n] + (" · the last one" if n == names[-1] else ""),
)
set_url(layer=None if layer_name == names[-1] else layer_name)
geo = next(g for g in convs if g.name == layer_name)

data = cached.mnist()
atlas = ui_atlas.channel_atlas(record.key, spec.to_json(), layer_name, data.fingerprint)
channels = atlas.channels
if st.session_state.get(kept("atlas_channel")) not in range(channels):
    st.session_state["atlas_channel"] = url_int("channel", 0, channels - 1, 0)

gain = atlas.pattern_means - atlas.grey_means
st.markdown(
    f"**{channels} channels of `{layer_name}`**, each seeing {article(geo.receptive_field)} {geo.receptive_field}×{geo.receptive_field} "
    f"window of the digit. Left: for every channel, the {atlas.windows.crops.shape[1]} test images "
    f"(of {atlas.n_images:,} searched, one window each) where it responds most, cropped to the window "
    "its strongest position sees. Right: the 28×28 input grown by gradient ascent to raise the "
    "channel's mean activation, contrast stretched (grey = no change). On its own pattern the median "
    f"channel averages {float(np.median(atlas.pattern_means)):.2f}, against "
    f"{float(np.median(atlas.grey_means)):.2f} on plain grey; "
    f"{int((gain > 0).sum())} of {channels} channels are raised by their pattern."
)
pick.clickable_chart(
    charts.atlas_chart(
        atlas.windows.crops, atlas.patterns, f"{layer_name}: what each channel looks for",
        selected=int(st.session_state["atlas_channel"]),
    ),
    key="atlas_chart",
    widget_keys=["atlas_channel"],
    valid=lambda v: 0 <= v[0] < channels,
)

st.header("Where one channel fires on your digit")
channel = st.slider("Channel (or click one above)", 0, channels - 1, key="atlas_channel")
set_url(channel=channel)
from dashboard.ui.digit_input import digit_input  # noqa: E402

digit = digit_input("atlas")
if digit is None:
    st.stop()
digit_name = html.escape(digit.description)  # may hold an uploaded file's name: plotly titles read HTML
from dashboard import atlas as atlas_math  # noqa: E402 - TensorFlow is loaded by now

layer_maps = ui_atlas.layer_maps(record.key, layer_name, digit.image)  # (h, w, c)
channel_map = layer_maps[:, :, channel]
strongest = atlas_math.strongest_positions(channel_map, k=3)
best_window = float(atlas.windows.scores[channel, 0])
chart_col, text_col = st.columns([3, 2])
with chart_col:
    st.plotly_chart(
        charts.channel_on_digit_chart(
            digit.image, atlas_math.channel_overlay(channel_map, geo), charts.window_boxes(geo, strongest),
            f"Channel {channel} of {layer_name} on {digit_name}", peak=best_window,
        ),
        key="atlas_on_digit",
    )
with text_col:
    if strongest:
        row, col, value = strongest[0]
        top, left, bottom, right = geo.window(row, col)
        share = value / best_window if best_window > 0 else 0.0
        active = int((channel_map > 0).sum())
        st.markdown(
            f"Channel {channel}'s map on this digit is {channel_map.shape[0]}×{channel_map.shape[1]}; "
            f"it is on at {active} of {channel_map.size} positions. It fires most at position "
            f"({row}, {col}), whose window is rows {top}–{bottom}, columns {left}–{right} (red box), "
            f"with {value:.2f}: {share:.0%} of its strongest test window ({best_window:.2f}). "
            "Orange and yellow boxes: the next strongest positions. The colour scale runs up to that "
            "strongest test window, so a faint map means the pattern is weak here.\n\n"
            "Compare the windows under the boxes with the channel's top windows above."
        )
    else:
        st.markdown(
            f"Channel {channel} stays at zero everywhere on this digit: the pattern it looks for "
            "(its top windows above) is not there. Try another digit or channel."
        )

st.header("Watch a convolution happen")
st.caption(
    f"Filter {channel} of `{layer_name}` sliding over its input for this digit: at each place it multiplies "
    "its weights with the window under it, adds them up with its bias, keeps the result if positive "
    "(ReLU) and writes it to its map. Press ▶ or drag the slider."
)
st.plotly_chart(
    ui_atlas.convolution_figure(record.key, layer_name, channel, digit.image, digit_name), key="atlas_convolution"
)
