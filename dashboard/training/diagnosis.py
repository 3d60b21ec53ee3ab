"""Did a training work? A verdict and a sentence from what the run recorded and measured.

A network whose training failed answers one digit for everything: its test accuracy is the
share of the commonest digit (11.35% on MNIST's test set, the 1s) and its loss stays at
ln 10 ≈ 2.30, the loss of a uniform guess. It usually fails because the ReLU channels of its
last conv layer went to zero for every image early in training ("dead"), so the classifier
reads only zeros. The thresholds:

- **did not train**: test accuracy below `CHANCE_FACTOR` (1.5) × the commonest digit's share
  of the test set; or the last validation loss within `LOSS_MARGIN` (0.1) of ln 10 with test
  accuracy below `FLAT_FACTOR` (2) × that share (a network that moved a little from its
  random start, say to 30% after 500 images, has trained, poorly: it is not called a failure);
- **dead channel**: a channel of the last conv layer that is 0 (after its ReLU) on every test
  image, counted when the run is trained (`training.dead_channels`).

Pure: no TensorFlow, no Streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LN10 = math.log(10)  # cross-entropy of a uniform guess over 10 digits
LOSS_MARGIN = 0.1
CHANCE_FACTOR = 1.5
FLAT_FACTOR = 2.0
MNIST_COMMONEST_SHARE = 0.1135  # the 1s in MNIST's 10,000 test images: used for records that did not measure it


@dataclass(frozen=True)
class Diagnosis:
    """Whether a run trained, and a sentence saying why not (None when it did)."""

    trained: bool
    sentence: str | None


def dead_channels_sentence(dead: int, channels: int) -> str:
    """'1 of 1 channels of the last conv layer never fires on a test image.'"""
    noun = "channel" if channels == 1 else "channels"
    verb = "fires" if dead == 1 else "fire"
    return f"{dead} of {channels} {noun} of the last conv layer never {verb} on a test image"


def diagnose(
    history: dict[str, list[float]],
    test_accuracy: float,
    commonest_share: float | None = None,
    dead: int | None = None,
    channels: int | None = None,
) -> Diagnosis:
    """The verdict on one training from its history, test accuracy and (if counted) dead channels."""
    share = MNIST_COMMONEST_SHARE if commonest_share is None else commonest_share
    val_loss = (history.get("val_loss") or [math.nan])[-1]
    at_chance = test_accuracy < CHANCE_FACTOR * share
    flat_loss = (math.isfinite(val_loss) and abs(val_loss - LN10) < LOSS_MARGIN
                 and test_accuracy < FLAT_FACTOR * share)
    if not (at_chance or flat_loss):
        return Diagnosis(True, None)
    what = (f"test accuracy {test_accuracy:.2%} is no better than always answering the "
            f"commonest digit ({share:.2%}) by much" if at_chance else
            f"its validation loss stayed at {val_loss:.2f}, the loss of a uniform guess (ln 10 ≈ {LN10:.2f})")
    if dead and channels and dead == channels:
        why = (f"; {dead_channels_sentence(dead, channels)}, so the classifier reads only zeros. "
               "Another seed may train")
    else:
        why = (f"; {dead_channels_sentence(dead, channels)}" if dead and channels else "") + (
            ". It barely moved from its random start: another seed, a larger learning rate, more epochs or "
            "more images may help")
    return Diagnosis(False, f"This training failed: {what}{why}.")
