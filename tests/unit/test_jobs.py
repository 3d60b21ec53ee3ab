"""The job API (dashboard.jobs.job_manager) on a real in-process Dask cluster: no Streamlit.

Small networks on the embedded subset, one epoch: each training takes a few seconds.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from dashboard.jobs import job_cluster
from dashboard.jobs.job_cluster import local_cluster_client
from dashboard.jobs.job_manager import JobManager
from dashboard.jobs.job_status import CANCELLED, DONE, FAILED, JobLimitError
from dashboard.mnist.data import MnistData
from dashboard.network.spec import PRESETS
from dashboard.store.cache import ModelCache
from dashboard.training.train_settings import TrainSettings
from tests.job_fixtures import cache, data  # noqa: F401 - pytest fixtures

pytestmark = pytest.mark.slow
TINY = PRESETS["tiny"]
QUICK = TrainSettings(epochs=1, train_size=600, batch_size=64)


@pytest.fixture(scope="module")
def client():
    client = local_cluster_client(threads=1)
    yield client
    cluster = client.cluster
    client.close()
    cluster.close()


@pytest.fixture
def manager(client, cache):
    manager = JobManager(cache, client=client, max_per_session=3, max_queued=5)
    yield manager
    for status in manager.jobs():
        if status.active:
            manager.cancel(status.id)
            manager.wait(status.id, 60)


def settings(size: int, epochs: int = 1) -> TrainSettings:
    return TrainSettings(epochs=epochs, train_size=size, batch_size=64)


def wait_until(predicate, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def _http_sockets(node) -> list[tuple]:
    return [sock.getsockname() for sock in node.http_server._sockets.values()]


def test_the_in_process_cluster_serves_http_on_loopback_only_and_never_takes_8787(client):
    # Dask starts an HTTP server even with no dashboard; on 8787 unless told: a second app
    # process on the machine would warn "Port 8787 is already in use"
    nodes = [client.cluster.scheduler, *client.cluster.workers.values()]
    addresses = [address for node in nodes for address in _http_sockets(node)]
    assert len(addresses) >= 2
    assert all(host == "127.0.0.1" and port != 8787 for host, port, *_ in addresses), addresses
    assert client.submit(sum, [1, 2]).result(timeout=30) == 3


def test_submit_trains_stores_and_then_comes_from_the_cache(manager, cache, data):
    status = manager.submit(TINY, QUICK, data, session="s1")
    assert status.active and status.key == cache.key(TINY, QUICK, data.fingerprint)
    done = manager.wait(status.id, 120)
    assert done.state == DONE and done.stored and not done.cached
    stored = cache.get(status.key)
    assert stored is not None and stored.test_accuracy == done.record.test_accuracy
    assert "in the app's process" in stored.trained_on and stored.queued_seconds >= 0
    assert stored.history["val_accuracy"] == done.history["val_accuracy"]
    again = manager.submit(TINY, QUICK, data, session="s2")
    assert again.cached and again.state == DONE and again.record.key == status.key
    cache.load_model(status.key)  # the stored bytes are a loadable model


def test_same_run_attaches_to_the_queued_or_running_job(manager, data):
    first = manager.submit(TINY, settings(700), data, session="a")
    second = manager.submit(TINY, settings(700), data, session="b")
    assert second.id == first.id
    assert [s.id for s in manager.jobs("b")] == [first.id]
    assert manager.job_for_key(first.key).id == first.id
    assert manager.wait(first.id, 120).state == DONE


def test_progress_goes_from_queued_with_a_place_to_running_batches_to_done(manager, data):
    first = manager.submit(TINY, settings(6000), data, session="p")
    second = manager.submit(TINY, settings(800), data, session="p")
    assert manager.status(second.id).state == "queued"
    wait_until(lambda: manager.status(second.id).place or manager.status(second.id).state != "queued", 10)
    seen = []

    def running_with_batches() -> bool:
        status = manager.status(first.id)
        seen.append(status)
        return status.state == "running" and status.batches > 0 or not status.active

    wait_until(running_with_batches)
    running = seen[-1]
    assert running.state == "running", running.describe()
    assert 0 < running.batch <= running.batches == 85 and 0 <= running.accuracy <= 1
    assert "epoch 1/1" in running.describe() and 0 < running.fraction <= 1
    assert manager.status(second.id).place == 1  # behind the running job
    assert manager.wait(first.id, 120).state == DONE
    assert manager.wait(second.id, 120).state == DONE


def test_jobs_train_in_the_order_they_were_asked_for(manager, data):
    # The queue place shown to a learner is a promise: Dask would otherwise order equal-priority
    # tasks submitted within its 100 ms FIFO window by their keys (random here).
    asked = [manager.submit(TINY, settings(size), data, session="o") for size in (640, 660, 680)]
    finished = [manager.wait(status.id, 120) for status in asked]
    assert all(status.state == DONE for status in finished)
    assert [s.id for s in sorted(finished, key=lambda s: s.finished)] == [s.id for s in asked]


def test_cancel_a_running_and_a_queued_job_stores_nothing(manager, cache, data):
    running = manager.submit(TINY, settings(9000, epochs=3), data, session="c")
    queued = manager.submit(TINY, settings(900), data, session="c")
    wait_until(lambda: manager.status(running.id).batches > 0 or not manager.status(running.id).active)
    assert manager.cancel(queued.id) and manager.cancel(running.id)
    assert manager.wait(queued.id, 60).state == CANCELLED
    finished = manager.wait(running.id, 60)
    assert finished.state == CANCELLED and "nothing was stored" in finished.message
    assert not manager.cancel(running.id)  # no longer active
    time.sleep(1.0)  # the worker thread reads its flag within half a second
    assert cache.get(running.key) is None and cache.get(queued.key) is None
    assert not list(cache.root.glob(".tmp-*"))  # an absent root globs to nothing
    # A cancelled run can be asked for again: a new job, not the cancelled one.
    again = manager.submit(TINY, settings(900), data, session="c")
    assert again.id != queued.id and manager.wait(again.id, 120).state == DONE


def test_a_failing_training_fails_with_its_reason_and_stores_nothing(manager, cache, data, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the GPU caught fire")

    monkeypatch.setattr("dashboard.training.trainer.train", broken)  # the in-process worker sees it
    status = manager.submit(TINY, settings(1000), data, session="f")
    failed = manager.wait(status.id, 60)
    assert failed.state == FAILED and "the GPU caught fire" in failed.message
    assert cache.get(status.key) is None


def test_queue_caps_per_session_and_per_server(manager, data):
    for size in (1100, 1200, 1300):
        manager.submit(TINY, settings(size), data, session="greedy")
    with pytest.raises(JobLimitError, match="at most 3 per session"):
        manager.submit(TINY, settings(1400), data, session="greedy")
    manager.submit(TINY, settings(1500), data, session="other")
    manager.submit(TINY, settings(1600), data, session="third")
    with pytest.raises(JobLimitError, match="This server already has 5 jobs"):
        manager.submit(TINY, settings(1700), data, session="fourth")
    # attaching to a queued job is never refused
    assert manager.submit(TINY, settings(1100), data, session="fourth").active


def test_an_unwritable_cache_ends_done_with_the_directory_and_the_model_kept(client, tmp_path, data):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cache = ModelCache(root=blocker / "cache", shipped_root=None)
    manager = JobManager(cache, client=client)
    status = manager.submit(TINY, settings(650), data, session="ro")
    done = manager.wait(status.id, 120)
    assert done.state == DONE and not done.stored
    assert str(blocker / "cache") in done.message and "cannot be written" in done.message
    model_file = manager.model_file(status.id)
    assert model_file is not None and model_file[:2] == b"PK"  # a .keras zip, offered for download
    # Asking again attaches to the finished-but-unstored job instead of training again.
    assert manager.submit(TINY, settings(650), data, session="ro").id == status.id


def test_a_worker_with_other_data_refuses_the_job(client, cache, data):
    other = MnistData(data.x_train[:2000], data.y_train[:2000], data.x_test, data.y_test, "file", "other.npz")
    manager = JobManager(cache, client=client)
    manager.own_data = True  # workers use their own MNIST (here: the embedded subset)
    status = manager.submit(TINY, settings(600), other, session="m")
    failed = manager.wait(status.id, 60)
    assert failed.state == FAILED and "refused the job" in failed.message
    assert other.fingerprint in failed.message and data.fingerprint in failed.message
    assert cache.get(status.key) is None


def test_an_unreachable_scheduler_falls_back_to_in_process_with_a_notice(monkeypatch, cache, data):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:9")  # nothing listens there
    monkeypatch.setattr(job_cluster, "CONNECT_SECONDS", 1.0)
    manager = JobManager(cache)
    try:
        start = time.monotonic()
        status = manager.submit(TINY, settings(600), data, session="x")
        assert time.monotonic() - start < 30
        assert "cannot be reached" in manager.notice and "on this server's worker processes instead" in manager.notice
        assert not manager.remote and manager.wait(status.id, 120).state == DONE
    finally:
        manager.close()


def test_the_job_record_round_trips_with_its_new_fields(manager, cache, data):
    status = manager.submit(TINY, settings(620), data)
    record = manager.wait(status.id, 120).record
    assert record.to_dict()["trained_on"] == record.trained_on != ""
    again = type(record).from_json(record.to_json())
    assert again == record and np.isfinite(again.queued_seconds)
