"""The runs shipped in model_cache/shipped/: present, small, loadable, and as accurate as recorded.

The embedded test images are a subset of the real test set, so a shipped run's accuracy on
them must match its recorded full-test-set accuracy up to sampling noise: with 2,000 images
and accuracy near 0.99 the standard error is about 0.002, so 0.01 is a wide, safe margin.
Runs of the numbers family can be far less accurate (1 filter: 9 numbers), where the noise
is larger: the margin is then 4 standard errors.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dashboard.inspection.evaluation import predict_labels
from dashboard.inspection.forward import Network
from dashboard.mnist.data import load_mnist
from dashboard.network.spec import BOOK, PRESETS, final_map
from dashboard.store.cache import MODEL_FILE, SHIPPED_ROOT, ModelCache
from dashboard.training.grids import builtin_grids, load_grid, numbers_family
from dashboard.training.reproducible import RECIPE
from dashboard.training.train_settings import TRAIN_PRESETS
from dashboard.views.accuracy_by_size import classifier_numbers as classifier_inputs

TOLERANCE = 0.01
MAX_SHIPPED_MB = 2.0
MAX_NO_POOLING_MB = 9.0  # 2 million weights: the one big shipped run (model_cache/README.md)
MAX_TOTAL_MB = 40.0  # three seeds of the family and references: no_pooling is 3 × 7.8 MB of it
MIN_SEEDS = 3  # the family and its references: enough to see a spread and a failure rate
FAILED_EXAMPLE = "last1"  # the network that keeps a failed seed, the honest example (model_cache/README.md)


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


def shipped_fast(cache, spec, seed: int | None = 0) -> list:
    """Shipped runs of `spec` with today's fast preset on the full set (with `seed`, or any seed if None)."""
    fast = TRAIN_PRESETS["fast"]

    def trained_fast(run) -> bool:
        if run.settings is None:
            return False
        return replace(run.settings, seed=0) == fast if seed is None else run.settings == replace(fast, seed=seed)

    return [r for r in cache.runs() if r.shipped and r.spec == spec and "60,000 train + 10,000 test" in r.data_label
            and trained_fast(r)]


@pytest.mark.parametrize("name", list(numbers_family()))
def test_the_numbers_family_is_shipped_with_several_seeds(cache, name):
    spec = numbers_family()[name]
    runs = shipped_fast(cache, spec, seed=None)
    seeds = sorted(r.seed for r in runs)
    assert seeds[:MIN_SEEDS] == list(range(MIN_SEEDS)) and len(set(seeds)) == len(seeds), f"{name}: seeds {seeds}"
    for run in runs:
        assert run.epochs_done == TRAIN_PRESETS["fast"].epochs and run.final_map == final_map(spec)
        assert run.recipe == RECIPE and run.dead_channels is not None  # trained and judged under today's recipe
        assert run.trained == (run.test_accuracy > 0.5), (name, run.seed, run.test_accuracy, run.diagnosis)
    trained = [r for r in runs if r.trained]
    assert len(trained) >= 1, f"{name}: no seed trained"  # the chart shows what the numbers carry when it works
    if name not in (FAILED_EXAMPLE, "last2"):
        assert all(r.trained and r.test_accuracy > 0.95 for r in runs), [(r.seed, r.test_accuracy) for r in runs]


def test_a_failed_training_is_shipped_as_the_honest_example(cache):
    runs = shipped_fast(cache, numbers_family()[FAILED_EXAMPLE], seed=None)
    failed = [r for r in runs if not r.trained]
    assert failed, "a failed seed of the 1-filter network is kept"
    for run in failed:
        assert run.dead_channels == 1 and "1 of 1 channel of the last conv layer never fires" in run.diagnosis
        assert run.test_accuracy == pytest.approx(0.1135, abs=0.001)  # always "1": the commonest test digit


def test_the_numbers_family_spans_9_to_30976_numbers_and_holds_the_book_network():
    family = numbers_family()
    assert [classifier_inputs(family[f"last{n}"]) for n in (1, 2, 4, 8, 16, 32, 64)] == [9, 18, 36, 72, 144, 288, 576]
    assert family["last64"] == BOOK
    assert classifier_inputs(family["global_avg"]) == 64 and final_map(family["one_by_one"]) == (1, 64)
    assert classifier_inputs(family["no_pooling"]) == 22 * 22 * 64 == 30_976
    assert [spec for _, spec, _ in load_grid("numbers")] == list(family.values())
    assert all(item["train_preset"] == "fast" for item in builtin_grids()["numbers"])


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_network_preset_is_shipped_with_the_fast_preset(cache, name):
    assert len(shipped_fast(cache, PRESETS[name])) == 1


def test_no_run_of_an_older_fast_preset_is_left_and_the_total_is_small(cache):
    book = TRAIN_PRESETS["book"]
    fast = TRAIN_PRESETS["fast"]
    shipped = [cache.get(key) for key in shipped_keys()]
    assert all(r.settings == book or replace(r.settings, seed=0) == fast for r in shipped)
    assert all(r.recipe == RECIPE for r in shipped)  # every shipped run trained under today's recipe
    total = sum(f.stat().st_size for f in SHIPPED_ROOT.rglob("*") if f.is_file())
    assert total < MAX_TOTAL_MB * 2**20


@pytest.mark.slow  # evaluates every shipped run, ~1 s each
@pytest.mark.parametrize("key", shipped_keys())
def test_shipped_run_loads_and_matches_its_recorded_accuracy(cache, embedded, key):
    record = cache.get(key)
    assert record is not None and record.shipped, cache.take_problems()
    big = record.spec == PRESETS["no_pooling"]
    assert (SHIPPED_ROOT / key / MODEL_FILE).stat().st_size < (MAX_NO_POOLING_MB if big else MAX_SHIPPED_MB) * 2**20
    assert key == cache.key(record.spec, record.settings, record.data_fingerprint)
    model = cache.load_model(key)
    assert model.count_params() == record.params
    predicted, _ = predict_labels(model, embedded.x_test)
    accuracy = float(np.mean(predicted == embedded.y_test))
    p = record.test_accuracy
    margin = max(TOLERANCE, 4 * (p * (1 - p) / len(embedded.y_test)) ** 0.5)
    assert accuracy == pytest.approx(p, abs=margin)
    # Feature maps and Channels read it without Keras (dashboard.inspection.forward): the same answers.
    network = Network(record.spec, cache.load_weights(key))
    _, probabilities = network.maps_and_probs(embedded.x_test.astype(np.float32) / 255.0)
    assert np.mean(probabilities.argmax(axis=1) == predicted) > 0.999


# --- the results stored beside them (dashboard.store.stored, tools/make_shipped_results.py) ---------------

MNIST_TEST_FIRST = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # y_test[:10] of the real MNIST test set


def stored_result(key: str, kind: str, fingerprint: str, *parts: str) -> bytes:
    from dashboard.store.stored import result_name

    data = ModelCache().read_result(key, result_name(kind, fingerprint, *parts))
    assert data is not None, f"{key} has no stored {kind} {parts}"
    return data


@pytest.mark.parametrize("key", shipped_keys())
def test_shipped_results_agree_with_the_record_and_with_each_other(cache, key):
    """Predictions (10,000 images, model.predict) and Inside's sample (final maps → head) are two
    computations; both must give the recorded accuracy and the same answers."""
    from dashboard.inspection import results
    from dashboard.network.spec import geometry

    record = cache.get(key)
    fp = record.data_fingerprint
    arrays = results.unpack(stored_result(key, "predictions", fp), results.PREDICTIONS)
    labels = arrays["labels"].astype(np.int64)
    assert len(labels) == 10_000 and labels[:10].tolist() == MNIST_TEST_FIRST
    predicted, confidence = results.predictions_from(stored_result(key, "predictions", fp), labels)
    assert float(np.mean(predicted == labels)) == pytest.approx(record.test_accuracy, abs=2e-4)
    assert confidence.min() >= 0.1 - 1e-6 and confidence.max() <= 1 + 1e-6  # the top of 10 probabilities
    proj = results.projection_from(stored_result(key, "projection_pca", fp), labels)
    assert proj is not None and len(proj["indices"]) >= 256
    assert float(np.mean(proj["predicted"] == predicted[proj["indices"]])) > 0.995
    side, channels = record.final_map
    ablation = results.ablation_from(stored_result(key, "ablation", fp), side, channels)
    assert ablation is not None and ablation.n_images == len(proj["indices"])
    assert ablation.baseline == pytest.approx(float(np.mean(proj["predicted"] == proj["labels"])), abs=1e-6)
    last = [g for g in geometry(record.spec) if g.kind == "Conv2D"][-1]
    assert results.unpack(stored_result(key, "atlas", fp, last.name), results.ATLAS)["patterns"].shape[0] == last.channels
