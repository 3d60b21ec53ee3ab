"""Measure candidate networks for exercise 11 ("small but good") on full MNIST.

Trains each candidate (and the tiny preset) under the training presets a learner would use
and prints parameters and last validation accuracy, the two numbers the exercise checks.

    MNIST_NPZ=/work/shared/data/mnist.npz flock /work/heavy.lock nice -n 10 \
        python benchmarks/budget_candidates.py [--settings fast book fast2] [--seeds 0 1] [--only NAME …]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.network.spec import PRESETS, ConvBlock, NetworkSpec  # noqa: E402

C = ConvBlock
# Exercise 11's budget (dashboard.workshop.exercises.BUDGET_PARAMS) is below every preset and shipped run
# (the smallest, tiny, has 14,410): these are the designs a learner might try under 10,000.
CANDIDATES: dict[str, NetworkSpec] = {
    "tiny": PRESETS["tiny"],  # 14,410: over the budget; for reference
    "tiny-dense16": NetworkSpec(blocks=(C(8), C(16)), dense_units=16),  # 7,834: tiny, smaller Dense
    "c8-c16-flat": NetworkSpec(blocks=(C(8), C(16)), dense_units=0),  # 5,258: tiny without its Dense
    "c12-c24-flat": NetworkSpec(blocks=(C(12), C(24)), dense_units=0),  # 8,746
    "c8-c16-c32-flat": NetworkSpec(blocks=(C(8), C(16), C(32, pool=False)), dense_units=0),  # 8,778
    "c8-c16-c16-flat": NetworkSpec(blocks=(C(8), C(16), C(16, pool=False)), dense_units=0),  # 5,018
    "c8-c16-c32-gap": NetworkSpec(blocks=(C(8), C(16), C(32, pool=False)), head="global_avg",
                                  dense_units=0),  # 6,218
    "c16-c16-c32-flat": NetworkSpec(blocks=(C(16), C(16), C(32, pool=False)), dense_units=0),  # 10,010
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings", nargs="+", default=["fast", "book"])
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = parser.parse_args()
    from dashboard.mnist.data import load_mnist
    from dashboard.training.model import build_model
    from dashboard.training.train_settings import TRAIN_PRESETS, TrainSettings
    from dashboard.training.trainer import train

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
        for preset, seed in ((p, s) for p in args.settings for s in args.seeds):
            result = train(spec, replace(presets[preset], seed=seed), data)
            val = result.history["val_accuracy"][-1]
            print(json.dumps({"net": name, "params": params, "settings": preset, "seed": seed, "val": round(val, 4),
                              "test": round(result.test_accuracy, 4), "seconds": round(result.train_seconds, 1)}),
                  flush=True)


if __name__ == "__main__":
    main()
