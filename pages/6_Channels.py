"""What each channel looks for: the top test windows and the preferred pattern of every channel (book 5.4)."""

from __future__ import annotations

import streamlit as st

from dashboard.ui import atlas_cache, cached, channel_panels, page_setup
from dashboard.ui.run_picker import cached_runs, load_run_model, run_picker
from dashboard.ui.state import set_url, url_token

page_setup.setup("What channels look for", "What each channel looks for")
st.caption(
    "A channel is one filter of a conv layer, read at every position. For each channel: the "
    "windows of the test images that excite it most, and the input it likes best, found by "
    "gradient ascent from a grey image (Deep Learning with Python, 5.4). Click a channel to see "
    "where it fires on your digit."
)

record = run_picker("Trained run", key="atlas_run", runs=cached_runs())
if record is None:
    st.stop()
run = load_run_model(record)  # None after a message if the entry is damaged
if run is None:
    st.stop()
convs = run.channel_layers  # the conv layers whose channels this page draws
if not convs:
    st.info("This run has no conv layer whose channels this page can draw (a plain ReLU convolution on a chain "
            "of layers): pick another run.", icon=":material/info:")
    st.stop()

names = [g.name for g in convs]
if st.session_state.get("atlas_layer") not in names:
    st.session_state["atlas_layer"] = url_token("layer", allowed=names) or names[-1]
shapes = {g.name: f"{g.name} ({g.size}×{g.size}×{g.channels})" for g in convs}
layer_name = st.selectbox(
    "Conv layer", names, key="atlas_layer", persist_state="session",
    format_func=lambda n: shapes[n] + (" · the last one" if n == names[-1] else ""),
)
set_url(layer=None if layer_name == names[-1] else layer_name)
geo = next(g for g in convs if g.name == layer_name)

data = cached.mnist()
atlas = atlas_cache.channel_atlas(record.key, run.cache_id, layer_name, data.fingerprint)
channel_panels.channel_views(record.key, layer_name, geo, atlas)
