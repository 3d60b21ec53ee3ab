"""What keeps a worker process of the app's own pool from taking the server down: OOM priority and a memory guard.

`MemoryGuard` is a Dask worker plugin the app registers on its local worker pool
(`dashboard.jobs.job_cluster.worker_pool_client`); every worker process, including those the pool
starts later, runs its `setup`:
- it writes 1000 to `/proc/self/oom_score_adj`, so that when the box runs out of memory the
  kernel kills this worker first, never the server (failures ignored: not Linux, not allowed);
- it starts a thread that reads the process's anonymous memory (`RssAnon` + `RssShmem` of
  `/proc/self/status`) every `POLL_SECONDS`, and once it passes the worker's share of the budget
  sends a `MEMORY_TOPIC` event (the worker's address, the jobs it runs, the bytes) and ends the
  process at once: its job fails and is not retried (the pool's `allowed-failures` is 0).

Why not Dask's own `memory_limit`: its nanny measures RSS, which counts the ~440 MB of
TensorFlow's libraries read from disk (pages the kernel can drop, and that every process using
TensorFlow shares): measured, RSS 678 MB right after importing TensorFlow, 237 MB of it
anonymous, so any share under ~715 MB would end every worker before its first batch.
No Streamlit; imports neither TensorFlow nor the app's training code (only Dask's plugin base).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

POLL_SECONDS = 0.05
POOL_VAR = "CONVNET_WORKER_POOL"  # "1" in this pool's worker processes (read by `dashboard.jobs.job_task`)
MEMORY_TOPIC = "convnet-worker-memory"
EVENT_SECONDS = 0.5  # time for the event to leave before the process ends
OOM_SCORE_ADJ = 1000  # the kernel's first choice when memory runs out


def anonymous_bytes(status_path: str = "/proc/self/status") -> int:
    """This process's anonymous and shared-memory resident bytes (0 where /proc cannot be read)."""
    total = 0
    try:
        with open(status_path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith(("RssAnon:", "RssShmem:")):
                    total += int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return 0
    return total


def prefer_me_for_oom(path: str = "/proc/self/oom_score_adj") -> bool:
    """Ask the kernel to kill this process first when memory runs out; False if not allowed."""
    try:
        with open(path, "w", encoding="ascii") as handle:
            handle.write(str(OOM_SCORE_ADJ))
        return True
    except OSError:
        return False


class MemoryGuard(WorkerPlugin):
    """A Dask worker plugin: OOM score 1000 and a thread ending the worker past `limit_bytes` of anonymous memory."""

    name = "convnet-memory-guard"
    idempotent = True

    def __init__(self, limit_bytes: int):
        self.limit_bytes = int(limit_bytes)

    def setup(self, worker: Any) -> None:
        """Runs in each worker process when it starts (or when the plugin is registered)."""
        prefer_me_for_oom()
        os.environ[POOL_VAR] = "1"  # this process is one of the app's own workers (`job_task._where`)
        if self.limit_bytes > 0:
            threading.Thread(target=self._watch, args=(worker,), name="convnet-memory-guard", daemon=True).start()

    def teardown(self, worker: Any) -> None:
        """Nothing to undo: the thread ends with the process."""

    def _watch(self, worker: Any) -> None:
        """Poll this process's anonymous memory until it passes the share (then the process ends)."""
        while True:
            used = anonymous_bytes()
            if used > self.limit_bytes:
                self._give_up(worker, used)
            time.sleep(POLL_SECONDS)

    def _give_up(self, worker: Any, used: int) -> None:
        """Say which jobs ran out of memory, then end the process (no cleanup: memory is short)."""
        try:
            jobs = sorted(str(getattr(task, "key", task)) for task in getattr(worker.state, "executing", ()))
            worker.log_event(MEMORY_TOPIC, {"worker": worker.address, "used": used, "limit": self.limit_bytes,
                                            "tasks": jobs})
            time.sleep(EVENT_SECONDS)
        finally:
            os._exit(137)
