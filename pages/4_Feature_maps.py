"""Feature maps: draw a digit and watch a trained network read it, layer by layer."""

from __future__ import annotations

import streamlit as st

from dashboard.ui import map_panels, page_setup, run_picker
from dashboard.ui.state import set_url

page_setup.setup("Feature maps")
st.caption(
    "Draw a digit, pick a test image or upload a picture, and follow it through a trained network: "
    "every conv and pooling layer's maps, the prediction, and the window of the digit that each "
    "position of the last conv layer sees."
)

records = run_picker.cached_runs()
with st.sidebar:
    st.header("Trained run")
    first = run_picker.run_picker("Run", key="fm_run", runs=records) if records else None
    second = None
    if first is not None and len(records) > 1:
        if st.toggle("Compare with a second run", value="run2" in st.query_params, key="fm_compare", persist_state="session"):
            second = run_picker.run_picker(
                "Second run", key="fm_run2", default_key=map_panels.second_default(records, first), url_name="run2", runs=records
            )
        else:
            set_url(run2=None)

if not records:
    st.info("No trained runs yet: train one on the **Train** page, then come back.", icon=":material/info:")
map_panels.digit_and_maps([r for r in (first, second) if r is not None])
