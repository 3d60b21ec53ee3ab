"""Train: fit the current network with chosen settings as a job, watch it learn, or get it from the cache."""

from __future__ import annotations

import streamlit as st

from dashboard.network.spec import preset_name
from dashboard.ui import cached, family_panel, jobs_panel, page_paths, page_setup, run_picker, state, text, train_panels
from dashboard.views.train_form import train_view

page_setup.setup("Train", ":material/model_training: Train")

spec = state.current_spec()
st.markdown(f"Network: **{preset_name(spec) or 'custom'}** · `{spec.describe()}`")
st.page_link(page_paths.ARCHITECTURE, label="Change the network on Architecture", icon=":material/architecture:")

with st.sidebar:
    st.header("Training settings")
    data_key, data, choices = train_panels.data_radio()
    settings = train_panels.settings_form(len(data.x_train))
for note in data.notes:
    text.caption(f"Data note: {note}")
if settings is None:
    st.stop()
train_panels.settings_to_url(spec, data_key)
train_panels.describe(settings, data)
train_panels.remember_shown(spec, data_key)  # what the Train button's callback submits
train_panels.train_button(spec, settings, data)

data_keys = {cached.mnist(key).fingerprint: key for key in choices}
runs = run_picker.cached_runs()
view = train_view(spec, settings, data, runs, jobs_panel.manager().job_for_key, data_keys)
train_panels.refused_notice()
jobs_panel.show_notice()
train_panels.show_view(view, data, runs)
if view.related:
    train_panels.related_runs(view.related, choices, data_keys)
family_panel.family_section(spec, settings, data, data_key)
