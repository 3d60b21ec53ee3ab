"""What each channel of a conv layer looks for (Deep Learning with Python, 5.4): the channel atlas.

For every channel of one conv layer of a trained network:

- `top_windows`: the test images that excite it most, at most one window per image (its
  strongest position), with the receptive-field crop of that position: what the channel
  responds to in real digits;
- `preferred_patterns`: the input that maximises its mean activation, by gradient ascent from
  a grey image, as the book does (all channels at once: one batch of `c` images, one per
  channel, since the images of a batch do not interact);
- `channel_overlay` / `strongest_positions`: where it fires on one digit.

Everything returns numpy arrays and draws nothing. Never imports Streamlit; imports Keras and
TensorFlow only inside the functions that build an atlas with a Keras model, so a page that reads
a stored atlas (`dashboard.inspection.results.atlas_from`), draws one channel on a digit or builds
the atlas of a numpy network (`ascend`, `atlas_of`) does not load them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dashboard.mnist.data import to_model_input
from dashboard.network.spec import INPUT_SIZE, LayerGeometry

if TYPE_CHECKING:
    import keras

TOP_K = 9  # windows per channel (a 3×3 mosaic)
CHUNK = 500  # images per forward pass while searching
ASCENT_STEPS = 40
ASCENT_STEP = 0.05  # input units ([0, 1]) per step, along the normalised gradient
GREY = 0.5


# --- sub-models ----------------------------------------------------------------------------


def conv_layer_names(model: keras.Model) -> list[str]:
    """Names of the model's Conv2D layers, in order."""
    import keras

    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def layer_output_model(model: keras.Model, layer_name: str) -> keras.Model:
    """A model from the input to layer `layer_name`'s output (after its ReLU); shares weights."""
    import keras

    if layer_name not in conv_layer_names(model):
        raise ValueError(f"{layer_name!r} is not a Conv2D layer of this model")
    return keras.Model(model.inputs[0], model.get_layer(layer_name).output)


def _pre_activation_fn(model: keras.Model, layer_name: str):
    """x (n, 28, 28, 1) → the layer's output before its ReLU, (n, h, w, c), as a tf.function.

    Maximising the ReLU's output from a grey image stalls where the unit is off (zero
    gradient); its input, the filter's response, always has a gradient.
    """
    import keras
    import tensorflow as tf

    layer = model.get_layer(layer_name)
    index = [item.name for item in model.layers].index(layer_name)
    before = model.layers[:index]

    @tf.function(reduce_retracing=True)
    def response(x):
        out = x
        for item in before:
            out = item(out, training=False)
        z = keras.ops.conv(out, layer.kernel, strides=layer.strides, padding=layer.padding)
        return z + layer.bias if layer.use_bias else z

    return response


# --- receptive-field crops -----------------------------------------------------------------


def window_origin(geo: LayerGeometry, row: int, col: int) -> tuple[int, int]:
    """(top, left) on the input of position (row, col)'s full receptive field, NOT clipped to 28×28."""
    if geo.jump is None:
        raise ValueError(f"{geo.name} has no spatial positions")
    half = (geo.receptive_field - 1) / 2
    return math.ceil(geo.start + row * geo.jump - half), math.ceil(geo.start + col * geo.jump - half)


def crop_windows(images: np.ndarray, origins: np.ndarray, size: int) -> np.ndarray:
    """Crops (n, size, size) of images (n, 28, 28) at (top, left) `origins` (n, 2); zeros outside."""
    images = np.asarray(images, dtype=np.float32)
    pad = size
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
    out = np.empty((len(images), size, size), dtype=np.float32)
    for i, (top, left) in enumerate(np.asarray(origins, dtype=np.int64)):
        out[i] = padded[i, top + pad : top + pad + size, left + pad : left + pad + size]
    return out


# --- top windows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TopWindows:
    """Per channel, the k images (one window each) that excite it most, strongest first."""

    scores: np.ndarray  # (c, k) float32: the channel's activation at that window
    images: np.ndarray  # (c, k) int64: index into the searched images
    positions: np.ndarray  # (c, k, 2) int64: (row, col) in the layer's map
    crops: np.ndarray  # (c, k, rf, rf) float32 in [0, 1]: the receptive field of that position


def _merge_top(best: tuple[np.ndarray, ...] | None, new: tuple[np.ndarray, ...], k: int) -> tuple[np.ndarray, ...]:
    """Keep the k highest scores per channel of two candidate sets (scores, images, flat positions), each (c, m)."""
    if best is not None:
        new = tuple(np.concatenate([a, b], axis=1) for a, b in zip(best, new))
    scores, images, flat = new
    # Ties go to the earlier image (stable order), as a scan in order would keep it.
    order = np.lexsort((images, -scores), axis=1)[:, :k]
    return tuple(np.take_along_axis(a, order, axis=1) for a in (scores, images, flat))


def top_windows(
    body: Any, images: np.ndarray, geo: LayerGeometry, k: int = TOP_K, chunk: int = CHUNK
) -> TopWindows:
    """Search uint8 `images` (n, 28, 28) for each channel's k strongest windows, one per image.

    `body` maps float input (b, 28, 28, 1) to the layer's output (b, h, w, c); `geo` is that
    layer's geometry. Memory stays at one chunk of maps plus (c, 2k) candidates.
    """
    images = np.asarray(images)
    if len(images) == 0:
        raise ValueError("no images to search")
    k = min(k, len(images))
    best = None
    width = None
    for start in range(0, len(images), chunk):
        maps = np.asarray(body.predict_on_batch(to_model_input(images[start : start + chunk])))  # (b, h, w, c)
        b, h, w, c = maps.shape
        width = w
        flat = maps.reshape(b, h * w, c)
        where = flat.argmax(axis=1)  # (b, c): each image's strongest position per channel
        score = np.take_along_axis(flat, where[:, None, :], axis=1)[:, 0, :]  # (b, c)
        index = np.broadcast_to(np.arange(start, start + b)[:, None], (b, c))
        best = _merge_top(best, (score.T, index.T.copy(), where.T), k)
    scores, chosen, flat_pos = best
    positions = np.stack(np.divmod(flat_pos, width), axis=-1)  # (c, k, 2)
    return windows_of(scores, chosen, positions, images, geo)


def windows_of(scores: np.ndarray, chosen: np.ndarray, positions: np.ndarray, images: np.ndarray,
               geo: LayerGeometry) -> TopWindows:
    """The top windows at `chosen` images (c, k) and `positions` (c, k, 2), their crops cut from uint8 `images`."""
    c, k = chosen.shape
    rf = geo.receptive_field
    origins = np.array([window_origin(geo, r, q) for r, q in positions.reshape(-1, 2)]).reshape(c * k, 2)
    crops = crop_windows(to_model_input(images[chosen.reshape(-1)])[..., 0], origins, rf)
    return TopWindows(
        scores=np.asarray(scores, dtype=np.float32),
        images=np.asarray(chosen, dtype=np.int64),
        positions=np.asarray(positions, dtype=np.int64),
        crops=crops.reshape(c, k, rf, rf),
    )


# --- preferred patterns --------------------------------------------------------------------


def preferred_patterns(
    model: keras.Model, layer_name: str, steps: int = ASCENT_STEPS, step: float = ASCENT_STEP, seed: int = 0
) -> np.ndarray:
    """Gradient ascent from grey: one (28, 28) input in [0, 1] per channel, float32 (c, 28, 28).

    Channel i's image climbs the mean over positions of channel i's filter response (the book's
    loss), with the gradient normalised per image and the image kept in [0, 1]. A little noise
    (±0.01) breaks the symmetry of a flat grey start, as the book's start image does.
    """
    import tensorflow as tf

    response = _pre_activation_fn(model, layer_name)
    channels = int(model.get_layer(layer_name).filters)
    rng = np.random.default_rng(seed)
    start = GREY + rng.uniform(-0.01, 0.01, size=(channels, INPUT_SIZE, INPUT_SIZE, 1))
    x = tf.Variable(start.astype(np.float32))
    pick = tf.eye(channels)  # (c, c): image i scores channel i

    @tf.function
    def climb():
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                z = response(x)  # (c, h, w, c)
                loss = tf.reduce_sum(tf.reduce_mean(z, axis=(1, 2)) * pick)
            grad = tape.gradient(loss, x)
            norm = tf.sqrt(tf.reduce_mean(tf.square(grad), axis=(1, 2, 3), keepdims=True)) + 1e-8
            x.assign(tf.clip_by_value(x + step * grad / norm, 0.0, 1.0))

    climb()
    return x.numpy()[..., 0]


def channel_means(body: Any, inputs: np.ndarray) -> np.ndarray:
    """Mean activation (after ReLU) of channel i over positions for input i: inputs (c, 28, 28) → (c,)."""
    maps = np.asarray(body.predict_on_batch(np.asarray(inputs, dtype=np.float32)[..., None]))  # (c, h, w, c)
    means = maps.mean(axis=(1, 2))  # (c, c)
    return np.diagonal(means).astype(np.float32)


# --- the atlas -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Atlas:
    """Everything the channel atlas draws for one conv layer of one run."""

    layer_name: str
    windows: TopWindows
    patterns: np.ndarray  # (c, 28, 28) float32 in [0, 1]
    pattern_means: np.ndarray  # (c,) mean activation of each channel on its own pattern
    grey_means: np.ndarray  # (c,) …and on a plain grey image
    n_images: int  # how many test images were searched

    @property
    def channels(self) -> int:
        """Number of channels (filters) of the layer."""
        return int(self.patterns.shape[0])


def build_atlas(model: keras.Model, layer_name: str, geo: LayerGeometry, images: np.ndarray, k: int = TOP_K) -> Atlas:
    """Top-k windows among uint8 `images` and the gradient-ascent pattern of every channel, by Keras."""
    if geo.name != layer_name or geo.kind != "Conv2D":
        raise ValueError(f"geometry of {geo.name} ({geo.kind}) given for layer {layer_name}")
    return atlas_of(layer_output_model(model, layer_name), preferred_patterns(model, layer_name), geo, images, k)


def ascend(gradient: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], channels: int, steps: int = ASCENT_STEPS,
           step: float = ASCENT_STEP, seed: int = 0) -> np.ndarray:
    """`preferred_patterns` without TensorFlow: `gradient(x)` gives, for inputs x (c, 28, 28, 1), each image's
    channel's mean response and its gradient (c, 28, 28, 1) (`dashboard.inspection.forward.Chain.response_gradient`)."""
    rng = np.random.default_rng(seed)
    x = (GREY + rng.uniform(-0.01, 0.01, size=(channels, INPUT_SIZE, INPUT_SIZE, 1))).astype(np.float32)
    for _ in range(steps):
        _, grad = gradient(x)
        norm = np.sqrt(np.mean(np.square(grad), axis=(1, 2, 3), keepdims=True)) + 1e-8
        x = np.clip(x + step * grad / norm, 0.0, 1.0).astype(np.float32)
    return x[..., 0]


def atlas_of(body: Any, patterns: np.ndarray, geo: LayerGeometry, images: np.ndarray, k: int = TOP_K) -> Atlas:
    """The atlas of conv layer `geo`: top-k windows among uint8 `images` found by `body` (its
    `predict_on_batch` maps inputs (b, 28, 28, 1) to the layer's output), and the channels' `patterns` (c, 28, 28)."""
    windows = top_windows(body, images, geo, k)
    grey = np.full_like(patterns, GREY)
    return Atlas(
        layer_name=geo.name,
        windows=windows,
        patterns=patterns,
        pattern_means=channel_means(body, patterns),
        grey_means=channel_means(body, grey),
        n_images=len(images),
    )


# --- one channel on one digit --------------------------------------------------------------


def channel_overlay(channel_map: np.ndarray, geo: LayerGeometry) -> np.ndarray:
    """A channel's map (h, w) spread over the 28×28 input: each pixel takes the position whose window centre is nearest."""
    channel_map = np.asarray(channel_map, dtype=np.float32)
    size = channel_map.shape[0]
    pixels = np.arange(INPUT_SIZE, dtype=np.float64)
    nearest = np.clip(np.rint((pixels - geo.start) / (geo.jump or 1)), 0, size - 1).astype(np.int64)
    return channel_map[np.ix_(nearest, nearest)]


def strongest_channel(maps: np.ndarray) -> int:
    """The channel of a layer's maps (h, w, c) with the highest activation anywhere (the first on a tie)."""
    peaks = np.asarray(maps).reshape(-1, np.shape(maps)[-1]).max(axis=0)
    return int(np.argmax(peaks))


def strongest_positions(channel_map: np.ndarray, k: int = 3) -> list[tuple[int, int, float]]:
    """The k positions (row, col, value) of a map (h, w) with the highest positive values, strongest first."""
    channel_map = np.asarray(channel_map)
    flat = channel_map.reshape(-1)
    order = np.argsort(-flat, kind="stable")[:k]
    width = channel_map.shape[1]
    return [(int(i // width), int(i % width), float(flat[i])) for i in order if flat[i] > 0]
