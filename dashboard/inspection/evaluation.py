"""What a trained run gets right and wrong: test predictions, confusion matrix, mistakes, families of runs.

Functions take a Keras model (already loaded) or `RunRecord`s and return numbers; nothing is
drawn here (charts are `dashboard.charts`) and nothing is loaded or trained.

Imports neither TensorFlow (models are passed in) nor Streamlit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dashboard.mnist.data import to_model_input
from dashboard.network.spec import NetworkSpec
from dashboard.store.run import RunRecord


def predict_labels(model: Any, images: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (n, 28, 28) → (predicted digits (n,) int, class probabilities (n, 10) float32).

    Batch by batch, scaling each batch only: no float copy of the whole set (31 MB for 10,000
    images) and small activations (the book's first map is ~22 MB for 256 images).
    """
    parts = [
        np.asarray(model.predict_on_batch(to_model_input(images[i : i + batch_size])), dtype=np.float32)
        for i in range(0, len(images), batch_size)
    ]
    probs = np.concatenate(parts) if parts else np.zeros((0, 10), np.float32)
    return probs.argmax(axis=1), probs


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    """(classes, classes) counts: row = true digit, column = predicted digit."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix


def misclassified(true: np.ndarray, predicted: np.ndarray, confidence: np.ndarray, limit: int = 40) -> np.ndarray:
    """Indices of wrong predictions, most confident mistakes first (`confidence`: the probability
    of each predicted digit), at most `limit`."""
    wrong = np.flatnonzero(np.asarray(true) != np.asarray(predicted))
    return wrong[np.argsort(-np.asarray(confidence)[wrong], kind="stable")][:limit]


def in_cell(true: np.ndarray, predicted: np.ndarray, confidence: np.ndarray, true_digit: int | None,
            predicted_digit: int | None, limit: int = 40) -> np.ndarray:
    """Indices of the images in a cell (or a row or column) of the confusion matrix, most confident first.

    None is any digit; the mistakes only, unless both digits are given and equal (that digit's right
    predictions, the matrix's diagonal cell). At most `limit`.
    """
    true, predicted = np.asarray(true), np.asarray(predicted)
    keep = np.ones(len(true), dtype=bool)
    if true_digit is not None:
        keep &= true == true_digit
    if predicted_digit is not None:
        keep &= predicted == predicted_digit
    if true_digit is None or predicted_digit is None or true_digit != predicted_digit:
        keep &= true != predicted
    chosen = np.flatnonzero(keep)
    return chosen[np.argsort(-np.asarray(confidence)[chosen], kind="stable")][:limit]


def confidence_of(predicted: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The probability (n,) the network gave each of its predicted digits (n,), from probabilities (n, 10)."""
    return probs[np.arange(len(predicted)), predicted].astype(np.float32)


# --- families of runs --------------------------------------------------------------------------


@dataclass(frozen=True)
class FamilyRow:
    """One cached run for the depth-against-size chart."""

    key: str
    label: str
    final_size: int
    conv_layers: int
    params: int
    test_accuracy: float


def family_rows(records: Iterable[RunRecord]) -> list[FamilyRow]:
    """Rows for the trained runs among `records` (imported ones have no spec), smallest last map first."""
    rows = []
    for record in records:
        if record.spec is None or record.final_map is None:
            continue
        rows.append(
            FamilyRow(
                key=record.key,
                label=record.spec.describe(),
                final_size=record.final_map[0],
                conv_layers=len(record.spec.blocks),
                params=record.params,
                test_accuracy=record.test_accuracy,
            )
        )
    return sorted(rows, key=lambda r: (r.final_size, r.params))


def same_training(records: Iterable[RunRecord], like: RunRecord) -> list[RunRecord]:
    """The runs trained with the same settings on the same data as `like` (itself included)."""
    return [r for r in records if r.key == like.key or r.trained_alike(like)]


def depth_runs(records: Sequence[RunRecord], like: RunRecord, same_only: bool) -> tuple[list[RunRecord], bool]:
    """(runs for the depth-against-size chart, whether they are other than the runs trained like `like`).

    With `same_only`, the runs trained like `like`; when fewer than two networks of the app were
    trained that way, the largest group of runs trained alike among `records` instead (the shipped
    family, on a fresh server), so that the chart opens on runs that exist. Without, every run.
    """
    if not same_only:
        return list(records), False
    alike = same_training(records, like)
    if len(family_rows(alike)) >= 2:
        return alike, False
    groups: dict[tuple[Any, str], list[RunRecord]] = {}
    for record in records:
        if record.settings is not None and record.spec is not None:
            groups.setdefault((record.settings, record.data_fingerprint), []).append(record)
    largest = max(groups.values(), key=len, default=[])
    return (largest, True) if len(largest) >= 2 else (alike, False)


def paired_accuracies(records: Sequence[RunRecord], first: NetworkSpec, second: NetworkSpec) -> list[tuple[float, float]]:
    """(test accuracy of `first`, of `second`) for each pair of runs trained alike (settings and data)."""
    by_training: dict[tuple[Any, str], dict[str, float]] = {}
    for record in records:
        which = "a" if record.spec == first else "b" if record.spec == second else None
        if which is None or record.settings is None:
            continue
        by_training.setdefault((record.settings, record.data_fingerprint), {})[which] = record.test_accuracy
    return [(pair["a"], pair["b"]) for pair in by_training.values() if len(pair) == 2]
