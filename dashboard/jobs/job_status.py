"""What a training job looks like from outside: its states and an immutable status snapshot.

Pages, the command line and tests read `JobStatus`; `dashboard.jobs.job_manager` makes them. Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboard.network.spec import NetworkSpec
from dashboard.store.run import RunRecord
from dashboard.training.train_settings import TrainSettings

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING)


def default_label(spec: NetworkSpec, settings: TrainSettings) -> str:
    """A short name for a job: the presets' names where they fit, else the descriptions."""
    from dashboard.network.spec import preset_name
    from dashboard.training.train_settings import train_preset_name

    how = train_preset_name(settings)
    return f"{preset_name(spec) or spec.describe()} · {how + ' preset' if how else settings.describe()}"


def wait_phrase(wait: tuple[float, float] | None) -> str:
    """An expected wait in words: 'expected wait about 4 minutes', '… 3–6 minutes', '… unknown'."""
    if wait is None:
        return "expected wait unknown"
    soonest, latest = sorted(wait)
    if latest < 60:
        return "expected wait under a minute"
    low, high = max(1, round(soonest / 60)), max(1, round(latest / 60))
    if high - low <= max(1, high // 4):
        minutes = round((soonest + latest) / 120) or 1
        return f"expected wait about {minutes} minute{'s' if minutes != 1 else ''}"
    return f"expected wait {low}–{high} minutes"


class JobLimitError(RuntimeError):
    """Too many queued jobs (for this session or this server); the message says which limit."""


class NotEnoughMemory(JobLimitError):
    """The training does not fit this machine's memory budget; the message gives the numbers and what to do."""


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of one job for pages and the CLI (never changes once returned)."""

    id: str
    key: str  # the run's cache key
    label: str
    state: str  # queued, running, done, failed, cancelled
    submitted: float  # time.time()
    place: int | None = None  # 1-based place in the cluster's line while queued (every client's trainings)
    wait: tuple[float, float] | None = None  # expected wait while queued: (soonest, latest) seconds; None: unknown
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    loss: float = float("nan")
    accuracy: float = float("nan")  # running accuracy of the current epoch
    history: dict[str, list[float]] = field(default_factory=dict)
    record: RunRecord | None = None
    message: str = ""  # why it failed, or why a finished run could not be stored
    stored: bool = False
    cached: bool = False  # done at submit time: the run was in the cache
    trained_on: str = ""
    finished: float | None = None
    note: str = ""  # what happened to it on the cluster, in words (its worker was lost, it started over)
    restarts: int = 0  # times it started over on another worker

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.state in ACTIVE

    @property
    def fraction(self) -> float:
        """Share of the training done, 0..1."""
        if self.state == DONE:
            return 1.0
        if not self.epochs or not self.batches:
            return 0.0
        return min(1.0, ((self.epoch - 1) + self.batch / self.batches) / self.epochs)

    def describe(self) -> str:
        """One line: 'queued (number 2 in line)', 'epoch 1/2 · batch 200/422 · accuracy 97.10%', …"""
        if self.state == QUEUED:
            return f"queued (number {self.place} in line, {wait_phrase(self.wait)})" if self.place else "queued"
        if self.state == RUNNING:
            if not self.batches:
                return "starting…"
            return (f"epoch {self.epoch}/{self.epochs} · batch {self.batch}/{self.batches} · "
                    f"running accuracy {self.accuracy:.2%}")
        if self.state == DONE and self.record is not None:
            where = " (trained before: from the cache)" if self.cached else (" (not stored)" if not self.stored else "")
            return f"done: test accuracy {self.record.test_accuracy:.2%}{where}"
        return f"{self.state}: {self.message}" if self.message else self.state
