"""The "how many numbers" panel: accuracy against the size of the last map, from cached runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from dashboard.charts.numbers import numbers_chart
from dashboard.ui import page_paths
from dashboard.ui.cached import IDLE_TTL
from dashboard.ui.session_memory import released_when_idle
from dashboard.ui.text import caption, md
from dashboard.views.accuracy_by_size import choose_points, numbers_sentences, seeds_caption
from dashboard.views.labels import data_name, training_label


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=8, ttl=IDLE_TTL)
def numbers_figure(run_keys: tuple[tuple[str, float], ...], *, _points) -> Any:
    """The chart of the points chosen among the runs `run_keys` ((key, test accuracy) each; the points given),
    built once and shared."""
    return numbers_chart(_points)


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=8, ttl=IDLE_TTL)
def chosen_points(run_keys: tuple[tuple[str, float], ...], *, _records: Sequence[Any]) -> tuple[list, Any]:
    """`choose_points` of the runs `run_keys` (their records, given), once per listing: it reads every run's geometry."""
    from dashboard.training.train_settings import TRAIN_PRESETS

    return choose_points(_records, preferred_settings=TRAIN_PRESETS["fast"])


def show_numbers(records: Sequence[Any], key: str = "numbers") -> None:
    """Chart and computed text for the best group of cached runs of the family, or how to get them."""
    keys = tuple((r.key, r.test_accuracy) for r in records)  # an imported run's accuracy changes with its scaling
    points, sample = chosen_points(keys, _records=records)
    if len([p for p in points if p.role == "family"]) + len(points) < 3:
        st.info(
            "Too few runs of the family in the cache: the book network with its last conv layer at "
            "1, 2, 4, 8, 16, 32 or 64 filters, and the global_avg, one_by_one and no_pooling presets, "
            "trained alike. The Train page trains the whole family at once.",
            icon=":material/info:",
        )
        st.page_link(page_paths.TRAIN, label="Train the family on the Train page", icon=":material/model_training:")
        if not points:
            return
    chart_col, text_col = st.columns([3, 2])
    with chart_col:
        st.plotly_chart(numbers_figure(keys, _points=points), key=f"{key}_chart")
    with text_col:
        st.markdown(
            "The book network's last map is 3×3×64: **576 numbers**. Change only the number of "
            "filters of its last conv layer and the map keeps its 3×3 positions but carries fewer "
            "channels: 1 filter leaves 9 numbers. Each point is one network: the median of its "
            "trainings from the cache (one per seed), with a bar from the lowest to the highest; "
            "each circle is one seed, and a cross a training that failed."
        )
        for sentence in numbers_sentences(points):  # may quote a record's diagnosis: plain text
            st.markdown(f"- {md(sentence)}")
        if sample is not None:
            caption(seeds_caption(points, f"{training_label(sample)} settings", data_name(sample)))
