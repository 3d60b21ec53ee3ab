"""Streamlit side of imported models: the uploader, the import itself, and the summary of one.

Heavy work (checks, then loading and measuring the test set in a job worker, never in the
server's process) runs in the page script, never in a widget callback; every name from the file
is shown as plain text.
"""

from __future__ import annotations

import inspect
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.modelfiles.modelfile import MAX_FILE_BYTES, ModelFileError
from dashboard.network.spec import NetworkSpec
from dashboard.outside import code_span, escape_markdown
from dashboard.store.imported import SCALINGS, has_maps, import_model, rescale, summary_display_rows
from dashboard.store.run import RunRecord
from dashboard.ui import cached, jobs_panel, page_paths, run_picker, state
from dashboard.views.labels import data_name

LAST = "import_last"  # session: key of the last imported run
PICKERS = ("fm_run", "inside_run", "compare_run")  # run pickers that open on the imported run

UPLOAD_MB = MAX_FILE_BYTES // 2**20


def model_uploader(key: str) -> Any:
    """A `.keras`/`.h5` file uploader limited to `UPLOAD_MB` where Streamlit allows a per-widget limit."""
    options: dict[str, Any] = {"type": ["keras", "h5"], "key": key}
    if "max_upload_size" in inspect.signature(st.file_uploader).parameters:
        options["max_upload_size"] = UPLOAD_MB
    return st.file_uploader(f"A Keras model file (.keras or .h5, at most {UPLOAD_MB} MB)", **options)


def show_refusal(message: str) -> None:
    """A refused file: the reason, which may quote the file's own names, as plain text."""
    st.error("This model file cannot be opened: " + escape_markdown(message, limit=400), icon=":material/block:")


def summary_table(record: RunRecord) -> pd.DataFrame:
    """The imported model's layers as `model.summary()` shows them, with receptive field and jump."""
    rows = summary_display_rows(record)
    return pd.DataFrame({
        "Layer (type)": [f"{row['name']} ({row['type']})" for row in rows],
        "Output shape": [str(tuple(row["output_shape"])) for row in rows],
        "Param #": [row["params"] for row in rows],
        "Receptive field": ["—" if row["receptive_field"] is None else str(row["receptive_field"]) for row in rows],
        "Jump": ["—" if row["jump"] is None else str(row["jump"]) for row in rows],
    })


def what_is_shown(record: RunRecord) -> str:
    """Which pages can explore this run, in one sentence."""
    if not record.imported.chain:
        return ("A branching model: its summary, test accuracy and Compare are shown; feature maps, "
                "Inside the 3×3 and receptive fields follow one chain of layers, so they are not.")
    if not has_maps(record):
        return ("No conv layers (like the book's chapter-2 dense network): summary, accuracy and "
                "Compare only; there are no feature maps to look at.")
    return "Open it on Feature maps, Inside the 3×3 and Compare: it is in every run picker."


def show_imported(record: RunRecord, hit: bool) -> None:
    """Metrics, input scaling and summary of one imported run."""
    status = "was already imported" if hit else "is ready"
    st.success(f"{code_span(record.source_file)} {status}: run `{record.key[:12]}`.", icon=":material/check_circle:")
    a, b, c = st.columns(3)
    a.metric("Test accuracy", f"{record.test_accuracy:.2%}")
    b.metric("Parameters", f"{record.params:,}")
    side, channels = record.final_map
    c.metric("Last conv/pool map", f"{side}×{side}×{channels}" if side else "—")
    st.caption(f"Measured by the app on the test images of {escape_markdown(data_name(record))}. "
               f"Input: {SCALINGS[record.imported.scaling].label}.")
    st.info(what_is_shown(record), icon=":material/explore:")
    if record.imported.chain:
        links = st.container(horizontal=True)
        if has_maps(record):
            links.page_link(page_paths.FEATURE_MAPS, label="Feature maps", icon=":material/grid_view:")
            links.page_link(page_paths.INSIDE, label="Inside the 3×3", icon=":material/biotech:")
        links.page_link(page_paths.COMPARE, label="Compare", icon=":material/bar_chart:")
    st.dataframe(summary_table(record), hide_index=True, column_config={
        "Param #": st.column_config.NumberColumn(format="localized")})
    st.caption(f"Total params: {record.params:,}")


def scaling_table(record: RunRecord) -> pd.DataFrame:
    """Accuracy and loss of each input convention on the slice the import measured."""
    scores = record.imported.scaling_scores
    return pd.DataFrame([
        {"input": SCALINGS[name].label, "accuracy": scores[name]["accuracy"], "loss": scores[name]["loss"],
         "chosen": name == record.imported.scaling}
        for name in SCALINGS if name in scores
    ])


def import_upload(upload: Any) -> RunRecord | None:
    """Import the uploaded file (checks, safe load, measurement) and show it; None if none or refused."""
    if upload is None:
        return None
    try:
        with st.spinner("Checking the file, loading it safely and measuring it on the test set…"):
            # loaded and measured by a job worker, never in the server's process
            record, hit = import_model(upload.getvalue(), upload.name, cached.mnist(), run_picker.model_cache(),
                                       measure=jobs_panel.manager().measure_import)
    except ModelFileError as err:
        show_refusal(str(err))
        return None
    st.session_state[LAST] = record.key
    for picker in PICKERS:
        st.session_state[picker] = record.key  # the next page opens on this run
    show_imported(record, hit)
    return record


def offer_architecture(record: RunRecord) -> None:
    """When the app's own description builds the same network: a button that opens it on Architecture."""
    if record.imported is None or not record.imported.fits:
        return
    fits = NetworkSpec.from_dict(record.imported.fits)
    st.info(f"This model is one the app can describe and build itself: `{fits.describe()}`. Open it on "
            "Architecture to change it, then retrain it on Train.", icon=":material/account_tree:")
    if st.button("Open on Architecture", key="import_open_arch", icon=":material/account_tree:"):
        for name in [k for k in st.session_state if str(k).startswith("arch_")]:
            del st.session_state[name]  # the editor reloads its widgets from the new network
        st.session_state["arch_imported"] = record.key  # and the page summarises this upload too
        state.set_spec(fits)
        st.switch_page(page_paths.ARCHITECTURE)


def scaling_choice(record: RunRecord) -> RunRecord:
    """The input conventions measured, and a picker; another choice re-measures the run (returned)."""
    st.subheader("Input scaling")
    st.markdown(
        "The book divides pixels by 255; other notebooks feed raw 0–255 pixels or standardise them. "
        "The import measured the first 1,000 test digits under each convention and kept the most "
        "accurate one (the lower loss decides between near ties). Change it if you know better."
    )
    st.dataframe(scaling_table(record), hide_index=True, column_config={
        "accuracy": st.column_config.NumberColumn(format="percent"),
        "loss": st.column_config.NumberColumn(format="%.3f")})
    names = list(SCALINGS)
    chosen = st.selectbox("Feed the model", names, index=names.index(record.imported.scaling),
                          format_func=lambda name: SCALINGS[name].label, key=f"scaling_{record.key[:12]}")
    if chosen == record.imported.scaling:
        return record
    with st.spinner("Measuring the test set with the new input scaling…"):
        record = rescale(record, chosen, cached.mnist(), run_picker.model_cache())
    for cache_fn in (run_picker.run_model, run_picker.test_predictions):
        cache_fn.clear()  # the run's model and its predictions depend on the scaling
    st.success(f"Now fed {SCALINGS[chosen].label}: test accuracy {record.test_accuracy:.2%}.",
               icon=":material/check_circle:")
    return record


def imported_runs_table() -> None:
    """Every imported run on this server: file name (plain text), accuracy, size, input, key."""
    runs = [r for r in run_picker.cached_runs() if r.is_imported]
    if not runs:
        return
    st.subheader(f"Imported runs on this server ({len(runs)})")
    st.dataframe(
        [{"file": r.source_file, "test accuracy": r.test_accuracy, "params": r.params,
          "input": r.imported.scaling, "key": r.key[:12]} for r in runs],
        hide_index=True,
        column_config={"test accuracy": st.column_config.NumberColumn(format="percent"),
                       "params": st.column_config.NumberColumn(format="localized")},
    )
