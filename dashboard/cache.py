"""The persistent model cache: one directory per trained run, a `.keras` model and a JSON record.

Layout (the only module that touches `model_cache/`):

    <root>/<key>/model.keras + record.json     written by this app; root = $MODEL_CACHE_DIR
                                               or <repo>/model_cache/
    <repo>/model_cache/shipped/<key>/...       committed to git: always read, never written,
                                               never evicted, visible whatever the root
    <root>/.damaged/<key>-<time>/              entries found damaged, set aside for a look
    <root>/.tmp-*/                             writes in progress (or left by a crash)
    <root>/.locks/                             cross-process lock files (see dashboard.runs)

A run's key hashes the canonical spec, the training settings (seed included) and the data's
fingerprint; library versions are recorded but are not part of the key. Writes are atomic:
everything is written and fsynced in a temp directory inside the root, then renamed into
place, so an entry that exists is complete. Damaged entries (bad JSON, missing or truncated
model) are reported and set aside, never raised. Past a size limit (default 500 MB,
`MODEL_CACHE_MAX_MB`) the least recently used entries are evicted.

Imports neither Streamlit nor (until a model is loaded or saved) TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import threading
import time
import uuid
import zipfile
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dashboard.spec import NetworkSpec, SpecError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO_ROOT / "model_cache"
SHIPPED_ROOT = DEFAULT_ROOT / "shipped"
MODEL_FILE = "model.keras"
RECORD_FILE = "record.json"
DAMAGED_DIR = ".damaged"
LOCKS_DIR = ".locks"
TMP_PREFIX = ".tmp-"
DEFAULT_MAX_MB = 500.0
KEY_FORMAT = 1  # bump only if the meaning of a key changes
STALE_TMP_SECONDS = 3600.0  # prune() removes temp dirs older than this (a crash's leftovers)


class CacheError(RuntimeError):
    """A cache entry that cannot be used (damaged, or missing); the message says which and why."""


@dataclass(frozen=True)
class RunRecord:
    """What the cache knows of one trained run (the model itself is `model.keras` beside it)."""

    key: str
    spec: dict[str, Any]  # NetworkSpec.to_dict()
    settings: dict[str, Any]  # TrainSettings.to_dict()
    history: dict[str, list[float]]  # loss, accuracy, val_loss, val_accuracy per epoch
    test_accuracy: float
    params: int
    final_map: tuple[int, int]  # (side, channels) of the last conv map
    train_seconds: float
    data_source: str
    data_label: str
    data_fingerprint: str
    versions: dict[str, str] = field(default_factory=dict)  # recorded, not part of the key
    created: str = ""  # ISO 8601, UTC
    shipped: bool = False
    trained_on: str = ""  # where the job ran: "host (in the app's process)" or a Dask worker's address
    queued_seconds: float = 0.0  # how long the job waited for a worker
    # An imported model (dashboard.imported): source_file, sha256, input_shape, scaling, layers…;
    # empty for runs trained here (and then left out of record.json).
    imported: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = asdict(self)
        out["final_map"] = list(self.final_map)
        if not self.imported:
            del out["imported"]
        return out

    def to_json(self) -> str:
        """Pretty JSON, as stored in `record.json`."""
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> RunRecord:
        """Parse a record; raise `ValueError` naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("record is not a JSON object")
        names = {f.name for f in fields(cls)}
        required = {"key", "spec", "settings", "history", "test_accuracy", "params", "final_map",
                    "train_seconds", "data_source", "data_label", "data_fingerprint"}
        missing = sorted(required - set(data))
        if missing:
            raise ValueError(f"record lacks {', '.join(missing)}")
        values = {k: v for k, v in data.items() if k in names}  # unknown keys: from a newer app, ignored
        try:
            side, channels = values["final_map"]
            values["final_map"] = (int(side), int(channels))
            values["history"] = {str(k): [float(x) for x in v] for k, v in dict(values["history"]).items()}
            values["test_accuracy"] = float(values["test_accuracy"])
            values["params"] = int(values["params"])
            values["train_seconds"] = float(values["train_seconds"])
            values["shipped"] = bool(values.get("shipped", False))
            values["trained_on"] = str(values.get("trained_on", ""))[:200]
            values["queued_seconds"] = float(values.get("queued_seconds", 0.0))
            values["imported"] = dict(values.get("imported") or {})
        except (TypeError, ValueError) as err:
            raise ValueError(f"record has a malformed field ({err})") from None
        if not isinstance(values["spec"], dict) or not isinstance(values["settings"], dict):
            raise ValueError("record's spec or settings is not an object")
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        """Parse `record.json` text; raise `ValueError` on bad JSON or a bad record."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"record.json is not valid JSON ({err})") from None
        return cls.from_dict(data)

    # --- convenience for pages -------------------------------------------------------------

    @property
    def is_imported(self) -> bool:
        """True for a model imported from a file (no spec, no training settings)."""
        return bool(self.imported)

    @property
    def source_file(self) -> str:
        """The imported file's name (outside text: show it plain), or ''."""
        return str(self.imported.get("source_file", ""))

    def network(self) -> NetworkSpec:
        """The run's `NetworkSpec` (raises `SpecError` if the record's spec no longer validates)."""
        if self.is_imported:
            raise SpecError(["an imported model is not described by the app's network description"])
        return NetworkSpec.from_dict(self.spec)

    def train_settings(self) -> Any:
        """The run's `TrainSettings`."""
        from dashboard.training import TrainSettings

        return TrainSettings.from_dict(self.settings)

    @property
    def epochs_done(self) -> int:
        """Number of epochs in the history."""
        return len(self.history.get("val_accuracy", []))

    @property
    def val_accuracy(self) -> float:
        """Validation accuracy after the last epoch (nan if none)."""
        values = self.history.get("val_accuracy") or [float("nan")]
        return values[-1]

    def describe(self) -> str:
        """The network in one line, e.g. 'conv32-pool · conv64-pool · conv64 → flatten → 64'."""
        if self.is_imported:
            from dashboard.outside import plain

            return plain(" · ".join(_short_layer(row) for row in self.imported.get("layers", [])), 200)
        try:
            return self.network().describe()
        except SpecError:
            return "(network no longer valid)"

    def network_label(self) -> str:
        """The network's preset name, else its one-line layout."""
        from dashboard.spec import preset_name

        if self.is_imported:
            from dashboard.outside import plain

            # Plain text, and no angle brackets: plotly legends would read them as HTML.
            return f"imported {plain(self.source_file, 40).replace('<', '‹').replace('>', '›')}"
        try:
            return preset_name(self.network()) or self.describe()
        except SpecError:
            return "(invalid network)"

    def training_label(self) -> str:
        """The training preset's name, else the main settings, e.g. 'adam b128 3ep on 5,000'."""
        if self.is_imported:
            return f"imported, input {self.imported.get('scaling', '?')}"
        settings = self.settings
        preset = _train_preset_of(settings)
        what = f"{preset} preset" if preset else (
            f"{settings.get('optimizer', '?')} b{settings.get('batch_size', '?')} {settings.get('epochs', '?')}ep"
        )
        if settings.get("train_size") is not None:
            what += f" on {settings['train_size']:,}"
        if settings.get("seed", 0) != 0:
            what += f" seed {settings['seed']}"
        return what

    @property
    def data_name(self) -> str:
        """A short name for the training data: 'full MNIST', 'embedded subset', or the source."""
        if "60,000 train + 10,000 test" in self.data_label:
            return "full MNIST"
        return "embedded subset" if self.data_source == "embedded" else self.data_source

    def title(self) -> str:
        """One line naming the run for a picker: network, training, test accuracy, data, key."""
        tag = " · shipped" if self.shipped else ""
        return (
            f"{self.network_label()} · {self.training_label()} · test {self.test_accuracy:.2%} · "
            f"{self.data_name}{tag} · {self.key[:6]}"
        )


def _short_layer(row: Any) -> str:
    """'Conv2D32', 'MaxPooling2D', 'Dense10' for a stored summary row of an imported model."""
    if not isinstance(row, dict):
        return "?"
    kind = str(row.get("type", "?"))
    shape = row.get("output_shape") or [None]
    return f"{kind}{shape[-1]}" if kind in ("Conv2D", "Dense") else kind


def _train_preset_of(settings: dict[str, Any]) -> str | None:
    from dashboard.training import TRAIN_PRESETS

    for name, preset in TRAIN_PRESETS.items():
        ours = dict(preset.to_dict())
        ignored = ("seed", "train_size")  # shown separately
        if {k: v for k, v in settings.items() if k not in ignored} == {k: v for k, v in ours.items() if k not in ignored}:
            return name
    return None


def library_versions() -> dict[str, str]:
    """Versions that produced a model: recorded in each entry, never part of its key."""
    import keras
    import numpy
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__, "numpy": numpy.__version__}


def now_iso() -> str:
    """The current time, ISO 8601 in UTC to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def make_key(spec: NetworkSpec, settings: Any, data_fingerprint: str) -> str:
    """16 hex characters hashing the canonical spec, the settings (seed included) and the data."""
    payload = json.dumps(
        {"format": KEY_FORMAT, "spec": spec.to_dict(), "settings": settings.to_dict(), "data": data_fingerprint},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _fsync_dir(path: Path) -> None:
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


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _dir_bytes(path: Path) -> int:
    total = 0
    for item in path.rglob("*"):
        try:
            if item.is_file():
                total += item.stat().st_size
        except OSError:
            pass
    return total


@dataclass(frozen=True)
class CacheReport:
    """Result of `verify()` or `prune()`: what is fine and what was done."""

    ok: list[str]
    damaged: list[str]  # one message per damaged entry
    removed: list[str]  # what was deleted (evicted keys, temp and damaged dirs)
    total_mb: float


class ModelCache:
    """The disk cache of trained runs; safe to share between threads and processes."""

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
        """The key of a run: see `make_key`."""
        return make_key(spec, settings, data_fingerprint)

    def _valid_key(self, key: str) -> bool:
        return isinstance(key, str) and 0 < len(key) <= 80 and all(c.isalnum() or c in "-_" for c in key)

    def _shipped_dir(self, key: str) -> Path | None:
        if self.shipped_root is None:
            return None
        path = self.shipped_root / key
        return path if path.is_dir() else None

    def entry_dir(self, key: str) -> Path | None:
        """The directory holding `key` (shipped first), or None."""
        if not self._valid_key(key):
            return None
        shipped = self._shipped_dir(key)
        if shipped is not None:
            return shipped
        path = self.root / key
        return path if path.is_dir() else None

    def model_path(self, key: str) -> Path | None:
        """Path of the run's `.keras` file (for downloads), or None."""
        entry = self.entry_dir(key)
        return entry / MODEL_FILE if entry is not None else None

    def _writable_entries(self) -> list[Path]:
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

    # --- reading ---------------------------------------------------------------------------

    def _read_entry(self, path: Path, shipped: bool) -> RunRecord:
        """The entry's record after a cheap completeness check; raise `CacheError` if damaged."""
        record_path, model_path = path / RECORD_FILE, path / MODEL_FILE
        if not record_path.is_file():
            raise CacheError(f"run {path.name}: {RECORD_FILE} is missing")
        if not model_path.is_file():
            raise CacheError(f"run {path.name}: {MODEL_FILE} is missing")
        try:
            record = RunRecord.from_json(record_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise CacheError(f"run {path.name}: {RECORD_FILE} is unreadable ({err})") from None
        if record.key != path.name:
            raise CacheError(f"run {path.name}: its record names another key ({record.key[:20]!r})")
        # A truncated zip loses its central directory (at the end): opening it fails.
        try:
            with zipfile.ZipFile(model_path) as archive:
                names = set(archive.namelist())
        except (OSError, zipfile.BadZipFile, ValueError) as err:
            raise CacheError(f"run {path.name}: {MODEL_FILE} is truncated or corrupt ({err})") from None
        if "config.json" not in names:
            raise CacheError(f"run {path.name}: {MODEL_FILE} holds no model configuration")
        if shipped != record.shipped:
            record = RunRecord(**{**record.__dict__, "shipped": shipped})
        return record

    def _damaged(self, path: Path, message: str, shipped: bool) -> None:
        """Remember `message`; set a writable entry aside so it is trained again."""
        with self._lock:
            self._problems.append(message + ("" if shipped else "; it was set aside and will be trained again"))
        if shipped:
            return
        target = self.root / DAMAGED_DIR / f"{path.name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(path, target)
        except OSError:
            shutil.rmtree(path, ignore_errors=True)  # another process may have moved it already

    def check(self, key: str) -> tuple[RunRecord | None, str | None]:
        """(record, None) for a sound entry; (None, message) for a damaged one; (None, None) if absent."""
        if not self._valid_key(key):
            return None, None
        for path, shipped in ((self._shipped_dir(key), True), (self.root / key, False)):
            if path is None or not path.is_dir():
                continue
            try:
                record = self._read_entry(path, shipped)
            except CacheError as err:
                self._damaged(path, str(err), shipped)
                return None, str(err)
            if not shipped:
                self._touch(path)
            return record, None
        return None, None

    def get(self, key: str) -> RunRecord | None:
        """The run's record, or None if absent or damaged (damage goes to `take_problems()`)."""
        return self.check(key)[0]

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def scan(self) -> tuple[list[RunRecord], list[str]]:
        """(every sound run: shipped first, then newest first; messages about damaged entries)."""
        shipped, written, problems = [], [], []
        sources = []
        if self.shipped_root is not None and self.shipped_root.is_dir():
            sources += [(p, True) for p in self.shipped_root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        sources += [(p, False) for p in self._writable_entries()]
        seen = set()
        for path, is_shipped in sources:
            if path.name in seen:
                continue  # a shipped key also written locally: the shipped one wins
            try:
                record = self._read_entry(path, is_shipped)
            except CacheError as err:
                problems.append(str(err))
                self._damaged(path, str(err), is_shipped)
                continue
            seen.add(path.name)
            (shipped if is_shipped else written).append(record)
        shipped.sort(key=lambda r: (r.created, r.key))
        written.sort(key=lambda r: (r.created, r.key), reverse=True)
        return shipped + written, problems

    def runs(self) -> list[RunRecord]:
        """Every sound run: shipped first, then newest first."""
        return self.scan()[0]

    def take_problems(self) -> list[str]:
        """Messages about damaged entries found since the last call (then forgotten)."""
        with self._lock:
            found, self._problems = self._problems, []
        return found

    def load_model(self, key: str) -> Any:
        """The run's Keras model (safe_mode=True, uncompiled); raise `CacheError` if absent or damaged."""
        import keras

        record, problem = self.check(key)
        if record is None:
            raise CacheError(problem or f"run {key[:20]!r} is not in the cache")
        entry = self.entry_dir(key)
        assert entry is not None
        try:
            model = keras.saving.load_model(entry / MODEL_FILE, safe_mode=True, compile=False)
        except Exception as err:  # noqa: BLE001 - any failure to load means a damaged file
            message = f"run {key}: {MODEL_FILE} cannot be loaded ({type(err).__name__}: {str(err)[:200]})"
            self._damaged(entry, message, record.shipped)
            raise CacheError(message) from None
        return model

    def _touch(self, path: Path) -> None:
        # Recency for LRU eviction: the model file's mtime is "last used".
        try:
            os.utime(path / MODEL_FILE)
        except OSError:
            pass

    def touch(self, key: str) -> None:
        """Mark a run as just used (LRU)."""
        path = self.root / key
        if self._valid_key(key) and path.is_dir():
            self._touch(path)

    # --- writing ---------------------------------------------------------------------------

    def put(self, record: RunRecord, model: Any) -> Path:
        """Store a run atomically; an existing sound entry of the same key is kept. Returns its directory."""
        return self._put(record, lambda path: save_model(model, path))

    def put_bytes(self, record: RunRecord, model_file: bytes) -> Path:
        """Store a run whose `.keras` file arrived as bytes (a job's result), atomically, like `put`."""

        def write(path: Path) -> None:
            _write_file(path, model_file)

        return self._put(record, write)

    def _put(self, record: RunRecord, write_model: Any) -> Path:
        if not self._valid_key(record.key):
            raise ValueError(f"invalid run key {record.key!r}")
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f"{TMP_PREFIX}{record.key}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            write_model(tmp / MODEL_FILE)
            _write_file(tmp / RECORD_FILE, record.to_json().encode("utf-8"))
            _fsync_dir(tmp)
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
            _fsync_dir(self.root)
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
        target = self.root / f"{TMP_PREFIX}del-{key}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(path, target)  # atomic: the entry disappears whole
        except OSError:
            return False
        shutil.rmtree(target, ignore_errors=True)
        return True

    # --- size ------------------------------------------------------------------------------

    def size_bytes(self) -> int:
        """Bytes used by written entries (shipped ones do not count against the limit)."""
        return sum(_dir_bytes(path) for path in self._writable_entries())

    def evict(self, keep: str | None = None) -> list[str]:
        """Delete least recently used written entries until under the size limit; return their keys."""
        entries = []
        for path in self._writable_entries():
            try:
                used = (path / MODEL_FILE).stat().st_mtime
            except OSError:
                used = 0.0
            entries.append((used, path.name, _dir_bytes(path)))
        total = sum(size for _, _, size in entries)
        removed = []
        for _, key, size in sorted(entries):
            if total <= self.max_bytes:
                break
            if key == keep:
                continue
            if self.delete(key):
                removed.append(key)
                total -= size
        return removed

    def verify(self) -> CacheReport:
        """Check every entry deeply (zip CRCs and record); set damaged written ones aside."""
        ok, damaged = [], []
        sources = []
        if self.shipped_root is not None and self.shipped_root.is_dir():
            sources += [(p, True) for p in sorted(self.shipped_root.iterdir()) if p.is_dir()]
        sources += [(p, False) for p in sorted(self._writable_entries())]
        for path, shipped in sources:
            try:
                self._read_entry(path, shipped)
                with zipfile.ZipFile(path / MODEL_FILE) as archive:
                    bad = archive.testzip()
                if bad is not None:
                    raise CacheError(f"run {path.name}: {MODEL_FILE} member {bad} is corrupt")
            except (CacheError, OSError, zipfile.BadZipFile) as err:
                damaged.append(str(err))
                self._damaged(path, str(err), shipped)
                continue
            ok.append(path.name)
        return CacheReport(ok, damaged, [], self.size_bytes() / 2**20)

    def prune(self) -> CacheReport:
        """Remove stale temp dirs and set-aside damaged entries, then evict past the size limit."""
        removed = []
        if self.root.is_dir():
            now = time.time()
            for path in self.root.iterdir():
                if path.name.startswith(TMP_PREFIX):
                    try:
                        stale = now - path.stat().st_mtime > STALE_TMP_SECONDS
                    except OSError:
                        continue
                    if stale:
                        shutil.rmtree(path, ignore_errors=True)
                        removed.append(path.name)
            damaged = self.root / DAMAGED_DIR
            if damaged.is_dir():
                for path in damaged.iterdir():
                    shutil.rmtree(path, ignore_errors=True)
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
        _write_file(tmp, record.to_json().encode("utf-8"))
        os.replace(tmp, path / RECORD_FILE)
        _fsync_dir(path)

    def lock_path(self, key: str) -> Path:
        """Where the cross-process lock file of `key` lives."""
        path = self.root / LOCKS_DIR
        path.mkdir(parents=True, exist_ok=True)
        return path / f"{key}.lock"


def save_model(model: Any, path: Path) -> None:
    """Save weights and architecture only (no optimizer state: half the size), fsynced."""
    # A model rebuilt from its config is uncompiled: no optimizer variables in the file.
    clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    clone.save(path)
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
