"""The persistent model cache: stores runs and loads them; one directory per run.

Layout (the only module that writes `model_cache/`):

    <root>/<key>/model.keras + record.json     written by this app; root = $MODEL_CACHE_DIR
                                               or <repo>/model_cache/
    <repo>/model_cache/shipped/<key>/...       committed to git: always read, never written,
                                               never evicted, visible whatever the root
    <root>/.damaged/<key>-<time>/              entries found damaged, set aside for a look
    <root>/.tmp-<pid>.<host>.<rand>-<key>/     writes in progress (or left by a killed process)
    <entry>/results/, <root>/.results/<key>/   results kept beside a run (dashboard.store.stored); the
                                               second for shipped runs, which are never written

What a run is, and its key, is `dashboard.store.run`; how an entry is judged sound is
`dashboard.store.entry` (the same steps for listing, loading and `verify`). Writes are atomic:
everything is written and fsynced in a temp directory inside the root, then renamed into place,
so an entry that exists is complete. A temp directory whose writer has died (same host, pid
gone) or that is older than an hour is stale and removed; temp directories never count in
listings or sizes. Damaged entries are reported and set aside, never raised; when the root is
read-only the report says they could not be set aside. Past a size limit (default 500 MB,
`MODEL_CACHE_MAX_MB`) the least recently used entries are evicted.

Imports neither Streamlit nor (until a model is loaded or saved) TensorFlow.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashboard.network.spec import NetworkSpec
from dashboard.store import durable, stored
from dashboard.store.entry import (
    MODEL_FILE,
    RECORD_FILE,
    CacheError,
    group_of_entry,
    load_chain_entry,
    load_entry,
    load_weights_entry,
    read_entry,
)
from dashboard.store.run import RunRecord, make_key

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO_ROOT / "model_cache"
SHIPPED_ROOT = DEFAULT_ROOT / "shipped"
DAMAGED_DIR = ".damaged"
SHIPPED_RESULTS_DIR = ".results"
TMP_PREFIX = durable.PREFIX
DEFAULT_MAX_MB = 500.0

__all__ = ["CacheError", "CacheReport", "ModelCache", "RunRecord", "make_key"]


@dataclass(frozen=True)
class CacheReport:
    """Result of `verify()` or `prune()`: what is fine and what was done."""

    ok: list[str]
    damaged: list[str]  # one message per damaged entry, saying what became of it
    removed: list[str]  # what was deleted (evicted keys, stale temp and set-aside dirs)
    total_mb: float
    set_aside: list[str] = field(default_factory=list)  # keys moved to .damaged/
    not_set_aside: list[str] = field(default_factory=list)  # keys left in place (read-only, or shipped)


class ModelCache:
    """The disk cache of runs; safe to share between threads and processes."""

    def __init__(self, root: str | os.PathLike | None = None, shipped_root: str | os.PathLike | None = SHIPPED_ROOT,
                 max_mb: float | None = None):
        env_root = os.environ.get("MODEL_CACHE_DIR")
        self.root = Path(root) if root is not None else Path(env_root).expanduser() if env_root else DEFAULT_ROOT
        self.shipped_root = Path(shipped_root) if shipped_root is not None else None
        if max_mb is None:
            try:
                max_mb = float(os.environ.get("MODEL_CACHE_MAX_MB", DEFAULT_MAX_MB))
            except ValueError:
                max_mb = DEFAULT_MAX_MB
        self.max_bytes = int(max(max_mb, 0.0) * 1024 * 1024)
        self._lock = threading.Lock()
        self._problems: list[str] = []  # damage found since the last `take_problems()`

    # --- keys and places -------------------------------------------------------------------

    def key(self, spec: NetworkSpec, settings: Any, data_fingerprint: str) -> str:
        """The key of a trained run: see `dashboard.store.run.make_key`."""
        return make_key(spec, settings, data_fingerprint)

    @staticmethod
    def _valid_key(key: str) -> bool:
        return isinstance(key, str) and 0 < len(key) <= 80 and all(c.isalnum() or c in "-_" for c in key)

    def _shipped_dir(self, key: str) -> Path | None:
        if self.shipped_root is None:
            return None
        path = self.shipped_root / key
        return path if path.is_dir() else None

    def _locate(self, key: str) -> tuple[Path, bool] | None:
        """(directory, shipped) holding `key`, shipped first; None if absent or an invalid key."""
        if not self._valid_key(key):
            return None
        shipped = self._shipped_dir(key)
        if shipped is not None:
            return shipped, True
        path = self.root / key
        return (path, False) if path.is_dir() else None

    def entry_dir(self, key: str) -> Path | None:
        """The directory holding `key` (shipped first), or None."""
        found = self._locate(key)
        return found[0] if found else None

    def model_path(self, key: str) -> Path | None:
        """Path of the run's `.keras` file (for downloads), or None."""
        entry = self.entry_dir(key)
        return entry / MODEL_FILE if entry is not None else None

    def _writable_entries(self) -> list[Path]:
        """Run directories under the root: never temp, damaged, lock or shipped directories."""
        if not self.root.is_dir():
            return []
        skip = {"shipped"} if self.root.resolve() == DEFAULT_ROOT.resolve() else set()
        out = []
        for path in self.root.iterdir():
            if path.name.startswith(".") or path.name in skip or not path.is_dir():
                continue
            if self.shipped_root is not None and path.resolve() == self.shipped_root.resolve():
                continue
            out.append(path)
        return out

    def _all_entries(self) -> list[tuple[Path, bool]]:
        """(directory, shipped) of every entry: shipped ones first, in name order."""
        sources: list[tuple[Path, bool]] = []
        if self.shipped_root is not None and self.shipped_root.is_dir():
            sources += [(p, True) for p in sorted(self.shipped_root.iterdir())
                        if p.is_dir() and not p.name.startswith(".")]
        sources += [(p, False) for p in sorted(self._writable_entries())]
        return sources

    # --- damage ----------------------------------------------------------------------------

    def _set_aside(self, path: Path) -> str | None:
        """Move a damaged written entry to `.damaged/`; None on success, else why it could not."""
        target = self.root / DAMAGED_DIR / f"{path.name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(path, target)
        except OSError as err:
            if not path.exists():
                return None  # another process set it aside first
            return err.strerror or type(err).__name__
        return None

    def _damaged(self, path: Path, message: str, shipped: bool, record: RunRecord | None = None,
                 remember: bool = True) -> tuple[str, bool]:
        """Set a damaged written entry aside and (if `remember`) keep its message for `take_problems()`.

        Returns (the message with what became of the entry, whether it was set aside).
        """
        again = "imported again" if record is not None and record.is_imported else "trained again"
        if shipped:
            full, moved = message + "; it ships with the app, so it is left in place and skipped", False
        else:
            reason = self._set_aside(path)
            moved = reason is None
            full = message + (f"; it was set aside and will be {again}" if moved else
                              f"; it could not be set aside ({reason}), so it is left in place and skipped")
        if remember:
            with self._lock:
                self._problems.append(full)
        return full, moved

    def take_problems(self) -> list[str]:
        """Messages about damaged entries found since the last call (then forgotten)."""
        with self._lock:
            found, self._problems = self._problems, []
        return found

    # --- reading ---------------------------------------------------------------------------

    def _read(self, path: Path, shipped: bool) -> RunRecord:
        return read_entry(path).with_shipped(shipped)

    def check(self, key: str) -> tuple[RunRecord | None, str | None]:
        """(record, None) for a sound entry; (None, message) for a damaged one; (None, None) if absent."""
        found = self._locate(key)
        if found is None:
            return None, None
        path, shipped = found
        try:
            record = self._read(path, shipped)
        except CacheError as err:
            return None, self._damaged(path, str(err), shipped)[0]
        if not shipped:
            self._touch(path)
        return record, None

    def get(self, key: str) -> RunRecord | None:
        """The run's record, or None if absent or damaged (damage goes to `take_problems()`)."""
        return self.check(key)[0]

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def scan(self) -> tuple[list[RunRecord], list[str]]:
        """(every sound run: shipped first, then newest first; messages about damaged entries)."""
        shipped, written, problems, seen = [], [], [], set()
        for path, is_shipped in self._all_entries():
            if path.name in seen:
                continue  # a shipped key also written locally: the shipped one wins
            try:
                record = self._read(path, is_shipped)
            except CacheError as err:
                problems.append(self._damaged(path, str(err), is_shipped)[0])
                continue
            seen.add(path.name)
            (shipped if is_shipped else written).append(record)
        shipped.sort(key=lambda r: (r.created, r.key))
        written.sort(key=lambda r: (r.created, r.key), reverse=True)
        return shipped + written, problems

    def runs(self) -> list[RunRecord]:
        """Every sound run: shipped first, then newest first."""
        return self.scan()[0]

    def load_model(self, key: str) -> Any:
        """The run's Keras model, checked against its record; raise `CacheError` if absent or damaged."""
        return self._load(key, load_entry)

    def load_weights(self, key: str) -> dict:
        """The weights of run `key` (trained here or shipped) as read-only arrays, read without Keras
        and checked against its record; raise `CacheError` if absent or damaged."""
        return self._load(key, load_weights_entry)

    def load_chain(self, key: str) -> tuple[tuple, dict]:
        """(layers as Keras configurations, their weights as read-only arrays) of imported chain `key`, read
        without Keras and checked against each other; raise `CacheError` if absent or damaged."""
        return self._load(key, load_chain_entry)

    def _load(self, key: str, loader: Callable[[Path, RunRecord], Any]) -> Any:
        """`loader(entry path, record)` of a sound entry; a `CacheError` from it sets a written entry aside."""
        found = self._locate(key)
        record, problem = self.check(key)
        if record is None or found is None:
            raise CacheError(problem or f"run {str(key)[:20]!r} is not in the cache")
        path, shipped = found
        try:
            return loader(path, record)
        except CacheError as err:
            raise CacheError(self._damaged(path, str(err), shipped, record)[0]) from None

    def _touch(self, path: Path) -> None:
        # Recency for LRU eviction: the model file's mtime is "last used".
        try:
            os.utime(path / MODEL_FILE)
        except OSError:
            pass

    # --- results kept beside a run (dashboard.store.stored) -------------------------------------

    def _shipped_results(self, key: str) -> Path:
        """Where results of shipped run `key` computed here are kept (a shipped run is never written)."""
        return self.root / SHIPPED_RESULTS_DIR / key

    def read_result(self, key: str, name: str) -> bytes | None:
        """The bytes of result `name` stored beside run `key` (for a shipped run, or computed here), or None."""
        located = self._locate(key)
        if located is None:
            return None
        data = stored.read(located[0], name)
        if data is None and located[1]:
            data = stored.read(self._shipped_results(key), name)
        return data

    def write_result(self, key: str, name: str, data: bytes, shipped: bool = False) -> bool:
        """Store result `name` beside run `key`; a shipped run's go under the root's `.results/` unless
        `shipped` (the tool that makes them). False if the run is absent or nothing can be written."""
        located = self._locate(key)
        if located is None:
            return False
        folder, is_shipped = located
        if is_shipped and not shipped:
            folder = self._shipped_results(key)
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError:
                return False
        return stored.write(folder, name, data)

    # --- writing ---------------------------------------------------------------------------

    def put(self, record: RunRecord, model: Any) -> Path:
        """Store a run and its Keras model atomically; an existing sound entry of the same key is kept."""
        return self._store(record, lambda path: durable.save_model(model, path))

    def put_bytes(self, record: RunRecord, keras_bytes: bytes) -> Path:
        """Store a run from the bytes of its `.keras` file (a job's result, an upload), atomically."""
        return self._store(record, lambda path: durable.write_file(path, keras_bytes))

    def _store(self, record: RunRecord, write_model: Callable[[Path], None]) -> Path:
        if not self._valid_key(record.key):
            raise ValueError(f"invalid run key {record.key!r}")
        self.root.mkdir(parents=True, exist_ok=True)
        self.clean_stale_tmp()
        tmp = durable.make(self.root, record.key)
        try:
            write_model(tmp / MODEL_FILE)
            durable.write_file(tmp / RECORD_FILE, record.to_json().encode("utf-8"))
            durable.fsync_dir(tmp)
            dest = self.root / record.key
            if dest.is_dir():
                existing, _ = self.check(record.key)  # sets a damaged one aside
                if existing is not None:
                    return dest  # someone else stored it first: same inputs, same run
            try:
                os.rename(tmp, dest)
            except OSError:
                if self.get(record.key) is None:
                    raise
                return dest  # lost a race to another writer
            durable.fsync_dir(self.root)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        self.evict(keep=record.key)
        return dest

    def delete(self, key: str) -> bool:
        """Remove a written run (never a shipped one); True if something was removed."""
        path = self.root / key
        if not self._valid_key(key) or not path.is_dir():
            return False
        target = self.root / durable.name_for(f"del-{key}")
        try:
            os.rename(path, target)  # atomic: the entry disappears whole
        except OSError:
            return False
        shutil.rmtree(target, ignore_errors=True)
        return True

    def clean_stale_tmp(self) -> list[str]:
        """Remove temp dirs left by killed or long-gone writers (never a live writer's); their names."""
        return durable.remove_stale(self.root)

    # --- size ------------------------------------------------------------------------------

    def size_bytes(self) -> int:
        """Bytes used by written entries (shipped ones and temp dirs do not count)."""
        return sum(durable.dir_bytes(path) for path in self._writable_entries())

    def evict(self, keep: str | None = None) -> list[str]:
        """Delete least recently used written groups of seeds, whole, until under the size limit; return the keys.

        Runs that differ only in their seed (`dashboard.store.seeds.group_id`) go together, so no network is
        left with fewer seeds than a learner trained; a group's last use is its newest run's. The group
        of `keep` stays.
        """
        groups: dict[object, list[tuple[float, str, int]]] = {}
        for path in self._writable_entries():
            try:
                used = (path / MODEL_FILE).stat().st_mtime
            except OSError:
                used = 0.0
            group = group_of_entry(path)
            groups.setdefault(group, []).append((used, path.name, durable.dir_bytes(path)))
        total = sum(size for members in groups.values() for _, _, size in members)
        removed = []
        for members in sorted(groups.values(), key=lambda members: max(used for used, _, _ in members)):
            if total <= self.max_bytes:
                break
            if any(key == keep for _, key, _ in members):
                continue
            for _, key, size in members:
                if self.delete(key):
                    removed.append(key)
                    total -= size
        return removed

    def verify(self) -> CacheReport:
        """Judge every entry exactly as loading it does (record, archive, Keras, model vs record)."""
        ok, damaged, moved, kept = [], [], [], []
        removed = self.clean_stale_tmp()
        for path, shipped in self._all_entries():
            record = None
            try:
                record = self._read(path, shipped)
                load_entry(path, record)
            except CacheError as err:
                message, was_moved = self._damaged(path, str(err), shipped, record, remember=False)
                damaged.append(message)
                (moved if was_moved else kept).append(path.name)
                continue
            ok.append(path.name)
        return CacheReport(ok, damaged, removed, self.size_bytes() / 2**20, moved, kept)

    def prune(self) -> CacheReport:
        """Remove stale temp dirs and set-aside damaged entries, then evict past the size limit."""
        removed = self.clean_stale_tmp()
        damaged = self.root / DAMAGED_DIR
        if damaged.is_dir():
            for path in damaged.iterdir():
                shutil.rmtree(path, ignore_errors=True)
                if not path.exists():
                    removed.append(f"{DAMAGED_DIR}/{path.name}")
        removed += self.evict()
        ok = [path.name for path in self._writable_entries()]
        return CacheReport(ok, [], removed, self.size_bytes() / 2**20)

    def replace_record(self, record: RunRecord) -> None:
        """Atomically rewrite the record of a written run (an imported run's input scaling)."""
        path = self.root / record.key
        if not self._valid_key(record.key) or not (path / RECORD_FILE).is_file():
            raise CacheError(f"run {record.key[:20]!r} is not a written run of this cache")
        tmp = path / f"{TMP_PREFIX}{RECORD_FILE}-{uuid.uuid4().hex[:8]}"
        durable.write_file(tmp, record.to_json().encode("utf-8"))
        os.replace(tmp, path / RECORD_FILE)
        durable.fsync_dir(path)
