"""Chart captions computed from the charts' data, the confusion matrix's cells, and one-epoch curves."""

from __future__ import annotations

import numpy as np

from dashboard.charts.training import compare_curves, learning_curves
from dashboard.inspection.evaluation import in_cell
from dashboard.network.spec import BOOK
from dashboard.network.summaries import summarize
from dashboard.store.seeds import Spread
from dashboard.views import chart_texts as ct
from dashboard.views.compare_table import GroupPoint, cell_title


def test_learning_curve_captions_name_the_last_and_the_best_epoch():
    history = {"accuracy": [0.80, 0.95, 0.97], "val_accuracy": [0.96, 0.985, 0.98]}
    assert ct.curves_caption(history) == ("Accuracy by epoch over 3 epochs: validation accuracy ends at 98.00% "
                                          "(highest 98.50%, at epoch 2); training accuracy ends at 97.00%.")
    assert ct.curves_caption({"accuracy": [0.9], "val_accuracy": [0.97]}) == (
        "Accuracy by epoch over 1 epoch: validation accuracy ends at 97.00%; training accuracy ends at 90.00%.")
    assert ct.curves_caption({}) == "Accuracy by epoch: no epoch has finished yet."
    assert ct.compare_curves_caption({"a": [0.9, 0.95], "b": [0.99]}) == (
        "Validation accuracy by epoch of 2 runs: b ends highest, at 99.00%; a ends lowest, at 95.00%.")


def test_a_one_epoch_history_is_a_marker_with_its_value_not_a_lone_dot():
    one = learning_curves({"accuracy": [0.9], "val_accuracy": [0.97]})
    assert [t.mode for t in one.data] == ["markers+text", "markers+text"]
    assert [t.text for t in one.data] == [("90.00%",), ("97.00%",)]
    assert all(t.marker.size >= 10 for t in one.data)
    assert [t.mode for t in compare_curves({"a": [0.9, 0.95], "b": [0.99]}).data] == ["lines+markers", "markers+text"]


def test_scatter_and_family_captions_name_the_extremes():
    points = [GroupPoint(93322, Spread((0.99, 0.991)), (), "book", "book", "full"),
              GroupPoint(5000, Spread((0.95,)), (), "tiny", "tiny", "full")]
    assert ct.scatter_caption(points, "parameters") == (
        "Test accuracy (median over seeds) against parameters, 2 networks: the highest is book at 99.05% "
        "(parameters 93,322), the lowest tiny at 95.00% (parameters 5,000).")
    assert ct.family_caption([(8, Spread((0.97,))), (64, Spread((0.99,))), (128, None)], "last filters") == (
        "Test accuracy (median over seeds) against last filters for 2 values: highest at last filters 64 (99.00%), "
        "lowest at 8 (97.00%).")


def test_architecture_captions_follow_the_summary_rows():
    rows = [row.to_dict() for row in summarize(BOOK)]
    assert ct.spatial_caption(rows) == ("The side of each layer's output map, from the 28×28 input: 26 → 13 → 11 → 5 → 3; "
                                        "the smallest is 3×3, after conv2d_2.")
    assert ct.params_caption(rows) == "Parameters by layer, 93,322 in all: conv2d_2 holds the most, 36,928 (40%)."
    assert ct.field_caption(rows).endswith("from 3×3 in conv2d to 18×18 in conv2d_2, 41% of the digit.")


def test_confusion_caption_and_cells():
    true = np.array([4, 4, 4, 9, 9, 1])
    predicted = np.array([9, 9, 4, 9, 4, 1])
    confidence = np.array([0.6, 0.9, 0.8, 0.7, 0.5, 0.99])
    matrix = np.zeros((10, 10), dtype=int)
    np.add.at(matrix, (true, predicted), 1)
    assert ct.confusion_caption(matrix).startswith(
        "Confusion matrix, true digit by row and predicted digit by column: 3 of 6 test images are on the diagonal "
        "(right); the most frequent mistake is a 4 read as 9 (2 times).")
    assert in_cell(true, predicted, confidence, 4, 9).tolist() == [1, 0]  # most confident first
    assert in_cell(true, predicted, confidence, None, None).tolist() == [1, 0, 4]  # every mistake
    assert in_cell(true, predicted, confidence, 9, 9).tolist() == [3]  # the diagonal: right ones
    assert in_cell(true, predicted, confidence, None, 4).tolist() == [4]  # a column: mistakes only
    assert cell_title(2, 4, 9) == "2 misclassified test images, true 4 predicted 9: ✗ predicted (true)"
    assert cell_title(1, 9, 9) == "1 test image of a 9 read right"
    assert cell_title(0, None, 3) == "No misclassified image, predicted 3"


def test_probability_and_channel_captions():
    p = np.array([0.01, 0.9, 0.05, 0.04, 0, 0, 0, 0, 0, 0])
    assert ct.probabilities_caption(p) == "Probability of each digit: 1 at 90.0% (the prediction), then 2 at 5.0%."
    assert ct.strongest_caption(["ch 3", "ch 7"], [2.5, 1.25]) == (
        "Activation of the 2 strongest channels at the chosen position: ch 3 is the strongest at 2.50, the weakest "
        "shown 1.25.")


def test_maps_and_kernels_captions():
    maps = np.zeros((2, 2, 3))
    maps[1, 0, 2] = 1.5
    maps[0, 0, 0] = 0.5
    assert ct.maps_caption("conv2d", maps) == ("conv2d: 3 channels of 2×2 on this digit; the strongest is channel 2 "
                                               "(peak 1.50); 1 channel is zero everywhere.")
    kernels = np.linspace(-1, 1, 3 * 3 * 1 * 4).reshape(3, 3, 1, 4)
    assert ct.kernels_caption(kernels) == "The 4 kernels of the first conv layer, 3×3 weights each, from -1.00 to 1.00."
