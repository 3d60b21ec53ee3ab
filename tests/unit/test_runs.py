"""get_or_train: cache hits, one training for concurrent requests, the queue, Stop, damage; evaluation helpers."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from dashboard.store import runs
from dashboard.store.cache import ModelCache
from dashboard.mnist.data import load_mnist
from dashboard.inspection.evaluation import confusion_matrix, misclassified
from dashboard.store.runs import get_or_train
from dashboard.network.spec import ConvBlock, NetworkSpec
from dashboard.training.trainer import TrainSettings, train

pytestmark = pytest.mark.slow  # every test here trains through get_or_train

MICRO = NetworkSpec(blocks=(ConvBlock(4), ConvBlock(8)), dense_units=0)
QUICK = TrainSettings(epochs=1, batch_size=32, train_size=300)


@pytest.fixture(scope="module")
def data():
    return load_mnist("embedded")


@pytest.fixture
def cache(tmp_path):
    return ModelCache(tmp_path / "cache", shipped_root=None)


@pytest.fixture
def counted(monkeypatch):
    """Wrap the real `train` to count calls and the most trainings seen running at once."""
    stats = {"calls": 0, "running": 0, "peak": 0}
    guard = threading.Lock()

    def counting_train(*args, **kwargs):
        with guard:
            stats["calls"] += 1
            stats["running"] += 1
            stats["peak"] = max(stats["peak"], stats["running"])
        try:
            time.sleep(0.5)  # long enough for the other thread to arrive while this one trains
            return train(*args, **kwargs)
        finally:
            with guard:
                stats["running"] -= 1

    monkeypatch.setattr(runs, "train", counting_train)
    return stats


def test_miss_trains_and_stores_then_hit_reads(cache, data, counted):
    record, hit = get_or_train(MICRO, QUICK, data, cache)
    assert not hit and counted["calls"] == 1
    assert record.key == cache.key(MICRO, QUICK, data.fingerprint)
    assert record.final_map == (5, 8) and record.data_fingerprint == data.fingerprint
    assert record.params == cache.load_model(record.key).count_params()
    again, hit = get_or_train(MICRO, QUICK, data, cache)
    assert hit and again == record and counted["calls"] == 1


def test_two_threads_asking_for_one_run_train_it_once(cache, data, counted):
    results, messages = [], []

    def ask():
        results.append(get_or_train(MICRO, QUICK, data, cache, on_queued=messages.append))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counted["calls"] == 1
    assert sorted(hit for _, hit in results) == [False, True]
    assert results[0][0] == results[1][0]
    assert messages and "Another session is training this very run" in messages[0]


def test_different_runs_queue_behind_the_concurrency_limit(cache, data, counted):
    runs.set_max_concurrent(1)
    messages = []
    other = TrainSettings(epochs=1, batch_size=32, train_size=300, seed=1)
    threads = [
        threading.Thread(target=lambda s=s: get_or_train(MICRO, s, data, cache, on_queued=messages.append))
        for s in (QUICK, other)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counted["calls"] == 2 and counted["peak"] == 1
    assert any(m.startswith("Queued: 1 training running") for m in messages)
    assert len(cache.runs()) == 2


def test_two_slots_let_two_trainings_run_together(cache, data, counted):
    runs.set_max_concurrent(2)
    try:
        other = TrainSettings(epochs=1, batch_size=32, train_size=300, seed=1)
        threads = [threading.Thread(target=get_or_train, args=(MICRO, s, data, cache)) for s in (QUICK, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert counted["peak"] == 2
    finally:
        runs.set_max_concurrent(1)


def test_stop_during_training_stores_nothing_and_releases_the_locks(cache, data):
    class Stop(BaseException):  # like Streamlit's StopException
        pass

    def stop(progress):
        raise Stop

    with pytest.raises(Stop):
        get_or_train(MICRO, QUICK, data, cache, on_batch=stop)
    assert cache.runs() == []
    assert not [p for p in cache.root.glob(".tmp-*")]
    assert runs.trainings_running() == 0
    record, hit = get_or_train(MICRO, QUICK, data, cache)  # nothing left locked
    assert not hit and cache.get(record.key) == record


def test_a_damaged_entry_is_reported_and_trained_again(cache, data, counted):
    record, _ = get_or_train(MICRO, QUICK, data, cache)
    (cache.root / record.key / "record.json").write_text("{broken")
    again, hit = get_or_train(MICRO, QUICK, data, cache)
    assert not hit and counted["calls"] == 2 and again.key == record.key
    assert any("record.json is unreadable" in m for m in cache.take_problems())
    assert cache.get(record.key) is not None


def test_a_run_stored_by_another_process_meanwhile_is_not_trained_again(cache, data, counted, monkeypatch):
    """The file lock's re-check: a hit found after waiting counts as a hit."""
    seed_record, _ = get_or_train(MICRO, QUICK, data, cache)
    real_get = cache.get
    calls = {"n": 0}

    def get_misses_once(key):
        calls["n"] += 1
        return None if calls["n"] == 1 else real_get(key)

    monkeypatch.setattr(cache, "get", get_misses_once)
    record, hit = get_or_train(MICRO, QUICK, data, cache)
    assert hit and record == seed_record and counted["calls"] == 1


# --- evaluation helpers -----------------------------------------------------------------------------


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    true = np.array([0, 0, 1, 2, 2, 2])
    pred = np.array([0, 1, 1, 2, 2, 0])
    matrix = confusion_matrix(true, pred, classes=3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert matrix.sum() == len(true)


def test_misclassified_lists_the_most_confident_mistakes_first():
    true = np.array([0, 1, 2, 3])
    pred = np.array([0, 2, 0, 3])
    confidence = np.array([0.99, 0.6, 0.9, 0.8], np.float32)  # of each predicted digit
    assert misclassified(true, pred, confidence).tolist() == [2, 1]
    assert misclassified(true, pred, confidence, limit=1).tolist() == [2]


# --- charts of runs ---------------------------------------------------------------------------------


def test_mistakes_are_one_heatmap_labelled_predicted_and_true():
    from dashboard.charts.training import mistakes_figure

    images = np.zeros((12, 28, 28), np.uint8)
    fig = mistakes_figure(images, true=[1] * 12, predicted=[7] * 12, cols=5)
    assert len(fig.data) == 1 and fig.data[0].type == "heatmap"
    assert len(fig.layout.annotations) == 12 and fig.layout.annotations[0].text == "✗<b>7</b> (1)"
    assert "No misclassified" in mistakes_figure(np.zeros((0, 28, 28)), [], []).layout.title.text


def test_confusion_figure_writes_every_count_and_colours_only_mistakes():
    from dashboard.charts.training import confusion_figure

    matrix = np.arange(100).reshape(10, 10)
    trace = confusion_figure(matrix).data[0]
    assert np.array_equal(np.asarray(trace.text), matrix)
    assert np.isnan(np.asarray(trace.z, float)[3, 3]) and np.asarray(trace.z)[3, 4] == 34


def test_learning_curves_grow_with_the_history():
    from dashboard.charts.training import learning_curves

    empty = learning_curves({}, epochs=5)
    assert list(empty.layout.yaxis.range) == [0, 1] and list(empty.layout.xaxis.range) == [0.5, 5.5]
    two = learning_curves({"accuracy": [0.9, 0.95], "val_accuracy": [0.92, 0.96]}, epochs=5)
    assert [list(t.y) for t in two.data] == [[0.9, 0.95], [0.92, 0.96]] and two.layout.yaxis.range is None
