"""Train one run and wait for it, through the same jobs as the app: for scripts, tools, benchmarks and tests.

`train_now` submits the run to a `JobManager` (a cached run returns at once) and blocks until its
job settles. Without a manager it uses one in-process Dask cluster shared by the whole process,
so a script that trains many runs starts Dask once; every training still goes through
`job_task.run_job` and the cache's atomic `put`, exactly as a learner's click does.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Any

from dashboard.jobs.job_cluster import local_cluster_client
from dashboard.jobs.job_manager import DONE, JobManager
from dashboard.jobs.job_status import JobStatus
from dashboard.mnist.data import MnistData
from dashboard.network.spec import NetworkSpec
from dashboard.store.cache import ModelCache
from dashboard.store.run import RunRecord
from dashboard.training.train_settings import TrainSettings

POLL_SECONDS = 0.5  # how often `on_status` hears about a running job

_client: Any = None
_managers: dict[str, JobManager] = {}  # cache root → its manager on the shared client
_lock = threading.Lock()


class TrainingFailed(RuntimeError):
    """The job ended without a stored run (failed, cancelled, or not storable); the message says why."""


def _shared_client() -> Any:
    """The process's in-process Dask client for scripts (created on first use, closed at exit)."""
    global _client
    with _lock:
        if _client is None or _client.status != "running":
            _client = local_cluster_client()
            atexit.register(_close, _client)
        return _client


def _close(client: Any) -> None:
    try:
        cluster = client.cluster
        client.close()
        cluster.close()
    except Exception:  # noqa: BLE001 - closing at exit is best effort
        pass


def _manager(cache: ModelCache) -> JobManager:
    """One manager per cache directory, on the shared client."""
    client = _shared_client()
    with _lock:
        manager = _managers.get(str(cache.root))
        if manager is None or manager.cache is not cache:
            manager = _managers[str(cache.root)] = JobManager(cache, client=client)
        return manager


def train_now(spec: NetworkSpec, settings: TrainSettings, data: MnistData, cache: ModelCache, *,
              manager: JobManager | None = None,
              on_status: Callable[[JobStatus], None] | None = None) -> tuple[RunRecord, bool]:
    """(record, cache_hit): the cached run, or one trained as a job, stored in `cache`, waited for.

    Raises `TrainingFailed` when the job fails or is cancelled, or its run cannot be stored, and
    the job's own errors on bad input (`SpecError`, `SettingsError`, `JobLimitError`).
    """
    manager = manager or _manager(cache)
    status = manager.submit(spec, settings, data, session="script")
    while status is not None and status.active:
        status = manager.wait(status.id, POLL_SECONDS)
        if on_status is not None and status is not None:
            on_status(status)
    if status is None or status.state != DONE or status.record is None or not status.stored:
        raise TrainingFailed(status.describe() if status is not None else "the job was forgotten")
    return status.record, status.cached
