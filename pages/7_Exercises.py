"""Exercises: a workshop's short tasks, each checked by the app; progress can be downloaded."""

from __future__ import annotations

import streamlit as st

from dashboard.ui import exercises as ui_ex
from dashboard.ui import nav

st.set_page_config(page_title="Exercises · ConvNet Explorer", page_icon=nav.FAVICON, layout="wide")
nav.sidebar_nav()
st.title("Exercises")
st.caption(
    "Short tasks for a workshop: predict, then check. Shapes and parameter counts are checked "
    "against Keras building the network; trained networks against the run the cache recorded."
)

seq = ui_ex.sequence()
ui_ex.progress_upload(seq)  # first: a progress file may change the step
item = ui_ex.current(seq)
answer = ui_ex.answer_input(item)
ui_ex.check_buttons(item, answer)
ui_ex.network_caption(item, after_check=True)  # a network to build: one solution, once one is checked
ui_ex.show_feedback(item)
ui_ex.step_buttons(len(seq))
ui_ex.progress_sidebar(seq)
ui_ex.remember()  # in this browser's storage: a reload keeps the progress
