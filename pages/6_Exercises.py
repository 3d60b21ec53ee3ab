"""Exercises: a workshop's short tasks, each checked by the app; progress can be downloaded."""

from __future__ import annotations

import streamlit as st

from dashboard import exercises as ex
from dashboard.outside import code_span
from dashboard.spec import BOOK, PRESETS
from dashboard.ui import state, text
from dashboard.evaluation import paired_accuracies
from dashboard.labels import run_title
from dashboard.ui.runs import cached_runs, model_cache

st.title("🎓 Exercises")
st.caption(
    "Short tasks for a workshop: predict, then check. Shapes and parameter counts are checked "
    "against Keras building the network; trained networks against the run the cache recorded."
)

PROGRESS = "ex_progress"  # the learner's progress dict (JSON-ready)
STEP = "ex_step"  # index of the exercise shown
FEEDBACK = "ex_feedback"  # (exercise id, ok, markdown message) of the last check
UPLOADED = "ex_uploaded"  # file id of the last progress file applied

seq = ex.exercises(lookup=lambda key: model_cache().get(key))
if not isinstance(st.session_state.get(PROGRESS), dict):
    st.session_state[PROGRESS] = ex.new_progress()
if STEP not in st.session_state:
    st.session_state[STEP] = state.url_int("step", 1, len(seq), 1) - 1  # 1-based in the URL


def go_to(step: int) -> None:
    """Widget callback: only moves the step; the rerun draws it."""
    st.session_state[STEP] = max(0, min(len(seq) - 1, step))
    st.session_state[PROGRESS] = ex.with_step(st.session_state[PROGRESS], st.session_state[STEP])


# --- sidebar: upload first (it may change the step), the list and download at the end ----------

with st.sidebar:
    st.header("Progress")
    uploaded = st.file_uploader("Continue from a progress file", type=["json"], key="ex_upload")
    if uploaded is not None and st.session_state.get(UPLOADED) != uploaded.file_id:
        st.session_state[UPLOADED] = uploaded.file_id
        loaded, warnings = ex.progress_from_json(uploaded.getvalue(), seq)
        for warning in warnings:
            text.warning(warning)
        st.session_state[PROGRESS] = loaded
        st.session_state[STEP] = loaded["step"]
        st.session_state.pop(FEEDBACK, None)

# --- the exercise --------------------------------------------------------------------------

step = st.session_state[STEP]
item = seq[step]
state.set_url(step=step + 1)
st.subheader(f"{step + 1}. {item.title}")
st.markdown(item.prompt)
if item.spec is not None and item.kind != "run":
    st.caption(f"The network: `{item.spec.describe()}`")

answer_key = state.kept(f"ex_answer_{item.id}")  # answers stay while the learner moves around
if item.kind in ("shape", "number"):
    answer = st.text_input(
        "Your answer",
        key=answer_key,
        placeholder="e.g. (None, 26, 26, 32)" if item.kind == "shape" else "e.g. 1,234",
        max_chars=200,
    )
elif item.kind == "choice":
    picked = st.radio("Your answer", list(range(len(item.choices))), index=None,
                      format_func=lambda i: item.choices[i], key=answer_key)
    answer = "" if picked is None else str(picked + 1)
elif item.kind == "network":
    if st.button("Use my current network (from the Architecture page)", key="ex_use_current"):
        st.session_state[answer_key] = state.current_spec().to_json()
    answer = st.text_area("Your network as JSON", key=answer_key, height=120, max_chars=ex.MAX_ANSWER_CHARS)
else:  # a trained run
    runs = cached_runs()
    if not runs:
        st.info("No trained runs yet: train one on the **Train** page, then come back.", icon="ℹ️")
        answer = ""
    else:
        by_key = {r.key: r for r in runs}
        chosen = st.selectbox(
            "Your run", list(by_key), index=None, key=answer_key,
            format_func=lambda k: f"{run_title(by_key[k])} · {by_key[k].params:,} params",
        )
        answer = chosen or ""

left, middle, right = st.columns([1, 1, 3])
checked = left.button("Check", key="ex_check", type="primary")
revealed = item.reveal is not None and middle.button("Show the answer", key="ex_reveal")
if checked:
    try:
        ok, message = item.check(answer)
    except Exception as err:  # noqa: BLE001 - a failing checker must not break the workshop
        ok, message = False, f"This answer could not be checked ({type(err).__name__}: {err})."
    if answer.strip():
        st.session_state[PROGRESS] = ex.record_attempt(st.session_state[PROGRESS], item.id, answer, ok)
    st.session_state[FEEDBACK] = (item.id, ok, text.md(message))  # it may quote the answer
elif revealed:
    st.session_state[PROGRESS] = ex.record_attempt(st.session_state[PROGRESS], item.id, answer, False, revealed=True)
    st.session_state[FEEDBACK] = (item.id, None, f"The answer: {code_span(item.reveal(), 200)}")

feedback = st.session_state.get(FEEDBACK)
if feedback and feedback[0] == item.id:
    _, ok, message = feedback
    if ok is None:
        st.info(message, icon="👀")
    elif ok:
        st.success(message, icon="✅")
    else:
        st.error(message, icon="❌")
if item.id == "one_by_one_why" and feedback and feedback[0] == item.id and feedback[1] is not None:
    # Evidence from this server's cache: the book network and the 1×1 preset trained alike.
    pairs = paired_accuracies(cached_runs(), BOOK, PRESETS["one_by_one"])
    for book_acc, one_acc in pairs[:3]:
        st.caption(
            f"Cached runs trained alike: book (3×3×64) {book_acc:.2%} · one_by_one (1×1×64) {one_acc:.2%} "
            f"({(one_acc - book_acc) * 100:+.2f} points)."
        )
with st.expander("Hint"):
    st.markdown(item.hint)

back, forward, _ = st.columns([1, 1, 4])
back.button("← Previous", key="ex_prev", on_click=go_to, args=(step - 1,), disabled=step == 0)
forward.button("Next →", key="ex_next", on_click=go_to, args=(step + 1,), disabled=step == len(seq) - 1)

with st.sidebar:
    progress = st.session_state[PROGRESS]
    done = set(ex.solved(progress, seq))
    st.progress(len(done) / len(seq), text=f"{len(done)} of {len(seq)} solved")
    for i, task in enumerate(seq):
        entry = progress["answers"].get(task.id, {})
        mark = "✅" if task.id in done else ("👀" if entry.get("revealed") else "⬜")
        st.button(
            f"{mark} {i + 1}. {task.title}",
            key=f"ex_goto_{i}",
            on_click=go_to,
            args=(i,),
            type="primary" if i == st.session_state[STEP] else "secondary",
            width="stretch",
        )
    st.download_button(
        "Download my progress",
        data=ex.progress_to_json(ex.with_step(progress, st.session_state[STEP])),
        file_name="convnet-exercises.json",
        mime="application/json",
        key="ex_download",
        on_click="ignore",
        icon="💾",
    )
