"""A run's trained weights read from its `.keras` archive as numpy arrays, checked against its network.

A `.keras` archive keeps its weights in `model.weights.h5`, one group per layer:
`layers/<path>/vars/<i>`, where Keras names the path after the layer's class, counted per class in
the model's order (`conv2d`, `conv2d_1`, …: `archive_paths`), not after the layer's own name. For a
run trained here the layers and every array's shape follow from its `NetworkSpec` (`weight_shapes`;
`build_model` names its layers as those paths); for an imported chain from its layers' Keras
configurations (`chain_weight_shapes`). This module reads exactly those arrays and refuses
anything else: a missing or extra layer, a wrong shape or type, or a weights file larger than the
network needs, or an array whose data lives in another file (HDF5's external and virtual
datasets). Sizes are checked before anything is read into memory: the archive is outside input.

Pure Python, zipfile, h5py and numpy: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from dashboard.modelfiles.archive import WEIGHTS_NAME, ArchiveError
from dashboard.network.keras_layers import KerasLayer, propagate
from dashboard.network.spec import INPUT_CHANNELS, NetworkSpec, chain, layer_infos

# HDF5's own structure (headers, group indexes) on top of the arrays: ~40 KB for the book network.
H5_OVERHEAD_BYTES = 1_000_000
BATCH_NORM_VARS = ("gamma", "beta", "moving_mean", "moving_variance")  # the order Keras keeps them in

Weights = Mapping[str, tuple[np.ndarray, ...]]  # layer name → its arrays, in Keras's order
Shapes = dict[str, tuple[tuple[int, ...], ...]]  # layer name → the shapes of its arrays


def weight_shapes(spec: NetworkSpec) -> dict[str, tuple[tuple[int, ...], ...]]:
    """Every layer with weights (name → the shapes of its arrays, in Keras's order); others are absent."""
    shapes: dict[str, tuple[tuple[int, ...], ...]] = {}
    inputs = INPUT_CHANNELS  # the last axis of the layer's input
    for layer, info in zip(chain(spec), layer_infos(spec)):
        if layer.kind == "Conv2D":
            shapes[layer.name] = ((*layer.kernel_size, inputs, layer.filters), (layer.filters,))
        elif layer.kind == "BatchNormalization":
            shapes[layer.name] = ((inputs,),) * len(BATCH_NORM_VARS)
        elif layer.kind == "Dense":
            shapes[layer.name] = ((inputs, layer.units), (layer.units,))
        inputs = info.output_shape[-1]
    return shapes


def chain_weight_shapes(layers: Sequence[KerasLayer], input_shape: tuple[int, ...]) -> Shapes:
    """Every layer of a chain with weights (name → the shapes of its arrays, in Keras's order), from the
    layers' Keras configurations; `GeometryError` if the chain does not fit together."""
    body = [layer for layer in layers if layer.kind != "InputLayer"]
    shapes: Shapes = {}
    inputs = tuple(input_shape)  # the layer's input, without the batch axis
    for layer, row in zip(body, propagate(list(body), inputs)):
        c, last = layer.config, int(inputs[-1])
        bias = bool(c.get("use_bias", True))
        if layer.kind == "Conv2D":
            kernel = c["kernel_size"] if isinstance(c["kernel_size"], list) else [c["kernel_size"]] * 2
            filters = int(c["filters"])
            shapes[layer.name] = ((*map(int, kernel), last // int(c.get("groups", 1)), filters),) + ((filters,),) * bias
        elif layer.kind == "Dense":
            units = int(c["units"])
            shapes[layer.name] = ((last, units),) + ((units,),) * bias
        elif layer.kind == "BatchNormalization":
            count = int(bool(c.get("scale", True))) + int(bool(c.get("center", True))) + 2
            shapes[layer.name] = ((last,),) * count
        inputs = row.shape
    return shapes


def _snake_case(name: str) -> str:
    """A class name as Keras writes it in a weights path (`keras.src.utils.naming.to_snake_case`)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def archive_paths(layers: Sequence[KerasLayer]) -> dict[str, str]:
    """Layer name → its group under `layers/` in the weights file: the class in snake case, counted per class."""
    counts: dict[str, int] = {}
    paths = {}
    for layer in layers:
        base = _snake_case(layer.kind)
        n = counts.get(base, -1) + 1
        counts[base] = n
        paths[layer.name] = base if n == 0 else f"{base}_{n}"
    return paths


def read_weights(path: str | Path | BinaryIO, spec: NetworkSpec) -> dict[str, tuple[np.ndarray, ...]]:
    """The weights of the network `spec` from the `.keras` archive at `path` (or in a file object); `ArchiveError` if they do not fit.

    Every array comes back float32 and read-only (the arrays are shared, never changed).
    """
    shapes = weight_shapes(spec)
    return read_arrays(path, shapes, {name: name for name in shapes})


def read_chain_weights(path: str | Path | BinaryIO, layers: Sequence[KerasLayer],
                       input_shape: tuple[int, ...]) -> dict[str, tuple[np.ndarray, ...]]:
    """The weights of a chain of Keras layers (an imported model's, read from its `config.json`) from the
    archive at `path`, by layer name; `ArchiveError` if they do not fit."""
    paths = archive_paths(layers)
    shapes = chain_weight_shapes(layers, input_shape)
    return read_arrays(path, shapes, {name: paths[name] for name in shapes})


def read_arrays(path: str | Path | BinaryIO, shapes: Shapes, paths: Mapping[str, str]) -> dict[str, tuple[np.ndarray, ...]]:
    """The arrays of `shapes` (layer name → shapes) read from the groups `paths` (layer name → group) of the
    archive's weights file; `ArchiveError` if any is missing, extra or of another shape or type."""
    needed = sum(4 * int(np.prod(shape)) for arrays in shapes.values() for shape in arrays)
    raw = _weights_bytes(path, needed + H5_OVERHEAD_BYTES)
    import h5py  # ~0.2 s to import, once: only readers of weights pay it

    def arrays_of(layers: h5py.Group, name: str, expected: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, ...]:
        variables = layers.get(f"{name}/vars")
        found = len(variables) if isinstance(variables, h5py.Group) else 0
        if found != len(expected):
            raise ArchiveError(f"layer {name} has {found} weight arrays where the network has {len(expected)}")
        arrays = []
        for index, shape in enumerate(expected):
            dataset = variables.get(str(index))
            if not isinstance(dataset, h5py.Dataset) or dataset.shape != shape or dataset.dtype != np.float32:
                what = f"{dataset.shape} {dataset.dtype}" if isinstance(dataset, h5py.Dataset) else "missing"
                raise ArchiveError(f"layer {name}'s weights {index} are {what}, not {shape} float32")
            if dataset.external or dataset.is_virtual:  # data kept in other files: never read those
                raise ArchiveError(f"layer {name}'s weights {index} point to data outside the archive")
            array = dataset[()]  # its size is known now: `shape`, float32
            array.flags.writeable = False  # shared by every session
            arrays.append(array)
        return tuple(arrays)

    try:
        with h5py.File(io.BytesIO(raw), "r") as h5:
            layers = h5.get("layers")
            if not isinstance(layers, h5py.Group):
                raise ArchiveError(f"its {WEIGHTS_NAME} holds no layers")
            wanted = set(paths.values())
            extra = [name for name in layers if name not in wanted and len(layers.get(f"{name}/vars", default={}))]
            if extra:
                raise ArchiveError(f"its {WEIGHTS_NAME} has weights for layers the network does not have: {extra[:3]}")
            return {name: arrays_of(layers, paths[name], expected) for name, expected in shapes.items()}
    except ArchiveError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as err:  # h5py's errors for a damaged file
        raise ArchiveError(f"its {WEIGHTS_NAME} cannot be read ({type(err).__name__}: {str(err)[:120]})") from None


def _weights_bytes(path: str | Path | BinaryIO, limit: int) -> bytes:
    """The archive's weights file, refused unread if it unpacks to more than `limit` bytes."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(WEIGHTS_NAME)
            if info.file_size > limit:
                raise ArchiveError(f"its {WEIGHTS_NAME} is {info.file_size:,} bytes, more than the network needs")
            with archive.open(info) as member:
                raw = member.read(limit + 1)
    except ArchiveError:
        raise
    except KeyError:
        raise ArchiveError(f"the archive holds no weights ({WEIGHTS_NAME})") from None
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as err:
        raise ArchiveError(f"it is truncated or corrupt, or not a zip archive ({str(err)[:120]})") from None
    if len(raw) > limit:
        raise ArchiveError(f"its {WEIGHTS_NAME} unpacks to more than the network needs")
    return raw
