"""The learner's browser storage: a per-browser learner id and the exercise progress, across reloads.

Streamlit's session state ends with the browser tab's connection; a reload starts a new session.
What should outlive it is kept in the browser's own localStorage (`dashboard.views.browser_store`
describes the entry), read once per session through the `streamlit_js_eval` component: the first
run of a session draws the component in a fragment, and the browser's answer reruns that fragment
only (or the whole page, for a page that shows what the browser stored: `wait_for_browser`).
Nothing of it goes into the URL.

`learner_id()` is the browser's id (None until the browser has answered, in the first run of a
session); other parts of the app may key what a learner started by it (the jobs panel, to follow
a learner across reloads). `stored_progress()` and `save_progress()` are the Exercises page's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import streamlit as st
from streamlit_js_eval import streamlit_js_eval

from dashboard.views import browser_store

STORE = "learner_store"  # session: the browser's entry as read, {"learner": …, "progress": …}
PENDING = "learner_pending"  # session: progress text being written to the browser
WANTED = "learner_wanted"  # session: the page shows what the browser stored, so rerun it when it answers


def load() -> None:
    """Read the browser's entry once per session (every page calls this, in the sidebar)."""
    if STORE not in st.session_state:
        with st.sidebar:
            _read()


@st.fragment
def _read() -> None:
    """The reading component; its answer reruns only this fragment, or the page if one is waiting for it."""
    raw = streamlit_js_eval(js_expressions=browser_store.read_expression(), key="learner_read", height=0)
    if raw is not None and STORE not in st.session_state:
        st.session_state[STORE] = store = browser_store.parse(raw)
        wanted = st.session_state.pop(WANTED, False)
        if wanted is True or (callable(wanted) and wanted(store["learner"])):
            st.rerun()


def wait_for_browser(when: Callable[[str | None], bool] | None = None) -> None:
    """Ask for a rerun of the page once the browser has answered (a page that shows what it stored).

    With `when`, only if `when(learner id)` is true then (the jobs panel: if that learner has jobs).
    """
    if STORE in st.session_state or st.session_state.get(WANTED) is True:
        return
    st.session_state[WANTED] = True if when is None else when


def learner_id() -> str | None:
    """This browser's random learner id (32 hex digits), or None before the browser has answered."""
    store = st.session_state.get(STORE)
    return store["learner"] if store else None


def stored_progress() -> str | None:
    """The exercise progress stored in this browser (JSON text), None if none or not read yet."""
    store = st.session_state.get(STORE)
    return store["progress"] if store else None


def browser_read() -> bool:
    """True once this session has read the browser's entry."""
    return STORE in st.session_state


def save_progress(progress_text: str) -> None:
    """Keep `progress_text` in the browser, if it differs from what the browser holds.

    The writing component stays on the page until the browser confirms, then the session's copy
    of the entry follows; before the entry has been read, nothing is written (it would replace a
    progress not yet restored).
    """
    store = st.session_state.get(STORE)
    if store is None:
        return
    if progress_text != store["progress"]:
        st.session_state[PENDING] = progress_text
    pending = st.session_state.get(PENDING)
    if pending is None:
        return
    with st.sidebar:
        _write(pending)


@st.fragment
def _write(pending: str) -> None:
    """The writing component; the browser's confirmation reruns only this fragment."""
    digest = hashlib.sha256(pending.encode()).hexdigest()[:16]
    done = streamlit_js_eval(js_expressions=browser_store.write_expression(pending), key=f"learner_write_{digest}",
                             height=0)
    store = st.session_state.get(STORE)
    if done == "saved" and store is not None and st.session_state.get(PENDING) == pending:
        store["progress"] = pending
        st.session_state.pop(PENDING, None)
