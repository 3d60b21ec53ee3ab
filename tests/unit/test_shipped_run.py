"""The runs shipped in model_cache/shipped/: present, small, loadable, and as accurate as recorded.

The embedded test images are a subset of the real test set, so a shipped run's accuracy on
them must match its recorded full-test-set accuracy up to sampling noise: with 2,000 images
and accuracy near 0.99 the standard error is about 0.002, so 0.01 is a wide, safe margin.
"""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.cache import MODEL_FILE, SHIPPED_ROOT, ModelCache
from dashboard.data import load_mnist
from dashboard.evaluation import predict_labels
from dashboard.spec import BOOK, final_map
from dashboard.training import TRAIN_PRESETS

TOLERANCE = 0.01
MAX_SHIPPED_MB = 2.0


def shipped_keys() -> list[str]:
    return sorted(p.name for p in SHIPPED_ROOT.iterdir() if p.is_dir() and not p.name.startswith("."))


@pytest.fixture(scope="module")
def cache():
    return ModelCache()  # the test cache root (MODEL_CACHE_DIR) plus the repo's shipped runs


@pytest.fixture(scope="module")
def embedded():
    return load_mnist("embedded")


def test_the_book_run_is_shipped(cache):
    books = [r for r in cache.runs() if r.shipped and r.spec == BOOK and r.settings == TRAIN_PRESETS["book"]]
    assert len(books) == 1
    book = books[0]
    assert book.params == 93_322 and book.final_map == final_map(BOOK) == (3, 64)
    assert "60,000 train + 10,000 test" in book.data_label  # trained on the full set
    assert book.epochs_done == 5 and 0.985 <= book.test_accuracy <= 0.995
    assert cache.runs()[0].shipped  # shipped runs are listed first


@pytest.mark.parametrize("key", shipped_keys())
def test_shipped_run_loads_and_matches_its_recorded_accuracy(cache, embedded, key):
    record = cache.get(key)
    assert record is not None and record.shipped, cache.take_problems()
    assert (SHIPPED_ROOT / key / MODEL_FILE).stat().st_size < MAX_SHIPPED_MB * 2**20
    assert key == cache.key(record.spec, record.settings, record.data_fingerprint)
    model = cache.load_model(key)
    assert model.count_params() == record.params
    predicted, _ = predict_labels(model, embedded.x_test)
    accuracy = float(np.mean(predicted == embedded.y_test))
    assert accuracy == pytest.approx(record.test_accuracy, abs=TOLERANCE)
