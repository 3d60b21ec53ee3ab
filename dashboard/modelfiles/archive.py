"""A `.keras` archive read as data: its configuration is bounded, parsed and checked before Keras sees it.

A `.keras` file is a zip holding `config.json` (the architecture), `model.weights.h5` and
`metadata.json`. Keras deserialises whatever classes `config.json` names; so before any
`keras.saving.load_model` this module opens the zip, bounds and parses `config.json` as plain
JSON, and refuses, by name, a `Lambda` layer, a custom or registered class, anything from a
module outside Keras, and any layer class not in the allowed set: what `build_model` writes for
a run trained here, what `dashboard.modelfiles.modelfile` accepts for an imported run. Loading then still
uses `safe_mode=True`.

Pure Python (zipfile and JSON): imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from dashboard.outside import OutsideInputError, loads_json

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.weights.h5"
MAX_CONFIG_BYTES = 2_000_000  # the book network's config is ~6 KB
MAX_CONFIG_DEPTH = 40
MAX_ARCHIVE_MEMBERS = 16
MAX_LAYERS = 200

# What `dashboard.training.model.build_model` writes: a cached run the app trained holds only these.
APP_MODEL_CLASSES = frozenset({"Sequential"})
APP_LAYER_CLASSES = frozenset({"InputLayer", "Conv2D", "MaxPooling2D", "AveragePooling2D", "BatchNormalization",
                               "Flatten", "GlobalAveragePooling2D", "Dense", "Dropout"})
# Classes that carry code: refused by name wherever they appear.
CODE_CLASSES = frozenset({"Lambda", "TFOpLambda", "SlicingOpLambda", "function", "__lambda__"})


class ArchiveError(ValueError):
    """A model archive that must not be loaded; the message says why, naming the first problem."""


def read_config(path: str | Path) -> dict[str, Any]:
    """The archive's `config.json` as a dict; raise `ArchiveError` if the zip or the config is unusable."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ARCHIVE_MEMBERS:
                raise ArchiveError(f"the archive holds {len(infos)} files; a Keras model holds 3")
            names = {info.filename: info for info in infos}
            info = names.get(CONFIG_NAME)
            if info is None:
                raise ArchiveError("the archive holds no model configuration (config.json)")
            if WEIGHTS_NAME not in names:
                raise ArchiveError(f"the archive holds no weights ({WEIGHTS_NAME})")
            if info.file_size > MAX_CONFIG_BYTES:
                raise ArchiveError(f"its config.json is too large ({info.file_size:,} bytes)")
            raw = archive.read(info)
    except ArchiveError:
        raise
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as err:
        raise ArchiveError(f"it is truncated or corrupt, or not a zip archive ({str(err)[:120]})") from None
    try:
        config = loads_json(raw, max_chars=MAX_CONFIG_BYTES, max_depth=MAX_CONFIG_DEPTH, what="its config.json")
    except OutsideInputError as err:
        raise ArchiveError(str(err)) from None
    if not isinstance(config, dict):
        raise ArchiveError("its config.json is not a model configuration (not a JSON object)")
    return config


def _nested_objects(value: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    """Every serialised Keras object (a dict with 'class_name') inside `value`, with a path for messages."""
    found: list[tuple[str, dict[str, Any]]] = []
    stack = [(where, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            if "class_name" in item:
                found.append((path, item))
            stack.extend((f"{path}.{k}", v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(item))
    return found


def object_problem(obj: dict[str, Any]) -> str | None:
    """Why one serialised object must not be deserialised, or None if it is a plain Keras one."""
    name = obj.get("class_name")
    shown = str(name)[:40]
    if not isinstance(name, str):
        return "an object without a class name"
    if name in CODE_CLASSES:
        return f"a {shown} layer (it carries Python code)"
    module = obj.get("module")
    if module is not None and (not isinstance(module, str) or not (module == "keras" or module.startswith("keras."))):
        return f"the class {shown} from outside Keras (module {str(module)[:40]!r})"
    if obj.get("registered_name") not in (None, name):
        return f"the custom class {str(obj.get('registered_name'))[:40]!r}"
    return None


def layer_classes(config: dict[str, Any]) -> list[str]:
    """Class names of the model's layers, in order (raise `ArchiveError` if the layout is not a model's)."""
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(layers, list) or not layers:
        raise ArchiveError("its config.json describes no layers")
    if len(layers) > MAX_LAYERS:
        raise ArchiveError(f"its model has {len(layers)} layers; at most {MAX_LAYERS} are read")
    names = []
    for layer in layers:
        if not isinstance(layer, dict) or not isinstance(layer.get("class_name"), str):
            raise ArchiveError("its config.json has a layer without a class name")
        names.append(layer["class_name"])
    return names


def check_config(config: dict[str, Any], model_classes: frozenset[str] = APP_MODEL_CLASSES,
                 layer_classes_allowed: frozenset[str] = APP_LAYER_CLASSES) -> None:
    """Raise `ArchiveError` naming the first thing in `config` that must not reach Keras."""
    for where, obj in _nested_objects(config, "model"):
        problem = object_problem(obj)
        if problem is not None:
            raise ArchiveError(f"its configuration holds {problem} at {where[:80]}")
    top = config.get("class_name")
    if top not in model_classes:
        raise ArchiveError(f"it holds a {str(top)[:40]} model, not one of {', '.join(sorted(model_classes))}")
    for index, name in enumerate(layer_classes(config)):
        if name not in layer_classes_allowed:
            raise ArchiveError(f"its layer {index} is a {name[:40]}, which this app does not use")


def inspect_archive(path: str | Path, imported: bool = False) -> dict[str, Any]:
    """Read and check an archive's configuration; return it.

    A run trained here may hold only what `build_model` writes. An imported run is held to the
    rules its upload passed (`dashboard.modelfiles.modelfile.check_config`: the same allowed classes, helper
    classes and refusals), so a file swapped in the cache is refused as an upload would be.
    """
    config = read_config(path)
    if not imported:
        check_config(config)
        return config
    from dashboard.modelfiles.modelfile import ModelFileError
    from dashboard.modelfiles.modelfile import check_config as check_imported

    try:
        check_imported(config)
    except ModelFileError as err:
        raise ArchiveError(str(err)) from None
    return config
