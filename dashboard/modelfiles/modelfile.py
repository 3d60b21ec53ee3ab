"""A Keras model file from outside (`.keras` or legacy `.h5`), inspected as data before Keras sees it.

A model file is code from a stranger: a legacy `.h5` `Lambda` layer carries marshalled Python,
and a `.keras` archive can name any registered class. `inspect_model_file(data, filename)` reads
only the configuration (the archive's `config.json`, the `.h5` file's `model_config` attribute),
bounded in size and nesting, and refuses by name any class outside `LAYER_CLASSES` and the
helper classes Keras itself writes (initializers, dtype policies…), any `module` outside
`keras`, and any registered-object reference. It then measures every layer (shapes, params)
with `dashboard.network.keras_layers` and refuses what is too big or is not a 28×28 digit model.
Only then does `load_checked` call `keras.saving.load_model(..., safe_mode=True, compile=False)`.

Every refusal is a `ModelFileError` with one plain sentence. No Streamlit; TensorFlow is imported
by `load_checked` only.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboard.network.keras_layers import ALIASES, GeometryError, KerasLayer, LayerShape, describe_layer, propagate
from dashboard.outside import OutsideInputError, loads_json, plain

MAX_FILE_BYTES = 20 * 2**20  # an upload
MAX_UNCOMPRESSED_BYTES = 64 * 2**20  # everything in a .keras archive, unpacked
MAX_MEMBERS = 16  # a .keras archive holds 3 files (config, metadata, weights)
MAX_CONFIG_CHARS = 2_000_000
MAX_CONFIG_DEPTH = 40
MAX_LAYERS = 200
MAX_PARAMS = 5_000_000  # ~20 MB of float32 weights
LAYER_NAME = re.compile(r"[A-Za-z0-9_.\- ]{1,80}")  # what Keras generates, and safe in any markup
ACCEPTED_INPUTS = ((28, 28, 1), (28, 28), (784,))
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"

MODEL_CLASSES = {"Sequential", "Functional", "Model"}
LAYER_CLASSES = {
    "InputLayer", "Conv2D", "MaxPooling2D", "AveragePooling2D", "BatchNormalization", "Dropout",
    "SpatialDropout2D", "Activation", "ReLU", "LeakyReLU", "Softmax", "Rescaling", "Reshape", "Flatten",
    "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Dense", *ALIASES,
}
MERGE_CLASSES = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"}  # branching only
# Classes Keras writes inside layer configs: policies, initializers, regularizers, constraints, tensors.
HELPER_CLASSES = {
    "DTypePolicy", "FloatDTypePolicy", "Policy", "__keras_tensor__", "__tuple__",
    "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform", "Zeros", "Ones",
    "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal", "Orthogonal", "VarianceScaling", "Identity",
    "L1", "L2", "L1L2", "OrthogonalRegularizer", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm",
}
ACTIVATIONS = {"relu", "softmax", "sigmoid", "tanh", "linear", "elu", "selu", "gelu", "swish", "silu", "softplus",
               "softsign", "relu6", "leaky_relu", "hard_sigmoid", "exponential", "log_softmax", "mish", None}


class ModelFileError(ValueError):
    """A model file the app will not open; the message is one plain sentence saying why."""


@dataclass(frozen=True)
class Inspection:
    """What a model file declares, read as data: enough to summarise it without Keras."""

    sha256: str
    filename: str  # as uploaded: outside text, show with `outside.plain`/`code_span`
    file_format: str  # "keras" or "h5"
    model_class: str  # Sequential or Functional
    input_shape: tuple[int, ...]  # without the batch axis: (28, 28, 1), (28, 28) or (784,)
    layers: tuple[KerasLayer, ...]  # every layer but the input, in order
    rows: tuple[LayerShape, ...]  # their shapes, params and receptive fields
    chain: bool  # one layer after another, no branches
    config: dict[str, Any]  # the checked model config

    @property
    def params(self) -> int:
        """Total parameters (trainable and not), as `model.count_params()`."""
        return sum(row.params for row in self.rows)

    @property
    def conv_layers(self) -> list[str]:
        """Names of the Conv2D layers."""
        return [row.name for row in self.rows if row.kind == "Conv2D"]


def sha256(data: bytes) -> str:
    """Hex SHA-256 of the file's bytes: an imported run's key."""
    return hashlib.sha256(data).hexdigest()


# --- reading the configuration as data -----------------------------------------------------


def read_keras_config(source: bytes | str | Path, check_weights: bool = True) -> dict[str, Any]:
    """A `.keras` archive's `config.json` as a dict, bounded and parsed as data: the one reader of the format.

    `source` is the file's bytes (an upload) or its path (a run in the cache). With
    `check_weights`, the weights member is unpacked too (CRC checked) and its size bounded.
    Raises `ModelFileError`.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ModelFileError("the .keras file is truncated or corrupt (not a readable zip archive)") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ModelFileError(f"the .keras archive holds {len(infos)} files; a Keras model has at most {MAX_MEMBERS}")
        total = sum(info.file_size for info in infos)
        if total > MAX_UNCOMPRESSED_BYTES:
            raise ModelFileError(f"the .keras archive unpacks to {total / 2**20:.0f} MB; at most "
                                 f"{MAX_UNCOMPRESSED_BYTES // 2**20} MB is accepted")
        names = {info.filename for info in infos}
        if "config.json" not in names:
            raise ModelFileError("this zip archive is not a Keras model (it has no config.json)")
        if not names & {"model.weights.h5", "model.weights.npz"}:
            raise ModelFileError("this .keras archive has no weights (model.weights.h5 is missing)")
        info = archive.getinfo("config.json")
        if info.file_size > MAX_CONFIG_CHARS:
            raise ModelFileError("the model's config.json is too large")
        try:
            with archive.open(info) as handle:
                raw = handle.read(MAX_CONFIG_CHARS + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError):
            raise ModelFileError("the .keras file is truncated or corrupt (config.json cannot be read)") from None
        if check_weights:
            _check_weights_zip(archive, names)
    return _parse_config(raw)


def _check_weights_zip(archive: zipfile.ZipFile, names: set[str]) -> None:
    """The weights member must unpack intact (CRC checked) and hold a bounded number of numbers."""
    if "model.weights.h5" not in names:
        return
    try:
        weights = archive.read("model.weights.h5")
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError):
        raise ModelFileError("the .keras file is truncated or corrupt (its weights cannot be read)") from None
    _check_h5_weights(weights)


def _h5_file(data: bytes) -> Any:
    import h5py

    try:
        return h5py.File(io.BytesIO(data), "r")
    except (OSError, ValueError):
        raise ModelFileError("the .h5 file is truncated or corrupt (HDF5 cannot open it)") from None


def _check_h5_weights(data: bytes) -> None:
    """Refuse weight files holding more numbers than `MAX_PARAMS` (shapes only, nothing read)."""
    import h5py

    total = 0
    with _h5_file(data) as handle:
        def visit(_name: str, item: Any) -> None:
            nonlocal total
            if isinstance(item, h5py.Dataset):
                total += int(item.size or 0)

        try:
            handle.visititems(visit)
        except (OSError, ValueError, RuntimeError):
            raise ModelFileError("the model's weights are truncated or corrupt") from None
    if total > MAX_PARAMS * 4:  # weights plus optimizer slots (Adam keeps two per weight)
        raise ModelFileError(f"the file holds {total:,} weights; at most {MAX_PARAMS:,} parameters are accepted")


def _h5_config(data: bytes) -> dict[str, Any]:
    with _h5_file(data) as handle:
        if "model_config" not in handle.attrs:
            raise ModelFileError("this .h5 file holds no model (no model_config: was it saved with save_weights?)")
        try:
            raw = handle.attrs["model_config"]
        except (OSError, ValueError, TypeError):
            raise ModelFileError("the .h5 file's model configuration cannot be read") from None
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "replace")
    if not isinstance(raw, (bytes, bytearray)):
        raise ModelFileError("the .h5 file's model configuration is not text")
    _check_h5_weights(data)
    return _parse_config(bytes(raw))


def _parse_config(raw: bytes) -> dict[str, Any]:
    try:
        config = loads_json(raw, max_chars=MAX_CONFIG_CHARS, max_depth=MAX_CONFIG_DEPTH, what="the model configuration")
    except OutsideInputError as err:
        raise ModelFileError(str(err)) from None
    if not isinstance(config, dict):
        raise ModelFileError("the model configuration is not a JSON object")
    return config


# --- checking every class it names ---------------------------------------------------------


def _refuse_class(class_name: Any, where: str) -> None:
    name = plain(class_name, 40)
    if class_name == "Lambda":
        raise ModelFileError(f"{where} is a Lambda layer: it carries Python code, and the app never runs code from a model file")
    if class_name in MODEL_CLASSES:
        raise ModelFileError(f"{where} is a model nested inside the model; only a flat model can be opened")
    raise ModelFileError(f"{where} is a {name} layer, which the app cannot use (it accepts "
                         "Conv2D, pooling, BatchNormalization, Dropout, activations, Rescaling, Reshape, "
                         "Flatten, global pooling and Dense)")


def _walk(value: Any, where: str) -> None:
    """Refuse any class, module, function or registered name that Keras did not write itself."""
    if isinstance(value, list):
        for item in value:
            _walk(item, where)
        return
    if not isinstance(value, dict):
        return
    module = value.get("module")
    if module is not None and not (isinstance(module, str) and (module == "keras" or module.startswith("keras."))):
        raise ModelFileError(f"{where} refers to code outside Keras (module {plain(module, 40)!r})")
    registered = value.get("registered_name")
    if registered is not None and registered != value.get("class_name"):
        raise ModelFileError(f"{where} refers to a registered custom object ({plain(registered, 40)!r})")
    if "class_name" in value:
        class_name = value["class_name"]
        if class_name in ("__lambda__", "function", "__function__") or "function_type" in value:
            raise ModelFileError(f"{where} carries a Python function; the app never runs code from a model file")
        if class_name not in HELPER_CLASSES | LAYER_CLASSES | MERGE_CLASSES:
            raise ModelFileError(f"{where} refers to an unknown class {plain(class_name, 40)!r}")
    for key, item in value.items():
        if key == "activation" and not isinstance(item, (dict, list)) and item not in ACTIVATIONS:
            raise ModelFileError(f"{where} uses an unknown activation {plain(item, 40)!r}")
        _walk(item, where)


def _parents(layer: dict[str, Any]) -> tuple[str, ...]:
    """Names of the layers feeding `layer` in a functional config (Keras 3 or Keras 2 layout)."""
    found: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            history = value.get("config", {}).get("keras_history") if isinstance(value.get("config"), dict) else None
            if isinstance(history, list) and history and isinstance(history[0], str):
                found.append(history[0])
                return
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            if len(value) >= 3 and isinstance(value[0], str) and isinstance(value[1], int):
                found.append(value[0])  # Keras 2: [name, node, tensor, kwargs]
                return
            for item in value:
                visit(item)

    visit(layer.get("inbound_nodes", []))
    return tuple(dict.fromkeys(found))


def check_config(config: dict[str, Any]) -> tuple[str, list[tuple[str, dict, tuple[str, ...]]], bool]:
    """(model class, [(class, layer config, parents)…], is_chain) after refusing anything unsafe."""
    model_class = config.get("class_name")
    if model_class not in MODEL_CLASSES:
        raise ModelFileError(f"the file holds a {plain(model_class, 40)!r}, not a Keras Sequential or functional model")
    if config.get("registered_name") not in (None, model_class):
        raise ModelFileError(f"the model refers to a registered custom object ({plain(config.get('registered_name'), 40)!r})")
    # compile_config (optimizer, loss, metrics) is never deserialised: files load with compile=False.
    skipped = ("config", "class_name", "registered_name", "compile_config")
    _walk({k: v for k, v in config.items() if k not in skipped}, "the model")
    body = config.get("config")
    if not isinstance(body, dict) or not isinstance(body.get("layers"), list):
        raise ModelFileError("the model configuration lists no layers")
    raw_layers = body["layers"]
    if len(raw_layers) > MAX_LAYERS:
        raise ModelFileError(f"the model has {len(raw_layers)} layers; at most {MAX_LAYERS} are accepted")
    out = []
    for i, layer in enumerate(raw_layers, start=1):
        if not isinstance(layer, dict) or not isinstance(layer.get("config"), dict):
            raise ModelFileError(f"layer {i} of the configuration is malformed")
        class_name = layer.get("class_name")
        name = layer["config"].get("name")
        where = f"layer {i} ({plain(name, 40)!r})"
        if not isinstance(name, str) or not LAYER_NAME.fullmatch(name):
            raise ModelFileError(f"{where} has a name the app does not accept (letters, digits, '_', '-', '.', "
                                 "spaces; at most 80)")
        if class_name not in LAYER_CLASSES | MERGE_CLASSES:
            _refuse_class(class_name, where)
        _walk(layer, where)
        out.append((class_name, layer["config"], _parents(layer) if model_class != "Sequential" else ()))
    top = {k: v for k, v in body.items() if k != "layers"}
    _walk(top, "the model")
    chain = _chain(model_class, out)
    return model_class, out, chain


def _chain(model_class: str, layers: list[tuple[str, dict, tuple[str, ...]]]) -> bool:
    if model_class == "Sequential":
        return True
    previous = None
    for class_name, _config, parents in layers:
        if class_name in MERGE_CLASSES:
            return False
        if previous is not None and parents != (previous,):
            return False
        previous = _config.get("name")
    return True


# --- the whole inspection -------------------------------------------------------------------


def _input_shape(model_class: str, config: dict, layers: list[tuple[str, dict, tuple[str, ...]]]) -> tuple[int, ...]:
    shape = None
    for class_name, layer_config, _ in layers:
        if class_name == "InputLayer":
            shape = layer_config.get("batch_shape") or layer_config.get("batch_input_shape")
            break
    if shape is None and layers:
        first = layers[0][1]
        shape = first.get("batch_shape") or first.get("batch_input_shape")
    if shape is None:
        shape = config.get("config", {}).get("build_input_shape")
    if not isinstance(shape, list) or not shape:
        raise ModelFileError("the model has no input shape (it was never built on an input)")
    try:
        dims = tuple(int(n) for n in shape[1:])
    except (TypeError, ValueError):
        raise ModelFileError(f"the model's input shape {plain(shape, 40)} is not fixed") from None
    if dims not in ACCEPTED_INPUTS:
        raise ModelFileError(f"the model takes {dims} inputs; the app feeds MNIST digits as (28, 28, 1), "
                             "(28, 28) or (784,)" + (" (this looks like a colour 32×32 model, e.g. CIFAR-10)"
                                                     if dims[:2] == (32, 32) else ""))
    return dims


def inspect_model_file(data: bytes, filename: str = "model.keras") -> Inspection:
    """Read and check a model file's configuration as data; raise `ModelFileError` with the reason."""
    if len(data) > MAX_FILE_BYTES:
        raise ModelFileError(f"the file is {len(data) / 2**20:.1f} MB; at most {MAX_FILE_BYTES // 2**20} MB is accepted")
    if len(data) == 0:
        raise ModelFileError("the file is empty")
    if data.startswith(ZIP_SIGNATURE) or data.startswith(b"PK"):
        file_format, config = "keras", read_keras_config(data)
    elif data.startswith(HDF5_SIGNATURE):
        file_format, config = "h5", _h5_config(data)
    else:
        raise ModelFileError("this is neither a .keras archive nor an .h5 file")
    model_class, raw_layers, chain = check_config(config)
    input_shape = _input_shape(model_class, config, raw_layers)
    try:
        described = [describe_layer(cls, cfg, parents) for cls, cfg, parents in raw_layers]
        body = [layer for layer in described if layer.kind != "InputLayer"]
        if not body:
            raise ModelFileError("the model has no layers")
        rows = propagate(described, input_shape)
    except GeometryError as err:
        raise ModelFileError(str(err)) from None
    total = sum(row.params for row in rows)
    if total > MAX_PARAMS:
        raise ModelFileError(f"the model has {total:,} parameters; at most {MAX_PARAMS:,} are accepted")
    if rows[-1].shape != (10,):
        raise ModelFileError(f"the model outputs {rows[-1].shape}; an MNIST classifier outputs 10 numbers")
    return Inspection(sha256(data), str(filename), file_format, model_class, input_shape, tuple(body), tuple(rows),
                      chain, config)


def load_checked(data: bytes, inspection: Inspection) -> Any:
    """The Keras model of an inspected file: `load_model(safe_mode=True, compile=False)`."""
    import keras

    suffix = ".keras" if inspection.file_format == "keras" else ".h5"
    handle, path = tempfile.mkstemp(suffix=suffix, prefix="convnet-import-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        try:
            model = keras.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as err:  # noqa: BLE001 - any failure to load is a bad file
            raise ModelFileError(f"Keras cannot load the model ({type(err).__name__}: {plain(err, 120)})") from None
    finally:
        os.unlink(path)
    if int(model.count_params()) != inspection.params:
        raise ModelFileError(f"the loaded model has {model.count_params():,} parameters, not the "
                             f"{inspection.params:,} its configuration declares")
    return model
