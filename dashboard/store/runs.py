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

import os
import socket
import threading
import time
from collections.abc import Callable

from dashboard.store.cache import ModelCache
from dashboard.mnist.data import MnistData
from dashboard.training.diagnosis import diagnose
from dashboard.store.run import RunRecord, library_versions, now_iso
from dashboard.network.spec import NetworkSpec, final_map, validate
from dashboard.training.trainer import BatchProgress, EpochProgress, TrainResult, TrainSettings, train

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


def make_record(key: str, spec: NetworkSpec, settings: TrainSettings, data: MnistData, result: TrainResult,
                trained_on: str | None = None, queued_seconds: float = 0.0) -> RunRecord:
    """The cache record of a finished training, judged (`trained_on` defaults to this host's name)."""
    channels = final_map(spec)[1]
    verdict = diagnose(result.history, result.test_accuracy, result.commonest_share, result.dead_channels, channels)
    return RunRecord(
        key=key,
        spec=spec,
        settings=settings,
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
        trained_on=socket.gethostname() if trained_on is None else trained_on,
        queued_seconds=round(max(float(queued_seconds), 0.0), 3),
        trained=verdict.trained,
        diagnosis=verdict.sentence,
        dead_channels=result.dead_channels,
        commonest_share=None if result.commonest_share is None else round(result.commonest_share, 6),
        recipe=dict(result.recipe),
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
    asked = time.monotonic()
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
                queued = time.monotonic() - asked
                result = train(spec, settings, data, on_batch=on_batch, on_epoch=on_epoch)
                record = make_record(key, spec, settings, data, result, queued_seconds=queued)
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
