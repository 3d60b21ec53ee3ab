"""Cached computations of the "Inside the 3×3" page, keyed by run key, and its download buttons.

The final map of the test images is a shared resource (`st.cache_resource`, read-only arrays,
a few entries); projections, ablations and Grad-CAM maps are small values (`st.cache_data`).
Projections and ablations are also kept beside the run (`dashboard.store.stored`): the final maps are
computed only for a run and test set that has none stored yet, once, by whichever server is first.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from dashboard.host import one_blas_thread
from dashboard.inspection import final_maps
from dashboard.store.run import RunRecord
from dashboard.ui import cached
from dashboard.ui.cached import IDLE_TTL
from dashboard.ui.run_picker import kept_result, model_cache, result_file, run_model
from dashboard.ui.session_memory import released_when_idle

one_blas_thread()  # numpy work here (PCA, ablations) on one BLAS thread: see dashboard.host

N_IMAGES, TSNE_IMAGES, METHODS = final_maps.N_IMAGES, final_maps.TSNE_IMAGES, final_maps.METHODS


@released_when_idle
@st.cache_resource(
    show_spinner="Computing the last feature map of the test images…", max_entries=3, ttl=IDLE_TTL
)
def features(run_key: str, n_images: int, data_fingerprint: str) -> final_maps.Features:
    """Final maps of `n_images` test images (a fixed sample; fewer for very wide maps) by run `run_key`'s model."""
    data = cached.mnist()
    if data.fingerprint != data_fingerprint:
        raise ValueError("the data changed since this page was opened; reload the page")
    return final_maps.sample_features(run_model(run_key), data.x_test, data.y_test, n_images)


@released_when_idle
@st.cache_data(show_spinner="Projecting to 2-D…", max_entries=16, ttl=IDLE_TTL)
def projection(run_key: str, method: str, data_fingerprint: str) -> dict:
    """{"coords" (n, 2), "labels", "indices", "predicted", "explained"} for "pca" or "tsne" (kept beside the run)."""
    from dashboard.inspection import results

    return kept_result(run_key, result_file(run_key, f"projection_{method}", data_fingerprint),
                       lambda stored: results.projection_from(stored, cached.mnist().y_test),
                       partial(_projection, run_key, method, data_fingerprint), results.projection_bytes)


def _projection(run_key: str, method: str, data_fingerprint: str) -> dict:
    return final_maps.project(features(run_key, N_IMAGES, data_fingerprint), method)


@released_when_idle
@st.cache_data(show_spinner="Zeroing positions and channels…", max_entries=16, ttl=IDLE_TTL)
def ablation(run_key: str, data_fingerprint: str):  # -> dashboard.inspection.ablation.Ablation
    """Position and channel ablations of run `run_key` on the sampled test images (kept beside the run)."""
    from dashboard.inspection import results

    record = model_cache().get(run_key)
    side, channels = record.final_map if record is not None and record.final_map else (0, 0)
    return kept_result(run_key, result_file(run_key, "ablation", data_fingerprint, record=record),
                       lambda stored: results.ablation_from(stored, side, channels),
                       partial(_ablation, run_key, data_fingerprint), results.ablation_bytes)


def _ablation(run_key: str, data_fingerprint: str):  # -> dashboard.inspection.ablation.Ablation
    feats = features(run_key, N_IMAGES, data_fingerprint)
    return run_model(run_key).ablate(feats.maps, feats.labels)


@st.cache_data(show_spinner="Computing Grad-CAM…", max_entries=128, ttl=IDLE_TTL)
def grad_cam(run_key: str, run_id: str, image: np.ndarray, class_index: int | None):  # -> gradcam.GradCam
    """Grad-CAM of one (28, 28) image by run `run_key`'s model (class None: the predicted one); `run_id` is
    the model's `cache_id`, which names an imported run's input scaling too."""
    return run_model(run_key).grad_cam(image, class_index)


def _model_bytes(run_key: str) -> bytes:
    # Called only when the button is clicked: the file is read then, not on every rerun.
    path = model_cache().model_path(run_key)
    if path is None or not path.is_file():
        return b""
    return path.read_bytes()


def _summary_text(record: RunRecord) -> str:
    # Called only when the button is clicked (on another thread, so no Streamlit cache here).
    from dashboard.store.imported import summary_table
    from dashboard.views.downloads import summary_csv

    return summary_csv(summary_table(record))


def download_buttons(record: RunRecord, key: str) -> None:
    """Three buttons: the run's .keras model, its summary as CSV, its history as CSV, each file
    made when its button is clicked, not at every view (a new browser fetched both CSVs on load)."""
    from dashboard.views.downloads import history_csv

    short = record.key[:8]
    left, middle, right = st.columns(3)
    path = model_cache().model_path(record.key)
    if path is None or not path.is_file():
        left.warning("This run's model file is missing from the cache.", icon=":material/warning:")
    else:
        left.download_button(
            f"Model (.keras, {path.stat().st_size / 2**20:.1f} MB)",
            data=partial(_model_bytes, record.key),
            file_name=f"convnet-{short}.keras",
            mime="application/zip",
            key=f"{key}_model",
            on_click="ignore",
            icon=":material/download:",
        )
    for column, what, data, suffix, icon in ((middle, "Summary", partial(_summary_text, record), "summary", "table"),
                                             (right, "History", partial(history_csv, record.history), "history",
                                              "show_chart")):
        column.download_button(f"{what} (.csv)", data=data, file_name=f"convnet-{short}-{suffix}.csv", mime="text/csv",
                               key=f"{key}_{suffix}", on_click="ignore", icon=f":material/{icon}:")

