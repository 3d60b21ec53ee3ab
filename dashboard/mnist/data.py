"""MNIST from the best source available, never a crash.

Sources, in order (`load_mnist("auto")`):
1. the `.npz` named by the `MNIST_NPZ` environment variable,
2. the Keras cache, `~/.keras/datasets/mnist.npz`,
3. a download of the file Keras downloads, when the network allows (at most ~10 s, once per
   process; `MNIST_DOWNLOAD=0` turns it off),
4. the embedded subset that ships in the package: real MNIST, 1,200 training and 200 test
   images per digit (`tools/make_embedded_mnist.py` makes it from the full set).

A missing, corrupt or wrong-shaped file is reported in `MnistData.notes` and the next source
is tried. Imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

EMBEDDED_PATH = Path(__file__).resolve().parent / "assets" / "mnist_subset.npz"
KERAS_CACHE_PATH = Path.home() / ".keras" / "datasets" / "mnist.npz"
KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
DOWNLOAD_SECONDS = 10.0
KEYS = ("x_train", "y_train", "x_test", "y_test")


class DataError(ValueError):
    """A data file that cannot be used as MNIST; the message says why."""


@dataclass(frozen=True, eq=False)
class MnistData:
    """MNIST arrays (uint8 images 28×28, uint8 labels 0–9) and where they came from."""

    x_train: np.ndarray  # (n_train, 28, 28) uint8
    y_train: np.ndarray  # (n_train,) uint8
    x_test: np.ndarray  # (n_test, 28, 28) uint8
    y_test: np.ndarray  # (n_test,) uint8
    source: str  # "MNIST_NPZ", "keras-cache", "download", "embedded" or "file"
    path: str
    notes: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        """What a person reads: source, size and place."""
        names = {
            "MNIST_NPZ": "MNIST_NPZ file",
            "keras-cache": "Keras cache",
            "download": "Keras download",
            "embedded": "embedded subset",
            "file": "file",
        }
        size = f"{len(self.x_train):,} train + {len(self.x_test):,} test images"
        return f"{names.get(self.source, self.source)} ({size})"

    @property
    def is_full(self) -> bool:
        """True for the complete 60,000 + 10,000 MNIST."""
        return len(self.x_train) == 60_000 and len(self.x_test) == 10_000

    @cached_property
    def fingerprint(self) -> str:
        """Hash of the arrays' contents: the same images give the same value from any file."""
        digest = hashlib.sha256()
        for key in KEYS:
            array = np.ascontiguousarray(getattr(self, key))
            digest.update(f"{key}{array.shape}{array.dtype.str}".encode())
            digest.update(array.data)
        return digest.hexdigest()[:16]


def read_npz(path: str | os.PathLike, source: str = "file") -> MnistData:
    """Load and check one `.npz` in the `keras.datasets.mnist.load_data()` layout."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in KEYS if key not in npz.files]
            if missing:
                raise DataError(f"{path}: missing array(s) {', '.join(missing)}")
            arrays = {key: npz[key] for key in KEYS}
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: not a readable .npz file ({err})") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) == 0:
            raise DataError(f"{path}: x_{split} has shape {x.shape}, expected (n, 28, 28)")
        if y.shape != (len(x),):
            raise DataError(f"{path}: y_{split} has shape {y.shape}, expected ({len(x)},)")
        if not np.issubdtype(x.dtype, np.integer) or x.min() < 0 or x.max() > 255:
            raise DataError(f"{path}: x_{split} must hold whole numbers 0..255")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() > 9:
            raise DataError(f"{path}: y_{split} must hold labels 0..9")
    arrays = {key: value.astype(np.uint8, copy=False) for key, value in arrays.items()}
    return MnistData(**arrays, source=source, path=str(path))


_download_lock = threading.Lock()
_download_tried = False


def download_keras_mnist(dest: Path = KERAS_CACHE_PATH, seconds: float = DOWNLOAD_SECONDS) -> Path:
    """Fetch the file Keras downloads into the Keras cache, within `seconds`, checked by hash."""
    deadline = time.monotonic() + seconds
    digest = hashlib.sha256()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(KERAS_URL, timeout=seconds / 2) as response:
            while chunk := response.read(1 << 16):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"download took longer than {seconds:.0f} s")
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != KERAS_SHA256:
            raise DataError("downloaded file does not match the Keras checksum")
        os.replace(tmp, dest)
        return dest
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _try_download_once(notes: list[str]) -> MnistData | None:
    global _download_tried
    if os.environ.get("MNIST_DOWNLOAD", "1") == "0":
        return None
    with _download_lock:
        if _download_tried:
            return None
        _download_tried = True
    # A thread bounds the whole attempt, name lookup included (socket timeouts do not cover
    # DNS). If it is still running at the deadline it finishes in the background and its file
    # is in the Keras cache for the next start.
    outcome: list[BaseException | Path] = []
    worker = threading.Thread(
        target=lambda: outcome.append(_capture(download_keras_mnist)), name="mnist-download", daemon=True
    )
    worker.start()
    worker.join(DOWNLOAD_SECONDS + 1)
    if not outcome:
        notes.append(download_failed_note(None))
        return None
    if isinstance(outcome[0], BaseException):
        notes.append(download_failed_note(outcome[0]))
        return None
    return read_npz(outcome[0], source="download")


def download_failed_note(err: BaseException | None) -> str:
    """Why the download of MNIST failed, in plain words (None: no answer in time); the app goes on with
    the embedded subset. A network error says "no network", never the exception's own text."""
    if err is None:
        why = f"no answer within {DOWNLOAD_SECONDS:.0f} s"
    elif isinstance(err, (OSError, EOFError)):  # URLError, socket errors and timeouts are OSErrors
        why = "no network"
    else:
        why = f"the downloaded file could not be read: {type(err).__name__}"
    return f"MNIST could not be downloaded ({why}): using the embedded subset"


def _capture(fn):  # the result, or the exception it raised
    try:
        return fn()
    except Exception as err:  # noqa: BLE001 - any failure means "use the next source"
        return err


def load_mnist(source: str = "auto") -> MnistData:
    """MNIST from `source`: "auto" (the order above), "embedded", or a path to an `.npz`."""
    if source == "embedded":
        return read_npz(EMBEDDED_PATH, source="embedded")
    if source != "auto":
        return read_npz(source, source="file")

    notes: list[str] = []
    candidates = []
    env_path = os.environ.get("MNIST_NPZ")
    if env_path:
        candidates.append((Path(env_path).expanduser(), "MNIST_NPZ"))
    candidates.append((KERAS_CACHE_PATH, "keras-cache"))
    for path, name in candidates:
        if name == "keras-cache" and not path.exists():
            continue
        try:
            return _with_notes(read_npz(path, source=name), notes)
        except DataError as err:
            notes.append(f"skipped {name}: {err}")
    try:
        downloaded = _try_download_once(notes)
        if downloaded is not None:
            return _with_notes(downloaded, notes)
    except DataError as err:
        notes.append(f"skipped download: {err}")
    return _with_notes(read_npz(EMBEDDED_PATH, source="embedded"), notes)


def _with_notes(data: MnistData, notes: list[str]) -> MnistData:
    return MnistData(
        data.x_train, data.y_train, data.x_test, data.y_test, data.source, data.path, tuple(notes)
    )


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 images (n, 28, 28) or (28, 28) → float32 (n, 28, 28, 1) in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    return (images.astype(np.float32) / 255.0)[..., None]
