"""A run's trained weights read from its `.keras` archive as numpy arrays, checked against its network.

A `.keras` archive keeps its weights in `model.weights.h5`, one group per layer:
`layers/<layer name>/vars/<i>`. For a run trained here the layers and every array's shape follow
from its `NetworkSpec` (`weight_shapes`), so this module reads exactly those arrays and refuses
anything else: a missing or extra layer, a wrong shape or type, or a weights file larger than the
network needs, or an array whose data lives in another file (HDF5's external and virtual
datasets). Sizes are checked before anything is read into memory: the archive is outside input.

Pure Python, zipfile, h5py and numpy: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

from dashboard.modelfiles.archive import WEIGHTS_NAME, ArchiveError
from dashboard.network.spec import INPUT_CHANNELS, NetworkSpec, chain, layer_infos

# HDF5's own structure (headers, group indexes) on top of the arrays: ~40 KB for the book network.
H5_OVERHEAD_BYTES = 1_000_000
BATCH_NORM_VARS = ("gamma", "beta", "moving_mean", "moving_variance")  # the order Keras keeps them in

Weights = Mapping[str, tuple[np.ndarray, ...]]  # layer name → its arrays, in Keras's order


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


def read_weights(path: str | Path | BinaryIO, spec: NetworkSpec) -> dict[str, tuple[np.ndarray, ...]]:
    """The weights of the network `spec` from the `.keras` archive at `path` (or in a file object); `ArchiveError` if they do not fit.

    Every array comes back float32 and read-only (the arrays are shared, never changed).
    """
    shapes = weight_shapes(spec)
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
            extra = [name for name in layers if name not in shapes and len(layers.get(f"{name}/vars", default={}))]
            if extra:
                raise ArchiveError(f"its {WEIGHTS_NAME} has weights for layers the network does not have: {extra[:3]}")
            return {name: arrays_of(layers, name, expected) for name, expected in shapes.items()}
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
