"""What the last feature map carries: its features, ablations and Grad-CAM of a trained network.

(Projections of those features to 2-D: `dashboard.inspection.projection`.)

Everything here returns arrays and draws nothing. The "final map" is the output of the last
conv/pool layer, the map the classifier head reads: (n, 3, 3, 64) for the book network.

For a Keras model: the engine of the runs numpy does not compute (`dashboard.inspection.keras_run`),
and the tests' oracle for the numpy engine. Ablations are `dashboard.inspection.ablation`'s, run
on the model's head. Grad-CAM by TensorFlow, for any model with a last Dense layer; its method
and its last step are `dashboard.inspection.gradcam`'s.

Imports Keras and TensorFlow, never Streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from dashboard.inspection import ablation
from dashboard.inspection.ablation import Ablation, LinearHead
from dashboard.inspection.gradcam import GradCam, as_input, finish
from dashboard.mnist.data import to_model_input
from dashboard.network.spec import LayerGeometry, NetworkSpec
from dashboard.training.model import is_map_layer

# The heads' first layers that `linear_head` understands, identified by class.
REDUCERS = {keras.layers.Flatten: "Flatten", keras.layers.GlobalAveragePooling2D: "GlobalAveragePooling2D"}
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


# --- ablations (`dashboard.inspection.ablation` computes them; here the head is a Keras model's) ----


def linear_head(head: Sequence[keras.layers.Layer]) -> LinearHead | None:
    """The head as an `ablation.LinearHead` when it starts reducer → Dense, else None."""
    if len(head) < 2 or not isinstance(head[1], keras.layers.Dense):
        return None
    kind = next((name for cls, name in REDUCERS.items() if isinstance(head[0], cls)), None)
    if kind is None:
        return None
    dense, rest = head[1], list(head[2:])
    kernel, bias = (np.asarray(w, dtype=np.float32) for w in dense.get_weights())
    return LinearHead(kind, kernel, bias, partial(_finish, dense, rest))


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


def masked_accuracy(head: Sequence[keras.layers.Layer], maps: np.ndarray, labels: np.ndarray, mask: np.ndarray) -> float:
    """Accuracy of the Keras `head` layers on `maps * mask` (mask broadcastable to (n, h, w, c)); the direct way."""
    return ablation.masked_accuracy(partial(run_head, head), maps, labels, mask)


def _ablate_direct(
    head: Sequence[keras.layers.Layer], maps: np.ndarray, labels: np.ndarray, axis: str
) -> tuple[np.ndarray, np.ndarray]:
    """The two accuracies of `ablation.ablate_direct`, running the Keras `head` layers once per ablation."""
    return ablation.ablate_direct(partial(run_head, head), maps, labels, axis)


def ablate(model: keras.Model, maps: np.ndarray, labels: np.ndarray, layer_name: str | None = None) -> Ablation:
    """Position and channel ablations of the final map `maps` (n, h, w, c) with true `labels`, by a Keras model's head."""
    head = layers_after(model, layer_name or final_map_layer(model))
    return ablation.ablate(partial(run_head, head), linear_head(head), maps, labels)


# --- Grad-CAM ------------------------------------------------------------------------------


def class_gradient(model: keras.Model, x: np.ndarray, class_index: int | None = None, layer_name: str | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, str]:
    """For one input x (1, 28, 28, 1), by TensorFlow: the conv layer's output A (h, w, c), the gradient of the
    class's logit with respect to A (h, w, c), the logits (10,), the class (None: the predicted one) and
    the layer's name (default: the last conv layer). The model must end in a Dense layer."""
    layer_name = layer_name or last_conv_layer(model)
    if not isinstance(model.layers[-1], keras.layers.Dense):
        raise ValueError("Grad-CAM needs a model that ends in a Dense layer")
    # Split at the conv layer: the body gives its output, the head is replayed under the tape.
    # (A grad model with two outputs loses the link between them in models loaded from .keras.)
    body = keras.Model(model.inputs[0], model.get_layer(layer_name).output)
    head = layers_after(model, layer_name)
    last = head[-1]  # the final Dense: score its logits, not its probabilities
    conv_output = tf.convert_to_tensor(body(x, training=False))  # (1, h, w, c)
    with tf.GradientTape() as tape:
        tape.watch(conv_output)
        features = conv_output
        for layer in head[:-1]:
            features = layer(features, training=False)
        logits = tf.matmul(features, last.kernel)  # (1, 10)
        if last.use_bias:
            logits = logits + last.bias
        if class_index is None:
            class_index = int(tf.argmax(logits[0]))
        class_score = logits[:, class_index]
    grads = tape.gradient(class_score, conv_output)  # (1, h, w, c)
    return conv_output[0].numpy(), grads[0].numpy(), logits[0].numpy(), int(class_index), layer_name


def grad_cam(
    model: keras.Model,
    spec: NetworkSpec | Sequence[LayerGeometry],
    image: np.ndarray,
    class_index: int | None = None,
    layer_name: str | None = None,
) -> GradCam:
    """Grad-CAM of one image (28, 28) (uint8 0–255 or float 0–1) on the last conv layer, by TensorFlow.

    `spec` (or, for an imported model, its layers' geometry) places the map on the input. The
    model must end in a Dense layer (its logits are scored). The numpy engine computes the same
    by hand (`dashboard.inspection.gradcam.of_network`); the tests hold the two to the same numbers.
    """
    conv_output, grads, logits, class_index, layer_name = class_gradient(model, as_input(image), class_index, layer_name)
    return finish(conv_output, grads, logits, class_index, spec, layer_name)
