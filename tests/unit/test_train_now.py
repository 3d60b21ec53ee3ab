"""`train_now`: the scripts' and tests' way to train, through the same jobs as the app."""

from __future__ import annotations

import pytest

from dashboard.jobs.train_now import TrainingFailed, train_now
from dashboard.network.spec import ConvBlock, NetworkSpec
from dashboard.training import trainer
from dashboard.training.train_settings import TrainSettings
from tests.job_fixtures import cache, data  # noqa: F401 - pytest fixtures

pytestmark = pytest.mark.slow  # every test here trains

MICRO = NetworkSpec(blocks=(ConvBlock(4), ConvBlock(8)), dense_units=0)
QUICK = TrainSettings(epochs=1, batch_size=32, train_size=300)


def test_a_run_is_trained_once_stored_and_then_read_back(cache, data):
    heard = []
    record, hit = train_now(MICRO, QUICK, data, cache, on_status=heard.append)
    assert not hit and record.spec == MICRO and record.settings == QUICK
    assert cache.get(record.key) == record and 0.0 < record.test_accuracy <= 1.0
    assert heard and heard[-1].state == "done"
    again, hit = train_now(MICRO, QUICK, data, cache)
    assert hit and again == record


def test_a_damaged_entry_is_reported_and_trained_again(cache, data):
    record, _ = train_now(MICRO, QUICK, data, cache)
    (cache.root / record.key / "record.json").write_text("{broken")
    again, hit = train_now(MICRO, QUICK, data, cache)
    assert not hit and again.key == record.key and again.created >= record.created
    assert any("record.json is unreadable" in m for m in cache.take_problems())
    assert cache.get(record.key) is not None


def test_a_failing_training_raises_with_its_reason_and_stores_nothing(cache, data, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("the loss went to NaN on purpose")

    monkeypatch.setattr(trainer, "train", broken)  # the in-process worker imports it when the job runs
    with pytest.raises(TrainingFailed, match="NaN on purpose"):
        train_now(MICRO, QUICK, data, cache)
    assert cache.get(cache.key(MICRO, QUICK, data.fingerprint)) is None
