"""Make the embedded MNIST subset that ships in ``dashboard/mnist/assets/mnist_subset.npz``.

A stratified sample of real MNIST: 1,200 training and 200 test images per digit, kept in
their original order, so the app and its tests work offline on a fresh machine.

    python tools/make_embedded_mnist.py ../shared/data/mnist.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "dashboard" / "mnist" / "assets" / "mnist_subset.npz"


def stratified_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of `per_class` random examples of each digit, sorted into the original order."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == digit))[:per_class] for digit in range(10)]
    return np.sort(np.concatenate(picks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="full MNIST .npz (keras.datasets.mnist layout)")
    parser.add_argument("--train-per-class", type=int, default=1200)
    parser.add_argument("--test-per-class", type=int, default=200)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    with np.load(args.source) as full:
        train = stratified_indices(full["y_train"], args.train_per_class, seed=0)
        test = stratified_indices(full["y_test"], args.test_per_class, seed=1)
        np.savez_compressed(
            args.out,
            x_train=full["x_train"][train],
            y_train=full["y_train"][train],
            x_test=full["x_test"][test],
            y_test=full["y_test"][test],
        )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {len(train)} train, {len(test)} test")


if __name__ == "__main__":
    main()
