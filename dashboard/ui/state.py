"""Page state shared across pages (session) and kept in the URL (query string).

The current network lives in `st.session_state["spec_json"]` so that every page sees the same
one; each page writes its own state back to `st.query_params` so that a link reproduces it.

Widget values survive page changes: Streamlit deletes the state of every widget that a run does
not draw, so leaving a page would reset its settings. A page names each widget's key through
`kept(key, default)`; `remember_widgets()` (called at the top of every page by
`page_setup.setup`) copies those values to a plain session key while they still exist, and
`kept` puts a dropped value back just before its widget is drawn again.

Warnings about the link are plain text and shown escaped (`dashboard.ui.text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from dashboard.network.spec import BOOK, NetworkSpec
from dashboard.ui import text
from dashboard.views import links

SPEC_KEY = "spec_json"
KEPT_KEY = "_kept_widgets"  # {widget key: its last value seen}: not a widget key itself


def _kept() -> dict[str, Any]:
    kept_values = st.session_state.get(KEPT_KEY)
    if not isinstance(kept_values, dict):
        kept_values = st.session_state[KEPT_KEY] = {}
    return kept_values


def remember_widgets() -> None:
    """Copy the value of every kept widget that still has one; call first thing on every page."""
    kept_values = _kept()
    for key in list(kept_values):
        if key in st.session_state:
            kept_values[key] = st.session_state[key]


def kept(key: str, default: Any = None) -> str:
    """`key`, for a widget whose value must survive page changes; call just before drawing it.

    A value Streamlit dropped while the learner was on another page is put back; a widget seen
    for the first time starts at `default` (unless None, or already set). Pass the default
    here, not as the widget's `value`/`index`, so Streamlit never sees two initial values.
    """
    kept_values = _kept()
    if key not in st.session_state:
        if key in kept_values:
            st.session_state[key] = kept_values[key]
        elif default is not None:
            st.session_state[key] = default
    if key in st.session_state:
        kept_values[key] = st.session_state[key]
    return key


def query_values() -> dict[str, list[str]]:
    """Every query parameter of the URL with all its values (as `dashboard.views.links` reads them)."""
    return {name: st.query_params.get_all(name) for name in st.query_params.keys()}


_params = query_values


def current_spec() -> NetworkSpec:
    """The network from the URL if it names one, else the session's, else the book network.

    A bad link shows a warning and falls back to the default.
    """
    params = _params()
    if "spec" in params or "preset" in params:
        spec, warning = links.spec_from_params(params, default=BOOK)
        if warning:
            text.warning(warning)
        st.session_state[SPEC_KEY] = spec.to_json()
        return spec
    if SPEC_KEY in st.session_state:
        try:
            return NetworkSpec.from_json(st.session_state[SPEC_KEY])
        except ValueError:
            del st.session_state[SPEC_KEY]
    return BOOK


def set_spec(spec: NetworkSpec) -> None:
    """Make `spec` the current network for every page, and put it in the URL."""
    st.session_state[SPEC_KEY] = spec.to_json()
    for name in ("spec", "preset"):
        if name in st.query_params:
            del st.query_params[name]
    st.query_params.update(links.spec_to_params(spec))


def spec_to_url(spec: NetworkSpec) -> None:
    """Keep `spec` in the URL (a page showing the network without changing it)."""
    set_url(**{"preset": None, "spec": None, **links.spec_to_params(spec)})


def url_int(name: str, low: int, high: int, default: int) -> int:
    """A whole number from the URL, with a warning if it was malformed."""
    value, warning = links.int_from_params(_params(), name, low, high, default)
    if warning:
        text.warning(warning)
    return value


def url_token(name: str, allowed: Sequence[str] | None = None) -> str | None:
    """A short identifier from the URL, with a warning if it was malformed or unknown."""
    value, warning = links.token_from_params(_params(), name, allowed)
    if warning:
        text.warning(warning)
    return value


def set_url(**values: str | int | None) -> None:
    """Write page state to the URL; None removes a key."""
    for name, value in values.items():
        if value is None:
            if name in st.query_params:
                del st.query_params[name]
        elif st.query_params.get(name) != str(value):
            st.query_params[name] = str(value)
