"""The words of "Inside the 3×3": every paragraph the page shows, computed from the numbers it shows.

The page passes measured numbers in and shows the markdown that comes out; every threshold
that turns a number into a judgement is a named constant (here or in `dashboard.views.labels`), so
unit tests check the texts on both sides of it. Layer names come from Keras models, which an
imported file may name freely: they are quoted with `code_span`.

Pure Python and numpy: imports neither TensorFlow nor Streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dashboard.network.spec import LayerGeometry
from dashboard.outside import code_span
from dashboard.views.labels import HARMLESS_CHANNEL_DROP, position_judgement, window_judgement

CHANCE = 0.1  # ten digits
# Grad-CAM: positions whose heat reaches this share of the strongest count as "where the evidence sits".
HOT_SHARE = 0.5
# Channels: losing the most harmful one costs at least this → "that one channel carries much".
KEY_CHANNEL_DROP = 0.05


def plural(count: int, word: str, words: str | None = None) -> str:
    """'1 pixel', '4 pixels'."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def projection_text(numbers: int, layer_name: str, method: str, explained: np.ndarray | None) -> str:
    """What the projection of the last map shows (method "pca" or "tsne")."""
    how = (
        " PCA keeps the two directions along which the numbers vary most."
        if method == "pca"
        else f" t-SNE keeps images that are close in the {numbers:,} numbers close on the page; "
        "distances between clusters mean little."
    )
    kept = "" if explained is None else (
        f" The two axes shown keep {float(np.sum(explained[:2])):.0%} of the spread of those numbers."
    )
    return (
        f"Each dot is one test image, placed by its **{numbers:,} numbers** from the last feature map "
        f"({code_span(layer_name)}), squashed to two dimensions." + how + kept
        + "\n\nIf the colours form separate clumps, the dense layers after the conv base have an easy job: "
        "they only need to draw boundaries between clumps. Outlined dots are the network's mistakes; "
        "they usually sit between two clumps.\n\n"
        "**Drag a box** around some dots (or pick the lasso in the chart's toolbar) to see their images below."
    )


def positions_text(geo: LayerGeometry, channels: int, zero_one: np.ndarray, keep_one: np.ndarray,
                   baseline: float, n_images: int) -> str:
    """The position ablations in words: which position hurts most to lose, which is best alone."""
    side = zero_one.shape[0]
    top, left, bottom, right = geo.window(0, 0)
    worst = tuple(int(v) for v in np.unravel_index(np.argmin(zero_one), zero_one.shape))
    best = tuple(int(v) for v in np.unravel_index(np.argmax(keep_one), keep_one.shape))
    # the drop between the two figures as shown (one decimal each), so the words agree with the chart
    worst_drop = (round(baseline * 100, 1) - round(float(zero_one[worst]) * 100, 1)) / 100
    best_alone = float(keep_one[best])
    rf = geo.receptive_field
    if side == 1:
        where = f"The {side}×{side} map has one position, which sees the whole {rf}×{rf} window of the digit.\n\n"
    else:
        where = (
            f"Each position of the {side}×{side} map sees a {rf}×{rf} window of the digit (the top-left one: "
            f"rows {top}–{bottom}, columns {left}–{right}), and neighbours are {plural(geo.jump or 1, 'pixel')} "
            "apart, so the windows overlap.\n\n"
        )
    return (
        where
        + f"**Left:** set all {channels} numbers of one position to zero and measure accuracy on a fixed "
        f"sample of {n_images:,} test images (all positions kept: {baseline:.1%} on them). Losing position "
        f"{worst} hurts most: {zero_one[worst]:.1%}, {worst_drop * 100:.1f} points below all positions. "
        + position_judgement(worst_drop) + "\n\n"
        + f"**Right:** keep only one position. The best one alone, {best}, gives {best_alone:.1%} "
        f"against {CHANCE:.0%} for guessing" + window_judgement(best_alone)
    )


def channels_text(conv_name: str, channel_accuracy: np.ndarray, order: np.ndarray, baseline: float) -> str:
    """The channel ablations in words: the most harmful channel to lose, how many are harmless."""
    drops = baseline - np.asarray(channel_accuracy)
    channels = len(drops)
    harmless = int((drops <= HARMLESS_CHANNEL_DROP + 1e-9).sum())  # accuracies are fractions: no rounding noise
    first = int(order[0])
    return (
        f"A channel is one filter of {code_span(conv_name)}: a detector of one pattern, read at every "
        "position. Here each channel in turn is set to zero everywhere.\n\n"
        f"Losing channel {first} costs most ({drops[first] * 100:.2f} points); {harmless} of the {channels} "
        f"channels can go with almost no loss (≤ {HARMLESS_CHANNEL_DROP * 100:.1f} point). "
        + ("The information is spread over many detectors, with some redundancy: no single channel is the "
           "one that recognises a digit." if drops[first] < KEY_CHANNEL_DROP else
           "That one channel carries much of what the classifier reads.")
    )


def depth_text(accuracies: Sequence[float], params: Sequence[int], marked: bool = True) -> str:
    """How to read the depth chart's two panels and how test accuracy and parameter count vary over
    its runs; `marked` when the page's run is among them (drawn in red). Empty with fewer than two
    runs: there is no chart to describe."""
    if len(accuracies) < 2:
        return ""
    low, high = min(accuracies), max(accuracies)
    facts = (
        f"\n\n**Here:** {len(accuracies)} runs; test accuracy spans {low:.2%}–{high:.2%} "
        f"({(high - low) * 100:.2f} points) while the parameter count spans "
        f"{min(params):,}–{max(params):,} ({max(params) / max(min(params), 1):.0f}×)."
    )
    return (
        f"Each dot is a cached run{' (this one in red)' if marked else ''}. More conv blocks and poolings "
        "shrink the last map (28 → … → 3 → 1), and each of its numbers then sees a larger part of the digit. "
        "A smaller map also means fewer numbers for the classifier, hence far fewer parameters in the Dense "
        "layer after `Flatten` (right, log scale).\n\nCompare the two panels: does a bigger last map buy "
        "accuracy, or only parameters? For centred digits, knowing *which* strokes are present matters more "
        "than knowing exactly *where*." + facts
    )


def depth_note(training: str, count: int) -> str:
    """Why the depth chart shows runs trained otherwise than the page's run (`training`: their label)."""
    return (f"No other network was trained like this run, so the chart shows the {count} cached runs "
            f"trained alike ({training}); this run is not among them.")


def hottest_positions(coarse: np.ndarray, share: float = HOT_SHARE) -> list[tuple[int, int]]:
    """Positions of the coarse Grad-CAM map at `share` of its peak or more, hottest first."""
    coarse = np.asarray(coarse, dtype=float)
    if coarse.size == 0 or coarse.max() <= 0:
        return []
    rows, cols = np.nonzero(coarse >= share * coarse.max())
    order = np.argsort(-coarse[rows, cols], kind="stable")
    return [(int(rows[i]), int(cols[i])) for i in order]


def gradcam_text(layer_name: str, class_index: int, coarse: np.ndarray) -> str:
    """How to read the Grad-CAM chart, in the chart's own colours, and where its heat is."""
    hot = hottest_positions(coarse)
    h, w = np.asarray(coarse).shape
    if h * w == 1:
        where = " With a 1×1 map there is a single position, so the heat is flat: nothing to localise."
    elif not hot:
        where = (f" Here no position adds evidence for {class_index}: the heat is zero everywhere, "
                 "so the digit shows through uncoloured.")
    else:
        top = ", ".join(str(p) for p in hot[:3])
        where = (f" Here the hottest position is {hot[0]}; {plural(len(hot), 'position')} of {h * w} "
                 f"reach half its heat or more ({top}{', …' if len(hot) > 3 else ''}).")
    return (
        f"Grad-CAM asks: *if a number of the last conv map ({code_span(layer_name)}) went up a little, how much "
        f"would the score of digit {class_index} go up?* Averaging that over each channel gives "
        "the channel's importance; adding up the channels' maps weighted by importance gives one "
        "heat value per position (right). Each position is then spread over the centre of the "
        "window it sees (left).\n\n"
        f"**Dark red** marks where the evidence *for* {class_index} is strongest, then orange, yellow and green; "
        "blue marks little, and where there is none the digit shows through uncoloured." + where
        + " Pick another digit in the box to see where the evidence for, say, a 7 would be."
    )
