"""Streamlit side of the Compare page: the runs table, runs side by side, and one run up close.

The two lower sections are `st.fragment`s: choosing runs redraws only the charts of the chosen
runs, and choosing a run or the number of mistakes redraws only that run's confusion matrix and
mistakes (the table and the listing are not recomputed).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import compare
from dashboard.charts import training as charts
from dashboard.evaluation import confusion_matrix, misclassified
from dashboard.labels import data_name, dataset_name
from dashboard.run import RunRecord
from dashboard.ui import cached, state, text
from dashboard.ui import jobs as ui_jobs
from dashboard.ui import runs as ui_runs


def own_keys() -> set[str]:
    """Run keys of this session's jobs (the learner's own runs)."""
    return {status.key for status in ui_jobs.manager().jobs(ui_jobs.session_id())}


def runs_table(runs: list[RunRecord]) -> None:
    """Every cached run, its data named; the accuracy and time columns come early so they always show."""
    st.dataframe(
        compare.runs_table(runs),
        hide_index=True,
        key="compare_table",
        column_config={  # widths in pixels: the first six columns fit a 1280-px window with the sidebar open
            "network": st.column_config.TextColumn(width=170, pinned=True),
            "data": st.column_config.TextColumn("trained on", width=175),
            "test accuracy": st.column_config.NumberColumn("test acc.", format="%.4f", width=75),
            "train time (s)": st.column_config.NumberColumn("time (s)", format="%.1f", width=65),
            "training": st.column_config.TextColumn(width=150),
            "params": st.column_config.NumberColumn(format="%d", width=80),
            "last conv map": st.column_config.TextColumn("last map", width=70),
            "val accuracy": st.column_config.NumberColumn("val acc.", format="%.4f", width=75),
            "epochs": st.column_config.NumberColumn(width=60),
            "shipped": st.column_config.CheckboxColumn(width=65),
            "key": st.column_config.TextColumn(width=140),
        },
    )


@st.fragment
def side_by_side(runs: list[RunRecord]) -> None:
    """The chosen runs' validation curves and accuracy scatters, marked by the data they were trained on."""
    by_key = {r.key: r for r in runs}
    labels = compare.curve_labels(runs)
    state.kept("compare_runs")  # the choice made before a visit to another page
    if "compare_runs" in st.session_state:
        st.session_state["compare_runs"] = [k for k in st.session_state["compare_runs"] if k in by_key]
    else:
        st.session_state["compare_runs"] = compare.default_selection(runs, own_keys())
    chosen = st.multiselect("Runs to compare", list(by_key), format_func=labels.get, key="compare_runs")
    selected = [by_key[k] for k in chosen]
    if not selected:
        st.info("Select one or more runs above to compare them.", icon=":material/info:")
        return
    st.plotly_chart(charts.compare_curves({labels[r.key]: r.history.get("val_accuracy", []) for r in selected}),
                    key="compare_curves")
    names, accuracy = [labels[r.key] for r in selected], [r.test_accuracy for r in selected]
    groups = [data_name(r) for r in selected]  # colour and symbol: the data each run was trained on
    left, right = st.columns(2)
    left.plotly_chart(charts.accuracy_scatter([r.params for r in selected], accuracy, names, "parameters",
                                              log_x=True, groups=groups), key="compare_params")
    mapped = [(r, n, g) for r, n, g in zip(selected, names, groups) if r.final_map is not None]
    right.plotly_chart(charts.accuracy_scatter(
        [r.final_map[0] for r, _, _ in mapped], [r.test_accuracy for r, _, _ in mapped], [n for _, n, _ in mapped],
        "last conv map side", title="Test accuracy vs the last conv layer's spatial size",
        groups=[g for _, _, g in mapped]), key="compare_side")
    if len(set(groups)) > 1:
        st.caption("Runs trained on different data are marked apart: a run on the 12,000-image embedded subset "
                   "scores lower than the same network on full MNIST, without being a worse network.")


@st.fragment
def up_close(runs: list[RunRecord]) -> None:
    """One run's confusion matrix and most confident mistakes on this server's test images."""
    newest = ui_runs.newest_own_run(runs, own_keys())
    record = ui_runs.run_picker("Run", key="compare_run", runs=runs,
                                default_key=newest.key if newest is not None else None)
    if record is None or ui_runs.load_run_model(record) is None:
        return
    data = cached.mnist("auto")
    predicted, probs = ui_runs.test_predictions(record.key, "auto")
    true = data.y_test.astype(np.int64)
    st.caption(text.md(compare.evaluation_note(float(np.mean(predicted == true)), len(true),
                                               data.fingerprint == record.data_fingerprint, record, dataset_name(data))))
    left, right = st.columns([2, 3])
    left.plotly_chart(charts.confusion_figure(confusion_matrix(true, predicted)), key="compare_confusion")
    limit = right.slider("Mistakes to show", 10, 100, step=10, key=state.kept("compare_mistakes", 40))
    wrong = misclassified(true, predicted, probs, limit=limit)
    right.plotly_chart(charts.mistakes_figure(data.x_test[wrong], true[wrong], predicted[wrong], cols=10),
                       key="compare_grid")
    right.caption(f"{int(np.sum(predicted != true)):,} of {len(true):,} test images are misclassified; the most "
                  "confident mistakes come first. Under each image: the predicted digit in bold, the true one "
                  "in brackets.")
