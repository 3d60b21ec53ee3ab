"""What a Dask worker runs for one training job: check the data, train, report, return bytes.

`run_job` is submitted by `dashboard.jobs.job_manager` to whatever Dask cluster the app uses (its own
in-process one, or a workshop's `dask scheduler` + `dask worker`s). It needs only the project's
code on the worker, never the app's disk: the result is plain data, the run's record as JSON
text and the `.keras` file's bytes, which the app checks (`dashboard.jobs.job_result`) and stores in
its cache.

Progress goes out through Dask's structured events (`Worker.log_event` on `PROGRESS_TOPIC`,
received by the app's `Client.subscribe_topic`), each naming the job and the worker's address (a
job that starts over on another worker is told apart from a late report of the lost one); cancelling is a Dask `Event` per job, checked by
the training callback at most every `CANCEL_CHECK_SECONDS`. No Streamlit here.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from dashboard.jobs.job_guard import POOL_VAR  # "1" in the worker processes of the app's own pool
from dashboard.mnist.data import MnistData, load_mnist, read_npz

PROGRESS_TOPIC = "convnet-job-progress"
POOL_LABEL = "a worker process of the app's server"
PROGRESS_SECONDS = 0.5  # at most two batch messages a second per job
CANCEL_CHECK_SECONDS = 0.5


class JobCancelled(Exception):
    """The job's cancel flag was set: the training stopped and nothing was returned."""


class MemoryRefused(RuntimeError):
    """The worker's own memory budget is smaller than the job needs: it refused before any work."""


class DataMismatch(RuntimeError):
    """The worker's MNIST differs from the app's: training here would store a mismatched run."""


def provide_data(data: MnistData) -> MnistData:
    """The app's data as a Dask task's result (recomputable, unlike scattered data)."""
    return data


def cancel_event_name(job_id: str) -> str:
    """Name of the Dask `Event` that cancels job `job_id`."""
    return f"convnet-cancel-{job_id}"


_own_data: dict[str, MnistData] = {}  # this worker process's own MNIST, loaded once per source
_own_data_lock = threading.Lock()


def _worker_data(source: str, path: str = "") -> MnistData:
    """The worker's own MNIST: the file at `path` (a worker of the app's own pool reads the app's file), else
    the embedded subset, or `load_mnist("auto")` (its `MNIST_NPZ`)."""
    if path:
        return read_npz(path, source=source)  # not kept: the pool's worker is retired when idle
    wanted = "embedded" if source == "embedded" else "auto"
    with _own_data_lock:
        if wanted not in _own_data:
            _own_data[wanted] = load_mnist(wanted)
        return _own_data[wanted]


def check_data(data: MnistData, expected: str, where: str) -> None:
    """Raise `DataMismatch` naming both fingerprints unless `data` is the app's data."""
    if data.fingerprint != expected:
        raise DataMismatch(
            f"worker {where} refused the job: its training data ({data.label}, fingerprint "
            f"{data.fingerprint}) differs from the app's (fingerprint {expected}); give the worker "
            "the same file with MNIST_NPZ, or let the app send its data (JOBS_DATA=scatter)"
        )


def check_memory(need_bytes: int, where: str) -> None:
    """Raise `MemoryRefused` when this worker's memory budget is below what the job needs."""
    from dashboard.jobs.memory_budget import MB, read_memory

    memory = read_memory()
    if need_bytes and memory.limit and need_bytes > memory.limit:
        raise MemoryRefused(f"worker {where} refused the job: it has {memory.limit / MB:,.0f} MB and training "
                              f"this network needs about {need_bytes / MB:,.0f} MB; nothing was stored")


def _where() -> tuple[str, Any]:
    """(a person-readable name of this worker, the Dask worker or None)."""
    host = socket.gethostname()
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return f"{host} (no Dask worker)", None
    if worker.address.startswith("inproc://"):
        return f"{host} (in the app's process)", worker
    if os.environ.get(POOL_VAR) == "1":  # set by the pool's `MemoryGuard` in its own worker processes
        return f"{worker.address} ({POOL_LABEL} on {host})", worker
    return f"{worker.address} (host {host})", worker


class _Reporter:
    """Sends throttled progress events and checks the cancel flag (Dask calls, worker side)."""

    def __init__(self, job_id: str, worker: Any):
        self.job_id, self.worker = job_id, worker
        self.last_sent = self.last_check = 0.0
        self.event = None
        if worker is not None:
            from distributed import Event

            self.event = Event(cancel_event_name(job_id))

    def send(self, message: dict[str, Any], force: bool = False) -> None:
        now = time.monotonic()
        if self.worker is None or (not force and now - self.last_sent < PROGRESS_SECONDS):
            return
        self.last_sent = now
        self.worker.log_event(PROGRESS_TOPIC, {"job": self.job_id, "worker": self.worker.address, **message})

    def check_cancel(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.event is None or (not force and now - self.last_check < CANCEL_CHECK_SECONDS):
            return
        self.last_check = now
        if self.event.is_set():
            raise JobCancelled("cancelled")


def model_bytes(model: Any) -> bytes:
    """The `.keras` file of `model` as the cache stores it (weights and architecture only)."""
    from dashboard.store.durable import model_file_bytes

    return model_file_bytes(model)


def run_job(
    job_id: str,
    key: str,
    spec: dict[str, Any],
    settings: dict[str, Any],
    data: MnistData | None,
    fingerprint: str,
    data_source: str,
    submitted_at: float,
    need_bytes: int = 0,
    data_path: str = "",
) -> dict[str, Any]:
    """Train one run; return {"record_json": str, "model": bytes}. Raises `JobCancelled`, `DataMismatch`.

    `data` is the app's data scattered to the cluster, or None: then the worker uses its own
    (`MNIST_NPZ`, or the app's own file at `data_path`: the app's worker pool, on its machine)
    and refuses when its fingerprint is not `fingerprint`. A worker whose own
    memory budget (`dashboard.jobs.memory_budget.read_memory`) is below `need_bytes` refuses too.
    """
    from dashboard.network.spec import NetworkSpec
    from dashboard.store.run import trained_record
    from dashboard.training.train_settings import TrainSettings
    from dashboard.training.trainer import train

    where, worker = _where()
    queued = max(0.0, time.time() - submitted_at)  # wall clocks: exact on one machine
    reporter = _Reporter(job_id, worker)
    reporter.check_cancel(force=True)
    check_memory(need_bytes, where)
    if data is None:
        data = _worker_data(data_source, data_path)
    check_data(data, fingerprint, where)
    net, how = NetworkSpec.from_dict(spec), TrainSettings.from_dict(settings)
    reporter.send({"state": "running", "where": where, "queued_seconds": queued}, force=True)

    def on_batch(p: Any) -> None:
        reporter.check_cancel()
        first = p.epoch == 1 and p.batch == 1  # always sent: "the training has begun"
        reporter.send({"state": "running", "epoch": p.epoch, "epochs": p.epochs, "batch": p.batch,
                       "batches": p.batches, "loss": p.loss, "accuracy": p.accuracy, "seconds": p.seconds},
                      force=first)

    def on_epoch(p: Any) -> None:
        reporter.check_cancel(force=True)
        reporter.send({"state": "running", "history": p.history, "epoch": p.epoch, "epochs": p.epochs,
                       "seconds": p.seconds}, force=True)

    result = train(net, how, data, on_batch=on_batch, on_epoch=on_epoch)
    reporter.check_cancel(force=True)
    record = trained_record(key, net, how, data, result, trained_on=where, queued_seconds=queued)
    payload = model_bytes(result.model)
    del result
    return {"record_json": record.to_json(), "model": payload}


def measure_import(data: bytes, filename: str, mnist: MnistData | str) -> dict[str, Any]:
    """Load and measure an uploaded model file in this worker: {"scores": {…}, "test_accuracy": float, "model": bytes}.

    `mnist` is the app's data, or the path of its file. Plain data only (the app checks it,
    `dashboard.jobs.job_manager.JobManager.measure_import`); raises
    `ModelFileError` for a file Keras refuses.
    """
    from dashboard.store.imported import measure_file

    if isinstance(mnist, str):  # the app's worker pool reads the app's data file itself
        mnist = read_npz(mnist)
    measured = measure_file(data, filename, mnist)
    return {"scores": measured.scores, "test_accuracy": float(measured.test_accuracy), "model": measured.model}
