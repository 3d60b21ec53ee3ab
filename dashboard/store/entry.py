"""One cache entry judged the one way the app judges it: record, archive, model, model against record.

The same steps serve a listing (cheap: `read_entry`), loading a run (`load_entry`: the cheap
steps, then Keras with `safe_mode=True`, then the model checked against its record) and
`cache verify` (which calls `load_entry` on every entry). So an entry that verify calls sound
is one the app can load and show, and one the app refuses is one verify reports.

Steps, each raising `CacheError` with a message that names the run and the reason:
1. `record.json` parses into a `RunRecord` (network and settings validated) whose key is the
   directory's name;
2. `model.keras` is a sound zip whose `config.json` is bounded, parses, and names only the layer
   classes the run's kind allows (`dashboard.modelfiles.archive`): no `Lambda`, nothing custom;
3. Keras loads it (`safe_mode=True`, uncompiled);
4. the model is what the record says: parameter count; for a run trained here also every
   layer's type and output shape against the record's network, and the last conv map.

A run trained here can also be read without Keras (`load_weights_entry`): after steps 1 and 2,
its weights as numpy arrays, each array's shape checked against the record's network before it
is read (`dashboard.modelfiles.weights`); `dashboard.inspection.forward` computes the network from them.
An imported chain is read the same way (`load_chain_entry`): its layers' Keras configurations from
the archive's `config.json` (checked as its upload was), and the arrays those layers need.

Imports TensorFlow only inside `load_entry`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dashboard.modelfiles.archive import ArchiveError, inspect_archive, read_config
from dashboard.network.keras_layers import GeometryError, KerasLayer, describe_layer
from dashboard.network.spec import MAP_KINDS, geometry
from dashboard.store.run import RunRecord
from dashboard.store.seeds import group_id

MODEL_FILE = "model.keras"
RECORD_FILE = "record.json"
MAX_RECORD_BYTES = 400_000


class CacheError(RuntimeError):
    """A cache entry that cannot be used (damaged, or missing); the message says which and why."""


def read_entry(path: Path) -> RunRecord:
    """Steps 1 and 2: the entry's record after checking its archive as data; raise `CacheError`."""
    record_path, model_path = path / RECORD_FILE, path / MODEL_FILE
    if not record_path.is_file():
        raise CacheError(f"run {path.name}: {RECORD_FILE} is missing")
    if not model_path.is_file():
        raise CacheError(f"run {path.name}: {MODEL_FILE} is missing")
    try:
        size = record_path.stat().st_size
        if size > MAX_RECORD_BYTES:
            raise ValueError(f"it is too large ({size:,} bytes)")
        record = RunRecord.from_json(record_path.read_bytes())
    except (OSError, ValueError) as err:
        raise CacheError(f"run {path.name}: {RECORD_FILE} is unreadable ({err})") from None
    if record.key != path.name:
        raise CacheError(f"run {path.name}: its record names another key ({record.key[:20]!r})")
    try:
        inspect_archive(model_path, imported=record.is_imported)
    except ArchiveError as err:
        raise CacheError(f"run {path.name}: {MODEL_FILE} cannot be used: {err}") from None
    return record


def expected_layers(record: RunRecord) -> list[tuple[str, tuple[int, ...]]] | None:
    """(class name, output shape without the batch axis) of every layer the record's network has."""
    if record.spec is None:
        return None
    return [(g.kind, (g.size, g.size, g.channels) if g.size is not None else (g.channels,))
            for g in geometry(record.spec)]


def model_mismatch(record: RunRecord, model: Any) -> str | None:
    """Why `model` is not the model `record` describes, or None if it is (step 4)."""
    params = int(model.count_params())
    if params != record.params:
        return f"the model has {params:,} parameters, its record says {record.params:,}"
    expected = expected_layers(record)
    if expected is None:
        return None  # an imported run: its layers were measured from this very file when imported
    actual = [(type(layer).__name__, tuple(layer.output.shape)[1:]) for layer in model.layers]
    if len(actual) != len(expected):
        return f"the model has {len(actual)} layers, its record's network has {len(expected)}"
    for index, (got, want) in enumerate(zip(actual, expected)):
        if got != want:
            return f"layer {index} is {got[0]} {got[1]}, its record's network has {want[0]} {want[1]}"
    maps = [shape for kind, shape in actual if kind in MAP_KINDS and len(shape) == 3]
    final = (int(maps[-1][0]), int(maps[-1][2])) if maps else None
    if final != record.final_map:
        return f"the model's last map is {final}, its record says {record.final_map}"
    return None


def load_entry(path: Path, record: RunRecord) -> Any:
    """Steps 3 and 4 after `read_entry`: the Keras model (uncompiled), checked against `record`."""
    import keras

    try:
        model = keras.saving.load_model(path / MODEL_FILE, safe_mode=True, compile=False)
    except Exception as err:  # noqa: BLE001 - any failure to load means a damaged file
        raise CacheError(f"run {path.name}: {MODEL_FILE} cannot be loaded ({type(err).__name__}: {str(err)[:200]})") from None
    try:
        problem = model_mismatch(record, model)
    except Exception as err:  # noqa: BLE001 - a model too strange to measure is not the recorded one
        problem = f"the model cannot be measured ({type(err).__name__})"
    if problem is not None:
        raise CacheError(f"run {path.name}: {MODEL_FILE} does not match its record: {problem}")
    return model


def load_weights_entry(path: Path, record: RunRecord) -> dict:
    """Step 3 for a run trained here, without Keras: its weights as arrays, checked against the
    record's network (`dashboard.modelfiles.weights`); raise `CacheError`. An imported run has no spec to check them by."""
    from dashboard.modelfiles.weights import read_weights

    if record.spec is None:  # not damage: the caller asked the wrong way
        raise ValueError(f"run {path.name}: an imported model is read by Keras, not as arrays")
    try:
        return read_weights(path / MODEL_FILE, record.spec)
    except ArchiveError as err:
        raise CacheError(f"run {path.name}: {MODEL_FILE}'s weights cannot be used: {err}") from None


def archive_layers(path: Path) -> tuple[KerasLayer, ...]:
    """The layers of the model in entry `path`, as their Keras configurations (read as data), in order."""
    from dashboard.modelfiles.modelfile import ModelFileError, check_config

    try:
        _, layers, _ = check_config(read_config(path / MODEL_FILE))
        return tuple(describe_layer(kind, config, parents) for kind, config, parents in layers)
    except (ArchiveError, ModelFileError, GeometryError) as err:
        raise CacheError(f"run {path.name}: {MODEL_FILE}'s configuration cannot be used: {err}") from None


def load_chain_entry(path: Path, record: RunRecord) -> tuple[tuple[KerasLayer, ...], dict]:
    """Step 3 for an imported chain, without Keras: (its layers, their weights as arrays), the arrays
    checked against the shapes the layers' configurations give (`dashboard.modelfiles.weights`)."""
    from dashboard.modelfiles.weights import read_chain_weights

    if record.imported is None or not record.imported.chain:  # not damage: the caller asked the wrong way
        raise ValueError(f"run {path.name}: only an imported chain of layers is read this way")
    layers = archive_layers(path)
    try:
        return layers, read_chain_weights(path / MODEL_FILE, layers, record.imported.input_shape)
    except (ArchiveError, GeometryError) as err:
        raise CacheError(f"run {path.name}: {MODEL_FILE}'s weights cannot be used: {err}") from None


def group_of_entry(path: Path) -> object:
    """The seed group of the run in `path`, from its record alone (eviction judges no archive); the entry if unreadable."""
    try:
        record_path = path / RECORD_FILE
        if record_path.stat().st_size <= MAX_RECORD_BYTES:
            return group_id(RunRecord.from_json(record_path.read_bytes()))
    except (OSError, ValueError):
        pass
    return ("entry", path.name)
