"""Streamlit side of the run cache: the shared `ModelCache`, run models, and a run picker.

`run_model(key)` is the run's model (`dashboard.inspection.run_model.RunModel`, built by the one
factory `dashboard.inspection.run_factory.open_run`: numpy for runs trained here and imported
chains, Keras only for what numpy does not compute), an `st.cache_resource` object shared by
every session: callers must never mutate it. Damaged cache entries found while reading are shown
as warnings, never raised.

The listing of cached runs is itself cached per server (`run_listing`): reading every
`record.json` and checking every archive on each rerun of each page cost most of a rerun. It is
keyed on a cheap signature of the cache directories (one `os.scandir` per root and two `stat`s
per entry), so a run stored, replaced, deleted or set aside by any session, job or process shows
on the next rerun.

`kept_result` reads a result kept beside a run (`dashboard.store.stored`), or computes and stores it:
the test predictions here, Inside's projections and ablations, Channels' atlases.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import streamlit as st

from dashboard.inspection.run_model import RunModel
from dashboard.store.cache import CacheError, ModelCache
from dashboard.store.entry import MODEL_FILE, RECORD_FILE
from dashboard.store.run import RunRecord, shipped_book
from dashboard.store.stored import result_name
from dashboard.ui import page_paths, text
from dashboard.ui.cached import IDLE_TTL
from dashboard.ui.session_memory import released_when_idle
from dashboard.ui.state import set_url, url_token
from dashboard.views.labels import run_title

T = TypeVar("T")
MAX_LOADED_MODELS = 8  # the no-pooling network is ~8 MB in memory; a handful is plenty


@st.cache_resource(show_spinner=False, max_entries=1)
def model_cache() -> ModelCache:
    """The server's model cache (root from `MODEL_CACHE_DIR`, else `model_cache/`)."""
    return ModelCache()


@released_when_idle
@st.cache_resource(
    show_spinner="Loading the trained model…", max_entries=MAX_LOADED_MODELS, ttl=IDLE_TTL
)
def run_model(key: str) -> RunModel:
    """The model of run `key`, built once per server (its weights read as arrays, ~5 ms, where loading a
    Keras model costs 50–110 ms and TensorFlow's import ~3 s); raises `CacheError` if damaged."""
    from dashboard.inspection.run_factory import open_run

    record = model_cache().get(key)
    if record is None:
        raise CacheError(f"run {key[:12]} is not in the cache")
    return open_run(record, model_cache())


def show_cache_problems() -> None:
    """Show a warning for each damaged cache entry found since the last call."""
    for message in model_cache().take_problems():
        text.warning(f"A cached run was damaged: {message}.", icon=":material/warning:")


def _entry_stamp(path: str) -> str:
    """Record size and time, model size: what changes when an entry is written, replaced or damaged.

    Not the model's mtime: reading a run touches it (LRU), which must not invalidate the listing.
    """
    try:
        record = os.stat(os.path.join(path, RECORD_FILE))
        model = os.stat(os.path.join(path, MODEL_FILE))
    except OSError:
        return "incomplete"
    return f"{record.st_mtime_ns}:{record.st_size}:{model.st_size}"


def cache_signature(cache: ModelCache) -> str:
    """A digest of the cache's entries (names and stamps) under both roots: cheap, no file read."""
    parts: list[str] = []
    for root in (cache.shipped_root, cache.root):
        if root is None:
            continue
        try:
            with os.scandir(root) as entries:
                for entry in entries:
                    if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                        parts.append(f"{entry.name}={_entry_stamp(entry.path)}")
        except OSError:
            parts.append(f"{root}: absent")
        parts.append("|")
    return hashlib.blake2b("\n".join(sorted(parts)).encode(), digest_size=16).hexdigest()


@st.cache_resource(show_spinner=False, max_entries=4, ttl=IDLE_TTL)
def run_listing(root: str, signature: str) -> tuple[tuple[RunRecord, ...], tuple[str, ...]]:
    """(every sound run, messages about damaged entries) of the cache at `root` as it is at `signature`.

    Shared by every session (records are frozen: never mutated); a new signature reads again.
    """
    runs, problems = model_cache().scan()
    return tuple(runs), tuple(problems)


def cached_runs() -> list[RunRecord]:
    """Every sound cached run (shipped first, then newest); damaged entries become warnings."""
    cache = model_cache()
    runs, problems = run_listing(str(Path(cache.root).resolve()), cache_signature(cache))
    for message in dict.fromkeys([*problems, *cache.take_problems()]):
        text.warning(f"A cached run was damaged: {message}.", icon=":material/warning:")
    return list(runs)


def cached_run(key: str) -> RunRecord | None:
    """The cached run `key` from the listing (no file read), or None."""
    return next((run for run in cached_runs() if run.key == key), None)


def newest_own_run(runs: list[RunRecord], own_keys: set[str] | None = None) -> RunRecord | None:
    """The learner's newest run: of `own_keys` (this session's jobs) if any is cached, else the newest trained here."""
    written = [run for run in runs if not run.shipped]  # newest first (the listing's order)
    mine = [run for run in written if own_keys and run.key in own_keys]
    return (mine or written or [None])[0]


def shipped_book_key(runs: list[RunRecord] | None = None) -> str | None:
    """Key of the shipped book network trained with the book preset, if present."""
    found = shipped_book(runs if runs is not None else model_cache().runs())
    return found.key if found is not None else None


def run_predictions(record: RunRecord) -> tuple[np.ndarray, np.ndarray] | None:
    """`test_predictions(record.key)` on this server's test set, or None after an error message if the entry is damaged."""
    try:
        return test_predictions(record.key, "auto")
    except CacheError as err:
        text.error(f"This run cannot be used: {err}. Train it again on the Train page.")
        return None


def load_run_model(record: RunRecord) -> RunModel | None:
    """`run_model(record.key)`, or None after an error message if the entry turns out damaged."""
    try:
        return run_model(record.key)
    except (CacheError, OSError, ValueError) as err:
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
        st.info("No trained runs yet: train one on the Train page.", icon=":material/info:")
        st.page_link(page_paths.TRAIN, label="Train a network", icon=":material/model_training:")
        return None
    by_key = {record.key: record for record in runs}
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
    chosen = st.selectbox(label, options=list(by_key), format_func=lambda k: run_title(by_key[k]), key=key,
                          persist_state="session")  # the run picked before a visit to another page
    set_url(**{url_name: chosen})
    return by_key[chosen]


def result_file(key: str, kind: str, data_fingerprint: str, *parts: str, record: RunRecord | None = None) -> str:
    """The stored result's file name; an imported run's names carry its input scaling, which changes its answers.

    `record` is run `key`'s, when the caller has it already (else it is read)."""
    record = record if record is not None else model_cache().get(key)
    scaling = (record.imported.scaling,) if record is not None and record.is_imported else ()
    return result_name(kind, data_fingerprint, *parts, *scaling)


def kept_result(key: str, name: str, read: Callable[[bytes], T | None], compute: Callable[[], T],
                to_bytes: Callable[[T], bytes]) -> T:
    """Result `name` of run `key`: read back from beside the run when stored and sound (`read` gives None
    when it does not fit), else computed and stored there for every later server (`dashboard.store.stored`)."""
    cache = model_cache()
    data = cache.read_result(key, name)
    value = read(data) if data is not None else None
    if value is None:
        value = compute()
        cache.write_result(key, name, to_bytes(value))  # False (shipped, read-only): computed again next time
    return value


@released_when_idle
@st.cache_data(show_spinner="Classifying the test images…", max_entries=16, ttl=IDLE_TTL)
def test_predictions(key: str, data_source: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """(predicted digits (n,), the probability of each (n,)) of run `key` on the test set of `data_source`."""
    from dashboard.inspection import results
    from dashboard.inspection.evaluation import confidence_of, predict_labels
    from dashboard.ui.cached import mnist

    data = mnist(data_source)

    def compute() -> tuple[np.ndarray, np.ndarray]:
        predicted, probs = predict_labels(run_model(key), data.x_test)
        return predicted, confidence_of(predicted, probs)

    return kept_result(key, result_file(key, "predictions", data.fingerprint),
                       lambda stored: results.predictions_from(stored, data.y_test), compute,
                       lambda value: results.predictions_bytes(*value, data.y_test))
