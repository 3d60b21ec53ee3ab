"""Architecture: change the network, see every layer's shape, parameters and receptive field."""

from __future__ import annotations

import streamlit as st

from dashboard.ui import network_summary, page_setup, state, widgets

page_setup.setup("Architecture")
st.caption(
    "Change the network in the sidebar: output shapes, parameter counts and receptive fields are "
    "worked out from the layers' arithmetic (the same numbers Keras reports), without building the "
    "network. Nothing is trained here."
)

initial = state.current_spec()
with st.sidebar:
    st.header("Network")
    edited, problems = widgets.spec_editor("arch", initial)

if problems:
    st.error("This network cannot be built:\n\n" + "\n".join(f"- {p}" for p in problems))
    spec = initial  # always valid: the session keeps only networks that built
    st.caption(f"Below: the last network that could be built (`{spec.describe()}`).")
else:
    spec = edited
    state.set_spec(spec)

other = network_summary.compare_choice(spec)
network_summary.show_networks(spec, other)
network_summary.imported_models()
