"""Peak resident memory of one process training the book network on the full MNIST set.

    MNIST_NPZ=/work/shared/data/mnist.npz python benchmarks/train_memory.py [--epochs 5]

The target (issue 3) is under 1.5 GB: Streamlit Community Cloud gives an app about 0.7 to
2.7 GB. The peak is the kernel's own count (`ru_maxrss`); a sampling thread also reports the
resident size at each stage. Trains into a throw-away cache through `train_now`, the path
the Train page takes.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["MODEL_CACHE_DIR"] = tempfile.mkdtemp(prefix="convnet-bench-mem-")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

LIMIT_MB = 1536


class PeakWatcher:
    """Samples this process's RSS (or another `measure` in bytes) every `seconds`; `peak` is the largest seen."""

    def __init__(self, measure: Callable[[], int] | None = None, seconds: float = 0.02) -> None:
        self.process = psutil.Process()
        self.measure = measure or (lambda: self.process.memory_info().rss)
        self.seconds = seconds
        self.peak = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.measure())
            time.sleep(self.seconds)

    def now_mb(self) -> float:
        return self.process.memory_info().rss / 2**20

    def peak_mb(self) -> float:
        return max(self.peak, self.process.memory_info().rss) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs (default 5: the book preset)")
    args = parser.parse_args()

    watch = PeakWatcher()
    print(f"start: {watch.now_mb():.0f} MB", flush=True)
    import keras  # noqa: F401  (TensorFlow: the big import)

    from dashboard.jobs.train_now import train_now
    from dashboard.mnist.data import load_mnist
    from dashboard.network.spec import BOOK
    from dashboard.store.cache import ModelCache
    from dashboard.training.train_settings import TRAIN_PRESETS, TrainSettings

    print(f"after importing TensorFlow/Keras: {watch.now_mb():.0f} MB", flush=True)
    data = load_mnist("auto")
    _ = data.fingerprint
    print(f"after loading {data.label}: {watch.now_mb():.0f} MB", flush=True)
    if not data.is_full:
        print("warning: not the full MNIST; set MNIST_NPZ=/work/shared/data/mnist.npz", file=sys.stderr)
    settings = TrainSettings.from_dict({**TRAIN_PRESETS["book"].to_dict(), "epochs": args.epochs})
    before = watch.peak_mb()

    seen = {"epoch": 0}

    def on_status(status) -> None:
        if status.epoch > seen["epoch"] and status.history.get("val_accuracy"):
            seen["epoch"] = status.epoch
            print(f"  epoch {status.epoch}/{status.epochs}: {watch.now_mb():.0f} MB now, "
                  f"peak so far {watch.peak_mb():.0f} MB, val_accuracy {status.history['val_accuracy'][-1]:.4f}",
                  flush=True)

    # shipped_root=None: the shipped book run must not answer; this measures a real training (an
    # in-process job, as `JOBS_IN_PROCESS=1` trains: this process's peak is the training's).
    record, hit = train_now(BOOK, settings, data, ModelCache(shipped_root=None), on_status=on_status)
    assert not hit, "the throw-away cache already held this run"
    kernel_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    peak = max(kernel_peak, watch.peak_mb())
    print(f"\nbook network, {settings.describe()}, on {data.label}")
    print(f"test accuracy {record.test_accuracy:.4f}, trained in {record.train_seconds:.1f} s")
    print(f"peak RSS before training: {before:.0f} MB")
    print(f"peak RSS of the process: {peak:.0f} MB (limit {LIMIT_MB} MB): {'OK' if peak < LIMIT_MB else 'TOO HIGH'}")
    return 0 if peak < LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
