"""Streamlit side of the Compare page: the runs table, runs side by side, and one run up close.

The two lower sections are `st.fragment`s: choosing runs redraws only the charts of the chosen
runs, and choosing a run or the number of mistakes redraws only that run's confusion matrix and
mistakes (the table and the listing are not recomputed).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from dashboard.charts import training
from dashboard.inspection.evaluation import confusion_matrix, in_cell
from dashboard.store.run import RunRecord
from dashboard.store.seeds import SPREAD_WORDS, group_runs
from dashboard.ui import cached, jobs_panel, run_picker, text
from dashboard.ui.chart import CONFIG, chart
from dashboard.ui.pick import clickable_chart
from dashboard.ui.session_memory import released_when_idle
from dashboard.views import chart_texts, compare_table
from dashboard.views.labels import data_name, dataset_name


def own_keys() -> set[str]:
    """Run keys of this learner's jobs (their own runs)."""
    return {status.key for status in jobs_panel.my_jobs()}


PERCENT = "%.2f%%"


def groups_table(runs: list[RunRecord]) -> None:
    """Every network and training once, its seeds together: median, range and failed trainings."""
    st.dataframe(
        compare_table.groups_table(group_runs(runs)),
        hide_index=True,
        key="compare_groups",
        column_config={
            "network": st.column_config.TextColumn(width=220, pinned=True),
            "data": st.column_config.TextColumn("trained on", width=175),
            "training": st.column_config.TextColumn(width=120),
            "seeds": st.column_config.NumberColumn(format="%d", width=60),
            "test accuracy": st.column_config.NumberColumn("test acc. (median)", format=PERCENT, width=110),
            "lowest": st.column_config.NumberColumn(format=PERCENT, width=70),
            "highest": st.column_config.NumberColumn(format=PERCENT, width=70),
            "did not train": st.column_config.NumberColumn(format="%d", width=85),
            "params": st.column_config.NumberColumn(format="%d", width=80),
            "last conv map": st.column_config.TextColumn("map the head reads", width=90),
            "key": st.column_config.TextColumn("a run", width=140),
        },
    )
    st.caption(f"Test accuracy: {SPREAD_WORDS}; failed trainings are counted apart and never enter the median.")


def runs_table(runs: list[RunRecord]) -> None:
    """Every cached run (each seed), its data named; the accuracy and time columns come early so they always show."""
    st.dataframe(
        compare_table.runs_table(runs),
        hide_index=True,
        key="compare_table",
        column_config={  # widths in pixels: the first columns fit a 1280-px window with the sidebar open
            "network": st.column_config.TextColumn(width=220, pinned=True),
            "data": st.column_config.TextColumn("trained on", width=175),
            "seed": st.column_config.NumberColumn(format="%d", width=50),
            "test accuracy": st.column_config.NumberColumn("test acc.", format=PERCENT, width=75),
            "trained": st.column_config.CheckboxColumn(width=65),
            "train time (s)": st.column_config.NumberColumn("time (s)", format="%.1f", width=65),
            "training": st.column_config.TextColumn(width=150),
            "params": st.column_config.NumberColumn(format="%d", width=80),
            "last conv map": st.column_config.TextColumn("map the head reads", width=90),
            "val accuracy": st.column_config.NumberColumn("val acc.", format=PERCENT, width=75),
            "epochs": st.column_config.NumberColumn(width=60),
            "shipped": st.column_config.CheckboxColumn(width=65),
            "key": st.column_config.TextColumn(width=140),
        },
    )


def _by_key(record: RunRecord) -> str:
    return record.key  # a run's key names its network, settings, data and seed: its record follows


@st.cache_resource(show_spinner=False, max_entries=32, ttl=cached.IDLE_TTL, hash_funcs={RunRecord: _by_key})
def side_by_side_figures(selected: tuple[RunRecord, ...], names: tuple[str, ...],
                         groups: tuple[RunRecord, ...]) -> tuple[go.Figure, ...]:
    """(validation curves of the selected runs that trained, accuracy vs parameters, accuracy vs last map side of
    their networks over every cached seed `groups`, and the three charts' captions), built once per server and
    shared (read-only)."""
    networks = group_runs(groups)
    curves = {n: r.history.get("val_accuracy", []) for r, n in zip(selected, names) if r.trained}
    by_params = compare_table.group_points(networks, lambda r: r.params)
    by_side = compare_table.group_points(networks, lambda r: r.final_map[0] if r.final_map else None)
    return (
        training.compare_curves(curves),
        training.group_scatter(by_params, "parameters", log_x=True),
        training.group_scatter(by_side, "last conv map side", title="Test accuracy vs the last conv layer's spatial size"),
        (chart_texts.compare_curves_caption(curves), chart_texts.scatter_caption(by_params, "parameters"),
         chart_texts.scatter_caption(by_side, "last conv map side")),
    )


@st.fragment
def side_by_side(runs: list[RunRecord]) -> None:
    """The chosen runs' validation curves and accuracy scatters, marked by the data they were trained on."""
    by_key = {r.key: r for r in runs}
    labels = compare_table.curve_labels(runs)
    if "compare_runs" in st.session_state:
        st.session_state["compare_runs"] = [k for k in st.session_state["compare_runs"] if k in by_key]
    else:
        st.session_state["compare_runs"] = compare_table.default_selection(runs, own_keys())
    chosen = st.multiselect("Runs to compare", list(by_key), format_func=labels.get, key="compare_runs",
                            persist_state="session")
    selected = tuple(by_key[k] for k in chosen)
    if not selected:
        st.info("Select one or more runs above to compare them.", icon=":material/info:")
        return
    networks = compare_table.selected_groups(selected, runs)
    every_seed = tuple(r for g in networks for r in g.runs)
    curves, by_params, by_side, captions = side_by_side_figures(selected, tuple(labels[r.key] for r in selected),
                                                                every_seed)
    failed = [r for r in selected if not r.trained]
    chart(curves, "compare_curves", captions[0])
    if failed:
        text.caption("Not drawn, because the training failed: "
                     + "; ".join(f"{labels[r.key]}: {r.diagnosis}" for r in failed))
    left, right = st.columns(2)
    chart(by_params, "compare_params", captions[1], where=left)
    chart(by_side, "compare_side", captions[2], where=right)
    st.caption("Each point is a network with all its cached seeds (not only the runs selected): the median of those "
               "that trained, with a bar from the lowest to the highest; a cross is a training that failed.")
    for sentence in compare_table.judgement_sentences(networks):
        st.markdown(f"- {text.md(sentence)}")
    if len({data_name(r) for r in selected}) > 1:
        st.caption("Runs trained on different data are marked apart: a run on the 12,000-image embedded subset "
                   "scores lower than the same network on full MNIST, without being a worse network.")


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=16, ttl=cached.IDLE_TTL)
def up_close_figures(key: str, fingerprint: str, limit: int, cell: tuple[int | None, int | None], *,
                     _images: np.ndarray, _true: np.ndarray, _predicted: np.ndarray,
                     _confidence: np.ndarray) -> tuple[go.Figure, go.Figure, str]:
    """(confusion matrix, the `limit` most confident images of `cell` (true, predicted; None is any digit,
    both None the mistakes), the matrix's caption) of run `key` on the test set `fingerprint` (whose images,
    labels and the run's predictions and their probabilities follow), built once and shared."""
    shown = in_cell(_true, _predicted, _confidence, *cell, limit=limit)
    matrix = confusion_matrix(_true, _predicted)
    return (training.confusion_figure(matrix),
            training.mistakes_figure(_images[shown], _true[shown], _predicted[shown], cols=10,
                                   title=compare_table.cell_title(len(shown), *cell)),
            chart_texts.confusion_caption(matrix))


@st.fragment
def up_close(runs: list[RunRecord]) -> None:
    """One run's confusion matrix and most confident mistakes on this server's test images."""
    newest = run_picker.newest_own_run(runs, own_keys())
    record = run_picker.run_picker("Run", key="compare_run", runs=runs,
                                default_key=newest.key if newest is not None else None)
    predictions = run_picker.run_predictions(record) if record is not None else None
    if predictions is None:
        return
    predicted, confidence = predictions  # stored beside the run: the model is loaded only the first time
    data = cached.mnist("auto")
    true = data.y_test.astype(np.int64)
    st.caption(text.md(compare_table.evaluation_note(float(np.mean(predicted == true)), len(true),
                                               data.fingerprint == record.data_fingerprint, record, dataset_name(data))))
    left, right = st.columns([2, 3])
    digits = list(range(10))
    # In the link (`bind`): a bad value there needs no warning, Streamlit drops it and the default stands.
    cell_true = left.selectbox("True digit", digits, index=None, placeholder="any", key="compare_cell_true",
                               bind="query-params")
    cell_predicted = left.selectbox("Predicted digit", digits, index=None, placeholder="any",
                                    key="compare_cell_predicted", bind="query-params")
    limit = right.slider("Images to show", 10, 100, step=10, value=40, key="compare_mistakes", bind="query-params")
    confusion, mistakes, caption = up_close_figures(
        record.key, data.fingerprint, limit, (cell_true, cell_predicted), _images=data.x_test, _true=true,
        _predicted=predicted, _confidence=confidence)
    with left:
        clickable_chart(confusion, key="compare_confusion", widget_keys=["compare_cell_true", "compare_cell_predicted"],
                        valid=lambda v: 0 <= v[0] < 10 and 0 <= v[1] < 10, config=CONFIG)
        text.caption(caption)
    right.plotly_chart(mistakes, key="compare_grid", config=CONFIG)
    right.caption(f"{int(np.sum(predicted != true)):,} of {len(true):,} test images are misclassified; the most "
                  "confident mistakes come first. Under each image: ✗ and the predicted digit in bold, the true one "
                  "in brackets (✓ and the digit for a right one). Choose a true and a predicted digit, or click a "
                  "cell of the matrix, to see the images of that cell.")
