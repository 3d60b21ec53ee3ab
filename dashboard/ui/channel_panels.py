"""The Channels page below its pickers, as one fragment: a click or a slider reruns only this part.

The atlas of every channel (its frame follows the chosen channel), the channel slider, the
digit input, where the chosen channel fires on the digit, and the convolution animation all
change together; the run and layer pickers above them rerun the whole page.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import streamlit as st

from dashboard.charts.atlas import RING_NAMES, atlas_chart, channel_on_digit_chart, window_boxes
from dashboard.inspection import channel_atlas
from dashboard.mnist.digits import image_digest
from dashboard.network.decode import article
from dashboard.network.spec import LayerGeometry
from dashboard.ui import atlas_cache, cached, pick
from dashboard.ui.chart import CONFIG
from dashboard.ui.session_memory import released_when_idle
from dashboard.ui.state import set_url, url_int


def atlas_text(layer_name: str, geo: LayerGeometry, atlas) -> str:  # atlas: dashboard.inspection.channel_atlas.Atlas
    """What the atlas shows, with its measured pattern gains."""
    channels, rf = atlas.channels, geo.receptive_field
    gain = atlas.pattern_means - atlas.grey_means
    return (
        f"**{channels} channels of `{layer_name}`**, each seeing {article(rf)} {rf}×{rf} "
        f"window of the digit. Left: for every channel, the {atlas.windows.crops.shape[1]} test images "
        f"(of {atlas.n_images:,} searched, one window each) where it responds most, cropped to the window "
        "its strongest position sees. Right: the 28×28 input grown by gradient ascent to raise the "
        "channel's mean activation, contrast stretched (grey = no change). On its own pattern the median "
        f"channel averages {float(np.median(atlas.pattern_means)):.2f}, against "
        f"{float(np.median(atlas.grey_means)):.2f} on plain grey; "
        f"{int((gain > 0).sum())} of {channels} channels are raised by their pattern."
    )


def on_digit_text(channel: int, channel_map: np.ndarray, strongest: list, geo: LayerGeometry, best_window: float) -> str:
    """Where channel `channel` fires on the digit, against its strongest test window; colours as drawn."""
    if not strongest:
        return (f"Channel {channel} stays at zero everywhere on this digit: the pattern it looks for "
                "(its top windows above) is not there. Try another digit or channel.")
    row, col, value = strongest[0]
    top, left, bottom, right = geo.window(row, col)
    share = value / best_window if best_window > 0 else 0.0
    active = int((channel_map > 0).sum())
    others = [f"{RING_NAMES[i]}: ({r}, {c}), {v:.2f}" for i, (r, c, v) in enumerate(strongest[1:], start=1)]
    return (
        f"Channel {channel}'s map on this digit is {channel_map.shape[0]}×{channel_map.shape[1]}; "
        f"it is on at {active} of {channel_map.size} positions. It fires most at position "
        f"({row}, {col}), whose window is rows {top}–{bottom}, columns {left}–{right} ({RING_NAMES[0]} box), "
        f"with {value:.2f}: {share:.0%} of its strongest test window ({best_window:.2f}). "
        + (f"The next strongest positions ({'; '.join(others)}) have the other boxes. " if others else "")
        + "The colour scale runs up to that strongest test window, so a faint map means the pattern is "
        "weak here.\n\nCompare the windows under the boxes with the channel's top windows above."
    )


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=16, ttl=cached.IDLE_TTL)
def atlas_figure(run_key: str, layer_name: str, data_fingerprint: str, selected: int, *, _atlas) -> Any:
    """The atlas chart of `_atlas` (run `run_key`, layer `layer_name`) with channel `selected` marked,
    built once and shared (read-only)."""
    return atlas_chart(_atlas.windows.crops, _atlas.patterns, f"{layer_name}: what each channel looks for",
                              selected=selected)


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=16, ttl=cached.IDLE_TTL)
def on_digit_figure(run_key: str, layer_name: str, channel: int, digit: str, digit_name: str, peak: float, *,
                    _image: np.ndarray, _map: np.ndarray, _geo: LayerGeometry, _strongest) -> Any:
    """Channel `channel` of `layer_name` on the digit `_image` (named `digit`), its colour scale up to `peak`
    (the atlas's strongest window: part of the key, as it comes from the atlas, not the digit), built once."""
    return channel_on_digit_chart(
        _image, channel_atlas.channel_overlay(_map, _geo), window_boxes(_geo, _strongest),
        f"Channel {channel} of {layer_name} on {digit_name}", peak=peak,
    )


@st.fragment
def channel_views(run_key: str, layer_name: str, geo: LayerGeometry, atlas) -> None:  # atlas: dashboard.inspection.channel_atlas.Atlas
    """The atlas, the channel slider, the digit, the chosen channel on it, and its convolution.

    The digit is read first (its controls drawn below the slider) so that the page opens on the
    channel that fires most on it, unless the link names a channel.
    """
    from dashboard.ui.digit_input import digit_input

    channels = atlas.channels
    st.markdown(atlas_text(layer_name, geo, atlas))
    atlas_box = st.container()
    st.header("Where one channel fires on your digit")
    slider_box = st.container()
    digit = digit_input("atlas")
    maps = None if digit is None else atlas_cache.layer_maps(run_key, layer_name, digit.image)  # (h, w, c)
    if st.session_state.get("atlas_channel") not in range(channels):
        opening = 0 if maps is None else channel_atlas.strongest_channel(maps)
        st.session_state["atlas_channel"] = url_int("channel", 0, channels - 1, opening)
    with atlas_box:
        pick.clickable_chart(
            atlas_figure(run_key, layer_name, cached.mnist().fingerprint, int(st.session_state["atlas_channel"]),
                         _atlas=atlas),
            key="atlas_chart", widget_keys=["atlas_channel"], valid=lambda v: 0 <= v[0] < channels, config=CONFIG,
        )
    with slider_box:
        channel = st.slider("Channel (or click one above)", 0, channels - 1, key="atlas_channel", persist_state="session")
    set_url(channel=channel)
    if digit is None:
        return
    digit_name = html.escape(digit.description)  # may hold an uploaded file's name: plotly titles read HTML

    channel_map = maps[:, :, channel]  # (h, w)
    strongest = channel_atlas.strongest_positions(channel_map, k=3)
    best_window = float(atlas.windows.scores[channel, 0])
    chart_col, text_col = st.columns([3, 2])
    with chart_col:
        st.plotly_chart(
            on_digit_figure(run_key, layer_name, channel, image_digest(digit.image), digit_name, best_window,
                            _image=digit.image, _map=channel_map, _geo=geo, _strongest=strongest),
            key="atlas_on_digit", config=CONFIG,
        )
    with text_col:
        st.markdown(on_digit_text(channel, channel_map, strongest, geo, best_window))

    st.header("Watch a convolution happen")
    st.caption(
        f"Filter {channel} of `{layer_name}` sliding over its input for this digit: at each place it multiplies "
        "its weights with the window under it, adds them up with its bias, keeps the result if positive "
        "(ReLU) and writes it to its map. Press Play or drag the slider."
    )
    st.plotly_chart(
        atlas_cache.convolution_figure(run_key, layer_name, channel, digit.image, digit_name), key="atlas_convolution",
        config=CONFIG,
    )
