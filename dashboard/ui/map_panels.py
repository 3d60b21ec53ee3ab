"""Feature-map panels of one trained run: the run's forward pass and what the page draws.

`run_maps(key)` prepares a run once per server (`st.cache_resource`): a run trained here as numpy
arrays (`dashboard.inspection.forward`: no Keras, ~5 ms to read, ~1 ms a digit), an imported model as its
Keras activation model, traced once. `show_reading` draws the panels of one run for one digit;
the Feature maps page calls it once per column. The reading and the figures of a run and digit
are shared too (`reading_of`, `figures_of`): a room that opens the same link builds them once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import streamlit as st

from dashboard.charts import maps
from dashboard.charts.atlas import position_markers
from dashboard.inspection import readings
from dashboard.mnist.digits import image_digest
from dashboard.network.spec import MAP_KINDS, PRESETS, LayerGeometry, geometry
from dashboard.outside import escape_markdown
from dashboard.store.cache import CacheError
from dashboard.store.imported import has_maps
from dashboard.store.run import RunRecord
from dashboard.ui import text
from dashboard.ui.cached import IDLE_TTL
from dashboard.ui.chart import CONFIG, chart
from dashboard.ui.pick import clickable_chart
from dashboard.ui.run_picker import run_model, run_network
from dashboard.ui.session_memory import released_when_idle
from dashboard.ui.state import kept, set_url, url_int
from dashboard.views.chart_texts import kernels_caption, maps_caption, probabilities_caption, strongest_caption
from dashboard.views.labels import network_line, run_title

STRONGEST = 8  # channels listed at the chosen position


@dataclass(frozen=True, eq=False)
class RunMaps:
    """What the page needs of one run, built once: never mutate it (shared by all sessions)."""

    key: str
    forward: readings.Forward  # (n, 28, 28, 1) → ([conv/pool maps…], probabilities)
    names: tuple[str, ...]  # conv/pool layer names, in order
    kinds: tuple[str, ...]  # "Conv2D" / "MaxPooling2D" for each name
    geometry: tuple[LayerGeometry, ...]  # the geometry of those same layers
    kernels: np.ndarray  # first conv layer's weights (kh, kw, 1, filters)

    def read(self, image: np.ndarray) -> readings.Reading:
        """One forward pass of a (28, 28) image: probabilities and every layer's maps."""
        return readings.read_digit(self.forward, self.names, self.kinds, image)

    @property
    def last_conv(self) -> LayerGeometry:
        """Geometry of the last Conv2D layer: its size and receptive field."""
        return [g for g in self.geometry if g.kind == "Conv2D"][-1]


def network_maps(key: str, network: Any) -> RunMaps:
    """A run trained here, from its `dashboard.inspection.forward.Network` (numpy: nothing to load or trace)."""
    spatial = [g for g in geometry(network.spec) if g.size is not None and g.kind in MAP_KINDS]
    return RunMaps(key=key, forward=network.maps_and_probs, names=tuple(g.name for g in spatial),
                   kinds=tuple(g.kind for g in spatial), geometry=tuple(spatial), kernels=network.kernels())


def prepare_run(key: str, model: Any, spatial: list[LayerGeometry]) -> RunMaps:
    """An imported run, from its Keras `model`: the activation model, its forward pass traced once.

    `spatial` is the geometry of its conv/pool layers (`dashboard.store.imported.map_geometry`).
    """
    from dashboard.training.model import activation_model, forward_all, is_map_layer

    act = activation_model(model)  # reads the shared model's layers, never changes them
    layers = [layer for layer in model.layers if is_map_layer(layer)]
    if [g.name for g in spatial] != [layer.name for layer in layers]:
        raise ValueError(f"run {key}: its model's layers do not match its recorded network")
    act.predict_on_batch(np.zeros((1, 28, 28, 1), dtype=np.float32))  # trace once, here
    return RunMaps(
        key=key,
        forward=partial(forward_all, act),
        names=tuple(layer.name for layer in layers),
        kinds=tuple(g.kind for g in spatial),  # the recorded geometry names each layer's kind
        geometry=tuple(spatial),
        kernels=np.asarray(layers[0].get_weights()[0]),
    )


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=8, ttl=IDLE_TTL)
def run_maps(key: str) -> RunMaps:
    """Run `key` (trained here or shipped) ready to read digits, once per server: numpy, no Keras."""
    return network_maps(key, run_network(key))


@released_when_idle
@st.cache_resource(show_spinner="Preparing the imported model's feature maps…", max_entries=8, ttl=IDLE_TTL)
def imported_maps(key: str, scaling: str) -> RunMaps:
    """The activation model of imported run `key` fed under `scaling`, built once per server."""
    from dashboard.store.imported import map_geometry
    from dashboard.ui.run_picker import model_cache

    record = model_cache().get(key)
    if record is None or not record.is_imported:
        raise ValueError(f"run {key[:12]} is not an imported model in the cache")
    return prepare_run(key, run_model(key), map_geometry(record))


def position_picker(run: RunMaps, key: str, url: bool = False) -> tuple[int, int]:
    """Row and column sliders for a position in the last conv map (kept in the URL if `url`)."""
    side = run.last_conv.size or 1
    if side == 1:
        st.caption(f"`{run.last_conv.name}` is 1×1: its only position sees the whole digit.")
        return 0, 0
    centre = side // 2
    for axis in ("row", "col"):
        widget_key = kept(f"{key}_{axis}")
        if widget_key not in st.session_state or not 0 <= st.session_state[widget_key] < side:
            st.session_state[widget_key] = url_int(axis, 0, side - 1, centre) if url else centre
    left, right = st.columns(2)
    row = left.slider("Row", 0, side - 1, key=f"{key}_row")
    col = right.slider("Column", 0, side - 1, key=f"{key}_col")
    if url:
        set_url(row=row, col=col)
    return int(row), int(col)


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=8, ttl=IDLE_TTL)
def reading_of(run_id: str, digit: str, *, _run: RunMaps, _image: np.ndarray) -> readings.Reading:
    """`_run`'s reading of the digit `_image` (named `digit`), shared: every learner who opens the
    same run on the same test image gets it without a forward pass."""
    return _run.read(_image)


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=8, ttl=IDLE_TTL)
def figures_of(run_id: str, digit: str, position: tuple[int, int], true_label: int | None, wide: bool, *,
               _run: RunMaps, _reading: readings.Reading) -> dict[str, Any]:
    """Every figure of `_run`'s reading of `digit` at `position`, built once and shared (read-only)."""
    last = _run.last_conv
    figures = maps.reading_figures(_reading, _run.kernels, last, position, true_label, wide=wide, strongest=STRONGEST)
    if (last.size or 1) > 1:  # click a position on the digit: it moves the sliders
        figures["window"].add_trace(position_markers(last))
    return figures


def show_reading(
    run: RunMaps, run_id: str, image: np.ndarray, key: str, true_label: int | None = None, url: bool = False,
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
    chart(figures["kernels"], f"{key}_kernels", kernels_caption(run.kernels))


def second_default(records: list[RunRecord], first: RunRecord) -> str | None:
    """A run to compare with: the no-pooling network if cached, else any other run."""
    others = [r for r in records if r.key != first.key]
    pool = [r for r in others if r.spec == PRESETS["no_pooling"]] or others
    return pool[0].key if pool else None


def prepare(record: RunRecord) -> RunMaps | None:
    """The run ready to read digits (cached), or None after an error message."""
    try:
        if record.is_imported:
            if not has_maps(record):
                st.info(("A branching model: feature maps follow one chain of layers, so they are not shown"
                         if not record.imported.chain else
                         "No conv layers (like the book's chapter-2 dense network): no feature maps to look at")
                        + "; its summary and test accuracy are on Compare.", icon=":material/info:")
                return None
            return imported_maps(record.key, record.imported.scaling)
        return run_maps(record.key)
    except (CacheError, OSError, ValueError) as err:
        text.error(f"This run cannot be used: {err}. Train it again on the Train page.")
    return None


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
            run_id = record.key + (f"|{record.imported.scaling}" if record.is_imported else "")
            show_reading(
                run, run_id, digit.image, key=f"fm{i}", true_label=digit.label, url=i == 0, wide=len(chosen) == 1
            )
