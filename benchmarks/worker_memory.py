"""A training's memory in a fresh process, part by part: what the memory budget's constants come from.

    MNIST_NPZ=/work/shared/data/mnist.npz nice -n 10 python benchmarks/worker_memory.py \
        [--preset book] [--train-preset fast] [--batch-size N] [--data auto|embedded]

Prints the process's resident memory (RSS, sampled every 10 ms, and the kernel's `ru_maxrss`)
after each part: Python with `dashboard` and Dask's worker imported (what an idle Dask worker
holds), TensorFlow and Keras imported, the data loaded, the model built, the fit's peak, the
test evaluation's and the dead-channel count's peak, and what is left once the result is
dropped; then `dashboard.jobs.memory_budget.training_need`'s estimate for the same run. Run it with
`--in-worker` to time it inside a Dask worker process of the app's local pool instead.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from benchmarks.train_memory import PeakWatcher  # noqa: E402
from dashboard.jobs.job_guard import anonymous_bytes  # noqa: E402

MB = 2**20


class Peak(PeakWatcher):
    """Anonymous memory of this process (what `dashboard.jobs.job_guard` watches) every 10 ms, and RSS.

    `take()` returns (anonymous now, anonymous peak since the last take, RSS now) in MB: RSS adds
    the pages of TensorFlow's libraries read from disk (~440 MB), which the kernel can drop.
    """

    def __init__(self) -> None:
        super().__init__(anonymous_bytes, 0.01)

    def take(self) -> tuple[float, float, float]:
        now = anonymous_bytes()
        peak, self.peak = max(self.peak, now), now
        return round(now / MB, 1), round(peak / MB, 1), round(self.process.memory_info().rss / MB, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="book")
    parser.add_argument("--train-preset", default="fast")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--train-size", type=int)
    parser.add_argument("--data", default="auto")
    args = parser.parse_args()
    peak = Peak()
    parts: dict[str, tuple[float, float]] = {"python": peak.take()}
    import distributed  # noqa: F401 - what a Dask worker process has before any job

    import dashboard  # noqa: F401
    from dashboard.mnist.data import load_mnist
    from dashboard.network.spec import PRESETS
    from dashboard.training.train_settings import TRAIN_PRESETS, TrainSettings

    parts["dashboard and a Dask worker's imports"] = peak.take()
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

    parts["TensorFlow and Keras imported"] = peak.take()
    data = load_mnist(args.data)
    _ = data.fingerprint
    parts[f"data loaded ({data.label})"] = peak.take()
    overrides = {k: v for k, v in {"batch_size": args.batch_size, "epochs": args.epochs,
                                   "train_size": args.train_size}.items() if v is not None}
    settings = TrainSettings.from_dict({**TRAIN_PRESETS[args.train_preset].to_dict(), **overrides})
    spec = PRESETS[args.preset]
    from dashboard.training import trainer

    marks: dict[str, tuple[float, float]] = {}
    real_evaluate = trainer._batches

    def noting_batches(*a, **k):  # the test pipeline is built right after the fit: mark the fit's peak
        if len(a[0]) == len(data.x_test) and "fit" not in marks:
            marks["fit (model built, compiled, trained)"] = peak.take()
        return real_evaluate(*a, **k)

    trainer._batches = noting_batches
    real_dead = trainer.dead_channels

    def noting_dead(*a, **k):
        marks["test evaluation"] = peak.take()
        out = real_dead(*a, **k)
        marks["dead channels counted"] = peak.take()
        return out

    trainer.dead_channels = noting_dead
    start = time.perf_counter()
    result = trainer.train(spec, settings, data)
    seconds = time.perf_counter() - start
    parts.update(marks)
    from dashboard.jobs.job_task import model_bytes

    payload = model_bytes(result.model)
    parts["model saved to bytes"] = peak.take()
    del result, payload
    gc.collect()
    import keras as k

    k.backend.clear_session()
    gc.collect()
    parts["after the job (result dropped)"] = peak.take()
    kernel_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        from dashboard.jobs.memory_budget import training_need

        need = training_need(spec, settings, data)
        estimate = {"estimate_mb": round(need.total / MB, 1), "estimate_parts_mb": need.parts_mb()}
    except ImportError:
        estimate = {}
    report = {"network": args.preset, "settings": settings.describe(), "data": data.label,
              "seconds": round(seconds, 1), "parts_mb_anon_now_anon_peak_rss": parts, "kernel_peak_mb": round(kernel_peak, 1),
              **estimate}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
