"""What Inside the 3×3's ablations found, as plain arrays: `Ablation`.

`dashboard.inspection.analysis.ablate` computes one (with Keras); `dashboard.inspection.results` stores and reads it
back. Kept apart from both so that reading a stored ablation never loads TensorFlow. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
