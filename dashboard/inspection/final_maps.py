"""The final maps of a sample of test images, and their 2-D projection: what Inside the 3×3 computes.

One code path for the page (`dashboard.ui.inside_cache`, which caches the results per server) and for
`tools/make_shipped_results.py` (which stores them beside the shipped runs).

Imports Keras (through `dashboard.inspection.analysis`) only when called, so importing it is cheap; never Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dashboard.inspection import projection

N_IMAGES = 2000  # test images projected and ablated
FEATURE_BYTES = 32 << 20  # at most this much per run for the final maps (issue 10: ≤ 100 MB a link)
MIN_IMAGES = 256  # …but never fewer images than this (22×22×64 maps: ~32 MB)
TSNE_IMAGES = 1000  # exact t-SNE is O(n²) per step: fewer points
METHODS = ("pca", "tsne")


@dataclass(frozen=True)
class Features:
    """The final map of a sample of test images, with labels and the network's predictions."""

    maps: np.ndarray  # (n, h, w, c) float32, read-only
    labels: np.ndarray  # (n,) true digits
    indices: np.ndarray  # (n,) indices into the test set
    predicted: np.ndarray  # (n,) the network's answers
    layer_name: str


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # shared by every session: never modified
    return array


def sample_features(model: Any, x_test: np.ndarray, y_test: np.ndarray, n_images: int = N_IMAGES) -> Features:
    """Final maps of `n_images` test images (a fixed sample; fewer for very wide maps), read-only."""
    from dashboard.inspection import analysis

    layer = analysis.final_map_layer(model)
    # Wide maps (no pooling: 30,976 numbers an image) get fewer images, to bound the memory.
    per_image = 4 * int(np.prod(model.get_layer(layer).output.shape[1:]))
    n_images = min(n_images, max(MIN_IMAGES, FEATURE_BYTES // per_image))
    indices = analysis.sample_indices(len(x_test), n_images)
    maps = analysis.final_map_features(model, x_test[indices], layer)
    probs = analysis.run_head(analysis.layers_after(model, layer), maps)
    return Features(
        maps=_frozen(maps),
        labels=_frozen(y_test[indices].astype(np.int64)),
        indices=_frozen(indices),
        predicted=_frozen(probs.argmax(axis=1)),
        layer_name=layer,
    )


def project(feats: Features, method: str) -> dict:
    """{"coords" (n, 2), "labels", "indices", "predicted", "explained"} of `feats` by "pca" or "tsne"."""
    from dashboard.inspection import analysis

    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}")
    flat = analysis.flatten_features(feats.maps)
    keep: Any = slice(None)
    if method == "tsne":
        if len(flat) > TSNE_IMAGES:  # else all of them, in order: no copy of a wide map
            keep = analysis.sample_indices(len(flat), TSNE_IMAGES, seed=1)
        coords, explained = projection.tsne_2d(flat[keep]), None
    else:
        pca = projection.pca_2d(flat)
        coords, explained = pca.coords, pca.explained[:10]
    return {
        "coords": coords,
        "labels": feats.labels[keep].copy(),
        "indices": feats.indices[keep].copy(),
        "predicted": feats.predicted[keep].copy(),
        "explained": explained,
    }
