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
from concurrent.futures import CancelledError
from dataclasses import dataclass, field, replace
from typing import Any

from dashboard.jobs.cluster_certs import CertificateError
from dashboard.jobs.job_cluster import (
    ClusterRefused,
    configured_address,
    connect,
    describe_client,
    env_int,
    local_cluster_client,
    max_concurrent_trainings,
    plan_connection,
    send_data,
    worker_pool_client,
)
from dashboard.jobs.job_guard import MEMORY_TOPIC
from dashboard.jobs.job_health import ClusterView, Health, lost_jobs, lost_note, restart_note, will_fail
from dashboard.jobs.job_result import JobResultError, check_result
from dashboard.jobs.job_status import (
    ACTIVE,
    CANCELLED,
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    JobLimitError,
    JobStatus,
    NotEnoughMemory,
    default_label,
)
from dashboard.jobs.job_task import (
    PROGRESS_TOPIC,
    DataMismatch,
    JobCancelled,
    MemoryRefused,
    cancel_event_name,
    measure_import,
    run_job,
)
from dashboard.jobs.job_watch import ClusterWatch
from dashboard.jobs.memory_budget import (
    MB,
    Memory,
    import_need,
    out_of_memory,
    read_memory,
    refusal,
    slot_bytes,
    training_need,
)
from dashboard.mnist.data import MnistData
from dashboard.network.spec import NetworkSpec, validate
from dashboard.store.cache import ModelCache
from dashboard.store.run import RunRecord
from dashboard.training.train_settings import TrainSettings

KEEP_FINISHED = 100  # finished jobs remembered (the newest); older ones are in the cache anyway
MAX_KEPT_MODEL_MB = 64  # .keras bytes of unstored runs kept for download, all jobs together
IN_PROCESS_VAR = "JOBS_IN_PROCESS"  # "1": the operator wants jobs in the server's own process
POOL_WHERE = "this server's worker processes"
IN_PROCESS_WHERE = "this server (in-process Dask)"
log = logging.getLogger(__name__)


def in_process_wanted() -> bool:
    """True when the operator asked for trainings in the server's own process (`JOBS_IN_PROCESS=1`)."""
    return os.environ.get(IN_PROCESS_VAR) == "1"


def own_rss() -> int:
    """This process's resident bytes now (0 where psutil cannot tell)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - an estimate only
        return 0


@dataclass
class _Job:
    """The manager's mutable state of one job (guarded by the manager's lock)."""

    status: JobStatus
    spec: NetworkSpec
    settings: TrainSettings
    data: MnistData
    sessions: set[str]
    future: Any = None
    cancel_requested: bool = False
    need: int = 0  # estimated peak bytes of the training (`memory_budget.training_need`)
    model_file: bytes | None = None  # kept only when the cache could not store it
    done_event: threading.Event = field(default_factory=threading.Event)
    worker: str = ""  # address of the worker training it (from its progress events or the scheduler)
    heard: float = 0.0  # time.time() of its latest progress event
    lost_from: str = ""  # the worker it lost, while it waits to start over
    lost_at: str = ""  # how far it had come there ("epoch 2/5, batch 251/844")


class JobManager:
    """Every job of this process; thread-safe. `client`: a Dask client to use (not closed here)."""

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

    # --- the cluster ------------------------------------------------------------------------

    def client(self) -> Any:
        """The Dask client: given, the configured scheduler's, or a new in-process cluster's."""
        with self._lock:
            if self._client is not None and self._client.status == "running":
                return self._client
            self._scattered.clear()
            if self._given_client is not None and self._given_client.status == "running":
                self._use(self._given_client, "the given Dask cluster", describe_client(self._given_client))
                return self._client
            address = self._configured_address()
            if address:
                client = self._connect(address)
                if client is not None:
                    return client
            return self._local()

    def _local(self) -> Any:
        """A new local cluster: the worker pool, or the in-process cluster when the operator asked for it."""
        if in_process_wanted():
            client = local_cluster_client(self.slots)
            where = IN_PROCESS_WHERE
        else:
            client = worker_pool_client(self.slots, self.slot)
            where = POOL_WHERE
        self._owned.append(client)
        self._use(client, where, describe_client(client))
        return client

    def _connect(self, address: str) -> Any:
        """A client of the configured scheduler, or None with the reason in `notice` (refused before any traffic)."""
        try:
            connection = plan_connection(address)
        except (ClusterRefused, CertificateError) as err:
            self.notice = f"{str(err).rstrip('.')}. {self._instead().capitalize()}."
            self._failed_address = address
            return None
        try:
            client = connect(connection)
        except Exception as err:  # noqa: BLE001 - any failure to connect means "train here"
            self.notice = (f"The Dask scheduler at {address} cannot be reached ({type(err).__name__}: "
                           f"{str(err)[:150]}); {self._instead()}.")
            self._failed_address = address
            return None
        self._owned.append(client)
        self._use(client, f"the Dask cluster at {address}", connection.note)
        self.notice = ""
        return client

    def _configured_address(self) -> str | None:
        address = configured_address()
        if address and address == self._failed_address:
            return None  # tried and failed in this process: do not make every click wait again
        return address

    @staticmethod
    def _instead() -> str:
        """Where jobs go when a configured cluster is not used, as the end of a sentence."""
        return f"jobs run on {IN_PROCESS_WHERE if in_process_wanted() else POOL_WHERE} instead"

    def _use(self, client: Any, where: str, security: str) -> None:
        self._client, self.where, self.security = client, where, security
        client.subscribe_topic(PROGRESS_TOPIC, self._on_progress)
        client.subscribe_topic(MEMORY_TOPIC, self._on_memory)
        kind = {POOL_WHERE: "pool", IN_PROCESS_WHERE: "in-process"}.get(where, "cluster")
        fallback = (IN_PROCESS_WHERE if in_process_wanted() else POOL_WHERE) if self.remote else ""
        self._watch.follow(client, kind, fallback, self.slots if kind == "pool" else 0)

    def health(self) -> Health:
        """The cluster's health now, in words (no scheduler, no worker, a worker lost, …); never waits on the network."""
        with self._lock:
            waiting = sum(1 for job in self._jobs.values() if job.status.state == QUEUED)
        return self._watch.health(waiting)

    def describe(self) -> str:
        """One plain line: where jobs run and how the connection is protected."""
        return f"jobs run on {self.where}" + (f": {self.security}" if self.security and self.remote else "")

    def describe_budget(self) -> str:
        """One plain line: the memory budget and each local training's share of it."""
        each = "each" if self.slots > 1 else "one at a time"
        return (f"memory: {self.memory.describe()}; trainings on this machine get {self.slot / MB:,.0f} MB "
                f"{each}" + (f" ({self.slots} at once)" if self.slots > 1 else ""))

    def close(self) -> None:
        """Cancel active jobs and close the clients this manager created."""
        for status in self.jobs():
            if status.active:
                self.cancel(status.id)
        self._watch.close()
        self._scattered.clear()  # release the data before its workers go
        for client in self._owned:
            try:
                cluster = client.cluster
                client.close()
                if cluster is not None:
                    cluster.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        self._owned.clear()
        self._client = None

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

    @property
    def remote(self) -> bool:
        """True while jobs go to a configured cluster (not this machine's pool or process)."""
        return self.where.startswith("the Dask cluster at")

    @property
    def pooled(self) -> bool:
        """True while jobs go to the app's own worker processes."""
        return self.where == POOL_WHERE

    def _data_path(self, data: MnistData) -> str:
        """The data's file when the app's own pool trains (same machine: a worker reads it, the server
        holds no copy in the task graph and sends none), else "" (the data travels to the cluster)."""
        return data.path if self.pooled and data.path and os.path.isfile(data.path) else ""

    def _data_future(self, client: Any, data: MnistData) -> Any:
        """The app's data on the cluster, sent once per fingerprint (at most two kept)."""
        with self._lock:
            found = self._scattered.get(data.fingerprint)
            if found is None:
                while len(self._scattered) >= 2:
                    self._scattered.pop(next(iter(self._scattered)))
                found = send_data(client, data)
                self._scattered[data.fingerprint] = found
            return found

    def _lost(self, client: Any, err: BaseException) -> None:
        """The configured cluster is gone: say so and use an in-process cluster from now on."""
        with self._lock:
            if self._client is client:
                self._failed_address = self._configured_address()
                self.notice = f"Lost the Dask cluster ({type(err).__name__}: {str(err)[:150]}); {self._instead()}."
                self._client = None

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

    # --- progress and results ---------------------------------------------------------------

    def _on_progress(self, event: Any) -> None:
        """A worker's progress event (on Dask's event loop: be quick)."""
        _, message = event
        if not isinstance(message, dict):
            return
        self._watch.heard(message)  # every client's trainings: the line's waits
        with self._lock:
            job = self._jobs.get(str(message.get("job")))
            if job is None or not job.status.active:
                return  # another app's job on a shared cluster, or already finished
            worker = message.get("worker") if isinstance(message.get("worker"), str) else ""
            if worker and worker == job.lost_from:
                return  # a late report from the worker that was lost
            if worker and job.worker and worker != job.worker:
                self._requeue(job, job.worker)  # it started over elsewhere before the scheduler's view said so
            if worker:
                self._start_on(job, worker)
            job.heard = time.time()
            changes: dict[str, Any] = {"state": RUNNING}
            for name in ("epoch", "epochs", "batch", "batches", "loss", "accuracy", "history"):
                if name in message:
                    changes[name] = message[name]
            if "where" in message:
                changes["trained_on"] = str(message["where"])
            job.status = replace(job.status, **changes)

    def _busy(self) -> bool:
        """True while a job is queued or running (the watch keeps asking the scheduler)."""
        with self._lock:
            return any(job.status.active for job in self._jobs.values())

    def _on_view(self, view: ClusterView) -> None:
        """A new answer of the scheduler (in the watch's thread): jobs that lost their worker, jobs that started."""
        with self._lock:
            active = [job for job in self._jobs.values() if job.status.active and job.future is not None]
            running = {job.status.id: job.worker for job in active if job.status.state == RUNNING and job.worker}
            heard = {job.status.id: job.heard for job in active}
            lost = lost_jobs(view, running, heard)
            executing = view.executing
            for job in active:
                worker = lost.get(job.status.id)
                if worker and will_fail(view, job.status.id):
                    job.status = replace(job.status, note=lost_note(worker, self._progress_words(job.status), False))
                elif worker:
                    self._requeue(job, worker)
                elif job.status.state == QUEUED and job.status.id in executing:
                    self._start_on(job, executing[job.status.id])
                    job.heard = view.asked
                    job.status = replace(job.status, state=RUNNING)

    @staticmethod
    def _progress_words(status: JobStatus) -> str:
        """How far a job had come: 'epoch 2/5, batch 251/844' ('' before its first batch)."""
        if not status.epoch:
            return ""
        return f"epoch {status.epoch}/{status.epochs}" + (f", batch {status.batch}/{status.batches}" if status.batches else "")

    def _requeue(self, job: _Job, worker: str) -> None:
        """`job` lost `worker` (Dask puts it back in line): its progress is reset and its note says so (lock held)."""
        at = self._progress_words(job.status)
        job.lost_from, job.lost_at, job.worker = worker, at, ""
        job.status = replace(job.status, state=QUEUED, epoch=0, batch=0, batches=0, loss=float("nan"),
                             accuracy=float("nan"), history={}, trained_on="", note=lost_note(worker, at))

    def _start_on(self, job: _Job, worker: str) -> None:
        """`job` is on `worker`: after a lost worker, it started over, and its note says so (lock held)."""
        if job.lost_from and worker != job.lost_from:
            restarts = job.status.restarts + 1
            job.status = replace(job.status, restarts=restarts, trained_on=job.status.trained_on or worker,
                                 note=restart_note(worker, job.lost_from, job.lost_at, restarts))
            job.lost_from = ""
        elif not job.status.trained_on:
            job.status = replace(job.status, trained_on=worker)
        job.worker = worker

    def _on_memory(self, event: Any) -> None:
        """A pool worker's guard ended it for memory (on Dask's event loop): remember it for its job."""
        _, message = event
        if isinstance(message, dict) and isinstance(message.get("worker"), str):
            with self._lock:
                self._short[message["worker"]] = message

    def _memory_death(self, task: str, address: str, need: int, what: str = "training this network") -> str | None:
        """The out-of-memory reason when the worker running `task` (at `address`) was ended by its guard, else None."""
        with self._lock:
            hit = [m for a, m in self._short.items() if a == address or task in map(str, m.get("tasks", ()))]
        if not hit:
            return None
        return out_of_memory(max(need, int(hit[0].get("used", 0) or 0)), self.memory, self.slot, what)

    def _on_done(self, job: _Job, future: Any) -> None:
        """The future finished (in a Dask thread): store the run, or record why not."""
        try:
            self._settle(job, future)
        except Exception as err:  # noqa: BLE001 - never leave a job active
            log.exception("job %s", job.status.id)
            self._finish(job, FAILED, f"{type(err).__name__}: {err}")
        self._release_data_when_idle()
        if not job.cancel_requested:  # a cancelled task may still be about to read its flag
            try:
                from distributed import Event

                Event(cancel_event_name(job.status.id), client=self._client).clear()
            except Exception:  # noqa: BLE001 - cleanup only
                pass

    def _settle(self, job: _Job, future: Any) -> None:
        from distributed.scheduler import KilledWorker

        try:
            result = future.result()
        except (JobCancelled, CancelledError) as err:
            if job.cancel_requested:
                return self._finish(job, CANCELLED, "cancelled; nothing was stored")
            client = self._client
            if client is not None and client.status != "running" and self.remote:
                self._lost(client, err)
                with self._lock:
                    job.worker = job.lost_from = ""
                    job.status = replace(job.status, state=QUEUED, epoch=0, batch=0, batches=0, history={},
                                         trained_on="", note=f"The Dask cluster was lost; the job starts over on "
                                                             f"{self._instead().split(' on ', 1)[1]}.")
                return self._launch(job)  # fall back: train it here
            return self._finish(job, FAILED, f"the cluster dropped this job ({str(err)[:200] or 'no reason given'}); "
                                             "nothing was stored")
        except (DataMismatch, MemoryRefused) as err:
            return self._finish(job, FAILED, str(err))
        except KilledWorker:
            return self._finish(job, FAILED, self._death_reason(job))
        except Exception as err:  # noqa: BLE001 - a failed job says why
            return self._finish(job, FAILED, f"{type(err).__name__}: {str(err)[:300]}")
        if job.cancel_requested:
            return self._finish(job, CANCELLED, "cancelled; nothing was stored")
        try:
            record, model = check_result(result, job.status.key, job.spec, job.settings, job.data.fingerprint)
        except JobResultError as err:
            return self._finish(job, FAILED, f"{err}; nothing was stored")
        try:
            self.cache.put_bytes(record, model)
        except OSError as err:
            reason = err.strerror or str(err)
            with self._lock:
                job.model_file = model
                self._bound_kept_models()
            return self._finish(job, DONE, f"the model cache at {self.cache.root} cannot be written ({reason}); "
                                           "the trained model is kept for this session only: download it",
                                record=record, stored=False)
        self._finish(job, DONE, "", record=record, stored=True)

    def _death_reason(self, job: _Job) -> str:
        """Why a job whose worker died failed: out of memory (with the numbers) when that is known."""
        short = self._memory_death(f"convnet-train-{job.status.id}", job.status.trained_on.split(" ")[0], job.need)
        if short is not None:
            return short
        if self.pooled:  # nothing else ends this server's workers: the kernel's OOM killer picks them first
            return (f"the worker training this job was killed, most likely for memory (training this network needs "
                    f"about {job.need / MB:,.0f} MB, this server has {self.memory.limit / MB:,.0f} MB); "
                    "nothing was stored")
        return "the worker training this job died (twice, Dask retried once); nothing was stored"

    def _release_data_when_idle(self) -> None:
        """With no job left, drop the data sent to the cluster, so the pool can retire its idle workers."""
        with self._lock:
            if not any(job.status.active for job in self._jobs.values()):
                self._scattered.clear()

    def _finish(self, job: _Job, state: str, message: str, record: RunRecord | None = None,
                stored: bool = False) -> None:
        with self._lock:
            trained_on = record.trained_on if record is not None else job.status.trained_on
            history = record.history if record is not None else job.status.history
            job.status = replace(job.status, state=state, message=message, record=record, stored=stored,
                                 trained_on=trained_on, history=history, finished=time.time())
            job.future = None
        job.done_event.set()

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
