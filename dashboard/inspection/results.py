"""What each result kept beside a run holds, as plain arrays (`dashboard.store.stored` files them).

Each kind has a `*_bytes` (value → the packed arrays) and a `*_from` (packed arrays → value, or
None when they do not fit the run or the test set in use, so the caller computes it again):

- `predictions`: Compare's test predictions (digit and confidence per image), with the labels
  they were scored against;
- `projection_pca`, `projection_tsne`: Inside's 2-D map of the sampled test images;
- `ablation`: Inside's accuracies with positions and channels of the last map zeroed;
- `atlas-<layer>`: Channels' top windows of one conv layer (image indices and map positions;
  the crops are cut again from the test images) and its gradient-ascent patterns (float16:
  they are drawn contrast-stretched, so 3 significant digits are plenty).

Pure numpy (`Ablation` is `dashboard.inspection.ablation`'s, `Atlas` is `dashboard.inspection.channel_atlas`'s; neither module loads
TensorFlow on import): reading a stored result never loads TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dashboard.inspection import channel_atlas
from dashboard.inspection.ablation import Ablation
from dashboard.store.stored import Schema, pack, unpack

INT, FLOAT = "iu", "f"

PREDICTIONS: Schema = {"predicted": (INT, 1), "confidence": (FLOAT, 1), "labels": (INT, 1)}
PROJECTION: Schema = {"coords": (FLOAT, 2), "labels": (INT, 1), "indices": (INT, 1), "predicted": (INT, 1),
                      "explained": (FLOAT, 1)}
ABLATION: Schema = {"baseline": (FLOAT, 0), "zero_one": (FLOAT, 2), "keep_one": (FLOAT, 2),
                    "channel_accuracy": (FLOAT, 1), "channel_order": (INT, 1), "n_images": (INT, 0)}
ATLAS: Schema = {"scores": (FLOAT, 2), "images": (INT, 2), "positions": (INT, 3), "patterns": (FLOAT, 3),
                 "pattern_means": (FLOAT, 1), "grey_means": (FLOAT, 1), "n_images": (INT, 0)}


def _small_int(values: np.ndarray) -> np.ndarray:
    """uint8 for digits and other small counts, int32 otherwise (indices into 10,000 images)."""
    values = np.asarray(values)
    return values.astype(np.uint8 if values.size == 0 or (values.min() >= 0 and values.max() < 256) else np.int32)


# --- Compare: test predictions -------------------------------------------------------------


def predictions_bytes(predicted: np.ndarray, confidence: np.ndarray, labels: np.ndarray) -> bytes:
    """Predicted digits (n,), their probabilities (n,) and the true labels (n,) as a stored result."""
    return pack({"predicted": _small_int(predicted), "confidence": np.asarray(confidence, np.float32),
                 "labels": _small_int(labels)})


def predictions_from(data: bytes, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(predicted (n,) int64, confidence (n,) float32) if stored against exactly these `labels`."""
    arrays = unpack(data, PREDICTIONS)
    if arrays is None or not np.array_equal(arrays["labels"], labels):
        return None
    predicted, confidence = arrays["predicted"].astype(np.int64), arrays["confidence"].astype(np.float32)
    if predicted.shape != labels.shape or confidence.shape != labels.shape or predicted.max(initial=0) > 9:
        return None
    return predicted, confidence


# --- Inside: projection and ablation -------------------------------------------------------


def projection_bytes(proj: dict) -> bytes:
    """Inside's projection dict ({"coords", "labels", "indices", "predicted", "explained"}) as a stored result."""
    explained = proj["explained"]
    return pack({"coords": np.asarray(proj["coords"], np.float32), "labels": _small_int(proj["labels"]),
                 "indices": np.asarray(proj["indices"], np.int32), "predicted": _small_int(proj["predicted"]),
                 "explained": np.zeros(0, np.float32) if explained is None else np.asarray(explained, np.float32)})


def projection_from(data: bytes, y_test: np.ndarray) -> dict | None:
    """The projection dict, if its images are test images of `y_test` carrying their own labels."""
    arrays = unpack(data, PROJECTION)
    if arrays is None:
        return None
    indices = arrays["indices"].astype(np.int64)
    n = len(indices)
    if (arrays["coords"].shape != (n, 2) or len(arrays["labels"]) != n or len(arrays["predicted"]) != n
            or n == 0 or indices.min() < 0 or indices.max() >= len(y_test)
            or not np.array_equal(y_test[indices], arrays["labels"])):
        return None
    return {"coords": arrays["coords"].astype(np.float32), "labels": arrays["labels"].astype(np.int64),
            "indices": indices, "predicted": arrays["predicted"].astype(np.int64),
            "explained": arrays["explained"] if len(arrays["explained"]) else None}


def ablation_bytes(ablation: Any) -> bytes:  # ablation: dashboard.inspection.ablation.Ablation
    """An `Ablation` as a stored result."""
    return pack({"baseline": np.float64(ablation.baseline), "zero_one": ablation.zero_one,
                 "keep_one": ablation.keep_one, "channel_accuracy": ablation.channel_accuracy,
                 "channel_order": np.asarray(ablation.channel_order, np.int32),
                 "n_images": np.int64(ablation.n_images)})


def ablation_from(data: bytes, side: int, channels: int) -> Any | None:
    """The `Ablation` of a (side, side, channels) last map, or None if the arrays do not fit it."""
    arrays = unpack(data, ABLATION)
    if arrays is None:
        return None
    order = arrays["channel_order"].astype(np.int64)
    if (arrays["zero_one"].shape != (side, side) or arrays["keep_one"].shape != (side, side)
            or arrays["channel_accuracy"].shape != (channels,)
            or not np.array_equal(np.sort(order), np.arange(channels))):
        return None
    return Ablation(baseline=float(arrays["baseline"]), zero_one=arrays["zero_one"], keep_one=arrays["keep_one"],
                    channel_accuracy=arrays["channel_accuracy"], channel_order=order,
                    n_images=int(arrays["n_images"]))


# --- Channels: the atlas of one conv layer -------------------------------------------------


def atlas_bytes(atlas: Any) -> bytes:  # atlas: dashboard.inspection.channel_atlas.Atlas
    """An `Atlas` as a stored result: window indices and positions (not crops), float16 patterns."""
    windows = atlas.windows
    return pack({"scores": windows.scores.astype(np.float32), "images": np.asarray(windows.images, np.int32),
                 "positions": np.asarray(windows.positions, np.int16), "patterns": atlas.patterns.astype(np.float16),
                 "pattern_means": atlas.pattern_means.astype(np.float32),
                 "grey_means": atlas.grey_means.astype(np.float32), "n_images": np.int64(atlas.n_images)})


def atlas_from(data: bytes, layer_name: str, geo: Any, x_test: np.ndarray) -> Any | None:
    """The `Atlas` of conv layer `layer_name` (geometry `geo`), its crops cut from uint8 `x_test`; or None."""
    arrays = unpack(data, ATLAS)
    if arrays is None:
        return None
    scores, images, positions = arrays["scores"], arrays["images"].astype(np.int64), arrays["positions"]
    c, k = scores.shape
    n_images = int(arrays["n_images"])
    if (c != geo.channels or images.shape != (c, k) or positions.shape != (c, k, 2) or k == 0
            or arrays["patterns"].shape != (c, 28, 28) or arrays["pattern_means"].shape != (c,)
            or arrays["grey_means"].shape != (c,) or not 0 < n_images <= len(x_test)
            or images.min() < 0 or images.max() >= n_images
            or positions.min() < 0 or positions.max() >= (geo.size or 0)):
        return None
    return channel_atlas.Atlas(
        layer_name=layer_name,
        windows=channel_atlas.windows_of(scores, images, positions.astype(np.int64), x_test[:n_images], geo),
        patterns=arrays["patterns"].astype(np.float32),
        pattern_means=arrays["pattern_means"].astype(np.float32),
        grey_means=arrays["grey_means"].astype(np.float32),
        n_images=n_images,
    )
