"""A learner's own Keras model as a run: input scaling, measurement, the cache record, the app's view.

`import_model(data, filename, mnist, cache)` inspects the file (`dashboard.modelfiles.modelfile`), loads it
safely, measures accuracy on a slice of the test set under each usual input convention
(`SCALINGS`), keeps the best, measures the whole test set with it and stores the run in the model
cache under the SHA-256 of the file's bytes (a second import of the same file is a cache hit).
`app_model` wraps a stored model so that it takes what every page feeds a trained run: uint8
digits divided by 255 as (n, 28, 28, 1); its layers keep their names. The pages compute an imported
chain with numpy (`dashboard.inspection.run_factory`); the wrapped Keras model serves the rest.

No Streamlit; TensorFlow is imported when a model is loaded or measured.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dashboard.modelfiles.modelfile import (
    Inspection,
    ModelFileError,
    check_config,
    inspect_model_file,
    load_checked,
    sha256,
)
from dashboard.network.keras_layers import LayerShape
from dashboard.network.spec import MAP_KINDS, LayerGeometry
from dashboard.network.summaries import LayerRow
from dashboard.store.cache import ModelCache
from dashboard.store.run import ImportedModel, RunRecord, library_versions, now_iso

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # of pixels in [0, 1], the usual torchvision numbers
SCALING_SLICE = 1000  # test images used to pick the input scaling
ACCURACY_TIE = 0.01  # accuracies this close are told apart by their loss


@dataclass(frozen=True)
class Scaling:
    """An input convention: the model sees `pixels/255 * scale + offset`."""

    name: str
    label: str
    scale: float
    offset: float


SCALINGS: dict[str, Scaling] = {
    "unit": Scaling("unit", "pixels ÷ 255 (0–1, as in the book)", 1.0, 0.0),
    "raw": Scaling("raw", "raw pixels (0–255)", 255.0, 0.0),
    "standard": Scaling("standard", "standardised with MNIST mean 0.1307 and std 0.3081",
                        1.0 / MNIST_STD, -MNIST_MEAN / MNIST_STD),
}


def model_input(images: np.ndarray, input_shape: tuple[int, ...], scaling: str) -> np.ndarray:
    """uint8 digits (n, 28, 28) → float32 (n, *input_shape) under `scaling`."""
    rule = SCALINGS[scaling]
    x = np.asarray(images, dtype=np.float32) / 255.0 * rule.scale + rule.offset
    return x.reshape((len(x), *input_shape)).astype(np.float32, copy=False)


def predict(model: Any, images: np.ndarray, input_shape: tuple[int, ...], scaling: str,
            batch_size: int = 1000) -> np.ndarray:
    """Class probabilities (n, 10) of the model as saved (its own input shape) under `scaling`."""
    out = [np.asarray(model.predict_on_batch(model_input(images[i:i + batch_size], input_shape, scaling)))
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out).astype(np.float32, copy=False)


def scaling_scores(model: Any, input_shape: tuple[int, ...], images: np.ndarray, labels: np.ndarray,
                   n: int = SCALING_SLICE) -> dict[str, dict[str, float]]:
    """{scaling: {"accuracy", "loss"}} on the first `n` images under every convention in `SCALINGS`.

    The loss (mean cross-entropy) separates conventions that ReLU networks classify almost
    equally well (raw and standardised inputs differ mostly by a factor, which argmax ignores).
    """
    images, labels = images[:n], np.asarray(labels[:n], dtype=np.int64)
    out = {}
    for name in SCALINGS:
        probs = predict(model, images, input_shape, name)
        loss = -np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0)).mean()
        out[name] = {"accuracy": float((probs.argmax(1) == labels).mean()), "loss": float(loss)}
    return out


def best_scaling(scores: dict[str, dict[str, float]], tolerance: float = ACCURACY_TIE, n: int = SCALING_SLICE) -> str:
    """The book's ÷255 when it is within 2 binomial standard errors of the most accurate convention (a tie
    on `n` images); else the most accurate; within `tolerance` of it, the lowest loss."""
    top = max(score["accuracy"] for score in scores.values())
    tie = 2 * math.sqrt(max(top * (1 - top), 0.0) / max(n, 1))
    if "unit" in scores and scores["unit"]["accuracy"] >= top - tie:
        return "unit"
    close = [name for name in SCALINGS if name in scores and scores[name]["accuracy"] >= top - tolerance]
    return min(close, key=lambda name: (scores[name]["loss"], name != "unit"))


def app_model(model: Any, input_shape: tuple[int, ...], scaling: str, chain: bool) -> Any:
    """A Keras model taking the app's (n, 28, 28, 1) pixels/255 and computing `model`'s output.

    A chain is rebuilt flat from copies of its layers (same configs, weights and names), so every
    conv/pool layer is one of its `layers` with one output; a branching model is called as one
    nested layer.
    """
    import keras
    from keras import layers

    rule = SCALINGS[scaling]
    inputs = keras.Input((28, 28, 1), name="digit")
    x = layers.Rescaling(rule.scale, rule.offset, name="input_scaling")(inputs)
    if tuple(input_shape) != (28, 28, 1):
        x = layers.Reshape(tuple(input_shape), name="input_shape")(x)
    if chain:
        for layer in model.layers:
            if not isinstance(layer, layers.InputLayer):
                copy = type(layer).from_config(layer.get_config())  # classes checked by modelfile
                x = copy(x)
                copy.set_weights(layer.get_weights())
    else:
        x = model(x)
    return keras.Model(inputs, x, name="imported")


# --- the run record ---------------------------------------------------------------------------


def _final_map(rows: list[LayerShape]) -> tuple[int, int]:
    spatial = [row for row in rows if row.kind in MAP_KINDS]
    return (spatial[-1].shape[0], spatial[-1].shape[-1]) if spatial else (0, 0)


def row_dict(row: LayerShape) -> dict[str, Any]:
    """A summary row with the fields of `summary --spec` (plus `start`, the window's first centre)."""
    return {"name": row.name, "type": row.kind, "output_shape": [None, *row.shape], "params": row.params,
            "receptive_field": row.receptive_field, "jump": row.jump, "params_formula": row.params_formula,
            "start": row.start}


def input_layer_name(config: dict[str, Any]) -> str:
    """The name of the InputLayer in a model file's configuration (checked data), or 'input_layer'."""
    _, layers, _ = check_config(config)
    return next((str(cfg.get("name"))[:255] for cls, cfg, _ in layers if cls == "InputLayer" and cfg.get("name")),
                "input_layer")


def summary_display_rows(record: RunRecord) -> list[dict[str, Any]]:
    """The rows `model.summary()` prints: a functional model's InputLayer first (Sequential shows none)."""
    rows = layer_rows(record)
    if record.imported is None or record.imported.model_class == "Sequential":
        return rows
    name = record.imported.input_name or "input_layer"
    first = {"name": name, "type": "InputLayer", "output_shape": [None, *record.imported.input_shape], "params": 0,
             "receptive_field": 1, "jump": 1}
    return [first, *rows]


def summary_rows(inspection: Inspection) -> list[LayerRow]:
    """The inspected model's rows in the layout of `dashboard.network.summaries` (as `summary --spec`)."""
    return [LayerRow(r.name, r.kind, (None, *r.shape), r.params, r.receptive_field, r.jump, r.params_formula)
            for r in inspection.rows]


def make_record(inspection: Inspection, data: Any, scaling: str, scores: dict[str, dict[str, float]],
                test_accuracy: float) -> RunRecord:
    """The cache record of an imported model measured on `data`'s test set."""
    return RunRecord(
        key=inspection.sha256,
        spec=None,
        settings=None,
        history={},
        test_accuracy=float(test_accuracy),
        params=inspection.params,
        final_map=_final_map(list(inspection.rows)),
        train_seconds=0.0,
        data_source=data.source,
        data_label=data.label,
        data_fingerprint=data.fingerprint,
        versions=library_versions(),
        created=now_iso(),
        imported=ImportedModel(
            source_file=inspection.filename[:200],
            sha256=inspection.sha256,
            format=inspection.file_format,
            model_class=inspection.model_class,
            input_shape=tuple(inspection.input_shape),
            scaling=scaling,
            scaling_scores=scores,
            chain=inspection.chain,
            layers=tuple(row_dict(row) for row in inspection.rows),
            fits=None if (spec := fitting_spec(inspection)) is None else spec.to_dict(),
            input_name="" if inspection.model_class == "Sequential" else input_layer_name(inspection.config),
        ),
    )


@dataclass(frozen=True)
class Measured:
    """What loading and measuring a model file gave: accuracy under each scaling, on the whole test set, and
    the model's `.keras` bytes as the cache stores them."""

    scores: dict[str, dict[str, float]]
    test_accuracy: float
    model: bytes


def measure_file(data: bytes, filename: str, mnist: Any) -> Measured:
    """Inspect, load (safe mode) and measure a model file here; `ModelFileError` if refused (TensorFlow here)."""
    from dashboard.store.durable import model_file_bytes

    inspection = inspect_model_file(data, filename)
    model = load_checked(data, inspection)
    scores = scaling_scores(model, inspection.input_shape, mnist.x_test, mnist.y_test)
    accuracy = test_accuracy(model, inspection.input_shape, best_scaling(scores), mnist)
    return Measured(scores, accuracy, model_file_bytes(model))


def import_model(data: bytes, filename: str, mnist: Any, cache: ModelCache,
                 measure: Callable[[bytes, str, Any], Measured] = measure_file) -> tuple[RunRecord, bool]:
    """(record, cache_hit): check, measure and store a model file; `ModelFileError` if refused.

    `measure` loads and measures the file: here by default, in a worker process for the app's
    server (`dashboard.jobs.job_manager.JobManager.measure_import`), so a stranger's file never runs in it.
    The record is made here from this process's own inspection of the file; the measured model's
    bytes are inspected again before they are stored.
    """
    key = sha256(data)
    record = cache.get(key)
    if record is not None and record.is_imported:
        return record, True
    inspection = inspect_model_file(data, filename)
    measured = measure(data, filename, mnist)
    if inspect_model_file(measured.model, filename).params != inspection.params:
        raise ModelFileError("the measured model is not the uploaded one (its parameters differ)")
    record = make_record(inspection, mnist, best_scaling(measured.scores), measured.scores, measured.test_accuracy)
    cache.put_bytes(record, measured.model)
    return cache.get(key) or record, False


def test_accuracy(model: Any, input_shape: tuple[int, ...], scaling: str, mnist: Any) -> float:
    """Accuracy on the whole test set of `mnist` under `scaling`."""
    probs = predict(model, mnist.x_test, input_shape, scaling)
    return float((probs.argmax(1) == np.asarray(mnist.y_test)).mean())


def rescale(record: RunRecord, scaling: str, mnist: Any, cache: ModelCache) -> RunRecord:
    """The record re-measured with another input `scaling` (the learner's choice), stored in place."""
    if scaling not in SCALINGS:
        raise ValueError(f"unknown input scaling {scaling!r}")
    if record.imported is None or record.imported.scaling == scaling:
        return record
    model = cache.load_model(record.key)
    accuracy = test_accuracy(model, record.imported.input_shape, scaling, mnist)
    changed = replace(record, test_accuracy=accuracy, imported=record.imported.with_scaling(scaling))
    cache.replace_record(changed)
    return changed


# --- what pages need --------------------------------------------------------------------------


def layer_rows(record: RunRecord) -> list[dict[str, Any]]:
    """The stored summary rows of an imported run (name, type, output_shape, params, rf, jump)."""
    return [dict(row) for row in record.imported.layers] if record.imported is not None else []


def summary_table(record: RunRecord) -> list[dict[str, Any]]:
    """The summary rows of any run: its network's (`dashboard.network.summaries`), or those its import measured."""
    if record.imported is not None:
        return layer_rows(record)
    from dashboard.network.summaries import summarize

    return [row.to_dict() for row in summarize(record.spec)]


def map_geometry(record: RunRecord) -> list[LayerGeometry]:
    """`LayerGeometry` of each conv/pool layer of an imported chain (for feature-map windows)."""
    out = []
    for row in layer_rows(record):
        if row["type"] in MAP_KINDS and row["jump"] is not None:
            shape = row["output_shape"]
            rf, jump = row["receptive_field"], row["jump"]  # [rows, cols] when not square: rows are drawn
            rf, jump = (rf[0] if isinstance(rf, list) else rf), (jump[0] if isinstance(jump, list) else jump)
            out.append(LayerGeometry(row["name"], row["type"], int(shape[1]), int(shape[-1]), int(rf), int(jump),
                                     float(row["start"])))
    return out


def has_maps(record: RunRecord) -> bool:
    """True if the run is an imported chain with at least one Conv2D layer (feature maps, Inside)."""
    return record.imported is not None and record.imported.chain and any(g.kind == "Conv2D" for g in map_geometry(record))


# --- imported models the app's own description can express ------------------------------------


def _conv_block(layer: Any) -> dict[str, Any] | None:
    """ConvBlock fields of a Conv2D config the app builds the same way (square, relu, no dilation)."""
    from dashboard.network.spec import KERNEL_SIZES, STRIDES

    c = layer.config
    kernel, strides = c.get("kernel_size"), c.get("strides", [1, 1])
    if not (isinstance(kernel, list) and len(set(kernel)) == 1 and kernel[0] in KERNEL_SIZES):
        return None
    if not (isinstance(strides, list) and len(set(strides)) == 1 and strides[0] in STRIDES):
        return None
    if c.get("activation") != "relu" or c.get("dilation_rate", [1, 1]) not in ([1, 1], 1) or c.get("groups", 1) != 1 \
            or not c.get("use_bias", True):
        return None
    return {"filters": int(c["filters"]), "kernel_size": kernel[0], "strides": strides[0],
            "padding": c.get("padding", "valid"), "pool": False}


def _is_pool(layer: Any) -> bool:
    c = layer.config
    return (layer.kind in ("MaxPooling2D", "AveragePooling2D") and c.get("pool_size") in ([2, 2], 2)
            and c.get("strides") in (None, [2, 2], 2) and c.get("padding", "valid") == "valid")


def fitting_spec(inspection: Inspection) -> Any:
    """The `NetworkSpec` that builds the same layers as the imported chain, or None if none does."""
    from dashboard.network.spec import NetworkSpec, SpecError, validate

    layers = list(inspection.layers)
    if not inspection.chain or inspection.input_shape != (28, 28, 1):
        return None
    blocks, i = [], 0
    while i < len(layers) and layers[i].kind == "Conv2D":
        block = _conv_block(layers[i])
        if block is None:
            return None
        i += 1
        if i < len(layers) and layers[i].kind == "BatchNormalization":
            block["batch_norm"], i = True, i + 1
        if i < len(layers) and _is_pool(layers[i]):
            block["pool"], i = True, i + 1
            if layers[i - 1].kind == "AveragePooling2D":
                block["pool_type"] = "avg"
        blocks.append(block)
    rest = [(layer.kind, layer.config) for layer in layers[i:]]
    heads = {"Flatten": "flatten", "GlobalAveragePooling2D": "global_avg"}
    if not blocks or not rest or rest[0][0] not in heads:
        return None
    spec: dict[str, Any] = {"blocks": blocks, "head": heads[rest[0][0]], "dense_units": 0, "dropout": 0.0}
    rest = rest[1:]
    if len(rest) >= 2 and rest[0][0] == "Dense" and rest[0][1].get("activation") == "relu":
        spec["dense_units"], rest = int(rest[0][1]["units"]), rest[1:]
    if len(rest) >= 2 and rest[0][0] == "Dropout":
        spec["dropout"], rest = round(float(rest[0][1].get("rate", 0.0)), 2), rest[1:]
    if len(rest) != 1 or rest[0][0] != "Dense" or rest[0][1].get("activation") != "softmax" \
            or rest[0][1].get("units") != 10:
        return None
    try:
        return validate(NetworkSpec.from_dict(spec))
    except SpecError:
        return None
