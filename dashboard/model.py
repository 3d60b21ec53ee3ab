"""Keras models from a `NetworkSpec`, the layer summary Keras reports, and the activation model.

Layers are named explicitly as a fresh Keras session would name them (`conv2d`, `max_pooling2d`,
`conv2d_1`, …), so the names match the book whatever else the process has built before.
Shapes and parameter counts shown anywhere come from the built Keras model; the receptive
field, which Keras does not know, comes from `spec.geometry`.
"""

from __future__ import annotations

import gc
from dataclasses import asdict, dataclass

import keras
import numpy as np
from keras import layers

from dashboard.spec import INPUT_CHANNELS, INPUT_SIZE, NUM_CLASSES, NetworkSpec, geometry, layer_names, validate

# Streamlit runs keras.backend.clear_session() and gc.collect() after every script run. With
# TensorFlow's ~300k objects in the young generations each of those takes ~0.5 s; moving what the
# import created into the permanent generation makes them near free (and reruns instant).
gc.freeze()

INPUT_SHAPE = (INPUT_SIZE, INPUT_SIZE, INPUT_CHANNELS)
MAP_KINDS = ("Conv2D", "MaxPooling2D", "AveragePooling2D")  # layers whose outputs are spatial feature maps


def build_model(spec: NetworkSpec) -> keras.Sequential:
    """The uncompiled Keras model of `spec` (raises `SpecError` if the spec is invalid)."""
    validate(spec)
    names = iter(layer_names(spec))
    stack: list[layers.Layer] = []
    for block in spec.blocks:
        stack.append(
            layers.Conv2D(
                block.filters,
                block.kernel_size,
                strides=block.strides,
                padding=block.padding,
                activation="relu",
                name=next(names),
            )
        )
        if block.pool:
            stack.append(layers.MaxPooling2D(2, name=next(names)))
    if spec.head == "flatten":
        stack.append(layers.Flatten(name=next(names)))
    else:
        stack.append(layers.GlobalAveragePooling2D(name=next(names)))
    if spec.dense_units:
        stack.append(layers.Dense(spec.dense_units, activation="relu", name=next(names)))
    if spec.dropout:
        stack.append(layers.Dropout(spec.dropout, name=next(names)))
    stack.append(layers.Dense(NUM_CLASSES, activation="softmax", name=next(names)))
    return keras.Sequential([keras.Input(INPUT_SHAPE), *stack], name="convnet")


@dataclass(frozen=True)
class LayerRow:
    """One row of the summary: what `model.summary()` shows, plus the receptive field."""

    name: str
    type: str
    output_shape: tuple[int | None, ...]  # (None, 3, 3, 64)
    params: int
    receptive_field: int
    jump: int | None

    def to_dict(self) -> dict:
        """JSON-ready dict; `output_shape` is a list whose first item is null."""
        row = asdict(self)
        row["output_shape"] = list(self.output_shape)
        return row


def summarize_model(model: keras.Model, spec: NetworkSpec) -> list[LayerRow]:
    """Rows for each layer of a model built from `spec`."""
    rows = []
    for layer, geo in zip(model.layers, geometry(spec), strict=True):
        rows.append(
            LayerRow(
                name=layer.name,
                type=type(layer).__name__,
                output_shape=tuple(layer.output.shape),
                params=int(layer.count_params()),
                receptive_field=geo.receptive_field,
                jump=geo.jump,
            )
        )
    return rows


def summarize(spec: NetworkSpec) -> list[LayerRow]:
    """Build `spec` in Keras and return its layer rows (shapes and params as Keras reports)."""
    return summarize_model(build_model(spec), spec)


def activation_model(model: keras.Model) -> keras.Model:
    """A model from the same input to [every conv/pool output…, class probabilities]."""
    maps = [layer.output for layer in model.layers if type(layer).__name__ in MAP_KINDS]
    return keras.Model(inputs=model.inputs[0], outputs=[*maps, model.outputs[0]])


def map_layer_names(model: keras.Model) -> list[str]:
    """Names of the layers whose outputs `activation_model` returns first, in order."""
    return [layer.name for layer in model.layers if type(layer).__name__ in MAP_KINDS]


def forward_all(act_model: keras.Model, images: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Run float inputs (n, 28, 28, 1): ([maps (n, h, w, c) per conv/pool layer], probs (n, 10)).

    `predict_on_batch` runs the compiled graph (~2 ms for one book-network digit, traced once);
    an eager call takes 25–60 ms on a busy CPU.
    """
    arrays = [np.asarray(out) for out in act_model.predict_on_batch(images)]
    return arrays[:-1], arrays[-1]
