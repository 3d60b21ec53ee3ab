"""Streamlit side of the Compare page: the runs table, runs side by side, and one run up close.

The two lower sections are `st.fragment`s: choosing runs redraws only the charts of the chosen
runs, and choosing a run or the number of mistakes redraws only that run's confusion matrix and
mistakes (the table and the listing are not recomputed).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from dashboard import compare
from dashboard.charts import training as charts
from dashboard.evaluation import confusion_matrix, misclassified
from dashboard.labels import data_name, dataset_name
from dashboard.run import RunRecord
from dashboard.ui import cached, state, text
from dashboard.ui import jobs as ui_jobs
from dashboard.ui import runs as ui_runs
from dashboard.ui.memory import released_when_idle


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


def _by_key(record: RunRecord) -> str:
    return record.key  # a run's key names its network, settings, data and seed: its record follows


@st.cache_resource(show_spinner=False, max_entries=32, ttl=cached.IDLE_TTL, hash_funcs={RunRecord: _by_key})
def side_by_side_figures(selected: tuple[RunRecord, ...], names: tuple[str, ...]) -> tuple[go.Figure, ...]:
    """(validation curves, accuracy vs parameters, accuracy vs last map side) of `selected` runs,
    built once per server and shared (read-only): plotly figures cost more to build than to show."""
    groups = [data_name(r) for r in selected]  # colour and symbol: the data each run was trained on
    accuracy = [r.test_accuracy for r in selected]
    mapped = [(r, n, g) for r, n, g in zip(selected, names, groups) if r.final_map is not None]
    return (
        charts.compare_curves({n: r.history.get("val_accuracy", []) for r, n in zip(selected, names)}),
        charts.accuracy_scatter([r.params for r in selected], accuracy, list(names), "parameters",
                                log_x=True, groups=groups),
        charts.accuracy_scatter(
            [r.final_map[0] for r, _, _ in mapped], [r.test_accuracy for r, _, _ in mapped], [n for _, n, _ in mapped],
            "last conv map side", title="Test accuracy vs the last conv layer's spatial size",
            groups=[g for _, _, g in mapped]),
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
    selected = tuple(by_key[k] for k in chosen)
    if not selected:
        st.info("Select one or more runs above to compare them.", icon=":material/info:")
        return
    curves, by_params, by_side = side_by_side_figures(selected, tuple(labels[r.key] for r in selected))
    st.plotly_chart(curves, key="compare_curves")
    left, right = st.columns(2)
    left.plotly_chart(by_params, key="compare_params")
    right.plotly_chart(by_side, key="compare_side")
    if len({data_name(r) for r in selected}) > 1:
        st.caption("Runs trained on different data are marked apart: a run on the 12,000-image embedded subset "
                   "scores lower than the same network on full MNIST, without being a worse network.")


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=16, ttl=cached.IDLE_TTL)
def up_close_figures(key: str, fingerprint: str, limit: int, *, _images: np.ndarray, _true: np.ndarray,
                     _predicted: np.ndarray, _confidence: np.ndarray) -> tuple[go.Figure, go.Figure]:
    """(confusion matrix, the `limit` most confident mistakes) of run `key` on the test set `fingerprint`
    (whose images, labels and the run's predictions and their probabilities follow), built once and shared."""
    wrong = misclassified(_true, _predicted, _confidence, limit=limit)
    return (charts.confusion_figure(confusion_matrix(_true, _predicted)),
            charts.mistakes_figure(_images[wrong], _true[wrong], _predicted[wrong], cols=10))


@st.fragment
def up_close(runs: list[RunRecord]) -> None:
    """One run's confusion matrix and most confident mistakes on this server's test images."""
    newest = ui_runs.newest_own_run(runs, own_keys())
    record = ui_runs.run_picker("Run", key="compare_run", runs=runs,
                                default_key=newest.key if newest is not None else None)
    predictions = ui_runs.run_predictions(record) if record is not None else None
    if predictions is None:
        return
    predicted, confidence = predictions  # stored beside the run: the model is loaded only the first time
    data = cached.mnist("auto")
    true = data.y_test.astype(np.int64)
    st.caption(text.md(compare.evaluation_note(float(np.mean(predicted == true)), len(true),
                                               data.fingerprint == record.data_fingerprint, record, dataset_name(data))))
    left, right = st.columns([2, 3])
    limit = right.slider("Mistakes to show", 10, 100, step=10, key=state.kept("compare_mistakes", 40))
    confusion, mistakes = up_close_figures(record.key, data.fingerprint, limit, _images=data.x_test, _true=true,
                                          _predicted=predicted, _confidence=confidence)
    left.plotly_chart(confusion, key="compare_confusion")
    right.plotly_chart(mistakes, key="compare_grid")
    right.caption(f"{int(np.sum(predicted != true)):,} of {len(true):,} test images are misclassified; the most "
                  "confident mistakes come first. Under each image: the predicted digit in bold, the true one "
                  "in brackets.")
