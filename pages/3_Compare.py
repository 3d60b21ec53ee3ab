"""Compare: every cached run in one table, their curves on one chart, and one run's mistakes."""

from __future__ import annotations

import streamlit as st

from dashboard.seeds import group_runs
from dashboard.ui import compare as ui, page_paths
from dashboard.ui import nav
from dashboard.ui import runs as ui_runs

st.set_page_config(page_title="Compare · ConvNet Explorer", page_icon=nav.FAVICON, layout="wide")
nav.sidebar_nav()
st.title(":material/compare_arrows: Compare runs")
st.caption(
    "Every run trained on this server (and the ones shipped with the app), with the data it was trained on. "
    "A run is trained once: the same network, settings, data and seed always come from the cache."
)

runs = ui_runs.cached_runs()
if not runs:
    st.info("No trained runs yet: train one on the Train page, or warm the cache with "
            "`python -m dashboard warm --grid workshop`.", icon=":material/info:")
    st.page_link(page_paths.TRAIN, label="Train a network", icon=":material/model_training:")
    st.stop()

n_networks = len(group_runs(runs))
st.subheader(f"{n_networks} network{'s' if n_networks != 1 else ''} and trainings, their seeds together")
ui.groups_table(runs)
with st.expander(f"Every cached run, each seed apart ({len(runs)})"):
    ui.runs_table(runs)
st.subheader("Side by side")
ui.side_by_side(runs)
st.subheader("One run up close")
ui.up_close(runs)
