"""Measure candidate networks for exercise 11 ("small but good") on full MNIST.

Trains each candidate (and the tiny preset) under the training presets a learner would use
and prints parameters and last validation accuracy, the two numbers the exercise checks.

    MNIST_NPZ=/work/shared/data/mnist.npz flock /work/heavy.lock nice -n 10 \
        python benchmarks/budget_candidates.py [--settings fast book fast2] [--only NAME …]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.spec import PRESETS, ConvBlock, NetworkSpec  # noqa: E402

CANDIDATES: dict[str, NetworkSpec] = {
    "tiny": PRESETS["tiny"],
    "c16-c32-c32-flat": NetworkSpec(blocks=(ConvBlock(16), ConvBlock(32), ConvBlock(32, pool=False)), dense_units=0),
    "c12-c24-c32-flat": NetworkSpec(blocks=(ConvBlock(12), ConvBlock(24), ConvBlock(32, pool=False)), dense_units=0),
    "c16-c32-flat": NetworkSpec(blocks=(ConvBlock(16), ConvBlock(32)), dense_units=0),
    "c24-c32-c32-flat": NetworkSpec(blocks=(ConvBlock(24), ConvBlock(32), ConvBlock(32, pool=False)), dense_units=0),
    "c16-c32-c48-gap": NetworkSpec(blocks=(ConvBlock(16), ConvBlock(32), ConvBlock(48, pool=False)),
                                   head="global_avg", dense_units=0),
    "c12-c24-c24-flat": NetworkSpec(blocks=(ConvBlock(12), ConvBlock(24), ConvBlock(24, pool=False)), dense_units=0),
    "c8-c16-c32-flat": NetworkSpec(blocks=(ConvBlock(8), ConvBlock(16), ConvBlock(32, pool=False)), dense_units=0),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings", nargs="+", default=["fast", "book"])
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    from dashboard.data import load_mnist
    from dashboard.model import build_model
    from dashboard.training import TRAIN_PRESETS, TrainSettings, train

    presets = dict(TRAIN_PRESETS)
    # The earlier two-epoch fast preset (the shipped runs before the one-epoch one), for comparison.
    presets["fast2"] = TrainSettings(epochs=2, batch_size=128, optimizer="rmsprop", learning_rate=3e-3,
                                     schedule="linear")
    data = load_mnist(os.environ.get("MNIST_NPZ", "auto"))
    print(f"data: {data.label}", flush=True)
    for name, spec in CANDIDATES.items():
        if args.only and name not in args.only:
            continue
        params = build_model(spec).count_params()
        for preset in args.settings:
            result = train(spec, presets[preset], data)
            val = result.history["val_accuracy"][-1]
            print(json.dumps({"net": name, "params": params, "settings": preset, "val": round(val, 4),
                              "test": round(result.test_accuracy, 4), "seconds": round(result.train_seconds, 1)}),
                  flush=True)


if __name__ == "__main__":
    main()
