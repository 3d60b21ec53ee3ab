"""MNIST sources: the order of preference, fingerprints, and damaged files."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.mnist import data
from dashboard.mnist.data import DataError, load_mnist, read_npz, to_model_input


@pytest.fixture(scope="module")
def embedded():
    return load_mnist("embedded")


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def _small(n=20):
    rng = np.random.default_rng(0)
    return dict(
        x_train=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        y_train=np.arange(n, dtype=np.uint8) % 10,
        x_test=rng.integers(0, 256, (n // 2, 28, 28), dtype=np.uint8),
        y_test=np.arange(n // 2, dtype=np.uint8) % 10,
    )


def test_embedded_subset_is_real_stratified_mnist(embedded):
    assert embedded.x_train.shape == (12_000, 28, 28) and embedded.x_train.dtype == np.uint8
    assert embedded.x_test.shape == (2_000, 28, 28)
    assert np.bincount(embedded.y_train).tolist() == [1200] * 10
    assert np.bincount(embedded.y_test).tolist() == [200] * 10
    assert embedded.source == "embedded" and not embedded.is_full
    # Real digits: mostly black background, bright strokes, about 19% ink like MNIST.
    ink = (embedded.x_train > 127).mean()
    assert 0.1 < ink < 0.3
    assert data.EMBEDDED_PATH.stat().st_size < 4_000_000


def test_auto_falls_back_to_embedded_offline(monkeypatch, tmp_path, embedded):
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    monkeypatch.setattr(data, "KERAS_CACHE_PATH", tmp_path / "absent.npz")
    got = load_mnist("auto")
    assert got.source == "embedded"
    assert got.fingerprint == embedded.fingerprint


def test_mnist_npz_comes_first(monkeypatch, tmp_path):
    path = _write(tmp_path / "mine.npz", **_small())
    keras_cache = _write(tmp_path / "keras.npz", **_small(40))
    monkeypatch.setenv("MNIST_NPZ", str(path))
    monkeypatch.setattr(data, "KERAS_CACHE_PATH", keras_cache)
    got = load_mnist("auto")
    assert got.source == "MNIST_NPZ" and len(got.x_train) == 20
    assert "MNIST_NPZ file (20 train + 10 test images)" == got.label


def test_keras_cache_is_second(monkeypatch, tmp_path):
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    monkeypatch.setattr(data, "KERAS_CACHE_PATH", _write(tmp_path / "keras.npz", **_small(40)))
    got = load_mnist("auto")
    assert got.source == "keras-cache" and len(got.x_train) == 40


def test_download_is_skipped_when_disabled(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(data, "download_keras_mnist", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(data, "KERAS_CACHE_PATH", tmp_path / "absent.npz")
    monkeypatch.setenv("MNIST_DOWNLOAD", "0")
    assert load_mnist("auto").source == "embedded"
    assert calls == []


def test_failed_download_is_noted_and_falls_back(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(data, "download_keras_mnist", offline)
    monkeypatch.setattr(data, "_download_tried", False)
    monkeypatch.setattr(data, "KERAS_CACHE_PATH", tmp_path / "absent.npz")
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    monkeypatch.setenv("MNIST_DOWNLOAD", "1")
    got = load_mnist("auto")
    assert got.source == "embedded"
    assert "MNIST could not be downloaded (no network): using the embedded subset" in got.notes
    assert not any("network unreachable" in note for note in got.notes)  # no raw error text for a learner
    assert load_mnist("auto").notes == ()  # tried once per process, not on every load


def test_fingerprint_depends_on_contents_not_path(tmp_path):
    arrays = _small()
    a = read_npz(_write(tmp_path / "a.npz", **arrays))
    b = read_npz(_write(tmp_path / "sub_b.npz", **arrays), source="MNIST_NPZ")
    arrays["y_test"] = arrays["y_test"].copy()
    arrays["y_test"][0] = 9
    c = read_npz(_write(tmp_path / "c.npz", **arrays))
    assert a.fingerprint == b.fingerprint != c.fingerprint


def _truncated(tmp_path):
    good = _write(tmp_path / "good.npz", **_small())
    path = tmp_path / "truncated.npz"
    path.write_bytes(good.read_bytes()[:500])
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda p: p / "missing.npz", "no such file", id="missing"),
        pytest.param(lambda p: (p / "text.npz").write_text("hello") and p / "text.npz", "not a readable", id="not-npz"),
        pytest.param(_truncated, "not a readable", id="truncated"),
        pytest.param(lambda p: _write(p / "k.npz", x_train=np.zeros((2, 28, 28))), "missing array(s) y_train", id="keys"),
        pytest.param(
            lambda p: _write(p / "s.npz", **{**_small(), "x_train": np.zeros((20, 32, 32), np.uint8)}),
            "x_train has shape (20, 32, 32)", id="shape",
        ),
        pytest.param(
            lambda p: _write(p / "l.npz", **{**_small(), "y_test": np.full(10, 12, np.uint8)}),
            "labels 0..9", id="labels",
        ),
        pytest.param(
            lambda p: _write(p / "n.npz", **{**_small(), "y_train": np.zeros(3, np.uint8)}),
            "y_train has shape (3,)", id="length",
        ),
        pytest.param(
            lambda p: _write(p / "f.npz", **{**_small(), "x_test": np.full((10, 28, 28), 0.5)}),
            "whole numbers 0..255", id="floats",
        ),
        pytest.param(
            lambda p: _write(p / "o.npz", **{**_small(), "x_test": np.empty(10, dtype=object)}),
            "not a readable", id="pickled-objects",
        ),
    ],
)
def test_bad_files_get_a_clear_error(tmp_path, make, message):
    with pytest.raises(DataError) as err:
        read_npz(make(tmp_path))
    assert message in str(err.value)


def test_auto_skips_a_damaged_mnist_npz_and_says_why(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_NPZ", str(_truncated(tmp_path)))
    monkeypatch.setattr(data, "KERAS_CACHE_PATH", tmp_path / "absent.npz")
    got = load_mnist("auto")
    assert got.source == "embedded"
    assert any("skipped MNIST_NPZ" in note and "not a readable" in note for note in got.notes)


def test_model_input_scales_and_adds_a_channel(embedded):
    x = to_model_input(embedded.x_test[:3])
    assert x.shape == (3, 28, 28, 1) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert to_model_input(embedded.x_test[0]).shape == (1, 28, 28, 1)


@pytest.mark.slow  # waits for a deadline
def test_a_hanging_download_is_abandoned_at_the_deadline(monkeypatch, tmp_path):
    import threading
    import time

    release = threading.Event()
    monkeypatch.setattr(data, "download_keras_mnist", lambda *a, **k: release.wait(30))
    monkeypatch.setattr(data, "DOWNLOAD_SECONDS", 0.2)
    monkeypatch.setattr(data, "_download_tried", False)
    monkeypatch.setattr(data, "KERAS_CACHE_PATH", tmp_path / "absent.npz")
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    monkeypatch.setenv("MNIST_DOWNLOAD", "1")
    start = time.monotonic()
    got = load_mnist("auto")
    release.set()
    assert time.monotonic() - start < 3
    assert got.source == "embedded"
    assert any("no answer within" in note for note in got.notes)
