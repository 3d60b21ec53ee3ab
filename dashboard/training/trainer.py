"""Train a `NetworkSpec` on MNIST with settings a learner chooses; report progress through callbacks.

`train()` is the only place a network is fitted. It mirrors the book (Deep Learning with
Python, listing 5.1-5.3): inputs scaled to [0, 1], softmax output, cross-entropy loss, and a
validation set held out as Keras `validation_split` holds it out: the last 10% of the
(sub-sampled) training images, before shuffling. Test accuracy is measured once, at the end.

Every random draw of a training comes from its seed alone: the initializers' and dropout's seeds
(`model.layer_seeds`) and each epoch's shuffle (`epoch_orders`, numpy). No global random state is
used, so another thread of the process (Dask's, Streamlit's, a second training) cannot change the
result; with TensorFlow's pools pinned (`dashboard.training.reproducible`) the same run gives the same
weights on any core count and in any process.

Progress goes to plain callables (`on_batch`, `on_epoch`); this module never imports Streamlit.
An exception raised by a callback (Streamlit's Stop raises one) ends the training at once and
propagates; nothing has been written anywhere by then.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dashboard.mnist.data import MnistData
from dashboard.network.spec import NUM_CLASSES, NetworkSpec, validate
from dashboard.training.optim import make_loss, make_optimizer
from dashboard.training.train_settings import SettingsError, TrainSettings

VALIDATION_SPLIT = 0.1
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
EVAL_BATCH = 500  # batch size of validation and test passes (no effect on results)
PROGRESS_INTERVAL = 0.1  # seconds between two `on_batch` calls (the last batch is always reported)


# --- progress ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchProgress:
    """Where a training is within an epoch, with the epoch's running loss and accuracy."""

    epoch: int  # 1-based
    epochs: int
    batch: int  # 1-based, batches done in this epoch
    batches: int  # batches per epoch
    loss: float
    accuracy: float
    seconds: float  # since the training started

    @property
    def fraction(self) -> float:
        """Share of the whole training done, 0..1."""
        return ((self.epoch - 1) + self.batch / self.batches) / self.epochs


@dataclass(frozen=True)
class EpochProgress:
    """One epoch done: the history so far (lists, one value per finished epoch)."""

    epoch: int  # 1-based
    epochs: int
    history: dict[str, list[float]]
    seconds: float


@dataclass
class TrainResult:
    """A trained model and what its training measured."""

    model: Any  # keras.Model, compiled
    history: dict[str, list[float]]  # loss, accuracy, val_loss, val_accuracy: one value per epoch
    test_accuracy: float
    test_loss: float
    train_seconds: float  # the fit only: no data preparation, no test evaluation
    train_images: int  # images the model was fitted on (validation excluded)
    val_images: int
    dead_channels: int | None = None  # last conv channels that are 0 on every test image
    commonest_share: float | None = None  # share of the commonest digit in the test labels
    recipe: dict[str, int] = field(default_factory=dict)  # thread pools it trained with (`reproducible.RECIPE`)
    extra: dict[str, Any] = field(default_factory=dict)


def split_sizes(n_images: int) -> tuple[int, int]:
    """(fit, validation) sizes of `n_images` as `validation_split=0.1` splits them."""
    # The same arithmetic as Keras's `train_validation_split`.
    n_fit = int(math.floor(n_images * (1.0 - VALIDATION_SPLIT)))
    return n_fit, n_images - n_fit


def steps_per_epoch(n_fit: int, batch_size: int) -> int:
    """Batches per epoch, the last one possibly short."""
    return math.ceil(n_fit / batch_size)


def _progress_callback(
    epochs: int,
    batches: int,
    start: float,
    on_batch: Callable[[BatchProgress], None] | None,
    on_epoch: Callable[[EpochProgress], None] | None,
) -> Any:
    import keras

    class Progress(keras.callbacks.Callback):
        """Keeps the per-epoch history and forwards it to `on_epoch`."""

        def __init__(self) -> None:
            super().__init__()
            self.epoch = 0
            self.last = 0.0
            self.history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch = epoch + 1

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            for key in HISTORY_KEYS:
                self.history[key].append(float(logs.get(key, math.nan)))
            if on_epoch is not None:
                history = {key: list(values) for key, values in self.history.items()}
                on_epoch(EpochProgress(epoch + 1, epochs, history, time.perf_counter() - start))

    class BatchProgressCallback(Progress):
        """Also forwards Keras's running batch logs to `on_batch`, at most every 0.1 s."""

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            now = time.perf_counter()
            if batch + 1 < batches and now - self.last < PROGRESS_INTERVAL:
                return
            self.last = now
            logs = logs or {}
            loss, accuracy = float(logs.get("loss", math.nan)), float(logs.get("accuracy", math.nan))
            on_batch(BatchProgress(self.epoch, epochs, batch + 1, batches, loss, accuracy, now - start))  # type: ignore[misc]

    # Without a batch listener Keras need not fetch the logs after every step.
    return Progress() if on_batch is None else BatchProgressCallback()


def _scale(one_hot: bool) -> Any:
    """The map from (uint8 images, int labels) to (float32 (b, 28, 28, 1) in [0, 1], labels or one-hot rows)."""
    import tensorflow as tf

    def scale(x: Any, y: Any) -> tuple[Any, Any]:
        return tf.cast(x, tf.float32)[..., None] / 255.0, (tf.one_hot(y, NUM_CLASSES) if one_hot else tf.cast(y, tf.int32))

    return scale


def _gathered(images: np.ndarray, labels: np.ndarray, indices: Any, one_hot: bool) -> Any:
    """Batches of (images[idx], labels[idx]) for each index batch of the `indices` dataset, scaled on the fly.

    The images stay in their numpy array: each batch is gathered there (`tf.numpy_function`), so
    TensorFlow never holds a copy of the set (`tf.constant` of the 54,000 training images cost
    83 MB, measured with `benchmarks/worker_memory.py`). The batches are the same numbers either way.
    """
    import tensorflow as tf

    labels = labels.astype(np.int32)
    shape = (None, *images.shape[1:])

    def gather(idx: Any) -> tuple[Any, Any]:
        x, y = tf.numpy_function(lambda i: (images[i], labels[i]), [idx], (tf.uint8, tf.int32), stateful=False)
        x.set_shape(shape)
        y.set_shape((None,))
        return x, y

    gathered = indices.map(gather, num_parallel_calls=1, deterministic=True)
    return gathered.map(_scale(one_hot), num_parallel_calls=1, deterministic=True).prefetch(2)


def _batches(images: np.ndarray, labels: np.ndarray, batch_size: int, one_hot: bool = False) -> Any:
    """A tf.data pipeline of the images in order, in batches (validation and test passes)."""
    import tensorflow as tf

    indices = tf.data.Dataset.range(len(images)).batch(batch_size)
    return _gathered(images, labels, indices, one_hot)


def epoch_orders(n: int, epochs: int, seed: int) -> np.ndarray:
    """(epochs, n) int32: each epoch's order of the training images, a uniform shuffle from `seed` alone."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n) for _ in range(epochs)]).astype(np.int32)


def _shuffled_batches(images: np.ndarray, labels: np.ndarray, batch_size: int, epochs: int, seed: int,
                      one_hot: bool) -> Any:
    """Training batches for every epoch, reshuffled each epoch by `epoch_orders` (no global random state).

    Each epoch ends with its own short batch, as `fit(shuffle=True)` on arrays does; uint8 images
    are gathered and scaled batch by batch, so no copy of the set is held (`_gathered`).
    """
    import tensorflow as tf

    orders = tf.data.Dataset.from_tensor_slices(epoch_orders(len(images), epochs, seed))
    indices = orders.flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))
    return _gathered(images, labels, indices, one_hot)


def _split(data: MnistData, settings: TrainSettings) -> tuple[Any, Any, int, int]:
    """(fit batches, validation batches, n_fit, n_val): the last 10% held out, as Keras does.

    uint8 images go in; batches are scaled to float32 [0, 1] on the fly (as `to_model_input`
    does), so no float copy of the whole set is ever held: ~250 MB less on full MNIST.
    """
    n_all = len(data.x_train) if settings.train_size is None else min(settings.train_size, len(data.x_train))
    n_fit, n_val = split_sizes(n_all)
    if n_val < 1:
        raise SettingsError([f"{n_all} training images leave no validation images"])
    one_hot = bool(settings.label_smoothing)
    fit_data = _shuffled_batches(data.x_train[:n_fit], data.y_train[:n_fit], settings.batch_size,
                                 settings.epochs, settings.seed, one_hot)
    val_data = _batches(data.x_train[n_fit:n_all], data.y_train[n_fit:n_all], EVAL_BATCH, one_hot=one_hot)
    return fit_data, val_data, n_fit, n_val


def dead_channels(model: Any, images: np.ndarray) -> int:
    """How many channels of the last conv layer are 0 (after ReLU) on every one of `images` (uint8)."""
    import keras

    from dashboard.training.model import is_map_layer

    convs = [layer for layer in model.layers if is_map_layer(layer) and isinstance(layer, keras.layers.Conv2D)]
    probe = keras.Model(model.inputs[0], convs[-1].output)
    peak = np.zeros(convs[-1].output.shape[-1], dtype=np.float32)
    for start in range(0, len(images), EVAL_BATCH):  # batches: no_pooling's maps are 1.2 GB for 10,000 images
        batch = images[start:start + EVAL_BATCH].astype(np.float32)[..., None] / 255.0
        maps = np.asarray(probe.predict_on_batch(batch))  # (b, side, side, channels)
        peak = np.maximum(peak, maps.max(axis=(0, 1, 2)))
    return int(np.sum(peak <= 0.0))


def commonest_share(labels: np.ndarray) -> float:
    """Share of the commonest label: the accuracy of always answering it."""
    return float(np.bincount(labels.astype(np.int64), minlength=NUM_CLASSES).max() / max(len(labels), 1))


def train(
    spec: NetworkSpec,
    settings: TrainSettings,
    data: MnistData,
    on_batch: Callable[[BatchProgress], None] | None = None,
    on_epoch: Callable[[EpochProgress], None] | None = None,
    callbacks: list[Any] | None = None,
) -> TrainResult:
    """Fit a fresh model of `spec` on `data` with `settings`; the same inputs give the same weights.

    The same weights on any core count and in any process: TensorFlow's pools are pinned
    (`dashboard.training.reproducible`). After the fit, the test set is evaluated and the last conv
    layer's dead channels are counted (`dashboard.training.diagnosis` judges the run from them).

    `callbacks` are extra Keras callbacks (benchmarks use them); raises `SpecError` or
    `SettingsError` on bad input before any work is done.
    """
    from dashboard.training.model import build_model
    from dashboard.training.reproducible import check_threads

    validate(spec)
    recipe = check_threads()  # raises before any work if this process's TensorFlow has other pools
    # Every random draw comes from settings.seed alone (initializers, dropout, the shuffle): no global
    # random state, which other threads of the process (Dask's, Streamlit's, another training) also use.
    fit_data, val_data, n_fit, n_val = _split(data, settings)
    batches = steps_per_epoch(n_fit, settings.batch_size)
    model = build_model(spec, seed=settings.seed)
    model.compile(
        optimizer=make_optimizer(settings, batches * settings.epochs),
        loss=make_loss(settings),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    progress = _progress_callback(settings.epochs, batches, start, on_batch, on_epoch)
    model.fit(
        fit_data,
        epochs=settings.epochs,
        steps_per_epoch=batches,
        validation_data=val_data,
        shuffle=False,  # the pipeline shuffles
        verbose=0,
        callbacks=[progress, *(callbacks or [])],
    )
    train_seconds = time.perf_counter() - start
    # By name, not position: Keras appends any log it cannot place (seen once in a busy server
    # process), and an unpacked list would then fail a finished training.
    test_data = _batches(data.x_test, data.y_test, EVAL_BATCH, one_hot=bool(settings.label_smoothing))
    logs = model.evaluate(test_data, verbose=0, return_dict=True)
    return TrainResult(
        model=model,
        history=progress.history,
        test_accuracy=float(logs["accuracy"]),
        test_loss=float(logs["loss"]),
        train_seconds=train_seconds,
        train_images=n_fit,
        val_images=n_val,
        dead_channels=dead_channels(model, data.x_test),
        commonest_share=commonest_share(data.y_test),
        recipe=recipe,
    )
