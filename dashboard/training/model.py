"""Keras models from a `NetworkSpec`, the layer summary Keras reports, and the activation model.

Layers are named explicitly as a fresh Keras session would name them (`conv2d`, `max_pooling2d`,
`conv2d_1`, …), so the names match the book whatever else the process has built before.
Shapes, parameter counts and receptive fields shown anywhere come from `dashboard.network.summaries`
(pure Python, no weights); `keras_rows` reads them from a built model for the cross-checks.
"""

from __future__ import annotations

import gc
from typing import Any

import keras
import numpy as np
from keras import layers

from dashboard.network.spec import (
    INPUT_CHANNELS,
    INPUT_SIZE,
    NUM_CLASSES,
    NetworkSpec,
    SpecError,
    geometry,
    layer_names,
    validate,
)
from dashboard.network.summaries import LayerRow, training_problems

# Streamlit runs keras.backend.clear_session() and gc.collect() after every script run. With
# TensorFlow's ~300k objects in the young generations each of those takes ~0.5 s; moving what the
# import created into the permanent generation makes them near free (and reruns instant).
gc.freeze()

INPUT_SHAPE = (INPUT_SIZE, INPUT_SIZE, INPUT_CHANNELS)
MAP_LAYERS = (layers.Conv2D, layers.MaxPooling2D, layers.AveragePooling2D)  # `spec.MAP_KINDS` as Keras classes


def is_map_layer(layer: keras.layers.Layer) -> bool:
    """True for a layer whose output is a spatial feature map (conv or pooling; subclasses too)."""
    return isinstance(layer, MAP_LAYERS)


def layer_seeds(seed: int, count: int = 32) -> list[int]:
    """`count` independent seeds derived from a training's seed (numpy's SeedSequence), one per random layer."""
    return [int(x) for x in np.random.SeedSequence(seed).generate_state(count)]


def build_model(spec: NetworkSpec, seed: int | None = None) -> keras.Sequential:
    """The uncompiled Keras model of `spec`; `SpecError` if it is invalid or over the training caps.

    With `seed`, every random initializer and dropout layer gets its own seed derived from it,
    so the model never draws from Python's process-wide `random` (which other threads, Dask's
    among them, use too); without, Keras's defaults (shapes and parameter counts only).
    """
    validate(spec)
    too_big = training_problems(spec)
    if too_big:
        raise SpecError(too_big)
    names = iter(layer_names(spec))
    seeds = iter(layer_seeds(seed)) if seed is not None else None

    def glorot() -> Any:
        return "glorot_uniform" if seeds is None else keras.initializers.GlorotUniform(seed=next(seeds))

    stack: list[layers.Layer] = []
    for block in spec.blocks:
        stack.append(
            layers.Conv2D(
                block.filters,
                block.kernel_size,
                strides=block.strides,
                padding=block.padding,
                activation="relu",
                kernel_initializer=glorot(),
                name=next(names),
            )
        )
        if block.batch_norm:
            stack.append(layers.BatchNormalization(name=next(names)))
        if block.pool:
            pool = layers.AveragePooling2D if block.pool_type == "avg" else layers.MaxPooling2D
            stack.append(pool(2, name=next(names)))
    if spec.head == "flatten":
        stack.append(layers.Flatten(name=next(names)))
    else:
        stack.append(layers.GlobalAveragePooling2D(name=next(names)))
    if spec.dense_units:
        stack.append(layers.Dense(spec.dense_units, activation="relu", kernel_initializer=glorot(), name=next(names)))
    if spec.dropout:
        stack.append(layers.Dropout(spec.dropout, seed=None if seeds is None else next(seeds), name=next(names)))
    stack.append(layers.Dense(NUM_CLASSES, activation="softmax", kernel_initializer=glorot(), name=next(names)))
    return keras.Sequential([keras.Input(INPUT_SHAPE), *stack], name="convnet")


def keras_rows(model: keras.Model, spec: NetworkSpec) -> list[LayerRow]:
    """Rows read from a built Keras model of `spec` (tests cross-check `summarize` against these)."""
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


def activation_model(model: keras.Model) -> keras.Model:
    """A model from the same input to [every conv/pool output…, class probabilities]."""
    maps = [layer.output for layer in model.layers if is_map_layer(layer)]
    return keras.Model(inputs=model.inputs[0], outputs=[*maps, model.outputs[0]])


def forward_all(act_model: keras.Model, images: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Run float inputs (n, 28, 28, 1): ([maps (n, h, w, c) per conv/pool layer], probs (n, 10)).

    `predict_on_batch` runs the compiled graph (~2 ms for one book-network digit, traced once);
    an eager call takes 25–60 ms on a busy CPU.
    """
    arrays = [np.asarray(out) for out in act_model.predict_on_batch(images)]
    return arrays[:-1], arrays[-1]
