"""Page state shared across pages (session) and kept in the URL (query string).

The current network lives in `st.session_state["spec_json"]` so that every page sees the same
one; each page writes its own state back to `st.query_params` so that a link reproduces it.

Widget values survive page changes through Streamlit's own `persist_state="session"` on each
widget that must keep its value. A widget whose value is also in the link reads the URL here
first (`url_int`, `url_token`, `current_spec`), so that a malformed value gets a warning that
quotes it; a few widgets whose bad values need no warning are bound to the URL by Streamlit
itself (`bind="query-params"`).

Warnings about the link are plain text and shown escaped (`dashboard.ui.text`).
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard.network.spec import BOOK, NetworkSpec
from dashboard.ui import text
from dashboard.views import links

SPEC_KEY = "spec_json"
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
