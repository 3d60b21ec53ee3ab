"""Get a trained run from the cache, or train it once: however many sessions ask at the same time.

`get_or_train` is what pages and the command line call. Within one server process a lock per
run key makes a second request for the same run wait for the first and then read its result;
a semaphore caps how many trainings run at once (default 1, `MAX_CONCURRENT_TRAININGS`).
Across processes (two servers, or the CLI beside the app) a `filelock` per key keeps the same
promise. While waiting, `on_queued(message)` is called about once a second, so a page can say
that the user is queued (and Streamlit can stop a waiting script).

No Streamlit here.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dashboard.cache import ModelCache, RunRecord, library_versions, now_iso
from dashboard.data import MnistData, to_model_input
from dashboard.spec import NetworkSpec, final_map, validate
from dashboard.training import BatchProgress, EpochProgress, TrainResult, TrainSettings, train

WAIT_POLL_SECONDS = 1.0  # how often a waiting request calls `on_queued`
DEFAULT_CONCURRENT = 1


def _max_concurrent() -> int:
    try:
        return max(1, int(os.environ.get("MAX_CONCURRENT_TRAININGS", DEFAULT_CONCURRENT)))
    except ValueError:
        return DEFAULT_CONCURRENT


class _Gate:
    """A counting semaphore that also knows how many requests wait at it."""

    def __init__(self, slots: int):
        self.slots = slots
        self._cond = threading.Condition()
        self._busy = 0
        self._waiting = 0

    def acquire(self, on_wait: Callable[[int, float], None] | None) -> None:
        start = time.monotonic()
        with self._cond:
            if self._busy < self.slots:
                self._busy += 1
                return
            self._waiting += 1
            position = self._waiting
        try:
            while True:
                if on_wait is not None:
                    on_wait(position, time.monotonic() - start)  # may raise (Streamlit's Stop)
                with self._cond:
                    if self._busy < self.slots:
                        self._busy += 1
                        return
                    self._cond.wait(WAIT_POLL_SECONDS)
                    if self._busy < self.slots:
                        self._busy += 1
                        return
        finally:
            with self._cond:
                self._waiting -= 1

    def release(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify()

    @property
    def busy(self) -> int:
        return self._busy

    @property
    def waiting(self) -> int:
        return self._waiting


_gate = _Gate(_max_concurrent())
_key_locks: dict[str, threading.Lock] = {}
_key_locks_guard = threading.Lock()


def set_max_concurrent(slots: int) -> None:
    """Change how many trainings may run at once in this process (tests and the CLI use it)."""
    global _gate
    _gate = _Gate(max(1, int(slots)))


def trainings_running() -> int:
    """Trainings running now in this process."""
    return _gate.busy


def _key_lock(key: str) -> threading.Lock:
    with _key_locks_guard:
        return _key_locks.setdefault(key, threading.Lock())


def _acquire_polling(lock: threading.Lock, on_wait: Callable[[float], None] | None) -> None:
    start = time.monotonic()
    if lock.acquire(blocking=False):
        return
    while True:
        if on_wait is not None:
            on_wait(time.monotonic() - start)  # may raise (Streamlit's Stop): nothing held yet
        if lock.acquire(timeout=WAIT_POLL_SECONDS):
            return


def make_record(key: str, spec: NetworkSpec, settings: TrainSettings, data: MnistData, result: TrainResult) -> RunRecord:
    """The cache record of a finished training."""
    return RunRecord(
        key=key,
        spec=spec.to_dict(),
        settings=settings.to_dict(),
        history={k: [float(x) for x in v] for k, v in result.history.items()},
        test_accuracy=float(result.test_accuracy),
        params=int(result.model.count_params()),
        final_map=final_map(spec),
        train_seconds=round(float(result.train_seconds), 3),
        data_source=data.source,
        data_label=data.label,
        data_fingerprint=data.fingerprint,
        versions=library_versions(),
        created=now_iso(),
        shipped=False,
    )


def get_or_train(
    spec: NetworkSpec,
    settings: TrainSettings,
    data: MnistData,
    cache: ModelCache,
    on_batch: Callable[[BatchProgress], None] | None = None,
    on_epoch: Callable[[EpochProgress], None] | None = None,
    on_queued: Callable[[str], None] | None = None,
) -> tuple[RunRecord, bool]:
    """(record, cache_hit): the cached run, or a fresh training stored atomically in `cache`.

    A damaged entry is set aside by the cache (its message in `cache.take_problems()`) and
    trained again. Exceptions from the callbacks (Stop) end the training with nothing stored.
    """
    validate(spec)
    key = cache.key(spec, settings, data.fingerprint)
    record = cache.get(key)
    if record is not None:
        return record, True

    def same_run(waited: float) -> None:
        if on_queued is not None:
            on_queued(f"Another session is training this very run; waiting for its result ({waited:.0f} s)…")

    lock = _key_lock(key)
    _acquire_polling(lock, same_run)
    try:
        record = cache.get(key)  # the session we waited for has stored it
        if record is not None:
            return record, True

        def busy(position: int, waited: float) -> None:
            if on_queued is not None:
                ahead = _gate.busy
                on_queued(
                    f"Queued: {ahead} training{'s' if ahead != 1 else ''} running on this server "
                    f"(at most {_gate.slots} at once); you are number {position} in line ({waited:.0f} s)…"
                )

        _gate.acquire(busy)
        try:
            with _file_lock(cache, key, same_run):
                record = cache.get(key)  # another process may have stored it meanwhile
                if record is not None:
                    return record, True
                result = train(spec, settings, data, on_batch=on_batch, on_epoch=on_epoch)
                record = make_record(key, spec, settings, data, result)
                cache.put(record, result.model)
                return record, False
        finally:
            _gate.release()
    finally:
        lock.release()


class _file_lock:
    """Cross-process lock on one key, polled so that a waiting caller can be told (and stopped)."""

    def __init__(self, cache: ModelCache, key: str, on_wait: Callable[[float], None]):
        self.cache, self.key, self.on_wait = cache, key, on_wait
        self.lock = None

    def __enter__(self) -> _file_lock:
        try:
            from filelock import FileLock, Timeout
        except ImportError:  # optional: threads are still serialised by the key lock
            return self
        try:
            self.lock = FileLock(str(self.cache.lock_path(self.key)))
        except OSError:
            return self  # read-only root: put() will fail with a clear error later
        start = time.monotonic()
        while True:
            try:
                self.lock.acquire(timeout=WAIT_POLL_SECONDS)
                return self
            except Timeout:
                self.on_wait(time.monotonic() - start)
            except OSError:
                self.lock = None
                return self

    def __exit__(self, *exc: object) -> None:
        if self.lock is not None:
            self.lock.release()


# --- evaluating a trained run ---------------------------------------------------------------


def predict_labels(model: Any, images: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (n, 28, 28) → (predicted digits (n,) int, class probabilities (n, 10) float32).

    Batch by batch, scaling each batch only: no float copy of the whole set (31 MB for 10,000
    images) and small activations (the book's first map is ~22 MB for 256 images).
    """
    parts = [
        np.asarray(model.predict_on_batch(to_model_input(images[i : i + batch_size])), dtype=np.float32)
        for i in range(0, len(images), batch_size)
    ]
    probs = np.concatenate(parts) if parts else np.zeros((0, 10), np.float32)
    return probs.argmax(axis=1), probs


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    """(classes, classes) counts: row = true digit, column = predicted digit."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix


def misclassified(true: np.ndarray, predicted: np.ndarray, probs: np.ndarray, limit: int = 40) -> np.ndarray:
    """Indices of wrong predictions, most confident mistakes first, at most `limit`."""
    wrong = np.flatnonzero(np.asarray(true) != np.asarray(predicted))
    confidence = probs[wrong, np.asarray(predicted)[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:limit]


# --- grids: lists of runs to train ahead of time (`python -m dashboard warm --grid …`) --------------

GRID_TRAIN_PRESET = "fast"


class GridError(ValueError):
    """A grid file or name that cannot be used; the message says why."""


def builtin_grids() -> dict[str, list[dict[str, Any]]]:
    """Named grids, all with the fast training preset: `workshop` trains every network preset;
    `numbers` the book network with its last conv at 1…64 filters and the reference points
    of `spec.numbers_family()` (how many numbers the classifier needs)."""
    from dashboard.spec import PRESETS, numbers_family

    return {
        "workshop": [{"preset": name, "train_preset": GRID_TRAIN_PRESET} for name in PRESETS],
        "numbers": [{"spec": spec.to_dict(), "train_preset": GRID_TRAIN_PRESET} for spec in numbers_family().values()],
    }


def parse_grid(items: Any) -> list[tuple[str, NetworkSpec, TrainSettings]]:
    """Grid JSON → [(label, spec, settings)]; raise `GridError` naming every bad item.

    A grid is a list of objects, each with `preset` (a network preset name) or `spec` (a
    network object), and optionally `train_preset` (default "fast") and `settings` (fields of
    TrainSettings that override the training preset's).
    """
    from dashboard.spec import PRESETS, SpecError
    from dashboard.training import TRAIN_PRESETS, SettingsError

    if isinstance(items, dict) and "runs" in items:
        items = items["runs"]
    if not isinstance(items, list) or not items:
        raise GridError("a grid must be a non-empty list of runs")
    out, problems = [], []
    for i, item in enumerate(items, start=1):
        where = f"run {i}"
        if not isinstance(item, dict):
            problems.append(f"{where}: expected an object")
            continue
        unknown = sorted(set(item) - {"preset", "spec", "train_preset", "settings"})
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
            continue
        try:
            if ("preset" in item) == ("spec" in item):
                raise GridError("give exactly one of 'preset' and 'spec'")
            if "preset" in item:
                if item["preset"] not in PRESETS:
                    raise GridError(f"unknown network preset {item['preset']!r}")
                spec, name = PRESETS[item["preset"]], item["preset"]
            else:
                spec = NetworkSpec.from_dict(item["spec"])
                name = spec.describe()
            train_preset = item.get("train_preset", GRID_TRAIN_PRESET)
            if train_preset not in TRAIN_PRESETS:
                raise GridError(f"unknown training preset {train_preset!r}")
            overrides = item.get("settings", {})
            if not isinstance(overrides, dict):
                raise GridError("'settings' must be an object")
            settings = TrainSettings.from_dict({**TRAIN_PRESETS[train_preset].to_dict(), **overrides})
        except (GridError, SpecError, SettingsError) as err:
            problems.append(f"{where}: {err}")
            continue
        label = f"{name} · {train_preset}" + (f" + {json.dumps(overrides, sort_keys=True)}" if overrides else "")
        out.append((label, spec, settings))
    if problems:
        raise GridError("; ".join(problems))
    return out


def load_grid(name_or_path: str) -> list[tuple[str, NetworkSpec, TrainSettings]]:
    """A built-in grid by name, or a grid JSON file; raise `GridError` with a clear message."""
    grids = builtin_grids()
    if name_or_path in grids:
        return parse_grid(grids[name_or_path])
    path = Path(name_or_path)
    if not path.is_file():
        raise GridError(f"{name_or_path!r} is neither a built-in grid ({', '.join(grids)}) nor a file")
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise GridError(f"cannot read grid file {path}: {err}") from None
    return parse_grid(items)
