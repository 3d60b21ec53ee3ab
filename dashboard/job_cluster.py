"""Which Dask cluster jobs run on, and how the app's training data gets there. No Streamlit here.

- `local_cluster_client`: the default, an in-process cluster (one worker, one thread per
  concurrent training). Dask starts an HTTP server in its scheduler and worker even without a
  dashboard, on port 8787 unless told otherwise (`dashboard_address=None` still means 8787 in
  distributed 2026.8); here both listen on a free port of the loopback interface only
  (`HTTP_ADDRESS`), so two app processes never fight over 8787 and nothing is exposed;
- `process_cluster_client`: a `LocalCluster` of worker processes, a workshop on one machine
  (tests and benchmarks). Dask's nanny starts each worker process with
  `MALLOC_TRIM_THRESHOLD_=65536`, which turns off glibc's adaptive mmap threshold: every
  TensorFlow buffer over 128 KB is then mmapped and unmapped again. Measured here (book
  network, one epoch of the 12,000 embedded images): 12.3 s of CPU, 0.7 s of it in the
  kernel, as a plain process; 21.7 s, 9.5 s in the kernel, with that variable set.
  `WORKER_CONFIG` drops that one variable; `dask-worker.yaml` does the same for a workshop's
  `dask worker`. (The nanny also sets it in the *parent's* `os.environ`, so only worker
  processes started after `WORKER_CONFIG` is in force are spared.)
- `configured_address` / `connect`: a workshop's cluster named by `DASK_SCHEDULER_ADDRESS`
  (Dask's own variable) or Dask's `scheduler-address` setting;
- `send_data`: the app's MNIST on the cluster as a task's result (recomputable: Dask computes it
  again on another worker if the one holding it dies, which scattered data would not survive).
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

from dashboard.data import MnistData
from dashboard.job_task import provide_data

CONNECT_SECONDS = 5.0  # to reach a configured scheduler before falling back
ALLOWED_FAILURES = 1  # Dask retries a job once when its worker dies
HTTP_ADDRESS = "127.0.0.1:0"  # Dask's own HTTP servers (health, metrics): loopback, any free port
WORKER_CONFIG = {  # worker processes keep glibc's default malloc tuning (see the module docstring)
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
}


def env_int(name: str, default: int) -> int:
    """A positive whole number from the environment, or `default` when unset or not a number."""
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def local_cluster_client(threads: int | None = None) -> Any:
    """A Dask client of an in-process cluster: one worker, `threads` trainings at once, HTTP on loopback only."""
    import dask
    from distributed import Client, LocalCluster

    threads = threads or env_int("MAX_CONCURRENT_TRAININGS", 1)
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        cluster = LocalCluster(processes=False, n_workers=1, threads_per_worker=threads,
                               dashboard_address=HTTP_ADDRESS, worker_dashboard_address=HTTP_ADDRESS,
                               memory_limit=0, silence_logs=logging.ERROR)
    return Client(cluster, set_as_default=False)


def process_cluster_client(workers: int) -> Any:
    """A Dask client of a `LocalCluster` of `workers` single-threaded worker processes (one training each)."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set(WORKER_CONFIG):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=HTTP_ADDRESS, silence_logs=logging.ERROR)
    return Client(cluster, set_as_default=False)


def configured_address() -> str | None:
    """The scheduler address the environment or Dask's configuration names, if any."""
    import dask

    return os.environ.get("DASK_SCHEDULER_ADDRESS") or dask.config.get("scheduler-address", None)


def connect(address: str) -> Any:
    """A client of the scheduler at `address`; raises (OSError, TimeoutError, …) within `CONNECT_SECONDS`."""
    from distributed import Client

    return Client(address, timeout=CONNECT_SECONDS, set_as_default=False)


def send_data(client: Any, data: MnistData) -> Any:
    """A Dask future holding `data` on the cluster (a task's result, not `scatter`)."""
    import dask

    # the data travels inside the task graph: ~55 MB for full MNIST, above Dask's default warning
    with dask.config.set({"distributed.admin.large-graph-warning-threshold": "200MB"}):
        return client.submit(provide_data, data, key=f"convnet-data-{data.fingerprint}-{uuid.uuid4().hex[:6]}",
                             pure=False)
