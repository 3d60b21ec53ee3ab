"""The app's default job cluster: its own worker processes on loopback, with a memory budget (dashboard.jobs.job_manager).

Slow tests start and stop their own worker pool (through `JobManager` with no client given) and
train the tiny network on the embedded subset. The quick test refuses a training at `submit`
from the memory budget alone, with no cluster.
"""

from __future__ import annotations

import os

import numpy as np
import psutil
import pytest

from dashboard.jobs import job_manager as jobs_mod
from dashboard.jobs.job_connection import IN_PROCESS_VAR, POOL_WHERE
from dashboard.jobs.job_guard import anonymous_bytes, prefer_me_for_oom
from dashboard.jobs.job_manager import JobManager
from dashboard.jobs.job_status import DONE, FAILED, NotEnoughMemory
from dashboard.jobs.job_task import POOL_LABEL
from dashboard.jobs.memory_budget import MB, Memory, Need
from dashboard.mnist.data import MnistData
from dashboard.modelfiles.modelfile import ModelFileError, sha256
from dashboard.network.spec import BOOK, PRESETS
from dashboard.store.cache import ModelCache
from dashboard.store.imported import import_model
from dashboard.training.train_settings import TRAIN_PRESETS, TrainSettings
from dashboard.training.trainer import train
from tests import keras_models as km
from tests.job_fixtures import cache, data  # noqa: F401 - pytest fixtures

TINY = PRESETS["tiny"]
QUICK = TrainSettings(epochs=1, train_size=600, batch_size=64)


@pytest.fixture
def pool_env(monkeypatch):
    """The app's defaults: no configured scheduler, no in-process opt-in."""
    for name in ("DASK_SCHEDULER_ADDRESS", IN_PROCESS_VAR, "MEMORY_BUDGET_MB"):
        monkeypatch.delenv(name, raising=False)


def listening(process: psutil.Process) -> list[tuple[str, int]]:
    return [(c.laddr.ip, c.laddr.port) for c in process.net_connections() if c.status == psutil.CONN_LISTEN]


def oom_score_adj() -> str:
    with open("/proc/self/oom_score_adj", encoding="ascii") as handle:
        return handle.read().strip()


@pytest.mark.slow
def test_by_default_a_run_trains_in_a_worker_process_on_loopback_with_the_same_weights(pool_env, cache, data):
    manager = JobManager(cache)
    try:
        status = manager.submit(TINY, QUICK, data, session="pool")
        assert manager.where == POOL_WHERE and not manager.remote
        done = manager.wait(status.id, 240)
        assert done.state == DONE and done.stored, done.message
        assert done.record.trained_on.startswith("tls://127.0.0.1:") and POOL_LABEL in done.record.trained_on
        cache.load_model(status.key)  # the bytes from the worker are a sound model
        # the same run trained here gives the same numbers: every random draw comes from its seed
        direct = train(TINY, QUICK, data)
        assert done.record.history == direct.history and done.record.test_accuracy == direct.test_accuracy
        client = manager.client()
        # a task, not `client.run`: the idle worker may be retiring, and a task starts one again
        pid, score = client.submit(lambda: (os.getpid(), oom_score_adj()), pure=False).result(timeout=120)
        assert pid != os.getpid() and score == "1000"  # the kernel's first choice when memory runs out
        server = psutil.Process()
        sockets = listening(server) + [s for child in server.children(recursive=True) for s in listening(child)]
        assert sockets and all(host == "127.0.0.1" for host, _ in sockets), sockets
        assert client.scheduler.address.startswith("tls://127.0.0.1:")
    finally:
        manager.close()


@pytest.mark.slow
def test_a_worker_past_its_memory_share_fails_the_job_with_the_reason_and_nothing_is_stored(
        pool_env, tmp_path, cache, data, monkeypatch):
    # The estimate is made wrong on purpose (10 MB), so the job starts; the worker's share is
    # 200 MB, less than TensorFlow alone: its guard ends it and the server goes on.
    monkeypatch.setattr(jobs_mod, "training_need", lambda *args: Need(10 * MB, 0, 0, 0))
    monkeypatch.setattr(jobs_mod, "own_rss", lambda: 0)  # this test process may hold TensorFlow already
    monkeypatch.setattr(jobs_mod, "import_need", lambda *args: 10 * MB)
    memory = Memory(limit=600 * MB, used=0, source="test", limited=True)
    manager = JobManager(cache, memory=memory)
    try:
        assert manager.slot == 200 * MB
        status = manager.submit(TINY, QUICK, data, session="short")
        failed = manager.wait(status.id, 240)
        assert failed.state == FAILED, failed.describe()
        assert failed.message.startswith("the training ran out of memory: this server has 600 MB (200 MB for a "
                                         "job), training this network needs about"), failed.message
        assert "nothing was stored" in failed.message and "shipped runs" in failed.message
        assert cache.get(status.key) is None
        assert not (cache.root.exists() and any(cache.root.iterdir()))
        # an import under the same share: its worker is ended too, the file is not stored
        model_file = km.save(km.book(), tmp_path, "stranger", "keras").read_bytes()
        with pytest.raises(ModelFileError, match="^the measurement ran out of memory: this server has 600 MB"):
            import_model(model_file, "stranger.keras", data, cache, measure=manager.measure_import)
        assert cache.get(sha256(model_file)) is None and not (cache.root.exists() and any(cache.root.iterdir()))
        # the server keeps serving: the pool starts a new worker for the next piece of work
        assert manager.client().submit(sum, [1, 2], pure=False).result(timeout=120) == 3
    finally:
        manager.close()


@pytest.mark.slow
def test_an_imported_model_is_loaded_and_measured_in_a_worker_as_it_would_be_here(pool_env, tmp_path, data):
    model_file = km.save(km.book(), tmp_path, "mine", "keras").read_bytes()
    here, _ = import_model(model_file, "mine.keras", data, ModelCache(root=tmp_path / "here", shipped_root=None))
    cache = ModelCache(root=tmp_path / "pool", shipped_root=None)
    manager = JobManager(cache)
    try:
        record, hit = import_model(model_file, "mine.keras", data, cache, measure=manager.measure_import)
        assert not hit and manager.where == POOL_WHERE
        assert record.key == here.key == sha256(model_file) and record.test_accuracy == here.test_accuracy
        assert record.imported.scaling_scores == here.imported.scaling_scores
        assert record.imported.scaling == here.imported.scaling
        cache.load_model(record.key)  # the stored bytes are a loadable model
        with pytest.raises(ModelFileError, match="Keras cannot load|not a"):  # a refusal comes back as one
            manager.measure_import(b"PK\x03\x04 not a model", "broken.keras", data)
    finally:
        manager.close()


class IdleClient:
    """Enough of a Dask client for `JobManager` to refuse at submit without a cluster."""

    status = "running"
    cluster = None
    scheduler = type("S", (), {"address": "inproc://idle"})()

    def subscribe_topic(self, topic, handler):
        pass

    def submit(self, *args, **kwargs):
        raise AssertionError("nothing may be submitted")


def test_a_training_larger_than_its_share_is_refused_at_submit_with_the_numbers(cache, data, monkeypatch):
    monkeypatch.setenv("MAX_CONCURRENT_TRAININGS", "1")
    monkeypatch.setattr(jobs_mod, "own_rss", lambda: 0)
    full = MnistData(np.zeros((60_000, 28, 28), np.uint8), np.zeros(60_000, np.uint8),
                     np.zeros((10_000, 28, 28), np.uint8), np.zeros(10_000, np.uint8), "file", "full.npz")
    small_box = JobManager(cache, client=IdleClient(), memory=Memory(600 * MB, 250 * MB, "cgroup v2 /box", True))
    big_batch = TrainSettings.from_dict({**TRAIN_PRESETS["fast"].to_dict(), "batch_size": 4096})
    with pytest.raises(NotEnoughMemory, match="this server has 600 MB, about 200 MB of it for a job") as err:
        small_box.submit(BOOK, big_batch, full, session="s")
    assert "smaller batch size" in str(err.value) and small_box.jobs() == []
    monkeypatch.setenv("MAX_CONCURRENT_TRAININGS", "2")
    shared = JobManager(cache, client=IdleClient(), memory=Memory(1200 * MB, 0, "cgroup v2 /box", True))
    assert shared.slot == 400 * MB  # two trainings at once: each gets half of what the server leaves
    with pytest.raises(NotEnoughMemory, match="shared by 2 jobs at once"):
        shared.submit(BOOK, TRAIN_PRESETS["fast"], full, session="s")
    assert "400 MB each (2 at once)" in shared.describe_budget()
    with pytest.raises(ModelFileError, match="Not enough memory for this: .* measuring this model needs about"):
        shared.measure_import(b"PK", "m.keras", full)  # refused before any work: nothing submitted


def test_the_guard_counts_anonymous_memory_only_and_asks_the_kernel_to_kill_the_worker_first(tmp_path):
    status = tmp_path / "status"
    status.write_text("VmRSS:\t  700000 kB\nRssAnon:\t  200000 kB\nRssFile:\t  450000 kB\nRssShmem:\t    1000 kB\n")
    assert anonymous_bytes(str(status)) == 201000 * 1024  # TensorFlow's library pages (RssFile) are not counted
    assert anonymous_bytes(str(tmp_path / "missing")) == 0
    assert 0 < anonymous_bytes() < psutil.Process().memory_info().rss  # this process's own, from /proc
    score = tmp_path / "oom_score_adj"
    assert prefer_me_for_oom(str(score)) and score.read_text() == "1000"
    assert not prefer_me_for_oom(str(tmp_path / "no" / "such" / "file"))
