"""The cluster's health and its one queue, in plain words, from what the Dask scheduler itself reports.

`cluster_snapshot` runs on the scheduler (`Client.run_on_scheduler`): its workers, what each is
executing, and every training task of every client (the app's sessions, the command line, other
app servers on the same cluster) with its state, its priority and how many of its workers died.
`read_snapshot` checks that answer as outside input and makes a `ClusterView`. From a view:

- `ClusterView.place`: a job's place in the one line of the cluster (training tasks not yet
  executing, in the scheduler's priority order, which is the order it starts them in);
- `expected_wait`: when a job should start, from the running trainings' progress and the
  durations of trainings seen finishing, as a range in seconds, or None when nothing tells;
- `lost_jobs`: jobs whose worker left the cluster while it trained them (Dask puts them back
  in line, and they start over);
- `judge`: a `Health` value: no scheduler, no worker, a worker lost, starting a worker, or fine,
  each with a sentence that says what happens next.

Pure Python: no Dask import, no Streamlit. `dashboard.jobs.job_watch` asks the scheduler and keeps the views.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

TRAIN_PREFIX = "convnet-train-"  # `dashboard.jobs.job_manager` names a training's Dask task `convnet-train-<job id>`
ACTIVE_TASK_STATES = ("released", "waiting", "queued", "no-worker", "processing")
MAX_TASKS = 2000  # a view keeps at most this many training tasks (a larger answer is cut, in priority order)
MAX_WORKERS = 1000
SEQUENCES = (list, tuple)
LOSS_SHOWN_SECONDS = 60.0  # a lost worker is mentioned this long after it left (while others are connected)

# Health states, worst first.
NO_SCHEDULER, NO_WORKER, WORKER_LOST, STARTING, OK, UNKNOWN = (
    "no scheduler", "no worker", "worker lost", "starting", "ok", "unknown")
ALARMS = (NO_SCHEDULER, NO_WORKER)  # a lost worker with others connected is said, not alarmed: its job goes on


class _QuietPolls(logging.Filter):
    """Drops the scheduler's log line for each of these questions (every 2 s per app: it buried the rest)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == "Run out-of-band function %r" and record.args == ("cluster_snapshot",))


def _quiet_polls() -> None:
    """Keep the scheduler's log for what happens on the cluster (once per process)."""
    logger = logging.getLogger("distributed.worker")  # Dask logs run_on_scheduler's calls here
    if not any(isinstance(f, _QuietPolls) for f in logger.filters):
        logger.addFilter(_QuietPolls())


def cluster_snapshot(dask_scheduler: Any = None) -> dict[str, Any]:
    """Run on the scheduler: its workers and every client's training tasks, as plain data (lists, str, numbers)."""
    _quiet_polls()
    scheduler = dask_scheduler
    workers = []
    for address, worker in list(scheduler.workers.items())[:MAX_WORKERS]:
        executing = [str(getattr(task, "key", task)) for task in list(getattr(worker, "executing", {}))]
        workers.append({"address": str(address), "threads": int(worker.nthreads), "executing": executing})
    tasks = []
    for key, task in list(scheduler.tasks.items()):
        if not str(key).startswith(TRAIN_PREFIX) or task.state not in ACTIVE_TASK_STATES:
            continue
        where = task.processing_on
        tasks.append({"key": str(key), "state": str(task.state), "worker": str(where.address) if where else "",
                      "priority": [float(p) for p in (task.priority or ())], "lost": int(task.suspicious)})
    return {"workers": workers, "tasks": tasks, "retries": int(getattr(scheduler, "allowed_failures", -1))}


@dataclass(frozen=True)
class WorkerView:
    """One worker as the scheduler sees it."""

    address: str
    threads: int
    executing: tuple[str, ...]  # job ids of the trainings it is executing


@dataclass(frozen=True)
class TaskView:
    """One training task (any client's) as the scheduler sees it."""

    job: str  # the job id (the task's key without `TRAIN_PREFIX`)
    state: str  # Dask's task state: queued, no-worker, processing, …
    worker: str  # the worker it is assigned to ("" while in line)
    priority: tuple[float, ...]
    lost: int  # how many workers died while it was assigned to them (Dask's `suspicious`)


@dataclass(frozen=True)
class ClusterView:
    """What the scheduler reported at `asked` (time.time() when the question left)."""

    workers: tuple[WorkerView, ...]
    tasks: tuple[TaskView, ...] | None  # None: the scheduler could not list its tasks (only its workers are known)
    retries: int  # Dask's allowed failures: a job whose worker died more often fails (-1: unknown)
    asked: float

    @property
    def threads(self) -> int:
        """Trainings the connected workers can run at once."""
        return sum(worker.threads for worker in self.workers)

    @property
    def executing(self) -> dict[str, str]:
        """Job id → address of the worker executing it."""
        return {job: worker.address for worker in self.workers for job in worker.executing}

    def line(self) -> list[TaskView]:
        """Every training waiting to run, all clients together, in the order the scheduler starts them."""
        running = self.executing
        waiting = [task for task in self.tasks or () if task.job not in running]
        return sorted(waiting, key=lambda task: task.priority)

    def task(self, job: str) -> TaskView | None:
        """The task of job `job`, if the scheduler has it in an active state."""
        return next((task for task in self.tasks or () if task.job == job), None)

    def place(self, job: str) -> int | None:
        """1-based place of job `job` in the cluster's line (None if it is not waiting there)."""
        for index, task in enumerate(self.line()):
            if task.job == job:
                return index + 1
        return None


class SnapshotError(ValueError):
    """The scheduler's answer is not the plain data `cluster_snapshot` returns."""


def _text(value: Any, limit: int = 300) -> str:
    if not isinstance(value, str):
        raise SnapshotError(f"expected text, got {type(value).__name__}")
    return value[:limit]


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SnapshotError(f"expected a whole number, got {type(value).__name__}")
    return value


def read_snapshot(raw: Any, asked: float) -> ClusterView:
    """`cluster_snapshot`'s answer checked (types, sizes) into a `ClusterView`; raises `SnapshotError`.

    Lists may arrive as tuples (msgpack reads every array as one).
    """
    if not isinstance(raw, Mapping) or not isinstance(raw.get("workers"), SEQUENCES):
        raise SnapshotError("the scheduler's answer is not a mapping with a list of workers")
    workers = []
    for item in raw["workers"][:MAX_WORKERS]:
        if not isinstance(item, Mapping) or not isinstance(item.get("executing"), SEQUENCES):
            raise SnapshotError("a worker entry is not a mapping with a list of executing tasks")
        executing = tuple(_text(key)[len(TRAIN_PREFIX):] for key in item["executing"]
                          if isinstance(key, str) and key.startswith(TRAIN_PREFIX))
        workers.append(WorkerView(_text(item.get("address")), max(0, _count(item.get("threads"))), executing))
    tasks = None
    if isinstance(raw.get("tasks"), SEQUENCES):
        tasks = []
        for item in raw["tasks"][:MAX_TASKS]:
            if not isinstance(item, Mapping) or not isinstance(item.get("priority"), SEQUENCES):
                raise SnapshotError("a task entry is not a mapping with a priority list")
            key = _text(item.get("key"))
            priority = tuple(float(p) for p in item["priority"] if isinstance(p, (int, float)) and math.isfinite(p))
            tasks.append(TaskView(key[len(TRAIN_PREFIX):], _text(item.get("state"), 40), _text(item.get("worker")),
                                  priority, max(0, _count(item.get("lost")))))
        tasks = tuple(tasks)
    retries = raw.get("retries", -1)
    return ClusterView(tuple(workers), tasks, retries if isinstance(retries, int) and retries >= -1 else -1, asked)


def workers_only(addresses: Iterable[tuple[str, int]], asked: float) -> ClusterView:
    """A view from the scheduler's list of workers alone ((address, threads) pairs): tasks unknown."""
    return ClusterView(tuple(WorkerView(str(a), int(t), ()) for a, t in addresses), None, -1, asked)


# --- the jobs of one app -------------------------------------------------------------------------


def lost_jobs(view: ClusterView, running_on: Mapping[str, str], heard: Mapping[str, float]) -> dict[str, str]:
    """Jobs that lost their worker: job id → the address it ran on.

    `running_on`: this app's running jobs and their worker's address; `heard`: when each last
    reported progress (time.time()). A job is lost when the scheduler, asked after that report,
    has its task back in line or on another worker. A job whose task is gone (finished, failed,
    cancelled) is left to its future.
    """
    if view.tasks is None:
        present = {worker.address for worker in view.workers}
        return {job: worker for job, worker in running_on.items()
                if worker and view.asked > heard.get(job, 0.0) and worker not in present}
    lost = {}
    for job, worker in running_on.items():
        task = view.task(job)
        if not worker or task is None or view.asked <= heard.get(job, 0.0):
            continue
        if task.state != "processing" or task.worker != worker:
            lost[job] = worker
    return lost


def will_fail(view: ClusterView, job: str) -> bool:
    """True when job `job` lost more workers than Dask allows: it fails instead of going back in line."""
    task = view.task(job)
    return task is not None and view.retries >= 0 and task.lost > view.retries


# --- how long -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """The latest progress a training reported (any client's), as received."""

    fraction: float  # 0..1
    seconds: float  # since its training began
    heard: float  # time.time() when it arrived


def remaining(progress: Progress | None, now: float) -> float | None:
    """Seconds a running training still needs, projected from its pace (None before 2% of it is done)."""
    if progress is None or progress.fraction < 0.02 or progress.seconds <= 0:
        return None
    total = progress.seconds / progress.fraction
    return max(0.0, total - progress.seconds - max(0.0, now - progress.heard))


def expected_wait(ahead: int, running_left: list[float | None], slots: int,
                  durations: list[float]) -> tuple[float, float] | None:
    """(soonest, latest) seconds until the next job after `ahead` waiting ones starts; None when unknown.

    `running_left`: what each executing training still needs (None: not known); `slots`: trainings
    the workers run at once; `durations`: how long trainings took (seen finishing, or projected).
    The soonest uses the shortest duration for every unknown, the latest the longest.
    """
    if slots <= 0:
        return None
    known = [d for d in durations if d > 0 and math.isfinite(d)]
    if not known and (ahead > 0 or (None in running_left and len(running_left) >= slots)):
        return None
    bounds = []
    for guess in (min(known, default=0.0), max(known, default=0.0)):
        free = sorted(guess if left is None else left for left in running_left)[:slots]
        free += [0.0] * (slots - len(free))
        heapq.heapify(free)
        for _ in range(ahead):
            heapq.heappush(free, heapq.heappop(free) + guess)
        bounds.append(free[0])
    return bounds[0], bounds[1]


# --- health -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    """A worker that left the cluster while it was training."""

    worker: str
    at: float  # time.time()
    jobs: tuple[str, ...] = ()  # the trainings it was executing


@dataclass(frozen=True)
class Health:
    """The cluster's state in one value: `state` (see ALARMS) and a plain sentence saying what happens next."""

    state: str
    sentence: str

    @property
    def alarm(self) -> bool:
        """True when jobs cannot go on (no scheduler, no worker): say it loudly."""
        return self.state in ALARMS


def workers_lost(before: ClusterView | None, after: ClusterView, at: float) -> list[Loss]:
    """Workers that were executing a training in `before` and are gone in `after`."""
    if before is None:
        return []
    present = {worker.address for worker in after.workers}
    return [Loss(worker.address, at, worker.executing) for worker in before.workers
            if worker.executing and worker.address not in present]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def clock(at: float) -> str:
    """A wall-clock time of day, HH:MM:SS (local time)."""
    return time.strftime("%H:%M:%S", time.localtime(at))


def judge(view: ClusterView | None, *, kind: str, address: str, now: float, unanswered: float | None = None,
          waiting: int = 0, losses: Iterable[Loss] = (), fallback: str = "",
          running: Iterable[str] | None = None) -> Health:
    """The cluster's health from its latest view.

    `kind`: "cluster" (a scheduler elsewhere), "pool" (the app's own worker processes, started for
    the work) or "in-process"; `unanswered`: seconds the scheduler has not answered (None: it did);
    `waiting`: this app's jobs in line; `losses`: workers lost lately; `fallback`: where jobs go if
    the scheduler stays away ("" when they go nowhere else); `running`: the trainings running now, when
    known better than the view's (the scheduler learns what a worker executes from its heartbeat, a
    second or two late; the trainings' own progress events are on time).
    """
    recent = [loss for loss in losses if now - loss.at <= LOSS_SHOWN_SECONDS]
    if unanswered is not None:
        then = (f"If the connection breaks, the jobs go to {fallback} instead and a running one starts over there; "
                "until then they wait." if fallback else
                "If the connection breaks, its jobs fail and nothing of them is stored; until then they wait.")
        return Health(NO_SCHEDULER, f"The Dask scheduler at {address} has not answered for {unanswered:.0f} s. {then}")
    if view is None:
        return Health(UNKNOWN, "")
    wait = ("your job waits in line and starts" if waiting == 1 else
            "your jobs wait in line and start" if waiting else "jobs wait in line and start")
    running = set(view.executing) if running is None else set(running)
    if not view.workers and running:  # a worker joined since the view was taken and began a training
        return Health(OK, "A worker joined and is starting the training.")
    if not view.workers:
        if kind == "pool":
            if not waiting:
                return Health(OK, "No worker process is running; one starts for the next job.")
            return Health(STARTING, "Starting a worker process for the jobs (the first training takes about 10 s "
                                    "more while TensorFlow loads).")
        lost = f"The worker {recent[-1].worker} was lost at {clock(recent[-1].at)}. " if recent else ""
        return Health(NO_WORKER, f"{lost}No worker is connected to the cluster at {address}; {wait} when one joins.")
    line = [task for task in view.line() if task.job not in running] if view.tasks is not None else []
    counts = (f"{_plural(len(view.workers), 'worker')} connected ({_plural(view.threads, 'training')} at once); "
              f"{len(running)} training, {len(line)} waiting in line" if view.tasks is not None
              else f"{_plural(len(view.workers), 'worker')} connected")
    if recent and kind != "pool":
        loss = recent[-1]
        back = view.tasks is None or any(view.task(job) is not None for job in loss.jobs)
        then = ("Dask put the job it trained back in line, to start over from epoch 1" if back else
                "the job it trained has ended (its line in the list says how)")
        return Health(WORKER_LOST, f"The worker {loss.worker} was lost at {clock(loss.at)}; {then}. {counts}.")
    return Health(OK, f"{counts[0].upper()}{counts[1:]}.")


# --- words about one job ----------------------------------------------------------------------------


def lost_note(worker: str, at: str, retries_left: bool = True) -> str:
    """What a job whose worker was lost says while it waits to start over."""
    where = f" at {at}" if at else ""
    if not retries_left:
        return f"Its worker {worker} was lost{where}; Dask does not run it again, so the job fails."
    return (f"Its worker {worker} was lost{where}. The job is back in line and starts over from epoch 1 when a "
            "worker takes it; its progress so far is lost.")


def restart_note(worker: str, lost: str, at: str, restarts: int) -> str:
    """What a job that started over on another worker says."""
    times = "" if restarts <= 1 else f" (start number {restarts + 1})"
    where = f" at {at}" if at else ""
    return (f"Started over on {worker}{times}: the worker it ran on ({lost}) was lost{where}, so its progress "
            "was reset to epoch 1.")
