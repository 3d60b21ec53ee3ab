"""Which Dask cluster jobs run on, and how the app's training data gets there. No Streamlit here.

- `worker_pool_client`: the default, a `LocalCluster` whose worker processes are started for
  the work and retired when idle (`adapt(minimum=0, maximum=N)`: an idle worker holding
  TensorFlow would spend the budget on its own). Every party listens on 127.0.0.1 only and speaks
  TLS with a throw-away certificate of this process (`Security.temporary()`): nobody else can
  submit work. Each worker runs `dashboard.jobs.job_guard.MemoryGuard` (OOM score 1000, ended past its
  share of the memory budget), and a job whose worker died is not retried (`allowed-failures` 0);
- `local_cluster_client`: the in-process cluster (one worker, one thread per concurrent
  training), used when the operator asks for it (`JOBS_IN_PROCESS=1`) and by fast tests. Dask starts an HTTP server in its scheduler and worker even without a
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
- `configured_address` / `plan_connection` / `connect`: a workshop's cluster named by
  `DASK_SCHEDULER_ADDRESS` (Dask's own variable) or Dask's `scheduler-address` setting. The
  address is judged before any traffic: `tls://` needs the app's certificates (checked by
  `dashboard.jobs.cluster_certs`); `tcp://` is accepted for a loopback literal only (127.0.0.0/8, ::1,
  localhost), or anywhere when the operator sets `DASK_ALLOW_INSECURE=1`; anything else is refused
  with `ClusterRefused`. Results come back as plain data: every client of a cluster outside this
  process reads results with Dask's `msgpack` deserializer only (`RESULT_DESERIALIZERS`), so a
  pickled result is refused, never unpickled;
- `send_data`: the app's MNIST on the cluster as a task's result (recomputable: Dask computes it
  again on another worker if the one holding it dies, which scattered data would not survive).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboard.jobs.cluster_certs import CA_FILE, CONFIG_KEYS, cert_name, check_tls_files, key_name, when
from dashboard.jobs.job_task import provide_data
from dashboard.mnist.data import MnistData

CONNECT_SECONDS = 5.0  # to reach a configured scheduler before falling back
ALLOWED_FAILURES = 1  # Dask retries a job once when its worker dies
HTTP_ADDRESS = "127.0.0.1:0"  # Dask's own HTTP servers (health, metrics): loopback, any free port
ADAPT_INTERVAL = "500ms"  # how often the pool checks whether it needs a worker (job start latency)
# Idle checks in a row before a worker is retired: 20 s, so that a learner's next press (another
# seed, a family) reuses the worker. A fresh worker's first batch came 9-13 s after the press, an
# in-process cluster's (TensorFlow already imported) 1-2 s (tiny network, embedded set, loaded
# machine). The idle worker stays inside the memory share its jobs were admitted to.
ADAPT_WAIT_COUNT = 40
RESULT_DESERIALIZERS = ["msgpack"]  # results from a cluster: plain data (str, bytes, numbers), never pickles
INSECURE_VAR = "DASK_ALLOW_INSECURE"
LOOPBACK_NAMES = {"localhost"}
WORKER_CONFIG = {  # worker processes keep glibc's default malloc tuning (see the module docstring)
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
}
# The pool's workers also use two malloc arenas instead of glibc's eight a core: TensorFlow's
# threads each filled an arena of their own. Measured (benchmarks/worker_memory.py, book network,
# `fast`, full MNIST): peak anonymous memory 516 MB with the default, 474 MB with two arenas.
POOL_ENVIRON = {"distributed.nanny.pre-spawn-environ.MALLOC_ARENA_MAX": 2}


def env_int(name: str, default: int) -> int:
    """A positive whole number from the environment, or `default` when unset or not a number."""
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def max_concurrent_trainings() -> int:
    """Trainings at once on this machine (`MAX_CONCURRENT_TRAININGS`, default 1): the one place it is read."""
    return env_int("MAX_CONCURRENT_TRAININGS", 1)


def local_cluster_client(threads: int | None = None) -> Any:
    """A Dask client of an in-process cluster: one worker, `threads` trainings at once, HTTP on loopback only."""
    import dask
    from distributed import Client, LocalCluster

    threads = threads or max_concurrent_trainings()
    # the app's TLS files are for a workshop's scheduler: nothing here leaves the process, and a
    # missing or expired file named there must not stop the fallback cluster
    no_tls = dict.fromkeys(CONFIG_KEYS.values())
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES, **no_tls}):
        cluster = LocalCluster(processes=False, n_workers=1, threads_per_worker=threads,
                               dashboard_address=HTTP_ADDRESS, worker_dashboard_address=HTTP_ADDRESS,
                               memory_limit=0, silence_logs=logging.ERROR)
    return Client(cluster, set_as_default=False)


def worker_pool_client(workers: int, limit_bytes: int) -> Any:
    """A Dask client of the app's own pool: up to `workers` single-threaded worker processes, started for the work.

    Loopback and TLS only; each worker ends itself past `limit_bytes` of anonymous memory
    (`MemoryGuard`; 0: no guard) and a job whose worker died fails at once (no retry).
    """
    import dask
    from distributed import Client, LocalCluster
    from distributed.security import Security

    from dashboard.jobs.job_guard import MemoryGuard

    security = Security.temporary()  # a key and certificate made now, known to this process only
    # Nannies read these when they start a worker, which the pool does long after this call.
    dask.config.set({**WORKER_CONFIG, **POOL_ENVIRON})
    pool_config = {"distributed.scheduler.allowed-failures": 0, **dict.fromkeys(CONFIG_KEYS.values())}
    with dask.config.set(pool_config):
        cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True, protocol="tls://", host="127.0.0.1",
                               security=security, dashboard_address=HTTP_ADDRESS, worker_dashboard_address=HTTP_ADDRESS,
                               memory_limit=0, silence_logs=logging.ERROR)
    client = Client(cluster, set_as_default=False, security=security, deserializers=RESULT_DESERIALIZERS)
    client.register_plugin(MemoryGuard(limit_bytes))
    cluster.adapt(minimum=0, maximum=workers, interval=ADAPT_INTERVAL, wait_count=ADAPT_WAIT_COUNT)
    return client


def process_cluster_client(workers: int, security: Any = None) -> Any:
    """A Dask client of a `LocalCluster` of `workers` single-threaded worker processes (one training each).

    With `security` (`local_security`), every party speaks TLS on loopback with the workshop certificates.
    """
    import dask
    from distributed import Client, LocalCluster

    tls = {} if security is None else {"security": security, "protocol": "tls://", "host": "127.0.0.1"}
    with dask.config.set(WORKER_CONFIG):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=HTTP_ADDRESS, silence_logs=logging.ERROR, **tls)
    return Client(cluster, set_as_default=False, security=security, deserializers=RESULT_DESERIALIZERS)


def local_security(directory: str | os.PathLike) -> Any:
    """Dask `Security` for a whole cluster on one machine from a `cluster certs` directory (tests, benchmarks)."""
    from distributed.security import Security

    folder = Path(directory)
    (scheduler, scheduler_key), (worker, worker_key), (app, app_key) = (
        (str(folder / cert_name(role)), str(folder / key_name(role))) for role in ("scheduler", "worker", "app"))
    return Security(tls_ca_file=str(folder / CA_FILE), tls_scheduler_cert=scheduler, tls_scheduler_key=scheduler_key,
                    tls_worker_cert=worker, tls_worker_key=worker_key, tls_client_cert=app, tls_client_key=app_key,
                    require_encryption=True)


def configured_address() -> str | None:
    """The scheduler address the environment or Dask's configuration names, if any."""
    import dask

    return os.environ.get("DASK_SCHEDULER_ADDRESS") or dask.config.get("scheduler-address", None)


class ClusterRefused(RuntimeError):
    """A configured scheduler address the app will not connect to; decided from the address alone."""


@dataclass(frozen=True)
class Connection:
    """A scheduler address judged fit to connect to: Dask `Security` (or None) and how it is protected."""

    address: str
    security: Any
    note: str  # a plain sentence: "TLS with the workshop certificates (…)", "unencrypted, …"


def scheme_and_host(address: str) -> tuple[str, str]:
    """(scheme, host) of a Dask address, without resolving anything; the scheme defaults to tcp."""
    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, location = parse_address(address.strip())
    try:
        host, _ = parse_host_port(location, default_port=8786)
    except ValueError:
        host = ""
    return scheme, str(host).strip("[]")


def is_loopback(host: str) -> bool:
    """True for a loopback literal (127.0.0.0/8, ::1) or `localhost`; never looks a name up."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plan_connection(address: str, environ: Mapping[str, str] | None = None) -> Connection:
    """Judge a scheduler address before any traffic; raise `ClusterRefused` (or `CertificateError`) saying why."""
    from distributed.security import Security

    environ = os.environ if environ is None else environ
    scheme, host = scheme_and_host(address)
    if scheme == "tls":
        files = check_tls_files(environ)
        security = Security(tls_ca_file=files.ca_file, tls_client_cert=files.cert_file,
                            tls_client_key=files.key_file, require_encryption=True)
        return Connection(address, security, "encrypted (TLS; every party shows a certificate from the workshop "
                                             f"authority; the app's expire {when(files.expires)})")
    if scheme != "tcp":
        raise ClusterRefused(f"The Dask scheduler address {address} uses {scheme}://, which the app does not use: "
                             "give tls://HOST:PORT with the workshop certificates (see docs/deployment.md).")
    if is_loopback(host):
        return Connection(address, None, "unencrypted, on this machine's loopback interface only")
    if environ.get(INSECURE_VAR) == "1":
        return Connection(address, None, f"UNENCRYPTED ({INSECURE_VAR}=1): anyone who reaches the scheduler "
                                         "can run code on the cluster's machines")
    raise ClusterRefused(
        f"The Dask scheduler address {address} is plain TCP to another machine: anyone who reaches that port "
        "could run code on the cluster, so the app does not connect. Use tls://HOST:PORT with the workshop "
        "certificates (python -m dashboard cluster certs DIR; docs/deployment.md), or set "
        f"{INSECURE_VAR}=1 to accept an unencrypted cluster on a network you trust.")


def describe_client(client: Any) -> str:
    """How a given client's connection is protected, from its scheduler's address (a plain phrase)."""
    address = str(getattr(getattr(client, "scheduler", None), "address", "") or "")
    if address.startswith("inproc://"):
        return "in-process: nothing leaves this server"
    if address.startswith("tls://"):
        return "encrypted (TLS)"
    return "unencrypted"


def connect(connection: Connection) -> Any:
    """A client of the judged scheduler; raises (OSError, TimeoutError, …) within `CONNECT_SECONDS`.

    Results are read with `RESULT_DESERIALIZERS` only: a worker's result is data, never a pickle.
    """
    from distributed import Client

    return Client(connection.address, timeout=CONNECT_SECONDS, set_as_default=False, security=connection.security,
                  deserializers=RESULT_DESERIALIZERS)


def send_data(client: Any, data: MnistData) -> Any:
    """A Dask future holding `data` on the cluster (a task's result, not `scatter`)."""
    import dask

    # the data travels inside the task graph: ~55 MB for full MNIST, above Dask's default warning
    with dask.config.set({"distributed.admin.large-graph-warning-threshold": "200MB"}):
        return client.submit(provide_data, data, key=f"convnet-data-{data.fingerprint}-{uuid.uuid4().hex[:6]}",
                             pure=False)
