"""The command line's view of training jobs: submit runs, one progress bar per job, wait.

Used by `python -m dashboard train` and `warm`. Bars are `rich` progress bars on stderr (rich
comes with Keras); without a terminal, each job's state changes are printed as lines instead.
Either way, what happens on the cluster is printed as whole lines when it changes: its health
(`JobManager.health`: no worker connected, a worker lost, the scheduler not answering), a job's
note (back in line, started over) and a failed job's reason, never cut to the terminal's width.
Ctrl-C cancels every job still active (nothing is stored for them).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from dashboard.jobs.job_manager import DONE, FAILED, JobManager, JobStatus

POLL_SECONDS = 0.25
CLI_SESSION = "command line"


def manager_for_cli(cache: Any) -> JobManager:
    """A job manager for this process: no per-session cap (a grid is one person's plan)."""
    manager = JobManager(cache, max_per_session=10_000, max_queued=10_000)
    manager.client()  # connect now, so a fallback notice comes before any progress
    if manager.notice:
        print(f"warning: {manager.notice}", file=sys.stderr)
    print(manager.describe(), file=sys.stderr)
    if not manager.remote:  # a configured cluster's workers check their own budgets
        print(manager.describe_budget(), file=sys.stderr)
    return manager


def watch(manager: JobManager, submitted: list[tuple[str, JobStatus]]) -> list[JobStatus]:
    """Show every job until none is active; their final statuses (same order)."""
    try:
        if sys.stderr.isatty():
            return _watch_bars(manager, submitted)
        return _watch_lines(manager, submitted)
    except KeyboardInterrupt:
        for _, status in submitted:
            manager.cancel(status.id)
        for _, status in submitted:
            manager.wait(status.id, 30)
        raise


def _latest(manager: JobManager, status: JobStatus) -> JobStatus:
    return manager.status(status.id) or status  # cached runs are not jobs: they stay as given


class _News:
    """Whole lines about the cluster and the jobs, each printed once when it changes."""

    def __init__(self) -> None:
        self.health = ""
        self.notes: dict[str, str] = {}
        self.failed: set[str] = set()

    def lines(self, manager: JobManager, submitted: list[tuple[str, JobStatus]], latest: list[JobStatus]) -> list[str]:
        """New lines since the last call: the cluster's health, each job's note and failure reason."""
        out = []
        if any(status.active for status in latest):
            health = manager.health()
            if health.sentence and health.sentence != self.health:
                out.append(f"cluster: {health.sentence}")
            self.health = health.sentence
        for (label, _), status in zip(submitted, latest):
            if status.note and self.notes.get(status.id) != status.note:
                out.append(f"{label}: {status.note}")
                self.notes[status.id] = status.note
            if status.state == FAILED and status.id not in self.failed:
                out.append(f"{label}: failed: {status.message}")
                self.failed.add(status.id)
        return out


def _watch_bars(manager: JobManager, submitted: list[tuple[str, JobStatus]]) -> list[JobStatus]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[state]}"), TimeElapsedColumn())
    news = _News()
    with Progress(*columns, console=Console(stderr=True), refresh_per_second=4) as bars:
        tasks = [bars.add_task(label, total=1.0, state=status.describe()) for label, status in submitted]
        while True:
            latest = [_latest(manager, status) for _, status in submitted]
            for line in news.lines(manager, submitted, latest):
                bars.console.print(line, markup=False, highlight=False, soft_wrap=True)
            for task, status in zip(tasks, latest):
                state = "failed (the reason is above)" if status.state == FAILED else status.describe()
                bars.update(task, completed=status.fraction, state=state)
            if not any(status.active for status in latest):
                return latest
            time.sleep(POLL_SECONDS)


def _watch_lines(manager: JobManager, submitted: list[tuple[str, JobStatus]]) -> list[JobStatus]:
    shown: dict[str, str] = {}
    news = _News()
    while True:
        latest = [_latest(manager, status) for _, status in submitted]
        for line in news.lines(manager, submitted, latest):
            print(line, file=sys.stderr)
        for (label, _), status in zip(submitted, latest):
            if status.state == FAILED:
                continue  # its reason is one of the news lines
            line = (f"running, epoch {status.epoch}/{status.epochs}" if status.state == "running" and status.batches
                    else status.describe())
            if shown.get(status.id) != line:
                shown[status.id] = line
                print(f"{label}: {line}", file=sys.stderr)
        if not any(status.active for status in latest):
            return latest
        time.sleep(POLL_SECONDS)


def unstored(statuses: list[JobStatus]) -> list[str]:
    """Messages of runs that finished but could not be stored (the CLI exits 2 with them)."""
    return [status.message for status in statuses if status.state == DONE and not status.stored]
