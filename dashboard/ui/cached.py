"""`st.cache_*` wrappers around the expensive calls, each decorator fitted to its object.

Data and models are shared resources (`st.cache_resource`: one copy per server, never
mutated); small derived values that pages may modify are `st.cache_data` (copied per call).
"""

from __future__ import annotations

import streamlit as st

from dashboard.mnist.data import MnistData, load_mnist

# Every server-wide cache is bounded by `max_entries`; caches keyed by what sessions asked for
# (runs, networks, digits) also expire after IDLE_TTL. Streamlit reaps expired entries on the
# next access, so max_entries is what bounds memory; the TTL lets a busy workshop's leftovers go.
IDLE_TTL = "1h"


@st.cache_resource(show_spinner="Loading MNIST…", max_entries=3)
def mnist(source: str = "auto") -> MnistData:
    """MNIST from `source` ("auto", "embedded" or a path), loaded once per server."""
    return load_mnist(source)


@st.cache_data(show_spinner=False, max_entries=256, ttl=IDLE_TTL)
def layer_rows(spec_json: str) -> list[dict]:
    """Summary rows (shapes, params and formulas, receptive fields) of `spec_json`, as dicts; no weights."""
    from dashboard.network.spec import NetworkSpec
    from dashboard.network.summaries import summarize

    return [row.to_dict() for row in summarize(NetworkSpec.from_json(spec_json))]
