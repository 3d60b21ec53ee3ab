"""Inside the 3×3's ablations: zero parts of the final map, measure the head's accuracy; `Ablation` holds it.

Ablations never re-run the convolutions. The final map of the test images is computed once;
each ablation then runs only the head on modified maps (`head`: final maps → probabilities, from
a run's model, `dashboard.inspection.run_model`). When the head starts Flatten/GlobalAveragePooling
→ Dense (`LinearHead`), the first Dense is linear in the map, so the contribution of each position
(or channel) to its pre-activation is computed once, and "zero position p" becomes
`z_all - contrib[p]`, "keep only p" becomes `bias + contrib[p]`: one small matrix product for all
ablations together, exact, and fast even for the 22×22 maps of a network without pooling.
`dashboard.inspection.results` stores an `Ablation` and reads it back. Pure numpy: reading a stored
ablation never loads TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

CHUNK_BYTES = 8 << 20  # one chunk of per-position contributions, or of masked maps (a few live at once)
Head = Callable[[np.ndarray], np.ndarray]  # final maps (m, h, w, c) → probabilities (m, 10)


@dataclass(frozen=True)
class Ablation:
    """Test accuracy of the head on the final map with parts of it zeroed.

    `zero_one[i, j]`: accuracy with position (i, j) zeroed in every channel; `keep_one[i, j]`:
    with every other position zeroed. `channel_accuracy[k]`: with channel k zeroed everywhere;
    `channel_order` lists channels from most to least harmful to lose.
    """

    baseline: float
    zero_one: np.ndarray  # (h, w)
    keep_one: np.ndarray  # (h, w)
    channel_accuracy: np.ndarray  # (c,)
    channel_order: np.ndarray  # (c,) channel indices, lowest accuracy first
    n_images: int

    @property
    def chance(self) -> float:
        """Accuracy of guessing: 10 classes."""
        return 0.1


@dataclass(frozen=True)
class LinearHead:
    """A head that starts with a reducer (Flatten or global averaging) and a Dense layer."""

    kind: str  # "Flatten" or "GlobalAveragePooling2D"
    kernel: np.ndarray  # (h·w·c or c, units): the first Dense's weights
    bias: np.ndarray  # (units,)
    finish: Callable[[np.ndarray], np.ndarray]  # the first Dense's pre-activation (m, units) → predicted classes (m,)


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _contributions(kind: str, kernel: np.ndarray, maps: np.ndarray, axis: str) -> np.ndarray:
    """Each position's ("position": (h·w, m, u)) or channel's ("channel": (c, m, u)) share of z − bias."""
    m, h, w, c = maps.shape
    units = kernel.shape[-1]
    if kind == "Flatten":
        k = kernel.reshape(h, w, c, units)  # Flatten order is (row, col, channel)
    else:  # the global average is linear too: every position weighs kernel / (h·w)
        k = np.broadcast_to(kernel / (h * w), (h, w, c, units))
    if axis == "position":
        # (h·w, m, c) @ (h·w, c, u) → (h·w, m, u)
        return np.matmul(maps.reshape(m, h * w, c).transpose(1, 0, 2), k.reshape(h * w, c, units))
    # (c, m, h·w) @ (c, h·w, u) → (c, m, u)
    return np.matmul(maps.reshape(m, h * w, c).transpose(2, 0, 1), k.reshape(h * w, c, units).transpose(1, 0, 2))


def ablate_linear(linear: LinearHead, maps: np.ndarray, labels: np.ndarray, axis: str) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy with each part zeroed and with each part alone, via per-part contributions."""
    n, h, w, c = maps.shape
    parts = h * w if axis == "position" else c
    units = linear.kernel.shape[-1]
    step = max(1, CHUNK_BYTES // (4 * parts * units))
    correct_without = np.zeros(parts)
    correct_alone = np.zeros(parts)
    for sl in _chunks(n, step):
        contrib = _contributions(linear.kind, linear.kernel, maps[sl], axis)  # (parts, m, u)
        z_all = linear.bias + contrib.sum(axis=0)  # (m, u)
        truth = labels[sl]
        m = len(truth)
        without = linear.finish((z_all[None] - contrib).reshape(parts * m, units))
        alone = linear.finish((linear.bias + contrib).reshape(parts * m, units))
        correct_without += (without.reshape(parts, m) == truth).sum(axis=1)
        correct_alone += (alone.reshape(parts, m) == truth).sum(axis=1)
    return correct_without / n, correct_alone / n


def masked_accuracy(head: Head, maps: np.ndarray, labels: np.ndarray, mask: np.ndarray) -> float:
    """Accuracy of `head` on `maps * mask` (mask broadcastable to (n, h, w, c)); the direct way."""
    correct = 0
    per_image = 4 * int(np.prod(maps.shape[1:]))
    for sl in _chunks(len(maps), max(1, min(1000, CHUNK_BYTES // per_image))):
        correct += int((np.asarray(head(maps[sl] * mask)).argmax(axis=1) == labels[sl]).sum())
    return correct / len(maps)


def ablate_direct(head: Head, maps: np.ndarray, labels: np.ndarray, axis: str) -> tuple[np.ndarray, np.ndarray]:
    """The same two accuracies by running the head once per ablation (any head)."""
    _, h, w, c = maps.shape
    parts = h * w if axis == "position" else c
    without, alone = np.zeros(parts), np.zeros(parts)
    for k in range(parts):
        only = np.zeros(parts, dtype=np.float32)
        only[k] = 1.0
        only = only.reshape(1, h, w, 1) if axis == "position" else only.reshape(1, 1, 1, c)
        without[k] = masked_accuracy(head, maps, labels, 1.0 - only)
        alone[k] = masked_accuracy(head, maps, labels, only)
    return without, alone


def ablate(head: Head, linear: LinearHead | None, maps: np.ndarray, labels: np.ndarray) -> Ablation:
    """Position and channel ablations of the final map `maps` (n, h, w, c) with true `labels`."""
    labels = np.asarray(labels).astype(np.int64)
    maps = np.asarray(maps, dtype=np.float32)
    _, h, w, c = maps.shape
    baseline = masked_accuracy(head, maps, labels, np.ones((1, 1, 1, 1), np.float32))
    if linear is not None:
        pos_without, pos_alone = ablate_linear(linear, maps, labels, "position")
        ch_without, _ = ablate_linear(linear, maps, labels, "channel")
    else:
        pos_without, pos_alone = ablate_direct(head, maps, labels, "position")
        ch_without, _ = ablate_direct(head, maps, labels, "channel")
    return Ablation(
        baseline=baseline,
        zero_one=pos_without.reshape(h, w),
        keep_one=pos_alone.reshape(h, w),
        channel_accuracy=ch_without,
        channel_order=np.argsort(ch_without, kind="stable"),
        n_images=len(maps),
    )
