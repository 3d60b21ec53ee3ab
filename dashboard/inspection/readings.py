"""Feature maps as numbers: one digit's reading (every layer's maps and the probabilities), strongest channels.

A layer's activations for one digit are (h, w, c): c small maps (`dashboard.charts.tiles`
lays them out to draw). Everything here returns arrays and draws nothing. Pure numpy:
`read_digit` calls the forward pass it is given and imports neither Keras nor Streamlit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


def strongest_channels(maps: np.ndarray, row: int, col: int, k: int = 8) -> list[tuple[int, float]]:
    """The k channels (index, activation) most active at position (row, col) of maps (h, w, c), strongest first."""
    maps = np.asarray(maps)
    h, w, c = maps.shape
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"position ({row}, {col}) is outside the {h}×{w} map")
    values = maps[row, col, :]
    order = np.argsort(-values, kind="stable")[: max(0, min(k, c))]
    return [(int(i), float(values[i])) for i in order]


def channel_maps(maps: np.ndarray, channels: Sequence[int]) -> np.ndarray:
    """The maps (h, w, len(channels)) of the chosen channels, in that order."""
    return np.asarray(maps)[:, :, list(channels)]


@dataclass(frozen=True)
class LayerMaps:
    """One conv or pooling layer's output for one digit."""

    name: str  # "conv2d"
    kind: str  # "Conv2D" or "MaxPooling2D"
    maps: np.ndarray  # (h, w, c) float32

    @property
    def shape(self) -> tuple[None, int, int, int]:
        """The output shape as Keras prints it, e.g. (None, 26, 26, 32)."""
        h, w, c = self.maps.shape
        return (None, h, w, c)

    @property
    def label(self) -> str:
        """'conv2d (Conv2D) · (None, 26, 26, 32)'."""
        return f"{self.name} ({self.kind}) · {self.shape}"


@dataclass(frozen=True)
class Reading:
    """What a network makes of one digit: class probabilities and every layer's maps."""

    image: np.ndarray  # (28, 28) float32 in [0, 1], what the network saw
    probabilities: np.ndarray  # (10,) float32
    layers: tuple[LayerMaps, ...]

    @property
    def predicted(self) -> int:
        """The most probable digit."""
        return int(np.argmax(self.probabilities))

    @property
    def confidence(self) -> float:
        """Probability of the predicted digit."""
        return float(self.probabilities[self.predicted])

    def last_conv(self) -> LayerMaps:
        """The last Conv2D layer's maps (the book network's (None, 3, 3, 64))."""
        return [layer for layer in self.layers if layer.kind == "Conv2D"][-1]


def reading_from_outputs(
    image: np.ndarray, names: Sequence[str], kinds: Sequence[str], maps: Sequence[np.ndarray], probs: np.ndarray
) -> Reading:
    """Package a forward pass's output for a batch of one: maps [(1, h, w, c)…], probs (1, 10)."""
    if not (len(names) == len(kinds) == len(maps)):
        raise ValueError(f"{len(names)} names, {len(kinds)} kinds and {len(maps)} maps do not match")
    layers = tuple(
        LayerMaps(name, kind, np.asarray(m[0], dtype=np.float32)) for name, kind, m in zip(names, kinds, maps)
    )
    return Reading(np.asarray(image, dtype=np.float32), np.asarray(probs[0], dtype=np.float32), layers)


Forward = Callable[[np.ndarray], tuple[list[np.ndarray], np.ndarray]]  # (n, 28, 28, 1) → ([maps (n, h, w, c)…], probs (n, 10))


def read_digit(forward: Forward, names: Sequence[str], kinds: Sequence[str], image: np.ndarray) -> Reading:
    """One forward pass of a (28, 28) image → its `Reading`.

    `forward` is a run's `dashboard.inspection.forward.Network.maps_and_probs` (numpy, ~1 ms for the book
    network) or, for an imported model, `model.forward_all` on its activation model.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.shape != (28, 28):
        raise ValueError(f"expected a (28, 28) image, got shape {image.shape}")
    maps, probs = forward(image[None, :, :, None])  # [(1, h, w, c)…], (1, 10)
    return reading_from_outputs(image, names, kinds, maps, probs)
