"""What a network costs to train here, to set the caps in `dashboard.network.summaries`.

    MNIST_NPZ=/work/shared/data/mnist.npz flock /work/heavy.lock nice -n 10 python benchmarks/train_cost.py

For each network (each in its own process, so the peak is its own) trains one epoch on 12,800
images at batch 128 (100 steps) and reports the time an epoch of 54,000 images would take at that
rate, and the process's peak resident memory (`ru_maxrss`), next to the network's parameters and
multiply-adds an image as `dashboard.network.summaries` counts them.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

NETWORKS = {
    "book": {"blocks": [{"filters": 32}, {"filters": 64}, {"filters": 64, "pool": False}]},
    "wide-same": {"blocks": [{"filters": 64, "kernel_size": 5, "padding": "same"},
                             {"filters": 128, "padding": "same"}, {"filters": 128, "pool": False}],
                  "dense_units": 256},
    "no_pooling": {"blocks": [{"filters": 32, "pool": False}, {"filters": 64, "pool": False},
                              {"filters": 64, "pool": False}]},
}
IMAGES, BATCH = 12_800, 128


def measure(name: str) -> dict:
    from dashboard.mnist.data import load_mnist
    from dashboard.network.spec import NetworkSpec
    from dashboard.network.summaries import multiply_adds, total_params
    from dashboard.training.train_settings import TrainSettings
    from dashboard.training.trainer import train

    spec = NetworkSpec.from_dict(NETWORKS[name])
    data = load_mnist(os.environ.get("MNIST_NPZ", "auto"))
    settings = TrainSettings(epochs=1, batch_size=BATCH, train_size=int(IMAGES / 0.9) + 1, learning_rate=1e-3)
    start = time.perf_counter()
    result = train(spec, settings, data)
    seconds = result.train_seconds
    steps = -(-result.train_images // BATCH)
    return {
        "net": name, "params": total_params(spec), "multiply_adds": multiply_adds(spec),
        "seconds_per_step": round(seconds / steps, 3), "epoch_54k_seconds": round(seconds / steps * 422),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "wall_seconds": round(time.perf_counter() - start),
    }


def main() -> None:
    if len(sys.argv) > 1:
        print(json.dumps(measure(sys.argv[1])), flush=True)
        return
    for name in NETWORKS:
        out = subprocess.run([sys.executable, __file__, name], capture_output=True, text=True, check=True)
        print(out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
