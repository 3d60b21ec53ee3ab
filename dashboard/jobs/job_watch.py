"""Watching the Dask cluster the jobs run on: its scheduler asked every few seconds, its answers kept.

A `ClusterWatch` belongs to one `dashboard.jobs.job_manager.JobManager`. While the manager has active jobs
(or a page or the command line looked at the cluster lately) a thread of its own asks the
scheduler for `dashboard.jobs.job_health.cluster_snapshot` every `ASK_EVERY` seconds, with at most
`ASK_SECONDS` for the answer, so a page never waits on the network. From the latest view it
tells a job's place in the cluster's one line and its expected wait, and the cluster's
`Health`; each view also goes to the manager (`on_view`), which finds its jobs whose worker was
lost. Every training's progress events reach every client of the cluster: the watch keeps the
latest of each (`heard`), for the running trainings' remaining time and how long trainings take.

A scheduler that cannot run the snapshot (another version of the app's code) is asked for its
workers only; places then come from this server's own list. No Streamlit here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Any

from dashboard.jobs.job_health import (
    ClusterView,
    Health,
    Loss,
    Progress,
    SnapshotError,
    cluster_snapshot,
    expected_wait,
    judge,
    read_snapshot,
    remaining,
    workers_lost,
    workers_only,
)

ASK_EVERY = 2.0  # seconds between two questions to the scheduler while jobs are active
ASK_SECONDS = 3.0  # an answer slower than this counts as none
LOOKED_SECONDS = 30.0  # keep asking this long after the last look (a page, the command line)
KEPT_PROGRESS = 500  # trainings whose latest progress is kept (any client's)
KEPT_DURATIONS = 20  # durations of finished trainings kept for the expected wait
LIVE_SECONDS = 10.0  # a training that reported progress this recently (and not its end) is running
log = logging.getLogger(__name__)


def _number(message: Mapping[str, Any], name: str, default: float = 0.0) -> float:
    value = message.get(name, default)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


class ClusterWatch:
    """The latest view of one Dask cluster, refreshed by a thread of its own; thread-safe.

    `on_view(view)` is called (in the watch's thread) with each new view; `busy()` says whether
    the owner has active jobs.
    """

    def __init__(self, on_view: Callable[[ClusterView], None], busy: Callable[[], bool]):
        self._on_view, self._busy = on_view, busy
        self._lock = threading.Lock()
        self._client: Any = None
        self._kind, self._address, self._fallback, self._slots = "", "", "", 0
        self._view: ClusterView | None = None
        self._unanswered_since: float | None = None
        self._losses: deque[Loss] = deque(maxlen=20)
        self._progress: OrderedDict[str, Progress] = OrderedDict()
        self._batches: dict[str, float] = {}
        self._durations: deque[float] = deque(maxlen=KEPT_DURATIONS)
        self._looked = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- set-up ---------------------------------------------------------------------------

    def follow(self, client: Any, kind: str, fallback: str = "", slots: int = 0) -> None:
        """Watch `client`'s cluster from now on: `kind` "cluster", "pool" or "in-process" (see `job_health.judge`).

        `fallback`: where jobs go if its scheduler is lost ("" for nowhere); `slots`: trainings
        the cluster runs at once when it has no worker yet (the app's pool starts them).
        """
        address = str(getattr(getattr(client, "scheduler", None), "address", "") or "")
        with self._lock:
            self._client, self._kind, self._address, self._fallback, self._slots = client, kind, address, fallback, slots
            self._view, self._unanswered_since = None, None
            self._losses.clear()
            if self._thread is None or not self._thread.is_alive():  # first use, or used again after `close`
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="convnet-cluster-watch", daemon=True)
                self._thread.start()
        self.wake()

    def wake(self) -> None:
        """Ask the scheduler now (a job was submitted or started)."""
        self._wake.set()

    def look(self) -> None:
        """Someone looks at the cluster: keep asking for `LOOKED_SECONDS` even without active jobs."""
        if time.time() - self._looked > ASK_EVERY:
            self.wake()
        self._looked = time.time()

    def close(self) -> None:
        """Stop asking."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=ASK_SECONDS + 2)

    # --- what is known ----------------------------------------------------------------------

    @property
    def view(self) -> ClusterView | None:
        """The latest answer of the current cluster's scheduler (None before the first)."""
        return self._view

    @property
    def lists_tasks(self) -> bool:
        """False when the scheduler answered with its workers only (it cannot run the snapshot)."""
        view = self._view
        return view is None or view.tasks is not None

    def heard(self, message: Mapping[str, Any]) -> None:
        """Any training's progress event (on Dask's event loop: quick): kept for waits and durations."""
        job = message.get("job")
        if not isinstance(job, str):
            return
        now = time.time()
        epochs, epoch = _number(message, "epochs"), _number(message, "epoch")
        batches = _number(message, "batches") or self._batches.get(job, 0.0)
        with self._lock:
            first = job not in self._progress
            if batches:
                self._batches[job] = batches
            if "history" in message and epochs:  # the end of an epoch
                fraction = epoch / epochs
            elif epochs and batches:
                fraction = ((epoch - 1) + _number(message, "batch") / batches) / epochs
            else:
                fraction = 0.0
            seconds = _number(message, "seconds")
            self._progress[job] = Progress(min(1.0, max(0.0, fraction)), seconds, now)
            self._progress.move_to_end(job)
            while len(self._progress) > KEPT_PROGRESS:
                old, _ = self._progress.popitem(last=False)
                self._batches.pop(old, None)
            if "history" in message and epochs and epoch >= epochs and seconds > 0:
                self._durations.append(seconds)
        if first:
            self.wake()  # a training began: the line moved

    def queue(self, job: str, submitted: float) -> tuple[int | None, tuple[float, float] | None]:
        """(place in the cluster's line, expected wait) of a waiting job; (None, None) when the view cannot tell.

        The view is used only when it was taken after the job was submitted; trainings heard
        starting since the view was taken are not counted as waiting.
        """
        with self._lock:
            view = self._view
            if view is None or view.tasks is None or view.asked < submitted:
                return None, None
            running = self._running(view, time.time())
            line = [task.job for task in view.line() if task.job not in running or task.job == job]
            if job not in line:
                if view.asked - submitted < 1.0:  # asked just as it was submitted: its task may not have arrived
                    self._wake.set()
                return None, None
            ahead = line.index(job)
            now = time.time()
            running.discard(job)
            left = [remaining(self._progress.get(other), now) for other in running]
            durations = list(self._durations) or [
                p.seconds / p.fraction for other in running if (p := self._progress.get(other)) and p.fraction >= 0.02]
            slots = view.threads or self._slots
        return ahead + 1, expected_wait(ahead, left, slots, durations)

    def health(self, waiting: int = 0) -> Health:
        """The cluster's health now; `waiting`: the owner's jobs in line."""
        self.look()
        now = time.time()
        with self._lock:
            client = self._client
            if client is None:
                return judge(None, kind="", address="", now=now)
            cut = getattr(client, "status", "running") != "running"  # the client lost its connection
            if cut and self._unanswered_since is None:
                self._unanswered_since = now
            since = self._unanswered_since
            unanswered = None if since is None or not cut and now - since < ASK_SECONDS else now - since
            view = self._view
            return judge(view, kind=self._kind, address=self._address, now=now, unanswered=unanswered,
                         waiting=waiting, losses=list(self._losses), fallback=self._fallback,
                         running=None if view is None else self._running(view, now))

    def _running(self, view: ClusterView, now: float) -> set[str]:
        """Trainings running now (lock held): the view's, less those that reported their last epoch's end,
        plus those reporting progress lately (the scheduler hears what a worker executes a heartbeat late)."""
        ended = {job for job, seen in self._progress.items() if seen.fraction >= 1.0}
        processing = {task.job for task in view.tasks or () if task.state == "processing"}
        live = {job for job, seen in self._progress.items() if now - seen.heard < LIVE_SECONDS and job not in ended
                and (seen.heard > view.asked or job in processing)}  # not one whose worker was lost since
        return (set(view.executing) - ended) | live

    # --- asking -------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            client = self._client
            if client is not None and (self._busy() or time.time() - self._looked < LOOKED_SECONDS):
                try:
                    self._ask(client)
                except Exception:  # noqa: BLE001 - the watch never dies; the next question may succeed
                    log.exception("asking the scheduler")
            self._wake.wait(ASK_EVERY)
            self._wake.clear()

    def _ask(self, client: Any) -> None:
        """One question to `client`'s scheduler; a new view, or the time since it last answered."""
        asked = time.time()
        if getattr(client, "status", "running") != "running":
            return self._no_answer(client, asked)
        try:
            view = read_snapshot(client.run_on_scheduler(cluster_snapshot, callback_timeout=ASK_SECONDS), asked)
        except (OSError, TimeoutError):
            return self._no_answer(client, asked)
        except (SnapshotError, Exception) as err:  # noqa: BLE001 - it answered, but cannot run the snapshot
            log.info("the scheduler cannot give its view (%s: %s): its workers only", type(err).__name__, err)
            try:
                info = client.scheduler_info(n_workers=-1)
                view = workers_only(((a, int(w.get("nthreads", 1))) for a, w in info.get("workers", {}).items()), asked)
            except Exception:  # noqa: BLE001 - no answer at all
                return self._no_answer(client, asked)
        with self._lock:
            if client is not self._client:
                return  # the manager moved to another cluster meanwhile
            self._losses.extend(workers_lost(self._view, view, view.asked))
            self._view, self._unanswered_since = view, None
        self._on_view(view)

    def _no_answer(self, client: Any, asked: float) -> None:
        with self._lock:
            if client is self._client and self._unanswered_since is None:
                self._unanswered_since = asked
