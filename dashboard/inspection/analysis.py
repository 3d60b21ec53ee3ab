"""What the last feature map carries: its features, ablations and Grad-CAM of a trained network.

(Projections of those features to 2-D: `dashboard.inspection.projection`.)

Everything here returns arrays and draws nothing. The "final map" is the output of the last
conv/pool layer, the map the classifier head reads: (n, 3, 3, 64) for the book network.

Ablations never re-run the convolutions. The final map of the test images is computed once;
each ablation then runs only the head (Flatten/GlobalAveragePooling → Dense → … → softmax) on
modified maps. Because the head's first Dense layer is linear, the contribution of each
position (or channel) to its pre-activation is computed once, and "zero position p" becomes
`z_all - contrib[p]`, "keep only p" becomes `bias + contrib[p]`: one small matrix product for
all ablations together, exact, and fast even for the 22×22 maps of a network without pooling.

Grad-CAM by TensorFlow, for any model with a last Dense layer (imported ones too); its method and
its last step are `dashboard.inspection.gradcam`'s.

Imports Keras and TensorFlow, never Streamlit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from dashboard.inspection.ablation import Ablation
from dashboard.inspection.gradcam import GradCam, as_input, finish
from dashboard.mnist.data import to_model_input
from dashboard.network.spec import LayerGeometry, NetworkSpec
from dashboard.training.model import is_map_layer

# The heads' first layers that `_linear_head` understands, identified by class.
REDUCERS = {keras.layers.Flatten: "Flatten", keras.layers.GlobalAveragePooling2D: "GlobalAveragePooling2D"}
CHUNK_BYTES = 8 << 20  # one chunk of per-position contributions, or of masked maps (a few live at once)
BATCH_BYTES = 16 << 20  # one batch's activations through the conv layers (final_map_features)


# --- layers and features -------------------------------------------------------------------


def final_map_layer(model: keras.Model) -> str:
    """Name of the last conv/pool layer, whose output the head reads (conv2d_2 for the book)."""
    names = [layer.name for layer in model.layers if is_map_layer(layer)]
    if not names:
        raise ValueError("the model has no conv or pooling layer")
    return names[-1]


def last_conv_layer(model: keras.Model) -> str:
    """Name of the last Conv2D layer (the Grad-CAM layer)."""
    names = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if not names:
        raise ValueError("the model has no Conv2D layer")
    return names[-1]


def layers_after(model: keras.Model, name: str) -> list[keras.layers.Layer]:
    """The layers that follow layer `name` in a Sequential model: the head from there on."""
    names = [layer.name for layer in model.layers]
    return list(model.layers[names.index(name) + 1 :])


def run_head(head: Sequence[keras.layers.Layer], x: np.ndarray) -> np.ndarray:
    """Apply `head` layers in inference mode to a batch; returns a numpy array."""
    out: Any = x
    for layer in head:
        out = layer(out, training=False)
    return np.asarray(out)


def sample_indices(n_available: int, n: int, seed: int = 0) -> np.ndarray:
    """`n` distinct indices of 0..n_available-1 in a fixed random order (all if n ≥ n_available)."""
    order = np.random.default_rng(seed).permutation(n_available)
    return np.sort(order[: max(0, min(n, n_available))])


def final_map_features(
    model: keras.Model, images: np.ndarray, layer_name: str | None = None, batch_size: int | None = None
) -> np.ndarray:
    """The final map of uint8 images (n, 28, 28): float32 (n, h, w, c), e.g. (n, 3, 3, 64).

    Batches are sized so that one batch's activations, every layer's together, take about
    `BATCH_BYTES` (128 images for the book, 45 without pooling): at 500 images a run's first
    Inside view raised a server's memory by 183 MB at its peak. The result is written in place.
    """
    layer_name = layer_name or final_map_layer(model)
    body = keras.Model(model.inputs[0], model.get_layer(layer_name).output)
    if batch_size is None:
        per_image = 4 * sum(int(np.prod(layer.output.shape[1:])) for layer in body.layers)
        batch_size = int(np.clip(BATCH_BYTES // max(per_image, 1), 8, 128))
    out = np.empty((len(images), *body.output.shape[1:]), dtype=np.float32)
    for i in range(0, len(images), batch_size):
        out[i : i + batch_size] = np.asarray(body(to_model_input(images[i : i + batch_size]), training=False))
    return out


def flatten_features(maps: np.ndarray) -> np.ndarray:
    """(n, h, w, c) → (n, h·w·c) in Keras's Flatten order: 576 numbers per image for the book."""
    return maps.reshape(len(maps), -1)


# --- ablations -----------------------------------------------------------------------------


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _linear_head(head: Sequence[keras.layers.Layer]) -> tuple[str, np.ndarray, np.ndarray, keras.layers.Layer, list] | None:
    """(reducer kind, kernel, bias, first Dense, layers after it) when the head starts reducer → Dense."""
    if len(head) < 2 or not isinstance(head[1], keras.layers.Dense):
        return None
    kind = next((name for cls, name in REDUCERS.items() if isinstance(head[0], cls)), None)
    if kind is None:
        return None
    dense = head[1]
    kernel, bias = (np.asarray(w, dtype=np.float32) for w in dense.get_weights())
    return kind, kernel, bias, dense, list(head[2:])


# Activations numpy applies itself; softmax is monotonic, so a final one never changes the argmax.
_NUMPY_ACTIVATIONS = {keras.activations.relu: lambda z: np.maximum(z, 0.0), keras.activations.linear: lambda z: z}


def _numpy_head(dense: keras.layers.Layer, rest: Sequence[keras.layers.Layer]) -> list | None:
    """[(kernel, bias, activation)…] of the first Dense and the Dense/Dropout layers after it, or None.

    With it, thousands of ablations cost a few numpy products instead of Keras calls (~150 ms a run).
    """
    steps, layers = [], [dense, *rest]
    for i, layer in enumerate(layers):
        if isinstance(layer, keras.layers.Dropout):
            continue  # identity at inference
        if not isinstance(layer, keras.layers.Dense):
            return None
        last = i == len(layers) - 1
        act = _NUMPY_ACTIVATIONS.get(layer.activation)
        if act is None and not (last and layer.activation is keras.activations.softmax):
            return None
        kernel, bias = (np.asarray(w, dtype=np.float32) for w in layer.get_weights())
        steps.append((kernel, bias, act or _NUMPY_ACTIVATIONS[keras.activations.linear]))
    return steps


def _finish(dense: keras.layers.Layer, rest: Sequence[keras.layers.Layer], z: np.ndarray) -> np.ndarray:
    """Predicted classes from the first Dense's pre-activation z (m, units)."""
    steps = _numpy_head(dense, rest)
    if steps is None:  # any other layer: Keras runs it
        return run_head(rest, np.asarray(dense.activation(z))).argmax(axis=1)
    out = steps[0][2](z)  # the first Dense's activation; its product is already in z
    for kernel, bias, act in steps[1:]:
        out = act(out @ kernel + bias)
    return out.argmax(axis=1)


def _contributions(kind: str, kernel: np.ndarray, maps: np.ndarray, axis: str) -> np.ndarray:
    """Each position's ("position": (h·w, m, u)) or channel's ("channel": (c, m, u)) share of z − bias."""
    m, h, w, c = maps.shape
    units = kernel.shape[-1]
    if kind == "Flatten":
        k = kernel.reshape(h, w, c, units)  # Flatten order is (row, col, channel)
    else:  # the global average is linear too: every position weighs kernel / (h·w)
        k = np.broadcast_to(kernel / (h * w), (h, w, c, units))
    if axis == "position":
        # (h·w, m, c) @ (h·w, c, u) → (h·w, m, u)
        return np.matmul(maps.reshape(m, h * w, c).transpose(1, 0, 2), k.reshape(h * w, c, units))
    # (c, m, h·w) @ (c, h·w, u) → (c, m, u)
    return np.matmul(maps.reshape(m, h * w, c).transpose(2, 0, 1), k.reshape(h * w, c, units).transpose(1, 0, 2))


def _ablate_linear(
    linear: tuple, maps: np.ndarray, labels: np.ndarray, axis: str
) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy with each part zeroed and with each part alone, via per-part contributions."""
    kind, kernel, bias, dense, rest = linear  # from `_linear_head`
    n, h, w, c = maps.shape
    parts = h * w if axis == "position" else c
    units = kernel.shape[-1]
    step = max(1, CHUNK_BYTES // (4 * parts * units))
    correct_without = np.zeros(parts)
    correct_alone = np.zeros(parts)
    for sl in _chunks(n, step):
        contrib = _contributions(kind, kernel, maps[sl], axis)  # (parts, m, u)
        z_all = bias + contrib.sum(axis=0)  # (m, u)
        truth = labels[sl]
        m = len(truth)
        without = _finish(dense, rest, (z_all[None] - contrib).reshape(parts * m, units))
        alone = _finish(dense, rest, (bias + contrib).reshape(parts * m, units))
        correct_without += (without.reshape(parts, m) == truth).sum(axis=1)
        correct_alone += (alone.reshape(parts, m) == truth).sum(axis=1)
    return correct_without / n, correct_alone / n


def masked_accuracy(head: Sequence[keras.layers.Layer], maps: np.ndarray, labels: np.ndarray, mask: np.ndarray) -> float:
    """Accuracy of `head` on `maps * mask` (mask broadcastable to (n, h, w, c)); the direct way."""
    correct = 0
    per_image = 4 * int(np.prod(maps.shape[1:]))
    for sl in _chunks(len(maps), max(1, min(1000, CHUNK_BYTES // per_image))):
        correct += int((run_head(head, maps[sl] * mask).argmax(axis=1) == labels[sl]).sum())
    return correct / len(maps)


def _ablate_direct(
    head: Sequence[keras.layers.Layer], maps: np.ndarray, labels: np.ndarray, axis: str
) -> tuple[np.ndarray, np.ndarray]:
    """The same two accuracies by running the head once per ablation (any head)."""
    _, h, w, c = maps.shape
    parts = h * w if axis == "position" else c
    without, alone = np.zeros(parts), np.zeros(parts)
    for k in range(parts):
        only = np.zeros(parts, dtype=np.float32)
        only[k] = 1.0
        only = only.reshape(1, h, w, 1) if axis == "position" else only.reshape(1, 1, 1, c)
        without[k] = masked_accuracy(head, maps, labels, 1.0 - only)
        alone[k] = masked_accuracy(head, maps, labels, only)
    return without, alone


def ablate(model: keras.Model, maps: np.ndarray, labels: np.ndarray, layer_name: str | None = None) -> Ablation:
    """Position and channel ablations of the final map `maps` (n, h, w, c) with true `labels`."""
    layer_name = layer_name or final_map_layer(model)
    head = layers_after(model, layer_name)
    labels = np.asarray(labels).astype(np.int64)
    maps = np.asarray(maps, dtype=np.float32)
    _, h, w, c = maps.shape
    baseline = masked_accuracy(head, maps, labels, np.ones((1, 1, 1, 1), np.float32))
    linear = _linear_head(head)
    if linear is not None:
        pos_without, pos_alone = _ablate_linear(linear, maps, labels, "position")
        ch_without, _ = _ablate_linear(linear, maps, labels, "channel")
    else:
        pos_without, pos_alone = _ablate_direct(head, maps, labels, "position")
        ch_without, _ = _ablate_direct(head, maps, labels, "channel")
    return Ablation(
        baseline=baseline,
        zero_one=pos_without.reshape(h, w),
        keep_one=pos_alone.reshape(h, w),
        channel_accuracy=ch_without,
        channel_order=np.argsort(ch_without, kind="stable"),
        n_images=len(maps),
    )


# --- Grad-CAM ------------------------------------------------------------------------------


def grad_cam(
    model: keras.Model,
    spec: NetworkSpec | Sequence[LayerGeometry],
    image: np.ndarray,
    class_index: int | None = None,
    layer_name: str | None = None,
) -> GradCam:
    """Grad-CAM of one image (28, 28) (uint8 0–255 or float 0–1) on the last conv layer, by TensorFlow.

    `spec` (or, for an imported model, its layers' geometry) places the map on the input. The
    model must end in a Dense layer (its logits are scored). A run trained here has a numpy
    Grad-CAM too (`dashboard.inspection.gradcam.of_network`); the tests hold the two to the same numbers.
    """
    layer_name = layer_name or last_conv_layer(model)
    if not isinstance(model.layers[-1], keras.layers.Dense):
        raise ValueError("Grad-CAM needs a model that ends in a Dense layer")
    x = as_input(image)  # (1, 28, 28, 1) float32
    # Split at the conv layer: the body gives its output, the head is replayed under the tape.
    # (A grad model with two outputs loses the link between them in models loaded from .keras.)
    body = keras.Model(model.inputs[0], model.get_layer(layer_name).output)
    head = layers_after(model, layer_name)
    last = head[-1]  # the softmax Dense: score its logits, not its probabilities
    conv_output = tf.convert_to_tensor(body(x, training=False))  # (1, h, w, c)
    with tf.GradientTape() as tape:
        tape.watch(conv_output)
        features = conv_output
        for layer in head[:-1]:
            features = layer(features, training=False)
        logits = tf.matmul(features, last.kernel) + last.bias  # (1, 10)
        if class_index is None:
            class_index = int(tf.argmax(logits[0]))
        class_score = logits[:, class_index]
    grads = tape.gradient(class_score, conv_output)  # (1, h, w, c)
    return finish(conv_output[0].numpy(), grads[0].numpy(), logits[0].numpy(), class_index, spec, layer_name)
