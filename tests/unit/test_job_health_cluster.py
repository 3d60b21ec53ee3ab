"""A workshop cluster whose only worker is killed mid-job: the health says so, the job goes back in line and starts over.

A real scheduler (`LocalCluster` with no worker of its own) and `python -m dask worker` processes
started as docs/deployment.md says (loopback, `dask-worker.yaml`), killed with their nanny as an
instructor's Ctrl-C or a crashed machine would. The tiny network on the embedded subset.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from dashboard.jobs.job_cluster import process_cluster_client
from dashboard.jobs.job_health import NO_WORKER, OK, WORKER_LOST
from dashboard.jobs.job_manager import JobManager
from dashboard.jobs.job_status import DONE, QUEUED, RUNNING
from dashboard.network.spec import PRESETS
from dashboard.training.train_settings import TrainSettings
from tests.job_fixtures import cache, data  # noqa: F401 - pytest fixtures

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TINY = PRESETS["tiny"]
LONG = TrainSettings(epochs=2, train_size=10_000, batch_size=32)  # long enough to be killed mid-epoch


def start_worker(address: str) -> subprocess.Popen:
    """`python -m dask worker` with its nanny, in a process group of its own (killed whole)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_CONFIG": str(ROOT / "dask-worker.yaml"),
           "MNIST_DOWNLOAD": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--host", "127.0.0.1",
                             "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def kill(worker: subprocess.Popen) -> None:
    """SIGKILL to the worker and its nanny: no goodbye to the scheduler, no restart."""
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    worker.wait(30)


def until(predicate, timeout: float, what: str, step: float = 0.2):
    """Poll `predicate` until it returns something true; fail after `timeout` s naming `what`."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = predicate()
        if found:
            return found
        time.sleep(step)
    raise AssertionError(f"within {timeout:.0f} s: {what}")


@pytest.fixture
def scheduler():
    client = process_cluster_client(0)  # the scheduler alone; workers join from outside
    workers: list[subprocess.Popen] = []
    yield client, workers
    for worker in workers:
        kill(worker)
    cluster = client.cluster
    client.close()
    cluster.close()


def test_a_killed_worker_says_no_worker_the_job_goes_back_in_line_and_starts_over_on_a_new_one(scheduler, cache, data):
    client, workers = scheduler
    address = client.scheduler.address
    manager = JobManager(cache, client=client)
    try:
        status = manager.submit(TINY, LONG, data, session="kill")
        waiting = until(lambda: "No worker is connected" in manager.health().sentence and manager.health(),
                        30, "the health says no worker before any joined")
        assert waiting.state == NO_WORKER and waiting.alarm and address in waiting.sentence
        assert waiting.sentence.endswith("your job waits in line and starts when one joins.")
        assert until(lambda: manager.status(status.id).place, 10, "the job has its place in line") == 1
        assert manager.status(status.id).describe() == "queued (number 1 in line, expected wait unknown)"

        workers.append(start_worker(address))
        first = until(lambda: (s := manager.status(status.id)).batches and s.batch >= 20 and s,
                      180, "the job trains on the first worker")
        worker = first.trained_on.split(" ")[0]
        assert first.state == RUNNING and worker.startswith("tcp://127.0.0.1:") and not first.note
        assert manager.health().state == OK and "1 training, 0 waiting in line" in manager.health().sentence

        kill(workers[0])
        killed = time.monotonic()
        lost = until(lambda: manager.health().state == NO_WORKER and manager.health(), 30, "no worker after the kill")
        assert f"The worker {worker} was lost at " in lost.sentence
        assert lost.sentence.endswith("your job waits in line and starts when one joins.")
        back = until(lambda: (s := manager.status(status.id)).state == QUEUED and s, 30, "the job back in line")
        assert time.monotonic() - killed < 30
        assert back.epoch == back.batch == back.batches == 0 and back.history == {} and back.trained_on == ""
        assert back.describe().startswith("queued (number 1 in line, ")  # never progress on a dead worker
        assert back.note.startswith(f"Its worker {worker} was lost at epoch 1/2, batch ")
        assert "back in line and starts over from epoch 1" in back.note

        workers.append(start_worker(address))
        again = until(lambda: (s := manager.status(status.id)).state == RUNNING and s.batches and s,
                      180, "the job starts over on the new worker")
        assert again.restarts == 1 and again.epoch == 1
        new_worker = again.trained_on.split(" ")[0]
        assert new_worker != worker
        assert again.note == (f"Started over on {new_worker}: the worker it ran on ({worker}) was lost at "
                              f"{back.note.split(' was lost at ')[1].split('. ')[0]}, so its progress was reset to epoch 1.")
        assert manager.health().state in (WORKER_LOST, OK)

        done = manager.wait(status.id, 240)
        assert done.state == DONE and done.stored, done.message
        assert done.record.trained_on.split(" ")[0] == new_worker and done.restarts == 1
        assert cache.get(status.key) is not None
    finally:
        manager.close()


def test_the_app_and_the_command_line_share_one_line_and_both_say_no_worker_is_connected(scheduler, cache, data,
                                                                                          tmp_path):
    client, _ = scheduler
    address = client.scheduler.address
    manager = JobManager(cache, client=client)
    cli = None
    try:
        first = manager.submit(TINY, TrainSettings(epochs=1, train_size=500, seed=3), data, session="app")
        env = {**os.environ, "DASK_SCHEDULER_ADDRESS": address, "MODEL_CACHE_DIR": str(tmp_path / "cli-cache"),
               "PYTHONPATH": str(ROOT), "MNIST_DOWNLOAD": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}
        cli = subprocess.Popen([sys.executable, "-m", "dashboard", "train", "--preset", "tiny", "--data", "embedded",
                                "--epochs", "1", "--train-size", "500", "--seed", "4"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []

        def cli_says(words: str) -> bool:
            while not any(words in line for line in lines):
                line = cli.stderr.readline()
                if not line:
                    return False
                lines.append(line.rstrip())
            return True

        # The command line's job was asked for after the app's: second in the cluster's one line, in both views.
        assert cli_says("queued (number 2 in line, expected wait unknown)"), lines
        assert cli_says(f"cluster: No worker is connected to the cluster at {address}; your job waits in line "
                        "and starts when one joins."), lines
        assert until(lambda: manager.status(first.id).place, 10, "the app's job has its place") == 1
        assert manager.status(first.id).describe() == "queued (number 1 in line, expected wait unknown)"
        assert not any("number 1 in line" in line for line in lines), lines
        manager.cancel(first.id)  # the app's job leaves the line: the command line's moves up
        assert cli_says("queued (number 1 in line, expected wait unknown)"), lines
    finally:
        if cli is not None:
            cli.send_signal(signal.SIGINT)  # Ctrl-C cancels its job
            try:
                cli.wait(120)
            except subprocess.TimeoutExpired:  # clean-up only: this test is about the line, not about Ctrl-C
                cli.kill()
                cli.wait(30)
                warnings.warn(f"the command line took over 120 s to stop after Ctrl-C: {lines[-3:]}", stacklevel=1)
        manager.close()
