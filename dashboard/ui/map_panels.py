"""Feature-map panels of one run: what the page draws of the run's reading of a digit.

The run's model (`dashboard.ui.run_picker.run_model`: a `dashboard.inspection.run_model.RunModel`,
built once per server; numpy for runs trained here and imported chains, ~1 ms a digit) reads the
digit. `show_reading` draws the panels of one run for one digit; the Feature maps page calls it
once per column. The reading and the figures of a run and digit are shared too (`reading_of`,
`figures_of`): a room that opens the same link builds them once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from dashboard.charts import maps
from dashboard.charts.atlas import position_markers
from dashboard.inspection import readings
from dashboard.inspection.run_model import RunModel
from dashboard.mnist.digits import image_digest
from dashboard.network.spec import PRESETS
from dashboard.outside import escape_markdown
from dashboard.store.run import RunRecord
from dashboard.ui.cached import IDLE_TTL
from dashboard.ui.chart import CONFIG, chart
from dashboard.ui.pick import clickable_chart
from dashboard.ui.run_picker import load_run_model
from dashboard.ui.session_memory import released_when_idle
from dashboard.ui.state import set_url, url_int
from dashboard.views.chart_texts import kernels_caption, maps_caption, probabilities_caption, strongest_caption
from dashboard.views.labels import network_line, run_title

STRONGEST = 8  # channels listed at the chosen position


def no_maps_note(run: RunModel) -> str:
    """Why the run has no feature maps, and where it is shown instead."""
    return f"{run.without_maps}; its summary and test accuracy are on Compare."


def position_picker(run: RunModel, key: str, url: bool = False) -> tuple[int, int]:
    """Row and column sliders for a position in the last conv map (kept in the URL if `url`)."""
    side = run.last_conv.size or 1
    if side == 1:
        st.caption(f"`{run.last_conv.name}` is 1×1: its only position sees the whole digit.")
        return 0, 0
    centre = side // 2
    for axis in ("row", "col"):
        widget_key = f"{key}_{axis}"
        if widget_key not in st.session_state or not 0 <= st.session_state[widget_key] < side:
            st.session_state[widget_key] = url_int(axis, 0, side - 1, centre) if url else centre
    left, right = st.columns(2)
    row = left.slider("Row", 0, side - 1, key=f"{key}_row", persist_state="session")
    col = right.slider("Column", 0, side - 1, key=f"{key}_col", persist_state="session")
    if url:
        set_url(row=row, col=col)
    return int(row), int(col)


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=8, ttl=IDLE_TTL)
def reading_of(run_id: str, digit: str, *, _run: RunModel, _image: np.ndarray) -> readings.Reading:
    """`_run`'s reading of the digit `_image` (named `digit`), shared: every learner who opens the
    same run on the same test image gets it without a forward pass."""
    return _run.read(_image)


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=8, ttl=IDLE_TTL)
def figures_of(run_id: str, digit: str, position: tuple[int, int], true_label: int | None, wide: bool, *,
               _run: RunModel, _reading: readings.Reading) -> dict[str, Any]:
    """Every figure of `_run`'s reading of `digit` at `position`, built once and shared (read-only)."""
    last = _run.last_conv
    figures = maps.reading_figures(_reading, _run.kernels(), last, position, true_label, wide=wide, strongest=STRONGEST)
    if (last.size or 1) > 1:  # click a position on the digit: it moves the sliders
        figures["window"].add_trace(position_markers(last))
    return figures


def show_reading(
    run: RunModel, run_id: str, image: np.ndarray, key: str, true_label: int | None = None, url: bool = False,
    wide: bool = True,
) -> None:
    """Every panel of one run (named `run_id`) for one digit: prediction, receptive field, maps, kernels.

    `wide` (the run has the page to itself) lays tiles out twice as many per row; `url` keeps
    the chosen position in the URL.
    """
    digit = image_digest(image)
    reading = reading_of(run_id, digit, _run=run, _image=image)
    shapes = " → ".join(["28×28×1"] + [f"{h}×{w}×{c}" for h, w, c in (layer.maps.shape for layer in reading.layers)])
    st.caption(f"The digit becomes {shapes}, then the classifier reads the last map.")
    predicted, confidence = reading.predicted, reading.confidence
    verdict = ""
    if true_label is not None:
        verdict = " · right" if predicted == true_label else f" · wrong: it is a {true_label}"
    st.metric("Predicted digit", f"{predicted}", delta=f"{confidence:.1%} sure{verdict}", delta_color="off", delta_arrow="off")
    probabilities = st.container()  # filled once the figures are built, below the position sliders

    st.markdown("##### The receptive field")
    last = run.last_conv
    st.caption(
        f"Choose one of the {last.size}×{last.size} positions of `{last.name}`: the red box is the "
        f"{last.receptive_field}×{last.receptive_field} window of the input that position sees. "
        "Click a position on the digit, or use the sliders."
    )
    position = position_picker(run, key, url=url)
    figures = figures_of(run_id, digit, position, true_label, wide, _run=run, _reading=reading)
    chart(figures["probabilities"], f"{key}_probs", probabilities_caption(reading.probabilities), where=probabilities)
    picture, bars = st.columns([1, 1])
    side = last.size or 1
    if side > 1:
        with picture:
            clickable_chart(
                figures["window"], key=f"{key}_window", widget_keys=[f"{key}_row", f"{key}_col"],
                valid=lambda v: 0 <= v[0] < side and 0 <= v[1] < side, config=CONFIG,
            )
    else:
        picture.plotly_chart(figures["window"], key=f"{key}_window", config=CONFIG)
    bars_data = figures["strongest"].data[0]
    chart(figures["strongest"], f"{key}_strongest", strongest_caption(list(bars_data.x), list(bars_data.y)), where=bars)

    st.markdown("##### Activation maps")
    st.caption("Each tile is one channel, scaled to its own maximum: yellow is where it is strongest, dark purple "
               "where it is zero. Hover for the channel number.")
    for layer in reading.layers:
        chart(figures[f"layer:{layer.name}"], f"{key}_layer_{layer.name}", maps_caption(layer.name, layer.maps))

    st.markdown("##### First conv layer's kernels")
    chart(figures["kernels"], f"{key}_kernels", kernels_caption(run.kernels()))


def second_default(records: list[RunRecord], first: RunRecord) -> str | None:
    """A run to compare with: the no-pooling network if cached, else any other run."""
    others = [r for r in records if r.key != first.key]
    pool = [r for r in others if r.spec == PRESETS["no_pooling"]] or others
    return pool[0].key if pool else None


def prepare(record: RunRecord) -> RunModel | None:
    """The run's model, ready to read digits (cached), or None after a message (a damaged entry, no maps)."""
    run = load_run_model(record)
    if run is not None and run.without_maps:
        st.info(no_maps_note(run), icon=":material/info:")
        return None
    return run


@st.fragment
def digit_and_maps(chosen: list[RunRecord]) -> None:
    """The digit and every chosen run's maps of it: a stroke or a slider reruns only this part."""
    from dashboard.ui.digit_input import digit_input

    digit = digit_input("fm")
    if digit is None or not chosen:
        return
    columns = st.columns(len(chosen)) if len(chosen) > 1 else [st.container()]
    for i, (record, column) in enumerate(zip(chosen, columns)):
        with column:
            st.subheader(network_line(record))
            st.caption(escape_markdown(run_title(record), limit=200))
            run = prepare(record)  # a cached resource: built on the first view only
            if run is None:
                continue
            show_reading(
                run, run.cache_id, digit.image, key=f"fm{i}", true_label=digit.label, url=i == 0, wide=len(chosen) == 1
            )
