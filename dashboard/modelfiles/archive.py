"""A run's `.keras` archive in the cache, checked before Keras sees it.

A `.keras` file is a zip holding `config.json` (the architecture), `model.weights.h5` and
`metadata.json`. Keras deserialises whatever classes `config.json` names, so before any
`keras.saving.load_model` the configuration is read as bounded JSON by the one reader of the
format (`dashboard.modelfiles.modelfile.read_keras_config`) and checked by the same rules as an
upload (`modelfile.check_config`: no `Lambda`, no custom, registered or outside-Keras class). A
run trained here is held, in addition, to exactly what `build_model` writes. Loading then still
uses `safe_mode=True`.

Pure Python (zipfile and JSON): imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dashboard.modelfiles.modelfile import ModelFileError, read_keras_config
from dashboard.modelfiles.modelfile import check_config as check_upload

WEIGHTS_NAME = "model.weights.h5"

# What `dashboard.training.model.build_model` writes: a cached run the app trained holds only these.
APP_MODEL_CLASSES = frozenset({"Sequential"})
APP_LAYER_CLASSES = frozenset({"InputLayer", "Conv2D", "MaxPooling2D", "AveragePooling2D", "BatchNormalization",
                               "Flatten", "GlobalAveragePooling2D", "Dense", "Dropout"})


class ArchiveError(ValueError):
    """A model archive that must not be loaded; the message says why, naming the first problem."""


def read_config(path: str | Path) -> dict[str, Any]:
    """The archive's `config.json` as a dict; raise `ArchiveError` if the zip or the config is unusable."""
    try:
        return read_keras_config(Path(path), check_weights=False)
    except ModelFileError as err:
        raise ArchiveError(str(err)) from None


def check_config(config: dict[str, Any], model_classes: frozenset[str] = APP_MODEL_CLASSES,
                 layer_classes_allowed: frozenset[str] = APP_LAYER_CLASSES) -> None:
    """Raise `ArchiveError` naming the first thing in `config` that must not reach Keras, or that the app does not write."""
    try:
        model_class, layers, _ = check_upload(config)
    except ModelFileError as err:
        raise ArchiveError(str(err)) from None
    if model_class not in model_classes:
        raise ArchiveError(f"it holds a {model_class} model, not one of {', '.join(sorted(model_classes))}")
    for index, (name, _, _) in enumerate(layers):
        if name not in layer_classes_allowed:
            raise ArchiveError(f"its layer {index} is a {name}, which this app does not use")


def inspect_archive(path: str | Path, imported: bool = False) -> dict[str, Any]:
    """Read and check an archive's configuration; return it.

    A run trained here may hold only what `build_model` writes; an imported run is held to the
    rules its upload passed, so a file swapped in the cache is refused as an upload would be.
    """
    config = read_config(path)
    try:
        if imported:
            check_upload(config)
        else:
            check_config(config)
    except ModelFileError as err:
        raise ArchiveError(str(err)) from None
    return config
