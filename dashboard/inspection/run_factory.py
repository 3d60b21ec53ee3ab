"""The one factory of run models: `open_run(record, cache)` picks the engine that computes a run.

Numpy (`dashboard.inspection.numpy_run.NumpyRun`) wherever it can serve: every run trained here, and
every imported chain whose layers `dashboard.inspection.numpy_layers` all compute; Keras
(`dashboard.inspection.keras_run.KerasRun`) for the rest, branching models among them. The run's
layers' geometry comes from its record: its `NetworkSpec`, or the summary rows its import measured
from the file's Keras configuration (`dashboard.network.keras_layers`). Nothing else in the app
chooses an engine. Imports Keras only for a run numpy does not compute, and only when it is used.
"""

from __future__ import annotations

import math
from typing import Any

from dashboard.inspection import numpy_layers
from dashboard.inspection.forward import Chain, Network
from dashboard.inspection.numpy_run import NumpyRun
from dashboard.inspection.run_model import RunModel
from dashboard.network.spec import LayerGeometry, geometry
from dashboard.store.run import RunRecord


def record_geometry(record: RunRecord) -> tuple[tuple[str, ...], tuple[LayerGeometry, ...]]:
    """(every layer's Keras class, the geometry of the layers whose receptive field is known) of a run."""
    if record.spec is not None:
        layers = tuple(geometry(record.spec))
        return tuple(g.kind for g in layers), layers
    rows = record.imported.layers
    out = []
    for row in rows:
        rf, jump, shape = row.get("receptive_field"), row.get("jump"), row["output_shape"]
        if rf is None:
            continue  # a branching model's: unknown
        rf, jump = (rf[0] if isinstance(rf, list) else rf), (jump[0] if isinstance(jump, list) else jump)
        spatial = jump is not None and len(shape) == 4  # [None, rows, cols, channels]: rows are drawn
        out.append(LayerGeometry(row["name"], row["type"], int(shape[1]) if spatial else None,
                                 int(shape[-1]) if spatial else math.prod(shape[1:]), int(rf),
                                 int(jump) if spatial else None, float(row.get("start", 0.0))))
    return tuple(row["type"] for row in rows), tuple(out)


def open_run(record: RunRecord, cache: Any) -> RunModel:
    """The model of run `record` from `cache` (a `dashboard.store.cache.ModelCache`): numpy wherever it can serve.

    Raises `dashboard.store.cache.CacheError` if the entry turns out damaged.
    """
    kinds, layers = record_geometry(record)
    if record.spec is not None:
        return NumpyRun(record.key, record.key, kinds, layers, Network(record.spec, cache.load_weights(record.key)))
    from dashboard.store.imported import SCALINGS

    imported = record.imported
    cache_id = f"{record.key}|{imported.scaling}"
    if imported.chain:
        chain_layers, weights = cache.load_chain(record.key)
        if all(numpy_layers.supported(layer) for layer in chain_layers if layer.kind != "InputLayer"):
            rule = SCALINGS[imported.scaling]
            network = Chain(chain_layers, weights, imported.input_shape, rule.scale, rule.offset)
            return NumpyRun(record.key, cache_id, kinds, layers, network)
    from dashboard.inspection.keras_run import KerasRun  # TensorFlow only when its model is used

    return KerasRun(record, cache, cache_id, kinds, layers)
