"""Train: fit the current network with chosen settings as a job, watch it learn, or get it from the cache."""

from __future__ import annotations

import streamlit as st

from dashboard.spec import preset_name
from dashboard.trainform import train_view
from dashboard.ui import cached, nav, page_paths, state, text
from dashboard.ui import family as ui_family
from dashboard.ui import jobs as ui_jobs
from dashboard.ui import runs as ui_runs
from dashboard.ui import train as ui

st.set_page_config(page_title="Train · ConvNet Explorer", page_icon=nav.FAVICON, layout="wide")
nav.sidebar_nav()
st.title(":material/model_training: Train")

spec = state.current_spec()
st.markdown(f"Network: **{preset_name(spec) or 'custom'}** · `{spec.describe()}`")
st.page_link(page_paths.ARCHITECTURE, label="Change the network on Architecture", icon=":material/architecture:")

with st.sidebar:
    st.header("Training settings")
    data_key, data, choices = ui.data_radio()
    settings = ui.settings_form(len(data.x_train))
for note in data.notes:
    text.caption(f"Data note: {note}")
if settings is None:
    st.stop()
ui.settings_to_url(spec, data_key)
ui.describe(settings, data)
ui.remember_shown(spec, data_key)  # what the Train button's callback submits
ui.train_button(spec, settings, data)

data_keys = {cached.mnist(key).fingerprint: key for key in choices}
runs = ui_runs.cached_runs()
view = train_view(spec, settings, data, runs, ui_jobs.manager().job_for_key, data_keys)
ui.refused_notice()
ui_jobs.show_notice()
ui.show_view(view, data, runs)
if view.related:
    ui.related_runs(view.related, choices, data_keys)
ui_family.family_section(spec, settings, data, data_key)
