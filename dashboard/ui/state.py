"""Page state shared across pages (session) and kept in the URL (query string).

The current network lives in `st.session_state["spec_json"]` so that every page sees the same
one; each page writes its own state back to `st.query_params` so that a link reproduces it.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard import links
from dashboard.spec import BOOK, NetworkSpec

SPEC_KEY = "spec_json"


def _params() -> dict[str, list[str]]:
    return {name: st.query_params.get_all(name) for name in st.query_params.keys()}


def current_spec() -> NetworkSpec:
    """The network from the URL if it names one, else the session's, else the book network.

    A bad link shows a warning and falls back to the default.
    """
    params = _params()
    if "spec" in params or "preset" in params:
        spec, warning = links.spec_from_params(params, default=BOOK)
        if warning:
            st.warning(warning, icon="⚠️")
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


def url_int(name: str, low: int, high: int, default: int) -> int:
    """A whole number from the URL, with a warning if it was malformed."""
    value, warning = links.int_from_params(_params(), name, low, high, default)
    if warning:
        st.warning(warning, icon="⚠️")
    return value


def url_token(name: str, allowed: Sequence[str] | None = None) -> str | None:
    """A short identifier from the URL, with a warning if it was malformed or unknown."""
    value, warning = links.token_from_params(_params(), name, allowed)
    if warning:
        st.warning(warning, icon="⚠️")
    return value


def set_url(**values: str | int | None) -> None:
    """Write page state to the URL; None removes a key."""
    for name, value in values.items():
        if value is None:
            if name in st.query_params:
                del st.query_params[name]
        elif st.query_params.get(name) != str(value):
            st.query_params[name] = str(value)
