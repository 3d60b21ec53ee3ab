"""A run: one trained (or imported) model as the rest of the app knows it, typed and parsed once.

`RunRecord` is what `record.json` holds beside each cached `model.keras`. A run is one of two
kinds:

* **trained** by this app: `spec` is its `NetworkSpec` and `settings` its `TrainSettings`, both
  parsed and validated once, when the record is read (a record whose network or settings no
  longer validate is refused: the cache treats it as damaged);
* **imported** from a learner's own model file: `imported` says which file (name, SHA-256) and
  how its inputs are scaled; `spec` and `settings` are None.

Runs are matched with typed equality (`run.spec == BOOK`, `run.trained_alike(other)`,
`find_run(...)`), never by comparing dicts. Labels and texts about runs live in
`dashboard.views.labels`.

Pure: imports neither TensorFlow nor Streamlit (`dashboard.training.trainer` imports only numpy at
module level).
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from typing import Any

from dashboard.network.spec import NetworkSpec, SpecError, final_map
from dashboard.outside import OutsideInputError, loads_json
from dashboard.training.diagnosis import diagnose
from dashboard.training.reproducible import RECIPE
from dashboard.training.train_settings import SettingsError, TrainSettings

KEY_FORMAT = 2  # bump only if the meaning of a key changes (2: trained with `reproducible.RECIPE`)
MAX_RECORD_CHARS = 200_000  # a record is ~1.5 KB; 20 epochs of history stay far below this
MAX_RECORD_DEPTH = 8
KINDS = ("trained", "imported")
# How an imported model expects its pixels (names as `dashboard.store.imported.SCALINGS`, which applies them).
INPUT_SCALINGS: dict[str, str] = {
    "unit": "pixels divided by 255 (0 to 1), as the book does",
    "raw": "raw pixel values (0 to 255)",
    "standard": "pixels standardised with MNIST's mean and standard deviation",
}
_TRAINED_REQUIRED = ("key", "spec", "settings", "history", "test_accuracy", "params", "final_map",
                     "train_seconds", "data_source", "data_label", "data_fingerprint")
_IMPORTED_REQUIRED = ("key", "imported", "test_accuracy", "params", "data_source", "data_label",
                      "data_fingerprint")


@dataclass(frozen=True)
class ImportedModel:
    """Where an imported run came from and what its file declares (`dashboard.store.imported` fills it in)."""

    source_file: str  # as uploaded: outside text, show it as plain text only
    sha256: str  # of the file's bytes: the run's key
    scaling: str = "unit"  # how pixels are fed: one of INPUT_SCALINGS
    input_shape: tuple[int, ...] = (28, 28, 1)  # without the batch axis
    format: str = "keras"  # "keras" or "h5"
    model_class: str = "Sequential"
    chain: bool = True  # one layer after another (feature maps and Inside need it)
    scaling_scores: dict[str, dict[str, float]] = field(default_factory=dict)  # accuracy per scaling tried
    layers: tuple[dict[str, Any], ...] = ()  # summary rows (name, type, output_shape, params, rf, jump…)
    fits: dict[str, Any] | None = None  # the NetworkSpec dict that builds the same layers, if any
    input_name: str = ""  # a functional model's InputLayer name (its summary's first row); "" for Sequential

    def __post_init__(self) -> None:
        if not isinstance(self.source_file, str) or not 0 < len(self.source_file) <= 255:
            raise ValueError("imported model: source_file must be a non-empty string of at most 255 characters")
        if not isinstance(self.sha256, str) or len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise ValueError("imported model: sha256 must be 64 lowercase hex digits")
        if self.scaling not in INPUT_SCALINGS:
            raise ValueError(f"imported model: scaling must be one of {', '.join(INPUT_SCALINGS)}")
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 4096 for n in self.input_shape):
            raise ValueError("imported model: input_shape must be positive whole numbers")
        if not isinstance(self.chain, bool) or not all(isinstance(row, dict) for row in self.layers):
            raise ValueError("imported model: chain must be true or false and layers a list of objects")
        if self.fits is not None and not isinstance(self.fits, dict):
            raise ValueError("imported model: fits must be a network object or null")
        if not isinstance(self.input_name, str) or len(self.input_name) > 255:
            raise ValueError("imported model: input_name must be a string of at most 255 characters")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the `imported` object of `record.json`)."""
        out = asdict(self)
        out["input_shape"], out["layers"] = list(self.input_shape), [dict(row) for row in self.layers]
        return out

    @classmethod
    def from_dict(cls, data: Any) -> ImportedModel:
        """Parse the `imported` object of a record; raise `ValueError`/`TypeError` naming the problem."""
        if not isinstance(data, dict):
            raise ValueError("'imported' is not an object")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["input_shape"] = tuple(values.get("input_shape", (28, 28, 1)))
        values["layers"] = tuple(values.get("layers", ()))
        values["scaling_scores"] = {str(k): {str(m): float(x) for m, x in dict(v).items()}
                                    for k, v in dict(values.get("scaling_scores") or {}).items()}
        return cls(**values)

    def with_scaling(self, scaling: str) -> ImportedModel:
        """A copy fed with another input scaling."""
        return replace(self, scaling=scaling)


@dataclass(frozen=True)
class RunRecord:
    """One run: what it is (spec + settings, or an imported file), what it measured, where it came from."""

    key: str
    spec: NetworkSpec | None  # None for an imported run
    settings: TrainSettings | None  # None for an imported run
    history: dict[str, list[float]]  # loss, accuracy, val_loss, val_accuracy per epoch ({} if imported)
    test_accuracy: float
    params: int
    final_map: tuple[int, int] | None  # (side, channels) of the last conv map; None if the model has none
    train_seconds: float
    data_source: str
    data_label: str
    data_fingerprint: str
    versions: dict[str, str] = field(default_factory=dict)  # recorded, not part of the key
    created: str = ""  # ISO 8601, UTC
    shipped: bool = False
    trained_on: str = ""  # host name or Dask worker address ("" in records older than jobs)
    queued_seconds: float = 0.0  # time the job waited before training started
    imported: ImportedModel | None = None
    trained: bool = True  # False: the training failed (`dashboard.training.diagnosis`); imported runs: True
    diagnosis: str | None = None  # why it failed, a sentence; None when it trained
    dead_channels: int | None = None  # last conv channels 0 on every test image (None: not counted)
    commonest_share: float | None = None  # the commonest digit's share of the test set it was measured on
    recipe: dict[str, int] = field(default_factory=dict)  # TensorFlow thread pools (`reproducible.RECIPE`)

    def __post_init__(self) -> None:
        trained = self.spec is not None and self.settings is not None
        if trained == (self.imported is not None) or (self.spec is None) != (self.settings is None):
            raise ValueError("a run has either a network spec and settings, or an imported model; not both")

    # --- what kind of run ------------------------------------------------------------------

    @property
    def kind(self) -> str:
        """'trained' (spec + settings) or 'imported'."""
        return "imported" if self.imported is not None else "trained"

    @property
    def is_imported(self) -> bool:
        """True for a run made from an uploaded model file."""
        return self.imported is not None

    @property
    def seed(self) -> int | None:
        """The training seed (None for an imported run)."""
        return None if self.settings is None else self.settings.seed

    @property
    def failed(self) -> bool:
        """True when the training did not train (an imported run never counts as failed)."""
        return not self.trained

    @property
    def epochs_done(self) -> int:
        """Number of epochs in the history."""
        return len(self.history.get("val_accuracy", []))

    @property
    def val_accuracy(self) -> float:
        """Validation accuracy after the last epoch (nan if none)."""
        values = self.history.get("val_accuracy") or [float("nan")]
        return values[-1]

    @property
    def source_file(self) -> str:
        """The imported file's name (outside text: show it plain), or '' for a trained run."""
        return self.imported.source_file if self.imported is not None else ""

    def trained_alike(self, other: RunRecord) -> bool:
        """True if both runs were trained with the same settings on the same data (a fair comparison)."""
        return (self.settings is not None and self.settings == other.settings
                and self.data_fingerprint == other.data_fingerprint)

    def with_shipped(self, shipped: bool) -> RunRecord:
        """A copy with `shipped` set (the cache decides it from where the entry lives)."""
        return self if self.shipped == shipped else replace(self, shipped=shipped)

    # --- JSON ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the `record.json` layout (trained runs keep the original layout)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["kind"] = self.kind
        out["history"] = {k: list(v) for k, v in self.history.items()}
        out["versions"] = dict(self.versions)
        out["final_map"] = None if self.final_map is None else list(self.final_map)
        if self.imported is None:
            del out["imported"]
            out["spec"], out["settings"] = self.spec.to_dict(), self.settings.to_dict()
        else:
            del out["spec"], out["settings"]
            out["imported"] = self.imported.to_dict()
        return out

    def to_json(self) -> str:
        """Pretty JSON, as stored in `record.json`."""
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> RunRecord:
        """Parse and validate a record (spec and settings included); raise `ValueError` naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("record is not a JSON object")
        kind = data.get("kind", "imported" if data.get("imported") else "trained")
        if kind not in KINDS:
            raise ValueError(f"record has an unknown kind {str(kind)[:20]!r}")
        if kind == "trained" and data.get("imported") or kind == "imported" and (data.get("spec") or data.get("settings")):
            raise ValueError("record has both a network and an imported model; a run is either one or the other")
        required = _TRAINED_REQUIRED if kind == "trained" else _IMPORTED_REQUIRED
        missing = [name for name in required if name not in data]
        if missing:
            raise ValueError(f"record lacks {', '.join(missing)}")
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}  # unknown keys: from a newer app
        try:
            values.update(_parse_measures(data))
            if kind == "trained":
                values["spec"] = NetworkSpec.from_dict(data["spec"])
                values["settings"] = TrainSettings.from_dict(data["settings"])
                values["imported"] = None
            else:
                values["spec"] = values["settings"] = None
                values["imported"] = ImportedModel.from_dict(data["imported"])
        except SpecError as err:
            raise ValueError(f"record's network is not valid ({err})") from None
        except SettingsError as err:
            raise ValueError(f"record's training settings are not valid ({err})") from None
        except (TypeError, ValueError, KeyError) as err:
            raise ValueError(f"record has a malformed field ({str(err)[:120]})") from None
        if not isinstance(values["key"], str):
            raise ValueError("record's key is not a string")
        if kind == "trained" and values["final_map"] != final_map(values["spec"]):
            raise ValueError(f"record's last map {values['final_map']} is not its network's {final_map(values['spec'])}")
        return cls(**values)

    @classmethod
    def from_json(cls, text: str | bytes) -> RunRecord:
        """Parse `record.json` text (bounded in size and nesting); raise `ValueError` on any problem."""
        try:
            data = loads_json(text, max_chars=MAX_RECORD_CHARS, max_depth=MAX_RECORD_DEPTH, what="record.json")
        except OutsideInputError as err:
            raise ValueError(str(err)) from None
        return cls.from_dict(data)


def _parse_measures(data: dict[str, Any]) -> dict[str, Any]:
    """The numeric and text fields of a record, converted and checked (raise TypeError/ValueError)."""
    out: dict[str, Any] = {}
    final = data.get("final_map")
    if final is None:
        out["final_map"] = None
    else:
        side, channels = final
        out["final_map"] = (int(side), int(channels))
    out["history"] = {str(k): [float(x) for x in v] for k, v in dict(data.get("history") or {}).items()}
    out["test_accuracy"] = float(data["test_accuracy"])
    if not 0.0 <= out["test_accuracy"] <= 1.0:
        raise ValueError(f"test_accuracy {out['test_accuracy']} is not between 0 and 1")
    params = data["params"]
    if isinstance(params, bool) or not isinstance(params, int) or params < 0:
        raise ValueError(f"params must be a whole number ≥ 0, not {str(params)[:20]}")
    out["params"] = params
    out["train_seconds"] = float(data.get("train_seconds", 0.0))
    out["queued_seconds"] = float(data.get("queued_seconds", 0.0))
    if not all(math.isfinite(out[name]) and out[name] >= 0 for name in ("train_seconds", "queued_seconds")):
        raise ValueError("train_seconds and queued_seconds must be finite and ≥ 0")
    for name in ("data_source", "data_label", "data_fingerprint", "created", "trained_on"):
        if not isinstance(data.get(name, ""), str):
            raise ValueError(f"{name} is not a string")
    out["versions"] = {str(k): str(v) for k, v in dict(data.get("versions") or {}).items()}
    out["shipped"] = data.get("shipped", False) is True
    out["recipe"] = {str(k): int(v) for k, v in dict(data.get("recipe") or {}).items()}
    out.update(_parse_verdict(data, out))
    return out


def _parse_verdict(data: dict[str, Any], measures: dict[str, Any]) -> dict[str, Any]:
    """`trained`, `diagnosis`, `dead_channels`, `commonest_share`: as stored, or judged now for older records."""
    dead = data.get("dead_channels")
    if dead is not None and (isinstance(dead, bool) or not isinstance(dead, int) or dead < 0):
        raise ValueError("dead_channels must be a whole number ≥ 0 or null")
    share = data.get("commonest_share")
    share = None if share is None else float(share)
    if share is not None and not 0.0 < share <= 1.0:
        raise ValueError("commonest_share must be between 0 and 1")
    out = {"dead_channels": dead, "commonest_share": share}
    if "trained" in data:
        if not isinstance(data["trained"], bool):
            raise ValueError("trained must be true or false")
        sentence = data.get("diagnosis")
        if sentence is not None and not isinstance(sentence, str):
            raise ValueError("diagnosis must be a sentence or null")
        out.update(trained=data["trained"], diagnosis=None if data["trained"] else (sentence or "This training failed."))
        return out
    if data.get("kind") == "imported" or data.get("imported"):
        return {**out, "trained": True, "diagnosis": None}
    final = measures.get("final_map")
    verdict = diagnose(measures["history"], measures["test_accuracy"], share, dead, final[1] if final else None)
    return {**out, "trained": verdict.trained, "diagnosis": verdict.sentence}


# --- keys and stamps ---------------------------------------------------------------------------


def make_key(spec: NetworkSpec, settings: TrainSettings, data_fingerprint: str) -> str:
    """A trained run's key: 16 hex characters hashing the canonical spec, the settings (seed included), the data
    and the thread recipe that makes the training reproducible."""
    payload = json.dumps(
        {"format": KEY_FORMAT, "spec": spec.to_dict(), "settings": settings.to_dict(), "data": data_fingerprint,
         "recipe": RECIPE},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def library_versions() -> dict[str, str]:
    """Versions that produced a model: recorded in each run, never part of its key.

    Read from the installed packages' metadata, so that the server (which records an imported
    model measured by a worker) never imports TensorFlow for it; TensorFlow's own
    `__version__` where no package names it (a build from source).
    """
    import numpy

    return {"python": platform.python_version(), "tensorflow": _installed("tensorflow", "tensorflow-cpu"),
            "keras": _installed("keras"), "numpy": numpy.__version__}


def _installed(*names: str) -> str:
    """The version of the first installed distribution of `names`, else the module's `__version__`."""
    from importlib import metadata

    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    module = __import__(names[0])
    return str(module.__version__)


def now_iso() -> str:
    """The current time, ISO 8601 in UTC to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def trained_record(key: str, spec: NetworkSpec, settings: TrainSettings, data: Any, result: Any,
                   trained_on: str = "", queued_seconds: float = 0.0) -> RunRecord:
    """The record of a finished training (`data`: its `MnistData`; `result`: its `TrainResult`), judged."""
    channels = final_map(spec)[1]
    verdict = diagnose(result.history, result.test_accuracy, result.commonest_share, result.dead_channels, channels)
    return RunRecord(
        key=key, spec=spec, settings=settings,
        history={k: [float(x) for x in v] for k, v in result.history.items()},
        test_accuracy=float(result.test_accuracy), params=int(result.model.count_params()),
        final_map=final_map(spec), train_seconds=round(float(result.train_seconds), 3),
        data_source=data.source, data_label=data.label, data_fingerprint=data.fingerprint,
        versions=library_versions(), created=now_iso(), shipped=False, trained_on=trained_on,
        queued_seconds=round(max(float(queued_seconds), 0.0), 3), trained=verdict.trained,
        diagnosis=verdict.sentence, dead_channels=result.dead_channels,
        commonest_share=None if result.commonest_share is None else round(result.commonest_share, 6),
        recipe=dict(result.recipe),
    )


# --- finding runs ------------------------------------------------------------------------------


def find_run(
    runs: Iterable[RunRecord],
    *,
    spec: NetworkSpec | None = None,
    settings: TrainSettings | None = None,
    data_fingerprint: str | None = None,
    shipped: bool | None = None,
) -> RunRecord | None:
    """The first run matching every criterion given (typed equality), or None."""
    for run in runs:
        if spec is not None and run.spec != spec:
            continue
        if settings is not None and run.settings != settings:
            continue
        if data_fingerprint is not None and run.data_fingerprint != data_fingerprint:
            continue
        if shipped is not None and run.shipped != shipped:
            continue
        return run
    return None


def shipped_book(runs: Iterable[RunRecord]) -> RunRecord | None:
    """The shipped run of the book network trained with the book's settings, if present."""
    from dashboard.network.spec import BOOK
    from dashboard.training.train_settings import TRAIN_PRESETS

    return find_run(runs, spec=BOOK, settings=TRAIN_PRESETS["book"], shipped=True)
