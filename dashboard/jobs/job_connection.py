"""Which Dask cluster a `JobManager`'s jobs run on, and the app's data there: the manager's connection side.

`ClusterConnection` is one part of `dashboard.jobs.job_manager.JobManager` and holds no state of its
own: the manager's `__init__` sets `_given_client`, `_client`, `_owned`, `_failed_address`,
`notice`, `where`, `security`, `slots`, `slot`, `_scattered`, `_watch` and `_lock`. It connects
to the configured scheduler, or falls back to the app's own worker pool (or, when the operator
asked, an in-process cluster), says where jobs run and how the connection is protected, and
sends the training data to the cluster once per data set. No Streamlit here.
"""

from __future__ import annotations

import os
from typing import Any

from dashboard.jobs.cluster_certs import CertificateError
from dashboard.jobs.job_cluster import (
    ClusterRefused,
    configured_address,
    connect,
    describe_client,
    local_cluster_client,
    plan_connection,
    send_data,
    worker_pool_client,
)
from dashboard.jobs.job_guard import MEMORY_TOPIC
from dashboard.jobs.job_health import Health
from dashboard.jobs.job_status import (
    QUEUED,
)
from dashboard.jobs.job_task import (
    PROGRESS_TOPIC,
)
from dashboard.jobs.memory_budget import (
    MB,
)
from dashboard.mnist.data import MnistData

IN_PROCESS_VAR = "JOBS_IN_PROCESS"  # "1": the operator wants jobs in the server's own process
POOL_WHERE = "this server's worker processes"
IN_PROCESS_WHERE = "this server (in-process Dask)"


def in_process_wanted() -> bool:
    """True when the operator asked for trainings in the server's own process (`JOBS_IN_PROCESS=1`)."""
    return os.environ.get(IN_PROCESS_VAR) == "1"


class ClusterConnection:
    """The cluster side of `JobManager`: its client, where jobs run, the cluster's health, closing."""

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
