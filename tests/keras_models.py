"""Small Keras models written with plain Keras (not the app's builder), for the import tests.

Each builder returns an uncompiled model with MNIST inputs and 10 softmax outputs; the filters are
few so that the files stay tiny. `RECEPTIVE_FIELDS` holds hand-worked receptive fields and jumps.
"""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers


def book(filters: int = 4) -> keras.Model:
    """Deep Learning with Python listing 5.1 (fewer filters): conv-pool-conv-pool-conv, dense 64."""
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(filters, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(2 * filters, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(2 * filters, 3, activation="relu"),
        layers.Flatten(),
        layers.Dense(16, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])


def dropout() -> keras.Model:
    """A conv net with Dropout and SpatialDropout2D."""
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(4, 3, activation="relu"),
        layers.SpatialDropout2D(0.1),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])


def batchnorm_avg() -> keras.Model:
    """BatchNormalization, AveragePooling2D, 'same' padding and strides, global-average head."""
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(4, 3, padding="same"),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.AveragePooling2D(2),
        layers.Conv2D(6, 5, strides=2, padding="same", activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dense(10, activation="softmax"),
    ])


def dilated() -> keras.Model:
    """A dilated 3×3 conv (dilation 2: a 5×5 window) then a plain one."""
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(4, 3, dilation_rate=2, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(4, 3, activation="relu"),
        layers.GlobalMaxPooling2D(),
        layers.Dense(10, activation="softmax"),
    ])


def dense_ch2() -> keras.Model:
    """The book's chapter-2 network: 784 inputs, Dense 512 (here 32) relu, Dense 10 softmax."""
    return keras.Sequential([
        keras.Input((784,)),
        layers.Dense(32, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])


def functional_chain() -> keras.Model:
    """A functional chain taking (28, 28): Rescaling, Reshape, conv, pool, flatten, dense."""
    inputs = keras.Input((28, 28))
    x = layers.Reshape((28, 28, 1))(inputs)
    x = layers.Conv2D(4, 5, strides=2, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def branching() -> keras.Model:
    """Two conv branches added together: summarised and measured, no feature maps."""
    inputs = keras.Input((28, 28, 1))
    a = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    b = layers.Conv2D(4, 1, activation="relu")(inputs)
    x = layers.Add()([a, b])
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


BUILDERS = {
    "book": book, "dropout": dropout, "batchnorm_avg": batchnorm_avg, "dilated": dilated,
    "dense_ch2": dense_ch2, "functional_chain": functional_chain,
}

# Hand-worked (receptive field, jump) of every layer, in order. Worked for the book network:
# conv3 rf 3 j 1; pool2 rf 4 j 2; conv3 rf 4+2·2=8 j 2; pool2 rf 10 j 4; conv3 rf 10+2·4=18 j 4;
# then flatten/dense see the union of the 3×3 map's windows: start 9, 9+2·4=17 → 26 pixels.
RECEPTIVE_FIELDS = {
    "book": [(3, 1), (4, 2), (8, 2), (10, 4), (18, 4), (26, None), (26, None), (26, None)],
    # conv3 rf 3; dropout same; pool rf 4 j 2; 13×13 map from start 0.5 → covers 0..27 = 28.
    "dropout": [(3, 1), (3, 1), (4, 2), (28, None), (28, None), (28, None)],
    # conv3 same 3 j1; bn, relu same; avgpool 4 j2; conv5 s2 same: 4+4·2=12 j4; 4×4 map covers all 28.
    "batchnorm_avg": [(3, 1), (3, 1), (3, 1), (4, 2), (12, 4), (28, None), (28, None)],
    # dilated 3×3 d2 = 5×5 window: rf 5 j1; pool rf 6 j2; conv3 rf 6+2·2=10 j2; 10×10 map covers 5..(23+?)
    "dilated": [(5, 1), (6, 2), (10, 2), (28, None), (28, None)],
    # a flat input: every unit sees the whole digit.
    "dense_ch2": [(28, None), (28, None)],
    # reshape back to pixels rf 1; conv5 s2 valid: rf 5 j2, 12 positions reach pixel 26 at most;
    # pool2: rf 5+2=7 j4; the 6×6 map's windows (centres 3, 7, …, 23, half-width 3) cover 0..26 = 27.
    "functional_chain": [(1, 1), (5, 2), (7, 4), (27, None), (27, None)],
}


def save(model: keras.Model, folder: Path, name: str, suffix: str) -> Path:
    """Save `model` as `folder/name.suffix` (.keras or legacy .h5) and return the path."""
    path = Path(folder) / f"{name}.{suffix}"
    model.save(path)
    return path
