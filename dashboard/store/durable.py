"""Durable writes of the model cache: fsynced files, Keras models saved without optimizer state, and
temp directories named after their writer, so a stale one can be told from a live one.

A write goes to `<root>/.tmp-<pid>.<host>.<rand>-<what>/` and is renamed into place when
complete. A process killed during a save leaves its temp directory behind. One is *stale*, and
may be removed, when its writer is gone (same host, and no process with its pid) or when it is
older than `STALE_SECONDS` (a save takes seconds, so an old one is a leftover even if its pid
now belongs to another process). A temp directory of a live writer on this host, or a recent
one from another host sharing the disk, is left alone. Temp directories of older versions
(`.tmp-<key>-<rand>`, no pid) are judged by age alone.

Pure Python.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import Any

PREFIX = ".tmp-"
STALE_SECONDS = 3600.0
_NAME = re.compile(r"^\.tmp-(?P<pid>\d{1,10})\.(?P<host>[0-9a-f]{8})\.[0-9a-f]{8}-")


def host_tag() -> str:
    """8 hex digits naming this host (a hash: host names may hold any character)."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def name_for(what: str) -> str:
    """A fresh temp directory name for `what`, carrying this process's pid and host."""
    return f"{PREFIX}{os.getpid()}.{host_tag()}.{uuid.uuid4().hex[:8]}-{what}"


def make(root: Path, what: str) -> Path:
    """Create and return a new temp directory in `root`."""
    path = root / name_for(what)
    path.mkdir()
    return path


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists on this host (ours included)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid > 0  # exists, but belongs to another user (or cannot be asked): assume alive
    except OSError:
        return True
    return True


def is_stale(path: Path, now: float | None = None) -> bool:
    """True if the temp dir's writer is gone or it is older than `STALE_SECONDS`."""
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except OSError:
        return False  # vanished: nothing to do
    if age > STALE_SECONDS:
        return True
    match = _NAME.match(path.name)
    if match is None or match["host"] != host_tag():
        return False  # an old-style name or another host: only age can tell
    return not pid_alive(int(match["pid"]))


def list_temp(root: Path) -> list[Path]:
    """Every temp directory in `root`."""
    try:
        return [p for p in root.iterdir() if p.name.startswith(PREFIX) and p.is_dir()]
    except OSError:
        return []


def remove_stale(root: Path) -> list[str]:
    """Remove the stale temp directories in `root`; return the names actually removed."""
    removed = []
    for path in list_temp(root):
        if is_stale(path):
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                removed.append(path.name)
    return removed


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (a rename into it) to disk; best effort."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` and fsync it."""
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def dir_bytes(path: Path) -> int:
    """Bytes of the files under `path` (files that vanish meanwhile count 0)."""
    total = 0
    for item in path.rglob("*"):
        try:
            if item.is_file():
                total += item.stat().st_size
        except OSError:
            pass
    return total


def model_file_bytes(model: Any) -> bytes:
    """The `.keras` file of `model` as the cache stores it (weights and architecture only), as bytes."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="convnet-model-") as tmp:
        path = Path(tmp) / "model.keras"
        save_model(model, path)
        return path.read_bytes()


def save_model(model: Any, path: Path) -> None:
    """Save weights and architecture only (no optimizer state: half the size), fsynced."""
    # A model rebuilt from its config is uncompiled: no optimizer variables in the file.
    clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    clone.save(path)
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
