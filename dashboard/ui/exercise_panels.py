"""Streamlit side of the workshop: the session's step and progress, the answer box, feedback, the list.

The logic (checking, progress, what counts as solved) is `dashboard.workshop.exercises`; this module keeps
it in `st.session_state`, draws it, and moves between exercises in widget callbacks that only
change the step. Feedback is plain text (it may quote the learner's answer). The progress is also
kept in the browser's own storage (`dashboard.ui.learner`), so that a reload keeps it; never in
the URL.
"""

from __future__ import annotations

import streamlit as st

from dashboard.store.seeds import group_of
from dashboard.ui import learner, page_paths, state, text
from dashboard.ui.run_picker import cached_runs, model_cache
from dashboard.views import links
from dashboard.views.labels import run_title
from dashboard.workshop import exercises

PROGRESS = "ex_progress"  # the learner's progress dict (JSON-ready)
STEP = "ex_step"  # index of the exercise shown
FEEDBACK = "ex_feedback"  # the `exercises.Feedback` of the last check or reveal
UPLOADED = "ex_uploaded"  # file id of the last progress file applied
LINK_WARNING = "ex_link_warning"  # why the link's step was not used, kept for the session's reruns
RESTORED = "ex_restored"  # True once the browser's stored progress has been considered

ICONS = {"solved": ":material/check_circle:", "revealed": ":material/visibility:",
         "open": ":material/radio_button_unchecked:"}
STATUS_WORDS = {"solved": "solved", "revealed": "answer shown", "open": "open"}


def sequence() -> list[exercises.Exercise]:
    """The exercises, reading runs from this server's model cache; the session starts at the URL's step."""
    seq = exercises.exercises(lookup=lambda key: model_cache().get(key),
                       siblings=lambda record: group_of(record, cached_runs()))
    if not isinstance(st.session_state.get(PROGRESS), dict):
        st.session_state[PROGRESS] = exercises.new_progress()
    if STEP not in st.session_state:
        step, warning = links.int_from_params(state.query_values(), "step", 1, len(seq), 1)  # 1-based in the URL
        st.session_state[STEP], st.session_state[LINK_WARNING] = step - 1, warning
    if st.session_state.get(LINK_WARNING):  # shown until the learner moves: the browser's answer reruns the page
        text.warning(st.session_state[LINK_WARNING])
    restore(seq)
    return seq


def restore(seq: list[exercises.Exercise]) -> None:
    """Once per session, the progress this browser stored (rechecked) if the session has none of its own."""
    if st.session_state.get(RESTORED):
        return
    if not learner.browser_read():
        learner.wait_for_browser()
        return
    st.session_state[RESTORED] = True
    stored = learner.stored_progress()
    if stored is None or st.session_state[PROGRESS].get("answers"):
        return
    loaded, _ = exercises.progress_from_json(stored, seq)
    st.session_state[PROGRESS] = exercises.with_step(loaded, st.session_state[STEP])


def remember() -> None:
    """Keep the progress (without the step, which the URL holds) in the browser's storage, once there is some."""
    progress = st.session_state[PROGRESS]
    if progress.get("answers") or learner.stored_progress() is not None:
        learner.save_progress(exercises.progress_to_json(exercises.with_step(progress, 0)))


def go_to(step: int, count: int) -> None:
    """Widget callback: only moves the step; the rerun draws it."""
    st.session_state[STEP] = max(0, min(count - 1, step))
    st.session_state[PROGRESS] = exercises.with_step(st.session_state[PROGRESS], st.session_state[STEP])
    st.session_state.pop(LINK_WARNING, None)


def progress_upload(seq: list[exercises.Exercise]) -> None:
    """The sidebar's uploader: a progress file replaces the session's progress (and its step), once."""
    with st.sidebar:
        st.header("Progress")
        uploaded = st.file_uploader("Continue from a progress file", type=["json"], key="ex_upload")
    if uploaded is None or st.session_state.get(UPLOADED) == uploaded.file_id:
        return
    st.session_state[UPLOADED] = uploaded.file_id
    loaded, warnings = exercises.progress_from_json(uploaded.getvalue(), seq)
    with st.sidebar:
        for warning in warnings:
            text.warning(warning)
    st.session_state[PROGRESS] = loaded
    st.session_state[STEP] = loaded["step"]
    st.session_state.pop(FEEDBACK, None)


def current(seq: list[exercises.Exercise]) -> exercises.Exercise:
    """The exercise at the session's step, with its number and prompt drawn; the step goes to the URL."""
    step = st.session_state[STEP]
    item = seq[step]
    state.set_url(step=step + 1)
    st.subheader(f"{step + 1}. {item.title}")
    st.markdown(item.prompt)
    network_caption(item, after_check=False)
    return item


def network_caption(item: exercises.Exercise, after_check: bool) -> None:
    """The network the exercise is about, under its prompt; a network to build is named after the
    Check button (one solution, once the learner has checked or revealed an answer)."""
    caption = exercises.network_caption(item, st.session_state[PROGRESS])
    if caption and after_check == (item.kind == "network"):
        st.caption(caption)


def _run_answer(key: str) -> str:
    st.page_link(page_paths.TRAIN, label="Train a network", icon=":material/model_training:")
    runs = cached_runs()
    if not runs:
        st.info("No trained runs yet: train one on the Train page, then come back.", icon=":material/info:")
        return ""
    by_key = {r.key: r for r in runs}
    chosen = st.selectbox("Your run", list(by_key), index=None, key=key, persist_state="session",
                          format_func=lambda k: f"{run_title(by_key[k])} · {by_key[k].params:,} params")
    return chosen or ""


def answer_input(item: exercises.Exercise) -> str:
    """The answer widget for the exercise's kind; its value as text ('' when none)."""
    key = f"ex_answer_{item.id}"  # answers stay while the learner moves around (persist_state)
    if item.kind in ("shape", "number"):
        return st.text_input("Your answer", key=key, placeholder=item.placeholder, max_chars=200, persist_state="session")
    if item.kind == "choice":
        picked = st.radio("Your answer", list(range(len(item.choices))), index=None,
                          format_func=lambda i: item.choices[i], key=key, persist_state="session")
        return "" if picked is None else str(picked + 1)
    if item.kind == "network":
        st.page_link(page_paths.ARCHITECTURE, label="Build it on Architecture", icon=":material/account_tree:")
        if st.button("Use my current network (from the Architecture page)", key="ex_use_current"):
            st.session_state[key] = state.current_spec().to_json()
        return st.text_area("Your network as JSON", key=key, height=120, max_chars=exercises.MAX_ANSWER_CHARS,
                        persist_state="session")
    return _run_answer(key)


def check_buttons(item: exercises.Exercise, answer: str) -> None:
    """Check and Show the answer; either updates progress and the feedback shown below."""
    row = st.container(horizontal=True)
    checked = row.button("Check", key="ex_check", type="primary", icon=":material/task_alt:")
    revealed = item.reveal is not None and row.button("Show the answer", key="ex_reveal",
                                                      icon=":material/visibility:")
    if checked or revealed:
        act = exercises.attempt if checked else exercises.reveal
        st.session_state[PROGRESS], st.session_state[FEEDBACK] = act(st.session_state[PROGRESS], item, answer)


def show_feedback(item: exercises.Exercise) -> None:
    """The last feedback on this exercise, then its evidence from the cache and its hint."""
    feedback = st.session_state.get(FEEDBACK)
    if isinstance(feedback, exercises.Feedback) and feedback.exercise_id == item.id:
        if feedback.status == "revealed":
            text.info(feedback.message, icon=":material/visibility:")
        elif feedback.status == "right":
            text.success(feedback.message)
        else:
            text.error(feedback.message, icon=":material/cancel:")
        if item.evidence is not None:
            for line in item.evidence(cached_runs()):
                st.caption(line)
    with st.expander("Hint", icon=":material/lightbulb:"):
        st.markdown(item.hint)


def step_buttons(count: int) -> None:
    """Previous and Next."""
    step = st.session_state[STEP]
    row = st.container(horizontal=True)
    row.button("Previous", key="ex_prev", on_click=go_to, args=(step - 1, count), disabled=step == 0,
                icon=":material/arrow_back:")
    row.button("Next", key="ex_next", on_click=go_to, args=(step + 1, count), disabled=step == count - 1,
                   icon=":material/arrow_forward:")


def progress_sidebar(seq: list[exercises.Exercise]) -> None:
    """How many are solved, one button per exercise (its status as an icon and in its help), the download."""
    progress = st.session_state[PROGRESS]
    marks = exercises.statuses(progress, seq)
    with st.sidebar:
        solved = marks.count("solved")
        st.progress(solved / len(seq), text=f"{solved} of {len(seq)} solved")
        for i, (task, mark) in enumerate(zip(seq, marks)):
            st.button(f"{i + 1}. {task.title}", key=f"ex_goto_{i}", on_click=go_to, args=(i, len(seq)),
                      icon=ICONS[mark], help=STATUS_WORDS[mark].capitalize(),
                      type="primary" if i == st.session_state[STEP] else "secondary", width="stretch")
        st.download_button(
            "Download my progress", data=exercises.progress_to_json(exercises.with_step(progress, st.session_state[STEP])),
            file_name="convnet-exercises.json", mime="application/json", key="ex_download",
            on_click="ignore", icon=":material/download:",
        )
