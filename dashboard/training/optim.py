"""What `TrainSettings` ask of Keras: the optimizer, its learning-rate schedule, and the loss.

Kept apart from `training` (which fits) so a schedule can be read and tested on its own.
Imports Keras only inside the functions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dashboard.training.train_settings import TrainSettings

ONE_CYCLE_WARMUP = 0.3  # share of the steps spent warming up to the peak learning rate
ONE_CYCLE_START = 1 / 25  # the warm-up starts at this fraction of the peak (fast.ai's default)


def learning_rate_schedule(settings: TrainSettings, total_steps: int) -> Any:
    """A float or a Keras `LearningRateSchedule` following `settings.schedule` over `total_steps`."""
    from keras.optimizers import schedules

    lr, total = settings.learning_rate, max(total_steps, 1)
    if settings.warmup:
        return _warmup_schedule(lr, total, max(1, round(total * settings.warmup)), settings.schedule)
    if settings.schedule == "constant":
        return lr
    if settings.schedule == "cosine":
        return schedules.CosineDecay(lr, decay_steps=total, alpha=0.0)
    if settings.schedule == "linear":
        return schedules.PolynomialDecay(lr, decay_steps=total, end_learning_rate=0.0, power=1.0)
    warmup = max(1, int(total * ONE_CYCLE_WARMUP))
    return schedules.CosineDecay(
        lr * ONE_CYCLE_START,
        decay_steps=max(total - warmup, 1),
        alpha=0.0,
        warmup_target=lr,
        warmup_steps=warmup,
    )


def _warmup_schedule(peak: float, total: int, warmup: int, kind: str) -> Any:
    """Linear warm-up from 0 to `peak` over `warmup` steps, then `kind` (constant/linear/cosine) to 0."""
    import keras
    from keras import ops

    class WarmupThenDecay(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step: Any) -> Any:
            step = ops.cast(step, "float32")
            warm = peak * ops.minimum((step + 1.0) / warmup, 1.0)  # step 0 already moves
            progress = ops.clip((step - warmup) / max(total - warmup, 1), 0.0, 1.0)
            if kind == "linear":
                after = peak * (1.0 - progress)
            elif kind == "cosine":
                after = peak * 0.5 * (1.0 + ops.cos(math.pi * progress))
            else:
                after = peak * ops.ones_like(progress)
            return ops.where(step < warmup, warm, after)

        def get_config(self) -> dict[str, Any]:
            return {"peak": peak, "total": total, "warmup": warmup, "kind": kind}

    return WarmupThenDecay()


def make_optimizer(settings: TrainSettings, total_steps: int) -> Any:
    """The Keras optimizer of `settings` (Keras defaults otherwise, as the book uses them)."""
    import keras

    rate = learning_rate_schedule(settings, total_steps)
    kinds = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW, "nadam": keras.optimizers.Nadam}
    return kinds.get(settings.optimizer, keras.optimizers.RMSprop)(learning_rate=rate)


def make_loss(settings: TrainSettings) -> Any:
    """Cross-entropy; with label smoothing it needs one-hot targets (see `_batches(one_hot=True)`)."""
    import keras

    if settings.label_smoothing:
        return keras.losses.CategoricalCrossentropy(label_smoothing=settings.label_smoothing)
    return "sparse_categorical_crossentropy"  # = the book's categorical_crossentropy on one-hot labels
