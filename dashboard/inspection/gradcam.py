"""Grad-CAM: where on the digit the network finds its evidence for a class.

Follows keras-io's examples/vision/grad_cam.py: the gradient of the class score (the logit,
before the softmax) with respect to the last conv layer's output, averaged over positions,
weights that layer's channels; their weighted sum, without its negative part, is the coarse
map, which `place_on_input` spreads over the 28×28 input.

The gradient comes from the run's model (`dashboard.inspection.run_model`): by hand through the
numpy network's head (`of_network`, `dashboard.inspection.forward`), or from TensorFlow for the
runs numpy does not compute (`dashboard.inspection.analysis.grad_cam`). Both end in `finish`. Pure numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dashboard.inspection.forward import Chain, softmax
from dashboard.mnist.data import to_model_input
from dashboard.network.spec import INPUT_SIZE, LayerGeometry, NetworkSpec, geometry


@dataclass(frozen=True)
class GradCam:
    """Where the network looks for `class_index`: the coarse map and its 28×28 placement."""

    heatmap: np.ndarray  # (28, 28) float32 in [0, 1]
    coarse: np.ndarray  # (h, w) of the conv layer, in [0, 1]
    class_index: int
    probabilities: np.ndarray  # (10,)
    layer_name: str


def as_input(image: np.ndarray) -> np.ndarray:
    """One 28×28 image (uint8 0–255 or float 0–1) as the network's input (1, 28, 28, 1) float32."""
    image = np.asarray(image)
    if image.shape not in ((28, 28), (28, 28, 1), (1, 28, 28, 1)):
        raise ValueError(f"expected a 28×28 image, got shape {image.shape}")
    image = image.reshape(28, 28)
    if image.dtype == np.uint8 or image.max() > 1.0:
        return to_model_input(np.clip(image, 0, 255).astype(np.uint8))
    return image.astype(np.float32)[None, ..., None]


def finish(conv_output: np.ndarray, grads: np.ndarray, logits: np.ndarray, class_index: int,
           spec: NetworkSpec | Sequence[LayerGeometry], layer_name: str) -> GradCam:
    """Grad-CAM from the layer's output (h, w, c), the class score's gradient there (h, w, c) and the logits (10,)."""
    pooled = np.asarray(grads, dtype=np.float64).mean(axis=(0, 1))  # (c,): how much each channel matters
    coarse = np.maximum(np.asarray(conv_output, dtype=np.float64) @ pooled, 0.0)  # (h, w)
    top = coarse.max()
    coarse = coarse / top if top > 0 else np.zeros_like(coarse)
    return GradCam(
        heatmap=place_on_input(coarse, spec, layer_name),
        coarse=coarse.astype(np.float32),
        class_index=int(class_index),
        probabilities=softmax(np.asarray(logits, dtype=np.float64)).astype(np.float32),
        layer_name=layer_name,
    )


def of_network(network: Chain, image: np.ndarray, class_index: int | None = None,
               layers: NetworkSpec | Sequence[LayerGeometry] | None = None) -> GradCam:
    """Grad-CAM of one image on the last conv layer of a numpy network (class None: the predicted one);
    `layers` (default: a `Network`'s spec) places the map on the input."""
    conv_output, grads, logits, class_index, layer_name = network.class_gradient(as_input(image), class_index)
    return finish(conv_output, grads, logits, class_index, network.spec if layers is None else layers, layer_name)


def place_on_input(coarse: np.ndarray, spec: NetworkSpec | Sequence[LayerGeometry], layer_name: str) -> np.ndarray:
    """Spread an (h, w) map over the 28×28 input: position (i, j) sits at the centre of its window.

    Bilinear between window centres (which the layer's geometry gives), constant beyond them.
    """
    layers = geometry(spec) if isinstance(spec, NetworkSpec) else spec
    geo = next(g for g in layers if g.name == layer_name)
    size = coarse.shape[0]
    pixels = np.arange(INPUT_SIZE, dtype=np.float64)
    # Fractional position index of each input pixel along one axis (the geometry is square).
    t = np.clip((pixels - geo.start) / (geo.jump or 1), 0, size - 1)
    units = np.arange(size, dtype=np.float64)
    rows = np.stack([np.interp(t, units, coarse[:, j]) for j in range(coarse.shape[1])], axis=1)  # (28, w)
    full = np.stack([np.interp(t, units, rows[i]) for i in range(INPUT_SIZE)])  # (28, 28)
    return np.clip(full, 0.0, 1.0).astype(np.float32)
