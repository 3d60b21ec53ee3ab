"""A worker's job result judged as outside input, before anything is stored in the cache.

A worker returns plain data, `{"record_json": str, "model": bytes}` (`dashboard.jobs.job_task.run_job`),
read by the app without unpickling (`dashboard.jobs.job_cluster.RESULT_DESERIALIZERS`). `check_result`
then trusts it no more than a file: the record goes through `RunRecord.from_json` and must be
the job's own run (key, network, training settings, data fingerprint); the model goes through the
checks of an uploaded model file (`dashboard.modelfiles.modelfile.inspect_model_file`: bounded, no `Lambda`,
nothing outside Keras), its configuration must be the job's network layer for layer (classes,
names, sizes, activations, dropout rate) and its weights must have exactly that network's shapes
(`dashboard.modelfiles.weights.read_weights`). Every refusal is a `JobResultError` with one plain sentence.

Pure Python (zipfile, h5py, numpy): imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

from dashboard.modelfiles.archive import ArchiveError
from dashboard.modelfiles.modelfile import MAX_FILE_BYTES, ModelFileError, inspect_model_file
from dashboard.network.geometry import GeometryError, layer_from_config
from dashboard.network.spec import INPUT_CHANNELS, INPUT_SIZE, NetworkSpec, chain
from dashboard.store.run import RunRecord, make_key
from dashboard.training.train_settings import TrainSettings

RESULT_FIELDS = {"record_json": str, "model": bytes}
MAX_RECORD_JSON_CHARS = 400_000  # as a cache entry's record.json (`dashboard.store.entry.MAX_RECORD_BYTES`)


class JobResultError(ValueError):
    """A job result the app refuses to store; the message says why in one plain sentence."""


def unpack(result: Any) -> tuple[str, bytes]:
    """(record JSON text, model bytes) of a result that is exactly the plain-data dict a worker returns."""
    if not isinstance(result, dict) or set(result) != set(RESULT_FIELDS):
        raise JobResultError("the worker's result is not the plain record-and-model data the app expects")
    for name, kind in RESULT_FIELDS.items():
        if type(result[name]) is not kind:
            raise JobResultError(f"the worker's result holds {name} as {type(result[name]).__name__}, not {kind.__name__}")
    if len(result["record_json"]) > MAX_RECORD_JSON_CHARS or len(result["model"]) > MAX_FILE_BYTES:
        raise JobResultError("the worker's result is larger than any run the app trains")
    return result["record_json"], result["model"]


def check_record(text: str, key: str, spec: NetworkSpec, settings: TrainSettings, fingerprint: str) -> RunRecord:
    """The record from the worker, if it is the job's own run (never marked shipped)."""
    try:
        record = RunRecord.from_json(text)
    except ValueError as err:
        raise JobResultError(f"the worker's record is not valid ({err})") from None
    if record.is_imported:
        raise JobResultError("the worker returned an imported model's record, not a trained run")
    differences = [what for what, same in (
        ("key", record.key == key), ("network", record.spec == spec), ("training settings", record.settings == settings),
        ("data fingerprint", record.data_fingerprint == fingerprint),
        ("key of its own network, settings and data", make_key(record.spec, record.settings, record.data_fingerprint) == key),
    ) if not same]
    if differences:
        raise JobResultError(f"the worker's record is not this job's run: its {', '.join(differences)} differ")
    return replace(record, shipped=False)


def expected_activations(spec: NetworkSpec) -> list[str | None]:
    """The activation `build_model` gives each layer of `spec` (None: a layer without one)."""
    layers = chain(spec)
    last = len(layers) - 1
    return ["relu" if layer.kind == "Conv2D" or layer.kind == "Dense" and index != last
            else "softmax" if index == last else None for index, layer in enumerate(layers)]


def config_problem(found: list[tuple[str, dict[str, Any]]], spec: NetworkSpec) -> str | None:
    """Why the (class, config) layers of a model are not exactly `spec`'s network, or None."""
    wanted = chain(spec)
    if len(found) != len(wanted):
        return f"it has {len(found)} layers, the job's network {len(wanted)}"
    for index, ((kind, config), want, activation) in enumerate(zip(found, wanted, expected_activations(spec))):
        try:
            got = layer_from_config(kind, config)
        except (GeometryError, KeyError, TypeError, ValueError):
            return f"its layer {index} ({kind[:40]}) cannot be read"
        if got != want:
            return f"its layer {index} is {got.kind} {got.name!r}, the job's network has {want.kind} {want.name!r} there"
        if config.get("activation") != activation:
            return f"its layer {index} ({want.name}) has activation {str(config.get('activation'))[:20]!r}, not {activation!r}"
        if want.kind == "Dropout" and config.get("rate") != spec.dropout:
            return f"its dropout rate is {str(config.get('rate'))[:20]}, the job's network has {spec.dropout}"
    return None


def check_model(data: bytes, record: RunRecord) -> None:
    """Refuse model bytes that are not a sound `.keras` file of the record's network (raise `JobResultError`)."""
    from dashboard.modelfiles.weights import read_weights

    try:
        found = inspect_model_file(data, "the worker's model")
    except ModelFileError as err:
        raise JobResultError(f"the worker's model is refused: {err}") from None
    if found.model_class != "Sequential" or found.input_shape != (INPUT_SIZE, INPUT_SIZE, INPUT_CHANNELS):
        raise JobResultError(f"the worker's model is a {found.model_class} on {found.input_shape} inputs, "
                             "not the job's network")
    problem = config_problem([(layer.kind, layer.config) for layer in found.layers], record.spec)
    if problem is None and found.params != record.params:
        problem = f"it has {found.params:,} parameters, its record says {record.params:,}"
    if problem is not None:
        raise JobResultError(f"the worker's model is not the job's network: {problem}")
    try:
        read_weights(io.BytesIO(data), record.spec)
    except ArchiveError as err:
        raise JobResultError(f"the worker's model's weights are refused: {err}") from None


def check_result(result: Any, key: str, spec: NetworkSpec, settings: TrainSettings,
                 fingerprint: str) -> tuple[RunRecord, bytes]:
    """(record, model bytes) of a worker's result for the job (key, spec, settings, data); `JobResultError` if not."""
    text, model = unpack(result)
    record = check_record(text, key, spec, settings, fingerprint)
    check_model(model, record)
    return record, model
