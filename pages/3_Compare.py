"""Compare: every cached run in one table, their curves on one chart, and one run's mistakes."""

from __future__ import annotations

import streamlit as st

from dashboard.store.seeds import group_runs
from dashboard.ui import compare_panels, page_paths, page_setup, run_picker

page_setup.setup("Compare", ":material/compare_arrows: Compare runs")
st.caption(
    "Every run trained on this server (and the ones shipped with the app), with the data it was trained on. "
    "A run is trained once: the same network, settings, data and seed always come from the cache."
)

runs = run_picker.cached_runs()
if not runs:
    st.info("No trained runs yet: train one on the Train page, or warm the cache with "
            "`python -m dashboard warm --grid workshop`.", icon=":material/info:")
    st.page_link(page_paths.TRAIN, label="Train a network", icon=":material/model_training:")
    st.stop()

n_networks = len(group_runs(runs))
st.subheader(f"{n_networks} network{'s' if n_networks != 1 else ''} and trainings, their seeds together")
compare_panels.groups_table(runs)
with st.expander(f"Every cached run, each seed apart ({len(runs)})"):
    compare_panels.runs_table(runs)
st.subheader("Side by side")
compare_panels.side_by_side(runs)
st.subheader("One run up close")
compare_panels.up_close(runs)
