"""Streamlit side of the run cache: the shared `ModelCache`, loaded models, and a run picker.

Loaded models are `st.cache_resource` objects shared by every session: callers must never
mutate them (no `compile`, `fit`, `set_weights`); build a new model for anything that changes
weights. Damaged cache entries found while reading are shown as warnings, never raised.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from dashboard.cache import CacheError, ModelCache
from dashboard.labels import run_title
from dashboard.run import RunRecord, shipped_book
from dashboard.ui import text
from dashboard.ui.cached import IDLE_TTL
from dashboard.ui.state import kept, set_url, url_token

MAX_LOADED_MODELS = 8  # the no-pooling network is ~8 MB in memory; a handful is plenty


@st.cache_resource(show_spinner=False, max_entries=1)
def model_cache() -> ModelCache:
    """The server's model cache (root from `MODEL_CACHE_DIR`, else `model_cache/`)."""
    return ModelCache()


@st.cache_resource(
    show_spinner="Loading the trained model…", max_entries=MAX_LOADED_MODELS, ttl=IDLE_TTL
)
def run_model(key: str) -> Any:
    """The trained Keras model of run `key`, loaded once per server; raises `CacheError` if damaged.

    An imported model comes wrapped to take the app's input (`dashboard.imported.app_model`).
    """
    model = model_cache().load_model(key)
    record = model_cache().get(key)
    if record is not None and record.is_imported:
        from dashboard.imported import app_model

        imported = record.imported
        return app_model(model, imported.input_shape, imported.scaling, imported.chain)
    return model


def show_cache_problems() -> None:
    """Show a warning for each damaged cache entry found since the last call."""
    for message in model_cache().take_problems():
        text.warning(f"A cached run was damaged: {message}.")


def cached_runs() -> list[RunRecord]:
    """Every sound cached run (shipped first, then newest); damaged entries become warnings."""
    runs = model_cache().runs()
    show_cache_problems()
    return runs


def shipped_book_key(runs: list[RunRecord] | None = None) -> str | None:
    """Key of the shipped book network trained with the book preset, if present."""
    found = shipped_book(runs if runs is not None else model_cache().runs())
    return found.key if found is not None else None


def load_run_model(record: RunRecord) -> Any | None:
    """`run_model(record.key)`, or None after an error message if the entry turns out damaged."""
    try:
        return run_model(record.key)
    except CacheError as err:
        text.error(f"This run cannot be used: {err}. Train it again on the Train page.")
        return None


def run_picker(
    label: str,
    key: str,
    default_key: str | None = None,
    url_name: str = "run",
    runs: list[RunRecord] | None = None,
) -> RunRecord | None:
    """A selectbox of cached runs, its choice kept in the URL as `?{url_name}=` and across pages.

    The first choice comes from the URL, else `default_key`, else the shipped book run, else
    the newest run. Returns None (after an info message) when the cache is empty.
    """
    runs = cached_runs() if runs is None else runs
    if not runs:
        st.info("No trained runs yet: train one on the **Train** page.", icon="ℹ️")
        return None
    by_key = {record.key: record for record in runs}
    kept(key)  # the run picked before a visit to another page
    if st.session_state.get(key) not in by_key:
        st.session_state.pop(key, None)
        wanted = url_token(url_name)
        if wanted is not None and wanted not in by_key:
            text.warning(f"The run {wanted!r} in the link is not in this server's cache; showing another.")
            wanted = None
        for candidate in (wanted, default_key, shipped_book_key(runs), runs[0].key):
            if candidate in by_key:
                st.session_state[key] = candidate
                break
    chosen = st.selectbox(label, options=list(by_key), format_func=lambda k: run_title(by_key[k]), key=key)
    set_url(**{url_name: chosen})
    return by_key[chosen]


@st.cache_data(show_spinner="Classifying the test images…", max_entries=16, ttl=IDLE_TTL)
def test_predictions(key: str, data_source: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """(predicted digits (n,), probabilities (n, 10)) of run `key` on the test set of `data_source`."""
    from dashboard.evaluation import predict_labels
    from dashboard.ui.cached import mnist

    return predict_labels(run_model(key), mnist(data_source).x_test)
