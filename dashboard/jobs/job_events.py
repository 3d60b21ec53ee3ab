"""What the workers report about a `JobManager`'s jobs, and how each job settles: the manager's event side.

`JobEvents` is one part of `dashboard.jobs.job_manager.JobManager`; the manager's `__init__` sets
its state (`_jobs`, `_by_key`, `_lock`, `_short`, `_watch`, `cache`, `slot`). It takes the
workers' progress events, the cluster watch's views (a lost worker puts its job back in line,
its progress reset and said in words), a pool worker's out-of-memory event, and each finished
future: its result judged as outside input (`dashboard.jobs.job_result`) and stored in the
cache, or the job failed with its whole reason. No Streamlit here.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import CancelledError
from dataclasses import dataclass, field, replace
from typing import Any

from dashboard.jobs.job_health import ClusterView, lost_jobs, lost_note, restart_note, will_fail
from dashboard.jobs.job_result import JobResultError, check_result
from dashboard.jobs.job_status import (
    CANCELLED,
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    JobStatus,
)
from dashboard.jobs.job_task import (
    DataMismatch,
    JobCancelled,
    MemoryRefused,
    cancel_event_name,
)
from dashboard.jobs.memory_budget import (
    MB,
    out_of_memory,
)
from dashboard.mnist.data import MnistData
from dashboard.network.spec import NetworkSpec
from dashboard.store.run import RunRecord
from dashboard.training.train_settings import TrainSettings

log = logging.getLogger("dashboard.jobs.job_manager")


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


class JobEvents:
    """The event side of `JobManager`: progress, the cluster's views, and each job's end."""

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
