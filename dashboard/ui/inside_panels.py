"""The sections of "Inside the 3×3", each a fragment: a widget in one section reruns that section only.

Every section reads the run's analyses from the server-wide caches of `dashboard.ui.inside_cache`
(computed once per run), draws its charts and shows the words of `dashboard.views.inside_texts`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from dashboard.charts import inside
from dashboard.inspection.evaluation import depth_runs, family_rows
from dashboard.inspection.run_model import RunModel
from dashboard.mnist.data import MnistData
from dashboard.mnist.digits import image_digest
from dashboard.network.spec import LayerGeometry
from dashboard.store.run import RunRecord
from dashboard.store.seeds import SPREAD_WORDS, group_of
from dashboard.training.diagnosis import dead_channels_sentence
from dashboard.ui import inside_cache, page_paths, text
from dashboard.ui.cached import IDLE_TTL
from dashboard.ui.pick import point_values
from dashboard.ui.session_memory import released_when_idle
from dashboard.ui.state import set_url, url_int, url_token
from dashboard.views import inside_texts
from dashboard.views.labels import training_label


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=16, ttl=IDLE_TTL)
def projection_figure(run_key: str, method: str, data_fingerprint: str, *, _proj: dict) -> go.Figure:
    """The projection chart of run `run_key` (its `inside_cache.projection`, given), built once and shared."""
    return inside.projection_chart(_proj["coords"], _proj["labels"], _proj["indices"], _proj["predicted"],
                                   method="PCA" if method == "pca" else "t-SNE", explained=_proj["explained"])


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=16, ttl=IDLE_TTL)
def gradcam_figure(run_id: str, digit: str, class_index: int, *, _image: np.ndarray, _cam) -> go.Figure:
    """The Grad-CAM chart of the run model `run_id` for the digit `_image` (named `digit`), built once and shared."""
    predicted = int(np.argmax(_cam.probabilities))
    return inside.gradcam_chart(
        _image, _cam.heatmap, _cam.coarse,
        f"Grad-CAM for digit {_cam.class_index} · predicted {predicted} ({_cam.probabilities[predicted]:.1%})",
    )


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=16, ttl=IDLE_TTL)
def ablation_figures(run_key: str, data_fingerprint: str, *, _ablation) -> dict[str, go.Figure]:
    """The charts of run `run_key`'s ablation on the test set `data_fingerprint` (given), built once and shared."""
    return {
        "zero_one": inside.position_chart(_ablation.zero_one, _ablation.baseline, "Accuracy with one position zeroed",
                                          note=f"all positions kept: {_ablation.baseline:.1%} on {_ablation.n_images:,} test images"),
        "keep_one": inside.position_chart(_ablation.keep_one, _ablation.baseline, "Accuracy with only one position kept",
                                          note=f"chance is {inside_texts.CHANCE:.0%}"),
        "channels": inside.channel_chart(_ablation.channel_accuracy, _ablation.channel_order, _ablation.baseline),
    }


@released_when_idle
@st.cache_resource(show_spinner=False, max_entries=16, ttl=IDLE_TTL)
def depth_figure(run_keys: tuple[tuple[str, float], ...], highlight: int | None, *, _rows) -> go.Figure:
    """The depth-against-size chart of the runs `run_keys` ((key, test accuracy) each; their family rows
    given), built once and shared."""
    return inside.depth_size_chart([r.final_size for r in _rows], [r.test_accuracy for r in _rows],
                                   [r.params for r in _rows], [r.label for r in _rows], highlight=highlight)


PROJECTIONS = {"pca": "PCA (fast)", "tsne": f"t-SNE ({inside_cache.TSNE_IMAGES:,} images, slower the first time)"}
PREDICTED = -1  # Grad-CAM of the class the network predicts
MAX_SHOWN = 24  # selected images drawn below the projection


@st.fragment
def projection_section(record: RunRecord, numbers: int, layer_name: str, data: MnistData) -> None:
    """The test images placed by their last-map numbers (PCA or t-SNE); selected dots drawn below."""
    method = url_token("proj", allowed=list(PROJECTIONS)) or "pca"
    method = st.radio(
        "Projection", list(PROJECTIONS), format_func=PROJECTIONS.__getitem__, horizontal=True,
        index=list(PROJECTIONS).index(method), key="inside_proj", persist_state="session",
    )
    set_url(proj=method)
    proj = inside_cache.projection(record.key, method, data.fingerprint)
    chart_col, text_col = st.columns([3, 2])
    with chart_col:
        event = st.plotly_chart(
            projection_figure(record.key, method, data.fingerprint, _proj=proj),
            key="inside_projection",
            on_select="rerun",
            selection_mode=("points", "box", "lasso"),
        )
    with text_col:
        st.markdown(inside_texts.projection_text(numbers, layer_name, method, proj["explained"]))
        points = event.selection.points if event is not None and hasattr(event, "selection") else []
        chosen = [values[0] for values in map(point_values, points) if values][:MAX_SHOWN]
        # The keyboard's way to a selection: the sample's misclassified images.
        if not chosen and st.toggle("Show the misclassified images of the sample", key="inside_show_wrong"):
            chosen = [int(i) for i, t, p in zip(proj["indices"], proj["labels"], proj["predicted"]) if t != p][:MAX_SHOWN]
        if chosen:
            truth = {int(i): (int(t), int(p)) for i, t, p in zip(proj["indices"], proj["labels"], proj["predicted"])}
            captions = [f"#{i}<br>{truth[i][0]}→{truth[i][1]}" if i in truth else f"#{i}" for i in chosen]
            st.plotly_chart(
                inside.thumbnails_chart(data.x_test[chosen], captions, cols=6, title="Selected (label→predicted)"),
                key="inside_selected",
                config={"displayModeBar": False},
            )


def positions_section(record: RunRecord, data_fingerprint: str, ablation, geo: LayerGeometry, channels: int) -> None:
    """Accuracy with one position zeroed, and with one position alone, beside what they say.

    `ablation` (a `dashboard.inspection.ablation.Ablation`) is run `record`'s on the test set `data_fingerprint`.
    """
    figures = ablation_figures(record.key, data_fingerprint, _ablation=ablation)
    left_col, right_col, text_col = st.columns([2, 2, 2])
    with left_col:
        st.plotly_chart(figures["zero_one"], key="inside_zero_one")
    with right_col:
        st.plotly_chart(figures["keep_one"], key="inside_keep_one")
    with text_col:
        st.markdown(inside_texts.positions_text(geo, channels, ablation.zero_one, ablation.keep_one,
                                         ablation.baseline, ablation.n_images))


@st.fragment
def channels_section(record: RunRecord, data_fingerprint: str, ablation, conv_name: str, channels: int,
                     linked: bool) -> None:
    """Accuracy with each channel zeroed; a clicked bar links to what that channel looks for when the
    Channels page draws `conv_name` (`linked`)."""
    from dashboard.ui.pick import channel_link

    chart_col, text_col = st.columns([3, 2])
    with chart_col:
        st.plotly_chart(
            ablation_figures(record.key, data_fingerprint, _ablation=ablation)["channels"],
            key="inside_channels",
            on_select="rerun",
            selection_mode="points",
        )
        if linked:
            chosen = st.selectbox("Channel to look at", list(range(channels)), index=None, placeholder="choose one",
                                  key="inside_channel_pick")  # the keyboard's way to the click
            channel_link(record.key, st.session_state.get("inside_channels"), channels, chosen)
    with text_col:
        st.markdown(inside_texts.channels_text(conv_name, ablation.channel_accuracy, ablation.channel_order, ablation.baseline))


@st.fragment
def depth_section(records: Sequence[RunRecord], record: RunRecord) -> None:
    """Test accuracy and parameters against the last map's side, over the cached runs."""
    same_only = st.toggle(
        "Only runs trained with the same settings and data", value=True, key="inside_same", persist_state="session",
        help="A fair comparison of networks needs the same training.",
    )
    shown, instead = depth_runs(records, record, same_only)
    rows = family_rows(shown)
    if instead:
        st.caption(inside_texts.depth_note(training_label(shown[0]), len(rows)))
    chart_col, text_col = st.columns([3, 2])
    with chart_col:
        if len(rows) >= 2:
            highlight = next((i for i, r in enumerate(rows) if r.key == record.key), None)
            keys = tuple((r.key, r.test_accuracy) for r in rows)  # an imported run's accuracy follows its scaling
            st.plotly_chart(depth_figure(keys, highlight, _rows=rows), key="inside_depth")
        else:
            st.info(
                "Only one run to show. Train networks of other depths to compare last-map sizes: the Train "
                "page trains a whole family at once (vary the number of conv blocks), or switch off the "
                "toggle above to include every cached run.",
                icon=":material/info:",
            )
            st.page_link(page_paths.TRAIN, label="Train a family of networks", icon=":material/model_training:")
    with text_col:
        st.markdown(inside_texts.depth_text([r.test_accuracy for r in rows], [r.params for r in rows],
                                     marked=any(r.key == record.key for r in rows)))


@st.fragment
def gradcam_section(record: RunRecord, run: RunModel) -> None:
    """Where the network looks: the digit input, the class to explain, and its Grad-CAM by the run's model."""
    from dashboard.ui.digit_input import digit_input

    digit = digit_input("inside")
    if digit is None:
        return
    cam_default = url_int("cam", PREDICTED, 9, PREDICTED)
    cam_class = st.selectbox(
        "Explain the score of", [PREDICTED, *range(10)], index=[PREDICTED, *range(10)].index(cam_default),
        key="inside_cam", persist_state="session",
        format_func=lambda k: "the predicted digit" if k == PREDICTED else f"digit {k}",
    )
    set_url(cam=None if cam_class == PREDICTED else cam_class)
    if not run.explains:
        st.info("Grad-CAM scores the logits of a final Dense layer; this model ends in "
                f"{run.last_kind}, so it is not shown.", icon=":material/info:")
        return
    cam = inside_cache.grad_cam(
        record.key, run.cache_id, np.asarray(digit.image, dtype=np.float32),
        None if cam_class == PREDICTED else int(cam_class),
    )
    chart_col, text_col = st.columns([3, 2])
    with chart_col:
        st.plotly_chart(gradcam_figure(run.cache_id, image_digest(digit.image), int(cam_class), _image=digit.image,
                                       _cam=cam), key="inside_gradcam")
    with text_col:
        st.markdown(inside_texts.gradcam_text(cam.layer_name, cam.class_index, cam.coarse))


def verdict(record: RunRecord, runs: list[RunRecord]) -> None:
    """A failed training called a failure (its panels show a network that learned nothing), the seeds'
    spread of the network, and the last conv layer's channels that never fire."""
    if not record.trained:
        text.error(f"{record.diagnosis or 'This training failed.'} The panels below show this failed training: "
                   "what its numbers carry says nothing about what such a map can carry. Pick another seed's run "
                   "above, or train one on the Train page.", icon=":material/error:")
    group = group_of(record, runs)
    if group.spread.total > 1:
        text.caption(f"This network with these settings, over its cached seeds: {group.spread.text()} ({SPREAD_WORDS}).")
    if record.trained and record.dead_channels and record.final_map:
        text.caption(f"{dead_channels_sentence(record.dead_channels, record.final_map[1])}: "
                     "they carry nothing the classifier can read.")
