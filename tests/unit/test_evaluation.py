"""Evaluation of runs that needs no model: families of runs, runs trained alike, confusion and mistakes, their charts."""

from __future__ import annotations

import numpy as np

from dashboard.inspection.evaluation import confusion_matrix, depth_runs, family_rows, misclassified, same_training
from dashboard.network.spec import BOOK, PRESETS
from dashboard.training.train_settings import TrainSettings
from tests.unit.test_run import imported, trained


def test_family_rows_leave_out_imported_runs_and_sort_by_map_size():
    runs = [
        trained("a", BOOK, params=93_322, test_accuracy=0.99),
        trained("b", PRESETS["one_by_one"], params=97_482, test_accuracy=0.985),
        imported(),
        trained("d", PRESETS["no_pooling"], params=2_038_922, test_accuracy=0.98),
    ]
    rows = family_rows(runs)
    assert [(r.key, r.final_size, r.conv_layers) for r in rows] == [("b", 1, 4), ("a", 3, 3), ("d", 22, 3)]
    assert rows[1].params == 93_322 and rows[1].test_accuracy == 0.99 and rows[1].label == BOOK.describe()


def test_same_training_keeps_runs_trained_alike_and_the_run_itself():
    me = trained("me", BOOK)
    runs = [me, trained("a", PRESETS["tiny"]), trained("b", PRESETS["tiny"], TrainSettings(epochs=4)),
            trained("c", PRESETS["tiny"], data_fingerprint="other"), imported()]
    assert [r.key for r in same_training(runs, me)] == ["me", "a"]
    alone = imported()
    assert same_training(runs, alone) == [runs[-1]]


def test_depth_runs_open_on_a_group_of_runs_that_exists():
    family = [trained(key, spec) for key, spec in (("f1", BOOK), ("f2", PRESETS["tiny"]), ("f3", PRESETS["one_by_one"]))]
    other = TrainSettings(epochs=5)
    lone, pair = trained("lone", BOOK, other), [trained("p1", BOOK, TrainSettings(epochs=2)), trained("p2", PRESETS["tiny"], TrainSettings(epochs=2))]
    runs = [lone, *pair, *family, imported()]
    assert depth_runs(runs, family[0], same_only=True) == (family, False)  # trained alike: the run's own group
    assert depth_runs(runs, lone, same_only=True) == (family, True)  # alone: the largest group instead
    assert depth_runs(runs, lone, same_only=False) == (runs, False)
    assert depth_runs([lone, imported()], lone, same_only=True) == ([lone], False)  # nothing to compare


# --- evaluation helpers -----------------------------------------------------------------------------


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    true = np.array([0, 0, 1, 2, 2, 2])
    pred = np.array([0, 1, 1, 2, 2, 0])
    matrix = confusion_matrix(true, pred, classes=3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert matrix.sum() == len(true)


def test_misclassified_lists_the_most_confident_mistakes_first():
    true = np.array([0, 1, 2, 3])
    pred = np.array([0, 2, 0, 3])
    confidence = np.array([0.99, 0.6, 0.9, 0.8], np.float32)  # of each predicted digit
    assert misclassified(true, pred, confidence).tolist() == [2, 1]
    assert misclassified(true, pred, confidence, limit=1).tolist() == [2]


# --- charts of runs ---------------------------------------------------------------------------------


def test_mistakes_are_one_heatmap_labelled_predicted_and_true():
    from dashboard.charts.training import mistakes_figure

    images = np.zeros((12, 28, 28), np.uint8)
    fig = mistakes_figure(images, true=[1] * 12, predicted=[7] * 12, cols=5)
    assert len(fig.data) == 1 and fig.data[0].type == "heatmap"
    assert len(fig.layout.annotations) == 12 and fig.layout.annotations[0].text == "✗<b>7</b> (1)"
    assert "No misclassified" in mistakes_figure(np.zeros((0, 28, 28)), [], []).layout.title.text


def test_confusion_figure_writes_every_count_and_colours_only_mistakes():
    from dashboard.charts.training import confusion_figure

    matrix = np.arange(100).reshape(10, 10)
    trace = confusion_figure(matrix).data[0]
    assert np.array_equal(np.asarray(trace.text), matrix)
    assert np.isnan(np.asarray(trace.z, float)[3, 3]) and np.asarray(trace.z)[3, 4] == 34


def test_learning_curves_grow_with_the_history():
    from dashboard.charts.training import learning_curves

    empty = learning_curves({}, epochs=5)
    assert list(empty.layout.yaxis.range) == [0, 1] and list(empty.layout.xaxis.range) == [0.5, 5.5]
    two = learning_curves({"accuracy": [0.9, 0.95], "val_accuracy": [0.92, 0.96]}, epochs=5)
    assert [list(t.y) for t in two.data] == [[0.9, 0.95], [0.92, 0.96]] and two.layout.yaxis.range is None
