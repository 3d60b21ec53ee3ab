"""The final maps of a sample of test images, and their 2-D projection: what Inside the 3×3 computes.

One code path for the page (`dashboard.ui.inside_cache`, which caches the results per server) and for
`tools/make_shipped_results.py` (which stores them beside the shipped runs).

The maps come from the run's model (`dashboard.inspection.run_model`): numpy for most runs. Never imports Streamlit.
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


def sample_indices(n_available: int, n: int, seed: int = 0) -> np.ndarray:
    """`n` distinct indices of 0..n_available-1 in a fixed random order (all if n ≥ n_available)."""
    order = np.random.default_rng(seed).permutation(n_available)
    return np.sort(order[: max(0, min(n, n_available))])


def flatten_features(maps: np.ndarray) -> np.ndarray:
    """(n, h, w, c) → (n, h·w·c) in Keras's Flatten order: 576 numbers per image for the book."""
    return maps.reshape(len(maps), -1)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # shared by every session: never modified
    return array


def sample_features(run: Any, x_test: np.ndarray, y_test: np.ndarray, n_images: int = N_IMAGES) -> Features:
    """Final maps of `n_images` test images (a fixed sample; fewer for very wide maps) by the run's model
    (a `dashboard.inspection.run_model.RunModel`), read-only."""
    layer = run.final_map
    # Wide maps (no pooling: 30,976 numbers an image) get fewer images, to bound the memory.
    per_image = 4 * (layer.size or 1) ** 2 * layer.channels
    n_images = min(n_images, max(MIN_IMAGES, FEATURE_BYTES // per_image))
    indices = sample_indices(len(x_test), n_images)
    maps = run.final_maps(x_test[indices])
    probs = run.head(maps)
    return Features(
        maps=_frozen(maps),
        labels=_frozen(y_test[indices].astype(np.int64)),
        indices=_frozen(indices),
        predicted=_frozen(np.asarray(probs).argmax(axis=1)),
        layer_name=layer.name,
    )


def project(feats: Features, method: str) -> dict:
    """{"coords" (n, 2), "labels", "indices", "predicted", "explained"} of `feats` by "pca" or "tsne"."""
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}")
    flat = flatten_features(feats.maps)
    keep: Any = slice(None)
    if method == "tsne":
        if len(flat) > TSNE_IMAGES:  # else all of them, in order: no copy of a wide map
            keep = sample_indices(len(flat), TSNE_IMAGES, seed=1)
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
