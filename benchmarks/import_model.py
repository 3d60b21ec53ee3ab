"""Benchmark: importing the book network from a .keras file, as the Import page does it.

Times, on the test set of `--data` (use MNIST_NPZ=/work/shared/data/mnist.npz for full MNIST):
  1. upload → ready: `import_model` (inspect the config as data, measure the layers, load with
     safe_mode, pick the input scaling on 1,000 test digits, measure the whole test set, store
     the run in a fresh cache);
  2. ready → first feature maps: the stored run's model (`open_run`: its layers and weights read as
     data, computed with numpy), read one digit and build every figure;
  3. the same upload again (a cache hit).
Peak memory is the process's maximum resident set size (after TensorFlow and the data are
loaded, and at the end). The file is the shipped book run's model (trained, 93,322 parameters)
when present, else an untrained book network saved with plain Keras.

    flock /work/heavy.lock nice -n 10 python benchmarks/import_model.py [--data auto] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def book_file(folder: Path) -> tuple[bytes, str]:
    """(bytes, description) of the book network's .keras file."""
    from dashboard.network.spec import BOOK
    from dashboard.store.cache import ModelCache
    from dashboard.training.train_settings import TRAIN_PRESETS

    cache = ModelCache()
    book = TRAIN_PRESETS["book"]
    for record in cache.runs():
        if record.shipped and record.spec == BOOK and record.settings is not None \
                and record.settings.to_dict() == book.to_dict():
            return cache.model_path(record.key).read_bytes(), f"shipped book run {record.key}"
    import keras
    from keras import layers

    model = keras.Sequential([
        keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2), layers.Conv2D(64, 3, activation="relu"),
        layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
    path = folder / "book.keras"
    model.save(path)
    return path.read_bytes(), "untrained book network (plain Keras)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="auto", help="MNIST source (auto, embedded or a path)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import keras  # noqa: F401 - counted in the baseline, as in a running server

    from dashboard.charts import maps as charts
    from dashboard.inspection.run_factory import open_run
    from dashboard.mnist.data import load_mnist
    from dashboard.store.cache import ModelCache
    from dashboard.store.imported import import_model

    mnist = load_mnist(args.data)
    folder = Path(tempfile.mkdtemp(prefix="convnet-import-bench-"))
    data, source = book_file(folder)
    baseline = rss_mb()
    cache = ModelCache(folder / "cache", shipped_root=None)

    start = time.perf_counter()
    record, hit = import_model(data, "book.keras", mnist, cache)
    ready = time.perf_counter() - start
    assert not hit
    after_import = rss_mb()

    start = time.perf_counter()
    imported = record.imported
    run = open_run(record, cache)
    reading = run.read(mnist.x_test[0].astype("float32") / 255.0)
    figures = charts.reading_figures(reading, run.kernels(), run.last_conv, (1, 1), int(mnist.y_test[0]))
    first_maps = time.perf_counter() - start

    start = time.perf_counter()
    _, hit = import_model(data, "book.keras", mnist, cache)
    again = time.perf_counter() - start
    assert hit

    result = {
        "file": source, "file_mb": round(len(data) / 2**20, 2), "data": mnist.label,
        "test_accuracy": round(record.test_accuracy, 4), "input_scaling": imported.scaling,
        "upload_to_ready_s": round(ready, 2), "ready_to_first_maps_s": round(first_maps, 2),
        "upload_to_first_maps_s": round(ready + first_maps, 2), "second_import_s": round(again, 3),
        "figures": len(figures), "rss_baseline_mb": round(baseline), "rss_peak_after_import_mb": round(after_import),
        "rss_peak_end_mb": round(rss_mb()),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, value in result.items():
            print(f"{name:26s} {value}")


if __name__ == "__main__":
    main()
