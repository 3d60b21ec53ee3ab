"""Compare: every cached run in one table, their curves on one chart, and one run's mistakes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.charts import training as charts
from dashboard.evaluation import confusion_matrix, misclassified
from dashboard.labels import final_map_text, network_line, short_label
from dashboard.run import RunRecord
from dashboard.ui import cached, nav, state, text
from dashboard.ui import runs as ui_runs

st.set_page_config(page_title="Compare · ConvNet Explorer", page_icon=nav.FAVICON, layout="wide")
nav.sidebar_nav()
st.title("📊 Compare runs")
st.caption(
    "Every run trained on this server (and the ones shipped with the app). A run is trained once: "
    "the same network, settings, data and seed always come from the cache."
)

MAX_DEFAULT_SELECTED = 6


def runs_table(runs: list[RunRecord]) -> pd.DataFrame:
    """One row per run, in the cache's order."""
    rows = []
    for r in runs:
        rows.append(
            {
                "run": short_label(r),
                "network": network_line(r),
                "params": r.params,
                "last conv map": final_map_text(r),
                "val accuracy": r.val_accuracy,
                "test accuracy": r.test_accuracy,
                "epochs": r.epochs_done,
                "train time (s)": r.train_seconds,
                "data": r.data_label,
                "shipped": r.shipped,
                "key": r.key,
            }
        )
    return pd.DataFrame(rows)


runs = ui_runs.cached_runs()
if not runs:
    st.info("No trained runs yet: train one on the **Train** page, or warm the cache with "
            "`python -m dashboard warm --grid workshop`.", icon="ℹ️")
    st.stop()

by_key = {r.key: r for r in runs}
labels = {r.key: short_label(r) for r in runs}

st.subheader(f"All {len(runs)} cached run{'s' if len(runs) != 1 else ''}")
st.dataframe(
    runs_table(runs),
    hide_index=True,
    column_config={
        "params": st.column_config.NumberColumn(format="%d"),
        "val accuracy": st.column_config.NumberColumn(format="%.4f"),
        "test accuracy": st.column_config.NumberColumn(format="%.4f"),
        "train time (s)": st.column_config.NumberColumn(format="%.1f"),
    },
)

# --- side by side ----------------------------------------------------------------------------

state.kept("compare_runs")  # the choice made before a visit to another page
if "compare_runs" in st.session_state:
    st.session_state["compare_runs"] = [k for k in st.session_state["compare_runs"] if k in by_key]
else:
    st.session_state["compare_runs"] = [r.key for r in runs[:MAX_DEFAULT_SELECTED]]
chosen = st.multiselect("Runs to compare", list(by_key), format_func=labels.get, key="compare_runs")
selected = [by_key[k] for k in chosen]
if not selected:
    st.info("Select one or more runs above to compare them.", icon="ℹ️")
else:
    st.plotly_chart(
        charts.compare_curves({labels[r.key]: r.history.get("val_accuracy", []) for r in selected}),
        key="compare_curves",
    )
    left, right = st.columns(2)
    names = [labels[r.key] for r in selected]
    accuracy = [r.test_accuracy for r in selected]
    left.plotly_chart(
        charts.accuracy_scatter([r.params for r in selected], accuracy, names, "parameters", log_x=True),
        key="compare_params",
    )
    right.plotly_chart(
        charts.accuracy_scatter(
            [r.final_map[0] for r in selected], accuracy, names, "last conv map side",
            title="Test accuracy vs the last conv layer's spatial size",
        ),
        key="compare_side",
    )

# --- one run up close --------------------------------------------------------------------------

st.subheader("One run up close")
record = ui_runs.run_picker("Run", key="compare_run", runs=runs)
if record is None:
    st.stop()
model = ui_runs.load_run_model(record)
if model is None:
    st.stop()
data = cached.mnist("auto")
predicted, probs = ui_runs.test_predictions(record.key, "auto")
true = data.y_test.astype(np.int64)
accuracy_here = float(np.mean(predicted == true))
if data.fingerprint == record.data_fingerprint:
    st.caption(f"On its {len(true):,} test images: accuracy {accuracy_here:.2%} (recorded {record.test_accuracy:.2%}).")
else:
    st.caption(
        f"Evaluated on the app's data, {data.label}: accuracy {accuracy_here:.2%}. The run was trained "
        f"on {text.md(record.data_label)} (recorded test accuracy {record.test_accuracy:.2%})."
    )
left, right = st.columns([2, 3])
left.plotly_chart(charts.confusion_figure(confusion_matrix(true, predicted)), key="compare_confusion")
limit = right.slider("Mistakes to show", 10, 100, step=10, key=state.kept("compare_mistakes", 40))
wrong = misclassified(true, predicted, probs, limit=limit)
right.plotly_chart(
    charts.mistakes_figure(data.x_test[wrong], true[wrong], predicted[wrong], cols=10), key="compare_grid"
)
right.caption(
    f"{int(np.sum(predicted != true)):,} of {len(true):,} test images are misclassified; "
    "the most confident mistakes come first. Large digit: predicted; in brackets: true."
)
