"""Training as jobs that belong to the server, not to a browser tab: submit, watch, cancel.

`JobManager.submit(spec, settings, data, session)` returns at once with a `JobStatus`:
- a cached run comes back done (`cached=True`);
- a run already queued or running (same cache key, any session, page or thread) is attached to;
- otherwise a Dask future of `dashboard.jobs.job_task.run_job` is submitted.
Dask runs the jobs: by default the app's own pool of worker processes
(`dashboard.jobs.job_cluster.worker_pool_client`: loopback, TLS with a throw-away certificate, one
process per concurrent training, `MAX_CONCURRENT_TRAININGS`, default 1, started for the work and
retired when idle), so TensorFlow never runs in the server's process; with `JOBS_IN_PROCESS=1`
an in-process cluster instead (the operator's choice: no extra process, no memory guard); with
`DASK_SCHEDULER_ADDRESS` set, that cluster. A configured address is judged before any traffic
(`dashboard.jobs.job_cluster.plan_connection`: `tls://` with the app's certificates, plain `tcp://`
only on loopback or with `DASK_ALLOW_INSECURE=1`); a refused, unreachable or lost scheduler
falls back to the local pool with a notice (`JobManager.notice`), never to the server's own
process unless the operator asked for it. `JobManager.where` and `JobManager.security` say where
jobs run and how the connection is protected. Dask queues and schedules; nothing here schedules.

The cluster is watched (`dashboard.jobs.job_watch`): a queued job's place in line and expected wait
come from the scheduler's own view of every client's trainings, and `JobManager.health` says in
words when no worker is connected, a worker was lost or the scheduler does not answer. A job
whose worker is lost goes back in line (Dask runs it again): its progress is reset and its
`note` says so, then that it started over on another worker.

Memory (`dashboard.jobs.memory_budget`): the manager reads this process's budget once
(`JobManager.memory`) and gives each concurrent training on this machine an equal share of what
the server leaves (`JobManager.slot`). A training whose estimate does not fit its share is refused
at `submit` (`NotEnoughMemory`, a `JobLimitError`, saying what to do instead); so k trainings at
once always have k estimates, and more queue. A local pool worker that passes its share is ended
by its guard (`dashboard.jobs.job_guard`), and the kernel kills it before the server when the box runs
out (OOM score 1000): its job fails at once with "the training ran out of memory", naming the
numbers, and is not retried. A configured cluster's worker checks its own budget before it starts.

A job's result (record JSON + `.keras` bytes, plain data) is judged like a file from outside
(`dashboard.jobs.job_result.check_result`: the job's own run, a sound model of the job's network)
and only then stored by the app in its cache (atomic, locked by `ModelCache.put_bytes`) when
the future finishes. If the cache cannot be written the job still
ends done, with `stored=False`, a message naming the directory and the reason, and the model
bytes kept in memory for the session (`model_file`). Cancelled or failed jobs store nothing.
Jobs live in this process's memory only: after a restart there are no ghosts, finished runs are
in the cache. No Streamlit here.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
from dataclasses import replace
from typing import Any

from dashboard.jobs.job_cluster import (
    env_int,
    max_concurrent_trainings,
)
from dashboard.jobs.job_connection import ClusterConnection
from dashboard.jobs.job_events import JobEvents, _Job
from dashboard.jobs.job_status import (
    DONE,
    FAILED,
    QUEUED,
    JobLimitError,
    JobStatus,
    NotEnoughMemory,
    default_label,
)
from dashboard.jobs.job_task import (
    cancel_event_name,
    measure_import,
    run_job,
)
from dashboard.jobs.job_watch import ClusterWatch
from dashboard.jobs.memory_budget import (
    Memory,
    import_need,
    read_memory,
    refusal,
    slot_bytes,
    training_need,
)
from dashboard.mnist.data import MnistData
from dashboard.network.spec import NetworkSpec, validate
from dashboard.store.cache import ModelCache
from dashboard.training.train_settings import TrainSettings

KEEP_FINISHED = 100  # finished jobs remembered (the newest); older ones are in the cache anyway
MAX_KEPT_MODEL_MB = 64  # .keras bytes of unstored runs kept for download, all jobs together
log = logging.getLogger(__name__)


def own_rss() -> int:
    """This process's resident bytes now (0 where psutil cannot tell)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - an estimate only
        return 0


class JobManager(ClusterConnection, JobEvents):
    """Every job of this process; thread-safe. `client`: a Dask client to use (not closed here).

    Its connection to the cluster is `ClusterConnection`'s, what workers report is handled by
    `JobEvents`; this class submits, answers and cancels.
    """

    def __init__(self, cache: ModelCache | None = None, client: Any = None,
                 max_per_session: int | None = None, max_queued: int | None = None, memory: Memory | None = None):
        self.cache = cache or ModelCache()
        self.max_per_session = max_per_session or env_int("JOBS_MAX_PER_SESSION", 8)
        self.max_queued = max_queued or env_int("JOBS_MAX_QUEUED", 32)
        self.own_data = os.environ.get("JOBS_DATA", "scatter") == "own"  # workers use their MNIST_NPZ
        self.slots = max_concurrent_trainings()
        self.memory = memory or read_memory()  # this process's budget (cgroup limit or the machine's)
        self.slot = slot_bytes(self.memory, self.slots, own_rss())  # each local training's share
        self.notice = ""  # a warning for every page and the CLI (fallback to local training)
        self.where = ""  # where jobs run: "this server (in-process Dask)", "the Dask cluster at tls://…"
        self.security = ""  # how the connection to that cluster is protected, a plain phrase
        self._failed_address: str | None = None
        self._given_client = client
        self._client: Any = None
        self._owned: list[Any] = []  # clients (and so clusters) this manager created
        self._lock = threading.RLock()
        self._jobs: dict[str, _Job] = {}  # id → job, in submission order
        self._by_key: dict[str, str] = {}  # cache key → id of its newest job
        self._scattered: dict[str, Any] = {}  # data fingerprint → Dask future of the data
        self._short: dict[str, dict[str, Any]] = {}  # pool worker address → its guard's out-of-memory event
        self._watch = ClusterWatch(self._on_view, self._busy)  # the scheduler's own view: line, health, lost workers

    # --- submitting -------------------------------------------------------------------------

    def submit(self, spec: NetworkSpec, settings: TrainSettings, data: MnistData,
               session: str = "", label: str | None = None, list_cached: bool = False) -> JobStatus:
        """Start (or attach to) the job of this run; a cached run returns done at once.

        With `list_cached`, a cached run is listed among the session's jobs too, as done (a family's
        members that were trained before).

        Raises `JobLimitError` when the session's or the server's queue is full, `NotEnoughMemory` (one)
        when the training does not fit this machine's memory budget, `SpecError`
        and `SettingsError` on bad input.
        """
        validate(spec)
        need = training_need(spec, settings, data)
        key = self.cache.key(spec, settings, data.fingerprint)
        label = label or default_label(spec, settings)
        record = self.cache.get(key)
        if record is not None:
            status = JobStatus(id=f"cached-{key}", key=key, label=label, state=DONE, submitted=time.time(),
                               record=record, stored=True, cached=True, trained_on=record.trained_on)
            if list_cached:
                self._list_cached(status, spec, settings, data, session)
            return status
        remote = self.client() is not None and self.remote  # a configured cluster's workers check their own
        with self._lock:
            existing = self._jobs.get(self._by_key.get(key, ""))
            if existing is not None and (existing.status.active or not existing.status.stored
                                         and existing.status.state == DONE):
                existing.sessions.add(session)
                return self._snapshot(existing)
            active = [job for job in self._jobs.values() if job.status.active]
            mine = [job for job in active if session in job.sessions]
            if len(mine) >= self.max_per_session:
                raise JobLimitError(f"You already have {len(mine)} jobs queued or running (at most "
                                    f"{self.max_per_session} per session): wait for one to finish or cancel one.")
            if len(active) >= self.max_queued:
                raise JobLimitError(f"This server already has {len(active)} jobs queued or running (at most "
                                    f"{self.max_queued}): try again when some have finished.")
            reason = None if remote else refusal(need, self.slot, self.memory, self.slots)
            if reason is not None:
                raise NotEnoughMemory(reason)
            job = _Job(JobStatus(id=f"{key}-{uuid.uuid4().hex[:8]}", key=key, label=label, state=QUEUED,
                                 submitted=time.time(), epochs=settings.epochs),
                       spec, settings, data, {session}, need=need.total)
            self._jobs[job.status.id] = job
            self._by_key[key] = job.status.id
            self._forget_old()
        self._launch(job)
        self._watch.wake()  # its place in the cluster's line
        return self.status(job.status.id)

    def _list_cached(self, status: JobStatus, spec: NetworkSpec, settings: TrainSettings, data: MnistData,
                     session: str) -> None:
        """List a cached run among `session`'s jobs, done (not a run's job: `job_for_key` never returns it)."""
        with self._lock:
            job = self._jobs.get(status.id)
            if job is None:
                job = _Job(status, spec, settings, data, set())
                job.done_event.set()
                self._jobs[status.id] = job
                self._forget_old()
            else:  # listed again: newest first
                self._jobs[status.id] = self._jobs.pop(status.id)
                job.status = replace(job.status, submitted=status.submitted, label=status.label)
            job.sessions.add(session)

    def _launch(self, job: _Job) -> None:
        """Submit `job`'s future; a configured cluster that fails here is dropped for in-process."""
        client = self.client()
        try:
            future = self._submit_future(client, job)
        except Exception as err:  # noqa: BLE001 - the cluster went away between calls
            if not self.remote or client is self._given_client:
                return self._finish(job, FAILED, f"could not submit the job ({type(err).__name__}: {err})")
            self._lost(client, err)
            future = self._submit_future(self.client(), job)
        with self._lock:
            job.future = future
        future.add_done_callback(lambda f, job=job: self._on_done(job, f))

    def _submit_future(self, client: Any, job: _Job) -> Any:
        path = self._data_path(job.data)
        data_ref = None if self.own_data or path else self._data_future(client, job.data)
        return client.submit(
            run_job, job.status.id, job.status.key, job.spec.to_dict(), job.settings.to_dict(), data_ref,
            job.data.fingerprint, job.data.source, job.status.submitted, job.need, path,
            key=f"convnet-train-{job.status.id}", pure=False,
            fifo_timeout="0 ms",  # every job its own generation: trained in the order asked (the queue place shown)
        )

    # --- imported models ---------------------------------------------------------------------

    def measure_import(self, data: bytes, filename: str, mnist: MnistData) -> Any:
        """Load and measure an uploaded model file on the cluster (never in this process): an `imported.Measured`.

        Raises `ModelFileError` when the worker refuses the file, ran out of memory or returned
        anything but plain scores, an accuracy and model bytes.
        """
        from distributed.scheduler import KilledWorker

        from dashboard.modelfiles.modelfile import ModelFileError
        from dashboard.store.imported import SCALINGS, Measured

        client = self.client()
        need = import_need(len(data), mnist)
        reason = None if self.remote else refusal(need, self.slot, self.memory, self.slots, "measuring this model")
        if reason is not None:
            raise ModelFileError(reason)
        key = f"convnet-import-{uuid.uuid4().hex[:12]}"
        mnist_ref = self._data_path(mnist) or self._data_future(client, mnist)
        future = client.submit(measure_import, data, filename, mnist_ref, key=key, pure=False)
        try:
            result = future.result()
        except KilledWorker:
            reason = self._memory_death(key, "", need, "measuring this model")
            raise ModelFileError(reason or "the worker measuring this model died; nothing was stored") from None
        finally:
            future.release()
            self._release_data_when_idle()
        scores = result.get("scores") if isinstance(result, dict) else None
        try:
            scores = {name: {"accuracy": float(v["accuracy"]), "loss": float(v["loss"])}
                      for name, v in scores.items() if name in SCALINGS}
            accuracy, model = float(result["test_accuracy"]), result["model"]
        except (AttributeError, KeyError, TypeError, ValueError):
            scores, accuracy, model = {}, float("nan"), None
        if not scores or not 0.0 <= accuracy <= 1.0 or type(model) is not bytes:
            raise ModelFileError("the worker's measurement of this model is not the plain data the app expects")
        return Measured(scores, accuracy, model)

    # --- asking and cancelling --------------------------------------------------------------

    def _snapshot(self, job: _Job) -> JobStatus:
        if job.status.state != QUEUED:
            return job.status
        place, wait = self._watch.queue(job.status.id, job.status.submitted)  # the cluster's line, every client's
        if place is None and not self._watch.lists_tasks:  # a scheduler that cannot list them: this server's line
            queued = [j for j in self._jobs.values() if j.status.state == QUEUED]
            place, wait = queued.index(job) + 1, None
        return replace(job.status, place=place, wait=wait)  # no place until the scheduler has listed it

    def status(self, job_id: str) -> JobStatus | None:
        """The job's current status, or None if unknown here."""
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else self._snapshot(job)

    def job_for_key(self, key: str) -> JobStatus | None:
        """The newest job of run `key` (any session), or None."""
        with self._lock:
            return self.status(self._by_key.get(key, ""))

    def jobs(self, session: str | None = None) -> list[JobStatus]:
        """Jobs of `session` (every job if None), newest first."""
        with self._lock:
            chosen = [j for j in self._jobs.values() if session is None or session in j.sessions]
            return [self._snapshot(j) for j in reversed(chosen)]

    def model_file(self, job_id: str) -> bytes | None:
        """The `.keras` bytes of a finished job the cache could not store."""
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.model_file

    def cancel(self, job_id: str) -> bool:
        """Ask a queued or running job to stop (it stores nothing); False if it was not active."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or not job.status.active:
                return False
            job.cancel_requested = True
            future = job.future
        if future is not None:
            try:
                from distributed import Event

                Event(cancel_event_name(job_id), client=self.client()).set()  # a running task stops
                future.cancel()  # a queued one never starts
            except Exception:  # noqa: BLE001 - the done callback settles it either way
                pass
        return True

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus | None:
        """Block until the job is no longer active (or `timeout` s); its status."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None:
            job.done_event.wait(timeout)
        return self.status(job_id)

    def _bound_kept_models(self) -> None:
        """Drop the oldest unstored models' bytes past `MAX_KEPT_MODEL_MB` (server memory is shared)."""
        kept = [job for job in self._jobs.values() if job.model_file is not None]
        total = sum(len(job.model_file) for job in kept)
        for job in kept[:-1]:  # the newest is always kept
            if total <= MAX_KEPT_MODEL_MB * 2**20:
                break
            total -= len(job.model_file)
            job.model_file = None

    def _forget_old(self) -> None:
        finished = [i for i, j in self._jobs.items() if not j.status.active]
        for job_id in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            job = self._jobs.pop(job_id)
            if self._by_key.get(job.status.key) == job_id:
                del self._by_key[job.status.key]


_default: JobManager | None = None
_default_lock = threading.Lock()


def default_manager(cache: ModelCache | None = None) -> JobManager:
    """The process-wide manager (created on first use, with `cache` or the default cache)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = JobManager(cache)
            atexit.register(_default.close)  # a stopping server cancels its jobs: no ghosts
        return _default
