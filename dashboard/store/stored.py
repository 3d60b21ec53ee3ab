"""Results kept beside a run: computed once per run and test set, read back as plain arrays.

A page's first look at a run used to cost seconds of server CPU, on every server and after
every restart: 10,000 test predictions for Compare; 2,000 final maps, a PCA and ablations for
Inside; a search of 5,000 test images and a gradient ascent for Channels. Each such result is
now stored once, as an `.npz` of plain arrays, in the run's directory (`dashboard.store.cache` says
where a shipped run's go):

    <entry>/results/<kind>[-<part>…].<data fingerprint>.v<VERSION>.npz

The data's fingerprint is in the name, so a result is only ever read back for the test set it
was computed on. A result file is outside input like any file: it is read only up to
`MAX_FILE_BYTES`; its members' count, unpacked sizes and `.npy` headers are checked before
numpy allocates anything (a header may declare any shape); it is loaded with
`allow_pickle=False`; its names, dtypes and ranks are checked against what the reader expects.
Anything off reads as absent, and the result is computed again (and rewritten). Writes are
atomic (a temp file, fsynced, renamed); a killed write's temp file is removed by a later write.
Shipped runs carry theirs for full MNIST (`tools/make_shipped_results.py`).

Pure numpy and files; what each kind holds is `dashboard.inspection.results`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
import uuid
import zipfile
from pathlib import Path

import numpy as np

from dashboard.store import durable

VERSION = 1
RESULTS_DIR = "results"
MAX_FILE_BYTES = 4 << 20  # the largest result (an atlas of 256 channels) is well under 1 MB
MAX_UNPACKED_BYTES = 32 << 20
MAX_ARRAYS = 16
_PART = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}\.npz$")

Schema = dict[str, tuple[str, int]]  # array name -> (allowed dtype kinds, e.g. "iu" or "f", ndim)


def result_name(kind: str, data_fingerprint: str, *parts: str) -> str:
    """File name of result `kind` (with `parts`, e.g. a layer name) on the test set `data_fingerprint`."""
    for part in (kind, data_fingerprint, *parts):
        if not _PART.match(part):
            raise ValueError(f"not a result name part: {part[:40]!r}")
    return f"{'-'.join((kind, *parts))}.{data_fingerprint}.v{VERSION}.npz"


def pack(arrays: dict[str, np.ndarray]) -> bytes:
    """The arrays as the bytes of a compressed `.npz`."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{name: np.asarray(value) for name, value in arrays.items()})
    return buffer.getvalue()


def unpack(data: bytes, schema: Schema) -> dict[str, np.ndarray] | None:
    """The arrays of an `.npz` if it holds exactly `schema`'s names, dtype kinds and ranks; else None."""
    if len(data) > MAX_FILE_BYTES:
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if (len(infos) > MAX_ARRAYS or sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES
                    or not all(_header_fits(archive, info) for info in infos)):
                return None
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if set(npz.files) != set(schema):
                return None
            arrays = {name: npz[name] for name in schema}
    except (OSError, ValueError, EOFError, KeyError, MemoryError, zipfile.BadZipFile, zipfile.LargeZipFile,
            NotImplementedError):
        return None
    for name, (kinds, ndim) in schema.items():
        if arrays[name].dtype.kind not in kinds or arrays[name].ndim != ndim:
            return None
    return arrays


def _header_fits(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether a member's `.npy` header declares a plain array no larger than the member itself:
    numpy allocates what the header says before it reads the data."""
    with archive.open(info) as member:
        major, _ = np.lib.format.read_magic(member)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(member)
    return not dtype.hasobject and int(np.prod(shape, dtype=np.int64)) * dtype.itemsize <= info.file_size


def read(entry: Path, name: str) -> bytes | None:
    """The bytes of result `name` in run directory `entry`, or None (absent, unreadable or too big)."""
    if not _NAME.match(name):
        return None
    try:
        with open(entry / RESULTS_DIR / name, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= MAX_FILE_BYTES else None


def write(entry: Path, name: str, data: bytes) -> bool:
    """Store result `name` in run directory `entry` atomically; False if it cannot be written."""
    if not _NAME.match(name) or len(data) > MAX_FILE_BYTES or not entry.is_dir():
        return False
    folder = entry / RESULTS_DIR
    tmp = folder / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir(exist_ok=True)
        durable.write_file(tmp, data)
        os.replace(tmp, folder / name)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return False
    _remove_stale_temps(folder)
    return True


def _remove_stale_temps(folder: Path, now: float | None = None) -> None:
    """Delete temp files of writes killed midway (older than the cache's `STALE_SECONDS`: a write takes milliseconds)."""
    now = time.time() if now is None else now
    with contextlib.suppress(OSError):
        for path in folder.glob(".tmp-*"):
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > durable.STALE_SECONDS:
                    path.unlink()
