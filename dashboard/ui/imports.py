"""Streamlit side of imported models: the uploader, the import itself, and the summary of one.

Heavy work (checks, loading, measuring the test set) runs in the page script, never in a widget
callback; every name from the file is shown as plain text.
"""

from __future__ import annotations

import inspect
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.run import RunRecord
from dashboard.imported import SCALINGS, has_maps, layer_rows
from dashboard.modelfile import MAX_FILE_BYTES
from dashboard.outside import code_span, escape_markdown

UPLOAD_MB = MAX_FILE_BYTES // 2**20


def model_uploader(key: str) -> Any:
    """A `.keras`/`.h5` file uploader limited to `UPLOAD_MB` where Streamlit allows a per-widget limit."""
    options: dict[str, Any] = {"type": ["keras", "h5"], "key": key}
    if "max_upload_size" in inspect.signature(st.file_uploader).parameters:
        options["max_upload_size"] = UPLOAD_MB
    return st.file_uploader(f"A Keras model file (.keras or .h5, at most {UPLOAD_MB} MB)", **options)


def show_refusal(message: str) -> None:
    """A refused file: the reason, which may quote the file's own names, as plain text."""
    st.error("This model file cannot be opened: " + escape_markdown(message, limit=400), icon="🚫")


def summary_table(record: RunRecord) -> pd.DataFrame:
    """The imported model's layers as `model.summary()` shows them, with receptive field and jump."""
    rows = layer_rows(record)
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
    return "Open it on **Feature maps**, **Inside the 3×3** and **Compare**: it is in every run picker."


def show_imported(record: RunRecord, hit: bool) -> None:
    """Metrics, input scaling and summary of one imported run."""
    state = "was already imported" if hit else "is ready"
    st.success(f"{code_span(record.source_file)} {state}: run `{record.key[:12]}`.", icon="✅")
    a, b, c = st.columns(3)
    a.metric("Test accuracy", f"{record.test_accuracy:.2%}")
    b.metric("Parameters", f"{record.params:,}")
    side, channels = record.final_map
    c.metric("Last conv/pool map", f"{side}×{side}×{channels}" if side else "—")
    st.caption(f"Measured by the app on the {escape_markdown(record.data_label)} test set. "
               f"Input: {SCALINGS[record.imported.scaling].label}.")
    st.info(what_is_shown(record), icon="🧭")
    st.dataframe(summary_table(record), hide_index=True, column_config={
        "Param #": st.column_config.NumberColumn(format="%d")})
    st.caption(f"Total params: {record.params:,}")


def scaling_table(record: RunRecord) -> pd.DataFrame:
    """Accuracy and loss of each input convention on the slice the import measured."""
    scores = record.imported.scaling_scores
    return pd.DataFrame([
        {"input": SCALINGS[name].label, "accuracy": scores[name]["accuracy"], "loss": scores[name]["loss"],
         "chosen": name == record.imported.scaling}
        for name in SCALINGS if name in scores
    ])
