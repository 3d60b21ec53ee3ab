"""Exercises: a workshop's short tasks, each checked by the app; progress can be downloaded."""

from __future__ import annotations

import streamlit as st

from dashboard.ui import exercise_panels, page_setup

page_setup.setup("Exercises")
st.caption(
    "Short tasks for a workshop: predict, then check. Shapes and parameter counts are checked "
    "against Keras building the network; trained networks against the run the cache recorded."
)

seq = exercise_panels.sequence()
exercise_panels.progress_upload(seq)  # first: a progress file may change the step
item = exercise_panels.current(seq)
answer = exercise_panels.answer_input(item)
exercise_panels.check_buttons(item, answer)
exercise_panels.network_caption(item, after_check=True)  # a network to build: one solution, once one is checked
exercise_panels.show_feedback(item)
exercise_panels.step_buttons(len(seq))
exercise_panels.progress_sidebar(seq)
exercise_panels.remember()  # in this browser's storage: a reload keeps the progress
