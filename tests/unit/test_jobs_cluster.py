"""Jobs on a real `distributed.LocalCluster` of two worker processes (the workshop set-up, on one machine).

Small networks on the embedded subset, one epoch. The cluster is started and stopped here.
"""

from __future__ import annotations

import os
import signal
import time

import dask
import pytest

from dashboard.jobs.job_cluster import process_cluster_client
from dashboard.jobs.job_manager import DONE, FAILED, JobManager
from dashboard.jobs.job_task import POOL_LABEL
from dashboard.mnist.data import MnistData
from dashboard.network.spec import PRESETS
from dashboard.training.train_settings import TrainSettings
from tests.job_fixtures import cache, data  # noqa: F401 - pytest fixtures

pytestmark = pytest.mark.slow
TINY = PRESETS["tiny"]


def settings(size: int, epochs: int = 1) -> TrainSettings:
    return TrainSettings(epochs=epochs, train_size=size, batch_size=64)


def start_cluster(workers: int):
    client = process_cluster_client(workers)
    return client.cluster, client


@pytest.fixture(scope="module")
def cluster_client():
    cluster, client = start_cluster(2)
    yield client
    client.close()
    cluster.close()


def test_two_jobs_train_in_parallel_on_two_worker_processes(cluster_client, cache, data):
    manager = JobManager(cache, client=cluster_client)
    first = manager.submit(TINY, settings(3000), data, session="w")
    second = manager.submit(TINY, settings(3100), data, session="w")
    done = [manager.wait(first.id, 240), manager.wait(second.id, 240)]
    assert [s.state for s in done] == [DONE, DONE], [s.message for s in done]
    places = {s.record.trained_on for s in done}
    assert len(places) == 2 and all(p.startswith("tcp://") for p in places)  # one job on each worker
    for status in done:
        stored = cache.get(status.key)
        assert stored is not None and stored.trained_on == status.record.trained_on
        cache.load_model(status.key)  # the bytes from the worker are a sound model


def test_a_worker_killed_mid_job_is_retried_once_by_dask_and_nothing_half_written(cluster_client, cache, data):
    manager = JobManager(cache, client=cluster_client)
    status = manager.submit(TINY, settings(10_000, epochs=2), data, session="k")
    deadline = time.monotonic() + 180
    while not (manager.status(status.id).batches > 0 or not manager.status(status.id).active):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    running = manager.status(status.id)
    assert running.state == "running", running.describe()
    address = running.trained_on.split(" ")[0]
    pid = cluster_client.run(os.getpid, workers=[address])[address]
    os.kill(pid, signal.SIGKILL)
    finished = manager.wait(status.id, 300)
    assert not list(cache.root.glob(".tmp-*"))  # an absent root globs to nothing
    if finished.state == DONE:  # Dask ran it again on the other worker
        assert finished.record.trained_on.split(" ")[0] != address
        assert cache.get(status.key) is not None
    else:
        assert finished.state == FAILED and "worker" in finished.message
        assert cache.get(status.key) is None
    # The app keeps serving: another job runs to the end.
    after = manager.submit(TINY, settings(700), data, session="k")
    assert manager.wait(after.id, 240).state == DONE


def test_a_worker_with_other_data_refuses_with_a_clear_message(cluster_client, cache, data):
    other = MnistData(data.x_train[:3000], data.y_train[:3000], data.x_test, data.y_test, "file", "mine.npz")
    manager = JobManager(cache, client=cluster_client)
    manager.own_data = True  # the workers use their own MNIST: here the embedded subset
    status = manager.submit(TINY, settings(600), other, session="m")
    failed = manager.wait(status.id, 120)
    assert failed.state == FAILED and "refused the job" in failed.message and "tcp://" in failed.message
    assert other.fingerprint in failed.message and data.fingerprint in failed.message
    assert cache.get(status.key) is None


def test_a_lost_scheduler_falls_back_to_training_here(monkeypatch, cache, data):
    cluster, client = start_cluster(1)
    client.close()
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
    with dask.config.set({"distributed.comm.timeouts.connect": "3s"}):
        manager = JobManager(cache)
        try:
            status = manager.submit(TINY, settings(6000, epochs=2), data, session="lost")
            assert manager.remote and manager.status(status.id).active
            cluster.close()  # the workshop's scheduler goes away mid-job
            finished = manager.wait(status.id, 300)
            assert "The Dask cluster was lost; the job starts over on this server's worker processes" in finished.note
            assert finished.state == DONE, finished.message
            assert "Lost the Dask cluster" in manager.notice and not manager.remote
            assert POOL_LABEL in finished.record.trained_on  # the app's own worker process, never its server's
        finally:
            manager.close()
