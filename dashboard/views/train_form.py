"""The Train page as data: what its settings widgets offer, which data it offers, and what it shows.

The page reads its widgets into a plain mapping (widget key → value) and calls these functions;
everything that decides something lives here, where unit tests reach it:

- the values each widget offers, a preset (or a cached run's settings) as widget values, and
  widget values as `TrainSettings`;
- the data choices that really differ (offline, "the app's data" *is* the embedded subset, so
  only one is offered) and their names;
- the settings in a link (`settings_to_link`, `settings_from_link`): the preset the form
  started from, and a compact text of what differs from it;
- how long a training will take (`estimated_seconds`, `duration_words`), from the network's
  multiply-adds and the images and epochs;
- what the page shows for one network, settings and data (`train_view`): the cached run, its
  job, why it cannot be trained, and the cached runs of the same network under other data or
  settings (so the page never says "not in the cache" while a run of that network exists).

Pure Python: no Streamlit, no TensorFlow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dashboard.jobs.job_status import JobStatus
from dashboard.mnist.data import MnistData
from dashboard.network.spec import NetworkSpec
from dashboard.network.summaries import multiply_adds, training_problems
from dashboard.outside import plain
from dashboard.store.run import RunRecord, make_key
from dashboard.training.train_settings import (
    MAX_EPOCHS,
    MIN_EPOCHS,
    OPTIMIZERS,
    SCHEDULES,
    TRAIN_PRESETS,
    TrainSettings,
)
from dashboard.training.trainer import VALIDATION_SPLIT
from dashboard.views.labels import dataset_name

BATCH_SIZES = (16, 32, 64, 128, 256, 512)
LEARNING_RATES = (1e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 1e-2)
SMOOTHINGS = (0.0, 0.05, 0.1, 0.2)
SIZE_STEP = 500  # the training-set size slider's step
FIELDS = {  # widget key → TrainSettings field
    "train_epochs": "epochs",
    "train_batch": "batch_size",
    "train_optimizer": "optimizer",
    "train_lr": "learning_rate",
    "train_schedule": "schedule",
    "train_smoothing": "label_smoothing",
    "train_seed": "seed",
}
DATA_KEYS = ("auto", "embedded")  # `dashboard.mnist.data.load_mnist` sources the page may offer
MAX_RELATED = 6  # cached runs of the same network listed on the page


# --- settings ↔ widgets ----------------------------------------------------------------------


def size_max(n_train: int) -> int:
    """The size slider's top: the training images rounded down to a step (at least one step)."""
    return max(SIZE_STEP, n_train - n_train % SIZE_STEP)


def clamp_size(value: Any, n_train: int) -> int:
    """A size slider value kept inside the slider's range for data of `n_train` images."""
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = size_max(n_train)
    return min(max(size, SIZE_STEP), size_max(n_train))


def fits_form(settings: TrainSettings) -> bool:
    """True if the form's widgets can show `settings` exactly (a CLI run may use other values)."""
    return (settings.batch_size in BATCH_SIZES and settings.learning_rate in LEARNING_RATES
            and settings.label_smoothing in SMOOTHINGS and settings.warmup == 0
            and MIN_EPOCHS <= settings.epochs <= MAX_EPOCHS and settings.optimizer in OPTIMIZERS
            and settings.schedule in SCHEDULES
            and (settings.train_size is None or settings.train_size % SIZE_STEP == 0))


def widget_values(settings: TrainSettings) -> dict[str, Any]:
    """The widget values that show `settings` (the size slider only when a size is set)."""
    values: dict[str, Any] = {widget: getattr(settings, name) for widget, name in FIELDS.items()}
    values["train_all"] = settings.train_size is None
    if settings.train_size is not None:
        values["train_size"] = settings.train_size
    return values


def preset_values(name: str) -> dict[str, Any]:
    """The widget values of training preset `name` (all training images)."""
    return widget_values(TRAIN_PRESETS[name])


def settings_from_values(values: Mapping[str, Any], n_train: int) -> TrainSettings:
    """The settings the widgets show; raises `SettingsError` for values no widget offers."""
    size = None if values["train_all"] else int(values["train_size"])
    if size is not None and size >= n_train:
        size = None  # "all but nothing" is all
    return TrainSettings(
        epochs=int(values["train_epochs"]),
        batch_size=int(values["train_batch"]),
        optimizer=str(values["train_optimizer"]),
        learning_rate=float(values["train_lr"]),
        train_size=size,
        seed=int(values["train_seed"]),
        schedule=str(values["train_schedule"]),
        label_smoothing=float(values["train_smoothing"]),
    )


# --- settings in a link ----------------------------------------------------------------------
#
# `?train=<preset>&settings=<parts>`: the preset the form started from, and each widget value
# that differs from it as one part, parts joined by "~" (left alone in a URL):
# `3ep~b128~adam~lr0.004~cosine~ls0.1~n5000~seed7` (`all` for every training image).

LINK_SEPARATOR = "~"
MAX_LINK_CHARS = 300  # longer than any canonical settings text; a longer one is refused unread
MAX_SEED = 2**31 - 1
_PART = re.compile(r"^(?:(?P<epochs>\d{1,4})ep|b(?P<batch>\d{1,4})|lr(?P<lr>[0-9.e\-]{1,12})|ls(?P<smoothing>[0-9.]{1,6})"
                   r"|n(?P<size>\d{1,7})|(?P<all>all)|seed(?P<seed>\d{1,10})|(?P<name>[a-z_]{1,20}))$")


def _part(key: str, value: Any) -> str:
    """One widget value as its link part."""
    if key == "train_epochs":
        return f"{int(value)}ep"
    if key == "train_batch":
        return f"b{int(value)}"
    if key == "train_lr":
        return f"lr{float(value):g}"
    if key == "train_smoothing":
        return f"ls{float(value):g}"
    if key == "train_seed":
        return f"seed{int(value)}"
    return str(value)  # optimizer, schedule


def settings_to_link(values: Mapping[str, Any], preset: str) -> str | None:
    """The link text of the widget `values` against training preset `preset` (None if they are the preset)."""
    base = preset_values(preset)
    parts = [_part(key, values[key]) for key in FIELDS if values[key] != base[key]]
    if not values["train_all"]:
        parts.append(f"n{int(values['train_size'])}")
    return LINK_SEPARATOR.join(parts) or None


def _offered(text: str, offered: Iterable[float]) -> float | None:
    """The offered value equal to the number `text`, or None."""
    try:
        number = float(text)
    except ValueError:
        return None
    return next((v for v in offered if math.isclose(v, number, rel_tol=1e-9, abs_tol=1e-12)), None)


def _read_part(part: str) -> tuple[str, Any] | None:
    """(widget key, value) of one link part, or None if it is malformed or names a value no widget offers."""
    match = _PART.match(part)
    if match is None:
        return None
    found = {name: text for name, text in match.groupdict().items() if text is not None}
    name, text = next(iter(found.items()))
    if name == "epochs" and MIN_EPOCHS <= int(text) <= MAX_EPOCHS:
        return "train_epochs", int(text)
    if name == "batch" and int(text) in BATCH_SIZES:
        return "train_batch", int(text)
    if name == "lr" and (lr := _offered(text, LEARNING_RATES)) is not None:
        return "train_lr", lr
    if name == "smoothing" and (smoothing := _offered(text, SMOOTHINGS)) is not None:
        return "train_smoothing", smoothing
    if name == "size" and int(text) >= SIZE_STEP and int(text) % SIZE_STEP == 0:
        return "train_size", int(text)
    if name == "all":
        return "train_all", True
    if name == "seed" and int(text) <= MAX_SEED:
        return "train_seed", int(text)
    if name == "name" and text in OPTIMIZERS:
        return "train_optimizer", text
    if name == "name" and text in SCHEDULES:
        return "train_schedule", text
    return None


def settings_from_link(preset: str, text: str | None) -> tuple[dict[str, Any], str | None]:
    """The widget values of preset `preset` changed by the link text `text`, and a warning (plain text)
    quoting the parts that were not used (each falls back to the preset's value)."""
    values = preset_values(preset)
    if text is None:
        return values, None
    if len(text) > MAX_LINK_CHARS:
        return values, f"The link's training settings are too long ({len(text):,} characters); using the {preset} preset."
    bad = []
    for part in text.split(LINK_SEPARATOR):
        read = _read_part(part)
        if read is None:
            bad.append(part)
            continue
        key, value = read
        values[key] = value
        if key == "train_size":
            values["train_all"] = False
    if not bad:
        return values, None
    quoted = ", ".join(repr(plain(part, 40)) for part in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
    return values, f"Ignored training settings {quoted} in the link; the {preset} preset's values are used instead."


# --- how long it takes -----------------------------------------------------------------------

# Calibrated on the project's 2-core machine against the shipped runs' training times: the book
# network (2,794,240 multiply-adds per image), fast preset (one epoch, batch 64), full MNIST
# (54,000 training images, 844 steps) trained in 22-29 s when the machine was quiet, 25-40 s
# with other work; the tiny network (201,184) in 10 s, where the per-step cost dominates.
START_SECONDS = 3.0  # building the network and the first step's tracing
STEP_SECONDS = 0.008  # a training step's fixed cost, whatever the batch size
MAC_SECONDS = 1.3e-10  # one multiply-add of a training image, forward and backward
EVAL_SHARE = 1 / 3  # a validation or test image runs forward only


def estimated_seconds(spec: NetworkSpec, settings: TrainSettings, n_train: int, n_test: int) -> float:
    """Seconds a training of `spec` with `settings` on `n_train` images (then a test on `n_test`)
    takes on a quiet 2-core server: a rough figure, from the network's multiply-adds."""
    used = n_train if settings.train_size is None else min(settings.train_size, n_train)
    fit = int(used * (1.0 - VALIDATION_SPLIT))
    steps = -(-fit // settings.batch_size)
    per_image = multiply_adds(spec) * MAC_SECONDS
    evaluated = (used - fit) * settings.epochs + n_test
    return (START_SECONDS + settings.epochs * (steps * STEP_SECONDS + fit * per_image)
            + evaluated * per_image * EVAL_SHARE)


def duration_words(seconds: float) -> str:
    """'about 30 s', 'about 4 min', 'about 2 h': a rough duration said roughly."""
    if seconds < 55:
        return f"about {max(5, round(seconds / 5) * 5)} s"
    if seconds < 55 * 60:
        return f"about {max(1, round(seconds / 60))} min"
    return f"about {seconds / 3600:.1f} h".replace(".0 h", " h")


# --- data ------------------------------------------------------------------------------------


def data_choices(app_data: MnistData, embedded: MnistData) -> dict[str, str]:
    """{data key: its name} for the data that really differ: the app's data and the embedded subset,
    or only the embedded subset when the app's data is that very subset (offline)."""
    if app_data.fingerprint == embedded.fingerprint:
        return {"embedded": dataset_name(embedded)}
    return {"auto": dataset_name(app_data), "embedded": dataset_name(embedded)}


# --- what the page shows -------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainView:
    """Everything the Train page shows about one network, settings and data."""

    key: str  # the run's cache key
    record: RunRecord | None  # the cached run of exactly these, if any
    job: JobStatus | None  # the newest job of this key in this server, if any
    too_big: list[str] = field(default_factory=list)  # why the app will not train it (empty: it will)
    related: list[RunRecord] = field(default_factory=list)  # cached runs of the same network, otherwise trained
    settings: TrainSettings | None = None  # the settings asked for

    @property
    def alike(self) -> RunRecord | None:
        """A related run with these very settings (so on other data), if any."""
        return next((run for run in self.related if run.settings == self.settings), None)

    @property
    def state(self) -> str:
        """'cached', 'too big', 'training' (queued or running), 'unstored', 'failed', 'cancelled' or 'new'."""
        if self.record is not None:
            return "cached"
        if self.too_big:
            return "too big"
        if self.job is not None and self.job.active:
            return "training"
        if self.job is not None and self.job.state == "done" and self.job.record is not None:
            return "unstored"
        if self.job is not None and self.job.state in ("failed", "cancelled"):
            return self.job.state
        return "new"


def related_runs(runs: Iterable[RunRecord], spec: NetworkSpec, key: str,
                 available: Iterable[str] = ()) -> list[RunRecord]:
    """Cached runs of `spec` other than `key`: those on data available here first, then newest first."""
    here = set(available)
    same = [run for run in runs if run.spec == spec and run.key != key]
    # Newest first within each group ("created" is ISO 8601 UTC, so it sorts as text).
    on_here = sorted((r for r in same if r.data_fingerprint in here), key=lambda r: r.created, reverse=True)
    elsewhere = sorted((r for r in same if r.data_fingerprint not in here), key=lambda r: r.created, reverse=True)
    return (on_here + elsewhere)[:MAX_RELATED]


def train_view(spec: NetworkSpec, settings: TrainSettings, data: MnistData, runs: Iterable[RunRecord],
               job_for_key: Any, available: Iterable[str] = ()) -> TrainView:
    """What to show for `spec` trained with `settings` on `data`, from the cached `runs` and the jobs.

    `job_for_key(key)` is the job manager's lookup; `available` the fingerprints of the data this
    server can train on (their related runs can be shown on this very page).
    """
    runs = list(runs)
    key = make_key(spec, settings, data.fingerprint)
    record = next((run for run in runs if run.key == key), None)
    return TrainView(
        key=key,
        record=record,
        job=job_for_key(key),
        too_big=training_problems(spec) if record is None else [],
        related=related_runs(runs, spec, key, available),
        settings=settings,
    )
